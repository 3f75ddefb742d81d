//! The Hugging Face reference fixtures (`scripts/make_reference.py`) and the checks against
//! them, shared by tests/reference.rs (every prompt, on the CPU or CUDA) and
//! tests/device_path.rs (a subset, on burn-wgpu): one tolerance logic for every backend.

use burn::tensor::backend::Backend;
use mindlens::chat::ChatMessage;
use mindlens::prelude::*;
use mindlens::prompts::PromptInput;
use ndarray::{Array1, Array2, Array3};
use serde_json::Value;

use super::{cosine, fixture, max_abs, max_diff};

pub struct Prompt {
    pub name: String,
    pub input: PromptInput,
    pub ids: Vec<u32>,
    pub greedy: Vec<u32>,
    pub steered: Vec<u32>,
}

pub struct Reference {
    pub dir: std::path::PathBuf,
    pub prompts: Vec<Prompt>,
    pub steer_layer: usize,
    pub steer_coef: f32,
    pub steer: Vec<f32>,
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("id list")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

/// The committed fixtures of `name`, or, for models whose fixtures are too large to commit
/// (the 1.5B), those `make_reference.py --out $MINDLENS_MODELS/reference` wrote.
pub fn reference(name: &str) -> Reference {
    let committed = fixture(&format!("reference/{name}"));
    let dir = if committed.is_dir() {
        committed
    } else {
        mindlens::registry::models_dir().join("reference").join(name)
    };
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).expect("meta.json"))
        .expect("meta.json parses");
    let prompts = meta["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| {
            let input = if p["kind"] == "chat" {
                let msgs: Vec<ChatMessage> = serde_json::from_value(p["messages"].clone()).expect("messages");
                PromptInput::Messages(msgs)
            } else {
                PromptInput::Text(p["text"].as_str().expect("text").to_string())
            };
            Prompt {
                name: p["name"].as_str().expect("name").to_string(),
                input,
                ids: ids(&p["ids"]),
                greedy: ids(&p["greedy"]),
                steered: ids(&p["steered_greedy"]),
            }
        })
        .collect();
    let steer: Array1<f32> = mindlens::artifact::read_npy(&dir.join("steer.npy")).expect("steer.npy");
    Reference {
        prompts,
        steer_layer: meta["steer"]["layer"].as_u64().expect("steer layer") as usize,
        steer_coef: meta["steer"]["coef"].as_f64().expect("steer coef") as f32,
        steer: steer.to_vec(),
        dir,
    }
}

/// Per position: cosine >= 0.9999; overall max abs error <= 1e-3 of the tensor's max abs value.
pub fn assert_close(what: &str, ours: &[f32], theirs: &[f32], width: usize) {
    assert_eq!(ours.len(), theirs.len(), "{what}: shape mismatch");
    let scale = max_abs(theirs);
    let err = max_diff(ours, theirs);
    assert!(err <= 1e-3 * scale, "{what}: max abs error {err} > 1e-3 * {scale}");
    for (i, (a, b)) in ours.chunks(width).zip(theirs.chunks(width)).enumerate() {
        let c = cosine(a, b);
        assert!(c >= 0.9999, "{what}: position {i} cosine {c}");
    }
}

/// Token ids, hook_embed, every hook_resid_post, ln_final and logits of the reference prompts
/// `keep` accepts, against the reference.
pub fn check_forward<B: Backend>(name: &str, m: &Model<B>, keep: impl Fn(&str) -> bool) {
    check_forward_prefix(name, m, keep, usize::MAX)
}

