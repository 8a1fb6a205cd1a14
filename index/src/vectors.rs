//! Dense vectors of chunks, for hybrid retrieval: stored per embedding model
//! and chunk text, searched exactly.
//!
//! This crate never runs a model: the caller (the core, through the engine)
//! embeds the chunks [`Library::pending_embeddings`] hands out and stores the
//! vectors with [`Library::store_embeddings`]. A vector is keyed by the
//! embedding model's id and the chunk's text hash (the `chunk_hash` field), so
//! identical chunks in several documents or collections are embedded once and
//! re-indexing unchanged content costs nothing. Vectors of chunks that left
//! the index are purged whenever pending work is listed.
//!
//! Search is exact: every vector of the model, quantised to `i8` with a scale
//! per row (a quarter of the memory of `f32`; rankings are unchanged to the
//! precision that matters), scored against the query, itself quantised to
//! `i16`, in one pass of integer dot products. At 100k chunks of 384
//! dimensions that is 38 MB and a few milliseconds per query on one core
//! (`sillok bench index` measures it); an ANN index is the step after, if
//! libraries grow far beyond that.
//!
//! [`EmbeddingCache`] keeps vectors outside any library, in a file of its
//! own, keyed by model and by the exact text embedded: evaluations, whose
//! libraries are thrown away, keep their corpus vectors there so that a
//! killed or repeated run embeds nothing twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use tantivy::schema::Value;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::library::Library;
use crate::{DbKey, Error, Result};

/// The vector store's file in the library directory.
pub(crate) const FILE: &str = "vectors.sqlite";

/// The hash that keys a chunk's vector: the first 16 bytes of the SHA-256 of
/// its text, in hex.
pub(crate) fn chunk_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..16])
}

/// A chunk waiting for its vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkToEmbed {
    /// Key of the vector ([`Library::store_embeddings`]).
    pub chunk_hash: String,
    /// The document's title (may be empty).
    pub title: String,
    /// Enclosing headings, joined with " > " (may be empty).
    pub headings: String,
    /// The chunk text.
    pub text: String,
}

/// The chunks of the index without a vector for one model, read from a
/// snapshot of the index taken when it was listed.
pub struct PendingEmbeddings {
    searcher: Searcher,
    fields: crate::schema::Fields,
    todo: Vec<DocAddress>,
    next: usize,
    /// Distinct chunks in the index.
    pub total: usize,
}

impl std::fmt::Debug for PendingEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingEmbeddings")
            .field("pending", &self.todo.len())
            .field("total", &self.total)
            .finish()
    }
}

impl PendingEmbeddings {
    /// Chunks still to embed when listed.
    pub fn pending(&self) -> usize {
        self.todo.len()
    }

    /// Chunks handed out so far.
    pub fn handed_out(&self) -> usize {
        self.next
    }

    /// The next `n` chunks (fewer at the end, none when done).
    ///
    /// # Errors
    ///
    /// Index read errors.
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<ChunkToEmbed>> {
        let end = self.next.saturating_add(n).min(self.todo.len());
        let mut out = Vec::with_capacity(end - self.next);
        for &address in &self.todo[self.next..end] {
            let doc: TantivyDocument = self.searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push(ChunkToEmbed {
                chunk_hash: text_of(self.fields.chunk_hash),
                title: text_of(self.fields.title),
                headings: text_of(self.fields.headings),
                text: text_of(self.fields.text),
            });
        }
        self.next = end;
        Ok(out)
    }
}

/// How far one model's vectors cover the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingCoverage {
    /// Distinct chunks that have a vector.
    pub embedded: usize,
    /// Distinct chunks in the index.
    pub total: usize,
}

/// How one query's cosines with every chunk of the library are spread.
///
/// A cosine means little alone: some questions score 0.85 with every
/// passage, others 0.75. How far the best evidence stands above the
/// library's cosines for the same question ([`SimilaritySpread::standing`])
/// says whether it is about the question or merely about the same subject.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SimilaritySpread {
    /// Mean cosine.
    pub mean: f32,
    /// Standard deviation of the cosines.
    pub std_dev: f32,
    /// Chunks with a vector: the sample size.
    pub chunks: usize,
}

impl SimilaritySpread {
    /// Mean and deviation of `cosines`; `None` for fewer than two or no spread.
    fn of(cosines: impl Iterator<Item = f32>) -> Option<SimilaritySpread> {
        let (mut n, mut sum, mut squares) = (0usize, 0f64, 0f64);
        for c in cosines {
            n += 1;
            sum += f64::from(c);
            squares += f64::from(c) * f64::from(c);
        }
        if n < 2 {
            return None;
        }
        let mean = sum / n as f64;
        let variance = (squares / n as f64 - mean * mean).max(0.0);
        let std_dev = variance.sqrt();
        (std_dev > 1e-6).then_some(SimilaritySpread {
            mean: mean as f32,
            std_dev: std_dev as f32,
            chunks: n,
        })
    }

