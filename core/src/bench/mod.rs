//! `sillok bench …`: performance measured on this machine and reported,
//! never asserted.

mod ask;
mod embed;
mod encryption;
mod generate;
mod index;

pub use ask::{AskBenchConfig, AskBenchReport, bench_ask};
pub use embed::{EmbedBenchConfig, EmbedBenchReport, bench_embed};
pub use encryption::{EncryptionBenchConfig, EncryptionBenchReport, bench_encryption};
pub use generate::{BenchConfig, BenchReport, bench_generate, peak_rss_bytes};
pub use index::{IndexBenchConfig, IndexBenchReport, QueryLatency, VectorBench, bench_index};
