//! Excel workbooks (.xlsx, Office Open XML spreadsheets) through `zip` +
//! `quick-xml`, under the package guards of [`super::ooxml`] (entry count,
//! inflate budget, XML depth, no entities).
//!
//! One page per sheet, in workbook order: page N is the Nth sheet tab, and
//! blank sheets (and chart sheets, which hold no cells) are left out. A page
//! starts with a heading of the sheet name, then one table-row block per
//! non-empty row labelled `"header: value; …"` with the sheet's first
//! non-empty row as the header, as CSV does; cells past the header's columns
//! are labelled by column letter. Cells read as Excel last showed their
//! values: shared and inline strings, numbers as stored, booleans as
//! TRUE/FALSE, error values, and the cached result of a formula (never the
//! formula). Number formats are not applied, so dates stored as serial
//! numbers stay numbers (45292, not 2024-01-01) and percentages fractions.
//! Hidden sheets, rows and columns are read like visible ones. The title is
//! `dc:title` from docProps/core.xml. Cells over [`Limits::max_cells`] (all
//! sheets together, and the shared-string table) fail the workbook rather
//! than index part of it.
//!
//! Not `calamine`: it reads the same zip and quick-xml versions, but has no
//! inflate budget of its own and allocates from what the file declares (on
//! open it reserves the shared-string table's `uniqueCount`; a sheet range is
//! made dense from its corner cells), and a failed allocation aborts the
//! process instead of failing the file.

use quick_xml::events::Event;

use super::ooxml::{
    self, Archive, Ctx, Relationship, Xml, attr, next_event, read_part, resolve_ref,
};
use super::{
    BlockKind, BlockSink, DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage, Parser,
    labelled_row,
};

/// Reads `.xlsx` workbooks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct XlsxParser;

/// Where the workbook part is when the package relationships do not say.
const DEFAULT_WORKBOOK: &str = "xl/workbook.xml";

impl Parser for XlsxParser {
    fn kind(&self) -> DocKind {
        DocKind::Xlsx
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if ooxml::is_ole2(bytes) {
            return Err(ooxml::ole2_failure(bytes, DocKind::Xlsx, "excel (.xls)"));
        }
        let mut archive = ooxml::open(bytes, DocKind::Xlsx, limits)?;
        let mut ctx = Ctx::new(DocKind::Xlsx, limits);
        ctx.deadline.check()?;
        let workbook = ooxml::main_part(&mut archive, &mut ctx, DEFAULT_WORKBOOK)?;
        let sheets =
            read_part(&mut archive, &workbook, &mut ctx, parse_workbook)?.ok_or_else(|| {
                ParseFailure::Malformed {
                    detail: "not an excel workbook: the workbook part (xl/workbook.xml) is missing"
                        .to_owned(),
                }
            })??;
        let rels = match ooxml::relationships(&mut archive, &workbook, &mut ctx)? {
            Some(Ok(rels)) => rels,
            Some(Err(ParseFailure::Malformed { .. })) | None => Vec::new(),
            Some(Err(other)) => return Err(other),
        };
        let dir = workbook.rsplit_once('/').map_or("", |(dir, _)| dir);
        let strings = shared_strings(&mut archive, &mut ctx, &rels, dir)?;
        let title = ooxml::core_title(&mut archive, &mut ctx)?;
        let mut cells_left = limits.max_cells;
        let mut pages = Vec::new();
        for (i, sheet) in sheets.iter().enumerate() {
            ctx.deadline.check()?;
            // At most max_pages sheets (checked while reading the workbook).
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let Some(part) = sheet_part(sheet, &rels, dir, number) else {
                continue;
            };
            let mut sink = BlockSink::default();
            sink.push(BlockKind::Heading { level: 1 }, &sheet.name);
            let rows = read_part(&mut archive, &part, &mut ctx, |xml, ctx| {
                parse_sheet(xml, ctx, &strings, &mut cells_left, &mut sink)
            })?
            .ok_or_else(|| ParseFailure::Malformed {
                detail: format!("sheet {number} of the workbook is missing"),
            })??;
            if rows > 0 {
                pages.push(ParsedPage::new(number, sink.into_blocks()));
            }
        }
        if pages.is_empty() {
            return Err(ParseFailure::Empty);
        }
        Ok(ParsedDocument {
            kind: DocKind::Xlsx,
            title,
            pages,
        })
    }
}

