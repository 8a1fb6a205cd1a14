//! PDF with a text layer, page by page, through `pdf-extract` (on `lopdf`).
//!
//! Owns the guards that make a hostile PDF safe to hand to those crates, which
//! recurse without limit and `unwrap` freely: inherited page attributes are
//! resolved here (cycle-safe) and written onto each page, so `pdf-extract`
//! never climbs a `/Parent` chain; pages whose form XObjects call themselves
//! (or fan out explosively, or inflate past the limit) are skipped instead of
//! overflowing the stack or the memory; each page runs under `catch_unwind` so
//! one bad page does not lose the rest. Password-protected files are read when
//! the user password is empty (permission-only protection) and reported as
//! [`ParseFailure::Encrypted`] otherwise; a PDF without text is
//! [`ParseFailure::NeedsOcr`]. Rendering and OCR live elsewhere.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::rc::Rc;

use pdf_extract::content::Content;
use pdf_extract::{
    ConvertToFmt, Dictionary, Document, MediaBox, Object, ObjectId, OutputDev, OutputError,
    PlainTextOutput, Stream, Transform, decode_text_string,
};

use super::text::push_paragraphs;
use super::{
    BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage, Parser, find,
    quietly,
};

/// Reads `.pdf` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PdfParser;

/// Below this many non-blank characters per page on average, the text layer
/// is taken to be missing (page numbers or a stray header only).
const MIN_CHARS_PER_PAGE: usize = 5;
/// Deepest chain of form XObjects drawn inside each other that we let
/// `pdf-extract` follow (it recurses once per level).
const MAX_FORM_DEPTH: usize = 32;
/// Most form XObject expansions per page: a form drawing another twice, 30
/// levels deep, is a billion expansions.
const MAX_FORM_EXPANSIONS: u32 = 10_000;
/// US Letter, for pages that name no usable media box.
const DEFAULT_MEDIA_BOX: [f32; 4] = [0.0, 0.0, 612.0, 792.0];

impl Parser for PdfParser {
    fn kind(&self) -> DocKind {
        DocKind::Pdf
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_none() {
            return Err(ParseFailure::Malformed {
                detail: "not a pdf: the %PDF- header is missing".to_owned(),
            });
        }
        let deadline = Deadline::new(limits);
        let mut doc = Document::load_mem(bytes).map_err(|e| ParseFailure::Malformed {
            detail: format!("the pdf structure cannot be read ({e})"),
        })?;
        if doc.is_encrypted() && doc.decrypt("").is_err() {
            return Err(ParseFailure::Encrypted);
        }
        deadline.check()?;

        let pages = doc.get_pages();
        if pages.len() > limits.max_pages as usize {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: u64::from(limits.max_pages),
            });
        }
        if pages.is_empty() {
            return Err(ParseFailure::Malformed {
                detail: "the pdf has no readable pages".to_owned(),
            });
        }
        let title = info_title(&doc);
        map_unicode_cmaps(&mut doc, &pages, limits.max_decompressed_bytes);
        for &id in pages.values() {
            flatten_inherited(&mut doc, id);
        }
        let mut safe = BTreeMap::new();
        for (&number, &id) in &pages {
            deadline.check()?;
            safe.insert(
                number,
                page_is_safe(&doc, id, limits.max_decompressed_bytes),
            );
        }

        let texts = extract(&doc, &pages, &safe, deadline)?;
        into_document(title, texts)
    }
}

/// Text per page number; `None` where the page could not be read.
fn extract(
    doc: &Document,
    pages: &BTreeMap<u32, ObjectId>,
    safe: &BTreeMap<u32, bool>,
    deadline: Deadline,
) -> Result<BTreeMap<u32, Option<String>>, ParseFailure> {
    let mut collector = PageCollector::new(deadline);
    let mut texts = BTreeMap::new();
    // Fast path: one pass over the whole document (pdf-extract looks the page
    // tree up again for every single-page call, quadratic in the page count).
    let mut resume_after = 0;
    if safe.values().all(|&s| s) {
        let run = quietly(|| pdf_extract::output_doc(doc, &mut collector));
        if collector.timed_out {
            return Err(ParseFailure::TimedOut);
        }
        for (number, text) in collector.pages.drain(..) {
            texts.insert(number, Some(text));
        }
        if matches!(run, Ok(Ok(()))) {
            return Ok(texts);
        }
        // The page begun but never ended failed, or else the one after the
        // last that ended (pdf-extract can fail before it begins a page).
        resume_after = collector
            .current_page
            .unwrap_or(collector.last_ended.saturating_add(1));
        texts.insert(resume_after, None);
    }
    for (&number, _) in pages.range(resume_after.saturating_add(1)..) {
        deadline.check()?;
        if !safe.get(&number).copied().unwrap_or(false) {
            texts.insert(number, None);
            continue;
        }
        collector.current_page = None;
        let run = quietly(|| pdf_extract::output_doc_page(doc, &mut collector, number));
        if collector.timed_out {
            return Err(ParseFailure::TimedOut);
        }
        let text = match (run, collector.pages.pop()) {
            (Ok(Ok(())), Some((_, text))) => Some(text),
            _ => None,
        };
        collector.pages.clear();
        texts.insert(number, text);
    }
    Ok(texts)
}

