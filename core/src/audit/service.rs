//! The audit trail as the assistant keeps it: one log per data directory
//! (`<data>/audit/`), opened on first use and shared by every handle on the
//! directory ([`crate::Sillok::reopen`] included), and the one small API the
//! CLI and the desktop app both go through — the core's operations record
//! themselves, so front ends never write audit code of their own.
//!
//! Also the assistant's PHI masker (settings' MRN patterns and the library's
//! FHIR patient names), conversation exports with a reason, and the audited
//! conversation delete and patient timeline.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sillok_index::TimelineEntry;

use super::fields::VaultSealer;
use super::{
    AUDIT_DIR, Action, AuditEvent, AuditLog, DEFAULT_RETENTION_DAYS, DropSealer, ExportReport,
    FieldSealer, Outcome, PurgeReport, VerifyReport, key_file,
};
use crate::conversations::ConversationId;
use crate::phi::PhiMasker;
use crate::vault::Vault;
use crate::{Error, Result, Sillok};

/// The data directory's audit log, opened on first use.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditSlot(Arc<Mutex<Option<Arc<AuditLog>>>>);

/// A chunk as audit records name it: `<collection>:<content hash>#<chunk>`
/// (the document key, which the journal maps to a file, and the chunk's
/// number in it).
pub fn chunk_id(doc_key: &str, chunk_index: u64) -> String {
    format!("{doc_key}#{chunk_index}")
}

impl Sillok {
    /// The audit folder.
    pub fn audit_dir(&self) -> PathBuf {
        self.data_dir().root().join(AUDIT_DIR)
    }

    /// The audit log, opened on first use, keyed by the vault's audit key in
    /// the OS keychain (readable while the vault is locked); patient-data
    /// fields are sealed with the vault's data key ([`VaultSealer`]). A data
    /// directory without a vault gets one ([`Sillok::vault_or_init`]). A key
    /// left in the old `audit.key` file is first moved into the keychain.
    /// Fails closed: without the keychain there is no key, and nothing that
    /// must be recorded is done.
    ///
    /// # Errors
    ///
    /// The keychain's errors; [`Error::AuditKey`] (a lost keychain item, an
    /// unusable old key file, a trail whose key went with its vault);
    /// [`Error::Audit`].
    pub fn audit_log(&self) -> Result<Arc<AuditLog>> {
        let mut slot = self.audit.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = &*slot {
            return Ok(log.clone());
        }
        let dir = self.audit_dir();
        let vault = self.vault_or_init()?;
        let moved = self.move_key_file_to_keychain(&vault)?;
        let key = vault.audit_key_or_backup().map_err(|e| match e {
            // A passphrase-only vault keeps the key only under the data key.
            _ if !vault.uses_keychain().unwrap_or(true) => Error::AuditKey {
                path: self.data_dir().root().join(crate::vault::VAULT_FILE),
                reason: format!(
                    "this vault keeps the audit key under its data key only: give its passphrase (asked for on a terminal, or in ${})",
                    crate::vault::PASSPHRASE_ENV
                ),
            },
            Error::KeychainItemMissing { item } | Error::KeychainItemInvalid { item, .. } => {
                Error::AuditKey {
                    path: PathBuf::from(format!("(OS keychain) {item}")),
                    reason: "the keychain lost it: unlock with the passphrase or recovery key (`sillok vault unlock --recovery-key`), which restores it from its backup".into(),
                }
            }
            other => other,
        })?;
        let log = Arc::new(AuditLog::open(
            &dir,
            &key[..],
            Arc::new(VaultSealer::new(vault)),
        )?);
        *slot = Some(log.clone());
        drop(slot);
        if moved {
            log.append(AuditEvent::new(Action::Settings).object("audit_key", "moved-to-keychain"))?;
        }
        Ok(log)
    }

    /// Moves a key from the old `audit.key` file into the keychain: only
    /// when it signs the trail's head (or there is no trail yet), read back
    /// before the file goes. True when it moved one.
    fn move_key_file_to_keychain(&self, vault: &Vault) -> Result<bool> {
        let root = self.data_dir().root();
        let Some(key) = key_file::read_legacy(root)? else {
            return Ok(false);
        };
        let probe = AuditLog::open(&self.audit_dir(), &key, Arc::new(DropSealer))?;
        if !probe.head_matches_key()? {
            return Err(Error::AuditKey {
                path: root.join(key_file::KEY_FILE),
                reason: "it does not sign the audit trail's head, so it was not moved into the keychain; restore the right file from a backup".into(),
            });
        }
        vault.adopt_audit_key(&key)?;
        if *vault.audit_key()? != key {
            return Err(Error::AuditKey {
                path: root.join(key_file::KEY_FILE),
                reason: "the keychain did not keep the key; the file is kept".into(),
            });
        }
        key_file::remove_legacy(root)?;
        tracing::info!("moved the audit key from audit.key into the OS keychain");
        Ok(true)
    }

