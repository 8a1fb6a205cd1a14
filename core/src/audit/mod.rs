//! The audit trail: an append-only, hash-chained local log of who did what
//! to which documents — ingest, search, ask (with the chunks retrieved and
//! shown), view source, export (with the user's reason), delete, unlock,
//! lock, failed unlock, settings changes, purges.
//!
//! Owns the files in `<data>/audit/` (format: `docs/audit-log.md`):
//! appending (crash-safe, one writer at a time across processes, under an
//! OS file lock), verification ([`AuditLog::verify`] names the first edited,
//! deleted, reordered, truncated or torn record), retention purges with a
//! signed checkpoint, and the export for a privacy review with PHI masked.
//! Each record carries the previous record's HMAC-SHA256, and the chain head
//! is also kept in a small file of its own, so cutting records off the end is
//! noticed too.
//!
//! It does not know where its key comes from (the caller passes it to
//! [`AuditLog::open`]; the assistant's wiring in `service.rs` takes it from
//! the vault's item in the OS keychain), nor how patient data is encrypted:
//! fields that carry it (a question, a file path) go through a caller's
//! [`FieldSealer`] (the assistant's: [`VaultSealer`], the vault's data key)
//! and are never written in plaintext.

pub(crate) mod events;
mod fields;
mod format;
mod key_file;
mod service;
mod verify;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

pub use fields::VaultSealer;
use format::{
    CheckpointBody, GENESIS, HeadBody, Keys, RecordBody, Tag, Unframed, VERSION, open_object,
    seal_object, utc_iso_ms,
};
pub use key_file::KEY_FILE;
pub(crate) use key_file::check_trail_may_get_a_new_key;
pub(crate) use service::AuditSlot;
pub use service::chunk_id;
pub use verify::{Problem, ProblemKind, VerifyReport};

use crate::phi::PhiMasker;
use crate::{Error, Result};

/// The audit folder's name in the data directory.
pub const AUDIT_DIR: &str = "audit";
/// The log: one framed record per line.
pub const LOG_FILE: &str = "audit.jsonl";
/// The chain head: the last record's sequence number and MAC.
pub const HEAD_FILE: &str = "head.json";
/// Where the last purge left the chain.
pub const CHECKPOINT_FILE: &str = "checkpoint.json";
const LOCK_FILE: &str = "audit.lock";

/// Records are kept this long unless settings say otherwise: Korean rules
/// ask for access logs of systems holding resident registration numbers to
/// be kept at least two years.
pub const DEFAULT_RETENTION_DAYS: u32 = 730;
/// The shortest retention settings accept.
pub const MIN_RETENTION_DAYS: u32 = 730;

const DAY_MS: i64 = 86_400_000;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Documents indexed (including watch mode and re-indexing).
    Ingest,
    /// A library search.
    Search,
    /// A question answered (or not) from the library.
    Ask,
    /// A page of a source document shown.
    ViewSource,
    /// A patient's records listed (the timeline).
    ViewRecords,
    /// A conversation or the audit trail written out.
    Export,
    /// A collection, conversation or model removed.
    Delete,
    /// The vault unlocked.
    Unlock,
    /// The vault locked.
    Lock,
    /// An unlock attempt refused.
    FailedUnlock,
    /// Settings changed.
    Settings,
    /// Old audit records removed.
    Purge,
    /// The log found damaged on append and repaired as far as it can be.
    Recover,
}

impl Action {
    /// The name written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Ingest => "ingest",
            Action::Search => "search",
            Action::Ask => "ask",
            Action::ViewSource => "view-source",
            Action::ViewRecords => "view-records",
            Action::Export => "export",
            Action::Delete => "delete",
            Action::Unlock => "unlock",
            Action::Lock => "lock",
            Action::FailedUnlock => "failed-unlock",
            Action::Settings => "settings",
            Action::Purge => "purge",
            Action::Recover => "recover",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused or failed on the user's input (bad request, wrong passphrase).
    Refused,
    /// Failed inside Sillok.
    Failed,
}

impl Outcome {
    /// The name written in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// One thing to record. Object ids (collections, chunk ids, conversation
/// numbers, counts) are written as given; patient ids are pseudonymised with
/// a keyed hash; fields that carry patient data are sealed or dropped.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    action: Action,
    outcome: Outcome,
    objects: Map<String, Value>,
    patients: Vec<String>,
    sensitive: Map<String, Value>,
}

