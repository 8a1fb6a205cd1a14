//! The site policy enforced: the data directory, the folders ingestion may
//! read, the idle lock and conversation exports. The file's format and loading
//! are `sillok_bundle::policy`'s; this module says what each lock refuses.
//!
//! The policy is read from disk at each check (it is small), so every front
//! end honours it from its first operation, and a policy file that becomes
//! unreadable stops work instead of being ignored.

use std::path::{Path, PathBuf};

use sillok_bundle::policy::{self, SitePolicy};

use crate::{Error, Result, Settings, Sillok};

pub use sillok_bundle::policy::{POLICY_ENV, POLICY_PATH, Policy};

/// The machine's policy, `None` when none is installed.
///
/// # Errors
///
/// A policy file that cannot be read or parsed.
pub fn load() -> Result<Option<SitePolicy>> {
    Ok(policy::load()?)
}

/// The data directory the policy fixes, if it fixes one.
pub(crate) fn locked_data_dir() -> Result<Option<PathBuf>> {
    Ok(load()?.and_then(|site| site.policy.data_dir))
}

/// Refuses a data directory other than the policy's.
pub(crate) fn check_data_dir(dir: &Path) -> Result<()> {
    let Some(site) = load()? else {
        return Ok(());
    };
    match &site.policy.data_dir {
        Some(locked) if !same_path(locked, dir) => Err(Error::PolicyLocked {
            setting: "the data directory",
            value: locked.display().to_string(),
            policy: site.path,
        }),
        _ => Ok(()),
    }
}

/// Refuses any root outside the policy's allowed folders.
pub(crate) fn check_folders(roots: &[PathBuf]) -> Result<()> {
    let Some(site) = load()? else {
        return Ok(());
    };
    let Some(allowed) = &site.policy.allowed_folders else {
        return Ok(());
    };
    let allowed: Vec<PathBuf> = allowed.iter().map(|a| resolved(a)).collect();
    for root in roots {
        let root_resolved = resolved(root);
        if !allowed.iter().any(|a| root_resolved.starts_with(a)) {
            return Err(Error::FolderNotAllowed {
                folder: root.clone(),
                allowed: allowed
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                policy: site.path.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses exports when the policy turns them off.
pub(crate) fn check_export() -> Result<()> {
    match load()? {
        Some(site) if site.policy.export_allowed == Some(false) => {
            Err(Error::ExportDisallowed { policy: site.path })
        }
        _ => Ok(()),
    }
}

/// Settings as the policy makes them: its locked values replace the saved ones.
pub(crate) fn apply(settings: Settings) -> Result<Settings> {
    Ok(apply_from(settings, load()?.as_ref()))
}

/// Refuses settings that change what the policy locks.
pub(crate) fn check_settings(settings: &Settings) -> Result<()> {
    check_settings_against(settings, load()?.as_ref())
}

fn apply_from(mut settings: Settings, site: Option<&SitePolicy>) -> Settings {
    if let Some(minutes) = site.and_then(|site| site.policy.idle_lock_minutes) {
        settings.idle_lock_minutes = Some(minutes);
    }
    settings
}

fn check_settings_against(settings: &Settings, site: Option<&SitePolicy>) -> Result<()> {
    let Some(site) = site else {
        return Ok(());
    };
    if let Some(locked) = site.policy.idle_lock_minutes
        && settings.idle_lock_minutes.is_some_and(|m| m != locked)
    {
        return Err(Error::PolicyLocked {
            setting: "idle_lock_minutes",
            value: locked.to_string(),
            policy: site.path.clone(),
        });
    }
    Ok(())
}

impl Sillok {
    /// The machine's site policy, `None` when none is installed.
    ///
    /// # Errors
    ///
    /// A policy file that cannot be read or parsed.
    pub fn site_policy(&self) -> Result<Option<SitePolicy>> {
        load()
    }
}

/// The path with symlinks resolved when it exists, made absolute otherwise.
fn resolved(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

fn same_path(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idle_lock_is_the_policy_s_and_cannot_be_changed()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let site = SitePolicy {
            path: PathBuf::from("/etc/sillok/policy.json"),
            policy: Policy {
                idle_lock_minutes: Some(5),
                ..Policy::default()
            },
        };
        let saved = Settings {
            idle_lock_minutes: Some(60),
            ..Settings::default()
        };
        let effective = apply_from(saved.clone(), Some(&site));
        assert_eq!(effective.idle_lock(), std::time::Duration::from_secs(300));
        assert_eq!(apply_from(saved.clone(), None), saved);
        // Saving what the policy says (the app sends settings back whole) is fine.
        check_settings_against(&effective, Some(&site))?;
        check_settings_against(&Settings::default(), Some(&site))?;
        let refused = check_settings_against(&saved, Some(&site));
        match refused {
            Err(e @ Error::PolicyLocked { .. }) => {
                assert!(e.is_user_error());
                let message = e.to_string();
                assert!(
                    message.contains("idle_lock_minutes is fixed to 5"),
                    "{message}"
                );
                assert!(message.contains("/etc/sillok/policy.json"), "{message}");
            }
            other => return Err(format!("not refused: {other:?}").into()),
        }
        check_settings_against(&saved, None)?;
        Ok(())
    }

    #[test]
    fn paths_compare_after_resolving() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let real = dir.path().join("real");
        std::fs::create_dir(&real)?;
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link)?;
        assert!(same_path(&real, &link));
        assert!(same_path(&real, &dir.path().join("real/../real")));
        assert!(!same_path(&real, dir.path()));
        Ok(())
    }
}
