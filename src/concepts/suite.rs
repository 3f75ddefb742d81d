//! The shape every concept suite has: options with a quick preset, a run that goes stage by
//! stage, typed results, figures and a report drawn from the results alone.
//!
//! [`run_suite`] drives a [`Suite`]: it runs it with a [`SuiteRun`] (which makes each stage
//! resumable and reports progress), writes `OUT/results.json`, draws `OUT/figures/` and
//! writes `OUT/report.md`. `mindlens plot OUT/results.json` redraws both later.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::Backend;
use indicatif::ProgressBar;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifact::{read_json, write_json, write_text};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::registry::sha256_file;

/// A concept suite.
pub trait Suite {
    /// The `kind` of its `results.json`, by which `mindlens plot` recognises the file.
    const KIND: &'static str;
    /// Its settings; `Default` is the full experiment.
    type Options: Clone + Default + Serialize;
    /// What it found, written as `results.json`.
    type Results: Serialize + DeserializeOwned;
    /// The part of the results a reader wants first (printed by the CLI).
    type Headline: Serialize;

    /// The few-minute preset (`--quick`) for a model with `n_layers` blocks.
    fn quick(n_layers: usize) -> Self::Options;
    /// The directory its data files are read from.
    fn data_dir(opts: &mut Self::Options) -> &mut PathBuf;
    /// Its steering strengths (`--alphas`), if it steers.
    fn alphas(_opts: &mut Self::Options) -> Option<&mut Vec<f32>> {
        None
    }
    /// Runs the suite, each expensive step a [`SuiteRun::stage`].
    fn run<B: Backend>(model: &Model<B>, opts: &Self::Options, run: &SuiteRun) -> Result<Self::Results>;
    /// Draws its figures from the results alone into `dir`; returns the files.
    fn figures(results: &Self::Results, dir: &Path) -> Result<Vec<PathBuf>>;
    /// `report.md` from the results alone.
    fn report(results: &Self::Results) -> String;
    /// The headline of the results.
    fn headline(results: &Self::Results) -> &Self::Headline;
}

/// Runs suite `S` on `model` into `out` and returns its results. Run again with the same
/// command after an interruption (even SIGKILL), it continues from the last finished stage
/// and ends with the same `results.json`.
pub fn run_suite<S: Suite, B: Backend>(
    model: &Model<B>,
    opts: &S::Options,
    out: &Path,
    progress: bool,
) -> Result<S::Results> {
    let started = Instant::now();
    let mut o = opts.clone();
    let key = run_key(S::KIND, &model.name, opts, S::data_dir(&mut o))?;
    let run = SuiteRun::open(out, S::KIND, key, progress)?;
    let results = S::run(model, opts, &run)?;
    write_json(&out.join("results.json"), &results)?;
    S::figures(&results, &out.join("figures"))?;
    write_text(&out.join("report.md"), &S::report(&results))?;
    run.say(&format!(
        "done in {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        out.join("report.md").display()
    ));
    Ok(results)
}

/// Redraws the figures of suite `S` from a `results.json` into `figures` and rewrites its
/// `report.md` in `report_dir`, so that a change to how results are drawn or described
/// reaches finished runs without re-running them.
pub fn redraw<S: Suite>(path: &Path, figures: &Path, report_dir: &Path) -> Result<Vec<PathBuf>> {
    let results: S::Results = read_json(path)?;
    let mut files = S::figures(&results, figures)?;
    let report = report_dir.join("report.md");
    write_text(&report, &S::report(&results))?;
    files.push(report);
    Ok(files)
}

/// `base` with the fields of the JSON object in the file `path` put over it (a file may give
/// all the options or a few). An unknown field, or a value of the wrong type, is an error
/// naming the file and the field.
pub fn overlay_options<O: Serialize + DeserializeOwned>(base: &O, path: &Path) -> Result<O> {
    let bad = |m: String| Error::bad_file(path, m);
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let file: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let serde_json::Value::Object(fields) = file else {
        return Err(bad("must hold a JSON object of options".into()));
    };
    let mut merged = match serde_json::to_value(base) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => return Err(Error::Invalid("these options are not a JSON object".into())),
    };
    for (k, v) in fields {
        if !merged.contains_key(&k) {
            let known: Vec<&String> = merged.keys().collect();
            return Err(bad(format!("unknown option {k:?} (known: {known:?})")));
        }
        // One field at a time, so that a type error names its field.
        let mut one = merged.clone();
        one.insert(k.clone(), v.clone());
        serde_json::from_value::<O>(serde_json::Value::Object(one)).map_err(|e| bad(format!("option {k:?}: {e}")))?;
        merged.insert(k, v);
    }
    serde_json::from_value(serde_json::Value::Object(merged)).map_err(|e| bad(e.to_string()))
}