fn into_document(
    title: Option<String>,
    texts: BTreeMap<u32, Option<String>>,
) -> Result<ParsedDocument, ParseFailure> {
    let readable = texts.values().filter(|t| t.is_some()).count();
    if readable == 0 {
        return Err(ParseFailure::Malformed {
            detail: "no page of the pdf could be read".to_owned(),
        });
    }
    let visible: usize = texts
        .values()
        .flatten()
        .map(|t| t.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    if visible == 0 || visible < MIN_CHARS_PER_PAGE * readable {
        return Err(ParseFailure::NeedsOcr);
    }
    let pages = texts
        .into_iter()
        .filter_map(|(number, text)| {
            let mut sink = BlockSink::default();
            push_paragraphs(&mut sink, &text?);
            (!sink.is_empty()).then(|| ParsedPage {
                number,
                blocks: sink.into_blocks(),
            })
        })
        .collect();
    Ok(ParsedDocument {
        kind: DocKind::Pdf,
        title,
        pages,
    })
}

fn info_title(doc: &Document) -> Option<String> {
    let info = doc.trailer.get(b"Info").ok()?;
    let (_, info) = doc.dereference(info).ok()?;
    let title = info.as_dict().ok()?.get(b"Title").ok()?;
    let (_, title) = doc.dereference(title).ok()?;
    let title = decode_text_string(title).ok()?;
    let title = title.replace('\0', "");
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// Deepest nesting searched for font dictionaries inside one object (fonts
/// sit at most a few levels down: resources, font map, font).
const MAX_FONT_SEARCH_DEPTH: usize = 8;

/// Code units per `bfrange` block (the CMap format allows at most 100).
const CMAP_BLOCK: usize = 100;

/// Rewrites Type0 fonts whose encoding is a predefined Unicode CMap
/// (`UniKS-UCS2-H`, `UniJIS-UTF16-V`, ...: common in Korean, Japanese and
/// Chinese PDFs with non-embedded fonts) into a form `pdf-extract` reads: it
/// knows only `Identity-H/V` by name and panics on the rest. The codes are
/// UTF-16 code units, so `Identity` plus an identity ToUnicode map decodes
/// them; widths move from CIDs to codes for the ASCII block, which every
/// Adobe CJK ordering puts at CIDs 1..=95 (the rest keep the default width).
fn map_unicode_cmaps(doc: &mut Document, pages: &BTreeMap<u32, ObjectId>, max_inflated: u64) {
    let ids: Vec<ObjectId> = doc.objects.keys().copied().collect();
    let mut to_unicode = None;
    for id in ids {
        // Taken out so a font can be rewritten while its descendant, another
        // object, is read and changed.
        let Some(mut object) = doc.objects.remove(&id) else {
            continue;
        };
        visit_fonts(doc, &mut object, &mut to_unicode, 0);
        doc.objects.insert(id, object);
    }
    let Some(id) = to_unicode else {
        return;
    };
    // Only the code units the document uses: `pdf-extract` builds the map
    // afresh for every page, and a full 63k-entry one costs ~50 ms a page.
    let cmap = identity_cmap(&used_code_units(doc, pages, max_inflated));
    if let Ok(Object::Stream(stream)) = doc.get_object_mut(id) {
        stream.set_plain_content(cmap);
    }
}

/// Every 2-byte unit of every string operand in the pages and in form
/// XObjects (extra units are harmless: the map is the identity).
fn used_code_units(
    doc: &Document,
    pages: &BTreeMap<u32, ObjectId>,
    max_inflated: u64,
) -> BTreeSet<u16> {
    let mut units = BTreeSet::new();
    let mut add = |content: &[u8]| {
        let Ok(content) = Content::decode(content) else {
            return;
        };
        for operand in content.operations.iter().flat_map(|op| &op.operands) {
            let strings = match operand {
                Object::Array(items) => items.as_slice(),
                other => std::slice::from_ref(other),
            };
            for string in strings {
                if let Object::String(bytes, _) = string {
                    units.extend(
                        bytes
                            .chunks_exact(2)
                            .map(|pair| u16::from_be_bytes([pair[0], pair[1]])),
                    );
                }
            }
        }
    };
    for &page_id in pages.values() {
        let within = doc.get_page_contents(page_id).into_iter().all(|id| {
            doc.get_object(id)
                .and_then(Object::as_stream)
                .is_ok_and(|s| inflates_within(s, max_inflated))
        });
        if within && let Ok(content) = doc.get_page_content(page_id) {
            add(&content);
        }
    }
    for object in doc.objects.values() {
        if let Ok(stream) = object.as_stream()
            && is_form(stream)
            && inflates_within(stream, max_inflated)
        {
            add(&stream
                .decompressed_content()
                .unwrap_or_else(|_| stream.content.clone()));
        }
    }
    units
}

/// A ToUnicode CMap mapping each of `units` to itself, in runs (surrogate
/// halves left out: `pdf-extract` drops them anyway).
fn identity_cmap(units: &BTreeSet<u16>) -> Vec<u8> {
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &unit in units {
        if (0xD800..=0xDFFF).contains(&unit) {
            continue;
        }
        match runs.last_mut() {
            // A run stays within one high byte, as the format asks.
            Some((first, last))
                if *last + 1 == unit && first.to_be_bytes()[0] == unit.to_be_bytes()[0] =>
            {
                *last = unit;
            }
            _ => runs.push((unit, unit)),
        }
    }
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Sillok-UTF16-Identity def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    for block in runs.chunks(CMAP_BLOCK) {
        out.push_str(&format!("{} beginbfrange\n", block.len()));
        for (first, last) in block {
            out.push_str(&format!("<{first:04X}> <{last:04X}> <{first:04X}>\n"));
        }
        out.push_str("endbfrange\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out.into_bytes()
}

fn visit_fonts(
    doc: &mut Document,
    object: &mut Object,
    to_unicode: &mut Option<ObjectId>,
    depth: usize,
) {
    let dict = match object {
        Object::Dictionary(dict) => dict,
        Object::Stream(stream) => &mut stream.dict,
        Object::Array(items) if depth < MAX_FONT_SEARCH_DEPTH => {
            for item in items {
                visit_fonts(doc, item, to_unicode, depth + 1);
            }
            return;
        }
        _ => return,
    };
    if let Some(identity) = unicode_cmap_identity(dict) {
        remap_font(doc, dict, identity, to_unicode);
        return;
    }
    if depth < MAX_FONT_SEARCH_DEPTH {
        for (_, value) in dict.iter_mut() {
            visit_fonts(doc, value, to_unicode, depth + 1);
        }
    }
}

/// `Identity-H` or `Identity-V` for a Type0 font encoded by a UCS-2 or UTF-16
/// predefined CMap.
fn unicode_cmap_identity(font: &Dictionary) -> Option<&'static str> {
    if font.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Type0") {
        return None;
    }
    let name = font.get(b"Encoding").and_then(Object::as_name).ok()?;
    let name = std::str::from_utf8(name).ok()?;
    let unicode = name.starts_with("Uni") && (name.contains("-UCS2-") || name.contains("-UTF16-"));
    match name.rsplit('-').next() {
        Some("H") if unicode => Some("Identity-H"),
        Some("V") if unicode => Some("Identity-V"),
        _ => None,
    }
}

fn remap_font(
    doc: &mut Document,
    font: &mut Dictionary,
    identity: &'static str,
    to_unicode: &mut Option<ObjectId>,
) {
    font.set("Encoding", Object::Name(identity.as_bytes().to_vec()));
    // A ToUnicode stream maps codes, which `Identity` keeps as CIDs, so an
    // existing one still applies; a name (or junk) is replaced.
    let has_map = font
        .get(b"ToUnicode")
        .ok()
        .and_then(|t| doc.dereference(t).ok())
        .is_some_and(|(_, t)| t.as_stream().is_ok());
    if !has_map {
        let id = *to_unicode.get_or_insert_with(|| {
            // Filled in once every font is seen.
            doc.add_object(Stream::new(Dictionary::new(), Vec::new()))
        });
        font.set("ToUnicode", Object::Reference(id));
    }
    // The descendant font: inline or by reference, in an array that may
    // itself be a reference.
    let descendant = match font.get_mut(b"DescendantFonts") {
        Ok(Object::Array(items)) => items.first_mut(),
        Ok(Object::Reference(id)) => {
            let id = *id;
            return remap_descendant_in(doc, id);
        }
        _ => None,
    };
    match descendant {
        Some(Object::Dictionary(cid_font)) => {
            let widths = ascii_widths(doc, cid_font);
            cid_font.set("W", widths);
        }
        Some(Object::Reference(id)) => {
            let id = *id;
            remap_descendant(doc, id);
        }
        _ => {}
    }
}

/// `DescendantFonts` is a reference to an array.
fn remap_descendant_in(doc: &mut Document, array_id: ObjectId) {
    let first = match doc.get_object(array_id).and_then(Object::as_array) {
        Ok(items) => items.first().cloned(),
        Err(_) => None,
    };
    match first {
        Some(Object::Reference(id)) => remap_descendant(doc, id),
        Some(Object::Dictionary(_)) => {
            let widths = match doc.get_object(array_id).and_then(Object::as_array) {
                Ok(items) => match items.first() {
                    Some(Object::Dictionary(cid_font)) => ascii_widths(doc, cid_font),
                    _ => return,
                },
                Err(_) => return,
            };
            if let Ok(Object::Array(items)) = doc.get_object_mut(array_id)
                && let Some(Object::Dictionary(cid_font)) = items.first_mut()
            {
                cid_font.set("W", widths);
            }
        }
        _ => {}
    }
}

fn remap_descendant(doc: &mut Document, id: ObjectId) {
    let Ok(cid_font) = doc.get_dictionary(id) else {
        return;
    };
    let widths = ascii_widths(doc, cid_font);
    if let Ok(cid_font) = doc.get_dictionary_mut(id) {
        cid_font.set("W", widths);
    }
}

/// A `W` array giving codes 0x20..=0x7E the widths of CIDs 1..=95 (missing
/// ones the font's default width), in the one form `pdf-extract` reads right.
fn ascii_widths(doc: &Document, cid_font: &Dictionary) -> Object {
    let default = cid_font
        .get(b"DW")
        .ok()
        .and_then(|w| number(doc, w))
        .unwrap_or(1000.0);
    let mut widths = [default; 95];
    let items = cid_font
        .get(b"W")
        .ok()
        .and_then(|w| doc.dereference(w).ok())
        .and_then(|(_, w)| w.as_array().ok())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut set = |cid: f32, width: f32| {
        if cid.fract() == 0.0 && (1.0..=95.0).contains(&cid) {
            // In range and whole, so the cast is exact.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let slot = cid as usize - 1;
            widths[slot] = width;
        }
    };
    let mut i = 0;
    while let Some(first) = items.get(i).and_then(|c| number(doc, c)) {
        let next = items
            .get(i + 1)
            .and_then(|n| doc.dereference(n).ok())
            .map(|(_, n)| n);
        if let Some(Object::Array(list)) = next {
            for (k, width) in list.iter().enumerate().take(95) {
                if let Some(width) = number(doc, width) {
                    set(first + k as f32, width);
                }
            }
            i += 2;
        } else {
            let (Some(last), Some(width)) = (
                items.get(i + 1).and_then(|l| number(doc, l)),
                items.get(i + 2).and_then(|w| number(doc, w)),
            ) else {
                break;
            };
            let mut cid = first.max(1.0);
            while cid <= last.min(95.0) {
                set(cid, width);
                cid += 1.0;
            }
            i += 3;
        }
    }
    Object::Array(vec![
        Object::Integer(0x20),
        Object::Array(widths.iter().map(|&w| Object::Real(w)).collect()),
    ])
}

fn number(doc: &Document, object: &Object) -> Option<f32> {
    let (_, object) = doc.dereference(object).ok()?;
    object.as_float().ok().filter(|v| v.is_finite())
}

/// Copies the page's inherited `/Resources` and `/MediaBox` onto the page and
/// drops its `/Parent`: `pdf-extract` looks inherited attributes up by
/// recursing up `/Parent` with no cycle check (a cyclic tree hangs or
/// overflows the stack), and panics on a missing or short media box.
fn flatten_inherited(doc: &mut Document, page_id: ObjectId) {
    let mut resources = None;
    let mut media_box = None;
    let mut seen = vec![page_id];
    let mut node = doc.get_dictionary(page_id).ok();
    while let Some(dict) = node {
        if resources.is_none() {
            resources = dict.get(b"Resources").ok().cloned();
        }
        if media_box.is_none() {
            media_box = dict.get(b"MediaBox").ok().and_then(|b| rect(doc, b));
        }
        if (resources.is_some() && media_box.is_some()) || seen.len() > 64 {
            break;
        }
        node = match dict.get(b"Parent").and_then(Object::as_reference) {
            Ok(parent) if !seen.contains(&parent) => {
                seen.push(parent);
                doc.get_dictionary(parent).ok()
            }
            _ => None,
        };
    }
    if let Ok(page) = doc.get_dictionary_mut(page_id) {
        if let Some(resources) = resources {
            page.set("Resources", resources);
        }
        let [a, b, c, d] = media_box.unwrap_or(DEFAULT_MEDIA_BOX);
        page.set(
            "MediaBox",
            Object::Array(vec![a.into(), b.into(), c.into(), d.into()]),
        );
        page.remove(b"Parent");
    }
}

fn rect(doc: &Document, object: &Object) -> Option<[f32; 4]> {
    let (_, object) = doc.dereference(object).ok()?;
    let items = object.as_array().ok()?;
    let mut out = [0.0; 4];
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = item.as_float().ok()?;
    }
    (items.len() >= 4 && out.iter().all(|v| v.is_finite())).then_some(out)
}

/// Whether `pdf-extract` can process the page without unbounded recursion or
/// a decompression bomb.
fn page_is_safe(doc: &Document, page_id: ObjectId, max_inflated: u64) -> bool {
    for id in doc.get_page_contents(page_id) {
        if let Ok(stream) = doc.get_object(id).and_then(Object::as_stream)
            && !inflates_within(stream, max_inflated)
        {
            return false;
        }
    }
    let Some(resources) = doc
        .get_dictionary(page_id)
        .ok()
        .and_then(|page| deref_dict(doc, page.get(b"Resources").ok()?))
    else {
        return true;
    };
    if !has_forms(doc, resources) {
        return true;
    }
    let Ok(content) = doc.get_page_content(page_id) else {
        return true;
    };
    let mut walk = FormWalk {
        doc,
        path: Vec::new(),
        expansions: 0,
        max_inflated,
    };
    walk.is_bounded(&content, resources)
}

fn deref_dict<'a>(doc: &'a Document, object: &'a Object) -> Option<&'a Dictionary> {
    doc.dereference(object).ok()?.1.as_dict().ok()
}

fn is_form(stream: &Stream) -> bool {
    stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form")
}

fn has_forms(doc: &Document, resources: &Dictionary) -> bool {
    let Some(xobjects) = resources
        .get(b"XObject")
        .ok()
        .and_then(|x| deref_dict(doc, x))
    else {
        return false;
    };
    xobjects.iter().any(|(_, x)| {
        doc.dereference(x)
            .ok()
            .and_then(|(_, x)| x.as_stream().ok())
            .is_some_and(is_form)
    })
}

/// Follows `Do` operators the way `pdf-extract` will, but with a depth limit,
/// a cycle check and an expansion budget.
struct FormWalk<'a> {
    doc: &'a Document,
    path: Vec<ObjectId>,
    expansions: u32,
    max_inflated: u64,
}

