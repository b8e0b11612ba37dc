//! Engine speed against a hand-written floor, on the same M/M/c model.
//!
//! M/M/c with c = 8, mu = 1, lambda = 6.4 (rho = 0.8), FIFO, one million customers (about two
//! million events). `engine` drives it through `dynosim::engine::Simulation`; `floor` is the
//! minimal `std::collections::BinaryHeap` loop the engine must stay close to (issue target: at
//! least 70% of the floor's events per second). Both draw from the same stream type in the same
//! order, so they simulate the identical trajectory and the checks below compare them.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dynosim::engine::{Model, RngStream, Scheduler, SeedTree, SimDuration, SimTime, Simulation};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;

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

criterion_group!(benches, bench);
criterion_main!(benches);
