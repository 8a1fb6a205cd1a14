//! The decompression-bomb check that runs on a PDF's raw bytes before
//! `lopdf` loads it. `lopdf` inflates every object stream and
//! cross-reference stream while loading, each fully into memory, so a
//! small file can demand gigabytes before any per-page guard runs.
//!
//! Every `stream` keyword in the file is found by a byte search (not by
//! trusting the cross-reference table or `/Length`), its dictionary read
//! with a small lexer (each object's once), and its data decoded into
//! nothing from the stream's first byte to wherever its filters stop
//! ([`super::decode`]), which bounds what `lopdf` gets for any `/Length`.
//! All streams together must stay within [`Limits::max_decompressed_bytes`].
//! Images are left out (they can be large in honest scans, and the parser
//! empties them before extraction) unless they also claim to be object or
//! cross-reference streams.
//!
//! An encrypted file's streams are ciphertext here: its object streams are
//! bounded by the largest ratio their filters allow, and everything is
//! measured exactly once `lopdf` has decrypted it ([`check_loaded`]).

use pdf_extract::{Document, Object};

use super::decode::{Chain, Params, decoded_len};
use crate::parse::{Deadline, Limits, ParseFailure, find};

/// How far before a `stream` keyword its object header is looked for.
const DICT_WINDOW: usize = 64 * 1024;
/// Deepest nesting read inside a stream dictionary.
const MAX_DICT_DEPTH: usize = 8;

/// What the raw scan learnt about the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawScan {
    /// The file names an `/Encrypt` dictionary: measure again after load.
    pub(super) encrypted: bool,
}

fn over_limit(limits: &Limits) -> ParseFailure {
    ParseFailure::LimitExceeded {
        limit: "max_decompressed_bytes",
        max: limits.max_decompressed_bytes,
    }
}

/// Refuses the file if its streams decode to more than the limit.
///
/// # Errors
///
/// [`ParseFailure::LimitExceeded`] for `max_decompressed_bytes`, or
/// [`ParseFailure::TimedOut`].
pub(super) fn check_raw(
    bytes: &[u8],
    limits: &Limits,
    deadline: Deadline,
) -> Result<RawScan, ParseFailure> {
    let max = limits.max_decompressed_bytes;
    let encrypted = find(bytes, b"/Encrypt").is_some();
    let mut total = 0u64;
    let mut at = 0;
    let mut streams = 0u64;
    let mut objects = Objects::default();
    while let Some(found) = find(&bytes[at..], b"stream") {
        let keyword = at + found;
        at = keyword + b"stream".len();
        if bytes[..keyword].ends_with(b"end") {
            continue;
        }
        let Some(data_start) = data_start(bytes, at) else {
            continue;
        };
        streams += 1;
        if streams.is_multiple_of(64) {
            deadline.check()?;
        }
        let dict = match objects.locate(bytes, keyword) {
            Located::Dict(dict) => Some(dict),
            Located::InsideData => continue,
            // Cannot tell what it is: assume the common bomb, Flate.
            Located::Unknown => None,
        };
        let structural = dict.as_ref().is_some_and(Raw::is_structural);
        let object_stream = dict.as_ref().and_then(|d| d.name(b"Type")) == Some(b"ObjStm");
        if !structural && dict.as_ref().is_some_and(Raw::is_image) {
            continue;
        }
        let chain = dict.as_ref().map_or_else(
            || Chain::new([&b"FlateDecode"[..]], Params::default()),
            Raw::chain,
        );
        let left = max - total;
        let data = &bytes[data_start..];
        let size = if encrypted && object_stream {
            // Object streams are ciphertext until lopdf decrypts them, and it
            // inflates them then: bound them by the ratio their filters allow.
            let len = dict
                .as_ref()
                .and_then(Raw::direct_length)
                .or_else(|| find(data, b"endstream").map(|n| n as u64))
                .unwrap_or(data.len() as u64);
            let bound = chain
                .filters
                .iter()
                .fold(len, |n, f| n.saturating_mul(f.max_ratio()));
            (bound <= left).then_some(bound)
        } else {
            decoded_len(data, &chain, left, deadline)?
        };
        total += size.ok_or_else(|| over_limit(limits))?;
        if total > max {
            return Err(over_limit(limits));
        }
    }
    Ok(RawScan { encrypted })
}

/// Measures every stream of a loaded (decrypted) document exactly.
///
/// # Errors
///
/// As [`check_raw`].
pub(super) fn check_loaded(
    doc: &Document,
    limits: &Limits,
    deadline: Deadline,
) -> Result<(), ParseFailure> {
    let max = limits.max_decompressed_bytes;
    let mut total = 0u64;
    for object in doc.objects.values() {
        let Object::Stream(stream) = object else {
            continue;
        };
        if is_image(&stream.dict) {
            continue;
        }
        let chain = Chain::of(stream);
        let size = decoded_len(&stream.content, &chain, max - total, deadline)?;
        total += size.ok_or_else(|| over_limit(limits))?;
        if total > max {
            return Err(over_limit(limits));
        }
    }
    Ok(())
}

