//! Word documents (.docx, Office Open XML) through `zip` + `quick-xml`:
//! paragraphs, headings (from the paragraph style or outline level, resolved
//! through styles.xml, including Korean "제목 N" styles), list items and table
//! rows, in document order; the title from docProps/core.xml; then footnotes,
//! endnotes, headers and footers ([`parts`]).
//!
//! The zip and XML guards (entry count, inflate budget and ratio cap, XML
//! depth, no entities) live in [`super::ooxml`], shared with xlsx and pptx.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};

use super::ooxml::{self, Ctx, Xml, attr, next_event, read_part, resolve_ref};
use super::{BlockKind, BlockSink, DocKind, Limits, ParseFailure, ParsedDocument, Parser};

mod parts;

/// Reads `.docx` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DocxParser;

impl Parser for DocxParser {
    fn kind(&self) -> DocKind {
        DocKind::Docx
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if ooxml::is_ole2(bytes) {
            return Err(ooxml::ole2_failure(bytes, DocKind::Docx, "word (.doc)"));
        }
        let mut archive = ooxml::open(bytes, DocKind::Docx, limits)?;
        let mut ctx = Ctx::new(DocKind::Docx, limits);
        let styles = match read_part(&mut archive, "word/styles.xml", &mut ctx, parse_styles)? {
            Some(styles) => styles?,
            None => Styles::default(),
        };
        let title = ooxml::core_title(&mut archive, &mut ctx)?;
        let body = read_part(&mut archive, "word/document.xml", &mut ctx, |xml, ctx| {
            parse_body(xml, ctx, &styles, "document.xml")
        })?
        .ok_or_else(|| ParseFailure::Malformed {
            detail: "not a word document: word/document.xml is missing".to_owned(),
        })??;
        let title = title.or(body.first_title).or(body.first_h1);
        let mut sink = body.sink;
        parts::append(&mut archive, &mut ctx, &styles, &mut sink)?;
        Ok(ParsedDocument {
            kind: DocKind::Docx,
            title,
            pages: sink.into_single_page()?,
        })
    }
}

#[derive(Debug, Default)]
struct Styles {
    by_id: HashMap<String, Style>,
}

#[derive(Debug, Default, Clone)]
struct Style {
    heading: Option<u8>,
    title: bool,
    list: bool,
    based_on: Option<String>,
}

impl Styles {
    /// Heading level, title flag and list flag of a style, following
    /// `basedOn` (bounded, as the chain may be cyclic).
    fn resolve(&self, id: &str) -> Style {
        let mut out = Style::default();
        let mut current = Some(id.to_owned());
        for _ in 0..16 {
            let Some(style) = current.as_deref().and_then(|id| self.by_id.get(id)) else {
                break;
            };
            out.heading = out.heading.or(style.heading);
            out.title |= style.title;
            out.list |= style.list;
            current = style.based_on.clone();
        }
        out
    }
}

/// Heading level named by a style id or name: "Heading2", "heading 2",
/// "제목 2", "Title" (1). Only names, never numbers alone: Korean Word gives
/// heading styles ids like "2" whose *name* is "heading 2".
fn heading_from_name(name: &str) -> Option<u8> {
    let lower = name.trim().to_lowercase();
    if lower == "title" || lower == "제목" {
        return Some(1);
    }
    let rest = lower
        .strip_prefix("heading")
        .or_else(|| lower.strip_prefix("제목"))?;
    let level: u8 = rest.trim().parse().ok()?;
    (1..=9).contains(&level).then_some(level)
}

fn outline_level(e: &BytesStart<'_>) -> Option<u8> {
    // 0-based; 9 means body text.
    let level: u8 = attr(e, "val")?.parse().ok()?;
    (level < 9).then_some(level + 1)
}

