//! Verification of the chain: what is wrong with a log, record by record,
//! first problem first. Pure: it reads bytes the caller loaded.

use std::collections::HashSet;
use std::fmt;

use super::Signed;
use super::format::{CheckpointBody, GENESIS, HeadBody, Keys, RecordBody, Tag, Unframed};
use super::{decode_mac, open_object};

/// What is wrong with a record or with the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The record's bytes do not match its MAC, or it does not link to the
    /// record before it.
    Edited,
    /// Records are missing before this point.
    Deleted,
    /// A record is out of place (moved or duplicated).
    Reordered,
    /// Records are missing from the end: the head file says more were written.
    Truncated,
    /// The last line is incomplete (a crash mid-write, or a cut file).
    Torn,
    /// A line that is not a record at all.
    Unreadable,
    /// The head or checkpoint file is altered or missing.
    Anchor,
    /// An earlier append found the log cut or altered and recorded it (a
    /// `recover` record marked suspect).
    RecordedDamage,
}

impl ProblemKind {
    /// Short name for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Edited => "edited",
            ProblemKind::Deleted => "deleted",
            ProblemKind::Reordered => "reordered",
            ProblemKind::Truncated => "truncated",
            ProblemKind::Torn => "torn",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Anchor => "anchor",
            ProblemKind::RecordedDamage => "recorded-damage",
        }
    }
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What.
    pub kind: ProblemKind,
    /// The record concerned (for deletions and truncation, the first missing one).
    pub seq: Option<u64>,
    /// The line of the log (1-based) where it shows, when it shows in one.
    pub line: Option<u64>,
    /// What a person should know.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.seq, self.line) {
            (Some(seq), Some(line)) => write!(f, "record {seq} (line {line}): ")?,
            (Some(seq), None) => write!(f, "record {seq}: ")?,
            (None, Some(line)) => write!(f, "line {line}: ")?,
            (None, None) => {}
        }
        write!(f, "{} — {}", self.kind.as_str(), self.detail)
    }
}

