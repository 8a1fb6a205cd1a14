//! The real engine: one llama.cpp backend per process, chat models that stream
//! text, embedding models that return normalised vectors.
//!
//! Every load re-validates the GGUF header, checks context and memory, and
//! re-hashes the file (in parallel with llama.cpp's load); nothing is generated
//! from a file whose hash differs from the catalogue's.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;

use crate::catalogue::{ModelEntry, PromptStyle, Role, verify_file};
use crate::generate::{
    CancelToken, Emitter, GenerationReport, GenerationRequest, Generator, Prompt, Sampling,
    StopReason, Timings,
};
use crate::prompt::{self, Segment};
use crate::{Error, Result, cpu};

/// Prompt tokens evaluated per llama.cpp call; small enough that a cancel
/// between chunks takes effect well within a second on a slow CPU.
const PREFILL_CHUNK: usize = 128;

/// Default context when none is asked for (capped by the model's own).
pub const DEFAULT_CONTEXT: u32 = 4096;

/// How a model is run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineOptions {
    /// CPU threads; `None` = [`default_threads`].
    pub threads: Option<u32>,
    /// Context length; `None` = the smaller of [`DEFAULT_CONTEXT`] and the model's.
    pub n_ctx: Option<u32>,
    /// Layers offloaded to a GPU (needs a `cuda`/`vulkan` build); 0 = CPU only.
    pub n_gpu_layers: u32,
}

/// Threads to use by default: on machines with up to 4 cores one core is left
/// free, because llama.cpp at full threads next to other work slows ~10×.
pub fn default_threads() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if cores <= 4 { cores - 1 } else { cores * 3 / 4 };
    u32::try_from(threads.max(1)).unwrap_or(1)
}

fn threads_of(options: &EngineOptions) -> Result<i32> {
    let threads = options.threads.unwrap_or_else(default_threads);
    match i32::try_from(threads) {
        Ok(t @ 1..=512) => Ok(t),
        _ => Err(Error::InvalidSetting {
            setting: "threads",
            value: threads.to_string(),
            expected: "1 to 512",
        }),
    }
}

/// The process's one llama.cpp backend, initialised on first use after the CPU check.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<LlamaBackend> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    if let Some(backend) = BACKEND.get() {
        return Ok(backend);
    }
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(backend) = BACKEND.get() {
        return Ok(backend);
    }
    cpu::check_cpu_baseline()?;
    // llama.cpp's own log (file paths, tensor lists) goes to tracing at debug level.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let backend = LlamaBackend::init().map_err(|e| Error::engine("initialise its backend", e))?;
    Ok(BACKEND.get_or_init(|| backend))
}

/// Validates, sizes, loads and hash-checks a model file.
fn load_verified(
    path: &Path,
    entry: &ModelEntry,
    n_ctx: u32,
    n_gpu_layers: u32,
) -> Result<LlamaModel> {
    entry.info.check_context(n_ctx)?;
    entry.info.check_fits(&entry.name, n_ctx)?;
    // The file may have been replaced since import: llama.cpp only ever sees
    // a file whose header passed the pre-validator.
    crate::read_gguf(path)?;
    let backend = backend()?;
    std::thread::scope(|scope| {
        let hashing = scope.spawn(|| verify_file(path, entry, &mut |_, _| {}));
        let params = LlamaModelParams::default().with_n_gpu_layers(n_gpu_layers);
        let model = LlamaModel::load_from_file(backend, path, &params)
            .map_err(|e| Error::engine("load the model", e));
        let verified = hashing.join().unwrap_or_else(|_| {
            Err(Error::Engine {
                op: "hash the model file",
                source: None,
            })
        });
        verified?;
        model
    })
}

fn context_of(entry: &ModelEntry, options: &EngineOptions) -> u32 {
    options.n_ctx.unwrap_or_else(|| {
        DEFAULT_CONTEXT.min(entry.info.context_length.max(crate::info::MIN_CONTEXT))
    })
}

/// A chat model loaded into llama.cpp.
pub struct LlamaGenerator {
    model: LlamaModel,
    entry: ModelEntry,
    n_ctx: u32,
    threads: i32,
}

