//! The GGUF header parser.
//!
//! Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64
//! key/value count, the key/value pairs, the tensor infos, padding to the
//! alignment, then the tensor data. Nothing here trusts a count or length
//! from the file: each is checked against the bytes that remain before it is
//! used to read or to allocate.

use std::collections::HashSet;

use super::{GgmlType, GgufError, MetaValue, TensorInfo, DEFAULT_ALIGNMENT, KEY_ALIGNMENT};

/// `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Nested arrays deeper than this are rejected so that a crafted file cannot
/// exhaust the stack; real files nest at most once.
const MAX_ARRAY_DEPTH: usize = 8;

/// The header fields of a parsed file.
pub(super) struct Parsed {
    pub version: u32,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_offset: u64,
}

/// A bounds-checked little-endian reader over the whole file.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    label: &'a str,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn truncated(&self, what: &dyn Fn() -> String, needed: u64) -> GgufError {
        GgufError::Truncated {
            file: self.label.to_string(),
            what: what(),
            offset: self.pos as u64,
            needed,
            file_len: self.buf.len() as u64,
        }
    }

    /// Takes `n` bytes; `what` describes them for the error and is only
    /// evaluated on failure, keeping the hot path allocation-free.
    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => {
                let s = &self.buf[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(self.truncated(what, n)),
        }
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        // take returned exactly N bytes.
        Ok(s.try_into().unwrap_or_else(|_| unreachable!()))
    }

    fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, GgufError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, GgufError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A u64-length-prefixed string; invalid UTF-8 is replaced rather than
    /// rejected, because some converters wrote raw bytes into vocabularies.
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("length of {}", what()))?;
        let bytes = self.take(len, what)?;
        Ok(String::from_utf8_lossy(bytes).into_owned())
    }
}

/// Smallest encoded size of one value of GGUF type `ty`, used to bound array
/// preallocation by the bytes actually left in the file.
fn min_encoded_size(ty: u32) -> Option<usize> {
    Some(match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,  // u64 length
        9 => 12, // u32 type + u64 count
        10..=12 => 8,
        _ => return None,
    })
}

fn value_type_name(ty: u32) -> String {
    match ty {
        0 => "u8".into(),
        1 => "i8".into(),
        2 => "u16".into(),
        3 => "i16".into(),
        4 => "u32".into(),
        5 => "i32".into(),
        6 => "f32".into(),
        7 => "bool".into(),
        8 => "string".into(),
        9 => "array".into(),
        10 => "u64".into(),
        11 => "i64".into(),
        12 => "f64".into(),
        other => format!("unknown type {other}"),
    }
}

fn read_value(c: &mut Cursor<'_>, ty: u32, key: &str, depth: usize) -> Result<MetaValue, GgufError> {
    let what = || format!("value of metadata key '{key}'");
    Ok(match ty {
        0 => MetaValue::U8(c.u8(&what)?),
        1 => MetaValue::I8(c.u8(&what)? as i8),
        2 => MetaValue::U16(c.u16(&what)?),
        3 => MetaValue::I16(c.u16(&what)? as i16),
        4 => MetaValue::U32(c.u32(&what)?),
        5 => MetaValue::I32(c.u32(&what)? as i32),
        6 => MetaValue::F32(f32::from_bits(c.u32(&what)?)),
        7 => MetaValue::Bool(c.u8(&what)? != 0),
        8 => MetaValue::String(c.string(&what)?),
        9 => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(bad_meta(c, key, format!("arrays nested deeper than {MAX_ARRAY_DEPTH}")));
            }
            let what_ty = || format!("array element type of metadata key '{key}'");
            let elem_ty = c.u32(&what_ty)?;
            let Some(min_size) = min_encoded_size(elem_ty) else {
                return Err(bad_meta(c, key, format!("array of unknown value type {elem_ty}")));
            };
            let what_n = || format!("array length of metadata key '{key}'");
            let n = c.u64(&what_n)?;
            // Reject impossible counts before allocating anything.
            let needed = n.checked_mul(min_size as u64);
            if needed.is_none_or(|b| b > c.remaining() as u64) {
                return Err(c.truncated(
                    &|| format!("{n} {} elements of metadata key '{key}'", value_type_name(elem_ty)),
                    needed.unwrap_or(u64::MAX),
                ));
            }
            // n * min_size <= remaining, so n fits in usize.
            let mut items = Vec::with_capacity(n as usize);
            for _ in 0..n {
                items.push(read_value(c, elem_ty, key, depth + 1)?);
            }
            MetaValue::Array(items)
        }
        10 => MetaValue::U64(c.u64(&what)?),
        11 => MetaValue::I64(c.u64(&what)? as i64),
        12 => MetaValue::F64(f64::from_bits(c.u64(&what)?)),
        other => return Err(bad_meta(c, key, format!("unknown value type {other}"))),
    })
}

fn bad_meta(c: &Cursor<'_>, key: &str, reason: String) -> GgufError {
    GgufError::BadMetadata {
        file: c.label.to_string(),
        key: Some(key.to_string()),
        reason,
    }
}

