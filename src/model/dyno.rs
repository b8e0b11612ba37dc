//! One dyno's request handling: concurrency slots, a FIFO backlog, and processor sharing of the
//! CPU its host gives it among the requests in their CPU phase.
//!
//! Processor sharing is exact in simulated time with a virtual clock: every request in the CPU
//! phase progresses at the same rate (the dyno's cores divided by the number of such requests,
//! times the host's speed), so it suffices to track the service each of them has received
//! (`vwork`) and give each request a finish tag `vwork_at_start + demand`. The next completion is
//! the smallest tag; when the rate changes, only that one completion is rescheduled (stale events
//! are recognised by `epoch`).
//!
//! **App-server processes.** A dyno's slots may belong to several app-server processes (Puma or
//! gunicorn workers) of several threads each. In a runtime with a global lock (Ruby's GVL,
//! Python's GIL, a Node event loop) a process runs one request's CPU work at a time: its other
//! requests wait their turn, FIFO, while their I/O waits still overlap. [`Workers`] holds that
//! state; a dyno whose processes have one thread each (every scenario that says `concurrency`)
//! has none, and its request path does not look for it (`Dyno::gvl` is false).

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
    /// Its processes run several threads under a global lock: `workers` is set.
    pub gvl: bool,
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
    /// The app-server processes, when their threads share a global lock (`gvl`).
    pub workers: Option<Box<Workers>>,
    /// Memory that requests of endpoints with their own `per_request_mb` hold beyond the
    /// process's `per_request_mb` (0 without such endpoints), MiB.
    pub endpoint_mb: f64,
}

/// The app-server processes of a dyno whose threads share a global lock: which process holds
/// each request, and the CPU thread of each process (one request's CPU work at a time, the rest
/// waiting FIFO).
#[derive(Debug, Default)]
pub(crate) struct Workers {
    /// Requests each process holds (in any phase on the dyno).
    held: Vec<u32>,
    /// Whether each process's CPU thread runs a request's CPU phase.
    busy: Vec<bool>,
    /// Requests waiting for their process's CPU thread, FIFO.
    waiting: Vec<VecDeque<u32>>,
}

impl Workers {
    pub fn new(processes: u32) -> Workers {
        let n = processes as usize;
        Workers {
            held: vec![0; n],
            busy: vec![false; n],
            waiting: (0..n).map(|_| VecDeque::new()).collect(),
        }
    }

    /// The process a new request goes to: the one holding the fewest requests, the lowest
    /// index among equals (the request is counted there).
    pub fn assign(&mut self) -> u16 {
        let mut best = 0;
        for (i, &h) in self.held.iter().enumerate() {
            if h < self.held[best] {
                best = i;
            }
        }
        self.held[best] += 1;
        best as u16
    }

    /// Request `req` of process `w` starts its CPU phase: true if it takes the CPU thread now,
    /// false if it waits for it behind the process's running request.
    pub fn acquire(&mut self, w: u16, req: u32) -> bool {
        let w = w as usize;
        if self.busy[w] {
            self.waiting[w].push_back(req);
            false
        } else {
            self.busy[w] = true;
            true
        }
    }

    /// The CPU phase of process `w`'s running request ended: the next waiting request, if any,
    /// takes the thread.
    pub fn release(&mut self, w: u16) -> Option<u32> {
        let w = w as usize;
        let next = self.waiting[w].pop_front();
        self.busy[w] = next.is_some();
        next
    }

    /// A request of process `w` left the dyno.
    pub fn leave(&mut self, w: u16) {
        let h = &mut self.held[w as usize];
        *h = h.saturating_sub(1);
    }

    /// How many processes run a request's CPU phase now.
    #[cfg(test)]
    pub fn running(&self) -> usize {
        self.busy.iter().filter(|b| **b).count()
    }

