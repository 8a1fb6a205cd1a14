//! The local conversation store: conversations, their turns and, for every
//! turn, the evidence it was answered from (citations, verification flags,
//! the search receipt, timings and token counts), in one SQLite file.
//!
//! It owns the file's schema (migrated through `PRAGMA user_version`), its
//! locking and corruption handling, and the Markdown export that shows how an
//! answer was reached. It does not answer, search or resolve follow-ups: the
//! pipeline hands finished [`NewTurn`]s over and reads
//! [`ConversationStore::history`] back.
//!
//! Contracts:
//! - A file that is not a readable conversation database is reported
//!   ([`ConversationError::Corrupt`], [`ConversationError::Foreign`]) and is
//!   never written to, deleted or re-created: it may be the only copy of a
//!   clinician's history, so moving it aside is the user's decision.
//! - A database written by a newer Sillok is refused
//!   ([`ConversationError::TooNew`]) rather than half-understood.
//! - Every write is one `IMMEDIATE` transaction: a busy database fails with
//!   [`ConversationError::Locked`] after the busy timeout, never halfway
//!   through a turn.
//! - Timestamps are seconds since the Unix epoch (UTC).

use std::fmt;
use std::num::TryFromIntError;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `Result` with [`ConversationError`].
pub type Result<T, E = ConversationError> = std::result::Result<T, E>;

/// How long an operation waits for another connection's lock by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA application_id` of a conversation store ("SLKC"): tells our file
/// apart from any other SQLite database the path may point at.
const APPLICATION_ID: i32 = 0x534c_4b43;

/// Longest automatic title, in characters.
const TITLE_MAX_CHARS: usize = 60;

/// Schema migrations; step `i` takes `user_version` from `i` to `i + 1`.
/// Append only: a released step is never edited.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- activity counter: orders conversations touched within the same second
    touched INTEGER NOT NULL,
    profile TEXT,
    collections TEXT NOT NULL CHECK (json_valid(collections))
) STRICT;
CREATE INDEX conversations_recent ON conversations (updated_at DESC, touched DESC);

CREATE TABLE turns (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    status TEXT NOT NULL,
    model_name TEXT,
    model_sha256 TEXT,
    created_at INTEGER NOT NULL,
    timings TEXT NOT NULL CHECK (json_valid(timings)),
    tokens TEXT NOT NULL CHECK (json_valid(tokens)),
    CHECK ((model_name IS NULL) = (model_sha256 IS NULL)),
    UNIQUE (conversation_id, ordinal)
) STRICT;

CREATE TABLE citations (
    id INTEGER PRIMARY KEY,
    turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    doc_key TEXT NOT NULL,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    page INTEGER NOT NULL,
    span_start INTEGER NOT NULL,
    span_end INTEGER NOT NULL,
    snippet TEXT NOT NULL,
    chunk_index INTEGER NOT NULL
) STRICT;
CREATE INDEX citations_turn ON citations (turn_id, number);

CREATE TABLE flags (
    id INTEGER PRIMARY KEY,
    turn_id INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
    sentence INTEGER,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL CHECK (json_valid(detail))
) STRICT;
CREATE INDEX flags_turn ON flags (turn_id);

CREATE TABLE receipts (
    turn_id INTEGER PRIMARY KEY REFERENCES turns (id) ON DELETE CASCADE,
    receipt TEXT NOT NULL CHECK (json_valid(receipt))
) STRICT;
"#];

/// Schema version this code writes and understands.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Everything the conversation store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// Another connection held the database longer than the busy timeout.
    #[error(
        "the conversation database {path} is busy in another Sillok window: close it and retry"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// SQLite's busy/locked error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is damaged, was tampered with (an encrypted page failed its
    /// check), or is not an SQLite database. It was left untouched.
    #[error(
        "{path} is damaged, was tampered with, or is not a database; it was left untouched: move it aside to start anew"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What SQLite reported.
        #[source]
        source: rusqlite::Error,
    },
    /// The file's encryption is not what was expected (plaintext where the
    /// vault's key was given, or encrypted where it was not).
    #[error("conversation database {path}: {reason}")]
    Encryption {
        /// The database file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The file is another application's SQLite database. It was left untouched.
    #[error(
        "{path} belongs to another application; it was left untouched: choose another location"
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
    },
    /// The database was written by a newer Sillok.
    #[error(
        "the conversation database {path} has schema {found}, newer than {supported}: update Sillok"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its `user_version`.
        found: i64,
        /// The newest version this code knows.
        supported: i64,
    },
    /// No conversation has this id (it may have been deleted).
    #[error("no conversation {0}")]
    NotFound(ConversationId),
    /// A conversation cannot be renamed to an empty title.
    #[error("a conversation title cannot be empty")]
    EmptyTitle,
    /// Any other SQLite failure, including unreadable stored values.
    #[error("conversation database {path} failed")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl ConversationError {
    /// True when the user can do something about it; false for internal failures.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, Self::Sqlite { .. })
    }
}

/// Attaches the database path to SQLite errors and sorts out locked and corrupt.
trait At<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> At<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| {
            let path = path.to_path_buf();
            match source.sqlite_error_code() {
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                    ConversationError::Locked { path, source }
                }
                Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                    ConversationError::Corrupt { path, source }
                }
                _ => ConversationError::Sqlite { path, source },
            }
        })
    }
}

/// Identifies a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConversationId(pub i64);

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TurnId(pub i64);

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnStatus {
    /// The model answered from the cited evidence.
    Answered,
    /// The documents did not contain an answer.
    NotFound,
    /// The user stopped it.
    Cancelled,
    /// Something went wrong.
    Failed,
    /// Only the evidence was shown, without a generated answer.
    EvidenceOnly,
}

impl TurnStatus {
    const ALL: [Self; 5] = [
        Self::Answered,
        Self::NotFound,
        Self::Cancelled,
        Self::Failed,
        Self::EvidenceOnly,
    ];

    /// The stored and exported name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::NotFound => "not_found",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::EvidenceOnly => "evidence_only",
        }
    }

    /// The status with this stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The model that generated an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef {
    /// Catalogue name.
    pub name: String,
    /// SHA-256 of the model file, lowercase hex.
    pub sha256: String,
}

