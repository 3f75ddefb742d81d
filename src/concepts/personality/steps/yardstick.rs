//! The yardstick stage: every measure under the strongest high and the strongest low graded
//! persona, unsteered, on held-out items, and the judge's agreement with the persona's pole.

use burn::tensor::backend::Backend;

use super::super::data::{Graded, Question, TraitRows};
use super::super::yardstick::{agreement, JudgeCheck, JudgeSample, Measure, TraitYardstick, Variants, Yardstick};
use super::score::{mean_variants, Rating};
use super::Ctx;
use crate::concepts::data::mean;
use crate::error::{Error, Result};
use crate::hooks::HookSet;

/// The kept graded personas at the highest and at the lowest strength.
fn strongest(rows: &TraitRows) -> Option<(Vec<&Graded>, Vec<&Graded>)> {
    let strengths = rows.graded_personas.iter().map(|g| g.strength);
    let hi = strengths.clone().reduce(f64::max)?;
    let lo = strengths.reduce(f64::min)?;
    let at = |s: f64| {
        rows.graded_personas
            .iter()
            .filter(|g| g.strength == s)
            .collect::<Vec<_>>()
    };
    (hi > lo).then(|| (at(hi), at(lo)))
}

/// Mean rating over rater prompts.
fn overall_rating(r: &Rating) -> f64 {
    mean(&r.values().copied().collect::<Vec<_>>())
}

impl<B: Backend> Ctx<'_, B> {
    pub fn yardstick(&self, t: &str, rows: &TraitRows, questions: &[Question]) -> Result<TraitYardstick> {
        let (high, low) = strongest(rows).ok_or_else(|| {
            Error::bad_file(
                self.data.path("graded.jsonl"),
                format!("{t:?}: the yardstick needs graded personas of at least two strengths"),
            )
        })?;
        let pb = self.run.bar(&format!("yardstick {t}"), 0).with_message("personas");
        pb.set_length((high.len() + low.len()) as u64);
        // A/B measures under each persona wording, and the judge's ratings of its answers.
        let mut ab = [Vec::new(), Vec::new()];
        let mut ratings: [Vec<Vec<Rating>>; 2] = [Vec::new(), Vec::new()];
        let mut answers: [Vec<Vec<String>>; 2] = [Vec::new(), Vec::new()];
        let mut counts = std::collections::BTreeMap::new();
        for (side, personas) in [&high, &low].into_iter().enumerate() {
            for g in personas {
                let s = self.ab_scores(t, Some(g.system.as_str()), &mut HookSet::<B>::default())?;
                ab[side].push(s.scores);
                counts = s.counts;
                let a = self.answers(questions, Some(g.system.as_str()), None)?;
                ratings[side].push(self.rate(t, questions, &a)?);
                answers[side].push(a);
                pb.inc(1);
            }
        }
        pb.finish_and_clear();

        // Wording i of the high pole against wording i of the low pole, question by question.
        let pairs: Vec<(f64, f64)> = ratings[0]
            .iter()
            .zip(&ratings[1])
            .flat_map(|(h, l)| h.iter().zip(l).map(|(h, l)| (overall_rating(h), overall_rating(l))))
            .collect();
        let agree = agreement(&pairs);
        let identical = answers[0]
            .iter()
            .zip(&answers[1])
            .flat_map(|(h, l)| h.iter().zip(l))
            .filter(|(h, l)| h == l)
            .count();
        let judge = JudgeCheck {
            agreement: agree,
            pairs: pairs.len(),
            identical_pairs: Some(identical),
            min_agreement: self.opts.judge_min_agreement,
            counted: agree >= self.opts.judge_min_agreement,
            samples: ["high", "low"]
                .iter()
                .zip(&answers)
                .zip(&ratings)
                .flat_map(|((pole, a), r)| {
                    let (a, r) = (&a[0], &r[0]);
                    questions
                        .iter()
                        .zip(a)
                        .zip(r)
                        .take(2)
                        .map(move |((q, a), r)| JudgeSample {
                            pole: pole.to_string(),
                            question: q.text.clone(),
                            answer: a.clone(),
                            rating: overall_rating(r),
                        })
                })
                .collect(),
        };

        let mut measures = Vec::new();
        for m in Measure::ALL {
            let side = |k: usize| -> Variants {
                if m == Measure::Judge {
                    mean_variants(&ratings[k].iter().flatten().cloned().collect::<Vec<_>>())
                } else {
                    mean_variants(&ab[k].iter().filter_map(|s| s.get(&m).cloned()).collect::<Vec<_>>())
                }
            };
            let n = match m {
                Measure::Judge => questions.len() * high.len().min(low.len()),
                _ => counts.get(&m).copied().unwrap_or(0),
            };
            let trusted = m != Measure::Judge || judge.counted;
            measures.push(Yardstick::new(m, side(0), side(1), n, trusted));
        }
        Ok(TraitYardstick {
            high_personas: high.iter().map(|g| g.id.clone()).collect(),
            low_personas: low.iter().map(|g| g.id.clone()).collect(),
            measures,
            judge,
        })
    }
}
