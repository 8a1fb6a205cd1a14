//! The `MANIFEST` format: plain text, one file per line, so an IT officer can
//! read it and check it with `sha256sum` as well.
//!
//! ```text
//! sillok-bundle-manifest 1
//! version 0.1.0
//! <sha256 hex>  <size>  <path>
//! ```
//!
//! Paths are relative, `/`-separated, without spaces, `.` or `..` parts, and
//! sorted; each appears once. This module owns the text and hashing, not the
//! signature (see `verify.rs`).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Problem, Result};

/// The first line of every manifest: the format and its version.
pub const MANIFEST_FORMAT: &str = "sillok-bundle-manifest 1";

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the bundle, `/`-separated.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// A bundle's file list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bundle's version (free text without spaces, e.g. `0.2.0`).
    pub version: String,
    /// The files, sorted by path.
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// A manifest of `entries` (sorted here).
    ///
    /// # Errors
    ///
    /// [`Error::BadFileName`] for a path or version a manifest cannot hold,
    /// or a path listed twice.
    pub fn new(version: &str, mut entries: Vec<Entry>) -> Result<Self> {
        check_word(version).map_err(|reason| Error::BadFileName {
            name: version.to_owned(),
            reason,
        })?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        for pair in entries.windows(2) {
            if pair[0].path == pair[1].path {
                return Err(Error::BadFileName {
                    name: pair[0].path.clone(),
                    reason: "listed twice",
                });
            }
        }
        for entry in &entries {
            check_path(&entry.path).map_err(|reason| Error::BadFileName {
                name: entry.path.clone(),
                reason,
            })?;
        }
        Ok(Manifest {
            version: version.to_owned(),
            entries,
        })
    }

    /// Parses a manifest's text.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedManifest`] naming the line.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |line: usize, reason: String| Error::MalformedManifest { line, reason };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, first)) if first == MANIFEST_FORMAT => {}
            _ => {
                return Err(bad(
                    1,
                    format!("the first line must be {MANIFEST_FORMAT:?}"),
                ));
            }
        }
        let version = match lines.next() {
            Some((_, line)) => line
                .strip_prefix("version ")
                .filter(|v| check_word(v).is_ok())
                .ok_or_else(|| bad(2, "the second line must be \"version V\"".to_owned()))?,
            None => return Err(bad(2, "no version line".to_owned())),
        };
        let mut entries = Vec::new();
        for (number, line) in lines {
            let fields: Vec<&str> = line.split("  ").collect();
            let [sha256, size, path] = fields[..] else {
                return Err(bad(number, "expected \"SHA256  SIZE  PATH\"".to_owned()));
            };
            if sha256.len() != 64
                || !sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(bad(
                    number,
                    "the SHA-256 must be 64 lowercase hex digits".to_owned(),
                ));
            }
            let size = size
                .parse::<u64>()
                .map_err(|_| bad(number, "the size must be a number of bytes".to_owned()))?;
            check_path(path).map_err(|reason| bad(number, format!("{path}: {reason}")))?;
            if let Some(last) = entries.last().map(|e: &Entry| e.path.as_str())
                && last >= path
            {
                return Err(bad(number, "paths must be sorted and unique".to_owned()));
            }
            entries.push(Entry {
                path: path.to_owned(),
                size,
                sha256: sha256.to_owned(),
            });
        }
        Ok(Manifest {
            version: version.to_owned(),
            entries,
        })
    }

    /// The manifest's text (what is signed).
    pub fn to_text(&self) -> String {
        let mut text = format!("{MANIFEST_FORMAT}\nversion {}\n", self.version);
        for entry in &self.entries {
            text.push_str(&format!(
                "{}  {}  {}\n",
                entry.sha256, entry.size, entry.path
            ));
        }
        text
    }

    /// The entry for `path`, if listed.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.entries.get(i))
    }
}

impl Entry {
    /// Copies `src` (this entry's file) to `dst`, hashing as it goes; `dst`
    /// appears only when size and hash match, so a file swapped after
    /// verification is still caught.
    ///
    /// # Errors
    ///
    /// [`Error::Mismatch`] naming this entry; I/O errors.
    pub fn copy_verified(&self, src: &Path, dst: &Path) -> Result<()> {
        let mut partial = dst.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let (size, sha256) = copy_hashed(src, &partial)?;
        let problem = if size != self.size {
            Some(Problem::Size {
                path: self.path.clone(),
                expected: self.size,
                actual: size,
            })
        } else if sha256 != self.sha256 {
            Some(Problem::Hash(self.path.clone()))
        } else {
            None
        };
        if let Some(problem) = problem {
            std::fs::remove_file(&partial).map_err(|source| Error::Io {
                path: partial.clone(),
                source,
            })?;
            return Err(Error::Mismatch(vec![problem]));
        }
        std::fs::rename(&partial, dst).map_err(|source| Error::Io {
            path: dst.to_owned(),
            source,
        })
    }
}

