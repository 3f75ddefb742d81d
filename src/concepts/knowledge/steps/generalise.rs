//! Step 2b, does the entity probe read knowledge or name surfaces? A known/unknown probe
//! trained against one generator's fabricated names can learn what those names look like.
//! The same tests run on two feature sets: the activations at the probe's layer, and
//! character n-grams of the name alone (a probe that cannot know anything about the entity).
//! The activation probe is only evidence of knowledge awareness where it beats the n-grams
//! on rows whose kind of unknown entity (an origin: obscure real, or a name generator) or
//! whose entity type it never trained on.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::{Array2, ArrayView2};

use super::super::data::{Entity, KNOWN};
use super::super::results::{FeatureScores, GeneraliseSection, HeldOutScore};
use super::probe::{fit_and_score, out_of_fold};
use crate::error::Result;
use crate::probe::metrics::auroc;

/// Width of the hashed n-gram features: collisions are rare at this size for a few hundred
/// short names, and it stays far below the row count times the vocabulary of n-grams.
const NGRAM_DIM: usize = 2048;

/// L2-normalised counts of the character 1- to 3-grams of `name` (lower-cased, with start and
/// end marks), hashed into [`NGRAM_DIM`] buckets by FNV-1a.
pub(in super::super) fn name_ngrams(name: &str) -> Vec<f64> {
    let chars: Vec<char> = std::iter::once('^')
        .chain(name.chars().flat_map(char::to_lowercase))
        .chain(std::iter::once('$'))
        .collect();
    let mut v = vec![0.0; NGRAM_DIM];
    for n in 1..=3 {
        for w in chars.windows(n) {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in w.iter().collect::<String>().bytes() {
                h = (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
            }
            v[(h % NGRAM_DIM as u64) as usize] += 1.0;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| x / norm).collect()
}

/// What the tests read: the labelled rows (known or on the unknown side) and their splits.
pub(in super::super) struct Rows<'a> {
    pub(in super::super) selected: &'a [Entity],
    pub(in super::super) status: &'a [&'static str],
    /// Entity indices of the known/unknown rows, in probe row order.
    pub(in super::super) labelled: &'a [usize],
    /// Entity indices that chose directions (the training side of the held-out tests).
    pub(in super::super) select: &'a [usize],
    pub(in super::super) folds: usize,
    pub(in super::super) seed: u64,
}

/// Runs every test on the activations `x_act` (one row per selected entity) and on name
/// n-grams.
pub(in super::super) fn generalise(x_act: ArrayView2<f64>, layer: usize, rows: &Rows) -> Result<GeneraliseSection> {
    let names: Vec<Vec<f64>> = rows.selected.iter().map(|e| name_ngrams(&e.entity)).collect();
    let x_ngram = Array2::from_shape_fn((names.len(), NGRAM_DIM), |(i, j)| names[i][j]);
    let activations = scores(x_act, rows)?;
    let name_ngrams = scores(x_ngram.view(), rows)?;
    let beats = |a: f64, b: f64| a.is_finite() && b.is_finite() && a > b;
    let held_out_origins_beaten = activations
        .held_out_origin
        .iter()
        .filter(|(o, s)| {
            name_ngrams
                .held_out_origin
                .get(*o)
                .is_some_and(|n| beats(s.auroc, n.auroc))
        })
        .count();
    Ok(GeneraliseSection {
        layer,
        ngram_features: format!("character 1- to 3-grams of the name, hashed into {NGRAM_DIM} buckets, L2-normalised"),
        origins: origins(rows),
        beats_ngrams_pooled: beats(activations.pooled_auroc, name_ngrams.pooled_auroc),
        held_out_origins_beaten,
        activations,
        name_ngrams,
    })
}

/// The origin of each unknown-side entity kind present, e.g. `obscure`, `syllable`.
fn origins(rows: &Rows) -> Vec<String> {
    let set: BTreeSet<String> = rows
        .labelled
        .iter()
        .filter(|&&i| rows.status[i] != KNOWN)
        .map(|&i| rows.selected[i].origin().to_string())
        .collect();
    set.into_iter().collect()
}

