//! `sillok-installer`: builds, verifies and installs Sillok's signed offline
//! bundles. Thin: it parses flags, calls `sillok-bundle`, runs dpkg, prints.
//!
//! Exit status: 0 success, 1 an internal failure (I/O, dpkg), 2 a usage error
//! (bad flag, unreadable key, not a bundle, a refused confirmation), 3 the
//! bundle was refused by verification (signature or files), nothing installed.

mod install;
mod keys;
mod pack;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sillok-installer",
    version,
    about = "Build, verify and install signed offline Sillok bundles"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a release key pair (minisign format).
    Keygen(keys::KeygenArgs),
    /// Write a detached minisign signature FILE.minisig.
    Sign(keys::SignArgs),
    /// Build a bundle: app .deb, system .debs, models, MANIFEST, signature, install script.
    Build(pack::BuildArgs),
    /// Build a model-only bundle (for `sillok models import-bundle`).
    BuildModels(pack::BuildModelsArgs),
    /// Check a bundle's signature and every file against a public key from outside it.
    Verify(install::VerifyArgs),
    /// Verify, then install the packages, models, public key and policy.
    Install(install::InstallArgs),
}

/// Why a command failed, for the exit status.
#[derive(Debug)]
enum Failure {
    Internal(anyhow::Error),
    User(anyhow::Error),
    Refused(anyhow::Error),
}

impl From<sillok_bundle::Error> for Failure {
    fn from(e: sillok_bundle::Error) -> Self {
        if e.is_refusal() {
            Failure::Refused(e.into())
        } else if e.is_user_error() {
            Failure::User(e.into())
        } else {
            Failure::Internal(e.into())
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Internal(e.into())
    }
}

type CmdResult = Result<(), Failure>;

/// A usage error with a message.
fn user(message: impl std::fmt::Display) -> Failure {
    Failure::User(anyhow::anyhow!("{message}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keys::keygen(&args),
        Command::Sign(args) => keys::sign(&args),
        Command::Build(args) => pack::build(&args),
        Command::BuildModels(args) => pack::build_models(&args),
        Command::Verify(args) => install::verify(&args),
        Command::Install(args) => install::install(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Internal(e)) => {
            eprintln!("internal error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::User(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(e)) => {
            eprintln!("error: {e:#}");
            eprintln!("nothing was installed");
            ExitCode::from(3)
        }
    }
}

/// `--password-file`: where a signing script keeps the key's password.
#[derive(Debug, clap::Args)]
struct PasswordArgs {
    /// Read the secret key's password from the first line of FILE instead of
    /// asking on the terminal.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}
