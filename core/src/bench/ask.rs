//! `sillok bench ask`: where the time of a grounded answer goes — retrieval,
//! prompt build, prefill, decode — next to the engine's bare prefill of a
//! prompt of the same length.

use std::time::{Duration, Instant};

use sillok_index::TokenCounter;
use sillok_index::bench::{generate_corpus, generated_queries};
use sillok_models::{CancelToken, GenerationRequest, Generator, Prompt};

use super::generate::FILLER;
use crate::answer::AskRequest;
use crate::{DataDir, Result, Sillok};

/// Generated text per requested chunk (as in `bench index`).
const BYTES_PER_CHUNK: u64 = 500;

/// What to measure.
#[derive(Debug, Clone)]
pub struct AskBenchConfig {
    /// The question (on a generated library: one drawn from its text when empty).
    pub question: String,
    /// Build a throwaway library of about this many generated chunks instead
    /// of using the data directory's own library.
    pub generated_chunks: Option<u64>,
    /// Timed runs; medians are reported.
    pub runs: u32,
    /// Most tokens of answer.
    pub max_tokens: u32,
}

/// Medians of the timed runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AskBenchReport {
    /// The question asked.
    pub question: String,
    /// Chunks in the searched library.
    pub chunks_searched: u64,
    /// Status of the last run.
    pub status: String,
    /// Searching and merging.
    pub retrieval: Duration,
    /// Building and counting the prompt.
    pub prompt_build: Duration,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Model prefill.
    pub prefill: Duration,
    /// Question to first answer text.
    pub first_token: Duration,
    /// Decode.
    pub decode: Duration,
    /// Whole answer.
    pub total: Duration,
    /// The engine's time to first token on a plain prompt of the same length.
    pub bare_first_token: Duration,
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Runs the benchmark with `generator`.
///
/// # Errors
///
/// Library, tokenizer or engine failures.
pub fn bench_ask(
    sillok: &Sillok,
    generator: &dyn Generator,
    config: &AskBenchConfig,
) -> Result<AskBenchReport> {
    let Some(chunks) = config.generated_chunks else {
        return measure(sillok, generator, config, config.question.clone());
    };
    sillok.in_scratch_dir("bench-ask", |work| {
        let corpus = generate_corpus(
            &work.join("corpus"),
            chunks.saturating_mul(BYTES_PER_CHUNK),
            7,
        )?;
        let question = if config.question.is_empty() {
            generated_queries(&corpus, 1)
                .multi_word
                .pop()
                .unwrap_or_default()
        } else {
            config.question.clone()
        };
        let throwaway = crate::stores::open_scratch(DataDir::at(work.join("data")))?;
        {
            let counter = TokenCounter::from_file(&sillok.chunk_tokenizer_path()?)?;
            let library = throwaway.library()?;
            let mut writer = library.writer(counter, throwaway.ingest_settings())?;
            writer.ingest("bench", std::slice::from_ref(&corpus.dir), &mut |_| {})?;
        }
        measure(&throwaway, generator, config, question)
    })
}

fn measure(
    sillok: &Sillok,
    generator: &dyn Generator,
    config: &AskBenchConfig,
    question: String,
) -> Result<AskBenchReport> {
    let mut request = AskRequest::new(question.clone());
    request.max_tokens = config.max_tokens;
    // The gate is not what is measured: every run goes to the model.
    request.min_coverage = Some(0.0);
    let cancel = CancelToken::default();
    let mut runs = Vec::new();
    for run in 0..=config.runs.max(1) {
        let answer = sillok.ask(Some(generator), &request, &cancel, &mut |_| {})?;
        if run > 0 {
            runs.push(answer);
        }
    }
    let Some(last) = runs.last() else {
        return Ok(AskBenchReport::default());
    };
    let prompt_tokens = last.prompt_tokens;
    // The same number of prompt tokens, plain.
    let per_filler = generator.count_tokens(FILLER)?.max(1);
    let text = FILLER.repeat(prompt_tokens.div_ceil(per_filler).max(1));
    let bare = GenerationRequest::new(Prompt::Text(text), 1);
    let mut bare_times = Vec::new();
    for _ in 0..config.runs.max(1) {
        let started = Instant::now();
        let report = generator.generate(&bare, &cancel, &mut |_| {})?;
        bare_times.push(
            report
                .timings
                .first_token
                .unwrap_or_else(|| started.elapsed()),
        );
    }
    let pick =
        |f: &dyn Fn(&crate::answer::Answer) -> Duration| median(runs.iter().map(f).collect());
    Ok(AskBenchReport {
        question,
        chunks_searched: last.receipts.chunks_searched,
        status: last.status.as_str().to_owned(),
        retrieval: pick(&|a| a.timings.retrieval),
        prompt_build: pick(&|a| a.timings.prompt_build),
        prompt_tokens,
        prefill: pick(&|a| a.timings.prefill),
        first_token: pick(&|a| a.timings.first_token.unwrap_or(a.timings.total)),
        decode: pick(&|a| a.timings.decode),
        total: pick(&|a| a.timings.total),
        bare_first_token: median(bare_times),
    })
}
