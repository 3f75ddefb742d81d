//! One SAE training step computed from the batch's active (row, latent) pairs, on the host.
//!
//! A sparse code spends most of a dense step multiplying zeros: the decoder's forward pass,
//! both weights' gradients and the encoder's input gradient are each as large as the encoder
//! pass, yet only the pairs with a nonzero code (and, for JumpReLU, those inside the
//! threshold's straight-through window) touch the loss or a gradient. Given the pre-activations
//! of one dense encoder matmul, [`step`] computes the loss terms and every parameter's gradient
//! from those pairs alone, at O(pairs × d_in): per row, the reconstruction and each pair's code
//! gradient; per latent, its weight gradients.
//!
//! The gradients are written out by hand rather than taken from burn's autodiff through
//! gather and scatter ops: those materialise a `[pairs, d_in]` tensor per op, which cost more
//! than the matmuls they replace (a ReLU SAE at L0 100 ran no faster than dense). The trainer's
//! tests check [`step`] against burn autodiff's dense step for every architecture.

use rayon::prelude::*;

use super::autoencoder::Arch;
use crate::model::cpu_kernels::{axpy, dot};

/// A batch's (row, latent) pairs in compressed rows: row `r` holds the latents
/// `cols[starts[r]..starts[r + 1]]`, in increasing order.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Pairs {
    pub starts: Vec<usize>,
    pub cols: Vec<u32>,
}

impl Pairs {
    /// From each row's latents.
    pub fn from_rows(rows: Vec<Vec<u32>>) -> Self {
        let mut starts = Vec::with_capacity(rows.len() + 1);
        starts.push(0);
        let mut cols = Vec::new();
        for r in rows {
            cols.extend(r);
            starts.push(cols.len());
        }
        Pairs { starts, cols }
    }

    /// Pairs in all.
    pub fn len(&self) -> usize {
        self.cols.len()
    }

    fn rows(&self) -> usize {
        self.starts.len() - 1
    }

    /// Every pair as `(row, latent)`.
    pub fn iter(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.rows()).flat_map(move |r| self.row(r).map(move |p| (r, self.cols[p] as usize)))
    }

    /// Row `r`'s pair indices.
    fn row(&self, r: usize) -> std::ops::Range<usize> {
        self.starts[r]..self.starts[r + 1]
    }

    /// The pairs grouped by latent: latent `j`'s are `members[starts[j]..starts[j + 1]]`, each
    /// `(row, pair index)`.
    fn by_latent(&self, d_sae: usize) -> (Vec<usize>, Vec<(u32, u32)>) {
        let mut starts = vec![0usize; d_sae + 1];
        for &j in &self.cols {
            starts[j as usize + 1] += 1;
        }
        for j in 0..d_sae {
            starts[j + 1] += starts[j];
        }
        let mut next = starts.clone();
        let mut members = vec![(0u32, 0u32); self.len()];
        for (p, (r, j)) in self.iter().enumerate() {
            members[next[j]] = (r as u32, p as u32);
            next[j] += 1;
        }
        (starts, members)
    }

    /// Each pair's value in a `[rows, d_sae]` matrix.
    fn values(&self, m: &[f32], d_sae: usize) -> Vec<f32> {
        self.iter().map(|(r, j)| m[r * d_sae + j]).collect()
    }

    /// Each pair's dot product of its row of `rows_of` (`[rows, d]`) with its latent's row of
    /// `latents` (`[d_sae, d]`).
    fn dots(&self, rows_of: &[f32], latents: &[f32], d: usize) -> Vec<f32> {
        let per_row: Vec<Vec<f32>> = (0..self.rows())
            .into_par_iter()
            .map(|r| {
                let v = &rows_of[r * d..(r + 1) * d];
                self.row(r).map(|p| dot(v, latent(latents, self.cols[p], d))).collect()
            })
            .collect();
        per_row.concat()
    }

    /// `out[r] += Σ_p codes[p] · latents[j_p]` over row `r`'s pairs (`out` is `[rows, d]`).
    fn decode_into(&self, codes: &[f32], latents: &[f32], out: &mut [f32], d: usize) {
        out.par_chunks_mut(d).enumerate().for_each(|(r, o)| {
            for p in self.row(r) {
                axpy(codes[p], latent(latents, self.cols[p], d), o);
            }
        });
    }
}

fn latent(m: &[f32], j: u32, d: usize) -> &[f32] {
    &m[j as usize * d..(j as usize + 1) * d]
}

/// The parameters a step reads, row-major, in the trainer's scaled units.
pub(super) struct Weights<'a> {
    /// The encoder, stored transposed: `[d_sae, d_in]`.
    pub w_enc: &'a [f32],
    pub b_enc: &'a [f32],
    /// The decoder, `[d_sae, d_in]`.
    pub w_dec: &'a [f32],
    pub b_dec: &'a [f32],
    /// JumpReLU's thresholds θ (not their logarithms).
    pub theta: Option<&'a [f32]>,
}

