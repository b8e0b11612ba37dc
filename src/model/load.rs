//! Offered load: what the workloads and the calls they make ask of each process type, on
//! average. `dynosim check` prints it, and scenario validation warns about overload with it.
//! The simulation does not use it.

use super::{AppSpec, CallSpec};

/// Mean demand on one process type.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OfferedLoad {
    /// Requests per second from its app's own workload.
    pub external_per_s: f64,
    /// Calls per second from the requests of other process types, in any app.
    pub calls_per_s: f64,
    /// CPU asked per second, in seconds of one reference core.
    pub cpu_per_s: f64,
    /// Cores the formation can use: dynos x min(vCPUs or `cpu_quota`, requests whose CPU work
    /// can run at once: concurrency, or the processes when their threads share a lock).
    pub cores: f64,
}

impl OfferedLoad {
    pub fn requests_per_s(&self) -> f64 {
        self.external_per_s + self.calls_per_s
    }

    /// Mean CPU per request (external or call), in seconds; 0 if nothing arrives.
    pub fn mean_cpu_s(&self) -> f64 {
        let n = self.requests_per_s();
        if n > 0.0 { self.cpu_per_s / n } else { 0.0 }
    }

    /// CPU asked over cores available (1 or more: queues grow without bound). Ignores `wait`,
    /// neighbours and host speed. Infinite for load on a process with no dynos.
    pub fn utilization(&self) -> f64 {
        if self.cpu_per_s == 0.0 {
            0.0
        } else {
            self.cpu_per_s / self.cores
        }
    }
}

/// Offered load on every process type, as `[app][process]`. A call made `count` times per
/// request of its caller arrives at `count` times the caller's rate, and its own calls follow
/// from there. Every call is counted as made: a failed call stops its caller's later calls,
/// so under errors this is an upper bound.
pub fn offered_load(apps: &[AppSpec]) -> Vec<Vec<OfferedLoad>> {
    let mut load: Vec<Vec<OfferedLoad>> = apps
        .iter()
        .map(|app| {
            app.processes
                .iter()
                .map(|p| OfferedLoad {
                    cores: f64::from(p.count)
                        * p.cpu_quota
                            .unwrap_or(f64::from(p.size.vcpus))
                            .min(f64::from(p.server.cpu_threads())),
                    ..OfferedLoad::default()
                })
                .collect()
        })
        .collect();
    for (a, app) in apps.iter().enumerate() {
        let Some(w) = &app.workload else { continue };
        let rate = w.arrivals.mean_rate();
        let l = &mut load[a][w.process];
        l.external_per_s += rate;
        l.cpu_per_s += rate * w.mean_cpu_s();
        if w.endpoints.is_empty() {
            add_calls(&mut load, &w.calls, rate);
        }
        for e in &w.endpoints {
            add_calls(&mut load, &e.calls, rate * e.share);
        }
    }
    load
}

fn add_calls(load: &mut [Vec<OfferedLoad>], calls: &[CallSpec], caller_rate: f64) {
    for c in calls {
        let rate = caller_rate * f64::from(c.count);
        let l = &mut load[c.app][c.process];
        l.calls_per_s += rate;
        l.cpu_per_s += rate * c.cpu.mean();
        add_calls(load, &c.calls, rate);
    }
}
