//! Reading GGUF files (versions 2 and 3): metadata, tensor infos and tensor
//! data, with dequantisation to `f32`.
//!
//! The container is parsed once up front and every count, length and offset
//! is checked against the file size, so a corrupt or hostile file yields a
//! [`GgufError`] instead of a panic or a huge allocation. Tensor data stays in
//! the memory map until [`GgufFile::dequantize`] is called.

pub mod dequant;
pub mod matvec;
mod reader;
mod types;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

pub use dequant::DequantError;
pub use types::{GgmlType, MetaValue};

/// Key holding the tensor data alignment.
pub const KEY_ALIGNMENT: &str = "general.alignment";
/// Key holding the model architecture (`"llama"`, `"gemma3"`, ...).
pub const KEY_ARCHITECTURE: &str = "general.architecture";
/// Alignment of tensor data when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Errors from opening or querying a GGUF file. Each variant names the file
/// (its path, or the label given to [`GgufFile::from_bytes`]).
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or mapped.
    #[error("{file}: {source}")]
    Io {
        /// Path of the file.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a structure it declares.
    #[error("{file}: truncated file: reading {what} at offset {offset} needs {needed} bytes, but the file is {file_len} bytes long")]
    Truncated {
        /// Path or label.
        file: String,
        /// What was being read, e.g. "value of metadata key 'general.name'".
        what: String,
        /// Byte offset of the read.
        offset: u64,
        /// Bytes the read needed.
        needed: u64,
        /// Size of the file.
        file_len: u64,
    },
    /// The first four bytes are not `GGUF`.
    #[error("{file}: not a GGUF file (magic bytes {found:02x?}, expected \"GGUF\")")]
    BadMagic {
        /// Path or label.
        file: String,
        /// The first bytes found.
        found: [u8; 4],
    },
    /// A GGUF version other than 2 or 3.
    #[error("{file}: unsupported GGUF version {version}{hint} (supported: 2 and 3)")]
    UnsupportedVersion {
        /// Path or label.
        file: String,
        /// The version read (little-endian).
        version: u32,
        /// Extra explanation, e.g. for big-endian or version-1 files.
        hint: &'static str,
    },
    /// Metadata that cannot be parsed or is inconsistent.
    #[error("{file}: bad metadata{}: {reason}", key.as_ref().map(|k| format!(" key '{k}'")).unwrap_or_default())]
    BadMetadata {
        /// Path or label.
        file: String,
        /// The key concerned, when one is known.
        key: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A tensor info that cannot be honoured.
    #[error("{file}: bad tensor '{name}': {reason}")]
    BadTensor {
        /// Path or label.
        file: String,
        /// Tensor name (or `#index` when the name itself was unreadable).
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A required metadata key is absent.
    #[error("{file}: missing metadata key '{key}'")]
    MissingKey {
        /// Path or label.
        file: String,
        /// The key.
        key: String,
    },
    /// A metadata key holds a value of the wrong type or out of range.
    #[error("{file}: metadata key '{key}' should be {expected}, found {found}")]
    WrongType {
        /// Path or label.
        file: String,
        /// The key.
        key: String,
        /// What the caller asked for.
        expected: &'static str,
        /// What the file holds.
        found: String,
    },
    /// No tensor with this name.
    #[error("{file}: no tensor named '{name}'")]
    TensorNotFound {
        /// Path or label.
        file: String,
        /// The name asked for.
        name: String,
    },
    /// The tensor's type cannot be read or dequantised by this crate.
    #[error("{file}: unsupported tensor type {ggml_type} for tensor '{name}'")]
    UnsupportedType {
        /// Path or label.
        file: String,
        /// The tensor.
        name: String,
        /// Its type.
        ggml_type: GgmlType,
    },
}

/// Where and what one tensor is.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// Extent of each dimension in ggml order: `dims[0]` is the innermost
    /// (contiguous) one, so a PyTorch `[out, in]` weight has `dims = [in, out]`.
    pub dims: Vec<u64>,
    /// Element type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Product of `dims`.
    pub n_elements: u64,
    /// Size of the data in bytes; `None` when the type is unknown.
    pub n_bytes: Option<u64>,
}

impl TensorInfo {
    /// The shape in PyTorch order (outermost first), i.e. `dims` reversed.
    pub fn shape(&self) -> Vec<usize> {
        // The reader checked that the element count fits in usize, so every
        // dimension does too.
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }

    /// Number of elements.
    pub fn n_elements(&self) -> usize {
        // Checked against usize::MAX by the reader.
        self.n_elements as usize
    }
}

/// The bytes behind a [`GgufFile`]: a read-only map of a file, or an owned
/// buffer (tests, fuzzing, files fetched over a network). Shared, so a tensor's
/// bytes can outlive the parsed file ([`SharedBytes`]).
#[derive(Clone)]
enum Backing {
    Mmap(Arc<memmap2::Mmap>),
    Bytes(Arc<[u8]>),
}

/// One tensor's raw data, kept alive (and, for a mapped file, left in the page
/// cache rather than copied) after its [`GgufFile`] is dropped.
#[derive(Clone)]
pub struct SharedBytes {
    backing: Backing,
    range: std::ops::Range<usize>,
}

impl SharedBytes {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.backing.bytes()[self.range.clone()]
    }

    /// `len` bytes written by `fill` (given them zeroed), held in huge pages where the kernel
    /// allows (as [`GgufFile::open_resident`]'s), in an ordinary buffer where such a map
    /// cannot be made.
    pub(crate) fn resident(len: usize, fill: impl Fn(&mut [u8])) -> SharedBytes {
        match resident_map(len, &fill) {
            Ok(map) => SharedBytes {
                backing: Backing::Mmap(Arc::new(map)),
                range: 0..len,
            },
            Err(_) => {
                let mut bytes = vec![0u8; len];
                fill(&mut bytes);
                bytes.into()
            }
        }
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> Self {
        let n = bytes.len();
        SharedBytes {
            backing: Backing::Bytes(bytes.into()),
            range: 0..n,
        }
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.range.len())
    }
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Bytes(b) => b,
        }
    }
}

