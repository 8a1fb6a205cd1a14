//! The parts of a Word document around its body: footnotes, endnotes,
//! headers and footers. They are found through
//! `word/_rels/document.xml.rels` (by their usual names when that is
//! missing) and read with the body's parser under the same guards (shared
//! inflate budget, XML depth, no entities). Their blocks go after the body,
//! each kind under a level-1 heading naming it, so search hits and chunk
//! heading paths say where the text came from. Page layout (which header is
//! on which page) is not kept: a header is text that applies to the whole
//! document, so each distinct one is indexed once.

use std::collections::HashSet;
use std::io::Cursor;

use quick_xml::events::Event;
use zip::ZipArchive;

use super::{Ctx, Styles, Xml, attr, next_event, parse_body, read_part};
use crate::parse::{BlockKind, BlockSink, ParseFailure};

/// Heading put before the footnotes.
pub(super) const FOOTNOTES: &str = "Footnotes";
/// Heading put before the endnotes.
pub(super) const ENDNOTES: &str = "Endnotes";
/// Heading put before the distinct header and footer texts.
pub(super) const HEADERS_FOOTERS: &str = "Headers and footers";

const RELS: &str = "word/_rels/document.xml.rels";

/// What a part holds; the order is the order of the sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Footnotes,
    Endnotes,
    Header,
    Footer,
}

impl Role {
    fn from_relationship(kind: &str) -> Option<Role> {
        // Transitional and Strict OOXML differ only before the last '/'.
        match kind.rsplit('/').next()? {
            "footnotes" => Some(Role::Footnotes),
            "endnotes" => Some(Role::Endnotes),
            "header" => Some(Role::Header),
            "footer" => Some(Role::Footer),
            _ => None,
        }
    }

    fn from_name(name: &str) -> Option<Role> {
        let file = name.strip_prefix("word/")?;
        let numbered = |prefix: &str| {
            file.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(".xml"))
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        };
        match file {
            "footnotes.xml" => Some(Role::Footnotes),
            "endnotes.xml" => Some(Role::Endnotes),
            _ if numbered("header") => Some(Role::Header),
            _ if numbered("footer") => Some(Role::Footer),
            _ => None,
        }
    }

    fn heading(self) -> &'static str {
        match self {
            Role::Footnotes => FOOTNOTES,
            Role::Endnotes => ENDNOTES,
            Role::Header | Role::Footer => HEADERS_FOOTERS,
        }
    }
}

