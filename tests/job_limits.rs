//! Huge jobs (issue 14, point 5): `replications = 100000000` and a 10^12-point sweep used to pass
//! validation and abort allocating (exit 134); a 10^6-point sweep left `check` silent for over a
//! minute. Every scenario over the documented limit of 100,000 jobs is refused at once with exit
//! 2 naming the key; below it `check` answers quickly and lists the first 100 points and jobs;
//! very long runs and very large requests.csv files are warned about.

mod scenario_support;

use dynosim::scenario::{MAX_JOBS, Scenario};
use scenario_support::{Case, line_of};
use std::path::Path;
use std::time::Duration;

const HEAD: &str = r#"name = "big"
seed = 1
duration = "10s"
replications = 1

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2

[app.workload]
arrivals = { poisson = 5.0 }
cpu = "10ms"
"#;

/// `[sweep]` with one key per entry of `lengths`, each with that many values.
fn with_sweep(head: &str, lengths: &[usize]) -> String {
    let keys = [
        "app.shop.workload.arrivals.poisson",
        "app.shop.process.web.concurrency",
        "duration",
        "warmup",
    ];
    let mut text = format!("{head}\n[sweep]\n");
    for (key, &n) in keys.iter().zip(lengths) {
        let values: Vec<String> = (0..n)
            .map(|i| match *key {
                "duration" => format!("\"{}s\"", 10 + i),
                "warmup" => format!("\"{i}ms\""),
                "app.shop.workload.arrivals.poisson" => format!("{:.3}", 1.0 + i as f64 * 1e-3),
                _ => (1 + i % 200).to_string(),
            })
            .collect();
        text.push_str(&format!("\"{key}\" = [{}]\n", values.join(", ")));
    }
    text
}

/// `check` and `run` both refuse `text` quickly, at the line holding `at`, naming `key`.
fn refused(text: &str, at: &str, key: &str, phrases: &[&str]) {
    let case = Case::new(text);
    let line = line_of(text, at);
    for r in [case.check(&[], &[]), case.run(&[], &[])] {
        let e = case.assert_rejected(&r, Some(line));
        assert!(e.contains(&format!(": key `{key}`: ")), "{e}");
        for p in phrases {
            assert!(e.contains(p), "expected `{p}` in {e}");
        }
        // Refused before anything is built: well under a second, even on a busy machine.
        assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
    }
}

#[test]
fn a_hundred_million_replications_are_refused() {
    let text = HEAD.replace("replications = 1", "replications = 100000000");
    refused(
        &text,
        "replications =",
        "replications",
        &[
            "100,000,000 replications are 100,000,000 jobs",
            "at most 100,000 jobs",
        ],
    );
}

#[test]
fn a_sweep_of_a_trillion_points_is_refused() {
    let text = with_sweep(HEAD, &[1000, 1000, 1000, 1000]);
    refused(
        &text,
        "[sweep]",
        "sweep",
        &[
            "(1000 x 1000 x 1000 x 1000) make 1,000,000,000,000 points",
            "at most 100,000 jobs",
        ],
    );
}

#[test]
fn a_sweep_of_a_million_points_is_refused_quickly() {
    // It used to keep `check` silent for over a minute. (A grid past 2^64 points is tested on the
    // library's count in size.rs: its file would be too large to write here.)
    let text = with_sweep(HEAD, &[1_000_000]);
    refused(&text, "[sweep]", "sweep", &["make 1,000,000 points"]);
}

#[test]
fn points_times_replications_over_the_limit_is_refused_at_replications() {
    let text = with_sweep(
        &HEAD.replace("replications = 1", "replications = 1001"),
        &[100],
    );
    refused(
        &text,
        "replications =",
        "replications",
        &["100 points x 1,001 replications = 100,100 jobs"],
    );
    // --replications is held to the same limit.
    let case = Case::new(with_sweep(HEAD, &[100]));
    let r = case.run(&["--replications", "1001"], &[]);
    let e = case.assert_rejected(&r, None);
    assert!(e.contains("100,100 jobs"), "{e}");
}

