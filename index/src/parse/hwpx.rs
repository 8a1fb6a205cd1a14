//! HWPX documents (Hancom's OWPML, KS X 6101): a zip package whose
//! `Contents/content.hpf` lists the parts (manifest) and their reading order
//! (spine), whose `Contents/header.xml` holds the shared paragraph shapes,
//! and whose `Contents/section*.xml` hold the text: paragraphs `<hp:p>` of
//! runs whose `<hp:t>` elements carry the characters, with tables
//! (`<hp:tbl>/<hp:tr>/<hp:tc>`), text boxes, notes, headers and footers
//! nested in them.
//!
//! The paragraph, table, note and page rules are [`super::hancom`]'s, the
//! same as for binary HWP: headings are paragraphs whose shape
//! (`paraPrIDRef` into header.xml) has an outline (개요) heading level, tables
//! are one row block per `<hp:tr>` with cells joined with `" | "`, ruby
//! (`<hp:dutmal>`) reads as "base(annotation)", pages follow sections,
//! `pageBreak="1"` and the saved line layout. The title is the package's
//! `<opf:title>`; sections come in spine order, or by number when there is
//! no usable content.hpf.
//!
//! Password-protected packages (their manifest lists `encryption-data`) are
//! [`ParseFailure::Encrypted`]. The zip and XML guards are [`super::ooxml`]'s (entry count read before the
//! directory, inflate budget and ratio cap, XML depth, DTDs ignored so no
//! entity is ever expanded or fetched). On top of them a package holding an
//! entry named with `..` or an absolute path is refused outright: nothing is
//! written to disk, but no honest HWPX has one.

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};

use super::hancom::{Control, Shape, Tree};
use super::ooxml::{
    self, Archive, Ctx, Xml, attr, next_event, read_part, resolve_ref, resolve_target,
};
use super::{DocKind, Limits, ParseFailure, ParsedDocument, Parser};

/// Reads HWPX (OWPML) documents.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HwpxParser;

const PACKAGE: &str = "Contents/content.hpf";
const HEADER: &str = "Contents/header.xml";
/// The ODF-style manifest, which lists `encryption-data` for the parts of a
/// password-protected document.
const MANIFEST: &str = "META-INF/manifest.xml";

impl Parser for HwpxParser {
    fn kind(&self) -> DocKind {
        DocKind::Hwpx
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if ooxml::is_ole2(bytes) {
            return Err(malformed(
                "this is a binary hwp 5.0 file, not hwpx; name it .hwp",
            ));
        }
        let mut archive = ooxml::open(bytes, DocKind::Hwpx, limits)?;
        if archive.file_names_raw().any(unsafe_name) {
            return Err(malformed(
                "the hwpx package names a file outside itself (an absolute or ../ path)",
            ));
        }
        let mut ctx = Ctx::new(DocKind::Hwpx, limits);
        ctx.deadline.check()?;
        if let Some(Ok(true)) = read_part(&mut archive, MANIFEST, &mut ctx, is_encrypted)? {
            return Err(ParseFailure::Encrypted);
        }
        let package = match read_part(&mut archive, PACKAGE, &mut ctx, parse_package)? {
            Some(Ok(package)) => package,
            // A damaged manifest costs the order and title, not the text.
            Some(Err(ParseFailure::Malformed { .. })) | None => Package::default(),
            Some(Err(other)) => return Err(other),
        };
        let sections = section_parts(&archive, &package);
        if sections.is_empty() {
            return Err(malformed(
                "not an hwpx document: there is no Contents/section0.xml",
            ));
        }
        if sections.len() > limits.max_pages as usize {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: u64::from(limits.max_pages),
            });
        }
        let shapes = match read_part(&mut archive, HEADER, &mut ctx, parse_header)? {
            Some(Ok(shapes)) => shapes,
            Some(Err(ParseFailure::Malformed { .. })) | None => HashMap::new(),
            Some(Err(other)) => return Err(other),
        };
        let mut tree = Tree::new(limits);
        for name in &sections {
            ctx.deadline.check()?;
            tree.start_section()?;
            read_part(&mut archive, name, &mut ctx, |xml, ctx| {
                parse_section(xml, ctx, &shapes, &mut tree, name)
            })?
            .ok_or_else(|| malformed("a section named in content.hpf is missing"))??;
        }
        Ok(ParsedDocument {
            kind: DocKind::Hwpx,
            title: package.title,
            pages: tree.finish()?,
        })
    }
}

