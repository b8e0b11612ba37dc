//! Sweeps through the CLI: identical CSVs at any thread count and as merged shards; shard flags,
//! batch-system variables and merge validation; the shipped Slurm example end to end.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod cli_support;
use cli_support::{BIN, dynosim, ok};

/// `dynosim ARGS` with these variables set (on top of the clean slate).
fn dynosim_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = cli_support::command(args);
    c.envs(env.iter().copied());
    c.output().expect("the dynosim binary runs")
}

/// Exit code 2 and a message containing `needle`.
fn rejects(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected exit 2: {err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

/// 2 x 2 sweep points x 3 replications = 12 jobs, two apps, one with two process types.
const SWEEP: &str = r#"
name = "grid"
seed = 2024
duration = "8m"
warmup = "1m"
replications = 3

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 2

[app.workload]
arrivals = { poisson = 30.0 }
cpu = { lognormal = { median = "15ms", p99 = "150ms" } }
wait = { exponential = "10ms" }

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "performance-m"
count = 1
concurrency = 4

[[app.process]]
type = "worker"
size = "standard-2x"
count = 1

[app.workload]
arrivals = { poisson = 40.0 }
cpu = { exponential = "20ms" }

[sweep]
"app.shop.process.web.size" = ["standard-1x", "performance-m"]
"app.api.workload.arrivals.poisson" = [40.0, 60.0]
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn csv_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.ends_with(".csv"))
        .collect();
    v.sort();
    v
}

