//! The package layer shared by the Office Open XML readers (docx, xlsx,
//! pptx): opening the zip under the entry limit, streaming one part through
//! `quick-xml` under the inflate budget, XML depth and no-entity guards,
//! relationship files, and the title in `docProps/core.xml`. What each
//! format's parts mean is left to its own module.
//!
//! The guards: the entry count is read from the end of the archive before
//! anything is allocated for it, every inflated byte is counted against
//! [`Limits::max_decompressed_bytes`] and a compression-ratio cap (zip
//! bombs), XML nesting is capped at [`Limits::max_xml_depth`], and DTDs are
//! ignored so no entity is ever expanded or fetched (quick-xml does not
//! resolve custom entities; we resolve only the five predefined ones and
//! character references). Part names come only from our own lookups and
//! resolved relationship targets (never above the package root); nothing is
//! ever written to disk, so a `../` entry name is just a name.

use std::io::{BufReader, Cursor, Read};

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use zip::ZipArchive;
use zip::result::ZipError;

use super::{Deadline, DocKind, Limits, OLE2_MAGIC, ParseFailure, find};

/// An entry inflating to more than this many times its compressed size (past
/// [`RATIO_FLOOR`] bytes) is treated as a bomb; real Office XML stays near 10×.
pub(super) const MAX_RATIO: u64 = 100;
const RATIO_FLOOR: u64 = 16 * 1024 * 1024;

/// An opened package.
pub(super) type Archive<'a> = ZipArchive<Cursor<&'a [u8]>>;

/// State shared by every part read from one package.
pub(super) struct Ctx<'a> {
    /// The format being read, for messages.
    pub(super) kind: DocKind,
    pub(super) deadline: Deadline,
    pub(super) limits: &'a Limits,
    /// Bytes inflated so far, all entries together.
    pub(super) inflated: u64,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(kind: DocKind, limits: &'a Limits) -> Ctx<'a> {
        Ctx {
            kind,
            deadline: Deadline::new(limits),
            limits,
            inflated: 0,
        }
    }
}

/// Why an OLE2 (compound) file named like a `kind` package is not readable:
/// Office encrypts a protected package into an OLE2 "EncryptedPackage";
/// anything else is the old binary format (`old`, e.g. "word (.doc)").
pub(super) fn ole2_failure(bytes: &[u8], kind: DocKind, old: &str) -> ParseFailure {
    let encrypted_package = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect::<Vec<u8>>();
    if find(bytes, &encrypted_package).is_some() {
        ParseFailure::Encrypted
    } else {
        ParseFailure::Malformed {
            detail: format!("this is an old binary {old} file; save it as .{kind}"),
        }
    }
}

/// Opens `bytes` as a zip package, refusing more than
/// [`Limits::max_zip_entries`] entries before reading the directory.
///
/// # Errors
///
/// [`ParseFailure::Malformed`] for a file that is not a readable zip,
/// [`ParseFailure::LimitExceeded`] for too many entries.
pub(super) fn open<'a>(
    bytes: &'a [u8],
    kind: DocKind,
    limits: &Limits,
) -> Result<Archive<'a>, ParseFailure> {
    if !bytes.starts_with(b"PK") {
        return Err(ParseFailure::Malformed {
            detail: format!("not a {kind}: the file is not a zip archive"),
        });
    }
    let entries = declared_entries(bytes).ok_or_else(|| ParseFailure::Malformed {
        detail: format!("not a {kind}: the zip directory is missing (truncated file?)"),
    })?;
    let too_many = || ParseFailure::LimitExceeded {
        limit: "max_zip_entries",
        max: u64::from(limits.max_zip_entries),
    };
    if entries > u64::from(limits.max_zip_entries) {
        return Err(too_many());
    }
    let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_failure(kind, e))?;
    if archive.len() as u64 > u64::from(limits.max_zip_entries) {
        return Err(too_many());
    }
    Ok(archive)
}

