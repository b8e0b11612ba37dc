//! Requests: arrival, routing (and holding while dynos boot), service on a dyno, deadlines and
//! outcomes.

use super::{Event, Phase, Platform, Request, RequestObserver};
use crate::engine::{Scheduler, SimDuration, SimTime};
use crate::model::dyno::State;
use crate::model::metrics::{RequestRecord, Split, Status};

impl<O: RequestObserver> Platform<O> {
    pub(super) fn schedule_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
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

    pub(super) fn release(&mut self, i: u32) {
        let r = &mut self.reqs[i as usize];
        r.phase = super::Phase::Free;
        r.generation = r.generation.wrapping_add(1);
        self.free.push(i);
    }

    /// Whether `req` is still the request an event was scheduled for.
    pub(super) fn live(&self, req: u32, generation: u32) -> bool {
        let r = &self.reqs[req as usize];
        r.generation == generation && r.phase != Phase::Free
    }

    pub(super) fn on_arrival(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        self.schedule_arrival(a, sched);
        let now = sched.now();
        let Some(p) = self.apps[a].target else { return };
        let counted = now.as_nanos() >= self.cfg.warmup.as_nanos();
        let app = &mut self.apps[a];
        let work = app.cpu.sample(&mut app.cpu_rng) * 1e9;
        let wait_ns = SimDuration::from_secs_f64(app.wait.sample(&mut app.wait_rng)).as_nanos();
        let rtt = if self.net_zero {
            0
        } else {
            SimDuration::from_secs_f64(self.net.sample(&mut app.net_rng)).as_nanos()
        };
        // Filesystem draws: always the same number per request, so streams stay aligned.
        let (mut client, mut reads, mut write_bytes, mut item, mut miss_ns) = (0, false, 0, 0, 0);
        if let Some(fs) = &self.cfg.apps[a].filesystem {
            let rng = &mut app.fs_rng;
            client = rng.below(u64::from(fs.clients.max(1))) as u32;
            reads = rng.open01() < fs.read_probability;
            let writes = rng.open01() < fs.write_probability;
            let size = rng.exp(fs.write_kb * 1024.0);
            write_bytes = if writes { size.ceil() as u64 } else { 0 };
            let u = rng.open01();
            item = app.zipf_cdf.partition_point(|c| *c < u) as u32;
            miss_ns = SimDuration::from_secs_f64(fs.cache_miss.sample(rng)).as_nanos();
        }
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
        let req = self.alloc(Request {
            id,
            arrival: now,
            dispatched: SimTime::MAX,
            at_dyno: now,
            start: now,
            cpu_end: now,
            work,
            wait_ns,
            net_half_ns: rtt / 2,
            process: p as u32,
            dyno: u32::MAX,
            generation: 0,
            phase: Phase::Transit,
            counted,
            client,
            reads,
            write_bytes,
            item,
            miss_ns,
        });
        self.dispatch(req, sched);
    }

    /// Route a request: to a random up dyno; held while dynos boot or wake; H14 with no dynos;
    /// H10 when every dyno is down.
    pub(super) fn dispatch(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let p = self.reqs[req as usize].process as usize;
        let a = self.procs[p].app;
        let n = self.procs[p].up.len();
        if n > 0 {
            let d = self.procs[p].up[self.apps[a].router.pick(n)];
            let now = sched.now();
            let r = &mut self.reqs[req as usize];
            r.dyno = d;
            let generation = r.generation;
            let half = r.net_half_ns;
            // The deadline counts from the first dispatch, and passes one nanosecond after the
            // timeout: a response at exactly 30 s is in time, whatever the order of events then.
            if r.dispatched == SimTime::MAX {
                r.dispatched = now;
                sched.after_ordered(
                    self.cfg.request_timeout + SimDuration::from_nanos(1),
                    Event::Deadline { req, generation },
                );
            }
            if r.phase != Phase::Abandoned {
                r.phase = Phase::Transit;
            }
            let dyno = &mut self.dynos[d as usize];
            dyno.in_flight += 1;
            dyno.last_request = now;
            if half == 0 {
                self.on_at_dyno(req, generation, sched);
            } else {
                sched.after(
                    SimDuration::from_nanos(half),
                    Event::AtDyno { req, generation },
                );
            }
            return;
        }
        if self.reqs[req as usize].phase == Phase::Abandoned {
            // Re-routed after its dyno died, but the client has had its H12 and is gone.
            return self.release(req);
        }
        if self.procs[p].count == 0 {
            return self.fail(req, Status::H14, sched.now());
        }
        // Wake a sleeping eco dyno; hold while any dyno is coming up.
        let (first, count) = (self.procs[p].first_slot, self.procs[p].count);
        let mut coming = false;
        for s in first..first + count {
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
            let generation = r.generation;
            self.procs[p].held.push_back(req);
            sched.after_ordered(
                self.cfg.lifecycle.router_hold,
                Event::HoldTimeout { req, generation },
            );
        } else {
            self.fail(req, Status::H10, sched.now());
        }
    }