    /// How many standard deviations `cosine` stands above the mean.
    pub fn standing(&self, cosine: f32) -> f32 {
        (cosine - self.mean) / self.std_dev
    }
}

/// One model's vectors in memory, quantised.
#[derive(Debug)]
pub(crate) struct VectorMatrix {
    model: String,
    generation: i64,
    dims: usize,
    hashes: Vec<String>,
    scales: Vec<f32>,
    values: Vec<i8>,
}

impl VectorMatrix {
    /// The `k` chunk hashes nearest `query` (cosine; vectors are unit length),
    /// best first.
    pub(crate) fn nearest(&self, query: &[f32], k: usize) -> Vec<(String, f32)> {
        self.nearest_and_spread(query, k).0
    }

    /// [`VectorMatrix::nearest`], and how the query's cosines with every row
    /// are spread (from the same pass; `None` for fewer than two rows).
    pub(crate) fn nearest_and_spread(
        &self,
        query: &[f32],
        k: usize,
    ) -> (Vec<(String, f32)>, Option<SimilaritySpread>) {
        if query.len() != self.dims || self.dims == 0 {
            return (Vec::new(), None);
        }
        let Some((query, query_scale)) = quantise_query(query) else {
            return (Vec::new(), None);
        };
        let mut scored: Vec<(f32, usize)> = self
            .values
            .chunks_exact(self.dims)
            .zip(&self.scales)
            .enumerate()
            .map(|(row, (values, scale))| {
                // Exact in i32 (see `quantise_query`), as f32 only at the end.
                (dot(values, &query) as f32 * scale * query_scale, row)
            })
            .collect();
        let spread = SimilaritySpread::of(scored.iter().map(|(score, _)| *score));
        let k = k.min(scored.len());
        if k == 0 {
            return (Vec::new(), spread);
        }
        let by_score = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0);
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
        scored.sort_unstable_by(by_score);
        let nearest = scored
            .into_iter()
            .map(|(score, row)| (self.hashes[row].clone(), score))
            .collect();
        (nearest, spread)
    }

    /// The cosine of `query` with each chunk of `hashes` that has a vector
    /// (one pass over the rows; hashes without a vector are absent).
    pub(crate) fn similarities(
        &self,
        query: &[f32],
        hashes: &std::collections::HashSet<&str>,
    ) -> std::collections::HashMap<String, f32> {
        let mut out = std::collections::HashMap::new();
        if query.len() != self.dims || self.dims == 0 || hashes.is_empty() {
            return out;
        }
        let Some((query, query_scale)) = quantise_query(query) else {
            return out;
        };
        for (row, hash) in self.hashes.iter().enumerate() {
            if !hashes.contains(hash.as_str()) {
                continue;
            }
            let values = &self.values[row * self.dims..(row + 1) * self.dims];
            let cosine = dot(values, &query) as f32 * self.scales[row] * query_scale;
            out.insert(hash.clone(), cosine);
        }
        out
    }

    /// Width of the vectors.
    pub(crate) fn dims(&self) -> usize {
        self.dims
    }

    /// Bytes the matrix holds in memory: the quantised values, a scale and a
    /// chunk hash per row.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.values.capacity()
            + self.scales.capacity() * std::mem::size_of::<f32>()
            + self.hashes.capacity() * std::mem::size_of::<String>()
            + self.hashes.iter().map(String::capacity).sum::<usize>()
    }

    /// Vectors held.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// `query` in `i16` steps of its largest component, and the size of a step;
/// `None` when it holds no finite, non-zero component.
///
/// Integer products summed in `i32` are exact, so the compiler may reorder
/// the sum into vector lanes (`pmaddwd` on baseline x86-64), which it may not
/// do for an `f32` sum: the scan runs several times faster. The step is the
/// finest for which no row's sum can overflow: `dims × 127 × max ≤ i32::MAX`.
fn quantise_query(query: &[f32]) -> Option<(Vec<i16>, f32)> {
    if query.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let max = query.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return None;
    }
    let per_row = 127usize.saturating_mul(query.len()).max(1);
    let steps = (i32::MAX as usize / per_row).clamp(1, i16::MAX as usize);
    let step = max / steps as f32;
    // |x / step| ≤ steps ≤ i16::MAX: the cast cannot wrap.
    let quantised = query.iter().map(|x| (x / step).round() as i16).collect();
    Some((quantised, step))
}

