//! Document parsing: turns the bytes of one file into a format-independent
//! [`ParsedDocument`] of pages and typed text blocks.
//!
//! This module owns format detection ([`detect`]), the [`Parser`] trait with one
//! implementation per format (one file each), the resource [`Limits`] every
//! parser honours, and the per-file outcome [`ParseFailure`]. A document that
//! cannot be read is data (a status shown to the user), not a crate error, so
//! nothing here returns `crate::Error`. Chunking, analysis and indexing of the
//! parsed text live elsewhere; nothing here touches the file system or the
//! network.

mod ccda;
pub(crate) mod clinical;
mod csv;
mod docx;
mod fhir;
mod hancom;
mod html;
mod hwp;
mod hwpx;
mod image;
mod markdown;
mod ooxml;
mod pdf;
mod pptx;
mod text;
mod xlsx;

#[cfg(test)]
mod conformance;

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Paragraphs of plain text, as PDF pages are split (used for OCR text too).
pub(crate) use text::push_paragraphs;

/// The formats Sillok can read. New formats are added as new variants, each with
/// its own [`Parser`]; callers should not match exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocKind {
    /// Plain text (UTF-8, UTF-16 with BOM, or Korean CP949/EUC-KR).
    Text,
    /// CommonMark / GitHub-flavoured Markdown.
    Markdown,
    /// HTML pages.
    Html,
    /// PDF with a text layer.
    Pdf,
    /// Word documents (Office Open XML).
    Docx,
    /// Comma-separated values.
    Csv,
    /// Tab-separated values.
    Tsv,
    /// Hangul word processor 5.0 (binary, OLE2 compound file).
    Hwp,
    /// Hangul word processor OWPML (zip + XML).
    Hwpx,
    /// Excel workbooks (Office Open XML): sheets as tables.
    Xlsx,
    /// PowerPoint decks (Office Open XML): slide text.
    Pptx,
    /// FHIR R4 resources: a JSON Bundle or resource, or NDJSON.
    Fhir,
    /// HL7 C-CDA clinical documents (XML).
    Ccda,
    /// Scanned images (PNG, JPEG, TIFF), read by OCR.
    Image,
}

impl DocKind {
    /// Every kind, in a stable order (for listings and tests).
    pub const ALL: &'static [DocKind] = &[
        DocKind::Text,
        DocKind::Markdown,
        DocKind::Html,
        DocKind::Pdf,
        DocKind::Docx,
        DocKind::Xlsx,
        DocKind::Pptx,
        DocKind::Hwp,
        DocKind::Hwpx,
        DocKind::Csv,
        DocKind::Tsv,
        DocKind::Fhir,
        DocKind::Ccda,
    ];

    /// The short, stable name stored in the index ("txt", "md", "pdf", …).
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Text => "txt",
            DocKind::Markdown => "md",
            DocKind::Html => "html",
            DocKind::Pdf => "pdf",
            DocKind::Docx => "docx",
            DocKind::Csv => "csv",
            DocKind::Tsv => "tsv",
            DocKind::Hwp => "hwp",
            DocKind::Hwpx => "hwpx",
            DocKind::Xlsx => "xlsx",
            DocKind::Pptx => "pptx",
            DocKind::Fhir => "fhir",
            DocKind::Ccda => "ccda",
            DocKind::Image => "image",
        }
    }

    /// The kind a file extension (without the dot, any case) names, if any.
    pub fn from_extension(ext: &str) -> Option<DocKind> {
        let kind = match ext.to_ascii_lowercase().as_str() {
            "txt" | "text" => DocKind::Text,
            "md" | "markdown" => DocKind::Markdown,
            "html" | "htm" => DocKind::Html,
            "pdf" => DocKind::Pdf,
            "docx" => DocKind::Docx,
            "csv" => DocKind::Csv,
            "tsv" => DocKind::Tsv,
            "hwp" => DocKind::Hwp,
            "hwpx" => DocKind::Hwpx,
            "xlsx" => DocKind::Xlsx,
            "pptx" => DocKind::Pptx,
            "ndjson" => DocKind::Fhir,
            "png" | "jpg" | "jpeg" | "tif" | "tiff" => DocKind::Image,
            _ => return None,
        };
        Some(kind)
    }

    /// Whether the format has a signature in its first bytes: such a file is
    /// only parsed as this kind when the signature is there.
    fn has_magic(self) -> bool {
        matches!(
            self,
            DocKind::Pdf
                | DocKind::Docx
                | DocKind::Hwp
                | DocKind::Hwpx
                | DocKind::Xlsx
                | DocKind::Pptx
                | DocKind::Image
        )
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed file: its kind, title if the format carries one, and its pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDocument {
    /// The format the file was parsed as.
    pub kind: DocKind,
    /// The document's own title (PDF Info, HTML `<title>`, first H1, …), if any.
    pub title: Option<String>,
    /// The pages in order; formats without pages have exactly one.
    pub pages: Vec<ParsedPage>,
}

impl ParsedDocument {
    /// Total number of characters of text over all pages.
    pub fn char_count(&self) -> usize {
        self.pages
            .iter()
            .flat_map(|p| &p.blocks)
            .map(|b| b.text.chars().count())
            .sum()
    }

    /// The numbers of the pages that have no text layer and need OCR
    /// ([`ParsedPage::needs_ocr`]), in order; empty for most documents.
    pub fn pages_needing_ocr(&self) -> Vec<u32> {
        self.pages
            .iter()
            .filter(|p| p.needs_ocr())
            .map(|p| p.number)
            .collect()
    }
}

/// One page of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPage {
    /// 1-based page number; non-paged formats have a single page 1.
    pub number: u32,
    /// The page's blocks in reading order. Empty only on a page that needs
    /// OCR ([`ParsedPage::needs_ocr`]); parsers leave out pages that are
    /// merely blank.
    pub blocks: Vec<Block>,
    /// Facts about the page beyond its text (patient, date, OCR confidence).
    pub meta: PageMeta,
}

