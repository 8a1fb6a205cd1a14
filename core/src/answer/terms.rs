//! Question analysis shared by the evidence gate and quote selection: the
//! content terms of a text (Hangul syllable bigrams, so particles do not
//! matter; English words without stopwords), its language, follow-up detection.

use std::collections::HashSet;

/// Questions are capped at this many characters (longer ones get a notice).
pub const MAX_QUESTION_CHARS: usize = 4000;

const EN_STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does", "for",
    "from", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or",
    "should", "tell", "that", "the", "their", "there", "this", "to", "was", "we", "what", "when",
    "where", "which", "who", "why", "will", "with", "would", "you", "your", "about", "any", "get",
    "use", "used", "using", "need", "want", "way", "if", "so", "than", "then", "they", "them",
];

/// Hangul question words and endings that carry no content.
/// (matched as word starts, after the ending is stripped).
const KO_STOPWORDS: &[&str] = &[
    "무엇",
    "어떻게",
    "어떤",
    "어디",
    "언제",
    "누구",
    "얼마",
    "있나",
    "있습니",
    "있을",
    "되나",
    "됩니",
    "알려",
    "주세",
    "해야",
    "하나",
];

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

/// The content terms of `text`.
pub fn content_terms(text: &str) -> HashSet<String> {
    let mut terms = HashSet::new();
    let lower = text.to_lowercase();
    for word in lower.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.chars().any(is_hangul) {
            let word = strip_ending(word);
            if KO_STOPWORDS.iter().any(|s| word.starts_with(s)) {
                continue;
            }
            let syllables: Vec<char> = word.chars().filter(|c| is_hangul(*c)).collect();
            if syllables.len() == 1 {
                continue;
            }
            for pair in syllables.windows(2) {
                terms.insert(pair.iter().collect());
            }
            let rest: String = word.chars().filter(|c| !is_hangul(*c)).collect();
            if rest.chars().count() > 1 {
                terms.insert(rest);
            }
        } else if !EN_STOPWORDS.contains(&word)
            && (word.chars().count() > 1 || word.chars().all(|c| c.is_ascii_digit()))
        {
            terms.insert(stem(word));
        }
    }
    terms
}

/// Particles and question endings stripped from a Hangul word before its
/// bigrams are taken, so "혈압은" and "혈압" count as the same term (longest first).
const KO_ENDINGS: &[&str] = &[
    "인가요",
    "입니까",
    "합니까",
    "하나요",
    "할까요",
    "인가",
    "나요",
    "까요",
    "에서는",
    "에서",
    "에게",
    "으로",
    "부터",
    "까지",
    "처럼",
    "보다",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
    "요",
];

/// `word` without one trailing particle or ending, keeping at least two syllables.
fn strip_ending(word: &str) -> &str {
    for ending in KO_ENDINGS {
        if let Some(stem) = word.strip_suffix(ending)
            && stem.chars().count() >= 2
        {
            return stem;
        }
    }
    word
}

/// A crude English suffix stem, enough to match "doses" with "dose".
fn stem(word: &str) -> String {
    for suffix in ["ing", "ed", "es", "s"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return base.to_owned();
        }
    }
    word.to_owned()
}

/// Share of `question` terms found in `text_terms` (1.0 when the question has none).
pub fn coverage(question: &HashSet<String>, text_terms: &HashSet<String>) -> f32 {
    if question.is_empty() {
        return 1.0;
    }
    let found = question.iter().filter(|t| text_terms.contains(*t)).count();
    found as f32 / question.len() as f32
}

/// `ko` when the text is mostly Hangul, else `en`.
pub fn language(text: &str) -> &'static str {
    let hangul = text.chars().filter(|c| is_hangul(*c)).count();
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    if hangul * 2 >= latin && hangul > 0 {
        "ko"
    } else {
        "en"
    }
}

/// Words that point back at an earlier turn ("그 약", "it", "that drug").
const ANAPHORS_KO: &[&str] = &["그", "이", "저", "그것", "이것", "그거", "해당", "위"];
const ANAPHORS_EN: &[&str] = &[
    "it", "its", "that", "this", "those", "these", "they", "them",
];

/// True when `question` reads as a follow-up that needs the previous turn.
pub fn is_follow_up(question: &str) -> bool {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.len() <= 4
        || words
            .iter()
            .any(|w| ANAPHORS_KO.contains(w) || ANAPHORS_EN.contains(w))
}

/// Caps a question at [`MAX_QUESTION_CHARS`]; returns it and whether it was cut.
pub fn cap_question(question: &str) -> (String, bool) {
    let trimmed = question.trim();
    match trimmed.char_indices().nth(MAX_QUESTION_CHARS) {
        Some((at, _)) => (trimmed[..at].to_owned(), true),
        None => (trimmed.to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_terms_survive_particles_and_english_loses_stopwords() {
        let q = content_terms("고혈압 환자의 목표 혈압은 무엇인가요?");
        let doc = content_terms("고혈압 환자에서 목표 혈압은 130/80 mmHg 미만이다.");
        assert!(q.contains("혈압") && q.contains("환자"));
        assert!(!q.contains("무엇"));
        assert!((coverage(&q, &doc) - 1.0).abs() < 1e-6, "{q:?}");
        let en = content_terms("What is the dose of the drugs?");
        assert_eq!(en, HashSet::from(["dose".to_owned(), "drug".to_owned()]));
        assert!(coverage(&en, &content_terms("Warfarin doses vary")) < 1.0);
    }

    #[test]
    fn language_follow_ups_and_caps() {
        assert_eq!(language("당뇨병 환자의 HbA1c 목표는?"), "ko");
        assert_eq!(language("What is the HbA1c target?"), "en");
        assert!(is_follow_up("그 약의 부작용은?"));
        assert!(is_follow_up("What about its side effects?"));
        assert!(!is_follow_up(
            "What is the blood pressure target for adults with diabetes?"
        ));
        let (q, cut) = cap_question(&"가".repeat(100_000));
        assert!(cut);
        assert_eq!(q.chars().count(), MAX_QUESTION_CHARS);
        assert_eq!(cap_question("  short  "), ("short".to_owned(), false));
    }
}
