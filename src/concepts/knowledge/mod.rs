//! Knowledge awareness (issue #8): does a small language model represent whether it knows an
//! entity before it is asked anything about it, and does that representation decide whether
//! it answers, refuses or makes something up? After Ferrando et al. (ICLR 2025, "Do I Know
//! This Entity? Knowledge Awareness and Hallucinations in Language Models") and the P(IK)
//! probes of Kadavath et al. (2022, "Language Models (Mostly) Know What They Know").
//!
//! Data: `probes/knowledge/` (see its README): real and fabricated cities, people, books and
//! teams, three attribute questions each with accepted aliases, a neutral frame
//! (`The {type} {name}`), a question frame and generic sentences without named entities.
//!
//! [`Knowledge`] runs five steps, each a resumable stage:
//! 1. **labels from behaviour** (`answers`): every question about a real entity is asked
//!    greedily and the first line of the answer is matched against the aliases
//!    ([`answer_matches`]). Questions whose answer is part of the entity's name ("Manchester
//!    United" → Manchester) are asked and recorded but not used. An entity is *known* with at
//!    least two correct answers, *unknown* with none (at least two questions asked), *partial*
//!    with one (left out of the known/unknown contrast); fabricated entities are unknown by
//!    construction;
//! 2. **entity probe** (`probe`): `blocks.L.hook_resid_post` at the last token of the neutral
//!    frame (which ends with the name), logistic known-vs-unknown probes per layer, folds
//!    grouped by entity, permuted-label control; transfer across entity types (train on three,
//!    test on the fourth) at the best layer; the best probe is saved to `out/probes/known/`
//!    with classes `["false", "true"]`, so its probability is P(known);
//! 3. **SAE latents** (`sae`) at the steering layer (the best probe layer, or the layer of the
//!    SAE given in [`KnowledgeOptions::sae`]): a small TopK SAE trained on the suite's own text
//!    (generic sentences, neutral frames, question prompts) unless one is given; latents that
//!    fire on more than `generic_drop` of generic-text tokens are dropped; separation scores
//!    (fraction of known entities where a latent fires minus fraction of unknown ones, and the
//!    reverse, minimum over entity types) rank the rest;
//! 4. **steering** (`steering`) on questions about held-out entities: the best unknown and
//!    known latents' decoder rows, the mean difference unknown − known (and its negation), a
//!    random direction, each added with a relative strength over the prompt positions, and
//!    directional ablation of the mean difference; refusal rate on known entities and
//!    hallucination rate (a non-empty answer that is neither a refusal nor correct) on
//!    unknown and fabricated ones;
//! 5. **P(IK)** (`pik`): the last token of each question prompt, probed for whether the
//!    model's own answer was correct; AUROC, Brier score, expected calibration error and a
//!    reliability diagram from pooled out-of-fold predictions.
//!
//! Directions and latents are chosen on one half of the labelled entities (stratified,
//! seeded) and steering is measured on questions about the other half, plus fabricated
//! entities, which no choice ever saw.
//!
//! Prompts are plain-text completions (`PromptInput::Text`) for every model, also for
//! SmolLM2-Instruct, which has a chat template: the question frame ("Answer in a few words.
//! \nQuestion: ...\nAnswer:") is itself a completion prompt, and the same string for every
//! model keeps their answers comparable.
//!
//! Everything is written under one output directory:
//! ```text
//! OUT/answers.jsonl            every question asked in step 1, its answer and verdict
//! OUT/labels.jsonl             every entity with its status and P(known) from the probe
//! OUT/data/                    the harvest data files (entities, SAE corpus, questions)
//! OUT/store/                   entity last-token activations (resumable)
//! OUT/sae_store/, OUT/sae/     SAE corpus activations and the SAE (SAELens layout)
//! OUT/pik_store/               question last-token activations
//! OUT/probes/{known,pik}/      saved probes for `mindlens probe apply`
//! OUT/vectors/{unknown,known}/ the mean-difference directions (SteeringVectors), and
//!                              {unknown,known}_latent/ the latents' decoder rows
//! OUT/steering_answers.jsonl   every steered answer with its verdict
//! OUT/stages/                  finished stages, for resuming
//! OUT/figures/                 probe_layers, separation, steering_rates, reliability (.svg, .png)
//! OUT/results.json, OUT/report.md
//! ```

