//! STUB (replaced by the real module)
use crate::gguf::GgufFile;
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TokenizerError(String);
pub struct Tokenizer { pub bos_id: Option<u32>, pub eos_ids: Vec<u32>, pub add_bos: bool, pub chat_template: Option<String> }
impl Tokenizer {
  pub fn from_gguf(_g: &GgufFile) -> Result<Self, TokenizerError> { Ok(Tokenizer{bos_id:None,eos_ids:vec![2],add_bos:false,chat_template:None}) }
  pub fn from_hf_dir(_d: &std::path::Path) -> Result<Self, TokenizerError> { todo!() }
  pub fn encode(&self, _t: &str, _s: bool) -> Result<Vec<u32>, TokenizerError> { todo!() }
  pub fn decode(&self, _t: &[u32], _s: bool) -> Result<String, TokenizerError> { todo!() }
  pub fn token_str(&self, _t: u32) -> Option<String> { todo!() }
  pub fn encode_with_offsets(&self, _t: &str, _s: bool) -> Result<(Vec<u32>, Vec<(usize, usize)>), TokenizerError> { todo!() }
  pub fn vocab_size(&self) -> usize { 0 }
}
