//! Dyno lifecycle: boot and R10, daily cycling, SIGTERM and drain, crashes and backoff, deploys
//! (preboot, rolling, all at once), eco sleep and wake, memory (R14, R15), and the ephemeral
//! filesystem with its local cache.
//!
//! Facts (heroku-dynos.md sections 4-6): cycling every 24 h + U(0, 216 min) per dyno, reset by
//! deploys; SIGTERM then 30 s then SIGKILL, the replacement started at SIGTERM; Common Runtime
//! crash backoff 0, 20, 40, 60, 180, 320 min, then every 320 min, none in Private Spaces;
//! R10 after 60 s of boot; eco sleep after 30 min without web traffic; R14 above the quota
//! (swapping), R15 restart at 2x, 1.2x or 1x the quota by size.

use super::{Cause, Event, Phase, Platform, Request, RequestObserver, Rolling};
use crate::engine::{Scheduler, SimDuration, SimTime};
use crate::model::dyno::State;
use crate::model::metrics::{LifecycleKind as Kind, Status};

/// How a deploy replaces a process's dynos (the `mode=` of its `deploy` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
#[strum(serialize_all = "snake_case")]
enum DeployMode {
    /// A quarter of the dynos at a time, each batch once the previous one is up (Private and
    /// Shield sizes).
    Rolling,
    /// New dynos boot and take traffic; the old ones get SIGTERM at the cutover.
    Preboot,
    /// Every dyno restarts at once.
    Restart,
}

impl<O: RequestObserver> Platform<O> {
    fn slot_of(&self, d: u32) -> usize {
        self.dynos[d as usize].slot as usize
    }

    fn spec_of(&self, p: usize) -> &crate::model::ProcessSpec {
        let pr = &self.procs[p];
        &self.cfg.apps[pr.app].processes[pr.local]
    }

    /// Whether process `p` receives the app's web traffic.
    fn is_web(&self, p: usize) -> bool {
        let pr = &self.procs[p];
        self.apps[pr.app].target == Some(p)
    }

    /// Start a new incarnation on slot `s`: boot (or wake), R10 if it takes too long.
    pub(super) fn boot(&mut self, s: usize, sched: &mut Scheduler<Event>) -> u32 {
        let now = sched.now();
        let waking = std::mem::take(&mut self.slots[s].waking);
        self.slots[s].sleeping = false;
        self.slots[s].starting = false;
        let d = self.new_incarnation(s, sched);
        let p = self.slots[s].process as usize;
        let lc = &self.spec_of(p).lifecycle;
        let (boot, timeout) = (lc.boot.clone(), lc.boot_timeout);
        let dist = if waking {
            self.cfg.lifecycle.wake.clone()
        } else {
            boot
        };
        let rng = &mut self.procs[p].lifecycle_rng;
        let took = SimDuration::from_secs_f64(dist.sample(rng));
        let fails = !waking && timeout.is_some_and(|t| took > t);
        self.dynos[d as usize].boot_fails = fails;
        let at = if fails { timeout.unwrap_or(took) } else { took };
        // What the new incarnation's filesystem holds: the slug plus whatever it has written,
        // which must be nothing (tests check this at every start).
        let fs = self.slug_bytes(p) + self.dynos[d as usize].fs_bytes;
        let files = self.dynos[d as usize].files.len();
        let detail = format!(
            "fs_bytes={fs} files={files} boot_s={:.3}",
            took.as_secs_f64()
        );
        self.log(
            now,
            p,
            Some(d),
            if waking { Kind::Wake } else { Kind::Boot },
            detail,
        );
        sched.after(at, Event::BootDone(d));
        d
    }

    fn slug_bytes(&self, p: usize) -> u64 {
        let app = self.procs[p].app;
        self.cfg.apps[app]
            .filesystem
            .as_ref()
            .map_or(0, |fs| (fs.slug_mb * 1_048_576.0) as u64)
    }

    pub(super) fn on_start(&mut self, s: usize, sched: &mut Scheduler<Event>) {
        if !self.slots[s].starting || self.slots[s].retired {
            return; // a deploy already started this slot, or it left the formation
        }
        self.boot(s, sched);
    }

    pub(super) fn on_boot_done(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        if self.dynos[d as usize].state != State::Booting {
            return;
        }
        if self.dynos[d as usize].boot_fails {
            let p = self.dynos[d as usize].process as usize;
            self.log(sched.now(), p, Some(d), Kind::R10, "boot timeout".into());
            return self.crash(d, Cause::R10, sched);
        }
        self.became_up(d, false, sched);
    }

