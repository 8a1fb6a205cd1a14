//! Stops a model that loops: small models, greedy decoding especially, can
//! repeat the same phrase until the token limit. A tail of text that already
//! occurred back to back `REPEATS` times ends the answer.

/// Consecutive copies of one span that count as a loop.
const REPEATS: usize = 3;
/// Shortest and longest repeated span considered, in characters.
const MIN_SPAN: usize = 8;
const MAX_SPAN: usize = 200;

/// Watches streamed text for a loop.
#[derive(Debug, Default)]
pub struct RepetitionGuard {
    text: Vec<char>,
}

impl RepetitionGuard {
    /// Adds a piece; true when the text now ends in a loop.
    pub fn push(&mut self, piece: &str) -> bool {
        self.text.extend(piece.chars());
        let n = self.text.len();
        (MIN_SPAN..=MAX_SPAN.min(n / REPEATS)).any(|span| {
            let last = &self.text[n - span..];
            (1..REPEATS).all(|k| &self.text[n - (k + 1) * span..n - k * span] == last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phrase_repeated_three_times_is_a_loop_and_normal_text_is_not() {
        let mut guard = RepetitionGuard::default();
        let normal =
            "Amlodipine 5 mg daily [1]. Losartan 50 mg was added [1]. 혈압은 130/80 미만 [2].";
        assert!(!normal.split_inclusive(' ').any(|w| guard.push(w)));
        let mut guard = RepetitionGuard::default();
        let pieces = ["1. 2024-05-08 (재진)\n"; 3];
        let looped: Vec<bool> = pieces.iter().map(|p| guard.push(p)).collect();
        assert_eq!(looped, [false, false, true]);
        // Short repeats ("- - -", "ha ha ha") are below the span that counts.
        let mut guard = RepetitionGuard::default();
        assert!(!guard.push("ha ha ha "));
    }
}
