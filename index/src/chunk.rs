//! Structure-aware chunking with page/span provenance.
//!
//! Owns cutting a [`ParsedDocument`] into [`Chunk`]s sized in tokens of one
//! fixed multilingual tokenizer (multilingual-e5-small's XLM-R SentencePiece,
//! `chunk-tokenizer.json` from `installer/fetch-models.sh`), so chunks do not
//! change when the user switches chat model. Every chunk lies on one page and
//! carries its exact character span in [`ParsedPage::text`], so a citation is
//! one page and one highlighted range. Does not own parsing (`crate::parse`),
//! search, or embeddings.
//!
//! The rules, in order of precedence:
//! - Chunks never cross pages; the heading path does.
//! - A heading starts a new chunk and opens it. Consecutive headings share one
//!   chunk, so a chapter title is not left alone above its first section.
//! - Whole blocks are packed up to `target_tokens`. A block may push a chunk up
//!   to `max_tokens` when the chunk so far is small (under half the target) or
//!   holds only headings, so short chunks are rare.
//! - Table rows are never split and nothing is repeated in front of them (CSV
//!   rows already carry their header). The one exception: a single row longer
//!   than `max_tokens` is split like any long block, since it fits no chunk.
//! - A block longer than `max_tokens` (or one that would leave a heading alone)
//!   is split at sentence ends (`.` `?` `!` before whitespace, which covers
//!   Korean `다.`, and `。` `？` `！`, and newlines), then at whitespace, and
//!   as a last resort at an extended grapheme cluster boundary — never inside a
//!   character, a Hangul syllable (precomposed or conjoining jamo) or a
//!   combining sequence. Consecutive pieces of one split block overlap by about
//!   `overlap_tokens`, starting at a sentence or whitespace boundary.
//! - Empty and whitespace-only blocks are skipped; spans never start or end
//!   on whitespace.
//!
//! Token counts are summed per block, sentence or piece instead of
//! re-tokenising the growing chunk: a short block is counted whole, a longer
//! one sentence by sentence (so it is tokenised once, kept whole or split).
//! With this tokenizer (Metaspace pre-tokenisation) a count is additive across
//! whitespace, and the `\n` between blocks is whitespace, so the sum is exact
//! except where pieces meet without whitespace (after `。`, or at a
//! last-resort cut), where it may overcount by about one token per cut. Work
//! is bounded on pathological input: no tokenizer call sees more than a few
//! thousand characters and every scan is linear, so a 10 MB single-line block
//! chunks in time roughly linear in its size.

use std::ops::Range;
use std::path::Path;

use tokenizers::Tokenizer;
use unicode_segmentation::UnicodeSegmentation;

use crate::parse::{Block, BlockKind, ParsedDocument, ParsedPage};
use crate::{Error, Result};

/// Smallest target size honoured: a piece cannot be smaller than one grapheme
/// cluster, which may count a few tokens.
const MIN_TARGET_TOKENS: usize = 16;

/// Longest heading kept in a [`Chunk::heading_path`] entry, in characters.
const MAX_HEADING_CHARS: usize = 200;

/// How far around a last-resort cut the grapheme segmenter looks, in chars.
/// Clusters longer than this (pathological input) may be cut at a char
/// boundary that still avoids splitting a Hangul syllable or a combining mark.
const GRAPHEME_CONTEXT: usize = 32;

/// Counts tokens of the fixed chunking tokenizer.
///
/// Special tokens (`<s>`, `</s>`) are not counted; padding and truncation
/// settings carried by the file are switched off, so a count is the length of
/// the text's own encoding.
pub struct TokenCounter {
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("vocab_size", &self.tokenizer.get_vocab_size(true))
            .finish()
    }
}

impl TokenCounter {
    /// Loads a Hugging Face `tokenizer.json` (normally `chunk-tokenizer.json`
    /// among the model files).
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`] when the file cannot be read or is not a
    /// tokenizer this crate understands (run `installer/fetch-models.sh`).
    pub fn from_file(path: &Path) -> Result<Self> {
        let load_error = |source: tokenizers::Error| Error::Tokenizer {
            path: path.to_path_buf(),
            reason: source.to_string(),
        };
        let mut tokenizer = Tokenizer::from_file(path).map_err(load_error)?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(load_error)?;
        Ok(Self { tokenizer })
    }

    /// The number of tokens in `text`, without special tokens.
    ///
    /// Cost grows with the text; the chunker never passes more than a few
    /// thousand characters at once.
    pub fn count(&self, text: &str) -> usize {
        match self.tokenizer.encode_fast(text, false) {
            Ok(encoding) => encoding.len(),
            Err(error) => {
                // Not expected with a loaded tokenizer. The char count is about
                // what this vocabulary gives for unseen text, and errs high.
                tracing::debug!(%error, "token count failed; using the char count");
                text.chars().count()
            }
        }
    }

    /// The ids of `text` without special tokens (for checks against Python).
    #[cfg(test)]
    fn ids(&self, text: &str) -> Result<Vec<u32>, String> {
        let encoding = self.tokenizer.encode_fast(text, false);
        Ok(encoding.map_err(|e| e.to_string())?.get_ids().to_vec())
    }

    fn count_chars(&self, chars: &[char]) -> usize {
        let text: String = chars.iter().collect();
        self.count(&text)
    }
}

/// Chunk sizes, in tokens of the [`TokenCounter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Size that whole blocks are packed up to.
    pub target_tokens: usize,
    /// Hard limit: no chunk counts more (see the module docs on counting).
    pub max_tokens: usize,
    /// How much consecutive pieces of one split block share.
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        Self {
            target_tokens: 256,
            max_tokens: 384,
            overlap_tokens: 48,
        }
    }
}

/// A cheap guess at a chunk's language, from its letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// Mostly Hangul.
    Ko,
    /// Mostly Latin letters (assumed English).
    En,
    /// Substantial Hangul and Latin text.
    Mixed,
    /// No letters, or mostly another script.
    Other,
}

impl Language {
    /// Short code stored with each chunk: `ko`, `en`, `mixed`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Ko => "ko",
            Language::En => "en",
            Language::Mixed => "mixed",
            Language::Other => "other",
        }
    }
}

