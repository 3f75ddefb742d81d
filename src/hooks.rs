//! Hook points: named places in the forward pass where activations can be read or edited.
//!
//! Names follow TransformerLens (`hook_embed`, `blocks.{i}.hook_resid_post`, `blocks.{i}.attn.hook_z`,
//! `ln_final.hook_normalized`, ...), so researchers can reuse what they already know. A model's
//! forward pass calls [`Hook::on`] at each point for which [`Hook::wants`] is true; with
//! [`NoHooks`] every check is a constant `false` and the forward pass is a plain one.
//!
//! [`HookSet`] is the ready-made hook: it captures any set of points and applies interventions
//! (add a vector, replace, zero-ablate, project out a direction) at chosen positions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use ndarray::{Array2, Array3};

use crate::error::{Error, Result};

/// A named point in the forward pass where activations can be captured or edited.
///
/// All points carry `[batch, seq, width]` tensors; `width` is `d_model` except for
/// [`HookPoint::AttnZ`] (`n_heads * d_head`, heads concatenated) and the capture-only
/// [`HookPoint::AttnPattern`] (`[batch, heads, query, key]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookPoint {
    /// `hook_embed`: the token embeddings fed to block 0 (scaled by sqrt(d) for Gemma).
    Embed,
    /// `blocks.{i}.hook_resid_pre`: the residual stream entering block `i`.
    ResidPre(usize),
    /// `blocks.{i}.attn.hook_z`: per-head attention outputs before the output projection.
    AttnZ(usize),
    /// `blocks.{i}.attn.hook_pattern`: attention probabilities (opt-in, capture only).
    AttnPattern(usize),
    /// `blocks.{i}.hook_attn_out`: what the attention sub-block adds to the residual stream.
    AttnOut(usize),
    /// `blocks.{i}.hook_resid_mid`: the residual stream between attention and MLP.
    ResidMid(usize),
    /// `blocks.{i}.hook_mlp_out`: what the MLP sub-block adds to the residual stream.
    MlpOut(usize),
    /// `blocks.{i}.hook_resid_post`: the residual stream leaving block `i`.
    ResidPost(usize),
    /// `ln_final.hook_normalized`: the output of the final norm, fed to the unembedding.
    FinalNorm,
}

impl HookPoint {
    /// The hook template of residual-stream steering vectors (`{layer}` is each block).
    pub const RESID_POST_TEMPLATE: &'static str = "blocks.{layer}.hook_resid_post";
    /// The glob of every block's residual-stream output.
    pub const RESID_POST_GLOB: &'static str = "blocks.*.hook_resid_post";

    /// The block index of a per-block point, `None` for `hook_embed` and `ln_final`.
    pub fn layer(&self) -> Option<usize> {
        match *self {
            HookPoint::Embed | HookPoint::FinalNorm => None,
            HookPoint::ResidPre(l)
            | HookPoint::AttnZ(l)
            | HookPoint::AttnPattern(l)
            | HookPoint::AttnOut(l)
            | HookPoint::ResidMid(l)
            | HookPoint::MlpOut(l)
            | HookPoint::ResidPost(l) => Some(l),
        }
    }

    /// Every hook point of a model with `n_layers` blocks, in forward order.
    /// Attention patterns are included only when `with_pattern` is true (they are large).
    pub fn all(n_layers: usize, with_pattern: bool) -> Vec<HookPoint> {
        let mut v = vec![HookPoint::Embed];
        for l in 0..n_layers {
            v.push(HookPoint::ResidPre(l));
            v.push(HookPoint::AttnZ(l));
            if with_pattern {
                v.push(HookPoint::AttnPattern(l));
            }
            v.extend([
                HookPoint::AttnOut(l),
                HookPoint::ResidMid(l),
                HookPoint::MlpOut(l),
                HookPoint::ResidPost(l),
            ]);
        }
        v.push(HookPoint::FinalNorm);
        v
    }

