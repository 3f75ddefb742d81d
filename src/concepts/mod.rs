//! The three concept families the research is about, each an end-to-end experiment built on
//! harvest, probes, steering and SAEs:
//! - [`personality`]: Big Five trait directions, probed, steered and measured behaviourally;
//! - [`belief`]: what a story character believes versus what is true.
//!
//! Each suite reads its data from `probes/<suite>/` and writes `results.json` (with a
//! `headline` object), figures and `report.md` into an output directory.

pub mod belief;
pub mod personality;
