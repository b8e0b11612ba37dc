//! Sample statistics shared by the validation, calibration and plotting code: one definition of
//! a quantile, the median and the mean, so the same word means the same number everywhere.
//!
//! **Quantiles are nearest-rank**: the q-quantile of n sorted values is the smallest value with
//! at least q of the sample at or below it, `sorted[ceil(q n) - 1]` (clamped to the sample). It
//! is the rule of hdrhistogram's `value_at_quantile`, which the simulator's summary.csv and
//! windows.csv use, so a p99 computed here from requests.csv and the p99 in summary.csv differ
//! only by the histogram's bucket width. It never invents a value between two observations.
//! **The median is the 0.5 quantile** by that rule: for an even count, the lower of the two
//! middle values. Before this module there were three medians (nearest-rank in validate's
//! comparison, the upper middle value for the loopback probes, the mean of the two middle
//! values in the plots). **A formation's statistic across replications** is [`Interval`]: the
//! mean of the per-replication values with a Student-t interval, used alike by tiers.csv, the
//! plots and `dynosim plan`.
//!
//! **What is a crate's, what is written here, and why** (reviewed for issue 22.5): Student's t
//! quantiles come from `statrs`; latency histograms and their quantiles from `hdrhistogram`.
//! Kept by hand, each a few lines: the nearest-rank quantile (it must be hdrhistogram's rule;
//! `statrs`'s `OrderStatistics::quantile` interpolates, Hyndman-Fan type 8), the mean, and the
//! paired stratified moving-block bootstrap below, which no maintained crate offers and which
//! must draw from a named [`RngStream`] so a verdict is reproducible. The two-sample
//! Kolmogorov-Smirnov distance (validate/compare.rs) is a merge of two sorted samples; its 5 %
//! critical value is the asymptotic 1.358 sqrt((n + m) / nm), all the report uses (no p-value,
//! so no Kolmogorov distribution is needed; `statrs` has none).

use crate::engine::RngStream;
use hdrhistogram::Histogram;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The nearest-rank `q`-quantile (0 < q <= 1) of `sorted` (ascending); NaN when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[k - 1]
}

/// Sort `v` (total order: NaNs last) and return its nearest-rank `q`-quantile.
pub fn quantile_of(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    quantile(v, q)
}

/// The median (the nearest-rank 0.5 quantile) of `v` in any order; NaN when empty.
pub fn median(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().collect();
    quantile_of(&mut v, 0.5)
}

/// The arithmetic mean; NaN when empty.
pub fn mean(v: impl IntoIterator<Item = f64>) -> f64 {
    let (s, n) = v
        .into_iter()
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// The `q`-quantile of a histogram of nanoseconds, in ms, never above the exact maximum
/// `max_ns` (the histogram reports a bucket's upper edge); NaN when empty.
pub fn hist_quantile_ms(h: &Histogram<u64>, max_ns: u64, q: f64) -> f64 {
    if h.is_empty() {
        f64::NAN
    } else {
        h.value_at_quantile(q).min(max_ns) as f64 * 1e-6
    }
}

/// A formation's statistic across replications: the mean of the per-replication values with
/// its two-sided Student-t interval. **This is the one definition** of a formation's p50, p95,
/// p99 (or any per-replication metric) that tiers.csv, the plots and `dynosim plan` share:
/// each replication's quantile comes from that replication's histogram, and the formation's
/// value is their mean. Replications are independent and identically distributed by
/// construction (own seed, same model), which the t interval needs; per-replication quantiles
/// of thousands of requests are close to normal (planner anchors §7.1: independent
/// replications with Student-t intervals). Pooling every replication's requests into one
/// histogram would give a point estimate but no interval, and would weigh a replication by
/// its request count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Mean of the values.
    pub mean: f64,
    /// Lower end (-inf with fewer than two values).
    pub low: f64,
    /// Upper end (+inf with fewer than two values).
    pub high: f64,
    /// Values (replications).
    pub n: usize,
}

/// The `level` (e.g. 0.975 for a two-sided 95 % interval) quantile of Student's t with `df`
/// degrees of freedom.
pub fn t_quantile(level: f64, df: usize) -> f64 {
    match StudentsT::new(0.0, 1.0, df as f64) {
        Ok(t) => t.inverse_cdf(level),
        Err(_) => f64::INFINITY,
    }
}

impl Interval {
    /// The `confidence` (two-sided) t interval of the mean of `values`. With one value the
    /// interval is unbounded; an infinite value (a replication that completed nothing) makes
    /// the mean and both ends infinite.
    pub fn of(values: &[f64], confidence: f64) -> Interval {
        let n = values.len();
        if n == 0 {
            return Interval {
                mean: f64::NAN,
                low: f64::NEG_INFINITY,
                high: f64::INFINITY,
                n,
            };
        }
        if values.iter().any(|v| v.is_infinite()) {
            return Interval {
                mean: f64::INFINITY,
                low: f64::INFINITY,
                high: f64::INFINITY,
                n,
            };
        }
        let mean = crate::stats::mean(values.iter().copied());
        if n == 1 {
            return Interval {
                mean,
                low: f64::NEG_INFINITY,
                high: f64::INFINITY,
                n,
            };
        }
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
        let half = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1) * (var / n as f64).sqrt();
        Interval {
            mean,
            low: mean - half,
            high: mean + half,
            n,
        }
    }
}

/// One block of a paired comparison: the values of run A and of run B over the same stretch of
/// a schedule (the same arrivals), from stratum `stratum` (a repetition).
#[derive(Debug, Clone, Default)]
pub struct PairedBlock {
    /// Which repetition (resampling stays within it).
    pub stratum: usize,
    /// Run A's values (the reference: the real run).
    pub a: Vec<f64>,
    /// Run B's values (the simulation of the same requests).
    pub b: Vec<f64>,
}

