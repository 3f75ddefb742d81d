//! Sparse autoencoders: train on an activation store, evaluate, inspect, and use as hooks.
//!
//! - [`autoencoder`]: the [`Sae`] weights and encode/decode (ReLU, TopK, BatchTopK, JumpReLU);
//! - [`train`]: training streamed from a store, checkpointed and resumable (burn autodiff, and
//!   on the CPU a hand-differentiated step through the active latents only);
//! - [`eval`]: FVU, L0, dead latents, and CE loss recovered / KL when spliced in;
//! - [`inspect`]: top contexts, logit lens, separation scores;
//! - [`splice`]: an SAE as a hook (reconstruct, ablate, clamp a latent);
//! - [`saelens`]: the SAELens directory layout, for interchange;
//! - [`corpus`]: a training corpus from the project's own prompts and model samples.
//!
//! ```no_run
//! use mindlens::prelude::*;
//! use mindlens::harvest::store::ActivationStore;
//! use mindlens::sae::{self, train::{RunControl, TrainOptions}};
//!
//! let store = ActivationStore::open("corpus-store".as_ref())?;
//! let opts = TrainOptions { tokens: 200_000, ..Default::default() }; // TopK, k = 32, 16x
//! sae::train::train::<burn::backend::Autodiff<Cpu>>(
//!     &store, HookPoint::ResidPost(15), "sae-l15".as_ref(), &opts, RunControl { progress: true, ..Default::default() }, &Default::default())?;
//! let (sae, _) = sae::saelens::load("sae-l15".as_ref())?;
//! println!("{} latents", sae.d_sae());
//! # Ok::<(), mindlens::Error>(())
//! ```

pub mod autoencoder;
mod collective;
pub mod corpus;
pub mod eval;
pub mod inspect;
pub mod saelens;
mod sparse_step;
pub mod splice;
pub mod train;

pub use autoencoder::{Arch, Sae};

use ndarray::Array2;

use crate::generate::SplitMix64;

/// Synthetic activations with planted sparse features, for checking that training recovers
/// them: `n` rows of width `d`, each a sum of features (unit vectors, rows of the returned
/// matrix) that fire independently with probability `p` at a magnitude in `[0.5, 1.5]`, plus
/// Gaussian noise of standard deviation `noise`.
pub fn planted_features(
    n: usize,
    d: usize,
    features: usize,
    p: f64,
    noise: f32,
    seed: u64,
) -> (Array2<f32>, Array2<f32>) {
    let mut rng = SplitMix64::new(seed);
    let mut dirs = Array2::<f32>::from_shape_simple_fn((features, d), || rng.next_normal() as f32);
    for mut r in dirs.rows_mut() {
        let norm = r.dot(&r).sqrt();
        r /= norm;
    }
    let mut x = Array2::<f32>::zeros((n, d));
    for mut row in x.rows_mut() {
        for f in 0..features {
            if rng.next_f64() < p {
                let mag = 0.5 + rng.next_f64() as f32;
                row.scaled_add(mag, &dirs.row(f));
            }
        }
        for v in row.iter_mut() {
            *v += noise * (rng.next_normal() as f32);
        }
    }
    (x, dirs)
}
