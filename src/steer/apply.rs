//! Turning steering vectors into interventions: addition at a layer or range with an absolute
//! or relative strength, and directional ablation (Arditi et al.).

use burn::tensor::backend::Backend;

use super::vector::{norm, SteeringVectors};
use crate::error::{Error, Result};
use crate::hooks::{Edit, HookPoint, HookSet, Intervention, Positions};
use crate::model::Model;

/// How strong a steering vector is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strength {
    /// `alpha * v` with the vector as saved.
    Absolute(f32),
    /// `alpha * r * v / |v|`, where `r` is the mean residual norm at that layer on the
    /// extraction prompts: comparable across layers whose scales differ by orders of magnitude.
    Relative(f32),
}

impl Strength {
    /// The number given by the user.
    pub fn alpha(&self) -> f32 {
        match *self {
            Strength::Absolute(a) | Strength::Relative(a) => a,
        }
    }
}

/// Adds `vectors` at `blocks.L.hook_resid_post` for every `L` in `layers`.
pub fn add_steering<B: Backend>(
    hooks: &mut HookSet<B>,
    model: &Model<B>,
    vectors: &SteeringVectors,
    layers: &[usize],
    strength: Strength,
    positions: Positions,
) -> Result<()> {
    for &l in layers {
        if l >= model.config.n_layers {
            return Err(Error::Invalid(format!(
                "layer {l} out of range ({} has {} blocks)",
                model.name, model.config.n_layers
            )));
        }
        let v = vectors.get(l)?;
        let coef = match strength {
            Strength::Absolute(a) => a,
            Strength::Relative(a) => {
                let r = vectors.meta.resid_norms.get(&l).copied().ok_or_else(|| {
                    Error::Invalid(format!(
                        "relative strength needs the residual norm at layer {l}, which these vectors lack (use an absolute alpha)"
                    ))
                })?;
                (a as f64 * r / norm(v).max(1e-30)) as f32
            }
        };
        let iv = Intervention::add(HookPoint::ResidPost(l), v.clone(), coef).at(positions.clone());
        hooks.intervene(iv, model.config.d_model, model.device())?;
    }
    Ok(())
}

/// Projects `direction` out of everything written to the residual stream (embeddings and
/// every attention and MLP output), so the stream never carries it (Arditi et al. 2024).
pub fn add_ablation<B: Backend>(hooks: &mut HookSet<B>, model: &Model<B>, direction: &[f32]) -> Result<()> {
    let mut points = vec![HookPoint::Embed];
    for l in 0..model.config.n_layers {
        points.extend([HookPoint::AttnOut(l), HookPoint::MlpOut(l)]);
    }
    for p in points {
        let iv = Intervention {
            point: p,
            edit: Edit::ProjectOut {
                direction: direction.to_vec(),
            },
            positions: Positions::All,
        };
        hooks.intervene(iv, model.config.d_model, model.device())?;
    }
    Ok(())
}
