//! The data summary and the headline, counted from the steps' outcomes.

use std::collections::BTreeMap;

use super::answers::REFUSAL_PHRASES;
use super::data::{Entity, FABRICATED, KNOWN, PARTIAL, REAL, TOO_FEW, UNKNOWN};
use super::options::KnowledgeOptions;
use super::results::{
    DataSummary, FeatureScores, GeneraliseSection, Headline, LatentBrief, LatentInfo, PKnown, PikSection, RateOf,
    RefusalSteering, SaeSection, SteeringSection, TopLatents, TypeCounts,
};
use super::steps::ask::{Asked, Labelled};
use super::steps::probe::KnownProbe;
use crate::concepts::data::{alpha64, mean_finite};

/// What the run asked and of which entities.
pub(super) fn data_summary(
    opts: &KnowledgeOptions,
    selected: &[Entity],
    types: &[String],
    asked: &[Asked],
    ans: &Labelled,
    generic_sentences: usize,
    prompts: String,
) -> DataSummary {
    let status = &ans.status;
    // The accuracy counts are about real entities (a fabricated one has no right answer).
    let used: Vec<usize> = (0..asked.len())
        .filter(|&k| !asked[k].leaky && selected[asked[k].entity].source == REAL)
        .collect();
    let per_type = types
        .iter()
        .map(|t| {
            let of_t = |s: &str| {
                (0..status.len())
                    .filter(|&i| selected[i].kind == *t && status[i] == s)
                    .count()
            };
            let qs: Vec<usize> = used
                .iter()
                .copied()
                .filter(|&k| selected[asked[k].entity].kind == *t)
                .collect();
            let counts = TypeCounts {
                real: selected.iter().filter(|e| e.kind == *t && e.source == REAL).count(),
                known: of_t(KNOWN),
                unknown: of_t(UNKNOWN),
                partial: of_t(PARTIAL),
                too_few_questions: of_t(TOO_FEW),
                fabricated: of_t(FABRICATED),
                questions: qs.len(),
                correct: qs.iter().filter(|&&k| ans.verdicts[k].correct).count(),
            };
            (t.clone(), counts)
        })
        .collect();
    DataSummary {
        dir: opts.data_dir.display().to_string(),
        entities: selected.len(),
        real: selected.iter().filter(|e| e.source == REAL).count(),
        types: types.to_vec(),
        questions_asked: asked.len(),
        questions_fabricated: asked.iter().filter(|a| selected[a.entity].source != REAL).count(),
        questions_leaky: asked.iter().filter(|a| a.leaky).count(),
        questions_used: used.len(),
        generic_sentences,
        per_type,
        prompts,
        matching: "first non-empty line of the answer, normalised (lower case, punctuation removed); correct if any \
                   alias is a substring (whole word for aliases under 4 characters)"
            .into(),
        refusal_phrases: REFUSAL_PHRASES.iter().map(|p| p.to_string()).collect(),
    }
}

fn brief(v: &[LatentInfo]) -> Vec<LatentBrief> {
    v.iter()
        .map(|l| LatentBrief {
            latent: l.latent,
            score: l.score,
            generic_frequency: l.generic_frequency,
        })
        .collect()
}

/// Unsteered refusal rate of step 1's usable questions, by entity status.
fn unsteered_refusal(asked: &[Asked], ans: &Labelled) -> BTreeMap<String, f64> {
    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (a, v) in asked.iter().zip(&ans.verdicts).filter(|(a, _)| !a.leaky) {
        let t = tally.entry(ans.status[a.entity].to_string()).or_default();
        t.0 += usize::from(v.refusal);
        t.1 += 1;
    }
    tally.into_iter().map(|(k, (r, n))| (k, r as f64 / n as f64)).collect()
}