/// Facts about a page beyond its text, indexed with each of its chunks so
/// that search can filter on them. Chunks never cross pages, so a format
/// whose records differ in these facts (one FHIR resource per page) gives
/// each record its own page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// The patient the page is about, as the record identifies them (FHIR
    /// `Patient.id`, C-CDA `recordTarget` id).
    pub patient_id: Option<String>,
    /// When what the page records happened (FHIR effective/onset/authored
    /// date), seconds since the Unix epoch, UTC; a date alone is midnight.
    pub effective: Option<i64>,
    /// Mean word confidence (0–100) when the text was recognised from an
    /// image by OCR; `None` for a text layer.
    pub ocr_confidence: Option<u8>,
}

impl ParsedPage {
    /// A page with no [`PageMeta`].
    pub fn new(number: u32, blocks: Vec<Block>) -> ParsedPage {
        ParsedPage {
            number,
            blocks,
            meta: PageMeta::default(),
        }
    }

    /// Whether the page has no text layer (a scanned page in a PDF that
    /// otherwise has text): it is kept, without blocks, so that it can be
    /// reported and sent to OCR. A document with no text at all fails with
    /// [`ParseFailure::NeedsOcr`] instead.
    pub fn needs_ocr(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The page text that provenance spans refer to: the blocks' text joined
    /// with `"\n"`.
    pub fn text(&self) -> String {
        let len = self.blocks.iter().map(|b| b.text.len() + 1).sum();
        let mut out = String::with_capacity(len);
        for (i, block) in self.blocks.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&block.text);
        }
        out
    }
}

/// A run of text with a structural role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// What the text is (heading, paragraph, …).
    pub kind: BlockKind,
    /// The text, never empty or only whitespace.
    pub text: String,
}

/// The structural role of a [`Block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockKind {
    /// A heading; `level` 1 is the top.
    Heading {
        /// 1 (top) to 9.
        level: u8,
    },
    /// Running text.
    Paragraph,
    /// One item of a list.
    ListItem,
    /// One table row: cells joined with `" | "`, or `"header: value; …"` where
    /// the format has a header row (CSV, TSV, Markdown tables).
    TableRow,
    /// Preformatted text or code, whitespace kept.
    Code,
}

