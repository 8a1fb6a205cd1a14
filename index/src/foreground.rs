//! Interactive work yields nothing to background ingestion: while a search
//! or an answer is in progress, ingestion waits between files. On a 2-core
//! machine, parsing next to llama.cpp slows generation several-fold.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How often waiting ingestion looks again.
const RECHECK: Duration = Duration::from_millis(20);

/// Counts interactive work in progress; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct Foreground(Arc<AtomicUsize>);

/// Marks interactive work in progress until dropped.
#[derive(Debug)]
#[must_use = "the work counts as in progress only while the guard lives"]
pub struct ForegroundGuard(Arc<AtomicUsize>);

impl Foreground {
    /// Marks interactive work as started.
    pub fn enter(&self) -> ForegroundGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        ForegroundGuard(Arc::clone(&self.0))
    }

    /// True while any interactive work is in progress.
    pub fn is_busy(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }

    /// Blocks while interactive work is in progress.
    pub fn wait_until_idle(&self) {
        while self.is_busy() {
            std::thread::sleep(RECHECK);
        }
    }
}

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_while_any_guard_lives() {
        let fg = Foreground::default();
        assert!(!fg.is_busy());
        let a = fg.enter();
        let b = fg.clone().enter();
        drop(a);
        assert!(fg.is_busy());
        drop(b);
        assert!(!fg.is_busy());
        fg.wait_until_idle();
    }
}
