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
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut std::fs::File) -> std::result::Result<(), String>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
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