/// The result of a verification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records whose MAC matched.
    pub records: u64,
    /// The first and last record in the log.
    pub first_seq: Option<u64>,
    /// The last record.
    pub last_seq: Option<u64>,
    /// Where the last purge left the chain, and how many records all purges removed.
    pub checkpoint: Option<(u64, u64)>,
    /// Everything wrong, in the order found; the first is the first bad record.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not wrong (a crash recovered from).
    pub notices: Vec<String>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies `log` (the log file's bytes) against the head and checkpoint
/// files as found.
pub(crate) fn verify(
    keys: &Keys,
    log: &[u8],
    head: Signed<HeadBody>,
    checkpoint: Signed<CheckpointBody>,
) -> VerifyReport {
    let mut report = VerifyReport::default();
    let problem = |kind, seq, line, detail: String| Problem {
        kind,
        seq,
        line,
        detail,
    };
    let base = match &checkpoint {
        Signed::Valid(cp) => {
            report.checkpoint = Some((cp.seq, cp.purged_total));
            (cp.seq, decode_mac(&cp.head).unwrap_or(GENESIS))
        }
        Signed::Altered => {
            report.problems.push(problem(
                ProblemKind::Anchor,
                None,
                None,
                "the purge checkpoint file was altered".into(),
            ));
            (0, GENESIS)
        }
        Signed::Missing => (0, GENESIS),
    };
    let has_checkpoint = matches!(checkpoint, Signed::Valid(_));
    let (lines, torn) = match log.iter().rposition(|&b| b == b'\n') {
        Some(end) => (&log[..end], &log[end + 1..]),
        None => (&log[..0], log),
    };
    let parsed: Vec<Unframed<RecordBody>> = if lines.is_empty() && !log.starts_with(b"\n") {
        Vec::new()
    } else {
        lines
            .split(|&b| b == b'\n')
            .map(|l| open_object(keys, Tag::Record, l))
            .collect()
    };
    let present: HashSet<u64> = parsed
        .iter()
        .filter_map(|p| match p {
            Unframed::Good(r, _) | Unframed::BadMac(Some(r), _) => Some(r.seq),
            _ => None,
        })
        .collect();
    let head_seq = match &head {
        Signed::Valid(h) => Some(h.seq),
        _ => None,
    };
    let mut mac_at_head = (head_seq == Some(base.0)).then_some(base.1);
    let (mut expect_seq, mut expect_prev) = (base.0 + 1, base.1);
    let mut last_seq = base.0;
    for (i, entry) in parsed.iter().enumerate() {
        let line = Some(i as u64 + 1);
        let (r, mac) = match entry {
            Unframed::Unreadable => {
                report.problems.push(problem(
                    ProblemKind::Unreadable,
                    None,
                    line,
                    "not an audit record".into(),
                ));
                continue;
            }
            Unframed::BadMac(r, mac) => {
                report.problems.push(problem(
                    ProblemKind::Edited,
                    r.as_ref().map(|r| r.seq),
                    line,
                    "its contents do not match its MAC (edited)".into(),
                ));
                // Resynchronise on what it claims to be, so one edit is one problem.
                match r {
                    Some(r) if r.seq >= expect_seq => {
                        (expect_seq, expect_prev, last_seq) = (r.seq + 1, *mac, r.seq);
                    }
                    Some(_) => {}
                    None => {
                        (expect_seq, expect_prev, last_seq) = (expect_seq + 1, *mac, expect_seq)
                    }
                }
                continue;
            }
            Unframed::Good(r, mac) => (r, *mac),
        };
        report.records += 1;
        if report.first_seq.is_none() {
            report.first_seq = Some(r.seq);
        }
        report.last_seq = Some(r.seq);
        if has_checkpoint && r.seq <= base.0 {
            // Left by a purge interrupted before it swapped the log in.
            if r.seq == base.0 && mac != base.1 {
                report.problems.push(problem(
                    ProblemKind::Anchor,
                    Some(r.seq),
                    line,
                    "the purge checkpoint does not match this record".into(),
                ));
            }
            continue;
        }
        if Some(r.seq) == head_seq {
            mac_at_head = Some(mac);
        }
        if r.seq > expect_seq {
            let reordered = (expect_seq..r.seq)
                .take(10_000)
                .any(|s| present.contains(&s));
            report.problems.push(if reordered {
                problem(
                    ProblemKind::Reordered,
                    Some(r.seq),
                    line,
                    format!("out of place: record {expect_seq} should come here"),
                )
            } else {
                problem(
                    ProblemKind::Deleted,
                    Some(expect_seq),
                    line,
                    missing(expect_seq, r.seq - 1, &format!("before record {}", r.seq)),
                )
            });
        } else if r.seq < expect_seq {
            report.problems.push(problem(
                ProblemKind::Reordered,
                Some(r.seq),
                line,
                format!("out of place: it comes after record {}", expect_seq - 1),
            ));
            continue;
        } else if r.prev != hex::encode(expect_prev) {
            report.problems.push(problem(
                ProblemKind::Edited,
                Some(r.seq),
                line,
                "it does not link to the record before it (replaced)".into(),
            ));
        }
        if r.action == "recover" {
            let what = serde_json::Value::Object(r.objects.clone()).to_string();
            if r.objects.get("suspect").and_then(|v| v.as_bool()) == Some(false) {
                report.notices.push(format!(
                    "record {} ({}): an incomplete record left by a crash was set aside: {what}",
                    r.seq, r.time
                ));
            } else {
                report.problems.push(problem(
                    ProblemKind::RecordedDamage,
                    Some(r.seq),
                    line,
                    format!(
                        "at {} the log was found damaged before this record was written: {what}",
                        r.time
                    ),
                ));
            }
        }
        (expect_seq, expect_prev, last_seq) = (r.seq + 1, mac, r.seq);
    }
    if !torn.is_empty() {
        report.problems.push(problem(
            ProblemKind::Torn,
            Some(expect_seq),
            Some(parsed.len() as u64 + 1),
            format!(
                "the last record is incomplete ({} bytes): a write cut short by a crash, or a cut file; the next audited action sets it aside",
                torn.len()
            ),
        ));
    }
    match &head {
        Signed::Missing if last_seq > base.0 + 1 => report.problems.push(problem(
            ProblemKind::Anchor,
            None,
            None,
            "the chain head file is missing".into(),
        )),
        Signed::Altered => report.problems.push(problem(
            ProblemKind::Anchor,
            None,
            None,
            "the chain head file was altered".into(),
        )),
        Signed::Valid(h) if h.seq > last_seq => report.problems.push(problem(
            ProblemKind::Truncated,
            Some(last_seq + 1),
            None,
            missing(
                last_seq + 1,
                h.seq,
                &format!("from the end: the log was cut after record {last_seq}"),
            ),
        )),
        Signed::Valid(h) if decode_mac(&h.head) != mac_at_head => {
            report.problems.push(problem(
                ProblemKind::Anchor,
                Some(h.seq),
                None,
                "the chain head file does not match this record".into(),
            ));
        }
        _ => {}
    }
    report
}

fn missing(from: u64, to: u64, where_: &str) -> String {
    if from == to {
        format!("record {from} is missing {where_} (deleted)")
    } else {
        format!("records {from}–{to} are missing {where_} (deleted)")
    }
}