    /// Requests waiting for a CPU thread, over all processes.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.waiting.iter().map(VecDeque::len).sum()
    }
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
            gvl: false,
            workers: None,
            endpoint_mb: 0.0,
        }
    }

    /// Give the dyno `processes` app-server processes whose threads share a global lock.
    pub fn set_workers(&mut self, processes: u32) {
        self.gvl = true;
        self.workers = Some(Box::new(Workers::new(processes)));
    }

    /// The lock state of a dyno with `gvl` set.
    #[inline]
    pub fn workers(&mut self) -> &mut Workers {
        self.workers
            .as_deref_mut()
            .expect("a dyno with a global lock has its workers")
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

    /// Move every request whose CPU work is done into `done` (call `advance` first): every
    /// request [`completion_time`](Self::completion_time) would put at `now`, so each completion
    /// event finishes at least one request or lies at least a nanosecond later.
    #[inline]
    pub fn pop_done(&mut self, done: &mut Vec<u32>) {
        while let Some(Reverse((tag, req))) = self.running.peek().copied() {
            if !self.done_now(f64::from_bits(tag)) {
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

    /// Whether a request with finish tag `tag` is done at the current virtual time. Completion
    /// times are rounded up to whole nanoseconds, so a finished tag can exceed `vwork` by float
    /// rounding (a relative hair of slack), or by less than what the clock can resolve: work
    /// that [`completion_step`] would finish in zero nanoseconds is done now. Without the second
    /// rule, a remainder between the two (a tiny demand, or the fraction left by a step, while
    /// the virtual clock is small) was rescheduled at the same instant forever.
    #[inline]
    fn done_now(&self, tag: f64) -> bool {
        let remaining = tag - self.vwork;
        remaining <= 1e-9 * self.vwork.abs().max(1.0)
            || (self.rate > 0.0 && completion_step(remaining, self.rate) == 0.0)
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
        if let Some(w) = &mut self.workers {
            **w = Workers::new(w.held.len() as u32);
        }
        self.endpoint_mb = 0.0;
    }

    /// Time of the next CPU completion at the current rate, and the request it completes, if
    /// any request is running.
    #[inline]
    pub fn completion_time(&self, now: SimTime) -> Option<(SimTime, u32)> {
        let Reverse((tag, req)) = *self.running.peek()?;
        if self.rate <= 0.0 {
            return None;
        }
        let dt = completion_step(f64::from_bits(tag) - self.vwork, self.rate);
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

/// Whole nanoseconds until `remaining` work-ns are served at `rate` work-ns per ns: rounded up,
/// but not for float noise just above an integer (so a remainder below a millionth of a
/// nanosecond takes no time). One formula for [`Dyno::completion_time`] and [`Dyno::pop_done`].
#[inline]
fn completion_step(remaining: f64, rate: f64) -> f64 {
    (remaining.max(0.0) / rate - 1e-6).ceil().max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests go to the process holding the fewest (the lowest index among equals); a
    /// process's CPU thread runs one request at a time and hands it on in arrival order.
    #[test]
    fn workers_take_the_least_loaded_process_and_hand_the_lock_on_fifo() {
        let mut w = Workers::new(3);
        let assigned: Vec<u16> = (0..7).map(|_| w.assign()).collect();
        assert_eq!(assigned, [0, 1, 2, 0, 1, 2, 0]);
        w.leave(1);
        w.leave(1);
        assert_eq!(w.assign(), 1, "process 1 now holds the fewest");
        assert!(w.acquire(0, 10));
        assert!(!w.acquire(0, 11));
        assert!(!w.acquire(0, 12));
        assert!(w.acquire(2, 20), "another process runs in parallel");
        assert_eq!((w.running(), w.waiting()), (2, 2));
        assert_eq!(w.release(0), Some(11));
        assert_eq!(w.release(0), Some(12));
        assert_eq!((w.running(), w.waiting()), (2, 0));
        assert_eq!(w.release(0), None);
        assert_eq!(w.release(2), None);
        assert_eq!(w.running(), 0);
        assert!(w.acquire(0, 13), "a free thread is taken at once");
    }

    /// Every completion event finishes its request or lies at least a nanosecond later, and the
    /// request is done by its exact finish time rounded up to the nanosecond. Before the clock's
    /// resolution was taken into account, a remainder below a millionth of a nanosecond (1 ns
    /// served of 1.0000005) was rescheduled at the same instant forever.
    #[test]
    fn every_completion_event_makes_progress() {
        for work in [1e-4, 2.5e-7, 1.000_000_5, 3.000_000_4, 0.0, 1e6 + 0.3] {
            for cores in [1.0, 0.37, 3.0, 8.0] {
                let mut d = Dyno::new(0, 1, 0, 0, 0, 8.0, 1.0, 4, SimTime::ZERO);
                d.push_running(7, work);
                d.set_allocation(cores, 1.0);
                let mut now = SimTime::ZERO;
                let mut done = Vec::new();
                for step in 0.. {
                    let (at, req) = d.completion_time(now).expect("a request runs");
                    assert_eq!(req, 7);
                    assert!(
                        step == 0 || at > now,
                        "work {work} at {cores} cores: no progress at {now:?}"
                    );
                    assert!(step < 3, "work {work} at {cores} cores: {step} events");
                    now = at;
                    d.advance(now);
                    d.pop_done(&mut done);
                    if !done.is_empty() {
                        break;
                    }
                }
                assert_eq!(done, [7]);
                let exact_ns = (work / cores).ceil() as u64;
                assert!(now.as_nanos() <= exact_ns, "work {work}: done at {now:?}");
                assert!(
                    now.as_nanos() + 1 >= exact_ns,
                    "work {work} at {cores} cores: done at {now:?}, too early"
                );
            }
        }
    }
}
