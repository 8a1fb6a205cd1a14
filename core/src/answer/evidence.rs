//! Evidence: search results turned into numbered sources (overlaps removed,
//! neighbouring chunks of a page merged, best first), the gate that decides
//! whether the evidence answers the question at all, and verbatim quotes.

use std::collections::HashSet;
use std::ops::Range;

use serde::Serialize;
use sillok_index::Hit;

/// One numbered source given to the model and shown to the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// `[n]` in the answer (1-based).
    pub number: usize,
    /// `collection:content-hash` of the document.
    pub doc_key: String,
    /// Collection.
    pub collection: String,
    /// File path.
    pub path: String,
    /// Title.
    pub title: String,
    /// Enclosing headings.
    pub headings: String,
    /// Page (1-based).
    pub page: u32,
    /// Character span in the page text.
    pub span: Range<usize>,
    /// First chunk number (merged neighbours follow it).
    pub chunk_index: u64,
    /// Best BM25 score among its chunks.
    pub score: f32,
    /// Share of the question's terms it contains.
    pub coverage: f32,
    /// Best cosine similarity of its chunks with the question (hybrid
    /// search); `None` without vectors.
    pub similarity: Option<f32>,
    /// Best standing of its chunks' similarity above the library's
    /// ([`sillok_index::SimilaritySpread::standing`]); `None` without vectors.
    pub standing: Option<f32>,
    /// The text.
    pub text: String,
    /// Mean word confidence (0–100) of the page when OCR read its text;
    /// `None` for a text layer.
    pub ocr_confidence: Option<u8>,
    /// Whether OCR read the page with low confidence
    /// ([`sillok_index::LOW_OCR_CONFIDENCE`]): its text may be wrong.
    pub low_confidence: bool,
}

/// A verbatim sentence from a source that bears on the question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    /// The source it is from.
    pub source: usize,
    /// The sentence, exactly as in the source.
    pub text: String,
}

/// Merges hits into sources: a chunk adjacent to one already taken from the
/// same document page is appended to it; overlapping spans are dropped.
/// Coverage is left at 0 for the caller to measure.
pub fn merge_hits(hits: &[Hit], max: usize) -> Vec<Source> {
    let mut sources: Vec<Source> = Vec::new();
    let mut seen: HashSet<(String, u64)> = HashSet::new();
    for hit in hits {
        if !seen.insert((hit.doc_key.clone(), hit.chunk_index)) {
            continue;
        }
        let neighbour = sources.iter_mut().find(|s| {
            s.doc_key == hit.doc_key
                && s.page == hit.page
                && (hit.span.start <= s.span.end && s.span.start <= hit.span.end
                    || hit.chunk_index + 1 == s.chunk_index
                    || s.chunk_index + 1 == hit.chunk_index)
        });
        if let Some(source) = neighbour {
            absorb(source, hit);
            continue;
        }
        if sources.len() >= max {
            continue;
        }
        sources.push(Source {
            number: sources.len() + 1,
            doc_key: hit.doc_key.clone(),
            collection: hit.collection.clone(),
            path: hit.path.clone(),
            title: hit.title.clone(),
            headings: hit.headings.clone(),
            page: hit.page,
            span: hit.span.clone(),
            chunk_index: hit.chunk_index,
            score: hit.score,
            coverage: 0.0,
            similarity: hit.similarity,
            standing: hit.standing,
            text: hit.text.clone(),
            ocr_confidence: hit.ocr_confidence,
            low_confidence: hit.is_low_confidence(),
        });
    }
    sources
}