/// Guesses the language of `text` from the ratio of Hangul to Latin letters.
///
/// A Hangul syllable weighs as much as three Latin letters (a syllable holds
/// two or three jamo, and a Korean word has about as many syllables as an
/// English word has letters divided by three), so a Korean sentence with an
/// English term in it stays [`Language::Ko`]. Above 70 % weighted Hangul it is
/// Korean, below 30 % English, between them mixed; text whose letters are
/// mostly of other scripts (or that has none) is [`Language::Other`].
pub fn guess_language(text: &str) -> Language {
    let (mut hangul, mut latin, mut other) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        if is_hangul(c) {
            hangul += 1;
        } else if is_latin_letter(c) {
            latin += 1;
        } else if c.is_alphabetic() {
            other += 1;
        }
    }
    if hangul + latin == 0 || other > hangul + latin {
        return Language::Other;
    }
    let weighted = hangul * 3;
    let share = weighted * 100 / (weighted + latin);
    if share >= 70 {
        Language::Ko
    } else if share <= 30 {
        Language::En
    } else {
        Language::Mixed
    }
}

fn is_hangul(c: char) -> bool {
    matches!(c,
        '\u{AC00}'..='\u{D7A3}'   // syllables
        | '\u{1100}'..='\u{11FF}' // conjoining jamo
        | '\u{3130}'..='\u{318F}' // compatibility jamo
        | '\u{A960}'..='\u{A97F}' // jamo extended-A
        | '\u{D7B0}'..='\u{D7FF}' // jamo extended-B
    )
}

fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}') && c.is_alphabetic())
}

/// A piece of a document to retrieve and cite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The 1-based page it lies on; chunks never cross pages.
    pub page: u32,
    /// Unicode scalar (char) offsets into [`ParsedPage::text`] of that page.
    pub span: Range<usize>,
    /// Exactly `page_text.chars().skip(span.start).take(span.len())`.
    pub text: String,
    /// The enclosing headings, outermost first, carried across pages.
    pub heading_path: Vec<String>,
    /// Tokens in `text`, summed per block or piece (see the module docs).
    pub token_count: usize,
    /// A guess from the Hangul vs Latin letter ratio.
    pub language: Language,
}

/// Cuts `doc` into chunks, page by page, in document order.
pub fn chunk_document(
    doc: &ParsedDocument,
    counter: &TokenCounter,
    config: &ChunkConfig,
) -> Vec<Chunk> {
    let limits = Limits::new(config);
    let mut headings = Vec::new();
    let mut chunks = Vec::new();
    for page in &doc.pages {
        let text = page.text();
        let chars: Vec<char> = text.chars().collect();
        let mut packer = Packer {
            page: page.number,
            chars: &chars,
            counter,
            limits,
            headings: &mut headings,
            out: &mut chunks,
            cur: Current::default(),
        };
        for (index, (block, span)) in page
            .blocks
            .iter()
            .zip(block_spans(page, &text, &chars))
            .enumerate()
        {
            let Some(span) = span else {
                tracing::debug!(
                    page = page.number,
                    block = index,
                    "block not found in page text; skipped"
                );
                continue;
            };
            let span = trim(&chars, span);
            if !span.is_empty() {
                packer.add_block(index, block, span);
            }
        }
        packer.flush();
    }
    chunks
}

/// Sizes derived from a [`ChunkConfig`], made consistent.
#[derive(Debug, Clone, Copy)]
struct Limits {
    target: usize,
    max: usize,
    overlap: usize,
    /// Largest piece of a split block, so that packing fills chunks to at
    /// least half the target.
    piece: usize,
    /// Longest run of chars handed to the tokenizer when splitting.
    piece_chars: usize,
}

impl Limits {
    fn new(config: &ChunkConfig) -> Self {
        let target = config.target_tokens.max(MIN_TARGET_TOKENS);
        let max = config.max_tokens.max(target);
        let piece = (target / 2).max(1);
        Self {
            target,
            max,
            overlap: config.overlap_tokens.min(target / 2),
            piece,
            piece_chars: piece.saturating_mul(4).clamp(64, 4096),
        }
    }
}

/// Char spans of the blocks in the page text.
///
/// By contract the page text is the blocks joined with `\n`; each block is
/// checked at its expected offset, and if that does not hold it is searched
/// for after the previous one, so a differently joined text still gets exact
/// spans (`None`: the block is not in the text).
fn block_spans(page: &ParsedPage, text: &str, chars: &[char]) -> Vec<Option<Range<usize>>> {
    let mut spans = Vec::with_capacity(page.blocks.len());
    let (mut at, mut at_byte) = (0usize, 0usize);
    for block in &page.blocks {
        let len = block.text.chars().count();
        let expected = chars
            .get(at..at + len)
            .is_some_and(|here| here.iter().copied().eq(block.text.chars()));
        if expected {
            spans.push(Some(at..at + len));
            at += len;
            at_byte += block.text.len();
            if chars.get(at) == Some(&'\n') {
                at += 1;
                at_byte += 1;
            }
            continue;
        }
        let needle = block.text.trim();
        let found = text
            .get(at_byte..)
            .and_then(|rest| rest.find(needle).map(|i| (i, rest)));
        match found {
            _ if needle.is_empty() => spans.push(Some(at..at)),
            Some((i, rest)) => {
                let start = at + rest.get(..i).map_or(0, |s| s.chars().count());
                let len = needle.chars().count();
                spans.push(Some(start..start + len));
                at = start + len;
                at_byte += i + needle.len();
            }
            None => spans.push(None),
        }
    }
    spans
}

/// `range` without leading and trailing whitespace.
fn trim(chars: &[char], range: Range<usize>) -> Range<usize> {
    let (mut start, mut end) = (range.start, range.end.min(chars.len()));
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    start..end
}

/// A counted, trimmed, non-empty char range of the page.
#[derive(Debug, Clone)]
struct Piece {
    range: Range<usize>,
    tokens: usize,
}

/// The chunk being filled.
#[derive(Debug, Default)]
struct Current {
    span: Option<Range<usize>>,
    tokens: usize,
    /// True while everything in the chunk is a heading.
    only_headings: bool,
    /// Level of the last heading added.
    heading_level: Option<u8>,
    /// The split block whose pieces end the chunk, and those pieces (the
    /// material for the next chunk's overlap).
    split_block: Option<usize>,
    split_pieces: Vec<Piece>,
}

struct Packer<'a> {
    page: u32,
    chars: &'a [char],
    counter: &'a TokenCounter,
    limits: Limits,
    /// (level, text) of the enclosing headings, outermost first.
    headings: &'a mut Vec<(u8, String)>,
    out: &'a mut Vec<Chunk>,
    cur: Current,
}

