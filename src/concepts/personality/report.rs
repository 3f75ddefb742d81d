//! `report.md`: the headline numbers per trait and a reading that says what they do and do
//! not show, from the results alone.

use super::results::PersonalityResults;

/// A number to two decimals, `n/a` where it is undefined.
fn f(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "n/a".to_string()
    }
}

/// A number to three decimals (effects and spreads are often a few hundredths).
fn f3(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".to_string()
    }
}

pub(super) fn report(r: &PersonalityResults) -> String {
    let o = &r.options;
    let mut md = format!(
        "# Personality suite: {}\n\nTraits: {}. Strengths relative to the mean residual norm; KL bound {} nats. \
         Probes: logistic, {} folds grouped by question, permuted-label control.\n\n\
         | trait | probe acc (layer) | control | steering layer, alpha | questionnaire -a / 0 / +a | template sd \
         | behaviour -a / 0 / +a | KL at +a | projection-score r |\n|---|---|---|---|---|---|---|---|---|\n",
        r.model,
        o.traits.join(", "),
        o.kl_bound,
        o.folds,
    );
    let probe_layer = |l: Option<usize>| l.map_or("null".to_string(), |l| l.to_string());
    for (t, h) in &r.headline {
        let bound = if h.within_kl_bound { "" } else { " (KL bound not met)" };
        md.push_str(&format!(
            "| {t} | {} ({}) | {} | {}, {}{bound} | {} / {} / {} | {} | {} / {} / {} | {} | {} (n={}) |\n",
            f(h.probe_accuracy),
            probe_layer(h.probe_layer),
            f(h.probe_control_accuracy),
            h.layer,
            f(h.alpha as f64),
            f(h.score_minus),
            f(h.score_zero),
            f(h.score_plus),
            f(h.template_spread),
            f(h.behaviour_minus),
            f(h.behaviour_zero),
            f(h.behaviour_plus),
            f(h.kl),
            f(h.projection_score_r),
            h.monitor_points,
        ));
    }
    md.push_str(&yardstick_tables(r));
    md.push_str("\n## Reading\n\n");
    for (t, h) in &r.headline {
        // An effect counts only when it exceeds twice the disagreement between templates.
        let effect = h.score_plus - h.score_minus;
        let spread = h.template_spread.max(h.template_spread_unsteered);
        let steer = if !effect.is_finite() {
            "the steering effect could not be measured".to_string()
        } else if effect.abs() > 2.0 * spread && effect.abs() > 0.05 {
            let way = if effect > 0.0 { "toward" } else { "against" };
            format!(
                "steering moves self-report {way} the trait by {effect:+.2} from -alpha to +alpha, beyond twice \
                 the spread across templates ({spread:.2})"
            )
        } else {
            format!(
                "the self-report change from -alpha to +alpha ({effect:+.2}) is within twice the spread across \
                 templates ({spread:.2}), so not a reliable effect"
            )
        };
        let behav = h.behaviour_plus - h.behaviour_minus;
        md.push_str(&format!(
            "- **{t}**: the persona pole is decoded at {} (control {}); {steer}; the strongest high persona prompt \
             against the strongest low one moves self-report by {:+.3} (what an explicit instruction achieves); the \
             behaviour score moves {behav:+.2}; unsteered projection and self-report correlate at r = {} over {} \
             graded personas{}.\n",
            f(h.probe_accuracy),
            f(h.probe_control_accuracy),
            h.persona_prompt_effect,
            f(h.projection_score_r),
            h.monitor_points,
            if h.within_kl_bound {
                ""
            } else {
                "; no setting met the KL bound, so these numbers are at the gentlest positive alpha"
            },
        ));
    }
    md.push_str(
        "\nCaveats: the probe separates conversations whose system prompts differ in wording as well as in trait, \
         and the same persona prompts recur in every fold (only questions are held out), so high accuracy says the \
         pole is present at the last token, not that a trait concept is. Options are scored by the mean \
         log-probability of their text, both orders averaged; a small model's self-report is loosely tied to its \
         persona, few items make every number noisy, and a correlation over a handful of graded personas has wide \
         uncertainty.\n",
    );
    md
}

