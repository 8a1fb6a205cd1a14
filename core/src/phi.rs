//! Finding and masking protected health information (PHI) in text: Korean
//! resident registration numbers (주민등록번호), phone numbers, e-mail
//! addresses, patient ids / MRNs (patterns from settings, and the ids the
//! library's records carry) and patient names taken from the library's FHIR
//! Patient resources.
//!
//! Used on everything that leaves Sillok for people other than the user of the
//! moment: logs (always, through [`MaskedWriter`]), audit exports (always) and
//! conversation exports when the user asks for a de-identified copy. It owns
//! only detection and replacement; where names come from is the core's
//! ([`crate::Sillok::phi_masker`]) and the index's business.
//!
//! Detection is deliberately eager: a masked word that was not PHI costs a
//! reader a moment, a missed name costs a patient their privacy.
//!
//! ```
//! let masker = sillok_core::phi::PhiMasker::new(&[], &["김가상".to_owned()])?;
//! assert_eq!(
//!     masker.mask("김가상 환자 900101-1234568, 010-1234-5678"),
//!     "[NAME] 환자 [RRN], [PHONE]"
//! );
//! # Ok::<(), sillok_core::Error>(())
//! ```

use std::ops::Range;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use regex::{Regex, RegexBuilder};

use crate::{Error, Result};

/// What kind of PHI a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhiKind {
    /// A Korean resident (or foreigner) registration number.
    Rrn,
    /// A phone number (Korean mobile or landline, or international).
    Phone,
    /// An e-mail address.
    Email,
    /// A patient id or medical record number.
    PatientId,
    /// A patient's name.
    Name,
}

impl PhiKind {
    /// The text that replaces a match.
    pub fn token(self) -> &'static str {
        match self {
            PhiKind::Rrn => "[RRN]",
            PhiKind::Phone => "[PHONE]",
            PhiKind::Email => "[EMAIL]",
            PhiKind::PatientId => "[ID]",
            PhiKind::Name => "[NAME]",
        }
    }
}

/// One piece of PHI found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhiMatch {
    /// What it is.
    pub kind: PhiKind,
    /// Byte range in the text.
    pub range: Range<usize>,
}

/// Shortest patient id masked wherever it appears (shorter ones, such as
/// FHIR's `p-1`, would mask ordinary words; patterns in settings catch MRNs).
const MIN_LITERAL_ID_CHARS: usize = 6;

/// Finds and masks PHI. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct PhiMasker {
    /// MRN patterns from settings.
    patterns: Arc<Vec<Regex>>,
    /// Every spelling of every known patient name, longest first, as one
    /// alternation (case-insensitive for Latin script).
    names: Option<Arc<Regex>>,
    /// Known patient ids, as one alternation.
    ids: Option<Arc<Regex>>,
}

impl PhiMasker {
    /// A masker with the built-in detectors, the MRN `patterns` (regular
    /// expressions, from settings) and the patient `names` given.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSetting`] for a pattern that is not a valid regular
    /// expression or that matches the empty string.
    pub fn new(patterns: &[String], names: &[String]) -> Result<Self> {
        Self::with_ids(patterns, names, &[])
    }

    /// [`PhiMasker::new`] that also masks the literal patient `ids` given
    /// (those of at least six characters).
    ///
    /// # Errors
    ///
    /// As [`PhiMasker::new`].
    pub fn with_ids(patterns: &[String], names: &[String], ids: &[String]) -> Result<Self> {
        let patterns = compile_patterns(patterns)?;
        let mut spellings: Vec<String> = names.iter().flat_map(|n| name_spellings(n)).collect();
        spellings.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        spellings.dedup();
        let mut ids: Vec<&str> = ids
            .iter()
            .map(|i| i.trim())
            .filter(|i| i.chars().count() >= MIN_LITERAL_ID_CHARS)
            .collect();
        ids.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        ids.dedup();
        Ok(PhiMasker {
            patterns: Arc::new(patterns),
            names: alternation(spellings.iter().map(String::as_str), true)?.map(Arc::new),
            ids: alternation(ids.into_iter(), false)?.map(Arc::new),
        })
    }

