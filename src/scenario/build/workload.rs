//! `[app.workload]`: the requests an app receives: which process type, how they arrive, the CPU
//! and wait each needs, the share from untrusted clients, and the calls each makes; and its
//! request classes, `[[app.workload.endpoint]]`, each a share of the requests with its own
//! `cpu`, `wait` and `calls` (a key an endpoint leaves out is the workload's).

use crate::model::{Endpoint, FileRates, FilesystemSpec};

use super::Ctx;
use super::calls::RawCall;
use crate::model::{Dist, ProcessSpec, SpaceSpec, Workload};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [app.workload] arrivals = { poisson = 50.0 }"
)]
pub struct RawWorkload {
    /// Process type receiving the requests; `web` by default.
    pub process: Option<String>,
    pub arrivals: toml::Value,
    pub cpu: toml::Value,
    pub wait: Option<toml::Value>,
    /// Share of requests from outside the space's trusted IP ranges.
    pub untrusted_share: Option<f64>,
    /// Downstream calls: `[[app.workload.calls]]` tables.
    pub calls: Option<Vec<RawCall>>,
    /// Rate multipliers over time: `[[app.workload.burst]]` tables.
    pub burst: Option<Vec<toml::Value>>,
    /// Request classes: `[[app.workload.endpoint]]` tables.
    pub endpoint: Option<Vec<RawEndpoint>>,
}

/// `[[app.workload.endpoint]] name = "checkout", share = 0.1, cpu = { exponential = "80ms" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [[app.workload.endpoint]] name = \"home\", share = 0.5"
)]
pub struct RawEndpoint {
    pub name: String,
    pub share: Option<f64>,
    pub weight: Option<f64>,
    pub cpu: Option<toml::Value>,
    pub wait: Option<toml::Value>,
    /// Its own calls instead of the workload's (`calls = []`: none).
    pub calls: Option<Vec<RawCall>>,
    /// Memory per request holding a slot, instead of the process's `memory.per_request_mb`.
    pub per_request_mb: Option<f64>,
    /// Its own file writes and reads, instead of `[app.filesystem]`'s.
    pub filesystem: Option<RawFileRates>,
}

/// `filesystem = { write_probability = 0.5, write_kb = 16, read_probability = 0.2 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { write_probability = 0.5, write_kb = 16, read_probability = 0.2 }"
)]
pub struct RawFileRates {
    write_probability: Option<f64>,
    write_kb: Option<f64>,
    read_probability: Option<f64>,
}

/// An endpoint's file rates over the app's filesystem `fs` (keys left out are the app's).
fn file_rates(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    raw: &RawFileRates,
    fs: Option<&FilesystemSpec>,
) -> Result<FileRates, ScenarioError> {
    let Some(fs) = fs else {
        return Err(ctx.err(
            p,
            "an endpoint's file actions need the app's [app.filesystem] (its slug, clients and cache)",
        ));
    };
    Ok(FileRates {
        write_probability: ctx
            .num_in(p, "write_probability", raw.write_probability, 0.0, 1.0)?
            .unwrap_or(fs.write_probability),
        write_kb: ctx
            .num_in(p, "write_kb", raw.write_kb, 0.0, 10_000_000.0)?
            .unwrap_or(fs.write_kb),
        read_probability: ctx
            .num_in(p, "read_probability", raw.read_probability, 0.0, 1.0)?
            .unwrap_or(fs.read_probability),
    })
}

/// Shares within this of 1 are accepted as summing to 1.
const SHARE_SUM_TOLERANCE: f64 = 1e-9;

