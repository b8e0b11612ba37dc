//! The platform model: apps, routers, dynos and hosts reacting to events.
//!
//! Split by concern: `requests` (arrival, routing, service, deadlines), `cpu` (host CPU
//! allocation, neighbours, drift, CFS), `lifecycle` (boot, cycling, crashes, deploys, sleep,
//! memory, filesystem), `formation` (formation policies scaling processes during the run),
//! `results` (what a job reports).

mod cpu;
mod formation;
mod lifecycle;
mod requests;
mod results;

use super::SimConfig;
use super::cpu::CpuMode;
use super::dyno::{Cfs, Dyno};
use super::formation::{FormationPolicy, Policies, ScaleRecord};
use super::host::Host;
use super::metrics::{LatencyStats, LifecycleEvent, RequestRecord, WindowRow, Windows};
use super::placement::{PlacementError, Placer, place_formation};
use super::router::Router;
use super::workload::{DrawnRequest, Plans, RequestSource, app_stream};
use crate::engine::{Control, Model, RngStream, Scheduler, SeedTree, SimTime, Simulation};
use std::collections::VecDeque;

/// Receives a job's row-level output as it becomes final: every counted request when its
/// outcome is known, every time window when it closes, every lifecycle event when it happens.
///
/// Windows and events come by value: an observer that writes them somewhere takes them (returns
/// `None`), so a long run keeps none of them in memory; the default hands them back, and they
/// are collected into [`JobResult::windows`](super::JobResult) and `lifecycle` (library use,
/// tests).
pub trait RequestObserver {
    fn on_request(&mut self, record: &RequestRecord);

    /// Whether `on_request` does anything: when it does not, no record is built, which in a
    /// large fleet spares reading each request's dyno once more.
    fn wants_requests(&self) -> bool {
        true
    }

    /// A windows.csv row, final: its window closed. Rows come in time order, then process order.
    fn on_window(&mut self, row: WindowRow) -> Option<WindowRow> {
        Some(row)
    }

    /// An events.csv row, in the order events happen.
    fn on_lifecycle(&mut self, event: LifecycleEvent) -> Option<LifecycleEvent> {
        Some(event)
    }

    /// Request `id` of app `app` (the caller's app for a call) was drawn: what
    /// `model::workload` drew for it, before the platform touched it. Called for every request,
    /// counted or not (tests pair these with `dynosim validate`'s plan); the default ignores it.
    #[inline]
    fn on_drawn(&mut self, _id: u64, _app: usize, _drawn: &DrawnRequest) {}

    /// A formation policy changed a process's dyno count (see `model::formation`).
    fn on_scale(&mut self, _record: &ScaleRecord) {}
}

/// An observer that ignores requests and collects windows and events into the job result (the
/// default: no per-request output).
pub struct NoRequests;

impl RequestObserver for NoRequests {
    #[inline]
    fn on_request(&mut self, _: &RequestRecord) {}

    fn wants_requests(&self) -> bool {
        false
    }
}

impl<T: RequestObserver + ?Sized> RequestObserver for &mut T {
    #[inline]
    fn on_request(&mut self, record: &RequestRecord) {
        (**self).on_request(record)
    }

    fn wants_requests(&self) -> bool {
        (**self).wants_requests()
    }

    fn on_window(&mut self, row: WindowRow) -> Option<WindowRow> {
        (**self).on_window(row)
    }

    fn on_lifecycle(&mut self, event: LifecycleEvent) -> Option<LifecycleEvent> {
        (**self).on_lifecycle(event)
    }

    #[inline]
    fn on_drawn(&mut self, id: u64, app: usize, drawn: &DrawnRequest) {
        (**self).on_drawn(id, app, drawn)
    }

    fn on_scale(&mut self, record: &ScaleRecord) {
        (**self).on_scale(record)
    }
}

