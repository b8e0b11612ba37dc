//! Model invariants: every request counted once, H12/H14 semantics, warmup, common random
//! numbers, and independence of components.

mod common;
use common::*;
use dynosim::engine::Control;
use dynosim::model::{
    LifecycleEvent, NoRequests, RequestObserver, RequestRecord, Status, WindowRow, run_job,
};

const OVERLOAD: &str = r#"
seed = 21
duration = "20m"
warmup = "1m"
window = "30s"
replications = 2
noise = "off"

[[app]]
name = "slow"

# Routers that never shed load, so the queues grow until requests time out.
[app.router]
active_limit = 100000
backlog_per_dyno = 100000

[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 4

[app.workload]
arrivals = { poisson = 25.0 }
cpu = { exponential = "100ms" }   # offered load 2.5 cores on 2: queues grow, H12s follow
wait = { uniform = ["0ms", "20ms"] }
"#;

#[test]
fn every_request_is_counted_exactly_once() {
    let s = scenario(OVERLOAD);
    let results = run_all(&s);
    for r in &results {
        for p in &r.processes {
            assert!(
                p.errors_h(Status::H12) > 0,
                "the scenario must produce timeouts to test anything"
            );
            assert!(p.in_flight > 0, "and requests still in flight at the end");
            assert_eq!(
                p.requests,
                p.completed + p.errors + p.in_flight,
                "requests = completed + errors + in flight"
            );
            assert_eq!(p.errors, p.errors_by_code.iter().sum::<u64>());
            assert_eq!(p.errors, p.errors_h(Status::H12));
            // The time series adds up to the totals.
            let w: Vec<_> = r
                .windows
                .iter()
                .filter(|w| w.process == p.process_index)
                .collect();
            assert_eq!(w.iter().map(|w| w.requests).sum::<u64>(), p.requests);
            assert_eq!(w.iter().map(|w| w.completed).sum::<u64>(), p.completed);
            assert_eq!(w.iter().map(|w| w.errors).sum::<u64>(), p.errors);
            assert_eq!(w.iter().map(|w| w.in_flight).sum::<u64>(), p.in_flight);
            for w in &w {
                assert_eq!(w.requests, w.completed + w.errors + w.in_flight);
            }
            // No completed request took longer than the deadline.
            assert!(
                p.latency.max_ms <= 30_000.0 + 1e-6,
                "max {}",
                p.latency.max_ms
            );
        }
        // Dynos finished more requests than the clients saw completed: they kept working on the
        // ones that had timed out (H12: "the dyno keeps working").
        let served: u64 = r.dynos.iter().map(|d| d.served).sum();
        let p = &r.processes[0];
        assert!(
            served > p.completed,
            "served {served} vs completed {}",
            p.completed
        );
    }
}

#[test]
fn a_request_slower_than_the_deadline_is_an_h12_and_the_dyno_keeps_working() {
    let text = r#"
seed = 2
duration = "2h"
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "batch"
[[app.process]]
type = "web"
size = "performance-m"
count = 1
concurrency = 1
[app.workload]
arrivals = { poisson = 0.01 }
cpu = { constant = "31s" }
"#;
    let results = run_all(&scenario(text));
    let p = &results[0].processes[0];
    assert!(p.requests > 20);
    assert_eq!(
        p.completed, 0,
        "31 s of work always misses the 30 s deadline"
    );
    assert_eq!(p.errors_h(Status::H12) + p.in_flight, p.requests);
    assert!(
        p.latency.mean_ms.is_nan(),
        "no completed request, no latency"
    );
    // The dyno still did the work.
    assert!(results[0].dynos[0].served >= p.errors_h(Status::H12) - 1);
}

#[test]
fn the_deadline_is_configurable_and_inclusive() {
    let text = |timeout: &str| {
        format!(
            r#"
seed = 2
duration = "1h"
request_timeout = "{timeout}"
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "performance-l"
count = 1
concurrency = 100
[app.workload]
arrivals = {{ poisson = 1.0 }}
cpu = {{ constant = "500ms" }}
"#
        )
    };
    let at = run_all(&scenario(&text("500ms")));
    assert_eq!(
        at[0].processes[0].errors, 0,
        "a response exactly at the deadline is in time"
    );
    let below = run_all(&scenario(&text("499ms")));
    let p = &below[0].processes[0];
    assert_eq!(p.completed, 0);
    assert!(p.errors_h(Status::H12) > 3000);
}

#[test]
fn a_process_with_no_dynos_answers_h14() {
    let text = r#"
seed = 2
duration = "10m"
[[app]]
name = "off"
[[app.process]]
type = "web"
size = "standard-1x"
count = 0
[app.workload]
arrivals = { poisson = 10.0 }
cpu = { constant = "10ms" }
"#;
    let results = run_all(&scenario(text));
    let p = &results[0].processes[0];
    assert!(p.requests > 5000);
    assert_eq!(p.errors_h(Status::H14), p.requests);
    assert_eq!(p.completed + p.in_flight + p.errors_h(Status::H12), 0);
}

#[test]
fn warmup_requests_are_simulated_but_not_counted() {
    let text = |warmup: &str| {
        format!(
            r#"
seed = 8
duration = "1h"
warmup = "{warmup}"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-2x"
count = 2
concurrency = 2
[app.workload]
arrivals = {{ poisson = 50.0 }}
cpu = {{ exponential = "10ms" }}
"#
        )
    };
    let none = run_all(&scenario(&text("0")));
    let half = run_all(&scenario(&text("30m")));
    let (n0, n1) = (none[0].processes[0].requests, half[0].processes[0].requests);
    assert_eq!(
        none[0].generated, half[0].generated,
        "the same requests are generated"
    );
    assert!(rel_err(n0 as f64, 180_000.0) < 0.01, "{n0}");
    assert!(rel_err(n1 as f64, 90_000.0) < 0.015, "{n1}");
    // Windows start after the warmup.
    assert_eq!(
        half[0].windows.first().map(|w| w.window_start_s),
        Some(1800.0)
    );
}

#[test]
fn sweep_points_share_random_numbers_per_replication() {
    let text = r#"
seed = 4
duration = "30m"
replications = 2
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
count = 2
[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "20ms" }
[sweep]
"app.a.process.web.count" = [2, 3, 4]
"#;
    let s = scenario(text);
    assert_eq!(s.points.len(), 3);
    let jobs = s.jobs();
    assert_eq!(jobs.len(), 6);
    let results = run_all(&s);
    for r in 0..2 {
        let same: Vec<_> = jobs
            .iter()
            .zip(&results)
            .filter(|(j, _)| j.replication == r)
            .map(|(j, res)| (j.seeds.value(), res.generated, res.processes[0].requests))
            .collect();
        assert!(
            same.windows(2).all(|w| w[0] == w[1]),
            "replication {r}: {same:?}"
        );
    }
    // More dynos, lower latency (same arrivals and demands, so this holds sample by sample).
    let p99: Vec<f64> = results
        .iter()
        .zip(&jobs)
        .filter(|(_, j)| j.replication == 0)
        .map(|(r, _)| r.processes[0].latency.mean_ms)
        .collect();
    assert!(p99[0] > p99[1] && p99[1] > p99[2], "{p99:?}");

    // Without common random numbers, points get their own streams.
    let indep = scenario(&format!("common_random_numbers = false\n{text}"));
    let seeds: Vec<u64> = indep
        .jobs()
        .iter()
        .filter(|j| j.replication == 0)
        .map(|j| j.seeds.value())
        .collect();
    assert!(seeds[0] != seeds[1] && seeds[1] != seeds[2]);
}

#[test]
fn adding_an_app_does_not_change_another_apps_numbers() {
    let one = r#"
seed = 9
duration = "20m"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 3
concurrency = 2
[app.workload]
arrivals = { poisson = 30.0 }
cpu = { lognormal = { median = "15ms", p99 = "120ms" } }
"#;
    let two = format!(
        "{one}\n{}",
        r#"
[[app]]
name = "blog"
[[app.process]]
type = "web"
size = "basic"
count = 1
[app.workload]
arrivals = { poisson = 5.0 }
cpu = { exponential = "40ms" }
"#
    );
    let a = run_all(&scenario(one));
    let b = run_all(&scenario(&two));
    let shop_a = &a[0].processes[0];
    let shop_b = b[0]
        .processes
        .iter()
        .find(|p| p.app == "shop")
        .expect("shop row");
    // Compared through Debug so that NaN fields (no cache) compare equal.
    assert!(
        format!("{shop_a:?}") == format!("{shop_b:?}"),
        "shop changed when blog was added"
    );
    assert_eq!(b[0].processes.len(), 2);
}

/// An observer that takes the window rows and events, noting for each row the latest request
/// arrival seen so far: rows must come while the run goes on, not at its end.
#[derive(Default)]
struct Streamed {
    latest_arrival_ns: u64,
    windows: Vec<(u64, WindowRow)>,
    events: Vec<LifecycleEvent>,
}

impl RequestObserver for Streamed {
    fn on_request(&mut self, r: &RequestRecord) {
        self.latest_arrival_ns = self.latest_arrival_ns.max(r.arrival_ns);
    }
    fn on_window(&mut self, row: WindowRow) -> Option<WindowRow> {
        self.windows.push((self.latest_arrival_ns, row));
        None
    }
    fn on_lifecycle(&mut self, e: LifecycleEvent) -> Option<LifecycleEvent> {
        self.events.push(e);
        None
    }
}

#[test]
fn windows_and_events_stream_out_as_the_run_goes() {
    // 3 h, 1-min windows, two processes (a worker with no workload still has rows), restarts.
    let s = scenario(
        r#"
seed = 11
duration = "3h"
warmup = "5m"
[[app]]
name = "a"
deploys = ["1h", "2h"]
[[app.process]]
type = "web"
size = "standard-1x"
count = 2
[[app.process]]
type = "worker"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "10ms" }
"#,
    );
    let job = s.jobs()[0];
    let cfg = &s.points[0].config;
    let collected =
        run_job(cfg, job.seeds, NoRequests, |_, _| Control::Continue).expect("placeable");
    let mut obs = Streamed::default();
    let streamed = run_job(cfg, job.seeds, &mut obs, |_, _| Control::Continue).expect("placeable");
    // Taken rows leave the result; the same rows, in the same order, reach the observer.
    assert!(streamed.windows.is_empty() && streamed.lifecycle.is_empty());
    // (Compared as text: NaN quantiles of empty windows are not equal to themselves.)
    let text = |x: &dyn std::fmt::Debug| format!("{x:?}");
    let rows: Vec<WindowRow> = obs.windows.iter().map(|(_, w)| w.clone()).collect();
    assert!(
        text(&rows) == text(&collected.windows),
        "streamed windows differ"
    );
    assert!(!obs.events.is_empty(), "the deploys restart the dynos");
    assert!(
        text(&obs.events) == text(&collected.lifecycle),
        "streamed events differ"
    );
    assert!(
        text(&streamed.processes) == text(&collected.processes),
        "results differ"
    );
    // 175 counted windows per process (3 h minus the 5 min warmup), time order then process.
    assert_eq!(rows.len(), 2 * 175);
    for pair in rows.chunks(2) {
        assert_eq!((pair[0].process, pair[1].process), (0, 1));
        assert_eq!(pair[0].window_start_s, pair[1].window_start_s);
    }
    assert!(
        rows.windows(3)
            .all(|w| w[0].window_start_s <= w[2].window_start_s)
    );
    // A window is written about 12 min 15 s after it ends, long before the run ends: memory
    // holds only the windows of the last quarter hour, however long the run.
    let lag_ns = 735e9;
    for (seen, row) in &obs.windows {
        let end_ns = (row.window_start_s + 60.0) * 1e9;
        if end_ns + lag_ns < 3.0 * 3600e9 - 60e9 {
            assert!(
                (*seen as f64) < end_ns + lag_ns + 60e9,
                "window {} written only after {} s",
                row.window_start_s,
                *seen as f64 * 1e-9
            );
        }
    }
    let early = obs
        .windows
        .iter()
        .filter(|(seen, _)| *seen < 2 * 3600 * 1_000_000_000)
        .count();
    assert!(
        early > 2 * 100,
        "only {early} rows written in the first 2 h"
    );
    // Rows written on closing keep the invariant too.
    for w in &rows {
        assert_eq!(w.requests, w.completed + w.errors + w.in_flight);
    }
}