impl<'a> FormWalk<'a> {
    fn is_bounded(&mut self, content: &[u8], resources: &'a Dictionary) -> bool {
        if self.path.len() >= MAX_FORM_DEPTH {
            return false;
        }
        let Some(xobjects) = resources
            .get(b"XObject")
            .ok()
            .and_then(|x| deref_dict(self.doc, x))
        else {
            return true;
        };
        // Content pdf-extract cannot decode makes it fail before recursing.
        let Ok(content) = Content::decode(content) else {
            return true;
        };
        for op in content.operations.iter().filter(|op| op.operator == "Do") {
            let Some(target) = op
                .operands
                .first()
                .and_then(|name| name.as_name().ok())
                .and_then(|name| xobjects.get(name).ok())
            else {
                continue;
            };
            let Ok((id, object)) = self.doc.dereference(target) else {
                continue;
            };
            let Ok(stream) = object.as_stream() else {
                continue;
            };
            if !is_form(stream) {
                continue;
            }
            self.expansions += 1;
            let id = id.unwrap_or((0, 0));
            if self.expansions > MAX_FORM_EXPANSIONS
                || self.path.contains(&id)
                || !inflates_within(stream, self.max_inflated)
            {
                return false;
            }
            let inner = stream
                .decompressed_content()
                .unwrap_or_else(|_| stream.content.clone());
            let inner_resources = stream
                .dict
                .get(b"Resources")
                .ok()
                .and_then(|r| deref_dict(self.doc, r))
                .unwrap_or(resources);
            self.path.push(id);
            let bounded = self.is_bounded(&inner, inner_resources);
            self.path.pop();
            if !bounded {
                return false;
            }
        }
        true
    }
}

