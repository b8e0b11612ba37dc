//! `[[app]]`: an app: its space or region, process types, workload, deploys, crashes,
//! filesystem and router.

use super::Ctx;
use super::filesystem::{RawFilesystem, build_filesystem};
use super::process::{Home, RawProcess, build_process};
use super::router::{RawRouter, build_router};
use super::values::DurationText;
use super::workload::{RawWorkload, build_workload, untrusted_share};
use crate::model::{AppSpec, Catalog, ProcessSpec, ScheduledCrash, SpaceSpec};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [[app]] name = \"shop\""
)]
pub struct RawApp {
    pub name: String,
    /// A `[[space]]` name; omitted for the Common Runtime.
    pub space: Option<String>,
    /// Common Runtime region, `us` (default) or `eu`.
    pub region: Option<String>,
    /// Raised limit of dynos per app (platform default 100 on Cedar, 255 on Fir).
    pub dyno_limit: Option<i64>,
    /// Deploy times (durations from the start).
    pub deploys: Option<Vec<DurationText>>,
    /// Preboot feature enabled (Standard and Performance web dynos).
    pub preboot: Option<bool>,
    /// Crashes at given times: `[[app.crash]] at = "2h", process = "web", dyno = 1`.
    pub crash: Option<Vec<RawCrash>>,
    pub filesystem: Option<RawFilesystem>,
    pub router: Option<RawRouter>,
    #[serde(default)]
    pub process: Vec<RawProcess>,
    pub workload: Option<RawWorkload>,
}

/// `[[app.crash]]`: one crash at a given time.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { at = \"2h\", process = \"web\", dyno = 1 }"
)]
pub struct RawCrash {
    at: DurationText,
    process: Option<String>,
    dyno: Option<f64>,
}

