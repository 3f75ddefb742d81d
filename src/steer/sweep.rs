//! Steering sweeps over layer x strength with honest metrics: the probability of the
//! behaviour-matching option on A/B items (renormalised over the options, averaged over both
//! option orders), KL divergence from the unsteered model on neutral prompts, and perplexity
//! on neutral text.

use std::path::Path;

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{add_steering, Strength};
use super::prefix::{log_softmax, option_logprobs};
use super::vector::SteeringVectors;
use crate::chat::ChatMessage;
use crate::error::{Error, Result};
use crate::generate::GenerateOptions;
use crate::hooks::{HookSet, NoHooks, Positions};
use crate::model::{LogitsMode, Model};
use crate::prompts::PromptInput;

/// One A/B (or multiple-choice) evaluation item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    /// The question, as text or chat (exactly one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The question as a conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// The options.
    pub choices: Vec<String>,
    /// Index of the option matching the behaviour.
    pub target: usize,
}

/// Reads an items file, checking every line.
pub fn read_items(path: &Path) -> Result<Vec<Item>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let at = |m: String| Error::Invalid(format!("{}:{}: {m}", path.display(), i + 1));
        let item: Item = serde_json::from_str(line).map_err(|e| at(format!("not an item: {e}")))?;
        if item.text.is_some() == item.messages.is_some() {
            return Err(at("give exactly one of \"text\" and \"messages\"".into()));
        }
        if item.choices.len() < 2 || item.choices.len() > 26 {
            return Err(at(format!("needs 2 to 26 choices, found {}", item.choices.len())));
        }
        if item.target >= item.choices.len() {
            return Err(at(format!(
                "target {} out of range for {} choices",
                item.target,
                item.choices.len()
            )));
        }
        items.push(item);
    }
    if items.is_empty() {
        return Err(Error::bad_file(path, "no items"));
    }
    Ok(items)
}

fn letter(k: usize) -> char {
    (b'A' + k as u8) as char
}

/// How an item's options are scored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScoreMode {
    /// Mean per-token log-probability of each option's text as the answer (robust for small
    /// models, which pick answer letters almost by position alone).
    #[default]
    Text,
    /// Probability of each option's letter as the next token (CAA-style A/B).
    Letter,
}

/// The question with the options listed in `order`, as text ending where the answer begins.
fn item_context<B: Backend>(model: &Model<B>, item: &Item, order: &[usize]) -> Result<String> {
    let options: String = order
        .iter()
        .enumerate()
        .map(|(k, &c)| format!("\n({}) {}", letter(k), item.choices[c]))
        .collect();
    let letters: Vec<String> = (0..order.len()).map(|k| letter(k).to_string()).collect();
    let ask = format!("{options}\n\nAnswer with {}.", letters.join(" or "));
    Ok(match (&item.text, &item.messages) {
        (Some(t), _) => format!("{t}\n{ask}\nAnswer: "),
        (None, Some(m)) => {
            let mut m = m.clone();
            match m.iter_mut().rev().find(|x| x.role == "user") {
                Some(u) => u.content.push_str(&format!("\n{ask}")),
                None => m.push(ChatMessage::user(ask.trim())),
            }
            model.render_chat(&m)?
        }
        (None, None) => unreachable!("checked by read_items"),
    })
}

/// Token ids of `context + answer`; rendered chats already carry their special tokens.
fn encode_context<B: Backend>(model: &Model<B>, item: &Item, text: &str) -> Result<Vec<u32>> {
    Ok(model.tokenizer.encode(text, item.text.is_some())?)
}