impl std::fmt::Debug for LlamaGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlamaGenerator")
            .field("model", &self.entry.name)
            .field("n_ctx", &self.n_ctx)
            .field("threads", &self.threads)
            .finish()
    }
}

impl LlamaGenerator {
    /// Loads a catalogued chat model from `path`.
    ///
    /// # Errors
    ///
    /// [`Error::WrongRole`], [`Error::ContextOutOfRange`], [`Error::WontFit`],
    /// [`Error::MalformedGguf`], [`Error::HashMismatch`], [`Error::UnsupportedCpu`],
    /// [`Error::InvalidSetting`], engine failures.
    pub fn load(path: &Path, entry: &ModelEntry, options: &EngineOptions) -> Result<Self> {
        if entry.role != Role::Chat {
            return Err(Error::WrongRole {
                name: entry.name.clone(),
                actual: entry.role.as_str(),
                wanted: Role::Chat.as_str(),
            });
        }
        let threads = threads_of(options)?;
        let n_ctx = context_of(entry, options);
        let model = load_verified(path, entry, n_ctx, options.n_gpu_layers)?;
        Ok(LlamaGenerator {
            model,
            entry: entry.clone(),
            n_ctx,
            threads,
        })
    }

    /// The catalogue entry this generator runs.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// Threads used for prompt and generation.
    pub fn threads(&self) -> i32 {
        self.threads
    }

    fn segments(&self, prompt: &Prompt) -> Result<Vec<Segment>> {
        match (self.entry.prompt_style, prompt) {
            (PromptStyle::ChatTemplate, Prompt::Chat(messages)) => {
                let template = self.model.chat_template(None).ok();
                match template.as_ref().map(|t| self.apply_template(t, messages)) {
                    Some(Ok(segments)) => Ok(segments),
                    // A template llama.cpp does not understand: fall back by architecture.
                    _ => {
                        let name = prompt::fallback_template(&self.entry.info.architecture);
                        let template = LlamaChatTemplate::new(name)
                            .map_err(|e| Error::engine("name a chat template", e))?;
                        self.apply_template(&template, messages)
                    }
                }
            }
            _ => Ok(prompt::render_completion(prompt)),
        }
    }

    fn apply_template(
        &self,
        template: &LlamaChatTemplate,
        messages: &[crate::Message],
    ) -> Result<Vec<Segment>> {
        prompt::render_chat(messages, |marked| {
            let chat = marked
                .iter()
                .map(|(role, content)| LlamaChatMessage::new((*role).to_owned(), content.clone()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::engine("build chat messages", e))?;
            self.model
                .apply_chat_template(template, &chat, true)
                .map_err(|e| Error::engine("apply the chat template", e))
        })
    }

    /// Prompt tokens within `budget`, BOS first when the model wants one.
    fn prompt_tokens(&self, prompt: &Prompt, budget: usize) -> Result<(Vec<LlamaToken>, usize)> {
        let vocab = self.model.vocab();
        let mut tokenised: Vec<(bool, Vec<LlamaToken>)> = Vec::new();
        if vocab.should_add_bos() {
            tokenised.push((false, vec![vocab.bos()]));
        }
        for segment in self.segments(prompt)? {
            tokenised.push(match segment {
                Segment::Frame(text) => (false, vocab.tokenize(text.as_bytes(), false, true)),
                Segment::Content(text) => (true, vocab.tokenize(text.as_bytes(), false, false)),
            });
        }
        prompt::fit(&tokenised, budget).ok_or_else(|| Error::NoRoomForPrompt {
            n_ctx: self.n_ctx,
            frame: tokenised
                .iter()
                .filter(|(c, _)| !c)
                .map(|(_, t)| t.len())
                .sum(),
            max_tokens: u32::try_from(self.n_ctx as usize - budget).unwrap_or(u32::MAX),
        })
    }

    fn new_context(&self, n_batch: usize) -> Result<LlamaContext<'_>> {
        let n_batch = u32::try_from(n_batch).unwrap_or(u32::MAX);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        self.model
            .new_context(backend()?, params)
            .map_err(|e| Error::engine("create a context", e))
    }
}

