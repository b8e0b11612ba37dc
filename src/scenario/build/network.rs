//! `[network]`: latency per link class.

use super::Ctx;
use crate::model::{Dist, NetworkSpec};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;
use toml::Value;

/// Every key is a distribution of round-trip times.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [network] latency = \"0ms\""
)]
pub struct RawNetwork {
    /// Every platform link at once: a duration string or a distribution table.
    pub latency: Option<Value>,
    /// Per link class, overriding `latency`.
    pub client_router: Option<Value>,
    pub router_dyno: Option<Value>,
    pub space_router_dyno: Option<Value>,
    pub space_dyno_dyno: Option<Value>,
    pub egress_router: Option<Value>,
}

/// Router <-> dyno round trip when a scenario does not say: lognormal, median 1 ms, p99 4 ms.
/// Assumption: Heroku publishes no router latency figures; this is an intra-region cloud RTT plus
/// router processing, chosen to be small next to request times.
pub fn default_network() -> Dist {
    Dist::lognormal_from_median_p99(0.001, 0.004)
}

/// `[network]`: `latency` sets every link; each link key overrides it.
pub(super) fn build_network(
    ctx: &Ctx<'_>,
    raw: Option<&RawNetwork>,
) -> Result<NetworkSpec, ScenarioError> {
    let p = KeyPath::root().key("network");
    let all = match raw.and_then(|n| n.latency.as_ref()) {
        Some(v) => Some(ctx.dist(&p.key("latency"), v)?),
        None => None,
    };
    let link = |key: &str, v: Option<&Value>, default: Dist| -> Result<Dist, ScenarioError> {
        match v {
            Some(v) => ctx.dist(&p.key(key), v),
            None => Ok(all.clone().unwrap_or(default)),
        }
    };
    let n = raw;
    Ok(NetworkSpec {
        // `latency` covers the platform's links; the client's own link is separate (0 unless
        // given), so `latency = "2ms"` means 2 ms per hop inside the platform.
        client_router: match n.and_then(|n| n.client_router.as_ref()) {
            Some(v) => ctx.dist(&p.key("client_router"), v)?,
            None => Dist::Constant(0.0),
        },
        router_dyno: link(
            "router_dyno",
            n.and_then(|n| n.router_dyno.as_ref()),
            default_network(),
        )?,
        space_router_dyno: link(
            "space_router_dyno",
            n.and_then(|n| n.space_router_dyno.as_ref()),
            Dist::lognormal_from_median_p99(0.0005, 0.002),
        )?,
        space_dyno_dyno: link(
            "space_dyno_dyno",
            n.and_then(|n| n.space_dyno_dyno.as_ref()),
            Dist::lognormal_from_median_p99(0.0003, 0.0015),
        )?,
        egress_router: link(
            "egress_router",
            n.and_then(|n| n.egress_router.as_ref()),
            Dist::lognormal_from_median_p99(0.003, 0.015),
        )?,
    })
}
