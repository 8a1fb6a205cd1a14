//! Post-hoc attribution: a sentence the model left uncited gets the marker of
//! a source that supports it, when the same support check that judges cited
//! sentences (words, numbers, units, dates, negation) passes for it. Small
//! models often answer correctly without citing; the user still sees which
//! page backs each sentence, and which citations Sillok added.

use serde::Serialize;

use super::verify::{self, Support, Verification};

/// A citation Sillok added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// The sentence (index in the verified answer's sentences).
    pub sentence: usize,
    /// The source it cites now.
    pub source: usize,
}

/// The answer with markers added to uncited sentences that a source supports,
/// re-verified; `None` when nothing could be attributed.
pub fn attribute(
    checked: &Verification,
    sources: &[verify::Source<'_>],
) -> Option<(Verification, Vec<Attribution>)> {
    let mut insertions: Vec<(usize, usize, usize)> = Vec::new();
    for (i, sentence) in checked.sentences.iter().enumerate() {
        if sentence.support != Support::Uncited {
            continue;
        }
        let supporting = sources.iter().find(|source| {
            let candidate = format!("{} [{}]", sentence.text.trim_end(), source.number);
            let check = verify::verify(&candidate, sources);
            check
                .sentences
                .first()
                .is_some_and(|s| s.support == Support::Supported)
                && check.sentences.len() == 1
        });
        if let Some(source) = supporting {
            insertions.push((i, sentence.range.end, source.number));
        }
    }
    if insertions.is_empty() {
        return None;
    }
    let mut text = checked.answer.clone();
    // From the back, so earlier byte offsets stay valid.
    for (_, at, number) in insertions.iter().rev() {
        let at = trim_end_at(&text, *at);
        text.insert_str(at, &format!(" [{number}]"));
    }
    let repaired = verify::verify(&text, sources);
    let attributions = insertions
        .into_iter()
        .map(|(sentence, _, source)| Attribution { sentence, source })
        .collect();
    Some((repaired, attributions))
}

/// `at`, moved back over trailing whitespace (the marker goes right after the sentence).
fn trim_end_at(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    let mut end = at;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim_end().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_uncited_sentences_get_the_supporting_source_and_others_do_not() {
        let sources = [
            verify::Source {
                number: 1,
                text: "The clinic opens at 9 am on weekdays.",
            },
            verify::Source {
                number: 2,
                text: "로사르탄 50 mg 1일 1회를 추가하고, 암로디핀 5 mg 1일 1회는 유지한다.",
            },
        ];
        let answer = "로사르탄 50 mg 1일 1회를 추가했다. Aspirin 100 mg was started.";
        let checked = verify::verify(answer, &sources);
        assert!(
            checked
                .sentences
                .iter()
                .all(|s| s.support == Support::Uncited)
        );
        let Some((repaired, added)) = attribute(&checked, &sources) else {
            panic!("nothing attributed: {checked:?}");
        };
        assert_eq!(
            added,
            [Attribution {
                sentence: 0,
                source: 2
            }]
        );
        assert!(
            repaired
                .answer
                .starts_with("로사르탄 50 mg 1일 1회를 추가했다. [2]"),
            "{}",
            repaired.answer
        );
        assert_eq!(repaired.sentences[0].support, Support::Supported);
        // The aspirin sentence stays uncited: no source supports it.
        assert_eq!(
            repaired.sentences.last().map(|s| s.support),
            Some(Support::Uncited)
        );
    }

    #[test]
    fn a_wrong_dose_is_never_attributed() {
        let sources = [verify::Source {
            number: 1,
            text: "Give amlodipine 5 mg once daily.",
        }];
        let checked = verify::verify("Give amlodipine 50 mg once daily.", &sources);
        assert!(attribute(&checked, &sources).is_none());
    }
}
