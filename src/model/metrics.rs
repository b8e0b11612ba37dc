//! Counters and streaming latency statistics, and the result types a job returns.
//!
//! Quantiles come from HdrHistograms (3 significant digits for whole-run figures, 2 per time
//! window, i.e. at most 0.1% and 1% relative error), so memory does not grow with request count.

use super::catalog::Tier;
use hdrhistogram::Histogram;

/// How a request ended, with Heroku's router error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A response reached the client.
    Ok,
    /// H10: no dyno of the process is up or starting (all crashed or backing off).
    H10,
    /// H11: every dyno is at the router's active limit and the router's backlog is full.
    H11,
    /// H12: no response within the request timeout (30 s); the dyno keeps working on it.
    H12,
    /// H13: the dyno died (crash, kill, R15) while it held the request.
    H13,
    /// H14: the process has no dynos running, so the router answers at once.
    H14,
    /// H20: the router held the request while dynos booted or woke, and gave up.
    H20,
    /// A downstream call failed, so the request failed (the app answers 5xx).
    Downstream,
    /// Refused at a space's ingress: the client is outside the trusted IP ranges.
    Refused,
}

impl Status {
    /// Error codes in column order (`errors_h10`, ...).
    pub const ERRORS: [Status; 8] = [
        Status::H10,
        Status::H11,
        Status::H12,
        Status::H13,
        Status::H14,
        Status::H20,
        Status::Downstream,
        Status::Refused,
    ];

    /// Index in [`Status::ERRORS`].
    pub fn error_index(self) -> Option<usize> {
        Status::ERRORS.iter().position(|s| *s == self)
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::H10 => "H10",
            Status::H11 => "H11",
            Status::Downstream => "downstream",
            Status::Refused => "refused",
            Status::H12 => "H12",
            Status::H13 => "H13",
            Status::H14 => "H14",
            Status::H20 => "H20",
        }
    }
}

/// Where a completed request's time went, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Split {
    /// Time in the router: backlog, hold for booting dynos, connection set-up.
    pub router_ns: u64,
    pub network_ns: u64,
    pub queue_ns: u64,
    pub cpu_ns: u64,
    pub wait_ns: u64,
    /// Time waiting for downstream calls.
    pub downstream_ns: u64,
}

/// One counted request, as handed to a [`RequestObserver`](super::RequestObserver).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Request number in arrival order within the job (0-based, all requests including warmup).
    pub id: u64,
    pub app: usize,
    pub process: usize,
    /// 1-based dyno index within the process (`web.<dyno>`), 0 if no dyno took it.
    pub dyno: u32,
    /// Which start of that dyno served it (0 = the first).
    pub incarnation: u32,
    pub arrival_ns: u64,
    /// When the dyno started working on it (0 if it never did).
    pub service_start_ns: u64,
    /// Time the client got its answer (response or error), minus arrival.
    pub latency_ns: u64,
    pub status: Status,
    /// Present for completed requests.
    pub split: Option<Split>,
    /// For a call: the id of the request that made it.
    pub parent: Option<u64>,
}

/// Record into an auto-resizing histogram. Resizing only fails for values near u64::MAX, which a
/// nanosecond latency cannot reach; saturate rather than panic if it ever did.
#[inline]
fn record<T: hdrhistogram::Counter>(h: &mut Histogram<T>, ns: u64) {
    let v = ns.max(1);
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// Latency statistics of a set of completed requests.
#[derive(Debug, Clone)]
pub(crate) struct LatencyStats {
    hist: Histogram<u64>,
    pub count: u64,
    sum_ns: f64,
    max_ns: u64,
    split_sum: [f64; 6],
}

impl LatencyStats {
    pub fn new() -> LatencyStats {
        LatencyStats {
            // Auto-resizing: memory follows the largest value recorded, not the count.
            hist: Histogram::new(3).expect("3 significant digits is a valid precision"),
            count: 0,
            sum_ns: 0.0,
            max_ns: 0,
            split_sum: [0.0; 6],
        }
    }

    #[inline]
    pub fn record(&mut self, latency_ns: u64, split: &Split) {
        record(&mut self.hist, latency_ns);
        self.count += 1;
        self.sum_ns += latency_ns as f64;
        self.max_ns = self.max_ns.max(latency_ns);
        self.split_sum[0] += split.network_ns as f64;
        self.split_sum[1] += split.queue_ns as f64;
        self.split_sum[2] += split.cpu_ns as f64;
        self.split_sum[3] += split.wait_ns as f64;
        self.split_sum[4] += split.router_ns as f64;
        self.split_sum[5] += split.downstream_ns as f64;
    }

    fn mean_ms(&self, sum: f64) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            sum / self.count as f64 * 1e-6
        }
    }

    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            // The histogram reports a bucket's upper edge; never above the exact maximum.
            self.hist.value_at_quantile(q).min(self.max_ns) as f64 * 1e-6
        }
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            mean_ms: self.mean_ms(self.sum_ns),
            p50_ms: self.quantile_ms(0.50),
            p90_ms: self.quantile_ms(0.90),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
            p999_ms: self.quantile_ms(0.999),
            max_ms: if self.count == 0 {
                f64::NAN
            } else {
                self.max_ns as f64 * 1e-6
            },
            network_ms: self.mean_ms(self.split_sum[0]),
            queue_ms: self.mean_ms(self.split_sum[1]),
            cpu_ms: self.mean_ms(self.split_sum[2]),
            wait_ms: self.mean_ms(self.split_sum[3]),
            router_ms: self.mean_ms(self.split_sum[4]),
            downstream_ms: self.mean_ms(self.split_sum[5]),
        }
    }
}

