//! The real run in the simulator's CSV schema: the measured requests become a [`JobResult`]
//! and [`RequestRecord`]s, written by the same writers as `dynosim run` (docs/csv.md).

use super::plan::{ActionKind, Scaled};
use super::real::RealRun;
use crate::model::{
    DynoResult, InstanceResult, JobResult, LatencyHistogram, LatencySummary, LifecycleEvent,
    LifecycleKind, ProcessResult, RequestObserver, RequestRecord, Split, Status, WindowRow, cov,
};
use crate::output::{JobCsv, JobRows, OutputError, Streams, Tables, write_tiers};
use hdrhistogram::Histogram;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// How one real request ended, in the model's terms.
#[derive(Debug, Clone)]
pub struct RealRecord {
    /// The record as `requests.csv` has it.
    pub record: RequestRecord,
    /// Counted (arrived after the warmup).
    pub counted: bool,
    /// Still open at the end of the run.
    pub in_flight: bool,
    /// CPU time the app measured for it (ns), when answered.
    pub cpu_used_ns: Option<u64>,
    /// Whether its cache lookup missed.
    pub miss: bool,
}

fn hist() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

/// Turn the outcomes into records with the model's rules: a response after the end of the run
/// is in flight; one later than the request timeout (while the run still lasted) is H12; a
/// connection the dyno closed is H13.
pub fn records(s: &Scaled, real: &RealRun) -> Vec<RealRecord> {
    let cfg = s.config();
    let end = cfg.duration.as_nanos();
    let timeout = cfg.request_timeout.as_nanos();
    let warmup = cfg.warmup.as_nanos();
    let hold = cfg.lifecycle.router_hold.as_nanos();
    let local = s.local_numbers();
    let eps = endpoints(real);
    s.plan
        .iter()
        .zip(&real.outcomes)
        .zip(&s.plan_app)
        .map(|((p, o), &app)| {
            let counted = p.at_ns >= warmup;
            let mut status = Status::Ok;
            let mut in_flight = false;
            let mut latency = 0;
            let mut split = None;
            // The H12 window of a held request counts from the end of the hold, as in the model.
            let from = if o.held {
                o.sent_ns.max(p.at_ns)
            } else {
                p.at_ns
            };
            match (o.done_ns, &o.error) {
                (_, Some(e)) if e.starts_with("client") => status = Status::H11,
                (_, Some(e)) if e.starts_with("H10") => status = Status::H10,
                (_, Some(e)) if e.starts_with("H20") => {
                    status = Status::H20;
                    latency = hold;
                }
                (_, Some(_)) => status = Status::H13,
                (Some(done), None) => {
                    latency = done.saturating_sub(p.at_ns);
                    if done.saturating_sub(from) > timeout && from + timeout <= end {
                        status = Status::H12;
                        latency = from - p.at_ns + timeout;
                    } else if done > end {
                        in_flight = true;
                    } else if o.status != 200 {
                        status = Status::H13;
                    }
                }
                (None, None) if o.held && o.sent_ns == 0 => {
                    // Still held at the end: H20 if the hold ran out within the run.
                    if p.at_ns + hold <= end {
                        status = Status::H20;
                        latency = hold;
                    } else {
                        in_flight = true;
                    }
                }
                (None, None) => {
                    if from + timeout <= end && o.sent_ns > 0 {
                        status = Status::H12;
                        latency = from - p.at_ns + timeout;
                    } else {
                        in_flight = true;
                    }
                }
            }
            let (dyno, incarnation) = o
                .endpoint
                .and_then(|e| eps.get(&e))
                .map_or((0, 0), |&(d, inc)| {
                    (local.get(d).copied().unwrap_or(0), inc)
                });
            let mut service_start_ns = 0;
            if let (Status::Ok, false, Some(t)) = (status, in_flight, o.server) {
                let router = o.sent_ns.saturating_sub(p.at_ns);
                let inside = t.queue_ns + t.cpu_wall_ns + t.wait_ns;
                let network = latency.saturating_sub(router + inside);
                service_start_ns = p.at_ns + router + network / 2 + t.queue_ns;
                split = Some(Split {
                    router_ns: router,
                    network_ns: network,
                    queue_ns: t.queue_ns,
                    cpu_ns: t.cpu_wall_ns,
                    wait_ns: t.wait_ns,
                    downstream_ns: 0,
                });
            }
            RealRecord {
                record: RequestRecord {
                    id: p.work.id,
                    app,
                    process: 0,
                    dyno,
                    incarnation,
                    arrival_ns: p.at_ns,
                    service_start_ns,
                    latency_ns: latency,
                    status,
                    split,
                    parent: None,
                },
                counted,
                in_flight,
                cpu_used_ns: o.server.map(|t| t.cpu_used_ns),
                miss: o.server.is_some_and(|t| t.miss),
            }
        })
        .collect()
}

