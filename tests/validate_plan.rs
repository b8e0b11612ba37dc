//! `dynosim validate` without a kernel: scaling a scenario to a small machine, and the pairing
//! of the real run's requests with the simulation's (same arrival times, same dynos, same
//! order), checked against the model's own request records. No root needed.

use dynosim::engine::Control;
use dynosim::model::{DrawnRequest, RequestObserver, RequestRecord, run_job};
use dynosim::scenario::Scenario;
use dynosim::validate::plan::{ScaleOptions, scale};
use std::path::Path;
use std::time::Duration;

struct Collect(Vec<RequestRecord>);

impl RequestObserver for Collect {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(r.clone());
    }
}

/// Every request the model draws, warmup included: (id, app, what was drawn).
#[derive(Default)]
struct Drawn(Vec<(u64, usize, DrawnRequest)>);

impl RequestObserver for Drawn {
    fn on_request(&mut self, _: &RequestRecord) {}

    fn on_drawn(&mut self, id: u64, app: usize, drawn: &DrawnRequest) {
        self.0.push((id, app, *drawn));
    }
}

/// Two apps, one with a filesystem and a cache, the other with none: every field the real run
/// sends is checked below.
const TWO_APPS: &str = r#"
name = "two"
duration = "1m"
warmup = "5s"
noise = "off"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 2
[app.workload]
arrivals = { poisson = 30.0 }
cpu = { lognormal = { median = "5ms", p99 = "40ms" } }
wait = { exponential = "10ms" }
[app.filesystem]
write_probability = 0.3
write_kb = 8
read_probability = 0.6
clients = 25
cache_items = 50
cache_zipf = 1.1
cache_miss = { exponential = "30ms" }
[[app]]
name = "api"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { interval = "70ms" }
cpu = { uniform = ["1ms", "3ms"] }
"#;

fn opts(duration: u64) -> ScaleOptions {
    ScaleOptions {
        point: 0,
        duration: Some(Duration::from_secs(duration)),
        cpus: vec![0, 1],
        max_shared_dynos: 4,
        network_rtt: Duration::from_micros(80),
        contention: None,
    }
}

fn load(name: &str) -> Scenario {
    Scenario::load(&Path::new("scenarios/validation").join(name)).expect("bundled scenario")
}

/// Request k of the real run's plan is request k of the simulation: same arrival, app and dyno.
#[test]
fn real_requests_pair_with_the_simulated_ones() {
    for file in [
        "dedicated-mm1.toml",
        "shared-weights.toml",
        "shared-noisy.toml",
        "cpu-quota.toml",
    ] {
        let s = load(file);
        let scaled = scale(&s, &opts(20)).expect("scales");
        let job = scaled.scenario.jobs()[0];
        let mut c = Collect(Vec::new());
        run_job(scaled.config(), job.seeds, &mut c, |_, _| Control::Continue).expect("runs");
        assert!(c.0.len() > 100, "{file}: {} requests", c.0.len());
        // Each dyno's number within its app.
        let local = scaled.local_numbers();
        for r in &c.0 {
            let p = &scaled.plan[r.id as usize];
            assert_eq!(p.at_ns, r.arrival_ns, "{file}: arrival of request {}", r.id);
            assert_eq!(
                scaled.plan_app[r.id as usize], r.app,
                "{file}: app of {}",
                r.id
            );
            assert_eq!(local[p.dyno], r.dyno, "{file}: dyno of request {}", r.id);
        }
        // Every planned request after the warmup was simulated (none lost in the pairing).
        let warmup = scaled.config().warmup.as_nanos();
        let counted = scaled.plan.iter().filter(|p| p.at_ns >= warmup).count();
        assert_eq!(counted, c.0.len(), "{file}");
    }
}

