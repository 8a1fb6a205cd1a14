//! How many bytes `lopdf` would decode a stream into, found by streaming it
//! through bounded copies of the filters `lopdf` applies (Flate, LZW,
//! ASCII85) into nothing. `lopdf` decodes every stage fully into memory with
//! no limit, so this runs before it is allowed to.
//!
//! Each stage mirrors `lopdf` 0.42 where it matters for size: Flate data is
//! read as raw deflate from byte 2 on (what `lopdf` falls back to when the
//! zlib header is bad, and the same bits the zlib path decodes otherwise);
//! decoding stops at the first unsupported filter, as `lopdf` gives up there
//! after decoding the stages before it; a PNG predictor costs two rows of
//! `/Columns` × bytes per pixel, allocated up front.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use flate2::read::DeflateDecoder;
use pdf_extract::{Dictionary, Object, Stream};

use crate::parse::{Deadline, ParseFailure};

/// One decoding stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Filter {
    Flate,
    Lzw { early_change: bool },
    Ascii85,
}

impl Filter {
    /// The most bytes one input byte can become (for data that cannot be
    /// decoded yet, e.g. still encrypted).
    pub(super) fn max_ratio(self) -> u64 {
        match self {
            // Deflate's longest match: 258 bytes from 2 bits.
            Filter::Flate => 1032,
            // One 9-bit code can stand for a string of up to ~3800 bytes.
            Filter::Lzw { .. } => 4096,
            // "z" is four zero bytes.
            Filter::Ascii85 => 4,
        }
    }
}

/// The `/DecodeParms` entries that change the decoded size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Params {
    pub(super) early_change: Option<i64>,
    pub(super) predictor: Option<i64>,
    pub(super) columns: Option<i64>,
    pub(super) colors: Option<i64>,
    pub(super) bits: Option<i64>,
}

/// The stages `lopdf` runs on a stream, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Chain {
    pub(super) filters: Vec<Filter>,
    /// Bytes per row of a PNG predictor applied after Flate and LZW (0: none).
    row_bytes: u64,
}