/// Events of the platform model. Events about a request carry its generation and events about a
/// dyno's timers carry an epoch, so events made stale by later changes are recognised.
///
/// The kinds of events ([`EventKind`], named in `--profile`) are derived from this list, so a new
/// event is one variant here and one arm in `dispatch_event`.
#[derive(Debug, Clone, Copy, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(EventKind),
    derive(strum::EnumCount, strum::VariantNames, strum::IntoStaticStr),
    strum(serialize_all = "snake_case")
)]
pub enum Event {
    /// The next request of app `0` arrives at its router.
    Arrival(u32),
    /// A request reaches its dyno `dyno` after the network delay.
    AtDyno {
        req: u32,
        generation: u32,
        dyno: u32,
    },
    /// The earliest CPU completion on a dyno.
    /// `req` is the request expected to complete first, a hint for prefetching only.
    CpuDone { dyno: u32, epoch: u32, req: u32 },
    /// A request's non-CPU wait ends.
    WaitDone {
        req: u32,
        generation: u32,
        dyno: u32,
    },
    /// A request's first-byte deadline (H12) passes.
    Deadline { req: u32, generation: u32 },
    /// A call's answer reaches its caller.
    CallReturn { parent: u32, generation: u32 },
    /// The router gives up holding a request for a booting dyno (H20).
    HoldTimeout { req: u32, generation: u32 },
    /// A request still waits in a router's backlog when its deadline passes (H12).
    BacklogTimeout { req: u32, generation: u32 },
    /// A neighbour source on a shared host starts or stops.
    Neighbours(u32),
    /// A host's speed drifts.
    Drift(u32),
    /// A capped dyno's CFS budget runs out or its next period starts.
    Cfs { dyno: u32, epoch: u32 },
    /// Start a new incarnation of a dyno slot (after a crash backoff, a wake, a restart).
    Start(u32),
    /// A booting dyno finishes booting (or hits R10).
    BootDone(u32),
    /// Daily cycling of a dyno incarnation.
    Cycle(u32),
    /// A random crash of a dyno incarnation.
    Crash(u32),
    /// A crash the scenario scheduled, for the slot's current incarnation.
    ScheduledCrash(u32),
    /// SIGTERM to an incarnation (preboot cutover).
    Sigterm(u32),
    /// The SIGTERM grace of a draining incarnation ends: SIGKILL.
    Kill(u32),
    /// A deploy of app `app` (index into its deploy list).
    Deploy { app: u32 },
    /// Check whether an eco dyno has been idle long enough to sleep.
    IdleCheck(u32),
    /// A dyno's memory crosses its R14 or R15 threshold.
    Memory { dyno: u32, epoch: u32 },
    /// Formation policy `0` decides (only with policies, see `model::formation`).
    FormationTick(u32),
}

/// A queue entry is the event plus 16 bytes of time and sequence: at most 32 bytes, half a line.
const _: () = assert!(std::mem::size_of::<Event>() <= 16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Free,
    /// On the network towards the dyno.
    Transit,
    /// Held by the router while no dyno is up yet.
    Held,
    /// In a router's backlog: every dyno is at the router's active limit.
    Backlogged,
    Queued,
    Cpu,
    /// Waiting for its downstream calls.
    Calls,
    Wait,
    /// Done on the dyno, response on its way back but past the deadline: the deadline event
    /// will record H12.
    Late,
    /// H12 already recorded; the dyno is still working on it.
    Abandoned,
}

