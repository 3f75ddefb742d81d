//! Harvesting on a Slurm cluster with Slurm's own mechanisms: a job array whose task `I` runs
//! `mindlens harvest ... --part I/N --resume` into its own part store, and a merge job that
//! depends on the whole array (`afterok`) and runs `mindlens harvest merge`. The scripts are
//! plain sbatch files a user can read, edit and submit by hand; [`submit`] does what a user
//! would type.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::artifact::write_atomic;
use crate::error::{Error, Result};

/// Resources and size of the job array.
#[derive(Clone, Debug, Default)]
pub struct SlurmOptions {
    /// Array tasks, one part each.
    pub parts: usize,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--gpus-per-task` (with `--device cuda` in the harvest arguments).
    pub gpus_per_task: Option<u32>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--time` limit of each task, e.g. `02:00:00`.
    pub time: Option<String>,
    /// `--mem` of each task, e.g. `16G`.
    pub mem: Option<String>,
}

/// The files of a Slurm harvest.
#[derive(Clone, Debug)]
pub struct SlurmPlan {
    /// `OUT.slurm/`: the scripts and `logs/`.
    pub dir: PathBuf,
    /// The job array script.
    pub harvest_script: PathBuf,
    /// The merge script.
    pub merge_script: PathBuf,
    /// Where part `I` is harvested (`OUT.parts/part-I`).
    pub part_dirs: Vec<PathBuf>,
}

/// Writes the two sbatch scripts for harvesting into `out` in `opts.parts` parts.
/// `mindlens` is the binary the tasks run; `harvest_args` are the arguments of `mindlens
/// harvest` without `--out`, `--part`, `--resume` or `--force`, with absolute paths.
pub fn write_scripts(mindlens: &Path, harvest_args: &[String], out: &Path, opts: &SlurmOptions) -> Result<SlurmPlan> {
    if opts.parts == 0 {
        return Err(Error::Invalid("--parts must be at least 1".into()));
    }
    let out = absolute(out)?;
    let with_suffix = |s: &str| PathBuf::from(format!("{}.{s}", out.display()));
    let (dir, parts_root) = (with_suffix("slurm"), with_suffix("parts"));
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    std::fs::create_dir_all(&parts_root).map_err(|e| Error::io(&parts_root, e))?;
    let part_dirs: Vec<PathBuf> = (0..opts.parts).map(|i| parts_root.join(format!("part-{i}"))).collect();

    let mut resources = String::new();
    let mut line = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            resources.push_str(&format!("#SBATCH --{flag}={v}\n"));
        }
    };
    line("partition", opts.partition.clone());
    line("gpus-per-task", opts.gpus_per_task.map(|g| g.to_string()));
    line("cpus-per-task", opts.cpus_per_task.map(|c| c.to_string()));
    line("time", opts.time.clone());
    line("mem", opts.mem.clone());
    let bin = quote(&mindlens.display().to_string());
    let args: Vec<String> = harvest_args.iter().map(|a| quote(a)).collect();
    let n = opts.parts;

    let harvest = format!(
        "#!/bin/bash\n\
         # Part $SLURM_ARRAY_TASK_ID of {n} of a mindlens harvest. A failed part can be re-run alone:\n\
         #   sbatch --array=I {script}\n\
         #SBATCH --job-name=mindlens-harvest\n\
         #SBATCH --array=0-{last}\n\
         #SBATCH --output={logs}/part-%a.out\n\
         {resources}\
         set -euo pipefail\n\
         exec {bin} harvest {args} --part \"$SLURM_ARRAY_TASK_ID/{n}\" --resume --out {parts}/part-\"$SLURM_ARRAY_TASK_ID\"\n",
        script = dir.join("harvest.sbatch").display(),
        last = n - 1,
        logs = logs.display(),
        args = args.join(" "),
        parts = quote(&parts_root.display().to_string()),
    );
    let merge = format!(
        "#!/bin/bash\n\
         # Joins the {n} parts once every array task has succeeded (submitted with afterok).\n\
         #SBATCH --job-name=mindlens-merge\n\
         #SBATCH --output={logs}/merge.out\n\
         {partition}\
         set -euo pipefail\n\
         exec {bin} harvest merge {parts} --out {out}\n",
        logs = logs.display(),
        partition = opts
            .partition
            .as_ref()
            .map_or(String::new(), |p| format!("#SBATCH --partition={p}\n")),
        parts = part_dirs
            .iter()
            .map(|p| quote(&p.display().to_string()))
            .collect::<Vec<_>>()
            .join(" "),
        out = quote(&out.display().to_string()),
    );
    let (harvest_script, merge_script) = (dir.join("harvest.sbatch"), dir.join("merge.sbatch"));
    for (path, text) in [(&harvest_script, harvest), (&merge_script, merge)] {
        write_atomic(path, |f| {
            std::io::Write::write_all(f, text.as_bytes()).map_err(|e| e.to_string())
        })?;
    }
    Ok(SlurmPlan {
        dir,
        harvest_script,
        merge_script,
        part_dirs,
    })
}

/// Submits the array, then the merge with `--dependency=afterok:ARRAY`. Returns both job ids.
pub fn submit(plan: &SlurmPlan) -> Result<(String, String)> {
    let array = sbatch(&[], &plan.harvest_script, plan)?;
    let merge = sbatch(&[format!("--dependency=afterok:{array}")], &plan.merge_script, plan)?;
    Ok((array, merge))
}

fn sbatch(extra: &[String], script: &Path, plan: &SlurmPlan) -> Result<String> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot run sbatch ({e}): is this a Slurm login node? The job scripts are in {}; \
                 submit them there with `sbatch {}`, then `sbatch --dependency=afterok:ID {}`",
                plan.dir.display(),
                plan.harvest_script.display(),
                plan.merge_script.display()
            ))
        })?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Invalid(format!("sbatch printed no job id: {text:?}")));
    }
    Ok(id)
}

/// `path` made absolute against the current directory (the tasks may start elsewhere).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

/// Single-quotes `s` for bash.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_every_part_and_quote_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("store");
        let opts = SlurmOptions {
            parts: 3,
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            time: Some("01:00:00".into()),
            ..Default::default()
        };
        let args = vec!["--data".to_string(), "/x/it's data.jsonl".to_string()];
        let plan = write_scripts(Path::new("/opt/mindlens"), &args, &out, &opts).unwrap();
        let h = std::fs::read_to_string(&plan.harvest_script).unwrap();
        assert!(h.contains("#SBATCH --array=0-2\n") && h.contains("#SBATCH --partition=gpu\n"));
        assert!(h.contains("#SBATCH --gpus-per-task=1\n") && h.contains("#SBATCH --time=01:00:00\n"));
        assert!(h.contains(r"'/x/it'\''s data.jsonl'"), "{h}");
        assert!(h.contains("--part \"$SLURM_ARRAY_TASK_ID/3\" --resume"));
        let m = std::fs::read_to_string(&plan.merge_script).unwrap();
        for p in &plan.part_dirs {
            assert!(m.contains(&p.display().to_string()));
        }
        assert_eq!(plan.part_dirs.len(), 3);
    }
}
