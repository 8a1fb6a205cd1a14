//! `sillok models import-bundle`: a signed model bundle (the format of
//! `sillok-installer build-models`) is verified with a key from outside it,
//! then its models imported; a changed byte or another key imports nothing.

use std::path::{Path, PathBuf};

use sillok_bundle::sign::{SigningKey, generate, seal_dir};

use crate::util::{MINILM, Sillok, TestResult, json_lines, model_file};

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// A model bundle holding a copy of MiniLM, signed by a new key; returns the
/// bundle folder and the public key file.
fn model_bundle(dir: &Path) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let pair = generate(None)?;
    let secret = dir.join("release.key");
    let public = dir.join("release.pub");
    std::fs::write(&secret, &pair.secret_key)?;
    std::fs::write(&public, &pair.public_key)?;
    let bundle = dir.join("usb");
    std::fs::create_dir(&bundle)?;
    std::fs::copy(model_file(MINILM), bundle.join(MINILM))?;
    seal_dir(&bundle, "1", &SigningKey::from_file(&secret, None)?)?;
    Ok((bundle, public))
}

fn installed(sillok: &Sillok) -> Vec<String> {
    let lines = json_lines(&sillok.ok(&["models", "list", "--json"]));
    let list = lines.first().and_then(|l| l.as_array()).cloned();
    assert!(list.is_some(), "models list --json prints one array");
    list.unwrap_or_default()
        .iter()
        .filter_map(|m| m["sha256"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_signed_model_bundle_is_verified_then_imported_once() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let (bundle, public) = model_bundle(tmp.path())?;
    let out = sillok.ok(&[
        "models",
        "import-bundle",
        s(&bundle),
        "--pubkey",
        s(&public),
    ]);
    assert!(out.contains("verified model bundle 1"), "{out}");
    let manifest = std::fs::read_to_string(bundle.join("MANIFEST"))?;
    let sha = manifest
        .lines()
        .nth(2)
        .and_then(|l| l.split("  ").next())
        .ok_or("no entry")?;
    assert_eq!(installed(&sillok), vec![sha.to_owned()]);
    let again = sillok.ok(&[
        "models",
        "import-bundle",
        s(&bundle),
        "--pubkey",
        s(&public),
    ]);
    assert!(again.contains("already installed"), "{again}");
    assert_eq!(installed(&sillok).len(), 1);
    Ok(())
}

#[test]
fn a_changed_byte_or_another_key_imports_nothing() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let (bundle, _) = model_bundle(tmp.path())?;
    let other = tempfile::tempdir()?;
    let (_, other_key) = model_bundle(other.path())?;
    let err = sillok.fails(
        3,
        &[
            "models",
            "import-bundle",
            s(&bundle),
            "--pubkey",
            s(&other_key),
        ],
    );
    assert!(err.contains("not by the trusted key"), "{err}");
    // One byte of the model (in its tensor data, past the header).
    let model = bundle.join(MINILM);
    let mut bytes = std::fs::read(&model)?;
    let middle = bytes.len() / 2;
    if let Some(byte) = bytes.get_mut(middle) {
        *byte ^= 0x01;
    }
    std::fs::write(&model, bytes)?;
    let err = sillok.fails(
        3,
        &[
            "models",
            "import-bundle",
            s(&bundle),
            "--pubkey",
            s(&tmp.path().join("release.pub")),
        ],
    );
    assert!(
        err.contains(&format!("{MINILM} has another SHA-256")),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(installed(&sillok).is_empty());
    Ok(())
}