/// `repr(C)`, line-aligned, hot fields first: the staleness check every request event makes
/// (generation, phase) and what routing and service read sit in the first line, timestamps in
/// the second, calls and filesystem draws in the third.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Request {
    generation: u32,
    phase: Phase,
    counted: bool,
    /// Which of the app's routers took it, and whether it holds that router's active slot on
    /// its dyno.
    router: u8,
    router_slot: bool,
    /// A call inside a space: straight to a dyno, no router, no deadline.
    direct: bool,
    held_once: bool,
    child_failed: bool,
    reads: bool,
    /// Global process index and dyno incarnation index (`u32::MAX` before dispatch).
    process: u32,
    dyno: u32,
    /// The work plan (CPU, calls, wait).
    plan: u32,
    /// The request that made this call, its generation and id (`u32::MAX`: an external request).
    parent: u32,
    /// The app-server process holding it on a dyno with a global lock (`Dyno::gvl`).
    worker: u16,
    /// Its endpoint in its app's workload (`NO_ENDPOINT`: none, or a call).
    endpoint: u16,
    arrival: SimTime,
    work: f64,
    wait_ns: u64,
    net_half_ns: u64,
    id: u64,
    /// When the router first sent it to a dyno (deadlines count from here).
    dispatched: SimTime,
    at_dyno: SimTime,
    start: SimTime,
    cpu_end: SimTime,
    /// Time spent in the router (backlog, hold, connection set-up) and waiting for calls.
    router_ns: u64,
    /// The 30 s window counts from here: arrival at the router, or the end of a hold for a
    /// booting dyno.
    deadline_from: SimTime,
    downstream_ns: u64,
    calls_start: SimTime,
    parent_id: u64,
    parent_generation: u32,
    /// The next call to make, its repetition, and the calls outstanding.
    next_call: u16,
    call_rep: u16,
    pending: u16,
    // Filesystem and cache draws, made at arrival so streams stay aligned.
    client: u32,
    item: u32,
    write_bytes: u64,
    miss_ns: u64,
}

struct AppRuntime {
    /// Global index of the process receiving the workload.
    target: Option<usize>,
    /// Its arrivals and the draws of its requests and calls (`model::workload`).
    source: RequestSource,
    /// Whether each external request comes from a trusted address.
    ingress_rng: RngStream,
    net_rng: RngStream,
    router: Router,
    /// Where each client last wrote its file: (slot, incarnation index).
    last_write: Vec<Option<(u32, u32)>>,
    next_deploy: usize,
}

/// Rolling deploy in progress: slots still to restart, and the batch being waited for.
struct Rolling {
    pending: VecDeque<u32>,
    waiting: Vec<u32>,
    batch: usize,
}

struct ProcessRuntime {
    app: usize,
    /// Index of the process within its app.
    local: usize,
    /// Its dyno slots by dyno number (`web.1` first), every one it ever had: the first `count`
    /// are the formation, the rest were scaled down (see `model::formation`). Contiguous in
    /// `Platform::slots` unless a policy added dynos.
    slots: Vec<u32>,
    count: usize,
    /// Incarnations that are up and routable.
    up: Vec<u32>,
    /// Requests the router holds until a dyno is up.
    held: VecDeque<(u32, u32)>,
    /// Per router: requests waiting because every dyno is at the router's active limit, with
    /// their generations (entries of requests that left the backlog are skipped), and how many
    /// are really waiting.
    backlog: Vec<VecDeque<(u32, u32)>>,
    backlog_len: Vec<usize>,
    /// Round-robin cursor for `<process>.<app>.app.localspace`.
    rr: u32,
    rolling: Option<Rolling>,
    requests: u64,
    errors: [u64; 8],
    latency: LatencyStats,
    /// Per endpoint of the workload it receives (empty without endpoints).
    endpoints: Vec<EndpointStats>,
    windows: Windows,
    /// p50 and p99 of its written windows that completed requests.
    window_p50_ms: Vec<f64>,
    window_p99_ms: Vec<f64>,
    lifecycle_rng: RngStream,
    cap: f64,
    swap_slowdown: f64,
    /// Its dynos' memory per request holding a slot (`memory.per_request_mb`).
    per_request_mb: f64,
}

/// Counts and latency of one endpoint's counted requests.
struct EndpointStats {
    requests: u64,
    errors: [u64; 8],
    latency: LatencyStats,
}

/// Counters of a dyno slot (`web.1`) over all its incarnations.
#[derive(Default)]
struct SlotStats {
    restarts: [u64; 6],
    uptime_ns: u64,
    r14_ns: u64,
    bytes_written: u64,
    bytes_lost: u64,
    files_lost: u64,
    cache_hits: u64,
    cache_misses: u64,
    penalty_ns: u64,
    sticky_reads: u64,
    sticky_miss_other: u64,
    sticky_miss_restart: u64,
    /// Summed from its incarnations at the end.
    served: u64,
    cpu_ns: f64,
    throttled_ns: u64,
    max_backlog: usize,
}

