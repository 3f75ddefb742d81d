//! Chat templates: rendering a conversation into the prompt text a model was
//! trained on, from the Jinja template shipped with the model.
//!
//! Templates are written for Python's Jinja2 as configured by transformers'
//! `apply_chat_template`, so the environment here copies that setup:
//! `trim_blocks` and `lstrip_blocks` on, loop controls, `raise_exception`,
//! a Python-style `tojson`, `strftime_now`, and Python string/dict methods
//! (`.strip()`, `.items()`, ...) through minijinja-contrib's pycompat.

use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (templates may accept others).
    pub role: String,
    /// The text of the turn.
    pub content: String,
}

impl ChatMessage {
    /// A message with the given role.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Errors from [`render_chat`].
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The template does not parse.
    #[error("chat template does not parse: {0}")]
    Syntax(String),
    /// Rendering failed (unknown filter, type error, ...).
    #[error("chat template failed to render: {0}")]
    Render(String),
    /// The template rejected the conversation via `raise_exception`, e.g.
    /// "Conversation roles must alternate user/assistant/user/assistant/...".
    #[error("chat template rejected the conversation: {0}")]
    Rejected(String),
}

/// Gemma 3's published chat template (from the `tokenizer_config.json` of
/// the google/gemma-3-*-it checkpoints). A system message is folded into the
/// first user turn, contents are trimmed, and `assistant` becomes `model`.
/// Used for Gemma 3 GGUF files that carry no `tokenizer.chat_template`.
pub const GEMMA3_CHAT_TEMPLATE: &str = r#"{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"#;

/// The built-in template for an architecture whose GGUF files often lack
/// one (`general.architecture`), if there is one.
pub fn builtin_template(architecture: &str) -> Option<&'static str> {
    crate::model::Arch::from_gguf_name(architecture).and_then(|a| a.spec().default_chat_template)
}

/// The message passed to `raise_exception`, carried as the error's source so
/// that it can be told apart from ordinary render errors.
#[derive(Debug)]
struct Raised(String);

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Raised {}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, "raise_exception called").with_source(Raised(message)))
}

/// `tojson` as transformers defines it: Python's `json.dumps` with
/// `ensure_ascii=False` and its default separators (`", "`, `": "`), optional
/// `indent`, and no HTML escaping (minijinja's built-in escapes `<` and `>`,
/// which would change prompts containing markup).
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    // Accepted for compatibility; output is never ASCII-escaped, as in transformers.
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let mut out = String::new();
    write_py_json(&value, indent, sort_keys.unwrap_or(false), 0, &mut out)?;
    Ok(Value::from_safe_string(out))
}

/// Serialises a template value like Python's `json.dumps`, walking the value
/// directly so that map keys keep their order.
fn write_py_json(
    v: &Value,
    indent: Option<usize>,
    sort_keys: bool,
    level: usize,
    out: &mut String,
) -> Result<(), Error> {
    let newline = |out: &mut String, level: usize| {
        if let Some(n) = indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * level));
        }
    };
    // With an indent Python drops the space after ',' (it ends the line).
    let item_sep = if indent.is_some() { "," } else { ", " };
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number if v.is_integer() => out.push_str(&v.to_string()),
        ValueKind::Number => match f64::try_from(v.clone()) {
            // Python writes floats with repr(), e.g. "1.0", as serde_json does.
            Ok(f) if f.is_finite() => out.push_str(&serde_json::Value::from(f).to_string()),
            Ok(f) if f.is_nan() => out.push_str("NaN"),
            Ok(f) => out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" }),
            Err(_) => out.push_str(&v.to_string()),
        },
        ValueKind::String => out.push_str(&quote(v.as_str().unwrap_or_default())),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                write_py_json(item, indent, sort_keys, level + 1, out)?;
            }
            newline(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = v.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            if sort_keys {
                keys.sort_by_key(|k| k.to_string());
            }
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline(out, level + 1);
                out.push_str(&quote(&key.to_string()));
                out.push_str(": ");
                write_py_json(&v.get_item(key)?, indent, sort_keys, level + 1, out)?;
            }
            newline(out, level);
            out.push('}');
        }
        _ => out.push_str(&quote(&v.to_string())),
    }
    Ok(())
}

/// `strftime_now(format)`, which transformers provides for templates that
/// print today's date (Llama 3.x). Uses UTC, since no time-zone database is
/// at hand; supports `%Y %y %m %d %e %B %b %A %a %H %M %S %j %%`.
fn strftime_now(format: String) -> Result<Value, Error> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(Value::from(strftime_utc(&format, secs)))
}

fn strftime_utc(format: &str, unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs_of_day = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy_mar = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy_mar + 2) / 153;
    let day = doy_mar - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cumulative[(month - 1) as usize] + day + i64::from(leap && month > 2);
    // 1970-01-01 was a Thursday (index 3 from Monday).
    let weekday = (days + 3).rem_euclid(7) as usize;
    let month_name = MONTHS[(month - 1) as usize];

    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&year.to_string()),
            Some('y') => out.push_str(&format!("{:02}", year.rem_euclid(100))),
            Some('m') => out.push_str(&format!("{month:02}")),
            Some('d') => out.push_str(&format!("{day:02}")),
            Some('e') => out.push_str(&format!("{day:>2}")),
            Some('B') => out.push_str(month_name),
            Some('b') => out.push_str(&month_name[..3]),
            Some('A') => out.push_str(DAYS[weekday]),
            Some('a') => out.push_str(&DAYS[weekday][..3]),
            Some('H') => out.push_str(&format!("{:02}", secs_of_day / 3600)),
            Some('M') => out.push_str(&format!("{:02}", secs_of_day / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", secs_of_day % 60)),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A message as a template sees it: a map whose keys enumerate in the order
/// `role`, `content`, as in the Python dicts transformers passes (a serde
/// conversion would sort them, changing `tojson` output).
#[derive(Debug)]
struct MessageObject(ChatMessage);

impl Object for MessageObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "role" => Some(Value::from(self.0.role.as_str())),
            "content" => Some(Value::from(self.0.content.as_str())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["role", "content"])
    }
}

