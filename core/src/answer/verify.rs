//! Checks a generated answer against the numbered sources it cites.
//!
//! Owns sanitising the answer for display (citation markers, markup, invisible characters),
//! splitting it into English and Korean sentences, checking each sentence against the union
//! of the sources it cites, and flagging cited sources that contradict each other. It does
//! not retrieve, prompt, render, or decide what the UI does with a flag.
//!
//! Every check is a cheap lexical heuristic, tuned so that a confident wrong answer gets a
//! flag rather than a pass: a flag means "a person should look", no flag is not proof. A
//! sentence is [`Support::Supported`] only when it cites a source and all of these hold:
//!
//! - **overlap**: at least [`MIN_OVERLAP`] percent of its content words occur in the cited
//!   text. English words are lowercased, stopwords dropped and crudely stemmed; a Korean
//!   word loses one trailing particle or ending and is found when half of its syllable
//!   bigrams are, so `아스피린을` matches `아스피린은`;
//! - **numbers**: every number occurs in the cited text with the same canonical unit (`5mg`
//!   = `5 mg`, `.5` = `0.5`, `3개월` = `3 months`); a number without a unit needs only the
//!   value. Dates must match once converted to ISO form;
//! - **negation**: the cited sentences that best match it share its polarity, so "do not
//!   give 5 mg" never supports "give 5 mg";
//! - **quotes**: quoted text occurs verbatim (case and spacing aside) in one cited source.
//!
//! A Korean answer from an English source shares no words with it and so gets
//! [`Flag::LowOverlap`]: deliberately, as a person should check a translation.
//!
//! Work is linear in the answer plus, per sentence, the size of the sources it cites, and
//! nothing here panics: slices use offsets of ASCII bytes, regex matches, or `get`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::{Bound, Range};
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde::Serialize;

/// Share of a sentence's content words, in percent, that must occur in its cited sources.
/// Half tolerates paraphrase yet fails an answer about another drug or topic.
pub const MIN_OVERLAP: u8 = 50;
/// Longest bracket body read as a marker: longer bracketed text is not a citation.
const MAX_MARKER: usize = 40;
/// Furthest a closing quote mark is looked for: bounds the work of unmatched quotes.
const MAX_QUOTE: usize = 2000;
/// Words before a number searched for the drug or measure it is about.
const ANCHOR_WINDOW: usize = 6;
/// Sentences per source compared pairwise for opposite negation (the quadratic step).
const MAX_PAIR_SENTENCES: usize = 200;

/// One numbered source the answer may cite as `[number]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source<'a> {
    /// The 1-based number used in `[n]` markers.
    pub number: usize,
    /// The text the model was given for this source.
    pub text: &'a str,
}

/// The result of [`verify`]: the answer as it may be shown, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// The sanitised answer: markers to unknown sources removed, kept markers rewritten as
    /// `[n]` or `[n, m]`, markup and invisible characters removed. The only brackets left
    /// are kept markers.
    pub answer: String,
    /// The sentences of [`Verification::answer`], in order.
    pub sentences: Vec<SentenceCheck>,
    /// Source numbers cited by kept markers, in order of first use.
    pub cited: Vec<usize>,
    /// Answer-level flags: removed or repaired markers, markup, hidden characters, and
    /// contradictions between cited sources.
    pub flags: Vec<Flag>,
}

/// One sentence of the answer and how well its cited sources back it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentenceCheck {
    /// The sentence as shown, markers included.
    pub text: String,
    /// Where `text` lies in [`Verification::answer`], in bytes.
    pub range: Range<usize>,
    /// Sources cited by markers in this sentence, in order of first use.
    pub citations: Vec<usize>,
    /// The verdict.
    pub support: Support,
    /// Why the verdict is [`Support::Unsupported`]; empty otherwise.
    pub problems: Vec<Flag>,
}

/// The verdict on one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Support {
    /// It cites a source and no check found a problem.
    Supported,
    /// It cites a source but a check failed: see [`SentenceCheck::problems`].
    Unsupported,
    /// It makes a claim and cites nothing.
    Uncited,
    /// It makes no checkable claim: a short heading or label ("Sources:", "출처:"), a
    /// sentence without content words ("Thank you."), or an uncited, unqualified "the
    /// documents do not say" ("I could not find…", "문서에서 찾을 수 없습니다"). Never a
    /// sentence with a number, a date or a quote, nor a bare "No.".
    Exempt,
}

/// A problem found in the answer or in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Flag {
    /// A marker cited a source that does not exist; that number was removed.
    UnknownSource {
        /// The marker as the model wrote it.
        marker: String,
    },
    /// A bracket that was no well-formed marker (`[abc]`, `[[1]]`, `[1`, a stray `]`) was
    /// removed or repaired.
    MalformedMarker {
        /// The bracket text as the model wrote it.
        marker: String,
    },
    /// HTML-like markup was removed.
    Markup,
    /// Invisible characters (bidi overrides, zero-width spaces, control codes) were removed.
    HiddenCharacters,
    /// A number, with its unit, is not in the cited sources.
    NumberMismatch {
        /// The number as read from the answer, e.g. `5 mg`.
        answer: String,
        /// Up to five values with the same unit that the cited sources do give.
        sources: Vec<String>,
    },
    /// A date is not in the cited sources.
    DateMismatch {
        /// The date as `YYYY-MM-DD` or `YYYY-MM`.
        answer: String,
        /// Up to five dates the cited sources do give.
        sources: Vec<String>,
    },
    /// The sentence asserts what its best-matching cited sentences negate, or the reverse.
    NegationMismatch,
    /// A quotation does not occur verbatim in any cited source.
    QuoteNotInSource {
        /// The quoted text.
        quote: String,
    },
    /// Too few content words of the sentence occur in its cited sources.
    LowOverlap {
        /// The share found, in percent.
        percent: u8,
    },
    /// Two cited sources disagree; see [`contradictions`].
    Contradiction {
        /// The two source numbers.
        sources: Vec<usize>,
        /// What they disagree on, for a person to read.
        detail: String,
    },
}

/// Checks `answer` against `sources`: the sanitised answer with a verdict per sentence.
/// A marker applies to the sentence it is in, or that it follows on the same line
/// (`… 5 mg. [1]`).
#[must_use]
pub fn verify(answer: &str, sources: &[Source<'_>]) -> Verification {
    let mut flags = Vec::new();
    let (text, hidden) = normalise_chars(answer);
    let (text, markup) = strip_markup(&text);
    flags.extend(hidden.then_some(Flag::HiddenCharacters));
    flags.extend(markup.then_some(Flag::Markup));
    let known: BTreeSet<usize> = sources.iter().map(|s| s.number).collect();
    let (text, markers) = clean_markers(&text, &known, &mut flags);
    let cited = first_use(markers.iter().flat_map(|m| m.1.iter().copied()));
    let index = index_cited(sources, &cited);
    let sentences = split_sentences(&text)
        .into_iter()
        .map(|range| check_sentence(&text, range, &markers, &index))
        .collect();
    flags.extend(contradictions_in(&index));
    Verification {
        answer: text,
        sentences,
        cited,
        flags,
    }
}

/// Flags disagreements between the `cited` sources, conservatively:
///
/// - **numbers**: a number with a unit is tied to its anchor, the nearest distinctive word
///   up to six words before it in its sentence (a drug or measure; generic
///   words such as "dose", "daily" or "환자" never anchor), and to its qualifiers (max,
///   start, target, above/below, children, adults, elderly, renal…) nearby. Two sources
///   conflict when, for one anchor, unit and qualifier set, the values they give are
///   disjoint: "amlodipine 5 mg" vs "amlodipine 10 mg" is flagged; "5-10 mg" vs "10 mg",
///   or "start with 5 mg" vs "maximum 10 mg", is not;
/// - **negation**: a sentence in each of two sources, each with at least 70 % of its content
///   words in the other, one negated and one not. At most one such flag per source pair.
#[must_use]
pub fn contradictions(sources: &[Source<'_>], cited: &[usize]) -> Vec<Flag> {
    contradictions_in(&index_cited(sources, cited))
}

fn first_use<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn index_cited(sources: &[Source<'_>], cited: &[usize]) -> Vec<SourceIndex> {
    let cited = sources.iter().filter(|s| cited.contains(&s.number));
    cited.map(SourceIndex::new).collect()
}

/// Compiles a fixed pattern once. `None` only for an invalid pattern, which the tests rule
/// out; callers then skip their check rather than panic.
fn cached(
    cell: &'static OnceLock<Option<Regex>>,
    pattern: impl FnOnce() -> String,
) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(&pattern()).ok()).as_ref()
}

/// Whether `word` is one of the space-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split(' ').any(|w| w == word)
}

// ----- Sanitising --------------------------------------------------------------------------

/// Maps full-width ASCII (`［１］`) to ASCII and odd spaces to ' ', and drops invisible
/// characters, which can hide or reorder what the user reads. Also says if any were dropped.
fn normalise_chars(text: &str) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut hidden = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let code = u32::from(c);
        let invisible = matches!(code, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F);
        match c {
            '\u{FF01}'..='\u{FF5E}' => out.push(char::from_u32(code - 0xFEE0).unwrap_or(c)),
            '\u{3000}' | '\u{A0}' | '\u{2007}' | '\u{202F}' => out.push(' '),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\u{2028}' | '\u{2029}' => out.push('\n'),
            '\n' | '\t' => out.push(c),
            '\u{FEFF}' | '\u{AD}' | '\u{61C}' => hidden = true,
            _ if invisible || c.is_control() => hidden = true,
            _ => out.push(c),
        }
    }
    (out, hidden)
}

/// Removes HTML-like tags, and a script or style element whole when its closing tag is the
/// next tag. The UI shows text, but a tag in an answer means the model echoed markup from a
/// document or was steered by one. "<5 mg", "a < b" and "<주의>" are not tags.
fn strip_markup(text: &str) -> (String, bool) {
    static TAG: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = || r"<(/?)([A-Za-z][A-Za-z0-9]*)[^<>\n]{0,300}>|<[!?][^<>\n]{0,300}>".into();
    let Some(re) = cached(&TAG, pattern) else {
        return (text.to_string(), false);
    };
    // (span, lowercase name, closing?) of each tag.
    let tags: Vec<(Range<usize>, String, bool)> = re
        .captures_iter(text)
        .filter_map(|c| {
            let name = c.get(2).map_or("", |m| m.as_str()).to_ascii_lowercase();
            Some((
                c.get(0)?.range(),
                name,
                c.get(1).is_some_and(|m| !m.is_empty()),
            ))
        })
        .collect();
    let (mut out, mut last, mut k) = (String::with_capacity(text.len()), 0, 0);
    while let Some((span, name, closing)) = tags.get(k) {
        out.push_str(text.get(last..span.start).unwrap_or(""));
        last = span.end;
        let element = !closing && (name == "script" || name == "style");
        if let Some(end) = tags.get(k + 1).filter(|t| element && t.2 && &t.1 == name) {
            (last, k) = (end.0.end, k + 1);
        }
        if listed("br p div li tr ul ol table h1 h2 h3 h4 h5 h6", name) {
            out.push('\n');
        }
        k += 1;
    }
    out.push_str(text.get(last..).unwrap_or(""));
    (out, !tags.is_empty())
}

