//! The suite's data files (`entities.jsonl`, `frames.json`, `generic.jsonl`), the entity
//! labels and split, and the rows it harvests and writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::concepts::data::{read_rows, spread};
use crate::error::{Error, Result};
use crate::generate::SplitMix64;

pub(super) const REAL: &str = "real";
pub(super) const FABRICATED: &str = "fabricated";
pub(super) const KNOWN: &str = "known";
pub(super) const UNKNOWN: &str = "unknown";
pub(super) const PARTIAL: &str = "partial";
pub(super) const TOO_FEW: &str = "too_few_questions";

/// One attribute question of an entity.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct Question {
    pub(super) attribute: String,
    pub(super) question: String,
    pub(super) answers: Vec<String>,
}

/// A row of `entities.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct Entity {
    pub(super) entity: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) source: String,
    /// How the entity came to be in the file: `famous` or `obscure` (real), or the name
    /// generator (fabricated). Files without the field read as one origin per source.
    #[serde(default)]
    origin: Option<String>,
    pub(super) group: String,
    pub(super) questions: Vec<Question>,
}

impl Entity {
    /// The entity's origin (its source where the file does not say).
    pub(super) fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or(&self.source)
    }
}

/// Whether an entity with `status` is on the unknown side of the probes and directions: a
/// real entity the model answered nothing about, or a fabricated one.
pub(super) fn is_unknown(status: &str) -> bool {
    status == UNKNOWN || status == FABRICATED
}

/// `frames.json`.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct Frames {
    neutral: String,
    type_nouns: BTreeMap<String, String>,
    question_prompt: String,
}

impl Frames {
    /// `The {type} {name}`: ends with the name, so the last token read is the name's.
    pub(super) fn neutral(&self, e: &Entity) -> String {
        let noun = self.type_nouns.get(&e.kind).map_or(e.kind.as_str(), String::as_str);
        self.neutral.replace("{type}", noun).replace("{name}", &e.entity)
    }

    pub(super) fn question(&self, q: &Question) -> String {
        self.question_prompt.replace("{question}", &q.question)
    }
}

#[derive(Deserialize)]
struct GenericRow {
    text: String,
}

/// The suite's data files, read and checked.
pub(super) struct Data {
    pub(super) entities: Vec<Entity>,
    pub(super) frames: Frames,
    pub(super) generic: Vec<String>,
}

impl Data {
    pub(super) fn read(dir: &Path) -> Result<Self> {
        let ents_path = dir.join("entities.jsonl");
        let entities: Vec<Entity> = read_rows(&ents_path)?;
        let frames_path = dir.join("frames.json");
        let text = std::fs::read_to_string(&frames_path).map_err(|e| Error::io(&frames_path, e))?;
        let frames: Frames = serde_json::from_str(&text)
            .map_err(|e| Error::bad_file(&frames_path, format!("not a frames file: {e}")))?;
        // The entity probe reads the last token, which must be the name's.
        if !frames.neutral.ends_with("{name}") {
            return Err(Error::bad_file(
                &frames_path,
                format!("\"neutral\" must end with {{name}}, found {:?}", frames.neutral),
            ));
        }
        if !frames.question_prompt.contains("{question}") {
            return Err(Error::bad_file(&frames_path, "\"question_prompt\" lacks {question}"));
        }
        let generic: Vec<GenericRow> = read_rows(&dir.join("generic.jsonl"))?;
        let mut groups = BTreeSet::new();
        for (i, e) in entities.iter().enumerate() {
            let at = |m: String| Error::bad_file(&ents_path, format!("entity {} ({:?}): {m}", i + 1, e.entity));
            if e.entity.trim().is_empty() {
                return Err(at("empty name".into()));
            }
            if e.source != REAL && e.source != FABRICATED {
                return Err(at(format!(
                    "source {:?} is neither \"real\" nor \"fabricated\"",
                    e.source
                )));
            }
            if e.origin.as_deref().is_some_and(|o| o.trim().is_empty()) {
                return Err(at("empty \"origin\"".into()));
            }
            if !frames.type_nouns.contains_key(&e.kind) {
                return Err(at(format!("type {:?} has no noun in frames.json", e.kind)));
            }
            if e.questions.is_empty() {
                return Err(at("no questions".into()));
            }
            if e.source == REAL && e.questions.iter().any(|q| q.answers.is_empty()) {
                return Err(at("a question of a real entity has no accepted answers".into()));
            }
            if !groups.insert(e.group.clone()) {
                return Err(at(format!("group {:?} appears twice", e.group)));
            }
        }
        Ok(Data {
            entities,
            frames,
            generic: generic.into_iter().map(|g| g.text).collect(),
        })
    }
}

/// At most `max` entities of every type x origin, spread evenly over the file, in file order.
pub(super) fn select_entities(all: &[Entity], max: Option<usize>) -> Vec<Entity> {
    let mut cells: Vec<((&str, &str), Vec<usize>)> = Vec::new();
    for (i, e) in all.iter().enumerate() {
        let key = (e.kind.as_str(), e.origin());
        match cells.iter_mut().find(|c| c.0 == key) {
            Some(c) => c.1.push(i),
            None => cells.push((key, vec![i])),
        }
    }
    let mut keep: Vec<usize> = cells.iter().flat_map(|c| spread(&c.1, max)).collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| all[i].clone()).collect()
}

