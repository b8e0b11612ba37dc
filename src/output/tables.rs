//! The CSV tables (docs/csv.md describes every column) and the catalog listings.

use super::atomic::OutputError;
use crate::model::{Catalog, JobResult, RequestObserver, RequestRecord, cov};
use crate::scenario::{Job, Scenario};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A float for a CSV cell: fixed decimals (stable bytes across runs), empty for NaN so that
/// pandas and polars read a missing value.
pub fn fmt_f64(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.decimals$}")
    }
}

type Csv = csv::Writer<BufWriter<File>>;

fn open(dir: &Path, name: &str) -> Result<(Csv, PathBuf), OutputError> {
    let path = dir.join(name);
    let f = File::create(&path).map_err(|e| OutputError {
        path: path.clone(),
        what: "cannot create".into(),
        source: e,
    })?;
    Ok((csv::Writer::from_writer(BufWriter::new(f)), path))
}

fn csv_err(path: &Path, e: csv::Error) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        what: "cannot write".into(),
        source: std::io::Error::other(e),
    }
}

/// The rows a finished job contributes.
pub struct JobRows<'a> {
    pub scenario: &'a Scenario,
    pub job: &'a Job,
    pub result: &'a JobResult,
}

/// The leading columns shared by every table: scenario, point, sweep keys, replication.
fn key_header(s: &Scenario) -> Vec<String> {
    let mut h = vec!["scenario".to_string(), "point".to_string()];
    h.extend(s.sweep_keys.iter().cloned());
    h.push("replication".into());
    h
}

fn key_cells(s: &Scenario, job: &Job) -> Vec<String> {
    let mut c = vec![s.name.clone(), job.point.to_string()];
    c.extend(s.points[job.point].values.iter().cloned());
    c.push(job.replication.to_string());
    c
}

/// summary.csv, windows.csv, dynos.csv and instances.csv of one output folder, in job order.
pub struct Tables {
    summary: (Csv, PathBuf),
    windows: (Csv, PathBuf),
    dynos: (Csv, PathBuf),
    instances: (Csv, PathBuf),
    events: (Csv, PathBuf),
}

pub const EVENT_COLUMNS: &[&str] = &[
    "time_s",
    "app",
    "process",
    "dyno",
    "incarnation",
    "instance",
    "event",
    "detail",
];

pub const SUMMARY_COLUMNS: &[&str] = &[
    "seed",
    "app",
    "process",
    "size",
    "tier",
    "dynos",
    "concurrency",
    "requests",
    "completed",
    "errors",
    "errors_h10",
    "errors_h11",
    "errors_h12",
    "errors_h13",
    "errors_h14",
    "errors_h20",
    "errors_downstream",
    "errors_refused",
    "in_flight",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "mean_router_ms",
    "mean_network_ms",
    "mean_queue_ms",
    "mean_cpu_ms",
    "mean_downstream_ms",
    "mean_wait_ms",
    "throughput_rps",
    "cpu_utilization",
    "cpu_s",
    "throttled_s",
    "window_cov_p50",
    "window_cov_p99",
    "cost_usd_month",
    "restarts",
    "files_lost",
    "bytes_lost",
    "cache_hit_ratio",
    "cold_penalty_s",
    "sticky_reads",
    "sticky_miss_other_dyno",
    "sticky_miss_restart",
];

pub const WINDOW_COLUMNS: &[&str] = &[
    "app",
    "process",
    "size",
    "tier",
    "window_start_s",
    "requests",
    "completed",
    "errors",
    "in_flight",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p99_ms",
];

pub const DYNO_COLUMNS: &[&str] = &[
    "app",
    "process",
    "dyno",
    "size",
    "tier",
    "instance",
    "restarts",
    "restarts_cycle",
    "restarts_deploy",
    "restarts_crash",
    "restarts_r10",
    "restarts_r15",
    "sleeps",
    "uptime_s",
    "r14_s",
    "served",
    "cpu_utilization",
    "cpu_s",
    "throttled_s",
    "max_backlog",
    "bytes_written",
    "bytes_lost",
    "files_lost",
    "cache_hits",
    "cache_misses",
    "cache_hit_ratio",
    "cold_penalty_s",
    "sticky_reads",
    "sticky_miss_other_dyno",
    "sticky_miss_restart",
];

