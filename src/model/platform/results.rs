//! What a job reports: per process, per dyno (slot), per instance, per window, and the events.

use super::{Phase, Platform, RequestObserver};
use crate::engine::SimTime;
use crate::model::dyno::State;
use crate::model::metrics::{
    DynoResult, EndpointResult, InstanceResult, JobResult, ProcessResult, WindowAcc, cov,
};
use crate::model::placement::PoolKey;

impl<O: RequestObserver> Platform<O> {
    /// Write windows `windows_written..to` of every process, in time order, then process order.
    /// Returns each process's counted requests still in flight (all windows).
    ///
    /// In flight is counted by scanning the live requests, not as requests - completed - errors,
    /// so every row's and every total's requests = completed + errors + in flight is a check of
    /// the bookkeeping, not an identity. Rare (once per window), so the scan is cheap.
    pub(super) fn write_windows(&mut self, to: usize) -> Vec<u64> {
        let window = self.cfg.window.as_nanos().max(1);
        let from = self.windows_written;
        let mut total = vec![0u64; self.procs.len()];
        let mut per_window = vec![vec![0u64; to.saturating_sub(from)]; self.procs.len()];
        for r in &self.reqs {
            if r.counted && !matches!(r.phase, Phase::Free | Phase::Abandoned) {
                let p = r.process as usize;
                total[p] += 1;
                let w = (r.arrival.as_nanos() / window) as usize;
                if let Some(c) = w.checked_sub(from).and_then(|k| per_window[p].get_mut(k)) {
                    *c += 1;
                }
            }
        }
        for w in from..to {
            for (p, counts) in per_window.iter().enumerate() {
                let acc = self.procs[p].windows.take_front();
                self.write_window(p, w, &acc, counts[w - from]);
            }
        }
        self.windows_written = self.windows_written.max(to);
        total
    }

    /// Hand window `w` of process `p` to the observer as a row (windows in the warmup are
    /// dropped), keeping its quantiles for the window CoV and tiers.csv.
    pub(super) fn write_window(&mut self, p: usize, w: usize, acc: &WindowAcc, in_flight: u64) {
        let window = self.cfg.window.as_nanos();
        if (w as u64) < self.cfg.warmup.as_nanos() / window {
            return;
        }
        let rate = self.offered_rate(p, w);
        let proc_ = &mut self.procs[p];
        let row = acc.row(
            proc_.app,
            proc_.local,
            (w as u64 * window) as f64 * 1e-9,
            in_flight,
            rate,
        );
        if row.completed > 0 {
            proc_.window_p50_ms.push(row.p50_ms);
            proc_.window_p99_ms.push(row.p99_ms);
        }
        if let Some(row) = self.observer.on_window(row) {
            self.window_rows.push(row);
        }
    }

