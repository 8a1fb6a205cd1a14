//! The vault on an in-memory key store (the real keychain is tested in
//! `keychain.rs` and end to end).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::keychain::{KeyStore, MemoryKeyStore, SimulatedFailure};

const PASSPHRASE: &str = "correct horse battery staple";

struct Fixture {
    _dir: tempfile::TempDir,
    data: DataDir,
    store: Arc<MemoryKeyStore>,
}

fn fixture() -> Result<Fixture> {
    let dir = tempfile::tempdir().map_err(|source| Error::VaultIo {
        path: "tempdir".into(),
        source,
    })?;
    let data = DataDir::at(dir.path().join("data"));
    Ok(Fixture {
        _dir: dir,
        data,
        store: Arc::new(MemoryKeyStore::default()),
    })
}

impl Fixture {
    fn keychain(&self) -> Keychain {
        Keychain::with_store(self.store.clone())
    }

    fn init(&self, options: &InitOptions<'_>) -> Result<(Vault, Option<RecoveryKey>)> {
        Vault::init(&self.data, self.keychain(), options)
    }

    fn open(&self) -> Result<Vault> {
        Vault::open(&self.data, self.keychain())
    }

    fn vault_path(&self) -> PathBuf {
        self.data.root().join(VAULT_FILE)
    }

    fn read(&self) -> Result<serde_json::Value> {
        let text = fs::read_to_string(self.vault_path()).map_err(|source| Error::VaultIo {
            path: self.vault_path(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| file_error(self.data.root(), &e.to_string()))
    }

    fn write(&self, value: &serde_json::Value) -> Result<()> {
        fs::write(self.vault_path(), value.to_string()).map_err(|source| Error::VaultIo {
            path: self.vault_path(),
            source,
        })
    }
}

fn with_passphrase() -> InitOptions<'static> {
    InitOptions {
        passphrase: Some(PASSPHRASE),
        ..InitOptions::default()
    }
}

fn recovery_text(key: Option<RecoveryKey>) -> Result<String> {
    key.map(|k| k.as_str().to_owned())
        .ok_or(Error::NoSuchUnlock("recovery key in the test"))
}

#[test]
fn every_slot_opens_the_same_key_and_the_file_holds_it_only_wrapped() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&with_passphrase())?;
    let recovery = recovery_text(recovery)?;
    let key = vault.data_key()?;
    let id = key.id();
    let status = vault.status()?;
    assert_eq!(status.key_id, id);
    assert_eq!(status.keychain, KeychainState::Ok);
    assert!(status.passphrase && status.recovery_key);
    assert_eq!(status.unlocked, Some(UnlockMethod::Keychain));
    let vault_id = vault.vault_id()?;
    assert_eq!(
        f.store.accounts(),
        vec![
            Keychain::audit_account(&vault_id),
            status.keychain_item.clone().unwrap_or_default(),
        ]
    );

    let text = fs::read_to_string(f.vault_path()).map_err(|source| Error::VaultIo {
        path: f.vault_path(),
        source,
    })?;
    assert!(!text.contains(&hex::encode(key.as_bytes())));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(f.vault_path())
            .map_err(|source| Error::VaultIo {
                path: f.vault_path(),
                source,
            })?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(key);
    drop(vault);

    let vault = f.open()?;
    assert!(matches!(vault.data_key(), Err(Error::VaultLocked)));
    assert_eq!(vault.unlock(Unlock::Keychain)?, UnlockMethod::Keychain);
    assert_eq!(vault.data_key()?.id(), id);
    vault.lock();
    assert!(matches!(vault.data_key(), Err(Error::VaultLocked)));
    assert_eq!(
        vault.unlock(Unlock::Passphrase(PASSPHRASE))?,
        UnlockMethod::Passphrase
    );
    assert_eq!(vault.data_key()?.id(), id);
    vault.lock();
    // Typed sloppily: lowercase, spaces for dashes, O for 0 and l for 1.
    let sloppy = recovery
        .to_lowercase()
        .replace('-', " ")
        .replace('0', "o")
        .replace('1', "l");
    assert_eq!(
        vault.unlock(Unlock::RecoveryKey(&sloppy))?,
        UnlockMethod::RecoveryKey
    );
    assert_eq!(vault.data_key()?.id(), id);
    Ok(())
}