impl Packer<'_> {
    fn add_block(&mut self, index: usize, block: &Block, span: Range<usize>) {
        let heading = match block.kind {
            BlockKind::Heading { level } => {
                // A subheading joins a chunk holding only its parent headings;
                // anything else is flushed first, under the old heading path.
                let nested =
                    self.cur.only_headings && self.cur.heading_level.is_some_and(|l| level > l);
                if self.cur.span.is_some() && !nested {
                    self.flush();
                }
                self.enter_heading(level, &span);
                self.cur.heading_level = Some(level);
                true
            }
            _ => false,
        };
        // A block that may be long is counted by its pieces, so it is
        // tokenised once whether it is then kept whole or split, and no
        // tokenizer call sees more than `piece_chars`.
        let (tokens, pieces) = if span.len() <= self.limits.max.min(self.limits.piece_chars) {
            (self.counter.count_chars(&self.chars[span.clone()]), None)
        } else {
            let pieces = split_block(self.chars, span.clone(), self.counter, &self.limits);
            (pieces.iter().map(|p| p.tokens).sum(), Some(pieces))
        };
        let split = |this: &Self, pieces: Option<Vec<Piece>>, span: Range<usize>| {
            pieces.unwrap_or_else(|| split_block(this.chars, span, this.counter, &this.limits))
        };
        if tokens > self.limits.max {
            let pieces = split(self, pieces, span);
            return self.add_split(index, pieces, heading);
        }
        let piece = Piece {
            range: span,
            tokens,
        };
        if self.cur.span.is_some() {
            let sum = self.cur.tokens + tokens;
            let room = sum <= self.limits.target
                || (sum <= self.limits.max
                    && (self.cur.only_headings || self.cur.tokens < self.limits.target / 2));
            if !room {
                if self.cur.only_headings && !heading && block.kind != BlockKind::TableRow {
                    // Split it rather than leave the heading alone.
                    let pieces = split(self, pieces, piece.range);
                    return self.add_split(index, pieces, heading);
                }
                self.flush();
            }
        }
        self.push(piece, heading);
        self.cur.split_block = None;
        self.cur.split_pieces.clear();
    }

    fn enter_heading(&mut self, level: u8, span: &Range<usize>) {
        while self.headings.last().is_some_and(|(l, _)| *l >= level) {
            self.headings.pop();
        }
        let mut text = String::new();
        for word in self.chars[span.clone()]
            .split(|c| c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            if !text.is_empty() {
                text.push(' ');
            }
            text.extend(word);
        }
        let text = text.chars().take(MAX_HEADING_CHARS).collect();
        self.headings.push((level, text));
    }

    /// Splits a long block into pieces and packs them, overlapping
    /// consecutive chunks of the block.
    fn add_split(&mut self, index: usize, pieces: Vec<Piece>, heading: bool) {
        for piece in pieces {
            if self.cur.span.is_some() && self.cur.tokens + piece.tokens > self.limits.target {
                let overlap = if self.cur.split_block == Some(index) {
                    let budget = self
                        .limits
                        .overlap
                        .min(self.limits.max.saturating_sub(piece.tokens));
                    self.overlap(budget)
                } else {
                    None
                };
                self.flush();
                if let Some(overlap) = overlap {
                    self.cur.span = Some(overlap.range);
                    self.cur.tokens = overlap.tokens;
                    self.cur.only_headings = heading;
                }
            }
            if self.cur.split_block != Some(index) {
                self.cur.split_block = Some(index);
                self.cur.split_pieces.clear();
            }
            self.cur.split_pieces.push(piece.clone());
            self.push(piece, heading);
        }
    }

    fn push(&mut self, piece: Piece, heading: bool) {
        match &mut self.cur.span {
            Some(span) => {
                span.end = piece.range.end;
                self.cur.only_headings &= heading;
            }
            None => {
                self.cur.span = Some(piece.range.clone());
                self.cur.only_headings = heading;
            }
        }
        self.cur.tokens += piece.tokens;
    }

    /// The tail of the current chunk's split pieces worth at most `budget`
    /// tokens: whole pieces (sentences) from the end, then, if that gave less
    /// than half the budget, the end of the piece before them from a
    /// whitespace (or grapheme) boundary.
    fn overlap(&self, budget: usize) -> Option<Piece> {
        let pieces = &self.cur.split_pieces;
        let (mut tokens, mut taken) = (0, 0);
        for piece in pieces.iter().rev() {
            if tokens + piece.tokens > budget {
                break;
            }
            tokens += piece.tokens;
            taken += 1;
        }
        let end = pieces.last()?.range.end;
        let mut start = (taken > 0).then(|| pieces[pieces.len() - taken].range.start);
        let left = budget - tokens;
        if taken < pieces.len() && left * 2 >= budget.max(1) {
            let before = &pieces[pieces.len() - taken - 1];
            if let Some(tail) = self.tail(before, left) {
                start = Some(tail.range.start);
                tokens += tail.tokens;
            }
        }
        start.map(|start| Piece {
            range: start..end,
            tokens,
        })
    }

    /// The end of `piece` worth at most `budget` tokens, starting after
    /// whitespace where possible, else at a grapheme boundary.
    fn tail(&self, piece: &Piece, budget: usize) -> Option<Piece> {
        let range = piece.range.clone();
        let mut want = range.len().saturating_mul(budget) / piece.tokens.max(1);
        for _ in 0..4 {
            if want == 0 || want >= range.len() {
                return None;
            }
            let ideal = range.end - want;
            // Prefer the first whitespace after `ideal` if it keeps half the tail.
            let start = (ideal..range.end - want / 2)
                .find(|&i| self.chars[i - 1].is_whitespace())
                .or_else(|| grapheme_cut(self.chars, range.clone(), ideal))?;
            let tail = trim(self.chars, start..range.end);
            if tail.is_empty() || tail.start <= range.start {
                return None;
            }
            let tokens = self.counter.count_chars(&self.chars[tail.clone()]);
            if tokens <= budget {
                return Some(Piece {
                    range: tail,
                    tokens,
                });
            }
            want = want.saturating_mul(budget) / tokens.max(1) * 9 / 10;
        }
        None
    }

    fn flush(&mut self) {
        let cur = std::mem::take(&mut self.cur);
        let Some(span) = cur.span else { return };
        let text: String = self.chars[span.clone()].iter().collect();
        self.out.push(Chunk {
            page: self.page,
            heading_path: self.headings.iter().map(|(_, t)| t.clone()).collect(),
            token_count: cur.tokens,
            language: guess_language(&text),
            span,
            text,
        });
    }
}

/// Splits a trimmed block into trimmed pieces of at most `limits.piece`
/// tokens (except a single grapheme cluster, which cannot be split): at
/// sentence ends, then whitespace, then grapheme boundaries.
fn split_block(
    chars: &[char],
    span: Range<usize>,
    counter: &TokenCounter,
    limits: &Limits,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for sentence in sentences(chars, span) {
        for window in cap_length(chars, sentence, limits.piece_chars) {
            let tokens = counter.count_chars(&chars[window.clone()]);
            split_to_fit(chars, window, tokens, counter, limits.piece, 0, &mut pieces);
        }
    }
    pieces
}

