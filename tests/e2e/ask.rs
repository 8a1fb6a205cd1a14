//! `sillok ask`, `chat` and `conversations` on the sample library with the
//! real default model.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{GEMMA, Sillok, TestResult, json_lines, model_lock};

const E5: &str = "multilingual-e5-small.gguf";

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library")
}

fn with_samples(model: bool) -> Sillok {
    let sillok = Sillok::new();
    sillok.ok(&[
        "ingest",
        samples().to_str().unwrap_or_default(),
        "-c",
        "samples",
    ]);
    if model {
        sillok.import(GEMMA);
    }
    sillok
}

/// The final `answer` event of `ask --json`.
fn answer_of(stdout: &str) -> serde_json::Value {
    json_lines(stdout)
        .into_iter()
        .find(|v| v["event"] == "answer")
        .map(|v| v["answer"].clone())
        .unwrap_or_default()
}

#[test]
fn answers_cite_the_sample_documents_and_unrelated_questions_are_not_found() -> TestResult {
    let _model = model_lock();
    let sillok = with_samples(true);
    let out = sillok.ok(&[
        "ask",
        "김가상 환자에게 재진 때 추가한 혈압약은?",
        "--max-tokens",
        "24",
        "--json",
    ]);
    let answer = answer_of(&out);
    assert_eq!(answer["status"], "answered", "{out}");
    assert_eq!(answer["language"], "ko");
    assert_eq!(answer["model"]["name"], "gemma-3-270m-q4_k_m");
    let sources = answer["sources"].as_array().ok_or("no sources")?;
    assert!(sources.iter().any(|s| {
        s["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("note-kim-htn-2024-03.pdf")
    }));
    // Verbatim evidence: each quote occurs in the source it names.
    let quotes = answer["quotes"].as_array().ok_or("no quotes")?;
    assert!(
        quotes.iter().any(|q| q["text"]
            .as_str()
            .unwrap_or_default()
            .contains("로사르탄 50 mg")),
        "{quotes:?}"
    );
    for q in quotes {
        let n = q["source"].as_u64().unwrap_or(0);
        let source = sources
            .iter()
            .find(|s| s["number"].as_u64() == Some(n))
            .ok_or("quote names no source")?;
        assert!(
            source["text"]
                .as_str()
                .unwrap_or_default()
                .contains(q["text"].as_str().unwrap_or("?"))
        );
    }
    // Every kept citation resolves to a source.
    for n in answer["cited"].as_array().ok_or("no cited")? {
        assert!(sources.iter().any(|s| s["number"] == *n), "{n}");
    }
    // Unsupported or uncited sentences are never marked supported.
    for s in answer["sentences"].as_array().ok_or("no sentences")? {
        if s["citations"].as_array().is_some_and(Vec::is_empty) {
            assert_ne!(s["support"], "supported", "{s}");
        }
    }

    let out = sillok.ok(&["ask", "What is the capital of Mongolia?", "--json"]);
    let answer = answer_of(&out);
    assert_eq!(answer["status"], "not-found", "{out}");
    assert!(answer["model"].is_null(), "the model is not asked");
    let receipts = &answer["receipts"];
    assert!(
        receipts["chunks_searched"].as_u64().unwrap_or(0) > 0,
        "{receipts}"
    );
    assert_eq!(receipts["queries"][0], "What is the capital of Mongolia?");
    Ok(())
}

#[test]
fn without_a_model_the_evidence_stands_alone_with_guidance() -> TestResult {
    let sillok = with_samples(false);
    let run = sillok.run(&[
        "ask",
        "김가상 환자에게 재진 때 추가한 혈압약은?",
        "--json",
        "--no-save",
    ]);
    assert!(run.status.success());
    let answer = answer_of(&String::from_utf8_lossy(&run.stdout));
    assert_eq!(answer["status"], "evidence-only");
    assert!(!answer["quotes"].as_array().is_none_or(Vec::is_empty));
    let notices = answer["notices"].to_string();
    assert!(notices.contains("sillok models import"), "{notices}");
    Ok(())
}

#[test]
fn bad_questions_get_clear_errors_or_notices() -> TestResult {
    let sillok = with_samples(false);
    let err = sillok.fails(2, &["ask", "   "]);
    assert!(err.contains("the question is empty"), "{err}");
    let err = sillok.fails(2, &["ask", "혈압", "-c", "nowhere"]);
    assert!(err.contains("no collection named nowhere"), "{err}");
    let err = sillok.fails(2, &["ask", "혈압", "--profile", "dentistry"]);
    assert!(err.contains("no profile named dentistry"), "{err}");
    // A language no document is written in.
    let answer = answer_of(&sillok.ok(&[
        "ask",
        "高血圧の目標値はいくつですか？",
        "--json",
        "--no-save",
    ]));
    assert_eq!(answer["status"], "not-found", "{answer}");
    // 105k characters (one argument may hold at most 128 KiB).
    let long = "blood pressure ".repeat(7_000);
    let answer = answer_of(&sillok.ok(&["ask", &long, "--no-model", "--json", "--no-save"]));
    assert!(
        answer["notices"].to_string().contains("shortened"),
        "{}",
        answer["notices"]
    );
    Ok(())
}

#[test]
fn conversations_keep_follow_ups_and_export_their_evidence() -> TestResult {
    let sillok = with_samples(false);
    let mut chat = sillok
        .command()
        .args(["chat", "--no-model", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = chat.stdin.take().ok_or("stdin")?;
    writeln!(stdin, "김가상 환자에게 재진 때 추가한 혈압약은?")?;
    writeln!(stdin, "그 약의 용량은?")?;
    drop(stdin);
    let out = chat.wait_with_output()?;
    assert!(out.status.success());
    let events = json_lines(&String::from_utf8_lossy(&out.stdout));
    let answers: Vec<_> = events.iter().filter(|e| e["event"] == "answer").collect();
    assert_eq!(answers.len(), 2);
    // The follow-up was searched with the previous question.
    let queries = answers[1]["answer"]["receipts"]["queries"]
        .as_array()
        .ok_or("queries")?;
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[1].as_str().unwrap_or_default().contains("김가상"));
    let id = events
        .iter()
        .find(|e| e["event"] == "conversation")
        .and_then(|e| e["id"].as_i64())
        .ok_or("no conversation id")?;

    let list = json_lines(&sillok.ok(&["conversations", "list", "--json"]))
        .pop()
        .unwrap_or_default();
    assert_eq!(list[0]["turns"], 2, "{list}");
    let markdown = sillok.ok(&[
        "conversations",
        "export",
        &id.to_string(),
        "--reason",
        "case review",
    ]);
    assert!(markdown.contains("note-kim-htn-2024-03.pdf"), "{markdown}");
    assert!(markdown.contains("그 약의 용량은?"));
    sillok.ok(&["conversations", "delete", &id.to_string()]);
    let err = sillok.fails(
        2,
        &["conversations", "export", &id.to_string(), "--reason", "x"],
    );
    assert!(!err.is_empty());

    // A damaged database is reported, never re-created over.
    let db = sillok.dir.path().join("db/conversations.sqlite");
    std::fs::write(&db, b"not a database at all, but somebody's data")?;
    let err = sillok.fails(2, &["conversations", "list"]);
    assert!(!err.is_empty());
    assert_eq!(
        std::fs::read(&db)?,
        b"not a database at all, but somebody's data"
    );
    Ok(())
}

#[test]
fn ctrl_c_stops_an_answer_within_a_second_and_marks_it_partial() -> TestResult {
    let _model = model_lock();
    let sillok = with_samples(true);
    let mut child = sillok
        .command()
        .args([
            "ask",
            "김가상 환자에게 재진 때 추가한 혈압약은?",
            "--max-tokens",
            "2000",
            "--json",
            "--no-save",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // Wait for the first answer text, then interrupt.
    loop {
        let line = lines.next().ok_or("ended before any answer text")??;
        if line.contains("\"token\"") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    assert!(status.success());
    let interrupted = Instant::now();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait()?;
    assert!(
        interrupted.elapsed() < Duration::from_secs(2),
        "{:?}",
        interrupted.elapsed()
    );
    assert_eq!(exit.code(), Some(130));
    let answer = answer_of(&rest.join("\n"));
    assert_eq!(answer["status"], "cancelled");
    assert!(answer["notices"].to_string().contains("incomplete"));
    Ok(())
}

/// A small fixed answer-evaluation set from the samples: the text and Markdown
/// documents as the corpus, the QA questions about them with their files as gold.
fn sample_answer_set(dir: &Path) -> TestResult {
    let lib = samples();
    let mut corpus = String::new();
    let mut ids = std::collections::HashSet::new();
    for folder in std::fs::read_dir(&lib)? {
        for file in std::fs::read_dir(folder?.path())? {
            let path = file?.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if ext == "txt" || ext == "md" {
                let id = path.strip_prefix(&lib)?.to_string_lossy().into_owned();
                // Legacy-encoded samples test the parsers, not answering.
                let Ok(text) = String::from_utf8(std::fs::read(&path)?) else {
                    continue;
                };
                ids.insert(id.clone());
                corpus.push_str(
                    &serde_json::json!({ "_id": id, "title": "", "text": text }).to_string(),
                );
                corpus.push('\n');
            }
        }
    }
    let (mut queries, mut qrels) = (String::new(), String::from("query-id\tcorpus-id\tscore\n"));
    for line in std::fs::read_to_string(lib.join("../qa.jsonl"))?.lines() {
        let q: serde_json::Value = serde_json::from_str(line)?;
        let file = q["file"].as_str().unwrap_or_default();
        if ids.contains(file) {
            let id = q["id"].as_str().unwrap_or_default();
            queries.push_str(&serde_json::json!({ "_id": id, "text": q["question"] }).to_string());
            queries.push('\n');
            qrels.push_str(&format!("{id}\t{file}\t1\n"));
        }
    }
    std::fs::create_dir_all(dir.join("qrels"))?;
    std::fs::write(dir.join("corpus.jsonl"), corpus)?;
    std::fs::write(dir.join("queries.jsonl"), queries)?;
    std::fs::write(dir.join("qrels/test.tsv"), qrels)?;
    Ok(())
}

#[test]
fn answer_evaluation_on_a_fixed_sample_subset() -> TestResult {
    let _model = model_lock();
    let sillok = Sillok::new();
    sillok.import(GEMMA);
    let set = tempfile::tempdir()?;
    sample_answer_set(set.path())?;
    let out = sillok.ok(&[
        "eval",
        "answers",
        set.path().to_str().unwrap_or_default(),
        "--limit",
        "8",
        "--max-tokens",
        "24",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default()["report"].clone();
    eprintln!("sample answer eval: {r}");
    assert_eq!(r["questions"], 8, "{r}");
    assert_eq!(r["model"], "gemma-3-270m-q4_k_m");
    // Every shown citation resolves; the sample questions are easy to find.
    assert_eq!(r["citation_validity"], 1.0, "{r}");
    assert!(r["gold_retrieved"].as_f64().unwrap_or(0.0) >= 0.5, "{r}");
    assert!(r["answer_rate"].as_f64().unwrap_or(0.0) >= 0.5, "{r}");
    for key in ["abstention_rate", "gold_cited", "flagged_sentence_rate"] {
        let v = r[key].as_f64().ok_or(key)?;
        assert!((0.0..=1.0).contains(&v), "{key}: {r}");
    }
    Ok(())
}

/// The semantic evidence gate with the real embedding model: a question that
/// shares no word with the documents (English over Korean notes) is answered
/// from the one it means, and a question about nothing in them is not found.
#[test]
fn a_paraphrase_passes_the_gate_by_meaning_and_an_unrelated_question_does_not() -> TestResult {
    let _model = model_lock();
    let sillok = Sillok::new();
    let docs = sillok.dir.path().join("docs");
    std::fs::create_dir_all(&docs)?;
    for (name, text) in [
        (
            "htn.txt",
            "고혈압 환자에게는 안지오텐신 전환효소 억제제를 먼저 투여한다.",
        ),
        ("dm.txt", "당뇨병 환자는 식사 요법과 운동을 병행해야 한다."),
        ("cafe.txt", "구내식당은 아침 일곱 시에 문을 연다."),
    ] {
        std::fs::write(docs.join(name), text)?;
    }
    sillok.ok(&["ingest", docs.to_str().unwrap_or_default(), "-c", "notes"]);
    sillok.import(GEMMA);
    // Questions in one language over documents in the other score lower
    // cosines (about 0.8) than the built-in threshold for paraphrases in the
    // same language (tuned on a FAQ set); this profile is tuned for them.
    std::fs::write(
        sillok.dir.path().join("profiles.json"),
        r#"[{"name": "clinical", "system_prompt": "Answer only from the sources; cite them as [1].",
             "min_similarity": {"multilingual-e5-small": {"close": 0.78, "related": 0.7}}}]"#,
    )?;
    let ask =
        |question: &str| answer_of(&sillok.ok(&["ask", question, "--max-tokens", "16", "--json"]));
    let paraphrase = "which medicine should be given first for high blood pressure";

    // Keywords alone cannot see it: no shared word, no evidence.
    let lexical = ask(paraphrase);
    assert_eq!(lexical["status"], "not-found", "{lexical}");
    assert!(
        lexical["receipts"]["best_similarity"].is_null(),
        "{lexical}"
    );

    sillok.import(E5);
    sillok.ok(&["library", "embed"]);
    let answer = ask(paraphrase);
    assert_eq!(answer["status"], "answered", "{answer}");
    let receipts = &answer["receipts"];
    assert!(
        receipts["best_coverage"].as_f64().unwrap_or(1.0)
            < receipts["threshold"].as_f64().unwrap_or(0.0),
        "admitted by meaning, not words: {receipts}"
    );
    let similarity = receipts["best_similarity"]
        .as_f64()
        .ok_or("no similarity")?;
    let threshold = receipts["similarity_threshold"]["close"]
        .as_f64()
        .ok_or("no similarity threshold")?;
    assert!(similarity >= threshold, "{receipts}");
    assert!(
        answer["sources"][0]["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("htn.txt"),
        "{answer}"
    );

    let unrelated = ask("What is the capital of Mongolia?");
    assert_eq!(unrelated["status"], "not-found", "{unrelated}");
    assert!(unrelated["model"].is_null(), "the model is not asked");
    let receipts = &unrelated["receipts"];
    let similarity = receipts["best_similarity"]
        .as_f64()
        .ok_or("no similarity")?;
    assert!(similarity < threshold, "{receipts}");
    Ok(())
}

/// In a library large enough to know what is usual, the gate weighs how far
/// the best evidence stands out from the question's cosines with every chunk
/// (the real embedding model over the sample library): a question it answers
/// stands out; one that shares the words and scores a high cosine, but about
/// a fact no note holds, does not; one about nothing in the library is not
/// found however far a chunk stands out, because its cosine stays low.
#[test]
fn in_the_sample_library_evidence_must_stand_out_from_the_rest() -> TestResult {
    let _model = model_lock();
    let sillok = with_samples(false);
    sillok.import(E5);
    sillok.ok(&["library", "embed"]);
    let ask = |question: &str| {
        answer_of(&sillok.ok(&["ask", question, "--no-model", "--no-save", "--json"]))
    };
    let number = |answer: &serde_json::Value, key: &str| {
        answer["receipts"][key]
            .as_f64()
            .ok_or_else(|| format!("no {key}: {answer}"))
    };

    let answered = ask("김가상 환자의 혈압 목표는?");
    assert_eq!(answered["status"], "evidence-only", "{answered}");
    let receipts = &answered["receipts"];
    assert!(
        receipts["similarity_spread"]["chunks"]
            .as_u64()
            .unwrap_or(0)
            >= 100,
        "large enough for standing: {receipts}"
    );
    let close = receipts["similarity_threshold"]["standing"]["close"]
        .as_f64()
        .ok_or("no standing threshold")?;
    let related = receipts["similarity_threshold"]["related"]
        .as_f64()
        .ok_or("no cosine threshold")?;
    assert!(number(&answered, "best_standing")? >= close, "{receipts}");

    // Covered and above the cosine gate's "related", yet it does not stand out.
    let unheld = ask("김가상 환자의 콜레스테롤 목표는?");
    assert_eq!(unheld["status"], "not-found", "{unheld}");
    assert!(number(&unheld, "best_coverage")? >= 0.5, "{unheld}");
    assert!(number(&unheld, "best_similarity")? >= related, "{unheld}");

    // It stands out among chunks that are all far from it, but stays far.
    let absent = ask("What is the recommended first-line antiretroviral regimen for HIV?");
    assert_eq!(absent["status"], "not-found", "{absent}");
    let floor = absent["receipts"]["similarity_threshold"]["standing"]["min_cosine"]
        .as_f64()
        .ok_or("no cosine floor")?;
    assert!(number(&absent, "best_similarity")? < floor, "{absent}");
    Ok(())
}
