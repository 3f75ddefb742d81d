//! Belief tracking (issue #9): does a small language model represent what a story character
//! believes separately from what is true, and does that representation move its answers?
//! After Zhu et al. (ICML 2024, "Language Models Represent Beliefs of Self and Others").
//!
//! Data: `probes/belief/` (see its README). Every story is told in three surface forms
//! (`f0`, `f1`, `f2`) and in one of two conditions (`false_belief`, `true_belief`); each
//! statement row is `"Story: ...\nBelief: ..."` labelled with `protagonist` (the character
//! believes the statement) and `oracle` (the statement is true).
//!
//! [`Belief`] runs five steps:
//! 1. harvest `blocks.L.hook_resid_post` (and `blocks.L.attn.hook_z` with `heads`) at the last
//!    token of every statement into `OUT/store` (resumed when it already holds this data);
//! 2. logistic probes for `protagonist` and `oracle` per layer and per head, k-fold
//!    cross-validated with folds grouped by story and a permuted-label control
//!    ([`crate::probe::sweep::sweep_store`]); the best layer's probes are saved to
//!    `OUT/probes/{protagonist,oracle}/` for `mindlens probe apply`;
//! 3. robustness to wording: probes trained on `f0` statements of the training stories and
//!    tested on `f0`, `f1` and `f2` statements of held-out stories;
//! 4. steering: the question prompts are scored with and without adding a direction, and
//!    two-option accuracy is reported separately for false- and true-belief stories;
//! 5. `results.json` (with a `headline`), figures (SVG + PNG) and a short `report.md`.
//!
//! Probes, transfer and steering are stages ([`SuiteRun::stage`]): a killed run started again
//! continues after the last one it finished.
//!
//! Steering direction and sign. A question has no "statement" to which a belief label
//! belongs, so adding a statement-level direction to it is a heuristic. We use the one
//! defensible reading of Zhu et al.: the residual direction that separates statements the
//! protagonist believes from statements they do not (difference of class means of
//! `protagonist = true` minus `false` at the best protagonist layer). Because `protagonist`
//! is balanced against `oracle` over the data, this direction carries "what the character
//! believes" rather than "what is true" or "what happened last". A positive alpha should then
//! raise the model's reliance on the character's perspective: it can help false-belief
//! questions, and if it merely pushed towards "not the current state" it would hurt
//! true-belief questions, which is why both conditions are always reported. The head variant
//! (inference-time intervention, Li et al. 2023) adds each of the best protagonist heads'
//! probe directions to that head's slice of `attn.hook_z`. A random residual direction of
//! the same strength is the control.

mod data;
mod figures;
mod options;
mod probes;
mod report;
mod results;
mod steering;

pub use options::BeliefOptions;
pub use probes::{FormScore, LabelSweeps, TransferLayer};
pub use results::{
    BeliefResults, BestHeads, ConditionEffect, DataSummary, Effect, Headline, OptionsUsed, SteerHeadline, Transfer,
    TransferAt, TransferHeadline, Unit,
};
pub use steering::{ByCondition, CondScore, HeadInfo, Setting, SteerStats, Steering};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

