//! Hugging Face checkpoint directories (config.json, tokenizer.json, bf16 safetensors, sharded
//! with an index for Gemma 3) against transformers' own forward pass on tiny random models made
//! by `scripts/make_tiny_checkpoints.py`. These exercise what GGUF files cannot: rotate-half
//! weights as published, Gemma's `1 + w` norms, and a sliding window shorter than the input.

mod common;

use common::{cosine, fixture, max_abs, max_diff};
use mindlens::prelude::*;
use ndarray::{Array2, Array3};
use serde_json::Value;

fn check(kind: &str) {
    let dir = fixture(&format!("tiny/{kind}"));
    let m = Model::<Cpu>::load(dir.to_str().unwrap(), &Default::default()).expect("checkpoint loads");
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
    let seqs = reference["seqs"].as_object().expect("seqs");
    assert!(!seqs.is_empty());
    let (n, d) = (m.config.n_layers, m.config.d_model);
    for (name, seq) in seqs {
        let ids: Vec<u32> = serde_json::from_value(seq["ids"].clone()).unwrap();
        let mut points = vec![HookPoint::Embed, HookPoint::FinalNorm];
        points.extend((0..n).map(HookPoint::ResidPost));
        let mut hooks = HookSet::capture(points);
        let logits = m.run(std::slice::from_ref(&ids), &mut hooks, LogitsMode::All).unwrap();
        let check = |what: &str, ours: &[f32], theirs: &[f32]| {
            let err = max_diff(ours, theirs);
            let scale = max_abs(theirs);
            assert!(
                err <= 1e-3 * scale,
                "{kind}/{name} {what}: max error {err} vs scale {scale}"
            );
            for (i, (a, b)) in ours.chunks(d).zip(theirs.chunks(d)).enumerate() {
                assert!(cosine(a, b) >= 0.9999, "{kind}/{name} {what} position {i}");
            }
        };
        let read2 =
            |f: &str| -> Array2<f32> { mindlens::artifact::read_npy(&dir.join(format!("{name}.{f}.npy"))).unwrap() };
        check(
            "hook_embed",
            hooks.captured(HookPoint::Embed).unwrap().row(0).as_slice().unwrap(),
            read2("embed").as_slice().unwrap(),
        );
        let resid: Array3<f32> = mindlens::artifact::read_npy(&dir.join(format!("{name}.resid_post.npy"))).unwrap();
        for l in 0..n {
            let theirs = resid.index_axis(ndarray::Axis(0), l).to_owned();
            check(
                &format!("blocks.{l}.hook_resid_post"),
                hooks
                    .captured(HookPoint::ResidPost(l))
                    .unwrap()
                    .row(0)
                    .as_slice()
                    .unwrap(),
                theirs.as_slice().unwrap(),
            );
        }
        check(
            "ln_final",
            hooks.captured(HookPoint::FinalNorm).unwrap().row(0).as_slice().unwrap(),
            read2("final_norm").as_slice().unwrap(),
        );
        let theirs = read2("logits");
        let err = max_diff(logits[0].as_slice().unwrap(), theirs.as_slice().unwrap());
        assert!(
            err <= 1e-3 * max_abs(theirs.as_slice().unwrap()).max(1.0),
            "{kind}/{name} logits error {err}"
        );
    }
}

#[test]
fn tiny_llama_checkpoint_matches_transformers() {
    check("llama");
}

#[test]
fn tiny_gemma3_sharded_checkpoint_with_sliding_window_matches_transformers() {
    let cfg = mindlens::model::ModelConfig::from_hf_config(&fixture("tiny/gemma3/config.json")).unwrap();
    // The fixture must exercise both kinds of attention and a window shorter than the input.
    assert!(cfg.layer_is_local.iter().any(|&l| l) && cfg.layer_is_local.iter().any(|&l| !l));
    assert!(cfg.sliding_window.unwrap() < 9);
    assert!(fixture("tiny/gemma3/model.safetensors.index.json").exists());
    check("gemma3");
}

#[test]
fn tiny_qwen2_checkpoint_with_qkv_biases_and_unused_sliding_window_matches_transformers() {
    let dir = fixture("tiny/qwen2");
    let cfg = mindlens::model::ModelConfig::from_hf_config(&dir.join("config.json")).unwrap();
    assert_eq!(cfg.arch, mindlens::model::Arch::Qwen2);
    // `sliding_window` is set shorter than the inputs but `use_sliding_window` is false: a
    // model that applied the window would fail the comparison below.
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert!(raw["sliding_window"].as_u64().unwrap() < 9);
    assert_eq!(raw["use_sliding_window"], Value::Bool(false));
    assert!(cfg.layer_is_local.iter().all(|&l| !l));
    assert!(!cfg.tie_embeddings, "the fixture should exercise an untied lm_head");
    check("qwen2");
}
