//! `verify` and `install`. Install verifies the whole bundle first, then
//! copies every file it uses through a hash check again (a stick swapped
//! between the check and the copy is still caught), then runs dpkg.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Args;
use sillok_bundle::policy::{POLICY_PATH, Policy};
use sillok_bundle::{Entry, RELEASE_KEY_PATH, SYSTEM_MODELS_DIR, TrustedKey, Verified};

use crate::{CmdResult, Failure, user};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle folder (or a model bundle).
    bundle: PathBuf,
    /// The release public key, from outside the bundle.
    #[arg(long, value_name = "KEY")]
    pubkey: PathBuf,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The bundle folder.
    bundle: PathBuf,
    /// The release public key, from outside the bundle.
    #[arg(long, value_name = "KEY")]
    pubkey: PathBuf,
    /// Do not ask (silent install).
    #[arg(long)]
    yes: bool,
    /// A site policy file to install as /etc/sillok/policy.json.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Verify and print what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Put files under DIR instead of / (dpkg gets --root=DIR).
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Skip dpkg: place models, key and policy only.
    #[arg(long)]
    no_packages: bool,
}

pub fn verify(args: &VerifyArgs) -> CmdResult {
    let key = trusted_key(&args.pubkey)?;
    let started = Instant::now();
    let verified = sillok_bundle::verify_bundle(&args.bundle, &key)?;
    print_verified(&verified, started);
    Ok(())
}

fn trusted_key(path: &Path) -> Result<TrustedKey, Failure> {
    let key = TrustedKey::from_file(path)?;
    // For the IT officer: compare with the printed value before trusting it.
    eprintln!(
        "trusted key: id {} public key {} (from {})",
        key.key_id(),
        key.public_key(),
        path.display()
    );
    Ok(key)
}

fn print_verified(verified: &Verified, started: Instant) {
    let bytes: u64 = verified.manifest.entries.iter().map(|e| e.size).sum();
    println!(
        "verified: bundle {}, {} files, {:.1} MB, in {:.1} s ({})",
        verified.manifest.version,
        verified.manifest.entries.len(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        verified.trusted_comment.replace('\t', " ")
    );
}

/// What an install does, in order.
#[derive(Debug)]
struct Plan<'a> {
    packages: Vec<&'a Entry>,
    models: Vec<&'a Entry>,
    models_dir: PathBuf,
    key_path: PathBuf,
    policy: Option<(PathBuf, String)>,
}

