//! Scaling a scenario to this machine, and drawing the real run's requests and neighbour
//! schedule from the simulator's own random streams.
//!
//! **Scaling.** One CPU is kept for the load generator (when the machine has two or more); the
//! others are the "instance" the dynos run on. Dedicated dynos get whole CPUs of their own
//! (their vCPUs are cut to what is there, and their count to what fits); shared-tier dynos all
//! go on one shared instance made of those CPUs, with the scenario's neighbour load as a
//! fraction of it. When dynos are dropped the arrival rate drops in proportion, so each dyno
//! keeps its load. Everything the real run cannot reproduce (host speed variability, eco sleep,
//! router limits) is turned off in the scaled scenario, so the simulation runs exactly what the
//! real run does. [`Scaled::notes`] says what changed.
//!
//! **Lifecycle.** Deploys, scheduled and random crashes and daily cycling stay. The scaled
//! scenario is simulated once beforehand and its lifecycle events become the real run's
//! [`Action`]s: a fresh jail at each `boot` (its app sleeps the simulated boot time before it
//! listens), SIGTERM at each `sigterm`, SIGKILL at each `crash`, `r10` and `r15`. These times do
//! not depend on the requests (the model draws them from `lifecycle/<process>` streams), so
//! the real run restarts its dynos at exactly the simulation's times.
//!
//! **Pairing.** The real run's requests are drawn from the streams the model uses for the same
//! job (`arrivals/<app>`, `cpu/<app>`, `wait/<app>`, `router/<app>`, `filesystem/<app>`), in the
//! model's order, and the neighbours' on/off times from `neighbours/<instance>`. Request k thus
//! has the same arrival time, CPU demand, wait and dyno in both runs, and the burners are on
//! exactly when the simulated neighbours are: the comparison is paired, and what differs is the
//! kernel, not the dice.

use super::app::WorkRequest;
use super::loadgen::Planned;
use crate::engine::Control;
use crate::engine::{SeedTree, SimDuration, SimTime};
use crate::model::noise::{Neighbours, NoiseSpec};
use crate::model::{
    Dist, InstanceType, LifecycleEvent, LifecycleKind, NoRequests, PlacementPolicy, Plans,
    RequestSource, SimConfig, Size, placement_stream, router_stream, run_job,
};
use crate::scenario::{Point, Scenario};
use std::time::Duration;

/// How a scenario is fitted to this machine.
#[derive(Debug, Clone)]
pub struct ScaleOptions {
    /// Sweep point to run (0 without a sweep).
    pub point: usize,
    /// Simulated and real duration (default: the scenario's).
    pub duration: Option<Duration>,
    /// CPUs this process may use.
    pub cpus: Vec<usize>,
    /// At most this many shared-tier dynos on the instance.
    pub max_shared_dynos: u32,
    /// Router-to-dyno round trip measured on the real loopback (the simulation's network).
    pub network_rtt: Duration,
    /// Contention coefficient for the simulated shared instance, from a calibration file
    /// (`None`: the scenario's).
    pub contention: Option<f64>,
}

/// One real dyno.
#[derive(Debug, Clone)]
pub struct RealDyno {
    /// Index of its app in the scaled configuration.
    pub app: usize,
    /// Platform name (`web.1`).
    pub name: String,
    /// The (scaled) size.
    pub size: Size,
    /// Worker threads.
    pub concurrency: u32,
    /// CPUs it may run on.
    pub cpus: Vec<usize>,
    /// cgroup v1 CPU shares (1024 x the size's CPU share).
    pub shares: u64,
    /// CFS quota in cores, if capped.
    pub quota: Option<f64>,
    /// The simulated instance it stands for.
    pub instance: String,
}