/// Endpoint -> (index into [`Scaled::dynos`], incarnation).
fn endpoints(real: &RealRun) -> HashMap<usize, (usize, u32)> {
    real.incarnations
        .iter()
        .filter_map(|i| Some((i.endpoint?, (i.dyno, i.incarnation))))
        .collect()
}

/// The ephemeral filesystem as the real dynos showed it, per dyno (index into
/// [`Scaled::dynos`]). The model's rules applied to what the apps reported: a read of a client
/// that wrote before counts; it misses because the last write went to another dyno
/// (`miss_other`) or to an earlier incarnation of this one (`miss_restart`). What the app found
/// on its disk is checked against that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Reads of a client that had written before.
    pub sticky_reads: u64,
    /// Its last write went to another dyno.
    pub miss_other: u64,
    /// Its last write went to this dyno before a restart.
    pub miss_restart: u64,
    /// Of those `miss_restart` reads, how many the app found no file for (all of them, with a
    /// fresh filesystem at every start).
    pub restart_absent: u64,
    /// Reads that found a file written by another incarnation or dyno: must be 0.
    pub stale: u64,
    /// Reads that should have found the client's last write and did not: must be 0.
    pub lost: u64,
    /// Bytes written (answered writes).
    pub bytes_written: u64,
    /// Files and bytes on incarnations that stopped before the end.
    pub files_lost: u64,
    /// Bytes of those files.
    pub bytes_lost: u64,
}

/// [`ReadStats`] of every dyno, from the answered requests in the order their service started.
pub fn read_stats(s: &Scaled, real: &RealRun) -> Vec<ReadStats> {
    let eps = endpoints(real);
    let mut out = vec![ReadStats::default(); s.dynos.len()];
    let mut served: Vec<(u64, usize, (usize, u32))> = real
        .outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            let t = o.server?;
            let at = eps.get(&o.endpoint?)?;
            Some((t.start_ns, i, *at))
        })
        .collect();
    served.sort_unstable();
    let writer: HashMap<u64, (usize, u32)> = served
        .iter()
        .map(|&(_, i, at)| (s.plan[i].work.id, at))
        .collect();
    let mut last: HashMap<(usize, u64), (usize, u32, u64)> = HashMap::new();
    // Files of each incarnation: client -> bytes (the last write replaces the file).
    let mut files: HashMap<(usize, u32), HashMap<u64, u64>> = HashMap::new();
    for &(_, i, (d, inc)) in &served {
        let w = &s.plan[i].work;
        let app = s.plan_app[i];
        let tag = real.outcomes[i].server.and_then(|t| t.read_tag);
        if let (true, Some(tag)) = (w.read, tag) {
            let found = tag.checked_sub(1);
            if let Some(&(wd, winc, wid)) = last.get(&(app, w.client)) {
                let st = &mut out[d];
                st.sticky_reads += 1;
                if wd != d {
                    st.miss_other += 1;
                } else if winc != inc {
                    st.miss_restart += 1;
                    st.restart_absent += u64::from(found.is_none());
                } else if found != Some(wid) {
                    st.lost += 1;
                }
            }
            if let Some(f) = found {
                if writer.get(&f).is_some_and(|&at| at != (d, inc)) {
                    out[d].stale += 1;
                }
            }
        }
        if w.write_bytes > 0 {
            last.insert((app, w.client), (d, inc, w.id));
            out[d].bytes_written += w.write_bytes;
            files
                .entry((d, inc))
                .or_default()
                .insert(w.client, w.write_bytes);
        }
    }
    for i in &real.incarnations {
        if i.end_ns.is_some() {
            if let Some(f) = files.get(&(i.dyno, i.incarnation)) {
                out[i.dyno].files_lost += f.len() as u64;
                out[i.dyno].bytes_lost += f.values().sum::<u64>();
            }
        }
    }
    out
}