/// `bytes` copied into an anonymous, read-only map advised for huge pages.
fn resident_copy(bytes: &[u8]) -> std::io::Result<memmap2::Mmap> {
    resident_map(bytes.len(), |copy| copy.copy_from_slice(bytes))
}

/// `len` bytes written by `fill` into an anonymous map advised for huge pages, then made
/// read-only.
fn resident_map(len: usize, fill: impl FnOnce(&mut [u8])) -> std::io::Result<memmap2::Mmap> {
    let mut map = memmap2::MmapOptions::new().len(len).map_anon()?;
    // Advice only: a kernel without transparent huge pages refuses it, and 4 KiB pages do.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    fill(&mut map);
    map.make_read_only()
}

/// A parsed GGUF file: metadata and tensor infos, with the tensor data left in
/// place (memory-mapped or in an owned buffer).
pub struct GgufFile {
    label: String,
    backing: Backing,
    version: u32,
    metadata: Vec<(String, MetaValue)>,
    meta_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

impl fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GgufFile")
            .field("label", &self.label)
            .field("version", &self.version)
            .field("n_metadata", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl GgufFile {
    /// Opens and parses a GGUF file, memory-mapping it.
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        let label = path.display().to_string();
        let io = |source| GgufError::Io {
            file: label.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        // Mapping an empty file fails on some platforms with an unhelpful
        // error, and it cannot be a GGUF file anyway.
        let backing = if len == 0 {
            Backing::Bytes(Arc::from(Vec::new()))
        } else {
            // SAFETY: the map is read-only. If another process truncates or
            // rewrites the file while it is mapped, reads may fault or see
            // changed bytes; that is the accepted contract of mapping model
            // files, which are not modified while in use.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
            Backing::Mmap(Arc::new(map))
        };
        Self::parse(label, backing)
    }

    /// Opens and parses a GGUF file, its bytes copied into memory that the kernel may hold in
    /// huge (2 MiB) pages. Decoding streams every weight once per token; read through the
    /// file's map of 4 KiB pages, the address translations and the prefetchers stopping at
    /// each page boundary cost the 1.5B model about a seventh of its decoding speed
    /// (BENCHMARKS.md). The price is a copy of the file in memory (the page cache's copy can
    /// then be evicted). Where the copy cannot be made, the file stays mapped.
    pub fn open_resident(path: &Path) -> Result<GgufFile, GgufError> {
        let file = Self::open(path)?;
        let Backing::Mmap(map) = &file.backing else {
            return Ok(file);
        };
        match resident_copy(map) {
            Ok(copy) => Ok(GgufFile {
                backing: Backing::Mmap(Arc::new(copy)),
                ..file
            }),
            Err(_) => Ok(file),
        }
    }

    /// Parses a GGUF image held in memory. `label` names it in errors.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>, label: impl Into<String>) -> Result<GgufFile, GgufError> {
        Self::parse(label.into(), Backing::Bytes(bytes.into()))
    }

    fn parse(label: String, backing: Backing) -> Result<GgufFile, GgufError> {
        let parsed = reader::parse(backing.bytes(), &label)?;
        let meta_index = parsed
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let tensor_index = parsed
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufFile {
            label,
            backing,
            version: parsed.version,
            metadata: parsed.metadata,
            meta_index,
            tensors: parsed.tensors,
            tensor_index,
            alignment: parsed.alignment,
            data_offset: parsed.data_offset,
        })
    }

