//! What a model file is, read from its GGUF header, and whether it fits in memory.

use serde::{Deserialize, Serialize};

use crate::catalogue::{PromptStyle, Role};
use crate::gguf::GgufHeader;
use crate::{Error, Result};

/// Facts about a model read from its GGUF metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `general.architecture` (e.g. `gemma3`, `llama`, `bert`).
    pub architecture: String,
    /// `general.name`, when present.
    pub display_name: Option<String>,
    /// Total weights (elements of all tensors).
    pub parameters: u64,
    /// Trained context length.
    pub context_length: u32,
    /// Quantisation (e.g. `Q4_K_M`).
    pub quantization: String,
    /// Whether the file carries a chat template.
    pub has_chat_template: bool,
    /// `general.license`, when present.
    pub license: Option<String>,
    /// Transformer blocks.
    pub layers: u32,
    /// Width of the hidden state.
    pub embedding_length: u32,
    /// Bytes of KV cache per token of context (f16 K and V).
    pub kv_bytes_per_token: u64,
    /// Bytes of tensor data.
    pub weights_bytes: u64,
    /// Chat or embedding, guessed from the architecture and pooling metadata.
    pub role: Role,
}

/// Architectures that only produce embeddings.
const EMBEDDING_ARCHS: &[&str] = &["bert", "nomic-bert", "jina-bert-v2", "nomic-bert-moe"];

/// Fixed allowance for compute buffers, logits and the runtime itself.
const OVERHEAD_BYTES: u64 = 192 << 20;

impl ModelInfo {
    /// Reads the model facts out of a validated header.
    pub fn from_header(header: &GgufHeader) -> Self {
        let arch = header.architecture().to_owned();
        let u32_of = |suffix: &str| {
            header
                .arch_u64(suffix)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(0)
        };
        let layers = u32_of("block_count");
        let embedding_length = u32_of("embedding_length");
        let heads = u32_of("attention.head_count").max(1);
        let kv_heads = match u32_of("attention.head_count_kv") {
            0 => heads,
            n => n,
        };
        let key_len = match u32_of("attention.key_length") {
            0 => embedding_length / heads,
            n => n,
        };
        let value_len = match u32_of("attention.value_length") {
            0 => key_len,
            n => n,
        };
        let kv_bytes_per_token =
            2 * u64::from(layers) * u64::from(kv_heads) * u64::from(key_len + value_len);
        let role = if EMBEDDING_ARCHS.contains(&arch.as_str())
            || header.arch_u64("pooling_type").is_some()
        {
            Role::Embedding
        } else {
            Role::Chat
        };
        ModelInfo {
            display_name: header.get_str("general.name").map(str::to_owned),
            parameters: header.parameter_count(),
            context_length: u32_of("context_length"),
            quantization: header
                .file_type_name()
                .or_else(|| header.dominant_tensor_type().map(str::to_owned))
                .unwrap_or_else(|| "unknown".to_owned()),
            has_chat_template: header.get_str("tokenizer.chat_template").is_some(),
            license: header.get_str("general.license").map(str::to_owned),
            layers,
            embedding_length,
            kv_bytes_per_token,
            weights_bytes: header.tensor_data_bytes(),
            role,
            architecture: arch,
        }
    }

    /// How the model is prompted when nothing overrides it.
    pub fn default_prompt_style(&self) -> PromptStyle {
        if self.has_chat_template {
            PromptStyle::ChatTemplate
        } else {
            PromptStyle::Completion
        }
    }

    /// Estimated resident memory for the weights plus a KV cache of `n_ctx` tokens.
    pub fn estimated_bytes(&self, n_ctx: u32) -> u64 {
        self.weights_bytes
            .saturating_add(self.kv_bytes_per_token.saturating_mul(u64::from(n_ctx)))
            .saturating_add(OVERHEAD_BYTES)
    }

    /// Refuses a context length this model cannot take.
    ///
    /// # Errors
    ///
    /// [`Error::ContextOutOfRange`] below [`MIN_CONTEXT`] or above the trained context.
    pub fn check_context(&self, n_ctx: u32) -> Result<()> {
        let max = self.context_length.max(MIN_CONTEXT);
        if (MIN_CONTEXT..=max).contains(&n_ctx) {
            Ok(())
        } else {
            Err(Error::ContextOutOfRange {
                requested: n_ctx,
                min: MIN_CONTEXT,
                max,
            })
        }
    }

    /// Refuses to load when the estimate exceeds the memory available right now.
    ///
    /// # Errors
    ///
    /// [`Error::WontFit`] with both figures.
    pub fn check_fits(&self, name: &str, n_ctx: u32) -> Result<()> {
        let needed = self.estimated_bytes(n_ctx);
        let available = available_memory_bytes();
        if needed <= available {
            Ok(())
        } else {
            Err(Error::WontFit {
                name: name.to_owned(),
                needed_mib: needed >> 20,
                available_mib: available >> 20,
                n_ctx,
            })
        }
    }
}

/// Smallest context a model is run with.
pub const MIN_CONTEXT: u32 = 256;

/// Memory the OS reports as available for new allocations.
pub fn available_memory_bytes() -> u64 {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    system.available_memory()
}