/// Latency figures of completed requests (NaN when there are none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    /// Mean of each part of the latency split.
    pub network_ms: f64,
    pub queue_ms: f64,
    pub cpu_ms: f64,
    pub wait_ms: f64,
    pub router_ms: f64,
    pub downstream_ms: f64,
}

/// A latency histogram in nanoseconds. Its `Debug` shows a summary, not every bucket.
#[derive(Clone, PartialEq)]
pub struct LatencyHistogram(pub Histogram<u64>);

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let h = &self.0;
        write!(
            f,
            "LatencyHistogram {{ count: {}, min: {}, p50: {}, p99: {}, max: {} }}",
            h.len(),
            h.min(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.max()
        )
    }
}

/// Per-window accumulator (requests binned by arrival time).
#[derive(Debug, Clone, Default)]
pub(crate) struct WindowAcc {
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    sum_ns: f64,
    max_ns: u64,
    /// Boxed and created on first use: a window without completions costs one pointer.
    hist: Option<Box<Histogram<u32>>>,
}

impl WindowAcc {
    #[inline]
    pub fn record(&mut self, latency_ns: u64) {
        self.completed += 1;
        self.sum_ns += latency_ns as f64;
        self.max_ns = self.max_ns.max(latency_ns);
        let h = self.hist.get_or_insert_with(|| {
            Box::new(Histogram::new(2).expect("2 significant digits is a valid precision"))
        });
        record(h, latency_ns);
    }

    fn quantiles(&self) -> [f64; 3] {
        let q = |p: f64| match &self.hist {
            Some(h) if self.completed > 0 => h.value_at_quantile(p).min(self.max_ns) as f64 * 1e-6,
            _ => f64::NAN,
        };
        [q(0.5), q(0.9), q(0.99)]
    }

    pub fn row(
        &self,
        app: usize,
        process: usize,
        start_s: f64,
        in_flight: u64,
        arrival_rate_rps: f64,
    ) -> WindowRow {
        let [p50_ms, p90_ms, p99_ms] = self.quantiles();
        WindowRow {
            arrival_rate_rps,
            app,
            process,
            window_start_s: start_s,
            requests: self.requests,
            completed: self.completed,
            errors: self.errors,
            in_flight,
            mean_ms: if self.completed > 0 {
                self.sum_ns / self.completed as f64 * 1e-6
            } else {
                f64::NAN
            },
            p50_ms,
            p90_ms,
            p99_ms,
        }
    }
}

/// The time windows of one process. Only windows that outcomes can still reach are kept: a
/// window is taken out (and written) once it closes, so memory does not grow with the length
/// of the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Windows {
    /// Index of `open[0]` among the run's windows.
    base: usize,
    open: std::collections::VecDeque<WindowAcc>,
}

impl Windows {
    /// Window `w`, created on first use; `None` once it has been taken out (a very late
    /// outcome: the process totals count it, the window row does not).
    #[inline]
    pub fn get_mut(&mut self, w: usize) -> Option<&mut WindowAcc> {
        let k = w.checked_sub(self.base)?;
        if k >= self.open.len() {
            self.open.resize_with(k + 1, WindowAcc::default);
        }
        self.open.get_mut(k)
    }

    /// Take out the oldest window (empty if nothing reached it).
    pub fn take_front(&mut self) -> WindowAcc {
        self.base += 1;
        self.open.pop_front().unwrap_or_default()
    }
}

