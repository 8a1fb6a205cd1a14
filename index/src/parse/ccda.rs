//! HL7 C-CDA clinical documents (CDA R2 XML, `urn:hl7-org:v3`) through
//! `quick-xml`: the header (title, patient demographics, dates) on page 1,
//! then one page per top-level section of the structured body — problems,
//! medications, allergies, results, notes … — named by the section's title,
//! else by its LOINC code, with its narrative block as headings, paragraphs,
//! list items and table rows (`"header: value; …"` where the table has a
//! header row). Nested sections stay on their parent's page, one heading
//! level down. An unstructured body (`nonXMLBody`) is read when it is text.
//!
//! Every page carries the patient (`recordTarget/patientRole/id`: the first
//! id that is not a social security number, by `@extension`, else `@root`)
//! and the document's effective time (`documentationOf/serviceEvent`, else
//! the document's `effectiveTime`) in [`PageMeta`]. Coded entries are not
//! read: C-CDA requires the narrative to carry what they say.
//!
//! XML guards as in the other XML readers: nesting capped at
//! [`Limits::max_xml_depth`], and DTDs ignored, so no entity — internal or
//! external (`SYSTEM "file:///…"`) — is ever expanded or fetched: only the
//! five predefined entities and character references are resolved; any other
//! reference is dropped from the text.

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use super::clinical::{base64_decode, hl7_time};
use super::text::{decode, push_paragraphs};
use super::{
    Block, BlockKind, BlockSink, Deadline, DocKind, Limits, PageMeta, ParseFailure, ParsedDocument,
    ParsedPage, Parser, labelled_row, push_collapsed,
};

/// Reads C-CDA documents.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CcdaParser;

/// Most bytes decoded from a base64 `nonXMLBody`.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The OID of US social security numbers: never used as the patient id.
const SSN_OID: &str = "2.16.840.1.113883.4.1";

impl Parser for CcdaParser {
    fn kind(&self) -> DocKind {
        DocKind::Ccda
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        let deadline = Deadline::new(limits);
        deadline.check()?;
        // NULs are never XML; a damaged file keeps the rest.
        let cleaned: Vec<u8>;
        let bytes = if bytes.contains(&0) {
            cleaned = bytes.iter().copied().filter(|&b| b != 0).collect();
            &cleaned[..]
        } else {
            bytes
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseFailure::Empty);
        }
        // Not UTF-8 (a Latin-1 export): decode leniently rather than refuse.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => std::borrow::Cow::Owned(decode(bytes)),
        };
        let root = read_tree(&text, limits, deadline)?;
        if root.name != "ClinicalDocument" {
            return Err(ParseFailure::Malformed {
                detail: "not a c-cda document: the root element is not ClinicalDocument".into(),
            });
        }
        render(&root, limits, deadline)
    }
}

// ---------------------------------------------------------------------------
// A small element tree

/// One element: its local name (namespace prefix dropped), attributes by
/// local name, and children in order.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Child>,
}

#[derive(Debug)]
enum Child {
    Element(Node),
    Text(String),
}

impl Node {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn elements(&self) -> impl Iterator<Item = &Node> {
        self.children.iter().filter_map(|c| match c {
            Child::Element(e) => Some(e),
            Child::Text(_) => None,
        })
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.elements().find(|e| e.name == name)
    }

    fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Node> {
        self.elements().filter(move |e| e.name == name)
    }

    /// The first descendant along a path of child names.
    fn path(&self, names: &[&str]) -> Option<&Node> {
        names.iter().try_fold(self, |node, name| node.child(name))
    }

    /// All text below, whitespace collapsed. Iterative: the tree is at most
    /// `max_xml_depth` deep, but no recursion is needed here.
    fn text(&self) -> String {
        let mut out = String::new();
        let mut stack: Vec<std::slice::Iter<'_, Child>> = vec![self.children.iter()];
        while let Some(top) = stack.last_mut() {
            match top.next() {
                Some(Child::Text(t)) => push_collapsed(&mut out, t),
                Some(Child::Element(e)) => {
                    if is_line_break(&e.name) {
                        push_collapsed(&mut out, " ");
                    }
                    stack.push(e.children.iter());
                }
                None => {
                    stack.pop();
                }
            }
        }
        out.trim().to_owned()
    }
}

