//! PowerPoint decks (.pptx, Office Open XML presentations) through `zip` +
//! `quick-xml`, under the package guards of [`super::ooxml`] (entry count,
//! inflate budget, XML depth, no entities).
//!
//! One page per slide, in presentation order (`p:sldIdLst` in
//! presentation.xml, through its relationships; by file number when those
//! are missing): page N is slide N, and slides without text are left out. A
//! page starts with the slide's title placeholder as a level-1 heading, then
//! the text of its other shapes in shape-tree order, one block per paragraph
//! (`a:t` runs joined; a list item where the paragraph sets an explicit
//! bullet), tables as table rows (labelled `"header: value; …"` when the
//! table marks a header row), and finally the speaker notes under a level-2
//! [`SPEAKER_NOTES`] heading. Date, footer, slide-number and slide-image
//! placeholders are boilerplate and left out; so are `mc:Fallback`
//! duplicates. Text inherited from layouts and masters, charts, SmartArt and
//! comments are not read. Hidden slides are read like visible ones. The
//! title is `dc:title` from docProps/core.xml.

use quick_xml::events::{BytesStart, Event};

use super::ooxml::{self, Archive, Ctx, Xml, attr, next_event, read_part, resolve_ref};
use super::{
    BlockKind, BlockSink, DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage, Parser,
    labelled_row,
};

/// Reads `.pptx` decks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PptxParser;

/// Where the presentation part is when the package relationships do not say.
const DEFAULT_PRESENTATION: &str = "ppt/presentation.xml";

/// Heading put before a slide's speaker notes.
pub(super) const SPEAKER_NOTES: &str = "Speaker notes";

impl Parser for PptxParser {
    fn kind(&self) -> DocKind {
        DocKind::Pptx
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if ooxml::is_ole2(bytes) {
            return Err(ooxml::ole2_failure(
                bytes,
                DocKind::Pptx,
                "powerpoint (.ppt)",
            ));
        }
        let mut archive = ooxml::open(bytes, DocKind::Pptx, limits)?;
        let mut ctx = Ctx::new(DocKind::Pptx, limits);
        ctx.deadline.check()?;
        let presentation = ooxml::main_part(&mut archive, &mut ctx, DEFAULT_PRESENTATION)?;
        let ids = read_part(&mut archive, &presentation, &mut ctx, parse_slide_list)?.ok_or_else(
            || ParseFailure::Malformed {
                detail:
                    "not a powerpoint deck: the presentation part (ppt/presentation.xml) is missing"
                        .to_owned(),
            },
        )??;
        let slides = match ooxml::relationships(&mut archive, &presentation, &mut ctx)? {
            Some(Ok(rels)) => ids
                .iter()
                .filter_map(|id| {
                    let slide = rels.iter().find(|r| r.id == *id && r.kind == "slide");
                    if slide.is_none() {
                        tracing::debug!("skipped a slide id without a slide relationship");
                    }
                    slide.map(|r| r.target.clone())
                })
                .collect(),
            Some(Err(ParseFailure::Malformed { .. })) | None => slides_by_name(&archive),
            Some(Err(other)) => return Err(other),
        };
        if slides.len() > limits.max_pages as usize {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: u64::from(limits.max_pages),
            });
        }
        let title = ooxml::core_title(&mut archive, &mut ctx)?;
        let mut pages = Vec::new();
        for (i, slide) in slides.iter().enumerate() {
            ctx.deadline.check()?;
            // At most max_pages slides (checked above).
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let text = read_part(&mut archive, slide, &mut ctx, |xml, ctx| {
                parse_shapes(xml, ctx, Part::Slide)
            })?
            .ok_or_else(|| ParseFailure::Malformed {
                detail: format!("slide {number} of the deck is missing"),
            })??;
            let notes = notes_of(&mut archive, &mut ctx, slide)?;
            let mut sink = BlockSink::default();
            for heading in &text.titles {
                sink.push(BlockKind::Heading { level: 1 }, heading);
            }
            for block in text.blocks.into_blocks() {
                sink.push(block.kind, &block.text);
            }
            let notes = notes.into_blocks();
            if !notes.is_empty() {
                sink.push(BlockKind::Heading { level: 2 }, SPEAKER_NOTES);
                for block in notes {
                    sink.push(block.kind, &block.text);
                }
            }
            if !sink.is_empty() {
                pages.push(ParsedPage::new(number, sink.into_blocks()));
            }
        }
        if pages.is_empty() {
            return Err(ParseFailure::Empty);
        }
        Ok(ParsedDocument {
            kind: DocKind::Pptx,
            title,
            pages,
        })
    }
}

