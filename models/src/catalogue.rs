//! The model catalogue: which GGUF files are installed, what they are, their hashes.
//!
//! Lives in `<data dir>/models/`: the model files plus `catalogue.json`, written
//! atomically. Importing copies the file in (the user's USB stick may leave) and
//! hashes it in the same pass; every later load re-checks that hash.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::hash::{self, Progress};
use crate::info::ModelInfo;
use crate::{Error, Result, known};

/// What a model is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Generates text.
    Chat,
    /// Produces embeddings.
    Embedding,
}

impl Role {
    /// Lowercase name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Chat => "chat",
            Role::Embedding => "embedding",
        }
    }
}

/// How prompts are shaped for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PromptStyle {
    /// The GGUF's own chat template (through llama.cpp's built-in support).
    ChatTemplate,
    /// Plain text continuation, for base models without a template.
    Completion,
}

/// Where a catalogued model's identity comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provenance {
    /// Its hash matches a model Sillok knows.
    Known,
    /// Imported by the user; its hash was recorded at import.
    UserImported,
}

/// One installed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// Catalogue key.
    pub name: String,
    /// File name inside the models directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex) recorded at import.
    pub sha256: String,
    /// Licence, from the known list or the GGUF metadata.
    pub license: Option<String>,
    /// Chat or embedding.
    pub role: Role,
    /// How to prompt it.
    pub prompt_style: PromptStyle,
    /// Known model or user import.
    pub provenance: Provenance,
    /// Facts from the GGUF header.
    pub info: ModelInfo,
    /// Import time, seconds since the Unix epoch.
    pub imported_at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CatalogueFile {
    version: u32,
    default_chat: Option<String>,
    default_embedding: Option<String>,
    models: Vec<ModelEntry>,
}

const CATALOGUE_VERSION: u32 = 1;
const CATALOGUE_FILE: &str = "catalogue.json";

/// The installed models of one data directory.
#[derive(Debug)]
pub struct Catalogue {
    dir: PathBuf,
    file: CatalogueFile,
}

impl Catalogue {
    /// Opens (or starts) the catalogue in `dir`, creating the directory.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be made or the file read;
    /// [`Error::Catalogue`] when the file is damaged (never silently replaced).
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(CATALOGUE_FILE);
        let file = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| Error::Catalogue {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CatalogueFile {
                version: CATALOGUE_VERSION,
                ..CatalogueFile::default()
            },
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(Catalogue {
            dir: dir.to_owned(),
            file,
        })
    }

    /// All installed models, in import order.
    pub fn models(&self) -> &[ModelEntry] {
        &self.file.models
    }

