//! The platform model: what a Heroku-style platform does with requests and dynos.
//!
//! This module knows nothing of files, formats or the command line: it takes a validated
//! [`SimConfig`] (built by `crate::scenario`), runs it on the engine, and returns a [`JobResult`].
//! Later issues deepen each part (hosts and noise, lifecycle, spaces); the seams are here.

pub mod arrivals;
pub mod catalog;
pub mod cpu;
pub mod dist;
mod dyno;
pub mod formation;
mod host;
pub mod load;
mod metrics;
pub mod noise;
pub mod placement;
mod platform;
mod router;
pub mod workload;

pub use catalog::{Catalog, Generation, Size, Tier};
pub use cpu::{CpuMode, CpuSpec};
pub use dist::Dist;
pub use formation::{
    FormationPolicy, FormationView, ProcessView, RequestSample, ScaleAction, ScaleRecord,
};
pub use load::{OfferedLoad, offered_load};
pub use metrics::{
    DynoResult, EndpointResult, InstanceResult, JobResult, LatencyHistogram, LatencySummary,
    LifecycleEvent, LifecycleKind, ProcessResult, RequestRecord, Split, Status, WindowRow, cov,
};
pub use noise::NoiseSpec;
pub use placement::{
    Instance, InstanceType, Placement, PlacementError, PlacementPolicy, PlacementSpec,
    SharedPoolSpec, place,
};
pub use platform::{
    EVENT_KINDS, NoRequests, Platform, Profile, RequestObserver, placement_stream, router_stream,
    run_job, run_job_formed, run_job_with,
};
pub use workload::{
    ArrivalProcess, Arrivals, CallRoute, CallSpec, DrawnRequest, Endpoint, FileActions, FileRates,
    FilesystemSpec, Plans, RequestSource, Workload,
};

use crate::engine::SimDuration;

/// Memory use of one dyno: `base + per_request x in-flight + growth x uptime + files written`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemorySpec {
    pub base_mb: f64,
    pub per_request_mb: f64,
    pub growth_mb_per_h: f64,
    /// Factor by which the dyno's CPU slows while it swaps (above its quota, R14).
    pub swap_slowdown: f64,
}

impl Default for MemorySpec {
    /// Assumption: a modest steady footprint and no leak unless the scenario says so.
    fn default() -> Self {
        MemorySpec {
            base_mb: 150.0,
            per_request_mb: 0.0,
            growth_mb_per_h: 0.0,
            swap_slowdown: 3.0,
        }
    }
}

/// Dyno lifecycle of one process type.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessLifecycle {
    /// Time from start to listening on $PORT.
    pub boot: Dist,
    /// R10 boot timeout (web processes only: workers need not bind a port).
    pub boot_timeout: Option<SimDuration>,
    /// Mean time between crashes while up (exponential), if the app crashes at all.
    pub crash_mtbf: Option<SimDuration>,
    pub memory: MemorySpec,
}

/// One process type of an app (`web`, `worker`, ...) and its formation.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    pub name: String,
    pub size: Size,
    /// Number of dynos.
    pub count: u32,
    /// Requests one dyno serves at once (web concurrency: `server.processes x server.threads`);
    /// further requests wait in its FIFO queue.
    pub concurrency: u32,
    /// How the app server on each dyno runs those requests: processes, threads, global lock.
    pub server: AppServer,
    /// CPU cap in cores below the size's vCPUs (a CFS quota in `cfs` mode), if any.
    pub cpu_quota: Option<f64>,
    pub lifecycle: ProcessLifecycle,
}

/// The app server on each dyno of a process type: `processes` forked workers (Puma workers,
/// gunicorn workers, `WEB_CONCURRENCY`) of `threads` threads each (`RAILS_MAX_THREADS`), so
/// `processes x threads` requests at once (planner-anchors.md section 4.2 quotes the Dev
/// Center's `RAILS_MAX_THREADS x WEB_CONCURRENCY` rule).
///
/// With `gvl` (the default), the threads of one process share one CPU thread: Ruby's GVL,
/// CPython's GIL or a Node event loop let one request's CPU work run at a time while the
/// others' I/O waits overlap (an assumption about the runtime, not a platform fact; `gvl = false`
/// for the JVM, Go, .NET). Processes run in parallel on the dyno's vCPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppServer {
    pub processes: u32,
    pub threads: u32,
    pub gvl: bool,
}

impl AppServer {
    /// `concurrency = n`: n processes of one thread (no request ever waits for a lock).
    pub fn single_threaded(n: u32) -> AppServer {
        AppServer {
            processes: n,
            threads: 1,
            gvl: true,
        }
    }

    /// Requests one dyno serves at once.
    pub fn concurrency(&self) -> u32 {
        self.processes.saturating_mul(self.threads)
    }

    /// Whether requests of one process take turns for its CPU thread: several threads under a
    /// global lock. Otherwise the dyno is a plain set of `concurrency` slots.
    pub fn serialises_cpu(&self) -> bool {
        self.gvl && self.threads > 1
    }

    /// Requests whose CPU work can run at once on one dyno: one per process under a lock.
    pub fn cpu_threads(&self) -> u32 {
        if self.serialises_cpu() {
            self.processes
        } else {
            self.concurrency()
        }
    }
}

/// A crash the scenario schedules: `process` (index in the app), dyno number (1-based), time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduledCrash {
    pub at: SimDuration,
    pub process: usize,
    pub dyno: u32,
}

