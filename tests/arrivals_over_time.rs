//! Load over time (issue 17, point 1): stages, diurnal, bursts and MMPP arrivals follow their
//! rate window by window and in total, a trace replays exactly, and bad inputs are refused.
//!
//! **The statistics.** For a non-homogeneous Poisson process the counts of disjoint windows are
//! independent Poisson variables of mean `Λ_w` (the rate integrated over the window), so
//! `z_w = (N_w - Λ_w) / sqrt(Λ_w)` is close to a standard normal and `X = Σ z_w²` to a
//! chi-square with `k` degrees of freedom (mean `k`, sd `sqrt(2k)`). Each test asserts
//! `|X - k| < 5 sqrt(2k)` and `max |z_w| < 5.5` (for a few thousand windows a correct process
//! fails either with probability below 1e-4; the seed is fixed, so the result is deterministic),
//! and that the total is within 1% of `Σ Λ_w`. `Λ_w` is computed here, from the rate written out
//! independently of the model (closed forms, or Simpson's rule on 1-second steps), never from the
//! model's own integral, except for the MMPP whose rate is random (its path integral is the
//! model's; the path's own statistics are checked against the stationary rate). The windows are
//! fine enough (1 to 5 minutes at hundreds of requests per second on the ramps) that a per-minute
//! step approximation of a ramp fails the chi-square.

mod common;
mod scenario_support;

use dynosim::engine::{SeedTree, SimTime};
use dynosim::model::Arrivals;
use dynosim::model::arrivals::arrival_process;
use scenario_support::{Case, line_of};
use std::f64::consts::TAU;

/// The arrivals of app `shop` in a scenario whose workload section holds `workload` (after the
/// `cpu` line).
fn arrivals_of(workload: &str) -> Arrivals {
    let text = format!(
        r#"name = "t"
seed = 1
duration = "1h"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "performance-l"
[app.workload]
cpu = {{ constant = "1ms" }}
{workload}
"#
    );
    let s = common::scenario(&text);
    let w = s.points[0].config.apps[0]
        .workload
        .as_ref()
        .expect("workload");
    w.arrivals.clone()
}

/// Arrivals in `[0, horizon_s)`, counted per window of `window_s`, from the app's streams of
/// seed `seed`; and the process's own offered count per window (for the MMPP).
fn counts(spec: &Arrivals, horizon_s: f64, window_s: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let seeds = SeedTree::new(seed);
    let stream = |kind: &str| seeds.named(&format!("{kind}/shop")).stream();
    let mut a = arrival_process(spec, &stream);
    let k = (horizon_s / window_s).round() as usize;
    let mut n = vec![0.0; k];
    let mut t = SimTime::ZERO;
    while let Some(at) = a.next_arrival(t) {
        let w = (at.as_secs_f64() / window_s) as usize;
        if w >= k {
            break;
        }
        n[w] += 1.0;
        t = at;
    }
    let ns = |s: f64| SimTime((s * 1e9).round() as u64);
    let offered = (0..k)
        .map(|w| a.offered(ns(w as f64 * window_s), ns((w + 1) as f64 * window_s)))
        .collect();
    (n, offered)
}

/// The chi-square and z checks and the 1% total; returns `(X, k, max |z|, total error)` for the
/// report in the assertion messages.
fn assert_follows(label: &str, n: &[f64], expected: &[f64]) -> (f64, usize, f64, f64) {
    assert_eq!(n.len(), expected.len());
    let mut x = 0.0;
    let mut max_z: f64 = 0.0;
    let mut k = 0;
    for (&c, &e) in n.iter().zip(expected) {
        if e == 0.0 {
            assert_eq!(c, 0.0, "{label}: arrivals where the rate is 0");
            continue;
        }
        let z = (c - e) / e.sqrt();
        x += z * z;
        max_z = max_z.max(z.abs());
        k += 1;
    }
    let sd = (2.0 * k as f64).sqrt();
    let (total, want): (f64, f64) = (n.iter().sum(), expected.iter().sum());
    let total_err = (total / want - 1.0).abs();
    let report = format!(
        "{label}: chi-square {x:.1} over {k} windows (bound {k} ± {:.1}), max |z| {max_z:.2} (bound 5.5), total {total} vs {want:.1} ({:.3}%)",
        5.0 * sd,
        total_err * 100.0
    );
    eprintln!("{report}");
    assert!((x - k as f64).abs() < 5.0 * sd, "{report}");
    assert!(max_z < 5.5, "{report}");
    assert!(total_err < 0.01, "{report}");
    (x, k, max_z, total_err)
}

