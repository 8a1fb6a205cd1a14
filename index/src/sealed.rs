//! Encryption at rest of the search index: [`SealedDirectory`], a tantivy
//! [`Directory`] over an [`MmapDirectory`] that keeps every file sealed with
//! XChaCha20-Poly1305, and the [`IndexKey`] it is sealed with.
//!
//! Stored text, terms and positions all reveal document text, so every file
//! tantivy writes is sealed, the small ones written whole (`meta.json`,
//! `.managed.json`) included. Only tantivy's lock files, which are empty,
//! stay as they are.
//!
//! # File format (version 1)
//!
//! ```text
//! header (32 bytes): "SLKSEAL" | version (1) | log2 of the block size | 7 zero bytes
//!                    | nonce prefix (16 random bytes, new for every file written)
//! blocks:            ciphertext of plaintext block i | Poly1305 tag (16 bytes)
//! ```
//!
//! The plaintext is cut into blocks of the header's block size (16 KiB when
//! written here); every block is full but the last, which holds 1 to
//! block-size bytes (0 only for an empty file, which still has its one
//! block). Block `i` is sealed with the nonce `prefix | i as u64 LE` and
//! associated data binding the header, the file's name and `i` with a flag
//! saying whether it is the last block. So an edited byte, a block moved or
//! reordered, a file truncated at any point (its new last block was not
//! sealed as the last), and a file swapped with another (the name differs)
//! all fail authentication, and nothing of such a file is ever returned.
//! The length of the plaintext follows from the file's size.
//!
//! A key check file ([`KEY_CHECK_FILE`], itself in this format) tells a wrong
//! key apart from a damaged index, and marks the directory as sealed so that
//! it is never opened as plaintext.
//!
//! # Reading
//!
//! A [`FileHandle`] decrypts only the blocks a read needs, through one block
//! cache per directory with a fixed byte budget (least recently used blocks
//! go first); the ciphertext itself is read from the inner directory's
//! memory maps. A read spanning more than an eighth of the budget (segment
//! opening, merges, verification) decrypts its whole blocks straight into
//! its output instead of flushing the cache. What tantivy keeps for an open
//! segment's lifetime (its term dictionary) is decrypted once when the
//! segment opens and held by tantivy, as it would hold mmapped pages;
//! postings, positions, stored documents, field norms and fast fields are
//! read through the cache, query by query.
//!
//! What this module does not own: the key (the core's vault gives its bytes)
//! and the SQLite files beside the index.

use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use lru::LruCache;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, TerminatingWrite,
    WatchCallback, WatchHandle, WritePtr,
};
use tantivy::{Directory, HasLen, TantivyError};
use zeroize::Zeroizing;

/// Bytes of an [`IndexKey`].
pub const KEY_LEN: usize = 32;
/// The file in a sealed index directory that checks the key.
pub const KEY_CHECK_FILE: &str = "sealed.keycheck";
/// Default byte budget of a directory's block cache.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;
/// log2 of the block size new files are written with: 16 KiB. Chosen by
/// measurement (`sillok_index::bench::sealed`): against 64 KiB, searching
/// right after opening decrypts about a quarter less (most of tantivy's
/// reads are small: a term's postings, one stored-document block), with
/// the same ingestion time and warm search latency.
pub(crate) const DEFAULT_BLOCK_LOG2: u8 = 14;

const MAGIC: &[u8; 7] = b"SLKSEAL";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 32;
const PREFIX_LEN: usize = 16;
const TAG_LEN: usize = 16;
/// Block sizes a header may declare: 1 KiB to 1 MiB.
const BLOCK_LOG2_RANGE: Range<u8> = 10..21;
/// Domain separation of the associated data.
const AAD_DOMAIN: &[u8] = b"sillok index seal v1";
/// What the key check file holds.
const KEY_CHECK_TEXT: &[u8] = b"sillok search index key check v1";

/// The 32-byte key a sealed index is encrypted with. The bytes come from
/// the caller (the core's vault owns the real key); they live on the heap,
/// are zeroed when dropped, and are never shown by `Debug`.
#[derive(Clone)]
pub struct IndexKey(Box<Zeroizing<[u8; KEY_LEN]>>);

impl IndexKey {
    /// A key from its bytes (copied; the caller zeroes its own copy).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> Self {
        let mut key = Box::new(Zeroizing::new([0u8; KEY_LEN]));
        key.copy_from_slice(bytes);
        IndexKey(key)
    }

    /// A key from a slice, when it is exactly [`KEY_LEN`] bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self::from_bytes(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0[..]))
    }
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

