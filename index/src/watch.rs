//! Watch mode: folder changes are picked up, debounced, and the collections
//! they belong to are re-ingested incrementally (unchanged files cost a stat).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::journal::CollectionRecord;
use crate::library::{IngestEvent, IngestReport, LibraryWriter};
use crate::{Error, Result};

/// How long a folder must be quiet before its changes are ingested: an
/// editor's save or a copy of many files arrives as one pass.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(700);
/// How often a waiting watch checks its stop flag.
const POLL: Duration = Duration::from_millis(100);

/// What a watch reports.
#[derive(Debug)]
pub enum WatchEvent<'a> {
    /// Progress of one collection's ingestion pass.
    Ingest {
        /// The collection.
        collection: &'a str,
        /// The ingestion event.
        event: &'a IngestEvent,
    },
    /// A pass over one collection finished.
    Pass {
        /// The collection.
        collection: &'a str,
        /// Its totals.
        report: &'a IngestReport,
    },
    /// Initial passes are done; changes are being watched.
    Watching {
        /// The folders watched.
        roots: &'a [PathBuf],
    },
}

/// Debounced change notifications for a set of folders.
pub struct FolderWatch {
    _watcher: RecommendedWatcher,
    changes: Receiver<notify::Result<notify::Event>>,
}

impl std::fmt::Debug for FolderWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatch").finish_non_exhaustive()
    }
}