/// One neighbour source: a burner in a cgroup of its own.
#[derive(Debug, Clone)]
pub struct Burner {
    /// Cgroup and hostname (`noise.1`).
    pub name: String,
    /// CPUs (the shared instance's).
    pub cpus: Vec<usize>,
    /// Cores it demands while on.
    pub cores: f64,
    /// Busy threads while on (`ceil(cores)`).
    pub threads: usize,
    /// Its weight: `cores` x 1024 shares, as the model weighs neighbours by their demand.
    pub shares: u64,
    /// A CFS cap when `cores` is fractional.
    pub quota: Option<f64>,
    /// On at time 0?
    pub initially_on: bool,
    /// Flip times, ns after time 0.
    pub flips_ns: Vec<u64>,
}

/// What the real run does to one dyno (or records) at a time the simulation chose.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Start a fresh jail (a new incarnation) whose app sleeps `boot_ns` before it listens.
    Boot {
        /// The simulated boot time.
        boot_ns: u64,
    },
    /// SIGTERM: out of the router at once; the app drains, SIGKILL after the scenario's `drain`.
    Sigterm,
    /// SIGKILL at once; the requests the dyno holds fail (H13).
    Kill {
        /// `crash`, `r10` or `r15`.
        cause: LifecycleKind,
    },
    /// An event only recorded (`deploy`, `cycle`, `backoff`).
    Note {
        /// The simulation's event.
        event: LifecycleKind,
        /// Its detail.
        detail: String,
    },
}

/// One lifecycle action of the real run, taken from the simulation's events.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// When, ns after time 0.
    pub at_ns: u64,
    /// The app (index in the scaled configuration).
    pub app: usize,
    /// The dyno (index into [`Scaled::dynos`]); `None` for app-wide notes (`deploy`).
    pub dyno: Option<usize>,
    /// The incarnation it concerns (0 = the dyno running at time 0).
    pub incarnation: u32,
    /// What to do.
    pub kind: ActionKind,
}

impl Action {
    /// Order of actions at the same instant: dynos leave the router before new ones boot.
    fn rank(&self) -> u8 {
        match self.kind {
            ActionKind::Kill { .. } | ActionKind::Sigterm => 0,
            ActionKind::Note { .. } => 1,
            ActionKind::Boot { .. } => 2,
        }
    }
}

/// A scenario fitted to this machine, with everything both runs need.
#[derive(Debug, Clone)]
pub struct Scaled {
    /// The scaled scenario: one point, one replication; the simulation runs it as is. Each app
    /// keeps only the process type that receives its workload.
    pub scenario: Scenario,
    /// Seeds of its only job.
    pub seeds: SeedTree,
    /// The real dynos, app by app, in the order of the model's dyno numbers.
    pub dynos: Vec<RealDyno>,
    /// Neighbour burners (shared instance only).
    pub burners: Vec<Burner>,
    /// CPUs of the load generator.
    pub loadgen_cpus: Vec<usize>,
    /// The requests of every app, in arrival order (`dyno` indexes [`Scaled::dynos`]).
    pub plan: Vec<Planned>,
    /// The app of each planned request.
    pub plan_app: Vec<usize>,
    /// Lifecycle actions in time order (empty without deploys, crashes or cycling in the run).
    pub actions: Vec<Action>,
    /// The simulation's lifecycle events for this job, as its events.csv has them.
    pub sim_events: Vec<LifecycleEvent>,
    /// What was changed to fit, for the user.
    pub notes: Vec<String>,
}

impl Scaled {
    /// Each real dyno's number within its app (`web.<n>`), in `dynos` order.
    pub fn local_numbers(&self) -> Vec<u32> {
        let mut seen = vec![0u32; self.config().apps.len()];
        self.dynos
            .iter()
            .map(|d| {
                seen[d.app] += 1;
                seen[d.app]
            })
            .collect()
    }

    /// The scaled configuration.
    pub fn config(&self) -> &SimConfig {
        &self.scenario.points[0].config
    }
}

