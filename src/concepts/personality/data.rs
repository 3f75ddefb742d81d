//! The suite's data files, and the harvest rows built from them with the bookkeeping of
//! which row is which (deterministic, so a resumed run rebuilds it instead of saving it).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::options::PersonalityOptions;
use super::yardstick::Keyed;
use crate::chat::ChatMessage;
use crate::concepts::data::{read_rows, spread};
use crate::error::{Error, Result};
use crate::steer::sweep::Item;

/// The five traits, in the data's order.
pub const TRAITS: [&str; 5] = [
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
];

/// Questionnaire templates; the spread of scores across them is reported.
pub(super) const TEMPLATES: [&str; 3] = ["t0", "t1", "t2"];

#[derive(Clone, Deserialize)]
struct Persona {
    #[serde(rename = "trait")]
    trait_name: String,
    pole: String,
    system: String,
}

#[derive(Clone, Deserialize)]
pub(super) struct Graded {
    pub id: String,
    #[serde(rename = "trait")]
    trait_name: String,
    pub strength: f64,
    pub system: String,
}

#[derive(Clone, Deserialize)]
pub(super) struct Question {
    pub id: String,
    pub text: String,
    split: String,
}

/// A row of `questionnaire.jsonl` or `behaviour.jsonl`.
#[derive(Clone, Deserialize)]
pub(super) struct AbRow {
    id: String,
    #[serde(rename = "trait")]
    trait_name: String,
    pub item: String,
    #[serde(default)]
    pub template: Option<String>,
    /// Questionnaire only: `+` when agreeing is the high pole, `-` when it is the low pole.
    #[serde(default)]
    pub keyed: Option<String>,
    order: String,
    split: String,
    messages: Vec<ChatMessage>,
    target: usize,
    choice_texts: Vec<String>,
}

/// An A/B row as a steering-sweep [`Item`]. The row's user message lists the options itself;
/// the sweep lists them again in each order it scores, so the row's own block is cut off and
/// the sweep's option-order averaging replaces the file's `ab`/`ba` copies.
pub(super) fn to_item(row: &AbRow, path: &Path, system: Option<&str>) -> Result<Item> {
    let bad = |msg: String| Error::bad_file(path, format!("row {}: {msg}", row.id));
    if row.choice_texts.len() != 2 || row.target >= 2 {
        return Err(bad(format!(
            "needs two choice_texts and target 0 or 1 (found {} texts, target {})",
            row.choice_texts.len(),
            row.target
        )));
    }
    let tail = format!("\nA) {}\nB) {}\nAnswer:", row.choice_texts[0], row.choice_texts[1]);
    let mut messages = row.messages.clone();
    let user = messages
        .iter_mut()
        .rev()
        .find(|m| m.role == "user")
        .ok_or_else(|| bad("no user message".into()))?;
    let stem = user
        .content
        .trim_end()
        .strip_suffix(tail.as_str())
        .ok_or_else(|| bad(format!("the user message does not end with the options block {tail:?}")))?;
    user.content = stem.trim_end().to_string();
    if let Some(s) = system {
        messages.retain(|m| m.role != "system");
        messages.insert(0, ChatMessage::system(s));
    }
    Ok(Item {
        text: None,
        messages: Some(messages),
        choices: row.choice_texts.clone(),
        target: row.target,
    })
}

/// A questionnaire row as an item whose target is the agreeing option (A in order `ab`),
/// with its keying. The row's own target (the high pole) must match the keying: agreeing
/// for `+`, disagreeing for `-`.
pub(super) fn agree_item(row: &AbRow, path: &Path, system: Option<&str>) -> Result<(Item, Keyed)> {
    let keyed = match (row.keyed.as_deref(), row.target) {
        (Some("+"), 0) => Keyed::Positive,
        (Some("-"), 1) => Keyed::Reverse,
        (k, target) => {
            return Err(Error::bad_file(
                path,
                format!(
                    "row {}: keyed {k:?} with target {target} (in order \"ab\" the agreeing option A is the high \
                     pole for \"+\" and the low pole for \"-\")",
                    row.id
                ),
            ))
        }
    };
    let mut item = to_item(row, path, system)?;
    item.target = 0;
    Ok((item, keyed))
}

/// A rater prompt of `judge.jsonl`: the same model, unsteered, asked which of two
/// descriptions fits the writer of an answer.
#[derive(Clone, Deserialize)]
pub(super) struct JudgeRow {
    #[serde(rename = "trait")]
    trait_name: String,
    /// The rater prompt's name (`r0`, ...): the judge's "templates".
    pub rater: String,
    pub system: String,
    /// The user turn, with `{question}` and `{answer}` to fill in.
    pub user: String,
    /// Descriptions of the high and the low pole, the two options.
    pub high: String,
    pub low: String,
}

