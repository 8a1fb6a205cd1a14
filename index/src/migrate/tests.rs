//! The migration against real libraries on disk: results kept, nothing left
//! in plaintext, and a crash after any step taken up by the next run.

use std::path::Path;

use super::*;
use crate::test_support::chunk_tokenizer;
use crate::{IngestSettings, Library, SearchRequest, TokenCounter};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const MARKERS: [&str; 2] = ["zqxvmigrate", "홍길동이관"];

fn key() -> IndexKey {
    IndexKey::from_bytes(&[9; 32])
}

/// A plaintext library of two notes (one named with a marker).
fn plaintext_library(root: &Path) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
    let docs = root.join("docs");
    fs::create_dir_all(&docs)?;
    fs::write(
        docs.join("홍길동이관_기록.txt"),
        "zqxvmigrate 환자 홍길동이관 고혈압 150/95 로사르탄 50 mg.",
    )?;
    fs::write(docs.join("b.txt"), "혈당은 공복 126 이상이다. zqxvmigrate")?;
    let dir = root.join("indexes").join("library");
    let library = Library::open(&dir)?;
    let counter = TokenCounter::from_file(&chunk_tokenizer())?;
    let mut writer = library.writer(counter, IngestSettings::default())?;
    writer.ingest("c", &[docs], &mut |_| {})?;
    Ok(dir)
}

fn hits(library: &Library, query: &str) -> crate::Result<Vec<(String, String)>> {
    library.reload()?;
    Ok(library
        .search(&SearchRequest {
            query: query.into(),
            limit: 10,
            ..Default::default()
        })?
        .hits
        .into_iter()
        .map(|h| (h.path, h.text))
        .collect())
}

/// Files under `dir` whose bytes show a marker.
fn plaintext_in(dir: &Path) -> std::result::Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let raw = fs::read(entry.path())?;
        if MARKERS
            .iter()
            .any(|m| raw.windows(m.len()).any(|w| w == m.as_bytes()))
        {
            found.push(entry.path().to_owned());
        }
    }
    Ok(found)
}

fn leftovers(dir: &Path) -> Vec<PathBuf> {
    [staged_of(dir), old_of(dir), dir.join(VERIFIED_FILE)]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn a_plaintext_library_is_encrypted_in_place_with_its_results() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = plaintext_library(tmp.path())?;
    let before = hits(&Library::open(&dir)?, "zqxvmigrate")?;
    assert_eq!(before.len(), 2);
    assert!(
        !plaintext_in(&dir)?.is_empty(),
        "the test must see plaintext"
    );
    assert!(library_needs_migration(&dir)?);

    assert!(encrypt_library(&dir, &key(), &mut |_| Ok(()))?);

    assert_eq!(plaintext_in(&dir)?, Vec::<PathBuf>::new());
    assert_eq!(leftovers(&dir), Vec::<PathBuf>::new());
    assert!(!library_needs_migration(&dir)?);
    assert!(matches!(Library::open(&dir), Err(Error::Encrypted)));
    let library = Library::open_sealed(&dir, &key())?;
    assert_eq!(hits(&library, "zqxvmigrate")?, before);
    assert_eq!(library.status(None)?.len(), 2, "the journal came along");
    drop(library);
    assert!(
        !encrypt_library(&dir, &key(), &mut |_| Ok(()))?,
        "nothing left to do"
    );
    Ok(())
}

#[test]
fn a_crash_after_any_step_is_taken_up_by_the_next_run() -> TestResult {
    for crash_at in MigrationStep::ALL {
        let tmp = tempfile::tempdir()?;
        let dir = plaintext_library(tmp.path())?;
        let before = hits(&Library::open(&dir)?, "zqxvmigrate")?;
        let crashed = encrypt_library(&dir, &key(), &mut |step| {
            if step == crash_at {
                Err(Error::Poisoned("simulated crash"))
            } else {
                Ok(())
            }
        });
        assert!(crashed.is_err(), "{crash_at:?}");
        assert!(library_needs_migration(&dir)?, "{crash_at:?}");
        // Whatever the step, one whole library is there or one rename away.
        let plain_whole = dir.exists() || old_of(&dir).exists();
        assert!(plain_whole, "{crash_at:?}");

        assert!(
            encrypt_library(&dir, &key(), &mut |_| Ok(()))?,
            "{crash_at:?}"
        );
        assert_eq!(leftovers(&dir), Vec::<PathBuf>::new(), "{crash_at:?}");
        assert_eq!(
            plaintext_in(tmp.path().join("indexes").as_path())?,
            Vec::<PathBuf>::new(),
            "{crash_at:?}"
        );
        let library = Library::open_sealed(&dir, &key())?;
        assert_eq!(hits(&library, "zqxvmigrate")?, before, "{crash_at:?}");
    }
    Ok(())
}

#[test]
fn a_library_under_another_key_or_already_sealed_is_left_alone() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("library");
    drop(Library::open_sealed(&dir, &key())?);
    assert!(!library_needs_migration(&dir)?);
    assert!(!encrypt_library(
        &dir,
        &IndexKey::from_bytes(&[1; 32]),
        &mut |_| Ok(())
    )?);
    assert!(matches!(
        Library::open_sealed(&dir, &IndexKey::from_bytes(&[1; 32])),
        Err(Error::WrongKey)
    ));
    Ok(())
}
