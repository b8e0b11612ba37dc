//! CPU on each host: the allocation among dynos and neighbours, and what changes it.

use super::{Event, Platform, RequestObserver};
use crate::engine::{Scheduler, SimDuration};
use crate::model::cpu::Claim;
use crate::model::dyno::State;

impl<O: RequestObserver> Platform<O> {
    /// Recompute the CPU allocation of host `h` at `now` and reschedule what changed. `touched`
    /// is a dyno whose set of running requests changed, so its completion is always rescheduled.
    pub(super) fn reallocate(
        &mut self,
        h: usize,
        touched: Option<u32>,
        sched: &mut Scheduler<Event>,
    ) {
        let now = sched.now();
        let host = &mut self.hosts[h];
        host.account(now);
        let (mut claims, mut alloc) = (
            std::mem::take(&mut self.claims),
            std::mem::take(&mut self.alloc),
        );
        claims.clear();
        for &d in &host.dynos {
            let dyno = &mut self.dynos[d as usize];
            dyno.advance(now);
            if let Some(c) = &mut dyno.cfs {
                c.refresh(now);
                c.check(now);
            }
            claims.push(Claim {
                weight: dyno.weight,
                demand: dyno.demand(),
            });
        }
        host.allocate(&mut claims, &mut alloc);
        for (i, &d) in host.dynos.iter().enumerate() {
            let x = alloc[i];
            let dyno = &mut self.dynos[d as usize];
            // A dyno above its memory quota swaps, which slows its CPU work (R14).
            let speed = if dyno.r14 {
                host.speed_for(x) / self.procs[dyno.process as usize].swap_slowdown
            } else {
                host.speed_for(x)
            };
            let changed = dyno.set_allocation(x, speed);
            if (changed || touched == Some(d))
                && let Some((at, req)) = dyno.completion_time(now)
                && dyno.claim_completion(at)
            {
                sched.at(
                    at,
                    Event::CpuDone {
                        dyno: d,
                        epoch: dyno.epoch,
                        req,
                    },
                );
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
        (self.claims, self.alloc) = (claims, alloc);
    }

    pub(super) fn on_neighbours(&mut self, h: usize, sched: &mut Scheduler<Event>) {
        // Account the old allocation up to now before the demand changes.
        self.hosts[h].account(sched.now());
        if let Some(dt) = self.hosts[h].flip_neighbours() {
            sched.after(dt, Event::Neighbours(h as u32));
        }
        self.reallocate(h, None, sched);
    }

    pub(super) fn on_drift(&mut self, h: usize, sched: &mut Scheduler<Event>) {
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

    pub(super) fn on_cfs(&mut self, d: usize, epoch: u32, sched: &mut Scheduler<Event>) {
        let dyno = &self.dynos[d];
        if dyno.state != State::Dead && dyno.cfs.as_ref().is_some_and(|c| c.epoch == epoch) {
            let h = dyno.host as usize;
            self.reallocate(h, None, sched);
        }
    }
}
