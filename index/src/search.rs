//! BM25 search over the library, with filters, highlighted snippets and the
//! provenance of every hit.

use std::collections::HashMap;
use std::ops::{Bound, Range};
use std::time::Instant;

use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::{IndexRecordOption, Term, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Searcher, TantivyDocument};
use unicode_normalization::UnicodeNormalization;

use crate::library::Library;
use crate::{Error, Result};

/// A search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The query: words, `"phrases"`, Korean or English.
    pub query: String,
    /// Only these collections (all when empty).
    pub collections: Vec<String>,
    /// Only this document type (`pdf`, `docx` …).
    pub doc_type: Option<String>,
    /// Only paths matching this glob.
    pub path_glob: Option<String>,
    /// Only files modified at or after this time (seconds since the epoch).
    pub modified_after: Option<i64>,
    /// Only chunks of this patient's records (FHIR `Patient.id`, C-CDA
    /// `recordTarget` id: [`crate::PageMeta::patient_id`]), matched exactly.
    pub patient: Option<String>,
    /// Only chunks of records effective at or after this time (seconds since
    /// the epoch, UTC); chunks without an effective time are left out.
    pub effective_after: Option<i64>,
    /// Only chunks of records effective before this time (exclusive).
    pub effective_before: Option<i64>,
    /// How many hits.
    pub limit: usize,
    /// The query embedded by the caller: when present, BM25 is fused with
    /// the nearest chunk vectors of that model.
    pub dense: Option<DenseQuery>,
}

/// A query vector and the embedding model that made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DenseQuery {
    /// The embedding model's id (as vectors were stored under).
    pub model: String,
    /// The query's unit-length vector.
    pub vector: Vec<f32>,
}

/// Where a hit comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// BM25 score; the fused score in a hybrid search.
    pub score: f32,
    /// Collection.
    pub collection: String,
    /// `collection:content-hash` of the document.
    pub doc_key: String,
    /// SHA-256 of the document's bytes.
    pub content_hash: String,
    /// Hash of the chunk text (the key of its vectors).
    pub chunk_hash: String,
    /// File path.
    pub path: String,
    /// Document title.
    pub title: String,
    /// Enclosing headings, joined with " > ".
    pub headings: String,
    /// Page (1-based).
    pub page: u32,
    /// Character span of the chunk in the page text.
    pub span: Range<usize>,
    /// Chunk number in the document.
    pub chunk_index: u64,
    /// Document type.
    pub doc_type: String,
    /// Language guess.
    pub language: String,
    /// The chunk text.
    pub text: String,
    /// A fragment of the text around the matches.
    pub snippet: String,
    /// Byte ranges of matched terms within `snippet`.
    pub highlights: Vec<Range<usize>>,
    /// 1-based rank in the BM25 ranking of a hybrid search.
    pub lexical_rank: Option<u32>,
    /// 1-based rank among the nearest vectors of a hybrid search.
    pub dense_rank: Option<u32>,
    /// Cosine similarity of the chunk's vector with the query's, in a hybrid
    /// search where the chunk has a vector; `None` otherwise.
    pub similarity: Option<f32>,
    /// How many standard deviations `similarity` stands above the query's
    /// cosines with every chunk ([`crate::SimilaritySpread::standing`]).
    pub standing: Option<f32>,
    /// Mean word confidence (0–100) of the page when its text was read by
    /// OCR; `None` for a text layer.
    pub ocr_confidence: Option<u8>,
    /// The patient the chunk's record is about, for clinical records.
    pub patient_id: Option<String>,
    /// When the chunk's record took effect (seconds since the epoch, UTC).
    pub effective: Option<i64>,
}

impl Hit {
    /// Whether the text was read by OCR with low confidence
    /// ([`crate::LOW_OCR_CONFIDENCE`]): it may be wrong; check the page.
    pub fn is_low_confidence(&self) -> bool {
        self.ocr_confidence
            .is_some_and(|c| c < crate::LOW_OCR_CONFIDENCE)
    }
}