/// Restart causes, in `SlotStats::restarts` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Cycle = 0,
    Deploy = 1,
    Crash = 2,
    R10 = 3,
    R15 = 4,
    Sleep = 5,
}

struct Slot {
    process: u32,
    index: u32,
    host: u32,
    /// The incarnation that receives new traffic or is booting; `None` while down.
    current: Option<u32>,
    incarnations: u32,
    consecutive_crashes: u32,
    sleeping: bool,
    /// A start is scheduled (backoff or wake), so the slot is coming back.
    starting: bool,
    /// The next start is a wake from sleep.
    waking: bool,
    /// Scaled down: out of the formation, never restarted (see `model::formation`).
    retired: bool,
    stats: SlotStats,
}

/// The platform model (implements [`Model`]).
pub struct Platform<O: RequestObserver> {
    cfg: SimConfig,
    apps: Vec<AppRuntime>,
    procs: Vec<ProcessRuntime>,
    slots: Vec<Slot>,
    dynos: Vec<Dyno>,
    /// Each dyno's host, dense (40 KB for 10,000 dynos, so it stays in cache): the host of an
    /// upcoming event's dyno can be prefetched without waiting for the dyno's line.
    dyno_hosts: Vec<u32>,
    hosts: Vec<Host>,
    plans: Plans,
    reqs: Vec<Request>,
    free: Vec<u32>,
    next_id: u64,
    done: Vec<u32>,
    /// Scratch for a host's CPU split (claims in, allocations out), shared by all hosts.
    claims: Vec<super::cpu::Claim>,
    alloc: Vec<f64>,
    /// Lifecycle events and window rows the observer handed back, for the job result.
    events: Vec<LifecycleEvent>,
    window_rows: Vec<WindowRow>,
    /// Windows before this index have been written, for every process.
    windows_written: usize,
    /// When window `windows_written` may close (see `close_windows`).
    next_close_ns: u64,
    profile: Option<Box<Profile>>,
    /// Formation policies (`None`: the formation is fixed, nothing is checked for it).
    policies: Option<Box<Policies>>,
    /// The placement rules' state and stream, to place dynos a policy adds.
    placer: Placer,
    placement_rng: RngStream,
    seeds: SeedTree,
    observer: O,
}

