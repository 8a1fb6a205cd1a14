//! The public key a site trusts, read from a file that came from outside the
//! bundle, with the id and text an IT officer compares against a printout.

use std::path::{Path, PathBuf};

use base64::Engine;

use crate::{Error, Result};

/// A minisign public key (`minisign.pub` format, or its base64 line alone).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub(crate) verifier: minisign_verify::PublicKey,
    key_id: [u8; 8],
    base64: String,
    path: PathBuf,
}

impl TrustedKey {
    /// Reads a public key file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`]; [`Error::BadPublicKey`] for anything but an Ed25519
    /// minisign key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a key's text; `path` is for messages.
    ///
    /// # Errors
    ///
    /// [`Error::BadPublicKey`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = || Error::BadPublicKey {
            path: path.to_owned(),
        };
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut line = lines.next().ok_or_else(bad)?;
        if line.starts_with("untrusted comment:") {
            line = lines.next().ok_or_else(bad)?;
        }
        let verifier = minisign_verify::PublicKey::from_base64(line).map_err(|_| bad())?;
        let key_id = key_id_of(line, 42).ok_or_else(bad)?;
        Ok(TrustedKey {
            verifier,
            key_id,
            base64: line.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The key id as minisign prints it (16 uppercase hex digits).
    pub fn key_id(&self) -> String {
        format_key_id(self.key_id)
    }

    /// The public key line (`RW…`): what the IT officer compares with the
    /// printed value. The key id alone is too short to prove anything.
    pub fn public_key(&self) -> &str {
        &self.base64
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn raw_key_id(&self) -> [u8; 8] {
        self.key_id
    }
}

/// The key id in a minisign key or signature line: bytes 2..10 after the
/// two-byte algorithm, when the line decodes to `len` bytes.
pub(crate) fn key_id_of(base64_line: &str, len: usize) -> Option<[u8; 8]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_line.trim())
        .ok()?;
    if bytes.len() != len {
        return None;
    }
    bytes.get(2..10)?.try_into().ok()
}

/// minisign shows key ids as a little-endian 64-bit number in hex.
pub(crate) fn format_key_id(id: [u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(id))
}
