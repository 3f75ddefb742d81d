//! Harvesting a data set in parts (one per cluster job) and joining them.
//!
//! `harvest --part I/N` harvests a contiguous slice of the data rows into a store of its own.
//! The slices are cut where the running token count crosses `k / N` of the total, so parts take
//! similar time; every part computes the same cut from the same data. Row numbers inside a part
//! store (shard ranges, `token_index`) are the data file's, so [`merge`] only renumbers shards:
//! the merged store holds the same rows in the same order and the same vector for every
//! (row, position) as one harvest of the whole file, and `ActivationStore` reads it the same way.

use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::store::{hook_dir, ActivationStore, Shard, StoreManifest};
use crate::artifact::write_json;
use crate::error::{Error, Result};

/// `I/N`: part `I` (0-based, as Slurm's `SLURM_ARRAY_TASK_ID`) of `N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// Which part, `0..count`.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

impl FromStr for Part {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("--part {s:?}: expected I/N with 0 <= I < N, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Part { index, count })
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A part store's place in the data set: recorded in its manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRange {
    /// Which part of how many.
    pub part: Part,
    /// Data rows `[start, end)`.
    pub rows: [usize; 2],
}

/// One part of a merged store, as its manifest records it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MergedPart {
    /// The part store's directory, as given to the merge.
    pub dir: String,
    /// Which part, and its rows.
    pub range: PartRange,
    /// Its shards, numbered from this in the merged store.
    pub first_shard: usize,
}

/// The rows of part `part` when rows of `lengths` tokens are cut into `part.count` contiguous
/// slices of about equal token count. Slices may be empty when there are fewer rows than parts.
pub fn part_rows(lengths: &[usize], part: Part) -> Range<usize> {
    let total: u128 = lengths.iter().map(|&l| l as u128).sum();
    // Slice k starts at the first row whose preceding tokens reach k/N of the total.
    let start_of = |k: usize| -> usize {
        if k == 0 {
            return 0;
        }
        if k >= part.count {
            return lengths.len();
        }
        let target = total * k as u128;
        let mut before = 0u128;
        for (i, &l) in lengths.iter().enumerate() {
            if before * part.count as u128 >= target {
                return i;
            }
            before += l as u128;
        }
        lengths.len()
    };
    start_of(part.index)..start_of(part.index + 1)
}