/// `∫ rate` over each window by Simpson's rule on 1-second steps (exact for a rate linear or
/// quadratic within each second, close for a smooth one).
fn integrate(rate: &dyn Fn(f64) -> f64, horizon_s: f64, window_s: f64) -> Vec<f64> {
    let k = (horizon_s / window_s).round() as usize;
    (0..k)
        .map(|w| {
            let (a, b) = (w as f64 * window_s, (w + 1) as f64 * window_s);
            let steps = (window_s.round() as usize).max(1) * 2;
            let h = (b - a) / steps as f64;
            let mut s = 0.0;
            for i in 0..=steps {
                // Just inside the ends: a step in the rate at a window's edge belongs to one side.
                let x = (a + h * i as f64).clamp(a + 1e-9, b - 1e-9);
                let wgt = if i == 0 || i == steps {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                s += wgt * rate(x);
            }
            s * h / 3.0
        })
        .collect()
}

/// The issue's lunch profile (requests/s), written out here: 40, ramping to 120 between 11:00
/// and 11:30, 120 until 13:30, back to 40 by 14:00; every day.
fn lunch(t: f64) -> f64 {
    let h = (t % 86_400.0) / 3600.0;
    let lerp = |a: f64, b: f64, x: f64| a + (b - a) * x;
    if h < 11.0 {
        40.0
    } else if h < 11.5 {
        lerp(40.0, 120.0, (h - 11.0) / 0.5)
    } else if h < 13.5 {
        120.0
    } else if h < 14.0 {
        lerp(120.0, 40.0, (h - 13.5) / 0.5)
    } else {
        40.0
    }
}

const LUNCH: &str = r#"arrivals = { stages = [ { at = "0s", rate = 40.0 }, { at = "11h", rate = 40.0 }, { at = "11h30m", rate = 120.0 }, { at = "13h30m", rate = 120.0 }, { at = "14h", rate = 40.0 } ], repeat = "1d", scale = 5 }"#;

#[test]
fn stages_follow_the_piecewise_linear_rate_and_repeat() {
    let spec = arrivals_of(LUNCH);
    // 1.6 days (the repeat is exercised), 1-minute windows, scale 5 (200 to 600 req/s).
    let (horizon, window) = (1.6 * 86_400.0, 60.0);
    let (n, _) = counts(&spec, horizon, window, 11);
    let want = integrate(&|t| 5.0 * lunch(t), horizon, window);
    assert_follows("stages", &n, &want);
    // The lunch plateau of the second day is there: 600 req/s at 12:30 on day 2.
    let w = ((86_400.0 + 12.5 * 3600.0) / window) as usize;
    assert!(
        (n[w] / window - 600.0).abs() < 5.5 * (600.0 / window).sqrt(),
        "{}",
        n[w]
    );
}

#[test]
fn stages_hold_the_first_rate_before_the_first_point_and_jump_at_equal_times() {
    let spec = arrivals_of(
        r#"arrivals = { stages = [ { at = "10m", rate = 100.0 }, { at = "20m", rate = 100.0 }, { at = "20m", rate = 500.0 }, { at = "30m", rate = 0.0 } ] }"#,
    );
    let rate = |t: f64| {
        if t < 1200.0 {
            100.0
        } else if t < 1800.0 {
            500.0 - 500.0 * (t - 1200.0) / 600.0
        } else {
            0.0
        }
    };
    let (n, _) = counts(&spec, 3600.0, 30.0, 5);
    assert_follows("stages with a jump", &n, &integrate(&rate, 3600.0, 30.0));
    assert!(n[60..].iter().all(|&c| c == 0.0), "the last rate (0) holds");
}

#[test]
fn diurnal_follows_the_daily_sinusoid() {
    let spec = arrivals_of(r#"arrivals = { diurnal = 40.0, peak_to_mean = 1.7, peak_at = "13h" }"#);
    let (horizon, window) = (2.0 * 86_400.0, 300.0);
    let (n, _) = counts(&spec, horizon, window, 3);
    // Closed form: ∫ m (1 + A cos(2π (t - p) / D)) dt = m (t + A D / 2π sin(2π (t - p) / D)).
    let (m, a, p, d) = (40.0, 0.7, 13.0 * 3600.0, 86_400.0);
    let prim = |t: f64| m * (t + a * d / TAU * (TAU * (t - p) / d).sin());
    let want: Vec<f64> = (0..n.len())
        .map(|w| prim((w + 1) as f64 * window) - prim(w as f64 * window))
        .collect();
    assert_follows("diurnal", &n, &want);
    // Peak and trough where they belong: 68 req/s at 13:00, 12 at 01:00.
    let at = |h: f64| n[(h * 3600.0 / window) as usize] / window;
    assert!((at(13.0) - 68.0).abs() < 3.0, "{}", at(13.0));
    assert!((at(1.0) - 12.0).abs() < 1.5, "{}", at(1.0));
}

#[test]
fn bursts_multiply_the_rate_of_poisson_and_diurnal_arrivals() {
    let bursts = r#"
[[app.workload.burst]]
at = "12h"
duration = "15m"
factor = 10.0
ramp = "2m"

[[app.workload.burst]]
at = "12h10m"
duration = "10m"
factor = 2.0
"#;
    // The bursts' multiplier, written out: 10x with 2-minute ramps from 12:00 to 12:15, and 2x
    // from 12:10 to 12:20 (overlapping: they multiply).
    let factor = |t: f64| {
        let (a, b) = (43_200.0, 43_200.0 + 900.0);
        let f1 = if t < a || t >= b {
            1.0
        } else {
            let into = (t - a).min(b - t);
            if into < 120.0 {
                1.0 + 9.0 * into / 120.0
            } else {
                10.0
            }
        };
        let f2 = if (43_800.0..44_400.0).contains(&t) {
            2.0
        } else {
            1.0
        };
        f1 * f2
    };
    let (horizon, window) = (86_400.0, 60.0);
    let spec = arrivals_of(&format!("arrivals = {{ poisson = 40.0 }}\n{bursts}"));
    let (n, _) = counts(&spec, horizon, window, 7);
    assert_follows(
        "burst on poisson",
        &n,
        &integrate(&|t| 40.0 * factor(t), horizon, window),
    );
    // 800 req/s at the overlap (12:12), 40 outside.
    assert!((n[732] / window - 800.0).abs() < 25.0, "{}", n[732]);

    let spec = arrivals_of(&format!(
        "arrivals = {{ diurnal = 40.0, peak_to_mean = 1.5, peak_at = \"13h\" }}\n{bursts}"
    ));
    let (n, _) = counts(&spec, horizon, window, 8);
    let diurnal = |t: f64| 40.0 * (1.0 + 0.5 * (TAU * (t - 46_800.0) / 86_400.0).cos());
    assert_follows(
        "burst on diurnal",
        &n,
        &integrate(&|t| diurnal(t) * factor(t), horizon, window),
    );
}

#[test]
fn mmpp_counts_follow_its_path_and_its_long_run_rate() {
    let spec =
        arrivals_of(r#"arrivals = { mmpp = { rates = [4.0, 40.0], mean_time = ["5m", "12s"] } }"#);
    let horizon = 30.0 * 86_400.0;
    let (n, offered) = counts(&spec, horizon, 600.0, 13);
    // Given the state path the counts are Poisson of the path's integral.
    assert_follows("mmpp given its path", &n, &offered);
    // The path itself: the long-run rate (4 x 300 + 40 x 12) / 312 = 5.3846 req/s. The time spent
    // in the fast state over T has variance about 2 a² b² / (a + b)³ T for exponential sojourns
    // of means a, b (alternating renewal process); allow 5 sd of that plus the Poisson noise.
    let (a, b) = (300.0_f64, 12.0_f64);
    let stationary = (4.0 * a + 40.0 * b) / (a + b);
    let total: f64 = n.iter().sum();
    let sd = ((36.0_f64).powi(2) * 2.0 * a * a * b * b / (a + b).powi(3) * horizon
        + stationary * horizon)
        .sqrt();
    let dev = (total - stationary * horizon).abs();
    eprintln!(
        "mmpp long run: {total} arrivals vs {:.0} (deviation {:.2} sd, bound 5)",
        stationary * horizon,
        dev / sd
    );
    assert!(dev < 5.0 * sd, "{total} vs {}", stationary * horizon);
    // Bursty, as an MMPP is: the per-window counts vary far more than Poisson counts would
    // (index of dispersion well above 1).
    let mean = total / n.len() as f64;
    let var = n.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / n.len() as f64;
    assert!(var / mean > 5.0, "index of dispersion {}", var / mean);
}

#[test]
fn scale_multiplies_any_rate_shape() {
    let base =
        arrivals_of(r#"arrivals = { mmpp = { rates = [4.0, 40.0], mean_time = ["5m", "12s"] } }"#);
    let scaled = arrivals_of(
        r#"arrivals = { mmpp = { rates = [4.0, 40.0], mean_time = ["5m", "12s"] }, scale = 1.5 }"#,
    );
    assert_eq!(scaled, base.scaled(1.5));
    assert!((scaled.mean_rate() - 1.5 * base.mean_rate()).abs() < 1e-9);
    let p = arrivals_of(r#"arrivals = { poisson = 40.0, scale = 2.5 }"#);
    assert_eq!(p, Arrivals::Poisson { rate: 100.0 });
    let d = arrivals_of(r#"arrivals = { diurnal = 40.0, scale = 0.5 }"#);
    assert!((d.mean_rate() - 20.0).abs() < 1e-12);
}

/// A scenario for the command line, with the workload lines `workload` and files beside it.
fn cli_scenario(duration: &str, workload: &str) -> String {
    format!(
        r#"name = "t"
seed = 4
duration = "{duration}"
window = "1m"
noise = "off"

[network]
latency = "0ms"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "performance-l"
count = 2
concurrency = 200

[app.workload]
cpu = {{ constant = "1ms" }}
{workload}
"#
    )
}

/// The cells of column `name` of a CSV.
fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let c = header
        .iter()
        .position(|h| *h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    lines
        .map(|l| l.split(',').nth(c).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn windows_csv_reports_the_offered_rate_and_counts_follow_it() {
    let case = Case::new(cli_scenario(
        "1h",
        r#"arrivals = { stages = [ { at = "0s", rate = 50.0 }, { at = "20m", rate = 50.0 }, { at = "30m", rate = 150.0 } ] }
[[app.workload.burst]]
at = "40m"
duration = "10m"
factor = 3.0
ramp = "2m30s"
"#,
    ));
    let r = case.run(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let csv = std::fs::read_to_string(case.out().join("windows.csv")).expect("windows.csv");
    let rates: Vec<f64> = column(&csv, "arrival_rate_rps")
        .iter()
        .map(|c| c.parse().expect("a number"))
        .collect();
    let requests: Vec<f64> = column(&csv, "requests")
        .iter()
        .map(|c| c.parse().expect("a number"))
        .collect();
    assert_eq!(rates.len(), 60);
    let rate = |t: f64| {
        let base = if t < 1200.0 {
            50.0
        } else if t < 1800.0 {
            50.0 + 100.0 * (t - 1200.0) / 600.0
        } else {
            150.0
        };
        let f = if !(2400.0..3000.0).contains(&t) {
            1.0
        } else {
            let into = (t - 2400.0).min(3000.0 - t);
            if into < 150.0 {
                1.0 + 2.0 * into / 150.0
            } else {
                3.0
            }
        };
        base * f
    };
    let want = integrate(&rate, 3600.0, 60.0);
    for (w, (got, e)) in rates.iter().zip(&want).enumerate() {
        // The column has 4 decimals.
        assert!(
            (got - e / 60.0).abs() < 1e-3,
            "window {w}: {got} vs {}",
            e / 60.0
        );
    }
    assert_follows("windows.csv requests", &requests, &want);
}

#[test]
fn a_trace_replays_its_timestamps_and_per_request_work_exactly() {
    // Irregular times with 9 decimals, equal times, a long gap; and CPU and wait per request.
    let mut trace = String::from("time_s,cpu_s,wait_s,note\n");
    let mut times = Vec::new();
    let mut t_ns: u64 = 0;
    for i in 0..500u64 {
        t_ns += (i * 7_919_113) % 40_000_001 + if i == 250 { 30_000_000_000 } else { 0 };
        if i == 100 {
            // The same instant twice.
            times.push(t_ns);
            trace.push_str(&format!(
                "{}.{:09},0.002,0.010,x\n",
                t_ns / 1_000_000_000,
                t_ns % 1_000_000_000
            ));
        }
        times.push(t_ns);
        let cpu_us = 500 + (i * 37) % 3000;
        trace.push_str(&format!(
            "{}.{:09},{}.{:06},0.{:03},x\n",
            t_ns / 1_000_000_000,
            t_ns % 1_000_000_000,
            cpu_us / 1_000_000,
            cpu_us % 1_000_000,
            i % 50
        ));
    }
    let text = cli_scenario(
        "2m",
        r#"arrivals = { trace = "arrivals.csv", column = "time_s", cpu = "cpu_s", wait = "wait_s" }"#,
    );
    let case = Case::new(&text).with_file("arrivals.csv", &trace);
    let r = case.run(&["--requests"], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let csv = std::fs::read_to_string(case.out().join("requests.csv")).expect("requests.csv");
    let arrivals: Vec<u64> = column(&csv, "arrival_s")
        .iter()
        .map(|c| {
            let (s, f) = c.split_once('.').expect("9 decimals");
            s.parse::<u64>().unwrap() * 1_000_000_000 + f.parse::<u64>().unwrap()
        })
        .collect();
    let mut sorted = arrivals.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, times,
        "every trace row arrives once, at its time, and nothing else"
    );
    // The trace's CPU and wait replace the workload's (constant 1 ms CPU, no wait): on an idle
    // dedicated dyno the request's CPU time is its demand and its wait is the trace's.
    let (lib_results, records) = {
        let s =
            dynosim::scenario::Scenario::parse(&text, "t.toml", "t", case.path()).expect("valid");
        let mut seen = common::Collect::default();
        let job = &s.jobs()[0];
        let res = dynosim::model::run_job(&s.points[0].config, job.seeds, &mut seen, |_, _| {
            dynosim::engine::Control::Continue
        })
        .expect("placeable");
        (res, seen.0)
    };
    assert_eq!(lib_results.processes[0].requests, times.len() as u64);
    let mut by_id = records.clone();
    by_id.sort_by_key(|r| r.id);
    let rows: Vec<&str> = trace.lines().skip(1).collect();
    for (r, row) in by_id.iter().zip(&rows) {
        let cells: Vec<&str> = row.split(',').collect();
        let cpu_ns = (cells[1].parse::<f64>().unwrap() * 1e9).round() as u64;
        let wait_ns = (cells[2].parse::<f64>().unwrap() * 1e9).round() as u64;
        let split = r.split.as_ref().expect("completed");
        assert_eq!(split.wait_ns, wait_ns, "request {}", r.id);
        assert!(
            split.cpu_ns.abs_diff(cpu_ns) <= 1,
            "request {}: {} vs {cpu_ns}",
            r.id,
            split.cpu_ns
        );
    }
    // The offered rate of a trace is its rows per window.
    let w = std::fs::read_to_string(case.out().join("windows.csv")).expect("windows.csv");
    let rates: Vec<f64> = column(&w, "arrival_rate_rps")
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    let mut per_min = [0.0_f64; 2];
    for t in &times {
        per_min[(*t / 60_000_000_000) as usize] += 1.0;
    }
    // Written with 4 decimals.
    let want: Vec<f64> = per_min
        .iter()
        .map(|n| (n / 60.0 * 1e4).round() / 1e4)
        .collect();
    assert_eq!(rates, want);
}

/// A case whose trace file is `body`, rejected at the `arrivals` line naming key `key`.
fn rejected_trace(body: &str, key: &str, message: &str) {
    let text = cli_scenario(
        "1m",
        r#"arrivals = { trace = "arrivals.csv", column = "time_s" }"#,
    );
    let case = Case::new(&text).with_file("arrivals.csv", body);
    let r = case.run(&[], &[]);
    let first = case.assert_rejected(&r, Some(line_of(&text, "arrivals =")));
    assert!(first.contains(key), "key {key}: {first}");
    assert!(first.contains(message), "{message}: {first}");
}

/// A trace's endpoint column must name the workload's endpoints: an unknown one is refused
/// with the trace's file, line and the value (a name, shown; anything else is described).
#[test]
fn a_trace_endpoint_must_be_one_of_the_workloads() {
    let workload = "arrivals = { trace = \"arrivals.csv\", endpoint = \"endpoint\" }\n\
[[app.workload.endpoint]]\nname = \"home\"\nweight = 1\n\
[[app.workload.endpoint]]\nname = \"GET /cart\"\nweight = 1\n";
    let text = cli_scenario("1m", workload);
    for (body, shown) in [
        (
            "time_s,endpoint\n0.5,home\n1,GET /cart\n1.5,checkout\n",
            "line 4, column 2 (`endpoint`): `checkout` is not an endpoint of this workload (it has 2: `home`, `GET /cart`)",
        ),
        (
            "time_s,endpoint\n0.5,home\n1,\n",
            "line 3, column 2 (`endpoint`): an empty cell is not an endpoint",
        ),
        (
            "time_s,endpoint\n0.5,\"a`b\"\n",
            "line 2, column 2 (`endpoint`): a value of 3 bytes is not an endpoint",
        ),
    ] {
        let case = Case::new(&text).with_file("arrivals.csv", body);
        let r = case.check(&[], &[]);
        let first = case.assert_rejected(&r, Some(line_of(&text, "arrivals =")));
        assert!(first.contains("workload.arrivals.endpoint"), "{first}");
        assert!(first.contains("arrivals.csv"), "{first}");
        assert!(first.contains(shown), "{shown} in: {first}");
    }
    let case = Case::new(&text).with_file(
        "arrivals.csv",
        "time_s,endpoint\n0.5,home\n1,GET /cart\n1.25,home\n",
    );
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
}

/// The trace's endpoint is chosen before the CPU is drawn: each request gets its endpoint's
/// distribution (1 ms or 100 ms, alone on an idle dyno with no network), whatever the shares say.
#[test]
fn a_trace_endpoint_chooses_whose_cpu_is_drawn() {
    let workload = "arrivals = { trace = \"arrivals.csv\", endpoint = \"endpoint\" }\n\
[[app.workload.endpoint]]\nname = \"fast\"\nshare = 0.999\ncpu = \"1ms\"\n\
[[app.workload.endpoint]]\nname = \"slow\"\nshare = 0.001\ncpu = \"100ms\"\n";
    let mut body = String::from("time_s,endpoint\n");
    for i in 0..40 {
        body += &format!("{},{}\n", i, if i % 4 == 0 { "fast" } else { "slow" });
    }
    let case = Case::new(cli_scenario("1m", workload)).with_file("arrivals.csv", body);
    let r = case.run(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let mut csv = csv::Reader::from_path(case.out().join("endpoints.csv")).expect("endpoints");
    let h = csv.headers().expect("header").clone();
    let col = |n: &str| h.iter().position(|x| x == n).expect(n);
    let (ep, req, mean) = (col("endpoint"), col("requests"), col("mean_ms"));
    let rows: Vec<(String, String, f64)> = csv
        .records()
        .map(|r| {
            let r = r.expect("row");
            (
                r[ep].to_string(),
                r[req].to_string(),
                r[mean].parse().expect("mean"),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("fast", "10"));
    assert_eq!((rows[1].0.as_str(), rows[1].1.as_str()), ("slow", "30"));
    assert!((rows[0].2 - 1.0).abs() < 1e-6, "{rows:?}");
    assert!((rows[1].2 - 100.0).abs() < 1e-6, "{rows:?}");
}

#[test]
fn an_unsorted_or_bad_trace_is_refused_naming_its_line() {
    rejected_trace(
        "time_s\n0.5\n1.25\n0.75\n2\n",
        "workload.arrivals.trace",
        "line 4, column 1 (`time_s`): the timestamps must not decrease",
    );
    rejected_trace("time_s\n0.5\n-1\n", "workload.arrivals.trace", "line 3");
    rejected_trace(
        "secret_header\n0.5\n",
        "workload.arrivals.column",
        "no column `time_s`",
    );
    rejected_trace("time_s\n", "workload.arrivals.trace", "has no rows");
    // No echo of what the file holds beyond a short numeric excerpt.
    let text = cli_scenario(
        "1m",
        r#"arrivals = { trace = "arrivals.csv", column = "time_s" }"#,
    );
    let case = Case::new(&text).with_file("arrivals.csv", "time_s\n0.5\nhunter2-password\n");
    let r = case.run(&[], &[]);
    let first = case.assert_rejected(&r, None);
    assert!(!r.stderr().contains("hunter2"), "{}", r.stderr());
    assert!(first.contains("line 3"), "{first}");
}

/// `workload` is refused with exit 2 at the line holding `needle`, naming `key`, saying
/// `message`, and nothing is written (`run` and `check` alike).
fn rejected(workload: &str, needle: &str, key: &str, message: &str) {
    let text = cli_scenario("1m", workload);
    let case = Case::new(&text).with_file("arrivals.csv", "time_s\n1\n");
    for r in [case.run(&[], &[]), case.check(&[], &[])] {
        let first = case.assert_rejected(&r, Some(line_of(&text, needle)));
        assert!(first.contains(key), "key `{key}` in: {first}");
        assert!(first.contains(message), "`{message}` in: {first}");
    }
}

#[test]
fn bad_rate_shapes_are_refused_with_file_line_and_key() {
    let st = |pts: &str, extra: &str| format!("arrivals = {{ stages = [ {pts} ]{extra} }}");
    rejected(
        &st(
            r#"{ at = "0s", rate = 40.0 }, { at = "2h", rate = 50.0 }, { at = "1h", rate = 60.0 }"#,
            "",
        ),
        "arrivals =",
        "workload.arrivals.stages[2].at",
        "in time order",
    );
    rejected(
        &st(
            r#"{ at = "0s", rate = 40.0 }, { at = "1h", rate = -5.0 }"#,
            "",
        ),
        "arrivals =",
        "workload.arrivals.stages[1].rate",
        "at least 0",
    );
    rejected(
        &st(
            r#"{ at = "1h", rate = 1.0 }, { at = "1h", rate = 2.0 }, { at = "1h", rate = 3.0 }"#,
            "",
        ),
        "arrivals =",
        "workload.arrivals.stages[2].at",
        "three stages at the same time",
    );
    rejected(
        &st(r#"{ at = "0s", rate = 0.0 }, { at = "1h", rate = 0 }"#, ""),
        "arrivals =",
        "workload.arrivals.stages",
        "every rate is 0",
    );
    rejected(
        &st(
            r#"{ at = "0s", rate = 40.0 }, { at = "14h", rate = 50.0 }"#,
            r#", repeat = "12h""#,
        ),
        "arrivals =",
        "workload.arrivals.repeat",
        "at least the last stage's",
    );
    rejected(
        &st("", ""),
        "arrivals =",
        "workload.arrivals.stages",
        "at least one",
    );
    rejected(
        &st(r#"{ at = "0s", rate = 40.0, ramp = "1m" }"#, ""),
        "arrivals =",
        "workload.arrivals.stages[0].ramp",
        "unknown key",
    );
    rejected(
        r#"arrivals = { diurnal = 40.0, peak_to_mean = 2.5 }"#,
        "arrivals =",
        "workload.arrivals.peak_to_mean",
        "[1, 2]",
    );
    rejected(
        r#"arrivals = { diurnal = 40.0, peak_at = "25h" }"#,
        "arrivals =",
        "workload.arrivals.peak_at",
        "under 24h",
    );
    rejected(
        r#"arrivals = { diurnal = -1.0 }"#,
        "arrivals =",
        "workload.arrivals.diurnal",
        "above 0",
    );
    rejected(
        r#"arrivals = { mmpp = { rates = [40.0, -1.0], mean_time = ["50m", "2m"] } }"#,
        "arrivals =",
        "workload.arrivals.mmpp.rates[1]",
        "between 0 and 1e6",
    );
    rejected(
        r#"arrivals = { mmpp = { rates = [40.0], mean_time = ["50m", "2m"] } }"#,
        "arrivals =",
        "workload.arrivals.mmpp.rates",
        "two values",
    );
    rejected(
        r#"arrivals = { mmpp = { rates = [0, 0.0], mean_time = ["50m", "2m"] } }"#,
        "arrivals =",
        "workload.arrivals.mmpp.rates",
        "both rates are 0",
    );
    rejected(
        r#"arrivals = { poisson = 40.0, scale = -2 }"#,
        "arrivals =",
        "workload.arrivals.scale",
        "above 0",
    );
    rejected(
        r#"arrivals = { trace = "arrivals.csv", scale = 2 }"#,
        "arrivals =",
        "workload.arrivals.scale",
        "cannot be scaled",
    );
    rejected(
        r#"arrivals = { trace = "arrivals.csv", endpoint = "path" }"#,
        "arrivals =",
        "workload.arrivals.endpoint",
        "no column `path`",
    );
    rejected(
        r#"arrivals = { trace = "arrivals.csv", endpoint = "time_s" }"#,
        "arrivals =",
        "workload.arrivals.endpoint",
        "needs the workload's [[app.workload.endpoint]]",
    );
    let burst =
        |arrivals: &str, b: &str| format!("arrivals = {arrivals}\n[[app.workload.burst]]\n{b}\n");
    rejected(
        &burst(
            r#"{ trace = "arrivals.csv" }"#,
            "at = \"1m\"\nduration = \"1m\"\nfactor = 2.0",
        ),
        "[[app.workload.burst]]",
        "workload.burst[0]",
        "not with a trace",
    );
    rejected(
        &burst(
            r#"{ poisson = 10.0 }"#,
            "at = \"1m\"\nduration = \"1m\"\nfactor = -2.0",
        ),
        "factor = -2.0",
        "workload.burst[0].factor",
        "between 0 and",
    );
    rejected(
        &burst(
            r#"{ poisson = 10.0 }"#,
            "at = \"1m\"\nduration = \"2m\"\nfactor = 2.0\nramp = \"90s\"",
        ),
        "ramp = ",
        "workload.burst[0].ramp",
        "at most half",
    );
    rejected(
        &burst(
            r#"{ poisson = 10.0 }"#,
            "at = \"1m\"\nduration = \"0s\"\nfactor = 2.0",
        ),
        "duration = \"0s\"",
        "workload.burst[0].duration",
        "longer than zero",
    );
    rejected(
        &burst(r#"{ poisson = 10.0 }"#, "at = \"1m\"\nfactor = 2.0"),
        "[[app.workload.burst]]",
        "workload.burst[0]",
        "missing `duration`",
    );
}

#[test]
fn the_same_seed_gives_the_same_arrivals_and_new_kinds_leave_poisson_streams_alone() {
    for workload in [
        LUNCH,
        r#"arrivals = { mmpp = { rates = [4.0, 40.0], mean_time = ["5m", "12s"] } }"#,
        "arrivals = { poisson = 40.0 }\n[[app.workload.burst]]\nat = \"10m\"\nduration = \"5m\"\nfactor = 4.0",
    ] {
        let spec = arrivals_of(workload);
        assert_eq!(
            counts(&spec, 7200.0, 60.0, 9),
            counts(&spec, 7200.0, 60.0, 9)
        );
        assert_ne!(
            counts(&spec, 7200.0, 60.0, 9).0,
            counts(&spec, 7200.0, 60.0, 10).0
        );
    }
}

/// `dynosim check FILE`: whether it succeeded, and its standard output.
fn check(p: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynosim"))
        .args(["check", &p.display().to_string()])
        .output()
        .expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `dynosim check` shows the range of a varying offered rate beside its mean, and warns where
/// the peak overloads the process even though the mean does not.
#[test]
fn check_shows_the_offered_rate_range_and_warns_of_an_overloading_peak() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("peak.toml");
    std::fs::write(
        &p,
        r#"name = "peak"
duration = "1h"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "standard-1x"
count = 2
[app.workload]
arrivals = { diurnal = 20.0, peak_to_mean = 1.5, peak_at = "13h" }
cpu = { exponential = "30ms" }
"#,
    )
    .expect("write");
    let (ok, text) = check(&p);
    assert!(ok, "{text}");
    // Mean load 20 x 30 ms / 2 cores = 30 %; the peak, 1.5 x, 45 %: no warning.
    assert!(
        text.contains(
            "offered rate 10.0 to at most 30.0 req/s (mean 20.0), peak CPU load at most 45%"
        ),
        "{text}"
    );
    assert!(!text.contains("the peak can overload"), "{text}");
    std::fs::write(
        &p,
        std::fs::read_to_string(&p).expect("read").replace(
            "cpu = { exponential = \"30ms\" }",
            "cpu = { exponential = \"80ms\" }",
        ),
    )
    .expect("write");
    let (ok, text) = check(&p);
    assert!(ok, "{text}");
    // Mean 80 %, peak 120 %.
    assert!(text.contains("offered CPU load 80%"), "{text}");
    assert!(
        text.contains("peak CPU load at most 120% (warning: the peak can overload it"),
        "{text}"
    );
}