fn malformed(detail: &str) -> ParseFailure {
    ParseFailure::Malformed {
        detail: detail.to_owned(),
    }
}

/// An entry name that would point outside the package if it were ever
/// extracted: absolute, with a drive letter, or climbing with `..`.
fn unsafe_name(name: &[u8]) -> bool {
    name.starts_with(b"/")
        || name.starts_with(b"\\")
        || name.get(1) == Some(&b':')
        || name.split(|&b| b == b'/' || b == b'\\').any(|s| s == b"..")
}

/// What `content.hpf` says: the title, the parts by id, the reading order.
#[derive(Debug, Default)]
struct Package {
    title: Option<String>,
    /// (id, href) of each manifest item.
    items: Vec<(String, String)>,
    /// Item ids in reading order.
    spine: Vec<String>,
}

fn parse_package(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Package, ParseFailure> {
    let mut package = Package::default();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut in_title = false;
    let mut title = String::new();
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "content.hpf")?;
        match &event {
            Event::Start(e) if e.local_name().as_ref() == "title" => in_title = true,
            Event::End(e) if e.local_name().as_ref() == "title" => in_title = false,
            Event::Text(t) if in_title => title.push_str(t),
            Event::GeneralRef(r) if in_title => title.extend(resolve_ref(r)),
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                "item" => {
                    if let (Some(id), Some(href)) = (attr(e, "id"), attr(e, "href")) {
                        package.items.push((id, href));
                    }
                }
                "itemref" => package.spine.extend(attr(e, "idref")),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let title = title.trim();
    package.title = (!title.is_empty()).then(|| title.to_owned());
    Ok(package)
}

fn is_encrypted(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<bool, ParseFailure> {
    let mut buf = Vec::new();
    let mut depth = 0;
    loop {
        match next_event(xml, &mut buf, &mut depth, ctx, "manifest.xml")? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "encryption-data" => {
                return Ok(true);
            }
            Event::Eof => return Ok(false),
            _ => {}
        }
        buf.clear();
    }
}

/// The number of a section part (`Contents/section12.xml` → 12).
fn section_number(name: &str) -> Option<u32> {
    let file = name.rsplit('/').next()?;
    let lower = file.to_ascii_lowercase();
    lower
        .strip_prefix("section")?
        .strip_suffix(".xml")?
        .parse()
        .ok()
}

/// The section parts in reading order: the spine's, or failing that every
/// `Contents/section*.xml` by number.
fn section_parts(archive: &Archive<'_>, package: &Package) -> Vec<String> {
    let exists = |name: &str| archive.index_for_name(name).is_some();
    let mut out: Vec<String> = Vec::new();
    for idref in &package.spine {
        let Some((_, href)) = package.items.iter().find(|(id, _)| id == idref) else {
            continue;
        };
        // Hangul writes hrefs from the package root; the OPF rule is from
        // the manifest's folder. Either way never above the root.
        let name = [resolve_target("", href), resolve_target("Contents", href)]
            .into_iter()
            .flatten()
            .find(|n| exists(n));
        if let Some(name) = name
            && section_number(&name).is_some()
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    if out.is_empty() {
        let mut numbered: Vec<(u32, String)> = archive
            .file_names()
            .flatten()
            .filter(|n| n.starts_with("Contents/"))
            .filter_map(|n| Some((section_number(&n)?, n.into_owned())))
            .collect();
        numbered.sort();
        out = numbered.into_iter().map(|(_, n)| n).collect();
    }
    out
}

/// The paragraph shapes (`hh:paraPr`) by id, from their `hh:heading`.
fn parse_header(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<HashMap<String, Shape>, ParseFailure> {
    let mut shapes = HashMap::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut current: Option<(String, Shape)> = None;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "header.xml")?;
        match &event {
            Event::Start(e) if e.local_name().as_ref() == "paraPr" => {
                current = attr(e, "id").map(|id| (id, Shape::Plain));
            }
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "heading" => {
                if let Some((_, shape)) = &mut current {
                    *shape = heading_shape(e);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "paraPr" => {
                if let Some((id, shape)) = current.take() {
                    shapes.insert(id, shape);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(shapes)
}

/// `<hh:heading type="OUTLINE" level="0"/>`: outline levels are headings,
/// numbers and bullets list items.
fn heading_shape(e: &BytesStart<'_>) -> Shape {
    match attr(e, "type").as_deref() {
        Some("OUTLINE") => {
            let level = attr(e, "level").and_then(|l| l.parse().ok()).unwrap_or(0);
            Shape::heading(level)
        }
        Some("NUMBER" | "BULLET") => Shape::List,
        _ => Shape::Plain,
    }
}

/// Where text in a ruby (`hp:dutmal`) goes.
#[derive(Default)]
struct Ruby {
    main: String,
    sub: String,
    in_main: bool,
    in_sub: bool,
}

fn parse_section(
    xml: &mut Xml<'_>,
    ctx: &Ctx<'_>,
    shapes: &HashMap<String, Shape>,
    tree: &mut Tree,
    part: &str,
) -> Result<(), ParseFailure> {
    let mut buf = Vec::new();
    let mut depth = 0u32;
    // Inside `hp:t` (text) elements.
    let mut in_text = 0u32;
    let mut ruby: Option<Ruby> = None;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, part)?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "p" => {
                    let shape = attr(e, "paraPrIDRef")
                        .and_then(|id| shapes.get(&id).copied())
                        .unwrap_or_default();
                    let breaks = attr(e, "pageBreak").is_some_and(|v| v == "1" || v == "true");
                    tree.open_para(depth, shape, breaks)?;
                }
                "t" => in_text += 1,
                "tbl" => tree.open_control(depth, Control::Table, None)?,
                "tr" => tree.table_row(),
                "tc" => tree.cell(None),
                "header" | "footer" | "masterPage" => {
                    tree.open_control(depth, Control::Repeated, None)?;
                }
                "footNote" => tree.open_control(depth, Control::Footnote, None)?,
                "endNote" => tree.open_control(depth, Control::Endnote, None)?,
                // The paragraphs of any other object (text boxes, hidden
                // comments) read where it stands.
                "subList" if tree.in_paragraph() => {
                    tree.open_control(depth, Control::Inline, None)?;
                }
                "dutmal" => ruby = Some(Ruby::default()),
                "mainText" => {
                    if let Some(r) = &mut ruby {
                        r.in_main = true;
                    }
                }
                "subText" => {
                    if let Some(r) = &mut ruby {
                        r.in_sub = true;
                    }
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "tab" if in_text > 0 => tree.text("\t"),
                "lineBreak" if in_text > 0 => tree.text("\n"),
                "hyphen" if in_text > 0 => tree.text("-"),
                "nbSpace" | "fwSpace" if in_text > 0 => tree.text(" "),
                "tr" => tree.table_row(),
                "tc" => tree.cell(None),
                "lineseg" => {
                    tree.line(attr(e, "flags").and_then(|f| f.parse().ok()).unwrap_or(0));
                }
                _ => {}
            },
            Event::Text(t) => match &mut ruby {
                Some(r) if r.in_main => r.main.push_str(t),
                Some(r) if r.in_sub => r.sub.push_str(t),
                _ if in_text > 0 => tree.text(t),
                _ => {}
            },
            Event::GeneralRef(r) => {
                if let Some(c) = resolve_ref(r) {
                    let c = c.encode_utf8(&mut [0; 4]).to_owned();
                    match &mut ruby {
                        Some(r) if r.in_main => r.main.push_str(&c),
                        Some(r) if r.in_sub => r.sub.push_str(&c),
                        _ if in_text > 0 => tree.text(&c),
                        _ => {}
                    }
                }
            }
            Event::End(e) => {
                match e.local_name().as_ref() {
                    "t" => in_text = in_text.saturating_sub(1),
                    "mainText" | "subText" => {
                        if let Some(r) = &mut ruby {
                            r.in_main = false;
                            r.in_sub = false;
                        }
                    }
                    "dutmal" => {
                        if let Some(r) = ruby.take() {
                            let (main, sub) = (r.main.trim(), r.sub.trim());
                            if sub.is_empty() || main.is_empty() {
                                tree.text(main);
                            } else {
                                tree.text(&format!("{main}({sub})"));
                            }
                        }
                    }
                    _ => {}
                }
                // Whatever this element opened (the element was one deeper).
                tree.close_to(depth + 1)?;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod fixtures {
    //! Builds HWPX packages for tests, laid out the way Hangul writes them.

    use std::io::{Cursor, Write};

    use zip::ZipWriter;
    use zip::write::SimpleFileOptions;

    pub(crate) type BuildResult<T> = Result<T, Box<dyn std::error::Error>>;

    const HP: &str = "http://www.hancom.co.kr/hwpml/2011/paragraph";

    /// A paragraph of one run of text, in paragraph shape `shape`.
    pub(crate) fn p(shape: u32, text: &str) -> String {
        format!(
            r#"<hp:p id="0" paraPrIDRef="{shape}" styleIDRef="0" pageBreak="0" columnBreak="0" merged="0"><hp:run charPrIDRef="0"><hp:t>{text}</hp:t></hp:run><hp:linesegarray><hp:lineseg textpos="0" vertpos="0" vertsize="1000" textheight="1000" baseline="850" spacing="600" horzpos="0" horzsize="42520" flags="393216"/></hp:linesegarray></hp:p>"#
        )
    }

    /// A table run: rows of cells, each cell one paragraph (already XML).
    pub(crate) fn tbl(rows: &[&[&str]]) -> String {
        let mut out = format!(
            r#"<hp:tbl id="1" zOrder="0" numberingType="TABLE" rowCnt="{}" colCnt="2" cellSpacing="0" borderFillIDRef="3"><hp:sz width="41954" height="2564"/><hp:pos treatAsChar="1"/><hp:inMargin left="510" right="510" top="141" bottom="141"/>"#,
            rows.len()
        );
        for (r, row) in rows.iter().enumerate() {
            out.push_str("<hp:tr>");
            for (c, cell) in row.iter().enumerate() {
                out.push_str(&format!(
                    r#"<hp:tc name="" header="0" hasMargin="0" protect="0" editable="0" dirty="0" borderFillIDRef="3"><hp:subList id="" textDirection="HORIZONTAL" lineWrap="BREAK" vertAlign="CENTER">{cell}</hp:subList><hp:cellAddr colAddr="{c}" rowAddr="{r}"/><hp:cellSpan colSpan="1" rowSpan="1"/><hp:cellSz width="20977" height="1282"/></hp:tc>"#
                ));
            }
            out.push_str("</hp:tr>");
        }
        out.push_str("</hp:tbl>");
        out
    }

    /// A section part around paragraphs.
    pub(crate) fn section(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hs:sec xmlns:hp="{HP}" xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section">{body}</hs:sec>"#
        )
    }

    /// A header.xml whose paragraph shapes are 0 plain, 1 outline level 1,
    /// 2 outline level 2, 3 numbered.
    pub(crate) fn header() -> String {
        let para_pr = |id: u32, kind: &str, level: u32| {
            format!(
                r#"<hh:paraPr id="{id}" tabPrIDRef="0" condense="0"><hh:align horizontal="JUSTIFY" vertical="BASELINE"/><hh:heading type="{kind}" idRef="0" level="{level}"/><hh:breakSetting breakLatinWord="KEEP_WORD"/></hh:paraPr>"#
            )
        };
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><hh:head xmlns:hh="http://www.hancom.co.kr/hwpml/2011/head" version="1.4" secCnt="1"><hh:refList><hh:paraProperties itemCnt="4">{}{}{}{}</hh:paraProperties><hh:styles itemCnt="1"><hh:style id="0" type="PARA" name="바탕글" engName="Normal" paraPrIDRef="0" charPrIDRef="0" nextStyleIDRef="0" langID="1042" lockForm="0"/></hh:styles></hh:refList></hh:head>"#,
            para_pr(0, "NONE", 0),
            para_pr(1, "OUTLINE", 0),
            para_pr(2, "OUTLINE", 1),
            para_pr(3, "NUMBER", 0),
        )
    }

    /// A content.hpf listing `sections` (file names under Contents/) in
    /// that spine order.
    pub(crate) fn content_hpf(title: &str, sections: &[&str]) -> String {
        let items: String = sections
            .iter()
            .map(|s| {
                format!(r#"<opf:item id="{s}" href="Contents/{s}" media-type="application/xml"/>"#)
            })
            .collect();
        let spine: String = sections
            .iter()
            .map(|s| format!(r#"<opf:itemref idref="{s}" linear="yes"/>"#))
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><opf:package xmlns:opf="http://www.idpf.org/2007/opf/" version="" unique-identifier="" id=""><opf:metadata><opf:title>{title}</opf:title><opf:language>ko</opf:language></opf:metadata><opf:manifest><opf:item id="header" href="Contents/header.xml" media-type="application/xml"/>{items}<opf:item id="settings" href="settings.xml" media-type="application/xml"/></opf:manifest><opf:spine><opf:itemref idref="header" linear="yes"/>{spine}</opf:spine></opf:package>"#
        )
    }

    /// A package: the mimetype first and stored, as Hangul writes it, then
    /// `parts` (name, content) deflated.
    pub(crate) fn package(parts: &[(&str, &str)]) -> BuildResult<Vec<u8>> {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("mimetype", stored)?;
        zip.write_all(b"application/hwp+zip")?;
        let options = SimpleFileOptions::default();
        for (name, content) in parts {
            zip.start_file(*name, options)?;
            zip.write_all(content.as_bytes())?;
        }
        Ok(zip.finish()?.into_inner())
    }

    /// A document of one section holding `body`, with the usual parts.
    pub(crate) fn document(title: &str, body: &str) -> BuildResult<Vec<u8>> {
        package(&[
            (
                "version.xml",
                r#"<?xml version="1.0" encoding="UTF-8"?><hv:HCFVersion xmlns:hv="http://www.hancom.co.kr/hwpml/2011/version" major="5" minor="1"/>"#,
            ),
            (
                "Contents/content.hpf",
                &content_hpf(title, &["section0.xml"]),
            ),
            ("Contents/header.xml", &header()),
            ("Contents/section0.xml", &section(body)),
        ])
    }

    /// A small valid document: `sentence`, then a two-row table.
    pub(crate) fn sample(sentence: &str) -> BuildResult<Vec<u8>> {
        let table = tbl(&[
            &[&p(0, "진단"), &p(0, "목표")],
            &[&p(0, "고혈압"), &p(0, "130/80 mmHg")],
        ]);
        let body = format!(
            r#"{}<hp:p paraPrIDRef="0"><hp:run charPrIDRef="0">{table}</hp:run></hp:p>"#,
            p(0, sentence)
        );
        document("", &body)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::fixtures::{content_hpf, document, header, p, package, section, tbl};
    use super::*;
    use crate::parse::BlockKind;
    use crate::parse::conformance::SENTENCE;
    use crate::parse::hancom::{ENDNOTES, FOOTNOTES, HEADERS_FOOTERS};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        HwpxParser.parse(bytes, &Limits::default())
    }

    fn pages(doc: &ParsedDocument) -> Vec<(u32, Vec<(BlockKind, &str)>)> {
        doc.pages
            .iter()
            .map(|p| {
                (
                    p.number,
                    p.blocks.iter().map(|b| (b.kind, b.text.as_str())).collect(),
                )
            })
            .collect()
    }

    const P: BlockKind = BlockKind::Paragraph;
    const ROW: BlockKind = BlockKind::TableRow;
    const H1: BlockKind = BlockKind::Heading { level: 1 };

    /// A paragraph of runs already in XML.
    fn runs(xml: &str) -> String {
        format!(r#"<hp:p paraPrIDRef="0"><hp:run charPrIDRef="0">{xml}</hp:run></hp:p>"#)
    }

    #[test]
    fn body_tables_boxes_and_notes_in_reading_order() -> TestResult {
        let nested = tbl(&[
            &[&p(0, "아침"), &p(0, "5 mg")],
            &[&p(0, "저녁"), &p(0, "2.5 mg")],
        ]);
        let table = tbl(&[
            &[&p(0, "약물"), &p(0, "용량")],
            &[
                &format!("{}{}", p(0, "암로디핀"), p(0, "(Norvasc)")),
                &runs(&nested),
            ],
        ]);
        let body = [
            p(1, "고혈압 관리"),
            p(2, "목표 혈압"),
            p(3, "첫째 항목"),
            // Runs split mid-word, a tab, a line break, escapes, a footnote.
            runs(
                "<hp:t>혈압 목</hp:t></hp:run><hp:run charPrIDRef=\"1\"><hp:t>표는&lt;130<hp:tab width=\"4000\" leader=\"0\" type=\"1\"/>이다<hp:lineBreak/>다음 줄</hp:t>\
                 <hp:ctrl><hp:footNote number=\"1\" instId=\"1\"><hp:subList>" ,
            )
            .replace(
                "</hp:run></hp:p>",
                &format!("{}</hp:subList></hp:footNote></hp:ctrl></hp:run></hp:p>", p(0, "대한고혈압학회 2022 지침")),
            ),
            runs(&format!("<hp:t>표 앞</hp:t>{table}<hp:t>표 뒤</hp:t>")),
            // A text box.
            runs(&format!(
                "<hp:rect id=\"5\"><hp:drawText lastWidth=\"100\" name=\"\" editable=\"0\"><hp:subList>{}</hp:subList></hp:drawText></hp:rect><hp:t>상자 밖</hp:t>",
                p(0, "상자 안")
            )),
            // Ruby text.
            runs("<hp:t>본문 </hp:t><hp:dutmal posType=\"TOP\" szRatio=\"0\" option=\"0\" styleIDRef=\"0\" align=\"CENTER\"><hp:mainText>漢字</hp:mainText><hp:subText>한자</hp:subText></hp:dutmal>"),
            // A header and an endnote.
            runs(&format!(
                "<hp:ctrl><hp:header id=\"1\" applyPageType=\"BOTH\"><hp:subList>{}</hp:subList></hp:header></hp:ctrl><hp:ctrl><hp:endNote number=\"1\"><hp:subList>{}</hp:subList></hp:endNote></hp:ctrl>",
                p(0, "○○병원 내과"),
                p(0, "미주 본문")
            )),
        ]
        .concat();
        let doc = parse(&document("진료 &amp; 지침", &body)?)?;
        assert_eq!(doc.kind, DocKind::Hwpx);
        assert_eq!(doc.title.as_deref(), Some("진료 & 지침"));
        assert_eq!(
            pages(&doc),
            [(
                1,
                vec![
                    (H1, "고혈압 관리"),
                    (BlockKind::Heading { level: 2 }, "목표 혈압"),
                    (BlockKind::ListItem, "첫째 항목"),
                    (P, "혈압 목표는<130\t이다\n다음 줄"),
                    (P, "표 앞"),
                    (ROW, "약물 | 용량"),
                    (ROW, "암로디핀 (Norvasc) | 아침 | 5 mg; 저녁 | 2.5 mg"),
                    (P, "표 뒤"),
                    (P, "상자 안"),
                    (P, "상자 밖"),
                    (P, "본문 漢字(한자)"),
                    (H1, FOOTNOTES),
                    (P, "대한고혈압학회 2022 지침"),
                    (H1, ENDNOTES),
                    (P, "미주 본문"),
                    (H1, HEADERS_FOOTERS),
                    (P, "○○병원 내과"),
                ]
            )]
        );
        Ok(())
    }

    #[test]
    fn sections_follow_the_spine_and_pages_the_breaks() -> TestResult {
        let broken = p(0, "둘째 쪽").replace("pageBreak=\"0\"", "pageBreak=\"1\"");
        let flagged = p(0, "셋째 쪽").replace("flags=\"393216\"", "flags=\"393217\"");
        let bytes = package(&[
            (
                "Contents/content.hpf",
                &content_hpf("", &["section1.xml", "section0.xml"]),
            ),
            ("Contents/header.xml", &header()),
            (
                "Contents/section0.xml",
                &section(&format!("{}{broken}{flagged}", p(0, "첫 쪽"))),
            ),
            ("Contents/section1.xml", &section(&p(0, "앞 구역"))),
        ])?;
        let doc = parse(&bytes)?;
        assert_eq!(doc.title, None);
        assert_eq!(
            pages(&doc),
            [
                (1, vec![(P, "앞 구역")]),
                (2, vec![(P, "첫 쪽")]),
                (3, vec![(P, "둘째 쪽")]),
                (4, vec![(P, "셋째 쪽")]),
            ]
        );
        Ok(())
    }

    #[test]
    fn without_a_manifest_sections_go_by_number() -> TestResult {
        let bytes = package(&[
            ("Contents/section10.xml", &section(&p(0, "열"))),
            ("Contents/section2.xml", &section(&p(0, "둘"))),
            ("Contents/content.hpf", "<opf:package><broken"),
        ])?;
        let doc = parse(&bytes)?;
        let texts: Vec<String> = doc.pages.iter().map(|p| p.text()).collect();
        assert_eq!(texts, ["둘", "열"]);
        Ok(())
    }

    #[test]
    fn packages_without_sections_or_zip_are_malformed() -> TestResult {
        let no_sections = package(&[("Contents/header.xml", &header())])?;
        assert_eq!(
            parse(&no_sections),
            Err(malformed(
                "not an hwpx document: there is no Contents/section0.xml"
            ))
        );
        assert!(matches!(
            parse(b"not a zip at all"),
            Err(ParseFailure::Malformed { .. })
        ));
        let mut ole2 = crate::parse::OLE2_MAGIC.to_vec();
        ole2.extend([0; 600]);
        assert_eq!(
            parse(&ole2),
            Err(malformed(
                "this is a binary hwp 5.0 file, not hwpx; name it .hwp"
            ))
        );
        let empty = document("", &p(0, "  "))?;
        assert_eq!(parse(&empty), Err(ParseFailure::Empty));
        Ok(())
    }

    #[test]
    fn entries_outside_the_package_are_refused() -> TestResult {
        for name in [
            "../../etc/cron.d/x",
            "/etc/passwd",
            "Contents/../../x",
            "C:\\x.xml",
            "..\\x",
        ] {
            let bytes = package(&[
                ("Contents/section0.xml", &section(&p(0, SENTENCE))),
                (name, "x"),
            ])?;
            assert_eq!(
                parse(&bytes),
                Err(malformed(
                    "the hwpx package names a file outside itself (an absolute or ../ path)"
                )),
                "{name}"
            );
        }
        // A manifest pointing outside is just not followed.
        let bytes = package(&[
            (
                "Contents/content.hpf",
                &content_hpf("", &["../../section0.xml"]),
            ),
            ("Contents/section0.xml", &section(&p(0, SENTENCE))),
        ])?;
        assert_eq!(parse(&bytes)?.pages[0].text(), SENTENCE);
        Ok(())
    }

    #[test]
    fn password_protected_packages_are_encrypted() -> TestResult {
        let manifest = r#"<?xml version="1.0" encoding="UTF-8"?><odf:manifest xmlns:odf="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><odf:file-entry odf:full-path="Contents/section0.xml" odf:media-type="application/xml" odf:size="1000"><odf:encryption-data odf:checksum-type="SHA1" odf:checksum="x"><odf:algorithm odf:algorithm-name="AES"/></odf:encryption-data></odf:file-entry></odf:manifest>"#;
        let bytes = package(&[
            ("META-INF/manifest.xml", manifest),
            ("Contents/section0.xml", "\u{1}\u{2} not xml"),
        ])?;
        assert_eq!(parse(&bytes), Err(ParseFailure::Encrypted));
        Ok(())
    }

    #[test]
    fn entities_are_never_expanded_or_fetched() -> TestResult {
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
        dtd.push_str(r#"<!ENTITY file SYSTEM "file:///etc/passwd">]>"#);
        let xml =
            section(&p(0, "before &lol9; &file; after")).replacen("?>", &format!("?>{dtd}"), 1);
        let bytes = package(&[("Contents/section0.xml", &xml)])?;
        let started = Instant::now();
        assert_eq!(parse(&bytes)?.pages[0].text(), "before   after");
        assert!(started.elapsed() < Duration::from_secs(5));
        Ok(())
    }

    #[test]
    fn deep_xml_is_cut_off() -> TestResult {
        let deep = format!(
            "{}{}{}",
            "<hp:x>".repeat(1000),
            p(0, "deep"),
            "</hp:x>".repeat(1000)
        );
        let bytes = package(&[("Contents/section0.xml", &section(&deep))])?;
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 256
            })
        );
        // Text boxes in text boxes: the tree's own cap comes first.
        let boxes = format!(
            "{}{}{}",
            "<hp:p><hp:run><hp:rect><hp:drawText><hp:subList>".repeat(40),
            p(0, "deep"),
            "</hp:subList></hp:drawText></hp:rect></hp:run></hp:p>".repeat(40)
        );
        let bytes = package(&[("Contents/section0.xml", &section(&boxes))])?;
        assert_eq!(
            parse(&bytes),
            Err(malformed("paragraphs and controls nest too deeply"))
        );
        Ok(())
    }

    #[test]
    fn zip_limits_hold() -> TestResult {
        let bytes = document("", &p(0, &SENTENCE.repeat(20)))?;
        let small_budget = Limits {
            max_decompressed_bytes: 500,
            ..Limits::default()
        };
        assert_eq!(
            HwpxParser.parse(&bytes, &small_budget),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 500
            })
        );
        let few_entries = Limits {
            max_zip_entries: 3,
            ..Limits::default()
        };
        assert_eq!(
            HwpxParser.parse(&bytes, &few_entries),
            Err(ParseFailure::LimitExceeded {
                limit: "max_zip_entries",
                max: 3
            })
        );
        // A bomb: 64 MiB of spaces in a section, far past the ratio cap.
        let spaces = " ".repeat(64 << 20);
        let bomb = package(&[(
            "Contents/section0.xml",
            &section(&format!("{}{spaces}", p(0, "x"))),
        )])?;
        assert!(bomb.len() < 1 << 20);
        assert_eq!(
            parse(&bomb),
            Err(ParseFailure::LimitExceeded {
                limit: "zip compression ratio",
                max: ooxml::MAX_RATIO
            })
        );
        Ok(())
    }

    #[test]
    fn too_many_sections_hit_the_page_limit() -> TestResult {
        let names: Vec<String> = (0..11)
            .map(|i| format!("Contents/section{i}.xml"))
            .collect();
        let xml = section(&p(0, "x"));
        let parts: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), xml.as_str())).collect();
        let limits = Limits {
            max_pages: 10,
            ..Limits::default()
        };
        assert_eq!(
            HwpxParser.parse(&package(&parts)?, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 10
            })
        );
        Ok(())
    }
}