/// One numbered source an answer cites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    /// The number the answer refers to (`[1]`).
    pub number: u32,
    /// Stable key of the document in its collection.
    pub doc_key: String,
    /// Path of the document when it was cited.
    pub path: String,
    /// Document title.
    pub title: String,
    /// Page the passage is on.
    pub page: u32,
    /// Passage position within the document's extracted text.
    pub span: Range<usize>,
    /// The passage as shown to the model.
    pub snippet: String,
    /// Index of the chunk in the document.
    pub chunk_index: u64,
    /// The cited document has since been removed from the library (its
    /// chunks, vectors and cached text erased); the answer is kept. Not
    /// stored: set when read through [`crate::Sillok::conversation`].
    pub source_deleted: bool,
}

/// A verification flag raised on an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFlag {
    /// Index of the flagged sentence; `None` for the whole answer.
    pub sentence: Option<u32>,
    /// What kind of problem (e.g. `unsupported`).
    pub kind: String,
    /// Kind-specific detail.
    pub detail: Value,
}

/// A finished turn, as the answering pipeline hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTurn {
    /// The question as asked.
    pub question: String,
    /// The answer as shown (possibly partial when cancelled).
    pub answer: String,
    /// How the turn ended.
    pub status: TurnStatus,
    /// The generating model; `None` when nothing was generated.
    pub model: Option<ModelRef>,
    /// Sources, in number order.
    pub citations: Vec<Citation>,
    /// Verification flags.
    pub flags: Vec<StoredFlag>,
    /// Search receipt: queries run, collections, documents/chunks searched,
    /// near-misses, collection state (e.g. commit sequence).
    pub receipt: Value,
    /// Stage timings.
    pub timings: Value,
    /// Token counts.
    pub tokens: Value,
}

/// A stored turn: what the pipeline handed over, with its place and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Its id.
    pub id: TurnId,
    /// Position in the conversation, from 1.
    pub ordinal: u32,
    /// When it was stored.
    pub created_at: i64,
    /// Question, answer, status, model and evidence, as stored.
    pub content: NewTurn,
}

/// A conversation as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// Its id.
    pub id: ConversationId,
    /// Title; empty until the first question names it.
    pub title: String,
    /// When it was created.
    pub created_at: i64,
    /// When a turn was last added.
    pub updated_at: i64,
    /// Number of turns.
    pub turns: u32,
}

/// A conversation with all its turns.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Id, title, times, turn count.
    pub summary: ConversationSummary,
    /// The answering profile it was started with.
    pub profile: Option<String>,
    /// The collections it searches.
    pub collections: Vec<String>,
    /// Its turns, in order.
    pub turns: Vec<Turn>,
}

/// The conversation database. One per data directory; not `Sync`: share it
/// behind a mutex.
#[derive(Debug)]
pub struct ConversationStore {
    conn: Connection,
    path: PathBuf,
}

impl ConversationStore {
    /// Opens (creating if missing) the store at `path` with the
    /// [`DEFAULT_BUSY_TIMEOUT`]. The parent directory must exist.
    ///
    /// # Errors
    ///
    /// As [`ConversationStore::open_with_timeout`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens (creating if missing) the store at `path`; every operation waits
    /// at most `busy_timeout` for other connections' locks.
    ///
    /// The whole file is checked (`PRAGMA quick_check`, linear in its size)
    /// before anything is written, so damage shows here, not mid-session.
    ///
    /// # Errors
    ///
    /// [`ConversationError::Corrupt`] for a damaged or non-SQLite file,
    /// [`ConversationError::Foreign`] for another application's database,
    /// [`ConversationError::TooNew`] for a newer schema,
    /// [`ConversationError::Locked`] when the file stays locked,
    /// [`ConversationError::Sqlite`] otherwise (e.g. a missing directory).
    pub fn open_with_timeout(path: &Path, busy_timeout: Duration) -> Result<Self> {
        Self::open_keyed(path, None, busy_timeout)
    }