    /// Every piece of PHI in `text`, in order, without overlaps (where two
    /// overlap, the one starting first wins, then the longer).
    pub fn find(&self, text: &str) -> Vec<PhiMatch> {
        let mut found = Vec::new();
        find_rrns(text, &mut found);
        find_phones(text, &mut found);
        for m in EMAIL.find_iter(text) {
            found.push(PhiMatch {
                kind: PhiKind::Email,
                range: m.range(),
            });
        }
        for pattern in self.patterns.iter() {
            for m in pattern.find_iter(text).filter(|m| !m.is_empty()) {
                found.push(PhiMatch {
                    kind: PhiKind::PatientId,
                    range: m.range(),
                });
            }
        }
        for (regex, kind) in [
            (&self.ids, PhiKind::PatientId),
            (&self.names, PhiKind::Name),
        ] {
            let Some(regex) = regex else { continue };
            for m in regex.find_iter(text) {
                if stands_alone(text, m.range()) {
                    found.push(PhiMatch {
                        kind,
                        range: m.range(),
                    });
                }
            }
        }
        found.sort_by(|a, b| {
            a.range
                .start
                .cmp(&b.range.start)
                .then(b.range.end.cmp(&a.range.end))
        });
        let mut kept: Vec<PhiMatch> = Vec::with_capacity(found.len());
        for m in found {
            if kept
                .last()
                .is_none_or(|last| m.range.start >= last.range.end)
            {
                kept.push(m);
            }
        }
        kept
    }

    /// `text` with every piece of PHI replaced by its kind's token
    /// (`[RRN]`, `[PHONE]`, `[EMAIL]`, `[ID]`, `[NAME]`).
    pub fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in self.find(text) {
            out.push_str(&text[at..m.range.start]);
            out.push_str(m.kind.token());
            at = m.range.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Masks every string in a JSON value (object keys are left alone: they
    /// are Sillok's own field names).
    pub fn mask_json(&self, value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                let masked = self.mask(s);
                if masked != *s {
                    *s = masked;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.mask_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.mask_json(v)),
            _ => {}
        }
    }
}

/// A masker that can be swapped while writers hold it: logging starts before
/// the data directory (and its settings and names) is open.
#[derive(Debug, Clone, Default)]
pub struct SharedMasker(Arc<RwLock<PhiMasker>>);

impl SharedMasker {
    /// Replaces the masker.
    pub fn set(&self, masker: PhiMasker) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = masker;
    }

    /// Masks `text` with the current masker.
    pub fn mask(&self, text: &str) -> String {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .mask(text)
    }
}

/// An [`std::io::Write`] that masks PHI in each complete line before passing
/// it on (what is left without a newline is masked and written on flush or
/// drop). For log output: `tracing_subscriber::fmt().with_writer(move ||
/// MaskedWriter::new(std::io::stderr(), masker.clone()))`.
#[derive(Debug)]
pub struct MaskedWriter<W: std::io::Write> {
    inner: W,
    masker: SharedMasker,
    pending: Vec<u8>,
}

impl<W: std::io::Write> MaskedWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, masker: SharedMasker) -> Self {
        MaskedWriter {
            inner,
            masker,
            pending: Vec::new(),
        }
    }

    fn write_masked(&mut self, upto: usize) -> std::io::Result<()> {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let masked = self.masker.mask(&String::from_utf8_lossy(&line));
        self.inner.write_all(masked.as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for MaskedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            self.write_masked(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.write_masked(self.pending.len())?;
        }
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for MaskedWriter<W> {
    fn drop(&mut self) {
        // Drop cannot report a failed log write; stderr is all there is.
        if let Err(e) = std::io::Write::flush(self) {
            eprintln!("cannot write a log line: {e}");
        }
    }
}

/// Whether a Korean registration number's 13 digits pass the check digit
/// (weights 2–9, 2–5; the 13th is `(11 - sum mod 11) mod 10`). Numbers issued
/// since October 2020 carry a random last part and may fail it.
pub fn rrn_checksum_ok(digits: &[u8; 13]) -> bool {
    const WEIGHTS: [u32; 12] = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    (11 - sum % 11) % 10 == u32::from(digits[12])
}

static RRN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9]{6}(?: ?[-‐–] ?)?[0-9]{7}").expect("a valid constant pattern")
});

