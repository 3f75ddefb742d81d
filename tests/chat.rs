//! Chat-template parity with transformers' `apply_chat_template`.
//!
//! Fixtures: tests/fixtures/tokenizer/{model}.chat.json, a list of
//! `{"name", "messages", "add_generation_prompt", "rendered", "ids"}` written with
//! transformers from the GGUF's own template (SmolLM2) or Gemma 3's published
//! one (tests/fixtures/reference/gemma3-chat-template.jinja), which
//! `mindlens::chat::GEMMA3_CHAT_TEMPLATE` must reproduce.

mod common;

use std::path::PathBuf;

use mindlens::chat::{render_chat, ChatMessage, GEMMA3_CHAT_TEMPLATE};
use mindlens::gguf::GgufFile;
use mindlens::tokenizer::Tokenizer;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    messages: Vec<ChatMessage>,
    add_generation_prompt: bool,
    rendered: String,
    /// Ids of `rendered` without added BOS (optional).
    #[serde(default)]
    ids: Option<Vec<u32>>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases(model: &str) -> Option<Vec<Case>> {
    let path = root()
        .join("tests/fixtures/tokenizer")
        .join(format!("{model}.chat.json"));
    if !path.exists() {
        eprintln!("skipping: {} not found", path.display());
        return None;
    }
    Some(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
}

fn tokenizer(rel: &str) -> Option<Tokenizer> {
    let path = common::model_file(rel)?;
    Some(Tokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap())
}

/// Renders every case with `template` and the tokenizer's BOS/EOS texts, and
/// tokenizes the result.
fn check(model: &str, tok: &Tokenizer, template: &str, bos: &str, eos: &str) {
    let Some(cases) = cases(model) else { return };
    let mut bad = Vec::new();
    let mut n_ids = 0;
    for c in &cases {
        let got = render_chat(template, &c.messages, c.add_generation_prompt, bos, eos).unwrap();
        if got != c.rendered {
            bad.push(format!(
                "{:?}\n  got      {got:?}\n  expected {:?}",
                c.messages, c.rendered
            ));
        }
        if let Some(expected) = &c.ids {
            n_ids += 1;
            let ids = tok.encode(&c.rendered, false).unwrap();
            if &ids != expected {
                bad.push(format!("{:?}: ids {ids:?} != {expected:?}", c.rendered));
            }
        }
    }
    println!(
        "{model}: {} chat cases ({n_ids} with ids), {} mismatches",
        cases.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "{model}:\n{}", bad.join("\n"));
}

fn special_texts(tok: &Tokenizer) -> (String, String) {
    let bos = tok.bos_id.and_then(|id| tok.token_str(id)).unwrap_or_default();
    let eos = tok
        .eos_ids
        .first()
        .and_then(|&id| tok.token_str(id))
        .unwrap_or_default();
    (bos, eos)
}

#[test]
fn smollm2_chat_matches_transformers() {
    let Some(tok) = tokenizer("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let template = tok.chat_template.clone().expect("SmolLM2 GGUF ships a chat template");
    let (bos, eos) = special_texts(&tok);
    check("smollm2-135m-instruct", &tok, &template, &bos, &eos);
}

#[test]
fn qwen2_chat_matches_transformers() {
    let Some(tok) = tokenizer("qwen2.5-coder-0.5b-instruct/Qwen2.5-Coder-0.5B-Instruct.gguf") else {
        return;
    };
    let template = tok
        .chat_template
        .clone()
        .expect("the Qwen GGUF ships a ChatML template");
    let (bos, eos) = special_texts(&tok);
    check("qwen2.5-coder-0.5b-instruct", &tok, &template, &bos, &eos);
}

#[test]
fn gemma3_chat_matches_transformers() {
    let Some(tok) = tokenizer("gemma3-270m/gemma-3-270m-q4_k_m.gguf") else {
        return;
    };
    assert_eq!(tok.chat_template.as_deref(), Some(GEMMA3_CHAT_TEMPLATE));
    let (bos, eos) = special_texts(&tok);
    assert_eq!((bos.as_str(), eos.as_str()), ("<bos>", "<eos>"));
    check("gemma3-270m", &tok, GEMMA3_CHAT_TEMPLATE, &bos, &eos);
}

#[test]
fn gemma3_constant_renders_like_reference_template() {
    let path = root().join("tests/fixtures/reference/gemma3-chat-template.jinja");
    let Ok(reference) = std::fs::read_to_string(&path) else {
        eprintln!("skipping: {} not found", path.display());
        return;
    };
    let convs: Vec<Vec<ChatMessage>> = vec![
        vec![ChatMessage::user("Hi")],
        vec![
            ChatMessage::system("S"),
            ChatMessage::user(" u "),
            ChatMessage::assistant("a"),
            ChatMessage::user("v"),
        ],
        vec![ChatMessage::user("x\n\ny"), ChatMessage::assistant("")],
    ];
    for msgs in &convs {
        for agp in [true, false] {
            let want = render_chat(&reference, msgs, agp, "<bos>", "<eos>").unwrap();
            let got = render_chat(GEMMA3_CHAT_TEMPLATE, msgs, agp, "<bos>", "<eos>").unwrap();
            assert_eq!(got, want, "{msgs:?}");
        }
    }
}
