//! The CSV writers: every table of an output folder, its header and rows from the column
//! definitions in [`super::columns`] (docs/csv.md describes every column).
//!
//! summary.csv, endpoints.csv, dynos.csv and instances.csv are written from finished jobs, in job order
//! ([`Tables`]). windows.csv, events.csv and requests.csv are streamed while the jobs run, each
//! job to a part file of its own ([`JobCsv`]), and joined in job order afterwards, so memory does
//! not grow with a run's length and the bytes do not depend on the thread count. tiers.csv pools
//! [`TierPart`]s, which a shard saves so that `dynosim merge` pools exactly as a single run does.

use super::atomic::OutputError;
use super::columns::{
    self, Column, DYNOS, ENDPOINTS, EVENTS, INSTANCES, KEY_AFTER_SWEEP, KEY_BEFORE_SWEEP, Names,
    REQUESTS, SUMMARY, TIERS, TierRow, WINDOWS,
};
use super::folder::Table;
use crate::model::{JobResult, LifecycleEvent, RequestObserver, RequestRecord, WindowRow, cov};
use crate::scenario::{Job, Scenario};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

type Csv = csv::Writer<BufWriter<File>>;

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

fn flush(w: &mut Csv, path: &Path) -> Result<(), OutputError> {
    w.flush().map_err(|e| OutputError {
        path: path.to_path_buf(),
        what: "cannot write".into(),
        source: e,
    })
}

/// The rows a finished job contributes.
pub struct JobRows<'a> {
    pub scenario: &'a Scenario,
    pub job: &'a Job,
    pub result: &'a JobResult,
}

/// The header of a per-job table: the key columns (scenario, point, sweep keys, replication),
/// then the table's own.
fn header<C, R>(s: &Scenario, columns: &[Column<C, R>]) -> Vec<String> {
    KEY_BEFORE_SWEEP
        .iter()
        .map(|k| k.to_string())
        .chain(s.sweep_keys.iter().cloned())
        .chain(KEY_AFTER_SWEEP.iter().map(|k| k.to_string()))
        .chain(columns::names(columns).map(str::to_string))
        .collect()
}

/// The key cells of a job's rows.
fn key_cells(s: &Scenario, job: &Job) -> Vec<String> {
    let mut c = vec![s.name.clone(), job.point.to_string()];
    c.extend(s.points[job.point].values.iter().cloned());
    c.push(job.replication.to_string());
    c
}

/// One open table: its writer and its path (for errors).
struct Open {
    w: Csv,
    path: PathBuf,
}

impl Open {
    fn with_header<C, R>(
        dir: &Path,
        table: Table,
        s: &Scenario,
        columns: &[Column<C, R>],
    ) -> Result<Open, OutputError> {
        let (mut w, path) = create(dir.join(table.file()))?;
        w.write_record(header(s, columns))
            .map_err(|e| csv_err(&path, e))?;
        Ok(Open { w, path })
    }

    fn rows<'r, C, R: 'r>(
        &mut self,
        columns: &[Column<C, R>],
        keys: &[String],
        ctx: &C,
        rows: impl IntoIterator<Item = &'r R>,
    ) -> Result<(), OutputError> {
        for row in rows {
            self.w
                .write_record(columns::record(columns, keys, ctx, row))
                .map_err(|e| csv_err(&self.path, e))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), OutputError> {
        flush(&mut self.w, &self.path)
    }
}

/// summary.csv, dynos.csv and instances.csv of one output folder, in job order, and
/// windows.csv and events.csv when the jobs' rows were collected in memory (without, they are
/// streamed by [`JobCsv`] and joined).
pub struct Tables {
    summary: Open,
    /// Always written, header only when no workload has endpoints, so every output folder
    /// (and every shard) has the same files.
    endpoints: Open,
    dynos: Open,
    instances: Open,
    windows: Option<Open>,
    events: Option<Open>,
}

impl Tables {
    /// Create all five files with their headers in `dir`, for results whose windows and events
    /// were collected in memory.
    pub fn create(dir: &Path, scenario: &Scenario) -> Result<Tables, OutputError> {
        let mut t = Tables::create_streamed(dir, scenario)?;
        t.windows = Some(Open::with_header(dir, Table::Windows, scenario, WINDOWS)?);
        t.events = Some(Open::with_header(dir, Table::Events, scenario, EVENTS)?);
        Ok(t)
    }

