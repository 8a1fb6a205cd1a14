//! Encryption at rest of the data directory's stores: one key per store,
//! derived from the vault's data key, and the in-place migration of stores
//! written before the vault existed.
//!
//! | store | file | encrypted with |
//! |---|---|---|
//! | search index | `indexes/library/tantivy/` | sealed blocks (XChaCha20-Poly1305), subkey `index` |
//! | journal, vectors, OCR text | `indexes/library/*.sqlite` | SQLCipher, a key derived from the index key |
//! | conversations | `db/conversations.sqlite` | SQLCipher, subkey `conversations` |
//! | evaluation vectors | `cache/eval-vectors.sqlite` | SQLCipher, subkey `eval-vectors` |
//!
//! The first use of a store in a process takes the data key
//! ([`Sillok::data_key`]: the vault made on first use, unlocked with the
//! keychain), then encrypts any store still in plaintext — crash-safe,
//! verified, the plaintext removed last (see [`sillok_index::migrate`]).
//! A data directory with a library but no vault gets a vault for it only
//! when every store in it is plaintext: encrypted stores without their
//! vault are never adopted or written over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sillok_index::migrate::{
    MigrationStep, encrypt_library, library_contents, library_needs_migration,
};
use sillok_index::sqlite::{self, DbKey, DbState};
use sillok_index::{IndexKey, Library};

use crate::conversations::{Conversation, ConversationId, ConversationStore};
use crate::keychain::{Keychain, MemoryKeyStore};
use crate::retrieval::EVAL_VECTORS_FILE;
use crate::vault::{CRASH_ENV, InitOptions, Vault};
use crate::{CONVERSATIONS_FILE, DataDir, Error, Result, Sillok};

/// The keys of the stores, each a subkey of the data key.
pub(crate) struct StoreKeys {
    pub(crate) index: IndexKey,
    pub(crate) conversations: DbKey,
    pub(crate) eval_vectors: DbKey,
}

impl Sillok {
    /// The conversation database's path.
    pub(crate) fn conversations_path(&self) -> PathBuf {
        self.data_dir().db().join(CONVERSATIONS_FILE)
    }

    /// The evaluation vector cache's path.
    pub(crate) fn eval_vectors_path(&self) -> PathBuf {
        self.data_dir().cache().join(EVAL_VECTORS_FILE)
    }

    /// The stores' keys, after making the vault (for a new data directory
    /// or a library from before the vault) and encrypting any store still
    /// in plaintext.
    ///
    /// # Errors
    ///
    /// As [`Sillok::data_key`] (fail closed: no store opens without it);
    /// migration failures (the plaintext is kept).
    pub(crate) fn store_keys(&self) -> Result<StoreKeys> {
        self.adopt_plaintext_stores()?;
        let key = self.data_key()?;
        let keys = StoreKeys {
            index: IndexKey::from_bytes(&key.subkey("index")),
            conversations: DbKey::from_bytes(&key.subkey("conversations")),
            eval_vectors: DbKey::from_bytes(&key.subkey("eval-vectors")),
        };
        self.migrate_stores(&keys)?;
        Ok(keys)
    }

    /// Opens the library with its index and databases encrypted.
    pub(crate) fn open_library(&self) -> Result<Library> {
        let keys = self.store_keys()?;
        Ok(Library::open_sealed(&self.library_dir(), &keys.index)?)
    }

