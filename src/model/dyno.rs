//! One dyno's request handling: concurrency slots, a FIFO backlog, and processor sharing of the
//! CPU its host gives it among the requests in their CPU phase.
//!
//! Processor sharing is exact in simulated time with a virtual clock: every request in the CPU
//! phase progresses at the same rate (the dyno's cores divided by the number of such requests,
//! times the host's speed), so it suffices to track the service each of them has received
//! (`vwork`) and give each request a finish tag `vwork_at_start + demand`. The next completion is
//! the smallest tag; when the rate changes, only that one completion is rescheduled (stale events
//! are recognised by `epoch`).

use crate::engine::{SimDuration, SimTime};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// CFS bandwidth control state of a capped dyno (Linux sched-bwc: quota per period, throttled
/// until the next period once spent).
pub(crate) struct Cfs {
    /// CPU time per period, in core-ns.
    pub quota: f64,
    pub period: u64,
    /// Offset of the period boundaries, in [0, period).
    pub phase: u64,
    pub budget: f64,
    pub period_idx: u64,
    pub throttled: bool,
    throttled_since: SimTime,
    pub throttled_ns: u64,
    /// Incremented on every reschedule of the CFS event.
    pub epoch: u32,
}

impl Cfs {
    pub fn new(quota_cores: f64, period: u64, phase: u64) -> Cfs {
        Cfs {
            quota: quota_cores * period as f64,
            period,
            phase: phase % period.max(1),
            budget: quota_cores * period as f64,
            period_idx: 0,
            throttled: false,
            throttled_since: SimTime::ZERO,
            throttled_ns: 0,
            epoch: 0,
        }
    }

    fn index(&self, now: SimTime) -> u64 {
        (now.as_nanos() + self.period - self.phase) / self.period
    }

    /// Start of the next period after `now`.
    pub fn next_boundary(&self, now: SimTime) -> SimTime {
        SimTime(self.phase + self.index(now) * self.period)
    }

    /// Refill the budget if a new period has begun; returns true if that lifted a throttle.
    pub fn refresh(&mut self, now: SimTime) -> bool {
        let idx = self.index(now);
        if idx == self.period_idx {
            return false;
        }
        self.period_idx = idx;
        self.budget = self.quota;
        if self.throttled {
            self.throttled = false;
            self.throttled_ns += now.since(self.throttled_since).as_nanos();
            return true;
        }
        false
    }

    /// Throttle if the budget is spent; returns true if it throttled now.
    pub fn check(&mut self, now: SimTime) -> bool {
        if !self.throttled && self.budget <= self.quota * 1e-9 {
            self.throttled = true;
            self.throttled_since = now;
            return true;
        }
        false
    }

    /// Throttled time including a throttle still running at `now`.
    pub fn throttled_until(&self, now: SimTime) -> u64 {
        self.throttled_ns
            + if self.throttled {
                now.since(self.throttled_since).as_nanos()
            } else {
                0
            }
    }
}

/// Where a dyno incarnation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Started, not yet listening: the router does not send it requests.
    Booting,
    /// Serving.
    Up,
    /// SIGTERM sent: finishing what it holds, taking nothing new.
    Draining,
    /// Stopped, crashed or killed; its filesystem is gone.
    Dead,
}

