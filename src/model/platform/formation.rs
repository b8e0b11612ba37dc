//! Formation changes during a run: policy ticks, and scaling a process up (new dynos through the
//! normal boot path) and down (SIGTERM to the highest-numbered dynos, through the normal drain).
//! The rules and the policy seam are described in `model::formation`.

use super::{Event, Phase, Platform, Request, RequestObserver, Slot, SlotStats};
use crate::engine::{Scheduler, SimDuration, SimTime};
use crate::model::dyno::State;
use crate::model::formation::{
    FormationView, ProcessView, RequestSample, ScaleAction, ScaleRecord,
};
use crate::model::host::Host;
use crate::model::metrics::Status;
use crate::model::placement::{PlacementError, Spot};

impl<O: RequestObserver> Platform<O> {
    /// Schedule every policy's first tick.
    pub(super) fn start_policies(&mut self, sched: &mut Scheduler<Event>) {
        let Some(policies) = &self.policies else {
            return;
        };
        let periods: Vec<SimDuration> = policies.list.iter().map(|p| p.period()).collect();
        for (i, period) in periods.into_iter().enumerate() {
            self.schedule_tick(i, sched.now(), period, sched);
        }
    }

    fn schedule_tick(
        &self,
        i: usize,
        now: SimTime,
        period: SimDuration,
        sched: &mut Scheduler<Event>,
    ) {
        let at = now + period;
        // A zero period would tick forever at one instant; ticks past the end see nothing.
        if period > SimDuration::ZERO && at.as_nanos() < self.cfg.duration.as_nanos() {
            sched.at(at, Event::FormationTick(i as u32));
        }
    }

    /// Policy `i` looks at the formation and scales.
    pub(super) fn on_formation_tick(&mut self, i: usize, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let view = self.formation_view();
        let Some(policies) = self.policies.as_mut() else {
            return;
        };
        let policy = &mut policies.list[i];
        let actions = policy.on_tick(now, &view);
        let period = policy.period();
        self.schedule_tick(i, now, period, sched);
        for action in actions {
            self.scale(action, sched);
        }
    }

    /// Every process at this instant.
    pub(super) fn formation_view(&self) -> FormationView {
        let mut processes: Vec<ProcessView> = self
            .procs
            .iter()
            .enumerate()
            .map(|(p, pr)| {
                let (mut up, mut booting) = (0, 0);
                for &s in &pr.slots[..pr.count] {
                    let slot = &self.slots[s as usize];
                    match slot.current.map(|d| self.dynos[d as usize].state) {
                        Some(State::Up) => up += 1,
                        Some(State::Booting) => booting += 1,
                        _ if slot.waking => booting += 1,
                        _ => {}
                    }
                }
                ProcessView {
                    app: pr.app,
                    process: pr.local,
                    dynos: pr.count as u32,
                    up,
                    booting,
                    draining: 0,
                    in_flight: 0,
                    at_router: (pr.held.len() + pr.backlog_len.iter().sum::<usize>()) as u64,
                    web: self.apps[pr.app].target == Some(p),
                }
            })
            .collect();
        // Live incarnations are on their hosts' lists (dead ones leave them).
        for h in &self.hosts {
            for &d in &h.dynos {
                let dy = &self.dynos[d as usize];
                let v = &mut processes[dy.process as usize];
                v.in_flight += u64::from(dy.in_flight);
                v.draining += u32::from(dy.state == State::Draining);
            }
        }
        FormationView { processes }
    }

    /// Carry out `ps:scale`: start dynos up to the new count, or SIGTERM the highest-numbered
    /// ones down to it. A dyno that cannot be placed (a full shared pool) is not started, and
    /// the record says so.
    pub(super) fn scale(&mut self, action: ScaleAction, sched: &mut Scheduler<Event>) {
        let Some(p) = self
            .procs
            .iter()
            .position(|pr| pr.app == action.app && pr.local == action.process)
        else {
            debug_assert!(
                false,
                "a policy scaled a process that does not exist: {action:?}"
            );
            return;
        };
        let from = self.procs[p].count as u32;
        let mut reason = action.reason;
        let mut started = Vec::new();
        while (self.procs[p].count as u32) < action.count {
            match self.add_dyno(p, sched) {
                Ok(s) => started.push(s),
                Err(e) => {
                    reason = format!("{reason}; not placed: {e}");
                    break;
                }
            }
        }
        let mut stopped = Vec::new();
        while self.procs[p].count as u32 > action.count {
            let pr = &mut self.procs[p];
            pr.count -= 1;
            stopped.push(pr.slots[pr.count]);
        }
        let to = self.procs[p].count as u32;
        if to == from {
            return;
        }
        let record = ScaleRecord {
            time_ns: sched.now().as_nanos(),
            app: action.app,
            process: action.process,
            from,
            to,
            reason,
        };
        self.observer.on_scale(&record);
        for s in started {
            self.boot(s as usize, sched);
        }
        for s in stopped {
            self.retire(s as usize, sched);
        }
    }