/// The entry count the archive's end-of-central-directory record declares
/// (zip64 included), read without parsing the directory itself.
pub(super) fn declared_entries(bytes: &[u8]) -> Option<u64> {
    const EOCD: &[u8] = b"PK\x05\x06";
    const EOCD64: &[u8] = b"PK\x06\x06";
    const LOCATOR64: &[u8] = b"PK\x06\x07";
    // The record is 22 bytes plus a comment of at most 65535.
    let tail_start = bytes.len().saturating_sub(22 + 65_535);
    let tail = &bytes[tail_start..];
    let at = tail.windows(4).rposition(|w| w == EOCD)? + tail_start;
    let record = bytes.get(at..at + 22)?;
    let count = u64::from(u16::from_le_bytes([record[10], record[11]]));
    if count != 0xffff {
        return Some(count);
    }
    let locator = bytes.get(at.checked_sub(20)?..at)?;
    if !locator.starts_with(LOCATOR64) {
        return Some(count);
    }
    let offset = usize::try_from(u64::from_le_bytes(locator[8..16].try_into().ok()?)).ok()?;
    let record64 = bytes.get(offset..offset.checked_add(56)?)?;
    if !record64.starts_with(EOCD64) {
        return None;
    }
    Some(u64::from_le_bytes(record64[32..40].try_into().ok()?))
}

fn zip_failure(kind: DocKind, e: ZipError) -> ParseFailure {
    match e {
        ZipError::UnsupportedArchive(what) if what.contains("assword") => ParseFailure::Encrypted,
        other => ParseFailure::Malformed {
            detail: format!("the {kind} zip archive is damaged ({other})"),
        },
    }
}

/// The entry called `name`, or failing that the one whose name differs only
/// in ASCII case (part names are case-insensitive in OPC, and some writers
/// differ from their own relationships).
fn entry_index(archive: &Archive<'_>, name: &str) -> Option<usize> {
    archive.index_for_name(name).or_else(|| {
        archive
            .file_names()
            .position(|n| n.is_ok_and(|n| n.eq_ignore_ascii_case(name)))
    })
}

/// Streams one part through `parse`, with every inflated byte counted.
/// `Ok(None)` if the part does not exist; the inner result is `parse`'s, so
/// a caller can skip a damaged optional part while a limit (outer error)
/// still stops the document.
pub(super) fn read_part<T>(
    archive: &mut Archive<'_>,
    name: &str,
    ctx: &mut Ctx<'_>,
    parse: impl FnOnce(&mut Xml<'_>, &Ctx<'_>) -> Result<T, ParseFailure>,
) -> Result<Option<Result<T, ParseFailure>>, ParseFailure> {
    let Some(index) = entry_index(archive, name) else {
        return Ok(None);
    };
    let kind = ctx.kind;
    let file = match archive.by_index(index) {
        Ok(file) => file,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(zip_failure(kind, e)),
    };
    if file.encrypted() {
        return Err(ParseFailure::Encrypted);
    }
    let budget = ctx
        .limits
        .max_decompressed_bytes
        .saturating_sub(ctx.inflated);
    // The declared size can lie, but when it admits to a bomb, stop early.
    if file.size() > budget {
        return Err(decompressed_limit(ctx.limits));
    }
    let compressed = file.compressed_size();
    let guarded = Guarded {
        inner: Box::new(file),
        read: 0,
        budget,
        ratio_cap: compressed.saturating_mul(MAX_RATIO).max(RATIO_FLOOR),
        tripped: false,
    };
    let mut xml = Reader::from_reader(BufReader::new(guarded));
    let result = parse(&mut xml, ctx);
    let guarded = xml.into_inner().into_inner();
    ctx.inflated = ctx.inflated.saturating_add(guarded.read);
    if guarded.tripped {
        return Err(if guarded.read > budget {
            decompressed_limit(ctx.limits)
        } else {
            ParseFailure::LimitExceeded {
                limit: "zip compression ratio",
                max: MAX_RATIO,
            }
        });
    }
    Ok(Some(result))
}

fn decompressed_limit(limits: &Limits) -> ParseFailure {
    ParseFailure::LimitExceeded {
        limit: "max_decompressed_bytes",
        max: limits.max_decompressed_bytes,
    }
}

/// The XML reader over one part.
pub(super) type Xml<'a> = Reader<BufReader<Guarded<'a>>>;

/// Counts inflated bytes and fails the read past the budget or ratio cap.
pub(super) struct Guarded<'a> {
    inner: Box<dyn Read + 'a>,
    read: u64,
    budget: u64,
    ratio_cap: u64,
    tripped: bool,
}

