//! The CSV tables (docs/csv.md describes every column) and the catalog listings.

use super::atomic::OutputError;
use crate::model::{
    Catalog, JobResult, LifecycleEvent, RequestObserver, RequestRecord, WindowRow, cov,
};
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
    create(dir.join(name))
}

fn create(path: PathBuf) -> Result<(Csv, PathBuf), OutputError> {
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

/// summary.csv, dynos.csv and instances.csv of one output folder, in job order, and
/// windows.csv and events.csv when the jobs' rows were collected in memory (without, they are
/// streamed by [`JobCsv`] and joined).
pub struct Tables {
    summary: (Csv, PathBuf),
    dynos: (Csv, PathBuf),
    instances: (Csv, PathBuf),
    windows: Option<(Csv, PathBuf)>,
    events: Option<(Csv, PathBuf)>,
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
    /// Create all five files with their headers in `dir`, for results whose windows and events
    /// were collected in memory.
    pub fn create(dir: &Path, scenario: &Scenario) -> Result<Tables, OutputError> {
        let mut t = Tables::create_streamed(dir, scenario)?;
        t.windows = Some(open_with_header(
            dir,
            "windows.csv",
            scenario,
            WINDOW_COLUMNS,
        )?);
        t.events = Some(open_with_header(
            dir,
            "events.csv",
            scenario,
            EVENT_COLUMNS,
        )?);
        Ok(t)
    }

    /// Create summary.csv, dynos.csv and instances.csv only: windows.csv and events.csv come
    /// from [`JobCsv`] parts.
    pub fn create_streamed(dir: &Path, scenario: &Scenario) -> Result<Tables, OutputError> {
        Ok(Tables {
            summary: open_with_header(dir, "summary.csv", scenario, SUMMARY_COLUMNS)?,
            dynos: open_with_header(dir, "dynos.csv", scenario, DYNO_COLUMNS)?,
            instances: open_with_header(dir, "instances.csv", scenario, INSTANCE_COLUMNS)?,
            windows: None,
            events: None,
        })
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
        if let Some((w, path)) = &mut self.windows {
            let names = Names::new(&rows.scenario.points[rows.job.point].config);
            for row in &r.windows {
                w.write_record(window_record(&keys, &names, row))
                    .map_err(|e| csv_err(path, e))?;
            }
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
        if let Some((w, path)) = &mut self.events {
            let names = Names::new(&rows.scenario.points[rows.job.point].config);
            for e in &r.lifecycle {
                w.write_record(event_record(&keys, &names, e))
                    .map_err(|e| csv_err(path, e))?;
            }
        }
        Ok(())
    }

    /// Flush all files to disk.
    pub fn finish(self) -> Result<(), OutputError> {
        for (mut w, path) in [Some(self.summary), Some(self.dynos), Some(self.instances)]
            .into_iter()
            .chain([self.windows, self.events])
            .flatten()
        {
            flush(&mut w, &path)?;
        }
        Ok(())
    }
}

fn open_with_header(
    dir: &Path,
    name: &str,
    scenario: &Scenario,
    columns: &[&str],
) -> Result<(Csv, PathBuf), OutputError> {
    let (mut w, path) = open(dir, name)?;
    let header = key_header(scenario)
        .into_iter()
        .chain(columns.iter().map(|c| c.to_string()));
    w.write_record(header).map_err(|e| csv_err(&path, e))?;
    Ok((w, path))
}

/// Names of a job's apps and process types, and each process type's size and tier, by index.
struct Names {
    apps: Vec<String>,
    /// Per app, per process: [name, size, tier].
    processes: Vec<Vec<[String; 3]>>,
}

impl Names {
    fn new(cfg: &crate::model::SimConfig) -> Names {
        Names {
            apps: cfg.apps.iter().map(|a| a.name.clone()).collect(),
            processes: cfg
                .apps
                .iter()
                .map(|a| {
                    a.processes
                        .iter()
                        .map(|p| [p.name.clone(), p.size.name.clone(), p.size.tier.to_string()])
                        .collect()
                })
                .collect(),
        }
    }
}

/// The `dyno` and `incarnation` cells: `web.2` and its start, empty for no dyno (0).
fn dyno_cells(process: &str, dyno: u32, incarnation: u32) -> [String; 2] {
    if dyno == 0 {
        [String::new(), String::new()]
    } else {
        [format!("{process}.{dyno}"), incarnation.to_string()]
    }
}

fn window_record(keys: &[String], names: &Names, w: &WindowRow) -> Vec<String> {
    let [process, size, tier] = names.processes[w.app][w.process].clone();
    let mut rec = keys.to_vec();
    rec.extend([
        names.apps[w.app].clone(),
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
    rec
}

fn event_record(keys: &[String], names: &Names, e: &LifecycleEvent) -> Vec<String> {
    let process = &names.processes[e.app][e.process][0];
    let mut rec = keys.to_vec();
    rec.extend([
        fmt_f64(e.time_ns as f64 * 1e-9, 6),
        names.apps[e.app].clone(),
        process.clone(),
    ]);
    rec.extend(dyno_cells(process, e.dyno, e.incarnation));
    rec.extend([e.instance.clone(), e.event.to_string(), e.detail.clone()]);
    rec
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
        .map(|p| TierPart {
            job: job.index,
            point: job.point,
            replication: job.replication,
            tier: p.tier,
            size: p.size.clone(),
            requests: p.requests,
            completed: p.completed,
            errors: p.errors,
            histogram: p.histogram.0.clone(),
            window_p50_ms: p.window_p50_ms.clone(),
            window_p99_ms: p.window_p99_ms.clone(),
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

/// Which tables a [`JobCsv`] streams.
#[derive(Debug, Clone, Copy)]
pub struct Streams {
    /// requests.csv (one row per request: `--requests`).
    pub requests: bool,
    /// windows.csv and events.csv.
    pub rows: bool,
}

/// One job's rows of one table, in a hidden part file beside it.
struct Part {
    w: Csv,
    path: PathBuf,
}

fn part_path(dir: &Path, table: &str, job: &Job) -> PathBuf {
    dir.join(format!(".{table}.part-{:08}.csv", job.index))
}

/// Streams one job's row-level tables to part files while it runs: requests as their outcomes
/// are known, windows as they close, lifecycle events as they happen. None of them stays in
/// memory, so a run's memory does not grow with its length; [`JobCsv::join`] then concatenates
/// the parts in job order, which keeps the tables independent of the thread count.
pub struct JobCsv {
    requests: Option<Part>,
    windows: Option<Part>,
    events: Option<Part>,
    prefix: Vec<String>,
    names: Names,
    /// First write error, reported after the job.
    pub error: Option<OutputError>,
}

impl JobCsv {
    /// Part files for `job` in `dir`.
    pub fn create(
        dir: &Path,
        scenario: &Scenario,
        job: &Job,
        streams: Streams,
    ) -> Result<JobCsv, OutputError> {
        let part = |on: bool, table: &str| -> Result<Option<Part>, OutputError> {
            if !on {
                return Ok(None);
            }
            let (w, path) = create(part_path(dir, table, job))?;
            Ok(Some(Part { w, path }))
        };
        Ok(JobCsv {
            requests: part(streams.requests, "requests")?,
            windows: part(streams.rows, "windows")?,
            events: part(streams.rows, "events")?,
            prefix: key_cells(scenario, job),
            names: Names::new(&scenario.points[job.point].config),
            error: None,
        })
    }

    /// Write the tables of `streams` in `dir` from the part files of `jobs`, in job order, then
    /// delete the parts.
    pub fn join(
        dir: &Path,
        scenario: &Scenario,
        jobs: &[Job],
        streams: Streams,
    ) -> Result<(), OutputError> {
        let tables = [
            (streams.requests, "requests", REQUEST_COLUMNS),
            (streams.rows, "windows", WINDOW_COLUMNS),
            (streams.rows, "events", EVENT_COLUMNS),
        ];
        for (_, table, columns) in tables.into_iter().filter(|t| t.0) {
            join_table(dir, scenario, jobs, table, columns)?;
        }
        Ok(())
    }

    /// Flush; returns the first error met while writing.
    pub fn finish(mut self) -> Result<(), OutputError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for Part { mut w, path } in [self.requests, self.windows, self.events]
            .into_iter()
            .flatten()
        {
            flush(&mut w, &path)?;
        }
        Ok(())
    }

    /// Write `rec` to `part`, keeping the first error.
    fn write(part: &mut Option<Part>, error: &mut Option<OutputError>, rec: Vec<String>) {
        if error.is_some() {
            return;
        }
        if let Some(p) = part
            && let Err(e) = p.w.write_record(&rec)
        {
            *error = Some(csv_err(&p.path, e));
        }
    }
}

fn join_table(
    dir: &Path,
    scenario: &Scenario,
    jobs: &[Job],
    table: &str,
    columns: &[&str],
) -> Result<(), OutputError> {
    let path = dir.join(format!("{table}.csv"));
    let io = |e: std::io::Error, p: &Path| OutputError {
        path: p.to_path_buf(),
        what: "cannot write".into(),
        source: e,
    };
    let mut out = BufWriter::new(File::create(&path).map_err(|e| io(e, &path))?);
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let header = key_header(scenario)
            .into_iter()
            .chain(columns.iter().map(|c| c.to_string()));
        w.write_record(header).map_err(|e| csv_err(&path, e))?;
        w.flush().map_err(|e| io(e, &path))?;
    }
    for job in jobs {
        let part = part_path(dir, table, job);
        let mut f = File::open(&part).map_err(|e| io(e, &part))?;
        std::io::copy(&mut f, &mut out).map_err(|e| io(e, &path))?;
        drop(f);
        std::fs::remove_file(&part).map_err(|e| io(e, &part))?;
    }
    out.flush().map_err(|e| io(e, &path))
}

impl RequestObserver for JobCsv {
    fn on_request(&mut self, r: &RequestRecord) {
        if self.error.is_some() || self.requests.is_none() {
            return;
        }
        let app = &self.names.apps[r.app];
        let process = &self.names.processes[r.app][r.process][0];
        let ms = |ns: u64| fmt_f64(ns as f64 * 1e-6, 4);
        let mut rec: Vec<String> = self.prefix.clone();
        rec.extend([
            r.id.to_string(),
            r.parent.map(|p| p.to_string()).unwrap_or_default(),
            app.clone(),
            process.clone(),
        ]);
        rec.extend(dyno_cells(process, r.dyno, r.incarnation));
        rec.extend([
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
        Self::write(&mut self.requests, &mut self.error, rec);
    }

    fn wants_requests(&self) -> bool {
        self.requests.is_some()
    }

    fn on_window(&mut self, row: WindowRow) -> Option<WindowRow> {
        if self.windows.is_none() {
            return Some(row);
        }
        let rec = window_record(&self.prefix, &self.names, &row);
        Self::write(&mut self.windows, &mut self.error, rec);
        None
    }

    fn on_lifecycle(&mut self, event: LifecycleEvent) -> Option<LifecycleEvent> {
        if self.events.is_none() {
            return Some(event);
        }
        let rec = event_record(&self.prefix, &self.names, &event);
        Self::write(&mut self.events, &mut self.error, rec);
        None
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
