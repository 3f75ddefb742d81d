//! Step 3, SAE latents at the steering layer: the suite's own text (generic sentences,
//! neutral frames, question prompts) harvested at every token, a small TopK SAE trained on it
//! unless one is given, latents firing on much generic text dropped, and the rest ranked by
//! how differently they fire on the choice split's known and unknown entities.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use ndarray::{Array2, Axis};

use super::super::data::{CorpusRow, Entity, Frames, KNOWN};
use super::super::options::KnowledgeOptions;
use super::super::results::{
    LatentInfo, SaeOrigin, SaeRun, SaeSection, SaeSource, SeparationHistogram, TopContext, TopEntity,
};
use super::probe::{layer_of, Acts};
use crate::artifact::write_text;
use crate::concepts::SuiteRun;
use crate::error::{Error, Result};
use crate::harvest::{harvest_rows, ActivationStore, ChunkOrder, PositionSpec};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::prompts::read_jsonl;
use crate::sae::inspect::{separation_scores, top_contexts, LatentReport};
use crate::sae::saelens;
use crate::sae::train::{train, RunControl, TrainOptions};
use crate::sae::{Arch, Sae};

/// Bins of the separation histogram over [-1, 1].
const BINS: usize = 40;

/// A pre-trained SAE, checked against the model, and its layer.
pub(in super::super) fn load_pretrained<B: Backend>(dir: &Path, model: &Model<B>) -> Result<(Sae, usize, String)> {
    let (sae, origin) = saelens::load(dir)?;
    sae.validate()?;
    if sae.d_in() != model.config.d_model {
        return Err(Error::bad_file(
            dir,
            format!(
                "the SAE reads width {}, the model's residual stream is {}",
                sae.d_in(),
                model.config.d_model
            ),
        ));
    }
    let point: HookPoint = origin.hook.parse().map_err(|_| {
        Error::bad_file(
            dir,
            format!("hook {:?} in cfg.json is not a mindlens hook name", origin.hook),
        )
    })?;
    match point {
        HookPoint::ResidPost(l) if l < model.config.n_layers => Ok((sae, l, origin.hook)),
        _ => Err(Error::bad_file(
            dir,
            format!(
                "the knowledge suite needs an SAE on blocks.L.hook_resid_post, this one reads {:?}",
                origin.hook
            ),
        )),
    }
}

/// The SAE the steering step reads: the given one, else the one trained into `OUT/sae`.
pub(in super::super) fn sae_dir(opts: &KnowledgeOptions, out: &Path) -> PathBuf {
    opts.sae.clone().unwrap_or_else(|| out.join("sae"))
}

/// Trains the suite's TopK SAE on the corpus store into `dir`, or reuses the one an
/// interrupted run trained there from the same store, hook and options.
fn train_sae<B: Backend>(
    store: &ActivationStore,
    hook: HookPoint,
    opts: &KnowledgeOptions,
    dir: &Path,
    progress: bool,
    device: &B::Device,
) -> Result<(Sae, SaeRun)> {
    let topts = TrainOptions {
        arch: Arch::TopK,
        expansion: opts.sae_expansion,
        k: opts.sae_k,
        tokens: opts.sae_tokens,
        batch: opts.sae_batch,
        seed: opts.seed,
        ..Default::default()
    };
    let topts_json = serde_json::to_value(&topts).map_err(|e| Error::Invalid(e.to_string()))?;
    // Compared as text: a JSON round trip of the options could differ in the last float digit.
    let key = serde_json::json!({
        "store_sha256": store.manifest.data.sha256,
        "vectors": store.manifest.vectors,
        "hook": hook.to_string(),
        "options": topts_json,
    })
    .to_string();
    let marker = dir.join("knowledge-suite.json");
    let reuse = dir.join(saelens::WEIGHTS_FILE).exists()
        && std::fs::read_to_string(&marker).ok().as_deref() == Some(key.as_str());
    if !reuse {
        std::fs::remove_file(&marker).ok();
        train::<burn::backend::Autodiff<B>>(
            store,
            hook,
            dir,
            &topts,
            RunControl {
                force: true,
                progress,
                ..Default::default()
            },
            device,
        )?;
        write_text(&marker, &key)?;
    }
    let (sae, _) = saelens::load(dir)?;
    let path = dir.join("training.json");
    let training: serde_json::Value = crate::artifact::read_json(&path)?;
    let summary = &training["summary"];
    let run = SaeRun {
        options: training["options"].clone(),
        steps: summary["steps"].as_u64().unwrap_or(0) as usize,
        tokens: summary["tokens"].as_u64().unwrap_or(0),
        scale: summary["scale"].as_f64().unwrap_or(f64::NAN),
        last: summary["last"].clone(),
    };
    Ok((sae, run))
}

