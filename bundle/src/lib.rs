//! Signed offline bundles for air-gapped sites, and the site policy.
//!
//! A bundle is a folder with a [`Manifest`] (`MANIFEST`: every other file's
//! SHA-256, size and path) and a detached minisign signature over it
//! (`MANIFEST.minisig`). [`verify_bundle`] checks the signature with a public
//! key the caller got from outside the bundle, then every file, and refuses
//! extra or missing ones. The installer builds and installs bundles; the app
//! imports model bundles; both go through this crate. Signing needs the
//! `sign` feature (the installer's side); verifying does not.
//!
//! ```no_run
//! # fn main() -> sillok_bundle::Result<()> {
//! use std::path::Path;
//! let key = sillok_bundle::TrustedKey::from_file(Path::new("/etc/sillok/release.pub"))?;
//! let verified = sillok_bundle::verify_bundle(Path::new("/media/usb/sillok-0.2.0"), &key)?;
//! for entry in &verified.manifest.entries {
//!     println!("{} {}", entry.path, entry.size);
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod key;
mod manifest;
pub mod policy;
#[cfg(feature = "sign")]
pub mod sign;
mod verify;

pub use error::{Error, Problem, Result};
pub use key::TrustedKey;
pub use manifest::{Entry, MANIFEST_FORMAT, Manifest, copy_hashed, hash_file};
pub use verify::{Verified, bundle_files, verify_bundle, verify_signature};

/// The manifest's file name inside a bundle.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// The detached signature's file name inside a bundle.
pub const SIGNATURE_FILE: &str = "MANIFEST.minisig";
/// Where the installer puts the site's release public key.
pub const RELEASE_KEY_PATH: &str = "/etc/sillok/release.pub";
/// Where the installer puts the bundle's models (itself a model bundle).
pub const SYSTEM_MODELS_DIR: &str = "/var/lib/sillok/models";
