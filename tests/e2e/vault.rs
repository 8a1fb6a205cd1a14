//! `sillok vault …` against a real Secret Service. Each test starts its own
//! private session bus and gnome-keyring through `installer/with-keyring.sh`,
//! so a test can delete or lock keychain items without disturbing another.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Sillok, TestResult, json_lines};

const PASSPHRASE: &str = "correct horse battery staple";

/// A private keyring for one test: alive until dropped.
struct Keyring {
    child: Child,
    address: String,
}

impl Keyring {
    fn start() -> Keyring {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../installer/with-keyring.sh");
        // The command prints the bus address, then waits for its standard
        // input to close (when the test drops the keyring).
        let mut child = Command::new(&script)
            .args(["sh", "-c", "echo \"$DBUS_SESSION_BUS_ADDRESS\"; read _"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let mut address = String::new();
        if let Some(stdout) = child.stdout.take() {
            BufReader::new(stdout)
                .read_line(&mut address)
                .unwrap_or_else(|e| panic!("with-keyring.sh: {e}"));
        }
        let address = address.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "with-keyring.sh gave no session bus (is gnome-keyring installed? installer/dev-setup.sh installs it): {address:?}"
        );
        Keyring { child, address }
    }

    fn sillok(&self, s: &Sillok, args: &[&str], stdin: Option<&str>) -> Output {
        self.sillok_with(s, args, stdin, &[])
    }

    fn sillok_with(
        &self,
        s: &Sillok,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = s.command();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run sillok: {e}"));
        // Standard input is closed either way (dropped here), so a command
        // that reads it never waits.
        if let Some(mut input) = child.stdin.take()
            && let Some(text) = stdin
        {
            input
                .write_all(text.as_bytes())
                .unwrap_or_else(|e| panic!("stdin: {e}"));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("sillok: {e}"))
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, s: &Sillok, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.sillok(s, args, stdin);
        assert!(
            out.status.success(),
            "sillok {args:?} failed ({:?}):\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and requires exit status 2 (a user error); returns stderr.
    fn refused(&self, s: &Sillok, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.sillok(s, args, stdin);
        assert_eq!(
            out.status.code(),
            Some(2),
            "sillok {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn status(&self, s: &Sillok) -> serde_json::Value {
        json_lines(&self.ok(s, &["vault", "status", "--json"], None))
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    fn tool(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// The accounts of Sillok's items in this keyring.
    fn sillok_items(&self) -> Vec<String> {
        let out = self.tool("secret-tool", &["search", "--all", "service", "sillok"]);
        // secret-tool prints the attributes on stderr and the secrets on stdout.
        let mut items: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("attribute.username = "))
            .map(str::to_owned)
            .collect();
        items.sort();
        items
    }

    fn lock_login_collection(&self) {
        let out = self.tool(
            "dbus-send",
            &[
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                "/org/freedesktop/secrets",
                "org.freedesktop.Secret.Service.Lock",
                "array:objpath:/org/freedesktop/secrets/collection/login",
            ],
        );
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // Closing its standard input ends the session: the bus and the daemon
        // go, and with-keyring.sh removes the keyring files.
        drop(self.child.stdin.take());
        if let Err(e) = self.child.wait() {
            eprintln!("with-keyring.sh: {e}");
        }
    }
}

/// The recovery key `init` or `recovery-key` printed.
fn recovery_key(stdout: &str) -> String {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 44 && l.matches('-').count() == 8)
        .unwrap_or_else(|| panic!("no recovery key in {stdout}"))
        .to_owned()
}

/// The key with one character mistyped.
fn with_first_char_changed(key: &str) -> String {
    let replacement = if key.starts_with('Z') { "Y" } else { "Z" };
    format!("{replacement}{}", &key[1..])
}

fn init(k: &Keyring, s: &Sillok) -> String {
    let out = k.ok(
        s,
        &["vault", "init", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    assert!(out.contains("created the vault"), "{out}");
    recovery_key(&out)
}

#[test]
fn the_keychain_unlocks_and_a_lost_item_fails_closed_until_recovered() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    assert!(
        k.ok(&s, &["vault", "status"], None).contains("no vault"),
        "a fresh data directory has no vault"
    );
    let recovery = init(&k, &s);
    let vault_file = std::fs::read_to_string(s.dir.path().join("vault.json"))?;
    assert!(!vault_file.contains(&recovery));

    let text = k.ok(&s, &["vault", "status"], None);
    assert!(
        text.contains("state         unlocked (OS keychain)"),
        "{text}"
    );
    let status = k.status(&s);
    assert_eq!(status["unlocked"], "keychain");
    assert_eq!(status["keychain"], "ok");
    assert_eq!(status["passphrase"], true);
    assert_eq!(status["recovery_key"], true);
    let key_id = status["key_id"].clone();
    let item = status["keychain_item"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let vault_id = status["vault_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        k.sillok_items(),
        vec![format!("vault-{vault_id}/audit-hmac"), item.clone()]
    );

    // The keychain loses the item: everything fails closed and says what to do.
    let cleared = k.tool(
        "secret-tool",
        &["clear", "service", "sillok", "username", &item],
    );
    assert!(cleared.status.success(), "{cleared:?}");
    let status = k.status(&s);
    assert_eq!(status["unlocked"], serde_json::Value::Null);
    assert_eq!(status["keychain"], "missing");
    let reason = status["locked_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("--passphrase") && reason.contains("--recovery-key"),
        "{reason}"
    );
    for args in [
        &["vault", "unlock"][..],
        &["vault", "rotate"],
        &["vault", "recovery-key"],
    ] {
        let err = k.refused(&s, args, None);
        assert!(
            err.contains("cannot unlock the vault with the OS keychain")
                && err.contains("sillok vault unlock --recovery-key")
                && err.contains("has no item"),
            "{args:?}: {err}"
        );
    }
    // Nothing was re-created or replaced meanwhile.
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("vault.json"))?,
        vault_file
    );
    assert!(
        k.refused(&s, &["vault", "init"], None)
            .contains("already exists")
    );

    let err = k.refused(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some("correct horse battery stapler\n"),
    );
    assert!(err.contains("wrong passphrase"), "{err}");
    let err = k.refused(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{}\n", with_first_char_changed(&recovery))),
    );
    assert!(err.contains("mistyped"), "{err}");

    // The recovery key opens it and puts a key back in the keychain.
    let out = k.ok(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{}\n", recovery.to_lowercase())),
    );
    assert!(out.contains("unlocked with the recovery key"), "{out}");
    assert!(out.contains("holds it again"), "{out}");
    let status = k.status(&s);
    assert_eq!(status["unlocked"], "keychain");
    assert_eq!(status["key_id"], key_id);
    assert_ne!(status["keychain_item"], item.as_str());

    let out = k.ok(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    assert!(out.contains("unlocked with the passphrase"), "{out}");
    Ok(())
}

#[test]
fn a_locked_keychain_is_refused_and_left_alone() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    init(&k, &s);
    let before = std::fs::read_to_string(s.dir.path().join("vault.json"))?;
    k.lock_login_collection();

    // Headless, gnome-keyring cannot show its unlock prompt: a refusal, quickly.
    let started = Instant::now();
    let status = k.status(&s);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(status["unlocked"], serde_json::Value::Null);
    assert_eq!(status["keychain"], "locked", "{status}");
    let err = k.refused(&s, &["vault", "unlock"], None);
    assert!(err.contains("locked or refused access"), "{err}");

    let out = k.sillok(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("still cannot open"),
        "{out:?}"
    );
    // A locked keychain is not a lost one: nothing was rotated.
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("vault.json"))?,
        before
    );
    Ok(())
}

#[test]
fn no_keychain_or_a_network_bus_is_a_clear_error() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let missing = [("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")];
    let out = k.sillok_with(&s, &["vault", "init"], None, &missing);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the OS keychain is not available"), "{err}");
    assert!(!s.dir.path().join("vault.json").exists());

    let network = [("DBUS_SESSION_BUS_ADDRESS", "tcp:host=127.0.0.1,port=9")];
    let out = k.sillok_with(&s, &["vault", "init"], None, &network);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a local unix socket"), "{err}");

    // With a vault made, a missing keychain only closes the keychain's door.
    init(&k, &s);
    let out = k.sillok_with(&s, &["vault", "unlock"], None, &missing);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--passphrase"));
    let out = k.sillok_with(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
        &missing,
    );
    assert!(out.status.success(), "{out:?}");
    Ok(())
}

#[test]
fn rotation_survives_a_crash_at_every_step() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let recovery = init(&k, &s);
    let first = k.status(&s);
    let key_id = first["key_id"].clone();
    let vault_id = first["vault_id"].as_str().unwrap_or_default().to_owned();
    // Debug builds abort at the named step (release builds ignore it).
    let crash_points = [
        ("temp-written", false),
        ("rotate-intent-written", false),
        ("rotate-new-kek-stored", false),
        ("rotate-switched", true),
        ("rotate-old-kek-deleted", true),
    ];
    for (point, switched) in crash_points {
        let before = k.status(&s)["keychain_item"].clone();
        let out = k.sillok_with(
            &s,
            &["vault", "rotate"],
            None,
            &[("SILLOK_TEST_CRASH_AT", point)],
        );
        assert_eq!(
            out.status.code(),
            None,
            "{point}: it should have crashed: {out:?}"
        );

        // The next run opens it from the keychain, with the same data key, and
        // tidies what the crash left.
        let status = k.status(&s);
        assert_eq!(status["unlocked"], "keychain", "{point}: {status}");
        assert_eq!(status["key_id"], key_id, "{point}");
        assert_eq!(status["keychain_item"] != before, switched, "{point}");
        let item = status["keychain_item"].as_str().unwrap_or_default();
        assert_eq!(
            k.sillok_items(),
            vec![format!("vault-{vault_id}/audit-hmac"), item.to_owned()],
            "{point}"
        );
        let vault_file = std::fs::read_to_string(s.dir.path().join("vault.json"))?;
        assert!(!vault_file.contains("stale_keks"), "{point}: {vault_file}");
    }
    let out = k.ok(&s, &["vault", "rotate"], None);
    assert!(out.contains("rotated"), "{out}");
    assert_eq!(k.status(&s)["key_id"], key_id);
    // The other ways in were never touched.
    k.ok(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    k.ok(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{recovery}\n")),
    );
    Ok(())
}

#[test]
fn recovery_key_and_passphrase_can_be_replaced() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let old = init(&k, &s);
    let new = recovery_key(&k.ok(&s, &["vault", "recovery-key"], None));
    assert_ne!(old, new);
    let err = k.refused(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{old}\n")),
    );
    assert!(err.contains("does not open this vault"), "{err}");
    k.ok(
        &s,
        &["vault", "unlock", "--recovery-key-stdin"],
        Some(&format!("{new}\n")),
    );

