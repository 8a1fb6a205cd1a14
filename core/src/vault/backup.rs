//! Encrypted backup of a whole data directory, restorable on another machine
//! with the recovery key.
//!
//! The archive is one file:
//!
//! ```text
//! MAGIC | u32 header length | header (JSON) | frame* (the last one final)
//! frame = u8 final flag | u32 ciphertext length | ciphertext
//! ```
//!
//! The header carries the vault file (`vault.json`: only wrapped keys, never
//! a key in the clear), so the archive alone is enough on a machine that has
//! never seen the vault. The body is a tar stream of the data directory
//! (without `vault.json`, lock and temp files, and `cache/`), cut into 64 KiB
//! chunks, each sealed with XChaCha20-Poly1305 under a subkey of the data key.
//! Every chunk's associated data binds the header's SHA-256, the chunk's
//! number and whether it is the last one: chunks cannot be reordered, dropped,
//! truncated away or moved to another archive, and the header (the vault
//! file) cannot be swapped.
//!
//! Restoring unwraps the data key from the header's vault file with the
//! recovery key, unpacks into a staging directory inside the target, and only
//! when the last chunk has been authenticated moves the files into place and
//! puts a new key-encryption key into this machine's keychain. A wrong key, a
//! tampered or truncated archive leaves the target as it was.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{LOCK_FILE, TEMP_FILE, Unlock, VAULT_FILE, Vault, random};
use crate::keychain::Keychain;
use crate::{DataDir, Error, Result};

const MAGIC: &[u8; 16] = b"SILLOK-BACKUP\0\0\x01";
const FORMAT: &str = "sillok-vault-backup";
const VERSION: u32 = 1;
const CHUNK_BYTES: usize = 64 * 1024;
const TAG_BYTES: usize = 16;
const MAX_HEADER_BYTES: u32 = 1 << 20;
const SUBKEY_PURPOSE: &str = "backup archive v1";
/// Top-level entries never archived: the vault file travels in the header,
/// locks and temp files belong to running processes, `cache/` is rebuilt.
const SKIPPED: &[&str] = &[VAULT_FILE, LOCK_FILE, TEMP_FILE, "cache"];
const STAGING_PREFIX: &str = ".restore-";

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Files archived.
    pub files: u64,
    /// Bytes of file content archived (before encryption).
    pub bytes: u64,
    /// The vault's key id (the same after a restore).
    pub key_id: String,
}

/// What a restore put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// Files restored.
    pub files: u64,
    /// The vault's key id.
    pub key_id: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: String,
    version: u32,
    key_id: String,
    created_unix: u64,
    /// 16 random bytes, hex: the nonce's first part (the rest counts chunks).
    nonce_prefix: String,
    /// The vault file, verbatim.
    vault_file: String,
}

impl Vault {
    /// Writes an encrypted archive of the data directory to `out` (replaced
    /// atomically). The vault must be unlocked. Run it while no ingestion is
    /// running: files are read as they are at that moment.
    ///
    /// # Errors
    ///
    /// [`Error::VaultLocked`], [`Error::Backup`] when `out` lies inside the
    /// data directory, [`Error::BackupIo`].
    pub fn backup(&self, out: &Path) -> Result<BackupReport> {
        let key = self.data_key()?;
        let root = self.root.clone();
        let out_abs = absolute(out)?;
        if out_abs.starts_with(absolute(&root)?) {
            return Err(Error::Backup(
                "write the archive outside the data directory".to_owned(),
            ));
        }
        let vault_file =
            fs::read_to_string(root.join(VAULT_FILE)).map_err(|source| Error::BackupIo {
                path: root.join(VAULT_FILE),
                source,
            })?;
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            key_id: key.id(),
            created_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            nonce_prefix: hex::encode(*random::<16>()?),
            vault_file,
        };
        let header_bytes = serde_json::to_vec(&header)
            .map_err(|e| Error::Backup(format!("cannot encode the header: {e}")))?;

