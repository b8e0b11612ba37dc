//! One dyno's request handling: concurrency slots, a FIFO backlog, and processor sharing of its
//! cores among the requests in their CPU phase.
//!
//! Processor sharing is exact in simulated time with a virtual clock: every request in the CPU
//! phase progresses at the same rate `min(1, cores / n)`, so it suffices to track the service each
//! of them has received since the dyno started (`vwork`) and give each request a finish tag
//! `vwork_at_start + demand`. The next completion is the smallest tag; when `n` changes, the rate
//! changes and only that one completion is rescheduled (stale ones are recognised by `epoch`).

use crate::engine::{SimDuration, SimTime};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Work units are nanoseconds of one reference core.
pub(crate) struct Dyno {
    pub process: u32,
    /// 1-based index within its process (`web.3` has index 3).
    pub index: u32,
    pub cores: f64,
    pub concurrency: u32,
    /// Requests holding a slot (CPU or wait phase).
    pub busy_slots: u32,
    /// Requests waiting for a slot, FIFO.
    pub backlog: VecDeque<u32>,
    /// Requests in the CPU phase, min-heap by (finish tag bits, request id).
    running: BinaryHeap<Reverse<(u64, u32)>>,
    /// Service received per CPU-phase request since the start, in work-ns.
    vwork: f64,
    /// Current per-request service rate in work-ns per ns.
    rate: f64,
    last_update: SimTime,
    /// Incremented on every reschedule; completion events carry it to detect staleness.
    pub epoch: u32,
    // Counters.
    pub served: u64,
    pub busy_core_ns: f64,
    pub max_backlog: usize,
}

impl Dyno {
    pub fn new(process: u32, index: u32, cores: f64, concurrency: u32) -> Dyno {
        Dyno {
            process,
            index,
            cores,
            concurrency,
            busy_slots: 0,
            backlog: VecDeque::new(),
            running: BinaryHeap::new(),
            vwork: 0.0,
            rate: 0.0,
            last_update: SimTime::ZERO,
            epoch: 0,
            served: 0,
            busy_core_ns: 0.0,
            max_backlog: 0,
        }
    }

    /// Bring the virtual clock to `now`.
    #[inline]
    fn advance(&mut self, now: SimTime) {
        let dt = now.since(self.last_update).as_nanos() as f64;
        if dt > 0.0 && !self.running.is_empty() {
            self.vwork += dt * self.rate;
            self.busy_core_ns += dt * self.rate * self.running.len() as f64;
        }
        self.last_update = now;
    }

    #[inline]
    fn recompute_rate(&mut self) {
        let n = self.running.len() as f64;
        self.rate = if n == 0.0 {
            0.0
        } else {
            (self.cores / n).min(1.0)
        };
    }

    /// Start the CPU phase of request `req` with `work` work-ns of demand. Returns the time of
    /// the next completion on this dyno, to be scheduled with the new `epoch`.
    #[inline]
    pub fn start_cpu(&mut self, now: SimTime, req: u32, work: f64) -> Option<SimTime> {
        self.advance(now);
        let tag = self.vwork + work.max(0.0);
        self.running.push(Reverse((tag.to_bits(), req)));
        self.recompute_rate();
        self.next_completion(now)
    }

    /// Pop every request whose CPU work is done at `now` into `done`; returns the next completion.
    #[inline]
    pub fn complete_cpu(&mut self, now: SimTime, done: &mut Vec<u32>) -> Option<SimTime> {
        self.advance(now);
        // Completion times are rounded up to whole nanoseconds, so a finished tag is at most
        // `rate` work-ns short of `vwork` only through float rounding; allow a hair of slack.
        let limit = self.vwork + 1e-6 * self.vwork.max(1.0).log2().max(1.0);
        while let Some(Reverse((tag, req))) = self.running.peek().copied() {
            if f64::from_bits(tag) > limit {
                break;
            }
            self.running.pop();
            done.push(req);
        }
        self.recompute_rate();
        self.next_completion(now)
    }

    #[inline]
    fn next_completion(&mut self, now: SimTime) -> Option<SimTime> {
        self.epoch = self.epoch.wrapping_add(1);
        let Reverse((tag, _)) = *self.running.peek()?;
        let remaining = (f64::from_bits(tag) - self.vwork).max(0.0);
        let dt = (remaining / self.rate).ceil();
        Some(now + SimDuration::from_nanos(dt as u64))
    }

    /// Close the books at the end of the run.
    pub fn finish(&mut self, now: SimTime) {
        self.advance(now);
    }
}
