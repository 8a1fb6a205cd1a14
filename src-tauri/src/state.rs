//! What the app holds between commands: the core (swapped, never locked for
//! long), the chat model loading in the background, the answer and the
//! ingestion in flight with their cancel switches, and the progress of
//! background embedding.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use sillok_core::models::{CancelToken, EngineOptions, Generator, Role};
use sillok_core::{Settings, Sillok};

use crate::error::{AppError, CommandResult, ErrorKind};

/// The chat model's state as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStateKind {
    /// No chat model is installed.
    None,
    /// Loading in the background.
    Loading,
    /// Loaded and verified.
    Ready,
    /// Loading failed; see the error.
    Failed,
}

/// The chat model's state with its name and error (docs/app-ipc.md `ModelState`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelState {
    /// Which state.
    pub state: ModelStateKind,
    /// The model's catalogue name.
    pub name: Option<String>,
    /// Why loading failed.
    pub error: Option<String>,
}

struct ModelSlot {
    state: ModelState,
    generator: Option<Arc<dyn Generator>>,
    /// Bumped by every reload; a load that finishes after a newer one started is dropped.
    epoch: u64,
}

/// Whether background embedding runs (docs/app-ipc.md `EmbeddingStatus`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbeddingState {
    /// Nothing to do, or the last run finished.
    #[default]
    Idle,
    /// Chunks are being embedded.
    Running,
    /// The last run failed; see the error.
    Failed,
}

/// Background embedding as the UI shows it: the current (or last) run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EmbeddingStatus {
    /// Which state.
    pub state: EmbeddingState,
    /// The embedding model's catalogue name; `None` when none is active.
    pub model: Option<String>,
    /// Chunks embedded by this run so far (updated in steps of 1%).
    pub done: usize,
    /// Chunks this run has to embed (0 until the first batch is done).
    pub pending: usize,
    /// Distinct chunks in the library.
    pub total: usize,
    /// `done` of `pending`, 0–100.
    pub percent: u8,
    /// Why the last run failed.
    pub error: Option<String>,
}

/// Whole percent of `done` out of `total` (100 when there is nothing to do).
pub fn percent(done: usize, total: usize) -> u8 {
    if total == 0 {
        return 100;
    }
    let whole = done.min(total).saturating_mul(100) / total;
    u8::try_from(whole).unwrap_or(100)
}

/// Lets progress through only when its whole percent changes, so a long run
/// updates what the UI polls about a hundred times, not once per batch.
#[derive(Debug, Default)]
pub struct ProgressThrottle {
    last: Option<u8>,
}

