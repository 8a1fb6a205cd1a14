//! Checking a bundle: the signature over `MANIFEST` with a key from outside
//! the bundle first, then every file against the manifest, with nothing extra
//! and nothing missing. All file problems are reported together.

use std::path::Path;

use crate::key::{format_key_id, key_id_of};
use crate::{
    Error, MANIFEST_FILE, Manifest, Problem, Result, SIGNATURE_FILE, TrustedKey, hash_file,
};

/// A manifest whose signature checked out.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// The signature's trusted (signed) comment: time and bundle version.
    pub trusted_comment: String,
}

/// Checks `MANIFEST.minisig` over `MANIFEST` with `key` and parses the
/// manifest. Files are not looked at (see [`verify_bundle`]).
///
/// # Errors
///
/// [`Error::NotABundle`]; refusals: [`Error::MalformedSignature`],
/// [`Error::WrongKey`], [`Error::BadSignature`], [`Error::MalformedManifest`].
pub fn verify_signature(dir: &Path, key: &TrustedKey) -> Result<Verified> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::NotABundle { path },
            _ => Error::Io { path, source },
        })
    };
    let manifest_bytes = read(MANIFEST_FILE)?;
    let signature_bytes = read(SIGNATURE_FILE)?;
    let signature_text =
        String::from_utf8(signature_bytes).map_err(|_| Error::MalformedSignature)?;
    let signature = minisign_verify::Signature::decode(&signature_text)
        .map_err(|_| Error::MalformedSignature)?;
    // Second line: algorithm, key id, signature (74 bytes).
    let signed_by = signature_text
        .lines()
        .nth(1)
        .and_then(|line| key_id_of(line, 74))
        .ok_or(Error::MalformedSignature)?;
    if signed_by != key.raw_key_id() {
        return Err(Error::WrongKey {
            signed_by: format_key_id(signed_by),
            trusted: key.key_id(),
        });
    }
    key.verifier
        .verify(&manifest_bytes, &signature, false)
        .map_err(|_| Error::BadSignature)?;
    // Only a signed manifest is parsed: its text is trusted from here on.
    let text = String::from_utf8(manifest_bytes).map_err(|_| Error::MalformedManifest {
        line: 1,
        reason: "not UTF-8".to_owned(),
    })?;
    Ok(Verified {
        manifest: Manifest::parse(&text)?,
        trusted_comment: signature.trusted_comment().to_owned(),
    })
}

/// [`verify_signature`], then every file: the bundle must hold exactly the
/// manifest's files (plus `MANIFEST` and its signature), each with the listed
/// size and SHA-256.
///
/// # Errors
///
/// As [`verify_signature`]; [`Error::Mismatch`] listing every extra, missing,
/// resized or altered file and every link.
pub fn verify_bundle(dir: &Path, key: &TrustedKey) -> Result<Verified> {
    let verified = verify_signature(dir, key)?;
    let (files, mut problems) = bundle_files(dir)?;
    for path in &files {
        if verified.manifest.get(path).is_none() {
            problems.push(Problem::Extra(path.clone()));
        }
    }
    for entry in &verified.manifest.entries {
        if files.binary_search(&entry.path).is_err() {
            problems.push(Problem::Missing(entry.path.clone()));
            continue;
        }
        let (size, sha256) = hash_file(&dir.join(&entry.path))?;
        if size != entry.size {
            problems.push(Problem::Size {
                path: entry.path.clone(),
                expected: entry.size,
                actual: size,
            });
        } else if sha256 != entry.sha256 {
            problems.push(Problem::Hash(entry.path.clone()));
        }
    }
    if problems.is_empty() {
        Ok(verified)
    } else {
        Err(Error::Mismatch(problems))
    }
}

/// Every regular file under `dir` as a sorted `/`-separated relative path,
/// except the top-level `MANIFEST` and `MANIFEST.minisig`; links and special
/// files come back as problems (never followed).
///
/// # Errors
///
/// [`Error::Io`] for an unreadable folder.
pub fn bundle_files(dir: &Path) -> Result<(Vec<String>, Vec<Problem>)> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    walk(dir, "", &mut files, &mut problems)?;
    files.retain(|f| f != MANIFEST_FILE && f != SIGNATURE_FILE);
    files.sort();
    Ok((files, problems))
}

fn walk(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    for item in std::fs::read_dir(dir).map_err(io)? {
        let item = item.map_err(io)?;
        let name = item.file_name().to_string_lossy().into_owned();
        let relative = format!("{prefix}{name}");
        let kind = item.file_type().map_err(io)?;
        if kind.is_dir() {
            walk(&item.path(), &format!("{relative}/"), files, problems)?;
        } else if kind.is_file() {
            files.push(relative);
        } else {
            problems.push(Problem::NotAFile(relative));
        }
    }
    Ok(())
}