        let partial = out_abs.with_extension("partial");
        let io_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::BackupIo { path, source }
        };
        let sealer = ChunkSealer::new(
            &key.subkey(SUBKEY_PURPOSE),
            &header.nonce_prefix,
            &header_bytes,
        )
        .map_err(io_err(&partial))?;
        let file = create_private(&partial).map_err(io_err(&partial))?;
        let result = write_archive(file, &header_bytes, sealer, &root);
        let (files, bytes) = match result {
            Ok(counts) => counts,
            Err(source) => {
                let _ = fs::remove_file(&partial);
                return Err(Error::BackupIo {
                    path: partial,
                    source,
                });
            }
        };
        fs::rename(&partial, &out_abs).map_err(io_err(&out_abs))?;
        Ok(BackupReport {
            files,
            bytes,
            key_id: header.key_id,
        })
    }
}

/// Restores `archive` into `target` (which must hold no vault and no library
/// or conversations), opening it with the recovery key, then links the vault
/// to `keychain` with a new key-encryption key. The restored vault is left
/// locked.
///
/// # Errors
///
/// [`Error::VaultExists`] or [`Error::Backup`] for a target with data,
/// [`Error::WrongRecoveryKey`], [`Error::BadRecoveryKey`], [`Error::Backup`]
/// for a damaged, tampered or truncated archive, the keychain's errors,
/// [`Error::BackupIo`].
pub fn restore(
    archive: &Path,
    target: &DataDir,
    keychain: &Keychain,
    recovery_key: &str,
) -> Result<RestoreReport> {
    if Vault::exists(target)? {
        return Err(Error::VaultExists {
            path: target.root().join(VAULT_FILE),
        });
    }
    if super::has_library_data(target)? {
        return Err(Error::Backup(format!(
            "{} already holds a library or conversations: restore into a new data directory",
            target.root().display()
        )));
    }
    let file = File::open(archive).map_err(|source| Error::BackupIo {
        path: archive.to_owned(),
        source,
    })?;
    let mut source = BufReader::new(file);
    let (header, header_bytes) = read_header(&mut source)?;

    fs::create_dir_all(target.root()).map_err(|source| Error::BackupIo {
        path: target.root().to_owned(),
        source,
    })?;
    let staging = target
        .root()
        .join(format!("{STAGING_PREFIX}{}", hex::encode(*random::<8>()?)));
    let result = unpack_verified(
        &mut source,
        &header,
        &header_bytes,
        &staging,
        keychain,
        recovery_key,
    )
    .and_then(|files| {
        move_into_place(&staging, target.root())?;
        Ok(files)
    });
    let _ = fs::remove_dir_all(&staging);
    let files = result?;

    // This machine's keychain has no item for the vault yet: the recovery key
    // opens it once more and a new KEK goes into the keychain.
    let vault = Vault::open(target, keychain.clone())?;
    vault.unlock(Unlock::RecoveryKey(recovery_key))?;
    vault.repair_keychain()?;
    vault.lock();
    Ok(RestoreReport {
        files,
        key_id: header.key_id,
    })
}

/// Unwraps the key from the header's vault file, then decrypts and unpacks
/// the body into `staging`; returns the number of files.
fn unpack_verified(
    source: &mut impl Read,
    header: &Header,
    header_bytes: &[u8],
    staging: &Path,
    keychain: &Keychain,
    recovery_key: &str,
) -> Result<u64> {
    let io_err = |source| Error::BackupIo {
        path: staging.to_owned(),
        source,
    };
    fs::create_dir(staging).map_err(io_err)?;
    fs::write(staging.join(VAULT_FILE), &header.vault_file).map_err(io_err)?;
    let vault = Vault::open(&DataDir::at(staging), keychain.clone())?;
    vault.unlock(Unlock::RecoveryKey(recovery_key))?;
    let key = vault.data_key()?;
    vault.lock();
    if key.id() != header.key_id {
        return Err(Error::Backup(
            "the archive's header does not match its vault".to_owned(),
        ));
    }
    let sealer = ChunkSealer::new(
        &key.subkey(SUBKEY_PURPOSE),
        &header.nonce_prefix,
        header_bytes,
    )
    .map_err(|e| Error::Backup(e.to_string()))?;
    let mut reader = OpeningReader {
        source,
        sealer,
        plain: Vec::new(),
        at: 0,
        done: false,
    };
    let unpacked = unpack(&mut reader, staging);
    unpacked.map_err(|e| Error::Backup(format!("the archive is damaged or was altered: {e}")))
}

