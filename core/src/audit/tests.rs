//! The audit log's own tests: chaining, every kind of tampering, crashes,
//! purges and checkpoints, exports. Synthetic data only.

use std::path::Path;
use std::sync::Arc;

use super::*;

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

const KEY: &[u8] = b"a test key of thirty-two bytes!!";
const DAY: i64 = DAY_MS;

/// Not encryption: lets tests see that sealed fields go through the sealer.
#[derive(Debug)]
struct HexSealer;

impl FieldSealer for HexSealer {
    fn seal(&self, plaintext: &[u8]) -> Result<Option<String>> {
        Ok(Some(format!("hex:{}", hex::encode(plaintext))))
    }

    fn unseal(&self, sealed: &str) -> Result<Option<Vec<u8>>> {
        Ok(sealed
            .strip_prefix("hex:")
            .and_then(|h| hex::decode(h).ok()))
    }
}

fn open(dir: &Path) -> Result<AuditLog> {
    AuditLog::open(dir, KEY, Arc::new(DropSealer))
}

/// A log of `n` search records.
fn log_of(dir: &Path, n: u64) -> Result<AuditLog> {
    let log = open(dir)?;
    for i in 1..=n {
        let seq = log.append(
            AuditEvent::new(Action::Search)
                .object("hits", vec![format!("notes:abc#{i}")])
                .sensitive("query", "혈압약"),
        )?;
        assert_eq!(seq, i);
    }
    Ok(log)
}

fn lines(dir: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_to_string(dir.join(LOG_FILE))?
        .lines()
        .map(str::to_owned)
        .collect())
}

fn write_lines(dir: &Path, lines: &[String]) -> std::io::Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.join(LOG_FILE), text)
}

fn first_problem(log: &AuditLog) -> Result<Problem> {
    let report = log.verify()?;
    Ok(report.problems.first().cloned().unwrap_or(Problem {
        kind: ProblemKind::Anchor,
        seq: None,
        line: None,
        detail: "no problem found".into(),
    }))
}

#[test]
fn records_chain_and_verify() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 5)?;
    let report = log.verify()?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        (report.records, report.first_seq, report.last_seq),
        (5, Some(1), Some(5))
    );
    let records: Vec<serde_json::Value> = lines(dir.path())?
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<std::result::Result<_, _>>()?;
    assert_eq!(records[0]["prev"], "0".repeat(64));
    for pair in records.windows(2) {
        assert_eq!(pair[1]["prev"], pair[0]["mac"]);
    }
    let first = &records[0];
    assert_eq!(first["action"], "search");
    assert_eq!(first["result"], "ok");
    assert_eq!(first["objects"]["hits"][0], "notes:abc#1");
    assert!(first["user"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(first["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(first["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let head: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(HEAD_FILE))?)?;
    assert_eq!(head["seq"], 5);
    assert_eq!(head["head"], records[4]["mac"]);
    Ok(())
}

#[test]
fn patient_data_is_never_written_in_plaintext() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path())?;
    log.append(
        AuditEvent::new(Action::Ask)
            .sensitive("question", "김가상 900101-1234568 혈압약?")
            .patient("PT-000123"),
    )?;
    let text = std::fs::read_to_string(dir.path().join(LOG_FILE))?;
    for secret in ["김가상", "900101", "혈압약", "PT-000123"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let record: serde_json::Value = serde_json::from_str(text.trim())?;
    assert_eq!(record["withheld"], serde_json::json!(["question"]));
    assert!(record.get("sealed").is_none());
    assert_eq!(record["patients"][0], log.pseudonym("PT-000123"));

    // With a sealer the fields are kept sealed, and an export can open them.
    log.set_sealer(Arc::new(HexSealer));
    log.append(AuditEvent::new(Action::Ask).sensitive("question", "김가상 환자 010-1234-5678?"))?;
    let text = std::fs::read_to_string(dir.path().join(LOG_FILE))?;
    assert!(!text.contains("김가상"));
    let masker = PhiMasker::new(&[], &["김가상".to_owned()])?;
    let mut out = Vec::new();
    let report = log.export(&masker, &mut out)?;
    assert_eq!((report.records, report.altered), (2, 0));
    let exported = String::from_utf8(out)?;
    let rows: Vec<serde_json::Value> = exported
        .lines()
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()?;
    assert!(rows[0].get("fields").is_none());
    assert_eq!(rows[1]["fields"]["question"], "[NAME] 환자 [PHONE]?");
    assert_eq!(rows[1]["intact"], true);
    assert!(!exported.contains("김가상") && !exported.contains("1234-5678"));
    Ok(())
}

#[test]
fn an_edited_record_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 5)?;
    let mut all = lines(dir.path())?;
    all[2] = all[2].replacen("\"result\":\"ok\"", "\"result\":\"refused\"", 1);
    write_lines(dir.path(), &all)?;
    let problem = first_problem(&log)?;
    assert_eq!(
        (problem.kind, problem.seq, problem.line),
        (ProblemKind::Edited, Some(3), Some(3)),
        "{problem}"
    );
    let report = log.verify()?;
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert!(problem.to_string().starts_with("record 3 (line 3): edited"));
    // An export marks it.
    let mut out = Vec::new();
    assert_eq!(log.export(&PhiMasker::default(), &mut out)?.altered, 1);
    Ok(())
}