/// Figures of a sealed directory's block cache and decryption, since it
/// was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealedStats {
    /// The cache's byte budget.
    pub cache_budget: usize,
    /// Bytes of decrypted blocks the cache holds now.
    pub cache_bytes: usize,
    /// Blocks the cache holds now.
    pub cache_blocks: usize,
    /// Block reads the cache answered.
    pub hits: u64,
    /// Block reads that had to decrypt.
    pub misses: u64,
    /// Plaintext bytes decrypted (cached or not).
    pub decrypted_bytes: u64,
    /// Plaintext bytes encrypted.
    pub encrypted_bytes: u64,
}

/// Why a sealed file cannot be read: carried inside the `io::Error`s
/// tantivy passes on, and turned into [`crate::Error::Tampered`].
#[derive(Debug, thiserror::Error)]
#[error("sealed index file {} failed its integrity check", file.display())]
pub(crate) struct Damaged {
    /// The file, as named in the index directory.
    pub(crate) file: PathBuf,
}

fn damaged(file: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        Damaged {
            file: file.to_owned(),
        },
    )
}

/// The damaged sealed file behind a tantivy error, when that is its cause.
pub(crate) fn damaged_file(err: &TantivyError) -> Option<PathBuf> {
    let io: &io::Error = match err {
        TantivyError::IoError(io) => io,
        TantivyError::OpenReadError(OpenReadError::IoError { io_error, .. }) => io_error,
        TantivyError::OpenWriteError(OpenWriteError::IoError { io_error, .. }) => io_error,
        _ => return None,
    };
    io.get_ref()?
        .downcast_ref::<Damaged>()
        .map(|d| d.file.clone())
}

/// A file's header.
#[derive(Debug, Clone, Copy)]
struct Header([u8; HEADER_LEN]);

impl Header {
    fn new(block_log2: u8) -> io::Result<Self> {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..MAGIC.len()].copy_from_slice(MAGIC);
        bytes[7] = VERSION;
        bytes[8] = block_log2;
        getrandom::fill(&mut bytes[HEADER_LEN - PREFIX_LEN..]).map_err(io::Error::other)?;
        Ok(Header(bytes))
    }

    /// Checks a header; `None` for anything unexpected, which is damage (a
    /// later format comes with a new version and new code).
    fn parse(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; HEADER_LEN] = bytes.try_into().ok()?;
        let ok = bytes.starts_with(MAGIC)
            && bytes[7] == VERSION
            && BLOCK_LOG2_RANGE.contains(&bytes[8])
            && bytes[9..HEADER_LEN - PREFIX_LEN].iter().all(|&b| b == 0);
        ok.then_some(Header(bytes))
    }

    fn block_size(&self) -> usize {
        1 << self.0[8]
    }

    fn nonce(&self, block: u64) -> XNonce {
        let mut nonce = XNonce::default();
        nonce[..PREFIX_LEN].copy_from_slice(&self.0[HEADER_LEN - PREFIX_LEN..]);
        nonce[PREFIX_LEN..].copy_from_slice(&block.to_le_bytes());
        nonce
    }

    /// Identifies this file's contents in the block cache: the prefix is
    /// random per file written, so a file written again under the same
    /// name never meets the old one's blocks.
    fn cache_id(&self) -> u128 {
        let mut prefix = [0u8; PREFIX_LEN];
        prefix.copy_from_slice(&self.0[HEADER_LEN - PREFIX_LEN..]);
        u128::from_le_bytes(prefix)
    }
}

/// Whether `bytes` begin like a sealed file.
pub(crate) fn looks_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// What one file's blocks are sealed with: its header (the nonce prefix)
/// and the associated data binding the header and the file's name, to
/// which each block adds its index and last-block flag.
#[derive(Debug, Clone)]
struct Binding {
    header: Header,
    aad: Vec<u8>,
}

impl Binding {
    fn new(header: Header, name: &Path) -> Self {
        let name = name.as_os_str().as_encoded_bytes();
        let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + HEADER_LEN + 8 + name.len() + 9);
        aad.extend_from_slice(AAD_DOMAIN);
        aad.extend_from_slice(&header.0);
        aad.extend_from_slice(&(name.len() as u64).to_le_bytes());
        aad.extend_from_slice(name);
        Binding { header, aad }
    }

    fn aad(&self, index: u64, last: bool) -> Vec<u8> {
        let mut aad = Vec::with_capacity(self.aad.len() + 9);
        aad.extend_from_slice(&self.aad);
        aad.extend_from_slice(&index.to_le_bytes());
        aad.push(u8::from(last));
        aad
    }
}

