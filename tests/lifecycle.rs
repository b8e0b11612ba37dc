//! Dyno lifecycle: cycling, restarts and what they cost, crash backoff, memory limits, eco
//! sleep, deploys, and request conservation through all of it.

mod common;
use common::*;
use dynosim::model::{JobResult, LifecycleEvent, LifecycleKind as Kind, RequestRecord, Status};
use std::collections::HashMap;

const H: f64 = 3600.0;

/// The first job's result and every request record of the run.
fn run_with_requests(text: &str) -> (JobResult, Vec<RequestRecord>) {
    let (mut results, records) = run_with_records(text);
    (results.swap_remove(0), records)
}

fn events(r: &JobResult, kind: Kind) -> Vec<&LifecycleEvent> {
    r.lifecycle.iter().filter(|e| e.event == kind).collect()
}

fn secs(e: &LifecycleEvent) -> f64 {
    e.time_ns as f64 * 1e-9
}

const WEEK: &str = r#"
seed = 31
duration = "7d"
noise = "off"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 4
concurrency = 2
[app.workload]
arrivals = { poisson = 5.0 }
cpu = { exponential = "20ms" }
"#;

#[test]
fn every_dyno_cycles_daily_with_the_platform_jitter() {
    let results = run_all(&scenario(WEEK));
    let r = &results[0];
    for dyno in 1..=4 {
        let times: Vec<f64> = events(r, Kind::Cycle)
            .iter()
            .filter(|e| e.dyno == dyno)
            .map(|e| secs(e))
            .collect();
        assert!(
            (6..=8).contains(&times.len()),
            "web.{dyno} cycled {} times in a week",
            times.len()
        );
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                (24.0 * H - 1e-6..=24.0 * H + 216.0 * 60.0 + 1e-6).contains(&gap),
                "gap {gap} s"
            );
        }
    }
    // A cycle is a graceful restart: SIGTERM to the old dyno, a new one boots at once.
    assert_eq!(events(r, Kind::Cycle).len(), events(r, Kind::Sigterm).len());
    assert!(
        r.dynos
            .iter()
            .all(|d| d.restarts == d.restarts_cycle && d.restarts >= 6)
    );
}

#[test]
fn a_deploy_resets_the_cycle_timers() {
    let text = WEEK.replace(
        "name = \"shop\"\n",
        "name = \"shop\"\ndeploys = [\"30h\"]\n",
    );
    let r = &run_all(&scenario(&text))[0];
    let deploy = secs(events(r, Kind::Deploy)[0]);
    assert_eq!(deploy, 30.0 * H);
    for c in events(r, Kind::Cycle) {
        let t = secs(c);
        assert!(
            !(t > deploy && t < deploy + 24.0 * H),
            "cycle at {t} s within a day of the deploy"
        );
    }
    assert!(r.dynos.iter().all(|d| d.restarts_deploy == 1));
}

const BUSY_LIFE: &str = r#"
seed = 5
duration = "2d"
window = "10m"
[lifecycle]
sleep_after = "20m"
[[app]]
name = "api"
deploys = ["6h", "20h", "30h"]
[[app.process]]
type = "web"
size = "standard-2x"
count = 3
concurrency = 3
crash_mtbf = "5h"
boot = { lognormal = { median = "8s", p99 = "70s" } }
memory = { base_mb = 600, per_request_mb = 30, growth_mb_per_h = 80 }
[app.workload]
arrivals = { poisson = 30.0 }
cpu = { lognormal = { median = "30ms", p99 = "400ms" } }
wait = { exponential = "30ms" }
[app.filesystem]
slug_mb = 60
write_probability = 0.2
write_kb = 50
read_probability = 0.3
clients = 300
cache_items = 500
[[app]]
name = "hobby"
[[app.process]]
type = "web"
size = "eco"
[app.workload]
arrivals = { interval = "47m" }
cpu = { constant = "50ms" }
"#;