    // Old passphrase to unlock, new one to set: one line each.
    k.ok(
        &s,
        &[
            "vault",
            "passphrase",
            "--passphrase-stdin",
            "--new-passphrase-stdin",
        ],
        Some(&format!("{PASSPHRASE}\n새 비밀번호는 충분히 길다\n")),
    );
    k.refused(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some(&format!("{PASSPHRASE}\n")),
    );
    k.ok(
        &s,
        &["vault", "unlock", "--passphrase-stdin"],
        Some("새 비밀번호는 충분히 길다\n"),
    );
    let err = k.refused(
        &s,
        &["vault", "passphrase", "--new-passphrase-stdin"],
        Some("short\n"),
    );
    assert!(err.contains("at least 8"), "{err}");
    k.ok(&s, &["vault", "passphrase", "--remove"], None);
    assert_eq!(k.status(&s)["passphrase"], false);
    Ok(())
}

#[test]
fn destroy_asks_then_removes_the_file_and_the_keychain_items() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    init(&k, &s);
    let vault_id = k.status(&s)["vault_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let err = k.refused(&s, &["vault", "destroy"], Some("destroy\n"));
    assert!(err.contains("--yes"), "{err}");
    assert!(s.dir.path().join("vault.json").exists());

    let out = k.ok(&s, &["vault", "destroy", "--yes"], None);
    assert!(out.contains("2 keychain items removed"), "{out}");
    assert!(!s.dir.path().join("vault.json").exists());
    assert!(k.sillok_items().is_empty());
    assert!(k.ok(&s, &["vault", "status"], None).contains("no vault"));
    // A new vault is a new key.
    init(&k, &s);
    assert_ne!(k.status(&s)["vault_id"], vault_id.as_str());
    Ok(())
}

