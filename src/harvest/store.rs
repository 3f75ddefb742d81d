//! The activation store: what `mindlens harvest` writes and what probes, SAEs and steering
//! read. Plain files numpy can read without mindlens:
//!
//! ```text
//! STORE/manifest.json                 model, hooks, positions, dtype, d_model, rows, shards, data hash
//! STORE/rows.jsonl                    the carried fields of each data row, in data order
//! STORE/{hook}/shard-NNNNN.npy        [vectors, width] float32 or float16
//! STORE/token_index/shard-NNNNN.npy   [vectors, 2] int64 (row, token position), for multi-token positions
//! ```
//! With one vector per row (`last`, `mean`, `span:`), vector `i` belongs to row `i`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::{s, Array2, Axis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::artifact::{read_matrix, read_npy, Dtype};
use crate::error::{Error, Result};
use crate::generate::SplitMix64;
use crate::hooks::HookPoint;

/// One completed shard: rows `rows[0]..rows[1]` of the data file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Shard {
    /// Shard number (file `shard-{index:05}.npy`).
    pub index: usize,
    /// Data rows covered, `[start, end)`.
    pub rows: [usize; 2],
    /// Vectors stored (rows for one-vector positions, tokens otherwise).
    pub vectors: usize,
    /// Length of `rows.jsonl` once this shard's rows were appended (resume truncates to it).
    pub rows_jsonl_bytes: u64,
}

/// `STORE/manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreManifest {
    /// Always `mindlens-activation-store`.
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// Model name as given.
    pub model: String,
    /// Architecture, layers and widths of the model, to refuse mixing models.
    pub model_config: Value,
    /// Hook names, one directory each.
    pub hooks: Vec<String>,
    /// Width of each hook's vectors.
    pub widths: BTreeMap<String, usize>,
    /// Position rule, as given (`last`, `all`, `mean`, `span:FIELD`, `from:FIELD`).
    pub positions: String,
    /// Element type of the shards.
    pub dtype: Dtype,
    /// Residual width of the model.
    pub d_model: usize,
    /// The data file and its sha256.
    pub data: DataRef,
    /// Rows harvested so far.
    pub rows: usize,
    /// Vectors stored so far (per hook).
    pub vectors: usize,
    /// Tokens run through the model so far.
    pub tokens: u64,
    /// Whether several vectors per row are stored (then `token_index/` exists).
    pub multi_token: bool,
    /// Whether the whole data file has been harvested.
    pub complete: bool,
    /// Completed shards, in data order.
    pub shards: Vec<Shard>,
    /// For a part store (`harvest --part I/N`): which part, and its rows of the data file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<super::parts::PartRange>,
    /// For a merged store (`harvest merge`): the parts it was joined from, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<super::parts::MergedPart>,
}

/// The data file a store was harvested from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataRef {
    /// Path as given.
    pub path: String,
    /// sha256 of its bytes.
    pub sha256: String,
    /// Number of data rows.
    pub rows: usize,
}

/// Order in which [`ActivationStore::chunks`] yields vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkOrder {
    /// Data order.
    Sequential,
    /// Shards in a random order, vectors shuffled within a buffer of a few shards; the seed
    /// makes it reproducible.
    Shuffled {
        /// Seed of the shuffle.
        seed: u64,
    },
}

/// An activation store opened for reading.
#[derive(Clone, Debug)]
pub struct ActivationStore {
    dir: PathBuf,
    /// The manifest.
    pub manifest: StoreManifest,
}

/// Directory name of a hook inside a store (hook names are already file-safe).
pub fn hook_dir(point: &str) -> String {
    point.to_string()
}