/// What the real run sends for request k is what the model drew for request k, field by field:
/// CPU (rounded to whole ns, as the real app takes it), wait, and every filesystem action
/// (client, read, write size, cache item and miss penalty), for every app and every request
/// (warmup included), and no request is drawn on one side only.
#[test]
fn every_drawn_field_pairs_with_the_plan() {
    let two = Scenario::parse(TWO_APPS, "two.toml", "two", Path::new(".")).expect("valid");
    for (name, s) in [
        ("two.toml", two),
        ("restarts.toml", load("restarts.toml")),
        ("shared-noisy.toml", load("shared-noisy.toml")),
    ] {
        let scaled = scale(&s, &opts(30)).expect("scales");
        let job = scaled.scenario.jobs()[0];
        let mut d = Drawn::default();
        run_job(scaled.config(), job.seeds, &mut d, |_, _| Control::Continue).expect("runs");
        assert_eq!(d.0.len(), scaled.plan.len(), "{name}: requests drawn");
        let mut with_files = 0;
        let mut with_cache = 0;
        for (id, app, drawn) in &d.0 {
            let p = &scaled.plan[*id as usize];
            let w = &p.work;
            assert_eq!(scaled.plan_app[*id as usize], *app, "{name}: app of {id}");
            let cpu_ns = drawn.work_ns.max(0.0).round() as u64;
            assert_eq!(w.cpu_ns, cpu_ns, "{name}: cpu of {id}");
            assert_eq!(w.wait_ns, drawn.wait_ns, "{name}: wait of {id}");
            let f = &drawn.files;
            assert_eq!(w.client, u64::from(f.client), "{name}: client of {id}");
            assert_eq!(w.read, f.reads, "{name}: read of {id}");
            assert_eq!(w.write_bytes, f.write_bytes, "{name}: write of {id}");
            let cache = scaled.config().apps[*app]
                .filesystem
                .as_ref()
                .is_some_and(|fs| fs.cache_items > 0);
            if cache {
                assert_eq!(w.item, Some(u64::from(f.item)), "{name}: item of {id}");
                assert_eq!(w.miss_ns, f.miss_ns, "{name}: miss of {id}");
                with_cache += 1;
            } else {
                assert_eq!((w.item, w.miss_ns), (None, 0), "{name}: no cache for {id}");
            }
            with_files += usize::from(f.write_bytes > 0 || f.reads);
        }
        // The filesystem fields were really exercised (not all zero on both sides).
        if name != "shared-noisy.toml" {
            assert!(
                with_files > 50,
                "{name}: {with_files} requests with file actions"
            );
        }
        if name == "two.toml" {
            assert!(with_cache > 500, "{name}: {with_cache} cache look-ups");
            let apps: std::collections::BTreeSet<usize> = d.0.iter().map(|x| x.1).collect();
            assert_eq!(apps.len(), 2, "{name}: both apps");
        }
    }
}

/// Four dedicated dynos on a machine with one CPU for dynos become one, at a quarter of the
/// rate; the notes say so; the simulation runs exactly the scaled formation.
#[test]
fn dedicated_dynos_scale_to_the_cpus_and_keep_their_load() {
    let text = r#"
name = "four"
duration = "1m"
noise = "off"
[[app]]
name = "api"
[[app.process]]
type = "web"
size = "performance-l"
count = 4
[[app.process]]
type = "worker"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 40.0 }
cpu = { exponential = "10ms" }
"#;
    let s = Scenario::parse(text, "four.toml", "four", Path::new(".")).expect("valid");
    let scaled = scale(&s, &opts(10)).expect("scales");
    let cfg = scaled.config();
    let p = &cfg.apps[0].processes[0];
    assert_eq!((p.count, p.size.vcpus, p.name.as_str()), (1, 1, "web"));
    assert_eq!(cfg.apps[0].processes.len(), 1, "the worker is dropped");
    let rate = cfg.apps[0].workload.as_ref().unwrap().arrivals.mean_rate();
    assert!((rate - 10.0).abs() < 1e-9, "{rate}");
    assert_eq!(scaled.dynos.len(), 1);
    assert_eq!(scaled.dynos[0].cpus, vec![1]);
    assert_eq!(scaled.loadgen_cpus, vec![0]);
    let notes = scaled.notes.join("\n");
    assert!(notes.contains("scaled to 1"), "{notes}");
    assert!(notes.contains("worker"), "{notes}");
    // About 10 requests a second for 10 s.
    assert!(
        (60..=140).contains(&scaled.plan.len()),
        "{}",
        scaled.plan.len()
    );
}