    /// `d` listens on its port: the router may send it requests.
    pub(super) fn became_up(&mut self, d: u32, initial: bool, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let p = self.dynos[d as usize].process as usize;
        let dyno = &mut self.dynos[d as usize];
        dyno.state = State::Up;
        dyno.up_at = now;
        dyno.last_request = now;
        self.procs[p].up.push(d);
        if !initial {
            self.log(now, p, Some(d), Kind::Up, String::new());
        }
        let lc = self.cfg.lifecycle.clone();
        let rng = &mut self.procs[p].lifecycle_rng;
        if lc.cycling {
            let started = self.dynos[d as usize].started;
            let at = if initial {
                // Running before t = 0: somewhere in its cycle.
                let span = (lc.cycle_base + lc.cycle_jitter).as_secs_f64();
                now + SimDuration::from_secs_f64(span * rng.open01())
            } else {
                started
                    + lc.cycle_base
                    + SimDuration::from_secs_f64(lc.cycle_jitter.as_secs_f64() * rng.open01())
            };
            sched.at(at, Event::Cycle(d));
        }
        if let Some(mtbf) = self.spec_of(p).lifecycle.crash_mtbf {
            let rng = &mut self.procs[p].lifecycle_rng;
            let dt = SimDuration::from_secs_f64(rng.exp(mtbf.as_secs_f64()));
            sched.after(dt, Event::Crash(d));
        }
        if self.sleeps(p) {
            sched.after(lc.sleep_after, Event::IdleCheck(d));
        }
        self.check_memory(d, sched);
        self.rolling_progress(p, self.slot_of(d), sched);
        self.release_held(p, sched);
        self.drain_backlogs(p, sched);
    }

    fn sleeps(&self, p: usize) -> bool {
        self.cfg.lifecycle.eco_sleep && self.spec_of(p).size.sleeps && self.is_web(p)
    }

    /// Replace the slot's current incarnation: the new one boots now, the old one gets SIGTERM.
    fn restart(&mut self, s: usize, cause: Cause, sched: &mut Scheduler<Event>) {
        if self.slots[s].retired {
            return; // scaled down: its incarnation drains and nothing replaces it
        }
        let old = self.slots[s].current;
        self.slots[s].stats.restarts[cause as usize] += 1;
        self.boot(s, sched);
        if let Some(old) = old {
            self.sigterm(old, sched);
        }
    }

    /// SIGTERM: stop taking requests, finish what it holds within the grace, then SIGKILL.
    pub(super) fn sigterm(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let state = self.dynos[d as usize].state;
        if !matches!(state, State::Up | State::Booting) {
            return;
        }
        let p = self.dynos[d as usize].process as usize;
        self.log(now, p, Some(d), Kind::Sigterm, String::new());
        self.procs[p].up.retain(|&x| x != d);
        if state == State::Booting || self.dynos[d as usize].in_flight == 0 {
            return self.stop(d, Kind::Stop, sched);
        }
        self.dynos[d as usize].state = State::Draining;
        sched.after(self.cfg.lifecycle.drain, Event::Kill(d));
    }

    pub(super) fn on_kill(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        if self.dynos[d as usize].state != State::Draining {
            return;
        }
        self.fail_in_flight(d, sched);
        self.stop(d, Kind::Kill, sched);
    }

    /// Requests a dying dyno holds fail with H13 ("connection closed without response").
    fn fail_in_flight(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        // Out of the router first, so calls made by failing requests cannot land here.
        let p = self.dynos[d as usize].process as usize;
        self.procs[p].up.retain(|&x| x != d);
        for i in 0..self.reqs.len() as u32 {
            let r: Request = self.reqs[i as usize];
            if r.dyno != d {
                continue;
            }
            match r.phase {
                Phase::Queued | Phase::Cpu | Phase::Calls | Phase::Wait => {
                    self.fail(i, Status::H13, now, sched)
                }
                Phase::Abandoned => {
                    self.release_router_slot(i, sched);
                    self.release(i)
                }
                // In transit: re-routed on arrival. Late: the response already left.
                _ => {}
            }
        }
    }