fn is_line_break(name: &str) -> bool {
    matches!(name, "br" | "paragraph" | "item" | "tr" | "td" | "th")
}

fn xml_failure(e: &quick_xml::Error) -> ParseFailure {
    ParseFailure::Malformed {
        detail: format!("the c-cda document is not well-formed xml ({e})"),
    }
}

/// Text a reference stands for: character references and the five
/// predefined entities only. Entities declared in a DTD are never expanded.
fn resolve_ref(r: &BytesRef<'_>) -> Option<char> {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return Some(c);
    }
    match &**r {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

fn element(e: &BytesStart<'_>) -> Node {
    let name = e.local_name().as_ref().to_owned();
    let attrs = e
        .attributes()
        .flatten()
        .filter_map(|a| {
            let key = a.key.local_name().as_ref().to_owned();
            let value = a.normalized_value(XmlVersion::Implicit1_0).ok()?;
            Some((key, value.into_owned()))
        })
        .collect();
    Node {
        name,
        attrs,
        children: Vec::new(),
    }
}

fn push_text(stack: &mut [Node], text: &str) {
    if let Some(top) = stack.last_mut() {
        match top.children.last_mut() {
            Some(Child::Text(t)) => t.push_str(text),
            _ => top.children.push(Child::Text(text.to_owned())),
        }
    }
}

/// Reads the whole document into a tree, depth-capped. Text outside the root
/// element and everything in the DTD is dropped.
fn read_tree(xml: &str, limits: &Limits, deadline: Deadline) -> Result<Node, ParseFailure> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let mut events = 0u64;
    loop {
        events += 1;
        if events.is_multiple_of(4096) {
            deadline.check()?;
        }
        let event = reader.read_event().map_err(|e| xml_failure(&e))?;
        match event {
            Event::Start(e) => {
                if stack.len() >= limits.max_xml_depth as usize {
                    return Err(ParseFailure::LimitExceeded {
                        limit: "max_xml_depth",
                        max: u64::from(limits.max_xml_depth),
                    });
                }
                if root.is_some() {
                    return Err(ParseFailure::Malformed {
                        detail: "the c-cda document has more than one root element".into(),
                    });
                }
                stack.push(element(&e));
            }
            Event::Empty(e) => {
                let node = element(&e);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::Element(node)),
                    None if root.is_none() => root = Some(node),
                    None => {}
                }
            }
            Event::End(_) => {
                if let Some(node) = stack.pop() {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Child::Element(node)),
                        None => root = Some(node),
                    }
                }
            }
            Event::Text(t) => push_text(&mut stack, &t),
            Event::CData(t) => push_text(&mut stack, &t),
            Event::GeneralRef(r) => {
                if let Some(c) = resolve_ref(&r) {
                    push_text(&mut stack, c.encode_utf8(&mut [0; 4]));
                }
            }
            Event::Eof => break,
            // DocType (entity declarations included), comments, processing
            // instructions and the declaration carry no document text.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(ParseFailure::Malformed {
            detail: "the c-cda document is cut off (elements are not closed)".into(),
        });
    }
    root.ok_or_else(|| ParseFailure::Malformed {
        detail: "not a c-cda document: no xml elements".into(),
    })
}

// ---------------------------------------------------------------------------
// Header

/// The patient id: the first `patientRole/id` that is not a social security
/// number, by `@extension`, else `@root`.
fn patient_id(doc: &Node) -> Option<String> {
    let role = doc.path(&["recordTarget", "patientRole"])?;
    let ids: Vec<&Node> = role
        .children_named("id")
        .filter(|id| id.attr("nullFlavor").is_none())
        .collect();
    ids.iter()
        .find(|id| id.attr("root") != Some(SSN_OID))
        .or(ids.first())
        .and_then(|id| id.attr("extension").or_else(|| id.attr("root")))
        .map(str::to_owned)
}

