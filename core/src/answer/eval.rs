//! `sillok eval answers`: grounded answering measured on a BEIR-layout set.
//!
//! The corpus goes into a throwaway library as three collections: all of it,
//! and two that each lack the gold passages of half the questions. Every
//! question is asked against `all` (answerable) and against the collection
//! that lacks its passages (unanswerable: the right result is "not found").
//!
//! With an embedding model active, the throwaway library is embedded too
//! (vectors from the evaluation cache where it has them), so the evidence
//! gate weighs meaning as it does for the user's library. Thresholds are
//! tuned on one half of the questions ([`Split::Dev`]) and reported on the
//! other ([`Split::Test`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use sillok_index::{IngestSettings, TokenCounter};
use sillok_models::{CancelToken, Generator};

use super::verify::{Flag, Support};
use super::{AnswerStatus, AskRequest};
use crate::{DataDir, Error, Result, Sillok};

/// Which half of the judged questions (in file order) to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// The even-numbered ones (0, 2, 4 …): for tuning thresholds.
    Dev,
    /// The odd-numbered ones: held out, for reporting.
    Test,
}

impl Split {
    fn holds(self, position: usize) -> bool {
        match self {
            Split::Dev => position.is_multiple_of(2),
            Split::Test => !position.is_multiple_of(2),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct AnswerEvalConfig {
    /// At most this many questions (those with judgements, in file order,
    /// after the split).
    pub limit: Option<usize>,
    /// Most tokens per answer.
    pub max_tokens: u32,
    /// Domain profile.
    pub profile: Option<String>,
    /// Only this half of the questions (all when `None`).
    pub split: Option<Split>,
    /// Keywords alone: no vectors even when an embedding model is active.
    pub lexical_only: bool,
    /// What an unanswerable question's collection lacks.
    pub withhold: Withhold,
}

/// What the collection an unanswerable question is asked against lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Withhold {
    /// Its gold passages alone. In a FAQ, sibling sections of the same
    /// chapter often answer the question too, so part of these
    /// "unanswerable" questions are answerable after all.
    Passages,
    /// Every passage from the files its gold passages come from (the
    /// corpus's `file` field; a passage without one is its own file): the
    /// topic is gone, not just the one section.
    #[default]
    Files,
}

/// The figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AnswerEvalReport {
    /// Model used (none: evidence only).
    pub model: Option<String>,
    /// Embedding model whose vectors the search and the gate used.
    pub embedding_model: Option<String>,
    /// The half of the questions asked.
    pub split: Option<Split>,
    /// What the unanswerable asks' collections lacked.
    pub withheld: Withhold,
    /// Questions asked (each twice).
    pub questions: usize,
    /// Answerable questions answered (not "not found").
    pub answer_rate: f64,
    /// Answerable questions whose gold passage was among the sources.
    pub gold_retrieved: f64,
    /// Answerable questions whose gold passage the model's answer cites.
    pub gold_cited_by_model: f64,
    /// … or the answer or its verbatim evidence quotes cite.
    pub gold_cited: f64,
    /// Unanswerable questions answered "not found".
    pub abstention_rate: f64,
    /// Citations in the shown answers that resolve to a source span (after sanitising).
    pub citation_validity: f64,
    /// Markers the model wrote that pointed nowhere (removed and flagged), per answer.
    pub invalid_markers_per_answer: f64,
    /// Answer sentences not supported by their citations (flagged).
    pub flagged_sentence_rate: f64,
    /// Mean seconds per answerable question.
    pub mean_answer_seconds: f64,
    /// Each question's two asks, for tuning the gate and finding why a gold
    /// passage was not cited.
    pub outcomes: Vec<QuestionOutcome>,
}

/// One question's results.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionOutcome {
    /// The question's id in the set.
    pub id: String,
    /// Asked of the whole corpus.
    pub answerable: AskOutcome,
    /// Asked of the half that lacks its gold passages.
    pub unanswerable: AskOutcome,
    /// Numbers of the answerable ask's sources that are gold passages.
    pub gold_sources: Vec<usize>,
    /// Source numbers the answer cites (after Sillok's attribution).
    pub cited: Vec<usize>,
    /// Source numbers the model itself cited.
    pub cited_by_model: Vec<usize>,
    /// Source numbers of the verbatim quotes shown.
    pub quoted: Vec<usize>,
}

/// What the evidence gate saw for one ask.
#[derive(Debug, Clone, Serialize)]
pub struct AskOutcome {
    /// How it ended.
    pub status: AnswerStatus,
    /// Best lexical coverage among the sources.
    pub best_coverage: f32,
    /// Best cosine similarity among the sources.
    pub best_similarity: Option<f32>,
    /// Best standing among the sources (see [`super::gate`]).
    pub best_standing: Option<f32>,
}

