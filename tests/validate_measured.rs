//! The as-measured simulation without a kernel: request k of each app gets exactly the CPU
//! time the real run measured for it (replayed by its uniform from the model's `cpu/<app>`
//! stream), arrivals stay paired, and lost capacity becomes a capacity cap, not a slowdown of
//! the measured CPU. No root needed.

use dynosim::engine::Control;
use dynosim::model::{RequestObserver, RequestRecord, run_job};
use dynosim::scenario::Scenario;
use dynosim::validate::app::ServerTimes;
use dynosim::validate::loadgen::Outcome;
use dynosim::validate::measured;
use dynosim::validate::plan::{ScaleOptions, scale};
use dynosim::validate::real::RealRun;
use std::path::Path;
use std::time::Duration;

struct Collect(Vec<RequestRecord>);

impl RequestObserver for Collect {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(r.clone());
    }
}

fn scaled(name: &str) -> dynosim::validate::plan::Scaled {
    let s = Scenario::load(&Path::new("scenarios/validation").join(name)).expect("scenario");
    scale(
        &s,
        &ScaleOptions {
            point: 0,
            duration: Some(Duration::from_secs(20)),
            cpus: vec![0, 1],
            max_shared_dynos: 4,
            network_rtt: Duration::from_micros(50),
            contention: None,
        },
    )
    .expect("scales")
}

/// A real run in which request k used `measured(k)` ns of CPU (request 5 got no answer).
fn fake_run(n: usize, measured: impl Fn(usize) -> u64) -> RealRun {
    RealRun {
        outcomes: (0..n)
            .map(|k| Outcome {
                server: (k != 5).then(|| ServerTimes {
                    id: k as u64,
                    cpu_used_ns: measured(k),
                    ..ServerTimes::default()
                }),
                ..Outcome::default()
            })
            .collect(),
        ..RealRun::default()
    }
}

fn records(s: &Scenario) -> Vec<RequestRecord> {
    let job = s.jobs()[0];
    let mut c = Collect(Vec::new());
    run_job(&s.points[0].config, job.seeds, &mut c, |_, _| {
        Control::Continue
    })
    .expect("runs");
    c.0
}

#[test]
fn each_request_replays_its_measured_cpu_time() {
    let sc = scaled("dedicated-mm1.toml");
    let n = sc.plan.len();
    let value = |k: usize| 3_000_000 + 7_919 * k as u64;
    let sim = measured::scenario(&sc, &fake_run(n, value));
    let recs = records(&sim);
    assert!(recs.len() > 300, "{} requests", recs.len());
    let mut checked = 0;
    for r in recs.iter().filter(|r| r.split.is_some()) {
        let p = &sc.plan[r.id as usize];
        assert_eq!(p.at_ns, r.arrival_ns, "arrival of {}", r.id);
        // One slot, nothing else on the CPU: the CPU phase is the demand, exactly.
        let want = if r.id == 5 {
            p.work.cpu_ns
        } else {
            value(r.id as usize)
        };
        let got = r.split.map_or(0, |s| s.cpu_ns);
        assert!(got.abs_diff(want) <= 1, "request {}: {got} vs {want}", r.id);
        checked += 1;
    }
    assert!(checked > 300);
}

#[test]
fn lost_capacity_caps_a_dedicated_dyno_instead_of_slowing_the_measured_cpu() {
    let sc = scaled("dedicated-mm1.toml");
    let n = sc.plan.len();
    let mut real = fake_run(n, |_| 4_000_000);
    real.host.steal_dyno_cpus = 0.2;
    let sim = measured::scenario(&sc, &real);
    let p = &sim.points[0].config.apps[0].processes[0];
    assert!((p.cpu_quota.expect("capped") - 0.8).abs() < 1e-12);
    // One slot on its capped core: a 4 ms request's CPU phase takes 4 / 0.8 = 5 ms (request 5,
    // unanswered, keeps its planned demand).
    let recs = records(&sim);
    assert!(recs.len() > 300);
    for r in recs.iter().filter(|r| r.id != 5) {
        let cpu = r.split.map_or(0, |s| s.cpu_ns);
        assert!(cpu.abs_diff(5_000_000) <= 2, "request {}: {cpu}", r.id);
    }
    // A dyno under a CFS quota keeps it.
    let q = scaled("cpu-quota.toml");
    let mut real = fake_run(q.plan.len(), |_| 4_000_000);
    real.host.steal_dyno_cpus = 0.2;
    let sim = measured::scenario(&q, &real);
    assert_eq!(
        sim.points[0].config.apps[0].processes[0].cpu_quota,
        Some(0.5)
    );
    // A shared instance loses capacity as a whole; contention is off (the thread clock has it).
    let w = scaled("shared-weights.toml");
    let mut real = fake_run(w.plan.len(), |_| 4_000_000);
    real.host.steal_dyno_cpus = 0.1;
    let sim = measured::scenario(&w, &real);
    let cfg = &sim.points[0].config;
    assert!((cfg.placement.shared.instance.speed - 0.9).abs() < 1e-12);
    assert_eq!(cfg.noise.map(|n| n.contention), Some(0.0));
    assert!(cfg.apps.iter().all(|a| a.processes[0].cpu_quota.is_none()));
}
