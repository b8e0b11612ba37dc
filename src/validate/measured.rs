//! The as-measured simulation: the scaled scenario replayed with what the real dynos got.
//!
//! The as-scheduled simulation (the scaled scenario itself) gives each request the demand the
//! scenario drew; on a real host that demand costs more or less CPU time than planned (a slower
//! core, a co-runner's cache pressure, frequency changes) and the dyno gets less than its CPUs
//! (steal, other processes). Comparing against it mixes the model's rules with the machine's
//! drift. The as-measured simulation separates them:
//!
//! - **each request's CPU demand is the thread CPU time it used for real**
//!   ([`Dist::Replay`]: request k of an app gets the k-th measured value, by the uniform the
//!   model's `cpu/<app>` stream yields for it, so arrivals, waits, dynos and every other draw
//!   stay paired), at speed 1: the thread clock already includes the host's slowdown, so the
//!   model's `contention` is set to 0 (host speed variability is already off);
//! - **lost capacity** (steal plus other processes' CPU on the dynos' CPUs, see
//!   [`super::host`]) is taken away from the dynos as capacity, never as a slowdown of the
//!   measured CPU: a shared instance runs at `1 - lost` of its cores (the fluid model's
//!   schedule for an instance that has `1 - lost` of its capacity); a dedicated dyno without a
//!   quota gets a fluid cap of `vCPUs x (1 - lost)` cores. A dyno under a CFS quota keeps it:
//!   it idles while throttled, which is where most stolen time then falls (an assumption,
//!   docs/validation.md). Requests that got no answer keep their planned demand.
//!
//! The verdict is based on this comparison; the as-scheduled one is shown beside it.

use super::plan::Scaled;
use super::real::RealRun;
use crate::model::dist::Replay;
use crate::model::{CpuMode, Dist};
use crate::scenario::Scenario;
use std::sync::Arc;

/// Below this much lost capacity nothing is taken away (the measurement's resolution: one
/// `/proc/stat` tick per 100 over a few tens of seconds).
const MIN_LOST: f64 = 0.002;

/// The scaled scenario with `real`'s measured CPU per request and its lost capacity.
pub fn scenario(s: &Scaled, real: &RealRun) -> Scenario {
    let mut out = s.scenario.clone();
    let lost = real.host.lost_capacity();
    let fluid = s.config().cpu.mode == CpuMode::Fluid;
    let cfg = &mut out.points[0].config;
    for (a, app) in cfg.apps.iter_mut().enumerate() {
        let Some(w) = app.workload.as_mut() else {
            continue;
        };
        let mut cpu = s.seeds.named(&format!("cpu/{}", app.name)).stream();
        let pairs: Vec<(f64, f64)> = s
            .plan
            .iter()
            .zip(&s.plan_app)
            .zip(&real.outcomes)
            .filter(|((_, pa), _)| **pa == a)
            .map(|((p, _), o)| {
                let u = cpu.open01();
                let ns = o.server.map_or(p.work.cpu_ns, |t| t.cpu_used_ns);
                (u, ns as f64 * 1e-9)
            })
            .collect();
        w.cpu = Dist::Replay(Arc::new(Replay::new(pairs)));
        if lost > MIN_LOST {
            for p in &mut app.processes {
                if !p.size.tier.shares_host() && p.cpu_quota.is_none() && fluid {
                    p.cpu_quota = Some(f64::from(p.size.vcpus) * (1.0 - lost));
                }
            }
        }
    }
    if let Some(n) = cfg.noise.as_mut() {
        n.contention = 0.0;
    }
    if lost > MIN_LOST {
        cfg.placement.shared.instance.speed *= 1.0 - lost;
    }
    out
}