    /// [`ConversationStore::open_with_timeout`] for a store encrypted at rest
    /// under `key` (SQLCipher; see [`sillok_index::sqlite`]) when given.
    ///
    /// # Errors
    ///
    /// As [`ConversationStore::open_with_timeout`];
    /// [`ConversationError::Encryption`] for a plaintext file opened with a
    /// key. A wrong key or an altered page is [`ConversationError::Corrupt`].
    pub fn open_keyed(
        path: &Path,
        key: Option<&sillok_index::DbKey>,
        busy_timeout: Duration,
    ) -> Result<Self> {
        let too_new = |found| ConversationError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        };
        let state =
            sillok_index::sqlite::db_state(path).map_err(|e| ConversationError::Encryption {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        let mismatch = match (key.is_some(), state) {
            (true, sillok_index::sqlite::DbState::Plain) => {
                Some("it is not encrypted yet: it must be migrated first")
            }
            _ => None,
        };
        if let Some(reason) = mismatch {
            return Err(ConversationError::Encryption {
                path: path.to_path_buf(),
                reason: reason.to_owned(),
            });
        }
        let mut conn = Connection::open(path).at(path)?;
        if let Some(key) = key {
            sillok_index::sqlite::set_key(&conn, key).map_err(|e| {
                ConversationError::Encryption {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            })?;
        }
        conn.busy_timeout(busy_timeout).at(path)?;
        // Erasure: deleted rows are overwritten, not left in free pages.
        conn.pragma_update(None, "secure_delete", true).at(path)?;
        conn.pragma_update(None, "temp_store", "MEMORY").at(path)?;
        // Read-only checks first: nothing is written to a file we do not understand.
        let inspected = inspect(&conn).at(path);
        // SQLCipher reports a page failing its HMAC during the full check as
        // a plain SQL error: with a key, any failure of the check is damage.
        let (app_id, version, empty) = match (inspected, key) {
            (Err(ConversationError::Sqlite { path, source }), Some(_)) => {
                return Err(ConversationError::Corrupt { path, source });
            }
            (inspected, _) => inspected?,
        };
        let fresh = app_id == 0 && version == 0 && empty;
        if !(app_id == APPLICATION_ID || fresh) || version < 0 {
            return Err(ConversationError::Foreign {
                path: path.to_path_buf(),
            });
        }
        if version > SCHEMA_VERSION {
            return Err(too_new(version));
        }
        conn.pragma_update(None, "journal_mode", "WAL").at(path)?;
        conn.pragma_update(None, "foreign_keys", true).at(path)?;
        if version < SCHEMA_VERSION {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate);
            let tx = tx.at(path)?;
            // Re-read under the write lock: another process may have migrated meanwhile.
            let version = migrate(&tx).at(path)?;
            if version > SCHEMA_VERSION {
                return Err(too_new(version));
            }
            tx.commit().at(path)?;
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a conversation and returns its id. An empty `title` is filled
    /// in from the first question.
    ///
    /// # Errors
    ///
    /// [`ConversationError::Locked`] or another database failure.
    pub fn create(
        &mut self,
        title: &str,
        profile: Option<&str>,
        collections: &[String],
    ) -> Result<ConversationId> {
        self.conn
            .execute(
                "INSERT INTO conversations
                     (title, created_at, updated_at, touched, profile, collections)
                 VALUES (?1, ?2, ?2, (SELECT coalesce(max(touched), 0) + 1 FROM conversations),
                         ?3, ?4)",
                params![
                    title.trim(),
                    now(),
                    profile,
                    Value::from(collections).to_string()
                ],
            )
            .at(&self.path)?;
        Ok(ConversationId(self.conn.last_insert_rowid()))
    }

    /// Stores a finished turn with its evidence in one transaction, bumps the
    /// conversation's `updated_at` and, if its title is empty, titles it after
    /// the question (at most 60 characters).
    ///
    /// # Errors
    ///
    /// [`ConversationError::NotFound`] for an unknown conversation,
    /// [`ConversationError::Locked`], or [`ConversationError::Sqlite`] (also
    /// for a span or chunk index past `i64::MAX`). Nothing is stored then.
    pub fn add_turn(&mut self, id: ConversationId, turn: &NewTurn) -> Result<TurnId> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate);
        let tx = tx.at(path)?;
        let turn_id = insert_turn(&tx, id, turn).at(path)?;
        let turn_id = turn_id.ok_or(ConversationError::NotFound(id))?;
        tx.commit().at(path)?;
        Ok(turn_id)
    }

    /// All conversations, most recently active first.
    ///
    /// # Errors
    ///
    /// [`ConversationError::Locked`] or another database failure.
    pub fn list(&self) -> Result<Vec<ConversationSummary>> {
        let sql = format!("{SUMMARY} ORDER BY c.updated_at DESC, c.touched DESC");
        let mut stmt = self.conn.prepare(&sql).at(&self.path)?;
        let rows = stmt.query_map([], summary).at(&self.path)?;
        rows.collect::<rusqlite::Result<_>>().at(&self.path)
    }

    /// One conversation with every turn and its evidence, or `None`.
    ///
    /// # Errors
    ///
    /// [`ConversationError::Locked`], or [`ConversationError::Sqlite`] for
    /// unreadable stored values and other database failures.
    pub fn get(&self, id: ConversationId) -> Result<Option<Conversation>> {
        // One read transaction: a consistent snapshot even while a turn is added.
        let tx = self.conn.unchecked_transaction().at(&self.path)?;
        load(&tx, id).at(&self.path)
    }

    /// Renames a conversation; its `updated_at` stays.
    ///
    /// # Errors
    ///
    /// [`ConversationError::EmptyTitle`], [`ConversationError::NotFound`],
    /// [`ConversationError::Locked`] or another database failure.
    pub fn rename(&mut self, id: ConversationId, title: &str) -> Result<()> {
        let title = title.trim();
        if title.is_empty() {
            return Err(ConversationError::EmptyTitle);
        }
        let sql = "UPDATE conversations SET title = ?2 WHERE id = ?1";
        let changed = self
            .conn
            .execute(sql, params![id.0, title])
            .at(&self.path)?;
        if changed == 0 {
            Err(ConversationError::NotFound(id))
        } else {
            Ok(())
        }
    }

    /// Deletes a conversation with its turns and their evidence.
    ///
    /// # Errors
    ///
    /// [`ConversationError::NotFound`], [`ConversationError::Locked`] or
    /// another database failure.
    pub fn delete(&mut self, id: ConversationId) -> Result<()> {
        let sql = "DELETE FROM conversations WHERE id = ?1";
        let changed = self.conn.execute(sql, [id.0]).at(&self.path)?;
        if changed == 0 {
            Err(ConversationError::NotFound(id))
        } else {
            Ok(())
        }
    }

    /// The last `last_n` turns as `(question, answer)`, oldest first, for
    /// resolving a follow-up. Turns of every status are included: a cancelled
    /// or failed question is still context.
    ///
    /// # Errors
    ///
    /// [`ConversationError::NotFound`], [`ConversationError::Locked`] or
    /// another database failure.
    pub fn history(&self, id: ConversationId, last_n: usize) -> Result<Vec<(String, String)>> {
        let tx = self.conn.unchecked_transaction().at(&self.path)?;
        let history = load_history(&tx, id, last_n).at(&self.path)?;
        history.ok_or(ConversationError::NotFound(id))
    }

    /// The conversation as a Markdown evidence record ([`Conversation::to_markdown`]).
    ///
    /// # Errors
    ///
    /// [`ConversationError::NotFound`] and those of [`ConversationStore::get`].
    pub fn export_markdown(&self, id: ConversationId) -> Result<String> {
        let conversation = self.get(id)?.ok_or(ConversationError::NotFound(id))?;
        Ok(conversation.to_markdown())
    }
}

/// `(application_id, user_version, has no tables)`, after a full quick check.
fn inspect(conn: &Connection) -> rusqlite::Result<(i32, i64, bool)> {
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    let problems: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if problems.iter().any(|p| p != "ok") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
            Some(format!("quick_check: {}", problems.join("; "))),
        ));
    }
    let app_id = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let sql = "SELECT count(*) = 0 FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'";
    let empty = conn.query_row(sql, [], |r| r.get(0))?;
    Ok((app_id, version, empty))
}

