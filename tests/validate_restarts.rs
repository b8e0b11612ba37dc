//! Restarts on real dynos (`dynosim validate` with a scenario's lifecycle): a deploy restarts
//! both dynos, a crash restarts one; every start is a fresh jail with an empty filesystem,
//! reads of files written before a restart miss, the boot gap is measured, the router never
//! sends to a dyno that is not up, every request is counted exactly once, and events.csv has
//! the simulation's boots, sigterms and crashes at its times.
//!
//! Root and cgroups needed (skips with a reason otherwise; `DYNOSIM_REQUIRE_JAIL=1` makes a
//! skip fail). About 30 s.

mod jail_support;

use dynosim::model::{LifecycleKind as Kind, Status};
use dynosim::scenario::Scenario;
use dynosim::validate::app::SpinMode;
use dynosim::validate::plan::{ActionKind, ScaleOptions, scale};
use dynosim::validate::real::{self, RealOptions};
use dynosim::validate::{report, spin};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCENARIO: &str = r#"
seed = 5
duration = "24s"
window = "6s"
noise = "off"
[lifecycle]
cycling = false
[[app]]
name = "shop"
deploys = ["8s"]
[[app.crash]]
at = "16s"
dyno = 2
[[app.process]]
type = "web"
size = "standard-1x"
count = 2
concurrency = 2
boot = "1s"
[app.workload]
arrivals = { poisson = 12.0 }
cpu = { exponential = "15ms" }
wait = { exponential = "5ms" }
[app.filesystem]
write_probability = 0.5
write_kb = 2
read_probability = 0.5
clients = 20
"#;

const MS: u64 = 1_000_000;

