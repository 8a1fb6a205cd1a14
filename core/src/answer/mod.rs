//! Grounded answers: question → evidence → answer → verified citations.
//!
//! The model is only asked when the evidence gate passes; every `[n]` in
//! its answer is resolved to a source with document, page and span, and every
//! sentence is checked against the sources it cites (see [`verify`]).

mod attribute;
pub mod eval;
pub mod evidence;
pub mod gate;
pub mod prompt;
mod repetition;
pub mod terms;
pub mod verify;

use std::time::{Duration, Instant};

use serde::Serialize;
use sillok_index::SearchRequest;
use sillok_models::{CancelToken, GenerationRequest, Generator, StopReason};

pub use attribute::Attribution;
pub use evidence::{Quote, Source};

use crate::audit::events::{self as audit_events, AskTrail};
use crate::profile::{self, Profile};
use crate::{Error, Result, Sillok};

/// Search hits fetched per query before merging.
const HITS_PER_QUERY: usize = 20;
/// Near misses reported with a "not found".
const NEAR_MISSES: usize = 3;
/// Verbatim evidence sentences shown with an answer.
const QUOTES: usize = 3;

/// A question.
#[derive(Debug, Clone)]
pub struct AskRequest {
    /// The question, Korean, English or mixed.
    pub question: String,
    /// Collections to search (the profile's, else all, when empty).
    pub collections: Vec<String>,
    /// Domain profile (the default one when `None`).
    pub profile: Option<String>,
    /// Earlier turns of the conversation, oldest first: (question, answer).
    pub history: Vec<(String, String)>,
    /// Most tokens of answer.
    pub max_tokens: u32,
    /// Most sources given to the model.
    pub max_sources: usize,
    /// Overrides the profile's evidence threshold (share of question terms, 0–1).
    pub min_coverage: Option<f32>,
}

impl AskRequest {
    /// A question with default settings.
    pub fn new(question: impl Into<String>) -> Self {
        AskRequest {
            question: question.into(),
            collections: Vec::new(),
            profile: None,
            history: Vec::new(),
            max_tokens: 256,
            max_sources: 5,
            min_coverage: None,
        }
    }
}

/// How a question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnswerStatus {
    /// The model answered from the sources.
    Answered,
    /// The documents do not hold the answer; the model was not asked.
    NotFound,
    /// No model (or it failed to load): the evidence alone.
    EvidenceOnly,
    /// Cancelled; the text is partial.
    Cancelled,
}

impl AnswerStatus {
    /// Short machine name.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerStatus::Answered => "answered",
            AnswerStatus::NotFound => "not-found",
            AnswerStatus::EvidenceOnly => "evidence-only",
            AnswerStatus::Cancelled => "cancelled",
        }
    }
}

/// A source that nearly qualified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NearMiss {
    /// File path.
    pub path: String,
    /// Page.
    pub page: u32,
    /// Share of the question's terms it holds.
    pub coverage: f32,
    /// Its cosine similarity with the question (hybrid search only).
    pub similarity: Option<f32>,
    /// Its opening words.
    pub excerpt: String,
}

/// What was searched, so a "not found" can be trusted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Receipts {
    /// Queries run.
    pub queries: Vec<String>,
    /// Collections searched (empty: all).
    pub collections: Vec<String>,
    /// Chunks in the index searched.
    pub chunks_searched: u64,
    /// Distinct documents among the hits.
    pub documents_matched: usize,
    /// Best evidence coverage of the question's terms.
    pub best_coverage: f32,
    /// The profile's threshold.
    pub threshold: f32,
    /// Best cosine similarity of a source with the question; `None`
    /// without vectors (keyword search alone).
    pub best_similarity: Option<f32>,
    /// Best standing of a source's similarity above the question's cosines
    /// with every chunk of the library (see [`gate`]); `None` without vectors.
    pub best_standing: Option<f32>,
    /// How the question's cosines with every chunk are spread.
    pub similarity_spread: Option<sillok_index::SimilaritySpread>,
    /// The profile's similarity thresholds for the embedding model used;
    /// `None` when similarity did not count.
    pub similarity_threshold: Option<gate::SimilarityThresholds>,
    /// Best sources that did not qualify (for "not found").
    pub near_misses: Vec<NearMiss>,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AnswerTimings {
    /// Searching and merging.
    pub retrieval: Duration,
    /// Building and counting the prompt.
    pub prompt_build: Duration,
    /// Model prefill.
    pub prefill: Duration,
    /// From the question to the first answer text.
    pub first_token: Option<Duration>,
    /// Model decode.
    pub decode: Duration,
    /// Everything.
    pub total: Duration,
}