/// A kept citation marker: where it lies in the sanitised answer, and what it cites.
type Marker = (Range<usize>, Vec<usize>);
/// The known sources a bracket cites; `None` when it is removed.
type Cited = Option<Vec<usize>>;

/// Rewrites every kept marker canonically and removes the rest, flagging each change.
/// Brackets are reserved for citations in answers, so no other bracket survives.
fn clean_markers(
    text: &str,
    known: &BTreeSet<usize>,
    flags: &mut Vec<Flag>,
) -> (String, Vec<Marker>) {
    let mut out = String::with_capacity(text.len());
    let mut markers = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['[', ']']) {
        out.push_str(&rest[..at]);
        let (consumed, kept) = take_marker(&rest[at..], known, flags);
        rest = rest.get(at + consumed..).unwrap_or("");
        if let Some(numbers) = kept {
            let list: Vec<String> = numbers.iter().map(ToString::to_string).collect();
            let start = out.len();
            out.push_str(&format!("[{}]", list.join(", ")));
            markers.push((start..out.len(), numbers));
        } else if rest.is_empty()
            || rest.starts_with(|c: char| c.is_whitespace() || ".,;:!?)".contains(c))
        {
            // "5 mg [99]." becomes "5 mg.", not "5 mg .".
            out.truncate(out.trim_end_matches([' ', '\t']).len());
        }
    }
    out.push_str(rest);
    (out, markers)
}

/// Reads the bracket construct at the start of `s` (a '[' or ']'): the bytes it spans and
/// the known sources it cites, if any.
fn take_marker(s: &str, known: &BTreeSet<usize>, flags: &mut Vec<Flag>) -> (usize, Cited) {
    let mut malformed = |raw: &str| flags.push(Flag::MalformedMarker { marker: raw.into() });
    let opens = s.bytes().take_while(|&b| b == b'[').count();
    if opens == 0 {
        malformed("]");
        return (1, None);
    }
    let body = &s[opens..];
    let end = body.find(['[', ']', '\n']).filter(|&n| n <= MAX_MARKER);
    let Some(len) = end.filter(|&n| body[n..].starts_with(']')) else {
        // Unclosed or nested: drop the brackets and a citation-like tail such as "[1, 2".
        let tail = body.bytes().take_while(|b| b" ,-0123456789".contains(b));
        let tail = tail.count() * usize::from(body.starts_with(|c: char| c.is_ascii_digit()));
        malformed(s[..opens + tail].trim());
        return (opens + tail, None);
    };
    let closes = body[len..].bytes().take_while(|&b| b == b']').count();
    let raw = &s[..opens + len + closes.min(opens)];
    let Some((numbers, unknown)) = parse_marker(&body[..len], known) else {
        malformed(raw);
        return (raw.len(), None);
    };
    if opens > 1 || closes < opens {
        malformed(raw);
    }
    flags.extend(unknown.then(|| Flag::UnknownSource { marker: raw.into() }));
    (raw.len(), (!numbers.is_empty()).then_some(numbers))
}

/// Parses "1", "1, 2", "1-3" (also ';', '–', '~'): the known numbers cited, and whether any
/// cited number is unknown. `None` when the body is no citation list at all.
fn parse_marker(body: &str, known: &BTreeSet<usize>) -> Option<(Vec<usize>, bool)> {
    // Too many digits for usize is still a number, just not a known source.
    let number = |s: &str| {
        let s = s.trim();
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| s.parse().unwrap_or(usize::MAX))
    };
    let (mut numbers, mut unknown) = (Vec::new(), false);
    for item in body.split([',', ';']).filter(|i| !i.trim().is_empty()) {
        let (lo, hi) = item
            .split_once(['-', '–', '—', '~'])
            .unwrap_or((item, item));
        let (lo, hi): (usize, usize) = (number(lo)?, number(hi)?);
        if lo > hi {
            return None;
        }
        // Walk the known numbers, not the range: "[1-99999999]" costs nothing.
        let found: Vec<usize> = known.range(lo..=hi).copied().collect();
        unknown |= found.is_empty() || hi - lo != found.len() - 1;
        numbers.extend(found);
    }
    let numbers = first_use(numbers);
    (!numbers.is_empty() || unknown).then_some((numbers, unknown))
}

/// Replaces each `[...]` with spaces, so marker digits are not read as numbers and byte
/// offsets stay valid.
fn blank_markers(text: &str) -> String {
    let mut inside = false;
    let blank = |c: char| {
        inside = (inside || c == '[') && c != ']';
        if inside || c == ']' { ' ' } else { c }
    };
    text.chars().map(blank).collect()
}

// ----- Sentences ---------------------------------------------------------------------------

/// Splits text into trimmed sentence ranges: at newlines, '?', '!' and '。', and at '.'
/// before a space, a closing mark or a marker, unless it ends "e.g.", "Dr." and the like
/// (Korean "…다.다음" splits without the space). Decimals ("5.5", ".5") never split, nor
/// terminators inside matched quotes. List bullets ("- ", "1. ") are left out, and markers
/// after a terminator on the same line belong to the sentence before them.
pub(crate) fn split_sentences(text: &str) -> Vec<Range<usize>> {
    static BULLET: OnceLock<Option<Regex>> = OnceLock::new();
    let pattern = || r"^[ \t]*(?:[-*•·‣▪◦–>]|[0-9]{1,3}[.)]|#{1,6})[ \t]+".into();
    let bullet = cached(&BULLET, pattern);
    let bullet = |line: &str| bullet.and_then(|re| re.find(line)).map_or(0, |m| m.end());
    let (mut ranges, mut start, mut i, mut quote) = (Vec::new(), 0, 0, None);
    let mut line_start = true;
    while let Some(c) = text.get(i..).and_then(|r| r.chars().next()) {
        if std::mem::take(&mut line_start) {
            start = i + bullet(&text[i..]);
            i = start;
            continue;
        }
        let next = i + c.len_utf8();
        let split = if c == '\n' {
            push_trimmed(text, start..i, &mut ranges);
            (start, line_start, quote) = (next, true, None);
            false
        } else if quote == Some(c) {
            // A quote that ends a sentence ends it: `He said "Stop." Then…`.
            quote = None;
            let ended = text[..i].ends_with(['.', '?', '!', '。']);
            ended && text[next..].starts_with(char::is_whitespace)
        } else if let Some(close) = closing_quote(c).filter(|_| quote.is_none() && c != '\'') {
            let line = prefix(&text[next..], MAX_QUOTE).lines().next();
            quote = line.filter(|l| l.contains(close)).map(|_| close);
            false
        } else {
            quote.is_none() && ends_sentence(text, i, c)
        };
        if split {
            let end = sentence_end(text, next);
            push_trimmed(text, start..end, &mut ranges);
            (start, i) = (end, end);
        } else {
            i = next;
        }
    }
    push_trimmed(text, start..text.len(), &mut ranges);
    merge_contentless(text, ranges)
}

/// Opening and closing quote marks, straight single quotes last.
const QUOTES: [&str; 7] = ["\"\"", "“”", "「」", "『』", "«»", "‘’", "''"];
/// Abbreviations whose full stop ends no sentence.
const ABBREVIATIONS: &str = "e.g i.e dr mr mrs ms prof vs approx fig cf al ca incl ref eq";

fn closing_quote(c: char) -> Option<char> {
    let mut pair = QUOTES
        .iter()
        .map(|p| p.chars())
        .find(|p| p.clone().next() == Some(c))?;
    pair.nth(1)
}

fn ends_sentence(text: &str, i: usize, c: char) -> bool {
    if c != '.' {
        return matches!(c, '?' | '!' | '。');
    }
    let (before, after) = (&text[..i], &text[i + 1..]);
    let Some(next) = after.chars().next() else {
        return true;
    };
    if !next.is_whitespace() && !"[\"'”’)」』".contains(next) {
        return before.ends_with(is_hangul) && is_hangul(next);
    }
    let word = before
        .rsplit(|c: char| !c.is_ascii_alphabetic() && c != '.')
        .next();
    let word = word.unwrap_or("").to_ascii_lowercase();
    let numbered = word == "no" && after.trim_start().starts_with(|c: char| c.is_ascii_digit());
    !listed(ABBREVIATIONS, &word) && !numbered
}

/// End of a sentence whose terminator ends at `from`: past further terminators and closing
/// marks, then past markers that follow on the same line.
fn sentence_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let closers = rest.trim_start_matches(|c: char| ".?!。\"'”’)」』".contains(c));
    let mut end = text.len() - closers.len();
    loop {
        let rest = &text[end..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let head = prefix(&rest[gap..], MAX_MARKER + 2);
        let body = head
            .strip_prefix('[')
            .and_then(|b| b.find([']', '[', '\n']));
        match body.filter(|&n| head[1 + n..].starts_with(']')) {
            Some(n) => end += gap + n + 2,
            None => return end,
        }
    }
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let Some(s) = text.get(range.clone()) else {
        return;
    };
    let start = range.start + s.len() - s.trim_start().len();
    if !s.trim().is_empty() {
        out.push(start..start + s.trim().len());
    }
}

