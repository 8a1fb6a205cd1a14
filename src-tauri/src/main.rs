//! Sillok's desktop app: a thin Tauri 2 shell over `sillok-core`. It opens
//! the data directory, loads the chat model in the background (the window
//! never waits for it) and serves the web UI's commands.

mod commands;
mod error;
mod state;

use std::path::PathBuf;

use anyhow::Context;
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SILLOK_LOG")
                .unwrap_or_else(|_| "warn,llama-cpp-2=error,lopdf=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let sillok = Sillok::open(DataDir::resolve()?).context("cannot open the data directory")?;
    let state = AppState::new(sillok, sample_library());
    state.load_model_in_background();
    state.embed_in_background();
    tauri::Builder::default()
        .manage(state)
        .invoke_handler(commands::handler())
        .run(tauri::generate_context!())
        .context("the app window failed")
}