fn describe(e: &Error) -> String {
    // The alternate form includes the template line and source context.
    let mut msg = e.to_string();
    if let Some(line) = e.line() {
        if !msg.contains("line") {
            msg.push_str(&format!(" (line {line})"));
        }
    }
    msg
}

fn find_raised(e: &Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Raised>() {
            return Some(r.0.clone());
        }
        source = s.source();
    }
    None
}

/// Renders `messages` with a Jinja chat `template`.
///
/// `bos` and `eos` are exposed to the template as `bos_token` and
/// `eos_token`; `add_generation_prompt` appends the header of the assistant's
/// turn so that the model continues as the assistant.
pub fn render_chat(
    template: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    bos: &str,
    eos: &str,
) -> Result<String, ChatError> {
    let mut env = Environment::new();
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ChatError::Syntax(describe(&e)))?;
    env.set_syntax(syntax);
    minijinja_contrib::add_to_environment(&mut env);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", strftime_now);
    env.add_filter("tojson", tojson);
    env.add_template("chat", template)
        .map_err(|e| ChatError::Syntax(describe(&e)))?;
    let tmpl = env.get_template("chat").map_err(|e| ChatError::Syntax(describe(&e)))?;
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| Value::from_object(MessageObject(m.clone())))
        .collect();
    let ctx = minijinja::context! {
        messages => messages,
        add_generation_prompt => add_generation_prompt,
        bos_token => bos,
        eos_token => eos,
        tools => Value::from(()),
        documents => Value::from(()),
    };
    tmpl.render(ctx).map_err(|e| match find_raised(&e) {
        Some(msg) => ChatError::Rejected(msg),
        None => ChatError::Render(describe(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml() {
        let out = render_chat(CHATML, &[ChatMessage::user("Hi")], true, "", "").unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn gemma3_folds_system_and_renames_assistant() {
        let msgs = [
            ChatMessage::system("Be brief."),
            ChatMessage::user(" Hello "),
            ChatMessage::assistant("Hi!"),
            ChatMessage::user("Bye"),
        ];
        let out = render_chat(GEMMA3_CHAT_TEMPLATE, &msgs, true, "<bos>", "<eos>").unwrap();
        assert_eq!(
            out,
            "<bos><start_of_turn>user\nBe brief.\n\nHello<end_of_turn>\n<start_of_turn>model\nHi!<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
        );
        let out = render_chat(GEMMA3_CHAT_TEMPLATE, &msgs[1..2], false, "<bos>", "<eos>").unwrap();
        assert_eq!(out, "<bos><start_of_turn>user\nHello<end_of_turn>\n");
    }

    #[test]
    fn raise_exception_is_rejected() {
        let msgs = [ChatMessage::user("a"), ChatMessage::user("b")];
        let e = render_chat(GEMMA3_CHAT_TEMPLATE, &msgs, true, "<bos>", "<eos>").unwrap_err();
        match e {
            ChatError::Rejected(m) => assert!(m.contains("alternate"), "{m}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn syntax_and_render_errors() {
        assert!(matches!(
            render_chat("{% for %}", &[], false, "", ""),
            Err(ChatError::Syntax(_))
        ));
        assert!(matches!(
            render_chat("{{ messages | nosuchfilter }}", &[], false, "", ""),
            Err(ChatError::Render(_))
        ));
    }

    #[test]
    fn python_compat() {
        let t = "{{ messages[0]['content'].strip().upper() }}|{{ messages[0] | tojson }}|{{ [1, 2.5, 3.0, none, true, 'é\\n'] | tojson }}|{% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.role }}{% endfor %}|{{ tools is none }}";
        let msgs = [ChatMessage::user(" <b>x</b> "), ChatMessage::assistant("y")];
        let out = render_chat(t, &msgs, false, "", "").unwrap();
        assert_eq!(
            out,
            r#"<B>X</B>|{"role": "user", "content": " <b>x</b> "}|[1, 2.5, 3.0, null, true, "é\n"]|user|True"#
        );
    }

    #[test]
    fn tojson_indent_matches_python() {
        let out = render_chat("{{ {'a': [1, 2], 'b': {}} | tojson(indent=2) }}", &[], false, "", "").unwrap();
        assert_eq!(out, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {}\n}");
    }

    #[test]
    fn trim_and_lstrip_blocks() {
        let t = "{% for m in messages %}\n  {% if true %}\n{{ m.content }}\n  {% endif %}\n{% endfor %}";
        let out = render_chat(t, &[ChatMessage::user("a"), ChatMessage::user("b")], false, "", "").unwrap();
        assert_eq!(out, "a\nb\n");
    }

    #[test]
    fn strftime() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        assert_eq!(
            strftime_utc("%d %b %Y|%A %H:%M:%S|%j|%y %e %B %%", 1_709_211_909),
            "29 Feb 2024|Thursday 13:05:09|060|24 29 February %"
        );
        assert_eq!(strftime_utc("%Y-%m-%d", 0), "1970-01-01");
    }
}