fn sampler(sampling: &Sampling, n_vocab: i32) -> LlamaSampler {
    let penalties = LlamaSampler::penalties(
        n_vocab,
        sampling.repeat_last_n,
        sampling.repeat_penalty,
        0.0,
        0.0,
    );
    if sampling.temperature <= 0.0 {
        return LlamaSampler::chain_simple([penalties, LlamaSampler::greedy()]);
    }
    LlamaSampler::chain_simple([
        penalties,
        LlamaSampler::top_k(sampling.top_k),
        LlamaSampler::top_p(sampling.top_p, 1),
        LlamaSampler::temp(sampling.temperature),
        LlamaSampler::dist(sampling.seed),
    ])
}

impl Generator for LlamaGenerator {
    fn name(&self) -> &str {
        &self.entry.name
    }

    fn sha256(&self) -> &str {
        &self.entry.sha256
    }

    fn context_length(&self) -> u32 {
        self.n_ctx
    }

    fn prompt_style(&self) -> PromptStyle {
        self.entry.prompt_style
    }

    fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self
            .model
            .vocab()
            .tokenize(prompt::sanitize(text).as_bytes(), false, false)
            .len())
    }

    fn generate(
        &self,
        request: &GenerationRequest,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<GenerationReport> {
        request.validate()?;
        let started = Instant::now();
        let n_ctx = self.n_ctx as usize;
        // Reserve room for the answer, but never more than half the window.
        let reserve = (request.max_tokens as usize).min(n_ctx / 2);
        let (tokens, dropped) = self.prompt_tokens(&request.prompt, n_ctx - reserve)?;
        let mut report = GenerationReport {
            text: String::new(),
            stop: StopReason::Cancelled,
            prompt_tokens: tokens.len(),
            prompt_tokens_dropped: dropped,
            generated_tokens: 0,
            timings: Timings::default(),
        };
        let mut ctx = self.new_context(PREFILL_CHUNK)?;
        let mut batch = LlamaBatch::new(PREFILL_CHUNK, 1);
        let last = tokens.len().saturating_sub(1);
        let mut pos: i32 = 0;
        for (chunk_index, chunk) in tokens.chunks(PREFILL_CHUNK).enumerate() {
            if cancel.is_cancelled() {
                report.timings.prefill = started.elapsed();
                return Ok(report);
            }
            batch.clear();
            for (i, token) in chunk.iter().enumerate() {
                let is_last = chunk_index * PREFILL_CHUNK + i == last;
                batch
                    .add(*token, pos, &[0], is_last)
                    .map_err(|e| Error::engine("batch the prompt", e))?;
                pos += 1;
            }
            ctx.decode(&mut batch)
                .map_err(|e| Error::engine("evaluate the prompt", e))?;
        }
        let prefill_done = Instant::now();
        report.timings.prefill = prefill_done - started;

        let vocab = self.model.vocab();
        let mut sampler = sampler(&request.sampling, self.model.n_vocab());
        let mut emitter = Emitter::new(&request.stop, started, on_text);
        report.stop = loop {
            if cancel.is_cancelled() {
                break StopReason::Cancelled;
            }
            if report.generated_tokens >= request.max_tokens as usize {
                break StopReason::MaxTokens;
            }
            if pos as usize >= n_ctx {
                break StopReason::ContextFull;
            }
            let token = sampler.sample(&ctx, batch.n_tokens() - 1);
            if vocab.is_eog(token) {
                break StopReason::EndOfGeneration;
            }
            report.generated_tokens += 1;
            if emitter.push(&vocab.token_to_piece(token, false, None)) {
                break StopReason::StopSequence;
            }
            batch.clear();
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| Error::engine("batch a token", e))?;
            pos += 1;
            ctx.decode(&mut batch)
                .map_err(|e| Error::engine("generate a token", e))?;
        };
        (report.text, report.timings.first_token) =
            emitter.finish(report.stop == StopReason::StopSequence);
        report.timings.decode = prefill_done.elapsed();
        Ok(report)
    }
}