/// Pushes `range` (counted: `tokens`) as one piece if it fits `limit`, else
/// cuts it into about evenly sized parts and recurses on them.
fn split_to_fit(
    chars: &[char],
    range: Range<usize>,
    tokens: usize,
    counter: &TokenCounter,
    limit: usize,
    depth: u32,
    out: &mut Vec<Piece>,
) {
    // Depth is bounded: each level divides the length; 16 levels is plenty
    // for the few thousand chars a window holds.
    if tokens <= limit || depth >= 16 {
        out.push(Piece { range, tokens });
        return;
    }
    let parts = tokens.div_ceil(limit);
    let mut start = range.start;
    for k in 1..=parts {
        let end = if k == parts {
            range.end
        } else {
            let ideal = range.start + range.len() * k / parts;
            if ideal <= start {
                continue;
            }
            match soft_cut(chars, start..range.end, ideal) {
                Some(cut) => cut,
                // A cluster longer than the segmenter's window: cut anyway, or
                // the piece could exceed any limit.
                None if range.len() > 2 * GRAPHEME_CONTEXT => ideal,
                None => continue,
            }
        };
        let part = trim(chars, start..end);
        start = end;
        if part.is_empty() {
            continue;
        }
        if part.len() == range.len() {
            // Could not cut (one grapheme cluster): keep it whole.
            out.push(Piece { range, tokens });
            return;
        }
        let part_tokens = counter.count_chars(&chars[part.clone()]);
        split_to_fit(chars, part, part_tokens, counter, limit, depth + 1, out);
    }
}

/// Trimmed, non-empty sentences of `span`: cut after `.`, `?`, `!` followed by
/// whitespace (closing quotes and brackets may come between), after `。`,
/// `？`, `！`, and at line breaks.
fn sentences(chars: &[char], span: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = span.start;
    let mut i = span.start;
    while i < span.end {
        let c = chars[i];
        let mut cut = None;
        if c == '\n' || c == '\r' {
            cut = Some(i);
        } else if matches!(c, '.' | '?' | '!' | '。' | '？' | '！') {
            let mut j = i + 1;
            while j < span.end && is_closing(chars[j]) {
                j += 1;
            }
            let full_width = matches!(c, '。' | '？' | '！');
            if full_width || j == span.end || chars[j].is_whitespace() {
                cut = Some(j);
                i = j.saturating_sub(1);
            }
        }
        if let Some(end) = cut {
            let sentence = trim(chars, start..end);
            if !sentence.is_empty() {
                out.push(sentence);
            }
            start = end;
        }
        i += 1;
    }
    let last = trim(chars, start..span.end);
    if !last.is_empty() {
        out.push(last);
    }
    out
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '}' | '”' | '’' | '」' | '』' | '》' | '〉' | '）'
    )
}