/// Whether a Flate stream inflates to at most `max` bytes, found by inflating
/// it into nothing (lopdf would inflate it all into memory first).
fn inflates_within(stream: &Stream, max: u64) -> bool {
    let flate_only = matches!(stream.filters().as_deref(), Ok([b"FlateDecode"]));
    if !flate_only {
        return true;
    }
    let decoder = flate2::read::ZlibDecoder::new(stream.content.as_slice());
    match std::io::copy(
        &mut decoder.take(max.saturating_add(1)),
        &mut std::io::sink(),
    ) {
        Ok(n) => n <= max,
        // Corrupt data: lopdf falls back to the raw bytes, which is bounded.
        Err(_) => true,
    }
}

/// A `fmt::Write` target shared between [`PageCollector`] and the
/// `PlainTextOutput` it drives, so each page's text can be taken out.
#[derive(Clone, Default)]
struct PageBuf(Rc<RefCell<String>>);

impl std::fmt::Write for PageBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.borrow_mut().push_str(s);
        Ok(())
    }
}

impl ConvertToFmt for PageBuf {
    type Writer = PageBuf;
    fn convert(self) -> PageBuf {
        self
    }
}

/// Splits `pdf-extract`'s plain-text output into pages (a fresh layout state
/// per page) and stops at the deadline.
struct PageCollector {
    buf: PageBuf,
    inner: PlainTextOutput<PageBuf>,
    current_page: Option<u32>,
    last_ended: u32,
    pages: Vec<(u32, String)>,
    deadline: Deadline,
    timed_out: bool,
}

