//! The belief suite's `report.md`, from its results alone.

use super::results::BeliefResults;
use super::steering::{accuracy_of, ByCondition};
use super::LABELS;

/// A number with three decimals, or "n/a".
fn f3(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "n/a".into(),
    }
}

/// The headline numbers in a few tables.
pub fn report(r: &BeliefResults) -> String {
    let (h, d) = (&r.headline, &r.data);
    let mut md = format!(
        "# Belief tracking: {}\n\n{} stories, {} statements (forms f0/f1/f2, both conditions), activations at the \
         last token of \"Story: ...\\nBelief: ...\"; logistic probes, {}-fold cross-validation grouped by story, \
         permuted-label control.\n\n## Probes (best residual layer)\n\n| label | layer | accuracy | AUROC | control | \
         best head (layer.head) | head accuracy |\n|---|---|---|---|---|---|---|\n",
        r.model, d.stories, d.statements, r.options.folds
    );
    for (label, b) in [("protagonist", &h.protagonist), ("oracle", &h.oracle)] {
        let bh = h.best_head.as_ref().and_then(|x| {
            if label == "protagonist" {
                x.protagonist.as_ref()
            } else {
                x.oracle.as_ref()
            }
        });
        let head = match bh.map(|u| (u.layer, u.head)) {
            Some((Some(l), Some(k))) => format!("{l}.{k}"),
            _ => "n/a".into(),
        };
        md.push_str(&format!(
            "| {label} | {} | {} ± {} | {} | {} | {head} | {} |\n",
            b.layer.map_or("n/a".into(), |l| l.to_string()),
            f3(Some(b.accuracy)),
            f3(Some(b.accuracy_std)),
            f3(Some(b.auroc)),
            f3(Some(b.control_accuracy)),
            f3(bh.map(|u| u.accuracy)),
        ));
    }
    md.push_str(
        "\n## Transfer across surface forms\n\nTrained on f0 statements of the training stories, tested on \
         held-out stories.\n\n| label | layer | f0 | f1 | f2 |\n|---|---|---|---|---|\n",
    );
    for label in LABELS {
        let t = if label == "protagonist" {
            &h.transfer.protagonist
        } else {
            &h.transfer.oracle
        };
        let at = |f: &str| f3(t.accuracy.get(f).copied());
        md.push_str(&format!(
            "| {label} | {} | {} | {} | {} |\n",
            t.layer,
            at("f0"),
            at("f1"),
            at("f2")
        ));
    }
    let st = &r.steering;
    md.push_str(&format!(
        "\n## Steering\n\n{} questions (forms {:?}). Direction: mean(protagonist believes) - mean(does not) at layer {}, \
         added at every position with strength alpha x mean residual norm; heads: each of the best protagonist \
         heads' probe direction added to its slice of attn.hook_z. Accuracy = P(correct option) > 0.5 (text of \
         the option scored, both option orders averaged); log-p gain = mean ln P(correct) steered minus unsteered.\n\n\
         | intervention | alpha | false-belief acc | true-belief acc | false-belief log-p gain | true-belief log-p gain |\n\
         |---|---|---|---|---|---|\n",
        st.questions, d.steer_forms, st.layer
    ));
    let mut row = |name: &str, a: f64, c: &ByCondition| {
        let g = |cond: &str| c.get(cond).map(|x| x.logp_gain);
        md.push_str(&format!(
            "| {name} | {a} | {} | {} | {} | {} |\n",
            f3(Some(accuracy_of(c, "false_belief"))),
            f3(Some(accuracy_of(c, "true_belief"))),
            f3(g("false_belief")),
            f3(g("true_belief"))
        ));
    };
    row("none", 0.0, &st.baseline);
    for s in &st.residual {
        row("residual", s.alpha, &s.by_condition);
    }
    for s in &st.heads {
        row("top heads", s.alpha, &s.by_condition);
    }
    if let Some(s) = &st.random {
        row("random direction", s.alpha, &s.by_condition);
    }
    md.push_str(&format!(
        "\nCosine of the steering direction with the protagonist probe: {}; with the oracle's mean difference: {}.\n\n\
         Figures (figures/): layer_curves, heads_protagonist, heads_oracle, transfer, steering (.svg, .png).\n",
        f3(Some(st.stats.cosine_with_protagonist_probe)),
        f3(Some(st.stats.cosine_with_oracle_mean_diff))
    ));
    md
}