/// Fit `scenario` to this machine. Errors name what cannot be run for real.
pub fn scale(scenario: &Scenario, opts: &ScaleOptions) -> Result<Scaled, String> {
    let point = scenario.points.get(opts.point).ok_or_else(|| {
        format!(
            "the scenario has {} sweep point(s); --point {} does not exist",
            scenario.points.len(),
            opts.point
        )
    })?;
    let mut cfg = point.config.clone();
    let mut notes = Vec::new();
    let dropped: Vec<String> = cfg
        .apps
        .iter()
        .filter(|a| a.workload.is_none())
        .map(|a| a.name.clone())
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "apps without a workload are not run: {}",
            dropped.join(", ")
        ));
    }
    cfg.apps.retain(|a| a.workload.is_some());
    if cfg.apps.is_empty() {
        return Err("no app has a [app.workload]: there is nothing to send".into());
    }

    // CPUs: one for the load generator, the rest for the instance(s).
    let mut cpus = opts.cpus.clone();
    cpus.sort_unstable();
    cpus.dedup();
    if cpus.is_empty() {
        return Err("no CPU is available".into());
    }
    let (loadgen_cpus, host_cpus) = if cpus.len() >= 2 {
        (vec![cpus[0]], cpus[1..].to_vec())
    } else {
        notes.push(
            "one CPU only: the load generator shares it with the dynos (expect extra latency)"
                .into(),
        );
        (cpus.clone(), cpus.clone())
    };
    let h = host_cpus.len() as u32;

    let mut any_dedicated = false;
    let mut any_shared = false;
    for app in &mut cfg.apps {
        if app.space.is_some() {
            return Err(format!(
                "app `{}` runs in a space; validate runs Common Runtime apps only",
                app.name
            ));
        }
        let Some(w) = app.workload.as_mut() else {
            continue;
        };
        if !w.calls.is_empty() {
            return Err("downstream calls are not supported by validate yet".into());
        }
        let mut proc_ = app.processes[w.process].clone();
        if app.processes.len() > 1 {
            let others: Vec<&str> = app
                .processes
                .iter()
                .filter(|p| p.name != proc_.name)
                .map(|p| p.name.as_str())
                .collect();
            notes.push(format!(
                "app `{}`: process types without requests are not run: {}",
                app.name,
                others.join(", ")
            ));
        }
        if proc_.count == 0 {
            return Err(format!(
                "app `{}`: process `{}` has no dynos",
                app.name, proc_.name
            ));
        }
        let count0 = proc_.count;
        let size = &mut proc_.size;
        if size.tier.shares_host() {
            any_shared = true;
            proc_.count = proc_.count.min(opts.max_shared_dynos.max(1));
            if size.vcpus > h {
                notes.push(format!(
                    "{} dynos may use {h} core(s) instead of {} (the instance has {h})",
                    size.name, size.vcpus
                ));
                size.vcpus = h;
            }
        } else {
            any_dedicated = true;
            let v = size.vcpus.min(h).max(1);
            if v < size.vcpus {
                notes.push(format!(
                    "{} dynos get {v} CPU(s) each instead of {} (this machine has {h} for dynos)",
                    size.name, size.vcpus
                ));
            }
            size.vcpus = v;
            proc_.count = proc_.count.min((h / v).max(1));
        }
        if proc_.count < count0 {
            notes.push(format!(
                "app `{}`: {} x {} dynos scaled to {}; its arrival rate is scaled by {}/{} so each dyno keeps its load",
                app.name, count0, proc_.size.name, proc_.count, proc_.count, count0
            ));
            let f = f64::from(proc_.count) / f64::from(count0);
            w.arrivals = w.arrivals.scaled(f);
        }
        if let Some(q) = proc_.cpu_quota {
            if q > f64::from(proc_.size.vcpus) {
                notes.push(format!(
                    "cpu_quota {q} cut to the {} core(s) the dyno has",
                    proc_.size.vcpus
                ));
                proc_.cpu_quota = Some(f64::from(proc_.size.vcpus));
            }
            if cfg.cpu.mode == crate::model::CpuMode::Fluid {
                notes.push(format!(
                    "the real dyno's cpu_quota is a CFS quota over {} (the kernel has no fluid cap); set [cpu] mode = \"cfs\" to model it",
                    cfg.cpu.period
                ));
            }
        }
        // Crashes of the process that is run, renumbered; crashes of dropped dynos go.
        let (kept, count) = (w.process, proc_.count);
        let before = app.crashes.len();
        app.crashes
            .retain(|c| c.process == kept && c.dyno <= count && c.dyno >= 1);
        for c in &mut app.crashes {
            c.process = 0;
        }
        if app.crashes.len() < before {
            notes.push(format!(
                "app `{}`: {} scheduled crash(es) of dynos that are not run dropped",
                app.name,
                before - app.crashes.len()
            ));
        }
        w.process = 0;
        app.processes = vec![proc_];
        app.router.active_limit = u32::MAX / 2;
        app.router.backlog_per_dyno = u32::MAX / 2;
        app.router.keepalive = true;
    }
    if any_shared && any_dedicated {
        return Err(format!(
            "shared-tier and dedicated dynos together need CPUs of their own; this machine has {h} for dynos: validate them in separate scenarios"
        ));
    }
    // Dedicated dynos of all apps must fit the CPUs, one set of whole CPUs each.
    if any_dedicated {
        let mut used = 0;
        for app in &cfg.apps {
            let p = &app.processes[0];
            used += p.count * p.size.vcpus;
        }
        if used > h {
            return Err(format!(
                "the dedicated dynos need {used} CPUs; this machine has {h} for dynos (after one for the load generator)"
            ));
        }
    }
    cfg.spaces.clear();

    if let Some(d) = opts.duration {
        cfg.duration = SimDuration::from_secs_f64(d.as_secs_f64());
    }
    if cfg.warmup.as_nanos() >= cfg.duration.as_nanos() {
        notes.push("the warmup is longer than the run: no warmup".into());
        cfg.warmup = SimDuration::from_nanos(0);
    }
    if cfg.window.as_nanos() > cfg.duration.as_nanos() {
        cfg.window = cfg.duration;
    }
    if cfg.lifecycle.eco_sleep && cfg.apps.iter().any(|a| a.processes[0].size.sleeps) {
        notes.push("eco sleep is not run (off in both runs)".into());
    }
    cfg.lifecycle.eco_sleep = false;
    cfg.network.client_router = Dist::Constant(0.0);
    cfg.network.router_dyno = Dist::Constant(opts.network_rtt.as_secs_f64());
    if let Some(n) = cfg.noise.as_mut() {
        if n.speed_sigma_shared > 0.0
            || n.speed_sigma_dedicated > 0.0
            || n.drift_sigma_shared > 0.0
            || n.drift_sigma_dedicated > 0.0
        {
            notes.push(
                "host speed variability is not reproduced on real cores: off in both runs".into(),
            );
        }
        n.speed_sigma_shared = 0.0;
        n.speed_sigma_dedicated = 0.0;
        n.drift_sigma_shared = 0.0;
        n.drift_sigma_dedicated = 0.0;
        if let Some(c) = opts.contention {
            notes.push(format!(
                "contention = {c:.4} per busy co-runner core, from the calibration file"
            ));
            n.contention = c;
        }
    }
    // One shared instance of the host CPUs that takes every shared dyno.
    let shared_mb: u64 = cfg
        .apps
        .iter()
        .map(|a| u64::from(a.processes[0].count) * a.processes[0].size.ram_mb)
        .sum();
    cfg.placement.policy = PlacementPolicy::BinPack;
    cfg.placement.shared.instances = 1;
    cfg.placement.shared.tenant_memory = 0.0;
    cfg.placement.shared.instance = InstanceType {
        vcpus: h,
        memory_mb: (shared_mb + 1024).max(512),
        speed: 1.0,
    };

    let mut scaled_scenario = scenario.clone();
    scaled_scenario.replications = 1;
    scaled_scenario.points = vec![Point {
        index: 0,
        values: point.values.clone(),
        config: cfg.clone(),
    }];
    scaled_scenario.warnings.clear();
    let seeds = scaled_scenario.jobs()[0].seeds;
    let placement = crate::model::place(
        &cfg.apps,
        &cfg.spaces,
        &cfg.placement,
        &mut placement_stream(seeds),
    )
    .map_err(|e| format!("the scaled formation cannot be placed: {}", e.message))?;

    let mut real = Vec::new();
    let mut next_cpu = 0usize;
    for (a, app) in cfg.apps.iter().enumerate() {
        let p = &app.processes[0];
        let shares = ((p.size.cpu_share * 1024.0).round() as u64).clamp(2, 262_144);
        for i in 0..p.count as usize {
            let instance = placement
                .instances
                .get(placement.of_dyno[real.len()])
                .map(|x| x.name.clone())
                .unwrap_or_default();
            let cpus = if p.size.tier.shares_host() {
                host_cpus.clone()
            } else {
                let v = p.size.vcpus as usize;
                let own = host_cpus[next_cpu..next_cpu + v].to_vec();
                next_cpu += v;
                own
            };
            // A cap only where it binds: a size's vCPUs on a cpuset of that many CPUs need none.
            let quota = match p.cpu_quota {
                Some(q) => Some(q),
                None if (p.size.vcpus as usize) < cpus.len() => Some(f64::from(p.size.vcpus)),
                None => None,
            };
            real.push(RealDyno {
                app: a,
                name: format!("{}.{}", p.name, i + 1),
                size: p.size.clone(),
                concurrency: p.concurrency,
                cpus,
                shares,
                quota,
                instance,
            });
        }
    }
    let mut burners = Vec::new();
    if let (Some(noise), true) = (cfg.noise.as_ref(), any_shared) {
        let instance = placement
            .instances
            .iter()
            .find(|i| i.shared())
            .map(|i| i.name.clone())
            .unwrap_or_default();
        burners = neighbour_burners(
            noise,
            f64::from(h),
            seeds.named(&format!("neighbours/{instance}")),
            cfg.duration,
            &host_cpus,
        );
    }
    // Every app's requests, merged in time order (the model numbers requests globally in
    // arrival order).
    let mut tagged: Vec<(Planned, usize)> = Vec::new();
    let mut first = 0;
    for (a, app) in cfg.apps.iter().enumerate() {
        let n = app.processes[0].count as usize;
        for mut p in draw_requests(&cfg, a, seeds, n) {
            p.dyno += first;
            tagged.push((p, a));
        }
        first += n;
    }
    tagged.sort_by_key(|(p, _)| p.at_ns);
    let mut plan = Vec::with_capacity(tagged.len());
    let mut plan_app = Vec::with_capacity(tagged.len());
    for (i, (mut p, a)) in tagged.into_iter().enumerate() {
        p.work.id = i as u64;
        plan.push(p);
        plan_app.push(a);
    }
    // The simulation's lifecycle for this job: its times do not depend on the requests.
    let sim_events = run_job(&cfg, seeds, NoRequests, |_, _| Control::Continue)
        .map_err(|e| format!("the scaled formation cannot be placed: {}", e.message))?
        .lifecycle;
    let first_dyno: Vec<usize> = (0..cfg.apps.len())
        .map(|a| real.iter().position(|d| d.app == a).unwrap_or(0))
        .collect();
    let actions = lifecycle_actions(&sim_events, &first_dyno);
    if !actions.is_empty() {
        let restarts = actions
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Boot { .. }))
            .count();
        notes.push(format!(
            "lifecycle: {restarts} dyno start(s) at the simulation's times (deploys, crashes, cycling)"
        ));
    }
    Ok(Scaled {
        scenario: scaled_scenario,
        seeds,
        dynos: real,
        burners,
        loadgen_cpus,
        plan,
        plan_app,
        actions,
        sim_events,
        notes,
    })
}

