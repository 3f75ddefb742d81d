//! The belief suite's data: statements (probed) and two-option questions (steered).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::concepts::data::read_rows;
use crate::error::{Error, Result};
use crate::steer::sweep::Item;

/// A row of `statements.jsonl`: `"Story: ...\nBelief: ..."` with its two labels. Other
/// fields ride along into the harvest rows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Statement {
    pub text: String,
    pub story_id: String,
    pub schema: String,
    pub form: String,
    pub condition: String,
    /// The protagonist believes the statement.
    pub protagonist: bool,
    /// The statement is true.
    pub oracle: bool,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// A row of `questions.jsonl`.
#[derive(Clone, Debug, Deserialize)]
pub struct Question {
    #[serde(default)]
    pub id: String,
    pub text: String,
    pub choice_texts: Vec<String>,
    pub target: usize,
    pub story_id: String,
    pub form: String,
    pub condition: String,
}

/// Both data files, read and checked.
pub struct Data {
    pub statements: Vec<Statement>,
    pub questions: Vec<Question>,
}

impl Data {
    pub fn read(dir: &Path) -> Result<Self> {
        Ok(Data {
            statements: read_rows(&dir.join("statements.jsonl"))?,
            questions: read_rows(&dir.join("questions.jsonl"))?,
        })
    }
}

/// Story ids to use: all, or `max` taken in turn from each schema x condition group (the
/// file lists stories schema by schema, so a prefix would hold one schema only).
pub fn select_stories(statements: &[Statement], max: Option<usize>) -> Result<BTreeSet<String>> {
    let mut groups: Vec<((&str, &str), Vec<&str>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for r in statements {
        if !seen.insert(r.story_id.as_str()) {
            continue;
        }
        let key = (r.schema.as_str(), r.condition.as_str());
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(&r.story_id),
            None => groups.push((key, vec![&r.story_id])),
        }
    }
    let want = max.unwrap_or(seen.len()).min(seen.len());
    if want < 2 {
        return Err(Error::Invalid(format!(
            "the belief suite needs at least 2 stories (asked for {want})"
        )));
    }
    let mut chosen = BTreeSet::new();
    for round in 0.. {
        for g in &groups {
            if chosen.len() < want {
                if let Some(id) = g.1.get(round) {
                    chosen.insert(id.to_string());
                }
            }
        }
        if chosen.len() >= want {
            break;
        }
    }
    Ok(chosen)
}

/// A question as an A/B item for `option_probabilities`: the story and question without
/// the completion stem (the scorer lists the options and scores each option's text after
/// `Answer: `), with the option words as choices.
pub fn question_item(q: &Question) -> Result<Item> {
    let stem = match q.text.rsplit_once('\n') {
        Some((head, last)) if last.trim_start().starts_with("Answer:") => head,
        _ => q.text.as_str(),
    };
    let choices: Vec<String> = q.choice_texts.iter().map(|c| c.trim().to_string()).collect();
    if choices.len() != 2 || choices.iter().any(String::is_empty) || q.target > 1 {
        return Err(Error::Invalid(format!(
            "question {:?}: choice_texts must be two non-empty strings and target 0 or 1",
            q.id
        )));
    }
    Ok(Item {
        text: Some(stem.to_string()),
        messages: None,
        choices,
        target: q.target,
    })
}

/// Indices of at most `k` items, taken in turn from each condition, in file order.
pub fn balanced(conds: &[String], k: usize) -> Vec<usize> {
    let mut by: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in conds.iter().enumerate() {
        by.entry(c.as_str()).or_default().push(i);
    }
    let mut keep = Vec::new();
    for round in 0.. {
        let before = keep.len();
        for v in by.values() {
            if keep.len() < k {
                if let Some(&i) = v.get(round) {
                    keep.push(i);
                }
            }
        }
        if keep.len() >= k || keep.len() == before {
            break;
        }
    }
    keep.sort_unstable();
    keep
}
