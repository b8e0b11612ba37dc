//! `{ diurnal = R, peak_to_mean = X, peak_at = D }`: a daily sinusoid around the mean rate `R`
//! ([`crate::model::arrivals::diurnal`]).

use super::{ArrivalKind, MAX_RATE};
use crate::model::Arrivals;
use crate::model::arrivals::Diurnal;
use crate::model::arrivals::diurnal::DAY_S;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "diurnal",
    extra: &["peak_to_mean", "peak_at"],
    shape: "{ diurnal = <mean requests per second>, peak_to_mean = 1.7, peak_at = \"14h\" }",
    build,
};

/// Peak-to-mean when not given: "1.6 to 1.7 is typical" for a global user base (Robust
/// Perception; ../shared/reference/planner-anchors.md 5.1).
pub(super) const DEFAULT_PEAK_TO_MEAN: f64 = 1.7;

/// Time of day of the peak when not given: 14:00, the example of planner-anchors.md 8.3 (an
/// assumption: mid-afternoon in the app's time zone, with the run starting at midnight).
pub(super) const DEFAULT_PEAK_AT_S: f64 = 14.0 * 3600.0;

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let p = table.key("diurnal");
    let mean = ctx.number(&p, &t["diurnal"])?;
    if mean <= 0.0 || mean > MAX_RATE {
        return Err(ctx.err(
            &p,
            format!("the mean rate must be above 0 and at most 1e6 requests/s, found {mean}"),
        ));
    }
    let peak_to_mean = match t.get("peak_to_mean") {
        None => DEFAULT_PEAK_TO_MEAN,
        Some(v) => {
            let pp = table.key("peak_to_mean");
            let x = ctx.number(&pp, v)?;
            if !(1.0..=2.0).contains(&x) {
                return Err(ctx.err(
                    &pp,
                    format!("must lie in [1, 2] (1: flat; 2: the rate touches 0 at the trough), found {x}"),
                ));
            }
            x
        }
    };
    let peak_at_s = match t.get("peak_at") {
        None => DEFAULT_PEAK_AT_S,
        Some(v) => {
            let pp = table.key("peak_at");
            let s = ctx.duration_value(&pp, v)?.as_secs_f64();
            if s >= DAY_S {
                return Err(ctx.err(&pp, format!("a time of day, under 24h, found {s} s")));
            }
            s
        }
    };
    if mean * peak_to_mean > MAX_RATE {
        return Err(ctx.err(&p, "the peak rate is beyond 1e6 requests/s"));
    }
    Ok(Arrivals::Diurnal(Diurnal {
        mean,
        peak_to_mean,
        peak_at_s,
    }))
}
