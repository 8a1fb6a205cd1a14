//! `sillok ingest`, `search`, `collections`, `library status` on the bundled
//! sample library and on hostile folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Sillok, TestResult, json_lines};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/library")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

fn search(sillok: &Sillok, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    all.push("--json");
    json_lines(&sillok.ok(&all)).pop().unwrap_or_default()
}

fn hit_paths(result: &serde_json::Value) -> Vec<String> {
    result["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|x| x["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn status_of(sillok: &Sillok) -> Vec<serde_json::Value> {
    json_lines(&sillok.ok(&["library", "status", "--json"]))
        .pop()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn the_sample_library_is_indexed_and_korean_compounds_are_found() -> TestResult {
    let sillok = Sillok::new();
    let lib = samples();
    let out = sillok.ok(&["ingest", s(&lib), "--collection", "samples", "--json"]);
    let done = json_lines(&out).pop().unwrap_or_default();
    let files = fs::read_dir(&lib)?
        .filter_map(Result::ok)
        .map(|d| fs::read_dir(d.path()).map(|r| r.count()).unwrap_or(0))
        .sum::<usize>();
    assert_eq!(done["indexed"].as_u64(), Some(files as u64), "{out}");
    assert_eq!(done["failed"], 0);
    assert!(status_of(&sillok).iter().all(|f| f["status"] == "indexed"));

    // Compound words and words before particles: each question's keyword only
    // occurs inside longer words (고혈압, 혈압약은, 당뇨병) in its document.
    let qa = fs::read_to_string(lib.join("../qa.jsonl"))?;
    let mut checked = 0;
    for line in qa.lines() {
        let q: serde_json::Value = serde_json::from_str(line)?;
        let (Some(_keyword), Some(file), Some(question)) = (
            q["keyword"].as_str(),
            q["file"].as_str(),
            q["question"].as_str(),
        ) else {
            continue;
        };
        let hits = hit_paths(&search(&sillok, &[question, "-k", "5"]));
        assert!(
            hits.iter().any(|p| p.ends_with(file)),
            "{question}: {file} not in {hits:?}"
        );
        checked += 1;
    }
    assert!(checked >= 4);

    // Provenance: page numbers for PDFs, spans inside the page.
    let result = search(
        &sillok,
        &[
            "로사르탄",
            "--type",
            "pdf",
            "--path",
            "**/note-kim-htn-2024-03.pdf",
        ],
    );
    let hit = &result["hits"][0];
    assert!(
        hit["path"]
            .as_str()
            .unwrap_or_default()
            .ends_with("patients/note-kim-htn-2024-03.pdf"),
        "{result}"
    );
    assert_eq!(hit["page"], 2);
    assert!(hit["span"][1].as_u64() > hit["span"][0].as_u64());
    assert!(
        hit["snippet"]
            .as_str()
            .unwrap_or_default()
            .contains("로사르탄")
    );

    // Filters.
    assert!(
        hit_paths(&search(
            &sillok,
            &["amlodipine", "--path", "**/guidelines/*"]
        ))
        .iter()
        .all(|p| p.contains("/guidelines/"))
    );
    assert!(hit_paths(&search(&sillok, &["amlodipine", "--collection", "nope"])).is_empty());
    assert!(
        hit_paths(&search(
            &sillok,
            &["amlodipine", "--modified-after", "2999-01-01"]
        ))
        .is_empty()
    );
    let err = sillok.fails(2, &["search", "x", "--modified-after", "soon"]);
    assert!(err.contains("YYYY-MM-DD"), "{err}");

    // A second run re-reads nothing.
    let again = json_lines(&sillok.ok(&["ingest", s(&lib), "--collection", "samples", "--json"]))
        .pop()
        .unwrap_or_default();
    assert_eq!(again["indexed"], 0);
    assert_eq!(again["unchanged"].as_u64(), Some(files as u64));
    Ok(())
}

#[test]
fn korean_words_match_across_particles_and_quotes_make_phrases() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    fs::write(
        dir.path().join("a.txt"),
        "데비안을 설치한 뒤 혈압 기록을 확인한다.",
    )?;
    fs::write(
        dir.path().join("b.txt"),
        "기록 보관 규정: 혈압과 맥박을 매일 적는다.",
    )?;
    sillok.ok(&["ingest", s(dir.path()), "--collection", "c"]);
    // 데비안은 (with another particle) still finds 데비안을.
    assert_eq!(hit_paths(&search(&sillok, &["데비안은"])).len(), 1);
    // Words are OR-ed; a quoted phrase must occur as written.
    assert_eq!(hit_paths(&search(&sillok, &["혈압 기록"])).len(), 2);
    let phrase = hit_paths(&search(&sillok, &["\"혈압 기록\""]));
    assert_eq!(phrase.len(), 1, "{phrase:?}");
    assert!(phrase[0].ends_with("a.txt"));
    Ok(())
}

#[test]
fn changes_duplicates_and_removals_are_tracked() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    fs::write(
        dir.path().join("a.txt"),
        "혈압 기록: 수축기 혈압 152 mmHg, quinapril 10 mg.",
    )?;
    fs::write(
        dir.path().join("b.md"),
        "# Asthma\n\nBudesonide-formoterol as reliever.",
    )?;
    fs::create_dir(dir.path().join("copy"))?;
    fs::write(
        dir.path().join("copy/a-again.txt"),
        "혈압 기록: 수축기 혈압 152 mmHg, quinapril 10 mg.",
    )?;
    sillok.ok(&["ingest", s(dir.path()), "--collection", "c"]);
    let status = status_of(&sillok);
    let dup = status
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("copy/a-again.txt")
        })
        .ok_or("no row")?;
    assert_eq!(dup["status"], "duplicate", "{status:?}");
    // Indexed once: one hit, not two.
    assert_eq!(hit_paths(&search(&sillok, &["quinapril"])).len(), 1);

    fs::write(
        dir.path().join("b.md"),
        "# Asthma\n\nMontelukast 10 mg at night.",
    )?;
    fs::remove_file(dir.path().join("a.txt"))?;
    let r = json_lines(&sillok.ok(&["ingest", s(dir.path()), "--collection", "c", "--json"]))
        .pop()
        .unwrap_or_default();
    // b.md changed; copy/a-again.txt takes over the content of the removed a.txt.
    assert_eq!(r["indexed"], 2, "{r}");
    assert_eq!(r["removed"], 1, "{r}");
    assert!(
        hit_paths(&search(&sillok, &["budesonide"])).is_empty(),
        "old content is gone"
    );
    assert_eq!(hit_paths(&search(&sillok, &["montelukast"])).len(), 1);
    // The duplicate still holds the content, and hits now name it.
    let quinapril = hit_paths(&search(&sillok, &["quinapril"]));
    assert_eq!(quinapril.len(), 1, "{quinapril:?}");
    assert!(quinapril[0].ends_with("copy/a-again.txt"), "{quinapril:?}");
    let status = status_of(&sillok);
    assert!(
        status.iter().all(|f| f["status"] == "indexed"),
        "{status:?}"
    );

    sillok.ok(&["collections", "remove", "c"]);
    assert!(hit_paths(&search(&sillok, &["montelukast"])).is_empty());
    let err = sillok.fails(2, &["collections", "remove", "c"]);
    assert!(err.contains("no collection named c"), "{err}");
    Ok(())
}