/// A fleet past the size where the platform prefetches (about 1,600 dynos), with a deploy in the
/// middle so incarnations come and go. Prefetching is a hint and building request records is
/// skipped when nobody reads them: neither may change a number. Every request is counted once.
#[test]
fn a_large_fleet_gives_the_same_results_with_and_without_request_records() {
    let text = r#"
seed = 8
duration = "4s"
[placement]
instances = 2000
[[app]]
name = "fleet"
dyno_limit = 2000
deploys = ["2s"]
[[app.process]]
type = "web"
size = "standard-1x"
count = 2000
limit = 2000
concurrency = 4
[app.workload]
arrivals = { poisson = 25000 }
cpu = { lognormal = { median = "20ms", p99 = "150ms" } }
wait = { exponential = "15ms" }
"#;
    let without = run_all(&scenario(text));
    let (with, records) = run_with_records(text);
    assert_eq!(format!("{without:?}"), format!("{with:?}"));
    let r = &with[0];
    let p = &r.processes[0];
    assert!(p.requests > 90_000, "{} requests", p.requests);
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
    assert_eq!(records.len() as u64, p.completed + p.errors);
    assert_eq!(r.dynos.len(), 2000);
    assert!(r.dynos.iter().all(|d| d.restarts_deploy == 1));
    let served: u64 = r.dynos.iter().map(|d| d.served).sum();
    assert!(
        served >= p.completed,
        "served {served} < completed {}",
        p.completed
    );
}

