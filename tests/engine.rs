//! The engine: event ordering, the clock, and random-stream independence.

use dynosim::engine::{
    Control, EventQueue, Model, Scheduler, SeedTree, SimDuration, SimTime, Simulation, stable_hash,
};

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
