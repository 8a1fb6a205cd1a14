//! `sillok vault backup FILE` and `sillok vault restore FILE`: one encrypted
//! archive of the data directory, restorable with the recovery key into a new
//! data directory on another machine (see `sillok_core::vault::backup`).

use std::path::PathBuf;

use clap::Args;
use sillok_core::Sillok;
use sillok_core::keychain::Keychain;
use sillok_core::vault::backup;

use super::{UnlockArgs, open_unlocked, prompt, stdin_line};
use crate::CmdResult;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The archive to write (outside the data directory; replaced if it exists).
    file: PathBuf,
    #[command(flatten)]
    unlock: UnlockArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The archive `sillok vault backup` wrote.
    file: PathBuf,
    /// Ask for the recovery key (the default).
    #[arg(long, conflicts_with = "recovery_key_stdin")]
    recovery_key: bool,
    /// Read the recovery key from a line of standard input.
    #[arg(long)]
    recovery_key_stdin: bool,
}

pub fn backup(sillok: &Sillok, args: &BackupArgs) -> CmdResult {
    let vault = open_unlocked(sillok, &args.unlock)?;
    let report = vault.backup(&args.file)?;
    println!(
        "backed up {} files ({} bytes) of key {} to {}: restore it with the recovery key (`sillok vault restore`)",
        report.files,
        report.bytes,
        report.key_id,
        args.file.display()
    );
    Ok(())
}

pub fn restore(sillok: &Sillok, args: &RestoreArgs) -> CmdResult {
    // Asked for on the terminal unless it comes on standard input.
    let key = match (args.recovery_key_stdin, args.recovery_key) {
        (true, _) => stdin_line("recovery key")?,
        (false, _) => prompt("recovery key: ", "recovery key")?,
    };
    let report = backup::restore(&args.file, sillok.data_dir(), &Keychain::os(), &key)?;
    println!(
        "restored {} files of key {} into {}; the OS keychain now opens the vault",
        report.files,
        report.key_id,
        sillok.data_dir().root().display()
    );
    Ok(())
}
