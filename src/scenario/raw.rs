//! The scenario file as written: serde types that mirror the TOML, before validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`) so that a typo never silently becomes a default.
//! Values whose shape depends on their content (distributions, arrivals, noise) are kept as
//! `toml::Value` and checked in `validate`, which can then say exactly what was expected.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub duration: String,
    pub warmup: Option<String>,
    pub replications: Option<u32>,
    /// Width of a row in windows.csv.
    pub window: Option<String>,
    /// First-byte deadline (H12); 30 s on the platform.
    pub request_timeout: Option<String>,
    /// Whether replication r uses the same random streams at every sweep point.
    pub common_random_numbers: Option<bool>,
    /// `"off"` or a table; see `validate`.
    pub noise: Option<toml::Value>,
    pub network: Option<RawNetwork>,
    /// Shared pools and the placement policy; a table, see `validate`.
    pub placement: Option<toml::Value>,
    /// CPU cap enforcement (`mode = "fluid" | "cfs"`, `period`, `phase`).
    pub cpu: Option<toml::Value>,
    /// Platform lifecycle rules (cycling, drain, sleep, backoff); a table, see `validate`.
    pub lifecycle: Option<toml::Value>,
    #[serde(default)]
    pub space: Vec<RawSpace>,
    #[serde(default)]
    pub app: Vec<RawApp>,
    /// Dotted path -> list of values, in file order.
    pub sweep: Option<toml::Table>,
    /// Per-size overrides of the built-in catalog: `[catalog."standard-1x"] vcpus = 2`.
    pub catalog: Option<toml::Table>,
    /// A calibration file from `dynosim calibrate`, used by `dynosim validate` (relative to the
    /// scenario's folder); `dynosim run` ignores it.
    pub calibration: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Every link's round-trip time at once: a duration string or a distribution table.
    pub latency: Option<toml::Value>,
    /// Per link class, overriding `latency`.
    pub client_router: Option<toml::Value>,
    pub router_dyno: Option<toml::Value>,
    pub space_router_dyno: Option<toml::Value>,
    pub space_dyno_dyno: Option<toml::Value>,
    pub egress_router: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpace {
    pub name: String,
    /// `private`, `shield` or `fir`.
    pub kind: String,
    pub region: String,
    /// CIDR ranges allowed on the space's ingress.
    pub trusted_ips: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub name: String,
    /// A space name; spaces arrive with the space model and are rejected for now.
    pub space: Option<String>,
    /// Common Runtime region, `us` (default) or `eu`.
    pub region: Option<String>,
    /// Raised limit of dynos per app (platform default 100 on Cedar, 255 on Fir).
    pub dyno_limit: Option<i64>,
    /// Deploy times (durations from the start).
    pub deploys: Option<Vec<toml::Value>>,
    /// Preboot feature enabled (Standard and Performance web dynos).
    pub preboot: Option<bool>,
    /// Crashes at given times: `[[app.crash]] at = "2h", process = "web", dyno = 1`.
    pub crash: Option<Vec<toml::Value>>,
    /// Ephemeral filesystem and local cache; a table, see `validate`.
    pub filesystem: Option<toml::Value>,
    /// Router settings; a table, see `validate`.
    pub router: Option<toml::Value>,
    #[serde(default)]
    pub process: Vec<RawProcess>,
    pub workload: Option<RawWorkload>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    #[serde(rename = "type")]
    pub kind: String,
    pub size: String,
    pub count: Option<i64>,
    pub concurrency: Option<i64>,
    /// CPU cap in cores (a CFS quota in `cfs` mode).
    pub cpu_quota: Option<f64>,
    /// Raised limit of dynos for this process type.
    pub limit: Option<i64>,
    /// Boot time distribution.
    pub boot: Option<toml::Value>,
    /// R10 boot timeout (web processes).
    pub boot_timeout: Option<String>,
    /// Mean time between crashes while up.
    pub crash_mtbf: Option<String>,
    /// Memory model; a table, see `validate`.
    pub memory: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    /// Process type receiving the requests; `web` by default.
    pub process: Option<String>,
    pub arrivals: toml::Value,
    pub cpu: toml::Value,
    pub wait: Option<toml::Value>,
    /// Share of requests from outside the space's trusted IP ranges.
    pub untrusted_share: Option<f64>,
    /// Downstream calls: `[[app.workload.calls]]` tables.
    pub calls: Option<Vec<toml::Value>>,
}