fn assert_same_csvs(a: &Path, b: &Path) {
    let files = csv_files(a);
    assert_eq!(files, csv_files(b), "{} vs {}", a.display(), b.display());
    for f in &files {
        let (x, y) = (
            std::fs::read(a.join(f)).expect("read"),
            std::fs::read(b.join(f)).expect("read"),
        );
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn a_sweep_gives_identical_csv_with_1_or_2_threads_and_as_3_merged_shards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write(tmp.path(), "grid.toml", SWEEP);
    let t1 = tmp.path().join("t1");
    let t2 = tmp.path().join("t2");
    for (out, threads) in [(&t1, "1"), (&t2, "2")] {
        ok(&[
            "run",
            s(&sc),
            "--out",
            s(out),
            "--threads",
            threads,
            "--requests",
            "--quiet",
        ]);
    }
    let base = tmp.path().join("sharded");
    for k in 0..3 {
        ok(&[
            "run",
            s(&sc),
            "--out",
            s(&base),
            "--shard",
            &format!("{k}/3"),
            "--threads",
            "1",
            "--requests",
            "--quiet",
        ]);
    }
    let shards: Vec<PathBuf> = (0..3)
        .map(|k| tmp.path().join(format!("sharded.shard-{k}-of-3")))
        .collect();
    for sh in &shards {
        let m = std::fs::read_to_string(sh.join("manifest.json")).expect("manifest");
        assert!(m.contains("\"shard\""), "{m}");
        assert!(sh.join("shard-tiers.jsonl").exists());
        assert!(
            !sh.join("latency_cdf.png").exists(),
            "shards leave plots to the merge"
        );
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge"];
    // In reverse order: merge orders by job, not by argument.
    args.extend(shards.iter().rev().map(|p| s(p)));
    args.extend(["--out", s(&merged), "--quiet"]);
    ok(&args);

    assert!(
        csv_files(&t1).contains(&"requests.csv".to_string()),
        "with --requests"
    );
    assert_same_csvs(&t1, &t2);
    assert_same_csvs(&t1, &merged);
    for f in ["latency_by_formation.png", "sweep_p99_cost.svg"] {
        assert!(merged.join(f).exists(), "merge draws the plots: {f}");
        assert_eq!(
            std::fs::read(t1.join(f)).expect("read"),
            std::fs::read(merged.join(f)).expect("read"),
            "same CSVs, same plot: {f}"
        );
    }
    let m = std::fs::read_to_string(merged.join("manifest.json")).expect("manifest");
    assert!(m.contains("merged_from"), "{m}");
}

#[test]
fn shards_split_the_global_job_list_of_several_scenarios() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let a = write(tmp.path(), "a.toml", &SWEEP.replace("\"grid\"", "\"a\""));
    let b = write(
        tmp.path(),
        "b.toml",
        &SWEEP
            .replace("\"grid\"", "\"b\"")
            .replace("replications = 3", "replications = 1"),
    );
    let whole = tmp.path().join("whole");
    ok(&["run", s(&a), s(&b), "--out", s(&whole), "--quiet"]);
    let parts = tmp.path().join("parts");
    for k in 0..2 {
        ok(&[
            "run",
            s(&a),
            s(&b),
            "--out",
            s(&parts),
            "--shard",
            &format!("{k}/2"),
            "--quiet",
        ]);
    }
    for name in ["a", "b"] {
        let merged = tmp.path().join(format!("merged-{name}"));
        ok(&[
            "merge",
            s(&parts.join(format!("{name}.shard-0-of-2"))),
            s(&parts.join(format!("{name}.shard-1-of-2"))),
            "--out",
            s(&merged),
            "--quiet",
        ]);
        assert_same_csvs(&whole.join(name), &merged);
    }
}

#[test]
fn merge_rejects_overlapping_incomplete_and_foreign_shards() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write(
        tmp.path(),
        "grid.toml",
        &SWEEP.replace("duration = \"8m\"", "duration = \"2m\""),
    );
    let base = tmp.path().join("r");
    for k in 0..3 {
        ok(&[
            "run",
            s(&sc),
            "--out",
            s(&base),
            "--shard",
            &format!("{k}/3"),
            "--quiet",
        ]);
    }
    let shard = |k: u32| tmp.path().join(format!("r.shard-{k}-of-3"));
    let out = tmp.path().join("merged");

    // Incomplete: shard 2 missing.
    let r = dynosim(&["merge", s(&shard(0)), s(&shard(1)), "--out", s(&out)]);
    rejects(&r, "4 of 12 jobs are missing");
    rejects(&r, "shard(s) 2 of 3 not given");
    assert!(!out.exists(), "nothing is written on a rejected merge");

    // The same shard twice.
    let r = dynosim(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&shard(1)),
        s(&shard(2)),
        "--out",
        s(&out),
    ]);
    rejects(&r, "given twice");

    // Overlapping jobs: a copy of shard 1 that claims to be shard 2.
    let fake = tmp.path().join("fake");
    std::fs::create_dir(&fake).expect("mkdir");
    for e in std::fs::read_dir(shard(1)).expect("list").flatten() {
        std::fs::copy(e.path(), fake.join(e.file_name())).expect("copy");
    }
    let m = std::fs::read_to_string(fake.join("manifest.json")).expect("manifest");
    let m = m.replacen("\"index\": 1", "\"index\": 2", 1);
    std::fs::write(fake.join("manifest.json"), m).expect("write");
    let r = dynosim(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&fake),
        "--out",
        s(&out),
    ]);
    rejects(&r, "the shards overlap");

    // A shard of another scenario (different file, so a different hash).
    let other = write(
        tmp.path(),
        "other.toml",
        &SWEEP
            .replace("duration = \"8m\"", "duration = \"2m\"")
            .replace("seed = 2024", "seed = 7"),
    );
    let o = tmp.path().join("o");
    ok(&[
        "run",
        s(&other),
        "--out",
        s(&o),
        "--shard",
        "2/3",
        "--quiet",
    ]);
    let r = dynosim(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&tmp.path().join("o.shard-2-of-3")),
        "--out",
        s(&out),
    ]);
    rejects(&r, "not shards of the same run");

    // An ordinary run folder is not a shard.
    let full = tmp.path().join("full");
    ok(&["run", s(&sc), "--out", s(&full), "--quiet"]);
    let r = dynosim(&["merge", s(&full), "--out", s(&out)]);
    rejects(&r, "is not a shard folder");
    // Merging into one of the shards would destroy it.
    let r = dynosim(&[
        "merge",
        s(&shard(0)),
        s(&shard(1)),
        s(&shard(2)),
        "--out",
        s(&shard(0)),
    ]);
    rejects(&r, "is one of the shard folders");
    assert!(!out.exists());
}