pub(super) fn build_app(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    spaces: &[SpaceSpec],
    path: &KeyPath,
    app: &RawApp,
) -> Result<AppSpec, ScenarioError> {
    if app.name.trim().is_empty() {
        return Err(ctx.err(&path.key("name"), "the app name must not be empty"));
    }
    let space = match &app.space {
        None => None,
        Some(name) => match spaces.iter().position(|s| &s.name == name) {
            Some(i) => Some(i),
            None => {
                let known: Vec<&str> = spaces.iter().map(|s| s.name.as_str()).collect();
                return Err(ctx.err(
                    &path.key("space"),
                    format!(
                        "unknown space `{name}`; define it with [[space]] (defined: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        },
    };
    if app.process.is_empty() {
        return Err(ctx.err(path, format!("app `{}` has no [[app.process]]", app.name)));
    }
    let mut seen = HashSet::new();
    let mut processes: Vec<ProcessSpec> = Vec::new();
    let mut total = 0i64;
    let mut app_limit = 100;
    let web_name = app
        .workload
        .as_ref()
        .map(|w| w.process.as_deref().unwrap_or("web"));
    for (j, pr) in app.process.iter().enumerate() {
        let p = path.key("process").index(j);
        if pr.kind.trim().is_empty() {
            return Err(ctx.err(&p.key("type"), "the process type must not be empty"));
        }
        if !seen.insert(pr.kind.as_str()) {
            return Err(ctx.err(
                &p.key("type"),
                format!("duplicate process type `{}` in app `{}`", pr.kind, app.name),
            ));
        }
        let home = Home {
            app: &app.name,
            space: space.map(|i| &spaces[i]),
            is_web: web_name == Some(pr.kind.as_str()),
        };
        let spec = build_process(ctx, catalog, &home, &p, pr)?;
        if spec.size.generation == crate::model::Generation::Fir {
            app_limit = 255;
        }
        total += i64::from(spec.count);
        processes.push(spec);
    }
    if let Some(raised) = app.dyno_limit {
        if raised < app_limit || raised > 100_000 {
            return Err(ctx.err(
                &path.key("dyno_limit"),
                format!("a raised limit must be between the platform default ({app_limit}) and 100000, found {raised}"),
            ));
        }
        app_limit = raised;
    }
    if total > app_limit {
        return Err(ctx.err(
            path,
            format!(
                "app `{}` has {total} dynos; the platform allows {app_limit} per app (set `dyno_limit` to model a raised limit)",
                app.name
            ),
        ));
    }
    let generations: HashSet<_> = processes.iter().map(|p| p.size.generation).collect();
    if generations.len() > 1 {
        return Err(ctx.err(
            path,
            format!(
                "app `{}` mixes Cedar and Fir sizes; an app runs on one generation",
                app.name
            ),
        ));
    }
    // Before the workload: its endpoints' file actions take the app's as their defaults.
    let filesystem = match &app.filesystem {
        None => None,
        Some(v) => Some(build_filesystem(ctx, &path.key("filesystem"), v)?),
    };
    let workload = match &app.workload {
        None => None,
        Some(w) => Some(build_workload(
            ctx,
            &path.key("workload"),
            (&app.name, filesystem.as_ref()),
            &processes,
            w,
        )?),
    };
    if let (Some(sp), Some(_)) = (space, &app.region) {
        return Err(ctx.err(
            &path.key("region"),
            format!(
                "an app in space `{}` runs in the space's region ({}); remove `region`",
                spaces[sp].name, spaces[sp].region
            ),
        ));
    }
    let region = match app.region.as_deref() {
        _ if space.is_some() => space.map_or("us", |sp| spaces[sp].region.as_str()),
        None | Some("us") => "us",
        Some("eu") => "eu",
        Some(other) => {
            return Err(ctx.err(
                &path.key("region"),
                format!("the Common Runtime has regions \"us\" and \"eu\", not `{other}` (other regions need a Private Space)"),
            ));
        }
    };
    let mut deploys = Vec::new();
    for (i, v) in app.deploys.iter().flatten().enumerate() {
        let at = ctx.duration_text(&path.key("deploys").index(i), v)?;
        deploys.push(at);
    }
    if deploys.windows(2).any(|w| w[1] <= w[0]) {
        return Err(ctx.err(&path.key("deploys"), "deploy times must increase"));
    }
    let mut crashes = Vec::new();
    for (i, c) in app.crash.iter().flatten().enumerate() {
        let cp = path.key("crash").index(i);
        crashes.push(build_crash(ctx, &cp, &app.name, &processes, c)?);
    }
    let router = build_router(ctx, &path.key("router"), app.router.as_ref())?;
    let untrusted_share = untrusted_share(
        ctx,
        &path.key("workload"),
        app.workload.as_ref(),
        space.map(|i| &spaces[i]),
    )?;
    Ok(AppSpec {
        name: app.name.clone(),
        region: region.to_string(),
        space,
        router,
        untrusted_share,
        deploys,
        preboot: app.preboot.unwrap_or(false),
        crashes,
        filesystem,
        processes,
        workload,
    })
}

/// A scheduled crash of one dyno (`dyno` counts from 1, as in `web.1`).
fn build_crash(
    ctx: &Ctx<'_>,
    cp: &KeyPath,
    app: &str,
    processes: &[ProcessSpec],
    c: &RawCrash,
) -> Result<ScheduledCrash, ScenarioError> {
    let at = ctx.duration_text(&cp.key("at"), &c.at)?;
    let pname = c.process.as_deref().unwrap_or("web");
    let Some(pi) = processes.iter().position(|p| p.name == pname) else {
        return Err(ctx.err(
            &cp.key("process"),
            format!("app `{app}` has no process type `{pname}`"),
        ));
    };
    let dyno = match c.dyno {
        None => 1.0,
        Some(x) => ctx.finite(&cp.key("dyno"), x)?,
    };
    if dyno.fract() != 0.0 || dyno < 1.0 || dyno > f64::from(processes[pi].count) {
        return Err(ctx.err(
            &cp.key("dyno"),
            format!(
                "`{pname}` has dynos 1 to {}, found {dyno}",
                processes[pi].count
            ),
        ));
    }
    Ok(ScheduledCrash {
        at,
        process: pi,
        dyno: dyno as u32,
    })
}
