//! App-server shape (issue 17, point 3): `processes` x `threads` per dyno, and the global lock
//! (GVL) that lets one process run one request's CPU work at a time.
//!
//! With `noise = "off"` and `[network] latency = "0ms"`, one process of many threads on a
//! dedicated dyno is, for its CPU phase, a single-server FIFO queue: exponential CPU and Poisson
//! arrivals make it M/M/1, so the CPU phase (lock wait + CPU) lasts Exp(mu - lambda) and the
//! constant wait after it adds a constant. Daily cycling is off: a restart of the only dyno
//! would hold requests at the router, which no closed form here includes.

mod common;
mod scenario_support;

use common::*;
use dynosim::engine::Control;
use dynosim::model::{DrawnRequest, RequestObserver, RequestRecord, Status, run_job};
use scenario_support::{Case, line_of};
use std::collections::HashMap;

/// One dedicated 2-vCPU dyno (performance-m) running `server` (the app-server keys).
fn one_dyno(server: &str, cpu: &str, rate: f64, wait: &str, duration: &str, reps: u32) -> String {
    format!(
        r#"
seed = 23
duration = "{duration}"
warmup = "{warmup}"
replications = {reps}
noise = "off"

[network]
latency = "0ms"

[lifecycle]
cycling = false

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "performance-m"
count = 1
{server}

[app.workload]
arrivals = {{ poisson = {rate} }}
cpu = {cpu}
wait = {wait}
"#,
        warmup = if duration == "10m" { "0s" } else { "10m" },
    )
}

