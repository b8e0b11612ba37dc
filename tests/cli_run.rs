//! `dynosim run`, `check` and `catalog` end to end through the binary.

mod cli_support;
use cli_support::{dynosim, ok};

use std::path::{Path, PathBuf};

const SWEEP: &str = r#"
name = "det"
seed = 123
duration = "15m"
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
size = "performance-m"
count = 1

[app.workload]
arrivals = { poisson = 40.0 }
cpu = { exponential = "20ms" }

[sweep]
"app.shop.process.web.count" = [2, 3]
"app.api.workload.arrivals.poisson" = [40.0, 60.0]
"#;

fn write_scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write scenario");
    p
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

#[test]
fn the_same_scenario_and_seed_give_identical_csv_at_any_thread_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write_scenario(tmp.path(), "det.toml", SWEEP);
    let sc = sc.to_str().expect("utf-8 path");
    let mut outs = Vec::new();
    for (i, threads) in ["1", "2", "2", "3"].iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        ok(&[
            "run",
            sc,
            "--out",
            out.to_str().expect("utf-8"),
            "--threads",
            threads,
            "--requests",
            "--quiet",
        ]);
        outs.push(out);
    }
    for file in ["summary.csv", "windows.csv", "dynos.csv", "requests.csv"] {
        let first = read(&outs[0], file);
        assert!(first.len() > 100, "{file} is empty");
        for o in &outs[1..] {
            assert!(
                read(o, file) == first,
                "{file} differs between thread counts"
            );
        }
    }
    // 4 points x 3 replications x 3 process rows.
    let summary = String::from_utf8(read(&outs[0], "summary.csv")).expect("utf-8");
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(lines.len(), 1 + 4 * 3 * 3);
    let header: Vec<&str> = lines[0].split(',').collect();
    for col in [
        "scenario",
        "point",
        "app.shop.process.web.count",
        "app.api.workload.arrivals.poisson",
        "replication",
        "seed",
        "app",
        "process",
        "size",
        "tier",
        "dynos",
        "requests",
        "completed",
        "errors",
        "mean_ms",
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "throughput_rps",
        "cost_usd_month",
    ] {
        assert!(header.contains(&col), "summary.csv lacks column {col}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&outs[0], "manifest.json")).expect("manifest is JSON");
    assert_eq!(manifest["scenario"], "det");
    assert_eq!(manifest["jobs"].as_array().map(Vec::len), Some(12));
    assert_eq!(manifest["scenario_sha256"].as_str().map(str::len), Some(64));
}

/// Parse a CSV into a header and rows of strings.
fn table(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(bytes);
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("record").iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

#[test]
fn requests_csv_holds_every_decided_request_once_and_agrees_with_the_summary() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = r#"
name = "agree"
seed = 5
duration = "10m"
warmup = "30s"
replications = 2
[[app]]
name = "hot"
[[app.process]]
type = "web"
size = "basic"
count = 1
concurrency = 3
[app.workload]
arrivals = { poisson = 12.0 }
cpu = { exponential = "100ms" }
"#;
    let sc = write_scenario(tmp.path(), "agree.toml", text);
    let out = tmp.path().join("o");
    ok(&[
        "run",
        sc.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--requests",
        "--quiet",
    ]);
    let (sh, srows) = table(&read(&out, "summary.csv"));
    let (rh, rrows) = table(&read(&out, "requests.csv"));
    for rep in ["0", "1"] {
        let s = srows
            .iter()
            .find(|r| r[col(&sh, "replication")] == rep)
            .expect("summary row");
        let n = |c: &str| s[col(&sh, c)].parse::<u64>().expect("integer");
        let mine: Vec<_> = rrows
            .iter()
            .filter(|r| r[col(&rh, "replication")] == rep)
            .collect();
        let count = |status: &str| {
            mine.iter()
                .filter(|r| r[col(&rh, "status")] == status)
                .count() as u64
        };
        assert_eq!(count("ok"), n("completed"));
        for code in ["H10", "H11", "H12", "H13", "H14", "H20"] {
            assert_eq!(
                count(code),
                n(&format!("errors_{}", code.to_lowercase())),
                "{code}"
            );
        }
        // Overloaded: the routers shed load (H11) and the rest time out (H12).
        assert!(
            n("errors_h11") + n("errors_h12") > 0,
            "the scenario should overload the dyno"
        );
        assert_eq!(mine.len() as u64, n("completed") + n("errors"));
        assert_eq!(n("requests"), n("completed") + n("errors") + n("in_flight"));
        // Request ids are unique.
        let mut ids: Vec<&str> = mine
            .iter()
            .map(|r| r[col(&rh, "request")].as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), mine.len());
        // The split adds up to the latency for completed requests (to rounding of 4 decimals).
        for r in mine
            .iter()
            .filter(|r| r[col(&rh, "status")] == "ok")
            .take(500)
        {
            let f = |c: &str| r[col(&rh, c)].parse::<f64>().expect("number");
            let parts = f("router_ms")
                + f("network_ms")
                + f("queue_ms")
                + f("cpu_ms")
                + f("downstream_ms")
                + f("wait_ms");
            assert!((parts - f("latency_ms")).abs() < 1e-3, "{r:?}");
        }
    }
}