/// Adds a neighbouring or overlapping chunk to a source, in page order, without
/// repeating the overlap (chunks overlap by design).
fn absorb(source: &mut Source, hit: &Hit) {
    source.score = source.score.max(hit.score);
    source.similarity = larger(source.similarity, hit.similarity);
    source.standing = larger(source.standing, hit.standing);
    // Neighbours share the page, so its confidence; the lower one wins anyway.
    source.ocr_confidence = match (source.ocr_confidence, hit.ocr_confidence) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    source.low_confidence |= hit.is_low_confidence();
    if hit.span.start >= source.span.start && hit.span.end <= source.span.end {
        return;
    }
    let (first, second, first_span) = if hit.span.start < source.span.start {
        (hit.text.clone(), source.text.clone(), hit.span.clone())
    } else {
        (source.text.clone(), hit.text.clone(), source.span.clone())
    };
    let overlap_chars = first_span
        .end
        .saturating_sub(if hit.span.start < source.span.start {
            source.span.start
        } else {
            hit.span.start
        });
    let tail: String = second.chars().skip(overlap_chars).collect();
    source.text = if overlap_chars > 0 {
        format!("{first}{tail}")
    } else {
        format!("{first}\n{tail}")
    };
    source.span = source.span.start.min(hit.span.start)..source.span.end.max(hit.span.end);
    source.chunk_index = source.chunk_index.min(hit.chunk_index);
}

