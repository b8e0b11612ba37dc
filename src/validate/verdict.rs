//! Statistical verdicts: is the model within the tolerances, outside them, or is it too early
//! (or the host too noisy) to say?
//!
//! A point comparison of one run's p50 is dominated by run-to-run noise (three runs of
//! dedicated-mm1 on a quiet VM gave +1.5 %, +18.2 % and +3.7 %). So each quantile's relative
//! error `sim / real - 1` of the as-measured comparison ([`super::measured`]) gets a 95 %
//! interval from a **paired moving-block bootstrap** ([`crate::stats::paired_block_bootstrap`]):
//! each run is cut by arrival time into [`BLOCKS`] blocks (after the warmup), a resample draws
//! blocks with replacement within each repetition, the same blocks for the real and the
//! simulated run (the same requests), and the error of the pooled quantiles is recomputed;
//! 1,000 resamples, seeded by the scenario's seed. Blocks of a few seconds are long against a
//! queue's correlation time at the bundled loads, so the interval covers the autocorrelation
//! and, with several repetitions, the spread between them.
//!
//! A quantile is **ok** when its whole interval lies within the tolerance, **out** when it lies
//! wholly outside, **inconclusive** when it straddles a limit; a tier is out if any quantile
//! is, else inconclusive if any is, else ok. An undecided tier says how many more repetitions
//! would decide it: the interval narrows as 1/sqrt(n), so with half-width `h` and a distance
//! `m` from the estimate to the nearest limit, about `n (h/m)^2` requests are needed.

use super::compare::{Samples, Tolerances};
use super::plan::Scaled;
use crate::engine::SeedTree;
use crate::stats::{PairedBlock, RatioInterval, paired_block_bootstrap};
use std::collections::BTreeMap;

/// Blocks per repetition (Schmeiser: little is gained from more than about 30 batches).
pub const BLOCKS: u64 = 20;

/// Bootstrap resamples.
pub const RESAMPLES: usize = 1000;

/// Confidence level of the intervals.
pub const LEVEL: f64 = 0.95;

/// A verdict on one quantile, one tier or the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// The interval lies within the tolerance.
    Ok,
    /// It straddles the tolerance: more data would decide.
    Inconclusive,
    /// It lies outside the tolerance.
    Out,
}

impl Decision {
    /// As written in comparison.csv and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Ok => "ok",
            Decision::Inconclusive => "inconclusive",
            Decision::Out => "out",
        }
    }

    /// Where interval `r` stands against tolerance `tol`.
    pub fn of(r: &RatioInterval, tol: f64) -> Decision {
        if !(r.lo.is_finite() && r.hi.is_finite()) {
            Decision::Inconclusive
        } else if r.lo >= -tol && r.hi <= tol {
            Decision::Ok
        } else if r.lo > tol || r.hi < -tol {
            Decision::Out
        } else {
            Decision::Inconclusive
        }
    }
}

/// The as-measured verdict of one tier and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// Relative error of p50 and of p99 (as measured), with intervals.
    pub errors: [RatioInterval; 2],
    /// Per quantile.
    pub decisions: [Decision; 2],
    /// The tier's.
    pub decision: Decision,
    /// Requests in the real runs (completed, after the warmup).
    pub requests: usize,
    /// Repetitions pooled.
    pub repetitions: usize,
    /// For an undecided tier: about how many more repetitions would decide it.
    pub more_repetitions: Option<u64>,
}

/// Judge every tier: `real[k]` and `sim[k]` are repetition k's real run and its as-measured
/// simulation.
pub fn judge(
    s: &Scaled,
    real: &[Samples],
    sim: &[Samples],
    tol: &Tolerances,
    seed: u64,
) -> BTreeMap<(String, String), Judgement> {
    let cfg = s.config();
    let warmup = cfg.warmup.as_nanos();
    let span = cfg.duration.as_nanos().saturating_sub(warmup).max(1);
    let block_of = |id: u64| {
        let at = s.plan.get(id as usize).map_or(0, |p| p.at_ns);
        (at.saturating_sub(warmup) * BLOCKS / span).min(BLOCKS - 1)
    };
    let keys: std::collections::BTreeSet<_> = real.iter().flat_map(|r| r.keys()).collect();
    let mut out = BTreeMap::new();
    for key in keys {
        let mut blocks: Vec<PairedBlock> = Vec::new();
        for (k, (r, m)) in real.iter().zip(sim).enumerate() {
            let mut bk: Vec<PairedBlock> = (0..BLOCKS)
                .map(|_| PairedBlock {
                    stratum: k,
                    ..PairedBlock::default()
                })
                .collect();
            for (id, v) in r.get(key).into_iter().flatten() {
                bk[block_of(*id) as usize].a.push(*v);
            }
            for (id, v) in m.get(key).into_iter().flatten() {
                bk[block_of(*id) as usize].b.push(*v);
            }
            blocks.extend(
                bk.into_iter()
                    .filter(|b| !b.a.is_empty() || !b.b.is_empty()),
            );
        }
        let mut rng = SeedTree::new(seed)
            .named(&format!("validate/verdict/{}/{}", key.0, key.1))
            .stream();
        let ci = paired_block_bootstrap(&blocks, &[0.5, 0.99], RESAMPLES, LEVEL, &mut rng);
        let errors = [ci[0], ci[1]];
        let decisions = [
            Decision::of(&errors[0], tol.p50),
            Decision::of(&errors[1], tol.p99),
        ];
        let decision = decisions[0].max(decisions[1]);
        let requests: usize = blocks.iter().map(|b| b.a.len()).sum();
        let reps = real.len();
        let more = (decision == Decision::Inconclusive).then(|| {
            let need = errors
                .iter()
                .zip([tol.p50, tol.p99])
                .zip(decisions)
                .filter(|(_, d)| *d == Decision::Inconclusive)
                .map(|((r, t), _)| {
                    let margin = (r.estimate.abs() - t).abs().max(0.01 * t);
                    (r.half_width() / margin).powi(2)
                })
                .fold(1.0f64, f64::max);
            ((reps as f64 * need).ceil() as u64)
                .saturating_sub(reps as u64)
                .max(1)
        });
        out.insert(
            key.clone(),
            Judgement {
                errors,
                decisions,
                decision,
                requests,
                repetitions: reps,
                more_repetitions: more,
            },
        );
    }
    out
}