pub(super) fn parse(buf: &[u8], label: &str) -> Result<Parsed, GgufError> {
    let mut c = Cursor { buf, pos: 0, label };

    let magic: [u8; 4] = c.array(&|| "magic".into())?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic {
            file: label.to_string(),
            found: magic,
        });
    }
    let version = c.u32(&|| "version".into())?;
    match version {
        2 | 3 => {}
        v => {
            let hint = if v == 1 {
                " (version 1 used 32-bit counts and is obsolete; re-convert the model)"
            } else if v.swap_bytes() <= 3 {
                " (this looks like a big-endian GGUF file; only little-endian files are supported)"
            } else {
                ""
            };
            return Err(GgufError::UnsupportedVersion {
                file: label.to_string(),
                version: v,
                hint,
            });
        }
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;

    // Each key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes.
    let cap = (n_kv.min(c.remaining() as u64 / 13)) as usize;
    let mut metadata = Vec::with_capacity(cap);
    let mut seen = HashSet::with_capacity(cap);
    for i in 0..n_kv {
        let key = c.string(&|| format!("key of metadata entry #{i}"))?;
        let ty = c.u32(&|| format!("value type of metadata key '{key}'"))?;
        let value = read_value(&mut c, ty, &key, 0)?;
        if !seen.insert(key.clone()) {
            return Err(bad_meta(&c, &key, "duplicate key".into()));
        }
        metadata.push((key, value));
    }

    let alignment = match metadata.iter().find(|(k, _)| k == KEY_ALIGNMENT) {
        None => DEFAULT_ALIGNMENT,
        Some((_, v)) => match v.as_int().and_then(|a| u64::try_from(a).ok()) {
            Some(a) if a.is_power_of_two() && a <= u32::MAX as u64 => a,
            _ => {
                return Err(bad_meta(
                    &c,
                    KEY_ALIGNMENT,
                    format!("must be a power-of-two integer, found {} {v}", v.type_name()),
                ))
            }
        },
    };

    // Each tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset).
    let cap = (n_tensors.min(c.remaining() as u64 / 24)) as usize;
    let mut tensors = Vec::with_capacity(cap);
    let mut names = HashSet::with_capacity(cap);
    for i in 0..n_tensors {
        let name = c.string(&|| format!("name of tensor #{i}"))?;
        let bad = |reason: String| GgufError::BadTensor {
            file: label.to_string(),
            name: name.clone(),
            reason,
        };
        let n_dims = c.u32(&|| format!("dimension count of tensor '{name}'"))?;
        if n_dims > MAX_DIMS {
            return Err(bad(format!("{n_dims} dimensions (at most {MAX_DIMS} allowed)")));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(c.u64(&|| format!("dimensions of tensor '{name}'"))?);
        }
        let ggml_type = GgmlType::from_id(c.u32(&|| format!("type of tensor '{name}'"))?);
        let offset = c.u64(&|| format!("data offset of tensor '{name}'"))?;

        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64 && usize::try_from(n).is_ok())
            .ok_or_else(|| bad(format!("element count of dimensions {dims:?} overflows")))?;
        if offset % alignment != 0 {
            return Err(bad(format!(
                "data offset {offset} is not a multiple of the alignment {alignment}"
            )));
        }
        let n_bytes = match (ggml_type.block_size(), ggml_type.type_size()) {
            (Some(block), Some(size)) => {
                // ggml lays blocks out along rows, so each row must hold whole blocks.
                let row = dims.first().copied().unwrap_or(1);
                if row % block as u64 != 0 {
                    return Err(bad(format!(
                        "row length {row} is not a multiple of the {ggml_type} block size {block}"
                    )));
                }
                let n_bytes = (n_elements / block as u64)
                    .checked_mul(size as u64)
                    .ok_or_else(|| bad("data size overflows".into()))?;
                Some(n_bytes)
            }
            _ => None,
        };
        if !names.insert(name.clone()) {
            return Err(bad("duplicate tensor name".into()));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            n_elements,
            n_bytes,
        });
    }

    let data_offset = (c.pos as u64)
        .checked_next_multiple_of(alignment)
        .ok_or_else(|| bad_meta(&c, KEY_ALIGNMENT, "data section offset overflows".into()))?;
    let file_len = buf.len() as u64;
    for t in &tensors {
        let Some(n_bytes) = t.n_bytes else { continue };
        let start = data_offset.checked_add(t.offset);
        let end = start.and_then(|s| s.checked_add(n_bytes));
        match (start, end) {
            (Some(_), Some(end)) if end <= file_len => {}
            _ => {
                return Err(GgufError::BadTensor {
                    file: label.to_string(),
                    name: t.name.clone(),
                    reason: format!(
                        "data ({n_bytes} bytes at offset {} past the data start {data_offset}) extends beyond the end of the file ({file_len} bytes)",
                        t.offset
                    ),
                })
            }
        }
    }

    Ok(Parsed {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}
