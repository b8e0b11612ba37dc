//! `noise = "off"`, or `[noise]`: the neighbours' load, contention slowdown and host speed
//! variability (docs/scenario.md "Noise").

use super::Ctx;
use super::values::DurationText;
use crate::model::NoiseSpec;
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;
use std::fmt;

/// `noise` as written: `"off"` or a table.
#[derive(Debug, Clone)]
pub enum RawNoise {
    Off,
    On(Box<RawNoiseTable>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as [noise] load = 0.6")]
pub struct RawNoiseTable {
    load: Option<f64>,
    burstiness: Option<f64>,
    sources: Option<f64>,
    time_scale: Option<DurationText>,
    contention: Option<f64>,
    max_slowdown: Option<f64>,
    speed_sigma_shared: Option<f64>,
    speed_sigma_dedicated: Option<f64>,
    drift_sigma_shared: Option<f64>,
    drift_sigma_dedicated: Option<f64>,
    drift_time: Option<DurationText>,
    drift_step: Option<DurationText>,
}

impl<'de> Deserialize<'de> for RawNoise {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawNoise;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"off\" or a table such as [noise] load = 0.6")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawNoise, E> {
                if s == "off" {
                    Ok(RawNoise::Off)
                } else {
                    Err(E::custom(format!(
                        "expected \"off\" or a table such as [noise] load = 0.6, found `\"{s}\"`"
                    )))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawNoise, A::Error> {
                RawNoiseTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| RawNoise::On(Box::new(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The noise of a run: `None` for idle hosts, the defaults when the scenario does not say.
pub(super) fn build_noise(
    ctx: &Ctx<'_>,
    raw: Option<&RawNoise>,
) -> Result<Option<NoiseSpec>, ScenarioError> {
    let p = KeyPath::root().key("noise");
    let t = match raw {
        None => return Ok(Some(NoiseSpec::default())),
        Some(RawNoise::Off) => return Ok(None),
        Some(RawNoise::On(t)) => t,
    };
    let mut n = NoiseSpec::default();
    if let Some(x) = ctx.num_in(&p, "load", t.load, 0.0, 1.0)? {
        n.load = x;
    }
    if let Some(x) = ctx.num_in(&p, "burstiness", t.burstiness, 1.0, 100.0)? {
        n.burstiness = x;
    }
    if let Some(x) = ctx.whole_in(&p, "sources", t.sources, 1.0, 10_000.0)? {
        n.sources = x as u32;
    }
    if let Some(d) = ctx.positive_duration(&p, "time_scale", t.time_scale.as_ref())? {
        n.time_scale = d;
    }
    if let Some(x) = ctx.num_in(&p, "contention", t.contention, 0.0, 1.0)? {
        n.contention = x;
    }
    if let Some(x) = ctx.num_in(&p, "max_slowdown", t.max_slowdown, 1.0, 100.0)? {
        n.max_slowdown = x;
    }
    for (key, x, slot) in [
        (
            "speed_sigma_shared",
            t.speed_sigma_shared,
            &mut n.speed_sigma_shared,
        ),
        (
            "speed_sigma_dedicated",
            t.speed_sigma_dedicated,
            &mut n.speed_sigma_dedicated,
        ),
        (
            "drift_sigma_shared",
            t.drift_sigma_shared,
            &mut n.drift_sigma_shared,
        ),
        (
            "drift_sigma_dedicated",
            t.drift_sigma_dedicated,
            &mut n.drift_sigma_dedicated,
        ),
    ] {
        if let Some(x) = ctx.num_in(&p, key, x, 0.0, 1.0)? {
            *slot = x;
        }
    }
    if let Some(d) = ctx.positive_duration(&p, "drift_time", t.drift_time.as_ref())? {
        n.drift_time = d;
    }
    if let Some(d) = ctx.positive_duration(&p, "drift_step", t.drift_step.as_ref())? {
        n.drift_step = d;
    }
    Ok(Some(n))
}
