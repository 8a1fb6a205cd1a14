//! Evidence coverage: how much of a question a passage holds, with the
//! library's own analysers and weighted by how rare each term is in the
//! library (IDF). "Debian" or "환자" in every document count for little;
//! the drug or package the question is about counts for much.

use std::collections::{HashMap, HashSet};

use tantivy::schema::{Field, Term};

use crate::Result;
use crate::analysis::{EN, KO, KO_BIGRAM, is_cjk};
use crate::library::Library;

/// One question term and its weight.
#[derive(Debug, Clone)]
struct Weighted {
    token: String,
    /// Bigrams of a Korean stem: the stem is found inside a compound when all are.
    bigrams: Vec<String>,
    korean: bool,
    idf: f32,
}

fn tokens(index: &tantivy::Index, analyzer: &str, text: &str) -> Vec<String> {
    let Some(mut analyzer) = index.tokenizers().get(analyzer) else {
        return Vec::new();
    };
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

fn has_cjk(token: &str) -> bool {
    token.chars().any(is_cjk)
}

/// A passage's analysed terms.
struct PassageTerms {
    stems: HashSet<String>,
    bigrams: HashSet<String>,
    english: HashSet<String>,
}

impl Library {
    /// For each of `texts`, the IDF-weighted share (0–1) of `question`'s
    /// terms it contains: Korean stems (also found inside compounds through
    /// their bigrams) and English stems. 1.0 for a question without terms.
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn coverage(&self, question: &str, texts: &[&str]) -> Result<Vec<f32>> {
        let (index, reader, fields) = self.parts();
        let searcher = reader.searcher();
        let docs = searcher.num_docs().max(1) as f32;
        let idf = |field: Field, token: &str| -> Result<f32> {
            let df = searcher.doc_freq(&Term::from_field_text(field, token))? as f32;
            Ok((1.0 + (docs - df + 0.5) / (df + 0.5)).ln())
        };
        let mut terms: HashMap<String, Weighted> = HashMap::new();
        for token in tokens(index, KO, question)
            .into_iter()
            .filter(|t| has_cjk(t))
        {
            if terms.contains_key(&token) {
                continue;
            }
            let bigrams = tokens(index, KO_BIGRAM, &token);
            // A stem the library never holds whole weighs as its rarest bigram.
            let mut weight = idf(fields.text_ko, &token)?;
            if searcher.doc_freq(&Term::from_field_text(fields.text_ko, &token))? == 0 {
                weight = bigrams
                    .iter()
                    .map(|b| idf(fields.text_ko_bigram, b))
                    .collect::<Result<Vec<f32>>>()?
                    .into_iter()
                    .fold(0.0, f32::max);
            }
            terms.insert(
                token.clone(),
                Weighted {
                    token,
                    bigrams,
                    korean: true,
                    idf: weight,
                },
            );
        }
        for token in tokens(index, EN, question)
            .into_iter()
            .filter(|t| !has_cjk(t))
        {
            if terms.contains_key(&token) {
                continue;
            }
            let weight = idf(fields.text_en, &token)?;
            terms.insert(
                token.clone(),
                Weighted {
                    token,
                    bigrams: Vec::new(),
                    korean: false,
                    idf: weight,
                },
            );
        }
        let total: f32 = terms.values().map(|t| t.idf).sum();
        Ok(texts
            .iter()
            .map(|text| {
                if total <= 0.0 {
                    return 1.0;
                }
                let passage = PassageTerms {
                    stems: tokens(index, KO, text).into_iter().collect(),
                    bigrams: tokens(index, KO_BIGRAM, text).into_iter().collect(),
                    english: tokens(index, EN, text).into_iter().collect(),
                };
                let found: f32 = terms
                    .values()
                    .filter(|t| held(t, &passage))
                    .map(|t| t.idf)
                    .sum();
                found / total
            })
            .collect())
    }
}

fn held(term: &Weighted, passage: &PassageTerms) -> bool {
    if !term.korean {
        return passage.english.contains(&term.token);
    }
    passage.stems.contains(&term.token)
        || (!term.bigrams.is_empty() && term.bigrams.iter().all(|b| passage.bigrams.contains(b)))
}

#[cfg(test)]
mod tests {
    use crate::library::IngestSettings;
    use crate::test_support::chunk_tokenizer;
    use crate::{Library, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn rare_terms_weigh_more_and_compounds_count() -> TestResult {
        let data = tempfile::tempdir()?;
        let docs = tempfile::tempdir()?;
        for i in 0..8 {
            std::fs::write(
                docs.path().join(format!("{i}.txt")),
                format!("Debian 환자 기록 {i}번"),
            )?;
        }
        std::fs::write(
            docs.path().join("x.txt"),
            "당뇨병 환자에게 metformin 500 mg",
        )?;
        let library = Library::open(data.path())?;
        library
            .writer(
                TokenCounter::from_file(&chunk_tokenizer())?,
                IngestSettings::default(),
            )?
            .ingest("c", &[docs.path().to_owned()], &mut |_| {})?;
        library.reload()?;
        let c = library.coverage(
            "Debian 환자의 metformin 용량은?",
            &["Debian 환자 기록", "metformin 용량 500 mg", ""],
        )?;
        // The common words are most of the question's words but little of its weight.
        assert!(c[0] < 0.4, "{c:?}");
        assert!(c[1] > 0.6, "{c:?}");
        assert!(c[2].abs() < 1e-6);
        // 당뇨 is found inside 당뇨병.
        let c = library.coverage("당뇨 환자", &["당뇨병 환자에게"])?;
        assert!(c[0] > 0.99, "{c:?}");
        assert_eq!(library.coverage("?", &["anything"])?, [1.0]);
        Ok(())
    }
}