/// The relative difference `q_B / q_A - 1` of the nearest-rank `q`-quantiles of two pooled
/// samples, with its percentile interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RatioInterval {
    /// The estimate from every block.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl RatioInterval {
    /// Half the interval's width.
    pub fn half_width(&self) -> f64 {
        (self.hi - self.lo) / 2.0
    }
}

fn ratio_of(blocks: &[&PairedBlock], q: f64, a: &mut Vec<f64>, b: &mut Vec<f64>) -> f64 {
    a.clear();
    b.clear();
    for k in blocks {
        a.extend_from_slice(&k.a);
        b.extend_from_slice(&k.b);
    }
    quantile_of(b, q) / quantile_of(a, q) - 1.0
}

/// A moving-block bootstrap of `q_B / q_A - 1` for each `q` in `qs`: `resamples` times, draw
/// as many blocks with replacement from each stratum as it has (the same blocks for A and B,
/// so the pairing is kept), pool them and take the statistic; the interval is the central
/// `level` (0.95: the 2.5 % and 97.5 % quantiles of the draws). Blocks long against the
/// latency's correlation time make the draws honest for autocorrelated queueing data (batch
/// means' rationale); strata make the interval cover the spread between repetitions.
pub fn paired_block_bootstrap(
    blocks: &[PairedBlock],
    qs: &[f64],
    resamples: usize,
    level: f64,
    rng: &mut RngStream,
) -> Vec<RatioInterval> {
    let all: Vec<&PairedBlock> = blocks.iter().collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let estimates: Vec<f64> = qs
        .iter()
        .map(|&q| ratio_of(&all, q, &mut a, &mut b))
        .collect();
    let mut strata: Vec<Vec<&PairedBlock>> = Vec::new();
    for k in blocks {
        if strata.len() <= k.stratum {
            strata.resize(k.stratum + 1, Vec::new());
        }
        strata[k.stratum].push(k);
    }
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); qs.len()];
    let mut pick: Vec<&PairedBlock> = Vec::with_capacity(blocks.len());
    for _ in 0..resamples {
        pick.clear();
        for st in strata.iter().filter(|s| !s.is_empty()) {
            for _ in 0..st.len() {
                pick.push(st[rng.below(st.len() as u64) as usize]);
            }
        }
        for (i, &q) in qs.iter().enumerate() {
            let r = ratio_of(&pick, q, &mut a, &mut b);
            if r.is_finite() {
                draws[i].push(r);
            }
        }
    }
    let tail = (1.0 - level) / 2.0;
    estimates
        .into_iter()
        .zip(draws)
        .map(|(estimate, mut d)| {
            d.sort_by(f64::total_cmp);
            RatioInterval {
                estimate,
                lo: quantile(&d, tail),
                hi: quantile(&d, 1.0 - tail),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 0.991), 100.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn median_is_the_lower_middle_for_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), 2.0);
        assert_eq!(median([7.0]), 7.0);
        assert!(median(std::iter::empty()).is_nan());
        // Agrees with the histogram's rule on exact values.
        let mut h = Histogram::<u64>::new(3).expect("precision");
        for x in [1000u64, 2000, 3000, 4000] {
            h.record(x).expect("record");
        }
        assert_eq!(hist_quantile_ms(&h, 4000, 0.5), 0.002);
        assert_eq!(median([1000.0, 2000.0, 3000.0, 4000.0]) * 1e-6, 0.002);
    }

    fn blocks(shift: f64, noise: f64, n: usize) -> Vec<PairedBlock> {
        let mut rng = crate::engine::SeedTree::new(3).named("test").stream();
        (0..n)
            .map(|i| {
                let a: Vec<f64> = (0..50).map(|_| rng.exp(20.0)).collect();
                let b = a
                    .iter()
                    .map(|x| x * shift * (1.0 + noise * (rng.open01() - 0.5)))
                    .collect();
                PairedBlock {
                    stratum: i % 2,
                    a,
                    b,
                }
            })
            .collect()
    }

    #[test]
    fn paired_bootstrap_brackets_a_known_ratio_and_narrows_with_data() {
        let mut rng = crate::engine::SeedTree::new(9).named("boot").stream();
        let few = paired_block_bootstrap(&blocks(1.2, 0.2, 10), &[0.5, 0.99], 400, 0.95, &mut rng);
        let many =
            paired_block_bootstrap(&blocks(1.2, 0.2, 160), &[0.5, 0.99], 400, 0.95, &mut rng);
        for r in few.iter().chain(&many) {
            assert!(r.lo <= r.estimate && r.estimate <= r.hi, "{r:?}");
            assert!(r.lo < 0.2 + 0.05 && r.hi > 0.2 - 0.05, "{r:?}");
        }
        assert!(
            many[0].half_width() < few[0].half_width(),
            "{few:?} {many:?}"
        );
        // Identical runs: a zero-width interval at zero.
        let same: Vec<PairedBlock> = blocks(1.0, 0.0, 8);
        let r = paired_block_bootstrap(&same, &[0.5], 100, 0.95, &mut rng);
        assert_eq!((r[0].lo, r[0].estimate, r[0].hi), (0.0, 0.0, 0.0));
    }

    #[test]
    fn mean_of_nothing_is_nan() {
        assert_eq!(mean([1.0, 2.0, 6.0]), 3.0);
        assert!(mean(std::iter::empty()).is_nan());
    }
}
