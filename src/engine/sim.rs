//! The simulation loop: a model, its scheduler, and the clock.

use super::queue::EventQueue;
use super::time::{SimDuration, SimTime};

/// What a model sees while it handles an event: the clock and the means to schedule.
pub struct Scheduler<E> {
    now: SimTime,
    queue: EventQueue<E>,
}

impl<E> Scheduler<E> {
    /// Current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedule `event` at absolute time `at` (clamped to now: the past cannot be scheduled).
    #[inline]
    pub fn at(&mut self, at: SimTime, event: E) {
        self.queue.push(at.max(self.now), event);
    }

    /// Schedule `event` after `delay`.
    #[inline]
    pub fn after(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now + delay, event);
    }

    /// Schedule `event` after `delay` on the FIFO lane: cheaper when every such delay is the same
    /// constant (timeouts), still correct when it is not.
    #[inline]
    pub fn after_ordered(&mut self, delay: SimDuration, event: E) {
        self.queue.push_ordered(self.now + delay, event);
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}

/// A model: state plus a handler for its own event type.
pub trait Model {
    type Event;
    /// React to `event` at `sched.now()`.
    fn handle(&mut self, event: Self::Event, sched: &mut Scheduler<Self::Event>);

    /// Whether to call [`prefetch`](Self::prefetch) before each event. Looking at the next event
    /// costs the queue a few percent per event, worth it only when the model's state does not
    /// fit in cache; asked once per [`Simulation::run_until`]. Default: no.
    fn wants_prefetch(&self) -> bool {
        false
    }

    /// A hint: `event` is probably next. A model whose state does not fit in cache can start
    /// loading what that event will touch, so the load overlaps the current event's work. Must
    /// not change anything observable; the default does nothing.
    #[inline]
    fn prefetch(&self, _event: &Self::Event) {}
}

/// Answer of a progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// How a call to [`Simulation::run_until`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// Events handled by this call.
    pub events: u64,
    /// True if the progress callback asked to stop before `until`.
    pub interrupted: bool,
}

/// A model driven by an event queue.
pub struct Simulation<M: Model> {
    pub model: M,
    sched: Scheduler<M::Event>,
    events: u64,
}

impl<M: Model> Simulation<M> {
    pub fn new(model: M) -> Self {
        Simulation {
            model,
            sched: Scheduler {
                now: SimTime::ZERO,
                queue: EventQueue::new(),
            },
            events: 0,
        }
    }

    /// Current simulated time.
    pub fn now(&self) -> SimTime {
        self.sched.now
    }

    /// Total events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Schedule an event from outside the model (initial events).
    pub fn schedule(&mut self, at: SimTime, event: M::Event) {
        self.sched.at(at, event);
    }

    /// Borrow the model and scheduler together, e.g. to let the model schedule its first events.
    pub fn parts(&mut self) -> (&mut M, &mut Scheduler<M::Event>) {
        (&mut self.model, &mut self.sched)
    }

    /// Handle every event with time <= `until`, then set the clock to `until`.
    pub fn run_until(&mut self, until: SimTime) -> RunOutcome {
        self.run_until_with(until, u64::MAX, |_, _| Control::Continue)
    }

    /// As [`run_until`](Self::run_until), calling `progress(now, events)` every `every` events so a
    /// caller can report progress or stop early (Ctrl-C). The callback sees no wall clock from us.
    pub fn run_until_with(
        &mut self,
        until: SimTime,
        every: u64,
        mut progress: impl FnMut(SimTime, u64) -> Control,
    ) -> RunOutcome {
        let start = self.events;
        let every = every.max(1);
        let mut budget = every;
        let prefetch = self.model.wants_prefetch();
        while let Some((t, ev)) = self.sched.queue.pop_until(until) {
            self.sched.now = t;
            if prefetch && let Some(next) = self.sched.queue.peek() {
                self.model.prefetch(next);
            }
            self.model.handle(ev, &mut self.sched);
            self.events += 1;
            budget -= 1;
            if budget == 0 {
                budget = every;
                if progress(self.sched.now, self.events) == Control::Stop {
                    return RunOutcome {
                        events: self.events - start,
                        interrupted: true,
                    };
                }
            }
        }
        self.sched.now = self.sched.now.max(until);
        RunOutcome {
            events: self.events - start,
            interrupted: false,
        }
    }
}