impl JudgeRow {
    /// The rating of `answer` to `question` as an A/B item whose target is the high pole.
    pub fn item(&self, question: &str, answer: &str) -> Item {
        let user = self.user.replace("{question}", question).replace("{answer}", answer);
        Item {
            text: None,
            messages: Some(vec![ChatMessage::system(self.system.clone()), ChatMessage::user(user)]),
            choices: vec![self.high.clone(), self.low.clone()],
            target: 0,
        }
    }
}

/// Test-split rows of one trait in order `ab`, from an evenly spread choice of `max` items.
pub(super) fn test_rows<'a>(rows: &'a [AbRow], trait_name: &str, max: Option<usize>) -> Vec<&'a AbRow> {
    let mine: Vec<&AbRow> = rows
        .iter()
        .filter(|r| r.trait_name == trait_name && r.split == "test" && r.order == "ab")
        .collect();
    let mut ids: Vec<String> = mine.iter().map(|r| r.item.clone()).collect();
    ids.dedup();
    let keep = spread(&ids, max);
    mine.into_iter().filter(|r| keep.contains(&r.item)).collect()
}

/// The suite's data files, read and checked.
pub(super) struct Data {
    dir: PathBuf,
    personas: Vec<Persona>,
    graded: Vec<Graded>,
    questions: Vec<Question>,
    pub questionnaire: Vec<AbRow>,
    pub behaviour: Vec<AbRow>,
    pub judge: Vec<JudgeRow>,
}

impl Data {
    pub fn read(dir: &Path) -> Result<Self> {
        Ok(Data {
            dir: dir.to_path_buf(),
            personas: read_rows(&dir.join("personas.jsonl"))?,
            graded: read_rows(&dir.join("graded.jsonl"))?,
            questions: read_rows(&dir.join("questions.jsonl"))?,
            questionnaire: read_rows(&dir.join("questionnaire.jsonl"))?,
            behaviour: read_rows(&dir.join("behaviour.jsonl"))?,
            judge: read_rows(&dir.join("judge.jsonl"))?,
        })
    }

