//! The three concept families the research is about, each an end-to-end experiment built on
//! harvest, probes, steering and SAEs:
//! - [`personality`]: Big Five trait directions, probed, steered and measured behaviourally;
//! - [`knowledge`]: does the model know an entity, and can that signal make it refuse or
//!   hallucinate;
//! - [`belief`]: what a story character believes versus what is true.
//!
//! Each is a [`Suite`] (see [`suite`]): options with a quick preset, a run in resumable stages,
//! typed results, figures and a report drawn from the results. [`run_suite`] reads the data
//! from `probes/<suite>/` and writes `results.json` (with a `headline`), `figures/` and
//! `report.md` into an output directory.

pub mod belief;
pub mod knowledge;
pub mod personality;

pub mod data;
pub mod suite;

pub use suite::{overlay_options, run_suite, Suite, SuiteRun};

/// Redraws the figures of a suite's `results.json` whose `kind` is `kind` into `figures` and
/// rewrites its `report.md` in `report_dir`; `None` when no suite has that kind.
pub fn redraw(
    kind: &str,
    results: &std::path::Path,
    figures: &std::path::Path,
    report_dir: &std::path::Path,
) -> crate::Result<Option<Vec<std::path::PathBuf>>> {
    use suite::redraw as draw;
    Ok(match kind {
        k if k == belief::Belief::KIND => Some(draw::<belief::Belief>(results, figures, report_dir)?),
        k if k == knowledge::Knowledge::KIND => Some(draw::<knowledge::Knowledge>(results, figures, report_dir)?),
        k if k == personality::Personality::KIND => {
            Some(draw::<personality::Personality>(results, figures, report_dir)?)
        }
        _ => None,
    })
}