pub const INSTANCE_COLUMNS: &[&str] = &[
    "instance",
    "kind",
    "region",
    "vcpus",
    "memory_mb",
    "tenant_memory_mb",
    "dynos",
    "mean_load",
    "peak_load",
    "peak_demand",
    "mean_neighbour_load",
    "mean_speed",
];

pub const TIER_COLUMNS: &[&str] = &[
    "scenario",
    "point",
    "tier",
    "size",
    "replications",
    "requests",
    "completed",
    "errors",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "windows",
    "window_p50_mean_ms",
    "window_p50_cov",
    "window_p99_mean_ms",
    "window_p99_cov",
];

pub const REQUEST_COLUMNS: &[&str] = &[
    "request",
    "parent",
    "app",
    "process",
    "dyno",
    "incarnation",
    "arrival_s",
    "service_start_s",
    "latency_ms",
    "status",
    "router_ms",
    "network_ms",
    "queue_ms",
    "cpu_ms",
    "downstream_ms",
    "wait_ms",
];

fn flush(w: &mut Csv, path: &Path) -> Result<(), OutputError> {
    w.flush().map_err(|e| OutputError {
        path: path.to_path_buf(),
        what: "cannot write".into(),
        source: e,
    })
}

impl Tables {
    /// Create the files with their headers in `dir`.
    pub fn create(dir: &Path, scenario: &Scenario) -> Result<Tables, OutputError> {
        let mut t = Tables {
            summary: open(dir, "summary.csv")?,
            windows: open(dir, "windows.csv")?,
            dynos: open(dir, "dynos.csv")?,
            instances: open(dir, "instances.csv")?,
            events: open(dir, "events.csv")?,
        };
        let keys = key_header(scenario);
        for (w, cols) in [
            (&mut t.summary, SUMMARY_COLUMNS),
            (&mut t.windows, WINDOW_COLUMNS),
            (&mut t.dynos, DYNO_COLUMNS),
            (&mut t.instances, INSTANCE_COLUMNS),
            (&mut t.events, EVENT_COLUMNS),
        ] {
            let header: Vec<String> = keys
                .iter()
                .cloned()
                .chain(cols.iter().map(|c| c.to_string()))
                .collect();
            w.0.write_record(&header).map_err(|e| csv_err(&w.1, e))?;
        }
        Ok(t)
    }

