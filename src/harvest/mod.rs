//! Activation harvesting: a data set in, a sharded [`ActivationStore`] out.
//!
//! Rows are read in data order and cut into shards by a byte budget. A window of several
//! shards is computed at a time: its rows are sorted by length and packed into batches up to
//! a token budget, so padding stays small, and every requested hook is captured in the same
//! forward pass, which stops after the deepest requested block. Batches finish in length
//! order, not data order, so each shard's arrays are filled in place in partial files on
//! disk: memory holds one batch, never a shard, and does not grow with the window or the
//! data set. Once a window is computed, each of its shards is made final (fsync, rename),
//! then `rows.jsonl` is appended and the manifest updated, on a writer thread while the next
//! window is computed; a run killed at any moment resumes from the last recorded window.

pub mod parts;
pub mod rows;
pub mod slurm;
pub mod store;

/// Largest share of padding a batch may carry; a row that would push past it starts the next
/// batch (smaller batches cost far less than computing padding).
const MAX_PADDING: f64 = 0.15;

/// Key positions per batch token that a batch's attention scores may hold: a batch of `n`
/// rows padded to `s` tokens allocates `[n, heads, s, s]` scores (and softmax and mask
/// temporaries of that shape), which outgrow everything else once rows are long. Capping
/// `n * s * s` at `batch_tokens * ATTENTION_KEYS` leaves rows under 256 tokens to the token
/// budget and packs longer ones in fewer rows per batch. Measured on 40 corpus rows of ~620
/// tokens, with a budget of 4,096 tokens: peak RSS 1,301 MiB at the token budget alone (6 rows
/// per batch), 839 MiB at 1-2 rows per batch, at equal or better tokens/s.
const ATTENTION_KEYS: usize = 256;

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use serde_json::{Map, Value};

pub use parts::{merge, Part};
pub use rows::harvest_rows;
pub use store::{ActivationStore, ChunkOrder, DataRef, Shard, StoreManifest};

use crate::artifact::{npy_header, write_json, write_npy, Dtype};
use crate::error::{Error, Result};
use crate::hooks::{Hook, HookCtx, HookPoint};
use crate::model::{Model, PaddedBatch};
use crate::prompts::{PromptInput, PromptRow};
use crate::registry::sha256_file;

/// Which token positions of each row are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PositionSpec {
    /// The last token (one vector per row).
    Last,
    /// Every token (several vectors per row, with a token index).
    All,
    /// Every token but the first (BOS), whose outlier activation SAEs should not train on.
    AllButFirst,
    /// The mean over all tokens (one vector per row).
    Mean,
    /// The last token overlapping a character span named by a field: `[start, end]`
    /// character offsets, or a string whose last occurrence in the text is the span.
    Span(String),
    /// Every token from a character offset on, named by a field: an offset, or a string whose
    /// last occurrence marks the start (e.g. the response).
    From(String),
    /// The mean over the tokens `From` would keep (e.g. averaged over the response).
    MeanFrom(String),
}

impl FromStr for PositionSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "last" => PositionSpec::Last,
            "all" => PositionSpec::All,
            "all-but-first" => PositionSpec::AllButFirst,
            "mean" => PositionSpec::Mean,
            _ => match s.split_once(':') {
                Some(("span", f)) if !f.is_empty() => PositionSpec::Span(f.to_string()),
                Some(("from", f)) if !f.is_empty() => PositionSpec::From(f.to_string()),
                Some(("mean-from", f)) if !f.is_empty() => PositionSpec::MeanFrom(f.to_string()),
                _ => {
                    return Err(Error::Invalid(format!(
                        "unknown positions {s:?} (use last, all, all-but-first, mean, span:FIELD, from:FIELD or mean-from:FIELD)"
                    )))
                }
            },
        })
    }
}

impl std::fmt::Display for PositionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PositionSpec::Last => write!(f, "last"),
            PositionSpec::All => write!(f, "all"),
            PositionSpec::AllButFirst => write!(f, "all-but-first"),
            PositionSpec::Mean => write!(f, "mean"),
            PositionSpec::Span(x) => write!(f, "span:{x}"),
            PositionSpec::From(x) => write!(f, "from:{x}"),
            PositionSpec::MeanFrom(x) => write!(f, "mean-from:{x}"),
        }
    }
}