/// Applies the missing migration steps; returns the version found, which is
/// left alone when newer than [`SCHEMA_VERSION`].
fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<i64> {
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let mut version = found;
    while let Some(step) = usize::try_from(version)
        .ok()
        .and_then(|v| MIGRATIONS.get(v))
    {
        tx.execute_batch(step)?;
        version += 1;
        tx.pragma_update(None, "user_version", version)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    Ok(found)
}

/// Inserts the turn; `None` when the conversation does not exist.
fn insert_turn(
    tx: &Transaction<'_>,
    id: ConversationId,
    turn: &NewTurn,
) -> rusqlite::Result<Option<TurnId>> {
    let sql = "SELECT title FROM conversations WHERE id = ?1";
    let Some(title) = tx
        .query_row(sql, [id.0], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let now = now();
    tx.execute(
        "INSERT INTO turns (conversation_id, ordinal, question, answer, status, model_name,
                            model_sha256, created_at, timings, tokens)
         VALUES (?1, (SELECT coalesce(max(ordinal), 0) + 1 FROM turns WHERE conversation_id = ?1),
                 ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id.0,
            turn.question,
            turn.answer,
            turn.status.as_str(),
            turn.model.as_ref().map(|m| &m.name),
            turn.model.as_ref().map(|m| &m.sha256),
            now,
            turn.timings.to_string(),
            turn.tokens.to_string(),
        ],
    )?;
    let turn_id = tx.last_insert_rowid();
    let mut insert = tx.prepare(
        "INSERT INTO citations (turn_id, number, doc_key, path, title, page, span_start, span_end,
                                snippet, chunk_index)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for c in &turn.citations {
        let (start, end, chunk) = (int(c.span.start)?, int(c.span.end)?, int(c.chunk_index)?);
        insert.execute(params![
            turn_id, c.number, c.doc_key, c.path, c.title, c.page, start, end, c.snippet, chunk
        ])?;
    }
    let sql = "INSERT INTO flags (turn_id, sentence, kind, detail) VALUES (?1, ?2, ?3, ?4)";
    let mut insert = tx.prepare(sql)?;
    for f in &turn.flags {
        insert.execute(params![turn_id, f.sentence, f.kind, f.detail.to_string()])?;
    }
    let sql = "INSERT INTO receipts (turn_id, receipt) VALUES (?1, ?2)";
    tx.execute(sql, params![turn_id, turn.receipt.to_string()])?;
    let title = if title.trim().is_empty() {
        title_from_question(&turn.question)
    } else {
        title
    };
    tx.execute(
        "UPDATE conversations
         SET title = ?2, updated_at = ?3, touched = (SELECT max(touched) + 1 FROM conversations)
         WHERE id = ?1",
        params![id.0, title, now],
    )?;
    Ok(Some(TurnId(turn_id)))
}

/// Selects the columns [`summary`] reads.
const SUMMARY: &str = "SELECT c.id, c.title, c.created_at, c.updated_at,
        (SELECT count(*) FROM turns t WHERE t.conversation_id = c.id), c.profile, c.collections
    FROM conversations c";

fn summary(r: &Row<'_>) -> rusqlite::Result<ConversationSummary> {
    Ok(ConversationSummary {
        id: ConversationId(r.get(0)?),
        title: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
        turns: r.get(4)?,
    })
}

fn load(conn: &Connection, id: ConversationId) -> rusqlite::Result<Option<Conversation>> {
    let sql = format!("{SUMMARY} WHERE c.id = ?1");
    let head = conn.query_row(&sql, [id.0], |r| {
        Ok((summary(r)?, r.get(5)?, r.get::<_, Json<_>>(6)?.0))
    });
    let Some((summary, profile, collections)) = head.optional()? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare(
        "SELECT t.id, t.ordinal, t.created_at, t.question, t.answer, t.status, t.model_name,
                t.model_sha256, r.receipt, t.timings, t.tokens
         FROM turns t LEFT JOIN receipts r ON r.turn_id = t.id
         WHERE t.conversation_id = ?1 ORDER BY t.ordinal",
    )?;
    let rows = stmt.query_map([id.0], |r| {
        let model = match (r.get(6)?, r.get(7)?) {
            (Some(name), Some(sha256)) => Some(ModelRef { name, sha256 }),
            _ => None,
        };
        let content = NewTurn {
            question: r.get(3)?,
            answer: r.get(4)?,
            status: r.get(5)?,
            model,
            citations: Vec::new(),
            flags: Vec::new(),
            receipt: r.get::<_, Option<Json<_>>>(8)?.map_or(Value::Null, |j| j.0),
            timings: r.get::<_, Json<_>>(9)?.0,
            tokens: r.get::<_, Json<_>>(10)?.0,
        };
        Ok(Turn {
            id: TurnId(r.get(0)?),
            ordinal: r.get(1)?,
            created_at: r.get(2)?,
            content,
        })
    })?;
    let mut turns = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut citations = conn.prepare(
        "SELECT number, doc_key, path, title, page, span_start, span_end, snippet, chunk_index
         FROM citations WHERE turn_id = ?1 ORDER BY number, id",
    )?;
    let sql = "SELECT sentence, kind, detail FROM flags WHERE turn_id = ?1 ORDER BY id";
    let mut flags = conn.prepare(sql)?;
    for turn in &mut turns {
        let rows = citations.query_map([turn.id.0], |r| {
            Ok(Citation {
                number: r.get(0)?,
                doc_key: r.get(1)?,
                path: r.get(2)?,
                title: r.get(3)?,
                page: r.get(4)?,
                span: unsigned(r, 5)?..unsigned(r, 6)?,
                snippet: r.get(7)?,
                chunk_index: unsigned(r, 8)?,
                source_deleted: false,
            })
        })?;
        turn.content.citations = rows.collect::<rusqlite::Result<_>>()?;
        let rows = flags.query_map([turn.id.0], |r| {
            let detail = r.get::<_, Json<_>>(2)?.0;
            Ok(StoredFlag {
                sentence: r.get(0)?,
                kind: r.get(1)?,
                detail,
            })
        })?;
        turn.content.flags = rows.collect::<rusqlite::Result<_>>()?;
    }
    Ok(Some(Conversation {
        summary,
        profile,
        collections,
        turns,
    }))
}

fn load_history(
    conn: &Connection,
    id: ConversationId,
    last_n: usize,
) -> rusqlite::Result<Option<Vec<(String, String)>>> {
    let sql = "SELECT 1 FROM conversations WHERE id = ?1";
    if conn
        .query_row(sql, [id.0], |_| Ok(()))
        .optional()?
        .is_none()
    {
        return Ok(None);
    }
    let mut stmt = conn.prepare(
        "SELECT question, answer FROM (
             SELECT ordinal, question, answer FROM turns WHERE conversation_id = ?1
             ORDER BY ordinal DESC LIMIT ?2)
         ORDER BY ordinal",
    )?;
    let limit = i64::try_from(last_n).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![id.0, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect::<rusqlite::Result<_>>().map(Some)
}

/// An unsigned number for SQLite's signed integers (rusqlite converts
/// `u64`/`usize` only with its `fallible_uint` feature).
fn int<T: TryInto<i64, Error = TryFromIntError>>(value: T) -> rusqlite::Result<i64> {
    value
        .try_into()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// A stored integer as an unsigned type.
fn unsigned<T: TryFrom<i64>>(r: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let value: i64 = r.get(idx)?;
    T::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(idx, value))
}

/// A JSON text column, decoded.
struct Json<T>(T);

impl<T: DeserializeOwned> FromSql for Json<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Json)
            .map_err(FromSqlError::other)
    }
}

