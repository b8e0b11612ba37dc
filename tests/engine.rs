//! The engine: event ordering, the clock, and random-stream independence.

use dynosim::engine::{
    Control, EventQueue, Model, Scheduler, SeedTree, SimDuration, SimTime, Simulation, stable_hash,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[test]
fn events_pop_in_time_then_insertion_order() {
    let mut q = EventQueue::new();
    q.push(SimTime(30), "c");
    q.push(SimTime(10), "a1");
    q.push(SimTime(20), "b");
    q.push(SimTime(10), "a2");
    q.push(SimTime(10), "a3");
    let order: Vec<_> = std::iter::from_fn(|| q.pop())
        .map(|(t, e)| (t.0, e))
        .collect();
    assert_eq!(
        order,
        vec![(10, "a1"), (10, "a2"), (10, "a3"), (20, "b"), (30, "c")]
    );
}

#[test]
fn the_ordered_lane_interleaves_with_the_heap_by_time_and_insertion() {
    let mut q = EventQueue::new();
    q.push_ordered(SimTime(10), "lane10");
    q.push(SimTime(10), "heap10");
    q.push_ordered(SimTime(20), "lane20");
    q.push(SimTime(5), "heap5");
    q.push(SimTime(20), "heap20");
    // Out of order for the lane: must still come out at the right time.
    q.push_ordered(SimTime(15), "lane15-late");
    let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
    assert_eq!(
        order,
        vec![
            "heap5",
            "lane10",
            "heap10",
            "lane15-late",
            "lane20",
            "heap20"
        ]
    );
    assert!(q.is_empty());
}

#[test]
fn a_random_mix_of_pushes_pops_in_sorted_stable_order() {
    let mut rng = SeedTree::new(99).stream();
    let mut q = EventQueue::new();
    let mut expected = Vec::new();
    for i in 0..10_000u64 {
        let t = rng.below(500);
        if i % 3 == 0 {
            q.push_ordered(SimTime(t), i);
        } else {
            q.push(SimTime(t), i);
        }
        expected.push((t, i));
    }
    // Lane entries that fell back to the heap keep their insertion order too, so the result is
    // exactly a stable sort by time.
    expected.sort_by_key(|&(t, _)| t);
    let got: Vec<_> = std::iter::from_fn(|| q.pop())
        .map(|(t, e)| (t.0, e))
        .collect();
    assert_eq!(got, expected);
}

struct Recorder {
    seen: Vec<(u64, u32)>,
}

impl Model for Recorder {
    type Event = u32;
    fn handle(&mut self, ev: u32, s: &mut Scheduler<u32>) {
        self.seen.push((s.now().0, ev));
        if ev < 3 {
            // Scheduling "now" runs after everything already due now (insertion order).
            s.after(SimDuration::ZERO, ev + 10);
            s.after(SimDuration::from_nanos(5), ev + 1);
        }
    }
}

#[test]
fn the_clock_advances_monotonically_and_stops_at_the_horizon() {
    let mut sim = Simulation::new(Recorder { seen: Vec::new() });
    sim.schedule(SimTime(100), 0);
    sim.schedule(SimTime(100), 100);
    let out = sim.run_until(SimTime(110));
    assert!(!out.interrupted);
    let times: Vec<u64> = sim.model.seen.iter().map(|&(t, _)| t).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        sim.model.seen,
        vec![
            (100, 0),
            (100, 100),
            (100, 10),
            (105, 1),
            (105, 11),
            (110, 2),
            (110, 12)
        ]
    );
    assert_eq!(sim.now(), SimTime(110));
    // The event at 115 is still pending and runs on the next call.
    sim.run_until(SimTime(200));
    assert_eq!(sim.model.seen.last(), Some(&(115, 3)));
}

#[test]
fn a_progress_callback_can_stop_a_run() {
    struct Forever;
    impl Model for Forever {
        type Event = ();
        fn handle(&mut self, _: (), s: &mut Scheduler<()>) {
            s.after(SimDuration::from_nanos(1), ());
        }
    }
    let mut sim = Simulation::new(Forever);
    sim.schedule(SimTime::ZERO, ());
    let out = sim.run_until_with(SimTime::MAX, 1000, |_, events| {
        if events >= 5000 {
            Control::Stop
        } else {
            Control::Continue
        }
    });
    assert!(out.interrupted);
    assert_eq!(out.events, 5000);
}

