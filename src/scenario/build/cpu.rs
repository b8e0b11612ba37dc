//! `[cpu]`: how CPU caps are enforced (fluid, or CFS periods).

use super::Ctx;
use super::values::{Choice, DurationText, Named};
use crate::model::{CpuMode, CpuSpec};
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as [cpu] mode = \"cfs\""
)]
pub struct RawCpu {
    mode: Option<Choice<CpuMode>>,
    period: Option<DurationText>,
    /// A duration, or `"random"` (one random phase per dyno).
    phase: Option<DurationText>,
}

impl Named for CpuMode {
    const KEYS: &'static [&'static str] = &["fluid", "cfs"];
    const ALL: &'static [Self] = &[CpuMode::Fluid, CpuMode::Cfs];
}

pub(super) fn build_cpu(ctx: &Ctx<'_>, raw: Option<&RawCpu>) -> Result<CpuSpec, ScenarioError> {
    let mut spec = CpuSpec::default();
    let Some(t) = raw else { return Ok(spec) };
    let p = KeyPath::root().key("cpu");
    if let Some(Choice(mode)) = t.mode {
        spec.mode = mode;
    }
    if let Some(d) = ctx.positive_duration(&p, "period", t.period.as_ref())? {
        spec.period = d;
    }
    match &t.phase {
        None => {}
        Some(DurationText::Text(s)) if s == "random" => spec.phase = None,
        Some(v) => {
            let d = ctx.duration_text(&p.key("phase"), v)?;
            if d >= spec.period {
                return Err(ctx.err(
                    &p.key("phase"),
                    format!("must be shorter than the period ({})", spec.period),
                ));
            }
            spec.phase = Some(d);
        }
    }
    Ok(spec)
}
