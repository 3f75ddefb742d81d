//! # mindlens
//!
//! Activation probing and steering of language models, in Rust.
//!
//! The crate is laid out like the work it supports:
//! - hosting core: [`gguf`], [`tokenizer`], [`chat`], [`model`], [`generate`], [`registry`];
//! - [`hooks`]: TransformerLens-named hook points, capture and interventions;
//! - [`prompts`] and [`cache`]: prompt files in, activations out;
//! - [`cli`]: the `mindlens` command, a thin layer over the above.
//!
//! ```no_run
//! use mindlens::prelude::*;
//!
//! let model = Model::<Cpu>::load("smollm2-135m-instruct", &Default::default())?;
//! let ids = model.tokenizer.encode("The Eiffel Tower is in", true)?;
//! let mut hooks = HookSet::capture([HookPoint::ResidPost(12)]);
//! let out = model.generate(&[ids], &GenerateOptions { max_new_tokens: 5, ..Default::default() }, &mut hooks)?;
//! println!("{}", out[0].text);
//! # Ok::<(), mindlens::Error>(())
//! ```

pub mod alloc;
pub mod artifact;
pub mod backend;
pub mod cache;
pub mod chat;
pub mod cli;
pub mod concepts;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod harvest;
pub mod hooks;
pub mod model;
pub mod plot;
pub mod probe;
pub mod progress;
pub mod prompts;
pub mod registry;
pub mod sae;
pub mod steer;
pub mod tokenizer;

pub use error::{Error, Result};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The names most programs need.
pub mod prelude {
    pub use crate::backend::Cpu;
    #[cfg(feature = "cuda")]
    pub use crate::backend::Gpu;
    #[cfg(feature = "wgpu")]
    pub use crate::backend::Wgpu;
    pub use crate::error::{Error, Result};
    pub use crate::generate::{GenerateOptions, Generation};
    pub use crate::hooks::{Edit, Hook, HookPoint, HookSet, Intervention, NoHooks, Positions};
    pub use crate::model::{DecodeActivations, LogitsMode, Model, ModelConfig};
}