/// The endpoints of a workload whose own `cpu` and `wait` are `cpu` and `wait` (calls are
/// resolved later, with every app known).
fn build_endpoints(
    ctx: &Ctx<'_>,
    wp: &KeyPath,
    list: &[RawEndpoint],
    cpu: &Dist,
    wait: &Dist,
    fs: Option<&FilesystemSpec>,
) -> Result<Vec<Endpoint>, ScenarioError> {
    let ep = wp.key("endpoint");
    if list.is_empty() {
        return Err(ctx.err(&ep, "give at least one endpoint, or leave `endpoint` out"));
    }
    let by_weight = list[0].weight.is_some() && list[0].share.is_none();
    let mut out = Vec::with_capacity(list.len());
    let mut seen = std::collections::HashSet::new();
    for (i, e) in list.iter().enumerate() {
        let p = ep.index(i);
        if e.name.trim().is_empty() {
            return Err(ctx.err(
                &p.key("name"),
                "an endpoint needs a name, found an empty one",
            ));
        }
        if !seen.insert(e.name.as_str()) {
            return Err(ctx.err(
                &p.key("name"),
                format!("endpoint `{}` is named twice in this workload", e.name),
            ));
        }
        let amount = match (e.share, e.weight) {
            (Some(_), Some(_)) => {
                return Err(ctx.err(&p.key("weight"), "give `share` or `weight`, not both"));
            }
            (None, None) => {
                return Err(ctx.err(
                    &p,
                    format!(
                        "endpoint `{}` needs `share` (a fraction) or `weight`",
                        e.name
                    ),
                ));
            }
            (Some(x), None) => {
                if by_weight {
                    return Err(ctx.err(
                        &p.key("share"),
                        "the endpoints of a workload give all `share` or all `weight`, not a mix",
                    ));
                }
                if !(0.0..=1.0).contains(&x) {
                    return Err(ctx.err(
                        &p.key("share"),
                        format!("must be a fraction between 0 and 1, found {x}"),
                    ));
                }
                x
            }
            (None, Some(x)) => {
                if !by_weight {
                    return Err(ctx.err(
                        &p.key("weight"),
                        "the endpoints of a workload give all `share` or all `weight`, not a mix",
                    ));
                }
                if !(x.is_finite() && x > 0.0) {
                    return Err(ctx.err(
                        &p.key("weight"),
                        format!("must be a positive number, found {x}"),
                    ));
                }
                x
            }
        };
        out.push(Endpoint {
            name: e.name.clone(),
            share: amount,
            cpu: match &e.cpu {
                Some(v) => ctx.dist(&p.key("cpu"), v)?,
                None => cpu.clone(),
            },
            wait: match &e.wait {
                Some(v) => ctx.dist(&p.key("wait"), v)?,
                None => wait.clone(),
            },
            calls: Vec::new(),
            per_request_mb: ctx.num_in(&p, "per_request_mb", e.per_request_mb, 0.0, 1e6)?,
            files: match &e.filesystem {
                Some(raw) => Some(file_rates(ctx, &p.key("filesystem"), raw, fs)?),
                None => None,
            },
        });
    }
    let total: f64 = out.iter().map(|e| e.share).sum();
    if by_weight {
        for e in &mut out {
            e.share /= total;
        }
    } else if (total - 1.0).abs() > SHARE_SUM_TOLERANCE {
        let last = ep.index(list.len() - 1).key("share");
        return Err(ctx.err(
            &last,
            format!("the endpoints' shares sum to {total}, not 1 (use `weight` for amounts that need not sum to 1)"),
        ));
    }
    Ok(out)
}

/// The workload of app `app` (its calls are resolved later, once every app is known).
pub(super) fn build_workload(
    ctx: &Ctx<'_>,
    wp: &KeyPath,
    (app, fs): (&str, Option<&FilesystemSpec>),
    processes: &[ProcessSpec],
    w: &RawWorkload,
) -> Result<Workload, ScenarioError> {
    let target = w.process.as_deref().unwrap_or("web");
    let Some(process) = processes.iter().position(|p| p.name == target) else {
        let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
        let at = match w.process {
            Some(_) => wp.key("process"),
            None => wp.clone(),
        };
        return Err(ctx.err(
            &at,
            format!(
                "the workload goes to process type `{target}`, which app `{app}` does not have (it has: {}); set `process` in [app.workload]",
                names.join(", ")
            ),
        ));
    };
    let cpu = ctx.dist(&wp.key("cpu"), &w.cpu)?;
    let wait = match &w.wait {
        Some(v) => ctx.dist(&wp.key("wait"), v)?,
        None => Dist::Constant(0.0),
    };
    let endpoints = match &w.endpoint {
        Some(list) => build_endpoints(ctx, wp, list, &cpu, &wait, fs)?,
        None => Vec::new(),
    };
    let mut arrivals = ctx.arrivals(&wp.key("arrivals"), &w.arrivals)?;
    let names: Vec<String> = endpoints.iter().map(|e| e.name.clone()).collect();
    super::arrivals::trace::bind_endpoints(ctx, &wp.key("arrivals"), &mut arrivals, &names)?;
    Ok(Workload {
        process,
        arrivals: ctx.bursts(&wp.key("burst"), arrivals, w.burst.as_deref())?,
        cpu,
        wait,
        // Calls may name apps defined later; `resolve_calls` fills them in.
        calls: Vec::new(),
        endpoints,
    })
}

/// `untrusted_share`: a fraction, and only where a space's ingress can refuse requests.
pub(super) fn untrusted_share(
    ctx: &Ctx<'_>,
    wp: &KeyPath,
    w: Option<&RawWorkload>,
    space: Option<&SpaceSpec>,
) -> Result<f64, ScenarioError> {
    let Some(x) = w.and_then(|w| w.untrusted_share) else {
        return Ok(0.0);
    };
    let up = wp.key("untrusted_share");
    if !(0.0..=1.0).contains(&x) {
        return Err(ctx.err(
            &up,
            format!("must be a fraction between 0 and 1, found {x}"),
        ));
    }
    if x > 0.0 && space.and_then(|sp| sp.trusted_ips.as_ref()).is_none() {
        return Err(ctx.err(
            &up,
            "requests can only be refused at a space's ingress: put the app in a [[space]] with `trusted_ips`",
        ));
    }
    Ok(x)
}
