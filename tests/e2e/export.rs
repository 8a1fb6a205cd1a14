//! Encrypted exports end to end: `conversations export --encrypt` and
//! `audit export --encrypt` write an age file with no plaintext in it, which
//! Debian's `age -d` (the reference tool) and `sillok decrypt-export` open to
//! exactly the plaintext export; a wrong passphrase fails clearly. Synthetic
//! data only.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::util::{Sillok, TestResult, json_lines};

const PASSPHRASE: &str = "진료 의뢰 암호 2026";

/// Runs `sillok args` with `input` on its standard input.
fn with_stdin(sillok: &Sillok, args: &[&str], input: &str) -> std::io::Result<Output> {
    let mut child = sillok
        .command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?
        .write_all(input.as_bytes())?;
    child.wait_with_output()
}

/// Debian's `age -d FILE > OUT`. It reads a passphrase only from a terminal:
/// `script` runs it on a pseudo-terminal and types `passphrase` there.
fn age_decrypt(file: &Path, out: &Path, passphrase: &str) -> std::io::Result<Output> {
    let command = format!("age -d -o '{}' '{}'", out.display(), file.display());
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?
        .write_all(format!("{passphrase}\n").as_bytes())?;
    child.wait_with_output()
}

fn assert_sealed(file: &Path, markers: &[&str]) -> TestResult {
    let bytes = std::fs::read(file)?;
    assert!(bytes.starts_with(b"age-encryption.org/v1\n-> scrypt "));
    let text = String::from_utf8_lossy(&bytes);
    for marker in markers {
        assert!(!text.contains(marker), "{marker} in {}", file.display());
    }
    Ok(())
}

#[test]
fn encrypted_exports_open_with_age_and_sillok_only_with_the_passphrase() -> TestResult {
    let sillok = Sillok::new();
    let docs = sillok.dir.path().join("docs");
    std::fs::create_dir_all(&docs)?;
    std::fs::write(
        docs.join("note.md"),
        "# 재진 기록\n\n고혈압 환자에게 로사르탄 50 mg을 추가했다.\n",
    )?;
    sillok.ok(&["ingest", docs.to_str().ok_or("path")?, "-c", "clinic"]);
    sillok.ok(&["ask", "고혈압 환자에게 추가한 약은?", "--no-model"]);
    let list = json_lines(&sillok.ok(&["conversations", "list", "--json"]))
        .pop()
        .unwrap_or_default();
    let id = list[0]["id"].as_i64().ok_or("no conversation")?.to_string();
    let path = |name: &str| sillok.dir.path().join(name);
    let arg = |p: &Path| p.to_string_lossy().into_owned();

    let plain = sillok.ok(&["conversations", "export", &id, "--reason", "전원"]);
    assert!(plain.contains("로사르탄"), "{plain}");
    let sealed = path("conversation.md.age");
    let out = with_stdin(
        &sillok,
        &[
            "conversations",
            "export",
            &id,
            "--reason",
            "전원",
            "--encrypt",
            "--passphrase-stdin",
            "-o",
            &arg(&sealed),
        ],
        &format!("{PASSPHRASE}\n"),
    )?;
    assert!(out.status.success(), "{out:?}");
    assert_sealed(&sealed, &["로사르탄", "고혈압", "전원", "# "])?;

    // The reference tool opens it to exactly the plaintext export.
    let by_age = path("by-age.md");
    let out = age_decrypt(&sealed, &by_age, PASSPHRASE)?;
    assert!(out.status.success(), "age -d: {out:?}");
    assert_eq!(std::fs::read_to_string(&by_age)?, plain);
    // So does ours; a wrong passphrase opens nothing and says so.
    let out = with_stdin(
        &sillok,
        &["decrypt-export", &arg(&sealed), "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )?;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout)?, plain);
    let out = with_stdin(
        &sillok,
        &["decrypt-export", &arg(&sealed), "--passphrase-stdin"],
        "진료 의뢰 암호 2025\n",
    )?;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong passphrase"), "{err}");
    let out = age_decrypt(&sealed, &path("wrong.md"), "진료 의뢰 암호 2025")?;
    assert!(!out.status.success());
    // A plaintext file is not taken for an export; a short passphrase is refused.
    std::fs::write(path("plain.md"), &plain)?;
    let out = with_stdin(
        &sillok,
        &[
            "decrypt-export",
            &arg(&path("plain.md")),
            "--passphrase-stdin",
        ],
        &format!("{PASSPHRASE}\n"),
    )?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an age file"));
    let out = with_stdin(
        &sillok,
        &[
            "conversations",
            "export",
            &id,
            "--reason",
            "전원",
            "--encrypt",
            "--passphrase-stdin",
        ],
        "short\n",
    )?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8 characters"));

    // The audit trail, encrypted to standard output.
    let out = with_stdin(
        &sillok,
        &["audit", "export", "--encrypt", "--passphrase-stdin"],
        &format!("{PASSPHRASE}\n"),
    )?;
    assert!(out.status.success(), "{out:?}");
    std::fs::write(path("audit.jsonl.age"), &out.stdout)?;
    assert_sealed(&path("audit.jsonl.age"), &["\"action\"", "export"])?;
    let by_age = path("audit.jsonl");
    let out = age_decrypt(&path("audit.jsonl.age"), &by_age, PASSPHRASE)?;
    assert!(out.status.success(), "age -d: {out:?}");
    let rows = json_lines(&std::fs::read_to_string(&by_age)?);
    let actions: Vec<&str> = rows.iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(
        actions.contains(&"ingest") && actions.contains(&"export"),
        "{actions:?}"
    );
    Ok(())
}
