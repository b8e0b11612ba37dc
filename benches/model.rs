//! Speed of the platform model, for regression tracking (benches/README.md).
//!
//! - `cpu_share/k`: one host CPU-sharing update (weighted water-filling) with k claimants;
//! - `request_path`: the router and dyno path alone (one dedicated dyno, no noise, no network);
//! - `shared_tier`: the full model on shared hosts (noise, lifecycle, filesystem on), 10 minutes
//!   of scenarios/bench-standard.toml's formation;
//! - `fleet/n`: events per second with 100, 1,000 and 10,000 dynos at the same load per dyno;
//! - `sweep16/threads`: a 16-job sweep on 1 and 2 threads.
//!
//! Throughput is reported per simulated request (or per event for the fleet), so `thrpt` reads
//! directly as requests/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dynosim::model::cpu::{Claim, water_fill};
use dynosim::run::{RunOptions, run, simulate};
use dynosim::scenario::Scenario;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "bench.toml", "bench", Path::new(".")).expect("bench scenario is valid")
}

/// Simulate every job; returns (requests generated, events).
fn simulate_all(s: &Scenario) -> (u64, u64) {
    s.jobs()
        .iter()
        .map(|j| simulate(s, j))
        .fold((0, 0), |a, r| (a.0 + r.generated, a.1 + r.events))
}

fn cpu_share(c: &mut Criterion) {
    let mut g = c.benchmark_group("cpu_share");
    for k in [1usize, 10, 100, 1000] {
        let claims: Vec<Claim> = (0..k)
            .map(|i| Claim {
                weight: 1.0 + (i % 3) as f64,
                demand: 0.5 + (i % 7) as f64 * 0.25,
            })
            .collect();
        let mut out = vec![0.0; k];
        // Contended: the host has a third of the demand, so the sort path runs.
        let capacity = claims.iter().map(|c| c.demand).sum::<f64>() / 3.0;
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(k), &k, |b, _| {
            b.iter(|| water_fill(black_box(capacity), black_box(&claims), &mut out))
        });
    }
    g.finish();
}

const REQUEST_PATH: &str = r#"
seed = 1
duration = "2h"
noise = "off"
[network]
latency = "0ms"
[lifecycle]
cycling = false
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "performance-l"
concurrency = 16
[app.workload]
arrivals = { poisson = 200.0 }
cpu = { exponential = "10ms" }
"#;

fn request_path(c: &mut Criterion) {
    let s = scenario(REQUEST_PATH);
    let (requests, _) = simulate_all(&s);
    let mut g = c.benchmark_group("request_path");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("dedicated_dyno", |b| b.iter(|| black_box(simulate_all(&s))));
    g.finish();
}

fn shared_tier(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench-standard.toml");
    let text = std::fs::read_to_string(&path).expect("bench-standard.toml");
    let s = scenario(&text.replace("duration = \"1d\"", "duration = \"10m\""));
    let (requests, _) = simulate_all(&s);
    let mut g = c.benchmark_group("shared_tier");
    g.sample_size(10);
    g.throughput(Throughput::Elements(requests));
    g.bench_function("bench_standard_10m", |b| {
        b.iter(|| black_box(simulate_all(&s)))
    });
    g.finish();
}

fn fleet_text(dynos: u32) -> String {
    // The same load per dyno at every size (12.5 requests/s, as in bench-standard), each dyno
    // on an instance of its own among other tenants, as a large shared pool would place them.
    format!(
        r#"
seed = 3
duration = "20s"
[placement]
instances = {instances}
[[app]]
name = "fleet"
dyno_limit = {dynos}
[[app.process]]
type = "web"
size = "standard-1x"
count = {dynos}
limit = {limit}
concurrency = 4
[app.workload]
arrivals = {{ poisson = {rate} }}
cpu = {{ lognormal = {{ median = "20ms", p99 = "150ms" }} }}
wait = {{ exponential = "15ms" }}
"#,
        instances = dynos.max(100),
        limit = dynos.max(100),
        rate = 12.5 * f64::from(dynos),
    )
}

fn fleet(c: &mut Criterion) {
    let mut g = c.benchmark_group("fleet");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for dynos in [100u32, 1000, 10_000] {
        let s = scenario(&fleet_text(dynos));
        let (_, events) = simulate_all(&s);
        g.throughput(Throughput::Elements(events));
        g.bench_with_input(BenchmarkId::from_parameter(dynos), &dynos, |b, _| {
            b.iter(|| black_box(simulate_all(&s)))
        });
    }
    g.finish();
}

fn sweep16(c: &mut Criterion) {
    // Jobs long enough (about 0.3 s each) that the serial part of a run, writing the CSVs and
    // drawing the plots, does not hide the parallel speed-up.
    let text = r#"
seed = 9
duration = "1h"
replications = 4
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 8
concurrency = 4
[app.workload]
arrivals = { poisson = 100.0 }
cpu = { lognormal = { median = "20ms", p99 = "150ms" } }
[sweep]
"app.shop.process.web.count" = [8, 10, 12, 14]
"#;
    let s = scenario(text);
    let tmp = std::env::temp_dir().join(format!("dynosim-bench-{}", std::process::id()));
    let mut g = c.benchmark_group("sweep16");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for threads in [1usize, 2] {
        let opts = RunOptions {
            out: Some(tmp.clone()),
            threads: Some(threads),
            ..Default::default()
        };
        g.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, _| {
            b.iter(|| run(std::slice::from_ref(&s), &opts).expect("sweep runs"))
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&tmp);
}

criterion_group!(
    benches,
    cpu_share,
    request_path,
    shared_tier,
    fleet,
    sweep16
);
criterion_main!(benches);
