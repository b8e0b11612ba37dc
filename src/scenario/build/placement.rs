//! `[placement]`: the placement policy and the shared pool's instances.

use super::Ctx;
use super::values::{Choice, Named};
use crate::model::{PlacementPolicy, PlacementSpec};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [placement] policy = \"binpack\""
)]
pub struct RawPlacement {
    policy: Option<Choice<PlacementPolicy>>,
    instances: Option<f64>,
    vcpus: Option<f64>,
    memory_mb: Option<f64>,
    speed: Option<f64>,
    tenant_memory: Option<f64>,
}

impl Named for PlacementPolicy {
    const KEYS: &'static [&'static str] = &["spread", "random", "binpack"];
    const ALL: &'static [Self] = &[
        PlacementPolicy::Spread,
        PlacementPolicy::Random,
        PlacementPolicy::BinPack,
    ];
}

pub(super) fn build_placement(
    ctx: &Ctx<'_>,
    raw: Option<&RawPlacement>,
) -> Result<PlacementSpec, ScenarioError> {
    let mut spec = PlacementSpec::default();
    let Some(t) = raw else { return Ok(spec) };
    let p = KeyPath::root().key("placement");
    if let Some(Choice(policy)) = t.policy {
        spec.policy = policy;
    }
    if let Some(x) = ctx.whole_in(&p, "instances", t.instances, 1.0, 1_000_000.0)? {
        spec.shared.instances = x as u32;
    }
    if let Some(x) = ctx.whole_in(&p, "vcpus", t.vcpus, 1.0, 1024.0)? {
        spec.shared.instance.vcpus = x as u32;
    }
    if let Some(x) = ctx.whole_in(&p, "memory_mb", t.memory_mb, 512.0, 1e8)? {
        spec.shared.instance.memory_mb = x as u64;
    }
    if let Some(x) = ctx.num_in(&p, "speed", t.speed, 0.01, 100.0)? {
        spec.shared.instance.speed = x;
    }
    if let Some(x) = ctx.num_in(&p, "tenant_memory", t.tenant_memory, 0.0, 0.99)? {
        spec.shared.tenant_memory = x;
    }
    Ok(spec)
}
