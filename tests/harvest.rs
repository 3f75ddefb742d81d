//! Activation harvesting on the real SmolLM2: the store equals `mindlens cache`, a harvest
//! killed with SIGKILL resumes to exactly the uninterrupted store, mismatched resumes are
//! refused, and the store streams every vector once.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{max_abs, max_diff, mindlens, model};
use mindlens::harvest::{ActivationStore, ChunkOrder};
use mindlens::prelude::*;
use ndarray::Array2;

const SMOL: &str = "smollm2-135m-instruct";

fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Rows of 3 to 60 words with a label and a group, deterministic.
fn write_data(path: &Path, n: usize) {
    let words = [
        "alpha", "river", "quietly", "Paris", "seven", "blue", "engine", "the", "of", "runs", "and",
    ];
    let mut text = String::new();
    for i in 0..n {
        let len = 3 + (i * 37) % 58;
        let sentence: Vec<&str> = (0..len).map(|j| words[(i * 7 + j * 3) % words.len()]).collect();
        let row =
            serde_json::json!({"text": sentence.join(" "), "label": i % 2, "group": format!("g{}", i % 5), "id": i});
        text.push_str(&row.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn stored_activations_equal_mindlens_cache() {
    let Some(_) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    write_data(&data, 12);
    let hooks = "blocks.3.hook_resid_post,blocks.17.hook_mlp_out";
    let (cache, store) = (dir.path().join("cache"), dir.path().join("store"));
    ok(mindlens(&[
        "cache",
        "--prompts",
        data.to_str().unwrap(),
        "--hooks",
        hooks,
        "--out",
        cache.to_str().unwrap(),
    ]));
    ok(mindlens(&[
        "harvest",
        "--data",
        data.to_str().unwrap(),
        "--hooks",
        hooks,
        "--positions",
        "all",
        "--batch-tokens",
        "200",
        "--out",
        store.to_str().unwrap(),
    ]));
    let st = ActivationStore::open(&store).unwrap();
    assert!(st.manifest.complete);
    assert_eq!(st.manifest.rows, 12);
    let index = st.token_index().unwrap().expect("multi-token store has an index");
    let rows = st.rows().unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[5]["id"], 5);
    assert!(
        rows[5].get("text").is_none(),
        "the prompt itself is not a carried field"
    );
    for hook in hooks.split(',') {
        let all = st.load(hook.parse().unwrap()).unwrap();
        assert_eq!(all.nrows(), index.nrows());
        let mut at = 0;
        for p in 0..12 {
            let c: Array2<f32> = mindlens::artifact::read_npy(&cache.join(format!("p{p}/{hook}.npy"))).unwrap();
            let s = all.slice(ndarray::s![at..at + c.nrows(), ..]).to_owned();
            assert!(index
                .slice(ndarray::s![at..at + c.nrows(), 0])
                .iter()
                .all(|&r| r == p as i64));
            let e = max_diff(s.as_slice().unwrap(), c.as_slice().unwrap()) / max_abs(c.as_slice().unwrap());
            assert!(e < 1e-4, "row {p} {hook}: relative error {e}");
            at += c.nrows();
        }
        assert_eq!(at, all.nrows());
    }
}

fn harvest_args<'a>(data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "harvest",
        "--data",
        data,
        "--hooks",
        "blocks.2.hook_resid_post,blocks.9.hook_resid_post",
        "--positions",
        "last",
        "--batch-tokens",
        "256",
        "--shard-mib",
        "0.05",
        "--out",
        out,
    ]
}

