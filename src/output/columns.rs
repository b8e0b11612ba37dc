//! The columns of every CSV table, each defined once: its name and how its cell is written.
//!
//! A table is a list of [`Column`]s; the writers ([`super::tables`]) write the header from the
//! names and each row by calling the cells in order, so adding a column is one line here (and
//! its row in docs/csv.md, which a test checks). Cells are formatted with fixed decimals
//! ([`fmt_f64`]) so the files are byte-identical across runs. Every per-job table starts with the
//! key columns (scenario, point, sweep keys, replication), written by the writers.

use crate::model::{
    DynoResult, EndpointResult, InstanceResult, LifecycleEvent, ProcessResult, RequestRecord,
    WindowRow,
};
use crate::scenario::Job;

/// A float for a CSV cell: fixed decimals (stable bytes across runs), empty for NaN so that
/// pandas and polars read a missing value.
pub fn fmt_f64(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x:.decimals$}")
    }
}

/// What a column holds, for the formats that store types (Parquet): the one place a column's
/// type is said. An empty CSV cell is a null in any kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number (counts, indices): int64.
    Int,
    /// A whole number that may not fit in int64 (`seed`): uint64.
    UInt,
    /// A float64, written to CSV with this many decimals (so a Parquet value turns back into
    /// the same CSV text).
    Float(u8),
    /// Text (names, labels, the sweep values): utf8.
    Text,
}

const INT: Kind = Kind::Int;
const UINT: Kind = Kind::UInt;
const TEXT: Kind = Kind::Text;

/// One column of a table whose rows come from `R`, with context `C` (the job, the names of the
/// job's apps and processes, ...).
pub(crate) struct Column<C, R> {
    pub name: &'static str,
    pub kind: Kind,
    cell: Cell<C, R>,
}

/// How a column's cell is made: text as it is, or a float formatted with its kind's decimals,
/// so a float column says its decimals once (the CSV text and the Parquet round trip agree).
enum Cell<C, R> {
    Text(fn(&C, &R) -> String),
    Float(fn(&C, &R) -> f64, usize),
}

/// A column of integers or text (`kind` INT, UINT or TEXT).
const fn col<C, R>(name: &'static str, kind: Kind, cell: fn(&C, &R) -> String) -> Column<C, R> {
    Column {
        name,
        kind,
        cell: Cell::Text(cell),
    }
}

/// A float column written with `decimals` decimals (empty for NaN).
const fn float<C, R>(name: &'static str, decimals: u8, cell: fn(&C, &R) -> f64) -> Column<C, R> {
    Column {
        name,
        kind: Kind::Float(decimals),
        cell: Cell::Float(cell, decimals as usize),
    }
}

impl<C, R> Column<C, R> {
    /// The cell of `row`.
    pub fn cell(&self, ctx: &C, row: &R) -> String {
        match self.cell {
            Cell::Text(f) => f(ctx, row),
            Cell::Float(f, d) => fmt_f64(f(ctx, row), d),
        }
    }
}

/// The cells of one row, in column order, after `prefix` (the key cells).
pub(crate) fn record<C, R>(
    columns: &[Column<C, R>],
    prefix: &[String],
    ctx: &C,
    row: &R,
) -> Vec<String> {
    let mut rec = Vec::with_capacity(prefix.len() + columns.len());
    rec.extend_from_slice(prefix);
    rec.extend(columns.iter().map(|c| c.cell(ctx, row)));
    rec
}

/// The names of `columns`.
pub(crate) fn names<C, R>(columns: &[Column<C, R>]) -> impl Iterator<Item = &'static str> + '_ {
    columns.iter().map(|c| c.name)
}

/// The key columns of every table but tiers.csv, around the sweep keys.
pub(crate) const KEY_BEFORE_SWEEP: [&str; 2] = ["scenario", "point"];
pub(crate) const KEY_AFTER_SWEEP: [&str; 1] = ["replication"];

