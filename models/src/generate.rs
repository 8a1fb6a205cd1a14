//! The generation contract: requests, streamed text, reports, cancellation.
//!
//! [`Generator`] is implemented by the real engine ([`crate::LlamaGenerator`])
//! and by [`crate::ScriptedGenerator`] for fast tests; both pass
//! [`crate::conformance`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::{Error, Result};

/// Largest prompt accepted before tokenisation (bytes). Beyond it the request is
/// refused; below it the prompt is tokenised and trimmed to the context budget.
pub const MAX_PROMPT_BYTES: usize = 1 << 20;

/// A cheap, cloneable cancellation flag, checked between tokens and prompt chunks.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Asks the generation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    /// Instructions.
    System,
    /// The person asking.
    User,
    /// The model.
    Assistant,
}

impl ChatRole {
    /// The role name chat templates use.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Speaker.
    pub role: ChatRole,
    /// Text.
    pub content: String,
}

impl Message {
    /// A message from `role`.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// What the model is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Raw text to continue (no template).
    Text(String),
    /// A conversation, shaped by the model's prompt style.
    Chat(Vec<Message>),
}

impl Prompt {
    fn byte_len(&self) -> usize {
        match self {
            Prompt::Text(text) => text.len(),
            Prompt::Chat(messages) => messages.iter().map(|m| m.content.len()).sum(),
        }
    }
}

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0 means greedy (deterministic).
    pub temperature: f32,
    /// Keep the k most likely tokens; 0 disables.
    pub top_k: i32,
    /// Nucleus threshold in (0, 1]; 1 disables.
    pub top_p: f32,
    /// Penalty for repeating recent tokens; 1 disables.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repeat_last_n: i32,
    /// Random seed.
    pub seed: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.2,
            top_k: 40,
            top_p: 0.95,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 42,
        }
    }
}

impl Sampling {
    /// Checks every setting's range.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] naming the first bad setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |setting, value: String, expected| Error::InvalidSetting {
            setting,
            value,
            expected,
        };
        if !(0.0..=5.0).contains(&self.temperature) {
            return Err(bad("temperature", self.temperature.to_string(), "0 to 5"));
        }
        if self.top_k < 0 {
            return Err(bad("top_k", self.top_k.to_string(), "0 or more"));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(bad("top_p", self.top_p.to_string(), "above 0, at most 1"));
        }
        if !(0.5..=5.0).contains(&self.repeat_penalty) {
            return Err(bad(
                "repeat_penalty",
                self.repeat_penalty.to_string(),
                "0.5 to 5",
            ));
        }
        if self.repeat_last_n < 0 {
            return Err(bad(
                "repeat_last_n",
                self.repeat_last_n.to_string(),
                "0 or more",
            ));
        }
        Ok(())
    }
}

/// A generation request.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    /// What to answer.
    pub prompt: Prompt,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling settings.
    pub sampling: Sampling,
    /// Generation stops before any of these strings (none is ever emitted).
    pub stop: Vec<String>,
}

impl GenerationRequest {
    /// A request with default sampling and no stop strings.
    pub fn new(prompt: Prompt, max_tokens: u32) -> Self {
        GenerationRequest {
            prompt,
            max_tokens,
            sampling: Sampling::default(),
            stop: Vec::new(),
        }
    }

    /// Checks the input cap, the token budget and the sampling settings.
    ///
    /// # Errors
    ///
    /// [`Error::PromptTooLong`] or [`Error::InvalidSetting`].
    pub fn validate(&self) -> Result<()> {
        let bytes = self.prompt.byte_len();
        if bytes > MAX_PROMPT_BYTES {
            return Err(Error::PromptTooLong {
                bytes,
                limit: MAX_PROMPT_BYTES,
            });
        }
        if self.max_tokens == 0 {
            return Err(Error::InvalidSetting {
                setting: "max_tokens",
                value: "0".to_owned(),
                expected: "1 or more",
            });
        }
        self.sampling.validate()
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The model ended its turn.
    EndOfGeneration,
    /// A stop string was produced.
    StopSequence,
    /// `max_tokens` reached.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// The caller cancelled.
    Cancelled,
}

/// Timings of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Evaluating the prompt.
    pub prefill: Duration,
    /// From the start of the call to the first generated text.
    pub first_token: Option<Duration>,
    /// Generating tokens after the prompt.
    pub decode: Duration,
}