    /// Append one job's rows.
    pub fn write(&mut self, rows: &JobRows<'_>) -> Result<(), OutputError> {
        let keys = key_cells(rows.scenario, rows.job);
        let r = rows.result;
        for p in &r.processes {
            let l = &p.latency;
            let mut rec = keys.clone();
            rec.extend([
                rows.job.seeds.value().to_string(),
                p.app.clone(),
                p.process.clone(),
                p.size.clone(),
                p.tier.to_string(),
                p.dynos.to_string(),
                p.concurrency.to_string(),
                p.requests.to_string(),
                p.completed.to_string(),
                p.errors.to_string(),
                p.errors_by_code[0].to_string(),
                p.errors_by_code[1].to_string(),
                p.errors_by_code[2].to_string(),
                p.errors_by_code[3].to_string(),
                p.errors_by_code[4].to_string(),
                p.errors_by_code[5].to_string(),
                p.errors_by_code[6].to_string(),
                p.errors_by_code[7].to_string(),
                p.in_flight.to_string(),
                fmt_f64(l.mean_ms, 4),
                fmt_f64(l.p50_ms, 4),
                fmt_f64(l.p90_ms, 4),
                fmt_f64(l.p95_ms, 4),
                fmt_f64(l.p99_ms, 4),
                fmt_f64(l.p999_ms, 4),
                fmt_f64(l.max_ms, 4),
                fmt_f64(l.router_ms, 4),
                fmt_f64(l.network_ms, 4),
                fmt_f64(l.queue_ms, 4),
                fmt_f64(l.cpu_ms, 4),
                fmt_f64(l.downstream_ms, 4),
                fmt_f64(l.wait_ms, 4),
                fmt_f64(p.throughput_rps, 4),
                fmt_f64(p.cpu_utilization, 6),
                fmt_f64(p.cpu_s, 3),
                fmt_f64(p.throttled_s, 3),
                fmt_f64(p.window_cov_p50, 6),
                fmt_f64(p.window_cov_p99, 6),
                fmt_f64(p.cost_usd_month, 2),
                p.restarts.to_string(),
                p.files_lost.to_string(),
                p.bytes_lost.to_string(),
                fmt_f64(p.cache_hit_ratio, 6),
                fmt_f64(p.cold_penalty_s, 3),
                p.sticky_reads.to_string(),
                p.sticky_miss_other_dyno.to_string(),
                p.sticky_miss_restart.to_string(),
            ]);
            self.summary
                .0
                .write_record(&rec)
                .map_err(|e| csv_err(&self.summary.1, e))?;
        }
        for w in &r.windows {
            let p = r
                .processes
                .iter()
                .find(|p| p.app_index == w.app && p.process_index == w.process);
            let (size, tier) = p
                .map(|p| (p.size.clone(), p.tier.to_string()))
                .unwrap_or_default();
            let (app, process) = p
                .map(|p| (p.app.clone(), p.process.clone()))
                .unwrap_or_default();
            let mut rec = keys.clone();
            rec.extend([
                app,
                process,
                size,
                tier,
                fmt_f64(w.window_start_s, 3),
                w.requests.to_string(),
                w.completed.to_string(),
                w.errors.to_string(),
                w.in_flight.to_string(),
                fmt_f64(w.mean_ms, 4),
                fmt_f64(w.p50_ms, 4),
                fmt_f64(w.p90_ms, 4),
                fmt_f64(w.p99_ms, 4),
            ]);
            self.windows
                .0
                .write_record(&rec)
                .map_err(|e| csv_err(&self.windows.1, e))?;
        }
        for d in &r.dynos {
            let mut rec = keys.clone();
            let total = d.cache_hits + d.cache_misses;
            rec.extend([
                d.app.clone(),
                d.process.clone(),
                d.dyno.clone(),
                d.size.clone(),
                d.tier.to_string(),
                d.instance.clone(),
                d.restarts.to_string(),
                d.restarts_cycle.to_string(),
                d.restarts_deploy.to_string(),
                d.restarts_crash.to_string(),
                d.restarts_r10.to_string(),
                d.restarts_r15.to_string(),
                d.sleeps.to_string(),
                fmt_f64(d.uptime_s, 3),
                fmt_f64(d.r14_s, 3),
                d.served.to_string(),
                fmt_f64(d.cpu_utilization, 6),
                fmt_f64(d.cpu_s, 3),
                fmt_f64(d.throttled_s, 3),
                d.max_backlog.to_string(),
                d.bytes_written.to_string(),
                d.bytes_lost.to_string(),
                d.files_lost.to_string(),
                d.cache_hits.to_string(),
                d.cache_misses.to_string(),
                fmt_f64(
                    if total == 0 {
                        f64::NAN
                    } else {
                        d.cache_hits as f64 / total as f64
                    },
                    6,
                ),
                fmt_f64(d.cold_penalty_s, 3),
                d.sticky_reads.to_string(),
                d.sticky_miss_other_dyno.to_string(),
                d.sticky_miss_restart.to_string(),
            ]);
            self.dynos
                .0
                .write_record(&rec)
                .map_err(|e| csv_err(&self.dynos.1, e))?;
        }
        for i in &r.instances {
            let mut rec = keys.clone();
            rec.extend([
                i.name.clone(),
                i.kind.to_string(),
                i.region.clone(),
                i.vcpus.to_string(),
                i.memory_mb.to_string(),
                i.tenant_memory_mb.to_string(),
                i.dynos.join(" "),
                fmt_f64(i.mean_load, 6),
                fmt_f64(i.peak_load, 6),
                fmt_f64(i.peak_demand, 6),
                fmt_f64(i.mean_neighbour_load, 6),
                fmt_f64(i.mean_speed, 6),
            ]);
            self.instances
                .0
                .write_record(&rec)
                .map_err(|e| csv_err(&self.instances.1, e))?;
        }
        for e in &r.lifecycle {
            let cfg = &rows.scenario.points[rows.job.point].config;
            let app = &cfg.apps[e.app];
            let process = &app.processes[e.process].name;
            let mut rec = keys.clone();
            rec.extend([
                fmt_f64(e.time_ns as f64 * 1e-9, 6),
                app.name.clone(),
                process.clone(),
                if e.dyno == 0 {
                    String::new()
                } else {
                    format!("{process}.{}", e.dyno)
                },
                if e.dyno == 0 {
                    String::new()
                } else {
                    e.incarnation.to_string()
                },
                e.instance.clone(),
                e.event.to_string(),
                e.detail.clone(),
            ]);
            self.events
                .0
                .write_record(&rec)
                .map_err(|e| csv_err(&self.events.1, e))?;
        }
        Ok(())
    }

