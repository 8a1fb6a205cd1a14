//! The vault: the one data-encryption key (DEK) of a data directory and the
//! ways to unwrap it.
//!
//! The DEK is 256 random bits, made once by [`Vault::init`] and never written
//! anywhere in the clear. `<data>/vault.json` holds it wrapped
//! (XChaCha20-Poly1305) in up to three slots, each opening it alone:
//!
//! - **keychain**: a key-encryption key (KEK), 256 random bits, kept in the OS
//!   keychain ([`crate::keychain`]); the everyday way in;
//! - **passphrase** (optional): a key derived by Argon2id from the user's
//!   passphrase (NFC-normalised, so a Hangul passphrase typed with any input
//!   method opens it), with a random salt and the parameters stored per slot;
//! - **recovery key** (optional, on by default): 160 random bits shown once as
//!   nine groups of four Crockford base32 characters, the last group a check,
//!   stretched to a wrapping key by HKDF-SHA256 with a random salt.
//!
//! Each slot's associated data names the vault id and the slot, so slots
//! cannot be swapped between vaults or kinds. The file also keeps the audit
//! HMAC key sealed under a subkey of the DEK, so a lost keychain item can be
//! restored after a recovery. Every write of the file is atomic (temp file,
//! fsync, rename, directory fsync) and taken under `vault.lock`, re-reading the
//! file first, so two processes never undo each other's change.
//!
//! It fails closed: if the keychain is unavailable, locked or lacks the item,
//! unlocking stops with [`Error::KeychainUnlock`], which names the other ways
//! in; there is no plaintext or built-in fallback key, and [`Vault::init`]
//! never makes a new vault over an existing vault file or over library data.
//!
//! Rotation ([`Vault::rotate_kek`]) replaces the keychain KEK and re-wraps the
//! DEK; the DEK itself stays (a new DEK means re-encrypting every store, a
//! later job). Each step leaves a vault that opens with the old or the new
//! KEK, and the keychain items it no longer needs are listed in the file and
//! deleted by the next unlock, so a crash leaks nothing.
//!
//! The unlocked DEK is a [`DataKey`] held in a zeroizing buffer; [`Vault::lock`]
//! drops it, and so does [`Vault::data_key`] once it has been idle longer than
//! the configured time. This module does not encrypt any store: the store
//! integrations take a [`DataKey`] (ideally one [`DataKey::subkey`] per store).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::keychain::{Key32, Keychain};
use crate::{DataDir, Error, Result, Sillok};

pub mod backup;
mod session;
pub use session::{PassphraseSource, refusal_reason};
pub(crate) use session::{VaultSlot, default_keychain};

/// The vault file's name in the data directory.
pub const VAULT_FILE: &str = "vault.json";
/// Debug builds abort the process at the [`FaultPoint`] named by this
/// variable: the end-to-end tests' simulated crash. Release builds ignore it.
pub const CRASH_ENV: &str = "SILLOK_TEST_CRASH_AT";
/// Idle minutes before the data key is dropped, unless settings say otherwise.
pub const DEFAULT_IDLE_LOCK_MINUTES: u32 = 15;
/// Debug builds take the idle time in seconds from this variable instead of
/// settings (whose unit, minutes, is too slow for the desktop's window test).
/// Release builds ignore it.
pub const IDLE_LOCK_TEST_ENV: &str = "SILLOK_TEST_IDLE_LOCK_SECS";
/// Where scripts give the front ends the passphrase of a vault without a
/// keychain slot (a terminal is asked instead).
pub const PASSPHRASE_ENV: &str = "SILLOK_PASSPHRASE";

const TEMP_FILE: &str = "vault.json.tmp";
const LOCK_FILE: &str = "vault.lock";
const FORMAT: &str = "sillok-vault";
const VERSION: u32 = 1;
const MAX_FILE_BYTES: u64 = 1 << 20;
const KDF_NAME: &str = "argon2id-v19";
const MIN_PASSPHRASE_CHARS: usize = 8;
const MAX_PASSPHRASE_BYTES: usize = 1024;

/// Argon2id cost of a passphrase slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

/// The cost new passphrase slots get: 64 MiB, 3 passes, 1 lane (RFC 9106's
/// second recommendation, one lane): about 0.15 s per unlock on the 2-core
/// development machine (SECURITY.md). Stored per slot, so it can be raised
/// for new slots without breaking old ones.
pub const DEFAULT_KDF: KdfParams = KdfParams {
    memory_kib: 64 * 1024,
    iterations: 3,
    parallelism: 1,
};

/// The unlocked data-encryption key. Cheap to clone; the bytes are wiped when
/// the last clone is dropped. Holders must drop theirs when the vault locks.
#[derive(Clone)]
pub struct DataKey(Arc<Zeroizing<[u8; 32]>>);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    fn new(bytes: Key32) -> Self {
        DataKey(Arc::new(bytes))
    }

    /// The raw 256-bit key. Prefer [`DataKey::subkey`]: one key per store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A 256-bit key for one purpose ("index", "conversations", "audit
    /// fields"…), derived by HKDF-SHA256: stores never share a key, and a
    /// subkey reveals nothing about the DEK or the others.
    pub fn subkey(&self, purpose: &str) -> Key32 {
        hkdf_expand(self.as_bytes(), None, &format!("{FORMAT} subkey {purpose}"))
    }

    /// A public fingerprint of the key (16 hex digits), the same from every
    /// slot: shown by `sillok vault status`, never secret.
    pub fn id(&self) -> String {
        key_id(self.as_bytes())
    }
}

/// A recovery key as shown to the user once: nine groups of four Crockford
/// base32 characters, the last group a check.
pub struct RecoveryKey(Zeroizing<String>);

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(..)")
    }
}

impl RecoveryKey {
    /// The text to show or print.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How to unlock.
#[derive(Clone, Copy)]
pub enum Unlock<'a> {
    /// With the key-encryption key in the OS keychain.
    Keychain,
    /// With the passphrase.
    Passphrase(&'a str),
    /// With the recovery key, as typed.
    RecoveryKey(&'a str),
}

impl fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.write_str(match self {
            Unlock::Keychain => "Unlock::Keychain",
            Unlock::Passphrase(_) => "Unlock::Passphrase(..)",
            Unlock::RecoveryKey(_) => "Unlock::RecoveryKey(..)",
        })
    }
}

/// How the vault was unlocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockMethod {
    /// The OS keychain.
    Keychain,
    /// The passphrase.
    Passphrase,
    /// The recovery key.
    RecoveryKey,
}

impl UnlockMethod {
    /// A stable lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            UnlockMethod::Keychain => "keychain",
            UnlockMethod::Passphrase => "passphrase",
            UnlockMethod::RecoveryKey => "recovery-key",
        }
    }
}

