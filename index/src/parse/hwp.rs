//! HWP 5.0 documents (Hancom's binary word-processor format): an OLE2
//! compound file ([`cfb`]) whose `FileHeader` stream says how the rest is
//! stored, whose `DocInfo` stream holds the shared paragraph shapes, and whose
//! `BodyText/Section0..N` streams hold the text as a flat list of records
//! (each with a tag, a nesting level and a size), raw-deflated when the
//! document is compressed.
//!
//! What is read (the rules are [`super::hancom`]'s, shared with HWPX):
//! paragraph text (`HWPTAG_PARA_TEXT`, UTF-16LE: char controls take one code
//! unit, inline and extended controls eight; tab, line break, hyphen and the
//! fixed spaces become text), headings from outline-level (개요) paragraph
//! shapes in `DocInfo` and list items from numbered or bulleted ones, tables
//! (cells are `LIST_HEADER`s under a `tbl ` control, addressed by row and
//! column), text boxes and other drawing objects where they are anchored, ruby
//! text (덧말, read as "base(annotation)") and overlaid characters (글자
//! 겹침), footnotes, endnotes, headers, footers and master pages. The title
//! comes from the `HwpSummaryInformation` property set. Pages follow section
//! starts, explicit page breaks (`PARA_HEADER` break bits) and the "first
//! line of a page" flag of `PARA_LINE_SEG` where Hangul recorded it.
//!
//! Refused with a clear status: password-protected files
//! ([`ParseFailure::Encrypted`], also DRM-wrapped ones) and distribution copies
//! (배포용, [`ParseFailure::Protected`]), whose body is encrypted for viewing
//! only. Hostile input: the compound-file reader is `cfb`, which rejects
//! cyclic or doubly-used sector chains; its calls run under
//! [`quietly`](super::quietly) so a bug in it is a status, not a crash; every
//! inflated byte is counted against [`Limits::max_decompressed_bytes`] and a
//! compression-ratio cap; record sizes are checked against what the stream
//! really holds (memory follows the data, never a declared size); sections and
//! pages are capped by [`Limits::max_pages`]; control nesting is capped; the
//! [`Deadline`] is checked in every loop. HWP 3 files (Hangul 97) are
//! reported as unsupported.

use std::io::{self, BufReader, Cursor, Read};

use cfb::CompoundFile;
use flate2::read::DeflateDecoder;

use super::hancom::{Control, Shape, Tree};
use super::{Deadline, DocKind, Limits, OLE2_MAGIC, ParseFailure, ParsedDocument, Parser, quietly};

/// Reads HWP 5.0 documents.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HwpParser;

/// The first bytes of the `FileHeader` stream (and of a whole HWP 3 file).
const SIGNATURE: &[u8] = b"HWP Document File";

/// `FileHeader` property bits.
const FLAG_COMPRESSED: u32 = 1 << 0;
const FLAG_PASSWORD: u32 = 1 << 1;
const FLAG_DISTRIBUTION: u32 = 1 << 2;
const FLAG_DRM: u32 = 1 << 4;

/// Record tags (`HWPTAG_BEGIN` is 0x10).
const TAG_PARA_SHAPE: u16 = 0x10 + 9;
const TAG_PARA_HEADER: u16 = 0x10 + 50;
const TAG_PARA_TEXT: u16 = 0x10 + 51;
const TAG_PARA_LINE_SEG: u16 = 0x10 + 53;
const TAG_CTRL_HEADER: u16 = 0x10 + 55;
const TAG_LIST_HEADER: u16 = 0x10 + 56;
const TAG_TABLE: u16 = 0x10 + 61;

/// `PARA_HEADER` break bits that start a new page.
const BREAK_SECTION: u8 = 0x01;
const BREAK_PAGE: u8 = 0x04;

/// A stream inflating to more than this many times its compressed size (past
/// [`RATIO_FLOOR`] bytes) is treated as a bomb, as for zip formats.
const MAX_RATIO: u64 = 100;
const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

impl Parser for HwpParser {
    fn kind(&self) -> DocKind {
        DocKind::Hwp
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        if bytes.starts_with(SIGNATURE) {
            return Err(ParseFailure::Unsupported {
                what: "hwp 3 (hangul 97) file; save it as .hwp 5 or .hwpx".to_owned(),
            });
        }
        if !bytes.starts_with(OLE2_MAGIC) {
            return Err(malformed("not an hwp 5.0 file: no compound-file signature"));
        }
        let deadline = Deadline::new(limits);
        deadline.check()?;
        let mut file = Container::open(bytes)?;
        let flags = read_file_header(&mut file)?;
        if flags & (FLAG_PASSWORD | FLAG_DRM) != 0 {
            return Err(ParseFailure::Encrypted);
        }
        if flags & FLAG_DISTRIBUTION != 0 {
            return Err(ParseFailure::Protected);
        }
        let mut inflate = Inflate {
            compressed: flags & FLAG_COMPRESSED != 0,
            limits,
            inflated: 0,
        };
        let shapes = match file.read("/DocInfo")? {
            Some(raw) => read_doc_info(&raw, &mut inflate, deadline)?,
            None => Vec::new(),
        };
        let sections = file.sections()?;
        if sections.len() > limits.max_pages as usize {
            return Err(too_many_pages(limits));
        }
        let mut tree = Tree::new(limits);
        for (_, path) in &sections {
            deadline.check()?;
            let raw = file
                .read(path)?
                .ok_or_else(|| malformed("a body text section is missing"))?;
            tree.start_section()?;
            inflate.records(&raw, deadline, |record| {
                section_record(&mut tree, &shapes, record)
            })?;
        }
        let pages = tree.finish()?;
        Ok(ParsedDocument {
            kind: DocKind::Hwp,
            title: file.title(),
            pages,
        })
    }
}

fn malformed(detail: &str) -> ParseFailure {
    ParseFailure::Malformed {
        detail: detail.to_owned(),
    }
}

fn too_many_pages(limits: &Limits) -> ParseFailure {
    ParseFailure::LimitExceeded {
        limit: "max_pages",
        max: u64::from(limits.max_pages),
    }
}

/// The compound file, every call into `cfb` made under [`quietly`].
struct Container<'a> {
    cfb: CompoundFile<Cursor<&'a [u8]>>,
    /// The file's size: no stream can hold more.
    len: u64,
}

fn cfb_failure(e: &io::Error) -> ParseFailure {
    ParseFailure::Malformed {
        detail: format!("the hwp compound file is damaged ({e})"),
    }
}

fn cfb_panicked() -> ParseFailure {
    malformed("the compound-file reader failed on this hwp file (a bug in the reader it uses)")
}

