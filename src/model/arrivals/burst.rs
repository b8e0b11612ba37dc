//! `[[app.workload.burst]]`: the rate of any Poisson-type arrivals multiplied by `factor` from
//! `at` for `duration` (a flash sale, a push notification, a retry storm), optionally ramping
//! linearly from 1 to `factor` over the first `ramp` and back over the last `ramp`. Overlapping
//! bursts multiply. The result is again an [`Intensity`], simulated by thinning with the base's
//! bound times the bursts' highest factor on each piece.

use super::Intensity;

/// One burst, times in seconds from the start of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burst {
    pub at_s: f64,
    pub duration_s: f64,
    /// Rate multiplier at the plateau (at least 0).
    pub factor: f64,
    /// Length of each linear ramp (0: a step); at most half the duration.
    pub ramp_s: f64,
}

impl Burst {
    fn end(&self) -> f64 {
        self.at_s + self.duration_s
    }

    /// The multiplier at `t`.
    fn factor_at(&self, t: f64) -> f64 {
        if t < self.at_s || t >= self.end() {
            return 1.0;
        }
        let into = (t - self.at_s).min(self.end() - t);
        if self.ramp_s > 0.0 && into < self.ramp_s {
            1.0 + (self.factor - 1.0) * into / self.ramp_s
        } else {
            self.factor
        }
    }

    /// The times where the multiplier changes slope.
    fn corners(&self) -> [f64; 4] {
        [
            self.at_s,
            self.at_s + self.ramp_s,
            self.end() - self.ramp_s,
            self.end(),
        ]
    }
}

/// An intensity with bursts on it.
pub struct Bursted<I> {
    base: I,
    bursts: Vec<Burst>,
    /// Every burst's corners, sorted: between two of them each multiplier is linear.
    corners: Vec<f64>,
}

impl<I: Intensity> Bursted<I> {
    pub fn new(base: I, bursts: &[Burst]) -> Bursted<I> {
        let mut corners: Vec<f64> = bursts.iter().flat_map(|b| b.corners()).collect();
        corners.sort_by(f64::total_cmp);
        corners.dedup();
        Bursted {
            base,
            bursts: bursts.to_vec(),
            corners,
        }
    }

    fn factor(&self, t: f64) -> f64 {
        self.bursts.iter().map(|b| b.factor_at(t)).product()
    }

    /// The first corner after `t`.
    fn next_corner(&self, t: f64) -> f64 {
        let i = self.corners.partition_point(|&c| c <= t);
        self.corners.get(i).copied().unwrap_or(f64::INFINITY)
    }

    /// The highest multiplier over `[t, until)`, a span with no corner inside: each burst
    /// overlapping it counts with its plateau factor (or 1, whichever is higher).
    fn factor_bound(&self, t: f64, until: f64) -> f64 {
        self.bursts
            .iter()
            .map(|b| {
                if until > b.at_s && t < b.end() {
                    b.factor.max(1.0)
                } else {
                    1.0
                }
            })
            .product()
    }

    /// Whether every multiplier is constant over `[a, b]` (no ramp overlaps it).
    fn flat(&self, a: f64, b: f64) -> bool {
        self.bursts.iter().all(|x| {
            x.ramp_s == 0.0
                || b <= x.at_s
                || a >= x.end()
                || (a >= x.at_s + x.ramp_s && b <= x.end() - x.ramp_s)
        })
    }
}

impl<I: Intensity> Intensity for Bursted<I> {
    fn rate(&mut self, t: f64) -> f64 {
        self.base.rate(t) * self.factor(t)
    }

    fn bound(&mut self, t: f64) -> (f64, f64) {
        let (b, u) = self.base.bound(t);
        let until = u.min(self.next_corner(t));
        (b * self.factor_bound(t, until), until)
    }

    /// Piece by piece between the base's pieces and the corners: the multiplier times the
    /// base's integral where the multiplier is constant; on a ramp, Simpson's rule over the
    /// base's piece, exact when the base is linear there (stages, Poisson, an MMPP state).
    fn integral(&mut self, a: f64, b: f64) -> f64 {
        let mut acc = 0.0;
        let mut s = a;
        while s < b {
            let (_, u) = self.base.bound(s);
            let e = u.min(self.next_corner(s)).min(b).max(s + 1e-9).min(b);
            if self.flat(s, e) {
                let mid = 0.5 * (s + e);
                acc += self.factor(mid) * self.base.integral(s, e);
            } else {
                const N: usize = 16;
                let h = (e - s) / N as f64;
                let mut sum = 0.0;
                for k in 0..=N {
                    // Sample just inside the ends so a jump at an end does not count.
                    let x = (s + h * k as f64).clamp(s + 1e-12, e - 1e-12);
                    let w = if k == 0 || k == N {
                        1.0
                    } else if k % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    sum += w * self.base.rate(x) * self.factor(x);
                }
                acc += sum * h / 3.0;
            }
            if e <= s {
                break;
            }
            s = e;
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::super::poisson::Constant;
    use super::*;

    #[test]
    fn a_ramped_burst_adds_its_trapezoid() {
        let burst = Burst {
            at_s: 100.0,
            duration_s: 60.0,
            factor: 10.0,
            ramp_s: 15.0,
        };
        let mut b = Bursted::new(Constant(2.0), &[burst]);
        assert_eq!(b.rate(50.0), 2.0);
        assert!((b.rate(107.5) - 11.0).abs() < 1e-12);
        assert_eq!(b.rate(130.0), 20.0);
        assert_eq!(b.rate(160.0), 2.0);
        // Extra over the base: 2 x 9 x (60 - 15) = 810.
        assert!((b.integral(0.0, 300.0) - (600.0 + 810.0)).abs() < 1e-6);
        assert!((b.integral(120.0, 140.0) - 400.0).abs() < 1e-9);
        let (bound, until) = b.bound(101.0);
        assert_eq!((bound, until), (20.0, 115.0));
    }

    #[test]
    fn overlapping_bursts_multiply() {
        let a = Burst {
            at_s: 0.0,
            duration_s: 10.0,
            factor: 2.0,
            ramp_s: 0.0,
        };
        let b = Burst { at_s: 5.0, ..a };
        let mut x = Bursted::new(Constant(1.0), &[a, b]);
        assert_eq!(x.rate(7.0), 4.0);
        assert!((x.integral(0.0, 20.0) - (10.0 + 20.0 + 10.0 + 5.0)).abs() < 1e-9);
    }
}