#[test]
fn shard_flags_and_batch_variables() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write(
        tmp.path(),
        "grid.toml",
        &SWEEP.replace("duration = \"8m\"", "duration = \"2m\""),
    );
    let out = tmp.path().join("r");
    for bad in ["3/3", "1", "a/2", "1/0", "-1/2", "1/2/3"] {
        let flag = format!("--shard={bad}");
        let r = dynosim(&["run", s(&sc), "--out", s(&out), &flag]);
        assert_eq!(r.status.code(), Some(2), "--shard {bad}");
        assert!(
            String::from_utf8_lossy(&r.stderr).contains("--shard"),
            "names the flag"
        );
    }
    rejects(
        &dynosim(&["run", s(&sc), "--out", s(&out), "--shard-count", "3"]),
        "--shard-count needs a shard index",
    );
    rejects(
        &dynosim(&[
            "run",
            s(&sc),
            "--out",
            s(&out),
            "--shard",
            "1/3",
            "--shard-count",
            "3",
        ]),
        "not both",
    );
    rejects(
        &dynosim_env(
            &["run", s(&sc), "--out", s(&out)],
            &[("JOB_COMPLETION_INDEX", "1")],
        ),
        "DYNOSIM_SHARD_COUNT",
    );
    rejects(
        &dynosim_env(
            &["run", s(&sc), "--out", s(&out)],
            &[("JOB_COMPLETION_INDEX", "4"), ("DYNOSIM_SHARD_COUNT", "4")],
        ),
        "out of range",
    );
    rejects(
        &dynosim_env(
            &["run", s(&sc), "--out", s(&out)],
            &[
                ("SLURM_ARRAY_TASK_ID", "x"),
                ("SLURM_ARRAY_TASK_COUNT", "2"),
            ],
        ),
        "SLURM_ARRAY_TASK_ID must be a whole number",
    );
    assert!(!out.exists(), "nothing written on bad shard input");

    // Slurm array --array=1-2: task 2 is the second shard.
    let r = dynosim_env(
        &["run", s(&sc), "--out", s(&out), "--quiet"],
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
        ],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(tmp.path().join("r.shard-1-of-2/summary.csv").exists());
    // Kubernetes Indexed Job, count from the flag.
    let r = dynosim_env(
        &[
            "run",
            s(&sc),
            "--out",
            s(&out),
            "--quiet",
            "--shard-count",
            "2",
        ],
        &[("JOB_COMPLETION_INDEX", "0")],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(tmp.path().join("r.shard-0-of-2/summary.csv").exists());
    // --shard 0/1 overrides the environment: an ordinary run.
    let r = dynosim_env(
        &["run", s(&sc), "--out", s(&out), "--quiet", "--shard", "0/1"],
        &[("JOB_COMPLETION_INDEX", "0"), ("DYNOSIM_SHARD_COUNT", "2")],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("latency_cdf.png").exists());
    let merged = tmp.path().join("m");
    ok(&[
        "merge",
        s(&tmp.path().join("r.shard-0-of-2")),
        s(&tmp.path().join("r.shard-1-of-2")),
        "--out",
        s(&merged),
        "--quiet",
    ]);
    assert_same_csvs(&out, &merged);
}

#[test]
fn the_shipped_slurm_example_runs_and_merges() {
    // deploy/slurm/sweep.sbatch as Slurm would run it: once per array task, then the merge step.
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm/sweep.sbatch");
    let sc = write(
        tmp.path(),
        "grid.toml",
        &SWEEP.replace("duration = \"8m\"", "duration = \"2m\""),
    );
    let results = tmp.path().join("results/grid");
    let run = |env: &[(&str, &str)]| {
        let mut c = Command::new("bash");
        c.arg(&script)
            .current_dir(tmp.path())
            .env("DYNOSIM", BIN)
            .env("SCENARIO", s(&sc))
            .env("OUT", s(&results))
            .env("SLURM_CPUS_PER_TASK", "1");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().expect("bash runs");
        assert!(
            o.status.success(),
            "sweep.sbatch failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    for k in ["0", "1", "2", "3"] {
        run(&[("SLURM_ARRAY_TASK_ID", k), ("SLURM_ARRAY_TASK_COUNT", "4")]);
    }
    run(&[("DYNOSIM_MERGE", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")]);
    let whole = tmp.path().join("whole");
    ok(&["run", s(&sc), "--out", s(&whole), "--quiet"]);
    assert_same_csvs(&whole, &results);
    assert!(results.join("p99_over_time.png").exists());
}
