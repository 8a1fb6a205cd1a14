//! The site policy: a JSON file an IT officer installs (by default
//! `/etc/sillok/policy.json`) that locks settings for every user of the
//! machine. This module owns its format and loading; the core enforces it.
//!
//! A key that is absent leaves the setting to the user. `~/` at the start of
//! a path is the user's home. A file that exists but cannot be read or parsed
//! is an error: Sillok never runs without a policy it was given.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Where the policy is installed.
pub const POLICY_PATH: &str = "/etc/sillok/policy.json";
/// Overrides [`POLICY_PATH`] (tests, other layouts).
pub const POLICY_ENV: &str = "SILLOK_POLICY_FILE";

/// The settings a site locks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// The only data directory Sillok may use.
    pub data_dir: Option<PathBuf>,
    /// Folders (and their subfolders) that may be ingested; no others.
    pub allowed_folders: Option<Vec<PathBuf>>,
    /// Idle minutes before the vault locks (1 to 1440), fixed.
    pub idle_lock_minutes: Option<u32>,
    /// `false`: conversations may not be exported.
    pub export_allowed: Option<bool>,
}

/// A policy as loaded: its file and its values with `~/` expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePolicy {
    /// The file it came from (named in every refusal).
    pub path: PathBuf,
    /// The values.
    pub policy: Policy,
}

/// The policy file's path: `$SILLOK_POLICY_FILE`, else [`POLICY_PATH`].
pub fn policy_path() -> PathBuf {
    match std::env::var_os(POLICY_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(POLICY_PATH),
    }
}

/// Loads the machine's policy, `None` when there is no policy file.
///
/// # Errors
///
/// [`Error::Policy`] for a file that cannot be read, parsed or used.
pub fn load() -> Result<Option<SitePolicy>> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    load_from(&policy_path(), home.as_deref())
}

/// Loads a policy file, `None` when it does not exist; `home` expands `~/`.
///
/// # Errors
///
/// As [`load`].
pub fn load_from(path: &Path, home: Option<&Path>) -> Result<Option<SitePolicy>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(policy_error(path, e.to_string())),
    };
    let policy = Policy::parse(&text).map_err(|reason| policy_error(path, reason))?;
    let policy = policy
        .expand_home(home)
        .map_err(|reason| policy_error(path, reason))?;
    Ok(Some(SitePolicy {
        path: path.to_owned(),
        policy,
    }))
}

impl Policy {
    /// Parses and validates a policy's JSON.
    ///
    /// # Errors
    ///
    /// Why it is not a usable policy (unknown keys included: a misspelt lock
    /// must not be silently ignored).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let policy: Policy = serde_json::from_str(text).map_err(|e| e.to_string())?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks values any Sillok can honour.
    ///
    /// # Errors
    ///
    /// Why not.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self
            .idle_lock_minutes
            .is_some_and(|m| !(1..=1440).contains(&m))
        {
            return Err("idle_lock_minutes must be between 1 and 1440".to_owned());
        }
        let paths = self
            .data_dir
            .iter()
            .chain(self.allowed_folders.iter().flatten());
        for path in paths {
            if !(path.is_absolute() || path.starts_with("~")) {
                return Err(format!(
                    "{} must be an absolute path or start with ~/",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    fn expand_home(self, home: Option<&Path>) -> std::result::Result<Self, String> {
        let expand = |path: PathBuf| match path.strip_prefix("~") {
            Ok(rest) => home
                .map(|home| home.join(rest))
                .ok_or_else(|| format!("{} needs HOME to be set", path.display())),
            Err(_) => Ok(path),
        };
        Ok(Policy {
            data_dir: self.data_dir.map(expand).transpose()?,
            allowed_folders: self
                .allowed_folders
                .map(|folders| folders.into_iter().map(expand).collect())
                .transpose()?,
            ..self
        })
    }
}

fn policy_error(path: &Path, reason: String) -> Error {
    Error::Policy {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_policy_loads_with_home_expanded() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("policy.json");
        std::fs::write(
            &path,
            r#"{"data_dir": "~/sillok", "allowed_folders": ["/srv/records", "~/Documents"],
                "idle_lock_minutes": 5, "export_allowed": false}"#,
        )?;
        let loaded = load_from(&path, Some(Path::new("/home/kim")))?.ok_or("no policy")?;
        assert_eq!(loaded.path, path);
        assert_eq!(
            loaded.policy.data_dir,
            Some(PathBuf::from("/home/kim/sillok"))
        );
        assert_eq!(
            loaded.policy.allowed_folders,
            Some(vec![
                PathBuf::from("/srv/records"),
                PathBuf::from("/home/kim/Documents")
            ])
        );
        assert_eq!(loaded.policy.idle_lock_minutes, Some(5));
        assert_eq!(loaded.policy.export_allowed, Some(false));
        Ok(())
    }

    #[test]
    fn no_file_is_no_policy_but_a_bad_file_is_an_error() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("policy.json");
        assert_eq!(load_from(&path, None)?, None);
        for bad in [
            "{",
            r#"{"export_allowd": false}"#,
            r#"{"idle_lock_minutes": 0}"#,
            r#"{"allowed_folders": ["relative/folder"]}"#,
        ] {
            std::fs::write(&path, bad)?;
            assert!(
                matches!(load_from(&path, None), Err(Error::Policy { .. })),
                "{bad} was accepted"
            );
        }
        std::fs::write(&path, r#"{"data_dir": "~/x"}"#)?;
        assert!(matches!(load_from(&path, None), Err(Error::Policy { .. })));
        Ok(())
    }
}