/// [`check_forward`] on the first `len` tokens of each prompt (a causal model's first
/// positions do not depend on the rest): at most `mindlens::model::layers::BLOCK_ROWS`, and on
/// the CPU every product reads the quantized blocks as decoding does rather than the
/// dequantized matrices.
pub fn check_forward_prefix<B: Backend>(name: &str, m: &Model<B>, keep: impl Fn(&str) -> bool, len: usize) {
    let r = reference(name);
    let n = m.config.n_layers;
    let d = m.config.d_model;
    for p in r.prompts.iter().filter(|p| keep(&p.name)) {
        let ids = m.encode(&p.input).expect("encode");
        assert_eq!(ids, p.ids, "{name}/{}: token ids differ from Hugging Face", p.name);
        let whole = ids.len();
        let ids = ids[..whole.min(len)].to_vec();

        let mut points = vec![HookPoint::Embed, HookPoint::FinalNorm];
        points.extend((0..n).map(HookPoint::ResidPost));
        let mut hooks = HookSet::capture(points);
        let logits = m
            .run(std::slice::from_ref(&ids), &mut hooks, LogitsMode::All)
            .expect("run");
        let s = ids.len();

        let first = ndarray::s![..s, ..];
        let embed: Array2<f32> = mindlens::artifact::read_npy(&r.dir.join(format!("{}.embed.npy", p.name))).unwrap();
        let ours = hooks.captured(HookPoint::Embed).unwrap().row(0);
        assert_close(
            &format!("{name}/{} hook_embed", p.name),
            ours.as_slice().unwrap(),
            embed.slice(first).to_owned().as_slice().unwrap(),
            d,
        );

        let resid: Array3<f32> =
            mindlens::artifact::read_npy(&r.dir.join(format!("{}.resid_post.npy", p.name))).unwrap();
        assert_eq!(resid.shape(), [n, whole, d]);
        for l in 0..n {
            let ours = hooks.captured(HookPoint::ResidPost(l)).unwrap().row(0);
            let theirs = resid.index_axis(ndarray::Axis(0), l).slice(first).to_owned();
            assert_close(
                &format!("{name}/{} blocks.{l}.hook_resid_post", p.name),
                ours.as_slice().unwrap(),
                theirs.as_slice().unwrap(),
                d,
            );
        }
        let fin: Array2<f32> = mindlens::artifact::read_npy(&r.dir.join(format!("{}.final_norm.npy", p.name))).unwrap();
        let ours = hooks.captured(HookPoint::FinalNorm).unwrap().row(0);
        assert_close(
            &format!("{name}/{} ln_final", p.name),
            ours.as_slice().unwrap(),
            fin.slice(first).to_owned().as_slice().unwrap(),
            d,
        );

        // Logits: within 1e-2 at the reference's top-64 of every position and everywhere at the
        // last one; the same argmax wherever the reference's top-two margin exceeds 0.01.
        let top_ids: Array2<i64> =
            mindlens::artifact::read_npy(&r.dir.join(format!("{}.logits_topk_ids.npy", p.name))).unwrap();
        let top_vals: Array2<f32> =
            mindlens::artifact::read_npy(&r.dir.join(format!("{}.logits_topk_vals.npy", p.name))).unwrap();
        let ours = &logits[0];
        assert_eq!(ours.nrows(), s);
        for pos in 0..s {
            for k in 0..top_ids.ncols() {
                let (id, want) = (top_ids[[pos, k]] as usize, top_vals[[pos, k]]);
                let got = ours[[pos, id]];
                assert!(
                    (got - want).abs() <= 1e-2,
                    "{name}/{} logit pos {pos} id {id}: {got} vs {want}",
                    p.name
                );
            }
            if top_vals[[pos, 0]] - top_vals[[pos, 1]] > 0.01 {
                let row = ours.row(pos);
                let argmax = mindlens::generate::argmax(row.as_slice().unwrap());
                assert_eq!(argmax as i64, top_ids[[pos, 0]], "{name}/{} argmax at {pos}", p.name);
            }
        }
        if s == whole {
            let last: Array1<f32> =
                mindlens::artifact::read_npy(&r.dir.join(format!("{}.logits_last.npy", p.name))).unwrap();
            let err = max_diff(ours.row(s - 1).as_slice().unwrap(), last.as_slice().unwrap());
            assert!(err <= 1e-2, "{name}/{}: last-position logits max error {err}", p.name);
        }
    }
}

/// Greedy and steered greedy generation (20 tokens) of the reference prompts `keep` accepts,
/// against the reference; the reference itself must steer at least `min_changed` of them.
pub fn check_generation<B: Backend>(name: &str, m: &Model<B>, keep: impl Fn(&str) -> bool, min_changed: usize) {
    let r = reference(name);
    let opts = GenerateOptions {
        max_new_tokens: 20,
        stop_tokens: vec![u32::MAX], // never stop early: the reference runs exactly 20 steps
        ..Default::default()
    };
    let kept: Vec<&Prompt> = r.prompts.iter().filter(|p| keep(&p.name)).collect();
    assert!(!kept.is_empty(), "{name}: no reference prompt kept");
    for p in &kept {
        let ids = &p.ids;
        let out = m.generate(std::slice::from_ref(ids), &opts, &mut NoHooks).unwrap();
        assert_eq!(out[0].tokens, p.greedy, "{name}/{}: greedy tokens differ", p.name);

        let mut hooks = HookSet::default();
        let point = HookPoint::ResidPost(r.steer_layer);
        hooks
            .intervene(
                Intervention::add(point, r.steer.clone(), r.steer_coef),
                m.config.d_model,
                m.device(),
            )
            .unwrap();
        let out = m.generate(std::slice::from_ref(ids), &opts, &mut hooks).unwrap();
        assert_eq!(
            out[0].tokens, p.steered,
            "{name}/{}: steered greedy tokens differ",
            p.name
        );
    }
    // The steering reference must actually steer, or the check above proves nothing.
    let changed = kept.iter().filter(|p| p.greedy != p.steered).count();
    assert!(
        changed >= min_changed,
        "{name}: steering changed only {changed} generations"
    );
}