impl PageCollector {
    fn new(deadline: Deadline) -> PageCollector {
        let buf = PageBuf::default();
        PageCollector {
            inner: PlainTextOutput::new(buf.clone()),
            buf,
            current_page: None,
            last_ended: 0,
            pages: Vec::new(),
            deadline,
            timed_out: false,
        }
    }
}

impl OutputDev for PageCollector {
    fn begin_page(
        &mut self,
        page_num: u32,
        media_box: &MediaBox,
        art_box: Option<(f64, f64, f64, f64)>,
    ) -> Result<(), OutputError> {
        if self.deadline.check().is_err() {
            self.timed_out = true;
            return Err(OutputError::FormatError(std::fmt::Error));
        }
        self.current_page = Some(page_num);
        self.buf.0.borrow_mut().clear();
        self.inner = PlainTextOutput::new(self.buf.clone());
        self.inner.begin_page(page_num, media_box, art_box)
    }

    fn end_page(&mut self) -> Result<(), OutputError> {
        self.inner.end_page()?;
        if let Some(number) = self.current_page.take() {
            self.last_ended = number;
            let text = std::mem::take(&mut *self.buf.0.borrow_mut());
            self.pages.push((number, text));
        }
        Ok(())
    }

    fn output_character(
        &mut self,
        trm: &Transform,
        width: f64,
        spacing: f64,
        font_size: f64,
        char: &str,
    ) -> Result<(), OutputError> {
        self.inner
            .output_character(trm, width, spacing, font_size, char)
    }