/// A TS element's time: `@value`, else its `low`, else its `center`.
fn ts_value(node: &Node) -> Option<&str> {
    node.attr("value")
        .or_else(|| node.child("low").and_then(|l| l.attr("value")))
        .or_else(|| node.child("center").and_then(|c| c.attr("value")))
}

/// When the document's care happened: the service event's time, else the
/// document's own `effectiveTime`.
fn effective(doc: &Node) -> Option<i64> {
    doc.children_named("documentationOf")
        .filter_map(|d| d.path(&["serviceEvent", "effectiveTime"]))
        .find_map(|t| ts_value(t).and_then(hl7_time))
        .or_else(|| {
            doc.child("effectiveTime")
                .and_then(ts_value)
                .and_then(hl7_time)
        })
}

/// `2019-05-03 10:11` from an HL7 TS, for reading (the value as written when
/// it is not a valid TS).
fn ts_words(value: &str) -> String {
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    let part = |range: std::ops::Range<usize>| digits.get(range);
    match (
        part(0..4),
        part(4..6),
        part(6..8),
        part(8..10),
        part(10..12),
    ) {
        (Some(y), Some(m), Some(d), Some(h), Some(min)) => format!("{y}-{m}-{d} {h}:{min}"),
        (Some(y), Some(m), Some(d), _, _) => format!("{y}-{m}-{d}"),
        (Some(y), Some(m), None, _, _) => format!("{y}-{m}"),
        _ => value.to_owned(),
    }
}

fn person_name(name: &Node) -> Option<String> {
    let parts: Vec<String> = ["prefix", "given", "family", "suffix"]
        .iter()
        .flat_map(|part| name.children_named(part).map(Node::text))
        .filter(|p| !p.is_empty())
        .collect();
    let joined = if parts.is_empty() {
        name.text()
    } else {
        parts.join(" ")
    };
    (!joined.is_empty()).then_some(joined)
}

/// A coded element in words: `@displayName`, else its `originalText`, else `@code`.
fn coded(node: &Node) -> Option<String> {
    node.attr("displayName")
        .map(str::to_owned)
        .or_else(|| {
            node.child("originalText")
                .map(Node::text)
                .filter(|t| !t.is_empty())
        })
        .or_else(|| node.attr("code").map(str::to_owned))
}

fn header_page(doc: &Node, title: &str, patient: Option<&str>) -> Vec<Block> {
    let mut sink = BlockSink::default();
    sink.push(BlockKind::Heading { level: 1 }, title);
    let mut field = |label: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            sink.push(BlockKind::Paragraph, &format!("{label}: {value}"));
        }
    };
    field("Document type", doc.child("code").and_then(coded));
    field(
        "Document date",
        doc.child("effectiveTime").and_then(ts_value).map(ts_words),
    );
    if let Some(time) = doc
        .children_named("documentationOf")
        .find_map(|d| d.path(&["serviceEvent", "effectiveTime"]))
    {
        let low = time
            .attr("value")
            .or_else(|| time.child("low").and_then(|l| l.attr("value")));
        let high = time.child("high").and_then(|h| h.attr("value"));
        field(
            "Care period",
            match (low, high) {
                (Some(l), Some(h)) => Some(format!("{} – {}", ts_words(l), ts_words(h))),
                (Some(l), None) => Some(format!("from {}", ts_words(l))),
                (None, Some(h)) => Some(format!("until {}", ts_words(h))),
                (None, None) => None,
            },
        );
    }
    if let Some(role) = doc.path(&["recordTarget", "patientRole"]) {
        let person = role.child("patient");
        field(
            "Patient",
            person.and_then(|p| p.child("name")).and_then(person_name),
        );
        field("Patient id", patient.map(str::to_owned));
        field(
            "Gender",
            person
                .and_then(|p| p.child("administrativeGenderCode"))
                .and_then(coded),
        );
        field(
            "Birth date",
            person
                .and_then(|p| p.child("birthTime"))
                .and_then(|b| b.attr("value"))
                .map(ts_words),
        );
        let ids: Vec<String> = role
            .children_named("id")
            .filter_map(|id| {
                let value = id.attr("extension")?;
                Some(match id.attr("assigningAuthorityName") {
                    Some(authority) => format!("{authority} {value}"),
                    None => value.to_owned(),
                })
            })
            .collect();
        if !ids.is_empty() {
            field("Identifiers", Some(ids.join("; ")));
        }
        for addr in role.children_named("addr") {
            let parts: Vec<String> = addr
                .elements()
                .map(Node::text)
                .filter(|t| !t.is_empty())
                .collect();
            field("Address", (!parts.is_empty()).then(|| parts.join(", ")));
        }
        for telecom in role.children_named("telecom") {
            field("Contact", telecom.attr("value").map(str::to_owned));
        }
        if let Some(p) = person {
            field("Race", p.child("raceCode").and_then(coded));
            field("Ethnicity", p.child("ethnicGroupCode").and_then(coded));
            field(
                "Language",
                p.path(&["languageCommunication", "languageCode"])
                    .and_then(|l| l.attr("code"))
                    .map(str::to_owned),
            );
        }
    }
    let authors: Vec<String> = doc
        .children_named("author")
        .filter_map(|a| a.path(&["assignedAuthor", "assignedPerson", "name"]))
        .filter_map(person_name)
        .collect();
    if !authors.is_empty() {
        field("Author", Some(authors.join(", ")));
    }
    field(
        "Organization",
        doc.path(&[
            "custodian",
            "assignedCustodian",
            "representedCustodianOrganization",
            "name",
        ])
        .map(Node::text),
    );
    sink.into_blocks()
}

