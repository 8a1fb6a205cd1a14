//! Clinical records end to end: a Synthea FHIR bundle, a C-CDA document and
//! a broken FHIR file ingested by the real binary; `search --patient` and
//! `--effective-after`, and `library timeline`. The records are the fixtures
//! of `installer/fetch-fixtures.sh` (`$SILLOK_FIXTURES`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::util::{Sillok, TestResult, json_lines};

/// The Synthea patient of fhiry's `cfhir.json`.
const SYNTHEA_PATIENT: &str = "adccf2c3-9dc4-4067-ba23-98982c4875da";
/// The patient of the Practice Fusion C-CDA sample (`recordTarget` id).
const CCDA_PATIENT: &str = "5970DFDD-FE04-47BB-9548-A90DA78D3C0F";

/// A fetched fixture; a missing one fails the test, never skips it.
fn fixture(set: &str, name: &str) -> PathBuf {
    let dir = std::env::var_os("SILLOK_FIXTURES").unwrap_or_else(|| {
        panic!(
            "SILLOK_FIXTURES is not set: source installer/env.sh after installer/fetch-fixtures.sh"
        )
    });
    let path = Path::new(&dir).join(set).join(name);
    assert!(
        path.is_file(),
        "{} is missing: run installer/fetch-fixtures.sh",
        path.display()
    );
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

fn hits(sillok: &Sillok, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-k", "100", "--json"]);
    json_lines(&sillok.ok(&all))
        .pop()
        .and_then(|v| v["hits"].as_array().cloned())
        .unwrap_or_default()
}

fn day(date: &str) -> i64 {
    // Days from civil (Howard Hinnant), as the CLI reads --effective-after.
    let mut parts = date.split('-').map(|p| p.parse::<i64>().unwrap_or(0));
    let (y, m, d) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

#[test]
fn fhir_and_ccda_records_are_searched_per_patient_and_in_time_order() -> TestResult {
    let sillok = Sillok::new();
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let bundle = fs::read(fixture("fhir", "cfhir.json"))?;
    fs::write(d.join("synthea-bundle.json"), &bundle)?;
    fs::copy(
        fixture("ccda", "practice_fusion_alice_newman.xml"),
        d.join("alice-newman-ccd.xml"),
    )?;
    // A bundle cut off mid-way, as a failed export leaves it.
    fs::write(d.join("broken-export.json"), &bundle[..4000])?;

    let out = sillok.ok(&["ingest", s(d), "--collection", "clinic", "--json"]);
    let events = json_lines(&out);
    let status = |suffix: &str| {
        events
            .iter()
            .find(|e| e["path"].as_str().is_some_and(|p| p.ends_with(suffix)))
            .map(|e| {
                (
                    e["status"].as_str().unwrap_or_default().to_owned(),
                    e["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .unwrap_or_else(|| panic!("no status for {suffix}: {out}"))
    };
    assert_eq!(status("synthea-bundle.json").0, "indexed", "{out}");
    assert_eq!(status("alice-newman-ccd.xml").0, "indexed", "{out}");
    let (broken, why) = status("broken-export.json");
    assert_eq!(broken, "failed");
    assert!(why.contains("not valid fhir json"), "{why}");
    let done = events.last().cloned().unwrap_or_default();
    assert_eq!(done["indexed"], 2, "{done}");
    assert_eq!(done["failed"], 1, "{done}");

    // Both patients' records match "glucose"; --patient keeps one patient's.
    let all = hits(&sillok, &["glucose"]);
    let patients = |hits: &[serde_json::Value]| {
        let mut ids: Vec<String> = hits
            .iter()
            .map(|h| h["patient"].as_str().unwrap_or("none").to_owned())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    assert_eq!(patients(&all), [CCDA_PATIENT, SYNTHEA_PATIENT], "{all:?}");
    let synthea = hits(&sillok, &["glucose", "--patient", SYNTHEA_PATIENT]);
    assert!(!synthea.is_empty());
    assert_eq!(patients(&synthea), [SYNTHEA_PATIENT]);
    assert!(synthea.iter().all(|h| {
        h["type"] == "fhir"
            && h["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("synthea-bundle.json"))
    }));
    let alice = hits(&sillok, &["glucose", "--patient", CCDA_PATIENT]);
    assert!(!alice.is_empty());
    assert!(alice.iter().all(|h| h["type"] == "ccda"));
    assert!(hits(&sillok, &["glucose", "--patient", "nobody"]).is_empty());

    // --effective-after keeps only records from that date on.
    let since = day("2015-01-01");
    let recent = hits(
        &sillok,
        &[
            "glucose",
            "--patient",
            SYNTHEA_PATIENT,
            "--effective-after",
            "2015-01-01",
        ],
    );
    assert!(!recent.is_empty());
    assert!(
        recent.len() < synthea.len(),
        "{} vs {}",
        recent.len(),
        synthea.len()
    );
    assert!(
        recent
            .iter()
            .all(|h| h["effective"].as_i64().is_some_and(|t| t >= since)),
        "{recent:?}"
    );
    let err = sillok.fails(2, &["search", "x", "--effective-after", "last year"]);
    assert!(err.contains("YYYY-MM-DD"), "{err}");

    // The timeline: one patient's chunks, undated first, then oldest first.
    let timeline = json_lines(&sillok.ok(&[
        "library",
        "timeline",
        "--patient",
        SYNTHEA_PATIENT,
        "--json",
    ]))
    .pop()
    .unwrap_or_default();
    assert_eq!(timeline["patient"], SYNTHEA_PATIENT);
    let entries = timeline["entries"].as_array().cloned().unwrap_or_default();
    assert!(entries.len() > 400, "{}", entries.len());
    assert!(entries.iter().all(|e| {
        e["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("synthea-bundle.json"))
    }));
    let times: Vec<Option<i64>> = entries.iter().map(|e| e["effective"].as_i64()).collect();
    let first_dated = times
        .iter()
        .position(Option::is_some)
        .unwrap_or(times.len());
    // Undated: the bundle summary, the Patient and Synthea's five Goals.
    assert!(
        first_dated <= 10,
        "undated entries come first: {first_dated}"
    );
    let dated: Vec<i64> = times[first_dated..].iter().flatten().copied().collect();
    assert_eq!(
        dated.len(),
        times.len() - first_dated,
        "undated after dated"
    );
    assert!(dated.windows(2).all(|w| w[0] <= w[1]), "not chronological");
    assert_eq!(
        entries[first_dated]["date"].as_str().map(|d| d.len()),
        Some(20),
        "{}",
        entries[first_dated]
    );
    // The printed form too.
    let printed = sillok.ok(&["library", "timeline", "--patient", CCDA_PATIENT]);
    assert!(
        printed.starts_with(&format!("patient {CCDA_PATIENT}: ")),
        "{printed}"
    );
    assert!(
        printed.contains("2017-09-07 14:50:57  Allergies"),
        "{printed}"
    );
    assert!(printed.contains("Penicillin G"), "{printed}");
    let err = sillok.fails(2, &["library", "timeline", "--patient", "nobody"]);
    assert!(err.contains("no indexed records"), "{err}");
    Ok(())
}
