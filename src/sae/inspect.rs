//! Reading SAE latents: top activating contexts, decoder logit lens, and the separation
//! score between two labelled sets of rows (Ferrando et al. 2025).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt::Write as _;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::autoencoder::Sae;
use crate::harvest::store::{ActivationStore, ChunkOrder};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::prompts::PromptRow;
use crate::{Error, Result};

/// One context where a latent fired.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Context {
    /// Data row.
    pub row: usize,
    /// Token position in the row.
    pub position: usize,
    /// Latent activation there.
    pub activation: f32,
    /// Up to 12 tokens before the position.
    pub before: String,
    /// The token itself.
    pub token: String,
    /// Up to 4 tokens after it.
    pub after: String,
}

/// What a latent does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LatentReport {
    /// Latent index.
    pub latent: usize,
    /// Fraction of vectors it fires on.
    pub frequency: f64,
    /// Largest activation seen.
    pub max_activation: f32,
    /// Top activating contexts, strongest first.
    pub contexts: Vec<Context>,
    /// Tokens the decoder direction promotes most (decoder row times the unembedding).
    pub promotes: Vec<String>,
    /// Tokens it suppresses most.
    pub suppresses: Vec<String>,
}

/// Top-`k` contexts of `latents` over a multi-token store (positions `all`, `all-but-first`
/// or `from:`), whose data rows are `rows` (the file the store was harvested from).
pub fn top_contexts<B: Backend>(
    model: &Model<B>,
    sae: &Sae,
    store: &ActivationStore,
    hook: HookPoint,
    rows: &[PromptRow],
    latents: &[usize],
    k: usize,
) -> Result<Vec<LatentReport>> {
    let index = store.token_index()?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: top contexts need a multi-token store (harvest with --positions all)",
            store.dir().display()
        ))
    })?;
    if let Some(&bad) = latents.iter().find(|&&l| l >= sae.d_sae()) {
        return Err(Error::Invalid(format!(
            "latent {bad} out of range (the SAE has {})",
            sae.d_sae()
        )));
    }
    // Min-heaps of (activation, vector index) per latent.
    let mut heaps: Vec<BinaryHeap<Reverse<(OrdF32, usize)>>> = vec![BinaryHeap::new(); latents.len()];
    let mut fired = vec![0usize; latents.len()];
    let mut seen = 0usize;
    for chunk in store.chunks(hook, 4096, ChunkOrder::Sequential)? {
        let chunk = chunk?;
        let f = sae.encode(chunk.view());
        for (i, row) in f.rows().into_iter().enumerate() {
            for (j, &l) in latents.iter().enumerate() {
                let a = row[l];
                if a > 0.0 {
                    fired[j] += 1;
                    heaps[j].push(Reverse((OrdF32(a), seen + i)));
                    if heaps[j].len() > k {
                        heaps[j].pop();
                    }
                }
            }
        }
        seen += chunk.nrows();
    }
    let lens = logit_lens(model, sae, latents, 8)?;
    let mut token_cache: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    let mut out = Vec::new();
    for (j, &latent) in latents.iter().enumerate() {
        let mut top: Vec<(f32, usize)> = heaps[j].drain().map(|Reverse((a, v))| (a.0, v)).collect();
        top.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut contexts = Vec::new();
        for (activation, v) in top {
            let (row, position) = (index[[v, 0]] as usize, index[[v, 1]] as usize);
            let prompt = rows.get(row).ok_or_else(|| {
                Error::Invalid(format!(
                    "the store has row {row} but the data file only {} rows",
                    rows.len()
                ))
            })?;
            if let std::collections::btree_map::Entry::Vacant(e) = token_cache.entry(row) {
                e.insert(model.encode(&prompt.input)?);
            }
            let ids = &token_cache[&row];
            let tok = |r: std::ops::Range<usize>| model.tokenizer.decode(&ids[r], false).unwrap_or_default();
            let position = position.min(ids.len().saturating_sub(1));
            contexts.push(Context {
                row,
                position,
                activation,
                before: tok(position.saturating_sub(12)..position),
                token: tok(position..position + 1),
                after: tok(position + 1..(position + 5).min(ids.len())),
            });
        }
        let (promotes, suppresses) = lens[j].clone();
        out.push(LatentReport {
            latent,
            frequency: fired[j] as f64 / seen.max(1) as f64,
            max_activation: contexts.first().map_or(0.0, |c| c.activation),
            contexts,
            promotes,
            suppresses,
        });
    }
    Ok(out)
}