impl PositionSpec {
    /// Whether a row may give several vectors.
    pub fn multi_token(&self) -> bool {
        matches!(
            self,
            PositionSpec::All | PositionSpec::AllButFirst | PositionSpec::From(_)
        )
    }
}

/// Splits rows sorted by ascending token count into consecutive batches: each padded batch
/// holds at most `batch_tokens` tokens (a longer row goes alone), carries at most
/// [`MAX_PADDING`] padding and keeps its attention scores within [`ATTENTION_KEYS`].
fn length_batches(sorted_lengths: &[usize], batch_tokens: usize) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    while start < sorted_lengths.len() {
        let (mut end, mut real) = (start + 1, sorted_lengths[start]);
        while let Some(&len) = sorted_lengths.get(end) {
            // Sorted ascending, so `len` pads every earlier row up to it. A shard of
            // `all`-position rows holds only a few dozen rows, so the token budget alone
            // would pack rows of very different lengths together (half the batch padding).
            let padded = len * (end - start + 1);
            if padded > batch_tokens
                || padded * len > batch_tokens * ATTENTION_KEYS
                || (padded - real - len) as f64 > MAX_PADDING * padded as f64
            {
                break;
            }
            real += len;
            end += 1;
        }
        spans.push(start..end);
        start = end;
    }
    spans
}

/// Settings of [`harvest`].
#[derive(Clone, Debug)]
pub struct HarvestOptions {
    /// Hooks to capture.
    pub hooks: Vec<HookPoint>,
    /// Positions to keep.
    pub positions: PositionSpec,
    /// Largest padded batch, in tokens. Small batches run faster on the CPU (less padding,
    /// activations that stay in cache): 512 gave 371 tokens/s against 291 at 4,096 on the
    /// harvest bench (2 cores).
    pub batch_tokens: usize,
    /// Element type on disk.
    pub dtype: Dtype,
    /// Size of one shard (all hooks together), in bytes.
    pub shard_bytes: usize,
    /// Shards whose rows are sorted by length together. A wider window pads less (rows of
    /// nearly equal length meet) at no memory cost, since shards fill on disk; a killed run
    /// loses at most one window of work. On the 2,000-prompt bench at `all` positions (44
    /// rows per shard), padding is 5.5% of the tokens computed at 1 shard, 1.4% at 8.
    pub window_shards: usize,
    /// Harvest only this part of the data rows (see [`parts`]), into a part store.
    pub part: Option<Part>,
    /// Continue an interrupted harvest in the same store.
    pub resume: bool,
    /// Replace a non-empty store directory.
    pub force: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for HarvestOptions {
    fn default() -> Self {
        HarvestOptions {
            hooks: Vec::new(),
            positions: PositionSpec::Last,
            batch_tokens: 512,
            dtype: Dtype::F32,
            shard_bytes: 256 << 20,
            window_shards: 8,
            part: None,
            resume: false,
            force: false,
            progress: true,
        }
    }
}

/// What a harvest did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HarvestSummary {
    /// Rows harvested in this run.
    pub rows: usize,
    /// Rows in the store now.
    pub total_rows: usize,
    /// Tokens run through the model in this run.
    pub tokens: u64,
    /// Padding tokens computed in this run.
    pub padding_tokens: u64,
    /// Wall time of this run.
    pub seconds: f64,
    /// Tokens per second (excluding padding).
    pub tokens_per_s: f64,
    /// Peak resident memory of the process, in MiB (from /proc; 0 where unavailable).
    pub peak_rss_mib: f64,
    /// Shards in the store.
    pub shards: usize,
}

/// A tokenized row and the token positions it keeps.
struct Prepared {
    ids: Vec<u32>,
    keep: Vec<usize>,
    mean: bool,
    fields: Map<String, Value>,
}

/// Captures the kept positions of every requested hook, and stops the forward pass after
/// the deepest requested block.
struct HarvestHook<'a> {
    points: &'a [HookPoint],
    rows: &'a [&'a Prepared],
    /// Per hook, per batch row, the kept vectors (flattened).
    out: Vec<Vec<Vec<f32>>>,
    stop: Option<usize>,
}