/// Joins complete part stores into one store at `out` (refusing a non-empty `out` unless
/// `force`). Shard files are hard-linked where the file system allows, else copied; `rows.jsonl`
/// is streamed, so memory does not grow with the store.
pub fn merge(parts: &[PathBuf], out: &Path, force: bool) -> Result<StoreManifest> {
    let mut stores = Vec::with_capacity(parts.len());
    for dir in parts {
        let s = ActivationStore::open(dir)?;
        let range = s.manifest.part.clone().ok_or_else(|| {
            Error::Invalid(format!(
                "{}: not a part store (it was harvested without --part)",
                dir.display()
            ))
        })?;
        if !s.manifest.complete {
            return Err(Error::Invalid(format!(
                "{}: part {} is incomplete; finish it with the same `harvest --part {} --resume` command",
                dir.display(),
                range.part,
                range.part
            )));
        }
        stores.push((dir.clone(), range, s.manifest));
    }
    let Some((first_dir, first_range, reference)) = stores.first().cloned() else {
        return Err(Error::Invalid("no part stores to merge".into()));
    };
    for (dir, range, m) in &stores[1..] {
        check_same(dir, m, &first_dir, &reference)?;
        if range.part.count != first_range.part.count {
            return Err(Error::Invalid(format!(
                "{}: part {} is one of {} parts, but {} is one of {}",
                dir.display(),
                range.part,
                range.part.count,
                first_dir.display(),
                first_range.part.count
            )));
        }
    }
    let count = first_range.part.count;
    stores.sort_by_key(|(_, r, _)| r.part.index);
    for k in 0..count {
        let with_k: Vec<&PathBuf> = stores
            .iter()
            .filter(|(_, r, _)| r.part.index == k)
            .map(|(d, _, _)| d)
            .collect();
        match with_k.len() {
            1 => {}
            0 => return Err(Error::Invalid(format!("part {k}/{count} is missing"))),
            _ => {
                return Err(Error::Invalid(format!(
                    "part {k}/{count} is given twice: {}",
                    with_k
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }
    }
    let mut next = 0;
    for (dir, range, _) in &stores {
        let [start, end] = range.rows;
        if start != next {
            let how = if start < next {
                "overlaps the previous part"
            } else {
                "leaves rows out"
            };
            return Err(Error::Invalid(format!(
                "{}: part {} covers rows {start}..{end}, which {how} (the previous part ends at row {next}); \
                 were the parts harvested from the same data with the same model?",
                dir.display(),
                range.part
            )));
        }
        next = end;
    }
    if next != reference.data.rows {
        return Err(Error::Invalid(format!(
            "the parts cover rows 0..{next} of {} rows",
            reference.data.rows
        )));
    }

    crate::cache::prepare_out_dir(out, force)?;
    if force {
        for stale in ["manifest.json", "rows.jsonl"] {
            let _ = std::fs::remove_file(out.join(stale));
        }
    }
    let mut merged = StoreManifest {
        rows: 0,
        vectors: 0,
        tokens: 0,
        complete: true,
        shards: Vec::new(),
        part: None,
        merged_from: Vec::new(),
        ..reference.clone()
    };
    let mut folders: Vec<String> = reference.hooks.iter().map(|h| hook_dir(h)).collect();
    if reference.multi_token {
        folders.push("token_index".into());
    }
    for f in &folders {
        let dir = out.join(f);
        if force && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    let rows_path = out.join("rows.jsonl");
    let mut rows_out = std::fs::File::create(&rows_path).map_err(|e| Error::io(&rows_path, e))?;
    let mut rows_bytes = 0u64;
    for (dir, range, m) in &stores {
        let first_shard = merged.shards.len();
        for shard in &m.shards {
            let index = merged.shards.len();
            for f in &folders {
                let name = |i: usize| format!("shard-{i:05}.npy");
                link_or_copy(&dir.join(f).join(name(shard.index)), &out.join(f).join(name(index)))?;
            }
            merged.shards.push(Shard {
                index,
                rows_jsonl_bytes: rows_bytes + shard.rows_jsonl_bytes,
                ..shard.clone()
            });
        }
        // Only the lines of recorded shards belong to the part (a resumed run truncates the rest).
        let committed = m.shards.last().map_or(0, |s| s.rows_jsonl_bytes);
        let src = dir.join("rows.jsonl");
        let f = std::fs::File::open(&src).map_err(|e| Error::io(&src, e))?;
        let copied = std::io::copy(&mut f.take(committed), &mut rows_out).map_err(|e| Error::io(&rows_path, e))?;
        if copied != committed {
            return Err(Error::bad_file(
                &src,
                format!("holds {copied} bytes, its manifest records {committed}"),
            ));
        }
        rows_bytes += committed;
        merged.rows += m.rows;
        merged.vectors += m.vectors;
        merged.tokens += m.tokens;
        merged.merged_from.push(MergedPart {
            dir: dir.display().to_string(),
            range: range.clone(),
            first_shard,
        });
    }
    rows_out
        .flush()
        .and_then(|_| rows_out.sync_all())
        .map_err(|e| Error::io(&rows_path, e))?;
    // The manifest comes last: a merge killed before it leaves no readable store.
    write_json(&out.join("manifest.json"), &merged)?;
    Ok(merged)
}

/// Refuses a part made differently from the first one, naming the part and the difference.
fn check_same(dir: &Path, m: &StoreManifest, first_dir: &Path, first: &StoreManifest) -> Result<()> {
    let differ = |what: &str, a: String, b: String| {
        Err(Error::Invalid(format!(
            "{} was harvested with {what} {a}, but {} with {b}: parts must come from one harvest command",
            dir.display(),
            first_dir.display()
        )))
    };
    if m.model != first.model || m.model_config != first.model_config {
        return differ("model", format!("{:?}", m.model), format!("{:?}", first.model));
    }
    if m.hooks != first.hooks {
        return differ("hooks", format!("{:?}", m.hooks), format!("{:?}", first.hooks));
    }
    if m.positions != first.positions {
        return differ(
            "positions",
            format!("{:?}", m.positions),
            format!("{:?}", first.positions),
        );
    }
    if m.dtype != first.dtype {
        return differ("dtype", format!("{:?}", m.dtype), format!("{:?}", first.dtype));
    }
    if m.data.sha256 != first.data.sha256 || m.data.rows != first.data.rows {
        return differ(
            "data file",
            format!("{} (sha256 {})", m.data.path, m.data.sha256),
            format!("{} (sha256 {})", first.data.path, first.data.sha256),
        );
    }
    Ok(())
}

/// Hard-links `from` to `to`, or copies it where links are impossible (another file system).
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ()).map_err(|e| Error::io(to, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_tile_the_rows_and_balance_tokens() {
        let lengths: Vec<usize> = (0..1000).map(|i| 10 + (i * 7919) % 300).collect();
        let total: usize = lengths.iter().sum();
        for count in [1, 2, 3, 4, 7] {
            let mut next = 0;
            for index in 0..count {
                let r = part_rows(&lengths, Part { index, count });
                assert_eq!(r.start, next);
                next = r.end;
                let tokens: usize = lengths[r].iter().sum();
                // Within one longest row of an equal share.
                assert!(
                    tokens.abs_diff(total / count) <= 310,
                    "{index}/{count}: {tokens} of {total}"
                );
            }
            assert_eq!(next, lengths.len());
        }
        // More parts than rows: some are empty, none overlap.
        let few = [5, 5];
        let spans: Vec<_> = (0..4).map(|index| part_rows(&few, Part { index, count: 4 })).collect();
        assert_eq!(spans.iter().map(|r| r.len()).sum::<usize>(), 2);
    }

    #[test]
    fn part_specs_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<Part>().unwrap(), Part { index: 2, count: 4 });
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            assert!(bad.parse::<Part>().is_err(), "{bad}");
        }
    }
}