/// Folds pieces without letters or digits outside markers ("[1]" on its own line, "…")
/// into the sentence before them.
fn merge_contentless(text: &str, ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        let piece = text.get(range.clone()).unwrap_or("");
        match out.last_mut() {
            _ if blank_markers(piece).chars().any(char::is_alphanumeric) => out.push(range),
            Some(last) => last.end = range.end,
            None => {}
        }
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut n = max.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

// ----- Words -------------------------------------------------------------------------------

const STOPWORDS: &str = "a about after all also am an and any are as at be been before being \
    both but by can could details did do does during each either for from had has have he her \
    here his how i if in into is it its may me might more most must my of on only or other our \
    per please see shall she should so some such than thank thanks that the their them then \
    there these they this those to us was we were what when where which while who will with \
    would you your";
/// Korean particles and endings: the longest that ends a word is stripped, so "투여하지",
/// "투여한다" and "투여를" all become "투여".
const KO_ENDINGS: &str = "은 는 이 가 을 를 의 에 로 으로 와 과 도 만 에서 에게 에는 에서는 \
    으로는 로는 까지 부터 보다 처럼 이다 입니다 합니다 한다 하다 하며 하고 하는 하지 하여 해야 \
    해서 했다 했습니다 하십시오 하세요 할 하면 된다 됩니다 되는 되며 되어 될 습니다 니다 다 요 \
    고 며 세요 십시오 이며 이고 이나 인 면";
const KO_STOP: &str = "그리고 또는 및 그러나 하지만 또한 따라서 경우 수 것 등 있 하 되 그 이 저 \
    때 중 더 각 위해 대해 통해";
/// Korean negation inside a word. "피하" alone is missing because it also means
/// "subcutaneous"; "안" counts only as a word of its own.
const KO_NEGATION: &str = "않 못 없 금지 금기 불가 아니 아닙 삼가 피해야 피하십시오 피하세요 \
    피한다 피할 말것 마십시오 마세요 말아야 안되 안돼";
const KO_NEGATION_PHRASES: [&str; 4] = ["말 것", "하지 마", "안 되", "안 돼"];

/// A run of Hangul syllables, or of other letters, and its byte offset.
struct Word<'a> {
    text: &'a str,
    at: usize,
    hangul: bool,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut current: Option<(usize, bool)> = None;
    let mut push = |at: usize, end: usize, hangul: bool| {
        let text = text
            .get(at..end)
            .unwrap_or("")
            .trim_end_matches(['\'', '’']);
        if !text.is_empty() {
            out.push(Word { text, at, hangul });
        }
    };
    for (i, c) in text.char_indices() {
        let in_latin = current.is_some_and(|(_, hangul)| !hangul);
        let class = match c {
            c if is_hangul(c) => Some(true),
            '\'' | '’' if in_latin => Some(false),
            c => c.is_alphabetic().then_some(false),
        };
        match current {
            Some((_, hangul)) if class == Some(hangul) => continue,
            Some((at, hangul)) => push(at, i, hangul),
            None => {}
        }
        current = class.map(|hangul| (i, hangul));
    }
    if let Some((at, hangul)) = current {
        push(at, text.len(), hangul);
    }
    out
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

fn lower(word: &str) -> String {
    word.to_lowercase().replace('’', "'")
}

/// Crude English stemming, alike for answers and sources: one suffix, then a final 'e', so
/// "dose", "doses", "dosing" and "dosed" all become "dos".
fn stem(word: &str) -> String {
    let mut s = word.strip_suffix("'s").unwrap_or(word);
    for suffix in ["ies", "ing", "ed", "es", "s", "ly"] {
        let rest = s.strip_suffix(suffix).unwrap_or(s);
        let plural = suffix != "s" || !["ss", "us", "is"].iter().any(|e| s.ends_with(e));
        if rest.len() < s.len() && rest.chars().count() >= 3 && plural {
            s = rest;
            break;
        }
    }
    let e = s.chars().count() >= 4 && s.ends_with('e');
    s[..s.len() - usize::from(e)].to_string()
}

/// The Korean word without its longest ending; `None` when it is all ending ("합니다").
fn korean_stem(word: &str) -> Option<&str> {
    let endings = KO_ENDINGS.split(' ').filter(|e| word.ends_with(e));
    let longest = endings.map(str::len).max().unwrap_or(0);
    word.get(..word.len() - longest).filter(|s| !s.is_empty())
}

fn negates(word: &Word<'_>) -> bool {
    if word.hangul {
        return word.text == "안" || KO_NEGATION.split(' ').any(|n| word.text.contains(n));
    }
    let w = lower(word.text);
    listed("not no never none nor neither cannot without", &w)
        || w.ends_with("n't")
        || w.starts_with("avoid")
        || w.starts_with("contraindicat")
}

/// Words after a negation that make it a limit rather than a denial: "do not exceed 10 mg"
/// and "no more than 10 mg" both support "at most 10 mg".
const LIMITS: &str = "exceed exceeding more greater over above longer higher";

/// Whether the text denies something. Limits ("not to exceed", "10mg을 넘지 않도록",
/// "초과하지 않는다") and idioms that deny nothing ("with or without food", "식사와
/// 관계없이") do not count, so they cannot fail a plain restatement.
fn is_negated(text: &str, words: &[Word<'_>]) -> bool {
    let limit = |w: &Word<'_>| {
        listed(LIMITS, &lower(w.text)) || w.text.starts_with("넘") || w.text.starts_with("초과")
    };
    let denies = |i: usize| {
        let (word, before) = (&words[i], i.checked_sub(1).and_then(|b| words.get(b)));
        let either = word.text == "without" && before.is_some_and(|b| b.text == "or");
        let regardless = word.text.contains("관계없") || word.text.contains("상관없");
        let limited = words.iter().skip(i + 1).take(2).any(limit)
            || before.is_some_and(|b| b.hangul && limit(b));
        !either && !regardless && !limited
    };
    let negations = (0..words.len()).filter(|&i| negates(&words[i]));
    negations.into_iter().any(denies) || KO_NEGATION_PHRASES.iter().any(|p| text.contains(p))
}

/// The keys of one content word: an English stem, or the syllable bigrams of a Korean stem
/// (the syllable itself if it has one). The word is found when half of its keys are.
/// Stopwords and negations give none: negation is checked on its own.
fn token(word: &Word<'_>) -> Option<Vec<String>> {
    if negates(word) {
        return None;
    }
    if word.hangul {
        let stem = korean_stem(word.text).filter(|s| !listed(KO_STOP, s))?;
        let chars: Vec<char> = stem.chars().collect();
        return Some(match chars.len() {
            1 => vec![stem.to_string()],
            _ => chars.windows(2).map(|p| p.iter().collect()).collect(),
        });
    }
    let w = lower(word.text);
    (w.chars().count() >= 2 && !listed(STOPWORDS, &w)).then(|| vec![stem(&w)])
}

/// Share of `tokens` found by `has`, in percent; 100 when there are none.
fn overlap(tokens: &[Vec<String>], has: impl Fn(&str) -> bool) -> u8 {
    let found = |keys: &&Vec<String>| 2 * keys.iter().filter(|k| has(k)).count() >= keys.len();
    let share = (tokens.iter().filter(found).count() * 100).checked_div(tokens.len());
    share.map_or(100, |p| u8::try_from(p).unwrap_or(100))
}

/// Lowercased text with single spaces and straight quotes, for matching quotations.
fn fold(text: &str) -> String {
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let straight = words.to_lowercase().replace(['’', '‘'], "'");
    straight.replace(['“', '”'], "\"")
}

// ----- Numbers and dates -------------------------------------------------------------------

/// A number and its canonical unit ("" when none), as found in a text.
struct Quantity {
    value: String,
    unit: String,
    range: Range<usize>,
}

impl Quantity {
    fn display(&self) -> String {
        match self.unit.as_str() {
            "" => self.value.clone(),
            unit => format!("{} {unit}", self.value),
        }
    }
}

/// Each canonical unit and how it is written; Korean forms match as a word's start ("정을").
const UNITS: &str = "mg:mg,milligram,milligrams,밀리그램 g:g,gm,gram,grams \
    kg:kg,kilogram,kilograms mcg:mcg,µg,μg,ug,microgram,micrograms ng:ng \
    ml:ml,cc,millilitre,millilitres,milliliter,milliliters l:l,litre,litres,liter,liters dl:dl \
    mmhg:mmhg mmol:mmol meq:meq iu:iu,u,unit,units %:%,percent,퍼센트 °c:°c,℃ \
    tab:tab,tabs,tablet,tablets,pill,pills,정,알 cap:cap,caps,capsule,capsules,캡슐 \
    times:x,time,times,회,번 h:h,hr,hrs,hour,hours,시간 min:min,mins,minute,minutes,분 \
    d:d,day,days,일 wk:wk,wks,week,weeks,주,주일 mo:mo,month,months,개월,달 \
    y:y,yr,yrs,year,years,년,세 bpm:bpm kcal:kcal mm:mm cm:cm puff:puff,puffs drop:drop,drops";

/// The canonical unit `word` spells (or, for Korean, starts with) and the bytes it uses.
fn unit_of(word: &str) -> Option<(&'static str, usize)> {
    let word = word.to_lowercase();
    let korean = word.starts_with(is_hangul);
    let groups = UNITS.split_whitespace().filter_map(|g| g.split_once(':'));
    let aliases = groups.flat_map(|(unit, list)| list.split(',').map(move |a| (unit, a)));
    let fits = |a: &str| word == a || (korean && word.starts_with(a));
    let best = aliases
        .filter(|(_, a)| fits(a))
        .max_by_key(|(_, a)| a.len());
    best.map(|(unit, alias)| (unit, alias.len()))
}

/// Numbers outside `dates`, with units. Digits glued to letters ("CYP3A4", "HbA1c",
/// "COVID-19") are names, not numbers.
fn find_quantities(text: &str, dates: &[(Range<usize>, String)]) -> Vec<Quantity> {
    static NUMBER: OnceLock<Option<Regex>> = OnceLock::new();
    // A number ("1,000.5", ".5", "12"), then at most one space and a unit-like word.
    let number = r"(?i)([0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]*\.[0-9]+|[0-9]+)";
    let pattern = || format!(r"{number}(?: ?(%|°c|℃|[a-zµμ]+(?:/[a-z0-9]+)?|[가-힣]+))?");
    let Some(re) = cached(&NUMBER, pattern) else {
        return Vec::new();
    };
    let glued = |at: usize| {
        let mut before = text[..at].chars().rev();
        match before.next() {
            Some('-' | '_') => before.next().is_some_and(|c| c.is_ascii_alphabetic()),
            Some(c) => c.is_alphabetic() && !is_hangul(c),
            None => false,
        }
    };
    let in_date = |at: usize| dates.iter().any(|d| d.0.contains(&at));
    let found = re.captures_iter(text).filter_map(|c| {
        let number = c.get(1)?;
        let (start, end) = (number.start(), number.end());
        (!glued(start) && !in_date(start)).then(|| quantity(number.as_str(), start..end, c.get(2)))
    });
    tidy_quantities(text, found.collect())
}

/// Canonical value: "0.50", ".5" and "00.5" are all "0.5", and "1,000" is "1000".
fn quantity(number: &str, range: Range<usize>, unit: Option<regex::Match<'_>>) -> Quantity {
    let digits = number.replace(',', "");
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
    let int = if int.is_empty() { "0" } else { int };
    let value = format!("{int}{}{frac}", if frac.is_empty() { "" } else { "." });
    let (unit, end) = unit
        .and_then(read_unit)
        .unwrap_or((String::new(), range.end));
    let range = range.start..end;
    Quantity { value, unit, range }
}

/// The canonical unit a match spells and where it ends. "/day" goes ("mg/day" is "mg": doses
/// are given per day); other units after '/' stay ("mg/kg", "mg/dl").
fn read_unit(word: regex::Match<'_>) -> Option<(String, usize)> {
    let (base, per) = word.as_str().split_once('/').unzip();
    let base = base.unwrap_or(word.as_str());
    let (unit, used) = unit_of(base)?;
    let end = if base.starts_with(is_hangul) {
        word.start() + used
    } else {
        word.end()
    };
    let per = per.map(|p| unit_of(p).map_or_else(|| p.to_lowercase(), |u| u.0.to_string()));
    match per.as_deref() {
        None | Some("d") => Some((unit.to_string(), end)),
        Some(per) => Some((format!("{unit}/{per}"), end)),
    }
}

/// Rules that need a number's neighbours.
fn tidy_quantities(text: &str, mut found: Vec<Quantity>) -> Vec<Quantity> {
    let gap = |a: &Quantity, b: &Quantity| text.get(a.range.end..b.range.start).map(str::trim);
    // A range or list shares the unit after its last number: "5-10 mg", "5 or 10 mg".
    for k in (1..found.len()).rev() {
        let joined = listed(
            "- – — ~ to or and , 또는",
            gap(&found[k - 1], &found[k]).unwrap_or("?"),
        );
        if joined && found[k - 1].unit.is_empty() {
            found[k - 1].unit = found[k].unit.clone();
        }
    }
    // "1일 2회" is Korean for "twice a day": its "1일" counts no days.
    for k in 1..found.len() {
        let (a, b) = (&found[k - 1], &found[k]);
        if a.unit == "d" && a.value == "1" && b.unit == "times" && gap(a, b) == Some("") {
            found[k - 1].value.clear();
        }
    }
    found.retain(|q| !q.value.is_empty());
    // A calendar year has no unit: "2024년" and "in 2024" are the same number.
    for q in &mut found {
        if q.unit == "y" && q.value.len() == 4 && q.value.starts_with(['1', '2']) {
            q.unit.clear();
        }
    }
    found
}

/// Dates as (span, "YYYY-MM-DD" or "YYYY-MM"): 2024-03-01, 2024/3/1, 2024년 3월 1일,
/// March 1, 2024, 1 March 2024, March 2024.
fn find_dates(text: &str) -> Vec<(Range<usize>, String)> {
    static DATE: OnceLock<Option<Regex>> = OnceLock::new();
    // (year, month, day) groups of each alternative, 0 for none; months from 7 on are names.
    const GROUPS: [[usize; 3]; 5] = [[1, 2, 3], [4, 5, 6], [9, 7, 8], [12, 11, 10], [14, 13, 0]];
    let pattern = || {
        let m = concat!(
            r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|",
            r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
        );
        let (d, y, th) = (r"([0-9]{1,2})", r"([0-9]{4})", "(?:st|nd|rd|th)?");
        let iso = format!(r"{y}[-/.]{d}[-/.]{d}");
        let korean = format!(r"{y}\s*년\s*{d}\s*월(?:\s*{d}\s*일)?");
        let english = format!(r"\b{m}\s+{d}{th},?\s+{y}|\b{d}{th}\s+{m},?\s+{y}|\b{m},?\s+{y}");
        format!("(?i){iso}|{korean}|{english}")
    };
    let Some(re) = cached(&DATE, pattern) else {
        return Vec::new();
    };
    let date = |c: Captures<'_>| {
        let (whole, [y, m, d]) = (c.get(0)?, *GROUPS.iter().find(|g| c.get(g[0]).is_some())?);
        let num = |g: usize| c.get(g).filter(|_| g > 0)?.as_str().parse::<u32>().ok();
        let month = num(m).or_else(|| month_number(c.get(m)?.as_str()))?;
        let (year, day) = (num(y)?, num(d));
        let digit = |c: char| c.is_ascii_digit();
        let bounded =
            !text[..whole.start()].ends_with(digit) && !text[whole.end()..].starts_with(digit);
        let valid = (1..=12).contains(&month) && day.is_none_or(|d| (1..=31).contains(&d));
        let day = day.map(|d| format!("-{d:02}")).unwrap_or_default();
        (bounded && valid).then(|| (whole.range(), format!("{year:04}-{month:02}{day}")))
    };
    re.captures_iter(text).filter_map(date).collect()
}

