//! Figures and the markdown report of the knowledge suite.

use super::*;

/// Known-vs-unknown accuracy (band: sd over folds), AUROC and control against layer, with the
/// P(IK) AUROC and the majority-class rate.
pub(super) fn layer_figure(known: &SweepResults, pik: Option<&SweepResults>, stem: &Path) -> Result<Vec<PathBuf>> {
    let x = |l: &LayerResult| l.layer.unwrap_or(0) as f64;
    let line = |label: &str, r: &SweepResults, f: fn(&LayerResult) -> f64| Series {
        label: label.to_string(),
        points: r.layers.iter().map(|l| (x(l), f(l))).collect(),
        band: None,
        reference: false,
    };
    let mut series = vec![Series {
        label: "known vs unknown accuracy (±1 sd)".into(),
        points: known.layers.iter().map(|l| (x(l), l.accuracy)).collect(),
        band: Some(known.layers.iter().map(|l| l.accuracy_std).collect()),
        reference: false,
    }];
    series.push(line("known vs unknown AUROC", known, |l| l.auroc));
    series.push(line("control task (permuted labels)", known, |l| l.control_accuracy));
    if let Some(p) = pik {
        series.push(line("P(IK) AUROC (question prompt)", p, |l| l.auroc));
    }
    let lo = known.layers.first().map_or(0.0, x);
    let hi = known.layers.last().map_or(1.0, x);
    series.push(Series {
        label: format!("majority class ({:.2})", known.chance),
        points: vec![(lo, known.chance), (hi, known.chance)],
        band: None,
        reference: true,
    });
    let chart = LineChart {
        title: "Does the model know this entity? (last name token)".into(),
        x_label: "layer (blocks.L.hook_resid_post)".into(),
        y_label: "cross-validated score (grouped by entity)".into(),
        series,
        y_range: Some((0.0, 1.02)),
    };
    save_figure(stem, &chart)
}

/// Histograms of the separation scores of the kept latents (log counts, so the tails show),
/// with the latents chosen for steering marked.
pub(super) fn separation_figure(sae: &SaeOutcome, stem: &Path) -> Result<Vec<PathBuf>> {
    let bins = 40;
    let hist = |s: &[f64]| -> Vec<(f64, f64)> {
        let mut c = vec![0usize; bins];
        for (l, &v) in s.iter().enumerate() {
            if sae.eligible[l] && v.is_finite() {
                let b = (((v + 1.0) / 2.0 * bins as f64) as usize).min(bins - 1);
                c[b] += 1;
            }
        }
        c.iter()
            .enumerate()
            .map(|(b, &n)| (-1.0 + (b as f64 + 0.5) * 2.0 / bins as f64, (1.0 + n as f64).log10()))
            .collect()
    };
    let known = hist(&sae.known_scores);
    let unknown = hist(&sae.unknown_scores);
    let top = known.iter().chain(&unknown).map(|p| p.1).fold(0.0, f64::max).max(0.5);
    let mark = |label: &str, info: &LatentInfo| Series {
        label: format!("{label} latent {} ({:.2})", info.latent, info.score),
        points: vec![(info.score, 0.0), (info.score, top)],
        band: None,
        reference: false,
    };
    let chart = LineChart {
        title: format!("SAE separation scores, layer {} ({})", sae.layer, sae.rule),
        x_label: "separation score (fires on A minus fires on B)".into(),
        y_label: "log10(1 + latents)".into(),
        series: vec![
            Series {
                label: "known − unknown".into(),
                points: known,
                band: None,
                reference: false,
            },
            Series {
                label: "unknown − known".into(),
                points: unknown,
                band: None,
                reference: false,
            },
            mark("chosen known", &sae.known_top[0]),
            mark("chosen unknown", &sae.unknown_top[0]),
        ],
        y_range: None,
    };
    save_figure(stem, &chart)
}

