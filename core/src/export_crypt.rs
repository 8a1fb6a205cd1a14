//! Exports encrypted with a passphrase, in the standard age v1 format
//! (age-encryption.org/v1, the C2SP age specification) with its one
//! passphrase recipient, `scrypt`: whoever receives an export opens it with
//! `age -d FILE` (Debian's `age`) or `sillok decrypt-export FILE`.
//!
//! The format is written here rather than with the `age` crate, which would
//! add its localisation stack (i18n-embed, fluent, rust-embed) and X25519,
//! plugin and armor code Sillok does not use. It is small and every part is
//! a crate already in the tree: a 128-bit file key wrapped by
//! ChaCha20-Poly1305 under scrypt(passphrase); a header MAC (HMAC-SHA256
//! under HKDF(file key, "header")); the payload in 64 KiB ChaCha20-Poly1305
//! chunks (STREAM: a big-endian counter nonce with a last-chunk flag) under
//! HKDF(random nonce, file key, "payload"). The e2e tests check both ways
//! against the `age` tool.
//!
//! Not here: what is exported (conversations, audit), where it is written.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{Error, Result};

const INTRO: &str = "age-encryption.org/v1\n";
const SCRYPT_LABEL: &[u8] = b"age-encryption.org/v1/scrypt";
/// scrypt cost of new exports, log2 N: 256 MiB and about a second, as `age`.
const WORK_FACTOR: u8 = 18;
/// Highest cost a file may ask for (1 GiB): a hostile file cannot ask more.
const MAX_WORK_FACTOR: u8 = 20;
/// Plaintext bytes per payload chunk.
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// Shortest passphrase accepted for a new export, in characters.
const MIN_PASSPHRASE_CHARS: usize = 8;

/// `plaintext` encrypted under `passphrase` as an age file.
///
/// # Errors
///
/// [`Error::ExportPassphraseTooShort`]; [`Error::Random`].
pub fn encrypt(plaintext: &[u8], passphrase: &str) -> Result<Vec<u8>> {
    if passphrase.trim().chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(Error::ExportPassphraseTooShort(MIN_PASSPHRASE_CHARS));
    }
    let file_key = Zeroizing::new(random::<16>()?);
    let salt = random::<16>()?;
    let wrapping = scrypt_key(passphrase, &salt, WORK_FACTOR)?;
    let wrapped = ChaCha20Poly1305::new(Key::from_slice(wrapping.as_slice()))
        .encrypt(&[0u8; 12].into(), file_key.as_slice())
        .map_err(|_| Error::Random("sealing the file key failed".to_owned()))?;
    let mut header = format!(
        "{INTRO}-> scrypt {} {WORK_FACTOR}\n{}\n---",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(wrapped)
    );
    let mac = header_mac(file_key.as_slice())?
        .chain_update(header.as_bytes())
        .finalize()
        .into_bytes();
    header.push(' ');
    header.push_str(&STANDARD_NO_PAD.encode(mac));
    header.push('\n');
    let nonce = random::<16>()?;
    let payload = ChaCha20Poly1305::new(Key::from_slice(
        payload_key(file_key.as_slice(), &nonce)?.as_slice(),
    ));
    let mut out = header.into_bytes();
    out.extend_from_slice(&nonce);
    let chunks: Vec<&[u8]> = if plaintext.is_empty() {
        vec![&[]]
    } else {
        plaintext.chunks(CHUNK).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let sealed = payload
            .encrypt(&stream_nonce(i, i + 1 == chunks.len()).into(), *chunk)
            .map_err(|_| Error::Random("sealing a chunk failed".to_owned()))?;
        out.extend_from_slice(&sealed);
    }
    Ok(out)
}

/// The plaintext of an age file encrypted with a passphrase.
///
/// # Errors
///
/// [`Error::ExportWrongPassphrase`]; [`Error::ExportUnreadable`] when the
/// file is not one, is encrypted to keys, asks for an excessive scrypt cost,
/// or was altered or cut short.
pub fn decrypt(file: &[u8], passphrase: &str) -> Result<Zeroizing<Vec<u8>>> {
    let bad = |why: &'static str| Error::ExportUnreadable(why);
    let rest = file
        .strip_prefix(INTRO.as_bytes())
        .ok_or(bad("it is not an age file"))?;
    let mut lines = HeaderLines { rest };
    let stanza = lines.next().ok_or(bad("its header is cut short"))?;
    let args: Vec<&str> = stanza.split(' ').collect();
    let [arrow, kind, salt, work] = args.as_slice() else {
        return Err(bad("it is not encrypted with a passphrase"));
    };
    if *arrow != "->" || *kind != "scrypt" {
        return Err(bad("it is not encrypted with a passphrase"));
    }
    let salt: [u8; 16] = decode(salt)
        .and_then(|s| s.try_into().ok())
        .ok_or(bad("its header is damaged"))?;
    let work: u8 = work
        .parse()
        .ok()
        .filter(|w| (1..=MAX_WORK_FACTOR).contains(w) && !work.starts_with('0'))
        .ok_or(bad("it asks for an scrypt cost above 2^20"))?;
    let wrapped = lines
        .next()
        .and_then(decode)
        .filter(|w| w.len() == 16 + TAG)
        .ok_or(bad("its header is damaged"))?;
    let footer = lines.next().ok_or(bad("its header is cut short"))?;
    let mac = footer
        .strip_prefix("--- ")
        .and_then(decode)
        .ok_or(bad("it holds more than one recipient or a damaged header"))?;
    let header_len = file.len() - lines.rest.len();
    // The MAC covers the header up to and including "---".
    let covered = &file[..header_len - 1 - (footer.len() - 3)];
    let wrapping = scrypt_key(passphrase, &salt, work)?;
    let file_key = Zeroizing::new(
        ChaCha20Poly1305::new(Key::from_slice(wrapping.as_slice()))
            .decrypt(&[0u8; 12].into(), wrapped.as_slice())
            .map_err(|_| Error::ExportWrongPassphrase)?,
    );
    header_mac(file_key.as_slice())?
        .chain_update(covered)
        .verify_slice(&mac)
        .map_err(|_| bad("its header was altered"))?;
    let (nonce, sealed) = lines
        .rest
        .split_first_chunk::<16>()
        .ok_or(bad("it is cut short"))?;
    let payload = ChaCha20Poly1305::new(Key::from_slice(
        payload_key(file_key.as_slice(), nonce)?.as_slice(),
    ));
    let chunks: Vec<&[u8]> = sealed.chunks(CHUNK + TAG).collect();
    let mut out = Zeroizing::new(Vec::with_capacity(sealed.len()));
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len();
        let plain = payload
            .decrypt(&stream_nonce(i, last).into(), *chunk)
            .map_err(|_| bad("it was altered or cut short"))?;
        if last && plain.is_empty() && i > 0 {
            return Err(bad("it was altered or cut short"));
        }
        out.extend_from_slice(&plain);
    }
    if chunks.is_empty() {
        return Err(bad("it is cut short"));
    }
    Ok(out)
}