/// Fraction of the generic-text tokens (rows `0..n_generic` of the corpus store) on which
/// each latent fires, and the number of those tokens.
fn generic_frequency(
    sae: &Sae,
    store: &ActivationStore,
    hook: HookPoint,
    n_generic: usize,
) -> Result<(Vec<f64>, usize)> {
    let index = store.token_index()?.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: the SAE corpus store should hold every token",
            store.dir().display()
        ))
    })?;
    let mut fired = vec![0usize; sae.d_sae()];
    let (mut seen, mut n) = (0usize, 0usize);
    for chunk in store.chunks(hook, 4096, ChunkOrder::Sequential)? {
        let chunk = chunk?;
        let keep: Vec<usize> = (0..chunk.nrows())
            .filter(|&i| {
                index
                    .get((seen + i, 0))
                    .is_some_and(|&r| r >= 0 && (r as usize) < n_generic)
            })
            .collect();
        seen += chunk.nrows();
        if keep.is_empty() {
            continue;
        }
        let codes = sae.encode(chunk.select(Axis(0), &keep).view());
        for row in codes.rows() {
            for (l, &a) in row.iter().enumerate() {
                if a > 0.0 {
                    fired[l] += 1;
                }
            }
        }
        n += keep.len();
    }
    if n == 0 {
        return Err(Error::Invalid(format!(
            "{}: no generic-text tokens to filter latents with",
            store.dir().display()
        )));
    }
    Ok((fired.iter().map(|&f| f as f64 / n as f64).collect(), n))
}

/// Separation scores, minimum over entity types; pooled over types when no type holds both
/// sets (a tiny sample), with the rule used.
fn separation(codes: &Array2<f32>, in_a: &[bool], types: &[String]) -> Result<(Vec<f64>, &'static str)> {
    match separation_scores(codes, in_a, types) {
        Ok(s) => Ok((s, "minimum over entity types")),
        Err(_) => {
            let pooled = vec!["all".to_string(); in_a.len()];
            Ok((
                separation_scores(codes, in_a, &pooled)?,
                "pooled over entity types (no type held both classes)",
            ))
        }
    }
}

/// The `n` best eligible latents by score, best first. Latents that do not separate at all
/// (score <= 0) are left out, except that the best one is always kept, so steering still has
/// a latent to use and the report shows how weak it is.
fn rank_latents(scores: &[f64], eligible: &[bool], n: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len())
        .filter(|&l| eligible[l] && scores[l].is_finite())
        .collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let separating = idx.iter().take_while(|&&l| scores[l] > 0.0).count();
    idx.truncate(n.min(separating.max(1)));
    idx
}

/// Counts of the eligible latents' finite scores in [`BINS`] bins over [-1, 1].
fn histogram(scores: &[f64], eligible: &[bool]) -> Vec<usize> {
    let mut c = vec![0usize; BINS];
    for (l, &v) in scores.iter().enumerate() {
        if eligible[l] && v.is_finite() {
            c[(((v + 1.0) / 2.0 * BINS as f64) as usize).min(BINS - 1)] += 1;
        }
    }
    c
}

/// What the SAE step reads.
pub(in super::super) struct SaeInput<'a> {
    pub(in super::super) layer: usize,
    pub(in super::super) acts: &'a Acts,
    pub(in super::super) selected: &'a [Entity],
    pub(in super::super) frames: &'a Frames,
    pub(in super::super) status: &'a [&'static str],
    pub(in super::super) select: &'a [usize],
    pub(in super::super) held: usize,
    pub(in super::super) generic: &'a [String],
    /// A given SAE and its hook name; None: train one.
    pub(in super::super) pretrained: Option<(Sae, String)>,
}