mod answers;
mod data;
mod figures;
mod options;
mod report;
mod results;
mod steps;
mod summary;

pub use answers::{answer_matches, first_line, is_refusal, leaks_answer, normalise, REFUSAL_PHRASES};
pub use options::KnowledgeOptions;
pub use results::*;

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

use crate::artifact::write_jsonl;
use crate::concepts::data::{check_layers, spread};
use crate::concepts::{Suite, SuiteRun};
use crate::error::Result;
use crate::harvest::{harvest_rows, PositionSpec};
use crate::hooks::{HookPoint, NoHooks};
use crate::model::Model;
use data::{select_entities, split_rows, types_of, Data, EntityRow, LabelRow, KNOWN, REAL};
use steps::ask::{complete, label, prompting, questions, Prompt};
use steps::generalise::Rows;
use steps::probe::{layer_of, load_layers, probe_known, KnownProbe};
use steps::sae::{load_pretrained, sae_step, SaeInput};
use steps::steer::{steer, SteerInput};

/// The knowledge-awareness suite.
pub struct Knowledge;

impl Suite for Knowledge {
    const KIND: &'static str = "knowledge-suite";
    type Options = KnowledgeOptions;
    type Results = KnowledgeResults;
    type Headline = Headline;

    fn quick(n_layers: usize) -> KnowledgeOptions {
        KnowledgeOptions::quick(n_layers)
    }

    fn data_dir(o: &mut KnowledgeOptions) -> &mut PathBuf {
        &mut o.data_dir
    }

    fn alphas(o: &mut KnowledgeOptions) -> Option<&mut Vec<f32>> {
        Some(&mut o.alphas)
    }

    fn run<B: Backend>(model: &Model<B>, opts: &KnowledgeOptions, run: &SuiteRun) -> Result<KnowledgeResults> {
        run_knowledge(model, opts, run)
    }

    fn figures(r: &KnowledgeResults, dir: &Path) -> Result<Vec<PathBuf>> {
        figures::figures(r, dir)
    }

    fn report(r: &KnowledgeResults) -> String {
        report::report_md(r)
    }

    fn headline(r: &KnowledgeResults) -> &Headline {
        &r.headline
    }
}

