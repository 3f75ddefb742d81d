//! `mindlens harvest`: a data set in, a sharded activation store out.

use std::path::PathBuf;

use clap::Args;

use super::{with_backend, ModelArgs};
use crate::artifact::Dtype;
use crate::error::Result;
use crate::harvest::{harvest, HarvestOptions, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;

#[derive(Args, Debug)]
pub(super) struct HarvestArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL data: `text`, `messages` or `tokens` per row, plus fields carried to the store.
    #[arg(long)]
    data: PathBuf,
    /// Comma-separated hook names or globs, e.g. 'blocks.*.hook_resid_post'.
    #[arg(long)]
    hooks: String,
    /// last | all | mean | span:FIELD | from:FIELD
    #[arg(long, default_value = "last")]
    positions: String,
    /// Output store directory.
    #[arg(long)]
    out: PathBuf,
    /// Largest padded batch, in tokens.
    #[arg(long, default_value_t = HarvestOptions::default().batch_tokens)]
    batch_tokens: usize,
    /// Element type on disk.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Size of one shard, in MiB (all hooks together).
    #[arg(long, default_value_t = 256.0)]
    shard_mib: f64,
    /// Shards whose rows are sorted by length together (less padding; a killed run loses at
    /// most one window of work).
    #[arg(long, default_value_t = HarvestOptions::default().window_shards)]
    window_shards: usize,
    /// Continue an interrupted harvest into the same store.
    #[arg(long)]
    resume: bool,
    /// Replace an existing store in OUT.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
}

pub(super) fn run(a: HarvestArgs) -> Result<()> {
    with_backend!(a.model.device, |B, dev| {
        let m = Model::<B>::load(&a.model.model, &dev)?;
        let opts = HarvestOptions {
            hooks: HookPoint::resolve(&a.hooks, m.config.n_layers)?,
            positions: a.positions.parse::<PositionSpec>()?,
            batch_tokens: a.batch_tokens.max(1),
            dtype: a.dtype,
            shard_bytes: ((a.shard_mib * 1048576.0) as usize).max(1),
            window_shards: a.window_shards.max(1),
            resume: a.resume,
            force: a.force,
            progress: true,
        };
        let s = harvest(&m, &a.data, &a.out, &opts)?;
        eprintln!(
            "harvested {} rows ({} in the store, {} shards): {} tokens ({:.1}% padding) in {:.1} s, {:.0} tokens/s, peak memory {:.0} MiB",
            s.rows,
            s.total_rows,
            s.shards,
            s.tokens,
            100.0 * s.padding_tokens as f64 / (s.tokens + s.padding_tokens).max(1) as f64,
            s.seconds,
            s.tokens_per_s,
            s.peak_rss_mib
        );
        println!("{}", serde_json::to_string(&s).expect("summary serialises"));
        Ok(())
    })
}
