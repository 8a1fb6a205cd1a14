//! The question itself: its language, whether it is a follow-up, its length cap.
//! (Its terms are the library's business: `Library::coverage`.)

/// Questions are capped at this many characters (longer ones get a notice).
pub const MAX_QUESTION_CHARS: usize = 4000;

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
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

/// Longest question that reads as a follow-up without any pointing word: a
/// Korean word (eojeol) carries its particles, so "김가상 환자의 혈압 목표는?"
/// (four words) stands alone, while English needs its function words
/// ("What is the dose?").
const SHORT_KO: usize = 2;
const SHORT_EN: usize = 4;

/// True when `question` reads as a follow-up that needs the previous turn.
pub fn is_follow_up(question: &str) -> bool {
    let lower = question.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let short = if language(question) == "ko" {
        SHORT_KO
    } else {
        SHORT_EN
    };
    words.len() <= short
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
    fn language_follow_ups_and_caps() {
        assert_eq!(language("당뇨병 환자의 HbA1c 목표는?"), "ko");
        assert_eq!(language("What is the HbA1c target?"), "en");
        assert!(is_follow_up("그 약의 부작용은?"));
        assert!(is_follow_up("What about its side effects?"));
        assert!(is_follow_up("용량은?"));
        assert!(is_follow_up("What is the dose?"));
        // A self-contained short Korean question is not read with the previous one.
        assert!(!is_follow_up("김가상 환자의 혈압 목표는?"));
        assert!(!is_follow_up(
            "What is the blood pressure target for adults with diabetes?"
        ));
        let (q, cut) = cap_question(&"가".repeat(100_000));
        assert!(cut);
        assert_eq!(q.chars().count(), MAX_QUESTION_CHARS);
        assert_eq!(cap_question("  short  "), ("short".to_owned(), false));
    }
}