// ---------------------------------------------------------------------------
// Sections

/// A section's name from its LOINC code, for sections without a title.
fn section_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "11450-4" => "Problems",
        "10160-0" => "Medications",
        "48765-2" => "Allergies",
        "30954-2" => "Results",
        "8716-3" => "Vital signs",
        "47519-4" => "Procedures",
        "46240-8" => "Encounters",
        "11369-6" => "Immunizations",
        "29762-2" => "Social history",
        "10157-6" => "Family history",
        "11348-0" => "Past medical history",
        "10164-2" => "History of present illness",
        "51848-0" => "Assessment",
        "18776-5" => "Plan of treatment",
        "51847-2" => "Assessment and plan",
        "29545-1" => "Physical exam",
        "10187-3" => "Review of systems",
        "47420-5" => "Functional status",
        "10190-7" => "Mental status",
        "46264-8" => "Medical equipment",
        "42348-3" => "Advance directives",
        "61146-7" => "Goals",
        "75310-3" => "Health concerns",
        "48768-6" => "Payers",
        "42349-1" => "Reason for referral",
        "29299-5" => "Reason for visit",
        "8648-8" => "Hospital course",
        "11535-2" => "Hospital discharge diagnosis",
        "10183-2" => "Hospital discharge medications",
        "8653-8" => "Hospital discharge instructions",
        "34109-9" => "Note",
        "10154-3" => "Chief complaint",
        "46239-0" => "Chief complaint and reason for visit",
        "85847-2" => "Care team",
        _ => return None,
    })
}

fn section_title(section: &Node) -> String {
    section
        .child("title")
        .map(Node::text)
        .filter(|t| !t.is_empty())
        .or_else(|| {
            let code = section.child("code")?;
            code.attr("code")
                .and_then(section_name)
                .map(str::to_owned)
                .or_else(|| code.attr("displayName").map(str::to_owned))
        })
        .unwrap_or_else(|| "Section".to_owned())
}

/// Turns a section's narrative block (`<text>`) into blocks.
struct Narrative<'s> {
    sink: &'s mut BlockSink,
    /// Inline text waiting for the end of its block.
    pending: String,
}

