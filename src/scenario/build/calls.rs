//! `[[app.workload.calls]]`: downstream calls, their routes, forbidden calls and cycles.

use super::Ctx;
use super::RawScenario;
use crate::model::{AppSpec, CallRoute, CallSpec, Dist, SpaceKind};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

/// One call a request makes: `{ app = "api", process = "web", count = 3, cpu = "2ms" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { app = \"api\", process = \"web\" }"
)]
pub struct RawCall {
    /// The callee app; the caller's own app by default.
    app: Option<String>,
    /// The callee process type; `web` by default.
    process: Option<String>,
    count: Option<f64>,
    parallel: Option<bool>,
    /// The callee's work; its own workload's when it has one.
    cpu: Option<toml::Value>,
    wait: Option<toml::Value>,
}

/// Build every workload's calls, now that all apps are known: routes, forbidden calls, cycles.
pub(super) fn resolve_calls(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    apps: &mut [AppSpec],
) -> Result<(), ScenarioError> {
    for a in 0..apps.len() {
        let Some(w) = raw.app[a].workload.as_ref() else {
            continue;
        };
        let Some(proc_) = apps[a].workload.as_ref().map(|w| w.process) else {
            continue;
        };
        let wp = KeyPath::root().key("app").index(a).key("workload");
        let calls = match &w.calls {
            Some(list) => build_calls(
                ctx,
                raw,
                apps,
                &wp.key("calls"),
                list,
                &mut vec![(a, proc_)],
            )?,
            None => Vec::new(),
        };
        // An endpoint makes the workload's calls unless it lists its own.
        let mut per_endpoint = Vec::new();
        for (i, e) in w.endpoint.iter().flatten().enumerate() {
            per_endpoint.push(match &e.calls {
                Some(list) => {
                    let path = wp.key("endpoint").index(i).key("calls");
                    build_calls(ctx, raw, apps, &path, list, &mut vec![(a, proc_)])?
                }
                None => calls.clone(),
            });
        }
        if let Some(wl) = apps[a].workload.as_mut() {
            wl.calls = calls;
            for (e, c) in wl.endpoints.iter_mut().zip(per_endpoint) {
                e.calls = c;
            }
        }
    }
    Ok(())
}

pub(super) fn build_calls(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    apps: &[AppSpec],
    path: &KeyPath,
    list: &[RawCall],
    stack: &mut Vec<(usize, usize)>,
) -> Result<Vec<CallSpec>, ScenarioError> {
    let (caller_app, caller_proc) = *stack.last().expect("the caller is on the stack");
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let p = path.index(i);
        let callee_name = c.app.as_deref().unwrap_or(apps[caller_app].name.as_str());
        let Some(ca) = apps.iter().position(|x| x.name == callee_name) else {
            return Err(ctx.err(&p.key("app"), format!("unknown app `{callee_name}`")));
        };
        let pname = c.process.as_deref().unwrap_or("web");
        let Some(cp) = apps[ca].processes.iter().position(|x| x.name == pname) else {
            return Err(ctx.err(
                &p.key("process"),
                format!("app `{callee_name}` has no process type `{pname}`"),
            ));
        };
        let count = ctx
            .whole_in(&p, "count", c.count, 1.0, 1000.0)?
            .map_or(1, |x| x as u32);
        let parallel = c.parallel.unwrap_or(false);
        // Which network the call takes, and whether the platform allows it at all.
        let (caller, callee) = (&apps[caller_app], &apps[ca]);
        let where_ = |app: &AppSpec| match app.space {
            Some(s) => format!("space `{}`", ctx_space_name(raw, s)),
            None => "the Common Runtime".to_string(),
        };
        let same_space = caller.space.is_some() && caller.space == callee.space;
        let fir = callee.space.is_some_and(|s| {
            raw.space
                .get(s)
                .is_some_and(|sp| sp.kind.0 == SpaceKind::Fir)
        });
        let route = if same_space && !fir {
            CallRoute::Space
        } else if same_space && pname != "web" {
            // "DNS service discovery is unavailable in Fir spaces" (heroku-dynos.md section 8).
            return Err(ctx.err(
                &p,
                format!(
                    "forbidden call from `{}/{}` to `{}/{pname}` in Fir space `{}`: Fir spaces have no DNS service discovery, so only web processes are reachable, through the space's router",
                    caller.name,
                    caller.processes[caller_proc].name,
                    callee.name,
                    ctx_space_name(raw, callee.space.unwrap_or(0))
                ),
            ));
        } else if pname == "web" {
            CallRoute::PublicRouter
        } else {
            let why = if callee.space.is_none() {
                "Common Runtime dynos accept connections only from the router, and only web processes get routed traffic"
            } else {
                "only web processes are reachable from outside their space"
            };
            return Err(ctx.err(
                &p,
                format!(
                    "forbidden call from `{}/{}` ({}) to `{}/{pname}` ({}): {why}",
                    caller.name,
                    caller.processes[caller_proc].name,
                    where_(caller),
                    callee.name,
                    where_(callee)
                ),
            ));
        };
        if stack.contains(&(ca, cp)) {
            let chain: Vec<String> = stack
                .iter()
                .chain(std::iter::once(&(ca, cp)))
                .map(|(a, q)| format!("{}/{}", apps[*a].name, apps[*a].processes[*q].name))
                .collect();
            return Err(ctx.err(&p, format!("calls form a cycle: {}", chain.join(" -> "))));
        }
        // The callee's work: given here, or its own workload's when it is that app's target.
        let callee_wl = apps[ca].workload.as_ref().filter(|w| w.process == cp);
        let cpu = match &c.cpu {
            Some(v) => ctx.dist(&p.key("cpu"), v)?,
            None => match callee_wl {
                Some(w) => w.cpu.clone(),
                None => {
                    return Err(ctx.err(
                        &p,
                        format!("the call to `{callee_name}/{pname}` needs `cpu` (that process has no [app.workload] to take it from)"),
                    ));
                }
            },
        };
        let wait = match &c.wait {
            Some(v) => ctx.dist(&p.key("wait"), v)?,
            None => callee_wl.map_or(Dist::Constant(0.0), |w| w.wait.clone()),
        };
        // The callee's own calls come from its workload (only when its work comes from there).
        let nested = match (
            &c.cpu,
            raw.app[ca].workload.as_ref().and_then(|w| w.calls.as_ref()),
            callee_wl,
        ) {
            (None, Some(list), Some(_)) => {
                stack.push((ca, cp));
                let np = KeyPath::root()
                    .key("app")
                    .index(ca)
                    .key("workload")
                    .key("calls");
                let c = build_calls(ctx, raw, apps, &np, list, stack)?;
                stack.pop();
                c
            }
            _ => Vec::new(),
        };
        out.push(CallSpec {
            app: ca,
            process: cp,
            count,
            parallel,
            route,
            cpu,
            wait,
            calls: nested,
        });
    }
    Ok(out)
}

pub(super) fn ctx_space_name(raw: &RawScenario, i: usize) -> &str {
    raw.space.get(i).map_or("?", |s| s.name.as_str())
}