#[test]
fn no_request_is_served_by_a_dyno_that_is_down_booting_or_asleep() {
    let (r, reqs) = run_with_requests(BUSY_LIFE);
    // Up and stop times of every (app, dyno, incarnation).
    let mut up: HashMap<(usize, u32, u32), f64> = HashMap::new();
    let mut down: HashMap<(usize, u32, u32), f64> = HashMap::new();
    for e in &r.lifecycle {
        let key = (e.app, e.dyno, e.incarnation);
        match e.event {
            Kind::Up => {
                up.insert(key, secs(e));
            }
            Kind::Stop | Kind::Kill => {
                down.insert(key, secs(e));
            }
            _ => {}
        }
    }
    let served: Vec<_> = reqs.iter().filter(|q| q.status == Status::Ok).collect();
    assert!(served.len() > 100_000);
    let mut restarted = 0;
    for q in served {
        let key = (q.app, q.dyno, q.incarnation);
        let start = q.service_start_ns as f64 * 1e-9;
        // Incarnation 0 of each dyno was up before the run began.
        let from = up.get(&key).copied().unwrap_or(if q.incarnation == 0 {
            0.0
        } else {
            f64::INFINITY
        });
        let to = down.get(&key).copied().unwrap_or(f64::INFINITY);
        assert!(
            start >= from && start <= to,
            "request {} served at {start} by {key:?} up {from}..{to}",
            q.id
        );
        restarted += usize::from(q.incarnation > 0);
    }
    assert!(
        restarted > 10_000,
        "the scenario must exercise restarted dynos"
    );
    // The scenario covers every kind of restart.
    for kind in [
        Kind::Cycle,
        Kind::Crash,
        Kind::Deploy,
        Kind::R14,
        Kind::Sleep,
        Kind::Wake,
        Kind::Sigterm,
    ] {
        assert!(!events(&r, kind).is_empty(), "no {kind} event");
    }
}

#[test]
fn every_start_gets_a_fresh_filesystem() {
    let (r, _) = run_with_requests(BUSY_LIFE);
    let slug = (60.0 * 1_048_576.0) as u64;
    let boots: Vec<_> = r
        .lifecycle
        .iter()
        .filter(|e| e.app == 0 && e.event == Kind::Boot)
        .collect();
    assert!(boots.len() > 20);
    for b in boots {
        assert!(
            b.detail.starts_with(&format!("fs_bytes={slug} files=0 ")),
            "a dyno started with state from before: {}",
            b.detail
        );
    }
    // And the state each restart throws away is reported: files were lost, reads missed.
    let api = r.processes.iter().find(|p| p.app == "api").expect("api");
    assert!(api.bytes_lost > 0 && api.files_lost > 0);
    assert!(
        api.sticky_miss_restart > 0,
        "reads of files written before a restart must miss"
    );
    assert!(
        api.sticky_miss_other_dyno > api.sticky_miss_restart,
        "random routing loses more"
    );
    let stops: u64 = r
        .lifecycle
        .iter()
        .filter(|e| e.app == 0 && matches!(e.event, Kind::Stop | Kind::Kill))
        .map(|e| {
            e.detail
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("bytes_lost="))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        stops, api.bytes_lost,
        "bytes lost = the sum over every stop"
    );
}

#[test]
fn requests_are_conserved_through_restarts_kills_and_timeouts() {
    let results = run_all(&scenario(BUSY_LIFE));
    for r in &results {
        for p in &r.processes {
            assert_eq!(
                p.requests,
                p.completed + p.errors + p.in_flight,
                "{}",
                p.app
            );
            let w: Vec<_> = r
                .windows
                .iter()
                .filter(|w| w.app == p.app_index && w.process == p.process_index)
                .collect();
            assert_eq!(w.iter().map(|w| w.requests).sum::<u64>(), p.requests);
            assert_eq!(w.iter().map(|w| w.errors).sum::<u64>(), p.errors);
        }
        let api = r.processes.iter().find(|p| p.app == "api").expect("api");
        assert!(
            api.errors_h(Status::H13) > 0,
            "crashes drop requests in service"
        );
    }
}

