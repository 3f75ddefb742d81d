//! The yardstick (issue #24): how far an explicit persona prompt moves each measure, and the
//! rule that scores steering against it. Pure numbers here; the model work is in
//! `steps/yardstick.rs` and `steps/target.rs`.
//!
//! A measure is scored per *variant* (questionnaire: template; behaviour: option order; judge:
//! rater prompt), so every effect comes with the spread of that effect across variants, the
//! noise floor a real effect must clear.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::concepts::data::{mean, std_dev};

/// What is scored; every score is "higher = more of the trait", in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Questionnaire, every statement: the keyed score averaged over both option orders.
    Questionnaire,
    /// Questionnaire, positively keyed statements only (agreeing is the high pole).
    QuestionnairePositive,
    /// Questionnaire, reverse keyed statements only (disagreeing is the high pole), which
    /// separates trait from acquiescence.
    QuestionnaireReverse,
    /// Behaviour situations: P(high-trait continuation), by continuation log-probability.
    Behaviour,
    /// Free answers to held-out questions, rated by the unsteered model: P(high description).
    Judge,
}

impl Measure {
    pub const ALL: [Measure; 5] = [
        Measure::Questionnaire,
        Measure::QuestionnairePositive,
        Measure::QuestionnaireReverse,
        Measure::Behaviour,
        Measure::Judge,
    ];

    /// The name used in results and reports.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Questionnaire => "questionnaire",
            Measure::QuestionnairePositive => "questionnaire_positive",
            Measure::QuestionnaireReverse => "questionnaire_reverse",
            Measure::Behaviour => "behaviour",
            Measure::Judge => "judge",
        }
    }
}

/// How a questionnaire statement is keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyed {
    /// Agreeing is the high pole.
    Positive,
    /// Agreeing is the low pole.
    Reverse,
}

/// The trait score of a statement from the probability of agreeing with it: P(agree) for a
/// positively keyed statement, P(disagree) for a reverse keyed one. A model that agrees with
/// everything scores high on `+` and low on `-` statements, so it cancels in the pooled score.
pub fn keyed_score(keyed: Keyed, p_agree: f64) -> f64 {
    match keyed {
        Keyed::Positive => p_agree,
        Keyed::Reverse => 1.0 - p_agree,
    }
}

/// A measure's mean score per variant (template, option order or rater prompt).
pub type Variants = BTreeMap<String, f64>;

/// Mean over variants (NaN when there are none).
pub fn overall(v: &Variants) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    mean(&v.values().copied().collect::<Vec<_>>())
}

/// Per-variant differences `a - b` over the variants both have, and their population sd.
fn shift_spread(a: &Variants, b: &Variants) -> f64 {
    let d: Vec<f64> = a.iter().filter_map(|(k, x)| b.get(k).map(|y| x - y)).collect();
    if d.is_empty() {
        f64::NAN
    } else {
        std_dev(&d)
    }
}

/// The persona-prompt effect on one measure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Yardstick {
    pub measure: Measure,
    /// Score under the strongest high persona prompt(s) and the strongest low one(s).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub high: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub low: f64,
    /// `high - low`.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub effect: f64,
    /// Population sd of the effect across variants.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub template_spread: f64,
    /// Items (statements, situations or questions x wordings) behind each score.
    pub n_items: usize,
    /// Whether the persona prompt moves this measure: effect > 0 and beyond the spread (and,
    /// for the judge, the judge agrees with the persona's pole often enough).
    pub live: bool,
    pub high_by_variant: Variants,
    pub low_by_variant: Variants,
}

impl Yardstick {
    /// The yardstick from the scores under the high and the low persona. `trusted` is false
    /// for a judge that failed its agreement check: then the measure is dead whatever it shows.
    pub fn new(measure: Measure, high: Variants, low: Variants, n_items: usize, trusted: bool) -> Self {
        let (h, l) = (overall(&high), overall(&low));
        let effect = h - l;
        let spread = shift_spread(&high, &low);
        Yardstick {
            measure,
            high: h,
            low: l,
            effect,
            template_spread: spread,
            n_items,
            live: trusted && is_live(effect, spread),
            high_by_variant: high,
            low_by_variant: low,
        }
    }
}

/// Live: a positive effect larger than its spread across variants.
pub fn is_live(effect: f64, spread: f64) -> bool {
    effect.is_finite() && effect > 0.0 && (spread.is_nan() || effect > spread)
}

/// The judge's check on persona-prompted answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JudgeCheck {
    /// Fraction of (question, wording) pairs whose high-persona answer is rated higher than
    /// the low-persona answer (ratings averaged over rater prompts).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub agreement: f64,
    pub pairs: usize,
    /// Pairs whose two answers are the same text (the persona prompt changed nothing the
    /// judge could see); they count as disagreeing, since neither is rated higher. None in
    /// results written before it was counted.
    #[serde(default)]
    pub identical_pairs: Option<usize>,
    /// The agreement needed for the judge to count.
    pub min_agreement: f64,
    pub counted: bool,
    /// A few answers with their ratings, to read.
    pub samples: Vec<JudgeSample>,
}