impl<O: RequestObserver> Platform<O> {
    /// Build the model for one job; `seeds` is the job's node in the seed tree. Fails only if
    /// the formation cannot be placed (scenario validation checks that beforehand).
    pub fn new(
        cfg: SimConfig,
        seeds: SeedTree,
        observer: O,
    ) -> Result<Platform<O>, PlacementError> {
        let mut placement_rng = placement_stream(seeds);
        let (placement, placer) =
            place_formation(&cfg.apps, &cfg.spaces, &cfg.placement, &mut placement_rng)?;
        let plans = Plans::new(&cfg);
        let mut procs = Vec::new();
        let mut slots = Vec::new();
        let mut apps = Vec::new();
        for (a, app) in cfg.apps.iter().enumerate() {
            let mut target = None;
            let stream = |kind: &str| seeds.named(&format!("{kind}/{}", app.name)).stream();
            for (p, spec) in app.processes.iter().enumerate() {
                if app.workload.as_ref().is_some_and(|w| w.process == p) {
                    target = Some(procs.len());
                }
                let pidx = procs.len() as u32;
                let vcpus = f64::from(spec.size.vcpus);
                // In fluid mode the quota caps the rate; in CFS mode the dyno runs on all its
                // cores until the period's budget is spent.
                let cap = match (cfg.cpu.mode, spec.cpu_quota) {
                    (CpuMode::Fluid, Some(q)) => q.min(vcpus),
                    _ => vcpus,
                };
                procs.push(ProcessRuntime {
                    app: a,
                    local: p,
                    slots: (slots.len() as u32..slots.len() as u32 + spec.count).collect(),
                    count: spec.count as usize,
                    up: Vec::new(),
                    held: VecDeque::new(),
                    backlog: vec![VecDeque::new(); app.router.routers.max(1) as usize],
                    backlog_len: vec![0; app.router.routers.max(1) as usize],
                    rr: 0,
                    rolling: None,
                    requests: 0,
                    errors: [0; 8],
                    latency: LatencyStats::new(),
                    endpoints: (0..app
                        .workload
                        .as_ref()
                        .filter(|w| w.process == p)
                        .map_or(0, |w| w.endpoints.len()))
                        .map(|_| EndpointStats {
                            requests: 0,
                            errors: [0; 8],
                            latency: LatencyStats::new(),
                        })
                        .collect(),
                    windows: Windows::default(),
                    window_p50_ms: Vec::new(),
                    window_p99_ms: Vec::new(),
                    lifecycle_rng: stream(&format!("lifecycle/{}", spec.name)),
                    cap,
                    swap_slowdown: spec.lifecycle.memory.swap_slowdown.max(1.0),
                    per_request_mb: spec.lifecycle.memory.per_request_mb,
                });
                for i in 0..spec.count {
                    slots.push(Slot {
                        process: pidx,
                        index: i + 1,
                        host: placement.of_dyno[slots.len()] as u32,
                        current: None,
                        incarnations: 0,
                        consecutive_crashes: 0,
                        sleeping: false,
                        starting: false,
                        waking: false,
                        retired: false,
                        stats: SlotStats::default(),
                    });
                }
            }
            let clients = app.filesystem.as_ref().map_or(0, |fs| fs.clients as usize);
            apps.push(AppRuntime {
                target,
                source: RequestSource::new(app, a, &plans, seeds),
                ingress_rng: stream("ingress"),
                net_rng: stream("network"),
                router: Router::new(router_stream(seeds, app)),
                last_write: vec![None; clients],
                next_deploy: 0,
            });
        }
        let hosts: Vec<Host> = placement
            .instances
            .into_iter()
            .map(|inst| Host::new(inst, cfg.noise.as_ref(), seeds))
            .collect();
        let mut platform = Platform {
            cfg,
            apps,
            procs,
            slots,
            dynos: Vec::new(),
            dyno_hosts: Vec::new(),
            hosts,
            plans,
            reqs: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            done: Vec::new(),
            claims: Vec::new(),
            alloc: Vec::new(),
            events: Vec::new(),
            window_rows: Vec::new(),
            windows_written: 0,
            next_close_ns: 0,
            profile: None,
            policies: None,
            placer,
            placement_rng,
            seeds,
            observer,
        };
        platform.next_close_ns = platform.window_close_ns(0);
        Ok(platform)
    }

    /// Bring every dyno up, and schedule the first arrivals, deploys, crashes and host noise.
    pub fn start(&mut self, sched: &mut Scheduler<Event>) {
        // The formation is running when the simulation starts: dynos are up at t = 0, each at a
        // random point of its daily cycle.
        for s in 0..self.slots.len() {
            let d = self.new_incarnation(s, sched);
            self.dynos[d as usize].state = super::dyno::State::Booting;
            self.became_up(d, true, sched);
        }
        for a in 0..self.apps.len() {
            self.schedule_arrival(a, sched);
            if let Some(at) = self.cfg.apps[a].deploys.first() {
                sched.at(SimTime::ZERO + *at, Event::Deploy { app: a as u32 });
            }
            for c in &self.cfg.apps[a].crashes {
                let p = self
                    .procs
                    .iter()
                    .position(|p| p.app == a && p.local == c.process);
                if let Some(slot) = p.and_then(|p| self.procs[p].slots.get(c.dyno as usize - 1)) {
                    sched.at(SimTime::ZERO + c.at, Event::ScheduledCrash(*slot));
                }
            }
        }
        for h in 0..self.hosts.len() {
            self.start_host(h, sched);
        }
        self.start_policies(sched);
    }