    /// Makes the vault of a data directory whose stores predate it, when
    /// all of them are plaintext (with none, [`Sillok::data_key`] makes
    /// one; with encrypted ones and no vault, it refuses).
    fn adopt_plaintext_stores(&self) -> Result<()> {
        if Vault::exists(self.data_dir())? {
            return Ok(());
        }
        let states = self.store_states()?;
        let any_plain = states.contains(&DbState::Plain);
        let any_encrypted = states.contains(&DbState::Encrypted);
        if !any_plain || any_encrypted {
            return Ok(());
        }
        crate::audit::check_trail_may_get_a_new_key(self.data_dir().root(), &self.audit_dir())?;
        let options = InitOptions {
            recovery_key: false,
            adopt_existing_data: true,
            ..InitOptions::default()
        };
        match Vault::init(self.data_dir(), self.keychain().clone(), &options) {
            Ok(_) => {
                tracing::info!(
                    "made a vault for a library from before the vault; its stores are encrypted next"
                );
                Ok(())
            }
            // Another process made it first.
            Err(Error::VaultExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Plaintext, encrypted or missing, for each store (the library's
    /// stores counted together).
    fn store_states(&self) -> Result<Vec<DbState>> {
        let (plain, encrypted) = library_contents(&self.library_dir())?;
        let mut states = vec![
            sqlite::db_state(&self.conversations_path())?,
            sqlite::db_state(&self.eval_vectors_path())?,
        ];
        if plain {
            states.push(DbState::Plain);
        }
        if encrypted {
            states.push(DbState::Encrypted);
        }
        Ok(states)
    }

    /// Encrypts what is still plaintext (or finishes an interrupted run),
    /// one process at a time.
    fn migrate_stores(&self, keys: &StoreKeys) -> Result<()> {
        let library = self.library_dir();
        let conversations = self.conversations_path();
        let eval_vectors = self.eval_vectors_path();
        let pending = library_needs_migration(&library)?
            || needs_migration(&conversations)?
            || needs_migration(&eval_vectors)?;
        if !pending {
            return Ok(());
        }
        let _lock = migration_lock(self.data_dir())?;
        let mut step = |step: MigrationStep| crash_point(step.name());
        if encrypt_library(&library, &keys.index, &mut step)? {
            tracing::info!("library encrypted at rest");
        }
        for (path, key) in [
            (&conversations, &keys.conversations),
            (&eval_vectors, &keys.eval_vectors),
        ] {
            if sqlite::encrypt_in_place(path, key, &mut step)? {
                tracing::info!(store = %path.display(), "store encrypted at rest");
            }
        }
        Ok(())
    }
}

impl Sillok {
    /// A stored conversation with each citation whose document has left the
    /// library since (its collection removed, the file deleted) marked
    /// [`crate::conversations::Citation::source_deleted`]; the answers are kept as they were.
    ///
    /// # Errors
    ///
    /// Store and journal errors.
    pub fn conversation(
        &self,
        store: &ConversationStore,
        id: ConversationId,
    ) -> Result<Option<Conversation>> {
        let Some(mut conversation) = store.get(id)? else {
            return Ok(None);
        };
        let library = self.library()?;
        let mut known: HashMap<String, bool> = HashMap::new();
        for citation in conversation
            .turns
            .iter_mut()
            .flat_map(|t| t.content.citations.iter_mut())
        {
            let present = match known.get(&citation.doc_key) {
                Some(present) => *present,
                None => {
                    let present = match citation.doc_key.split_once(':') {
                        Some((collection, hash)) => !library.paths_of(collection, hash)?.is_empty(),
                        None => false,
                    };
                    known.insert(citation.doc_key.clone(), present);
                    present
                }
            };
            citation.source_deleted = !present;
        }
        Ok(Some(conversation))
    }
}

/// A throwaway data directory (evaluations, benchmarks) whose vault lives in
/// this process's memory: nothing of it is left in the OS keychain.
///
/// # Errors
///
/// As [`Sillok::open`].
pub(crate) fn open_scratch(data_dir: DataDir) -> Result<Sillok> {
    Sillok::open_with_keychain(
        data_dir,
        Keychain::with_store(Arc::new(MemoryKeyStore::default())),
    )
}

fn needs_migration(path: &Path) -> Result<bool> {
    Ok(sqlite::db_state(path)? == DbState::Plain || sqlite::staged_copy_exists(path)?)
}

/// Debug builds abort the process at the migration step named by
/// [`CRASH_ENV`] (the end-to-end tests' simulated crash).
fn crash_point(name: &'static str) -> sillok_index::Result<()> {
    #[cfg(debug_assertions)]
    if std::env::var(CRASH_ENV).is_ok_and(|at| at == name) {
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = (name, CRASH_ENV);
    Ok(())
}

/// Holds `<data>/migrate.lock` (an OS lock, released even by a crash).
fn migration_lock(data_dir: &DataDir) -> Result<std::fs::File> {
    let path = data_dir.root().join("migrate.lock");
    let fail = |source| Error::DataDir {
        path: path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::conversations::{Citation, NewTurn, TurnStatus};
    use crate::library::install_test_tokenizer;
    use sillok_index::{IngestSettings, SearchRequest, TokenCounter};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    const MARKER: &str = "zqxvstoremarker";

    fn note(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
        let docs = dir.join(name);
        std::fs::create_dir_all(&docs)?;
        std::fs::write(
            docs.join(format!("{name}.md")),
            format!("# {name}\n\n{MARKER} 환자 혈압 150/95, 로사르탄 50 mg.\n"),
        )?;
        Ok(docs)
    }

    /// Files under `dir` whose bytes hold the marker.
    fn marker_files(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if std::fs::read(&path)
                    .unwrap_or_default()
                    .windows(MARKER.len())
                    .any(|w| w == MARKER.as_bytes())
                {
                    found.push(path);
                }
            }
        }
        found
    }

    fn search(sillok: &Sillok) -> Result<Vec<sillok_index::Hit>> {
        Ok(sillok
            .search(&SearchRequest {
                query: MARKER.into(),
                limit: 10,
                ..SearchRequest::default()
            })?
            .hits)
    }

    fn turn_citing(hits: &[sillok_index::Hit]) -> NewTurn {
        NewTurn {
            question: format!("{MARKER}?"),
            answer: format!("{MARKER} [1]"),
            status: TurnStatus::Answered,
            model: None,
            citations: hits
                .iter()
                .enumerate()
                .map(|(i, h)| Citation {
                    number: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    doc_key: h.doc_key.clone(),
                    path: h.path.clone(),
                    title: h.title.clone(),
                    page: h.page,
                    span: h.span.clone(),
                    snippet: h.text.clone(),
                    chunk_index: h.chunk_index,
                    source_deleted: false,
                })
                .collect(),
            flags: Vec::new(),
            receipt: Value::Null,
            timings: Value::Null,
            tokens: Value::Null,
        }
    }

    #[test]
    fn a_new_data_directory_keeps_nothing_in_plaintext() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = Sillok::open(DataDir::at(dir.path().join("data")))?;
        install_test_tokenizer(&sillok)?;
        sillok.ingest("notes", &[note(dir.path(), "a")?], &mut |_| {})?;
        let hits = search(&sillok)?;
        assert_eq!(hits.len(), 1);
        let mut store = sillok.conversations()?;
        let id = store.create(MARKER, None, &[])?;
        store.add_turn(id, &turn_citing(&hits))?;
        drop(store);
        assert!(Vault::exists(sillok.data_dir())?);
        assert_eq!(
            marker_files(sillok.data_dir().root()),
            Vec::<PathBuf>::new()
        );
        assert!(
            !marker_files(&dir.path().join("a")).is_empty(),
            "the scan can see"
        );
        Ok(())
    }

    #[test]
    fn a_data_directory_from_before_the_vault_is_adopted_and_encrypted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let data = DataDir::at(dir.path().join("data"));
        data.create()?;
        {
            let sillok = Sillok::open(data.clone())?;
            install_test_tokenizer(&sillok)?;
            let library = Library::open(&sillok.library_dir())?;
            let counter = TokenCounter::from_file(&sillok.chunk_tokenizer_path()?)?;
            library.writer(counter, IngestSettings::default())?.ingest(
                "notes",
                &[note(dir.path(), "a")?],
                &mut |_| {},
            )?;
            let mut store = ConversationStore::open(&sillok.conversations_path())?;
            let id = store.create(MARKER, None, &[])?;
            store.add_turn(id, &turn_citing(&[]))?;
        }
        assert!(!marker_files(data.root()).is_empty(), "plaintext before");
        assert!(!Vault::exists(&data)?);

        let sillok = Sillok::open(data.clone())?;
        assert_eq!(search(&sillok)?.len(), 1);
        assert_eq!(sillok.conversations()?.list()?.len(), 1);
        assert!(Vault::exists(&data)?);
        assert_eq!(marker_files(data.root()), Vec::<PathBuf>::new());
        Ok(())
    }

    #[test]
    fn a_tampered_conversation_store_is_damage_not_data() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = Sillok::open(DataDir::at(dir.path().join("data")))?;
        let mut store = sillok.conversations()?;
        let id = store.create(MARKER, None, &[])?;
        store.add_turn(id, &turn_citing(&[]))?;
        drop(store);
        let path = sillok.conversations_path();
        let mut bytes = std::fs::read(&path)?;
        let len = bytes.len();
        for at in [100, len - 100] {
            bytes[at] ^= 0x04;
            std::fs::write(&path, &bytes)?;
            let read = sillok
                .conversations()
                .and_then(|s| Ok(s.get(id)?.map(|c| c.turns.len())));
            assert!(
                matches!(
                    read,
                    Err(Error::Conversations(
                        crate::conversations::ConversationError::Corrupt { .. }
                    ))
                ),
                "byte {at}: {read:?}"
            );
            bytes[at] ^= 0x04;
        }
        std::fs::write(&path, &bytes)?;
        assert_eq!(sillok.conversations()?.list()?.len(), 1, "intact again");
        Ok(())
    }

    #[test]
    fn a_removed_collection_is_erased_and_its_citations_marked_deleted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let sillok = Sillok::open(DataDir::at(dir.path().join("data")))?;
        install_test_tokenizer(&sillok)?;
        sillok.ingest("keep", &[note(dir.path(), "keep")?], &mut |_| {})?;
        sillok.ingest("gone", &[note(dir.path(), "gone")?], &mut |_| {})?;
        let hits = search(&sillok)?;
        assert_eq!(hits.len(), 2);
        let mut store = sillok.conversations()?;
        let id = store.create("q", None, &[])?;
        store.add_turn(id, &turn_citing(&hits))?;

        sillok.remove_collection("gone")?;
        let remaining = search(&sillok)?;
        assert_eq!(remaining.len(), 1);
        let conversation = sillok.conversation(&store, id)?.ok_or("no conversation")?;
        let marks: Vec<(String, bool)> = conversation.turns[0]
            .content
            .citations
            .iter()
            .map(|c| {
                (
                    c.doc_key.split(':').next().unwrap_or("").to_owned(),
                    c.source_deleted,
                )
            })
            .collect();
        let mut marks = marks;
        marks.sort();
        assert_eq!(
            marks,
            vec![("gone".to_owned(), true), ("keep".to_owned(), false)]
        );
        assert_eq!(
            conversation.turns[0].content.answer,
            format!("{MARKER} [1]")
        );
        Ok(())
    }
}
