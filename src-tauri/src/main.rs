//! Sillok's desktop app: a thin Tauri 2 shell over `sillok-core`. It opens
//! the data directory, loads the chat model in the background (the window
//! never waits for it) and serves the web UI's commands.

mod commands;
mod error;
mod state;

use std::path::PathBuf;

use anyhow::Context;
use sillok_core::phi::{MaskedWriter, SharedMasker};
use sillok_core::{DataDir, Sillok};

use crate::state::AppState;

/// Where the bundled sample library is, when there is one.
fn sample_library() -> Option<PathBuf> {
    std::env::var_os("SILLOK_SAMPLE_LIBRARY")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/share/sillok/samples/library")))
        .filter(|p| p.is_dir())
}

fn main() -> anyhow::Result<()> {
    let log_masker = SharedMasker::default();
    let writer_masker = log_masker.clone();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SILLOK_LOG")
                .unwrap_or_else(|_| "warn,llama-cpp-2=error,lopdf=error".into()),
        )
        .with_writer(move || MaskedWriter::new(std::io::stderr(), writer_masker.clone()))
        .init();
    // Before any key or document is in memory: a crash must not write them
    // to a core file.
    if let Err(e) = sillok_core::disable_core_dumps() {
        tracing::warn!(error = %e, "core dumps stay enabled");
    }
    let sillok = Sillok::open(DataDir::resolve()?).context("cannot open the data directory")?;
    // Logs are PHI-masked: registration numbers, phones and e-mails from the
    // start, MRN patterns and patient names once the data directory is open.
    match sillok.log_masker() {
        Ok(full) => log_masker.set(full),
        Err(e) => tracing::debug!(error = %e, "logs are masked with the built-in detectors only"),
    }
    let state = AppState::new(sillok, sample_library());
    state.load_model_in_background();
    state.embed_in_background();
    commands::vault::start_idle_lock(state.clone());
    tauri::Builder::default()
        .manage(state)
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .context("the app window failed")
}