fn backoff_waits(size: &str) -> Vec<f64> {
    // Boots always take 90 s, past the 60 s R10 limit: after a first crash the dyno never comes
    // back, and each retry waits longer.
    let space = if size.starts_with("private") {
        "[[space]]\nname = \"vault\"\nkind = \"private\"\nregion = \"oregon\"\n"
    } else {
        ""
    };
    let app_space = if space.is_empty() {
        ""
    } else {
        "space = \"vault\""
    };
    let text = format!(
        r#"
seed = 1
duration = "2d"
noise = "off"
{space}
[lifecycle]
cycling = false
[[app]]
name = "broken"
{app_space}
[[app.crash]]
at = "1h"
[[app.process]]
type = "web"
size = "{size}"
boot = "90s"
[app.workload]
arrivals = {{ poisson = 1.0 }}
cpu = "5ms"
"#
    );
    let r = &run_all(&scenario(&text))[0];
    // Time from each failure (crash or R10) to the next boot.
    let mut waits = Vec::new();
    let mut failed_at = None;
    for e in &r.lifecycle {
        match e.event {
            Kind::Crash | Kind::R10 => failed_at = Some(secs(e)),
            Kind::Boot => {
                if let Some(t) = failed_at.take() {
                    waits.push(secs(e) - t);
                }
            }
            _ => {}
        }
    }
    let p = &r.processes[0];
    // While it backs off the app is "crashed" (H10); while it boots, requests wait (H20).
    // Served for the first hour (about 3,600 requests at 1/s), then never again.
    assert!(
        p.completed < 3800 && p.errors > 100_000,
        "the app must be down: {} ok, {} errors",
        p.completed,
        p.errors
    );
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
    waits
}

#[test]
fn crash_backoff_follows_the_common_runtime_schedule() {
    let waits = backoff_waits("standard-1x");
    let minutes: Vec<f64> = waits.iter().map(|w| (w / 60.0).round()).collect();
    assert_eq!(
        &minutes[..8],
        &[0.0, 20.0, 40.0, 60.0, 180.0, 320.0, 320.0, 320.0],
        "{minutes:?}"
    );
}

#[test]
fn private_space_sizes_restart_without_backoff() {
    let waits = backoff_waits("private-s");
    assert!(waits.len() > 100);
    assert!(waits.iter().all(|w| *w == 0.0), "{:?}", &waits[..5]);
}