    /// The external arrival rate offered to process `p` over window `w` (within the run), per
    /// second; 0 unless `p` receives its app's workload.
    fn offered_rate(&mut self, p: usize, w: usize) -> f64 {
        let window = self.cfg.window.as_nanos();
        let from = w as u64 * window;
        let to = (from + window).min(self.cfg.duration.as_nanos());
        let app = &mut self.apps[self.procs[p].app];
        if app.target != Some(p) || to <= from {
            return 0.0;
        }
        let n = app.source.offered(SimTime(from), SimTime(to));
        n / ((to - from) as f64 * 1e-9)
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
        // Close the books of live incarnations (their files are not lost: the run just ended).
        for d in &self.dynos {
            self.slots[d.slot as usize].stats.served += d.served;
            if d.state == State::Dead {
                continue;
            }
            let st = &mut self.slots[d.slot as usize].stats;
            if matches!(d.state, State::Up | State::Draining) {
                st.uptime_ns += end.since(d.up_at).as_nanos();
            }
            if d.r14 {
                st.r14_ns += end.since(d.r14_since).as_nanos();
            }
            st.cpu_ns += d.cpu_ns;
            st.throttled_ns += d.cfs.as_ref().map_or(0, |c| c.throttled_until(end));
        }
        let total_windows = self.cfg.duration.as_nanos().div_ceil(window.max(1)) as usize;
        let in_flight = self.write_windows(total_windows);
        let mut processes = Vec::new();
        let mut dynos = Vec::new();
        let run_ns = self.cfg.duration.as_nanos() as f64;
        let slot_host: Vec<u32> = self.slots.iter().map(|s| s.host).collect();
        for (pi, p) in self.procs.iter().enumerate() {
            let app = &self.cfg.apps[p.app];
            let spec = &app.processes[p.local];
            let slots: Vec<&super::Slot> =
                p.slots.iter().map(|&s| &self.slots[s as usize]).collect();
            let vcpus = f64::from(spec.size.vcpus);
            let sum = |f: &dyn Fn(&super::SlotStats) -> u64| {
                slots.iter().map(|s| f(&s.stats)).sum::<u64>()
            };
            let cpu_ns: f64 = slots.iter().map(|s| s.stats.cpu_ns).sum();
            let (hits, misses) = (sum(&|s| s.cache_hits), sum(&|s| s.cache_misses));
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
                errors: p.errors.iter().sum(),
                errors_by_code: p.errors,
                in_flight: in_flight[pi],
                latency: p.latency.summary(),
                histogram: crate::model::metrics::LatencyHistogram(p.latency.histogram().clone()),
                throughput_rps: p.latency.count as f64 / (counted_ns as f64 * 1e-9),
                // The starting formation, as `dynos` and the cost (see `model::formation`).
                cpu_utilization: if spec.count > 0 {
                    cpu_ns / (vcpus * f64::from(spec.count) * run_ns)
                } else {
                    0.0
                },
                cpu_s: cpu_ns * 1e-9,
                throttled_s: sum(&|s| s.throttled_ns) as f64 * 1e-9,
                window_cov_p50: cov(p.window_p50_ms.iter().copied()),
                window_cov_p99: cov(p.window_p99_ms.iter().copied()),
                window_p50_ms: p.window_p50_ms.clone(),
                window_p99_ms: p.window_p99_ms.clone(),
                cost_usd_month: spec.size.price_usd_month * f64::from(spec.count),
                restarts: slots
                    .iter()
                    .map(|s| s.stats.restarts[..5].iter().sum::<u64>())
                    .sum(),
                files_lost: sum(&|s| s.files_lost),
                bytes_lost: sum(&|s| s.bytes_lost),
                cache_hit_ratio: ratio(hits, hits + misses),
                cold_penalty_s: sum(&|s| s.penalty_ns) as f64 * 1e-9,
                sticky_reads: sum(&|s| s.sticky_reads),
                sticky_miss_other_dyno: sum(&|s| s.sticky_miss_other),
                sticky_miss_restart: sum(&|s| s.sticky_miss_restart),
            });
            for slot in slots {
                let st = &slot.stats;
                dynos.push(DynoResult {
                    app: app.name.clone(),
                    process: spec.name.clone(),
                    dyno: format!("{}.{}", spec.name, slot.index),
                    size: spec.size.name.clone(),
                    tier: spec.size.tier,
                    restarts: st.restarts[..5].iter().sum(),
                    restarts_cycle: st.restarts[0],
                    restarts_deploy: st.restarts[1],
                    restarts_crash: st.restarts[2],
                    restarts_r10: st.restarts[3],
                    restarts_r15: st.restarts[4],
                    sleeps: st.restarts[5],
                    uptime_s: st.uptime_ns as f64 * 1e-9,
                    r14_s: st.r14_ns as f64 * 1e-9,
                    bytes_written: st.bytes_written,
                    bytes_lost: st.bytes_lost,
                    files_lost: st.files_lost,
                    cache_hits: st.cache_hits,
                    cache_misses: st.cache_misses,
                    cold_penalty_s: st.penalty_ns as f64 * 1e-9,
                    sticky_reads: st.sticky_reads,
                    sticky_miss_other_dyno: st.sticky_miss_other,
                    sticky_miss_restart: st.sticky_miss_restart,
                    served: st.served,
                    cpu_utilization: st.cpu_ns / (vcpus * run_ns),
                    instance: self.hosts[slot.host as usize].instance.name.clone(),
                    cpu_s: st.cpu_ns * 1e-9,
                    throttled_s: st.throttled_ns as f64 * 1e-9,
                    max_backlog: st.max_backlog as u64,
                });
            }
        }
        let names: Vec<String> = self
            .slots
            .iter()
            .map(|s| {
                let p = &self.procs[s.process as usize];
                let app = &self.cfg.apps[p.app];
                format!("{}/{}.{}", app.name, app.processes[p.local].name, s.index)
            })
            .collect();
        // Each host's dynos, in slot order (one pass: fleets have thousands of hosts).
        let mut host_dynos: Vec<Vec<String>> = vec![Vec::new(); self.hosts.len()];
        for (s, &h) in slot_host.iter().enumerate() {
            host_dynos[h as usize].push(names[s].clone());
        }
        let instances = self
            .hosts
            .iter()
            .enumerate()
            .map(|(hi, h)| {
                // Averages over the host's part of the run (all of it unless a formation policy
                // added it).
                let life_ns = end.since(h.opened).as_nanos() as f64;
                let cap = h.cores * life_ns;
                InstanceResult {
                    name: h.instance.name.clone(),
                    kind: match h.instance.pool {
                        PoolKey::Shared(_) => "shared",
                        PoolKey::Dedicated => "dedicated",
                        PoolKey::Space(_) => "space",
                    },
                    region: match &h.instance.pool {
                        PoolKey::Shared(r) => r.clone(),
                        PoolKey::Dedicated => String::new(),
                        PoolKey::Space(name) => self
                            .cfg
                            .spaces
                            .iter()
                            .find(|sp| &sp.name == name)
                            .map(|sp| sp.region.clone())
                            .unwrap_or_default(),
                    },
                    vcpus: h.instance.kind.vcpus,
                    memory_mb: h.instance.kind.memory_mb,
                    tenant_memory_mb: h.instance.tenant_memory_mb,
                    dynos: std::mem::take(&mut host_dynos[hi]),
                    mean_load: h.load_core_ns / cap,
                    peak_load: h.peak_load,
                    peak_demand: h.peak_demand,
                    mean_neighbour_load: h.neighbour_core_ns / cap,
                    mean_speed: h.speed_ns / life_ns,
                }
            })
            .collect();
        let endpoints = self.endpoint_results(counted_ns);
        JobResult {
            processes,
            endpoints,
            dynos,
            windows: self.window_rows,
            instances,
            lifecycle: self.events,
            profile: None,
            events,
            generated: self.next_id,
            interrupted,
        }
    }
}

