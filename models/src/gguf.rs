//! GGUF header pre-validation.
//!
//! This module owns reading and validating the *header* of a `.gguf` file:
//! magic, version, metadata key/value pairs and tensor infos, plus the checks
//! that every tensor's data lies, aligned and in order, inside the file. It
//! never reads tensor data.
//!
//! It exists so that llama.cpp never sees a file this module rejects: every
//! user-supplied model goes through [`read_header`] first, and any malformed or
//! hostile header is turned into a specific [`GgufDefect`] instead of reaching
//! C++ code. The reader is bounded by the file length taken from the file's
//! metadata, checks every declared length and count against the bytes that
//! remain before allocating anything, and uses checked arithmetic throughout.
//!
//! The checks mirror those of the llama.cpp version this crate links against
//! (`ggml/src/gguf.cpp`), and are stricter in a few places: tensors must have
//! one to four non-zero dimensions, strings must be valid UTF-8, the file must
//! hold at least one tensor and name its `general.architecture`.
//!
//! Metadata arrays are summarised ([`MetaValue::Array`]), not stored: a
//! tokenizer vocabulary can hold hundreds of thousands of strings. Their
//! elements are length-checked and skipped, not decoded.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

/// Most tensors a header may declare.
const MAX_TENSORS: u64 = 65_536;
/// Most metadata key/value pairs a header may declare.
const MAX_METADATA_PAIRS: u64 = 65_536;
/// Longest string value accepted (chat templates are a few KiB).
const MAX_STRING_LEN: u64 = 16 * 1024 * 1024;
/// Most bytes of keys, string values and tensor names kept in memory, all together.
const MAX_STORED_STRING_BYTES: u64 = 64 * 1024 * 1024;
/// Longest metadata key accepted (the GGUF specification's limit).
const MAX_KEY_LEN: u64 = 65_535;
/// Longest tensor name accepted (`GGML_MAX_NAME` is 64 including the NUL).
const MAX_TENSOR_NAME_LEN: u64 = 63;
/// Most elements a metadata array may declare (llama.cpp's own limit).
const MAX_ARRAY_LEN: u64 = 1 << 30;
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
const MAX_DIMS: u32 = 4;
/// Data-section alignment when `general.alignment` is absent.
const DEFAULT_ALIGNMENT: u32 = 32;
/// Smallest possible metadata pair: key length, one key byte, type, one value byte.
const MIN_KV_BYTES: u64 = 8 + 1 + 4 + 1;
/// Smallest possible tensor info: name length, n_dims, one dimension, type, offset.
const MIN_TENSOR_INFO_BYTES: u64 = 8 + 4 + 8 + 4 + 8;
/// Buffer size of the file reader.
const READ_BUFFER: usize = 64 * 1024;

const KEY_ALIGNMENT: &str = "general.alignment";
const KEY_ARCHITECTURE: &str = "general.architecture";
const KEY_FILE_TYPE: &str = "general.file_type";

/// Parsed, validated GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    /// GGUF format version (2 or 3).
    pub version: u32,
    /// Metadata key/value pairs in file order; keys are unique.
    pub metadata: Vec<(String, MetaValue)>,
    /// Tensor infos in file order; names are unique.
    pub tensors: Vec<TensorInfo>,
    /// Data-section alignment in bytes (`general.alignment`, default 32).
    pub alignment: u32,
    /// Absolute file offset where the tensor data section starts.
    pub data_offset: u64,
    /// File length in bytes when the header was read.
    pub file_len: u64,
}

/// The type of a metadata value, as numbered in the GGUF format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Type 0: `u8`.
    U8,
    /// Type 1: `i8`.
    I8,
    /// Type 2: `u16`.
    U16,
    /// Type 3: `i16`.
    I16,
    /// Type 4: `u32`.
    U32,
    /// Type 5: `i32`.
    I32,
    /// Type 6: `f32`.
    F32,
    /// Type 7: boolean stored as one byte.
    Bool,
    /// Type 8: length-prefixed UTF-8 string.
    Str,
    /// Type 9: array of one element type.
    Array,
    /// Type 10: `u64`.
    U64,
    /// Type 11: `i64`.
    I64,
    /// Type 12: `f64`.
    F64,
}

impl ValueType {
    /// The value type numbered `raw` in the GGUF format, if there is one.
    pub fn from_u32(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => Self::U8,
            1 => Self::I8,
            2 => Self::U16,
            3 => Self::I16,
            4 => Self::U32,
            5 => Self::I32,
            6 => Self::F32,
            7 => Self::Bool,
            8 => Self::Str,
            9 => Self::Array,
            10 => Self::U64,
            11 => Self::I64,
            12 => Self::F64,
            _ => return None,
        })
    }

    /// Encoded size of one value of a fixed-size type; `None` for strings and arrays.
    fn fixed_size(self) -> Option<u64> {
        match self {
            Self::U8 | Self::I8 | Self::Bool => Some(1),
            Self::U16 | Self::I16 => Some(2),
            Self::U32 | Self::I32 | Self::F32 => Some(4),
            Self::U64 | Self::I64 | Self::F64 => Some(8),
            Self::Str | Self::Array => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::U8 => "u8",
            Self::I8 => "i8",
            Self::U16 => "u16",
            Self::I16 => "i16",
            Self::U32 => "u32",
            Self::I32 => "i32",
            Self::F32 => "f32",
            Self::Bool => "bool",
            Self::Str => "string",
            Self::Array => "array",
            Self::U64 => "u64",
            Self::I64 => "i64",
            Self::F64 => "f64",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// An unsigned 8-bit integer.
    U8(u8),
    /// A signed 8-bit integer.
    I8(i8),
    /// An unsigned 16-bit integer.
    U16(u16),
    /// A signed 16-bit integer.
    I16(i16),
    /// An unsigned 32-bit integer.
    U32(u32),
    /// A signed 32-bit integer.
    I32(i32),
    /// A 32-bit float.
    F32(f32),
    /// A boolean (any non-zero byte is true, as in llama.cpp).
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A signed 64-bit integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// An array, summarised rather than stored: a tokenizer vocabulary holds
    /// hundreds of thousands of strings.
    Array {
        /// Type of the elements (never [`ValueType::Array`]).
        elem_type: ValueType,
        /// Number of elements.
        len: u64,
    },
}

impl MetaValue {
    /// The GGUF type of this value.
    pub fn value_type(&self) -> ValueType {
        match self {
            Self::U8(_) => ValueType::U8,
            Self::I8(_) => ValueType::I8,
            Self::U16(_) => ValueType::U16,
            Self::I16(_) => ValueType::I16,
            Self::U32(_) => ValueType::U32,
            Self::I32(_) => ValueType::I32,
            Self::F32(_) => ValueType::F32,
            Self::Bool(_) => ValueType::Bool,
            Self::Str(_) => ValueType::Str,
            Self::U64(_) => ValueType::U64,
            Self::I64(_) => ValueType::I64,
            Self::F64(_) => ValueType::F64,
            Self::Array { .. } => ValueType::Array,
        }
    }

    /// The value as a non-negative integer, whatever its integer type.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(u64::from(v)),
            Self::U16(v) => Some(u64::from(v)),
            Self::U32(v) => Some(u64::from(v)),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
}

/// One tensor's entry in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name (at most 63 bytes, unique in the file).
    pub name: String,
    /// Dimensions, innermost first (`ne0` is the row length); one to four, all non-zero.
    pub dims: Vec<u64>,
    /// ggml type number; see [`ggml_type_name`].
    pub ggml_type: u32,
    /// Offset of the data relative to [`GgufHeader::data_offset`].
    pub offset: u64,
    /// Size of the data in bytes.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// Number of elements (the product of the dimensions).
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().fold(1u64, |acc, &d| acc.saturating_mul(d))
    }

    /// Display name of the tensor's ggml type, such as `"Q4_K"`.
    pub fn type_name(&self) -> &'static str {
        ggml_type_name(self.ggml_type).unwrap_or("unknown")
    }
}