/// Restarts of each dyno by cause (cycle, deploy, crash, r10, r15): each boot of the real run
/// with the cause the simulation gave it.
fn restart_causes(s: &Scaled) -> Vec<[u64; 5]> {
    let mut out = vec![[0u64; 5]; s.dynos.len()];
    for (k, a) in s.actions.iter().enumerate() {
        let (ActionKind::Boot { .. }, Some(d)) = (&a.kind, a.dyno) else {
            continue;
        };
        // The latest action before it (same instant included) that explains it.
        let cause = s.actions[..k]
            .iter()
            .rev()
            .find_map(|b| match &b.kind {
                ActionKind::Note {
                    event: LifecycleKind::Deploy,
                    ..
                } if b.app == a.app => Some(1),
                ActionKind::Note {
                    event: LifecycleKind::Cycle,
                    ..
                } if b.dyno == Some(d) => Some(0),
                ActionKind::Kill { cause } if b.dyno == Some(d) => Some(match *cause {
                    LifecycleKind::R10 => 3,
                    LifecycleKind::R15 => 4,
                    _ => 2,
                }),
                _ => None,
            })
            .unwrap_or(1);
        out[d][cause] += 1;
    }
    out
}

fn quantile(h: &Histogram<u64>, max: u64, q: f64) -> f64 {
    crate::stats::hist_quantile_ms(h, max, q)
}

/// The real run as a [`JobResult`].
pub fn job_result(s: &Scaled, real: &RealRun, recs: &[RealRecord]) -> JobResult {
    let cfg = s.config();
    let duration_s = cfg.duration.as_secs_f64();
    let mut processes = Vec::new();
    let mut windows = Vec::new();
    for a in 0..cfg.apps.len() {
        let (p, w) = process_result(s, real, recs, a);
        processes.push(p);
        windows.extend(w);
    }
    let local = s.local_numbers();
    let reads = read_stats(s, real);
    let causes = restart_causes(s);
    let end = cfg.duration.as_nanos();
    let dynos: Vec<DynoResult> = real
        .dynos
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let rd = &s.dynos[i];
            let app = &cfg.apps[rd.app];
            let spec = &app.processes[0];
            let mine = |r: &&RealRecord| {
                r.record.app == rd.app && r.record.dyno == local[i] && r.record.split.is_some()
            };
            let served = recs.iter().filter(mine).count() as u64;
            let rs = reads[i];
            let c = causes[i];
            let uptime_ns: u64 = real
                .incarnations
                .iter()
                .filter(|x| x.dyno == i)
                .filter_map(|x| {
                    let up = x.up_ns?;
                    Some(x.end_ns.unwrap_or(end).min(end).saturating_sub(up))
                })
                .sum();
            let cores = f64::from(spec.size.vcpus).min(rd.cpus.len() as f64);
            DynoResult {
                app: app.name.clone(),
                process: spec.name.clone(),
                dyno: d.name.clone(),
                size: spec.size.name.clone(),
                tier: spec.size.tier,
                restarts: c.iter().sum(),
                restarts_cycle: c[0],
                restarts_deploy: c[1],
                restarts_crash: c[2],
                restarts_r10: c[3],
                restarts_r15: c[4],
                sleeps: 0,
                uptime_s: uptime_ns as f64 * 1e-9,
                r14_s: 0.0,
                bytes_written: rs.bytes_written,
                bytes_lost: rs.bytes_lost,
                files_lost: rs.files_lost,
                cache_hits: 0,
                cache_misses: 0,
                cold_penalty_s: 0.0,
                sticky_reads: rs.sticky_reads,
                sticky_miss_other_dyno: rs.miss_other,
                sticky_miss_restart: rs.miss_restart,
                served,
                cpu_utilization: d.cpu_s / (duration_s * cores.max(1e-9)),
                instance: rd.instance.clone(),
                cpu_s: d.cpu_s,
                throttled_s: d.throttled_s,
                max_backlog: 0,
            }
        })
        .collect();
    let mut instances: Vec<InstanceResult> = Vec::new();
    let mut dyno_cpu = Vec::new();
    for (i, d) in s.dynos.iter().enumerate() {
        let app = &cfg.apps[d.app];
        let label = format!("{}/{}", app.name, d.name);
        let cpu = real.dynos.get(i).map_or(0.0, |r| r.cpu_s);
        if let Some(k) = instances.iter().position(|x| x.name == d.instance) {
            instances[k].dynos.push(label);
            dyno_cpu[k] += cpu;
            continue;
        }
        let dedicated = !d.size.tier.shares_host();
        instances.push(InstanceResult {
            name: d.instance.clone(),
            kind: if dedicated { "dedicated" } else { "shared" },
            region: if dedicated {
                String::new()
            } else {
                app.region.clone()
            },
            vcpus: d.cpus.len() as u32,
            memory_mb: if dedicated {
                d.size.ram_mb
            } else {
                cfg.placement.shared.instance.memory_mb
            },
            tenant_memory_mb: 0,
            dynos: vec![label],
            mean_load: f64::NAN,
            peak_load: f64::NAN,
            peak_demand: f64::NAN,
            mean_neighbour_load: f64::NAN,
            mean_speed: f64::NAN,
        });
        dyno_cpu.push(cpu);
    }
    for (k, inst) in instances.iter_mut().enumerate() {
        let c = f64::from(inst.vcpus) * duration_s;
        let neighbours = if inst.kind == "shared" {
            real.burner_cpu_s
        } else {
            0.0
        };
        inst.mean_load = (dyno_cpu[k] + neighbours) / c;
        inst.mean_neighbour_load = neighbours / c;
    }
    let mut lifecycle: Vec<LifecycleEvent> = real
        .dynos
        .iter()
        .enumerate()
        .map(|(i, d)| LifecycleEvent {
            time_ns: 0,
            app: s.dynos[i].app,
            process: 0,
            dyno: local[i],
            incarnation: 0,
            instance: s.dynos[i].instance.clone(),
            event: LifecycleKind::Up,
            detail: format!(
                "real: jail start {:.1} ms, listening {:.1} ms after exec",
                d.start.as_secs_f64() * 1e3,
                d.ready.as_secs_f64() * 1e3
            ),
        })
        .collect();
    lifecycle.extend(real.events.iter().cloned());
    JobResult {
        endpoints: Vec::new(),
        processes,
        dynos,
        windows,
        instances,
        lifecycle,
        profile: None,
        events: 0,
        generated: s.plan.len() as u64,
        interrupted: real.interrupted,
    }
}