impl Narrative<'_> {
    fn flush(&mut self) {
        let text = std::mem::take(&mut self.pending);
        self.sink.push(BlockKind::Paragraph, &text);
    }

    /// Walks the narrative. Recursion is bounded by the tree's depth
    /// ([`Limits::max_xml_depth`]).
    fn walk(&mut self, node: &Node) {
        for child in &node.children {
            match child {
                Child::Text(t) => push_collapsed(&mut self.pending, t),
                Child::Element(e) => self.element(e),
            }
        }
    }

    fn element(&mut self, e: &Node) {
        match e.name.as_str() {
            "br" => {
                let kept = self.pending.trim_end().len();
                self.pending.truncate(kept);
                if !self.pending.is_empty() {
                    self.pending.push('\n');
                }
            }
            "paragraph" | "caption" => {
                self.flush();
                self.walk(e);
                self.flush();
            }
            "list" => {
                self.flush();
                for item in e.elements() {
                    match item.name.as_str() {
                        "item" => {
                            // An item may hold a nested list or table: its own
                            // text first, the nested blocks after.
                            let mut nested = BlockSink::default();
                            let mut inner = Narrative {
                                sink: &mut nested,
                                pending: String::new(),
                            };
                            inner.walk(item);
                            let text = std::mem::take(&mut inner.pending);
                            self.sink.push(BlockKind::ListItem, &text);
                            for block in nested.into_blocks() {
                                self.sink.push(block.kind, &block.text);
                            }
                        }
                        "caption" => self.sink.push(BlockKind::Paragraph, &item.text()),
                        _ => {}
                    }
                }
            }
            "table" => {
                self.flush();
                self.table(e);
            }
            // Footnotes and rendered media are references, not text.
            "footnoteRef" | "renderMultiMedia" => {}
            _ => self.walk(e),
        }
    }

    fn table(&mut self, table: &Node) {
        if let Some(caption) = table.child("caption") {
            self.sink.push(BlockKind::Paragraph, &caption.text());
        }
        let rows = |part: &str| -> Vec<Vec<String>> {
            table
                .children_named(part)
                .flat_map(|p| p.children_named("tr"))
                .map(|tr| {
                    tr.elements()
                        .filter(|c| c.name == "td" || c.name == "th")
                        .map(Node::text)
                        .collect()
                })
                .collect()
        };
        let mut header: Vec<String> = rows("thead").into_iter().next().unwrap_or_default();
        let mut body = rows("tbody");
        body.extend(
            table
                .children_named("tr")
                .map(|tr| tr.elements().map(Node::text).collect()),
        );
        // A first body row of <th> cells is the header when there is no <thead>.
        if header.is_empty()
            && let Some(first) = table
                .children_named("tbody")
                .flat_map(|p| p.children_named("tr"))
                .next()
            && first.elements().all(|c| c.name == "th")
            && !body.is_empty()
        {
            header = body.remove(0);
        }
        for row in body {
            let text = labelled_row(&header, &row);
            self.sink.push(BlockKind::TableRow, &text);
        }
        for foot in rows("tfoot") {
            let text = labelled_row(&[], &foot);
            self.sink.push(BlockKind::TableRow, &text);
        }
    }
}

/// One section's blocks: its heading, its narrative, then nested sections a
/// level down. Empty when neither it nor a nested section has text (a
/// `nullFlavor` section, or one with coded entries only).
fn section_blocks(section: &Node, level: u8) -> Vec<Block> {
    let mut sink = BlockSink::default();
    if let Some(text) = section.child("text") {
        let mut narrative = Narrative {
            sink: &mut sink,
            pending: String::new(),
        };
        narrative.walk(text);
        narrative.flush();
    }
    let mut content = sink.into_blocks();
    for nested in section
        .children_named("component")
        .filter_map(|c| c.child("section"))
    {
        content.extend(section_blocks(nested, (level + 1).min(9)));
    }
    if content.is_empty() {
        return content;
    }
    let mut heading = BlockSink::default();
    heading.push(BlockKind::Heading { level }, &section_title(section));
    let mut blocks = heading.into_blocks();
    blocks.extend(content);
    blocks
}

