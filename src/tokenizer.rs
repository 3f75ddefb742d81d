//! Tokenizers built from GGUF metadata or from a Hugging Face `tokenizer.json`.
//!
//! A GGUF file carries its vocabulary as metadata, not as a `tokenizer.json`,
//! so [`Tokenizer::from_gguf`] rebuilds an equivalent `tokenizers` pipeline in
//! memory. The construction mirrors transformers' own GGUF conversion
//! (`transformers/integrations/gguf/gguf_tokenizer_mapping.py`), which is the
//! reference the parity tests compare against:
//!
//! * `gpt2` vocabularies (byte-level BPE, e.g. SmolLM2): vocabulary + merges,
//!   a pre-tokenizer chosen by `tokenizer.ggml.pre`, ByteLevel decoder;
//! * `llama` vocabularies (SentencePiece, e.g. Gemma 3): BPE with byte
//!   fallback whose merges are derived from the vocabulary, because SPM files
//!   store scores instead of merges.
//!
//! Special tokens (BOS/EOS) are added by this wrapper, not by a `tokenizers`
//! post-processor, so the same rule applies whatever the source was.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::Replace;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::sequence::Sequence as PreSequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, DecoderWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::gguf::{GgufError, GgufFile};

/// Errors from building or using a [`Tokenizer`].
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// Reading the GGUF metadata failed (missing or mistyped key).
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// `tokenizer.ggml.model` names a tokenizer family this crate cannot build.
    #[error("{file}: unsupported tokenizer model '{model}' (supported: gpt2, llama)")]
    UnsupportedModel {
        /// GGUF path or label.
        file: String,
        /// The model name found.
        model: String,
    },
    /// `tokenizer.ggml.pre` names a pre-tokenizer this crate does not know.
    #[error(
        "{file}: unsupported pre-tokenizer '{pre}' for a gpt2 (byte-level BPE) vocabulary (supported: {supported})"
    )]
    UnsupportedPreTokenizer {
        /// GGUF path or label.
        file: String,
        /// The pre-tokenizer name found.
        pre: String,
        /// The names that are supported.
        supported: String,
    },
    /// Tokenizer metadata that is inconsistent (lengths, ids, merges).
    #[error("{file}: invalid tokenizer data: {reason}")]
    Invalid {
        /// Path or label.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A Hugging Face directory without `tokenizer.json`.
    #[error("{}: no tokenizer.json in this directory", dir.display())]
    MissingTokenizerJson {
        /// The directory searched.
        dir: PathBuf,
    },
    /// Reading a tokenizer file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A tokenizer file that cannot be parsed.
    #[error("{}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An error reported by the `tokenizers` library.
    #[error("tokenizer error while {context}: {message}")]
    Backend {
        /// What was being done.
        context: &'static str,
        /// The library's message.
        message: String,
    },
    /// A token id outside the vocabulary.
    #[error("token id {id} is out of range for a vocabulary of {vocab_size} tokens")]
    IdOutOfRange {
        /// The id.
        id: u32,
        /// Size of the vocabulary, added tokens included.
        vocab_size: usize,
    },
}

fn backend(context: &'static str) -> impl FnOnce(tokenizers::Error) -> TokenizerError {
    move |e| TokenizerError::Backend {
        context,
        message: e.to_string(),
    }
}

/// SentencePiece token types as stored in `tokenizer.ggml.token_type`.
mod token_type {
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const USER_DEFINED: i32 = 4;
}

/// Texts of tokens that end a turn or a generation in common chat formats
/// (llama.cpp's end-of-generation list), used to fill [`Tokenizer::eos_ids`].
const END_OF_TURN_TOKENS: &[&str] = &[
    "<|im_end|>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|eom_id|>",
    "<|end|>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|return|>",
    "<EOT>",
    "<end_of_utterance>",
];

/// A text tokenizer with the model's special-token conventions.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// Beginning-of-sequence token, if the model has one.
    pub bos_id: Option<u32>,
    /// Tokens that end generation: the EOS token first, then end-of-turn
    /// tokens (`<|im_end|>`, `<end_of_turn>`, `tokenizer.ggml.eot_token_id`, ...).
    pub eos_ids: Vec<u32>,
    /// Whether [`encode`](Self::encode) with `add_special = true` prepends BOS.
    pub add_bos: bool,
    /// Whether [`encode`](Self::encode) with `add_special = true` appends the
    /// first of `eos_ids`.
    pub add_eos: bool,
    /// The model's Jinja chat template: the one it ships, else for GGUF files
    /// the built-in one for its architecture
    /// ([`chat::builtin_template`](crate::chat::builtin_template)), else `None`.
    pub chat_template: Option<String>,
    special: HashSet<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("bos_id", &self.bos_id)
            .field("eos_ids", &self.eos_ids)
            .field("add_bos", &self.add_bos)
            .field("add_eos", &self.add_eos)
            .field("has_chat_template", &self.chat_template.is_some())
            .finish()
    }
}

