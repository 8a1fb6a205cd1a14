//! Models Sillok knows by hash.
//!
//! A file that claims to be one of these (by file name or catalogue name) but
//! hashes differently is refused at import. Only hashes checked against the
//! real files are listed: a guessed hash would refuse the genuine file.

use crate::catalogue::Role;

/// A model whose genuine file is known by its SHA-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// Catalogue name it gets on import.
    pub name: &'static str,
    /// The file name it is distributed under.
    pub file_name: &'static str,
    /// SHA-256 of the genuine file (hex).
    pub sha256: &'static str,
    /// Licence identifier.
    pub license: &'static str,
    /// Chat or embedding.
    pub role: Role,
    /// Where it comes from and what it is for.
    pub note: &'static str,
}

/// The known models; the first is the default chat model.
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        name: "gemma-3-270m-q4_k_m",
        file_name: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        license: "gemma",
        role: Role::Chat,
        note: "Gemma 3 270M base, Q4_K_M: the default model (small, weak at instructions)",
    },
    KnownModel {
        name: "smollm2-135m-instruct-q4_1",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license: "apache-2.0",
        role: Role::Chat,
        note: "SmolLM2 135M Instruct, Q4_1: tiny chat-template model (English)",
    },
    KnownModel {
        name: "all-minilm-l6-v2",
        file_name: "all-MiniLM-L6-v2.gguf",
        sha256: MINILM_SHA256,
        license: "apache-2.0",
        role: Role::Embedding,
        note: "all-MiniLM-L6-v2 converted by installer/convert_minilm_gguf.py (English embeddings)",
    },
];

/// SHA-256 of the deterministic conversion done by `installer/fetch-models.sh`.
const MINILM_SHA256: &str = "3c435dd898522d2c6ccb6bcff253e6ff5a6a0d32442fcc559ccfd0980c80441e";

/// The known model with this hash.
pub fn by_hash(sha256: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.sha256 == sha256)
}

/// The known model this name or file name claims to be (case-insensitive).
pub fn by_claim(name: &str, file_name: &str) -> Option<&'static KnownModel> {
    KNOWN_MODELS
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(name) || m.file_name.eq_ignore_ascii_case(file_name))
}