#[test]
fn seed_and_replications_can_be_overridden() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = r#"
seed = 1
duration = "5m"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-2x"
[app.workload]
arrivals = { poisson = 10.0 }
cpu = { exponential = "30ms" }
"#;
    let sc = write_scenario(tmp.path(), "ovr.toml", text);
    let sc = sc.to_str().expect("utf-8");
    let run = |extra: &[&str], out: &str| {
        let o = tmp.path().join(out);
        let mut args = vec!["run", sc, "--out", o.to_str().expect("utf-8"), "--quiet"];
        args.extend_from_slice(extra);
        ok(&args);
        String::from_utf8(read(&o, "summary.csv")).expect("utf-8")
    };
    let base = run(&[], "a");
    let reseeded = run(&["--seed", "2"], "b");
    let more = run(&["--replications", "4"], "c");
    assert_eq!(base.lines().count(), 2);
    assert_ne!(base, reseeded);
    assert_eq!(more.lines().count(), 5);
    // Replication 0 is the same whether 1 or 4 are run.
    assert_eq!(base.lines().nth(1), more.lines().nth(1));
}

#[test]
fn a_new_run_replaces_the_previous_folder_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write_scenario(tmp.path(), "small.toml", SMALL);
    let out = tmp.path().join("res");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            sc.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        ok(&args);
    };
    run(&["--requests"]);
    assert!(out.join("requests.csv").exists());
    run(&[]);
    assert!(
        !out.join("requests.csv").exists(),
        "the folder is replaced, not merged: requests.csv only with --requests"
    );
    for f in ["summary.csv", "windows.csv", "dynos.csv", "manifest.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("list")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folders left behind: {leftovers:?}"
    );
}

const SMALL: &str = "duration = \"1m\"\n[[app]]\nname = \"a\"\n[[app.process]]\ntype = \"web\"\nsize = \"eco\"\n[app.workload]\narrivals = { poisson = 1.0 }\ncpu = \"5ms\"\n";

/// Every file under `dir` with its bytes, to show that nothing was touched.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("list").flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            if p.is_dir() {
                todo.push(p.clone());
                out.push((p, Vec::new()));
            } else {
                out.push((p.clone(), std::fs::read(&p).expect("read")));
            }
        }
    }
    out.sort();
    out
}

/// Issue 14: `--out proj` replaced the scenario's own folder, deleting the scenario and its
/// traces. Only a folder dynosim wrote (or an empty one) is replaced; anything else is exit 2,
/// before anything is simulated, with nothing touched.
#[test]
fn run_refuses_to_replace_a_folder_dynosim_did_not_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let proj = tmp.path().join("proj");
    std::fs::create_dir_all(proj.join("traces")).expect("mkdir");
    let sc = write_scenario(&proj, "s.toml", SMALL);
    std::fs::write(proj.join("traces/cpu.csv"), "cpu_ms\n5\n").expect("write");
    std::fs::write(proj.join("notes.txt"), "keep me").expect("write");
    let before = snapshot(tmp.path());
    let sc = sc.to_str().expect("utf-8");
    for out in [
        proj.clone(),
        // The same folder spelled otherwise: relative, through `..`, through a symlink.
        proj.join("traces/.."),
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&proj, &link).expect("symlink");
            link
        },
    ] {
        let r = dynosim(&["run", sc, "--out", out.to_str().expect("utf-8"), "--quiet"]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{}: {err}", out.display());
        assert!(err.contains("not a dynosim output folder"), "{err}");
        assert!(
            err.contains("`notes.txt`"),
            "names what is in the way: {err}"
        );
        assert!(!err.contains("keep me"), "never echoes contents: {err}");
    }
    let r = cli_support::command(&[])
        .args(["run", "s.toml", "--out", ".", "--quiet"])
        .current_dir(&proj)
        .output()
        .expect("runs");
    assert_eq!(r.status.code(), Some(2), "--out . from inside the project");
    assert_eq!(before, snapshot(tmp.path()), "nothing was touched");

    // A dynosim folder into which someone put a file of their own is refused too.
    let res = tmp.path().join("res");
    ok(&["run", sc, "--out", res.to_str().expect("utf-8"), "--quiet"]);
    std::fs::write(res.join("analysis.ipynb"), "{}").expect("write");
    let r = dynosim(&["run", sc, "--out", res.to_str().expect("utf-8"), "--quiet"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(res.join("analysis.ipynb").exists() && res.join("summary.csv").exists());
    // An empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    ok(&[
        "run",
        sc,
        "--out",
        empty.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(empty.join("summary.csv").exists());
}

/// Issue 14: `--out` naming an existing file is bad input (exit 2), not a failure (1).
#[test]
fn run_out_naming_a_file_is_bad_input() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write_scenario(tmp.path(), "s.toml", SMALL);
    let file = tmp.path().join("results.txt");
    std::fs::write(&file, "mine").expect("write");
    for out in [file.clone(), file.join("sub")] {
        let r = dynosim(&[
            "run",
            sc.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
        ]);
        assert_eq!(
            r.status.code(),
            Some(2),
            "{}: {}",
            out.display(),
            String::from_utf8_lossy(&r.stderr)
        );
    }
    assert_eq!(std::fs::read(&file).expect("read"), b"mine");
}

/// Issue 14: staging names must fit 255 bytes for any output name that does (was
/// `.<name>.partial-<pid>`, too long for names past ~230 bytes).
#[test]
fn an_output_name_of_255_bytes_works() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write_scenario(tmp.path(), "s.toml", SMALL);
    let out = tmp.path().join("r".repeat(255));
    for _ in 0..2 {
        ok(&[
            "run",
            sc.to_str().expect("utf-8"),
            "--out",
            out.to_str().expect("utf-8"),
            "--quiet",
        ]);
    }
    assert!(out.join("summary.csv").exists());
}