/// Resource limits every parser honours, so one hostile file cannot take the
/// machine down. A file over a limit fails with [`ParseFailure`]; it is never
/// half-indexed silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest file accepted at all (default 256 MiB).
    pub max_file_bytes: u64,
    /// Most pages read from a paged document (default 5000).
    pub max_pages: u32,
    /// Most bytes inflated from a zip-based format, all entries together, or
    /// decoded from a PDF's streams other than images, all together (default
    /// 512 MiB).
    pub max_decompressed_bytes: u64,
    /// Most entries a zip-based format may list (default 10 000).
    pub max_zip_entries: u32,
    /// Deepest element nesting accepted in XML (default 256).
    pub max_xml_depth: u32,
    /// Most non-empty cells read from a spreadsheet, all sheets together,
    /// and most distinct strings its shared-string table may hold (default
    /// 5 000 000).
    pub max_cells: u64,
    /// Wall-clock time allowed for one file (default 120 s).
    pub max_parse_time: Duration,
    /// Most pixels (width × height) of one image or rendered page handed to
    /// OCR (default 100 million: an A4 page at 600 dpi is 35 million).
    pub max_image_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 256 * 1024 * 1024,
            max_pages: 5000,
            max_decompressed_bytes: 512 * 1024 * 1024,
            max_zip_entries: 10_000,
            max_xml_depth: 256,
            max_cells: 5_000_000,
            max_parse_time: Duration::from_secs(120),
            max_image_pixels: 100_000_000,
        }
    }
}

/// Why one file could not be parsed. This is the per-file status shown to the
/// user, not an internal error: a batch records it and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseFailure {
    /// The file holds no text at all.
    Empty,
    /// The file is larger than [`Limits::max_file_bytes`].
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// The document is protected by a password Sillok does not have.
    Encrypted,
    /// A distribution copy (HWP 배포용 문서): its text is encrypted for viewing
    /// only, and Sillok does not break that.
    Protected,
    /// A PDF with no text layer (scanned pages): it needs OCR. A PDF with
    /// text on some pages parses, its other pages flagged
    /// ([`ParsedDocument::pages_needing_ocr`]).
    NeedsOcr,
    /// A file type Sillok does not read.
    Unsupported {
        /// What was found, e.g. `".xlsx file"` (never the file name).
        what: String,
    },
    /// The file is damaged or not what its name says.
    Malformed {
        /// What is wrong, in words for the user (no document text).
        detail: String,
    },
    /// The file goes over one of the [`Limits`] (a decompression bomb, too many
    /// pages, …).
    LimitExceeded {
        /// The [`Limits`] field that was exceeded, e.g. `"max_pages"`.
        limit: &'static str,
        /// The limit's value.
        max: u64,
    },
    /// Parsing took longer than [`Limits::max_parse_time`].
    TimedOut,
    /// A picture larger than [`Limits::max_image_pixels`]: OCR would need
    /// gigabytes to decode it.
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit, in pixels.
        max_pixels: u64,
    },
}

impl fmt::Display for ParseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseFailure::Empty => f.write_str("the document contains no text"),
            ParseFailure::TooLarge { size, max } => write!(
                f,
                "the file is {} and the limit is {}; split it into smaller files",
                human_bytes(*size),
                human_bytes(*max)
            ),
            ParseFailure::Encrypted => f.write_str(
                "the document is password-protected; save an unprotected copy and import that",
            ),
            ParseFailure::Protected => f.write_str(
                "the document is protected (배포용), not indexed; ask its author for an editable copy",
            ),
            ParseFailure::NeedsOcr => f.write_str(
                "the pdf has no text layer (scanned pages?); it needs text recognition (ocr)",
            ),
            ParseFailure::Unsupported { what } => {
                let known: Vec<&str> = DocKind::ALL.iter().map(|k| k.as_str()).collect();
                write!(
                    f,
                    "unsupported file type ({what}); sillok reads {}",
                    known.join(", ")
                )
            }
            ParseFailure::Malformed { detail } => {
                write!(f, "the file is damaged or not what its name says: {detail}")
            }
            ParseFailure::LimitExceeded { limit, max } => write!(
                f,
                "the document goes over the {limit} limit of {max}; it may be a decompression bomb, or the limit needs raising"
            ),
            ParseFailure::TimedOut => f.write_str(
                "reading the document took longer than the time limit; it may be damaged or very large",
            ),
            ParseFailure::ImageTooLarge {
                width,
                height,
                max_pixels,
            } => write!(
                f,
                "the image is too large for ocr: {width} × {height} pixels ({} megapixels); the limit is {} megapixels",
                u64::from(*width) * u64::from(*height) / 1_000_000,
                max_pixels / 1_000_000
            ),
        }
    }
}

impl std::error::Error for ParseFailure {}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