/// Something wrong with a file's GGUF header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GgufDefect {
    /// The file ends before a field that must be there.
    Truncated {
        /// File length: the byte at which the data ends.
        at: u64,
        /// The field being read.
        what: &'static str,
    },
    /// The file does not start with `GGUF`.
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// A GGUF version other than 2 or 3.
    UnsupportedVersion(u32),
    /// More tensors than the cap or than the remaining bytes could describe.
    TooManyTensors {
        /// Declared count.
        count: u64,
        /// Most that would be accepted.
        limit: u64,
    },
    /// More metadata pairs than the cap or than the remaining bytes could hold.
    TooManyMetadata {
        /// Declared count.
        count: u64,
        /// Most that would be accepted.
        limit: u64,
    },
    /// The file declares no tensors, so it cannot be a model.
    NoTensors,
    /// A string longer than its cap or than the rest of the file.
    StringTooLong {
        /// Absolute offset of the string's length prefix.
        offset: u64,
        /// What the string is.
        what: &'static str,
        /// Declared length.
        len: u64,
        /// Most bytes that would be accepted.
        limit: u64,
    },
    /// A key, string value or tensor name that is not valid UTF-8.
    InvalidUtf8 {
        /// Absolute offset of the string's length prefix.
        offset: u64,
        /// What the string is.
        what: &'static str,
    },
    /// An empty metadata key.
    EmptyKey {
        /// Index of the pair in the file.
        index: u64,
    },
    /// A metadata key that appears twice.
    DuplicateKey(String),
    /// A value or array element type outside the GGUF types.
    UnknownValueType {
        /// Key of the pair.
        key: String,
        /// The raw type number.
        value_type: u32,
    },
    /// An array whose elements are arrays (llama.cpp supports none).
    NestedArray {
        /// Key of the pair.
        key: String,
    },
    /// An array with more elements than the cap or the rest of the file allows.
    ArrayTooLong {
        /// Key of the pair.
        key: String,
        /// Declared element count.
        len: u64,
        /// Most elements that would be accepted.
        limit: u64,
    },
    /// A well-known key holding the wrong type of value.
    WrongValueType {
        /// Key of the pair.
        key: String,
        /// The type it must have.
        expected: ValueType,
        /// The type it has.
        found: ValueType,
    },
    /// `general.alignment` is zero or not a power of two.
    BadAlignment(u32),
    /// `general.architecture` is absent or empty.
    MissingArchitecture,
    /// A tensor name that appears twice.
    DuplicateTensor(String),
    /// A tensor with no dimensions or more than four.
    BadDimCount {
        /// Tensor name.
        tensor: String,
        /// Declared dimension count.
        n_dims: u32,
    },
    /// A tensor dimension of zero.
    ZeroDimension {
        /// Tensor name.
        tensor: String,
        /// Which dimension (0 is the row length).
        index: u32,
    },
    /// A tensor whose element count or byte size overflows.
    ShapeOverflow {
        /// Tensor name.
        tensor: String,
    },
    /// A ggml type that does not exist or has been removed from GGUF files.
    UnknownTensorType {
        /// Tensor name.
        tensor: String,
        /// The raw type number.
        ggml_type: u32,
    },
    /// A row length that is not a whole number of quantisation blocks.
    RowNotBlockMultiple {
        /// Tensor name.
        tensor: String,
        /// The tensor's ggml type.
        ggml_type: u32,
        /// Row length (first dimension).
        ne0: u64,
        /// Elements per block of that type.
        block_size: u64,
    },
    /// Tensor data offset not a multiple of the alignment.
    MisalignedTensor {
        /// Tensor name.
        tensor: String,
        /// Offset relative to the data section.
        offset: u64,
        /// Required alignment.
        alignment: u32,
    },
    /// Tensor data that does not lie inside the file.
    TensorOutOfBounds {
        /// Tensor name.
        tensor: String,
        /// Offset relative to the data section.
        offset: u64,
        /// Size of the data.
        n_bytes: u64,
        /// Where the data section starts.
        data_offset: u64,
        /// File length.
        file_len: u64,
    },
    /// Tensor data not packed in order after the previous tensor, as llama.cpp requires.
    TensorOffsetMismatch {
        /// Tensor name.
        tensor: String,
        /// Declared offset relative to the data section.
        offset: u64,
        /// Where the previous tensors' padded data ends.
        expected: u64,
    },
}

impl fmt::Display for GgufDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { at, what } => {
                write!(f, "truncated at byte {at} while reading {what}")
            }
            Self::BadMagic { found } => write!(
                f,
                "not a GGUF file (starts with {:02x}{:02x}{:02x}{:02x})",
                found[0], found[1], found[2], found[3]
            ),
            Self::UnsupportedVersion(1) => f.write_str("GGUF version 1 is no longer supported"),
            Self::UnsupportedVersion(v) if *v != 0 && v & 0xFFFF == 0 => write!(
                f,
                "unsupported GGUF version {v} (the file looks big-endian)"
            ),
            Self::UnsupportedVersion(v) => {
                write!(f, "unsupported GGUF version {v} (expected 2 or 3)")
            }
            Self::TooManyTensors { count, limit } => {
                write!(
                    f,
                    "implausible tensor count {count}: at most {limit} fit in the rest of the file (truncated or corrupt)"
                )
            }
            Self::TooManyMetadata { count, limit } => {
                write!(
                    f,
                    "implausible metadata count {count}: at most {limit} fit in the rest of the file (truncated or corrupt)"
                )
            }
            Self::NoTensors => f.write_str("file contains no tensors"),
            Self::StringTooLong {
                offset,
                what,
                len,
                limit,
            } => write!(
                f,
                "{what} at byte {offset} declares {len} bytes, more than the {limit} allowed"
            ),
            Self::InvalidUtf8 { offset, what } => {
                write!(f, "{what} at byte {offset} is not valid UTF-8")
            }
            Self::EmptyKey { index } => write!(f, "metadata key {index} is empty"),
            Self::DuplicateKey(key) => write!(f, "duplicate metadata key {key:?}"),
            Self::UnknownValueType { key, value_type } => {
                write!(
                    f,
                    "metadata key {key:?} has unknown value type {value_type}"
                )
            }
            Self::NestedArray { key } => {
                write!(f, "metadata key {key:?} holds an array of arrays")
            }
            Self::ArrayTooLong { key, len, limit } => write!(
                f,
                "metadata array {key:?} declares {len} elements, more than the {limit} allowed"
            ),
            Self::WrongValueType {
                key,
                expected,
                found,
            } => {
                write!(f, "metadata key {key:?} must be {expected} but is {found}")
            }
            Self::BadAlignment(a) => {
                write!(f, "alignment {a} is not a non-zero power of two")
            }
            Self::MissingArchitecture => f.write_str("general.architecture is missing"),
            Self::DuplicateTensor(name) => write!(f, "duplicate tensor name {name:?}"),
            Self::BadDimCount { tensor, n_dims } => write!(
                f,
                "tensor {tensor:?} has {n_dims} dimensions (expected 1 to {MAX_DIMS})"
            ),
            Self::ZeroDimension { tensor, index } => {
                write!(f, "tensor {tensor:?} has zero-sized dimension {index}")
            }
            Self::ShapeOverflow { tensor } => {
                write!(f, "tensor {tensor:?} has a shape whose size overflows")
            }
            Self::UnknownTensorType { tensor, ggml_type } => match removed_ggml_type(*ggml_type) {
                Some(name) => write!(
                    f,
                    "tensor {tensor:?} uses removed ggml type {ggml_type} ({name})"
                ),
                None => write!(f, "tensor {tensor:?} has unknown ggml type {ggml_type}"),
            },
            Self::RowNotBlockMultiple {
                tensor,
                ggml_type,
                ne0,
                block_size,
            } => write!(
                f,
                "tensor {tensor:?} has {ne0} elements per row, not a multiple of the \
                 {} block size {block_size}",
                ggml_type_name(*ggml_type).unwrap_or("unknown")
            ),
            Self::MisalignedTensor {
                tensor,
                offset,
                alignment,
            } => write!(
                f,
                "tensor {tensor:?} data offset {offset} is not a multiple of the alignment {alignment}"
            ),
            Self::TensorOutOfBounds {
                tensor,
                offset,
                n_bytes,
                data_offset,
                file_len,
            } => write!(
                f,
                "tensor {tensor:?} data ({n_bytes} bytes at offset {offset} after byte \
                 {data_offset}) runs past the end of the file ({file_len} bytes)"
            ),
            Self::TensorOffsetMismatch {
                tensor,
                offset,
                expected,
            } => write!(
                f,
                "tensor {tensor:?} data offset {offset} is not packed after the previous \
                 tensor (expected {expected})"
            ),
        }
    }
}