    /// The incarnation is gone: its filesystem, cache and CPU state with it.
    pub(super) fn stop(&mut self, d: u32, event: Kind, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let (p, s, h) = {
            let dy = &self.dynos[d as usize];
            (dy.process as usize, dy.slot as usize, dy.host as usize)
        };
        for &o in &self.hosts[h].dynos {
            self.dynos[o as usize].advance(now);
        }
        let dy = &mut self.dynos[d as usize];
        let was_up = matches!(dy.state, State::Up | State::Draining);
        dy.state = State::Dead;
        let st = &mut self.slots[s].stats;
        if was_up {
            st.uptime_ns += now.since(dy.up_at).as_nanos();
        }
        if dy.r14 {
            st.r14_ns += now.since(dy.r14_since).as_nanos();
            dy.r14 = false;
        }
        let files = dy.files.len() as u64;
        let bytes: u64 = dy.files.values().sum();
        st.files_lost += files;
        st.bytes_lost += bytes;
        st.cpu_ns += dy.cpu_ns;
        st.throttled_ns += dy.cfs.as_ref().map_or(0, |c| c.throttled_until(now));
        dy.files = std::collections::HashMap::new();
        dy.fs_bytes = 0;
        dy.cache = Vec::new();
        dy.clear_running();
        dy.mem_epoch = dy.mem_epoch.wrapping_add(1);
        self.procs[p].up.retain(|&x| x != d);
        self.hosts[h].dynos.retain(|x| *x != d);
        if self.slots[s].current == Some(d) {
            self.slots[s].current = None;
        }
        self.log(
            now,
            p,
            Some(d),
            event,
            format!("files_lost={files} bytes_lost={bytes}"),
        );
        self.reallocate(h, None, sched);
    }

    /// A crash (or R10, R15): requests fail, the dyno stops, and it restarts after the backoff.
    fn crash(&mut self, d: u32, cause: Cause, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let (p, s) = (self.dynos[d as usize].process as usize, self.slot_of(d));
        let up_for = match self.dynos[d as usize].state {
            State::Up | State::Draining => now.since(self.dynos[d as usize].up_at),
            _ => SimDuration::ZERO,
        };
        if cause == Cause::Crash {
            self.log(now, p, Some(d), Kind::Crash, String::new());
        }
        // An old incarnation (draining, or replaced by a preboot deploy) just dies: its slot
        // already has a successor.
        let current = self.slots[s].current == Some(d);
        self.fail_in_flight(d, sched);
        self.stop(d, Kind::Stop, sched);
        if !current || self.slots[s].retired {
            return;
        }
        self.slots[s].stats.restarts[cause as usize] += 1;
        let delay = if cause == Cause::R15 {
            // "the dyno manager restarts the dyno"
            SimDuration::ZERO
        } else {
            let backs_off = self.spec_of(p).size.crash_backoff;
            let lc = &self.cfg.lifecycle;
            let slot = &mut self.slots[s];
            if up_for >= lc.backoff_reset {
                slot.consecutive_crashes = 0;
            }
            slot.consecutive_crashes += 1;
            if backs_off {
                let i =
                    (slot.consecutive_crashes as usize - 1).min(lc.backoff.len().saturating_sub(1));
                lc.backoff.get(i).copied().unwrap_or(SimDuration::ZERO)
            } else {
                SimDuration::ZERO
            }
        };
        if delay > SimDuration::ZERO {
            self.log(
                now,
                p,
                Some(d),
                Kind::Backoff,
                format!("wait_s={:.0}", delay.as_secs_f64()),
            );
        }
        self.slots[s].starting = true;
        sched.after(delay, Event::Start(s as u32));
    }

    pub(super) fn on_cycle(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        let s = self.slot_of(d);
        if self.dynos[d as usize].state != State::Up || self.slots[s].current != Some(d) {
            return; // restarted meanwhile: its timer went with it
        }
        let p = self.dynos[d as usize].process as usize;
        self.log(sched.now(), p, Some(d), Kind::Cycle, String::new());
        self.restart(s, Cause::Cycle, sched);
    }

    pub(super) fn on_crash(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        if self.dynos[d as usize].state == State::Up {
            self.crash(d, Cause::Crash, sched);
        }
    }

    pub(super) fn on_scheduled_crash(&mut self, s: usize, sched: &mut Scheduler<Event>) {
        if let Some(d) = self.slots[s].current
            && matches!(self.dynos[d as usize].state, State::Up | State::Booting)
        {
            self.crash(d, Cause::Crash, sched);
        }
    }

