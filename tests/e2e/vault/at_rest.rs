//! Encryption at rest through the real binary and a real keychain: a new
//! data directory gets a vault and encrypted stores; without a keychain it
//! fails closed; a library from before the vault is encrypted in place, a
//! crash after any step taken up by the next run; a tampered store is
//! reported as damage with the way out, never read and never a panic.

use std::path::{Path, PathBuf};

use sillok_core::DataDir;
use sillok_core::index::{IngestSettings, Library, TokenCounter};

use super::{Keyring, PASSPHRASE};
use crate::util::{CHUNK_TOKENIZER, Sillok, TestResult, copy_dir, json_lines, model_file};

/// Strings of the notes below that must never be found on disk outside the
/// source folder (the second is also in a file name).
const MARKERS: [&str; 2] = ["zqxvsealmarker", "도은결"];

fn write_notes(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("도은결_경과기록.md"),
        "# 경과기록\n\n도은결 환자 zqxvsealmarker 혈압 150/95, 로사르탄 50 mg 시작.\n",
    )?;
    std::fs::write(
        dir.join("b.txt"),
        "공복 혈당 126 이상은 당뇨로 본다. zqxvsealmarker\n",
    )
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// The files under `dir` holding a marker.
fn marker_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            let name = path.to_string_lossy();
            if MARKERS
                .iter()
                .any(|m| name.contains(m) || bytes.windows(m.len()).any(|w| w == m.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

/// The hits' paths for `query`.
fn hits(k: &Keyring, sillok: &Sillok, query: &str) -> Vec<String> {
    let out = k.ok(sillok, &["search", query, "--json"], None);
    let result = json_lines(&out).pop().unwrap_or_default();
    let mut paths: Vec<String> = result["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|x| x["path"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

#[test]
fn a_new_data_directory_gets_a_vault_and_keeps_nothing_in_plaintext() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    k.ok(&s, &["ingest", text(docs.path()), "-c", "notes"], None);
    assert!(
        s.dir.path().join("vault.json").exists(),
        "no vault was made"
    );
    assert_eq!(hits(&k, &s, "zqxvsealmarker").len(), 2);
    assert_eq!(marker_files(s.dir.path()), Vec::<PathBuf>::new());
    let status = k.status(&s);
    assert_eq!(status["unlocked"], "keychain", "{status}");
    Ok(())
}

#[test]
fn without_a_keychain_a_new_data_directory_fails_closed() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    let missing = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")];
    let out = k.sillok_with(
        &s,
        &["ingest", text(docs.path()), "-c", "notes"],
        None,
        &missing,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keychain"), "{err}");
    assert!(!s.dir.path().join("vault.json").exists());
    assert!(
        !s.dir.path().join("indexes/library").exists(),
        "nothing may be stored without the key"
    );
    // With the keychain back, the same command works.
    k.ok(&s, &["ingest", text(docs.path()), "-c", "notes"], None);
    assert_eq!(hits(&k, &s, "zqxvsealmarker").len(), 2);
    Ok(())
}

#[test]
fn without_a_keychain_a_passphrase_only_vault_works_and_fails_closed() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    let no_bus = ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let with_passphrase = [no_bus, ("SILLOK_PASSPHRASE", PASSPHRASE)];
    let run = |args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]| {
        let out = k.sillok_with(&s, args, stdin, env);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    // The keychain's refusal names the way on.
    let (code, _, err) = run(
        &["ingest", text(docs.path()), "-c", "notes"],
        None,
        &[no_bus],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("sillok vault init --passphrase-only"), "{err}");

    let (code, out, err) = run(
        &["vault", "init", "--passphrase-only", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
        &[no_bus],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("your passphrase") && !out.contains("OS keychain,"),
        "{out}"
    );
    let (code, out, err) = run(
        &["ingest", text(docs.path()), "-c", "notes"],
        None,
        &with_passphrase,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = run(
        &["search", "zqxvsealmarker", "--json"],
        None,
        &with_passphrase,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let hits = json_lines(&out).pop().unwrap_or_default()["hits"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(hits, 2, "{out}");
    assert_eq!(marker_files(s.dir.path()), Vec::<PathBuf>::new());

    // Without the passphrase, or with a wrong one, nothing opens: with no
    // keychain, and with a reachable one (no fallback to it either).
    for env in [vec![no_bus], vec![]] {
        let (code, out, err) = run(&["search", "zqxvsealmarker"], None, &env);
        assert_eq!(code, Some(2), "{out}{err}");
        assert!(
            err.contains("SILLOK_PASSPHRASE") && !out.contains("zqxv"),
            "{err}"
        );
    }
    // The audit trail's key is under the data key too.
    let (code, out, err) = run(&["audit", "verify"], None, &with_passphrase);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("intact"), "{out}");
    let (code, out, err) = run(&["audit", "verify"], None, &[no_bus]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("SILLOK_PASSPHRASE"), "{err}");
    let wrong = [no_bus, ("SILLOK_PASSPHRASE", "wrong horse battery staple")];
    let (code, out, err) = run(&["search", "zqxvsealmarker"], None, &wrong);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("wrong passphrase"), "{err}");

    // A reachable keychain is never written to by this vault.
    let (code, out, err) = run(
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
        &[],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(k.sillok_items(), Vec::<String>::new());
    assert_eq!(k.status(&s)["keychain"], "not-used");
    Ok(())
}

/// A data directory as Sillok left it before the vault: a plaintext library.
pub(super) fn pre_vault_data_dir(root: &Path, docs: &Path) -> TestResult {
    let data = DataDir::at(root);
    data.create()?;
    let library = Library::open(&data.indexes().join("library"))?;
    let counter = TokenCounter::from_file(&model_file(CHUNK_TOKENIZER))?;
    let mut writer = library.writer(counter, IngestSettings::default())?;
    writer.ingest("notes", &[docs.to_owned()], &mut |_| {})?;
    Ok(())
}

#[test]
fn a_library_from_before_the_vault_is_encrypted_in_place_even_through_crashes() -> TestResult {
    let k = Keyring::start();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    let template = tempfile::tempdir()?;
    pre_vault_data_dir(template.path(), docs.path())?;
    assert!(
        !marker_files(template.path()).is_empty(),
        "the old library must hold plaintext for this test to mean anything"
    );
    // Debug builds abort at the named step (release builds ignore it).
    for crash_at in [
        None,
        Some("migrate-copied"),
        Some("migrate-verified"),
        Some("migrate-plaintext-moved"),
        Some("migrate-swapped"),
    ] {
        let s = Sillok::new();
        copy_dir(template.path(), s.dir.path())?;
        if let Some(point) = crash_at {
            let out = k.sillok_with(
                &s,
                &["search", "zqxvsealmarker", "--json"],
                None,
                &[("SILLOK_TEST_CRASH_AT", point)],
            );
            assert_eq!(
                out.status.code(),
                None,
                "{point}: it should have crashed: {out:?}"
            );
        }
        assert_eq!(hits(&k, &s, "zqxvsealmarker").len(), 2, "{crash_at:?}");
        assert_eq!(
            marker_files(s.dir.path()),
            Vec::<PathBuf>::new(),
            "{crash_at:?}"
        );
        assert!(s.dir.path().join("vault.json").exists());
        for leftover in ["indexes/library.sealing", "indexes/library.plaintext"] {
            assert!(
                !s.dir.path().join(leftover).exists(),
                "{crash_at:?}: {leftover}"
            );
        }
    }
    Ok(())
}

#[test]
fn a_tampered_store_is_reported_as_damage_with_the_way_out() -> TestResult {
    let k = Keyring::start();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    let template = Sillok::new();
    k.ok(
        &template,
        &["ingest", text(docs.path()), "-c", "notes"],
        None,
    );
    let library = template.dir.path().join("indexes/library");
    // Offset 100 of a database is on its first page, which every open reads.
    let mut targets = vec![(library.join("journal.sqlite"), 100)];
    for entry in std::fs::read_dir(library.join("tantivy"))? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.ends_with(".store") || n.ends_with(".term") || n == "meta.json") {
            let middle = std::fs::metadata(&path)?.len() / 2;
            targets.push((path, usize::try_from(middle)?));
        }
    }
    assert!(targets.len() >= 4, "{targets:?}");
    for (target, at) in targets {
        let s = Sillok::new();
        copy_dir(template.dir.path(), s.dir.path())?;
        let victim = s.dir.path().join(target.strip_prefix(template.dir.path())?);
        let mut bytes = std::fs::read(&victim)?;
        bytes[at] ^= 0x20;
        std::fs::write(&victim, &bytes)?;
        let out = k.sillok(&s, &["search", "zqxvsealmarker", "--json"], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", victim.display());
        assert!(
            err.contains("tampered") && err.contains("rebuild"),
            "{}: {err}",
            victim.display()
        );
        assert!(!err.contains("panicked"), "{err}");
        if victim.starts_with(s.dir.path().join("indexes/library/tantivy")) {
            // The way out it names works: the index is made again from the folders.
            k.ok(&s, &["collections", "rebuild"], None);
            assert_eq!(
                hits(&k, &s, "zqxvsealmarker").len(),
                2,
                "{}",
                victim.display()
            );
        }
    }
    Ok(())
}

#[test]
fn damage_on_the_last_page_of_the_journal_is_damage_with_the_rebuild_hint() -> TestResult {
    let k = Keyring::start();
    let docs = tempfile::tempdir()?;
    write_notes(docs.path())?;
    let template = Sillok::new();
    k.ok(
        &template,
        &["ingest", text(docs.path()), "-c", "notes"],
        None,
    );
    let journal = Path::new("indexes/library/journal.sqlite");
    let len = std::fs::metadata(template.dir.path().join(journal))?.len();
    assert!(
        len > 4096,
        "a journal of one page tests nothing: {len} bytes"
    );
    let docs_arg = text(docs.path()).to_owned();
    let commands: [&[&str]; 2] = [
        &["search", "zqxvsealmarker", "--json"],
        &["ingest", &docs_arg, "-c", "notes"],
    ];
    for args in commands {
        let s = Sillok::new();
        copy_dir(template.dir.path(), s.dir.path())?;
        let victim = s.dir.path().join(journal);
        let mut bytes = std::fs::read(&victim)?;
        // 100 bytes before the end: inside the last page, past its header.
        let at = bytes.len() - 100;
        bytes[at] ^= 0x20;
        std::fs::write(&victim, &bytes)?;
        let out = k.sillok(&s, args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("library database (")
                && err.contains("journal.sqlite) is damaged")
                && err.contains("sillok collections rebuild"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");

        // The hint holds: the rebuild sets the journal aside and indexes
        // the collection's folder again.
        let out = k.ok(&s, &["collections", "rebuild"], None);
        assert!(out.contains("2 files indexed again"), "{out}");
        let library = s.dir.path().join("indexes/library");
        let set_aside: Vec<String> = std::fs::read_dir(&library)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("journal.sqlite.damaged-"))
            .collect();
        assert_eq!(set_aside.len(), 1, "{set_aside:?}");
        let out = k.ok(&s, &["search", "zqxvsealmarker", "--json"], None);
        let hits = json_lines(&out).pop().unwrap_or_default()["hits"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(hits, 2, "{out}");
    }
    Ok(())
}