use super::data::{alpha64, check_layers};
use super::{Suite, SuiteRun};
use crate::error::{Error, Result};
use crate::harvest::{harvest_rows, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;
use data::{balanced, question_item, select_stories, Data};
use steering::{Questions, SteerInputs};

/// The two labels probed, in the order results list them.
pub const LABELS: [&str; 2] = ["protagonist", "oracle"];
/// The two story conditions, reported separately everywhere.
pub const CONDITIONS: [&str; 2] = ["false_belief", "true_belief"];
/// The surface form transfer probes are trained on.
pub const TRAIN_FORM: &str = "f0";

/// The belief-tracking suite.
pub struct Belief;

impl Suite for Belief {
    const KIND: &'static str = "belief-suite";
    type Options = BeliefOptions;
    type Results = BeliefResults;
    type Headline = Headline;

    fn quick(n_layers: usize) -> BeliefOptions {
        BeliefOptions::quick(n_layers)
    }

    fn data_dir(o: &mut BeliefOptions) -> &mut PathBuf {
        &mut o.data_dir
    }

    fn alphas(o: &mut BeliefOptions) -> Option<&mut Vec<f32>> {
        Some(&mut o.alphas)
    }

    fn run<B: Backend>(model: &Model<B>, opts: &BeliefOptions, run: &SuiteRun) -> Result<BeliefResults> {
        run_belief(model, opts, run)
    }

    fn figures(r: &BeliefResults, dir: &Path) -> Result<Vec<PathBuf>> {
        figures::draw(r, dir)
    }

    fn report(r: &BeliefResults) -> String {
        report::report(r)
    }

    fn headline(r: &BeliefResults) -> &Headline {
        &r.headline
    }
}

fn run_belief<B: Backend>(model: &Model<B>, opts: &BeliefOptions, run: &SuiteRun) -> Result<BeliefResults> {
    let cfg = &model.config;
    let layers = check_layers(opts.layers.clone(), cfg.n_layers, "layers")?;
    let head_layers = if opts.heads {
        check_layers(
            opts.head_layers.clone().or_else(|| Some(layers.clone())),
            cfg.n_layers,
            "head layers",
        )?
    } else {
        Vec::new()
    };
    if opts.folds < 2 {
        return Err(Error::Invalid("the belief suite needs at least 2 folds".into()));
    }
    if opts.alphas.iter().any(|a| !a.is_finite()) || !opts.head_scale.is_finite() {
        return Err(Error::Invalid("steering strengths must be finite".into()));
    }
    let data = Data::read(&opts.data_dir)?;
    let stories = select_stories(&data.statements, opts.max_stories)?;
    let chosen: Vec<_> = data
        .statements
        .iter()
        .filter(|r| stories.contains(&r.story_id))
        .collect();

    // 1. Harvest, in forward order so the store lists hooks as every other store does.
    let hooks: Vec<HookPoint> = HookPoint::all(cfg.n_layers, false)
        .into_iter()
        .filter(|p| match *p {
            HookPoint::ResidPost(l) => layers.contains(&l),
            HookPoint::AttnZ(l) => head_layers.contains(&l),
            _ => false,
        })
        .collect();
    run.say(&format!("harvesting {} statements", chosen.len()));
    let out = run.out();
    let store = harvest_rows(
        model,
        &chosen,
        &out.join("data").join("statements.jsonl"),
        &out.join("store"),
        &hooks,
        PositionSpec::Last,
        run.progress(),
    )?;

    // 2-3. Probes per layer and head, then transfer across forms.
    let probes = run.stage("probes", || {
        probes::sweep_labels(
            &store,
            !head_layers.is_empty(),
            opts.folds,
            opts.seed,
            &out.join("probes"),
        )
    })?;
    let transfers: BTreeMap<String, Vec<TransferLayer>> = run.stage("transfer", || {
        LABELS
            .iter()
            .map(|&l| Ok((l.to_string(), probes::transfer(&store, l, opts.folds, opts.seed)?)))
            .collect()
    })?;

    // 4. Steering on the questions of the chosen stories and forms.
    let mut q = Questions {
        items: Vec::new(),
        conditions: Vec::new(),
    };
    let in_forms = |f: &String| opts.steer_forms.contains(f);
    for question in data
        .questions
        .iter()
        .filter(|q| stories.contains(&q.story_id) && in_forms(&q.form))
    {
        q.items.push(question_item(question)?);
        q.conditions.push(question.condition.clone());
    }
    if let Some(k) = opts.max_questions {
        let keep = balanced(&q.conditions, k);
        q.items = keep.iter().map(|&i| q.items[i].clone()).collect();
        q.conditions = keep.iter().map(|&i| q.conditions[i].clone()).collect();
    }
    if q.items.is_empty() {
        return Err(Error::Invalid(format!(
            "no questions of forms {:?} for the {} chosen stories",
            opts.steer_forms,
            stories.len()
        )));
    }
    let steering = run.stage("steering", || {
        let prot = probes::labels(&store, LABELS[0])?;
        let oracle = probes::labels(&store, LABELS[1])?;
        let best = crate::probe::sweep::best_by_accuracy(
            probes[LABELS[0]].residual.layers.iter().filter(|l| l.head.is_none()),
        );
        let inputs = SteerInputs {
            store: &store,
            protagonist: (&prot, &probes[LABELS[0]]),
            oracle: &oracle,
            layer: best.and_then(|b| b.layer).unwrap_or(0),
            alphas: &opts.alphas,
            top_heads: opts.top_heads,
            head_scale: opts.head_scale,
            seed: opts.seed,
        };
        let bar = run.bar("steering", 0);
        let s = steering::steer(model, &q, &inputs, &out.join("steering_vector"), &bar);
        bar.finish_and_clear();
        s
    })?;

    let headline = results::Headline::new(&probes, &transfers, &steering, opts.heads);
    let mut transfers = transfers;
    Ok(BeliefResults {
        kind: Belief::KIND.into(),
        model: model.name.clone(),
        data: DataSummary {
            dir: opts.data_dir.display().to_string(),
            stories: stories.len(),
            statements: chosen.len(),
            questions_steered: q.items.len(),
            steer_forms: opts.steer_forms.clone(),
        },
        options: OptionsUsed {
            max_stories: opts.max_stories,
            max_questions: opts.max_questions,
            layers,
            head_layers,
            folds: opts.folds,
            seed: opts.seed,
            steer_alphas: opts.alphas.iter().map(|&a| alpha64(a)).collect(),
            top_heads: opts.top_heads,
            head_scale: alpha64(opts.head_scale),
            probe: "logistic (C = 1) on standardised activations".into(),
            control: "permuted labels".into(),
            positions: "last token of \"Story: ...\\nBelief: ...\"".into(),
        },
        headline,
        probes,
        transfer: Transfer {
            train_form: TRAIN_FORM.into(),
            design: "probe trained on f0 statements of the training stories, tested on each form of the held-out \
                     stories (folds grouped by story)"
                .into(),
            protagonist: transfers.remove(LABELS[0]).unwrap_or_default(),
            oracle: transfers.remove(LABELS[1]).unwrap_or_default(),
        },
        steering,
    })
}