/// The dot product of a row with a quantised query, exact.
fn dot(row: &[i8], query: &[i16]) -> i32 {
    row.iter()
        .zip(query)
        .map(|(&v, &q)| i32::from(v) * i32::from(q))
        .sum()
}

/// The SQLite file of vectors.
pub(crate) struct VectorStore {
    conn: Connection,
    /// The file, named in its damage errors.
    path: PathBuf,
}

impl VectorStore {
    pub(crate) fn open(library_dir: &Path, key: Option<&DbKey>) -> Result<VectorStore> {
        VectorStore::open_file(&library_dir.join(FILE), key)
    }

    /// The store in the SQLite file `path` (created with its tables if new),
    /// encrypted under `key` when given.
    fn open_file(path: &Path, key: Option<&DbKey>) -> Result<VectorStore> {
        crate::sqlite::naming(path, || {
            let conn = crate::sqlite::open(path, key)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS vectors (
                     model TEXT NOT NULL,
                     chunk_hash TEXT NOT NULL,
                     vector BLOB NOT NULL,
                     PRIMARY KEY (model, chunk_hash)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS models (
                     model TEXT PRIMARY KEY,
                     dims INTEGER NOT NULL,
                     generation INTEGER NOT NULL
                 );",
            )?;
            Ok(VectorStore {
                conn,
                path: path.to_owned(),
            })
        })
    }

    fn generation(&self, model: &str) -> Result<Option<(usize, i64)>> {
        crate::sqlite::naming(&self.path, || {
            Ok(self
                .conn
                .query_row(
                    "SELECT dims, generation FROM models WHERE model = ?1",
                    params![model],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()?
                .map(|(dims, generation)| (usize::try_from(dims).unwrap_or(0), generation)))
        })
    }

    pub(crate) fn hashes(&self, model: &str) -> Result<HashSet<String>> {
        crate::sqlite::naming(&self.path, || {
            let mut stmt = self
                .conn
                .prepare("SELECT chunk_hash FROM vectors WHERE model = ?1")?;
            let rows = stmt.query_map(params![model], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn store(&mut self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            let Some(dims) = vectors.first().map(|(_, v)| v.len()) else {
                return Ok(());
            };
            let tx = self.conn.transaction()?;
            let known: Option<i64> = tx
                .query_row(
                    "SELECT dims FROM models WHERE model = ?1",
                    params![model],
                    |r| r.get(0),
                )
                .optional()?;
            let dims_i64 = i64::try_from(dims).unwrap_or(i64::MAX);
            match known {
                Some(d) if d != dims_i64 => {
                    return Err(Error::EmbeddingWidth {
                        model: model.to_owned(),
                        expected: usize::try_from(d).unwrap_or(0),
                        got: dims,
                    });
                }
                Some(_) => {}
                None => {
                    tx.execute(
                        "INSERT INTO models (model, dims, generation) VALUES (?1, ?2, 0)",
                        params![model, dims_i64],
                    )?;
                }
            }
            {
                let mut insert = tx.prepare(
                    "INSERT OR REPLACE INTO vectors (model, chunk_hash, vector) VALUES (?1, ?2, ?3)",
                )?;
                for (hash, vector) in vectors {
                    if vector.len() != dims {
                        return Err(Error::EmbeddingWidth {
                            model: model.to_owned(),
                            expected: dims,
                            got: vector.len(),
                        });
                    }
                    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                    insert.execute(params![model, hash, bytes])?;
                }
            }
            commit_new_generation(tx, model)
        })
    }

    fn purge(&mut self, model: &str, gone: &[String]) -> Result<()> {
        crate::sqlite::naming(&self.path, || {
            if gone.is_empty() {
                return Ok(());
            }
            let tx = self.conn.transaction()?;
            {
                let mut delete =
                    tx.prepare("DELETE FROM vectors WHERE model = ?1 AND chunk_hash = ?2")?;
                for hash in gone {
                    delete.execute(params![model, hash])?;
                }
            }
            commit_new_generation(tx, model)
        })
    }

    pub(crate) fn load(&self, model: &str) -> Result<Option<VectorMatrix>> {
        crate::sqlite::naming(&self.path, || {
            let Some((dims, generation)) = self.generation(model)? else {
                return Ok(None);
            };
            // Sized once: grown row by row, the values would hold up to twice
            // their size in spare capacity.
            let rows: i64 = self.conn.query_row(
                "SELECT COUNT(*) FROM vectors WHERE model = ?1",
                params![model],
                |r| r.get(0),
            )?;
            let rows = usize::try_from(rows).unwrap_or(0);
            let mut matrix = VectorMatrix {
                model: model.to_owned(),
                generation,
                dims,
                hashes: Vec::with_capacity(rows),
                scales: Vec::with_capacity(rows),
                values: Vec::with_capacity(rows.saturating_mul(dims)),
            };
            let mut stmt = self
                .conn
                .prepare("SELECT chunk_hash, vector FROM vectors WHERE model = ?1")?;
            let mut rows = stmt.query(params![model])?;
            while let Some(row) = rows.next()? {
                let Ok(bytes) = row.get_ref(1)?.as_blob() else {
                    continue;
                };
                if bytes.len() != dims * 4 {
                    // A row of another width cannot be scored; it is re-embedded
                    // once it is purged or replaced.
                    continue;
                }
                let vector = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                let max = vector.clone().fold(0.0f32, |m, x| m.max(x.abs()));
                let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
                matrix.hashes.push(row.get(0)?);
                matrix.scales.push(scale);
                // Rounded into -127..=127 by construction: the cast cannot wrap.
                matrix
                    .values
                    .extend(vector.map(|x| (x / scale).round() as i8));
            }
            Ok(Some(matrix))
        })
    }
}

/// The in-memory matrix of the model last searched, reloaded when the store's
/// generation for that model moves on.
#[derive(Debug, Default)]
pub(crate) struct VectorCache {
    matrix: Mutex<Option<Arc<VectorMatrix>>>,
}

/// Vectors kept apart from any library, in an SQLite file of their own,
/// keyed by embedding model and by the hash of the exact text embedded (a
/// chunk's text with whatever context and prefix the caller put around it),
/// so a vector is reused only for the very input that made it. Nothing is
/// ever purged: it is a cache of work done, shared by every library that
/// copies vectors in and out of it (evaluation sets built and thrown away).
pub struct EmbeddingCache {
    store: VectorStore,
}

impl std::fmt::Debug for EmbeddingCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingCache")
            .field("path", &self.store.path)
            .finish()
    }
}

impl EmbeddingCache {
    /// Opens the cache file at `path`, creating it (not its folder) if new,
    /// encrypted under `key` when given.
    ///
    /// # Errors
    ///
    /// SQLite errors (an unwritable folder, a file that is not a cache);
    /// those of [`crate::sqlite::open`].
    pub fn open(path: &Path, key: Option<&DbKey>) -> Result<EmbeddingCache> {
        Ok(EmbeddingCache {
            store: VectorStore::open_file(path, key)?,
        })
    }

