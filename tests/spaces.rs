//! Spaces, networks, router limits and service calls.

mod common;
use common::*;
use dynosim::engine::Control;
use dynosim::model::{RequestObserver, RequestRecord, Status, run_job};

#[derive(Default)]
struct Collect(Vec<RequestRecord>);

impl RequestObserver for Collect {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(r.clone());
    }
}

fn records(text: &str) -> Vec<RequestRecord> {
    let s = scenario(text);
    let mut seen = Collect::default();
    for job in s.jobs() {
        run_job(&s.points[job.point].config, job.seeds, &mut seen, |_, _| {
            Control::Continue
        })
        .expect("placeable");
    }
    seen.0
}

fn parse_err(text: &str) -> dynosim::scenario::ScenarioError {
    dynosim::scenario::Scenario::parse(text, "t.toml", "t", std::path::Path::new("."))
        .expect_err("the scenario must be rejected")
}

fn fan_out(k: u32) -> f64 {
    // Parents do no work of their own and wait for k parallel calls; each call is an
    // exponential 20 ms of CPU on lightly loaded 8-core dynos, so a child's latency is
    // Exp(20 ms) with p99 X = 20 ms x ln 100. A parent is slower than X when any child is:
    // P = 1 - 0.99^k (Dean and Barroso, The Tail at Scale).
    let text = format!(
        r#"
seed = 12
duration = "3h"
warmup = "1m"
replications = 2
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "front"
[[app.process]]
type = "web"
size = "performance-l"
concurrency = 200
[app.workload]
arrivals = {{ poisson = 20.0 }}
cpu = "0ms"
[[app.workload.calls]]
app = "leaf"
count = {k}
parallel = true
[[app]]
name = "leaf"
[[app.process]]
type = "web"
size = "performance-l"
count = 10
concurrency = 500
[app.workload]
arrivals = {{ poisson = 0.001 }}
cpu = {{ exponential = "20ms" }}
"#
    );
    let x_ns = 0.020 * 100f64.ln() * 1e9;
    let reqs = records(&text);
    let parents: Vec<_> = reqs
        .iter()
        .filter(|r| r.app == 0 && r.status == Status::Ok)
        .collect();
    assert!(parents.len() > 400_000);
    let slow = parents
        .iter()
        .filter(|r| r.latency_ns as f64 > x_ns)
        .count();
    slow as f64 / parents.len() as f64
}

#[test]
fn fan_out_tails_grow_as_one_minus_099_to_the_k() {
    for k in [1u32, 4, 16] {
        let expected = 1.0 - 0.99f64.powi(k as i32);
        let got = fan_out(k);
        eprintln!(
            "k = {k}: {got:.5} of parents slower than the children's p99 (theory {expected:.5})"
        );
        assert!(
            rel_err(got, expected) < 0.08,
            "k = {k}: {got} vs {expected}"
        );
    }
}

const TWO_SPACES: &str = r#"
duration = "10m"
[[space]]
name = "core"
kind = "private"
region = "virginia"
[[space]]
name = "edge"
kind = "shield"
region = "oregon"
[[app]]
name = "web"
space = "core"
[[app.process]]
type = "web"
size = "private-m"
count = 2
[[app.process]]
type = "worker"
size = "private-s"
[app.workload]
arrivals = { poisson = 5.0 }
cpu = "5ms"
CALLS
[[app]]
name = "api"
space = "core"
[[app.process]]
type = "web"
size = "private-s"
[[app.process]]
type = "search"
size = "private-s"
[[app]]
name = "vault"
space = "edge"
[[app.process]]
type = "web"
size = "shield-s"
[[app.process]]
type = "worker"
size = "shield-s"
[[app]]
name = "legacy"
[[app.process]]
type = "web"
size = "standard-2x"
[[app.process]]
type = "worker"
size = "standard-1x"
"#;