/// Whether the keychain can open the vault now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeychainState {
    /// Its item opens the vault.
    Ok,
    /// No item: lost, deleted, or a different keychain.
    Missing,
    /// The keychain is locked or denied access.
    Locked(String),
    /// No keychain (no session bus or Secret Service).
    Unavailable(String),
    /// The item is there but does not open this vault.
    Invalid(String),
    /// Any other failure.
    Failed(String),
    /// The vault was made to open by passphrase only: no keychain item.
    NotUsed,
}

impl KeychainState {
    fn of(error: &Error) -> Self {
        let detail = error_chain(error);
        match error {
            Error::KeychainItemMissing { .. } => KeychainState::Missing,
            Error::KeychainLocked { .. } => KeychainState::Locked(detail),
            Error::KeychainUnavailable { .. } => KeychainState::Unavailable(detail),
            Error::KeychainItemInvalid { .. } => KeychainState::Invalid(detail),
            Error::NoSuchUnlock(_) => KeychainState::NotUsed,
            _ => KeychainState::Failed(detail),
        }
    }

    /// A stable lowercase name ("ok", "missing", "locked", "unavailable",
    /// "invalid", "failed", "not-used").
    pub fn name(&self) -> &'static str {
        match self {
            KeychainState::Ok => "ok",
            KeychainState::Missing => "missing",
            KeychainState::Locked(_) => "locked",
            KeychainState::Unavailable(_) => "unavailable",
            KeychainState::Invalid(_) => "invalid",
            KeychainState::Failed(_) => "failed",
            KeychainState::NotUsed => "not-used",
        }
    }
}

/// What `sillok vault status` shows.
#[derive(Debug, Clone)]
pub struct VaultStatus {
    /// The vault file.
    pub path: PathBuf,
    /// The vault's id (names its keychain items).
    pub vault_id: String,
    /// The data key's public fingerprint.
    pub key_id: String,
    /// When the vault was made (seconds since 1970).
    pub created_unix: u64,
    /// How this handle was unlocked, if it is.
    pub unlocked: Option<UnlockMethod>,
    /// Whether the keychain opens the vault.
    pub keychain: KeychainState,
    /// The keychain item holding the KEK.
    pub keychain_item: Option<String>,
    /// What the keychain is.
    pub keychain_store: &'static str,
    /// A passphrase slot exists.
    pub passphrase: bool,
    /// A recovery-key slot exists.
    pub recovery_key: bool,
    /// Idle time before the data key is dropped (`None`: never).
    pub idle_lock: Option<Duration>,
}

/// What [`Vault::init`] makes.
#[derive(Debug, Clone, Copy)]
pub struct InitOptions<'a> {
    /// Also wrap the DEK with this passphrase.
    pub passphrase: Option<&'a str>,
    /// Wrap the DEK with a KEK in the OS keychain. False makes a vault that
    /// opens by passphrase (or recovery key) only and never touches the
    /// keychain: for machines without one. Needs a passphrase.
    pub keychain: bool,
    /// Also wrap the DEK with a new recovery key (returned once).
    pub recovery_key: bool,
    /// The data directory holds a library from before the vault existed:
    /// make the vault anyway (its stores are encrypted by the migration).
    pub adopt_existing_data: bool,
}

impl Default for InitOptions<'_> {
    fn default() -> Self {
        InitOptions {
            passphrase: None,
            keychain: true,
            recovery_key: true,
            adopt_existing_data: false,
        }
    }
}

/// What [`Vault::repair_keychain`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Repair {
    /// A new KEK now holds the vault in the keychain.
    pub kek_relinked: bool,
    /// The audit key was put back from its backup in the vault file.
    pub audit_key_restored: bool,
}

/// What [`Vault::destroy`] did.
#[derive(Debug, Clone, Default)]
pub struct Destroyed {
    /// Keychain items deleted.
    pub keychain_items_removed: usize,
    /// Keychain items that could not be deleted, with why (useless without
    /// the vault file, but the user may remove them by hand).
    pub keychain_items_left: Vec<String>,
}

/// The steps of multi-step vault writes at which tests simulate a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// A new vault file is written and synced, not yet renamed into place.
    TempWritten,
    /// Rotation: the new KEK's id is recorded as pending.
    RotateIntentWritten,
    /// Rotation: the new KEK is in the keychain.
    RotateNewKekStored,
    /// Rotation: the vault file wraps the DEK with the new KEK.
    RotateSwitched,
    /// Rotation: the old KEK is deleted from the keychain.
    RotateOldKekDeleted,
}

impl FaultPoint {
    /// Every point, in the order a rotation passes them.
    pub const ALL: [FaultPoint; 5] = [
        FaultPoint::TempWritten,
        FaultPoint::RotateIntentWritten,
        FaultPoint::RotateNewKekStored,
        FaultPoint::RotateSwitched,
        FaultPoint::RotateOldKekDeleted,
    ];

    /// The name [`CRASH_ENV`] takes.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::TempWritten => "temp-written",
            FaultPoint::RotateIntentWritten => "rotate-intent-written",
            FaultPoint::RotateNewKekStored => "rotate-new-kek-stored",
            FaultPoint::RotateSwitched => "rotate-switched",
            FaultPoint::RotateOldKekDeleted => "rotate-old-kek-deleted",
        }
    }
}

/// Called at each [`FaultPoint`]; an error stops the operation there, as a
/// crash would.
pub type FaultHook = Arc<dyn Fn(FaultPoint) -> Result<()> + Send + Sync>;

/// One data directory's vault.
pub struct Vault {
    root: PathBuf,
    keychain: Keychain,
    state: Mutex<State>,
    fault: Option<FaultHook>,
}

struct State {
    file: VaultFile,
    open: Option<Open>,
    idle_lock: Option<Duration>,
}

struct Open {
    key: DataKey,
    method: UnlockMethod,
    last_used: Instant,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("root", &self.root)
            .field("keychain", &self.keychain)
            .finish_non_exhaustive()
    }
}

impl Vault {
    /// Opens the vault of a data directory, locked.
    ///
    /// # Errors
    ///
    /// [`Error::NoVault`], [`Error::VaultFile`] for an unreadable, damaged or
    /// newer file (never replaced), [`Error::VaultIo`].
    pub fn open(data_dir: &DataDir, keychain: Keychain) -> Result<Vault> {
        let root = data_dir.root().to_owned();
        let file = read_file(&root)?;
        Ok(Vault {
            root,
            keychain,
            state: Mutex::new(State {
                file,
                open: None,
                idle_lock: Some(minutes(DEFAULT_IDLE_LOCK_MINUTES)),
            }),
            fault: None,
        })
    }