/// The scored sequences of one item in one order: for each option, the token ids and the
/// index where the scored continuation starts.
fn item_sequences<B: Backend>(
    model: &Model<B>,
    item: &Item,
    order: &[usize],
    mode: ScoreMode,
) -> Result<Vec<(Vec<u32>, usize)>> {
    let ctx = item_context(model, item, order)?;
    match mode {
        ScoreMode::Letter => {
            // The answer starts with "(" so the next token is the bare letter in every template.
            let ids = encode_context(model, item, &format!("{ctx}("))?;
            let n = ids.len();
            Ok(vec![(ids, n)])
        }
        ScoreMode::Text => {
            let prompt = encode_context(model, item, &ctx)?;
            order
                .iter()
                .map(|&c| {
                    let full = encode_context(model, item, &format!("{ctx}{}", item.choices[c]))?;
                    // Tokens may merge across the boundary: score from the first difference.
                    let start = prompt.iter().zip(&full).take_while(|(a, b)| a == b).count().max(1);
                    Ok((full, start))
                })
                .collect()
        }
    }
}

/// Contrastive pairs from items: the same question (both option orders) answered with the
/// behaviour's option versus another, as prefilled answers marked by `response` so that
/// `mean-from:response` averages over the answer tokens.
pub fn pairs_from_items<B: Backend>(model: &Model<B>, items: &[Item]) -> Result<Vec<super::extract::Pair>> {
    let mut pairs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let fwd: Vec<usize> = (0..item.choices.len()).collect();
        let rev: Vec<usize> = fwd.iter().rev().copied().collect();
        for order in [fwd, rev] {
            let ctx = item_context(model, item, &order)?;
            for other in (0..item.choices.len()).filter(|&k| k != item.target) {
                let side = |c: usize| -> serde_json::Value {
                    // Text rows get BOS from the tokenizer rule; rendered chats carry it already.
                    match &item.text {
                        Some(_) => serde_json::json!({"text": format!("{ctx}{}", item.choices[c])}),
                        None => serde_json::json!({"raw": format!("{ctx}{}", item.choices[c])}),
                    }
                };
                pairs.push(super::extract::Pair {
                    positive: side(item.target),
                    negative: side(other),
                    id: serde_json::json!(i),
                    response: Some(
                        serde_json::json!({"positive": item.choices[item.target], "negative": item.choices[other]}),
                    ),
                });
            }
        }
    }
    Ok(pairs)
}

/// Probability of the target option for each item (renormalised over the options), for the
/// original and the reversed option order, with `hooks` applied to every forward pass. In
/// text mode the prompt of an (item, order) runs once and each option continues from its KV
/// cache (see [`option_probabilities_with`]).
pub fn option_probabilities<B: Backend>(
    model: &Model<B>,
    items: &[Item],
    mode: ScoreMode,
    hooks: &mut HookSet<B>,
) -> Result<Vec<[f64; 2]>> {
    option_probabilities_with(model, items, mode, hooks, true)
}

