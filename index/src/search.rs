//! BM25 search over the library, with filters, highlighted snippets and the
//! provenance of every hit.

use std::ops::{Bound, Range};
use std::time::Instant;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{IndexRecordOption, Term, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, TantivyDocument};
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
    /// How many hits.
    pub limit: usize,
}

/// Where a hit comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// BM25 score.
    pub score: f32,
    /// Collection.
    pub collection: String,
    /// `collection:content-hash` of the document.
    pub doc_key: String,
    /// SHA-256 of the document's bytes.
    pub content_hash: String,
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
}

/// The searched fields, their analyzers and boosts (titles and headings weigh more).
fn searched_fields(f: &crate::schema::Fields) -> [(tantivy::schema::Field, &'static str, f32); 6] {
    use crate::analysis::{EN, KO};
    [
        (f.text_ko, KO, 1.0),
        (f.text_en, EN, 1.0),
        (f.title_ko, KO, 2.0),
        (f.title_en, EN, 2.0),
        (f.headings_ko, KO, 1.5),
        (f.headings_en, EN, 1.5),
    ]
}

/// Every analysed token of `text` as a scored term in each searched field,
/// combined with OR: BM25 over bigrams and stems.
fn bag_of_terms(
    index: &tantivy::Index,
    f: &crate::schema::Fields,
    text: &str,
) -> Result<Box<dyn Query>> {
    use tantivy::query::BoostQuery;
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, analyzer, boost) in searched_fields(f) {
        let Some(mut analyzer) = index.tokenizers().get(analyzer) else {
            continue;
        };
        let mut stream = analyzer.token_stream(text);
        let mut seen = std::collections::HashSet::new();
        while let Some(token) = stream.next() {
            if !seen.insert(token.text.clone()) {
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
    /// Searches the library.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFilter`] for a bad glob; index errors.
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults> {
        let started = Instant::now();
        let (index, reader, f) = self.parts();
        let searcher = reader.searcher();
        let query_text: String = request.query.nfc().collect();
        let fields = searched_fields(f);
        let mut parser =
            QueryParser::for_index(index, fields.iter().map(|(field, _, _)| *field).collect());
        for (field, _, boost) in fields {
            parser.set_field_boost(field, boost);
        }
        // Quoted phrases go through the query parser (lenient: user input is never
        // a syntax error). Plain words become a bag of terms: in Korean each word's
        // bigrams must not have to match as a phrase, or a particle (데비안은 vs
        // 데비안을) would make the whole word miss.
        let text_query: Box<dyn Query> = if query_text.contains('"') {
            parser.parse_query_lenient(&query_text).0
        } else {
            bag_of_terms(index, f, &query_text)?
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text_query.box_clone())];
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
        let limit = request.limit.max(1);
        // A path filter is applied after scoring: fetch more to fill the page.
        let fetch = if glob.is_some() {
            limit.saturating_mul(20).max(200)
        } else {
            limit
        };
        let top: Vec<(f32, DocAddress)> =
            searcher.search(&query, &TopDocs::with_limit(fetch).order_by_score())?;
        let snippets = SnippetGenerator::create(&searcher, &*text_query, f.text_ko)?;
        let mut hits = Vec::with_capacity(limit);
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text_of = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let u64_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
            let path = text_of(f.path);
            if let Some(glob) = &glob
                && !glob.is_match(&path)
            {
                continue;
            }
            let text = text_of(f.text);
            let snippet = snippets.snippet(&text);
            hits.push(Hit {
                score,
                collection: text_of(f.collection),
                doc_key: text_of(f.doc_key),
                content_hash: text_of(f.content_hash),
                path,
                title: text_of(f.title),
                headings: text_of(f.headings),
                page: u32::try_from(u64_of(f.page)).unwrap_or(0),
                span: usize::try_from(u64_of(f.span_start)).unwrap_or(0)
                    ..usize::try_from(u64_of(f.span_end)).unwrap_or(0),
                chunk_index: u64_of(f.chunk_index),
                doc_type: text_of(f.doc_type),
                language: text_of(f.language),
                snippet: snippet.fragment().to_owned(),
                highlights: snippet.highlighted().to_vec(),
                text,
            });
            if hits.len() >= limit {
                break;
            }
        }
        Ok(SearchResults {
            hits,
            chunks_searched: searcher.num_docs(),
            elapsed: started.elapsed(),
        })
    }
}