impl<B: Backend> Hook<B> for HarvestHook<'_> {
    fn wants(&self, point: HookPoint) -> bool {
        self.points.contains(&point)
    }

    fn on(&mut self, point: HookPoint, x: Tensor<B, 3>, ctx: &HookCtx) -> Tensor<B, 3> {
        let hi = self.points.iter().position(|p| *p == point).expect("wanted point");
        let [b, s, w] = x.dims();
        let data: Vec<f32> = x.to_data().convert::<f32>().into_vec().expect("float tensor");
        for r in 0..b {
            let row = self.rows[r];
            let base = |pos: usize| (r * s + ctx.pad_left[r] + pos) * w;
            let dst = &mut self.out[hi][r];
            if row.mean {
                let mut acc = vec![0f32; w];
                for &p in &row.keep {
                    acc.iter_mut()
                        .zip(&data[base(p)..base(p) + w])
                        .for_each(|(a, x)| *a += x);
                }
                let n = row.keep.len() as f32;
                dst.extend(acc.iter().map(|a| a / n));
            } else {
                dst.reserve(row.keep.len() * w);
                for &p in &row.keep {
                    dst.extend_from_slice(&data[base(p)..base(p) + w]);
                }
            }
        }
        x
    }

    fn stop_after(&self) -> Option<usize> {
        self.stop
    }
}

/// Character offset of a field's value in `text`: an integer, or a string's last occurrence
/// (its start, or with `end` its end).
fn char_offset(text: &str, v: &Value, end: bool) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|x| x as usize),
        Value::String(s) if !s.is_empty() => text.rfind(s.as_str()).map(|b| {
            let b = if end { b + s.len() } else { b };
            text[..b].chars().count()
        }),
        _ => None,
    }
}

impl<B: Backend> Model<B> {
    /// Tokenizes a row and decides which positions it keeps.
    fn prepare(&self, row: PromptRow, positions: &PositionSpec) -> Result<Prepared> {
        let at = |msg: String| Error::Invalid(format!("data line {}: {msg}", row.line));
        let (ids, keep) = match positions {
            PositionSpec::Last | PositionSpec::All | PositionSpec::AllButFirst | PositionSpec::Mean => {
                let ids = self.encode(&row.input).map_err(|e| at(e.to_string()))?;
                let keep = match positions {
                    PositionSpec::Last => vec![ids.len() - 1],
                    PositionSpec::AllButFirst => (1..ids.len()).collect(),
                    _ => (0..ids.len()).collect(),
                };
                (ids, keep)
            }
            PositionSpec::Span(field) | PositionSpec::From(field) | PositionSpec::MeanFrom(field) => {
                let text = match &row.input {
                    PromptInput::Text(t) | PromptInput::Raw(t) => t.clone(),
                    PromptInput::Messages(m) => self.render_chat(m).map_err(|e| at(e.to_string()))?,
                    PromptInput::Tokens(_) => {
                        return Err(at(format!("positions {positions} need text or messages rows")))
                    }
                };
                let add_special = matches!(row.input, PromptInput::Text(_));
                let (ids, offsets) = encode_with_offsets(&self.tokenizer, &text, add_special).map_err(at)?;
                self.check_window(ids.len()).map_err(|e| at(e.to_string()))?;
                let v = row.fields.get(field).ok_or_else(|| at(format!("no field {field:?}")))?;
                let keep: Vec<usize> = if let PositionSpec::Span(_) = positions {
                    let (start, end) = match v {
                        Value::Array(a) if a.len() == 2 => {
                            (a[0].as_u64().map(|x| x as usize), a[1].as_u64().map(|x| x as usize))
                        }
                        _ => (char_offset(&text, v, false), char_offset(&text, v, true)),
                    };
                    let (Some(start), Some(end)) = (start, end) else {
                        return Err(at(format!(
                            "field {field:?} must be [start, end] character offsets or a string found in the text"
                        )));
                    };
                    let last = offsets.iter().rposition(|&(a, b)| b > a && a < end && b > start);
                    vec![last.ok_or_else(|| at(format!("no token overlaps characters {start}..{end}")))?]
                } else {
                    let from = char_offset(&text, v, false).ok_or_else(|| {
                        at(format!(
                            "field {field:?} must be a character offset or a string found in the text"
                        ))
                    })?;
                    let keep: Vec<usize> = (0..ids.len())
                        .filter(|&i| offsets[i].0 >= from && offsets[i].1 > offsets[i].0)
                        .collect();
                    if keep.is_empty() {
                        return Err(at(format!("no token starts at or after character {from}")));
                    }
                    keep
                };
                (ids, keep)
            }
        };
        Ok(Prepared {
            ids,
            keep,
            mean: matches!(positions, PositionSpec::Mean | PositionSpec::MeanFrom(_)),
            fields: row.fields,
        })
    }
}

