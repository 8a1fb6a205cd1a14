//! Hybrid retrieval with the real multilingual embedding model: an English
//! question finds a Korean document that shares none of its words.

use crate::util::{Sillok, json_lines, model_lock};

const E5: &str = "multilingual-e5-small.gguf";

fn top_hit(sillok: &Sillok, query: &str) -> Option<serde_json::Value> {
    let out = sillok.ok(&["search", query, "--json", "-k", "3"]);
    let results = json_lines(&out).into_iter().next()?;
    results["hits"].as_array()?.first().cloned()
}

#[test]
fn an_english_question_finds_a_korean_document_by_meaning() {
    let _model = model_lock();
    let sillok = Sillok::new();
    let docs = sillok.dir.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for (name, text) in [
        (
            "htn.txt",
            "고혈압 환자에게는 안지오텐신 전환효소 억제제를 먼저 투여한다.",
        ),
        ("dm.txt", "당뇨병 환자는 식사 요법과 운동을 병행해야 한다."),
        ("cafe.txt", "구내식당은 아침 일곱 시에 문을 연다."),
    ] {
        std::fs::write(docs.join(name), text).unwrap_or_else(|e| panic!("write: {e}"));
    }
    sillok.ok(&[
        "ingest",
        docs.to_str().unwrap_or_default(),
        "--collection",
        "c",
    ]);
    let question = "which medicine should be given first for high blood pressure";
    // Keywords alone: no shared word, no hit (and no embedding model yet).
    assert!(top_hit(&sillok, question).is_none());

    sillok.import(E5);
    let embedded = json_lines(&sillok.ok(&["library", "embed", "--json"]));
    assert_eq!(embedded[0]["embedded"], 3, "{embedded:?}");
    let hit = top_hit(&sillok, question).unwrap_or_else(|| panic!("no hit by meaning"));
    assert!(
        hit["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("htn.txt"),
        "{hit}"
    );
    assert_eq!(hit["dense_rank"], 1, "{hit}");
    assert!(hit["lexical_rank"].is_null(), "{hit}");

    // A second run has nothing left to embed; a changed file is embedded anew.
    let again = json_lines(&sillok.ok(&["library", "embed", "--json"]));
    assert_eq!(
        (again[0]["embedded"].as_u64(), again[0]["already"].as_u64()),
        (Some(0), Some(3))
    );
    std::fs::write(docs.join("cafe.txt"), "구내식당은 저녁 여섯 시에 닫는다.")
        .unwrap_or_else(|e| panic!("write: {e}"));
    sillok.ok(&[
        "ingest",
        docs.to_str().unwrap_or_default(),
        "--collection",
        "c",
    ]);
    let changed = json_lines(&sillok.ok(&["library", "embed", "--json"]));
    assert_eq!(changed[0]["embedded"], 1, "{changed:?}");

    // An exact phrase stays keyword-only.
    let phrase = json_lines(&sillok.ok(&["search", "\"식사 요법\"", "--json"]));
    let hits = phrase[0]["hits"].as_array().cloned().unwrap_or_default();
    assert_eq!(hits.len(), 1, "{hits:?}");
}

#[test]
fn embedding_without_a_model_is_a_clear_error() {
    let sillok = Sillok::new();
    let err = sillok.fails(2, &["library", "embed"]);
    assert!(err.contains("no embedding model"), "{err}");
}

#[test]
fn a_repeated_hybrid_evaluation_takes_its_vectors_from_the_cache() {
    let _model = model_lock();
    let sillok = Sillok::new();
    let set = sillok.dir.path().join("set");
    std::fs::create_dir_all(set.join("qrels")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let write = |name: &str, text: &str| {
        std::fs::write(set.join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    };
    write(
        "corpus.jsonl",
        concat!(
            r#"{"_id": "htn", "title": "", "text": "고혈압 환자에게는 ACE 억제제를 먼저 투여한다."}"#,
            "\n",
            r#"{"_id": "dm", "title": "", "text": "당뇨병 환자는 식사 요법과 운동을 병행한다."}"#,
            "\n",
            r#"{"_id": "cafe", "title": "", "text": "구내식당은 아침 일곱 시에 문을 연다."}"#,
            "\n",
        ),
    );
    write(
        "queries.jsonl",
        concat!(
            r#"{"_id": "q1", "text": "first medicine for high blood pressure"}"#,
            "\n"
        ),
    );
    write("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\thtn\t1\n");
    sillok.import(E5);
    let eval = || {
        let out = sillok
            .command()
            .args(["eval", "retrieval", set.to_str().unwrap_or_default()])
            .args(["--hybrid", "--json"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run sillok: {e}"));
        assert!(out.status.success(), "{out:?}");
        let report = json_lines(&String::from_utf8_lossy(&out.stdout))
            .pop()
            .unwrap_or_default();
        (report, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (first, progress) = eval();
    assert!(
        progress.contains("3 embedded, 0 from the cache"),
        "{progress}"
    );
    assert_eq!(first["mode"], "hybrid", "{first}");
    assert_eq!(first["mrr@10"], 1.0, "found by meaning: {first}");
    let (second, progress) = eval();
    assert!(
        progress.contains("0 embedded, 3 from the cache"),
        "{progress}"
    );
    assert_eq!(second["ndcg@10"], first["ndcg@10"]);
    assert!(
        sillok
            .dir
            .path()
            .join("cache/eval-vectors.sqlite")
            .is_file()
    );
}