/// Korean mobile (010 …, separators optional), landline and internet phone
/// (02, 031 …, 070, 050x: separators required), `(02) 123-4567`, and
/// international numbers (`+82 10-1234-5678`).
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"01[016789][-. ]?[0-9]{3,4}[-. ]?[0-9]{4}",
        r"|0(?:2|[3-6][1-5]|70|50[0-9])[-. )][0-9]{3,4}[-. ][0-9]{4}",
        r"|\(0(?:2|[3-6][1-5]|70)\) ?[0-9]{3,4}[-. ][0-9]{4}",
        r"|\+[1-9][0-9]{0,2}(?:[-. ]?\(?[0-9]{1,4}\)?){2,6}",
    ))
    .expect("a valid constant pattern")
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("a valid constant pattern")
});

/// Registration numbers: `YYMMDD-GNNNNNN` (a hyphen, optionally spaced) when
/// the date and the sex/century digit are plausible — numbers issued since
/// 2020 have no check digit, so one is not required; thirteen bare digits
/// only with a valid check digit (a bare number is too often something else).
fn find_rrns(text: &str, found: &mut Vec<PhiMatch>) {
    for m in RRN.find_iter(text) {
        if !alnum_bounded(text, m.range()) {
            continue;
        }
        let digits: Vec<u8> = m
            .as_str()
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        let Ok(digits) = <[u8; 13]>::try_from(digits) else {
            continue;
        };
        let month = digits[2] * 10 + digits[3];
        let day = digits[4] * 10 + digits[5];
        let plausible = (1..=12).contains(&month)
            && (1..=days_in_month(month)).contains(&day)
            && (1..=8).contains(&digits[6]);
        let separated = m.as_str().len() > 13;
        if plausible && (separated || rrn_checksum_ok(&digits)) {
            found.push(PhiMatch {
                kind: PhiKind::Rrn,
                range: m.range(),
            });
        }
    }
}