/// What a finished (or stopped) generation produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationReport {
    /// The full generated text (what was streamed).
    pub text: String,
    /// Why it stopped.
    pub stop: StopReason,
    /// Prompt tokens evaluated.
    pub prompt_tokens: usize,
    /// Prompt tokens dropped to fit the context budget (oldest first).
    pub prompt_tokens_dropped: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Timings.
    pub timings: Timings,
}

/// A text generator: the real model or a scripted stand-in.
pub trait Generator: Send + Sync {
    /// Catalogue name of the model.
    fn name(&self) -> &str;
    /// SHA-256 of the model file (verified at load).
    fn sha256(&self) -> &str;
    /// Context window in tokens.
    fn context_length(&self) -> u32;
    /// How prompts are shaped: a chat template, or plain completion for base models.
    fn prompt_style(&self) -> crate::PromptStyle {
        crate::PromptStyle::ChatTemplate
    }
    /// Tokens `text` takes in this model's own tokenizer (no special tokens).
    ///
    /// # Errors
    ///
    /// Engine failures.
    fn count_tokens(&self, text: &str) -> Result<usize>;
    /// Generates, calling `on_text` with each newly completed piece of text.
    ///
    /// Cancellation is not an error: it returns a report with
    /// [`StopReason::Cancelled`] and the text produced so far.
    ///
    /// # Errors
    ///
    /// Invalid requests ([`GenerationRequest::validate`]), a prompt frame that
    /// leaves no room ([`Error::NoRoomForPrompt`]), engine failures.
    fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationReport>;
}

/// Turns decoded text pieces into the emitted stream, honouring stop strings:
/// text that might be the start of a stop string is held back until it is not.
#[derive(Debug)]
pub(crate) struct TextAssembler<'a> {
    stop: &'a [String],
    text: String,
    emitted: usize,
}

impl<'a> TextAssembler<'a> {
    pub(crate) fn new(stop: &'a [String]) -> Self {
        TextAssembler {
            stop,
            text: String::new(),
            emitted: 0,
        }
    }

    /// Adds a piece; returns the text now safe to emit and whether a stop string was reached.
    pub(crate) fn push(&mut self, piece: &str) -> (String, bool) {
        self.text.push_str(piece);
        // Held-back text guarantees no stop string starts before `emitted`.
        let found = self
            .stop
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.text[self.emitted..].find(s.as_str()))
            .min();
        if let Some(cut) = found {
            self.text.truncate(self.emitted + cut);
            return (self.take_rest(), true);
        }
        let hold = self
            .stop
            .iter()
            .map(|s| longest_suffix_prefix(&self.text, s))
            .max()
            .unwrap_or(0);
        let mut safe = self.text.len() - hold;
        while !self.text.is_char_boundary(safe) {
            safe -= 1;
        }
        let out = self.text[self.emitted..safe.max(self.emitted)].to_owned();
        self.emitted = safe.max(self.emitted);
        (out, false)
    }

    /// Returns what was held back, and the whole text.
    pub(crate) fn finish(mut self) -> (String, String) {
        let rest = self.take_rest();
        (rest, self.text)
    }

    fn take_rest(&mut self) -> String {
        let rest = self.text[self.emitted..].to_owned();
        self.emitted = self.text.len();
        rest
    }
}

/// Token bytes → streamed text, shared by every [`Generator`]: UTF-8
/// reassembly, stop strings, no empty pieces, and the time to the first text.
pub(crate) struct Emitter<'s, 'f> {
    utf8: crate::Utf8Stream,
    text: TextAssembler<'s>,
    started: std::time::Instant,
    first_text: Option<Duration>,
    on_text: &'f mut dyn FnMut(&str),
}

