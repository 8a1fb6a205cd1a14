//! What the app holds between commands: the core (swapped, never locked for
//! long), the chat model loading in the background, and the answer in flight.

use std::path::PathBuf;
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
    sample_library: Option<PathBuf>,
    /// Background embedding: whether a run is going, and whether another
    /// was asked for meanwhile (new chunks arrived while it ran).
    embedding: Mutex<EmbeddingRuns>,
}

#[derive(Default)]
struct EmbeddingRuns {
    running: bool,
    again: bool,
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
                let never = CancelToken::default();
                if let Err(e) = state.sillok().embed_library(&never, &mut |_| {}) {
                    tracing::warn!(kind = e.is_user_error(), "background embedding failed");
                }
                let mut runs = lock(&state.0.embedding);
                if !runs.again {
                    runs.running = false;
                    break;
                }
                runs.again = false;
            }
        });
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

/// Engine options from the settings.
pub fn engine_options(settings: &Settings) -> EngineOptions {
    EngineOptions {
        threads: settings.threads,
        n_ctx: settings.context_length,
        ..EngineOptions::default()
    }
}
