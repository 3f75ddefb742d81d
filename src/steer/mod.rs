//! Steering vectors: extract contrastive directions, inject them during generation, sweep
//! layer x strength with side-effect metrics, and exchange them with llama.cpp.
//!
//! - [`vector`]: the on-disk format (`meta.json` + `layer_{N}.npy`);
//! - [`extract`]: difference of means and PCA of paired differences;
//! - [`apply`]: addition (absolute or relative strength) and directional ablation;
//! - [`sweep`]: A/B metrics over both option orders, KL and perplexity, the selection rule;
//! - [`export`]: llama.cpp control-vector GGUF import and export;
//! - [`figures`]: dose-response and layer x alpha heatmap.

pub mod apply;
pub mod direction;
pub mod export;
pub mod extract;
pub mod figures;
mod prefix;
pub mod sweep;
pub mod vector;

pub use apply::{add_ablation, add_steering, Strength};
pub use vector::{SteerMeta, SteeringVectors};