/// What a run is made of: the suite, the model, every option and the bytes of every data
/// file. A stage saved under another key is stale.
fn run_key(kind: &str, model: &str, opts: &impl Serialize, data_dir: &Path) -> Result<String> {
    let mut h = Sha256::new();
    let options = serde_json::to_string(opts).map_err(|e| Error::Invalid(format!("{kind} options: {e}")))?;
    for part in [kind, model, options.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .map_err(|e| Error::io(data_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for f in files {
        h.update(
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        h.update(sha256_file(&f)?);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// One run of a suite in its output directory: where it writes, how it reports progress,
/// and its stages, each saved in `OUT/stages/NAME.json` when it finishes.
pub struct SuiteRun {
    out: PathBuf,
    suite: &'static str,
    key: String,
    progress: bool,
}

/// A finished stage on disk.
#[derive(Serialize, Deserialize)]
struct StageFile<T> {
    key: String,
    seconds: f64,
    value: T,
}

impl SuiteRun {
    /// A run of `suite` writing into `out` (created), whose stages are valid under `key`.
    pub fn open(out: &Path, suite: &'static str, key: String, progress: bool) -> Result<Self> {
        let stages = out.join("stages");
        std::fs::create_dir_all(&stages).map_err(|e| Error::io(&stages, e))?;
        Ok(SuiteRun {
            out: out.to_path_buf(),
            suite,
            key,
            progress,
        })
    }

    /// The output directory.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Whether progress is shown.
    pub fn progress(&self) -> bool {
        self.progress
    }

    /// A stage announcement on stderr: `[suite] msg`.
    pub fn say(&self, msg: &str) {
        if self.progress {
            eprintln!("[{}] {msg}", self.suite);
        }
    }

    /// A progress bar counting `len` items of `what` (hidden without progress).
    pub fn bar(&self, what: &str, len: u64) -> ProgressBar {
        crate::progress::bar(&format!("{} {what}", self.suite), len, self.progress)
    }

    /// The value of stage `name`: read back when this run (same key) finished it before,
    /// else computed by `f` and saved atomically. Stages must be deterministic, so that a
    /// resumed run ends as an uninterrupted one would.
    pub fn stage<T: Serialize + DeserializeOwned>(&self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let path = self.out.join("stages").join(format!("{name}.json"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            match serde_json::from_str::<StageFile<T>>(&text) {
                Ok(s) if s.key == self.key => {
                    self.say(&format!("{name}: finished earlier ({:.0} s), reusing it", s.seconds));
                    return Ok(s.value);
                }
                Ok(_) => self.say(&format!(
                    "{name}: saved by a run with other options or data, redoing it"
                )),
                Err(e) => self.say(&format!("{name}: {} unreadable ({e}), redoing it", path.display())),
            }
        }
        self.say(name);
        let started = Instant::now();
        let value = f()?;
        let file = StageFile {
            key: self.key.clone(),
            seconds: started.elapsed().as_secs_f64(),
            value,
        };
        write_json(&path, &file)?;
        Ok(file.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concepts::personality::PersonalityOptions;

    #[test]
    fn options_files_overlay_and_name_bad_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.json");
        let base = PersonalityOptions::quick(30);
        std::fs::write(
            &path,
            r#"{"kl_bound": 0.05, "traits": ["extraversion"], "max_items": null}"#,
        )
        .unwrap();
        let o = overlay_options(&base, &path).unwrap();
        assert_eq!(
            (o.kl_bound, o.traits.clone(), o.max_items),
            (0.05, vec!["extraversion".to_string()], None)
        );
        // Fields the file does not give keep the base's values.
        assert_eq!(
            (o.layers, o.judge_questions),
            (base.layers.clone(), base.judge_questions)
        );
        for (json, names) in [
            (r#"{"kl_bund": 0.05}"#, "kl_bund"),
            (r#"{"folds": "five"}"#, "folds"),
            (r#"[1, 2]"#, "object"),
            (r#"{"folds": "#, "not JSON"),
        ] {
            std::fs::write(&path, json).unwrap();
            let e = overlay_options(&base, &path).unwrap_err().to_string();
            assert!(e.contains(names) && e.contains("o.json"), "{json}: {e}");
        }
    }
}