/// An embedding model loaded into llama.cpp.
pub struct Embedder {
    model: LlamaModel,
    entry: ModelEntry,
    n_ctx: u32,
    threads: i32,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.entry.name)
            .finish()
    }
}

/// Sequences embedded together in one llama.cpp call.
const EMBED_SEQS: usize = 16;

impl Embedder {
    /// Loads a catalogued embedding model.
    ///
    /// # Errors
    ///
    /// As [`LlamaGenerator::load`], with the roles swapped.
    pub fn load(path: &Path, entry: &ModelEntry, options: &EngineOptions) -> Result<Self> {
        if entry.role != Role::Embedding {
            return Err(Error::WrongRole {
                name: entry.name.clone(),
                actual: entry.role.as_str(),
                wanted: Role::Embedding.as_str(),
            });
        }
        let threads = threads_of(options)?;
        let n_ctx = context_of(entry, options);
        let model = load_verified(path, entry, n_ctx, options.n_gpu_layers)?;
        Ok(Embedder {
            model,
            entry: entry.clone(),
            n_ctx,
            threads,
        })
    }

    /// Width of the vectors.
    pub fn dimensions(&self) -> usize {
        usize::try_from(self.model.n_embd()).unwrap_or(0)
    }

    /// The catalogue entry this embedder runs.
    pub fn entry(&self) -> &ModelEntry {
        &self.entry
    }

    /// L2-normalised embeddings, one per text, batched. Texts longer than the
    /// context are cut to its length.
    ///
    /// # Errors
    ///
    /// Engine failures.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let n_ctx = self.n_ctx as usize;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(self.n_ctx))
            .with_n_batch(self.n_ctx)
            .with_n_ubatch(self.n_ctx)
            .with_n_seq_max(EMBED_SEQS as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads)
            .with_embeddings(true)
            .with_pooling_type(LlamaPoolingType::Mean);
        let mut ctx = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| Error::engine("create an embedding context", e))?;
        let vocab = self.model.vocab();
        let tokenised: Vec<Vec<LlamaToken>> = texts
            .iter()
            .map(|t| {
                let mut tokens = vocab.tokenize(prompt::sanitize(t).as_bytes(), true, false);
                tokens.truncate(n_ctx);
                tokens
            })
            .collect();
        let mut out = Vec::with_capacity(texts.len());
        let mut batch = LlamaBatch::new(n_ctx, EMBED_SEQS as i32);
        let mut pending: Vec<&[LlamaToken]> = Vec::new();
        let mut pending_tokens = 0;
        for tokens in &tokenised {
            if !pending.is_empty()
                && (pending.len() == EMBED_SEQS || pending_tokens + tokens.len() > n_ctx)
            {
                embed_batch(&mut ctx, &mut batch, &pending, &mut out)?;
                pending.clear();
                pending_tokens = 0;
            }
            pending.push(tokens);
            pending_tokens += tokens.len();
        }
        if !pending.is_empty() {
            embed_batch(&mut ctx, &mut batch, &pending, &mut out)?;
        }
        Ok(out)
    }
}

fn embed_batch(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    seqs: &[&[LlamaToken]],
    out: &mut Vec<Vec<f32>>,
) -> Result<()> {
    ctx.clear_kv_cache();
    batch.clear();
    for (seq, tokens) in seqs.iter().enumerate() {
        let seq = i32::try_from(seq).unwrap_or(0);
        batch
            .add_sequence(tokens, seq, false)
            .map_err(|e| Error::engine("batch texts to embed", e))?;
    }
    ctx.encode(batch)
        .map_err(|e| Error::engine("embed texts", e))?;
    for seq in 0..seqs.len() {
        let seq = i32::try_from(seq).unwrap_or(0);
        let vector = ctx
            .embeddings_seq_ith(seq)
            .map_err(|e| Error::engine("read embeddings", e))?;
        out.push(normalised(vector));
    }
    Ok(())
}

fn normalised(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter().map(|x| x / norm).collect()
    } else {
        vector.to_vec()
    }
}