fn run_knowledge<B: Backend>(model: &Model<B>, opts: &KnowledgeOptions, run: &SuiteRun) -> Result<KnowledgeResults> {
    opts.check()?;
    let out = run.out();
    let n_layers = model.config.n_layers;
    let mut layers = check_layers(opts.layers.clone(), n_layers, "knowledge layers")?;
    let pretrained = match &opts.sae {
        Some(dir) => Some(load_pretrained(dir, model)?),
        None => None,
    };
    // A given SAE fixes the steering layer, whose activations must then be harvested too.
    if let Some((_, l, _)) = &pretrained {
        if !layers.contains(l) {
            layers.push(*l);
            layers.sort_unstable();
        }
    }
    let data = Data::read(&opts.data_dir)?;
    let frames = &data.frames;
    let selected = select_entities(&data.entities, opts.max_entities);
    let generic = spread(&data.generic, opts.max_generic);
    let types = types_of(&selected);

    // 1. Labels from the model's own answers.
    let asked = questions(model, &selected, frames, opts.way_out.as_deref())?;
    let raws: Vec<String> = run.stage("answers", || {
        let n_real = selected.iter().filter(|e| e.source == REAL).count();
        run.say(&format!(
            "asking {} questions about {n_real} real and {} fabricated entities",
            asked.len(),
            selected.len() - n_real
        ));
        let prompts: Vec<Prompt> = asked.iter().map(|a| a.prompt.clone()).collect();
        let pb = run.bar("asking", prompts.len() as u64);
        let raws = complete(model, &prompts, opts.max_new_tokens, opts.batch, &mut NoHooks, &pb)?;
        pb.finish_and_clear();
        let judged = label(&selected, &asked, &raws, &model.name, opts.max_new_tokens);
        write_jsonl(&out.join("answers.jsonl"), &judged.rows)?;
        Ok(raws)
    })?;
    let ans = label(&selected, &asked, &raws, &model.name, opts.max_new_tokens);
    let status = &ans.status;

    // 2. Entity frames at every layer (a finished store is reused as it is), then the
    //    known/unknown probes.
    let rows: Vec<EntityRow> = selected
        .iter()
        .map(|e| EntityRow {
            entity: &e.entity,
            group: &e.group,
            source: &e.source,
            text: frames.neutral(e),
            kind: &e.kind,
        })
        .collect();
    run.say(&format!("entity frames: {} at {} layers", rows.len(), layers.len()));
    let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
    let store = harvest_rows(
        model,
        &rows,
        &out.join("data").join("entities.jsonl"),
        &out.join("store"),
        &hooks,
        PositionSpec::Last,
        run.progress(),
    )?;
    let acts = load_layers(&store, &layers)?;
    let kp: KnownProbe = run.stage("probe", || {
        let dir = out.join("probes").join("known");
        probe_known(&acts, &selected, status, opts, n_layers, &model.name, &dir)
    })?;
    let best_layer = kp.best.layer.unwrap_or(0);

    // Directions and latents are chosen on one half of the labelled entities.
    let known_flags: Vec<bool> = kp.labelled.iter().map(|&i| status[i] == KNOWN).collect();
    let (select, held) = split_rows(&kp.labelled, &known_flags, opts.holdout_fraction, opts.seed);

    // 2b. Does the probe read knowledge, or the look of the names?
    let generalise = run.stage("generalise", || {
        let x = layer_of(&acts, best_layer)?.mapv(f64::from);
        let rows = Rows {
            selected: &selected,
            status,
            labelled: &kp.labelled,
            select: &select,
            folds: opts.folds,
            seed: opts.seed,
        };
        steps::generalise::generalise(x.view(), best_layer, &rows)
    })?;

    // 3. SAE latents at the steering layer.
    let steer_layer = pretrained.as_ref().map_or(best_layer, |p| p.1);
    let sae = run.stage("sae", || {
        let input = SaeInput {
            layer: steer_layer,
            acts: &acts,
            selected: &selected,
            frames,
            status,
            select: &select,
            held: held.len(),
            generic: &generic,
            pretrained: pretrained.map(|(sae, _, hook)| (sae, hook)),
        };
        sae_step(model, opts, run, input)
    })?;

    // 4. Steering on held-out and fabricated entities. The probe's direction is compared with
    //    the mean difference only when both live at the same layer.
    let probe_direction: Vec<f32> = if steer_layer == best_layer {
        kp.direction.iter().map(|&v| v as f32).collect()
    } else {
        Vec::new()
    };
    let steering = run.stage("steering", || {
        let input = SteerInput {
            acts: &acts,
            selected: &selected,
            frames,
            status,
            select: &select,
            held: &held,
            sae: &sae,
            probe_direction: &probe_direction,
            data_sha256: &store.manifest.data.sha256,
        };
        steer(model, opts, run, input)
    })?;

    // 5. P(IK) on the question prompts.
    let pik = run.stage("pik", || {
        steps::pik::pik(model, opts, run, &layers, &selected, &asked, &ans.verdicts)
    })?;

    let labels: Vec<LabelRow> = selected
        .iter()
        .enumerate()
        .map(|(i, e)| LabelRow {
            correct: ans.n_correct[i],
            entity: &e.entity,
            group: &e.group,
            p_known: kp.p_known[i],
            questions_used: ans.n_used[i],
            source: &e.source,
            split: if select.contains(&i) {
                "choice"
            } else if held.contains(&i) {
                "held_out"
            } else {
                "none"
            },
            status: status[i],
            kind: &e.kind,
        })
        .collect();
    write_jsonl(&out.join("labels.jsonl"), &labels)?;

    let prompts = prompting(model, opts.way_out.as_deref());
    let data_summary = summary::data_summary(opts, &selected, &types, &asked, &ans, generic.len(), prompts);
    let headline = summary::headline(
        opts,
        &data_summary,
        &asked,
        &ans,
        &kp,
        &generalise,
        &sae,
        &steering,
        pik.as_ref(),
    );
    let probe = ProbeSection {
        rows: kp.labelled.len(),
        known_rows: kp.y.iter().filter(|&&c| c == 1).count(),
        sweep: kp.sweep,
        best: kp.best,
        transfer: kp.transfer,
        saved: "probes/known (classes [\"false\", \"true\"]: the probability is P(known))".into(),
    };
    Ok(KnowledgeResults {
        kind: Knowledge::KIND.into(),
        model: model.name.clone(),
        options: opts.clone(),
        layers,
        data: data_summary,
        headline,
        probe,
        generalise,
        sae,
        steering,
        pik,
    })
}
