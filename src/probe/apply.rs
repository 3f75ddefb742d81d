//! Scoring new rows with a saved probe (`mindlens probe apply`).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use burn::tensor::backend::Backend;
use ndarray::{Array2, ArrayView2};
use serde_json::{Map, Value};

use super::{load_probe, LinearProbe, ProbeMeta};
use crate::error::{Error, Result};
use crate::harvest::{harvest, ActivationStore, HarvestOptions, PositionSpec};
use crate::hooks::{HookPoint, HookSet};
use crate::model::{LogitsMode, Model};
use crate::prompts::PromptRow;

/// `score`, `prob` and `pred` of each row of `x` (the head slice is taken here).
pub fn score_rows(probe: &LinearProbe, meta: &ProbeMeta, x: ArrayView2<f64>, d_head: usize) -> Vec<Map<String, Value>> {
    let x = match meta.head {
        Some(h) => x.slice(ndarray::s![.., h * d_head..(h + 1) * d_head]).to_owned(),
        None => x.to_owned(),
    };
    let scores = probe.scores(x.view());
    let proba = (probe.n_classes > 0).then(|| probe.predict_proba(x.view()));
    (0..x.nrows())
        .map(|i| {
            let mut m = Map::new();
            match &proba {
                Some(p) if probe.n_classes == 2 => {
                    m.insert("score".into(), scores[[i, 0]].into());
                    m.insert("prob".into(), p[[i, 1]].into());
                    m.insert("pred".into(), meta.classes[(p[[i, 1]] >= 0.5) as usize].clone().into());
                }
                Some(p) => {
                    let best = (0..p.ncols())
                        .max_by(|&a, &b| p[[i, a]].total_cmp(&p[[i, b]]))
                        .unwrap_or(0);
                    m.insert("score".into(), scores.row(i).to_vec().into());
                    m.insert("prob".into(), p.row(i).to_vec().into());
                    m.insert("pred".into(), meta.classes[best].clone().into());
                }
                None => {
                    m.insert("score".into(), scores[[i, 0]].into());
                    m.insert("prob".into(), Value::Null);
                    m.insert("pred".into(), scores[[i, 0]].into());
                }
            }
            m
        })
        .collect()
}

fn write_jsonl(out: &Path, lines: impl Iterator<Item = Map<String, Value>>) -> Result<usize> {
    let mut n = 0;
    crate::artifact::write_atomic(out, |f| {
        let mut w = std::io::BufWriter::new(f);
        for l in lines {
            serde_json::to_writer(&mut w, &l).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())?;
            n += 1;
        }
        w.flush().map_err(|e| e.to_string())
    })?;
    Ok(n)
}

/// Scores every row of a store (harvested at the probe's hook) into `out` (JSONL: the row's
/// carried fields plus `score`, `prob`, `pred`).
pub fn apply_to_store(probe_dir: &Path, store: &ActivationStore, out: &Path) -> Result<usize> {
    let (probe, meta) = load_probe(probe_dir)?;
    let point: HookPoint = meta.hook.parse()?;
    let x = store.load(point)?.mapv(f64::from);
    let d_head = store.manifest.model_config["d_head"].as_u64().unwrap_or(1) as usize;
    check_width(&probe, &meta, x.ncols(), d_head)?;
    let rows = store.rows()?;
    let scored = score_rows(&probe, &meta, x.view(), d_head);
    write_jsonl(
        out,
        rows.into_iter().zip(scored).map(|(mut r, s)| {
            r.extend(s);
            r
        }),
    )
}

fn check_width(probe: &LinearProbe, meta: &ProbeMeta, width: usize, d_head: usize) -> Result<()> {
    let want = probe.weights.ncols();
    let have = if meta.head.is_some() { d_head } else { width };
    if want != have {
        return Err(Error::Invalid(format!(
            "the probe reads {want}-dimensional activations at {}, but the model gives {have}",
            meta.hook
        )));
    }
    Ok(())
}

/// Harvests the probe's hook at its positions for every row of `data` and scores it; each
/// output line is the input row plus `score`, `prob` and `pred`. With `per_token`, adds
/// `tokens` and `per_token` (the probe's score at every token).
pub fn apply_to_data<B: Backend>(
    probe_dir: &Path,
    model: &Model<B>,
    data: &Path,
    out: &Path,
    per_token: bool,
) -> Result<usize> {
    let (probe, meta) = load_probe(probe_dir)?;
    if meta.model != model.name {
        eprintln!(
            "warning: probe was trained on {} and is applied to {}",
            meta.model, model.name
        );
    }
    let point: HookPoint = meta.hook.parse()?;
    let d_head = model.config.d_head;
    check_width(&probe, &meta, model.config.hook_width(point), d_head)?;
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let opts = HarvestOptions {
        hooks: vec![point],
        positions: meta.positions.parse::<PositionSpec>()?,
        progress: false,
        ..Default::default()
    };
    harvest(model, data, tmp.path(), &opts)?;
    let store = ActivationStore::open(tmp.path())?;
    let x = store.load(point)?.mapv(f64::from);
    let scored = score_rows(&probe, &meta, x.view(), d_head);
    let f = std::fs::File::open(data).map_err(|e| Error::io(data, e))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(data, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(&line).map_err(|e| Error::Invalid(format!("{}:{}: {e}", data.display(), i + 1)))?;
        let Value::Object(obj) = v.clone() else {
            return Err(Error::Invalid(format!(
                "{}:{}: expected a JSON object",
                data.display(),
                i + 1
            )));
        };
        let mut obj = obj;
        if per_token {
            let what = || format!("{}:{}", data.display(), i + 1);
            let row = PromptRow::parse(v, i + 1, &what)?;
            let ids = model.encode(&row.input)?;
            let mut hooks = HookSet::capture([point]);
            model.run(std::slice::from_ref(&ids), &mut hooks, LogitsMode::None)?;
            let acts: Array2<f64> = hooks.captured(point).expect("captured").row(0).mapv(f64::from);
            let per = score_rows(&probe, &meta, acts.view(), d_head);
            obj.insert("tokens".into(), ids.into());
            obj.insert(
                "per_token".into(),
                per.into_iter().map(|m| m["score"].clone()).collect::<Vec<_>>().into(),
            );
        }
        rows.push(obj);
    }
    write_jsonl(
        out,
        rows.into_iter().zip(scored).map(|(mut r, s)| {
            r.extend(s);
            r
        }),
    )
}