#[test]
fn the_default_output_folder_is_outputs_slash_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let text = "name = \"named\"\nduration = \"1m\"\n[[app]]\nname = \"a\"\n[[app.process]]\ntype = \"web\"\nsize = \"basic\"\n[app.workload]\narrivals = { poisson = 1.0 }\ncpu = \"5ms\"\n";
    let sc = write_scenario(tmp.path(), "file-stem.toml", text);
    let out = cli_support::command(&[])
        .args(["run", sc.to_str().expect("utf-8")])
        .current_dir(tmp.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tmp.path().join("outputs/named/summary.csv").exists());
    // Not a terminal: no progress bar, but a one-line summary naming the folder.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("outputs/named"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn check_lists_the_expanded_jobs_without_writing_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = write_scenario(tmp.path(), "det.toml", SWEEP);
    let out = cli_support::command(&[])
        .args(["check", sc.to_str().expect("utf-8")])
        .current_dir(tmp.path())
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 point(s), 12 job(s)"), "{text}");
    assert!(text.contains("app.shop.process.web.count=3"), "{text}");
    assert_eq!(text.matches("\n  job ").count(), 12, "{text}");
    assert!(!tmp.path().join("outputs").exists());
}

#[test]
fn check_counts_the_calls_a_process_receives() {
    let sc = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/private-space.toml");
    let text =
        String::from_utf8(ok(&["check", sc.to_str().expect("utf-8")]).stdout).expect("utf-8");
    // 60 pages/s, 3 catalog calls each.
    let line = text
        .lines()
        .find(|l| l.contains("catalog-api/catalog:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("180.0 req/s (180.0 of them calls)"), "{line}");
    assert!(!line.contains("offered CPU load 0%"), "{line}");
}

#[test]
fn the_catalog_prints_as_table_csv_and_json() {
    let table = String::from_utf8(ok(&["catalog"]).stdout).expect("utf-8");
    for size in [
        "eco",
        "basic",
        "standard-1x",
        "standard-2x",
        "performance-m",
        "performance-l",
        "private-s",
        "shield-m",
        "dyno-1c-0.5gb",
        "dyno-2c-8gb",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(&format!("{size} "))),
            "table lacks {size}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&ok(&["catalog", "--format", "json"]).stdout).expect("json");
    let sizes = json.as_array().expect("array");
    let std1x = sizes
        .iter()
        .find(|s| s["name"] == "standard-1x")
        .expect("standard-1x");
    assert_eq!(std1x["ram_mb"], 512);
    assert_eq!(std1x["dedicated"], false);
    assert_eq!(std1x["price_usd_month"], 25.0);
    let perf_m = sizes
        .iter()
        .find(|s| s["name"] == "performance-m")
        .expect("performance-m");
    assert_eq!(perf_m["dedicated"], true);
    assert_eq!(perf_m["r15_factor"], 2.0);
    let csv_out = ok(&["catalog", "--format", "csv"]).stdout;
    let (h, rows) = table_of(&csv_out);
    assert_eq!(rows.len(), sizes.len());
    assert!(h.contains(&"vcpus_basis".to_string()));
    let bad = dynosim(&["catalog", "--format", "yaml"]);
    assert_eq!(bad.status.code(), Some(2));
}

fn table_of(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    table(bytes)
}
