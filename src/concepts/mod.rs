//! The three concept families the research is about, each an end-to-end experiment built on
//! harvest, probes, steering and SAEs:
//! - [`personality`]: Big Five trait directions, probed, steered and measured behaviourally;
//! - [`knowledge`]: does the model know an entity, and can that signal make it refuse or
//!   hallucinate;
//! - [`belief`]: what a story character believes versus what is true.
//!
//! Each suite reads its data from `probes/<suite>/` and writes `results.json` (with a
//! `headline` object), figures and `report.md` into an output directory.

pub mod belief;
pub mod knowledge;
pub mod personality;

pub mod data;
pub mod suite;

pub use suite::{run_suite, Suite, SuiteRun};

/// Redraws the figures of a suite's `results.json` whose `kind` is `kind` into `dir`; `None`
/// when no suite has that kind.
pub fn redraw(
    kind: &str,
    results: &std::path::Path,
    dir: &std::path::Path,
) -> crate::Result<Option<Vec<std::path::PathBuf>>> {
    Ok(match kind {
        k if k == belief::Belief::KIND => Some(suite::redraw::<belief::Belief>(results, dir)?),
        k if k == knowledge::Knowledge::KIND => Some(suite::redraw::<knowledge::Knowledge>(results, dir)?),
        _ => None,
    })
}

// Until every suite is reshaped (transitional re-exports).
pub(crate) use crate::steer::direction::{mean_norm, random_direction};
pub(crate) use data::{alpha64, check_layers, read_rows, spread};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar for one stage of a suite (`stage` such as "knowledge steering"), counting
/// `len` items; hidden when `progress` is off.
pub(crate) fn stage_bar(progress: bool, stage: String, len: u64) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    ProgressBar::new(len)
        .with_style(
            ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed} eta {eta}")
                .expect("valid template"),
        )
        .with_prefix(stage)
}

/// A stage announcement on stderr (`[suite] msg`) when `progress` is on.
pub(crate) fn say(progress: bool, suite: &str, msg: &str) {
    if progress {
        eprintln!("[{suite}] {msg}");
    }
}
