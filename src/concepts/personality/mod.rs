//! Big Five personality suite (issue #7): trait directions from contrastive persona prompts,
//! where they are decodable, whether steering along them moves self-report and behaviour, and
//! whether the unsteered projection tracks how strongly a persona is prompted.
//!
//! Method, per trait: high and low persona system prompts answer the same extraction
//! questions; the last prompt token's `hook_resid_post` is harvested at every chosen layer.
//! The paired high-minus-low differences give a mean-difference direction and the first
//! principal component (uncentred), and a logistic probe decodes the pole, folds grouped by
//! question, against a permuted-label control. Steering along the mean-difference direction
//! at a few layers near the best probe layer is scored on questionnaire statements (three
//! templates, both option orders) and behaviour situations, with the KL on neutral prompts
//! bounding the strength. Graded personas (strength -2..2) give the monitoring test: the
//! unsteered projection on the direction against the persona's self-report.
//!
//! The yardstick (issue #24) comes first: per trait and measure (questionnaire pooled, `+`
//! keyed, `-` keyed; behaviour; a judge rating free answers), the effect of the strongest
//! high persona prompt against the strongest low one, unsteered, on held-out items. A measure
//! it does not move beyond its spread across templates is dead. Steering is then scored
//! against it: at the chosen layer and the largest strength within the KL bound, +alpha must
//! raise and -alpha lower a live measure beyond the spread and by half the persona effect.
//!
//! Data: `probes/personality/` (see its README). Everything is written under one output
//! directory:
//! ```text
//! OUT/harvest_rows.jsonl    persona and graded-persona conversations (the harvest's data file)
//! OUT/store/                last-token hook_resid_post activations (resumable)
//! OUT/vectors/{trait}/      mean-diff steering vectors, every harvested layer (SteeringVectors)
//! OUT/vectors_pca/{trait}/  first principal component of the paired differences
//! OUT/stages/               finished stages, for resuming
//! OUT/figures/              probe accuracy, dose-response per trait, trait cosines, monitoring
//! OUT/results.json          everything, with a `headline` object per trait
//! OUT/examples.md, OUT/report.md
//! ```

mod data;
mod figures;
mod options;
mod report;
mod results;
mod steps;
mod yardstick;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;

pub use data::TRAITS;
pub use options::PersonalityOptions;
pub use results::{
    DirectionStats, DosePoint, Example, LayerDirection, MonitorPoint, Monitoring, PersonalityResults, Pooled,
    RowCounts, Steering, TraitCosine, TraitHeadline, TraitResults,
};
pub use yardstick::{
    keyed_score, JudgeCheck, JudgeSample, Keyed, Measure, MeasureDose, MeasureTarget, SteeringTarget, TargetHeadline,
    TraitYardstick, Yardstick,
};

