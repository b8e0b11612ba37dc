//! The platform model: apps, routers and dynos reacting to request events.

use super::SimConfig;
use super::cpu::{Claim, CpuMode};
use super::dist::Dist;
use super::dyno::Dyno;
use super::host::Host;
use super::metrics::{
    DynoResult, InstanceResult, JobResult, LatencyStats, ProcessResult, RequestRecord, Split,
    Status, WindowAcc, WindowRow, cov,
};
use super::placement::{PlacementError, place};
use super::router::Router;
use crate::engine::{
    Control, Model, RngStream, Scheduler, SeedTree, SimDuration, SimTime, Simulation,
};

/// Receives every counted request when its outcome is known (used for `requests.csv`).
pub trait RequestObserver {
    fn on_request(&mut self, record: &RequestRecord);
}

/// An observer that ignores everything (the default: no per-request output).
pub struct NoRequests;

impl RequestObserver for NoRequests {
    #[inline]
    fn on_request(&mut self, _: &RequestRecord) {}
}

impl<T: RequestObserver + ?Sized> RequestObserver for &mut T {
    #[inline]
    fn on_request(&mut self, record: &RequestRecord) {
        (**self).on_request(record)
    }
}

/// Events of the platform model.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// The next request of app `0` arrives at its router.
    Arrival(u32),
    /// Request reaches its dyno after the network delay.
    AtDyno(u32),
    /// The earliest CPU completion on a dyno (stale unless `epoch` matches).
    CpuDone { dyno: u32, epoch: u32 },
    /// A request's non-CPU wait ends.
    WaitDone(u32),
    /// A request's first-byte deadline (H12) passes.
    Deadline { req: u32, generation: u32 },
    /// A neighbour source on a shared host starts or stops.
    Neighbours(u32),
    /// A host's speed drifts.
    Drift(u32),
    /// A capped dyno's CFS budget runs out or its next period starts (stale unless `epoch`
    /// matches).
    Cfs { dyno: u32, epoch: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Free,
    /// On the network towards the dyno.
    Transit,
    Queued,
    Cpu,
    Wait,
    /// Done on the dyno, response on its way back but past the deadline: the deadline event
    /// will record H12.
    Late,
    /// H12 already recorded; the dyno is still working on it.
    Abandoned,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    id: u64,
    arrival: SimTime,
    at_dyno: SimTime,
    start: SimTime,
    cpu_end: SimTime,
    work: f64,
    wait_ns: u64,
    net_half_ns: u64,
    /// Global dyno index.
    dyno: u32,
    generation: u32,
    phase: Phase,
    counted: bool,
}

struct AppRuntime {
    /// Global index of the process receiving the workload.
    target: Option<usize>,
    mean_gap_s: f64,
    /// Fixed gap for interval arrivals.
    fixed_gap: Option<SimDuration>,
    cpu: Dist,
    wait: Dist,
    arrivals: RngStream,
    cpu_rng: RngStream,
    wait_rng: RngStream,
    net_rng: RngStream,
    router: Router,
}

struct ProcessRuntime {
    app: usize,
    /// Index of the process within its app.
    local: usize,
    first_dyno: usize,
    count: usize,
    requests: u64,
    errors_h12: u64,
    errors_h14: u64,
    latency: LatencyStats,
    windows: Vec<WindowAcc>,
}