/// The relationship ids of the slides, in presentation order.
fn parse_slide_list(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Vec<String>, ParseFailure> {
    let mut ids = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut in_list = false;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "presentation.xml")?;
        match &event {
            Event::Start(e) if e.local_name().as_ref() == "sldIdLst" => in_list = true,
            Event::End(e) if e.local_name().as_ref() == "sldIdLst" => in_list = false,
            Event::Start(e) | Event::Empty(e) if in_list && e.local_name().as_ref() == "sldId" => {
                if ids.len() >= ctx.limits.max_pages as usize {
                    return Err(ParseFailure::LimitExceeded {
                        limit: "max_pages",
                        max: u64::from(ctx.limits.max_pages),
                    });
                }
                if let Some(id) = ooxml::rel_id(e) {
                    ids.push(id);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(ids)
}

/// Without relationships: `ppt/slides/slideN.xml` by N.
fn slides_by_name(archive: &Archive<'_>) -> Vec<String> {
    let mut slides: Vec<(u64, String)> = archive
        .file_names()
        .filter_map(|name| {
            let name = name.ok()?;
            let n = name
                .strip_prefix("ppt/slides/slide")?
                .strip_suffix(".xml")?
                .parse()
                .ok()?;
            Some((n, name.into_owned()))
        })
        .collect();
    slides.sort();
    slides.into_iter().map(|(_, name)| name).collect()
}

/// The blocks of a slide's speaker notes; empty when it has none. Damaged
/// notes are skipped (the slide is still worth indexing); a limit or the
/// deadline stops the deck.
fn notes_of(
    archive: &mut Archive<'_>,
    ctx: &mut Ctx<'_>,
    slide: &str,
) -> Result<BlockSink, ParseFailure> {
    let rels = match ooxml::relationships(archive, slide, ctx)? {
        Some(Ok(rels)) => rels,
        Some(Err(ParseFailure::Malformed { .. })) | None => return Ok(BlockSink::default()),
        Some(Err(other)) => return Err(other),
    };
    let Some(notes) = rels.iter().find(|r| r.kind == "notesSlide") else {
        return Ok(BlockSink::default());
    };
    match read_part(archive, &notes.target, ctx, |xml, ctx| {
        parse_shapes(xml, ctx, Part::Notes)
    })? {
        Some(Ok(text)) => Ok(text.blocks),
        Some(Err(ParseFailure::Malformed { .. })) => {
            tracing::debug!("skipped damaged speaker notes");
            Ok(BlockSink::default())
        }
        Some(Err(other)) => Err(other),
        None => Ok(BlockSink::default()),
    }
}

/// Which kind of part a shape tree belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Slide,
    /// A notes page: no title; its slide image is left out.
    Notes,
}

/// The text of one shape tree.
#[derive(Debug, Default)]
struct SlideText {
    /// The title placeholders' text, whitespace collapsed.
    titles: Vec<String>,
    blocks: BlockSink,
}

/// What a shape's text is, from its placeholder type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Title,
    Body,
    /// Date, footer, header, slide number, slide image: not content.
    Skip,
}

#[derive(Debug)]
struct Shape {
    role: Role,
    /// A title's text so far.
    text: String,
}

#[derive(Debug, Default)]
struct Para {
    text: String,
    list: bool,
}

/// One open `a:tbl`.
#[derive(Debug, Default)]
struct Table {
    /// `a:tblPr firstRow`: the first row names the columns.
    header_row: bool,
    header: Option<Vec<String>>,
    row: Option<Vec<String>>,
    rows: usize,
}

impl Table {
    fn end_row(&mut self, sink: &mut BlockSink) {
        let Some(cells) = self.row.take() else {
            return;
        };
        let cells: Vec<String> = cells.iter().map(|c| c.trim().to_owned()).collect();
        if cells.iter().all(String::is_empty) {
            return;
        }
        if self.header_row && self.header.is_none() {
            self.header = Some(cells);
            return;
        }
        let text = match &self.header {
            Some(header) => labelled_row(header, &cells),
            None => join_cells(&cells),
        };
        sink.push(BlockKind::TableRow, &text);
        self.rows += 1;
    }

    /// A table with only its header row still has that text to find.
    fn finish(self, sink: &mut BlockSink) {
        if let (Some(header), 0) = (self.header, self.rows) {
            sink.push(BlockKind::TableRow, &join_cells(&header));
        }
    }
}

fn join_cells(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The role a placeholder (`p:ph`) gives its shape.
fn placeholder_role(e: &BytesStart<'_>, part: Part) -> Role {
    match attr(e, "type").as_deref() {
        Some("title" | "ctrTitle") if part == Part::Slide => Role::Title,
        Some("dt" | "ftr" | "hdr" | "sldNum" | "sldImg") => Role::Skip,
        _ => Role::Body,
    }
}

/// Reads the text of a slide's or notes page's shape tree.
fn parse_shapes(xml: &mut Xml<'_>, ctx: &Ctx<'_>, part: Part) -> Result<SlideText, ParseFailure> {
    let part_name = match part {
        Part::Slide => "a slide",
        Part::Notes => "speaker notes",
    };
    let mut out = SlideText::default();
    let mut buf = Vec::new();
    let mut depth = 0u32;
    let mut shapes: Vec<Shape> = Vec::new();
    let mut para: Option<Para> = None;
    let mut table: Option<Table> = None;
    let mut in_t = false;
    // Depth at which a skipped subtree (an `mc:Fallback` duplicate) started.
    let mut skip_from: Option<u32> = None;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, part_name)?;
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
                "sp" | "graphicFrame" => shapes.push(Shape {
                    role: Role::Body,
                    text: String::new(),
                }),
                "ph" => set_role(&mut shapes, e, part),
                "p" => para = Some(Para::default()),
                "t" => in_t = para.is_some(),
                "tbl" => table = Some(Table::default()),
                "tblPr" => set_header_row(&mut table, e),
                "tr" => {
                    if let Some(table) = &mut table {
                        table.row = Some(Vec::new());
                    }
                }
                "tc" => {
                    if let Some(row) = table.as_mut().and_then(|t| t.row.as_mut()) {
                        row.push(String::new());
                    }
                }
                "buChar" | "buAutoNum" | "buBlip" => set_list(&mut para, true),
                "buNone" => set_list(&mut para, false),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "ph" => set_role(&mut shapes, e, part),
                "tblPr" => set_header_row(&mut table, e),
                "br" => {
                    if let Some(para) = &mut para {
                        para.text.push('\n');
                    }
                }
                "buChar" | "buAutoNum" | "buBlip" => set_list(&mut para, true),
                "buNone" => set_list(&mut para, false),
                _ => {}
            },
            Event::Text(t) if in_t => {
                if let Some(para) = &mut para {
                    para.text.push_str(t);
                }
            }
            Event::GeneralRef(r) if in_t => {
                if let Some(para) = &mut para {
                    para.text.extend(resolve_ref(r));
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "p" => {
                    if let Some(para) = para.take() {
                        end_paragraph(para, &mut shapes, &mut table, &mut out.blocks);
                    }
                }
                "tr" => {
                    if let Some(table) = &mut table {
                        table.end_row(&mut out.blocks);
                    }
                }
                "tbl" => {
                    if let Some(table) = table.take() {
                        table.finish(&mut out.blocks);
                    }
                }
                "sp" | "graphicFrame" => {
                    if let Some(shape) = shapes.pop()
                        && shape.role == Role::Title
                    {
                        let title = shape.text.split_whitespace().collect::<Vec<_>>().join(" ");
                        if !title.is_empty() {
                            out.titles.push(title);
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
    Ok(out)
}

fn set_role(shapes: &mut [Shape], e: &BytesStart<'_>, part: Part) {
    if let Some(shape) = shapes.last_mut() {
        shape.role = placeholder_role(e, part);
    }
}

fn set_header_row(table: &mut Option<Table>, e: &BytesStart<'_>) {
    if let Some(table) = table {
        table.header_row = attr(e, "firstRow").is_some_and(|v| v == "1" || v == "true");
    }
}

fn set_list(para: &mut Option<Para>, list: bool) {
    if let Some(para) = para {
        para.list = list;
    }
}

fn end_paragraph(
    para: Para,
    shapes: &mut [Shape],
    table: &mut Option<Table>,
    sink: &mut BlockSink,
) {
    let role = shapes.last().map_or(Role::Body, |s| s.role);
    if role == Role::Skip {
        return;
    }
    if let Some(cell) = table
        .as_mut()
        .and_then(|t| t.row.as_mut())
        .and_then(|r| r.last_mut())
    {
        if !para.text.trim().is_empty() {
            if !cell.is_empty() {
                cell.push(' ');
            }
            cell.push_str(para.text.trim());
        }
        return;
    }
    match (role, shapes.last_mut()) {
        (Role::Title, Some(shape)) => {
            shape.text.push(' ');
            shape.text.push_str(&para.text);
        }
        _ => {
            let kind = if para.list {
                BlockKind::ListItem
            } else {
                BlockKind::Paragraph
            };
            sink.push(kind, &para.text);
        }
    }
}

/// Deck builders shared with the conformance suite.
#[cfg(test)]
pub(super) mod fixtures {
    use crate::parse::ooxml::zip_bytes;

    pub(crate) type Fixture = Result<Vec<u8>, Box<dyn std::error::Error>>;

    const NS: &str = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main""#;
    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>"#;

    const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="ppt/presentation.xml"/></Relationships>"#;

    /// A text shape: `ph` is its placeholder element (e.g.
    /// `<p:ph type="title"/>`), `paras` the `a:p` elements.
    pub(crate) fn shape(ph: &str, paras: &str) -> String {
        format!(
            r#"<p:sp><p:nvSpPr><p:cNvPr id="2" name="x"/><p:cNvSpPr/><p:nvPr>{ph}</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/><a:lstStyle/>{paras}</p:txBody></p:sp>"#
        )
    }

    /// One paragraph of one run.
    pub(crate) fn para(text: &str) -> String {
        format!(r#"<a:p><a:r><a:rPr lang="ko-KR"/><a:t>{text}</a:t></a:r></a:p>"#)
    }

    /// A slide (`p:sld`) or notes page (`p:notes`) whose shape tree holds
    /// `shapes`.
    pub(crate) fn tree(root: &str, shapes: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:{root} {NS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:{root}>"#
        )
    }

    /// A deck of `slides` (slide xml, notes xml) in presentation order,
    /// stored as `slide{N}.xml` in reverse so the order has to come from
    /// the presentation, plus `extra` parts as given.
    pub(crate) fn deck(slides: &[(&str, Option<&str>)], extra: &[(&str, &str)]) -> Fixture {
        let mut list = String::new();
        let mut rels = String::new();
        let mut parts: Vec<(String, String)> = Vec::new();
        for (i, (slide, notes)) in slides.iter().enumerate() {
            let file = slides.len() - i;
            list.push_str(&format!(r#"<p:sldId id="{}" r:id="rId{file}"/>"#, 256 + i));
            rels.push_str(&format!(
                r#"<Relationship Id="rId{file}" Type="{REL}/slide" Target="slides/slide{file}.xml"/>"#
            ));
            parts.push((format!("ppt/slides/slide{file}.xml"), (*slide).to_owned()));
            let mut slide_rels = format!(
                r#"<Relationship Id="rId1" Type="{REL}/slideLayout" Target="../slideLayouts/slideLayout1.xml"/>"#
            );
            if let Some(notes) = notes {
                slide_rels.push_str(&format!(
                    r#"<Relationship Id="rId2" Type="{REL}/notesSlide" Target="../notesSlides/notesSlide{file}.xml"/>"#
                ));
                parts.push((
                    format!("ppt/notesSlides/notesSlide{file}.xml"),
                    (*notes).to_owned(),
                ));
            }
            parts.push((
                format!("ppt/slides/_rels/slide{file}.xml.rels"),
                format!(
                    r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{slide_rels}</Relationships>"#
                ),
            ));
        }
        rels.push_str(&format!(
            r#"<Relationship Id="rIdM" Type="{REL}/slideMaster" Target="slideMasters/slideMaster1.xml"/>"#
        ));
        let presentation = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<p:presentation {NS}><p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rIdM"/></p:sldMasterIdLst><p:sldIdLst>{list}</p:sldIdLst><p:sldSz cx="12192000" cy="6858000"/></p:presentation>"#
        );
        let rels = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        );
        let mut all: Vec<(&str, &str)> = vec![
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", PACKAGE_RELS),
            ("ppt/presentation.xml", &presentation),
            ("ppt/_rels/presentation.xml.rels", &rels),
        ];
        all.extend(parts.iter().map(|(n, x)| (n.as_str(), x.as_str())));
        all.extend_from_slice(extra);
        Ok(zip_bytes(&all)?)
    }

    /// The conformance sample: a title slide and a slide holding `sentence`.
    pub(crate) fn sample(sentence: &str) -> Fixture {
        let first = tree(
            "sld",
            &shape(r#"<p:ph type="ctrTitle"/>"#, &para("진료 지침")),
        );
        let second = tree(
            "sld",
            &format!(
                "{}{}",
                shape(r#"<p:ph type="title"/>"#, &para("고혈압")),
                shape(r#"<p:ph idx="1"/>"#, &para(sentence))
            ),
        );
        deck(&[(&first, None), (&second, None)], &[])
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{deck, para, shape, tree};
    use super::*;
    use crate::parse::conformance::SENTENCE;
    use crate::parse::ooxml::zip_bytes;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        PptxParser.parse(bytes, &Limits::default())
    }

    fn texts(page: &ParsedPage) -> Vec<(BlockKind, &str)> {
        page.blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str()))
            .collect()
    }

    const H1: BlockKind = BlockKind::Heading { level: 1 };
    const H2: BlockKind = BlockKind::Heading { level: 2 };
    const P: BlockKind = BlockKind::Paragraph;
    const LI: BlockKind = BlockKind::ListItem;
    const ROW: BlockKind = BlockKind::TableRow;

    fn table(first_row: bool, rows: &[&[&str]]) -> String {
        let rows: String = rows
            .iter()
            .map(|cells| {
                let cells: String = cells
                    .iter()
                    .map(|c| {
                        format!(
                            "<a:tc><a:txBody><a:bodyPr/>{}</a:txBody><a:tcPr/></a:tc>",
                            para(c)
                        )
                    })
                    .collect();
                format!(r#"<a:tr h="370840">{cells}</a:tr>"#)
            })
            .collect();
        let first = if first_row { r#" firstRow="1""# } else { "" };
        format!(
            r#"<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl><a:tblPr{first} bandRow="1"/><a:tblGrid><a:gridCol w="1"/></a:tblGrid>{rows}</a:tbl></a:graphicData></a:graphic></p:graphicFrame>"#
        )
    }

    fn full_deck() -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let title_slide = tree(
            "sld",
            &format!(
                "{}{}{}",
                shape(r#"<p:ph type="ctrTitle"/>"#, &para("고혈압 진료 지침")),
                shape(
                    r#"<p:ph type="subTitle" idx="1"/>"#,
                    &para("Hypertension guideline 2024")
                ),
                shape(
                    r#"<p:ph type="sldNum" sz="quarter" idx="12"/>"#,
                    r#"<a:p><a:fld id="{1}" type="slidenum"><a:t>1</a:t></a:fld></a:p>"#
                ),
            ),
        );
        // The title shape comes after the body in the tree, and has two runs
        // and a line break; a group holds a text box; a table with a header.
        let body = [
            r#"<a:p><a:pPr marL="0" indent="0"><a:buNone/></a:pPr><a:r><a:t>목표 혈압: </a:t></a:r><a:r><a:rPr b="1"/><a:t>130/80 mmHg</a:t></a:r></a:p>"#,
            r#"<a:p><a:pPr><a:buFont typeface="Arial"/><a:buChar char="•"/></a:pPr><a:r><a:t>Lifestyle &amp; diet</a:t></a:r></a:p>"#,
            "<a:p><a:endParaRPr/></a:p>",
        ]
        .concat();
        let once = shape("", &para("once"));
        let content = tree(
            "sld",
            &[
                shape(r#"<p:ph idx="1"/>"#, &body),
                shape(
                    r#"<p:ph type="title"/>"#,
                    r#"<a:p><a:r><a:t>약물</a:t></a:r><a:r><a:t> 치료</a:t></a:r><a:br/><a:r><a:t>Drugs</a:t></a:r></a:p>"#,
                ),
                format!(
                    "<p:grpSp><p:nvGrpSpPr/><p:grpSpPr/>{}</p:grpSp>",
                    shape("", &para("Grouped box"))
                ),
                table(
                    true,
                    &[
                        &["약물", "용량"],
                        &["암로디핀", "5 mg"],
                        &["", ""],
                        &["Losartan", "50 mg"],
                    ],
                ),
                table(false, &[&["a", "", "b"]]),
                // Text boxes come twice: the choice and a fallback.
                format!(
                    r#"<mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice Requires="a14">{once}</mc:Choice><mc:Fallback>{once}</mc:Fallback></mc:AlternateContent>"#
                ),
            ]
            .concat(),
        );
        let notes_body = [para(SENTENCE), para("Ask about salt.")].concat();
        let notes = tree(
            "notes",
            &[
                shape(r#"<p:ph type="sldImg"/>"#, ""),
                shape(r#"<p:ph type="body" idx="1"/>"#, &notes_body),
                shape(r#"<p:ph type="sldNum" idx="5"/>"#, &para("2")),
            ]
            .concat(),
        );
        let blank = tree("sld", &shape(r#"<p:ph type="title"/>"#, "<a:p/>"));
        let last = tree("sld", &shape("", &para("The end")));
        let core = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>교육 자료</dc:title></cp:coreProperties>"#;
        deck(
            &[
                (&title_slide, None),
                (&content, Some(&notes)),
                (&blank, None),
                (&last, None),
            ],
            &[("docProps/core.xml", core)],
        )
    }

    #[test]
    fn slides_in_presentation_order_with_notes() -> TestResult {
        let doc = parse(&full_deck()?)?;
        assert_eq!(doc.kind, DocKind::Pptx);
        assert_eq!(doc.title.as_deref(), Some("교육 자료"));
        let numbers: Vec<u32> = doc.pages.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 2, 4]);
        assert_eq!(
            texts(&doc.pages[0]),
            [(H1, "고혈압 진료 지침"), (P, "Hypertension guideline 2024")]
        );
        assert_eq!(
            texts(&doc.pages[1]),
            [
                (H1, "약물 치료 Drugs"),
                (P, "목표 혈압: 130/80 mmHg"),
                (LI, "Lifestyle & diet"),
                (P, "Grouped box"),
                (ROW, "약물: 암로디핀; 용량: 5 mg"),
                (ROW, "약물: Losartan; 용량: 50 mg"),
                (ROW, "a | b"),
                (P, "once"),
                (H2, SPEAKER_NOTES),
                (P, SENTENCE),
                (P, "Ask about salt."),
            ]
        );
        assert_eq!(texts(&doc.pages[2]), [(P, "The end")]);
        Ok(())
    }

    #[test]
    fn without_presentation_relationships_slides_go_by_number() -> TestResult {
        let slide = |text: &str| tree("sld", &shape("", &para(text)));
        let bytes = zip_bytes(&[
            ("ppt/presentation.xml", "<p:presentation xmlns:p=\"p\"/>"),
            ("ppt/slides/slide10.xml", &slide("ten")),
            ("ppt/slides/slide2.xml", &slide("two")),
            ("ppt/slides/slide1.xml", &slide("one")),
            ("ppt/slides/slideLayout.xml", &slide("not a slide")),
        ])?;
        let doc = parse(&bytes)?;
        let all: Vec<String> = doc.pages.iter().map(|p| p.text()).collect();
        assert_eq!(all, ["one", "two", "ten"]);
        Ok(())
    }

    #[test]
    fn missing_parts_are_malformed_and_damaged_notes_skipped() -> TestResult {
        let bytes = zip_bytes(&[("ppt/slides/slide1.xml", "<p:sld/>")])?;
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::Malformed {
                detail:
                    "not a powerpoint deck: the presentation part (ppt/presentation.xml) is missing"
                        .to_owned()
            })
        );
        let slide = tree("sld", &shape("", &para("body")));
        let good = deck(&[(&slide, Some("<p:notes><a:p>")), (&slide, None)], &[])?;
        let doc = parse(&good)?;
        assert_eq!(doc.pages[0].text(), "body");
        // The first slide is stored last (slide2.xml); drop the other.
        let without = deck(&[(&slide, None)], &[])?;
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&without[..]))?;
        let mut parts = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i)?;
            let name = file.name()?.into_owned();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text)?;
            if name != "ppt/slides/slide1.xml" {
                parts.push((name, text));
            }
        }
        let parts: Vec<(&str, &str)> = parts
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            parse(&zip_bytes(&parts)?),
            Err(ParseFailure::Malformed {
                detail: "slide 1 of the deck is missing".to_owned()
            })
        );
        Ok(())
    }

    #[test]
    fn hostile_decks_fail_cleanly() -> TestResult {
        // Entities from a DTD are never expanded or fetched.
        let dtd = r#"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY f SYSTEM "file:///etc/passwd">]><p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r><a:t>x&b;&f;y&#xAC00;</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>"#;
        assert_eq!(parse(&deck(&[(dtd, None)], &[])?)?.pages[0].text(), "xy가");
        // Deep nesting (groups in groups).
        let deep = tree(
            "sld",
            &("<p:grpSp>".repeat(300) + &"</p:grpSp>".repeat(300)),
        );
        assert_eq!(
            parse(&deck(&[(&deep, None)], &[])?),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 256
            })
        );
        // A slide relationship pointing outside the package is not followed;
        // a `../` entry name is never read.
        let presentation = r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst></p:presentation>"#;
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/slide" Target="../../secret.xml"/></Relationships>"#;
        let escaping = zip_bytes(&[
            ("ppt/presentation.xml", presentation),
            ("ppt/_rels/presentation.xml.rels", rels),
            ("../secret.xml", &tree("sld", &shape("", &para("secret")))),
        ])?;
        assert_eq!(parse(&escaping), Err(ParseFailure::Empty));
        // Too many slides for max_pages.
        let slide = tree("sld", &shape("", &para("x")));
        let slides: Vec<(&str, Option<&str>)> = (0..4).map(|_| (slide.as_str(), None)).collect();
        let limits = Limits {
            max_pages: 3,
            ..Limits::default()
        };
        assert_eq!(
            PptxParser.parse(&deck(&slides, &[])?, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 3
            })
        );
        // The inflate budget covers notes too.
        let big_notes = tree("notes", &shape("", &para(&"x".repeat(4096))));
        let bytes = deck(&[(&slide, Some(&big_notes))], &[])?;
        let limits = Limits {
            max_decompressed_bytes: 4096,
            ..Limits::default()
        };
        assert_eq!(
            PptxParser.parse(&bytes, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 4096
            })
        );
        // Old and encrypted decks.
        let mut encrypted = crate::parse::OLE2_MAGIC.to_vec();
        encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&encrypted), Err(ParseFailure::Encrypted));
        let mut ppt = crate::parse::OLE2_MAGIC.to_vec();
        ppt.extend([0; 64]);
        assert_eq!(
            parse(&ppt),
            Err(ParseFailure::Malformed {
                detail: "this is an old binary powerpoint (.ppt) file; save it as .pptx".to_owned()
            })
        );
        Ok(())
    }
}
