//! Instances, pools and the placement rules that put each dyno on an instance.
//!
//! The platform's rules (Heroku "Dyno Isolation"): Eco, Basic and Standard dynos "share an
//! underlying compute instance with other dynos"; Performance, Private, Shield and Fir dynos
//! "don't share their underlying compute instance". So shared-tier dynos go to a region's shared
//! pool, among other tenants' dynos, and every dedicated-tier dyno gets an instance of its own.
//! Apps in a Private, Shield or Fir space run on that space's own dedicated instances.

use super::AppSpec;
use crate::engine::RngStream;
use std::collections::BTreeMap;
use std::fmt;

/// A machine type: cores, memory and speed relative to the reference core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstanceType {
    pub vcpus: u32,
    pub memory_mb: u64,
    /// Speed of each core relative to the reference core (1.0).
    pub speed: f64,
}

/// How shared-tier dynos are spread over a shared pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementPolicy {
    /// As few of the scenario's dynos per instance as the pool allows (round robin).
    Spread,
    /// Each dyno on a uniformly random instance with room for it.
    Random,
    /// First fit by memory: fill an instance before using the next.
    BinPack,
}

impl PlacementPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementPolicy::Spread => "spread",
            PlacementPolicy::Random => "random",
            PlacementPolicy::BinPack => "binpack",
        }
    }
}

/// The Common Runtime's shared pool of one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedPoolSpec {
    pub instance: InstanceType,
    /// Instances in the pool that can take the scenario's dynos.
    pub instances: u32,
    /// Fraction of each shared instance's memory already taken by other tenants' dynos.
    pub tenant_memory: f64,
}

/// Placement settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlacementSpec {
    pub policy: PlacementPolicy,
    pub shared: SharedPoolSpec,
}

impl Default for PlacementSpec {
    /// Assumption: Heroku publishes no host types. A third party inferred (2019) that standard
    /// dynos ran on EC2 r3.2xlarge hosts: 8 vCPU, 61 GiB (heroku-dynos.md section 1, [3P/U]).
    fn default() -> Self {
        PlacementSpec {
            policy: PlacementPolicy::Spread,
            shared: SharedPoolSpec {
                instance: InstanceType {
                    vcpus: 8,
                    memory_mb: 62_464,
                    speed: 1.0,
                },
                instances: 100,
                tenant_memory: 0.75,
            },
        }
    }
}

/// Which pool an instance belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PoolKey {
    /// The Common Runtime's shared pool of a region.
    Shared(String),
    /// An instance of its own for one dedicated-tier dyno on the Common Runtime.
    Dedicated,
    /// One of a space's own dedicated instances.
    Space(String),
}

/// One instance that hosts at least one of the scenario's dynos.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Stable name, e.g. `shared.us.3` or `dedicated.7`.
    pub name: String,
    pub pool: PoolKey,
    pub kind: InstanceType,
    /// Memory taken by other tenants' dynos.
    pub tenant_memory_mb: u64,
    /// Global indices of the scenario's dynos placed here.
    pub dynos: Vec<usize>,
    /// Apps owning those dynos.
    pub apps: Vec<usize>,
}

impl Instance {
    pub fn shared(&self) -> bool {
        matches!(self.pool, PoolKey::Shared(_))
    }

    /// Dyno `dyno` (global index) of app `a` runs here.
    pub fn add(&mut self, dyno: usize, a: usize) {
        self.dynos.push(dyno);
        if !self.apps.contains(&a) {
            self.apps.push(a);
        }
    }
}

/// Where every dyno runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub instances: Vec<Instance>,
    /// Instance index of each dyno (global dyno order: apps, processes, dyno number).
    pub of_dyno: Vec<usize>,
}

/// A formation that cannot be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementError {
    pub app: usize,
    pub process: usize,
    pub message: String,
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The state of one region's shared pool while placing: pool slot -> instance index, free memory
/// per pool slot, and the round-robin cursor of the spread policy.
type RegionPool = (BTreeMap<u32, usize>, Vec<u64>, u32);

/// Where a dyno goes: an instance already in use, or a new one (to be added at the index the
/// caller passed as `instances`).
#[derive(Debug, Clone, PartialEq)]
pub enum Spot {
    Existing(usize),
    New(Instance),
}

/// The placement rules with their state (free memory per pool instance, round-robin cursors,
/// dedicated instances handed out), so dynos can be placed one at a time: the whole formation
/// at the start, and a dyno a formation policy adds during the run.
#[derive(Debug, Clone)]
pub struct Placer {
    spec: PlacementSpec,
    pools: BTreeMap<String, RegionPool>,
    tenant_mb: u64,
    dedicated: usize,
}

impl Placer {
    pub fn new(spec: &PlacementSpec) -> Placer {
        let pool_memory = spec.shared.instance.memory_mb;
        Placer {
            spec: *spec,
            pools: BTreeMap::new(),
            tenant_mb: (pool_memory as f64 * spec.shared.tenant_memory).round() as u64,
            dedicated: 0,
        }
    }