/// M/M/1 in the CPU phase: E[CPU phase] = 1/(mu - lambda) (lock wait rho/(mu - lambda) plus
/// the mean CPU 1/mu), E[T] = that + the constant wait, p99 = ln(100)/(mu - lambda) + wait.
fn check_gvl_mm1(mean_cpu_ms: f64, rate: f64) {
    let text = one_dyno(
        "processes = 1\nthreads = 64",
        &format!(r#"{{ exponential = "{mean_cpu_ms}ms" }}"#),
        rate,
        r#"{ constant = "100ms" }"#,
        "8h",
        2,
    );
    let results = run_all(&scenario(&text));
    let web = rows(&results, "web");
    let mu = 1000.0 / mean_cpu_ms;
    let gap = mu - rate;
    let rho = rate / mu;
    let cpu_phase = 1000.0 / gap;
    let lock_wait = 1000.0 * rho / gap;
    let mean_expected = cpu_phase + 100.0;
    let p99_expected = 1000.0 * 100f64.ln() / gap + 100.0;
    let completed: u64 = web.iter().map(|p| p.completed).sum();
    assert!(completed > 500_000, "too few requests: {completed}");
    let mean = pooled_mean_ms(&web);
    let cpu = avg(&web, |p| p.latency.cpu_ms);
    let p99 = avg(&web, |p| p.latency.p99_ms);
    let queue = avg(&web, |p| p.latency.queue_ms);
    let wait = avg(&web, |p| p.latency.wait_ms);
    eprintln!(
        "GVL M/M/1 rho {rho}: mean {mean:.2} ms (theory {mean_expected:.2}), CPU phase {cpu:.2} ms \
         (theory {cpu_phase:.2}; lock wait {:.2} vs rho/(mu-lambda) {lock_wait:.2}), p99 {p99:.1} \
         ms (theory {p99_expected:.1}), {completed} requests",
        cpu - mean_cpu_ms
    );
    assert!(
        rel_err(mean, mean_expected) < 0.02,
        "mean {mean} vs {mean_expected}"
    );
    assert!(
        rel_err(cpu, cpu_phase) < 0.03,
        "CPU phase {cpu} vs {cpu_phase}"
    );
    assert!(
        rel_err(cpu - mean_cpu_ms, lock_wait) < 0.05,
        "lock wait {} vs rho/(mu - lambda) = {lock_wait}",
        cpu - mean_cpu_ms
    );
    assert!(
        rel_err(p99, p99_expected) < 0.05,
        "p99 {p99} vs {p99_expected}"
    );
    // 64 threads never all hold a request at these loads: nobody waits for a slot, and the
    // waits overlap (each is exactly its 100 ms).
    assert!(queue < 0.01, "slot queue {queue} ms");
    assert!((wait - 100.0).abs() < 0.01, "wait {wait} ms");
    for p in &web {
        assert_eq!(p.errors, 0, "no errors at these loads");
        assert_eq!(
            p.completed + p.in_flight,
            p.requests,
            "every request is counted once"
        );
    }
}

#[test]
fn one_process_of_many_threads_is_an_mm1_queue_for_its_cpu_rho_05() {
    check_gvl_mm1(20.0, 25.0);
}

#[test]
fn one_process_of_many_threads_is_an_mm1_queue_for_its_cpu_rho_07() {
    check_gvl_mm1(20.0, 35.0);
}

/// What a run drew for each request and how each ended.
#[derive(Default)]
struct Seen {
    work_ns: HashMap<u64, f64>,
    records: Vec<RequestRecord>,
}

impl RequestObserver for Seen {
    fn on_request(&mut self, r: &RequestRecord) {
        self.records.push(r.clone());
    }
    fn on_drawn(&mut self, id: u64, _app: usize, d: &DrawnRequest) {
        self.work_ns.insert(id, d.work_ns);
    }
}

/// The CPU run of every request, `(service start, CPU run start, CPU end)` in ns: on an idle
/// dedicated dyno with at least one core per process, a request whose turn came runs at full
/// speed, so its CPU ran during the last `work` ns of its CPU phase.
fn cpu_runs(text: &str) -> (Vec<(u64, f64, u64)>, u64) {
    let s = scenario(text);
    let mut seen = Seen::default();
    let (mut requests, mut outcomes) = (0, 0);
    for job in s.jobs() {
        let r = run_job(&s.points[job.point].config, job.seeds, &mut seen, |_, _| {
            Control::Continue
        })
        .expect("placeable");
        for p in &r.processes {
            assert_eq!(
                p.completed + p.errors + p.in_flight,
                p.requests,
                "every request is counted once: completed, failed or still in flight"
            );
            requests += p.requests;
            outcomes += p.completed + p.errors;
        }
    }
    // Every request with an outcome is reported exactly once.
    assert_eq!(seen.records.len() as u64, outcomes);
    let mut ids: Vec<u64> = seen.records.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, outcomes, "a request reported twice");
    let runs = seen
        .records
        .iter()
        .filter(|r| r.status == Status::Ok)
        .map(|r| {
            let split = r.split.expect("a completed request has its split");
            let end = r.service_start_ns + split.cpu_ns;
            let work = seen.work_ns[&r.id];
            (r.service_start_ns, end as f64 - work, end)
        })
        .collect();
    (runs, requests)
}