/// The strength of the headline's refusal steering: the largest rise in refusals on known
/// entities along +unknown among the strengths within the KL bound, else the smallest KL.
fn refusal_steering(opts: &KnowledgeOptions, steering: &SteeringSection) -> RefusalSteering {
    let find = |name: &str, alpha: Option<f64>| {
        steering
            .conditions
            .iter()
            .find(|c| c.condition == name && c.alpha == alpha)
    };
    let rate =
        |name: &str, alpha: Option<f64>, cat: &str, f: RateOf| find(name, alpha).map_or(f64::NAN, |c| c.get(cat, f));
    let kl_of = |a: f64| find("unknown_mean_diff", Some(a)).map_or(f64::NAN, |c| c.kl);
    let rise = |a: f64| rate("unknown_mean_diff", Some(a), KNOWN, |r| r.refusal);
    let alphas: Vec<f64> = opts.alphas.iter().map(|&a| alpha64(a)).collect();
    let within: Vec<f64> = alphas.iter().copied().filter(|&a| kl_of(a) <= opts.kl_bound).collect();
    let best_by = |v: &[f64], key: &dyn Fn(f64) -> f64| {
        v.iter().copied().max_by(|&a, &b| {
            let (ka, kb) = (key(a), key(b));
            let finite = |x: f64| if x.is_finite() { x } else { f64::NEG_INFINITY };
            finite(ka).total_cmp(&finite(kb))
        })
    };
    let alpha = if within.is_empty() {
        best_by(&alphas, &|a| -kl_of(a))
    } else {
        best_by(&within, &rise)
    }
    .unwrap_or(f64::NAN);
    let a = Some(alpha);
    let unk = "unknown_or_fabricated";
    RefusalSteering {
        layer: steering.layer,
        alpha,
        relative: true,
        kl: kl_of(alpha),
        within_kl_bound: !within.is_empty(),
        known_refusal_original: rate("original", None, KNOWN, |r| r.refusal),
        known_refusal_unknown_dir: rate("unknown_mean_diff", a, KNOWN, |r| r.refusal),
        known_refusal_random: rate("random", a, KNOWN, |r| r.refusal),
        unknown_refusal_original: rate("original", None, unk, |r| r.refusal),
        unknown_refusal_known_dir: rate("known_mean_diff", a, unk, |r| r.refusal),
        unknown_refusal_random: rate("random", a, unk, |r| r.refusal),
        unknown_hallucination_original: rate("original", None, unk, |r| r.hallucination),
        unknown_hallucination_known_dir: rate("known_mean_diff", a, unk, |r| r.hallucination),
    }
}

/// The headline numbers.
#[allow(clippy::too_many_arguments)]
pub(super) fn headline(
    opts: &KnowledgeOptions,
    data: &DataSummary,
    asked: &[Asked],
    ans: &Labelled,
    kp: &KnownProbe,
    gen: &GeneraliseSection,
    sae: &SaeSection,
    steering: &SteeringSection,
    pik: Option<&PikSection>,
) -> Headline {
    let status = &ans.status;
    let count = |s: &str| status.iter().filter(|&&x| x == s).count();
    let n_used_correct: usize = data.per_type.values().map(|t| t.correct).sum();
    let p_known_of = |s: &str| {
        let v: Vec<f64> = (0..status.len())
            .filter(|&i| status[i] == s)
            .map(|i| kp.p_known[i])
            .collect();
        mean_finite(&v)
    };
    // Every rate of the headline is at the strength the refusal steering chose.
    let refusal_steering = refusal_steering(opts, steering);
    let head_alpha = refusal_steering.alpha;
    let by_cond = |cat: &str, f: RateOf| -> BTreeMap<String, f64> {
        steering
            .conditions
            .iter()
            .filter(|c| c.alpha.is_none_or(|a| a == head_alpha))
            .map(|c| (c.condition.clone(), c.get(cat, f)))
            .collect()
    };
    Headline {
        best_layer: kp.best.layer.unwrap_or(0),
        auroc: kp.best.auroc,
        accuracy: kp.best.accuracy,
        balanced_accuracy: kp.best.test.balanced_accuracy,
        control_accuracy: kp.best.control_accuracy,
        chance: kp.sweep.chance,
        transfer: kp.transfer.iter().map(|(t, s)| (t.clone(), s.accuracy)).collect(),
        steer_layer: steering.layer,
        refusal_rate: by_cond(KNOWN, |r| r.refusal),
        hallucination_rate: by_cond("unknown_or_fabricated", |r| r.hallucination),
        correct_rate: by_cond(KNOWN, |r| r.correct),
        pik_layer: pik.and_then(|p| p.best.layer),
        pik_auroc: pik.map_or(f64::NAN, |p| p.pooled_out_of_fold.auroc),
        pik_ece: pik.map_or(f64::NAN, |p| p.ece),
        pik_brier: pik.map_or(f64::NAN, |p| p.pooled_out_of_fold.brier),
        n_real: data.real,
        n_known: count(KNOWN),
        n_unknown: count(UNKNOWN),
        n_partial: count(PARTIAL),
        n_fabricated: count(FABRICATED),
        question_accuracy: n_used_correct as f64 / data.questions_used.max(1) as f64,
        p_known: PKnown {
            known: p_known_of(KNOWN),
            unknown: p_known_of(UNKNOWN),
            partial: p_known_of(PARTIAL),
            fabricated: p_known_of(FABRICATED),
        },
        top_latents: TopLatents {
            known: brief(&sae.known_latents),
            unknown: brief(&sae.unknown_latents),
        },
        unsteered_refusal: unsteered_refusal(asked, ans),
        refusal_steering,
        held_out_origin_auroc: held_auroc(&gen.activations),
        held_out_origin_auroc_ngrams: held_auroc(&gen.name_ngrams),
    }
}

fn held_auroc(f: &FeatureScores) -> BTreeMap<String, f64> {
    f.held_out_origin.iter().map(|(o, s)| (o.clone(), s.auroc)).collect()
}