impl FolderWatch {
    /// Watches `roots` recursively (files are watched through their folder).
    ///
    /// # Errors
    ///
    /// [`Error::Watch`] when the OS refuses (e.g. the inotify watch limit).
    pub fn new(roots: &[PathBuf]) -> Result<Self> {
        let (tx, changes) = channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the watch is dropped.
            let _ = tx.send(event);
        })
        .map_err(|e| Error::Watch {
            path: PathBuf::new(),
            reason: e.to_string(),
        })?;
        for root in roots {
            watcher
                .watch(root, RecursiveMode::Recursive)
                .map_err(|e| Error::Watch {
                    path: root.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(FolderWatch {
            _watcher: watcher,
            changes,
        })
    }

    /// Waits until something changed and then stayed quiet for `quiet`, or
    /// until `stop` is set; returns the changed paths (empty when stopped).
    pub fn next_changes(&self, quiet: Duration, stop: &AtomicBool) -> BTreeSet<PathBuf> {
        let mut changed = BTreeSet::new();
        let mut last_change: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            match self.changes.recv_timeout(POLL) {
                Ok(Ok(event)) if is_content_change(&event.kind) => {
                    changed.extend(event.paths);
                    last_change = Some(Instant::now());
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    // An overflowed queue loses events: rescan everything watched.
                    tracing::warn!(error = %e, "watch error; rescanning");
                    changed.insert(PathBuf::new());
                    last_change = Some(Instant::now());
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_change.is_some_and(|t| t.elapsed() >= quiet) {
                return changed;
            }
        }
        BTreeSet::new()
    }
}

fn is_content_change(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode};
    match kind {
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        // A writer closing the file is when its content is complete.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    }
}

impl LibraryWriter<'_> {
    /// Ingests `collections` (all when empty), then keeps them in step with
    /// their folders until `stop` is set: each debounced batch of changes
    /// re-ingests the collections whose folders it touched.
    ///
    /// # Errors
    ///
    /// Unknown collections, watch setup, index or journal failures.
    pub fn watch(
        &mut self,
        collections: &[String],
        quiet: Duration,
        stop: &AtomicBool,
        on: &mut dyn FnMut(WatchEvent<'_>),
    ) -> Result<()> {
        let watched = self.watched_collections(collections)?;
        let mut roots: Vec<PathBuf> = watched
            .iter()
            .flat_map(|c| c.roots.iter().map(PathBuf::from))
            .collect();
        roots.sort();
        roots.dedup();
        let folders: Vec<PathBuf> = roots.iter().map(|r| watch_target(r)).collect();
        let watch = FolderWatch::new(&folders)?;
        for c in &watched {
            self.pass(c, stop, on)?;
        }
        on(WatchEvent::Watching { roots: &roots });
        while !stop.load(Ordering::Relaxed) {
            let changed = watch.next_changes(quiet, stop);
            for c in &watched {
                let touched = changed.iter().any(|p| {
                    p.as_os_str().is_empty()
                        || c.roots.iter().any(|r| {
                            let r = Path::new(r);
                            p.starts_with(r) || watch_target(r) == *p
                        })
                });
                if touched && !stop.load(Ordering::Relaxed) {
                    self.pass(c, stop, on)?;
                }
            }
        }
        Ok(())
    }

    fn watched_collections(&self, names: &[String]) -> Result<Vec<CollectionRecord>> {
        let all = self.collections()?;
        if names.is_empty() {
            return Ok(all);
        }
        names
            .iter()
            .map(|n| {
                all.iter()
                    .find(|c| &c.name == n)
                    .cloned()
                    .ok_or_else(|| Error::UnknownCollection(n.clone()))
            })
            .collect()
    }

    fn pass(
        &mut self,
        collection: &CollectionRecord,
        stop: &AtomicBool,
        on: &mut dyn FnMut(WatchEvent<'_>),
    ) -> Result<()> {
        // A root that vanished is skipped (its files are removed when it is
        // back or the collection is re-ingested), not a reason to stop watching.
        let roots: Vec<PathBuf> = collection
            .roots
            .iter()
            .map(PathBuf::from)
            .filter(|r| r.exists())
            .collect();
        let name = collection.name.as_str();
        // OCR of scanned pages stops with the watch; the next pass goes on.
        let report = self.ingest_until(name, &roots, stop, &mut |event| {
            on(WatchEvent::Ingest {
                collection: name,
                event,
            });
        })?;
        on(WatchEvent::Pass {
            collection: name,
            report: &report,
        });
        Ok(())
    }
}

/// A root file is watched through its folder (editors replace files by rename).
fn watch_target(root: &Path) -> PathBuf {
    if root.is_file() {
        root.parent()
            .map_or_else(|| root.to_owned(), Path::to_owned)
    } else {
        root.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::mpsc;

    use super::*;
    use crate::library::IngestSettings;
    use crate::test_support::chunk_tokenizer;
    use crate::{Foreground, Library, SearchRequest, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn hits(library: &Library, query: &str) -> usize {
        library
            .search(&SearchRequest {
                query: query.into(),
                limit: 10,
                ..Default::default()
            })
            .map_or(0, |r| r.hits.len())
    }

    #[test]
    fn ingestion_waits_while_interactive_work_runs() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        for i in 0..3 {
            std::fs::write(
                docs.path().join(format!("{i}.txt")),
                format!("note {i} 혈압"),
            )?;
        }
        let library = Library::open(data.path())?;
        let foreground = Foreground::default();
        let settings = IngestSettings {
            foreground: foreground.clone(),
            ..IngestSettings::default()
        };
        let mut writer = library.writer(TokenCounter::from_file(&chunk_tokenizer())?, settings)?;
        let handled = AtomicUsize::new(0);
        let answering = foreground.enter();
        let report = std::thread::scope(|s| {
            let ingest = s.spawn(|| {
                writer.ingest("c", &[docs.path().to_owned()], &mut |e| {
                    if matches!(e, IngestEvent::File { .. }) {
                        handled.fetch_add(1, Ordering::SeqCst);
                    }
                })
            });
            std::thread::sleep(Duration::from_millis(400));
            let during = handled.load(Ordering::SeqCst);
            drop(answering);
            (during, ingest.join())
        });
        assert_eq!(report.0, 0, "no file is handled while an answer runs");
        let Ok(Ok(report)) = report.1 else {
            return Err("ingestion failed".into());
        };
        assert_eq!(report.indexed, 3);
        Ok(())
    }

    #[test]
    fn watched_folders_are_indexed_when_files_appear_change_and_go() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        std::fs::write(docs.path().join("first.txt"), "quinapril 10 mg")?;
        let library = Library::open(data.path())?;
        let counter = TokenCounter::from_file(&chunk_tokenizer())?;
        let mut writer = library.writer(counter, IngestSettings::default())?;
        writer.ingest("c", &[docs.path().to_owned()], &mut |_| {})?;
        let stop = AtomicBool::new(false);
        let (passes, passed) = mpsc::channel();
        std::thread::scope(|s| -> TestResult {
            let watcher = s.spawn(|| {
                writer.watch(&[], Duration::from_millis(200), &stop, &mut |e| match e {
                    WatchEvent::Watching { .. } => {
                        let _ = passes.send(None);
                    }
                    WatchEvent::Pass { report, .. } => {
                        let _ = passes.send(Some((report.indexed, report.removed)));
                    }
                    WatchEvent::Ingest { .. } => {}
                })
            });
            let next = || passed.recv_timeout(Duration::from_secs(10));
            assert_eq!(next()?, Some((0, 0)), "initial pass: nothing new");
            assert_eq!(next()?, None, "watching");
            std::fs::create_dir(docs.path().join("sub"))?;
            std::fs::write(docs.path().join("sub/new.txt"), "montelukast 10 mg")?;
            assert_eq!(next()?, Some((1, 0)));
            library.reload()?;
            assert_eq!(hits(&library, "montelukast"), 1);
            std::fs::remove_file(docs.path().join("first.txt"))?;
            assert_eq!(next()?, Some((0, 1)));
            library.reload()?;
            assert_eq!(hits(&library, "quinapril"), 0);
            stop.store(true, Ordering::Relaxed);
            match watcher.join() {
                Ok(result) => result?,
                Err(_) => return Err("watch panicked".into()),
            }
            Ok(())
        })
    }
}