/// One row of the time series: requests that arrived in `[window_start_s, + window)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    pub app: usize,
    pub process: usize,
    pub window_start_s: f64,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    pub in_flight: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// External arrivals offered to the process in the window, per second: the arrival
    /// process's expected count over the window (its rate integrated; an MMPP's along its path;
    /// a trace's rows) over the window's length within the run. 0 for a process no workload
    /// targets.
    pub arrival_rate_rps: f64,
}

/// Results for one endpoint (request class) of one app's workload, on the process receiving it
/// (endpoints.csv). Counts and latency are those of summary.csv, for this endpoint's requests.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointResult {
    pub app_index: usize,
    pub process_index: usize,
    pub app: String,
    pub process: String,
    pub endpoint: String,
    /// Its share of the workload's requests, as configured (weights normalised).
    pub share: f64,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    pub errors_by_code: [u64; 8],
    pub in_flight: u64,
    pub latency: LatencySummary,
    pub throughput_rps: f64,
}

/// Results for one process type of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessResult {
    /// Index of the app in the scenario and of the process within its app.
    pub app_index: usize,
    pub process_index: usize,
    pub app: String,
    pub process: String,
    pub size: String,
    pub tier: Tier,
    pub dynos: u32,
    pub concurrency: u32,
    /// Requests that arrived after the warmup.
    pub requests: u64,
    pub completed: u64,
    /// All errors; `errors_by_code` breaks them down in [`Status::ERRORS`] order.
    pub errors: u64,
    pub errors_by_code: [u64; 8],
    /// Counted requests whose outcome was still open when the run ended (found by scanning the
    /// live requests, independently of the other counters).
    pub in_flight: u64,
    pub latency: LatencySummary,
    /// The latency histogram (ns), for pooling across replications.
    pub histogram: LatencyHistogram,
    /// Completed requests per second of counted time (duration minus warmup).
    pub throughput_rps: f64,
    /// Mean fraction of the process's cores busy over the whole run.
    pub cpu_utilization: f64,
    /// CPU time received by all its dynos, in core-seconds.
    pub cpu_s: f64,
    /// Time its dynos spent throttled by CFS quota, summed over dynos.
    pub throttled_s: f64,
    /// Coefficient of variation (std / mean) of the per-window p50 and p99 over the run's
    /// windows that completed requests (NaN with fewer than 2 such windows).
    pub window_cov_p50: f64,
    pub window_cov_p99: f64,
    /// p50 and p99 (ms) of those windows, in time order: tiers.csv pools them across jobs.
    pub window_p50_ms: Vec<f64>,
    pub window_p99_ms: Vec<f64>,
    /// Monthly list price of the formation.
    pub cost_usd_month: f64,
    /// Restarts of its dynos (all causes), files and bytes lost with them.
    pub restarts: u64,
    pub files_lost: u64,
    pub bytes_lost: u64,
    /// Local cache hits / (hits + misses); NaN without a cache.
    pub cache_hit_ratio: f64,
    /// Total extra wait from cache misses, seconds.
    pub cold_penalty_s: f64,
    /// Sticky reads, and those that missed because the file was on another dyno or lost in a
    /// restart of this one.
    pub sticky_reads: u64,
    pub sticky_miss_other_dyno: u64,
    pub sticky_miss_restart: u64,
}

impl ProcessResult {
    pub fn errors_h(&self, code: Status) -> u64 {
        code.error_index().map_or(0, |i| self.errors_by_code[i])
    }
}

/// Counters for one dyno.
#[derive(Debug, Clone, PartialEq)]
pub struct DynoResult {
    pub app: String,
    pub process: String,
    /// Platform name, e.g. `web.1`.
    pub dyno: String,
    pub size: String,
    pub tier: Tier,
    /// Times the dyno restarted, in total and by cause.
    pub restarts: u64,
    pub restarts_cycle: u64,
    pub restarts_deploy: u64,
    pub restarts_crash: u64,
    pub restarts_r10: u64,
    pub restarts_r15: u64,
    pub sleeps: u64,
    /// Time up (serving), seconds.
    pub uptime_s: f64,
    /// Time above its memory quota (R14), seconds.
    pub r14_s: f64,
    pub bytes_written: u64,
    pub bytes_lost: u64,
    pub files_lost: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cold_penalty_s: f64,
    pub sticky_reads: u64,
    pub sticky_miss_other_dyno: u64,
    pub sticky_miss_restart: u64,
    /// Requests whose work finished on this dyno (including ones the client had given up on).
    pub served: u64,
    /// Busy core-seconds divided by available core-seconds.
    pub cpu_utilization: f64,
    /// Instance the dyno ran on.
    pub instance: String,
    /// CPU time received, core-seconds.
    pub cpu_s: f64,
    /// Time throttled by CFS quota.
    pub throttled_s: f64,
    pub max_backlog: u64,
}

