//! Harvesting in parts (`harvest --part I/N`, as a Slurm job array runs it) and `harvest
//! merge`, on the real SmolLM2: the merged store equals one harvest of the whole data set, a
//! part killed with SIGKILL resumes alone to the same result, and broken part sets are refused
//! with a message naming the part and the reason.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{max_abs, max_diff, mindlens, model};
use mindlens::harvest::ActivationStore;

const SMOL: &str = "smollm2-135m-instruct";
const PARTS: usize = 4;

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn err(o: Output) -> String {
    assert_eq!(o.status.code(), Some(1), "expected a clean error");
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Rows of 2 to 40 words, deterministic, with an id.
fn write_data(path: &Path, n: usize) {
    let words = [
        "river", "Paris", "seven", "blue", "engine", "the", "of", "runs", "and", "quietly",
    ];
    let mut text = String::new();
    for i in 0..n {
        let len = 2 + (i * 13) % 39;
        let sentence: Vec<&str> = (0..len).map(|j| words[(i * 3 + j * 7) % words.len()]).collect();
        text.push_str(&serde_json::json!({"text": sentence.join(" "), "id": i}).to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn args(data: &Path, out: &Path, positions: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "harvest",
        "--data",
        data.to_str().unwrap(),
        "--hooks",
        "blocks.1.hook_resid_post,blocks.6.hook_resid_post",
        "--positions",
        positions,
        "--shard-mib",
        "0.05",
        "--window-shards",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(a: &[String]) -> Output {
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    mindlens(&refs)
}

fn merge(parts: &[PathBuf], out: &Path) -> Output {
    let mut a = vec!["harvest".to_string(), "merge".into()];
    a.extend(parts.iter().map(|p| p.to_str().unwrap().to_string()));
    a.extend(["--out".into(), out.to_str().unwrap().into()]);
    run(&a)
}

/// Same rows, same vectors for every (row, position) and the same summary fields.
fn assert_same_store(whole: &Path, merged: &Path) {
    let (a, b) = (
        ActivationStore::open(whole).unwrap(),
        ActivationStore::open(merged).unwrap(),
    );
    let (ma, mb) = (&a.manifest, &b.manifest);
    assert!(mb.complete);
    assert_eq!(
        (ma.rows, ma.vectors, ma.tokens, &ma.hooks, &ma.widths, &ma.positions),
        (mb.rows, mb.vectors, mb.tokens, &mb.hooks, &mb.widths, &mb.positions)
    );
    assert_eq!(
        (ma.dtype, ma.multi_token, &ma.data.sha256),
        (mb.dtype, mb.multi_token, &mb.data.sha256)
    );
    assert_eq!(mb.merged_from.len(), PARTS);
    assert_eq!(
        std::fs::read(whole.join("rows.jsonl")).unwrap(),
        std::fs::read(merged.join("rows.jsonl")).unwrap(),
        "rows.jsonl: same rows, same order"
    );
    assert_eq!(a.token_index().unwrap(), b.token_index().unwrap());
    for h in a.hooks().unwrap() {
        let (x, y) = (a.load(h).unwrap(), b.load(h).unwrap());
        assert_eq!(x.shape(), y.shape(), "{h}");
        // Parts batch rows differently (other padding), so equal to float tolerance.
        let (x, y) = (x.as_slice().unwrap(), y.as_slice().unwrap());
        assert!(max_diff(x, y) <= 1e-4 * max_abs(x), "{h}: {}", max_diff(x, y));
    }
    // Streaming reads see the vectors in the same order.
    let h = a.hooks().unwrap()[0];
    let n: usize = b
        .chunks(h, 7, mindlens::harvest::ChunkOrder::Sequential)
        .unwrap()
        .map(|c| c.unwrap().nrows())
        .sum();
    assert_eq!(n, ma.vectors);
}

#[test]
fn parts_merge_to_the_single_process_store_and_a_killed_part_resumes_alone() {
    let Some(_) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let data = p("d.jsonl");
    write_data(&data, 160);
    ok(run(&args(&data, &p("whole"), "all", &[])));

    let parts: Vec<PathBuf> = (0..PARTS).map(|i| p(&format!("part-{i}"))).collect();
    for (i, part) in parts.iter().enumerate() {
        if i != 2 {
            ok(run(&args(&data, part, "all", &["--part", &format!("{i}/{PARTS}")])));
        }
    }
    // Part 2 is killed with SIGKILL once some of its shards are on disk...
    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(args(&data, &parts[2], "all", &["--part", "2/4"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while ActivationStore::open(&parts[2]).map_or(0, |s| s.manifest.shards.len()) < 3
        && t.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !ActivationStore::open(&parts[2]).unwrap().manifest.complete,
        "part 2 finished before it could be killed"
    );
    // ...and the merge refuses it until it is finished.
    let e = err(merge(&parts, &p("merged")));
    assert!(
        e.contains("part-2") && e.contains("incomplete") && e.contains("--resume"),
        "{e}"
    );
    ok(run(&args(&data, &parts[2], "all", &["--part", "2/4", "--resume"])));

    // The parts took similar shares of the tokens.
    let tokens: Vec<u64> = parts
        .iter()
        .map(|d| ActivationStore::open(d).unwrap().manifest.tokens)
        .collect();
    let (lo, hi) = (tokens.iter().min().unwrap(), tokens.iter().max().unwrap());
    assert!(*hi as f64 <= 1.3 * *lo as f64, "unbalanced parts: {tokens:?}");

    // Merged in any order, the store is the single-process one.
    let shuffled = vec![parts[3].clone(), parts[0].clone(), parts[2].clone(), parts[1].clone()];
    ok(merge(&shuffled, &p("merged")));
    assert_same_store(&p("whole"), &p("merged"));
    // Shard files are linked, not copied, where the file system allows.
    let merged = ActivationStore::open(&p("merged")).unwrap();
    let f = p("merged").join("blocks.1.hook_resid_post/shard-00000.npy");
    assert!(merged.manifest.shards.len() > 1 && f.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&f).unwrap().nlink(), 2, "hard-linked");
    }

    // Broken part sets: a missing part, a part given twice, a part made another way.
    let e = err(merge(&parts[..3], &p("m2")));
    assert!(e.contains("part 3/4 is missing"), "{e}");
    let e = err(merge(
        &[parts[0].clone(), parts[1].clone(), parts[1].clone(), parts[3].clone()],
        &p("m3"),
    ));
    assert!(e.contains("part 1/4 is given twice"), "{e}");
    ok(run(&args(&data, &p("last-1"), "last", &["--part", "1/4"])));
    let e = err(merge(
        &[parts[0].clone(), p("last-1"), parts[2].clone(), parts[3].clone()],
        &p("m4"),
    ));
    assert!(e.contains("last-1") && e.contains("positions"), "{e}");
    let e = err(merge(&[p("whole")], &p("m5")));
    assert!(e.contains("whole") && e.contains("not a part store"), "{e}");
    // And the merge does not overwrite a store unasked.
    let e = err(merge(&parts, &p("merged")));
    assert!(e.contains("--force"), "{e}");
}

/// A single-node Slurm cluster started by `scripts/slurm_local.sh` for one test and stopped
/// (only its own daemons) when dropped.
struct LocalSlurm {
    state: tempfile::TempDir,
}

impl LocalSlurm {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_local.sh")
    }

    /// `None` (with a message) where Slurm is not installed, unless `MINDLENS_REQUIRE_SLURM`
    /// is set, as CI sets it after `scripts/slurm_local.sh install`: then that fails.
    fn start() -> Option<Self> {
        let installed = ["slurmctld", "slurmd", "sbatch", "munged"].iter().all(|b| {
            ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
                .iter()
                .any(|d| Path::new(d).join(b).exists())
        });
        if !installed {
            assert!(
                std::env::var_os("MINDLENS_REQUIRE_SLURM").is_none(),
                "Slurm is not installed and MINDLENS_REQUIRE_SLURM is set (scripts/slurm_local.sh install)"
            );
            eprintln!("SKIP: Slurm is not installed (scripts/slurm_local.sh install)");
            return None;
        }
        let state = tempfile::tempdir().unwrap();
        let o = Command::new(Self::script())
            .arg("start")
            .env("MINDLENS_SLURM_DIR", state.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "slurm start: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Some(LocalSlurm { state })
    }

    fn conf(&self) -> PathBuf {
        self.state.path().join("slurm.conf")
    }
}

impl Drop for LocalSlurm {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("stop")
            .env("MINDLENS_SLURM_DIR", self.state.path())
            .output();
    }
}

#[test]
fn a_slurm_job_array_and_its_merge_job_harvest_the_single_process_store() {
    let Some(_) = model(SMOL) else { return };
    let Some(cluster) = LocalSlurm::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let data = p("d.jsonl");
    write_data(&data, 200);
    ok(run(&args(&data, &p("whole"), "all", &[])));

    let mut a = args(&data, &p("merged"), "all", &["--parts", &PARTS.to_string(), "--submit"]);
    a[0] = "harvest".into();
    a.insert(0, "slurm".into());
    let o = ok(Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(&a)
        .env("SLURM_CONF", cluster.conf())
        .output()
        .unwrap());
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    // "submitted job array A (4 parts) and merge job M (afterok:A)"
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let id = |w: &str, skip: usize| words[words.iter().position(|x| *x == w).unwrap() + skip].to_string();
    let (array, merge_job) = (id("array", 1), id("merge", 2));
    assert!(stdout.contains(&format!("afterok:{array}")), "{stdout}");

    let t = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &format!("{array},{merge_job}")])
            .env("SLURM_CONF", cluster.conf())
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "jobs still queued: {}",
            String::from_utf8_lossy(&q.stdout)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs = p("merged.slurm/logs");
    let log_text = || {
        std::fs::read_dir(&logs)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| {
                        format!(
                            "{}:\n{}",
                            e.path().display(),
                            std::fs::read_to_string(e.path()).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    assert!(
        p("merged/manifest.json").exists(),
        "no merged store; logs:\n{}",
        log_text()
    );
    assert_same_store(&p("whole"), &p("merged"));
    for i in 0..PARTS {
        assert!(
            logs.join(format!("part-{i}.out")).exists(),
            "part {i} ran as an array task"
        );
    }
}

#[test]
fn slurm_harvest_writes_the_scripts_and_says_so_where_sbatch_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    write_data(&p("d.jsonl"), 10);
    let mut a = args(&p("d.jsonl"), &p("store"), "last", &["--parts", "3", "--submit"]);
    a.insert(0, "slurm".into());
    let o = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(&a)
        .env("PATH", "")
        .output()
        .unwrap();
    let e = err(o);
    assert!(e.contains("sbatch") && e.contains("harvest.sbatch"), "{e}");
    let script = std::fs::read_to_string(p("store.slurm/harvest.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-2") && script.contains("--part \"$SLURM_ARRAY_TASK_ID/3\""));
    assert!(
        script.contains(&p("d.jsonl").display().to_string()),
        "absolute data path: {script}"
    );
}
