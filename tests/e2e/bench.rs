//! The benchmarks run end to end and report sane figures (never asserted fast).

use std::path::Path;

use crate::util::{GEMMA, Sillok, TestResult, json_lines, model_lock};

const E5: &str = "multilingual-e5-small.gguf";

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
        // Hybrid queries ran against the synthetic vectors (384 by default).
        assert!(
            l["hybrid_p95_ms"].as_f64().unwrap_or(-1.0)
                >= l["hybrid_p50_ms"].as_f64().unwrap_or(0.0),
            "{l}"
        );
    }
    let v = &r["vectors"];
    assert_eq!(v["dims"], 384, "{r}");
    assert_eq!(
        v["stored"].as_u64(),
        r["chunks"].as_u64(),
        "one per chunk: {r}"
    );
    assert!(v["matrix_bytes"].as_u64().unwrap_or(0) >= 384 * 500, "{v}");
    assert!(v["store_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
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

#[test]
fn bench_encryption_compares_plaintext_and_encrypted_libraries() -> TestResult {
    let sillok = Sillok::new();
    let out = sillok.ok(&[
        "bench",
        "encryption",
        "--chunks",
        "600",
        "--queries",
        "5",
        "--rounds",
        "1",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default();
    assert!(r["chunks"].as_u64().unwrap_or(0) > 200, "{r}");
    for side in ["plain", "encrypted"] {
        let s = &r[side];
        assert!(s["ingest_s"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
        assert!(s["index_bytes"].as_u64().unwrap_or(0) > 0, "{r}");
        assert!(s["first_query_ms"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
        for pass in ["cold", "warm"] {
            let kinds: Vec<_> = s[pass]
                .as_array()
                .ok_or("no latency")?
                .iter()
                .map(|l| l["kind"].as_str().unwrap_or_default())
                .collect();
            assert_eq!(kinds, ["one-word", "multi-word", "phrase"], "{r}");
        }
    }
    // The encrypted side sealed at least the index it left behind.
    assert!(
        r["ingest_encrypted_bytes"].as_u64().unwrap_or(0)
            >= r["encrypted"]["index_bytes"].as_u64().unwrap_or(u64::MAX) / 2,
        "{r}"
    );
    // No vault was made, and the throwaway libraries are gone.
    assert!(!sillok.dir.path().join("vault.json").exists());
    assert!(!sillok.dir.path().join("tmp").read_dir()?.any(|_| true));
    Ok(())
}

#[test]
fn bench_index_without_vectors_is_bm25_only() -> TestResult {
    let sillok = Sillok::new();
    let out = sillok.ok(&[
        "bench",
        "index",
        "--chunks",
        "600",
        "--queries",
        "5",
        "--vectors",
        "0",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default();
    assert!(r["vectors"].is_null(), "{r}");
    let latency = r["latency"].as_array().ok_or("no latency")?;
    assert!(latency.iter().all(|l| l["hybrid_p50_ms"].is_null()), "{r}");
    Ok(())
}

#[test]
fn bench_embed_times_ingestion_then_embedding() -> TestResult {
    let _model = model_lock();
    let sillok = Sillok::new();
    let docs = sillok.dir.path().join("docs");
    std::fs::create_dir_all(&docs)?;
    for (name, text) in [
        ("htn.txt", "고혈압 환자에게는 ACE 억제제를 먼저 투여한다."),
        (
            "dm.txt",
            "Type 2 diabetes is managed with metformin and diet.",
        ),
    ] {
        std::fs::write(docs.join(name), text)?;
    }
    // Without an embedding model it says what to do.
    let err = sillok.fails(2, &["bench", "embed", docs.to_str().unwrap_or_default()]);
    assert!(err.contains("no embedding model"), "{err}");
    sillok.import(E5);
    let out = sillok.ok(&[
        "bench",
        "embed",
        docs.to_str().unwrap_or_default(),
        "--threads",
        "1",
        "--json",
    ]);
    let r = json_lines(&out).pop().unwrap_or_default();
    assert_eq!(
        (r["files"].as_u64(), r["chunks"].as_u64()),
        (Some(2), Some(2)),
        "{r}"
    );
    assert_eq!(r["threads"], 1, "{r}");
    assert!(r["chunks_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
    assert!(r["slowdown"].as_f64().unwrap_or(0.0) > 1.0, "{r}");
    // The user's own library is untouched, the throwaway one is gone.
    assert!(!sillok.dir.path().join("tmp").read_dir()?.any(|_| true));
    let collections = sillok.ok(&["collections", "list"]);
    assert!(!collections.contains("bench"), "{collections}");
    Ok(())
}
