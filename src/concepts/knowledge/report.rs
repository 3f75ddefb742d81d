//! `report.md` of the knowledge suite, from its results alone: the numbers in tables and a
//! reading that says what they do and do not show.

use super::data::{FABRICATED, KNOWN, UNKNOWN};
use super::results::{ConditionResult, KnowledgeResults};

/// A number with three decimals, or "n/a".
fn f3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".into()
    }
}

/// A table cell for markdown: pipes escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub(super) fn report_md(r: &KnowledgeResults) -> String {
    let mut md = String::new();
    labels_section(r, &mut md);
    probe_section(r, &mut md);
    generalise_section(r, &mut md);
    sae_section(r, &mut md);
    steering_section(r, &mut md);
    pik_section(r, &mut md);
    reading(r, &mut md);
    md
}

fn labels_section(r: &KnowledgeResults, md: &mut String) {
    let (h, d) = (&r.headline, &r.data);
    md.push_str(&format!(
        "# Knowledge awareness: {}\n\n{} entities ({} real, {} fabricated; types {}). {} questions ({} of them about \
         fabricated entities) were asked greedily as: {}. The first line of each answer was matched against the \
         accepted aliases. {} questions whose answer is part of the entity's name were asked but not used. Known = at \
         least 2 correct answers, unknown = none (at least 2 questions), partial = exactly 1 (left out). The probes \
         and directions contrast known entities with unknown and fabricated ones.\n\n",
        r.model,
        d.entities,
        h.n_real,
        h.n_fabricated,
        d.types.join(", "),
        d.questions_asked,
        d.questions_fabricated,
        d.prompts,
        d.questions_leaky,
    ));
    md.push_str(
        "## What the model knows\n\n| type | real | known | unknown | partial | too few questions | questions used | \
         correct |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (t, v) in &d.per_type {
        md.push_str(&format!(
            "| {t} | {} | {} | {} | {} | {} | {} | {} |\n",
            v.real, v.known, v.unknown, v.partial, v.too_few_questions, v.questions, v.correct
        ));
    }
    md.push_str(&format!(
        "\nThe model answers {} of the usable questions correctly and knows {} of {} real entities ({:.0}%); {} are \
         unknown. A model of this size knows few entities even among very famous ones, so every number below rests \
         on {} known entities.\n\n",
        f3(h.question_accuracy),
        h.n_known,
        h.n_real,
        100.0 * h.n_known as f64 / h.n_real.max(1) as f64,
        h.n_unknown,
        h.n_known,
    ));
    let refusals: Vec<String> = h
        .unsteered_refusal
        .iter()
        .map(|(s, v)| format!("{s} {}", f3(*v)))
        .collect();
    md.push_str(&format!(
        "Unsteered refusal rate of these questions, by entity status: {}.\n\n",
        refusals.join(", ")
    ));
}