    /// Flush all files to disk.
    pub fn finish(mut self) -> Result<(), OutputError> {
        for (w, path) in [
            &mut self.summary,
            &mut self.windows,
            &mut self.dynos,
            &mut self.instances,
            &mut self.events,
        ]
        .map(|(w, p)| (w, p.clone()))
        {
            flush(w, &path)?;
        }
        Ok(())
    }
}

/// One process type of one job, as tiers.csv pools it. tiers.csv is computed from these parts
/// rather than from whole job results so that shards can save their parts and `dynosim merge` can
/// pool them exactly as a single run does (same histograms, same window values, same order).
#[derive(Debug, Clone)]
pub struct TierPart {
    /// Job index within the scenario (parts are pooled in job order).
    pub job: usize,
    pub point: usize,
    pub replication: u32,
    pub tier: crate::model::Tier,
    pub size: String,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    /// Latency histogram of the completed requests (ns).
    pub histogram: hdrhistogram::Histogram<u64>,
    /// p50 and p99 of the job's windows of this process that completed requests, in time order.
    pub window_p50_ms: Vec<f64>,
    pub window_p99_ms: Vec<f64>,
}

/// The parts one job contributes to tiers.csv, in process order.
pub fn tier_parts(job: &Job, r: &JobResult) -> Vec<TierPart> {
    r.processes
        .iter()
        .map(|p| {
            let wins = r
                .windows
                .iter()
                .filter(|w| w.app == p.app_index && w.process == p.process_index)
                .filter(|w| w.completed > 0);
            let (p50, p99) = wins.map(|w| (w.p50_ms, w.p99_ms)).unzip();
            TierPart {
                job: job.index,
                point: job.point,
                replication: job.replication,
                tier: p.tier,
                size: p.size.clone(),
                requests: p.requests,
                completed: p.completed,
                errors: p.errors,
                histogram: p.histogram.0.clone(),
                window_p50_ms: p50,
                window_p99_ms: p99,
            }
        })
        .collect()
}

/// tiers.csv: per sweep point x tier x size, pooled over replications and processes: latency
/// quantiles from the merged histograms, and the mean and coefficient of variation of the
/// per-window p50 and p99 across all windows of all replications.
pub fn write_tiers(
    dir: &Path,
    scenario: &Scenario,
    jobs: &[(Job, JobResult)],
) -> Result<(), OutputError> {
    let parts: Vec<TierPart> = jobs.iter().flat_map(|(j, r)| tier_parts(j, r)).collect();
    write_tier_parts(dir, &scenario.name, &parts)
}