impl Read for Guarded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read = self.read.saturating_add(n as u64);
        if self.read > self.budget || self.read > self.ratio_cap {
            self.tripped = true;
            return Err(std::io::Error::other("decompression limit"));
        }
        Ok(n)
    }
}

fn xml_failure(part: &str, e: &quick_xml::Error) -> ParseFailure {
    ParseFailure::Malformed {
        detail: format!("{part} is not well-formed xml ({e})"),
    }
}

/// The next event, with nesting depth tracked and capped. DTDs (and so any
/// entity declarations) come back as `DocType` events and are ignored.
pub(super) fn next_event<'b>(
    xml: &mut Xml<'_>,
    buf: &'b mut Vec<u8>,
    depth: &mut u32,
    ctx: &Ctx<'_>,
    part: &str,
) -> Result<Event<'b>, ParseFailure> {
    let event = xml
        .read_event_into(buf)
        .map_err(|e| xml_failure(part, &e))?;
    match &event {
        Event::Start(_) => {
            *depth += 1;
            if *depth > ctx.limits.max_xml_depth {
                return Err(ParseFailure::LimitExceeded {
                    limit: "max_xml_depth",
                    max: u64::from(ctx.limits.max_xml_depth),
                });
            }
        }
        Event::End(_) => *depth = depth.saturating_sub(1),
        _ => {}
    }
    Ok(event)
}