/// Hits and what it took.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<Hit>,
    /// Chunks in the searched index.
    pub chunks_searched: u64,
    /// Time taken.
    pub elapsed: std::time::Duration,
    /// How the query's cosines with every chunk that has a vector are
    /// spread (hybrid search only).
    pub similarity_spread: Option<crate::SimilaritySpread>,
}

/// Weight of a Korean stem-bigram field relative to its stem field: whole
/// stems rank, bigrams add what is only found inside a compound (당뇨 in
/// 당뇨병). On debfaq_ko, weights from 0.25 to 2 scored alike (nDCG@10
/// 0.449–0.456); the lowest keeps bigram collisions between unrelated words
/// (김가상 / 박가상 share 가상) from outranking whole-word matches.
const KO_BIGRAM_WEIGHT: f32 = 0.25;

/// The searched fields, their analyzers and boosts (titles and headings weigh more).
fn searched_fields(f: &crate::schema::Fields) -> [(tantivy::schema::Field, &'static str, f32); 9] {
    use crate::analysis::{EN, KO, KO_BIGRAM};
    [
        (f.text_ko, KO, 1.0),
        (f.text_ko_bigram, KO_BIGRAM, KO_BIGRAM_WEIGHT),
        (f.text_en, EN, 1.0),
        (f.title_ko, KO, 2.0),
        (f.title_ko_bigram, KO_BIGRAM, 2.0 * KO_BIGRAM_WEIGHT),
        (f.title_en, EN, 2.0),
        (f.headings_ko, KO, 1.5),
        (f.headings_ko_bigram, KO_BIGRAM, 1.5 * KO_BIGRAM_WEIGHT),
        (f.headings_en, EN, 1.5),
    ]
}

/// Every analysed token of `text` as a scored term in each searched field,
/// combined with OR: BM25 over Korean stems, their bigrams and English stems.
fn bag_of_terms(
    index: &tantivy::Index,
    f: &crate::schema::Fields,
    text: &str,
) -> Result<Box<dyn Query>> {
    use tantivy::query::BoostQuery;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, name, boost) in searched_fields(f) {
        let Some(mut analyzer) = index.tokenizers().get(name) else {
            continue;
        };
        let mut stream = analyzer.token_stream(text);
        let mut seen = std::collections::HashSet::new();
        while let Some(token) = stream.next() {
            if !seen.insert(token.text.clone()) {
                continue;
            }
            // Other words are in the bigram fields only to keep phrase
            // positions; as terms they would count every English word twice.
            if name == crate::analysis::KO_BIGRAM
                && !token.text.chars().any(crate::analysis::is_cjk)
            {
                continue;
            }
            let term: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(field, &token.text),
                IndexRecordOption::WithFreqs,
            ));
            let query: Box<dyn Query> = if boost == 1.0 {
                term
            } else {
                Box::new(BoostQuery::new(term, boost))
            };
            clauses.push((Occur::Should, query));
        }
    }
    Ok(Box::new(BooleanQuery::new(clauses)))
}