impl Tokenizer {
    /// Encodes `text`. With `add_special`, applies the model's rule: BOS is
    /// prepended iff [`add_bos`](Self::add_bos) (and EOS appended iff
    /// [`add_eos`](Self::add_eos)). Special-token text such as
    /// `<start_of_turn>` is always recognised as the single special token.
    pub fn encode(&self, text: &str, add_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let enc = self.inner.encode_fast(text, false).map_err(backend("encoding"))?;
        let mut ids = Vec::with_capacity(enc.len() + 2);
        if add_special && self.add_bos {
            ids.extend(self.bos_id);
        }
        ids.extend_from_slice(enc.get_ids());
        if add_special && self.add_eos {
            ids.extend(self.eos_ids.first());
        }
        Ok(ids)
    }

    /// Decodes `ids` to text, dropping special tokens if `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        let vocab_size = self.vocab_size();
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(TokenizerError::IdOutOfRange { id, vocab_size });
        }
        self.inner.decode(ids, skip_special).map_err(backend("decoding"))
    }

    /// The vocabulary entry for `id` (e.g. `"Ġthe"`, `"▁the"`, `"<0x0A>"`).
    pub fn token_str(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of vocabulary entry `token`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Number of token ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Whether `id` is a special (control) token, skipped by
    /// `decode(.., skip_special = true)`.
    pub fn is_special(&self, id: u32) -> bool {
        self.special.contains(&id)
    }

    /// The underlying `tokenizers` pipeline (without BOS/EOS handling).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    fn finish(
        inner: tokenizers::Tokenizer,
        bos_id: Option<u32>,
        eos_ids: Vec<u32>,
        add_bos: bool,
        add_eos: bool,
        chat_template: Option<String>,
    ) -> Tokenizer {
        let special = inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        let mut seen = HashSet::new();
        let eos_ids = eos_ids.into_iter().filter(|id| seen.insert(*id)).collect();
        Tokenizer {
            inner,
            bos_id,
            eos_ids,
            add_bos: add_bos && bos_id.is_some(),
            add_eos,
            chat_template,
            special,
        }
    }

    /// Builds the tokenizer described by a GGUF file's `tokenizer.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer, TokenizerError> {
        let label = file.label().to_string();
        let invalid = |reason: String| TokenizerError::Invalid {
            file: label.clone(),
            reason,
        };
        let model = file.get_str("tokenizer.ggml.model")?;
        let tokens = file.get_str_array("tokenizer.ggml.tokens")?;
        let n = tokens.len();
        let types = match file.get_opt_i32_array("tokenizer.ggml.token_type")? {
            Some(t) if t.len() != n => {
                return Err(invalid(format!("{} token types for {n} tokens", t.len())));
            }
            Some(t) => t,
            None => vec![1; n],
        };
        let token_id = |key: &str| -> Result<Option<u32>, TokenizerError> {
            match file.get_opt_u32(key)? {
                Some(id) if id as usize >= n => Err(invalid(format!("{key} = {id} but the vocabulary has {n} tokens"))),
                other => Ok(other),
            }
        };
        let bos_id = token_id("tokenizer.ggml.bos_token_id")?;
        let eos_id = token_id("tokenizer.ggml.eos_token_id")?;
        let eot_id = token_id("tokenizer.ggml.eot_token_id")?;
        let eom_id = token_id("tokenizer.ggml.eom_token_id")?;
        let unk_id = token_id("tokenizer.ggml.unknown_token_id")?;
        let arch = file.get_opt_str("general.architecture")?.unwrap_or("");

        let (inner, default_add_bos) = match model {
            "gpt2" => {
                let pre = file.get_opt_str("tokenizer.ggml.pre")?.unwrap_or("default");
                let merges = file
                    .get_opt_str_array("tokenizer.ggml.merges")?
                    .ok_or_else(|| invalid("gpt2 vocabulary without tokenizer.ggml.merges".into()))?;
                (build_byte_level(&label, &tokens, &types, &merges, pre)?, false)
            }
            "llama" => {
                let gemma = matches!(arch, "gemma" | "gemma2" | "gemma3");
                let scores = if gemma {
                    None
                } else {
                    let s = file.get_opt_f32_array("tokenizer.ggml.scores")?;
                    match s {
                        Some(s) if s.len() != n => {
                            return Err(invalid(format!("{} scores for {n} tokens", s.len())));
                        }
                        other => other,
                    }
                };
                let add_space_prefix = file.get_opt_bool("tokenizer.ggml.add_space_prefix")?.unwrap_or(true);
                let unk = unk_id.map(|id| tokens[id as usize]);
                let spm = SpmConfig {
                    gemma,
                    scores: scores.as_deref(),
                    unk_token: unk,
                    add_space_prefix,
                };
                (build_spm(&label, &tokens, &types, &spm)?, true)
            }
            other => {
                return Err(TokenizerError::UnsupportedModel {
                    file: label,
                    model: other.to_string(),
                })
            }
        };
        let add_bos = file
            .get_opt_bool("tokenizer.ggml.add_bos_token")?
            .unwrap_or(default_add_bos);
        let add_eos = file.get_opt_bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false) && eos_id.is_some();
        let chat_template = match file.get_opt_str("tokenizer.chat_template")? {
            Some(t) => Some(t.to_string()),
            None => crate::chat::builtin_template(arch).map(str::to_string),
        };

        let mut eos_ids: Vec<u32> = [eos_id, eot_id, eom_id].into_iter().flatten().collect();
        eos_ids.extend(
            tokens
                .iter()
                .zip(&types)
                .enumerate()
                .filter(|(_, (t, &ty))| ty == token_type::CONTROL && END_OF_TURN_TOKENS.contains(t))
                .map(|(i, _)| i as u32),
        );
        Ok(Self::finish(inner, bos_id, eos_ids, add_bos, add_eos, chat_template))
    }

    /// Loads a Hugging Face tokenizer directory: `tokenizer.json`, plus
    /// `tokenizer_config.json` (BOS/EOS, `add_bos_token`, chat template),
    /// `chat_template.jinja` and `generation_config.json` (extra EOS ids) when
    /// present.
    pub fn from_hf_dir(dir: &Path) -> Result<Tokenizer, TokenizerError> {
        let json_path = dir.join("tokenizer.json");
        if !json_path.is_file() {
            return Err(TokenizerError::MissingTokenizerJson { dir: dir.to_path_buf() });
        }
        let mut inner = tokenizers::Tokenizer::from_file(&json_path).map_err(|e| TokenizerError::BadFile {
            path: json_path.clone(),
            reason: e.to_string(),
        })?;
        let config = read_json_opt(&dir.join("tokenizer_config.json"))?;
        let generation = read_json_opt(&dir.join("generation_config.json"))?;
        let cfg = |key: &str| config.as_ref().and_then(|c| c.get(key));

        let token_of = |v: Option<&serde_json::Value>| -> Option<u32> {
            let text = match v? {
                serde_json::Value::String(s) => s.as_str(),
                obj => obj.get("content")?.as_str()?,
            };
            inner.token_to_id(text)
        };
        let bos_id = token_of(cfg("bos_token"));
        let eos_id = token_of(cfg("eos_token"));

        // What the post-processor adds tells whether BOS/EOS are wanted when
        // the config does not say; afterwards it is removed so that this
        // wrapper alone applies the rule.
        let probe = |add: bool| {
            inner
                .encode_fast("a", add)
                .map(|e| e.get_ids().to_vec())
                .map_err(backend("probing the post-processor"))
        };
        let (with, without) = (probe(true)?, probe(false)?);
        let detected_bos = bos_id.is_some() && with.first() == bos_id.as_ref() && without.first() != bos_id.as_ref();
        let detected_eos = eos_id.is_some() && with.last() == eos_id.as_ref() && without.last() != eos_id.as_ref();
        let add_bos = cfg("add_bos_token").and_then(|v| v.as_bool()).unwrap_or(detected_bos);
        let add_eos = cfg("add_eos_token").and_then(|v| v.as_bool()).unwrap_or(detected_eos);
        inner.with_post_processor(None::<tokenizers::PostProcessorWrapper>);

        let jinja_path = dir.join("chat_template.jinja");
        let chat_template = if jinja_path.is_file() {
            Some(
                std::fs::read_to_string(&jinja_path).map_err(|source| TokenizerError::Io {
                    path: jinja_path.clone(),
                    source,
                })?,
            )
        } else {
            match cfg("chat_template") {
                Some(serde_json::Value::String(s)) => Some(s.clone()),
                // A list of named templates: take "default", else the first.
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
                    .or_else(|| list.first())
                    .and_then(|t| t.get("template"))
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                _ => None,
            }
        };

        let mut eos_ids: Vec<u32> = eos_id.into_iter().collect();
        match generation.as_ref().and_then(|g| g.get("eos_token_id")) {
            Some(serde_json::Value::Array(ids)) => eos_ids.extend(
                ids.iter()
                    .filter_map(|v| v.as_u64())
                    .filter_map(|v| u32::try_from(v).ok()),
            ),
            Some(v) => eos_ids.extend(v.as_u64().and_then(|v| u32::try_from(v).ok())),
            None => {}
        }
        let special: Vec<(u32, String)> = inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect();
        let mut eot: Vec<u32> = special
            .iter()
            .filter(|(_, content)| END_OF_TURN_TOKENS.contains(&content.as_str()))
            .map(|(id, _)| *id)
            .collect();
        eot.sort_unstable();
        eos_ids.extend(eot);
        let vocab_size = inner.get_vocab_size(true);
        eos_ids.retain(|&id| (id as usize) < vocab_size);
        Ok(Self::finish(inner, bos_id, eos_ids, add_bos, add_eos, chat_template))
    }
}

