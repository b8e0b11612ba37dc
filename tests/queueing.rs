//! The model against closed-form queueing results.
//!
//! With `noise = "off"` and `[network] latency = "0ms"`, dynos behave as textbook queues:
//! - N dedicated dynos with one slot each, under uniformly random routing of a Poisson stream, are
//!   N independent M/M/1 queues (Poisson splitting): response time ~ Exp(mu - lambda/N), so the
//!   mean is 1/(mu - lambda/N) and the p99 is ln(100)/(mu - lambda/N);
//! - one 1-core dyno with many slots is an M/G/1 processor-sharing queue: mean E[S]/(1 - rho),
//!   whatever the service distribution.

mod common;
use common::*;

fn mm1_scenario(
    dynos: u32,
    mean_cpu_ms: f64,
    total_rate: f64,
    duration: &str,
    reps: u32,
) -> String {
    format!(
        r#"
seed = 7
duration = "{duration}"
warmup = "10m"
replications = {reps}
noise = "off"

[network]
latency = "0ms"

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "performance-m"
count = {dynos}
concurrency = 1

[app.workload]
arrivals = {{ poisson = {total_rate} }}
cpu = {{ exponential = "{mean_cpu_ms}ms" }}
"#
    )
}

fn check_mm1(dynos: u32, mean_cpu_ms: f64, total_rate: f64, duration: &str, reps: u32) {
    let s = scenario(&mm1_scenario(
        dynos,
        mean_cpu_ms,
        total_rate,
        duration,
        reps,
    ));
    let results = run_all(&s);
    let web = rows(&results, "web");
    let mu = 1000.0 / mean_cpu_ms;
    let gap = mu - total_rate / f64::from(dynos);
    let mean_expected = 1000.0 / gap;
    let p99_expected = 1000.0 * 100f64.ln() / gap;
    let completed: u64 = web.iter().map(|p| p.completed).sum();
    assert!(
        completed > 500_000,
        "too few requests for the tolerance: {completed}"
    );
    let mean = pooled_mean_ms(&web);
    let p99 = avg(&web, |p| p.latency.p99_ms);
    eprintln!(
        "M/M/1 x{dynos}: mean {mean:.3} ms (theory {mean_expected:.3}), p99 {p99:.3} ms (theory {p99_expected:.3}), {completed} requests"
    );
    assert!(
        rel_err(mean, mean_expected) < 0.03,
        "mean {mean} ms vs 1/(mu - lambda/N) = {mean_expected} ms"
    );
    assert!(
        rel_err(p99, p99_expected) < 0.05,
        "p99 {p99} ms vs ln(100)/(mu - lambda/N) = {p99_expected} ms"
    );
    // Nothing is lost: no errors at these loads.
    for p in &web {
        assert_eq!(p.errors, 0);
        assert_eq!(p.requests, p.completed + p.in_flight);
    }
}

#[test]
fn random_routing_to_single_slot_dedicated_dynos_is_independent_mm1_queues_rho_05() {
    // mu = 10/s per dyno, lambda = 20/s over 4 dynos: rho = 0.5, mean 200 ms, p99 921 ms.
    check_mm1(4, 100.0, 20.0, "8h", 4);
}

#[test]
fn random_routing_to_single_slot_dedicated_dynos_is_independent_mm1_queues_rho_07() {
    // mu = 50/s per dyno, lambda = 70/s over 2 dynos: rho = 0.7, mean 66.7 ms, p99 307 ms.
    check_mm1(2, 20.0, 70.0, "6h", 4);
}

fn ps_scenario(cpu: &str, rate: f64, concurrency: u32) -> String {
    format!(
        r#"
seed = 11
duration = "12h"
warmup = "10m"
replications = 3
noise = "off"

[network]
latency = "0ms"

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "standard-1x"
count = 1
concurrency = {concurrency}

[app.workload]
arrivals = {{ poisson = {rate} }}
cpu = {cpu}
"#
    )
}