    /// The vector `model` made of each of `inputs`, in order; `None` for an
    /// input not cached.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn get(&self, model: &str, inputs: &[&str]) -> Result<Vec<Option<Vec<f32>>>> {
        crate::sqlite::naming(&self.store.path, || {
            let mut select = self.store.conn.prepare_cached(
                "SELECT vector FROM vectors WHERE model = ?1 AND chunk_hash = ?2",
            )?;
            let mut out = Vec::with_capacity(inputs.len());
            for input in inputs {
                let bytes: Option<Vec<u8>> = select
                    .query_row(params![model, chunk_hash(input)], |r| r.get(0))
                    .optional()?;
                out.push(bytes.and_then(|b| decode(&b)));
            }
            Ok(out)
        })
    }

    /// Keeps `model`'s vector of each input, in one transaction: once this
    /// returns they survive the process being killed.
    ///
    /// # Errors
    ///
    /// [`Error::EmbeddingWidth`] for a vector of another width than the
    /// model's earlier ones; SQLite errors.
    pub fn put(&mut self, model: &str, vectors: &[(&str, &[f32])]) -> Result<()> {
        let keyed: Vec<(String, Vec<f32>)> = vectors
            .iter()
            .map(|(input, vector)| (chunk_hash(input), vector.to_vec()))
            .collect();
        self.store.store(model, &keyed)
    }