/// Writes the magic, the header and the sealed tar stream of `root` to
/// `file`, synced; returns the files and bytes archived.
fn write_archive(
    file: File,
    header_bytes: &[u8],
    sealer: ChunkSealer,
    root: &Path,
) -> io::Result<(u64, u64)> {
    let mut sink = BufWriter::new(file);
    sink.write_all(MAGIC)?;
    sink.write_all(&u32_len(header_bytes.len())?.to_le_bytes())?;
    sink.write_all(header_bytes)?;
    let mut writer = SealingWriter {
        sink,
        sealer,
        buffer: Vec::with_capacity(CHUNK_BYTES),
    };
    let mut counts = (0u64, 0u64);
    {
        let mut tar = tar::Builder::new(&mut writer);
        tar.follow_symlinks(false);
        append_tree(&mut tar, root, Path::new(""), &mut counts)?;
        tar.finish()?;
    }
    let file = writer
        .finish()?
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    file.sync_all()?;
    Ok(counts)
}

/// Unpacks the decrypted tar stream into `staging`, regular files and
/// directories only, then reads on to the authenticated end; returns the
/// number of files.
fn unpack<R: Read>(reader: &mut OpeningReader<'_, R>, staging: &Path) -> io::Result<u64> {
    let mut files = 0u64;
    let mut tar = tar::Archive::new(&mut *reader);
    tar.set_preserve_permissions(true);
    tar.set_overwrite(false);
    for entry in tar.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an entry is neither a file nor a directory",
            ));
        }
        if !entry.unpack_in(staging)? {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an entry's path leaves the data directory",
            ));
        }
        if kind.is_file() {
            files += 1;
        }
    }
    // Past tar's end-of-archive blocks (`tar` is done with `reader`): the
    // final chunk must follow.
    io::copy(reader, &mut io::sink())?;
    Ok(files)
}

/// Moves the staged tree into `root`: the vault file last (until it is
/// there, the directory is not a vault). What a fresh open made there (empty
/// directories, the format marker, an empty catalogue) gives way.
fn move_into_place(staging: &Path, root: &Path) -> Result<()> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::BackupIo { path, source }
    };
    let mut names = entry_names(staging).map_err(io_err(staging))?;
    names.sort_by_key(|n| n == VAULT_FILE);
    for name in names {
        merge(&staging.join(&name), &root.join(&name)).map_err(io_err(&root.join(&name)))?;
    }
    Ok(())
}

/// Renames `from` to `to`; a directory onto an existing directory is merged
/// entry by entry, files replacing files.
fn merge(from: &Path, to: &Path) -> io::Result<()> {
    if from.is_dir() && to.is_dir() {
        for name in entry_names(from)? {
            merge(&from.join(&name), &to.join(&name))?;
        }
        return Ok(());
    }
    if to.is_dir() {
        fs::remove_dir(to)?;
    }
    fs::rename(from, to)
}

fn entry_names(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect()
}