impl FromSql for TurnStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let name = value.as_str()?;
        let unknown = || FromSqlError::Other(format!("unknown turn status {name:?}").into());
        Self::from_name(name).ok_or_else(unknown)
    }
}

/// Seconds since the Unix epoch; 0 if the clock is before it.
fn now() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The question on one line, cut to [`TITLE_MAX_CHARS`] characters with an ellipsis.
fn title_from_question(question: &str) -> String {
    let line = question.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= TITLE_MAX_CHARS {
        return line;
    }
    let mut title: String = line.chars().take(TITLE_MAX_CHARS - 1).collect();
    title.truncate(title.trim_end().len());
    title.push('…');
    title
}

impl Conversation {
    /// A self-contained Markdown record of the conversation: for every turn
    /// the question, answer, status, model and its SHA-256, every source
    /// (path, page, span, chunk, document key, quoted snippet), the flags,
    /// the search receipt, timings and token counts. Text from users, models
    /// and documents is escaped, and multi-line text is quoted line by line,
    /// so it cannot change the record's structure. Deterministic: the same
    /// conversation always gives the same bytes.
    pub fn to_markdown(&self) -> String {
        Export(self).to_string()
    }
}

struct Export<'a>(&'a Conversation);

impl fmt::Display for Export<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0;
        let s = &c.summary;
        if s.title.is_empty() {
            writeln!(f, "# Untitled conversation\n")?;
        } else {
            writeln!(f, "# {}\n", Inline(&s.title))?;
        }
        writeln!(f, "- Conversation: {}", s.id)?;
        writeln!(f, "- Created: {}", Utc(s.created_at))?;
        writeln!(f, "- Updated: {}", Utc(s.updated_at))?;
        match &c.profile {
            Some(p) => writeln!(f, "- Profile: {}", Inline(p))?,
            None => writeln!(f, "- Profile: none")?,
        }
        write!(f, "- Collections:")?;
        if c.collections.is_empty() {
            write!(f, " none")?;
        }
        for (i, name) in c.collections.iter().enumerate() {
            write!(f, "{} {}", if i == 0 { "" } else { "," }, Code(name))?;
        }
        writeln!(f)?;
        for turn in &c.turns {
            write_turn(f, turn)?;
        }
        Ok(())
    }
}

fn write_turn(f: &mut fmt::Formatter<'_>, turn: &Turn) -> fmt::Result {
    writeln!(f, "\n## Turn {}\n", turn.ordinal)?;
    writeln!(f, "- Asked: {}", Utc(turn.created_at))?;
    let t = &turn.content;
    writeln!(f, "- Status: {}", t.status.as_str())?;
    match &t.model {
        Some(m) => writeln!(
            f,
            "- Model: {} (SHA-256 {})",
            Code(&m.name),
            Code(&m.sha256)
        )?,
        None => writeln!(f, "- Model: none")?,
    }
    writeln!(f, "\n### Question\n\n{}", Quote(&t.question))?;
    writeln!(f, "\n### Answer\n\n{}", Quote(&t.answer))?;
    if !t.citations.is_empty() {
        writeln!(f, "\n### Sources")?;
    }
    for c in &t.citations {
        let deleted = if c.source_deleted {
            " (source deleted)"
        } else {
            ""
        };
        writeln!(
            f,
            "\n#### \\[{}\\] {}{deleted}\n",
            c.number,
            Inline(&c.title)
        )?;
        writeln!(f, "- Location: {}, page {}", Code(&c.path), c.page)?;
        writeln!(f, "- Span: {}..{}", c.span.start, c.span.end)?;
        writeln!(f, "- Chunk: {}", c.chunk_index)?;
        writeln!(f, "- Document key: {}\n", Code(&c.doc_key))?;
        writeln!(f, "{}", Quote(&c.snippet))?;
    }
    if !t.flags.is_empty() {
        writeln!(f, "\n### Flags\n")?;
    }
    for flag in &t.flags {
        match flag.sentence {
            Some(n) => write!(f, "- Sentence {n}: ")?,
            None => write!(f, "- Whole answer: ")?,
        }
        write!(f, "{}", Code(&flag.kind))?;
        if !flag.detail.is_null() {
            write!(f, " {}", Code(&flag.detail.to_string()))?;
        }
        writeln!(f)?;
    }
    for (heading, value) in [
        ("Search receipt", &t.receipt),
        ("Timings", &t.timings),
        ("Tokens", &t.tokens),
    ] {
        writeln!(f, "\n### {heading}\n")?;
        if value.is_null() {
            writeln!(f, "None recorded.")?;
        } else {
            write_json(f, value, 0)?;
        }
    }
    Ok(())
}