    /// True when the data directory has a vault file (intact or not).
    ///
    /// # Errors
    ///
    /// [`Error::VaultIo`] when that cannot be known.
    pub fn exists(data_dir: &DataDir) -> Result<bool> {
        let path = data_dir.root().join(VAULT_FILE);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::VaultIo { path, source }),
        }
    }

    /// Makes a new vault: a random DEK wrapped by a new KEK in the keychain
    /// (unless [`InitOptions::keychain`] is off), by the passphrase if given,
    /// and by a new recovery key if asked (it is returned, to be shown once).
    /// The new vault is unlocked.
    ///
    /// # Errors
    ///
    /// [`Error::VaultExists`] over any vault file, [`Error::DataWithoutVault`]
    /// over library data (unless adopting it), [`Error::BadPassphrase`]
    /// (also for no passphrase without the keychain),
    /// [`Error::NoKeychainForVault`] when the keychain is unavailable or
    /// locked, the keychain's other errors (nothing is left behind),
    /// [`Error::VaultIo`].
    pub fn init(
        data_dir: &DataDir,
        keychain: Keychain,
        options: &InitOptions<'_>,
    ) -> Result<(Vault, Option<RecoveryKey>)> {
        match options.passphrase {
            Some(passphrase) => check_new_passphrase(passphrase)?,
            None if !options.keychain => {
                return Err(Error::BadPassphrase(
                    "a vault without the OS keychain needs a passphrase",
                ));
            }
            None => {}
        }
        data_dir.create()?;
        let root = data_dir.root().to_owned();
        let _lock = lock_file(&root)?;
        if Vault::exists(data_dir)? {
            return Err(Error::VaultExists {
                path: root.join(VAULT_FILE),
            });
        }
        if !options.adopt_existing_data && has_library_data(data_dir)? {
            return Err(Error::DataWithoutVault { path: root });
        }

        let vault_id = hex::encode(*random::<16>()?);
        let dek = random::<32>()?;
        let kek_id = hex::encode(*random::<8>()?);
        let kek = random::<32>()?;
        let audit_key = random::<32>()?;
        let mut file = VaultFile {
            format: FORMAT.to_owned(),
            version: VERSION,
            vault_id: vault_id.clone(),
            key_id: key_id(&dek),
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            slots: Vec::new(),
            audit_key_backup: None,
            stale_keks: Vec::new(),
        };
        if options.keychain {
            file.slots
                .push(keychain_slot(&file.vault_id, &kek_id, &kek, &dek)?);
        }
        if let Some(passphrase) = options.passphrase {
            file.slots.push(passphrase_slot(
                &file.vault_id,
                passphrase,
                DEFAULT_KDF,
                &dek,
            )?);
        }
        let recovery = if options.recovery_key {
            let (shown, slot) = recovery_slot(&file.vault_id, &dek)?;
            file.slots.push(slot);
            Some(shown)
        } else {
            None
        };
        file.audit_key_backup = Some(seal_audit_key(&file.vault_id, &dek, &audit_key)?);

        if !options.keychain {
            // The audit key lives only in its backup, under the DEK.
            write_file(&root, &file, &mut |_| Ok(()))?;
            let vault = Vault::made(root, keychain, file, dek, UnlockMethod::Passphrase);
            return Ok((vault, recovery));
        }
        // Keychain first: a vault file is never written that its keychain
        // item does not back. On failure, undo what was stored.
        keychain
            .put_kek(&vault_id, &kek_id, &kek, &root)
            .map_err(|e| match e {
                Error::KeychainUnavailable { .. } | Error::KeychainLocked { .. } => {
                    Error::NoKeychainForVault {
                        source: Box::new(e),
                    }
                }
                other => other,
            })?;
        let written = keychain
            .put_audit_key(&vault_id, &audit_key, &root)
            .and_then(|()| write_file(&root, &file, &mut |_| Ok(())));
        if let Err(e) = written {
            for result in [
                keychain.delete_kek(&vault_id, &kek_id),
                keychain.delete_audit_key(&vault_id),
            ] {
                if let Err(undo) = result {
                    tracing::warn!(error = %undo, "cannot remove a keychain item of a vault that was not made");
                }
            }
            return Err(e);
        }
        let vault = Vault::made(root, keychain, file, dek, UnlockMethod::Keychain);
        Ok((vault, recovery))
    }

    /// A vault just made, unlocked as `method`.
    fn made(
        root: PathBuf,
        keychain: Keychain,
        file: VaultFile,
        dek: Key32,
        method: UnlockMethod,
    ) -> Vault {
        Vault {
            root,
            keychain,
            state: Mutex::new(State {
                file,
                open: Some(Open {
                    key: DataKey::new(dek),
                    method,
                    last_used: Instant::now(),
                }),
                idle_lock: Some(minutes(DEFAULT_IDLE_LOCK_MINUTES)),
            }),
            fault: None,
        }
    }

    /// Removes the vault file, then the vault's keychain items. Everything
    /// encrypted with its data key becomes unreadable; documents are not
    /// touched. A damaged vault file is removed too.
    ///
    /// # Errors
    ///
    /// [`Error::NoVault`], [`Error::VaultIo`]. Keychain failures do not stop
    /// it: they are listed in [`Destroyed::keychain_items_left`].
    pub fn destroy(data_dir: &DataDir, keychain: &Keychain) -> Result<Destroyed> {
        let root = data_dir.root().to_owned();
        let _lock = lock_file(&root)?;
        if !Vault::exists(data_dir)? {
            return Err(Error::NoVault { path: root });
        }
        let file = read_file(&root).ok();
        // The file first: without it no keychain item opens anything, so a
        // crash after this point still leaves the data unreadable.
        let path = root.join(VAULT_FILE);
        fs::remove_file(&path).map_err(|source| Error::VaultIo {
            path: path.clone(),
            source,
        })?;
        match fs::remove_file(root.join(TEMP_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::VaultIo {
                    path: root.join(TEMP_FILE),
                    source,
                });
            }
        }
        sync_dir(&root)?;

        let mut destroyed = Destroyed::default();
        let Some(file) = file else {
            destroyed.keychain_items_left.push(
                "the vault file was damaged, so its keychain items (service \"sillok\") are unknown"
                    .to_owned(),
            );
            return Ok(destroyed);
        };
        if file.keychain_slot().is_none() && file.stale_keks.is_empty() {
            // A passphrase-only vault put nothing in the keychain.
            return Ok(destroyed);
        }
        let mut keks: Vec<&str> = file.stale_keks.iter().map(String::as_str).collect();
        if let Some((kek_id, _)) = file.keychain_slot() {
            keks.push(kek_id);
        }
        let mut results = Vec::new();
        for kek_id in keks {
            results.push((
                Keychain::kek_account(&file.vault_id, kek_id),
                keychain.delete_kek(&file.vault_id, kek_id),
            ));
        }
        results.push((
            Keychain::audit_account(&file.vault_id),
            keychain.delete_audit_key(&file.vault_id),
        ));
        for (item, result) in results {
            match result {
                Ok(true) => destroyed.keychain_items_removed += 1,
                Ok(false) => {}
                Err(e) => destroyed
                    .keychain_items_left
                    .push(format!("{item}: {}", error_chain(&e))),
            }
        }
        Ok(destroyed)
    }

    /// Stops operations at the given points (tests simulating crashes).
    pub fn set_fault_hook(&mut self, hook: Option<FaultHook>) {
        self.fault = hook;
    }

    /// How long the data key may sit unused before it is dropped (`None`:
    /// never).
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`].
    pub fn set_idle_lock(&self, idle: Option<Duration>) -> Result<()> {
        self.state()?.idle_lock = idle;
        Ok(())
    }

    /// False for a vault made to open by passphrase only (no keychain slot).
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`].
    pub fn uses_keychain(&self) -> Result<bool> {
        Ok(self.state()?.file.keychain_slot().is_some())
    }

    /// The vault's id.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`].
    pub fn vault_id(&self) -> Result<String> {
        Ok(self.state()?.file.vault_id.clone())
    }

    /// Unlocks: the data key is kept in memory until [`Vault::lock`] or the
    /// idle time passes. A keychain unlock also deletes keychain items an
    /// interrupted rotation left behind.
    ///
    /// # Errors
    ///
    /// [`Error::KeychainUnlock`] (with what to do instead) when the keychain
    /// cannot open it; [`Error::WrongPassphrase`], [`Error::WrongRecoveryKey`],
    /// [`Error::BadRecoveryKey`], [`Error::NoSuchUnlock`].
    pub fn unlock(&self, with: Unlock<'_>) -> Result<UnlockMethod> {
        let file = self.snapshot()?;
        let (dek, method) = match with {
            Unlock::Keychain => {
                let dek =
                    self.open_with_keychain(&file)
                        .map_err(|source| Error::KeychainUnlock {
                            alternatives: alternatives(&file),
                            source: Box::new(source),
                        })?;
                (dek, UnlockMethod::Keychain)
            }
            Unlock::Passphrase(passphrase) => (
                open_with_passphrase(&self.root, &file, passphrase)?,
                UnlockMethod::Passphrase,
            ),
            Unlock::RecoveryKey(text) => (
                open_with_recovery_key(&file, text)?,
                UnlockMethod::RecoveryKey,
            ),
        };
        if key_id(&dek) != file.key_id {
            return Err(file_error(
                &self.root,
                "a slot opens to a key other than the vault's",
            ));
        }
        self.state()?.open = Some(Open {
            key: DataKey::new(dek),
            method,
            last_used: Instant::now(),
        });
        if method == UnlockMethod::Keychain
            && let Err(e) = self.tidy()
        {
            tracing::warn!(error = %error_chain(&e), "cannot delete keychain items left by an interrupted rotation; the next unlock retries");
        }
        Ok(method)
    }

    /// Drops the data key from memory (clones held elsewhere must be dropped
    /// by their holders).
    pub fn lock(&self) {
        match self.state.lock() {
            Ok(mut state) => state.open = None,
            Err(poisoned) => poisoned.into_inner().open = None,
        }
    }

    /// Locks if the data key has been idle longer than the idle time; true
    /// when this call locked it. The desktop calls it from a timer.
    pub fn lock_if_idle(&self) -> bool {
        let Ok(mut state) = self.state.lock() else {
            self.lock();
            return true;
        };
        let idle = state.idle_lock;
        match &state.open {
            Some(open) if idle.is_some_and(|limit| open.last_used.elapsed() >= limit) => {
                state.open = None;
                true
            }
            _ => false,
        }
    }

    /// How the vault is unlocked now (`None`: locked), after applying the
    /// idle lock.
    pub fn unlocked(&self) -> Option<UnlockMethod> {
        self.lock_if_idle();
        self.state
            .lock()
            .ok()
            .and_then(|state| state.open.as_ref().map(|open| open.method))
    }

    /// The data key, for encrypting and decrypting the stores. Counts as use
    /// for the idle lock.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`] when locked or idle too long (then it locks).
    pub fn data_key(&self) -> Result<DataKey> {
        let mut state = self.state()?;
        let idle = state.idle_lock;
        match state.open.as_mut() {
            Some(open) if idle.is_none_or(|limit| open.last_used.elapsed() < limit) => {
                open.last_used = Instant::now();
                Ok(open.key.clone())
            }
            Some(_) => {
                state.open = None;
                Err(Error::VaultLocked)
            }
            None => Err(Error::VaultLocked),
        }
    }

    /// The data key if the vault is unlocked and not idle too long, without
    /// counting as use: writing an audit record must not keep the vault open.
    pub(crate) fn current_key(&self) -> Option<DataKey> {
        let state = self.state.lock().ok()?;
        let idle = state.idle_lock;
        state
            .open
            .as_ref()
            .filter(|open| idle.is_none_or(|limit| open.last_used.elapsed() < limit))
            .map(|open| open.key.clone())
    }

    /// The audit trail's HMAC key, from the keychain; does not need the vault
    /// unlocked.
    ///
    /// # Errors
    ///
    /// The keychain's errors ([`Error::KeychainItemMissing`] when lost:
    /// [`Vault::repair_keychain`] restores it after an unlock).
    pub fn audit_key(&self) -> Result<Key32> {
        let vault_id = self.vault_id()?;
        self.keychain.audit_key(&vault_id)
    }

    /// The audit key from the keychain or, when the keychain cannot give it
    /// (unreachable, locked, item lost) and the vault is unlocked, from its
    /// backup sealed under the data key in the vault file: a passphrase or
    /// recovery unlock without a keychain is still recorded. Never any other
    /// key.
    ///
    /// # Errors
    ///
    /// The keychain's error when the vault is locked or has no backup.
    pub fn audit_key_or_backup(&self) -> Result<Key32> {
        let from_keychain = self.audit_key();
        let Err(error) = from_keychain else {
            return from_keychain;
        };
        let Some(dek) = self.current_key() else {
            return Err(error);
        };
        let file = self.snapshot()?;
        match file
            .audit_key_backup
            .as_ref()
            .and_then(|sealed| unseal_audit_key(&file.vault_id, &dek, sealed))
        {
            Some(key) => {
                tracing::info!(error = %error_chain(&error), "the audit key comes from its backup in the vault file");
                Ok(key)
            }
            None => Err(error),
        }
    }

    /// The vault's state, probing the keychain.
    ///
    /// # Errors
    ///
    /// [`Error::Poisoned`].
    pub fn status(&self) -> Result<VaultStatus> {
        let unlocked = self.unlocked();
        let file = self.snapshot()?;
        let keychain = match self.open_with_keychain(&file) {
            Ok(_) => KeychainState::Ok,
            Err(e) => KeychainState::of(&e),
        };
        let idle_lock = self.state()?.idle_lock;
        Ok(VaultStatus {
            path: self.root.join(VAULT_FILE),
            vault_id: file.vault_id.clone(),
            key_id: file.key_id.clone(),
            created_unix: file.created_unix,
            unlocked,
            keychain,
            keychain_item: file
                .keychain_slot()
                .map(|(kek_id, _)| Keychain::kek_account(&file.vault_id, kek_id)),
            keychain_store: self.keychain.describe(),
            passphrase: file.passphrase_slot().is_some(),
            recovery_key: file.recovery_slot().is_some(),
            idle_lock,
        })
    }

    /// Replaces the keychain's KEK and re-wraps the data key with it (the
    /// data key itself is unchanged). Crash-safe: at every step the vault
    /// opens with the old or the new KEK.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], the keychain's errors, [`Error::VaultIo`].
    pub fn rotate_kek(&self) -> Result<()> {
        let dek = self.data_key()?;
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        let old = file.keychain_slot().map(|(kek_id, _)| kek_id.to_owned());
        let new = hex::encode(*random::<8>()?);
        let kek = random::<32>()?;

        // 1. Record the new item as pending: if the rotation stops before the
        // switch, the next unlock deletes it.
        file.stale_keks.push(new.clone());
        self.write(&file)?;
        self.fault(FaultPoint::RotateIntentWritten)?;
        // 2. The new KEK into the keychain.
        self.keychain
            .put_kek(&file.vault_id, &new, &kek, &self.root)?;
        self.fault(FaultPoint::RotateNewKekStored)?;
        // 3. Switch the slot; the old item becomes the one to delete.
        let slot = keychain_slot(&file.vault_id, &new, &kek, dek.as_bytes())?;
        file.slots.retain(|s| !matches!(s, Slot::Keychain { .. }));
        file.slots.insert(0, slot);
        file.stale_keks.retain(|id| *id != new);
        if let Some(old) = &old {
            file.stale_keks.push(old.clone());
        }
        self.write(&file)?;
        self.fault(FaultPoint::RotateSwitched)?;
        // 4. Delete the old item, then forget it. A keychain failure here is
        // not a failed rotation: the next unlock retries.
        if let Some(old) = &old {
            match self.keychain.delete_kek(&file.vault_id, old) {
                Ok(_) => {
                    self.fault(FaultPoint::RotateOldKekDeleted)?;
                    file.stale_keks.retain(|id| id != old);
                    self.write(&file)?;
                }
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "cannot delete the old keychain item; the next unlock retries");
                }
            }
        }
        Ok(())
    }

    /// After an unlock by passphrase or recovery key: when the keychain is
    /// reachable but lacks the vault's KEK (or holds a wrong one), puts a new
    /// one there (a rotation), and puts back a lost audit key from its
    /// backup. A locked or unavailable keychain is left alone, and so is a
    /// passphrase-only vault's (it keeps nothing there).
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], the keychain's errors when it is locked or
    /// unavailable, [`Error::VaultIo`].
    pub fn repair_keychain(&self) -> Result<Repair> {
        let dek = self.data_key()?;
        let file = self.snapshot()?;
        let mut repair = Repair::default();
        if file.keychain_slot().is_none() {
            return Ok(repair);
        }
        match self.open_with_keychain(&file) {
            Ok(_) => {}
            Err(Error::KeychainItemMissing { .. } | Error::KeychainItemInvalid { .. }) => {
                self.rotate_kek()?;
                repair.kek_relinked = true;
            }
            Err(e) => return Err(e),
        }
        match self.keychain.audit_key(&file.vault_id) {
            Ok(_) => {}
            Err(Error::KeychainItemMissing { .. } | Error::KeychainItemInvalid { .. }) => {
                let Some(sealed) = &file.audit_key_backup else {
                    return Ok(repair);
                };
                let key = unseal_audit_key(&file.vault_id, &dek, sealed)
                    .ok_or_else(|| file_error(&self.root, "the audit key backup does not open"))?;
                self.keychain
                    .put_audit_key(&file.vault_id, &key, &self.root)?;
                repair.audit_key_restored = true;
            }
            Err(e) => return Err(e),
        }
        Ok(repair)
    }

    /// Replaces the audit HMAC key (in the keychain and in its backup in the
    /// vault file): for bringing in the key of a trail started before the
    /// vault.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], the keychain's errors, [`Error::VaultIo`].
    pub fn set_audit_key(&self, key: &[u8; 32]) -> Result<()> {
        let dek = self.data_key()?;
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        // The backup first: a crash between the two leaves a backup that
        // `repair_keychain` cannot confuse with a lost key, since the
        // keychain still holds the old key until the next line.
        file.audit_key_backup = Some(seal_audit_key(&file.vault_id, dek.as_bytes(), key)?);
        self.write(&file)?;
        self.keychain.put_audit_key(&file.vault_id, key, &self.root)
    }

    /// Puts `key` in the keychain as the audit HMAC key without the data
    /// key: for moving the key of a trail started before the vault (the
    /// old `audit.key` file) while the vault may be locked. The backup in
    /// the vault file is sealed now when the vault is unlocked, else cleared
    /// first and made again by [`Vault::ensure_audit_key_backup`] at the next
    /// unlock, so it never holds another key than the keychain.
    ///
    /// # Errors
    ///
    /// The keychain's errors, [`Error::VaultIo`].
    pub fn adopt_audit_key(&self, key: &[u8; 32]) -> Result<()> {
        let dek = self.current_key();
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        file.audit_key_backup = dek
            .map(|dek| seal_audit_key(&file.vault_id, dek.as_bytes(), key))
            .transpose()?;
        self.write(&file)?;
        self.keychain.put_audit_key(&file.vault_id, key, &self.root)
    }

    /// Seals the keychain's audit key into the vault file when the backup is
    /// missing (after [`Vault::adopt_audit_key`] on a locked vault); true
    /// when it wrote one.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], the keychain's errors, [`Error::VaultIo`].
    pub fn ensure_audit_key_backup(&self) -> Result<bool> {
        if self.snapshot()?.audit_key_backup.is_some() {
            return Ok(false);
        }
        let dek = self.data_key()?;
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        if file.audit_key_backup.is_some() {
            return Ok(false);
        }
        let key = self.keychain.audit_key(&file.vault_id)?;
        file.audit_key_backup = Some(seal_audit_key(&file.vault_id, dek.as_bytes(), &key)?);
        self.write(&file)?;
        Ok(true)
    }

    /// Sets, replaces (`Some`) or removes (`None`) the passphrase slot.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], [`Error::BadPassphrase`], [`Error::VaultIo`].
    pub fn set_passphrase(&self, passphrase: Option<&str>) -> Result<()> {
        if let Some(passphrase) = passphrase {
            check_new_passphrase(passphrase)?;
        }
        let dek = self.data_key()?;
        let vault_id = self.vault_id()?;
        let slot = passphrase
            .map(|p| passphrase_slot(&vault_id, p, DEFAULT_KDF, dek.as_bytes()))
            .transpose()?;
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        file.slots.retain(|s| !matches!(s, Slot::Passphrase { .. }));
        file.slots.extend(slot);
        self.write(&file)
    }

    /// Replaces the recovery key: the new one is returned (to be shown once)
    /// and the old one stops working.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], [`Error::VaultIo`].
    pub fn new_recovery_key(&self) -> Result<RecoveryKey> {
        let dek = self.data_key()?;
        let vault_id = self.vault_id()?;
        let (shown, slot) = recovery_slot(&vault_id, dek.as_bytes())?;
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        file.slots
            .retain(|s| !matches!(s, Slot::RecoveryKey { .. }));
        file.slots.push(slot);
        self.write(&file)?;
        Ok(shown)
    }

    fn state(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| Error::Poisoned("vault"))
    }

    fn snapshot(&self) -> Result<VaultFile> {
        Ok(self.state()?.file.clone())
    }

    /// Re-reads the file (under `vault.lock`): another process may have
    /// changed it since this handle read it.
    fn reload(&self) -> Result<VaultFile> {
        let file = read_file(&self.root)?;
        let mut state = self.state()?;
        if file.vault_id != state.file.vault_id {
            return Err(file_error(
                &self.root,
                "it was replaced by another vault while in use",
            ));
        }
        state.file = file.clone();
        Ok(file)
    }

    fn write(&self, file: &VaultFile) -> Result<()> {
        write_file(&self.root, file, &mut |point| self.fault(point))?;
        self.state()?.file = file.clone();
        Ok(())
    }

    fn fault(&self, point: FaultPoint) -> Result<()> {
        #[cfg(debug_assertions)]
        if std::env::var(CRASH_ENV).is_ok_and(|at| at == point.name()) {
            // A crash, not an error: no destructor, no flush, no cleanup.
            std::process::abort();
        }
        match &self.fault {
            Some(hook) => hook(point),
            None => Ok(()),
        }
    }

    fn open_with_keychain(&self, file: &VaultFile) -> Result<Key32> {
        let Some((kek_id, sealed)) = file.keychain_slot() else {
            return Err(Error::NoSuchUnlock("keychain slot"));
        };
        let kek = self.keychain.kek(&file.vault_id, kek_id)?;
        unseal_key(&kek, &slot_aad(&file.vault_id, "keychain", kek_id), sealed).ok_or_else(|| {
            Error::KeychainItemInvalid {
                item: Keychain::kek_account(&file.vault_id, kek_id),
                reason: "it does not open this vault (or vault.json was altered)",
            }
        })
    }

    /// Deletes keychain items an interrupted rotation left behind.
    fn tidy(&self) -> Result<()> {
        if self.snapshot()?.stale_keks.is_empty() {
            return Ok(());
        }
        let _lock = lock_file(&self.root)?;
        let mut file = self.reload()?;
        let current = file.keychain_slot().map(|(kek_id, _)| kek_id.to_owned());
        let mut kept = Vec::new();
        for kek_id in std::mem::take(&mut file.stale_keks) {
            if Some(&kek_id) == current.as_ref() {
                continue;
            }
            if let Err(e) = self.keychain.delete_kek(&file.vault_id, &kek_id) {
                tracing::warn!(error = %error_chain(&e), "cannot delete a stale keychain item");
                kept.push(kek_id);
            }
        }
        file.stale_keks = kept;
        self.write(&file)
    }
}