/// Window accumulator: requests, completed, errors, in flight, latency sum, max, histogram.
type Win = (u64, u64, u64, u64, f64, u64, Option<Histogram<u64>>);

/// The process result and time windows of app `a`.
fn process_result(
    s: &Scaled,
    real: &RealRun,
    recs: &[RealRecord],
    a: usize,
) -> (ProcessResult, Vec<WindowRow>) {
    let cfg = s.config();
    let app = &cfg.apps[a];
    let spec = &app.processes[0];
    let duration_s = cfg.duration.as_secs_f64();
    let counted_s = (cfg.duration.as_nanos() - cfg.warmup.as_nanos()) as f64 * 1e-9;
    let mut h = hist();
    let (mut sum, mut max, mut parts) = (0.0, 0u64, [0.0f64; 6]);
    let (mut requests, mut completed, mut in_flight) = (0u64, 0u64, 0u64);
    let mut errors = [0u64; 8];
    let width = cfg.window.as_nanos().max(1);
    let nwin = cfg.duration.as_nanos().div_ceil(width).max(1) as usize;
    let mut wins: Vec<Win> = vec![(0, 0, 0, 0, 0.0, 0, None); nwin];
    let (mut hits, mut misses, mut penalty_ns) = (0u64, 0u64, 0u64);
    // This app's dynos only.
    let reads: Vec<ReadStats> = read_stats(s, real)
        .into_iter()
        .zip(&s.dynos)
        .filter(|(_, d)| d.app == a)
        .map(|(r, _)| r)
        .collect();
    for ((r, p), _) in recs
        .iter()
        .zip(&s.plan)
        .zip(&s.plan_app)
        .filter(|(_, pa)| **pa == a)
    {
        if !r.counted {
            continue;
        }
        let rec = &r.record;
        requests += 1;
        let win = &mut wins[((rec.arrival_ns / width) as usize).min(nwin - 1)];
        win.0 += 1;
        if p.work.item.is_some() && rec.split.is_some() {
            if r.miss {
                misses += 1;
                penalty_ns += p.work.miss_ns;
            } else {
                hits += 1;
            }
        }
        if r.in_flight {
            in_flight += 1;
            win.3 += 1;
            continue;
        }
        if let Some(i) = rec.status.error_index() {
            errors[i] += 1;
            win.2 += 1;
            continue;
        }
        completed += 1;
        win.1 += 1;
        let l = rec.latency_ns.max(1);
        let _ = h.record(l);
        sum += l as f64;
        max = max.max(l);
        win.4 += l as f64;
        win.5 = win.5.max(l);
        let wh = win.6.get_or_insert_with(|| {
            Histogram::new(2).expect("2 significant digits is a valid precision")
        });
        let _ = wh.record(l);
        if let Some(sp) = &rec.split {
            parts[0] += sp.network_ns as f64;
            parts[1] += sp.queue_ns as f64;
            parts[2] += sp.cpu_ns as f64;
            parts[3] += sp.wait_ns as f64;
            parts[4] += sp.router_ns as f64;
        }
    }
    let mean = |x: f64| {
        if completed == 0 {
            f64::NAN
        } else {
            x / completed as f64 * 1e-6
        }
    };
    let latency = LatencySummary {
        mean_ms: mean(sum),
        p50_ms: quantile(&h, max, 0.5),
        p90_ms: quantile(&h, max, 0.9),
        p95_ms: quantile(&h, max, 0.95),
        p99_ms: quantile(&h, max, 0.99),
        p999_ms: quantile(&h, max, 0.999),
        max_ms: if completed == 0 {
            f64::NAN
        } else {
            max as f64 * 1e-6
        },
        network_ms: mean(parts[0]),
        queue_ms: mean(parts[1]),
        cpu_ms: mean(parts[2]),
        wait_ms: mean(parts[3]),
        router_ms: mean(parts[4]),
        downstream_ms: mean(0.0),
    };
    let windows: Vec<WindowRow> = wins
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let q = |x: f64| match &w.6 {
                Some(wh) if w.1 > 0 => crate::stats::hist_quantile_ms(wh, w.5, x),
                _ => f64::NAN,
            };
            WindowRow {
                app: a,
                process: 0,
                window_start_s: i as f64 * cfg.window.as_secs_f64(),
                requests: w.0,
                completed: w.1,
                errors: w.2,
                in_flight: w.3,
                mean_ms: if w.1 > 0 {
                    w.4 / w.1 as f64 * 1e-6
                } else {
                    f64::NAN
                },
                p50_ms: q(0.5),
                p90_ms: q(0.9),
                p99_ms: q(0.99),
                arrival_rate_rps: f64::NAN,
            }
        })
        .collect();
    let mine: Vec<usize> = (0..s.dynos.len())
        .filter(|&i| s.dynos[i].app == a)
        .collect();
    let cores: f64 = mine
        .iter()
        .map(|&i| f64::from(s.dynos[i].size.vcpus).min(s.dynos[i].cpus.len() as f64))
        .sum::<f64>()
        .max(1e-9);
    let cpu_s: f64 = mine
        .iter()
        .filter_map(|&i| real.dynos.get(i))
        .map(|d| d.cpu_s)
        .sum();
    let throttled_s: f64 = mine
        .iter()
        .filter_map(|&i| real.dynos.get(i))
        .map(|d| d.throttled_s)
        .sum();
    let process = ProcessResult {
        app_index: a,
        process_index: 0,
        app: app.name.clone(),
        process: spec.name.clone(),
        size: spec.size.name.clone(),
        tier: spec.size.tier,
        dynos: spec.count,
        concurrency: spec.concurrency,
        requests,
        completed,
        errors: errors.iter().sum(),
        errors_by_code: errors,
        in_flight,
        latency,
        histogram: LatencyHistogram(h),
        throughput_rps: completed as f64 / counted_s.max(1e-9),
        cpu_utilization: cpu_s / (cores * duration_s),
        cpu_s,
        throttled_s,
        window_cov_p50: cov(windows.iter().filter(|w| w.completed > 0).map(|w| w.p50_ms)),
        window_cov_p99: cov(windows.iter().filter(|w| w.completed > 0).map(|w| w.p99_ms)),
        window_p50_ms: windows
            .iter()
            .filter(|w| w.completed > 0)
            .map(|w| w.p50_ms)
            .collect(),
        window_p99_ms: windows
            .iter()
            .filter(|w| w.completed > 0)
            .map(|w| w.p99_ms)
            .collect(),
        cost_usd_month: spec.size.price_usd_month * f64::from(spec.count),
        restarts: restart_causes(s)
            .iter()
            .zip(&s.dynos)
            .filter(|(_, d)| d.app == a)
            .map(|(c, _)| c.iter().sum::<u64>())
            .sum(),
        files_lost: reads.iter().map(|r| r.files_lost).sum(),
        bytes_lost: reads.iter().map(|r| r.bytes_lost).sum(),
        cache_hit_ratio: if hits + misses == 0 {
            f64::NAN
        } else {
            hits as f64 / (hits + misses) as f64
        },
        cold_penalty_s: penalty_ns as f64 * 1e-9,
        sticky_reads: reads.iter().map(|r| r.sticky_reads).sum(),
        sticky_miss_other_dyno: reads.iter().map(|r| r.miss_other).sum(),
        sticky_miss_restart: reads.iter().map(|r| r.miss_restart).sum(),
    };
    (process, windows)
}