/// Token ids and their character offsets.
type Offsets = (Vec<u32>, Vec<(usize, usize)>);

/// Token ids and character offsets of `text`, with BOS (offsets `(0, 0)`) where the model's
/// rule adds it, consistent with [`crate::tokenizer::Tokenizer::encode`].
fn encode_with_offsets(
    tok: &crate::tokenizer::Tokenizer,
    text: &str,
    add_special: bool,
) -> std::result::Result<Offsets, String> {
    let enc = tok
        .inner()
        .encode_char_offsets(text, false)
        .map_err(|e| format!("tokenizing: {e}"))?;
    let (mut ids, mut offsets) = (Vec::new(), Vec::new());
    if add_special && tok.add_bos {
        if let Some(b) = tok.bos_id {
            ids.push(b);
            offsets.push((0, 0));
        }
    }
    ids.extend_from_slice(enc.get_ids());
    offsets.extend_from_slice(enc.get_offsets());
    Ok((ids, offsets))
}

/// Peak resident set size of this process in MiB (Linux), 0 elsewhere.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// One shard of a window: its rows, and its arrays, which fill in place on disk as the
/// window's batches finish (in length order, not data order).
struct OpenShard {
    /// The rows, in data order.
    chunk: Vec<Prepared>,
    /// Data index of the first row.
    first_row: usize,
    /// Index of the shard in the store.
    index: usize,
    /// Per row, the index of its first vector in the shard.
    starts: Vec<usize>,
    /// Vectors in the shard.
    vectors: usize,
    /// Per hook, the partial array being filled.
    arrays: Vec<PartialNpy>,
}

/// A `[vectors, width]` `.npy` file sized up front and filled row by row, under a
/// `.partial` name until [`PartialNpy::finish`] makes it final.
struct PartialNpy {
    file: std::fs::File,
    partial: PathBuf,
    path: PathBuf,
    /// Bytes before the data.
    header: u64,
    /// Bytes per vector.
    row_bytes: u64,
}

/// Suffix of shard arrays still being filled; stale ones (from a killed run) are removed
/// when a harvest starts.
const PARTIAL: &str = "partial";

impl PartialNpy {
    fn create(path: PathBuf, vectors: usize, width: usize, dtype: Dtype) -> Result<Self> {
        let partial = path.with_extension(format!("npy.{PARTIAL}"));
        let header = npy_header(dtype.descr(), &[vectors, width]);
        let row_bytes = (width * dtype.size()) as u64;
        let mut file = std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        file.write_all(&header)
            .and_then(|_| file.set_len(header.len() as u64 + vectors as u64 * row_bytes))
            .map_err(|e| Error::io(&partial, e))?;
        Ok(PartialNpy {
            file,
            partial,
            path,
            header: header.len() as u64,
            row_bytes,
        })
    }