    /// Resolves a comma-separated list of names or globs (`*` matches any run of characters)
    /// against a model with `n_layers` blocks, in forward order without duplicates.
    ///
    /// A name that matches nothing is an error naming it, and so is an explicit layer out of
    /// range. Attention patterns are matched only by patterns that mention `pattern`.
    ///
    /// ```
    /// use mindlens::hooks::HookPoint;
    /// let pts = HookPoint::resolve("blocks.*.hook_resid_post,hook_embed", 2).unwrap();
    /// assert_eq!(pts, vec![HookPoint::Embed, HookPoint::ResidPost(0), HookPoint::ResidPost(1)]);
    /// assert!(HookPoint::resolve("blocks.7.hook_resid_post", 2).is_err());
    /// ```
    pub fn resolve(patterns: &str, n_layers: usize) -> Result<Vec<HookPoint>> {
        let mut chosen = BTreeSet::new();
        for pat in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !pat.contains('*') {
                let p: HookPoint = pat.parse()?;
                if let Some(l) = p.layer() {
                    if l >= n_layers {
                        return Err(Error::Hook {
                            name: pat.to_string(),
                            msg: format!(
                                "layer {l} out of range (the model has {n_layers} blocks, 0..{})",
                                n_layers.saturating_sub(1)
                            ),
                        });
                    }
                }
                chosen.insert(p);
                continue;
            }
            let with_pattern = pat.contains("pattern");
            let matched: Vec<HookPoint> = HookPoint::all(n_layers, with_pattern)
                .into_iter()
                .filter(|p| glob_match(pat, &p.to_string()))
                .collect();
            if matched.is_empty() {
                return Err(Error::Hook {
                    name: pat.to_string(),
                    msg: "matches no hook point (try blocks.*.hook_resid_post, hook_embed, ln_final.hook_normalized)"
                        .into(),
                });
            }
            chosen.extend(matched);
        }
        if chosen.is_empty() {
            return Err(Error::Hook {
                name: patterns.to_string(),
                msg: "no hook points given".into(),
            });
        }
        let order = HookPoint::all(n_layers, true);
        Ok(order.into_iter().filter(|p| chosen.contains(p)).collect())
    }
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HookPoint::Embed => write!(f, "hook_embed"),
            HookPoint::ResidPre(l) => write!(f, "blocks.{l}.hook_resid_pre"),
            HookPoint::AttnZ(l) => write!(f, "blocks.{l}.attn.hook_z"),
            HookPoint::AttnPattern(l) => write!(f, "blocks.{l}.attn.hook_pattern"),
            HookPoint::AttnOut(l) => write!(f, "blocks.{l}.hook_attn_out"),
            HookPoint::ResidMid(l) => write!(f, "blocks.{l}.hook_resid_mid"),
            HookPoint::MlpOut(l) => write!(f, "blocks.{l}.hook_mlp_out"),
            HookPoint::ResidPost(l) => write!(f, "blocks.{l}.hook_resid_post"),
            HookPoint::FinalNorm => write!(f, "ln_final.hook_normalized"),
        }
    }
}

impl FromStr for HookPoint {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |msg: &str| Error::Hook {
            name: s.to_string(),
            msg: msg.to_string(),
        };
        match s {
            "hook_embed" => return Ok(HookPoint::Embed),
            "ln_final.hook_normalized" => return Ok(HookPoint::FinalNorm),
            _ => {}
        }
        let rest = s.strip_prefix("blocks.").ok_or_else(|| {
            bad("unknown hook name (expected hook_embed, ln_final.hook_normalized or blocks.{i}.<hook>)")
        })?;
        let (layer, name) = rest.split_once('.').ok_or_else(|| bad("expected blocks.{i}.<hook>"))?;
        let l: usize = layer
            .parse()
            .map_err(|_| bad("the block index must be a non-negative integer"))?;
        Ok(match name {
            "hook_resid_pre" => HookPoint::ResidPre(l),
            "hook_resid_mid" => HookPoint::ResidMid(l),
            "hook_resid_post" => HookPoint::ResidPost(l),
            "hook_attn_out" => HookPoint::AttnOut(l),
            "hook_mlp_out" => HookPoint::MlpOut(l),
            "attn.hook_z" => HookPoint::AttnZ(l),
            "attn.hook_pattern" => HookPoint::AttnPattern(l),
            _ => return Err(bad(
                "unknown block hook (known: hook_resid_pre, hook_resid_mid, hook_resid_post, hook_attn_out, hook_mlp_out, attn.hook_z, attn.hook_pattern)",
            )),
        })
    }
}

/// Matches `name` against a glob where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Where the current forward call sits in the (left-padded) batch.
///
/// Columns index the padded layout; row `r`'s real token positions start at column
/// `pad_left[r]`. With a KV cache, a call covers only the new columns `offset..offset + len`.
#[derive(Clone, Debug)]
pub struct HookCtx<'a> {
    /// First column covered by this forward call.
    pub offset: usize,
    /// Number of columns covered by this call.
    pub len: usize,
    /// Left-padding columns of each batch row.
    pub pad_left: &'a [usize],
    /// Prompt length (real tokens) of each row; later positions were generated.
    pub prompt_len: &'a [usize],
}