/// Corpus harvest at the layer, the SAE (given or trained), the generic-firing filter,
/// separation scores on the choice split and the top latents each way.
pub(in super::super) fn sae_step<B: Backend>(
    model: &Model<B>,
    opts: &KnowledgeOptions,
    run: &SuiteRun,
    input: SaeInput,
) -> Result<SaeSection> {
    let SaeInput {
        layer,
        acts,
        selected,
        frames,
        status,
        select,
        held,
        generic,
        pretrained,
    } = input;
    let out = run.out();
    let hook = HookPoint::ResidPost(layer);
    // Generic rows first: the generic filter finds them by row index.
    let mut corpus: Vec<CorpusRow> = generic
        .iter()
        .map(|t| CorpusRow {
            entity: None,
            kind: "generic",
            text: t.clone(),
            entity_type: None,
        })
        .collect();
    for e in selected {
        corpus.push(CorpusRow {
            entity: Some(&e.entity),
            kind: "entity",
            text: frames.neutral(e),
            entity_type: Some(&e.kind),
        });
    }
    for e in selected {
        for q in &e.questions {
            corpus.push(CorpusRow {
                entity: Some(&e.entity),
                kind: "question",
                text: frames.question(q),
                entity_type: Some(&e.kind),
            });
        }
    }
    let corpus_path = out.join("data").join("sae_corpus.jsonl");
    run.say(&format!("harvesting the SAE corpus ({} texts) at {hook}", corpus.len()));
    let store = harvest_rows(
        model,
        &corpus,
        &corpus_path,
        &out.join("sae_store"),
        &[hook],
        PositionSpec::AllButFirst,
        run.progress(),
    )?;
    let (sae, source) = match pretrained {
        Some((sae, hook_name)) => {
            let dir = sae_dir(opts, out);
            let dir = dir.strip_prefix(out).unwrap_or(&dir).display().to_string();
            let source = SaeSource {
                source: "pretrained".into(),
                dir,
                hook: hook_name,
                corpus_vectors: None,
                run: None,
            };
            (sae, source)
        }
        None => {
            run.say(&format!(
                "training a TopK SAE (x{}, k = {}) on {} vectors",
                opts.sae_expansion, opts.sae_k, store.manifest.vectors
            ));
            let (sae, training) =
                train_sae::<B>(&store, hook, opts, &sae_dir(opts, out), run.progress(), model.device())?;
            let source = SaeSource {
                source: "trained".into(),
                dir: "sae".into(),
                hook: hook.to_string(),
                corpus_vectors: Some(store.manifest.vectors as u64),
                run: Some(training),
            };
            (sae, source)
        }
    };
    let (freq, n_generic_tokens) = generic_frequency(&sae, &store, hook, generic.len())?;
    let mut eligible: Vec<bool> = freq.iter().map(|&f| f <= opts.generic_drop).collect();
    let dropped = eligible.iter().filter(|&&e| !e).count();
    // A tiny SAE can leave nothing below the bound; then rank every latent, and say so.
    let filter_applied = eligible.iter().any(|&e| e);
    if !filter_applied {
        eligible = vec![true; freq.len()];
    }

    let codes = sae.encode(layer_of(acts, layer)?.view());
    let sel_codes = codes.select(Axis(0), select);
    let in_known: Vec<bool> = select.iter().map(|&i| status[i] == KNOWN).collect();
    let in_unknown: Vec<bool> = in_known.iter().map(|k| !k).collect();
    let types: Vec<String> = select.iter().map(|&i| selected[i].kind.clone()).collect();
    let (known_scores, rule) = separation(&sel_codes, &in_known, &types)?;
    let (unknown_scores, _) = separation(&sel_codes, &in_unknown, &types)?;
    let known_ids = rank_latents(&known_scores, &eligible, opts.top_latents);
    let unknown_ids = rank_latents(&unknown_scores, &eligible, opts.top_latents);
    if known_ids.is_empty() || unknown_ids.is_empty() {
        return Err(Error::Invalid("no SAE latent has a finite separation score".into()));
    }

    // Corpus contexts and logit lens of every listed latent, in one pass over the store.
    let mut listed: Vec<usize> = known_ids.clone();
    listed.extend(unknown_ids.iter().filter(|l| !known_ids.contains(l)));
    let corpus_rows = read_jsonl(&corpus_path)?;
    let reports = top_contexts(model, &sae, &store, hook, &corpus_rows, &listed, 5)?;
    let report_of: BTreeMap<usize, &LatentReport> = reports.iter().map(|r| (r.latent, r)).collect();
    let fires = |l: usize, want_known: bool| {
        let rows: Vec<usize> = (0..select.len()).filter(|&r| in_known[r] == want_known).collect();
        rows.iter().filter(|&&r| sel_codes[[r, l]] > 0.0).count() as f64 / rows.len().max(1) as f64
    };
    let info = |l: usize, score: f64| {
        let report = report_of.get(&l);
        let mut top: Vec<usize> = (0..codes.nrows()).filter(|&i| codes[[i, l]] > 0.0).collect();
        top.sort_by(|&a, &b| codes[[b, l]].total_cmp(&codes[[a, l]]));
        top.truncate(5);
        LatentInfo {
            latent: l,
            score,
            generic_frequency: freq[l],
            fires_known: fires(l, true),
            fires_unknown: fires(l, false),
            promotes: report.map(|r| r.promotes.clone()).unwrap_or_default(),
            suppresses: report.map(|r| r.suppresses.clone()).unwrap_or_default(),
            top_entities: top
                .iter()
                .map(|&i| TopEntity {
                    entity: selected[i].entity.clone(),
                    kind: selected[i].kind.clone(),
                    status: status[i].to_string(),
                    activation: f64::from(codes[[i, l]]),
                })
                .collect(),
            top_contexts: report
                .map(|r| {
                    r.contexts
                        .iter()
                        .map(|c| TopContext {
                            before: c.before.clone(),
                            token: c.token.clone(),
                            after: c.after.clone(),
                            activation: f64::from(c.activation),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    };
    Ok(SaeSection {
        layer,
        origin: SaeOrigin {
            sae: source,
            arch: sae.arch.name().to_string(),
            d_sae: sae.d_sae(),
            k: sae.k,
        },
        generic_tokens: n_generic_tokens,
        generic_drop: opts.generic_drop,
        dropped_latents: dropped,
        generic_filter_applied: filter_applied,
        separation: rule.to_string(),
        choice_entities: select.len(),
        held_out_entities: held,
        known_latents: known_ids.iter().map(|&l| info(l, known_scores[l])).collect(),
        unknown_latents: unknown_ids.iter().map(|&l| info(l, unknown_scores[l])).collect(),
        histogram: SeparationHistogram {
            bins: BINS,
            known: histogram(&known_scores, &eligible),
            unknown: histogram(&unknown_scores, &eligible),
        },
    })
}