/// The entity types in order of first appearance.
pub(super) fn types_of(selected: &[Entity]) -> Vec<String> {
    let mut types: Vec<String> = Vec::new();
    for e in selected {
        if !types.contains(&e.kind) {
            types.push(e.kind.clone());
        }
    }
    types
}

/// An entity's label from the model's answers to its usable (non-leaking) questions.
pub(super) fn entity_status(source: &str, used: usize, correct: usize) -> &'static str {
    if source == FABRICATED {
        FABRICATED
    } else if used < 2 {
        TOO_FEW
    } else if correct >= 2 {
        KNOWN
    } else if correct == 0 {
        UNKNOWN
    } else {
        PARTIAL
    }
}

/// Splits labelled rows into rows that choose directions and latents and rows held out for
/// steering, stratified by label: a seeded `fraction` of each class is held out, always
/// leaving at least one row of each class for the choice.
pub(super) fn split_rows(rows: &[usize], known: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed ^ 0x5EED_0F57_0011);
    let (mut select, mut held) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut v: Vec<usize> = rows
            .iter()
            .zip(known)
            .filter(|(_, &k)| k == class)
            .map(|(&r, _)| r)
            .collect();
        crate::harvest::store::shuffle(&mut v, &mut rng);
        let n_held = ((v.len() as f64 * fraction).floor() as usize).min(v.len().saturating_sub(1));
        held.extend_from_slice(&v[..n_held]);
        select.extend_from_slice(&v[n_held..]);
    }
    select.sort_unstable();
    held.sort_unstable();
    (select, held)
}

// The harvested and written rows below keep their fields in alphabetical order: the files
// are byte for byte those of the untyped suite, so its stores stay valid.

/// A row of `data/entities.jsonl` (labels stay out, so the store is reused whatever the
/// answers were).
#[derive(Serialize)]
pub(super) struct EntityRow<'a> {
    pub(super) entity: &'a str,
    pub(super) group: &'a str,
    pub(super) source: &'a str,
    pub(super) text: String,
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
}

/// A row of `data/sae_corpus.jsonl`.
#[derive(Serialize)]
pub(super) struct CorpusRow<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) entity: Option<&'a str>,
    pub(super) kind: &'static str,
    pub(super) text: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(super) entity_type: Option<&'a str>,
}

/// A row of `data/questions.jsonl`, the P(IK) harvest.
#[derive(Serialize)]
pub(super) struct QuestionRow<'a> {
    pub(super) attribute: &'a str,
    pub(super) entity: &'a str,
    pub(super) group: &'a str,
    /// A rendered chat goes in `raw` (tokenized as it stands), a plain prompt in `text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<&'a str>,
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
}

/// A line of `labels.jsonl`: every entity with its status and P(known).
#[derive(Serialize)]
pub(super) struct LabelRow<'a> {
    pub(super) correct: usize,
    pub(super) entity: &'a str,
    pub(super) group: &'a str,
    pub(super) p_known: f64,
    pub(super) questions_used: usize,
    pub(super) source: &'a str,
    pub(super) split: &'static str,
    pub(super) status: &'static str,
    #[serde(rename = "type")]
    pub(super) kind: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_counts() {
        assert_eq!(entity_status("real", 3, 2), KNOWN);
        assert_eq!(entity_status("real", 3, 0), UNKNOWN);
        assert_eq!(entity_status("real", 3, 1), PARTIAL);
        assert_eq!(entity_status("real", 1, 1), TOO_FEW);
        assert_eq!(entity_status("fabricated", 0, 0), FABRICATED);
    }

    #[test]
    fn the_split_is_stratified_and_keeps_both_classes_for_the_choice() {
        let rows: Vec<usize> = (0..10).collect();
        let known: Vec<bool> = (0..10).map(|i| i < 3).collect();
        let (select, held) = split_rows(&rows, &known, 0.5, 7);
        assert_eq!(select.len() + held.len(), 10);
        assert_eq!(
            held.iter().filter(|&&i| i < 3).count(),
            1,
            "floor(3 / 2) known held out"
        );
        assert_eq!(
            held.iter().filter(|&&i| i >= 3).count(),
            3,
            "floor(7 / 2) unknown held out"
        );
        // Two of a class: one each side; one of a class: it stays in the choice split.
        let (select, held) = split_rows(&[0, 1, 2], &[true, false, false], 0.5, 1);
        assert_eq!(select.iter().filter(|&&i| i == 0).count(), 1);
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn spread_keeps_both_ends_of_the_file() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(spread(&v, Some(3)), vec![0, 3, 6]);
        assert_eq!(spread(&v, None), v);
    }

    #[test]
    fn corpus_rows_keep_the_untyped_byte_layout() {
        let g = CorpusRow {
            entity: None,
            kind: "generic",
            text: "Hi.".into(),
            entity_type: None,
        };
        assert_eq!(serde_json::to_string(&g).unwrap(), r#"{"kind":"generic","text":"Hi."}"#);
        let e = CorpusRow {
            entity: Some("Paris"),
            kind: "entity",
            text: "The city Paris".into(),
            entity_type: Some("city"),
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            serde_json::json!({"text": "The city Paris", "kind": "entity", "entity": "Paris", "type": "city"})
                .to_string()
        );
    }
}