/// A table whose middle is the request counts and latency columns of summary.csv, defined once
/// here for every table that has them (summary.csv, endpoints.csv): `$row` has the fields
/// `requests`, `completed`, `errors`, `errors_by_code`, `in_flight`, `latency` and
/// `throughput_rps`. The table's own columns come before and after.
macro_rules! with_outcomes {
    ($row:ty; [$($head:expr),* $(,)?]; [$($tail:expr),* $(,)?]) => {
        &[
            $($head,)*
            col("requests", INT, |_, p: &$row| p.requests.to_string()),
            col("completed", INT, |_, p: &$row| p.completed.to_string()),
            col("errors", INT, |_, p: &$row| p.errors.to_string()),
            col("errors_h10", INT, |_, p: &$row| p.errors_by_code[0].to_string()),
            col("errors_h11", INT, |_, p: &$row| p.errors_by_code[1].to_string()),
            col("errors_h12", INT, |_, p: &$row| p.errors_by_code[2].to_string()),
            col("errors_h13", INT, |_, p: &$row| p.errors_by_code[3].to_string()),
            col("errors_h14", INT, |_, p: &$row| p.errors_by_code[4].to_string()),
            col("errors_h20", INT, |_, p: &$row| p.errors_by_code[5].to_string()),
            col("errors_downstream", INT, |_, p: &$row| p.errors_by_code[6].to_string()),
            col("errors_refused", INT, |_, p: &$row| p.errors_by_code[7].to_string()),
            col("in_flight", INT, |_, p: &$row| p.in_flight.to_string()),
            float("mean_ms", 4, |_, p: &$row| p.latency.mean_ms),
            float("p50_ms", 4, |_, p: &$row| p.latency.p50_ms),
            float("p90_ms", 4, |_, p: &$row| p.latency.p90_ms),
            float("p95_ms", 4, |_, p: &$row| p.latency.p95_ms),
            float("p99_ms", 4, |_, p: &$row| p.latency.p99_ms),
            float("p999_ms", 4, |_, p: &$row| p.latency.p999_ms),
            float("max_ms", 4, |_, p: &$row| p.latency.max_ms),
            float("mean_router_ms", 4, |_, p: &$row| p.latency.router_ms),
            float("mean_network_ms", 4, |_, p: &$row| p.latency.network_ms),
            float("mean_queue_ms", 4, |_, p: &$row| p.latency.queue_ms),
            float("mean_cpu_ms", 4, |_, p: &$row| p.latency.cpu_ms),
            float("mean_downstream_ms", 4, |_, p: &$row| p.latency.downstream_ms),
            float("mean_wait_ms", 4, |_, p: &$row| p.latency.wait_ms),
            float("throughput_rps", 4, |_, p: &$row| p.throughput_rps),
            $($tail,)*
        ]
    };
}

/// summary.csv: one row per process type of one app in one job.
pub(crate) const SUMMARY: &[Column<Job, ProcessResult>] = with_outcomes!(ProcessResult; [
    col("seed", UINT, |j, _| j.seeds.value().to_string()),
    col("app", TEXT, |_, p| p.app.clone()),
    col("process", TEXT, |_, p| p.process.clone()),
    col("size", TEXT, |_, p| p.size.clone()),
    col("tier", TEXT, |_, p| p.tier.to_string()),
    col("dynos", INT, |_, p| p.dynos.to_string()),
    col("concurrency", INT, |_, p| p.concurrency.to_string()),
]; [
    float("cpu_utilization", 6, |_, p| p.cpu_utilization),
    float("cpu_s", 3, |_, p| p.cpu_s),
    float("throttled_s", 3, |_, p| p.throttled_s),
    float("window_cov_p50", 6, |_, p| p.window_cov_p50),
    float("window_cov_p99", 6, |_, p| p.window_cov_p99),
    float("cost_usd_month", 2, |_, p| p.cost_usd_month),
    col("restarts", INT, |_, p| p.restarts.to_string()),
    col("files_lost", INT, |_, p| p.files_lost.to_string()),
    col("bytes_lost", INT, |_, p| p.bytes_lost.to_string()),
    float("cache_hit_ratio", 6, |_, p| p.cache_hit_ratio),
    float("cold_penalty_s", 3, |_, p| p.cold_penalty_s),
    col("sticky_reads", INT, |_, p| p.sticky_reads.to_string()),
    col("sticky_miss_other_dyno", INT, |_, p| {
        p.sticky_miss_other_dyno.to_string()
    }),
    col("sticky_miss_restart", INT, |_, p| {
        p.sticky_miss_restart.to_string()
    }),
]);

