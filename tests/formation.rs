//! The formation seam (`model::formation`): a scripted policy scales a process during the run.
//! A dyno added boots through the normal boot path and takes traffic only once up; a dyno removed
//! gets SIGTERM and drains by the lifecycle rules; every request is counted exactly once; runs
//! are deterministic; no policy is exactly the fixed formation.

mod common;
use common::*;
use dynosim::engine::{Control, SimDuration, SimTime};
use dynosim::model::{
    FormationPolicy, FormationView, JobResult, LifecycleEvent, LifecycleKind as Kind,
    RequestObserver, RequestRecord, RequestSample, ScaleAction, ScaleRecord, Status,
    run_job_formed,
};
use std::cell::RefCell;
use std::rc::Rc;

const S: u64 = 1_000_000_000;

/// `ps:scale` at given seconds: (second, app, process, count). Ticks every second; optionally
/// keeps every view and counts the requests it is shown.
struct Script {
    steps: Vec<(u64, usize, usize, u32)>,
    seen: Rc<RefCell<Seen>>,
    sample: bool,
}

#[derive(Default)]
struct Seen {
    views: Vec<(u64, FormationView)>,
    samples: Vec<RequestSample>,
}

impl FormationPolicy for Script {
    fn period(&self) -> SimDuration {
        SimDuration::from_secs(1)
    }

    fn wants_requests(&self) -> bool {
        self.sample
    }

    fn on_request(&mut self, sample: &RequestSample) {
        self.seen.borrow_mut().samples.push(*sample);
    }

    fn on_tick(&mut self, now: SimTime, view: &FormationView) -> Vec<ScaleAction> {
        self.seen
            .borrow_mut()
            .views
            .push((now.as_nanos(), view.clone()));
        self.steps
            .iter()
            .filter(|s| s.0 * S == now.as_nanos())
            .map(|&(t, app, process, count)| ScaleAction {
                app,
                process,
                count,
                reason: format!("script at {t} s"),
            })
            .collect()
    }
}

/// Every request record and scale record of a run.
#[derive(Default)]
struct Watch {
    records: Vec<RequestRecord>,
    scales: Vec<ScaleRecord>,
}

impl RequestObserver for Watch {
    fn on_request(&mut self, r: &RequestRecord) {
        self.records.push(r.clone());
    }

    fn on_scale(&mut self, r: &ScaleRecord) {
        self.scales.push(r.clone());
    }
}

struct Run {
    result: JobResult,
    watch: Watch,
    seen: Rc<RefCell<Seen>>,
}

fn run(text: &str, steps: &[(u64, usize, usize, u32)], sample: bool) -> Run {
    let s = scenario(text);
    let job = s.jobs()[0];
    let seen = Rc::new(RefCell::new(Seen::default()));
    let policy = Script {
        steps: steps.to_vec(),
        seen: seen.clone(),
        sample,
    };
    let mut watch = Watch::default();
    let result = run_job_formed(
        &s.points[job.point].config,
        job.seeds,
        &mut watch,
        vec![Box::new(policy)],
        |_, _| Control::Continue,
        false,
    )
    .expect("placeable");
    Run {
        result,
        watch,
        seen,
    }
}

fn web(size: &str, count: u32, extra: &str) -> String {
    format!(
        r#"
seed = 5
duration = "60s"
warmup = "0s"
noise = "off"
[lifecycle]
cycling = false
{extra}
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "{size}"
count = {count}
concurrency = 4
boot = "5s"
[app.workload]
arrivals = {{ poisson = 40.0 }}
cpu = {{ exponential = "20ms" }}
wait = "50ms"
"#
    )
}

fn events(r: &JobResult, dyno: u32) -> Vec<(u64, Kind, u32)> {
    r.lifecycle
        .iter()
        .filter(|e: &&LifecycleEvent| e.dyno == dyno)
        .map(|e| (e.time_ns, e.event, e.incarnation))
        .collect()
}