fn with_call(app: &str, process: &str) -> String {
    TWO_SPACES.replace(
        "CALLS",
        &format!("[[app.workload.calls]]\napp = \"{app}\"\nprocess = \"{process}\"\ncpu = \"2ms\""),
    )
}

#[test]
fn every_allowed_call_kind_works() {
    // Inside one space any process listens (localspace); web processes are reachable from
    // anywhere through their router.
    for (app, process) in [
        ("web", "worker"),
        ("api", "search"),
        ("api", "web"),
        ("vault", "web"),
        ("legacy", "web"),
    ] {
        let s = scenario(&with_call(app, process));
        let r = &run_all(&s)[0];
        let callee = r
            .processes
            .iter()
            .find(|p| p.app == app && p.process == process)
            .expect("callee");
        let caller = &r.processes[0];
        assert!(
            callee.requests > 1000,
            "{app}/{process} got {} calls",
            callee.requests
        );
        assert_eq!(callee.requests, caller.requests, "one call per request");
        assert_eq!(caller.errors, 0, "{app}/{process}");
        assert!(
            caller.latency.downstream_ms > 2.0,
            "the parent waits for its call"
        );
    }
}

#[test]
fn every_forbidden_call_kind_is_rejected() {
    for (app, process, phrase) in [
        (
            "vault",
            "worker",
            "only web processes are reachable from outside their space",
        ),
        (
            "legacy",
            "worker",
            "Common Runtime dynos accept connections only from the router",
        ),
    ] {
        let e = parse_err(&with_call(app, process));
        assert!(
            e.message
                .contains("forbidden call from `web/web` (space `core`)"),
            "{e}"
        );
        assert!(e.message.contains(phrase), "{e}");
        assert!(e.message.contains(&format!("to `{app}/{process}`")), "{e}");
        assert_eq!(e.key.to_string(), "app[0].workload.calls[0]");
    }
    // A Common Runtime worker cannot be called even by its own app's web process.
    let cr = r#"
duration = "1m"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
[[app.process]]
type = "worker"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "1ms"
[[app.workload.calls]]
process = "worker"
cpu = "1ms"
"#;
    let e = parse_err(cr);
    assert!(
        e.message
            .contains("accept connections only from the router"),
        "{e}"
    );
    // Calls that loop.
    let cycle = r#"
duration = "1m"
[[app]]
name = "a"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "1ms"
[[app.workload.calls]]
app = "b"
[[app]]
name = "b"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "1ms"
[[app.workload.calls]]
app = "a"
"#;
    let e = parse_err(cycle);
    assert!(
        e.message
            .contains("calls form a cycle: a/web -> b/web -> a/web"),
        "{e}"
    );
    // A callee with no workload to take its work from.
    let e = parse_err(&TWO_SPACES.replace("CALLS", "[[app.workload.calls]]\napp = \"api\""));
    assert!(e.message.contains("needs `cpu`"), "{e}");
}

#[test]
fn a_saturated_app_sheds_load_with_h11_instead_of_queueing_without_bound() {
    let text = r#"
seed = 3
duration = "30m"
noise = "off"
[network]
latency = "0ms"
[[app]]
name = "hot"
[app.router]
routers = 1
active_limit = 10
backlog_per_dyno = 10
[[app.process]]
type = "web"
size = "standard-1x"
concurrency = 1
[app.workload]
arrivals = { poisson = 100.0 }
cpu = { constant = "100ms" }
"#;
    let r = &run_all(&scenario(text))[0];
    let p = &r.processes[0];
    // 10x overloaded: about 90% shed at the router.
    assert!(
        p.errors_h(Status::H11) as f64 > 0.85 * p.requests as f64,
        "{}",
        p.errors_h(Status::H11)
    );
    assert_eq!(
        p.errors_h(Status::H12),
        0,
        "nothing waits long enough to time out"
    );
    // At most 10 at the dyno and 10 in the backlog: about 2 s of work ahead of anyone.
    assert!(p.latency.max_ms < 2_200.0, "max {} ms", p.latency.max_ms);
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
}

