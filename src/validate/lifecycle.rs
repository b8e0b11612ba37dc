//! The lifecycle comparison: what restarts did in the real run and in the simulation, read back
//! from the two runs' CSV files (so it can be recomputed from them): each dyno start's boot gap
//! (`starts.csv`) and per app the restarts, errors, held requests, files lost and sticky-read
//! misses (`lifecycle.csv`).

use super::compare::out_err;
use crate::output::{OutputError, fmt_f64};
use std::collections::BTreeMap;
use std::path::Path;

/// One dyno start seen in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// Real repetition (1-based).
    pub repetition: usize,
    /// App name.
    pub app: String,
    /// Dyno (`web.2`).
    pub dyno: String,
    /// Incarnation (1 or more).
    pub incarnation: u32,
    /// When it began booting (the same in both runs), s.
    pub boot_s: f64,
    /// Boot gap in the simulation (boot to up), s.
    pub sim_gap_s: f64,
    /// Boot gap measured on the real dyno (boot to its first answer), s; NaN if it never
    /// answered.
    pub real_gap_s: f64,
}

/// One metric of one app, real (mean over repetitions) and simulated.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// App name.
    pub app: String,
    /// Metric name (see docs/validation.md).
    pub metric: String,
    /// Real value.
    pub real: f64,
    /// Simulated value.
    pub sim: f64,
}

type Table = Vec<BTreeMap<String, String>>;

fn read(path: &Path) -> Result<Table, String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rd
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    rd.records()
        .map(|r| {
            let r = r.map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect())
        })
        .collect()
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row.get(key)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
}

/// Boot and up times per (app, dyno, incarnation) from an events.csv.
fn boots(events: &Table) -> BTreeMap<(String, String, u32), (f64, f64)> {
    let mut out: BTreeMap<(String, String, u32), (f64, f64)> = BTreeMap::new();
    for e in events {
        let Some(inc) = e.get("incarnation").and_then(|v| v.parse::<u32>().ok()) else {
            continue;
        };
        let key = (
            e.get("app").cloned().unwrap_or_default(),
            e.get("dyno").cloned().unwrap_or_default(),
            inc,
        );
        let t = num(e, "time_s");
        match e.get("event").map(String::as_str) {
            Some("boot") => out.entry(key).or_insert((f64::NAN, f64::NAN)).0 = t,
            Some("up") if inc > 0 => out.entry(key).or_insert((f64::NAN, f64::NAN)).1 = t,
            _ => {}
        }
    }
    out
}

/// Requests held by the router (router_ms above 5 ms: no dyno was up) and their mean latency.
fn held(requests: &Table) -> BTreeMap<String, (f64, f64)> {
    let mut out: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in requests {
        if r.get("status").map(String::as_str) != Some("ok") || num(r, "router_ms") <= 5.0 {
            continue;
        }
        let e = out
            .entry(r.get("app").cloned().unwrap_or_default())
            .or_default();
        e.0 += 1.0;
        e.1 += num(r, "latency_ms");
    }
    out
}

/// The summary.csv columns compared, as they are named there.
const SUMMARY: &[&str] = &[
    "requests",
    "completed",
    "in_flight",
    "errors_h10",
    "errors_h12",
    "errors_h13",
    "errors_h20",
    "restarts",
    "files_lost",
    "sticky_reads",
    "sticky_miss_other_dyno",
    "sticky_miss_restart",
];