#[test]
fn a_library_from_before_the_vault_is_adopted_but_a_lost_vault_is_never_replaced() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    let docs = tempfile::tempdir()?;
    std::fs::write(docs.path().join("note.txt"), "혈압약 처방 기록입니다.\n")?;
    at_rest::pre_vault_data_dir(s.dir.path(), docs.path())?;
    // First use: a vault is made for the plaintext library, which is encrypted.
    let out = k.ok(&s, &["search", "혈압약", "--json"], None);
    assert!(out.contains("note.txt"), "{out}");
    assert!(s.dir.path().join("vault.json").exists());

    // Encrypted data whose vault file is lost: nothing makes a new vault over it.
    std::fs::remove_file(s.dir.path().join("vault.json"))?;
    let err = k.refused(&s, &["vault", "init"], None);
    assert!(
        err.contains("holds library data but no vault file"),
        "{err}"
    );
    let out = k.sillok(&s, &["search", "혈압약", "--json"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!s.dir.path().join("vault.json").exists());
    Ok(())
}

#[test]
fn the_process_disables_core_dumps() -> TestResult {
    let k = Keyring::start();
    let s = Sillok::new();
    init(&k, &s);
    // A command that waits on standard input stays alive to be looked at.
    let mut child = s
        .command()
        .env("DBUS_SESSION_BUS_ADDRESS", &k.address)
        .args(["vault", "unlock", "--passphrase-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let limits = format!("/proc/{}/limits", child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen = std::fs::read_to_string(&limits).unwrap_or_default();
        if no_core_files(&seen) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(mut input) = child.stdin.take() {
        writeln!(input, "{PASSPHRASE}")?;
    }
    assert!(child.wait()?.success());
    assert!(no_core_files(&seen), "{seen}");
    Ok(())
}

/// True when `/proc/PID/limits` shows a core-file limit of 0, soft and hard.
fn no_core_files(limits: &str) -> bool {
    limits.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.starts_with(&["Max", "core", "file", "size"])
            && fields.get(4..6) == Some(&["0", "0"][..])
    })
}

mod at_rest;
mod backup;
mod lock_audit;