/// The run's verdict: the worst tier's, or inconclusive for a host too noisy to judge.
#[derive(Debug, Clone, PartialEq)]
pub struct RunVerdict {
    /// ok, out or inconclusive.
    pub decision: Decision,
    /// Why it is inconclusive: `host too noisy: 8.6% steal on the dynos' CPUs (limit 5%)`,
    /// or the undecided tiers and what would decide them.
    pub reason: Option<String>,
}

impl RunVerdict {
    /// From the tiers' judgements and the host's noise, if it was above the limits.
    pub fn of<'a>(
        tiers: impl IntoIterator<Item = (&'a (String, String), &'a Judgement)>,
        too_noisy: Option<String>,
        run_s: f64,
    ) -> RunVerdict {
        let tiers: Vec<_> = tiers.into_iter().collect();
        if let Some(why) = too_noisy {
            return RunVerdict {
                decision: Decision::Inconclusive,
                reason: Some(format!("host too noisy: {why}")),
            };
        }
        if tiers.is_empty() {
            return RunVerdict {
                decision: Decision::Inconclusive,
                reason: Some("no request completed in both runs".into()),
            };
        }
        let decision = tiers
            .iter()
            .map(|(_, j)| j.decision)
            .max()
            .unwrap_or(Decision::Inconclusive);
        let reason = (decision == Decision::Inconclusive).then(|| {
            tiers
                .iter()
                .filter(|(_, j)| j.decision == Decision::Inconclusive)
                .map(|((t, sz), j)| {
                    let m = j.more_repetitions.unwrap_or(1);
                    format!(
                        "{t} {sz}: the intervals straddle the tolerance; about {m} more run(s) of \
                         {run_s:.0} s (--repeat {}, about {} more requests) would decide",
                        j.repetitions as u64 + m,
                        (j.requests as u64 * m) / j.repetitions.max(1) as u64
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        });
        RunVerdict { decision, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: f64, hi: f64) -> RatioInterval {
        RatioInterval {
            estimate: (lo + hi) / 2.0,
            lo,
            hi,
        }
    }

    #[test]
    fn decisions_follow_the_interval() {
        assert_eq!(Decision::of(&iv(-0.05, 0.08), 0.1), Decision::Ok);
        assert_eq!(Decision::of(&iv(0.05, 0.12), 0.1), Decision::Inconclusive);
        assert_eq!(Decision::of(&iv(-0.15, -0.02), 0.1), Decision::Inconclusive);
        assert_eq!(Decision::of(&iv(0.11, 0.3), 0.1), Decision::Out);
        assert_eq!(Decision::of(&iv(-0.5, -0.2), 0.1), Decision::Out);
        assert_eq!(
            Decision::of(&iv(f64::NAN, 0.0), 0.1),
            Decision::Inconclusive
        );
    }

    #[test]
    fn a_noisy_host_is_named_and_undecided_tiers_say_what_would_decide() {
        let j = Judgement {
            errors: [iv(0.05, 0.15), iv(-0.1, 0.1)],
            decisions: [Decision::Inconclusive, Decision::Ok],
            decision: Decision::Inconclusive,
            requests: 700,
            repetitions: 1,
            more_repetitions: Some(3),
        };
        let key = ("performance".to_string(), "performance-m".to_string());
        let v = RunVerdict::of([(&key, &j)], None, 30.0);
        assert_eq!(v.decision, Decision::Inconclusive);
        let why = v.reason.expect("reason");
        assert!(
            why.contains("about 3 more run(s) of 30 s (--repeat 4"),
            "{why}"
        );
        let v = RunVerdict::of(
            [(&key, &j)],
            Some("8.6% steal on the dynos' CPUs (limit 5%)".into()),
            30.0,
        );
        assert_eq!(
            v.reason.as_deref(),
            Some("host too noisy: 8.6% steal on the dynos' CPUs (limit 5%)")
        );
        let out = Judgement {
            decision: Decision::Out,
            ..j.clone()
        };
        let v = RunVerdict::of([(&key, &j), (&key, &out)], None, 30.0);
        assert_eq!((v.decision, v.reason), (Decision::Out, None));
    }
}