/// endpoints.csv: one row per endpoint of one app's workload in one job (on the process that
/// receives the workload), with summary.csv's counts and latency columns.
pub(crate) const ENDPOINTS: &[Column<Job, EndpointResult>] = with_outcomes!(EndpointResult; [
    col("seed", UINT, |j, _| j.seeds.value().to_string()),
    col("app", TEXT, |_, e| e.app.clone()),
    col("process", TEXT, |_, e| e.process.clone()),
    col("endpoint", TEXT, |_, e| e.endpoint.clone()),
    float("share", 9, |_, e| e.share),
]; []);

/// dynos.csv: one row per dyno in one job.
pub(crate) const DYNOS: &[Column<(), DynoResult>] = &[
    col("app", TEXT, |_, d| d.app.clone()),
    col("process", TEXT, |_, d| d.process.clone()),
    col("dyno", TEXT, |_, d| d.dyno.clone()),
    col("size", TEXT, |_, d| d.size.clone()),
    col("tier", TEXT, |_, d| d.tier.to_string()),
    col("instance", TEXT, |_, d| d.instance.clone()),
    col("restarts", INT, |_, d| d.restarts.to_string()),
    col("restarts_cycle", INT, |_, d| d.restarts_cycle.to_string()),
    col("restarts_deploy", INT, |_, d| d.restarts_deploy.to_string()),
    col("restarts_crash", INT, |_, d| d.restarts_crash.to_string()),
    col("restarts_r10", INT, |_, d| d.restarts_r10.to_string()),
    col("restarts_r15", INT, |_, d| d.restarts_r15.to_string()),
    col("sleeps", INT, |_, d| d.sleeps.to_string()),
    float("uptime_s", 3, |_, d| d.uptime_s),
    float("r14_s", 3, |_, d| d.r14_s),
    col("served", INT, |_, d| d.served.to_string()),
    float("cpu_utilization", 6, |_, d| d.cpu_utilization),
    float("cpu_s", 3, |_, d| d.cpu_s),
    float("throttled_s", 3, |_, d| d.throttled_s),
    col("max_backlog", INT, |_, d| d.max_backlog.to_string()),
    col("bytes_written", INT, |_, d| d.bytes_written.to_string()),
    col("bytes_lost", INT, |_, d| d.bytes_lost.to_string()),
    col("files_lost", INT, |_, d| d.files_lost.to_string()),
    col("cache_hits", INT, |_, d| d.cache_hits.to_string()),
    col("cache_misses", INT, |_, d| d.cache_misses.to_string()),
    float("cache_hit_ratio", 6, |_, d| {
        let total = d.cache_hits + d.cache_misses;
        if total == 0 {
            f64::NAN
        } else {
            d.cache_hits as f64 / total as f64
        }
    }),
    float("cold_penalty_s", 3, |_, d| d.cold_penalty_s),
    col("sticky_reads", INT, |_, d| d.sticky_reads.to_string()),
    col("sticky_miss_other_dyno", INT, |_, d| {
        d.sticky_miss_other_dyno.to_string()
    }),
    col("sticky_miss_restart", INT, |_, d| {
        d.sticky_miss_restart.to_string()
    }),
];

