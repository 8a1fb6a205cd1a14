//! The vault as the assistant holds it: one [`Vault`] per data directory,
//! opened on first use and shared by reopened handles, and the changes of its
//! lock state — unlock, lock, idle lock — each recorded in the audit trail by
//! the core, so the CLI and the desktop record the same events.
//!
//! A refused unlock is recorded as `failed-unlock` with the method and a
//! stable reason ([`refusal_reason`]), never the secret. That works while the
//! vault is locked because the audit key lives in the keychain apart from the
//! data key; when the keychain itself cannot be reached, the trail cannot be
//! written either and the refusal is only logged as a warning.
//!
//! It does not encrypt anything: the stores take [`Sillok::data_key`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use super::{DataKey, InitOptions, RecoveryKey, Unlock, UnlockMethod, Vault};
use crate::audit::{Action, AuditEvent, Outcome};
use crate::keychain::Keychain;
use crate::{Error, Result, Sillok};

/// How a front end gets the passphrase of a vault without a keychain slot
/// at a process's first use of the data key (a prompt, a variable); `None`
/// when it has none to give.
pub type PassphraseSource = Arc<dyn Fn() -> Option<Zeroizing<String>> + Send + Sync>;

/// The data directory's vault, opened on first use; shared with reopened
/// handles, so a lock in one is a lock in all.
#[derive(Debug, Clone, Default)]
pub(crate) struct VaultSlot(Arc<Mutex<SlotState>>);

#[derive(Default)]
struct SlotState {
    vault: Option<Arc<Vault>>,
    /// Set by the first unlock. Until then [`Sillok::data_key`] may unlock
    /// with the keychain by itself (the CLI, the app's start); after it, a
    /// lock holds until someone unlocks on purpose.
    unlocked_before: bool,
    /// The first-use unlock (or its refusal), recorded with the process's
    /// next record: a read-only command (`audit verify`) writes nothing.
    pending: Option<AuditEvent>,
    /// Asked at first use when the vault has no keychain slot.
    passphrase_source: Option<PassphraseSource>,
}

impl std::fmt::Debug for SlotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotState")
            .field("vault", &self.vault)
            .field("unlocked_before", &self.unlocked_before)
            .field("passphrase_source", &self.passphrase_source.is_some())
            .finish_non_exhaustive()
    }
}

/// The keychain [`Sillok::open`] uses: the OS keychain.
#[cfg(not(test))]
pub(crate) fn default_keychain() -> Keychain {
    Keychain::os()
}

/// In the core's unit tests, [`Sillok::open`] uses one in-memory store for
/// the whole test process (the real keychain is tested in `keychain.rs` and
/// end to end).
#[cfg(test)]
pub(crate) fn default_keychain() -> Keychain {
    static STORE: std::sync::OnceLock<Arc<crate::keychain::MemoryKeyStore>> =
        std::sync::OnceLock::new();
    Keychain::with_store(STORE.get_or_init(Default::default).clone())
}

impl VaultSlot {
    fn state(&self) -> MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why an unlock was refused, as audit records and the desktop name it:
/// "wrong-passphrase", "wrong-recovery-key", "bad-recovery-key",
/// "keychain-missing", "keychain-locked", "keychain-unavailable",
/// "keychain-invalid", "keychain-failed", "no-such-unlock", "no-vault",
/// "no-keychain-for-vault" (no vault yet, and none can be made in the
/// keychain: [`Sillok::init_passphrase_only`] is the way), "other".
pub fn refusal_reason(error: &Error) -> &'static str {
    match error {
        Error::WrongPassphrase => "wrong-passphrase",
        Error::WrongRecoveryKey => "wrong-recovery-key",
        Error::BadRecoveryKey { .. } => "bad-recovery-key",
        Error::KeychainUnlock { source, .. } => match source.as_ref() {
            Error::KeychainItemMissing { .. } => "keychain-missing",
            Error::KeychainLocked { .. } => "keychain-locked",
            Error::KeychainUnavailable { .. } => "keychain-unavailable",
            Error::KeychainItemInvalid { .. } => "keychain-invalid",
            Error::NoSuchUnlock(_) => "no-such-unlock",
            _ => "keychain-failed",
        },
        Error::NoSuchUnlock(_) => "no-such-unlock",
        Error::NoVault { .. } => "no-vault",
        Error::NoKeychainForVault { .. } => "no-keychain-for-vault",
        _ => "other",
    }
}