#[test]
fn a_deleted_record_is_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 5)?;
    let mut all = lines(dir.path())?;
    all.remove(2);
    write_lines(dir.path(), &all)?;
    let problem = first_problem(&log)?;
    assert_eq!(
        (problem.kind, problem.seq, problem.line),
        (ProblemKind::Deleted, Some(3), Some(3)),
        "{problem}"
    );
    // The first records too.
    let mut all = lines(dir.path())?;
    all.remove(0);
    write_lines(dir.path(), &all)?;
    let problem = first_problem(&log)?;
    assert_eq!((problem.kind, problem.seq), (ProblemKind::Deleted, Some(1)));
    Ok(())
}

#[test]
fn reordered_records_are_named() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 5)?;
    let mut all = lines(dir.path())?;
    all.swap(1, 2);
    write_lines(dir.path(), &all)?;
    let problem = first_problem(&log)?;
    assert_eq!(
        (problem.kind, problem.seq, problem.line),
        (ProblemKind::Reordered, Some(3), Some(2)),
        "{problem}"
    );
    Ok(())
}

#[test]
fn records_cut_off_the_end_are_noticed_by_the_head() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 5)?;
    let mut all = lines(dir.path())?;
    all.truncate(3);
    write_lines(dir.path(), &all)?;
    let problem = first_problem(&log)?;
    assert_eq!(
        (problem.kind, problem.seq),
        (ProblemKind::Truncated, Some(4)),
        "{problem}"
    );
    assert!(problem.detail.contains("records 4–5"), "{problem}");

    // Appending does not hide it: the append records what it found.
    log.append(AuditEvent::new(Action::Search))?;
    let report = log.verify()?;
    let problem = report.problems.first().ok_or("no problem")?;
    assert_eq!(
        (problem.kind, problem.seq),
        (ProblemKind::RecordedDamage, Some(4)),
        "{report:?}"
    );
    assert!(problem.detail.contains("\"head_seq\":5"), "{problem}");

    // Nor does emptying the log.
    std::fs::write(dir.path().join(LOG_FILE), b"")?;
    assert_eq!(first_problem(&log)?.kind, ProblemKind::Truncated);
    Ok(())
}

#[test]
fn a_torn_last_line_is_reported_then_set_aside() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 3)?;
    // A crash in the middle of writing record 4: the head still says 3.
    let mut file = OpenOptions::new()
        .append(true)
        .open(dir.path().join(LOG_FILE))?;
    file.write_all(b"{\"v\":1,\"seq\":4,\"ts\":17")?;
    drop(file);
    let problem = first_problem(&log)?;
    assert_eq!(
        (problem.kind, problem.seq, problem.line),
        (ProblemKind::Torn, Some(4), Some(4)),
        "{problem}"
    );
    // The next append sets it aside and says so; the chain is whole again.
    assert_eq!(log.append(AuditEvent::new(Action::Lock))?, 5);
    let report = log.verify()?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.notices.len(), 1, "{report:?}");
    let kept: Vec<_> = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("torn-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        std::fs::read(kept[0].path())?,
        b"{\"v\":1,\"seq\":4,\"ts\":17"
    );

    // A record cut in half after it was written (the head knew it) is damage.
    let text = std::fs::read_to_string(dir.path().join(LOG_FILE))?;
    std::fs::write(dir.path().join(LOG_FILE), &text[..text.len() - 20])?;
    let problem = first_problem(&log)?;
    assert_eq!((problem.kind, problem.seq), (ProblemKind::Torn, Some(5)));
    log.append(AuditEvent::new(Action::Lock))?;
    let problem = first_problem(&log)?;
    assert_eq!(problem.kind, ProblemKind::RecordedDamage, "{problem}");
    Ok(())
}

#[test]
fn head_and_checkpoint_files_are_signed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = log_of(dir.path(), 3)?;
    let head = std::fs::read_to_string(dir.path().join(HEAD_FILE))?;
    std::fs::write(
        dir.path().join(HEAD_FILE),
        head.replacen("\"seq\":3", "\"seq\":2", 1),
    )?;
    assert_eq!(first_problem(&log)?.kind, ProblemKind::Anchor);
    std::fs::remove_file(dir.path().join(HEAD_FILE))?;
    let problem = first_problem(&log)?;
    assert_eq!(problem.kind, ProblemKind::Anchor);
    assert!(problem.detail.contains("missing"), "{problem}");
    Ok(())
}

#[test]
fn another_key_verifies_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    log_of(dir.path(), 2)?;
    let other = AuditLog::open(
        dir.path(),
        b"another key of 32 bytes, or so!!",
        Arc::new(DropSealer),
    )?;
    let report = other.verify()?;
    assert_eq!(report.records, 0);
    assert_eq!(report.problems[0].kind, ProblemKind::Edited);
    assert!(matches!(
        AuditLog::open(dir.path(), b"short", Arc::new(DropSealer)),
        Err(Error::AuditKey { .. })
    ));
    Ok(())
}