/// instances.csv: one row per instance (host) of one job.
pub(crate) const INSTANCES: &[Column<(), InstanceResult>] = &[
    col("instance", TEXT, |_, i| i.name.clone()),
    col("kind", TEXT, |_, i| i.kind.to_string()),
    col("region", TEXT, |_, i| i.region.clone()),
    col("vcpus", INT, |_, i| i.vcpus.to_string()),
    col("memory_mb", INT, |_, i| i.memory_mb.to_string()),
    col("tenant_memory_mb", INT, |_, i| {
        i.tenant_memory_mb.to_string()
    }),
    col("dynos", TEXT, |_, i| i.dynos.join(" ")),
    float("mean_load", 6, |_, i| i.mean_load),
    float("peak_load", 6, |_, i| i.peak_load),
    float("peak_demand", 6, |_, i| i.peak_demand),
    float("mean_neighbour_load", 6, |_, i| i.mean_neighbour_load),
    float("mean_speed", 6, |_, i| i.mean_speed),
];

/// Names of a job's apps and process types, and each process type's size and tier, by index
/// (rows that the model reports by index: windows, events, requests).
pub(crate) struct Names {
    apps: Vec<String>,
    /// Per app, per process: [name, size, tier].
    processes: Vec<Vec<[String; 3]>>,
}