/// Cuts `range` into trimmed pieces of at most `max_chars` chars, at
/// whitespace where there is some in the second half of the window, else at a
/// grapheme boundary. Linear in the length of `range`.
fn cap_length(chars: &[char], range: Range<usize>, max_chars: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = range.start;
    while range.end - start > max_chars {
        // max_chars is at least twice the segmenter's window, so `None` means
        // a cluster longer than that (pathological): cut it at the limit.
        let end = soft_cut(chars, start..range.end, start + max_chars).unwrap_or(start + max_chars);
        let piece = trim(chars, start..end);
        if !piece.is_empty() {
            out.push(piece);
        }
        start = end;
    }
    let piece = trim(chars, start..range.end);
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// A cut position strictly inside `range`, at or before `ideal`: just after
/// whitespace in the second half of `range.start..ideal`, else a grapheme
/// boundary near `ideal`; `None` when there is none. Scans at most half that
/// distance plus the segmenter's window.
fn soft_cut(chars: &[char], range: Range<usize>, ideal: usize) -> Option<usize> {
    if range.len() < 2 {
        return None;
    }
    let ideal = ideal.clamp(range.start + 1, range.end - 1);
    let floor = range.start + (ideal - range.start) / 2;
    (floor.max(range.start + 1)..=ideal)
        .rev()
        .find(|&i| chars[i - 1].is_whitespace() || chars[i].is_whitespace())
        .or_else(|| grapheme_cut(chars, range, ideal))
}

/// The extended grapheme cluster boundary in `range` nearest to `ideal`
/// (preferring earlier ones), strictly inside `range`.
///
/// Segmentation runs on a window of chars around `ideal`. The rules that need
/// more context than one char (emoji ZWJ sequences, flag pairs, Indic
/// conjuncts) can be fooled near the window's left edge, so boundaries there
/// are not used, and every candidate must also pass [`safe_cut`]. For
/// clusters longer than the window (pathological input) it falls back to the
/// nearest [`safe_cut`] char boundary; `None` when there is none.
fn grapheme_cut(chars: &[char], range: Range<usize>, ideal: usize) -> Option<usize> {
    let lo = ideal.saturating_sub(GRAPHEME_CONTEXT).max(range.start);
    let hi = (ideal + GRAPHEME_CONTEXT).min(range.end);
    let trusted_from = if lo == range.start {
        lo + 1
    } else {
        lo + GRAPHEME_CONTEXT / 4
    };
    let window: String = chars[lo..hi].iter().collect();
    let mut best: Option<usize> = None;
    let mut at = lo;
    for cluster in window.graphemes(true) {
        if at >= trusted_from && at > range.start && at < range.end && safe_cut(chars, at) {
            let better = match best {
                None => true,
                Some(b) => {
                    let (d, db) = (at.abs_diff(ideal), b.abs_diff(ideal));
                    d < db || (d == db && at < b)
                }
            };
            if better {
                best = Some(at);
            }
        }
        at += cluster.chars().count();
    }
    best.or_else(|| {
        (lo.max(range.start + 1)..hi.min(range.end))
            .filter(|&i| safe_cut(chars, i))
            .min_by_key(|&i| (i.abs_diff(ideal), i))
    })
}

/// Whether a cut before `chars[i]` (0 < i < len) splits no cluster that one
/// char of context can see: not before a mark, vowel/final jamo or joiner, not
/// after a joiner or a leading jamo, not inside CR LF or a run of regional
/// indicators (flags).
fn safe_cut(chars: &[char], i: usize) -> bool {
    let (before, after) = (chars[i - 1], chars[i]);
    let regional = |c: char| ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
    let leading_jamo = |c: char| matches!(c, '\u{1100}'..='\u{115F}' | '\u{A960}'..='\u{A97F}');
    let inside = joins_previous(after)
        || before == '\u{200D}'
        || (leading_jamo(before) && is_hangul(after))
        || (regional(before) && regional(after))
        || (before == '\r' && after == '\n');
    !inside
}

/// Chars that must not begin a piece: Hangul medial vowel and final consonant
/// jamo (they belong to the syllable before), combining marks, joiners and
/// variation selectors.
fn joins_previous(c: char) -> bool {
    matches!(c,
        '\u{1160}'..='\u{11FF}'     // jungseong, jongseong
        | '\u{D7B0}'..='\u{D7FF}'   // jamo extended-B (vowels, finals)
        | '\u{0300}'..='\u{036F}'   // combining diacritical marks
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{200C}' | '\u{200D}'   // joiners
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors
        | '\u{E0100}'..='\u{E01EF}'
        | '\u{302E}' | '\u{302F}'   // Hangul tone marks
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::OnceLock;
    use std::time::Instant;

    use super::*;
    use crate::parse::DocKind;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The real chunking tokenizer, loaded once per test binary.
    fn counter() -> Result<&'static TokenCounter, String> {
        static COUNTER: OnceLock<Result<TokenCounter, String>> = OnceLock::new();
        COUNTER
            .get_or_init(|| {
                let dir = std::env::var_os("SILLOK_MODEL_FILES")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME")
                            .map(|h| PathBuf::from(h).join(".cache/sillok/model-files"))
                    })
                    .unwrap_or_default();
                let path = dir.join("chunk-tokenizer.json");
                TokenCounter::from_file(&path).map_err(|e| {
                    format!(
                        "{} is missing or unreadable ({e}): run installer/fetch-models.sh",
                        path.display()
                    )
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn block(kind: BlockKind, text: &str) -> Block {
        Block {
            kind,
            text: text.to_owned(),
        }
    }
    fn h(level: u8, text: &str) -> Block {
        block(BlockKind::Heading { level }, text)
    }
    fn p(text: &str) -> Block {
        block(BlockKind::Paragraph, text)
    }
    fn page(number: u32, blocks: Vec<Block>) -> ParsedPage {
        ParsedPage::new(number, blocks)
    }
    fn doc(pages: Vec<ParsedPage>) -> ParsedDocument {
        ParsedDocument {
            kind: DocKind::Text,
            title: None,
            pages,
        }
    }

    /// The contract every chunking must keep; returns a description of the
    /// first violation.
    fn check(doc: &ParsedDocument, chunks: &[Chunk], config: &ChunkConfig) -> Result<(), String> {
        let counter = counter()?;
        let limits = Limits::new(config);
        let mut last_page_index = 0;
        for c in chunks {
            let index = doc
                .pages
                .iter()
                .position(|p| p.number == c.page)
                .ok_or(format!("chunk on unknown page {}", c.page))?;
            if index < last_page_index {
                return Err(format!("chunks out of page order at page {}", c.page));
            }
            last_page_index = index;
        }
        for page in &doc.pages {
            let chars: Vec<char> = page.text().chars().collect();
            let mut covered_to = 0usize;
            let mut last_start: Option<usize> = None;
            for c in chunks.iter().filter(|c| c.page == page.number) {
                let ctx = format!("page {} span {:?}", page.number, c.span);
                if c.span.is_empty() || c.span.end > chars.len() {
                    return Err(format!("{ctx}: empty or out of range"));
                }
                let slice: String = chars[c.span.clone()].iter().collect();
                if slice != c.text {
                    return Err(format!("{ctx}: text differs from the page text"));
                }
                if c.text.starts_with(char::is_whitespace) || c.text.ends_with(char::is_whitespace)
                {
                    return Err(format!("{ctx}: starts or ends with whitespace"));
                }
                if last_start.is_some_and(|s| c.span.start <= s) {
                    return Err(format!("{ctx}: does not start after the previous chunk"));
                }
                if c.span.start > covered_to
                    && chars[covered_to..c.span.start]
                        .iter()
                        .any(|ch| !ch.is_whitespace())
                {
                    return Err(format!("{ctx}: text before it is in no chunk"));
                }
                if c.span.end <= covered_to {
                    return Err(format!("{ctx}: adds nothing"));
                }
                covered_to = c.span.end;
                last_start = Some(c.span.start);
                if c.token_count > limits.max {
                    return Err(format!("{ctx}: {} tokens > max", c.token_count));
                }
                let real = counter.count(&c.text);
                if real > limits.max.saturating_add(limits.max / 10 + 2) {
                    return Err(format!(
                        "{ctx}: really {real} tokens (counted {})",
                        c.token_count
                    ));
                }
                if c.language != guess_language(&c.text) {
                    return Err(format!("{ctx}: language"));
                }
                if c.text.starts_with(joins_previous) {
                    let before: String = chars[c.span.start.saturating_sub(10)..c.span.start]
                        .iter()
                        .collect();
                    let head: String = c.text.chars().take(10).collect();
                    return Err(format!(
                        "{ctx}: starts inside a cluster {before:?} | {head:?}"
                    ));
                }
                if chars.get(c.span.end).copied().is_some_and(joins_previous) {
                    return Err(format!("{ctx}: ends inside a cluster"));
                }
            }
            if chars[covered_to.min(chars.len())..]
                .iter()
                .any(|ch| !ch.is_whitespace())
            {
                return Err(format!("page {}: text after the last chunk", page.number));
            }
        }
        Ok(())
    }

    fn overlapping_pairs(chunks: &[Chunk]) -> usize {
        chunks
            .windows(2)
            .filter(|w| w[0].page == w[1].page && w[1].span.start < w[0].span.end)
            .count()
    }

    #[test]
    fn counts_match_python_tokenizers() -> TestResult {
        let counter = counter()?;
        let ko = "고혈압 환자의 혈압 목표는 130/80 mmHg 미만이다.";
        let en = "The target blood pressure for hypertensive patients is below 130/80 mmHg.";
        // Ids from Python `tokenizers` 0.23.3 on the same file.
        assert_eq!(
            counter.ids(ko)?,
            [
                6086, 60645, 58124, 108948, 367, 6, 60645, 58124, 97996, 769, 11777, 64, 4836,
                2866, 841, 177, 9450, 3184, 5769, 5
            ]
        );
        assert_eq!(
            counter.ids(en)?,
            [
                581, 30388, 59714, 81147, 100, 59058, 41745, 272, 60264, 83, 35064, 11777, 64,
                4836, 2866, 841, 177, 5
            ]
        );
        assert_eq!(counter.count(ko), 20);
        assert_eq!(counter.count(en), 18);
        assert_eq!(counter.count(""), 0);
        // Counts add up across whitespace and line breaks: what lets the
        // chunker sum per block and per sentence.
        assert_eq!(
            counter.count("가나다\n\n라마"),
            counter.count("가나다") + counter.count("라마")
        );
        assert_eq!(counter.count(&format!("{ko}\n{en}")), 38);
        Ok(())
    }

    #[test]
    fn token_counter_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<TokenCounter>();
    }

    #[test]
    fn missing_tokenizer_file_is_an_error() -> TestResult {
        let path = Path::new("/nonexistent/sillok/chunk-tokenizer.json");
        let Err(e) = TokenCounter::from_file(path) else {
            return Err("loaded a tokenizer from a missing file".into());
        };
        assert!(
            matches!(&e, Error::Tokenizer { path: p, .. } if p == path),
            "{e:?}"
        );
        assert!(e.to_string().contains("/nonexistent/sillok"), "{e}");
        assert!(e.is_user_error());
        Ok(())
    }

    #[test]
    fn mixed_korean_english_document() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let d = doc(vec![page(
            1,
            vec![
                h(1, "고혈압 진료지침 2024"),
                p(
                    "고혈압 환자의 혈압 목표는 130/80 mmHg 미만이다. 당뇨병이 동반된 경우에도 같은 목표를 권고한다.",
                ),
                block(
                    BlockKind::ListItem,
                    "- 생활요법: 저염식, 규칙적인 운동, 금연",
                ),
                block(
                    BlockKind::ListItem,
                    "- 약물치료: ACE inhibitor 또는 ARB를 우선 고려한다",
                ),
                h(2, "Treatment targets"),
                p(
                    "The target blood pressure for hypertensive patients is below 130/80 mmHg. \
                       Lifestyle changes come first; drug therapy follows if targets are not met.",
                ),
                block(BlockKind::Code, "bp_target = (130, 80)"),
            ],
        )]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        assert_eq!(chunks.len(), 2, "{chunks:#?}");
        assert!(
            chunks[0]
                .text
                .starts_with("고혈압 진료지침 2024\n고혈압 환자의")
        );
        assert!(chunks[0].text.ends_with("우선 고려한다"));
        assert_eq!(chunks[0].heading_path, ["고혈압 진료지침 2024"]);
        assert_eq!(chunks[0].language, Language::Ko);
        assert!(chunks[1].text.starts_with("Treatment targets\nThe target"));
        assert_eq!(
            chunks[1].heading_path,
            ["고혈압 진료지침 2024", "Treatment targets"]
        );
        assert_eq!(chunks[1].language, Language::En);
        assert_eq!(chunks[0].token_count, counter.count(&chunks[0].text));
        assert_eq!(chunks[1].token_count, counter.count(&chunks[1].text));
        Ok(())
    }

    #[test]
    fn long_korean_paragraph_without_spaces_splits_safely() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let syllables: Vec<char> =
            "고혈압환자의혈압목표는미만이다당뇨병동반경우같은권고한다생활요법저염식"
                .chars()
                .collect();
        let mut rng = Rng(7);
        let mut text = String::new();
        for sentence in 0..60 {
            // Every third sentence is a long run with no spaces at all.
            let words = if sentence % 3 == 0 { 1 } else { 12 };
            for w in 0..words {
                if w > 0 {
                    text.push(' ');
                }
                let len = if words == 1 { 300 } else { 2 + rng.below(4) };
                for _ in 0..len {
                    text.push(syllables[rng.below(syllables.len())]);
                }
            }
            text.push_str("다. ");
        }
        let d = doc(vec![page(1, vec![p(text.trim_end())])]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.language == Language::Ko));
        // Pieces of one split block overlap, by about the overlap budget.
        assert_eq!(overlapping_pairs(&chunks), chunks.len() - 1);
        for w in chunks.windows(2) {
            let shared: String = w[1]
                .text
                .chars()
                .take(w[0].span.end - w[1].span.start)
                .collect();
            let tokens = counter.count(&shared);
            assert!(
                (8..=config.overlap_tokens + 2).contains(&tokens),
                "overlap of {tokens} tokens"
            );
        }
        Ok(())
    }

    #[test]
    fn decomposed_hangul_and_combining_marks_are_never_cut() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig {
            target_tokens: 40,
            max_tokens: 60,
            overlap_tokens: 10,
        };
        // Conjoining jamo (L V T): one syllable is three chars.
        let mut rng = Rng(11);
        let mut jamo = String::new();
        for _ in 0..3000 {
            jamo.push(char::from_u32(0x1100 + rng.below(19) as u32).unwrap_or('\u{1100}'));
            jamo.push(char::from_u32(0x1161 + rng.below(21) as u32).unwrap_or('\u{1161}'));
            if rng.below(2) == 0 {
                jamo.push(char::from_u32(0x11A8 + rng.below(27) as u32).unwrap_or('\u{11A8}'));
            }
        }
        let accents: String = "e\u{301}a\u{300}\u{323}o\u{302}".repeat(500);
        let emoji: String = "👩\u{200D}⚕\u{FE0F}🇰🇷".repeat(300);
        let d = doc(vec![page(1, vec![p(&jamo), p(&accents), p(&emoji)])]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        assert!(chunks.len() > 10);
        for c in &chunks {
            let first = c.text.chars().next();
            assert!(!first.is_some_and(|ch| ('\u{1161}'..='\u{11FF}').contains(&ch)));
            // A flag is two regional indicators: never split.
            let ri = c
                .text
                .chars()
                .filter(|ch| ('\u{1F1E6}'..='\u{1F1FF}').contains(ch))
                .count();
            assert_eq!(ri % 2, 0, "{:?}", c.span);
        }
        Ok(())
    }

    #[test]
    fn heading_path_carries_across_pages() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let d = doc(vec![
            page(
                1,
                vec![
                    h(1, "1장 고혈압"),
                    p("정의."),
                    h(2, "1.1 진단"),
                    p("진단 기준."),
                ],
            ),
            page(
                2,
                vec![p("계속되는 진단 내용."), h(2, "1.2 치료"), p("치료 원칙.")],
            ),
            page(
                3,
                vec![
                    h(3, "1.2.1 약물"),
                    p("약물."),
                    h(1, "2장 당뇨병"),
                    p("당뇨."),
                ],
            ),
            page(4, vec![]),
            page(5, vec![p("  "), p("부록.")]),
        ]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        let got: Vec<(u32, &str, Vec<&str>)> = chunks
            .iter()
            .map(|c| {
                (
                    c.page,
                    c.text.as_str(),
                    c.heading_path.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (1, "1장 고혈압\n정의.", vec!["1장 고혈압"]),
                (1, "1.1 진단\n진단 기준.", vec!["1장 고혈압", "1.1 진단"]),
                (2, "계속되는 진단 내용.", vec!["1장 고혈압", "1.1 진단"]),
                (2, "1.2 치료\n치료 원칙.", vec!["1장 고혈압", "1.2 치료"]),
                (
                    3,
                    "1.2.1 약물\n약물.",
                    vec!["1장 고혈압", "1.2 치료", "1.2.1 약물"]
                ),
                (3, "2장 당뇨병\n당뇨.", vec!["2장 당뇨병"]),
                (5, "부록.", vec!["2장 당뇨병"]),
            ]
        );
        Ok(())
    }

    #[test]
    fn headings_open_chunks_and_nested_headings_share_one() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let d = doc(vec![page(
            1,
            vec![
                p("서문."),
                h(1, "  제1부   총론  "),
                h(2, "제1장"),
                p("본문."),
                h(2, "제2장"),
                h(2, "제3장"),
                p("끝."),
            ],
        )]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "서문.",
                "제1부   총론  \n제1장\n본문.",
                "제2장",
                "제3장\n끝."
            ]
        );
        assert_eq!(chunks[1].heading_path, ["제1부 총론", "제1장"]);
        assert_eq!(chunks[2].heading_path, ["제1부 총론", "제2장"]);
        assert_eq!(chunks[3].heading_path, ["제1부 총론", "제3장"]);
        Ok(())
    }

    #[test]
    fn table_rows_are_never_split() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig {
            target_tokens: 64,
            max_tokens: 96,
            overlap_tokens: 16,
        };
        let mut rows = Vec::new();
        for i in 0..60 {
            rows.push(format!(
                "약품명=암로디핀 {i}, 용량={}mg, 비고=Take once daily with water",
                5 * (i % 3 + 1)
            ));
        }
        let mut blocks = vec![h(2, "처방 목록"), p("다음 표는 처방 내역이다.")];
        blocks.extend(rows.iter().map(|r| block(BlockKind::TableRow, r)));
        let d = doc(vec![page(1, blocks)]);
        let chunks = chunk_document(&d, counter, &config);
        check(&d, &chunks, &config)?;
        assert!(chunks.len() > 5);
        assert_eq!(overlapping_pairs(&chunks), 0);
        let mut seen = 0;
        for c in &chunks {
            for line in c.text.lines() {
                if line.starts_with("약품명") {
                    assert_eq!(line, rows[seen], "a row was cut");
                    seen += 1;
                }
            }
            // Chunks after the first hold rows only: nothing repeated.
            if c.span.start > 0 {
                assert!(c.text.lines().all(|l| l.starts_with("약품명")));
                assert_eq!(c.heading_path, ["처방 목록"]);
            }
        }
        assert_eq!(seen, rows.len());
        Ok(())
    }

    #[test]
    fn language_guess() {
        assert_eq!(
            guess_language("고혈압 환자의 혈압 목표는 130/80 mmHg 미만이다."),
            Language::Ko
        );
        assert_eq!(
            guess_language("고혈압(hypertension) 환자의 혈압 목표"),
            Language::Ko
        );
        assert_eq!(
            guess_language("The patient (환자) has hypertension."),
            Language::En
        );
        assert_eq!(
            guess_language("Blood pressure 혈압 목표 target 수치 value"),
            Language::Mixed
        );
        assert_eq!(guess_language("Résumé of naïve café"), Language::En);
        assert_eq!(guess_language("130/80 — 2024."), Language::Other);
        assert_eq!(guess_language(""), Language::Other);
        assert_eq!(guess_language("高血壓の治療目標は"), Language::Other);
        assert_eq!(guess_language("Гипертония"), Language::Other);
        assert_eq!(guess_language("\u{1100}\u{1161}\u{11A8}"), Language::Ko);
    }

    #[test]
    fn empty_and_whitespace_blocks_make_no_chunks() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let d = doc(vec![
            page(1, vec![p(""), p("  \n\t "), h(1, "   ")]),
            page(2, vec![]),
        ]);
        assert!(chunk_document(&d, counter, &config).is_empty());
        assert!(chunk_document(&doc(vec![]), counter, &config).is_empty());
        Ok(())
    }

    #[test]
    fn degenerate_configs_still_keep_the_contract() -> TestResult {
        let counter = counter()?;
        let text = "짧은 문장이다. Another short sentence here. 세 번째 문장은 조금 더 길다. \
                    And a fourth one to finish.";
        let d = doc(vec![page(1, vec![h(1, "제목"), p(text), p(text)])]);
        for config in [
            ChunkConfig {
                target_tokens: 0,
                max_tokens: 0,
                overlap_tokens: 0,
            },
            ChunkConfig {
                target_tokens: 1,
                max_tokens: 1,
                overlap_tokens: 100,
            },
            ChunkConfig {
                target_tokens: 10,
                max_tokens: 5,
                overlap_tokens: 10,
            },
            ChunkConfig {
                target_tokens: usize::MAX,
                max_tokens: usize::MAX,
                overlap_tokens: usize::MAX,
            },
        ] {
            let chunks = chunk_document(&d, counter, &config);
            check(&d, &chunks, &config).map_err(|e| format!("{config:?}: {e}"))?;
            assert!(!chunks.is_empty());
        }
        Ok(())
    }

    #[test]
    fn block_spans_follow_the_text_even_off_contract() {
        let four = page(1, vec![p("alpha"), p(" "), p("beta gamma"), p("없음")]);
        let on = four.text();
        let chars: Vec<char> = on.chars().collect();
        assert_eq!(
            block_spans(&four, &on, &chars),
            [Some(0..5), Some(6..7), Some(8..18), Some(19..21)]
        );
        // A text joined differently (and missing the last block).
        let off = "alpha\n\n \n\nbeta gamma";
        let chars: Vec<char> = off.chars().collect();
        let spans = block_spans(&four, off, &chars);
        assert_eq!(spans[0], Some(0..5));
        assert_eq!(spans[2], Some(10..20));
        assert_eq!(spans[3], None);
        // Joined with no separator at all.
        let two = page(1, vec![p("alpha"), p("beta gamma")]);
        let glued = "alpha beta gamma";
        let chars: Vec<char> = glued.chars().collect();
        assert_eq!(block_spans(&two, glued, &chars), [Some(0..5), Some(6..16)]);
    }

    /// A tiny deterministic PRNG (xorshift64*): no dependency, same docs on
    /// every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const WORDS: &[&str] = &[
        "고혈압",
        "환자의",
        "혈압",
        "목표는",
        "미만이다",
        "당뇨병",
        "치료",
        "권고한다",
        "blood",
        "pressure",
        "target",
        "patients",
        "therapy",
        "130/80",
        "mmHg",
        "2024",
        "e.g.",
        "(ACE)",
        "“인용”",
        "café",
        "naïve",
        "高血壓",
        "—",
        "%",
        "12.5",
        "URL:https://example.org/a?b=c",
        "e\u{301}",
        "\u{1100}\u{1161}\u{11AB}",
        "👩\u{200D}⚕\u{FE0F}",
        "🇰🇷",
    ];
    const ENDS: &[&str] = &[
        ". ", "다. ", "? ", "! ", "。", "\n", " ", " ", " ", ", ", "  \n ",
    ];

    fn random_text(rng: &mut Rng, words: usize) -> String {
        let mut text = String::new();
        if rng.below(5) == 0 {
            text.push_str("  ");
        }
        for _ in 0..words {
            if rng.below(12) == 0 {
                // A run without any whitespace.
                for _ in 0..rng.below(120) {
                    text.push_str(rng.pick(&["혈", "압", "a", "가"]));
                }
            } else {
                text.push_str(rng.pick(WORDS));
            }
            text.push_str(rng.pick(ENDS));
        }
        if rng.below(5) == 0 {
            text.push_str(" \n");
        }
        text
    }

    fn random_doc(rng: &mut Rng) -> ParsedDocument {
        let mut pages = Vec::new();
        for number in 1..=1 + rng.below(4) as u32 {
            let mut blocks = Vec::new();
            for _ in 0..rng.below(12) {
                let kind = match rng.below(8) {
                    0 => BlockKind::Heading {
                        level: 1 + rng.below(4) as u8,
                    },
                    1 => BlockKind::ListItem,
                    2 => BlockKind::TableRow,
                    3 => BlockKind::Code,
                    _ => BlockKind::Paragraph,
                };
                let words = match rng.below(10) {
                    0 => 0,
                    1 => 300 + rng.below(900),
                    _ => 1 + rng.below(60),
                };
                blocks.push(block(kind, &random_text(rng, words)));
            }
            pages.push(page(number, blocks));
        }
        doc(pages)
    }

    #[test]
    fn spans_are_exact_and_cover_every_page() -> TestResult {
        let counter = counter()?;
        let mut rng = Rng(0x0051_110C);
        let (mut chunks_seen, mut overlaps) = (0, 0);
        for n in 0..150 {
            let d = random_doc(&mut rng);
            let config = match n % 4 {
                0 => ChunkConfig::default(),
                1 => ChunkConfig {
                    target_tokens: 32,
                    max_tokens: 48,
                    overlap_tokens: 8,
                },
                2 => ChunkConfig {
                    target_tokens: 8,
                    max_tokens: 12,
                    overlap_tokens: 4,
                },
                _ => ChunkConfig {
                    target_tokens: 1 + rng.below(300),
                    max_tokens: rng.below(500),
                    overlap_tokens: rng.below(200),
                },
            };
            let chunks = chunk_document(&d, counter, &config);
            check(&d, &chunks, &config).map_err(|e| format!("doc {n} with {config:?}: {e}"))?;
            chunks_seen += chunks.len();
            overlaps += overlapping_pairs(&chunks);
        }
        assert!(chunks_seen > 1000, "{chunks_seen}");
        assert!(overlaps > 100, "{overlaps}");
        Ok(())
    }

    /// A 10 MB block on one line: time must grow about linearly. The bound is
    /// generous (debug build, shared 2-core machine); the throughput printed
    /// is the number to watch (`cargo test --release -- --nocapture`).
    #[test]
    fn ten_megabyte_line_chunks_in_bounded_time() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let mut rng = Rng(42);
        let mut line = String::new();
        while line.len() < 10_000_000 {
            line.push_str(rng.pick(WORDS));
            line.push_str(rng.pick(&[" ", " ", " ", "", ". ", "다. ", ", "]));
        }
        let d = doc(vec![page(1, vec![p(&line)])]);
        let started = Instant::now();
        let chunks = chunk_document(&d, counter, &config);
        let elapsed = started.elapsed();
        eprintln!(
            "10 MB line: {} chunks in {elapsed:.2?} ({:.2} MB/s)",
            chunks.len(),
            line.len() as f64 / 1e6 / elapsed.as_secs_f64()
        );
        assert!(elapsed.as_secs() < 60, "took {elapsed:?}");
        let chars: Vec<char> = line.chars().collect();
        let mut covered = 0;
        for c in &chunks {
            assert!(c.token_count <= config.max_tokens);
            assert!(
                c.span.start <= covered
                    || chars[covered..c.span.start]
                        .iter()
                        .all(|c| c.is_whitespace())
            );
            covered = c.span.end;
        }
        assert!(chars[covered..].iter().all(|c| c.is_whitespace()));
        Ok(())
    }

    /// Sentences of ordinary Korean and English prose.
    fn prose(rng: &mut Rng, sentences: usize) -> String {
        const KO: &[&str] = &[
            "고혈압",
            "환자의",
            "혈압",
            "목표는",
            "당뇨병이",
            "동반된",
            "경우에도",
            "같은",
            "목표를",
            "생활요법과",
            "약물치료를",
            "함께",
            "시행하며",
            "정기적으로",
            "측정한다",
        ];
        const EN: &[&str] = &[
            "the", "target", "blood", "pressure", "for", "patients", "with", "diabetes", "is",
            "below", "130/80", "mmHg", "and", "therapy", "should", "start", "early",
        ];
        let mut text = String::new();
        for _ in 0..sentences {
            let (words, end) = if rng.below(3) == 0 {
                (EN, ". ")
            } else {
                (KO, "다. ")
            };
            for w in 0..6 + rng.below(14) {
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(rng.pick(words));
            }
            text.push_str(end);
        }
        text.trim_end().to_owned()
    }

    /// Throughput on an ordinary document (headed sections of paragraphs);
    /// printed, not asserted.
    #[test]
    fn measure_throughput_on_ordinary_text() -> TestResult {
        let counter = counter()?;
        let config = ChunkConfig::default();
        let mut rng = Rng(3);
        let mut pages = Vec::new();
        let mut bytes = 0;
        for number in 1..=200 {
            let mut blocks = vec![h(2, &prose(&mut rng, 1))];
            for _ in 0..8 {
                let sentences = 1 + rng.below(12);
                let text = prose(&mut rng, sentences);
                bytes += text.len();
                blocks.push(p(&text));
            }
            pages.push(page(number, blocks));
        }
        let d = doc(pages);
        let started = Instant::now();
        let chunks = chunk_document(&d, counter, &config);
        let elapsed = started.elapsed();
        eprintln!(
            "ordinary text: {:.2} MB, {} chunks in {elapsed:.2?} ({:.2} MB/s)",
            bytes as f64 / 1e6,
            chunks.len(),
            bytes as f64 / 1e6 / elapsed.as_secs_f64()
        );
        check(&d, &chunks, &config)?;
        Ok(())
    }
}
