//! The user's choices that outlive a session (language, profile, models,
//! engine sizes), kept in `<data>/settings.json`. The CLI's flags override
//! them; the app edits them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::error::Category;

use crate::{Error, Result, Sillok};

/// The settings file's name in the data directory.
pub const SETTINGS_FILE: &str = "settings.json";

/// Saved settings; `None` everywhere means "the built-in default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `ko` or `en`; `None` follows the OS locale.
    pub ui_language: Option<String>,
    /// Domain profile name.
    pub profile: Option<String>,
    /// Chat model (catalogue name); `None`: the catalogue default.
    pub chat_model: Option<String>,
    /// Embedding model (catalogue name); `None`: the catalogue default.
    pub embedding_model: Option<String>,
    /// Engine threads; `None`: automatic.
    pub threads: Option<u32>,
    /// Context window in tokens; `None`: automatic.
    pub context_length: Option<u32>,
    /// Fuse BM25 with embedding vectors when an embedding model is active;
    /// `None`: on.
    pub hybrid_search: Option<bool>,
    /// Minutes without use before the vault's data key is dropped from memory
    /// (1 to 1440); `None`: [`crate::vault::DEFAULT_IDLE_LOCK_MINUTES`].
    pub idle_lock_minutes: Option<u32>,
    /// Days audit records are kept before `sillok audit purge` removes them
    /// (730 to 36500); `None`: two years, the least accepted.
    pub audit_retention_days: Option<u32>,
    /// Regular expressions for patient ids / MRNs masked as PHI in logs and
    /// exports, besides the built-in detectors.
    pub phi_patterns: Option<Vec<String>>,
}

impl Settings {
    /// Rejects values no engine or UI can use.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] naming the bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::InvalidSetting {
                reason: reason.to_owned(),
            })
        };
        if let Some(language) = &self.ui_language
            && language != "ko"
            && language != "en"
        {
            return bad("ui_language must be \"ko\" or \"en\"");
        }
        if self.threads.is_some_and(|t| t == 0 || t > 256) {
            return bad("threads must be between 1 and 256");
        }
        if self
            .context_length
            .is_some_and(|c| !(256..=1 << 20).contains(&c))
        {
            return bad("context_length must be between 256 and 1048576 tokens");
        }
        if self
            .idle_lock_minutes
            .is_some_and(|m| !(1..=1440).contains(&m))
        {
            return bad("idle_lock_minutes must be between 1 and 1440");
        }
        if self
            .audit_retention_days
            .is_some_and(|d| !(crate::audit::MIN_RETENTION_DAYS..=36_500).contains(&d))
        {
            return bad(
                "audit_retention_days must be between 730 (two years, the legal minimum for access logs) and 36500",
            );
        }
        if let Some(patterns) = &self.phi_patterns {
            crate::phi::validate_patterns(patterns)?;
        }
        Ok(())
    }

    /// How long the vault's data key may sit unused.
    pub fn idle_lock(&self) -> std::time::Duration {
        let minutes = self
            .idle_lock_minutes
            .unwrap_or(crate::vault::DEFAULT_IDLE_LOCK_MINUTES);
        std::time::Duration::from_secs(u64::from(minutes) * 60)
    }
}

impl Sillok {
    fn settings_path(&self) -> PathBuf {
        self.data_dir().root().join(SETTINGS_FILE)
    }

    /// The saved settings (defaults when none were saved).
    ///
    /// A file that is not JSON at all (cut short by a crash or a full disk,
    /// garbled) is moved aside to `settings.json.damaged-<unix seconds>`, a
    /// warning names the copy, and the defaults are used: the app must start.
    /// A well-formed file with a wrong field or value is an error instead,
    /// since it may come from a newer Sillok or a typo worth fixing by hand.
    ///
    /// # Errors
    ///
    /// [`Error::Settings`] for an unreadable file, or one with unknown fields
    /// or wrong types; [`Error::InvalidSetting`] for values out of range; a
    /// damaged file that cannot be moved aside. Such files are never silently
    /// replaced. Values the site policy fixes (`crate::policy`) replace the
    /// saved ones; an unreadable policy is an error.
    pub fn settings(&self) -> Result<Settings> {
        crate::policy::apply(self.saved_settings()?)
    }