fn days_in_month(month: u8) -> u8 {
    match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn find_phones(text: &str, found: &mut Vec<PhiMatch>) {
    for m in PHONE.find_iter(text) {
        let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
        let international = m.as_str().starts_with('+');
        if alnum_bounded(text, m.range()) && (!international || (8..=15).contains(&digits)) {
            found.push(PhiMatch {
                kind: PhiKind::Phone,
                range: m.range(),
            });
        }
    }
}

/// No ASCII letter or digit right before or after `range`: `12900101-1234568`
/// is not a registration number, nor is a run of digits inside a hex hash.
/// (Hangul may touch a number: `번호9001011234568`.)
fn alnum_bounded(text: &str, range: Range<usize>) -> bool {
    let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !joins(text[..range.start].chars().next_back()) && !joins(text[range.end..].chars().next())
}

/// A Latin-script name or id must not run on into other letters or digits
/// (`Ann` is not in `Annual`); Hangul names may (`김가상에게`: particles follow
/// a name without a space).
fn stands_alone(text: &str, range: Range<usize>) -> bool {
    let found = &text[range.clone()];
    let joins = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let first = found.chars().next();
    let last = found.chars().next_back();
    let before = text[..range.start].chars().next_back();
    let after = text[range.end..].chars().next();
    !((joins(first) && joins(before)) || (joins(last) && joins(after)))
}

/// The ways a name may be written: as given; for names of two or more parts
/// also family-first (FHIR's `given family` becomes Korean order, `김 가상`),
/// `Family, Given`, and for Hangul without spaces (`김가상`).
fn name_spellings(name: &str) -> Vec<String> {
    let parts: Vec<&str> = name.split_whitespace().collect();
    if parts.is_empty() || name.chars().filter(|c| c.is_alphanumeric()).count() < 2 {
        return Vec::new();
    }
    let mut out = vec![parts.join(" ")];
    if parts.len() > 1 {
        let mut reversed = parts.clone();
        reversed.rotate_right(1);
        out.push(reversed.join(" "));
        out.push(format!("{}, {}", reversed[0], reversed[1..].join(" ")));
        if name.chars().any(is_hangul) {
            out.push(parts.concat());
            out.push(reversed.concat());
        }
    }
    out
}

fn is_hangul(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

fn alternation<'a>(
    literals: impl Iterator<Item = &'a str>,
    case_insensitive: bool,
) -> Result<Option<Regex>> {
    let escaped: Vec<String> = literals.map(regex::escape).collect();
    if escaped.is_empty() {
        return Ok(None);
    }
    RegexBuilder::new(&escaped.join("|"))
        .case_insensitive(case_insensitive)
        // Thousands of names make a large automaton; the default cap is 10 MB.
        .size_limit(256 << 20)
        .build()
        .map(Some)
        .map_err(|e| Error::InvalidSetting {
            reason: format!("cannot build the patient-name matcher: {e}"),
        })
}

fn compile_patterns(patterns: &[String]) -> Result<Vec<Regex>> {
    patterns
        .iter()
        .map(|p| {
            let regex = Regex::new(p).map_err(|e| Error::InvalidSetting {
                reason: format!("phi_patterns: {p:?} is not a valid regular expression: {e}"),
            })?;
            if regex.is_match("") {
                return Err(Error::InvalidSetting {
                    reason: format!("phi_patterns: {p:?} matches empty text"),
                });
            }
            Ok(regex)
        })
        .collect()
}

/// Checks MRN patterns as settings carry them.
///
/// # Errors
///
/// As [`PhiMasker::new`].
pub fn validate_patterns(patterns: &[String]) -> Result<()> {
    compile_patterns(patterns).map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// Synthetic numbers: `900101-1234568` has a valid check digit,
    /// `900101-1234567` does not.
    const VALID_RRN: &str = "900101-1234568";
    const BAD_CHECK_RRN: &str = "900101-1234567";

    fn digits(s: &str) -> [u8; 13] {
        let v: Vec<u8> = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        <[u8; 13]>::try_from(v).unwrap_or([0; 13])
    }

    #[test]
    fn registration_number_check_digits() {
        assert!(rrn_checksum_ok(&digits(VALID_RRN)));
        assert!(!rrn_checksum_ok(&digits(BAD_CHECK_RRN)));
        // A woman born in 2005 (7th digit 4), synthetic.
        assert!(rrn_checksum_ok(&digits("050315-4000012")));
    }

    #[test]
    fn registration_numbers_with_and_without_hyphen() -> TestResult {
        let m = PhiMasker::new(&[], &[])?;
        assert_eq!(m.mask("주민번호: 900101-1234568."), "주민번호: [RRN].");
        assert_eq!(m.mask("주민번호 900101 - 1234568"), "주민번호 [RRN]");
        // Bare digits need the check digit …
        assert_eq!(m.mask("번호9001011234568임"), "번호[RRN]임");
        assert_eq!(m.mask("order 9001011234567"), "order 9001011234567");
        // … a hyphenated number does not (post-2020 numbers have none).
        assert_eq!(m.mask(BAD_CHECK_RRN), "[RRN]");
        // Impossible dates and sex digits, and longer digit runs, are not.
        for text in [
            "901301-1234568",
            "900132-1234568",
            "900101-9234568",
            "1900101-1234568",
            "900101-12345689",
            "2024-01-15",
        ] {
            assert_eq!(m.mask(text), text, "{text}");
        }
        Ok(())
    }

    #[test]
    fn phone_numbers_korean_and_international() -> TestResult {
        let m = PhiMasker::new(&[], &[])?;
        for (text, masked) in [
            ("연락처 010-1234-5678", "연락처 [PHONE]"),
            ("연락처 01012345678로", "연락처 [PHONE]로"),
            ("병동 02-3410-1234", "병동 [PHONE]"),
            ("외래 031.123.4567", "외래 [PHONE]"),
            ("(02) 555-0100 내선", "[PHONE] 내선"),
            ("call +82 10-1234-5678 today", "call [PHONE] today"),
            ("US +1 (555) 010-0199", "US [PHONE]"),
        ] {
            assert_eq!(m.mask(text), masked, "{text}");
        }
        for text in [
            "BP 130/80, HbA1c 7.2%",
            "2024-03-15 09:30",
            "로사르탄 50 mg 1일 1회",
            "021234567",
            "+12",
            "chunk clinic:3fa01012345678b#2",
        ] {
            assert_eq!(m.mask(text), text, "{text}");
        }
        Ok(())
    }

    #[test]
    fn emails_and_mrn_patterns() -> TestResult {
        let m = PhiMasker::new(
            &[r"MRN[- ]?[0-9]{6,}".to_owned(), r"\bH[0-9]{8}\b".to_owned()],
            &[],
        )?;
        assert_eq!(
            m.mask("보호자 kim.gasang+ward@example.org 메일, MRN-0012345, 등록 H20240001"),
            "보호자 [EMAIL] 메일, [ID], 등록 [ID]"
        );
        assert!(matches!(
            PhiMasker::new(&["(unclosed".to_owned()], &[]),
            Err(Error::InvalidSetting { .. })
        ));
        assert!(matches!(
            PhiMasker::new(&["x*".to_owned()], &[]),
            Err(Error::InvalidSetting { .. })
        ));
        Ok(())
    }

    #[test]
    fn hangul_and_latin_names_in_every_order() -> TestResult {
        // FHIR HumanName parts joined given-first: "가상 김", "Jin-ho Kim".
        let m = PhiMasker::with_ids(
            &[],
            &[
                "가상 김".to_owned(),
                "Jin-ho Kim".to_owned(),
                "이".to_owned(),
            ],
            &["PT-000123".to_owned(), "p-1".to_owned()],
        )?;
        for (text, masked) in [
            (
                "김가상 환자에게 로사르탄 추가",
                "[NAME] 환자에게 로사르탄 추가",
            ),
            ("김가상에게", "[NAME]에게"),
            ("김 가상 님", "[NAME] 님"),
            ("Patient Jin-ho Kim, 63", "Patient [NAME], 63"),
            ("KIM, JIN-HO seen", "[NAME] seen"),
            ("kim jin-ho", "[NAME]"),
            ("patient PT-000123 and p-1", "patient [ID] and p-1"),
        ] {
            assert_eq!(m.mask(text), masked, "{text}");
        }
        // Not inside longer Latin words; a one-letter name is never masked.
        assert_eq!(m.mask("Jin-ho Kimberly"), "Jin-ho Kimberly");
        assert_eq!(m.mask("이 약은"), "이 약은");
        Ok(())
    }

    #[test]
    fn overlapping_matches_mask_once() -> TestResult {
        let m = PhiMasker::new(&[r"[0-9]{6}-[0-9]{7}".to_owned()], &[])?;
        assert_eq!(m.mask(VALID_RRN), "[RRN]");
        let mut value = serde_json::json!({ "reason": "김가상 전원 010-1234-5678", "n": 3, "list": ["a@b.kr"] });
        PhiMasker::new(&[], &["김가상".to_owned()])?.mask_json(&mut value);
        assert_eq!(
            value,
            serde_json::json!({ "reason": "[NAME] 전원 [PHONE]", "n": 3, "list": ["[EMAIL]"] })
        );
        Ok(())
    }

    #[test]
    fn log_lines_are_masked_as_written() -> TestResult {
        let shared = SharedMasker::default();
        let mut out = Vec::new();
        {
            let mut writer = MaskedWriter::new(&mut out, shared.clone());
            write!(writer, "WARN reading 900101-")?;
            writeln!(writer, "1234568 failed")?;
            shared.set(PhiMasker::new(&[], &["홍길동".to_owned()])?);
            write!(writer, "홍길동_진료기록.pdf")?;
        }
        assert_eq!(
            String::from_utf8(out)?,
            "WARN reading [RRN] failed\n[NAME]_진료기록.pdf"
        );
        Ok(())
    }
}
