//! The audit trail and PHI masking end to end: CLI commands are recorded
//! (with chunk ids, pseudonymised patients, no patient data in the clear),
//! `audit export` masks PHI, a conversation export needs a reason and can be
//! de-identified, and `audit verify` names the record someone edited or cut.
//! Synthetic data only.

use std::path::Path;

use crate::util::{Sillok, TestResult, json_lines};

/// A FHIR patient (HumanName parts: given "가상", family "김") and a note
/// about them with a phone and a registration number (a valid check digit).
fn write_library(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("patient.json"),
        r#"{"resourceType": "Bundle", "type": "collection", "entry": [
          {"fullUrl": "urn:uuid:pt-kim-001", "resource": {"resourceType": "Patient",
            "id": "pt-kim-001", "name": [{"use": "official", "family": "김", "given": ["가상"]}],
            "gender": "male", "birthDate": "1961-04-02"}},
          {"resource": {"resourceType": "Observation", "code": {"text": "Systolic blood pressure"},
            "subject": {"reference": "urn:uuid:pt-kim-001"}, "effectiveDateTime": "2024-03-02",
            "valueQuantity": {"value": 152, "unit": "mmHg"}}}
        ]}"#,
    )?;
    std::fs::write(
        dir.join("note.md"),
        "# 재진 기록\n\n김가상 환자(연락처 010-1234-5678, 주민번호 900101-1234568)에게 로사르탄 50 mg을 추가했다.\n",
    )
}

fn audit_lines(sillok: &Sillok) -> std::io::Result<Vec<String>> {
    Ok(
        std::fs::read_to_string(sillok.dir.path().join("audit/audit.jsonl"))?
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

fn write_audit(sillok: &Sillok, lines: &[String]) -> std::io::Result<()> {
    std::fs::write(
        sillok.dir.path().join("audit/audit.jsonl"),
        lines.join("\n") + "\n",
    )
}

#[test]
fn actions_are_recorded_masked_and_tampering_is_named() -> TestResult {
    let sillok = Sillok::new();
    let docs = sillok.dir.path().join("docs");
    write_library(&docs)?;
    let docs = docs.to_str().ok_or("path")?;
    sillok.ok(&["ingest", docs, "-c", "clinic"]);
    sillok.ok(&["search", "로사르탄", "--json"]);
    sillok.ok(&["library", "timeline", "--patient", "pt-kim-001"]);
    sillok.ok(&[
        "ask",
        "김가상 환자에게 추가한 약은?",
        "--no-model",
        "--json",
    ]);
    let list = json_lines(&sillok.ok(&["conversations", "list", "--json"]))
        .pop()
        .unwrap_or_default();
    let id = list[0]["id"].as_i64().ok_or("no conversation")?.to_string();

    // An export needs a reason; de-identified, no PHI is left.
    sillok.fails(2, &["conversations", "export", &id]);
    let err = sillok.fails(2, &["conversations", "export", &id, "--reason", "  "]);
    assert!(err.contains("reason"), "{err}");
    let plain = sillok.ok(&["conversations", "export", &id, "--reason", "진료 의뢰"]);
    assert!(plain.contains("010-1234-5678"), "{plain}");
    let masked = sillok.ok(&[
        "conversations",
        "export",
        &id,
        "--reason",
        "김가상 전원 의뢰 010-9876-5432",
        "--deidentify",
    ]);
    for phi in ["김가상", "010-1234-5678", "900101-1234568"] {
        assert!(!masked.contains(phi), "{phi} in {masked}");
    }
    assert!(masked.contains("[NAME]") && masked.contains("[PHONE]") && masked.contains("[RRN]"));

    // The log holds no patient data in the clear.
    let raw = audit_lines(&sillok)?.join("\n");
    for phi in [
        "김가상",
        "로사르탄",
        "010-1234-5678",
        "900101-1234568",
        "pt-kim-001",
        "note.md",
    ] {
        assert!(!raw.contains(phi), "{phi} in the audit log:\n{raw}");
    }

    let report = sillok.ok(&["audit", "verify"]);
    assert!(report.contains("intact"), "{report}");
    let out = sillok.dir.path().join("review.jsonl");
    sillok.ok(&["audit", "export", "--out", out.to_str().ok_or("path")?]);
    // Each process that opened the vault with the keychain recorded an unlock.
    let (unlocks, rows): (Vec<_>, Vec<_>) = json_lines(&std::fs::read_to_string(&out)?)
        .into_iter()
        .partition(|r| r["action"] == "unlock");
    assert!(!unlocks.is_empty());
    assert!(unlocks.iter().all(|r| r["objects"]["method"] == "keychain"));
    let actions: Vec<&str> = rows.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(
        actions,
        [
            "ingest",
            "search",
            "view-records",
            "ask",
            "export",
            "export",
            "export"
        ],
        "{rows:#?}"
    );
    assert!(rows.iter().all(|r| r["intact"] == true));
    assert!(
        ["evidence", "not-found"]
            .contains(&rows[3]["objects"]["stage"].as_str().unwrap_or_default())
    );
    let shown = rows[3]["objects"]["shown"].as_array().ok_or("shown")?;
    assert!(!shown.is_empty() && shown[0].as_str().is_some_and(|c| c.starts_with("clinic:")));
    let pseudonym = rows[2]["patients"][0].as_str().ok_or("patients")?;
    assert!(pseudonym.starts_with("pt_"), "{pseudonym}");
    assert_eq!(rows[3]["withheld"], serde_json::json!(["question"]));
    // Refused exports are recorded too; the reason shows masked.
    assert_eq!(rows[4]["result"], "refused");
    assert_eq!(rows[5]["objects"]["reason"], "진료 의뢰");
    assert_eq!(rows[6]["objects"]["reason"], "[NAME] 전원 의뢰 [PHONE]");
    assert_eq!(rows[6]["objects"]["deidentified"], true);
    let exported = std::fs::read_to_string(&out)?;
    assert!(!exported.contains("김가상") && !exported.contains("9876"));

    // Someone edits record 2: verify names it and fails.
    let original = audit_lines(&sillok)?;
    let mut edited = original.clone();
    edited[1] = edited[1].replacen("\"result\":\"ok\"", "\"result\":\"refused\"", 1);
    write_audit(&sillok, &edited)?;
    let err = sillok.fails(3, &["audit", "verify"]);
    assert!(err.contains("record 2 (line 2): edited"), "{err}");

    // Someone deletes record 3.
    let mut deleted = original.clone();
    deleted.remove(2);
    write_audit(&sillok, &deleted)?;
    let err = sillok.fails(3, &["audit", "verify"]);
    assert!(err.contains("record 3") && err.contains("deleted"), "{err}");

    // Someone cuts the last two records off.
    write_audit(&sillok, &original[..original.len() - 2])?;
    let err = sillok.fails(3, &["audit", "verify", "--json"]);
    assert!(err.contains("truncated"), "{err}");
    write_audit(&sillok, &original)?;
    sillok.ok(&["audit", "verify"]);
    Ok(())
}