#[test]
fn restarts_give_fresh_dynos_at_the_simulations_times() {
    require_jail!();
    let sc = Scenario::parse(SCENARIO, "restarts.toml", "restarts", Path::new("."))
        .expect("valid scenario");
    let s = scale(
        &sc,
        &ScaleOptions {
            point: 0,
            duration: None,
            cpus: spin::allowed_cpus(),
            max_shared_dynos: 4,
            network_rtt: Duration::ZERO,
            contention: None,
        },
    )
    .expect("scales");
    // The plan: two boots at the deploy, one after the crash, with the simulated boot time.
    let boots: Vec<(u64, Option<usize>, u32, u64)> = s
        .actions
        .iter()
        .filter_map(|a| match a.kind {
            ActionKind::Boot { boot_ns } => Some((a.at_ns, a.dyno, a.incarnation, boot_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(
        boots,
        vec![
            (8_000 * MS, Some(0), 1, 1_000 * MS),
            (8_000 * MS, Some(1), 1, 1_000 * MS),
            (16_000 * MS, Some(1), 2, 1_000 * MS),
        ]
    );
    let cpus = s.dynos[0].cpus.clone();
    let opts = RealOptions {
        iters_per_s: spin::measure_speed_on(&cpus, Duration::from_millis(200)),
        spin: SpinMode::Work,
        drain: Duration::from_secs(2),
        cpu_period: Duration::from_millis(100),
        probes: 20,
        program: Some(PathBuf::from(jail_support::bin())),
    };
    let r = real::run(&s, &opts, |m| eprintln!("{m}")).expect("real run");
    // Every jail of every start is gone, with its cgroups.
    let me = std::process::id() as i32;
    let t0 = std::time::Instant::now();
    loop {
        let left: Vec<_> = jail_support::cgroup_parents()
            .iter()
            .filter_map(|p| std::fs::read_dir(p).ok())
            .flat_map(|rd| rd.flatten())
            .filter(|e| {
                dynosim::exec::cgroup::owner_pid(&e.file_name().to_string_lossy()) == Some(me)
            })
            .map(|e| e.path())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "left behind: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Every start is a fresh jail: no files when it first answers, and a measured boot gap a
    // little longer than the app's own boot (the jail's start and the slug copy).
    let starts: Vec<_> = r
        .incarnations
        .iter()
        .filter(|i| i.incarnation > 0)
        .collect();
    assert_eq!(starts.len(), 3, "{:?}", r.incarnations);
    for i in &starts {
        let (boot, up) = (i.boot_ns.expect("booted"), i.up_ns.expect("came up"));
        let gap = up - boot;
        eprintln!(
            "dyno {} incarnation {}: boot gap {:.1} ms (app boot {:.0} ms, jail start {:.1} ms), files {:?}",
            i.dyno,
            i.incarnation,
            gap as f64 / 1e6,
            i.planned_boot_ns as f64 / 1e6,
            i.jail_start.as_secs_f64() * 1e3,
            i.files_at_up
        );
        assert_eq!(i.files_at_up, Some(0), "a fresh filesystem has no files");
        assert!(gap > i.planned_boot_ns, "boot gap {gap} ns");
        assert!(gap < i.planned_boot_ns + 500 * MS, "boot gap {gap} ns");
        assert!(i.jail_start > Duration::ZERO);
    }

    // Reads of files written before a restart miss, and only because of it: the app never
    // finds a file written by another dyno or an earlier incarnation.
    let reads = report::read_stats(&s, &r);
    let total = |f: fn(&report::ReadStats) -> u64| reads.iter().map(f).sum::<u64>();
    eprintln!("reads: {reads:?}");
    assert!(total(|x| x.sticky_reads) > 50);
    assert!(total(|x| x.miss_restart) > 0, "no read after a restart");
    assert_eq!(total(|x| x.restart_absent), total(|x| x.miss_restart));
    assert_eq!(total(|x| x.stale), 0, "a file survived a restart");
    assert_eq!(total(|x| x.lost), 0, "a file vanished on a running dyno");

    // No request was sent to a dyno before it was up or after it left the router.
    let gone = |dyno: usize, inc: u32| {
        r.events
            .iter()
            .find(|e| {
                e.dyno as usize == dyno + 1
                    && e.incarnation == inc
                    && matches!(e.event, Kind::Sigterm | Kind::Crash)
            })
            .map_or(u64::MAX, |e| e.time_ns)
    };
    let mut per_inc = vec![0u32; r.incarnations.len()];
    for (o, p) in r.outcomes.iter().zip(&s.plan) {
        let Some(ep) = o.endpoint else { continue };
        let (k, inc) = r
            .incarnations
            .iter()
            .enumerate()
            .find(|(_, i)| i.endpoint == Some(ep))
            .expect("endpoint of an incarnation");
        per_inc[k] += 1;
        let up = inc.up_ns.expect("up");
        assert!(
            o.sent_ns >= up && o.sent_ns < gone(inc.dyno, inc.incarnation),
            "request at {} ns sent at {} to dyno {} incarnation {} (up {up}, gone {})",
            p.at_ns,
            o.sent_ns,
            inc.dyno,
            inc.incarnation,
            gone(inc.dyno, inc.incarnation)
        );
    }
    assert!(
        per_inc.iter().all(|&n| n > 10),
        "requests per start {per_inc:?}"
    );
    // Requests arriving while both dynos booted were held, then served.
    let held: Vec<_> = r
        .outcomes
        .iter()
        .zip(&s.plan)
        .filter(|(o, _)| o.held)
        .collect();
    assert!(!held.is_empty());
    for (o, p) in &held {
        assert!(
            (8_000 * MS..9_600 * MS).contains(&p.at_ns),
            "held at {}",
            p.at_ns
        );
        assert!(o.sent_ns >= 9_000 * MS && o.done_ns.is_some() && o.error.is_none());
    }

    // Each request exactly once: completed, an error, or in flight.
    let recs = report::records(&s, &r);
    assert_eq!(recs.len(), s.plan.len());
    for rec in &recs {
        let ok = rec.record.status == Status::Ok && !rec.in_flight;
        let err = rec.record.status != Status::Ok;
        assert!(ok ^ err ^ rec.in_flight, "{rec:?}");
    }
    // The process row's totals, against the records classified here.
    let job = report::job_result(&s, &r, &recs);
    let p = &job.processes[0];
    let counted = |f: &dyn Fn(&report::RealRecord) -> bool| {
        recs.iter().filter(|x| x.counted && f(x)).count() as u64
    };
    assert_eq!(p.requests, counted(&|_| true));
    assert_eq!(p.in_flight, counted(&|x| x.in_flight));
    assert_eq!(p.errors, counted(&|x| x.record.status != Status::Ok));
    assert_eq!(
        p.completed,
        counted(&|x| x.record.status == Status::Ok && !x.in_flight)
    );
    assert_eq!(p.requests, p.completed + p.errors + p.in_flight);
    assert_eq!(p.restarts, 3);

    // events.csv: the simulation's boots, sigterms and crash at its times (the real ones within
    // 20 ms: a thread's wake-up), and one up per start.
    let dir = tempfile::tempdir().expect("tempdir");
    report::write_real(dir.path(), &s, &r, serde_json::json!({})).expect("writes");
    let text = std::fs::read_to_string(dir.path().join("events.csv")).expect("events.csv");
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let h = rows.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|x| x == n).expect(n);
    let real_ev: Vec<(f64, String, String, String)> = rows
        .records()
        .map(|r| {
            let r = r.expect("row");
            (
                r[col("time_s")].parse().expect("time"),
                r[col("dyno")].to_string(),
                r[col("incarnation")].to_string(),
                r[col("event")].to_string(),
            )
        })
        .collect();
    for e in &s.sim_events {
        if !matches!(
            e.event,
            Kind::Boot | Kind::Sigterm | Kind::Crash | Kind::Deploy | Kind::Up
        ) {
            continue;
        }
        let name = if e.dyno == 0 {
            String::new()
        } else {
            format!("web.{}", e.dyno)
        };
        let t = e.time_ns as f64 * 1e-9;
        let found = real_ev.iter().find(|(_, d, i, ev)| {
            *ev == e.event.as_str()
                && *d == name
                && (e.dyno == 0 || *i == e.incarnation.to_string())
        });
        let (rt, ..) =
            found.unwrap_or_else(|| panic!("no real {} of {name}: {real_ev:?}", e.event));
        let tol = if e.event == Kind::Up { 0.5 } else { 0.02 };
        assert!(
            *rt >= t - 1e-6 && *rt - t < tol,
            "{} of {name} at {rt} s, simulated at {t} s",
            e.event
        );
    }
}