/// A reader for one [`DocKind`]. Implementations never panic on purpose on bad
/// input and honour `limits` (all but `max_file_bytes`, which [`parse_bytes`]
/// checks before choosing a parser); [`parse_bytes`] also guards them with the
/// time limit and `catch_unwind`, because third-party parsers may panic or hang.
pub trait Parser: Send + Sync {
    /// The kind this parser reads.
    fn kind(&self) -> DocKind;

    /// Parses one whole file held in memory.
    ///
    /// # Errors
    ///
    /// A [`ParseFailure`] saying why the file cannot be indexed.
    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure>;
}

/// The parser for `kind`.
pub fn parser_for(kind: DocKind) -> &'static dyn Parser {
    match kind {
        DocKind::Text => &text::TextParser,
        DocKind::Markdown => &markdown::MarkdownParser,
        DocKind::Html => &html::HtmlParser,
        DocKind::Pdf => &pdf::PdfParser,
        DocKind::Docx => &docx::DocxParser,
        DocKind::Csv => &csv::CsvParser { kind: DocKind::Csv },
        DocKind::Tsv => &csv::CsvParser { kind: DocKind::Tsv },
        DocKind::Hwp => &hwp::HwpParser,
        DocKind::Hwpx => &hwpx::HwpxParser,
        DocKind::Xlsx => &xlsx::XlsxParser,
        DocKind::Pptx => &pptx::PptxParser,
        DocKind::Fhir => &fhir::FhirParser,
        DocKind::Ccda => &ccda::CcdaParser,
        DocKind::Image => &image::ImageParser,
    }
}

/// How many leading bytes [`detect`] looks at; pass at least this many when
/// the file is longer.
pub const DETECT_HEAD_BYTES: usize = 8192;

/// Guesses a file's kind from its first bytes (`head`, ideally
/// [`DETECT_HEAD_BYTES`] of them) and then its name.
///
/// Signatures win over the extension: a `.txt` that is really a PDF is a PDF.
/// A file named like a binary format (`.pdf`, `.docx`) whose bytes do not carry
/// that format's signature gets `None`, never the wrong parser; a zip that is
/// not a Word document (xlsx, pptx, a plain archive) is not called docx.
pub fn detect(file_name: &str, head: &[u8]) -> Option<DocKind> {
    let by_name = extension(file_name).and_then(DocKind::from_extension);
    if let Some(kind) = sniff(head, by_name) {
        return Some(kind);
    }
    match by_name {
        Some(kind) if kind.has_magic() => None,
        // A signature of a format we do not read (zip, images…) in a file named
        // like text: still not text.
        Some(_) if looks_binary(head) => None,
        other => other,
    }
}

