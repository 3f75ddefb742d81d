//! `mindlens cache`: run prompts through a model and save every requested hook's activations,
//! one `.npy` per prompt and hook, in a layout numpy reads without mindlens.
//!
//! ```text
//! DIR/manifest.json          {"model", "hooks", "prompts": [{"index", "tokens", "seq_len"}]}
//! DIR/p{index}/{hook}.npy    float32 [seq_len, d_model]   (attn.hook_z: [seq_len, n_heads, d_head])
//! DIR/p{index}/logits.npy    float32 [seq_len, vocab]     (with logits)
//! ```
//! The manifest is written last, so a directory with a manifest is complete.

use std::path::Path;

use burn::tensor::backend::Backend;
use ndarray::Array3;
use serde::Serialize;

use crate::artifact::{write_json, write_npy};
use crate::error::{Error, Result};
use crate::hooks::{HookPoint, HookSet};
use crate::model::{LogitsMode, Model};
use crate::prompts::PromptRow;

/// One prompt's entry in the manifest.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CachedPrompt {
    /// Row number in the prompt file (0-based).
    pub index: usize,
    /// The token ids the model read.
    pub tokens: Vec<u32>,
    /// Number of tokens.
    pub seq_len: usize,
}

/// `DIR/manifest.json`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct CacheManifest {
    /// The model's name or path.
    pub model: String,
    /// Hook names, one `.npy` per prompt each.
    pub hooks: Vec<String>,
    /// Whether `logits.npy` was written.
    pub logits: bool,
    /// The prompts.
    pub prompts: Vec<CachedPrompt>,
}

/// Refuses to write into a non-empty directory unless `force`; creates it otherwise.
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::Invalid(format!(
                "{} exists and is not a directory",
                out.display()
            )));
        }
        let non_empty = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?.next().is_some();
        if non_empty && !force {
            return Err(Error::Invalid(format!(
                "{} is not empty; pass --force to overwrite it",
                out.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))
}

/// Caches `hooks` (and optionally logits) for every row of `rows` into `out`.
pub fn cache_to_dir<B: Backend>(
    model: &Model<B>,
    rows: &[PromptRow],
    hooks: &[HookPoint],
    logits: bool,
    out: &Path,
    force: bool,
) -> Result<CacheManifest> {
    prepare_out_dir(out, force)?;
    let ids = rows
        .iter()
        .map(|r| {
            model
                .encode(&r.input)
                .map_err(|e| Error::Invalid(format!("prompt on line {}: {e}", r.line)))
        })
        .collect::<Result<Vec<_>>>()?;
    let bar = crate::progress::bar("caching prompts", rows.len() as u64, true);
    let cfg = &model.config;
    let mut prompts = Vec::with_capacity(rows.len());
    // One prompt per forward: every prompt keeps its own exact activations and memory stays
    // bounded by the longest prompt.
    for (index, toks) in ids.iter().enumerate() {
        let mut set = HookSet::capture(hooks.iter().copied());
        let mode = if logits { LogitsMode::All } else { LogitsMode::None };
        let lg = model.run(std::slice::from_ref(toks), &mut set, mode)?;
        let dir = out.join(format!("p{index}"));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        for &p in hooks {
            let path = dir.join(format!("{p}.npy"));
            match p {
                HookPoint::AttnPattern(l) => {
                    let pats = set.captured_pattern(l).expect("pattern was requested");
                    write_npy(&path, &pats[0])?;
                }
                HookPoint::AttnZ(_) => {
                    let a = set.captured(p).expect("hook was requested").row(0);
                    let s = a.nrows();
                    let z = Array3::from_shape_vec((s, cfg.n_heads, cfg.d_head), a.into_raw_vec_and_offset().0)
                        .expect("z has heads * d_head columns");
                    write_npy(&path, &z)?;
                }
                _ => write_npy(&path, &set.captured(p).expect("hook was requested").row(0))?,
            }
        }
        if logits {
            write_npy(&dir.join("logits.npy"), &lg[0])?;
        }
        prompts.push(CachedPrompt {
            index,
            tokens: toks.clone(),
            seq_len: toks.len(),
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let manifest = CacheManifest {
        model: model.name.clone(),
        hooks: hooks.iter().map(ToString::to_string).collect(),
        logits,
        prompts,
    };
    write_json(&out.join("manifest.json"), &manifest)?;
    Ok(manifest)
}