/// For each latent, the `n` tokens its decoder direction promotes and suppresses most
/// through the unembedding.
pub fn logit_lens<B: Backend>(
    model: &Model<B>,
    sae: &Sae,
    latents: &[usize],
    n: usize,
) -> Result<Vec<(Vec<String>, Vec<String>)>> {
    if latents.is_empty() {
        return Ok(Vec::new());
    }
    let d = sae.d_in();
    if d != model.config.d_model {
        return Err(Error::Invalid(format!(
            "logit lens needs a residual-stream SAE (width {}), this one reads {d}",
            model.config.d_model
        )));
    }
    let mut dirs: Vec<f32> = Vec::with_capacity(latents.len() * d);
    for &l in latents {
        dirs.extend(sae.w_dec.row(l).iter());
    }
    let t = Tensor::<B, 3>::from_data(TensorData::new(dirs, [1, latents.len(), d]), model.device());
    let logits: Vec<f32> = model
        .unembed(t)
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("float tensor");
    let vocab = logits.len() / latents.len();
    let name = |id: usize| {
        model
            .tokenizer
            .token_str(id as u32)
            .unwrap_or_else(|| format!("<{id}>"))
    };
    Ok(logits
        .chunks(vocab)
        .map(|row| {
            let mut order: Vec<usize> = (0..vocab).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            let top = order.iter().take(n).map(|&i| name(i)).collect();
            let bottom = order.iter().rev().take(n).map(|&i| name(i)).collect();
            (top, bottom)
        })
        .collect())
}

/// Separation score per latent: for each group, the fraction of `a` rows where the latent
/// fires minus the fraction of `b` rows where it fires; the minimum over groups.
///
/// `codes` is `[rows, d_sae]`; `in_a[r]` says whether row `r` is in set A (else B); `groups`
/// names each row's group (entity type, say). Groups lacking either set are skipped.
pub fn separation_scores(codes: &Array2<f32>, in_a: &[bool], groups: &[String]) -> Result<Vec<f64>> {
    if in_a.len() != codes.nrows() || groups.len() != codes.nrows() {
        return Err(Error::Invalid(format!(
            "separation: {} rows of codes but {} labels and {} groups",
            codes.nrows(),
            in_a.len(),
            groups.len()
        )));
    }
    let mut by_group: BTreeMap<&str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (r, (&a, g)) in in_a.iter().zip(groups).enumerate() {
        let e = by_group.entry(g.as_str()).or_default();
        if a {
            e.0.push(r)
        } else {
            e.1.push(r)
        }
    }
    let usable: Vec<_> = by_group
        .values()
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .collect();
    if usable.is_empty() {
        return Err(Error::Invalid("separation: no group holds rows of both sets".into()));
    }
    let frac =
        |rows: &[usize], l: usize| rows.iter().filter(|&&r| codes[[r, l]] > 0.0).count() as f64 / rows.len() as f64;
    Ok((0..codes.ncols())
        .map(|l| {
            usable
                .iter()
                .map(|(a, b)| frac(a, l) - frac(b, l))
                .fold(f64::INFINITY, f64::min)
        })
        .collect())
}

/// A markdown report of latents: frequency, logit lens, contexts with the token in bold.
pub fn markdown_report(title: &str, reports: &[LatentReport]) -> String {
    let mut s = format!("# {title}\n\n");
    let clean = |t: &str| t.replace('\n', "⏎").replace('|', "\\|").replace('*', "\\*");
    for r in reports {
        let _ = writeln!(
            s,
            "## Latent {}\n\nfires on {:.3}% of tokens, max activation {:.2}\n",
            r.latent,
            100.0 * r.frequency,
            r.max_activation
        );
        let _ = writeln!(
            s,
            "promotes: `{}`  \nsuppresses: `{}`\n",
            r.promotes.join("` `"),
            r.suppresses.join("` `")
        );
        let _ = writeln!(s, "| activation | context |\n|---:|---|");
        for c in &r.contexts {
            let _ = writeln!(
                s,
                "| {:.2} | {}**{}**{} |",
                c.activation,
                clean(&c.before),
                clean(&c.token),
                clean(&c.after)
            );
        }
        s.push('\n');
    }
    s
}

/// f32 with a total order, for heaps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrdF32(f32);

impl Eq for OrdF32 {}

impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF32 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_is_the_minimum_over_groups() {
        // Latent 0 fires on all A rows in both groups, on B only in group y.
        let codes = Array2::from_shape_vec((4, 1), vec![1.0, 0.0, 1.0, 1.0]).unwrap();
        let in_a = [true, false, true, false];
        let groups: Vec<String> = ["x", "x", "y", "y"].map(String::from).to_vec();
        let s = separation_scores(&codes, &in_a, &groups).unwrap();
        assert_eq!(s, vec![0.0]);
    }
}