/// Where a sealed file's blocks lie, from its size and block size.
#[derive(Debug, Clone, Copy)]
struct Layout {
    block: usize,
    blocks: u64,
    plain_len: usize,
}

impl Layout {
    /// `None` when no sealed file of this block size has `sealed_len` bytes.
    fn of(sealed_len: usize, block: usize) -> Option<Self> {
        let body = sealed_len.checked_sub(HEADER_LEN)?;
        if body < TAG_LEN {
            return None;
        }
        let stride = block + TAG_LEN;
        let blocks = body.div_ceil(stride);
        let last = body - (blocks - 1) * stride;
        if last < TAG_LEN || (blocks > 1 && last == TAG_LEN) {
            return None;
        }
        Some(Layout {
            block,
            blocks: blocks as u64,
            plain_len: body - blocks * TAG_LEN,
        })
    }

    fn last(&self) -> u64 {
        self.blocks - 1
    }

    /// Plaintext bytes of block `i` (< `blocks`).
    fn plain_len_of(&self, i: u64) -> usize {
        if i == self.last() {
            self.plain_len - self.block * (self.blocks as usize - 1)
        } else {
            self.block
        }
    }

    /// Where block `i`'s ciphertext and tag lie in the file.
    fn sealed_range(&self, i: u64) -> Range<usize> {
        let start = HEADER_LEN + i as usize * (self.block + TAG_LEN);
        start..start + self.plain_len_of(i) + TAG_LEN
    }
}

/// Decrypted blocks, least recently used first out, within a byte budget.
#[derive(Debug)]
struct BlockCache {
    budget: usize,
    state: Mutex<CacheState>,
}

#[derive(Debug)]
struct CacheState {
    blocks: LruCache<(u128, u64), Arc<[u8]>>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl BlockCache {
    fn new(budget: usize) -> Self {
        BlockCache {
            budget,
            state: Mutex::new(CacheState {
                blocks: LruCache::unbounded(),
                bytes: 0,
                hits: 0,
                misses: 0,
            }),
        }
    }

    /// The state; a panic elsewhere cannot leave it inconsistent (every
    /// change is made whole under the lock), so poisoning is ignored.
    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, key: (u128, u64)) -> Option<Arc<[u8]>> {
        let mut state = self.state();
        let found = state.blocks.get(&key).cloned();
        if found.is_some() {
            state.hits += 1;
        } else {
            state.misses += 1;
        }
        found
    }

    fn insert(&self, key: (u128, u64), block: Arc<[u8]>) {
        if block.len() > self.budget {
            return;
        }
        let mut state = self.state();
        let len = block.len();
        if let Some(old) = state.blocks.put(key, block) {
            state.bytes -= old.len();
        }
        state.bytes += len;
        while state.bytes > self.budget {
            match state.blocks.pop_lru() {
                Some((_, old)) => state.bytes -= old.len(),
                None => break,
            }
        }
    }
}

