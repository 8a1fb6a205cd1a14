//! The OS keychain: the only module that talks to it.
//!
//! Sillok keeps two kinds of secret there, per vault (per data directory),
//! under the service name [`SERVICE`]:
//!
//! - the key-encryption key (KEK) that wraps the vault's data key, account
//!   `vault-<vault id>/kek-<kek id>` (a new KEK id on each rotation);
//! - the audit trail's HMAC key, account `vault-<vault id>/audit-hmac`, kept
//!   apart from the data key so the trail can be written while the vault is
//!   locked.
//!
//! Secrets are stored as lowercase hex text (some Secret Service back ends,
//! KDE Wallet among them, hold only UTF-8) and read back into zeroizing
//! buffers. On Linux the store is the freedesktop Secret Service over the
//! session D-Bus (gnome-keyring, KeePassXC, KWallet), reached only through a
//! local unix socket: any other bus address is refused before connecting.
//! Everything goes through the [`KeyStore`] trait so the vault's tests run on
//! [`MemoryKeyStore`]. This module knows nothing of wrapping or the vault file
//! (`vault.rs` does).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use crate::{Error, Result};

/// The keychain service name of every Sillok item.
pub const SERVICE: &str = "sillok";

/// A 256-bit key read from the keychain, wiped from memory when dropped.
pub type Key32 = Zeroizing<[u8; 32]>;

/// The boxed cause carried by keychain errors.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A place that keeps small secrets by account name: the OS keychain, or
/// memory in tests.
pub trait KeyStore: Send + Sync + fmt::Debug {
    /// The secret stored under `account`; `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::KeychainUnavailable`], [`Error::KeychainLocked`] or
    /// [`Error::Keychain`].
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>>;

    /// Stores `secret` under `account` (replacing any), with a label for the
    /// keychain's own UI.
    ///
    /// # Errors
    ///
    /// As [`KeyStore::get`].
    fn set(&self, account: &str, label: &str, secret: &[u8]) -> Result<()>;

    /// Deletes the item; `Ok(false)` when there was none.
    ///
    /// # Errors
    ///
    /// As [`KeyStore::get`].
    fn delete(&self, account: &str) -> Result<bool>;

    /// What this store is, for status output ("Secret Service", "memory").
    fn describe(&self) -> &'static str;
}

/// Sillok's items in a [`KeyStore`]: the vault's KEKs and the audit key.
#[derive(Clone, Debug)]
pub struct Keychain {
    store: Arc<dyn KeyStore>,
}

impl Keychain {
    /// The OS keychain (the Secret Service on Linux). Connects on first use,
    /// so a missing keychain is reported by the operation that needed it.
    pub fn os() -> Self {
        Keychain {
            store: Arc::new(os::OsKeyStore::default()),
        }
    }

    /// A keychain over any store (tests use [`MemoryKeyStore`]).
    pub fn with_store(store: Arc<dyn KeyStore>) -> Self {
        Keychain { store }
    }

