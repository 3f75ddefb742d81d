//! Monitoring: does the unsteered projection on a trait direction track how strongly a
//! graded persona is prompted, and the persona's self-report?

use burn::tensor::backend::Backend;
use ndarray::{Array1, Array2};

use super::super::data::{test_rows, to_item, AbRow, TraitRows};
use super::super::results::{MonitorPoint, Monitoring};
use super::Ctx;
use crate::concepts::data::mean;
use crate::error::{Error, Result};
use crate::hooks::HookSet;
use crate::probe::metrics::pearson;
use crate::steer::sweep::{option_probabilities, ScoreMode};
use crate::steer::vector::norm;

impl<B: Backend> Ctx<'_, B> {
    /// For each graded persona: the mean projection of its conversations' last-token residual
    /// on the unit direction `dir` (activations `x` at `layer`), and its self-report (P(high
    /// option) on a few t0 questionnaire items asked under the same system prompt), unsteered.
    pub fn monitor(&self, t: &str, layer: usize, dir: &[f32], x: &Array2<f32>, rows: &TraitRows) -> Result<Monitoring> {
        let q_path = self.data.path("questionnaire.jsonl");
        let len = norm(dir).max(1e-30);
        let unit: Array1<f64> = dir.iter().map(|&v| v as f64 / len).collect();
        let m_rows: Vec<&AbRow> = test_rows(&self.data.questionnaire, t, Some(self.opts.monitor_items))
            .into_iter()
            .filter(|r| r.template.as_deref() == Some("t0"))
            .collect();
        if m_rows.is_empty() {
            return Err(Error::bad_file(
                &q_path,
                format!("no test items of {t:?} in template t0 for monitoring"),
            ));
        }
        let pb = self.run.bar(&format!("monitor {t}"), 0).with_message("personas");
        pb.set_length(rows.graded_personas.len() as u64);
        let mut points = Vec::new();
        for (g, idx) in rows.graded_personas.iter().zip(&rows.graded) {
            let projection = mean(
                &idx.iter()
                    .map(|&i| x.row(i).mapv(f64::from).dot(&unit))
                    .collect::<Vec<_>>(),
            );
            let items = m_rows
                .iter()
                .map(|r| to_item(r, &q_path, Some(&g.system)))
                .collect::<Result<Vec<_>>>()?;
            let p = option_probabilities(self.model, &items, ScoreMode::Text, &mut HookSet::<B>::default())?;
            points.push(MonitorPoint {
                graded: g.id.clone(),
                strength: g.strength,
                projection,
                score: mean(&p.iter().map(|p| (p[0] + p[1]) / 2.0).collect::<Vec<_>>()),
            });
            pb.inc(1);
        }
        pb.finish_and_clear();
        let col = |f: fn(&MonitorPoint) -> f64| points.iter().map(f).collect::<Vec<_>>();
        let (projection, score, strength) = (col(|p| p.projection), col(|p| p.score), col(|p| p.strength));
        let score_at = |s: f64| {
            mean(
                &points
                    .iter()
                    .filter(|p| p.strength == s)
                    .map(|p| p.score)
                    .collect::<Vec<_>>(),
            )
        };
        let (lo, hi) = (
            strength.iter().copied().reduce(f64::min),
            strength.iter().copied().reduce(f64::max),
        );
        let persona_prompt_effect = match (lo, hi) {
            (Some(lo), Some(hi)) => score_at(hi) - score_at(lo),
            _ => f64::NAN,
        };
        Ok(Monitoring {
            persona_prompt_effect,
            layer,
            items: m_rows.iter().map(|r| r.item.clone()).collect(),
            r_projection_score: pearson(&projection, &score),
            r_strength_projection: pearson(&strength, &projection),
            r_strength_score: pearson(&strength, &score),
            points,
        })
    }
}
