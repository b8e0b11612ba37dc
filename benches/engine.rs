//! Engine speed against a hand-written floor, on the same M/M/c model.
//!
//! M/M/c with c = 8, mu = 1, lambda = 6.4 (rho = 0.8), FIFO, one million customers (about two
//! million events). `engine` drives it through `dynosim::engine::Simulation`; `floor` is the
//! minimal `std::collections::BinaryHeap` loop the engine must stay close to (issue target: at
//! least 70% of the floor's events per second). Both draw from the same stream type in the same
//! order, so they simulate the identical trajectory and the checks below compare them.
//!
//! `hold/<pending>` is the classic hold model (peers.md section 2.3): `pending` events are always
//! pending, and each executed event reschedules itself at now + Exp(1 s). It measures what the
//! M/M/c model cannot, the cost of the event queue when it is large: a binary heap falls about
//! 16x from a small queue to a million pending events (cache misses in a 16+ MB heap). The queue
//! is filled in criterion's setup step, so the timed part is `HOLD_EVENTS` executed events only;
//! `engine` runs through `dynosim::engine::Simulation`, `floor_binaryheap` is the same loop over a
//! bare `std::collections::BinaryHeap`, both with the same draws (checked before timing).

use criterion::{
    BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use dynosim::engine::{
    Control, Model, RngStream, Scheduler, SeedTree, SimDuration, SimTime, Simulation,
};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

const SERVERS: u32 = 8;
const LAMBDA: f64 = 6.4;
const MU: f64 = 1.0;
const CUSTOMERS: u64 = 1_000_000;

fn secs(s: f64) -> SimDuration {
    SimDuration::from_secs_f64(s)
}

#[derive(Clone, Copy)]
enum Ev {
    Arrival,
    Departure,
}

struct Mmc {
    rng: RngStream,
    busy: u32,
    queue: VecDeque<SimTime>,
    arrived: u64,
    served: u64,
    wait_ns: u128,
}

impl Model for Mmc {
    type Event = Ev;
    #[inline]
    fn handle(&mut self, ev: Ev, s: &mut Scheduler<Ev>) {
        match ev {
            Ev::Arrival => {
                self.arrived += 1;
                if self.arrived < CUSTOMERS {
                    s.after(secs(self.rng.exp(1.0 / LAMBDA)), Ev::Arrival);
                }
                if self.busy < SERVERS {
                    self.busy += 1;
                    s.after(secs(self.rng.exp(1.0 / MU)), Ev::Departure);
                } else {
                    self.queue.push_back(s.now());
                }
            }
            Ev::Departure => {
                self.served += 1;
                match self.queue.pop_front() {
                    Some(t) => {
                        self.wait_ns += u128::from(s.now().since(t).as_nanos());
                        s.after(secs(self.rng.exp(1.0 / MU)), Ev::Departure);
                    }
                    None => self.busy -= 1,
                }
            }
        }
    }
}

/// Returns (events, mean wait in seconds).
fn engine_mmc(seed: u64) -> (u64, f64) {
    let mut sim = Simulation::new(Mmc {
        rng: SeedTree::new(seed).stream(),
        busy: 0,
        queue: VecDeque::new(),
        arrived: 0,
        served: 0,
        wait_ns: 0,
    });
    sim.schedule(SimTime::ZERO, Ev::Arrival);
    sim.run_until(SimTime::MAX);
    let m = &sim.model;
    (sim.events(), m.wait_ns as f64 * 1e-9 / m.served as f64)
}

/// The floor: the same model as a bare loop over a binary heap of (time, seq, kind).
fn floor_mmc(seed: u64) -> (u64, f64) {
    let mut rng = SeedTree::new(seed).stream();
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, k: u8| {
        heap.push(Reverse((t, seq, k)));
        seq += 1;
    };
    push(&mut heap, 0, 0);
    let (mut busy, mut arrived, mut served, mut events) = (0u32, 0u64, 0u64, 0u64);
    let mut wait_ns = 0u128;
    let mut queue: VecDeque<u64> = VecDeque::new();
    while let Some(Reverse((now, _, kind))) = heap.pop() {
        events += 1;
        if kind == 0 {
            arrived += 1;
            if arrived < CUSTOMERS {
                push(&mut heap, now + secs(rng.exp(1.0 / LAMBDA)).as_nanos(), 0);
            }
            if busy < SERVERS {
                busy += 1;
                push(&mut heap, now + secs(rng.exp(1.0 / MU)).as_nanos(), 1);
            } else {
                queue.push_back(now);
            }
        } else {
            served += 1;
            match queue.pop_front() {
                Some(t) => {
                    wait_ns += u128::from(now - t);
                    push(&mut heap, now + secs(rng.exp(1.0 / MU)).as_nanos(), 1);
                }
                None => busy -= 1,
            }
        }
    }
    (events, wait_ns as f64 * 1e-9 / served as f64)
}

fn bench(c: &mut Criterion) {
    // Same trajectory, and the Erlang-C mean wait (0.2860 s for these parameters) within 5%.
    let (ev_engine, w_engine) = engine_mmc(42);
    let (ev_floor, w_floor) = floor_mmc(42);
    assert_eq!(
        ev_engine, ev_floor,
        "engine and floor must handle the same events"
    );
    assert!(
        (w_engine - w_floor).abs() < 1e-9,
        "engine {w_engine} vs floor {w_floor}"
    );
    assert!(
        (w_engine / 0.2860 - 1.0).abs() < 0.05,
        "mean wait {w_engine} vs Erlang C 0.2860"
    );

    let mut g = c.benchmark_group("mmc_c8_rho0.8_1M");
    g.throughput(Throughput::Elements(ev_engine));
    g.sample_size(20);
    g.bench_function("engine", |b| {
        b.iter(|| black_box(engine_mmc(black_box(42))))
    });
    g.bench_function("floor_binaryheap", |b| {
        b.iter(|| black_box(floor_mmc(black_box(42))))
    });
    g.finish();
}

/// Events executed per timed hold run, at every queue size: at a million pending events this
/// replaces each event twice, so the run measures the steady state rather than the fill.
const HOLD_EVENTS: u64 = 2_000_000;

/// The hold model: a pending event carries its own id and, when handled, comes back at
/// now + Exp(1 s). `sum` folds the (time, id) order so two variants can be compared.
struct Hold {
    rng: RngStream,
    sum: u64,
}

impl Model for Hold {
    type Event = u32;
    #[inline]
    fn handle(&mut self, id: u32, s: &mut Scheduler<u32>) {
        self.sum = fold(self.sum, s.now().as_nanos(), id);
        s.after(secs(self.rng.exp(1.0)), id);
    }
}

#[inline]
fn fold(sum: u64, t: u64, id: u32) -> u64 {
    (sum ^ t ^ u64::from(id))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

/// `pending` events at Exp(1 s) from time zero, through the engine.
fn hold_engine_fill(pending: u32) -> Simulation<Hold> {
    let mut sim = Simulation::new(Hold {
        rng: SeedTree::new(7).stream(),
        sum: 0,
    });
    for id in 0..pending {
        let t = SimTime::ZERO + secs(sim.model.rng.exp(1.0));
        sim.schedule(t, id);
    }
    sim
}

/// Execute `events` events; returns the order checksum.
fn hold_engine_run(mut sim: Simulation<Hold>, events: u64) -> (u64, Simulation<Hold>) {
    let out = sim.run_until_with(SimTime::MAX, events, |_, _| Control::Stop);
    assert_eq!(out.events, events);
    (sim.model.sum, sim)
}

/// The floor's state: heap of (time, seq, id), next seq, rng.
type HoldFloor = (BinaryHeap<Reverse<(u64, u64, u32)>>, u64, RngStream);

fn hold_floor_fill(pending: u32) -> HoldFloor {
    let mut rng = SeedTree::new(7).stream();
    let mut heap = BinaryHeap::with_capacity(pending as usize);
    for id in 0..pending {
        heap.push(Reverse((secs(rng.exp(1.0)).as_nanos(), u64::from(id), id)));
    }
    (heap, u64::from(pending), rng)
}

fn hold_floor_run(state: HoldFloor, events: u64) -> (u64, HoldFloor) {
    let (mut heap, mut seq, mut rng) = state;
    let mut sum = 0;
    for _ in 0..events {
        let Reverse((now, _, id)) = heap.pop().expect("the hold model never runs dry");
        sum = fold(sum, now, id);
        heap.push(Reverse((
            now.saturating_add(secs(rng.exp(1.0)).as_nanos()),
            seq,
            id,
        )));
        seq += 1;
    }
    (sum, (heap, seq, rng))
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(4));
    g.throughput(Throughput::Elements(HOLD_EVENTS));
    for pending in [1_000u32, 100_000, 1_000_000] {
        // Same order of (time, id) in both, over a shorter run.
        let check = 300_000;
        let (a, _) = hold_engine_run(hold_engine_fill(pending), check);
        let (b, _) = hold_floor_run(hold_floor_fill(pending), check);
        assert_eq!(
            a, b,
            "engine and floor must execute the same hold trajectory"
        );

        // The filled queue is built in setup and dropped after timing (returned by the routine).
        g.bench_with_input(BenchmarkId::new("engine", pending), &pending, |b, &n| {
            b.iter_batched(
                || hold_engine_fill(n),
                |sim| hold_engine_run(sim, HOLD_EVENTS),
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(
            BenchmarkId::new("floor_binaryheap", pending),
            &pending,
            |b, &n| {
                b.iter_batched(
                    || hold_floor_fill(n),
                    |st| hold_floor_run(st, HOLD_EVENTS),
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench, hold);
criterion_main!(benches);
