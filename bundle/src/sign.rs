//! Key generation and signing (feature `sign`): the release side, used by
//! `sillok-installer` on the machine that builds bundles. Keys and signatures
//! are minisign's formats (minisign, rsign2 and this crate read each other's).

use std::io::Cursor;
use std::path::Path;

use base64::Engine;

use crate::key::{format_key_id, key_id_of};
use crate::{
    Error, MANIFEST_FILE, Manifest, Result, SIGNATURE_FILE, TrustedKey, bundle_files, hash_file,
    manifest::Entry,
};

/// A new key pair's files' texts.
#[derive(Debug)]
pub struct NewKeyPair {
    /// The public key file (`minisign.pub` format).
    pub public_key: String,
    /// The secret key file (`minisign.key` format), encrypted when a
    /// password was given.
    pub secret_key: String,
    /// The key id, as minisign prints it.
    pub key_id: String,
}

/// Generates a key pair; `password` `None` leaves the secret key unencrypted
/// (tests, throwaway keys only).
///
/// # Errors
///
/// [`Error::Sign`] (the random source failed).
pub fn generate(password: Option<String>) -> Result<NewKeyPair> {
    let pair = match password {
        Some(password) => minisign::KeyPair::generate_encrypted_keypair(Some(password)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(Error::Sign)?;
    let key_id = format_key_id(
        pair.pk
            .keynum()
            .try_into()
            .map_err(|_| Error::BadFileName {
                name: "key id".to_owned(),
                reason: "not 8 bytes",
            })?,
    );
    Ok(NewKeyPair {
        public_key: pair.pk.to_box().map_err(Error::Sign)?.into_string(),
        secret_key: pair
            .sk
            .to_box(Some(&format!("sillok release secret key {key_id}")))
            .map_err(Error::Sign)?
            .into_string(),
        key_id,
    })
}

/// A secret key ready to sign.
pub struct SigningKey {
    secret: minisign::SecretKey,
    public: minisign::PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// Whether the secret key file is password-protected.
///
/// # Errors
///
/// [`Error::Io`]; [`Error::BadSecretKey`] for a file that is no minisign
/// secret key.
pub fn is_encrypted(path: &Path) -> Result<bool> {
    let text = read(path)?;
    let bytes = text
        .lines()
        .nth(1)
        .and_then(|line| {
            base64::engine::general_purpose::STANDARD
                .decode(line.trim())
                .ok()
        })
        .ok_or_else(|| bad_secret(path, "not a minisign secret key".to_owned()))?;
    // Algorithm (2 bytes), then the key derivation: zero for none.
    Ok(bytes.get(2..4).is_some_and(|kdf| kdf != [0, 0]))
}

impl SigningKey {
    /// Reads a secret key file, decrypting it with `password` when it is
    /// encrypted.
    ///
    /// # Errors
    ///
    /// [`Error::BadSecretKey`] (a wrong or missing password among others);
    /// [`Error::Io`].
    pub fn from_file(path: &Path, password: Option<String>) -> Result<Self> {
        let text = read(path)?;
        let sk_box = minisign::SecretKeyBox::from_string(&text)
            .map_err(|e| bad_secret(path, e.to_string()))?;
        let secret = if is_encrypted(path)? {
            let password = password.ok_or_else(|| {
                bad_secret(
                    path,
                    "it is password-protected: give its password".to_owned(),
                )
            })?;
            minisign::SecretKey::from_box(sk_box, Some(password))
        } else {
            minisign::SecretKey::from_unencrypted_box(sk_box)
        }
        .map_err(|e| bad_secret(path, e.to_string()))?;
        let public = minisign::PublicKey::from_secret_key(&secret)
            .map_err(|e| bad_secret(path, e.to_string()))?;
        Ok(SigningKey { secret, public })
    }

    /// The matching public key, to check what was just signed.
    ///
    /// # Errors
    ///
    /// [`Error::Sign`] when it cannot be encoded.
    pub fn trusted_key(&self) -> Result<TrustedKey> {
        let text = self.public.to_box().map_err(Error::Sign)?.into_string();
        TrustedKey::parse(&text, Path::new("(the signing key)"))
    }

    /// A detached minisign signature of `data` (the `.minisig` file's text),
    /// `trusted_comment` signed with it.
    ///
    /// # Errors
    ///
    /// [`Error::Sign`].
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String> {
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            Cursor::new(data),
            Some(trusted_comment),
            Some("signature from the sillok release key"),
        )
        .map_err(Error::Sign)?;
        Ok(signature.into_string())
    }
}

/// Writes `MANIFEST` over every file under `dir` (hashing each) and
/// `MANIFEST.minisig` over it: `dir` becomes a signed bundle of `version`.
///
/// # Errors
///
/// [`Error::BadFileName`] for a name a manifest cannot hold or a link in
/// `dir`; I/O and signing errors.
pub fn seal_dir(dir: &Path, version: &str, key: &SigningKey) -> Result<Manifest> {
    let (files, problems) = bundle_files(dir)?;
    if let Some(problem) = problems.first() {
        return Err(Error::BadFileName {
            name: problem.to_string(),
            reason: "a bundle holds regular files only",
        });
    }
    let mut entries = Vec::with_capacity(files.len());
    for path in files {
        let (size, sha256) = hash_file(&dir.join(&path))?;
        entries.push(Entry { path, size, sha256 });
    }
    let manifest = Manifest::new(version, entries)?;
    let text = manifest.to_text();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let comment = format!("timestamp:{timestamp}\tfile:{MANIFEST_FILE}\tsillok-bundle:{version}");
    let signature = key.sign(text.as_bytes(), &comment)?;
    write(&dir.join(MANIFEST_FILE), text.as_bytes())?;
    write(&dir.join(SIGNATURE_FILE), signature.as_bytes())?;
    Ok(manifest)
}

/// The key id in a public key file's text (to print after `generate`).
pub fn key_id_of_public(text: &str) -> Option<String> {
    text.lines()
        .nth(1)
        .and_then(|l| key_id_of(l, 42))
        .map(format_key_id)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn bad_secret(path: &Path, reason: String) -> Error {
    Error::BadSecretKey {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Problem, verify_bundle};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    struct Fixture {
        dir: tempfile::TempDir,
        key: TrustedKey,
        bundle: std::path::PathBuf,
    }

    fn signed_bundle(
        password: Option<&str>,
    ) -> std::result::Result<Fixture, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let pair = generate(password.map(str::to_owned))?;
        let secret_path = dir.path().join("release.key");
        let public_path = dir.path().join("release.pub");
        std::fs::write(&secret_path, &pair.secret_key)?;
        std::fs::write(&public_path, &pair.public_key)?;
        assert_eq!(
            key_id_of_public(&pair.public_key),
            Some(pair.key_id.clone())
        );
        assert_eq!(is_encrypted(&secret_path)?, password.is_some());
        let signing = SigningKey::from_file(&secret_path, password.map(str::to_owned))?;
        let bundle = dir.path().join("bundle");
        std::fs::create_dir_all(bundle.join("models"))?;
        std::fs::write(bundle.join("models/a.gguf"), b"synthetic model a")?;
        std::fs::write(bundle.join("install"), b"#!/bin/sh\n")?;
        seal_dir(&bundle, "0.2.0", &signing)?;
        let key = TrustedKey::from_file(&public_path)?;
        assert_eq!(key.key_id(), pair.key_id);
        Ok(Fixture { dir, key, bundle })
    }

    #[test]
    fn a_sealed_folder_verifies_and_names_its_version() -> TestResult {
        let f = signed_bundle(None)?;
        let verified = verify_bundle(&f.bundle, &f.key)?;
        assert_eq!(verified.manifest.version, "0.2.0");
        assert_eq!(verified.manifest.entries.len(), 2);
        assert!(verified.trusted_comment.contains("sillok-bundle:0.2.0"));
        drop(f.dir);
        Ok(())
    }

    #[test]
    fn an_encrypted_key_needs_its_password() -> TestResult {
        let f = signed_bundle(Some("correct horse battery staple"))?;
        verify_bundle(&f.bundle, &f.key)?;
        let secret = f.dir.path().join("release.key");
        assert!(matches!(
            SigningKey::from_file(&secret, None),
            Err(Error::BadSecretKey { .. })
        ));
        assert!(matches!(
            SigningKey::from_file(&secret, Some("wrong".to_owned())),
            Err(Error::BadSecretKey { .. })
        ));
        Ok(())
    }

    #[test]
    fn a_changed_byte_in_a_file_is_named() -> TestResult {
        let f = signed_bundle(None)?;
        std::fs::write(f.bundle.join("models/a.gguf"), b"synthetic model b")?;
        match verify_bundle(&f.bundle, &f.key) {
            Err(Error::Mismatch(problems)) => {
                assert_eq!(problems, vec![Problem::Hash("models/a.gguf".to_owned())]);
            }
            other => panic!("not refused: {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn extra_missing_and_linked_files_are_all_named() -> TestResult {
        let f = signed_bundle(None)?;
        std::fs::remove_file(f.bundle.join("install"))?;
        std::fs::write(f.bundle.join("models/extra.gguf"), b"x")?;
        std::os::unix::fs::symlink("/etc/passwd", f.bundle.join("link"))?;
        match verify_bundle(&f.bundle, &f.key) {
            Err(Error::Mismatch(mut problems)) => {
                problems.sort_by_key(|p| p.to_string());
                assert_eq!(
                    problems,
                    vec![
                        Problem::Missing("install".to_owned()),
                        Problem::NotAFile("link".to_owned()),
                        Problem::Extra("models/extra.gguf".to_owned()),
                    ]
                );
            }
            other => panic!("not refused: {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn another_key_and_an_edited_manifest_are_refused() -> TestResult {
        let f = signed_bundle(None)?;
        let other = signed_bundle(None)?;
        assert!(matches!(
            verify_bundle(&f.bundle, &other.key),
            Err(Error::WrongKey { .. })
        ));
        let manifest = f.bundle.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest)?;
        std::fs::write(&manifest, text.replace("version 0.2.0", "version 0.3.0"))?;
        assert!(matches!(
            verify_bundle(&f.bundle, &f.key),
            Err(Error::BadSignature)
        ));
        Ok(())
    }
}
