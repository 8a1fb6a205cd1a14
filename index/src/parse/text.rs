//! Plain text: the character-set decoder shared by every text-based format
//! (BOM, UTF-8, UTF-16, Korean CP949/EUC-KR, lossy fallback) and the plain
//! text parser that splits paragraphs on blank lines.

use encoding_rs::{EUC_KR, UTF_16BE, UTF_16LE};

use super::{
    BlockKind, BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, Parser,
};

/// Reads `.txt` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TextParser;

impl Parser for TextParser {
    fn kind(&self) -> DocKind {
        DocKind::Text
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let deadline = Deadline::new(limits);
        let text = decode(bytes);
        deadline.check()?;
        let mut sink = BlockSink::default();
        push_paragraphs(&mut sink, &text);
        Ok(ParsedDocument {
            kind: DocKind::Text,
            title: None,
            pages: sink.into_single_page()?,
        })
    }
}

/// Splits text into paragraphs at blank lines (lines of only whitespace);
/// lines inside a paragraph keep their line breaks, trailing space dropped.
/// One pass, linear in the text.
pub(crate) fn push_paragraphs(sink: &mut BlockSink, text: &str) {
    let mut paragraph = String::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            sink.push(BlockKind::Paragraph, &paragraph);
            paragraph.clear();
        } else {
            if !paragraph.is_empty() {
                paragraph.push('\n');
            }
            paragraph.push_str(line.trim_end());
        }
    }
    sink.push(BlockKind::Paragraph, &paragraph);
}

/// Decodes text of unknown encoding, never failing.
///
/// Order: a BOM decides (UTF-8, UTF-16 LE/BE); else valid UTF-8 is UTF-8; else
/// the Korean legacy encoding (CP949, a superset of EUC-KR) if it decodes with
/// fewer errors than UTF-8; else UTF-8 with replacement characters. NUL bytes
/// are dropped and line ends normalised to `\n`. Every step is linear in the
/// input, so a huge single-line file costs no more than a short one per byte.
pub(crate) fn decode(bytes: &[u8]) -> String {
    let text = if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        String::from_utf8_lossy(rest).into_owned()
    } else if let Some(rest) = bytes.strip_prefix(b"\xff\xfe") {
        UTF_16LE.decode_without_bom_handling(rest).0.into_owned()
    } else if let Some(rest) = bytes.strip_prefix(b"\xfe\xff") {
        UTF_16BE.decode_without_bom_handling(rest).0.into_owned()
    } else {
        match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => decode_legacy(bytes),
        }
    };
    normalise(text)
}

fn decode_legacy(bytes: &[u8]) -> String {
    if let Some(korean) = EUC_KR.decode_without_bom_handling_and_without_replacement(bytes) {
        return korean.into_owned();
    }
    // Mostly-Korean text with a few damaged bytes still reads better as CP949.
    let utf8 = String::from_utf8_lossy(bytes);
    let (korean, _) = EUC_KR.decode_without_bom_handling(bytes);
    if replacements(&korean) < replacements(&utf8) {
        korean.into_owned()
    } else {
        utf8.into_owned()
    }
}

fn replacements(s: &str) -> usize {
    s.chars()
        .filter(|&c| c == char::REPLACEMENT_CHARACTER)
        .count()
}

fn normalise(text: String) -> String {
    if !text.contains(['\0', '\r']) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\0' => {}
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::ParsedPage;

    fn page(bytes: &[u8]) -> Result<ParsedPage, ParseFailure> {
        let doc = TextParser.parse(bytes, &Limits::default())?;
        assert_eq!(doc.pages.len(), 1);
        doc.pages.into_iter().next().ok_or(ParseFailure::Empty)
    }

    const SENTENCE: &str = "고혈압 환자의 혈압 목표는 130/80 mmHg";

    #[test]
    fn splits_paragraphs_on_blank_lines() -> Result<(), ParseFailure> {
        let p = page(format!("{SENTENCE}\nsecond line  \n \n\nEnglish paragraph.\r\n").as_bytes())?;
        let texts: Vec<_> = p.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                &format!("{SENTENCE}\nsecond line") as &str,
                "English paragraph."
            ]
        );
        assert!(p.blocks.iter().all(|b| b.kind == BlockKind::Paragraph));
        Ok(())
    }

    #[test]
    fn decodes_boms() {
        let mut utf8 = b"\xef\xbb\xbf".to_vec();
        utf8.extend_from_slice(SENTENCE.as_bytes());
        assert_eq!(decode(&utf8), SENTENCE);

        let mut le = vec![0xff, 0xfe];
        let mut be = vec![0xfe, 0xff];
        for unit in SENTENCE.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode(&le), SENTENCE);
        assert_eq!(decode(&be), SENTENCE);
    }

    #[test]
    fn decodes_cp949() {
        // 똠 and 힝 are outside EUC-KR proper: only CP949 has them.
        let original = format!("{SENTENCE}\n똠방각하 힝");
        let (bytes, _, unmappable) = EUC_KR.encode(&original);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(decode(&bytes), original);
    }

    #[test]
    fn damaged_cp949_still_reads_as_korean() {
        let (bytes, _, _) = EUC_KR.encode(SENTENCE);
        let mut damaged = bytes.into_owned();
        damaged.push(0xff);
        let decoded = decode(&damaged);
        assert!(decoded.starts_with(SENTENCE), "{decoded}");
    }

    #[test]
    fn invalid_utf8_and_nuls_are_not_failures() -> Result<(), ParseFailure> {
        let p = page(b"caf\xe9 \x00au\x00 lait\n\nok")?;
        assert_eq!(p.blocks[0].text, "caf\u{fffd} au lait");
        assert_eq!(p.blocks[1].text, "ok");
        Ok(())
    }

    #[test]
    fn whitespace_only_is_empty() {
        assert_eq!(
            TextParser.parse(b" \n\t\r\n\0", &Limits::default()),
            Err(ParseFailure::Empty)
        );
    }

    #[test]
    fn long_single_line_is_linear() -> Result<(), ParseFailure> {
        let line = "가나다 abc ".repeat(1_000_000);
        let p = page(line.as_bytes())?;
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.blocks[0].text, line.trim_end());
        Ok(())
    }
}
