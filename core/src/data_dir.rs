//! The one directory per OS user where Sillok keeps everything it stores.
//!
//! Layout: `models/` (model files and their catalogue), `indexes/`, `db/`,
//! `logs/`, `cache/` (reusable work: evaluation vectors). `SILLOK_DATA_DIR`
//! overrides the platform default (tests give each run a fresh one).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "SILLOK_DATA_DIR";

/// A Sillok data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// `SILLOK_DATA_DIR`, else the site policy's data directory, else the
    /// platform data dir + `sillok` (`~/.local/share/sillok` on Linux).
    ///
    /// # Errors
    ///
    /// [`Error::NoDataDir`] when none is known; an unreadable site policy.
    pub fn resolve() -> Result<Self> {
        if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
            return Ok(Self::at(PathBuf::from(dir)));
        }
        // A site policy's data directory comes before the platform's
        // (another one is refused when opened: `crate::policy`).
        if let Some(dir) = crate::policy::locked_data_dir()? {
            return Ok(Self::at(dir));
        }
        dirs::data_dir()
            .map(|d| Self::at(d.join("sillok")))
            .ok_or(Error::NoDataDir)
    }

    /// A data directory at an explicit path.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Model files and `catalogue.json`.
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }

    /// Search indexes.
    pub fn indexes(&self) -> PathBuf {
        self.root.join("indexes")
    }

    /// Databases (conversations, metadata).
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }

    /// Log files.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Work kept to be reused, never needed for correctness (the vectors of
    /// evaluation corpora); created when first written.
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// Creates the directory tree, private to the user (mode 0700 on Unix).
    ///
    /// # Errors
    ///
    /// [`Error::DataDir`].
    pub fn create(&self) -> Result<()> {
        let fail = |source| Error::DataDir {
            path: self.root.clone(),
            source,
        };
        for dir in [
            self.root.clone(),
            self.models(),
            self.indexes(),
            self.db(),
            self.logs(),
        ] {
            std::fs::create_dir_all(&dir).map_err(fail)?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
                .map_err(fail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_makes_a_private_tree() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|source| Error::DataDir {
            path: "tmp".into(),
            source,
        })?;
        let dir = DataDir::at(tmp.path().join("nested/sillok"));
        dir.create()?;
        for sub in [dir.models(), dir.indexes(), dir.db(), dir.logs()] {
            assert!(sub.is_dir(), "{}", sub.display());
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.root()).map_err(|source| Error::DataDir {
                path: dir.root().to_owned(),
                source,
            })?;
            assert_eq!(mode.permissions().mode() & 0o777, 0o700);
        }
        Ok(())
    }

    #[test]
    fn a_file_in_the_way_is_a_clear_error() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|source| Error::DataDir {
            path: "tmp".into(),
            source,
        })?;
        let file = tmp.path().join("taken");
        std::fs::write(&file, b"x").map_err(|source| Error::DataDir {
            path: file.clone(),
            source,
        })?;
        assert!(matches!(
            DataDir::at(&file).create(),
            Err(Error::DataDir { .. })
        ));
        Ok(())
    }
}
