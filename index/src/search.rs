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
        // Highlight whole words where the stems matched, else the bigrams
        // (a word found only inside a compound).
        let snippets = SnippetGenerator::create(&searcher, &*text_query, f.text_ko)?;
        let bigram_snippets = SnippetGenerator::create(&searcher, &*text_query, f.text_ko_bigram)?;
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
            let mut snippet = snippets.snippet(&text);
            if snippet.highlighted().is_empty() {
                let by_bigrams = bigram_snippets.snippet(&text);
                if !by_bigrams.highlighted().is_empty() {
                    snippet = by_bigrams;
                }
            }
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