    fn begin_word(&mut self) -> Result<(), OutputError> {
        self.inner.begin_word()
    }

    fn end_word(&mut self) -> Result<(), OutputError> {
        self.inner.end_word()
    }

    fn end_line(&mut self) -> Result<(), OutputError> {
        self.inner.end_line()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::BlockKind;
    use crate::parse::conformance::{PDF_2_PAGES, SENTENCE};
    use std::io::Write;
    use std::time::{Duration, Instant};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    fn fixture(name: &str) -> Result<Vec<u8>, std::io::Error> {
        std::fs::read(format!("{FIXTURES}/{name}"))
    }

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        PdfParser.parse(bytes, &Limits::default())
    }

    fn page_texts(doc: &ParsedDocument) -> Vec<(u32, String)> {
        doc.pages.iter().map(|p| (p.number, p.text())).collect()
    }

    /// A PDF from objects numbered 1.. (1 must be the catalog), with a
    /// correct cross-reference table.
    fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    fn obj(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        out.extend_from_slice(data);
        out.extend_from_slice(b"\nendstream");
        out
    }

    fn text_content(text: &str) -> Vec<u8> {
        stream(
            "",
            format!("BT /F1 12 Tf 72 700 Td ({text}) Tj ET").as_bytes(),
        )
    }

    const CATALOG: &str = "<< /Type /Catalog /Pages 2 0 R >>";
    const FONT: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";
    const RESOURCES: &str = "/Resources << /Font << /F1 5 0 R >> >>";

    #[test]
    fn korean_and_english_per_page() -> TestResult {
        let doc = parse(PDF_2_PAGES)?;
        assert_eq!(doc.kind, DocKind::Pdf);
        assert_eq!(doc.title.as_deref(), Some("고혈압 진료 지침"));
        assert_eq!(
            page_texts(&doc),
            [
                (
                    1,
                    format!(
                        "고혈압 진료 지침\n{SENTENCE}\nBlood pressure target for hypertension: 130/80 mmHg."
                    )
                ),
                (
                    2,
                    "2쪽: 당뇨병 환자의 HbA1c 목표는 6.5% 미만\nPage two: metformin is first-line therapy."
                        .to_owned()
                ),
            ]
        );
        assert!(
            doc.pages
                .iter()
                .flat_map(|p| &p.blocks)
                .all(|b| b.kind == BlockKind::Paragraph)
        );
        Ok(())
    }

    #[test]
    fn user_password_is_encrypted() -> TestResult {
        assert_eq!(
            parse(&fixture("encrypted_user_password.pdf")?),
            Err(ParseFailure::Encrypted)
        );
        Ok(())
    }

    #[test]
    fn owner_only_protection_is_read() -> TestResult {
        let doc = parse(&fixture("encrypted_owner_only.pdf")?)?;
        assert_eq!(page_texts(&doc), page_texts(&parse(PDF_2_PAGES)?));
        Ok(())
    }

    #[test]
    fn pages_without_text_need_ocr() -> TestResult {
        assert_eq!(
            parse(&fixture("image_only.pdf")?),
            Err(ParseFailure::NeedsOcr)
        );
        Ok(())
    }

    #[test]
    fn images_between_text_are_skipped() -> TestResult {
        let doc = parse(&fixture("with_image.pdf")?)?;
        assert_eq!(
            page_texts(&doc),
            [(1, "이미지 앞 text before image\nafter image 뒤".to_owned())]
        );
        Ok(())
    }