/// Requests = completed + errors + in flight, and each request has one record.
fn counted_once(r: &Run) {
    let p = &r.result.processes[0];
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
    assert_eq!(r.watch.records.len() as u64, p.completed + p.errors);
    let mut ids: Vec<u64> = r.watch.records.iter().map(|x| x.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), r.watch.records.len(), "a request recorded twice");
    let generated = r.result.generated;
    assert!(p.requests <= generated && p.requests + 5 >= generated);
}

#[test]
fn a_dyno_added_boots_first_and_a_dyno_removed_drains() {
    let text = web("standard-1x", 2, "");
    let r = run(&text, &[(10, 0, 0, 3), (20, 0, 0, 2)], false);
    let scales: Vec<(u64, u32, u32)> = r
        .watch
        .scales
        .iter()
        .map(|x| (x.time_ns, x.from, x.to))
        .collect();
    assert_eq!(scales, [(10 * S, 2, 3), (20 * S, 3, 2)]);
    assert_eq!(r.watch.scales[0].reason, "script at 10 s");
    // web.3 boots at 10 s, is up after its 5 s boot, gets SIGTERM at 20 s (the highest number
    // goes) and stops once its last request is done, well within the 30 s drain.
    let e3 = events(&r.result, 3);
    assert_eq!(e3[0], (10 * S, Kind::Boot, 0));
    assert_eq!(e3[1], (15 * S, Kind::Up, 0));
    assert_eq!(e3[2], (20 * S, Kind::Sigterm, 0));
    assert_eq!((e3[3].1, e3.len()), (Kind::Stop, 4), "{e3:?}");
    assert!(e3[3].0 >= 20 * S && e3[3].0 < 21 * S, "{e3:?}");
    // Nothing else happened to web.1 and web.2.
    assert!(events(&r.result, 1).is_empty() && events(&r.result, 2).is_empty());
    // web.3 served only while up, and nothing that arrived after its SIGTERM.
    let on3: Vec<&RequestRecord> = r.watch.records.iter().filter(|x| x.dyno == 3).collect();
    assert!(on3.len() > 50, "{} requests on web.3", on3.len());
    for x in &on3 {
        assert!(
            x.service_start_ns >= 15 * S,
            "served at {}",
            x.service_start_ns
        );
        assert!(x.arrival_ns < 20 * S);
        assert_eq!(x.status, Status::Ok);
    }
    // The other two kept serving throughout.
    assert!(
        r.watch
            .records
            .iter()
            .any(|x| x.dyno == 1 && x.arrival_ns > 50 * S)
    );
    counted_once(&r);
    assert_eq!(r.result.processes[0].errors, 0);
    // dynos.csv has a row for the added dyno, up from 15 s to its stop.
    let rows: Vec<&str> = r.result.dynos.iter().map(|d| d.dyno.as_str()).collect();
    assert_eq!(rows, ["web.1", "web.2", "web.3"]);
    let up3 = r.result.dynos[2].uptime_s;
    assert!(
        (up3 - (e3[3].0 - 15 * S) as f64 * 1e-9).abs() < 1e-9,
        "{up3}"
    );
    assert_eq!(r.result.dynos[2].served, on3.len() as u64);
}

#[test]
fn the_policy_sees_the_formation_and_every_request() {
    let text = web("standard-1x", 2, "");
    let r = run(&text, &[(10, 0, 0, 3), (20, 0, 0, 2)], true);
    let seen = r.seen.borrow();
    // Ticks every second from 1 s to 59 s (none at the end).
    let times: Vec<u64> = seen.views.iter().map(|v| v.0 / S).collect();
    assert_eq!(times, (1..60).collect::<Vec<_>>());
    let at = |t: u64| &seen.views[t as usize - 1].1.processes[0];
    assert_eq!((at(5).dynos, at(5).up, at(5).booting), (2, 2, 0));
    assert!(at(5).web);
    // The view is taken before the tick's own actions: at 11 s web.3 boots, at 16 s it is up.
    assert_eq!((at(11).dynos, at(11).up, at(11).booting), (3, 2, 1));
    assert_eq!((at(16).dynos, at(16).up, at(16).booting), (3, 3, 0));
    assert_eq!((at(21).dynos, at(21).up, at(21).draining), (2, 2, 0));
    // Every request that ended reached the policy once, with its queue and response times.
    let ok: Vec<&RequestSample> = seen
        .samples
        .iter()
        .filter(|s| s.status == Status::Ok)
        .collect();
    assert_eq!(seen.samples.len(), r.watch.records.len());
    for (s, rec) in ok
        .iter()
        .zip(r.watch.records.iter().filter(|x| x.status == Status::Ok))
    {
        assert_eq!(s.arrival.as_nanos(), rec.arrival_ns);
        assert_eq!(s.response_ns, rec.latency_ns);
        assert_eq!(s.queue_ns, Some(rec.service_start_ns - rec.arrival_ns));
        assert!(!s.call);
    }
}