/// The shared instance gets the scenario's neighbour load as burners that follow the model's
/// on/off process: a constant busy neighbour is one burner, on from start to end.
#[test]
fn neighbours_become_burners() {
    let s = load("shared-weights.toml");
    let scaled = scale(&s, &opts(10)).expect("scales");
    assert_eq!(scaled.burners.len(), 1);
    let b = &scaled.burners[0];
    assert!(b.initially_on && b.flips_ns.is_empty());
    assert!((b.cores - 1.0).abs() < 1e-9 && b.shares == 1024 && b.quota.is_none());
    let noisy = scale(&load("shared-noisy.toml"), &opts(60)).expect("scales");
    let flips: usize = noisy.burners.iter().map(|b| b.flips_ns.len()).sum();
    // Mean on and off periods of 2 s over 60 s: about 30 flips.
    assert!((10..=60).contains(&flips), "{flips} flips");
    // Weights: the standard-2x dyno has twice the standard-1x's shares.
    let w: Vec<u64> = scaled.dynos.iter().map(|d| d.shares).collect();
    assert_eq!(w, vec![1024, 2048]);
}

/// What cannot run for real is refused with a reason.
#[test]
fn mixed_shared_and_dedicated_is_refused_on_two_cpus() {
    let text = r#"
duration = "1m"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "10ms"
[[app]]
name = "b"
[[app.process]]
type = "web"
size = "performance-m"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "10ms"
"#;
    let s = Scenario::parse(text, "mixed.toml", "mixed", Path::new(".")).expect("valid");
    let e = scale(&s, &opts(10)).expect_err("refused");
    assert!(e.contains("separate scenarios"), "{e}");
}

/// `calibration = "..."` names a calibration file relative to the scenario's folder; `run`
/// ignores it.
#[test]
fn scenario_names_its_calibration_file() {
    let text = r#"
duration = "1m"
calibration = "machine/calibration.toml"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "10ms"
"#;
    let s = Scenario::parse(text, "c.toml", "c", Path::new("scenarios/validation")).expect("valid");
    assert_eq!(
        s.calibration.as_deref(),
        Some(Path::new("scenarios/validation/machine/calibration.toml"))
    );
    let none = load("dedicated-mm1.toml");
    assert!(none.calibration.is_none());
}

/// The restart scenario keeps its deploy and crash: the real run's actions are the simulation's
/// lifecycle events (boot with the simulated boot time, sigterm, crash), at the same times and
/// ordered so that dynos leave the router before new ones boot. Requests still pair by arrival
/// and app; their dynos pair until the first restart (afterwards the real router picks among
/// the dynos actually up).
#[test]
fn lifecycle_actions_are_the_simulations_events() {
    use dynosim::validate::plan::ActionKind;
    let s = load("restarts.toml");
    let mut scaled = scale(&s, &opts(60)).expect("scales");
    // The same events whatever the network latency: `sim_events` came from the scaled
    // scenario's own network; rerun it with a 2 ms router-dyno round trip.
    let planned = scaled.config().network.router_dyno.clone();
    dynosim::validate::set_network(&mut scaled, Duration::from_millis(2));
    assert_ne!(scaled.config().network.router_dyno, planned);
    let job = scaled.scenario.jobs()[0];
    let mut c = Collect(Vec::new());
    let res = run_job(scaled.config(), job.seeds, &mut c, |_, _| Control::Continue).expect("runs");
    assert_eq!(res.lifecycle, scaled.sim_events);
    let kinds: Vec<(u64, Option<usize>, u32, String)> = scaled
        .actions
        .iter()
        .map(|a| {
            let k = match &a.kind {
                ActionKind::Boot { boot_ns } => format!("boot {boot_ns}"),
                ActionKind::Sigterm => "sigterm".into(),
                ActionKind::Kill { cause } => format!("kill {cause}"),
                ActionKind::Note { event, .. } => event.to_string(),
            };
            (a.at_ns / 1_000_000, a.dyno, a.incarnation, k)
        })
        .collect();
    let s20 = 20_000;
    let s40 = 40_000;
    let boot = "boot 1500000000".to_string();
    assert_eq!(
        kinds,
        vec![
            (s20, Some(0), 0, "sigterm".into()),
            (s20, Some(1), 0, "sigterm".into()),
            (s20, None, 0, "deploy".into()),
            (s20, Some(0), 1, boot.clone()),
            (s20, Some(1), 1, boot.clone()),
            (s40, Some(1), 1, "kill crash".into()),
            (s40, Some(1), 2, boot),
        ]
    );
    let local = scaled.local_numbers();
    for r in &c.0 {
        let p = &scaled.plan[r.id as usize];
        assert_eq!(p.at_ns, r.arrival_ns);
        if p.at_ns < 20_000_000_000 {
            assert_eq!(local[p.dyno], r.dyno, "dyno of request {}", r.id);
        }
    }
}