    #[test]
    fn too_many_pages_is_a_limit() -> TestResult {
        let limits = Limits {
            max_pages: 50,
            ..Limits::default()
        };
        assert_eq!(
            PdfParser.parse(&fixture("ko_en_100pages.pdf")?, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 50
            })
        );
        Ok(())
    }

    #[test]
    fn hand_written_pdf_reads() -> TestResult {
        let bytes = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {RESOURCES} /Contents 4 0 R >>"
            )),
            text_content("Hello plain PDF"),
            obj(FONT),
        ]);
        assert_eq!(
            page_texts(&parse(&bytes)?),
            [(1, "Hello plain PDF".to_owned())]
        );
        Ok(())
    }

    #[test]
    fn cyclic_parent_chain_terminates() -> TestResult {
        // Resources and MediaBox are only inheritable, through a cycle.
        let bytes = pdf(&[
            obj(CATALOG),
            obj(&format!(
                "<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R {RESOURCES} >>"
            )),
            obj("<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>"),
            text_content("Hello cycle"),
            obj(FONT),
        ]);
        assert_eq!(page_texts(&parse(&bytes)?), [(1, "Hello cycle".to_owned())]);
        Ok(())
    }

    #[test]
    fn cyclic_page_tree_terminates() -> TestResult {
        let bytes = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R {RESOURCES} /Contents 4 0 R >>"
            )),
            text_content("Hello kids"),
            obj(FONT),
        ]);
        let doc = parse(&bytes)?;
        assert!(page_texts(&doc).iter().all(|(_, t)| t == "Hello kids"));
        Ok(())
    }

    /// Page 1 is fine; page 2 draws form XObject 6, set up by `forms`.
    fn two_pages_second_drawing(forms: &[Vec<u8>], page2_resources: &str) -> Vec<u8> {
        let mut objects = vec![
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R 7 0 R] /Count 2 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R {RESOURCES} /Contents 4 0 R >>"
            )),
            text_content("Good page one"),
            obj(FONT),
        ];
        objects.push(forms.first().cloned().unwrap_or_else(|| obj("null")));
        objects.push(obj(&format!(
            "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> {page2_resources} >> /Contents 8 0 R >>"
        )));
        objects.push(stream(
            "",
            b"BT /F1 12 Tf 72 700 Td (Page two text) Tj ET /X0 Do",
        ));
        objects.extend(forms.iter().skip(1).cloned());
        pdf(&objects)
    }

    #[test]
    fn self_drawing_form_is_skipped_not_a_stack_overflow() -> TestResult {
        let form = stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X0 6 0 R >> >>",
            b"/X0 Do",
        );
        let bytes = two_pages_second_drawing(&[form], "/XObject << /X0 6 0 R >>");
        assert_eq!(
            page_texts(&parse(&bytes)?),
            [(1, "Good page one".to_owned())]
        );
        Ok(())
    }

    #[test]
    fn form_recursing_through_inherited_resources_is_skipped() -> TestResult {
        // No /Resources of its own: it draws /X0 from the page, i.e. itself.
        let form = stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 100]",
            b"/X0 Do",
        );
        let bytes = two_pages_second_drawing(&[form], "/XObject << /X0 6 0 R >>");
        assert_eq!(
            page_texts(&parse(&bytes)?),
            [(1, "Good page one".to_owned())]
        );
        Ok(())
    }

    #[test]
    fn exponential_form_fan_out_is_skipped() -> TestResult {
        // Forms 6, 9, 10, … each draw the next one ten times: 10^8 draws.
        let levels = 8;
        let mut forms = Vec::new();
        let ids: Vec<usize> = std::iter::once(6).chain(9..9 + levels - 1).collect();
        for (i, id) in ids.iter().enumerate() {
            let _ = id;
            match ids.get(i + 1) {
                Some(next) => forms.push(stream(
                    &format!("/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /N {next} 0 R >> >>"),
                    "/N Do ".repeat(10).as_bytes(),
                )),
                None => forms.push(stream("/Type /XObject /Subtype /Form /BBox [0 0 1 1]", b"")),
            }
        }
        let bytes = two_pages_second_drawing(&forms, "/XObject << /X0 6 0 R >>");
        let started = Instant::now();
        assert_eq!(
            page_texts(&parse(&bytes)?),
            [(1, "Good page one".to_owned())]
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn a_form_drawn_twice_is_fine() -> TestResult {
        let form = stream(
            "/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /Font << /F1 5 0 R >> >>",
            b"BT /F1 12 Tf 72 600 Td (Inside form) Tj ET",
        );
        let bytes = two_pages_second_drawing(&[form], "/XObject << /X0 6 0 R >>");
        let doc = parse(&bytes)?;
        assert_eq!(doc.pages.len(), 2);
        assert!(
            doc.pages[1].text().contains("Inside form"),
            "{:?}",
            page_texts(&doc)
        );
        Ok(())
    }

    #[test]
    fn deep_nesting_fails_cleanly() -> TestResult {
        let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
        let in_object = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /Deep {deep} {RESOURCES} /Contents 4 0 R >>"
            )),
            text_content("Hello deep"),
            obj(FONT),
        ]);
        assert!(parse(&in_object).is_err());
        let in_content = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R {RESOURCES} /Contents 4 0 R >>"
            )),
            stream(
                "",
                format!("BT /F1 12 Tf 72 700 Td (Hello deep) Tj {deep} TJ ET").as_bytes(),
            ),
            obj(FONT),
        ]);
        assert!(matches!(
            parse(&in_content),
            Err(ParseFailure::Malformed { .. })
        ));
        Ok(())
    }

    #[test]
    fn content_stream_bomb_is_skipped() -> TestResult {
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..16 {
            zlib.write_all(&[b' '; 1 << 20])?;
        }
        let bomb = stream("/Filter /FlateDecode", &zlib.finish()?);
        let mut objects = vec![
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R {RESOURCES} /Contents 4 0 R >>"
            )),
            text_content("Good page one"),
            obj(FONT),
        ];
        objects.push(obj(&format!(
            "<< /Type /Page /Parent 2 0 R {RESOURCES} /Contents 7 0 R >>"
        )));
        objects.push(bomb);
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        let doc = PdfParser.parse(&pdf(&objects), &limits)?;
        assert_eq!(page_texts(&doc), [(1, "Good page one".to_owned())]);
        Ok(())
    }

    #[test]
    fn truncated_pdf_is_malformed() {
        for cut in [9, 100, PDF_2_PAGES.len() / 2] {
            let result = parse(&PDF_2_PAGES[..cut]);
            assert!(
                matches!(result, Err(ParseFailure::Malformed { .. })),
                "cut {cut}: {result:?}"
            );
        }
    }

    #[test]
    fn predefined_unicode_cmap_fonts_read() -> TestResult {
        // reportlab with a non-embedded HYGothic-Medium: /UniKS-UCS2-H, no
        // ToUnicode, each code its own UTF-16 code unit.
        let doc = parse(&fixture("cid_unks_ucs2.pdf")?)?;
        let texts = page_texts(&doc);
        assert_eq!(texts.len(), 2);
        assert!(texts[0].1.contains("외래 진료기록"));
        assert!(texts[0].1.contains("156/98 mmHg"));
        let page2 = &texts[1].1;
        assert!(page2.contains("목표혈압(130/80 mmHg 미만)에 도달하지 못함."));
        assert!(page2.contains("로사르탄 50 mg 1일 1회"));
        Ok(())
    }

    #[test]
    fn unicode_cmap_with_referenced_descendant_reads() -> TestResult {
        // UTF-16, the descendant font and its widths by reference; ASCII at
        // CIDs 1..=95 is half width, so "AB" stays one word.
        let bytes = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {RESOURCES} /Contents 4 0 R >>"
            )),
            stream(
                "",
                b"BT /F1 12 Tf 72 700 Td <30423044002000410042> Tj 0 -20 Td <D55CAE00> Tj ET",
            ),
            obj(
                "<< /Type /Font /Subtype /Type0 /BaseFont /KozMinPro-Regular /Encoding /UniJIS-UTF16-H /DescendantFonts [6 0 R] >>",
            ),
            obj(
                "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /KozMinPro-Regular /CIDSystemInfo << /Registry (Adobe) /Ordering (Japan1) /Supplement 4 >> /FontDescriptor << /Type /FontDescriptor /FontName /KozMinPro-Regular /Flags 4 >> /DW 1000 /W 7 0 R >>",
            ),
            obj("[1 95 500]"),
        ]);
        assert_eq!(
            page_texts(&parse(&bytes)?),
            [(1, "あい AB\n한글".to_owned())]
        );
        Ok(())
    }

    /// Measures (never asserts) pages per second on the 100-page fixture, and
    /// pdftotext's where it is installed. Run with `--nocapture` to see.
    #[test]
    fn measure_pages_per_second() -> TestResult {
        let bytes = fixture("ko_en_100pages.pdf")?;
        let started = Instant::now();
        let doc = parse(&bytes)?;
        let ours = started.elapsed();
        assert_eq!(doc.pages.len(), 100);
        assert!(doc.pages[99].text().contains("100쪽 29줄"));
        println!(
            "pdf: 100 pages in {ours:?} = {:.0} pages/s",
            100.0 / ours.as_secs_f64()
        );
        let path = format!("{FIXTURES}/ko_en_100pages.pdf");
        let started = Instant::now();
        if let Ok(out) = std::process::Command::new("pdftotext")
            .args([path.as_str(), "-"])
            .output()
            && out.status.success()
        {
            let theirs = started.elapsed();
            println!(
                "pdftotext: 100 pages in {theirs:?} = {:.0} pages/s",
                100.0 / theirs.as_secs_f64()
            );
        }
        Ok(())
    }
}