impl Chain {
    /// The chain for `/Filter` names and `/DecodeParms`, cut at the first
    /// filter `lopdf` does not decode.
    pub(super) fn new<'a>(names: impl IntoIterator<Item = &'a [u8]>, params: Params) -> Chain {
        let early_change = params.early_change.is_none_or(|v| v != 0);
        let filters = names
            .into_iter()
            .map_while(|name| match name {
                b"FlateDecode" => Some(Filter::Flate),
                b"LZWDecode" => Some(Filter::Lzw { early_change }),
                b"ASCII85Decode" => Some(Filter::Ascii85),
                _ => None,
            })
            .collect();
        let row_bytes = match params.predictor {
            Some(10..=15) => {
                let at_least = |v: Option<i64>, min: i64| v.unwrap_or(min).max(min).unsigned_abs();
                let pixel = at_least(params.colors, 1).saturating_mul(at_least(params.bits, 8)) / 8;
                pixel.saturating_mul(at_least(params.columns, 1))
            }
            _ => 0,
        };
        Chain { filters, row_bytes }
    }

    /// The chain of a loaded stream.
    pub(super) fn of(stream: &Stream) -> Chain {
        let params = stream
            .dict
            .get(b"DecodeParms")
            .and_then(Object::as_dict)
            .map(params_of)
            .unwrap_or_default();
        match stream.filters() {
            Ok(names) => Chain::new(names, params),
            // lopdf decodes nothing then.
            Err(_) => Chain::default(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

fn params_of(dict: &Dictionary) -> Params {
    let int = |key: &[u8]| dict.get(key).and_then(Object::as_i64).ok();
    Params {
        early_change: int(b"EarlyChange"),
        predictor: int(b"Predictor"),
        columns: int(b"Columns"),
        colors: int(b"Colors"),
        bits: int(b"BitsPerComponent"),
    }
}

/// Whether a loaded stream decodes to at most `max` bytes at every stage.
pub(super) fn within(stream: &Stream, max: u64) -> bool {
    decoded_size(stream, max).is_some()
}

/// The decoded size of a loaded stream (0 if it has no filter `lopdf`
/// decodes), or `None` past `max` bytes at any stage.
pub(super) fn decoded_size(stream: &Stream, max: u64) -> Option<u64> {
    // No deadline here: callers check theirs between streams.
    decoded_len(&stream.content, &Chain::of(stream), max, Deadline::none())
        .ok()
        .flatten()
}

/// The decoded size of `data`, or `None` if a stage (or the predictor's row
/// buffers) would go over `cap` bytes. Data a stage cannot decode ends it,
/// as it ends `lopdf`'s decoding.
///
/// # Errors
///
/// [`ParseFailure::TimedOut`] at the deadline.
pub(super) fn decoded_len(
    data: &[u8],
    chain: &Chain,
    cap: u64,
    deadline: Deadline,
) -> Result<Option<u64>, ParseFailure> {
    if chain.is_empty() {
        return Ok(Some(0));
    }
    let predicted = chain
        .filters
        .iter()
        .any(|f| matches!(f, Filter::Flate | Filter::Lzw { .. }));
    if predicted && chain.row_bytes.saturating_mul(2) > cap {
        return Ok(None);
    }
    let over = Rc::new(Cell::new(false));
    let mut reader: Box<dyn Read + '_> = Box::new(data);
    for &filter in &chain.filters {
        let stage: Box<dyn Read + '_> = match filter {
            Filter::Flate => Box::new(DeflateDecoder::new(Skip {
                inner: reader,
                left: 2,
            })),
            Filter::Lzw { early_change } => Box::new(Lzw::new(reader, early_change)),
            Filter::Ascii85 => Box::new(Ascii85::new(reader)),
        };
        reader = Box::new(Capped {
            inner: stage,
            left: cap,
            over: Rc::clone(&over),
        });
    }
    let len = drain(&mut reader, deadline)?;
    Ok((!over.get()).then_some(len))
}

/// Reads to the end or the first error, counting bytes.
fn drain(reader: &mut dyn Read, deadline: Deadline) -> Result<u64, ParseFailure> {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    for round in 0u64.. {
        if round % 64 == 63 {
            deadline.check()?;
        }
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total = total.saturating_add(n as u64),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Corrupt data: lopdf keeps what came before.
            Err(_) => break,
        }
    }
    Ok(total)
}

/// Fails the read once more than `left` bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.over.set(true);
            self.left = 0;
            return Err(io::Error::other("decoded size limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Drops the first `left` bytes (the zlib header).
struct Skip<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for Skip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.left > 0 {
            let mut skipped = [0; 2];
            let n = self.inner.read(&mut skipped[..self.left.min(2)])?;
            if n == 0 {
                return Ok(0);
            }
            self.left -= n;
        }
        self.inner.read(buf)
    }
}

/// Byte-at-a-time input over a buffered reader.
struct Bytes<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
}

impl<R: Read> Bytes<R> {
    fn new(inner: R) -> Self {
        Bytes {
            inner,
            buf: Vec::new(),
            pos: 0,
        }
    }

    fn next(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.buf.len() {
            self.buf.resize(4096, 0);
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            self.buf.truncate(n);
            self.pos = 0;
            if n == 0 {
                return Ok(None);
            }
        }
        let byte = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(byte))
    }
}

/// Output produced by one step of a decoder, handed out by `read`.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pending {
    /// Copies out pending bytes, refilling with `step` (false: no more).
    fn read(
        &mut self,
        buf: &mut [u8],
        mut step: impl FnMut(&mut Vec<u8>) -> io::Result<bool>,
    ) -> io::Result<usize> {
        while self.pos == self.bytes.len() {
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            self.bytes.clear();
            self.pos = 0;
            self.done = !step(&mut self.bytes)?;
        }
        let n = buf.len().min(self.bytes.len() - self.pos);
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Clone, Copy)]
struct Entry {
    prefix: u16,
    last: u8,
    first: u8,
    len: u16,
}

const CLEAR: u16 = 256;
const END: u16 = 257;
const MAX_CODES: usize = 4096;

