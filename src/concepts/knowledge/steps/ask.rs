//! Step 1, labels from behaviour: every question about a selected entity is asked greedily,
//! its first line judged against the aliases, and each real entity labelled by how many of
//! its usable questions it answered. Fabricated entities are asked too: how often the model
//! declines them unsteered is the baseline their refusal steering is measured against.

use burn::tensor::backend::Backend;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::super::answers::{first_line, judge, leaks_answer, Verdict};
use super::super::data::{entity_status, Entity, Frames, Question};
use crate::chat::ChatMessage;
use crate::error::Result;
use crate::generate::GenerateOptions;
use crate::hooks::Hook;
use crate::model::Model;
use crate::prompts::PromptInput;

/// A question as the model reads it: plain text, or a chat already rendered with the
/// model's template (special tokens written out, so it is tokenized without adding any).
#[derive(Clone, Debug)]
pub(in super::super) struct Prompt {
    pub(in super::super) text: String,
    pub(in super::super) rendered_chat: bool,
}

impl Prompt {
    pub(in super::super) fn input(&self) -> PromptInput {
        if self.rendered_chat {
            PromptInput::Raw(self.text.clone())
        } else {
            PromptInput::Text(self.text.clone())
        }
    }
}

/// How questions are put: with `way_out` as the system prompt of a chat in the model's
/// template, or (no way out) in the plain-text question frame. A model without a chat
/// template reads the way out as the frame's first line.
pub(in super::super) fn question_prompt<B: Backend>(
    model: &Model<B>,
    frames: &Frames,
    way_out: Option<&str>,
    q: &Question,
) -> Result<Prompt> {
    Ok(match way_out {
        None => Prompt {
            text: frames.question(q),
            rendered_chat: false,
        },
        Some(w) if model.chat_template().is_some() => Prompt {
            text: model.render_chat(&[ChatMessage::system(w), ChatMessage::user(q.question.clone())])?,
            rendered_chat: true,
        },
        Some(w) => Prompt {
            text: format!("{w}\n{}", frames.question(q)),
            rendered_chat: false,
        },
    })
}

/// What [`question_prompt`] does, in words, for `results.json`.
pub(in super::super) fn prompting<B: Backend>(model: &Model<B>, way_out: Option<&str>) -> String {
    match way_out {
        None => "plain-text completion (no chat template) for every model".into(),
        Some(w) if model.chat_template().is_some() => {
            format!("chat in the model's template, system prompt {w:?}, the question as the user turn")
        }
        Some(w) => format!("plain-text question frame after the line {w:?} (the model has no chat template)"),
    }
}

/// One question asked in step 1.
pub(in super::super) struct Asked {
    pub(in super::super) entity: usize,
    pub(in super::super) question: usize,
    pub(in super::super) prompt: Prompt,
    /// The answer is part of the entity's name: asked, but not used for labels.
    pub(in super::super) leaky: bool,
}

/// Every question of every selected entity, in file order.
pub(in super::super) fn questions<B: Backend>(
    model: &Model<B>,
    selected: &[Entity],
    frames: &Frames,
    way_out: Option<&str>,
) -> Result<Vec<Asked>> {
    let mut asked = Vec::new();
    for (ei, e) in selected.iter().enumerate() {
        for (qi, q) in e.questions.iter().enumerate() {
            asked.push(Asked {
                entity: ei,
                question: qi,
                prompt: question_prompt(model, frames, way_out, q)?,
                leaky: leaks_answer(&e.entity, &q.answers),
            });
        }
    }
    Ok(asked)
}

/// Greedy continuations of `prompts`, `batch` at a time, with `hooks` active (one hook set
/// serves every batch: it holds interventions only).
pub(in super::super) fn complete<B: Backend>(
    model: &Model<B>,
    prompts: &[Prompt],
    max_new_tokens: usize,
    batch: usize,
    hooks: &mut dyn Hook<B>,
    pb: &ProgressBar,
) -> Result<Vec<String>> {
    let gopts = GenerateOptions {
        max_new_tokens,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(prompts.len());
    for chunk in prompts.chunks(batch.max(1)) {
        let ids = chunk
            .iter()
            .map(|p| model.encode(&p.input()))
            .collect::<Result<Vec<_>>>()?;
        out.extend(model.generate(&ids, &gopts, hooks)?.into_iter().map(|g| g.text));
        pb.inc(chunk.len() as u64);
    }
    Ok(out)
}

/// A line of `answers.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(in super::super) struct AnswerRow {
    model: String,
    max_new_tokens: usize,
    entity: String,
    #[serde(rename = "type")]
    kind: String,
    group: String,
    attribute: String,
    question: String,
    prompt: String,
    /// The whole continuation.
    raw: String,
    /// Its first non-empty line, the part that is judged.
    answer: String,
    answers: Vec<String>,
    leaky: bool,
    correct: bool,
    refusal: bool,
}

/// The judged answers and the entity labels they give.
pub(in super::super) struct Labelled {
    pub(in super::super) verdicts: Vec<Verdict>,
    pub(in super::super) status: Vec<&'static str>,
    pub(in super::super) n_used: Vec<usize>,
    pub(in super::super) n_correct: Vec<usize>,
    pub(in super::super) rows: Vec<AnswerRow>,
}

/// Judges the raw answers to `asked` and labels every selected entity.
pub(in super::super) fn label(
    selected: &[Entity],
    asked: &[Asked],
    raws: &[String],
    model: &str,
    max_new_tokens: usize,
) -> Labelled {
    let n = selected.len();
    let (mut n_used, mut n_correct) = (vec![0usize; n], vec![0usize; n]);
    let mut verdicts = Vec::with_capacity(asked.len());
    let mut rows = Vec::with_capacity(asked.len());
    for (a, raw) in asked.iter().zip(raws) {
        let e = &selected[a.entity];
        let q = &e.questions[a.question];
        let answer = first_line(raw).to_string();
        let v = judge(&answer, &q.answers);
        if !a.leaky {
            n_used[a.entity] += 1;
            n_correct[a.entity] += usize::from(v.correct);
        }
        rows.push(AnswerRow {
            model: model.to_string(),
            max_new_tokens,
            entity: e.entity.clone(),
            kind: e.kind.clone(),
            group: e.group.clone(),
            attribute: q.attribute.clone(),
            question: q.question.clone(),
            prompt: a.prompt.text.clone(),
            raw: raw.clone(),
            answer,
            answers: q.answers.clone(),
            leaky: a.leaky,
            correct: v.correct,
            refusal: v.refusal,
        });
        verdicts.push(v);
    }
    let status = selected
        .iter()
        .enumerate()
        .map(|(i, e)| entity_status(&e.source, n_used[i], n_correct[i]))
        .collect();
    Labelled {
        verdicts,
        status,
        n_used,
        n_correct,
        rows,
    }
}