impl std::error::Error for GgufDefect {}

/// Why [`read_header`] failed: the file could not be read, or its header is defective.
#[derive(Debug)]
pub enum GgufReadError {
    /// Opening or reading the file failed.
    Io(io::Error),
    /// The header is malformed; the file must not reach llama.cpp.
    Defect(GgufDefect),
}

impl fmt::Display for GgufReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => e.fmt(f),
            Self::Defect(d) => d.fmt(f),
        }
    }
}

impl std::error::Error for GgufReadError {
    // Transparent: the message above is the inner error's, so expose its source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => e.source(),
            Self::Defect(_) => None,
        }
    }
}

impl From<io::Error> for GgufReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<GgufDefect> for GgufReadError {
    fn from(d: GgufDefect) -> Self {
        Self::Defect(d)
    }
}

/// Reads and validates the GGUF header of the file at `path`.
///
/// Reads only the header (through a buffered, length-bounded reader), never
/// the tensor data, and checks that every tensor's data lies inside the file.
pub fn read_header(path: &Path) -> Result<GgufHeader, GgufReadError> {
    // Checked before opening: opening a FIFO would block.
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file").into());
    }
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    parse(BufReader::with_capacity(READ_BUFFER, file), file_len)
}

/// Reads and validates a whole GGUF file held in memory: the same checks as
/// [`read_header`], with the slice's length as the file length. For fuzzing
/// and tests; the app reads files with [`read_header`].
///
/// # Errors
///
/// [`GgufReadError::Defect`] naming what is wrong with the header.
pub fn read_header_bytes(bytes: &[u8]) -> Result<GgufHeader, GgufReadError> {
    parse(bytes, bytes.len() as u64)
}

impl GgufHeader {
    /// The value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string stored under `key`, if it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer stored under `key`, if it is an integer of any type and not negative.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }

    /// The integer stored under `{architecture}.{suffix}`, such as
    /// `arch_u64("context_length")` or `arch_u64("attention.head_count_kv")`.
    pub fn arch_u64(&self, suffix: &str) -> Option<u64> {
        self.get_u64(&format!("{}.{suffix}", self.architecture()))
    }

    /// The model architecture (`general.architecture`), such as `"llama"`.
    ///
    /// Validated present by [`read_header`]; empty only for a hand-built header.
    pub fn architecture(&self) -> &str {
        self.get_str(KEY_ARCHITECTURE).unwrap_or("")
    }

    /// Total number of tensor elements: the model's parameter count.
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_elements()))
    }

    /// Total size of the tensor data in bytes, without alignment padding.
    pub fn tensor_data_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .fold(0u64, |acc, t| acc.saturating_add(t.n_bytes))
    }

    /// Name of the quantisation declared by `general.file_type`, such as `"Q4_K_M"`.
    pub fn file_type_name(&self) -> Option<String> {
        let ftype = u32::try_from(self.get_u64(KEY_FILE_TYPE)?).ok()?;
        llama_ftype_name(ftype).map(str::to_owned)
    }

    /// Name of the ggml type holding the most tensor bytes, such as `"Q4_K"`:
    /// a fallback when `general.file_type` is absent. Ties go to the lower type number.
    pub fn dominant_tensor_type(&self) -> Option<&'static str> {
        let mut bytes: BTreeMap<u32, u64> = BTreeMap::new();
        for t in &self.tensors {
            let entry = bytes.entry(t.ggml_type).or_insert(0);
            *entry = entry.saturating_add(t.n_bytes);
        }
        let (ggml_type, _) = bytes
            .into_iter()
            .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))?;
        ggml_type_name(ggml_type)
    }
}

/// Block size, bytes per block and display name of a ggml type.
#[derive(Debug, Clone, Copy)]
struct GgmlTraits {
    name: &'static str,
    block_size: u64,
    type_size: u64,
}

/// The ggml type table, checked against `type_traits` in `ggml/src/ggml.c` and the
/// block structs in `ggml-common.h` of the vendored llama.cpp (llama-cpp-sys-2 0.1.161).
fn ggml_traits(ggml_type: u32) -> Option<GgmlTraits> {
    let (name, block_size, type_size) = match ggml_type {
        0 => ("F32", 1, 4),
        1 => ("F16", 1, 2),
        2 => ("Q4_0", 32, 18),
        3 => ("Q4_1", 32, 20),
        6 => ("Q5_0", 32, 22),
        7 => ("Q5_1", 32, 24),
        8 => ("Q8_0", 32, 34),
        9 => ("Q8_1", 32, 36),
        10 => ("Q2_K", 256, 84),
        11 => ("Q3_K", 256, 110),
        12 => ("Q4_K", 256, 144),
        13 => ("Q5_K", 256, 176),
        14 => ("Q6_K", 256, 210),
        15 => ("Q8_K", 256, 292),
        16 => ("IQ2_XXS", 256, 66),
        17 => ("IQ2_XS", 256, 74),
        18 => ("IQ3_XXS", 256, 98),
        19 => ("IQ1_S", 256, 50),
        20 => ("IQ4_NL", 32, 18),
        21 => ("IQ3_S", 256, 110),
        22 => ("IQ2_S", 256, 82),
        23 => ("IQ4_XS", 256, 136),
        24 => ("I8", 1, 1),
        25 => ("I16", 1, 2),
        26 => ("I32", 1, 4),
        27 => ("I64", 1, 8),
        28 => ("F64", 1, 8),
        29 => ("IQ1_M", 256, 56),
        30 => ("BF16", 1, 2),
        34 => ("TQ1_0", 256, 54),
        35 => ("TQ2_0", 256, 66),
        39 => ("MXFP4", 32, 17),
        40 => ("NVFP4", 64, 36),
        41 => ("Q1_0", 128, 18),
        42 => ("Q2_0", 64, 18),
        _ => return None,
    };
    Some(GgmlTraits {
        name,
        block_size,
        type_size,
    })
}

/// ggml types that once existed but may no longer appear in GGUF files.
fn removed_ggml_type(ggml_type: u32) -> Option<&'static str> {
    Some(match ggml_type {
        4 => "Q4_2",
        5 => "Q4_3",
        31 => "Q4_0_4_4",
        32 => "Q4_0_4_8",
        33 => "Q4_0_8_8",
        36 => "IQ4_NL_4_4",
        37 => "IQ4_NL_4_8",
        38 => "IQ4_NL_8_8",
        _ => return None,
    })
}