fn generalise_section(r: &KnowledgeResults, md: &mut String) {
    let g = &r.generalise;
    md.push_str(&format!(
        "## Knowledge or the look of the name?\n\nThe same known/unknown probe on the activations at layer {} and on the \
         name alone ({}). AUROC, known = positive. *Pooled*: out of fold, grouped by entity. *By origin*: the pooled \
         predictions, known entities against one kind of unknown entity. *Held-out origin*: trained on the choice \
         half without that kind, tested on the held-out known entities and every entity of that kind. *Held-out \
         type*: trained on the other types.\n\n| test | activations | name n-grams |\n|---|---|---|\n| pooled | {} | \
         {} |\n",
        g.layer,
        g.ngram_features,
        f3(g.activations.pooled_auroc),
        f3(g.name_ngrams.pooled_auroc),
    ));
    let (a, n) = (&g.activations, &g.name_ngrams);
    let get = |m: &std::collections::BTreeMap<String, f64>, k: &str| f3(m.get(k).copied().unwrap_or(f64::NAN));
    let held = |m: &std::collections::BTreeMap<String, super::results::HeldOutScore>, k: &str| {
        m.get(k).map_or("n/a".into(), |s| {
            format!("{} ({} known, {} unknown)", f3(s.auroc), s.test_known, s.test_unknown)
        })
    };
    let mut rows = Vec::new();
    for o in &g.origins {
        rows.push((format!("by origin: {o}"), get(&a.by_origin, o), get(&n.by_origin, o)));
    }
    for t in a.by_type.keys() {
        rows.push((format!("by type: {t}"), get(&a.by_type, t), get(&n.by_type, t)));
    }
    for o in &g.origins {
        rows.push((
            format!("held-out origin: {o}"),
            held(&a.held_out_origin, o),
            held(&n.held_out_origin, o),
        ));
    }
    for t in a.held_out_type.keys() {
        rows.push((
            format!("held-out type: {t}"),
            held(&a.held_out_type, t),
            held(&n.held_out_type, t),
        ));
    }
    for (label, act, ngram) in rows {
        md.push_str(&format!("| {label} | {act} | {ngram} |\n"));
    }
    md.push_str(&format!(
        "\nThe activation probe beats the name n-grams pooled: {}; on {} of {} held-out origins.\n\n",
        if g.beats_ngrams_pooled { "yes" } else { "no" },
        g.held_out_origins_beaten,
        g.origins.len()
    ));
}

fn probe_section(r: &KnowledgeResults, md: &mut String) {
    let h = &r.headline;
    md.push_str(&format!(
        "## Knowing an entity, at its last token\n\nLogistic probe, known vs unknown, neutral frame `The {{type}} \
         {{name}}`, {}-fold cross-validation grouped by entity, permuted-label control.\n\n| best layer | accuracy | \
         balanced accuracy | AUROC | control | majority class |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | \
         {} |\n\nTransfer across types (trained on the other three types, tested on this one): ",
        r.options.folds,
        h.best_layer,
        f3(h.accuracy),
        f3(h.balanced_accuracy),
        f3(h.auroc),
        f3(h.control_accuracy),
        f3(h.chance),
    ));
    let transfer: Vec<String> = h.transfer.iter().map(|(t, v)| format!("{t} {}", f3(*v))).collect();
    md.push_str(&transfer.join(", "));
    let pk = &h.p_known;
    md.push_str(&format!(
        ".\n\nMean P(known) from the saved probe (`probes/known`): known {}, unknown {}, fabricated {} (all in \
         training), partial {} (never seen by the probe).\n\n",
        f3(pk.known),
        f3(pk.unknown),
        f3(pk.fabricated),
        f3(pk.partial),
    ));
}

fn sae_section(r: &KnowledgeResults, md: &mut String) {
    let sae = &r.sae;
    md.push_str(&format!(
        "## SAE latents (layer {})\n\n{} SAE, {} latents, k = {}. {} of them fire on more than {} of {} generic-text \
         tokens and were dropped{}. Separation score: fraction of known entities a latent fires on minus fraction of \
         unknown ones (and the reverse), {}, on the {} entities of the choice split.\n\n| direction | latent | score | \
         generic freq | fires known | fires unknown | promotes | top entities |\n|---|---|---|---|---|---|---|---|\n",
        sae.layer,
        sae.origin.sae.source,
        sae.origin.d_sae,
        sae.origin.k,
        sae.dropped_latents,
        sae.generic_drop,
        sae.generic_tokens,
        if sae.generic_filter_applied {
            ""
        } else {
            " (none was left, so the filter was not applied)"
        },
        sae.separation,
        sae.choice_entities,
    ));
    for (dir, list) in [("known", &sae.known_latents), ("unknown", &sae.unknown_latents)] {
        for l in list.iter().take(5) {
            let ents: Vec<String> = l
                .top_entities
                .iter()
                .take(3)
                .map(|e| format!("{} ({})", e.entity, e.status))
                .collect();
            let promotes: Vec<String> = l
                .promotes
                .iter()
                .take(4)
                .map(|t| format!("`{}`", cell(t).replace('`', "'")))
                .collect();
            md.push_str(&format!(
                "| {dir} | {} | {} | {} | {} | {} | {} | {} |\n",
                l.latent,
                f3(l.score),
                f3(l.generic_frequency),
                f3(l.fires_known),
                f3(l.fires_unknown),
                promotes.join(" "),
                cell(&ents.join(", ")),
            ));
        }
    }
}