#[test]
fn streams_are_reproducible_and_independent() {
    let job = SeedTree::new(42).child(0).child(1);
    let draw = |t: SeedTree| -> Vec<u64> {
        let mut s = t.stream();
        (0..64).map(|_| s.below(u64::MAX)).collect()
    };
    // Same derivation, same numbers.
    assert_eq!(
        draw(job.named("arrivals/shop")),
        draw(job.named("arrivals/shop"))
    );
    // Different components, sweep points, replications and seeds: different numbers.
    let base = draw(job.named("arrivals/shop"));
    assert_ne!(base, draw(job.named("cpu/shop")));
    assert_ne!(
        base,
        draw(SeedTree::new(42).child(1).child(1).named("arrivals/shop"))
    );
    assert_ne!(
        base,
        draw(SeedTree::new(42).child(0).child(2).named("arrivals/shop"))
    );
    assert_ne!(
        base,
        draw(SeedTree::new(43).child(0).child(1).named("arrivals/shop"))
    );
    // Drawing from one stream never moves another.
    let mut a = job.named("a").stream();
    let mut b = job.named("b").stream();
    let b_first: Vec<u64> = (0..8).map(|_| b.below(1 << 40)).collect();
    let mut b2 = job.named("b").stream();
    for _ in 0..1000 {
        a.below(7);
    }
    let b2_first: Vec<u64> = (0..8).map(|_| b2.below(1 << 40)).collect();
    assert_eq!(b_first, b2_first);
}

#[test]
fn seed_derivation_is_stable_across_versions() {
    // Changing these values changes every user's results for a given seed; a change must be
    // deliberate (and noted in the changelog), so the derivation is pinned here.
    assert_ne!(stable_hash("arrivals/shop"), stable_hash("arrivals/shoq"));
    let v = SeedTree::new(42)
        .child(0)
        .child(0)
        .named("arrivals/shop")
        .value();
    let mut s = SeedTree::new(42)
        .child(0)
        .child(0)
        .named("arrivals/shop")
        .stream();
    let first = s.below(1_000_000);
    assert_eq!(
        (v, first),
        (PINNED_NODE, PINNED_DRAW),
        "seed derivation changed"
    );
}

// Pinned outputs of the derivation above (see the test's comment).
const PINNED_NODE: u64 = 4257969408496575765;
const PINNED_DRAW: u64 = 573850;

#[test]
fn uniform_and_exponential_draws_have_the_right_moments() {
    let mut s = SeedTree::new(1).stream();
    let n = 200_000;
    let (mut sum_u, mut sum_e) = (0.0, 0.0);
    for _ in 0..n {
        let u = s.open01();
        assert!(u > 0.0 && u < 1.0);
        sum_u += u;
        sum_e += s.exp(2.0);
    }
    assert!((sum_u / n as f64 - 0.5).abs() < 0.005);
    assert!((sum_e / n as f64 - 2.0).abs() < 0.02);
    let mut counts = [0u32; 10];
    for _ in 0..n {
        counts[s.below(10) as usize] += 1;
    }
    for c in counts {
        assert!((f64::from(c) / n as f64 - 0.1).abs() < 0.005, "{counts:?}");
    }
}

/// The reference order: a binary heap on (time, insertion sequence), one sequence for both
/// `push` and `push_ordered`, exactly what `EventQueue` must reproduce whatever its structure.
struct Reference {
    heap: BinaryHeap<Reverse<(u64, u64)>>,
    seq: u64,
}

impl Reference {
    fn push(&mut self, t: u64) -> u64 {
        let id = self.seq;
        self.heap.push(Reverse((t, id)));
        self.seq += 1;
        id
    }
    fn pop_until(&mut self, until: u64) -> Option<(u64, u64)> {
        let &Reverse((t, _)) = self.heap.peek()?;
        (t <= until).then(|| self.heap.pop().expect("peeked").0)
    }
}

/// A time for the next push, relative to `now` (the last popped time): mostly ahead of it, by
/// nothing (ties), a little, or a lot; sometimes at the very ends of the range or in the past.
fn next_time(rng: &mut dynosim::engine::RngStream, now: u64) -> u64 {
    match rng.below(16) {
        0..=2 => now,
        3..=6 => now.saturating_add(rng.below(8)),
        7..=9 => now.saturating_add(rng.below(1 << 20)),
        10 => now.saturating_add(rng.below(u64::MAX)),
        11 => u64::MAX - rng.below(3),
        12 => rng.below(3),
        13 => now.saturating_sub(rng.below(1000)),
        _ => now.saturating_add(1 << rng.below(64)),
    }
}