    pub(super) fn on_deploy(&mut self, a: usize, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        self.apps[a].next_deploy += 1;
        if let Some(next) = self.cfg.apps[a].deploys.get(self.apps[a].next_deploy) {
            sched.at(SimTime::ZERO + *next, Event::Deploy { app: a as u32 });
        }
        let procs: Vec<usize> = (0..self.procs.len())
            .filter(|&p| self.procs[p].app == a)
            .collect();
        for p in procs {
            let pr = &self.procs[p];
            let slots: Vec<usize> = pr.slots[..pr.count].iter().map(|&s| s as usize).collect();
            let count = slots.len();
            if count == 0 {
                continue;
            }
            for &s in &slots {
                self.slots[s].consecutive_crashes = 0;
            }
            let size = self.spec_of(p).size.clone();
            let preboot = self.cfg.apps[a].preboot && size.preboot && self.is_web(p);
            let mode = if size.rolling_deploy {
                DeployMode::Rolling
            } else if preboot {
                DeployMode::Preboot
            } else {
                DeployMode::Restart
            };
            self.log(now, p, None, Kind::Deploy, format!("mode={mode}"));
            match mode {
                DeployMode::Rolling => {
                    self.procs[p].rolling = Some(Rolling {
                        pending: slots.iter().map(|&s| s as u32).collect(),
                        waiting: Vec::new(),
                        batch: count.div_ceil(4),
                    });
                    self.next_batch(p, sched);
                }
                DeployMode::Preboot => {
                    // New dynos boot and take traffic; the old ones get SIGTERM at the cutover.
                    let window = self.cfg.lifecycle.preboot_window;
                    for s in slots {
                        let old = self.slots[s].current;
                        self.slots[s].stats.restarts[Cause::Deploy as usize] += 1;
                        self.boot(s, sched);
                        if let Some(old) = old {
                            sched.after(window, Event::Sigterm(old));
                        }
                    }
                }
                DeployMode::Restart => {
                    for s in slots {
                        self.restart(s, Cause::Deploy, sched);
                    }
                }
            }
        }
    }

    /// Restart the next quarter of a rolling deploy.
    pub(super) fn next_batch(&mut self, p: usize, sched: &mut Scheduler<Event>) {
        let Some(r) = self.procs[p].rolling.as_mut() else {
            return;
        };
        let n = r.batch.min(r.pending.len());
        let batch: Vec<u32> = r.pending.drain(..n).collect();
        r.waiting = batch.clone();
        if batch.is_empty() {
            self.procs[p].rolling = None;
            return;
        }
        for s in batch {
            self.restart(s as usize, Cause::Deploy, sched);
        }
    }

    fn rolling_progress(&mut self, p: usize, s: usize, sched: &mut Scheduler<Event>) {
        let Some(r) = self.procs[p].rolling.as_mut() else {
            return;
        };
        r.waiting.retain(|&x| x as usize != s);
        if r.waiting.is_empty() {
            self.next_batch(p, sched);
        }
    }

    pub(super) fn on_idle_check(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        let s = self.slot_of(d);
        let dy = &self.dynos[d as usize];
        if dy.state != State::Up || self.slots[s].current != Some(d) {
            return;
        }
        let after = self.cfg.lifecycle.sleep_after;
        let idle = now.since(dy.last_request);
        if dy.in_flight == 0 && idle >= after {
            let p = dy.process as usize;
            self.log(now, p, Some(d), Kind::Sleep, String::new());
            self.slots[s].stats.restarts[Cause::Sleep as usize] += 1;
            self.procs[p].up.retain(|&x| x != d);
            self.stop(d, Kind::Stop, sched);
            self.slots[s].sleeping = true;
        } else {
            let at = (dy.last_request + after).max(now + SimDuration::from_secs(1));
            sched.at(at, Event::IdleCheck(d));
        }
    }

    /// The first request to a sleeping eco dyno wakes it; the request waits through the wake.
    pub(super) fn wake(&mut self, s: usize, sched: &mut Scheduler<Event>) {
        self.slots[s].waking = true;
        self.slots[s].starting = true;
        self.slots[s].sleeping = false;
        sched.after(SimDuration::ZERO, Event::Start(s as u32));
    }

    /// Memory in MiB of incarnation `d` at `now`.
    fn memory_mb(&self, d: u32, now: SimTime) -> f64 {
        let dy = &self.dynos[d as usize];
        let m = &self.spec_of(dy.process as usize).lifecycle.memory;
        m.base_mb
            // Requests being worked on; those waiting in the backlog hold next to nothing.
            + m.per_request_mb * f64::from(dy.busy_slots)
            + dy.endpoint_mb
            + m.growth_mb_per_h * now.since(dy.started).as_secs_f64() / 3600.0
            + dy.fs_bytes as f64 / 1_048_576.0
    }