fn month_number(name: &str) -> Option<u32> {
    let key = name.get(..3)?.to_ascii_lowercase();
    let months = "jan feb mar apr may jun jul aug sep oct nov dec".split(' ');
    (1..).zip(months).find(|(_, m)| *m == key).map(|(n, _)| n)
}

// ----- Checking ----------------------------------------------------------------------------

/// What one piece of text, an answer sentence or a source sentence, says.
struct Claim {
    tokens: Vec<Vec<String>>,
    quantities: Vec<Quantity>,
    dates: Vec<String>,
    negated: bool,
}

impl Claim {
    fn new(text: &str) -> Self {
        let dates = find_dates(text);
        let quantities = find_quantities(text, &dates);
        let words = words(text);
        let mut tokens: Vec<Vec<String>> = words.iter().filter_map(token).collect();
        tokens.extend(quantities.iter().map(|q| vec![format!("#{}", q.value)]));
        let negated = is_negated(text, &words);
        let dates = dates.into_iter().map(|d| d.1).collect();
        Claim {
            tokens,
            quantities,
            dates,
            negated,
        }
    }
}

/// One source sentence, ready for matching.
struct SourceSentence {
    excerpt: String,
    tokens: Vec<Vec<String>>,
    keys: HashSet<String>,
    negated: bool,
}

/// A number with a unit, tied to the word it is about; see [`contradictions`].
struct Anchored {
    anchor: String,
    unit: String,
    qualifiers: String,
    value: String,
}

/// What the checks need from one cited source, built once per call.
#[derive(Default)]
struct SourceIndex {
    number: usize,
    folded: String,
    keys: HashSet<String>,
    /// Each number both bare ("5") and with its unit ("5 mg").
    numbers: BTreeSet<String>,
    dates: BTreeSet<String>,
    sentences: Vec<SourceSentence>,
    anchored: Vec<Anchored>,
}

impl SourceIndex {
    fn new(source: &Source<'_>) -> Self {
        let (text, _) = normalise_chars(source.text);
        let folded = fold(&text);
        let mut index = SourceIndex {
            number: source.number,
            folded,
            ..Self::default()
        };
        for range in split_sentences(&text) {
            let sentence = text.get(range).unwrap_or("");
            let (claim, words) = (Claim::new(sentence), words(sentence));
            // Every Hangul syllable and bigram, so an answer's stem matches whatever ending
            // follows it here.
            let mut keys: HashSet<String> = claim.tokens.iter().flatten().cloned().collect();
            for word in words.iter().filter(|w| w.hangul) {
                let chars: Vec<char> = word.text.chars().collect();
                keys.extend(chars.iter().map(char::to_string));
                keys.extend(chars.windows(2).map(|p| p.iter().collect::<String>()));
            }
            for q in &claim.quantities {
                index.numbers.extend([q.value.clone(), q.display()]);
            }
            index.anchored.extend(anchored(&words, &claim.quantities));
            index.keys.extend(keys.iter().cloned());
            index.dates.extend(claim.dates);
            index.sentences.push(SourceSentence {
                excerpt: prefix(sentence, 120).to_string(),
                tokens: claim.tokens,
                keys,
                negated: claim.negated,
            });
        }
        index
    }
}

/// Words too generic to say what a number is about; Korean ones also inside a word.
const GENERIC: &str = "dose doses dosage dosing daily start starting initial initially maximum \
    minimum usual usually recommended take taken give given administer administered patient \
    patients adult adults child children once twice increase increased decrease reduce reduced \
    level levels value total maintenance target least less greater above below over under every \
    exceed orally oral then 용량 투여 복용 하루 환자 성인 소아 초기 최대 최소 유지 증량 감량 경우 \
    이상 이하 미만 초과 매일 시작 목표 권장";
/// Words that change what a number means, by group: numbers are compared only between equal
/// qualifier sets, so "start with 5 mg" and "maximum 10 mg" do not conflict.
const QUALIFIERS: &str = "max:max,maximum,exceed,최대 min:min,minimum,least,최소 \
    start:initial,initially,start,starting,초기,시작 keep:maintenance,usual,유지 \
    target:target,goal,목표 above:above,over,more,greater,이상,초과 below:below,under,less,이하,미만 \
    child:child,children,pediatric,paediatric,소아 old:elderly,고령,노인 renal:renal,신장 \
    adult:adult,adults,성인";