    /// The settings file's values, before the site policy's.
    fn saved_settings(&self) -> Result<Settings> {
        let path = self.settings_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(settings_error(&path, e.to_string())),
        };
        let settings: Settings = match serde_json::from_slice(&bytes) {
            Ok(settings) => settings,
            Err(e) if matches!(e.classify(), Category::Syntax | Category::Eof) => {
                set_aside(&path, &e)?;
                return Ok(Settings::default());
            }
            Err(e) => return Err(settings_error(&path, e.to_string())),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Validates and saves `settings` (atomically: a crash leaves the old or
    /// the new file, never half of one).
    ///
    /// # Errors
    ///
    /// Invalid values, an unknown profile, write failures.
    pub fn save_settings(&self, settings: &Settings) -> Result<()> {
        let before = self.settings().unwrap_or_default();
        let result = self
            .write_settings(settings)
            .and_then(|()| self.apply_idle_lock());
        let event = crate::audit::AuditEvent::new(crate::audit::Action::Settings);
        self.audited(event, result, |(), event| {
            event.object("changed", changed_settings(&before, settings))
        })
    }

    fn write_settings(&self, settings: &Settings) -> Result<()> {
        settings.validate()?;
        crate::policy::check_settings(settings)?;
        if let Some(profile) = &settings.profile {
            self.profile(Some(profile))?;
        }
        let path = self.settings_path();
        let text = serde_json::to_string_pretty(settings)
            .map_err(|e| settings_error(&path, e.to_string()))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| settings_error(&path, e.to_string()))
    }
}

/// The settings that differ, with their new values (none carries patient data).
fn changed_settings(before: &Settings, after: &Settings) -> serde_json::Value {
    let (Ok(serde_json::Value::Object(before)), Ok(serde_json::Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return serde_json::Value::Null;
    };
    let changed: serde_json::Map<String, serde_json::Value> = after
        .into_iter()
        .filter(|(key, value)| before.get(key) != Some(value))
        .collect();
    serde_json::Value::Object(changed)
}

fn settings_error(path: &Path, reason: String) -> Error {
    Error::Settings {
        path: path.to_owned(),
        reason,
    }
}

/// Moves a damaged settings file aside, never over an earlier damaged copy.
fn set_aside(path: &Path, parse_error: &serde_json::Error) -> Result<()> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for attempt in 0..100u32 {
        let name = match attempt {
            0 => format!("{SETTINGS_FILE}.damaged-{stamp}"),
            n => format!("{SETTINGS_FILE}.damaged-{stamp}-{n}"),
        };
        let aside = path.with_file_name(name);
        match std::fs::symlink_metadata(&aside) {
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(settings_error(path, e.to_string())),
        }
        return match std::fs::rename(path, &aside) {
            Ok(()) => {
                // The parse error gives a line and column, never file content.
                tracing::warn!(
                    kept_as = %aside.display(),
                    reason = %parse_error,
                    "the settings file was damaged; it was moved aside and the defaults are used"
                );
                Ok(())
            }
            // Another thread of this process moved it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(settings_error(
                path,
                format!("damaged ({parse_error}) and could not be moved aside: {e}"),
            )),
        };
    }
    Err(settings_error(
        path,
        format!("damaged ({parse_error}) and too many damaged copies are already kept"),
    ))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("json.tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataDir;

    fn sillok() -> (tempfile::TempDir, Sillok) {
        let dir = tempfile::tempdir().expect("test setup");
        let sillok = Sillok::open(DataDir::at(dir.path())).expect("test setup");
        (dir, sillok)
    }

    #[test]
    fn defaults_until_saved_then_round_trips() {
        let (_dir, sillok) = sillok();
        assert_eq!(sillok.settings().expect("test setup"), Settings::default());
        let saved = Settings {
            ui_language: Some("ko".into()),
            profile: Some("clinical".into()),
            threads: Some(2),
            context_length: Some(4096),
            ..Settings::default()
        };
        sillok.save_settings(&saved).expect("test setup");
        assert_eq!(sillok.settings().expect("test setup"), saved);
    }

    #[test]
    fn refuses_bad_values_and_keeps_the_old_file() {
        let (_dir, sillok) = sillok();
        let good = Settings {
            ui_language: Some("en".into()),
            ..Settings::default()
        };
        sillok.save_settings(&good).expect("test setup");
        for bad in [
            Settings {
                ui_language: Some("fr".into()),
                ..Settings::default()
            },
            Settings {
                threads: Some(0),
                ..Settings::default()
            },
            Settings {
                context_length: Some(10),
                ..Settings::default()
            },
            Settings {
                idle_lock_minutes: Some(0),
                ..Settings::default()
            },
            Settings {
                audit_retention_days: Some(365),
                ..Settings::default()
            },
            Settings {
                phi_patterns: Some(vec!["MRN(".into()]),
                ..Settings::default()
            },
        ] {
            let err = sillok.save_settings(&bad).expect_err("must fail");
            assert!(matches!(err, Error::InvalidSetting { .. }), "{err}");
        }
        let err = sillok
            .save_settings(&Settings {
                profile: Some("no-such-profile".into()),
                ..Settings::default()
            })
            .expect_err("must fail");
        assert!(matches!(err, Error::UnknownProfile { .. }), "{err}");
        assert_eq!(sillok.settings().expect("test setup"), good);
    }

    /// The files in the data directory whose names start with `prefix`.
    fn named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("test setup")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_truncated_file_is_kept_aside_and_defaults_are_used() {
        let (dir, sillok) = sillok();
        let saved = Settings {
            ui_language: Some("ko".into()),
            threads: Some(2),
            ..Settings::default()
        };
        sillok.save_settings(&saved).expect("test setup");
        let path = dir.path().join(SETTINGS_FILE);
        let whole = std::fs::read(&path).expect("test setup");
        // Every cut that leaves invalid JSON, and garbage, is set aside.
        let garbled = [&b"\xff\xfe{\x00"[..], b"{ not json", b"", b"   "];
        let cuts = (0..whole.len() - 1).step_by(5).map(|n| &whole[..n]);
        for (round, bad) in cuts.chain(garbled).enumerate() {
            std::fs::write(&path, bad).expect("test setup");
            assert_eq!(sillok.settings().expect("defaults"), Settings::default());
            assert!(
                !path.exists(),
                "round {round}: the damaged file is still in place"
            );
            let aside = named(dir.path(), "settings.json.damaged-");
            assert_eq!(aside.len(), round + 1, "round {round}: {aside:?}");
            // The newest copy holds exactly the damaged bytes.
            let kept: Vec<Vec<u8>> = aside
                .iter()
                .map(|p| std::fs::read(p).expect("test setup"))
                .collect();
            assert!(kept.iter().any(|k| k == bad), "round {round}");
        }
        // Saving again writes a good file; the damaged copies stay.
        sillok.save_settings(&saved).expect("test setup");
        assert_eq!(sillok.settings().expect("test setup"), saved);
    }

    #[test]
    fn a_well_formed_file_with_a_bad_field_is_an_error_not_a_reset() {
        let (dir, sillok) = sillok();
        let path = dir.path().join(SETTINGS_FILE);
        for bad in [
            r#"{"no_such_setting": 1}"#,
            r#"{"threads": "two"}"#,
            r#"{"threads": 0}"#,
        ] {
            std::fs::write(&path, bad).expect("test setup");
            let err = sillok.settings().expect_err("must fail");
            assert!(
                matches!(err, Error::Settings { .. } | Error::InvalidSetting { .. }),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).expect("kept"), bad);
        }
        assert!(named(dir.path(), "settings.json.damaged-").is_empty());
    }
}
