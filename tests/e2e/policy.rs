//! The site policy (`SILLOK_POLICY_FILE` here, `/etc/sillok/policy.json` on a
//! machine) honoured by the real `sillok`: the data directory, the folders
//! ingestion may read and exports are locked, and a broken policy stops
//! Sillok instead of being ignored. (The idle lock's lock is unit-tested in
//! `core/src/policy.rs`: the CLI has no settings command.)

use std::path::Path;
use std::process::Command;

use crate::util::{Sillok, TestResult};

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// `sillok` with the policy file at `policy`.
fn with_policy(sillok: &Sillok, policy: &Path) -> Command {
    let mut cmd = sillok.command();
    cmd.env("SILLOK_POLICY_FILE", policy);
    cmd
}

/// Runs and returns (exit code, stdout + stderr).
fn run(mut cmd: Command, args: &[&str]) -> Result<(Option<i32>, String), std::io::Error> {
    let out = cmd.args(args).output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.code(), text))
}

#[test]
fn the_policy_fixes_the_data_directory() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home)?;
    let policy = tmp.path().join("policy.json");
    std::fs::write(&policy, r#"{"data_dir": "~/site-data"}"#)?;
    // No data directory given: the policy's, under the user's home.
    let mut cmd = with_policy(&sillok, &policy);
    cmd.env_remove("SILLOK_DATA_DIR").env("HOME", &home);
    let (code, out) = run(cmd, &["models", "list"])?;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        home.join("site-data/models").is_dir(),
        "the policy's data directory is used"
    );
    // Another one, by environment or flag: refused, naming the policy.
    for args in [
        vec!["models", "list"],
        vec!["--data-dir", s(tmp.path()), "models", "list"],
    ] {
        let mut cmd = with_policy(&sillok, &policy);
        cmd.env("HOME", &home);
        let (code, out) = run(cmd, &args)?;
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("the data directory is fixed to"), "{out}");
        assert!(out.contains(s(&policy)), "the policy file is named: {out}");
    }
    assert!(
        !sillok.dir.path().join("models").exists(),
        "nothing was created in the refused data directory"
    );
    Ok(())
}

#[test]
fn ingestion_refuses_folders_outside_the_allowed_ones() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let allowed = tmp.path().join("allowed");
    let other = tmp.path().join("other");
    std::fs::create_dir_all(allowed.join("ward"))?;
    std::fs::create_dir(&other)?;
    std::fs::write(
        allowed.join("ward/note.txt"),
        "Synthetic ward note about insulin.\n",
    )?;
    std::fs::write(
        other.join("note.txt"),
        "Synthetic note outside the allowed folder.\n",
    )?;
    // A link inside the allowed folder that leads out of it.
    std::os::unix::fs::symlink(&other, allowed.join("escape"))?;
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        format!(r#"{{"allowed_folders": [{:?}]}}"#, s(&allowed)),
    )?;
    for refused in [other.clone(), allowed.join("escape")] {
        let (code, out) = run(
            with_policy(&sillok, &policy),
            &["ingest", s(&refused), "--collection", "c"],
        )?;
        assert_eq!(code, Some(2), "{out}");
        assert!(
            out.contains("is outside the folders the site policy"),
            "{out}"
        );
        assert!(out.contains(s(&policy)), "{out}");
    }
    let (code, out) = run(
        with_policy(&sillok, &policy),
        &["ingest", s(&allowed.join("ward")), "--collection", "c"],
    )?;
    assert_eq!(
        code,
        Some(0),
        "a subfolder of an allowed folder is allowed: {out}"
    );
    let (code, out) = run(
        with_policy(&sillok, &policy),
        &["search", "insulin", "--json"],
    )?;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("note.txt"), "{out}");
    Ok(())
}

#[test]
fn exports_are_refused_when_the_policy_turns_them_off() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let policy = tmp.path().join("policy.json");
    std::fs::write(&policy, r#"{"export_allowed": false}"#)?;
    let export = ["conversations", "export", "1", "--reason", "referral"];
    let (code, out) = run(with_policy(&sillok, &policy), &export)?;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("exports are turned off by the site policy"),
        "{out}"
    );
    // The same export without the policy fails for its own reason only.
    let (_, out) = run(
        with_policy(&sillok, &tmp.path().join("no-such-policy.json")),
        &export,
    )?;
    assert!(!out.contains("site policy"), "{out}");
    std::fs::write(&policy, r#"{"export_allowed": true}"#)?;
    let (_, out) = run(with_policy(&sillok, &policy), &export)?;
    assert!(!out.contains("site policy"), "{out}");
    Ok(())
}

#[test]
fn a_broken_policy_stops_sillok_naming_the_file() -> TestResult {
    let sillok = Sillok::new();
    let tmp = tempfile::tempdir()?;
    let policy = tmp.path().join("policy.json");
    for broken in [
        r#"{"export_allowd": false}"#,
        r#"{"idle_lock_minutes": 0}"#,
        "{ not json",
    ] {
        std::fs::write(&policy, broken)?;
        let (code, out) = run(with_policy(&sillok, &policy), &["models", "list"])?;
        assert_eq!(code, Some(2), "{broken}: {out}");
        assert!(out.contains("cannot use the site policy"), "{out}");
        assert!(out.contains(s(&policy)), "{out}");
    }
    Ok(())
}