/// One persona-prompted answer and how the judge rated it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JudgeSample {
    pub pole: String,
    pub question: String,
    pub answer: String,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub rating: f64,
}

/// Agreement of paired ratings: the fraction of pairs with `high > low` (NaN for no pairs).
pub fn agreement(pairs: &[(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    pairs.iter().filter(|(h, l)| h > l).count() as f64 / pairs.len() as f64
}

/// The yardstick of one trait.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TraitYardstick {
    /// Graded personas used as the strongest high and low prompts.
    pub high_personas: Vec<String>,
    pub low_personas: Vec<String>,
    pub measures: Vec<Yardstick>,
    pub judge: JudgeCheck,
}

impl TraitYardstick {
    pub fn get(&self, m: Measure) -> Option<&Yardstick> {
        self.measures.iter().find(|y| y.measure == m)
    }
}

/// A measure's score at one steering strength, at the chosen layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MeasureDose {
    pub alpha: f32,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub score: f64,
    pub by_variant: Variants,
    /// KL on neutral prompts at this strength (nats).
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
}

/// Steering on one measure, against its yardstick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MeasureTarget {
    pub measure: Measure,
    pub live: bool,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub effect: f64,
    /// Half the persona-prompt effect: the least shift each way that counts.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub needed: f64,
    /// The yardstick's spread across variants, which each shift must also exceed.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub spread: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub minus: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub zero: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub plus: f64,
    /// `plus - zero` and `zero - minus`: both positive when steering works both ways.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub up: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub down: f64,
    /// Larger of the KLs at +alpha and -alpha.
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    /// Live, both shifts beyond spread and needed, and KL within the bound.
    pub met: bool,
    /// Every strength at the chosen layer (the judge: -alpha, 0, +alpha only).
    pub dose: Vec<MeasureDose>,
    /// The gentlest strength at which the shifts clear spread and needed, whatever its KL.
    pub first_effect: Option<FirstEffect>,
}

/// Where an effect first appears on the strength grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FirstEffect {
    pub alpha: f32,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
}

/// Whether shifts `up` and `down` clear both `spread` and `needed`.
pub fn shifts_clear(up: f64, down: f64, spread: f64, needed: f64) -> bool {
    let floor = if spread.is_nan() { 0.0 } else { spread };
    [up, down]
        .iter()
        .all(|&s| s.is_finite() && s > floor && s >= needed && s > 0.0)
}

impl MeasureTarget {
    /// Scores `dose` (sorted by alpha, including 0) against `y` at strength `alpha`.
    pub fn new(y: &Yardstick, dose: Vec<MeasureDose>, alpha: f32, kl_bound: f64) -> Self {
        let at = |a: f32| dose.iter().find(|d| d.alpha == a);
        let score = |a: f32| at(a).map_or(f64::NAN, |d| d.score);
        let kl_at = |a: f32| at(a).map_or(f64::NAN, |d| d.kl);
        let (minus, zero, plus) = (score(-alpha), score(0.0), score(alpha));
        let (up, down) = (plus - zero, zero - minus);
        let needed = y.effect / 2.0;
        let kl = kl_at(alpha).max(kl_at(-alpha));
        let first_effect = dose
            .iter()
            .filter(|d| d.alpha > 0.0)
            .find(|d| shifts_clear(d.score - zero, zero - score(-d.alpha), y.template_spread, needed))
            .map(|d| FirstEffect {
                alpha: d.alpha,
                kl: d.kl.max(kl_at(-d.alpha)),
            })
            .filter(|_| y.live);
        MeasureTarget {
            measure: y.measure,
            live: y.live,
            effect: y.effect,
            needed,
            spread: y.template_spread,
            minus,
            zero,
            plus,
            up,
            down,
            kl,
            met: y.live && kl <= kl_bound && shifts_clear(up, down, y.template_spread, needed),
            dose,
            first_effect,
        }
    }
}

/// Steering of one trait scored against its yardstick.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SteeringTarget {
    pub layer: usize,
    /// The largest strength whose KL at both signs is within the bound (else the gentlest).
    pub alpha: f32,
    pub within_kl_bound: bool,
    pub kl_bound: f64,
    pub measures: Vec<MeasureTarget>,
    /// Judge-rated answers at -alpha, 0 and +alpha, to read.
    pub judge_samples: Vec<JudgeSample>,
}

impl SteeringTarget {
    /// The measure a headline shows: the first met one, else the live one that came closest
    /// (largest smaller shift relative to what was needed).
    pub fn headline_measure(&self) -> Option<&MeasureTarget> {
        if let Some(m) = self.measures.iter().find(|m| m.met) {
            return Some(m);
        }
        let closeness = |m: &MeasureTarget| m.up.min(m.down) / m.needed;
        self.measures
            .iter()
            .filter(|m| m.live && closeness(m).is_finite())
            .max_by(|a, b| closeness(a).total_cmp(&closeness(b)))
    }
}