    /// Vectors of `model` held.
    ///
    /// # Errors
    ///
    /// SQLite errors.
    pub fn count(&self, model: &str) -> Result<usize> {
        crate::sqlite::naming(&self.store.path, || {
            let n: i64 = self.store.conn.query_row(
                "SELECT COUNT(*) FROM vectors WHERE model = ?1",
                params![model],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }
}

/// A stored vector's little-endian `f32` bytes; `None` when they are not a
/// whole number of them.
fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

impl Library {
    fn vector_store(&self) -> Result<VectorStore> {
        VectorStore::open(self.dir(), self.db_key())
    }

    /// Every live chunk: its hash and one address of it in `searcher`.
    fn live_chunks(&self, searcher: &Searcher) -> Result<Vec<(String, DocAddress)>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            let Some(column) = segment.fast_fields().str("chunk_hash")? else {
                continue;
            };
            let mut hash = String::new();
            let segment_ord = u32::try_from(ordinal).unwrap_or(u32::MAX);
            for doc in segment.doc_ids_alive() {
                let Some(ord) = column.term_ords(doc).next() else {
                    continue;
                };
                hash.clear();
                column
                    .ord_to_str(ord, &mut hash)
                    .map_err(tantivy::TantivyError::from)?;
                if seen.insert(hash.clone()) {
                    out.push((hash.clone(), DocAddress::new(segment_ord, doc)));
                }
            }
        }
        Ok(out)
    }

    /// Erasure: drops every model's vectors of chunks no longer in the
    /// index (as of `searcher`) and the OCR text of content no longer in the
    /// journal. Returns how many vectors and OCR documents went.
    ///
    /// # Errors
    ///
    /// Index or database errors.
    pub(crate) fn purge_orphans(&self, searcher: &Searcher) -> Result<usize> {
        let live: HashSet<String> = self
            .live_chunks(searcher)?
            .into_iter()
            .map(|(hash, _)| hash)
            .collect();
        let mut store = self.vector_store()?;
        let models: Vec<String> = store
            .conn
            .prepare("SELECT model FROM models")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut dropped = 0;
        for model in models {
            let gone: Vec<String> = store
                .hashes(&model)?
                .into_iter()
                .filter(|h| !live.contains(h))
                .collect();
            dropped += gone.len();
            store.purge(&model, &gone)?;
        }
        let contents: HashSet<String> = self
            .journal()?
            .files(None)?
            .into_iter()
            .filter_map(|r| r.content_hash)
            .collect();
        dropped +=
            crate::ocr::store::OcrStore::open(self.dir(), self.db_key())?.retain(&contents)?;
        Ok(dropped)
    }

    /// The chunks without a vector for `model`, as of now; vectors of chunks
    /// no longer in the index are purged on the way.
    ///
    /// # Errors
    ///
    /// Index or vector store errors.
    pub fn pending_embeddings(&self, model: &str) -> Result<PendingEmbeddings> {
        let (_, reader, fields) = self.parts();
        reader.reload()?;
        let searcher = reader.searcher();
        let live = self.live_chunks(&searcher)?;
        let mut store = self.vector_store()?;
        let stored = store.hashes(model)?;
        let live_hashes: HashSet<&String> = live.iter().map(|(h, _)| h).collect();
        let gone: Vec<String> = stored
            .iter()
            .filter(|h| !live_hashes.contains(h))
            .cloned()
            .collect();
        store.purge(model, &gone)?;
        let total = live.len();
        let todo = live
            .into_iter()
            .filter(|(h, _)| !stored.contains(h))
            .map(|(_, address)| address)
            .collect();
        Ok(PendingEmbeddings {
            searcher,
            fields: *fields,
            todo,
            next: 0,
            total,
        })
    }

    /// How many of the index's chunks have a vector for `model`.
    ///
    /// # Errors
    ///
    /// Index or vector store errors.
    pub fn embedding_coverage(&self, model: &str) -> Result<EmbeddingCoverage> {
        let (_, reader, _) = self.parts();
        let searcher = reader.searcher();
        let live = self.live_chunks(&searcher)?;
        let stored = self.vector_store()?.hashes(model)?;
        Ok(EmbeddingCoverage {
            embedded: live.iter().filter(|(h, _)| stored.contains(h)).count(),
            total: live.len(),
        })
    }

    /// Stores vectors of `model` for chunks handed out by
    /// [`Library::pending_embeddings`]. All vectors of one model have one width.
    ///
    /// # Errors
    ///
    /// [`Error::EmbeddingWidth`] for a vector of another width; store errors.
    pub fn store_embeddings(&self, model: &str, vectors: &[(String, Vec<f32>)]) -> Result<()> {
        self.vector_store()?.store(model, vectors)
    }

    /// Whether any vector of `model` is stored.
    ///
    /// # Errors
    ///
    /// Vector store errors.
    pub fn has_embeddings(&self, model: &str) -> Result<bool> {
        let store = self.vector_store()?;
        Ok(store.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM vectors WHERE model = ?1)",
            params![model],
            |r| r.get::<_, bool>(0),
        )?)
    }

    /// The matrix of `model`'s vectors, from the cache while it is current.
    pub(crate) fn vector_matrix(&self, model: &str) -> Result<Option<Arc<VectorMatrix>>> {
        let store = self.vector_store()?;
        let Some((_, generation)) = store.generation(model)? else {
            return Ok(None);
        };
        let cache = self.vector_cache();
        let mut slot = cache
            .matrix
            .lock()
            .map_err(|_| Error::Poisoned("vector cache"))?;
        if let Some(matrix) = slot.as_ref()
            && matrix.model == model
            && matrix.generation == generation
        {
            return Ok(Some(Arc::clone(matrix)));
        }
        let loaded = store.load(model)?.map(Arc::new);
        slot.clone_from(&loaded);
        Ok(loaded)
    }
}