#[test]
fn a_one_vcpu_fir_dyno_with_many_slots_is_mm1_processor_sharing() {
    let text = r#"
seed = 8
duration = "12h"
warmup = "10m"
replications = 2
noise = "off"
[network]
latency = "0ms"
[[space]]
name = "next"
kind = "fir"
region = "tokyo"
[[app]]
name = "svc"
space = "next"
[[app.process]]
type = "web"
size = "dyno-1c-0.5gb"
concurrency = 40
[app.workload]
arrivals = { poisson = 35.0 }
cpu = { exponential = "20ms" }
"#;
    let results = run_all(&scenario(text));
    let web = rows(&results, "web");
    // rho = 0.7: E[T] = 20 / 0.3 = 66.7 ms.
    let mean = pooled_mean_ms(&web);
    assert!(rel_err(mean, 20.0 / 0.3) < 0.04, "mean {mean}");
    assert_eq!(results[0].instances[0].kind, "space");
    assert!(results[0].instances[0].name.starts_with("space.next."));
}

#[test]
fn untrusted_clients_are_refused_at_a_space_ingress() {
    let text = r#"
seed = 1
duration = "1h"
[[space]]
name = "bank"
kind = "shield"
region = "dublin"
trusted_ips = ["203.0.113.0/24", "2001:db8::/32"]
[[app]]
name = "portal"
space = "bank"
[[app.process]]
type = "web"
size = "shield-m"
[app.workload]
arrivals = { poisson = 20.0 }
cpu = "10ms"
untrusted_share = 0.2
"#;
    let p = &run_all(&scenario(text))[0].processes[0];
    let refused = p.errors_h(Status::Refused) as f64 / p.requests as f64;
    assert!((refused - 0.2).abs() < 0.01, "{refused}");
    assert_eq!(p.errors, p.errors_h(Status::Refused));
    // Refusing needs trusted ranges on a space.
    let e = parse_err(
        &text
            .replace("space = \"bank\"\n", "")
            .replace("shield-m", "standard-1x"),
    );
    assert!(e.message.contains("space's ingress"), "{e}");
}

#[test]
fn a_failing_call_fails_its_caller() {
    let text = r#"
duration = "10m"
[[app]]
name = "front"
[[app.process]]
type = "web"
size = "standard-1x"
[app.workload]
arrivals = { poisson = 10.0 }
cpu = "1ms"
[[app.workload.calls]]
app = "gone"
cpu = "1ms"
[[app]]
name = "gone"
[[app.process]]
type = "web"
size = "standard-1x"
count = 0
"#;
    let r = &run_all(&scenario(text))[0];
    let front = &r.processes[0];
    let gone = &r.processes[1];
    assert!(gone.errors_h(Status::H14) > 5000);
    assert_eq!(
        front.errors_h(Status::Downstream),
        front.requests - front.in_flight
    );
}

#[test]
fn the_legacy_router_pays_a_connection_per_request() {
    let text = |keepalive: bool| {
        format!(
            r#"
seed = 4
duration = "1h"
noise = "off"
[network]
latency = "0ms"
router_dyno = "2ms"
[[app]]
name = "a"
[app.router]
keepalive = {keepalive}
[[app.process]]
type = "web"
size = "performance-m"
concurrency = 8
[app.workload]
arrivals = {{ poisson = 10.0 }}
cpu = "10ms"
"#
        )
    };
    let keep = &run_all(&scenario(&text(true)))[0].processes[0];
    let legacy = &run_all(&scenario(&text(false)))[0].processes[0];
    // 10 ms of CPU and a 2 ms round trip; the legacy router adds one more round trip to set up
    // the connection (same arrivals in both runs, so the difference is exact up to sharing).
    assert!(
        (keep.latency.mean_ms - 12.0).abs() < 0.1,
        "{}",
        keep.latency.mean_ms
    );
    assert!(
        (legacy.latency.mean_ms - keep.latency.mean_ms - 2.0).abs() < 0.01,
        "{}",
        legacy.latency.mean_ms
    );
    assert!((legacy.latency.router_ms - 2.0).abs() < 1e-6);
    assert!(keep.latency.router_ms < 1e-6);
}