impl Sillok {
    /// The data directory's vault over the given keychain
    /// ([`Keychain::os`] in the apps), locked, with the idle lock from
    /// settings.
    ///
    /// # Errors
    ///
    /// As [`Vault::open`]; a damaged settings file.
    pub fn open_vault(&self, keychain: Keychain) -> Result<Vault> {
        let vault = Vault::open(self.data_dir(), keychain)?;
        vault.set_idle_lock(Some(self.idle_lock()?))?;
        Ok(vault)
    }

    /// The idle time from settings ([`IDLE_LOCK_TEST_ENV`] in debug builds).
    pub(crate) fn idle_lock(&self) -> Result<Duration> {
        #[cfg(debug_assertions)]
        if let Some(secs) = std::env::var(IDLE_LOCK_TEST_ENV)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&s| s > 0)
        {
            return Ok(Duration::from_secs(secs));
        }
        Ok(self.settings()?.idle_lock())
    }
}

// ---------------------------------------------------------------------------
// The file.

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultFile {
    format: String,
    version: u32,
    vault_id: String,
    /// [`key_id`] of the DEK: every slot must open to it.
    key_id: String,
    created_unix: u64,
    slots: Vec<Slot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit_key_backup: Option<Sealed>,
    /// KEK ids whose keychain items are to be deleted (an interrupted
    /// rotation's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    stale_keks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum Slot {
    Keychain {
        kek_id: String,
        sealed: Sealed,
    },
    Passphrase {
        kdf: String,
        params: KdfParams,
        salt: String,
        sealed: Sealed,
    },
    RecoveryKey {
        salt: String,
        sealed: Sealed,
    },
}