/// The target numbers of one trait a reader looks at first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetHeadline {
    /// Some live measure moved both ways by half the persona effect, beyond its spread,
    /// within the KL bound.
    pub target_met: bool,
    /// The measure shown (see [`SteeringTarget::headline_measure`]); None when none is live.
    pub measure: Option<Measure>,
    pub alpha: f32,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub up: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub down: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub needed: f64,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub kl: f64,
    pub live_measures: Vec<Measure>,
    #[serde(deserialize_with = "crate::artifact::nan::f64")]
    pub judge_agreement: f64,
}

impl TargetHeadline {
    pub fn new(s: &SteeringTarget, y: &TraitYardstick) -> Self {
        let m = s.headline_measure();
        let pick = |f: fn(&MeasureTarget) -> f64| m.map_or(f64::NAN, f);
        TargetHeadline {
            target_met: s.measures.iter().any(|m| m.met),
            measure: m.map(|m| m.measure),
            alpha: s.alpha,
            up: pick(|m| m.up),
            down: pick(|m| m.down),
            needed: pick(|m| m.needed),
            kl: pick(|m| m.kl),
            live_measures: y.measures.iter().filter(|y| y.live).map(|y| y.measure).collect(),
            judge_agreement: y.judge.agreement,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(pairs: &[(&str, f64)]) -> Variants {
        pairs.iter().map(|(k, x)| (k.to_string(), *x)).collect()
    }

    #[test]
    fn a_reverse_keyed_statement_flips() {
        assert_eq!(keyed_score(Keyed::Positive, 0.8), 0.8);
        assert!((keyed_score(Keyed::Reverse, 0.8) - 0.2).abs() < 1e-12);
        // An acquiescent model agrees with both: the two keyings cancel.
        let pooled = (keyed_score(Keyed::Positive, 0.9) + keyed_score(Keyed::Reverse, 0.9)) / 2.0;
        assert!((pooled - 0.5).abs() < 1e-12);
    }

    #[test]
    fn live_needs_a_positive_effect_beyond_the_spread() {
        let y = Yardstick::new(
            Measure::Questionnaire,
            v(&[("t0", 0.7), ("t1", 0.6)]),
            v(&[("t0", 0.4), ("t1", 0.5)]),
            3,
            true,
        );
        assert!((y.effect - 0.2).abs() < 1e-12);
        assert!((y.template_spread - 0.1).abs() < 1e-12, "{}", y.template_spread);
        assert!(y.live);
        // Same numbers from a judge that failed its check: dead.
        assert!(
            !Yardstick::new(
                Measure::Judge,
                y.high_by_variant.clone(),
                y.low_by_variant.clone(),
                3,
                false
            )
            .live
        );
        // Effect within its spread across templates: dead.
        let noisy = Yardstick::new(
            Measure::Questionnaire,
            v(&[("t0", 0.9), ("t1", 0.5)]),
            v(&[("t0", 0.4), ("t1", 0.6)]),
            3,
            true,
        );
        assert!(!noisy.live, "{noisy:?}");
        // The wrong way: dead.
        assert!(!is_live(-0.3, 0.0));
    }

    #[test]
    fn target_needs_both_ways_half_the_effect_and_the_kl_bound() {
        let y = Yardstick::new(Measure::Behaviour, v(&[("ab", 0.8)]), v(&[("ab", 0.4)]), 2, true);
        let dose = |m: f64, p: f64, kl: f64| {
            [(-0.5f32, m, kl), (0.0, 0.5, 0.0), (0.5, p, kl)]
                .into_iter()
                .map(|(alpha, score, kl)| MeasureDose {
                    alpha,
                    score,
                    by_variant: Variants::new(),
                    kl,
                })
                .collect::<Vec<_>>()
        };
        let met = MeasureTarget::new(&y, dose(0.25, 0.75, 0.05), 0.5, 0.1);
        assert!(met.met && (met.up - 0.25).abs() < 1e-12 && (met.needed - 0.2).abs() < 1e-12);
        assert_eq!(met.first_effect.as_ref().map(|f| f.alpha), Some(0.5));
        // Only one way.
        assert!(!MeasureTarget::new(&y, dose(0.5, 0.9, 0.05), 0.5, 0.1).met);
        // Too small a shift.
        assert!(!MeasureTarget::new(&y, dose(0.45, 0.55, 0.05), 0.5, 0.1).met);
        // Beyond the KL bound: not met, but the effect's KL is reported.
        let strong = MeasureTarget::new(&y, dose(0.2, 0.8, 0.3), 0.5, 0.1);
        assert!(!strong.met);
        assert_eq!(strong.first_effect.map(|f| f.kl), Some(0.3));
    }

    #[test]
    fn agreement_counts_pairs_rated_the_persona_way() {
        assert_eq!(agreement(&[(0.6, 0.4), (0.3, 0.5), (0.7, 0.2), (0.5, 0.5)]), 0.5);
        assert!(agreement(&[]).is_nan());
    }
}