/// Text a reference stands for: character references and the five predefined
/// entities only. Anything declared in a DTD stays unexpanded (dropped).
pub(super) fn resolve_ref(r: &BytesRef<'_>) -> Option<char> {
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

/// The value of the attribute with local name `local`, unescaped.
pub(super) fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// The relationship id of an element (`r:id`): the attribute with local
/// name `id` that has a prefix, since elements such as `p:sldId` also carry
/// an unprefixed `id` of their own.
pub(super) fn rel_id(e: &BytesStart<'_>) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == "id" && a.key.prefix().is_some())
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// The title in `docProps/core.xml` (`dc:title`), if there is one.
///
/// # Errors
///
/// A limit, or a damaged core.xml ([`ParseFailure::Malformed`]).
pub(super) fn core_title(
    archive: &mut Archive<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<Option<String>, ParseFailure> {
    Ok(read_part(archive, "docProps/core.xml", ctx, parse_title)?
        .transpose()?
        .flatten())
}

/// `dc:title` from a core properties part.
pub(super) fn parse_title(
    xml: &mut Xml<'_>,
    ctx: &Ctx<'_>,
) -> Result<Option<String>, ParseFailure> {
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut in_title = false;
    let mut title = String::new();
    loop {
        let event = next_event(xml, &mut buf, &mut depth, ctx, "core.xml")?;
        match &event {
            Event::Start(e) if e.local_name().as_ref() == "title" => in_title = true,
            Event::End(e) if e.local_name().as_ref() == "title" => in_title = false,
            Event::Text(t) if in_title => title.push_str(t),
            Event::GeneralRef(r) if in_title => title.extend(resolve_ref(r)),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let title = title.trim();
    Ok((!title.is_empty()).then(|| title.to_owned()))
}

/// One relationship of a part, its target resolved to an entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Relationship {
    /// `Id`, e.g. `"rId3"`.
    pub(super) id: String,
    /// The last segment of `Type` (`"worksheet"`, `"slide"`, …): Transitional
    /// and Strict OOXML differ only before it.
    pub(super) kind: String,
    /// The zip entry the target names.
    pub(super) target: String,
}

/// The relationships part of `part`: `xl/workbook.xml` →
/// `xl/_rels/workbook.xml.rels`; `""` (the package) → `_rels/.rels`.
pub(super) fn rels_name(part: &str) -> String {
    let (dir, file) = match part.rsplit_once('/') {
        Some((dir, file)) => (format!("{dir}/"), file),
        None => (String::new(), part),
    };
    format!("{dir}_rels/{file}.rels")
}

/// The internal relationships of `part` (`""` for the package), in the
/// order listed; external targets and targets above the package root are
/// left out. `Ok(None)` if `part` has no relationships part; a damaged one
/// is the inner error.
pub(super) fn relationships(
    archive: &mut Archive<'_>,
    part: &str,
    ctx: &mut Ctx<'_>,
) -> Result<Option<Result<Vec<Relationship>, ParseFailure>>, ParseFailure> {
    let name = rels_name(part);
    let base = part.rsplit_once('/').map_or("", |(dir, _)| dir);
    read_part(archive, &name, ctx, |xml, ctx| {
        parse_relationships(xml, ctx, &name, base)
    })
}

fn parse_relationships(
    xml: &mut Xml<'_>,
    ctx: &Ctx<'_>,
    name: &str,
    base: &str,
) -> Result<Vec<Relationship>, ParseFailure> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut depth = 0;
    let mut events = 0u64;
    loop {
        events += 1;
        if events % 4096 == 1 {
            ctx.deadline.check()?;
        }
        let event = next_event(xml, &mut buf, &mut depth, ctx, name)?;
        match &event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Relationship" => {
                let external = attr(e, "TargetMode").is_some_and(|m| m == "External");
                let id = attr(e, "Id");
                let kind = attr(e, "Type").and_then(|t| t.rsplit('/').next().map(str::to_owned));
                let target = attr(e, "Target").and_then(|t| resolve_target(base, &t));
                if let (false, Some(id), Some(kind), Some(target)) = (external, id, kind, target) {
                    out.push(Relationship { id, kind, target });
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// The zip entry name a relationship target names, relative to the
/// directory `base` of the part it belongs to (absolute when it starts with
/// `/`); `None` if it climbs above the package root or names nothing.
pub(super) fn resolve_target(base: &str, target: &str) -> Option<String> {
    // A target is a URI: drop any fragment or query.
    let target = target.split(['#', '?']).next().unwrap_or_default();
    let (mut segments, rest): (Vec<&str>, &str) = match target.strip_prefix('/') {
        Some(absolute) => (Vec::new(), absolute),
        None => (base.split('/').filter(|s| !s.is_empty()).collect(), target),
    };
    for segment in rest.split(['/', '\\']) {
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

/// Where the package's main part is (the `officeDocument` relationship of
/// `_rels/.rels`), or `default` when the package does not say.
pub(super) fn main_part(
    archive: &mut Archive<'_>,
    ctx: &mut Ctx<'_>,
    default: &str,
) -> Result<String, ParseFailure> {
    let rels = match relationships(archive, "", ctx)? {
        Some(Ok(rels)) => rels,
        Some(Err(ParseFailure::Malformed { .. })) | None => Vec::new(),
        Some(Err(other)) => return Err(other),
    };
    Ok(rels
        .into_iter()
        .find(|r| r.kind == "officeDocument")
        .map_or_else(|| default.to_owned(), |r| r.target))
}

/// Whether `bytes` is an OLE2 compound file rather than a zip.
pub(super) fn is_ole2(bytes: &[u8]) -> bool {
    bytes.starts_with(OLE2_MAGIC)
}

/// A zip holding `parts` (name, content) deflated, in the order given: the
/// package builder the xlsx and pptx tests share.
#[cfg(test)]
pub(super) fn zip_bytes(parts: &[(&str, &str)]) -> Result<Vec<u8>, zip::result::ZipError> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in parts {
        zip.start_file(*name, options)?;
        zip.write_all(content.as_bytes())?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_inside_the_package() {
        assert_eq!(
            resolve_target("xl", "worksheets/sheet1.xml").as_deref(),
            Some("xl/worksheets/sheet1.xml")
        );
        assert_eq!(
            resolve_target("ppt/slides", "../notesSlides/notesSlide1.xml").as_deref(),
            Some("ppt/notesSlides/notesSlide1.xml")
        );
        assert_eq!(
            resolve_target("xl", "/xl/sharedStrings.xml").as_deref(),
            Some("xl/sharedStrings.xml")
        );
        assert_eq!(
            resolve_target("", "ppt/presentation.xml#x").as_deref(),
            Some("ppt/presentation.xml")
        );
        assert_eq!(resolve_target("xl", "../../etc/passwd"), None);
        assert_eq!(resolve_target("", ".."), None);
        assert_eq!(resolve_target("xl", "/"), None);
    }

    #[test]
    fn rels_names() {
        assert_eq!(rels_name(""), "_rels/.rels");
        assert_eq!(rels_name("xl/workbook.xml"), "xl/_rels/workbook.xml.rels");
        assert_eq!(
            rels_name("ppt/slides/slide2.xml"),
            "ppt/slides/_rels/slide2.xml.rels"
        );
    }
}