/// What happened to a dyno: the `event` column of events.csv, written as its snake_case name
/// (`boot`, `r10`, ...; docs/csv.md describes each). Parse one back with `str::parse`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum LifecycleKind {
    /// A new incarnation starts booting.
    Boot,
    /// A sleeping eco dyno starts waking for a request.
    Wake,
    /// The incarnation listens on its port.
    Up,
    /// The boot reached the boot timeout.
    R10,
    /// Daily cycling restarts the dyno.
    Cycle,
    /// A deploy reaches a process type (a process-wide event).
    Deploy,
    /// SIGTERM: the incarnation leaves the router and drains.
    Sigterm,
    /// The incarnation stops (its files are gone).
    Stop,
    /// The drain ran out: SIGKILL.
    Kill,
    /// A random or scheduled crash.
    Crash,
    /// The restart after a crash waits.
    Backoff,
    /// Memory above the quota.
    R14,
    /// Memory at the restart threshold.
    R15,
    /// An idle eco dyno goes to sleep.
    Sleep,
}

impl LifecycleKind {
    /// Its name in events.csv.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A lifecycle event of a dyno (see [`LifecycleKind`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    pub time_ns: u64,
    pub app: usize,
    pub process: usize,
    /// 1-based dyno number (0 for process-wide events such as `deploy`).
    pub dyno: u32,
    /// Which start of the dyno (0 = first).
    pub incarnation: u32,
    pub instance: String,
    pub event: LifecycleKind,
    pub detail: String,
}

/// Load statistics of one host instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceResult {
    pub name: String,
    /// `shared` or `dedicated`.
    pub kind: &'static str,
    /// Region for shared pools, empty for dedicated instances.
    pub region: String,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub tenant_memory_mb: u64,
    /// The scenario's dynos on it (`app/web.1`, ...).
    pub dynos: Vec<String>,
    /// Mean and peak fraction of the cores in use (the scenario's dynos plus neighbours).
    pub mean_load: f64,
    pub peak_load: f64,
    /// Peak of all CPU demanded divided by the cores (above 1 means contended).
    pub peak_demand: f64,
    /// Mean fraction of the cores used by neighbours.
    pub mean_neighbour_load: f64,
    /// Time-averaged core speed relative to the reference core.
    pub mean_speed: f64,
}

/// Everything one job produces.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub processes: Vec<ProcessResult>,
    /// Per endpoint of each workload that has endpoints, apps in order.
    pub endpoints: Vec<EndpointResult>,
    pub dynos: Vec<DynoResult>,
    pub windows: Vec<WindowRow>,
    pub instances: Vec<InstanceResult>,
    pub lifecycle: Vec<LifecycleEvent>,
    /// Time per event kind, with `--profile`.
    pub profile: Option<super::platform::Profile>,
    /// Events handled by the engine.
    pub events: u64,
    /// Requests generated (including warmup).
    pub generated: u64,
    /// True if the run was stopped before its end (Ctrl-C).
    pub interrupted: bool,
}

/// Coefficient of variation (population std / mean) of finite values; NaN with fewer than two.
pub fn cov(values: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.len() < 2 {
        return f64::NAN;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if mean == 0.0 {
        return f64::NAN;
    }
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    var.sqrt() / mean
}

#[cfg(test)]
mod tests {
    use super::LifecycleKind;
    use strum::VariantArray;

    /// The names are events.csv's text: each parses back, and each is a row of the table in
    /// docs/csv.md (so a new kind cannot be added without its documentation).
    #[test]
    fn lifecycle_kinds_are_the_documented_names() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/csv.md"))
            .expect("docs/csv.md");
        let names: Vec<&str> = LifecycleKind::VARIANTS.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "boot", "wake", "up", "r10", "cycle", "deploy", "sigterm", "stop", "kill", "crash",
                "backoff", "r14", "r15", "sleep"
            ]
        );
        for &k in LifecycleKind::VARIANTS {
            assert_eq!(k.as_str().parse::<LifecycleKind>(), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
            let row = format!("\n| `{k}` | ");
            assert!(doc.contains(&row), "docs/csv.md has no row for `{k}`");
        }
        assert!("Boot".parse::<LifecycleKind>().is_err());
    }
}