    /// Writes encoded vectors starting at vector `at`.
    fn write_at(&self, at: usize, bytes: &[u8]) -> Result<()> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(self.header + at as u64 * self.row_bytes))
            .and_then(|_| f.write_all(bytes))
            .map_err(|e| Error::io(&self.partial, e))
    }

    /// Flushes the array to disk and gives it its final name.
    fn finish(self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(&self.partial, e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}

impl OpenShard {
    /// Creates the shard's partial arrays, one per hook.
    fn create(
        out: &Path,
        opts: &HarvestOptions,
        widths: &[usize],
        index: usize,
        first_row: usize,
        chunk: Vec<Prepared>,
    ) -> Result<Self> {
        let mut starts = Vec::with_capacity(chunk.len());
        let mut vectors = 0;
        for p in &chunk {
            starts.push(vectors);
            vectors += if p.mean { 1 } else { p.keep.len() };
        }
        let arrays = opts
            .hooks
            .iter()
            .zip(widths)
            .map(|(point, &width)| {
                let dir = out.join(store::hook_dir(&point.to_string()));
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                PartialNpy::create(dir.join(format!("shard-{index:05}.npy")), vectors, width, opts.dtype)
            })
            .collect::<Result<_>>()?;
        Ok(OpenShard {
            chunk,
            first_row,
            index,
            starts,
            vectors,
            arrays,
        })
    }
}

/// Removes partial shard arrays a killed run left in the store's hook folders.
fn remove_partials(out: &Path, hooks: &[HookPoint]) -> Result<()> {
    for point in hooks {
        let dir = out.join(store::hook_dir(&point.to_string()));
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let p = entry.map_err(|e| Error::io(&dir, e))?.path();
            if p.extension().is_some_and(|e| e == PARTIAL) {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
    }
    Ok(())
}

/// Writes shards into a store and records each one in `rows.jsonl` and the manifest.
struct ShardWriter<'a> {
    out: &'a Path,
    manifest: StoreManifest,
    manifest_path: &'a Path,
    rows_file: std::fs::File,
    rows_path: &'a Path,
}

impl ShardWriter<'_> {
    /// Makes a window's arrays final and appends its rows, then records all its shards in
    /// the manifest at once. A run killed in between resumes from the previous window, so a
    /// resumed harvest batches rows exactly as an uninterrupted one and stores the same bits.
    fn commit(&mut self, window: Vec<OpenShard>) -> Result<()> {
        for shard in window {
            let OpenShard {
                chunk,
                first_row,
                index,
                vectors,
                arrays,
                ..
            } = shard;
            let manifest = &mut self.manifest;
            assert_eq!(index, manifest.shards.len(), "shards are committed in order");
            for array in arrays {
                array.finish()?;
            }
            if manifest.multi_token {
                let dir = self.out.join("token_index");
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let mut idx = Vec::with_capacity(vectors * 2);
                for (k, p) in chunk.iter().enumerate() {
                    for &pos in &p.keep {
                        idx.extend([(first_row + k) as i64, pos as i64]);
                    }
                }
                let a = ndarray::Array2::from_shape_vec((vectors, 2), idx).expect("two columns");
                write_npy(&dir.join(format!("shard-{index:05}.npy")), &a)?;
            }
            let mut text = String::new();
            for p in &chunk {
                text.push_str(&serde_json::to_string(&p.fields).expect("JSON map"));
                text.push('\n');
            }
            let rows_path = self.rows_path;
            self.rows_file
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(rows_path, e))?;
            self.rows_file.sync_data().map_err(|e| Error::io(rows_path, e))?;
            let rows_jsonl_bytes = self.rows_file.metadata().map_err(|e| Error::io(rows_path, e))?.len();
            let rows = chunk.len();
            manifest.shards.push(Shard {
                index,
                rows: [first_row, first_row + rows],
                vectors,
                rows_jsonl_bytes,
            });
            manifest.rows += rows;
            manifest.vectors += vectors;
            manifest.tokens += chunk.iter().map(|p| p.ids.len() as u64).sum::<u64>();
        }
        write_json(self.manifest_path, &self.manifest)
    }
}

