//! Trait directions (mean difference and first principal component of the paired
//! high-minus-low differences) and the high-vs-low probes, from the harvested activations.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::{Array2, Axis};

use super::super::data::TraitRows;
use super::super::options::PersonalityOptions;
use super::super::results::{DirectionStats, LayerDirection};
use crate::error::{Error, Result};
use crate::harvest::ActivationStore;
use crate::hooks::HookPoint;
use crate::probe::sweep::{sweep_units, Labels, SweepOptions, SweepResults, SweepUnit};
use crate::steer::direction::{mean_norm, to_f32, PairedDirections};
use crate::steer::vector::{cosine, norm};
use crate::steer::SteeringVectors;

/// Last-token activations per harvested layer, `[rows, d_model]`, rows in harvest order,
/// read from the store the first time a stage needs them (a fully resumed run never does).
pub(in super::super) struct Acts {
    store: PathBuf,
    layers: Vec<usize>,
    loaded: OnceCell<BTreeMap<usize, Array2<f32>>>,
}

impl Acts {
    pub fn new(store: PathBuf, layers: &[usize]) -> Self {
        Acts {
            store,
            layers: layers.to_vec(),
            loaded: OnceCell::new(),
        }
    }

    pub fn all(&self) -> Result<&BTreeMap<usize, Array2<f32>>> {
        if let Some(a) = self.loaded.get() {
            return Ok(a);
        }
        let store = ActivationStore::open(&self.store)?;
        let mut acts = BTreeMap::new();
        for &l in &self.layers {
            acts.insert(l, store.load(HookPoint::ResidPost(l))?);
        }
        Ok(self.loaded.get_or_init(|| acts))
    }

    pub fn layer(&self, layer: usize) -> Result<&Array2<f32>> {
        self.all()?
            .get(&layer)
            .ok_or_else(|| Error::Invalid(format!("layer {layer} was not harvested")))
    }
}

/// Mean-diff and PCA vectors of one trait at every harvested layer, with the residual norms
/// that relative strengths need, and their statistics.
pub(in super::super) fn directions(
    acts: &BTreeMap<usize, Array2<f32>>,
    rows: &TraitRows,
    model: &str,
    data_sha256: &str,
    seed: u64,
) -> Result<(SteeringVectors, SteeringVectors, DirectionStats)> {
    let hi: Vec<usize> = rows.pairs.iter().map(|p| p.0).collect();
    let lo: Vec<usize> = rows.pairs.iter().map(|p| p.1).collect();
    let (mut md_v, mut pc_v) = (BTreeMap::new(), BTreeMap::new());
    let (mut resid_norms, mut per_layer) = (BTreeMap::new(), BTreeMap::new());
    for (&l, x) in acts {
        let diffs = x.select(Axis(0), &hi).mapv(f64::from) - x.select(Axis(0), &lo).mapv(f64::from);
        let d = PairedDirections::from_diffs(&diffs, seed)?;
        let (md32, pc32) = (to_f32(&d.mean_diff), to_f32(&d.pca));
        let persona = x.select(Axis(0), &rows.persona).mapv(f64::from);
        resid_norms.insert(l, mean_norm(persona.view()));
        per_layer.insert(
            l,
            LayerDirection {
                mean_diff_norm: norm(&md32),
                pca_explained_variance: d.pca_explained,
                pca_sign_agreement: d.pca_sign_agreement,
                mean_diff_sign_agreement: d.mean_diff_sign_agreement,
                cosine_mean_diff_pca: cosine(&md32, &pc32),
            },
        );
        md_v.insert(l, md32);
        pc_v.insert(l, pc32);
    }
    let stats = DirectionStats {
        pairs: hi.len(),
        per_layer,
    };
    let meta_stats = serde_json::to_value(&stats).map_err(|e| Error::Invalid(format!("direction stats: {e}")))?;
    let vectors = |method: &str, layers: BTreeMap<usize, Vec<f32>>| {
        let mut v = SteeringVectors::residual(model, method, layers, resid_norms.clone());
        v.meta.data_sha256 = data_sha256.to_string();
        v.meta.stats = meta_stats.clone();
        v
    };
    Ok((vectors("mean-diff", md_v), vectors("pca", pc_v), stats))
}

/// Probe accuracy of high vs low persona at every harvested layer, grouped by question, with
/// the permuted-label control task.
pub(in super::super) fn probe_trait(
    acts: &BTreeMap<usize, Array2<f32>>,
    rows: &TraitRows,
    opts: &PersonalityOptions,
) -> Result<SweepResults> {
    let labels = Labels::from_rows(&rows.labels, "pole", Some("question"), None, false)?;
    let units = acts
        .iter()
        .map(|(&l, x)| SweepUnit {
            hook: HookPoint::ResidPost(l),
            head: None,
            x: x.select(Axis(0), &rows.persona).mapv(f64::from),
        })
        .collect();
    let sopts = SweepOptions {
        folds: opts.folds,
        seed: opts.seed,
        ..Default::default()
    };
    let mut probe = sweep_units(units, &labels, &sopts, "pole", HookPoint::RESID_POST_GLOB)?;
    probe.group = Some("question".into());
    Ok(probe)
}
