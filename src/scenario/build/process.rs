//! `[[app.process]]`: one process type: its size, dyno count and limits, concurrency (or the app
//! server's `processes` x `threads` and `gvl`), CPU quota, boot, crashes and memory.

use super::Ctx;
use super::spaces::check_size_fits_space;
use crate::engine::SimDuration;
use crate::model::{
    AppServer, Catalog, Dist, MemorySpec, ProcessLifecycle, ProcessSpec, SpaceSpec, Tier,
};
use crate::scenario::error::{KeyPath, ScenarioError, did_you_mean};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [[app.process]] type = \"web\""
)]
pub struct RawProcess {
    #[serde(rename = "type")]
    pub kind: String,
    pub size: String,
    pub count: Option<i64>,
    pub concurrency: Option<i64>,
    /// App-server processes per dyno (Puma/gunicorn workers), instead of `concurrency`.
    pub processes: Option<i64>,
    /// Threads per app-server process, instead of `concurrency`.
    pub threads: Option<i64>,
    /// Whether a process's threads share one CPU thread (Ruby GVL, Python GIL); default true.
    pub gvl: Option<bool>,
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
    pub memory: Option<RawMemory>,
}

/// `memory = { base_mb = 200, growth_mb_per_h = 20 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { base_mb = 200, growth_mb_per_h = 20 }"
)]
pub struct RawMemory {
    base_mb: Option<f64>,
    per_request_mb: Option<f64>,
    growth_mb_per_h: Option<f64>,
    swap_slowdown: Option<f64>,
}

/// Where a process type runs, for the checks that depend on it.
pub(super) struct Home<'a> {
    pub app: &'a str,
    pub space: Option<&'a SpaceSpec>,
    /// The process receives the app's workload (web: it has an R10 boot timeout).
    pub is_web: bool,
}

/// One process type (its type name is checked by the caller, which sees the others).
pub(super) fn build_process(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    home: &Home<'_>,
    p: &KeyPath,
    pr: &RawProcess,
) -> Result<ProcessSpec, ScenarioError> {
    let Some(size) = catalog.get(&pr.size) else {
        let lower = pr.size.to_lowercase();
        let hint = if catalog.get(&lower).is_some() {
            format!(" (sizes are lower case: `{lower}`)")
        } else {
            did_you_mean(&lower, catalog.sizes().iter().map(|s| s.name.as_str()))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default()
        };
        return Err(ctx.err(
            &p.key("size"),
            format!(
                "unknown size `{}`{hint}; `dynosim catalog` lists the sizes",
                pr.size
            ),
        ));
    };
    check_size_fits_space(ctx, &p.key("size"), size, home.space, home.app)?;
    let count = pr.count.unwrap_or(1);
    if count < 0 {
        return Err(ctx.err(
            &p.key("count"),
            format!("the dyno count must not be negative, found {count}"),
        ));
    }
    let mut limit = i64::from(size.max_per_process);
    if let Some(raised) = pr.limit {
        if matches!(size.tier, Tier::Eco | Tier::Basic) {
            return Err(ctx.err(
                &p.key("limit"),
                format!("{} apps get only one dyno per process type; the limit cannot be raised (Heroku dyno scaling limits)", size.display),
            ));
        }
        if raised < limit || raised > 10_000 {
            return Err(ctx.err(
                &p.key("limit"),
                format!("a raised limit must be between the platform default ({limit}) and 10000, found {raised}"),
            ));
        }
        limit = raised;
    }
    if count > limit {
        let how = if pr.limit.is_some() || matches!(size.tier, Tier::Eco | Tier::Basic) {
            ""
        } else {
            "; set `limit` on the process to model a raised limit"
        };
        return Err(ctx.err(
            &p.key("count"),
            format!(
                "{count} dynos exceed the platform limit of {limit} per process type for {} dynos (Heroku dyno scaling limits){how}",
                size.display
            ),
        ));
    }
    let cpu_quota = match pr.cpu_quota {
        None => None,
        Some(q) if q.is_finite() && q > 0.0 && q <= f64::from(size.vcpus) => Some(q),
        Some(q) => {
            return Err(ctx.err(
                &p.key("cpu_quota"),
                format!(
                    "must be more than 0 and at most the size's {} vCPU(s), found {q}",
                    size.vcpus
                ),
            ));
        }
    };
    let server = app_server(ctx, p, pr)?;
    Ok(ProcessSpec {
        name: pr.kind.clone(),
        size: size.clone(),
        count: count as u32,
        concurrency: server.concurrency(),
        server,
        cpu_quota,
        lifecycle: build_process_lifecycle(ctx, p, pr, home.is_web)?,
    })
}