/// The text of an unstructured body (`nonXMLBody/text`): inline text, or
/// base64 text.
fn non_xml_body(text: &Node, limits: &Limits, sink: &mut BlockSink) {
    let media = text.attr("mediaType").unwrap_or("text/plain");
    if !media.starts_with("text/") {
        sink.push(
            BlockKind::Paragraph,
            &format!("The document body is a {media} file, not text; it is not read."),
        );
        return;
    }
    let raw = text.text();
    if text.attr("representation") == Some("B64") {
        let Some((bytes, cut)) = base64_decode(&raw, MAX_BODY_BYTES) else {
            sink.push(
                BlockKind::Paragraph,
                "The document body is not valid base64.",
            );
            return;
        };
        if media.starts_with("text/html") {
            if let Ok(doc) = super::parser_for(DocKind::Html).parse(&bytes, limits) {
                for block in doc.pages.into_iter().flat_map(|p| p.blocks) {
                    sink.push(block.kind, &block.text);
                }
            }
        } else {
            push_paragraphs(sink, &decode(&bytes));
        }
        if cut {
            sink.push(
                BlockKind::Paragraph,
                &format!(
                    "(The body is longer than {MAX_BODY_BYTES} bytes; only its start is read.)"
                ),
            );
        }
    } else {
        sink.push(BlockKind::Paragraph, &raw);
    }
}

