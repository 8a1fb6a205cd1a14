//! What tesseract wrote, read back: the text of each page from its `txt`
//! output (which keeps tesseract's own word spacing: Korean syllables of one
//! word are not split apart) and the mean word confidence from its `tsv`
//! output, both written to its standard output in one run ([`split`]).
//! Pure functions over strings; nothing here runs a process.

use std::collections::BTreeMap;

/// One page as tesseract read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recognised {
    /// 1-based page of the input (a multi-page TIFF has several).
    pub page: u32,
    /// The text, lines and paragraph breaks (blank lines) as tesseract laid
    /// them out; empty when the page holds no text.
    pub text: String,
    /// Mean confidence (0–100) over the page's words; `None` without words.
    pub confidence: Option<u8>,
}

/// The `txt` and `tsv` outputs of one tesseract run that wrote both to its
/// standard output. Each renderer writes its part of a page in turn (the
/// table's rows, then the text; pages after the first start with a form
/// feed), so each output's bytes come in order, interleaved by page. The
/// table's lines are those with a tab; the text never has one (tesseract
/// separates words with spaces). A form feed glued to a row (after a page
/// with no text) belongs to the text.
pub(crate) fn split(out: &str) -> (String, String) {
    let mut txt = String::new();
    let mut tsv = String::new();
    for line in out.split_inclusive('\n') {
        let row = line.trim_start_matches('\u{c}');
        if row.contains('\t') {
            txt.push_str(&line[..line.len() - row.len()]);
            tsv.push_str(row);
        } else {
            txt.push_str(line);
        }
    }
    (txt, tsv)
}

/// Pages from the `txt` output (pages end with a form feed) and the `tsv`
/// output (one row per layout element; words are level 5, with a
/// confidence from 0 to 100).
pub(crate) fn read(txt: &str, tsv: &str) -> Vec<Recognised> {
    let mut texts: Vec<&str> = txt.split('\u{c}').collect();
    // The last page ends with a form feed too: what follows is not a page.
    if texts.len() > 1 && texts.last().is_some_and(|t| t.trim().is_empty()) {
        texts.pop();
    }
    let mut confidences: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
    for line in tsv.lines().skip(1) {
        let cells: Vec<&str> = line.split('\t').collect();
        let [level, page, .., conf, text] = cells.as_slice() else {
            continue;
        };
        if cells.len() < 12 || *level != "5" || text.trim().is_empty() {
            continue;
        }
        let (Ok(page), Ok(conf)) = (page.parse::<u32>(), conf.parse::<f64>()) else {
            continue;
        };
        if !(0.0..=100.0).contains(&conf) {
            continue;
        }
        let entry = confidences.entry(page).or_insert((0.0, 0));
        entry.0 += conf;
        entry.1 += 1;
    }
    let pages = confidences
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0)
        .max(u32::try_from(texts.len()).unwrap_or(u32::MAX));
    (1..=pages)
        .map(|page| {
            let text = texts
                .get(page as usize - 1)
                .map(|t| t.trim_matches(['\n', '\r', ' ']).to_owned())
                .unwrap_or_default();
            let confidence = confidences
                .get(&page)
                .filter(|_| !text.is_empty())
                .map(|&(sum, n)| (sum / f64::from(n)).round().clamp(0.0, 100.0) as u8);
            Recognised {
                page,
                text,
                confidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TSV_HEADER: &str = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n";

    fn word(page: u32, conf: f64, text: &str) -> String {
        format!("5\t{page}\t1\t1\t1\t1\t0\t0\t10\t10\t{conf}\t{text}\n")
    }

    #[test]
    fn pages_take_text_from_txt_and_confidence_from_words() {
        let txt = "고혈압 환자의 혈압\nBlood pressure\n\n둘째 문단\n\u{c}\u{c}page three\n\u{c}";
        let mut tsv = TSV_HEADER.to_owned();
        tsv.push_str("1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n");
        tsv.push_str(&word(1, 90.0, "고혈압"));
        tsv.push_str(&word(1, 81.5, "환"));
        tsv.push_str(&word(1, -1.0, "  "));
        tsv.push_str(&word(3, 40.2, "page"));
        tsv.push_str(&word(3, 41.0, "three"));
        tsv.push_str("5\t3\tbroken row\n");
        let pages = read(txt, &tsv);
        assert_eq!(
            pages,
            [
                Recognised {
                    page: 1,
                    text: "고혈압 환자의 혈압\nBlood pressure\n\n둘째 문단".to_owned(),
                    confidence: Some(86),
                },
                Recognised {
                    page: 2,
                    text: String::new(),
                    confidence: None,
                },
                Recognised {
                    page: 3,
                    text: "page three".to_owned(),
                    confidence: Some(41),
                },
            ]
        );
    }

    #[test]
    fn both_outputs_are_parted_from_one_stream() {
        let row = |page: u32, conf: f64, text: &str| word(page, conf, text);
        // As tesseract 5 writes them: per page the rows, then the text.
        let stream = [
            TSV_HEADER.to_owned(),
            "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n".to_owned(),
            row(1, 90.0, "고혈압"),
            "고혈압 환자의 혈압\n\nBlood pressure\n".to_owned(),
            // Page 2 has no text: its form feed runs into page 3's first row.
            "1\t2\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n".to_owned(),
            "\u{c}1\t3\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n".to_owned(),
            row(3, 40.0, "three"),
            "\u{c}page three\n".to_owned(),
        ]
        .concat();
        let (txt, tsv) = split(&stream);
        assert_eq!(
            txt,
            "고혈압 환자의 혈압\n\nBlood pressure\n\u{c}\u{c}page three\n"
        );
        assert!(tsv.starts_with(TSV_HEADER) && !tsv.contains('\u{c}'));
        let pages = read(&txt, &tsv);
        let summary: Vec<(u32, &str, Option<u8>)> = pages
            .iter()
            .map(|p| (p.page, p.text.as_str(), p.confidence))
            .collect();
        assert_eq!(
            summary,
            [
                (1, "고혈압 환자의 혈압\n\nBlood pressure", Some(90)),
                (2, "", None),
                (3, "page three", Some(40)),
            ]
        );
    }

    #[test]
    fn empty_output_is_one_empty_page() {
        assert_eq!(
            read("\u{c}", TSV_HEADER),
            [Recognised {
                page: 1,
                text: String::new(),
                confidence: None
            }]
        );
        assert_eq!(read("", "").len(), 1);
    }
}