impl<'a> Container<'a> {
    fn open(bytes: &'a [u8]) -> Result<Container<'a>, ParseFailure> {
        match quietly(|| CompoundFile::open(Cursor::new(bytes))) {
            Ok(Ok(cfb)) => Ok(Container {
                cfb,
                len: bytes.len() as u64,
            }),
            Ok(Err(e)) => Err(cfb_failure(&e)),
            Err(_) => Err(cfb_panicked()),
        }
    }

    /// The whole stream at `path`, or `None` if there is none.
    fn read(&mut self, path: &str) -> Result<Option<Vec<u8>>, ParseFailure> {
        let cfb = &mut self.cfb;
        let len = self.len;
        let read = quietly(|| -> io::Result<Option<Vec<u8>>> {
            if !cfb.is_stream(path) {
                return Ok(None);
            }
            let mut data = Vec::new();
            cfb.open_stream(path)?.take(len).read_to_end(&mut data)?;
            Ok(Some(data))
        });
        match read {
            Ok(Ok(data)) => Ok(data),
            Ok(Err(e)) => Err(cfb_failure(&e)),
            Err(_) => Err(cfb_panicked()),
        }
    }

    /// The `BodyText/SectionN` streams, in section order.
    fn sections(&mut self) -> Result<Vec<(u32, String)>, ParseFailure> {
        let cfb = &self.cfb;
        let listed = quietly(|| -> io::Result<Option<Vec<(u32, String)>>> {
            if !cfb.is_storage("/BodyText") {
                return Ok(None);
            }
            let mut sections: Vec<(u32, String)> = cfb
                .read_storage("/BodyText")?
                .filter(|e| e.is_stream())
                .filter_map(|e| {
                    let n = e.name().strip_prefix("Section")?.parse().ok()?;
                    Some((n, format!("/BodyText/{}", e.name())))
                })
                .collect();
            sections.sort();
            Ok(Some(sections))
        });
        match listed {
            Ok(Ok(Some(sections))) => Ok(sections),
            Ok(Ok(None)) => {
                // Distribution copies keep their (encrypted) body in ViewText.
                if quietly(|| cfb.is_storage("/ViewText")).unwrap_or(false) {
                    Err(ParseFailure::Protected)
                } else {
                    Err(malformed("not an hwp document: there is no body text"))
                }
            }
            Ok(Err(e)) => Err(cfb_failure(&e)),
            Err(_) => Err(cfb_panicked()),
        }
    }

    /// The title in the `HwpSummaryInformation` property set, if it has a
    /// readable one; a damaged property set is no reason to drop the text.
    fn title(&mut self) -> Option<String> {
        let data = self.read("/\u{5}HwpSummaryInformation").ok()??;
        summary_title(&data)
    }
}

/// The `FileHeader` properties, after checking the signature and version.
fn read_file_header(file: &mut Container<'_>) -> Result<u32, ParseFailure> {
    let Some(header) = file.read("/FileHeader")? else {
        return Err(malformed(
            "not an hwp 5.0 file: the compound file has no FileHeader stream",
        ));
    };
    if !header.starts_with(SIGNATURE) || header.len() < 40 {
        return Err(malformed(
            "not an hwp 5.0 file: the FileHeader signature is wrong",
        ));
    }
    let version = le_u32(&header, 32).unwrap_or_default();
    let major = version >> 24;
    if major != 5 {
        return Err(ParseFailure::Unsupported {
            what: format!("hwp {major}.x file"),
        });
    }
    Ok(le_u32(&header, 36).unwrap_or_default())
}

fn le_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn le_u32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Inflates streams under one budget for the whole document.
struct Inflate<'l> {
    compressed: bool,
    limits: &'l Limits,
    /// Bytes inflated so far, all streams together.
    inflated: u64,
}

/// One record as the walkers see it: `data` holds the payload only for the
/// tags that are used ([`keeps`]), and is empty otherwise.
struct Record<'d> {
    tag: u16,
    level: u16,
    data: &'d [u8],
}

fn keeps(tag: u16) -> bool {
    matches!(
        tag,
        TAG_PARA_SHAPE
            | TAG_PARA_HEADER
            | TAG_PARA_TEXT
            | TAG_PARA_LINE_SEG
            | TAG_CTRL_HEADER
            | TAG_LIST_HEADER
            | TAG_TABLE
    )
}

impl Inflate<'_> {
    /// Streams the records of one stream (`raw`, as stored) through `each`.
    fn records(
        &mut self,
        raw: &[u8],
        deadline: Deadline,
        mut each: impl FnMut(Record<'_>) -> Result<(), ParseFailure>,
    ) -> Result<(), ParseFailure> {
        let budget = self
            .limits
            .max_decompressed_bytes
            .saturating_sub(self.inflated);
        let source: Box<dyn Read + '_> = if self.compressed {
            Box::new(DeflateDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        let capped = Capped {
            inner: source,
            read: 0,
            budget,
            ratio_cap: (raw.len() as u64)
                .saturating_mul(MAX_RATIO)
                .max(RATIO_FLOOR),
            tripped: false,
        };
        let mut reader = BufReader::new(capped);
        let result = read_records(&mut reader, deadline, &mut each);
        let capped = reader.into_inner();
        if self.compressed {
            self.inflated = self.inflated.saturating_add(capped.read);
        }
        if capped.tripped {
            return Err(if capped.read > budget {
                ParseFailure::LimitExceeded {
                    limit: "max_decompressed_bytes",
                    max: self.limits.max_decompressed_bytes,
                }
            } else {
                ParseFailure::LimitExceeded {
                    limit: "hwp compression ratio",
                    max: MAX_RATIO,
                }
            });
        }
        result
    }
}

/// Counts the bytes read and fails past the budget or ratio cap.
struct Capped<'a> {
    inner: Box<dyn Read + 'a>,
    read: u64,
    budget: u64,
    ratio_cap: u64,
    tripped: bool,
}

impl Read for Capped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        // Only inflated bytes can exceed these (a stored stream is no
        // larger than the file), so the same check serves both.
        if self.read > self.budget || self.read > self.ratio_cap {
            self.tripped = true;
            return Err(io::Error::other("decompression limit"));
        }
        Ok(n)
    }
}

/// Fills `buf` as far as the stream goes; the count read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn stream_failure(e: &io::Error) -> ParseFailure {
    ParseFailure::Malformed {
        detail: format!("a compressed hwp stream is damaged ({e})"),
    }
}

fn truncated() -> ParseFailure {
    malformed("an hwp record runs past the end of its stream (truncated file?)")
}

