//! A training corpus for SAEs when no text corpus ships with the model.
//!
//! Rows come from two legitimate sources: text files the user names (the concept suites'
//! prompts, any JSONL or plain-text corpus), and the model's own sampled answers to varied
//! prompts written for the project (topic x task), kept as whole conversations so the SAE
//! also sees the chat format the instruct model runs in.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use serde_json::{json, Value};

use crate::chat::ChatMessage;
use crate::generate::GenerateOptions;
use crate::hooks::NoHooks;
use crate::model::Model;
use crate::prompts::PromptInput;
use crate::{Error, Result};

/// Topics the sampled answers are about.
pub const TOPICS: &[&str] = &[
    "the ocean",
    "a small village",
    "the moon",
    "cooking pasta",
    "a football match",
    "a thunderstorm",
    "a lost dog",
    "learning to paint",
    "the history of trains",
    "a birthday party",
    "winter mornings",
    "a robot that learns to sing",
    "saving money",
    "a visit to the dentist",
    "the desert",
    "volcanoes",
    "a job interview",
    "growing tomatoes",
    "the first day of school",
    "a haunted house",
    "honey bees",
    "an old library",
    "playing chess",
    "a road trip",
    "the human heart",
    "a rainy weekend",
    "a mountain climber",
    "computers",
    "a market in the city",
    "friendship",
    "a piano lesson",
    "the stars at night",
    "recycling",
    "a detective",
    "a science fair",
    "ancient Egypt",
    "a bakery",
    "a marathon",
    "the solar system",
    "a family dinner",
];

/// Tasks asked about each topic.
pub const TASKS: &[&str] = &[
    "Write a short story about {}.",
    "Explain {} to a ten-year-old.",
    "Write a short news report about {}.",
    "Give three facts about {}.",
    "Write a diary entry about {}.",
    "Write a short poem about {}.",
    "What are the pros and cons of {}?",
    "Describe {} in a few sentences.",
];

/// Settings of [`build_corpus`].
#[derive(Clone, Debug)]
pub struct CorpusOptions {
    /// Number of sampled answers (topic x task prompts, cycling).
    pub samples: usize,
    /// Tokens per sampled answer.
    pub max_new_tokens: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Seed of sampling.
    pub seed: u64,
    /// Prompts per generation batch.
    pub batch: usize,
    /// Files whose rows are copied in: JSONL rows with `text` or `messages`, or plain text
    /// (one row per non-empty paragraph).
    pub include: Vec<PathBuf>,
}

/// Writes a corpus JSONL to `out` (atomically); returns the number of rows.
pub fn build_corpus<B: Backend>(
    model: &Model<B>,
    opts: &CorpusOptions,
    out: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<usize> {
    let mut rows: Vec<Value> = Vec::new();
    for path in &opts.include {
        rows.extend(read_corpus_file(path)?);
    }
    let prompts: Vec<String> = (0..opts.samples)
        .map(|i| {
            let topic = TOPICS[i % TOPICS.len()];
            let task = TASKS[(i / TOPICS.len()) % TASKS.len()];
            task.replace("{}", topic)
        })
        .collect();
    progress.set_length(prompts.len() as u64);
    for (b, group) in prompts.chunks(opts.batch.max(1)).enumerate() {
        let ids = group
            .iter()
            .map(|p| model.encode(&PromptInput::Messages(vec![ChatMessage::user(p)])))
            .collect::<Result<Vec<_>>>()?;
        let gen = GenerateOptions {
            max_new_tokens: opts.max_new_tokens,
            temperature: opts.temperature,
            top_p: 0.95,
            seed: opts.seed.wrapping_add(b as u64),
            ..Default::default()
        };
        for (p, g) in group.iter().zip(model.generate(&ids, &gen, &mut NoHooks)?) {
            let answer = g.text.trim();
            if !answer.is_empty() {
                rows.push(json!({ "messages": [
                    { "role": "user", "content": p },
                    { "role": "assistant", "content": answer },
                ], "source": "sample" }));
            }
        }
        progress.inc(group.len() as u64);
    }
    let n = rows.len();
    crate::artifact::write_atomic(out, |f| {
        for r in &rows {
            writeln!(f, "{r}").map_err(|e| e.to_string())?;
        }
        Ok(())
    })?;
    Ok(n)
}

/// Rows of a corpus file: JSONL rows keeping only `text`/`messages`, or plain-text paragraphs.
pub fn read_corpus_file(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let is_jsonl = path.extension().is_some_and(|e| e == "jsonl");
    if !is_jsonl {
        return Ok(text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| json!({ "text": p, "source": path.display().to_string() }))
            .collect());
    }
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| Error::bad_file(path, format!("line {}: {e}", i + 1)))?;
        let source = path.display().to_string();
        if let Some(t) = v.get("text").and_then(Value::as_str) {
            rows.push(json!({ "text": t, "source": source }));
        } else if let Some(m) = v.get("messages") {
            rows.push(json!({ "messages": m, "source": source }));
        } else if let Some(s) = v.get("system").and_then(Value::as_str) {
            rows.push(json!({ "text": s, "source": source }));
        } else {
            return Err(Error::bad_file(
                path,
                format!("line {}: a corpus row needs a \"text\" or \"messages\" field", i + 1),
            ));
        }
    }
    Ok(rows)
}
