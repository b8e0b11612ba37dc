//! `[app.router]`: the app's routers (how many, the active-request limit, backlog, keep-alive).

use super::Ctx;
use crate::model::RouterSpec;
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [app.router] routers = 4"
)]
pub struct RawRouter {
    routers: Option<f64>,
    active_limit: Option<f64>,
    backlog_per_dyno: Option<f64>,
    keepalive: Option<bool>,
}

pub(super) fn build_router(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    raw: Option<&RawRouter>,
) -> Result<RouterSpec, ScenarioError> {
    let mut spec = RouterSpec::default();
    let Some(t) = raw else { return Ok(spec) };
    if let Some(n) = ctx.whole_in(p, "routers", t.routers, 1.0, 255.0)? {
        spec.routers = n as u32;
    }
    if let Some(n) = ctx.whole_in(p, "active_limit", t.active_limit, 1.0, 100_000.0)? {
        spec.active_limit = n as u32;
    }
    if let Some(n) = ctx.whole_in(p, "backlog_per_dyno", t.backlog_per_dyno, 0.0, 100_000.0)? {
        spec.backlog_per_dyno = n as u32;
    }
    if let Some(b) = t.keepalive {
        spec.keepalive = b;
    }
    Ok(spec)
}