impl HookCtx<'_> {
    /// The token position (0-based, padding excluded) of column `col` in row `row`,
    /// or `None` when that column is padding.
    pub fn position(&self, row: usize, col: usize) -> Option<usize> {
        col.checked_sub(self.pad_left[row])
    }

    /// Number of rows in the batch.
    pub fn batch(&self) -> usize {
        self.pad_left.len()
    }
}

/// Something called at hook points during a forward pass.
///
/// `on` receives the activation and returns the (possibly edited) activation that the
/// forward pass continues with. Return `x` unchanged to only read it.
pub trait Hook<B: Backend> {
    /// Whether this hook wants to be called at `point`. Called once per point per forward.
    fn wants(&self, point: HookPoint) -> bool;
    /// Called with the `[batch, seq, width]` activation at `point`.
    fn on(&mut self, point: HookPoint, x: Tensor<B, 3>, ctx: &HookCtx) -> Tensor<B, 3>;
    /// Called with attention probabilities `[batch, heads, query, key]` of block `layer`
    /// when [`Hook::wants`] is true for [`HookPoint::AttnPattern`]. Capture only.
    fn on_pattern(&mut self, _layer: usize, _pattern: Tensor<B, 4>, _ctx: &HookCtx) {}
    /// The forward pass may stop after this block: a hook that only reads early layers
    /// saves the rest of the network. The forward then returns that block's residual
    /// stream instead of final-normed states, so no logits can be computed.
    fn stop_after(&self) -> Option<usize> {
        None
    }
}

/// The empty hook: a forward pass with it is a plain forward pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHooks;

impl<B: Backend> Hook<B> for NoHooks {
    #[inline]
    fn wants(&self, _point: HookPoint) -> bool {
        false
    }
    fn on(&mut self, _point: HookPoint, x: Tensor<B, 3>, _ctx: &HookCtx) -> Tensor<B, 3> {
        x
    }
}

/// Which token positions an intervention applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Positions {
    /// Every position, prompt and generated.
    All,
    /// Prompt positions only.
    Prompt,
    /// Generated positions only.
    Generated,
    /// Every position from this one on (0-based, padding excluded).
    From(usize),
    /// Exactly these positions.
    At(Vec<usize>),
}

impl Positions {
    fn contains(&self, pos: usize, prompt_len: usize) -> bool {
        match self {
            Positions::All => true,
            Positions::Prompt => pos < prompt_len,
            Positions::Generated => pos >= prompt_len,
            Positions::From(p) => pos >= *p,
            Positions::At(v) => v.contains(&pos),
        }
    }
}

/// What an intervention does to the activation at the chosen positions.
#[derive(Clone, Debug)]
pub enum Edit {
    /// `x + coef * vector` (activation steering).
    Add {
        /// The direction, of the hook's width.
        vector: Vec<f32>,
        /// Its coefficient.
        coef: f32,
    },
    /// `x := vector` (activation patching, mean ablation with a mean vector).
    Replace {
        /// The value written at every chosen position.
        vector: Vec<f32>,
    },
    /// `x := 0` (zero ablation).
    Zero,
    /// `x - (x . u) u` with `u` the unit `direction` (directional ablation, Arditi et al.).
    ProjectOut {
        /// The direction to remove (normalised internally).
        direction: Vec<f32>,
    },
}

/// An edit at one hook point and a set of positions.
#[derive(Clone, Debug)]
pub struct Intervention {
    /// Where to apply it.
    pub point: HookPoint,
    /// What to do.
    pub edit: Edit,
    /// At which token positions.
    pub positions: Positions,
}

impl Intervention {
    /// Adds `coef * vector` at every position of `point` (what `mindlens generate --steer` does).
    pub fn add(point: HookPoint, vector: Vec<f32>, coef: f32) -> Self {
        Intervention {
            point,
            edit: Edit::Add { vector, coef },
            positions: Positions::All,
        }
    }

    /// Restricts the intervention to `positions`.
    pub fn at(mut self, positions: Positions) -> Self {
        self.positions = positions;
        self
    }
}

/// An intervention whose vector has been checked and moved to the device.
struct Active<B: Backend> {
    point: HookPoint,
    kind: ActiveEdit<B>,
    positions: Positions,
}