/// Compare the real runs (`real_dirs`, one per repetition) with the simulation (`sim_dir`).
pub fn compare(real_dirs: &[&Path], sim_dir: &Path) -> Result<(Vec<Metric>, Vec<Start>), String> {
    let sim_events = read(&sim_dir.join("events.csv"))?;
    let sim_boots = boots(&sim_events);
    let mut starts = Vec::new();
    // (app, metric) -> (sum of real values, sim value)
    let mut acc: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut put = |app: &str, metric: &str, real: f64, sim: f64, first: bool| {
        let k = (app.to_string(), metric.to_string());
        if first {
            order.push(k.clone());
        }
        let e = acc.entry(k).or_insert((0.0, sim));
        e.0 += real;
    };
    let sim_summary = read(&sim_dir.join("summary.csv"))?;
    let sim_held = held(&read(&sim_dir.join("requests.csv"))?);
    for (rep, dir) in real_dirs.iter().enumerate() {
        let first = rep == 0;
        let real_boots = boots(&read(&dir.join("events.csv"))?);
        let real_summary = read(&dir.join("summary.csv"))?;
        let real_held = held(&read(&dir.join("requests.csv"))?);
        let mut gaps: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for (key, (boot, up)) in &sim_boots {
            let real_up = real_boots.get(key).map_or(f64::NAN, |x| x.1);
            let s = Start {
                repetition: rep + 1,
                app: key.0.clone(),
                dyno: key.1.clone(),
                incarnation: key.2,
                boot_s: *boot,
                sim_gap_s: up - boot,
                real_gap_s: real_up - boot,
            };
            let g = gaps.entry(key.0.clone()).or_default();
            g.0.push(s.real_gap_s);
            g.1.push(s.sim_gap_s);
            starts.push(s);
        }
        for row in &sim_summary {
            let app = row.get("app").cloned().unwrap_or_default();
            let real = real_summary
                .iter()
                .find(|r| r.get("app") == Some(&app))
                .cloned()
                .unwrap_or_default();
            for c in SUMMARY {
                put(&app, c, num(&real, c), num(row, c), first);
            }
            let ratio = |r: &BTreeMap<String, String>, restart_only: bool| {
                let n = num(r, "sticky_reads");
                let miss = num(r, "sticky_miss_restart")
                    + if restart_only {
                        0.0
                    } else {
                        num(r, "sticky_miss_other_dyno")
                    };
                if n > 0.0 { miss / n } else { f64::NAN }
            };
            put(
                &app,
                "read_miss_ratio",
                ratio(&real, false),
                ratio(row, false),
                first,
            );
            put(
                &app,
                "restart_read_miss_ratio",
                ratio(&real, true),
                ratio(row, true),
                first,
            );
            let (rh, sh) = (
                real_held.get(&app).copied().unwrap_or_default(),
                sim_held.get(&app).copied().unwrap_or_default(),
            );
            put(&app, "held_requests", rh.0, sh.0, first);
            let mean = |x: (f64, f64)| if x.0 > 0.0 { x.1 / x.0 } else { f64::NAN };
            put(&app, "held_mean_ms", mean(rh), mean(sh), first);
            let (rg, sg) = gaps.get(&app).cloned().unwrap_or_default();
            let avg = |v: &[f64]| crate::stats::mean(v.iter().copied());
            let max = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
            put(&app, "starts", rg.len() as f64, sg.len() as f64, first);
            put(&app, "boot_gap_mean_s", avg(&rg), avg(&sg), first);
            put(&app, "boot_gap_max_s", max(&rg), max(&sg), first);
        }
    }
    let n = real_dirs.len().max(1) as f64;
    let metrics = order
        .into_iter()
        .map(|k| {
            let (r, s) = acc[&k];
            Metric {
                app: k.0,
                metric: k.1,
                real: r / n,
                sim: s,
            }
        })
        .collect();
    Ok((metrics, starts))
}

/// Write lifecycle.csv (`scenario, app, metric, real, sim, difference`) and starts.csv.
pub fn write(
    dir: &Path,
    scenario: &str,
    metrics: &[Metric],
    starts: &[Start],
) -> Result<(), OutputError> {
    let path = dir.join("lifecycle.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| out_err(&path, e))?;
    w.write_record(["scenario", "app", "metric", "real", "sim", "difference"])
        .map_err(|e| out_err(&path, e))?;
    for m in metrics {
        w.write_record([
            scenario,
            &m.app,
            &m.metric,
            &fmt_f64(m.real, 6),
            &fmt_f64(m.sim, 6),
            &fmt_f64(m.real - m.sim, 6),
        ])
        .map_err(|e| out_err(&path, e))?;
    }
    w.flush().map_err(|e| out_err(&path, e))?;
    let path = dir.join("starts.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| out_err(&path, e))?;
    w.write_record([
        "scenario",
        "repetition",
        "app",
        "dyno",
        "incarnation",
        "boot_s",
        "sim_boot_gap_s",
        "real_boot_gap_s",
        "boot_gap_difference_s",
    ])
    .map_err(|e| out_err(&path, e))?;
    for s in starts {
        w.write_record([
            scenario,
            &s.repetition.to_string(),
            &s.app,
            &s.dyno,
            &s.incarnation.to_string(),
            &fmt_f64(s.boot_s, 6),
            &fmt_f64(s.sim_gap_s, 6),
            &fmt_f64(s.real_gap_s, 6),
            &fmt_f64(s.real_gap_s - s.sim_gap_s, 6),
        ])
        .map_err(|e| out_err(&path, e))?;
    }
    w.flush().map_err(|e| out_err(&path, e))
}