fn read_header(source: &mut impl Read) -> Result<(Header, Vec<u8>)> {
    let bad = |why: &str| Error::Backup(format!("not a Sillok vault backup: {why}"));
    let mut magic = [0u8; 16];
    source
        .read_exact(&mut magic)
        .map_err(|_| bad("too short"))?;
    if &magic != MAGIC {
        return Err(bad("unknown file type or version"));
    }
    let mut len = [0u8; 4];
    source.read_exact(&mut len).map_err(|_| bad("too short"))?;
    let len = u32::from_le_bytes(len);
    if len > MAX_HEADER_BYTES {
        return Err(bad("header too large"));
    }
    let mut bytes = vec![0u8; len as usize];
    source
        .read_exact(&mut bytes)
        .map_err(|_| bad("truncated header"))?;
    let header: Header =
        serde_json::from_slice(&bytes).map_err(|e| bad(&format!("header: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(bad("unknown format"));
    }
    Ok((header, bytes))
}

/// Seals and opens the chunks of one archive.
struct ChunkSealer {
    cipher: XChaCha20Poly1305,
    nonce_prefix: [u8; 16],
    header_hash: [u8; 32],
    counter: u64,
}

impl ChunkSealer {
    fn new(key: &[u8; 32], nonce_prefix: &str, header: &[u8]) -> io::Result<Self> {
        let prefix = hex::decode(nonce_prefix)
            .ok()
            .and_then(|p| <[u8; 16]>::try_from(p).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad nonce prefix"))?;
        let mut header_hash = [0u8; 32];
        header_hash.copy_from_slice(&Sha256::digest(header));
        Ok(ChunkSealer {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
            nonce_prefix: prefix,
            header_hash,
            counter: 0,
        })
    }

    /// The nonce and associated data of the next chunk.
    fn next(&mut self, last: bool) -> io::Result<(XNonce, Vec<u8>)> {
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&self.nonce_prefix);
        nonce[16..].copy_from_slice(&self.counter.to_be_bytes());
        let mut aad = Vec::with_capacity(MAGIC.len() + 32 + 9);
        aad.extend_from_slice(MAGIC);
        aad.extend_from_slice(&self.header_hash);
        aad.extend_from_slice(&self.counter.to_be_bytes());
        aad.push(u8::from(last));
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or_else(|| io::Error::other("too many chunks"))?;
        Ok((XNonce::clone_from_slice(&nonce), aad))
    }
}

/// Encrypts what is written to it, chunk by chunk.
struct SealingWriter<W: Write> {
    sink: W,
    sealer: ChunkSealer,
    buffer: Vec<u8>,
}

impl<W: Write> SealingWriter<W> {
    fn emit(&mut self, last: bool) -> io::Result<()> {
        let (nonce, aad) = self.sealer.next(last)?;
        let sealed = self
            .sealer
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &self.buffer,
                    aad: &aad,
                },
            )
            .map_err(|_| io::Error::other("encryption failed"))?;
        self.sink.write_all(&[u8::from(last)])?;
        self.sink.write_all(&u32_len(sealed.len())?.to_le_bytes())?;
        self.sink.write_all(&sealed)?;
        self.buffer.clear();
        Ok(())
    }

    /// Seals the last (possibly empty) chunk and returns the sink.
    fn finish(mut self) -> io::Result<W> {
        self.emit(true)?;
        Ok(self.sink)
    }
}

impl<W: Write> Write for SealingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = data.len().min(room);
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.emit(false)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks are only cut when full: flushing must not shorten one.
        Ok(())
    }
}

/// Decrypts and authenticates chunks as they are read; reading past the final
/// chunk gives end of file, and the source must end there too.
struct OpeningReader<'a, R: Read> {
    source: &'a mut R,
    sealer: ChunkSealer,
    plain: Vec<u8>,
    at: usize,
    done: bool,
}