fn parse_styles(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Styles, ParseFailure> {
    let mut styles = Styles::default();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut current: Option<(String, Style)> = None;
    loop {
        let event = next_event(xml, &mut buf, &mut depth, ctx, "styles.xml")?;
        match &event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "style" => {
                    if let Some(id) = attr(e, "styleId") {
                        let heading = heading_from_name(&id);
                        let title = id.eq_ignore_ascii_case("title");
                        current = Some((
                            id,
                            Style {
                                heading,
                                title,
                                ..Style::default()
                            },
                        ));
                    }
                }
                "name" => {
                    if let (Some((_, style)), Some(name)) = (&mut current, attr(e, "val")) {
                        style.heading = style.heading.or(heading_from_name(&name));
                        style.title |= name.eq_ignore_ascii_case("title");
                    }
                }
                "basedOn" => {
                    if let Some((_, style)) = &mut current {
                        style.based_on = attr(e, "val");
                    }
                }
                "outlineLvl" => {
                    if let Some((_, style)) = &mut current {
                        style.heading = style.heading.or(outline_level(e));
                    }
                }
                "numPr" => {
                    if let Some((_, style)) = &mut current {
                        style.list = true;
                    }
                }
                _ => {}
            },
            Event::End(e) if e.local_name().as_ref() == "style" => {
                if let Some((id, style)) = current.take() {
                    styles.by_id.insert(id, style);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(styles)
}

struct Body {
    sink: BlockSink,
    /// The first paragraph in the Title style, else the first top heading.
    first_title: Option<String>,
    first_h1: Option<String>,
}

/// One open `w:p`. Paragraphs nest (a text box's paragraphs sit inside a run
/// of the outer one), so these form a stack.
#[derive(Default)]
struct Para {
    style: Option<String>,
    outline: Option<u8>,
    numbered: bool,
    text: String,
}

/// One open `w:tr` and its cells. Tables nest inside cells.
#[derive(Default)]
struct Row {
    cells: Vec<String>,
}

/// Reads a story: the body, or a header, footer or notes part (`part` names
/// it in errors).
fn parse_body(
    xml: &mut Xml<'_>,
    ctx: &Ctx<'_>,
    styles: &Styles,
    part: &str,
) -> Result<Body, ParseFailure> {
    let mut body = Body {
        sink: BlockSink::default(),
        first_title: None,
        first_h1: None,
    };
    let mut buf = Vec::new();
    let mut depth = 0u32;
    let mut paras: Vec<Para> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut in_text = false;
    let mut in_run = 0u32;
    // Depth at which a skipped subtree (mc:Fallback duplicates, note
    // separators) started.
    let mut skip_from: Option<u32> = None;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, part)?;
        if let Some(from) = skip_from {
            if matches!(event, Event::End(_)) && depth < from {
                skip_from = None;
            }
            if !matches!(event, Event::Eof) {
                buf.clear();
                continue;
            }
        }
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "Fallback" => skip_from = Some(depth),
                // Separator lines and continuation notices, not notes.
                "footnote" | "endnote" if attr(e, "type").is_some_and(|t| t != "normal") => {
                    skip_from = Some(depth);
                }
                "p" => paras.push(Para::default()),
                "r" => in_run += 1,
                "t" => in_text = true,
                "tr" => rows.push(Row::default()),
                "tc" => {
                    if let Some(row) = rows.last_mut() {
                        row.cells.push(String::new());
                    }
                }
                other => para_property(other, e, paras.last_mut()),
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "p" => {}
                "tab" if in_run > 0 => push_text(&mut paras, "\t"),
                "br" | "cr" if in_run > 0 => push_text(&mut paras, "\n"),
                "noBreakHyphen" if in_run > 0 => push_text(&mut paras, "-"),
                other => para_property(other, e, paras.last_mut()),
            },
            Event::Text(t) if in_text => push_text(&mut paras, t),
            Event::GeneralRef(r) if in_text => {
                if let Some(c) = resolve_ref(r) {
                    push_text(&mut paras, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "r" => in_run = in_run.saturating_sub(1),
                "p" => {
                    if let Some(para) = paras.pop() {
                        end_paragraph(para, styles, &mut rows, &mut body);
                    }
                }
                "tr" => {
                    if let Some(row) = rows.pop() {
                        let joined = row
                            .cells
                            .iter()
                            .map(|c| c.trim())
                            .filter(|c| !c.is_empty())
                            .collect::<Vec<_>>()
                            .join(" | ");
                        match rows.last_mut().and_then(|r| r.cells.last_mut()) {
                            // A nested table's row becomes part of the outer cell.
                            Some(cell) => append_line(cell, &joined, "; "),
                            None => body.sink.push(BlockKind::TableRow, &joined),
                        }
                    }
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(body)
}

/// Paragraph properties that decide the block kind.
fn para_property(name: &str, e: &BytesStart<'_>, para: Option<&mut Para>) {
    let Some(para) = para else {
        return;
    };
    match name {
        "pStyle" => para.style = attr(e, "val"),
        "outlineLvl" => para.outline = outline_level(e),
        "numPr" => para.numbered = true,
        _ => {}
    }
}

fn push_text(paras: &mut [Para], text: &str) {
    if let Some(para) = paras.last_mut() {
        para.text.push_str(text);
    }
}

fn append_line(cell: &mut String, text: &str, separator: &str) {
    if text.trim().is_empty() {
        return;
    }
    if !cell.trim().is_empty() {
        cell.push_str(separator);
    }
    cell.push_str(text.trim());
}

fn end_paragraph(para: Para, styles: &Styles, rows: &mut [Row], body: &mut Body) {
    if let Some(cell) = rows.last_mut().and_then(|r| r.cells.last_mut()) {
        append_line(cell, &para.text, " ");
        return;
    }
    let style = para
        .style
        .as_deref()
        .map(|id| {
            let mut resolved = styles.resolve(id);
            // Documents without styles.xml still name built-in styles.
            resolved.heading = resolved.heading.or(heading_from_name(id));
            resolved
        })
        .unwrap_or_default();
    let kind = match para.outline.or(style.heading) {
        Some(level) => BlockKind::Heading { level },
        None if para.numbered || style.list => BlockKind::ListItem,
        None => BlockKind::Paragraph,
    };
    let text = para.text.trim();
    if !text.is_empty() {
        if body.first_title.is_none() && style.title {
            body.first_title = Some(text.to_owned());
        }
        if body.first_h1.is_none() && kind == (BlockKind::Heading { level: 1 }) {
            body.first_h1 = Some(text.to_owned());
        }
    }
    body.sink.push(kind, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::OLE2_MAGIC;
    use crate::parse::conformance::{SENTENCE, document_xml, docx_bytes};
    use crate::parse::ooxml::{MAX_RATIO, declared_entries};
    use crate::parse::{Block, ParsedPage};
    use flate2::{Compress, Compression, FlushCompress};
    use std::time::{Duration, Instant};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        DocxParser.parse(bytes, &Limits::default())
    }

    fn page(doc: &ParsedDocument) -> Result<&ParsedPage, ParseFailure> {
        doc.pages.first().ok_or(ParseFailure::Empty)
    }

    fn kinds_texts(blocks: &[Block]) -> Vec<(BlockKind, &str)> {
        blocks.iter().map(|b| (b.kind, b.text.as_str())).collect()
    }

    fn para(style: Option<&str>, text: &str) -> String {
        let props = style
            .map(|s| format!(r#"<w:pPr><w:pStyle w:val="{s}"/></w:pPr>"#))
            .unwrap_or_default();
        format!("<w:p>{props}<w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
    }

    const STYLES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
<w:style w:type="paragraph" w:styleId="1"><w:name w:val="heading 1"/><w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="a3"><w:name w:val="제목 2"/></w:style>
<w:style w:type="paragraph" w:styleId="Quote2"><w:name w:val="Quote"/><w:basedOn w:val="a3"/></w:style>
<w:style w:type="paragraph" w:styleId="a4"><w:name w:val="Title"/></w:style>
<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/><w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>
<w:style w:type="paragraph" w:styleId="Loop1"><w:name w:val="Loop"/><w:basedOn w:val="Loop2"/></w:style>
<w:style w:type="paragraph" w:styleId="Loop2"><w:name w:val="Loop"/><w:basedOn w:val="Loop1"/></w:style>
</w:styles>"#;

    #[test]
    fn structure_in_document_order() -> TestResult {
        let body = [
            para(Some("a4"), "진료 지침"),
            para(Some("1"), "고혈압"),
            para(None, SENTENCE),
            // Runs split mid-word, a tab, a break and escaped characters.
            "<w:p><w:r><w:t>Blood pres</w:t></w:r><w:r><w:t>sure &lt; 130</w:t><w:tab/><w:t>&#xD55C;글</w:t><w:br/><w:t>next</w:t></w:r></w:p>".to_owned(),
            para(Some("Quote2"), "Inherited heading"),
            para(Some("Heading3"), "Built-in style id"),
            r#"<w:p><w:pPr><w:outlineLvl w:val="4"/></w:pPr><w:r><w:t>Outline level</w:t></w:r></w:p>"#.to_owned(),
            para(Some("ListBullet"), "style list item"),
            r#"<w:p><w:pPr><w:pStyle w:val="ListParagraph"/><w:numPr><w:ilvl w:val="0"/><w:numId w:val="2"/></w:numPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>numbered item</w:t></w:r></w:p>"#.to_owned(),
            "<w:tbl><w:tblPr/><w:tr><w:tc><w:p><w:r><w:t>약물</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>용량</w:t></w:r></w:p></w:tc></w:tr>\
             <w:tr><w:tc><w:p><w:r><w:t>암로디핀</w:t></w:r></w:p><w:p><w:r><w:t>(Norvasc)</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>5 mg</w:t></w:r></w:p></w:tc></w:tr></w:tbl>".to_owned(),
            // Text boxes come twice (the DrawingML choice and a VML fallback).
            "<w:p><w:r><mc:AlternateContent><mc:Choice Requires=\"wps\"><w:drawing><w:txbxContent><w:p><w:r><w:t>box text</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice>\
             <mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t>box text</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>outer</w:t></w:r></w:p>".to_owned(),
            // Deleted text and field codes are not content.
            "<w:p><w:del><w:r><w:delText>deleted</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:t>kept</w:t></w:r></w:p>".to_owned(),
            para(Some("Loop1"), "cyclic style"),
        ]
        .concat();
        let bytes = docx_bytes(&[
            ("word/document.xml", &document_xml(&body)),
            ("word/styles.xml", STYLES),
        ])?;
        let doc = parse(&bytes)?;
        assert_eq!(doc.title.as_deref(), Some("진료 지침"));
        assert_eq!(
            kinds_texts(&page(&doc)?.blocks),
            [
                (BlockKind::Heading { level: 1 }, "진료 지침"),
                (BlockKind::Heading { level: 1 }, "고혈압"),
                (BlockKind::Paragraph, SENTENCE),
                (BlockKind::Paragraph, "Blood pressure < 130\t한글\nnext"),
                (BlockKind::Heading { level: 2 }, "Inherited heading"),
                (BlockKind::Heading { level: 3 }, "Built-in style id"),
                (BlockKind::Heading { level: 5 }, "Outline level"),
                (BlockKind::ListItem, "style list item"),
                (BlockKind::ListItem, "numbered item"),
                (BlockKind::TableRow, "약물 | 용량"),
                (BlockKind::TableRow, "암로디핀 (Norvasc) | 5 mg"),
                (BlockKind::Paragraph, "box text"),
                (BlockKind::Paragraph, "outer"),
                (BlockKind::Paragraph, "kept"),
                (BlockKind::Paragraph, "cyclic style"),
            ]
        );
        Ok(())
    }

    #[test]
    fn title_from_core_properties() -> TestResult {
        let core = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>고혈압 &amp; 당뇨</dc:title></cp:coreProperties>"#;
        let bytes = docx_bytes(&[
            (
                "word/document.xml",
                &document_xml(&para(Some("Heading1"), "Body heading")),
            ),
            ("docProps/core.xml", core),
        ])?;
        assert_eq!(parse(&bytes)?.title.as_deref(), Some("고혈압 & 당뇨"));
        Ok(())
    }

    #[test]
    fn not_a_zip_is_malformed() {
        assert_eq!(
            parse(b"Hello, I am a text file named .docx"),
            Err(ParseFailure::Malformed {
                detail: "not a docx: the file is not a zip archive".to_owned()
            })
        );
        assert!(matches!(
            parse(b"PK\x03\x04 truncated"),
            Err(ParseFailure::Malformed { .. })
        ));
    }

    #[test]
    fn ole2_files_are_encrypted_or_old_word() {
        let mut protected = OLE2_MAGIC.to_vec();
        protected.extend(vec![0; 100]);
        protected.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&protected), Err(ParseFailure::Encrypted));
        let mut old = OLE2_MAGIC.to_vec();
        old.extend(vec![0; 100]);
        assert!(
            matches!(parse(&old), Err(ParseFailure::Malformed { detail }) if detail.contains(".doc"))
        );
    }

    #[test]
    fn zip_without_document_is_not_word() -> TestResult {
        let bytes = docx_bytes(&[("xl/workbook.xml", "<workbook/>")])?;
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::Malformed {
                detail: "not a word document: word/document.xml is missing".to_owned()
            })
        );
        Ok(())
    }

    #[test]
    fn billion_laughs_is_not_expanded() -> TestResult {
        let mut dtd = String::from(r#"<!DOCTYPE lolz [<!ENTITY lol "lol">"#);
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            dtd.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str("]>");
        let xml = format!(
            r#"<?xml version="1.0"?>{dtd}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>before &lol9; after</w:t></w:r></w:p></w:body></w:document>"#
        );
        let bytes = docx_bytes(&[("word/document.xml", &xml)])?;
        let started = Instant::now();
        let doc = parse(&bytes)?;
        assert_eq!(page(&doc)?.text(), "before  after");
        assert!(started.elapsed() < Duration::from_secs(5));
        Ok(())
    }

    #[test]
    fn external_entities_are_never_resolved() -> TestResult {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY file SYSTEM "file:///etc/passwd"><!ENTITY web SYSTEM "http://127.0.0.1:9/x">]><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>a&file;b&web;c</w:t></w:r></w:p></w:body></w:document>"#;
        let bytes = docx_bytes(&[("word/document.xml", xml)])?;
        let doc = parse(&bytes)?;
        assert_eq!(page(&doc)?.text(), "abc");
        Ok(())
    }

    #[test]
    fn deep_xml_is_cut_off() -> TestResult {
        let depth = 1000;
        let xml = document_xml(&format!(
            "{}<w:p><w:r><w:t>deep</w:t></w:r></w:p>{}",
            "<w:sdt><w:sdtContent>".repeat(depth),
            "</w:sdtContent></w:sdt>".repeat(depth)
        ));
        let bytes = docx_bytes(&[("word/document.xml", &xml)])?;
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 256
            })
        );
        Ok(())
    }

    /// A raw deflate stream of `blocks` MiB of zeros, built from one
    /// compressed MiB repeated: a full flush ends each block on a byte
    /// boundary with no back-references, so blocks can be concatenated.
    fn zeros_deflated(blocks: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let mut compress = Compress::new(Compression::best(), false);
        let mut block = Vec::with_capacity(8192);
        compress.compress_vec(&vec![0; 1 << 20], &mut block, FlushCompress::Full)?;
        let mut out = block.repeat(blocks);
        // A final, empty fixed-Huffman block.
        out.extend_from_slice(&[0x03, 0x00]);
        Ok(out)
    }

    /// A zip with one deflated `word/document.xml` entry whose headers declare
    /// `declared` bytes, written by hand (the `zip` writer would have to
    /// compress the whole gigabyte).
    fn raw_zip(data: &[u8], declared: u32) -> Vec<u8> {
        let name = b"word/document.xml";
        let mut out = Vec::new();
        let header = |sig: &[u8], out: &mut Vec<u8>, central: bool| {
            out.extend_from_slice(sig);
            if central {
                out.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            out.extend_from_slice(&20u16.to_le_bytes()); // version needed
            out.extend_from_slice(&0u16.to_le_bytes()); // flags
            out.extend_from_slice(&8u16.to_le_bytes()); // deflate
            out.extend_from_slice(&[0; 4]); // time, date
            out.extend_from_slice(&0u32.to_le_bytes()); // crc (never reached)
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&declared.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                out.extend_from_slice(&[0; 6]); // comment, disk, internal attrs
                out.extend_from_slice(&0u32.to_le_bytes()); // external attrs
                out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
            }
            out.extend_from_slice(name);
        };
        header(b"PK\x03\x04", &mut out, false);
        out.extend_from_slice(data);
        let directory = out.len() as u32;
        header(b"PK\x01\x02", &mut out, true);
        let directory_len = out.len() as u32 - directory;
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&directory_len.to_le_bytes());
        out.extend_from_slice(&directory.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn gigabyte_zip_bomb_is_refused() -> TestResult {
        let gib = zeros_deflated(1024)?;
        assert!(gib.len() < 2 << 20, "bomb is {} bytes", gib.len());
        let started = Instant::now();
        // Honest headers: refused from the declared size, nothing inflated.
        assert_eq!(
            parse(&raw_zip(&gib, 1 << 30)),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 512 * 1024 * 1024
            })
        );
        // Lying headers: whatever the reader does, it stops early.
        let lying = parse(&raw_zip(&gib, 1000));
        assert!(
            matches!(
                lying,
                Err(ParseFailure::LimitExceeded { .. } | ParseFailure::Malformed { .. })
            ),
            "{lying:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(20));
        Ok(())
    }

    #[test]
    fn compression_ratio_is_capped() -> TestResult {
        // 64 MiB of zeros declares a size within the budget: the streaming
        // ratio guard has to catch it.
        let bytes = raw_zip(&zeros_deflated(64)?, 64 << 20);
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "zip compression ratio",
                max: MAX_RATIO
            })
        );
        Ok(())
    }

    #[test]
    fn small_budget_is_enforced() -> TestResult {
        let bytes = docx_bytes(&[("word/document.xml", &document_xml(&para(None, SENTENCE)))])?;
        let limits = Limits {
            max_decompressed_bytes: 100,
            ..Limits::default()
        };
        assert_eq!(
            DocxParser.parse(&bytes, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 100
            })
        );
        Ok(())
    }

    /// The end of a zip64 archive claiming a million entries, with no
    /// entries at all: only the count may be read.
    fn million_entry_zip() -> Vec<u8> {
        let mut out = b"PK\x03\x04".to_vec();
        out.extend_from_slice(&[0; 26]);
        let record = out.len() as u64;
        out.extend_from_slice(b"PK\x06\x06");
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // disk numbers
        out.extend_from_slice(&1_000_000u64.to_le_bytes()); // on this disk
        out.extend_from_slice(&1_000_000u64.to_le_bytes()); // total
        out.extend_from_slice(&(46u64 * 1_000_000).to_le_bytes()); // directory size
        out.extend_from_slice(&30u64.to_le_bytes()); // directory offset
        out.extend_from_slice(b"PK\x06\x07");
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&record.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(b"PK\x05\x06");
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&[0xff; 4]); // entries: see zip64
        out.extend_from_slice(&[0xff; 8]); // size, offset: see zip64
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn million_entries_are_refused_from_the_count() {
        let bytes = million_entry_zip();
        assert_eq!(declared_entries(&bytes), Some(1_000_000));
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "max_zip_entries",
                max: 10_000
            })
        );
    }

    #[test]
    fn entry_limit_counts_real_entries() -> TestResult {
        let names: Vec<String> = (0..20).map(|i| format!("media/{i}.xml")).collect();
        let mut parts: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "<x/>")).collect();
        let document = document_xml(&para(None, "x"));
        parts.push(("word/document.xml", &document));
        let bytes = docx_bytes(&parts)?;
        let limits = Limits {
            max_zip_entries: 10,
            ..Limits::default()
        };
        assert_eq!(
            DocxParser.parse(&bytes, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_zip_entries",
                max: 10
            })
        );
        Ok(())
    }
}