fn steering_section(r: &KnowledgeResults, md: &mut String) {
    let st = &r.steering;
    let entities = |cat: &str| st.stats.entities.get(cat).copied().unwrap_or(0);
    md.push_str(&format!(
        "\n## Steering (layer {})\n\nDirections added over the prompt positions with strength alpha x mean residual \
         norm; the directions and latents were chosen on the choice split, the questions are about held-out entities \
         ({} known, {} unknown, {} fabricated). Refusal: the answer contains a refusal phrase; hallucination: a \
         non-empty answer that is neither a refusal nor correct. KL: mean KL(unsteered || steered) of the next token \
         on 8 neutral prompts.\n\n| condition | alpha | KL | refusal (known) | correct (known) | refusal (unknown + \
         fabricated) | hallucination (unknown) | hallucination (fabricated) |\n|---|---|---|---|---|---|---|---|\n",
        st.layer,
        entities(KNOWN),
        entities(UNKNOWN),
        entities(FABRICATED),
    ));
    for c in &st.conditions {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.condition,
            c.alpha.map_or("-".to_string(), |a| a.to_string()),
            f3(c.kl),
            f3(c.get(KNOWN, |r| r.refusal)),
            f3(c.get(KNOWN, |r| r.correct)),
            f3(c.get("unknown_or_fabricated", |r| r.refusal)),
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
        for ex in &st.examples {
            md.push_str(&format!("- **{}** [{}]\n", ex.question, ex.category));
            for (cond, a) in &ex.answers {
                md.push_str(&format!("  - {cond}: {a:?}\n"));
            }
        }
    }
}

fn pik_section(r: &KnowledgeResults, md: &mut String) {
    let h = &r.headline;
    md.push_str("\n## P(IK)\n\n");
    match &r.pik {
        None => md.push_str("Skipped: too few correct or too few wrong answers to probe.\n"),
        Some(p) => md.push_str(&format!(
            "Logistic probe at the last token of each question prompt (`Answer:`), label = the model's own answer \
             was correct; folds grouped by entity; metrics on pooled out-of-fold predictions.\n\n| layer | questions | \
             correct | AUROC | Brier | ECE |\n|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} |\n",
            h.pik_layer.map_or("null".to_string(), |l| l.to_string()),
            p.questions,
            p.correct,
            f3(h.pik_auroc),
            f3(h.pik_brier),
            f3(h.pik_ece),
        )),
    }
}