fn method_of(with: &Unlock<'_>) -> UnlockMethod {
    match with {
        Unlock::Keychain => UnlockMethod::Keychain,
        Unlock::Passphrase(_) => UnlockMethod::Passphrase,
        Unlock::RecoveryKey(_) => UnlockMethod::RecoveryKey,
    }
}

impl Sillok {
    /// The keychain the vault's keys are in.
    pub fn keychain(&self) -> &Keychain {
        &self.keychain
    }

    /// The data directory's vault, opened (locked) on first use with the
    /// idle lock from settings.
    ///
    /// # Errors
    ///
    /// [`Error::NoVault`]; as [`Sillok::open_vault`].
    pub fn vault(&self) -> Result<Arc<Vault>> {
        let mut slot = self.vault.state();
        if let Some(vault) = &slot.vault {
            return Ok(vault.clone());
        }
        let vault = Arc::new(self.open_vault(self.keychain.clone())?);
        slot.vault = Some(vault.clone());
        Ok(vault)
    }

    /// The vault, made on first use when the data directory has none: a new
    /// data key held by the keychain (no passphrase; no recovery key until
    /// `sillok vault recovery-key` makes one), unlocked. Never over library
    /// data or an audit trail that a lost vault may have encrypted or keyed.
    ///
    /// # Errors
    ///
    /// The keychain's errors (fail closed: nothing works without it),
    /// [`Error::DataWithoutVault`], [`Error::AuditKey`] for an audit trail
    /// whose key went with a removed vault; as [`Sillok::vault`].
    pub fn vault_or_init(&self) -> Result<Arc<Vault>> {
        let mut slot = self.vault.state();
        if let Some(vault) = &slot.vault {
            return Ok(vault.clone());
        }
        if Vault::exists(self.data_dir())? {
            let vault = Arc::new(self.open_vault(self.keychain.clone())?);
            slot.vault = Some(vault.clone());
            return Ok(vault);
        }
        crate::audit::check_trail_may_get_a_new_key(self.data_dir().root(), &self.audit_dir())?;
        let options = InitOptions {
            recovery_key: false,
            ..InitOptions::default()
        };
        let vault = match Vault::init(self.data_dir(), self.keychain.clone(), &options) {
            Ok((vault, _)) => {
                tracing::info!("made the vault of this data directory (keychain only)");
                slot.unlocked_before = true;
                vault.set_idle_lock(Some(self.idle_lock()?))?;
                vault
            }
            // Another process made it first: open theirs.
            Err(Error::VaultExists { .. }) => self.open_vault(self.keychain.clone())?,
            Err(e) => return Err(e),
        };
        let vault = Arc::new(vault);
        slot.vault = Some(vault.clone());
        Ok(vault)
    }

    /// Makes the data directory's vault for a machine without a keychain
    /// (the desktop's answer to "no-keychain-for-vault"; the CLI's is
    /// `sillok vault init --passphrase-only`): opened by `passphrase` or by
    /// the recovery key returned (to be shown once), nothing kept in the
    /// keychain. The new vault is unlocked for this process, and that is
    /// recorded as an unlock by passphrase.
    ///
    /// # Errors
    ///
    /// [`Error::BadPassphrase`], [`Error::VaultExists`],
    /// [`Error::DataWithoutVault`], [`Error::AuditKey`] as in
    /// [`Sillok::vault_or_init`]; the audit trail's errors (the vault is
    /// locked again then).
    pub fn init_passphrase_only(&self, passphrase: &str) -> Result<Option<RecoveryKey>> {
        let (vault, recovery) = {
            let mut slot = self.vault.state();
            // Over a vault, `Vault::init` refuses with `VaultExists` below.
            if !Vault::exists(self.data_dir())? {
                crate::audit::check_trail_may_get_a_new_key(
                    self.data_dir().root(),
                    &self.audit_dir(),
                )?;
            }
            let options = InitOptions {
                passphrase: Some(passphrase),
                keychain: false,
                ..InitOptions::default()
            };
            let (vault, recovery) = Vault::init(self.data_dir(), self.keychain.clone(), &options)?;
            vault.set_idle_lock(Some(self.idle_lock()?))?;
            let vault = Arc::new(vault);
            slot.vault = Some(vault.clone());
            slot.unlocked_before = true;
            (vault, recovery)
        };
        tracing::info!("made the vault of this data directory (passphrase only)");
        let event =
            AuditEvent::new(Action::Unlock).object("method", UnlockMethod::Passphrase.name());
        if let Err(e) = self.record(event) {
            vault.lock();
            return Err(e);
        }
        Ok(recovery)
    }