impl Library {
    /// Searches the library: BM25 alone, or fused with the nearest vectors
    /// when the request carries a [`DenseQuery`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFilter`] for a bad glob; index and vector store errors.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let started = Instant::now();
        let searcher = self.parts().1.searcher();
        let limit = request.limit.max(1);
        let (hits, similarity_spread) = match &request.dense {
            None => (self.lexical_hits(&searcher, request, limit)?, None),
            Some(dense) => self.hybrid_hits(&searcher, request, dense, limit)?,
        };
        Ok(SearchResults {
            hits,
            chunks_searched: searcher.num_docs(),
            elapsed: started.elapsed(),
            similarity_spread,
        })
    }

    /// The user's words as a query over the analysed fields.
    fn text_query(&self, query: &str) -> Result<Box<dyn Query>> {
        let (index, _, f) = self.parts();
        let query_text: String = query.nfc().collect();
        // Quoted phrases go through the query parser (lenient: user input is never
        // a syntax error). Plain words become a bag of terms: in Korean each word's
        // bigrams must not have to match as a phrase, or a particle (데비안은 vs
        // 데비안을) would make the whole word miss.
        if query_text.contains('"') {
            let fields = searched_fields(f);
            let mut parser =
                QueryParser::for_index(index, fields.iter().map(|(field, _, _)| *field).collect());
            for (field, _, boost) in fields {
                parser.set_field_boost(field, boost);
            }
            Ok(parser.parse_query_lenient(&query_text).0)
        } else {
            bag_of_terms(index, f, &query_text)
        }
    }

    /// BM25 hits, best first.
    fn lexical_hits(
        &self,
        searcher: &Searcher,
        request: &SearchRequest,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let text_query = self.text_query(&request.query)?;
        let top = self.filtered_top(searcher, request, text_query.box_clone(), limit)?;
        self.hits_at(searcher, &*text_query, top)
    }

    /// The documents matching `matching` under the request's filters, in
    /// tantivy's score order, at most `limit`. Nothing is read from the
    /// document store unless a path glob must be checked.
    fn filtered_top(
        &self,
        searcher: &Searcher,
        request: &SearchRequest,
        matching: Box<dyn Query>,
        limit: usize,
    ) -> Result<Vec<(f32, DocAddress)>> {
        let (_, _, f) = self.parts();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, matching)];
        clauses.extend(filter_clauses(f, request));
        let glob = match &request.path_glob {
            Some(pattern) => Some(
                globset::Glob::new(pattern)
                    .map_err(|_| Error::InvalidFilter {
                        what: "path glob",
                        value: pattern.clone(),
                        expected: "a glob such as '**/patients/*.pdf'",
                    })?
                    .compile_matcher(),
            ),
            None => None,
        };
        let query = BooleanQuery::new(clauses);
        // A path filter is applied after scoring: fetch more to fill the page.
        let fetch = if glob.is_some() {
            limit.saturating_mul(20).max(200)
        } else {
            limit
        };
        let top: Vec<(f32, DocAddress)> =
            searcher.search(&query, &TopDocs::with_limit(fetch).order_by_score())?;
        let Some(glob) = glob else {
            return Ok(top);
        };
        let mut kept = Vec::with_capacity(limit.min(top.len()));
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let path = doc
                .get_first(f.path)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            if glob.is_match(path) {
                kept.push((score, address));
                if kept.len() >= limit {
                    break;
                }
            }
        }
        Ok(kept)
    }

    /// The hits at `top`, in its order and with its scores: each document
    /// read with its provenance and a snippet; `text_query` picks the
    /// snippet's highlights.
    fn hits_at(
        &self,
        searcher: &Searcher,
        text_query: &dyn Query,
        top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<Hit>> {
        let (_, _, f) = self.parts();
        // Highlight whole words where the stems matched, else the bigrams
        // (a word found only inside a compound).
        let snippets = SnippetGenerator::create(searcher, text_query, f.text_ko)?;
        let bigram_snippets = SnippetGenerator::create(searcher, text_query, f.text_ko_bigram)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let u64_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            let text = text_of(f.text);
            let mut snippet = snippets.snippet(&text);
            if snippet.highlighted().is_empty() {
                let by_bigrams = bigram_snippets.snippet(&text);
                if !by_bigrams.highlighted().is_empty() {
                    snippet = by_bigrams;
                }
            }
            let fragment = if snippet.fragment().is_empty() {
                // Found by meaning alone: the start of the chunk stands in.
                text.chars().take(SNIPPET_CHARS).collect()
            } else {
                snippet.fragment().to_owned()
            };
            hits.push(Hit {
                score,
                collection: text_of(f.collection),
                doc_key: text_of(f.doc_key),
                content_hash: text_of(f.content_hash),
                chunk_hash: text_of(f.chunk_hash),
                path: text_of(f.path),
                title: text_of(f.title),
                headings: text_of(f.headings),
                page: u32::try_from(u64_of(f.page)).unwrap_or(0),
                span: usize::try_from(u64_of(f.span_start)).unwrap_or(0)
                    ..usize::try_from(u64_of(f.span_end)).unwrap_or(0),
                chunk_index: u64_of(f.chunk_index),
                doc_type: text_of(f.doc_type),
                language: text_of(f.language),
                snippet: fragment,
                highlights: snippet.highlighted().to_vec(),
                text,
                lexical_rank: None,
                dense_rank: None,
                similarity: None,
                standing: None,
                ocr_confidence: doc
                    .get_first(f.ocr_confidence)
                    .and_then(|v| v.as_u64())
                    .and_then(|c| u8::try_from(c).ok()),
                patient_id: doc
                    .get_first(f.patient_id)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                effective: doc.get_first(f.effective).and_then(|v| v.as_i64()),
            });
        }
        Ok(hits)
    }

    /// BM25 and nearest-vector rankings fused by weighted reciprocal rank,
    /// with the spread of the query's cosines over every vector.
    /// Both rankings are of document addresses only; the documents are read
    /// (stored fields, snippets) for the fused top `limit` alone, which is
    /// what keeps a hybrid search within a few milliseconds of BM25.
    fn hybrid_hits(
        &self,
        searcher: &Searcher,
        request: &SearchRequest,
        dense: &DenseQuery,
        limit: usize,
    ) -> Result<(Vec<Hit>, Option<crate::SimilaritySpread>)> {
        let weights = FusionWeights::for_query(&request.query);
        let depth = FUSION_DEPTH.max(limit);
        let text_query = self.text_query(&request.query)?;
        let lexical: Vec<DocAddress> = if weights.lexical > 0.0 {
            self.filtered_top(searcher, request, text_query.box_clone(), depth)?
                .into_iter()
                .map(|(_, address)| address)
                .collect()
        } else {
            Vec::new()
        };
        let weights = weights.across_languages(&request.query, |languages| {
            let (_, _, f) = self.parts();
            let chunks = searcher.num_docs().max(1) as f32;
            let same: u64 = languages
                .iter()
                .map(|l| {
                    searcher
                        .doc_freq(&Term::from_field_text(f.language, l))
                        .unwrap_or(0)
                })
                .sum();
            same as f32 / chunks
        });
        let matrix = self.vector_matrix(&dense.model)?;
        let (mut nearest, mut spread) = (Vec::new(), None);
        if weights.dense > 0.0
            && let Some(matrix) = &matrix
        {
            (nearest, spread) = matrix
                .nearest_and_spread(&dense.vector, DENSE_CANDIDATES.max(depth).min(matrix.len()));
        }
        let dense_ranking = if nearest.is_empty() {
            Vec::new()
        } else {
            self.nearest_documents(searcher, request, &nearest, depth)?
        };
        let mut fused = fuse(&lexical, &dense_ranking, weights);
        fused.truncate(limit);
        let top = fused.iter().map(|f| (f.score, f.address)).collect();
        let mut hits = self.hits_at(searcher, &*text_query, top)?;
        for (hit, place) in hits.iter_mut().zip(&fused) {
            hit.lexical_rank = place.lexical_rank;
            hit.dense_rank = place.dense_rank;
        }
        // Every hit's closeness in meaning, found by meaning or not: the
        // answer's evidence gate weighs it (a phrase query ranks lexically
        // but its hits are still near or far from the question).
        if let Some(matrix) = &matrix {
            let known: HashMap<&str, f32> = nearest.iter().map(|(h, c)| (h.as_str(), *c)).collect();
            let missing: std::collections::HashSet<&str> = hits
                .iter()
                .map(|h| h.chunk_hash.as_str())
                .filter(|h| !known.contains_key(h))
                .collect();
            let scanned = matrix.similarities(&dense.vector, &missing);
            for hit in &mut hits {
                hit.similarity = known
                    .get(hit.chunk_hash.as_str())
                    .or_else(|| scanned.get(&hit.chunk_hash))
                    .copied();
                hit.standing = hit
                    .similarity
                    .zip(spread)
                    .map(|(cosine, spread)| spread.standing(cosine));
            }
        }
        Ok((hits, spread))
    }

    /// The documents holding the `nearest` chunks (best first) under the
    /// request's filters, ranked by their chunk's place, at most `depth`.
    /// Chunk hashes are read from the fast field, not the document store.
    fn nearest_documents(
        &self,
        searcher: &Searcher,
        request: &SearchRequest,
        nearest: &[(String, f32)],
        depth: usize,
    ) -> Result<Vec<DocAddress>> {
        let (_, _, f) = self.parts();
        let rank: HashMap<&str, usize> = nearest
            .iter()
            .enumerate()
            .map(|(i, (hash, _))| (hash.as_str(), i))
            .collect();
        let terms = nearest
            .iter()
            .map(|(hash, _)| Term::from_field_text(f.chunk_hash, hash));
        let found = self.filtered_top(
            searcher,
            request,
            Box::new(TermSetQuery::new(terms)),
            // One chunk text can be in several documents.
            nearest.len().saturating_mul(4),
        )?;
        let mut columns = HashMap::new();
        let mut ranked = Vec::with_capacity(found.len());
        let mut hash = String::new();
        for (_, address) in found {
            let column = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    searcher
                        .segment_reader(address.segment_ord)
                        .fast_fields()
                        .str("chunk_hash")?,
                ),
            };
            let Some(column) = column.as_ref() else {
                continue;
            };
            let Some(ord) = column.term_ords(address.doc_id).next() else {
                continue;
            };
            hash.clear();
            column
                .ord_to_str(ord, &mut hash)
                .map_err(tantivy::TantivyError::from)?;
            if let Some(&place) = rank.get(hash.as_str()) {
                ranked.push((place, address));
            }
        }
        // Stable: the documents of one chunk keep tantivy's order.
        ranked.sort_by_key(|(place, _)| *place);
        ranked.truncate(depth);
        Ok(ranked.into_iter().map(|(_, address)| address).collect())
    }
}