/// Commits `tx` as a new generation of `model`'s vectors, so matrices loaded
/// before it are known to be stale.
fn commit_new_generation(tx: rusqlite::Transaction<'_>, model: &str) -> Result<()> {
    tx.execute(
        "UPDATE models SET generation = generation + 1 WHERE model = ?1",
        params![model],
    )?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[(&str, Vec<f32>)]) -> Result<VectorMatrix> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(Path::new("tmp"), e))?;
        let mut store = VectorStore::open(dir.path(), None)?;
        let owned: Vec<(String, Vec<f32>)> = rows
            .iter()
            .map(|(h, v)| ((*h).to_owned(), v.clone()))
            .collect();
        store.store("m", &owned)?;
        store.load("m")?.ok_or(Error::Poisoned("no matrix"))
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn nearest_ranks_by_cosine_through_the_quantisation() -> Result<()> {
        let m = matrix(&[
            ("a", unit(&[1.0, 0.0, 0.0])),
            ("b", unit(&[0.7, 0.7, 0.0])),
            ("c", unit(&[0.0, 0.0, 1.0])),
        ])?;
        let hits = m.nearest(&unit(&[1.0, 0.2, 0.0]), 2);
        let names: Vec<&str> = hits.iter().map(|(h, _)| h.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!((hits[0].1 - 0.98).abs() < 0.02, "score {}", hits[0].1);
        // A query of another width finds nothing rather than garbage.
        assert!(m.nearest(&[1.0, 0.0], 2).is_empty());
        Ok(())
    }

    #[test]
    fn the_spread_of_a_querys_cosines_comes_from_every_row() -> Result<()> {
        let m = matrix(&[
            ("a", unit(&[1.0, 0.0, 0.0])),
            ("b", unit(&[0.0, 1.0, 0.0])),
            ("c", unit(&[0.0, 0.0, 1.0])),
            ("d", unit(&[0.0, 0.0, -1.0])),
        ])?;
        // Cosines 1, 0, 0, 0 whatever k is: mean 0.25, deviation √0.1875.
        let (hits, spread) = m.nearest_and_spread(&unit(&[1.0, 0.0, 0.0]), 1);
        assert_eq!(hits.len(), 1);
        let spread = spread.ok_or(Error::Poisoned("no spread"))?;
        assert_eq!(spread.chunks, 4);
        assert!((spread.mean - 0.25).abs() < 0.01, "{spread:?}");
        assert!((spread.std_dev - 0.433).abs() < 0.01, "{spread:?}");
        assert!((spread.standing(1.0) - 1.73).abs() < 0.03, "{spread:?}");
        // One row is no sample; a query of another width has none.
        let one = matrix(&[("a", unit(&[1.0, 0.0]))])?;
        assert_eq!(one.nearest_and_spread(&unit(&[1.0, 0.0]), 1).1, None);
        assert_eq!(m.nearest_and_spread(&[1.0, 0.0], 1).1, None);
        Ok(())
    }

    #[test]
    fn the_integer_scan_ranks_as_exact_cosine_does() -> Result<()> {
        // Pseudo-random unit vectors of e5-small's width.
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let dims = 384;
        let rows: Vec<(String, Vec<f32>)> = (0..300)
            .map(|i| {
                (
                    format!("{i}"),
                    unit(&(0..dims).map(|_| next()).collect::<Vec<_>>()),
                )
            })
            .collect();
        let query = unit(&(0..dims).map(|_| next()).collect::<Vec<_>>());
        let refs: Vec<(&str, Vec<f32>)> =
            rows.iter().map(|(h, v)| (h.as_str(), v.clone())).collect();
        let m = matrix(&refs)?;
        let mut exact: Vec<(f32, &str)> = rows
            .iter()
            .map(|(h, v)| (v.iter().zip(&query).map(|(a, b)| a * b).sum(), h.as_str()))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let found = m.nearest(&query, 10);
        assert_eq!(found.len(), 10);
        for ((hash, score), (want, name)) in found.iter().zip(&exact) {
            // Scores within the i8 quantisation's error of the exact cosine.
            assert!(
                (score - want).abs() < 0.01,
                "{hash}: {score} vs {name}: {want}"
            );
        }
        // The best is the best; the rest of the top 10 is the exact top 10.
        assert_eq!(found[0].0, exact[0].1);
        let top: HashSet<&str> = exact[..12].iter().map(|(_, h)| *h).collect();
        assert!(found.iter().all(|(h, _)| top.contains(h.as_str())));
        // A query of zeros or of non-numbers finds nothing rather than noise.
        assert!(m.nearest(&vec![0.0; dims], 3).is_empty());
        let mut nan = query.clone();
        nan[5] = f32::NAN;
        assert!(m.nearest(&nan, 3).is_empty());
        Ok(())
    }

    #[test]
    fn the_embedding_cache_keeps_vectors_by_model_and_exact_input() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(Path::new("tmp"), e))?;
        let path = dir.path().join("cache.sqlite");
        let mut cache = EmbeddingCache::open(&path, None)?;
        cache.put(
            "m",
            &[("passage: a", &[1.0, 0.0]), ("passage: b", &[0.0, 1.0])],
        )?;
        // Reopened (as by the next run), in the order asked.
        let cache = EmbeddingCache::open(&path, None)?;
        assert_eq!(
            cache.get("m", &["passage: b", "passage: c", "passage: a"])?,
            [Some(vec![0.0, 1.0]), None, Some(vec![1.0, 0.0])]
        );
        // Another model, or the same text embedded with other context, misses.
        assert_eq!(cache.get("n", &["passage: a"])?, [None]);
        assert_eq!(cache.get("m", &["a"])?, [None]);
        assert_eq!((cache.count("m")?, cache.count("n")?), (2, 0));
        Ok(())
    }

    /// A real library of `files` in collection `c`, and every chunk's
    /// vector from `embed` (a stand-in for a model: the test decides meaning).
    fn library_with_vectors(
        files: &[(&str, &str)],
        embed: impl Fn(&str) -> Vec<f32>,
    ) -> std::result::Result<(tempfile::TempDir, Library), Box<dyn std::error::Error>> {
        use crate::library::IngestSettings;
        use crate::test_support::chunk_tokenizer;
        let data = tempfile::tempdir()?;
        let docs = data.path().join("docs");
        std::fs::create_dir(&docs)?;
        for (name, text) in files {
            std::fs::write(docs.join(name), text)?;
        }
        let library = Library::open(&data.path().join("library"))?;
        {
            let counter = crate::TokenCounter::from_file(&chunk_tokenizer())?;
            let mut writer = library.writer(counter, IngestSettings::default())?;
            writer.ingest("c", &[docs], &mut |_| {})?;
        }
        library.reload()?;
        let mut pending = library.pending_embeddings("m")?;
        assert_eq!(
            pending.pending(),
            files.len(),
            "one chunk per file, none embedded yet"
        );
        let batch = pending.next_batch(100)?;
        let vectors: Vec<(String, Vec<f32>)> = batch
            .iter()
            .map(|c| (c.chunk_hash.clone(), embed(&c.text)))
            .collect();
        library.store_embeddings("m", &vectors)?;
        assert_eq!(library.pending_embeddings("m")?.pending(), 0);
        Ok((data, library))
    }

    /// Topic vectors: blood pressure, diabetes, anything else.
    fn topic(text: &str) -> Vec<f32> {
        if text.contains("혈압") || text.contains("hypertension") {
            unit(&[1.0, 0.1, 0.0])
        } else if text.contains("당뇨") || text.contains("diabetes") {
            unit(&[0.1, 1.0, 0.0])
        } else {
            unit(&[0.0, 0.1, 1.0])
        }
    }

    fn names(hits: &[crate::Hit]) -> Vec<&str> {
        hits.iter()
            .filter_map(|h| h.path.rsplit('/').next())
            .collect()
    }

    #[test]
    fn hybrid_search_finds_by_meaning_what_words_miss()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let (_data, library) = library_with_vectors(
            &[
                ("htn.txt", "고혈압 환자에게는 ACE 억제제를 먼저 투여한다."),
                ("dm.txt", "당뇨병 환자의 식사 요법을 정리했다."),
                ("misc.txt", "구내식당은 아침 일곱 시에 문을 연다."),
            ],
            topic,
        )?;
        let ask = |query: &str, dense: Option<Vec<f32>>| {
            library.search(&crate::SearchRequest {
                query: query.into(),
                limit: 2,
                dense: dense.map(|vector| crate::DenseQuery {
                    model: "m".into(),
                    vector,
                }),
                ..Default::default()
            })
        };
        // English words, Korean document: BM25 alone finds nothing.
        let question = "first-line drugs for treating hypertension in adults";
        assert!(ask(question, None)?.hits.is_empty());
        let hits = ask(question, Some(topic(question)))?.hits;
        assert_eq!(names(&hits).first(), Some(&"htn.txt"));
        assert_eq!(hits[0].dense_rank, Some(1));
        assert_eq!(hits[0].lexical_rank, None);
        // Where both agree the fused rank is first and both ranks are kept.
        let hits = ask("당뇨병 식사", Some(topic("당뇨")))?.hits;
        assert_eq!(names(&hits).first(), Some(&"dm.txt"));
        assert_eq!(
            (hits[0].lexical_rank, hits[0].dense_rank),
            (Some(1), Some(1))
        );
        // An exact phrase is lexical only: meaning does not add documents.
        let hits = ask("\"식사 요법\"", Some(topic("혈압")))?.hits;
        assert_eq!(names(&hits), ["dm.txt"]);
        // Filters hold for hits found by meaning.
        let none = library.search(&crate::SearchRequest {
            query: question.into(),
            limit: 5,
            collections: vec!["other".into()],
            dense: Some(crate::DenseQuery {
                model: "m".into(),
                vector: topic(question),
            }),
            ..Default::default()
        })?;
        assert!(none.hits.is_empty(), "{:?}", names(&none.hits));
        let only_dm = library.search(&crate::SearchRequest {
            query: question.into(),
            limit: 5,
            path_glob: Some("**/dm.txt".into()),
            dense: Some(crate::DenseQuery {
                model: "m".into(),
                vector: topic(question),
            }),
            ..Default::default()
        })?;
        assert_eq!(names(&only_dm.hits), ["dm.txt"]);
        assert_eq!(
            only_dm.hits[0].dense_rank,
            Some(1),
            "ranked among what passes"
        );
        // A model with no vectors falls back to BM25 without error.
        let other_model = library.search(&crate::SearchRequest {
            query: "당뇨병".into(),
            limit: 5,
            dense: Some(crate::DenseQuery {
                model: "unknown".into(),
                vector: topic("당뇨"),
            }),
            ..Default::default()
        })?;
        assert_eq!(names(&other_model.hits), ["dm.txt"]);
        Ok(())
    }

    #[test]
    fn vectors_of_chunks_that_left_the_index_are_purged()
    -> std::result::Result<(), Box<dyn std::error::Error>> {
        let (data, library) = library_with_vectors(
            &[
                ("a.txt", "혈압 기록을 매일 확인한다."),
                ("b.txt", "당뇨 교육 자료."),
            ],
            topic,
        )?;
        assert_eq!(
            library.embedding_coverage("m")?,
            EmbeddingCoverage {
                embedded: 2,
                total: 2
            }
        );
        std::fs::remove_file(data.path().join("docs/b.txt"))?;
        {
            let counter = crate::TokenCounter::from_file(&crate::test_support::chunk_tokenizer())?;
            let mut writer = library.writer(counter, crate::library::IngestSettings::default())?;
            writer.ingest("c", &[data.path().join("docs")], &mut |_| {})?;
        }
        library.reload()?;
        assert_eq!(library.pending_embeddings("m")?.pending(), 0);
        assert_eq!(
            VectorStore::open(library.dir(), library.db_key())?
                .hashes("m")?
                .len(),
            1,
            "b's vector is gone"
        );
        Ok(())
    }

    #[test]
    fn a_model_keeps_one_width_and_purges_by_hash() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io(Path::new("tmp"), e))?;
        let mut store = VectorStore::open(dir.path(), None)?;
        store.store("m", &[("a".into(), vec![1.0, 0.0])])?;
        let wider = store.store("m", &[("b".into(), vec![1.0, 0.0, 0.0])]);
        assert!(matches!(
            wider,
            Err(Error::EmbeddingWidth {
                expected: 2,
                got: 3,
                ..
            })
        ));
        let before = store.generation("m")?;
        store.purge("m", &["a".to_owned()])?;
        assert!(store.hashes("m")?.is_empty());
        assert_ne!(
            store.generation("m")?,
            before,
            "a purge invalidates cached matrices"
        );
        // Other models are separate.
        store.store("n", &[("a".into(), vec![0.0, 1.0, 0.0])])?;
        assert_eq!(store.hashes("n")?.len(), 1);
        Ok(())
    }
}