/// One start of a dyno ("incarnation"): its own CPU state, slots, memory and filesystem.
/// The dyno's name (`web.3`) belongs to its slot and survives restarts; everything here does not.
/// Work units are nanoseconds of one reference core.
///
/// `repr(C)`, line-aligned, fields grouped by the events that touch them: in a fleet of
/// thousands of dynos each event's dyno is a cache miss per line it reads, so each event should
/// read as few lines as it can. Line 1: what every CPU and slot event reads (staleness, state,
/// slots, the virtual clock). Line 2: the CPU share (weights, the running set). Line 3: what the
/// router and the memory check read (router counters, in-flight count, memory inputs). The rest
/// is read on lifecycle events or when a dyno is saturated.
#[repr(C, align(64))]
pub(crate) struct Dyno {
    // --- Line 1 ---
    /// Incremented on every reschedule; completion events carry it to detect staleness.
    pub epoch: u32,
    /// Host instance index.
    pub host: u32,
    pub state: State,
    /// Above the memory quota (R14), and since when.
    pub r14: bool,
    pub concurrency: u32,
    /// Requests holding a slot (CPU or wait phase).
    pub busy_slots: u32,
    /// When the pending completion event fires (`SimTime::MAX` if none).
    pub cpu_next: SimTime,
    last_update: SimTime,
    /// Service received per CPU-phase request since the start, in work-ns.
    vwork: f64,
    /// Per-request service rate in work-ns per ns.
    rate: f64,
    /// Cores allocated by the host right now.
    pub alloc: f64,
    // --- Line 2 ---
    /// Fair-share weight (the size's CPU share).
    pub weight: f64,
    /// Most cores the dyno may use at once (its vCPUs, or a lower quota).
    pub cap: f64,
    /// CPU time received (core-ns), what `cpuacct.usage` would show.
    pub cpu_ns: f64,
    /// Boxed: only capped dynos have one, and every CPU event tests for it.
    pub cfs: Option<Box<Cfs>>,
    /// Requests in the CPU phase, min-heap by (finish tag bits, request id).
    running: BinaryHeap<Reverse<(u64, u32)>>,
    /// When the pending memory event fires (`SimTime::MAX` if none).
    pub mem_next: SimTime,
    // --- Line 3 ---
    /// Requests each of its app's routers has sent here and not yet had back (inline for up
    /// to 4 routers, the default: routing reads it for every pick).
    pub router_active: smallvec::SmallVec<[u32; 4]>,
    /// Requests assigned to it: on their way, in the backlog, or holding a slot. The backlog
    /// is empty whenever this equals `busy_slots`, which spares reading it.
    pub in_flight: u32,
    pub process: u32,
    pub last_request: SimTime,
    /// Requests it finished (summed per slot at the end).
    pub served: u64,
    pub started: SimTime,
    pub fs_bytes: u64,
    // --- Cold: saturation, lifecycle, filesystem. ---
    /// Requests waiting for a slot, FIFO.
    pub backlog: VecDeque<u32>,
    /// Incremented on every reschedule of the memory event.
    pub mem_epoch: u32,
    /// 1-based index within its process (`web.3` has index 3).
    pub index: u32,
    /// Global slot index and which start of that slot this is (0 = first).
    pub slot: u32,
    pub incarnation: u32,
    /// This boot will exceed the boot timeout (R10).
    pub boot_fails: bool,
    pub up_at: SimTime,
    pub r14_since: SimTime,
    /// Last time an R14 event was logged (they repeat while the dyno swaps).
    pub r14_logged: Option<SimTime>,
    /// Files written on its ephemeral filesystem: client -> bytes.
    pub files: std::collections::HashMap<u32, u64>,
    /// Local cache: one bit per item.
    pub cache: Vec<u64>,
}

/// The layout above, checked: a field that drifts to another line costs every event a miss.
const _: () = {
    use std::mem::offset_of;
    assert!(offset_of!(Dyno, alloc) < 64);
    assert!(offset_of!(Dyno, weight) == 64 && offset_of!(Dyno, mem_next) < 128);
    assert!(offset_of!(Dyno, router_active) == 128 && offset_of!(Dyno, fs_bytes) < 192);
};