/// Characters of a chunk shown when no query word occurs in it.
const SNIPPET_CHARS: usize = 200;
/// How deep each ranking goes into the fusion.
const FUSION_DEPTH: usize = 100;
/// Nearest vectors taken before filters apply.
pub(crate) const DENSE_CANDIDATES: usize = 500;
/// Queries longer than this are passages, not questions.
const PASSAGE_QUERY_WORDS: usize = 40;
/// The keyword ranking's weight in a cross-lingual search.
const CROSS_LINGUAL_LEXICAL: f32 = 0.1;
/// Reciprocal-rank fusion's constant: ranks beyond the first few weigh alike.
const RRF_K: f32 = 60.0;

/// How much each ranking counts, from the shape of the query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionWeights {
    /// Weight of the BM25 ranking.
    pub lexical: f32,
    /// Weight of the nearest-vector ranking.
    pub dense: f32,
}

impl FusionWeights {
    /// Exact phrases are a demand for those words: lexical only. Short keyword
    /// queries (one or two words: a drug, a code, a name) lean lexical, where
    /// vectors blur rare terms. Passages pasted as a query ("more like
    /// this") are lexical only: BM25 matches their many rare terms better
    /// than one vector sums them up. Questions weigh both alike.
    ///
    /// Measured (nDCG@10, multilingual-e5-small): Debian FAQ English
    /// questions BM25 0.497, vectors alone 0.688, equal fusion 0.610; Lee
    /// (78-word passages as queries) BM25 0.272, vectors 0.228, equal
    /// fusion 0.239, vectors at 0.5 0.252, at 0.25 0.257.
    pub fn for_query(query: &str) -> FusionWeights {
        if query.contains('"') {
            return FusionWeights {
                lexical: 1.0,
                dense: 0.0,
            };
        }
        let words = query.split_whitespace().count();
        let dense = match words {
            0..=2 => 0.5,
            3..=PASSAGE_QUERY_WORDS => 1.0,
            _ => 0.0,
        };
        FusionWeights {
            lexical: 1.0,
            dense,
        }
    }

