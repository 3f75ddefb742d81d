//! A suite run killed mid-way (SIGKILL) and started again with the same settings continues
//! from its last finished stage and ends with the same `results.json` as an uninterrupted
//! run. The run is the belief suite at CI size on SmolLM2, in a child process (this test
//! binary again, running the ignored `belief_child`) so that it can be killed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mindlens::concepts::belief::{Belief, BeliefOptions};
use mindlens::concepts::{redraw, run_suite, Suite};

const SMOL: &str = "smollm2-135m-instruct";
const OUT_VAR: &str = "MINDLENS_RESUME_CHILD_OUT";

fn opts() -> BeliefOptions {
    BeliefOptions {
        data_dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("probes/belief"),
        max_stories: Some(20),
        layers: Some(vec![2, 8, 14, 20]),
        head_layers: Some(vec![8, 14]),
        alphas: vec![-0.5, 0.5],
        max_questions: Some(8),
        top_heads: 4,
        ..Default::default()
    }
}

/// The suite run the parent starts (and kills); does nothing unless the parent set the
/// output directory.
#[test]
#[ignore = "run by a_killed_suite_run_resumes_to_identical_results in a child process"]
fn belief_child() {
    let Some(out) = std::env::var_os(OUT_VAR) else { return };
    let m = common::model(SMOL).expect("the parent checked the model");
    run_suite::<Belief, _>(m, &opts(), Path::new(&out), false).unwrap();
}

fn child(out: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "belief_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .env(OUT_VAR, out);
    c
}

/// Stages finished so far (their files; a write in progress is a hidden temporary file).
fn finished_stages(out: &Path) -> usize {
    let files: Vec<PathBuf> = std::fs::read_dir(out.join("stages"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .count()
}

#[test]
fn a_killed_suite_run_resumes_to_identical_results() {
    if common::model(SMOL).is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (whole, killed) = (tmp.path().join("whole"), tmp.path().join("killed"));
    assert!(child(&whole).status().unwrap().success(), "uninterrupted run failed");

    // Kill the second run as soon as its first stage is on disk: the harvest is done and
    // the later stages are not.
    let mut run = child(&killed).spawn().unwrap();
    let started = Instant::now();
    while finished_stages(&killed) == 0 {
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "no stage finished in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run.kill().unwrap(); // SIGKILL
    run.wait().unwrap();
    assert!(!killed.join("results.json").exists(), "killed after the end");
    let kept = finished_stages(&killed);
    let first = killed.join("stages/probes.json");
    let written = std::fs::metadata(&first).and_then(|m| m.modified()).unwrap();

    assert!(child(&killed).status().unwrap().success(), "resumed run failed");
    let read = |d: &Path| std::fs::read_to_string(d.join("results.json")).unwrap();
    assert_eq!(
        read(&killed),
        read(&whole),
        "a resumed run must end with the same results"
    );
    assert!(finished_stages(&killed) > kept);
    let reused = std::fs::metadata(&first).and_then(|m| m.modified()).unwrap();
    assert_eq!(written, reused, "the finished stage must be reused, not redone");

    // `mindlens plot` redraws the figures and the report from results.json alone.
    let again = tmp.path().join("again");
    let files = redraw(
        Belief::KIND,
        &whole.join("results.json"),
        &again.join("figures"),
        &again,
    )
    .unwrap()
    .expect("belief is a registered suite");
    assert!(files.iter().any(|f| f.ends_with("report.md")), "{files:?}");
    assert!(files.iter().all(|f| f.exists()), "{files:?}");
    let report = |d: &Path| std::fs::read_to_string(d.join("report.md")).unwrap();
    assert_eq!(
        report(&again),
        report(&whole),
        "the report must come from the results alone"
    );
}
