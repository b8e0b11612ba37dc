//! The platform model: what a Heroku-style platform does with requests and dynos.
//!
//! This module knows nothing of files, formats or the command line: it takes a validated
//! [`SimConfig`] (built by `crate::scenario`), runs it on the engine, and returns a [`JobResult`].
//! Later issues deepen each part (hosts and noise, lifecycle, spaces); the seams are here.

pub mod catalog;
pub mod cpu;
pub mod dist;
mod dyno;
mod host;
pub mod load;
mod metrics;
pub mod noise;
pub mod placement;
mod platform;
mod router;

pub use catalog::{Catalog, Generation, Size, Tier};
pub use cpu::{CpuMode, CpuSpec};
pub use dist::Dist;
pub use load::{OfferedLoad, offered_load};
pub use metrics::{
    DynoResult, InstanceResult, JobResult, LatencyHistogram, LatencySummary, LifecycleEvent,
    ProcessResult, RequestRecord, Split, Status, WindowRow, cov,
};
pub use noise::NoiseSpec;
pub use placement::{
    Instance, InstanceType, Placement, PlacementError, PlacementPolicy, PlacementSpec,
    SharedPoolSpec, place,
};
pub use platform::{
    EVENT_KINDS, NoRequests, Platform, Profile, RequestObserver, placement_stream, run_job,
    run_job_with,
};

use crate::engine::SimDuration;

/// Arrival process of a workload.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrivals {
    /// Poisson arrivals at `rate` requests per second.
    Poisson { rate: f64 },
    /// One request every `gap` exactly, the first at `gap` (synthetic monitors, cron-like load,
    /// and closed-form checks that need arrivals at known instants).
    Interval { gap: SimDuration },
}

impl Arrivals {
    /// Mean arrival rate in requests per second.
    pub fn mean_rate(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate } => *rate,
            Arrivals::Interval { gap } => 1.0 / gap.as_secs_f64(),
        }
    }
}

/// The requests an app receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Index of the process type (within the app) that receives the requests: the web process.
    pub process: usize,
    pub arrivals: Arrivals,
    /// CPU demand per request, seconds on one reference core.
    pub cpu: Dist,
    /// Non-CPU time per request (I/O), spent after the CPU work and the calls, while the
    /// request keeps its concurrency slot.
    pub wait: Dist,
    /// Downstream calls, in order.
    pub calls: Vec<CallSpec>,
}

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
    /// Requests one dyno serves at once (web concurrency); further requests wait in its FIFO queue.
    pub concurrency: u32,
    /// CPU cap in cores below the size's vCPUs (a CFS quota in `cfs` mode), if any.
    pub cpu_quota: Option<f64>,
    pub lifecycle: ProcessLifecycle,
}

/// The ephemeral filesystem and local cache of an app's dynos.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesystemSpec {
    /// Size of the deployed code every dyno starts from.
    pub slug_mb: f64,
    /// Chance that a request writes a file (its client's, replacing the previous one).
    pub write_probability: f64,
    /// Mean size of a written file (exponential), KiB.
    pub write_kb: f64,
    /// Chance that a request reads back the file its client wrote earlier ("sticky" state).
    pub read_probability: f64,
    /// Distinct clients sending the requests.
    pub clients: u32,
    /// Distinct cacheable items (0: no cache); requests pick one by a Zipf law.
    pub cache_items: u32,
    pub cache_zipf: f64,
    /// Extra wait on a cache miss (fetching, compiling).
    pub cache_miss: Dist,
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
    pub kind: Tier,
    pub region: String,
    /// Trusted IP ranges on the ingress; `None` accepts every client.
    pub trusted_ips: Option<Vec<String>>,
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

/// A downstream call a request makes after its CPU work, holding its slot until it returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSpec {
    /// Callee app and process (indices into the configuration).
    pub app: usize,
    pub process: usize,
    /// Calls made; in parallel (all at once) or one after the other.
    pub count: u32,
    pub parallel: bool,
    /// How the call travels.
    pub route: CallRoute,
    /// The callee's work for this call (CPU, then its own calls, then wait).
    pub cpu: Dist,
    pub wait: Dist,
    pub calls: Vec<CallSpec>,
}

/// How a call reaches the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRoute {
    /// Inside one space, straight to a dyno (`<process>.<app>.app.localspace`, round robin).
    Space,
    /// Out through the callee app's public router.
    PublicRouter,
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