/// The yardstick table (trait x measure) and steering scored against it.
fn yardstick_tables(r: &PersonalityResults) -> String {
    let o = &r.options;
    let mut md = format!(
        "\n## Yardstick: what a persona prompt does\n\nStrongest high minus strongest low graded persona, unsteered, \
         on held-out items. Spread: sd of the effect across templates (questionnaire), option orders (behaviour) or \
         rater prompts (judge). Live: effect > 0 and > spread; the judge also needs agreement >= {} with the \
         persona's pole on persona-prompted answers ({} questions, {} tokens).\n\n\
         | trait | measure | high | low | effect | spread | n | live |\n|---|---|---|---|---|---|---|---|\n",
        f(o.judge_min_agreement),
        o.judge_questions,
        o.judge_tokens,
    );
    let mut judges = String::new();
    for t in &o.traits {
        let Some(y) = r.traits.get(t).and_then(|x| x.yardstick.as_ref()) else {
            continue;
        };
        for m in &y.measures {
            md.push_str(&format!(
                "| {t} | {} | {} | {} | {:+.3} | {} | {} | {} |\n",
                m.measure.name(),
                f3(m.high),
                f3(m.low),
                m.effect,
                f3(m.template_spread),
                m.n_items,
                if m.live { "live" } else { "dead" },
            ));
        }
        judges.push_str(&format!(
            "- {t}: judge agreement {} over {} pairs, {} of them with identical answers ({})\n",
            f(y.judge.agreement),
            y.judge.pairs,
            y.judge.identical_pairs.map_or("n/a".to_string(), |n| n.to_string()),
            if y.judge.counted { "counted" } else { "not counted" }
        ));
    }
    md.push_str(&format!("\nJudge check:\n\n{judges}"));
    md.push_str(&format!(
        "\n## Steering against the yardstick\n\nAt the chosen layer and the largest strength whose KL on neutral \
         prompts is <= {} at both signs. Target met: a live measure with up = score(+a) - score(0) and down = \
         score(0) - score(-a) both beyond the spread and at least half the persona effect (needed), KL within the \
         bound. First effect: the gentlest strength where the shifts clear both, and its KL, whatever the bound.\n\n\
         | trait | layer, alpha | measure | live | -a / 0 / +a | up | down | needed | spread | KL | met | first effect \
         (alpha, KL) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        o.kl_bound
    ));
    for t in &o.traits {
        let Some(s) = r.traits.get(t).and_then(|x| x.target.as_ref()) else {
            continue;
        };
        let bound = if s.within_kl_bound { "" } else { " (KL bound not met)" };
        for m in &s.measures {
            let first = m
                .first_effect
                .as_ref()
                .map_or("none".to_string(), |e| format!("{}, {}", e.alpha, f3(e.kl)));
            md.push_str(&format!(
                "| {t} | {}, {}{bound} | {} | {} | {} / {} / {} | {:+.3} | {:+.3} | {} | {} | {} | {} | {first} |\n",
                s.layer,
                s.alpha,
                m.measure.name(),
                if m.live { "live" } else { "dead" },
                f3(m.minus),
                f3(m.zero),
                f3(m.plus),
                m.up,
                m.down,
                f3(m.needed),
                f3(m.spread),
                f3(m.kl),
                if m.met { "**yes**" } else { "no" },
            ));
        }
    }
    md.push_str("\nHeadline per trait:\n\n");
    for (t, h) in &r.headline {
        let Some(g) = &h.target else { continue };
        let live: Vec<&str> = g.live_measures.iter().map(|m| m.name()).collect();
        md.push_str(&format!(
            "- **{t}**: target {}; {}; live measures: {}; judge agreement {}; monitoring r = {}.\n",
            if g.target_met { "met" } else { "not met" },
            match g.measure {
                Some(m) => format!(
                    "{} moved up {:+.3} / down {:+.3} against {} needed at alpha {} (KL {})",
                    m.name(),
                    g.up,
                    g.down,
                    f3(g.needed),
                    g.alpha,
                    f3(g.kl)
                ),
                None => "no live measure to steer".to_string(),
            },
            if live.is_empty() {
                "none".to_string()
            } else {
                live.join(", ")
            },
            f(g.judge_agreement),
            f(h.projection_score_r),
        ));
    }
    md
}