/// The real run's actions from the simulation's lifecycle events. `first_dyno[a]` is the index
/// of app `a`'s first dyno in [`Scaled::dynos`]. A boot's time is the simulated one: from its
/// `boot` event to its `up` event (or the `boot_s` it logged, if it never came up).
pub fn lifecycle_actions(events: &[LifecycleEvent], first_dyno: &[usize]) -> Vec<Action> {
    let dyno_of = |e: &LifecycleEvent| {
        (e.dyno >= 1).then(|| first_dyno.get(e.app).copied().unwrap_or(0) + e.dyno as usize - 1)
    };
    let mut out = Vec::new();
    for e in events {
        let kind = match e.event {
            LifecycleKind::Boot => {
                let up = events.iter().find(|u| {
                    u.event == LifecycleKind::Up
                        && (u.app, u.dyno, u.incarnation) == (e.app, e.dyno, e.incarnation)
                });
                let boot_ns = match up {
                    Some(u) => u.time_ns - e.time_ns,
                    None => e
                        .detail
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("boot_s="))
                        .and_then(|v| v.parse::<f64>().ok())
                        .map_or(0, |s| SimDuration::from_secs_f64(s).as_nanos()),
                };
                ActionKind::Boot { boot_ns }
            }
            LifecycleKind::Sigterm => ActionKind::Sigterm,
            LifecycleKind::Crash | LifecycleKind::R10 | LifecycleKind::R15 => {
                ActionKind::Kill { cause: e.event }
            }
            LifecycleKind::Deploy | LifecycleKind::Cycle | LifecycleKind::Backoff => {
                ActionKind::Note {
                    event: e.event,
                    detail: e.detail.clone(),
                }
            }
            _ => continue,
        };
        out.push(Action {
            at_ns: e.time_ns,
            app: e.app,
            dyno: dyno_of(e),
            incarnation: e.incarnation,
            kind,
        });
    }
    out.sort_by_key(|a| (a.at_ns, a.rank()));
    out
}