fn read_records(
    reader: &mut impl Read,
    deadline: Deadline,
    each: &mut impl FnMut(Record<'_>) -> Result<(), ParseFailure>,
) -> Result<(), ParseFailure> {
    let mut payload = Vec::new();
    let mut count = 0u64;
    loop {
        count += 1;
        if count.is_multiple_of(1024) {
            deadline.check()?;
        }
        let mut head = [0u8; 4];
        match read_up_to(reader, &mut head).map_err(|e| stream_failure(&e))? {
            0 => return Ok(()),
            4 => {}
            _ => return Err(truncated()),
        }
        let head = u32::from_le_bytes(head);
        // Tag: 10 bits, level: 10 bits, size: 12 bits (0xfff: a u32 follows).
        let tag = (head & 0x3ff) as u16;
        let level = ((head >> 10) & 0x3ff) as u16;
        let mut size = u64::from(head >> 20);
        if size == 0xfff {
            let mut extended = [0u8; 4];
            if read_up_to(reader, &mut extended).map_err(|e| stream_failure(&e))? != 4 {
                return Err(truncated());
            }
            size = u64::from(u32::from_le_bytes(extended));
        }
        payload.clear();
        // Reads only what the stream really holds, so a lying size costs
        // nothing; the budget bounds what it does hold.
        let got = if keeps(tag) {
            reader
                .take(size)
                .read_to_end(&mut payload)
                .map_err(|e| stream_failure(&e))? as u64
        } else {
            io::copy(&mut reader.take(size), &mut io::sink()).map_err(|e| stream_failure(&e))?
        };
        if got < size {
            return Err(truncated());
        }
        each(Record {
            tag,
            level,
            data: &payload,
        })?;
    }
}

/// The paragraph shapes in `DocInfo`, by id (their order).
fn read_doc_info(
    raw: &[u8],
    inflate: &mut Inflate<'_>,
    deadline: Deadline,
) -> Result<Vec<Shape>, ParseFailure> {
    let mut shapes = Vec::new();
    inflate.records(raw, deadline, |record| {
        if record.tag == TAG_PARA_SHAPE {
            let props = le_u32(record.data, 0).unwrap_or_default();
            // Bits 23–24: none, outline, number, bullet; 25–27: level.
            shapes.push(match (props >> 23) & 0x3 {
                1 => Shape::heading((props >> 25) & 0x7),
                2 | 3 => Shape::List,
                _ => Shape::Plain,
            });
        }
        Ok(())
    })?;
    Ok(shapes)
}

/// Decodes `PARA_TEXT`: UTF-16LE where code units below 32 are controls.
/// Char controls take one unit; inline and extended controls take eight.
/// Returns the text and the byte offsets in it where each extended control
/// (the ones that have a `CTRL_HEADER`) stood.
fn decode_text(data: &[u8], text: &mut String, anchors: &mut Vec<usize>) {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut run: Vec<u16> = Vec::new();
    let flush = |run: &mut Vec<u16>, text: &mut String| {
        text.extend(char::decode_utf16(run.drain(..)).map(|c| c.unwrap_or('\u{fffd}')));
    };
    let mut i = 0;
    while i < units.len() {
        let unit = units[i];
        if unit >= 32 {
            run.push(unit);
            i += 1;
            continue;
        }
        match unit {
            // Char controls: one unit.
            10 => run.push(u16::from(b'\n')),
            24 => run.push(u16::from(b'-')),
            30 | 31 => run.push(u16::from(b' ')),
            0 | 13 | 25..=29 => {}
            // Inline controls: eight units; only the tab is text.
            4..=9 | 19 | 20 => {
                if unit == 9 {
                    run.push(u16::from(b'\t'));
                }
                i += 7;
            }
            // Extended controls: eight units and a CTRL_HEADER each.
            _ => {
                flush(&mut run, text);
                anchors.push(text.len());
                i += 7;
            }
        }
        i += 1;
    }
    flush(&mut run, text);
}

/// The four-character control ids, as stored (big-endian in a u32).
const fn ctrl_id(id: &[u8; 4]) -> u32 {
    u32::from_be_bytes(*id)
}

const CTRL_TABLE: u32 = ctrl_id(b"tbl ");
const CTRL_FOOTNOTE: u32 = ctrl_id(b"fn  ");
const CTRL_ENDNOTE: u32 = ctrl_id(b"en  ");
const CTRL_HEADER: u32 = ctrl_id(b"head");
const CTRL_FOOTER: u32 = ctrl_id(b"foot");
const CTRL_SECTION: u32 = ctrl_id(b"secd");
const CTRL_RUBY: u32 = ctrl_id(b"tdut");
const CTRL_OVERLAY: u32 = ctrl_id(b"tcps");

/// Feeds one section record to the tree. A record at level L closes what is
/// open at L or deeper, so the levels rebuild the nesting: a paragraph's
/// text, layout and controls are its children, a control's lists and
/// paragraphs are its children.
fn section_record(
    tree: &mut Tree,
    shapes: &[Shape],
    record: Record<'_>,
) -> Result<(), ParseFailure> {
    let level = u32::from(record.level);
    tree.close_to(level)?;
    match record.tag {
        TAG_PARA_HEADER => {
            let shape = le_u16(record.data, 8)
                .and_then(|id| shapes.get(usize::from(id)))
                .copied()
                .unwrap_or_default();
            let breaks = record.data.get(11).copied().unwrap_or_default();
            tree.open_para(level, shape, breaks & (BREAK_PAGE | BREAK_SECTION) != 0)?;
        }
        TAG_PARA_TEXT => {
            if let Some(p) = tree.para_mut() {
                decode_text(record.data, &mut p.text, &mut p.anchors);
            }
        }
        TAG_PARA_LINE_SEG => {
            // 36 bytes a line, its flags last.
            for line in record.data.chunks_exact(36) {
                tree.line(le_u32(line, 32).unwrap_or_default());
            }
        }
        TAG_CTRL_HEADER => {
            let id = le_u32(record.data, 0).unwrap_or_default();
            let control = match id {
                CTRL_TABLE => Control::Table,
                CTRL_FOOTNOTE => Control::Footnote,
                CTRL_ENDNOTE => Control::Endnote,
                // Master pages are lists in the section definition.
                CTRL_HEADER | CTRL_FOOTER | CTRL_SECTION => Control::Repeated,
                _ => Control::Inline,
            };
            // Ruby (덧말) and overlaid characters (글자 겹침) keep their text
            // in the control, not in the paragraph.
            let own = matches!(id, CTRL_RUBY | CTRL_OVERLAY).then(|| control_text(id, record.data));
            tree.open_control(level, control, own.as_deref())?;
        }
        TAG_TABLE => tree.start_table(),
        TAG_LIST_HEADER => {
            // Paragraph count (4 bytes), properties (4), then a table cell's
            // column and row.
            tree.cell(le_u16(record.data, 10).zip(le_u16(record.data, 8)));
        }
        _ => {}
    }
    Ok(())
}

/// The text a control carries itself: after the control id, a ruby (덧말)
/// holds its base text then its annotation, read as `"base(annotation)"`;
/// overlaid characters (글자 겹침) hold the characters drawn on each other.
/// Each string is a length (u16, in UTF-16 units) and the text.
fn control_text(id: u32, data: &[u8]) -> String {
    let (first, next) = hwp_string(data, 4);
    if id != CTRL_RUBY {
        return first;
    }
    let (annotation, _) = hwp_string(data, next);
    if annotation.is_empty() || first.is_empty() {
        first
    } else {
        format!("{first}({annotation})")
    }
}

/// A length-prefixed UTF-16 string at `at`, without control characters,
/// and the offset after it (empty and `at` when it does not fit).
fn hwp_string(data: &[u8], at: usize) -> (String, usize) {
    let Some(len) = le_u16(data, at) else {
        return (String::new(), at);
    };
    let start = at + 2;
    let end = start + usize::from(len) * 2;
    let Some(bytes) = data.get(start..end) else {
        return (String::new(), at);
    };
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let text = char::decode_utf16(units)
        .map(|c| c.unwrap_or('\u{fffd}'))
        .filter(|c| !c.is_control())
        .collect();
    (text, end)
}

/// `PIDSI_TITLE` from an OLE property set (MS-OLEPS): a header, one
/// (FMTID, offset) pair per section, then in the first section a table of
/// (id, offset) and the typed values. Strings are `VT_LPWSTR` in Hangul's
/// files; `VT_LPSTR` is read as UTF-8 or CP949.
fn summary_title(data: &[u8]) -> Option<String> {
    const PID_TITLE: u32 = 2;
    const VT_LPSTR: u32 = 0x1e;
    const VT_LPWSTR: u32 = 0x1f;
    if le_u16(data, 0)? != 0xfffe || le_u32(data, 24)? == 0 {
        return None;
    }
    let section = usize::try_from(le_u32(data, 44)?).ok()?;
    let count = usize::try_from(le_u32(data, section.checked_add(4)?)?).ok()?;
    // Each entry is 8 bytes; a count past the data is a lie.
    let count = count.min(data.len() / 8);
    let offset = (0..count).find_map(|i| {
        let entry = section.checked_add(8)?.checked_add(i.checked_mul(8)?)?;
        (le_u32(data, entry)? == PID_TITLE).then(|| le_u32(data, entry + 4))?
    })?;
    let at = section.checked_add(usize::try_from(offset).ok()?)?;
    let kind = le_u32(data, at)?;
    let len = usize::try_from(le_u32(data, at.checked_add(4)?)?).ok()?;
    let start = at.checked_add(8)?;
    let title = match kind {
        VT_LPWSTR => {
            let bytes = data.get(start..start.checked_add(len.checked_mul(2)?)?)?;
            let units = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or('\u{fffd}'))
                .collect::<String>()
        }
        VT_LPSTR => {
            let bytes = data.get(start..start.checked_add(len)?)?;
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => encoding_rs::EUC_KR.decode(bytes).0.into_owned(),
            }
        }
        _ => return None,
    };
    let title = title.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!title.is_empty()).then(|| title.to_owned())
}