/// A batch and the pairs the trainer picked from its pre-activations.
pub(super) struct Batch<'a> {
    pub arch: Arch,
    /// The scaled activations, `[rows, d_in]`.
    pub x: &'a [f32],
    /// The encoder pre-activations `(x - b_dec) W_enc + b_enc`, `[rows, d_sae]`.
    pub pre: &'a [f32],
    /// The pairs with a nonzero code.
    pub active: &'a Pairs,
    /// AuxK: the dead latents' pairs and the loss coefficient.
    pub aux: Option<(&'a Pairs, f32)>,
    /// JumpReLU: the pairs with `θ - bandwidth/2 < pre <= θ` (zero code, but inside the
    /// straight-through window).
    pub below: Option<&'a Pairs>,
    pub sparsity_coeff: f32,
    pub bandwidth: f32,
}

/// Gradients of the loss, in the layout of [`Weights`]; `log_threshold` for JumpReLU.
pub(super) struct Gradients {
    pub w_enc: Vec<f32>,
    pub b_enc: Vec<f32>,
    pub w_dec: Vec<f32>,
    pub b_dec: Vec<f32>,
    pub log_threshold: Option<Vec<f32>>,
}

/// What one step computes.
pub(super) struct Outcome {
    pub grads: Gradients,
    /// `‖x̂ - x‖²` summed over features, mean over rows.
    pub mse: f64,
    /// The sparsity penalty (ReLU, JumpReLU), coefficient applied.
    pub sparsity: Option<f64>,
    /// The AuxK loss, coefficient applied, when there were dead latents with positive codes.
    pub aux: Option<f64>,
    /// Rows of the batch in which each latent fired.
    pub fired: Vec<f32>,
}