/// tiers.csv from parts given in job order (see [`write_tiers`]).
pub fn write_tier_parts(
    dir: &Path,
    scenario_name: &str,
    parts: &[TierPart],
) -> Result<(), OutputError> {
    use std::collections::BTreeMap;
    let (mut w, path) = open(dir, "tiers.csv")?;
    w.write_record(TIER_COLUMNS)
        .map_err(|e| csv_err(&path, e))?;
    struct Acc {
        reps: std::collections::BTreeSet<u32>,
        requests: u64,
        completed: u64,
        errors: u64,
        hist: Option<hdrhistogram::Histogram<u64>>,
        p50: Vec<f64>,
        p99: Vec<f64>,
    }
    // Keyed by (point, tier, size) so rows come out in a stable order.
    let mut groups: BTreeMap<(usize, crate::model::Tier, String), Acc> = BTreeMap::new();
    for p in parts {
        let acc = groups
            .entry((p.point, p.tier, p.size.clone()))
            .or_insert_with(|| Acc {
                reps: Default::default(),
                requests: 0,
                completed: 0,
                errors: 0,
                hist: None,
                p50: Vec::new(),
                p99: Vec::new(),
            });
        acc.reps.insert(p.replication);
        acc.requests += p.requests;
        acc.completed += p.completed;
        acc.errors += p.errors;
        match &mut acc.hist {
            Some(h) => {
                // Same precision and auto-resize on both sides, so adding cannot fail.
                let _ = h.add(&p.histogram);
            }
            None => acc.hist = Some(p.histogram.clone()),
        }
        acc.p50.extend_from_slice(&p.window_p50_ms);
        acc.p99.extend_from_slice(&p.window_p99_ms);
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    for ((point, tier, size), a) in &groups {
        let q = |x: f64| match &a.hist {
            Some(h) if a.completed > 0 => h.value_at_quantile(x).min(h.max()) as f64 * 1e-6,
            _ => f64::NAN,
        };
        w.write_record([
            scenario_name.to_string(),
            point.to_string(),
            tier.to_string(),
            size.clone(),
            a.reps.len().to_string(),
            a.requests.to_string(),
            a.completed.to_string(),
            a.errors.to_string(),
            fmt_f64(q(0.5), 4),
            fmt_f64(q(0.9), 4),
            fmt_f64(q(0.99), 4),
            a.p50.len().to_string(),
            fmt_f64(mean(&a.p50), 4),
            fmt_f64(cov(a.p50.iter().copied()), 6),
            fmt_f64(mean(&a.p99), 4),
            fmt_f64(cov(a.p99.iter().copied()), 6),
        ])
        .map_err(|e| csv_err(&path, e))?;
    }
    flush(&mut w, &path)
}

/// Streams one job's requests to a part file (`requests.csv` is the parts joined in job order).
pub struct RequestCsv {
    w: Csv,
    path: PathBuf,
    prefix: Vec<String>,
    apps: Vec<(String, Vec<String>)>,
    /// First write error, reported after the job.
    pub error: Option<OutputError>,
}

impl RequestCsv {
    /// Part file for `job` in `dir`.
    pub fn create(dir: &Path, scenario: &Scenario, job: &Job) -> Result<RequestCsv, OutputError> {
        let (w, path) = open(dir, &format!(".requests.part-{:08}.csv", job.index))?;
        let cfg = &scenario.points[job.point].config;
        Ok(RequestCsv {
            w,
            path,
            prefix: key_cells(scenario, job),
            apps: cfg
                .apps
                .iter()
                .map(|a| {
                    (
                        a.name.clone(),
                        a.processes.iter().map(|p| p.name.clone()).collect(),
                    )
                })
                .collect(),
            error: None,
        })
    }

    /// Write `requests.csv` in `dir` from the part files of `jobs`, then delete the parts.
    pub fn join(dir: &Path, scenario: &Scenario, jobs: &[Job]) -> Result<(), OutputError> {
        let path = dir.join("requests.csv");
        let io = |e: std::io::Error, p: &Path| OutputError {
            path: p.to_path_buf(),
            what: "cannot write".into(),
            source: e,
        };
        let mut out = BufWriter::new(File::create(&path).map_err(|e| io(e, &path))?);
        let header: Vec<String> = key_header(scenario)
            .into_iter()
            .chain(REQUEST_COLUMNS.iter().map(|c| c.to_string()))
            .collect();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&header).map_err(|e| csv_err(&path, e))?;
            w.flush().map_err(|e| io(e, &path))?;
        }
        for job in jobs {
            let part = dir.join(format!(".requests.part-{:08}.csv", job.index));
            let mut f = File::open(&part).map_err(|e| io(e, &part))?;
            std::io::copy(&mut f, &mut out).map_err(|e| io(e, &path))?;
            drop(f);
            std::fs::remove_file(&part).map_err(|e| io(e, &part))?;
        }
        out.flush().map_err(|e| io(e, &path))
    }

    /// Flush; returns the first error met while writing.
    pub fn finish(mut self) -> Result<(), OutputError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.flush().map_err(|e| OutputError {
            path: self.path.clone(),
            what: "cannot write".into(),
            source: e,
        })
    }
}

