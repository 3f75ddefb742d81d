//! Artifacts on disk: `.npy` arrays numpy reads and JSON files, written atomically (temporary file, then rename) so an
//! interrupted run never leaves a truncated array under the final name.

use std::io::BufWriter;
use std::path::Path;

use ndarray::{ArrayBase, Data, Dimension};
use ndarray_npy::{ReadNpyExt, WritableElement, WriteNpyExt};

use crate::error::{Error, Result};

/// Writes `arr` to `path` atomically.
pub fn write_npy<A, S, D>(path: &Path, arr: &ArrayBase<S, D>) -> Result<()>
where
    A: WritableElement,
    S: Data<Elem = A>,
    D: Dimension,
{
    write_atomic(path, |f| {
        let mut w = BufWriter::new(f);
        arr.write_npy(&mut w).map_err(|e| e.to_string())?;
        w.into_inner().map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Reads an `.npy` file of any supported element type and rank.
pub fn read_npy<T: ReadNpyExt>(path: &Path) -> Result<T> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    T::read_npy(f).map_err(|e| Error::Npy {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Writes a file atomically: `fill` writes a temporary file in the same directory, which is
/// synced and renamed over `path` only if `fill` succeeds.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    // tempfile creates 0600 files; artifacts get the usual 0644 like any file the user writes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(|e| Error::io(path, e))?;
    }
    fill(tmp.as_file_mut()).map_err(|msg| Error::Npy {
        path: path.to_path_buf(),
        msg,
    })?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes a JSON value atomically, pretty-printed.
pub fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<()> {
    write_atomic(path, |f| {
        use std::io::Write;
        serde_json::to_writer_pretty(&mut *f, v).map_err(|e| e.to_string())?;
        f.write_all(b"\n").map_err(|e| e.to_string())
    })
}

/// Writes text atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |f| {
        use std::io::Write;
        f.write_all(text.as_bytes()).map_err(|e| e.to_string())
    })
}

/// Writes one JSON object per line, atomically.
pub fn write_jsonl<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r).map_err(|e| Error::bad_file(path, e.to_string()))?);
        text.push('\n');
    }
    write_text(path, &text)
}

/// Reads a JSON file as `T`; a bad file is an error naming it.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::bad_file(path, e.to_string()))
}

/// serde helpers for numbers that may be NaN (an undefined AUROC, a rate over no items).
/// JSON has no NaN and serde_json writes it as `null`; these read `null` back as NaN, so a
/// results file round-trips: `#[serde(deserialize_with = "crate::artifact::nan::f64")]`.
pub mod nan {
    use serde::{Deserialize, Deserializer};

    /// A number, or NaN for `null`.
    pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }

    /// A list of numbers, NaN for each `null`.
    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        Ok(Vec::<Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect())
    }

    /// A map of numbers, NaN for each `null`.
    pub fn map<'de, D: Deserializer<'de>>(d: D) -> Result<std::collections::BTreeMap<String, f64>, D::Error> {
        Ok(std::collections::BTreeMap::<String, Option<f64>>::deserialize(d)?
            .into_iter()
            .map(|(k, x)| (k, x.unwrap_or(f64::NAN)))
            .collect())
    }

    /// A matrix of numbers, NaN for each `null`.
    pub fn matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
        Ok(Vec::<Vec<Option<f64>>>::deserialize(d)?
            .into_iter()
            .map(|r| r.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
            .collect())
    }
}

/// Reads a float32 vector (a 1-D `.npy`, or `[1, d]`), e.g. a steering vector.
pub fn read_vector(path: &Path) -> Result<Vec<f32>> {
    if let Ok(v) = read_npy::<ndarray::Array1<f32>>(path) {
        return Ok(v.to_vec());
    }
    match read_npy::<ndarray::Array2<f32>>(path) {
        Ok(a) if a.nrows() == 1 => Ok(a.into_raw_vec_and_offset().0),
        Ok(a) => Err(Error::Npy {
            path: path.to_path_buf(),
            msg: format!("expected a float32 vector, found shape {:?}", a.shape()),
        }),
        Err(_) => Err(Error::Npy {
            path: path.to_path_buf(),
            msg: "expected a 1-D float32 .npy array".into(),
        }),
    }
}