    /// The path or label used in error messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Alignment of the tensor data section.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute file offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Size of the file in bytes.
    pub fn file_size(&self) -> u64 {
        self.backing.bytes().len() as u64
    }

    /// All metadata in file order.
    pub fn metadata(&self) -> impl Iterator<Item = (&str, &MetaValue)> {
        self.metadata.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of `key`, if present.
    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.meta_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// All tensor infos in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// The info of tensor `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Result<&str, GgufError> {
        self.get_str(KEY_ARCHITECTURE)
    }

    /// The architecture-specific key `{arch}.{suffix}`, e.g. `arch_key("block_count")`
    /// → `"llama.block_count"`.
    pub fn arch_key(&self, suffix: &str) -> Result<String, GgufError> {
        Ok(format!("{}.{suffix}", self.architecture()?))
    }

    fn missing(&self, key: &str) -> GgufError {
        GgufError::MissingKey {
            file: self.label.clone(),
            key: key.to_string(),
        }
    }

    fn wrong(&self, key: &str, expected: &'static str, found: String) -> GgufError {
        GgufError::WrongType {
            file: self.label.clone(),
            key: key.to_string(),
            expected,
            found,
        }
    }

    fn require(&self, key: &str) -> Result<&MetaValue, GgufError> {
        self.meta(key).ok_or_else(|| self.missing(key))
    }

    fn int_in<T: TryFrom<i128>>(&self, key: &str, v: &MetaValue, expected: &'static str) -> Result<T, GgufError> {
        match v.as_int() {
            Some(i) => {
                T::try_from(i).map_err(|_| self.wrong(key, expected, format!("{} {i} (out of range)", v.type_name())))
            }
            None => Err(self.wrong(key, expected, v.type_name())),
        }
    }