    /// Enter or leave R14, restart at R15, and schedule the next threshold crossing.
    pub(super) fn check_memory(&mut self, d: u32, sched: &mut Scheduler<Event>) {
        let now = sched.now();
        if !matches!(self.dynos[d as usize].state, State::Up | State::Draining) {
            return;
        }
        let p = self.dynos[d as usize].process as usize;
        let (quota, factor, growth) = {
            let spec = self.spec_of(p);
            (
                spec.size.ram_mb as f64,
                spec.size.r15_factor,
                spec.lifecycle.memory.growth_mb_per_h,
            )
        };
        let mem = self.memory_mb(d, now);
        if mem >= factor * quota && (factor > 1.0 || mem > quota) {
            self.log(
                now,
                p,
                Some(d),
                Kind::R15,
                format!("memory_mb={mem:.1} quota_mb={quota:.0}"),
            );
            return self.crash(d, Cause::R15, sched);
        }
        let above = mem > quota;
        let h = self.dynos[d as usize].host as usize;
        if above != self.dynos[d as usize].r14 {
            for &o in &self.hosts[h].dynos {
                self.dynos[o as usize].advance(now);
            }
            let s = self.slot_of(d);
            let dy = &mut self.dynos[d as usize];
            dy.r14 = above;
            if above {
                dy.r14_since = now;
                // Heroku repeats R14 while a dyno swaps; one line per 10 minutes is enough.
                if dy
                    .r14_logged
                    .is_none_or(|t| now.since(t) >= SimDuration::from_secs(600))
                {
                    dy.r14_logged = Some(now);
                    let detail = format!("memory_mb={mem:.1} quota_mb={quota:.0}");
                    self.log(now, p, Some(d), Kind::R14, detail);
                }
            } else {
                self.slots[s].stats.r14_ns += now.since(dy.r14_since).as_nanos();
            }
            self.reallocate(h, None, sched);
        }
        if growth > 0.0 {
            let target = if above { factor * quota } else { quota };
            let hours = ((target - mem) / growth).max(0.0);
            // A hair past the threshold, so the check sees it crossed.
            let at = now + SimDuration::from_secs_f64(hours * 3600.0) + SimDuration::from_millis(1);
            // An earlier pending check is kept: it re-checks and reschedules. This keeps one
            // memory event per dyno instead of one per request.
            let dy = &mut self.dynos[d as usize];
            if at < dy.mem_next {
                dy.mem_epoch = dy.mem_epoch.wrapping_add(1);
                dy.mem_next = at;
                let epoch = dy.mem_epoch;
                sched.at(at, Event::Memory { dyno: d, epoch });
            }
        }
    }

    pub(super) fn on_memory(&mut self, d: u32, epoch: u32, sched: &mut Scheduler<Event>) {
        let dy = &mut self.dynos[d as usize];
        if dy.mem_epoch == epoch {
            dy.mem_next = SimTime::MAX;
            self.check_memory(d, sched);
        }
    }

    /// Sticky reads, writes and the local cache, when request `req` starts on dyno `d`.
    pub(super) fn touch_filesystem(&mut self, req: u32, r: &Request, d: usize) {
        let a = self.procs[r.process as usize].app;
        let Some(fs) = &self.cfg.apps[a].filesystem else {
            return;
        };
        let cache_items = fs.cache_items;
        let s = self.dynos[d].slot;
        let inc = self.dynos[d].incarnation;
        let st = &mut self.slots[s as usize].stats;
        let client = r.client as usize;
        if r.reads
            && let Some((ws, winc)) = self.apps[a].last_write.get(client).copied().flatten()
        {
            st.sticky_reads += 1;
            if ws != s {
                st.sticky_miss_other += 1;
            } else if winc != inc {
                st.sticky_miss_restart += 1;
            }
        }
        if r.write_bytes > 0 {
            let dy = &mut self.dynos[d];
            let old = dy.files.insert(r.client, r.write_bytes).unwrap_or(0);
            dy.fs_bytes = dy.fs_bytes - old + r.write_bytes;
            st.bytes_written += r.write_bytes;
            if let Some(w) = self.apps[a].last_write.get_mut(client) {
                *w = Some((s, inc));
            }
        }
        if cache_items > 0 {
            let dy = &mut self.dynos[d];
            if dy.cached(r.item) {
                st.cache_hits += 1;
            } else {
                st.cache_misses += 1;
                st.penalty_ns += r.miss_ns;
                dy.cache_insert(r.item);
                self.reqs[req as usize].wait_ns += r.miss_ns;
            }
        }
    }
}