/// Harvests `opts.hooks` at `opts.positions` for every row of the JSONL file `data` into the
/// store `out`.
pub fn harvest<B: Backend>(model: &Model<B>, data: &Path, out: &Path, opts: &HarvestOptions) -> Result<HarvestSummary> {
    if opts.hooks.is_empty() {
        return Err(Error::Invalid("no hooks to harvest".into()));
    }
    if opts.hooks.iter().any(|p| matches!(p, HookPoint::AttnPattern(_))) {
        return Err(Error::Invalid(
            "attention patterns cannot be harvested into a store".into(),
        ));
    }
    let started = Instant::now();
    let data_ref = DataRef {
        path: data.display().to_string(),
        sha256: sha256_file(data)?,
        rows: count_rows(data)?,
    };
    let range = match opts.part {
        Some(part) => parts::part_rows(&row_lengths(model, data, &opts.positions)?, part),
        None => 0..data_ref.rows,
    };
    let widths: Vec<usize> = opts.hooks.iter().map(|p| model.config.hook_width(*p)).collect();
    let fresh = StoreManifest {
        format: "mindlens-activation-store".into(),
        version: 1,
        model: model.name.clone(),
        model_config: serde_json::to_value(&model.config).expect("config serialises"),
        hooks: opts.hooks.iter().map(ToString::to_string).collect(),
        widths: opts
            .hooks
            .iter()
            .map(ToString::to_string)
            .zip(widths.iter().copied())
            .collect(),
        positions: opts.positions.to_string(),
        dtype: opts.dtype,
        d_model: model.config.d_model,
        data: data_ref,
        rows: 0,
        vectors: 0,
        tokens: 0,
        multi_token: opts.positions.multi_token(),
        complete: false,
        shards: Vec::new(),
        part: opts.part.map(|part| parts::PartRange {
            part,
            rows: [range.start, range.end],
        }),
        merged_from: Vec::new(),
    };
    let manifest = open_or_create(out, fresh, opts)?;
    let manifest_path = out.join("manifest.json");
    let rows_path = out.join("rows.jsonl");
    let mut rows_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&rows_path)
        .map_err(|e| Error::io(&rows_path, e))?;
    // Lines appended after the last recorded shard belong to an unfinished shard: drop them.
    let committed = manifest.shards.last().map(|s| s.rows_jsonl_bytes).unwrap_or(0);
    rows_file.set_len(committed).map_err(|e| Error::io(&rows_path, e))?;
    rows_file
        .seek(std::io::SeekFrom::End(0))
        .map_err(|e| Error::io(&rows_path, e))?;

    let bar = crate::progress::bar("harvest rows", range.len() as u64, opts.progress);
    bar.set_position(manifest.rows as u64);

    let stop = opts
        .hooks
        .iter()
        .map(|p| p.layer().unwrap_or(usize::MAX))
        .max()
        .filter(|&l| l != usize::MAX);
    let stop = if opts.hooks.contains(&HookPoint::FinalNorm) {
        None
    } else {
        stop
    };
    let width_sum: usize = widths.iter().sum();
    let (mut run_rows, mut run_tokens, mut run_pad) = (0usize, 0u64, 0u64);

    // This run's rows: the part's (or all), less those already in the store.
    let first = range.start + manifest.rows;
    let mut lines = data_lines(data)?.skip(first).take(range.end.saturating_sub(first));
    let (mut next_row, mut next_shard) = (first, manifest.shards.len());
    remove_partials(out, &opts.hooks)?;
    let mut writer = ShardWriter {
        out,
        manifest,
        manifest_path: &manifest_path,
        rows_file,
        rows_path: &rows_path,
    };
    // Each window is committed on a thread of its own while the next one is computed, so its
    // disk time (the fsyncs of 30 files per shard) overlaps the forward passes. The channel
    // holds nothing: the loop waits until the writer is free, and shards, rows.jsonl and the
    // manifest advance strictly in order.
    let (to_writer, windows) = std::sync::mpsc::sync_channel::<Vec<OpenShard>>(0);
    let (written, computed) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<ShardWriter> {
            for window in windows {
                writer.commit(window)?;
            }
            Ok(writer)
        });
        let computed = (|| -> Result<()> {
            let mut bytes = Vec::new();
            loop {
                // Read one window of shards, each cut at the byte budget.
                let mut window: Vec<OpenShard> = Vec::new();
                while window.len() < opts.window_shards.max(1) {
                    let mut chunk: Vec<Prepared> = Vec::new();
                    let mut size = 0usize;
                    for (i, line) in lines.by_ref() {
                        let p = model.prepare(parse_line(data, i, line)?, &opts.positions)?;
                        let vectors = if p.mean { 1 } else { p.keep.len() };
                        size += vectors * width_sum * opts.dtype.size();
                        chunk.push(p);
                        if size >= opts.shard_bytes {
                            break;
                        }
                    }
                    if chunk.is_empty() {
                        break;
                    }
                    let rows = chunk.len();
                    window.push(OpenShard::create(out, opts, &widths, next_shard, next_row, chunk)?);
                    next_shard += 1;
                    next_row += rows;
                    run_rows += rows;
                }
                if window.is_empty() {
                    return Ok(());
                }
                // Length-bucketed batches over the whole window: sort by length, pack within
                // the budgets.
                let mut order: Vec<(usize, usize)> = window
                    .iter()
                    .enumerate()
                    .flat_map(|(s, shard)| (0..shard.chunk.len()).map(move |k| (s, k)))
                    .collect();
                order.sort_by_key(|&(s, k)| window[s].chunk[k].ids.len());
                let lengths: Vec<usize> = order.iter().map(|&(s, k)| window[s].chunk[k].ids.len()).collect();
                for span in length_batches(&lengths, opts.batch_tokens) {
                    let members = &order[span];
                    let rows: Vec<&Prepared> = members.iter().map(|&(s, k)| &window[s].chunk[k]).collect();
                    let seqs: Vec<Vec<u32>> = rows.iter().map(|r| r.ids.clone()).collect();
                    let batch = PaddedBatch::new(&seqs, model.pad_id());
                    let mut hook = HarvestHook {
                        points: &opts.hooks,
                        rows: &rows,
                        out: vec![vec![Vec::new(); rows.len()]; opts.hooks.len()],
                        stop,
                    };
                    model.forward(&batch.tokens, &batch.ctx(), None, &mut hook)?;
                    for (h, outs) in hook.out.iter().enumerate() {
                        for (&(s, k), v) in members.iter().zip(outs) {
                            let shard = &window[s];
                            opts.dtype.encode(v, &mut bytes);
                            shard.arrays[h].write_at(shard.starts[k], &bytes)?;
                        }
                    }
                    let real: usize = seqs.iter().map(Vec::len).sum();
                    run_tokens += real as u64;
                    run_pad += (batch.cols * seqs.len() - real) as u64;
                    bar.inc(members.len() as u64);
                    let secs = started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!("{:.0} tok/s", run_tokens as f64 / secs));
                }
                if to_writer.send(window).is_err() {
                    // The writer stopped on an error, which its join reports.
                    return Ok(());
                }
            }
        })();
        drop(to_writer);
        (writer.join().expect("the shard writer does not panic"), computed)
    });
    // A write error explains a stopped loop, so it comes first.
    let ShardWriter { mut manifest, .. } = written?;
    computed?;
    manifest.complete = true;
    write_json(&manifest_path, &manifest)?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(HarvestSummary {
        rows: run_rows,
        total_rows: manifest.rows,
        tokens: run_tokens,
        padding_tokens: run_pad,
        seconds,
        tokens_per_s: run_tokens as f64 / seconds.max(1e-9),
        peak_rss_mib: peak_rss_mib(),
        shards: manifest.shards.len(),
    })
}