impl AskOutcome {
    fn of(answer: &super::Answer) -> AskOutcome {
        AskOutcome {
            status: answer.status,
            best_coverage: answer.receipts.best_coverage,
            best_similarity: answer.receipts.best_similarity,
            best_standing: answer.receipts.best_standing,
        }
    }
}

struct Question {
    id: String,
    text: String,
    gold: HashSet<String>,
    /// Which collection lacks its passages: `minus-a` (0) or `minus-b` (1).
    half: usize,
}

/// One passage of the corpus.
struct Passage {
    id: String,
    body: String,
    /// What is withheld with it: its file, or itself.
    group: String,
}

/// Runs the evaluation in `<data>/tmp/`, removed afterwards.
///
/// # Errors
///
/// Unreadable set, missing tokenizer, index or engine failures.
pub fn eval_answers(
    sillok: &Sillok,
    set_dir: &Path,
    generator: Option<&dyn Generator>,
    config: &AnswerEvalConfig,
) -> Result<AnswerEvalReport> {
    let counter = TokenCounter::from_file(&sillok.chunk_tokenizer_path()?)?;
    let embedding = if config.lexical_only || !sillok.settings()?.hybrid_search.unwrap_or(true) {
        None
    } else {
        sillok.active_embedding_model()?
    };
    sillok.in_scratch_dir("eval-answers", |work| {
        let scratch = build_library(sillok, work, set_dir, counter, config, embedding.as_ref())?;
        let mut report = ask_all(&scratch, generator, config)?;
        report.embedding_model = embedding.map(|e| e.name);
        Ok(report)
    })
}

/// The throwaway library with the set's corpus, and the questions to ask.
struct Scratch {
    sillok: Sillok,
    questions: Vec<Question>,
    stem_to_id: HashMap<String, String>,
}

