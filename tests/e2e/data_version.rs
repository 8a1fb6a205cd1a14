//! The data directory's format marker: a directory written by a newer Sillok
//! is refused before anything in it is opened or changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::{Sillok, TestResult};

/// Every file under `root` with its content.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes =
                    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                files.insert(path, bytes);
            }
        }
    }
    files
}

#[test]
fn data_from_a_newer_version_is_refused_and_left_unchanged() -> TestResult {
    let sillok = Sillok::new();
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samples/library");
    sillok.ok(&[
        "ingest",
        lib.to_str().unwrap_or_default(),
        "--collection",
        "samples",
    ]);
    let marker = sillok.dir.path().join("data-format.json");
    let stamped: serde_json::Value = serde_json::from_slice(&std::fs::read(&marker)?)?;
    let current = stamped["version"]
        .as_u64()
        .ok_or("no version in the marker")?;
    assert!(current >= 1, "{stamped}");

    // A later Sillok moved the directory to the next format.
    std::fs::write(
        &marker,
        format!(r#"{{"format":"sillok-data","version":{}}}"#, current + 1),
    )?;
    let before = snapshot(sillok.dir.path());
    let commands: [&[&str]; 3] = [
        &["search", "guideline"],
        &["collections", "list"],
        &["vault", "status"],
    ];
    for args in commands {
        let err = sillok.fails(2, args);
        assert!(
            err.contains("newer Sillok") && err.contains(&format!("format {}", current + 1)),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        snapshot(sillok.dir.path()),
        before,
        "the refused directory changed"
    );

    // Back at the current format it opens again.
    std::fs::write(&marker, serde_json::to_vec(&stamped)?)?;
    sillok.ok(&["search", "guideline"]);
    Ok(())
}

#[test]
fn a_directory_from_before_the_marker_is_stamped() -> TestResult {
    let sillok = Sillok::new();
    sillok.ok(&["collections", "list"]);
    let marker = sillok.dir.path().join("data-format.json");
    std::fs::remove_file(&marker)?;
    sillok.ok(&["collections", "list"]);
    let stamped: serde_json::Value = serde_json::from_slice(&std::fs::read(&marker)?)?;
    assert_eq!(stamped["format"], "sillok-data");
    Ok(())
}
