//! Progress bars for long file operations (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A byte progress bar with a message.
pub fn bytes(message: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar
}

/// A callback updating `bar` from `(done, total)`.
pub fn update(bar: &ProgressBar) -> impl FnMut(u64, u64) + '_ {
    |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}