fn anchored(words: &[Word<'_>], quantities: &[Quantity]) -> Vec<Anchored> {
    let tie = |q: &Quantity| {
        let at = words.partition_point(|w| w.at < q.range.start);
        let before = &words[at.saturating_sub(ANCHOR_WINDOW)..at];
        let anchor = before.iter().rev().find_map(anchor_key)?;
        let after = words[at..].iter().filter(|w| w.at >= q.range.end).take(4);
        let qualifiers: BTreeSet<&str> = before.iter().chain(after).filter_map(qualifier).collect();
        let qualifiers = qualifiers.into_iter().collect::<Vec<_>>().join(",");
        let (unit, value) = (q.unit.clone(), q.value.clone());
        Some(Anchored {
            anchor,
            unit,
            qualifiers,
            value,
        })
    };
    let with_unit = quantities.iter().filter(|q| !q.unit.is_empty());
    with_unit.filter_map(tie).collect()
}

fn anchor_key(word: &Word<'_>) -> Option<String> {
    if negates(word) {
        return None;
    }
    if word.hangul {
        let stem =
            korean_stem(word.text).filter(|s| s.chars().count() >= 2 && !listed(KO_STOP, s))?;
        return (!GENERIC.split(' ').any(|g| stem.contains(g))).then(|| stem.to_string());
    }
    let w = lower(word.text);
    let common = listed(STOPWORDS, &w) || listed(GENERIC, &w) || unit_of(&w).is_some();
    (w.chars().count() >= 4 && w.chars().all(char::is_alphabetic) && !common).then_some(w)
}

fn qualifier(word: &Word<'_>) -> Option<&'static str> {
    let w = lower(word.text);
    let fits = |a: &str| if word.hangul { w.contains(a) } else { w == a };
    let groups = QUALIFIERS.split(' ').filter_map(|g| g.split_once(':'));
    for (group, list) in groups {
        if list.split(',').any(fits) {
            return Some(group);
        }
    }
    None
}

const NOT_FOUND: &str = "could not find|couldn't find|cannot find|can't find|did not find|\
    not found in|no information|not mentioned|do not mention|does not mention|do not contain|\
    does not contain|do not address|does not address|not covered|찾을 수 없|찾지 못|확인할 수 없|\
    확인되지 않|언급되어 있지 않|언급되지 않|언급이 없|정보가 없|내용이 없|나와 있지 않|포함되어 있지 않";
const LABELS: &str = "source sources reference references 출처 참고 참고문헌 근거";
const CONTRAST: &str = "but however although though except 하지만 그러나 다만";

/// Whether a sentence makes no checkable claim; see [`Support::Exempt`].
fn is_exempt(plain: &str, claim: &Claim, uncited: bool) -> bool {
    if !claim.quantities.is_empty() || !claim.dates.is_empty() || !quotes(plain).is_empty() {
        return false;
    }
    let folded = fold(plain);
    let words = words(&folded);
    let label = words.first().is_some_and(|w| listed(LABELS, w.text));
    let colon = folded.trim_end_matches([',', ';', '.', ' ']).ends_with(':');
    let heading = (label || colon) && claim.tokens.len() <= 4;
    // "I could not find X, but the dose is…" makes a claim after all.
    let contrast = |w: &Word<'_>| listed(CONTRAST, w.text) || w.text.ends_with("지만");
    let not_found = NOT_FOUND.split('|').any(|p| folded.contains(p));
    let not_found = not_found && uncited && claim.tokens.len() <= 15;
    (not_found && !words.iter().any(contrast))
        || (!claim.negated && (claim.tokens.is_empty() || heading))
}

fn check_sentence(
    answer: &str,
    range: Range<usize>,
    markers: &[Marker],
    index: &[SourceIndex],
) -> SentenceCheck {
    let first = markers.partition_point(|m| m.0.start < range.start);
    let inside = markers[first..]
        .iter()
        .take_while(|m| m.0.start < range.end);
    let citations = first_use(inside.flat_map(|m| m.1.iter().copied()));
    let text = answer.get(range.clone()).unwrap_or("").to_string();
    let (plain, cited) = (blank_markers(&text), index.iter());
    let cited: Vec<&SourceIndex> = cited.filter(|s| citations.contains(&s.number)).collect();
    let claim = Claim::new(&plain);
    let exempt = is_exempt(&plain, &claim, cited.is_empty());
    let mut problems = Vec::new();
    if !exempt && !cited.is_empty() {
        problems = check_claim(&plain, &claim, &cited);
    }
    let support = if exempt {
        Support::Exempt
    } else if cited.is_empty() {
        Support::Uncited
    } else if problems.is_empty() {
        Support::Supported
    } else {
        Support::Unsupported
    };
    SentenceCheck {
        text,
        range,
        citations,
        support,
        problems,
    }
}

fn check_claim(plain: &str, claim: &Claim, cited: &[&SourceIndex]) -> Vec<Flag> {
    let mut out = Vec::new();
    for q in &claim.quantities {
        let (answer, unit) = (q.display(), format!(" {}", q.unit));
        if !cited.iter().any(|s| s.numbers.contains(&answer)) {
            let given = cited.iter().flat_map(|s| &s.numbers);
            let same_unit: BTreeSet<&String> = given.filter(|n| n.ends_with(&unit)).collect();
            let sources = same_unit.into_iter().take(5).cloned().collect();
            out.push(Flag::NumberMismatch { answer, sources });
        }
    }
    let dates: BTreeSet<&String> = cited.iter().flat_map(|s| &s.dates).collect();
    for answer in claim.dates.iter().cloned() {
        // A less precise date ("2024-03") is backed by a more precise one ("2024-03-01").
        if !dates.iter().any(|d| d.starts_with(&answer)) {
            let sources = dates.iter().take(5).map(|d| d.to_string()).collect();
            out.push(Flag::DateMismatch { answer, sources });
        }
    }
    for quote in quotes(plain).into_iter().filter(|q| !quote_found(q, cited)) {
        out.push(Flag::QuoteNotInSource {
            quote: quote.trim().into(),
        });
    }
    let percent = overlap(&claim.tokens, |k| cited.iter().any(|s| s.keys.contains(k)));
    if percent < MIN_OVERLAP {
        out.push(Flag::LowOverlap { percent });
    } else if negation_mismatch(claim, cited) {
        out.push(Flag::NegationMismatch);
    }
    out
}

/// The cited sentences that match the claim best (within 10 points) must include one of
/// its polarity. Below [`MIN_OVERLAP`] no sentence is about the claim at all.
fn negation_mismatch(claim: &Claim, cited: &[&SourceIndex]) -> bool {
    let sentences = cited.iter().flat_map(|s| &s.sentences);
    let scored: Vec<(u8, bool)> = sentences
        .map(|s| (overlap(&claim.tokens, |k| s.keys.contains(k)), s.negated))
        .collect();
    let best = scored.iter().map(|s| s.0).max().unwrap_or(0);
    let agrees = |s: &&(u8, bool)| s.0.saturating_add(10) >= best && s.1 == claim.negated;
    best >= MIN_OVERLAP && !scored.iter().any(|s| agrees(&s))
}

/// Quoted spans: "…", “…”, '…', ‘…’, «…», 「…」, 『…』. A single quote opens only after a
/// space or bracket and before a letter or digit, so "patient's" holds no quote.
fn quotes(text: &str) -> Vec<&str> {
    let (mut found, mut i) = (Vec::new(), 0);
    while let Some(c) = text.get(i..).and_then(|r| r.chars().next()) {
        let next = i + c.len_utf8();
        let before = text[..i].chars().next_back();
        let spaced = before.is_none_or(|p| p.is_whitespace() || "([".contains(p));
        let single = matches!(c, '\'' | '‘');
        let opens = !single || (spaced && text[next..].starts_with(char::is_alphanumeric));
        let close = closing_quote(c).filter(|_| opens);
        match close.and_then(|close| Some((close, find_close(&text[next..], close)?))) {
            Some((close, len)) => {
                let inner = &text[next..next + len];
                if inner.chars().filter(|c| c.is_alphanumeric()).count() >= 2 {
                    found.push(inner);
                }
                i = next + len + close.len_utf8();
            }
            None => i = next,
        }
    }
    found
}

/// Offset of the closing mark; a single quote closes only before a non-letter ("don't").
fn find_close(rest: &str, close: char) -> Option<usize> {
    let scope = prefix(rest, MAX_QUOTE);
    let apostrophe = matches!(close, '\'' | '’');
    let closes = |&(j, c): &(usize, char)| {
        c == close && !(apostrophe && scope[j + c.len_utf8()..].starts_with(char::is_alphabetic))
    };
    scope.char_indices().find(closes).map(|(j, _)| j)
}

/// Whether the quote occurs in one cited source, ignoring case, spacing and punctuation at
/// its ends; "…" or "..." in it stand for omitted text, so its pieces must occur in order.
fn quote_found(quote: &str, cited: &[&SourceIndex]) -> bool {
    let folded = fold(&quote.replace('…', "..."));
    let ends = |c: char| c.is_whitespace() || ".,;:!?".contains(c);
    let pieces: Vec<&str> = folded
        .split("...")
        .map(|p| p.trim_matches(ends))
        .filter(|p| !p.is_empty())
        .collect();
    let in_order = |source: &&&SourceIndex| {
        let mut from = 0;
        pieces.iter().all(|p| {
            let at = source.folded.get(from..).and_then(|h| h.find(p));
            from += at.map_or(0, |a| a + p.len());
            at.is_some()
        })
    };
    pieces.is_empty() || cited.iter().any(|s| in_order(&s))
}

// ----- Contradictions ----------------------------------------------------------------------

fn contradictions_in(index: &[SourceIndex]) -> Vec<Flag> {
    let mut flags = number_conflicts(index);
    flags.extend(negation_conflicts(index));
    flags
}

fn number_conflicts(index: &[SourceIndex]) -> Vec<Flag> {
    let mut table: BTreeMap<(&str, &str, &str), BTreeMap<usize, BTreeSet<&str>>> = BTreeMap::new();
    for source in index {
        for a in &source.anchored {
            let values = table
                .entry((&a.anchor, &a.unit, &a.qualifiers))
                .or_default();
            values.entry(source.number).or_default().insert(&a.value);
        }
    }
    let join = |v: &BTreeSet<&str>| v.iter().copied().collect::<Vec<_>>().join(", ");
    let mut flags = Vec::new();
    for ((anchor, unit, _), by_source) in &table {
        for (&a, va) in by_source {
            let later = by_source.range((Bound::Excluded(a), Bound::Unbounded));
            for (&b, vb) in later.filter(|(_, vb)| va.is_disjoint(vb)) {
                let detail = format!(
                    "{anchor}: {} {unit} [{a}] vs {} {unit} [{b}]",
                    join(va),
                    join(vb)
                );
                flags.push(Flag::Contradiction {
                    sources: vec![a, b],
                    detail,
                });
            }
        }
    }
    first_use(flags)
}

fn negation_conflicts(index: &[SourceIndex]) -> Vec<Flag> {
    let covers = |x: &SourceSentence, y: &SourceSentence| {
        x.tokens.len() >= 2 && overlap(&x.tokens, |k| y.keys.contains(k)) >= 70
    };
    let mut flags = Vec::new();
    for (i, a) in index.iter().enumerate() {
        for b in index[i + 1..].iter().filter(|b| b.number != a.number) {
            let pair = a.sentences.iter().take(MAX_PAIR_SENTENCES).find_map(|x| {
                let mut ys = b.sentences.iter().take(MAX_PAIR_SENTENCES);
                ys.find(|y| x.negated != y.negated && covers(x, y) && covers(y, x))
                    .map(|y| (x, y))
            });
            if let Some((x, y)) = pair {
                let detail = format!(
                    "[{}] \"{}\" vs [{}] \"{}\"",
                    a.number, x.excerpt, b.number, y.excerpt
                );
                flags.push(Flag::Contradiction {
                    sources: vec![a.number, b.number],
                    detail,
                });
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn src(number: usize, text: &str) -> Source<'_> {
        Source { number, text }
    }

    /// The only sentence of a verified answer.
    fn single(answer: &str, sources: &[Source<'_>]) -> Result<SentenceCheck, String> {
        let v = verify(answer, sources);
        match v.sentences.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!(
                "expected one sentence in {answer:?}, got {other:#?}"
            )),
        }
    }

    fn has(problems: &[Flag], pred: impl Fn(&Flag) -> bool) -> bool {
        problems.iter().any(pred)
    }

    const AMLO: &str = "Amlodipine: the usual starting dose is 5 mg once daily; \
        the maximum dose is 10 mg once daily.";
    const AMLO_KO: &str =
        "암로디핀은 고혈압 환자에게 1일 1회 5mg을 투여한다. 최대 용량은 10mg이다.";

    // ----- markers

    #[test]
    fn markers_in_every_accepted_form_are_kept_and_canonical() {
        let sources = [
            src(1, "alpha beta"),
            src(2, "alpha gamma"),
            src(3, "alpha delta"),
        ];
        let v = verify(
            "Alpha beta [1]. Alpha gamma [1,2]. Alpha delta [1][3]. Alpha beta [1-2].",
            &sources,
        );
        assert_eq!(
            v.answer,
            "Alpha beta [1]. Alpha gamma [1, 2]. Alpha delta [1][3]. Alpha beta [1, 2]."
        );
        let cites: Vec<Vec<usize>> = v.sentences.iter().map(|s| s.citations.clone()).collect();
        assert_eq!(cites, [vec![1], vec![1, 2], vec![1, 3], vec![1, 2]]);
        assert_eq!(v.cited, [1, 2, 3]);
        assert!(v.flags.is_empty(), "{:?}", v.flags);
    }

    #[test]
    fn marker_to_a_missing_source_is_removed_and_flagged() -> TestResult {
        let sources = [src(1, "x"), src(2, "y"), src(3, "z")];
        let v = verify("Give amlodipine 5 mg daily [99].", &sources);
        assert_eq!(v.answer, "Give amlodipine 5 mg daily.");
        assert_eq!(
            v.flags,
            [Flag::UnknownSource {
                marker: "[99]".into()
            }]
        );
        assert!(v.cited.is_empty());
        assert_eq!(
            single("Give amlodipine 5 mg daily [99].", &sources)?.support,
            Support::Uncited
        );
        let v = verify("암로디핀은 5mg을 투여합니다 [1, 99].", &[src(1, AMLO_KO)]);
        assert_eq!(v.answer, "암로디핀은 5mg을 투여합니다 [1].");
        assert_eq!(
            v.flags,
            [Flag::UnknownSource {
                marker: "[1, 99]".into()
            }]
        );
        assert_eq!(v.sentences[0].support, Support::Supported);
        Ok(())
    }

    #[test]
    fn malformed_brackets_are_cleaned_and_flagged() {
        let sources = [src(1, AMLO), src(2, AMLO_KO)];
        let cases = [
            ("Amlodipine 5 mg [abc].", "Amlodipine 5 mg.", "[abc]"),
            ("Amlodipine 5 mg [[1]].", "Amlodipine 5 mg [1].", "[[1]]"),
            ("Amlodipine 5 mg [1", "Amlodipine 5 mg", "[1"),
            ("Amlodipine 5 mg] daily.", "Amlodipine 5 mg daily.", "]"),
            ("Amlodipine 5 mg [3-1].", "Amlodipine 5 mg.", "[3-1]"),
            ("암로디핀 5mg [[2]].", "암로디핀 5mg [2].", "[[2]]"),
            ("암로디핀 5mg [출처 2].", "암로디핀 5mg.", "[출처 2]"),
        ];
        for (input, shown, marker) in cases {
            let v = verify(input, &sources);
            assert_eq!(v.answer, shown, "{input}");
            assert_eq!(
                v.flags,
                [Flag::MalformedMarker {
                    marker: marker.into()
                }],
                "{input}"
            );
        }
    }

    #[test]
    fn zero_and_overlong_markers_are_unknown_sources() {
        let v = verify(
            "Dose 5 mg [0]. Dose 10 mg [99999999999999999999999999].",
            &[src(1, AMLO)],
        );
        assert_eq!(v.answer, "Dose 5 mg. Dose 10 mg.");
        assert_eq!(v.flags.len(), 2);
        assert!(
            v.flags
                .iter()
                .all(|f| matches!(f, Flag::UnknownSource { .. }))
        );
    }

    #[test]
    fn full_width_marker_is_normalised() -> TestResult {
        let s = single(
            "암로디핀은 1일 1회 5mg을 투여합니다［１］。",
            &[src(1, AMLO_KO)],
        )?;
        assert_eq!(s.text, "암로디핀은 1일 1회 5mg을 투여합니다[1]。");
        assert_eq!(s.citations, [1]);
        assert_eq!(s.support, Support::Supported, "{:?}", s.problems);
        Ok(())
    }

    #[test]
    fn marker_after_the_full_stop_belongs_to_the_sentence_before() {
        let sources = [
            src(1, AMLO),
            src(2, "Avoid grapefruit juice with amlodipine."),
        ];
        let v = verify(
            "The usual starting dose is 5 mg once daily. [1] Avoid grapefruit juice [2].",
            &sources,
        );
        let cites: Vec<_> = v
            .sentences
            .iter()
            .map(|s| (s.text.as_str(), s.citations.clone()))
            .collect();
        assert_eq!(
            cites,
            [
                ("The usual starting dose is 5 mg once daily. [1]", vec![1]),
                ("Avoid grapefruit juice [2].", vec![2])
            ]
        );
        let sources = [
            src(1, AMLO_KO),
            src(2, "암로디핀 복용 중에는 자몽 주스를 피하십시오."),
        ];
        let v = verify(
            "암로디핀은 1일 1회 5mg을 투여합니다.[1] 자몽 주스를 피하십시오 [2].",
            &sources,
        );
        let cites: Vec<_> = v.sentences.iter().map(|s| s.citations.clone()).collect();
        assert_eq!(cites, [vec![1], vec![2]]);
        assert!(
            v.sentences.iter().all(|s| s.support == Support::Supported),
            "{:#?}",
            v.sentences
        );
    }

    #[test]
    fn marker_alone_on_the_next_line_joins_the_sentence_before() {
        let v = verify(
            "The usual starting dose is 5 mg once daily.\n[1]",
            &[src(1, AMLO)],
        );
        assert_eq!(v.sentences.len(), 1);
        assert_eq!(v.sentences[0].citations, [1]);
    }

    // ----- sentences

    fn texts(v: &Verification) -> Vec<&str> {
        v.sentences.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn english_sentences_split_without_breaking_decimals_or_abbreviations() {
        let v = verify(
            "Give 5.5 mg, e.g. with food. Dr. Kim gives .5 mg vs. 1 mg. \
             Is it safe? Yes! See No. 5 now",
            &[],
        );
        assert_eq!(
            texts(&v),
            [
                "Give 5.5 mg, e.g. with food.",
                "Dr. Kim gives .5 mg vs. 1 mg.",
                "Is it safe?",
                "Yes!",
                "See No. 5 now"
            ]
        );
        for s in &v.sentences {
            assert_eq!(&v.answer[s.range.clone()], s.text);
        }
    }

    #[test]
    fn korean_sentences_split_at_korean_endings_and_ideographic_stops() {
        let v = verify(
            "하루 1회 복용합니다. 식후에 복용하세요.다음 날도 같습니다。괜찮나요? 네!",
            &[],
        );
        assert_eq!(
            texts(&v),
            [
                "하루 1회 복용합니다.",
                "식후에 복용하세요.",
                "다음 날도 같습니다。",
                "괜찮나요?",
                "네!"
            ]
        );
    }

    #[test]
    fn bullets_and_numbered_lines_are_sentences_without_their_bullets() {
        let v = verify(
            "Dosing:\n- Give 5 mg daily\n- Maximum 10 mg\n1. Check BP\n2) 혈압을 확인합니다\n## 요약",
            &[],
        );
        assert_eq!(
            texts(&v),
            [
                "Dosing:",
                "Give 5 mg daily",
                "Maximum 10 mg",
                "Check BP",
                "혈압을 확인합니다",
                "요약"
            ]
        );
    }

    #[test]
    fn quoted_sentences_do_not_split_inside_the_quote() {
        let v = verify(
            "The label says \"Do not crush. Swallow whole.\" Take it with water.",
            &[],
        );
        assert_eq!(
            texts(&v),
            [
                "The label says \"Do not crush. Swallow whole.\"",
                "Take it with water."
            ]
        );
    }

    // ----- support

    #[test]
    fn supported_sentences_in_english_and_korean() -> TestResult {
        let s = single(
            "The usual starting dose of amlodipine is 5 mg once daily [1].",
            &[src(1, AMLO)],
        )?;
        assert_eq!((s.support, s.problems), (Support::Supported, vec![]));
        let s = single(
            "고혈압 환자에게 암로디핀 5mg을 하루 한 번 투여합니다 [1].",
            &[src(1, AMLO_KO)],
        )?;
        assert_eq!((s.support, s.problems), (Support::Supported, vec![]));
        Ok(())
    }

    #[test]
    fn sentence_about_something_else_has_low_overlap() -> TestResult {
        let s = single(
            "Metformin causes lactic acidosis in renal failure [1].",
            &[src(1, AMLO)],
        )?;
        assert_eq!(s.support, Support::Unsupported);
        assert!(has(
            &s.problems,
            |f| matches!(f, Flag::LowOverlap { percent } if *percent < MIN_OVERLAP)
        ));
        let s = single(
            "메트포르민은 신부전에서 젖산증을 일으킵니다 [1].",
            &[src(1, AMLO_KO)],
        )?;
        assert!(
            has(&s.problems, |f| matches!(f, Flag::LowOverlap { .. })),
            "{:?}",
            s.problems
        );
        // Only the drug name in common: a quarter of the content words.
        let partial = [
            ("Amlodipine causes ankle oedema [1].", AMLO),
            ("암로디핀은 발목 부종을 일으킵니다 [1].", AMLO_KO),
        ];
        for (answer, source) in partial {
            let s = single(answer, &[src(1, source)])?;
            assert_eq!(s.problems, [Flag::LowOverlap { percent: 25 }], "{answer}");
        }
        Ok(())
    }

    #[test]
    fn wrong_dose_is_a_number_mismatch() -> TestResult {
        let source = [src(1, "The usual dose of amlodipine is 50 mg once daily.")];
        let s = single(
            "The usual dose of amlodipine is 5 mg once daily [1].",
            &source,
        )?;
        assert_eq!(s.support, Support::Unsupported);
        assert_eq!(
            s.problems,
            [Flag::NumberMismatch {
                answer: "5 mg".into(),
                sources: vec!["50 mg".into()]
            }]
        );
        let source = [src(1, "암로디핀의 통상 용량은 1일 1회 50mg이다.")];
        let s = single("암로디핀의 통상 용량은 1일 1회 5mg입니다 [1].", &source)?;
        assert_eq!(
            s.problems,
            [Flag::NumberMismatch {
                answer: "5 mg".into(),
                sources: vec!["50 mg".into()]
            }]
        );
        Ok(())
    }

    #[test]
    fn equal_numbers_written_differently_agree() -> TestResult {
        let cases = [
            ("Amlodipine 5mg daily [1].", "Amlodipine 5 mg daily."),
            ("Digoxin 0.5 mg daily [1].", "Digoxin .5 mg daily."),
            ("Digoxin .50 mg daily [1].", "Digoxin 0.5 mg daily."),
            (
                "Paracetamol 1,000 mg maximum per dose [1].",
                "Paracetamol 1000 mg maximum per dose.",
            ),
            (
                "Amlodipine 10 mg/day maximum [1].",
                "Amlodipine 10 mg daily maximum.",
            ),
            ("암로디핀 5 mg 투여 [1].", "암로디핀 5mg을 투여한다."),
            (
                "HbA1c 목표는 7% 미만입니다 [1].",
                "HbA1c 목표는 7 % 미만이다.",
            ),
        ];
        for (answer, source) in cases {
            let s = single(answer, &[src(1, source)])?;
            assert_eq!(s.support, Support::Supported, "{answer}: {:?}", s.problems);
        }
        Ok(())
    }

    #[test]
    fn units_must_agree() -> TestResult {
        let cases = [
            (
                "Levothyroxine 50 mg daily [1].",
                "Levothyroxine 50 mcg daily.",
                "50 mg",
            ),
            (
                "Fasting glucose above 126 mg/dL [1].",
                "Fasting glucose above 126 mmol/L.",
                "126 mg/dl",
            ),
            (
                "Target systolic pressure 140 mmHg [1].",
                "Target systolic pressure 140 %.",
                "140 mmhg",
            ),
            (
                "와파린 2정을 복용합니다 [1].",
                "와파린 2회 복용한다.",
                "2 tab",
            ),
            (
                "치료 기간은 3개월입니다 [1].",
                "치료 기간은 3주이다.",
                "3 mo",
            ),
        ];
        for (answer, source, wrong) in cases {
            let s = single(answer, &[src(1, source)])?;
            let expected =
                |f: &Flag| matches!(f, Flag::NumberMismatch { answer, .. } if answer == wrong);
            assert!(has(&s.problems, expected), "{answer}: {:?}", s.problems);
        }
        let ok = [
            (
                "Target systolic pressure below 140 mmHg [1].",
                "Target systolic pressure below 140 mmHg.",
            ),
            (
                "Fasting glucose 126 mg/dL or more [1].",
                "Fasting glucose 126 mg/dl or more.",
            ),
            (
                "치료 기간은 3개월, 추적은 2주 간격입니다 [1].",
                "치료 기간은 3 months이고 추적은 2 weeks 간격이다.",
            ),
        ];
        for (answer, source) in ok {
            let s = single(answer, &[src(1, source)])?;
            assert!(
                !has(&s.problems, |f| matches!(f, Flag::NumberMismatch { .. })),
                "{answer}: {:?}",
                s.problems
            );
        }
        Ok(())
    }

    #[test]
    fn ranges_share_their_unit_and_korean_frequency_reads_as_times() -> TestResult {
        let source = [src(1, "Amlodipine 5-10 mg once daily.")];
        for answer in [
            "Amlodipine 10 mg once daily [1].",
            "Amlodipine 5 mg once daily [1].",
        ] {
            assert_eq!(
                single(answer, &source)?.support,
                Support::Supported,
                "{answer}"
            );
        }
        let ko = [src(1, "암로디핀은 하루 2회 복용한다.")];
        let s = single("암로디핀은 1일 2회 복용합니다 [1].", &ko)?;
        assert_eq!(s.support, Support::Supported, "{:?}", s.problems);
        let s = single("암로디핀은 1일 3회 복용합니다 [1].", &ko)?;
        let three =
            |f: &Flag| matches!(f, Flag::NumberMismatch { answer, .. } if answer == "3 times");
        assert!(has(&s.problems, three), "{:?}", s.problems);
        Ok(())
    }

    #[test]
    fn names_with_digits_are_not_numbers() -> TestResult {
        let s = single(
            "Amlodipine is metabolised by CYP3A4 [1].",
            &[src(
                1,
                "Amlodipine is metabolised by the liver enzyme CYP 3A.",
            )],
        )?;
        assert!(
            !has(&s.problems, |f| matches!(f, Flag::NumberMismatch { .. })),
            "{:?}",
            s.problems
        );
        Ok(())
    }

    #[test]
    fn dates_agree_across_formats_and_mismatch_is_flagged() -> TestResult {
        let source = [src(
            1,
            "The revised guideline took effect on March 1, 2024.",
        )];
        for answer in [
            "The revised guideline took effect on 2024-03-01 [1].",
            "The revised guideline took effect on 1 March 2024 [1].",
            "개정 지침은 2024년 3월 1일부터 시행되었습니다 [1].",
        ] {
            let s = single(answer, &source)?;
            assert!(
                !has(&s.problems, |f| matches!(f, Flag::DateMismatch { .. })),
                "{answer}: {:?}",
                s.problems
            );
        }
        let s = single(
            "The revised guideline took effect on 2024-03-02 [1].",
            &source,
        )?;
        let expected = Flag::DateMismatch {
            answer: "2024-03-02".into(),
            sources: vec!["2024-03-01".into()],
        };
        assert_eq!(s.problems, [expected]);
        let s = single(
            "개정 지침은 2024년 4월 1일부터 시행되었다 [1].",
            &[src(1, "개정 지침은 2024년 3월 1일부터 시행되었다.")],
        )?;
        assert!(has(
            &s.problems,
            |f| matches!(f, Flag::DateMismatch { answer, .. } if answer == "2024-04-01")
        ));
        Ok(())
    }

    #[test]
    fn english_negation_must_agree() -> TestResult {
        let negated = [src(
            1,
            "Do not give 5 mg of amlodipine to children under six.",
        )];
        let s = single(
            "Give 5 mg of amlodipine to children under six [1].",
            &negated,
        )?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single(
            "Do not give 5 mg of amlodipine to children under six [1].",
            &negated,
        )?;
        assert_eq!(s.support, Support::Supported);
        let plain = [src(1, "Give 5 mg of amlodipine to children under six.")];
        let s = single(
            "Never give 5 mg of amlodipine to children under six [1].",
            &plain,
        )?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single(
            "Warfarin is safe in pregnancy [1].",
            &[src(1, "Warfarin is contraindicated in pregnancy.")],
        )?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single(
            "Avoid grapefruit juice with simvastatin [1].",
            &[src(1, "Simvastatin: avoid grapefruit juice.")],
        )?;
        assert_eq!(s.support, Support::Supported);
        Ok(())
    }

    #[test]
    fn korean_negation_must_agree() -> TestResult {
        let negated = [src(1, "임신 중에는 와파린을 투여하지 않는다.")];
        let s = single("임신 중에는 와파린을 투여한다 [1].", &negated)?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single("임신 중에는 와파린을 투여하지 마십시오 [1].", &negated)?;
        assert_eq!(s.support, Support::Supported, "{:?}", s.problems);
        let s = single(
            "와파린은 임신 중 사용할 수 있습니다 [1].",
            &[src(1, "와파린은 임신 중 금기이다.")],
        )?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single(
            "임신 중에는 와파린을 투여할 수 없습니다 [1].",
            &[src(1, "임신 중에는 와파린을 투여한다.")],
        )?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        Ok(())
    }

    #[test]
    fn limits_and_idioms_are_not_negations() -> TestResult {
        let cases = [
            (
                "The maximum dose is 10 mg daily [1].",
                "Do not exceed 10 mg daily.",
            ),
            (
                "Give at most 10 mg of amlodipine daily [1].",
                "Give no more than 10 mg of amlodipine daily.",
            ),
            (
                "Take amlodipine with food [1].",
                "Amlodipine can be taken with or without food.",
            ),
            (
                "하루 최대 10mg까지 복용합니다 [1].",
                "하루 10mg을 넘지 않도록 복용한다.",
            ),
            (
                "암로디핀은 식사와 함께 복용할 수 있습니다 [1].",
                "암로디핀은 식사와 관계없이 복용할 수 있다.",
            ),
        ];
        for (answer, source) in cases {
            let s = single(answer, &[src(1, source)])?;
            assert_eq!(s.support, Support::Supported, "{answer}: {:?}", s.problems);
        }
        Ok(())
    }

    #[test]
    fn negation_is_judged_against_the_best_matching_source_sentence() -> TestResult {
        let source = [src(
            1,
            "Give 5 mg of amlodipine to adults. Do not give amlodipine to children under six.",
        )];
        let s = single("Give amlodipine to children under six [1].", &source)?;
        assert_eq!(s.problems, [Flag::NegationMismatch]);
        let s = single("Give 5 mg of amlodipine to adults [1].", &source)?;
        assert_eq!(s.support, Support::Supported);
        Ok(())
    }

    #[test]
    fn quotes_must_be_verbatim_in_a_cited_source() -> TestResult {
        let source = [src(
            1,
            "Label: Do not crush   or chew the tablets. Swallow them whole with water.",
        )];
        let s = single(
            "The label says “do not crush or chew the tablets” [1].",
            &source,
        )?;
        assert_eq!(s.support, Support::Supported, "{:?}", s.problems);
        let s = single(
            "The label says \"Do not crush … the tablets.\" [1]",
            &source,
        )?;
        assert_eq!(s.support, Support::Supported, "{:?}", s.problems);
        let s = single("The label says 'do not split the tablets' [1].", &source)?;
        assert!(has(
            &s.problems,
            |f| matches!(f, Flag::QuoteNotInSource { quote } if quote == "do not split the tablets")
        ));
        let s = single(
            "The patient's tablets should not be crushed or chewed [1].",
            &source,
        )?;
        assert!(
            !has(&s.problems, |f| matches!(f, Flag::QuoteNotInSource { .. })),
            "{:?}",
            s.problems
        );
        let ko = [src(1, "설명서: 정제를 씹거나 부수지 마십시오.")];
        let s = single(
            "설명서에는 「정제를 씹거나 부수지 마십시오」라고 되어 있습니다 [1].",
            &ko,
        )?;
        assert!(
            !has(&s.problems, |f| matches!(f, Flag::QuoteNotInSource { .. })),
            "{:?}",
            s.problems
        );
        let s = single(
            "설명서에는 「정제를 물과 함께 드십시오」라고 되어 있습니다 [1].",
            &ko,
        )?;
        assert!(has(
            &s.problems,
            |f| matches!(f, Flag::QuoteNotInSource { quote } if quote == "정제를 물과 함께 드십시오")
        ));
        Ok(())
    }

    #[test]
    fn uncited_claims_are_uncited() {
        let v = verify(
            "Amlodipine lowers blood pressure. 암로디핀은 혈압을 낮춥니다. No.",
            &[src(1, AMLO)],
        );
        let support: Vec<_> = v.sentences.iter().map(|s| s.support).collect();
        assert_eq!(support, [Support::Uncited; 3]);
    }

    #[test]
    fn headings_and_not_found_statements_are_exempt_but_not_when_they_claim() {
        let v = verify(
            "Sources: [1]\nSee [1] for details.\n\
             I could not find the paediatric dose in the documents.\n\
             문서에서 찾을 수 없습니다.\n출처:\nThank you.",
            &[src(1, AMLO)],
        );
        assert!(
            v.sentences.iter().all(|s| s.support == Support::Exempt),
            "{:#?}",
            v.sentences
        );
        let v = verify(
            "I could not find a guideline, but the dose is 5 mg.\n\
             문서에서 찾을 수 없지만 용량은 5mg입니다.\n\
             Warfarin is not safe in pregnancy:\n\
             I could not find a guideline, but amlodipine is safe in pregnancy.\n\
             문서에서 찾을 수 없지만 암로디핀은 임신 중 안전합니다.",
            &[],
        );
        assert!(
            v.sentences.iter().all(|s| s.support == Support::Uncited),
            "{:#?}",
            v.sentences
        );
    }

    // ----- contradictions

    #[test]
    fn sources_giving_different_doses_contradict() {
        let sources = [
            src(1, "Amlodipine 5 mg once daily."),
            src(2, "Amlodipine 10 mg once daily."),
        ];
        let flags = contradictions(&sources, &[1, 2]);
        assert_eq!(
            flags,
            [Flag::Contradiction {
                sources: vec![1, 2],
                detail: "amlodipine: 5 mg [1] vs 10 mg [2]".into()
            }]
        );
        let ko = [
            src(1, "암로디핀은 1일 1회 5mg을 투여한다."),
            src(2, "암로디핀은 1일 1회 10mg을 투여한다."),
        ];
        let flags = contradictions(&ko, &[1, 2]);
        assert_eq!(
            flags,
            [Flag::Contradiction {
                sources: vec![1, 2],
                detail: "암로디핀: 5 mg [1] vs 10 mg [2]".into()
            }]
        );
        assert!(contradictions(&ko, &[1]).is_empty());
    }

    #[test]
    fn no_contradiction_for_unrelated_or_compatible_numbers() {
        let pairs = [
            (
                "Amlodipine 5 mg once daily.",
                "Lisinopril 10 mg once daily.",
            ),
            (
                "Amlodipine 5 mg to 10 mg once daily.",
                "Amlodipine 10 mg once daily.",
            ),
            ("Amlodipine: start with 5 mg.", "Amlodipine: maximum 10 mg."),
            (
                "The trial enrolled 120 patients over 12 weeks.",
                "Amlodipine 5 mg once daily.",
            ),
            (
                "Amlodipine 5 mg daily in adults.",
                "Amlodipine 2.5 mg daily in children.",
            ),
            (
                "암로디핀은 1일 1회 5mg을 투여한다.",
                "최대 용량은 암로디핀 10mg이다.",
            ),
            (
                "Amlodipine reduces stroke by 20%.",
                "Amlodipine is given once daily.",
            ),
        ];
        for (a, b) in pairs {
            let flags = contradictions(&[src(1, a), src(2, b)], &[1, 2]);
            assert!(flags.is_empty(), "{a} | {b}: {flags:?}");
        }
    }

    #[test]
    fn sources_negating_each_other_contradict() {
        let en = [
            src(1, "Amlodipine can be used during pregnancy."),
            src(2, "Amlodipine should not be used during pregnancy."),
        ];
        let flags = contradictions(&en, &[1, 2]);
        assert!(
            matches!(flags.as_slice(), [Flag::Contradiction { sources, .. }] if sources == &[1, 2]),
            "{flags:?}"
        );
        let ko = [
            src(1, "임신 중에는 와파린을 투여할 수 있다."),
            src(3, "임신 중에는 와파린을 투여하지 않는다."),
        ];
        let flags = contradictions(&ko, &[1, 3]);
        assert!(
            matches!(flags.as_slice(), [Flag::Contradiction { sources, .. }] if sources == &[1, 3]),
            "{flags:?}"
        );
        let unrelated = [
            src(1, "Take amlodipine with water."),
            src(2, "Do not take amlodipine with grapefruit juice."),
        ];
        assert!(contradictions(&unrelated, &[1, 2]).is_empty());
    }

    #[test]
    fn verify_reports_contradictions_between_cited_sources_only() {
        let sources = [
            src(1, "Amlodipine 5 mg once daily."),
            src(2, "Amlodipine 10 mg once daily."),
            src(3, "x"),
        ];
        let v = verify("Amlodipine 5 mg once daily [1].", &sources);
        assert!(v.flags.is_empty());
        let v = verify(
            "Amlodipine 5 mg once daily [1] or 10 mg once daily [2].",
            &sources,
        );
        assert!(
            has(&v.flags, |f| matches!(f, Flag::Contradiction { .. })),
            "{:?}",
            v.flags
        );
    }

    // ----- sanitising

    #[test]
    fn markup_is_stripped_but_comparisons_are_kept() {
        let v = verify(
            "<b>Give</b> 5 mg daily<script>alert('[2]')</script> [1].<!-- hidden -->",
            &[src(1, AMLO)],
        );
        assert_eq!(v.answer, "Give 5 mg daily [1].");
        assert_eq!(v.flags, [Flag::Markup]);
        let v = verify(
            "Target BP <140/90 mmHg; a < b; <주의> 와파린 [1].",
            &[src(1, AMLO)],
        );
        assert_eq!(
            v.answer,
            "Target BP <140/90 mmHg; a < b; <주의> 와파린 [1]."
        );
        assert!(v.flags.is_empty());
        let v = verify("첫 줄<br>둘째 줄<SCRIPT src=x></SCRIPT>", &[]);
        assert_eq!(texts(&v), ["첫 줄", "둘째 줄"]);
    }

    #[test]
    fn hidden_characters_are_removed() {
        let v = verify(
            "Give 5 mg\u{202E}gm 05\u{202C} daily\u{200B} [1].",
            &[src(1, AMLO)],
        );
        assert_eq!(v.answer, "Give 5 mggm 05 daily [1].");
        assert_eq!(v.flags, [Flag::HiddenCharacters]);
    }

    // ----- robustness

    /// A small deterministic generator, so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    fn assert_consistent(v: &Verification, sources: &[Source<'_>]) {
        for s in &v.sentences {
            assert_eq!(v.answer.get(s.range.clone()), Some(s.text.as_str()));
            assert!(s.citations.iter().all(|n| v.cited.contains(n)));
        }
        assert!(
            v.cited
                .iter()
                .all(|n| sources.iter().any(|s| s.number == *n))
        );
        // Every bracket left is a canonical marker.
        let mut rest = v.answer.as_str();
        while let Some(at) = rest.find('[') {
            let end = rest[at..].find(']').map(|e| at + e);
            let body = end.map(|e| &rest[at + 1..e]);
            assert!(
                body.is_some_and(
                    |b| !b.is_empty() && b.split(", ").all(|n| n.parse::<usize>().is_ok())
                ),
                "{:?}",
                v.answer
            );
            rest = &rest[end.unwrap_or(at) + 1..];
        }
        assert_eq!(v.answer.matches(']').count(), v.answer.matches('[').count());
    }

    #[test]
    fn never_panics_on_random_or_hostile_input() {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "[1]",
            "[2-",
            "[[3]]",
            "［１］",
            "5",
            ".",
            ".5",
            "mg",
            " ",
            "\n",
            "다.",
            "요.",
            "e.g.",
            "\"",
            "“",
            "”",
            "「",
            "'",
            "<",
            ">",
            "<b>",
            "<script>",
            "<!--",
            "-->",
            "not",
            "않",
            "금지",
            "2024-03-01",
            "2024년 3월",
            "March 1, 2024",
            "1일 2회",
            "5 mg/dL",
            "%",
            "😀",
            "👨‍👩‍👧",
            "\u{202E}",
            "\u{200F}",
            "مرحبا",
            "é",
            "\u{301}",
            "\u{FEFF}",
            "1,000",
            "9999999999999999999999",
            "-",
            "…",
            "CYP3A4",
        ];
        let sources_text = [
            "Amlodipine 5 mg once daily. Do not give 10 mg.",
            "암로디핀 1일 1회 5mg. 임신 중 금기.",
            "",
        ];
        let sources: Vec<Source<'_>> = sources_text
            .iter()
            .enumerate()
            .map(|(i, t)| src(i + 1, t))
            .collect();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..400 {
            let answer = if round % 2 == 0 {
                let bytes: Vec<u8> = (0..rng.below(300))
                    .map(|_| u8::try_from(rng.next() & 0xFF).unwrap_or(0))
                    .collect();
                String::from_utf8_lossy(&bytes).into_owned()
            } else {
                (0..rng.below(80))
                    .map(|_| PIECES[rng.below(PIECES.len())])
                    .collect()
            };
            let v = verify(&answer, &sources);
            assert_consistent(&v, &sources);
            let as_source = [src(1, answer.as_str()), src(2, sources_text[0])];
            let _flags = contradictions(&as_source, &[1, 2]);
            let v = verify(sources_text[1], &as_source);
            assert_consistent(&v, &as_source);
        }
    }

    #[test]
    fn pathological_inputs_stay_fast() {
        let inputs = [
            "[".repeat(50_000),
            "<!--".repeat(25_000),
            "<script>".repeat(12_000),
            "\"".repeat(50_000),
            "「".repeat(30_000),
            "5".repeat(100_000),
            "a.".repeat(50_000),
            "[1".repeat(50_000),
        ];
        let sources = [src(1, AMLO)];
        for input in &inputs {
            let start = std::time::Instant::now();
            let v = verify(input, &sources);
            assert_consistent(&v, &sources);
            assert!(
                start.elapsed().as_secs_f64() < budget(),
                "{:?}…: {:?}",
                &input[..10],
                start.elapsed()
            );
        }
    }

    /// Release builds must verify a 100k-character answer well under a second; debug
    /// builds get more room so the test is not flaky there.
    fn budget() -> f64 {
        if cfg!(debug_assertions) { 5.0 } else { 0.5 }
    }

    #[test]
    fn a_hundred_thousand_character_answer_verifies_quickly() {
        let sources = [
            src(1, AMLO),
            src(2, AMLO_KO),
            src(3, "Amlodipine 10 mg once daily."),
        ];
        let unit = "The usual starting dose of amlodipine is 5 mg once daily [1]. \
            암로디핀은 1일 1회 5mg을 투여합니다 [2]. \"Maximum dose is 10 mg\" [1][3].\n";
        let answer = unit.repeat(100_000 / unit.chars().count() + 1);
        assert!(answer.chars().count() >= 100_000);
        let start = std::time::Instant::now();
        let v = verify(&answer, &sources);
        let elapsed = start.elapsed();
        assert!(elapsed.as_secs_f64() < budget(), "{elapsed:?}");
        assert!(v.sentences.len() > 1000);
        assert!(
            v.sentences
                .iter()
                .take(3)
                .all(|s| s.support == Support::Supported),
            "{:#?}",
            &v.sentences[..3]
        );
        let one_sentence = "amlodipine 5 mg ".repeat(7_000);
        let start = std::time::Instant::now();
        let _v = verify(&format!("{one_sentence}[1]"), &sources);
        assert!(
            start.elapsed().as_secs_f64() < budget(),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn word_lists_have_no_empty_entries() {
        let lists = [
            STOPWORDS,
            KO_ENDINGS,
            KO_STOP,
            KO_NEGATION,
            GENERIC,
            QUALIFIERS,
            ABBREVIATIONS,
            LABELS,
            CONTRAST,
            LIMITS,
            UNITS,
        ];
        for list in lists {
            assert!(
                list.split(' ').all(|w| !w.is_empty() && !w.contains('\n')),
                "{list}"
            );
        }
        assert!(NOT_FOUND.split('|').all(|p| !p.is_empty() && p.trim() == p));
        assert_eq!(unit_of("밀리그램을"), Some(("mg", "밀리그램".len())));
        assert_eq!(unit_of("µg"), Some(("mcg", "µg".len())));
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(
            find_dates("2024-03-01 2024-13-01").len(),
            1,
            "month 13 is no date"
        );
        assert_eq!(find_quantities("5 mg", &[]).len(), 1);
        assert_eq!(strip_markup("<b>x</b>"), ("x".to_string(), true));
        assert_eq!(split_sentences("- x").first(), Some(&(2..3)));
    }
}
