//! `[[app.workload.burst]]`: `at`, `duration`, `factor` and optional `ramp`, multiplying the
//! rate of the workload's arrivals ([`crate::model::arrivals::burst`]). Bursts need a rate to
//! multiply: on a trace or `interval` arrivals they are an error.

use crate::model::Arrivals;
use crate::model::arrivals::Burst;
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};
use toml::Value;

/// The highest burst factor.
const MAX_FACTOR: f64 = 1e4;

impl Ctx<'_> {
    /// `arrivals` with the workload's bursts on top (`list` at `path`, the `burst` key).
    pub(in crate::scenario::build) fn bursts(
        &self,
        path: &KeyPath,
        arrivals: Arrivals,
        list: Option<&[Value]>,
    ) -> Result<Arrivals, ScenarioError> {
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            return Ok(arrivals);
        };
        if matches!(arrivals, Arrivals::Trace(_) | Arrivals::Interval { .. }) {
            return Err(self.err(
                &path.index(0),
                "bursts multiply a rate: they go with poisson, stages, diurnal or mmpp arrivals, not with a trace or an interval",
            ));
        }
        let mut bursts = Vec::with_capacity(list.len());
        for (i, v) in list.iter().enumerate() {
            let bp = path.index(i);
            let t = self.table(
                &bp,
                v,
                "a table such as { at = \"12h\", duration = \"15m\", factor = 10.0 }",
            )?;
            self.known_keys(&bp, t, &["at", "duration", "factor", "ramp"])?;
            let get = |k: &str| {
                t.get(k)
                    .ok_or_else(|| self.err(&bp, format!("missing `{k}`")))
            };
            let at_s = self
                .duration_value(&bp.key("at"), get("at")?)?
                .as_secs_f64();
            let dp = bp.key("duration");
            let duration_s = self.duration_value(&dp, get("duration")?)?.as_secs_f64();
            if duration_s <= 0.0 {
                return Err(self.err(&dp, "must be longer than zero"));
            }
            let fp = bp.key("factor");
            let factor = self.number(&fp, get("factor")?)?;
            if !(0.0..=MAX_FACTOR).contains(&factor) {
                return Err(self.err(
                    &fp,
                    format!("a rate multiplier between 0 and {MAX_FACTOR}, found {factor}"),
                ));
            }
            let ramp_s = match t.get("ramp") {
                None => 0.0,
                Some(v) => {
                    let rp = bp.key("ramp");
                    let r = self.duration_value(&rp, v)?.as_secs_f64();
                    if 2.0 * r > duration_s {
                        return Err(self.err(
                            &rp,
                            "the ramps up and down take at most the burst's duration: `ramp` is at most half of `duration`",
                        ));
                    }
                    r
                }
            };
            bursts.push(Burst {
                at_s,
                duration_s,
                factor,
                ramp_s,
            });
        }
        Ok(Arrivals::Bursts {
            base: Box::new(arrivals),
            bursts,
        })
    }
}