/// Offered load follows calls down the chain: `front` calls `mid` 3 times per request (taking
/// `mid`'s workload, so `mid`'s own calls come along), `mid` calls `tail` twice. The closed-form
/// rates match the model, the simulated request counts and CPU time agree with them, and an
/// overloaded callee (which gets no external traffic) is warned about.
#[test]
fn offered_load_counts_the_calls_a_process_receives() {
    let text = r#"
seed = 4
duration = "10m"
noise = "off"
[[app]]
name = "front"
[[app.process]]
type = "web"
size = "performance-l"
count = 2
concurrency = 16
[app.workload]
arrivals = { poisson = 50.0 }
cpu = { exponential = "10ms" }
[[app.workload.calls]]
app = "mid"
count = 3
[[app]]
name = "mid"
[[app.process]]
type = "web"
size = "performance-l"
count = 2
concurrency = 16
[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "8ms" }
[[app.workload.calls]]
app = "tail"
count = 2
cpu = { exponential = "2ms" }
[[app]]
name = "tail"
[[app.process]]
type = "web"
size = "performance-l"
count = 1
concurrency = 16
"#;
    let s = scenario(text);
    let cfg = &s.points[0].config;
    let load = dynosim::model::offered_load(&cfg.apps);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.max(1.0);
    // (external/s, calls/s, CPU s/s, load): front 50 x 10 ms on 2 x 8 vCPUs; mid 20 + 150 calls
    // at 8 ms on 2 x 8; tail 2 x (20 + 150) calls at 2 ms on 1 x 8.
    let want = [
        (50.0, 0.0, 0.5, 0.5 / 16.0),
        (20.0, 150.0, 1.36, 1.36 / 16.0),
        (0.0, 340.0, 0.68, 0.68 / 8.0),
    ];
    for (a, (ext, calls, cpu, rho)) in want.into_iter().enumerate() {
        let l = load[a][0];
        assert!(
            close(l.external_per_s, ext)
                && close(l.calls_per_s, calls)
                && close(l.cpu_per_s, cpu)
                && close(l.utilization(), rho),
            "app {a}: {l:?}"
        );
    }
    // The simulation agrees (10 min, so within a few percent).
    let r = &run_all(&s)[0];
    for (a, p) in r.processes.iter().enumerate() {
        let l = load[a][0];
        let rate = p.requests as f64 / 600.0;
        assert!(
            rel_err(rate, l.requests_per_s()) < 0.03,
            "app {a}: {rate} req/s vs {l:?}"
        );
        assert!(
            rel_err(p.cpu_s / 600.0, l.cpu_per_s) < 0.05,
            "app {a}: {} CPU s vs {l:?}",
            p.cpu_s
        );
    }
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    // With 40 ms calls, tail's one dyno is asked 13.6 CPU s/s: a warning, though tail has no
    // workload of its own.
    let heavy = scenario(&text.replace("\"2ms\"", "\"40ms\""));
    let l = dynosim::model::offered_load(&heavy.points[0].config.apps)[2][0];
    assert!(l.utilization() >= 1.0, "{l:?}");
    assert!(
        heavy
            .warnings
            .iter()
            .any(|w| w.starts_with("tail/web: offered CPU load is")),
        "{:?}",
        heavy.warnings
    );
}