/// Element types of the `.npy` files mindlens writes itself (activation shards).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit float (`<f4`).
    F32,
    /// 16-bit IEEE float (`<f2`), half the disk space of f32.
    F16,
}

impl Dtype {
    /// The `.npy` type string.
    pub(crate) fn descr(self) -> &'static str {
        match self {
            Dtype::F32 => "<f4",
            Dtype::F16 => "<f2",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 => 2,
        }
    }

    /// Replaces `out` with `values` as little-endian bytes of this type.
    pub(crate) fn encode(self, values: &[f32], out: &mut Vec<u8>) {
        out.clear();
        out.reserve(values.len() * self.size());
        match self {
            Dtype::F32 => values.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Dtype::F16 => values
                .iter()
                .for_each(|x| out.extend_from_slice(&half::f16::from_f32(*x).to_le_bytes())),
        }
    }
}

/// The version-1.0 `.npy` header for a C-ordered array.
pub(crate) fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // Magic (6) + version (2) + length (2) + dict + '\n' must be a multiple of 64.
    let total = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - total % 64) % 64));
    dict.push('\n');
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

/// Writes a row-major `[rows, cols]` float matrix as `.npy` in `dtype`, atomically.
pub fn write_matrix(path: &Path, data: &[f32], rows: usize, cols: usize, dtype: Dtype) -> Result<()> {
    write_matrix_parts(path, [data], rows, cols, dtype)
}

/// [`write_matrix`] from consecutive pieces of the row-major data, so a caller that holds its
/// rows in separate buffers (a harvest shard) need not copy them into one first.
pub fn write_matrix_parts<'a>(
    path: &Path,
    parts: impl IntoIterator<Item = &'a [f32]>,
    rows: usize,
    cols: usize,
    dtype: Dtype,
) -> Result<()> {
    write_atomic(path, |f| {
        use std::io::Write;
        let mut w = BufWriter::new(f);
        w.write_all(&npy_header(dtype.descr(), &[rows, cols]))
            .map_err(|e| e.to_string())?;
        let (mut written, mut bytes) = (0usize, Vec::new());
        for part in parts {
            written += part.len();
            dtype.encode(part, &mut bytes);
            w.write_all(&bytes).map_err(|e| e.to_string())?;
        }
        if written != rows * cols {
            return Err(format!("{written} values for a [{rows}, {cols}] matrix"));
        }
        w.into_inner().map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Reads a 2-D float `.npy` (`<f4` or `<f2`) as f32.
pub fn read_matrix(path: &Path) -> Result<ndarray::Array2<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |msg: &str| Error::Npy {
        path: path.to_path_buf(),
        msg: msg.to_string(),
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version")),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or_else(|| bad("truncated header"))?)
        .map_err(|_| bad("header is not text"))?;
    let dtype = if header.contains("'<f4'") {
        Dtype::F32
    } else if header.contains("'<f2'") {
        Dtype::F16
    } else {
        return Err(bad("expected float32 or float16 data"));
    };
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran-ordered arrays are not supported"));
    }
    let shape_txt = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .map(|s| s.trim().trim_start_matches('('))
        .ok_or_else(|| bad("header has no shape"))?;
    let dims: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let [rows, cols] = dims[..] else {
        return Err(bad(&format!("expected a 2-D array, found shape {dims:?}")));
    };
    let body = &bytes[start + hlen..];
    if body.len() != rows * cols * dtype.size() {
        return Err(bad(&format!(
            "data has {} bytes, shape {rows}x{cols} needs {}",
            body.len(),
            rows * cols * dtype.size()
        )));
    }
    let ty = match dtype {
        Dtype::F32 => crate::gguf::GgmlType::F32,
        Dtype::F16 => crate::gguf::GgmlType::F16,
    };
    let data = crate::gguf::dequant::dequantize(ty, body, rows * cols).map_err(|e| bad(&e.to_string()))?;
    Ok(ndarray::Array2::from_shape_vec((rows, cols), data).expect("checked size"))
}
