//! Text generation with hooks: greedy or sampled, batched, with or without a KV cache.
//!
//! Interventions in the hook set stay active at every generated position. With the KV cache
//! each step runs only the new column; without it each step reruns the whole sequence. Both
//! give the same tokens and, through [`crate::hooks::HookSet`], the same captured activations.

use burn::tensor::backend::Backend;

use crate::error::{Error, Result};
use crate::hooks::{Hook, HookCtx};
use crate::model::{KvCache, Model, PaddedBatch};

/// Settings for [`Model::generate`].
#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// Maximum number of new tokens per prompt.
    pub max_new_tokens: usize,
    /// Sampling temperature; 0 means greedy.
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f32,
    /// Seed of the sampler.
    pub seed: u64,
    /// Tokens that end a row's generation (the model's EOS and end-of-turn tokens by default).
    pub stop_tokens: Vec<u32>,
    /// Whether to reuse keys and values of earlier positions.
    pub use_cache: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 32,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            stop_tokens: Vec::new(),
            use_cache: true,
        }
    }
}

/// Why a row stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A stop token was produced (it is included in `tokens`).
    StopToken,
    /// `max_new_tokens` was reached.
    MaxTokens,
    /// The longest row filled the model's context window.
    ContextWindow,
}

/// The continuation of one prompt.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Generation {
    /// New token ids.
    pub tokens: Vec<u32>,
    /// New text (special tokens skipped).
    pub text: String,
    /// Why generation ended.
    pub stop: StopReason,
}

/// A small deterministic generator (SplitMix64), so sampling is reproducible from a seed
/// without pulling in a random-number crate.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(1e-300);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Picks the next token from one row of logits.
pub fn sample(logits: &[f32], temperature: f32, top_p: f32, rng: &mut SplitMix64) -> u32 {
    if temperature <= 0.0 {
        return argmax(logits);
    }
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i as u32, (((l - max) / temperature) as f64).exp()))
        .collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut n = 0;
    for p in &probs {
        kept += p.1;
        n += 1;
        if kept >= top_p as f64 {
            break;
        }
    }
    let mut u = rng.next_f64() * kept;
    for p in &probs[..n] {
        if u < p.1 {
            return p.0;
        }
        u -= p.1;
    }
    probs[n - 1].0
}

/// Index of the largest value (the first on ties, as `torch.argmax`).
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

impl<B: Backend> Model<B> {
    /// Generates continuations of `prompts` (token ids) as one left-padded batch.
    pub fn generate(
        &self,
        prompts: &[Vec<u32>],
        opts: &GenerateOptions,
        hooks: &mut dyn Hook<B>,
    ) -> Result<Vec<Generation>> {
        if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
            return Err(Error::Invalid(format!("prompt {i} has no tokens")));
        }
        if !(opts.top_p > 0.0 && opts.top_p <= 1.0) || opts.temperature < 0.0 || !opts.temperature.is_finite() {
            return Err(Error::Invalid(format!(
                "bad sampling settings: temperature {} (>= 0), top_p {} (in (0, 1])",
                opts.temperature, opts.top_p
            )));
        }
        let b = prompts.len();
        let stop: Vec<u32> = if opts.stop_tokens.is_empty() {
            self.tokenizer.eos_ids.clone()
        } else {
            opts.stop_tokens.clone()
        };
        let batch = PaddedBatch::new(prompts, self.pad_id());
        let (pad_left, prompt_len) = (batch.pad_left.clone(), batch.lens.clone());
        // All columns so far, row-major per row; grows by one column per step.
        let mut rows: Vec<Vec<u32>> = (0..b)
            .map(|r| batch.tokens[r * batch.cols..(r + 1) * batch.cols].to_vec())
            .collect();
        let mut out: Vec<Vec<u32>> = vec![Vec::new(); b];
        let mut done: Vec<Option<StopReason>> = vec![None; b];
        let mut cache = opts.use_cache.then(|| KvCache::new(self.config.n_layers));
        let mut rng = SplitMix64::new(opts.seed);
        let mut fed = 0; // columns already in the cache
                         // Positions past the window were never trained; stop there rather than run on.
        let room = self.config.max_positions.saturating_sub(batch.cols);
        let window_stops = room < opts.max_new_tokens;

        for _ in 0..opts.max_new_tokens.min(room) {
            let cols = rows[0].len();
            let offset = if cache.is_some() { fed } else { 0 };
            let len = cols - offset;
            let tokens: Vec<u32> = rows.iter().flat_map(|r| r[offset..].iter().copied()).collect();
            let ctx = HookCtx {
                offset,
                len,
                pad_left: &pad_left,
                prompt_len: &prompt_len,
            };
            let h = self.forward(&tokens, &ctx, cache.as_mut(), hooks)?;
            fed = cols;
            let [_, s, d] = h.dims();
            let last = self.unembed(h.slice([0..b, s - 1..s, 0..d]));
            let v = last.dims()[2];
            let logits: Vec<f32> = last.into_data().convert::<f32>().into_vec().expect("float tensor");
            for r in 0..b {
                let next = if done[r].is_some() {
                    self.pad_id()
                } else {
                    let t = sample(&logits[r * v..(r + 1) * v], opts.temperature, opts.top_p, &mut rng);
                    out[r].push(t);
                    if stop.contains(&t) {
                        done[r] = Some(StopReason::StopToken);
                    }
                    t
                };
                rows[r].push(next);
            }
            if done.iter().all(Option::is_some) {
                break;
            }
        }
        out.into_iter()
            .zip(done)
            .map(|(tokens, d)| {
                let text = self.tokenizer.decode(&tokens, true)?;
                Ok(Generation {
                    tokens,
                    text,
                    stop: d.unwrap_or(if window_stops {
                        StopReason::ContextWindow
                    } else {
                        StopReason::MaxTokens
                    }),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_and_sampling_respects_top_p() {
        let logits = [0.0, 3.0, 1.0, 2.9];
        let mut rng = SplitMix64::new(7);
        assert_eq!(sample(&logits, 0.0, 1.0, &mut rng), 1);
        // top_p small enough keeps only the best token.
        for _ in 0..50 {
            assert_eq!(sample(&logits, 1.0, 0.3, &mut rng), 1);
        }
        // With full nucleus, both near-tied tokens appear.
        let seen: std::collections::BTreeSet<u32> = (0..200).map(|_| sample(&logits, 1.0, 1.0, &mut rng)).collect();
        assert!(seen.contains(&1) && seen.contains(&3), "{seen:?}");
    }
}