#[test]
fn one_core_dyno_with_many_slots_is_mm1_processor_sharing() {
    // E[S] = 25 ms, lambda = 28/s: rho = 0.7, E[T] = E[S]/(1 - rho) = 83.3 ms.
    let s = scenario(&ps_scenario(r#"{ exponential = "25ms" }"#, 28.0, 16));
    let results = run_all(&s);
    let web = rows(&results, "web");
    let expected = 25.0 / (1.0 - 0.7);
    let mean = pooled_mean_ms(&web);
    eprintln!("M/M/1-PS: mean {mean:.3} ms (theory {expected:.3})");
    assert!(rel_err(mean, expected) < 0.04, "mean {mean} vs {expected}");
    // The dyno's core is busy a fraction rho of the time.
    let util = avg(&web, |p| p.cpu_utilization);
    assert!(rel_err(util, 0.7) < 0.02, "utilization {util} vs rho 0.7");
}

#[test]
fn processor_sharing_mean_is_insensitive_to_the_service_distribution() {
    // Lognormal CPU (mu = ln 10 ms, sigma = 1): E[S] = 10 e^0.5 = 16.487 ms, E[S^2] = e E[S]^2.
    // lambda = 36.39/s gives rho = 0.6. PS: E[T] = E[S]/(1 - rho) = 41.2 ms. FIFO (one slot) would
    // give the Pollaczek-Khinchine value E[S] + lambda E[S^2] / (2 (1 - rho)) = 50.1 ms, so this
    // test tells sharing from queueing.
    let es = 10.0 * 0.5f64.exp();
    let rate = 0.6 / (es / 1000.0);
    let cpu = format!(
        "{{ lognormal = {{ mu = {}, sigma = 1.0 }} }}",
        (0.010f64).ln()
    );
    let ps = rows(&run_all(&scenario(&ps_scenario(&cpu, rate, 256))), "web")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    let ps_refs: Vec<_> = ps.iter().collect();
    let expected_ps = es / 0.4;
    let mean_ps = pooled_mean_ms(&ps_refs);
    eprintln!("M/G/1-PS lognormal: mean {mean_ps:.3} ms (theory {expected_ps:.3})");
    assert!(
        rel_err(mean_ps, expected_ps) < 0.04,
        "PS mean {mean_ps} vs {expected_ps}"
    );

    let fifo_results = run_all(&scenario(&ps_scenario(&cpu, rate, 1)));
    let fifo = rows(&fifo_results, "web");
    let expected_fifo = es + rate * (1f64.exp() * es * es / 1000.0) / (2.0 * 0.4);
    let mean_fifo = pooled_mean_ms(&fifo);
    eprintln!("M/G/1-FIFO lognormal: mean {mean_fifo:.3} ms (theory {expected_fifo:.3})");
    assert!(
        rel_err(mean_fifo, expected_fifo) < 0.05,
        "FIFO mean {mean_fifo} vs {expected_fifo}"
    );
}

#[test]
fn quantiles_of_a_known_distribution_are_within_one_percent() {
    // A lightly loaded 8-core dyno: requests never share a core, so latency = CPU demand,
    // uniform on [10, 30] ms: the q-quantile is 10 + 20 q ms.
    let text = r#"
seed = 3
duration = "2h"
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "calc"
[[app.process]]
type = "web"
size = "performance-l"
count = 1
concurrency = 1000
[app.workload]
arrivals = { poisson = 20.0 }
cpu = { uniform = { min = "10ms", max = "30ms" } }
"#;
    let results = run_all(&scenario(text));
    let web = rows(&results, "web");
    let p = web[0];
    assert!(p.completed > 100_000);
    for (q, got) in [
        (0.5, p.latency.p50_ms),
        (0.9, p.latency.p90_ms),
        (0.95, p.latency.p95_ms),
        (0.99, p.latency.p99_ms),
    ] {
        let want = 10.0 + 20.0 * q;
        assert!(rel_err(got, want) < 0.01, "q{q}: {got} ms vs {want} ms");
    }
    assert!(p.latency.max_ms <= 30.0 + 1e-6 && p.latency.max_ms > 29.9);
    assert!(rel_err(p.latency.mean_ms, 20.0) < 0.005);
    // With no queueing the whole latency is CPU time.
    assert!(p.latency.queue_ms < 1e-9 && p.latency.network_ms == 0.0);
}

#[test]
fn a_multi_core_dyno_runs_one_request_per_core_in_parallel() {
    // performance-m has 2 cores. With 2 slots, the two requests in service never share a core, so
    // every request's CPU phase takes exactly its 100 ms; with 4 slots, bursts of 3 or 4 requests
    // share the 2 cores and stretch the CPU phase.
    let text = |slots: u32| {
        format!(
            r#"
seed = 5
duration = "2h"
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "performance-m"
count = 1
concurrency = {slots}
[app.workload]
arrivals = {{ poisson = 12.0 }}
cpu = {{ constant = "100ms" }}
"#
        )
    };
    let two = run_all(&scenario(&text(2)));
    let p = rows(&two, "web")[0];
    assert!(
        (p.latency.cpu_ms - 100.0).abs() < 1e-6,
        "cpu {}",
        p.latency.cpu_ms
    );
    assert!(
        p.latency.queue_ms > 1.0,
        "a third request must queue for a slot"
    );
    let four = run_all(&scenario(&text(4)));
    let p = rows(&four, "web")[0];
    assert!(
        p.latency.cpu_ms > 101.0,
        "sharing 2 cores among up to 4 must stretch CPU time: {}",
        p.latency.cpu_ms
    );
    // Work is conserved: utilization = lambda E[S] / cores = 12 * 0.1 / 2.
    assert!(
        rel_err(p.cpu_utilization, 0.6) < 0.03,
        "{}",
        p.cpu_utilization
    );
}