    /// Start host `h`'s books (neighbours take their share from now) and its noise.
    fn start_host(&mut self, h: usize, sched: &mut Scheduler<Event>) {
        let step = self.cfg.noise.as_ref().map(|n| n.drift_step);
        self.reallocate(h, None, sched);
        let host = &mut self.hosts[h];
        if let Some(dt) = host.neighbours.as_mut().and_then(|n| n.next_change()) {
            sched.after(dt, Event::Neighbours(h as u32));
        }
        if let (Some(step), Some(d)) = (step, &host.drift)
            && d.active()
        {
            sched.after(step, Event::Drift(h as u32));
        }
    }

    /// Give the job formation policies (before [`start`](Self::start)); see `model::formation`.
    pub fn set_policies(&mut self, policies: Vec<Box<dyn FormationPolicy>>) {
        self.policies = Policies::new(policies);
    }

    /// Record a lifecycle event of incarnation `d` (or of a process, with `d = None`).
    fn log(
        &mut self,
        now: SimTime,
        process: usize,
        d: Option<u32>,
        event: super::LifecycleKind,
        detail: String,
    ) {
        let p = &self.procs[process];
        let (dyno, incarnation, instance) = match d {
            Some(d) => {
                let dy = &self.dynos[d as usize];
                (
                    dy.index,
                    dy.incarnation,
                    self.hosts[dy.host as usize].instance.name.clone(),
                )
            }
            None => (0, 0, String::new()),
        };
        let e = LifecycleEvent {
            time_ns: now.as_nanos(),
            app: p.app,
            process: p.local,
            dyno,
            incarnation,
            instance,
            event,
            detail,
        };
        if let Some(e) = self.observer.on_lifecycle(e) {
            self.events.push(e);
        }
    }

    /// A new incarnation of slot `s`, booting on the slot's host with a fresh filesystem.
    fn new_incarnation(&mut self, s: usize, sched: &mut Scheduler<Event>) -> u32 {
        let now = sched.now();
        let slot = &mut self.slots[s];
        let p = slot.process as usize;
        let proc_ = &self.procs[p];
        let spec = &self.cfg.apps[proc_.app].processes[proc_.local];
        let mut dyno = Dyno::new(
            slot.process,
            slot.index,
            s as u32,
            slot.incarnations,
            slot.host,
            proc_.cap,
            spec.size.cpu_share,
            spec.concurrency,
            now,
        );
        slot.incarnations += 1;
        if spec.server.serialises_cpu() {
            dyno.set_workers(spec.server.processes);
        }
        if let (CpuMode::Cfs, Some(q)) = (self.cfg.cpu.mode, spec.cpu_quota) {
            let period = self.cfg.cpu.period.as_nanos().max(1);
            let phase = match self.cfg.cpu.phase {
                Some(ph) => ph.as_nanos(),
                None => self.procs[p].lifecycle_rng.below(period),
            };
            dyno.cfs = Some(Box::new(Cfs::new(q, period, phase)));
        }
        dyno.router_active = smallvec::smallvec![
            0;
            self.cfg.apps[self.procs[p].app].router.routers.max(1) as usize
        ];
        let d = self.dynos.len() as u32;
        self.dynos.push(dyno);
        self.dyno_hosts.push(slot.host);
        let slot = &mut self.slots[s];
        slot.current = Some(d);
        self.hosts[slot.host as usize].dynos.push(d);
        d
    }
}