enum ActiveEdit<B: Backend> {
    Add(Tensor<B, 3>),
    Replace(Tensor<B, 3>),
    Zero,
    ProjectOut(Tensor<B, 3>),
}

/// Activations captured at one hook point: one array per batch row, `[seq, width]`,
/// padding removed, positions in order.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// Width of each position's vector.
    pub width: usize,
    /// Per row, the flattened `[positions, width]` data.
    pub rows: Vec<Vec<f32>>,
}

impl Captured {
    /// Row `r` as an ndarray `[seq, width]`.
    pub fn row(&self, r: usize) -> Array2<f32> {
        let data = self.rows[r].clone();
        let n = data.len() / self.width.max(1);
        Array2::from_shape_vec((n, self.width), data).expect("captured row has whole positions")
    }
}

/// The standard hook: captures a set of points and applies interventions.
///
/// ```no_run
/// # use mindlens::prelude::*;
/// let model = Model::<Cpu>::load("smollm2-135m-instruct", &Default::default())?;
/// let mut hooks = HookSet::capture(HookPoint::resolve("blocks.*.hook_resid_post", model.config.n_layers)?);
/// let ids = model.tokenizer.encode("The capital of France is", true)?;
/// model.run(&[ids], &mut hooks, LogitsMode::None)?;
/// let layer3 = hooks.captured(HookPoint::ResidPost(3)).unwrap().row(0); // [seq, 576]
/// # Ok::<(), mindlens::Error>(())
/// ```
pub struct HookSet<B: Backend> {
    capture: BTreeSet<HookPoint>,
    active: Vec<Active<B>>,
    store: BTreeMap<HookPoint, Captured>,
    pattern_store: BTreeMap<usize, Vec<Array3<f32>>>,
}

impl<B: Backend> Default for HookSet<B> {
    fn default() -> Self {
        HookSet {
            capture: BTreeSet::new(),
            active: Vec::new(),
            store: BTreeMap::new(),
            pattern_store: BTreeMap::new(),
        }
    }
}

impl<B: Backend> HookSet<B> {
    /// A hook set that only captures `points`.
    pub fn capture(points: impl IntoIterator<Item = HookPoint>) -> Self {
        HookSet {
            capture: points.into_iter().collect(),
            ..Default::default()
        }
    }

    /// Adds an intervention after checking its vector length against `width` (the hook's
    /// width, see [`crate::model::ModelConfig::hook_width`]).
    pub fn intervene(&mut self, iv: Intervention, width: usize, device: &B::Device) -> Result<()> {
        if matches!(iv.point, HookPoint::AttnPattern(_)) {
            return Err(Error::Hook {
                name: iv.point.to_string(),
                msg: "attention patterns can be captured but not edited".into(),
            });
        }
        let upload = |v: &[f32], what: &str| -> Result<Tensor<B, 3>> {
            if v.len() != width {
                return Err(Error::Invalid(format!(
                    "{what} for {} has length {}, but that hook has width {width}",
                    iv.point,
                    v.len()
                )));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Error::Invalid(format!(
                    "{what} for {} contains NaN or infinity",
                    iv.point
                )));
            }
            Ok(Tensor::<B, 1>::from_data(TensorData::new(v.to_vec(), [width]), device).reshape([1, 1, width]))
        };
        let kind = match &iv.edit {
            Edit::Add { vector, coef } => {
                let scaled: Vec<f32> = vector.iter().map(|x| x * coef).collect();
                ActiveEdit::Add(upload(&scaled, "steering vector")?)
            }
            Edit::Replace { vector } => ActiveEdit::Replace(upload(vector, "replacement vector")?),
            Edit::Zero => ActiveEdit::Zero,
            Edit::ProjectOut { direction } => {
                let norm = direction.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm == 0.0 {
                    return Err(Error::Invalid(format!("direction for {} is all zeros", iv.point)));
                }
                let unit: Vec<f32> = direction.iter().map(|x| x / norm).collect();
                ActiveEdit::ProjectOut(upload(&unit, "direction")?)
            }
        };
        self.active.push(Active {
            point: iv.point,
            kind,
            positions: iv.positions,
        });
        Ok(())
    }

    /// What was captured at `point`, if it was requested.
    pub fn captured(&self, point: HookPoint) -> Option<&Captured> {
        self.store.get(&point)
    }

    /// Takes the captured activations out of the set, leaving it empty for the next run.
    pub fn take_captured(&mut self) -> BTreeMap<HookPoint, Captured> {
        std::mem::take(&mut self.store)
    }

    /// Captured attention patterns of block `layer`: per row `[heads, query, key]`.
    pub fn captured_pattern(&self, layer: usize) -> Option<&Vec<Array3<f32>>> {
        self.pattern_store.get(&layer)
    }

    /// Forgets everything captured so far (interventions stay).
    pub fn clear(&mut self) {
        self.store.clear();
        self.pattern_store.clear();
    }

    fn position_mask(positions: &Positions, ctx: &HookCtx, device: &B::Device) -> Option<Tensor<B, 3>> {
        if *positions == Positions::All {
            return None;
        }
        let b = ctx.batch();
        let mut m = vec![0f32; b * ctx.len];
        for r in 0..b {
            for j in 0..ctx.len {
                if let Some(pos) = ctx.position(r, ctx.offset + j) {
                    if positions.contains(pos, ctx.prompt_len[r]) {
                        m[r * ctx.len + j] = 1.0;
                    }
                }
            }
        }
        Some(Tensor::<B, 1>::from_data(TensorData::new(m, [b * ctx.len]), device).reshape([b, ctx.len, 1]))
    }

    fn store_capture(&mut self, point: HookPoint, x: &Tensor<B, 3>, ctx: &HookCtx) {
        let [b, s, w] = x.dims();
        let data: Vec<f32> = x.to_data().convert::<f32>().into_vec().expect("float tensor");
        let entry = self.store.entry(point).or_insert_with(|| Captured {
            width: w,
            rows: vec![Vec::new(); b],
        });
        for r in 0..b {
            // Without a KV cache every generation step recomputes earlier positions: keep each
            // position once, the first time it is seen, so both paths give identical captures.
            let have = entry.rows[r].len() / w;
            let first_col = (ctx.pad_left[r] + have).max(ctx.offset);
            for col in first_col..ctx.offset + s {
                let j = col - ctx.offset;
                entry.rows[r].extend_from_slice(&data[(r * s + j) * w..(r * s + j + 1) * w]);
            }
        }
    }
}