    /// Create summary.csv, dynos.csv and instances.csv only: windows.csv and events.csv come
    /// from [`JobCsv`] parts.
    pub fn create_streamed(dir: &Path, scenario: &Scenario) -> Result<Tables, OutputError> {
        Ok(Tables {
            summary: Open::with_header(dir, Table::Summary, scenario, SUMMARY)?,
            endpoints: Open::with_header(dir, Table::Endpoints, scenario, ENDPOINTS)?,
            dynos: Open::with_header(dir, Table::Dynos, scenario, DYNOS)?,
            instances: Open::with_header(dir, Table::Instances, scenario, INSTANCES)?,
            windows: None,
            events: None,
        })
    }

    /// Append one job's rows.
    pub fn write(&mut self, rows: &JobRows<'_>) -> Result<(), OutputError> {
        let keys = key_cells(rows.scenario, rows.job);
        let r = rows.result;
        self.summary.rows(SUMMARY, &keys, rows.job, &r.processes)?;
        self.endpoints
            .rows(ENDPOINTS, &keys, rows.job, &r.endpoints)?;
        let names = || Names::new(&rows.scenario.points[rows.job.point].config);
        if let Some(w) = &mut self.windows {
            w.rows(WINDOWS, &keys, &names(), &r.windows)?;
        }
        self.dynos.rows(DYNOS, &keys, &(), &r.dynos)?;
        self.instances.rows(INSTANCES, &keys, &(), &r.instances)?;
        if let Some(w) = &mut self.events {
            w.rows(EVENTS, &keys, &names(), &r.lifecycle)?;
        }
        Ok(())
    }

    /// Flush all files to disk.
    pub fn finish(self) -> Result<(), OutputError> {
        for t in [
            Some(self.summary),
            Some(self.endpoints),
            Some(self.dynos),
            Some(self.instances),
        ]
        .into_iter()
        .chain([self.windows, self.events])
        .flatten()
        {
            t.finish()?;
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
    /// Monthly list price of the process's dynos.
    pub cost_usd_month: f64,
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
            cost_usd_month: p.cost_usd_month,
            histogram: p.histogram.0.clone(),
            window_p50_ms: p.window_p50_ms.clone(),
            window_p99_ms: p.window_p99_ms.clone(),
        })
        .collect()
}

/// tiers.csv: per sweep point x tier x size, over replications and processes: each
/// replication's latency quantiles from its processes' merged histograms, the formation's
/// quantile the mean of those with its t interval ([`crate::stats::Interval`], the definition
/// `dynosim plan` and the plots use too), and the mean and coefficient of variation of the
/// per-window p50 and p99 across all windows of all replications.
pub fn write_tiers(
    dir: &Path,
    scenario: &Scenario,
    jobs: &[(Job, JobResult)],
) -> Result<(), OutputError> {
    let parts: Vec<TierPart> = jobs.iter().flat_map(|(j, r)| tier_parts(j, r)).collect();
    write_tier_parts(dir, &scenario.name, &parts)
}

/// The confidence of tiers.csv's intervals.
pub const TIERS_CONFIDENCE: f64 = 0.95;

/// One replication of one tier x size at one point: its processes pooled.
struct Replication {
    hist: hdrhistogram::Histogram<u64>,
    completed: u64,
    cost_usd_month: f64,
}

impl Replication {
    /// Quantile `q` (ms), NaN when nothing completed.
    fn quantile_ms(&self, q: f64) -> f64 {
        if self.completed == 0 {
            f64::NAN
        } else {
            crate::stats::hist_quantile_ms(&self.hist, self.hist.max(), q)
        }
    }
}

/// tiers.csv from parts given in job order (see [`write_tiers`]).
pub fn write_tier_parts(
    dir: &Path,
    scenario_name: &str,
    parts: &[TierPart],
) -> Result<(), OutputError> {
    use crate::stats::Interval;
    use std::collections::BTreeMap;
    let (w, path) = create(dir.join(Table::Tiers.file()))?;
    let mut out = Open { w, path };
    out.w
        .write_record(columns::names(TIERS))
        .map_err(|e| csv_err(&out.path, e))?;
    #[derive(Default)]
    struct Acc {
        reps: BTreeMap<u32, Replication>,
        requests: u64,
        completed: u64,
        errors: u64,
        p50: Vec<f64>,
        p99: Vec<f64>,
    }
    // Keyed by (point, tier, size) so rows come out in a stable order.
    let mut groups: BTreeMap<(usize, crate::model::Tier, String), Acc> = BTreeMap::new();
    for p in parts {
        let acc = groups.entry((p.point, p.tier, p.size.clone())).or_default();
        match acc.reps.entry(p.replication) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(Replication {
                    hist: p.histogram.clone(),
                    completed: p.completed,
                    cost_usd_month: p.cost_usd_month,
                });
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let r = e.get_mut();
                // Same precision and auto-resize on both sides, so adding cannot fail.
                let _ = r.hist.add(&p.histogram);
                r.completed += p.completed;
                r.cost_usd_month += p.cost_usd_month;
            }
        }
        acc.requests += p.requests;
        acc.completed += p.completed;
        acc.errors += p.errors;
        acc.p50.extend_from_slice(&p.window_p50_ms);
        acc.p99.extend_from_slice(&p.window_p99_ms);
    }
    let rows = groups.into_iter().map(|((point, tier, size), a)| {
        // A replication that completed nothing has no latency: it is left out of the means
        // (`completed` says so), as summary.csv leaves its cells empty.
        let estimate = |q: f64| {
            let v: Vec<f64> = a
                .reps
                .values()
                .map(|r| r.quantile_ms(q))
                .filter(|v| v.is_finite())
                .collect();
            Interval::of(&v, TIERS_CONFIDENCE)
        };
        let [p50, p90, p95, p99] = [0.5, 0.9, 0.95, 0.99].map(estimate);
        let bounds = |i: Interval| {
            if i.n >= 2 {
                (i.low, i.high)
            } else {
                (f64::NAN, f64::NAN)
            }
        };
        let costs: Vec<f64> = a.reps.values().map(|r| r.cost_usd_month).collect();
        TierRow {
            point,
            tier,
            size,
            replications: a.reps.len(),
            requests: a.requests,
            completed: a.completed,
            errors: a.errors,
            q: [p50.mean, p90.mean, p95.mean, p99.mean],
            ci: [bounds(p50), bounds(p95), bounds(p99)],
            cost_usd_month: crate::stats::mean(costs),
            windows: a.p50.len(),
            window_p50_mean_ms: crate::stats::mean(a.p50.iter().copied()),
            window_p50_cov: cov(a.p50.iter().copied()),
            window_p99_mean_ms: crate::stats::mean(a.p99.iter().copied()),
            window_p99_cov: cov(a.p99.iter().copied()),
        }
    });
    let rows: Vec<TierRow> = rows.collect();
    out.rows(TIERS, &[], &scenario_name.to_string(), &rows)?;
    out.finish()
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

