//! The part of ingesting a file that needs no shared state — read, hash,
//! parse, chunk — so several threads do it while the single writer applies
//! the results in discovery order. Tokenising chunks is the costliest step
//! of ingestion; this is what lets it use more than one core.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use unicode_normalization::UnicodeNormalization;

use crate::chunk::{Chunk, ChunkConfig, TokenCounter, chunk_document};
use crate::foreground::Foreground;
use crate::parse::{Limits, ParseFailure, ParsedDocument, parse_bytes};

/// A file read, hashed, parsed and chunked.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// Size when it was read.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// What came of it.
    pub outcome: Outcome,
}

/// A prepared file's content, or why there is none.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Unreadable, too large, or changed while read: the reason.
    Unread(String),
    /// Read: its hash, and its document and chunks or why it has none.
    Read {
        hash: String,
        parsed: Result<(ParsedDocument, Vec<Chunk>), ParseFailure>,
    },
}

/// What preparing needs, shared read-only by the workers.
pub(crate) struct Preparer<'a> {
    pub limits: &'a Limits,
    pub chunking: &'a ChunkConfig,
    pub counter: &'a TokenCounter,
    pub foreground: &'a Foreground,
}

impl Preparer<'_> {
    /// Prepares the files at `todo` positions of `paths` on up to `workers`
    /// threads; the result has one slot per path (`None` where not asked).
    pub fn prepare_all(
        &self,
        paths: &[&Path],
        todo: &[usize],
        workers: usize,
    ) -> Vec<Option<Prepared>> {
        let slots: Vec<Mutex<Option<Prepared>>> = paths.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                self.foreground.wait_until_idle();
                let prepared = self.prepare(paths[i]);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(prepared);
                }
            }
        };
        let threads = workers.clamp(1, todo.len().max(1));
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(work);
                }
            });
        }
        slots
            .into_iter()
            .map(|slot| slot.into_inner().ok().flatten())
            .collect()
    }

    fn prepare(&self, path: &Path) -> Prepared {
        let (size, mtime) = match std::fs::metadata(path) {
            Ok(meta) => (meta.len(), mtime_of(&meta)),
            Err(e) => {
                return Prepared {
                    size: 0,
                    mtime: 0,
                    outcome: Outcome::Unread(format!("cannot read the file: {e}")),
                };
            }
        };
        let unread = |reason: String| Prepared {
            size,
            mtime,
            outcome: Outcome::Unread(reason),
        };
        if size > self.limits.max_file_bytes {
            return unread(
                ParseFailure::TooLarge {
                    size,
                    max: self.limits.max_file_bytes,
                }
                .to_string(),
            );
        }
        let bytes = match read_bounded(path, self.limits.max_file_bytes) {
            Ok(bytes) => bytes,
            Err(e) => return unread(format!("cannot read the file: {e}")),
        };
        if std::fs::metadata(path).ok().map(|m| m.len()) != Some(bytes.len() as u64) {
            return unread(
                "the file changed while it was read; it will be indexed on the next pass"
                    .to_owned(),
            );
        }
        let hash = sha256_hex(&bytes);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parsed = parse_bytes(&file_name, &bytes, self.limits).map(|mut doc| {
            normalize(&mut doc);
            if doc.title.is_none() {
                doc.title = Some(file_name);
            }
            let chunks = chunk_document(&doc, self.counter, self.chunking);
            (doc, chunks)
        });
        Prepared {
            size,
            mtime,
            outcome: Outcome::Read { hash, parsed },
        }
    }
}

/// Threads for preparing files: the cores, at most 4 (the writer and tantivy's
/// indexing thread need the rest).
pub(crate) fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Seconds since the epoch of a file's modification time (0 when unknown).
pub(crate) fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// NFC everywhere: NFD Hangul (macOS, some exports) must match NFC queries.
pub(crate) fn normalize(doc: &mut ParsedDocument) {
    for page in &mut doc.pages {
        for block in &mut page.blocks {
            if !unicode_normalization::is_nfc(&block.text) {
                block.text = block.text.nfc().collect();
            }
        }
    }
    if let Some(title) = &mut doc.title {
        *title = title.nfc().collect();
    }
}

fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}