    /// Opens the audit log with `key` and `sealer` in place of the
    /// keychain's (tests, tools), for this handle and every handle sharing
    /// its directory.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::open`].
    pub fn use_audit_key(&self, key: &[u8], sealer: Arc<dyn FieldSealer>) -> Result<()> {
        let log = Arc::new(AuditLog::open(&self.audit_dir(), key, sealer)?);
        *self.audit.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(log);
        Ok(())
    }

    /// Records `event` (for actions outside the core: unlock, lock, failed
    /// unlock). Returns the record's sequence number.
    ///
    /// # Errors
    ///
    /// As [`Sillok::audit_log`] and [`AuditLog::append`].
    pub fn record(&self, event: AuditEvent) -> Result<u64> {
        let log = self.audit_log()?;
        if let Some(unlock) = self.take_pending_vault_event() {
            log.append(unlock)?;
        }
        log.append(event)
    }

    /// Records what `result` says about an action and passes it on. Fails
    /// closed: when a successful action cannot be recorded, its result is
    /// not returned. A failed action's record is best effort (its own error
    /// is the one that matters).
    pub(crate) fn audited<T>(
        &self,
        event: AuditEvent,
        result: Result<T>,
        describe: impl FnOnce(&T, AuditEvent) -> AuditEvent,
    ) -> Result<T> {
        match result {
            Ok(value) => {
                self.record(describe(&value, event))?;
                Ok(value)
            }
            Err(e) => {
                self.record_failure(event, &e);
                Err(e)
            }
        }
    }

    pub(crate) fn record_failure(&self, event: AuditEvent, error: &Error) {
        let outcome = if error.is_user_error() {
            Outcome::Refused
        } else {
            Outcome::Failed
        };
        if let Err(audit) = self.record(event.outcome(outcome)) {
            tracing::warn!(%audit, "cannot record a failed action in the audit trail");
        }
    }

    /// Verifies the audit trail.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::verify`].
    pub fn verify_audit(&self) -> Result<VerifyReport> {
        self.audit_log()?.verify()
    }

    /// Writes the audit trail for a privacy review as JSON lines, PHI masked
    /// ([`Sillok::phi_masker`]), and records the export.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::export`] and [`Sillok::phi_masker`].
    pub fn export_audit(&self, out: &mut dyn Write, reason: &str) -> Result<ExportReport> {
        let event = AuditEvent::new(Action::Export).object("what", "audit-trail");
        let masker = match self.phi_masker() {
            Ok(masker) => masker,
            Err(e) => {
                self.record_failure(event, &e);
                return Err(e);
            }
        };
        let event = event.object("reason", masker.mask(reason.trim()));
        let report = self.audit_log()?.export(&masker, out);
        self.audited(event, report, |r, e| {
            e.object("records", r.records)
                .sensitive("reason", reason.trim())
        })
    }

    /// Removes audit records older than the retention in settings (default
    /// two years), behind a signed checkpoint; the purge is itself recorded.
    ///
    /// # Errors
    ///
    /// As [`AuditLog::purge`]; unreadable settings.
    pub fn purge_audit(&self) -> Result<PurgeReport> {
        let days = self
            .settings()?
            .audit_retention_days
            .unwrap_or(DEFAULT_RETENTION_DAYS);
        self.audit_log()?.purge(days)
    }

    /// The PHI masker for this data directory: the built-in detectors, the
    /// MRN patterns in settings, and the names and ids of the patients in the
    /// library's FHIR records.
    ///
    /// # Errors
    ///
    /// Unreadable settings, an invalid pattern, index errors.
    pub fn phi_masker(&self) -> Result<PhiMasker> {
        let patterns = self.settings()?.phi_patterns.unwrap_or_default();
        let patients = self.library()?.patient_names()?;
        let names: Vec<String> = patients.iter().flat_map(|p| p.names.clone()).collect();
        let ids: Vec<String> = patients.into_iter().map(|p| p.patient_id).collect();
        PhiMasker::with_ids(&patterns, &names, &ids)
    }