fn extension(file_name: &str) -> Option<&str> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let (stem, ext) = base.rsplit_once('.')?;
    (!stem.is_empty()).then_some(ext)
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// PNG, JPEG, and TIFF (little- and big-endian).
const IMAGE_MAGIC: &[&[u8]] = &[b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*"];
/// Compound files: old Office (.doc, .xls), HWP 5, encrypted OOXML.
const OLE2_MAGIC: &[u8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1";

fn sniff(head: &[u8], by_name: Option<DocKind>) -> Option<DocKind> {
    // PDF readers accept the header anywhere in the first 1024 bytes.
    if find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Some(DocKind::Pdf);
    }
    if head.starts_with(ZIP_MAGIC) {
        // HWPX stores its mimetype uncompressed as the first entry.
        if find(head, b"application/hwp+zip").is_some()
            || (by_name == Some(DocKind::Hwpx) && find(head, b"Contents/").is_some())
        {
            return Some(DocKind::Hwpx);
        }
        if find(head, b"xl/").is_some() && find(head, b"word/").is_none() {
            return Some(DocKind::Xlsx);
        }
        if find(head, b"ppt/").is_some() && find(head, b"word/").is_none() {
            return Some(DocKind::Pptx);
        }
        if let Some(kind @ (DocKind::Hwpx | DocKind::Xlsx | DocKind::Pptx)) = by_name {
            return Some(kind);
        }
        // Word's parts live under word/; a zip without it in the head can still
        // be a docx whose parts come later, but only if it is named so (the
        // docx parser then checks for word/document.xml).
        let is_word = find(head, b"word/").is_some();
        let is_other_office = find(head, b"xl/").is_some() || find(head, b"ppt/").is_some();
        return (is_word || (by_name == Some(DocKind::Docx) && !is_other_office))
            .then_some(DocKind::Docx);
    }
    // Office saves a password-protected .docx/.xlsx/.pptx as an OLE2 file;
    // the parser tells that apart from an old .doc/.xls/.ppt and reports it
    // as encrypted.
    if head.starts_with(OLE2_MAGIC)
        && matches!(by_name, Some(DocKind::Docx | DocKind::Xlsx | DocKind::Pptx))
    {
        return by_name;
    }
    // HWP 5.0 is a compound file too; its parser checks the FileHeader stream.
    if head.starts_with(OLE2_MAGIC) && by_name == Some(DocKind::Hwp) {
        return Some(DocKind::Hwp);
    }
    if IMAGE_MAGIC.iter().any(|m| head.starts_with(m)) {
        return Some(DocKind::Image);
    }
    let text = strip_bom_and_space(head);
    // FHIR JSON (a Bundle, one resource, or NDJSON lines) names its type early.
    if text.starts_with(b"{") && find(head, b"\"resourceType\"").is_some() {
        return Some(DocKind::Fhir);
    }
    if text.starts_with(b"<")
        && find(head, b"ClinicalDocument").is_some()
        && find(head, b"urn:hl7-org:v3").is_some()
    {
        return Some(DocKind::Ccda);
    }
    if starts_with_ignore_case(text, b"<!doctype html") || starts_with_ignore_case(text, b"<html") {
        return Some(DocKind::Html);
    }
    None
}

/// Signatures of binary formats we do not read; a text file never starts so.
fn looks_binary(head: &[u8]) -> bool {
    const SIGNATURES: &[&[u8]] = &[
        ZIP_MAGIC,
        b"\x89PNG",
        b"\xff\xd8\xff",
        b"GIF8",
        OLE2_MAGIC,
        b"\x7fELF",
        b"\x1f\x8b",
    ];
    SIGNATURES.iter().any(|s| head.starts_with(s))
}

fn strip_bom_and_space(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Detects, checks the size of, and parses one file, under the time limit and
/// with panics in third-party parsers turned into [`ParseFailure::Malformed`].
///
/// The bytes are copied once so the parse can run on its own thread; use
/// [`parse_shared`] to avoid the copy.
///
/// # Errors
///
/// A [`ParseFailure`] saying why the file cannot be indexed.
pub fn parse_bytes(
    file_name: &str,
    bytes: &[u8],
    limits: &Limits,
) -> Result<ParsedDocument, ParseFailure> {
    let kind = precheck(file_name, bytes, limits)?;
    run_guarded(parser_for(kind), Arc::from(bytes), limits)
}

/// [`parse_bytes`] for bytes already shared, without copying them.
///
/// # Errors
///
/// A [`ParseFailure`] saying why the file cannot be indexed.
pub fn parse_shared(
    file_name: &str,
    bytes: Arc<[u8]>,
    limits: &Limits,
) -> Result<ParsedDocument, ParseFailure> {
    let kind = precheck(file_name, &bytes, limits)?;
    run_guarded(parser_for(kind), bytes, limits)
}

fn precheck(file_name: &str, bytes: &[u8], limits: &Limits) -> Result<DocKind, ParseFailure> {
    let size = bytes.len() as u64;
    if size > limits.max_file_bytes {
        return Err(ParseFailure::TooLarge {
            size,
            max: limits.max_file_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(ParseFailure::Empty);
    }
    let head = &bytes[..bytes.len().min(DETECT_HEAD_BYTES)];
    if let Some(kind) = detect(file_name, head) {
        return Ok(kind);
    }
    let ext = extension(file_name).map(str::to_ascii_lowercase);
    Err(match ext.as_deref().and_then(DocKind::from_extension) {
        Some(named) => ParseFailure::Malformed {
            detail: format!("named .{named} but the content is not a {named} file"),
        },
        None => ParseFailure::Unsupported {
            what: match ext {
                // Extensions are short ASCII in practice; cap what we echo.
                Some(e) => format!(".{} file", e.chars().take(16).collect::<String>()),
                None => "file without extension".to_owned(),
            },
        },
    })
}

/// Stack for the parse thread. Third-party parsers recurse on nested input; a
/// stack overflow aborts the process (it cannot be caught), so give them room
/// on top of our own depth guards.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Runs the parser on its own thread and waits at most `max_parse_time`.
///
/// Rust threads cannot be killed: on a time-out the thread is detached and runs
/// on until the parser returns (our own parsers check the deadline and stop
/// soon; a third-party one may not), and its result is dropped.
fn run_guarded(
    parser: &'static dyn Parser,
    bytes: Arc<[u8]>,
    limits: &Limits,
) -> Result<ParsedDocument, ParseFailure> {
    let kind = parser.kind();
    let (tx, rx) = mpsc::sync_channel(1);
    let thread_limits = limits.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("sillok-parse-{kind}"))
        .stack_size(PARSE_STACK_BYTES)
        .spawn(move || {
            let result = quietly(|| parser.parse(&bytes, &thread_limits))
                .unwrap_or_else(|panic| Err(panic_failure(kind, panic.as_ref())));
            // The receiver is gone after a time-out; nothing is waiting then.
            drop(tx.send(result));
        });
    if let Err(e) = spawned {
        return Err(ParseFailure::Malformed {
            detail: format!("could not start a parser thread: {e}"),
        });
    }
    match rx.recv_timeout(limits.max_parse_time) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(ParseFailure::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ParseFailure::Malformed {
            detail: format!("the {kind} parser stopped without a result"),
        }),
    }
}

thread_local! {
    /// How many [`quietly`] calls are running on this thread.
    static QUIET: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// `catch_unwind` that also keeps the panic message out of stderr.
///
/// A third-party parser's panic message can quote document content, which
/// must not reach the logs; the panic itself becomes a [`ParseFailure`]. The
/// first call installs a process-wide panic hook that stays silent while a
/// `quietly` call is running on the panicking thread and hands every other
/// panic to the hook that was there before.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(std::cell::Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get().saturating_sub(1)));
    result
}

/// The panic message can quote document content: it goes to the debug log
/// only (where patient data may appear), never into the user-facing status.
fn panic_failure(kind: DocKind, panic: &(dyn Any + Send)) -> ParseFailure {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::debug!(%kind, %message, "document parser panicked");
    ParseFailure::Malformed {
        detail: format!("the {kind} reader failed on this file (a bug in the reader it uses)"),
    }
}

/// A cooperative deadline our own parsers check in their loops, so a thread
/// left behind by a time-out stops soon after.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn new(limits: &Limits) -> Deadline {
        Deadline(Instant::now().checked_add(limits.max_parse_time))
    }

    /// No deadline, for work bounded some other way.
    pub(crate) fn none() -> Deadline {
        Deadline(None)
    }

    pub(crate) fn check(self) -> Result<(), ParseFailure> {
        match self.0 {
            Some(at) if Instant::now() >= at => Err(ParseFailure::TimedOut),
            _ => Ok(()),
        }
    }
}

