//! Random durations: CPU demand, I/O wait and network delay distributions.

use crate::engine::RngStream;
use std::sync::Arc;

/// A distribution of non-negative durations, in seconds.
///
/// Every variant draws exactly one uniform per sample (inversion), so a sweep that changes a
/// parameter keeps the stream aligned: request *k* gets the *k*-th uniform at every sweep point.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Constant(f64),
    /// Exponential with the given mean.
    Exponential { mean: f64 },
    /// exp(N(mu, sigma^2)), with mu and sigma of the natural log of seconds.
    LogNormal { mu: f64, sigma: f64 },
    /// Uniform on [min, max].
    Uniform { min: f64, max: f64 },
    /// Resampled uniformly from observed values (seconds).
    Empirical(Arc<[f64]>),
    /// Given values for given draws: the value paired with the uniform the stream yields, so
    /// request k of a job gets exactly the k-th value of a recorded sequence (`dynosim
    /// validate` replays each real request's measured CPU time this way). Still one uniform per
    /// draw; a uniform the table does not hold gets the value of the nearest one it does.
    Replay(Arc<Replay>),
}

/// The table of [`Dist::Replay`]: uniforms (as bit patterns, ascending) and their values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Replay {
    keys: Vec<u64>,
    values: Vec<f64>,
}

impl Replay {
    /// A table from (uniform, value) pairs: the uniforms a stream will yield, in any order.
    pub fn new(pairs: impl IntoIterator<Item = (f64, f64)>) -> Replay {
        let mut v: Vec<(u64, f64)> = pairs.into_iter().map(|(u, x)| (u.to_bits(), x)).collect();
        v.sort_by_key(|p| p.0);
        v.dedup_by_key(|p| p.0);
        Replay {
            keys: v.iter().map(|p| p.0).collect(),
            values: v.iter().map(|p| p.1).collect(),
        }
    }

    fn get(&self, u: f64) -> f64 {
        let k = u.to_bits();
        match self.keys.binary_search(&k) {
            Ok(i) => self.values[i],
            Err(_) if self.values.is_empty() => 0.0,
            // Positive floats order like their bits: the nearest neighbour by value.
            Err(i) => {
                let lo = i.saturating_sub(1);
                let hi = i.min(self.keys.len() - 1);
                let d = |j: usize| (f64::from_bits(self.keys[j]) - u).abs();
                self.values[if d(lo) <= d(hi) { lo } else { hi }]
            }
        }
    }
}

/// Standard normal quantile function (Acklam's rational approximation, relative error below
/// 1.2e-9 over (0, 1)). Used so lognormal draws take exactly one uniform each.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p_low = 0.02425;
    if p < p_low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - p_low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

impl Dist {
    /// A lognormal given its median and 99th percentile (both > 0, p99 >= median).
    pub fn lognormal_from_median_p99(median: f64, p99: f64) -> Dist {
        let z99 = 2.326_347_874_040_841;
        Dist::LogNormal {
            mu: median.ln(),
            sigma: (p99 / median).ln() / z99,
        }
    }

    /// Draw one value in seconds.
    #[inline]
    pub fn sample(&self, rng: &mut RngStream) -> f64 {
        match self {
            Dist::Constant(v) => {
                // Keep the stream aligned with the other variants.
                let _ = rng.open01();
                *v
            }
            Dist::Exponential { mean } => rng.exp(*mean),
            Dist::LogNormal { mu, sigma } => (mu + sigma * normal_quantile(rng.open01())).exp(),
            Dist::Uniform { min, max } => min + (max - min) * rng.open01(),
            Dist::Empirical(values) => {
                let i = (rng.open01() * values.len() as f64) as usize;
                values[i.min(values.len() - 1)]
            }
            Dist::Replay(table) => table.get(rng.open01()),
        }
    }

    /// The mean in seconds (exact for every variant).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential { mean } => *mean,
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Empirical(values) => values.iter().sum::<f64>() / values.len() as f64,
            Dist::Replay(t) => t.values.iter().sum::<f64>() / t.values.len().max(1) as f64,
        }
    }

    /// True if every draw is zero (lets the model skip events for absent delays).
    pub fn is_zero(&self) -> bool {
        match self {
            Dist::Constant(v) => *v == 0.0,
            Dist::Uniform { min, max } => *min == 0.0 && *max == 0.0,
            Dist::Empirical(values) => values.iter().all(|v| *v == 0.0),
            Dist::Replay(t) => t.values.iter().all(|v| *v == 0.0),
            _ => false,
        }
    }
}
