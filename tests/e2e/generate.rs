//! `sillok generate`, `sillok embed` and `sillok bench` with the real models.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{GEMMA, MINILM, SMOLLM, Sillok, TestResult, json_lines, model_lock};

#[test]
fn generation_streams_json_events_from_the_default_base_model() {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(GEMMA);
    let out = s.ok(&[
        "generate",
        "The first-line treatment for hypertension is",
        "--max-tokens",
        "12",
        "--json",
        "--threads",
        "1",
    ]);
    let events = json_lines(&out);
    let (done, tokens) = events.split_last().unwrap_or_else(|| panic!("no events"));
    assert_eq!(done["event"], "done");
    assert_eq!(done["model"], "gemma-3-270m-q4_k_m");
    let generated = done["generated_tokens"].as_u64().unwrap_or(99);
    assert!((1..=12).contains(&generated), "{generated}");
    assert!(done["prompt_tokens"].as_u64().unwrap_or(0) > 5);
    assert!(matches!(
        done["stop"].as_str(),
        Some("max-tokens" | "end-of-generation")
    ));
    assert!(
        tokens
            .iter()
            .all(|e| e["event"] == "token" && e["text"].is_string())
    );
    assert!(!tokens.is_empty());
}

#[test]
fn the_chat_template_model_answers_through_its_template() {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(SMOLLM);
    let out = s.ok(&[
        "generate",
        "What is the capital of France?",
        "--max-tokens",
        "24",
        "--temperature",
        "0",
        "--json",
    ]);
    let events = json_lines(&out);
    let text: String = events.iter().filter_map(|e| e["text"].as_str()).collect();
    // Through the template, the instruct model answers instead of echoing
    // template markup as text.
    assert!(
        !text.contains("<|im_start|>") && !text.contains("<|im_end|>"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("paris"), "{text}");
}

#[test]
fn bad_settings_are_user_errors() {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(SMOLLM);
    for (args, expected) in [
        (&["--ctx", "0"][..], "context length 0 is out of range"),
        (
            &["--ctx", "10000000"][..],
            "context length 10000000 is out of range",
        ),
        (&["--threads", "0"][..], "threads = 0 is out of range"),
        (
            &["--temperature", "9"][..],
            "temperature = 9 is out of range",
        ),
        (&["--max-tokens", "0"][..], "max_tokens = 0 is out of range"),
    ] {
        let mut all = vec!["generate", "hi"];
        all.extend_from_slice(args);
        let err = s.fails(2, &all);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn prompts_with_nul_bytes_and_huge_prompts_are_handled() -> TestResult {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(SMOLLM);
    let tmp = tempfile::tempdir()?;
    let nul = tmp.path().join("nul.txt");
    std::fs::write(&nul, b"Blood\0 pressure\0 is")?;
    let out = s.ok(&[
        "generate",
        "--prompt-file",
        nul.to_str().unwrap_or_default(),
        "--max-tokens",
        "4",
        "--json",
    ]);
    assert_eq!(
        json_lines(&out).last().map(|d| d["event"].clone()),
        Some("done".into())
    );

    // Over the input cap (about a million tokens): refused before tokenising.
    let huge = tmp.path().join("huge.txt");
    std::fs::write(&huge, "word ".repeat(1_000_000))?;
    let err = s.fails(
        2,
        &[
            "generate",
            "--prompt-file",
            huge.to_str().unwrap_or_default(),
        ],
    );
    assert!(err.contains("the limit is 1048576 bytes"), "{err}");

    // Under the cap but far over the context: trimmed, and the trim reported.
    let long = tmp.path().join("long.txt");
    std::fs::write(&long, "The clinic note continues. ".repeat(3000))?;
    let out = s.ok(&[
        "generate",
        "--prompt-file",
        long.to_str().unwrap_or_default(),
        "--ctx",
        "512",
        "--max-tokens",
        "4",
        "--json",
    ]);
    let done = json_lines(&out).pop().unwrap_or_default();
    assert!(
        done["prompt_tokens_dropped"].as_u64().unwrap_or(0) > 1000,
        "{done}"
    );
    assert!(done["prompt_tokens"].as_u64().unwrap_or(999) <= 512 - 4);
    Ok(())
}

#[test]
fn ctrl_c_cancels_generation_within_a_second() -> TestResult {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(GEMMA);
    let mut child = s
        .command()
        .args([
            "generate",
            "Write a very long story about a hospital.",
            "--max-tokens",
            "100000",
            "--temperature",
            "0.8",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    // Wait until tokens are streaming.
    for _ in 0..3 {
        lines.next().ok_or("stream ended early")??;
    }
    let pid = child.id().to_string();
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()?;
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait()?;
    let took = sent.elapsed();
    assert!(took < Duration::from_secs(1), "cancel took {took:?}");
    assert_eq!(exit.code(), Some(130));
    let done = rest.last().ok_or("no done event")?;
    assert!(done.contains("\"stop\":\"cancelled\""), "{done}");
    Ok(())
}

#[test]
fn embeddings_rank_similar_sentences_above_unrelated_ones() {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(MINILM);
    let out = s.ok(&[
        "embed",
        "The patient has high blood pressure.",
        "Hypertension was diagnosed in the patient.",
        "The stock market fell sharply today.",
        "--json",
    ]);
    let value = &json_lines(&out)[0];
    assert_eq!(value["dimensions"], 384);
    let vectors: Vec<Vec<f64>> = value["vectors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| {
                    v.as_array()
                        .map(|x| x.iter().filter_map(|f| f.as_f64()).collect())
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(vectors.len(), 3);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    for v in &vectors {
        assert_eq!(v.len(), 384);
        assert!((norm(v) - 1.0).abs() < 1e-3, "normalised");
    }
    let cos = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let similar = cos(&vectors[0], &vectors[1]);
    let unrelated = cos(&vectors[0], &vectors[2]);
    assert!(
        similar > unrelated + 0.3,
        "similar {similar:.3} vs unrelated {unrelated:.3}"
    );
}

#[test]
fn bench_reports_measured_figures() {
    let _lock = model_lock();
    let s = Sillok::new();
    s.import(SMOLLM);
    let out = s.ok(&[
        "bench",
        "generate",
        "--prompt-tokens",
        "200",
        "--max-tokens",
        "8",
        "--runs",
        "1",
        "--json",
    ]);
    let r = &json_lines(&out)[0];
    assert!(r["prompt_tokens"].as_u64().unwrap_or(0) >= 150, "{r}");
    assert!(r["prefill_tokens_per_s"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(r["decode_tokens_per_s"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(r["peak_rss_bytes"].as_u64().unwrap_or(0) > 50 << 20);
}