    /// A query in one language over a library mostly in the other (English
    /// questions, Korean documents) is a cross-lingual search: its keyword
    /// hits are loanwords and commands, so meaning leads. Debian FAQ, English
    /// questions over Korean sections (nDCG@10): BM25 0.207, equal fusion
    /// 0.270, keywords at 0.25 0.349, at 0.1 0.373, vectors alone 0.393. (The keyword hits themselves cannot tell: the
    /// chunks an English query matches in a Korean library are its most
    /// English ones.) `share_of` gives the library's share of chunks in the
    /// given languages.
    fn across_languages(self, query: &str, share_of: impl FnOnce(&[&str]) -> f32) -> FusionWeights {
        if self.dense == 0.0 {
            return self;
        }
        // Korean prose with English terms in it is often "mixed".
        let same: &[&str] = match crate::chunk::guess_language(query) {
            crate::Language::En => &["en"],
            crate::Language::Ko => &["ko", "mixed"],
            _ => return self,
        };
        if share_of(same) < 0.5 {
            FusionWeights {
                lexical: CROSS_LINGUAL_LEXICAL,
                dense: 1.0,
            }
        } else {
            self
        }
    }
}

/// A document's place in the fused ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fused {
    address: DocAddress,
    /// Sum of the weighted reciprocal ranks.
    score: f32,
    /// 1-based rank in the BM25 ranking.
    lexical_rank: Option<u32>,
    /// 1-based rank among the nearest vectors.
    dense_rank: Option<u32>,
}