    /// What the store is, for status output.
    pub fn describe(&self) -> &'static str {
        self.store.describe()
    }

    /// The account name of a vault's key-encryption key.
    pub fn kek_account(vault_id: &str, kek_id: &str) -> String {
        format!("vault-{vault_id}/kek-{kek_id}")
    }

    /// The account name of a vault's audit HMAC key.
    pub fn audit_account(vault_id: &str) -> String {
        format!("vault-{vault_id}/audit-hmac")
    }

    /// The vault's key-encryption key.
    ///
    /// # Errors
    ///
    /// [`Error::KeychainItemMissing`] when there is no such item,
    /// [`Error::KeychainItemInvalid`] when it is not a 256-bit key, or the
    /// store's errors.
    pub fn kek(&self, vault_id: &str, kek_id: &str) -> Result<Key32> {
        self.get_key(&Self::kek_account(vault_id, kek_id))
    }

    /// Stores a vault's key-encryption key.
    ///
    /// # Errors
    ///
    /// The store's errors.
    pub fn put_kek(&self, vault_id: &str, kek_id: &str, key: &[u8; 32], dir: &Path) -> Result<()> {
        let label = format!("Sillok vault key ({})", dir.display());
        self.put_key(&Self::kek_account(vault_id, kek_id), &label, key)
    }

    /// Deletes a vault's key-encryption key; `Ok(false)` when it was not there.
    ///
    /// # Errors
    ///
    /// The store's errors.
    pub fn delete_kek(&self, vault_id: &str, kek_id: &str) -> Result<bool> {
        self.store.delete(&Self::kek_account(vault_id, kek_id))
    }

    /// The vault's audit HMAC key (readable while the vault is locked).
    ///
    /// # Errors
    ///
    /// As [`Keychain::kek`].
    pub fn audit_key(&self, vault_id: &str) -> Result<Key32> {
        self.get_key(&Self::audit_account(vault_id))
    }

    /// Stores the vault's audit HMAC key.
    ///
    /// # Errors
    ///
    /// The store's errors.
    pub fn put_audit_key(&self, vault_id: &str, key: &[u8; 32], dir: &Path) -> Result<()> {
        let label = format!("Sillok audit key ({})", dir.display());
        self.put_key(&Self::audit_account(vault_id), &label, key)
    }

    /// Deletes the vault's audit HMAC key; `Ok(false)` when it was not there.
    ///
    /// # Errors
    ///
    /// The store's errors.
    pub fn delete_audit_key(&self, vault_id: &str) -> Result<bool> {
        self.store.delete(&Self::audit_account(vault_id))
    }

    fn get_key(&self, account: &str) -> Result<Key32> {
        let Some(text) = self.store.get(account)? else {
            return Err(Error::KeychainItemMissing {
                item: account.to_owned(),
            });
        };
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.as_slice(), key.as_mut_slice()).map_err(|_| {
            Error::KeychainItemInvalid {
                item: account.to_owned(),
                reason: "it is not a 256-bit key in hex",
            }
        })?;
        Ok(key)
    }

    fn put_key(&self, account: &str, label: &str, key: &[u8; 32]) -> Result<()> {
        let text = Zeroizing::new(hex::encode(key));
        self.store.set(account, label, text.as_bytes())
    }
}

/// A failure [`MemoryKeyStore`] can be told to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatedFailure {
    /// As with no session bus or no Secret Service.
    Unavailable,
    /// As with a locked keychain or a denied access prompt.
    Locked,
}

/// An in-memory [`KeyStore`] for tests: secrets live in this process only.
#[derive(Default)]
pub struct MemoryKeyStore {
    items: Mutex<BTreeMap<String, Zeroizing<Vec<u8>>>>,
    failure: Mutex<Option<SimulatedFailure>>,
}

impl fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secrets: only how many there are.
        let count = self.items.lock().map(|items| items.len()).unwrap_or(0);
        f.debug_struct("MemoryKeyStore")
            .field("items", &count)
            .finish()
    }
}

impl MemoryKeyStore {
    /// Makes every later operation fail this way (`None`: work again).
    pub fn fail_with(&self, failure: Option<SimulatedFailure>) {
        match self.failure.lock() {
            Ok(mut slot) => *slot = failure,
            Err(poisoned) => *poisoned.into_inner() = failure,
        }
    }

    /// The accounts that hold a secret, sorted.
    pub fn accounts(&self) -> Vec<String> {
        self.items
            .lock()
            .map(|items| items.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn check(&self) -> Result<()> {
        let failure = *self
            .failure
            .lock()
            .map_err(|_| Error::Poisoned("memory key store"))?;
        match failure {
            None => Ok(()),
            Some(SimulatedFailure::Unavailable) => Err(Error::KeychainUnavailable {
                source: "simulated: no Secret Service on the session bus".into(),
            }),
            Some(SimulatedFailure::Locked) => Err(Error::KeychainLocked {
                source: "simulated: the keychain is locked".into(),
            }),
        }
    }

    fn items(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Zeroizing<Vec<u8>>>>> {
        self.items
            .lock()
            .map_err(|_| Error::Poisoned("memory key store"))
    }
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        self.check()?;
        Ok(self.items()?.get(account).cloned())
    }

    fn set(&self, account: &str, _label: &str, secret: &[u8]) -> Result<()> {
        self.check()?;
        self.items()?
            .insert(account.to_owned(), Zeroizing::new(secret.to_vec()));
        Ok(())
    }

    fn delete(&self, account: &str) -> Result<bool> {
        self.check()?;
        Ok(self.items()?.remove(account).is_some())
    }

    fn describe(&self) -> &'static str {
        "memory (tests)"
    }
}

#[cfg(target_os = "linux")]
mod os {
    //! The freedesktop Secret Service through `keyring-core` and its pure-Rust
    //! zbus store.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use keyring_core::api::CredentialStoreApi;
    use zbus_secret_service_keyring_store::Store;
    use zeroize::Zeroizing;

