//! `{ interval = D }`: one request every D exactly, the first at D.

use super::ArrivalKind;
use crate::model::Arrivals;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "interval",
    extra: &[],
    shape: "{ interval = <duration> }",
    build,
};

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let (p, v) = (&table.key(KIND.key), &t[KIND.key]);
    let gap = ctx.duration_value(p, v)?;
    if gap.as_nanos() < 1_000 {
        return Err(ctx.err(p, format!("the interval must be at least 1us, found {gap}")));
    }
    Ok(Arrivals::Interval { gap })
}