#[test]
fn a_leaking_standard_dyno_swaps_then_restarts_at_twice_its_quota() {
    let text = r#"
seed = 3
duration = "12h"
noise = "off"
[lifecycle]
cycling = false
[[app]]
name = "leaky"
[[app.process]]
type = "web"
size = "standard-1x"
memory = { base_mb = 300, growth_mb_per_h = 200, swap_slowdown = 4.0 }
[app.workload]
arrivals = { poisson = 10.0 }
cpu = { exponential = "20ms" }
"#;
    let r = &run_all(&scenario(text))[0];
    let r14 = events(r, Kind::R14);
    let r15 = events(r, Kind::R15);
    // 512 MB quota: R14 after (512 - 300) / 200 h = 1.06 h, R15 at 1024 MB after 3.62 h.
    assert!(
        (secs(r14[0]) / H - 1.06).abs() < 0.01,
        "first R14 at {} h",
        secs(r14[0]) / H
    );
    assert!(
        (secs(r15[0]) / H - 3.62).abs() < 0.01,
        "first R15 at {} h",
        secs(r15[0]) / H
    );
    assert!(
        r15.len() >= 3,
        "it keeps leaking after each restart: {}",
        r15.len()
    );
    let d = &r.dynos[0];
    assert_eq!(d.restarts_r15 as usize, r15.len());
    assert!(d.r14_s > 2.0 * H);
    // Swapping slows the CPU work: requests take longer while above the quota.
    let slow = r
        .windows
        .iter()
        .filter(|w| w.window_start_s > 1.2 * H && w.window_start_s < 3.5 * H);
    let fast = r.windows.iter().filter(|w| w.window_start_s < 1.0 * H);
    let mean = |it: &mut dyn Iterator<Item = &dynosim::model::WindowRow>| {
        let v: Vec<f64> = it.map(|w| w.mean_ms).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    assert!(mean(&mut slow.into_iter()) > 2.0 * mean(&mut fast.into_iter()));
}

#[test]
fn an_idle_eco_dyno_sleeps_and_the_next_request_waits_for_it_to_wake() {
    let text = r#"
seed = 4
duration = "1d"
noise = "off"
[network]
latency = "0ms"
[lifecycle]
wake = "8s"
[[app]]
name = "hobby"
[[app.process]]
type = "web"
size = "eco"
[app.workload]
arrivals = { interval = "45m" }
cpu = { constant = "50ms" }
"#;
    let (r, reqs) = run_with_requests(text);
    let sleeps = events(&r, Kind::Sleep).len();
    assert!(sleeps >= 30, "sleeps {sleeps}");
    // Every sleep but the last is ended by a request.
    assert_eq!(events(&r, Kind::Wake).len(), sleeps - 1);
    // Every request after the first half hour finds the dyno asleep and waits the 8 s wake.
    for q in reqs.iter().filter(|q| q.arrival_ns > 1_800_000_000_000) {
        assert_eq!(q.status, Status::Ok);
        assert!(
            (q.latency_ns as f64 * 1e-9 - 8.05).abs() < 1e-6,
            "latency {}",
            q.latency_ns
        );
    }
}

#[test]
fn preboot_keeps_serving_through_a_deploy_and_plain_restarts_do_not() {
    let text = |preboot: bool| {
        format!(
            r#"
seed = 9
duration = "2h"
noise = "off"
[lifecycle]
cycling = false
[[app]]
name = "api"
preboot = {preboot}
deploys = ["1h"]
[[app.process]]
type = "web"
size = "performance-m"
count = 3
concurrency = 4
boot = "20s"
[app.workload]
arrivals = {{ poisson = 40.0 }}
cpu = {{ exponential = "20ms" }}
"#
        )
    };
    let (plain, plain_reqs) = run_with_requests(&text(false));
    let (pre, pre_reqs) = run_with_requests(&text(true));
    let slow =
        |reqs: &[RequestRecord]| reqs.iter().filter(|q| q.latency_ns > 5_000_000_000).count();
    // Without preboot every dyno restarts at once: requests wait ~20 s for the new ones.
    assert!(slow(&plain_reqs) > 500, "{}", slow(&plain_reqs));
    assert_eq!(slow(&pre_reqs), 0);
    // Held requests go to the first dyno up; past the routers' limits they are shed (H11).
    let p = &plain.processes[0];
    assert_eq!(
        p.errors,
        p.errors_h(Status::H11),
        "only router shedding, no lost requests"
    );
    assert!((p.errors as f64) < 0.001 * p.requests as f64);
    assert_eq!(pre.processes[0].errors, 0);
    // The old dynos get SIGTERM 3 minutes after a preboot deploy.
    for s in events(&pre, Kind::Sigterm) {
        assert!((secs(s) - (H + 180.0)).abs() < 1e-6);
    }
}

#[test]
fn private_dynos_deploy_a_quarter_at_a_time() {
    let text = r#"
seed = 2
duration = "3h"
noise = "off"
[lifecycle]
cycling = false
[[space]]
name = "vault"
kind = "private"
region = "oregon"
[[app]]
name = "bank"
space = "vault"
deploys = ["1h"]
[[app.process]]
type = "web"
size = "private-s"
count = 8
boot = { uniform = ["10s", "30s"] }
[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "20ms" }
"#;
    let r = &run_all(&scenario(text))[0];
    let mut sigterms: Vec<f64> = events(r, Kind::Sigterm).iter().map(|e| secs(e)).collect();
    sigterms.sort_by(f64::total_cmp);
    assert_eq!(sigterms.len(), 8);
    // Four batches of two: each batch starts when the previous one is up.
    let batches: Vec<&[f64]> = sigterms.chunks(2).collect();
    for b in &batches {
        assert_eq!(b[0], b[1], "a batch restarts together");
    }
    for w in batches.windows(2) {
        let gap = w[1][0] - w[0][0];
        assert!(
            (10.0..=30.0).contains(&gap),
            "next batch after the previous is up: {gap}"
        );
    }
    assert_eq!(
        r.processes[0].errors, 0,
        "a rolling deploy never leaves the app without dynos"
    );
}

#[test]
fn the_bundled_ephemeral_fs_scenario_shows_what_restarts_cost() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ephemeral-fs.toml");
    let s = dynosim::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let r = &run_all(&s)[0];
    let p = &r.processes[0];
    assert!(p.restarts >= 8, "daily cycles and a deploy: {}", p.restarts);
    assert!(
        p.files_lost > 1000 && p.bytes_lost > 10_000_000,
        "uploads lost: {} files",
        p.files_lost
    );
    assert!(p.sticky_miss_restart > 1000, "reads after restarts miss");
    assert!(
        p.cold_penalty_s > 100.0,
        "cold caches after restarts cost time"
    );
    assert!(p.cache_hit_ratio > 0.9 && p.cache_hit_ratio < 1.0);
    assert!(
        r.dynos.iter().all(|d| d.r14_s > 0.0),
        "the leak reaches swap"
    );
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
}