#[test]
fn fails_closed_when_the_keychain_cannot_open_it() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&InitOptions::default())?;
    let recovery = recovery_text(recovery)?;
    let id = vault.data_key()?.id();
    let item = vault.status()?.keychain_item.unwrap_or_default();
    drop(vault);

    let expect_refused = |expected: fn(&Error) -> bool, state: &str| -> Result<()> {
        let vault = f.open()?;
        match vault.unlock(Unlock::Keychain) {
            Err(Error::KeychainUnlock {
                alternatives,
                source,
            }) => {
                assert!(expected(&source), "{state}: {source}");
                assert!(alternatives.contains("--recovery-key"), "{alternatives}");
                assert!(!alternatives.contains("--passphrase"), "{alternatives}");
            }
            other => panic!("{state}: expected a keychain refusal, got {other:?}"),
        }
        assert!(matches!(vault.data_key(), Err(Error::VaultLocked)));
        assert_eq!(vault.unlocked(), None);
        assert_eq!(vault.status()?.keychain.name(), state);
        Ok(())
    };

    f.store.fail_with(Some(SimulatedFailure::Unavailable));
    expect_refused(
        |e| matches!(e, Error::KeychainUnavailable { .. }),
        "unavailable",
    )?;
    f.store.fail_with(Some(SimulatedFailure::Locked));
    expect_refused(|e| matches!(e, Error::KeychainLocked { .. }), "locked")?;
    f.store.fail_with(None);

    // Another key under the item's name: it does not open the vault.
    let saved = f.store.get(&item)?.ok_or(Error::VaultLocked)?;
    f.store.set(&item, "x", hex::encode([9u8; 32]).as_bytes())?;
    expect_refused(
        |e| matches!(e, Error::KeychainItemInvalid { .. }),
        "invalid",
    )?;
    f.store.set(&item, "x", &saved)?;

    f.store.delete(&item)?;
    expect_refused(
        |e| matches!(e, Error::KeychainItemMissing { .. }),
        "missing",
    )?;

    // The recovery key still opens it; nothing was re-created meanwhile.
    assert!(Vault::exists(&f.data)?);
    let vault = f.open()?;
    vault.unlock(Unlock::RecoveryKey(&recovery))?;
    assert_eq!(vault.data_key()?.id(), id);
    Ok(())
}

#[test]
fn a_recovery_relinks_a_lost_keychain_and_restores_the_audit_key() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&InitOptions::default())?;
    let recovery = recovery_text(recovery)?;
    let id = vault.data_key()?.id();
    let audit = vault.audit_key()?;
    drop(vault);
    for account in f.store.accounts() {
        f.store.delete(&account)?;
    }

    let vault = f.open()?;
    assert!(matches!(
        vault.audit_key(),
        Err(Error::KeychainItemMissing { .. })
    ));
    // Repair needs the key: locked, it refuses.
    assert!(matches!(vault.repair_keychain(), Err(Error::VaultLocked)));
    vault.unlock(Unlock::RecoveryKey(&recovery))?;
    assert_eq!(
        vault.repair_keychain()?,
        Repair {
            kek_relinked: true,
            audit_key_restored: true
        }
    );
    assert_eq!(*vault.audit_key()?, *audit);
    // Nothing more to repair.
    assert_eq!(vault.repair_keychain()?, Repair::default());
    drop(vault);

    let vault = f.open()?;
    vault.unlock(Unlock::Keychain)?;
    assert_eq!(vault.data_key()?.id(), id);
    assert_eq!(f.store.accounts().len(), 2);
    Ok(())
}

#[test]
fn an_audit_key_can_be_brought_in() -> Result<()> {
    let f = fixture()?;
    let (vault, _) = f.init(&InitOptions::default())?;
    let key = [0x42u8; 32];
    vault.set_audit_key(&key)?;
    assert_eq!(*vault.audit_key()?, key);
    f.store
        .delete(&Keychain::audit_account(&vault.vault_id()?))?;
    // Its backup is the new key too.
    assert!(vault.repair_keychain()?.audit_key_restored);
    assert_eq!(*vault.audit_key()?, key);
    vault.lock();
    assert!(matches!(vault.set_audit_key(&key), Err(Error::VaultLocked)));
    Ok(())
}