    use super::{Cause, KeyStore, SERVICE};
    use crate::{Error, Result};

    /// The Secret Service on the session bus, connected on first use.
    #[derive(Default)]
    pub(super) struct OsKeyStore {
        store: Mutex<Option<Arc<Store>>>,
    }

    impl std::fmt::Debug for OsKeyStore {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OsKeyStore(Secret Service)")
        }
    }

    impl OsKeyStore {
        fn store(&self) -> Result<Arc<Store>> {
            let mut slot = self
                .store
                .lock()
                .map_err(|_| Error::Poisoned("keychain connection"))?;
            if let Some(store) = slot.as_ref() {
                return Ok(store.clone());
            }
            check_bus_address()?;
            // Any failure to connect (no bus, no Secret Service, a refused
            // session) means the keychain is not there for us.
            let store = Store::new().map_err(|e| Error::KeychainUnavailable {
                source: Box::new(e),
            })?;
            *slot = Some(store.clone());
            Ok(store)
        }

        fn entry(&self, account: &str, label: Option<&str>) -> Result<keyring_core::Entry> {
            let store = self.store()?;
            let mut modifiers = HashMap::new();
            if let Some(label) = label {
                modifiers.insert("label", label);
            }
            store
                .build(SERVICE, account, Some(&modifiers))
                .map_err(classify)
        }
    }

    impl KeyStore for OsKeyStore {
        fn get(&self, account: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
            match self.entry(account, None)?.get_secret() {
                Ok(secret) => Ok(Some(Zeroizing::new(secret))),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(classify(e)),
            }
        }

        fn set(&self, account: &str, label: &str, secret: &[u8]) -> Result<()> {
            self.entry(account, Some(label))?
                .set_secret(secret)
                .map_err(classify)
        }

        fn delete(&self, account: &str) -> Result<bool> {
            match self.entry(account, None)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(classify(e)),
            }
        }

        fn describe(&self) -> &'static str {
            "Secret Service"
        }
    }

    /// Sillok has no network code: the session bus must be a local unix
    /// socket. zbus also speaks TCP, so an address naming anything else is
    /// refused here, before any connection. Unset, zbus uses
    /// `$XDG_RUNTIME_DIR/bus`, a unix socket.
    fn check_bus_address() -> Result<()> {
        let address = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(address) => address,
            Err(std::env::VarError::NotPresent) => return Ok(()),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::KeychainUnavailable {
                    source: "DBUS_SESSION_BUS_ADDRESS is not valid text".into(),
                });
            }
        };
        if is_local_bus(&address) {
            Ok(())
        } else {
            Err(Error::KeychainUnavailable {
                source: format!(
                    "the session bus address {address:?} is not a local unix socket, and Sillok connects to nothing else"
                )
                .into(),
            })
        }
    }

    /// True when every address in the list is a unix socket.
    pub(super) fn is_local_bus(address: &str) -> bool {
        let mut parts = address.split(';').filter(|part| !part.is_empty());
        parts.clone().next().is_some() && parts.all(|part| part.starts_with("unix:"))
    }

    /// Maps keyring errors to the core's: locked or denied, gone, or broken.
    fn classify(error: keyring_core::Error) -> Error {
        match error {
            keyring_core::Error::NoStorageAccess(source) => Error::KeychainLocked { source },
            keyring_core::Error::PlatformFailure(source) if service_missing(&*source) => {
                Error::KeychainUnavailable { source }
            }
            keyring_core::Error::PlatformFailure(source) => Error::Keychain { source },
            other => Error::Keychain {
                source: Box::new(other) as Cause,
            },
        }
    }

    /// True when the bus answered that no Secret Service is running. The
    /// D-Bus error names are part of the protocol, so matching them is stable.
    fn service_missing(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(e) = next {
            let text = e.to_string();
            if text.contains("org.freedesktop.DBus.Error.ServiceUnknown")
                || text.contains("org.freedesktop.DBus.Error.NameHasNoOwner")
            {
                return true;
            }
            next = e.source();
        }
        false
    }
}

#[cfg(not(target_os = "linux"))]
mod os {
    //! No keychain back end is built for this platform yet: every operation
    //! reports the keychain as unavailable (the vault then offers the
    //! passphrase or recovery key).

    use zeroize::Zeroizing;

    use super::KeyStore;
    use crate::{Error, Result};