/// PDF's LZW (MSB first, 9 to 12 bits, code width growing one code early
/// unless `/EarlyChange 0`), as `pdf.js` and `weezl` decode it.
struct Lzw<R> {
    input: Bytes<R>,
    early: usize,
    bits: u32,
    nbits: u32,
    width: u32,
    table: Vec<Entry>,
    prev: Option<u16>,
    out: Pending,
}

impl<R: Read> Lzw<R> {
    fn new(inner: R, early_change: bool) -> Self {
        let mut lzw = Lzw {
            input: Bytes::new(inner),
            early: usize::from(early_change),
            bits: 0,
            nbits: 0,
            width: 9,
            table: Vec::with_capacity(MAX_CODES),
            prev: None,
            out: Pending::default(),
        };
        lzw.reset();
        lzw
    }

    fn reset(&mut self) {
        self.table.clear();
        self.table.extend((0..=255u8).map(|b| Entry {
            prefix: 0,
            last: b,
            first: b,
            len: 1,
        }));
        // CLEAR and END take codes 256 and 257 but stand for no string.
        let none = Entry {
            prefix: 0,
            last: 0,
            first: 0,
            len: 0,
        };
        self.table.extend([none, none]);
        self.width = 9;
        self.prev = None;
    }

    fn code(&mut self) -> io::Result<Option<u16>> {
        while self.nbits < self.width {
            let Some(byte) = self.input.next()? else {
                return Ok(None);
            };
            self.bits = (self.bits << 8) | u32::from(byte);
            self.nbits += 8;
        }
        self.nbits -= self.width;
        let code = (self.bits >> self.nbits) & ((1 << self.width) - 1);
        self.bits &= (1 << self.nbits) - 1;
        // At most 12 bits wide.
        Ok(u16::try_from(code).ok())
    }

    /// Decodes one code into `out`; false at the end of the data.
    fn step(&mut self, out: &mut Vec<u8>) -> io::Result<bool> {
        let Some(code) = self.code()? else {
            return Ok(false);
        };
        match code {
            CLEAR => {
                self.reset();
                return Ok(true);
            }
            END => return Ok(false),
            _ => {}
        }
        let next = self.table.len();
        let index = usize::from(code);
        let added = match (self.prev, index.cmp(&next)) {
            (prev, std::cmp::Ordering::Less) => prev.map(|p| (p, self.table[index].first)),
            // The string just being defined: the previous one plus its first byte.
            (Some(p), std::cmp::Ordering::Equal) => Some((p, self.table[usize::from(p)].first)),
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad lzw code")),
        };
        if let Some((prefix, last)) = added
            && next < MAX_CODES
        {
            let base = self.table[usize::from(prefix)];
            self.table.push(Entry {
                prefix,
                last,
                first: base.first,
                len: base.len.saturating_add(1),
            });
        }
        self.emit(code, out);
        self.prev = Some(code);
        if self.table.len() + self.early >= (1 << self.width) && self.width < 12 {
            self.width += 1;
        }
        Ok(true)
    }

    fn emit(&self, code: u16, out: &mut Vec<u8>) {
        let len = usize::from(self.table[usize::from(code)].len);
        out.resize(len, 0);
        let mut current = code;
        for slot in out.iter_mut().rev() {
            let entry = self.table[usize::from(current)];
            *slot = entry.last;
            current = entry.prefix;
        }
    }
}

impl<R: Read> Read for Lzw<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut out = std::mem::take(&mut self.out);
        let result = out.read(buf, |bytes| self.step(bytes));
        self.out = out;
        result
    }
}

/// ASCII85 as `lopdf` reads it: whitespace skipped, `z` for four zeros,
/// the first other byte outside `!`..=`u` (normally `~>`) ends the data.
struct Ascii85<R> {
    input: Bytes<R>,
    out: Pending,
}

impl<R: Read> Ascii85<R> {
    fn new(inner: R) -> Self {
        Ascii85 {
            input: Bytes::new(inner),
            out: Pending::default(),
        }
    }