/// The non-blank lines of a data file with their 0-based line numbers.
fn data_lines(data: &Path) -> Result<impl Iterator<Item = (usize, std::io::Result<String>)>> {
    let file = std::fs::File::open(data).map_err(|e| Error::io(data, e))?;
    Ok(BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty())))
}

/// Parses line `i` (0-based) of a data file, or errors naming the file and line.
fn parse_line(data: &Path, i: usize, line: std::io::Result<String>) -> Result<PromptRow> {
    let line = line.map_err(|e| Error::io(data, e))?;
    let what = || format!("{}:{}", data.display(), i + 1);
    let v: Value =
        serde_json::from_str(&line).map_err(|e| Error::Invalid(format!("{}: malformed JSON: {e}", what())))?;
    PromptRow::parse(v, i + 1, &what)
}

/// The tokens each data row runs through the model: what parts are balanced by.
fn row_lengths<B: Backend>(model: &Model<B>, data: &Path, positions: &PositionSpec) -> Result<Vec<usize>> {
    data_lines(data)?
        .map(|(i, line)| Ok(model.prepare(parse_line(data, i, line)?, positions)?.ids.len()))
        .collect()
}

fn count_rows(data: &Path) -> Result<usize> {
    let f = std::fs::File::open(data).map_err(|e| Error::io(data, e))?;
    let mut n = 0;
    for line in BufReader::new(f).lines() {
        if !line.map_err(|e| Error::io(data, e))?.trim().is_empty() {
            n += 1;
        }
    }
    if n == 0 {
        return Err(Error::bad_file(data, "no data rows"));
    }
    Ok(n)
}