#[test]
fn a_killed_harvest_resumes_to_the_uninterrupted_store() {
    let Some(_) = model(SMOL) else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    write_data(&data, 300);
    let (full, killed) = (dir.path().join("full"), dir.path().join("killed"));
    let d = data.to_str().unwrap();

    ok(mindlens(&harvest_args(d, full.to_str().unwrap())));

    let mut child = Command::new(env!("CARGO_BIN_EXE_mindlens"))
        .args(harvest_args(d, killed.to_str().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a window of shards is on disk, mid-run.
    let t = Instant::now();
    loop {
        let shards = ActivationStore::open(&killed)
            .map(|s| s.manifest.shards.len())
            .unwrap_or(0);
        if shards >= 3 || t.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = ActivationStore::open(&killed).unwrap();
    assert!(
        !partial.manifest.complete,
        "the harvest finished before it could be killed"
    );

    let mut args = harvest_args(d, killed.to_str().unwrap());
    args.push("--resume");
    ok(mindlens(&args));

    let (a, b) = (
        ActivationStore::open(&full).unwrap(),
        ActivationStore::open(&killed).unwrap(),
    );
    assert!(b.manifest.complete);
    assert_eq!(a.manifest.rows, 300);
    assert_eq!(b.manifest.rows, 300);
    assert_eq!(a.manifest.shards, b.manifest.shards);
    assert_eq!(
        std::fs::read(full.join("rows.jsonl")).unwrap(),
        std::fs::read(killed.join("rows.jsonl")).unwrap(),
        "rows.jsonl must have no lost and no duplicated rows"
    );
    for h in a.hooks().unwrap() {
        assert_eq!(a.load(h).unwrap(), b.load(h).unwrap(), "{h}");
    }
    let ids: Vec<i64> = b.rows().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, (0..300).collect::<Vec<_>>());

    // Resuming with another hook set or another data file is refused.
    let mut other = harvest_args(d, killed.to_str().unwrap());
    other[4] = "blocks.2.hook_resid_post";
    other.push("--resume");
    let o = mindlens(&other);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hooks"));
    let data2 = dir.path().join("d2.jsonl");
    write_data(&data2, 301);
    let mut other = harvest_args(data2.to_str().unwrap(), killed.to_str().unwrap());
    other.push("--resume");
    let o = mindlens(&other);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("data file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // And a fresh harvest into a non-empty store without --force is refused.
    let o = mindlens(&harvest_args(d, killed.to_str().unwrap()));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
}

#[test]
fn library_harvest_streams_positions_and_dtypes() {
    let Some(m) = model(SMOL) else { return };
    use mindlens::harvest::{harvest, HarvestOptions, PositionSpec};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.jsonl");
    std::fs::write(
        &data,
        concat!(
            "{\"text\": \"The city Paris is lovely\", \"entity\": \"Paris\", \"label\": 1}\n",
            "{\"text\": \"The river Zorblax flows north\", \"entity\": [10, 17], \"label\": 0}\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Name a colour.\"}], \"entity\": \"colour\", \"label\": 1}\n",
        ),
    )
    .unwrap();
    let hook = HookPoint::ResidPost(4);
    let run = |positions: PositionSpec, dtype, out: &str| {
        let opts = HarvestOptions {
            hooks: vec![hook],
            positions,
            dtype,
            progress: false,
            ..Default::default()
        };
        harvest(m, &data, &dir.path().join(out), &opts).unwrap();
        ActivationStore::open(&dir.path().join(out)).unwrap()
    };
    let span = run(
        PositionSpec::Span("entity".into()),
        mindlens::artifact::Dtype::F32,
        "span",
    );
    let all = run(PositionSpec::All, mindlens::artifact::Dtype::F16, "all");
    let index = all.token_index().unwrap().unwrap();
    let all_acts = all.load(hook).unwrap();
    let span_acts = span.load(hook).unwrap();
    assert_eq!(span_acts.nrows(), 3);
    // Row 0: "Paris" is the last token overlapping the span; check it against the full capture.
    let ids = m.tokenizer.encode("The city Paris is lovely", true).unwrap();
    let paris = (0..ids.len())
        .rev()
        .find(|&i| m.tokenizer.decode(&ids[i..=i], true).unwrap().contains("Paris"))
        .unwrap();
    let k = (0..index.nrows())
        .find(|&k| index[[k, 0]] == 0 && index[[k, 1]] == paris as i64)
        .unwrap();
    let f16_err = max_diff(
        span_acts.row(0).as_slice().unwrap(),
        all_acts.row(k).as_slice().unwrap(),
    );
    assert!(
        f16_err < 1e-2 * max_abs(span_acts.row(0).as_slice().unwrap()),
        "f16 error {f16_err}"
    );

    // Streaming: every vector exactly once, in order or shuffled.
    let seq: Vec<Array2<f32>> = all
        .chunks(hook, 4, ChunkOrder::Sequential)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let stacked = ndarray::concatenate(ndarray::Axis(0), &seq.iter().map(|a| a.view()).collect::<Vec<_>>()).unwrap();
    assert_eq!(stacked, all_acts);
    let shuf: Vec<Array2<f32>> = all
        .chunks(hook, 5, ChunkOrder::Shuffled { seed: 3 })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut a: Vec<u32> = shuf
        .iter()
        .flat_map(|c| c.column(0).to_vec())
        .map(f32::to_bits)
        .collect();
    let mut b: Vec<u32> = all_acts.column(0).iter().map(|x| x.to_bits()).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
