//! `{ stages = [ { at = D, rate = R }, ... ], repeat = D }`: a rate given at points in time,
//! linear in between (k6's `ramping-arrival-rate` stages written as absolute times; see
//! ../shared/reference/planner-anchors.md 5.2). Before the first point the first rate holds,
//! after the last the last rate holds; two points at the same time make a jump. With `repeat`,
//! the profile starts again every `repeat` (the time within the period is what the points name).

use super::Intensity;

/// A piecewise-linear rate. Points are sorted by time (equal times allowed: a jump).
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    /// `(at_s, rate)`, at least one point, `at_s` non-decreasing, rates at least 0.
    pub points: Vec<(f64, f64)>,
    /// Period in seconds, at least the last point's time.
    pub repeat_s: Option<f64>,
}

impl Stages {
    /// The same profile with every rate times `f`.
    pub fn scaled(&self, f: f64) -> Stages {
        Stages {
            points: self.points.iter().map(|&(t, r)| (t, r * f)).collect(),
            repeat_s: self.repeat_s,
        }
    }

    /// The mean rate over one period when it repeats; otherwise the last rate (held for ever).
    pub fn long_run_rate(&self) -> f64 {
        match self.repeat_s {
            Some(p) if p > 0.0 => self.within(p) / p,
            _ => self.points.last().map_or(0.0, |p| p.1),
        }
    }

    /// The lowest and highest rate the profile takes.
    pub fn rate_range(&self) -> (f64, f64) {
        let rates = self.points.iter().map(|p| p.1);
        (
            rates.clone().fold(f64::INFINITY, f64::min),
            rates.fold(0.0, f64::max),
        )
    }

    /// `(time within the period, start of the period)`.
    fn fold(&self, t: f64) -> (f64, f64) {
        match self.repeat_s {
            Some(p) if p > 0.0 => {
                let k = (t / p).floor();
                let tt = t - k * p;
                // Rounding can leave tt a hair outside [0, p).
                if tt >= p {
                    (0.0, (k + 1.0) * p)
                } else {
                    (tt.max(0.0), k * p)
                }
            }
            _ => (t, 0.0),
        }
    }

    /// Index of the last point at or before `tt` (`None` before the first point).
    fn segment(&self, tt: f64) -> Option<usize> {
        self.points.partition_point(|p| p.0 <= tt).checked_sub(1)
    }

    /// Rate at time `tt` within the period.
    fn rate_within(&self, tt: f64) -> f64 {
        let pts = &self.points;
        match self.segment(tt) {
            None => pts[0].1,
            Some(i) if i + 1 == pts.len() => pts[i].1,
            Some(i) => {
                let ((t0, r0), (t1, r1)) = (pts[i], pts[i + 1]);
                // t1 > t0 here: a jump's first point is never the last at or before tt.
                r0 + (r1 - r0) * (tt - t0) / (t1 - t0)
            }
        }
    }

    /// `∫ rate` over `[0, tt]` within one period (or from the start without a period).
    fn within(&self, tt: f64) -> f64 {
        let pts = &self.points;
        let (t_first, r_first) = pts[0];
        if tt <= t_first {
            return r_first * tt;
        }
        let mut acc = r_first * t_first;
        for w in pts.windows(2) {
            let ((t0, r0), (t1, r1)) = (w[0], w[1]);
            if tt >= t1 {
                acc += 0.5 * (r0 + r1) * (t1 - t0);
            } else {
                let r = r0 + (r1 - r0) * (tt - t0) / (t1 - t0);
                return acc + 0.5 * (r0 + r) * (tt - t0);
            }
        }
        let (t_last, r_last) = pts[pts.len() - 1];
        acc + r_last * (tt - t_last)
    }

    /// `∫ rate` over `[0, t]`.
    fn cumulative(&self, t: f64) -> f64 {
        let (tt, start) = self.fold(t);
        match self.repeat_s {
            Some(p) if p > 0.0 => (start / p).round() * self.within(p) + self.within(tt),
            _ => self.within(tt),
        }
    }
}

impl Intensity for Stages {
    fn rate(&mut self, t: f64) -> f64 {
        self.rate_within(self.fold(t).0)
    }

    /// The higher end of the current segment, until its end (or the end of the period).
    fn bound(&mut self, t: f64) -> (f64, f64) {
        let (tt, start) = self.fold(t);
        let pts = &self.points;
        let end_of_period = self.repeat_s.map_or(f64::INFINITY, |p| start + p);
        let (bound, until) = match self.segment(tt) {
            None => (pts[0].1, start + pts[0].0),
            Some(i) if i + 1 == pts.len() => (pts[i].1, end_of_period),
            Some(i) => (pts[i].1.max(pts[i + 1].1), start + pts[i + 1].0),
        };
        // Guard against rounding giving an end at or before t: move on by a nanosecond.
        (bound, if until > t { until } else { t + 1e-9 })
    }

    fn integral(&mut self, a: f64, b: f64) -> f64 {
        self.cumulative(b) - self.cumulative(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lunch() -> Stages {
        Stages {
            points: vec![
                (0.0, 40.0),
                (100.0, 40.0),
                (110.0, 120.0),
                (120.0, 120.0),
                (130.0, 40.0),
            ],
            repeat_s: Some(200.0),
        }
    }

    #[test]
    fn rate_is_linear_between_points_and_repeats() {
        let mut s = lunch();
        assert_eq!(s.rate(50.0), 40.0);
        assert!((s.rate(105.0) - 80.0).abs() < 1e-12);
        assert_eq!(s.rate(125.0), 80.0);
        assert_eq!(s.rate(150.0), 40.0);
        assert!((s.rate(305.0) - 80.0).abs() < 1e-9);
    }

    #[test]
    fn integral_is_the_area_under_the_profile() {
        let mut s = lunch();
        // One period: 40 x 200 + ramps (2 x 10 x 40) + plateau (10 x 80) = 8000 + 800 + 800.
        assert!((s.integral(0.0, 200.0) - 9600.0).abs() < 1e-9);
        assert!((s.integral(200.0, 400.0) - 9600.0).abs() < 1e-9);
        assert!((s.integral(100.0, 110.0) - 800.0).abs() < 1e-9);
        assert!((s.long_run_rate() - 48.0).abs() < 1e-12);
    }

    #[test]
    fn equal_times_make_a_jump_and_the_first_rate_holds_before_the_first_point() {
        let mut s = Stages {
            points: vec![(10.0, 5.0), (20.0, 5.0), (20.0, 50.0)],
            repeat_s: None,
        };
        assert_eq!(s.rate(0.0), 5.0);
        assert_eq!(s.rate(19.999), 5.0);
        assert_eq!(s.rate(20.0), 50.0);
        assert_eq!(s.rate(1e6), 50.0);
        assert_eq!(s.bound(15.0), (5.0, 20.0));
        assert_eq!(s.bound(20.0), (50.0, f64::INFINITY));
        assert!((s.integral(0.0, 30.0) - (100.0 + 500.0)).abs() < 1e-9);
    }
}