/// The model that answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelId {
    /// Catalogue name.
    pub name: String,
    /// SHA-256 of its file.
    pub sha256: String,
}

/// A grounded answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The question as asked (capped).
    pub question: String,
    /// `ko` or `en`: the answer's language.
    pub language: &'static str,
    /// How it ended.
    pub status: AnswerStatus,
    /// The answer shown (sanitised; empty without a model).
    pub text: String,
    /// Per-sentence support checks of `text`.
    pub sentences: Vec<verify::SentenceCheck>,
    /// The sources given to the model, numbered (for "not found": the best
    /// evidence considered, which did not qualify).
    pub sources: Vec<Source>,
    /// Source numbers the answer cites.
    pub cited: Vec<usize>,
    /// Source numbers the model itself cited (before Sillok added citations).
    pub cited_by_model: Vec<usize>,
    /// Citations Sillok added to sentences the model left uncited, where a
    /// source passed the support check.
    pub attributions: Vec<Attribution>,
    /// Verbatim evidence sentences (quote-first).
    pub quotes: Vec<Quote>,
    /// Problems found (unsupported sentences, bad citations, contradictions).
    pub flags: Vec<verify::Flag>,
    /// Notices for the user (question shortened, no model installed …).
    pub notices: Vec<String>,
    /// What was searched.
    pub receipts: Receipts,
    /// The model, when one answered.
    pub model: Option<ModelId>,
    /// Why generation stopped.
    pub stop: Option<StopReason>,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub generated_tokens: usize,
    /// Timings.
    pub timings: AnswerTimings,
}

/// What an answer in progress reports.
#[derive(Debug)]
pub enum AnswerEvent<'a> {
    /// The evidence, before the model starts.
    Evidence {
        /// Numbered sources.
        sources: &'a [Source],
        /// Verbatim evidence sentences.
        quotes: &'a [Quote],
    },
    /// A piece of answer text.
    Text(&'a str),
}

