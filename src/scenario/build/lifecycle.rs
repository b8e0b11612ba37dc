//! `[lifecycle]`: platform-wide lifecycle rules (cycling, drain, eco sleep, crash backoff).

use super::Ctx;
use super::values::DurationText;
use crate::model::LifecycleSpec;
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [lifecycle] cycling = false"
)]
pub struct RawLifecycle {
    cycling: Option<bool>,
    drain: Option<DurationText>,
    router_hold: Option<DurationText>,
    eco_sleep: Option<bool>,
    sleep_after: Option<DurationText>,
    /// A distribution of durations.
    wake: Option<toml::Value>,
    backoff_reset: Option<DurationText>,
    backoff: Option<Vec<DurationText>>,
    preboot_window: Option<DurationText>,
}

pub(super) fn build_lifecycle(
    ctx: &Ctx<'_>,
    raw: Option<&RawLifecycle>,
) -> Result<LifecycleSpec, ScenarioError> {
    let mut spec = LifecycleSpec::default();
    let Some(t) = raw else { return Ok(spec) };
    let p = KeyPath::root().key("lifecycle");
    if let Some(b) = t.cycling {
        spec.cycling = b;
    }
    if let Some(b) = t.eco_sleep {
        spec.eco_sleep = b;
    }
    for (key, d, slot) in [
        ("drain", &t.drain, &mut spec.drain),
        ("router_hold", &t.router_hold, &mut spec.router_hold),
        ("sleep_after", &t.sleep_after, &mut spec.sleep_after),
        ("backoff_reset", &t.backoff_reset, &mut spec.backoff_reset),
        (
            "preboot_window",
            &t.preboot_window,
            &mut spec.preboot_window,
        ),
    ] {
        if let Some(d) = ctx.positive_duration(&p, key, d.as_ref())? {
            *slot = d;
        }
    }
    if let Some(w) = &t.wake {
        spec.wake = ctx.dist(&p.key("wake"), w)?;
    }
    if let Some(items) = &t.backoff {
        let bp = p.key("backoff");
        if items.is_empty() {
            return Err(ctx.err(&bp, "needs at least one duration"));
        }
        spec.backoff = items
            .iter()
            .enumerate()
            .map(|(i, v)| ctx.duration_text(&bp.index(i), v))
            .collect::<Result<_, _>>()?;
    }
    Ok(spec)
}
