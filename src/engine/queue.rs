//! The pending-event set: a radix heap on the event time, plus a FIFO lane for events that are
//! known to be scheduled in non-decreasing time order. Events pop in (time, insertion sequence)
//! order, exactly as from a binary heap keyed on (time, seq).
//!
//! Why a radix heap: a binary heap costs O(log n) cache-missing steps per event, so with a
//! million pending events (a large fleet's timers) it runs about 16x slower than with a thousand
//! (peers.md section 2.3). A discrete-event queue is *monotone*: the engine never schedules an
//! event before the current time (`Scheduler::at` clamps to now, `after` adds a delay), so every
//! pushed time is >= the last popped time. A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan 1990)
//! exploits exactly that: an event goes into bucket `b`, the index of the highest bit in which its
//! time differs from `last` (the time of the last event the radix heap handed out), so a push is
//! O(1) and an event only ever moves down, at most 64 times in its life and a few times on
//! average, in sequential passes over a bucket's vector that the cache prefetches well. Measured
//! in benches/README.md, "Hold model": 1.5x slower at a million pending events than at a thousand,
//! where the binary heap is 16x slower.
//!
//! Ties: every bucket keeps its events in insertion order (a push appends the newest sequence
//! number; a bucket being redistributed goes, in order, into buckets that are empty), so the
//! events at the smallest time come out in insertion order with no comparison on `seq`.
//!
//! `last` is the time of the last event popped *from the radix heap*, so it never runs ahead of the
//! clock (the lane may hold earlier events than the radix heap; the radix heap only moves `last`
//! when it hands out an event). Pushes before `last` (never made by
//! [`Simulation`](super::Simulation), possible through the public `EventQueue` API) go to a small
//! binary heap, `early`, and still pop in the right order.
//!
//! The FIFO lane is DSLab's `emit_ordered` idea: timeouts that are "arrival + constant" arrive in
//! time order, so they can sit in a `VecDeque` at O(1) and never enter the radix heap. All three
//! structures share one sequence counter, so ties still break by insertion order across them.

use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

struct Entry<E> {
    /// (time << 64 | seq) would overflow at u64::MAX times; keep both fields and compare them.
    time: u64,
    seq: u64,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn key(&self) -> (u64, u64) {
        (self.time, self.seq)
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Which structure holds the next event.
#[derive(Clone, Copy)]
enum Source {
    Radix,
    Lane,
    Early,
}

/// Bucket of a time `t >= last`, `t != last`: the index (0 to 63) of the highest differing bit.
#[inline]
fn bucket_of(t: u64, last: u64) -> usize {
    63 - (t ^ last).leading_zeros() as usize
}

/// Events waiting to happen, popped in (time, insertion order).
///
/// Cost per event: O(1) to push; a pop is O(1) plus, now and then, one pass over a bucket that
/// moves its events to lower buckets (amortised O(log of the time span), in practice a few
/// sequential moves per event). Memory: the entries plus each bucket's spare capacity.
pub struct EventQueue<E> {
    /// The events at time `last`, in insertion order: the radix heap's lowest bucket.
    near: VecDeque<Entry<E>>,
    /// `buckets[b]` holds events whose time first differs from `last` at bit `b`, in insertion
    /// order.
    buckets: [Vec<Entry<E>>; 64],
    /// `mins[b]`: the earliest time in `buckets[b]` (`u64::MAX` when it is empty), so the next
    /// event's time is known without scanning or mutating, and a refill needs one pass.
    mins: [u64; 64],
    /// Bit `b` set iff `buckets[b]` is not empty, to find the lowest one in one instruction.
    occupied: u64,
    /// Time of the last event popped from the radix heap (the base the buckets are relative to).
    last: u64,
    /// Events in `near` and `buckets`.
    radix_len: usize,
    /// Events pushed at a time before `last`: only through the public API, never by the engine.
    early: BinaryHeap<Entry<E>>,
    lane: VecDeque<Entry<E>>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            near: VecDeque::new(),
            buckets: std::array::from_fn(|_| Vec::new()),
            mins: [u64::MAX; 64],
            occupied: 0,
            last: 0,
            radix_len: 0,
            early: BinaryHeap::new(),
            lane: VecDeque::new(),
            next_seq: 0,
        }
    }

    #[inline]
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Put an entry with `time > last` into its bucket, keeping the bucket's minimum time.
    #[inline]
    fn bucket_push(&mut self, entry: Entry<E>) {
        let b = bucket_of(entry.time, self.last);
        self.mins[b] = self.mins[b].min(entry.time);
        self.occupied |= 1 << b;
        self.buckets[b].push(entry);
    }