#[test]
fn the_limit_itself_is_accepted_and_check_answers_quickly() {
    // 100,000 points, one replication each: the most `check` has to build.
    let text = with_sweep(HEAD, &[1000, 100]);
    let case = Case::new(&text);
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    // About 2 s on an idle core (docs/scenario.md#limits); the bound leaves room for a busy
    // machine.
    assert!(r.took < Duration::from_secs(30), "check took {:?}", r.took);
    let out = r.stdout();
    assert!(
        out.contains("100000 point(s), 100000 job(s)"),
        "{}",
        &out[..out.len().min(500)]
    );
    let points = out.lines().filter(|l| l.starts_with("  point ")).count();
    let jobs = out.lines().filter(|l| l.starts_with("  job ")).count();
    assert_eq!((points, jobs), (100, 100));
    assert!(out.contains("  ... 99900 more point(s); `check --all` lists them"));
    assert!(out.contains("  ... 99900 more job(s); `check --all` lists them"));
    assert_eq!(MAX_JOBS, 100_000);
}

#[test]
fn check_all_lists_every_point_and_job() {
    let text = with_sweep(
        &HEAD.replace("replications = 1", "replications = 2"),
        &[150],
    );
    let case = Case::new(&text);
    for (args, points, jobs) in [(&[][..], 100, 100), (&["--all"][..], 150, 300)] {
        let r = case.check(args, &[]);
        assert_eq!(r.code(), Some(0), "{}", r.stderr());
        let out = r.stdout();
        let listed = |p: &str| out.lines().filter(|l| l.starts_with(p)).count();
        assert_eq!(
            (listed("  point "), listed("  job ")),
            (points, jobs),
            "{args:?}"
        );
        assert_eq!(out.contains("more point(s)"), args.is_empty());
    }
}

#[test]
fn very_long_runs_and_large_request_tables_are_warned_about() {
    // 20,000 req/s for a day: 1.7 billion requests, about 190 GB of requests.csv.
    let text = HEAD
        .replace("duration = \"10s\"", "duration = \"24h\"")
        .replace("poisson = 5.0", "poisson = 20000.0")
        .replace("count = 2", "count = 100");
    let case = Case::new(&text);
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let out = r.stdout();
    assert!(
        out.contains("warning: about 1.7 billion requests will be simulated over all jobs"),
        "{out}"
    );
    assert!(
        out.contains("warning: with --requests: about 186.6 GB of requests.csv (1.7 billion rows)"),
        "{out}"
    );
    // A small run is not warned about.
    let r = Case::new(HEAD).check(&[], &[]);
    assert!(!r.stdout().contains("warning"), "{}", r.stdout());
}

#[test]
fn the_requests_csv_estimate_is_close_to_the_real_size() {
    // Two apps, 200 and 50 req/s, for 100 s after a 10 s warmup: 25,000 rows.
    let text = r#"name = "estimate"
seed = 3
duration = "110s"
warmup = "10s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "performance-l"
count = 4
concurrency = 8

[app.workload]
arrivals = { poisson = 200.0 }
cpu = "2ms"

[[app]]
name = "reports"

[[app.process]]
type = "web"
size = "standard-2x"
count = 2

[app.workload]
arrivals = { poisson = 50.0 }
cpu = "5ms"
"#;
    let case = Case::new(text);
    let s = Scenario::load(&case.file).expect("valid");
    let est = s.size_estimate();
    assert!((est.rows - 25_000.0).abs() < 1.0, "{est:?}");
    assert!((est.simulated - 27_500.0).abs() < 1.0, "{est:?}");
    let r = case.run(&["--requests"], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let real = std::fs::metadata(Path::new(&case.out()).join("requests.csv"))
        .expect("requests.csv")
        .len() as f64;
    let ratio = est.csv_bytes / real;
    assert!(
        (0.8..1.25).contains(&ratio),
        "estimate {} vs real {real}",
        est.csv_bytes
    );
}
