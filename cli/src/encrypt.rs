//! `--encrypt` of the exports and `sillok decrypt-export`: asks for the
//! passphrase (twice on a terminal, or one line of standard input with
//! `--passphrase-stdin`) and writes what the core's `export_crypt` makes:
//! an age file that `age -d` opens too.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use sillok_core::export_crypt;
use zeroize::Zeroizing;

use crate::vault::{prompt, stdin_line};
use crate::{CmdResult, Failure};

/// Flags of an export that may be encrypted.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// Encrypt the export with a passphrase (age format: `age -d FILE` or
    /// `sillok decrypt-export FILE` opens it).
    #[arg(long)]
    encrypt: bool,
    /// Read that passphrase from the first line of standard input.
    #[arg(long, requires = "encrypt")]
    passphrase_stdin: bool,
}

impl EncryptArgs {
    /// The passphrase to encrypt with, asked for before anything is
    /// exported; `None` without `--encrypt`.
    pub fn passphrase(&self) -> Result<Option<Zeroizing<String>>, Failure> {
        if !self.encrypt {
            return Ok(None);
        }
        if self.passphrase_stdin {
            return stdin_line("passphrase").map(Some);
        }
        let first = prompt("passphrase for the export: ", "passphrase")?;
        let again = prompt("the same again: ", "passphrase")?;
        if *first != *again {
            return Err(Failure::User(anyhow!(
                "the two passphrases differ: nothing was exported"
            )));
        }
        Ok(Some(first))
    }
}

/// `plain` encrypted under `passphrase`, when there is one.
pub fn sealed(plain: &[u8], passphrase: Option<&Zeroizing<String>>) -> Result<Vec<u8>, Failure> {
    match passphrase {
        Some(p) => Ok(export_crypt::encrypt(plain, p)?),
        None => Ok(plain.to_vec()),
    }
}

/// Writes `bytes` to `path`, else to standard output.
pub fn write_out(path: Option<&Path>, bytes: &[u8]) -> CmdResult {
    match path {
        Some(path) => std::fs::write(path, bytes).map_err(|e| {
            Failure::User(anyhow::Error::new(e).context(format!("cannot write {}", path.display())))
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::Internal(e.into()))
        }
    }
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The encrypted export.
    file: PathBuf,
    /// Write the plaintext to this file instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    passphrase_stdin: bool,
}

/// `sillok decrypt-export FILE`: needs no data directory or vault.
pub fn decrypt_export(args: &DecryptArgs) -> CmdResult {
    let file = std::fs::read(&args.file).map_err(|e| {
        Failure::User(anyhow::Error::new(e).context(format!("cannot read {}", args.file.display())))
    })?;
    let passphrase = if args.passphrase_stdin {
        stdin_line("passphrase")?
    } else {
        prompt("passphrase: ", "passphrase")?
    };
    let plain = export_crypt::decrypt(&file, &passphrase)?;
    write_out(args.output.as_deref(), &plain)
}