impl Sillok {
    /// Answers `request` from the library. Without `generator` the result is
    /// the evidence alone ([`AnswerStatus::EvidenceOnly`]).
    ///
    /// # Errors
    ///
    /// [`Error::EmptyQuestion`], unknown profile or collection, index or
    /// engine failures. "Not found" is a result, not an error.
    pub fn ask(
        &self,
        generator: Option<&dyn Generator>,
        request: &AskRequest,
        cancel: &CancelToken,
        on: &mut dyn FnMut(AnswerEvent<'_>),
    ) -> Result<Answer> {
        // Recorded once, before any evidence is shown (fail closed); a
        // question that fails before that is recorded as failed.
        let mut trail = AskTrail::default();
        let result = self.answer(generator, request, cancel, on, &mut trail);
        if let Err(e) = &result
            && !trail.recorded
        {
            self.record_failure(audit_events::ask(request, &trail, &[], "failed"), e);
        }
        result
    }

    fn answer(
        &self,
        generator: Option<&dyn Generator>,
        request: &AskRequest,
        cancel: &CancelToken,
        on: &mut dyn FnMut(AnswerEvent<'_>),
        trail: &mut AskTrail,
    ) -> Result<Answer> {
        let started = Instant::now();
        let _interactive = self.foreground();
        let (question, capped) = terms::cap_question(&request.question);
        if question.is_empty() {
            return Err(Error::EmptyQuestion);
        }
        let mut profile = profile::find(self.data_dir().root(), request.profile.as_deref())?;
        if let Some(threshold) = request.min_coverage {
            profile.min_coverage = threshold.clamp(0.0, 1.0);
        }
        let collections = self.collections_for(request, &profile)?;
        let language = match profile.answer_language.as_deref() {
            Some("ko") => "ko",
            Some("en") => "en",
            _ => terms::language(&question),
        };
        let mut answer = Answer {
            question: question.clone(),
            language,
            status: AnswerStatus::NotFound,
            text: String::new(),
            sentences: Vec::new(),
            sources: Vec::new(),
            cited: Vec::new(),
            cited_by_model: Vec::new(),
            attributions: Vec::new(),
            quotes: Vec::new(),
            flags: Vec::new(),
            notices: Vec::new(),
            receipts: Receipts {
                collections: collections.clone(),
                threshold: profile.min_coverage,
                ..Receipts::default()
            },
            model: None,
            stop: None,
            prompt_tokens: 0,
            generated_tokens: 0,
            timings: AnswerTimings::default(),
        };
        if capped {
            answer.notices.push(format!(
                "the question was shortened to its first {} characters",
                terms::MAX_QUESTION_CHARS
            ));
        }

        // Retrieval: the question, and for a follow-up the question read with the previous one.
        let mut queries = vec![question.clone()];
        if let Some((previous, _)) = request.history.last()
            && terms::is_follow_up(&question)
        {
            queries.push(format!("{previous} {question}"));
        }
        // A follow-up's terms include the previous question's.
        let asked = queries.last().cloned().unwrap_or_else(|| question.clone());
        let library = self.library()?;
        let pending = library.pending_files()?;
        if pending > 0 {
            answer.notices.push(format!(
                "{pending} files await indexing and were not searched: run `sillok ingest` or keep `sillok watch` running"
            ));
        }
        let mut hits = Vec::new();
        for query in &queries {
            let results = library.search(&self.with_dense_query(&SearchRequest {
                query: query.clone(),
                collections: collections.clone(),
                limit: HITS_PER_QUERY,
                ..SearchRequest::default()
            })?)?;
            answer.receipts.chunks_searched = results.chunks_searched;
            // The question's own spread (the first query) is the one reported.
            answer.receipts.similarity_spread = answer
                .receipts
                .similarity_spread
                .or(results.similarity_spread);
            hits.extend(results.hits);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        trail.hits(&hits);
        answer.receipts.queries = queries;
        answer.receipts.documents_matched = hits
            .iter()
            .map(|h| h.doc_key.as_str())
            .collect::<std::collections::HashSet<_>>()
            .len();
        let mut sources = evidence::merge_hits(&hits, request.max_sources.max(1));
        let texts: Vec<&str> = sources.iter().map(|s| s.text.as_str()).collect();
        let coverage = library.coverage(&asked, &texts)?;
        for (source, c) in sources.iter_mut().zip(coverage) {
            source.coverage = c;
        }
        answer.receipts.best_coverage = sources.iter().map(|s| s.coverage).fold(0.0, f32::max);
        answer.receipts.best_similarity =
            sources.iter().filter_map(|s| s.similarity).reduce(f32::max);
        answer.receipts.best_standing = sources.iter().filter_map(|s| s.standing).reduce(f32::max);
        if answer.receipts.best_similarity.is_some() {
            answer.receipts.similarity_threshold = self
                .active_embedding_model()?
                .and_then(|m| profile.min_similarity.get(&m.name).copied());
        }
        answer.timings.retrieval = started.elapsed();

        // The gate: weak evidence never reaches the model.
        let thresholds = gate::Thresholds {
            min_coverage: profile.min_coverage,
            similarity: answer.receipts.similarity_threshold,
        };
        let best = gate::BestEvidence {
            coverage: answer.receipts.best_coverage,
            similarity: answer.receipts.best_similarity,
            standing: answer.receipts.best_standing.zip(
                answer
                    .receipts
                    .similarity_spread
                    .map(|spread| spread.chunks),
            ),
        };
        if sources.is_empty() || !gate::admits(thresholds, best) {
            answer.receipts.near_misses = sources
                .iter()
                .take(NEAR_MISSES)
                .map(|s| NearMiss {
                    path: s.path.clone(),
                    page: s.page,
                    coverage: s.coverage,
                    similarity: s.similarity,
                    excerpt: s.text.chars().take(160).collect(),
                })
                .collect();
            let shown = &sources[..sources.len().min(NEAR_MISSES)];
            self.record(audit_events::ask(request, trail, shown, "not-found"))?;
            trail.recorded = true;
            // Kept for the record (conversations, evaluation); not given to a model.
            answer.sources = sources;
            answer.timings.total = started.elapsed();
            return Ok(answer);
        }
        // The prompt first: the sources shown are the ones the model is given.
        let mut built = None;
        if let Some(generator) = generator {
            let prompt_started = Instant::now();
            let prompt = prompt::build(
                generator,
                &profile,
                &question,
                language,
                &sources,
                request.max_tokens,
            )?;
            answer.timings.prompt_build = prompt_started.elapsed();
            if prompt.sources_used == 0 {
                answer.notices.push(
                    "the model's context is too small for any source; showing the evidence only"
                        .to_owned(),
                );
            } else {
                sources.truncate(prompt.sources_used);
                built = Some(prompt);
            }
        }
        answer.quotes =
            evidence::quotes(&sources, QUOTES, |texts| library.coverage(&asked, texts))?;
        self.record(audit_events::ask(request, trail, &sources, "evidence"))?;
        trail.recorded = true;
        on(AnswerEvent::Evidence {
            sources: &sources,
            quotes: &answer.quotes,
        });
        let (Some(generator), Some(built)) = (generator, built) else {
            answer.status = AnswerStatus::EvidenceOnly;
            answer.cited = unique(answer.quotes.iter().map(|q| q.source));
            answer.sources = sources;
            answer.timings.total = started.elapsed();
            return Ok(answer);
        };
        answer.sources = sources;
        let mut generation = GenerationRequest::new(built.prompt, request.max_tokens);
        generation.sampling.temperature = 0.0;
        generation.sampling.repeat_penalty = 1.15;
        generation.stop = built.stop;
        let before_generation = started.elapsed();
        let (report, looped) = generate_guarded(generator, &generation, cancel, on)?;
        answer.model = Some(ModelId {
            name: generator.name().to_owned(),
            sha256: generator.sha256().to_owned(),
        });
        if looped {
            answer
                .notices
                .push("the model repeated itself; the answer was stopped there".to_owned());
        }
        answer.status = if report.stop == StopReason::Cancelled && !looped {
            AnswerStatus::Cancelled
        } else {
            AnswerStatus::Answered
        };
        answer.stop = Some(report.stop);
        answer.prompt_tokens = report.prompt_tokens;
        answer.generated_tokens = report.generated_tokens;
        answer.timings.prefill = report.timings.prefill;
        answer.timings.decode = report.timings.decode;
        answer.timings.first_token = report.timings.first_token.map(|t| before_generation + t);

        let checked_sources: Vec<verify::Source<'_>> = answer
            .sources
            .iter()
            .map(|s| verify::Source {
                number: s.number,
                text: &s.text,
            })
            .collect();
        // Verification also flags contradictions between the cited sources.
        let mut verification = verify::verify(&report.text, &checked_sources);
        answer.cited_by_model = verification.cited.clone();
        if let Some((repaired, added)) = attribute::attribute(&verification, &checked_sources) {
            answer.notices.push(format!(
                "Sillok cited {} sentences the model left uncited, where a source supports them",
                added.len()
            ));
            verification = repaired;
            answer.attributions = added;
        }
        answer.text = verification.answer;
        answer.sentences = verification.sentences;
        answer.cited = verification.cited;
        answer.flags = verification.flags;
        if answer.status == AnswerStatus::Cancelled {
            answer
                .notices
                .push("cancelled: the answer is incomplete".to_owned());
        }
        answer.timings.total = started.elapsed();
        Ok(answer)
    }

    /// The collections a question searches: the request's, else the
    /// profile's, else all (empty). Unknown names are an error.
    fn collections_for(&self, request: &AskRequest, profile: &Profile) -> Result<Vec<String>> {
        let wanted = if request.collections.is_empty() {
            &profile.collections
        } else {
            &request.collections
        };
        let known = self.library()?.collections()?;
        for name in wanted {
            if !known.iter().any(|c| &c.name == name) {
                return Err(Error::UnknownCollection(name.clone()));
            }
        }
        Ok(wanted.clone())
    }
}

/// Generates with the caller's cancellation and a repetition stop; returns the
/// report and whether the model looped.
fn generate_guarded(
    generator: &dyn Generator,
    request: &GenerationRequest,
    cancel: &CancelToken,
    on: &mut dyn FnMut(AnswerEvent<'_>),
) -> Result<(sillok_models::GenerationReport, bool)> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = CancelToken::default();
    let done = AtomicBool::new(false);
    let mut guard = repetition::RepetitionGuard::default();
    let mut looped = false;
    let report = std::thread::scope(|scope| {
        // The caller's cancel reaches the engine even during prefill.
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                if cancel.is_cancelled() {
                    stop.cancel();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let report = generator.generate(request, &stop, &mut |piece| {
            on(AnswerEvent::Text(piece));
            if !looped && guard.push(piece) {
                looped = true;
                stop.cancel();
            }
        });
        done.store(true, Ordering::Relaxed);
        report
    })?;
    Ok((report, looped))
}

fn unique(numbers: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut out = Vec::new();
    for n in numbers {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {

    use sillok_models::ScriptedGenerator;

    use super::*;
    use crate::DataDir;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A data directory with the real chunking tokenizer and a one-note library.
    fn sillok_with_note(
        dir: &std::path::Path,
    ) -> std::result::Result<Sillok, Box<dyn std::error::Error>> {
        let sillok = Sillok::open(DataDir::at(dir.join("data")))?;
        crate::library::install_test_tokenizer(&sillok)?;
        let docs = dir.join("docs");
        std::fs::create_dir_all(&docs)?;
        std::fs::write(
            docs.join("note.txt"),
            "Follow-up visit. Losartan 50 mg once daily was added; amlodipine 5 mg continued.",
        )?;
        sillok.ingest("notes", &[docs], &mut |_| {})?;
        Ok(sillok)
    }

    #[test]
    fn a_looping_model_is_stopped_and_its_bad_markers_are_removed() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = sillok_with_note(dir.path())?;
        let model = ScriptedGenerator::new(
            "scripted",
            "Losartan 50 mg once daily was added [1]. See [99]. ",
        )
        .with_context(8192);
        let mut request = AskRequest::new("Which dose of losartan was added?");
        request.max_tokens = 4000;
        request.min_coverage = Some(0.0);
        let mut streamed = String::new();
        let answer = sillok.ask(Some(&model), &request, &CancelToken::default(), &mut |e| {
            if let AnswerEvent::Text(t) = e {
                streamed.push_str(t);
            }
        })?;
        assert_eq!(answer.status, AnswerStatus::Answered);
        assert!(
            answer.notices.iter().any(|n| n.contains("repeated itself")),
            "{:?}",
            answer.notices
        );
        assert!(
            streamed.len() < 400,
            "stopped early: {} bytes",
            streamed.len()
        );
        assert!(!answer.text.contains("[99]"));
        assert!(
            answer
                .flags
                .iter()
                .any(|f| matches!(f, verify::Flag::UnknownSource { .. }))
        );
        assert_eq!(answer.cited, [1]);
        assert_eq!(answer.sentences[0].support, verify::Support::Supported);
        Ok(())
    }

    #[test]
    fn a_cancel_during_prefill_stops_the_answer() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = sillok_with_note(dir.path())?;
        let model = ScriptedGenerator::new("scripted", "Losartan [1]. ")
            .with_context(8192)
            .with_delay(Duration::from_millis(50));
        let cancel = CancelToken::default();
        cancel.cancel();
        let started = Instant::now();
        let mut request = AskRequest::new("losartan dose");
        request.min_coverage = Some(0.0);
        let answer = sillok.ask(Some(&model), &request, &cancel, &mut |_| {})?;
        assert_eq!(answer.status, AnswerStatus::Cancelled);
        assert!(started.elapsed() < Duration::from_secs(1));
        Ok(())
    }
}