/// An app: process types and the workload routed to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub name: String,
    /// Common Runtime region (`us`, `eu`), or the space's region.
    pub region: String,
    /// Index of the space the app runs in; `None` for the Common Runtime.
    pub space: Option<usize>,
    pub router: RouterSpec,
    /// Share of external requests from clients outside the space's trusted IP ranges.
    pub untrusted_share: f64,
    pub processes: Vec<ProcessSpec>,
    pub workload: Option<Workload>,
    /// Deploy times: every dyno restarts (preboot, rolling or all at once).
    pub deploys: Vec<SimDuration>,
    /// Preboot enabled (Standard and Performance web dynos only).
    pub preboot: bool,
    pub crashes: Vec<ScheduledCrash>,
    pub filesystem: Option<FilesystemSpec>,
}

/// Platform-wide lifecycle rules.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleSpec {
    /// Daily cycling: each dyno restarts `cycle_base + U(0, cycle_jitter)` after it started.
    pub cycling: bool,
    pub cycle_base: SimDuration,
    pub cycle_jitter: SimDuration,
    /// SIGTERM grace before SIGKILL.
    pub drain: SimDuration,
    /// How long the router holds a request while dynos boot or wake (H20 beyond).
    pub router_hold: SimDuration,
    /// Eco web dynos sleep after `sleep_after` without traffic.
    pub eco_sleep: bool,
    pub sleep_after: SimDuration,
    /// Time from the first request to a sleeping eco dyno being up.
    pub wake: Dist,
    /// A dyno up this long resets its crash backoff.
    pub backoff_reset: SimDuration,
    /// Waits before restarting after the 1st, 2nd, ... consecutive crash (the last repeats).
    pub backoff: Vec<SimDuration>,
    /// With preboot, old dynos get SIGTERM this long after the deploy.
    pub preboot_window: SimDuration,
}

impl Default for LifecycleSpec {
    /// Heroku's documented rules (heroku-dynos.md section 4); `wake` and `backoff_reset` are
    /// assumptions (no official figure).
    fn default() -> Self {
        let min = |m: u64| SimDuration::from_secs(60 * m);
        LifecycleSpec {
            cycling: true,
            cycle_base: SimDuration::from_secs(86_400),
            cycle_jitter: min(216),
            drain: SimDuration::from_secs(30),
            router_hold: SimDuration::from_secs(75),
            eco_sleep: true,
            sleep_after: min(30),
            wake: Dist::lognormal_from_median_p99(5.0, 15.0),
            backoff_reset: min(10),
            backoff: vec![min(0), min(20), min(40), min(60), min(180), min(320)],
            preboot_window: min(3),
        }
    }
}

/// Network delays by link class, each a round-trip time drawn per request or call; half is spent
/// on the way there and half on the way back.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// External client to the router (0 by default: latency is measured at the router, as
    /// Heroku's own router metrics do).
    pub client_router: Dist,
    /// Common Runtime router to dyno, on the region's flat shared network.
    pub router_dyno: Dist,
    /// A space's router to its dynos, on the space's own network.
    pub space_router_dyno: Dist,
    /// Dyno to dyno inside one space (`<process>.<app>.app.localspace`).
    pub space_dyno_dyno: Dist,
    /// A dyno calling another app through its public router (egress, load balancer).
    pub egress_router: Dist,
}

/// A Private, Shield or Fir space: its own network, routers and dedicated instances.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceSpec {
    pub name: String,
    pub kind: SpaceKind,
    pub region: String,
    /// Trusted IP ranges on the ingress; `None` accepts every client.
    pub trusted_ips: Option<Vec<String>>,
}

/// The kind of a space, as written in `[[space]] kind`: which sizes run in it (the tier of the
/// same name) and whether its dynos find each other by DNS (not in Fir spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpaceKind {
    Private,
    Shield,
    Fir,
}

impl SpaceKind {
    /// The tier of the sizes that run in a space of this kind.
    pub fn tier(self) -> Tier {
        match self {
            SpaceKind::Private => Tier::Private,
            SpaceKind::Shield => Tier::Shield,
            SpaceKind::Fir => Tier::Fir,
        }
    }
}

impl std::fmt::Display for SpaceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tier().fmt(f)
    }
}

/// How an app's routers treat requests (Heroku HTTP routing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouterSpec {
    /// Independent routers; each request picks one at random. They do not coordinate.
    pub routers: u32,
    /// Requests one router sends to one dyno at once (50 on the platform).
    pub active_limit: u32,
    /// Per router, the backlog holds up to `backlog_per_dyno x dynos` requests; H11 beyond.
    pub backlog_per_dyno: u32,
    /// Router 2.0 keeps connections to dynos open; without it each request pays a connection
    /// set-up (one more router-dyno round trip).
    pub keepalive: bool,
}

impl Default for RouterSpec {
    /// Heroku HTTP routing: 50 active requests per dyno per router, backlog 50 x dynos, router
    /// 2.0 keep-alive. The number of routers is not published: 4 is an assumption.
    fn default() -> Self {
        RouterSpec {
            routers: 4,
            active_limit: 50,
            backlog_per_dyno: 50,
            keepalive: true,
        }
    }
}

/// Everything one simulation job needs, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub duration: SimDuration,
    /// Requests arriving before this are simulated but not counted.
    pub warmup: SimDuration,
    /// Width of a row in the time series.
    pub window: SimDuration,
    /// First-byte deadline after which the router answers H12 (30 s on the platform).
    pub request_timeout: SimDuration,
    pub network: NetworkSpec,
    /// Neighbours and host variability; `None` for idle hosts (`noise = "off"`).
    pub noise: Option<NoiseSpec>,
    pub placement: PlacementSpec,
    pub cpu: CpuSpec,
    pub lifecycle: LifecycleSpec,
    pub spaces: Vec<SpaceSpec>,
    pub apps: Vec<AppSpec>,
}