/// The cipher and cache one sealed directory's files share.
struct Sealer {
    cipher: XChaCha20Poly1305,
    block_log2: u8,
    cache: BlockCache,
    decrypted: AtomicU64,
    encrypted: AtomicU64,
    /// The first file found damaged. Tantivy treats a positions file it
    /// cannot open as absent (and fails later with a bare "data
    /// corruption"), so the library asks here after opening segments.
    damage: Mutex<Option<PathBuf>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("block_log2", &self.block_log2)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// Records `file` as damaged and returns the error that says so.
    fn damaged(&self, file: &Path) -> io::Error {
        self.damage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| file.to_owned());
        damaged(file)
    }

    fn seal(&self, binding: &Binding, index: u64, last: bool, block: &mut [u8]) -> io::Result<Tag> {
        self.encrypted
            .fetch_add(block.len() as u64, Ordering::Relaxed);
        self.cipher
            .encrypt_in_place_detached(
                &binding.header.nonce(index),
                &binding.aad(index, last),
                block,
            )
            .map_err(|_| io::Error::other("cannot seal an index block"))
    }

    fn open(
        &self,
        binding: &Binding,
        index: u64,
        last: bool,
        block: &mut [u8],
        tag: &[u8],
        file: &Path,
    ) -> io::Result<()> {
        if tag.len() != TAG_LEN {
            return Err(self.damaged(file));
        }
        self.cipher
            .decrypt_in_place_detached(
                &binding.header.nonce(index),
                &binding.aad(index, last),
                block,
                Tag::from_slice(tag),
            )
            .map_err(|_| self.damaged(file))?;
        self.decrypted
            .fetch_add(block.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Seals what is written to it into `inner`, one block at a time.
struct SealedWriter<W: Write> {
    binding: Binding,
    sealer: Arc<Sealer>,
    inner: W,
    /// The block being filled; sealed once it is full and more is written
    /// (only then is it known not to be the last), or at the end.
    block: Vec<u8>,
    block_size: usize,
    next: u64,
}

impl<W: Write> SealedWriter<W> {
    fn new(name: &Path, sealer: Arc<Sealer>, mut inner: W) -> io::Result<Self> {
        let header = Header::new(sealer.block_log2)?;
        inner.write_all(&header.0)?;
        let block_size = header.block_size();
        Ok(SealedWriter {
            binding: Binding::new(header, name),
            sealer,
            inner,
            block: Vec::with_capacity(block_size),
            block_size,
            next: 0,
        })
    }

    fn seal_block(&mut self, last: bool) -> io::Result<()> {
        let tag = self
            .sealer
            .seal(&self.binding, self.next, last, &mut self.block)?;
        self.inner.write_all(&self.block)?;
        self.inner.write_all(&tag)?;
        self.block.clear();
        self.next += 1;
        Ok(())
    }

    /// Seals the last block and returns the inner writer.
    fn finish(mut self) -> io::Result<W> {
        self.seal_block(true)?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if self.block.len() == self.block_size {
            self.seal_block(false)?;
        }
        let n = data.len().min(self.block_size - self.block.len());
        self.block.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Passes on the blocks sealed so far. The block being filled is sealed
    /// only at the end (`terminate`): tantivy reads a file only after
    /// terminating it.
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl TerminatingWrite for SealedWriter<WritePtr> {
    fn terminate_ref(&mut self, token: AntiCallToken) -> io::Result<()> {
        self.seal_block(true)?;
        self.inner.terminate_ref(token)
    }
}

/// An open sealed file: decrypts the blocks each read needs.
struct SealedFile {
    name: PathBuf,
    binding: Binding,
    layout: Layout,
    sealed: Arc<dyn FileHandle>,
    sealer: Arc<Sealer>,
}

impl std::fmt::Debug for SealedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedFile")
            .field("name", &self.name)
            .field("len", &self.layout.plain_len)
            .finish_non_exhaustive()
    }
}

impl SealedFile {
    /// Reads and checks the header; the blocks are checked as they are read.
    fn new(name: &Path, sealed: Arc<dyn FileHandle>, sealer: Arc<Sealer>) -> io::Result<Self> {
        if sealed.len() < HEADER_LEN + TAG_LEN {
            return Err(sealer.damaged(name));
        }
        let header = Header::parse(sealed.read_bytes(0..HEADER_LEN)?.as_slice())
            .ok_or_else(|| sealer.damaged(name))?;
        let layout =
            Layout::of(sealed.len(), header.block_size()).ok_or_else(|| sealer.damaged(name))?;
        Ok(SealedFile {
            name: name.to_owned(),
            binding: Binding::new(header, name),
            layout,
            sealed,
            sealer,
        })
    }

    /// Decrypts block `i` into `out` (exactly its plaintext length).
    fn decrypt_into(&self, i: u64, out: &mut [u8]) -> io::Result<()> {
        let range = self.layout.sealed_range(i);
        let sealed = self.sealed.read_bytes(range)?;
        let (ciphertext, tag) = sealed
            .as_slice()
            .split_at_checked(out.len())
            .ok_or_else(|| self.sealer.damaged(&self.name))?;
        out.copy_from_slice(ciphertext);
        self.sealer.open(
            &self.binding,
            i,
            i == self.layout.last(),
            out,
            tag,
            &self.name,
        )
    }

    /// Block `i`, from the cache or decrypted into it.
    fn block(&self, i: u64) -> io::Result<Arc<[u8]>> {
        let key = (self.binding.header.cache_id(), i);
        if let Some(block) = self.sealer.cache.get(key) {
            return Ok(block);
        }
        let mut plain = vec![0u8; self.layout.plain_len_of(i)];
        self.decrypt_into(i, &mut plain)?;
        let block: Arc<[u8]> = plain.into();
        self.sealer.cache.insert(key, Arc::clone(&block));
        Ok(block)
    }

    /// The whole plaintext, without the cache (small files read once).
    fn read_all(&self) -> io::Result<Vec<u8>> {
        let mut out = vec![0u8; self.layout.plain_len];
        for (i, chunk) in out.chunks_mut(self.layout.block).enumerate() {
            self.decrypt_into(i as u64, chunk)?;
        }
        if self.layout.plain_len == 0 {
            self.decrypt_into(0, &mut [])?;
        }
        Ok(out)
    }
}

impl HasLen for SealedFile {
    fn len(&self) -> usize {
        self.layout.plain_len
    }
}

impl FileHandle for SealedFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.start > range.end || range.end > self.layout.plain_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "read of {range:?} beyond {} ({} bytes)",
                    self.name.display(),
                    self.layout.plain_len
                ),
            ));
        }
        if range.is_empty() {
            return Ok(OwnedBytes::empty());
        }
        let size = self.layout.block;
        let first = range.start / size;
        let last = (range.end - 1) / size;
        if first == last {
            let block = self.block(first as u64)?;
            let within = range.start - first * size..range.end - first * size;
            // A large part of one block is handed out without a copy; a
            // small one is copied so it does not keep the block alive.
            return Ok(if within.len() >= size / 2 {
                OwnedBytes::new(block).slice(within)
            } else {
                OwnedBytes::new(block[within].to_vec())
            });
        }
        // Reads far larger than the cache (segment opening, merges) decrypt
        // their whole blocks straight into the output.
        let bypass = (last - first + 1) * size > self.sealer.cache.budget / 8;
        let mut out = vec![0u8; range.len()];
        for i in first..=last {
            let start = i * size;
            let plain_len = self.layout.plain_len_of(i as u64);
            let within = range.start.max(start) - start..range.end.min(start + plain_len) - start;
            let dest =
                &mut out[start + within.start - range.start..start + within.end - range.start];
            if bypass && within.len() == plain_len {
                match self
                    .sealer
                    .cache
                    .get((self.binding.header.cache_id(), i as u64))
                {
                    Some(block) => dest.copy_from_slice(&block),
                    None => self.decrypt_into(i as u64, dest)?,
                }
            } else {
                dest.copy_from_slice(&self.block(i as u64)?[within]);
            }
        }
        Ok(OwnedBytes::new(out))
    }
}

