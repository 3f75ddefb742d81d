//! Rows a program builds, harvested into a store it owns: the one resume rule every suite
//! and `steer extract` use.

use std::path::Path;

use burn::tensor::backend::Backend;
use serde::Serialize;

use super::{harvest, ActivationStore, HarvestOptions, PositionSpec};
use crate::artifact::write_jsonl;
use crate::error::{Error, Result};
use crate::hooks::HookPoint;
use crate::model::Model;
use crate::registry::sha256_file;

/// Writes `rows` as the harvest data file `data` and harvests it into `store_dir` at `hooks`
/// and `positions`. A store there made from the same data (by sha256), hooks, positions and
/// model is resumed (a finished one is reused as it is); a store made from anything else is
/// stale and replaced. The store must end complete with one harvested row per data row.
pub fn harvest_rows<B: Backend, R: Serialize>(
    model: &Model<B>,
    rows: &[R],
    data: &Path,
    store_dir: &Path,
    hooks: &[HookPoint],
    positions: PositionSpec,
    progress: bool,
) -> Result<ActivationStore> {
    if let Some(dir) = data.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_jsonl(data, rows)?;
    let sha = sha256_file(data)?;
    let names: Vec<String> = hooks.iter().map(ToString::to_string).collect();
    let positions_name = positions.to_string();
    let stale = ActivationStore::open(store_dir).is_ok_and(|s| {
        s.manifest.data.sha256 != sha
            || s.manifest.hooks != names
            || s.manifest.model != model.name
            || s.manifest.positions != positions_name
    });
    let opts = HarvestOptions {
        hooks: hooks.to_vec(),
        positions,
        resume: !stale,
        force: stale,
        progress,
        ..Default::default()
    };
    harvest(model, data, store_dir, &opts)?;
    let store = ActivationStore::open(store_dir)?;
    if store.manifest.rows != rows.len() || !store.manifest.complete {
        return Err(Error::bad_file(
            store_dir.join("manifest.json"),
            format!("expected {} complete rows, found {}", rows.len(), store.manifest.rows),
        ));
    }
    Ok(store)
}
