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
//! [`ParseFailure::NeedsOcr`], and in a PDF with text, a page that draws an
//! image but has (almost) no text is kept without blocks, flagged for OCR
//! ([`ParsedPage::needs_ocr`]). Rendering and OCR live elsewhere.
//!
//! Before `lopdf` sees the bytes, [`inflate`] refuses a file whose streams
//! would decode past [`Limits::max_decompressed_bytes`] (`lopdf` inflates
//! object streams while loading, with no limit); [`fonts`] rewrites fonts
//! `pdf-extract` cannot decode; [`images`] empties images before extraction.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use pdf_extract::content::Content;
use pdf_extract::{
    ConvertToFmt, Dictionary, Document, MediaBox, Object, ObjectId, OutputDev, OutputError,
    PlainTextOutput, Stream, Transform, decode_text_string,
};

mod decode;
mod fonts;
mod images;
mod inflate;

use super::text::push_paragraphs;
use super::{
    BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, ParsedPage, Parser, find,
    quietly,
};

/// Reads `.pdf` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PdfParser;

/// A page with fewer non-blank characters than this has no text layer to
/// speak of (a page number or a stray header only); with none such in the
/// whole document, it needs OCR.
const MIN_CHARS_PER_PAGE: usize = 5;
/// A page that draws an image and has fewer non-blank characters than this
/// is a scan, its text at most a stamped page number or Bates label: it is
/// flagged for OCR and that little text dropped.
const OCR_TEXT_CHARS: usize = 16;
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
        let raw = inflate::check_raw(bytes, limits, deadline)?;
        let mut doc = Document::load_mem(bytes).map_err(|e| ParseFailure::Malformed {
            detail: format!("the pdf structure cannot be read ({e})"),
        })?;
        if doc.is_encrypted() && doc.decrypt("").is_err() {
            return Err(ParseFailure::Encrypted);
        }
        deadline.check()?;
        if raw.encrypted || doc.is_encrypted() {
            // The raw scan saw ciphertext; now the streams are plain.
            inflate::check_loaded(&doc, limits, deadline)?;
        }

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
        fonts::map_predefined_cmaps(&mut doc, &pages, limits.max_decompressed_bytes);
        for &id in pages.values() {
            flatten_inherited(&mut doc, id);
        }
        let with_images = images::pages_with_images(&doc, &pages);
        images::empty_images(&mut doc);
        let mut safe = BTreeMap::new();
        for (&number, &id) in &pages {
            deadline.check()?;
            safe.insert(
                number,
                page_is_safe(&doc, id, limits.max_decompressed_bytes),
            );
        }

        let texts = extract(&doc, &pages, &safe, deadline)?;
        into_document(title, texts, &with_images)
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