fn read_json_opt(path: &Path) -> Result<Option<serde_json::Value>, TokenizerError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TokenizerError::BadFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// GPT-2's byte → printable-character table (`bytes_to_unicode`): printable
/// Latin-1 bytes map to themselves, the rest to U+0100 onwards in byte order.
fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 0x100u32;
    for (b, slot) in table.iter_mut().enumerate() {
        let b = b as u32;
        let printable = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let c = if printable {
            b
        } else {
            next += 1;
            next - 1
        };
        // Every value is below 0x200, so always a valid char.
        *slot = char::from_u32(c).unwrap_or('\0');
    }
    table
}

/// Re-spells `token`'s UTF-8 bytes in the byte-level alphabet.
fn to_byte_level(table: &[char; 256], token: &str) -> String {
    token.bytes().map(|b| table[b as usize]).collect()
}

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT4O_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);
const TEKKEN_SPLIT: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*",
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
);

/// How a `tokenizer.ggml.pre` value splits text before byte-level BPE.
enum PreSplit {
    /// GPT-2's regex (ByteLevel's built-in).
    Gpt2,
    /// Each digit on its own, then GPT-2's regex (llama.cpp's `smollm`,
    /// `starcoder`, `refact`, ... and SmolLM2's own tokenizer.json).
    DigitsThenGpt2,
    /// A custom regex, then byte-level mapping without GPT-2's regex.
    Regex(&'static str),
}

/// Known `tokenizer.ggml.pre` values, after llama.cpp's `llama-vocab.cpp`
/// and transformers' `GGUF_PRE_TOKENIZER_SPLITS`.
const PRE_TOKENIZERS: &[(&str, PreSplit)] = &[
    ("default", PreSplit::Gpt2),
    ("gpt2", PreSplit::Gpt2),
    ("gpt-2", PreSplit::Gpt2),
    ("phi-2", PreSplit::Gpt2),
    ("jais", PreSplit::Gpt2),
    ("smollm", PreSplit::DigitsThenGpt2),
    ("starcoder", PreSplit::DigitsThenGpt2),
    ("refact", PreSplit::DigitsThenGpt2),
    ("command-r", PreSplit::DigitsThenGpt2),
    ("codeshell", PreSplit::DigitsThenGpt2),
    ("exaone", PreSplit::DigitsThenGpt2),
    ("minerva-7b", PreSplit::DigitsThenGpt2),
    ("llama3", PreSplit::Regex(LLAMA3_SPLIT)),
    ("llama-v3", PreSplit::Regex(LLAMA3_SPLIT)),
    ("llama-bpe", PreSplit::Regex(LLAMA3_SPLIT)),
    ("falcon3", PreSplit::Regex(LLAMA3_SPLIT)),
    ("falcon-h1", PreSplit::Regex(LLAMA3_SPLIT)),
    ("pixtral", PreSplit::Regex(LLAMA3_SPLIT)),
    ("midm-2.0", PreSplit::Regex(LLAMA3_SPLIT)),
    ("lfm2", PreSplit::Regex(LLAMA3_SPLIT)),
    ("dbrx", PreSplit::Regex(LLAMA3_SPLIT)),
    ("smaug-bpe", PreSplit::Regex(LLAMA3_SPLIT)),
    ("qwen2", PreSplit::Regex(QWEN2_SPLIT)),
    ("deepseek-r1-qwen", PreSplit::Regex(QWEN2_SPLIT)),
    ("megrez", PreSplit::Regex(QWEN2_SPLIT)),
    ("qwen35", PreSplit::Regex(QWEN35_SPLIT)),
    ("gpt-4o", PreSplit::Regex(GPT4O_SPLIT)),
    ("llama4", PreSplit::Regex(GPT4O_SPLIT)),
    ("tekken", PreSplit::Regex(TEKKEN_SPLIT)),
];

fn pre_tokenizer_for(label: &str, pre: &str) -> Result<PreTokenizerWrapper, TokenizerError> {
    let Some((_, split)) = PRE_TOKENIZERS.iter().find(|(name, _)| *name == pre) else {
        return Err(TokenizerError::UnsupportedPreTokenizer {
            file: label.to_string(),
            pre: pre.to_string(),
            supported: PRE_TOKENIZERS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        });
    };
    Ok(match split {
        PreSplit::Gpt2 => ByteLevel::new(false, true, true).into(),
        PreSplit::DigitsThenGpt2 => {
            PreSequence::new(vec![Digits::new(true).into(), ByteLevel::new(false, true, true).into()]).into()
        }
        PreSplit::Regex(re) => {
            let split = Split::new(
                SplitPattern::Regex((*re).to_string()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(backend("compiling the pre-tokenizer regex"))?;
            PreSequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()]).into()
        }
    })
}

/// Byte-level BPE from vocabulary + merges (transformers' `byte_level_tokenizer`).
fn build_byte_level(
    label: &str,
    tokens: &[&str],
    types: &[i32],
    merges: &[&str],
    pre: &str,
) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let pre_tokenizer = pre_tokenizer_for(label, pre)?;
    let table = bytes_to_unicode();
    let alphabet: HashSet<char> = table.iter().copied().collect();
    let mut vocab = Vocab::with_capacity(tokens.len());
    for (id, (&tok, &ty)) in tokens.iter().zip(types).enumerate() {
        // Control and user-defined tokens are matched on raw text as added
        // tokens, so they keep their spelling; anything else the merges must
        // be able to reach, hence byte-level spelling.
        let spelled = if ty == token_type::CONTROL
            || ty == token_type::USER_DEFINED
            || tok.chars().all(|c| alphabet.contains(&c))
        {
            tok.to_string()
        } else {
            to_byte_level(&table, tok)
        };
        vocab.insert(spelled, id as u32);
    }
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| TokenizerError::Invalid {
                    file: label.to_string(),
                    reason: format!("merge {m:?} is not two space-separated tokens"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = build_bpe(BPE::builder(), vocab, merges, label)?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    tok.with_pre_tokenizer(Some(pre_tokenizer));
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    add_gguf_added_tokens(&mut tok, tokens, types)?;
    Ok(tok)
}

/// Options for [`build_spm`].
struct SpmConfig<'a> {
    /// Gemma vocabularies: respell whitespace tokens, order merges by position.
    gemma: bool,
    /// Per-token scores ordering the derived merges (non-Gemma only).
    scores: Option<&'a [f32]>,
    unk_token: Option<&'a str>,
    add_space_prefix: bool,
}

/// SentencePiece vocabulary as BPE with byte fallback (transformers'
/// `sentencepiece_tokenizer` / `gemma_tokenizer`).
fn build_spm(
    label: &str,
    tokens: &[&str],
    types: &[i32],
    cfg: &SpmConfig<'_>,
) -> Result<tokenizers::Tokenizer, TokenizerError> {
    // Gemma stores runs of spaces as real spaces, but its normalizer turns
    // spaces into '▁' before BPE, so those tokens are only reachable under
    // the '▁' spelling.
    let spelled: Vec<std::borrow::Cow<'_, str>> = tokens
        .iter()
        .map(|&t| {
            if cfg.gemma && t.contains(' ') && t.trim().is_empty() {
                "\u{2581}".repeat(t.chars().count()).into()
            } else {
                t.into()
            }
        })
        .collect();
    let mut vocab = Vocab::with_capacity(tokens.len());
    for (id, t) in spelled.iter().enumerate() {
        vocab.insert(t.to_string(), id as u32);
    }
    let merges = derive_merges(&spelled, &vocab, if cfg.gemma { None } else { cfg.scores });

    let mut builder = BPE::builder().byte_fallback(true).fuse_unk(true);
    if let Some(unk) = cfg.unk_token.filter(|u| vocab.contains_key(*u)) {
        builder = builder.unk_token(unk.to_string());
    }
    let bpe = build_bpe(builder, vocab, merges, label)?;
    let mut tok = tokenizers::Tokenizer::new(bpe);
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new("\u{2581}", " ")
            .map_err(backend("building the decoder"))?
            .into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
    ];
    if cfg.add_space_prefix {
        // As transformers' LlamaTokenizer: Metaspace replaces spaces and adds
        // the prefix to the first piece of text only.
        tok.with_pre_tokenizer(Some(Metaspace::new('\u{2581}', PrependScheme::First, false)));
        decoders.push(Strip::new(' ', 1, 0).into());
    } else {
        tok.with_normalizer(Some(
            Replace::new(" ", "\u{2581}").map_err(backend("building the normalizer"))?,
        ))
        .map_err(backend("setting the normalizer"))?;
    }
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    add_gguf_added_tokens(&mut tok, tokens, types)?;
    Ok(tok)
}