impl AuditEvent {
    /// An event with outcome [`Outcome::Ok`] and no objects.
    pub fn new(action: Action) -> Self {
        AuditEvent {
            action,
            outcome: Outcome::Ok,
            objects: Map::new(),
            patients: Vec::new(),
            sensitive: Map::new(),
        }
    }

    /// An object id or count: must not carry patient data (use
    /// [`AuditEvent::patient`] or [`AuditEvent::sensitive`] for that).
    #[must_use]
    pub fn object(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.objects.insert(key.to_owned(), value.into());
        self
    }

    /// A patient the action concerns, by id (written pseudonymised).
    #[must_use]
    pub fn patient(mut self, id: &str) -> Self {
        if !id.trim().is_empty() {
            self.patients.push(id.to_owned());
        }
        self
    }

    /// Patients the action concerns.
    #[must_use]
    pub fn patients<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        for id in ids {
            self = self.patient(id);
        }
        self
    }

    /// A field that may carry patient data (a query, a file path, a reason):
    /// sealed by the log's [`FieldSealer`], never written in plaintext.
    #[must_use]
    pub fn sensitive(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.sensitive.insert(key.to_owned(), value.into());
        self
    }

    /// How it ended.
    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// The action.
    pub fn action(&self) -> Action {
        self.action
    }
}

/// Seals the fields of a record that carry patient data. The vault seals
/// them with the data key; until it is unlocked (or exists) they are dropped.
pub trait FieldSealer: Send + Sync + std::fmt::Debug {
    /// The sealed form of `plaintext` (a JSON object) to store in the record,
    /// or `None` to leave the fields out.
    ///
    /// # Errors
    ///
    /// Sealing failed; the record is then not written and the action fails.
    fn seal(&self, plaintext: &[u8]) -> Result<Option<String>>;

    /// The plaintext of `sealed`, or `None` when this sealer cannot open it
    /// (locked, another key).
    ///
    /// # Errors
    ///
    /// Tampered or damaged sealed data.
    fn unseal(&self, sealed: &str) -> Result<Option<Vec<u8>>>;
}

/// Drops patient-data fields: records name which fields there were, never
/// what they held.
#[derive(Debug, Clone, Copy, Default)]
pub struct DropSealer;

impl FieldSealer for DropSealer {
    fn seal(&self, _plaintext: &[u8]) -> Result<Option<String>> {
        Ok(None)
    }

    fn unseal(&self, _sealed: &str) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// What a purge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// Records removed.
    pub removed: u64,
    /// Records kept.
    pub kept: u64,
    /// Records older than this (ISO 8601 UTC) were removed.
    pub before: String,
    /// The last removed record, where the chain now starts.
    pub checkpoint_seq: Option<u64>,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportReport {
    /// Records written.
    pub records: u64,
    /// Of those, records whose MAC did not match (written with `"intact": false`).
    pub altered: u64,
    /// Lines left out because they are not records at all.
    pub unreadable: u64,
}

/// The audit log of one data directory.
pub struct AuditLog {
    dir: PathBuf,
    keys: Keys,
    sealer: RwLock<Arc<dyn FieldSealer>>,
    user: String,
    host: String,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .field("user", &self.user)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// Where the chain ends before an append.
struct ChainState {
    /// The last record's sequence number (the checkpoint's, or 0, when none).
    seq: u64,
    /// Its MAC: the next record's `prev`.
    mac: [u8; 32],
    /// When something was wrong: the objects of the `recover` record that says what.
    recover: Option<Map<String, Value>>,
}

/// The head or checkpoint file as found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Signed<T> {
    Missing,
    /// Present, but its MAC does not match (or it is not one).
    Altered,
    Valid(T),
}

impl AuditLog {
    /// Opens (creating) the audit folder `dir`, private to the user, keyed by
    /// `key` (at least 16 bytes; the vault keeps it in the OS keychain, apart
    /// from the data key, so locks and failed unlocks are recorded while the
    /// vault is locked).
    ///
    /// # Errors
    ///
    /// [`Error::AuditKey`] for a short key; [`Error::Audit`] when the folder
    /// cannot be made.
    pub fn open(dir: &Path, key: &[u8], sealer: Arc<dyn FieldSealer>) -> Result<Self> {
        if key.len() < 16 {
            return Err(Error::AuditKey {
                path: dir.to_owned(),
                reason: format!("the key has {} bytes; at least 16 are needed", key.len()),
            });
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_error(dir))?;
        }
        Ok(AuditLog {
            dir: dir.to_owned(),
            keys: Keys::derive(key),
            sealer: RwLock::new(sealer),
            user: whoami::username().unwrap_or_else(|_| "unknown".to_owned()),
            host: whoami::hostname().unwrap_or_else(|_| "unknown".to_owned()),
        })
    }