/// Weighted reciprocal-rank fusion of two rankings of documents, best first
/// (ties in the order first seen: lexical, then dense).
fn fuse(lexical: &[DocAddress], dense: &[DocAddress], weights: FusionWeights) -> Vec<Fused> {
    let mut fused: Vec<Fused> = Vec::with_capacity(lexical.len() + dense.len());
    let mut at: HashMap<DocAddress, usize> = HashMap::with_capacity(fused.capacity());
    for (ranking, weight, is_dense) in [
        (lexical, weights.lexical, false),
        (dense, weights.dense, true),
    ] {
        for (rank, &address) in ranking.iter().enumerate() {
            let contribution = weight / (RRF_K + rank as f32 + 1.0);
            let rank = Some(u32::try_from(rank + 1).unwrap_or(u32::MAX));
            let i = *at.entry(address).or_insert_with(|| {
                fused.push(Fused {
                    address,
                    score: 0.0,
                    lexical_rank: None,
                    dense_rank: None,
                });
                fused.len() - 1
            });
            let place = &mut fused[i];
            place.score += contribution;
            if is_dense {
                place.dense_rank = rank;
            } else {
                place.lexical_rank = rank;
            }
        }
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
    fused
}

/// The request's filters as query clauses (the path glob is applied to hits).
pub(crate) fn filter_clauses(
    f: &crate::schema::Fields,
    request: &SearchRequest,
) -> Vec<(Occur, Box<dyn Query>)> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !request.collections.is_empty() {
        let any: Vec<(Occur, Box<dyn Query>)> = request
            .collections
            .iter()
            .map(|c| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(f.collection, c),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, q)
            })
            .collect();
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
    }
    if let Some(kind) = &request.doc_type {
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.doc_type, &kind.to_lowercase()),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if let Some(after) = request.modified_after {
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_i64(f.modified, after)),
                Bound::Unbounded,
            )),
        ));
    }
    if let Some(patient) = &request.patient {
        clauses.push((
            Occur::Must,
            Box::new(TermQuery::new(
                Term::from_field_text(f.patient_id, patient.trim()),
                IndexRecordOption::Basic,
            )),
        ));
    }
    if request.effective_after.is_some() || request.effective_before.is_some() {
        let bound = |t: Option<i64>, inclusive: bool| match t {
            Some(t) if inclusive => Bound::Included(Term::from_field_i64(f.effective, t)),
            Some(t) => Bound::Excluded(Term::from_field_i64(f.effective, t)),
            None => Bound::Unbounded,
        };
        clauses.push((
            Occur::Must,
            Box::new(RangeQuery::new(
                bound(request.effective_after, true),
                bound(request.effective_before, false),
            )),
        ));
    }
    clauses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::IngestSettings;
    use crate::test_support::chunk_tokenizer;
    use crate::{Library, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A library of `files` (name, text), ingested as one collection.
    fn library_of(
        files: &[(&str, &str)],
    ) -> Result<(tempfile::TempDir, Library), Box<dyn std::error::Error>> {
        let data = tempfile::tempdir()?;
        let docs = data.path().join("docs");
        std::fs::create_dir(&docs)?;
        for (name, text) in files {
            std::fs::write(docs.join(name), text)?;
        }
        let library = Library::open(&data.path().join("library"))?;
        {
            let counter = TokenCounter::from_file(&chunk_tokenizer())?;
            let mut writer = library.writer(counter, IngestSettings::default())?;
            writer.ingest("c", &[docs], &mut |_| {})?;
        }
        library.reload()?;
        Ok((data, library))
    }

    fn search(library: &Library, query: &str) -> Result<Vec<Hit>> {
        Ok(library
            .search(&SearchRequest {
                query: query.into(),
                limit: 10,
                ..Default::default()
            })?
            .hits)
    }

    fn names(hits: &[Hit]) -> Vec<&str> {
        let mut names: Vec<&str> = hits
            .iter()
            .filter_map(|h| h.path.rsplit('/').next())
            .collect();
        names.sort_unstable();
        names
    }

    fn highlighted(hit: &Hit) -> Vec<&str> {
        hit.highlights
            .iter()
            .filter_map(|r| hit.snippet.get(r.clone()))
            .collect()
    }

    #[test]
    fn a_word_inside_a_compound_is_found_through_the_stem_bigrams() -> TestResult {
        let (_data, library) = library_of(&[
            ("dm.txt", "당뇨병 환자의 식사 요법을 정리했다."),
            ("htn.txt", "혈압약은 아침에 복용한다."),
        ])?;
        let hits = search(&library, "당뇨")?;
        assert_eq!(names(&hits), ["dm.txt"]);
        // Only the bigram field matched: its highlight is the bigram.
        assert_eq!(highlighted(hits.first().ok_or("no hit")?), ["당뇨"]);
        let hits = search(&library, "혈압약을 언제 먹나요")?;
        assert_eq!(names(&hits).first(), Some(&"htn.txt"));
        // The stem matched: the whole word without its particle is highlighted.
        assert_eq!(highlighted(hits.first().ok_or("no hit")?), ["혈압약"]);
        Ok(())
    }

    #[test]
    fn particles_and_endings_do_not_change_the_match() -> TestResult {
        let (_data, library) = library_of(&[
            ("a.txt", "데비안을 설치한 뒤 혈압 기록을 확인한다."),
            ("b.txt", "기록 보관 규정: 혈압과 맥박을 매일 적는다."),
            ("c.txt", "Debian에서는 패키지를 apt로 설치합니다."),
        ])?;
        assert_eq!(names(&search(&library, "데비안은")?), ["a.txt"]);
        assert_eq!(names(&search(&library, "설치하려면")?), ["a.txt", "c.txt"]);
        assert_eq!(names(&search(&library, "debian")?), ["c.txt"]);
        assert_eq!(names(&search(&library, "혈압 기록")?), ["a.txt", "b.txt"]);
        // A quoted phrase must occur as written (particles aside).
        assert_eq!(names(&search(&library, "\"혈압 기록\"")?), ["a.txt"]);
        assert_eq!(names(&search(&library, "\"혈압 기록은\"")?), ["a.txt"]);
        assert!(search(&library, "\"기록 혈압\"")?.is_empty());
        Ok(())
    }
}