pub fn install(args: &InstallArgs) -> CmdResult {
    let key = trusted_key(&args.pubkey)?;
    // The policy is checked before anything is installed.
    let policy = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| user(format!("cannot read {}: {e}", path.display())))?;
            Policy::parse(&text).map_err(|reason| {
                user(format!(
                    "{} is not a usable policy: {reason}",
                    path.display()
                ))
            })?;
            Some((under(&args.root, POLICY_PATH), text))
        }
        None => None,
    };
    let started = Instant::now();
    let verified = sillok_bundle::verify_bundle(&args.bundle, &key)?;
    print_verified(&verified, started);
    let entries = &verified.manifest.entries;
    let in_folder =
        |folder: &'static str| entries.iter().filter(move |e| e.path.starts_with(folder));
    let plan = Plan {
        // System packages first: the app depends on them. `app/` holds the
        // app's package and nothing else.
        packages: if args.no_packages {
            Vec::new()
        } else {
            in_folder("system/")
                .filter(|e| e.path.ends_with(".deb"))
                .chain(in_folder("app/"))
                .collect()
        },
        models: entries
            .iter()
            .filter(|e| e.path.starts_with("models/"))
            .collect(),
        models_dir: under(&args.root, SYSTEM_MODELS_DIR),
        key_path: under(&args.root, RELEASE_KEY_PATH),
        policy,
    };
    print_plan(&plan, &args.root);
    if args.dry_run {
        println!("dry run: nothing changed");
        return Ok(());
    }
    if !args.yes {
        confirm()?;
    }
    if !plan.packages.is_empty() {
        install_packages(&args.bundle, &plan.packages, &args.root)?;
    }
    if !plan.models.is_empty() {
        place_models(&args.bundle, &plan.models, &plan.models_dir)?;
    }
    let key_text = std::fs::read(&args.pubkey)?;
    write_file(&plan.key_path, &key_text)?;
    if let Some((path, text)) = &plan.policy {
        write_file(path, text.as_bytes())?;
    }
    println!(
        "installed bundle {} in {:.1} s; each user imports the models with `sillok models import-bundle`",
        verified.manifest.version,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn print_plan(plan: &Plan<'_>, root: &Path) {
    if !plan.packages.is_empty() {
        let root_flag = if root == Path::new("/") {
            String::new()
        } else {
            format!("--root={} ", root.display())
        };
        let names: Vec<&str> = plan.packages.iter().map(|e| e.path.as_str()).collect();
        println!(
            "plan: dpkg {root_flag}-i {} (system packages already installed at this or a newer version are skipped)",
            names.join(" ")
        );
    }
    for model in &plan.models {
        let name = model.path.trim_start_matches("models/");
        println!(
            "plan: copy {} -> {}",
            model.path,
            plan.models_dir.join(name).display()
        );
    }
    println!("plan: write the public key to {}", plan.key_path.display());
    if let Some((path, _)) = &plan.policy {
        println!("plan: write the policy to {}", path.display());
    }
}

fn confirm() -> CmdResult {
    if !std::io::stdin().is_terminal() {
        return Err(user("not a terminal: pass --yes for a silent install"));
    }
    print!("install? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(user("not confirmed: nothing installed"))
    }
}

/// `root` + an absolute system path.
fn under(root: &Path, system_path: &str) -> PathBuf {
    root.join(system_path.trim_start_matches('/'))
}

/// Stages the packages through a hash check into a private folder and runs
/// one `dpkg -i` over those not already installed at this or a newer version.
fn install_packages(bundle: &Path, packages: &[&Entry], root: &Path) -> CmdResult {
    let staging = std::env::temp_dir().join(format!("sillok-install-{}", std::process::id()));
    create_private_dir(&staging)?;
    let result = (|| -> CmdResult {
        let mut files = Vec::new();
        for entry in packages {
            let staged = staging.join(entry.path.replace('/', "_"));
            entry.copy_verified(&bundle.join(&entry.path), &staged)?;
            if entry.path.starts_with("system/") && already_installed(&staged, root)? {
                println!("skip {}: installed at this or a newer version", entry.path);
                continue;
            }
            files.push(staged);
        }
        if files.is_empty() {
            return Ok(());
        }
        let mut dpkg = Command::new("dpkg");
        if root != Path::new("/") {
            dpkg.arg(format!("--root={}", root.display()));
        }
        let status = dpkg.arg("-i").args(&files).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(Failure::Internal(anyhow::anyhow!(
                "dpkg -i failed ({status}); see its messages above"
            )))
        }
    })();
    if let Err(e) = std::fs::remove_dir_all(&staging) {
        eprintln!("cannot remove {}: {e}", staging.display());
    }
    result
}

/// Whether the package in `deb` is installed at its version or a newer one
/// (a bundle never downgrades a system package).
fn already_installed(deb: &Path, root: &Path) -> Result<bool, Failure> {
    let fields = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .args(["Package", "Version"])
        .output()?;
    if !fields.status.success() {
        return Err(Failure::Internal(anyhow::anyhow!(
            "dpkg-deb cannot read {}",
            deb.display()
        )));
    }
    let text = String::from_utf8_lossy(&fields.stdout);
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    let (Some(package), Some(version)) = (field("Package:"), field("Version:")) else {
        return Ok(false);
    };
    let mut query = Command::new("dpkg-query");
    if root != Path::new("/") {
        query.arg(format!("--root={}", root.display()));
    }
    let installed = query
        .args(["-W", "-f", "${db:Status-Status} ${Version}"])
        .arg(&package)
        .output()?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    let Some(installed_version) = installed.strip_prefix("installed ") else {
        return Ok(false);
    };
    Ok(Command::new("dpkg")
        .args([
            "--compare-versions",
            installed_version.trim(),
            "ge",
            &version,
        ])
        .status()?
        .success())
}

/// Copies the model bundle (re-hashed) to `models_dir`, replacing the one a
/// previous bundle left: the folder must stay exactly one signed bundle.
fn place_models(bundle: &Path, models: &[&Entry], models_dir: &Path) -> CmdResult {
    let parent = models_dir
        .parent()
        .ok_or_else(|| user("the model folder has no parent"))?;
    std::fs::create_dir_all(parent)?;
    let fresh = models_dir.with_extension("new");
    let old = models_dir.with_extension("old");
    for leftover in [&fresh, &old] {
        match std::fs::remove_dir_all(leftover) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    for entry in models {
        let relative = entry.path.trim_start_matches("models/");
        let target = fresh.join(relative);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        entry.copy_verified(&bundle.join(&entry.path), &target)?;
    }
    let had_old = match std::fs::rename(models_dir, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e.into()),
    };
    std::fs::rename(&fresh, models_dir)?;
    if had_old {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

fn create_private_dir(path: &Path) -> CmdResult {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(|e| user(format!("cannot create {}: {e}", path.display())))
}

/// Writes a system file readable by every user, atomically.
fn write_file(path: &Path, bytes: &[u8]) -> CmdResult {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes)?;
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644))?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