impl ProgressThrottle {
    /// Whether `done` of `total` is worth reporting.
    pub fn admit(&mut self, done: usize, total: usize) -> bool {
        let now = percent(done, total);
        if self.last == Some(now) {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// Longest an answer waits for a model that is still loading.
const MODEL_WAIT: Duration = Duration::from_secs(300);

/// Shared by every command (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    sillok: Mutex<Arc<Sillok>>,
    /// Serialises catalogue and settings edits (each on a fresh handle).
    editing: Mutex<()>,
    model: Mutex<ModelSlot>,
    model_changed: Condvar,
    /// The answer being generated, if any.
    answering: Mutex<Option<CancelToken>>,
    /// The stop switch of the ingestion running, if any.
    ingesting: Mutex<Option<Arc<AtomicBool>>>,
    sample_library: Option<PathBuf>,
    /// Background embedding: whether a run is going, and whether another
    /// was asked for meanwhile (new chunks arrived while it ran).
    embedding: Mutex<EmbeddingRuns>,
}

#[derive(Default)]
struct EmbeddingRuns {
    running: bool,
    again: bool,
    status: EmbeddingStatus,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves plain data behind: keep going.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// State over an opened core.
    pub fn new(sillok: Sillok, sample_library: Option<PathBuf>) -> Self {
        AppState(Arc::new(Inner {
            sillok: Mutex::new(Arc::new(sillok)),
            editing: Mutex::new(()),
            model: Mutex::new(ModelSlot {
                state: ModelState {
                    state: ModelStateKind::None,
                    name: None,
                    error: None,
                },
                generator: None,
                epoch: 0,
            }),
            model_changed: Condvar::new(),
            answering: Mutex::new(None),
            ingesting: Mutex::new(None),
            sample_library,
            embedding: Mutex::new(EmbeddingRuns::default()),
        }))
    }

    /// The core as it is now.
    pub fn sillok(&self) -> Arc<Sillok> {
        Arc::clone(&lock(&self.0.sillok))
    }

    /// Edits the catalogue or settings on a fresh handle and swaps it in, so
    /// that answers and ingestion running on the old handle are not blocked.
    pub fn edit<T>(&self, edit: impl FnOnce(&mut Sillok) -> CommandResult<T>) -> CommandResult<T> {
        let _one_editor = lock(&self.0.editing);
        let mut fresh = self.sillok().reopen()?;
        let result = edit(&mut fresh)?;
        *lock(&self.0.sillok) = Arc::new(fresh);
        Ok(result)
    }

    /// The bundled sample library, when installed.
    pub fn sample_library(&self) -> Option<&PathBuf> {
        self.0.sample_library.as_ref()
    }

    /// The chat model's state.
    pub fn model_state(&self) -> ModelState {
        lock(&self.0.model).state.clone()
    }

    /// Embeds the library's new chunks for hybrid search on a background
    /// thread (one at a time; a request during a run makes it go round
    /// again). It yields to answers and searches between batches.
    pub fn embed_in_background(&self) {
        {
            let mut runs = lock(&self.0.embedding);
            if runs.running {
                runs.again = true;
                return;
            }
            runs.running = true;
        }
        let state = self.clone();
        std::thread::spawn(move || {
            loop {
                state.embed_once();
                let mut runs = lock(&state.0.embedding);
                if !runs.again {
                    runs.running = false;
                    break;
                }
                runs.again = false;
            }
        });
    }

    /// One embedding run, its progress kept for [`AppState::embedding_status`].
    fn embed_once(&self) {
        let sillok = self.sillok();
        let set = |update: &dyn Fn(&mut EmbeddingStatus)| {
            update(&mut lock(&self.0.embedding).status);
        };
        let model = match sillok.active_embedding_model() {
            Ok(Some(entry)) => entry.name,
            Ok(None) => {
                set(&|s| *s = EmbeddingStatus::default());
                return;
            }
            Err(e) => {
                tracing::warn!(kind = e.is_user_error(), "background embedding failed");
                let error = e.to_string();
                set(&|s| {
                    *s = EmbeddingStatus {
                        state: EmbeddingState::Failed,
                        error: Some(error.clone()),
                        ..EmbeddingStatus::default()
                    };
                });
                return;
            }
        };
        set(&|s| {
            *s = EmbeddingStatus {
                state: EmbeddingState::Running,
                model: Some(model.clone()),
                ..EmbeddingStatus::default()
            };
        });
        let mut throttle = ProgressThrottle::default();
        let never = CancelToken::default();
        let result = sillok.embed_library(&never, &mut |p| {
            if throttle.admit(p.done, p.pending) {
                set(&|s| {
                    s.done = p.done;
                    s.pending = p.pending;
                    s.total = p.total;
                    s.percent = percent(p.done, p.pending);
                });
            }
        });
        match result {
            Ok(_) => set(&|s| {
                s.state = EmbeddingState::Idle;
                s.done = s.pending;
                s.percent = 100;
            }),
            Err(e) => {
                tracing::warn!(kind = e.is_user_error(), "background embedding failed");
                let error = e.to_string();
                set(&|s| {
                    s.state = EmbeddingState::Failed;
                    s.error = Some(error.clone());
                });
            }
        }
    }

    /// Background embedding's current (or last) run.
    pub fn embedding_status(&self) -> EmbeddingStatus {
        let runs = lock(&self.0.embedding);
        let mut status = runs.status.clone();
        // Between two runs asked for back to back it is still running.
        if runs.running {
            status.state = EmbeddingState::Running;
        }
        status
    }

    /// Marks an ingestion as in flight; refused while another one is (the
    /// library has one writer, and a second would only wait for it).
    pub fn begin_ingest(&self) -> CommandResult<IngestSlot> {
        let mut ingesting = lock(&self.0.ingesting);
        if ingesting.is_some() {
            return Err(AppError::new(
                ErrorKind::InUse,
                "the library is being indexed: wait for it or cancel it first",
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        *ingesting = Some(Arc::clone(&stop));
        Ok(IngestSlot {
            state: self.clone(),
            stop,
        })
    }

    /// Stops the ingestion in flight, if any, at its next batch of files or
    /// OCR page; returns whether one was running.
    pub fn cancel_ingest(&self) -> bool {
        match lock(&self.0.ingesting).as_ref() {
            Some(stop) => {
                stop.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// (Re)loads the chat model the settings name, on a background thread.
    pub fn load_model_in_background(&self) {
        if self.use_scripted_model() {
            return;
        }
        let sillok = self.sillok();
        let settings = sillok.settings().unwrap_or_default();
        let name = settings.chat_model.clone().or_else(|| {
            sillok
                .catalogue()
                .default_for(Role::Chat)
                .map(str::to_owned)
        });
        let epoch = {
            let mut slot = lock(&self.0.model);
            slot.epoch += 1;
            slot.generator = None;
            slot.state = ModelState {
                state: if name.is_some() {
                    ModelStateKind::Loading
                } else {
                    ModelStateKind::None
                },
                name: name.clone(),
                error: None,
            };
            slot.epoch
        };
        self.0.model_changed.notify_all();
        let Some(name) = name else { return };
        let state = self.clone();
        std::thread::spawn(move || {
            let options = engine_options(&settings);
            let loaded = sillok.load_generator(Some(&name), &options);
            let mut slot = lock(&state.0.model);
            if slot.epoch != epoch {
                return;
            }
            match loaded {
                Ok(generator) => {
                    slot.generator = Some(Arc::new(generator));
                    slot.state.state = ModelStateKind::Ready;
                }
                Err(error) => {
                    tracing::warn!("the chat model failed to load");
                    slot.state.state = ModelStateKind::Failed;
                    slot.state.error = Some(error.to_string());
                }
            }
            drop(slot);
            state.0.model_changed.notify_all();
        });
    }

    /// Debug builds only: a scripted "model" replaying `SILLOK_TEST_SCRIPTED_ANSWER`,
    /// so the window tests can make a model write hostile markup.
    #[cfg(debug_assertions)]
    fn use_scripted_model(&self) -> bool {
        use sillok_core::models::ScriptedGenerator;
        let Ok(script) = std::env::var("SILLOK_TEST_SCRIPTED_ANSWER") else {
            return false;
        };
        let generator = ScriptedGenerator::new("scripted", &script)
            .ending_turn()
            .with_delay(Duration::from_millis(10));
        let mut slot = lock(&self.0.model);
        slot.generator = Some(Arc::new(generator));
        slot.state = ModelState {
            state: ModelStateKind::Ready,
            name: Some("scripted".to_owned()),
            error: None,
        };
        true
    }

    #[cfg(not(debug_assertions))]
    fn use_scripted_model(&self) -> bool {
        false
    }

    /// The loaded chat model, waiting for one that is loading; `None` when
    /// none is installed or it failed (answers then show the evidence alone).
    pub fn generator(&self) -> Option<Arc<dyn Generator>> {
        let slot = lock(&self.0.model);
        let (slot, _) = self
            .0
            .model_changed
            .wait_timeout_while(slot, MODEL_WAIT, |s| {
                s.state.state == ModelStateKind::Loading
            })
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.generator.clone()
    }

    /// Marks an answer as in flight; refused while another one is.
    pub fn begin_answer(&self) -> CommandResult<AnswerSlot> {
        let mut answering = lock(&self.0.answering);
        if answering.is_some() {
            return Err(AppError::new(
                ErrorKind::Busy,
                "an answer is already being generated: stop it first",
            ));
        }
        let cancel = CancelToken::default();
        *answering = Some(cancel.clone());
        Ok(AnswerSlot {
            state: self.clone(),
            cancel,
        })
    }

    /// Cancels the answer in flight, if any.
    pub fn cancel_answer(&self) {
        if let Some(cancel) = lock(&self.0.answering).as_ref() {
            cancel.cancel();
        }
    }
}

/// An answer in flight; frees the slot when dropped.
pub struct AnswerSlot {
    state: AppState,
    /// Its cancel token.
    pub cancel: CancelToken,
}

impl Drop for AnswerSlot {
    fn drop(&mut self) {
        *lock(&self.state.0.answering) = None;
    }
}

/// An ingestion in flight; frees the slot when dropped.
pub struct IngestSlot {
    state: AppState,
    /// Its stop switch, set by [`AppState::cancel_ingest`].
    pub stop: Arc<AtomicBool>,
}

impl IngestSlot {
    /// Whether a cancel was asked for.
    pub fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

impl Drop for IngestSlot {
    fn drop(&mut self) {
        *lock(&self.state.0.ingesting) = None;
    }
}

/// Engine options from the settings.
pub fn engine_options(settings: &Settings) -> EngineOptions {
    EngineOptions {
        threads: settings.threads,
        n_ctx: settings.context_length,
        ..EngineOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sillok_core::DataDir;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn state(dir: &std::path::Path) -> Result<AppState, sillok_core::Error> {
        Ok(AppState::new(Sillok::open(DataDir::at(dir))?, None))
    }

    #[test]
    fn embedding_progress_is_let_through_once_per_percent() {
        let mut throttle = ProgressThrottle::default();
        let admitted: Vec<usize> = (0..=1000)
            .step_by(4)
            .filter(|&done| throttle.admit(done, 1000))
            .collect();
        // 0%, then each whole percent (every 10 chunks, seen every 4th).
        assert_eq!(admitted.len(), 101);
        assert_eq!(admitted[..4], [0, 12, 20, 32]);
        assert_eq!(admitted.last(), Some(&1000));
        assert_eq!(
            (percent(5, 0), percent(7, 3), percent(1, 3)),
            (100, 100, 33)
        );
    }

    #[test]
    fn one_ingestion_at_a_time_and_cancel_reaches_it() -> TestResult {
        let dir = tempfile::tempdir()?;
        let state = state(dir.path())?;
        assert!(!state.cancel_ingest(), "nothing to cancel");
        let slot = state.begin_ingest().map_err(|e| e.message)?;
        let second = state.begin_ingest().map(|_| ()).map_err(|e| e.kind);
        assert_eq!(second, Err(ErrorKind::InUse));
        assert!(!slot.cancelled());
        assert!(state.cancel_ingest());
        assert!(slot.cancelled());
        drop(slot);
        let next = state.begin_ingest().map_err(|e| e.message)?;
        assert!(!next.cancelled(), "a cancel does not outlive its ingestion");
        Ok(())
    }

    #[test]
    fn embedding_is_idle_without_an_embedding_model() -> TestResult {
        let dir = tempfile::tempdir()?;
        let state = state(dir.path())?;
        state.embed_once();
        assert_eq!(state.embedding_status(), EmbeddingStatus::default());
        Ok(())
    }
}