/// The loss terms and gradients of one batch.
///
/// With `n` rows, the upstream gradient of the reconstruction is `u_r = (2/n)(x̂_r - x_r)`.
/// An active pair `(r, j)` has code `a = pre_rj` (every architecture keeps pairs whose code
/// equals the pre-activation: positive, above threshold or among the top k) and code gradient
/// `g = u_r · W_dec_j`, plus `(c/n)‖W_dec_j‖` for ReLU's norm-weighted L1 with coefficient `c`.
/// Then `∂W_dec_j = Σ_r a u_r` (plus the L1's `(c/n) Σ_r a W_dec_j / ‖W_dec_j‖`),
/// `∂W_enc_j = Σ_r g (x_r - b_dec)`, `∂b_enc_j = Σ_r g`, and
/// `∂b_dec = Σ_r u_r - Σ_j ∂b_enc_j W_enc_j` (the bias enters the reconstruction and, with a
/// minus sign, every pre-activation). AuxK pairs add the same terms with their own upstream
/// gradient `(2 c_aux/n)(ê_r - (x_r - x̂_r))`, `x̂` held fixed, for AuxK coefficient `c_aux`.
/// JumpReLU's threshold, by the straight-through estimator, gets
/// `-(θ_j/bandwidth)(pre × g + c/n)` from each pair within half a bandwidth of it, on either
/// side.
pub(super) fn step(w: &Weights, b: &Batch) -> Outcome {
    let d_in = w.b_dec.len();
    let d_sae = w.b_enc.len();
    let rows = b.x.len() / d_in;
    let n = rows as f32;
    let xc: Vec<f32> =
        b.x.chunks_exact(d_in)
            .flat_map(|x| x.iter().zip(w.b_dec).map(|(a, c)| a - c))
            .collect();

    let codes = b.active.values(b.pre, d_sae);
    // The error x̂ - x starts as b_dec - x = -xc (negation is exact) and gains the codes' rows.
    let mut err: Vec<f32> = xc.iter().map(|v| -v).collect();
    b.active.decode_into(&codes, w.w_dec, &mut err, d_in);
    let mse = sum_squares(&err) / rows as f64;
    let up: Vec<f32> = err.iter().map(|e| e * 2.0 / n).collect();
    let mut d_code = b.active.dots(&up, w.w_dec, d_in);

    let mut g = Gradients {
        w_enc: vec![0.0; d_sae * d_in],
        b_enc: vec![0.0; d_sae],
        w_dec: vec![0.0; d_sae * d_in],
        b_dec: vec![0.0; d_in],
        log_threshold: None,
    };
    // The sparsity coefficient per row: the penalty is a mean over rows.
    let c = b.sparsity_coeff / n;
    let mut sparsity = None;
    // ReLU's penalty also pulls each decoder row's norm: c Σ_r a × W_dec_j / ‖W_dec_j‖.
    let mut l1_radial = None;
    match b.arch {
        Arch::ReluL1 => {
            let norms: Vec<f32> = w.w_dec.par_chunks(d_in).map(|r| dot(r, r).sqrt()).collect();
            let mut code_sums = vec![0f32; d_sae];
            let mut penalty = 0f64;
            for (p, &j) in b.active.cols.iter().enumerate() {
                d_code[p] += c * norms[j as usize];
                code_sums[j as usize] += codes[p];
                penalty += (codes[p] * norms[j as usize]) as f64;
            }
            sparsity = Some(c as f64 * penalty);
            l1_radial = Some((norms, code_sums));
        }
        Arch::JumpRelu => {
            let theta = w.theta.expect("JumpReLU has thresholds");
            sparsity = Some(c as f64 * b.active.len() as f64);
            let mut d_theta = vec![0f32; d_sae];
            let half = b.bandwidth / 2.0;
            for (p, &j) in b.active.cols.iter().enumerate() {
                if codes[p] - theta[j as usize] < half {
                    d_theta[j as usize] += codes[p] * d_code[p] + c;
                }
            }
            if let Some(below) = b.below {
                let pre = below.values(b.pre, d_sae);
                for ((&j, pre), g) in below.cols.iter().zip(pre).zip(below.dots(&up, w.w_dec, d_in)) {
                    d_theta[j as usize] += pre * g + c;
                }
            }
            g.log_threshold = Some(d_theta.iter().zip(theta).map(|(d, t)| -t / b.bandwidth * d).collect());
        }
        Arch::TopK | Arch::BatchTopK => {}
    }
    add_latent_grads(b.active, &codes, &d_code, &up, &xc, &mut g);
    if let Some((norms, code_sums)) = l1_radial {
        g.w_dec
            .par_chunks_mut(d_in)
            .zip(w.w_dec.par_chunks(d_in))
            .enumerate()
            .filter(|(j, _)| code_sums[*j] != 0.0)
            .for_each(|(j, (gd, wd))| axpy(c * code_sums[j] / norms[j], wd, gd));
    }

    let mut aux = None;
    if let Some((pairs, coeff)) = b.aux.filter(|(p, _)| p.len() > 0) {
        // The dead latents reconstruct what the live ones missed: ê - (x - x̂) = ê + err.
        let aux_codes = pairs.values(b.pre, d_sae);
        let mut diff = err;
        pairs.decode_into(&aux_codes, w.w_dec, &mut diff, d_in);
        aux = Some(coeff as f64 * sum_squares(&diff) / rows as f64);
        let aux_up: Vec<f32> = diff.iter().map(|e| e * 2.0 * coeff / n).collect();
        let aux_d_code = pairs.dots(&aux_up, w.w_dec, d_in);
        add_latent_grads(pairs, &aux_codes, &aux_d_code, &aux_up, &xc, &mut g);
    }

    for u in up.chunks_exact(d_in) {
        g.b_dec.iter_mut().zip(u).for_each(|(g, u)| *g += u);
    }
    for (j, &gb) in g.b_enc.iter().enumerate().filter(|(_, &gb)| gb != 0.0) {
        axpy(-gb, latent(w.w_enc, j as u32, d_in), &mut g.b_dec);
    }
    let mut fired = vec![0f32; d_sae];
    for &j in &b.active.cols {
        fired[j as usize] += 1.0;
    }
    Outcome {
        grads: g,
        mse,
        sparsity,
        aux,
        fired,
    }
}

/// Adds the pairs' weight gradients, latent by latent: `∂W_dec_j += Σ a u_r`,
/// `∂W_enc_j += Σ g xc_r`, `∂b_enc_j += Σ g`.
fn add_latent_grads(pairs: &Pairs, codes: &[f32], d_code: &[f32], up: &[f32], xc: &[f32], g: &mut Gradients) {
    let d = g.b_dec.len();
    let (starts, members) = pairs.by_latent(g.b_enc.len());
    g.w_dec
        .par_chunks_mut(d)
        .zip(g.w_enc.par_chunks_mut(d))
        .zip(g.b_enc.par_iter_mut())
        .enumerate()
        .for_each(|(j, ((gd, ge), gb))| {
            for &(r, p) in &members[starts[j]..starts[j + 1]] {
                let (r, p) = (r as usize, p as usize);
                axpy(codes[p], &up[r * d..(r + 1) * d], gd);
                axpy(d_code[p], &xc[r * d..(r + 1) * d], ge);
                *gb += d_code[p];
            }
        });
}

/// `Σ v²`, summed in a fixed order so that a resumed run logs the same numbers.
fn sum_squares(v: &[f32]) -> f64 {
    let parts: Vec<f64> = v.par_chunks(4096).map(|c| dot(c, c) as f64).collect();
    parts.iter().sum()
}