/// Write the real run's folder: summary, windows, dynos, instances, events, tiers and requests
/// CSVs (the usual schema) and a manifest describing the machine.
pub fn write_real(
    dir: &Path,
    s: &Scaled,
    real: &RealRun,
    extra: serde_json::Value,
) -> Result<(), OutputError> {
    let recs = records(s, real);
    let result = job_result(s, real, &recs);
    let job = s.scenario.jobs()[0];
    let mut tables = Tables::create(dir, &s.scenario)?;
    tables.write(&JobRows {
        scenario: &s.scenario,
        job: &job,
        result: &result,
    })?;
    tables.finish()?;
    write_tiers(dir, &s.scenario, &[(job, result)])?;
    let requests_only = Streams {
        requests: true,
        rows: false,
    };
    let mut obs = JobCsv::create(dir, &s.scenario, &job, requests_only)?;
    for r in recs.iter().filter(|r| r.counted) {
        obs.on_request(&r.record);
    }
    obs.finish()?;
    JobCsv::join(dir, &s.scenario, &[job], requests_only)?;
    // The typed manifest every dynosim folder has (identity, file records), with what a real
    // run adds (the machine, the dynos' measured figures) in `extra`.
    let extra = match json!({
        "job_seed": job.seeds.value(),
        "kind": "real",
        "requests_planned": s.plan.len(),
        "interrupted": real.interrupted,
        "late_sends_over_1ms": real.late_sends,
        "max_send_lag_ms": real.max_send_lag_ns as f64 * 1e-6,
        "dynos": real.dynos.iter().map(|d| json!({
            "dyno": d.name,
            "cpu_s": d.cpu_s,
            "throttled_periods": d.throttled_periods,
            "throttled_s": d.throttled_s,
            "memory_peak_bytes": d.memory_peak,
            "jail_start_ms": d.start.as_secs_f64() * 1e3,
            "listening_ms": d.ready.as_secs_f64() * 1e3,
            "cgroup": d.cgroup,
        })).collect::<Vec<_>>(),
        "starts": real.incarnations.iter().map(|i| json!({
            "dyno": s.dynos[i.dyno].name,
            "incarnation": i.incarnation,
            "boot_s": i.boot_ns.map(|t| t as f64 * 1e-9),
            "planned_boot_s": i.planned_boot_ns as f64 * 1e-9,
            "jail_start_ms": i.jail_start.as_secs_f64() * 1e3,
            "up_s": i.up_ns.map(|t| t as f64 * 1e-9),
            "end_s": i.end_ns.map(|t| t as f64 * 1e-9),
            "files_at_up": i.files_at_up,
            "cpu_s": i.cpu_s,
        })).collect::<Vec<_>>(),
        "neighbour_cpu_s": real.burner_cpu_s,
        "steal": real.steal.rows.iter().map(|(n, s, t)| json!({"cpu": n, "steal_ticks": s, "total_ticks": t})).collect::<Vec<_>>(),
        "machine": extra,
    }) {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(), // an object literal is always an object
    };
    crate::output::Manifest {
        dynosim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: s.scenario.name.clone(),
        file: s.scenario.file.clone(),
        scenario_sha256: s.scenario.text_hash.clone(),
        seed: s.scenario.seed,
        run: None,
        files: Some(crate::output::manifest::record_files(dir)?),
        extra,
    }
    .write(dir)
}