/// Whether a loaded stream is an image (which the parser empties before any
/// of it is decoded).
pub(super) fn is_image(dict: &pdf_extract::Dictionary) -> bool {
    let name = |key: &[u8]| dict.get(key).and_then(Object::as_name).ok();
    name(b"Subtype") == Some(b"Image") && !matches!(name(b"Type"), Some(b"ObjStm" | b"XRef"))
}

/// Where the data starts after the `stream` keyword ending at `at`: `lopdf`
/// takes spaces or tabs, then one end of line.
fn data_start(bytes: &[u8], mut at: usize) -> Option<usize> {
    while matches!(bytes.get(at), Some(b' ' | b'\t')) {
        at += 1;
    }
    match (bytes.get(at), bytes.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Some(at + 2),
        (Some(b'\r' | b'\n'), _) => Some(at + 1),
        _ => None,
    }
}

enum Located<'a> {
    /// The stream's dictionary.
    Dict(Raw<'a>),
    /// The keyword is inside another stream's data (or after it, outside any
    /// object): not a stream `lopdf` reads.
    InsideData,
    Unknown,
}

/// Object headers, found in one forward pass as the scan moves on, so the
/// scan stays linear in the file size.
#[derive(Default)]
struct Objects {
    scanned: usize,
    /// The end of the last `obj` keyword before `scanned`.
    last_end: Option<usize>,
    /// The object and keyword of the last stream whose dictionary was read.
    stream: Option<(usize, usize)>,
}

impl Objects {
    /// Reads the dictionary of the stream whose keyword is at `keyword`
    /// (at or after every keyword asked about before), from the nearest
    /// `obj` before it.
    fn locate<'a>(&mut self, bytes: &'a [u8], keyword: usize) -> Located<'a> {
        while let Some(found) = find(&bytes[self.scanned..keyword], b"obj") {
            let at = self.scanned + found;
            if is_obj_keyword(bytes, at) {
                self.last_end = Some(at + 3);
            }
            self.scanned = at + 1;
        }
        self.scanned = keyword;
        let Some(obj_end) = self.last_end.filter(|&end| keyword - end <= DICT_WINDOW) else {
            return Located::Unknown;
        };
        if let Some((object, at)) = self.stream
            && object == obj_end
            && at < keyword
        {
            return Located::InsideData;
        }
        let located = dict_after(bytes, obj_end, keyword);
        if matches!(located, Located::Dict(_)) {
            self.stream = Some((obj_end, keyword));
        }
        located
    }
}

/// Lexes from the end of an `obj` keyword to the `stream` keyword at
/// `keyword`.
fn dict_after(bytes: &[u8], obj_end: usize, keyword: usize) -> Located<'_> {
    let tokens: Vec<(usize, Token<'_>)> = Lexer {
        bytes: &bytes[..keyword + b"stream".len()],
        pos: obj_end,
    }
    .collect();
    let Some((dict, next)) = dict_at(&tokens, 0, 0) else {
        return Located::Unknown;
    };
    match tokens.get(next) {
        Some(&(at, Token::Word(b"stream"))) if at == keyword => Located::Dict(dict),
        Some(&(at, Token::Word(b"stream"))) if at < keyword => Located::InsideData,
        _ => Located::Unknown,
    }
}

/// Whether the `obj` at `at` is an object header's keyword (not `endobj`).
fn is_obj_keyword(bytes: &[u8], at: usize) -> bool {
    let before = at.checked_sub(1).map(|i| bytes[i]);
    let after = bytes.get(at + 3).copied();
    before.is_some_and(is_white) && after.is_none_or(|b| is_white(b) || is_delimiter(b))
}

