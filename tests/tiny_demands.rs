//! Valid input that must finish: CPU demands far below the clock's nanosecond (issue 14,
//! point 4). A lognormal with `mu = -18, sigma = 4.5` (median 15 ns, a tail down to 1e-20 s) and
//! an empirical column of 1e-13 s once made `run` spin forever at one simulated instant: a
//! remainder too small to take a nanosecond was rescheduled at the same instant again and again.
//! Each run here is bounded by a timeout, so a regression fails instead of hanging the suite.

mod common;
use common::*;
use dynosim::model::{JobResult, Status};
use std::sync::mpsc;
use std::time::Duration;

/// Run every job of `text` (scenario files relative to `dir`) on its own thread; fail if it
/// takes longer than `limit` (a few hundred ms of work when it terminates: the limit is for a
/// busy machine, not a performance bound).
fn run_bounded(text: &str, dir: &std::path::Path, limit: Duration) -> Vec<JobResult> {
    let s = dynosim::scenario::Scenario::parse(text, "tiny.toml", "tiny", dir)
        .unwrap_or_else(|e| panic!("scenario should be valid: {e}"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(run_all(&s));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the run did not finish within {limit:?}: it spins"))
}

fn scenario_with(size: &str, cpu: &str) -> String {
    format!(
        r#"
seed = 1
duration = "10m"
warmup = "0s"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "{size}"
count = 2
concurrency = 8
[app.workload]
arrivals = {{ poisson = 200.0 }}
cpu = {cpu}
"#
    )
}

#[test]
fn demands_below_a_nanosecond_run_to_completion() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("cpu.csv"), "cpu_s\n1e-13\n3e-13\n").expect("trace");
    let cpus = [
        "{ lognormal = { mu = -18, sigma = 4.5 } }",
        r#"{ empirical = { file = "cpu.csv", column = "cpu_s", unit = "s" } }"#,
    ];
    for size in ["standard-1x", "performance-l"] {
        for cpu in cpus {
            let results = run_bounded(
                &scenario_with(size, cpu),
                dir.path(),
                Duration::from_secs(120),
            );
            for p in results.iter().flat_map(|r| &r.processes) {
                // 200/s for 10 minutes: about 120,000 requests, all but the last few answered.
                assert!(
                    p.requests > 110_000,
                    "{size} {cpu}: {} requests",
                    p.requests
                );
                assert_eq!(
                    p.requests,
                    p.completed + p.errors + p.in_flight,
                    "{size} {cpu}"
                );
                assert_eq!(p.errors_h(Status::H12), 0, "{size} {cpu}: no timeouts");
                assert!(p.in_flight <= 5, "{size} {cpu}: {} in flight", p.in_flight);
            }
        }
    }
}
