//! The evidence gate: whether the best evidence found answers the question
//! at all, or the result is "not found" without asking the model.
//!
//! Two signals: lexical coverage (the IDF-weighted share of the question's
//! terms a source holds) and closeness in meaning (the cosine of the
//! question's vector with the source's, from hybrid search). Without vectors
//! coverage alone decides. With them, evidence passes when it is very close
//! in meaning (a paraphrase that shares few words), or covered and at least
//! related in meaning: coverage alone admits a FAQ entry that merely shares
//! the question's words, and cosine alone scores every passage on the same
//! topic fairly close. The thresholds live in the domain profile
//! ([`crate::profile::Profile`]).

use serde::{Deserialize, Serialize};

/// Cosine thresholds for one embedding model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimilarityThresholds {
    /// At or above it, evidence passes whatever words it shares.
    pub close: f32,
    /// Covered evidence must also reach this one.
    pub related: f32,
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

/// Whether evidence with this best coverage and best similarity is strong
/// enough to answer from.
pub fn admits(thresholds: Thresholds, best_coverage: f32, best_similarity: Option<f32>) -> bool {
    let covered = best_coverage >= thresholds.min_coverage;
    match (thresholds.similarity, best_similarity) {
        (Some(min), Some(similarity)) => {
            similarity >= min.close || covered && similarity >= min.related
        }
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
        }),
    };

    #[test]
    fn a_close_paraphrase_passes_with_few_shared_words() {
        assert!(admits(GATE, 0.1, Some(0.93)));
    }

    #[test]
    fn evidence_neither_covered_nor_close_is_not_found() {
        assert!(!admits(GATE, 0.1, Some(0.8)));
        assert!(!admits(GATE, 0.49, Some(0.9)));
    }

    #[test]
    fn covered_evidence_must_also_be_related_in_meaning() {
        assert!(admits(GATE, 0.6, Some(0.88)));
        assert!(!admits(GATE, 0.9, Some(0.8)), "shares words, means else");
    }

    #[test]
    fn without_vectors_or_tuned_thresholds_coverage_alone_decides() {
        assert!(admits(GATE, 0.6, None));
        assert!(!admits(GATE, 0.4, None));
        let lexical = Thresholds {
            similarity: None,
            ..GATE
        };
        assert!(!admits(lexical, 0.1, Some(0.99)));
        assert!(admits(lexical, 0.6, Some(0.1)));
    }
}
