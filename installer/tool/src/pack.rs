//! `build` and `build-models`: copy the files into a bundle folder, write the
//! manifest and sign it, then verify the result with the key's public half.
//! A bundle is built in `OUT.partial` and renamed when complete, so `OUT`
//! never names half a bundle.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use sillok_bundle::sign::{SigningKey, seal_dir};

use crate::keys::load_signing_key;
use crate::{CmdResult, Failure, PasswordArgs, user};

/// The shell script at the top of every bundle.
const INSTALL_SCRIPT: &str = r#"#!/bin/sh
# Installs this Sillok bundle. Give the release public key from OUTSIDE the
# bundle (installed earlier, or checked against its printed value):
#   ./install --pubkey /path/to/sillok-release.pub [--yes] [--policy FILE]
# The bundle's MANIFEST signature and every file are verified first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/sillok-installer" install "$here" "$@"
"#;

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The bundle folder to create (must not exist).
    #[arg(long, value_name = "BUNDLE")]
    out: PathBuf,
    /// The app's .deb.
    #[arg(long, value_name = "FILE")]
    deb: PathBuf,
    /// Folder of system package .debs (every *.deb in it).
    #[arg(long, value_name = "DIR")]
    system_debs: Option<PathBuf>,
    #[command(flatten)]
    models: ModelArgs,
    /// The installer binary to ship (default: this one).
    #[arg(long, value_name = "FILE")]
    installer_binary: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BuildModelsArgs {
    /// The model bundle folder to create (must not exist).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    models: ModelArgs,
}

#[derive(Debug, Args)]
struct ModelArgs {
    /// A model file (GGUF); repeat for more.
    #[arg(long = "model", value_name = "FILE")]
    models: Vec<PathBuf>,
    /// The release secret key.
    #[arg(long, value_name = "KEY")]
    secret_key: PathBuf,
    /// Bundle version written into the manifest (default: this installer's).
    #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
    version: String,
    #[command(flatten)]
    password: PasswordArgs,
}

pub fn build(args: &BuildArgs) -> CmdResult {
    let key = load_signing_key(&args.models.secret_key, &args.models.password)?;
    let started = Instant::now();
    let installer = match &args.installer_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    let mut system_debs = Vec::new();
    if let Some(dir) = &args.system_debs {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| user(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "deb") {
                system_debs.push(path);
            }
        }
        system_debs.sort();
    }
    let bytes = in_partial(&args.out, |dir| {
        copy_into(&args.deb, &dir.join("app"))?;
        for deb in &system_debs {
            copy_into(deb, &dir.join("system"))?;
        }
        model_bundle(&dir.join("models"), &args.models, &key)?;
        copy_into(&installer, dir)?;
        let copied = dir.join(file_name(&installer)?);
        if copied != dir.join("sillok-installer") {
            std::fs::rename(&copied, dir.join("sillok-installer"))?;
        }
        write_executable(&dir.join("install"), INSTALL_SCRIPT.as_bytes())?;
        seal(dir, &args.models.version, &key)
    })?;
    report(&args.out, bytes, started);
    Ok(())
}

pub fn build_models(args: &BuildModelsArgs) -> CmdResult {
    let key = load_signing_key(&args.models.secret_key, &args.models.password)?;
    let started = Instant::now();
    let bytes = in_partial(&args.out, |dir| {
        model_bundle(dir, &args.models, &key)?;
        let manifest = sillok_bundle::verify_bundle(dir, &key.trusted_key()?)?.manifest;
        Ok(manifest.entries.iter().map(|e| e.size).sum())
    })?;
    report(&args.out, bytes, started);
    Ok(())
}

fn report(out: &Path, bytes: u64, started: Instant) {
    println!(
        "built {} ({:.1} MB) in {:.1} s",
        out.display(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}

/// Copies the models into `dir` and seals it: a model bundle of its own.
fn model_bundle(dir: &Path, args: &ModelArgs, key: &SigningKey) -> Result<(), Failure> {
    if args.models.is_empty() {
        return Err(user("give at least one --model FILE"));
    }
    std::fs::create_dir_all(dir)?;
    for model in &args.models {
        copy_into(model, dir)?;
    }
    seal(dir, &args.version, key)?;
    Ok(())
}

/// Seals `dir` and checks it with the public half of `key`; returns the
/// bytes listed.
fn seal(dir: &Path, version: &str, key: &SigningKey) -> Result<u64, Failure> {
    seal_dir(dir, version, key)?;
    let verified = sillok_bundle::verify_bundle(dir, &key.trusted_key()?)?;
    Ok(verified.manifest.entries.iter().map(|e| e.size).sum())
}

/// Runs `fill` on `OUT.partial`, renamed to `out` when it succeeds and
/// removed when it fails.
fn in_partial(
    out: &Path,
    fill: impl FnOnce(&Path) -> Result<u64, Failure>,
) -> Result<u64, Failure> {
    if std::fs::symlink_metadata(out).is_ok() {
        return Err(user(format!("{} already exists", out.display())));
    }
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::create_dir(&partial)
        .map_err(|e| user(format!("cannot create {}: {e}", partial.display())))?;
    match fill(&partial) {
        Ok(bytes) => {
            std::fs::rename(&partial, out)?;
            Ok(bytes)
        }
        Err(e) => {
            if let Err(cleanup) = std::fs::remove_dir_all(&partial) {
                eprintln!("cannot remove {}: {cleanup}", partial.display());
            }
            Err(e)
        }
    }
}

/// Copies `file` into folder `dir` (created) under its own name.
fn copy_into(file: &Path, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join(file_name(file)?);
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(user(format!(
            "two files named {} go into {}",
            target.display(),
            dir.display()
        )));
    }
    std::fs::copy(file, &target)
        .map_err(|e| user(format!("cannot copy {}: {e}", file.display())))?;
    Ok(())
}

fn file_name(path: &Path) -> Result<&std::ffi::OsStr, Failure> {
    path.file_name()
        .ok_or_else(|| user(format!("{} is not a file", path.display())))
}

fn write_executable(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