/// An AEAD box: hex nonce (24 bytes) and hex ciphertext with its tag.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

impl VaultFile {
    fn keychain_slot(&self) -> Option<(&str, &Sealed)> {
        self.slots.iter().find_map(|slot| match slot {
            Slot::Keychain { kek_id, sealed } => Some((kek_id.as_str(), sealed)),
            _ => None,
        })
    }

    fn passphrase_slot(&self) -> Option<(&str, &KdfParams, &str, &Sealed)> {
        self.slots.iter().find_map(|slot| match slot {
            Slot::Passphrase {
                kdf,
                params,
                salt,
                sealed,
            } => Some((kdf.as_str(), params, salt.as_str(), sealed)),
            _ => None,
        })
    }

    fn recovery_slot(&self) -> Option<(&str, &Sealed)> {
        self.slots.iter().find_map(|slot| match slot {
            Slot::RecoveryKey { salt, sealed } => Some((salt.as_str(), sealed)),
            _ => None,
        })
    }
}

fn file_error(root: &Path, reason: &str) -> Error {
    Error::VaultFile {
        path: root.join(VAULT_FILE),
        reason: reason.to_owned(),
    }
}

fn read_file(root: &Path) -> Result<VaultFile> {
    let path = root.join(VAULT_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoVault {
                path: root.to_owned(),
            });
        }
        Err(source) => return Err(Error::VaultIo { path, source }),
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(file_error(root, "it is far too large to be a vault file"));
    }
    // The format and version first: a newer file may have fields this
    // version does not know, and deserves a clearer message than "unknown
    // field".
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| file_error(root, &format!("damaged ({e}); restore it from a backup")))?;
    if value.get("format").and_then(serde_json::Value::as_str) != Some(FORMAT) {
        return Err(file_error(root, "it is not a Sillok vault file"));
    }
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) if v > u64::from(VERSION) => {
            return Err(file_error(
                root,
                &format!("it is format version {v}, written by a newer Sillok"),
            ));
        }
        _ => return Err(file_error(root, "it has no valid format version")),
    }
    let file: VaultFile = serde_json::from_value(value)
        .map_err(|e| file_error(root, &format!("damaged ({e}); restore it from a backup")))?;
    validate(root, &file)?;
    Ok(file)
}