/// [`option_probabilities`], choosing whether text-mode options share one pass over their
/// prompt (`share_prefix`, about half the work) or each run in full (the reference the shared
/// path is tested against). Hooks should be interventions: with a shared prompt a capture
/// sees the prompt and each continuation in separate passes.
pub fn option_probabilities_with<B: Backend>(
    model: &Model<B>,
    items: &[Item],
    mode: ScoreMode,
    hooks: &mut HookSet<B>,
    share_prefix: bool,
) -> Result<Vec<[f64; 2]>> {
    let mut seqs = Vec::new();
    let mut orders = Vec::new();
    for item in items {
        let fwd: Vec<usize> = (0..item.choices.len()).collect();
        let rev: Vec<usize> = fwd.iter().rev().copied().collect();
        for o in [fwd, rev] {
            seqs.push(item_sequences(model, item, &o, mode)?);
            orders.push(o);
        }
    }
    let letter_ids: Vec<u32> = (0..26)
        .map(|k| {
            let ids = model.tokenizer.encode(&letter(k).to_string(), false)?;
            ids.first()
                .copied()
                .ok_or_else(|| Error::Invalid("a letter tokenizes to nothing".into()))
        })
        .collect::<Result<_>>()?;
    // Score of every option of every (item, order): letter logits or mean token log-prob.
    let scores_flat: Vec<Vec<f64>> = match mode {
        ScoreMode::Letter => {
            let flat: Vec<Vec<u32>> = seqs.iter().flatten().map(|s| s.0.clone()).collect();
            let mut rows = Vec::with_capacity(flat.len());
            for chunk in flat.chunks(16) {
                let logits = model.run(chunk, hooks, LogitsMode::Last)?;
                hooks.clear();
                rows.extend(logits.iter().map(|l| l.row(0).iter().map(|&v| f64::from(v)).collect()));
            }
            rows
        }
        ScoreMode::Text => option_logprobs(model, &seqs, hooks, share_prefix)?
            .into_iter()
            .flatten()
            .map(|lp| vec![lp])
            .collect(),
    };
    let mut at = 0;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut pair = [0.0; 2];
        for (o, slot) in pair.iter_mut().enumerate() {
            let order = &orders[2 * i + o];
            let scores: Vec<f64> = match mode {
                ScoreMode::Letter => {
                    let row = &scores_flat[at];
                    at += 1;
                    (0..order.len()).map(|k| row[letter_ids[k] as usize]).collect()
                }
                ScoreMode::Text => {
                    let s = (0..order.len()).map(|k| scores_flat[at + k][0]).collect();
                    at += order.len();
                    s
                }
            };
            let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = scores.iter().map(|l| (l - m).exp()).sum();
            let k_target = order.iter().position(|&c| c == item.target).expect("target in order");
            *slot = (scores[k_target] - m).exp() / z;
        }
        out.push(pair);
    }
    Ok(out)
}

/// Next-token log-probabilities at every position of each neutral prompt.
fn neutral_logprobs<B: Backend>(
    model: &Model<B>,
    neutral: &[Vec<u32>],
    hooks: &mut HookSet<B>,
) -> Result<Vec<Vec<Vec<f64>>>> {
    let logits = model.run(neutral, hooks, LogitsMode::All)?;
    hooks.clear();
    Ok(logits
        .iter()
        .map(|l| {
            l.rows()
                .into_iter()
                .map(|r| log_softmax(r.as_slice().expect("row")))
                .collect()
        })
        .collect())
}

/// Side-effect metrics against the unsteered log-probabilities `base`: mean KL(base || steered)
/// of the next-token distribution at the last position, and perplexity of the neutral texts.
fn side_effects(base: &[Vec<Vec<f64>>], steered: &[Vec<Vec<f64>>], neutral: &[Vec<u32>]) -> (f64, f64) {
    let mut kl = 0.0;
    let (mut nll, mut count) = (0.0, 0usize);
    for ((b, s), ids) in base.iter().zip(steered).zip(neutral) {
        let (bl, sl) = (b.last().expect("positions"), s.last().expect("positions"));
        kl += bl.iter().zip(sl).map(|(p, q)| p.exp() * (p - q)).sum::<f64>();
        for t in 1..ids.len() {
            nll -= s[t - 1][ids[t] as usize];
            count += 1;
        }
    }
    (kl / base.len().max(1) as f64, (nll / count.max(1) as f64).exp())
}

/// The unsteered model's next-token distributions on neutral prompts, against which any
/// intervention's side effects are measured (the sweep's KL and perplexity, for callers that
/// steer in their own way).
pub struct NeutralBaseline {
    ids: Vec<Vec<u32>>,
    base: Vec<Vec<Vec<f64>>>,
}

impl NeutralBaseline {
    /// Runs the unsteered model on `neutral` (token ids of each prompt).
    pub fn new<B: Backend>(model: &Model<B>, neutral: Vec<Vec<u32>>) -> Result<Self> {
        let base = neutral_logprobs(model, &neutral, &mut HookSet::default())?;
        Ok(NeutralBaseline { ids: neutral, base })
    }

    /// The built-in [`NEUTRAL_PROMPTS`], tokenized for `model`.
    pub fn builtin<B: Backend>(model: &Model<B>) -> Result<Self> {
        let ids = NEUTRAL_PROMPTS
            .iter()
            .map(|p| model.encode(&PromptInput::Text(p.to_string())))
            .collect::<Result<Vec<_>>>()?;
        Self::new(model, ids)
    }

