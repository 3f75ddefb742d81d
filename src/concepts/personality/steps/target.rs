//! Steering scored against the yardstick: every measure at the chosen layer over the strength
//! grid (the judge at -alpha, 0 and +alpha, since it needs generations), each against half
//! the persona-prompt effect and the spread across variants, with the KL on neutral prompts.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;

use super::super::data::Question;
use super::super::results::Steering;
use super::super::yardstick::{
    overall, JudgeSample, Measure, MeasureDose, MeasureTarget, SteeringTarget, TraitYardstick, Variants,
};
use super::score::{mean_variants, Rating};
use super::Ctx;
use crate::error::{Error, Result};
use crate::hooks::{HookSet, Positions};
use crate::steer::{add_steering, SteeringVectors, Strength};

impl<B: Backend> Ctx<'_, B> {
    pub fn target(
        &self,
        t: &str,
        v: &SteeringVectors,
        s: &Steering,
        y: &TraitYardstick,
        questions: &[Question],
    ) -> Result<SteeringTarget> {
        let layer = s.layer;
        // The sweep measured the KL of every strength at this layer on the neutral prompts.
        let kl = |a: f32| {
            s.pooled_grid
                .iter()
                .find(|p| p.layer == layer && p.alpha == a)
                .map_or(f64::NAN, |p| p.kl)
        };
        let steered = |a: f32| -> Result<HookSet<B>> {
            let mut hooks = HookSet::<B>::default();
            if a != 0.0 {
                add_steering(
                    &mut hooks,
                    self.model,
                    v,
                    &[layer],
                    Strength::Relative(a),
                    Positions::All,
                )?;
            }
            Ok(hooks)
        };
        let pb = self.run.bar(&format!("target {t}"), 0).with_message("strengths");
        pb.set_length(self.alphas.len() as u64 + 3);
        let mut dose: BTreeMap<Measure, Vec<MeasureDose>> = BTreeMap::new();
        for &a in &self.alphas {
            let scores = self.ab_scores(t, None, &mut steered(a)?)?.scores;
            for (m, by_variant) in scores {
                dose.entry(m).or_default().push(point(a, by_variant, kl(a)));
            }
            pb.inc(1);
        }
        // The judge rates answers generated under steering; the rater itself is unsteered.
        let mut judge_samples = Vec::new();
        let mut judge_dose = Vec::new();
        for a in [-s.alpha, 0.0, s.alpha] {
            let steer = (a != 0.0).then_some((v, layer, a));
            let answers = self.answers(questions, None, steer)?;
            let ratings: Vec<Rating> = self.rate(t, questions, &answers)?;
            if let (Some(q), Some(ans), Some(r)) = (questions.first(), answers.first(), ratings.first()) {
                judge_samples.push(JudgeSample {
                    pole: format!("alpha {a:+}"),
                    question: q.text.clone(),
                    answer: ans.clone(),
                    rating: overall(r),
                });
            }
            judge_dose.push(point(a, mean_variants(&ratings), kl(a)));
            pb.inc(1);
        }
        pb.finish_and_clear();
        dose.insert(Measure::Judge, judge_dose);

        let measures = Measure::ALL
            .iter()
            .map(|&m| {
                let yard = y
                    .get(m)
                    .ok_or_else(|| Error::Invalid(format!("personality: no yardstick for {t:?} {}", m.name())))?;
                let d = dose.remove(&m).unwrap_or_default();
                Ok(MeasureTarget::new(yard, d, s.alpha, self.opts.kl_bound))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SteeringTarget {
            layer,
            alpha: s.alpha,
            within_kl_bound: s.within_kl_bound,
            kl_bound: self.opts.kl_bound,
            measures,
            judge_samples,
        })
    }
}

fn point(alpha: f32, by_variant: Variants, kl: f64) -> MeasureDose {
    MeasureDose {
        alpha,
        score: overall(&by_variant),
        by_variant,
        kl,
    }
}