impl<O: RequestObserver> Model for Platform<O> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        if self.profile.is_some() {
            return self.handle_profiled(event, sched);
        }
        self.dispatch_event(event, sched)
    }

    /// Only for fleets whose dynos' and hosts' hot lines (three and two per dyno) outgrow half
    /// of a typical 1 MiB L2, about 1,600 dynos: below that the lines are in cache anyway and
    /// looking ahead costs time (benches/README.md, "Large fleets").
    fn wants_prefetch(&self) -> bool {
        self.slots.len() * 5 * 64 > 512 * 1024
    }

    /// In a fleet of thousands of dynos the request, dyno and host an event touches are cache
    /// misses; loading them while the previous event runs hides most of their latency.
    #[inline]
    fn prefetch(&self, event: &Event) {
        // The lines each handler reads (see the layouts of Request, Dyno and Host).
        let host = |d: u32| {
            self.dyno_hosts
                .get(d as usize)
                .map_or(usize::MAX, |&h| h as usize)
        };
        match *event {
            Event::AtDyno { req, dyno, .. } => {
                prefetch_lines(&self.reqs, req as usize, 0..2);
                prefetch_lines(&self.dynos, dyno as usize, 0..3);
                prefetch_lines(&self.hosts, host(dyno), 0..2);
            }
            Event::CpuDone { dyno, req, .. } => {
                prefetch_lines(&self.dynos, dyno as usize, 0..2);
                prefetch_lines(&self.hosts, host(dyno), 0..2);
                prefetch_lines(&self.reqs, req as usize, 0..2);
            }
            Event::WaitDone { req, dyno, .. } => {
                prefetch_lines(&self.reqs, req as usize, 0..2);
                prefetch_lines(&self.dynos, dyno as usize, 0..3);
            }
            _ => {}
        }
    }
}

/// Ask the CPU to start loading cache lines `lines` of `items[i]` (nothing if `i` is out of
/// range, or off x86-64).
#[inline(always)]
fn prefetch_lines<T>(items: &[T], i: usize, lines: std::ops::Range<usize>) {
    #[cfg(target_arch = "x86_64")]
    if let Some(item) = items.get(i) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = (item as *const T).cast::<i8>();
        for l in lines.start..lines.end.min(std::mem::size_of::<T>().div_ceil(64)) {
            // SAFETY: SSE is part of x86-64; a prefetch never faults, whatever the address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(l * 64)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, i, lines);
}

/// Names of the event kinds (for `--profile`), indexed by `EventKind as usize`.
pub const EVENT_KINDS: &[&str] = <EventKind as strum::VariantNames>::VARIANTS;

/// Number of event kinds: the length of the profile's tables.
const KINDS: usize = <EventKind as strum::EnumCount>::COUNT;

/// Where a run's time went, per event kind (`--profile`). Reading the wall clock here does not
/// touch the simulation: results are the same with and without profiling.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub counts: [u64; KINDS],
    pub nanos: [u64; KINDS],
}

impl<O: RequestObserver> Platform<O> {
    fn handle_profiled(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        let kind = EventKind::from(&event) as usize;
        let t = std::time::Instant::now();
        self.dispatch_event(event, sched);
        let ns = t.elapsed().as_nanos() as u64;
        if let Some(p) = self.profile.as_mut() {
            p.counts[kind] += 1;
            p.nanos[kind] += ns;
        }
    }

    #[inline]
    fn dispatch_event(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        match event {
            Event::Arrival(a) => self.on_arrival(a as usize, sched),
            Event::AtDyno {
                req, generation, ..
            } => self.on_at_dyno(req, generation, sched),
            Event::CpuDone { dyno, epoch, .. } => self.on_cpu_done(dyno as usize, epoch, sched),
            Event::WaitDone {
                req, generation, ..
            } => {
                if self.live(req, generation) {
                    self.finish(req, sched)
                }
            }
            Event::Deadline { req, generation } => self.on_deadline(req, generation, sched),
            Event::CallReturn { parent, generation } => {
                self.on_call_done(parent, generation, true, sched)
            }
            Event::HoldTimeout { req, generation } => self.on_hold_timeout(req, generation, sched),
            Event::BacklogTimeout { req, generation } => {
                self.on_backlog_timeout(req, generation, sched)
            }
            Event::Neighbours(h) => self.on_neighbours(h as usize, sched),
            Event::Drift(h) => self.on_drift(h as usize, sched),
            Event::Cfs { dyno, epoch } => self.on_cfs(dyno as usize, epoch, sched),
            Event::Start(s) => self.on_start(s as usize, sched),
            Event::BootDone(d) => self.on_boot_done(d, sched),
            Event::Cycle(d) => self.on_cycle(d, sched),
            Event::Crash(d) => self.on_crash(d, sched),
            Event::ScheduledCrash(s) => self.on_scheduled_crash(s as usize, sched),
            Event::Sigterm(d) => self.sigterm(d, sched),
            Event::Kill(d) => self.on_kill(d, sched),
            Event::Deploy { app } => self.on_deploy(app as usize, sched),
            Event::IdleCheck(d) => self.on_idle_check(d, sched),
            Event::Memory { dyno, epoch } => self.on_memory(dyno, epoch, sched),
            Event::FormationTick(i) => self.on_formation_tick(i as usize, sched),
        }
    }
}

