//! The audit trail and the vault through the real binary and a real
//! keychain: unlocks and refused unlocks (wrong passphrase, mistyped
//! recovery key, a keychain that lost its item) are recorded while the vault
//! is locked, never with the secret; patient-data fields are sealed with the
//! vault's key and opened again by `audit export`; an old `audit.key` file
//! moves into the keychain and its chain still verifies.

use std::path::Path;

use sillok_core::audit::{Action, AuditEvent, AuditLog, DropSealer};

use super::{Keyring, PASSPHRASE, init, with_first_char_changed};
use crate::util::{Sillok, TestResult, json_lines};

fn records(s: &Sillok) -> std::io::Result<Vec<serde_json::Value>> {
    Ok(
        std::fs::read_to_string(s.dir.path().join("audit/audit.jsonl"))?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    )
}

/// `action:result:method-or-reason` of the vault's records.
fn vault_events(s: &Sillok) -> std::io::Result<Vec<String>> {
    Ok(records(s)?
        .iter()
        .filter(|r| {
            ["unlock", "lock", "failed-unlock"].contains(&r["action"].as_str().unwrap_or_default())
        })
        .map(|r| {
            let o = &r["objects"];
            format!(
                "{}:{}:{}:{}",
                r["action"].as_str().unwrap_or_default(),
                r["result"].as_str().unwrap_or_default(),
                o["method"].as_str().unwrap_or_default(),
                o["reason"].as_str().unwrap_or_default()
            )
        })
        .collect())
}

fn write_note(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("note.md"),
        "# 재진\n\n김가상 환자 혈압 150/95, 로사르탄 50 mg 시작.\n",
    )
}

#[test]
fn unlocks_and_refusals_are_recorded_and_the_chain_verifies() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let recovery = init(&k, &s);

    k.ok(&s, &["vault", "unlock"], None);
    let wrong = "correct horse battery stapler";
    k.refused(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{wrong}\n")),
    );
    let mistyped = with_first_char_changed(&recovery);
    k.refused(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{mistyped}\n")),
    );
    k.ok(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    // The keychain loses the vault's key (not the audit key, kept apart):
    // the refusal is still recorded.
    let item = k.status(&s)["keychain_item"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let cleared = k.tool(
        "secret-tool",
        &["clear", "service", "sillok", "username", &item],
    );
    assert!(cleared.status.success(), "{cleared:?}");
    k.refused(&s, &["vault", "unlock"], None);

    assert_eq!(
        vault_events(&s)?,
        [
            "unlock:ok:keychain:",
            "failed-unlock:refused:passphrase:wrong-passphrase",
            "failed-unlock:refused:recovery-key:bad-recovery-key",
            "unlock:ok:passphrase:",
            "failed-unlock:refused:keychain:keychain-missing",
        ]
    );
    let log = std::fs::read_to_string(s.dir.path().join("audit/audit.jsonl"))?;
    for secret in [PASSPHRASE, wrong, recovery.as_str(), mistyped.as_str()] {
        assert!(!log.contains(secret), "a secret in the audit trail");
    }
    let out = k.ok(&s, &["audit", "verify"], None);
    assert!(out.contains("the audit trail is intact"), "{out}");
    Ok(())
}

#[test]
fn patient_fields_are_sealed_with_the_vault_and_opened_by_export() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let docs = s.dir.path().join("docs");
    write_note(&docs)?;
    let docs = docs.to_str().ok_or("path")?;
    // The first use makes the vault (keychain only).
    k.ok(&s, &["ingest", docs, "-c", "clinic"], None);
    k.ok(&s, &["search", "로사르탄 김가상", "--json"], None);

    let search = records(&s)?
        .into_iter()
        .find(|r| r["action"] == "search")
        .ok_or("no search record")?;
    let sealed = search["sealed"].as_str().ok_or("the query is not sealed")?;
    assert!(sealed.starts_with("xc1:"), "{sealed}");
    let log = std::fs::read_to_string(s.dir.path().join("audit/audit.jsonl"))?;
    for plain in ["로사르탄", "김가상", "note.md"] {
        assert!(!log.contains(plain), "{plain} in the clear");
    }

    let rows = json_lines(&k.ok(&s, &["audit", "export"], None));
    let row = rows
        .iter()
        .find(|r| r["action"] == "search")
        .ok_or("no search row")?;
    let query = row["fields"]["query"].as_str().ok_or("query not opened")?;
    assert!(query.contains("로사르탄"), "{query}");
    let out = k.ok(&s, &["audit", "verify"], None);
    assert!(out.contains("intact"), "{out}");
    Ok(())
}

#[test]
fn an_old_audit_key_file_moves_into_the_keychain() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    // A trail from before the vault: its key in audit.key.
    let key = [0x5au8; 32];
    std::fs::write(
        s.dir.path().join("audit.key"),
        format!("# old key file\n{}\n", hex_of(&key)),
    )?;
    let old = AuditLog::open(
        &s.dir.path().join("audit"),
        &key,
        std::sync::Arc::new(DropSealer),
    )?;
    old.append(AuditEvent::new(Action::Search).object("limit", 5))?;
    old.append(AuditEvent::new(Action::Settings).object("changed", "x"))?;
    drop(old);

    let out = k.ok(&s, &["audit", "verify"], None);
    assert!(out.contains("the audit trail is intact"), "{out}");
    assert!(!s.dir.path().join("audit.key").exists());
    let vault_id = k.status(&s)["vault_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        k.sillok_items()
            .contains(&format!("vault-{vault_id}/audit-hmac"))
    );
    let moved = records(&s)?
        .iter()
        .any(|r| r["objects"]["audit_key"] == "moved-to-keychain");
    assert!(moved, "the move is not recorded");
    // The old records verify with the key now in the keychain.
    let out = k.ok(&s, &["audit", "verify", "--json"], None);
    let report = json_lines(&out).pop().ok_or("no report")?;
    assert_eq!(report["intact"], true, "{out}");
    assert_eq!(report["records"], 3, "{out}");
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