#[test]
fn a_removed_dyno_with_work_left_is_killed_at_the_end_of_the_drain() {
    // Requests wait 10 s; the drain is 2 s: web.2's requests in flight at 20 s fail with H13 at
    // 22 s, and the slot is not restarted.
    let text = web("standard-1x", 2, "drain = \"2s\"").replace("wait = \"50ms\"", "wait = \"10s\"");
    let text = text.replace("poisson = 40.0", "poisson = 2.0");
    let r = run(&text, &[(20, 0, 0, 1)], false);
    let e2 = events(&r.result, 2);
    assert_eq!(e2.len(), 2, "{e2:?}");
    assert_eq!(e2[0], (20 * S, Kind::Sigterm, 0));
    assert_eq!(e2[1], (22 * S, Kind::Kill, 0));
    let killed: Vec<&RequestRecord> = r
        .watch
        .records
        .iter()
        .filter(|x| x.status == Status::H13)
        .collect();
    assert!(!killed.is_empty(), "something was in flight on web.2");
    for x in &killed {
        assert_eq!(x.dyno, 2);
        assert!(x.arrival_ns < 20 * S && x.arrival_ns + x.latency_ns == 22 * S);
    }
    assert!(
        r.watch
            .records
            .iter()
            .all(|x| x.dyno != 2 || x.arrival_ns < 20 * S)
    );
    counted_once(&r);
}

#[test]
fn scaled_to_zero_the_router_answers_h14_and_scaled_up_it_holds_for_the_boot() {
    let text = web("standard-1x", 1, "");
    let r = run(&text, &[(10, 0, 0, 0), (20, 0, 0, 1)], false);
    // The same slot comes back as a new incarnation of web.1.
    let e1 = events(&r.result, 1);
    assert_eq!(e1[0], (10 * S, Kind::Sigterm, 0));
    assert_eq!(e1[1].1, Kind::Stop);
    assert_eq!(&e1[2..], [(20 * S, Kind::Boot, 1), (25 * S, Kind::Up, 1)]);
    let mut h14 = 0;
    for x in &r.watch.records {
        let t = x.arrival_ns;
        if t > 10 * S && t < 20 * S {
            assert_eq!(x.status, Status::H14, "arrived at {t}");
            h14 += 1;
        } else if (20 * S..25 * S).contains(&t) {
            // Held while web.1 boots, then served by its new incarnation.
            assert_eq!(x.status, Status::Ok);
            assert!(x.service_start_ns >= 25 * S);
            assert_eq!(x.incarnation, 1);
        } else {
            assert_eq!(x.status, Status::Ok);
        }
    }
    assert!(h14 > 300, "{h14} H14s");
    counted_once(&r);
}

#[test]
fn an_added_dedicated_dyno_gets_an_instance_of_its_own_and_a_shared_one_a_pool_instance() {
    let r = run(&web("performance-m", 1, ""), &[(5, 0, 0, 2)], false);
    let inst: Vec<&str> = r.result.dynos.iter().map(|d| d.instance.as_str()).collect();
    assert_eq!(inst, ["dedicated.0", "dedicated.1"]);
    assert_eq!(r.result.instances.len(), 2);
    assert_eq!(r.result.instances[1].dynos, ["shop/web.2"]);
    // Spread over the shared pool: the next instance round robin.
    let r = run(&web("standard-1x", 2, ""), &[(5, 0, 0, 3)], false);
    let inst: Vec<&str> = r.result.dynos.iter().map(|d| d.instance.as_str()).collect();
    assert_eq!(inst, ["shared.us.0", "shared.us.1", "shared.us.2"]);
    assert!(r.watch.records.iter().any(|x| x.dyno == 3));
}