fn validate(root: &Path, file: &VaultFile) -> Result<()> {
    let is_hex = |s: &str, bytes: usize| s.len() == bytes * 2 && hex::decode(s).is_ok();
    if !is_hex(&file.vault_id, 16) || !is_hex(&file.key_id, 8) {
        return Err(file_error(root, "its vault id or key id is malformed"));
    }
    let mut kinds = [0usize; 3];
    for slot in &file.slots {
        let (index, ok) = match slot {
            Slot::Keychain { kek_id, .. } => (0, is_hex(kek_id, 8)),
            Slot::Passphrase {
                kdf, params, salt, ..
            } => (
                1,
                kdf == KDF_NAME && is_hex(salt, 16) && kdf_params_sane(params),
            ),
            Slot::RecoveryKey { salt, .. } => (2, is_hex(salt, 16)),
        };
        if !ok {
            return Err(file_error(root, "a key slot is malformed"));
        }
        kinds[index] += 1;
    }
    if kinds.iter().any(|&n| n > 1) {
        return Err(file_error(root, "it has two key slots of one kind"));
    }
    if file.slots.is_empty() {
        return Err(file_error(root, "it has no key slot"));
    }
    Ok(())
}

/// Bounds on parameters read from a file, so a hostile file cannot make an
/// unlock allocate gigabytes or run for minutes: at most 1 GiB and 16 passes
/// (16× the memory and about 5× the passes of [`DEFAULT_KDF`], some 15 s on
/// the development machine).
fn kdf_params_sane(p: &KdfParams) -> bool {
    (1..=16).contains(&p.parallelism)
        && (8 * p.parallelism..=1024 * 1024).contains(&p.memory_kib)
        && (1..=16).contains(&p.iterations)
}