/// What the numbers support, in words.
fn reading(r: &KnowledgeResults, md: &mut String) {
    let h = &r.headline;
    md.push_str("\n## Reading\n\n");
    let (auroc, acc, ctrl) = (h.auroc, h.accuracy, h.control_accuracy);
    let probe_claim = if auroc.is_finite() && auroc >= 0.7 && acc - ctrl > 0.1 {
        "a linear read-out of entity familiarity exists before any question is asked"
    } else if auroc.is_finite() && auroc > 0.6 {
        "a weak signal of entity familiarity, not strong enough to call a representation"
    } else {
        "no reliable signal of entity familiarity"
    };
    md.push_str(&format!(
        "- **Probe.** At layer {} the known/unknown probe reaches AUROC {} and accuracy {} against a permuted-label \
         control of {} and a majority class of {}: {probe_claim}. With {} known and {} unknown entities the \
         fold-to-fold spread is large; the probe may also read surface properties (length, frequency of the name's \
         tokens) that correlate with fame.\n",
        h.best_layer,
        f3(auroc),
        f3(acc),
        f3(ctrl),
        f3(h.chance),
        h.n_known,
        h.n_unknown,
    ));
    let cond = |name: &str| -> Option<&ConditionResult> {
        r.steering
            .conditions
            .iter()
            .find(|c| c.condition == name && c.alpha.is_none_or(|a| a == h.refusal_steering.alpha))
    };
    let halluc = |name: &str| cond(name).map_or(f64::NAN, |c| c.get("unknown_or_fabricated", |r| r.hallucination));
    if let (Some(o), Some(u), Some(rnd)) = (cond("original"), cond("unknown_latent"), cond("random")) {
        let base = o.get(KNOWN, |r| r.refusal);
        let lat = u.get(KNOWN, |r| r.refusal);
        let rand = rnd.get(KNOWN, |r| r.refusal);
        let verdict = if !(base.is_finite() && lat.is_finite() && rand.is_finite()) {
            "cannot be judged on this sample"
        } else if lat - base > (rand - base).abs() + 0.05 {
            "more than a random direction of the same strength, consistent with a causal role"
        } else {
            "no more than a random direction of the same strength, so no evidence of a causal role at this scale"
        };
        md.push_str(&format!(
            "- **Steering.** Adding the unknown latent at alpha {} moves refusals on known entities from {} to {} \
             (random direction: {}): {verdict}. Hallucination on unknown and fabricated entities: {} unsteered, {} \
             with the known latent, {} with the known mean difference, {} with the mean difference ablated.\n",
            h.refusal_steering.alpha,
            f3(base),
            f3(lat),
            f3(rand),
            f3(halluc("original")),
            f3(halluc("known_latent")),
            f3(halluc("known_mean_diff")),
            f3(halluc("ablated")),
        ));
    }
    let rs = &h.refusal_steering;
    let up = rs.known_refusal_unknown_dir - rs.known_refusal_original.max(rs.known_refusal_random);
    let down = rs.unknown_refusal_original.min(rs.unknown_refusal_random) - rs.unknown_refusal_known_dir;
    let judged = |d: f64| {
        if !d.is_finite() {
            "cannot be judged"
        } else if d >= 0.2 {
            "meets the 0.2 target"
        } else if d > 0.05 {
            "a small effect, below the 0.2 target"
        } else {
            "no effect beyond the controls"
        }
    };
    md.push_str(&format!(
        "- **Refusal steering** (`vectors/unknown`, `vectors/known`, layer {}, alpha {} relative, KL {}{}). +unknown: \
         refusals on held-out known entities {} unsteered, {} steered, {} with the random direction ({}: {}). \
         +known: refusals on unknown and fabricated entities {} unsteered, {} steered, {} random ({}: {}); their \
         hallucinations {} to {}.\n",
        rs.layer,
        rs.alpha,
        f3(rs.kl),
        if rs.within_kl_bound {
            ""
        } else {
            ", no strength was within the KL bound"
        },
        f3(rs.known_refusal_original),
        f3(rs.known_refusal_unknown_dir),
        f3(rs.known_refusal_random),
        f3(up),
        judged(up),
        f3(rs.unknown_refusal_original),
        f3(rs.unknown_refusal_known_dir),
        f3(rs.unknown_refusal_random),
        f3(down),
        judged(down),
        f3(rs.unknown_hallucination_original),
        f3(rs.unknown_hallucination_known_dir),
    ));
    if r.pik.is_some() {
        let pa = h.pik_auroc;
        md.push_str(&format!(
            "- **P(IK).** Whether the model will answer a question correctly is predicted from the prompt alone with \
             AUROC {} (ECE {}); {}.\n",
            f3(pa),
            f3(h.pik_ece),
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
}
