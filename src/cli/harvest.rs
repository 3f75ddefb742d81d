//! `mindlens harvest`: a data set in, a sharded activation store out; `harvest merge` joins
//! the part stores of `harvest --part I/N` runs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{with_backend, ModelArgs};
use crate::artifact::Dtype;
use crate::error::{Error, Result};
use crate::harvest::slurm::absolute;
use crate::harvest::{harvest, merge, HarvestOptions, Part, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;

/// What to harvest and how: shared by `harvest` and `slurm harvest`.
#[derive(Args, Debug)]
pub(super) struct HarvestSpec {
    #[command(flatten)]
    model: ModelArgs,
    /// JSONL data: `text`, `messages` or `tokens` per row, plus fields carried to the store.
    #[arg(long, required = true)]
    data: Option<PathBuf>,
    /// Comma-separated hook names or globs, e.g. 'blocks.*.hook_resid_post'.
    #[arg(long, required = true)]
    hooks: Option<String>,
    /// last | all | mean | span:FIELD | from:FIELD
    #[arg(long, default_value = "last")]
    positions: String,
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
}

impl HarvestSpec {
    fn data(&self) -> Result<&PathBuf> {
        self.data
            .as_ref()
            .ok_or_else(|| Error::Invalid("harvest needs --data".into()))
    }

    fn hooks(&self) -> Result<&str> {
        self.hooks
            .as_deref()
            .ok_or_else(|| Error::Invalid("harvest needs --hooks".into()))
    }

    /// The same settings as `mindlens harvest` arguments, with absolute paths, for jobs that
    /// start in another directory.
    pub(super) fn to_args(&self) -> Result<Vec<String>> {
        let model = match std::path::Path::new(&self.model.model) {
            p if p.exists() => absolute(p)?.display().to_string(),
            _ => self.model.model.clone(),
        };
        let device = clap::ValueEnum::to_possible_value(&self.model.device).expect("named device");
        let dtype = clap::ValueEnum::to_possible_value(&self.dtype).expect("named dtype");
        Ok([
            ("--model", model),
            ("--device", device.get_name().to_string()),
            ("--data", absolute(self.data()?)?.display().to_string()),
            ("--hooks", self.hooks()?.to_string()),
            ("--positions", self.positions.clone()),
            ("--batch-tokens", self.batch_tokens.to_string()),
            ("--dtype", dtype.get_name().to_string()),
            ("--shard-mib", self.shard_mib.to_string()),
            ("--window-shards", self.window_shards.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect())
    }
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(super) struct HarvestArgs {
    #[command(subcommand)]
    action: Option<HarvestAction>,
    #[command(flatten)]
    spec: HarvestSpec,
    /// Output store directory.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Harvest part I of N (0-based, e.g. $SLURM_ARRAY_TASK_ID/4): a contiguous slice of the
    /// rows with about 1/N of the tokens, into a part store for `harvest merge`.
    #[arg(long)]
    part: Option<Part>,
    /// Continue an interrupted harvest into the same store.
    #[arg(long)]
    resume: bool,
    /// Replace an existing store in OUT.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
}

#[derive(Subcommand, Debug)]
enum HarvestAction {
    /// Join the part stores of `harvest --part I/N` runs into one store.
    Merge {
        /// The part stores, in any order.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Output store directory.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing store in OUT.
        #[arg(long)]
        force: bool,
    },
}

pub(super) fn run(a: HarvestArgs) -> Result<()> {
    if let Some(HarvestAction::Merge { parts, out, force }) = a.action {
        let m = merge(&parts, &out, force)?;
        eprintln!(
            "merged {} parts into {}: {} rows, {} vectors, {} shards",
            m.merged_from.len(),
            out.display(),
            m.rows,
            m.vectors,
            m.shards.len()
        );
        return Ok(());
    }
    let out = a.out.ok_or_else(|| Error::Invalid("harvest needs --out".into()))?;
    let spec = a.spec;
    with_backend!(spec.model.device, |B, dev| {
        let m = Model::<B>::load(&spec.model.model, &dev)?;
        let opts = HarvestOptions {
            hooks: HookPoint::resolve(spec.hooks()?, m.config.n_layers)?,
            positions: spec.positions.parse::<PositionSpec>()?,
            batch_tokens: spec.batch_tokens.max(1),
            dtype: spec.dtype,
            shard_bytes: ((spec.shard_mib * 1048576.0) as usize).max(1),
            window_shards: spec.window_shards.max(1),
            part: a.part,
            resume: a.resume,
            force: a.force,
            progress: true,
        };
        let s = harvest(&m, spec.data()?, &out, &opts)?;
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
