//! CPU allocation on a host: weighted fair sharing with caps (water-filling), and the CFS quota
//! settings.
//!
//! Linux CFS approximates weighted fair queueing among runnable groups (interference.md section 2:
//! a measured 1.99 : 1 CPU ratio for shares 1024 : 512). The fluid version used here gives each
//! claimant `min(demand, theta * weight)` cores, with `theta` chosen so the host is either fully
//! used or every demand is met (generalised processor sharing with caps).

use crate::engine::SimDuration;

/// One claimant for CPU on a host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    /// Relative weight (a dyno's CPU share: 1x -> 1, 2x -> 2).
    pub weight: f64,
    /// Cores it can use right now: `min(runnable threads, cap)`.
    pub demand: f64,
}

/// Split `capacity` cores among `claims` by weighted water-filling; writes each claim's cores to
/// `out` (same order). Every claim gets at most its demand; if the demands exceed the capacity,
/// claims below the fair level keep their demand and the rest share what is left in proportion
/// to their weights. Zero-weight claims get nothing when the host is contended.
///
/// O(k log k) in the number of claims.
pub fn water_fill(capacity: f64, claims: &[Claim], out: &mut [f64]) {
    debug_assert_eq!(claims.len(), out.len());
    let total: f64 = claims.iter().map(|c| c.demand.max(0.0)).sum();
    if total <= capacity {
        for (o, c) in out.iter_mut().zip(claims) {
            *o = c.demand.max(0.0);
        }
        return;
    }
    // Visit claims by demand/weight: those saturating below the water level are served in full.
    let mut order: Vec<usize> = (0..claims.len()).collect();
    let level = |c: &Claim| {
        if c.weight > 0.0 {
            c.demand.max(0.0) / c.weight
        } else {
            f64::INFINITY
        }
    };
    order.sort_by(|&a, &b| level(&claims[a]).total_cmp(&level(&claims[b])));
    let mut left = capacity.max(0.0);
    let mut weight_left: f64 = claims
        .iter()
        .filter(|c| c.demand > 0.0)
        .map(|c| c.weight.max(0.0))
        .sum();
    let mut i = 0;
    while i < order.len() {
        let c = &claims[order[i]];
        if c.demand <= 0.0 {
            out[order[i]] = 0.0;
            i += 1;
            continue;
        }
        if weight_left <= 0.0 {
            break;
        }
        let theta = left / weight_left;
        if level(c) <= theta {
            out[order[i]] = c.demand;
            left -= c.demand;
            weight_left -= c.weight.max(0.0);
            i += 1;
        } else {
            break;
        }
    }
    let theta = if weight_left > 0.0 {
        left / weight_left
    } else {
        0.0
    };
    for &j in &order[i..] {
        let c = &claims[j];
        out[j] = if c.demand > 0.0 {
            (theta * c.weight.max(0.0)).min(c.demand)
        } else {
            0.0
        };
    }
}

/// How CPU caps are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuMode {
    /// Caps limit the instantaneous rate (a fluid approximation of CFS bandwidth control).
    Fluid,
    /// CFS bandwidth control: a capped dyno gets `quota x period` of CPU time per period and is
    /// throttled until the next period once it is spent (Linux sched-bwc.rst).
    Cfs,
}

/// CPU settings of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuSpec {
    pub mode: CpuMode,
    /// CFS period (100 ms is the kernel default).
    pub period: SimDuration,
    /// Fixed offset of every dyno's period boundaries, or `None` for a random phase per dyno.
    pub phase: Option<SimDuration>,
}

impl Default for CpuSpec {
    fn default() -> Self {
        CpuSpec {
            mode: CpuMode::Fluid,
            period: SimDuration::from_millis(100),
            phase: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(cap: f64, claims: &[(f64, f64)]) -> Vec<f64> {
        let c: Vec<Claim> = claims
            .iter()
            .map(|&(weight, demand)| Claim { weight, demand })
            .collect();
        let mut out = vec![0.0; c.len()];
        water_fill(cap, &c, &mut out);
        out
    }

    #[test]
    fn shares_follow_weights_when_saturated() {
        let x = fill(1.0, &[(1.0, 1.0), (2.0, 2.0)]);
        assert!(
            (x[0] - 1.0 / 3.0).abs() < 1e-12 && (x[1] - 2.0 / 3.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn small_demands_are_met_and_the_rest_is_shared() {
        // 4 cores: a 0.5-core claim is served in full; the other two split 3.5 by weight 1:2 but
        // the second is capped at 2, leaving 1.5 for the first.
        let x = fill(4.0, &[(1.0, 0.5), (1.0, 3.0), (2.0, 2.0)]);
        assert_eq!(x, vec![0.5, 1.5, 2.0]);
        assert!((x.iter().sum::<f64>() - 4.0).abs() < 1e-12);
    }

    #[test]
    fn an_uncontended_host_meets_every_demand() {
        assert_eq!(
            fill(8.0, &[(1.0, 1.0), (2.0, 2.0), (5.0, 0.0)]),
            vec![1.0, 2.0, 0.0]
        );
    }

    #[test]
    fn many_random_claims_conserve_capacity_and_respect_caps() {
        let mut rng = crate::engine::SeedTree::new(5).stream();
        for _ in 0..2000 {
            let n = 1 + rng.below(12) as usize;
            let claims: Vec<(f64, f64)> = (0..n)
                .map(|_| (0.5 + 3.0 * rng.open01(), 4.0 * rng.open01()))
                .collect();
            let cap = 8.0 * rng.open01();
            let x = fill(cap, &claims);
            let total: f64 = claims.iter().map(|c| c.1).sum();
            let used: f64 = x.iter().sum();
            assert!(
                (used - total.min(cap)).abs() < 1e-9,
                "{claims:?} {cap} {x:?}"
            );
            for (xi, c) in x.iter().zip(&claims) {
                assert!(*xi <= c.1 + 1e-12 && *xi >= 0.0);
            }
            // Fairness: a claim that got less than its demand has the highest level among all.
            let theta = x
                .iter()
                .zip(&claims)
                .filter(|(xi, c)| **xi < c.1 - 1e-9)
                .map(|(xi, c)| xi / c.0)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
            if let Some(theta) = theta {
                for (xi, c) in x.iter().zip(&claims) {
                    assert!(xi / c.0 <= theta + 1e-9, "{claims:?} {x:?}");
                }
            }
        }
    }
}