impl<R: Read> OpeningReader<'_, R> {
    fn next_chunk(&mut self) -> io::Result<()> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let mut frame = [0u8; 5];
        self.source
            .read_exact(&mut frame)
            .map_err(|_| invalid("truncated (the final chunk is missing)"))?;
        let last = match frame[0] {
            0 => false,
            1 => true,
            _ => return Err(invalid("bad chunk flag")),
        };
        let len = u32::from_le_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
        if !(TAG_BYTES..=CHUNK_BYTES + TAG_BYTES).contains(&len) {
            return Err(invalid("bad chunk length"));
        }
        let mut sealed = vec![0u8; len];
        self.source
            .read_exact(&mut sealed)
            .map_err(|_| invalid("truncated chunk"))?;
        let (nonce, aad) = self.sealer.next(last)?;
        self.plain = self
            .sealer
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| invalid("a chunk fails authentication"))?;
        self.at = 0;
        if last {
            let mut extra = [0u8; 1];
            if self.source.read(&mut extra)? != 0 {
                return Err(invalid("data after the final chunk"));
            }
            self.done = true;
        }
        Ok(())
    }
}

impl<R: Read> Read for OpeningReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Archives `dir` (relative name `rel`), sorted, skipping [`SKIPPED`] at the
/// top level, temp files and symbolic links; counts files and bytes.
fn append_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    rel: &Path,
    counts: &mut (u64, u64),
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if rel.as_os_str().is_empty()
            && (SKIPPED.contains(&name_text.as_ref()) || name_text.starts_with(STAGING_PREFIX))
        {
            continue;
        }
        if name_text.ends_with(".tmp") || name_text.ends_with(".partial") {
            continue;
        }
        let path = entry.path();
        let rel_path = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            tar.append_dir(&rel_path, &path)?;
            append_tree(tar, &path, &rel_path, counts)?;
        } else if kind.is_file() {
            let mut file = File::open(&path)?;
            let len = file.metadata()?.len();
            tar.append_file(&rel_path, &mut file)?;
            counts.0 += 1;
            counts.1 += len;
        }
    }
    Ok(())
}

fn create_private(path: &Path) -> io::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|source| Error::BackupIo {
        path: path.to_owned(),
        source,
    })?;
    // Lexically normalised: `..` must not hide that a path is inside.
    let mut out = PathBuf::new();
    for part in abs.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