/// Short column names of the conditions, so they fit under the heatmap.
pub(super) fn short_name(c: &str) -> &str {
    match c {
        "original" => "orig",
        "unknown_latent" => "+U lat",
        "known_latent" => "+K lat",
        "unknown_mean_diff" => "+U md",
        "known_mean_diff" => "+K md",
        "random" => "random",
        "ablated" => "ablate",
        other => other,
    }
}

/// Refusal, correct and hallucination rates by condition at `alpha`, as a heatmap.
pub(super) fn rates_figure(st: &SteerOutcome, alpha: f64, stem: &Path) -> Result<Vec<PathBuf>> {
    let shown: Vec<&ConditionResult> = st
        .conditions
        .iter()
        .filter(|c| c.alpha.is_none_or(|a| a == alpha))
        .collect();
    let metrics: [(&str, &str, RateOf); 4] = [
        ("refuse K", KNOWN, |r| r.refusal),
        ("correct K", KNOWN, |r| r.correct),
        ("halluc U", UNKNOWN, |r| r.hallucination),
        ("halluc F", FABRICATED, |r| r.hallucination),
    ];
    let values: Vec<Vec<f64>> = metrics
        .iter()
        .map(|(_, cat, f)| shown.iter().map(|c| c.get(cat, *f)).collect::<Vec<f64>>())
        .collect();
    let map = Heatmap {
        title: format!("Steering at layer {} (alpha {alpha}): answer rates", st.layer),
        row_label: "K known, U unknown, F fabricated".into(),
        col_label: "condition (U/K: towards unknown/known; lat: SAE latent, md: mean diff)".into(),
        values,
        range: Some((0.0, 1.0)),
        value_label: "rate".into(),
        row_names: Some(metrics.iter().map(|m| m.0.to_string()).collect()),
        col_names: Some(shown.iter().map(|c| short_name(&c.condition).to_string()).collect()),
    };
    save_figure(stem, &map)
}

/// Reliability diagram of the P(IK) probe: observed fraction correct against mean predicted
/// P(correct) per bin, with the diagonal.
pub(super) fn reliability_figure(p: &Pik, stem: &Path) -> Result<Vec<PathBuf>> {
    let pts: Vec<(f64, f64)> = p.reliability.iter().filter(|b| b.2 > 0).map(|b| (b.0, b.1)).collect();
    let chart = LineChart {
        title: format!(
            "P(IK) reliability, layer {} (ECE {:.3})",
            p.best.layer.unwrap_or(0),
            p.ece
        ),
        x_label: "predicted P(correct), 10 bins (out of fold)".into(),
        y_label: "fraction answered correctly".into(),
        series: vec![
            Series {
                label: "P(IK) probe".into(),
                points: pts,
                band: None,
                reference: false,
            },
            Series {
                label: "perfect calibration".into(),
                points: vec![(0.0, 0.0), (1.0, 1.0)],
                band: None,
                reference: true,
            },
        ],
        y_range: Some((0.0, 1.02)),
    };
    save_figure(stem, &chart)
}

/// A number with three decimals, or "n/a".
pub(super) fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".into()
    }
}

