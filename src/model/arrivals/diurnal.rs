//! `{ diurnal = R, peak_to_mean = X, peak_at = D }`: a daily sinusoid around the mean `R`,
//! `λ(t) = R (1 + (X - 1) cos(2π (t - peak_at) / 1 day))`: peak `R X` at `peak_at`, trough
//! `R (2 - X)` twelve hours later, so `X` lies in [1, 2] for the rate to stay at least 0. A
//! peak-to-mean of 1.6 to 1.7 is typical for a global user base (Robust Perception, cited in
//! ../shared/reference/planner-anchors.md 5.1).

use super::Intensity;
use std::f64::consts::TAU;

/// Seconds in a day, the period.
pub const DAY_S: f64 = 86_400.0;

/// The pieces the thinning bound is taken over: 1/96 of a day (15 minutes), where the rate
/// moves by at most 3.3% of its swing, so about 98% of candidates are kept.
const PIECES: f64 = 96.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diurnal {
    pub mean: f64,
    pub peak_to_mean: f64,
    /// Time of day of the peak, seconds in [0, 1 day).
    pub peak_at_s: f64,
}

impl Diurnal {
    fn phase(&self, t: f64) -> f64 {
        TAU * (t - self.peak_at_s) / DAY_S
    }

    fn amplitude(&self) -> f64 {
        self.peak_to_mean - 1.0
    }

    /// `∫ rate` over `[0, t]` up to a constant.
    fn primitive(&self, t: f64) -> f64 {
        self.mean * (t + self.amplitude() * DAY_S / TAU * self.phase(t).sin())
    }
}

impl Intensity for Diurnal {
    fn rate(&mut self, t: f64) -> f64 {
        (self.mean * (1.0 + self.amplitude() * self.phase(t).cos())).max(0.0)
    }

    /// The highest rate over the current piece: at an end, or at the peak if it lies inside.
    fn bound(&mut self, t: f64) -> (f64, f64) {
        let piece = DAY_S / PIECES;
        let mut until = ((t / piece).floor() + 1.0) * piece;
        if until <= t {
            until = t + piece;
        }
        let cos_max = {
            // The peaks are where the phase is a multiple of 2π.
            let (p0, p1) = (self.phase(t), self.phase(until));
            let next_peak = (p0 / TAU).ceil() * TAU;
            if next_peak <= p1 {
                1.0
            } else {
                p0.cos().max(p1.cos())
            }
        };
        (self.mean * (1.0 + self.amplitude() * cos_max), until)
    }

    fn integral(&mut self, a: f64, b: f64) -> f64 {
        self.primitive(b) - self.primitive(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_trough_and_daily_mean() {
        let mut d = Diurnal {
            mean: 40.0,
            peak_to_mean: 1.7,
            peak_at_s: 13.0 * 3600.0,
        };
        assert!((d.rate(13.0 * 3600.0) - 68.0).abs() < 1e-9);
        assert!((d.rate(1.0 * 3600.0) - 12.0).abs() < 1e-9);
        assert!((d.integral(0.0, DAY_S) - 40.0 * DAY_S).abs() < 1e-6);
        assert!((d.integral(DAY_S, 3.0 * DAY_S) - 80.0 * DAY_S).abs() < 1e-6);
        // The bound holds over its piece, and equals the peak over the piece holding it.
        for k in 0..960 {
            let t = f64::from(k) * 90.0;
            let (b, until) = d.bound(t);
            assert!(until > t);
            for j in 0..=10 {
                let s = t + (until - t) * f64::from(j) / 10.0;
                assert!(d.rate(s) <= b + 1e-9, "{t} {s}");
            }
        }
        let (b, _) = d.bound(13.0 * 3600.0 - 1.0);
        assert!((b - 68.0).abs() < 1e-9);
    }
}