impl RequestObserver for RequestCsv {
    fn on_request(&mut self, r: &RequestRecord) {
        if self.error.is_some() {
            return;
        }
        let (app, procs) = &self.apps[r.app];
        let process = &procs[r.process];
        let ms = |ns: u64| fmt_f64(ns as f64 * 1e-6, 4);
        let mut rec: Vec<String> = self.prefix.clone();
        rec.extend([
            r.id.to_string(),
            r.parent.map(|p| p.to_string()).unwrap_or_default(),
            app.clone(),
            process.clone(),
            if r.dyno == 0 {
                String::new()
            } else {
                format!("{process}.{}", r.dyno)
            },
            if r.dyno == 0 {
                String::new()
            } else {
                r.incarnation.to_string()
            },
            fmt_f64(r.arrival_ns as f64 * 1e-9, 9),
            if r.service_start_ns == 0 {
                String::new()
            } else {
                fmt_f64(r.service_start_ns as f64 * 1e-9, 9)
            },
            ms(r.latency_ns),
            r.status.as_str().to_string(),
        ]);
        match &r.split {
            Some(s) => rec.extend([
                ms(s.router_ns),
                ms(s.network_ns),
                ms(s.queue_ns),
                ms(s.cpu_ns),
                ms(s.downstream_ns),
                ms(s.wait_ns),
            ]),
            None => rec.extend(std::iter::repeat_n(String::new(), 6)),
        }
        if let Err(e) = self.w.write_record(&rec) {
            self.error = Some(csv_err(&self.path, e));
        }
    }
}

/// The catalog as CSV text.
pub fn catalog_csv(catalog: &Catalog) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for s in catalog.sizes() {
        w.serialize(s)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The catalog as a JSON array.
pub fn catalog_json(catalog: &Catalog) -> String {
    serde_json::to_string_pretty(catalog.sizes()).unwrap_or_else(|_| "[]".into())
}

/// The catalog as an aligned text table for terminals.
pub fn catalog_table(catalog: &Catalog) -> String {
    let header = [
        "size",
        "tier",
        "ram_mb",
        "vcpus",
        "cpu_share",
        "host",
        "usd/month",
        "r15",
        "max/proc",
        "sleeps",
        "preboot",
    ];
    let rows: Vec<Vec<String>> = catalog
        .sizes()
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.tier.to_string(),
                s.ram_mb.to_string(),
                format!("{}{}", s.vcpus, if s.vcpus_published { "" } else { "*" }),
                format!("{}", s.cpu_share),
                if s.dedicated { "dedicated" } else { "shared" }.to_string(),
                format!("{:.2}", s.price_usd_month),
                format!("{}x", s.r15_factor),
                s.max_per_process.to_string(),
                if s.sleeps { "yes" } else { "no" }.to_string(),
                if s.preboot { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out.push_str(
        "\n* vCPU count is an assumption (Heroku does not publish it); see docs/catalog.md\n",
    );
    out
}

/// Write `bytes` to `path` via a temporary file and a rename, so readers never see half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