/// Run one job to its end. `progress(sim_time, events)` is called every few hundred thousand
/// events; returning [`Control::Stop`] ends the run early (the result is marked interrupted).
pub fn run_job<O: RequestObserver>(
    cfg: &SimConfig,
    seeds: SeedTree,
    observer: O,
    progress: impl FnMut(SimTime, u64) -> Control,
) -> Result<super::JobResult, PlacementError> {
    run_job_with(cfg, seeds, observer, progress, false)
}

/// As [`run_job`]; with `profile`, time every event and report it in `JobResult::profile`.
pub fn run_job_with<O: RequestObserver>(
    cfg: &SimConfig,
    seeds: SeedTree,
    observer: O,
    progress: impl FnMut(SimTime, u64) -> Control,
    profile: bool,
) -> Result<super::JobResult, PlacementError> {
    run_job_formed(cfg, seeds, observer, Vec::new(), progress, profile)
}

/// As [`run_job_with`], with formation policies that may scale processes during the run (see
/// `model::formation`); no policies is exactly [`run_job_with`].
pub fn run_job_formed<O: RequestObserver>(
    cfg: &SimConfig,
    seeds: SeedTree,
    observer: O,
    policies: Vec<Box<dyn FormationPolicy>>,
    progress: impl FnMut(SimTime, u64) -> Control,
    profile: bool,
) -> Result<super::JobResult, PlacementError> {
    let end = SimTime::ZERO + cfg.duration;
    let mut platform = Platform::new(cfg.clone(), seeds, observer)?;
    platform.set_policies(policies);
    if profile {
        platform.profile = Some(Box::default());
    }
    let mut sim = Simulation::new(platform);
    {
        let (model, sched) = sim.parts();
        model.start(sched);
    }
    let outcome = sim.run_until_with(end, 1 << 16, progress);
    let events = sim.events();
    let profile = sim.model.profile.take().map(|p| *p);
    let mut result = sim.model.results(end, events, outcome.interrupted);
    result.profile = profile;
    Ok(result)
}

/// The stream the random placement policy draws from (separate from every other component).
pub fn placement_stream(seeds: SeedTree) -> RngStream {
    seeds.named("placement").stream()
}

/// The stream of `app`'s routers: the router each external request goes to, then the dyno it
/// picks (and the picks of later routing attempts), in the order requests are routed.
pub fn router_stream(seeds: SeedTree, app: &crate::model::AppSpec) -> RngStream {
    app_stream(seeds, "router", &app.name)
}

#[cfg(test)]
mod tests {
    use super::{EVENT_KINDS, Event, EventKind, KINDS, Profile};

    /// One name per event kind, from the one list of events, in the profile's order.
    #[test]
    fn event_kinds_name_every_event_once() {
        assert_eq!(EVENT_KINDS.len(), KINDS);
        assert_eq!(Profile::default().counts.len(), KINDS);
        let cpu = Event::CpuDone {
            dyno: 0,
            epoch: 0,
            req: 0,
        };
        assert_eq!(EVENT_KINDS[EventKind::from(&cpu) as usize], "cpu_done");
        assert_eq!(
            EVENT_KINDS[EventKind::from(&Event::Arrival(0)) as usize],
            "arrival"
        );
        assert_eq!(EVENT_KINDS[EventKind::IdleCheck as usize], "idle_check");
        let mut sorted = EVENT_KINDS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), KINDS, "names are distinct");
    }
}