/// JSON as a nested bullet list: objects by key, arrays item by item.
fn write_json(f: &mut fmt::Formatter<'_>, value: &Value, depth: usize) -> fmt::Result {
    let pad = "  ".repeat(depth);
    let nested = |v: &Value| match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                if nested(v) {
                    writeln!(f, "{pad}- {}:", Inline(key))?;
                    write_json(f, v, depth + 1)?;
                } else {
                    writeln!(f, "{pad}- {}: {}", Inline(key), Scalar(v))?;
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                if nested(v) {
                    writeln!(f, "{pad}- item {}:", i + 1)?;
                    write_json(f, v, depth + 1)?;
                } else {
                    writeln!(f, "{pad}- {}", Scalar(v))?;
                }
            }
        }
        v => writeln!(f, "{pad}- {}", Scalar(v))?,
    }
    Ok(())
}

/// A JSON leaf: strings escaped, `null` as "none", anything else as JSON.
struct Scalar<'a>(&'a Value);

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::String(s) => Inline(s).fmt(f),
            Value::Null => f.write_str("none"),
            v => write!(f, "{v}"),
        }
    }
}

/// Text on one line with Markdown-significant characters backslash-escaped.
struct Inline<'a>(&'a str);

impl fmt::Display for Inline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prev = ' ';
        let mut chars = self.0.chars().peekable();
        while let Some(ch) = chars.next() {
            // An underscore inside a word never emphasises: leave `snake_case` readable.
            let intraword = ch == '_'
                && prev.is_alphanumeric()
                && chars.peek().is_some_and(|c| c.is_alphanumeric());
            match ch {
                '\r' | '\n' => f.write_str(" ")?,
                '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '#'
                    if !intraword =>
                {
                    write!(f, "\\{ch}")?;
                }
                ch => write!(f, "{ch}")?,
            }
            prev = ch;
        }
        Ok(())
    }
}

/// Multi-line text as a blockquote: every line starts with `> `, so nothing
/// in it (a heading, a fence, a blank line) can end the quote.
struct Quote<'a>(&'a str);

impl fmt::Display for Quote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.trim().is_empty() {
            return f.write_str("> *(empty)*");
        }
        let text = self.0.replace("\r\n", "\n").replace('\r', "\n");
        for (i, line) in text.trim_end().lines().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if line.trim().is_empty() {
                f.write_str(">")?;
            } else {
                write!(f, "> {}", Inline(line))?;
            }
        }
        Ok(())
    }
}

/// An inline code span on one line, fenced with more backticks than the text holds.
struct Code<'a>(&'a str);

impl fmt::Display for Code<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.replace(['\r', '\n'], " ");
        if text.trim().is_empty() {
            return f.write_str("*(none)*");
        }
        let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest + 1);
        let pad = if text.starts_with('`') || text.ends_with('`') {
            " "
        } else {
            ""
        };
        write!(f, "{fence}{pad}{text}{pad}{fence}")
    }
}

