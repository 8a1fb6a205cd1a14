//! `sillok watch`: keeps collections in step with their folders until Ctrl-C.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use sillok_core::Sillok;
use sillok_core::index::{FileStatus, IngestEvent, WatchEvent, watch::DEFAULT_QUIET};

use crate::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Collections to watch (default: all).
    #[arg(long, short)]
    collection: Vec<String>,
    /// How long folders must be quiet before changes are indexed, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_QUIET.as_millis() as u64)]
    quiet_ms: u64,
    /// Print one JSON object per event.
    #[arg(long)]
    json: bool,
}

pub fn run(sillok: &Sillok, args: &WatchArgs) -> CmdResult {
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || on_signal.store(true, Ordering::Relaxed)).map_err(|e| {
        Failure::Internal(anyhow::anyhow!("cannot install the Ctrl-C handler: {e}"))
    })?;
    let as_json = args.json;
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the watch: output is best effort.
    let mut print = |line: String| {
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    sillok.watch(
        &args.collection,
        Duration::from_millis(args.quiet_ms),
        &stop,
        &mut |event| match event {
            WatchEvent::Watching { roots } => {
                if as_json {
                    print(json!({ "event": "watching", "roots": roots }).to_string());
                } else {
                    eprintln!("watching {} folders; Ctrl-C stops", roots.len());
                }
            }
            WatchEvent::Ingest {
                collection,
                event: IngestEvent::File { path, status, .. },
            } => {
                if as_json {
                    print(json!({ "event": "file", "collection": collection, "path": path, "status": status.as_str() }).to_string());
                } else if let FileStatus::Failed { reason } = status {
                    eprintln!("failed   {path}: {reason}");
                }
            }
            WatchEvent::Ingest { .. } => {}
            WatchEvent::Pass { collection, report: r } => {
                if as_json {
                    print(json!({ "event": "pass", "collection": collection, "indexed": r.indexed, "unchanged": r.unchanged,
                                  "duplicates": r.duplicates, "needs_ocr": r.needs_ocr, "failed": r.failed, "removed": r.removed }).to_string());
                } else if r.indexed + r.removed + r.failed + r.duplicates + r.needs_ocr > 0 {
                    print(format!(
                        "{collection}: {} indexed, {} duplicates, {} need OCR, {} failed, {} removed",
                        r.indexed, r.duplicates, r.needs_ocr, r.failed, r.removed
                    ));
                }
            }
        },
    )?;
    Ok(())
}
