//! A trained sparse autoencoder: its weights and its encode/decode maps.
//!
//! `f = act((x - b_dec) W_enc + b_enc)`, `x̂ = f W_dec + b_dec`: the SAELens convention, so
//! weights move between the two tools unchanged (see [`super::saelens`]).

use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// SAE architecture: how pre-activations become sparse codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// ReLU, trained with an L1 penalty weighted by decoder norms.
    ReluL1,
    /// Keep the `k` largest pre-activations of each row (Gao et al. 2024).
    #[value(name = "topk")]
    #[serde(rename = "topk")]
    TopK,
    /// Keep the `k * batch` largest pre-activations of a batch (Bussmann et al. 2024); at
    /// inference a learned global threshold replaces the batch, so it runs as JumpReLU.
    #[value(name = "batchtopk")]
    #[serde(rename = "batchtopk")]
    BatchTopK,
    /// ReLU gated by a learned per-latent threshold (Rajamanoharan et al. 2024).
    #[value(name = "jumprelu")]
    #[serde(rename = "jumprelu")]
    JumpRelu,
}

impl Arch {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Arch::ReluL1 => "relu-l1",
            Arch::TopK => "topk",
            Arch::BatchTopK => "batchtopk",
            Arch::JumpRelu => "jumprelu",
        }
    }

    /// Whether the architecture keeps a fixed number `k` of latents per row.
    pub fn uses_k(self) -> bool {
        matches!(self, Arch::TopK | Arch::BatchTopK)
    }
}

/// A sparse autoencoder's weights, in f32, on the CPU.
#[derive(Clone, Debug)]
pub struct Sae {
    /// Architecture (decides the activation function).
    pub arch: Arch,
    /// Latents kept per row, for [`Arch::TopK`] (and the training target of BatchTopK).
    pub k: usize,
    /// Encoder `[d_in, d_sae]`.
    pub w_enc: Array2<f32>,
    /// Encoder bias `[d_sae]`.
    pub b_enc: Array1<f32>,
    /// Decoder `[d_sae, d_in]`; row `i` is latent `i`'s direction.
    pub w_dec: Array2<f32>,
    /// Decoder bias `[d_in]`, also subtracted from the input before encoding.
    pub b_dec: Array1<f32>,
    /// Per-latent thresholds `[d_sae]` for JumpReLU and BatchTopK; empty otherwise.
    pub threshold: Array1<f32>,
}

impl Sae {
    /// Input width (the hook's width).
    pub fn d_in(&self) -> usize {
        self.w_enc.nrows()
    }

    /// Number of latents.
    pub fn d_sae(&self) -> usize {
        self.w_enc.ncols()
    }

    /// Checks that every weight has the shape the others imply.
    pub fn validate(&self) -> Result<()> {
        let (d, n) = (self.d_in(), self.d_sae());
        let bad = |what: &str, got: &[usize], want: &[usize]| {
            Err(Error::Invalid(format!(
                "SAE weight {what} has shape {got:?}, expected {want:?}"
            )))
        };
        if self.w_dec.dim() != (n, d) {
            return bad("W_dec", self.w_dec.shape(), &[n, d]);
        }
        if self.b_enc.len() != n {
            return bad("b_enc", self.b_enc.shape(), &[n]);
        }
        if self.b_dec.len() != d {
            return bad("b_dec", self.b_dec.shape(), &[d]);
        }
        let needs_threshold = matches!(self.arch, Arch::JumpRelu | Arch::BatchTopK);
        if needs_threshold && self.threshold.len() != n {
            return bad("threshold", self.threshold.shape(), &[n]);
        }
        if self.arch == Arch::TopK && (self.k == 0 || self.k > n) {
            return Err(Error::Invalid(format!("SAE k = {} must be in 1..={n}", self.k)));
        }
        Ok(())
    }

    /// Pre-activations `(x - b_dec) W_enc + b_enc`, `[rows, d_sae]`.
    pub fn pre_activations(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let centred = &x - &self.b_dec;
        let mut pre = centred.dot(&self.w_enc);
        pre += &self.b_enc;
        pre
    }

    /// Sparse codes `[rows, d_sae]` (inference-time activation function).
    pub fn encode(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut f = self.pre_activations(x);
        self.activate(&mut f);
        f
    }

    /// Applies the inference-time activation function in place.
    pub fn activate(&self, pre: &mut Array2<f32>) {
        match self.arch {
            Arch::ReluL1 => pre.mapv_inplace(|v| v.max(0.0)),
            Arch::JumpRelu | Arch::BatchTopK => rows_mut(pre).for_each(|row| {
                for (v, t) in row.iter_mut().zip(&self.threshold) {
                    if *v <= *t || *v <= 0.0 {
                        *v = 0.0;
                    }
                }
            }),
            Arch::TopK => rows_mut(pre).for_each(|row| keep_top_k(row, self.k)),
        }
    }

    /// Reconstruction `f W_dec + b_dec` from codes `[rows, d_sae]`.
    pub fn decode(&self, f: ArrayView2<f32>) -> Array2<f32> {
        let mut x = sparse_dot(f, &self.w_dec);
        x += &self.b_dec;
        x
    }

    /// Encode then decode.
    pub fn reconstruct(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let f = self.encode(x);
        self.decode(f.view())
    }
}

/// The rows of a standard-layout matrix as a parallel iterator of slices.
fn rows_mut(a: &mut Array2<f32>) -> rayon::slice::ChunksMut<'_, f32> {
    let n = a.ncols().max(1);
    a.as_slice_mut().expect("standard layout").par_chunks_mut(n)
}

/// Zeroes all but the `k` largest entries of `row`, and any negative ones.
pub(crate) fn keep_top_k(row: &mut [f32], k: usize) {
    if k >= row.len() {
        row.iter_mut().for_each(|v| *v = v.max(0.0));
        return;
    }
    let mut sorted: Vec<f32> = row.to_vec();
    let (_, kth, _) = sorted.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let kth = *kth;
    let mut kept = 0;
    for v in row.iter_mut() {
        // Ties at the k-th value: keep the first ones so exactly k survive.
        if *v > kth || (*v == kth && kept < k) {
            kept += 1;
            if *v < 0.0 {
                *v = 0.0;
            }
        } else {
            *v = 0.0;
        }
    }
}

/// `f · w` for a sparse `f`: skips zero codes, which are most of them.
fn sparse_dot(f: ArrayView2<f32>, w: &Array2<f32>) -> Array2<f32> {
    let f = f.as_standard_layout();
    let mut out = Array2::<f32>::zeros((f.nrows(), w.ncols()));
    let f_rows = f.as_slice().expect("standard layout").par_chunks(f.ncols().max(1));
    rows_mut(&mut out).zip(f_rows).for_each(|(o, fr)| {
        for (j, &a) in fr.iter().enumerate() {
            if a != 0.0 {
                for (acc, &wv) in o.iter_mut().zip(w.row(j)) {
                    *acc += a * wv;
                }
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_exactly_k_largest() {
        let mut r = vec![0.5, 3.0, -1.0, 2.0, 2.0, 0.1];
        keep_top_k(&mut r, 3);
        assert_eq!(r, vec![0.0, 3.0, 0.0, 2.0, 2.0, 0.0]);
        let mut r = vec![-0.5, -3.0, 1.0];
        keep_top_k(&mut r, 2);
        assert_eq!(r, vec![0.0, 0.0, 1.0]);
    }
}