impl Dyno {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        process: u32,
        index: u32,
        slot: u32,
        incarnation: u32,
        host: u32,
        cap: f64,
        weight: f64,
        concurrency: u32,
        now: SimTime,
    ) -> Dyno {
        Dyno {
            process,
            index,
            slot,
            incarnation,
            state: State::Booting,
            started: now,
            up_at: now,
            boot_fails: false,
            in_flight: 0,
            last_request: now,
            files: std::collections::HashMap::new(),
            fs_bytes: 0,
            cache: Vec::new(),
            r14: false,
            r14_since: now,
            router_active: smallvec::SmallVec::new(),
            mem_epoch: 0,
            mem_next: SimTime::MAX,
            r14_logged: None,
            host,
            cap,
            weight,
            concurrency,
            busy_slots: 0,
            backlog: VecDeque::new(),
            running: BinaryHeap::new(),
            vwork: 0.0,
            rate: 0.0,
            alloc: 0.0,
            last_update: now,
            epoch: 0,
            cpu_next: SimTime::MAX,
            cfs: None,
            cpu_ns: 0.0,
            served: 0,
        }
    }

    /// Bring the virtual clock and the counters to `now` at the current rate.
    #[inline]
    pub fn advance(&mut self, now: SimTime) {
        let dt = now.since(self.last_update).as_nanos() as f64;
        if dt > 0.0 && self.alloc > 0.0 {
            self.vwork += dt * self.rate;
            self.cpu_ns += dt * self.alloc;
            if let Some(c) = &mut self.cfs {
                c.budget -= dt * self.alloc;
            }
        }
        self.last_update = now;
    }

    /// Cores the dyno could use now: one per running request, at most its cap, none while
    /// throttled.
    #[inline]
    pub fn demand(&self) -> f64 {
        if self.cfs.as_ref().is_some_and(|c| c.throttled) {
            0.0
        } else {
            (self.running.len() as f64).min(self.cap)
        }
    }

    /// Add a request to the CPU phase (call `advance` first).
    #[inline]
    pub fn push_running(&mut self, req: u32, work: f64) {
        let tag = self.vwork + work.max(0.0);
        self.running.push(Reverse((tag.to_bits(), req)));
    }

    /// Move every request whose CPU work is done into `done` (call `advance` first).
    #[inline]
    pub fn pop_done(&mut self, done: &mut Vec<u32>) {
        // Completion times are rounded up to whole nanoseconds, so a finished tag can exceed
        // `vwork` only by float rounding; allow a relative hair of slack.
        let limit = self.vwork + 1e-9 * self.vwork.abs().max(1.0);
        while let Some(Reverse((tag, req))) = self.running.peek().copied() {
            if f64::from_bits(tag) > limit {
                break;
            }
            self.running.pop();
            done.push(req);
        }
        if self.running.is_empty() {
            // No tags outstanding: restart the virtual clock so it never grows large enough
            // to lose nanoseconds to float rounding.
            self.vwork = 0.0;
        }
    }

    /// Set the cores the host gives this dyno and the speed of those cores; returns whether the
    /// per-request rate changed.
    #[inline]
    pub fn set_allocation(&mut self, cores: f64, speed: f64) -> bool {
        let n = self.running.len() as f64;
        let rate = if n > 0.0 { cores * speed / n } else { 0.0 };
        self.alloc = cores;
        let changed = rate != self.rate;
        self.rate = rate;
        changed
    }

    /// Whether the cache holds `item`.
    pub fn cached(&self, item: u32) -> bool {
        self.cache
            .get(item as usize / 64)
            .is_some_and(|w| w >> (item % 64) & 1 == 1)
    }

    /// Put `item` in the cache.
    pub fn cache_insert(&mut self, item: u32) {
        let w = item as usize / 64;
        if self.cache.len() <= w {
            self.cache.resize(w + 1, 0);
        }
        self.cache[w] |= 1 << (item % 64);
    }

    /// Forget every request in the CPU phase (the dyno died); stale completions are ignored.
    pub fn clear_running(&mut self) {
        // Free the memory, not just the contents: dead incarnations pile up over long runs.
        self.running = BinaryHeap::new();
        self.backlog = VecDeque::new();
        self.busy_slots = 0;
        self.in_flight = 0;
        self.rate = 0.0;
        self.alloc = 0.0;
        self.epoch = self.epoch.wrapping_add(1);
        self.cpu_next = SimTime::MAX;
    }

    /// Time of the next CPU completion at the current rate, and the request it completes, if
    /// any request is running.
    #[inline]
    pub fn completion_time(&self, now: SimTime) -> Option<(SimTime, u32)> {
        let Reverse((tag, req)) = *self.running.peek()?;
        if self.rate <= 0.0 {
            return None;
        }
        let remaining = (f64::from_bits(tag) - self.vwork).max(0.0);
        // Round up to whole nanoseconds, but not for float noise just above an integer.
        let dt = (remaining / self.rate - 1e-6).ceil().max(0.0);
        Some((now + SimDuration::from_nanos(dt as u64), req))
    }

    /// Whether a completion event must be scheduled for `at`: only if no earlier one is pending.
    /// A pending event that fires before anything is done just reschedules, so the queue gets
    /// one entry per speed-up instead of one per change. Bumps `epoch` when it says yes.
    #[inline]
    pub fn claim_completion(&mut self, at: SimTime) -> bool {
        if at < self.cpu_next {
            self.epoch = self.epoch.wrapping_add(1);
            self.cpu_next = at;
            true
        } else {
            false
        }
    }
}