fn part_path(dir: &Path, table: Table, job: &Job) -> PathBuf {
    let stem = table.file().trim_end_matches(".csv");
    dir.join(format!(".{stem}.part-{:08}.csv", job.index))
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
        let part = |on: bool, table: Table| -> Result<Option<Part>, OutputError> {
            if !on {
                return Ok(None);
            }
            let (w, path) = create(part_path(dir, table, job))?;
            Ok(Some(Part { w, path }))
        };
        Ok(JobCsv {
            requests: part(streams.requests, Table::Requests)?,
            windows: part(streams.rows, Table::Windows)?,
            events: part(streams.rows, Table::Events)?,
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
        if streams.requests {
            join_table(dir, jobs, Table::Requests, header(scenario, REQUESTS))?;
        }
        if streams.rows {
            join_table(dir, jobs, Table::Windows, header(scenario, WINDOWS))?;
            join_table(dir, jobs, Table::Events, header(scenario, EVENTS))?;
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

    /// Write one row to `part`, keeping the first error.
    fn write<R>(
        &mut self,
        which: fn(&mut JobCsv) -> &mut Option<Part>,
        columns: &[Column<Names, R>],
        row: &R,
    ) {
        if self.error.is_some() {
            return;
        }
        let rec = columns::record(columns, &self.prefix, &self.names, row);
        if let Some(p) = which(self)
            && let Err(e) = p.w.write_record(&rec)
        {
            let e = csv_err(&p.path, e);
            self.error = Some(e);
        }
    }
}

fn join_table(
    dir: &Path,
    jobs: &[Job],
    table: Table,
    header: Vec<String>,
) -> Result<(), OutputError> {
    let path = dir.join(table.file());
    let io = |e: std::io::Error, p: &Path| OutputError {
        path: p.to_path_buf(),
        what: "cannot write".into(),
        source: e,
    };
    let mut out = BufWriter::new(File::create(&path).map_err(|e| io(e, &path))?);
    {
        let mut w = csv::Writer::from_writer(&mut out);
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
        if self.requests.is_some() {
            self.write(|j| &mut j.requests, REQUESTS, r);
        }
    }

    fn wants_requests(&self) -> bool {
        self.requests.is_some()
    }

    fn on_window(&mut self, row: WindowRow) -> Option<WindowRow> {
        if self.windows.is_none() {
            return Some(row);
        }
        self.write(|j| &mut j.windows, WINDOWS, &row);
        None
    }

    fn on_lifecycle(&mut self, event: LifecycleEvent) -> Option<LifecycleEvent> {
        if self.events.is_none() {
            return Some(event);
        }
        self.write(|j| &mut j.events, EVENTS, &event);
        None
    }
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
