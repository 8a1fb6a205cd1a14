//! Text analysis for Korean and English search.
//!
//! Korean is agglutinative: 혈압 must match before particles (혈압은, 혈압을)
//! and inside compounds (고혈압, 혈압약). Korean-analysed text is indexed
//! twice: [`KO`] keeps one stem per eojeol (particles and endings stripped,
//! light verbs reduced; see `korean_stem.rs`), the field that ranks; [`KO_BIGRAM`]
//! keeps the overlapping bigrams of those stems, which find a word inside a
//! compound (당뇨 in 당뇨병) and weigh less at search time. Other CJK runs
//! become bigrams and other words lowercased tokens in both, every token with
//! its position, so phrases work in both. The `en` analyzer lowercases and
//! stems English. All are registered on the index and used for queries too.

mod korean_stem;

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

pub use korean_stem::{is_hangul_syllable, stem as korean_stem};

/// Analyzer name for the Korean stem fields.
pub const KO: &str = "sillok_ko_stem";
/// Analyzer name for the Korean stem-bigram fields.
pub const KO_BIGRAM: &str = "sillok_ko_stem_bigram";
/// Analyzer name for the stemmed English fields.
pub const EN: &str = "sillok_en";

/// Registers the analyzers on an index.
pub fn register(index: &tantivy::Index) {
    let tokenizers = index.tokenizers();
    let korean = |tokenizer: KoreanTokenizer| {
        TextAnalyzer::builder(tokenizer)
            .filter(RemoveLongFilter::limit(64))
            .build()
    };
    tokenizers.register(KO, korean(KoreanTokenizer::STEMS));
    tokenizers.register(KO_BIGRAM, korean(KoreanTokenizer::STEM_BIGRAMS));
    tokenizers.register(
        EN,
        TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build(),
    );
}

/// Whether a character belongs to a script written without spaces between morphemes.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{AC00}'..='\u{D7A3}'   // Hangul syllables
        | '\u{1100}'..='\u{11FF}' // Hangul jamo
        | '\u{3130}'..='\u{318F}' // Hangul compatibility jamo
        | '\u{3040}'..='\u{30FF}' // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
    )
}

/// The tokens of one text, produced eagerly (texts are chunk-sized).
#[derive(Debug)]
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self
            .next
            .saturating_sub(1)
            .min(self.tokens.len().saturating_sub(1))]
    }

    fn token_mut(&mut self) -> &mut Token {
        let i = self
            .next
            .saturating_sub(1)
            .min(self.tokens.len().saturating_sub(1));
        &mut self.tokens[i]
    }
}

/// Korean analysis: each eojeol (run of Hangul syllables) becomes its stem
/// ([`korean_stem`]) or the overlapping bigrams of its stem (a one-syllable
/// stem kept whole); other CJK runs (Hanja, kana, jamo) become overlapping
/// bigrams and other alphanumeric runs lowercased words. An eojeol glued to a
/// preceding ASCII letter or digit (`FAQ는`) may lose everything; it then
/// takes no position.
#[derive(Debug, Clone, Copy)]
pub struct KoreanTokenizer {
    /// Bigrams of the stems instead of whole stems.
    bigrams: bool,
}

impl KoreanTokenizer {
    /// One token per eojeol: its stem.
    pub const STEMS: KoreanTokenizer = KoreanTokenizer { bigrams: false };
    /// The bigrams of each eojeol's stem. Words of other scripts are kept
    /// too, so that a phrase mixing them with Korean keeps its positions.
    pub const STEM_BIGRAMS: KoreanTokenizer = KoreanTokenizer { bigrams: true };
}

