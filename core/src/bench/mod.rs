//! `sillok bench …`: performance measured on this machine and reported,
//! never asserted.

mod ask;
mod generate;
mod index;

pub use ask::{AskBenchConfig, AskBenchReport, bench_ask};
pub use generate::{BenchConfig, BenchReport, bench_generate, peak_rss_bytes};
pub use index::{IndexBenchConfig, IndexBenchReport, QueryLatency, bench_index};