impl<'s, 'f> Emitter<'s, 'f> {
    pub(crate) fn new(
        stop: &'s [String],
        started: std::time::Instant,
        on_text: &'f mut dyn FnMut(&str),
    ) -> Self {
        Emitter {
            utf8: crate::Utf8Stream::default(),
            text: TextAssembler::new(stop),
            started,
            first_text: None,
            on_text,
        }
    }

    /// Adds one token's bytes; true when a stop string was reached.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> bool {
        let (out, stopped) = self.text.push(&self.utf8.push(bytes));
        self.emit(&out);
        stopped
    }

    fn emit(&mut self, piece: &str) {
        if !piece.is_empty() {
            let started = self.started;
            self.first_text.get_or_insert_with(|| started.elapsed());
            (self.on_text)(piece);
        }
    }

    /// Flushes what is held back; returns the whole text and the time to the first text.
    pub(crate) fn finish(mut self, stopped: bool) -> (String, Option<Duration>) {
        if !stopped {
            let (out, _) = self.text.push(&self.utf8.finish());
            self.emit(&out);
        }
        let (rest, full) = std::mem::replace(&mut self.text, TextAssembler::new(&[])).finish();
        self.emit(&rest);
        (full, self.first_text)
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `stop`.
fn longest_suffix_prefix(text: &str, stop: &str) -> usize {
    (1..stop.len())
        .rev()
        .find(|&n| stop.is_char_boundary(n) && text.ends_with(&stop[..n]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assemble(pieces: &[&str], stop: &[&str]) -> (Vec<String>, String, bool) {
        let stop: Vec<String> = stop.iter().map(|s| (*s).to_owned()).collect();
        let mut out = Vec::new();
        let mut asm = TextAssembler::new(&stop);
        let mut stopped = false;
        for piece in pieces {
            let (emitted, stop) = asm.push(piece);
            out.push(emitted);
            if stop {
                stopped = true;
                break;
            }
        }
        let (rest, text) = asm.finish();
        out.push(rest);
        out.retain(|s| !s.is_empty());
        (out, text, stopped)
    }

    #[test]
    fn stop_string_split_across_pieces_is_never_emitted() {
        let (out, text, stopped) = assemble(
            &["Answer: 5 mg", "\n\nQue", "stion: next"],
            &["\n\nQuestion:"],
        );
        assert!(stopped);
        assert_eq!(text, "Answer: 5 mg");
        assert_eq!(out.concat(), "Answer: 5 mg");
    }

    #[test]
    fn held_back_text_is_released_when_it_turns_out_not_to_stop() {
        let (out, text, stopped) = assemble(&["a\n", "\nb"], &["\n\nQ"]);
        assert!(!stopped);
        assert_eq!(text, "a\n\nb");
        assert_eq!(out.concat(), "a\n\nb");
    }

    #[test]
    fn without_stop_strings_pieces_pass_straight_through() {
        let (out, text, _) = assemble(&["혈", "압"], &[]);
        assert_eq!(out, vec!["혈", "압"]);
        assert_eq!(text, "혈압");
    }

    #[test]
    fn requests_are_validated() {
        let big = GenerationRequest::new(Prompt::Text("x".repeat(MAX_PROMPT_BYTES + 1)), 8);
        assert!(matches!(big.validate(), Err(Error::PromptTooLong { .. })));
        let zero = GenerationRequest::new(Prompt::Text("x".into()), 0);
        assert!(matches!(
            zero.validate(),
            Err(Error::InvalidSetting {
                setting: "max_tokens",
                ..
            })
        ));
        let mut hot = GenerationRequest::new(Prompt::Text("x".into()), 8);
        hot.sampling.temperature = f32::NAN;
        assert!(matches!(
            hot.validate(),
            Err(Error::InvalidSetting {
                setting: "temperature",
                ..
            })
        ));
    }
}
