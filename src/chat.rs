//! STUB
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChatError(String);
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChatMessage { pub role: String, pub content: String }
impl ChatMessage { pub fn user(s: &str) -> Self { ChatMessage { role: "user".into(), content: s.into() } } }
pub const GEMMA3_CHAT_TEMPLATE: &str = "";
pub fn render_chat(_t: &str, _m: &[ChatMessage], _g: bool, _b: &str, _e: &str) -> Result<String, ChatError> { todo!() }