    /// The next dyno number of process `p` joins the formation: a slot it had before, or a new
    /// one placed by the scenario's rules. Returns the slot, not yet booted.
    fn add_dyno(&mut self, p: usize, sched: &mut Scheduler<Event>) -> Result<u32, PlacementError> {
        let k = self.procs[p].count;
        if let Some(&s) = self.procs[p].slots.get(k) {
            let slot = &mut self.slots[s as usize];
            slot.retired = false;
            slot.consecutive_crashes = 0;
            self.procs[p].count += 1;
            return Ok(s);
        }
        let (a, local) = (self.procs[p].app, self.procs[p].local);
        let app = &self.cfg.apps[a];
        let spot = self.placer.place(
            a,
            app,
            local,
            &self.cfg.spaces,
            self.hosts.len(),
            &mut self.placement_rng,
        )?;
        let s = self.slots.len();
        let h = match spot {
            Spot::Existing(h) => h,
            Spot::New(instance) => {
                let mut host = Host::new(instance, self.cfg.noise.as_ref(), self.seeds);
                host.open_at(sched.now());
                self.hosts.push(host);
                let h = self.hosts.len() - 1;
                self.start_host(h, sched);
                h
            }
        };
        self.hosts[h].instance.add(s, a);
        self.slots.push(Slot {
            process: p as u32,
            index: k as u32 + 1,
            host: h as u32,
            current: None,
            incarnations: 0,
            consecutive_crashes: 0,
            sleeping: false,
            starting: false,
            waking: false,
            retired: false,
            stats: SlotStats::default(),
        });
        let pr = &mut self.procs[p];
        pr.slots.push(s as u32);
        pr.count += 1;
        Ok(s as u32)
    }

    /// Slot `s` leaves the formation: its incarnation gets SIGTERM (and drains), and nothing
    /// restarts it: not a crash, a cycle, a deploy or a request to a sleeping dyno.
    fn retire(&mut self, s: usize, sched: &mut Scheduler<Event>) {
        let slot = &mut self.slots[s];
        slot.retired = true;
        // A start waiting out a crash backoff or a wake is called off.
        slot.starting = false;
        slot.waking = false;
        slot.sleeping = false;
        let (p, current) = (slot.process as usize, slot.current);
        // A rolling deploy no longer waits for it.
        if let Some(r) = self.procs[p].rolling.as_mut() {
            r.pending.retain(|&x| x as usize != s);
            let waited = r.waiting.iter().any(|&x| x as usize == s);
            r.waiting.retain(|&x| x as usize != s);
            if waited && r.waiting.is_empty() {
                self.next_batch(p, sched);
            }
        }
        if let Some(d) = current {
            self.sigterm(d, sched);
        }
    }

    /// Hand the end of request `req` to the policies that want it (nothing without policies).
    /// Takes the request's index, not a copy, so the request path keeps its copy in registers.
    #[inline]
    pub(super) fn sample_end(&mut self, req: u32, status: Status, end: SimTime) {
        if self.policies.is_some() {
            self.sample_end_cold(req, status, end);
        }
    }

    #[cold]
    #[inline(never)]
    fn sample_end_cold(&mut self, req: u32, status: Status, end: SimTime) {
        let r: Request = self.reqs[req as usize];
        let pr = &self.procs[r.process as usize];
        let started = status == Status::Ok
            || matches!(
                r.phase,
                Phase::Cpu | Phase::Calls | Phase::Wait | Phase::Late | Phase::Abandoned
            );
        let sample = RequestSample {
            app: pr.app,
            process: pr.local,
            arrival: r.arrival,
            queue_ns: started.then(|| r.start.since(r.arrival).as_nanos()),
            response_ns: end.since(r.arrival).as_nanos(),
            status,
            call: r.parent != super::requests::NO_PARENT,
        };
        if let Some(policies) = self.policies.as_mut() {
            policies.sample(&sample);
        }
    }
}