/// Tokens longer than this (in chars) get no derived merges.
const MAX_MERGE_TOKEN_CHARS: usize = 1024;

/// Merges implied by a vocabulary (transformers' `generate_merges`): every
/// split of a token into two in-vocabulary halves, ordered by the token's
/// score (higher first; by position when `scores` is `None`), then longer
/// left half, then longer right half, then token position.
fn derive_merges(tokens: &[std::borrow::Cow<'_, str>], vocab: &Vocab, scores: Option<&[f32]>) -> Vec<(String, String)> {
    // (token index, left length in chars, right length, left, right)
    let mut found: Vec<(u32, u32, u32, usize)> = Vec::with_capacity(tokens.len() * 2);
    let mut pieces: Vec<(&str, &str)> = Vec::with_capacity(tokens.len() * 2);
    for (i, t) in tokens.iter().enumerate() {
        // Only the last spelling of a duplicated token is in the vocabulary;
        // transformers iterates a dict, which also sees each spelling once.
        if vocab.get(t.as_ref()) != Some(&(i as u32)) {
            continue;
        }
        let n_chars = t.chars().count();
        // Splitting costs O(length²); real vocabularies stay far below this
        // bound, so it only stops a crafted file from stalling the build.
        if n_chars > MAX_MERGE_TOKEN_CHARS {
            continue;
        }
        let n_chars = n_chars as u32;
        // Longest left half first, the order transformers' tie-break produces.
        for (k, (b, _)) in t
            .char_indices()
            .rev()
            .take(n_chars.saturating_sub(1) as usize)
            .enumerate()
        {
            let (l, r) = t.split_at(b);
            if vocab.contains_key(l) && vocab.contains_key(r) {
                let l_chars = n_chars - 1 - k as u32;
                found.push((i as u32, l_chars, n_chars - l_chars, pieces.len()));
                pieces.push((l, r));
            }
        }
    }
    if let Some(scores) = scores {
        // Stable sort: score descending, then longer left, then longer right;
        // ties keep vocabulary order, as Python's stable sort does. Within one
        // token, transformers sorts splits by (id(left), id(right)) before the
        // global sort, which only matters for equal lengths, i.e. never.
        found.sort_by(|a, b| {
            let (sa, sb) = (scores[a.0 as usize], scores[b.0 as usize]);
            sb.total_cmp(&sa).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2))
        });
    }
    found
        .into_iter()
        .map(|(_, _, _, p)| (pieces[p].0.to_string(), pieces[p].1.to_string()))
        .collect()
}