/// The header's text lines, each without its newline.
struct HeaderLines<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let end = self.rest.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&self.rest[..end]).ok()?;
        self.rest = &self.rest[end + 1..];
        Some(line)
    }
}

/// Canonical unpadded base64, as age writes it.
fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD_NO_PAD.decode(text).ok()
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

fn scrypt_key(passphrase: &str, salt: &[u8; 16], work: u8) -> Result<Zeroizing<[u8; 32]>> {
    let mut labelled = SCRYPT_LABEL.to_vec();
    labelled.extend_from_slice(salt);
    let params = scrypt::Params::new(work, 8, 1, 32)
        .map_err(|_| Error::ExportUnreadable("it asks for an invalid scrypt cost"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(
        passphrase.as_bytes(),
        &labelled,
        &params,
        key.as_mut_slice(),
    )
    .map_err(|_| Error::ExportUnreadable("it asks for an invalid scrypt cost"))?;
    Ok(key)
}

fn header_mac(file_key: &[u8]) -> Result<Hmac<Sha256>> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(&[]), file_key)
        .expand(b"header", key.as_mut_slice())
        .map_err(|_| Error::Random("hkdf output length".to_owned()))?;
    <Hmac<Sha256> as Mac>::new_from_slice(key.as_slice())
        .map_err(|_| Error::Random("hmac key length".to_owned()))
}

fn payload_key(file_key: &[u8], nonce: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>> {
    let mut key = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(nonce), file_key)
        .expand(b"payload", key.as_mut_slice())
        .map_err(|_| Error::Random("hkdf output length".to_owned()))?;
    Ok(key)
}

/// STREAM nonce: the chunk's 88-bit big-endian counter, then 1 for the last.
fn stream_nonce(counter: usize, last: bool) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[3..11].copy_from_slice(&(counter as u64).to_be_bytes());
    nonce[11] = u8::from(last);
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSPHRASE: &str = "고혈압 진료 지침 2026";

    #[test]
    fn round_trips_every_size_and_refuses_wrong_passphrases() -> Result<()> {
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let sealed = encrypt(&plain, PASSPHRASE)?;
            assert!(sealed.starts_with(b"age-encryption.org/v1\n-> scrypt "));
            assert_eq!(*decrypt(&sealed, PASSPHRASE)?, plain, "size {size}");
        }
        let sealed = encrypt(b"secret", PASSPHRASE)?;
        assert!(matches!(
            decrypt(&sealed, "고혈압 진료 지침 2025"),
            Err(Error::ExportWrongPassphrase)
        ));
        Ok(())
    }

    #[test]
    fn altered_truncated_and_foreign_files_are_refused() -> Result<()> {
        let plain = vec![7u8; CHUNK + 10];
        let sealed = encrypt(&plain, PASSPHRASE)?;
        let header_end = sealed
            .windows(4)
            .position(|w| w == b"\n---")
            .ok_or(Error::Random("no footer".to_owned()))?;
        for at in [header_end + 1, header_end + 30, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(
                matches!(decrypt(&bad, PASSPHRASE), Err(Error::ExportUnreadable(_))),
                "byte {at}"
            );
        }
        // Dropping the last chunk leaves a full chunk not marked last.
        let cut = &sealed[..sealed.len() - (10 + TAG)];
        assert!(matches!(
            decrypt(cut, PASSPHRASE),
            Err(Error::ExportUnreadable(_))
        ));
        assert!(matches!(
            decrypt(b"# conversation\n", PASSPHRASE),
            Err(Error::ExportUnreadable("it is not an age file"))
        ));
        let costly = String::from_utf8_lossy(&sealed).replacen(" 18\n", " 30\n", 1);
        assert!(matches!(
            decrypt(costly.as_bytes(), PASSPHRASE),
            Err(Error::ExportUnreadable(_))
        ));
        assert!(matches!(
            encrypt(b"x", "short"),
            Err(Error::ExportPassphraseTooShort(8))
        ));
        Ok(())
    }
}
