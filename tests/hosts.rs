//! Shared versus dedicated hosts: CPU sharing by weight and cap, CFS quota, neighbours, and the
//! independence of dedicated dynos from other tenants' load.

mod common;
use common::*;
use dynosim::model::JobResult;

/// Two saturated apps packed onto one 1-core shared instance, with idle neighbours.
fn packed(size_b: &str, quota_b: &str) -> String {
    format!(
        r#"
seed = 3
duration = "10m"
noise = "off"
[network]
latency = "0ms"
[placement]
policy = "binpack"
vcpus = 1
instances = 1
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
concurrency = 8
[app.workload]
arrivals = {{ poisson = 40.0 }}
cpu = {{ constant = "100ms" }}
[[app]]
name = "b"
[[app.process]]
type = "web"
size = "{size_b}"
concurrency = 8
{quota_b}
[app.workload]
arrivals = {{ poisson = 40.0 }}
cpu = {{ constant = "100ms" }}
"#
    )
}

fn cpu_of(r: &JobResult, app: &str) -> f64 {
    r.dynos
        .iter()
        .filter(|d| d.app == app)
        .map(|d| d.cpu_s)
        .sum()
}

#[test]
fn saturated_dynos_share_a_core_by_weight() {
    // standard-1x (share 1) and standard-2x (share 2) on one core: 1/3 and 2/3 of it.
    let results = run_all(&scenario(&packed("standard-2x", "")));
    let r = &results[0];
    assert_eq!(r.instances.len(), 1, "binpack puts both on one instance");
    let (a, b) = (cpu_of(r, "a"), cpu_of(r, "b"));
    assert!(
        rel_err(b / a, 2.0) < 0.01,
        "CPU ratio {} (a {a} s, b {b} s)",
        b / a
    );
    assert!(
        rel_err(a + b, 600.0) < 0.001,
        "the core is fully used: {}",
        a + b
    );
    assert!(rel_err(r.instances[0].mean_load, 1.0) < 0.001);
}

#[test]
fn equal_weights_share_equally() {
    let results = run_all(&scenario(&packed("standard-1x", "")));
    let r = &results[0];
    let (a, b) = (cpu_of(r, "a"), cpu_of(r, "b"));
    assert!(rel_err(a / b, 1.0) < 0.01, "{a} vs {b}");
}

#[test]
fn a_capped_dyno_never_exceeds_its_cap() {
    // b is capped at 0.25 core; a gets the rest of the core.
    for mode in ["fluid", "cfs"] {
        let text = packed("standard-2x", "cpu_quota = 0.25").replace(
            "[placement]",
            &format!("[cpu]\nmode = \"{mode}\"\n[placement]"),
        );
        let results = run_all(&scenario(&text));
        let r = &results[0];
        let (a, b) = (cpu_of(r, "a"), cpu_of(r, "b"));
        // One period of slack for CFS: the last period's quota may be partly used at the end.
        assert!(
            b <= 0.25 * 600.0 + 0.025 + 1e-6,
            "{mode}: capped dyno used {b} s"
        );
        assert!(
            rel_err(b, 150.0) < 0.01,
            "{mode}: a saturated capped dyno uses its cap: {b}"
        );
        assert!(
            rel_err(a, 450.0) < 0.01,
            "{mode}: the other dyno gets the rest: {a}"
        );
        let throttled: f64 = r.dynos.iter().map(|d| d.throttled_s).sum();
        if mode == "cfs" {
            // b gets 2/3 of the core while both run, so its 25 ms budget lasts 37.5 ms and it
            // is throttled for the other 62.5 ms of every period.
            assert!(rel_err(throttled, 375.0) < 0.01, "throttled {throttled} s");
        } else {
            assert_eq!(throttled, 0.0);
        }
    }
}

#[test]
fn cfs_quota_matches_the_closed_form_for_isolated_requests() {
    // T = C + (ceil(C/Q) - 1)(P - Q) for a request that starts a period with a full budget
    // (interference.md section 3b). P = 100 ms, quota 0.3 core: Q = 30 ms.
    let (p_ms, q_ms) = (100.0f64, 30.0f64);
    for c_ms in [25.0f64, 30.0, 45.0, 95.0, 120.0, 250.0] {
        let expected_ms = c_ms + ((c_ms / q_ms).ceil() - 1.0) * (p_ms - q_ms);
        let text = format!(
            r#"
seed = 1
duration = "10m"
noise = "off"
[network]
latency = "0ms"
[cpu]
mode = "cfs"
period = "100ms"
phase = "0ms"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "performance-m"
cpu_quota = 0.3
[app.workload]
arrivals = {{ interval = "2s" }}
cpu = {{ constant = "{c_ms}ms" }}
"#
        );
        let results = run_all(&scenario(&text));
        let p = &results[0].processes[0];
        assert!(p.completed > 250);
        assert!(
            (p.latency.max_ms - expected_ms).abs() < 1e-3
                && (p.latency.mean_ms - expected_ms).abs() < 1e-3,
            "C = {c_ms} ms: mean {} max {} vs {expected_ms}",
            p.latency.mean_ms,
            p.latency.max_ms
        );
    }
}