#[test]
fn wrong_and_mistyped_secrets_are_refused() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&with_passphrase())?;
    let recovery = recovery_text(recovery)?;
    vault.lock();
    assert!(matches!(
        vault.unlock(Unlock::Passphrase("correct horse battery stapler")),
        Err(Error::WrongPassphrase)
    ));
    // Well-formed, but another vault's.
    let other = recovery::format(&[3u8; 20]);
    assert!(matches!(
        vault.unlock(Unlock::RecoveryKey(other.as_str())),
        Err(Error::WrongRecoveryKey)
    ));
    // One character changed: the check group catches it before any crypto.
    let mut typo: Vec<char> = recovery.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let typo: String = typo.into_iter().collect();
    match vault.unlock(Unlock::RecoveryKey(&typo)) {
        Err(Error::BadRecoveryKey { reason }) => assert!(reason.contains("mistyped"), "{reason}"),
        other => panic!("expected a mistyped key, got {other:?}"),
    }
    for bad in ["", "ABCD-EFGH", "ㅁㅁㅁㅁ-ABCD", "UUUU"] {
        assert!(
            matches!(
                vault.unlock(Unlock::RecoveryKey(bad)),
                Err(Error::BadRecoveryKey { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(vault.unlocked(), None);

    // A vault without a passphrase says so.
    let g = fixture()?;
    let (plain, _) = g.init(&InitOptions {
        recovery_key: false,
        ..InitOptions::default()
    })?;
    plain.lock();
    assert!(matches!(
        plain.unlock(Unlock::Passphrase(PASSPHRASE)),
        Err(Error::NoSuchUnlock("passphrase"))
    ));
    assert!(matches!(
        plain.unlock(Unlock::RecoveryKey(&recovery)),
        Err(Error::NoSuchUnlock("recovery key"))
    ));
    Ok(())
}

#[test]
fn init_never_replaces_a_vault_or_library_data() -> Result<()> {
    let f = fixture()?;
    // A weak passphrase stops it before anything is made.
    assert!(matches!(
        f.init(&InitOptions {
            passphrase: Some("short"),
            ..InitOptions::default()
        }),
        Err(Error::BadPassphrase(_))
    ));
    assert!(!Vault::exists(&f.data)?);
    assert!(f.store.accounts().is_empty());

    // No keychain: no vault, nothing left in it, and the way on named.
    f.store.fail_with(Some(SimulatedFailure::Unavailable));
    assert!(matches!(
        f.init(&InitOptions::default()),
        Err(Error::NoKeychainForVault { source }) if matches!(*source, Error::KeychainUnavailable { .. })
    ));
    f.store.fail_with(None);
    assert!(!Vault::exists(&f.data)?);

    let (vault, _) = f.init(&InitOptions::default())?;
    let id = vault.data_key()?.id();
    drop(vault);
    assert!(matches!(
        f.init(&InitOptions::default()),
        Err(Error::VaultExists { .. })
    ));
    // A damaged vault file is an error, never a reason to start over.
    fs::write(f.vault_path(), b"{ damaged").map_err(|source| Error::VaultIo {
        path: f.vault_path(),
        source,
    })?;
    assert!(matches!(f.open(), Err(Error::VaultFile { .. })));
    assert!(matches!(
        f.init(&InitOptions::default()),
        Err(Error::VaultExists { .. })
    ));
    assert_eq!(
        fs::read(f.vault_path()).map_err(|source| Error::VaultIo {
            path: f.vault_path(),
            source,
        })?,
        b"{ damaged"
    );
    assert!(!id.is_empty());

    // Library data without a vault: refused unless adopted.
    let g = fixture()?;
    g.data.create()?;
    let index = g.data.indexes().join("library");
    fs::create_dir_all(&index).map_err(|source| Error::VaultIo {
        path: index.clone(),
        source,
    })?;
    assert!(matches!(
        g.init(&InitOptions::default()),
        Err(Error::DataWithoutVault { .. })
    ));
    assert!(!Vault::exists(&g.data)?);
    g.init(&InitOptions {
        adopt_existing_data: true,
        ..InitOptions::default()
    })?;
    assert!(Vault::exists(&g.data)?);
    Ok(())
}

/// Runs a rotation that "crashes" at the `n`-th fault point; returns how many
/// points it passed.
fn rotate_crashing_at(vault: &mut Vault, n: usize) -> Result<usize> {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    vault.set_fault_hook(Some(Arc::new(move |point| {
        if counter.fetch_add(1, Ordering::SeqCst) + 1 == n {
            Err(Error::Interrupted(point.name()))
        } else {
            Ok(())
        }
    })));
    let result = vault.rotate_kek();
    vault.set_fault_hook(None);
    match result {
        Ok(()) | Err(Error::Interrupted(_)) => Ok(seen.load(Ordering::SeqCst)),
        Err(e) => Err(e),
    }
}

#[test]
fn rotation_is_crash_safe_at_every_step() -> Result<()> {
    // Count the steps of a whole rotation first.
    let f = fixture()?;
    let (mut vault, _) = f.init(&InitOptions::default())?;
    let steps = rotate_crashing_at(&mut vault, 0)?;
    assert_eq!(steps, 7, "three file writes and four rotation points");

    for crash_at in 1..=steps {
        let f = fixture()?;
        let (mut vault, recovery) = f.init(&with_passphrase())?;
        let recovery = recovery_text(recovery)?;
        let id = vault.data_key()?.id();
        let before = vault.status()?.keychain_item;
        rotate_crashing_at(&mut vault, crash_at)?;
        drop(vault); // the process is gone

        let vault = f.open()?;
        vault
            .unlock(Unlock::Keychain)
            .map_err(|e| Error::Interrupted(leak(format!("crash at {crash_at}: {e}"))))?;
        assert_eq!(vault.data_key()?.id(), id, "crash at {crash_at}");
        // The unlock tidied up: the KEK in use and the audit key, no more.
        let status = vault.status()?;
        let mut expected = vec![
            Keychain::audit_account(&status.vault_id),
            status.keychain_item.clone().unwrap_or_default(),
        ];
        expected.sort();
        assert_eq!(f.store.accounts(), expected, "crash at {crash_at}");
        assert!(f.read()?.get("stale_keks").is_none(), "crash at {crash_at}");
        // Old or new KEK, depending on where it stopped.
        let switched = crash_at >= 5;
        assert_eq!(
            status.keychain_item != before,
            switched,
            "crash at {crash_at}"
        );
        // The other slots were never touched, and a later rotation works.
        vault.lock();
        vault.unlock(Unlock::RecoveryKey(&recovery))?;
        vault.rotate_kek()?;
        drop(vault);
        let vault = f.open()?;
        vault.unlock(Unlock::Keychain)?;
        assert_eq!(vault.data_key()?.id(), id);
        assert_eq!(f.store.accounts().len(), 2);
    }
    Ok(())
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

#[test]
fn a_rotation_replaces_the_keychain_item_and_keeps_the_data_key() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&InitOptions::default())?;
    let recovery = recovery_text(recovery)?;
    let id = vault.data_key()?.id();
    let before = f.store.accounts();
    vault.rotate_kek()?;
    let after = f.store.accounts();
    assert_eq!(after.len(), 2);
    assert_ne!(before, after);
    drop(vault);
    let vault = f.open()?;
    // Locked, it cannot rotate.
    assert!(matches!(vault.rotate_kek(), Err(Error::VaultLocked)));
    vault.unlock(Unlock::Keychain)?;
    assert_eq!(vault.data_key()?.id(), id);
    vault.lock();
    vault.unlock(Unlock::RecoveryKey(&recovery))?;
    assert_eq!(vault.data_key()?.id(), id);
    Ok(())
}

#[test]
fn two_handles_do_not_undo_each_others_changes() -> Result<()> {
    let f = fixture()?;
    let (a, _) = f.init(&InitOptions::default())?;
    let b = f.open()?;
    b.unlock(Unlock::Keychain)?;
    a.rotate_kek()?;
    // b still holds the old file in memory; its change must keep a's.
    b.set_passphrase(Some(PASSPHRASE))?;
    b.rotate_kek()?;
    a.new_recovery_key()?;
    drop((a, b));

    let vault = f.open()?;
    vault.unlock(Unlock::Keychain)?;
    vault.lock();
    vault.unlock(Unlock::Passphrase(PASSPHRASE))?;
    assert_eq!(f.store.accounts().len(), 2);
    Ok(())
}

#[test]
fn the_idle_lock_drops_the_key() -> Result<()> {
    let f = fixture()?;
    let (vault, _) = f.init(&InitOptions::default())?;
    vault.set_idle_lock(Some(Duration::from_millis(30)))?;
    vault.data_key()?;
    assert!(!vault.lock_if_idle());
    std::thread::sleep(Duration::from_millis(60));
    assert!(vault.lock_if_idle());
    assert!(matches!(vault.data_key(), Err(Error::VaultLocked)));

    vault.unlock(Unlock::Keychain)?;
    std::thread::sleep(Duration::from_millis(60));
    // data_key applies the limit itself, without a timer.
    assert!(matches!(vault.data_key(), Err(Error::VaultLocked)));

    vault.set_idle_lock(None)?;
    vault.unlock(Unlock::Keychain)?;
    std::thread::sleep(Duration::from_millis(60));
    assert!(!vault.lock_if_idle());
    vault.data_key()?;
    Ok(())
}

#[test]
fn tampering_with_the_file_is_detected() -> Result<()> {
    let f = fixture()?;
    let (vault, recovery) = f.init(&InitOptions::default())?;
    let recovery = recovery_text(recovery)?;
    drop(vault);
    let original = f.read()?;

    // A flipped ciphertext byte in the keychain slot.
    let mut value = original.clone();
    if let Some(text) = value["slots"][0]["sealed"]["ciphertext"].as_str() {
        let flipped = format!(
            "{}{}",
            if text.starts_with('0') { "1" } else { "0" },
            &text[1..]
        );
        value["slots"][0]["sealed"]["ciphertext"] = flipped.into();
    }
    f.write(&value)?;
    assert!(matches!(
        f.open()?.unlock(Unlock::Keychain),
        Err(Error::KeychainUnlock { source, .. }) if matches!(*source, Error::KeychainItemInvalid { .. })
    ));

    // Another vault id: the slots' associated data no longer match.
    let mut value = original.clone();
    value["vault_id"] = "00112233445566778899aabbccddeeff".into();
    f.write(&value)?;
    let vault = f.open()?;
    assert!(vault.unlock(Unlock::RecoveryKey(&recovery)).is_err());

    // A changed key id: every slot opens to "another" key.
    let mut value = original.clone();
    value["key_id"] = "0000000000000000".into();
    f.write(&value)?;
    assert!(matches!(
        f.open()?.unlock(Unlock::RecoveryKey(&recovery)),
        Err(Error::VaultFile { .. })
    ));

    // A newer format, an unknown field, two slots of a kind: refused.
    let mut value = original.clone();
    value["version"] = 2.into();
    f.write(&value)?;
    match f.open() {
        Err(Error::VaultFile { reason, .. }) => assert!(reason.contains("newer"), "{reason}"),
        other => panic!("expected a newer-version error, got {other:?}"),
    }
    let mut value = original.clone();
    value["surprise"] = true.into();
    f.write(&value)?;
    assert!(matches!(f.open(), Err(Error::VaultFile { .. })));
    let mut value = original.clone();
    if let Some(slots) = value["slots"].as_array_mut() {
        let first = slots[0].clone();
        slots.push(first);
    }
    f.write(&value)?;
    assert!(matches!(f.open(), Err(Error::VaultFile { .. })));

    f.write(&original)?;
    f.open()?.unlock(Unlock::Keychain)?;
    Ok(())
}

#[test]
fn destroy_removes_the_file_and_its_keychain_items() -> Result<()> {
    let f = fixture()?;
    let (vault, _) = f.init(&InitOptions::default())?;
    let first = vault.vault_id()?;
    drop(vault);
    let destroyed = Vault::destroy(&f.data, &f.keychain())?;
    assert_eq!(destroyed.keychain_items_removed, 2);
    assert!(destroyed.keychain_items_left.is_empty());
    assert!(f.store.accounts().is_empty());
    assert!(matches!(f.open(), Err(Error::NoVault { .. })));
    assert!(matches!(
        Vault::destroy(&f.data, &f.keychain()),
        Err(Error::NoVault { .. })
    ));

    // A new vault is a new key.
    let (vault, _) = f.init(&InitOptions::default())?;
    assert_ne!(vault.vault_id()?, first);
    drop(vault);
    // Without a keychain the file still goes (that alone makes the data
    // unreadable), and the items left are reported.
    f.store.fail_with(Some(SimulatedFailure::Unavailable));
    let destroyed = Vault::destroy(&f.data, &f.keychain())?;
    assert!(!Vault::exists(&f.data)?);
    assert_eq!(destroyed.keychain_items_left.len(), 2);
    Ok(())
}

#[test]
fn passphrases_change_are_removed_and_are_normalised() -> Result<()> {
    let f = fixture()?;
    let (vault, _) = f.init(&InitOptions::default())?;
    // 비밀번호는 길어야 합니다, decomposed (NFD) as some input methods type it.
    let nfc = "비밀번호는 길어야 합니다";
    let nfd: String = nfc.nfd().collect();
    assert_ne!(nfc, nfd);
    vault.set_passphrase(Some(&nfd))?;
    vault.lock();
    vault.unlock(Unlock::Passphrase(nfc))?;
    assert!(matches!(
        vault.set_passphrase(Some("1234567")),
        Err(Error::BadPassphrase(_))
    ));
    vault.set_passphrase(None)?;
    assert!(!vault.status()?.passphrase);
    vault.lock();
    assert!(matches!(
        vault.unlock(Unlock::Passphrase(nfc)),
        Err(Error::NoSuchUnlock("passphrase"))
    ));
    Ok(())
}

#[test]
fn a_new_recovery_key_retires_the_old_one() -> Result<()> {
    let f = fixture()?;
    let (vault, old) = f.init(&InitOptions::default())?;
    let old = recovery_text(old)?;
    let new = vault.new_recovery_key()?;
    assert_ne!(new.as_str(), old);
    vault.lock();
    assert!(matches!(
        vault.unlock(Unlock::RecoveryKey(&old)),
        Err(Error::WrongRecoveryKey)
    ));
    vault.unlock(Unlock::RecoveryKey(new.as_str()))?;
    Ok(())
}

#[test]
fn recovery_keys_are_nine_groups_and_round_trip() -> Result<()> {
    for _ in 0..50 {
        let secret = random::<20>()?;
        let shown = recovery::format(&secret);
        let groups: Vec<&str> = shown.as_str().split('-').collect();
        assert_eq!(groups.len(), 9, "{:?}", shown.as_str());
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(!shown.as_str().contains(['I', 'L', 'O', 'U']));
        assert_eq!(*recovery::parse(shown.as_str())?, *secret);
    }
    assert_eq!(
        format!("{:?}", recovery::format(&[1u8; 20])),
        "RecoveryKey(..)"
    );
    Ok(())
}

#[test]
fn subkeys_are_separate_per_purpose() -> Result<()> {
    let key = DataKey::new(random::<32>()?);
    let index = key.subkey("index");
    assert_eq!(*index, *key.subkey("index"));
    assert_ne!(*index, *key.subkey("conversations"));
    assert_ne!(*index, *key.as_bytes());
    assert_eq!(format!("{key:?}"), "DataKey(..)");
    assert_eq!(key.id().len(), 16);
    Ok(())
}

/// A vault file written by format version 1 (by `Vault::init` with the
/// passphrase "sillok frozen vault v1" and a recovery key), kept as it was
/// (tantivy's compat tests): new code must keep opening it.
const FROZEN_V1: &str = include_str!("testdata/vault-v1.json");
const FROZEN_V1_RECOVERY: &str = "KTA3-RS5V-3E3C-TG4A-SX0D-K8G0-3ACF-XT0Q-QPE3";
const FROZEN_V1_KEY_ID: &str = "a9f41a5f86c95593";

#[test]
fn a_frozen_version_1_vault_still_opens() -> Result<()> {
    let f = fixture()?;
    f.data.create()?;
    fs::write(f.vault_path(), FROZEN_V1).map_err(|source| Error::VaultIo {
        path: f.vault_path(),
        source,
    })?;
    let vault = f.open()?;
    vault.unlock(Unlock::Passphrase("sillok frozen vault v1"))?;
    assert_eq!(vault.data_key()?.id(), FROZEN_V1_KEY_ID);
    vault.lock();
    vault.unlock(Unlock::RecoveryKey(FROZEN_V1_RECOVERY))?;
    assert_eq!(vault.data_key()?.id(), FROZEN_V1_KEY_ID);
    // Its keychain item is in no keychain here: fail closed, with both ways
    // out named.
    match vault.unlock(Unlock::Keychain) {
        Err(Error::KeychainUnlock { alternatives, .. }) => {
            assert!(
                alternatives.contains("--passphrase") && alternatives.contains("--recovery-key")
            );
        }
        other => panic!("expected a keychain refusal, got {other:?}"),
    }
    Ok(())
}

#[test]
fn argon2_costs_read_from_a_file_are_bounded() {
    assert!(kdf_params_sane(&DEFAULT_KDF));
    let most = KdfParams {
        memory_kib: 1024 * 1024,
        iterations: 16,
        parallelism: 16,
    };
    assert!(kdf_params_sane(&most));
    for hostile in [
        KdfParams {
            memory_kib: 1024 * 1024 + 1,
            ..most
        },
        KdfParams {
            iterations: 17,
            ..most
        },
        KdfParams {
            parallelism: 17,
            ..most
        },
        KdfParams {
            iterations: 0,
            ..DEFAULT_KDF
        },
    ] {
        assert!(!kdf_params_sane(&hostile), "{hostile:?}");
    }
}