/// Display name of a supported ggml tensor type, such as `"Q4_K"` for 12.
pub fn ggml_type_name(ggml_type: u32) -> Option<&'static str> {
    ggml_traits(ggml_type).map(|t| t.name)
}

/// Name of a `llama_ftype` (the `general.file_type` value), as in llama.cpp's `llama.h`.
fn llama_ftype_name(ftype: u32) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        39 => "NVFP4",
        40 => "Q1_0",
        41 => "Q2_0",
        _ => return None,
    })
}

/// A reader that knows its position and the file length, and refuses any
/// read that would go past the end before touching the underlying reader.
struct Bounded<R> {
    inner: R,
    pos: u64,
    len: u64,
    /// What is left of [`MAX_STORED_STRING_BYTES`].
    string_budget: u64,
}

impl<R: BufRead> Bounded<R> {
    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn need(&self, n: u64, what: &'static str) -> Result<(), GgufDefect> {
        if n > self.remaining() {
            return Err(GgufDefect::Truncated { at: self.len, what });
        }
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufReadError> {
        self.need(N as u64, what)?;
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf)?;
        self.pos += N as u64;
        Ok(buf)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, GgufReadError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, GgufReadError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufReadError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufReadError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Skips `n` bytes without copying them.
    fn skip(&mut self, n: u64, what: &'static str) -> Result<(), GgufReadError> {
        self.need(n, what)?;
        let mut left = n;
        while left > 0 {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                // The file shrank while being read.
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            let step = usize::try_from(left).map_or(available.len(), |l| l.min(available.len()));
            self.inner.consume(step);
            left -= step as u64;
        }
        self.pos += n;
        Ok(())
    }

    /// Reads a string's length prefix and checks it against `cap` and the rest of the file.
    fn string_len(&mut self, what: &'static str, cap: u64) -> Result<(u64, u64), GgufReadError> {
        let offset = self.pos;
        let len = self.u64(what)?;
        let limit = cap.min(self.remaining());
        if len > limit {
            return Err(GgufDefect::StringTooLong {
                offset,
                what,
                len,
                limit,
            }
            .into());
        }
        Ok((offset, len))
    }

    /// Reads a string to keep, counting it against the stored-string budget.
    fn string(&mut self, what: &'static str, cap: u64) -> Result<String, GgufReadError> {
        let (offset, len) = self.string_len(what, cap.min(self.string_budget))?;
        self.string_budget = self.string_budget.saturating_sub(len);
        let too_long = GgufDefect::StringTooLong {
            offset,
            what,
            len,
            limit: cap,
        };
        let n = usize::try_from(len).map_err(|_| too_long)?;
        // `len` is now known to fit in the file and under `cap`.
        let mut buf = vec![0u8; n];
        self.inner.read_exact(&mut buf)?;
        self.pos += len;
        String::from_utf8(buf).map_err(|_| GgufDefect::InvalidUtf8 { offset, what }.into())
    }

    fn skip_string(&mut self, what: &'static str, cap: u64) -> Result<(), GgufReadError> {
        let (_, len) = self.string_len(what, cap)?;
        self.skip(len, what)
    }
}

/// Parses a GGUF header from `inner`, which yields a file of `file_len` bytes.
fn parse<R: BufRead>(inner: R, file_len: u64) -> Result<GgufHeader, GgufReadError> {
    let mut r = Bounded {
        inner,
        pos: 0,
        len: file_len,
        string_budget: MAX_STORED_STRING_BYTES,
    };

    let magic = r.array::<4>("magic")?;
    if &magic != b"GGUF" {
        return Err(GgufDefect::BadMagic { found: magic }.into());
    }
    let version = r.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(GgufDefect::UnsupportedVersion(version).into());
    }
    let tensor_count = r.u64("tensor count")?;
    let kv_count = r.u64("metadata count")?;

    let limit = MAX_TENSORS.min(r.remaining() / MIN_TENSOR_INFO_BYTES);
    if tensor_count > limit {
        return Err(GgufDefect::TooManyTensors {
            count: tensor_count,
            limit,
        }
        .into());
    }
    let limit = MAX_METADATA_PAIRS.min(r.remaining() / MIN_KV_BYTES);
    if kv_count > limit {
        return Err(GgufDefect::TooManyMetadata {
            count: kv_count,
            limit,
        }
        .into());
    }
    if tensor_count == 0 {
        return Err(GgufDefect::NoTensors.into());
    }

    // Both counts are capped above, so these capacities are small.
    let mut metadata = Vec::with_capacity(usize::try_from(kv_count).unwrap_or(0));
    let mut seen_keys = HashSet::new();
    for index in 0..kv_count {
        let key = r.string("metadata key", MAX_KEY_LEN)?;
        if key.is_empty() {
            return Err(GgufDefect::EmptyKey { index }.into());
        }
        if !seen_keys.insert(key.clone()) {
            return Err(GgufDefect::DuplicateKey(key).into());
        }
        let raw_type = r.u32("metadata value type")?;
        let value = read_value(&mut r, &key, raw_type)?;
        metadata.push((key, value));
    }

    let find = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let alignment = match find(KEY_ALIGNMENT) {
        None => DEFAULT_ALIGNMENT,
        Some(MetaValue::U32(a)) => *a,
        Some(other) => {
            return Err(GgufDefect::WrongValueType {
                key: KEY_ALIGNMENT.to_owned(),
                expected: ValueType::U32,
                found: other.value_type(),
            }
            .into());
        }
    };
    if !alignment.is_power_of_two() {
        return Err(GgufDefect::BadAlignment(alignment).into());
    }
    match find(KEY_ARCHITECTURE) {
        Some(MetaValue::Str(arch)) if !arch.is_empty() => {}
        None | Some(MetaValue::Str(_)) => return Err(GgufDefect::MissingArchitecture.into()),
        Some(other) => {
            return Err(GgufDefect::WrongValueType {
                key: KEY_ARCHITECTURE.to_owned(),
                expected: ValueType::Str,
                found: other.value_type(),
            }
            .into());
        }
    }

    let mut tensors = Vec::with_capacity(usize::try_from(tensor_count).unwrap_or(0));
    let mut seen_names = HashSet::new();
    for _ in 0..tensor_count {
        tensors.push(read_tensor_info(&mut r, &mut seen_names)?);
    }

    // The data section starts at the end of the header, rounded up to the alignment.
    let align = u64::from(alignment);
    let data_offset = align_up(r.pos, align).unwrap_or(u64::MAX);
    let mut expected = 0u64;
    for t in &tensors {
        if t.offset % align != 0 {
            return Err(GgufDefect::MisalignedTensor {
                tensor: t.name.clone(),
                offset: t.offset,
                alignment,
            }
            .into());
        }
        let end = data_offset
            .checked_add(t.offset)
            .and_then(|start| start.checked_add(t.n_bytes));
        if end.is_none_or(|end| end > file_len) {
            return Err(GgufDefect::TensorOutOfBounds {
                tensor: t.name.clone(),
                offset: t.offset,
                n_bytes: t.n_bytes,
                data_offset,
                file_len,
            }
            .into());
        }
        if t.offset != expected {
            return Err(GgufDefect::TensorOffsetMismatch {
                tensor: t.name.clone(),
                offset: t.offset,
                expected,
            }
            .into());
        }
        // In bounds, so neither sum can realistically overflow; saturate regardless.
        expected = align_up(t.offset.saturating_add(t.n_bytes), align).unwrap_or(u64::MAX);
    }

    Ok(GgufHeader {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
        file_len,
    })
}