fn is_white(b: u8) -> bool {
    matches!(b, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    DictOpen,
    DictClose,
    ArrayOpen,
    ArrayClose,
    Name(&'a [u8]),
    /// Numbers, keywords, `R`.
    Word(&'a [u8]),
    /// A literal or hex string (its content is never needed).
    Str,
}

/// PDF tokens with their start offsets; comments and whitespace skipped.
struct Lexer<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lexer<'a> {
    type Item = (usize, Token<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.pos;
            let b = *self.bytes.get(start)?;
            let next = self.bytes.get(start + 1).copied();
            self.pos += 1;
            let token = match b {
                b if is_white(b) => continue,
                b'%' => {
                    while self
                        .bytes
                        .get(self.pos)
                        .is_some_and(|&c| c != b'\r' && c != b'\n')
                    {
                        self.pos += 1;
                    }
                    continue;
                }
                b'(' => {
                    self.skip_literal();
                    Token::Str
                }
                b'<' if next == Some(b'<') => {
                    self.pos += 1;
                    Token::DictOpen
                }
                b'<' => {
                    while self.bytes.get(self.pos).is_some_and(|&c| c != b'>') {
                        self.pos += 1;
                    }
                    self.pos += 1;
                    Token::Str
                }
                b'>' if next == Some(b'>') => {
                    self.pos += 1;
                    Token::DictClose
                }
                b'[' => Token::ArrayOpen,
                b']' => Token::ArrayClose,
                b'/' => Token::Name(self.regular_run()),
                b if is_delimiter(b) => continue,
                _ => {
                    self.pos = start;
                    Token::Word(self.regular_run())
                }
            };
            return Some((start, token));
        }
    }
}

impl<'a> Lexer<'a> {
    fn regular_run(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|&c| !is_white(c) && !is_delimiter(c))
        {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    /// Past the `)` that closes a literal string whose `(` was just read.
    fn skip_literal(&mut self) {
        let mut depth = 1u32;
        while let Some(&c) = self.bytes.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

/// A dictionary value, as far as the scan needs one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Raw<'a> {
    Name(&'a [u8]),
    Int(i64),
    Array(Vec<Raw<'a>>),
    Dict(Vec<(&'a [u8], Raw<'a>)>),
    /// Strings, reals, booleans, references.
    Other,
}

impl<'a> Raw<'a> {
    fn get(&self, key: &[u8]) -> Option<&Raw<'a>> {
        match self {
            Raw::Dict(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn name(&self, key: &[u8]) -> Option<&'a [u8]> {
        match self.get(key)? {
            Raw::Name(name) => Some(*name),
            _ => None,
        }
    }

    fn int(&self, key: &[u8]) -> Option<i64> {
        match self.get(key)? {
            Raw::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// Object and cross-reference streams, which lopdf inflates at load
    /// whatever they claim to be.
    fn is_structural(&self) -> bool {
        matches!(self.name(b"Type"), Some(b"ObjStm" | b"XRef"))
    }

    fn is_image(&self) -> bool {
        self.name(b"Subtype") == Some(b"Image")
    }

    fn direct_length(&self) -> Option<u64> {
        u64::try_from(self.int(b"Length")?).ok()
    }

    /// The filter chain, read as `lopdf` reads it: a name or an array of
    /// names; anything else (a reference included) means no decoding.
    fn chain(&self) -> Chain {
        let params = match self.get(b"DecodeParms") {
            Some(parms @ Raw::Dict(_)) => Params {
                early_change: parms.int(b"EarlyChange"),
                predictor: parms.int(b"Predictor"),
                columns: parms.int(b"Columns"),
                colors: parms.int(b"Colors"),
                bits: parms.int(b"BitsPerComponent"),
            },
            _ => Params::default(),
        };
        let names: Option<Vec<&[u8]>> = match self.get(b"Filter") {
            Some(Raw::Name(name)) => Some(vec![*name]),
            Some(Raw::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Raw::Name(name) => Some(*name),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        Chain::new(names.unwrap_or_default(), params)
    }
}

/// The dictionary starting at `tokens[i]`, and the index after it.
fn dict_at<'a>(
    tokens: &[(usize, Token<'a>)],
    mut i: usize,
    depth: usize,
) -> Option<(Raw<'a>, usize)> {
    if depth > MAX_DICT_DEPTH || tokens.get(i)?.1 != Token::DictOpen {
        return None;
    }
    i += 1;
    let mut entries = Vec::new();
    loop {
        match tokens.get(i)?.1 {
            Token::DictClose => return Some((Raw::Dict(entries), i + 1)),
            Token::Name(key) => {
                let (value, next) = value_at(tokens, i + 1, depth + 1)?;
                entries.push((key, value));
                i = next;
            }
            _ => return None,
        }
    }
}

fn value_at<'a>(tokens: &[(usize, Token<'a>)], i: usize, depth: usize) -> Option<(Raw<'a>, usize)> {
    if depth > MAX_DICT_DEPTH {
        return None;
    }
    let int = |j: usize| match tokens.get(j) {
        Some((_, Token::Word(w))) => std::str::from_utf8(w).ok()?.parse::<i64>().ok(),
        _ => None,
    };
    match tokens.get(i)?.1 {
        Token::Name(name) => Some((Raw::Name(name), i + 1)),
        Token::Word(_) => match int(i) {
            Some(_)
                if int(i + 1).is_some()
                    && matches!(tokens.get(i + 2), Some((_, Token::Word(b"R")))) =>
            {
                Some((Raw::Other, i + 3))
            }
            Some(v) => Some((Raw::Int(v), i + 1)),
            None => Some((Raw::Other, i + 1)),
        },
        Token::Str => Some((Raw::Other, i + 1)),
        Token::ArrayOpen => {
            let mut items = Vec::new();
            let mut j = i + 1;
            while tokens.get(j)?.1 != Token::ArrayClose {
                let (item, next) = value_at(tokens, j, depth + 1)?;
                items.push(item);
                j = next;
            }
            Some((Raw::Array(items), j + 1))
        }
        Token::DictOpen => dict_at(tokens, i, depth),
        Token::DictClose | Token::ArrayClose => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn located(pdf: &[u8]) -> Option<Located<'_>> {
        let keyword = find(pdf, b"stream")?;
        Some(locate_dict(pdf, keyword))
    }

    fn locate_dict(pdf: &[u8], keyword: usize) -> Located<'_> {
        Objects::default().locate(pdf, keyword)
    }

    #[test]
    fn stream_dictionaries_are_read() -> TestResult {
        let pdf = b"%PDF-1.7\n4 0 obj % note (\n<< /Type /ObjStm /N 2 /Title (a >> b \\) stream) /Filter [/ASCII85Decode /FlateDecode] /DecodeParms << /Predictor 12 /Columns 4 >> /Length 7 0 R /Sub << /A [1 2 <ab>] >> >>\nstream\r\nxyz\nendstream\nendobj\n";
        // The first "stream" is inside the title string.
        let keyword = find(pdf, b"\nstream").ok_or("no keyword")? + 1;
        let Located::Dict(dict) = locate_dict(pdf, keyword) else {
            return Err("dictionary not read".into());
        };
        assert!(dict.is_structural());
        assert_eq!(dict.direct_length(), None);
        assert_eq!(
            dict.chain().filters,
            [
                super::super::decode::Filter::Ascii85,
                super::super::decode::Filter::Flate
            ]
        );
        assert_eq!(
            data_start(pdf, keyword + 6).map(|at| &pdf[at..at + 3]),
            Some(&b"xyz"[..])
        );
        Ok(())
    }

    #[test]
    fn keywords_inside_stream_data_are_not_streams() {
        let pdf = b"1 0 obj\n<< /Length 30 >>\nstream\nBT (mainstream\n) Tj ET upstream\nendstream\nendobj\n";
        let inner = find(pdf, b"mainstream").map(|at| at + 4);
        assert!(matches!(
            inner.map(|at| locate_dict(pdf, at)),
            Some(Located::InsideData)
        ));
        // No object header at all: unknown, measured as Flate.
        assert!(matches!(
            located(b"junk << /A 1 >> stream\n"),
            Some(Located::Unknown)
        ));
        // "endobj" is not an object header.
        let endobj = b"1 0 obj\n<<>>\nendobj\n";
        assert!(is_obj_keyword(endobj, 4));
        assert!(!is_obj_keyword(endobj, 16));
        // Scanning on: a later keyword of the same object is inside its data.
        let pdf = b"1 0 obj\n<< /Length 20 >>\nstream\nxx stream\nyy\nendstream\nendobj\n";
        let mut objects = Objects::default();
        let first = find(pdf, b"stream").unwrap_or_default();
        assert!(matches!(objects.locate(pdf, first), Located::Dict(_)));
        let second = find(pdf, b"xx stream").map_or(0, |at| at + 3);
        assert!(matches!(objects.locate(pdf, second), Located::InsideData));
    }

    #[test]
    fn loaded_streams_are_measured_after_decryption() -> TestResult {
        use flate2::Compression;
        use flate2::write::ZlibEncoder;
        use pdf_extract::{Dictionary, Stream};
        use std::io::Write;
        let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
        z.write_all(&vec![0; 4 << 20])?;
        let mut doc = Document::new();
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        doc.add_object(Stream::new(dict.clone(), z.finish()?));
        // Images are not counted.
        dict.set("Subtype", Object::Name(b"Image".to_vec()));
        doc.add_object(Stream::new(dict, vec![0; 10]));
        let limits = |max| Limits {
            max_decompressed_bytes: max,
            ..Limits::default()
        };
        assert_eq!(
            check_loaded(&doc, &limits(8 << 20), Deadline::none()),
            Ok(())
        );
        assert_eq!(
            check_loaded(&doc, &limits(1 << 20), Deadline::none()),
            Err(ParseFailure::LimitExceeded {
                limit: "max_decompressed_bytes",
                max: 1 << 20
            })
        );
        Ok(())
    }

    #[test]
    fn deep_or_broken_dictionaries_are_unknown() {
        let deep = format!(
            "1 0 obj\n<< /A {}1{} >>\nstream\n",
            "[".repeat(50),
            "]".repeat(50)
        );
        assert!(matches!(located(deep.as_bytes()), Some(Located::Unknown)));
        assert!(matches!(
            located(b"1 0 obj\n<< /A (unterminated >>\nstream\n"),
            Some(Located::Unknown)
        ));
    }
}
