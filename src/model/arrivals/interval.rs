//! `{ interval = D }`: one arrival every `gap`, the first at `gap`; no randomness.

use super::ArrivalProcess;
use crate::engine::{SimDuration, SimTime};

/// One arrival every `gap`, the first at `gap`.
pub struct IntervalArrivals {
    gap: SimDuration,
}

impl IntervalArrivals {
    pub fn new(gap: SimDuration) -> IntervalArrivals {
        IntervalArrivals { gap }
    }
}

impl ArrivalProcess for IntervalArrivals {
    #[inline]
    fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        Some(now + self.gap)
    }

    /// The arrivals at `k x gap` (k >= 1) inside `[from, to)`.
    fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        let g = self.gap.as_nanos().max(1);
        // Multiples of g in [1, x): (x - 1) / g.
        let below = |x: u64| x.saturating_sub(1) / g;
        (below(to.as_nanos()) - below(from.as_nanos())) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Arrivals, arrival_process};
    use crate::engine::{SeedTree, SimDuration, SimTime};

    #[test]
    fn interval_arrivals_come_every_gap_from_the_first_gap_on() {
        let seeds = SeedTree::new(1);
        let gap = SimDuration::from_millis(250);
        let mut a = arrival_process(&Arrivals::Interval { gap }, &|_: &str| seeds.stream());
        let t1 = a.next_arrival(SimTime::ZERO).unwrap();
        assert_eq!(t1, SimTime(250_000_000));
        assert_eq!(a.next_arrival(t1), Some(SimTime(500_000_000)));
        // Arrivals at 0.25, 0.5, 0.75 and 1.0 s: three in [0, 1 s), one in [1 s, 1.25 s).
        assert_eq!(a.offered(SimTime::ZERO, SimTime(1_000_000_000)), 3.0);
        assert_eq!(
            a.offered(SimTime(1_000_000_000), SimTime(1_250_000_000)),
            1.0
        );
    }
}
