//! End-to-end tests of the real `sillok-installer` binary: a bundle built
//! with a key the test generates verifies; one changed byte in a model, the
//! manifest or the signature, another key, an extra or a missing file are
//! each refused (exit status 3) naming what differs; install places models,
//! key and policy under a temporary root (dpkg itself runs in the heavy
//! check, in a Debian root).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn installer() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sillok-installer"))
}

fn run(args: &[&str]) -> Output {
    installer()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sillok-installer: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and requires `code`; returns stdout and stderr together.
fn expect(code: i32, args: &[&str]) -> String {
    let out = run(args);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "sillok-installer {args:?}:\n{all}"
    );
    all
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// The app package: `$SILLOK_APP_DEB` (the real .deb, when the packaging
/// step built one), else the debug `sillok` binary built beside this one,
/// else the installer binary itself: the bundle treats it as bytes.
fn app_file() -> PathBuf {
    if let Some(deb) = std::env::var_os("SILLOK_APP_DEB") {
        return PathBuf::from(deb);
    }
    let me = PathBuf::from(env!("CARGO_BIN_EXE_sillok-installer"));
    let sillok = me.with_file_name("sillok");
    if sillok.is_file() { sillok } else { me }
}

/// A temporary folder with a throwaway key pair, two synthetic system
/// packages and two synthetic models.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let site = Site {
            dir: tempfile::tempdir()?,
        };
        // keygen creates its folder.
        let keys = site.path("keys");
        expect(0, &["keygen", "--out-dir", s(&keys), "--no-password"]);
        std::fs::create_dir(site.path("debs"))?;
        std::fs::write(
            site.path("debs/libfoo_1.0_amd64.deb"),
            b"synthetic package foo",
        )?;
        std::fs::write(
            site.path("debs/libbar_2.0_amd64.deb"),
            b"synthetic package bar",
        )?;
        std::fs::write(site.path("debs/README"), b"not a package: left out")?;
        std::fs::write(site.path("chat.gguf"), vec![7u8; 64 * 1024])?;
        std::fs::write(site.path("embed.gguf"), vec![9u8; 32 * 1024])?;
        Ok(site)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn pubkey(&self) -> PathBuf {
        self.path("keys/sillok-release.pub")
    }

    fn build(&self, name: &str) -> PathBuf {
        let out = self.path(name);
        expect(
            0,
            &[
                "build",
                "--out",
                s(&out),
                "--deb",
                s(&app_file()),
                "--system-debs",
                s(&self.path("debs")),
                "--model",
                s(&self.path("chat.gguf")),
                "--model",
                s(&self.path("embed.gguf")),
                "--secret-key",
                s(&self.path("keys/sillok-release.key")),
                "--version",
                "0.9.0",
            ],
        );
        out
    }

    fn verify(&self, bundle: &Path, code: i32) -> String {
        expect(code, &["verify", s(bundle), "--pubkey", s(&self.pubkey())])
    }
}

fn flip_byte(path: &Path, at: usize) -> TestResult {
    let mut bytes = std::fs::read(path)?;
    let byte = bytes.get_mut(at).ok_or("file too short")?;
    *byte ^= 0x01;
    std::fs::write(path, bytes)?;
    Ok(())
}

#[test]
fn a_built_bundle_verifies_and_has_the_documented_layout() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    let out = site.verify(&bundle, 0);
    assert!(out.contains("verified: bundle 0.9.0, 9 files"), "{out}");
    let key_line = std::fs::read_to_string(site.pubkey())?;
    let public = key_line.lines().nth(1).ok_or("no key line")?;
    assert!(
        out.contains(public),
        "the key is shown for the officer: {out}"
    );
    for file in [
        "MANIFEST",
        "MANIFEST.minisig",
        "install",
        "sillok-installer",
        "system/libbar_2.0_amd64.deb",
        "system/libfoo_1.0_amd64.deb",
        "models/MANIFEST",
        "models/MANIFEST.minisig",
        "models/chat.gguf",
        "models/embed.gguf",
    ] {
        assert!(bundle.join(file).is_file(), "{file} missing");
    }
    let app = app_file();
    let app_name = app.file_name().ok_or("no name")?;
    assert!(bundle.join("app").join(app_name).is_file());
    assert!(!bundle.join("system/README").exists());
    let manifest = std::fs::read_to_string(bundle.join("MANIFEST"))?;
    let mut lines = manifest.lines();
    assert_eq!(lines.next(), Some("sillok-bundle-manifest 1"));
    assert_eq!(lines.next(), Some("version 0.9.0"));
    let chat = lines
        .find(|l| l.ends_with("  models/chat.gguf"))
        .ok_or("chat.gguf not listed")?;
    assert!(chat.contains(&format!("  {}  ", 64 * 1024)), "{chat}");
    // The models folder is a model bundle of its own.
    let models = site.verify(&bundle.join("models"), 0);
    assert!(
        models.contains("verified: bundle 0.9.0, 2 files"),
        "{models}"
    );
    // The official minisign format: a second tool can read the signature.
    let signature = std::fs::read_to_string(bundle.join("MANIFEST.minisig"))?;
    assert!(signature.starts_with("untrusted comment: "));
    assert!(signature.contains("trusted comment: timestamp:"));
    Ok(())
}

