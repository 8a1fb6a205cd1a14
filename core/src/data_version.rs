//! The data directory's format version, so an upgrade migrates old data and a
//! downgrade never touches new data.
//!
//! `<data>/data-format.json` holds `{"format": "sillok-data", "version": N}`.
//! [`prepare`] runs before anything else opens the directory:
//!
//! - a version newer than [`CURRENT`] → [`Error::DataTooNew`]: nothing is
//!   opened, created or rewritten (an older app must not "repair" data it does
//!   not understand);
//! - an older version → each step of [`MIGRATIONS`] in turn, the marker
//!   rewritten after each step, so an interrupted upgrade resumes where it
//!   stopped;
//! - no marker (a new directory, or one from before the marker) → stamped
//!   with [`CURRENT`]: format 1 is the layout those directories already have.
//!
//! The stores keep their own finer versions too (the conversations database's
//! `user_version`, the vault file's `version`); this marker covers the
//! directory as a whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{DataDir, Error, Result};

/// The marker's file name in the data directory.
pub const DATA_FORMAT_FILE: &str = "data-format.json";
/// The newest format this build reads and writes.
pub const CURRENT: u32 = MIGRATIONS.len() as u32 + 1;

const FORMAT: &str = "sillok-data";
const MAX_MARKER_BYTES: u64 = 4096;

/// One migration: `MIGRATIONS[i]` brings format `i + 1` to `i + 2`. Each step
/// must be safe to run again after a crash part-way (the marker is only
/// advanced once it returns).
type Migration = fn(&DataDir) -> Result<()>;
const MIGRATIONS: &[Migration] = &[];

#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    format: String,
    version: u32,
}

/// The format the data directory says it is in (`None`: no marker).
///
/// # Errors
///
/// [`Error::DataVersion`] for a damaged marker, [`Error::DataDir`].
pub fn read(data_dir: &DataDir) -> Result<Option<u32>> {
    let path = marker_path(data_dir);
    let text = match fs::File::open(&path) {
        Ok(file) => {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(file, MAX_MARKER_BYTES + 1),
                &mut text,
            )
            .map_err(|e| damaged(&path, &e.to_string()))?;
            text
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::DataDir { path, source });
        }
    };
    if text.len() as u64 > MAX_MARKER_BYTES {
        return Err(damaged(&path, "too large"));
    }
    let marker: Marker = serde_json::from_str(&text).map_err(|e| damaged(&path, &e.to_string()))?;
    if marker.format != FORMAT {
        return Err(damaged(&path, "not a Sillok data format marker"));
    }
    Ok(Some(marker.version))
}

/// Refuses data from a newer version, migrates older data, stamps new data
/// (see the module docs). Call it before the directory is otherwise touched.
///
/// # Errors
///
/// [`Error::DataTooNew`], [`Error::DataVersion`], a migration's error,
/// [`Error::DataDir`].
pub fn prepare(data_dir: &DataDir) -> Result<()> {
    let found = read(data_dir)?;
    let mut version = match found {
        Some(v) if v > CURRENT => {
            return Err(Error::DataTooNew {
                path: data_dir.root().to_owned(),
                found: v,
                supported: CURRENT,
            });
        }
        Some(0) => return Err(damaged(&marker_path(data_dir), "version 0")),
        Some(v) => v,
        None => {
            fs::create_dir_all(data_dir.root()).map_err(|source| Error::DataDir {
                path: data_dir.root().to_owned(),
                source,
            })?;
            return write(data_dir, CURRENT);
        }
    };
    while version < CURRENT {
        let step = MIGRATIONS
            .get(version as usize - 1)
            .ok_or_else(|| damaged(&marker_path(data_dir), "no migration"))?;
        tracing::info!(
            from = version,
            to = version + 1,
            "migrating the data directory"
        );
        step(data_dir)?;
        version += 1;
        write(data_dir, version)?;
    }
    Ok(())
}

/// Writes the marker atomically (temp file, fsync, rename).
fn write(data_dir: &DataDir, version: u32) -> Result<()> {
    let path = marker_path(data_dir);
    let temp = data_dir.root().join(format!("{DATA_FORMAT_FILE}.tmp"));
    let fail = |source| Error::DataDir {
        path: path.clone(),
        source,
    };
    let body = serde_json::to_vec(&Marker {
        format: FORMAT.to_owned(),
        version,
    })
    .map_err(|e| damaged(&path, &e.to_string()))?;
    let mut file = fs::File::create(&temp).map_err(fail)?;
    file.write_all(&body).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&temp, &path).map_err(fail)?;
    Ok(())
}

fn marker_path(data_dir: &DataDir) -> PathBuf {
    data_dir.root().join(DATA_FORMAT_FILE)
}

fn damaged(path: &Path, reason: &str) -> Error {
    Error::DataVersion {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn stamp(dir: &Path, text: &str) -> TestResult {
        fs::write(dir.join(DATA_FORMAT_FILE), text)?;
        Ok(())
    }

    #[test]
    fn a_new_directory_is_stamped_with_the_current_format() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let dir = DataDir::at(tmp.path().join("new"));
        prepare(&dir)?;
        assert_eq!(read(&dir)?, Some(CURRENT));
        prepare(&dir)?;
        assert_eq!(read(&dir)?, Some(CURRENT));
        Ok(())
    }

    #[test]
    fn a_newer_format_is_refused_and_left_as_it_was() -> TestResult {
        let tmp = tempfile::tempdir()?;
        let text = format!(r#"{{"format":"sillok-data","version":{}}}"#, CURRENT + 1);
        stamp(tmp.path(), &text)?;
        let Err(err) = prepare(&DataDir::at(tmp.path())) else {
            return Err("a newer format was accepted".into());
        };
        assert!(
            matches!(err, Error::DataTooNew { found, supported, .. } if found == CURRENT + 1 && supported == CURRENT),
            "{err}"
        );
        assert!(err.is_user_error());
        assert_eq!(fs::read_to_string(tmp.path().join(DATA_FORMAT_FILE))?, text);
        assert_eq!(
            fs::read_dir(tmp.path())?.count(),
            1,
            "something was created"
        );
        Ok(())
    }

    #[test]
    fn a_damaged_marker_is_refused() -> TestResult {
        let tmp = tempfile::tempdir()?;
        for text in [
            "{",
            r#"{"format":"other","version":1}"#,
            r#"{"format":"sillok-data","version":0}"#,
        ] {
            stamp(tmp.path(), text)?;
            let Err(err) = prepare(&DataDir::at(tmp.path())) else {
                return Err(format!("{text} was accepted").into());
            };
            assert!(matches!(err, Error::DataVersion { .. }), "{text}: {err}");
        }
        Ok(())
    }
}