pub(super) fn fv(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// `report.md`: the numbers in tables and a reading that says what they do and do not show.
pub(super) fn report_md(r: &Value, st: &SteerOutcome, sae: &SaeOutcome) -> String {
    let h = &r["headline"];
    let d = &r["data"];
    let n_real = h["n_real"].as_u64().unwrap_or(0);
    let n_known = h["n_known"].as_u64().unwrap_or(0);
    let n_unknown = h["n_unknown"].as_u64().unwrap_or(0);
    let mut md = format!(
        "# Knowledge awareness: {}\n\n{} entities ({} real, {} fabricated; types {}). {} questions about the real ones \
         were asked as plain-text completions (`Answer in a few words.\\nQuestion: ...\\nAnswer:`), greedy; the first \
         line of each answer was matched against the accepted aliases. {} questions whose answer is part of the \
         entity's name were asked but not used. Known = at least 2 correct answers, unknown = none (at least 2 \
         questions), partial = exactly 1 (left out).\n\n",
        r["model"].as_str().unwrap_or("?"),
        d["entities"],
        n_real,
        h["n_fabricated"],
        d["types"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
        d["questions_asked"],
        d["questions_leaky"],
    );
    md.push_str(
        "## What the model knows\n\n| type | real | known | unknown | partial | too few questions | questions used | \
         correct |\n|---|---|---|---|---|---|---|---|\n",
    );
    if let Some(pt) = d["per_type"].as_object() {
        for (t, v) in pt {
            md.push_str(&format!(
                "| {t} | {} | {} | {} | {} | {} | {} | {} |\n",
                v["real"], v["known"], v["unknown"], v["partial"], v["too_few_questions"], v["questions"], v["correct"]
            ));
        }
    }
    let qa = fv(&h["question_accuracy"]);
    md.push_str(&format!(
        "\nThe model answers {} of the usable questions correctly and knows {n_known} of {n_real} real entities \
         ({:.0}%); {n_unknown} are unknown. A model of this size knows few entities even among very famous ones, so \
         every number below rests on {n_known} known entities.\n\n",
        f3(qa),
        100.0 * n_known as f64 / n_real.max(1) as f64
    ));

    md.push_str(&format!(
        "## Knowing an entity, at its last token\n\nLogistic probe, known vs unknown, neutral frame `The {{type}} \
         {{name}}`, {}-fold cross-validation grouped by entity, permuted-label control.\n\n| best layer | accuracy | \
         balanced accuracy | AUROC | control | majority class |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | \
         {} |\n\nTransfer across types (trained on the other three types, tested on this one): ",
        r["options"]["folds"],
        h["best_layer"],
        f3(fv(&h["accuracy"])),
        f3(fv(&h["balanced_accuracy"])),
        f3(fv(&h["auroc"])),
        f3(fv(&h["control_accuracy"])),
        f3(fv(&h["chance"])),
    ));
    let transfer: Vec<String> = h["transfer"]
        .as_object()
        .map(|m| m.iter().map(|(t, v)| format!("{t} {}", f3(fv(v)))).collect())
        .unwrap_or_default();
    md.push_str(&transfer.join(", "));
    let pk = &h["p_known"];
    md.push_str(&format!(
        ".\n\nMean P(known) from the saved probe (`probes/known`): known {}, unknown {} (both in training), partial {}, \
         fabricated {} (never seen by the probe).\n\n",
        f3(fv(&pk["known"])),
        f3(fv(&pk["unknown"])),
        f3(fv(&pk["partial"])),
        f3(fv(&pk["fabricated"])),
    ));

    md.push_str(&format!(
        "## SAE latents (layer {})\n\n{} SAE, {} latents, k = {}. {} of them fire on more than {} of {} generic-text \
         tokens and were dropped{}. Separation score: fraction of known entities a latent fires on minus fraction of \
         unknown ones (and the reverse), {}, on the {} entities of the choice split.\n\n| direction | latent | score | \
         generic freq | fires known | fires unknown | promotes | top entities |\n|---|---|---|---|---|---|---|---|\n",
        sae.layer,
        r["sae"]["origin"]["sae"]["source"].as_str().unwrap_or("?"),
        sae.sae.d_sae(),
        sae.sae.k,
        sae.dropped,
        r["options"]["generic_drop"],
        sae.n_generic_tokens,
        if sae.filter_applied {
            ""
        } else {
            " (none was left, so the filter was not applied)"
        },
        sae.rule,
        r["sae"]["choice_entities"],
    ));
    for (dir, list) in [("known", &sae.known_top), ("unknown", &sae.unknown_top)] {
        for l in list.iter().take(5) {
            let ents: Vec<String> = l
                .top_entities
                .iter()
                .take(3)
                .map(|e| {
                    format!(
                        "{} ({})",
                        e["entity"].as_str().unwrap_or("?"),
                        e["status"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            let promotes: Vec<String> = l
                .promotes
                .iter()
                .take(4)
                .map(|t| format!("`{}`", t.replace('|', "\\|").replace('`', "'")))
                .collect();
            md.push_str(&format!(
                "| {dir} | {} | {} | {} | {} | {} | {} | {} |\n",
                l.latent,
                f3(l.score),
                f3(l.generic_frequency),
                f3(l.fires_known),
                f3(l.fires_unknown),
                promotes.join(" "),
                ents.join(", ").replace('|', "\\|"),
            ));
        }
    }

    md.push_str(&format!(
        "\n## Steering (layer {})\n\nDirections added over the prompt positions with strength alpha x mean residual \
         norm; the directions and latents were chosen on the choice split, the questions are about held-out entities \
         ({} known, {} unknown) and {} fabricated ones. Refusal: the answer contains a refusal phrase; hallucination: \
         a non-empty answer that is neither a refusal nor correct.\n\n| condition | alpha | refusal (known) | \
         correct (known) | hallucination (unknown) | hallucination (fabricated) |\n|---|---|---|---|---|---|\n",
        st.layer,
        st.entities.get(KNOWN).copied().unwrap_or(0),
        st.entities.get(UNKNOWN).copied().unwrap_or(0),
        st.entities.get(FABRICATED).copied().unwrap_or(0),
    ));
    for c in &st.conditions {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.condition,
            c.alpha.map_or("-".to_string(), |a| a.to_string()),
            f3(c.get(KNOWN, |r| r.refusal)),
            f3(c.get(KNOWN, |r| r.correct)),
            f3(c.get(UNKNOWN, |r| r.hallucination)),
            f3(c.get(FABRICATED, |r| r.hallucination)),
        ));
    }
    let n_q = |cat: &str| {
        st.conditions
            .first()
            .and_then(|c| c.by_category.get(cat))
            .map_or(0, |r| r.n)
    };
    md.push_str(&format!(
        "\nQuestions: {} about known, {} about unknown, {} about fabricated entities.\n",
        n_q(KNOWN),
        n_q(UNKNOWN),
        n_q(FABRICATED)
    ));
    if !st.examples.is_empty() {
        md.push_str("\nExamples (first line of the answer):\n\n");
        for (cat, q, by) in &st.examples {
            md.push_str(&format!("- **{q}** [{cat}]\n"));
            for (cond, a) in by {
                md.push_str(&format!("  - {cond}: {a:?}\n"));
            }
        }
    }

    md.push_str("\n## P(IK)\n\n");
    let pik = &r["pik"];
    if pik.is_null() {
        md.push_str("Skipped: too few correct or too few wrong answers to probe.\n");
    } else {
        md.push_str(&format!(
            "Logistic probe at the last token of each question prompt (`Answer:`), label = the model's own answer \
             was correct; folds grouped by entity; metrics on pooled out-of-fold predictions.\n\n| layer | questions | \
             correct | AUROC | Brier | ECE |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n",
            h["pik_layer"],
            pik["questions"],
            pik["correct"],
            f3(fv(&h["pik_auroc"])),
            f3(fv(&h["pik_brier"])),
            f3(fv(&h["pik_ece"])),
        ));
    }

    // The reading: what the numbers support, in words.
    md.push_str("\n## Reading\n\n");
    let auroc = fv(&h["auroc"]);
    let acc = fv(&h["accuracy"]);
    let ctrl = fv(&h["control_accuracy"]);
    let chance = fv(&h["chance"]);
    let probe_claim = if auroc.is_finite() && auroc >= 0.7 && acc - ctrl > 0.1 {
        "a linear read-out of entity familiarity exists before any question is asked"
    } else if auroc.is_finite() && auroc > 0.6 {
        "a weak signal of entity familiarity, not strong enough to call a representation"
    } else {
        "no reliable signal of entity familiarity"
    };
    md.push_str(&format!(
        "- **Probe.** At layer {} the known/unknown probe reaches AUROC {} and accuracy {} against a permuted-label \
         control of {} and a majority class of {}: {probe_claim}. With {n_known} known and {n_unknown} unknown \
         entities the fold-to-fold spread is large; the probe may also read surface properties (length, frequency of \
         the name's tokens) that correlate with fame.\n",
        h["best_layer"],
        f3(auroc),
        f3(acc),
        f3(ctrl),
        f3(chance)
    ));
    let fab = fv(&pk["fabricated"]);
    let unk = fv(&pk["unknown"]);
    if fab.is_finite() && unk.is_finite() {
        md.push_str(&format!(
            "- **Fabricated entities** get a mean P(known) of {} (unknown real entities: {}); {}.\n",
            f3(fab),
            f3(unk),
            if fab < fv(&pk["known"]) {
                "the probe places invented names on the unknown side without having seen any"
            } else {
                "the probe does not separate invented names from known ones"
            }
        ));
    }
    let cond = |name: &str| {
        st.conditions
            .iter()
            .find(|c| c.condition == name && c.alpha.is_none_or(|a| a == fv(&h["steer_alpha"])))
    };
    if let (Some(o), Some(u), Some(rnd)) = (cond("original"), cond("unknown_latent"), cond("random")) {
        let base = o.get(KNOWN, |r| r.refusal);
        let lat = u.get(KNOWN, |r| r.refusal);
        let rand = rnd.get(KNOWN, |r| r.refusal);
        let verdict = if !(base.is_finite() && lat.is_finite() && rand.is_finite()) {
            "cannot be judged on this sample".to_string()
        } else if lat - base > (rand - base).abs() + 0.05 {
            "more than a random direction of the same strength, consistent with a causal role".to_string()
        } else {
            "no more than a random direction of the same strength, so no evidence of a causal role at this scale"
                .to_string()
        };
        md.push_str(&format!(
            "- **Steering.** Adding the unknown latent at alpha {} moves refusals on known entities from {} to {} \
             (random direction: {}): {verdict}. Hallucination on unknown and fabricated entities: {} unsteered, {} \
             with the known latent, {} with the known mean difference, {} with the mean difference ablated.\n",
            h["steer_alpha"],
            f3(base),
            f3(lat),
            f3(rand),
            f3(o.get("unknown_or_fabricated", |r| r.hallucination)),
            f3(cond("known_latent").map_or(f64::NAN, |c| c.get("unknown_or_fabricated", |r| r.hallucination))),
            f3(cond("known_mean_diff").map_or(f64::NAN, |c| c.get("unknown_or_fabricated", |r| r.hallucination))),
            f3(cond("ablated").map_or(f64::NAN, |c| c.get("unknown_or_fabricated", |r| r.hallucination))),
        ));
    }
    if !pik.is_null() {
        let pa = fv(&h["pik_auroc"]);
        md.push_str(&format!(
            "- **P(IK).** Whether the model will answer a question correctly is predicted from the prompt alone with \
             AUROC {} (ECE {}); {}.\n",
            f3(pa),
            f3(fv(&h["pik_ece"])),
            if pa.is_finite() && pa >= 0.7 {
                "the prompt's last token carries the model's own chance of being right"
            } else {
                "only weakly, at this size"
            }
        ));
    }
    md.push_str(
        "\nCaveats: labels come from greedy answers of a few tokens matched by substring, so a right answer phrased \
         unusually counts as wrong and a lucky broad alias counts as right; a small model that rarely refuses makes \
         refusal rates near zero whatever the steering; each rate rests on the number of questions shown above.\n\n\
         Figures: figures/probe_layers, figures/separation, figures/steering_rates, figures/reliability (.svg, .png). \
         Every answer is in answers.jsonl and steering_answers.jsonl.\n",
    );
    md
}