    /// Send the requests held for process `p` to its up dynos.
    pub(super) fn release_held(&mut self, p: usize, sched: &mut Scheduler<Event>) {
        while !self.procs[p].up.is_empty() {
            let Some(req) = self.procs[p].held.pop_front() else {
                break;
            };
            if self.reqs[req as usize].phase == Phase::Held {
                self.dispatch(req, sched);
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
            self.fail(req, Status::H20, sched.now());
        }
    }

    pub(super) fn on_at_dyno(&mut self, req: u32, generation: u32, sched: &mut Scheduler<Event>) {
        if !self.live(req, generation) {
            return;
        }
        let now = sched.now();
        let d = self.reqs[req as usize].dyno as usize;
        if self.dynos[d].state == State::Dead {
            // The dyno died while the request was on its way: the router tries another.
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
        let r = *r;
        self.dynos[d].busy_slots += 1;
        self.touch_filesystem(req, &r, d);
        self.check_memory(d as u32, sched);
        if self.dynos[d].state == State::Dead {
            return; // R15 on the way in: the request failed with the dyno
        }
        let work = self.reqs[req as usize].work;
        if work <= 0.0 {
            return self.after_cpu(req, sched);
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
            let generation = r.generation;
            sched.after(
                SimDuration::from_nanos(r.wait_ns),
                Event::WaitDone { req, generation },
            );
        } else {
            self.finish(req, sched);
        }
    }

    /// The dyno is done with `req`: free its slot, settle the outcome, start the next in line.
    pub(super) fn finish(&mut self, req: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let r = self.reqs[req as usize];
        let d = r.dyno as usize;
        let dyno = &mut self.dynos[d];
        dyno.busy_slots -= 1;
        dyno.in_flight -= 1;
        let next = dyno.backlog.pop_front();
        let slot = dyno.slot as usize;
        let draining_idle = dyno.state == State::Draining && dyno.in_flight == 0;
        self.slots[slot].stats.served += 1;
        let process = r.process as usize;
        if r.phase == Phase::Abandoned {
            self.release(req);
        } else {
            let responded = now + SimDuration::from_nanos(r.net_half_ns);
            let latency = responded.since(r.arrival);
            if responded.since(r.dispatched) <= self.cfg.request_timeout {
                if r.counted {
                    let split = Split {
                        network_ns: 2 * r.net_half_ns,
                        // Time held by the router plus time in the dyno's backlog.
                        queue_ns: r.start.since(r.at_dyno).as_nanos()
                            + r.dispatched.since(r.arrival).as_nanos(),
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
        self.check_memory(d as u32, sched);
        if let Some(next) = next {
            if self.dynos[d].state != State::Dead {
                self.start_service(next, sched);
            }
        } else if draining_idle {
            self.stop(d as u32, "stop", sched);
        }
    }

    fn record_ok(&mut self, process: usize, r: &Request, latency_ns: u64, split: Split) {
        let window = self.cfg.window.as_nanos();
        let p = &mut self.procs[process];
        p.latency.record(latency_ns, &split);
        if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
            w.record(latency_ns);
        }
        let dy = &self.dynos[r.dyno as usize];
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
        });
    }

    /// Record an error for `req` at `now` and forget it (unless it was already answered).
    pub(super) fn fail(&mut self, req: u32, code: Status, now: SimTime) {
        let r = self.reqs[req as usize];
        if r.phase == Phase::Abandoned || r.phase == Phase::Late {
            // The client already had its H12.
            self.release(req);
            return;
        }
        self.record_error(&r, code, now);
        self.release(req);
    }

    fn record_error(&mut self, r: &Request, code: Status, now: SimTime) {
        if !r.counted {
            return;
        }
        let window = self.cfg.window.as_nanos();
        let p = &mut self.procs[r.process as usize];
        if let Some(i) = code.error_index() {
            p.errors[i] += 1;
        }
        if let Some(w) = p.windows.get_mut((r.arrival.as_nanos() / window) as usize) {
            w.errors += 1;
        }
        let (dyno, incarnation) = match self.dynos.get(r.dyno as usize) {
            Some(d) => (d.index, d.incarnation),
            None => (0, 0),
        };
        let started = matches!(
            r.phase,
            Phase::Cpu | Phase::Wait | Phase::Late | Phase::Abandoned
        );
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
        });
    }

    pub(super) fn on_deadline(&mut self, req: u32, generation: u32) {
        if !self.live(req, generation) {
            return; // answered in time
        }
        let r = self.reqs[req as usize];
        if r.phase == Phase::Abandoned || r.phase == Phase::Held {
            return;
        }
        let now = r.dispatched + self.cfg.request_timeout;
        self.record_error(&r, Status::H12, now);
        if r.phase == Phase::Late {
            self.release(req);
        } else {
            self.reqs[req as usize].phase = Phase::Abandoned;
        }
    }
}