#[test]
fn a_scaled_run_is_deterministic_and_no_scaling_is_the_fixed_formation() {
    let text = web("standard-1x", 2, "");
    let steps = [(10, 0, 0, 4), (15, 0, 0, 1), (30, 0, 0, 3)];
    let (a, b) = (run(&text, &steps, false), run(&text, &steps, false));
    assert_eq!(a.watch.records, b.watch.records);
    assert_eq!(a.watch.scales, b.watch.scales);
    // Debug text: the results hold NaNs (no window CoV with one window), which never compare
    // equal.
    assert_eq!(format!("{:?}", a.result), format!("{:?}", b.result));
    counted_once(&a);
    // A policy that never scales changes nothing.
    let mut idle = run(&text, &[], true);
    let (fixed, fixed_records) = run_with_records(&text);
    // Its 59 ticks are the only extra events.
    assert_eq!(idle.result.events, fixed[0].events + 59);
    idle.result.events = fixed[0].events;
    assert_eq!(format!("{:?}", idle.result), format!("{:?}", fixed[0]));
    assert_eq!(idle.watch.records, fixed_records);
    assert!(idle.watch.scales.is_empty());
}

#[test]
fn a_scaled_down_dyno_is_not_brought_back_by_a_crash_restart_or_a_deploy() {
    // web.2 crashes at 5 s (restarted at once) and at 20 s (backoff: 20 min); it leaves the
    // formation at 30 s while it backs off, so the backoff's restart never comes; it rejoins at
    // 45 s with a fresh boot. web.3, added at 10 s, leaves at 30 s, so the deploy at 40 s
    // restarts web.1 alone.
    let extra = r#"
[[app.crash]]
at = "5s"
dyno = 2
[[app.crash]]
at = "20s"
dyno = 2
"#;
    let text = web("standard-1x", 2, "")
        .replace("duration = \"60s\"", "duration = \"1h\"")
        .replace("poisson = 40.0", "poisson = 5.0")
        .replace(
            "[[app.process]]",
            &format!("deploys = [\"40s\"]\n{extra}[[app.process]]"),
        );
    let r = run(&text, &[(10, 0, 0, 3), (30, 0, 0, 1), (45, 0, 0, 2)], false);
    let kinds = |d: u32| -> Vec<(u64, Kind)> {
        events(&r.result, d)
            .into_iter()
            .map(|(t, k, _)| (t / S, k))
            .collect()
    };
    assert_eq!(
        kinds(2),
        [
            (5, Kind::Crash),
            (5, Kind::Stop),
            (5, Kind::Boot),
            (10, Kind::Up),
            (20, Kind::Crash),
            (20, Kind::Stop),
            (20, Kind::Backoff),
            // Back in the formation at 45 s: a fresh boot, not the backoff's.
            (45, Kind::Boot),
            (50, Kind::Up),
        ]
    );
    // web.3 was up at 15 s and drained at 30 s; the deploy at 40 s did not touch it.
    let k3 = kinds(3);
    assert_eq!(
        &k3[..3],
        [(10, Kind::Boot), (15, Kind::Up), (30, Kind::Sigterm)]
    );
    assert_eq!(k3[3].1, Kind::Stop);
    assert_eq!(k3.len(), 4, "{k3:?}");
    // The deploy restarted the one dyno in the formation.
    let deploys: Vec<&LifecycleEvent> = r
        .result
        .lifecycle
        .iter()
        .filter(|e| e.time_ns == 40 * S && e.event == Kind::Boot)
        .collect();
    assert_eq!(deploys.len(), 1);
    assert_eq!(deploys[0].dyno, 1);
    // Requests after 30 s went to web.1 only, until web.2 was back up at 50 s.
    for x in &r.watch.records {
        if x.arrival_ns > 30 * S && x.service_start_ns < 50 * S && x.status == Status::Ok {
            assert_eq!(x.dyno, 1, "{x:?}");
        }
    }
    counted_once(&r);
}
