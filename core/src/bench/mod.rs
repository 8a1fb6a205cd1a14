//! `sillok bench …`: performance measured on this machine and reported,
//! never asserted.

mod generate;
mod index;

pub use generate::{BenchConfig, BenchReport, bench_generate, peak_rss_bytes};
pub use index::{IndexBenchConfig, IndexBenchReport, QueryLatency, bench_index};
