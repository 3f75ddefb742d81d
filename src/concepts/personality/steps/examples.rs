//! Example generations: a few test questions answered unsteered and at ±alpha per trait.

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;

use super::super::data::Question;
use super::super::results::Example;
use super::Ctx;
use crate::chat::ChatMessage;
use crate::error::Result;
use crate::generate::GenerateOptions;
use crate::hooks::{HookSet, NoHooks, Positions};
use crate::model::Model;
use crate::prompts::PromptInput;
use crate::steer::{add_steering, SteeringVectors, Strength};

/// Greedy generations for `ids`, unsteered or steered at one layer with a relative strength.
pub(super) fn generate<B: Backend>(
    model: &Model<B>,
    ids: &[Vec<u32>],
    max_new_tokens: usize,
    steer: Option<(&SteeringVectors, usize, f32)>,
) -> Result<Vec<String>> {
    let gopts = GenerateOptions {
        max_new_tokens,
        ..Default::default()
    };
    let out = match steer {
        None => model.generate(ids, &gopts, &mut NoHooks)?,
        Some((v, layer, alpha)) => {
            let mut hooks = HookSet::<B>::default();
            add_steering(
                &mut hooks,
                model,
                v,
                &[layer],
                Strength::Relative(alpha),
                Positions::All,
            )?;
            model.generate(ids, &gopts, &mut hooks)?
        }
    };
    Ok(out.into_iter().map(|g| g.text.trim().replace('\n', " ")).collect())
}

impl<B: Backend> Ctx<'_, B> {
    /// Greedy answers to `questions`: unsteered, and at -alpha / +alpha per trait at its chosen
    /// `(layer, alpha)`. Returns `examples.md` and the answers.
    pub fn examples(
        &self,
        vectors: &[SteeringVectors],
        chosen: &[(usize, f32)],
        questions: &[Question],
    ) -> Result<(String, BTreeMap<String, Vec<Example>>)> {
        let mut md = String::from(
            "# Personality steering examples\n\nGreedy decoding; alpha relative to the mean residual norm.\n",
        );
        let mut all = BTreeMap::new();
        if questions.is_empty() {
            return Ok((md, all));
        }
        let ids = questions
            .iter()
            .map(|q| {
                self.model
                    .encode(&PromptInput::Messages(vec![ChatMessage::user(q.text.clone())]))
            })
            .collect::<Result<Vec<_>>>()?;
        let n = self.opts.max_new_tokens;
        let plain = generate(self.model, &ids, n, None)?;
        let pb = self.run.bar("examples", 0).with_message("traits");
        pb.set_length(vectors.len() as u64);
        for ((t, v), &(layer, alpha)) in self.opts.traits.iter().zip(vectors).zip(chosen) {
            let neg = generate(self.model, &ids, n, Some((v, layer, -alpha)))?;
            let pos = generate(self.model, &ids, n, Some((v, layer, alpha)))?;
            md.push_str(&format!("\n## {t} (layer {layer}, alpha ±{alpha})\n"));
            let mut rows = Vec::new();
            for (k, q) in questions.iter().enumerate() {
                md.push_str(&format!(
                    "\n**{}**\n\n- alpha {:+}: {}\n- unsteered: {}\n- alpha {alpha:+}: {}\n",
                    q.text, -alpha, neg[k], plain[k], pos[k]
                ));
                rows.push(Example {
                    question: q.text.clone(),
                    minus: neg[k].clone(),
                    unsteered: plain[k].clone(),
                    plus: pos[k].clone(),
                });
            }
            all.insert(t.clone(), rows);
            pb.inc(1);
        }
        pb.finish_and_clear();
        Ok((md, all))
    }
}
