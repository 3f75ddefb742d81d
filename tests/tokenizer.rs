//! Tokenizer parity with transformers' GGUF tokenizer conversion.
//!
//! Fixtures: tests/fixtures/tokenizer/{model}.json, a list of
//! `{"text", "ids", "ids_no_special", "tokens", "decoded",
//! "decoded_skip_special"}` written by scripts/make_tokenizer_fixtures.py with
//! transformers. The models live under
//! models/ (models/fetch.sh); each test skips with a message when its model is
//! absent.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use mindlens::gguf::GgufFile;
use mindlens::tokenizer::Tokenizer;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    ids_no_special: Vec<u32>,
    decoded: String,
    /// Decoded with special tokens skipped (optional).
    #[serde(default, alias = "decoded_skip")]
    decoded_skip_special: Option<String>,
    /// Vocabulary entries of `ids` (optional).
    #[serde(default)]
    tokens: Option<Vec<String>>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(rel: &str) -> Option<Tokenizer> {
    let path = common::model_file(rel)?;
    let file = GgufFile::open(&path).unwrap();
    let t = Instant::now();
    let tok = Tokenizer::from_gguf(&file).unwrap();
    println!("{rel}: tokenizer built in {:.3} s", t.elapsed().as_secs_f64());
    Some(tok)
}

fn cases(model: &str) -> Option<Vec<Case>> {
    let path = root().join("tests/fixtures/tokenizer").join(format!("{model}.json"));
    if !path.exists() {
        eprintln!(
            "skipping: {} not found (run scripts/make_tokenizer_fixtures.py)",
            path.display()
        );
        return None;
    }
    Some(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
}

fn check_parity(model: &str, tok: &Tokenizer) {
    let Some(cases) = cases(model) else { return };
    let mut failures = Vec::new();
    for c in &cases {
        let ids = tok.encode(&c.text, true).unwrap();
        let ids_ns = tok.encode(&c.text, false).unwrap();
        let decoded = tok.decode(&c.ids, false).unwrap();
        if ids != c.ids {
            failures.push(format!("{:?}: ids {ids:?} != {:?}", c.text, c.ids));
        }
        if ids_ns != c.ids_no_special {
            failures.push(format!(
                "{:?}: ids_no_special {ids_ns:?} != {:?}",
                c.text, c.ids_no_special
            ));
        }
        if decoded != c.decoded {
            failures.push(format!("{:?}: decoded {decoded:?} != {:?}", c.text, c.decoded));
        }
        if let Some(expected) = &c.tokens {
            let got: Vec<String> = c.ids.iter().map(|&id| tok.token_str(id).unwrap_or_default()).collect();
            if &got != expected {
                failures.push(format!("{:?}: tokens {got:?} != {expected:?}", c.text));
            }
        }
        if let Some(expected) = &c.decoded_skip_special {
            let got = tok.decode(&c.ids, true).unwrap();
            if &got != expected {
                failures.push(format!("{:?}: decoded (skip special) {got:?} != {expected:?}", c.text));
            }
        }
    }
    println!(
        "{model}: {} of {} cases match",
        cases.len() - failures.len().min(cases.len()),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{model}: {} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn smollm2_matches_transformers() {
    let Some(tok) = load("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    assert_eq!(tok.vocab_size(), 49152);
    assert!(!tok.add_bos);
    let im_start = tok.token_id("<|im_start|>").unwrap();
    let im_end = tok.token_id("<|im_end|>").unwrap();
    assert_eq!(tok.bos_id, Some(im_start));
    assert_eq!(tok.eos_ids.first(), Some(&im_end));
    assert!(tok.is_special(im_end) && !tok.is_special(tok.token_id("Ġthe").unwrap()));
    assert_eq!(tok.encode("<|im_start|>user", false).unwrap()[0], im_start);
    assert!(tok.chat_template.as_deref().unwrap_or("").contains("<|im_start|>"));
    check_parity("smollm2-135m-instruct", &tok);
}

#[test]
fn qwen2_matches_transformers() {
    let Some(tok) = load("qwen2.5-coder-0.5b-instruct/Qwen2.5-Coder-0.5B-Instruct.gguf") else {
        return;
    };
    assert!(!tok.add_bos);
    let im_end = tok.token_id("<|im_end|>").unwrap();
    assert!(tok.eos_ids.contains(&im_end), "eos {:?}", tok.eos_ids);
    assert!(tok.chat_template.as_deref().unwrap_or("").contains("<|im_start|>"));
    // The qwen2 pre-tokenizer splits digits one by one.
    let ids = tok.encode("12345", false).unwrap();
    assert_eq!(ids.len(), 5, "{ids:?}");
    check_parity("qwen2.5-coder-0.5b-instruct", &tok);
}

#[test]
fn gemma3_matches_transformers() {
    let Some(tok) = load("gemma3-270m/gemma-3-270m-q4_k_m.gguf") else {
        return;
    };
    assert_eq!(tok.vocab_size(), 262144);
    assert!(tok.add_bos);
    assert_eq!(tok.bos_id, tok.token_id("<bos>"));
    assert_eq!(tok.eos_ids.first().copied(), tok.token_id("<eos>"));
    let eot = tok.token_id("<end_of_turn>").unwrap();
    assert!(tok.eos_ids.contains(&eot));
    // The GGUF has no template; the built-in Gemma 3 one fills in.
    assert_eq!(tok.chat_template.as_deref(), Some(mindlens::chat::GEMMA3_CHAT_TEMPLATE));
    // Byte tokens are vocabulary entries, not added tokens: the literal text
    // "<0x0A>" must not encode as the newline byte token.
    let byte_nl = tok.token_id("<0x0A>").unwrap();
    assert!(!tok.encode("<0x0A>", false).unwrap().contains(&byte_nl));
    check_parity("gemma3-270m", &tok);
}

#[test]
fn decode_rejects_out_of_range_ids() {
    let Some(tok) = load("smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    assert!(tok.decode(&[1, 49152], false).is_err());
}

/// `from_hf_dir` on the tiny checkpoints written by
/// scripts/make_tiny_checkpoints.py, against the ids transformers produced
/// (their reference.json `tokenizer_samples`).
#[test]
fn hf_dir_matches_transformers() {
    #[derive(Deserialize)]
    struct Sample {
        text: String,
        ids: Vec<u32>,
        ids_no_special: Vec<u32>,
    }
    #[derive(Deserialize)]
    struct Reference {
        tokenizer_samples: Vec<Sample>,
    }
    for (name, adds_bos) in [("gemma3", true), ("llama", false)] {
        let dir = root().join("tests/fixtures/tiny").join(name);
        let reference = dir.join("reference.json");
        if !reference.exists() {
            eprintln!("skipping: {} not found", reference.display());
            continue;
        }
        let r: Reference = serde_json::from_str(&std::fs::read_to_string(&reference).unwrap()).unwrap();
        let tok = Tokenizer::from_hf_dir(&dir).unwrap();
        assert_eq!(tok.add_bos, adds_bos, "{name}");
        for s in &r.tokenizer_samples {
            assert_eq!(tok.encode(&s.text, true).unwrap(), s.ids, "{name}: {:?}", s.text);
            assert_eq!(
                tok.encode(&s.text, false).unwrap(),
                s.ids_no_special,
                "{name}: {:?}",
                s.text
            );
            assert_eq!(tok.decode(&s.ids_no_special, false).unwrap(), s.text, "{name}");
        }
        println!("{name}: {} tiny-checkpoint samples match", r.tokenizer_samples.len());
    }
}