    /// Place one dyno of process `p` of app `a`; `instances` is the number of instances so far
    /// (a [`Spot::New`] instance gets that index). `rng` is used only by the random policy.
    pub fn place(
        &mut self,
        a: usize,
        app: &AppSpec,
        p: usize,
        spaces: &[super::SpaceSpec],
        instances: usize,
        rng: &mut RngStream,
    ) -> Result<Spot, PlacementError> {
        let proc_ = &app.processes[p];
        let spec = &self.spec;
        let need = proc_.size.ram_mb;
        if !proc_.size.tier.shares_host() {
            // An instance of its own: the dyno's cores and memory, nobody else's.
            let dedicated = self.dedicated;
            let (name, pool) = match app.space {
                Some(sp) => {
                    let space = &spaces[sp].name;
                    (
                        format!("space.{space}.{dedicated}"),
                        PoolKey::Space(space.clone()),
                    )
                }
                None => (format!("dedicated.{dedicated}"), PoolKey::Dedicated),
            };
            self.dedicated += 1;
            return Ok(Spot::New(Instance {
                name,
                pool,
                kind: InstanceType {
                    vcpus: proc_.size.vcpus,
                    memory_mb: proc_.size.ram_mb,
                    speed: 1.0,
                },
                tenant_memory_mb: 0,
                dynos: Vec::new(),
                apps: Vec::new(),
            }));
        }
        let pool_memory = spec.shared.instance.memory_mb;
        let tenant_mb = self.tenant_mb;
        let (slots, free, next) = self.pools.entry(app.region.clone()).or_insert_with(|| {
            (
                BTreeMap::new(),
                vec![pool_memory.saturating_sub(tenant_mb); spec.shared.instances as usize],
                0,
            )
        });
        let n = free.len() as u32;
        let fits = |s: u32, free: &[u64]| free[s as usize] >= need;
        let slot = match spec.policy {
            PlacementPolicy::Spread => {
                // Round robin from where the last dyno went, skipping full instances.
                let found = (0..n).map(|i| (*next + i) % n).find(|&s| fits(s, free));
                if let Some(s) = found {
                    *next = (s + 1) % n.max(1);
                }
                found
            }
            PlacementPolicy::BinPack => (0..n).find(|&s| fits(s, free)),
            PlacementPolicy::Random => {
                let open: Vec<u32> = (0..n).filter(|&s| fits(s, free)).collect();
                if open.is_empty() {
                    None
                } else {
                    Some(open[rng.below(open.len() as u64) as usize])
                }
            }
        };
        let Some(slot) = slot else {
            return Err(PlacementError {
                app: a,
                process: p,
                message: format!(
                    "the shared pool of region `{}` has no instance with {} MB free for a {} dyno ({} instances of {} MB, {:.0}% taken by other tenants); raise [placement] instances",
                    app.region,
                    need,
                    proc_.size.display,
                    n,
                    pool_memory,
                    spec.shared.tenant_memory * 100.0
                ),
            });
        };
        free[slot as usize] -= need;
        if let Some(&idx) = slots.get(&slot) {
            return Ok(Spot::Existing(idx));
        }
        slots.insert(slot, instances);
        Ok(Spot::New(Instance {
            name: format!("shared.{}.{slot}", app.region),
            pool: PoolKey::Shared(app.region.clone()),
            kind: spec.shared.instance,
            tenant_memory_mb: tenant_mb,
            dynos: Vec::new(),
            apps: Vec::new(),
        }))
    }
}

/// Place every dyno of `apps`. `rng` is used only by the random policy. Returns the placement
/// and the placer's state, to place more dynos later in the same pools.
pub fn place_formation(
    apps: &[AppSpec],
    spaces: &[super::SpaceSpec],
    spec: &PlacementSpec,
    rng: &mut RngStream,
) -> Result<(Placement, Placer), PlacementError> {
    let mut placer = Placer::new(spec);
    let mut instances: Vec<Instance> = Vec::new();
    let mut of_dyno = Vec::new();
    for (a, app) in apps.iter().enumerate() {
        for (p, proc_) in app.processes.iter().enumerate() {
            for _ in 0..proc_.count {
                let dyno = of_dyno.len();
                let idx = match placer.place(a, app, p, spaces, instances.len(), rng)? {
                    Spot::Existing(i) => i,
                    Spot::New(inst) => {
                        instances.push(inst);
                        instances.len() - 1
                    }
                };
                instances[idx].add(dyno, a);
                of_dyno.push(idx);
            }
        }
    }
    Ok((Placement { instances, of_dyno }, placer))
}

/// Place every dyno of `apps`. `rng` is used only by the random policy.
pub fn place(
    apps: &[AppSpec],
    spaces: &[super::SpaceSpec],
    spec: &PlacementSpec,
    rng: &mut RngStream,
) -> Result<Placement, PlacementError> {
    place_formation(apps, spaces, spec, rng).map(|(placement, _)| placement)
}