/// A tantivy [`Directory`] whose files are all sealed (see the module doc).
/// Clones share the block cache.
#[derive(Clone)]
pub(crate) struct SealedDirectory {
    inner: MmapDirectory,
    sealer: Arc<Sealer>,
}

impl std::fmt::Debug for SealedDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedDirectory")
            .field("inner", &self.inner)
            .field("sealer", &self.sealer)
            .finish()
    }
}

impl SealedDirectory {
    /// Opens the sealed index directory at `path` with `key`. A directory
    /// holding no index yet is made a sealed one (its key check written).
    ///
    /// # Errors
    ///
    /// [`crate::Error::WrongKey`] when the key check fails,
    /// [`crate::Error::NotEncrypted`] when the directory holds a plaintext
    /// index, [`crate::Error::Tampered`] when it holds sealed index files
    /// but no key check; I/O errors.
    pub(crate) fn open(
        path: &Path,
        key: &IndexKey,
        cache_bytes: usize,
        block_log2: u8,
    ) -> crate::Result<Self> {
        let inner = MmapDirectory::open(path).map_err(|e| crate::Error::Tantivy(e.into()))?;
        let directory = SealedDirectory {
            inner,
            sealer: Arc::new(Sealer {
                cipher: key.cipher(),
                block_log2,
                cache: BlockCache::new(cache_bytes),
                decrypted: AtomicU64::new(0),
                encrypted: AtomicU64::new(0),
                damage: Mutex::new(None),
            }),
        };
        let check = Path::new(KEY_CHECK_FILE);
        match directory.atomic_read(check) {
            Ok(text) if text == KEY_CHECK_TEXT => Ok(directory),
            Ok(_) => Err(crate::Error::Tampered {
                file: check.to_owned(),
            }),
            Err(OpenReadError::FileDoesNotExist(_)) => {
                match sealing_of(path)? {
                    Sealing::Plain => return Err(crate::Error::NotEncrypted),
                    Sealing::Sealed => {
                        return Err(crate::Error::Tampered {
                            file: check.to_owned(),
                        });
                    }
                    Sealing::Empty => {}
                }
                directory
                    .atomic_write(check, KEY_CHECK_TEXT)
                    .and_then(|()| directory.sync_directory())
                    .map_err(|e| crate::Error::io(path.join(check), e))?;
                Ok(directory)
            }
            Err(err) => {
                let err = TantivyError::from(err);
                match damaged_file(&err) {
                    Some(_) => Err(crate::Error::WrongKey),
                    None => Err(crate::Error::Tantivy(err)),
                }
            }
        }
    }