/// Interleaved random pushes, lane pushes, pops and bounded pops, checked step by step against
/// the reference: every popped (time, event), every `peek_time`, `peek` and `len`.
fn check_against_reference(seed: u64, ops: u32, past: bool) {
    let mut rng = SeedTree::new(seed).stream();
    let mut q = EventQueue::new();
    let mut r = Reference {
        heap: BinaryHeap::new(),
        seq: 0,
    };
    let mut now = 0u64;
    // Phases that grow and shrink the queue, so it empties and restarts now and then.
    let mut push_bias = 8;
    for op in 0..ops {
        if op % 500 == 0 {
            push_bias = 2 + rng.below(13);
        }
        let roll = rng.below(16);
        if roll < push_bias {
            let mut t = next_time(&mut rng, now);
            if !past {
                t = t.max(now);
            }
            if rng.below(3) == 0 {
                // The lane: mostly in order (a constant timeout), sometimes not.
                let id = r.push(t);
                q.push_ordered(SimTime(t), id);
            } else {
                let id = r.push(t);
                q.push(SimTime(t), id);
            }
        } else if roll < push_bias + 2 {
            let until = match rng.below(4) {
                0 => now,
                1 => now.saturating_add(rng.below(16)),
                2 => u64::MAX,
                _ => now.saturating_add(rng.below(1 << 30)),
            };
            let got = q.pop_until(SimTime(until)).map(|(t, e)| (t.0, e));
            let want = r.pop_until(until);
            assert_eq!(got, want, "seed {seed} op {op}: pop_until({until})");
            if let Some((t, _)) = want {
                now = t;
            }
        } else {
            let got = q.pop().map(|(t, e)| (t.0, e));
            let want = r.pop_until(u64::MAX);
            assert_eq!(got, want, "seed {seed} op {op}: pop");
            if let Some((t, _)) = want {
                now = t;
            }
        }
        assert_eq!(q.len(), r.heap.len(), "seed {seed} op {op}: len");
        assert_eq!(
            q.peek_time().map(|t| t.0),
            r.heap.peek().map(|Reverse((t, _))| *t),
            "seed {seed} op {op}: peek_time"
        );
        // `peek` names the very event the next pop returns (models prefetch by it).
        assert_eq!(
            q.peek().copied(),
            r.heap.peek().map(|Reverse((_, id))| *id),
            "seed {seed} op {op}: peek"
        );
    }
    // Drain: the rest comes out in order too.
    while let Some(want) = r.pop_until(u64::MAX) {
        assert_eq!(
            q.pop().map(|(t, e)| (t.0, e)),
            Some(want),
            "seed {seed}: drain"
        );
    }
    assert!(q.is_empty() && q.pop().is_none() && q.peek_time().is_none());
}

#[test]
fn random_operations_pop_exactly_as_a_binary_heap_on_time_and_sequence() {
    // As the engine uses it: never before the last popped time.
    for seed in 0..20 {
        check_against_reference(seed, 20_000, false);
    }
}

#[test]
fn pushes_before_the_last_popped_time_still_pop_in_order() {
    // The engine never does this, but `EventQueue` is public and must stay correct.
    for seed in 100..120 {
        check_against_reference(seed, 20_000, true);
    }
}

#[test]
fn a_large_queue_with_many_ties_pops_in_order() {
    // The hold model at scale: 200,000 pending, each pop pushes one event a short random delay
    // later, with many equal times (delays of a few ns against a large queue).
    let mut rng = SeedTree::new(5).stream();
    let mut q = EventQueue::new();
    let mut r = Reference {
        heap: BinaryHeap::new(),
        seq: 0,
    };
    for _ in 0..200_000 {
        let t = rng.below(100_000);
        let id = r.push(t);
        q.push(SimTime(t), id);
    }
    for _ in 0..600_000 {
        let want = r.pop_until(u64::MAX).expect("never empty");
        assert_eq!(q.pop().map(|(t, e)| (t.0, e)), Some(want));
        let t = want.0 + rng.below(100_000);
        let id = r.push(t);
        q.push(SimTime(t), id);
    }
}