    /// The data key for the stores (counts as use for the idle lock). The
    /// first use in a process unlocks with the keychain (recorded); after a
    /// lock, by hand or idle, it stays locked until [`Sillok::unlock`].
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`]; the keychain unlock's errors on first use; as
    /// [`Sillok::vault_or_init`].
    pub fn data_key(&self) -> Result<DataKey> {
        let vault = self.vault_or_init()?;
        if self.lock_if_idle()? {
            return Err(Error::VaultLocked);
        }
        let may_unlock = !self.vault.state().unlocked_before;
        match vault.data_key() {
            Err(Error::VaultLocked) if may_unlock => {
                self.unlock_on_first_use(&vault)?;
                vault.data_key()
            }
            other => other,
        }
    }

    /// Where a process's first use of the data key gets the passphrase of
    /// a vault without a keychain slot (see [`PassphraseSource`]). Without
    /// one, such a vault stays locked until [`Sillok::unlock`].
    pub fn set_passphrase_source(&self, source: PassphraseSource) {
        self.vault.state().passphrase_source = Some(source);
    }

    /// The unlock of a process's first use of the data key: the keychain,
    /// or for a vault without a keychain slot the passphrase from the
    /// [`PassphraseSource`]. Its record waits for the process's next one
    /// ([`Sillok::record`] writes it first), so a command that records
    /// nothing writes nothing; the audit key is checked now all the same
    /// (fail closed).
    fn unlock_on_first_use(&self, vault: &Vault) -> Result<()> {
        let event = AuditEvent::new(Action::Unlock).object("first_use", true);
        let passphrase = if vault.uses_keychain()? {
            None
        } else {
            // Cloned out first: a prompt must not hold the slot's lock.
            let source = self.vault.state().passphrase_source.clone();
            source.and_then(|ask| ask())
        };
        let with = match &passphrase {
            Some(passphrase) => Unlock::Passphrase(passphrase.as_str()),
            None => Unlock::Keychain,
        };
        match vault.unlock(with) {
            Ok(method) => {
                {
                    let mut slot = self.vault.state();
                    slot.unlocked_before = true;
                    slot.pending = Some(event.object("method", method.name()));
                }
                if let Err(e) = vault.ensure_audit_key_backup() {
                    tracing::warn!(error = %e, "cannot back up the audit key in the vault file; the next unlock retries");
                }
                if let Err(e) = self.audit_log() {
                    vault.lock();
                    return Err(e);
                }
                Ok(())
            }
            Err(e) => {
                self.vault.state().pending = Some(
                    AuditEvent::new(Action::FailedUnlock)
                        .object("first_use", true)
                        .object("method", method_of(&with).name())
                        .object("reason", refusal_reason(&e))
                        .outcome(Outcome::Refused),
                );
                Err(e)
            }
        }
    }

    /// The vault event waiting to be recorded, if any.
    pub(crate) fn take_pending_vault_event(&self) -> Option<AuditEvent> {
        self.vault.state().pending.take()
    }

    /// Gives the open vault the idle time from settings (after they change;
    /// a vault opened later reads it itself).
    pub(crate) fn apply_idle_lock(&self) -> Result<()> {
        let vault = self.vault.state().vault.clone();
        match vault {
            Some(vault) => vault.set_idle_lock(Some(self.idle_lock()?)),
            None => Ok(()),
        }
    }

    /// Whether the vault is unlocked now (a locked or absent vault: false).
    /// Applies, and records, the idle lock.
    pub fn is_unlocked(&self) -> bool {
        if let Err(e) = self.lock_if_idle() {
            tracing::warn!(error = %e, "cannot apply the idle lock");
        }
        let vault = self.vault.state().vault.clone();
        vault.is_some_and(|v| v.unlocked().is_some())
    }

    /// Unlocks the vault and records it; a refusal is recorded as
    /// `failed-unlock` with its reason. Fails closed: an unlock that cannot
    /// be recorded is undone.
    ///
    /// # Errors
    ///
    /// As [`Vault::unlock`]; [`Error::NoVault`]; the audit trail's errors.
    pub fn unlock(&self, with: Unlock<'_>) -> Result<UnlockMethod> {
        let tried = method_of(&with);
        let unlocked = self.vault().and_then(|vault| {
            let method = vault.unlock(with)?;
            Ok((vault, method))
        });
        let (vault, method) = match unlocked {
            Ok(done) => done,
            // Nothing to unlock (and recording would make a vault).
            Err(e @ Error::NoVault { .. }) => return Err(e),
            Err(e) => {
                let event = AuditEvent::new(Action::FailedUnlock)
                    .object("method", tried.name())
                    .object("reason", refusal_reason(&e))
                    .outcome(Outcome::Refused);
                if let Err(audit) = self.record(event) {
                    tracing::warn!(error = %audit, "cannot record a refused unlock in the audit trail");
                }
                return Err(e);
            }
        };
        self.vault.state().unlocked_before = true;
        if let Err(e) = vault.ensure_audit_key_backup() {
            tracing::warn!(error = %e, "cannot back up the audit key in the vault file; the next unlock retries");
        }
        let recorded = self.record(AuditEvent::new(Action::Unlock).object("method", method.name()));
        if let Err(e) = recorded {
            vault.lock();
            return Err(e);
        }
        Ok(method)
    }

    /// Drops the data key from memory and records it; false when the vault
    /// was not unlocked (nothing is recorded then).
    ///
    /// # Errors
    ///
    /// The audit trail's errors (the vault is locked all the same).
    pub fn lock(&self) -> Result<bool> {
        self.lock_because("user")
    }

    /// Locks if the data key has been idle longer than the idle time, and
    /// records it; true when this call locked it. The desktop calls it from
    /// a timer.
    ///
    /// # Errors
    ///
    /// The audit trail's errors (the vault is locked all the same).
    pub fn lock_if_idle(&self) -> Result<bool> {
        let vault = self.vault.state().vault.clone();
        match vault {
            Some(vault) if vault.lock_if_idle() => {
                self.record(AuditEvent::new(Action::Lock).object("reason", "idle"))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn lock_because(&self, reason: &str) -> Result<bool> {
        let vault = self.vault.state().vault.clone();
        let Some(vault) = vault else {
            return Ok(false);
        };
        if self.lock_if_idle()? {
            return Ok(true);
        }
        if vault.current_key().is_none() {
            vault.lock();
            return Ok(false);
        }
        vault.lock();
        self.record(AuditEvent::new(Action::Lock).object("reason", reason))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::DataDir;
    use crate::audit::LOG_FILE;
    use crate::keychain::{MemoryKeyStore, SimulatedFailure};
    use crate::phi::PhiMasker;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const PASSPHRASE: &str = "correct horse battery staple";

    fn open(dir: &std::path::Path) -> Result<(Sillok, Arc<MemoryKeyStore>)> {
        let store = Arc::new(MemoryKeyStore::default());
        let sillok = Sillok::open_with_keychain(
            DataDir::at(dir.join("data")),
            Keychain::with_store(store.clone()),
        )?;
        Ok((sillok, store))
    }

    /// `action:result:method-or-reason` of each record.
    fn trail(sillok: &Sillok) -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
        let text = std::fs::read_to_string(sillok.audit_dir().join(LOG_FILE))?;
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)?;
                let o = &v["objects"];
                Ok(format!(
                    "{}:{}:{}",
                    v["action"].as_str().unwrap_or_default(),
                    v["result"].as_str().unwrap_or_default(),
                    o["reason"]
                        .as_str()
                        .or(o["method"].as_str())
                        .unwrap_or_default()
                ))
            })
            .collect()
    }

    #[test]
    fn unlocks_locks_and_refusals_are_recorded_while_locked() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, store) = open(dir.path())?;
        sillok.data_key()?; // makes the vault, unlocked
        sillok.vault()?.set_passphrase(Some(PASSPHRASE))?;
        assert!(sillok.lock()?);
        assert!(!sillok.lock()?, "a second lock records nothing");
        // After a lock, use does not unlock by itself.
        assert!(matches!(sillok.data_key(), Err(Error::VaultLocked)));
        assert!(matches!(
            sillok.unlock(Unlock::Passphrase("wrong horse battery staple")),
            Err(Error::WrongPassphrase)
        ));
        store.fail_with(Some(SimulatedFailure::Locked));
        assert!(matches!(
            sillok.unlock(Unlock::Keychain),
            Err(Error::KeychainUnlock { .. })
        ));
        store.fail_with(None);
        assert_eq!(
            sillok.unlock(Unlock::Passphrase(PASSPHRASE))?,
            UnlockMethod::Passphrase
        );
        assert!(sillok.is_unlocked());
        sillok
            .vault()?
            .set_idle_lock(Some(Duration::from_millis(1)))?;
        std::thread::sleep(Duration::from_millis(20));
        assert!(sillok.lock_if_idle()?);
        assert!(!sillok.is_unlocked());
        assert!(!sillok.lock_if_idle()?);

        assert_eq!(
            trail(&sillok)?,
            [
                "lock:ok:user",
                "failed-unlock:refused:wrong-passphrase",
                "failed-unlock:refused:keychain-locked",
                "unlock:ok:passphrase",
                "lock:ok:idle",
            ]
        );
        let log = std::fs::read_to_string(sillok.audit_dir().join(LOG_FILE))?;
        assert!(!log.contains("horse"), "a secret in the trail");
        assert!(sillok.verify_audit()?.is_intact());
        Ok(())
    }

    #[test]
    fn without_a_keychain_a_passphrase_only_vault_opens_by_its_passphrase() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, store) = open(dir.path())?;
        store.fail_with(Some(SimulatedFailure::Unavailable));
        // First use makes no vault without the keychain, and says what to do.
        let refused = sillok.data_key().err().ok_or("made a vault")?;
        assert!(matches!(refused, Error::NoKeychainForVault { .. }));
        assert!(
            refused.to_string().contains("--passphrase-only"),
            "{refused}"
        );
        assert!(!Vault::exists(sillok.data_dir())?);
        let without_passphrase = InitOptions {
            keychain: false,
            ..InitOptions::default()
        };
        assert!(matches!(
            Vault::init(
                sillok.data_dir(),
                sillok.keychain().clone(),
                &without_passphrase
            ),
            Err(Error::BadPassphrase(_))
        ));

        let options = InitOptions {
            passphrase: Some(PASSPHRASE),
            keychain: false,
            ..InitOptions::default()
        };
        let (made, _recovery) =
            Vault::init(sillok.data_dir(), sillok.keychain().clone(), &options)?;
        let key_id = made.data_key()?.id();
        assert!(!made.uses_keychain()?);
        assert_eq!(
            made.status()?.keychain,
            super::super::KeychainState::NotUsed
        );
        drop(made);
        assert!(matches!(
            Vault::init(sillok.data_dir(), sillok.keychain().clone(), &options),
            Err(Error::VaultExists { .. })
        ));
        store.fail_with(None);
        assert!(store.accounts().is_empty(), "{:?}", store.accounts());
        store.fail_with(Some(SimulatedFailure::Unavailable));

        // A process's first use: no passphrase to give is a refusal naming
        // where one comes from; a wrong one is refused; the right one opens.
        let refused = sillok.data_key().err().ok_or("opened without a secret")?;
        assert!(
            refused.to_string().contains("SILLOK_PASSPHRASE"),
            "{refused}"
        );
        sillok.set_passphrase_source(Arc::new(|| {
            Some(Zeroizing::new("wrong horse battery staple".to_owned()))
        }));
        assert!(matches!(sillok.data_key(), Err(Error::WrongPassphrase)));
        sillok.set_passphrase_source(Arc::new(|| Some(Zeroizing::new(PASSPHRASE.to_owned()))));
        assert_eq!(sillok.data_key()?.id(), key_id);
        // The audit trail is keyed from the backup in the vault file.
        sillok.record(AuditEvent::new(Action::Search).sensitive("query", "혈압"))?;
        assert_eq!(
            trail(&sillok)?.first().map(String::as_str),
            Some("unlock:ok:passphrase")
        );
        assert!(sillok.verify_audit()?.is_intact());
        // Nothing of the keychain to destroy.
        let destroyed = Vault::destroy(sillok.data_dir(), sillok.keychain())?;
        assert!(destroyed.keychain_items_left.is_empty(), "{destroyed:?}");
        Ok(())
    }

    #[test]
    fn the_desktop_makes_a_passphrase_only_vault_unlocked_where_there_is_no_keychain() -> TestResult
    {
        let dir = tempfile::tempdir()?;
        let (sillok, store) = open(dir.path())?;
        store.fail_with(Some(SimulatedFailure::Unavailable));
        let refused = sillok.data_key().err().ok_or("made a vault")?;
        assert_eq!(refusal_reason(&refused), "no-keychain-for-vault");
        assert!(matches!(
            sillok.init_passphrase_only("short"),
            Err(Error::BadPassphrase(_))
        ));
        assert!(!Vault::exists(sillok.data_dir())?);

        let recovery = sillok
            .init_passphrase_only(PASSPHRASE)?
            .ok_or("no recovery key")?;
        // Unlocked for this process, without asking again.
        let key_id = sillok.data_key()?.id();
        assert!(sillok.is_unlocked());
        assert!(!sillok.vault()?.uses_keychain()?);
        assert!(matches!(
            sillok.init_passphrase_only(PASSPHRASE),
            Err(Error::VaultExists { .. })
        ));
        assert_eq!(trail(&sillok)?, ["unlock:ok:passphrase"]);
        store.fail_with(None);
        assert!(store.accounts().is_empty(), "{:?}", store.accounts());
        drop(sillok);

        // Both its slots open it in another process.
        for with in [
            Unlock::Passphrase(PASSPHRASE),
            Unlock::RecoveryKey(recovery.as_str()),
        ] {
            let again = Sillok::open_with_keychain(
                DataDir::at(dir.path().join("data")),
                Keychain::with_store(store.clone()),
            )?;
            again.unlock(with)?;
            assert_eq!(again.data_key()?.id(), key_id);
        }
        Ok(())
    }

    #[test]
    fn a_saved_idle_time_applies_to_the_open_vault() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, _store) = open(dir.path())?;
        sillok.data_key()?;
        let idle = |sillok: &Sillok| -> Result<Option<Duration>> {
            Ok(sillok.vault()?.status()?.idle_lock)
        };
        assert_eq!(idle(&sillok)?, Some(Duration::from_secs(15 * 60)));
        sillok.save_settings(&crate::Settings {
            idle_lock_minutes: Some(7),
            ..crate::Settings::default()
        })?;
        assert_eq!(idle(&sillok)?, Some(Duration::from_secs(7 * 60)));
        Ok(())
    }

    #[test]
    fn patient_fields_open_only_with_the_vault_unlocked() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (sillok, _store) = open(dir.path())?;
        sillok.data_key()?;
        let event = AuditEvent::new(Action::Search).sensitive("query", "김가상 로사르탄");
        sillok.record(event.clone())?;
        let log = std::fs::read_to_string(sillok.audit_dir().join(LOG_FILE))?;
        assert!(!log.contains("로사르탄"), "{log}");
        assert!(log.contains("\"sealed\":\"xc1:"), "{log}");

        let export = |sillok: &Sillok| -> std::result::Result<
            Vec<serde_json::Value>,
            Box<dyn std::error::Error>,
        > {
            let mut out = Vec::new();
            sillok
                .audit_log()?
                .export(&PhiMasker::new(&[], &[])?, &mut out)?;
            Ok(String::from_utf8(out)?
                .lines()
                .map(serde_json::from_str)
                .collect::<std::result::Result<_, _>>()?)
        };
        assert_eq!(export(&sillok)?[0]["fields"]["query"], "김가상 로사르탄");
        sillok.lock()?;
        // Locked: neither opened nor sealed; the record names the field.
        assert!(export(&sillok)?[0].get("fields").is_none());
        sillok.record(event)?;
        let rows = export(&sillok)?;
        let last = rows.last().ok_or("no rows")?;
        assert_eq!(last["withheld"], serde_json::json!(["query"]));
        let log = std::fs::read_to_string(sillok.audit_dir().join(LOG_FILE))?;
        assert_eq!(log.matches("\"sealed\":").count(), 1, "{log}");
        Ok(())
    }
}
