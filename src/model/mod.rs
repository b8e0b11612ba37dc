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
mod metrics;
pub mod noise;
pub mod placement;
mod platform;
mod router;

pub use catalog::{Catalog, Generation, Size, Tier};
pub use cpu::{CpuMode, CpuSpec};
pub use dist::Dist;
pub use metrics::{
    DynoResult, InstanceResult, JobResult, LatencySummary, ProcessResult, RequestRecord, Status,
    WindowRow, cov,
};
pub use noise::NoiseSpec;
pub use placement::{
    Instance, InstanceType, Placement, PlacementError, PlacementPolicy, PlacementSpec,
    SharedPoolSpec, place,
};
pub use platform::{NoRequests, Platform, RequestObserver, placement_stream, run_job};

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
    /// Non-CPU time per request (I/O, downstream services), spent after the CPU work while the
    /// request keeps its concurrency slot.
    pub wait: Dist,
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
}

/// An app: process types and the workload routed to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub name: String,
    /// Common Runtime region (`us`, `eu`): the shared pool its shared-tier dynos join.
    pub region: String,
    pub processes: Vec<ProcessSpec>,
    pub workload: Option<Workload>,
}

/// Network delays.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    /// Round-trip time between router and dyno, drawn once per request; half is spent before the
    /// request reaches the dyno and half on the way back.
    pub router_dyno_rtt: Dist,
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
    pub apps: Vec<AppSpec>,
}
