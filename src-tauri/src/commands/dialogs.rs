//! Native file dialogs. GTK dialogs must run on the main thread, as tauri's
//! own dialog plugin runs them; the command waits off the main thread.

use std::path::PathBuf;

use tauri::AppHandle;

use super::blocking;
use crate::error::{AppError, CommandResult, ErrorKind};

async fn on_main_thread<T: Send + 'static>(
    app: &AppHandle,
    dialog: impl FnOnce() -> T + Send + 'static,
) -> CommandResult<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    app.run_on_main_thread(move || {
        let _ = tx.send(dialog());
    })
    .map_err(AppError::internal)?;
    blocking(move || rx.recv().map_err(AppError::internal)).await
}

fn shown(path: Option<PathBuf>) -> Option<String> {
    path.map(|p| p.display().to_string())
}

/// Asks for a model file (`.gguf`).
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_file(app: AppHandle) -> CommandResult<Option<String>> {
    on_main_thread(&app, || {
        shown(
            rfd::FileDialog::new()
                .add_filter("GGUF", &["gguf"])
                .pick_file(),
        )
    })
    .await
}

/// Asks for a folder of documents.
#[tauri::command(rename_all = "snake_case")]
pub async fn pick_folder(app: AppHandle) -> CommandResult<Option<String>> {
    on_main_thread(&app, || shown(rfd::FileDialog::new().pick_folder())).await
}

/// Asks where to save `text` and writes it there; `None` when the user
/// cancelled.
#[tauri::command(rename_all = "snake_case")]
pub async fn save_text_file(
    app: AppHandle,
    suggested_name: String,
    text: String,
) -> CommandResult<Option<String>> {
    let path = on_main_thread(&app, move || {
        rfd::FileDialog::new()
            .set_file_name(suggested_name)
            .save_file()
    })
    .await?;
    let Some(path) = path else { return Ok(None) };
    blocking(move || {
        std::fs::write(&path, text).map_err(|e| {
            AppError::new(
                ErrorKind::InvalidInput,
                format!("cannot write the file: {e}"),
            )
        })?;
        Ok(Some(path.display().to_string()))
    })
    .await
}