fn u32_len(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::other("length over 4 GiB"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::keychain::MemoryKeyStore;
    use crate::vault::InitOptions;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    struct Machine {
        dir: tempfile::TempDir,
        keychain: Keychain,
    }

    fn machine() -> TestResult<Machine> {
        Ok(Machine {
            dir: tempfile::tempdir()?,
            keychain: Keychain::with_store(Arc::new(MemoryKeyStore::default())),
        })
    }

    /// A vault with a small library-like tree; returns its recovery key.
    fn source(m: &Machine) -> TestResult<String> {
        let data = DataDir::at(m.dir.path());
        data.create()?;
        let options = InitOptions {
            recovery_key: true,
            ..InitOptions::default()
        };
        let (_, recovery) = Vault::init(&data, m.keychain.clone(), &options)?;
        fs::create_dir_all(data.indexes().join("library/deep"))?;
        // More than one chunk, not compressible into one.
        let big: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        fs::write(data.indexes().join("library/deep/big.bin"), &big)?;
        fs::write(data.db().join("conversations.sqlite"), b"secret words")?;
        fs::create_dir_all(data.cache())?;
        fs::write(data.cache().join("skipped"), b"x")?;
        Ok(recovery.ok_or("no recovery key")?.as_str().to_owned())
    }

    fn backup_of(m: &Machine, out: &Path) -> TestResult<BackupReport> {
        let vault = Vault::open(&DataDir::at(m.dir.path()), m.keychain.clone())?;
        vault.unlock(Unlock::Keychain)?;
        Ok(vault.backup(out)?)
    }

    #[test]
    fn a_backup_restores_byte_for_byte_on_another_machine() -> TestResult {
        let (here, there, scratch) = (machine()?, machine()?, tempfile::tempdir()?);
        let recovery = source(&here)?;
        let archive = scratch.path().join("backup");
        let report = backup_of(&here, &archive)?;
        assert_eq!(report.files, 2);
        let bytes = fs::read(&archive)?;
        assert!(!bytes.windows(12).any(|w| w == b"secret words"));

        let target = DataDir::at(there.dir.path().join("data"));
        let restored = restore(&archive, &target, &there.keychain, &recovery)?;
        assert_eq!((restored.files, &restored.key_id), (2, &report.key_id));
        for file in ["indexes/library/deep/big.bin", "db/conversations.sqlite"] {
            assert_eq!(
                fs::read(target.root().join(file))?,
                fs::read(here.dir.path().join(file))?,
                "{file}"
            );
        }
        assert!(!target.cache().join("skipped").exists());
        // That machine's keychain now opens it.
        let vault = Vault::open(&target, there.keychain.clone())?;
        vault.unlock(Unlock::Keychain)?;
        assert_eq!(vault.data_key()?.id(), report.key_id);
        Ok(())
    }

    #[test]
    fn any_changed_byte_or_a_cut_is_refused_and_leaves_the_target_empty() -> TestResult {
        let (here, there, scratch) = (machine()?, machine()?, tempfile::tempdir()?);
        let recovery = source(&here)?;
        let archive = scratch.path().join("backup");
        backup_of(&here, &archive)?;
        let good = fs::read(&archive)?;
        let header_end = 20 + u32::from_le_bytes(good[16..20].try_into()?) as usize;
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        for at in [
            0,
            17,
            header_end - 3,
            header_end + 2,
            header_end + 40,
            good.len() / 2,
            good.len() - 1,
        ] {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            cases.push((format!("byte {at}"), bad));
        }
        for cut in [1, 17, 70_000] {
            cases.push((format!("cut {cut}"), good[..good.len() - cut].to_vec()));
        }
        let mut extra = good.clone();
        extra.push(0);
        cases.push(("a byte appended".to_owned(), extra));
        for (what, bytes) in cases {
            let bad = scratch.path().join("bad");
            fs::write(&bad, bytes)?;
            let target = DataDir::at(there.dir.path().join("data"));
            let Err(err) = restore(&bad, &target, &there.keychain, &recovery) else {
                return Err("accepted".into());
            };
            assert!(err.is_user_error(), "{what}: {err}");
            assert!(!target.root().join(VAULT_FILE).exists(), "{what}");
            let left: Vec<_> = fs::read_dir(target.root())
                .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(left.is_empty(), "{what}: left {left:?}");
        }
        Ok(())
    }

    #[test]
    fn a_wrong_recovery_key_or_a_used_target_is_refused() -> TestResult {
        let (here, there, scratch) = (machine()?, machine()?, tempfile::tempdir()?);
        let recovery = source(&here)?;
        let archive = scratch.path().join("backup");
        backup_of(&here, &archive)?;
        let other = machine()?;
        let other_key = source(&other)?;
        let target = DataDir::at(there.dir.path().join("data"));
        let Err(err) = restore(&archive, &target, &there.keychain, &other_key) else {
            return Err("accepted".into());
        };
        assert!(matches!(err, Error::WrongRecoveryKey), "{err}");
        // Into a directory that has a vault already: refused.
        let Err(err) = restore(
            &archive,
            &DataDir::at(other.dir.path()),
            &there.keychain,
            &recovery,
        ) else {
            return Err("accepted".into());
        };
        assert!(matches!(err, Error::VaultExists { .. }), "{err}");
        // Inside the data directory itself: refused.
        let vault = Vault::open(&DataDir::at(here.dir.path()), here.keychain.clone())?;
        vault.unlock(Unlock::Keychain)?;
        let Err(err) = vault.backup(&here.dir.path().join("db/../x")) else {
            return Err("accepted".into());
        };
        assert!(matches!(err, Error::Backup(_)), "{err}");
        Ok(())
    }
}