/// Reads the notes, headers and footers and appends them to `sink`.
///
/// A damaged part is skipped (the body is still worth indexing); a limit or
/// the deadline stops the whole document as in the body.
pub(super) fn append(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    ctx: &mut Ctx<'_>,
    styles: &Styles,
    sink: &mut BlockSink,
) -> Result<(), ParseFailure> {
    let mut parts = match read_part(archive, RELS, ctx, parse_rels)? {
        Some(Ok(parts)) => parts,
        Some(Err(ParseFailure::Malformed { .. })) | None => by_name(archive),
        Some(Err(other)) => return Err(other),
    };
    // Stable: sections in role order, parts of one role in rels order.
    parts.sort_by_key(|(role, _)| *role);
    let mut section: Option<(&'static str, BlockSink)> = None;
    let mut seen = HashSet::new();
    for (role, name) in parts {
        ctx.deadline.check()?;
        let blocks = match read_part(archive, &name, ctx, |xml, ctx| {
            parse_body(xml, ctx, styles, &name)
        })? {
            Some(Ok(body)) => body.sink.into_blocks(),
            Some(Err(ParseFailure::Malformed { .. })) => {
                tracing::debug!(part = %name, "skipped a damaged docx part");
                continue;
            }
            Some(Err(other)) => return Err(other),
            None => continue,
        };
        let heading = role.heading();
        if section.as_ref().is_none_or(|(h, _)| *h != heading) {
            flush(section.take(), sink);
            section = Some((heading, BlockSink::default()));
        }
        let Some((_, blocks_of_section)) = section.as_mut() else {
            continue;
        };
        for block in blocks {
            // Headers repeat per section and as first-page/even-page variants.
            if matches!(role, Role::Header | Role::Footer) && !seen.insert(block.text.clone()) {
                continue;
            }
            // A heading style inside a note would take over the heading path.
            let kind = match block.kind {
                BlockKind::Heading { .. } => BlockKind::Paragraph,
                other => other,
            };
            blocks_of_section.push(kind, &block.text);
        }
    }
    flush(section, sink);
    Ok(())
}

fn flush(section: Option<(&'static str, BlockSink)>, sink: &mut BlockSink) {
    let Some((heading, blocks)) = section else {
        return;
    };
    if blocks.is_empty() {
        return;
    }
    sink.push(BlockKind::Heading { level: 1 }, heading);
    for block in blocks.into_blocks() {
        sink.push(block.kind, &block.text);
    }
}

/// The note, header and footer parts the body's relationships name, each
/// once, in the order listed.
fn parse_rels(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Vec<(Role, String)>, ParseFailure> {
    let mut parts: Vec<(Role, String)> = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    loop {
        let event = next_event(xml, &mut buf, &mut depth, ctx, "document.xml.rels")?;
        match &event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let external = attr(e, "TargetMode").is_some_and(|m| m == "External");
                let role = attr(e, "Type").and_then(|t| Role::from_relationship(&t));
                let path = attr(e, "Target").and_then(|t| resolve_target(&t));
                if let (false, Some(role), Some(path)) = (external, role, path)
                    && !parts.iter().any(|(_, p)| *p == path)
                {
                    parts.push((role, path));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(parts)
}

/// The zip entry name a relationship target in `word/` points at.
fn resolve_target(target: &str) -> Option<String> {
    let (mut segments, rest) = match target.strip_prefix('/') {
        Some(absolute) => (Vec::new(), absolute),
        None => (vec!["word"], target),
    };
    for segment in rest.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            name => segments.push(name),
        }
    }
    (!segments.is_empty()).then(|| segments.join("/"))
}

/// Without relationships, the parts Word would have written, sorted.
fn by_name(archive: &ZipArchive<Cursor<&[u8]>>) -> Vec<(Role, String)> {
    let mut parts: Vec<(Role, String)> = archive
        .file_names()
        .filter_map(|name| {
            let name = name.ok()?;
            Some((Role::from_name(&name)?, name.into_owned()))
        })
        .collect();
    parts.sort();
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::conformance::{SENTENCE, docx_bytes};
    use crate::parse::{Block, Limits, ParsedDocument, Parser};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const NS: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    fn p(text: &str) -> String {
        format!("<w:p><w:r><w:t xml:space=\"preserve\">{text}</w:t></w:r></w:p>")
    }

    fn document(body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><w:document {NS}><w:body>{body}<w:sectPr><w:headerReference w:type="default" r:id="rId8"/></w:sectPr></w:body></w:document>"#
        )
    }

    fn notes(element: &str, notes: &[(&str, Option<&str>, &str)]) -> String {
        let mut out = format!(r#"<?xml version="1.0"?><w:{element}s {NS}>"#);
        for (id, kind, body) in notes {
            let kind = kind
                .map(|k| format!(r#" w:type="{k}""#))
                .unwrap_or_default();
            out.push_str(&format!(
                r#"<w:{element}{kind} w:id="{id}">{body}</w:{element}>"#
            ));
        }
        out.push_str(&format!("</w:{element}s>"));
        out
    }

    fn header(element: &str, body: &str) -> String {
        format!(r#"<?xml version="1.0"?><w:{element} {NS}>{body}</w:{element}>"#)
    }

    fn rels(entries: &[(&str, &str)]) -> String {
        let mut out = String::from(
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">"#,
        );
        for (i, (kind, target)) in entries.iter().enumerate() {
            out.push_str(&format!(
                r#"<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}" Target="{target}"/>"#
            ));
        }
        out.push_str(
            r#"<Relationship Id="rIdX" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.com/header9.xml" TargetMode="External"/></Relationships>"#,
        );
        out
    }

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        super::super::DocxParser.parse(bytes, &Limits::default())
    }

    fn kinds_texts(doc: &ParsedDocument) -> Vec<(BlockKind, &str)> {
        doc.pages
            .iter()
            .flat_map(|p| &p.blocks)
            .map(|b: &Block| (b.kind, b.text.as_str()))
            .collect()
    }

    fn h1(text: &str) -> (BlockKind, &str) {
        (BlockKind::Heading { level: 1 }, text)
    }

    fn para(text: &str) -> (BlockKind, &str) {
        (BlockKind::Paragraph, text)
    }

    fn full_document() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let footnotes = notes(
            "footnote",
            &[
                (
                    "-1",
                    Some("separator"),
                    "<w:p><w:r><w:separator/></w:r></w:p>",
                ),
                (
                    "0",
                    Some("continuationSeparator"),
                    "<w:p><w:r><w:t>continuation junk</w:t></w:r></w:p>",
                ),
                (
                    "1",
                    None,
                    &format!(
                        "<w:p><w:r><w:footnoteRef/></w:r><w:r><w:t>{SENTENCE}</w:t></w:r></w:p>"
                    ),
                ),
                ("2", Some("normal"), &p("Second note")),
            ],
        );
        let endnotes = notes(
            "endnote",
            &[("-1", Some("separator"), ""), ("1", None, &p("끝 주석"))],
        );
        let heading_in_header = r#"<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Hospital A</w:t></w:r></w:p>"#;
        docx_bytes(&[
            (
                "word/document.xml",
                &document(&format!("{}{}", p("Body text"), p("More body"))),
            ),
            (
                RELS,
                &rels(&[
                    ("styles", "styles.xml"),
                    ("header", "header1.xml"),
                    ("footer", "/word/footer1.xml"),
                    ("header", "./header2.xml"),
                    ("endnotes", "endnotes.xml"),
                    ("footnotes", "footnotes.xml"),
                    ("header", "../word/header1.xml"),
                ]),
            ),
            ("word/footnotes.xml", &footnotes),
            ("word/endnotes.xml", &endnotes),
            (
                "word/header1.xml",
                &header("hdr", &format!("{heading_in_header}{}", p("Confidential"))),
            ),
            // The first-page variant repeats one line and adds one.
            (
                "word/header2.xml",
                &header("hdr", &format!("{}{}", p("Confidential"), p("Draft"))),
            ),
            ("word/footer1.xml", &header("ftr", &p("Page 1"))),
            // Not related to the document: never read.
            ("word/header3.xml", &header("hdr", &p("Orphan header"))),
        ])
    }

    #[test]
    fn notes_headers_and_footers_follow_the_body() -> TestResult {
        let doc = parse(&full_document()?)?;
        assert_eq!(
            kinds_texts(&doc),
            [
                para("Body text"),
                para("More body"),
                h1(FOOTNOTES),
                para(SENTENCE),
                para("Second note"),
                h1(ENDNOTES),
                para("끝 주석"),
                h1(HEADERS_FOOTERS),
                para("Hospital A"),
                para("Confidential"),
                para("Draft"),
                para("Page 1"),
            ]
        );
        // Synthetic headings never become the title.
        assert_eq!(doc.title, None);
        Ok(())
    }

    #[test]
    fn without_rels_parts_are_found_by_name() -> TestResult {
        let bytes = docx_bytes(&[
            ("word/document.xml", &document(&p("Body"))),
            ("word/footer2.xml", &header("ftr", &p("Footer two"))),
            ("word/header1.xml", &header("hdr", &p("Header one"))),
            ("word/headerless.xml", &header("hdr", &p("Not a header"))),
            (
                "word/footnotes.xml",
                &notes("footnote", &[("1", None, &p("Note"))]),
            ),
        ])?;
        assert_eq!(
            kinds_texts(&parse(&bytes)?),
            [
                para("Body"),
                h1(FOOTNOTES),
                para("Note"),
                h1(HEADERS_FOOTERS),
                para("Header one"),
                para("Footer two"),
            ]
        );
        Ok(())
    }

    #[test]
    fn a_damaged_part_is_skipped_but_limits_still_hold() -> TestResult {
        let broken = docx_bytes(&[
            ("word/document.xml", &document(&p("Body"))),
            ("word/header1.xml", "<w:hdr><w:p></w:hdr>"),
            ("word/footer1.xml", &header("ftr", &p("Footer"))),
        ])?;
        assert_eq!(
            kinds_texts(&parse(&broken)?),
            [para("Body"), h1(HEADERS_FOOTERS), para("Footer")]
        );
        let deep = docx_bytes(&[
            ("word/document.xml", &document(&p("Body"))),
            (
                "word/footnotes.xml",
                &header("footnotes", &"<w:sdt>".repeat(300)),
            ),
        ])?;
        assert_eq!(
            parse(&deep),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 256
            })
        );
        // The inflate budget is shared with the body: enough for the body
        // alone is not enough for the rest.
        let body = document(&format!("{}{}", p("Body text"), p("More body")));
        let limits = Limits {
            max_decompressed_bytes: body.len() as u64 + 10,
            ..Limits::default()
        };
        assert_eq!(
            super::super::DocxParser.parse(&full_document()?, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: limits.max_decompressed_bytes
            })
        );
        Ok(())
    }

    #[test]
    fn entities_in_notes_are_not_expanded() -> TestResult {
        let xml = format!(
            r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd"><!ENTITY a "aaaaaaaaaa">]><w:footnotes {NS}><w:footnote w:id="1"><w:p><w:r><w:t>a&x;b&a;c&amp;</w:t></w:r></w:p></w:footnote></w:footnotes>"#
        );
        let bytes = docx_bytes(&[
            ("word/document.xml", &document(&p("Body"))),
            ("word/footnotes.xml", &xml),
        ])?;
        assert_eq!(
            kinds_texts(&parse(&bytes)?),
            [para("Body"), h1(FOOTNOTES), para("abc&")]
        );
        Ok(())
    }

    #[test]
    fn targets_resolve_inside_the_package() {
        assert_eq!(
            resolve_target("header1.xml").as_deref(),
            Some("word/header1.xml")
        );
        assert_eq!(resolve_target("/word/h.xml").as_deref(), Some("word/h.xml"));
        assert_eq!(
            resolve_target("../customXml/a.xml").as_deref(),
            Some("customXml/a.xml")
        );
        assert_eq!(resolve_target("../../etc/passwd"), None);
        assert_eq!(resolve_target("/"), None);
    }
}
