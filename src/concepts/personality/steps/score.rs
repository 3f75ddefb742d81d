//! Scoring the measures of one condition (a persona prompt, a steering setting, or neither),
//! per variant, the same way for the yardstick and for steering so the two compare.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;

use super::super::data::{agree_item, test_rows, to_item, Question};
use super::super::yardstick::{keyed_score, Keyed, Measure, Variants};
use super::examples::generate;
use super::Ctx;
use crate::chat::ChatMessage;
use crate::concepts::data::mean;
use crate::error::{Error, Result};
use crate::hooks::HookSet;
use crate::prompts::PromptInput;
use crate::steer::sweep::{option_probabilities, ScoreMode};
use crate::steer::SteeringVectors;

/// Scores of the A/B measures (every measure but the judge) and how many items each has.
pub(in super::super) struct AbScores {
    pub scores: BTreeMap<Measure, Variants>,
    pub counts: BTreeMap<Measure, usize>,
}

/// Means of `(variant, value)` pairs per variant.
fn by_variant(values: impl IntoIterator<Item = (String, f64)>) -> Variants {
    let mut acc: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (k, v) in values {
        acc.entry(k).or_default().push(v);
    }
    acc.into_iter().map(|(k, v)| (k, mean(&v))).collect()
}

/// The element-wise mean of several conditions' variant scores (several persona wordings).
pub(in super::super) fn mean_variants(all: &[Variants]) -> Variants {
    by_variant(all.iter().flat_map(|v| v.iter().map(|(k, x)| (k.clone(), *x))))
}

/// A judge's ratings of one answer: P(high description) per rater prompt.
pub(in super::super) type Rating = Variants;

impl<B: Backend> Ctx<'_, B> {
    /// Questionnaire (pooled, `+`, `-`; variants = templates) and behaviour (variants =
    /// option orders) on the trait's held-out items, with an optional system prompt in place
    /// of the items' own and `hooks` on every forward pass.
    pub fn ab_scores(&self, t: &str, system: Option<&str>, hooks: &mut HookSet<B>) -> Result<AbScores> {
        let (q_path, b_path) = (self.data.path("questionnaire.jsonl"), self.data.path("behaviour.jsonl"));
        let q_rows = test_rows(&self.data.questionnaire, t, self.opts.max_items);
        let b_rows = test_rows(&self.data.behaviour, t, self.opts.max_items);
        if q_rows.is_empty() || b_rows.is_empty() {
            return Err(Error::Invalid(format!(
                "personality: trait {t:?} needs held-out questionnaire and behaviour items"
            )));
        }
        let mut items = Vec::with_capacity(q_rows.len() + b_rows.len());
        let mut keys = Vec::with_capacity(q_rows.len());
        for r in &q_rows {
            let (item, keyed) = agree_item(r, &q_path, system)?;
            items.push(item);
            keys.push((keyed, r.template.clone().unwrap_or_default(), r.item.clone()));
        }
        for r in &b_rows {
            items.push(to_item(r, &b_path, system)?);
        }
        // One call for both measures: fewer, fuller batches.
        let p = option_probabilities(self.model, &items, ScoreMode::Text, hooks)?;
        let (pq, pb) = p.split_at(q_rows.len());

        let mut scores = BTreeMap::new();
        let mut counts = BTreeMap::new();
        let keyings = [
            (Measure::Questionnaire, None),
            (Measure::QuestionnairePositive, Some(Keyed::Positive)),
            (Measure::QuestionnaireReverse, Some(Keyed::Reverse)),
        ];
        for (m, only) in keyings {
            let mine = || {
                keys.iter()
                    .zip(pq)
                    .filter(move |((k, _, _), _)| only.is_none_or(|o| o == *k))
            };
            // Both option orders averaged, then keyed: P(high pole) of the statement.
            scores.insert(
                m,
                by_variant(mine().map(|((k, tpl, _), p)| (tpl.clone(), keyed_score(*k, (p[0] + p[1]) / 2.0)))),
            );
            let mut ids: Vec<&String> = mine().map(|((_, _, id), _)| id).collect();
            ids.sort();
            ids.dedup();
            counts.insert(m, ids.len());
        }
        scores.insert(
            Measure::Behaviour,
            by_variant(
                pb.iter()
                    .flat_map(|p| [("ab".to_string(), p[0]), ("ba".to_string(), p[1])]),
            ),
        );
        counts.insert(Measure::Behaviour, b_rows.len());
        Ok(AbScores { scores, counts })
    }

    /// Greedy answers to `questions` under an optional system prompt, optionally steered at
    /// `(vectors, layer, alpha)`.
    pub fn answers(
        &self,
        questions: &[Question],
        system: Option<&str>,
        steer: Option<(&SteeringVectors, usize, f32)>,
    ) -> Result<Vec<String>> {
        let ids = questions
            .iter()
            .map(|q| {
                let mut m = Vec::new();
                if let Some(s) = system {
                    m.push(ChatMessage::system(s));
                }
                m.push(ChatMessage::user(q.text.clone()));
                self.model.encode(&PromptInput::Messages(m))
            })
            .collect::<Result<Vec<_>>>()?;
        generate(self.model, &ids, self.opts.judge_tokens, steer)
    }

    /// The unsteered model's ratings of each answer (to the question at the same index) under
    /// every rater prompt of the trait: P(high description), both option orders averaged.
    pub fn rate(&self, t: &str, questions: &[Question], answers: &[String]) -> Result<Vec<Rating>> {
        let raters = self.data.raters(t)?;
        let items: Vec<_> = questions
            .iter()
            .zip(answers)
            .flat_map(|(q, a)| raters.iter().map(move |r| r.item(&q.text, a)))
            .collect();
        let p = option_probabilities(self.model, &items, ScoreMode::Text, &mut HookSet::<B>::default())?;
        Ok(p.chunks(raters.len())
            .map(|c| {
                raters
                    .iter()
                    .zip(c)
                    .map(|(r, p)| (r.rater.clone(), (p[0] + p[1]) / 2.0))
                    .collect()
            })
            .collect())
    }
}
