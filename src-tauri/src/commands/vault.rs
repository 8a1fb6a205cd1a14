//! The vault's lock: its state, lock now, unlock (keychain, passphrase or
//! recovery key), the idle lock's timer, and making a passphrase-only vault
//! where there is no keychain. The core records every change in the audit
//! trail; this module only converts.

use std::time::Duration;

use serde::Serialize;
use sillok_core::Error;
use sillok_core::vault::{Unlock, refusal_reason};
use tauri::State;

use super::blocking;
use crate::error::{AppError, CommandResult};
use crate::state::AppState;

/// How often the idle lock is checked: short enough that a test's
/// few-second idle time is honoured, cheap (a mutex and a clock).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// What the lock screen needs (docs/app-ipc.md `VaultState`).
#[derive(Debug, Serialize)]
pub struct VaultState {
    /// The data key is not in memory: the lock screen shows.
    locked: bool,
    /// Why the vault could not be opened, when it is locked (a stable
    /// reason, see [`refusal_reason`]; "locked" after a lock).
    reason: Option<&'static str>,
    /// One sentence on that, safe to show.
    message: Option<String>,
    /// A passphrase can unlock it.
    passphrase: bool,
    /// A recovery key can unlock it.
    recovery_key: bool,
}

/// The outcome of an unlock attempt: a refusal is an answer, not an error.
#[derive(Debug, Serialize)]
pub struct UnlockOutcome {
    /// The vault opened.
    unlocked: bool,
    /// Why not ("wrong-passphrase", "keychain-locked"…).
    reason: Option<&'static str>,
    /// One sentence on that, safe to show.
    message: Option<String>,
}

/// The vault's state. The first call of a session opens the vault with the
/// OS keychain (as every other command would); after a lock it stays locked.
#[tauri::command(rename_all = "snake_case")]
pub async fn vault_state(state: State<'_, AppState>) -> CommandResult<VaultState> {
    let state = state.inner().clone();
    blocking(move || {
        let sillok = state.sillok();
        let (locked, reason, message) = match sillok.data_key() {
            Ok(_) => (false, None, None),
            Err(Error::VaultLocked) => (true, Some("locked"), None),
            Err(e) => (true, Some(refusal_reason(&e)), Some(e.to_string())),
        };
        let (passphrase, recovery_key) = match sillok.vault() {
            Ok(vault) => vault
                .status()
                .map(|s| (s.passphrase, s.recovery_key))
                .unwrap_or_default(),
            Err(_) => (false, false),
        };
        Ok(VaultState {
            locked,
            reason,
            message,
            passphrase,
            recovery_key,
        })
    })
    .await
}

/// Whether the vault is locked now (the idle lock applied); cheap, polled by
/// the UI, and not counted as use.
#[tauri::command(rename_all = "snake_case")]
pub async fn vault_locked(state: State<'_, AppState>) -> CommandResult<bool> {
    let state = state.inner().clone();
    blocking(move || Ok(!state.sillok().is_unlocked())).await
}

/// Locks now: the core drops the data key.
#[tauri::command(rename_all = "snake_case")]
pub async fn vault_lock(state: State<'_, AppState>) -> CommandResult<()> {
    let state = state.inner().clone();
    blocking(move || {
        state.sillok().lock()?;
        Ok(())
    })
    .await
}

/// Unlocks with `method` ("keychain", "passphrase" or "recovery_key");
/// `secret` for the latter two.
#[tauri::command(rename_all = "snake_case")]
pub async fn vault_unlock(
    state: State<'_, AppState>,
    method: String,
    secret: Option<String>,
) -> CommandResult<UnlockOutcome> {
    let state = state.inner().clone();
    blocking(move || {
        let with = match (method.as_str(), secret.as_deref()) {
            ("keychain", _) => Unlock::Keychain,
            ("passphrase", Some(s)) => Unlock::Passphrase(s),
            ("recovery_key", Some(s)) => Unlock::RecoveryKey(s),
            _ => {
                return Err(AppError::new(
                    crate::error::ErrorKind::InvalidInput,
                    "unlock with \"keychain\", or \"passphrase\" or \"recovery_key\" and its secret",
                ));
            }
        };
        Ok(match state.sillok().unlock(with) {
            Ok(_) => UnlockOutcome {
                unlocked: true,
                reason: None,
                message: None,
            },
            Err(e) if e.is_user_error() => UnlockOutcome {
                unlocked: false,
                reason: Some(refusal_reason(&e)),
                message: Some(e.to_string()),
            },
            Err(e) => return Err(e.into()),
        })
    })
    .await
}

/// A vault just made: its recovery key, shown once and kept nowhere.
#[derive(Debug, Serialize)]
pub struct VaultCreated {
    /// The recovery key, in its printed groups.
    recovery_key: Option<String>,
}

/// Makes the data directory's vault to open by `passphrase` only, for a
/// machine without a keychain (the lock screen offers it on
/// "no-keychain-for-vault"), and leaves it unlocked. A recovery key is made
/// too, as `sillok vault init` does.
#[tauri::command(rename_all = "snake_case")]
pub async fn vault_create(
    state: State<'_, AppState>,
    passphrase: String,
) -> CommandResult<VaultCreated> {
    let state = state.inner().clone();
    blocking(move || {
        let recovery = state.sillok().init_passphrase_only(&passphrase)?;
        Ok(VaultCreated {
            recovery_key: recovery.map(|key| key.as_str().to_owned()),
        })
    })
    .await
}

/// Checks the idle lock every second for the life of the app, so the data
/// key leaves memory on time even when the window is hidden.
pub fn start_idle_lock(state: AppState) {
    let spawned = std::thread::Builder::new()
        .name("idle-lock".into())
        .spawn(move || {
            loop {
                std::thread::sleep(IDLE_CHECK);
                if let Err(e) = state.sillok().lock_if_idle() {
                    tracing::warn!(error = %e, "cannot record the idle lock");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no idle-lock thread: the vault locks on its next use instead");
    }
}
