//! Distributions of durations: `"20ms"` or a one-key table (constant, exponential, lognormal,
//! uniform, empirical).

use super::Ctx;
use crate::engine::SimDuration;
use crate::model::Dist;
use crate::scenario::error::{KeyPath, ScenarioError};
use toml::Value;

impl Ctx<'_> {
    /// A distribution of durations: `"20ms"` or a one-key table.
    pub fn dist(&self, path: &KeyPath, v: &Value) -> Result<Dist, ScenarioError> {
        const KINDS: [&str; 5] = [
            "constant",
            "exponential",
            "lognormal",
            "uniform",
            "empirical",
        ];
        if let Value::String(s) = v {
            return Ok(Dist::Constant(self.duration(path, s)?.as_secs_f64()));
        }
        let t = self.table(
            path,
            v,
            "a duration such as \"20ms\" or a table such as { exponential = \"20ms\" }",
        )?;
        if t.len() != 1 {
            return Err(self.err(
                path,
                format!(
                    "a distribution table needs exactly one of: {} (found {} keys)",
                    KINDS.join(", "),
                    t.len()
                ),
            ));
        }
        self.known_keys(path, t, &KINDS)?;
        let (kind, arg) = t.iter().next().expect("one key, checked above");
        let p = path.key(kind);
        match kind.as_str() {
            "constant" => Ok(Dist::Constant(self.duration_value(&p, arg)?.as_secs_f64())),
            "exponential" => {
                let mean = self.duration_value(&p, arg)?;
                if mean == SimDuration::ZERO {
                    return Err(self.err(&p, "the mean must be greater than zero"));
                }
                Ok(Dist::Exponential {
                    mean: mean.as_secs_f64(),
                })
            }
            "lognormal" => {
                let lt = self.table(
                    &p,
                    arg,
                    "a table { median = \"20ms\", p99 = \"200ms\" } or { mu = -4.0, sigma = 1.0 }",
                )?;
                if lt.contains_key("median") || lt.contains_key("p99") {
                    self.known_keys(&p, lt, &["median", "p99"])?;
                    let get = |k: &str| {
                        lt.get(k).ok_or_else(|| self.err(&p, format!("missing `{k}` (lognormal takes median and p99, or mu and sigma)")))
                    };
                    let median = self.duration_value(&p.key("median"), get("median")?)?;
                    let p99 = self.duration_value(&p.key("p99"), get("p99")?)?;
                    if median == SimDuration::ZERO {
                        return Err(self.err(&p.key("median"), "must be greater than zero"));
                    }
                    if p99 < median {
                        return Err(self.err(
                            &p.key("p99"),
                            format!("p99 ({p99}) must not be below the median ({median})"),
                        ));
                    }
                    Ok(Dist::lognormal_from_median_p99(
                        median.as_secs_f64(),
                        p99.as_secs_f64(),
                    ))
                } else {
                    self.known_keys(&p, lt, &["mu", "sigma"])?;
                    let get = |k: &str| {
                        lt.get(k).ok_or_else(|| self.err(&p, format!("missing `{k}` (lognormal takes median and p99, or mu and sigma)")))
                    };
                    let mu = self.number(&p.key("mu"), get("mu")?)?;
                    let sigma = self.number(&p.key("sigma"), get("sigma")?)?;
                    if sigma > 5.0 {
                        return Err(self.err(&p.key("sigma"), format!("{sigma} is too wide: sigma above 5 puts the p99 more than 10^5 times the median")));
                    }
                    if sigma < 0.0 {
                        return Err(self.err(&p.key("sigma"), "must not be negative"));
                    }
                    if mu > 20.0 {
                        return Err(self.err(
                            &p.key("mu"),
                            "is the mean of ln(seconds); values above 20 mean years per request",
                        ));
                    }
                    Ok(Dist::LogNormal { mu, sigma })
                }
            }
            "uniform" => {
                let (lo, hi) = match arg {
                    Value::Array(a) if a.len() == 2 => (
                        self.duration_value(&p.index(0), &a[0])?,
                        self.duration_value(&p.index(1), &a[1])?,
                    ),
                    Value::Table(ut) => {
                        self.known_keys(&p, ut, &["min", "max"])?;
                        let get = |k: &str| {
                            ut.get(k)
                                .ok_or_else(|| self.err(&p, format!("missing `{k}`")))
                        };
                        (
                            self.duration_value(&p.key("min"), get("min")?)?,
                            self.duration_value(&p.key("max"), get("max")?)?,
                        )
                    }
                    _ => {
                        return Err(self.err(
                            &p,
                            "expected { min = \"10ms\", max = \"30ms\" } or [\"10ms\", \"30ms\"]",
                        ));
                    }
                };
                if hi < lo {
                    return Err(self.err(&p, format!("max ({hi}) is below min ({lo})")));
                }
                Ok(Dist::Uniform {
                    min: lo.as_secs_f64(),
                    max: hi.as_secs_f64(),
                })
            }
            "empirical" => self.empirical(&p, arg),
            _ => unreachable!("kind checked by known_keys"),
        }
    }
}
