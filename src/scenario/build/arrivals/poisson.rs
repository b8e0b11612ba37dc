//! `{ poisson = R }`: Poisson arrivals at R requests per second.

use super::ArrivalKind;
use crate::model::Arrivals;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "poisson",
    extra: &[],
    shape: "{ poisson = <requests per second> }",
    build,
};

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let (p, v) = (&table.key(KIND.key), &t[KIND.key]);
    let rate = ctx.number(p, v)?;
    if rate <= 0.0 {
        return Err(ctx.err(
            p,
            format!("the arrival rate must be positive, found {rate}"),
        ));
    }
    if rate > super::MAX_RATE {
        return Err(ctx.err(
            p,
            format!("{rate} requests/s is beyond what one app's router takes; at most 1e6"),
        ));
    }
    Ok(Arrivals::Poisson { rate })
}
