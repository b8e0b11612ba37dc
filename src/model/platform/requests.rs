//! Requests: arrival, routing (router limits, backlog, holding while dynos boot), service on a
//! dyno (CPU, downstream calls, wait), deadlines and outcomes.

use super::{Event, Phase, Platform, Request, RequestObserver};
use crate::engine::{RngStream, Scheduler, SimDuration, SimTime};
use crate::model::CallRoute;
use crate::model::dist::Dist;
use crate::model::dyno::State;
use crate::model::metrics::{RequestRecord, Split, Status};

/// A round trip on `link`, in ns; links that are always zero draw nothing.
fn rtt(link: &Dist, rng: &mut RngStream) -> u64 {
    if link.is_zero() {
        0
    } else {
        SimDuration::from_secs_f64(link.sample(rng)).as_nanos()
    }
}

pub(super) const NO_PARENT: u32 = u32::MAX;
pub(super) const NO_ENDPOINT: u16 = u16::MAX;

impl<O: RequestObserver> Platform<O> {
    pub(super) fn schedule_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        let app = &mut self.apps[a];
        if app.target.is_none() {
            return;
        }
        // Arrivals stop at the end of the run; nothing after it would be observed.
        if let Some(at) = app.source.next_arrival(sched.now())
            && at.as_nanos() < self.cfg.duration.as_nanos()
        {
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

    pub(super) fn release(&mut self, i: u32) {
        let r = &mut self.reqs[i as usize];
        r.phase = Phase::Free;
        r.generation = r.generation.wrapping_add(1);
        self.free.push(i);
    }

    /// Whether `req` is still the request an event was scheduled for.
    pub(super) fn live(&self, req: u32, generation: u32) -> bool {
        let r = &self.reqs[req as usize];
        r.generation == generation && r.phase != Phase::Free
    }

    /// When window `w` closes: no outcome can reach it any more in practice, since a request is
    /// decided by its deadline after at most the router hold and backlog wait plus the timeout;
    /// ten minutes more covers calls. Outcomes later still are counted in the process totals
    /// but not in the window (docs/csv.md).
    pub(super) fn window_close_ns(&self, w: usize) -> u64 {
        let lag = self.cfg.lifecycle.router_hold.as_nanos()
            + 2 * self.cfg.request_timeout.as_nanos()
            + 600_000_000_000;
        (w as u64 + 1) * self.cfg.window.as_nanos() + lag
    }

    /// Write every process's windows that have closed by `now` (all processes together, so
    /// rows come in time order, then process order).
    #[inline]
    fn close_windows(&mut self, now: SimTime) {
        if now.as_nanos() > self.next_close_ns {
            self.close_windows_until(now);
        }
    }

    #[cold]
    fn close_windows_until(&mut self, now: SimTime) {
        let mut to = self.windows_written;
        while now.as_nanos() > self.window_close_ns(to) {
            to += 1;
        }
        self.write_windows(to);
        self.next_close_ns = self.window_close_ns(to);
    }

    /// A new request to global process `p`, counted if it arrives after the warmup.
    #[allow(clippy::too_many_arguments)]
    fn new_request(
        &mut self,
        now: SimTime,
        p: usize,
        plan: u32,
        work: f64,
        wait_ns: u64,
        net_ns: u64,
        connect_ns: u64,
        router: u8,
        direct: bool,
        parent: (u32, u32),
    ) -> u32 {
        let counted = now.as_nanos() >= self.cfg.warmup.as_nanos();
        self.close_windows(now);
        let proc_ = &mut self.procs[p];
        if counted {
            proc_.requests += 1;
            let w = (now.as_nanos() / self.cfg.window.as_nanos()) as usize;
            if let Some(win) = proc_.windows.get_mut(w) {
                win.requests += 1;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.alloc(Request {
            id,
            arrival: now,
            dispatched: SimTime::MAX,
            at_dyno: now,
            start: now,
            cpu_end: now,
            work,
            wait_ns,
            net_half_ns: net_ns / 2,
            process: p as u32,
            dyno: u32::MAX,
            generation: 0,
            phase: Phase::Transit,
            counted,
            router,
            router_slot: false,
            direct,
            router_ns: connect_ns,
            downstream_ns: 0,
            calls_start: now,
            plan,
            next_call: 0,
            call_rep: 0,
            pending: 0,
            child_failed: false,
            parent: parent.0,
            worker: 0,
            endpoint: NO_ENDPOINT,
            parent_generation: parent.1,
            parent_id: if parent.0 == NO_PARENT {
                0
            } else {
                self.reqs[parent.0 as usize].id
            },
            deadline_from: now,
            held_once: false,
            client: 0,
            reads: false,
            write_bytes: 0,
            item: 0,
            miss_ns: 0,
        })
    }

    pub(super) fn on_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        self.schedule_arrival(a, sched);
        let now = sched.now();
        let Some(p) = self.apps[a].target else { return };
        let app_cfg = &self.cfg.apps[a];
        let net = &self.cfg.network;
        let link = if app_cfg.space.is_some() {
            &net.space_router_dyno
        } else {
            &net.router_dyno
        };
        let app = &mut self.apps[a];
        let drawn = app.source.draw_request(&self.plans);
        let net_ns = rtt(&net.client_router, &mut app.net_rng) + rtt(link, &mut app.net_rng);
        let connect_ns = if app_cfg.router.keepalive {
            0
        } else {
            rtt(link, &mut app.net_rng)
        };
        let routers = app_cfg.router.routers.max(1) as usize;
        let router = app.router.pick(routers) as u8;
        let trusted = app_cfg
            .space
            .and_then(|s| self.cfg.spaces[s].trusted_ips.as_ref());
        let refused = trusted.is_some()
            && app_cfg.untrusted_share > 0.0
            && app.ingress_rng.open01() < app_cfg.untrusted_share;
        let req = self.new_request(
            now,
            p,
            drawn.plan,
            drawn.work_ns,
            drawn.wait_ns,
            net_ns,
            connect_ns,
            router,
            false,
            (NO_PARENT, 0),
        );
        let r = &mut self.reqs[req as usize];
        if let Some(e) = drawn.endpoint {
            r.endpoint = e;
            if r.counted {
                self.procs[p].endpoints[e as usize].requests += 1;
            }
        }
        let r = &mut self.reqs[req as usize];
        let f = drawn.files;
        (r.client, r.reads, r.write_bytes, r.item, r.miss_ns) =
            (f.client, f.reads, f.write_bytes, f.item, f.miss_ns);
        let id = r.id;
        self.observer.on_drawn(id, a, &drawn);
        if refused {
            return self.fail(req, Status::Refused, now, sched);
        }
        self.dispatch(req, sched);
    }

    /// Route a request through its app's router: to a random up dyno below the router's active
    /// limit; into the router's backlog when every dyno is at the limit (H11 when that is full);
    /// held while dynos boot or wake; H14 with no dynos; H10 when every dyno is down.
    pub(super) fn dispatch(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        if self.reqs[req as usize].phase == Phase::Abandoned {
            // Re-routed after its dyno died, but the client has had its H12 and is gone.
            return self.release(req);
        }
        if self.reqs[req as usize].direct {
            return self.dispatch_direct(req, sched);
        }
        let p = self.reqs[req as usize].process as usize;
        let a = self.procs[p].app;
        let n = self.procs[p].up.len();
        if n > 0 {
            let r = self.reqs[req as usize].router as usize;
            let limit = self.cfg.apps[a].router.active_limit;
            let below = |d: u32, dynos: &[crate::model::dyno::Dyno]| {
                dynos[d as usize].router_active[r] < limit
            };
            // A few random picks first (cheap when most dynos have room), then a scan.
            let mut chosen = None;
            for _ in 0..4 {
                let d = self.procs[p].up[self.apps[a].router.pick(n)];
                if below(d, &self.dynos) {
                    chosen = Some(d);
                    break;
                }
            }
            if chosen.is_none() {
                let open: Vec<u32> = self.procs[p]
                    .up
                    .iter()
                    .copied()
                    .filter(|&d| below(d, &self.dynos))
                    .collect();
                if !open.is_empty() {
                    chosen = Some(open[self.apps[a].router.pick(open.len())]);
                }
            }
            match chosen {
                Some(d) => self.send(req, d, sched),
                None => {
                    let cap =
                        self.cfg.apps[a].router.backlog_per_dyno as usize * self.procs[p].count;
                    if self.procs[p].backlog_len[r] >= cap {
                        return self.fail(req, Status::H11, now, sched);
                    }
                    let q = &mut self.reqs[req as usize];
                    q.phase = Phase::Backlogged;
                    // The window counts from arrival, or from the end of a hold for booting
                    // dynos (as the deadline does once the request is sent).
                    let (generation, arrival) =
                        (q.generation, if q.held_once { now } else { q.arrival });
                    self.procs[p].backlog[r].push_back((req, generation));
                    self.procs[p].backlog_len[r] += 1;
                    // Waiting in the backlog counts toward the 30 s window.
                    let at = arrival + self.cfg.request_timeout + SimDuration::from_nanos(1);
                    sched.at(at, Event::BacklogTimeout { req, generation });
                }
            }
            return;
        }
        if self.procs[p].count == 0 {
            return self.fail(req, Status::H14, now, sched);
        }
        // Wake a sleeping eco dyno; hold while any dyno is coming up.
        let mut coming = false;
        for k in 0..self.procs[p].count {
            let s = self.procs[p].slots[k] as usize;
            if self.slots[s].sleeping && !self.slots[s].starting {
                self.wake(s, sched);
            }
            // A dyno waiting out a crash backoff is "crashed" (H10), not coming.
            let slot = &self.slots[s];
            coming |= slot.waking
                || slot
                    .current
                    .is_some_and(|d| self.dynos[d as usize].state == State::Booting);
        }
        if coming {
            let r = &mut self.reqs[req as usize];
            r.phase = Phase::Held;
            r.held_once = true;
            let generation = r.generation;
            self.procs[p].held.push_back((req, generation));
            sched.after_ordered(
                self.cfg.lifecycle.router_hold,
                Event::HoldTimeout { req, generation },
            );
        } else {
            self.fail(req, Status::H10, now, sched);
        }
    }

    /// A call inside a space goes straight to a dyno: round robin over the process's up dynos.
    fn dispatch_direct(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let p = self.reqs[req as usize].process as usize;
        let n = self.procs[p].up.len();
        if n == 0 {
            // Nothing listens at <process>.<app>.app.localspace: the connection fails at once.
            return self.fail(req, Status::H10, sched.now(), sched);
        }
        let d = self.procs[p].up[self.procs[p].rr as usize % n];
        self.procs[p].rr = self.procs[p].rr.wrapping_add(1);
        self.send(req, d, sched);
    }

    /// The request leaves the router (or the calling dyno) for dyno `d`.
    fn send(&mut self, req: u32, d: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = &mut self.reqs[req as usize];
        r.dyno = d;
        let generation = r.generation;
        if r.dispatched == SimTime::MAX {
            r.dispatched = now;
            r.router_ns += now.since(r.arrival).as_nanos();
            // The 30 s window counts from arrival at the router (backlog time included), or from
            // here after a hold for booting dynos. The deadline passes one nanosecond after it:
            // a response at exactly 30 s is in time, whatever the order of events then.
            r.deadline_from = if r.held_once { now } else { r.arrival };
            if !r.direct {
                let at = r.deadline_from + self.cfg.request_timeout + SimDuration::from_nanos(1);
                let event = Event::Deadline { req, generation };
                if r.deadline_from == now {
                    sched.after_ordered(
                        self.cfg.request_timeout + SimDuration::from_nanos(1),
                        event,
                    );
                } else {
                    sched.at(at, event);
                }
            }
        }
        if r.phase != Phase::Abandoned {
            r.phase = Phase::Transit;
        }
        let delay = r.net_half_ns
            + if r.direct {
                0
            } else {
                r.router_ns.saturating_sub(now.since(r.arrival).as_nanos())
            };
        if !r.direct {
            r.router_slot = true;
            self.dynos[d as usize].router_active[r.router as usize] += 1;
        }
        let dyno = &mut self.dynos[d as usize];
        dyno.in_flight += 1;
        dyno.last_request = now;
        if delay == 0 {
            self.on_at_dyno(req, generation, sched);
        } else {
            sched.after(
                SimDuration::from_nanos(delay),
                Event::AtDyno {
                    req,
                    generation,
                    dyno: d,
                },
            );
        }
    }

    /// Give back the router slot `req` holds on its dyno, and let that router's backlog move.
    pub(super) fn release_router_slot(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let r = &mut self.reqs[req as usize];
        if !r.router_slot {
            return;
        }
        r.router_slot = false;
        let (router, p, d) = (r.router as usize, r.process as usize, r.dyno as usize);
        let active = &mut self.dynos[d].router_active[router];
        *active = active.saturating_sub(1);
        while let Some((next, generation)) = self.procs[p].backlog[router].pop_front() {
            if self.live(next, generation) && self.reqs[next as usize].phase == Phase::Backlogged {
                self.leave_backlog(next);
                self.reqs[next as usize].phase = Phase::Transit;
                self.dispatch(next, sched);
                break;
            }
        }
    }

    /// A dyno came up: move each router's backlog onto it while dynos have room.
    pub(super) fn drain_backlogs(&mut self, p: usize, sched: &mut Scheduler<Event>) {
        for router in 0..self.procs[p].backlog.len() {
            while self.procs[p].backlog_len[router] > 0 {
                let Some((next, generation)) = self.procs[p].backlog[router].pop_front() else {
                    break;
                };
                if !self.live(next, generation)
                    || self.reqs[next as usize].phase != Phase::Backlogged
                {
                    continue;
                }
                let r = self.reqs[next as usize].router as usize;
                let limit = self.cfg.apps[self.procs[p].app].router.active_limit;
                let room = self.procs[p]
                    .up
                    .iter()
                    .any(|&d| self.dynos[d as usize].router_active[r] < limit);
                if !room {
                    // Every dyno is at the limit again: it keeps its place at the front.
                    self.procs[p].backlog[router].push_front((next, generation));
                    break;
                }
                self.leave_backlog(next);
                self.reqs[next as usize].phase = Phase::Transit;
                self.dispatch(next, sched);
            }
        }
    }

    /// Send the requests held for process `p` to its up dynos.
    pub(super) fn release_held(&mut self, p: usize, sched: &mut Scheduler<Event>) {
        while !self.procs[p].up.is_empty() {
            let Some((req, generation)) = self.procs[p].held.pop_front() else {
                break;
            };
            if !self.live(req, generation) {
                continue;
            }
            match self.reqs[req as usize].phase {
                Phase::Held => {
                    self.reqs[req as usize].phase = Phase::Transit;
                    self.dispatch(req, sched);
                }
                // Timed out while held (its H12 is recorded); the client is gone.
                Phase::Abandoned => self.release(req),
                _ => {}
            }
        }
    }

    pub(super) fn on_hold_timeout(
        &mut self,
        req: u32,
        generation: u32,
        sched: &mut Scheduler<Event>,
    ) {
        if self.live(req, generation) && self.reqs[req as usize].phase == Phase::Held {
            self.fail(req, Status::H20, sched.now(), sched);
        }
    }

    pub(super) fn on_backlog_timeout(
        &mut self,
        req: u32,
        generation: u32,
        sched: &mut Scheduler<Event>,
    ) {
        if self.live(req, generation) && self.reqs[req as usize].phase == Phase::Backlogged {
            self.leave_backlog(req);
            self.fail(req, Status::H12, sched.now(), sched);
        }
    }

    /// `req` stops waiting in its router's backlog.
    fn leave_backlog(&mut self, req: u32) {
        let r = &self.reqs[req as usize];
        let len = &mut self.procs[r.process as usize].backlog_len[r.router as usize];
        *len = len.saturating_sub(1);
    }
    pub(super) fn on_at_dyno(&mut self, req: u32, generation: u32, sched: &mut Scheduler<Event>) {
        if !self.live(req, generation) {
            return;
        }
        let now = sched.now();
        let d = self.reqs[req as usize].dyno as usize;
        if self.dynos[d].state == State::Dead {
            // The dyno died while the request was on its way: the router tries another.
            self.release_router_slot(req, sched);
            return self.dispatch(req, sched);
        }
        let r = &mut self.reqs[req as usize];
        r.at_dyno = now;
        if r.phase == Phase::Transit {
            r.phase = Phase::Queued;
        }
        let dyno = &mut self.dynos[d];
        if dyno.busy_slots < dyno.concurrency {
            self.start_service(req, sched);
        } else {
            dyno.backlog.push_back(req);
            let slot = dyno.slot as usize;
            let len = dyno.backlog.len();
            let st = &mut self.slots[slot].stats;
            st.max_backlog = st.max_backlog.max(len);
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
        if self.dynos[d].gvl {
            r.worker = self.dynos[d].workers().assign();
        }
        let r = *r;
        self.dynos[d].busy_slots += 1;
        if let Some(mb) = self.plans[r.plan].per_request_mb {
            self.dynos[d].endpoint_mb += mb - self.procs[r.process as usize].per_request_mb;
        }
        if r.parent == NO_PARENT {
            // Calls carry no client state: only external requests read, write and cache.
            self.touch_filesystem(req, &r, d);
        }
        self.check_memory(d as u32, sched);
        if self.dynos[d].state == State::Dead {
            return; // R15 on the way in: the request failed with the dyno
        }
        let work = self.reqs[req as usize].work;
        if work <= 0.0 {
            return self.after_cpu(req, sched);
        }
        if self.dynos[d].gvl && !self.dynos[d].workers().acquire(r.worker, req) {
            return; // its process's CPU thread runs another request: it waits its turn
        }
        // The host must account for the time so far at the old rates before the request joins.
        let h = self.dynos[d].host as usize;
        for &o in &self.hosts[h].dynos {
            self.dynos[o as usize].advance(now);
        }
        self.dynos[d].push_running(req, work);
        self.reallocate(h, Some(d as u32), sched);
    }

    pub(super) fn on_cpu_done(&mut self, d: usize, epoch: u32, sched: &mut Scheduler<Event>) {
        if self.dynos[d].epoch != epoch || self.dynos[d].state == State::Dead {
            return; // superseded by a later reschedule, or the dyno is gone
        }
        self.dynos[d].cpu_next = SimTime::MAX;
        let now = sched.now();
        let h = self.dynos[d].host as usize;
        for &o in &self.hosts[h].dynos {
            self.dynos[o as usize].advance(now);
        }
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        self.dynos[d].pop_done(&mut done);
        if self.dynos[d].gvl {
            // Each finished CPU phase hands its process's thread to the next request waiting.
            for &req in &done {
                if let Some(next) = self.dynos[d]
                    .workers()
                    .release(self.reqs[req as usize].worker)
                {
                    let work = self.reqs[next as usize].work;
                    self.dynos[d].push_running(next, work);
                }
            }
        }
        self.reallocate(h, Some(d as u32), sched);
        for &req in &done {
            self.after_cpu(req, sched);
        }
        self.done = done;
    }

    fn after_cpu(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = &mut self.reqs[req as usize];
        r.cpu_end = now;
        if self.plans[r.plan].calls.is_empty() {
            return self.wait_phase(req, sched);
        }
        r.calls_start = now;
        if r.phase != Phase::Abandoned {
            r.phase = Phase::Calls;
        }
        self.issue_calls(req, sched);
    }

    /// Make the request's next call (or all of a parallel call); continue when none are left.
    fn issue_calls(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let r = self.reqs[req as usize];
        let plan = &self.plans[r.plan];
        if r.child_failed || r.next_call as usize >= plan.calls.len() {
            let q = &mut self.reqs[req as usize];
            q.downstream_ns = sched.now().since(q.calls_start).as_nanos();
            return self.wait_phase(req, sched);
        }
        let call = &plan.calls[r.next_call as usize];
        let n = if call.parallel { call.count } else { 1 };
        self.reqs[req as usize].pending = n as u16;
        for _ in 0..n {
            self.spawn_call(req, sched);
        }
    }

    /// A child request for the current call of `parent`.
    fn spawn_call(&mut self, parent: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let pr = self.reqs[parent as usize];
        let caller_app = self.procs[pr.process as usize].app;
        let call = &self.plans[pr.plan].calls[pr.next_call as usize];
        let (p, route, plan_id) = (call.process, call.route, call.plan);
        let callee_app = self.procs[p].app;
        let net = &self.cfg.network;
        let callee = &self.cfg.apps[callee_app];
        let source = &mut self.apps[caller_app].source;
        let drawn = source.draw_call(&self.plans, plan_id);
        let rng = source.calls_stream();
        let (net_ns, connect_ns, router, direct) = match route {
            CallRoute::Space => (rtt(&net.space_dyno_dyno, rng), 0, 0, true),
            CallRoute::PublicRouter => {
                let link = if callee.space.is_some() {
                    &net.space_router_dyno
                } else {
                    &net.router_dyno
                };
                let net_ns = rtt(&net.egress_router, rng) + rtt(link, rng);
                let connect = if callee.router.keepalive {
                    0
                } else {
                    rtt(link, rng)
                };
                let router = rng.below(u64::from(callee.router.routers.max(1))) as u8;
                (net_ns, connect, router, false)
            }
        };
        let child = self.new_request(
            now,
            p,
            drawn.plan,
            drawn.work_ns,
            drawn.wait_ns,
            net_ns,
            connect_ns,
            router,
            direct,
            (parent, pr.generation),
        );
        let id = self.reqs[child as usize].id;
        self.observer.on_drawn(id, caller_app, &drawn);
        self.dispatch(child, sched);
    }

    /// A call of `parent` ended; go on with the next one once all of the current ones are back.
    pub(super) fn on_call_done(
        &mut self,
        parent: u32,
        generation: u32,
        ok: bool,
        sched: &mut Scheduler<Event>,
    ) {
        if !self.live(parent, generation) {
            return; // the caller died meanwhile
        }
        let plan_id = self.reqs[parent as usize].plan;
        let r = &mut self.reqs[parent as usize];
        if r.pending == 0 {
            return;
        }
        r.pending -= 1;
        r.child_failed |= !ok;
        if r.pending > 0 {
            return;
        }
        let call = &self.plans[plan_id].calls[r.next_call as usize];
        if !call.parallel && !r.child_failed && u32::from(r.call_rep) + 1 < call.count {
            r.call_rep += 1;
            r.pending = 1;
            return self.spawn_call(parent, sched);
        }
        r.next_call += 1;
        r.call_rep = 0;
        self.issue_calls(parent, sched);
    }

    fn wait_phase(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let r = &mut self.reqs[req as usize];
        if r.wait_ns > 0 {
            if r.phase != Phase::Abandoned {
                r.phase = Phase::Wait;
            }
            let (generation, dyno) = (r.generation, r.dyno);
            sched.after(
                SimDuration::from_nanos(r.wait_ns),
                Event::WaitDone {
                    req,
                    generation,
                    dyno,
                },
            );
        } else {
            self.finish(req, sched);
        }
    }

    /// The dyno is done with `req`: free its slot, settle the outcome, start the next in line.
    pub(super) fn finish(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        self.release_router_slot(req, sched);
        let r = self.reqs[req as usize];
        let d = r.dyno as usize;
        let dyno = &mut self.dynos[d];
        if dyno.gvl {
            dyno.workers().leave(r.worker);
        }
        if let Some(mb) = self.plans[r.plan].per_request_mb {
            dyno.endpoint_mb -= mb - self.procs[r.process as usize].per_request_mb;
        }
        dyno.busy_slots -= 1;
        dyno.in_flight -= 1;
        dyno.served += 1;
        // Only a dyno with requests beyond its slots can have a backlog (its cold line).
        let next = if dyno.in_flight > dyno.busy_slots {
            dyno.backlog.pop_front()
        } else {
            debug_assert!(dyno.backlog.is_empty());
            None
        };
        let draining_idle = dyno.state == State::Draining && dyno.in_flight == 0;
        let process = r.process as usize;
        if r.phase == Phase::Abandoned {
            self.release(req);
        } else if r.child_failed {
            // A call failed: the app answers with an error.
            self.fail(
                req,
                Status::Downstream,
                now + SimDuration::from_nanos(r.net_half_ns),
                sched,
            );
        } else {
            let responded = now + SimDuration::from_nanos(r.net_half_ns);
            let latency = responded.since(r.arrival);
            if r.direct || responded.since(r.deadline_from) <= self.cfg.request_timeout {
                self.sample_end(req, Status::Ok, responded);
                if r.counted {
                    let split = Split {
                        router_ns: r.router_ns,
                        network_ns: 2 * r.net_half_ns,
                        queue_ns: r.start.since(r.at_dyno).as_nanos(),
                        cpu_ns: r.cpu_end.since(r.start).as_nanos(),
                        downstream_ns: r.downstream_ns,
                        wait_ns: now
                            .since(r.cpu_end)
                            .as_nanos()
                            .saturating_sub(r.downstream_ns),
                    };
                    self.record_ok(process, &r, latency.as_nanos(), split);
                }
                self.release(req);
                if r.parent != NO_PARENT {
                    // The answer travels back to the caller first.
                    let (parent, generation) = (r.parent, r.parent_generation);
                    if r.net_half_ns == 0 {
                        self.on_call_done(parent, generation, true, sched);
                    } else {
                        sched.after(
                            SimDuration::from_nanos(r.net_half_ns),
                            Event::CallReturn { parent, generation },
                        );
                    }
                }
            } else {
                self.reqs[req as usize].phase = Phase::Late;
            }
        }
        self.check_memory(d as u32, sched);
        if let Some(next) = next {
            if self.dynos[d].state != State::Dead {
                self.start_service(next, sched);
            }
        } else if draining_idle {
            self.stop(d as u32, crate::model::LifecycleKind::Stop, sched);
        }
    }

    fn record_ok(&mut self, process: usize, r: &Request, latency_ns: u64, split: Split) {
        let window = self.cfg.window.as_nanos();
        let p = &mut self.procs[process];
        p.latency.record(latency_ns, &split);
        if r.endpoint != NO_ENDPOINT {
            p.endpoints[r.endpoint as usize]
                .latency
                .record(latency_ns, &split);
        }
        if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
            w.record(latency_ns);
        }
        if !self.observer.wants_requests() {
            return;
        }
        let dy = &self.dynos[r.dyno as usize];
        let parent = (r.parent != NO_PARENT).then_some(r.parent_id);
        self.observer.on_request(&RequestRecord {
            id: r.id,
            app: p.app,
            process: p.local,
            dyno: dy.index,
            incarnation: dy.incarnation,
            arrival_ns: r.arrival.as_nanos(),
            service_start_ns: r.start.as_nanos(),
            latency_ns,
            status: Status::Ok,
            split: Some(split),
            parent,
        });
    }

    /// Record an error for `req` at `now` and forget it (unless it was already answered); a
    /// failed call fails its caller too.
    pub(super) fn fail(
        &mut self,
        req: u32,
        code: Status,
        now: SimTime,
        sched: &mut Scheduler<Event>,
    ) {
        self.release_router_slot(req, sched);
        let r = self.reqs[req as usize];
        if r.phase == Phase::Abandoned || r.phase == Phase::Late {
            // The client already had its H12.
            self.release(req);
            return;
        }
        self.sample_end(req, code, now);
        self.record_error(&r, code, now);
        self.release(req);
        if r.parent != NO_PARENT {
            self.on_call_done(r.parent, r.parent_generation, false, sched);
        }
    }

    fn record_error(&mut self, r: &Request, code: Status, now: SimTime) {
        if !r.counted {
            return;
        }
        let window = self.cfg.window.as_nanos();
        let p = &mut self.procs[r.process as usize];
        if let Some(i) = code.error_index() {
            p.errors[i] += 1;
            if r.endpoint != NO_ENDPOINT {
                p.endpoints[r.endpoint as usize].errors[i] += 1;
            }
        }
        if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
            w.errors += 1;
        }
        if !self.observer.wants_requests() {
            return;
        }
        let (dyno, incarnation) = match self.dynos.get(r.dyno as usize) {
            Some(d) => (d.index, d.incarnation),
            None => (0, 0),
        };
        let started = matches!(
            r.phase,
            Phase::Cpu | Phase::Calls | Phase::Wait | Phase::Late | Phase::Abandoned
        );
        let parent = (r.parent != NO_PARENT).then_some(r.parent_id);
        self.observer.on_request(&RequestRecord {
            id: r.id,
            app: p.app,
            process: p.local,
            dyno,
            incarnation,
            arrival_ns: r.arrival.as_nanos(),
            service_start_ns: if started { r.start.as_nanos() } else { 0 },
            latency_ns: now.since(r.arrival).as_nanos(),
            status: code,
            split: None,
            parent,
        });
    }

    pub(super) fn on_deadline(&mut self, req: u32, generation: u32, sched: &mut Scheduler<Event>) {
        if !self.live(req, generation) {
            return; // answered in time
        }
        let r = self.reqs[req as usize];
        if r.phase == Phase::Abandoned {
            return;
        }
        let now = r.deadline_from + self.cfg.request_timeout;
        if r.phase == Phase::Backlogged {
            self.leave_backlog(req);
        }
        self.sample_end(req, Status::H12, now);
        self.record_error(&r, Status::H12, now);
        if r.phase == Phase::Late {
            self.release_router_slot(req, sched);
            self.release(req);
        } else {
            // Still working, or re-routed and waiting in a hold or backlog after its dyno died:
            // whoever holds it now releases it.
            self.reqs[req as usize].phase = Phase::Abandoned;
        }
        if r.parent != NO_PARENT {
            self.on_call_done(r.parent, r.parent_generation, false, sched);
        }
    }
}
