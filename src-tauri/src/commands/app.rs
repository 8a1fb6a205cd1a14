//! App status and settings.

use serde::Serialize;
use sillok_core::Settings;
use tauri::State;

use super::blocking;
use crate::error::CommandResult;
use crate::state::{AppState, ModelState};

/// A profile as the settings screen lists it.
#[derive(Debug, Serialize)]
pub struct ProfileInfo {
    name: String,
    description: String,
}

/// Everything the UI needs at start (docs/app-ipc.md `AppStatus`).
#[derive(Debug, Serialize)]
pub struct AppStatus {
    version: &'static str,
    data_dir: String,
    os_locale: String,
    model: ModelState,
    settings: Settings,
    profiles: Vec<ProfileInfo>,
    sample_library: Option<String>,
    /// The settings the site policy fixes (shown, not editable).
    policy_locked: Vec<&'static str>,
}

/// The app's state: model, settings, profiles, where data lives.
#[tauri::command(rename_all = "snake_case")]
pub async fn app_status(state: State<'_, AppState>) -> CommandResult<AppStatus> {
    let state = state.inner().clone();
    blocking(move || {
        let sillok = state.sillok();
        let profiles = sillok_core::profile::load(sillok.data_dir().root())?
            .into_iter()
            .map(|p| ProfileInfo {
                name: p.name,
                description: p.description,
            })
            .collect();
        let idle_lock_fixed = sillok
            .site_policy()?
            .is_some_and(|site| site.policy.idle_lock_minutes.is_some());
        Ok(AppStatus {
            version: env!("CARGO_PKG_VERSION"),
            data_dir: sillok.data_dir().root().display().to_string(),
            os_locale: os_locale(),
            model: state.model_state(),
            settings: sillok.settings()?,
            profiles,
            sample_library: state.sample_library().map(|p| p.display().to_string()),
            policy_locked: if idle_lock_fixed {
                vec!["idle_lock_minutes"]
            } else {
                Vec::new()
            },
        })
    })
    .await
}

/// Saves the settings; reloads the chat model when its choice or sizes changed.
#[tauri::command(rename_all = "snake_case")]
pub async fn settings_set(
    state: State<'_, AppState>,
    settings: Settings,
) -> CommandResult<Settings> {
    let state = state.inner().clone();
    blocking(move || {
        let before = state.sillok().settings().unwrap_or_default();
        state.edit(|sillok| Ok(sillok.save_settings(&settings)?))?;
        let engine_changed = before.chat_model != settings.chat_model
            || before.threads != settings.threads
            || before.context_length != settings.context_length;
        if engine_changed {
            state.load_model_in_background();
        }
        // A new embedding model (or hybrid turned on) needs its vectors.
        state.embed_in_background();
        Ok(settings)
    })
    .await
}

/// The OS locale as BCP 47 (`ko-KR`), from the usual variables.
fn os_locale() -> String {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty() && v != "C" && v != "POSIX")
        .map(|v| v.split(['.', '@']).next().unwrap_or("").replace('_', "-"))
        .unwrap_or_else(|| "en-US".to_owned())
}
