//! A host instance at run time: which dynos it runs, its neighbours and speed, and the CPU
//! allocation among them.

use super::cpu::{Claim, water_fill};
use super::noise::{Drift, Neighbours, NoiseSpec};
use super::placement::Instance;
use crate::engine::{SeedTree, SimDuration, SimTime};

/// `repr(C)`, line-aligned, in the order a CPU event touches the fields: a fleet's hosts do not
/// fit in cache, so each line an event reads is a miss. A CPU event reads two lines: the
/// allocation, its totals and the neighbours' demand; then the dyno list and the integrals. The
/// neighbour and drift processes behind them are read only on their own events.
#[repr(C, align(64))]
pub(crate) struct Host {
    // Current totals, for statistics.
    last: SimTime,
    total_alloc: f64,
    neighbour_alloc: f64,
    /// Cores the neighbours demand now, a copy of `neighbours`' so that an allocation reads no
    /// third line; negative when the host has no neighbours.
    neighbour_demand: f64,
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
    /// When it joined the run (0, or when a formation policy added a dyno that needed it).
    pub opened: SimTime,
    /// Boxed: read at the end and when naming events, never on the request path.
    pub instance: Box<Instance>,
}

/// The two hot lines above, checked.
const _: () = {
    assert!(std::mem::offset_of!(Host, dynos) == 64);
    assert!(std::mem::offset_of!(Host, peak_demand) < 128);
};

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
        let neighbour_demand = neighbours.as_ref().map_or(-1.0, Neighbours::demand);
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
            neighbour_demand,
            last: SimTime::ZERO,
            opened: SimTime::ZERO,
            load_core_ns: 0.0,
            neighbour_core_ns: 0.0,
            speed_ns: 0.0,
            peak_load: 0.0,
            peak_demand: 0.0,
        }
    }

    /// A host that joins the run at `now` (a dyno a formation policy added): its books start
    /// then.
    pub fn open_at(&mut self, now: SimTime) {
        self.last = now;
        self.opened = now;
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
        let neighbours = self.neighbour_demand >= 0.0;
        if neighbours {
            let a = self.neighbour_demand;
            claims.push(Claim {
                weight: a,
                demand: a,
            });
        }
        alloc.clear();
        alloc.resize(claims.len(), 0.0);
        water_fill(self.cores, claims, alloc);
        self.total_alloc = alloc.iter().sum();
        let total_demand: f64 = claims.iter().map(|c| c.demand).sum();
        self.neighbour_alloc = if neighbours {
            alloc.last().copied().unwrap_or(0.0)
        } else {
            0.0
        };
        self.peak_load = self.peak_load.max(self.total_alloc / self.cores);
        self.peak_demand = self.peak_demand.max(total_demand / self.cores);
    }

    /// One neighbour source starts or stops; returns when the next change is due (`None`: no
    /// neighbours, or a constant load).
    pub fn flip_neighbours(&mut self) -> Option<SimDuration> {
        let n = self.neighbours.as_mut()?;
        n.flip();
        self.neighbour_demand = n.demand();
        n.next_change()
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
