//! Installed models: list, import from disk, verify, remove, choose.

use std::path::PathBuf;

use serde::Serialize;
use sillok_core::models::{
    DEFAULT_CONTEXT, MIN_CONTEXT, ModelEntry, Provenance, Role, available_memory_bytes,
};
use tauri::State;
use tauri::ipc::Channel;

use super::blocking;
use crate::error::{AppError, CommandResult, ErrorKind};
use crate::state::AppState;

/// Whether a model fits in memory now.
#[derive(Debug, Serialize)]
pub struct Fit {
    fits: bool,
    needed_bytes: u64,
    available_bytes: u64,
}

/// A model as the models screen shows it (docs/app-ipc.md `ModelInfo`).
#[derive(Debug, Serialize)]
pub struct ModelInfo {
    name: String,
    role: Role,
    file: String,
    size_bytes: u64,
    sha256: String,
    quantization: String,
    license: Option<String>,
    architecture: String,
    parameters: u64,
    context_length: u32,
    provenance: &'static str,
    is_default: bool,
    fit: Fit,
}

/// Hashing progress.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Bytes hashed so far.
    Progress {
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// The file's SHA-256.
    Hashed {
        /// Lowercase hex.
        sha256: String,
    },
}

fn model_info(entry: &ModelEntry, is_default: bool, context: Option<u32>) -> ModelInfo {
    let n_ctx =
        context.unwrap_or_else(|| DEFAULT_CONTEXT.min(entry.info.context_length.max(MIN_CONTEXT)));
    let needed_bytes = entry.info.estimated_bytes(n_ctx);
    let available_bytes = available_memory_bytes();
    ModelInfo {
        name: entry.name.clone(),
        role: entry.role,
        file: entry.file.clone(),
        size_bytes: entry.size,
        sha256: entry.sha256.clone(),
        quantization: entry.info.quantization.clone(),
        license: entry.license.clone(),
        architecture: entry.info.architecture.clone(),
        parameters: entry.info.parameters,
        context_length: entry.info.context_length,
        provenance: match entry.provenance {
            Provenance::Known => "known",
            Provenance::UserImported => "user",
        },
        is_default,
        fit: Fit {
            fits: needed_bytes <= available_bytes,
            needed_bytes,
            available_bytes,
        },
    }
}

/// Calls `send` with progress at most once per percent.
fn throttled(channel: &Channel<ProgressEvent>) -> impl FnMut(u64, u64) + '_ {
    let mut last = u64::MAX;
    move |done, total| {
        let percent = done.saturating_mul(100) / total.max(1);
        if percent != last {
            last = percent;
            // A closed window cannot take progress; the work goes on.
            let _ = channel.send(ProgressEvent::Progress { done, total });
        }
    }
}

/// The installed models.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_list(state: State<'_, AppState>) -> CommandResult<Vec<ModelInfo>> {
    let state = state.inner().clone();
    blocking(move || {
        let sillok = state.sillok();
        let context = sillok.settings().unwrap_or_default().context_length;
        let catalogue = sillok.catalogue();
        Ok(catalogue
            .models()
            .iter()
            .map(|m| {
                let is_default = catalogue.default_for(m.role) == Some(m.name.as_str());
                model_info(m, is_default, context)
            })
            .collect())
    })
    .await
}

/// Imports a GGUF file from disk (copied in and hashed in one pass).
#[tauri::command(rename_all = "snake_case")]
pub async fn models_import(
    state: State<'_, AppState>,
    path: String,
    on_event: Channel<ProgressEvent>,
) -> CommandResult<ModelInfo> {
    let state = state.inner().clone();
    blocking(move || {
        let path = PathBuf::from(path.trim());
        if !path.is_absolute() {
            return Err(AppError::new(
                ErrorKind::InvalidInput,
                "give the model file's full path",
            ));
        }
        let mut progress = throttled(&on_event);
        let entry = state.edit(|sillok| Ok(sillok.import_model(&path, None, &mut progress)?))?;
        let _ = on_event.send(ProgressEvent::Hashed {
            sha256: entry.sha256.clone(),
        });
        let sillok = state.sillok();
        let is_default = sillok.catalogue().default_for(entry.role) == Some(entry.name.as_str());
        if entry.role == Role::Chat && is_default {
            state.load_model_in_background();
            state.embed_in_background();
        }
        let context = sillok.settings().unwrap_or_default().context_length;
        Ok(model_info(&entry, is_default, context))
    })
    .await
}

/// Re-hashes a model's file against its recorded SHA-256.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_verify(
    state: State<'_, AppState>,
    name: String,
    on_event: Channel<ProgressEvent>,
) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let mut progress = throttled(&on_event);
        state.sillok().verify_model(&name, &mut progress)?;
        Ok(())
    })
    .await
}

/// Removes a model and its file.
#[tauri::command(rename_all = "snake_case")]
pub async fn models_remove(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let removed = state.edit(|sillok| Ok(sillok.remove_model(&name)?))?;
        if removed.role == Role::Chat && state.model_state().name.as_deref() == Some(&name) {
            state.load_model_in_background();
            state.embed_in_background();
        }
        Ok(())
    })
    .await
}

/// Makes a model the default for its role (and loads it, for chat).
#[tauri::command(rename_all = "snake_case")]
pub async fn models_set_default(state: State<'_, AppState>, name: String) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        let role = state.edit(|sillok| Ok(sillok.set_default_model(&name)?))?;
        if role == Role::Chat {
            state.load_model_in_background();
            state.embed_in_background();
        }
        Ok(())
    })
    .await
}
