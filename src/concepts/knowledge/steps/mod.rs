//! The suite's five steps, one concept each; `mod.rs` of the suite runs them as stages.

pub(super) mod ask;
pub(super) mod generalise;
pub(super) mod pik;
pub(super) mod probe;
pub(super) mod sae;
pub(super) mod steer;
