//! `mindlens slurm harvest`: a harvest as a Slurm job array plus a merge job.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::harvest::HarvestSpec;
use crate::error::{Error, Result};
use crate::harvest::slurm::{submit, write_scripts, SlurmOptions};

#[derive(Subcommand, Debug)]
pub(super) enum SlurmAction {
    /// Write (and with --submit, submit) a job array of N `harvest --part` tasks and a merge
    /// job that runs once all of them succeeded.
    Harvest(SlurmHarvestArgs),
}

#[derive(Args, Debug)]
pub(super) struct SlurmHarvestArgs {
    #[command(flatten)]
    spec: HarvestSpec,
    /// The merged store; parts go to OUT.parts/part-I, scripts and logs to OUT.slurm/.
    #[arg(long)]
    out: PathBuf,
    /// Array tasks (parts).
    #[arg(long)]
    parts: usize,
    /// Slurm partition.
    #[arg(long)]
    partition: Option<String>,
    /// GPUs per array task (use with --device cuda).
    #[arg(long)]
    gpus_per_task: Option<u32>,
    /// CPUs per array task.
    #[arg(long)]
    cpus_per_task: Option<u32>,
    /// Time limit per array task (Slurm's format, e.g. 02:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Memory per array task (e.g. 16G).
    #[arg(long)]
    mem: Option<String>,
    /// Submit with sbatch (otherwise only write the scripts).
    #[arg(long)]
    submit: bool,
}

pub(super) fn slurm(action: SlurmAction) -> Result<()> {
    let SlurmAction::Harvest(a) = action;
    let exe = std::env::current_exe().map_err(|e| Error::Invalid(format!("cannot locate the mindlens binary: {e}")))?;
    let opts = SlurmOptions {
        parts: a.parts,
        partition: a.partition,
        gpus_per_task: a.gpus_per_task,
        cpus_per_task: a.cpus_per_task,
        time: a.time,
        mem: a.mem,
    };
    let plan = write_scripts(&exe, &a.spec.to_args()?, &a.out, &opts)?;
    println!("job array: {}", plan.harvest_script.display());
    println!("merge:     {}", plan.merge_script.display());
    if !a.submit {
        println!(
            "submit with: sbatch {} && sbatch --dependency=afterok:ARRAY_ID {}",
            plan.harvest_script.display(),
            plan.merge_script.display()
        );
        return Ok(());
    }
    let (array, merge) = submit(&plan)?;
    println!(
        "submitted job array {array} ({} parts) and merge job {merge} (afterok:{array})",
        a.parts
    );
    println!(
        "follow with: squeue -j {array},{merge}   logs: {}/logs/",
        plan.dir.display()
    );
    println!(
        "a failed part I can be re-run alone (it resumes): sbatch --array=I {}; then the merge: sbatch {}",
        plan.harvest_script.display(),
        plan.merge_script.display()
    );
    Ok(())
}
