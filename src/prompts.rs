//! Prompt files: JSONL rows holding `text`, chat `messages` or raw `tokens`, plus any other
//! fields (labels, groups, pair ids) that later stages carry along untouched.

use std::path::Path;

use burn::tensor::backend::Backend;
use serde_json::{Map, Value};

use crate::chat::{render_chat, ChatMessage};
use crate::error::{Error, Result};
use crate::model::Model;

/// What a prompt row asks the model to read.
#[derive(Clone, Debug, PartialEq)]
pub enum PromptInput {
    /// Plain text, tokenized with the model's default special-token rule (BOS where the
    /// model's metadata asks for it).
    Text(String),
    /// A conversation, rendered with the model's chat template and the generation prompt.
    Messages(Vec<ChatMessage>),
    /// Token ids used as given.
    Tokens(Vec<u32>),
    /// Text that already carries its special tokens (e.g. a rendered chat with a prefilled
    /// answer), tokenized without adding any.
    Raw(String),
}

/// One line of a prompt file.
#[derive(Clone, Debug)]
pub struct PromptRow {
    /// 1-based line number in the file (for error messages).
    pub line: usize,
    /// The prompt.
    pub input: PromptInput,
    /// Every other field of the line, in file order.
    pub fields: Map<String, Value>,
}

impl PromptRow {
    /// Parses one JSON object; `what` names the source in errors (e.g. `data.jsonl:7`).
    pub fn parse(v: Value, line: usize, what: &dyn Fn() -> String) -> Result<Self> {
        let Value::Object(mut obj) = v else {
            return Err(Error::Invalid(format!("{}: expected a JSON object", what())));
        };
        let keys = ["text", "messages", "tokens", "raw"];
        let present: Vec<&str> = keys.iter().copied().filter(|k| obj.contains_key(*k)).collect();
        if present.len() != 1 {
            return Err(Error::Invalid(format!(
                "{}: a row needs exactly one of \"text\", \"messages\", \"tokens\" or \"raw\" (found {})",
                what(),
                if present.is_empty() {
                    "none".to_string()
                } else {
                    present.join(", ")
                }
            )));
        }
        let input = match present[0] {
            "text" => match obj.remove("text") {
                Some(Value::String(s)) => PromptInput::Text(s),
                _ => return Err(Error::Invalid(format!("{}: \"text\" must be a string", what()))),
            },
            "raw" => match obj.remove("raw") {
                Some(Value::String(s)) => PromptInput::Raw(s),
                _ => return Err(Error::Invalid(format!("{}: \"raw\" must be a string", what()))),
            },
            "messages" => {
                let m = obj.remove("messages").unwrap_or(Value::Null);
                let msgs: Vec<ChatMessage> = serde_json::from_value(m).map_err(|e| {
                    Error::Invalid(format!(
                        "{}: \"messages\" must be a list of {{\"role\", \"content\"}} objects: {e}",
                        what()
                    ))
                })?;
                if msgs.is_empty() {
                    return Err(Error::Invalid(format!("{}: \"messages\" is empty", what())));
                }
                PromptInput::Messages(msgs)
            }
            _ => {
                let t = obj.remove("tokens").unwrap_or(Value::Null);
                let ids: Vec<u32> = serde_json::from_value(t).map_err(|e| {
                    Error::Invalid(format!(
                        "{}: \"tokens\" must be a list of non-negative integers: {e}",
                        what()
                    ))
                })?;
                if ids.is_empty() {
                    return Err(Error::Invalid(format!("{}: \"tokens\" is empty", what())));
                }
                PromptInput::Tokens(ids)
            }
        };
        Ok(PromptRow {
            line,
            input,
            fields: obj,
        })
    }
}

/// Reads a JSONL prompt file. Blank lines are skipped; a malformed line is an error naming the
/// file and line number.
pub fn read_jsonl(path: &Path) -> Result<Vec<PromptRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let what = || format!("{}:{}", path.display(), i + 1);
        let v: Value =
            serde_json::from_str(line).map_err(|e| Error::Invalid(format!("{}: malformed JSON: {e}", what())))?;
        rows.push(PromptRow::parse(v, i + 1, &what)?);
    }
    if rows.is_empty() {
        return Err(Error::bad_file(path, "no prompt rows"));
    }
    Ok(rows)
}

impl<B: Backend> Model<B> {
    /// The chat template: the model's own, or its family's published one where the file
    /// carries none (as Hugging Face does for Gemma 3 GGUFs).
    pub fn chat_template(&self) -> Option<&str> {
        self.tokenizer
            .chat_template
            .as_deref()
            .or(self.config.arch.spec().default_chat_template)
    }

    /// Renders a conversation with the chat template and the generation prompt. A conversation
    /// that ends with an assistant message is rendered as it stands (a prefilled response),
    /// without a new generation prompt.
    pub fn render_chat(&self, messages: &[ChatMessage]) -> Result<String> {
        let template = self.chat_template().ok_or_else(|| {
            Error::model(
                &self.name,
                "has no chat template, so \"messages\" prompts cannot be rendered",
            )
        })?;
        let name = |id: Option<u32>| id.and_then(|id| self.tokenizer.token_str(id)).unwrap_or_default();
        let bos = name(self.tokenizer.bos_id);
        let eos = name(self.tokenizer.eos_ids.first().copied());
        let prompt = messages.last().is_some_and(|m| m.role != "assistant");
        Ok(render_chat(template, messages, prompt, &bos, &eos)?)
    }

    /// Token ids of a prompt. Rendered chats are tokenized without adding BOS again: the
    /// template already writes it where the family wants it.
    pub fn encode(&self, input: &PromptInput) -> Result<Vec<u32>> {
        let ids = match input {
            PromptInput::Text(t) => self.tokenizer.encode(t, true)?,
            PromptInput::Messages(m) => self.tokenizer.encode(&self.render_chat(m)?, false)?,
            PromptInput::Tokens(t) => t.clone(),
            PromptInput::Raw(t) => self.tokenizer.encode(t, false)?,
        };
        if ids.is_empty() {
            return Err(Error::Invalid("the prompt tokenizes to no tokens".into()));
        }
        self.check_window(ids.len())?;
        Ok(ids)
    }

    /// Refuses a sequence longer than the model's context window: positions past it were
    /// never trained, and attention over them costs quadratic time for nothing.
    pub fn check_window(&self, len: usize) -> Result<()> {
        let window = self.config.max_positions;
        if len > window {
            return Err(Error::Invalid(format!(
                "the prompt is {len} tokens long, longer than {}'s context window of {window} tokens",
                self.name
            )));
        }
        Ok(())
    }
}
