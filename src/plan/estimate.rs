//! A formation's metric across replications and the SLO decision on it.
//!
//! **Definition.** A formation's p95 (or any metric) is the expected value, over independent
//! replications of the scenario, of the metric measured in one replication (summary.csv's
//! per-job p95): the mean of the per-replication values, with a Student-t interval. Replications
//! are independent and identically distributed by construction (each has its own seed and the
//! same model), which is what the t interval needs; per-replication quantiles of thousands of
//! requests are close to normal, and the interval is only used to decide, not to report a
//! distribution. (Planner anchors §7.1: independent replications with Student-t intervals,
//! Hoad, Robinson & Davies 2010; at least 3 replications, at most 30.)
//!
//! **Decision.** With k SLOs at confidence c, each interval is made at 1 - (1 - c)/k
//! (Bonferroni), so all k hold together with probability at least c. An SLO `metric <= T` is
//! *met* when the interval lies at or below T, *failed* when it lies above, and *undecided*
//! when it straddles T; a formation meets its SLOs when every one is met and fails when any
//! one fails. More replications narrow an undecided interval. Looking again after every
//! replication is a sequential test whose overall error can exceed 1 - c (the intervals are
//! not adjusted for repeated looks): an assumption stated in docs/plan.md, kept because the
//! first decided look is usually the third to sixth replication and the SLO margins of the
//! decided candidates are printed.

pub use crate::stats::Interval;

/// What an interval says about `metric <= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Meets,
    Undecided,
    Fails,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Meets => "meets",
            Verdict::Undecided => "undecided",
            Verdict::Fails => "fails",
        }
    }
}

/// The decision an interval makes on an SLO.
pub trait Decide {
    /// The decision on `metric <= threshold`.
    fn verdict(&self, threshold: f64) -> Verdict;
}

impl Decide for Interval {
    fn verdict(&self, threshold: f64) -> Verdict {
        if self.high <= threshold {
            Verdict::Meets
        } else if self.low > threshold {
            Verdict::Fails
        } else {
            Verdict::Undecided
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95 %: t(0.975; 2) = 4.303, t(0.975; 9) = 2.262, t(0.975; 29) = 2.045.
        for (df, want) in [(2, 4.303), (9, 2.262), (29, 2.045)] {
            assert!(
                (crate::stats::t_quantile(0.975, df) - want).abs() < 1e-3,
                "df {df}"
            );
        }
    }

    #[test]
    fn intervals_decide_only_when_they_clear_the_threshold() {
        // Mean 10, s = sqrt(2/3), n = 4: half-width t(0.975; 3) * s / 2.
        let v = [9.0, 11.0, 10.0, 10.0];
        let i = Interval::of(&v, 0.95);
        assert!((i.mean - 10.0).abs() < 1e-12);
        let s = (2.0f64 / 3.0).sqrt();
        assert!(
            (i.high - i.mean - 3.182_446 * s / 2.0).abs() < 1e-4,
            "{i:?}"
        );
        assert_eq!(i.verdict(12.0), Verdict::Meets);
        assert_eq!(i.verdict(10.5), Verdict::Undecided);
        assert_eq!(i.verdict(8.0), Verdict::Fails);
        // One value decides nothing; an infinite one (nothing served) fails any bound.
        assert_eq!(Interval::of(&[1.0], 0.95).verdict(1e9), Verdict::Undecided);
        assert_eq!(
            Interval::of(&[1.0, f64::INFINITY], 0.95).verdict(1e9),
            Verdict::Fails
        );
    }
}