/// The larger of two optional scores; either alone when the other is absent.
fn larger(a: Option<f32>, b: Option<f32>) -> Option<f32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Verbatim evidence sentences (quote-first): from each of the sources in
/// turn (they come best first), the sentence that holds most of the
/// question's words, at most `max`; `coverage` scores sentences. A source
/// with no such sentence is passed over. One per source, in rank order: on
/// the Debian FAQ dev split the best sentences overall came from a few
/// wordy sources and missed the gold passage more often (gold quoted or
/// cited, evidence only: ko 36% → 51%, en 55% → 61%).
///
/// # Errors
///
/// Whatever `coverage` fails with.
pub fn quotes<E>(
    sources: &[Source],
    max: usize,
    coverage: impl Fn(&[&str]) -> Result<Vec<f32>, E>,
) -> Result<Vec<Quote>, E> {
    let mut candidates: Vec<(usize, &str)> = Vec::new();
    for source in sources {
        // The verifier's sentence splitter: quotes are cut where answers are.
        let text = source.text.as_str();
        let sentences = super::verify::split_sentences(text)
            .into_iter()
            .map(|r| &text[r]);
        for sentence in sentences {
            if sentence.chars().count() >= 8 {
                candidates.push((source.number, sentence));
            }
        }
    }
    let texts: Vec<&str> = candidates.iter().map(|c| c.1).collect();
    let scored: Vec<(usize, &str, f32)> = candidates
        .into_iter()
        .zip(coverage(&texts)?)
        .map(|((number, sentence), score)| (number, sentence, score))
        .collect();
    // Candidates come source by source, in rank order.
    Ok(scored
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|sentences| {
            // The first of equally good sentences wins.
            sentences
                .iter()
                .filter(|c| c.2 > 0.0)
                .reduce(|best, c| if c.2 > best.2 { c } else { best })
        })
        .take(max)
        .map(|&(source, text, _)| Quote {
            source,
            text: text.to_owned(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(doc: &str, page: u32, chunk: u64, span: Range<usize>, text: &str, score: f32) -> Hit {
        Hit {
            score,
            collection: "c".into(),
            doc_key: doc.into(),
            content_hash: doc.into(),
            chunk_hash: format!("{doc}-{chunk}"),
            path: format!("/d/{doc}.txt"),
            title: doc.into(),
            headings: String::new(),
            page,
            span,
            chunk_index: chunk,
            doc_type: "text".into(),
            language: "en".into(),
            text: text.into(),
            snippet: String::new(),
            highlights: Vec::new(),
            lexical_rank: None,
            dense_rank: None,
            similarity: None,
            standing: None,
            ocr_confidence: None,
            patient_id: None,
            effective: None,
        }
    }

    #[test]
    fn neighbours_merge_without_repeating_the_overlap_and_duplicates_drop() {
        let hits = [
            hit("a", 1, 1, 10..30, "0123456789abcdefghij", 5.0),
            hit("a", 1, 0, 0..15, "000000000001234", 4.0),
            hit("a", 1, 1, 10..30, "0123456789abcdefghij", 3.0),
            hit("b", 2, 0, 0..20, "amlodipine dose 5 mg", 2.0),
        ];
        let sources = merge_hits(&hits, 5);
        assert_eq!(sources.len(), 2);
        assert_eq!(sources[0].span, 0..30);
        assert_eq!(sources[0].text, "00000000000123456789abcdefghij");
        assert_eq!(sources[0].chunk_index, 0);
        assert_eq!(sources[1].number, 2);
    }

    #[test]
    fn sources_carry_the_ocr_confidence_of_their_page() {
        let scanned = |chunk, span, confidence| Hit {
            ocr_confidence: Some(confidence),
            ..hit("scan", 3, chunk, span, "amlodipine 5 mg", 1.0)
        };
        let sources = merge_hits(
            &[
                scanned(0, 0..15, 91),
                scanned(1, 15..30, 42),
                hit("text", 1, 0, 0..15, "amlodipine 5 mg", 0.5),
                Hit {
                    ocr_confidence: Some(88),
                    ..hit("clear", 1, 0, 0..15, "amlodipine 5 mg", 0.4)
                },
            ],
            5,
        );
        let marks: Vec<(Option<u8>, bool)> = sources
            .iter()
            .map(|s| (s.ocr_confidence, s.low_confidence))
            .collect();
        assert_eq!(
            marks,
            [(Some(42), true), (None, false), (Some(88), false)],
            "a merged neighbour read badly marks the whole source"
        );
    }

    #[test]
    fn quotes_take_each_sources_best_sentence_in_rank_order() -> Result<(), String> {
        let sources = merge_hits(
            &[
                hit(
                    "a",
                    1,
                    0,
                    0..40,
                    "Warfarin was paused. INR target 2-3.",
                    3.0,
                ),
                hit(
                    "b",
                    1,
                    0,
                    0..60,
                    "The INR and the warfarin dose and the INR again. INR noted.",
                    2.0,
                ),
                hit("c", 1, 0, 0..30, "Nothing relevant here at all.", 1.0),
                hit("d", 1, 0, 0..30, "Warfarin INR warfarin INR dose.", 0.5),
            ],
            4,
        );
        // A stand-in coverage: the number of question words a sentence holds.
        let words = ["warfarin", "inr", "dose"];
        let quotes = quotes(&sources, 2, |texts: &[&str]| -> Result<Vec<f32>, String> {
            Ok(texts
                .iter()
                .map(|t| {
                    let t = t.to_lowercase();
                    words.iter().filter(|w| t.contains(*w)).count() as f32
                })
                .collect())
        })?;
        let got: Vec<(usize, &str)> = quotes.iter().map(|q| (q.source, q.text.as_str())).collect();
        // Source 1's best (the first of two equal ones), then source 2's,
        // though source 4's sentence holds more of the question than source 1's.
        assert_eq!(
            got,
            [
                (1, "Warfarin was paused."),
                (2, "The INR and the warfarin dose and the INR again.")
            ]
        );
        Ok(())
    }

    #[test]
    fn quotes_are_verbatim_sentences_ranked_by_coverage() -> Result<(), String> {
        let sources = merge_hits(
            &[hit(
                "a",
                1,
                0,
                0..60,
                "환자는 잘 지냈다. 목표 혈압은 130/80 mmHg 미만이다. 식사는 양호.",
                1.0,
            )],
            3,
        );
        // A stand-in coverage: sentences mentioning 혈압 cover the question.
        let quotes = quotes(&sources, 3, |texts: &[&str]| -> Result<Vec<f32>, String> {
            Ok(texts
                .iter()
                .map(|t| if t.contains("혈압") { 1.0 } else { 0.0 })
                .collect())
        })?;
        assert_eq!(quotes.len(), 1);
        assert_eq!(quotes[0].text, "목표 혈압은 130/80 mmHg 미만이다.");
        assert!(sources[0].text.contains(&quotes[0].text));
        let text = "Give 5.5 mg daily. Stop if rash.";
        let split: Vec<&str> = crate::answer::verify::split_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect();
        assert_eq!(split, ["Give 5.5 mg daily.", "Stop if rash."]);
        Ok(())
    }
}