/// AUROC of `p` over the rows `idx` (positions in `p`), known as the positive class.
fn auroc_of(p: &[f64], pos: &[bool], idx: &[usize]) -> f64 {
    let keep: Vec<usize> = idx.iter().copied().filter(|&k| p[k].is_finite()).collect();
    let s: Vec<f64> = keep.iter().map(|&k| p[k]).collect();
    let y: Vec<bool> = keep.iter().map(|&k| pos[k]).collect();
    auroc(&s, &y)
}

/// Trains on probe rows `train`, scores probe rows `test` (known positive).
fn held_out(x: ArrayView2<f64>, y: &[usize], train: &[usize], test: &[usize]) -> Result<HeldOutScore> {
    let pos: Vec<bool> = test.iter().map(|&k| y[k] == 1).collect();
    let auroc = match fit_and_score(x, y, train, test)? {
        Some(proba) => auroc(&proba.column(1).to_vec(), &pos),
        None => f64::NAN,
    };
    Ok(HeldOutScore {
        auroc,
        train_rows: train.len(),
        test_known: pos.iter().filter(|&&p| p).count(),
        test_unknown: pos.iter().filter(|&&p| !p).count(),
    })
}

fn scores(x_all: ArrayView2<f64>, rows: &Rows) -> Result<FeatureScores> {
    let lab = rows.labelled;
    let x = x_all.select(ndarray::Axis(0), lab);
    let y: Vec<usize> = lab.iter().map(|&i| usize::from(rows.status[i] == KNOWN)).collect();
    let pos: Vec<bool> = y.iter().map(|&c| c == 1).collect();
    let groups: Vec<String> = lab.iter().map(|&i| rows.selected[i].group.clone()).collect();
    let p = out_of_fold(x.view(), &y, &groups, rows.folds, rows.seed)?;
    let all: Vec<usize> = (0..lab.len()).collect();
    let known: Vec<usize> = all.iter().copied().filter(|&k| pos[k]).collect();
    let in_select: Vec<bool> = lab.iter().map(|i| rows.select.binary_search(i).is_ok()).collect();

    let mut by_type = BTreeMap::new();
    let mut held_out_type = BTreeMap::new();
    let types: BTreeSet<&str> = lab.iter().map(|&i| rows.selected[i].kind.as_str()).collect();
    for t in types {
        let of_t = |k: &usize| rows.selected[lab[*k]].kind == t;
        let idx: Vec<usize> = all.iter().copied().filter(of_t).collect();
        by_type.insert(t.to_string(), auroc_of(&p, &pos, &idx));
        let train: Vec<usize> = all.iter().copied().filter(|k| !of_t(k)).collect();
        held_out_type.insert(t.to_string(), held_out(x.view(), &y, &train, &idx)?);
    }

    let mut by_origin = BTreeMap::new();
    let mut held_out_origin = BTreeMap::new();
    for o in origins(rows) {
        let of_o = |k: &usize| !pos[*k] && rows.selected[lab[*k]].origin() == o;
        // Known rows against this origin's unknown rows, out of fold.
        let idx: Vec<usize> = all.iter().copied().filter(|k| pos[*k] || of_o(k)).collect();
        by_origin.insert(o.clone(), auroc_of(&p, &pos, &idx));
        // Never trained on this origin: the choice half without it; tested on the held-out
        // known rows and every row of the origin.
        let train: Vec<usize> = all.iter().copied().filter(|k| in_select[*k] && !of_o(k)).collect();
        let mut test: Vec<usize> = known.iter().copied().filter(|&k| !in_select[k]).collect();
        test.extend(all.iter().copied().filter(of_o));
        held_out_origin.insert(o, held_out(x.view(), &y, &train, &test)?);
    }
    Ok(FeatureScores {
        pooled_auroc: auroc_of(&p, &pos, &all),
        by_type,
        by_origin,
        held_out_type,
        held_out_origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ngrams_are_unit_length_and_tell_names_apart() {
        let a = name_ngrams("Paris");
        let b = name_ngrams("paris");
        let c = name_ngrams("Velmorath");
        let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(x, y)| x * y).sum::<f64>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-12);
        assert!((dot(&a, &b) - 1.0).abs() < 1e-12, "case is ignored");
        assert!(dot(&a, &c) < 0.5, "different names share few n-grams");
    }
}