    /// The masker for log lines: [`Sillok::phi_masker`] when a library
    /// exists; without one, the built-in detectors and settings' patterns
    /// (a log line never creates a library).
    ///
    /// # Errors
    ///
    /// As [`Sillok::phi_masker`].
    pub fn log_masker(&self) -> Result<PhiMasker> {
        if std::fs::exists(self.library_dir()).unwrap_or(false) {
            return self.phi_masker();
        }
        PhiMasker::new(&self.settings()?.phi_patterns.unwrap_or_default(), &[])
    }

    /// A conversation as Markdown, for the user to save: `reason` (why it
    /// leaves Sillok) is required and recorded; with `deidentify` the text is
    /// PHI-masked ([`Sillok::phi_masker`]).
    ///
    /// # Errors
    ///
    /// [`Error::ExportReasonRequired`] for an empty reason; unknown
    /// conversation; store and masker errors.
    pub fn export_conversation(
        &self,
        id: ConversationId,
        reason: &str,
        deidentify: bool,
    ) -> Result<String> {
        let reason = reason.trim();
        let event = AuditEvent::new(Action::Export)
            .object("what", "conversation")
            .object("conversation", id.0)
            .object("deidentified", deidentify);
        let result = (|| -> Result<(String, String)> {
            crate::policy::check_export()?;
            if reason.is_empty() {
                return Err(Error::ExportReasonRequired);
            }
            let masker = self.phi_masker()?;
            let markdown = self.conversations()?.export_markdown(id)?;
            let text = if deidentify {
                masker.mask(&markdown)
            } else {
                markdown
            };
            Ok((text, masker.mask(reason)))
        })();
        self.audited(event, result, |(_, masked_reason), e| {
            e.object("reason", masked_reason.as_str())
                .sensitive("reason", reason)
        })
        .map(|(text, _)| text)
    }

    /// Deletes a conversation, recorded.
    ///
    /// # Errors
    ///
    /// Unknown conversation; store errors.
    pub fn delete_conversation(&self, id: ConversationId) -> Result<()> {
        let event = AuditEvent::new(Action::Delete).object("conversation", id.0);
        let result = (|| -> Result<()> { Ok(self.conversations()?.delete(id)?) })();
        self.audited(event, result, |(), e| e)
    }