const TWO_TIERS: &str = r#"
seed = 17
duration = "30m"
replications = 2
[noise]
load = LOAD
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 3
concurrency = 2
[app.workload]
arrivals = { poisson = 30.0 }
cpu = { exponential = "30ms" }
[[app]]
name = "big"
[[app.process]]
type = "web"
size = "performance-m"
count = 2
concurrency = 4
[app.workload]
arrivals = { poisson = 60.0 }
cpu = { lognormal = { median = "20ms", p99 = "200ms" } }
"#;

#[test]
fn a_dedicated_dyno_ignores_the_neighbours_load() {
    let low = run_all(&scenario(&TWO_TIERS.replace("LOAD", "0.1")));
    let high = run_all(&scenario(&TWO_TIERS.replace("LOAD", "0.9")));
    for (l, h) in low.iter().zip(&high) {
        // Compared through Debug so that NaN fields (no cache) compare equal.
        let big = |r: &JobResult| format!("{:?}", r.processes.iter().find(|p| p.app == "big"));
        assert!(
            big(l) == big(h),
            "performance-m results must not depend on neighbour load"
        );
        let big_dynos = |r: &JobResult| {
            format!(
                "{:?}",
                r.dynos
                    .iter()
                    .filter(|d| d.app == "big")
                    .collect::<Vec<_>>()
            )
        };
        assert!(
            big_dynos(l) == big_dynos(h),
            "performance-m dynos must not depend on neighbour load"
        );
        // The shared-tier app does feel it.
        let shop = |r: &JobResult| {
            r.processes
                .iter()
                .find(|p| p.app == "shop")
                .map(|p| p.latency.p99_ms)
        };
        assert!(shop(h) > shop(l), "{:?} vs {:?}", shop(h), shop(l));
    }
    // Dedicated instances host exactly one dyno and no neighbours.
    for i in high[0].instances.iter().filter(|i| i.kind == "dedicated") {
        assert_eq!(i.dynos.len(), 1);
        assert_eq!(i.mean_neighbour_load, 0.0);
    }
    // Neighbours demand 90% of each shared instance on average; what they get is less when
    // their bursts exceed the cores.
    for (l, h) in low[0]
        .instances
        .iter()
        .zip(&high[0].instances)
        .filter(|(i, _)| i.kind == "shared")
    {
        assert!(
            rel_err(l.mean_neighbour_load, 0.1) < 0.3,
            "{}",
            l.mean_neighbour_load
        );
        assert!(
            h.mean_neighbour_load > 0.6 && h.mean_neighbour_load < 0.9,
            "{}",
            h.mean_neighbour_load
        );
        assert!(h.peak_demand > 1.0, "bursts overload the instance");
    }
}

#[test]
fn noise_off_gives_idle_hosts() {
    let text = TWO_TIERS.replace("[noise]\nload = LOAD\n", "noise = \"off\"\n");
    let results = run_all(&scenario(&text));
    for i in &results[0].instances {
        assert_eq!(i.mean_neighbour_load, 0.0);
        assert_eq!(i.mean_speed, 1.0);
        assert!(i.peak_demand <= 1.0);
    }
}

#[test]
fn shared_tier_is_slower_and_more_variable_than_dedicated_under_default_noise() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/shared-vs-dedicated.toml");
    let s = dynosim::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let results = run_all(&s);
    let jobs = s.jobs();
    let by_size = |size: &str| -> Vec<&dynosim::model::ProcessResult> {
        results
            .iter()
            .flat_map(|r| r.processes.iter())
            .filter(|p| p.size == size)
            .collect()
    };
    let (shared, dedicated) = (by_size("standard-1x"), by_size("performance-m"));
    assert_eq!(shared.len(), jobs.len() / 2);
    let p99 = |v: &[&dynosim::model::ProcessResult]| avg(v, |p| p.latency.p99_ms);
    let cov = |v: &[&dynosim::model::ProcessResult]| avg(v, |p| p.window_cov_p99);
    eprintln!(
        "p99 shared {:.1} ms vs dedicated {:.1} ms; window CoV of p99 {:.3} vs {:.3}",
        p99(&shared),
        p99(&dedicated),
        cov(&shared),
        cov(&dedicated)
    );
    assert!(p99(&shared) > 1.15 * p99(&dedicated));
    assert!(cov(&shared) > 1.3 * cov(&dedicated));
    // Every replication, not just on average.
    for (s, d) in shared.iter().zip(&dedicated) {
        assert!(s.latency.p99_ms > d.latency.p99_ms);
    }
}

#[test]
fn the_closed_form_checks_hold_with_noise_off_on_shared_hosts() {
    // Three standard-1x dynos spread over idle shared hosts: M/M/1 each, as in tests/queueing.rs.
    let text = r#"
seed = 5
duration = "6h"
warmup = "10m"
replications = 2
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
count = 3
[app.workload]
arrivals = { poisson = 45.0 }
cpu = { exponential = "40ms" }
"#;
    let results = run_all(&scenario(text));
    let web = rows(&results, "web");
    let expected = 1000.0 / (25.0 - 15.0);
    let mean = pooled_mean_ms(&web);
    assert!(rel_err(mean, expected) < 0.03, "{mean} vs {expected}");
}