/// One entry of the workbook's sheet list.
#[derive(Debug)]
struct Sheet {
    name: String,
    /// The relationship naming its part.
    rel_id: Option<String>,
}

/// The sheets in workbook (tab) order.
fn parse_workbook(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Vec<Sheet>, ParseFailure> {
    let mut sheets = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut in_sheets = false;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "workbook.xml")?;
        match &event {
            Event::Start(e) if e.local_name().as_ref() == "sheets" => in_sheets = true,
            Event::End(e) if e.local_name().as_ref() == "sheets" => in_sheets = false,
            Event::Start(e) | Event::Empty(e)
                if in_sheets && e.local_name().as_ref() == "sheet" =>
            {
                if sheets.len() >= ctx.limits.max_pages as usize {
                    return Err(ParseFailure::LimitExceeded {
                        limit: "max_pages",
                        max: u64::from(ctx.limits.max_pages),
                    });
                }
                sheets.push(Sheet {
                    name: attr(e, "name").unwrap_or_default(),
                    rel_id: ooxml::rel_id(e),
                });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(sheets)
}

/// The part holding a sheet's cells: its relationship's target, or by
/// Excel's naming when the workbook has no relationships for it. `None` for
/// sheets without cells (chart and dialog sheets) and macro sheets.
fn sheet_part(sheet: &Sheet, rels: &[Relationship], dir: &str, number: u32) -> Option<String> {
    let rel = sheet
        .rel_id
        .as_deref()
        .and_then(|id| rels.iter().find(|r| r.id == id));
    match rel {
        Some(rel) if rel.kind == "worksheet" => Some(rel.target.clone()),
        Some(rel) => {
            tracing::debug!(kind = %rel.kind, number, "skipped a sheet without cells");
            None
        }
        None => ooxml::resolve_target(dir, &format!("worksheets/sheet{number}.xml")),
    }
}

/// The shared-string table (empty if the workbook has none).
fn shared_strings(
    archive: &mut Archive<'_>,
    ctx: &mut Ctx<'_>,
    rels: &[Relationship],
    dir: &str,
) -> Result<Vec<String>, ParseFailure> {
    let part = rels
        .iter()
        .find(|r| r.kind == "sharedStrings")
        .map(|r| r.target.clone())
        .or_else(|| ooxml::resolve_target(dir, "sharedStrings.xml"))
        .unwrap_or_default();
    match read_part(archive, &part, ctx, parse_shared_strings)? {
        Some(strings) => strings,
        None => Ok(Vec::new()),
    }
}

/// The text of each `si`, rich-text runs joined, phonetic guides (`rPh`)
/// left out. Never sized from the declared `count`/`uniqueCount`.
fn parse_shared_strings(xml: &mut Xml<'_>, ctx: &Ctx<'_>) -> Result<Vec<String>, ParseFailure> {
    let mut strings = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut current: Option<String> = None;
    let mut in_t = false;
    let mut in_phonetic = false;
    let mut events = 0u64;
    let push = |strings: &mut Vec<String>, s: String| {
        if strings.len() as u64 >= ctx.limits.max_cells {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_cells",
                max: ctx.limits.max_cells,
            });
        }
        strings.push(s);
        Ok(())
    };
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "sharedStrings.xml")?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "si" => current = Some(String::new()),
                "t" => in_t = true,
                "rPh" => in_phonetic = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                push(&mut strings, String::new())?;
            }
            Event::End(e) => match e.local_name().as_ref() {
                "si" => push(&mut strings, current.take().unwrap_or_default())?,
                "t" => in_t = false,
                "rPh" => in_phonetic = false,
                _ => {}
            },
            Event::Text(t) if in_t && !in_phonetic => {
                if let Some(s) = &mut current {
                    s.push_str(t);
                }
            }
            Event::GeneralRef(r) if in_t && !in_phonetic => {
                if let Some(s) = &mut current {
                    s.extend(resolve_ref(r));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(strings)
}

/// One open `c` element.
#[derive(Debug, Default)]
struct Cell {
    col: u32,
    /// The `t` attribute: `s`, `inlineStr`, `str`, `b`, `e`, `n`, `d`.
    kind: Option<String>,
    /// The text of `v` (the value, or a formula's cached result).
    value: String,
    /// The text of `is` (an inline string).
    inline: String,
}

/// Reads one worksheet into `sink` and returns how many row blocks it
/// pushed. Empty cells and rows are skipped; `cells_left` counts down the
/// workbook's cell budget.
fn parse_sheet(
    xml: &mut Xml<'_>,
    ctx: &Ctx<'_>,
    strings: &[String],
    cells_left: &mut u64,
    sink: &mut BlockSink,
) -> Result<usize, ParseFailure> {
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut table = Table::default();
    let mut row: Vec<(u32, String)> = Vec::new();
    let mut next_col = 0u32;
    let mut cell: Option<Cell> = None;
    let (mut in_v, mut in_inline, mut in_t, mut in_phonetic) = (false, false, false, false);
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, "a worksheet")?;
        match &event {
            Event::Start(e) => match e.local_name().as_ref() {
                "row" => {
                    row.clear();
                    next_col = 0;
                }
                "c" => {
                    let col = attr(e, "r").and_then(|r| column_of(&r)).unwrap_or(next_col);
                    cell = Some(Cell {
                        col,
                        kind: attr(e, "t"),
                        ..Cell::default()
                    });
                }
                "v" => in_v = true,
                "is" => in_inline = true,
                "t" => in_t = in_inline,
                "rPh" => in_phonetic = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "c" => {
                let col = attr(e, "r").and_then(|r| column_of(&r)).unwrap_or(next_col);
                next_col = col.saturating_add(1);
            }
            Event::Text(t) => {
                if let Some(cell) = &mut cell {
                    if in_v {
                        cell.value.push_str(t);
                    } else if in_t && !in_phonetic {
                        cell.inline.push_str(t);
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(cell) = &mut cell {
                    if in_v {
                        cell.value.extend(resolve_ref(r));
                    } else if in_t && !in_phonetic {
                        cell.inline.extend(resolve_ref(r));
                    }
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "c" => {
                    if let Some(cell) = cell.take() {
                        next_col = cell.col.saturating_add(1);
                        let col = cell.col;
                        let text = cell_text(cell, strings)?;
                        if !text.trim().is_empty() {
                            *cells_left =
                                cells_left
                                    .checked_sub(1)
                                    .ok_or(ParseFailure::LimitExceeded {
                                        limit: "max_cells",
                                        max: ctx.limits.max_cells,
                                    })?;
                            row.push((col, text.trim().to_owned()));
                        }
                    }
                }
                "row" => table.end_row(&mut row, sink),
                "v" => in_v = false,
                "is" => in_inline = false,
                "t" => in_t = false,
                "rPh" => in_phonetic = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(table.finish(sink))
}

/// A cell's value as text, per its type.
fn cell_text(cell: Cell, strings: &[String]) -> Result<String, ParseFailure> {
    match cell.kind.as_deref() {
        Some("s") => {
            let raw = cell.value.trim();
            if raw.is_empty() {
                return Ok(String::new());
            }
            let index: usize = raw.parse().map_err(|_| ParseFailure::Malformed {
                detail: "a shared-string cell holds no valid string number".to_owned(),
            })?;
            strings
                .get(index)
                .cloned()
                .ok_or_else(|| ParseFailure::Malformed {
                    detail: format!(
                        "a cell refers to shared string {index} but the workbook has {}",
                        strings.len()
                    ),
                })
        }
        Some("b") => Ok(match cell.value.trim() {
            "1" => "TRUE".to_owned(),
            "0" => "FALSE".to_owned(),
            _ => cell.value,
        }),
        // Numbers, formula strings, errors and ISO dates are stored as
        // shown; an inline string (with or without its `t="inlineStr"`)
        // is in `is`.
        _ if cell.value.trim().is_empty() => Ok(cell.inline),
        _ => Ok(cell.value),
    }
}

/// The rows of one sheet: the first non-empty row is the header.
#[derive(Debug, Default)]
struct Table {
    /// Header cells by column, sorted.
    header: Option<Vec<(u32, String)>>,
    rows: usize,
}

impl Table {
    fn end_row(&mut self, row: &mut Vec<(u32, String)>, sink: &mut BlockSink) {
        if row.is_empty() {
            return;
        }
        // Cells are written in column order, but not every writer does.
        row.sort_by_key(|(col, _)| *col);
        let Some(header) = &self.header else {
            self.header = Some(std::mem::take(row));
            return;
        };
        let (names, values): (Vec<String>, Vec<String>) = row
            .drain(..)
            .map(|(col, value)| {
                let name = header
                    .binary_search_by_key(&col, |(c, _)| *c)
                    .ok()
                    .and_then(|i| header.get(i))
                    .map_or_else(
                        || format!("column {}", column_name(col)),
                        |(_, name)| name.clone(),
                    );
                (name, value)
            })
            .unzip();
        sink.push(BlockKind::TableRow, &labelled_row(&names, &values));
        self.rows += 1;
    }

    /// A sheet with only a header row still has that text to find.
    fn finish(self, sink: &mut BlockSink) -> usize {
        match self.header {
            Some(header) if self.rows == 0 => {
                let cells: Vec<&str> = header.iter().map(|(_, v)| v.as_str()).collect();
                sink.push(BlockKind::TableRow, &cells.join(" | "));
                1
            }
            _ => self.rows,
        }
    }
}

/// The 0-based column of a cell reference (`"AB12"` → 27); `None` if it
/// does not start with one to three letters.
fn column_of(reference: &str) -> Option<u32> {
    let letters = reference.bytes().take_while(u8::is_ascii_alphabetic);
    let mut col = 0u32;
    let mut count = 0;
    for letter in letters {
        count += 1;
        if count > 3 {
            return None;
        }
        col = col * 26 + u32::from(letter.to_ascii_uppercase() - b'A') + 1;
    }
    col.checked_sub(1)
}

/// The letters naming a 0-based column (27 → `"AB"`).
fn column_name(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        // `rem` < 26, so this is an ASCII capital.
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// Workbook builders shared with the conformance suite.
#[cfg(test)]
pub(super) mod fixtures {
    use crate::parse::ooxml::zip_bytes;

    pub(crate) type Fixture = Result<Vec<u8>, Box<dyn std::error::Error>>;

    const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>"#;

    const PACKAGE_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

    const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

    /// A worksheet part holding `rows` (the children of `sheetData`).
    pub(crate) fn worksheet(rows: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{REL}"><dimension ref="A1:C3"/><sheetData>{rows}</sheetData></worksheet>"#
        )
    }

    /// A shared-string table.
    pub(crate) fn shared(strings: &[&str]) -> String {
        let items: String = strings
            .iter()
            .map(|s| format!("<si><t xml:space=\"preserve\">{s}</t></si>"))
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n}" uniqueCount="{n}">{items}</sst>"#,
            n = strings.len()
        )
    }

    /// A workbook laid out as Excel does: `sheets` (tab name, worksheet
    /// xml) in tab order, stored as `sheet{N}.xml` in reverse so the order
    /// has to come from the workbook, plus `extra` parts as given.
    pub(crate) fn workbook(sheets: &[(&str, &str)], extra: &[(&str, &str)]) -> Fixture {
        let mut list = String::new();
        let mut rels = String::new();
        let mut parts: Vec<(String, String)> = Vec::new();
        for (i, (name, xml)) in sheets.iter().enumerate() {
            let file = sheets.len() - i;
            list.push_str(&format!(
                r#"<sheet name="{name}" sheetId="{}" r:id="rId{file}"/>"#,
                i + 1
            ));
            rels.push_str(&format!(
                r#"<Relationship Id="rId{file}" Type="{REL}/worksheet" Target="worksheets/sheet{file}.xml"/>"#
            ));
            parts.push((format!("xl/worksheets/sheet{file}.xml"), (*xml).to_owned()));
        }
        rels.push_str(&format!(
            r#"<Relationship Id="rIdS" Type="{REL}/sharedStrings" Target="sharedStrings.xml"/>"#
        ));
        let workbook = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{REL}"><workbookPr/><sheets>{list}</sheets><definedNames><definedName name="x">Sheet1!$A$1</definedName></definedNames></workbook>"#
        );
        let rels = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>"#
        );
        let mut all: Vec<(&str, &str)> = vec![
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", PACKAGE_RELS),
            ("xl/workbook.xml", &workbook),
            ("xl/_rels/workbook.xml.rels", &rels),
        ];
        all.extend(parts.iter().map(|(n, x)| (n.as_str(), x.as_str())));
        all.extend_from_slice(extra);
        Ok(zip_bytes(&all)?)
    }

    /// The conformance sample: one sheet, a header and one row holding
    /// `sentence`.
    pub(crate) fn sample(sentence: &str) -> Fixture {
        workbook(
            &[(
                "지침",
                &worksheet(
                    r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
                       <row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row>"#,
                ),
            )],
            &[(
                "xl/sharedStrings.xml",
                &shared(&["진단", "목표", "고혈압", sentence]),
            )],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{shared, workbook, worksheet};
    use super::*;
    use crate::parse::conformance::SENTENCE;
    use crate::parse::ooxml::zip_bytes;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        XlsxParser.parse(bytes, &Limits::default())
    }

    fn texts(page: &ParsedPage) -> Vec<(BlockKind, &str)> {
        page.blocks
            .iter()
            .map(|b| (b.kind, b.text.as_str()))
            .collect()
    }

    const H1: BlockKind = BlockKind::Heading { level: 1 };
    const ROW: BlockKind = BlockKind::TableRow;

    #[test]
    fn sheets_in_workbook_order_as_labelled_rows() -> TestResult {
        let strings = shared(&["환자", "진단", "수축기 혈압", "김철수", "고혈압", SENTENCE]);
        let first = worksheet(
            r#"<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>
               <row r="2"><c r="A2" t="s"><v>3</v></c><c r="B2" t="s"><v>4</v></c><c r="C2"><v>142</v></c></row>
               <row r="3"/>
               <row r="5" spans="1:5"><c r="A5" t="inlineStr"><is><t>Lee</t></is></c><c r="C5"><f>SUM(C2:C4)</f><v>128.5</v></c><c r="E5" t="b"><v>1</v></c></row>
               <row r="6"><c r="B6" t="str"><f>B2&amp;"!"</f><v>고혈압!</v></c><c r="D6" t="e"><v>#N/A</v></c><c r="C6" t="s"><v>5</v></c></row>"#,
        );
        let second = worksheet(
            r#"<row r="2"><c r="B2" t="inlineStr"><is><r><t>Drug</t></r><r><rPr><b/></rPr><t xml:space="preserve"> name</t></r></is></c><c r="C2" t="inlineStr"><is><t>Dose</t></is></c></row>
               <row r="3"><c r="B3" t="inlineStr"><is><t>암로디핀 &amp; Norvasc</t></is></c><c r="C3" t="inlineStr"><is><t>5 mg</t></is></c></row>"#,
        );
        let empty = worksheet("");
        let only_header = worksheet(
            r#"<row r="1"><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c></row>"#,
        );
        let bytes = workbook(
            &[
                ("혈압 기록", &first),
                ("Empty", &empty),
                ("Drugs", &second),
                ("Header only", &only_header),
            ],
            &[("xl/sharedStrings.xml", &strings)],
        )?;
        let doc = parse(&bytes)?;
        assert_eq!(doc.kind, DocKind::Xlsx);
        assert_eq!(doc.title, None);
        let numbers: Vec<u32> = doc.pages.iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 3, 4]);
        assert_eq!(
            texts(&doc.pages[0]),
            [
                (H1, "혈압 기록"),
                (ROW, "환자: 김철수; 진단: 고혈압; 수축기 혈압: 142"),
                (ROW, "환자: Lee; 수축기 혈압: 128.5; column E: TRUE"),
                (
                    ROW,
                    &*format!("진단: 고혈압!; 수축기 혈압: {SENTENCE}; column D: #N/A")
                ),
            ]
        );
        assert_eq!(
            texts(&doc.pages[1]),
            [
                (H1, "Drugs"),
                (ROW, "Drug name: 암로디핀 & Norvasc; Dose: 5 mg")
            ]
        );
        assert_eq!(texts(&doc.pages[2]), [(H1, "Header only"), (ROW, "a | b")]);
        Ok(())
    }

    #[test]
    fn title_rich_text_and_phonetics() -> TestResult {
        let core = r#"<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>검사 결과 2024</dc:title></cp:coreProperties>"#;
        let strings = r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><r><t>Hb</t></r><r><rPr><vertAlign val="subscript"/></rPr><t>A1c</t></r><rPh sb="0" eb="2"><t>ignored</t></rPh></si><si/><si><t>7.2%</t></si></sst>"#;
        let sheet = worksheet(
            r#"<row><c t="s"><v>0</v></c></row><row><c t="s"><v>1</v></c><c t="s"><v>2</v></c></row>"#,
        );
        let bytes = workbook(
            &[("Sheet1", &sheet)],
            &[
                ("xl/sharedStrings.xml", strings),
                ("docProps/core.xml", core),
            ],
        )?;
        let doc = parse(&bytes)?;
        assert_eq!(doc.title.as_deref(), Some("검사 결과 2024"));
        assert_eq!(
            texts(&doc.pages[0]),
            [(H1, "Sheet1"), (ROW, "column B: 7.2%")]
        );
        Ok(())
    }

    #[test]
    fn without_workbook_relationships_sheets_are_found_by_name() -> TestResult {
        let workbook = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="One" sheetId="1"/><sheet name="Two" sheetId="2"/></sheets></workbook>"#;
        let bytes = zip_bytes(&[
            ("xl/workbook.xml", workbook),
            (
                "xl/worksheets/sheet1.xml",
                &worksheet(
                    r#"<row><c t="inlineStr"><is><t>h</t></is></c></row><row><c t="inlineStr"><is><t>first</t></is></c></row>"#,
                ),
            ),
            (
                "xl/worksheets/Sheet2.xml",
                &worksheet(
                    r#"<row><c t="inlineStr"><is><t>h</t></is></c></row><row><c t="inlineStr"><is><t>second</t></is></c></row>"#,
                ),
            ),
        ])?;
        let doc = parse(&bytes)?;
        let rows: Vec<String> = doc.pages.iter().map(|p| p.text()).collect();
        assert_eq!(rows, ["One\nh: first", "Two\nh: second"]);
        Ok(())
    }

    #[test]
    fn chart_sheets_are_skipped() -> TestResult {
        let workbook_xml = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Chart" sheetId="1" r:id="rId1"/><sheet name="Data" sheetId="2" r:id="rId2"/></sheets></workbook>"#;
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/chartsheet" Target="chartsheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="/xl/worksheets/data.xml"/></Relationships>"#;
        let bytes = zip_bytes(&[
            ("xl/workbook.xml", workbook_xml),
            ("xl/_rels/workbook.xml.rels", rels),
            ("xl/chartsheets/sheet1.xml", "<chartsheet/>"),
            (
                "xl/worksheets/data.xml",
                &worksheet(r#"<row><c t="inlineStr"><is><t>only</t></is></c></row>"#),
            ),
        ])?;
        let doc = parse(&bytes)?;
        assert_eq!(doc.pages.len(), 1);
        assert_eq!(doc.pages[0].number, 2);
        assert_eq!(doc.pages[0].text(), "Data\nonly");
        Ok(())
    }

    #[test]
    fn missing_parts_are_malformed() -> TestResult {
        let no_workbook = zip_bytes(&[("xl/styles.xml", "<styleSheet/>")])?;
        assert_eq!(
            parse(&no_workbook),
            Err(ParseFailure::Malformed {
                detail: "not an excel workbook: the workbook part (xl/workbook.xml) is missing"
                    .to_owned()
            })
        );
        let sheet = worksheet(r#"<row><c t="inlineStr"><is><t>x</t></is></c></row>"#);
        let good = workbook(&[("A", &sheet), ("B", &sheet)], &[])?;
        // Drop the second sheet's part (stored as sheet1.xml: reverse order).
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&good[..]))?;
        let mut parts = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i)?;
            let name = file.name()?.into_owned();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text)?;
            if name != "xl/worksheets/sheet1.xml" {
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
                detail: "sheet 2 of the workbook is missing".to_owned()
            })
        );
        Ok(())
    }

    #[test]
    fn bad_shared_string_numbers_are_malformed() -> TestResult {
        for (value, detail) in [
            (
                "4000000000",
                "a cell refers to shared string 4000000000 but the workbook has 1",
            ),
            (
                "99999999999999999999999999",
                "a shared-string cell holds no valid string number",
            ),
            ("-1", "a shared-string cell holds no valid string number"),
        ] {
            let sheet = worksheet(&format!(r#"<row><c t="s"><v>{value}</v></c></row>"#));
            let bytes = workbook(
                &[("S", &sheet)],
                &[("xl/sharedStrings.xml", &shared(&["only"]))],
            )?;
            assert_eq!(
                parse(&bytes),
                Err(ParseFailure::Malformed {
                    detail: detail.to_owned()
                }),
                "{value}"
            );
        }
        Ok(())
    }

    #[test]
    fn huge_declared_counts_are_not_trusted() -> TestResult {
        // A table that claims ten billion strings (and a dimension of the
        // whole grid) is read as the one string it holds.
        let strings = r#"<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="10000000000" uniqueCount="10000000000"><si><t>one</t></si></sst>"#;
        let sheet = worksheet(
            r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="1048576"><c r="XFD1048576" t="s"><v>0</v></c></row>"#,
        );
        let bytes = workbook(&[("S", &sheet)], &[("xl/sharedStrings.xml", strings)])?;
        assert_eq!(parse(&bytes)?.pages[0].text(), "S\ncolumn XFD: one");
        Ok(())
    }

    #[test]
    fn cell_limit_fails_the_workbook() -> TestResult {
        let rows: String = (1..=10)
            .map(|r| {
                format!(
                    r#"<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>{r}</v></c></row>"#
                )
            })
            .collect();
        let bytes = workbook(&[("S", &worksheet(&rows))], &[])?;
        let limits = |max_cells| Limits {
            max_cells,
            ..Limits::default()
        };
        assert!(XlsxParser.parse(&bytes, &limits(20)).is_ok());
        assert_eq!(
            XlsxParser.parse(&bytes, &limits(19)),
            Err(ParseFailure::LimitExceeded {
                limit: "max_cells",
                max: 19
            })
        );
        let many_strings = shared(&["a", "b", "c"]);
        let bytes = workbook(
            &[("S", &worksheet(""))],
            &[("xl/sharedStrings.xml", &many_strings)],
        )?;
        assert_eq!(
            XlsxParser.parse(&bytes, &limits(2)),
            Err(ParseFailure::LimitExceeded {
                limit: "max_cells",
                max: 2
            })
        );
        Ok(())
    }

    #[test]
    fn sheet_count_is_capped_by_max_pages() -> TestResult {
        let sheet = worksheet(r#"<row><c t="inlineStr"><is><t>x</t></is></c></row>"#);
        let sheets: Vec<(&str, &str)> = (0..4).map(|_| ("S", sheet.as_str())).collect();
        let bytes = workbook(&sheets, &[])?;
        let limits = Limits {
            max_pages: 3,
            ..Limits::default()
        };
        assert_eq!(
            XlsxParser.parse(&bytes, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 3
            })
        );
        Ok(())
    }

    #[test]
    fn hostile_packages_fail_cleanly() -> TestResult {
        // Entities from a DTD are never expanded or fetched.
        let dtd_sheet = r#"<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY f SYSTEM "file:///etc/passwd">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row><c t="inlineStr"><is><t>x&b;&f;y</t></is></c></row></sheetData></worksheet>"#;
        let doc = parse(&workbook(&[("S", dtd_sheet)], &[])?)?;
        assert_eq!(doc.pages[0].text(), "S\nxy");
        // Deep nesting.
        let deep = worksheet(&format!(
            "<row>{}</row>",
            "<c><is>".repeat(300) + &"</is></c>".repeat(300)
        ));
        assert_eq!(
            parse(&workbook(&[("S", &deep)], &[])?),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 256
            })
        );
        // Relationship targets outside the package and `../` entry names
        // are never followed anywhere: the sheet is just missing.
        let workbook_xml = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="../../../etc/passwd"/></Relationships>"#;
        let bytes = zip_bytes(&[
            ("xl/workbook.xml", workbook_xml),
            ("xl/_rels/workbook.xml.rels", rels),
            ("../../etc/passwd", "<worksheet/>"),
        ])?;
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::Malformed {
                detail: "sheet 1 of the workbook is missing".to_owned()
            })
        );
        // Not a zip; an old or encrypted workbook.
        assert!(matches!(
            parse(b"PK\x03\x04 truncated"),
            Err(ParseFailure::Malformed { .. })
        ));
        let mut encrypted = crate::parse::OLE2_MAGIC.to_vec();
        encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&encrypted), Err(ParseFailure::Encrypted));
        let mut xls = crate::parse::OLE2_MAGIC.to_vec();
        xls.extend([0; 64]);
        assert_eq!(
            parse(&xls),
            Err(ParseFailure::Malformed {
                detail: "this is an old binary excel (.xls) file; save it as .xlsx".to_owned()
            })
        );
        Ok(())
    }

    #[test]
    fn inflate_budget_is_shared_by_all_parts() -> TestResult {
        let sheet = worksheet(r#"<row><c t="inlineStr"><is><t>x</t></is></c></row>"#);
        let bytes = workbook(&[("S", &sheet)], &[])?;
        let limits = Limits {
            max_decompressed_bytes: sheet.len() as u64,
            ..Limits::default()
        };
        assert_eq!(
            XlsxParser.parse(&bytes, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: sheet.len() as u64
            })
        );
        Ok(())
    }

    #[test]
    fn zip_bombs_are_stopped() -> TestResult {
        // 20 MiB of whitespace deflates about a thousandfold.
        let padding = " ".repeat(20 << 20);
        let sheet = worksheet(&format!(
            r#"<row><c t="inlineStr"><is><t>x</t></is></c></row>{padding}"#
        ));
        let bytes = workbook(&[("S", &sheet)], &[])?;
        assert!(bytes.len() < 1 << 20, "bomb is {} bytes", bytes.len());
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "zip compression ratio",
                max: ooxml::MAX_RATIO
            })
        );
        Ok(())
    }

    #[test]
    fn columns_and_letters() {
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(column_of("ab12"), Some(27));
        assert_eq!(column_of("XFD1048576"), Some(16_383));
        assert_eq!(column_of("ABCD1"), None);
        assert_eq!(column_of("12"), None);
        for col in [0, 25, 26, 27, 701, 702, 16_383] {
            assert_eq!(column_of(&format!("{}1", column_name(col))), Some(col));
        }
        assert_eq!(column_name(u32::MAX), "MWLQKWV");
    }
}