/// The most CPU runs that overlap at any instant (a run ending at t and one starting at t do
/// not overlap; 2 ns of slack for rounding completions up to whole nanoseconds).
fn max_overlap(runs: &[(u64, f64, u64)]) -> usize {
    let mut edges: Vec<(f64, i32)> = Vec::new();
    for &(_, start, end) in runs {
        edges.push((start + 2.0, 1));
        edges.push((end as f64, -1));
    }
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

const BUSY_CPU: &str = r#"{ exponential = "20ms" }"#;
const SHORT_WAIT: &str = r#"{ exponential = "30ms" }"#;

#[test]
fn a_process_never_runs_two_cpu_phases_at_once_and_serves_them_in_order() {
    let text = one_dyno(
        "processes = 1\nthreads = 8",
        BUSY_CPU,
        35.0,
        SHORT_WAIT,
        "10m",
        1,
    );
    let (mut runs, requests) = cpu_runs(&text);
    assert!(requests > 15_000, "{requests}");
    assert_eq!(
        max_overlap(&runs),
        1,
        "one process ran two CPU phases at once"
    );
    // FIFO: CPU phases end in the order the requests took their slots.
    runs.sort_by_key(|r| r.2);
    assert!(
        runs.windows(2).all(|w| w[0].0 <= w[1].0),
        "a later request's CPU work ran first"
    );
    // The check can fail: without the lock the same process runs CPU phases side by side.
    let (runs, _) = cpu_runs(&text.replace("threads = 8", "threads = 8\ngvl = false"));
    assert!(max_overlap(&runs) > 1, "threads without a lock overlap");
    // Two processes on two vCPUs: two CPU phases at once, never three.
    let text = one_dyno(
        "processes = 2\nthreads = 4",
        BUSY_CPU,
        70.0,
        SHORT_WAIT,
        "10m",
        1,
    );
    let (runs, _) = cpu_runs(&text);
    assert_eq!(max_overlap(&runs), 2, "two processes run in parallel");
}

#[test]
fn without_the_lock_threads_run_cpu_at_once() {
    // The same single process with `gvl = false`: its threads share the two cores.
    let text = one_dyno(
        "processes = 1\nthreads = 8\ngvl = false",
        BUSY_CPU,
        35.0,
        SHORT_WAIT,
        "10m",
        1,
    );
    let s = scenario(&text);
    let with_lock = run_all(&scenario(&text.replace("gvl = false", "")));
    let without = run_all(&s);
    let (a, b) = (rows(&with_lock, "web"), rows(&without, "web"));
    // M/M/2-like processor sharing beats one FIFO server by far at rho 0.7 of one core.
    assert!(
        b[0].latency.cpu_ms < 0.6 * a[0].latency.cpu_ms,
        "without the lock {} ms, with it {} ms",
        b[0].latency.cpu_ms,
        a[0].latency.cpu_ms
    );
}

/// Results of a scenario as text, to compare two ways of writing one formation.
fn results_text(text: &str) -> String {
    let results = run_all(&scenario(text));
    format!(
        "{:?}",
        results
            .iter()
            .map(|r| (&r.processes, &r.dynos, &r.windows))
            .collect::<Vec<_>>()
    )
}

/// Shared hosts with neighbours, three dynos, calls-free mixed load.
fn noisy(server: &str) -> String {
    format!(
        r#"
seed = 5
duration = "20m"
warmup = "1m"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-2x"
count = 3
{server}

[app.workload]
arrivals = {{ poisson = 60.0 }}
cpu = {{ exponential = "25ms" }}
wait = {{ lognormal = {{ median = "40ms", p99 = "400ms" }} }}
"#
    )
}

#[test]
fn without_the_lock_processes_times_threads_is_concurrency() {
    let plain = results_text(&noisy("concurrency = 6"));
    assert_eq!(
        plain,
        results_text(&noisy("processes = 2\nthreads = 3\ngvl = false"))
    );
    assert_eq!(plain, results_text(&noisy("processes = 6")));
    assert_eq!(plain, results_text(&noisy("processes = 6\nthreads = 1")));
    // With the lock the same slots serve differently.
    assert_ne!(plain, results_text(&noisy("processes = 2\nthreads = 3")));
}

const BASE: &str = r#"name = "t"
seed = 1
duration = "5s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
KEYS

[app.workload]
arrivals = { poisson = 5.0 }
cpu = "10ms"
"#;

fn rejected(keys: &str, at: &str) -> String {
    let text = BASE.replace("KEYS", keys);
    let case = Case::new(&text);
    let line = line_of(&text, at);
    let from_check = case.assert_rejected(&case.check(&[], &[]), Some(line));
    let from_run = case.assert_rejected(&case.run(&[], &[]), Some(line));
    assert_eq!(from_check, from_run);
    from_run
}

#[test]
fn bad_app_server_keys_are_located_errors() {
    let e = rejected("concurrency = 4\nthreads = 2", "threads = 2");
    assert!(e.contains("threads") && e.contains("not both"), "{e}");
    let e = rejected("processes = 2\nconcurrency = 4", "processes = 2");
    assert!(e.contains("processes") && e.contains("not both"), "{e}");
    let e = rejected("processes = 0", "processes = 0");
    assert!(e.contains("at least 1"), "{e}");
    let e = rejected("threads = -3", "threads = -3");
    assert!(e.contains("at least 1"), "{e}");
    let e = rejected("processes = 1000\nthreads = 1000", "threads = 1000");
    assert!(e.contains("at most 100000"), "{e}");
    let e = rejected("gvl = \"no\"", "gvl = ");
    assert!(e.contains("gvl"), "{e}");
}