impl<O: RequestObserver> Platform<O> {
    /// The endpoints' rows: per process receiving a workload with endpoints, each endpoint in
    /// the workload's order. In flight is counted by scanning the live requests, as for the
    /// process (see `write_windows`).
    fn endpoint_results(&self, counted_ns: u64) -> Vec<EndpointResult> {
        let mut out = Vec::new();
        for (pi, p) in self.procs.iter().enumerate() {
            if p.endpoints.is_empty() {
                continue;
            }
            let app = &self.cfg.apps[p.app];
            let Some(w) = &app.workload else { continue };
            let mut in_flight = vec![0u64; p.endpoints.len()];
            for r in &self.reqs {
                if r.counted
                    && r.process as usize == pi
                    && r.endpoint != super::requests::NO_ENDPOINT
                    && !matches!(r.phase, Phase::Free | Phase::Abandoned)
                {
                    in_flight[r.endpoint as usize] += 1;
                }
            }
            for (e, (stats, spec)) in p.endpoints.iter().zip(&w.endpoints).enumerate() {
                out.push(EndpointResult {
                    app_index: p.app,
                    process_index: p.local,
                    app: app.name.clone(),
                    process: app.processes[p.local].name.clone(),
                    endpoint: spec.name.clone(),
                    share: spec.share,
                    requests: stats.requests,
                    completed: stats.latency.count,
                    errors: stats.errors.iter().sum(),
                    errors_by_code: stats.errors,
                    in_flight: in_flight[e],
                    latency: stats.latency.summary(),
                    throughput_rps: stats.latency.count as f64 / (counted_ns as f64 * 1e-9),
                });
            }
        }
        out
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        a as f64 / b as f64
    }
}