    /// Add an event at `time`. Any time is accepted; times before the last event popped from the
    /// radix heap cost a binary-heap push (the engine never makes them).
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.take_seq();
        let entry = Entry {
            time: time.0,
            seq,
            event,
        };
        if time.0 > self.last {
            self.bucket_push(entry);
        } else if time.0 == self.last {
            self.near.push_back(entry);
        } else if self.radix_len == 0 {
            // An empty radix heap can restart from an earlier time.
            self.last = time.0;
            self.near.push_back(entry);
        } else {
            self.early.push(entry);
            return;
        }
        self.radix_len += 1;
    }

    /// Add an event to the FIFO lane. Its time must not be earlier than the last event pushed to
    /// the lane; if it is, the event goes to the radix heap instead, so ordering is always correct.
    #[inline]
    pub fn push_ordered(&mut self, time: SimTime, event: E) {
        if self.lane.back().is_some_and(|last| last.time > time.0) {
            return self.push(time, event);
        }
        let seq = self.take_seq();
        self.lane.push_back(Entry {
            time: time.0,
            seq,
            event,
        });
    }

    /// Time of the radix heap's next event.
    #[inline]
    fn radix_time(&self) -> Option<u64> {
        match self.near.front() {
            Some(e) => Some(e.time),
            None if self.occupied != 0 => Some(self.mins[self.occupied.trailing_zeros() as usize]),
            None => None,
        }
    }

    /// The radix heap's next entry, whose time is `time`: the front of `near`, or else the first
    /// entry at `time` in the lowest bucket (buckets are in insertion order, so it is the
    /// earliest pushed). Scanning keeps pushes free of tracking where the minimum is; callers
    /// need it rarely (a tie with the lane or `early`) or just before a pop whose refill scans
    /// that bucket anyway (`peek`).
    fn radix_front(&self, time: u64) -> Option<&Entry<E>> {
        match self.near.front() {
            Some(e) => Some(e),
            None => self.buckets[self.occupied.trailing_zeros() as usize]
                .iter()
                .find(|e| e.time == time),
        }
    }

    /// Sequence number of the radix heap's next event, at time `time`, to break a tie.
    fn radix_seq(&self, time: u64) -> u64 {
        self.radix_front(time).map_or(u64::MAX, |e| e.seq)
    }

    /// Whether `other` comes before the radix heap's next event, at `radix` (None: empty).
    #[inline]
    fn before_radix(&self, other: &Entry<E>, radix: Option<u64>) -> bool {
        match radix {
            None => true,
            Some(t) => other.time < t || (other.time == t && other.seq < self.radix_seq(t)),
        }
    }

    /// Which structure holds the next event, and its time.
    #[inline]
    fn next(&self) -> Option<(Source, u64)> {
        let radix = self.radix_time();
        let mut best = radix.map(|t| (Source::Radix, t));
        if let Some(l) = self.lane.front() {
            if self.before_radix(l, radix) {
                best = Some((Source::Lane, l.time));
            }
        }
        if let Some(e) = self.early.peek() {
            // Rare (never from the engine): compare in full against whichever won so far.
            let beats = match best {
                None => true,
                Some((Source::Lane, _)) => self.lane.front().is_some_and(|l| e.key() < l.key()),
                Some(_) => self.before_radix(e, radix),
            };
            if beats {
                best = Some((Source::Early, e.time));
            }
        }
        best
    }

    /// Remove the next event of `source` (which has one).
    #[inline]
    fn take(&mut self, source: Source) -> Option<(SimTime, E)> {
        let entry = match source {
            Source::Lane => self.lane.pop_front(),
            Source::Early => self.early.pop(),
            Source::Radix => {
                if self.near.is_empty() {
                    self.refill();
                }
                self.radix_len -= 1;
                self.near.pop_front()
            }
        }?;
        Some((SimTime(entry.time), entry.event))
    }

    /// `near` is empty and the radix heap's next event is about to be popped: make its time the
    /// new `last` and spread the lowest non-empty bucket over the lower ones (all empty), in
    /// order, so ties stay FIFO. The higher buckets stay valid: the new `last` agrees with the old
    /// one above that bucket's bit. Done only when popping, so `last` never passes the clock.
    fn refill(&mut self) {
        let b = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << b);
        let last = std::mem::replace(&mut self.mins[b], u64::MAX);
        self.last = last;
        let mut moving = std::mem::take(&mut self.buckets[b]);
        for entry in moving.drain(..) {
            if entry.time == last {
                self.near.push_back(entry);
            } else {
                self.bucket_push(entry);
            }
        }
        // Keep the allocation for the next time this bucket fills.
        self.buckets[b] = moving;
    }

    /// Time of the next event, if any.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.next().map(|(_, t)| SimTime(t))
    }

    /// The next event, without removing it: a model can prefetch the memory it will touch while
    /// the current event is handled.
    #[inline]
    pub fn peek(&self) -> Option<&E> {
        let entry = match self.next()? {
            (Source::Lane, _) => self.lane.front(),
            (Source::Early, _) => self.early.peek(),
            (Source::Radix, time) => self.radix_front(time),
        };
        entry.map(|e| &e.event)
    }

    /// Remove and return the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let (source, _) = self.next()?;
        self.take(source)
    }

    /// Remove and return the next event if it happens at or before `until`.
    #[inline]
    pub fn pop_until(&mut self, until: SimTime) -> Option<(SimTime, E)> {
        let (source, time) = self.next()?;
        if time > until.0 {
            return None;
        }
        self.take(source)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.radix_len + self.lane.len() + self.early.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's pattern (every push at or after the clock, the lane interleaved with the
    /// radix heap, far-future timers) must never spill into `early`: that would still be correct
    /// but cost a binary heap again.
    #[test]
    fn pushes_at_or_after_the_clock_never_reach_the_early_heap() {
        let mut q = EventQueue::new();
        let mut now = 0u64;
        let mut x = 12345u64;
        let mut rand = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        q.push(SimTime(86_400_000_000_000), 0u32); // a daily timer
        for i in 0..200_000u32 {
            match rand(4) {
                0 => q.push_ordered(SimTime(now + 30_000_000_000), i),
                1 => q.push(SimTime(now + rand(1 << 34)), i),
                2 => q.push(SimTime(now + rand(4)), i),
                _ => {
                    if let Some((t, _)) = q.pop() {
                        assert!(t.0 >= now);
                        now = t.0;
                    }
                }
            }
            assert!(
                q.early.is_empty(),
                "step {i}: a push at or after now went early"
            );
            assert!(q.last <= now);
        }
    }
}
