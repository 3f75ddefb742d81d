//! Scoring the options of an A/B item from one pass over their shared prompt: the prompt runs
//! once into a KV cache, and each option's continuation runs from a copy of that cache. The
//! options of an item differ only in their last few tokens, so this does about half the work
//! of running every option's full sequence, and unembeds only the positions that are scored.

use burn::tensor::backend::Backend;

use crate::error::Result;
use crate::hooks::{HookCtx, HookSet};
use crate::model::layers::KvCache;
use crate::model::{split_rows, LogitsMode, Model, PaddedBatch};

/// The options of one (item, order): each option's full token ids and the index of its first
/// scored token (tokens before it are the prompt's).
pub(crate) type Group = Vec<(Vec<u32>, usize)>;

/// Mean per-token log-probability of each option's scored tokens, per group, with `hooks` on
/// every forward pass (interventions only: captures would see prompt and continuation apart).
/// `share` runs the shared prompt once; without it every option runs in full (the reference).
pub(crate) fn option_logprobs<B: Backend>(
    model: &Model<B>,
    groups: &[Group],
    hooks: &mut HookSet<B>,
    share: bool,
) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(groups.len());
    // 8 groups of 2 options: the 16 sequences per batch the full path uses.
    for part in groups.chunks(8) {
        let shared = part.iter().map(shared_len).collect::<Option<Vec<usize>>>();
        match shared {
            Some(cuts) if share => out.extend(from_prefix(model, part, &cuts, hooks)?),
            _ => out.extend(in_full(model, part, hooks)?),
        }
    }
    Ok(out)
}

/// Tokens every option of `g` shares and that precede all of its scored tokens, leaving each
/// option at least one token to run; None where there is no such prefix.
fn shared_len(g: &Group) -> Option<usize> {
    let first = &g.first()?.0;
    let cut = g
        .iter()
        .map(|(ids, start)| (*start).min(ids.len().saturating_sub(1)))
        .min()?;
    let same = g.iter().all(|(ids, _)| ids[..cut] == first[..cut]);
    (cut > 0 && same).then_some(cut)
}

/// Sum of log-probabilities of `ids[t]` for `t` in `start..ids.len()`, over the token count,
/// where `row(p)` gives the logits at position `p`.
fn mean_logprob<'a>(ids: &[u32], start: usize, row: impl Fn(usize) -> &'a [f32]) -> f64 {
    let lp: f64 = (start..ids.len())
        .map(|t| log_softmax(row(t - 1))[ids[t] as usize])
        .sum();
    lp / (ids.len() - start).max(1) as f64
}

pub(crate) fn log_softmax(row: &[f32]) -> Vec<f64> {
    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    row.iter().map(|&v| v as f64 - lse).collect()
}

/// Every option's full sequence in one batch.
fn in_full<B: Backend>(model: &Model<B>, part: &[Group], hooks: &mut HookSet<B>) -> Result<Vec<Vec<f64>>> {
    let seqs: Vec<Vec<u32>> = part.iter().flatten().map(|(ids, _)| ids.clone()).collect();
    let logits = model.run(&seqs, hooks, LogitsMode::All)?;
    hooks.clear();
    let mut at = logits.iter();
    Ok(part
        .iter()
        .map(|g| {
            g.iter()
                .map(|(ids, start)| {
                    let l = at.next().expect("one logits array per sequence");
                    mean_logprob(ids, (*start).max(1), |p| l.row(p).to_slice().expect("row"))
                })
                .collect()
        })
        .collect())
}

/// The shared prefixes (`cuts[g]` tokens of group `g`) in one cached pass, then option `k` of
/// every group from a copy of the cache, right-padded (causal attention keeps the padding out
/// of every real position).
fn from_prefix<B: Backend>(
    model: &Model<B>,
    part: &[Group],
    cuts: &[usize],
    hooks: &mut HookSet<B>,
) -> Result<Vec<Vec<f64>>> {
    let pad = model.pad_id();
    let prefixes: Vec<Vec<u32>> = part.iter().zip(cuts).map(|(g, &c)| g[0].0[..c].to_vec()).collect();
    let batch = PaddedBatch::new(&prefixes, pad);
    let mut cache = KvCache::new(model.config.n_layers);
    let h = model.forward(&batch.tokens, &batch.ctx(), Some(&mut cache), hooks)?;
    hooks.clear();
    let [b, s, d] = h.dims();
    let zeros = vec![0; b];
    // Logits at the last prefix position predict each option's first continuation token.
    let last = split_rows(model.unembed(h.slice([0..b, s - 1..s, 0..d])), &zeros);
    let n_opts = part.iter().map(Vec::len).max().unwrap_or(0);
    let mut out: Vec<Vec<f64>> = part.iter().map(|g| Vec::with_capacity(g.len())).collect();
    let pad_only = [pad];
    for k in 0..n_opts {
        // Groups with fewer options run one padding token, ignored.
        let conts: Vec<&[u32]> = part
            .iter()
            .zip(cuts)
            .map(|(g, &c)| g.get(k).map_or(&pad_only[..], |(ids, _)| &ids[c..]))
            .collect();
        let width = conts.iter().map(|c| c.len()).max().unwrap_or(1);
        let mut tokens = Vec::with_capacity(b * width);
        for c in &conts {
            tokens.extend_from_slice(c);
            tokens.extend(std::iter::repeat_n(pad, width - c.len()));
        }
        // Every real token counts as prompt, as in the full sequence, so that interventions
        // limited to prompt positions reach the options too.
        let full_lens: Vec<usize> = conts.iter().zip(cuts).map(|(t, c)| c + t.len()).collect();
        let ctx = HookCtx {
            offset: batch.cols,
            len: width,
            pad_left: &batch.pad_left,
            prompt_len: &full_lens,
        };
        let h = model.forward(&tokens, &ctx, Some(&mut cache.clone()), hooks)?;
        hooks.clear();
        let logits = split_rows(model.unembed(h), &zeros);
        for (r, (g, &c)) in part.iter().zip(cuts).enumerate() {
            if let Some((ids, start)) = g.get(k) {
                let row = |p: usize| {
                    if p + 1 == c {
                        last[r].row(0).to_slice().expect("row")
                    } else {
                        logits[r].row(p - c).to_slice().expect("row")
                    }
                };
                out[r].push(mean_logprob(ids, (*start).max(c), row));
            }
        }
    }
    Ok(out)
}
