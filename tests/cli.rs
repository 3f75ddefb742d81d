//! The `mindlens` binary: output contracts other tools read, and clear errors (non-zero exit,
//! a message naming the file or value, never a panic) on bad input.

mod common;

use std::path::Path;
use std::process::Output;

use common::{max_diff, mindlens, model};
use mindlens::prelude::*;
use ndarray::{Array1, Array2, Array3};

const SMOL: &str = "smollm2-135m-instruct";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Fails unless the command exited with status 1 (an error, not a panic's 101) and its
/// message contains every one of `needles`.
fn assert_clean_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected a clean error exit, got {:?}: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "panicked: {err}");
    for n in needles {
        assert!(err.contains(n), "error message lacks {n:?}: {err}");
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn cache_writes_the_documented_layout_equal_to_the_library() {
    let Some(m) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("p.jsonl");
    write(
        &prompts,
        "{\"text\": \"Hello world\"}\n\n{\"messages\": [{\"role\": \"user\", \"content\": \"Hi!\"}]}\n{\"tokens\": [1, 2, 3]}\n",
    );
    let out = dir.path().join("cache");
    let o = mindlens(&[
        "cache",
        "--prompts",
        prompts.to_str().unwrap(),
        "--hooks",
        "blocks.*.hook_resid_post,hook_embed,blocks.4.attn.hook_z",
        "--logits",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model"], SMOL);
    assert_eq!(manifest["hooks"].as_array().unwrap().len(), 32);
    let ps = manifest["prompts"].as_array().unwrap();
    assert_eq!(ps.len(), 3);
    assert_eq!(ps[2]["tokens"], serde_json::json!([1, 2, 3]));
    let ids: Vec<u32> = serde_json::from_value(ps[0]["tokens"].clone()).unwrap();
    assert_eq!(ids, m.tokenizer.encode("Hello world", true).unwrap());
    let s = ids.len();
    assert_eq!(ps[0]["seq_len"], s);

    let mut hooks = HookSet::capture([HookPoint::ResidPost(11), HookPoint::AttnZ(4)]);
    let logits = m.run(std::slice::from_ref(&ids), &mut hooks, LogitsMode::All).unwrap();
    let r: Array2<f32> = mindlens::artifact::read_npy(&out.join("p0/blocks.11.hook_resid_post.npy")).unwrap();
    assert_eq!(r.shape(), [s, 576]);
    let lib = hooks.captured(HookPoint::ResidPost(11)).unwrap().row(0);
    assert!(max_diff(r.as_slice().unwrap(), lib.as_slice().unwrap()) < 1e-5);
    let z: Array3<f32> = mindlens::artifact::read_npy(&out.join("p0/blocks.4.attn.hook_z.npy")).unwrap();
    assert_eq!(z.shape(), [s, 9, 64]);
    let l: Array2<f32> = mindlens::artifact::read_npy(&out.join("p0/logits.npy")).unwrap();
    assert_eq!(l.shape(), [s, 49152]);
    assert!(max_diff(l.as_slice().unwrap(), logits[0].as_slice().unwrap()) < 1e-4);
    assert!(out.join("p2/hook_embed.npy").exists());

    // A non-empty output directory is refused without --force.
    let again = mindlens(&[
        "cache",
        "--prompts",
        prompts.to_str().unwrap(),
        "--hooks",
        "hook_embed",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_error(&again, &["not empty", "--force"]);
}

#[test]
fn generate_json_with_a_steering_vector() {
    let Some(m) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let v: Array1<f32> = Array1::from_iter((0..576).map(|i| ((i as f32) * 0.1).cos()));
    let vpath = dir.path().join("v.npy");
    mindlens::artifact::write_npy(&vpath, &v).unwrap();
    let run = |coef: &str| {
        let o = mindlens(&[
            "generate",
            "The weather today is",
            "--max-new-tokens",
            "8",
            "--temperature",
            "0",
            "--json",
            "--steer",
            vpath.to_str().unwrap(),
            "--steer-layer",
            "6",
            "--steer-coef",
            coef,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
        let toks: Vec<u32> = serde_json::from_value(line["tokens"].clone()).unwrap();
        assert_eq!(line["text"].as_str().unwrap(), m.tokenizer.decode(&toks, true).unwrap());
        toks
    };
    let plain = run("0");
    let steered = run("12");
    assert_eq!(plain.len(), 8);
    assert_ne!(plain, steered, "a strong steering vector must change greedy output");

    // Library and CLI agree on the unsteered continuation.
    let ids = m.tokenizer.encode("The weather today is", true).unwrap();
    let opts = GenerateOptions {
        max_new_tokens: 8,
        ..Default::default()
    };
    assert_eq!(
        m.generate(std::slice::from_ref(&ids), &opts, &mut NoHooks).unwrap()[0].tokens,
        plain
    );

    // --int8-activations decodes with the library's 8-bit activations.
    let o = mindlens(&[
        "generate",
        "The weather today is",
        "--max-new-tokens",
        "8",
        "--json",
        "--int8-activations",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let int8 = Model::<Cpu>::load_gguf_with(&m.source, &Default::default(), DecodeActivations::Int8).unwrap();
    let want = int8.generate(std::slice::from_ref(&ids), &opts, &mut NoHooks).unwrap()[0]
        .tokens
        .clone();
    assert_eq!(
        serde_json::from_value::<Vec<u32>>(line["tokens"].clone()).unwrap(),
        want
    );

    // --exact-activations decodes as the library's exact f32 products; it excludes 8-bit.
    let args = [
        "generate",
        "The weather today is",
        "--max-new-tokens",
        "8",
        "--json",
        "--exact-activations",
    ];
    let o = mindlens(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let exact = Model::<Cpu>::load_gguf_with(&m.source, &Default::default(), DecodeActivations::ExactF32).unwrap();
    let want = exact.generate(&[ids], &opts, &mut NoHooks).unwrap()[0].tokens.clone();
    assert_eq!(
        serde_json::from_value::<Vec<u32>>(line["tokens"].clone()).unwrap(),
        want
    );
    let o = mindlens(&[&args[..], &["--int8-activations"]].concat());
    assert!(
        !o.status.success() && stderr(&o).contains("--int8-activations"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_inputs_are_clear_errors() {
    let Some(_) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);

    // Steering vector of the wrong length names the file and both lengths.
    let short: Array1<f32> = Array1::zeros(100);
    mindlens::artifact::write_npy(&p("short.npy"), &short).unwrap();
    let o = mindlens(&[
        "generate",
        "hi",
        "--steer",
        p("short.npy").to_str().unwrap(),
        "--steer-layer",
        "3",
    ]);
    assert_clean_error(&o, &["short.npy", "100", "576"]);

    // Layer out of range.
    mindlens::artifact::write_npy(&p("v.npy"), &Array1::<f32>::zeros(576)).unwrap();
    let o = mindlens(&[
        "generate",
        "hi",
        "--steer",
        p("v.npy").to_str().unwrap(),
        "--steer-layer",
        "30",
    ]);
    assert_clean_error(&o, &["out of range"]);

    // Unknown hook name.
    write(&p("ok.jsonl"), "{\"text\": \"hi\"}\n");
    let o = mindlens(&[
        "cache",
        "--prompts",
        p("ok.jsonl").to_str().unwrap(),
        "--hooks",
        "blocks.1.hook_foo",
        "--out",
        p("c").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["blocks.1.hook_foo"]);

    // Malformed JSONL names the file and the line.
    write(&p("bad.jsonl"), "{\"text\": \"fine\"}\n{\"text\": oops}\n");
    let o = mindlens(&[
        "cache",
        "--prompts",
        p("bad.jsonl").to_str().unwrap(),
        "--hooks",
        "hook_embed",
        "--out",
        p("c2").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["bad.jsonl:2", "malformed JSON"]);
    write(&p("nokey.jsonl"), "{\"prompt\": \"x\"}\n");
    let o = mindlens(&["generate", "--prompts", p("nokey.jsonl").to_str().unwrap()]);
    assert_clean_error(&o, &["nokey.jsonl:1", "\"text\""]);

    // Truncated GGUF: a clear error naming the file.
    let full = mindlens::registry::lookup(SMOL).unwrap().path();
    let bytes = std::fs::read(&full).unwrap();
    for cut in [3usize, 64, 4096, bytes.len() / 2] {
        write_bytes(&p("cut.gguf"), &bytes[..cut]);
        let o = mindlens(&["model", "info", "--model", p("cut.gguf").to_str().unwrap()]);
        assert_clean_error(&o, &["cut.gguf"]);
    }
    // Not a GGUF at all.
    write(&p("junk.gguf"), "this is not a model file at all, not even close");
    let o = mindlens(&["tokenize", "hi", "--model", p("junk.gguf").to_str().unwrap()]);
    assert_clean_error(&o, &["junk.gguf"]);

    // A checkpoint directory without a tokenizer.
    std::fs::create_dir_all(p("ckpt")).unwrap();
    std::fs::copy(common::fixture("tiny/llama/config.json"), p("ckpt/config.json")).unwrap();
    let o = mindlens(&["model", "info", "--model", p("ckpt").to_str().unwrap()]);
    assert_clean_error(&o, &["ckpt", "tokenizer.json"]);

    // Unknown registered model / missing path.
    let o = mindlens(&["model", "info", "--model", "no-such-model"]);
    assert_clean_error(&o, &["no-such-model", "smollm2-135m-instruct"]);

    // A prompt longer than the context window (8,192 tokens) is refused, named, before any
    // forward pass: by `cache`, `generate` and `harvest` alike.
    let long = "word ".repeat(12_000);
    write(
        &p("long.jsonl"),
        &format!("{{\"text\": \"hi\"}}\n{{\"text\": \"{long}\"}}\n"),
    );
    let o = mindlens(&[
        "cache",
        "--prompts",
        p("long.jsonl").to_str().unwrap(),
        "--hooks",
        "hook_embed",
        "--out",
        p("c3").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["line 2", "tokens long", "context window of 8192"]);
    let o = mindlens(&["generate", "--prompts", p("long.jsonl").to_str().unwrap()]);
    assert_clean_error(&o, &["long.jsonl line 2", "context window of 8192"]);
    let o = mindlens(&[
        "harvest",
        "--data",
        p("long.jsonl").to_str().unwrap(),
        "--hooks",
        "blocks.1.hook_resid_post",
        "--out",
        p("h").to_str().unwrap(),
    ]);
    assert_clean_error(&o, &["line 2", "context window of 8192"]);
}

fn write_bytes(path: &Path, b: &[u8]) {
    std::fs::write(path, b).unwrap();
}