/// Collects blocks, dropping empty ones and trimming surrounding whitespace.
#[derive(Debug, Default)]
pub(crate) struct BlockSink {
    blocks: Vec<Block>,
}

impl BlockSink {
    pub(crate) fn push(&mut self, kind: BlockKind, text: &str) {
        let text = if kind == BlockKind::Code {
            text.trim_matches('\n').trim_end()
        } else {
            text.trim()
        };
        if !text.is_empty() {
            self.blocks.push(Block {
                kind,
                text: text.to_owned(),
            });
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// One page holding every block, or [`ParseFailure::Empty`] if there are
    /// none.
    pub(crate) fn into_single_page(self) -> Result<Vec<ParsedPage>, ParseFailure> {
        if self.blocks.is_empty() {
            return Err(ParseFailure::Empty);
        }
        Ok(vec![ParsedPage::new(1, self.blocks)])
    }

    pub(crate) fn into_blocks(self) -> Vec<Block> {
        self.blocks
    }
}

/// Collapses runs of whitespace to one space (HTML and XML text).
pub(crate) fn push_collapsed(out: &mut String, text: &str) {
    let separate = |out: &mut String| {
        if !out.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
    };
    let mut pending_space = text.starts_with(char::is_whitespace);
    for word in text.split_whitespace() {
        if pending_space {
            separate(out);
        }
        out.push_str(word);
        pending_space = true;
    }
    if text.ends_with(char::is_whitespace) {
        separate(out);
    }
}

/// `"header: value; …"` so a chunk holding one row still says what each value
/// is; cells without a header (ragged rows) are labelled by position, empty
/// cells left out.
pub(crate) fn labelled_row(header: &[String], row: &[String]) -> String {
    let mut out = String::new();
    for (i, value) in row.iter().enumerate() {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("; ");
        }
        match header.get(i).map(|h| h.trim()).filter(|h| !h.is_empty()) {
            Some(name) => {
                out.push_str(name);
                out.push_str(": ");
            }
            None if !header.is_empty() => {
                out.push_str(&format!("column {}: ", i + 1));
            }
            None => {}
        }
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_signature_before_name() {
        assert_eq!(detect("a.txt", b"%PDF-1.7\n"), Some(DocKind::Pdf));
        assert_eq!(
            detect("a.md", b"\xef\xbb\xbf  <!DOCTYPE html><p>x"),
            Some(DocKind::Html)
        );
        assert_eq!(detect("page", b"<HTML><body>"), Some(DocKind::Html));
        assert_eq!(
            detect(
                "x.zip",
                b"PK\x03\x04....[Content_Types].xml....word/document.xml"
            ),
            Some(DocKind::Docx)
        );
    }

    #[test]
    fn detects_by_extension() {
        for (name, kind) in [
            ("a.TXT", DocKind::Text),
            ("a.text", DocKind::Text),
            ("dir.v2/notes.md", DocKind::Markdown),
            ("a.markdown", DocKind::Markdown),
            ("a.htm", DocKind::Html),
            ("a.csv", DocKind::Csv),
            ("a.tsv", DocKind::Tsv),
        ] {
            assert_eq!(detect(name, b"hello"), Some(kind), "{name}");
        }
        assert_eq!(detect("a.xlsx", b"hello"), None);
        assert_eq!(detect(".bashrc", b"hello"), None);
        assert_eq!(detect("README", b"hello"), None);
    }

    #[test]
    fn binary_names_need_their_signature() {
        assert_eq!(detect("a.pdf", b"hello, not a pdf"), None);
        assert_eq!(detect("a.pdf", b"<!doctype html>"), Some(DocKind::Html));
        assert_eq!(detect("a.docx", b"hello"), None);
        assert_eq!(
            detect("a.docx", b"PK\x03\x04 mimetype"),
            Some(DocKind::Docx)
        );
        // A spreadsheet is read as one whatever its name; a plain archive is
        // not a Word document.
        assert_eq!(
            detect("a.docx", b"PK\x03\x04 xl/workbook.xml"),
            Some(DocKind::Xlsx)
        );
        assert_eq!(detect("a.zip", b"PK\x03\x04 photos/1.jpg"), None);
        assert_eq!(detect("a.txt", b"PK\x03\x04 photos/1.jpg"), None);
        // A picture is a scan for OCR, whatever its name says.
        assert_eq!(detect("a.txt", b"\x89PNG\r\n"), Some(DocKind::Image));
        assert_eq!(detect("scan.tif", b"GIF89a"), None);
        // An encrypted .docx is an OLE2 file; an OLE2 file named .doc is not ours.
        assert_eq!(detect("a.docx", OLE2_MAGIC), Some(DocKind::Docx));
        assert_eq!(detect("a.doc", OLE2_MAGIC), None);
        assert_eq!(detect("a.xlsx", OLE2_MAGIC), Some(DocKind::Xlsx));
        assert_eq!(detect("a.txt", OLE2_MAGIC), None);
    }

    #[test]
    fn parse_bytes_reports_mismatch_and_unsupported() {
        let limits = Limits::default();
        assert_eq!(
            parse_bytes("report.pdf", b"not a pdf", &limits),
            Err(ParseFailure::Malformed {
                detail: "named .pdf but the content is not a pdf file".to_owned()
            })
        );
        assert_eq!(
            parse_bytes("slides.key", b"PK\x03\x04", &limits),
            Err(ParseFailure::Unsupported {
                what: ".key file".to_owned()
            })
        );
        assert_eq!(parse_bytes("a.txt", b"", &limits), Err(ParseFailure::Empty));
    }

    #[test]
    fn parse_bytes_runs_the_right_parser() -> Result<(), ParseFailure> {
        let doc = parse_bytes(
            "note.md",
            "# 제목\n\n고혈압 환자의 혈압 목표는 130/80 mmHg".as_bytes(),
            &Limits::default(),
        )?;
        assert_eq!(doc.kind, DocKind::Markdown);
        assert_eq!(doc.title.as_deref(), Some("제목"));
        assert_eq!(
            doc.pages[0].text(),
            "제목\n고혈압 환자의 혈압 목표는 130/80 mmHg"
        );
        Ok(())
    }

    struct Slow;
    impl Parser for Slow {
        fn kind(&self) -> DocKind {
            DocKind::Text
        }
        fn parse(&self, _: &[u8], _: &Limits) -> Result<ParsedDocument, ParseFailure> {
            std::thread::sleep(Duration::from_secs(2));
            Err(ParseFailure::Empty)
        }
    }

    struct Panicky;
    impl Parser for Panicky {
        fn kind(&self) -> DocKind {
            DocKind::Pdf
        }
        fn parse(&self, bytes: &[u8], _: &Limits) -> Result<ParsedDocument, ParseFailure> {
            let index = bytes.len() + 1;
            // An out-of-bounds index, as a third-party parser might do.
            Ok(ParsedDocument {
                kind: DocKind::Pdf,
                title: Some(format!("{}", bytes[index])),
                pages: Vec::new(),
            })
        }
    }

    #[test]
    fn guarded_run_stops_waiting_at_the_time_limit() {
        let limits = Limits {
            max_parse_time: Duration::from_millis(50),
            ..Limits::default()
        };
        let started = Instant::now();
        let result = run_guarded(&Slow, Arc::from(&b"x"[..]), &limits);
        assert_eq!(result, Err(ParseFailure::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn guarded_run_turns_panics_into_malformed() {
        let result = run_guarded(&Panicky, Arc::from(&b"abc"[..]), &Limits::default());
        let Err(ParseFailure::Malformed { detail }) = result else {
            panic!("expected malformed, got {result:?}");
        };
        assert_eq!(
            detail,
            "the pdf reader failed on this file (a bug in the reader it uses)"
        );
    }

    #[test]
    fn panics_become_malformed() {
        let failure = panic_failure(DocKind::Pdf, &"index out of bounds: secret text");
        assert_eq!(
            failure,
            ParseFailure::Malformed {
                detail: "the pdf reader failed on this file (a bug in the reader it uses)"
                    .to_owned()
            }
        );
    }

    #[test]
    fn failures_read_well() {
        let shown = ParseFailure::TooLarge {
            size: 300 * 1024 * 1024,
            max: 256 * 1024 * 1024,
        }
        .to_string();
        assert_eq!(
            shown,
            "the file is 300.0 MiB and the limit is 256.0 MiB; split it into smaller files"
        );
        assert_eq!(
            ParseFailure::Unsupported {
                what: ".xlsx file".into()
            }
            .to_string(),
            "unsupported file type (.xlsx file); sillok reads txt, md, html, pdf, docx, xlsx, pptx, hwp, hwpx, csv, tsv, fhir, ccda"
        );
        for failure in [
            ParseFailure::Empty,
            ParseFailure::Encrypted,
            ParseFailure::Protected,
            ParseFailure::NeedsOcr,
            ParseFailure::TimedOut,
            ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: 5000,
            },
        ] {
            let s = failure.to_string();
            assert!(
                s.starts_with(char::is_lowercase) && !s.ends_with('.'),
                "{s}"
            );
        }
    }

    #[test]
    fn page_text_joins_blocks() {
        let page = ParsedPage::new(
            1,
            vec![
                Block {
                    kind: BlockKind::Heading { level: 1 },
                    text: "A".into(),
                },
                Block {
                    kind: BlockKind::Paragraph,
                    text: "b c".into(),
                },
            ],
        );
        assert_eq!(page.text(), "A\nb c");
    }

    #[test]
    fn pages_without_blocks_need_ocr() {
        let page = |number, text: &str| {
            let blocks = (!text.is_empty())
                .then(|| Block {
                    kind: BlockKind::Paragraph,
                    text: text.into(),
                })
                .into_iter()
                .collect();
            ParsedPage::new(number, blocks)
        };
        let doc = ParsedDocument {
            kind: DocKind::Pdf,
            title: None,
            pages: vec![page(1, "a"), page(2, ""), page(4, "b"), page(7, "")],
        };
        assert_eq!(doc.pages_needing_ocr(), [2, 7]);
        assert!(!doc.pages[0].needs_ocr());
    }

    #[test]
    fn collapses_whitespace() {
        let mut s = String::new();
        push_collapsed(&mut s, "  a \n b ");
        push_collapsed(&mut s, "c");
        push_collapsed(&mut s, "d");
        assert_eq!(s, "a b cd");
    }
}
