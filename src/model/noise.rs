//! Noisy neighbours and host speed variability.
//!
//! Other tenants' CPU demand on each shared instance is aggregated into one on/off process per
//! host: `sources` independent tenants, each on with probability `1 / burstiness`, on periods of
//! mean `time_scale` (exponential), and an "on" demand sized so that the mean demand is `load` x
//! the instance's cores. Their weight in the fair share equals their demand in cores, i.e. they
//! behave like single-threaded 1x dynos running flat out (an assumption; Heroku publishes no
//! figures). On top of CPU sharing, co-runners slow each other down through caches and memory
//! bandwidth: `speed / (1 + contention x busy co-runner cores)` (Bubble-Up's sensitivity x
//! pressure; interference.md section 3c). Host speed varies per host (a static lognormal factor,
//! one hardware band) and slowly in time (an Ornstein-Uhlenbeck process on log-speed), with a
//! larger spread on shared than on dedicated instances (interference.md section 3d).

use crate::engine::{RngStream, SimDuration};
use crate::model::dist::normal_quantile;

/// Noise settings; `None` in the configuration means idle hosts (`noise = "off"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseSpec {
    /// Neighbours' mean CPU demand as a fraction of a shared instance's cores.
    pub load: f64,
    /// Peak-to-mean ratio of each neighbour source (>= 1; 1 means constant load).
    pub burstiness: f64,
    /// Independent neighbour sources per shared instance (fewer is burstier).
    pub sources: u32,
    /// Mean length of a source's busy period.
    pub time_scale: SimDuration,
    /// Slowdown per busy co-runner core (0.3% per task at Google; 0.3-2% per core measured).
    pub contention: f64,
    /// Upper bound of the contention slowdown factor.
    pub max_slowdown: f64,
    /// Static per-host speed spread (sigma of ln speed), shared and dedicated instances.
    pub speed_sigma_shared: f64,
    pub speed_sigma_dedicated: f64,
    /// Stationary sigma of the slow drift of ln speed, shared and dedicated instances.
    pub drift_sigma_shared: f64,
    pub drift_sigma_dedicated: f64,
    /// Correlation time of the drift.
    pub drift_time: SimDuration,
    /// How often the drift is updated (speed is constant in between).
    pub drift_step: SimDuration,
}

impl Default for NoiseSpec {
    /// Defaults, each an assumption to calibrate (interference.md sections 3c, 3d; the only
    /// public variability figures are CI timings: CV 0.2-0.3 on shared, 0.03-0.05 on dedicated).
    fn default() -> Self {
        NoiseSpec {
            load: 0.5,
            burstiness: 2.0,
            sources: 8,
            time_scale: SimDuration::from_secs(60),
            contention: 0.01,
            max_slowdown: 2.0,
            speed_sigma_shared: 0.05,
            speed_sigma_dedicated: 0.02,
            drift_sigma_shared: 0.08,
            drift_sigma_dedicated: 0.02,
            drift_time: SimDuration::from_secs(600),
            drift_step: SimDuration::from_secs(30),
        }
    }
}

/// The on/off neighbour process of one shared instance.
#[derive(Debug, Clone)]
pub(crate) struct Neighbours {
    on: u32,
    sources: u32,
    /// Cores one "on" source demands.
    per_source: f64,
    on_mean_s: f64,
    off_mean_s: f64,
    rng: RngStream,
}

impl Neighbours {
    /// A process for an instance of `cores` cores, started from its stationary distribution.
    pub fn new(spec: &NoiseSpec, cores: f64, mut rng: RngStream) -> Neighbours {
        let p = 1.0 / spec.burstiness.max(1.0);
        let sources = spec.sources.max(1);
        let per_source = spec.load * cores / (f64::from(sources) * p);
        let on = (0..sources).filter(|_| rng.open01() < p).count() as u32;
        let on_mean_s = spec.time_scale.as_secs_f64();
        Neighbours {
            sources,
            on,
            per_source,
            on_mean_s,
            off_mean_s: on_mean_s * (1.0 - p) / p,
            rng,
        }
    }

    /// Cores demanded now.
    pub fn demand(&self) -> f64 {
        f64::from(self.on) * self.per_source
    }

    /// Time until the next source changes state, or `None` if the load is constant.
    pub fn next_change(&mut self) -> Option<SimDuration> {
        if self.off_mean_s <= 0.0 || self.on_mean_s <= 0.0 || self.per_source == 0.0 {
            return None;
        }
        let rate = f64::from(self.on) / self.on_mean_s
            + f64::from(self.sources - self.on) / self.off_mean_s;
        Some(SimDuration::from_secs_f64(self.rng.exp(1.0 / rate)).max(SimDuration::from_nanos(1)))
    }

    /// Flip one source: an "on" one with probability proportional to the on-to-off rate.
    pub fn flip(&mut self) {
        let down = f64::from(self.on) / self.on_mean_s;
        let up = f64::from(self.sources - self.on) / self.off_mean_s;
        if self.rng.open01() * (down + up) < down {
            self.on -= 1;
        } else {
            self.on += 1;
        }
    }
}

/// Slow speed drift of one instance: ln speed follows an Ornstein-Uhlenbeck process sampled
/// every `step`.
#[derive(Debug, Clone)]
pub(crate) struct Drift {
    x: f64,
    sigma: f64,
    decay: f64,
    /// Static per-host factor.
    pub base: f64,
    rng: RngStream,
}

impl Drift {
    pub fn new(spec: &NoiseSpec, shared: bool, mut rng: RngStream) -> Drift {
        let (s_static, sigma) = if shared {
            (spec.speed_sigma_shared, spec.drift_sigma_shared)
        } else {
            (spec.speed_sigma_dedicated, spec.drift_sigma_dedicated)
        };
        let base = (s_static * normal_quantile(rng.open01())).exp();
        let x = sigma * normal_quantile(rng.open01());
        let decay =
            (-spec.drift_step.as_secs_f64() / spec.drift_time.as_secs_f64().max(1e-9)).exp();
        Drift {
            x,
            sigma,
            decay,
            base,
            rng,
        }
    }

    /// Current speed factor.
    pub fn factor(&self) -> f64 {
        self.base * self.x.exp()
    }

    /// Whether the drift moves at all.
    pub fn active(&self) -> bool {
        self.sigma > 0.0
    }

    /// Advance by one step (exact OU transition).
    pub fn step(&mut self) {
        let z = normal_quantile(self.rng.open01());
        self.x = self.x * self.decay + self.sigma * (1.0 - self.decay * self.decay).sqrt() * z;
    }
}