    #[derive(Debug, Default)]
    pub(super) struct OsKeyStore;

    fn unsupported() -> Error {
        Error::KeychainUnavailable {
            source: "no OS keychain back end is built for this platform".into(),
        }
    }

    impl KeyStore for OsKeyStore {
        fn get(&self, _account: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
            Err(unsupported())
        }
        fn set(&self, _account: &str, _label: &str, _secret: &[u8]) -> Result<()> {
            Err(unsupported())
        }
        fn delete(&self, _account: &str) -> Result<bool> {
            Err(unsupported())
        }
        fn describe(&self) -> &'static str {
            "none (unsupported platform)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique_vault_id() -> String {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the OS random source works");
        hex::encode(bytes)
    }

    #[test]
    fn memory_store_round_trips_and_simulates_failures() -> Result<()> {
        let store = Arc::new(MemoryKeyStore::default());
        let keychain = Keychain::with_store(store.clone());
        let key = [7u8; 32];
        keychain.put_kek("v1", "k1", &key, Path::new("/data"))?;
        assert_eq!(*keychain.kek("v1", "k1")?, key);
        assert_eq!(store.accounts(), vec!["vault-v1/kek-k1".to_owned()]);
        // Stored as hex text, never raw bytes.
        assert_eq!(
            store.get("vault-v1/kek-k1")?.map(|text| text.len()),
            Some(64)
        );
        assert!(!format!("{store:?}").contains("07"));

        store.fail_with(Some(SimulatedFailure::Locked));
        assert!(matches!(
            keychain.kek("v1", "k1"),
            Err(Error::KeychainLocked { .. })
        ));
        store.fail_with(Some(SimulatedFailure::Unavailable));
        assert!(matches!(
            keychain.kek("v1", "k1"),
            Err(Error::KeychainUnavailable { .. })
        ));
        store.fail_with(None);

        assert!(keychain.delete_kek("v1", "k1")?);
        assert!(!keychain.delete_kek("v1", "k1")?);
        assert!(matches!(
            keychain.kek("v1", "k1"),
            Err(Error::KeychainItemMissing { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_garbled_item_is_invalid_not_a_key() -> Result<()> {
        let store = Arc::new(MemoryKeyStore::default());
        store.set(&Keychain::audit_account("v"), "x", b"not hex at all")?;
        let keychain = Keychain::with_store(store);
        assert!(matches!(
            keychain.audit_key("v"),
            Err(Error::KeychainItemInvalid { .. })
        ));
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_unix_socket_bus_is_used() {
        let cases = [
            ("unix:path=/run/user/1000/bus", true),
            ("unix:abstract=/tmp/dbus-x;unix:path=/tmp/y", true),
            ("tcp:host=127.0.0.1,port=5555", false),
            ("unix:path=/tmp/x;tcp:host=10.0.0.1,port=1", false),
            ("nonce-tcp:host=localhost,port=1", false),
            ("unixexec:path=/bin/sh", false),
            ("", false),
        ];
        for (address, local) in cases {
            assert_eq!(os::is_local_bus(address), local, "{address}");
        }
    }

    /// The real Secret Service: run the tests under `installer/with-keyring.sh`
    /// (the test command does), which starts a private bus and an unlocked
    /// gnome-keyring.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_secret_service_keeps_reads_and_deletes_keys() -> Result<()> {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no session bus: run the tests under installer/with-keyring.sh (installer/test-all.sh does)"
        );
        let keychain = Keychain::os();
        let vault = unique_vault_id();
        let key = [0x5au8; 32];
        keychain.put_kek(&vault, "k1", &key, Path::new("/tmp/sillok-test"))?;
        assert_eq!(*keychain.kek(&vault, "k1")?, key);
        // Replacing keeps one item.
        let newer = [0x3cu8; 32];
        keychain.put_kek(&vault, "k1", &newer, Path::new("/tmp/sillok-test"))?;
        assert_eq!(*keychain.kek(&vault, "k1")?, newer);
        assert!(matches!(
            keychain.audit_key(&vault),
            Err(Error::KeychainItemMissing { .. })
        ));
        assert!(keychain.delete_kek(&vault, "k1")?);
        assert!(!keychain.delete_kek(&vault, "k1")?);
        assert!(matches!(
            keychain.kek(&vault, "k1"),
            Err(Error::KeychainItemMissing { .. })
        ));
        Ok(())
    }
}