/// Size and SHA-256 (lowercase hex) of a file.
///
/// # Errors
///
/// [`Error::Io`].
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    stream(path, None)
}

/// Copies `src` to `dst` (created or truncated), returning the size and
/// SHA-256 of what was copied, in one pass.
///
/// # Errors
///
/// [`Error::Io`].
pub fn copy_hashed(src: &Path, dst: &Path) -> Result<(u64, String)> {
    let mut out = File::create(dst).map_err(|source| Error::Io {
        path: dst.to_owned(),
        source,
    })?;
    let result = stream(src, Some(&mut out))?;
    out.sync_all().map_err(|source| Error::Io {
        path: dst.to_owned(),
        source,
    })?;
    Ok(result)
}

fn stream(src: &Path, mut out: Option<&mut File>) -> Result<(u64, String)> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut file = File::open(src).map_err(io(src))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io(src))?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        size += n as u64;
        if let Some(out) = out.as_deref_mut() {
            out.write_all(chunk).map_err(io(src))?;
        }
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Why a relative path cannot be a manifest path, if it cannot.
pub(crate) fn check_path(path: &str) -> std::result::Result<(), &'static str> {
    check_word(path)?;
    if path.contains('\\') {
        return Err("backslashes are not allowed");
    }
    if path.starts_with('/') {
        return Err("must be relative");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("empty, `.` or `..` parts are not allowed");
    }
    Ok(())
}

/// Printable ASCII without spaces: file names any shell, `sha256sum` and
/// manifest reader agree on.
fn check_word(word: &str) -> std::result::Result<(), &'static str> {
    if word.is_empty() {
        return Err("empty");
    }
    if !word.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("only printable ASCII without spaces is allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn entry(path: &str) -> Entry {
        Entry {
            path: path.to_owned(),
            size: 3,
            sha256: "ab".repeat(32),
        }
    }

    #[test]
    fn text_round_trips_sorted() -> TestResult {
        let manifest = Manifest::new(
            "0.2.0",
            vec![entry("models/b.gguf"), entry("app/sillok_0.2.0_amd64.deb")],
        )?;
        let text = manifest.to_text();
        assert!(text.starts_with("sillok-bundle-manifest 1\nversion 0.2.0\n"));
        let parsed = Manifest::parse(&text)?;
        assert_eq!(parsed, manifest);
        assert_eq!(parsed.entries[0].path, "app/sillok_0.2.0_amd64.deb");
        assert!(parsed.get("models/b.gguf").is_some());
        assert!(parsed.get("models/c.gguf").is_none());
        Ok(())
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "../etc/passwd",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "a b",
            "a\\b",
            "",
        ] {
            assert!(
                Manifest::new("1", vec![entry(bad)]).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(Manifest::new("1", vec![entry("a"), entry("a")]).is_err());
    }

    #[test]
    fn malformed_lines_are_named() {
        let hash = "ab".repeat(32);
        let cases = [
            ("nonsense\nversion 1\n".to_owned(), 1),
            ("sillok-bundle-manifest 1\nv 1\n".to_owned(), 2),
            (
                format!("sillok-bundle-manifest 1\nversion 1\n{hash}  x  a\n"),
                3,
            ),
            (
                format!("sillok-bundle-manifest 1\nversion 1\n{hash}  1  ../a\n"),
                3,
            ),
            (
                format!("sillok-bundle-manifest 1\nversion 1\n{hash}  1  b\n{hash}  1  a\n"),
                4,
            ),
            (
                "sillok-bundle-manifest 1\nversion 1\nXX  1  a\n".to_owned(),
                3,
            ),
        ];
        for (text, line) in cases {
            match Manifest::parse(&text) {
                Err(Error::MalformedManifest { line: got, .. }) => assert_eq!(got, line, "{text}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn copy_verified_refuses_a_changed_file() -> TestResult {
        let dir = tempfile::tempdir()?;
        let src = dir.path().join("src");
        std::fs::write(&src, b"abc")?;
        let (size, sha256) = hash_file(&src)?;
        assert_eq!(size, 3);
        let good = Entry {
            path: "src".to_owned(),
            size,
            sha256,
        };
        good.copy_verified(&src, &dir.path().join("ok"))?;
        assert_eq!(std::fs::read(dir.path().join("ok"))?, b"abc");
        std::fs::write(&src, b"abd")?;
        let dst = dir.path().join("bad");
        assert!(matches!(
            good.copy_verified(&src, &dst),
            Err(Error::Mismatch(p)) if p == vec![Problem::Hash("src".to_owned())]
        ));
        assert!(std::fs::symlink_metadata(&dst).is_err(), "a bad copy stays");
        Ok(())
    }
}