impl Names {
    pub(crate) fn new(cfg: &crate::model::SimConfig) -> Names {
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

    fn app(&self, app: usize) -> String {
        self.apps[app].clone()
    }

    /// `what`: 0 the process name, 1 its size, 2 its tier.
    fn process(&self, app: usize, process: usize, what: usize) -> String {
        self.processes[app][process][what].clone()
    }

    /// The `dyno` cell: `web.2`, empty for no dyno (0).
    fn dyno(&self, app: usize, process: usize, dyno: u32) -> String {
        if dyno == 0 {
            String::new()
        } else {
            format!("{}.{dyno}", self.processes[app][process][0])
        }
    }
}

/// The `incarnation` cell: empty when there is no dyno (0).
fn incarnation(dyno: u32, incarnation: u32) -> String {
    if dyno == 0 {
        String::new()
    } else {
        incarnation.to_string()
    }
}

/// windows.csv: one row per time window of one process type in one job.
pub(crate) const WINDOWS: &[Column<Names, WindowRow>] = &[
    col("app", TEXT, |n, w| n.app(w.app)),
    col("process", TEXT, |n, w| n.process(w.app, w.process, 0)),
    col("size", TEXT, |n, w| n.process(w.app, w.process, 1)),
    col("tier", TEXT, |n, w| n.process(w.app, w.process, 2)),
    float("window_start_s", 3, |_, w| w.window_start_s),
    col("requests", INT, |_, w| w.requests.to_string()),
    col("completed", INT, |_, w| w.completed.to_string()),
    col("errors", INT, |_, w| w.errors.to_string()),
    col("in_flight", INT, |_, w| w.in_flight.to_string()),
    float("mean_ms", 4, |_, w| w.mean_ms),
    float("p50_ms", 4, |_, w| w.p50_ms),
    float("p90_ms", 4, |_, w| w.p90_ms),
    float("p99_ms", 4, |_, w| w.p99_ms),
    float("arrival_rate_rps", 4, |_, w| w.arrival_rate_rps),
];

/// events.csv: one row per lifecycle event in one job.
pub(crate) const EVENTS: &[Column<Names, LifecycleEvent>] = &[
    float("time_s", 6, |_, e| e.time_ns as f64 * 1e-9),
    col("app", TEXT, |n, e| n.app(e.app)),
    col("process", TEXT, |n, e| n.process(e.app, e.process, 0)),
    col("dyno", TEXT, |n, e| n.dyno(e.app, e.process, e.dyno)),
    col("incarnation", INT, |_, e| {
        incarnation(e.dyno, e.incarnation)
    }),
    col("instance", TEXT, |_, e| e.instance.clone()),
    col("event", TEXT, |_, e| e.event.to_string()),
    col("detail", TEXT, |_, e| e.detail.clone()),
];

/// A part of the latency split in ms, NaN (an empty cell) for a request without one.
fn split_ms(r: &RequestRecord, part: fn(&crate::model::Split) -> u64) -> f64 {
    r.split.as_ref().map_or(f64::NAN, |s| part(s) as f64 * 1e-6)
}

/// requests.csv: one row per counted request that got an outcome (with `--requests`).
pub(crate) const REQUESTS: &[Column<Names, RequestRecord>] = &[
    col("request", INT, |_, r| r.id.to_string()),
    col("parent", INT, |_, r| {
        r.parent.map(|p| p.to_string()).unwrap_or_default()
    }),
    col("app", TEXT, |n, r| n.app(r.app)),
    col("process", TEXT, |n, r| n.process(r.app, r.process, 0)),
    col("dyno", TEXT, |n, r| n.dyno(r.app, r.process, r.dyno)),
    col("incarnation", INT, |_, r| {
        incarnation(r.dyno, r.incarnation)
    }),
    float("arrival_s", 9, |_, r| r.arrival_ns as f64 * 1e-9),
    float("service_start_s", 9, |_, r| {
        if r.service_start_ns == 0 {
            f64::NAN
        } else {
            r.service_start_ns as f64 * 1e-9
        }
    }),
    float("latency_ms", 4, |_, r| r.latency_ns as f64 * 1e-6),
    col("status", TEXT, |_, r| r.status.as_str().to_string()),
    float("router_ms", 4, |_, r| split_ms(r, |s| s.router_ns)),
    float("network_ms", 4, |_, r| split_ms(r, |s| s.network_ns)),
    float("queue_ms", 4, |_, r| split_ms(r, |s| s.queue_ns)),
    float("cpu_ms", 4, |_, r| split_ms(r, |s| s.cpu_ns)),
    float("downstream_ms", 4, |_, r| split_ms(r, |s| s.downstream_ns)),
    float("wait_ms", 4, |_, r| split_ms(r, |s| s.wait_ns)),
];

/// One row of tiers.csv before formatting: a tier x size at one sweep point, pooled.
pub(crate) struct TierRow {
    pub point: usize,
    pub tier: crate::model::Tier,
    pub size: String,
    pub replications: usize,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    /// p50, p90, p95, p99 (ms): each the mean over replications of the replication's quantile
    /// (`stats::Interval`, the one definition).
    pub q: [f64; 4],
    /// 95 % t interval (low, high) of p50, p95, p99 (ms); NaN (empty) below two replications.
    pub ci: [(f64, f64); 3],
    /// Monthly list price of the point's dynos of this tier and size, mean over replications.
    pub cost_usd_month: f64,
    pub windows: usize,
    pub window_p50_mean_ms: f64,
    pub window_p50_cov: f64,
    pub window_p99_mean_ms: f64,
    pub window_p99_cov: f64,
}

/// tiers.csv (context: the scenario name): its own key columns, no sweep keys.
pub(crate) const TIERS: &[Column<String, TierRow>] = &[
    col("scenario", TEXT, |s, _| s.clone()),
    col("point", INT, |_, t| t.point.to_string()),
    col("tier", TEXT, |_, t| t.tier.to_string()),
    col("size", TEXT, |_, t| t.size.clone()),
    col("replications", INT, |_, t| t.replications.to_string()),
    col("requests", INT, |_, t| t.requests.to_string()),
    col("completed", INT, |_, t| t.completed.to_string()),
    col("errors", INT, |_, t| t.errors.to_string()),
    float("p50_ms", 4, |_, t| t.q[0]),
    float("p90_ms", 4, |_, t| t.q[1]),
    float("p95_ms", 4, |_, t| t.q[2]),
    float("p99_ms", 4, |_, t| t.q[3]),
    float("p50_low_ms", 4, |_, t| t.ci[0].0),
    float("p50_high_ms", 4, |_, t| t.ci[0].1),
    float("p95_low_ms", 4, |_, t| t.ci[1].0),
    float("p95_high_ms", 4, |_, t| t.ci[1].1),
    float("p99_low_ms", 4, |_, t| t.ci[2].0),
    float("p99_high_ms", 4, |_, t| t.ci[2].1),
    float("cost_usd_month", 2, |_, t| t.cost_usd_month),
    col("windows", INT, |_, t| t.windows.to_string()),
    float("window_p50_mean_ms", 4, |_, t| t.window_p50_mean_ms),
    float("window_p50_cov", 6, |_, t| t.window_p50_cov),
    float("window_p99_mean_ms", 4, |_, t| t.window_p99_mean_ms),
    float("window_p99_cov", 6, |_, t| t.window_p99_cov),
];

/// Every column of `table`, key columns included (sweep keys left out: they depend on the
/// scenario).
pub fn columns_of(table: super::Table) -> Vec<&'static str> {
    kinds_of(table).into_iter().map(|(name, _)| name).collect()
}