/// Reads one metadata value of GGUF type `raw_type`; arrays are skipped and summarised.
fn read_value<R: BufRead>(
    r: &mut Bounded<R>,
    key: &str,
    raw_type: u32,
) -> Result<MetaValue, GgufReadError> {
    const WHAT: &str = "metadata value";
    let unknown = |value_type| GgufDefect::UnknownValueType {
        key: key.to_owned(),
        value_type,
    };
    let value_type = ValueType::from_u32(raw_type).ok_or_else(|| unknown(raw_type))?;
    Ok(match value_type {
        ValueType::U8 => MetaValue::U8(r.u8(WHAT)?),
        ValueType::I8 => MetaValue::I8(i8::from_le_bytes(r.array(WHAT)?)),
        ValueType::U16 => MetaValue::U16(r.u16(WHAT)?),
        ValueType::I16 => MetaValue::I16(i16::from_le_bytes(r.array(WHAT)?)),
        ValueType::U32 => MetaValue::U32(r.u32(WHAT)?),
        ValueType::I32 => MetaValue::I32(i32::from_le_bytes(r.array(WHAT)?)),
        ValueType::F32 => MetaValue::F32(f32::from_le_bytes(r.array(WHAT)?)),
        ValueType::Bool => MetaValue::Bool(r.u8(WHAT)? != 0),
        ValueType::Str => MetaValue::Str(r.string("string value", MAX_STRING_LEN)?),
        ValueType::U64 => MetaValue::U64(r.u64(WHAT)?),
        ValueType::I64 => MetaValue::I64(i64::from_le_bytes(r.array(WHAT)?)),
        ValueType::F64 => MetaValue::F64(f64::from_le_bytes(r.array(WHAT)?)),
        ValueType::Array => {
            let raw_elem = r.u32("array element type")?;
            let elem_type = ValueType::from_u32(raw_elem).ok_or_else(|| unknown(raw_elem))?;
            if elem_type == ValueType::Array {
                return Err(GgufDefect::NestedArray {
                    key: key.to_owned(),
                }
                .into());
            }
            let len = r.u64("array length")?;
            // A string element takes at least its 8-byte length prefix.
            let elem_size = elem_type.fixed_size();
            let limit = MAX_ARRAY_LEN.min(r.remaining() / elem_size.unwrap_or(8));
            if len > limit {
                return Err(GgufDefect::ArrayTooLong {
                    key: key.to_owned(),
                    len,
                    limit,
                }
                .into());
            }
            match elem_size {
                Some(size) => {
                    let total = len
                        .checked_mul(size)
                        .ok_or_else(|| GgufDefect::ArrayTooLong {
                            key: key.to_owned(),
                            len,
                            limit,
                        })?;
                    r.skip(total, "array elements")?;
                }
                None => {
                    for _ in 0..len {
                        r.skip_string("array string", MAX_STRING_LEN)?;
                    }
                }
            }
            MetaValue::Array { elem_type, len }
        }
    })
}

