//! `sillok vault …`: the vault that holds the data key — status, init,
//! unlock, rotate, recovery key, passphrase, destroy. Secrets are asked for on
//! the terminal (not echoed) or, for scripts and tests, read one per line from
//! standard input (`--…-stdin`). Each command is one process: "unlocked" means
//! this run could open the vault.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use sillok_core::Sillok;
use sillok_core::vault::{
    InitOptions, KeychainState, PASSPHRASE_ENV, PassphraseSource, Unlock, UnlockMethod, Vault,
    VaultStatus,
};
use zeroize::Zeroizing;

use crate::{CmdResult, Failure};

mod backup;

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Whether there is a vault, whether the keychain opens it, its key slots.
    Status(StatusArgs),
    /// Create the vault: a new data key held by the OS keychain, optionally a
    /// passphrase, and a recovery key shown once.
    Init(InitArgs),
    /// Open the vault; with the passphrase or recovery key, also put a lost
    /// keychain item back.
    Unlock(UnlockArgs),
    /// Replace the keychain's key-encryption key (the data key is unchanged).
    Rotate(UnlockArgs),
    /// Make a new recovery key (shown once; the old one stops working).
    RecoveryKey(UnlockArgs),
    /// Set, change or remove the passphrase.
    Passphrase(PassphraseArgs),
    /// Remove the vault file and its keychain items; everything encrypted
    /// with it becomes unreadable (documents are not touched).
    Destroy(DestroyArgs),
    /// Write an encrypted archive of the data directory, restorable on
    /// another machine with the recovery key.
    Backup(backup::BackupArgs),
    /// Restore such an archive into this new data directory, with the
    /// recovery key; this machine's keychain then opens the vault.
    Restore(backup::RestoreArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also protect the data key with a passphrase (asked for twice).
    #[arg(long, conflicts_with = "passphrase_stdin")]
    passphrase: bool,
    /// Read that passphrase from the first line of standard input.
    #[arg(long)]
    passphrase_stdin: bool,
    /// Keep nothing in the OS keychain: the passphrase (asked for, or
    /// --passphrase-stdin) opens the vault, for machines without a keychain.
    /// Later commands ask for it on the terminal or read $SILLOK_PASSPHRASE.
    #[arg(long)]
    passphrase_only: bool,
    /// Make no recovery key (then losing the keychain item and the passphrase
    /// loses the data).
    #[arg(long)]
    no_recovery_key: bool,
    /// The data directory holds a library from before the vault: make the
    /// vault for it anyway.
    #[arg(long)]
    adopt_existing_data: bool,
}

/// How to open the vault: the OS keychain unless a flag says otherwise.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Use the passphrase (asked for) instead of the keychain.
    #[arg(long, group = "unlock_with")]
    passphrase: bool,
    /// Read the passphrase from a line of standard input.
    #[arg(long, group = "unlock_with")]
    passphrase_stdin: bool,
    /// Use the recovery key (asked for) instead of the keychain.
    #[arg(long, group = "unlock_with")]
    recovery_key: bool,
    /// Read the recovery key from a line of standard input.
    #[arg(long, group = "unlock_with")]
    recovery_key_stdin: bool,
}

