//! Service-level objectives as the planner states them: `p95<=300ms`, `p99<=0.8s`,
//! `errors<=0.1%`, `mean<=120ms`.
//!
//! An SLO bounds one metric of the planned process's requests from above. Latency metrics need
//! a unit (a bare `p95<=300` is refused: milliseconds or seconds is exactly the mistake a
//! capacity question must not make silently); `errors` is a fraction of the requests, written as
//! a percentage or a plain fraction.

use crate::model::ProcessResult;
use crate::scenario::parse_duration;
use std::fmt;

/// What an SLO measures, per replication, on the planned process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Mean latency.
    Mean,
    /// A latency quantile: p50, p90, p95, p99, p99.9.
    Quantile(LatencyQuantile),
    /// Errors (H12, H13, H10, ...) as a fraction of the requests that arrived.
    Errors,
}

/// The latency quantiles summary.csv reports (from the run's histogram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum LatencyQuantile {
    P50,
    P90,
    P95,
    P99,
    P999,
}

impl LatencyQuantile {
    fn name(self) -> &'static str {
        match self {
            LatencyQuantile::P50 => "p50",
            LatencyQuantile::P90 => "p90",
            LatencyQuantile::P95 => "p95",
            LatencyQuantile::P99 => "p99",
            LatencyQuantile::P999 => "p99.9",
        }
    }
}

impl Metric {
    /// The metric's name as written in an SLO and in plan.csv.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Mean => "mean",
            Metric::Quantile(q) => q.name(),
            Metric::Errors => "errors",
        }
    }

    /// The unit of thresholds and estimates in plan.csv: `ms` or `fraction`.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Errors => "fraction",
            _ => "ms",
        }
    }

    /// The metric of one replication's result for the planned process. A latency of a
    /// replication that completed no request is infinite (nothing was served).
    pub fn of(self, p: &ProcessResult) -> f64 {
        let l = &p.latency;
        let v = match self {
            Metric::Mean => l.mean_ms,
            Metric::Quantile(LatencyQuantile::P50) => l.p50_ms,
            Metric::Quantile(LatencyQuantile::P90) => l.p90_ms,
            Metric::Quantile(LatencyQuantile::P95) => l.p95_ms,
            Metric::Quantile(LatencyQuantile::P99) => l.p99_ms,
            Metric::Quantile(LatencyQuantile::P999) => l.p999_ms,
            Metric::Errors => {
                return if p.requests == 0 {
                    0.0
                } else {
                    p.errors as f64 / p.requests as f64
                };
            }
        };
        if p.completed == 0 || !v.is_finite() {
            f64::INFINITY
        } else {
            v
        }
    }

    /// A value of this metric for people: `312.4 ms`, `0.12%`.
    pub fn show(self, v: f64) -> String {
        match self {
            Metric::Errors => format!("{:.3}%", v * 100.0),
            _ if v.is_infinite() => "no completed request".into(),
            _ if v >= 100.0 => format!("{v:.0} ms"),
            _ => format!("{v:.1} ms"),
        }
    }
}

/// One objective: `metric <= threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub metric: Metric,
    /// In the metric's unit (ms, or a fraction).
    pub threshold: f64,
    /// As the user wrote it, for messages and plan.csv.
    pub text: String,
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Metrics an SLO may name, for messages.
const KNOWN: &str = "mean, p50, p90, p95, p99, p99.9, errors";

impl Slo {
    /// Parse `p95<=300ms` (spaces allowed; `<` means the same as `<=`).
    pub fn parse(text: &str) -> Result<Slo, String> {
        let t = text.trim();
        let (name, value) = t
            .split_once("<=")
            .or_else(|| t.split_once('<'))
            .ok_or_else(|| {
                format!("`{t}`: an SLO is `<metric><=<value>`, for example `p95<=300ms` or `errors<=0.1%`")
            })?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let metric = match name.as_str() {
            "mean" => Metric::Mean,
            "p50" | "median" => Metric::Quantile(LatencyQuantile::P50),
            "p90" => Metric::Quantile(LatencyQuantile::P90),
            "p95" => Metric::Quantile(LatencyQuantile::P95),
            "p99" => Metric::Quantile(LatencyQuantile::P99),
            "p99.9" | "p999" => Metric::Quantile(LatencyQuantile::P999),
            "errors" | "error_rate" => Metric::Errors,
            m if m.starts_with("job_wait") || m.starts_with("job_latency") => {
                return Err(format!(
                    "`{t}`: `{m}` needs job queues, which dynosim does not model yet (issue 18); SLOs today: {KNOWN}"
                ));
            }
            m => return Err(format!("`{t}`: unknown metric `{m}`; SLOs take {KNOWN}")),
        };
        let threshold = match metric {
            Metric::Errors => parse_fraction(value).map_err(|e| format!("`{t}`: {e}"))?,
            _ => {
                if value.parse::<f64>().is_ok() {
                    return Err(format!(
                        "`{t}`: a latency needs a unit, for example `{value}ms` or `{value}s`"
                    ));
                }
                let d = parse_duration(value).map_err(|e| format!("`{t}`: {e}"))?;
                let ms = d.as_nanos() as f64 * 1e-6;
                if ms <= 0.0 {
                    return Err(format!("`{t}`: the latency bound must be more than 0"));
                }
                ms
            }
        };
        Ok(Slo {
            metric,
            threshold,
            text: t.to_string(),
        })
    }
}

/// `0.1%` or `0.001`: a fraction in [0, 1].
fn parse_fraction(v: &str) -> Result<f64, String> {
    let x = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => v.parse::<f64>(),
    }
    .map_err(|_| format!("`{v}` is not a fraction such as `0.1%` or `0.001`"))?;
    if !(0.0..=1.0).contains(&x) {
        return Err(format!("`{v}` is not between 0% and 100%"));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slos_read_as_planners_write_them() {
        let s = Slo::parse("p95<=300ms").unwrap();
        assert_eq!(s.metric, Metric::Quantile(LatencyQuantile::P95));
        assert_eq!(s.threshold, 300.0);
        assert_eq!(Slo::parse(" p99 <= 0.8s ").unwrap().threshold, 800.0);
        assert_eq!(Slo::parse("p99.9<2s").unwrap().threshold, 2000.0);
        let e = Slo::parse("errors<=0.1%").unwrap();
        assert_eq!((e.metric, e.threshold), (Metric::Errors, 0.001));
        assert_eq!(Slo::parse("errors<=0.002").unwrap().threshold, 0.002);
        assert_eq!(Slo::parse("mean<=120ms").unwrap().metric, Metric::Mean);
    }

    #[test]
    fn bad_slos_say_what_is_wrong() {
        let e = Slo::parse("p95<300").unwrap_err();
        assert!(e.contains("needs a unit"), "{e}");
        let e = Slo::parse("p97<=300ms").unwrap_err();
        assert!(e.contains("unknown metric `p97`"), "{e}");
        let e = Slo::parse("p95>=300ms").unwrap_err();
        assert!(e.contains("an SLO is"), "{e}");
        let e = Slo::parse("errors<=150%").unwrap_err();
        assert!(e.contains("between 0% and 100%"), "{e}");
        let e = Slo::parse("job_wait_p95<=10s").unwrap_err();
        assert!(e.contains("job queues"), "{e}");
        assert!(Slo::parse("p95<=0ms").is_err());
        assert!(Slo::parse("p95<=soon").is_err());
    }
}