    fn step(input: &mut Bytes<R>, out: &mut Vec<u8>) -> io::Result<bool> {
        let mut group = 0u64;
        let mut count = 0usize;
        while count < 5 {
            let Some(c) = input.next()? else {
                break;
            };
            match c {
                b'z' if count == 0 => {
                    out.extend_from_slice(&[0; 4]);
                    return Ok(true);
                }
                c if c.is_ascii_whitespace() => {}
                b'!'..=b'u' => {
                    group = group * 85 + u64::from(c - b'!');
                    count += 1;
                }
                _ => break,
            }
        }
        if count < 5 {
            // A final partial group of n digits is n - 1 bytes.
            for _ in count..5 {
                group = group * 85 + 84;
            }
        }
        let bytes = (group as u32).to_be_bytes();
        out.extend_from_slice(&bytes[..count.saturating_sub(1).min(4)]);
        Ok(count == 5)
    }
}

impl<R: Read> Read for Ascii85<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let input = &mut self.input;
        self.out.read(buf, |bytes| Self::step(input, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn chain(filters: &[Filter]) -> Chain {
        Chain {
            filters: filters.to_vec(),
            row_bytes: 0,
        }
    }

    fn zlib(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(data)?;
        z.finish()
    }

    /// What lopdf itself decodes `data` to with one filter.
    fn lopdf_decoded(filter: &str, data: &[u8]) -> Result<Vec<u8>, pdf_extract::Error> {
        let mut dict = Dictionary::new();
        dict.set("Filter", Object::Name(filter.as_bytes().to_vec()));
        Stream::new(dict, data.to_vec()).decompressed_content()
    }

    fn len(data: &[u8], filters: &[Filter], cap: u64) -> Result<Option<u64>, ParseFailure> {
        decoded_len(data, &chain(filters), cap, Deadline::none())
    }

    /// LZW-encodes bytes the way PDF writers do (clear code first, early
    /// change), to check the decoder against. The code width follows the
    /// decoder's table, which lags the encoder's by one entry.
    fn lzw_encode(data: &[u8]) -> Vec<u8> {
        use std::collections::HashMap;
        struct Bits {
            out: Vec<u8>,
            acc: u64,
            nbits: u32,
            width: u32,
            decoder_next: u32,
            first: bool,
        }
        impl Bits {
            fn put(&mut self, code: u32) {
                self.acc = (self.acc << self.width) | u64::from(code);
                self.nbits += self.width;
                while self.nbits >= 8 {
                    self.nbits -= 8;
                    self.out.push((self.acc >> self.nbits) as u8);
                }
                self.acc &= (1 << self.nbits) - 1;
                if !(256..=257).contains(&code) {
                    if !self.first {
                        self.decoder_next += 1;
                    }
                    self.first = false;
                }
                if self.decoder_next + 1 >= (1 << self.width) && self.width < 12 {
                    self.width += 1;
                }
            }
        }
        let mut bits = Bits {
            out: Vec::new(),
            acc: 0,
            nbits: 0,
            width: 9,
            decoder_next: 258,
            first: true,
        };
        bits.put(256);
        let mut table: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut next = 258u32;
        let code_of = |s: &[u8], table: &HashMap<Vec<u8>, u32>| {
            if s.len() == 1 {
                u32::from(s[0])
            } else {
                table[s]
            }
        };
        let mut current: Vec<u8> = Vec::new();
        for &b in data {
            let mut candidate = current.clone();
            candidate.push(b);
            if candidate.len() == 1 || table.contains_key(&candidate) {
                current = candidate;
                continue;
            }
            bits.put(code_of(&current, &table));
            table.insert(candidate, next);
            next += 1;
            current = vec![b];
        }
        if !current.is_empty() {
            bits.put(code_of(&current, &table));
        }
        bits.put(257);
        if bits.nbits > 0 {
            let pad = 8 - bits.nbits;
            bits.out.push((bits.acc << pad) as u8);
        }
        bits.out
    }

    #[test]
    fn flate_is_measured_exactly_and_capped() -> TestResult {
        let data = zlib(&[7; 100_000])?;
        assert_eq!(len(&data, &[Filter::Flate], 1 << 20)?, Some(100_000));
        assert_eq!(len(&data, &[Filter::Flate], 99_999)?, None);
        // Trailing bytes after the deflate data (the rest of a file) are ignored.
        let mut with_tail = data.clone();
        with_tail.extend_from_slice(b"\nendstream\nendobj\n");
        assert_eq!(len(&with_tail, &[Filter::Flate], 1 << 20)?, Some(100_000));
        // A broken zlib header: lopdf falls back to raw deflate, and so do we.
        let mut bad_header = data;
        bad_header[0] = 0;
        assert_eq!(lopdf_decoded("FlateDecode", &bad_header)?.len(), 100_000);
        assert_eq!(len(&bad_header, &[Filter::Flate], 1 << 20)?, Some(100_000));
        Ok(())
    }

    #[test]
    fn nested_flate_counts_every_stage() -> TestResult {
        let inner = zlib(&vec![0; 4 << 20])?;
        let outer = zlib(&inner)?;
        assert_eq!(
            len(&outer, &[Filter::Flate, Filter::Flate], 8 << 20)?,
            Some(4 << 20)
        );
        assert_eq!(len(&outer, &[Filter::Flate, Filter::Flate], 1 << 20)?, None);
        Ok(())
    }

    /// ASCII85 digits for `data` (no `z` shortcut, no end marker).
    fn a85(data: &[u8]) -> String {
        let mut out = String::new();
        for group in data.chunks(4) {
            let mut padded = [0u8; 4];
            padded[..group.len()].copy_from_slice(group);
            let mut v = u32::from_be_bytes(padded);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend(digits[..group.len() + 1].iter().map(|&d| char::from(d)));
        }
        out
    }

    #[test]
    fn lzw_decodes_what_a_pdf_writer_encodes() -> TestResult {
        let repetitive = b"TOBEORNOTTOBEORTOBEORNOT#".repeat(400);
        // Enough distinct strings to widen the codes past 9 and 10 bits.
        let varied: Vec<u8> = (0..3000u32)
            .map(|i| (i * 7 % 251) as u8 ^ (i / 13) as u8)
            .collect();
        for text in [repetitive, varied] {
            let encoded = lzw_encode(&text);
            // The encoder agrees with lopdf's own decoder (weezl)...
            assert_eq!(lopdf_decoded("LZWDecode", &encoded)?, text);
            // ...and so does ours.
            let mut decoded = Vec::new();
            Lzw::new(&encoded[..], true).read_to_end(&mut decoded)?;
            assert_eq!(decoded, text);
            assert_eq!(
                len(&encoded, &[Filter::Lzw { early_change: true }], 1 << 20)?,
                Some(text.len() as u64)
            );
        }
        Ok(())
    }

    #[test]
    fn ascii85_decodes_like_lopdf() -> TestResult {
        let encoded = format!("{}z\n z{}~>", a85(b"12345678"), a85(b"abc"));
        let expected = b"12345678\0\0\0\0\0\0\0\0abc";
        assert_eq!(
            lopdf_decoded("ASCII85Decode", encoded.as_bytes())?,
            expected
        );
        let mut decoded = Vec::new();
        Ascii85::new(format!("{encoded}junk").as_bytes()).read_to_end(&mut decoded)?;
        assert_eq!(decoded, expected);
        Ok(())
    }

    #[test]
    fn ascii85_armoured_flate_is_followed() -> TestResult {
        let armoured = format!("{}~>", a85(&zlib(&[b'x'; 50_000])?));
        assert_eq!(
            len(
                armoured.as_bytes(),
                &[Filter::Ascii85, Filter::Flate],
                1 << 20
            )?,
            Some(50_000)
        );
        Ok(())
    }

    #[test]
    fn chains_stop_at_unsupported_filters_and_predictor_rows_count() {
        let params = Params {
            predictor: Some(12),
            columns: Some(1 << 40),
            ..Params::default()
        };
        let chain = Chain::new([&b"FlateDecode"[..], b"DCTDecode", b"FlateDecode"], params);
        assert_eq!(chain.filters, [Filter::Flate]);
        assert_eq!(
            decoded_len(b"", &chain, 1 << 30, Deadline::none()),
            Ok(None)
        );
        assert!(Chain::new([&b"RunLengthDecode"[..]], Params::default()).is_empty());
    }
}
