//! The pending-event set: a binary heap ordered by (time, insertion sequence), plus a FIFO lane for
//! events that are known to be scheduled in non-decreasing time order.
//!
//! The FIFO lane is DSLab's `emit_ordered` idea: timeouts that are "arrival + constant" arrive in
//! time order, so they can sit in a `VecDeque` at O(1) instead of growing the heap. Both structures
//! share one sequence counter, so ties still break by insertion order across them.

use super::time::SimTime;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

struct Entry<E> {
    /// (time << 64 | seq) would overflow at u64::MAX times; keep both fields and compare them.
    time: u64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
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
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Events waiting to happen, popped in (time, insertion order).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
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
            heap: BinaryHeap::new(),
            lane: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// Add an event at `time`.
    #[inline]
    pub fn push(&mut self, time: SimTime, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            time: time.0,
            seq,
            event,
        });
    }

    /// Add an event to the FIFO lane. Its time must not be earlier than the last event pushed to
    /// the lane; if it is, the event goes to the heap instead, so ordering is always correct.
    #[inline]
    pub fn push_ordered(&mut self, time: SimTime, event: E) {
        if self.lane.back().is_some_and(|last| last.time > time.0) {
            return self.push(time, event);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.lane.push_back(Entry {
            time: time.0,
            seq,
            event,
        });
    }

    /// Whether the lane's front comes before the heap's top.
    #[inline]
    fn lane_first(&self) -> Option<bool> {
        match (self.heap.peek(), self.lane.front()) {
            (None, None) => None,
            (Some(_), None) => Some(false),
            (None, Some(_)) => Some(true),
            (Some(h), Some(l)) => Some((l.time, l.seq) < (h.time, h.seq)),
        }
    }

    /// Time of the next event, if any.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        match self.lane_first()? {
            true => self.lane.front().map(|e| SimTime(e.time)),
            false => self.heap.peek().map(|e| SimTime(e.time)),
        }
    }

    /// Remove and return the next event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        let entry = match self.lane_first()? {
            true => self.lane.pop_front(),
            false => self.heap.pop(),
        }?;
        Some((SimTime(entry.time), entry.event))
    }

    /// Remove and return the next event if it happens at or before `until`.
    #[inline]
    pub fn pop_until(&mut self, until: SimTime) -> Option<(SimTime, E)> {
        let entry = if self.lane_first()? {
            if self.lane.front()?.time > until.0 {
                return None;
            }
            self.lane.pop_front()
        } else {
            if self.heap.peek()?.time > until.0 {
                return None;
            }
            self.heap.pop()
        }?;
        Some((SimTime(entry.time), entry.event))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty() && self.lane.is_empty()
    }
}