    /// Every indexed chunk of one patient's records, oldest first
    /// ([`sillok_index::Library::patient_timeline`]), recorded.
    ///
    /// # Errors
    ///
    /// Index errors.
    pub fn patient_timeline(
        &self,
        patient_id: &str,
        collections: &[String],
    ) -> Result<Vec<TimelineEntry>> {
        let event = AuditEvent::new(Action::ViewRecords)
            .object("collections", collections)
            .patient(patient_id);
        let result =
            (|| -> Result<_> { Ok(self.library()?.patient_timeline(patient_id, collections)?) })();
        self.audited(event, result, |entries, e| {
            e.object("entries", entries.len())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sillok_index::SearchRequest;
    use sillok_models::CancelToken;

    use super::*;
    use crate::answer::AskRequest;
    use crate::keychain::{KeyStore, Keychain, MemoryKeyStore};
    use crate::{DataDir, Settings};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    /// A library of one FHIR patient (given "가상", family "김") and a note
    /// about them, ingested for real. Synthetic.
    fn library(dir: &Path) -> std::result::Result<Sillok, Box<dyn std::error::Error>> {
        let sillok = Sillok::open(DataDir::at(dir.join("data")))?;
        crate::library::install_test_tokenizer(&sillok)?;
        let docs = dir.join("docs");
        std::fs::create_dir_all(&docs)?;
        std::fs::write(
            docs.join("patient.json"),
            r#"{"resourceType": "Patient", "id": "pt-kim-001",
                "name": [{"family": "김", "given": ["가상"]}], "gender": "male"}"#,
        )?;
        std::fs::write(
            docs.join("note.md"),
            "# 재진\n\n김가상 환자(010-1234-5678)에게 로사르탄 50 mg을 추가했다.\n",
        )?;
        sillok.ingest("clinic", &[docs], &mut |_| {})?;
        Ok(sillok)
    }

    fn actions(sillok: &Sillok) -> std::result::Result<Vec<String>, Box<dyn std::error::Error>> {
        let text = std::fs::read_to_string(sillok.audit_dir().join(super::super::LOG_FILE))?;
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l)?;
                Ok(format!(
                    "{}:{}",
                    v["action"].as_str().unwrap_or_default(),
                    v["result"].as_str().unwrap_or_default()
                ))
            })
            .collect()
    }

    #[test]
    fn the_core_records_its_operations_without_patient_data() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = library(dir.path())?;
        let hits = sillok.search(&SearchRequest {
            query: "로사르탄".into(),
            limit: 5,
            ..SearchRequest::default()
        })?;
        let hit = hits.hits.first().ok_or("no hit")?;
        sillok.page_view(&hit.path, hit.page)?;
        sillok
            .page_view("/etc/passwd", 1)
            .expect_err("not in the library");
        let answer = sillok.ask(
            None,
            &AskRequest::new("김가상 환자에게 추가한 약은?"),
            &CancelToken::default(),
            &mut |_| {},
        )?;
        let mut store = sillok.conversations()?;
        let id = sillok.save_turn(&mut store, None, None, &[], &answer)?;
        assert!(matches!(
            sillok.export_conversation(id, " ", false),
            Err(Error::ExportReasonRequired)
        ));
        let masked = sillok.export_conversation(id, "김가상 전원", true)?;
        assert!(!masked.contains("김가상") && !masked.contains("010-1234-5678"));
        assert!(
            masked.contains("[NAME]") && masked.contains("[PHONE]"),
            "{masked}"
        );
        sillok.delete_conversation(id)?;
        sillok.save_settings(&Settings {
            ui_language: Some("ko".into()),
            ..Settings::default()
        })?;
        sillok.remove_collection("clinic")?;

        assert_eq!(
            actions(&sillok)?,
            [
                "ingest:ok",
                "search:ok",
                "view-source:ok",
                "view-source:refused",
                "ask:ok",
                "export:refused",
                "export:ok",
                "delete:ok",
                "settings:ok",
                "delete:ok",
            ]
        );
        let log = std::fs::read_to_string(sillok.audit_dir().join(super::super::LOG_FILE))?;
        for phi in [
            "김가상",
            "로사르탄",
            "010-1234-5678",
            "pt-kim-001",
            "note.md",
            "passwd",
        ] {
            assert!(!log.contains(phi), "{phi} in {log}");
        }
        let report = sillok.verify_audit()?;
        assert!(report.is_intact(), "{report:?}");

        let mut out = Vec::new();
        sillok.export_audit(&mut out, "privacy review")?;
        let rows: Vec<serde_json::Value> = String::from_utf8(out)?
            .lines()
            .map(serde_json::from_str)
            .collect::<std::result::Result<_, _>>()?;
        let view = &rows[2];
        assert_eq!(view["objects"]["page"], hit.page);
        assert_eq!(view["objects"]["doc"], hit.doc_key);
        assert_eq!(view["withheld"], serde_json::json!(["path"]));
        let ask = &rows[4];
        assert_eq!(
            ask["objects"]["shown"][0],
            chunk_id(&answer.sources[0].doc_key, answer.sources[0].chunk_index)
        );
        assert!(
            !ask["objects"]["retrieved"]
                .as_array()
                .ok_or("retrieved")?
                .is_empty()
        );
        assert_eq!(rows[6]["objects"]["reason"], "[NAME] 전원");
        assert_eq!(
            rows[8]["objects"]["changed"],
            serde_json::json!({ "ui_language": "ko" })
        );
        assert_eq!(
            actions(&sillok)?.last().map(String::as_str),
            Some("export:ok")
        );
        Ok(())
    }

    #[test]
    fn a_search_that_cannot_be_recorded_is_not_returned() -> TestResult {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(MemoryKeyStore::default());
        let data = || DataDir::at(dir.path().join("data"));
        let sillok = Sillok::open_with_keychain(data(), Keychain::with_store(store.clone()))?;
        sillok.record(AuditEvent::new(Action::Settings))?;
        // The keychain loses the audit key and the vault file its backup: a
        // new handle has no key, and refuses to search unrecorded (never a
        // fresh key over the trail).
        let vault_id = sillok.vault()?.vault_id()?;
        store.delete(&Keychain::audit_account(&vault_id))?;
        let vault_file = dir.path().join("data").join(crate::vault::VAULT_FILE);
        let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&vault_file)?)?;
        json.as_object_mut()
            .ok_or("vault file")?
            .remove("audit_key_backup")
            .ok_or("no backup")?;
        std::fs::write(&vault_file, json.to_string())?;
        let fresh = Sillok::open_with_keychain(data(), Keychain::with_store(store.clone()))?;
        let err = fresh
            .search(&SearchRequest {
                query: "로사르탄".into(),
                limit: 5,
                ..SearchRequest::default()
            })
            .expect_err("must fail closed");
        assert!(matches!(err, Error::AuditKey { .. }), "{err}");
        assert!(!fresh.is_unlocked(), "an unrecorded unlock is undone");
        Ok(())
    }
}