impl Tokenizer for KoreanTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: tokenize_korean(text, *self),
            next: 0,
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Class {
    Hangul,
    OtherCjk,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_hangul_syllable(c) {
        Class::Hangul
    } else if is_cjk(c) {
        Class::OtherCjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

fn tokenize_korean(text: &str, how: KoreanTokenizer) -> Vec<Token> {
    let mut out = Tokens::default();
    let mut run_start = 0;
    let mut run_class = Class::Other;
    for (i, c) in text.char_indices() {
        let cls = class(c);
        if cls != run_class {
            out.run(text, run_start..i, run_class, how);
            run_start = i;
            run_class = cls;
        }
    }
    out.run(text, run_start..text.len(), run_class, how);
    out.tokens
}

/// Tokens being built, with the next position.
#[derive(Default)]
struct Tokens {
    tokens: Vec<Token>,
    position: usize,
}

impl Tokens {
    fn push(&mut self, text: String, from: usize, to: usize) {
        self.tokens.push(Token {
            offset_from: from,
            offset_to: to,
            position: self.position,
            text,
            position_length: 1,
        });
        self.position += 1;
    }

    /// Overlapping bigrams of `part` (a lone character kept), whose byte `i`
    /// is byte `start + i` of the source text.
    fn bigrams(&mut self, part: &str, start: usize) {
        let chars: Vec<(usize, char)> = part.char_indices().collect();
        if let [(_, c)] = chars.as_slice() {
            self.push(c.to_string(), start, start + c.len_utf8());
            return;
        }
        for pair in chars.windows(2) {
            let (from, _) = pair[0];
            let (second, c) = pair[1];
            let to = second + c.len_utf8();
            self.push(part[from..to].to_owned(), start + from, start + to);
        }
    }

    fn run(
        &mut self,
        text: &str,
        range: std::ops::Range<usize>,
        class: Class,
        how: KoreanTokenizer,
    ) {
        if range.is_empty() {
            return;
        }
        let run = &text[range.clone()];
        match class {
            Class::Hangul => {
                let glued = text[..range.start]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
                let stem = korean_stem(run, glued);
                if stem.is_empty() {
                    return;
                }
                if how.bigrams {
                    self.bigrams(&stem, range.start);
                } else {
                    // The stem's syllables line up with the word's (only the
                    // last one may differ, by its final consonant).
                    let to = range.start + stem.len();
                    self.push(stem.into_owned(), range.start, to);
                }
            }
            Class::OtherCjk => self.bigrams(run, range.start),
            Class::Word => self.push(run.to_lowercase(), range.start, range.end),
            Class::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_symbol_only_text_give_no_tokens() {
        for how in [KoreanTokenizer::STEMS, KoreanTokenizer::STEM_BIGRAMS] {
            assert!(tokenize_korean("", how).is_empty());
            assert!(tokenize_korean(" ,.;/ ", how).is_empty());
        }
    }

    fn stems(s: &str) -> Vec<String> {
        tokenize_korean(s, KoreanTokenizer::STEMS)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    fn stem_bigrams(s: &str) -> Vec<String> {
        tokenize_korean(s, KoreanTokenizer::STEM_BIGRAMS)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn korean_stems_and_stem_bigrams_follow_the_study_table() {
        for (text, want_stems, want_bigrams) in [
            ("혈압약은", &["혈압약"][..], &["혈압", "압약"][..]),
            ("FAQ는", &["faq"], &["faq"]),
            ("국가", &["국가"], &["국가"]),
            ("안에", &["안"], &["안"]),
            ("진단하여", &["진단"], &["진단"]),
            ("설치합니다", &["설치"], &["설치"]),
            ("대하여", &["대하여"], &["대하", "하여"]),
            ("모든", &["모든"], &["모든"]),
        ] {
            assert_eq!(stems(text), want_stems, "{text}");
            assert_eq!(stem_bigrams(text), want_bigrams, "{text}");
        }
    }

    #[test]
    fn stem_bigrams_keep_compounds_findable_and_drop_particles() {
        assert_eq!(
            stem_bigrams("고혈압 환자는 BP 140/90"),
            ["고혈", "혈압", "환자", "bp", "140", "90"]
        );
        assert_eq!(stem_bigrams("피"), ["피"]);
        assert_eq!(stem_bigrams("당뇨병은"), ["당뇨", "뇨병"]);
        assert_eq!(stems("당뇨병은"), ["당뇨병"]);
    }

    #[test]
    fn other_scripts_are_tokenized_as_before() {
        assert_eq!(
            stems("고혈압 환자는 BP 140/90, apt에서 東京에"),
            ["고혈압", "환자", "bp", "140", "90", "apt", "東京", "에"]
        );
        assert_eq!(
            stem_bigrams("당뇨병이 Ärzte 高血壓"),
            ["당뇨", "뇨병", "ärzte", "高血", "血壓"]
        );
    }

    #[test]
    fn korean_tokens_have_consecutive_positions_and_exact_offsets() {
        let text = "데비안에서는 FAQ는 혈압약을 설치합니다 (5mg)";
        for how in [KoreanTokenizer::STEMS, KoreanTokenizer::STEM_BIGRAMS] {
            let tokens = tokenize_korean(text, how);
            assert!(!tokens.is_empty());
            for (i, t) in tokens.iter().enumerate() {
                assert_eq!(t.position, i);
                let source = text[t.offset_from..t.offset_to].to_lowercase();
                // Only the ㅂ니다 rule changes a syllable (합 → 하), never its length.
                assert_eq!(source.chars().count(), t.text.chars().count(), "{t:?}");
                if t.text != "설치" {
                    assert_eq!(source, t.text);
                }
            }
        }
        let stems = tokenize_korean(text, KoreanTokenizer::STEMS);
        let texts: Vec<&str> = stems.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["데비안", "faq", "혈압약", "설치", "5mg"]);
    }
}