#[test]
fn bad_files_get_specific_statuses_and_never_stop_the_batch() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    fs::write(d.join("good.txt"), "Warfarin 5 mg daily, INR target 2-3.")?;
    fs::write(d.join("empty.txt"), b"")?;
    fs::write(
        d.join("garbage.pdf"),
        b"%PDF-1.7\n this is not really a pdf \x00\x01\x02",
    )?;
    fs::write(
        d.join("not-a-zip.docx"),
        b"plain text pretending to be a docx",
    )?;
    fs::write(d.join("nul.txt"), b"apixaban\x00 2.5 mg\x00 twice daily")?;
    fs::write(d.join("invalid-utf8.txt"), b"metformin \xff\xfe 500 mg")?;
    fs::write(d.join("line\nbreak.txt"), "newline in the name: losartan")?;
    fs::write(
        d.join("rtl\u{202e}txt.md"),
        "RTL override in the name: rosuvastatin",
    )?;
    fs::write(
        d.join("\u{1112}\u{1161}\u{11AB}\u{1100}\u{1173}\u{11AF}.txt"),
        "NFD 이름: 한글 파일 이름 테스트 심바스타틴",
    )?;
    std::os::unix::fs::symlink("/dev/zero", d.join("zero.txt"))?;
    std::os::unix::fs::symlink(d, d.join("loop"))?;
    let fifo = d.join("fifo.txt");
    let made = Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success());

    let started = Instant::now();
    let out = sillok.ok(&["ingest", s(d), "--collection", "bad", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "a FIFO or device must not block ingestion"
    );
    let status = status_of(&sillok);
    let of = |suffix: &str| {
        status
            .iter()
            .find(|f| f["path"].as_str().unwrap_or_default().ends_with(suffix))
            .map(|f| {
                (
                    f["status"].as_str().unwrap_or_default().to_owned(),
                    f["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("no status for {suffix}: {out}"))
    };
    assert_eq!(of("good.txt").0, "indexed");
    assert_eq!(of("nul.txt").0, "indexed");
    assert_eq!(of("invalid-utf8.txt").0, "indexed");
    assert_eq!(of("break.txt").0, "indexed");
    assert_eq!(of("txt.md").0, "indexed");
    let (empty, why) = of("empty.txt");
    assert_eq!(empty, "failed");
    assert!(why.contains("no text"), "{why}");
    assert_eq!(of("garbage.pdf").0, "failed");
    let (docx, why) = of("not-a-zip.docx");
    assert_eq!(docx, "failed", "{why}");
    let (zero, why) = of("zero.txt");
    assert_eq!(zero, "failed");
    assert!(why.contains("not a regular file"), "{why}");
    assert!(of("fifo.txt").1.contains("not a regular file"));
    assert!(
        status.iter().any(|f| f["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("symbolic link loop")),
        "{status:?}"
    );

    for word in [
        "warfarin",
        "apixaban",
        "metformin",
        "losartan",
        "rosuvastatin",
        "심바스타틴",
    ] {
        assert_eq!(hit_paths(&search(&sillok, &[word])).len(), 1, "{word}");
    }
    // An NFC query finds the NFD-named file's content, and its path is listed.
    assert!(
        hit_paths(&search(&sillok, &["한글 파일"]))
            .iter()
            .any(|p| p.ends_with(".txt"))
    );
    Ok(())
}

#[test]
fn a_second_writer_is_refused_while_readers_keep_searching() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    fs::write(
        dir.path().join("a.txt"),
        "Hydrochlorothiazide 12.5 mg daily.",
    )?;
    sillok.ok(&["ingest", s(dir.path()), "--collection", "c"]);
    let lock = sillok.dir.path().join("indexes/library/writer.lock");
    // Hold the writer lock from another process (flock(1), the same lock Sillok takes).
    // -o: the lock is flock's own, so killing flock releases it.
    let mut holder = Command::new("flock")
        .args(["-o", s(&lock), "sleep", "30"])
        .stdout(Stdio::null())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(300));
    let err = sillok.fails(2, &["ingest", s(dir.path()), "--collection", "c"]);
    assert!(err.contains("library in use by process"), "{err}");
    assert_eq!(
        hit_paths(&search(&sillok, &["hydrochlorothiazide"])).len(),
        1
    );
    holder.kill()?;
    holder.wait()?;
    sillok.ok(&["ingest", s(dir.path()), "--collection", "c"]);
    Ok(())
}

#[test]
fn ingestion_killed_at_random_points_resumes_without_duplicates() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    let files = 400;
    for i in 0..files {
        let body = format!(
            "Visit note {i}. 환자 번호 token{i:04}x 혈압 {} mmHg. {}",
            110 + i % 50,
            "Follow-up in clinic. ".repeat(20)
        );
        fs::write(dir.path().join(format!("note-{i:04}.txt")), body)?;
    }
    let rounds: u64 = std::env::var("SILLOK_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut seed = 0x5eed_u64;
    for _ in 0..rounds {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(50 + (seed >> 33) % 1500);
        let mut child = sillok
            .command()
            .args(["ingest", s(dir.path()), "--collection", "k"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(delay);
        child.kill()?; // SIGKILL
        child.wait()?;
        // Whatever was committed opens and is searchable, never twice.
        for probe in [0, files / 2, files - 1] {
            let hits = hit_paths(&search(&sillok, &[&format!("token{probe:04}x")]));
            assert!(hits.len() <= 1, "duplicated after a kill: {hits:?}");
        }
    }
    let r = json_lines(&sillok.ok(&["ingest", s(dir.path()), "--collection", "k", "--json"]))
        .pop()
        .unwrap_or_default();
    assert_eq!(r["failed"], 0, "{r}");
    let status = status_of(&sillok);
    assert_eq!(status.len(), files);
    assert!(
        status.iter().all(|f| f["status"] == "indexed"),
        "{status:?}"
    );
    for probe in (0..files).step_by(10) {
        let hits = hit_paths(&search(&sillok, &[&format!("token{probe:04}x")]));
        assert_eq!(hits.len(), 1, "token{probe:04}x: {hits:?}");
    }
    Ok(())
}

#[test]
fn scanned_pages_of_a_mixed_pdf_are_recorded_as_needing_ocr() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../index/tests/fixtures/mixed_text_and_scan.pdf");
    fs::copy(&fixture, dir.path().join("mixed.pdf"))?;
    // OCR off for the collection (it would read the scanned page).
    let r = json_lines(&sillok.ok(&["ingest", s(dir.path()), "-c", "m", "--no-ocr", "--json"]))
        .pop()
        .unwrap_or_default();
    assert_eq!(
        (r["indexed"].as_u64(), r["ocr_pages"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let status = status_of(&sillok);
    assert_eq!(status[0]["status"], "indexed");
    assert_eq!(status[0]["ocr_pages"], serde_json::json!([3]), "{status:?}");
    // Kept across runs: the next pass leaves the file (and its record) as is.
    sillok.ok(&["ingest", s(dir.path()), "-c", "m"]);
    assert_eq!(status_of(&sillok)[0]["ocr_pages"], serde_json::json!([3]));
    let human = sillok.ok(&["library", "status"]);
    assert!(human.contains("pages 3 are scans"), "{human}");
    Ok(())
}