    /// An unsigned integer that fits in `u32`, from any integer type.
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        self.int_in(key, self.require(key)?, "an integer fitting in u32")
    }

    /// An unsigned integer that fits in `u64`, from any integer type.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.int_in(key, self.require(key)?, "an integer fitting in u64")
    }

    /// A signed integer that fits in `i64`, from any integer type.
    pub fn get_i64(&self, key: &str) -> Result<i64, GgufError> {
        self.int_in(key, self.require(key)?, "an integer fitting in i64")
    }

    /// A float, from `f32`, `f64` (rounded) or any integer type.
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        let v = self.require(key)?;
        v.as_f64()
            .map(|f| f as f32)
            .ok_or_else(|| self.wrong(key, "a number", v.type_name()))
    }

    /// A string.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        let v = self.require(key)?;
        v.as_str().ok_or_else(|| self.wrong(key, "a string", v.type_name()))
    }

    /// A bool.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        let v = self.require(key)?;
        v.as_bool().ok_or_else(|| self.wrong(key, "a bool", v.type_name()))
    }

    fn array(&self, key: &str, expected: &'static str) -> Result<&[MetaValue], GgufError> {
        let v = self.require(key)?;
        v.as_array().ok_or_else(|| self.wrong(key, expected, v.type_name()))
    }

    /// An array of strings, borrowed from the parsed metadata.
    pub fn get_str_array(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        const EXPECTED: &str = "an array of strings";
        self.array(key, EXPECTED)?
            .iter()
            .map(|e| {
                e.as_str()
                    .ok_or_else(|| self.wrong(key, EXPECTED, format!("array[{}]", e.type_name())))
            })
            .collect()
    }

    /// An array of numbers as `f32` (floats and integers accepted).
    pub fn get_f32_array(&self, key: &str) -> Result<Vec<f32>, GgufError> {
        const EXPECTED: &str = "an array of numbers";
        self.array(key, EXPECTED)?
            .iter()
            .map(|e| {
                e.as_f64()
                    .map(|f| f as f32)
                    .ok_or_else(|| self.wrong(key, EXPECTED, format!("array[{}]", e.type_name())))
            })
            .collect()
    }

    /// An array of integers that each fit in `i32`.
    pub fn get_i32_array(&self, key: &str) -> Result<Vec<i32>, GgufError> {
        const EXPECTED: &str = "an array of integers fitting in i32";
        self.array(key, EXPECTED)?
            .iter()
            .map(|e| self.int_in(key, e, EXPECTED))
            .collect()
    }

    /// Like [`get_u32`](Self::get_u32), but `Ok(None)` when the key is absent.
    pub fn get_opt_u32(&self, key: &str) -> Result<Option<u32>, GgufError> {
        self.opt(key, Self::get_u32)
    }

    /// Like [`get_u64`](Self::get_u64), but `Ok(None)` when the key is absent.
    pub fn get_opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.opt(key, Self::get_u64)
    }

    /// Like [`get_f32`](Self::get_f32), but `Ok(None)` when the key is absent.
    pub fn get_opt_f32(&self, key: &str) -> Result<Option<f32>, GgufError> {
        self.opt(key, Self::get_f32)
    }

    /// Like [`get_str`](Self::get_str), but `Ok(None)` when the key is absent.
    pub fn get_opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.opt(key, Self::get_str)
    }

    /// Like [`get_bool`](Self::get_bool), but `Ok(None)` when the key is absent.
    pub fn get_opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.opt(key, Self::get_bool)
    }

    /// Like [`get_str_array`](Self::get_str_array), but `Ok(None)` when absent.
    pub fn get_opt_str_array(&self, key: &str) -> Result<Option<Vec<&str>>, GgufError> {
        self.opt(key, Self::get_str_array)
    }

    /// Like [`get_f32_array`](Self::get_f32_array), but `Ok(None)` when absent.
    pub fn get_opt_f32_array(&self, key: &str) -> Result<Option<Vec<f32>>, GgufError> {
        self.opt(key, Self::get_f32_array)
    }

    /// Like [`get_i32_array`](Self::get_i32_array), but `Ok(None)` when absent.
    pub fn get_opt_i32_array(&self, key: &str) -> Result<Option<Vec<i32>>, GgufError> {
        self.opt(key, Self::get_i32_array)
    }

    fn opt<'a, T>(
        &'a self,
        key: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<T, GgufError>,
    ) -> Result<Option<T>, GgufError> {
        if self.meta_index.contains_key(key) {
            get(self, key).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The raw bytes of a tensor's data.
    ///
    /// Fails only for tensors of an unknown type, whose extent is unknown.
    pub fn tensor_bytes(&self, info: &TensorInfo) -> Result<&[u8], GgufError> {
        let n_bytes = info.n_bytes.ok_or_else(|| self.unsupported(info))?;
        // The reader checked that this range lies inside the file; a TensorInfo
        // from another file could still be out of range, hence `get`.
        let start = self.data_offset.checked_add(info.offset);
        let end = start.and_then(|s| s.checked_add(n_bytes));
        match (start, end) {
            (Some(s), Some(e)) => usize::try_from(s)
                .ok()
                .zip(usize::try_from(e).ok())
                .and_then(|(s, e)| self.backing.bytes().get(s..e)),
            _ => None,
        }
        .ok_or_else(|| GgufError::BadTensor {
            file: self.label.clone(),
            name: info.name.clone(),
            reason: "data range lies outside this file".into(),
        })
    }

    /// Like [`tensor_bytes`](Self::tensor_bytes), as a handle that keeps the
    /// data alive after this file is dropped.
    pub fn tensor_shared(&self, info: &TensorInfo) -> Result<SharedBytes, GgufError> {
        let bytes = self.tensor_bytes(info)?;
        let start = bytes.as_ptr() as usize - self.backing.bytes().as_ptr() as usize;
        Ok(SharedBytes {
            backing: self.backing.clone(),
            range: start..start + bytes.len(),
        })
    }

    fn unsupported(&self, info: &TensorInfo) -> GgufError {
        GgufError::UnsupportedType {
            file: self.label.clone(),
            name: info.name.clone(),
            ggml_type: info.ggml_type,
        }
    }

    /// Dequantises tensor `name` to `f32`; returns the values (row-major) and
    /// the shape in PyTorch order.
    pub fn dequantize(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), GgufError> {
        let info = self.tensor_info(name).ok_or_else(|| GgufError::TensorNotFound {
            file: self.label.clone(),
            name: name.to_string(),
        })?;
        self.dequantize_info(info)
    }

    /// Like [`dequantize`](Self::dequantize), for an info from [`tensors`](Self::tensors).
    pub fn dequantize_info(&self, info: &TensorInfo) -> Result<(Vec<f32>, Vec<usize>), GgufError> {
        if !dequant::is_supported(info.ggml_type) {
            return Err(self.unsupported(info));
        }
        let bytes = self.tensor_bytes(info)?;
        let values = dequant::dequantize(info.ggml_type, bytes, info.n_elements()).map_err(|e| match e {
            DequantError::Unsupported(_) => self.unsupported(info),
            other => GgufError::BadTensor {
                file: self.label.clone(),
                name: info.name.clone(),
                reason: other.to_string(),
            },
        })?;
        Ok((values, info.shape()))
    }
}

#[cfg(test)]
mod tests;