    /// Whether this log's key signs the head file (true when there is no
    /// head yet): the check before an old key file is moved into the keychain.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the head cannot be read.
    pub(crate) fn head_matches_key(&self) -> Result<bool> {
        Ok(!matches!(self.read_head()?, Signed::Altered))
    }

    /// The audit folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the sealer (the vault installs one on unlock and drops it on lock).
    pub fn set_sealer(&self, sealer: Arc<dyn FieldSealer>) {
        *self.sealer.write().unwrap_or_else(PoisonError::into_inner) = sealer;
    }

    fn sealer(&self) -> Arc<dyn FieldSealer> {
        self.sealer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A patient id's pseudonym as records carry it (`pt_` + 16 hex digits):
    /// a reviewer who knows an id can find that patient's records.
    pub fn pseudonym(&self, patient_id: &str) -> String {
        self.keys.pseudonym(patient_id)
    }

    /// Appends `event` as the next record, durably (on disk when this
    /// returns), and returns its sequence number. A torn last line, a log
    /// cut short or an altered head found on the way is first recorded in a
    /// `recover` record; the torn bytes are kept aside in the audit folder.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] for I/O failures; the sealer's errors.
    pub fn append(&self, event: AuditEvent) -> Result<u64> {
        self.append_at(event, now_ms())
    }

    pub(crate) fn append_at(&self, event: AuditEvent, ts: i64) -> Result<u64> {
        let _lock = self.lock(true)?;
        self.append_locked(event, ts)
    }

    fn append_locked(&self, event: AuditEvent, ts: i64) -> Result<u64> {
        let path = self.dir.join(LOG_FILE);
        let fail = io_error(&path);
        let mut file = private_options()
            .read(true)
            .append(true)
            .open(&path)
            .map_err(&fail)?;
        let ChainState {
            mut seq,
            mac: mut prev,
            recover,
        } = self.chain_state(&mut file, ts)?;
        if let Some(objects) = recover {
            let mut recover = AuditEvent::new(Action::Recover);
            recover.objects = objects;
            seq += 1;
            prev = self.write_record(&mut file, seq, prev, ts, &recover)?;
            tracing::warn!(
                seq,
                "the audit log was found damaged and repaired; see `sillok audit verify`"
            );
        }
        seq += 1;
        let mac = self.write_record(&mut file, seq, prev, ts, &event)?;
        self.write_head(seq, mac, ts)?;
        Ok(seq)
    }

    /// The last record's sequence number and MAC, the log's torn tail set
    /// aside; and, when something was wrong, the objects of a `recover`
    /// record that says what.
    fn chain_state(&self, file: &mut File, ts: i64) -> Result<ChainState> {
        let path = self.dir.join(LOG_FILE);
        let fail = io_error(&path);
        let len = file.metadata().map_err(&fail)?.len();
        let (complete, last_line) = read_tail(file, len).map_err(&fail)?;
        let mut found = Map::new();
        let mut suspect = false;
        if complete < len {
            let kept_as = self.set_torn_tail_aside(file, complete, len, ts)?;
            found.insert("torn_bytes".into(), json!(len - complete));
            found.insert("kept_as".into(), json!(kept_as));
        }
        let checkpoint = self.read_checkpoint()?;
        let base = match &checkpoint {
            Signed::Valid(cp) => (cp.seq, decode_mac(&cp.head).unwrap_or(GENESIS)),
            _ => (0, GENESIS),
        };
        let head = self.read_head()?;
        let mut state = base;
        if let Some(line) = last_line {
            match open_object::<RecordBody>(&self.keys, Tag::Record, &line) {
                Unframed::Good(r, mac) | Unframed::BadMac(Some(r), mac) => state = (r.seq, mac),
                _ => {
                    // Nothing to chain to: go on from the head, and say so.
                    suspect = true;
                    found.insert("unreadable_last_record".into(), json!(true));
                    if let Signed::Valid(h) = &head {
                        state = (h.seq, decode_mac(&h.head).unwrap_or(GENESIS));
                    }
                }
            }
        }
        match &head {
            Signed::Valid(h) if h.seq > state.0 => {
                suspect = true;
                found.insert("head_seq".into(), json!(h.seq));
                found.insert("log_ended_at".into(), json!(state.0));
            }
            Signed::Valid(h) if h.seq == state.0 && decode_mac(&h.head) != Some(state.1) => {
                suspect = true;
                found.insert("head_mismatch".into(), json!(h.seq));
            }
            Signed::Altered => {
                suspect = true;
                found.insert("head_altered".into(), json!(true));
            }
            // Only a crash between the first record and its head is innocent.
            Signed::Missing if state.0 > base.0 + 1 => {
                suspect = true;
                found.insert("head_missing".into(), json!(true));
            }
            _ => {}
        }
        if matches!(checkpoint, Signed::Altered) {
            suspect = true;
            found.insert("checkpoint_altered".into(), json!(true));
        }
        let recover = (!found.is_empty()).then(|| {
            found.insert("suspect".into(), json!(suspect));
            found
        });
        Ok(ChainState {
            seq: state.0,
            mac: state.1,
            recover,
        })
    }

    /// Moves the bytes after the last complete line into a file of their own
    /// (`torn-<ms>.bin`) and cuts the log back to its last complete record.
    fn set_torn_tail_aside(&self, file: &mut File, from: u64, to: u64, ts: i64) -> Result<String> {
        let path = self.dir.join(LOG_FILE);
        let fail = io_error(&path);
        let mut torn = Vec::new();
        file.seek(SeekFrom::Start(from)).map_err(&fail)?;
        Read::by_ref(file)
            .take(to - from)
            .read_to_end(&mut torn)
            .map_err(&fail)?;
        let name = format!("torn-{ts}-{}.bin", std::process::id());
        let aside = self.dir.join(&name);
        let mut out = private_options()
            .write(true)
            .create_new(true)
            .open(&aside)
            .map_err(io_error(&aside))?;
        out.write_all(&torn).map_err(io_error(&aside))?;
        out.sync_all().map_err(io_error(&aside))?;
        file.set_len(from).map_err(&fail)?;
        file.sync_all().map_err(&fail)?;
        Ok(name)
    }

    fn write_record(
        &self,
        file: &mut File,
        seq: u64,
        prev: [u8; 32],
        ts: i64,
        event: &AuditEvent,
    ) -> Result<[u8; 32]> {
        let mut patients: Vec<String> = event
            .patients
            .iter()
            .map(|p| self.keys.pseudonym(p))
            .collect();
        patients.sort_unstable();
        patients.dedup();
        let (withheld, sealed) = if event.sensitive.is_empty() {
            (Vec::new(), None)
        } else {
            let plaintext = Value::Object(event.sensitive.clone()).to_string();
            (
                event.sensitive.keys().cloned().collect(),
                self.sealer().seal(plaintext.as_bytes())?,
            )
        };
        let body = RecordBody {
            v: VERSION,
            seq,
            ts,
            time: utc_iso_ms(ts),
            user: self.user.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            action: event.action.as_str().to_owned(),
            result: event.outcome.as_str().to_owned(),
            objects: event.objects.clone(),
            patients,
            withheld,
            sealed,
            prev: hex::encode(prev),
        };
        let (mut line, mac) = seal_object(&self.keys, Tag::Record, &body);
        line.push('\n');
        let path = self.dir.join(LOG_FILE);
        // One write of the whole line, then fsync: a crash leaves the
        // record whole or a torn last line, which the next append sets aside.
        file.write_all(line.as_bytes()).map_err(io_error(&path))?;
        file.sync_data().map_err(io_error(&path))?;
        Ok(mac)
    }

    fn write_head(&self, seq: u64, mac: [u8; 32], ts: i64) -> Result<()> {
        let body = HeadBody {
            v: VERSION,
            seq,
            head: hex::encode(mac),
            ts,
        };
        let (framed, _) = seal_object(&self.keys, Tag::Head, &body);
        write_atomic(&self.dir, HEAD_FILE, framed.as_bytes())
    }

    fn read_head(&self) -> Result<Signed<HeadBody>> {
        self.read_signed(HEAD_FILE, Tag::Head)
    }

    fn read_checkpoint(&self) -> Result<Signed<CheckpointBody>> {
        self.read_signed(CHECKPOINT_FILE, Tag::Checkpoint)
    }

    fn read_signed<T: for<'de> serde::Deserialize<'de>>(
        &self,
        name: &str,
        tag: Tag,
    ) -> Result<Signed<T>> {
        let path = self.dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Signed::Missing),
            Err(e) => return Err(io_error(&path)(e)),
        };
        Ok(
            match open_object::<T>(&self.keys, tag, bytes.trim_ascii_end()) {
                Unframed::Good(body, _) => Signed::Valid(body),
                _ => Signed::Altered,
            },
        )
    }

    /// Checks the whole chain: every record's MAC and its link to the one
    /// before, sequence numbers without gaps or reordering, the end against
    /// the head file, the start against the purge checkpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] when the files cannot be read (a broken chain is a
    /// report, not an error).
    pub fn verify(&self) -> Result<VerifyReport> {
        let _lock = self.lock(false)?;
        self.verify_locked()
    }

    fn verify_locked(&self) -> Result<VerifyReport> {
        let log = self.read_log()?;
        Ok(verify::verify(
            &self.keys,
            &log,
            self.read_head()?,
            self.read_checkpoint()?,
        ))
    }

    fn read_log(&self) -> Result<Vec<u8>> {
        let path = self.dir.join(LOG_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_error(&path)(e)),
        }
    }

    /// Removes records older than `retention_days`, writing a signed
    /// checkpoint of the last one removed (the chain's new start) first, and
    /// records the purge. Refused while the log fails verification, so
    /// evidence of tampering is never purged away.
    ///
    /// # Errors
    ///
    /// [`Error::AuditPurgeRefused`]; [`Error::Audit`] for I/O failures.
    pub fn purge(&self, retention_days: u32) -> Result<PurgeReport> {
        self.purge_at(retention_days, now_ms())
    }

    pub(crate) fn purge_at(&self, retention_days: u32, now: i64) -> Result<PurgeReport> {
        let _lock = self.lock(true)?;
        let report = self.verify_locked()?;
        if let Some(problem) = report.problems.first() {
            return Err(Error::AuditPurgeRefused(problem.to_string()));
        }
        let before = now - i64::from(retention_days) * DAY_MS;
        let log = self.read_log()?;
        let previous = match self.read_checkpoint()? {
            Signed::Valid(cp) => Some(cp),
            _ => None,
        };
        // The oldest records come first; stop at the first one to keep (a
        // clock set back never makes a newer record go).
        let mut cut = 0;
        let mut last_removed: Option<(u64, [u8; 32])> = None;
        let mut removed = 0u64;
        for line in log.split_inclusive(|&b| b == b'\n') {
            let Unframed::Good(r, mac) =
                open_object::<RecordBody>(&self.keys, Tag::Record, line.trim_ascii_end())
            else {
                break;
            };
            let leftover = previous.as_ref().is_some_and(|cp| r.seq <= cp.seq);
            if r.ts >= before && !leftover {
                break;
            }
            cut += line.len();
            if !leftover {
                removed += 1;
                last_removed = Some((r.seq, mac));
            }
        }
        let kept = log[cut..]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        let mut checkpoint_seq = previous.as_ref().map(|cp| cp.seq);
        if cut > 0 {
            if let Some((seq, mac)) = last_removed {
                let body = CheckpointBody {
                    v: VERSION,
                    seq,
                    head: hex::encode(mac),
                    purged: removed,
                    purged_total: previous.as_ref().map_or(0, |cp| cp.purged_total) + removed,
                    before_ts: before,
                    ts: now,
                    user: self.user.clone(),
                    host: self.host.clone(),
                };
                let (framed, _) = seal_object(&self.keys, Tag::Checkpoint, &body);
                // Kept records first, then the checkpoint, then the swap: a
                // crash in between leaves removed records in the log, which
                // verification recognises by the checkpoint and skips.
                let tmp = format!("{LOG_FILE}.tmp");
                write_file(&self.dir, &tmp, &log[cut..])?;
                write_atomic(&self.dir, CHECKPOINT_FILE, framed.as_bytes())?;
                let path = self.dir.join(LOG_FILE);
                std::fs::rename(self.dir.join(&tmp), &path).map_err(io_error(&path))?;
                sync_dir(&self.dir)?;
                checkpoint_seq = Some(seq);
            } else {
                // Only leftovers of an interrupted purge: drop them.
                write_atomic(&self.dir, LOG_FILE, &log[cut..])?;
            }
        }
        let event = AuditEvent::new(Action::Purge)
            .object("removed", removed)
            .object("kept", kept)
            .object("retention_days", retention_days)
            .object("before", utc_iso_ms(before));
        let event = match checkpoint_seq {
            Some(seq) => event.object("checkpoint_seq", seq),
            None => event,
        };
        self.append_locked(event, now)?;
        Ok(PurgeReport {
            removed,
            kept,
            before: utc_iso_ms(before),
            checkpoint_seq,
        })
    }

    /// Writes every record as one JSON line for a privacy review: time,
    /// user, host, action, result, object ids, patient pseudonyms, the names
    /// of withheld fields (their values only when the sealer can open them),
    /// and whether the record's MAC matched. Every string goes through
    /// `masker`: PHI is always masked.
    ///
    /// # Errors
    ///
    /// [`Error::Audit`] for read or write failures; the sealer's errors.
    pub fn export(&self, masker: &PhiMasker, out: &mut dyn Write) -> Result<ExportReport> {
        let _lock = self.lock(false)?;
        let log = self.read_log()?;
        let sealer = self.sealer();
        let mut report = ExportReport::default();
        let write_fail = |e| Error::Audit {
            path: PathBuf::from("(export)"),
            source: e,
        };
        for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let (r, intact) = match open_object::<RecordBody>(&self.keys, Tag::Record, line) {
                Unframed::Good(r, _) => (r, true),
                Unframed::BadMac(Some(r), _) => (r, false),
                _ => {
                    report.unreadable += 1;
                    continue;
                }
            };
            let fields = match &r.sealed {
                Some(sealed) => sealer
                    .unseal(sealed)?
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok()),
                None => None,
            };
            let mut row = json!({
                "seq": r.seq,
                "time": r.time,
                "user": r.user,
                "host": r.host,
                "action": r.action,
                "result": r.result,
                "objects": r.objects,
                "patients": r.patients,
                "withheld": r.withheld,
                "intact": intact,
            });
            if let (Some(fields), Some(map)) = (fields, row.as_object_mut()) {
                map.insert("fields".into(), fields);
            }
            masker.mask_json(&mut row);
            writeln!(out, "{row}").map_err(write_fail)?;
            report.records += 1;
            if !intact {
                report.altered += 1;
            }
        }
        out.flush().map_err(write_fail)?;
        Ok(report)
    }

    /// The OS file lock that makes appends, purges and reads take turns
    /// across processes (the app and the CLI may run at once).
    fn lock(&self, exclusive: bool) -> Result<File> {
        let path = self.dir.join(LOCK_FILE);
        let fail = io_error(&path);
        let file = private_options()
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(&fail)?;
        if exclusive {
            file.lock().map_err(&fail)?;
        } else {
            file.lock_shared().map_err(&fail)?;
        }
        Ok(file)
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn decode_mac(hex_mac: &str) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(hex::decode(hex_mac).ok()?).ok()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Audit {
        path: path.to_owned(),
        source,
    }
}