#[test]
fn the_bundled_private_space_scenario_shows_the_network_difference() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/private-space.toml");
    let s = dynosim::scenario::Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let results = run_all(&s);
    let find = |app: &str| {
        let v: Vec<_> = results
            .iter()
            .flat_map(|r| r.processes.iter())
            .filter(|p| p.app == app)
            .collect();
        avg(&v, |p| p.latency.downstream_ms)
    };
    let (space, common) = (find("storefront"), find("shop-cr"));
    eprintln!(
        "downstream wait: {space:.2} ms in the space, {common:.2} ms through the public router"
    );
    assert!(
        common > space + 2.0,
        "space {space} vs common runtime {common}"
    );
}

#[test]
fn a_caller_waits_for_the_whole_round_trip_of_its_calls() {
    let text = r#"
seed = 2
duration = "20m"
noise = "off"
[network]
latency = "0ms"
egress_router = "10ms"
[[app]]
name = "front"
[[app.process]]
type = "web"
size = "performance-m"
concurrency = 50
[app.workload]
arrivals = { poisson = 5.0 }
cpu = "0ms"
[[app.workload.calls]]
app = "back"
cpu = "2ms"
count = 2
[[app]]
name = "back"
[[app.process]]
type = "web"
size = "performance-l"
concurrency = 50
"#;
    let reqs = records(text);
    let parents: Vec<_> = reqs.iter().filter(|r| r.app == 0).collect();
    // Two sequential calls, each a 10 ms round trip plus 2 ms of work.
    for p in &parents {
        let split = p.split.expect("completed");
        assert_eq!(p.latency_ns, 24_000_000, "{p:?}");
        assert_eq!(split.downstream_ns, 24_000_000);
    }
    // Every call names a parent that exists, and each parent made exactly two.
    let mut made = std::collections::HashMap::new();
    for c in reqs.iter().filter(|r| r.app == 1) {
        *made
            .entry(c.parent.expect("a call has a parent"))
            .or_insert(0) += 1;
    }
    let ids: std::collections::HashSet<u64> = parents.iter().map(|p| p.id).collect();
    assert!(made.keys().all(|id| ids.contains(id)));
    assert!(made.values().all(|&n| n == 2));
}

#[test]
fn fir_spaces_have_no_service_discovery() {
    let text = r#"
duration = "1m"
[[space]]
name = "next"
kind = "fir"
region = "tokyo"
[[app]]
name = "svc"
space = "next"
[[app.process]]
type = "web"
size = "dyno-1c-0.5gb"
[[app.process]]
type = "worker"
size = "dyno-1c-0.5gb"
[app.workload]
arrivals = { poisson = 1.0 }
cpu = "1ms"
[[app.workload.calls]]
process = "worker"
cpu = "1ms"
"#;
    let e = parse_err(text);
    assert!(e.message.contains("no DNS service discovery"), "{e}");
    // Its web process is reachable through the space's router (here, from another app).
    let ok = text.replace(
        "[[app.workload.calls]]\nprocess = \"worker\"",
        "[[app.workload.calls]]\napp = \"edge\"",
    ) + "[[app]]\nname = \"edge\"\nspace = \"next\"\n[[app.process]]\ntype = \"web\"\nsize = \"dyno-1c-0.5gb\"\n";
    let s = scenario(&ok);
    let r = &run_all(&s)[0];
    assert!(
        r.processes
            .iter()
            .find(|p| p.app == "edge")
            .is_some_and(|p| p.requests > 30)
    );
}
