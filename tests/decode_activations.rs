//! The decoding products' activations against exact f32 ([`DecodeActivations::ExactF32`],
//! itself checked against transformers in tests/reference.rs), on the first 8 tokens of each
//! reference prompt (so every product reads the quantized blocks) and on 20 greedy tokens:
//! - the default ([`DecodeActivations::F32`]), which on CPUs with AVX-512 VNNI writes the
//!   activations of Q4_K, Q6_K, Q5_0, Q4_0, Q4_1 and Q8_0 products as 24-bit integers (with
//!   their matrices repacked sixteen rows at a time where the rows allow), must
//!   stay within the reference tests'
//!   tolerance (1e-3 of the tensor's max, cosine 0.9999 per position) and decode the same
//!   tokens;
//! - 8-bit activations (llama.cpp's scheme, opt-in) are not within it; the bounds here are
//!   loose, so that a broken kernel, which scrambles hidden states and tokens, fails.

mod common;

use common::reference::{assert_close, reference};
use common::{cosine, max_abs, max_diff, QWEN};
use mindlens::prelude::*;

fn load(name: &str, decode: DecodeActivations) -> Option<Model<Cpu>> {
    common::load_with::<Cpu>(name, &Default::default(), decode)
}

/// How far `other` is from `exact` on reference `prompts`.
struct Agreement {
    /// Per prompt and hook point: `(exact, other)` hidden states, one row per position.
    states: Vec<(String, Vec<f32>, Vec<f32>)>,
    /// Greedy tokens before the first difference (of 20), plain and (where the reference's
    /// vector fits the model) steered, per prompt.
    agree: Vec<usize>,
}

impl Agreement {
    fn measure(prompts: &str, exact: &Model<Cpu>, other: &Model<Cpu>) -> Self {
        let r = reference(prompts);
        let (n, d) = (exact.config.n_layers, exact.config.d_model);
        let mut points: Vec<HookPoint> = (0..n).map(HookPoint::ResidPost).collect();
        points.push(HookPoint::FinalNorm);
        let (mut states, mut agree) = (Vec::new(), Vec::new());
        for p in &r.prompts {
            let ids = &p.ids[..p.ids.len().min(8)];
            let capture = |m: &Model<Cpu>| {
                let mut hooks = HookSet::capture(points.clone());
                m.run(&[ids.to_vec()], &mut hooks, LogitsMode::None).unwrap();
                points
                    .iter()
                    .map(|&pt| hooks.captured(pt).unwrap().row(0).as_slice().unwrap().to_vec())
                    .collect::<Vec<Vec<f32>>>()
            };
            for ((pt, a), b) in points.iter().zip(capture(exact)).zip(capture(other)) {
                states.push((format!("{} {pt}", p.name), a, b));
            }
            let opts = GenerateOptions {
                max_new_tokens: 20,
                stop_tokens: vec![u32::MAX],
                ..Default::default()
            };
            let greedy = |m: &Model<Cpu>, steer: bool| {
                let mut hooks = HookSet::default();
                if steer {
                    let add = Intervention::add(HookPoint::ResidPost(r.steer_layer), r.steer.clone(), r.steer_coef);
                    hooks.intervene(add, d, m.device()).unwrap();
                }
                m.generate(std::slice::from_ref(&p.ids), &opts, &mut hooks).unwrap()[0]
                    .tokens
                    .clone()
            };
            for steer in std::iter::once(false).chain((r.steer.len() == d).then_some(true)) {
                let (a, b) = (greedy(exact, steer), greedy(other, steer));
                agree.push(a.iter().zip(&b).take_while(|(x, y)| x == y).count());
            }
        }
        Agreement { states, agree }
    }

    /// Cosine of each (hook point, position) row.
    fn cosines(&self, d: usize) -> Vec<f64> {
        (self.states.iter())
            .flat_map(|(_, a, b)| a.chunks(d).zip(b.chunks(d)).map(|(x, y)| cosine(x, y)))
            .collect()
    }

    /// The largest error over a tensor's largest value.
    fn worst_error(&self) -> f32 {
        (self.states.iter()).fold(0f32, |w, (_, a, b)| w.max(max_diff(b, a) / max_abs(a)))
    }

    /// `name` loaded with `decode`, measured against `exact` and reported as `what`.
    fn of(name: &str, prompts: &str, exact: &Model<Cpu>, decode: DecodeActivations, what: &str) -> Self {
        let other = load(name, decode).expect("loads where the exact model did");
        let a = Agreement::measure(prompts, exact, &other);
        a.report(&format!("{name}, {what}"), exact.config.d_model);
        a
    }

