//! `sillok library embed`: vectors for hybrid search, with progress.

use serde_json::json;
use sillok_core::Sillok;

use crate::{CmdResult, Failure};

pub fn embed(sillok: &Sillok, as_json: bool) -> CmdResult {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("embedding [{bar:30}] {pos}/{len} chunks {per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let cancel = crate::cancel_on_ctrl_c()?;
    let report = sillok.embed_library(&cancel, &mut |p| {
        bar.set_length(p.pending as u64);
        bar.set_position(p.done as u64);
    });
    bar.finish_and_clear();
    let Some(r) = report? else {
        return Err(sillok_core::Error::NoEmbeddingModel.into());
    };
    if as_json {
        println!(
            "{}",
            json!({ "model": r.model, "embedded": r.embedded, "already": r.already,
                    "cancelled": r.cancelled, "seconds": r.elapsed.as_secs_f64() })
        );
    } else {
        let rate = r.embedded as f64 / r.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{}: embedded {} chunks ({rate:.1}/s), {} already had vectors{}",
            r.model,
            r.embedded,
            r.already,
            if r.cancelled {
                "; stopped early, run again to continue"
            } else {
                ""
            }
        );
    }
    if r.cancelled {
        return Err(Failure::Cancelled);
    }
    Ok(())
}