fn bad_set(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::EvalSet {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn read_lines(path: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| bad_set(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| bad_set(path, e)))
        .collect()
}

fn file_stem_for(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn build_library(
    user: &Sillok,
    work: &Path,
    set_dir: &Path,
    counter: TokenCounter,
    config: &AnswerEvalConfig,
    embedding: Option<&sillok_models::ModelEntry>,
) -> Result<Scratch> {
    // Questions with judgements.
    let qrels_path = set_dir.join("qrels/test.tsv");
    let qrels_text = std::fs::read_to_string(&qrels_path).map_err(|e| bad_set(&qrels_path, e))?;
    let mut gold: HashMap<String, HashSet<String>> = HashMap::new();
    for line in qrels_text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if let [q, d, score, ..] = cols.as_slice()
            && score.trim().parse::<f64>().unwrap_or(0.0) > 0.0
        {
            gold.entry((*q).to_owned())
                .or_default()
                .insert((*d).to_owned());
        }
    }
    let mut questions = Vec::new();
    let mut judged = 0;
    for q in read_lines(&set_dir.join("queries.jsonl"))? {
        let id = q["_id"].as_str().unwrap_or_default();
        if let Some(g) = gold.get(id) {
            judged += 1;
            if config.split.is_some_and(|s| !s.holds(judged - 1)) {
                continue;
            }
            questions.push(Question {
                id: id.to_owned(),
                text: q["text"].as_str().unwrap_or_default().to_owned(),
                gold: g.clone(),
                half: 0,
            });
        }
        if config.limit.is_some_and(|n| questions.len() >= n) {
            break;
        }
    }
    let passages: Vec<Passage> = read_lines(&set_dir.join("corpus.jsonl"))?
        .iter()
        .map(|doc| {
            let id = doc["_id"].as_str().unwrap_or_default().to_owned();
            let group = match (config.withhold, doc["file"].as_str()) {
                (Withhold::Files, Some(file)) => format!("file:{file}"),
                _ => format!("passage:{id}"),
            };
            let body = format!(
                "{}\n\n{}",
                doc["title"].as_str().unwrap_or_default(),
                doc["text"].as_str().unwrap_or_default()
            );
            Passage { id, body, group }
        })
        .collect();
    let lacking = withhold(&mut questions, &passages);

    // The corpus as files in three collections.
    let mut stem_to_id = HashMap::new();
    let folders = ["all", "minus-a", "minus-b"].map(|c| work.join("docs").join(c));
    for folder in &folders {
        std::fs::create_dir_all(folder).map_err(|e| bad_set(folder, e))?;
    }
    for passage in &passages {
        let stem = file_stem_for(&passage.id);
        for (i, folder) in folders.iter().enumerate() {
            if i > 0 && lacking[i - 1].contains(&passage.group) {
                continue;
            }
            let path = folder.join(format!("{stem}.txt"));
            std::fs::write(&path, &passage.body).map_err(|e| bad_set(&path, e))?;
        }
        stem_to_id.insert(stem, passage.id.clone());
    }
    let data = DataDir::at(work.join("data"));
    let mut sillok = crate::stores::open_scratch(data)?;
    // The user's own profiles apply to the throwaway library too.
    let profiles = user.data_dir().root().join(crate::profile::PROFILES_FILE);
    if profiles.is_file() {
        let to = sillok.data_dir().root().join(crate::profile::PROFILES_FILE);
        std::fs::copy(&profiles, &to).map_err(|e| bad_set(&profiles, e))?;
    }
    {
        let library = sillok.library()?;
        let mut writer = library.writer(counter, IngestSettings::default())?;
        for (name, folder) in ["all", "minus-a", "minus-b"].iter().zip(&folders) {
            writer.ingest(name, std::slice::from_ref(folder), &mut |_| {})?;
        }
    }
    if let Some(entry) = embedding {
        // The throwaway catalogue gets its own copy of the model; vectors
        // come from the user's evaluation cache where it has them.
        sillok.import_model(
            &user.catalogue().path_of(entry),
            Some(&entry.name),
            &mut |_, _| {},
        )?;
        let mut cache = user.eval_vector_cache_if_open();
        let library = sillok.library()?;
        sillok.embed_chunks(
            &library,
            entry,
            cache.as_mut(),
            &CancelToken::default(),
            &mut |_| {},
        )?;
    }
    Ok(Scratch {
        sillok,
        questions,
        stem_to_id,
    })
}

/// Splits the questions' groups (the files or passages withheld with their
/// gold passages) into two halves, alternating in order of first use, and
/// sets each question's half; returns the groups each half's collection
/// lacks. A question whose gold passages span both halves counts in the
/// half of its first one, and all its groups are withheld there.
fn withhold(questions: &mut [Question], passages: &[Passage]) -> [HashSet<String>; 2] {
    let group_of: HashMap<&str, &str> = passages
        .iter()
        .map(|p| (p.id.as_str(), p.group.as_str()))
        .collect();
    let mut halves: HashMap<String, usize> = HashMap::new();
    let mut lacking: [HashSet<String>; 2] = [HashSet::new(), HashSet::new()];
    for question in questions {
        let mut gold: Vec<&String> = question.gold.iter().collect();
        gold.sort();
        let groups: Vec<String> = gold
            .iter()
            .map(|id| {
                group_of
                    .get(id.as_str())
                    .map_or_else(|| format!("passage:{id}"), |g| (*g).to_owned())
            })
            .collect();
        let Some(first) = groups.first() else {
            continue;
        };
        let next = halves.len() % 2;
        let half = *halves.entry(first.clone()).or_insert(next);
        question.half = half;
        lacking[half].extend(groups);
    }
    lacking
}

/// Asks every question twice and sums up.
fn ask_all(
    scratch: &Scratch,
    generator: Option<&dyn Generator>,
    config: &AnswerEvalConfig,
) -> Result<AnswerEvalReport> {
    let Scratch {
        sillok,
        questions,
        stem_to_id,
    } = scratch;
    let doc_id = |path: &str| -> Option<String> {
        let stem = Path::new(path).file_stem()?.to_str()?;
        stem_to_id.get(stem).cloned()
    };

    let mut report = AnswerEvalReport {
        model: generator.map(|g| g.name().to_owned()),
        split: config.split,
        withheld: config.withhold,
        questions: questions.len(),
        ..AnswerEvalReport::default()
    };
    let (mut answered, mut retrieved, mut cited_model, mut cited_any, mut abstained) =
        (0, 0, 0, 0, 0);
    let (mut markers_invalid, mut sentences, mut flagged) = (0usize, 0usize, 0usize);
    let (mut citations, mut valid_citations) = (0usize, 0usize);
    let mut answer_time = Duration::ZERO;
    let cancel = CancelToken::default();
    for q in questions {
        let mut request = AskRequest::new(q.text.clone());
        request.max_tokens = config.max_tokens;
        request.profile = config.profile.clone();
        request.collections = vec!["all".to_owned()];
        let started = Instant::now();
        let answer = sillok.ask(generator, &request, &cancel, &mut |_| {})?;
        answer_time += started.elapsed();
        let is_gold = |number: &usize| {
            answer
                .sources
                .iter()
                .find(|s| s.number == *number)
                .and_then(|s| doc_id(&s.path))
                .is_some_and(|id| q.gold.contains(&id))
        };
        if answer.status != AnswerStatus::NotFound {
            answered += 1;
        }
        if answer
            .sources
            .iter()
            .filter_map(|s| doc_id(&s.path))
            .any(|id| q.gold.contains(&id))
        {
            retrieved += 1;
        }
        if answer.cited_by_model.iter().any(is_gold) {
            cited_model += 1;
        }
        if answer
            .cited
            .iter()
            .chain(answer.quotes.iter().map(|x| &x.source))
            .any(is_gold)
        {
            cited_any += 1;
        }
        // A citation is valid when it names a source with a real span, and a
        // quote when it occurs verbatim in the source it names.
        for number in &answer.cited {
            citations += 1;
            if answer
                .sources
                .iter()
                .any(|s| s.number == *number && !s.span.is_empty() && !s.text.is_empty())
            {
                valid_citations += 1;
            }
        }
        for quote in &answer.quotes {
            citations += 1;
            if answer
                .sources
                .iter()
                .any(|s| s.number == quote.source && s.text.contains(&quote.text))
            {
                valid_citations += 1;
            }
        }
        markers_invalid += answer
            .flags
            .iter()
            .filter(|f| matches!(f, Flag::UnknownSource { .. } | Flag::MalformedMarker { .. }))
            .count();
        sentences += answer.sentences.len();
        flagged += answer
            .sentences
            .iter()
            .filter(|s| matches!(s.support, Support::Unsupported | Support::Uncited))
            .count();

        request.collections = vec![["minus-a", "minus-b"][q.half].to_owned()];
        let without = sillok.ask(generator, &request, &cancel, &mut |_| {})?;
        if without.status == AnswerStatus::NotFound {
            abstained += 1;
        }
        report.outcomes.push(QuestionOutcome {
            id: q.id.clone(),
            answerable: AskOutcome::of(&answer),
            unanswerable: AskOutcome::of(&without),
            gold_sources: answer
                .sources
                .iter()
                .map(|s| s.number)
                .filter(|n| is_gold(n))
                .collect(),
            cited: answer.cited.clone(),
            cited_by_model: answer.cited_by_model.clone(),
            quoted: answer.quotes.iter().map(|x| x.source).collect(),
        });
    }
    let n = questions.len().max(1) as f64;
    report.answer_rate = f64::from(answered) / n;
    report.gold_retrieved = f64::from(retrieved) / n;
    report.gold_cited_by_model = f64::from(cited_model) / n;
    report.gold_cited = f64::from(cited_any) / n;
    report.abstention_rate = f64::from(abstained) / n;
    report.citation_validity = if citations == 0 {
        1.0
    } else {
        valid_citations as f64 / citations as f64
    };
    report.invalid_markers_per_answer = markers_invalid as f64 / n;
    report.flagged_sentence_rate = if sentences == 0 {
        0.0
    } else {
        flagged as f64 / sentences as f64
    };
    report.mean_answer_seconds = answer_time.as_secs_f64() / n;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(id: &str, group: &str) -> Passage {
        Passage {
            id: id.into(),
            body: String::new(),
            group: group.into(),
        }
    }

    fn question(id: &str, gold: &[&str]) -> Question {
        Question {
            id: id.into(),
            text: String::new(),
            gold: gold.iter().map(|g| (*g).to_owned()).collect(),
            half: 9,
        }
    }

    #[test]
    fn a_question_is_unanswerable_against_the_half_that_lacks_its_whole_file() {
        let passages = [
            passage("a1", "file:a"),
            passage("a2", "file:a"),
            passage("b1", "file:b"),
            passage("c1", "file:c"),
        ];
        let mut questions = [
            question("qa1", &["a1"]),
            question("qb1", &["b1"]),
            question("qa2", &["a2"]),
            question("qc1", &["c1"]),
        ];
        let lacking = withhold(&mut questions, &passages);
        let halves: Vec<usize> = questions.iter().map(|q| q.half).collect();
        // Files alternate in order of first use; siblings share their file's half.
        assert_eq!(halves, [0, 1, 0, 0]);
        assert_eq!(
            lacking[0],
            HashSet::from(["file:a".to_owned(), "file:c".to_owned()])
        );
        assert_eq!(lacking[1], HashSet::from(["file:b".to_owned()]));
    }

    #[test]
    fn withholding_passages_alone_keeps_their_siblings() {
        let passages = [passage("a1", "passage:a1"), passage("a2", "passage:a2")];
        let mut questions = [question("q1", &["a1"]), question("q2", &["a2"])];
        let lacking = withhold(&mut questions, &passages);
        assert_eq!(questions.map(|q| q.half), [0, 1]);
        assert!(lacking[0].contains("passage:a1") && !lacking[0].contains("passage:a2"));
    }
}