#[test]
fn appends_from_many_threads_stay_one_chain() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = Arc::new(open(dir.path())?);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || -> Result<()> {
                for i in 0..10 {
                    log.append(AuditEvent::new(Action::Search).object("n", t * 100 + i))?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "a thread panicked")??;
    }
    let report = log.verify()?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records, 40);
    Ok(())
}

#[test]
fn a_purge_keeps_the_chain_verifiable_behind_a_checkpoint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path())?;
    let now = now_ms();
    for age_days in [900, 800, 750, 100, 1] {
        log.append_at(
            AuditEvent::new(Action::Search).object("age", age_days),
            now - age_days * DAY,
        )?;
    }
    let report = log.purge_at(DEFAULT_RETENTION_DAYS, now)?;
    assert_eq!(
        (report.removed, report.kept, report.checkpoint_seq),
        (3, 2, Some(3))
    );
    let verified = log.verify()?;
    assert!(verified.is_intact(), "{verified:?}");
    assert_eq!(
        (
            verified.records,
            verified.first_seq,
            verified.last_seq,
            verified.checkpoint
        ),
        (3, Some(4), Some(6), Some((3, 3)))
    );
    let purge: serde_json::Value = serde_json::from_str(lines(dir.path())?.last().ok_or("empty")?)?;
    assert_eq!(purge["action"], "purge");
    assert_eq!(purge["objects"]["removed"], 3);

    // Nothing more to purge: still recorded; the chain goes on.
    assert_eq!(log.purge_at(DEFAULT_RETENTION_DAYS, now)?.removed, 0);
    assert!(log.verify()?.is_intact());

    // Without the checkpoint the start of the chain is missing.
    let checkpoint = std::fs::read(dir.path().join(CHECKPOINT_FILE))?;
    std::fs::remove_file(dir.path().join(CHECKPOINT_FILE))?;
    let problem = first_problem(&log)?;
    assert_eq!((problem.kind, problem.seq), (ProblemKind::Deleted, Some(1)));
    // A forged one is refused.
    let forged = String::from_utf8(checkpoint.clone())?.replacen("\"seq\":3", "\"seq\":2", 1);
    std::fs::write(dir.path().join(CHECKPOINT_FILE), forged)?;
    assert_eq!(first_problem(&log)?.kind, ProblemKind::Anchor);
    std::fs::write(dir.path().join(CHECKPOINT_FILE), checkpoint)?;
    assert!(log.verify()?.is_intact());

    // Everything purged: the chain restarts from the checkpoint.
    let later = now + 3_000 * DAY;
    assert_eq!(log.purge_at(DEFAULT_RETENTION_DAYS, later)?.removed, 4);
    let verified = log.verify()?;
    assert!(verified.is_intact(), "{verified:?}");
    assert_eq!(verified.checkpoint, Some((7, 7)));
    assert_eq!((verified.first_seq, verified.last_seq), (Some(8), Some(8)));
    Ok(())
}

#[test]
fn a_purge_interrupted_before_the_swap_still_verifies() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path())?;
    let now = now_ms();
    for age_days in [800, 790, 10] {
        log.append_at(AuditEvent::new(Action::Search), now - age_days * DAY)?;
    }
    let old_log = std::fs::read(dir.path().join(LOG_FILE))?;
    let old_head = std::fs::read(dir.path().join(HEAD_FILE))?;
    log.purge_at(DEFAULT_RETENTION_DAYS, now)?;
    // As if the process died after writing the checkpoint.
    std::fs::write(dir.path().join(LOG_FILE), old_log)?;
    std::fs::write(dir.path().join(HEAD_FILE), old_head)?;
    let report = log.verify()?;
    assert!(report.is_intact(), "{report:?}");
    log.append(AuditEvent::new(Action::Unlock))?;
    assert_eq!(log.purge_at(DEFAULT_RETENTION_DAYS, now)?.removed, 0);
    let report = log.verify()?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.first_seq, Some(3));
    Ok(())
}

#[test]
fn a_purge_of_a_damaged_log_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = open(dir.path())?;
    let now = now_ms();
    for age_days in [800, 790, 10] {
        log.append_at(AuditEvent::new(Action::Search), now - age_days * DAY)?;
    }
    let mut all = lines(dir.path())?;
    all.remove(1);
    write_lines(dir.path(), &all)?;
    let before = std::fs::read(dir.path().join(LOG_FILE))?;
    let err = log
        .purge_at(DEFAULT_RETENTION_DAYS, now)
        .expect_err("must refuse");
    assert!(matches!(err, Error::AuditPurgeRefused(_)), "{err}");
    assert!(err.is_user_error());
    assert_eq!(std::fs::read(dir.path().join(LOG_FILE))?, before);
    Ok(())
}