fn render(doc: &Node, limits: &Limits, deadline: Deadline) -> Result<ParsedDocument, ParseFailure> {
    let title = doc
        .child("title")
        .map(Node::text)
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "C-CDA document".to_owned());
    let meta = PageMeta {
        patient_id: patient_id(doc),
        effective: effective(doc),
        ocr_confidence: None,
    };
    let mut page_blocks: Vec<Vec<Block>> =
        vec![header_page(doc, &title, meta.patient_id.as_deref())];
    let component = doc.child("component");
    if let Some(body) = component.and_then(|c| c.child("structuredBody")) {
        for section in body
            .children_named("component")
            .filter_map(|c| c.child("section"))
        {
            deadline.check()?;
            let blocks = section_blocks(section, 1);
            if !blocks.is_empty() {
                page_blocks.push(blocks);
            }
        }
    } else if let Some(text) = component.and_then(|c| c.path(&["nonXMLBody", "text"])) {
        let mut sink = BlockSink::default();
        sink.push(BlockKind::Heading { level: 1 }, "Document");
        non_xml_body(text, limits, &mut sink);
        page_blocks.push(sink.into_blocks());
    }
    // The header alone (a title and nothing else) is no document.
    if page_blocks.len() == 1 && page_blocks[0].len() <= 1 {
        return Err(ParseFailure::Empty);
    }
    if page_blocks.len() > limits.max_pages as usize {
        return Err(ParseFailure::LimitExceeded {
            limit: "max_pages",
            max: u64::from(limits.max_pages),
        });
    }
    let pages = page_blocks
        .into_iter()
        .enumerate()
        .map(|(i, blocks)| ParsedPage {
            number: i as u32 + 1,
            blocks,
            meta: meta.clone(),
        })
        .collect();
    Ok(ParsedDocument {
        kind: DocKind::Ccda,
        title: Some(title),
        pages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{clinical::fhir_time, parse_bytes};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn ccda(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc">
  <code code="34133-9" codeSystem="2.16.840.1.113883.6.1" displayName="Summarization of Episode Note"/>
  <title>Continuity of Care Document</title>
  <effectiveTime value="20240301150334-0500"/>
  <recordTarget><patientRole>
    <id root="2.16.840.1.113883.4.1" extension="999-12-3456"/>
    <id root="2.16.840.1.113883.19.5" extension="MRN-4411" assigningAuthorityName="Good Health"/>
    <patient>
      <name use="L"><given>Eun-ji</given><family>Park</family></name>
      <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1" displayName="Female"/>
      <birthTime value="19750512"/>
    </patient>
  </patientRole></recordTarget>
  <documentationOf><serviceEvent classCode="PCPR"><effectiveTime>
    <low value="20240122"/><high nullFlavor="NI"/>
  </effectiveTime></serviceEvent></documentationOf>
  <component><structuredBody>{body}</structuredBody></component>
</ClinicalDocument>"#
        )
    }

    const SECTIONS: &str = r#"
    <component><section>
      <code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/>
      <text><table border="1">
        <thead><tr><th>Problem</th><th>Status</th><th>Onset</th></tr></thead>
        <tbody>
          <tr><td>Essential hypertension</td><td>Active</td><td>2019-05-03</td></tr>
          <tr><td>Type 2 diabetes <content styleCode="Bold">mellitus</content></td><td>Active</td><td>2020-01-10</td></tr>
        </tbody></table></text>
    </section></component>
    <component><section>
      <title>Medications</title>
      <text><list><item>Metformin 500 mg twice daily</item><item>Lisinopril 10 mg daily<br/>take in the morning</item></list></text>
    </section></component>
    <component><section>
      <title>Allergies &amp; Intolerances</title>
      <text><paragraph>Penicillin &#8212; hives</paragraph><paragraph>No known food allergies.</paragraph></text>
      <component><section><title>Reactions</title><text>Urticaria, 2015</text></section></component>
    </section></component>
    <component><section><title>Results</title><text/></section></component>
    <component><section nullFlavor="NI"><title>Plan</title></section></component>"#;

    #[test]
    fn sections_become_pages_with_tables_lists_and_paragraphs() -> TestResult {
        let doc = CcdaParser.parse(ccda(SECTIONS).as_bytes(), &Limits::default())?;
        assert_eq!(doc.kind, DocKind::Ccda);
        assert_eq!(doc.title.as_deref(), Some("Continuity of Care Document"));
        // Header + problems + medications + allergies; empty sections left out.
        assert_eq!(doc.pages.len(), 4, "{doc:#?}");
        for page in &doc.pages {
            assert_eq!(page.meta.patient_id.as_deref(), Some("MRN-4411"));
            assert_eq!(page.meta.effective, fhir_time("2024-01-22"));
        }
        let header = doc.pages[0].text();
        for expected in [
            "Patient: Eun-ji Park",
            "Gender: Female",
            "Birth date: 1975-05-12",
            "Care period: from 2024-01-22",
            "Document date: 2024-03-01 15:03",
            "Identifiers: 999-12-3456; Good Health MRN-4411",
        ] {
            assert!(header.contains(expected), "{expected} in {header}");
        }

        let problems = &doc.pages[1];
        assert_eq!(problems.blocks[0].text, "Problems");
        assert_eq!(problems.blocks[0].kind, BlockKind::Heading { level: 1 });
        assert_eq!(
            problems.blocks[1],
            Block {
                kind: BlockKind::TableRow,
                text: "Problem: Essential hypertension; Status: Active; Onset: 2019-05-03".into()
            }
        );
        assert!(
            problems.blocks[2]
                .text
                .starts_with("Problem: Type 2 diabetes mellitus;")
        );

        let meds = &doc.pages[2];
        assert_eq!(meds.blocks[1].kind, BlockKind::ListItem);
        assert_eq!(meds.blocks[1].text, "Metformin 500 mg twice daily");
        assert_eq!(
            meds.blocks[2].text,
            "Lisinopril 10 mg daily\ntake in the morning"
        );

        let allergies = doc.pages[3].text();
        assert_eq!(
            allergies,
            "Allergies & Intolerances\nPenicillin — hives\nNo known food allergies.\nReactions\nUrticaria, 2015"
        );
        assert_eq!(doc.pages[3].blocks[3].kind, BlockKind::Heading { level: 2 });
        Ok(())
    }

    #[test]
    fn external_entities_are_never_resolved() -> TestResult {
        let hostile = ccda(
            r#"<component><section><title>Notes</title>
               <text><paragraph>before &xxe; after &internal;</paragraph></text></section></component>"#,
        )
        .replacen(
            "<ClinicalDocument",
            r#"<!DOCTYPE ClinicalDocument [
  <!ENTITY xxe SYSTEM "file:///etc/passwd">
  <!ENTITY internal "EXPANDED">
]>
<ClinicalDocument"#,
            1,
        );
        let doc = parse_bytes("hostile.xml", hostile.as_bytes(), &Limits::default())?;
        assert_eq!(doc.kind, DocKind::Ccda);
        let text: String = doc.pages.iter().map(|p| p.text()).collect();
        assert!(text.contains("before after"), "{text}");
        assert!(!text.contains("root:"), "the file was read: {text}");
        assert!(!text.contains("EXPANDED"), "{text}");
        Ok(())
    }

    #[test]
    fn bad_documents_fail_clearly() {
        let limits = Limits {
            max_xml_depth: 50,
            ..Limits::default()
        };
        let deep = ccda(&format!(
            "<component><section><text>{}x{}</text></section></component>",
            "<content>".repeat(100_000),
            "</content>".repeat(100_000)
        ));
        assert_eq!(
            CcdaParser.parse(deep.as_bytes(), &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_xml_depth",
                max: 50
            })
        );
        let not_cda = r#"<?xml version="1.0"?><html xmlns="urn:hl7-org:v3"><p>x</p></html>"#;
        assert!(matches!(
            CcdaParser.parse(not_cda.as_bytes(), &Limits::default()),
            Err(ParseFailure::Malformed { .. })
        ));
        let whole = ccda(SECTIONS);
        let cut = &whole[..whole.len() / 2];
        assert!(matches!(
            CcdaParser.parse(cut.as_bytes(), &Limits::default()),
            Err(ParseFailure::Malformed { .. })
        ));
        let header_only = ccda("").replace("<title>Continuity of Care Document</title>", "");
        // The patient's demographics are still text.
        assert!(
            CcdaParser
                .parse(header_only.as_bytes(), &Limits::default())
                .is_ok()
        );
    }

    #[test]
    fn ids_and_times_follow_the_fallbacks() {
        let doc = |xml: &str| read_tree(xml, &Limits::default(), Deadline::none());
        let root_only = doc(
            r#"<ClinicalDocument><recordTarget><patientRole><id root="1.2.3.4"/></patientRole></recordTarget>
               <effectiveTime value="20130717114446.302-0500"/></ClinicalDocument>"#,
        );
        let Ok(root_only) = root_only else {
            panic!("{root_only:?}");
        };
        assert_eq!(patient_id(&root_only).as_deref(), Some("1.2.3.4"));
        assert_eq!(
            effective(&root_only),
            fhir_time("2013-07-17T11:44:46-05:00")
        );
    }

    /// The C-CDA samples of `installer/fetch-fixtures.sh`.
    fn fixture(name: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        let dir = std::env::var_os("SILLOK_FIXTURES").ok_or(
            "SILLOK_FIXTURES is not set: run installer/fetch-fixtures.sh and source installer/env.sh",
        )?;
        let path = std::path::Path::new(&dir).join("ccda").join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "fixture {} is missing ({e}): run installer/fetch-fixtures.sh",
                path.display()
            )
            .into()
        })
    }

    #[test]
    fn real_ccda_samples_read() -> TestResult {
        let cases: &[(&str, &str, &str, &[&str])] = &[
            (
                "practice_fusion_alice_newman.xml",
                "5970DFDD-FE04-47BB-9548-A90DA78D3C0F",
                "2017-09-07T14:50:57Z",
                &[
                    "Allergies",
                    "Penicillin G",
                    "Problem List",
                    "Essential hypertension",
                    "Systolic BP",
                ],
            ),
            (
                "nist_ambulatory.xml",
                "1",
                "2012-08-06",
                &["PROBLEMS", "Pneumonia", "Asthma"],
            ),
            (
                "cerner_toc.xml",
                "106",
                "2013-07-10T21:44:00-05:00",
                &["Problem List", "Results"],
            ),
            (
                "partners_epic.xml",
                "900646017",
                "2013-06-19T10:25:17-04:00",
                &["Problems", "Medications"],
            ),
        ];
        for (name, patient, when, words) in cases {
            let doc = parse_bytes(name, &fixture(name)?, &Limits::default())?;
            assert_eq!(doc.kind, DocKind::Ccda, "{name}");
            assert!(doc.pages.len() > 4, "{name}: {} pages", doc.pages.len());
            for page in &doc.pages {
                assert_eq!(page.meta.patient_id.as_deref(), Some(*patient), "{name}");
                assert_eq!(page.meta.effective, fhir_time(when), "{name}");
            }
            let text: String = doc.pages.iter().map(|p| p.text() + "\n").collect();
            for word in *words {
                assert!(text.contains(word), "{name}: {word}");
            }
            assert!(
                doc.pages
                    .iter()
                    .flat_map(|p| &p.blocks)
                    .any(|b| b.kind == BlockKind::TableRow),
                "{name}"
            );
        }
        Ok(())
    }
}