#[test]
fn a_changed_byte_in_a_model_is_refused_naming_it() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    flip_byte(&bundle.join("models/chat.gguf"), 1000)?;
    let out = site.verify(&bundle, 3);
    assert!(
        out.contains("models/chat.gguf has another SHA-256"),
        "{out}"
    );
    assert!(
        !out.contains("embed.gguf"),
        "only the changed file is named: {out}"
    );
    Ok(())
}

#[test]
fn a_changed_byte_in_the_manifest_is_refused() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    // A hex digit of the first file's hash (line 3), still a valid manifest.
    let manifest = std::fs::read_to_string(bundle.join("MANIFEST"))?;
    let at = manifest.find("\n").ok_or("short")? + "version 0.9.0\n".len() + 5;
    flip_byte(&bundle.join("MANIFEST"), at)?;
    let out = site.verify(&bundle, 3);
    assert!(
        out.contains("MANIFEST.minisig does not match MANIFEST"),
        "{out}"
    );
    Ok(())
}

#[test]
fn a_changed_byte_in_the_signature_is_refused() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    let path = bundle.join("MANIFEST.minisig");
    let signature = std::fs::read_to_string(&path)?;
    // Inside the Ed25519 signature (after algorithm and key id) of line 2.
    let at = signature.find('\n').ok_or("short")? + 1 + 40;
    let mut bytes = signature.into_bytes();
    let byte = bytes.get_mut(at).ok_or("short")?;
    *byte = if *byte == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, bytes)?;
    let out = site.verify(&bundle, 3);
    assert!(out.contains("MANIFEST.minisig does not match"), "{out}");
    Ok(())
}

#[test]
fn another_public_key_is_refused() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    let other = site.path("other");
    std::fs::create_dir(&other)?;
    expect(0, &["keygen", "--out-dir", s(&other), "--no-password"]);
    let out = expect(
        3,
        &[
            "verify",
            s(&bundle),
            "--pubkey",
            s(&other.join("sillok-release.pub")),
        ],
    );
    assert!(out.contains("not by the trusted key"), "{out}");
    Ok(())
}

#[test]
fn extra_missing_and_linked_files_are_refused() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    std::fs::write(bundle.join("models/extra.gguf"), b"smuggled")?;
    std::fs::remove_file(bundle.join("system/libfoo_1.0_amd64.deb"))?;
    std::os::unix::fs::symlink("/etc/hostname", bundle.join("system/link.deb"))?;
    let out = site.verify(&bundle, 3);
    assert!(
        out.contains("models/extra.gguf is not in the MANIFEST"),
        "{out}"
    );
    assert!(
        out.contains("system/libfoo_1.0_amd64.deb is in the MANIFEST but missing"),
        "{out}"
    );
    assert!(out.contains("system/link.deb is a link"), "{out}");
    Ok(())
}

#[test]
fn a_bundle_without_a_signature_is_not_a_bundle() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    std::fs::remove_file(bundle.join("MANIFEST.minisig"))?;
    let out = site.verify(&bundle, 2);
    assert!(out.contains("MANIFEST.minisig is missing"), "{out}");
    Ok(())
}