/// Adds CONTROL (and UNKNOWN) tokens as special tokens and USER_DEFINED tokens
/// as plain added tokens, so that both are matched whole in raw text before
/// BPE. Byte tokens stay ordinary vocabulary entries: adding them would make
/// the literal text `<0x0A>` encode as a newline.
fn add_gguf_added_tokens(
    tok: &mut tokenizers::Tokenizer,
    tokens: &[&str],
    types: &[i32],
) -> Result<(), TokenizerError> {
    let special: Vec<AddedToken> = tokens
        .iter()
        .zip(types)
        .filter(|(_, &ty)| ty == token_type::CONTROL || ty == token_type::UNKNOWN)
        .map(|(t, _)| AddedToken::from(*t, true).normalized(false))
        .collect();
    tok.add_special_tokens(special)
        .map_err(backend("adding special tokens"))?;
    // A user-defined token that is not in the model vocabulary under its own
    // spelling (Gemma's space runs, respelled with '▁') would get a new id;
    // transformers skips those and so do we.
    let user: Vec<AddedToken> = tokens
        .iter()
        .zip(types)
        .filter(|(t, &ty)| ty == token_type::USER_DEFINED && tok.token_to_id(t).is_some())
        .map(|(t, _)| AddedToken::from(*t, false).normalized(false))
        .collect();
    tok.add_tokens(user).map_err(backend("adding user-defined tokens"))?;
    Ok(())
}

