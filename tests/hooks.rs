//! Hook points and interventions on the real SmolLM2 (Llama) and Qwen2.5-Coder-0.5B (Qwen2):
//! padding does not change activations, the KV cache does not change generation or captures,
//! and each edit does what it says.

mod common;

use common::{max_abs, max_diff, model, QWEN};
use mindlens::prelude::*;

const SMOL: &str = "smollm2-135m-instruct";

fn encode(m: &Model<Cpu>, texts: &[&str]) -> Vec<Vec<u32>> {
    texts.iter().map(|t| m.tokenizer.encode(t, true).unwrap()).collect()
}

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    max_diff(a, b) / max_abs(b).max(1e-6)
}

#[test]
fn a_prompt_gives_the_same_activations_alone_and_in_a_padded_batch() {
    padding_changes_nothing(SMOL);
}

#[test]
fn qwen2_a_prompt_gives_the_same_activations_alone_and_in_a_padded_batch() {
    padding_changes_nothing(QWEN);
}

fn padding_changes_nothing(name: &str) {
    let Some(m) = model(name) else { return };
    let prompts = encode(m, &["Hi", "The quick brown fox jumps over the lazy dog.", "1 2 3 4"]);
    let last = m.config.n_layers - 1;
    let points: Vec<HookPoint> = [0, 7, last].into_iter().map(HookPoint::ResidPost).collect();
    let mut batch = HookSet::capture(points.clone());
    let batch_logits = m.run(&prompts, &mut batch, LogitsMode::All).unwrap();
    for (r, p) in prompts.iter().enumerate() {
        let mut solo = HookSet::capture(points.clone());
        let solo_logits = m.run(std::slice::from_ref(p), &mut solo, LogitsMode::All).unwrap();
        for &pt in &points {
            let a = batch.captured(pt).unwrap().row(r);
            let b = solo.captured(pt).unwrap().row(0);
            assert_eq!(a.shape(), b.shape(), "row {r} {pt}");
            let e = rel_err(a.as_slice().unwrap(), b.as_slice().unwrap());
            assert!(e < 1e-4, "row {r} {pt}: relative error {e}");
        }
        let e = rel_err(batch_logits[r].as_slice().unwrap(), solo_logits[0].as_slice().unwrap());
        assert!(e < 1e-4, "row {r} logits: relative error {e}");
    }
}

#[test]
fn splitting_a_batch_across_threads_changes_no_activation() {
    // On the CPU, a large enough batch runs blocks of rows on separate threads (norms, MLP,
    // attention). Run one with three threads against each prompt alone on one thread.
    let Some(m) = model(SMOL) else { return };
    let text = "The river bends twice before it reaches the old mill, where the water slows. ";
    let prompts = encode(m, &[&text.repeat(4), &text.repeat(3), "A short one.", &text.repeat(2)]);
    assert!(prompts[0].len() >= 60, "long enough to split: {}", prompts[0].len());
    let points = vec![
        HookPoint::ResidPost(2),
        HookPoint::AttnZ(5),
        HookPoint::AttnPattern(5),
        HookPoint::ResidPost(29),
    ];
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
    let mut batch = HookSet::capture(points.clone());
    let batch_logits = pool(3)
        .install(|| m.run(&prompts, &mut batch, LogitsMode::All))
        .unwrap();
    for (r, p) in prompts.iter().enumerate() {
        let mut solo = HookSet::capture(points.clone());
        let solo_logits = pool(1)
            .install(|| m.run(std::slice::from_ref(p), &mut solo, LogitsMode::All))
            .unwrap();
        for &pt in points.iter().filter(|p| !matches!(p, HookPoint::AttnPattern(_))) {
            let a = batch.captured(pt).unwrap().row(r);
            let b = solo.captured(pt).unwrap().row(0);
            assert_eq!(a.shape(), b.shape(), "row {r} {pt}");
            let e = rel_err(a.as_slice().unwrap(), b.as_slice().unwrap());
            assert!(e < 1e-4, "row {r} {pt}: relative error {e}");
        }
        let a = &batch.captured_pattern(5).unwrap()[r];
        let b = &solo.captured_pattern(5).unwrap()[0];
        assert_eq!(a.shape(), b.shape(), "row {r} pattern");
        assert!(
            max_diff(a.as_slice().unwrap(), b.as_slice().unwrap()) < 1e-4,
            "row {r} pattern"
        );
        let e = rel_err(batch_logits[r].as_slice().unwrap(), solo_logits[0].as_slice().unwrap());
        assert!(e < 1e-4, "row {r} logits: relative error {e}");
    }
}