#[test]
fn install_dry_run_prints_the_plan_and_changes_nothing() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    let root = site.path("root");
    std::fs::create_dir(&root)?;
    let out = expect(
        0,
        &[
            "install",
            s(&bundle),
            "--pubkey",
            s(&site.pubkey()),
            "--root",
            s(&root),
            "--dry-run",
        ],
    );
    assert!(out.contains("plan: dpkg --root="), "{out}");
    assert!(
        out.find("system/libbar_2.0_amd64.deb") < out.find("app/"),
        "system packages come before the app: {out}"
    );
    assert!(out.contains("var/lib/sillok/models/chat.gguf"), "{out}");
    assert!(out.contains("dry run: nothing changed"), "{out}");
    assert_eq!(std::fs::read_dir(&root)?.count(), 0, "the root was touched");
    Ok(())
}

#[test]
fn install_places_models_key_and_policy_under_a_root() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    let root = site.path("root");
    let policy = site.path("policy.json");
    std::fs::write(
        &policy,
        r#"{"idle_lock_minutes": 10, "export_allowed": false}"#,
    )?;
    let pubkey = site.pubkey();
    let install = |extra: &[&str], code: i32| {
        let mut args = vec![
            "install",
            s(&bundle),
            "--pubkey",
            s(&pubkey),
            "--root",
            s(&root),
            "--no-packages",
            "--policy",
            s(&policy),
        ];
        args.extend_from_slice(extra);
        expect(code, &args)
    };
    // Not a terminal and no --yes: refused before anything is written.
    let out = install(&[], 2);
    assert!(out.contains("--yes"), "{out}");
    assert!(!root.exists());
    install(&["--yes"], 0);
    let models = root.join("var/lib/sillok/models");
    assert_eq!(
        std::fs::read(models.join("chat.gguf"))?,
        vec![7u8; 64 * 1024]
    );
    // The placed folder is still a signed model bundle.
    let out = site.verify(&models, 0);
    assert!(out.contains("2 files"), "{out}");
    assert_eq!(
        std::fs::read(root.join("etc/sillok/release.pub"))?,
        std::fs::read(site.pubkey())?
    );
    assert_eq!(
        std::fs::read(root.join("etc/sillok/policy.json"))?,
        std::fs::read(&policy)?
    );
    // A second install (an upgrade) replaces the model folder wholly.
    std::fs::write(models.join("left-over.gguf"), b"old")?;
    install(&["--yes"], 0);
    assert!(!models.join("left-over.gguf").exists());
    site.verify(&models, 0);
    // A policy with a misspelt lock is refused before anything is installed.
    std::fs::write(&policy, r#"{"export_allowd": false}"#)?;
    let out = install(&["--yes"], 2);
    assert!(out.contains("not a usable policy"), "{out}");
    Ok(())
}

#[test]
fn install_refuses_a_tampered_bundle_before_touching_the_root() -> TestResult {
    let site = Site::new()?;
    let bundle = site.build("bundle");
    flip_byte(&bundle.join("models/embed.gguf"), 7)?;
    let root = site.path("root");
    let out = expect(
        3,
        &[
            "install",
            s(&bundle),
            "--pubkey",
            s(&site.pubkey()),
            "--root",
            s(&root),
            "--no-packages",
            "--yes",
        ],
    );
    assert!(
        out.contains("models/embed.gguf has another SHA-256"),
        "{out}"
    );
    assert!(out.contains("nothing was installed"), "{out}");
    assert!(!root.exists());
    Ok(())
}

#[test]
fn a_password_protected_key_signs_only_with_its_password() -> TestResult {
    let site = Site::new()?;
    let keys = site.path("protected");
    std::fs::create_dir(&keys)?;
    let password = site.path("password");
    std::fs::write(&password, "correct horse battery staple\n")?;
    expect(
        0,
        &[
            "keygen",
            "--out-dir",
            s(&keys),
            "--name",
            "k",
            "--password-file",
            s(&password),
        ],
    );
    let key_text = std::fs::read_to_string(keys.join("k.key"))?;
    assert!(!key_text.contains("correct horse"));
    let build = |out: &str, code: i32| {
        expect(
            code,
            &[
                "build-models",
                "--out",
                s(&site.path(out)),
                "--model",
                s(&site.path("chat.gguf")),
                "--secret-key",
                s(&keys.join("k.key")),
                "--password-file",
                s(&password),
            ],
        )
    };
    build("models-ok", 0);
    expect(
        0,
        &[
            "verify",
            s(&site.path("models-ok")),
            "--pubkey",
            s(&keys.join("k.pub")),
        ],
    );
    std::fs::write(&password, "wrong\n")?;
    let out = build("models-bad", 2);
    assert!(out.contains("cannot use the secret key"), "{out}");
    assert!(!site.path("models-bad").exists());
    assert!(!site.path("models-bad.partial").exists());
    // keygen never overwrites a key.
    let out = expect(
        2,
        &[
            "keygen",
            "--out-dir",
            s(&keys),
            "--name",
            "k",
            "--no-password",
        ],
    );
    assert!(out.contains("cannot create"), "{out}");
    Ok(())
}