/// Every column of `table` with its kind, key columns included: `scenario` text, `point` and
/// `replication` int. Sweep keys are left out (they depend on the scenario); they are text, as
/// the scenario's sweep values are written.
pub fn kinds_of(table: super::Table) -> Vec<(&'static str, Kind)> {
    use super::Table;
    fn of<C, R>(columns: &[Column<C, R>]) -> Vec<(&'static str, Kind)> {
        columns.iter().map(|c| (c.name, c.kind)).collect()
    }
    let keyed = |cols: Vec<(&'static str, Kind)>| -> Vec<(&'static str, Kind)> {
        [("scenario", TEXT), ("point", INT), ("replication", INT)]
            .into_iter()
            .chain(cols)
            .collect()
    };
    match table {
        Table::Summary => keyed(of(SUMMARY)),
        Table::Endpoints => keyed(of(ENDPOINTS)),
        Table::Windows => keyed(of(WINDOWS)),
        Table::Dynos => keyed(of(DYNOS)),
        Table::Events => keyed(of(EVENTS)),
        Table::Instances => keyed(of(INSTANCES)),
        Table::Requests => keyed(of(REQUESTS)),
        Table::Tiers => of(TIERS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding a column is one line above and its row in docs/csv.md: this keeps the two together.
    #[test]
    fn every_column_is_documented_in_csv_md() {
        let doc = include_str!("../../docs/csv.md");
        for table in super::super::Table::ALL {
            let section = doc
                .split(&format!("\n## {}\n", table.file()))
                .nth(1)
                .unwrap_or_else(|| panic!("docs/csv.md has no section {}", table.file()));
            let section = section.split("\n## ").next().unwrap_or("");
            for c in columns_of(table) {
                let keyed = ["scenario", "point", "replication"].contains(&c);
                let in_keys = keyed && table != super::super::Table::Tiers;
                assert!(
                    in_keys || section.contains(&format!("| `{c}` |")),
                    "docs/csv.md, section {}: column `{c}` is not documented",
                    table.file()
                );
            }
        }
    }

    /// The Parquet types the issue asks for, from the kinds: `seed` uint64, every `_s` (seconds)
    /// and `_ms` column float64, the key columns int64 but `scenario`.
    #[test]
    fn kinds_give_seed_unsigned_and_seconds_and_milliseconds_floats() {
        for table in super::super::Table::ALL {
            for (name, kind) in kinds_of(table) {
                let want = match name {
                    "seed" => Some(Kind::UInt),
                    "point" | "replication" | "requests" | "errors" => Some(Kind::Int),
                    "scenario" | "app" | "process" | "tier" | "size" => Some(Kind::Text),
                    _ => None,
                };
                if let Some(want) = want {
                    assert_eq!(kind, want, "{}: `{name}`", table.file());
                }
                if name.ends_with("_s") || name.ends_with("_ms") {
                    assert!(
                        matches!(kind, Kind::Float(_)),
                        "{}: `{name}` is {kind:?}",
                        table.file()
                    );
                }
            }
        }
    }

    #[test]
    fn column_names_are_unique_snake_case() {
        for table in super::super::Table::ALL {
            let cols = columns_of(table);
            let mut seen = std::collections::BTreeSet::new();
            for c in &cols {
                assert!(seen.insert(*c), "{}: `{c}` twice", table.file());
                assert!(
                    c.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                    "{c}"
                );
            }
        }
    }
}