/// Creates files readable by the user only (0600 on Unix).
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The last complete line (without its newline) and where complete lines
/// end; bytes after that are a torn write. Reads backwards from the end, so
/// appending stays cheap however long the log grows.
fn read_tail(file: &mut File, len: u64) -> std::io::Result<(u64, Option<Vec<u8>>)> {
    let mut window: u64 = 64 * 1024;
    loop {
        let start = len.saturating_sub(window);
        let mut buf = vec![0; usize::try_from(len - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf)?;
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            if start == 0 {
                return Ok((0, None));
            }
            window *= 2;
            continue;
        };
        match buf[..last_nl].iter().rposition(|&b| b == b'\n') {
            Some(before) => {
                return Ok((
                    start + last_nl as u64 + 1,
                    Some(buf[before + 1..last_nl].to_vec()),
                ));
            }
            None if start == 0 => {
                return Ok((last_nl as u64 + 1, Some(buf[..last_nl].to_vec())));
            }
            None => window *= 2,
        }
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let fail = io_error(&path);
    let mut file = private_options()
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(&fail)?;
    file.write_all(bytes).map_err(&fail)?;
    file.sync_all().map_err(&fail)
}

/// Writes `name` in `dir` so that a crash leaves the old or the new file,
/// never half of one: a temporary file, fsync, rename, fsync of the folder.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = format!("{name}.tmp");
    write_file(dir, &tmp, bytes)?;
    let path = dir.join(name);
    std::fs::rename(dir.join(&tmp), &path).map_err(io_error(&path))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