    /// (mean KL(unsteered || steered) at the last position, perplexity of the neutral texts)
    /// with `hooks` active; the hooks are cleared afterwards.
    pub fn side_effects<B: Backend>(&self, model: &Model<B>, hooks: &mut HookSet<B>) -> Result<(f64, f64)> {
        let steered = neutral_logprobs(model, &self.ids, hooks)?;
        Ok(side_effects(&self.base, &steered, &self.ids))
    }
}

/// One cell of the grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridPoint {
    /// Block whose output is steered.
    pub layer: usize,
    /// Strength.
    pub alpha: f32,
    /// Mean probability of the behaviour-matching option (both orders averaged).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub metric: f64,
    /// Standard deviation over items.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub metric_std: f64,
    /// Mean |P(order 1) - P(order 2)|: how much the option order alone moves the answer.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub order_gap: f64,
    /// Mean KL(unsteered || steered) of the next token on neutral prompts, in nats.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    /// Perplexity of the neutral texts under the steered model.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub perplexity: f64,
}

/// `results.json` of a steering sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteerSweep {
    /// Always `steer-sweep`.
    pub kind: String,
    /// Vector directory.
    pub vector: String,
    /// Whether alphas are relative to the residual norm.
    pub relative: bool,
    /// How options were scored.
    pub score: ScoreMode,
    /// Evaluation items.
    pub n_items: usize,
    /// Unsteered metric and perplexity.
    pub baseline: Value,
    /// Every (layer, alpha).
    pub grid: Vec<GridPoint>,
    /// KL bound of the selection rule.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl_bound: f64,
    /// Setting chosen by [`choose`], if any qualifies.
    pub chosen: Option<Value>,
}

/// Selection rule: among positive strengths with KL <= `kl_bound` at layers outside the last
/// 20% of the network, the (layer, alpha) with the largest metric.
pub fn choose(grid: &[GridPoint], n_layers: usize, kl_bound: f64) -> Option<(usize, f32)> {
    let max_layer = (n_layers as f64 * 0.8).floor() as usize;
    grid.iter()
        .filter(|g| g.alpha > 0.0 && g.kl <= kl_bound && g.layer < max_layer && g.metric.is_finite())
        .max_by(|a, b| a.metric.total_cmp(&b.metric))
        .map(|g| (g.layer, g.alpha))
}

/// Built-in neutral prompts for side-effect metrics, used when no file is given.
pub const NEUTRAL_PROMPTS: [&str; 8] = [
    "The train left the station at nine in the morning and",
    "Water boils at a lower temperature at high altitude because",
    "To make a simple tomato sauce, first",
    "The library opens on weekdays and closes early on",
    "In the spring, many birds return to",
    "The museum's new exhibit explains how ancient",
    "A good way to learn a new language is to",
    "The committee met on Tuesday to discuss the budget for",
];

/// Settings of [`sweep`].
#[derive(Clone, Debug)]
pub struct SweepSettings {
    /// Layers to steer (one at a time).
    pub layers: Vec<usize>,
    /// Strengths.
    pub alphas: Vec<f32>,
    /// Alphas relative to the residual norm.
    pub relative: bool,
    /// Selection rule bound on KL.
    pub kl_bound: f64,
    /// Positions steered.
    pub positions: Positions,
    /// How options are scored.
    pub score: ScoreMode,
}

