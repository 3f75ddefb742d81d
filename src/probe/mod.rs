//! Linear probes: is a concept linearly decodable from activations, where, and how well?
//!
//! - [`linear`]: logistic, difference-of-means and ridge probes on standardised inputs;
//! - [`lbfgs`]: the solver behind them;
//! - [`metrics`]: accuracy, balanced accuracy, AUROC, log-loss, F1, Brier, calibration;
//! - [`split`]: grouped folds, control labels, principal components;
//! - [`sweep`]: per-layer and per-head cross-validated sweeps;
//! - [`artifact`]: probes saved for numpy and `mindlens probe apply`.

pub mod apply;
pub mod artifact;
pub mod figures;
pub mod lbfgs;
pub mod linear;
pub mod metrics;
pub mod split;
pub mod sweep;

pub use artifact::{load_probe, save_probe, ProbeMeta};
pub use linear::{FitOptions, LinearProbe, ProbeKind};
pub use split::Control;
pub use sweep::{fit_best, store_labels, sweep_store, Labels, SweepOptions, SweepResults, Target};
