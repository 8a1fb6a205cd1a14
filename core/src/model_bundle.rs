//! Importing a signed model bundle (a USB stick from the IT officer, or the
//! folder the installer filled): the bundle is verified with a key from
//! outside it, then each GGUF is imported as by `sillok models import`, and
//! the hash the import computes while copying must equal the manifest's.

use std::path::Path;

use sillok_bundle::{Problem, TrustedKey};
use sillok_models::{ModelEntry, Progress};

use crate::{Error, Result, Sillok};

/// What [`Sillok::import_model_bundle`] did.
#[derive(Debug, Default)]
pub struct BundleImport {
    /// The bundle's version.
    pub version: String,
    /// Models imported now.
    pub imported: Vec<ModelEntry>,
    /// Names of models that were already installed (same SHA-256).
    pub already_installed: Vec<String>,
    /// Files of the bundle that are not GGUF models (not imported).
    pub skipped: Vec<String>,
}

impl Sillok {
    /// Verifies the bundle in `dir` with `key` (signature, every file, no
    /// extras), then imports each `.gguf` it lists that is not installed yet.
    ///
    /// # Errors
    ///
    /// [`Error::Bundle`] when the bundle is refused (nothing is imported) or
    /// a file changed between the check and its import (that model is
    /// removed again); catalogue errors.
    pub fn import_model_bundle(
        &mut self,
        dir: &Path,
        key: &TrustedKey,
        progress: Progress<'_>,
    ) -> Result<BundleImport> {
        let verified = sillok_bundle::verify_bundle(dir, key)?;
        let mut report = BundleImport {
            version: verified.manifest.version.clone(),
            ..BundleImport::default()
        };
        for entry in &verified.manifest.entries {
            if !entry.path.to_ascii_lowercase().ends_with(".gguf") {
                report.skipped.push(entry.path.clone());
                continue;
            }
            if let Some(model) = self
                .catalogue()
                .models()
                .iter()
                .find(|m| m.sha256 == entry.sha256)
            {
                report.already_installed.push(model.name.clone());
                continue;
            }
            let model = self.import_model(&dir.join(&entry.path), None, &mut *progress)?;
            if model.sha256 != entry.sha256 {
                self.remove_model(&model.name)?;
                return Err(Error::Bundle(sillok_bundle::Error::Mismatch(vec![
                    Problem::Hash(entry.path.clone()),
                ])));
            }
            report.imported.push(model);
        }
        Ok(report)
    }
}
