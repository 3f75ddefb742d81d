//! Step 4, steering on questions about held-out entities: the best unknown and known latents'
//! decoder rows, the mean difference unknown − known (and its negation) and a random
//! direction of the same norm, each added with a relative strength over the prompt
//! positions, and the mean difference ablated; refusal rate on known entities and
//! hallucination rate on unknown and fabricated ones; the KL of every condition on neutral
//! prompts.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;
use serde::Serialize;

use super::super::answers::{first_line, judge, leaks_answer, Verdict};
use super::super::data::{is_unknown, Entity, Frames, FABRICATED, KNOWN, UNKNOWN};
use super::super::options::KnowledgeOptions;
use super::super::results::{ConditionResult, Example, Rates, SaeSection, SteerStats, SteeringSection};
use super::ask::{complete, question_prompt, Prompt};
use super::probe::{layer_of, Acts};
use super::sae::sae_dir;
use crate::artifact::write_jsonl;
use crate::concepts::data::{alpha64, spread};
use crate::concepts::SuiteRun;
use crate::error::{Error, Result};
use crate::hooks::{HookSet, Positions};
use crate::model::Model;
use crate::sae::saelens;
use crate::steer::direction::{mean_difference, mean_norm, random_direction, to_f32, with_norm};
use crate::steer::sweep::NeutralBaseline;
use crate::steer::vector::{cosine, norm};
use crate::steer::{add_ablation, add_steering, SteeringVectors, Strength};

/// The added-direction conditions, in report order.
pub(in super::super) const ADDED: [&str; 5] = [
    "unknown_latent",
    "known_latent",
    "unknown_mean_diff",
    "known_mean_diff",
    "random",
];

/// A question asked while steering.
struct SteerItem {
    category: &'static str,
    entity: usize,
    question: usize,
    prompt: Prompt,
}

/// A line of `steering_answers.jsonl` (fields in the untyped suite's order).
#[derive(Serialize)]
struct SteeredRow<'a> {
    alpha: Option<f64>,
    answer: &'a str,
    category: &'a str,
    condition: &'a str,
    correct: bool,
    entity: &'a str,
    hallucination: bool,
    question: &'a str,
    raw: &'a str,
    refusal: bool,
    #[serde(rename = "type")]
    kind: &'a str,
}

fn rates(verdicts: &[Verdict], items: &[SteerItem], cats: &[&str]) -> Rates {
    let idx: Vec<usize> = (0..items.len())
        .filter(|&i| cats.contains(&items[i].category))
        .collect();
    let frac = |f: fn(&Verdict) -> bool| {
        if idx.is_empty() {
            f64::NAN
        } else {
            idx.iter().filter(|&&i| f(&verdicts[i])).count() as f64 / idx.len() as f64
        }
    };
    Rates {
        n: idx.len(),
        refusal: frac(|v| v.refusal),
        hallucination: frac(|v| v.hallucination),
        correct: frac(|v| v.correct),
        empty: frac(|v| v.empty),
    }
}

/// What the steering step reads.
pub(in super::super) struct SteerInput<'a> {
    pub(in super::super) acts: &'a Acts,
    pub(in super::super) selected: &'a [Entity],
    pub(in super::super) frames: &'a Frames,
    pub(in super::super) status: &'a [&'static str],
    pub(in super::super) select: &'a [usize],
    pub(in super::super) held: &'a [usize],
    pub(in super::super) sae: &'a SaeSection,
    /// The known probe's direction when it lives at the steering layer, else empty.
    pub(in super::super) probe_direction: &'a [f32],
    pub(in super::super) data_sha256: &'a str,
}