    /// The rater prompts of one trait; an error when there are none or one lacks a slot.
    pub fn raters(&self, trait_name: &str) -> Result<Vec<&JudgeRow>> {
        let path = self.path("judge.jsonl");
        let rows: Vec<&JudgeRow> = self.judge.iter().filter(|r| r.trait_name == trait_name).collect();
        if rows.is_empty() {
            return Err(Error::bad_file(
                path,
                format!("no rater prompt for trait {trait_name:?}"),
            ));
        }
        if let Some(r) = rows
            .iter()
            .find(|r| !r.user.contains("{question}") || !r.user.contains("{answer}"))
        {
            return Err(Error::bad_file(
                path,
                format!(
                    "rater {:?} of {trait_name:?}: the user turn needs {{question}} and {{answer}}",
                    r.rater
                ),
            ));
        }
        Ok(rows)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn questions(&self, split: &str) -> Vec<Question> {
        self.questions.iter().filter(|q| q.split == split).cloned().collect()
    }
}

/// A chat turn of a harvest row. Fields in alphabetical order (as in every object of the
/// rows file), so the file keeps its bytes and sha256 and a store harvested by an earlier
/// version is still reused.
#[derive(Serialize)]
struct Turn {
    content: String,
    role: &'static str,
}

/// One conversation of `OUT/harvest_rows.jsonl`: a persona (pole `high`/`low`, pair index)
/// or a graded persona (id, strength) answering a question.
#[derive(Serialize)]
pub(super) struct HarvestRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    graded: Option<String>,
    kind: &'static str,
    messages: [Turn; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    persona: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pole: Option<&'static str>,
    question: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    strength: Option<f64>,
    #[serde(rename = "trait")]
    trait_name: String,
}

/// Row indices of one trait in the harvest, and the probe labels of its persona rows.
#[derive(Default)]
pub(super) struct TraitRows {
    /// (high row, low row): same question, persona pair `i`.
    pub pairs: Vec<(usize, usize)>,
    pub persona: Vec<usize>,
    pub labels: Vec<Map<String, Value>>,
    /// The graded personas kept, and per persona its rows (one per monitoring question).
    pub graded_personas: Vec<Graded>,
    pub graded: Vec<Vec<usize>>,
}

/// Harvest rows for every trait: persona pairs x extract questions, then graded personas x
/// monitoring questions. Returns the rows and where each trait's rows are.
pub(super) fn harvest_plan(
    data: &Data,
    opts: &PersonalityOptions,
    extract_qs: &[Question],
    monitor_qs: &[Question],
) -> Result<(Vec<HarvestRow>, Vec<TraitRows>)> {
    let mut lines: Vec<HarvestRow> = Vec::new();
    let mut all_rows = Vec::new();
    let chat = |system: &str, user: &str| {
        [
            Turn {
                content: system.to_string(),
                role: "system",
            },
            Turn {
                content: user.to_string(),
                role: "user",
            },
        ]
    };
    for t in &opts.traits {
        let pole = |p: &str| {
            data.personas
                .iter()
                .filter(|x| x.trait_name == *t && x.pole == p)
                .collect::<Vec<_>>()
        };
        let (high, low) = (pole("high"), pole("low"));
        let n_pairs = high.len().min(low.len()).min(opts.max_personas.unwrap_or(usize::MAX));
        if n_pairs == 0 {
            return Err(Error::bad_file(
                data.path("personas.jsonl"),
                format!("no high/low persona pair for trait {t:?} (the suite's traits: {TRAITS:?})"),
            ));
        }
        let mut rows = TraitRows::default();
        for q in extract_qs {
            for i in 0..n_pairs {
                for (name, p) in [("high", high[i]), ("low", low[i])] {
                    rows.persona.push(lines.len());
                    lines.push(HarvestRow {
                        graded: None,
                        kind: "persona",
                        messages: chat(&p.system, &q.text),
                        persona: Some(i),
                        pole: Some(name),
                        question: q.id.clone(),
                        strength: None,
                        trait_name: t.clone(),
                    });
                    let mut m = Map::new();
                    m.insert("pole".into(), Value::from(name));
                    m.insert("question".into(), Value::from(q.id.clone()));
                    rows.labels.push(m);
                }
                rows.pairs.push((lines.len() - 2, lines.len() - 1));
            }
        }
        // At most `max_wordings` graded personas per strength level, in file order.
        let mut kept: Vec<Graded> = Vec::new();
        for g in data.graded.iter().filter(|g| g.trait_name == *t) {
            if kept.iter().filter(|k| k.strength == g.strength).count() < opts.max_wordings.unwrap_or(usize::MAX) {
                kept.push(g.clone());
            }
        }
        if kept.len() < 3 {
            return Err(Error::bad_file(
                data.path("graded.jsonl"),
                format!("fewer than 3 graded personas for {t:?}"),
            ));
        }
        for g in &kept {
            let mut ids = Vec::new();
            for q in monitor_qs {
                ids.push(lines.len());
                lines.push(HarvestRow {
                    graded: Some(g.id.clone()),
                    kind: "graded",
                    messages: chat(&g.system, &q.text),
                    persona: None,
                    pole: None,
                    question: q.id.clone(),
                    strength: Some(g.strength),
                    trait_name: t.clone(),
                });
            }
            rows.graded.push(ids);
        }
        rows.graded_personas = kept;
        all_rows.push(rows);
    }
    Ok((lines, all_rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_items_point_at_agreeing_and_carry_the_keying() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/personality");
        let data = Data::read(&dir).unwrap();
        let path = dir.join("questionnaire.jsonl");
        let rows = test_rows(&data.questionnaire, "extraversion", None);
        let mut seen = [false, false];
        for r in rows {
            let (item, keyed) = agree_item(r, &path, Some("You are shy.")).unwrap();
            assert_eq!(item.target, 0);
            assert_eq!(
                item.choices[0], r.choice_texts[0],
                "A is the agreeing option in order ab"
            );
            // The high pole is the agreeing option exactly when the statement is + keyed.
            assert_eq!(keyed == Keyed::Positive, r.target == 0, "{}", r.id);
            seen[(keyed == Keyed::Reverse) as usize] = true;
            let m = item.messages.unwrap();
            assert_eq!((m[0].role.as_str(), m[0].content.as_str()), ("system", "You are shy."));
        }
        assert_eq!(seen, [true, true], "both keyings among the test statements");
        // A row whose keying contradicts its target is refused, naming the row.
        let mut bad = data.questionnaire[0].clone();
        bad.keyed = Some("-".into());
        let err = agree_item(&bad, &path, None).unwrap_err().to_string();
        assert!(err.contains(&bad.id) && err.contains("keyed"), "{err}");
        assert!(data.raters("extraversion").unwrap().len() >= 2);
        assert!(data.raters("no-such-trait").is_err());
    }

    #[test]
    fn harvest_rows_keep_the_bytes_of_earlier_versions() {
        let opts = PersonalityOptions {
            data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/personality"),
            traits: vec!["extraversion".into()],
            max_personas: Some(1),
            max_wordings: Some(1),
            ..Default::default()
        };
        let data = Data::read(&opts.data_dir).unwrap();
        let (qs, tests) = (data.questions("extract"), data.questions("test"));
        let (rows, plan) = harvest_plan(&data, &opts, &qs[..1], &tests[..1]).unwrap();
        assert_eq!(rows.len(), 2 + 5);
        assert_eq!(plan[0].pairs, vec![(0, 1)]);
        let first = serde_json::to_string(&rows[0]).unwrap();
        assert!(
            first.starts_with(r#"{"kind":"persona","messages":[{"content":"#),
            "{first}"
        );
        assert!(
            first.ends_with(&format!(
                r#""role":"user"}}],"persona":0,"pole":"high","question":"{}","trait":"extraversion"}}"#,
                qs[0].id
            )),
            "{first}"
        );
        let graded = serde_json::to_string(&rows[2]).unwrap();
        assert!(graded.starts_with(r#"{"graded":"#), "{graded}");
        assert!(
            graded.contains(r#""strength":-2.0,"trait":"extraversion"}"#),
            "{graded}"
        );
    }
}