    /// The first file found damaged since the directory was opened.
    pub(crate) fn damage(&self) -> Option<PathBuf> {
        self.sealer
            .damage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The cache and decryption figures.
    pub(crate) fn stats(&self) -> SealedStats {
        let state = self.sealer.cache.state();
        SealedStats {
            cache_budget: self.sealer.cache.budget,
            cache_bytes: state.bytes,
            cache_blocks: state.blocks.len(),
            hits: state.hits,
            misses: state.misses,
            decrypted_bytes: self.sealer.decrypted.load(Ordering::Relaxed),
            encrypted_bytes: self.sealer.encrypted.load(Ordering::Relaxed),
        }
    }
}

/// What an index directory holds, as far as sealing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sealing {
    /// No index (no `meta.json`) and no key check.
    Empty,
    /// A key check, or a sealed `meta.json`.
    Sealed,
    /// A plaintext `meta.json` and no key check.
    Plain,
}

/// Tells sealed, plaintext and empty index directories apart, reading only
/// the key check's presence and `meta.json`'s first bytes.
///
/// # Errors
///
/// I/O errors other than a missing file.
pub(crate) fn sealing_of(path: &Path) -> crate::Result<Sealing> {
    let check = path.join(KEY_CHECK_FILE);
    match std::fs::symlink_metadata(&check) {
        Ok(_) => return Ok(Sealing::Sealed),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(crate::Error::io(check, e)),
    }
    let meta = path.join("meta.json");
    match std::fs::File::open(&meta) {
        Ok(file) => {
            let mut start = Vec::with_capacity(MAGIC.len());
            io::Read::read_to_end(&mut io::Read::take(file, MAGIC.len() as u64), &mut start)
                .map_err(|e| crate::Error::io(&meta, e))?;
            Ok(if looks_sealed(&start) {
                Sealing::Sealed
            } else {
                Sealing::Plain
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Sealing::Empty),
        Err(e) => Err(crate::Error::io(meta, e)),
    }
}

impl Directory for SealedDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let sealed = self.inner.get_file_handle(path)?;
        let file = SealedFile::new(path, sealed, Arc::clone(&self.sealer))
            .and_then(|file| {
                // The last block is checked at once: a truncated file fails
                // here, whatever part of it is read first.
                file.block(file.layout.last())?;
                Ok(file)
            })
            .map_err(|e| OpenReadError::wrap_io_error(e, path.to_owned()))?;
        Ok(Arc::new(file))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let inner = self.inner.open_write(path)?;
        let writer = SealedWriter::new(path, Arc::clone(&self.sealer), inner)
            .map_err(|e| OpenWriteError::wrap_io_error(e, path.to_owned()))?;
        Ok(BufWriter::new(Box::new(writer)))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        let sealed = self.inner.atomic_read(path)?;
        SealedFile::new(
            path,
            Arc::new(OwnedBytes::new(sealed)),
            Arc::clone(&self.sealer),
        )
        .and_then(|file| file.read_all())
        .map_err(|e| OpenReadError::wrap_io_error(e, path.to_owned()))
    }

    /// Seals `data` whole and hands it to the inner directory's atomic
    /// write (a temporary file, fsynced, renamed over the old one).
    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let mut writer = SealedWriter::new(
            path,
            Arc::clone(&self.sealer),
            Vec::with_capacity(sealed_len(data.len(), self.sealer.block_log2)),
        )?;
        writer.write_all(data)?;
        let sealed = writer.finish()?;
        self.inner.atomic_write(path, &sealed)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// Bytes of a sealed file holding `plain_len` bytes.
fn sealed_len(plain_len: usize, block_log2: u8) -> usize {
    let blocks = plain_len.div_ceil(1 << block_log2).max(1);
    HEADER_LEN + plain_len + blocks * TAG_LEN
}

#[cfg(test)]
mod tests;