/// The platform model (implements [`Model`]).
pub struct Platform<O: RequestObserver> {
    cfg: SimConfig,
    apps: Vec<AppRuntime>,
    procs: Vec<ProcessRuntime>,
    dynos: Vec<Dyno>,
    hosts: Vec<Host>,
    reqs: Vec<Request>,
    free: Vec<u32>,
    net: Dist,
    net_zero: bool,
    next_id: u64,
    done: Vec<u32>,
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
        let placement = place(&cfg.apps, &cfg.placement, &mut placement_stream(seeds))?;
        let mut procs = Vec::new();
        let mut dynos = Vec::new();
        let windows = cfg
            .duration
            .as_nanos()
            .div_ceil(cfg.window.as_nanos().max(1)) as usize;
        let mut apps = Vec::new();
        for (a, app) in cfg.apps.iter().enumerate() {
            let mut target = None;
            let stream = |kind: &str| seeds.named(&format!("{kind}/{}", app.name)).stream();
            let mut phase_rng = stream("cfs-phase");
            for (p, spec) in app.processes.iter().enumerate() {
                if app.workload.as_ref().is_some_and(|w| w.process == p) {
                    target = Some(procs.len());
                }
                let pidx = procs.len() as u32;
                procs.push(ProcessRuntime {
                    app: a,
                    local: p,
                    first_dyno: dynos.len(),
                    count: spec.count as usize,
                    requests: 0,
                    errors_h12: 0,
                    errors_h14: 0,
                    latency: LatencyStats::new(),
                    windows: vec![WindowAcc::default(); windows],
                });
                let vcpus = f64::from(spec.size.vcpus);
                // In fluid mode the quota caps the rate; in CFS mode the dyno runs on all its
                // cores until the period's budget is spent.
                let cap = match (cfg.cpu.mode, spec.cpu_quota) {
                    (CpuMode::Fluid, Some(q)) => q.min(vcpus),
                    _ => vcpus,
                };
                for i in 0..spec.count {
                    let host = placement.of_dyno[dynos.len()] as u32;
                    let mut dyno = Dyno::new(
                        pidx,
                        i + 1,
                        host,
                        cap,
                        spec.size.cpu_share,
                        spec.concurrency,
                    );
                    if let (CpuMode::Cfs, Some(q)) = (cfg.cpu.mode, spec.cpu_quota) {
                        let period = cfg.cpu.period.as_nanos().max(1);
                        let phase = match cfg.cpu.phase {
                            Some(ph) => ph.as_nanos(),
                            None => phase_rng.below(period),
                        };
                        dyno.cfs = Some(super::dyno::Cfs::new(q, period, phase));
                    }
                    dynos.push(dyno);
                }
            }
            let (mean_gap_s, cpu, wait) = match &app.workload {
                Some(w) => (1.0 / w.arrivals.mean_rate(), w.cpu.clone(), w.wait.clone()),
                None => (f64::INFINITY, Dist::Constant(0.0), Dist::Constant(0.0)),
            };
            let fixed_gap = match app.workload.as_ref().map(|w| &w.arrivals) {
                Some(super::Arrivals::Interval { gap }) => Some(*gap),
                _ => None,
            };
            apps.push(AppRuntime {
                target,
                mean_gap_s,
                fixed_gap,
                cpu,
                wait,
                arrivals: stream("arrivals"),
                cpu_rng: stream("cpu"),
                wait_rng: stream("wait"),
                net_rng: stream("network"),
                router: Router::new(stream("router")),
            });
        }
        let hosts = placement
            .instances
            .into_iter()
            .enumerate()
            .map(|(i, inst)| Host::new(inst, i, cfg.noise.as_ref(), seeds))
            .collect();
        let net = cfg.network.router_dyno_rtt.clone();
        Ok(Platform {
            net_zero: net.is_zero(),
            net,
            cfg,
            apps,
            procs,
            dynos,
            hosts,
            reqs: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            done: Vec::new(),
            observer,
        })
    }

    /// Schedule each app's first arrival and each host's noise.
    pub fn start(&mut self, sched: &mut Scheduler<Event>) {
        for a in 0..self.apps.len() {
            self.schedule_arrival(a, sched);
        }
        let step = self.cfg.noise.as_ref().map(|n| n.drift_step);
        for h in 0..self.hosts.len() {
            let host = &mut self.hosts[h];
            if let Some(dt) = host.neighbours.as_mut().and_then(|n| n.next_change()) {
                sched.after(dt, Event::Neighbours(h as u32));
            }
            if let (Some(step), Some(d)) = (step, &host.drift) {
                if d.active() {
                    sched.after(step, Event::Drift(h as u32));
                }
            }
        }
    }

    /// Recompute the CPU allocation of host `h` at `now` and reschedule what changed. `touched`
    /// is a dyno whose set of running requests changed, so its completion is always rescheduled.
    fn reallocate(&mut self, h: usize, touched: Option<u32>, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let host = &mut self.hosts[h];
        host.account(now);
        host.claims.clear();
        for &d in &host.dynos {
            let dyno = &mut self.dynos[d as usize];
            dyno.advance(now);
            if let Some(c) = &mut dyno.cfs {
                c.refresh(now);
                c.check(now);
            }
            host.claims.push(Claim {
                weight: dyno.weight,
                demand: dyno.demand(),
            });
        }
        host.allocate();
        for (i, &d) in host.dynos.iter().enumerate() {
            let x = host.alloc[i];
            let speed = host.speed_for(x);
            let dyno = &mut self.dynos[d as usize];
            let changed = dyno.set_allocation(x, speed);
            if changed || touched == Some(d) {
                if let Some(at) = dyno.next_completion(now) {
                    sched.at(
                        at,
                        Event::CpuDone {
                            dyno: d,
                            epoch: dyno.epoch,
                        },
                    );
                }
            }
            if let Some(c) = &mut dyno.cfs {
                c.epoch = c.epoch.wrapping_add(1);
                let boundary = c.next_boundary(now);
                let at = if c.throttled {
                    Some(boundary)
                } else if x > 0.0 {
                    let ns = (c.budget.max(0.0) / x - 1e-6).ceil().max(0.0);
                    let exhaust = now + SimDuration::from_nanos(ns as u64);
                    Some(exhaust.min(boundary))
                } else {
                    None
                };
                if let Some(at) = at {
                    sched.at(
                        at,
                        Event::Cfs {
                            dyno: d,
                            epoch: c.epoch,
                        },
                    );
                }
            }
        }
    }

    fn on_neighbours(&mut self, h: usize, sched: &mut Scheduler<Event>) {
        // Account the old allocation up to now before the demand changes.
        self.hosts[h].account(sched.now());
        if let Some(n) = self.hosts[h].neighbours.as_mut() {
            n.flip();
            if let Some(dt) = n.next_change() {
                sched.after(dt, Event::Neighbours(h as u32));
            }
        }
        self.reallocate(h, None, sched);
    }

    fn on_drift(&mut self, h: usize, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let host = &mut self.hosts[h];
        // Dynos must advance at the old speed before it changes.
        for &d in &host.dynos {
            self.dynos[d as usize].advance(now);
        }
        host.account(now);
        if let Some(d) = host.drift.as_mut() {
            d.step();
            host.speed = host.instance.kind.speed * d.factor();
        }
        if let Some(step) = self.cfg.noise.as_ref().map(|n| n.drift_step) {
            sched.after(step, Event::Drift(h as u32));
        }
        self.reallocate(h, None, sched);
    }

    fn on_cfs(&mut self, d: usize, epoch: u32, sched: &mut Scheduler<Event>) {
        let dyno = &self.dynos[d];
        if dyno.cfs.as_ref().is_some_and(|c| c.epoch == epoch) {
            let h = dyno.host as usize;
            self.reallocate(h, None, sched);
        }
    }

    fn schedule_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        let app = &mut self.apps[a];
        if app.target.is_none() || !app.mean_gap_s.is_finite() {
            return;
        }
        let gap = match app.fixed_gap {
            Some(g) => g,
            None => SimDuration::from_secs_f64(app.arrivals.exp(app.mean_gap_s)),
        };
        let at = sched.now() + gap;
        // Arrivals stop at the end of the run; nothing after it would be observed.
        if at.as_nanos() < self.cfg.duration.as_nanos() {
            sched.at(at, Event::Arrival(a as u32));
        }
    }

    fn alloc(&mut self, r: Request) -> u32 {
        match self.free.pop() {
            Some(i) => {
                let generation = self.reqs[i as usize].generation;
                self.reqs[i as usize] = Request { generation, ..r };
                i
            }
            None => {
                self.reqs.push(r);
                (self.reqs.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, i: u32) {
        let r = &mut self.reqs[i as usize];
        r.phase = Phase::Free;
        r.generation = r.generation.wrapping_add(1);
        self.free.push(i);
    }

    fn on_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        self.schedule_arrival(a, sched);
        let now = sched.now();
        let Some(p) = self.apps[a].target else { return };
        let counted = now.as_nanos() >= self.cfg.warmup.as_nanos();
        if self.procs[p].count == 0 {
            return self.no_dynos(p, counted, now);
        }
        let app = &mut self.apps[a];
        let proc_ = &mut self.procs[p];
        let dyno = (proc_.first_dyno + app.router.pick(proc_.count)) as u32;
        let work = app.cpu.sample(&mut app.cpu_rng) * 1e9;
        let wait_ns = SimDuration::from_secs_f64(app.wait.sample(&mut app.wait_rng)).as_nanos();
        let rtt = if self.net_zero {
            0
        } else {
            SimDuration::from_secs_f64(self.net.sample(&mut app.net_rng)).as_nanos()
        };
        if counted {
            proc_.requests += 1;
            let w = (now.as_nanos() / self.cfg.window.as_nanos()) as usize;
            if let Some(win) = proc_.windows.get_mut(w) {
                win.requests += 1;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        let req = self.alloc(Request {
            id,
            arrival: now,
            at_dyno: now,
            start: now,
            cpu_end: now,
            work,
            wait_ns,
            net_half_ns: rtt / 2,
            dyno,
            generation: 0,
            phase: Phase::Transit,
            counted,
        });
        let generation = self.reqs[req as usize].generation;
        // The deadline passes one nanosecond after the timeout: a response at exactly 30 s is in
        // time, whatever the order of events at that instant.
        sched.after_ordered(
            self.cfg.request_timeout + SimDuration::from_nanos(1),
            Event::Deadline { req, generation },
        );
        if rtt / 2 == 0 {
            self.on_at_dyno(req, sched);
        } else {
            sched.after(SimDuration::from_nanos(rtt / 2), Event::AtDyno(req));
        }
    }

    /// H14: "No web dynos running": the router answers at once.
    fn no_dynos(&mut self, p: usize, counted: bool, now: SimTime) {
        let id = self.next_id;
        self.next_id += 1;
        if !counted {
            return;
        }
        let window = self.cfg.window.as_nanos();
        let proc_ = &mut self.procs[p];
        proc_.requests += 1;
        proc_.errors_h14 += 1;
        if let Some(w) = proc_.windows.get_mut((now.as_nanos() / window) as usize) {
            w.requests += 1;
            w.errors += 1;
        }
        self.observer.on_request(&RequestRecord {
            id,
            app: proc_.app,
            process: proc_.local,
            dyno: 0,
            arrival_ns: now.as_nanos(),
            latency_ns: 0,
            status: Status::H14,
            split: None,
        });
    }

    fn on_at_dyno(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = &mut self.reqs[req as usize];
        r.at_dyno = now;
        if r.phase == Phase::Transit {
            r.phase = Phase::Queued;
        }
        let d = r.dyno as usize;
        let dyno = &mut self.dynos[d];
        if dyno.busy_slots < dyno.concurrency {
            self.start_service(req, sched);
        } else {
            dyno.backlog.push_back(req);
            dyno.max_backlog = dyno.max_backlog.max(dyno.backlog.len());
        }
    }

    fn start_service(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = &mut self.reqs[req as usize];
        r.start = now;
        if r.phase != Phase::Abandoned {
            r.phase = Phase::Cpu;
        }
        let d = r.dyno as usize;
        let work = r.work;
        let dyno = &mut self.dynos[d];
        dyno.busy_slots += 1;
        if work <= 0.0 {
            return self.after_cpu(req, sched);
        }
        // The host must account for the time so far at the old rates before the request joins.
        let h = dyno.host as usize;
        for &o in &self.hosts[h].dynos {
            self.dynos[o as usize].advance(now);
        }
        self.dynos[d].push_running(req, work);
        self.reallocate(h, Some(d as u32), sched);
    }

    fn on_cpu_done(&mut self, d: usize, epoch: u32, sched: &mut Scheduler<Event>) {
        if self.dynos[d].epoch != epoch {
            return; // superseded by a later reschedule
        }
        let now = sched.now();
        let h = self.dynos[d].host as usize;
        for &o in &self.hosts[h].dynos {
            self.dynos[o as usize].advance(now);
        }
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        self.dynos[d].pop_done(&mut done);
        self.reallocate(h, Some(d as u32), sched);
        for &req in &done {
            self.after_cpu(req, sched);
        }
        self.done = done;
    }

    fn after_cpu(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let r = &mut self.reqs[req as usize];
        r.cpu_end = sched.now();
        if r.wait_ns > 0 {
            if r.phase != Phase::Abandoned {
                r.phase = Phase::Wait;
            }
            sched.after(SimDuration::from_nanos(r.wait_ns), Event::WaitDone(req));
        } else {
            self.finish(req, sched);
        }
    }

    /// The dyno is done with `req`: free its slot, settle the outcome, start the next in line.
    fn finish(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.reqs[req as usize];
        let d = r.dyno as usize;
        let dyno = &mut self.dynos[d];
        dyno.busy_slots -= 1;
        dyno.served += 1;
        let next = dyno.backlog.pop_front();
        let process = dyno.process as usize;
        if r.phase == Phase::Abandoned {
            self.release(req);
        } else {
            let responded = now + SimDuration::from_nanos(r.net_half_ns);
            let latency = responded.since(r.arrival);
            if latency <= self.cfg.request_timeout {
                if r.counted {
                    let split = Split {
                        network_ns: 2 * r.net_half_ns,
                        queue_ns: r.start.since(r.at_dyno).as_nanos(),
                        cpu_ns: r.cpu_end.since(r.start).as_nanos(),
                        wait_ns: now.since(r.cpu_end).as_nanos(),
                    };
                    self.record_ok(process, &r, latency.as_nanos(), split);
                }
                self.release(req);
            } else {
                self.reqs[req as usize].phase = Phase::Late;
            }
        }
        if let Some(next) = next {
            self.start_service(next, sched);
        }
    }

    fn record_ok(&mut self, process: usize, r: &Request, latency_ns: u64, split: Split) {
        let window = self.cfg.window.as_nanos();
        let p = &mut self.procs[process];
        p.latency.record(latency_ns, &split);
        if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
            w.record(latency_ns);
        }
        self.observer.on_request(&RequestRecord {
            id: r.id,
            app: p.app,
            process: p.local,
            dyno: self.dynos[r.dyno as usize].index,
            arrival_ns: r.arrival.as_nanos(),
            latency_ns,
            status: Status::Ok,
            split: Some(split),
        });
    }

    fn on_deadline(&mut self, req: u32, generation: u32) {
        let r = self.reqs[req as usize];
        if r.generation != generation || r.phase == Phase::Free {
            return; // answered in time
        }
        let process = self.dynos[r.dyno as usize].process as usize;
        if r.counted {
            let window = self.cfg.window.as_nanos();
            let p = &mut self.procs[process];
            p.errors_h12 += 1;
            if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
                w.errors += 1;
            }
            self.observer.on_request(&RequestRecord {
                id: r.id,
                app: p.app,
                process: p.local,
                dyno: self.dynos[r.dyno as usize].index,
                arrival_ns: r.arrival.as_nanos(),
                latency_ns: self.cfg.request_timeout.as_nanos(),
                status: Status::H12,
                split: None,
            });
        }
        if r.phase == Phase::Late {
            self.release(req);
        } else {
            self.reqs[req as usize].phase = Phase::Abandoned;
        }
    }

    /// Collect the results at `end`.
    pub fn results(mut self, end: SimTime, events: u64, interrupted: bool) -> JobResult {
        let counted_ns = self.cfg.duration.as_nanos() - self.cfg.warmup.as_nanos();
        let window = self.cfg.window.as_nanos();
        for d in &mut self.dynos {
            d.advance(end);
        }
        for h in &mut self.hosts {
            h.account(end);
        }
        // In flight: counted requests without an outcome yet, found by scanning the live ones.
        let mut in_flight = vec![0u64; self.procs.len()];
        let mut in_flight_win: Vec<Vec<u64>> = self
            .procs
            .iter()
            .map(|p| vec![0; p.windows.len()])
            .collect();
        for r in &self.reqs {
            if r.counted && !matches!(r.phase, Phase::Free | Phase::Abandoned) {
                let p = self.dynos[r.dyno as usize].process as usize;
                in_flight[p] += 1;
                if let Some(c) = in_flight_win[p].get_mut((r.arrival.as_nanos() / window) as usize)
                {
                    *c += 1;
                }
            }
        }
        let mut processes = Vec::new();
        let mut dynos = Vec::new();
        let mut windows = Vec::new();
        let run_ns = self.cfg.duration.as_nanos() as f64;
        let mut dyno_names = vec![String::new(); self.dynos.len()];
        for (pi, p) in self.procs.iter().enumerate() {
            let app = &self.cfg.apps[p.app];
            let spec = &app.processes[p.local];
            let ds = &self.dynos[p.first_dyno..p.first_dyno + p.count];
            let vcpus = f64::from(spec.size.vcpus);
            let cpu_ns: f64 = ds.iter().map(|d| d.cpu_ns).sum();
            let throttled_ns: u64 = ds
                .iter()
                .map(|d| d.cfs.as_ref().map_or(0, |c| c.throttled_until(end)))
                .sum();
            let first_window = (self.cfg.warmup.as_nanos() / window) as usize;
            let rows: Vec<WindowRow> = p
                .windows
                .iter()
                .enumerate()
                .skip(first_window)
                .map(|(w, acc)| {
                    let start_s = (w as u64 * window) as f64 * 1e-9;
                    acc.row(p.app, p.local, start_s, in_flight_win[pi][w])
                })
                .collect();
            processes.push(ProcessResult {
                app_index: p.app,
                process_index: p.local,
                app: app.name.clone(),
                process: spec.name.clone(),
                size: spec.size.name.clone(),
                tier: spec.size.tier,
                dynos: spec.count,
                concurrency: spec.concurrency,
                requests: p.requests,
                completed: p.latency.count,
                errors: p.errors_h12 + p.errors_h14,
                errors_h12: p.errors_h12,
                errors_h14: p.errors_h14,
                in_flight: in_flight[pi],
                latency: p.latency.summary(),
                histogram: p.latency.histogram().clone(),
                throughput_rps: p.latency.count as f64 / (counted_ns as f64 * 1e-9),
                cpu_utilization: if p.count > 0 {
                    cpu_ns / (vcpus * p.count as f64 * run_ns)
                } else {
                    0.0
                },
                cpu_s: cpu_ns * 1e-9,
                throttled_s: throttled_ns as f64 * 1e-9,
                window_cov_p50: cov(rows.iter().map(|r| r.p50_ms)),
                window_cov_p99: cov(rows.iter().map(|r| r.p99_ms)),
                cost_usd_month: spec.size.price_usd_month * f64::from(spec.count),
            });
            windows.extend(rows);
            for (k, d) in ds.iter().enumerate() {
                let name = format!("{}.{}", spec.name, d.index);
                dyno_names[p.first_dyno + k] = format!("{}/{name}", app.name);
                dynos.push(DynoResult {
                    app: app.name.clone(),
                    process: spec.name.clone(),
                    dyno: name,
                    size: spec.size.name.clone(),
                    tier: spec.size.tier,
                    restarts: 0,
                    served: d.served,
                    cpu_utilization: d.cpu_ns / (vcpus * run_ns),
                    instance: self.hosts[d.host as usize].instance.name.clone(),
                    cpu_s: d.cpu_ns * 1e-9,
                    throttled_s: d.cfs.as_ref().map_or(0, |c| c.throttled_until(end)) as f64 * 1e-9,
                    max_backlog: d.max_backlog as u64,
                });
            }
        }
        let instances = self
            .hosts
            .iter()
            .map(|h| {
                let cap = h.cores * run_ns;
                InstanceResult {
                    name: h.instance.name.clone(),
                    kind: if h.instance.shared() {
                        "shared"
                    } else {
                        "dedicated"
                    },
                    region: match &h.instance.pool {
                        super::placement::PoolKey::Shared(r) => r.clone(),
                        super::placement::PoolKey::Dedicated => String::new(),
                    },
                    vcpus: h.instance.kind.vcpus,
                    memory_mb: h.instance.kind.memory_mb,
                    tenant_memory_mb: h.instance.tenant_memory_mb,
                    dynos: h
                        .dynos
                        .iter()
                        .map(|&d| dyno_names[d as usize].clone())
                        .collect(),
                    mean_load: h.load_core_ns / cap,
                    peak_load: h.peak_load,
                    peak_demand: h.peak_demand,
                    mean_neighbour_load: h.neighbour_core_ns / cap,
                    mean_speed: h.speed_ns / run_ns,
                }
            })
            .collect();
        JobResult {
            processes,
            dynos,
            windows,
            instances,
            events,
            generated: self.next_id,
            interrupted,
        }
    }
}

impl<O: RequestObserver> Model for Platform<O> {
    type Event = Event;

    #[inline]
    fn handle(&mut self, event: Event, sched: &mut Scheduler<Event>) {
        match event {
            Event::Arrival(a) => self.on_arrival(a as usize, sched),
            Event::AtDyno(req) => self.on_at_dyno(req, sched),
            Event::CpuDone { dyno, epoch } => self.on_cpu_done(dyno as usize, epoch, sched),
            Event::WaitDone(req) => self.finish(req, sched),
            Event::Deadline { req, generation } => self.on_deadline(req, generation),
            Event::Neighbours(h) => self.on_neighbours(h as usize, sched),
            Event::Drift(h) => self.on_drift(h as usize, sched),
            Event::Cfs { dyno, epoch } => self.on_cfs(dyno as usize, epoch, sched),
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
) -> Result<JobResult, PlacementError> {
    let end = SimTime::ZERO + cfg.duration;
    let mut sim = Simulation::new(Platform::new(cfg.clone(), seeds, observer)?);
    {
        let (model, sched) = sim.parts();
        model.start(sched);
    }
    let outcome = sim.run_until_with(end, 1 << 16, progress);
    let events = sim.events();
    Ok(sim.model.results(end, events, outcome.interrupted))
}

/// The stream the random placement policy draws from (separate from every other component).
pub fn placement_stream(seeds: SeedTree) -> crate::engine::RngStream {
    seeds.named("placement").stream()
}