/// Builds a BPE model from a vocabulary and merges, naming the file on failure.
fn build_bpe(
    builder: tokenizers::models::bpe::BpeBuilder,
    vocab: Vocab,
    merges: Vec<(String, String)>,
    label: &str,
) -> Result<BPE, TokenizerError> {
    builder
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| TokenizerError::Invalid {
            file: label.to_string(),
            reason: format!("cannot build BPE: {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_matches_gpt2() {
        let table = bytes_to_unicode();
        let a: HashSet<char> = table.iter().copied().collect();
        assert_eq!(a.len(), 256);
        assert!(a.contains(&'Ġ') && a.contains(&'Ċ') && a.contains(&'!'));
        assert_eq!(to_byte_level(&table, " \n"), "ĠĊ");
        assert_eq!(to_byte_level(&table, "é"), "Ã©");
    }

    #[test]
    fn merges_by_position_and_length() {
        let toks: Vec<std::borrow::Cow<'_, str>> =
            ["a", "b", "c", "ab", "abc", "bc"].iter().map(|&s| s.into()).collect();
        let mut vocab = Vocab::new();
        for (i, t) in toks.iter().enumerate() {
            vocab.insert(t.to_string(), i as u32);
        }
        let m = derive_merges(&toks, &vocab, None);
        let m: Vec<(&str, &str)> = m.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(m, vec![("a", "b"), ("ab", "c"), ("a", "bc"), ("b", "c")]);
        // By score: "bc" best.
        let scores = [0.0, 0.0, 0.0, -2.0, -3.0, -1.0];
        let m = derive_merges(&toks, &vocab, Some(&scores));
        assert_eq!(m[0], ("b".to_string(), "c".to_string()));
        assert_eq!(m[1], ("a".to_string(), "b".to_string()));
    }

    #[test]
    fn unknown_pre_tokenizer_is_an_error() {
        let e = pre_tokenizer_for("x.gguf", "made-up").unwrap_err().to_string();
        assert!(e.contains("made-up") && e.contains("smollm"), "{e}");
        for (name, _) in PRE_TOKENIZERS {
            pre_tokenizer_for("x.gguf", name).unwrap();
        }
    }

    /// A minimal GGUF image holding only `kv` (key, type id, encoded value).
    fn gguf(kv: &[(&str, u32, Vec<u8>)]) -> GgufFile {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(kv.len() as u64).to_le_bytes());
        for (k, ty, v) in kv {
            out.extend_from_slice(&(k.len() as u64).to_le_bytes());
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(v);
        }
        GgufFile::from_bytes(out, "tok.gguf").unwrap()
    }

    fn string(s: &str) -> Vec<u8> {
        let mut v = (s.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    }

    fn str_array(items: &[&str]) -> Vec<u8> {
        let mut v = 8u32.to_le_bytes().to_vec();
        v.extend_from_slice(&(items.len() as u64).to_le_bytes());
        for s in items {
            v.extend(string(s));
        }
        v
    }

    fn i32_array(items: &[i32]) -> Vec<u8> {
        let mut v = 5u32.to_le_bytes().to_vec();
        v.extend_from_slice(&(items.len() as u64).to_le_bytes());
        for i in items {
            v.extend_from_slice(&i.to_le_bytes());
        }
        v
    }

    /// A SentencePiece vocabulary: control tokens, a user-defined one, all
    /// 256 byte tokens, then normal pieces.
    fn spm_kv(arch: &str) -> Vec<(&'static str, u32, Vec<u8>)> {
        let mut toks: Vec<String> = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "\n\n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut types = vec![3, 3, 3, 3, 3, 4];
        for b in 0..=255u8 {
            toks.push(format!("<0x{b:02X}>"));
            types.push(6);
        }
        for t in ["\u{2581}", "h", "i", "hi", "\u{2581}hi"] {
            toks.push(t.to_string());
            types.push(1);
        }
        let toks: Vec<&str> = toks.iter().map(|s| s.as_str()).collect();
        vec![
            ("general.architecture", 8, string(arch)),
            ("tokenizer.ggml.model", 8, string("llama")),
            ("tokenizer.ggml.tokens", 9, str_array(&toks)),
            ("tokenizer.ggml.token_type", 9, i32_array(&types)),
            ("tokenizer.ggml.bos_token_id", 4, 2u32.to_le_bytes().to_vec()),
            ("tokenizer.ggml.eos_token_id", 4, 1u32.to_le_bytes().to_vec()),
            ("tokenizer.ggml.unknown_token_id", 4, 3u32.to_le_bytes().to_vec()),
            ("tokenizer.ggml.add_space_prefix", 7, vec![0]),
        ]
    }

    #[test]
    fn spm_from_gguf() {
        let tok = Tokenizer::from_gguf(&gguf(&spm_kv("gemma3"))).unwrap();
        let id = |t: &str| tok.token_id(t).unwrap();
        // Default BOS rule for SentencePiece vocabularies.
        assert!(tok.add_bos);
        assert_eq!(
            tok.encode("hi hi\n\nx", true).unwrap(),
            vec![2, id("hi"), id("\u{2581}hi"), id("\n\n"), id("<0x78>")]
        );
        assert_eq!(tok.encode("<start_of_turn>hi", false).unwrap(), vec![4, id("hi")]);
        // "<0x0A>" typed as text is not the newline byte token.
        assert!(!tok.encode("<0x0A>", false).unwrap().contains(&id("<0x0A>")));
        let ids = tok.encode("hi hi\n\nx", true).unwrap();
        assert_eq!(tok.decode(&ids, false).unwrap(), "<bos>hi hi\n\nx");
        assert_eq!(tok.decode(&ids, true).unwrap(), "hi hi\n\nx");
        assert!(tok.is_special(2) && !tok.is_special(id("hi")));
        assert_eq!(tok.chat_template.as_deref(), Some(crate::chat::GEMMA3_CHAT_TEMPLATE));
    }

    #[test]
    fn spm_with_space_prefix() {
        let mut kv = spm_kv("llama");
        kv.retain(|(k, _, _)| *k != "tokenizer.ggml.add_space_prefix");
        let tok = Tokenizer::from_gguf(&gguf(&kv)).unwrap();
        let ids = tok.encode("hi", false).unwrap();
        assert_eq!(ids, vec![tok.token_id("\u{2581}hi").unwrap()]);
        assert_eq!(tok.decode(&ids, false).unwrap(), "hi");
        assert!(tok.chat_template.is_none());
    }

    #[test]
    fn gguf_errors() {
        let mut kv = spm_kv("gemma3");
        kv[1] = ("tokenizer.ggml.model", 8, string("bert"));
        let e = Tokenizer::from_gguf(&gguf(&kv)).unwrap_err().to_string();
        assert!(
            e.contains("unsupported tokenizer model 'bert'") && e.contains("tok.gguf"),
            "{e}"
        );

        let mut kv = spm_kv("gemma3");
        kv[3] = ("tokenizer.ggml.token_type", 9, i32_array(&[1, 1]));
        let e = Tokenizer::from_gguf(&gguf(&kv)).unwrap_err().to_string();
        assert!(e.contains("2 token types"), "{e}");

        let mut kv = spm_kv("gemma3");
        kv[4] = ("tokenizer.ggml.bos_token_id", 4, 99_999u32.to_le_bytes().to_vec());
        let e = Tokenizer::from_gguf(&gguf(&kv)).unwrap_err().to_string();
        assert!(e.contains("bos_token_id = 99999"), "{e}");

        let kv = [
            ("tokenizer.ggml.model", 8, string("gpt2")),
            ("tokenizer.ggml.tokens", 9, str_array(&["a"])),
        ];
        let e = Tokenizer::from_gguf(&gguf(&kv)).unwrap_err().to_string();
        assert!(e.contains("without tokenizer.ggml.merges"), "{e}");

        let e = Tokenizer::from_gguf(&gguf(&[])).unwrap_err().to_string();
        assert!(e.contains("missing metadata key 'tokenizer.ggml.model'"), "{e}");
    }

    #[test]
    fn gpt2_from_gguf() {
        let toks = [
            "<|endoftext|>",
            "<|im_end|>",
            "h",
            "i",
            "hi",
            "\u{120}",
            "\u{120}hi",
            "1",
            "2",
        ];
        let kv = [
            ("tokenizer.ggml.model", 8, string("gpt2")),
            ("tokenizer.ggml.pre", 8, string("smollm")),
            ("tokenizer.ggml.tokens", 9, str_array(&toks)),
            ("tokenizer.ggml.token_type", 9, i32_array(&[3, 3, 1, 1, 1, 1, 1, 1, 1])),
            ("tokenizer.ggml.merges", 9, str_array(&["h i", "\u{120} hi"])),
            ("tokenizer.ggml.eos_token_id", 4, 0u32.to_le_bytes().to_vec()),
        ];
        let tok = Tokenizer::from_gguf(&gguf(&kv)).unwrap();
        assert!(!tok.add_bos);
        assert_eq!(tok.eos_ids, vec![0, 1]);
        assert_eq!(tok.encode("hi hi12<|im_end|>", true).unwrap(), vec![4, 6, 7, 8, 1]);
        assert_eq!(tok.decode(&[4, 6, 7, 8, 1], true).unwrap(), "hi hi12");
    }

    #[test]
    fn missing_tokenizer_json() {
        let dir = tempfile::tempdir().unwrap();
        let e = Tokenizer::from_hf_dir(dir.path()).unwrap_err();
        assert!(matches!(e, TokenizerError::MissingTokenizerJson { .. }));
        assert!(e.to_string().contains(&dir.path().display().to_string()));
    }
}