#[cfg(test)]
pub(super) mod fixtures {
    //! Builds HWP 5.0 files for tests, record by record, with the `cfb`
    //! writer: the shape Hangul writes, small enough to reason about.

    use std::io::{Cursor, Write};

    use cfb::{CompoundFile, Version};
    use flate2::Compression;
    use flate2::write::DeflateEncoder;

    use super::{
        FLAG_COMPRESSED, TAG_CTRL_HEADER, TAG_LIST_HEADER, TAG_PARA_HEADER, TAG_PARA_LINE_SEG,
        TAG_PARA_SHAPE, TAG_PARA_TEXT, TAG_TABLE,
    };

    pub(crate) type BuildResult<T> = Result<T, Box<dyn std::error::Error>>;

    /// One record: the header (12-bit size, or 0xfff and a u32) and `data`.
    pub(crate) fn record(tag: u16, level: u16, data: &[u8]) -> Vec<u8> {
        let size = data.len() as u32;
        let small = size.min(0xfff);
        let head = u32::from(tag) | (u32::from(level) << 10) | (small << 20);
        let mut out = head.to_le_bytes().to_vec();
        if small == 0xfff {
            out.extend_from_slice(&size.to_le_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    pub(crate) fn utf16(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    /// The eight units of an extended control character in `PARA_TEXT`.
    pub(crate) fn control_char(code: u16, id: &[u8; 4]) -> Vec<u8> {
        let id = u32::from_be_bytes(*id);
        let mut units = vec![
            code,
            (id & 0xffff) as u16,
            (id >> 16) as u16,
            0,
            0,
            0,
            0,
            code,
        ];
        units.truncate(8);
        units.into_iter().flat_map(u16::to_le_bytes).collect()
    }

    pub(crate) fn para_header(level: u16, shape: u16, breaks: u8) -> Vec<u8> {
        let mut data = vec![0; 22];
        data[8..10].copy_from_slice(&shape.to_le_bytes());
        data[11] = breaks;
        record(TAG_PARA_HEADER, level, &data)
    }

    /// `PARA_TEXT` from pieces of already-encoded units, ending the paragraph.
    pub(crate) fn para_text(level: u16, pieces: &[Vec<u8>]) -> Vec<u8> {
        let mut data = pieces.concat();
        data.extend_from_slice(&13u16.to_le_bytes());
        record(TAG_PARA_TEXT, level, &data)
    }

    /// A plain paragraph at `level` (its children one deeper).
    pub(crate) fn para(level: u16, text: &str) -> Vec<u8> {
        [
            para_header(level, 0, 0),
            para_text(level + 1, &[utf16(text)]),
        ]
        .concat()
    }

    /// A line-layout record whose lines carry `flags` (bit 0: first line of
    /// a page).
    pub(crate) fn line_seg(level: u16, flags: &[u32]) -> Vec<u8> {
        let mut data = Vec::new();
        for flag in flags {
            let mut line = vec![0; 36];
            line[32..36].copy_from_slice(&flag.to_le_bytes());
            data.extend(line);
        }
        record(TAG_PARA_LINE_SEG, level, &data)
    }

    pub(crate) fn ctrl_header(level: u16, id: &[u8; 4], rest: &[u8]) -> Vec<u8> {
        let mut data = u32::from_be_bytes(*id).to_le_bytes().to_vec();
        data.extend_from_slice(rest);
        record(TAG_CTRL_HEADER, level, &data)
    }

    /// A list header; with `cell`, the (row, column) of a table cell.
    pub(crate) fn list_header(level: u16, paragraphs: u32, cell: Option<(u16, u16)>) -> Vec<u8> {
        let mut data = paragraphs.to_le_bytes().to_vec();
        data.extend_from_slice(&0u32.to_le_bytes());
        if let Some((row, col)) = cell {
            data.extend_from_slice(&col.to_le_bytes());
            data.extend_from_slice(&row.to_le_bytes());
            data.extend_from_slice(&[1, 0, 1, 0]); // spans
            data.extend_from_slice(&[0; 8 + 8 + 2]); // size, margins, border
        }
        record(TAG_LIST_HEADER, level, &data)
    }

    /// The `CTRL_HEADER`, `TABLE` and cells of a table control at `level`
    /// (inside a paragraph one up), one paragraph of text per cell.
    pub(crate) fn table(level: u16, rows: &[&[&str]]) -> Vec<u8> {
        let mut out = ctrl_header(level, b"tbl ", &[0; 40]);
        let mut table = 0u32.to_le_bytes().to_vec();
        let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u16;
        table.extend_from_slice(&(rows.len() as u16).to_le_bytes());
        table.extend_from_slice(&cols.to_le_bytes());
        table.extend_from_slice(&[0; 10]);
        for row in rows {
            table.extend_from_slice(&(row.len() as u16).to_le_bytes());
        }
        table.extend_from_slice(&[0; 2]);
        out.extend(record(TAG_TABLE, level + 1, &table));
        for (r, row) in rows.iter().enumerate() {
            for (c, text) in row.iter().enumerate() {
                out.extend(list_header(level + 1, 1, Some((r as u16, c as u16))));
                out.extend(para(level + 1, text));
            }
        }
        out
    }

    /// A paragraph holding only a table.
    pub(crate) fn table_para(level: u16, rows: &[&[&str]]) -> Vec<u8> {
        [
            para_header(level, 0, 0),
            para_text(level + 1, &[control_char(11, b"tbl ")]),
            table(level + 1, rows),
        ]
        .concat()
    }

    /// A paragraph shape record whose properties give `kind` (0 none,
    /// 1 outline, 2 number, 3 bullet) and 0-based `level`.
    pub(crate) fn para_shape(kind: u32, level: u32) -> Vec<u8> {
        let props = (kind << 23) | (level << 25);
        let mut data = props.to_le_bytes().to_vec();
        data.extend_from_slice(&[0; 50]);
        record(TAG_PARA_SHAPE, 1, &data)
    }

    /// A `HwpSummaryInformation` property set holding only a title.
    pub(crate) fn summary(title: &str) -> Vec<u8> {
        let mut value = 0x1fu32.to_le_bytes().to_vec();
        let units: Vec<u8> = utf16(&format!("{title}\0"));
        value.extend_from_slice(&((units.len() / 2) as u32).to_le_bytes());
        value.extend(units);
        let mut section = Vec::new();
        section.extend_from_slice(&((8 + 8 + value.len()) as u32).to_le_bytes());
        section.extend_from_slice(&1u32.to_le_bytes());
        section.extend_from_slice(&2u32.to_le_bytes()); // PIDSI_TITLE
        section.extend_from_slice(&16u32.to_le_bytes());
        section.extend(value);
        let mut out = vec![0xfe, 0xff, 0, 0];
        out.extend_from_slice(&[0; 4 + 16]); // system id, clsid
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&[0; 16]); // fmtid
        out.extend_from_slice(&48u32.to_le_bytes());
        out.extend(section);
        out
    }

    /// The parts of a file; streams are compressed when `flags` says so.
    pub(crate) struct Hwp {
        pub(crate) flags: u32,
        pub(crate) version: u32,
        pub(crate) doc_info: Vec<u8>,
        pub(crate) sections: Vec<Vec<u8>>,
        /// Extra streams, stored as given: (path, bytes).
        pub(crate) raw: Vec<(String, Vec<u8>)>,
    }

    impl Hwp {
        pub(crate) fn new(sections: Vec<Vec<u8>>) -> Hwp {
            Hwp {
                flags: FLAG_COMPRESSED,
                version: 0x0501_0001,
                doc_info: para_shape(0, 0),
                sections,
                raw: Vec::new(),
            }
        }

        pub(crate) fn stream(&self, data: &[u8]) -> BuildResult<Vec<u8>> {
            if self.flags & FLAG_COMPRESSED == 0 {
                return Ok(data.to_vec());
            }
            let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(data)?;
            Ok(encoder.finish()?)
        }

        pub(crate) fn bytes(&self) -> BuildResult<Vec<u8>> {
            // Hangul writes version 3 files (512-byte sectors).
            let mut cfb = CompoundFile::create_with_version(Version::V3, Cursor::new(Vec::new()))?;
            let mut header = b"HWP Document File".to_vec();
            header.resize(32, 0);
            header.extend_from_slice(&self.version.to_le_bytes());
            header.extend_from_slice(&self.flags.to_le_bytes());
            header.resize(256, 0);
            cfb.create_stream("/FileHeader")?.write_all(&header)?;
            cfb.create_stream("/DocInfo")?
                .write_all(&self.stream(&self.doc_info)?)?;
            cfb.create_storage("/BodyText")?;
            for (i, section) in self.sections.iter().enumerate() {
                cfb.create_stream(format!("/BodyText/Section{i}"))?
                    .write_all(&self.stream(section)?)?;
            }
            for (path, data) in &self.raw {
                if let Some((storage, _)) = path.rsplit_once('/')
                    && !storage.is_empty()
                    && !cfb.is_storage(storage)
                {
                    cfb.create_storage_all(storage)?;
                }
                cfb.create_stream(path)?.write_all(data)?;
            }
            cfb.flush()?;
            Ok(cfb.into_inner().into_inner())
        }
    }

    /// A small valid document: `sentence`, then a two-row table.
    pub(crate) fn sample(sentence: &str) -> BuildResult<Vec<u8>> {
        let section = [
            para(0, sentence),
            table_para(0, &[&["진단", "목표"], &["고혈압", "130/80 mmHg"]]),
        ]
        .concat();
        Hwp::new(vec![section]).bytes()
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use flate2::{Compress, Compression, FlushCompress};

    use super::fixtures::{
        BuildResult, Hwp, control_char, ctrl_header, line_seg, list_header, para, para_header,
        para_shape, para_text, record, summary, table, utf16,
    };
    use super::*;
    use crate::parse::conformance::SENTENCE;
    use crate::parse::hancom::{ENDNOTES, FOOTNOTES, HEADERS_FOOTERS};
    use crate::parse::{Block, BlockKind};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn parse(bytes: &[u8]) -> Result<ParsedDocument, ParseFailure> {
        HwpParser.parse(bytes, &Limits::default())
    }

    fn kinds_texts(blocks: &[Block]) -> Vec<(BlockKind, &str)> {
        blocks.iter().map(|b| (b.kind, b.text.as_str())).collect()
    }

    fn pages(doc: &ParsedDocument) -> Vec<(u32, Vec<(BlockKind, &str)>)> {
        doc.pages
            .iter()
            .map(|p| (p.number, kinds_texts(&p.blocks)))
            .collect()
    }

    const P: BlockKind = BlockKind::Paragraph;
    const ROW: BlockKind = BlockKind::TableRow;
    const H1: BlockKind = BlockKind::Heading { level: 1 };

    #[test]
    fn body_tables_boxes_and_notes_in_reading_order() -> TestResult {
        let section = [
            // An outline (개요) paragraph: shape 1.
            para_header(0, 1, 0),
            para_text(1, &[utf16("고혈압 관리")]),
            // A numbered paragraph: shape 2.
            para_header(0, 2, 0),
            para_text(1, &[utf16("첫째 항목")]),
            // Text, a footnote, more text, a tab and a line break.
            para_header(0, 0, 0),
            para_text(
                1,
                &[
                    utf16("혈압 목표는"),
                    control_char(17, b"fn  "),
                    utf16(" 130/80 mmHg"),
                    control_char(9, b"\0\0\0\0"),
                    utf16("이다"),
                    10u16.to_le_bytes().to_vec(),
                    utf16("다음 줄"),
                ],
            ),
            ctrl_header(1, b"fn  ", &[0; 16]),
            list_header(2, 1, None),
            para(2, "대한고혈압학회 2022 지침"),
            // Text around a table with a nested table in one cell.
            para_header(0, 0, 0),
            para_text(
                1,
                &[utf16("표 앞"), control_char(11, b"tbl "), utf16("표 뒤")],
            ),
            ctrl_header(1, b"tbl ", &[0; 40]),
            record(TAG_TABLE, 2, &[0; 22]),
            list_header(2, 1, Some((0, 0))),
            para(2, "약물"),
            list_header(2, 1, Some((0, 1))),
            para(2, "용량"),
            list_header(2, 2, Some((1, 0))),
            para(2, "암로디핀"),
            para(2, "(Norvasc)"),
            list_header(2, 1, Some((1, 1))),
            para_header(2, 0, 0),
            para_text(3, &[control_char(11, b"tbl ")]),
            table(3, &[&["아침", "5 mg"], &["저녁", "2.5 mg"]]),
            // A text box.
            para_header(0, 0, 0),
            para_text(1, &[control_char(11, b"gso "), utf16("상자 밖")]),
            ctrl_header(1, b"gso ", &[0; 40]),
            record(0x10 + 60, 2, &[0; 8]),
            list_header(3, 1, None),
            para(3, "상자 안"),
            // A header, and an endnote.
            para_header(0, 0, 0),
            para_text(1, &[control_char(16, b"head"), control_char(17, b"en  ")]),
            ctrl_header(1, b"head", &[0; 8]),
            list_header(2, 1, None),
            para(2, "○○병원 내과"),
            ctrl_header(1, b"en  ", &[0; 8]),
            list_header(2, 1, None),
            para(2, "미주 본문"),
        ]
        .concat();
        let mut hwp = Hwp::new(vec![section]);
        hwp.doc_info = [para_shape(0, 0), para_shape(1, 0), para_shape(2, 0)].concat();
        let doc = parse(&hwp.bytes()?)?;
        assert_eq!(doc.kind, DocKind::Hwp);
        assert_eq!(
            pages(&doc),
            [(
                1,
                vec![
                    (H1, "고혈압 관리"),
                    (BlockKind::ListItem, "첫째 항목"),
                    (P, "혈압 목표는 130/80 mmHg\t이다\n다음 줄"),
                    (P, "표 앞"),
                    (ROW, "약물 | 용량"),
                    (ROW, "암로디핀 (Norvasc) | 아침 | 5 mg; 저녁 | 2.5 mg"),
                    (P, "표 뒤"),
                    (P, "상자 안"),
                    (P, "상자 밖"),
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
    fn pages_follow_breaks_sections_and_layout() -> TestResult {
        let first = [
            para(0, "첫 쪽"),
            // An explicit page break.
            para_header(0, 0, BREAK_PAGE),
            para_text(1, &[utf16("둘째 쪽")]),
            // Hangul's layout: this paragraph starts page 3 and runs onto 4.
            para_header(0, 0, 0),
            para_text(1, &[utf16("셋째 쪽")]),
            line_seg(1, &[1, 0, 1]),
            para(0, "넷째 쪽"),
            // A blank page keeps its number.
            para_header(0, 0, BREAK_PAGE),
            para_header(0, 0, BREAK_PAGE),
            para_text(1, &[utf16("여섯째 쪽")]),
            // Footnotes stay on the page of their anchor.
            para_text(1, &[control_char(17, b"fn  ")]),
            ctrl_header(1, b"fn  ", &[]),
            list_header(2, 1, None),
            para(2, "각주"),
        ]
        .concat();
        let second = para(0, "둘째 구역");
        let doc = parse(&Hwp::new(vec![first, second]).bytes()?)?;
        assert_eq!(
            pages(&doc),
            [
                (1, vec![(P, "첫 쪽")]),
                (2, vec![(P, "둘째 쪽")]),
                (3, vec![(P, "셋째 쪽")]),
                (4, vec![(P, "넷째 쪽")]),
                (6, vec![(P, "여섯째 쪽"), (H1, FOOTNOTES), (P, "각주")]),
                (7, vec![(P, "둘째 구역")]),
            ]
        );
        Ok(())
    }

    #[test]
    fn title_comes_from_the_summary() -> TestResult {
        let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
        hwp.raw.push((
            "/\u{5}HwpSummaryInformation".to_owned(),
            summary("고혈압 진료 지침"),
        ));
        assert_eq!(
            parse(&hwp.bytes()?)?.title.as_deref(),
            Some("고혈압 진료 지침")
        );
        // A damaged property set costs the title only.
        let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
        hwp.raw.push((
            "/\u{5}HwpSummaryInformation".to_owned(),
            summary("제목")[..60].to_vec(),
        ));
        let doc = parse(&hwp.bytes()?)?;
        assert_eq!(doc.title, None);
        assert_eq!(doc.pages[0].text(), SENTENCE);
        Ok(())
    }

    #[test]
    fn uncompressed_files_read_too() -> TestResult {
        let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
        hwp.flags = 0;
        assert_eq!(parse(&hwp.bytes()?)?.pages[0].text(), SENTENCE);
        Ok(())
    }

    #[test]
    fn protected_and_encrypted_files_are_refused() -> TestResult {
        for (flags, expected) in [
            (FLAG_COMPRESSED | FLAG_PASSWORD, ParseFailure::Encrypted),
            (FLAG_COMPRESSED | FLAG_DRM, ParseFailure::Encrypted),
            (FLAG_COMPRESSED | FLAG_DISTRIBUTION, ParseFailure::Protected),
        ] {
            let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
            hwp.flags = flags;
            assert_eq!(parse(&hwp.bytes()?), Err(expected));
        }
        // A distribution copy whose flag is missing: ViewText, no BodyText.
        let mut hwp = Hwp::new(Vec::new());
        hwp.raw
            .push(("/ViewText/Section0".to_owned(), vec![0x5a; 300]));
        let mut bytes = hwp.bytes()?;
        // The builder always makes BodyText; rename it out of the way.
        let body = utf16("BodyText");
        let at = find_bytes(&bytes, &body).ok_or("no BodyText entry")?;
        bytes[at..at + 2].copy_from_slice(&utf16("X"));
        assert_eq!(parse(&bytes), Err(ParseFailure::Protected));
        let shown = ParseFailure::Protected.to_string();
        assert!(shown.contains("protected (배포용), not indexed"), "{shown}");
        Ok(())
    }

    fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).position(|w| w == needle)
    }

    #[test]
    fn other_files_are_told_apart() -> TestResult {
        assert_eq!(
            parse(b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05"),
            Err(ParseFailure::Unsupported {
                what: "hwp 3 (hangul 97) file; save it as .hwp 5 or .hwpx".to_owned()
            })
        );
        assert!(matches!(
            parse(b"PK\x03\x04 not an hwp"),
            Err(ParseFailure::Malformed { .. })
        ));
        // A compound file that is not an HWP (an old .doc, say).
        let mut cfb = CompoundFile::create(Cursor::new(Vec::new()))?;
        std::io::Write::write_all(&mut cfb.create_stream("/WordDocument")?, &[0; 600])?;
        cfb.flush()?;
        let doc = cfb.into_inner().into_inner();
        assert_eq!(
            parse(&doc),
            Err(ParseFailure::Malformed {
                detail: "not an hwp 5.0 file: the compound file has no FileHeader stream"
                    .to_owned()
            })
        );
        let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
        hwp.version = 0x0400_0000;
        assert_eq!(
            parse(&hwp.bytes()?),
            Err(ParseFailure::Unsupported {
                what: "hwp 4.x file".to_owned()
            })
        );
        Ok(())
    }

    /// A raw deflate stream: a record header claiming `declared` bytes of an
    /// unused tag, then `mib` MiB of zeros, built from one compressed MiB
    /// repeated (a full flush ends each block on a byte boundary).
    fn bomb(mib: usize, declared: u32) -> BuildResult<Vec<u8>> {
        let mut compress = Compress::new(Compression::best(), false);
        let mut out = Vec::with_capacity(8192);
        let mut head = (0x50u32 | (0xfff << 20)).to_le_bytes().to_vec();
        head.extend_from_slice(&declared.to_le_bytes());
        compress.compress_vec(&head, &mut out, FlushCompress::Full)?;
        let mut block = Vec::with_capacity(8192);
        compress.compress_vec(&vec![0; 1 << 20], &mut block, FlushCompress::Full)?;
        for _ in 0..mib {
            out.extend_from_slice(&block);
        }
        // A final, empty fixed-Huffman block.
        out.extend_from_slice(&[0x03, 0x00]);
        Ok(out)
    }

    /// An uncompressed-header file whose section stream is `raw` as stored
    /// (the compression flag set, so it is inflated).
    fn with_raw_section(raw: Vec<u8>) -> BuildResult<Vec<u8>> {
        let mut hwp = Hwp::new(Vec::new());
        hwp.raw.push(("/BodyText/Section0".to_owned(), raw));
        hwp.bytes()
    }

    #[test]
    fn zlib_bomb_in_body_text_is_refused() -> TestResult {
        let started = Instant::now();
        // A gigabyte of zeros in a 1 MiB stream: the ratio cap stops it.
        let gib = bomb(1024, u32::MAX)?;
        assert!(gib.len() < 2 << 20, "bomb is {} bytes", gib.len());
        assert_eq!(
            parse(&with_raw_section(gib)?),
            Err(ParseFailure::LimitExceeded {
                limit: "hwp compression ratio",
                max: MAX_RATIO
            })
        );
        assert!(started.elapsed() < Duration::from_secs(20));
        // Within the ratio but over the document's budget.
        let limits = Limits {
            max_decompressed_bytes: 1 << 20,
            ..Limits::default()
        };
        assert_eq!(
            HwpParser.parse(&with_raw_section(bomb(4, 4 << 20)?)?, &limits),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 1 << 20
            })
        );
        Ok(())
    }

    #[test]
    fn records_past_the_end_are_malformed() -> TestResult {
        let expected = Err(truncated());
        // A record claiming 4000 bytes (extended size) holding 10.
        let mut lying = record(TAG_PARA_TEXT, 1, &[0x41; 10]);
        lying[0..4]
            .copy_from_slice(&(u32::from(TAG_PARA_TEXT) | (1 << 10) | (0xfff << 20)).to_le_bytes());
        lying.splice(4..4, 4000u32.to_le_bytes());
        for section in [
            [para(0, SENTENCE), lying].concat(),
            // Half a record header; an extended size cut short.
            [para(0, SENTENCE), vec![0x42, 0x00]].concat(),
            [para(0, SENTENCE), vec![0x43, 0x04, 0xf0, 0xff, 0x01]].concat(),
        ] {
            let mut hwp = Hwp::new(vec![section.clone()]);
            assert_eq!(parse(&hwp.bytes()?), expected);
            hwp.flags = 0;
            assert_eq!(parse(&hwp.bytes()?), expected);
        }
        // A compressed stream cut short.
        let hwp = Hwp::new(vec![para(0, &SENTENCE.repeat(50))]);
        let mut stream = hwp.stream(&hwp.sections[0])?;
        stream.truncate(stream.len() / 2);
        assert!(matches!(
            parse(&with_raw_section(stream)?),
            Err(ParseFailure::Malformed { .. })
        ));
        Ok(())
    }

    #[test]
    fn truncated_files_are_malformed() -> TestResult {
        let text = SENTENCE.repeat(300);
        let whole = Hwp::new(vec![para(0, &text)]).bytes()?;
        for cut in (1..whole.len()).step_by(97) {
            match parse(&whole[..cut]) {
                Err(ParseFailure::Malformed { .. } | ParseFailure::Empty) => {}
                // Only unused space was cut off.
                Ok(doc) if doc.pages[0].text() == text => {}
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        Ok(())
    }

    /// Where the first FAT sector of a compound file is, and its entries.
    fn fat(bytes: &[u8]) -> Option<(usize, Vec<u32>)> {
        let sector = 1usize << le_u16(bytes, 0x1e)?;
        let first_fat = usize::try_from(le_u32(bytes, 0x4c)?).ok()?;
        let at = sector * (first_fat + 1);
        let entries = (0..sector / 4)
            .map(|i| le_u32(bytes, at + 4 * i))
            .collect::<Option<_>>()?;
        Some((at, entries))
    }

    #[test]
    fn cyclic_and_overflowing_sector_chains_are_malformed() -> TestResult {
        // Big enough for regular (not mini) sectors, stored uncompressed.
        let mut hwp = Hwp::new(vec![para(0, &SENTENCE.repeat(200))]);
        hwp.flags = 0;
        let good = hwp.bytes()?;
        let (at, entries) = fat(&good).ok_or("no fat")?;
        let starts: Vec<usize> = (0..entries.len())
            .filter(|i| !entries.contains(&(*i as u32)) && entries[*i] < 0xffff_fffa)
            .collect();
        assert!(!starts.is_empty());
        let started = Instant::now();
        for (i, &entry) in entries.iter().enumerate() {
            if entry != 0xffff_fffe {
                continue;
            }
            // Each chain's end pointing to itself, to its chain's start, or
            // past the end of the file.
            for target in [i as u32, 0x00ff_ffff]
                .into_iter()
                .chain(starts.iter().map(|s| *s as u32))
            {
                let mut bad = good.clone();
                bad[at + 4 * i..at + 4 * i + 4].copy_from_slice(&target.to_le_bytes());
                // Whatever the damage reads as (a stream may now run
                // into another, or hold garbage), it is a result, not a
                // panic or a hang.
                let result = crate::parse::quietly(|| parse(&bad))
                    .map_err(|_| format!("end of chain {i} → {target} panicked"))?;
                assert_ne!(result, Err(ParseFailure::TimedOut));
            }
        }
        // A cycle through the body: the section's last sector back to its first.
        let body_start = *starts.iter().max().ok_or("no chain")?;
        let mut last = body_start;
        for _ in 0..entries.len() {
            match entries.get(last) {
                Some(&next) if next < 0xffff_fffa => last = next as usize,
                _ => break,
            }
        }
        let mut bad = good.clone();
        bad[at + 4 * last..at + 4 * last + 4].copy_from_slice(&(body_start as u32).to_le_bytes());
        assert!(matches!(parse(&bad), Err(ParseFailure::Malformed { .. })));
        assert!(started.elapsed() < Duration::from_secs(20));
        Ok(())
    }

    #[test]
    fn absurd_counts_hit_the_page_limit() -> TestResult {
        let limits = Limits {
            max_pages: 10,
            ..Limits::default()
        };
        // More sections than pages allowed.
        let many = Hwp::new(vec![para(0, "x"); 11]).bytes()?;
        assert_eq!(
            HwpParser.parse(&many, &limits),
            Err(too_many_pages(&limits))
        );
        // Page breaks beyond the limit.
        let breaks = (0..11)
            .flat_map(|_| [para_header(0, 0, BREAK_PAGE), para_text(1, &[utf16("x")])])
            .collect::<Vec<_>>()
            .concat();
        let bytes = Hwp::new(vec![breaks]).bytes()?;
        assert_eq!(
            HwpParser.parse(&bytes, &limits),
            Err(too_many_pages(&limits))
        );
        // A section count in DocInfo says nothing: only streams count.
        let mut hwp = Hwp::new(vec![para(0, SENTENCE)]);
        hwp.doc_info = record(0x10, 0, &[0xff; 26]);
        assert_eq!(parse(&hwp.bytes()?)?.pages.len(), 1);
        Ok(())
    }

    #[test]
    fn deep_nesting_is_cut_off() -> TestResult {
        let section: Vec<u8> = (0..500u16)
            .flat_map(|level| {
                [
                    para_header(level * 2, 0, 0),
                    ctrl_header(level * 2 + 1, b"gso ", &[]),
                ]
            })
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(
            parse(&Hwp::new(vec![section]).bytes()?),
            Err(malformed("paragraphs and controls nest too deeply"))
        );
        Ok(())
    }

    #[test]
    fn text_controls_are_skipped_by_their_width() {
        let data = [
            utf16("가"),
            control_char(2, b"secd"),
            utf16("나"),
            // Inline controls (a field end) and char controls.
            vec![4, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 4, 0],
            vec![24, 0, 30, 0, 0, 0],
            utf16("다"),
            // A lone surrogate, and a record cut mid-control.
            vec![0x00, 0xd8],
            vec![11, 0, 1, 0],
        ]
        .concat();
        let mut text = String::new();
        let mut anchors = Vec::new();
        decode_text(&data, &mut text, &mut anchors);
        assert_eq!(text, "가나- 다\u{fffd}");
        assert_eq!(anchors, [3, text.len()]);
    }

    // --- Real files, fetched by installer/fetch-fixtures.sh ---

    fn fixture(name: &str) -> Result<Vec<u8>, String> {
        let dir = std::env::var_os("SILLOK_FIXTURES")
            .map(PathBuf::from)
            .ok_or("SILLOK_FIXTURES is not set: run installer/fetch-fixtures.sh (it is set by installer/env.sh)")?;
        let path = dir.join("hwp").join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "fixture {} is missing ({e}): run installer/fetch-fixtures.sh",
                path.display()
            )
        })
    }

    /// Every real file, with text known to be in it (None: a drawing sample
    /// with no text at all).
    const FIXTURES: &[(&str, Option<&[&str]>)] = &[
        (
            "annual_report.hwp",
            Some(&[
                "이 문서는 나눔글꼴로 작성되었습니다.",
                "CEO 인사말",
                "사업영역별 순이익 2012년도 기준 (단위: 억원)",
                "2012 Financial Highlights",
            ]),
        ),
        (
            "work_report.hwp",
            Some(&[
                "주간업무보고서",
                "업무내용 | 완결여부 | 산출물 | 비고",
                "기타 내용을 작성합니다.",
            ]),
        ),
        ("hello_world.hwp", Some(&["Hello World!"])),
        ("range.hwp", Some(&["Hello World!"])),
        ("draw_text.hwp", Some(&["글상자1", "글상자2"])),
        ("group_with_draw_text.hwp", Some(&["테스트1", "테스트2"])),
        (
            "dutmal.hwp",
            Some(&["본문 입니다(위 덧말 입니다) 본문 입니다(아래 덧말 입니다)"]),
        ),
        ("over_type.hwp", Some(&["가나다라마바사아"])),
        ("bookmark.hwp", None),
        ("color_fill.hwp", None),
        ("gradation_fill.hwp", None),
        ("image_fill.hwp", None),
        ("outline.hwp", None),
        ("shadow.hwp", None),
    ];

    #[test]
    fn real_files_read() -> TestResult {
        for (name, expected) in FIXTURES {
            let bytes = fixture(name)?;
            let result = parse(&bytes);
            let Some(expected) = expected else {
                assert_eq!(result, Err(ParseFailure::Empty), "{name}");
                continue;
            };
            let doc = result.map_err(|e| format!("{name}: {e}"))?;
            let text: Vec<String> = doc.pages.iter().map(|p| p.text()).collect();
            let text = text.join("\n");
            for needle in *expected {
                assert!(text.contains(needle), "{name} lacks {needle:?}");
            }
            assert!(!text.contains('\0') && !text.contains('\u{fffd}'), "{name}");
        }
        Ok(())
    }

    #[test]
    fn real_file_details() -> TestResult {
        let hello = parse(&fixture("hello_world.hwp")?)?;
        assert_eq!(hello.title.as_deref(), Some("Hello World"));
        // Naver's report template: every page begins with an explicit break.
        let report = parse(&fixture("annual_report.hwp")?)?;
        assert_eq!(
            report.pages.iter().map(|p| p.number).collect::<Vec<_>>(),
            (1..=9).collect::<Vec<_>>()
        );
        assert!(report.pages[1].text().contains("Vision + Core Value"));
        let weekly = parse(&fixture("work_report.hwp")?)?;
        let rows: Vec<&str> = weekly.pages[0]
            .blocks
            .iter()
            .filter(|b| b.kind == ROW)
            .map(|b| b.text.as_str())
            .collect();
        assert!(rows.len() >= 5, "{rows:?}");
        assert!(
            rows.contains(&"업무내용 | 예정일자 | 예상 문제점 | 비고"),
            "{rows:?}"
        );
        Ok(())
    }

    #[test]
    fn hancom_distribution_copies_are_protected() -> TestResult {
        for name in [
            "한글문서파일형식_5.0_revision1.3.hwp",
            "한글문서파일형식_수식_revision1.3.hwp",
        ] {
            assert_eq!(
                parse(&fixture(name)?),
                Err(ParseFailure::Protected),
                "{name}"
            );
        }
        Ok(())
    }

    #[test]
    fn damaged_real_files_never_panic() -> TestResult {
        // Flip bytes through a real file: any outcome but a panic or a hang.
        let bytes = fixture("work_report.hwp")?;
        let started = Instant::now();
        for (i, step) in (0..bytes.len()).step_by(211).enumerate() {
            let mut bad = bytes.clone();
            let end = (step + 1 + i % 7).min(bad.len());
            for b in &mut bad[step..end] {
                *b = b.wrapping_mul(31).wrapping_add(7);
            }
            crate::parse::quietly(|| HwpParser.parse(&bad, &Limits::default()))
                .map_err(|_| format!("panicked with bytes {step}..{end} changed"))?
                .ok();
        }
        assert!(started.elapsed() < Duration::from_secs(60));
        Ok(())
    }
}
