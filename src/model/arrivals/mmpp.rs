//! `{ mmpp = { rates = [R1, R2], mean_time = [D1, D2] } }`: a two-state Markov-modulated
//! Poisson process (JMT's "Burst (MMPP2)", ../shared/reference/planner-anchors.md 5.1). The
//! state holds for an exponential time of mean `D1` (or `D2`), then switches; while in state
//! `i` requests arrive as a Poisson process of rate `Ri`. It starts in the first state.
//!
//! The state path is drawn lazily from its own stream (`mmpp-states/<app>`), one exponential per
//! sojourn, apart from the arrivals' stream: the path is the same whatever is asked of it and
//! when. The arrivals are the thinning of the path's piecewise-constant rate with the rate as the
//! bound, i.e. exponential gaps at the state's rate, restarted at each switch (exact: the gaps
//! are memoryless). The switches behind the oldest window not yet written are forgotten.

use super::Intensity;
use crate::engine::RngStream;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mmpp {
    pub rates: [f64; 2],
    /// Mean sojourn in each state, seconds.
    pub mean_time_s: [f64; 2],
}

impl Mmpp {
    /// The long-run rate: each state's rate weighted by its share of time.
    pub fn stationary_rate(&self) -> f64 {
        let [d1, d2] = self.mean_time_s;
        (self.rates[0] * d1 + self.rates[1] * d2) / (d1 + d2)
    }
}

/// The state path of an [`Mmpp`], drawn as far as it has been asked.
pub struct MmppPath {
    spec: Mmpp,
    /// `(start_s, state)` of the sojourns drawn, oldest first; never empty.
    sojourns: VecDeque<(f64, usize)>,
    /// End of the last sojourn drawn.
    end: f64,
    rng: RngStream,
}

impl MmppPath {
    pub fn new(spec: Mmpp, mut rng: RngStream) -> MmppPath {
        let end = rng.exp(spec.mean_time_s[0]);
        MmppPath {
            spec,
            sojourns: VecDeque::from([(0.0, 0)]),
            end,
            rng,
        }
    }

    /// Draw the path at least up to `t` (past it).
    fn extend(&mut self, t: f64) {
        while self.end <= t {
            let state = 1 - self.sojourns.back().map_or(1, |s| s.1);
            self.sojourns.push_back((self.end, state));
            self.end += self.rng.exp(self.spec.mean_time_s[state]);
        }
    }

    /// Index in `sojourns` of the sojourn holding `t`.
    fn at(&mut self, t: f64) -> usize {
        self.extend(t);
        self.sojourns
            .partition_point(|s| s.0 <= t)
            .saturating_sub(1)
    }

    fn sojourn_end(&self, i: usize) -> f64 {
        self.sojourns.get(i + 1).map_or(self.end, |s| s.0)
    }
}

impl Intensity for MmppPath {
    fn rate(&mut self, t: f64) -> f64 {
        let i = self.at(t);
        self.spec.rates[self.sojourns[i].1]
    }

    fn bound(&mut self, t: f64) -> (f64, f64) {
        let i = self.at(t);
        (self.spec.rates[self.sojourns[i].1], self.sojourn_end(i))
    }

    /// Along the realised path; forgets the sojourns that ended before `a`.
    fn integral(&mut self, a: f64, b: f64) -> f64 {
        self.extend(b);
        while self.sojourns.len() > 1 && self.sojourns[1].0 <= a {
            self.sojourns.pop_front();
        }
        let mut acc = 0.0;
        for i in 0..self.sojourns.len() {
            let (start, state) = self.sojourns[i];
            let (lo, hi) = (start.max(a), self.sojourn_end(i).min(b));
            if hi > lo {
                acc += self.spec.rates[state] * (hi - lo);
            }
            if self.sojourn_end(i) >= b {
                break;
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SeedTree;

    #[test]
    fn the_path_alternates_and_the_time_shares_follow_the_mean_sojourns() {
        let spec = Mmpp {
            rates: [1.0, 0.0],
            mean_time_s: [30.0, 10.0],
        };
        let mut path = MmppPath::new(spec, SeedTree::new(3).stream());
        // With rates [1, 0], the integral is the time spent in state 1: a share of 30/40.
        let horizon = 4.0e5;
        let share = path.integral(0.0, horizon) / horizon;
        // About 1e4 cycles: the share's standard error is about 0.3%; allow 1.5%.
        assert!((share - 0.75).abs() < 0.015, "{share}");
        let mut path = MmppPath::new(spec, SeedTree::new(3).stream());
        assert_eq!(path.rate(0.0), 1.0, "starts in the first state");
        let (_, until) = path.bound(0.0);
        assert_eq!(path.rate(until), 0.0, "then switches");
    }
}