/// Builds and saves the directions, generates under every condition, writes
/// `steering_answers.jsonl` and returns the rates.
pub(in super::super) fn steer<B: Backend>(
    model: &Model<B>,
    opts: &KnowledgeOptions,
    run: &SuiteRun,
    input: SteerInput,
) -> Result<SteeringSection> {
    let SteerInput {
        acts,
        selected,
        frames,
        status,
        select,
        held,
        sae,
        probe_direction,
        data_sha256,
    } = input;
    let out = run.out();
    let layer = sae.layer;
    let x = layer_of(acts, layer)?.mapv(f64::from);
    let known_rows: Vec<usize> = select.iter().copied().filter(|&i| status[i] == KNOWN).collect();
    let unknown_rows: Vec<usize> = select.iter().copied().filter(|&i| is_unknown(status[i])).collect();
    let unknown_md = to_f32(&mean_difference(x.view(), &unknown_rows, &known_rows)?);
    let known_md: Vec<f32> = unknown_md.iter().map(|v| -v).collect();
    let md_norm = norm(&unknown_md);
    // The norm is irrelevant under a relative strength; matched anyway, for the record.
    let random = with_norm(&random_direction(unknown_md.len(), opts.seed), md_norm);
    // The SAE as saved (by this run, or given): the stage that chose its latents may have
    // finished in an earlier process.
    let (weights, _) = saelens::load(&sae_dir(opts, out))?;
    let best_unknown = sae.unknown_latents[0].latent;
    let best_known = sae.known_latents[0].latent;
    let unknown_lat = weights.w_dec.row(best_unknown).to_vec();
    let known_lat = weights.w_dec.row(best_known).to_vec();
    // Residual norms of the entity frames at this layer, which relative alphas scale by.
    let resid_norm = mean_norm(x.view());
    // Saved under these names in `OUT/vectors/`, so `mindlens steer apply --vector
    // OUT/vectors/unknown --relative` reproduces a condition; the random one is not saved.
    fn saved_as(name: &str) -> Option<&str> {
        match name {
            "unknown_mean_diff" => Some("unknown"),
            "known_mean_diff" => Some("known"),
            "random" => None,
            other => Some(other),
        }
    }
    let directions: [(&str, &Vec<f32>); 5] = [
        ("unknown_latent", &unknown_lat),
        ("known_latent", &known_lat),
        ("unknown_mean_diff", &unknown_md),
        ("known_mean_diff", &known_md),
        ("random", &random),
    ];
    let mut vectors: BTreeMap<&str, SteeringVectors> = BTreeMap::new();
    for (name, v) in directions {
        let method = if name.ends_with("latent") {
            "sae-decoder"
        } else if name == "random" {
            "random"
        } else {
            "mean-diff"
        };
        let mut sv = SteeringVectors::residual(
            &model.name,
            method,
            BTreeMap::from([(layer, v.clone())]),
            BTreeMap::from([(layer, resid_norm)]),
        );
        sv.meta.data_sha256 = data_sha256.to_string();
        sv.meta.stats = serde_json::json!({"suite": "knowledge", "direction": name});
        if let Some(dir) = saved_as(name) {
            sv.save(&out.join("vectors").join(dir))?;
        }
        vectors.insert(name, sv);
    }

    // Questions about held-out known and unknown entities and about fabricated ones.
    let max = opts.max_steer_entities;
    let held_of = |want: &str| -> Vec<usize> { held.iter().copied().filter(|&i| status[i] == want).collect() };
    let cats: [(&'static str, Vec<usize>); 3] = [
        (KNOWN, spread(&held_of(KNOWN), max)),
        (UNKNOWN, spread(&held_of(UNKNOWN), max)),
        (FABRICATED, spread(&held_of(FABRICATED), max)),
    ];
    let mut items = Vec::new();
    let mut entities = BTreeMap::new();
    for (cat, ents) in &cats {
        entities.insert(cat.to_string(), ents.len());
        for &i in ents {
            let e = &selected[i];
            for (qi, q) in e.questions.iter().enumerate() {
                if leaks_answer(&e.entity, &q.answers) {
                    continue;
                }
                items.push(SteerItem {
                    category: cat,
                    entity: i,
                    question: qi,
                    prompt: question_prompt(model, frames, opts.way_out.as_deref(), q)?,
                });
            }
        }
    }
    if items.is_empty() {
        return Err(Error::Invalid("no questions to measure steering on".into()));
    }
    let prompts: Vec<Prompt> = items.iter().map(|it| it.prompt.clone()).collect();
    let neutral = NeutralBaseline::builtin(model)?;

    let mut conditions: Vec<(&str, Option<f32>)> = vec![("original", None)];
    for &a in &opts.alphas {
        conditions.extend(ADDED.iter().map(|&n| (n, Some(a))));
    }
    conditions.push(("ablated", None));
    run.say(&format!(
        "steering at layer {layer}: {} conditions x {} questions",
        conditions.len(),
        items.len()
    ));
    let pb = run.bar("steering", (conditions.len() * items.len()) as u64);
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut raws_by_cond = Vec::new();
    let mut answers_by_cond: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, alpha) in &conditions {
        let mut hooks = HookSet::<B>::default();
        match (*name, alpha) {
            ("original", _) => {}
            ("ablated", _) => add_ablation(&mut hooks, model, &unknown_md)?,
            (n, Some(a)) => {
                let v = vectors
                    .get(n)
                    .ok_or_else(|| Error::Invalid(format!("no steering vector {n}")))?;
                add_steering(
                    &mut hooks,
                    model,
                    v,
                    &[layer],
                    Strength::Relative(*a),
                    Positions::Prompt,
                )?;
            }
            (n, None) => return Err(Error::Invalid(format!("condition {n} needs an alpha"))),
        }
        let (kl, perplexity) = neutral.side_effects(model, &mut hooks)?;
        let raws = complete(model, &prompts, opts.max_new_tokens, opts.batch, &mut hooks, &pb)?;
        let mut verdicts = Vec::with_capacity(items.len());
        let mut firsts = Vec::with_capacity(items.len());
        for (it, raw) in items.iter().zip(&raws) {
            let q = &selected[it.entity].questions[it.question];
            let answer = first_line(raw).to_string();
            verdicts.push(judge(&answer, &q.answers));
            firsts.push(answer);
        }
        let by_category: BTreeMap<String, Rates> = [
            (KNOWN, vec![KNOWN]),
            (UNKNOWN, vec![UNKNOWN]),
            (FABRICATED, vec![FABRICATED]),
            ("unknown_or_fabricated", vec![UNKNOWN, FABRICATED]),
        ]
        .into_iter()
        .map(|(k, c)| (k.to_string(), rates(&verdicts, &items, &c)))
        .collect();
        let label = match alpha {
            Some(a) => format!("{name}@{}", alpha64(*a)),
            None => name.to_string(),
        };
        results.push(ConditionResult {
            condition: name.to_string(),
            alpha: alpha.map(alpha64),
            by_category,
            kl,
            perplexity,
        });
        raws_by_cond.push((*name, alpha.map(alpha64), raws, verdicts, firsts.clone()));
        answers_by_cond.insert(label, firsts);
    }
    pb.finish_and_clear();
    for (name, alpha, raws, verdicts, firsts) in &raws_by_cond {
        for (k, it) in items.iter().enumerate() {
            let e = &selected[it.entity];
            let v = &verdicts[k];
            rows.push(SteeredRow {
                alpha: *alpha,
                answer: &firsts[k],
                category: it.category,
                condition: name,
                correct: v.correct,
                entity: &e.entity,
                hallucination: v.hallucination,
                question: &e.questions[it.question].question,
                raw: &raws[k],
                refusal: v.refusal,
                kind: &e.kind,
            });
        }
    }
    write_jsonl(&out.join("steering_answers.jsonl"), &rows)?;

    // Two example questions per category: the unsteered answer and each direction at the
    // largest alpha.
    let top_alpha = alpha64(opts.top_alpha());
    let mut examples = Vec::new();
    for cat in [KNOWN, UNKNOWN, FABRICATED] {
        for (k, it) in items.iter().enumerate().filter(|(_, it)| it.category == cat).take(2) {
            let mut by = BTreeMap::new();
            for (label, answers) in &answers_by_cond {
                let at_top = label
                    .rsplit_once('@')
                    .is_none_or(|(_, a)| a.parse::<f64>().ok() == Some(top_alpha));
                if at_top {
                    by.insert(label.clone(), answers[k].clone());
                }
            }
            let e = &selected[it.entity];
            examples.push(Example {
                category: cat.to_string(),
                question: format!("{} ({})", e.questions[it.question].question, e.entity),
                answers: by,
            });
        }
    }
    let stats = SteerStats {
        layer,
        added_at: format!(
            "blocks.{layer}.hook_resid_post, prompt positions only (the answer reads them through the KV cache)"
        ),
        strength: "alpha * mean residual norm of the entity frames at that layer * unit direction".into(),
        resid_norm,
        mean_diff_norm: md_norm,
        unknown_latent: best_unknown,
        known_latent: best_known,
        cosine_unknown_latent_mean_diff: cosine(&unknown_lat, &unknown_md),
        cosine_known_latent_mean_diff: cosine(&known_lat, &known_md),
        cosine_unknown_known_latents: cosine(&unknown_lat, &known_lat),
        cosine_known_probe_mean_diff: if probe_direction.len() == known_md.len() {
            cosine(probe_direction, &known_md)
        } else {
            f64::NAN
        },
        ablation: "the unit mean difference (unknown - known) projected out of the embeddings and every attention \
                   and MLP output, at every position"
            .into(),
        questions: items.len(),
        entities,
    };
    Ok(SteeringSection {
        layer,
        stats,
        conditions: results,
        examples,
    })
}