/// Opens an existing store for `--resume` (after checking it was made with the same model,
/// hooks, positions, dtype and data) or prepares an empty directory.
fn open_or_create(out: &Path, fresh: StoreManifest, opts: &HarvestOptions) -> Result<StoreManifest> {
    let manifest_path = out.join("manifest.json");
    if opts.resume && manifest_path.exists() {
        let old = ActivationStore::open(out)?.manifest;
        let mismatch = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            Err(Error::Invalid(format!(
                "cannot resume {}: it was harvested with {what} {a:?}, this run has {b:?}",
                out.display()
            )))
        };
        if old.model_config != fresh.model_config || old.model != fresh.model {
            return mismatch("model", &old.model, &fresh.model);
        }
        if old.hooks != fresh.hooks {
            return mismatch("hooks", &old.hooks, &fresh.hooks);
        }
        if old.positions != fresh.positions {
            return mismatch("positions", &old.positions, &fresh.positions);
        }
        if old.dtype != fresh.dtype {
            return mismatch("dtype", &old.dtype, &fresh.dtype);
        }
        if old.data.sha256 != fresh.data.sha256 {
            return mismatch("data file (sha256)", &old.data.path, &fresh.data.path);
        }
        if old.part != fresh.part {
            return mismatch("part", &old.part, &fresh.part);
        }
        return Ok(old);
    }
    crate::cache::prepare_out_dir(out, opts.force || opts.resume)?;
    if opts.force {
        // Start clean, but remove only what a store consists of: never a user's other files.
        for entry in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
            let p = entry.map_err(|e| Error::io(out, e))?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let ours =
                matches!(name, "manifest.json" | "rows.jsonl" | "token_index") || name.parse::<HookPoint>().is_ok();
            if !ours {
                continue;
            }
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(|e| Error::io(&p, e))?;
        }
    }
    write_json(&manifest_path, &fresh)?;
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_batches_respect_every_budget_and_cover_all_rows() {
        // Short rows of similar length fill the token budget; long rows go two by two.
        let mut lengths: Vec<usize> = (0..200).map(|i| 20 + (i * 37) % 180).collect();
        lengths.extend([600, 610, 620, 630, 700, 5000]);
        lengths.sort_unstable();
        let spans = length_batches(&lengths, 4096);
        let mut next = 0;
        for span in &spans {
            assert_eq!(span.start, next, "batches must be consecutive");
            next = span.end;
            let rows = &lengths[span.clone()];
            let (n, s) = (rows.len(), *rows.last().unwrap());
            let real: usize = rows.iter().sum();
            if n > 1 {
                assert!(n * s <= 4096, "token budget broken by {rows:?}");
                assert!(
                    n * s * s <= 4096 * ATTENTION_KEYS,
                    "attention budget broken by {rows:?}"
                );
                assert!(
                    (n * s - real) as f64 <= MAX_PADDING * (n * s) as f64,
                    "padding {rows:?}"
                );
            }
        }
        assert_eq!(next, lengths.len());
        let long: Vec<usize> = spans
            .iter()
            .filter(|r| lengths[r.start] >= 600)
            .map(|r| r.len())
            .collect();
        assert_eq!(long, vec![2, 2, 1, 1], "long rows are packed by the attention budget");
        assert!(
            spans.iter().any(|r| r.len() >= 20),
            "short rows still fill the token budget"
        );
    }
}