/// The bundle with the real default model: built and verified, with its size
/// and times printed for the closing note (`--nocapture`); nothing asserts
/// speed.
#[test]
fn a_bundle_with_the_default_model_builds_and_verifies() -> TestResult {
    let model_dir = std::env::var_os("SILLOK_MODEL_FILES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
        })
        .ok_or("no model folder")?;
    let gemma = model_dir.join("gemma-3-270m-q4_k_m.gguf");
    assert!(
        gemma.is_file(),
        "{} is missing: run installer/fetch-models.sh",
        gemma.display()
    );
    let site = Site::new()?;
    let out = site.path("bundle");
    let started = std::time::Instant::now();
    expect(
        0,
        &[
            "build",
            "--out",
            s(&out),
            "--deb",
            s(&app_file()),
            "--model",
            s(&gemma),
            "--secret-key",
            s(&site.path("keys/sillok-release.key")),
        ],
    );
    let built = started.elapsed();
    let started = std::time::Instant::now();
    let report = site.verify(&out, 0);
    let verified = started.elapsed();
    let size: u64 = std::fs::read_to_string(out.join("MANIFEST"))?
        .lines()
        .skip(2)
        .filter_map(|l| l.split("  ").nth(1)?.parse::<u64>().ok())
        .sum();
    assert!(size > std::fs::metadata(&gemma)?.len());
    eprintln!(
        "default-model bundle: {:.1} MB, built in {:.2} s, verified in {:.2} s ({})",
        size as f64 / 1e6,
        built.as_secs_f64(),
        verified.as_secs_f64(),
        report
            .lines()
            .find(|l| l.starts_with("verified:"))
            .unwrap_or_default()
    );
    Ok(())
}

/// The reference minisign tool (Debian's `minisign`, installed by
/// `installer/dev-setup.sh`) checks our signature, and we check its: the
/// format is minisign's, so a site can verify with a tool it already trusts.
#[test]
fn signatures_interoperate_with_the_minisign_tool() -> TestResult {
    let site = Site::new()?;
    let bundle = site.path("models");
    expect(
        0,
        &[
            "build-models",
            "--out",
            s(&bundle),
            "--model",
            s(&site.path("chat.gguf")),
            "--secret-key",
            s(&site.path("keys/sillok-release.key")),
        ],
    );
    let minisign = |args: &[&str]| {
        Command::new("minisign")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run minisign (installer/dev-setup.sh installs it): {e}")
            })
    };
    let manifest = bundle.join("MANIFEST");
    let checked = minisign(&["-V", "-m", s(&manifest), "-p", s(&site.pubkey())]);
    assert!(
        checked.status.success(),
        "minisign refused: {}",
        text(&checked.stderr)
    );
    flip_byte(&manifest, 40)?;
    let refused = minisign(&["-V", "-m", s(&manifest), "-p", s(&site.pubkey())]);
    assert!(
        !refused.status.success(),
        "minisign accepted an edited manifest"
    );
    // A manifest signed by minisign with its own new key passes our check.
    let theirs = site.path("theirs");
    std::fs::create_dir(&theirs)?;
    let generated = minisign(&[
        "-G",
        "-W",
        "-p",
        s(&theirs.join("k.pub")),
        "-s",
        s(&theirs.join("k.key")),
    ]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    std::fs::remove_file(bundle.join("MANIFEST.minisig"))?;
    flip_byte(&manifest, 40)?;
    let signed = minisign(&["-S", "-s", s(&theirs.join("k.key")), "-m", s(&manifest)]);
    assert!(signed.status.success(), "{}", text(&signed.stderr));
    expect(
        0,
        &["verify", s(&bundle), "--pubkey", s(&theirs.join("k.pub"))],
    );
    expect(3, &["verify", s(&bundle), "--pubkey", s(&site.pubkey())]);
    Ok(())
}