impl ActivationStore {
    /// Opens a store and checks its manifest.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let manifest: StoreManifest =
            serde_json::from_str(&text).map_err(|e| Error::bad_file(&path, format!("not a store manifest: {e}")))?;
        if manifest.format != "mindlens-activation-store" {
            return Err(Error::bad_file(&path, format!("unknown format {:?}", manifest.format)));
        }
        Ok(ActivationStore {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Writes activations computed elsewhere (`[vectors, width]`, one row each) as a
    /// complete store of one hook, in shards of `shard_rows`: the way to bring external or
    /// synthetic activations to the probe and SAE code. Refuses an existing directory.
    pub fn from_array(dir: &Path, model: &str, point: HookPoint, x: &Array2<f32>, shard_rows: usize) -> Result<Self> {
        if dir.exists() {
            return Err(Error::Invalid(format!("{} already exists", dir.display())));
        }
        let hook = point.to_string();
        let hook_path = dir.join(hook_dir(&hook));
        std::fs::create_dir_all(&hook_path).map_err(|e| Error::io(&hook_path, e))?;
        let rows = x.nrows();
        let rows_text: String = (0..rows).map(|i| format!("{{\"index\":{i}}}\n")).collect();
        crate::artifact::write_atomic(&dir.join("rows.jsonl"), |f| {
            std::io::Write::write_all(f, rows_text.as_bytes()).map_err(|e| e.to_string())
        })?;
        let mut shards = Vec::new();
        for (index, start) in (0..rows).step_by(shard_rows.max(1)).enumerate() {
            let end = (start + shard_rows.max(1)).min(rows);
            crate::artifact::write_npy(
                &hook_path.join(format!("shard-{index:05}.npy")),
                &x.slice(s![start..end, ..]),
            )?;
            shards.push(Shard {
                index,
                rows: [start, end],
                vectors: end - start,
                rows_jsonl_bytes: rows_text.lines().take(end).map(|l| l.len() as u64 + 1).sum(),
            });
        }
        let manifest = StoreManifest {
            format: "mindlens-activation-store".into(),
            version: 1,
            model: model.to_string(),
            model_config: Value::Null,
            hooks: vec![hook.clone()],
            widths: BTreeMap::from([(hook, x.ncols())]),
            positions: "last".into(),
            dtype: Dtype::F32,
            d_model: x.ncols(),
            data: DataRef {
                path: String::new(),
                sha256: format!("array:{rows}x{}", x.ncols()),
                rows,
            },
            rows,
            vectors: rows,
            tokens: rows as u64,
            multi_token: false,
            complete: true,
            shards,
            part: None,
            merged_from: Vec::new(),
        };
        crate::artifact::write_json(&dir.join("manifest.json"), &manifest)?;
        Self::open(dir)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Hook points stored, in forward order.
    pub fn hooks(&self) -> Result<Vec<HookPoint>> {
        self.manifest.hooks.iter().map(|h| h.parse()).collect()
    }

    /// Stored hooks matching a glob such as `blocks.*.hook_resid_post`, in forward order.
    pub fn hooks_matching(&self, pattern: &str) -> Result<Vec<HookPoint>> {
        let found: Vec<HookPoint> = self
            .hooks()?
            .into_iter()
            .filter(|p| {
                pattern
                    .split(',')
                    .any(|g| crate::hooks::glob_match(g.trim(), &p.to_string()))
            })
            .collect();
        if found.is_empty() {
            return Err(Error::Hook {
                name: pattern.to_string(),
                msg: format!("matches none of the store's hooks ({})", self.manifest.hooks.join(", ")),
            });
        }
        Ok(found)
    }

    fn check_hook(&self, point: HookPoint) -> Result<String> {
        let name = point.to_string();
        if !self.manifest.hooks.contains(&name) {
            return Err(Error::Hook {
                name,
                msg: format!(
                    "not in store {} (has {})",
                    self.dir.display(),
                    self.manifest.hooks.join(", ")
                ),
            });
        }
        Ok(name)
    }

    fn shard_path(&self, hook: &str, index: usize) -> PathBuf {
        self.dir.join(hook_dir(hook)).join(format!("shard-{index:05}.npy"))
    }

    /// One shard of a hook as `[vectors, width]` f32.
    pub fn load_shard(&self, point: HookPoint, shard: &Shard) -> Result<Array2<f32>> {
        let name = self.check_hook(point)?;
        let a = read_matrix(&self.shard_path(&name, shard.index))?;
        if a.nrows() != shard.vectors {
            return Err(Error::bad_file(
                self.shard_path(&name, shard.index),
                format!("has {} vectors, the manifest says {}", a.nrows(), shard.vectors),
            ));
        }
        Ok(a)
    }

    /// Every vector of a hook, `[vectors, width]`, in data order.
    pub fn load(&self, point: HookPoint) -> Result<Array2<f32>> {
        let width = self
            .manifest
            .widths
            .get(&self.check_hook(point)?)
            .copied()
            .unwrap_or(self.manifest.d_model);
        let mut out = Array2::<f32>::zeros((self.manifest.vectors, width));
        let mut at = 0;
        for sh in &self.manifest.shards {
            let a = self.load_shard(point, sh)?;
            out.slice_mut(s![at..at + a.nrows(), ..]).assign(&a);
            at += a.nrows();
        }
        Ok(out)
    }

    /// `(row, token position)` of every vector, for multi-token stores; `None` otherwise.
    pub fn token_index(&self) -> Result<Option<Array2<i64>>> {
        if !self.manifest.multi_token {
            return Ok(None);
        }
        let mut parts = Vec::new();
        for sh in &self.manifest.shards {
            let p = self.dir.join("token_index").join(format!("shard-{:05}.npy", sh.index));
            parts.push(read_npy::<Array2<i64>>(&p)?);
        }
        let views: Vec<_> = parts.iter().map(|a| a.view()).collect();
        Ok(Some(
            ndarray::concatenate(Axis(0), &views).map_err(|e| Error::Invalid(e.to_string()))?,
        ))
    }

    /// The carried fields of every row, in data order.
    pub fn rows(&self) -> Result<Vec<Map<String, Value>>> {
        let path = self.dir.join("rows.jsonl");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        text.lines()
            .enumerate()
            .map(|(i, l)| match serde_json::from_str(l) {
                Ok(Value::Object(m)) => Ok(m),
                _ => Err(Error::Invalid(format!(
                    "{}:{}: not a JSON object",
                    path.display(),
                    i + 1
                ))),
            })
            .collect()
    }

    /// Streams a hook's vectors in chunks of at most `chunk` rows, holding at most a few
    /// shards in memory. Shuffled order permutes shards and vectors inside a buffer of up to
    /// four shards (a shuffling buffer for SAE training).
    pub fn chunks(&self, point: HookPoint, chunk: usize, order: ChunkOrder) -> Result<Chunks<'_>> {
        self.check_hook(point)?;
        let mut shard_order: Vec<usize> = (0..self.manifest.shards.len()).collect();
        let rng = match order {
            ChunkOrder::Shuffled { seed } => {
                let mut rng = SplitMix64::new(seed);
                shuffle(&mut shard_order, &mut rng);
                Some(rng)
            }
            ChunkOrder::Sequential => None,
        };
        Ok(Chunks {
            store: self,
            point,
            chunk: chunk.max(1),
            shard_order,
            next_shard: 0,
            buffer: None,
            pos: 0,
            rng,
        })
    }
}

/// Fisher-Yates shuffle with the crate's seeded generator.
pub fn shuffle<T>(v: &mut [T], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Iterator over chunks of a hook's vectors; see [`ActivationStore::chunks`].
pub struct Chunks<'a> {
    store: &'a ActivationStore,
    point: HookPoint,
    chunk: usize,
    shard_order: Vec<usize>,
    next_shard: usize,
    buffer: Option<Array2<f32>>,
    pos: usize,
    rng: Option<SplitMix64>,
}

impl Chunks<'_> {
    fn refill(&mut self) -> Result<bool> {
        if self.next_shard >= self.shard_order.len() {
            return Ok(false);
        }
        // The spent buffer goes first, and the new one is filled row by row in its final
        // order: concatenating and then permuting, beside the old buffer, held four copies
        // of four shards at the peak (4.9 GB for 576-wide SmolLM2 vectors).
        self.buffer = None;
        let take = if self.rng.is_some() { 4 } else { 1 };
        let mut parts = Vec::new();
        while parts.len() < take && self.next_shard < self.shard_order.len() {
            let sh = &self.store.manifest.shards[self.shard_order[self.next_shard]];
            let part = self.store.load_shard(self.point, sh)?;
            if parts.first().is_some_and(|a: &Array2<f32>| a.ncols() != part.ncols()) {
                return Err(Error::Invalid(format!(
                    "{}: the shards of {} differ in width ({} and {})",
                    self.store.dir().display(),
                    self.point,
                    parts[0].ncols(),
                    part.ncols()
                )));
            }
            parts.push(part);
            self.next_shard += 1;
        }
        // (part, row) of each vector in concatenated order, permuted when shuffling.
        let mut order: Vec<(usize, usize)> = parts
            .iter()
            .enumerate()
            .flat_map(|(p, a)| (0..a.nrows()).map(move |r| (p, r)))
            .collect();
        if let Some(rng) = self.rng.as_mut() {
            shuffle(&mut order, rng);
        }
        let mut buf = Array2::<f32>::zeros((order.len(), parts[0].ncols()));
        for (mut row, &(p, r)) in buf.rows_mut().into_iter().zip(&order) {
            row.assign(&parts[p].row(r));
        }
        self.buffer = Some(buf);
        self.pos = 0;
        Ok(true)
    }
}

impl Iterator for Chunks<'_> {
    type Item = Result<Array2<f32>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(buf) = &self.buffer {
                if self.pos < buf.nrows() {
                    let end = (self.pos + self.chunk).min(buf.nrows());
                    let out = buf.slice(s![self.pos..end, ..]).to_owned();
                    self.pos = end;
                    return Some(Ok(out));
                }
            }
            match self.refill() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