    fn report(&self, what: &str, d: usize) {
        let c = self.cosines(d);
        let mean = c.iter().sum::<f64>() / c.len() as f64;
        let min = c.iter().copied().fold(1f64, f64::min);
        let close = c.iter().filter(|&&v| v >= 0.99).count() as f64 / c.len() as f64;
        eprintln!(
            "{what} against exact f32: hidden states max error {:.2e} of the tensor's max, cosine \
             per (layer, position) mean {mean:.6}, min {min:.6}, {:.1}% >= 0.99; greedy tokens \
             agreeing before the first difference {:?} (of 20)",
            self.worst_error(),
            100.0 * close,
            self.agree
        );
    }
}

/// The default activations: within the reference tolerance of `exact`, same tokens.
fn check_default(name: &str, prompts: &str, exact: &Model<Cpu>) {
    let a = Agreement::of(name, prompts, exact, DecodeActivations::F32, "default activations");
    let d = exact.config.d_model;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512vnni") {
        assert!(
            a.states.iter().any(|(_, x, y)| x != y),
            "{name}: no product took the 24-bit path"
        );
    }
    for (what, x, y) in &a.states {
        assert_close(&format!("{name} {what}"), y, x, d);
    }
    assert!(
        a.agree.iter().all(|&k| k == 20),
        "{name}: greedy tokens differ: {:?}",
        a.agree
    );
}

/// 8-bit activations: close to `exact`, not within the tolerance.
fn check_int8(name: &str, prompts: &str, exact: &Model<Cpu>) {
    let a = Agreement::of(name, prompts, exact, DecodeActivations::Int8, "8-bit activations");
    let d = exact.config.d_model;
    let c = a.cosines(d);
    assert!(
        c.iter().any(|&v| v < 1.0 - 1e-9),
        "{name}: no product took the 8-bit path"
    );
    // Not the minimum: where the 1.5B model cancels the ~3,700-sized activation of its first
    // position in its last layers, the small remainder is mostly rounding (cosine 0.36-0.57).
    let mean = c.iter().sum::<f64>() / c.len() as f64;
    let close = c.iter().filter(|&&v| v >= 0.99).count() as f64 / c.len() as f64;
    assert!(
        mean >= 0.99 && close >= 0.95,
        "{name}: cosine mean {mean}, {close} of them >= 0.99"
    );
    let whole = a.agree.iter().filter(|&&k| k == 20).count();
    assert!(
        2 * whole >= a.agree.len(),
        "{name}: only {whole} of {} generations agree",
        a.agree.len()
    );
}

/// SmolLM2: Q4_1 blocks, the unembedding Q8_0 (the sixteen-row 32-weight kernels).
#[test]
fn default_activations_are_within_the_reference_tolerance_smollm2() {
    if let Some(exact) = load("smollm2-135m-instruct", DecodeActivations::ExactF32) {
        check_default("smollm2-135m-instruct", "smollm2-135m-instruct", &exact);
    }
}

#[test]
fn default_activations_are_within_the_reference_tolerance_gemma3() {
    if let Some(exact) = load("gemma3-270m", DecodeActivations::ExactF32) {
        check_default("gemma3-270m", "gemma3-270m", &exact);
    }
}

/// Qwen2.5-Coder-0.5B-Instruct: most of its products are Q5_0 (its width, 896, is no multiple
/// of the K-quants' 256), so this checks the 32-weight VNNI kernel on a whole model.
#[test]
fn both_schemes_against_exact_f32_qwen2() {
    if let Some(exact) = load(QWEN, DecodeActivations::ExactF32) {
        check_default(QWEN, QWEN, &exact);
        check_int8(QWEN, QWEN, &exact);
    }
}

/// Qwen2.5-Coder-1.5B-Instruct, all Q4_K and Q6_K, on the 0.5B model's prompts (the same
/// tokenizer; its steering vector does not fit), both schemes in one test (a loaded 1.5B
/// model holds about 8 GB): `cargo test --release --test decode_activations -- --ignored
/// --nocapture` after `models/fetch.sh qwen2.5-coder-1.5b-instruct`.
#[test]
#[ignore]
fn both_schemes_against_exact_f32_qwen2_1_5b() {
    let name = "qwen2.5-coder-1.5b-instruct";
    if let Some(exact) = load(name, DecodeActivations::ExactF32) {
        check_default(name, QWEN, &exact);
        check_int8(name, QWEN, &exact);
    }
}