/// Runs the grid and picks a setting.
pub fn sweep<B: Backend>(
    model: &Model<B>,
    vectors: &SteeringVectors,
    items: &[Item],
    neutral: &[Vec<u32>],
    s: &SweepSettings,
    progress: &indicatif::ProgressBar,
) -> Result<SteerSweep> {
    let mut none = HookSet::default();
    let base_items = option_probabilities(model, items, s.score, &mut none)?;
    let base_lp = neutral_logprobs(model, neutral, &mut none)?;
    let (_, base_ppl) = side_effects(&base_lp, &base_lp, neutral);
    let base_metric = base_items.iter().map(|p| (p[0] + p[1]) / 2.0).sum::<f64>() / items.len() as f64;
    progress.set_length((s.layers.len() * s.alphas.len()) as u64);
    let mut grid = Vec::new();
    for &layer in &s.layers {
        for &alpha in &s.alphas {
            // Alpha 0 is the unsteered model: reuse the baseline instead of recomputing it.
            let (p, lp) = if alpha == 0.0 {
                (base_items.clone(), base_lp.clone())
            } else {
                let mut hooks = HookSet::default();
                let strength = if s.relative {
                    Strength::Relative(alpha)
                } else {
                    Strength::Absolute(alpha)
                };
                add_steering(&mut hooks, model, vectors, &[layer], strength, s.positions.clone())?;
                (
                    option_probabilities(model, items, s.score, &mut hooks)?,
                    neutral_logprobs(model, neutral, &mut hooks)?,
                )
            };
            let (kl, perplexity) = side_effects(&base_lp, &lp, neutral);
            let per_item: Vec<f64> = p.iter().map(|x| (x[0] + x[1]) / 2.0).collect();
            let mean = per_item.iter().sum::<f64>() / per_item.len() as f64;
            let var = per_item.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / per_item.len() as f64;
            grid.push(GridPoint {
                layer,
                alpha,
                metric: mean,
                metric_std: var.sqrt(),
                order_gap: p.iter().map(|x| (x[0] - x[1]).abs()).sum::<f64>() / p.len() as f64,
                kl,
                perplexity,
            });
            progress.inc(1);
        }
    }
    let chosen = choose(&grid, model.config.n_layers, s.kl_bound)
        .map(|(layer, alpha)| serde_json::json!({"layer": layer, "alpha": alpha}));
    Ok(SteerSweep {
        kind: "steer-sweep".into(),
        vector: String::new(),
        relative: s.relative,
        score: s.score,
        n_items: items.len(),
        baseline: serde_json::json!({"metric": base_metric, "perplexity": base_ppl}),
        grid,
        kl_bound: s.kl_bound,
        chosen,
    })
}

/// Markdown with unsteered and steered (both signs) generations for the first few items.
pub fn samples_markdown<B: Backend>(
    model: &Model<B>,
    vectors: &SteeringVectors,
    items: &[Item],
    layer: usize,
    alpha: f32,
    relative: bool,
) -> Result<String> {
    let mut md = format!(
        "# Steering samples: layer {layer}, alpha ±{alpha}{}\n",
        if relative { " (relative)" } else { "" }
    );
    let opts = GenerateOptions {
        max_new_tokens: 48,
        ..Default::default()
    };
    for item in items.iter().take(3) {
        let input = match (&item.text, &item.messages) {
            (Some(t), _) => PromptInput::Text(t.clone()),
            (_, Some(m)) => PromptInput::Messages(m.clone()),
            _ => unreachable!("checked by read_items"),
        };
        let ids = model.encode(&input)?;
        let question = item.text.clone().unwrap_or_else(|| {
            item.messages
                .as_ref()
                .and_then(|m| m.last())
                .map(|m| m.content.clone())
                .unwrap_or_default()
        });
        md.push_str(&format!("\n## {}\n", question.trim()));
        for a in [-alpha, 0.0, alpha] {
            let out = if a == 0.0 {
                model.generate(std::slice::from_ref(&ids), &opts, &mut NoHooks)?
            } else {
                let mut hooks = HookSet::default();
                let st = if relative {
                    Strength::Relative(a)
                } else {
                    Strength::Absolute(a)
                };
                add_steering(&mut hooks, model, vectors, &[layer], st, Positions::All)?;
                model.generate(std::slice::from_ref(&ids), &opts, &mut hooks)?
            };
            md.push_str(&format!(
                "\n**alpha {a:+}**: {}\n",
                out[0].text.trim().replace('\n', " ")
            ));
        }
    }
    Ok(md)
}