#[derive(Debug, Args)]
pub struct PassphraseArgs {
    #[command(flatten)]
    unlock: UnlockArgs,
    /// Remove the passphrase instead of setting one.
    #[arg(long, conflicts_with = "new_passphrase_stdin")]
    remove: bool,
    /// Read the new passphrase from a line of standard input (after the
    /// unlocking secret's line, if that is read from standard input too).
    #[arg(long)]
    new_passphrase_stdin: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub fn run(sillok: &Sillok, cmd: VaultCommand) -> CmdResult {
    match cmd {
        VaultCommand::Backup(args) => backup::backup(sillok, &args),
        VaultCommand::Restore(args) => backup::restore(sillok, &args),
        VaultCommand::Status(args) => status(sillok, &args),
        VaultCommand::Init(args) => init(sillok, &args),
        VaultCommand::Unlock(args) => unlock_command(sillok, &args),
        VaultCommand::Rotate(args) => {
            let vault = open_unlocked(sillok, &args)?;
            vault.rotate_kek()?;
            println!(
                "rotated: a new key-encryption key in the OS keychain holds the data key, which is unchanged (key id {})",
                vault.data_key()?.id()
            );
            Ok(())
        }
        VaultCommand::RecoveryKey(args) => {
            let vault = open_unlocked(sillok, &args)?;
            let key = vault.new_recovery_key()?;
            show_recovery_key(key.as_str());
            println!("the previous recovery key no longer opens the vault");
            Ok(())
        }
        VaultCommand::Passphrase(args) => passphrase(sillok, &args),
        VaultCommand::Destroy(args) => destroy(sillok, &args),
    }
}

fn status(sillok: &Sillok, args: &StatusArgs) -> CmdResult {
    if !Vault::exists(sillok.data_dir())? {
        if args.json {
            println!(
                "{}",
                serde_json::json!({ "exists": false, "data_dir": sillok.data_dir().root() })
            );
        } else {
            println!(
                "no vault in {} (`sillok vault init` creates one)",
                sillok.data_dir().root().display()
            );
        }
        return Ok(());
    }
    let vault = sillok.open_vault(sillok.keychain().clone())?;
    // Status shows whether the everyday way in works: it tries the keychain.
    let refusal = vault.unlock(Unlock::Keychain).err();
    let status = vault.status()?;
    if args.json {
        println!("{}", status_json(&status, refusal.as_ref()));
    } else {
        print_status(&status, refusal.as_ref());
    }
    Ok(())
}

fn status_json(status: &VaultStatus, refusal: Option<&sillok_core::Error>) -> serde_json::Value {
    serde_json::json!({
        "exists": true,
        "path": status.path,
        "vault_id": status.vault_id,
        "key_id": status.key_id,
        "created_unix": status.created_unix,
        "unlocked": status.unlocked.map(UnlockMethod::name),
        "locked_reason": refusal.map(|e| clone_message(e).to_string()),
        "keychain": status.keychain.name(),
        "keychain_detail": keychain_detail(&status.keychain),
        "keychain_item": status.keychain_item,
        "keychain_store": status.keychain_store,
        "passphrase": status.passphrase,
        "recovery_key": status.recovery_key,
        "idle_lock_minutes": status.idle_lock.map(|d| d.as_secs() / 60),
    })
}

/// The error's text with its causes (core errors are not `Clone`).
fn clone_message(error: &sillok_core::Error) -> anyhow::Error {
    let mut text = error.to_string();
    let mut next = std::error::Error::source(error);
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    anyhow!(text)
}

fn keychain_detail(state: &KeychainState) -> Option<&str> {
    match state {
        KeychainState::Ok | KeychainState::Missing | KeychainState::NotUsed => None,
        KeychainState::Locked(d)
        | KeychainState::Unavailable(d)
        | KeychainState::Invalid(d)
        | KeychainState::Failed(d) => Some(d),
    }
}

fn print_status(status: &VaultStatus, refusal: Option<&sillok_core::Error>) {
    let yes_no = |b: bool| if b { "set" } else { "not set" };
    println!("vault         {}", status.path.display());
    println!("vault id      {}", status.vault_id);
    match (status.unlocked, refusal) {
        (Some(UnlockMethod::Keychain), _) => println!("state         unlocked (OS keychain)"),
        (Some(method), _) => println!("state         unlocked ({})", method.name()),
        (None, Some(e)) => println!("state         locked: {}", clone_message(e)),
        (None, None) => println!("state         locked"),
    }
    let keychain = match &status.keychain {
        KeychainState::Ok => "ok".to_owned(),
        KeychainState::Missing => "item missing".to_owned(),
        KeychainState::NotUsed => "not used (the vault opens by passphrase)".to_owned(),
        other => format!("{}: {}", other.name(), keychain_detail(other).unwrap_or("")),
    };
    println!("keychain      {keychain} ({})", status.keychain_store);
    if let Some(item) = &status.keychain_item {
        println!("keychain item service \"sillok\", account \"{item}\"");
    }
    println!("passphrase    {}", yes_no(status.passphrase));
    println!("recovery key  {}", yes_no(status.recovery_key));
    println!("key id        {}", status.key_id);
    match status.idle_lock {
        Some(idle) => println!("idle lock     {} minutes", idle.as_secs() / 60),
        None => println!("idle lock     never"),
    }
}

fn init(sillok: &Sillok, args: &InitArgs) -> CmdResult {
    let passphrase = if args.passphrase_stdin {
        Some(stdin_line("passphrase")?)
    } else if args.passphrase || args.passphrase_only {
        Some(new_passphrase_prompt()?)
    } else {
        None
    };
    let options = InitOptions {
        passphrase: passphrase.as_deref().map(String::as_str),
        keychain: !args.passphrase_only,
        recovery_key: !args.no_recovery_key,
        adopt_existing_data: args.adopt_existing_data,
    };
    let (vault, recovery) = Vault::init(sillok.data_dir(), sillok.keychain().clone(), &options)?;
    let mut held_by = Vec::new();
    if options.keychain {
        held_by.push("the OS keychain");
    }
    if passphrase.is_some() {
        held_by.push("your passphrase");
    }
    if recovery.is_some() {
        held_by.push("the recovery key below");
    }
    println!(
        "created the vault of {} (key id {})",
        sillok.data_dir().root().display(),
        vault.data_key()?.id()
    );
    println!("the data key opens with: {}", held_by.join(", "));
    if let Some(key) = recovery {
        show_recovery_key(key.as_str());
    }
    if !options.keychain {
        println!(
            "nothing is kept in the OS keychain: commands ask for the passphrase on the terminal, or read it from ${PASSPHRASE_ENV}"
        );
    }
    Ok(())
}

/// How commands get the passphrase of a vault without a keychain slot:
/// `passphrase_env` (the value of [`PASSPHRASE_ENV`], taken out of the
/// environment at start), else a prompt when standard input is a terminal.
pub fn passphrase_source(passphrase_env: Option<Zeroizing<String>>) -> PassphraseSource {
    Arc::new(move || {
        if let Some(passphrase) = &passphrase_env {
            return Some(passphrase.clone());
        }
        if !std::io::stdin().is_terminal() {
            return None;
        }
        match rpassword::prompt_password("passphrase of the vault: ") {
            Ok(passphrase) => Some(Zeroizing::new(passphrase)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot ask for the passphrase");
                None
            }
        }
    })
}

fn show_recovery_key(key: &str) {
    println!();
    println!(
        "recovery key (shown only now: write it down or print it, and keep it away from this computer):"
    );
    println!();
    println!("    {key}");
    println!();
    println!(
        "it opens the vault when the keychain and passphrase cannot; anyone holding it can too"
    );
}

fn unlock_command(sillok: &Sillok, args: &UnlockArgs) -> CmdResult {
    let (vault, method) = open_unlocked_with(sillok, args)?;
    println!(
        "unlocked with the {} (key id {})",
        match method {
            UnlockMethod::Keychain => "OS keychain",
            UnlockMethod::Passphrase => "passphrase",
            UnlockMethod::RecoveryKey => "recovery key",
        },
        vault.data_key()?.id()
    );
    // Put back what the keychain lost (its KEK after a passphrase or recovery
    // unlock, the audit key); a locked or absent keychain is left alone.
    match vault.status()?.keychain {
        KeychainState::Ok | KeychainState::Missing | KeychainState::Invalid(_) => {
            let repair = vault.repair_keychain()?;
            if repair.kek_relinked {
                println!(
                    "the OS keychain had lost the vault's key: a new key-encryption key there holds it again"
                );
            }
            if repair.audit_key_restored {
                println!("the audit key was restored to the OS keychain from its backup");
            }
        }
        KeychainState::NotUsed => {}
        other => eprintln!(
            "note: the OS keychain still cannot open the vault ({}): later commands need the passphrase or recovery key too",
            other.name()
        ),
    }
    Ok(())
}

fn open_unlocked(sillok: &Sillok, args: &UnlockArgs) -> Result<Arc<Vault>, Failure> {
    Ok(open_unlocked_with(sillok, args)?.0)
}

/// Unlocks through the core, which records the unlock (or the refusal) in
/// the audit trail.
fn open_unlocked_with(
    sillok: &Sillok,
    args: &UnlockArgs,
) -> Result<(Arc<Vault>, UnlockMethod), Failure> {
    let secret = if args.passphrase_stdin {
        Some(stdin_line("passphrase")?)
    } else if args.passphrase {
        Some(prompt("passphrase: ", "passphrase")?)
    } else if args.recovery_key_stdin {
        Some(stdin_line("recovery key")?)
    } else if args.recovery_key {
        Some(prompt("recovery key: ", "recovery key")?)
    } else {
        None
    };
    let with = match secret.as_deref() {
        None => Unlock::Keychain,
        Some(s) if args.passphrase || args.passphrase_stdin => Unlock::Passphrase(s),
        Some(s) => Unlock::RecoveryKey(s),
    };
    let method = sillok.unlock(with)?;
    Ok((sillok.vault()?, method))
}

fn passphrase(sillok: &Sillok, args: &PassphraseArgs) -> CmdResult {
    let vault = open_unlocked(sillok, &args.unlock)?;
    if args.remove {
        vault.set_passphrase(None)?;
        println!("the passphrase no longer opens the vault");
        return Ok(());
    }
    let new = if args.new_passphrase_stdin {
        stdin_line("new passphrase")?
    } else {
        new_passphrase_prompt()?
    };
    vault.set_passphrase(Some(&new))?;
    println!("the new passphrase opens the vault");
    Ok(())
}

fn destroy(sillok: &Sillok, args: &DestroyArgs) -> CmdResult {
    let root = sillok.data_dir().root();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::User(anyhow!(
                "destroying the vault needs confirmation: run it on a terminal, or pass --yes"
            )));
        }
        print!(
            "this makes everything Sillok encrypted in {} unreadable (your documents are not touched); type \"destroy\" to go on: ",
            root.display()
        );
        std::io::stdout()
            .flush()
            .map_err(|e| Failure::Internal(e.into()))?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Failure::Internal(e.into()))?;
        if answer.trim() != "destroy" {
            return Err(Failure::User(anyhow!("not confirmed: nothing was removed")));
        }
    }
    let destroyed = Vault::destroy(sillok.data_dir(), sillok.keychain())?;
    println!(
        "destroyed the vault of {} ({} keychain items removed)",
        root.display(),
        destroyed.keychain_items_removed
    );
    for left in &destroyed.keychain_items_left {
        eprintln!("warning: keychain item not removed: {left}");
    }
    Ok(())
}

/// One line of standard input, without its line ending.
pub(crate) fn stdin_line(what: &str) -> Result<Zeroizing<String>, Failure> {
    let mut line = Zeroizing::new(String::new());
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Internal(e.into()))?;
    if read == 0 {
        return Err(Failure::User(anyhow!(
            "expected the {what} on standard input"
        )));
    }
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(line)
}

/// Asks on the terminal without echo.
pub(crate) fn prompt(text: &str, what: &str) -> Result<Zeroizing<String>, Failure> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| {
            Failure::User(anyhow!(
                "cannot ask for the {what} ({e}): run on a terminal, or pass it on standard input (--{}-stdin)",
                what.replace(' ', "-")
            ))
        })
}

fn new_passphrase_prompt() -> Result<Zeroizing<String>, Failure> {
    let first = prompt("new passphrase: ", "passphrase")?;
    let again = prompt("the same again: ", "passphrase")?;
    if *first != *again {
        return Err(Failure::User(anyhow!(
            "the two passphrases differ: nothing was changed"
        )));
    }
    Ok(first)
}
