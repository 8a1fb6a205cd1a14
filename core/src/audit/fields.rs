//! The vault's [`FieldSealer`]: audit fields that carry patient data (a
//! query, a question, a file path, an export reason) are sealed with
//! XChaCha20-Poly1305 under a subkey of the vault's data key, so reading them
//! needs the vault unlocked. While it is locked they are dropped (the record
//! still names which fields there were). Sealed form: `xc1:` and the hex of a
//! random 24-byte nonce followed by the ciphertext; the associated data names
//! the purpose, so the blob cannot be replayed into another kind of file.

use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use super::FieldSealer;
use crate::vault::Vault;
use crate::{Error, Result};

/// The [`crate::vault::DataKey::subkey`] purpose of audit fields.
const SUBKEY_PURPOSE: &str = "audit fields";
const PREFIX: &str = "xc1:";
const AAD: &[u8] = b"sillok-audit-fields v1";
const NONCE_BYTES: usize = 24;

/// Seals with the vault's data key while it is unlocked.
#[derive(Debug, Clone)]
pub struct VaultSealer {
    vault: Arc<Vault>,
}

impl VaultSealer {
    /// A sealer over `vault`'s data key, whatever its lock state later.
    pub fn new(vault: Arc<Vault>) -> Self {
        VaultSealer { vault }
    }

    fn cipher(&self) -> Option<XChaCha20Poly1305> {
        let key = self.vault.current_key()?.subkey(SUBKEY_PURPOSE);
        Some(XChaCha20Poly1305::new(Key::from_slice(&key[..])))
    }
}

impl FieldSealer for VaultSealer {
    fn seal(&self, plaintext: &[u8]) -> Result<Option<String>> {
        let Some(cipher) = self.cipher() else {
            return Ok(None);
        };
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: AAD,
                },
            )
            .map_err(|_| Error::Random("sealing an audit field failed".into()))?;
        Ok(Some(format!(
            "{PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(sealed)
        )))
    }

    /// `None` while locked, and for fields another vault's key sealed (a
    /// trail kept across a vault re-creation): the record says they were
    /// withheld. A MAC-checked record cannot carry altered sealed bytes.
    fn unseal(&self, sealed: &str) -> Result<Option<Vec<u8>>> {
        let Some(cipher) = self.cipher() else {
            return Ok(None);
        };
        let Some(bytes) = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
        else {
            return Ok(None);
        };
        if bytes.len() < NONCE_BYTES {
            return Ok(None);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        Ok(cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .ok())
    }
}
