//! A scripted [`Generator`] for fast tests: plays back fixed byte pieces as
//! "tokens" (one character of prompt = one token), with the same streaming,
//! stop-string, budget and cancellation behaviour as the real engine.

use std::time::{Duration, Instant};

use crate::generate::{
    CancelToken, Emitter, GenerationReport, GenerationRequest, Generator, StopReason, Timings,
};
use crate::prompt::{self, Segment};
use crate::{Error, Result};

/// Plays back a script; loops over it until `max_tokens` unless `ends_turn` is set.
#[derive(Debug, Clone)]
pub struct ScriptedGenerator {
    name: String,
    pieces: Vec<Vec<u8>>,
    ends_turn: bool,
    context_length: u32,
    delay: Duration,
}

impl ScriptedGenerator {
    /// A generator that says `text`, in two-byte pieces so multi-byte
    /// characters (Hangul) arrive split across "tokens" as they do from a model.
    pub fn new(name: impl Into<String>, text: &str) -> Self {
        ScriptedGenerator {
            name: name.into(),
            pieces: text.as_bytes().chunks(2).map(<[u8]>::to_vec).collect(),
            ends_turn: false,
            context_length: 2048,
            delay: Duration::ZERO,
        }
    }

    /// Ends the turn after one pass of the script instead of looping.
    #[must_use]
    pub fn ending_turn(mut self) -> Self {
        self.ends_turn = true;
        self
    }

    /// Sleeps this long per token, to exercise streaming and cancellation.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the context window.
    #[must_use]
    pub fn with_context(mut self, context_length: u32) -> Self {
        self.context_length = context_length;
        self
    }
}

impl Generator for ScriptedGenerator {
    fn name(&self) -> &str {
        &self.name
    }

    fn sha256(&self) -> &str {
        "scripted"
    }

    fn context_length(&self) -> u32 {
        self.context_length
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(prompt::sanitize(text).chars().count())
    }

    fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationReport> {
        request.validate()?;
        let started = Instant::now();
        let n_ctx = self.context_length as usize;
        let reserve = (request.max_tokens as usize).min(n_ctx / 2);
        let segments: Vec<(bool, Vec<char>)> = prompt::render_completion(&request.prompt)
            .into_iter()
            .map(|s| match s {
                Segment::Frame(t) => (false, t.chars().collect()),
                Segment::Content(t) => (true, t.chars().collect()),
            })
            .collect();
        let (tokens, dropped) =
            prompt::fit(&segments, n_ctx - reserve).ok_or(Error::NoRoomForPrompt {
                n_ctx: self.context_length,
                frame: 0,
                max_tokens: request.max_tokens,
            })?;
        let prefill = started.elapsed();
        let mut report = GenerationReport {
            text: String::new(),
            stop: StopReason::Cancelled,
            prompt_tokens: tokens.len(),
            prompt_tokens_dropped: dropped,
            generated_tokens: 0,
            timings: Timings {
                prefill,
                ..Timings::default()
            },
        };
        let mut emitter = Emitter::new(&request.stop, started, on_text);
        let mut pieces = self.pieces.iter().cycle();
        report.stop = loop {
            if cancel.is_cancelled() {
                break StopReason::Cancelled;
            }
            if report.generated_tokens >= request.max_tokens as usize {
                break StopReason::MaxTokens;
            }
            if tokens.len() + report.generated_tokens >= n_ctx {
                break StopReason::ContextFull;
            }
            let at_end = self.pieces.is_empty()
                || (self.ends_turn && report.generated_tokens >= self.pieces.len());
            let Some(piece) = pieces.next().filter(|_| !at_end) else {
                break StopReason::EndOfGeneration;
            };
            std::thread::sleep(self.delay);
            report.generated_tokens += 1;
            if emitter.push(piece) {
                break StopReason::StopSequence;
            }
        };
        (report.text, report.timings.first_token) =
            emitter.finish(report.stop == StopReason::StopSequence);
        report.timings.decode = started.elapsed() - prefill;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[test]
    fn scripted_generator_passes_the_conformance_suite() {
        let generator = ScriptedGenerator::new("scripted", "고혈압 치료에는 5 mg을 투여한다. ")
            .with_delay(Duration::from_millis(2))
            .with_context(512);
        conformance::run_all(&generator);
    }

    #[test]
    fn a_turn_ending_script_stops_at_its_end() -> Result<()> {
        let generator = ScriptedGenerator::new("scripted", "네, 확인했습니다.").ending_turn();
        let request = GenerationRequest::new(crate::Prompt::Text("?".into()), 100);
        let report = generator.generate(&request, &CancelToken::default(), &mut |_| {})?;
        assert_eq!(report.stop, StopReason::EndOfGeneration);
        assert_eq!(report.text, "네, 확인했습니다.");
        Ok(())
    }
}
