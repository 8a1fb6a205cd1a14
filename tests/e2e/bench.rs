//! The benchmarks run end to end and report sane figures (never asserted fast).

use std::path::Path;

use crate::util::{GEMMA, Sillok, TestResult, json_lines, model_lock};

#[test]
fn bench_index_reports_throughput_size_and_latency_against_plain_tantivy() -> TestResult {
    let sillok = Sillok::new();
    let out = sillok.ok(&[
        "bench",
        "index",
        "--chunks",
        "1500",
        "--queries",
        "20",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default();
    assert!(r["chunks"].as_u64().unwrap_or(0) > 500, "{r}");
    assert!(r["ingest_mb_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
    assert!(r["raw_mb_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
    assert!(r["index_bytes"].as_u64().unwrap_or(0) > 0, "{r}");
    let latency = r["latency"].as_array().ok_or("no latency")?;
    assert_eq!(latency.len(), 3);
    for l in latency {
        assert_eq!(l["queries"], 20, "{l}");
        assert!(l["p95_ms"].as_f64().unwrap_or(-1.0) >= l["p50_ms"].as_f64().unwrap_or(0.0));
    }
    // The throwaway corpus and indexes are gone.
    assert!(!sillok.dir.path().join("tmp").read_dir()?.any(|_| true));
    Ok(())
}

#[test]
fn bench_ask_breaks_an_answer_into_stages() -> TestResult {
    let _model = model_lock();
    let sillok = Sillok::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library");
    sillok.ok(&[
        "ingest",
        samples.to_str().unwrap_or_default(),
        "-c",
        "samples",
    ]);
    sillok.import(GEMMA);
    let out = sillok.ok(&[
        "bench",
        "ask",
        "--question",
        "김가상 환자에게 재진 때 추가한 혈압약은?",
        "--runs",
        "1",
        "--max-tokens",
        "8",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default();
    assert_eq!(r["status"], "answered", "{r}");
    assert!(r["prompt_tokens"].as_u64().unwrap_or(0) > 50, "{r}");
    for stage in [
        "retrieval_ms",
        "prompt_build_ms",
        "prefill_ms",
        "first_token_ms",
        "bare_first_token_ms",
    ] {
        assert!(r[stage].as_f64().unwrap_or(0.0) > 0.0, "{stage}: {r}");
    }
    assert!(
        r["first_token_ms"].as_f64() >= r["prefill_ms"].as_f64(),
        "{r}"
    );
    Ok(())
}
