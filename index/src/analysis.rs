//! Text analysis for Korean and English search.
//!
//! Korean is agglutinative: 혈압 must match inside 고혈압 and before particles
//! (혈압은, 혈압약). The `ko` analyzer turns runs of CJK characters into
//! overlapping bigrams (with positions, so phrases still work) and other words
//! into lowercased tokens. The `en` analyzer lowercases and stems English.
//! Both are registered on the index and used for queries too.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};

/// Analyzer name for the CJK-bigram fields.
pub const KO: &str = "sillok_ko";
/// Analyzer name for the stemmed English fields.
pub const EN: &str = "sillok_en";

/// Registers both analyzers on an index.
pub fn register(index: &tantivy::Index) {
    let tokenizers = index.tokenizers();
    tokenizers.register(
        KO,
        TextAnalyzer::builder(CjkBigramTokenizer)
            .filter(RemoveLongFilter::limit(64))
            .build(),
    );
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

/// CJK runs → overlapping bigrams (a lone character → itself); other
/// alphanumeric runs → lowercased words.
#[derive(Debug, Clone, Copy, Default)]
pub struct CjkBigramTokenizer;

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

impl Tokenizer for CjkBigramTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        VecTokenStream {
            tokens: tokenize(text),
            next: 0,
        }
    }
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Class {
    Cjk,
    Word,
    Other,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Cjk
    } else if c.is_alphanumeric() {
        Class::Word
    } else {
        Class::Other
    }
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut position = 0;
    let mut run: Vec<(usize, char)> = Vec::new();
    let mut run_class = Class::Other;
    let mut flush =
        |run: &mut Vec<(usize, char)>, class: Class, end: usize, tokens: &mut Vec<Token>| {
            match class {
                Class::Cjk if run.len() == 1 => {
                    tokens.push(token(text, run[0].0, end, position));
                    position += 1;
                }
                Class::Cjk => {
                    for pair in run.windows(2) {
                        let to = pair[1].0 + pair[1].1.len_utf8();
                        tokens.push(token(text, pair[0].0, to, position));
                        position += 1;
                    }
                }
                Class::Word => {
                    if let Some(&(from, _)) = run.first() {
                        let mut t = token(text, from, end, position);
                        t.text = t.text.to_lowercase();
                        tokens.push(t);
                        position += 1;
                    }
                }
                Class::Other => {}
            }
            run.clear();
        };
    for (i, c) in text.char_indices() {
        let cls = class(c);
        if cls != run_class {
            flush(&mut run, run_class, i, &mut tokens);
            run_class = cls;
        }
        if cls != Class::Other {
            run.push((i, c));
        }
    }
    flush(&mut run, run_class, text.len(), &mut tokens);
    tokens
}

fn token(text: &str, from: usize, to: usize, position: usize) -> Token {
    Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_owned(),
        position_length: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn hangul_runs_become_bigrams_and_words_lowercase() {
        assert_eq!(
            texts("고혈압 환자, BP 140/90"),
            ["고혈", "혈압", "환자", "bp", "140", "90"]
        );
        assert_eq!(texts("피"), ["피"]);
        assert_eq!(texts("당뇨병은"), ["당뇨", "뇨병", "병은"]);
    }

    #[test]
    fn positions_are_consecutive_and_offsets_exact() {
        let text = "혈압약 5mg";
        let tokens = tokenize(text);
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(t.position, i);
            assert_eq!(&text[t.offset_from..t.offset_to].to_lowercase(), &t.text);
        }
    }

    #[test]
    fn empty_and_symbol_only_text_give_no_tokens() {
        assert!(tokenize("").is_empty());
        assert!(tokenize(" ,.;/ ").is_empty());
    }
}