/// The neighbours of the shared instance as burners, following the model's on/off process
/// for this job exactly (same stream, same draws, same order).
pub fn neighbour_burners(
    noise: &NoiseSpec,
    cores: f64,
    stream: SeedTree,
    duration: SimDuration,
    cpus: &[usize],
) -> Vec<Burner> {
    if noise.load <= 0.0 {
        return Vec::new();
    }
    let mut n = Neighbours::new(noise, cores, stream.stream());
    let sources = noise.sources.max(1) as usize;
    let p = 1.0 / noise.burstiness.max(1.0);
    let per_source = noise.load * cores / (sources as f64 * p);
    let mut on = if per_source > 0.0 {
        (n.demand() / per_source).round() as usize
    } else {
        0
    };
    let mut state: Vec<bool> = (0..sources).map(|s| s < on).collect();
    let initial = state.clone();
    let mut flips: Vec<Vec<u64>> = vec![Vec::new(); sources];
    let mut t = 0u64;
    while let Some(dt) = n.next_change() {
        t += dt.as_nanos();
        if t >= duration.as_nanos() {
            break;
        }
        n.flip();
        let now_on = (n.demand() / per_source).round() as usize;
        if now_on > on {
            // The lowest-numbered idle source starts.
            if let Some(s) = state.iter().position(|x| !x) {
                state[s] = true;
                flips[s].push(t);
            }
        } else if now_on < on {
            // The highest-numbered busy source stops.
            if let Some(s) = state.iter().rposition(|x| *x) {
                state[s] = false;
                flips[s].push(t);
            }
        }
        on = now_on;
    }
    let threads = per_source.ceil().max(1.0) as usize;
    (0..sources)
        .map(|s| Burner {
            name: format!("noise.{}", s + 1),
            cpus: cpus.to_vec(),
            cores: per_source,
            threads,
            shares: ((per_source * 1024.0).round() as u64).clamp(2, 262_144),
            quota: (per_source < threads as f64 - 1e-9).then_some(per_source),
            initially_on: initial[s],
            flips_ns: std::mem::take(&mut flips[s]),
        })
        .filter(|b| b.initially_on || !b.flips_ns.is_empty())
        .collect()
}