/// Reads and checks one tensor info (everything but where its data lies).
fn read_tensor_info<R: BufRead>(
    r: &mut Bounded<R>,
    seen_names: &mut HashSet<String>,
) -> Result<TensorInfo, GgufReadError> {
    let name = r.string("tensor name", MAX_TENSOR_NAME_LEN)?;
    if !seen_names.insert(name.clone()) {
        return Err(GgufDefect::DuplicateTensor(name).into());
    }
    let n_dims = r.u32("tensor dimension count")?;
    if n_dims == 0 || n_dims > MAX_DIMS {
        return Err(GgufDefect::BadDimCount {
            tensor: name,
            n_dims,
        }
        .into());
    }
    let mut dims = Vec::with_capacity(MAX_DIMS as usize);
    for index in 0..n_dims {
        let dim = r.u64("tensor dimension")?;
        if dim == 0 {
            return Err(GgufDefect::ZeroDimension {
                tensor: name,
                index,
            }
            .into());
        }
        dims.push(dim);
    }
    // ggml counts elements in an i64.
    let n_elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| i64::try_from(n).is_ok());
    if n_elements.is_none() {
        return Err(GgufDefect::ShapeOverflow { tensor: name }.into());
    }
    let ggml_type = r.u32("tensor type")?;
    let Some(traits) = ggml_traits(ggml_type) else {
        return Err(GgufDefect::UnknownTensorType {
            tensor: name,
            ggml_type,
        }
        .into());
    };
    let ne0 = dims.first().copied().unwrap_or(1);
    if ne0 % traits.block_size != 0 {
        return Err(GgufDefect::RowNotBlockMultiple {
            tensor: name,
            ggml_type,
            ne0,
            block_size: traits.block_size,
        }
        .into());
    }
    let n_bytes = dims.iter().skip(1).fold(
        (ne0 / traits.block_size).checked_mul(traits.type_size),
        |acc, &d| acc.and_then(|a| a.checked_mul(d)),
    );
    let Some(n_bytes) = n_bytes else {
        return Err(GgufDefect::ShapeOverflow { tensor: name }.into());
    };
    let offset = r.u64("tensor offset")?;
    Ok(TensorInfo {
        name,
        dims,
        ggml_type,
        offset,
        n_bytes,
    })
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None` on overflow.
fn align_up(value: u64, align: u64) -> Option<u64> {
    value.div_ceil(align).checked_mul(align)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// One metadata pair as raw bytes, so tests can write anything.
    struct Kv {
        key: Vec<u8>,
        value_type: u32,
        value: Vec<u8>,
    }

    struct Tensor {
        name: Vec<u8>,
        dims: Vec<u64>,
        ggml_type: u32,
        /// `None`: packed after the previous tensor, as a valid writer does.
        offset: Option<u64>,
    }

    /// Writes GGUF bytes, valid unless a knob says otherwise.
    struct Builder {
        magic: [u8; 4],
        version: u32,
        tensor_count: Option<u64>,
        kv_count: Option<u64>,
        kvs: Vec<Kv>,
        tensors: Vec<Tensor>,
        /// Alignment used for padding, independent of any `general.alignment` pair.
        pad_to: u64,
        /// Bytes to drop from the end of the data section.
        cut_data: u64,
    }

    fn string_bytes(s: &[u8]) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(s);
        v
    }

    impl Builder {
        /// A valid file: architecture, one F32 tensor of 8 elements.
        fn new() -> Self {
            Self::bare()
                .str("general.architecture", "llama")
                .tensor("w", &[8], 0)
        }

        /// No metadata and no tensors.
        fn bare() -> Self {
            Self {
                magic: *b"GGUF",
                version: 3,
                tensor_count: None,
                kv_count: None,
                kvs: Vec::new(),
                tensors: Vec::new(),
                pad_to: 32,
                cut_data: 0,
            }
        }

        fn raw_kv(mut self, key: &[u8], value_type: u32, value: Vec<u8>) -> Self {
            self.kvs.push(Kv {
                key: key.to_vec(),
                value_type,
                value,
            });
            self
        }

        fn u32(self, key: &str, v: u32) -> Self {
            self.raw_kv(key.as_bytes(), 4, v.to_le_bytes().to_vec())
        }

        fn str(self, key: &str, v: &str) -> Self {
            self.raw_kv(key.as_bytes(), 8, string_bytes(v.as_bytes()))
        }

        fn str_array(self, key: &str, items: &[&str]) -> Self {
            let mut v = 8u32.to_le_bytes().to_vec();
            v.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                v.extend_from_slice(&string_bytes(item.as_bytes()));
            }
            self.raw_kv(key.as_bytes(), 9, v)
        }

        fn tensor(mut self, name: &str, dims: &[u64], ggml_type: u32) -> Self {
            self.tensors.push(Tensor {
                name: name.as_bytes().to_vec(),
                dims: dims.to_vec(),
                ggml_type,
                offset: None,
            });
            self
        }

        fn build(&self) -> Vec<u8> {
            let mut out = self.magic.to_vec();
            out.extend_from_slice(&self.version.to_le_bytes());
            let tensor_count = self.tensor_count.unwrap_or(self.tensors.len() as u64);
            out.extend_from_slice(&tensor_count.to_le_bytes());
            let kv_count = self.kv_count.unwrap_or(self.kvs.len() as u64);
            out.extend_from_slice(&kv_count.to_le_bytes());
            for kv in &self.kvs {
                out.extend_from_slice(&string_bytes(&kv.key));
                out.extend_from_slice(&kv.value_type.to_le_bytes());
                out.extend_from_slice(&kv.value);
            }
            let mut next = 0u64;
            let mut data_end = 0u64;
            for t in &self.tensors {
                out.extend_from_slice(&string_bytes(&t.name));
                out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
                for d in &t.dims {
                    out.extend_from_slice(&d.to_le_bytes());
                }
                out.extend_from_slice(&t.ggml_type.to_le_bytes());
                let offset = t.offset.unwrap_or(next);
                out.extend_from_slice(&offset.to_le_bytes());
                // Size computed only for well-formed tensors; others get none.
                let size = ggml_traits(t.ggml_type)
                    .and_then(|tr| {
                        let rows: u64 = t
                            .dims
                            .iter()
                            .skip(1)
                            .try_fold(1u64, |a, &d| a.checked_mul(d))?;
                        let ne0 = *t.dims.first()?;
                        (ne0 / tr.block_size)
                            .checked_mul(tr.type_size)?
                            .checked_mul(rows)
                    })
                    .unwrap_or(0);
                data_end = data_end.max(offset.saturating_add(size));
                next = align_up(offset.saturating_add(size), self.pad_to).unwrap_or(u64::MAX);
            }
            if !self.tensors.is_empty() {
                let len = out.len() as u64;
                out.resize(align_up(len, self.pad_to).unwrap_or(len) as usize, 0);
            }
            let data_len = data_end.saturating_sub(self.cut_data).min(1 << 20);
            out.resize(out.len() + data_len as usize, 0xAB);
            out
        }
    }

    fn parse_bytes(bytes: &[u8]) -> Result<GgufHeader, GgufReadError> {
        parse(bytes, bytes.len() as u64)
    }

    /// The defect a file must be rejected with.
    fn defect(b: &Builder) -> Result<GgufDefect, String> {
        match parse_bytes(&b.build()) {
            Err(GgufReadError::Defect(d)) => Ok(d),
            Err(GgufReadError::Io(e)) => Err(format!("expected a defect, got i/o error {e}")),
            Ok(h) => Err(format!("expected a defect, got a valid header {h:?}")),
        }
    }

    fn valid_small() -> Builder {
        Builder::bare()
            .str("general.architecture", "llama")
            .str("general.name", "tiny")
            .u32("llama.context_length", 2048)
            .u32("general.file_type", 15)
            .raw_kv(b"llama.rope.freq_base", 6, 10_000f32.to_le_bytes().to_vec())
            .raw_kv(b"tokenizer.ggml.add_bos_token", 7, vec![1])
            .raw_kv(b"llama.signed", 5, (-3i32).to_le_bytes().to_vec())
            .raw_kv(b"llama.u64", 10, 7u64.to_le_bytes().to_vec())
            .str_array("tokenizer.ggml.tokens", &["<s>", "</s>", "hello"])
            .raw_kv(b"tokenizer.ggml.scores", 9, {
                let mut v = 6u32.to_le_bytes().to_vec();
                v.extend_from_slice(&2u64.to_le_bytes());
                v.extend_from_slice(&[0; 8]);
                v
            })
            .tensor("token_embd.weight", &[256, 4], 12)
            .tensor("blk.0.attn_norm.weight", &[256], 0)
    }

    #[test]
    fn valid_file_round_trips() -> TestResult {
        let bytes = valid_small().build();
        let h = parse_bytes(&bytes)?;
        assert_eq!(h.version, 3);
        assert_eq!(h.architecture(), "llama");
        assert_eq!(h.get_str("general.name"), Some("tiny"));
        assert_eq!(h.arch_u64("context_length"), Some(2048));
        assert_eq!(
            h.get("llama.rope.freq_base"),
            Some(&MetaValue::F32(10_000.0))
        );
        assert_eq!(
            h.get("tokenizer.ggml.add_bos_token"),
            Some(&MetaValue::Bool(true))
        );
        assert_eq!(h.get("llama.signed"), Some(&MetaValue::I32(-3)));
        assert_eq!(h.get_u64("llama.signed"), None);
        assert_eq!(h.get_u64("llama.u64"), Some(7));
        assert_eq!(
            h.get("tokenizer.ggml.tokens"),
            Some(&MetaValue::Array {
                elem_type: ValueType::Str,
                len: 3
            })
        );
        assert_eq!(
            h.get("tokenizer.ggml.scores"),
            Some(&MetaValue::Array {
                elem_type: ValueType::F32,
                len: 2
            })
        );
        assert_eq!(h.get("missing"), None);
        assert_eq!(h.metadata.len(), 10);
        assert_eq!(h.metadata[0].0, "general.architecture");

        assert_eq!(h.alignment, 32);
        assert_eq!(h.data_offset % 32, 0);
        assert!(h.data_offset >= 32);
        assert_eq!(h.file_len, bytes.len() as u64);
        assert_eq!(h.tensors.len(), 2);
        let [embd, norm] = &h.tensors[..] else {
            return Err("expected two tensors".into());
        };
        assert_eq!(embd.name, "token_embd.weight");
        assert_eq!(embd.dims, vec![256, 4]);
        assert_eq!(embd.type_name(), "Q4_K");
        assert_eq!(embd.offset, 0);
        assert_eq!(embd.n_bytes, 4 * 144);
        assert_eq!(norm.type_name(), "F32");
        assert_eq!(norm.offset, 576);
        assert_eq!(norm.n_bytes, 1024);
        assert_eq!(h.data_offset + 576 + 1024, h.file_len);

        assert_eq!(h.parameter_count(), 256 * 4 + 256);
        assert_eq!(h.tensor_data_bytes(), 576 + 1024);
        assert_eq!(h.file_type_name().as_deref(), Some("Q4_K_M"));
        assert_eq!(h.dominant_tensor_type(), Some("F32"));
        Ok(())
    }

    #[test]
    fn custom_alignment_and_version_2() -> TestResult {
        let mut b = Builder::new()
            .u32("general.alignment", 64)
            .tensor("b", &[32, 3], 8);
        b.pad_to = 64;
        b.version = 2;
        let h = parse_bytes(&b.build())?;
        assert_eq!(h.version, 2);
        assert_eq!(h.alignment, 64);
        assert_eq!(h.data_offset % 64, 0);
        assert_eq!(h.tensors[1].offset, 64);
        assert_eq!(h.tensors[1].n_bytes, 3 * 34);
        assert_eq!(h.file_type_name(), None);
        assert_eq!(h.dominant_tensor_type(), Some("Q8_0"));
        Ok(())
    }

    #[test]
    fn every_truncation_is_rejected() -> TestResult {
        let bytes = valid_small().build();
        parse_bytes(&bytes)?;
        for n in 0..bytes.len() {
            match parse(&bytes[..n], n as u64) {
                Err(GgufReadError::Defect(_)) => {}
                other => return Err(format!("prefix of {n} bytes gave {other:?}").into()),
            }
        }
        // Also when the reader holds the whole file but its length says less.
        for n in [0, 3, 4, 23, 24, 40] {
            assert!(parse(&bytes[..], n).is_err(), "declared length {n}");
        }
        assert_eq!(
            parse(&bytes[..10], 10).err().map(|e| e.to_string()),
            Some("truncated at byte 10 while reading tensor count".to_owned())
        );
        Ok(())
    }

    #[test]
    fn garbage_and_empty_files() -> TestResult {
        assert_eq!(
            parse_bytes(b"\x7fELF and then some")
                .err()
                .map(|e| e.to_string()),
            Some("not a GGUF file (starts with 7f454c46)".to_owned())
        );
        let mut b = Builder::new();
        b.magic = *b"GGML";
        assert_eq!(defect(&b)?, GgufDefect::BadMagic { found: *b"GGML" });
        assert_eq!(
            parse_bytes(b"").err().map(|e| e.to_string()),
            Some("truncated at byte 0 while reading magic".to_owned())
        );
        // Pseudo-random bytes behind a valid magic never panic.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..2000usize {
            let mut bytes = b"GGUF\x03\0\0\0".to_vec();
            for _ in 0..len % 300 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.push((state >> 24) as u8);
            }
            assert!(parse_bytes(&bytes).is_err());
        }
        Ok(())
    }

    #[test]
    fn unsupported_versions() -> TestResult {
        for v in [0, 1, 4, 0x0300_0000] {
            let mut b = Builder::new();
            b.version = v;
            assert_eq!(defect(&b)?, GgufDefect::UnsupportedVersion(v));
        }
        assert_eq!(
            GgufDefect::UnsupportedVersion(0x0300_0000).to_string(),
            "unsupported GGUF version 50331648 (the file looks big-endian)"
        );
        Ok(())
    }

    #[test]
    fn absurd_counts() -> TestResult {
        let mut b = Builder::new();
        b.tensor_count = Some(u64::MAX);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::TooManyTensors {
                count: u64::MAX,
                ..
            }
        ));
        // Under the cap but more than the file could describe.
        b.tensor_count = Some(1000);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::TooManyTensors { count: 1000, .. }
        ));
        let mut b = Builder::new();
        b.kv_count = Some(1 << 40);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::TooManyMetadata {
                count: 1_099_511_627_776,
                ..
            }
        ));
        let mut b = Builder::new();
        b.tensor_count = Some(0);
        assert_eq!(defect(&b)?, GgufDefect::NoTensors);
        Ok(())
    }

    #[test]
    fn huge_string_lengths() -> TestResult {
        // A key whose length prefix is u64::MAX.
        let mut b = Builder::new();
        b.kvs.insert(
            0,
            Kv {
                key: Vec::new(),
                value_type: 0,
                value: vec![0],
            },
        );
        let mut bytes = b.build();
        bytes[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            parse_bytes(&bytes),
            Err(GgufReadError::Defect(GgufDefect::StringTooLong {
                offset: 24,
                what: "metadata key",
                len: u64::MAX,
                ..
            }))
        ));
        // A string value longer than the rest of the file.
        let b = Builder::new().raw_kv(b"general.name", 8, (1u64 << 20).to_le_bytes().to_vec());
        assert!(matches!(
            defect(&b)?,
            GgufDefect::StringTooLong {
                what: "string value",
                len: 1_048_576,
                ..
            }
        ));
        // A string value over the cap, whatever the file size.
        // A string value over the cap, even where the file would be long enough.
        let b = Builder::new().raw_kv(
            b"general.name",
            8,
            (MAX_STRING_LEN + 1).to_le_bytes().to_vec(),
        );
        assert!(matches!(
            parse(&b.build()[..], 1 << 40),
            Err(GgufReadError::Defect(GgufDefect::StringTooLong {
                limit: MAX_STRING_LEN,
                ..
            }))
        ));
        // An over-long string inside an array.
        let mut v = 8u32.to_le_bytes().to_vec();
        v.extend_from_slice(&1u64.to_le_bytes());
        v.extend_from_slice(&u64::MAX.to_le_bytes());
        let b = Builder::new().raw_kv(b"tokenizer.ggml.tokens", 9, v);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::StringTooLong {
                what: "array string",
                len: u64::MAX,
                ..
            }
        ));
        // A tensor name over ggml's limit.
        let b = Builder::new().tensor(&"x".repeat(64), &[8], 0);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::StringTooLong {
                what: "tensor name",
                len: 64,
                limit: 63,
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn stored_strings_are_budgeted() -> TestResult {
        let big = "a".repeat(MAX_STRING_LEN as usize);
        let b = Builder::new()
            .str("s0", &big)
            .str("s1", &big)
            .str("s2", &big)
            .str("s3", &big);
        // Keys count too: "general.architecture", "llama", then 4 two-byte keys.
        let used = 20 + 5 + 3 * (2 + MAX_STRING_LEN) + 2;
        assert!(matches!(
            defect(&b)?,
            GgufDefect::StringTooLong { what: "string value", len: MAX_STRING_LEN, limit, .. }
                if limit == MAX_STORED_STRING_BYTES - used
        ));
        Ok(())
    }

    #[test]
    fn absurd_array_lengths() -> TestResult {
        for (elem_type, len) in [(4u32, u64::MAX), (8, 1 << 30), (0, 1 << 20)] {
            let mut v = elem_type.to_le_bytes().to_vec();
            v.extend_from_slice(&len.to_le_bytes());
            let b = Builder::new().raw_kv(b"tokenizer.ggml.tokens", 9, v);
            match defect(&b)? {
                GgufDefect::ArrayTooLong { key, len: l, limit } => {
                    assert_eq!(key, "tokenizer.ggml.tokens");
                    assert_eq!(l, len);
                    assert!(limit < 1000, "limit {limit}");
                }
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
        Ok(())
    }

    #[test]
    fn unknown_and_nested_value_types() -> TestResult {
        let b = Builder::new().raw_kv(b"x.y", 13, vec![0; 8]);
        assert_eq!(
            defect(&b)?,
            GgufDefect::UnknownValueType {
                key: "x.y".into(),
                value_type: 13
            }
        );
        let b = Builder::new().raw_kv(b"x.y", 9, u32::MAX.to_le_bytes().to_vec());
        assert_eq!(
            defect(&b)?,
            GgufDefect::UnknownValueType {
                key: "x.y".into(),
                value_type: u32::MAX
            }
        );
        let mut v = 9u32.to_le_bytes().to_vec();
        v.extend_from_slice(&1u64.to_le_bytes());
        let b = Builder::new().raw_kv(b"x.y", 9, v);
        assert_eq!(defect(&b)?, GgufDefect::NestedArray { key: "x.y".into() });
        Ok(())
    }

    #[test]
    fn bad_dimensions() -> TestResult {
        for n in [0usize, 5] {
            let b = Builder::new().tensor("t", &vec![32; n], 0);
            assert_eq!(
                defect(&b)?,
                GgufDefect::BadDimCount {
                    tensor: "t".into(),
                    n_dims: n as u32
                }
            );
        }
        let b = Builder::new().tensor("t", &[8, 0, 2], 0);
        assert_eq!(
            defect(&b)?,
            GgufDefect::ZeroDimension {
                tensor: "t".into(),
                index: 1
            }
        );
        for dims in [
            &[1u64 << 32, 1 << 32][..],
            &[u64::MAX],
            &[1 << 62, 2],
            &[8, 1 << 61, 1, 1],
        ] {
            let b = Builder::new().tensor("t", dims, 0);
            assert_eq!(
                defect(&b)?,
                GgufDefect::ShapeOverflow { tensor: "t".into() },
                "{dims:?}"
            );
        }
        // The element count fits an i64 but the byte count does not fit a u64.
        let b = Builder::new().tensor("t", &[1 << 31, 1 << 31], 28);
        assert_eq!(
            defect(&b)?,
            GgufDefect::ShapeOverflow { tensor: "t".into() }
        );
        Ok(())
    }

    #[test]
    fn bad_tensor_types() -> TestResult {
        for ggml_type in [4u32, 5, 31, 32, 33, 36, 37, 38, 43, 1000, u32::MAX] {
            let b = Builder::new().tensor("t", &[256], ggml_type);
            assert_eq!(
                defect(&b)?,
                GgufDefect::UnknownTensorType {
                    tensor: "t".into(),
                    ggml_type
                }
            );
        }
        assert_eq!(
            GgufDefect::UnknownTensorType {
                tensor: "t".into(),
                ggml_type: 31
            }
            .to_string(),
            "tensor \"t\" uses removed ggml type 31 (Q4_0_4_4)"
        );
        let b = Builder::new().tensor("t", &[100, 2], 12);
        assert_eq!(
            defect(&b)?,
            GgufDefect::RowNotBlockMultiple {
                tensor: "t".into(),
                ggml_type: 12,
                ne0: 100,
                block_size: 256
            }
        );
        Ok(())
    }

    #[test]
    fn tensor_data_placement() -> TestResult {
        let mut b = Builder::new().tensor("big", &[256, 16], 14);
        b.cut_data = 1;
        assert!(matches!(
            defect(&b)?,
            GgufDefect::TensorOutOfBounds { ref tensor, n_bytes: 3360, .. } if tensor == "big"
        ));
        // An offset near u64::MAX must not overflow.
        let mut b = Builder::new();
        b.tensors[0].offset = Some(u64::MAX - 31);
        assert!(matches!(defect(&b)?, GgufDefect::TensorOutOfBounds { .. }));

        let mut b = Builder::new();
        b.tensors[0].offset = Some(16);
        assert_eq!(
            defect(&b)?,
            GgufDefect::MisalignedTensor {
                tensor: "w".into(),
                offset: 16,
                alignment: 32
            }
        );
        // Aligned and in the file, but leaving a gap llama.cpp refuses.
        let mut b = Builder::new().tensor("v", &[8], 0);
        b.tensors[1].offset = Some(64);
        assert_eq!(
            defect(&b)?,
            GgufDefect::TensorOffsetMismatch {
                tensor: "v".into(),
                offset: 64,
                expected: 32
            }
        );
        Ok(())
    }

    #[test]
    fn bad_alignment() -> TestResult {
        for a in [0u32, 3, 48, u32::MAX] {
            let b = Builder::new().u32("general.alignment", a);
            assert_eq!(defect(&b)?, GgufDefect::BadAlignment(a));
        }
        let b = Builder::new().raw_kv(b"general.alignment", 10, 32u64.to_le_bytes().to_vec());
        assert_eq!(
            defect(&b)?,
            GgufDefect::WrongValueType {
                key: "general.alignment".into(),
                expected: ValueType::U32,
                found: ValueType::U64
            }
        );
        Ok(())
    }

    #[test]
    fn duplicates_and_empty_key() -> TestResult {
        let b = Builder::new().u32("a.b", 1).u32("a.b", 2);
        assert_eq!(defect(&b)?, GgufDefect::DuplicateKey("a.b".into()));
        let b = Builder::new().tensor("w", &[8], 0);
        assert_eq!(defect(&b)?, GgufDefect::DuplicateTensor("w".into()));
        let b = Builder::new().u32("", 1);
        assert_eq!(defect(&b)?, GgufDefect::EmptyKey { index: 1 });
        Ok(())
    }

    #[test]
    fn architecture_required() -> TestResult {
        let b = Builder::bare().tensor("w", &[8], 0);
        assert_eq!(defect(&b)?, GgufDefect::MissingArchitecture);
        let b = Builder::bare()
            .str("general.architecture", "")
            .tensor("w", &[8], 0);
        assert_eq!(defect(&b)?, GgufDefect::MissingArchitecture);
        let b = Builder::bare()
            .u32("general.architecture", 1)
            .tensor("w", &[8], 0);
        assert_eq!(
            defect(&b)?,
            GgufDefect::WrongValueType {
                key: "general.architecture".into(),
                expected: ValueType::Str,
                found: ValueType::U32
            }
        );
        Ok(())
    }

    #[test]
    fn invalid_utf8() -> TestResult {
        let b = Builder::new().raw_kv(b"bad\xff", 0, vec![0]);
        assert!(matches!(
            defect(&b)?,
            GgufDefect::InvalidUtf8 {
                what: "metadata key",
                ..
            }
        ));
        let b = Builder::new().raw_kv(b"general.name", 8, string_bytes(b"\xc3\x28"));
        assert!(matches!(
            defect(&b)?,
            GgufDefect::InvalidUtf8 {
                what: "string value",
                ..
            }
        ));
        let mut b = Builder::new();
        b.tensors[0].name = b"w\xe2\x82".to_vec();
        assert!(matches!(
            defect(&b)?,
            GgufDefect::InvalidUtf8 {
                what: "tensor name",
                ..
            }
        ));
        Ok(())
    }

    #[test]
    fn messages_are_lowercase_without_period() {
        let samples = [
            GgufDefect::Truncated {
                at: 3,
                what: "magic",
            },
            GgufDefect::UnsupportedVersion(1),
            GgufDefect::UnsupportedVersion(9),
            GgufDefect::TooManyTensors { count: 9, limit: 1 },
            GgufDefect::NoTensors,
            GgufDefect::DuplicateKey("k".into()),
            GgufDefect::BadAlignment(3),
            GgufDefect::MissingArchitecture,
            GgufDefect::ShapeOverflow { tensor: "t".into() },
            GgufDefect::UnknownTensorType {
                tensor: "t".into(),
                ggml_type: 99,
            },
            GgufDefect::TensorOffsetMismatch {
                tensor: "t".into(),
                offset: 1,
                expected: 0,
            },
        ];
        for d in samples {
            let msg = d.to_string();
            let first = msg.chars().next().unwrap_or('X');
            // Acronyms such as "GGUF" may open a message; words may not.
            assert!(first.is_lowercase() || msg.starts_with("GGUF"), "{msg}");
            assert!(!msg.ends_with('.'), "{msg}");
        }
    }

    #[test]
    fn type_tables() {
        assert_eq!(ggml_type_name(12), Some("Q4_K"));
        assert_eq!(ggml_type_name(39), Some("MXFP4"));
        assert_eq!(ggml_type_name(4), None);
        let q6 = ggml_traits(14).map(|t| (t.block_size, t.type_size));
        assert_eq!(q6, Some((256, 210)));
        // Supported and removed types never overlap, and every block has a size.
        for id in 0..64 {
            if let Some(t) = ggml_traits(id) {
                assert!(t.block_size > 0 && t.type_size > 0);
                assert!(removed_ggml_type(id).is_none());
            }
        }
        assert_eq!(llama_ftype_name(3), Some("Q4_1"));
        assert_eq!(llama_ftype_name(7), Some("Q8_0"));
        assert_eq!(llama_ftype_name(1024), None);
    }

    #[test]
    fn reads_from_disk() -> TestResult {
        let dir = std::env::temp_dir();
        let path = dir.join(format!("sillok-gguf-test-{}.gguf", std::process::id()));
        std::fs::write(&path, valid_small().build())?;
        let result = read_header(&path);
        std::fs::remove_file(&path)?;
        assert_eq!(result?.architecture(), "llama");

        let missing = dir.join(format!("sillok-gguf-missing-{}.gguf", std::process::id()));
        assert!(matches!(read_header(&missing), Err(GgufReadError::Io(_))));
        assert!(matches!(read_header(&dir), Err(GgufReadError::Io(_))));
        Ok(())
    }
}