/// Writes the vault file atomically: a crash leaves the old file or the new
/// one, never a mix. Only ever called under `vault.lock`.
fn write_file(
    root: &Path,
    file: &VaultFile,
    fault: &mut dyn FnMut(FaultPoint) -> Result<()>,
) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::VaultIo { path, source }
    };
    let mut json = serde_json::to_vec_pretty(file)
        .map_err(|e| file_error(root, &format!("cannot be encoded: {e}")))?;
    json.push(b'\n');
    let temp = root.join(TEMP_FILE);
    {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut out = options.open(&temp).map_err(io(&temp))?;
        out.write_all(&json).map_err(io(&temp))?;
        out.sync_all().map_err(io(&temp))?;
    }
    fault(FaultPoint::TempWritten)?;
    let path = root.join(VAULT_FILE);
    fs::rename(&temp, &path).map_err(io(&path))?;
    sync_dir(root)
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::VaultIo {
            path: dir.to_owned(),
            source,
        })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Holds `vault.lock` (an OS lock, released on exit even by a crash) while
/// the vault file is read-modify-written.
fn lock_file(root: &Path) -> Result<File> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| Error::VaultIo {
            path: path.clone(),
            source,
        })?;
    file.lock()
        .map_err(|source| Error::VaultIo { path, source })?;
    Ok(file)
}

/// True when the data directory holds a library or conversations.
fn has_library_data(data_dir: &DataDir) -> Result<bool> {
    for dir in [data_dir.indexes(), data_dir.db()] {
        match fs::read_dir(&dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::VaultIo { path: dir, source }),
        }
    }
    Ok(false)
}

/// What the user can do when the keychain fails, from the slots there are.
fn alternatives(file: &VaultFile) -> String {
    if file.keychain_slot().is_none() {
        return format!(
            "this vault has no keychain item: it opens with its passphrase, asked for on a terminal or read from ${PASSPHRASE_ENV}"
        );
    }
    match (file.passphrase_slot().is_some(), file.recovery_slot().is_some()) {
        (true, true) => "unlock with your passphrase (`sillok vault unlock --passphrase`) or your recovery key (`sillok vault unlock --recovery-key`)".to_owned(),
        (true, false) => "unlock with your passphrase (`sillok vault unlock --passphrase`)".to_owned(),
        (false, true) => "unlock with your recovery key (`sillok vault unlock --recovery-key`)".to_owned(),
        (false, false) => "this vault has no passphrase or recovery key: only its keychain item opens it (unlock the keychain, or restore the item from a backup of the keychain)".to_owned(),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

fn minutes(n: u32) -> Duration {
    Duration::from_secs(u64::from(n) * 60)
}

// ---------------------------------------------------------------------------
// Keys and slots.

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

fn hkdf_expand(ikm: &[u8], salt: Option<&[u8]>, info: &str) -> Key32 {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info.as_bytes(), out.as_mut_slice())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

fn key_id(dek: &[u8; 32]) -> String {
    hex::encode(&hkdf_expand(dek, None, &format!("{FORMAT} key id"))[..8])
}

fn slot_aad(vault_id: &str, kind: &str, tag: &str) -> Vec<u8> {
    format!("{FORMAT}/{VERSION}/{vault_id}/{kind}/{tag}").into_bytes()
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
    let nonce = random::<24>()?;
    let ciphertext = XChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(
            XNonce::from_slice(nonce.as_slice()),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("a 32-byte message is far below XChaCha20-Poly1305's limit");
    Ok(Sealed {
        nonce: hex::encode(*nonce),
        ciphertext: hex::encode(ciphertext),
    })
}

/// The 32-byte secret in `sealed`, or `None` when the key is wrong or the box
/// was altered (the AEAD tag does not verify).
fn unseal_key(key: &[u8; 32], aad: &[u8], sealed: &Sealed) -> Option<Key32> {
    let nonce = hex::decode(&sealed.nonce).ok()?;
    let ciphertext = hex::decode(&sealed.ciphertext).ok()?;
    if nonce.len() != 24 {
        return None;
    }
    let plaintext = Zeroizing::new(
        XChaCha20Poly1305::new(Key::from_slice(key))
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad,
                },
            )
            .ok()?,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    if plaintext.len() != 32 {
        return None;
    }
    out.copy_from_slice(&plaintext);
    Some(out)
}

fn keychain_slot(vault_id: &str, kek_id: &str, kek: &[u8; 32], dek: &[u8; 32]) -> Result<Slot> {
    Ok(Slot::Keychain {
        kek_id: kek_id.to_owned(),
        sealed: seal(kek, &slot_aad(vault_id, "keychain", kek_id), dek)?,
    })
}

fn seal_audit_key(vault_id: &str, dek: &[u8; 32], audit_key: &[u8; 32]) -> Result<Sealed> {
    let key = hkdf_expand(dek, None, &format!("{FORMAT} audit key backup"));
    seal(&key, &slot_aad(vault_id, "audit-key", "backup"), audit_key)
}

fn unseal_audit_key(vault_id: &str, dek: &DataKey, sealed: &Sealed) -> Option<Key32> {
    let key = hkdf_expand(dek.as_bytes(), None, &format!("{FORMAT} audit key backup"));
    unseal_key(&key, &slot_aad(vault_id, "audit-key", "backup"), sealed)
}

fn check_new_passphrase(passphrase: &str) -> Result<()> {
    let normalized: Zeroizing<String> = Zeroizing::new(passphrase.nfc().collect());
    if normalized.trim().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::BadPassphrase("use at least 8 characters"));
    }
    if normalized.len() > MAX_PASSPHRASE_BYTES {
        return Err(Error::BadPassphrase("use at most 1024 bytes"));
    }
    Ok(())
}