    /// The model with this name.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownModel`].
    pub fn get(&self, name: &str) -> Result<&ModelEntry> {
        self.file
            .models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownModel(name.to_owned()))
    }

    /// The default model for a role, if one is set.
    pub fn default_for(&self, role: Role) -> Option<&str> {
        match role {
            Role::Chat => self.file.default_chat.as_deref(),
            Role::Embedding => self.file.default_embedding.as_deref(),
        }
    }

    /// Resolves an optional name to an entry of `role`: the named model or the default.
    ///
    /// # Errors
    ///
    /// [`Error::NoModel`], [`Error::UnknownModel`] or [`Error::WrongRole`].
    pub fn resolve(&self, name: Option<&str>, role: Role) -> Result<&ModelEntry> {
        let name = name.or(self.default_for(role)).ok_or(Error::NoModel)?;
        let entry = self.get(name)?;
        if entry.role != role {
            return Err(Error::WrongRole {
                name: name.to_owned(),
                actual: entry.role.as_str(),
                wanted: role.as_str(),
            });
        }
        Ok(entry)
    }

    /// Path of an entry's file.
    pub fn path_of(&self, entry: &ModelEntry) -> PathBuf {
        self.dir.join(&entry.file)
    }

    /// Imports a GGUF file: validates its header, copies it in while hashing,
    /// checks the hash against known models and the catalogue, and records it.
    ///
    /// The first model of each role becomes that role's default.
    ///
    /// # Errors
    ///
    /// [`Error::NotAFile`], [`Error::Io`], [`Error::MalformedGguf`],
    /// [`Error::HashMismatch`] (a known model's name with other bytes),
    /// [`Error::AlreadyImported`], [`Error::NameTaken`], [`Error::InvalidName`].
    pub fn import(
        &mut self,
        src: &Path,
        name: Option<&str>,
        progress: Progress<'_>,
    ) -> Result<ModelEntry> {
        let meta = fs::metadata(src).map_err(|e| Error::io(src, e))?;
        if !meta.is_file() {
            return Err(Error::NotAFile {
                path: src.to_owned(),
            });
        }
        let header = crate::read_gguf(src)?;
        let info = ModelInfo::from_header(&header);
        let file_name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let claimed = known::by_claim(name.unwrap_or(""), &file_name);
        let name = match (name, claimed) {
            (Some(n), _) => n.to_owned(),
            (None, Some(k)) => k.name.to_owned(),
            (None, None) => name_from_file(&file_name),
        };
        validate_name(&name)?;
        if self.get(&name).is_ok() {
            return Err(Error::NameTaken(name));
        }

        let partial = self.dir.join(format!(".{name}.gguf.partial"));
        remove_if_present(&partial)?;
        let sha256 = hash::copy_and_hash(src, &partial, progress);
        let checked =
            sha256.and_then(|sha256| self.check_new_hash(&sha256, claimed).map(|k| (sha256, k)));
        let (sha256, known) = match checked {
            Ok(ok) => ok,
            Err(err) => {
                remove_if_present(&partial)?;
                return Err(err);
            }
        };
        let file = format!("{name}.gguf");
        let dest = self.dir.join(&file);
        fs::rename(&partial, &dest).map_err(|e| Error::io(&dest, e))?;

        let entry = ModelEntry {
            role: known.map_or(info.role, |k| k.role),
            license: known
                .map(|k| k.license.to_owned())
                .or_else(|| info.license.clone()),
            prompt_style: info.default_prompt_style(),
            provenance: if known.is_some() {
                Provenance::Known
            } else {
                Provenance::UserImported
            },
            name,
            file,
            size: meta.len(),
            sha256,
            info,
            imported_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        match entry.role {
            Role::Chat => {
                self.file
                    .default_chat
                    .get_or_insert_with(|| entry.name.clone());
            }
            Role::Embedding => {
                self.file
                    .default_embedding
                    .get_or_insert_with(|| entry.name.clone());
            }
        }
        self.file.models.push(entry.clone());
        self.save()?;
        Ok(entry)
    }

    fn check_new_hash(
        &self,
        sha256: &str,
        claimed: Option<&'static known::KnownModel>,
    ) -> Result<Option<&'static known::KnownModel>> {
        if let Some(existing) = self.file.models.iter().find(|m| m.sha256 == sha256) {
            return Err(Error::AlreadyImported {
                existing: existing.name.clone(),
            });
        }
        match (known::by_hash(sha256), claimed) {
            (Some(k), _) => Ok(Some(k)),
            (None, Some(k)) => Err(Error::HashMismatch {
                what: format!("the file claims to be the known model {}", k.name),
                expected: k.sha256.to_owned(),
                actual: sha256.to_owned(),
            }),
            (None, None) => Ok(None),
        }
    }

    /// Re-hashes an installed model's file and compares it with the recorded hash.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownModel`], [`Error::Io`] or [`Error::HashMismatch`].
    pub fn verify(&self, name: &str, progress: Progress<'_>) -> Result<()> {
        let entry = self.get(name)?;
        verify_file(&self.path_of(entry), entry, progress)
    }

    /// Removes a model's file and catalogue entry (and its default role).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownModel`] or [`Error::Io`].
    pub fn remove(&mut self, name: &str) -> Result<ModelEntry> {
        let index = self
            .file
            .models
            .iter()
            .position(|m| m.name == name)
            .ok_or_else(|| Error::UnknownModel(name.to_owned()))?;
        let entry = self.file.models.remove(index);
        for default in [
            &mut self.file.default_chat,
            &mut self.file.default_embedding,
        ] {
            if default.as_deref() == Some(name) {
                *default = None;
            }
        }
        // The catalogue forgets the model first: a crash in between leaves an
        // orphan file, never an entry whose file is gone.
        self.save()?;
        remove_if_present(&self.dir.join(&entry.file))?;
        Ok(entry)
    }

    /// Makes a model the default for its role.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownModel`] or [`Error::Io`].
    pub fn set_default(&mut self, name: &str) -> Result<Role> {
        let role = self.get(name)?.role;
        let slot = match role {
            Role::Chat => &mut self.file.default_chat,
            Role::Embedding => &mut self.file.default_embedding,
        };
        *slot = Some(name.to_owned());
        self.save()?;
        Ok(role)
    }

    fn save(&self) -> Result<()> {
        let path = self.dir.join(CATALOGUE_FILE);
        let tmp = self.dir.join(format!("{CATALOGUE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(&self.file).map_err(|source| Error::Catalogue {
            path: path.clone(),
            source,
        })?;
        write_synced(&tmp, &bytes)?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }
}

/// Hashes `path` and compares it with the entry's recorded hash.
///
/// # Errors
///
/// [`Error::Io`] or [`Error::HashMismatch`].
pub fn verify_file(path: &Path, entry: &ModelEntry, progress: Progress<'_>) -> Result<()> {
    let actual = hash::sha256_file(path, progress)?;
    if actual == entry.sha256 {
        Ok(())
    } else {
        Err(Error::HashMismatch {
            what: format!("model {} changed on disk since it was imported", entry.name),
            expected: entry.sha256.clone(),
            actual,
        })
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

fn name_from_file(file_name: &str) -> String {
    let stem = file_name.strip_suffix(".gguf").unwrap_or(file_name);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "model".to_owned()
    } else {
        name
    }
}

fn validate_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_derived_safely() {
        assert!(validate_name("gemma-3_270m.q4").is_ok());
        for bad in ["", ".hidden", "a/b", "../x", "환자", &"x".repeat(65)] {
            assert!(
                matches!(validate_name(bad), Err(Error::InvalidName(_))),
                "{bad}"
            );
        }
        assert_eq!(name_from_file("Qwen2.5 3B (Q4).gguf"), "qwen2.5-3b--q4-");
        assert_eq!(name_from_file(".gguf"), "model");
    }

    #[test]
    fn a_damaged_catalogue_is_reported_not_replaced() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join(CATALOGUE_FILE);
        fs::write(&path, b"{ not json").map_err(|e| Error::io(&path, e))?;
        assert!(matches!(
            Catalogue::open(dir.path()),
            Err(Error::Catalogue { .. })
        ));
        assert_eq!(
            fs::read(&path).map_err(|e| Error::io(&path, e))?,
            b"{ not json"
        );
        Ok(())
    }
}
