//! `sillok bench generate`: prompt-processing and decode speed, time to first
//! token, load time and peak memory of a chat model, measured — never asserted.

use std::time::{Duration, Instant};

use sillok_models::{CancelToken, EngineOptions, GenerationRequest, Generator, Prompt};

use crate::{Result, Sillok};

/// What to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchConfig {
    /// Approximate prompt length in the model's tokens.
    pub prompt_tokens: usize,
    /// Tokens to generate per run.
    pub max_tokens: u32,
    /// Timed runs after one warm-up; medians are reported.
    pub runs: u32,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            prompt_tokens: 1500,
            max_tokens: 128,
            runs: 3,
        }
    }
}

/// Measured figures (medians over runs).
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Model name.
    pub model: String,
    /// Threads used.
    pub threads: i32,
    /// Context length.
    pub n_ctx: u32,
    /// Time to load and verify the model.
    pub load: Duration,
    /// Prompt tokens actually evaluated.
    pub prompt_tokens: usize,
    /// Prompt processing speed, tokens per second.
    pub prefill_tokens_per_s: f64,
    /// Generation speed, tokens per second.
    pub decode_tokens_per_s: f64,
    /// Time to first token.
    pub first_token: Duration,
    /// Tokens generated per run (median).
    pub generated_tokens: usize,
    /// Peak resident memory of this process, when the OS reports it.
    pub peak_rss_bytes: Option<u64>,
}

/// A synthetic clinical paragraph, repeated to the requested prompt length.
pub(super) const FILLER: &str = "The patient is a 64-year-old man with hypertension and type 2 diabetes, \
seen in clinic for follow-up. Blood pressure was 148/92 mmHg on amlodipine 5 mg daily; \
HbA1c 7.4%. No chest pain or dyspnoea. Plan: continue metformin, review diet, recheck in \
three months. 환자는 고혈압과 당뇨로 외래 추적 관찰 중이다.\n";

/// Loads the model (timed) and measures generation on a long prompt.
///
/// # Errors
///
/// Model loading or generation errors.
pub fn bench_generate(
    sillok: &Sillok,
    model: Option<&str>,
    options: &EngineOptions,
    config: &BenchConfig,
) -> Result<BenchReport> {
    let started = Instant::now();
    let generator = sillok.load_generator(model, options)?;
    let load = started.elapsed();

    let per_filler = generator.count_tokens(FILLER)?.max(1);
    let prompt = FILLER.repeat(config.prompt_tokens.div_ceil(per_filler));
    let mut request = GenerationRequest::new(Prompt::Text(prompt), config.max_tokens);
    request.sampling.temperature = 0.0;

    let mut reports = Vec::new();
    for run in 0..=config.runs.max(1) {
        let report = generator.generate(&request, &CancelToken::default(), &mut |_| {})?;
        if run > 0 {
            reports.push(report);
        }
    }
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    let rate = |tokens: usize, time: Duration| tokens as f64 / time.as_secs_f64().max(1e-9);
    Ok(BenchReport {
        model: generator.name().to_owned(),
        threads: generator.threads(),
        n_ctx: generator.context_length(),
        load,
        prompt_tokens: reports.first().map_or(0, |r| r.prompt_tokens),
        prefill_tokens_per_s: median(
            reports
                .iter()
                .map(|r| rate(r.prompt_tokens, r.timings.prefill))
                .collect(),
        ),
        decode_tokens_per_s: median(
            reports
                .iter()
                .map(|r| rate(r.generated_tokens, r.timings.decode))
                .collect(),
        ),
        first_token: Duration::from_secs_f64(median(
            reports
                .iter()
                .map(|r| {
                    r.timings
                        .first_token
                        .unwrap_or(r.timings.prefill)
                        .as_secs_f64()
                })
                .collect(),
        )),
        generated_tokens: median(reports.iter().map(|r| r.generated_tokens as f64).collect())
            as usize,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Peak resident set size (`VmHWM`) of this process.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