fn derive_passphrase_key(passphrase: &str, salt: &[u8], params: KdfParams) -> Result<Key32> {
    let normalized: Zeroizing<String> = Zeroizing::new(passphrase.nfc().collect());
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(32),
        )
        .map_err(|e| Error::VaultFile {
            path: PathBuf::from(VAULT_FILE),
            reason: format!("bad Argon2id parameters: {e}"),
        })?,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(normalized.as_bytes(), salt, out.as_mut_slice())
        .map_err(|e| Error::VaultFile {
            path: PathBuf::from(VAULT_FILE),
            reason: format!("Argon2id failed: {e}"),
        })?;
    Ok(out)
}

fn passphrase_slot(
    vault_id: &str,
    passphrase: &str,
    params: KdfParams,
    dek: &[u8; 32],
) -> Result<Slot> {
    let salt = random::<16>()?;
    let key = derive_passphrase_key(passphrase, salt.as_slice(), params)?;
    let salt = hex::encode(*salt);
    let sealed = seal(&key, &slot_aad(vault_id, "passphrase", &salt), dek)?;
    Ok(Slot::Passphrase {
        kdf: KDF_NAME.to_owned(),
        params,
        salt,
        sealed,
    })
}

fn open_with_passphrase(root: &Path, file: &VaultFile, passphrase: &str) -> Result<Key32> {
    let Some((_, params, salt, sealed)) = file.passphrase_slot() else {
        return Err(Error::NoSuchUnlock("passphrase"));
    };
    let salt_bytes = hex::decode(salt).map_err(|_| file_error(root, "a salt is malformed"))?;
    let key = derive_passphrase_key(passphrase, &salt_bytes, *params)?;
    unseal_key(&key, &slot_aad(&file.vault_id, "passphrase", salt), sealed)
        .ok_or(Error::WrongPassphrase)
}

fn recovery_wrapping_key(secret: &[u8; 20], salt: &str) -> Key32 {
    hkdf_expand(
        secret,
        Some(salt.as_bytes()),
        &format!("{FORMAT} recovery key"),
    )
}

fn recovery_slot(vault_id: &str, dek: &[u8; 32]) -> Result<(RecoveryKey, Slot)> {
    let secret = random::<20>()?;
    let salt = hex::encode(*random::<16>()?);
    let key = recovery_wrapping_key(&secret, &salt);
    let sealed = seal(&key, &slot_aad(vault_id, "recovery-key", &salt), dek)?;
    Ok((
        recovery::format(&secret),
        Slot::RecoveryKey { salt, sealed },
    ))
}

fn open_with_recovery_key(file: &VaultFile, text: &str) -> Result<Key32> {
    let Some((salt, sealed)) = file.recovery_slot() else {
        return Err(Error::NoSuchUnlock("recovery key"));
    };
    let secret = recovery::parse(text)?;
    let key = recovery_wrapping_key(&secret, salt);
    unseal_key(
        &key,
        &slot_aad(&file.vault_id, "recovery-key", salt),
        sealed,
    )
    .ok_or(Error::WrongRecoveryKey)
}

mod recovery {
    //! Recovery keys as text: 160 random bits in 32 Crockford base32
    //! characters plus 4 check characters (20 bits of SHA-256), in groups of
    //! four. Reading forgives case, spaces, dashes and the look-alikes
    //! O→0, I/L→1.

    use super::{Digest, RecoveryKey, Sha256, Zeroizing};
    use crate::{Error, Result};

    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    const DATA_CHARS: usize = 32;
    const CHECK_CHARS: usize = 4;
    const GROUP: usize = 4;

    fn check(secret: &[u8; 20]) -> [u8; CHECK_CHARS] {
        let digest = Sha256::new()
            .chain_update(b"sillok recovery key check")
            .chain_update(secret)
            .finalize();
        let bits = (u32::from(digest[0]) << 12)
            | (u32::from(digest[1]) << 4)
            | (u32::from(digest[2]) >> 4);
        let mut out = [0u8; CHECK_CHARS];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = ((bits >> (5 * (CHECK_CHARS - 1 - i))) & 31) as u8;
        }
        out
    }

    pub(super) fn format(secret: &[u8; 20]) -> RecoveryKey {
        let mut symbols = Zeroizing::new(Vec::with_capacity(DATA_CHARS + CHECK_CHARS));
        let mut acc: u32 = 0;
        let mut bits = 0;
        for &byte in secret {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                symbols.push(((acc >> bits) & 31) as u8);
            }
            acc &= (1 << bits) - 1;
        }
        symbols.extend_from_slice(&check(secret));
        let mut text = Zeroizing::new(String::with_capacity(45));
        for (i, &symbol) in symbols.iter().enumerate() {
            if i > 0 && i % GROUP == 0 {
                text.push('-');
            }
            text.push(char::from(ALPHABET[usize::from(symbol)]));
        }
        RecoveryKey(text)
    }

    fn value(c: char) -> Option<u8> {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        ALPHABET
            .iter()
            .position(|&a| char::from(a) == c)
            .and_then(|p| u8::try_from(p).ok())
    }

    pub(super) fn parse(text: &str) -> Result<Zeroizing<[u8; 20]>> {
        let mut symbols = Zeroizing::new(Vec::with_capacity(DATA_CHARS + CHECK_CHARS));
        for c in text.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let Some(v) = value(c) else {
                return Err(Error::BadRecoveryKey {
                    reason: "it has a character recovery keys do not use (they are digits and the letters A to Z without I, L, O and U; is the keyboard in English mode?)".to_owned(),
                });
            };
            symbols.push(v);
        }
        if symbols.len() != DATA_CHARS + CHECK_CHARS {
            return Err(Error::BadRecoveryKey {
                reason: format!(
                    "it should have {} characters in 9 groups of 4, not {}",
                    DATA_CHARS + CHECK_CHARS,
                    symbols.len()
                ),
            });
        }
        let mut secret = Zeroizing::new([0u8; 20]);
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut at = 0;
        for &symbol in &symbols[..DATA_CHARS] {
            acc = (acc << 5) | u32::from(symbol);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                secret[at] = ((acc >> bits) & 0xff) as u8;
                at += 1;
                acc &= (1 << bits) - 1;
            }
        }
        if symbols[DATA_CHARS..] != check(&secret) {
            return Err(Error::BadRecoveryKey {
                reason:
                    "it is mistyped (its last group does not match the others); check each group"
                        .to_owned(),
            });
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests;