/// Seconds since the epoch as ISO 8601 UTC followed by the raw value.
struct Utc(i64);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z ({})",
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60,
            self.0
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn store(dir: &tempfile::TempDir) -> Result<ConversationStore> {
        ConversationStore::open(&dir.path().join("conversations.db"))
    }

    fn citation(number: u32, snippet: &str) -> Citation {
        Citation {
            number,
            doc_key: format!("sepsis-guideline#{number}"),
            path: "guidelines/sepsis_2024.pdf".into(),
            title: "Surviving Sepsis *2024*".into(),
            page: 12 + number,
            span: 100..480,
            snippet: snippet.into(),
            chunk_index: 17,
            source_deleted: false,
        }
    }

    fn turn(question: &str) -> NewTurn {
        NewTurn {
            question: question.into(),
            answer: "Give 30 mL/kg crystalloid within 3 hours [1].".into(),
            status: TurnStatus::Answered,
            model: Some(ModelRef {
                name: "qwen3-4b-q4".into(),
                sha256: "ab".repeat(32),
            }),
            citations: vec![
                citation(1, "Initial resuscitation:\n30 mL/kg"),
                citation(2, "Reassess."),
            ],
            flags: vec![
                StoredFlag {
                    sentence: Some(0),
                    kind: "unsupported".into(),
                    detail: json!({"score": 0.2}),
                },
                StoredFlag {
                    sentence: None,
                    kind: "low_coverage".into(),
                    detail: Value::Null,
                },
            ],
            receipt: json!({
                "queries": ["sepsis fluid volume", "crystalloid 30 mL/kg"],
                "collections": ["guidelines"],
                "documents_searched": 42,
                "chunks_searched": 1234,
                "near_misses": [{"doc_key": "old-protocol", "score": 0.41}],
                "collection_state": {"guidelines": {"commit_sequence": 7}}
            }),
            timings: json!({"retrieve_ms": 35, "generate_ms": 2100}),
            tokens: json!({"prompt": 1800, "completion": 64}),
        }
    }

    fn count(path: &Path, table: &str) -> rusqlite::Result<i64> {
        Connection::open(path)?
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
    }

    #[test]
    fn fresh_database_is_migrated_and_reopening_changes_nothing() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let version: i64 = s
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))?;
        assert_eq!(mode, "wal");
        let fk: bool = s
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
        assert!(fk);
        let id = s.create("Sepsis", None, &[])?;
        let path = s.path().to_path_buf();
        drop(s);

        let s = ConversationStore::open(&path)?;
        let version: i64 = s
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(s.list()?.iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
        Ok(())
    }

    #[test]
    fn newer_schema_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = store(&dir)?.path().to_path_buf();
        Connection::open(&path)?.pragma_update(None, "user_version", SCHEMA_VERSION + 1)?;
        match ConversationStore::open(&path) {
            Err(ConversationError::TooNew {
                found, supported, ..
            }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn turn_round_trips_with_all_its_evidence() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let collections = vec!["guidelines".to_string(), "formulary".to_string()];
        let id = s.create("Sepsis fluids", Some("emergency"), &collections)?;
        let first = turn("How much fluid in septic shock?");
        let mut second = turn("And in children?");
        second.status = TurnStatus::EvidenceOnly;
        second.model = None;
        second.citations.clear();
        second.flags.clear();
        second.receipt = Value::Null;
        let t1 = s.add_turn(id, &first)?;
        let t2 = s.add_turn(id, &second)?;
        assert_ne!(t1, t2);

        let c = s.get(id)?.ok_or("conversation missing")?;
        assert_eq!(c.summary.title, "Sepsis fluids");
        assert_eq!(c.summary.turns, 2);
        assert_eq!(c.profile.as_deref(), Some("emergency"));
        assert_eq!(c.collections, collections);
        for (stored, (new, id)) in c.turns.iter().zip([(&first, t1), (&second, t2)]) {
            assert_eq!(stored.id, id);
            assert_eq!(&stored.content, new);
        }
        assert_eq!(
            c.turns.iter().map(|t| t.ordinal).collect::<Vec<_>>(),
            [1, 2]
        );
        assert!(s.get(ConversationId(id.0 + 100))?.is_none());
        Ok(())
    }

    #[test]
    fn adding_to_a_missing_conversation_fails() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let r = s.add_turn(ConversationId(99), &turn("q"));
        assert!(
            matches!(r, Err(ConversationError::NotFound(ConversationId(99)))),
            "{r:?}"
        );
        assert_eq!(count(s.path(), "turns")?, 0);
        Ok(())
    }

    #[test]
    fn a_failing_turn_is_not_stored_in_part() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let id = s.create("", None, &[])?;
        let mut bad = turn("q");
        bad.citations[1].chunk_index = u64::MAX;
        let r = s.add_turn(id, &bad);
        assert!(matches!(r, Err(ConversationError::Sqlite { .. })), "{r:?}");
        for table in ["turns", "citations", "flags", "receipts"] {
            assert_eq!(count(s.path(), table)?, 0, "{table}");
        }
        assert_eq!(s.list()?[0].title, "");
        Ok(())
    }

    #[test]
    fn delete_cascades_to_turns_and_evidence() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let keep = s.create("keep", None, &[])?;
        let gone = s.create("gone", None, &[])?;
        s.add_turn(keep, &turn("q1"))?;
        s.add_turn(gone, &turn("q2"))?;
        s.add_turn(gone, &turn("q3"))?;
        s.delete(gone)?;
        assert!(s.get(gone)?.is_none());
        assert_eq!(count(s.path(), "turns")?, 1);
        assert_eq!(count(s.path(), "citations")?, 2);
        assert_eq!(count(s.path(), "flags")?, 2);
        assert_eq!(count(s.path(), "receipts")?, 1);
        assert_eq!(
            s.get(keep)?.ok_or("kept conversation missing")?.turns.len(),
            1
        );
        assert!(matches!(
            s.delete(gone),
            Err(ConversationError::NotFound(_))
        ));
        Ok(())
    }

    #[test]
    fn rename_changes_the_title_only() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let id = s.create("old", None, &[])?;
        let before = s.list()?;
        s.rename(id, "  New title  ")?;
        let after = s.list()?;
        assert_eq!(after[0].title, "New title");
        assert_eq!(after[0].updated_at, before[0].updated_at);
        assert!(matches!(
            s.rename(id, " \n"),
            Err(ConversationError::EmptyTitle)
        ));
        assert!(matches!(
            s.rename(ConversationId(999), "x"),
            Err(ConversationError::NotFound(_))
        ));
        assert_eq!(s.list()?[0].title, "New title");
        Ok(())
    }

    #[test]
    fn list_puts_the_most_recently_active_first() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let a = s.create("a", None, &[])?;
        let b = s.create("b", None, &[])?;
        let c = s.create("c", None, &[])?;
        let ids = |s: &ConversationStore| -> Result<Vec<ConversationId>> {
            Ok(s.list()?.into_iter().map(|c| c.id).collect())
        };
        assert_eq!(ids(&s)?, [c, b, a]);
        s.add_turn(a, &turn("q"))?;
        assert_eq!(ids(&s)?, [a, c, b]);
        s.add_turn(b, &turn("q"))?;
        assert_eq!(ids(&s)?, [b, a, c]);
        let turns: Vec<u32> = s.list()?.iter().map(|c| c.turns).collect();
        assert_eq!(turns, [1, 1, 0]);
        Ok(())
    }

    #[test]
    fn history_gives_the_last_turns_oldest_first() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let id = s.create("h", None, &[])?;
        for i in 1..=5 {
            let mut t = turn(&format!("q{i}"));
            t.answer = format!("a{i}");
            s.add_turn(id, &t)?;
        }
        let h = s.history(id, 3)?;
        let expected: Vec<(String, String)> = (3..=5)
            .map(|i| (format!("q{i}"), format!("a{i}")))
            .collect();
        assert_eq!(h, expected);
        assert_eq!(s.history(id, 100)?.len(), 5);
        assert!(s.history(id, 0)?.is_empty());
        assert!(matches!(
            s.history(ConversationId(42), 3),
            Err(ConversationError::NotFound(_))
        ));
        Ok(())
    }

    #[test]
    fn first_question_titles_an_untitled_conversation() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let untitled = s.create("", None, &[])?;
        let titled = s.create("Mine", None, &[])?;
        let question = "패혈성 쇼크 환자에서\n초기 수액 소생술의 권장 용량과 투여 시간, 그리고 재평가 방법은 무엇이며 소아에서는 어떻게 달라지는가?";
        s.add_turn(untitled, &turn(question))?;
        s.add_turn(untitled, &turn("second question"))?;
        s.add_turn(titled, &turn(question))?;
        let title = s.get(untitled)?.ok_or("missing")?.summary.title;
        assert_eq!(title.chars().count(), TITLE_MAX_CHARS);
        assert!(title.ends_with('…'));
        assert!(
            title.starts_with("패혈성 쇼크 환자에서 초기 수액"),
            "{title}"
        );
        assert_eq!(s.get(titled)?.ok_or("missing")?.summary.title, "Mine");
        assert_eq!(
            title_from_question("  short\tquestion? "),
            "short question?"
        );
        Ok(())
    }

    #[test]
    fn export_is_an_evidence_record_and_snippets_stay_quoted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut s = store(&dir)?;
        let id = s.create(
            "Sepsis # fluids",
            Some("emergency"),
            &["guidelines".to_string()],
        )?;
        let mut t = turn("How much fluid?\n# not a heading");
        let hostile = "line one\n\n# Heading\n```\n---\n<script>alert(1)</script>\n> nested";
        t.citations[0].snippet = hostile.into();
        s.add_turn(id, &t)?;
        let md = s.export_markdown(id)?;

        assert!(md.starts_with("# Sepsis \\# fluids\n"), "{md}");
        assert!(md.contains("- Profile: emergency"));
        assert!(md.contains("- Collections: `guidelines`"));
        assert!(md.contains(&format!(
            "- Model: `qwen3-4b-q4` (SHA-256 `{}`)",
            "ab".repeat(32)
        )));
        assert!(md.contains("- Status: answered"));
        assert!(md.contains("#### \\[1\\] Surviving Sepsis \\*2024\\*"));
        assert!(md.contains("- Location: `guidelines/sepsis_2024.pdf`, page 13"));
        assert!(md.contains("- Span: 100..480"));
        assert!(md.contains("- Chunk: 17"));
        assert!(md.contains("- Document key: `sepsis-guideline#1`"));
        assert!(md.contains("> How much fluid?\n> \\# not a heading"));
        assert!(md.contains("- Sentence 0: `unsupported` `{\"score\":0.2}`"));
        assert!(md.contains("- Whole answer: `low_coverage`\n"));
        assert!(md.contains("- queries:\n  - sepsis fluid volume\n  - crystalloid 30 mL/kg"));
        assert!(md.contains("- chunks_searched: 1234"));
        assert!(md.contains("- collection_state:\n  - guidelines:\n    - commit_sequence: 7"));
        assert!(md.contains("- near_misses:\n  - item 1:\n    - doc_key: old-protocol"));
        assert!(md.contains("- generate_ms: 2100"));
        assert!(md.contains("- completion: 64"));

        // Every line of the hostile snippet is inside the quote, and escaped.
        let start = md.find("> line one").ok_or("snippet missing")?;
        let quoted: Vec<&str> = md[start..].lines().take(7).collect();
        assert_eq!(
            quoted,
            [
                "> line one",
                ">",
                "> \\# Heading",
                "> \\`\\`\\`",
                "> ---",
                "> \\<script\\>alert(1)\\</script\\>",
                "> \\> nested"
            ]
        );
        assert!(matches!(
            s.export_markdown(ConversationId(7)),
            Err(ConversationError::NotFound(_))
        ));
        Ok(())
    }

    #[test]
    fn markdown_helpers_escape() {
        assert_eq!(Code("a`b").to_string(), "``a`b``");
        assert_eq!(Code("`x").to_string(), "`` `x ``");
        assert_eq!(Code("a\nb").to_string(), "`a b`");
        assert_eq!(Inline("a\nb_[c]").to_string(), "a b\\_\\[c\\]");
        assert_eq!(Inline("snake_case _x_").to_string(), "snake_case \\_x\\_");
        assert_eq!(Quote("").to_string(), "> *(empty)*");
        assert_eq!(Quote("a\r\nb\rc\n").to_string(), "> a\n> b\n> c");
        assert_eq!(Utc(0).to_string(), "1970-01-01T00:00:00Z (0)");
        assert_eq!(
            Utc(951_782_400).to_string(),
            "2000-02-29T00:00:00Z (951782400)"
        );
        assert_eq!(
            Utc(1_735_787_045).to_string(),
            "2025-01-02T03:04:05Z (1735787045)"
        );
        assert_eq!(Utc(-1).to_string(), "1969-12-31T23:59:59Z (-1)");
    }

    #[test]
    fn garbage_file_is_corrupt_and_left_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("conversations.db");
        let garbage: Vec<u8> = (0..8192u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &garbage)?;
        let r = ConversationStore::open(&path);
        assert!(matches!(r, Err(ConversationError::Corrupt { .. })), "{r:?}");
        assert_eq!(std::fs::read(&path)?, garbage);
        Ok(())
    }

    #[test]
    fn truncated_database_is_corrupt_and_left_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("conversations.db");
        {
            let mut s = ConversationStore::open(&path)?;
            let id = s.create("big", None, &[])?;
            for i in 0..40 {
                let mut t = turn(&format!("q{i}"));
                t.answer = "x".repeat(4000);
                s.add_turn(id, &t)?;
            }
        }
        let full = std::fs::read(&path)?;
        let truncated = &full[..full.len() / 2];
        std::fs::write(&path, truncated)?;
        let r = ConversationStore::open(&path);
        assert!(matches!(r, Err(ConversationError::Corrupt { .. })), "{r:?}");
        assert_eq!(std::fs::read(&path)?, truncated);
        Ok(())
    }

    #[test]
    fn another_applications_database_is_refused_and_left_untouched() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("other.db");
        Connection::open(&path)?
            .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")?;
        let before = std::fs::read(&path)?;
        let r = ConversationStore::open(&path);
        assert!(matches!(r, Err(ConversationError::Foreign { .. })), "{r:?}");
        assert_eq!(std::fs::read(&path)?, before);
        Ok(())
    }

    #[test]
    fn locked_database_fails_within_the_busy_timeout() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("conversations.db");
        let id = ConversationStore::open(&path)?.create("c", None, &[])?;
        let holder = Connection::open(&path)?;
        holder.execute_batch("BEGIN EXCLUSIVE; INSERT INTO conversations (title, created_at, updated_at, touched, collections) VALUES ('x', 0, 0, 0, '[]');")?;

        let started = Instant::now();
        // WAL readers are not blocked: opening and reading still work.
        let mut s = ConversationStore::open_with_timeout(&path, Duration::from_millis(100))?;
        assert_eq!(s.list()?.len(), 1);
        let r = s.create("d", None, &[]);
        assert!(matches!(r, Err(ConversationError::Locked { .. })), "{r:?}");
        let r = s.add_turn(id, &turn("q"));
        assert!(matches!(r, Err(ConversationError::Locked { .. })), "{r:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        holder.execute_batch("ROLLBACK")?;
        s.add_turn(id, &turn("q"))?;

        // A rollback-journal database held exclusively cannot even be read.
        let other = dir.path().join("fresh.db");
        let holder = Connection::open(&other)?;
        holder.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t (x);")?;
        let started = Instant::now();
        let r = ConversationStore::open_with_timeout(&other, Duration::from_millis(100));
        assert!(matches!(r, Err(ConversationError::Locked { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
        Ok(())
    }
}