/// The job's requests as the model draws them, by the model's own functions: arrivals and
/// each request's CPU, wait and file actions from [`RequestSource`] (`model::workload`), and the
/// router's pick from `router/<app>` (one draw for the router, one for the dyno: every dyno is up
/// and below the router's limit).
pub fn draw_requests(cfg: &SimConfig, a: usize, seeds: SeedTree, dynos: usize) -> Vec<Planned> {
    let app = &cfg.apps[a];
    if app.workload.is_none() {
        return Vec::new();
    }
    let plans = Plans::new(cfg);
    let mut source = RequestSource::new(app, a, &plans, seeds);
    let mut router = router_stream(seeds, app);
    let routers = app.router.routers.max(1) as u64;
    let cache = app.filesystem.as_ref().is_some_and(|f| f.cache_items > 0);
    let mut plan = Vec::new();
    let mut t = SimTime::ZERO;
    while let Some(at) = source.next_arrival(t) {
        if at.as_nanos() >= cfg.duration.as_nanos() {
            break;
        }
        t = at;
        let drawn = source.draw_request(&plans);
        let _router = router.below(routers);
        let dyno = router.below(dynos.max(1) as u64) as usize;
        let f = drawn.files;
        plan.push(Planned {
            at_ns: t.as_nanos(),
            dyno,
            app: a,
            work: WorkRequest {
                id: plan.len() as u64,
                cpu_ns: drawn.work_ns.max(0.0).round() as u64,
                wait_ns: drawn.wait_ns,
                write_bytes: f.write_bytes,
                client: u64::from(f.client),
                item: cache.then_some(u64::from(f.item)),
                miss_ns: if cache { f.miss_ns } else { 0 },
                read: f.reads,
            },
        });
    }
    plan
}

