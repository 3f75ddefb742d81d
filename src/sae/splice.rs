//! An SAE as a hook: splice its reconstruction into the forward pass, or clamp one latent.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use ndarray::{Array2, Axis};

use super::autoencoder::Sae;
use crate::hooks::{Hook, HookCtx, HookPoint};

/// What an [`SaeSplice`] does to the activation at its hook.
#[derive(Clone, Debug, PartialEq)]
pub enum SaeEdit {
    /// Replace `x` by the SAE's reconstruction `x̂` (for CE-loss-recovered evaluation).
    Reconstruct,
    /// Replace `x` by zero (the zero-ablation baseline).
    Zero,
    /// Replace `x` by a fixed vector, e.g. the data mean (the mean-ablation baseline).
    Mean(Vec<f32>),
    /// Set one latent's activation to `value`, keeping the SAE's error term:
    /// `x + (value - f_i(x)) W_dec[i]` (feature clamping, Templeton et al. 2024).
    Clamp {
        /// Latent index.
        latent: usize,
        /// Activation it is clamped to.
        value: f32,
    },
}

/// A hook applying an [`SaeEdit`] at one point. The first token (BOS) is left alone by
/// default: its activation is an outlier no SAE is trained to reconstruct.
pub struct SaeSplice<'a> {
    sae: &'a Sae,
    point: HookPoint,
    edit: SaeEdit,
    /// Whether to edit position 0 too.
    pub include_first: bool,
}

impl<'a> SaeSplice<'a> {
    /// A splice of `sae` at `point`.
    pub fn new(sae: &'a Sae, point: HookPoint, edit: SaeEdit) -> Self {
        SaeSplice {
            sae,
            point,
            edit,
            include_first: false,
        }
    }

    fn edit_rows(&self, x: &mut Array2<f32>) {
        match &self.edit {
            SaeEdit::Reconstruct => *x = self.sae.reconstruct(x.view()),
            SaeEdit::Zero => x.fill(0.0),
            SaeEdit::Mean(m) => x.rows_mut().into_iter().for_each(|mut r| {
                r.iter_mut().zip(m).for_each(|(a, b)| *a = *b);
            }),
            SaeEdit::Clamp { latent, value } => {
                let f = self.sae.encode(x.view());
                let dir = self.sae.w_dec.row(*latent);
                for (mut r, fr) in x.rows_mut().into_iter().zip(f.axis_iter(Axis(0))) {
                    r.scaled_add(value - fr[*latent], &dir);
                }
            }
        }
    }
}

impl<B: Backend> Hook<B> for SaeSplice<'_> {
    fn wants(&self, point: HookPoint) -> bool {
        point == self.point
    }

    fn on(&mut self, _point: HookPoint, x: Tensor<B, 3>, ctx: &HookCtx) -> Tensor<B, 3> {
        let [b, s, d] = x.dims();
        let device = x.device();
        let data: Vec<f32> = x.into_data().convert::<f32>().into_vec().expect("float tensor");
        let mut all = Array2::from_shape_vec((b * s, d), data).expect("shape matches");
        // Rows to edit: every real position, minus position 0 unless asked.
        let keep: Vec<usize> = (0..b * s)
            .filter(|&i| match ctx.position(i / s, ctx.offset + i % s) {
                None => false,
                Some(p) => self.include_first || p > 0,
            })
            .collect();
        if !keep.is_empty() {
            let mut sel = all.select(Axis(0), &keep);
            self.edit_rows(&mut sel);
            for (j, &i) in keep.iter().enumerate() {
                all.row_mut(i).assign(&sel.row(j));
            }
        }
        Tensor::from_data(TensorData::new(all.into_raw_vec_and_offset().0, [b, s, d]), &device)
    }
}
