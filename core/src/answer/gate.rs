//! The evidence gate: whether the best evidence found answers the question
//! at all, or the result is "not found" without asking the model.
//!
//! Two signals: lexical coverage (the IDF-weighted share of the question's
//! terms a source holds) and closeness in meaning, from hybrid search.
//! Without vectors coverage alone decides. With them, evidence passes when it
//! is very close in meaning (a paraphrase that shares few words), or covered
//! and at least related in meaning: coverage alone admits a FAQ entry that
//! merely shares the question's words, and closeness alone scores every
//! passage on the same subject fairly close.
//!
//! Closeness is measured as standing where the library is large enough: how
//! many standard deviations the best cosine stands above the question's
//! cosines with every chunk ([`sillok_index::SimilaritySpread`]). A raw
//! cosine mixes how close the evidence is with how close everything is to
//! that question (a small embedding model scores some questions 0.85 with
//! every passage); standing takes the second out. Standing alone would let a
//! question about nothing in the library through whenever one chunk is a
//! little less far than the rest, so the cosine must still reach a floor. In
//! a small library the spread says little, and the cosine thresholds apply.
//! The thresholds live in the domain profile ([`crate::profile::Profile`]).

use serde::{Deserialize, Serialize};

/// Chunks with vectors a library needs before standing is trusted over the
/// raw cosine.
pub const MIN_CHUNKS_FOR_STANDING: usize = 100;

/// Closeness thresholds for one embedding model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimilarityThresholds {
    /// Cosine at or above which evidence passes whatever words it shares.
    pub close: f32,
    /// Cosine covered evidence must also reach.
    pub related: f32,
    /// The same two as standing, used instead of the cosines in a library
    /// of at least [`MIN_CHUNKS_FOR_STANDING`] chunks with vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing: Option<StandingThresholds>,
}

/// Standing thresholds: standard deviations above the library's cosines.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StandingThresholds {
    /// At or above it, evidence passes whatever words it shares.
    pub close: f32,
    /// Covered evidence must also reach this one.
    pub related: f32,
    /// Cosine the evidence must reach however far it stands out.
    pub min_cosine: f32,
}

/// The thresholds in force for one question.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Share of the question's terms the best evidence must hold.
    pub min_coverage: f32,
    /// `None` when the embedding model has no tuned thresholds or there are
    /// no vectors: coverage alone decides.
    pub similarity: Option<SimilarityThresholds>,
}

/// The best evidence found, signal by signal (each from the source best on it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BestEvidence {
    /// Best lexical coverage.
    pub coverage: f32,
    /// Best cosine; `None` without vectors.
    pub similarity: Option<f32>,
    /// Best standing, with the number of chunks it was measured over.
    pub standing: Option<(f32, usize)>,
}

/// Whether the best evidence is strong enough to answer from.
pub fn admits(thresholds: Thresholds, best: BestEvidence) -> bool {
    let covered = best.coverage >= thresholds.min_coverage;
    let Some(min) = thresholds.similarity else {
        return covered;
    };
    let standing = best
        .standing
        .filter(|(_, chunks)| *chunks >= MIN_CHUNKS_FOR_STANDING)
        .map(|(standing, _)| standing);
    match (min.standing, standing, best.similarity) {
        (Some(min), Some(standing), Some(similarity)) => {
            similarity >= min.min_cosine
                && (standing >= min.close || covered && standing >= min.related)
        }
        (_, _, Some(similarity)) => similarity >= min.close || covered && similarity >= min.related,
        _ => covered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GATE: Thresholds = Thresholds {
        min_coverage: 0.5,
        similarity: Some(SimilarityThresholds {
            close: 0.92,
            related: 0.87,
            standing: Some(StandingThresholds {
                close: 2.5,
                related: 1.8,
                min_cosine: 0.84,
            }),
        }),
    };

    fn best(coverage: f32, similarity: f32) -> BestEvidence {
        BestEvidence {
            coverage,
            similarity: Some(similarity),
            standing: None,
        }
    }

    fn standing(coverage: f32, similarity: f32, standing: f32, chunks: usize) -> BestEvidence {
        BestEvidence {
            standing: Some((standing, chunks)),
            ..best(coverage, similarity)
        }
    }

    #[test]
    fn a_close_paraphrase_passes_with_few_shared_words() {
        assert!(admits(GATE, best(0.1, 0.93)));
        assert!(admits(GATE, standing(0.1, 0.86, 2.6, 500)));
    }

    #[test]
    fn evidence_neither_covered_nor_close_is_not_found() {
        assert!(!admits(GATE, best(0.1, 0.8)));
        assert!(!admits(GATE, best(0.49, 0.9)));
        assert!(!admits(GATE, standing(0.49, 0.9, 2.0, 500)));
    }

    #[test]
    fn covered_evidence_must_also_be_related_in_meaning() {
        assert!(admits(GATE, best(0.6, 0.88)));
        assert!(!admits(GATE, best(0.9, 0.8)), "shares words, means else");
        assert!(admits(GATE, standing(0.6, 0.86, 1.9, 500)));
        assert!(!admits(GATE, standing(0.9, 0.95, 1.0, 500)));
    }

    #[test]
    fn standing_out_among_chunks_far_from_the_question_is_not_enough() {
        // Every chunk is far from the question; one is a little less far.
        assert!(!admits(GATE, standing(0.3, 0.76, 2.6, 500)));
        assert!(admits(GATE, standing(0.3, 0.85, 2.6, 500)));
    }

    #[test]
    fn in_a_large_library_standing_decides_and_in_a_small_one_the_cosine() {
        // A high cosine that everything shares does not stand out.
        assert!(!admits(GATE, standing(0.2, 0.95, 1.2, 500)));
        // In a library too small to know what is usual, the cosine decides.
        assert!(admits(GATE, standing(0.2, 0.95, 1.2, 20)));
        let cosines_only = Thresholds {
            similarity: Some(SimilarityThresholds {
                close: 0.92,
                related: 0.87,
                standing: None,
            }),
            ..GATE
        };
        assert!(admits(cosines_only, standing(0.2, 0.95, 1.2, 500)));
    }

    #[test]
    fn without_vectors_or_tuned_thresholds_coverage_alone_decides() {
        let words_only = BestEvidence {
            coverage: 0.6,
            ..BestEvidence::default()
        };
        assert!(admits(GATE, words_only));
        assert!(!admits(
            GATE,
            BestEvidence {
                coverage: 0.4,
                ..words_only
            }
        ));
        let lexical = Thresholds {
            similarity: None,
            ..GATE
        };
        assert!(!admits(lexical, standing(0.1, 0.99, 9.0, 500)));
        assert!(admits(lexical, best(0.6, 0.1)));
    }
}