/// A description of the scaled formation, one line per app and one for the machine.
pub fn describe(s: &Scaled) -> String {
    let cfg = s.config();
    let cpus = |v: &[usize]| {
        v.iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut lines = Vec::new();
    for app in &cfg.apps {
        let p = &app.processes[0];
        let rate = app
            .workload
            .as_ref()
            .map_or(0.0, |w| w.arrivals.mean_rate());
        lines.push(format!(
            "{}/{}: {} x {} (concurrency {}, {} vCPU{}{}) at {:.2} req/s",
            app.name,
            p.name,
            p.count,
            p.size.name,
            p.concurrency,
            p.size.vcpus,
            if p.size.vcpus == 1 { "" } else { "s" },
            p.cpu_quota
                .map(|q| format!(", quota {q}"))
                .unwrap_or_default(),
            rate,
        ));
    }
    let dyno_cpus: Vec<usize> = s
        .dynos
        .iter()
        .flat_map(|d| d.cpus.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut machine = format!(
        "{} for {}; dynos on CPU {}, load generator on CPU {}",
        s.plan.len(),
        cfg.duration,
        cpus(&dyno_cpus),
        cpus(&s.loadgen_cpus)
    );
    machine.insert_str(0, "requests: ");
    if !s.burners.is_empty() {
        let b = &s.burners[0];
        machine.push_str(&format!(
            "; {} neighbour burner(s) of {:.2} core(s) each",
            s.burners.len(),
            b.cores
        ));
    }
    lines.push(machine);
    lines.join("\n  ")
}