#[test]
fn kv_cache_and_full_recompute_agree_on_tokens_and_captures() {
    kv_cache_changes_nothing(SMOL);
}

#[test]
fn qwen2_kv_cache_and_full_recompute_agree_on_tokens_and_captures() {
    kv_cache_changes_nothing(QWEN);
}

fn kv_cache_changes_nothing(name: &str) {
    let Some(m) = model(name) else { return };
    let prompts = encode(m, &["Once upon a time", "def add(a, b):"]);
    let v: Vec<f32> = (0..m.config.d_model)
        .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
        .collect();
    let points = [HookPoint::ResidPost(3), HookPoint::AttnZ(10), HookPoint::ResidPost(20)];
    let run = |use_cache: bool| {
        let mut hooks = HookSet::capture(points);
        let iv = Intervention::add(HookPoint::ResidPost(5), v.clone(), 4.0).at(Positions::Generated);
        hooks.intervene(iv, m.config.d_model, m.device()).unwrap();
        let opts = GenerateOptions {
            max_new_tokens: 10,
            use_cache,
            stop_tokens: vec![u32::MAX],
            ..Default::default()
        };
        let out = m.generate(&prompts, &opts, &mut hooks).unwrap();
        (out, hooks.take_captured())
    };
    let (with, cap_with) = run(true);
    let (without, cap_without) = run(false);
    for r in 0..prompts.len() {
        assert_eq!(with[r].tokens, without[r].tokens, "row {r}");
        assert_eq!(with[r].tokens.len(), 10);
        for p in points {
            let a = cap_with[&p].row(r);
            let b = cap_without[&p].row(r);
            // Every prompt and generated position except the last token (never fed back).
            assert_eq!(a.nrows(), prompts[r].len() + 9, "row {r} {p}");
            assert_eq!(a.shape(), b.shape());
            let e = rel_err(a.as_slice().unwrap(), b.as_slice().unwrap());
            assert!(e < 1e-4, "row {r} {p}: relative error {e}");
        }
    }
}

#[test]
fn add_project_out_zero_and_replace_do_what_they_say() {
    edits_do_what_they_say(SMOL);
}

#[test]
fn qwen2_add_project_out_zero_and_replace_do_what_they_say() {
    edits_do_what_they_say(QWEN);
}