/// The pages with text, and the scanned pages among them as pages without
/// blocks; pages that could not be read, and blank ones, are left out.
fn into_document(
    title: Option<String>,
    texts: BTreeMap<u32, Option<String>>,
    with_images: &BTreeSet<u32>,
) -> Result<ParsedDocument, ParseFailure> {
    if texts.values().all(Option::is_none) {
        return Err(ParseFailure::Malformed {
            detail: "no page of the pdf could be read".to_owned(),
        });
    }
    let mut pages = Vec::new();
    let mut has_text = false;
    for (number, text) in texts {
        let Some(text) = text else {
            continue;
        };
        let visible = text.chars().filter(|c| !c.is_whitespace()).count();
        if visible < OCR_TEXT_CHARS && with_images.contains(&number) {
            pages.push(ParsedPage::new(number, Vec::new()));
            continue;
        }
        has_text |= visible >= MIN_CHARS_PER_PAGE;
        let mut sink = BlockSink::default();
        push_paragraphs(&mut sink, &text);
        if !sink.is_empty() {
            pages.push(ParsedPage::new(number, sink.into_blocks()));
        }
    }
    if !has_text {
        return Err(ParseFailure::NeedsOcr);
    }
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
    // `pdf-extract` joins all of a page's content streams in memory.
    let mut total = 0u64;
    for id in doc.get_page_contents(page_id) {
        if let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) {
            let left = max_inflated.saturating_sub(total);
            let Some(size) = decode::decoded_size(stream, left) else {
                return false;
            };
            total = total.saturating_add(size.max(stream.content.len() as u64));
            if total > max_inflated {
                return false;
            }
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
                || !decode::within(stream, self.max_inflated)
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
    fn content_stream_bomb_is_refused() -> TestResult {
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
        assert_eq!(
            PdfParser.parse(&pdf(&objects), &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 1 << 20
            })
        );
        Ok(())
    }

    /// A zlib stream of `mib` MiB of zeros, about 1 KiB per MiB: one
    /// full-flushed compressed MiB (no back-references past it) repeated,
    /// then an empty final block. No Adler-32: lopdf tolerates that.
    fn zlib_zeros(mib: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        use flate2::{Compress, Compression, FlushCompress};
        let mut compress = Compress::new(Compression::best(), false);
        let mut block = Vec::with_capacity(8192);
        compress.compress_vec(&vec![0; 1 << 20], &mut block, FlushCompress::Full)?;
        let mut out = vec![0x78, 0xDA];
        out.extend(block.repeat(mib));
        out.extend_from_slice(&[0x03, 0x00]);
        Ok(out)
    }

    /// One page with `text`, plus `extra` objects numbered from 6.
    fn one_page_and(text: &str, page_extra: &str, extra: Vec<Vec<u8>>) -> Vec<u8> {
        let mut objects = vec![
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> {page_extra} >> /Contents 4 0 R >>"
            )),
            text_content(text),
            obj(FONT),
        ];
        objects.extend(extra);
        pdf(&objects)
    }

    #[test]
    fn gigabyte_object_stream_is_refused_before_load() -> TestResult {
        let bomb = zlib_zeros(1024)?;
        assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());
        let bytes = one_page_and(
            "Hello",
            "",
            vec![stream(
                "/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode",
                &bomb,
            )],
        );
        let started = Instant::now();
        assert_eq!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 512 * 1024 * 1024
            })
        );
        assert!(started.elapsed() < Duration::from_secs(20));
        // The same bomb twice over as a Flate-in-Flate content stream.
        let nested = {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&bomb)?;
            z.finish()?
        };
        let bytes = one_page_and(
            "Hello",
            "",
            vec![stream("/Filter [/FlateDecode /FlateDecode]", &nested)],
        );
        assert!(matches!(
            parse(&bytes),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                ..
            })
        ));
        Ok(())
    }

    #[test]
    fn image_bombs_are_never_inflated() -> TestResult {
        // Images are left out of the budget (honest scans are big) and
        // emptied before pdf-extract would inflate them on `Do`.
        let image = stream(
            "/Type /XObject /Subtype /Image /Width 32768 /Height 32768 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode",
            &zlib_zeros(1024)?,
        );
        let mut objects = vec![
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            obj(
                "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /Im0 6 0 R >> >> /Contents 4 0 R >>",
            ),
            stream(
                "",
                b"q 100 0 0 100 0 0 cm /Im0 Do Q BT /F1 12 Tf 72 700 Td (Text next to a big picture) Tj ET",
            ),
            obj(FONT),
        ];
        objects.push(image);
        let started = Instant::now();
        let doc = parse(&pdf(&objects))?;
        assert_eq!(
            page_texts(&doc),
            [(1, "Text next to a big picture".to_owned())]
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        Ok(())
    }

    #[test]
    fn mixed_pdf_indexes_text_pages_and_flags_scans() -> TestResult {
        let image = stream(
            "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
            &[0, 255, 255, 0],
        );
        let page = |contents: u32, xobjects: &str| {
            obj(&format!(
                "<< /Type /Page /Parent 2 0 R /Resources << /Font << /F1 5 0 R >> {xobjects} >> /Contents {contents} 0 R >>"
            ))
        };
        let bytes = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R 6 0 R 9 0 R 12 0 R] /Count 4 >>"),
            page(4, ""),
            text_content("Page one has a text layer"),
            obj(FONT),
            // Page 2: a scan with a stamped page number.
            page(7, "/XObject << /Im0 8 0 R >>"),
            stream(
                "",
                b"q 500 0 0 700 50 50 cm /Im0 Do Q BT /F1 10 Tf 300 20 Td (- 2 -) Tj ET",
            ),
            image,
            // Page 3: the image drawn through a form, and no text at all.
            page(10, "/XObject << /Fm0 11 0 R >>"),
            stream("", b"/Fm0 Do"),
            stream(
                "/Type /XObject /Subtype /Form /BBox [0 0 1 1] /Resources << /XObject << /Im0 8 0 R >> >>",
                b"/Im0 Do",
            ),
            // Page 4: blank, nothing to read or to recognise.
            page(13, ""),
            stream("", b""),
        ]);
        let doc = parse(&bytes)?;
        assert_eq!(
            page_texts(&doc),
            [
                (1, "Page one has a text layer".to_owned()),
                (2, String::new()),
                (3, String::new()),
            ]
        );
        assert_eq!(doc.pages_needing_ocr(), [2, 3]);
        assert!(doc.pages[0].blocks.iter().all(|b| !b.text.is_empty()));
        // With no text page left, the whole document needs OCR.
        let scans_only = pdf(&[
            obj(CATALOG),
            obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
            page(4, "/XObject << /Im0 6 0 R >>"),
            stream("", b"q 500 0 0 700 50 50 cm /Im0 Do Q"),
            obj(FONT),
            stream(
                "/Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8",
                &[0, 255, 255, 0],
            ),
        ]);
        assert_eq!(parse(&scans_only), Err(ParseFailure::NeedsOcr));
        Ok(())
    }

    /// A literal string operand holding `bytes`.
    fn literal(bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![b'('];
        for &b in bytes {
            if matches!(b, b'(' | b')' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b')');
        out
    }

    #[test]
    fn korean_legacy_cmap_fonts_read() -> TestResult {
        let (line1, _, _) = encoding_rs::EUC_KR.encode("고혈압 환자 BP 150/95 mmHg");
        let (line2, _, _) = encoding_rs::EUC_KR.encode("똠방각하 (UHC 확장 한글)");
        let mut content = b"BT /F1 12 Tf 72 700 Td ".to_vec();
        content.extend(literal(&line1));
        content.extend_from_slice(b" Tj 0 -20 Td [");
        content.extend(literal(&line2));
        content.extend_from_slice(b"] TJ ET");
        for encoding in ["KSCms-UHC-H", "KSC-EUC-H", "KSCpc-EUC-H", "KSCms-UHC-HW-V"] {
            let bytes = pdf(&[
                obj(CATALOG),
                obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
                obj(&format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {RESOURCES} /Contents 4 0 R >>"
                )),
                stream("", &content),
                obj(&format!(
                    "<< /Type /Font /Subtype /Type0 /BaseFont /HYGoThic-Medium /Encoding /{encoding} /DescendantFonts [6 0 R] >>"
                )),
                obj(
                    "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HYGoThic-Medium /CIDSystemInfo << /Registry (Adobe) /Ordering (Korea1) /Supplement 1 >> /FontDescriptor 7 0 R /DW 1000 /W [1 95 500] >>",
                ),
                obj(
                    "<< /Type /FontDescriptor /FontName /HYGoThic-Medium /Flags 6 /FontBBox [-6 -145 1003 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
                ),
            ]);
            // All names decode as CP949 (a superset of EUC-KR): what writers
            // put behind them in practice.
            let expected = "고혈압 환자 BP 150/95 mmHg\n똠방각하 (UHC 확장 한글)";
            assert_eq!(
                page_texts(&parse(&bytes)?),
                [(1, expected.to_owned())],
                "{encoding}"
            );
        }
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