use super::data::spread;
use super::{Suite, SuiteRun};
use crate::artifact::write_text;
use crate::error::{Error, Result};
use crate::harvest::{harvest_rows, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::probe::sweep::SweepResults;
use crate::registry::sha256_file;
use crate::steer::sweep::NEUTRAL_PROMPTS;
use crate::steer::vector::cosine;
use crate::steer::SteeringVectors;
use data::{harvest_plan, Data};
use steps::directions::{directions, probe_trait, Acts};
use steps::Ctx;

/// The personality suite.
pub struct Personality;

impl Suite for Personality {
    const KIND: &'static str = "personality";
    type Options = PersonalityOptions;
    type Results = PersonalityResults;
    type Headline = BTreeMap<String, TraitHeadline>;

    fn quick(n_layers: usize) -> PersonalityOptions {
        PersonalityOptions::quick(n_layers)
    }

    fn data_dir(o: &mut PersonalityOptions) -> &mut PathBuf {
        &mut o.data_dir
    }

    fn alphas(o: &mut PersonalityOptions) -> Option<&mut Vec<f32>> {
        Some(&mut o.alphas)
    }

    fn run<B: Backend>(model: &Model<B>, opts: &PersonalityOptions, run: &SuiteRun) -> Result<PersonalityResults> {
        run_personality(model, opts, run)
    }

    fn figures(r: &PersonalityResults, dir: &Path) -> Result<Vec<PathBuf>> {
        figures::figures(r, dir)
    }

    fn report(r: &PersonalityResults) -> String {
        report::report(r)
    }
    fn headline(r: &PersonalityResults) -> &BTreeMap<String, TraitHeadline> {
        &r.headline
    }
}

fn run_personality<B: Backend>(
    model: &Model<B>,
    opts: &PersonalityOptions,
    run: &SuiteRun,
) -> Result<PersonalityResults> {
    let n_layers = model.config.n_layers;
    let layers = opts.check(n_layers)?;
    let out = run.out();
    let data = Data::read(&opts.data_dir)?;
    let extract_qs = spread(&data.questions("extract"), opts.max_questions);
    let test_qs = data.questions("test");
    let monitor_qs = spread(&test_qs, Some(opts.monitor_questions));
    let judge_qs = spread(&test_qs, Some(opts.judge_questions));
    if extract_qs.len() < 2 || test_qs.is_empty() {
        return Err(Error::bad_file(
            data.path("questions.jsonl"),
            "needs at least two \"extract\" and one \"test\" question",
        ));
    }
    let max_layer = (n_layers as f64 * 0.8).floor() as usize;
    let eligible: Vec<usize> = layers.iter().copied().filter(|&l| l < max_layer).collect();
    if eligible.is_empty() {
        return Err(Error::Invalid(format!(
            "personality options: steering needs a harvested layer below {max_layer} (the selection rule skips the \
             last 20% of {n_layers} blocks); layers are {layers:?}"
        )));
    }

    let (rows, trait_rows) = harvest_plan(&data, opts, &extract_qs, &monitor_qs)?;
    let neutral = NEUTRAL_PROMPTS
        .iter()
        .map(|t| model.tokenizer.encode(t, true))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let ctx = Ctx {
        model,
        opts,
        run,
        data,
        neutral,
        alphas: opts.signed_alphas(),
        eligible,
    };

    // 0. The yardstick first: what an explicit persona prompt does to each measure, unsteered.
    // It needs no activations, so it comes before the harvest and a long run shows it early.
    let mut yards = BTreeMap::new();
    for (t, tr) in opts.traits.iter().zip(&trait_rows) {
        let y = run.stage(&format!("yardstick-{t}"), || {
            run.say(&format!("{t}: yardstick (persona prompts, unsteered)"));
            ctx.yardstick(t, tr, &judge_qs)
        })?;
        let effects: Vec<String> = y
            .measures
            .iter()
            .map(|m| {
                format!(
                    "{} {:+.3} ({})",
                    m.measure.name(),
                    m.effect,
                    if m.live { "live" } else { "dead" }
                )
            })
            .collect();
        run.say(&format!(
            "{t}: persona effect {}; judge agreement {:.2}",
            effects.join(", "),
            y.judge.agreement
        ));
        yards.insert(t.clone(), y);
    }

    // 1. One harvest for every trait, at the last prompt token (where the answer starts).
    let rows_path = out.join("harvest_rows.jsonl");
    let store_dir = out.join("store");
    let harvested = run.stage("harvest", || {
        run.say(&format!("harvesting {} persona conversations", rows.len()));
        let hooks: Vec<HookPoint> = layers.iter().map(|&l| HookPoint::ResidPost(l)).collect();
        harvest_rows(
            model,
            &rows,
            &rows_path,
            &store_dir,
            &hooks,
            PositionSpec::Last,
            run.progress(),
        )?;
        Ok(rows.len())
    })?;
    let acts = Acts::new(store_dir, &layers);

    // 2. Directions, saved as steering vectors, and probes per trait.
    let stats: BTreeMap<String, DirectionStats> = run.stage("directions", || {
        let (acts, sha) = (acts.all()?, sha256_file(&rows_path)?);
        let mut stats = BTreeMap::new();
        for (t, tr) in opts.traits.iter().zip(&trait_rows) {
            let (md, pc, s) = directions(acts, tr, &model.name, &sha, opts.seed)?;
            md.save(&out.join("vectors").join(t))?;
            pc.save(&out.join("vectors_pca").join(t))?;
            stats.insert(t.clone(), s);
        }
        Ok(stats)
    })?;
    let vectors = opts
        .traits
        .iter()
        .map(|t| SteeringVectors::load(&out.join("vectors").join(t)))
        .collect::<Result<Vec<_>>>()?;
    let probes: BTreeMap<String, SweepResults> = run.stage("probes", || {
        let acts = acts.all()?;
        let mut probes = BTreeMap::new();
        for (t, tr) in opts.traits.iter().zip(&trait_rows) {
            run.say(&format!("{t}: probes over {} layers", layers.len()));
            probes.insert(t.clone(), probe_trait(acts, tr, opts)?);
        }
        Ok(probes)
    })?;

    // 3-4. Steering, scored against the yardstick, and monitoring per trait.
    let (mut headline, mut traits, mut chosen) = (BTreeMap::new(), BTreeMap::new(), Vec::new());
    for ((t, v), tr) in opts.traits.iter().zip(&vectors).zip(&trait_rows) {
        let probe = &probes[t];
        let yard = yards
            .remove(t)
            .ok_or_else(|| Error::Invalid(format!("personality: no yardstick for {t:?}")))?;
        let steering = run.stage(&format!("steer-{t}"), || ctx.steer(t, v, probe))?;
        let layer = steering.layer;
        let target = run.stage(&format!("target-{t}"), || {
            run.say(&format!("{t}: steering against the yardstick at layer {layer}"));
            ctx.target(t, v, &steering, &yard, &judge_qs)
        })?;
        let monitoring = run.stage(&format!("monitor-{t}"), || {
            ctx.monitor(t, layer, v.get(layer)?, acts.layer(layer)?, tr)
        })?;
        chosen.push((layer, steering.alpha));
        let target_headline = TargetHeadline::new(&target, &yard);
        headline.insert(
            t.clone(),
            TraitHeadline::new(&steering, probe, &monitoring, Some(target_headline)),
        );
        let result = TraitResults {
            probe: probe.clone(),
            directions: stats[t].clone(),
            dose_response: steering.dose_response(&ctx.alphas),
            steering,
            monitoring,
            yardstick: Some(yard),
            target: Some(target),
        };
        traits.insert(t.clone(), result);
    }

    // 5. Trait cosines at one shared layer: the lower median of the chosen steering layers.
    let mut chosen_layers: Vec<usize> = chosen.iter().map(|c| c.0).collect();
    chosen_layers.sort_unstable();
    let cos_layer = chosen_layers[(chosen_layers.len() - 1) / 2];
    let mut matrix = Vec::new();
    for a in &vectors {
        let mut row = Vec::new();
        for b in &vectors {
            row.push(cosine(a.get(cos_layer)?, b.get(cos_layer)?));
        }
        matrix.push(row);
    }

    // 6. Example generations.
    let examples = run.stage("examples", || {
        run.say("generating examples");
        let (md, examples) = ctx.examples(&vectors, &chosen, &spread(&test_qs, Some(opts.n_examples)))?;
        write_text(&out.join("examples.md"), &md)?;
        Ok(examples)
    })?;

    Ok(PersonalityResults {
        kind: Personality::KIND.into(),
        model: model.name.clone(),
        options: opts.clone(),
        alphas: ctx.alphas,
        layers,
        rows: RowCounts {
            harvested,
            extract_questions: extract_qs.len(),
            monitor_questions: monitor_qs.iter().map(|q| q.id.clone()).collect(),
        },
        headline,
        traits,
        trait_cosine: TraitCosine {
            layer: cos_layer,
            traits: opts.traits.clone(),
            matrix,
        },
        examples,
    })
}
