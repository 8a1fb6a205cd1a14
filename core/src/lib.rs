//! The Sillok assistant, independent of any user interface.
//!
//! [`Sillok`] is the one service object the CLI and the desktop app both start:
//! it owns the [`DataDir`] and, through it, the model catalogue; later the
//! document library, grounded answers, conversations and the vault. It knows
//! no Tauri, no clap and no terminal.
//!
//! ```no_run
//! # fn main() -> sillok_core::Result<()> {
//! let sillok = sillok_core::Sillok::open(sillok_core::DataDir::resolve()?)?;
//! for model in sillok.catalogue().models() {
//!     println!("{} {}", model.name, model.sha256);
//! }
//! # Ok(())
//! # }
//! ```

pub mod answer;
pub mod audit;
pub mod bench;
mod chat;
pub mod conversations;
mod data_dir;
pub mod data_version;
mod error;
pub mod export_crypt;
mod hardening;
pub mod keychain;
mod library;
mod model_bundle;
pub mod phi;
pub mod policy;
pub mod profile;
pub mod retrieval;
mod settings;
mod stores;
pub mod vault;

use std::path::Path;

pub use chat::{CONVERSATIONS_FILE, HISTORY_TURNS};
pub use data_dir::DataDir;
pub use error::{Error, Result};
pub use hardening::disable_core_dumps;
pub use library::{CHUNK_TOKENIZER_ENV, CHUNK_TOKENIZER_FILE, CollectionSummary, PageView};
pub use model_bundle::BundleImport;
pub use settings::{SETTINGS_FILE, Settings};
pub use sillok_bundle as bundle;
pub use sillok_index as index;
pub use sillok_models as models;

use sillok_models::{
    Catalogue, Embedder, EngineOptions, LlamaGenerator, ModelEntry, Progress, Role,
};

/// The assistant over one data directory.
#[derive(Debug)]
pub struct Sillok {
    data_dir: DataDir,
    catalogue: Catalogue,
    /// Interactive work in progress; background ingestion waits for it.
    foreground: sillok_index::Foreground,
    /// The embedding model, loaded on first use.
    embedder: retrieval::EmbedderSlot,
    /// The audit log, opened on first use; shared with reopened handles.
    audit: audit::AuditSlot,
    /// The OS keychain ([`keychain::Keychain::os`]; tests pass another).
    keychain: keychain::Keychain,
    /// The vault, opened on first use; its lock state is shared with
    /// reopened handles (`vault/session.rs`: unlock, lock, idle lock).
    vault: vault::VaultSlot,
}

impl Sillok {
    /// Opens the data directory (creating it) and its model catalogue.
    ///
    /// # Errors
    ///
    /// [`Error::DataDir`] or a catalogue error.
    pub fn open(data_dir: DataDir) -> Result<Self> {
        Self::open_with_keychain(data_dir, vault::default_keychain())
    }

    /// As [`Sillok::open`], with the vault's keys in `keychain` (tests use a
    /// [`keychain::MemoryKeyStore`]).
    ///
    /// # Errors
    ///
    /// As [`Sillok::open`].
    pub fn open_with_keychain(data_dir: DataDir, keychain: keychain::Keychain) -> Result<Self> {
        // A site policy may fix the data directory: no other one is opened.
        policy::check_data_dir(data_dir.root())?;
        data_version::prepare(&data_dir)?;
        data_dir.create()?;
        let catalogue = Catalogue::open(&data_dir.models())?;
        Ok(Sillok {
            data_dir,
            catalogue,
            foreground: sillok_index::Foreground::default(),
            embedder: retrieval::EmbedderSlot::default(),
            audit: audit::AuditSlot::default(),
            keychain,
            vault: vault::VaultSlot::default(),
        })
    }

    /// Another handle on the same data directory with the catalogue re-read
    /// from disk, sharing this one's foreground signal: the app edits the
    /// catalogue on a fresh handle and swaps it in, so long work on the old
    /// handle (an ingestion, an answer) never blocks an import.
    ///
    /// # Errors
    ///
    /// Catalogue errors.
    pub fn reopen(&self) -> Result<Self> {
        Ok(Sillok {
            data_dir: self.data_dir.clone(),
            catalogue: Catalogue::open(&self.data_dir.models())?,
            foreground: self.foreground.clone(),
            embedder: self.embedder.clone(),
            audit: self.audit.clone(),
            keychain: self.keychain.clone(),
            vault: self.vault.clone(),
        })
    }

    /// Where everything is stored.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// A domain profile (the default one when `name` is `None`).
    ///
    /// # Errors
    ///
    /// Unknown profile; an invalid profiles file.
    pub fn profile(&self, name: Option<&str>) -> Result<profile::Profile> {
        profile::find(self.data_dir.root(), name)
    }

    /// The installed models.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Imports a model file from disk (a USB stick, a download folder).
    ///
    /// # Errors
    ///
    /// See [`Catalogue::import`].
    pub fn import_model(
        &mut self,
        path: &Path,
        name: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<ModelEntry> {
        Ok(self.catalogue.import(path, name, progress)?)
    }

    /// Removes a model and its file.
    ///
    /// # Errors
    ///
    /// See [`Catalogue::remove`].
    pub fn remove_model(&mut self, name: &str) -> Result<ModelEntry> {
        Ok(self.catalogue.remove(name)?)
    }

    /// Makes a model the default for its role.
    ///
    /// # Errors
    ///
    /// See [`Catalogue::set_default`].
    pub fn set_default_model(&mut self, name: &str) -> Result<Role> {
        Ok(self.catalogue.set_default(name)?)
    }

    /// Re-hashes a model file against the catalogue.
    ///
    /// # Errors
    ///
    /// See [`Catalogue::verify`].
    pub fn verify_model(&self, name: &str, progress: Progress<'_>) -> Result<()> {
        Ok(self.catalogue.verify(name, progress)?)
    }

    /// Loads a chat model (the named one or the default), verified.
    ///
    /// # Errors
    ///
    /// See [`LlamaGenerator::load`].
    pub fn load_generator(
        &self,
        name: Option<&str>,
        options: &EngineOptions,
    ) -> Result<LlamaGenerator> {
        let entry = self.catalogue.resolve(name, Role::Chat)?;
        Ok(LlamaGenerator::load(
            &self.catalogue.path_of(entry),
            entry,
            options,
        )?)
    }

    /// Loads an embedding model (the named one or the default), verified.
    ///
    /// # Errors
    ///
    /// See [`Embedder::load`].
    pub fn load_embedder(&self, name: Option<&str>, options: &EngineOptions) -> Result<Embedder> {
        let entry = self.catalogue.resolve(name, Role::Embedding)?;
        Ok(Embedder::load(
            &self.catalogue.path_of(entry),
            entry,
            options,
        )?)
    }
}