/// The most requests one dyno serves at once, whichever way it is written.
const MAX_CONCURRENCY: i64 = 100_000;

/// `concurrency = N` (N processes of one thread, as before app servers were modelled), or
/// `processes` x `threads` with `gvl`; both forms at once is an error naming the key.
fn app_server(ctx: &Ctx<'_>, p: &KeyPath, pr: &RawProcess) -> Result<AppServer, ScenarioError> {
    let at_least_one = |key: &str, v: Option<i64>| -> Result<u32, ScenarioError> {
        let v = v.unwrap_or(1);
        if v < 1 {
            return Err(ctx.err(&p.key(key), format!("must be at least 1, found {v}")));
        }
        if v > MAX_CONCURRENCY {
            return Err(ctx.err(
                &p.key(key),
                format!("{v} is beyond any real web server; at most {MAX_CONCURRENCY}"),
            ));
        }
        Ok(v as u32)
    };
    if pr.concurrency.is_some() {
        let other = [
            ("processes", pr.processes.is_some()),
            ("threads", pr.threads.is_some()),
        ];
        if let Some((key, _)) = other.iter().find(|(_, set)| *set) {
            return Err(ctx.err(
                &p.key(key),
                "give either `concurrency` or `processes` and `threads`, not both (concurrency = processes x threads)",
            ));
        }
        let n = at_least_one("concurrency", pr.concurrency)?;
        let mut server = AppServer::single_threaded(n);
        if let Some(gvl) = pr.gvl {
            server.gvl = gvl;
        }
        return Ok(server);
    }
    let processes = at_least_one("processes", pr.processes)?;
    let threads = at_least_one("threads", pr.threads)?;
    if i64::from(processes) * i64::from(threads) > MAX_CONCURRENCY {
        return Err(ctx.err(
            &p.key("threads"),
            format!(
                "{processes} processes x {threads} threads is beyond any real web server; at most {MAX_CONCURRENCY} requests at once"
            ),
        ));
    }
    Ok(AppServer {
        processes,
        threads,
        gvl: pr.gvl.unwrap_or(true),
    })
}

/// Boot, crash and memory settings of one process type.
fn build_process_lifecycle(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    pr: &RawProcess,
    is_web: bool,
) -> Result<ProcessLifecycle, ScenarioError> {
    let boot = match &pr.boot {
        Some(v) => ctx.dist(&p.key("boot"), v)?,
        None => default_boot(),
    };
    let boot_timeout = match &pr.boot_timeout {
        Some(t) => {
            let d = ctx.duration(&p.key("boot_timeout"), t)?;
            if d == SimDuration::ZERO {
                return Err(ctx.err(&p.key("boot_timeout"), "must be longer than zero"));
            }
            Some(d)
        }
        // R10 is about binding $PORT, so only web processes have it.
        None if is_web => Some(SimDuration::from_secs(60)),
        None => None,
    };
    let crash_mtbf = match &pr.crash_mtbf {
        Some(t) => {
            let d = ctx.duration(&p.key("crash_mtbf"), t)?;
            if d < SimDuration::from_secs(1) {
                return Err(ctx.err(&p.key("crash_mtbf"), "must be at least 1s"));
            }
            Some(d)
        }
        None => None,
    };
    let mut memory = MemorySpec::default();
    if let Some(m) = &pr.memory {
        let mp = p.key("memory");
        if let Some(x) = ctx.num_in(&mp, "base_mb", m.base_mb, 0.0, 1e7)? {
            memory.base_mb = x;
        }
        if let Some(x) = ctx.num_in(&mp, "per_request_mb", m.per_request_mb, 0.0, 1e6)? {
            memory.per_request_mb = x;
        }
        if let Some(x) = ctx.num_in(&mp, "growth_mb_per_h", m.growth_mb_per_h, 0.0, 1e7)? {
            memory.growth_mb_per_h = x;
        }
        if let Some(x) = ctx.num_in(&mp, "swap_slowdown", m.swap_slowdown, 1.0, 1000.0)? {
            memory.swap_slowdown = x;
        }
    }
    Ok(ProcessLifecycle {
        boot,
        boot_timeout,
        crash_mtbf,
        memory,
    })
}

/// Boot time when a scenario does not say: lognormal, median 5 s, p99 30 s. Assumption: Heroku
/// publishes none; a third party sees new dynos take 20-60 s to receive requests including the
/// platform's own start-up (heroku-dynos.md section 2).
pub fn default_boot() -> Dist {
    Dist::lognormal_from_median_p99(5.0, 30.0)
}