impl<B: Backend> Hook<B> for HookSet<B> {
    fn wants(&self, point: HookPoint) -> bool {
        self.capture.contains(&point) || self.active.iter().any(|a| a.point == point)
    }

    fn on(&mut self, point: HookPoint, mut x: Tensor<B, 3>, ctx: &HookCtx) -> Tensor<B, 3> {
        for a in self.active.iter().filter(|a| a.point == point) {
            let device = x.device();
            let mask = Self::position_mask(&a.positions, ctx, &device);
            x = match (&a.kind, mask) {
                (ActiveEdit::Add(v), None) => x + v.clone(),
                (ActiveEdit::Add(v), Some(m)) => x + m * v.clone(),
                (ActiveEdit::Replace(v), None) => x.zeros_like() + v.clone(),
                (ActiveEdit::Replace(v), Some(m)) => x.clone() - m.clone() * x + m * v.clone(),
                (ActiveEdit::Zero, None) => x.zeros_like(),
                (ActiveEdit::Zero, Some(m)) => x.clone() - m * x,
                (ActiveEdit::ProjectOut(u), mask) => {
                    let proj = (x.clone() * u.clone()).sum_dim(2) * u.clone();
                    match mask {
                        None => x - proj,
                        Some(m) => x - m * proj,
                    }
                }
            };
        }
        if self.capture.contains(&point) {
            self.store_capture(point, &x, ctx);
        }
        x
    }

    fn on_pattern(&mut self, layer: usize, p: Tensor<B, 4>, ctx: &HookCtx) {
        if !self.capture.contains(&HookPoint::AttnPattern(layer)) {
            return;
        }
        let [b, h, q, k] = p.dims();
        let data: Vec<f32> = p.to_data().convert::<f32>().into_vec().expect("float tensor");
        let rows = self.pattern_store.entry(layer).or_default();
        for r in 0..b {
            // Patterns are kept for full (uncached) forward passes: query and key columns
            // then coincide, and padding is cut from both axes.
            let pad = ctx.pad_left[r];
            let n = q.saturating_sub(pad);
            let mut a = Array3::<f32>::zeros((h, n, k.saturating_sub(pad)));
            for hh in 0..h {
                for i in 0..n {
                    for j in 0..k - pad {
                        a[[hh, i, j]] = data[((r * h + hh) * q + i + pad) * k + j + pad];
                    }
                }
            }
            rows.push(a);
        }
    }
}
