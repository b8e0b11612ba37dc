//! A host instance at run time: which dynos it runs, its neighbours and speed, and the CPU
//! allocation among them.

use super::cpu::{Claim, water_fill};
use super::noise::{Drift, Neighbours, NoiseSpec};
use super::placement::Instance;
use crate::engine::{SeedTree, SimTime};

/// `repr(C)`, line-aligned, in the order a CPU event touches the fields: a fleet's hosts do not
/// fit in cache, so each line an event reads is a miss (first line: the allocation and its
/// totals; second: the dyno list and the integrals; third: the neighbours' demand).
#[repr(C, align(64))]
pub(crate) struct Host {
    // Current totals, for statistics.
    last: SimTime,
    total_alloc: f64,
    neighbour_alloc: f64,
    total_demand: f64,
    /// Current speed of each core (instance speed x variability).
    pub speed: f64,
    pub cores: f64,
    pub contention: f64,
    pub max_slowdown: f64,
    /// Global indices of the scenario's dynos on this host; inline up to 4, since every CPU
    /// event walks this list and a separate allocation would be one more cache miss.
    pub dynos: smallvec::SmallVec<[u32; 4]>,
    // Integrals over time (core-ns, speed-ns).
    pub load_core_ns: f64,
    pub neighbour_core_ns: f64,
    pub speed_ns: f64,
    pub peak_load: f64,
    pub peak_demand: f64,
    pub neighbours: Option<Neighbours>,
    pub drift: Option<Drift>,
    /// Boxed: read at the end and when naming events, never on the request path.
    pub instance: Box<Instance>,
}

impl Host {
    pub fn new(instance: Instance, noise: Option<&NoiseSpec>, seeds: SeedTree) -> Host {
        let shared = instance.shared();
        let cores = f64::from(instance.kind.vcpus);
        // Streams are named by the instance, so a host's noise never depends on other hosts.
        let stream = |what: &str| seeds.named(&format!("{what}/{}", instance.name)).stream();
        let neighbours = match noise {
            Some(n) if shared && n.load > 0.0 => {
                Some(Neighbours::new(n, cores, stream("neighbours")))
            }
            _ => None,
        };
        let drift = noise.map(|n| Drift::new(n, shared, stream("speed")));
        let speed = instance.kind.speed * drift.as_ref().map_or(1.0, Drift::factor);
        let (contention, max_slowdown) = match noise {
            Some(n) if shared => (n.contention, n.max_slowdown),
            _ => (0.0, 1.0),
        };
        Host {
            cores,
            // Filled with incarnations as they start (they come and go).
            dynos: smallvec::SmallVec::new(),
            instance: Box::new(instance),
            neighbours,
            drift,
            speed,
            contention,
            max_slowdown,
            total_alloc: 0.0,
            neighbour_alloc: 0.0,
            total_demand: 0.0,
            last: SimTime::ZERO,
            load_core_ns: 0.0,
            neighbour_core_ns: 0.0,
            speed_ns: 0.0,
            peak_load: 0.0,
            peak_demand: 0.0,
        }
    }

    /// Integrate the statistics up to `now`.
    pub fn account(&mut self, now: SimTime) {
        let dt = now.since(self.last).as_nanos() as f64;
        if dt > 0.0 {
            self.load_core_ns += dt * self.total_alloc;
            self.neighbour_core_ns += dt * self.neighbour_alloc;
            self.speed_ns += dt * self.speed;
        }
        self.last = now;
    }

    /// Split the cores among the claims already pushed to `claims` (the dynos', in `dynos`
    /// order) plus the neighbours; results in `alloc`, neighbours last. The buffers are the
    /// caller's scratch, shared by all hosts so that they stay in cache.
    pub fn allocate(&mut self, claims: &mut Vec<Claim>, alloc: &mut Vec<f64>) {
        if let Some(n) = &self.neighbours {
            let a = n.demand();
            claims.push(Claim {
                weight: a,
                demand: a,
            });
        }
        alloc.clear();
        alloc.resize(claims.len(), 0.0);
        water_fill(self.cores, claims, alloc);
        self.total_alloc = alloc.iter().sum();
        self.total_demand = claims.iter().map(|c| c.demand).sum();
        self.neighbour_alloc = if self.neighbours.is_some() {
            alloc.last().copied().unwrap_or(0.0)
        } else {
            0.0
        };
        self.peak_load = self.peak_load.max(self.total_alloc / self.cores);
        self.peak_demand = self.peak_demand.max(self.total_demand / self.cores);
    }

    /// Speed of the cores given to a dyno that holds `own` of the `total_alloc` cores: co-runners
    /// slow it down through shared caches and memory bandwidth.
    pub fn speed_for(&self, own: f64) -> f64 {
        if self.contention <= 0.0 {
            return self.speed;
        }
        let others = (self.total_alloc - own).max(0.0);
        self.speed / (1.0 + self.contention * others).min(self.max_slowdown)
    }
}