fn edits_do_what_they_say(name: &str) {
    let Some(m) = model(name) else { return };
    let d = m.config.d_model;
    let ids = encode(m, &["Paris is the capital of France."]);
    let s = ids[0].len();
    let v: Vec<f32> = (0..d).map(|i| (i as f32 * 0.37).sin()).collect();
    let at = HookPoint::ResidPost(8);
    let capture = |iv: Option<Intervention>| {
        let mut h = HookSet::capture([at, HookPoint::ResidPost(9)]);
        if let Some(iv) = iv {
            h.intervene(iv, d, m.device()).unwrap();
        }
        m.run(&ids, &mut h, LogitsMode::None).unwrap();
        (
            h.captured(at).unwrap().row(0),
            h.captured(HookPoint::ResidPost(9)).unwrap().row(0),
        )
    };
    let (base, base_next) = capture(None);

    // Add at prompt positions 1 and 2 only: exactly coef * v there, nothing elsewhere.
    let (added, next) = capture(Some(
        Intervention::add(at, v.clone(), 2.0).at(Positions::At(vec![1, 2])),
    ));
    for pos in 0..s {
        for i in 0..d {
            let want = base[[pos, i]] + if pos == 1 || pos == 2 { 2.0 * v[i] } else { 0.0 };
            assert!((added[[pos, i]] - want).abs() < 1e-4, "pos {pos} dim {i}");
        }
    }
    // Causality: position 0 downstream is unchanged, later positions change.
    assert!(max_diff(next.row(0).as_slice().unwrap(), base_next.row(0).as_slice().unwrap()) < 1e-5);
    assert!(
        max_diff(
            next.row(s - 1).as_slice().unwrap(),
            base_next.row(s - 1).as_slice().unwrap()
        ) > 1e-3
    );

    // Project out: the edited stream has no component along v.
    let (proj, _) = capture(Some(Intervention {
        point: at,
        edit: Edit::ProjectOut { direction: v.clone() },
        positions: Positions::All,
    }));
    let vn = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    for pos in 0..s {
        let dot: f32 = proj.row(pos).iter().zip(&v).map(|(a, b)| a * b).sum::<f32>() / vn;
        let scale = base.row(pos).iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(dot.abs() < 1e-4 * scale, "pos {pos}: residual component {dot}");
    }

    // Zero and replace.
    let (zero, _) = capture(Some(Intervention {
        point: at,
        edit: Edit::Zero,
        positions: Positions::From(2),
    }));
    assert!(zero.row(1).iter().any(|&x| x != 0.0));
    assert!(zero.rows().into_iter().skip(2).all(|r| r.iter().all(|&x| x == 0.0)));
    let (rep, _) = capture(Some(Intervention {
        point: at,
        edit: Edit::Replace { vector: v.clone() },
        positions: Positions::All,
    }));
    assert!(rep
        .rows()
        .into_iter()
        .all(|r| max_diff(r.as_slice().unwrap(), &v) < 1e-6));
}

#[test]
fn bad_hooks_and_vectors_are_clear_errors() {
    let err = HookPoint::resolve("blocks.3.hook_resid_pots", 30)
        .unwrap_err()
        .to_string();
    assert!(err.contains("hook_resid_pots") && err.contains("unknown"), "{err}");
    let err = HookPoint::resolve("blocks.30.hook_resid_post", 30)
        .unwrap_err()
        .to_string();
    assert!(err.contains("out of range") && err.contains("30"), "{err}");
    let err = HookPoint::resolve("blocks.*.hook_nothing", 30).unwrap_err().to_string();
    assert!(err.contains("matches no hook point"), "{err}");
    assert_eq!(HookPoint::resolve("blocks.*.attn.hook_z", 30).unwrap().len(), 30);
    // Patterns only when asked for by name.
    assert!(HookPoint::resolve("blocks.0.*", 30)
        .unwrap()
        .iter()
        .all(|p| !matches!(p, HookPoint::AttnPattern(_))));
    for p in HookPoint::all(4, true) {
        assert_eq!(p.to_string().parse::<HookPoint>().unwrap(), p);
    }

    let mut hooks = HookSet::<Cpu>::default();
    let err = hooks
        .intervene(
            Intervention::add(HookPoint::ResidPost(1), vec![0.0; 100], 1.0),
            576,
            &Default::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("length 100") && err.contains("576"), "{err}");
}

#[test]
fn attention_patterns_are_causal_distributions() {
    let Some(m) = model(SMOL) else { return };
    let ids = encode(m, &["a b c d e f"]);
    let mut h = HookSet::capture([HookPoint::AttnPattern(2)]);
    m.run(&ids, &mut h, LogitsMode::None).unwrap();
    let p = &h.captured_pattern(2).unwrap()[0];
    let s = ids[0].len();
    assert_eq!(p.shape(), [m.config.n_heads, s, s]);
    for hd in 0..m.config.n_heads {
        for q in 0..s {
            let row: f32 = (0..s).map(|k| p[[hd, q, k]]).sum();
            assert!((row - 1.0).abs() < 1e-5);
            assert!(
                (q + 1..s).all(|k| p[[hd, q, k]] == 0.0),
                "head {hd} query {q} attends to the future"
            );
        }
    }
}
