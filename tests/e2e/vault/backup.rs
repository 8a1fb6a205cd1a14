//! `sillok vault backup` / `restore`: the archive restores into a new data
//! directory with another keychain, with the recovery key only; a wrong key,
//! a tampered or a truncated archive are refused and leave the target empty.

use std::path::{Path, PathBuf};

use super::{Keyring, init, with_first_char_changed};
use crate::util::{Sillok, TestResult, json_lines};

/// A change made to an archive's bytes.
type Edit = fn(&mut Vec<u8>);

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/library")
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// The hits' paths and pages for `query`.
fn hits(k: &Keyring, sillok: &Sillok, query: &str) -> Vec<String> {
    let out = k.ok(sillok, &["search", query, "--json"], None);
    let result = json_lines(&out).pop().unwrap_or_default();
    result["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|x| format!("{}#{}", x["path"].as_str().unwrap_or(""), x["page"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing of a vault or library was left in `dir` by a refused restore.
fn left_empty(dir: &Path) {
    assert!(!dir.join("vault.json").exists(), "a vault file was left");
    for sub in ["indexes", "db"] {
        let entries = std::fs::read_dir(dir.join(sub))
            .map(|r| r.count())
            .unwrap_or(0);
        assert_eq!(entries, 0, "{sub}/ is not empty");
    }
    let staged = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(".restore-"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(staged, 0, "a staging directory was left");
}

#[test]
fn a_backup_restores_on_another_machine_with_the_recovery_key_only() -> TestResult {
    let here = Keyring::start();
    let source = Sillok::new();
    let recovery = init(&here, &source);
    here.ok(
        &source,
        &["ingest", s(&samples()), "--collection", "samples"],
        None,
    );
    let queries = ["apixaban warfarin", "고혈압", "penicillin allergy"];
    let expected: Vec<Vec<String>> = queries.iter().map(|q| hits(&here, &source, q)).collect();
    assert!(expected.iter().all(|h| !h.is_empty()), "{expected:?}");

    let scratch = tempfile::tempdir()?;
    let archive = scratch.path().join("vault.sillok-backup");
    let out = here.ok(&source, &["vault", "backup", s(&archive)], None);
    assert!(out.contains("backed up"), "{out}");
    let bytes = std::fs::read(&archive)?;
    for plain in ["apixaban", "warfarin", "penicillin"] {
        assert!(
            !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "the archive shows {plain} in the clear"
        );
    }

    // Another machine: its own keychain and data directory.
    let there = Keyring::start();
    let target = Sillok::new();
    let restore = |archive: &Path, key: &str| {
        there.sillok(
            &target,
            &["vault", "restore", s(archive), "--recovery-key-stdin"],
            Some(&format!("{key}\n")),
        )
    };
    let refused = |archive: &Path, key: &str, why: &str| {
        let out = restore(archive, key);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{why}: {err}");
        left_empty(target.dir.path());
        err.into_owned()
    };

    let err = refused(
        &archive,
        &with_first_char_changed(&recovery),
        "a mistyped key",
    );
    assert!(err.contains("recovery key"), "{err}");

    // Another vault's valid recovery key opens nothing either.
    let other = Sillok::new();
    let other_key = init(&here, &other);
    let err = refused(&archive, &other_key, "another vault's key");
    assert!(err.contains("does not open this vault"), "{err}");

    // One byte changed in the body, in the header; the archive cut short.
    let edits: [(&str, Edit); 3] = [
        ("body", |b| {
            let i = b.len() - 1000;
            b[i] ^= 1;
        }),
        ("header", |b| b[40] ^= 1),
        ("end", |b| b.truncate(b.len() - 70_000)),
    ];
    for (what, edit) in edits {
        let mut tampered = bytes.clone();
        edit(&mut tampered);
        let path = scratch.path().join(format!("tampered-{what}"));
        std::fs::write(&path, &tampered)?;
        let err = refused(&path, &recovery, what);
        assert!(
            err.contains("vault backup") || err.contains("vault file"),
            "{what}: {err}"
        );
    }

    let out = restore(&archive, &recovery);
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The keychain of this machine opens the restored vault, and search finds
    // the same hits.
    let status = there.status(&target);
    assert_eq!(status["key_id"], here.status(&source)["key_id"], "{status}");
    for (query, want) in queries.iter().zip(&expected) {
        assert_eq!(&hits(&there, &target, query), want, "{query}");
    }
    // A second restore over the restored data is refused.
    let err = refused_over_data(&there, &target, &archive, &recovery);
    assert!(err.contains("vault"), "{err}");
    Ok(())
}

fn refused_over_data(k: &Keyring, target: &Sillok, archive: &Path, key: &str) -> String {
    k.refused(
        target,
        &["vault", "restore", s(archive), "--recovery-key-stdin"],
        Some(&format!("{key}\n")),
    )
}
