//! `{ poisson = R }`: a constant rate; exponential gaps by inversion, one uniform per gap, from
//! the app's `arrivals/<app>` stream (the numbers every existing scenario was made with).

use super::{ArrivalProcess, Intensity};
use crate::engine::{RngStream, SimDuration, SimTime};

/// Poisson arrivals at a constant rate.
pub struct PoissonArrivals {
    rate: f64,
    mean_gap_s: f64,
    rng: RngStream,
}

impl PoissonArrivals {
    pub fn new(rate: f64, rng: RngStream) -> PoissonArrivals {
        PoissonArrivals {
            rate,
            mean_gap_s: 1.0 / rate,
            rng,
        }
    }
}

impl ArrivalProcess for PoissonArrivals {
    #[inline]
    fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        if !self.mean_gap_s.is_finite() {
            return None; // a rate of zero: nothing ever arrives
        }
        Some(now + SimDuration::from_secs_f64(self.rng.exp(self.mean_gap_s)))
    }

    fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        self.rate * to.since(from).as_secs_f64()
    }
}

/// A constant rate as an [`Intensity`], for bursts on top of Poisson arrivals.
#[derive(Debug, Clone, Copy)]
pub struct Constant(pub f64);

impl Intensity for Constant {
    fn rate(&mut self, _t: f64) -> f64 {
        self.0
    }
    fn bound(&mut self, _t: f64) -> (f64, f64) {
        (self.0, f64::INFINITY)
    }
    fn integral(&mut self, a: f64, b: f64) -> f64 {
        self.0 * (b - a)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Arrivals, arrival_process};
    use crate::engine::{SeedTree, SimTime};

    #[test]
    fn poisson_arrivals_have_the_mean_gap_and_none_at_rate_zero() {
        let seeds = SeedTree::new(7);
        let stream = |_: &str| seeds.stream();
        let mut a = arrival_process(&Arrivals::Poisson { rate: 100.0 }, &stream);
        let mut t = SimTime::ZERO;
        let n = 100_000;
        for _ in 0..n {
            t = a.next_arrival(t).unwrap();
        }
        let mean_gap_s = t.as_secs_f64() / f64::from(n);
        // Standard error of the mean gap: 0.01 s / sqrt(n) = 3.2e-5 s; allow 5 of them.
        assert!((mean_gap_s - 0.01).abs() < 1.6e-4, "{mean_gap_s}");
        let mut none = arrival_process(&Arrivals::Poisson { rate: 0.0 }, &stream);
        assert_eq!(none.next_arrival(SimTime::ZERO), None);
    }
}
