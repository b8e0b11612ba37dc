//! From the scenario as written ([`RawScenario`]) to a validated model configuration, with errors
//! that name the key.
//!
//! One file per section of the scenario file. Each holds the section's shape as written (a serde
//! struct with `deny_unknown_fields`, so serde checks keys and types and reports the line and
//! column) and its `build_*` function, which checks what serde cannot (ranges, units, references
//! to other sections) and returns the model's type. `toml::Value` is kept only where the shape
//! depends on the content: distributions ([`dist`]), arrivals ([`arrivals`]) and catalog
//! overrides; the sweep works on the document itself (`scenario::sweep`).
//!
//! A new section is a new file with its `Raw*` struct and `build_*` function, a field in the
//! struct that contains it (here, [`RawApp`](app::RawApp), [`RawProcess`](process::RawProcess) or
//! [`RawWorkload`](workload::RawWorkload)) and the call that builds it.

mod app;
mod arrivals;
mod calls;
mod catalog;
mod cpu;
mod ctx;
mod dist;
mod empirical;
mod filesystem;
mod lifecycle;
mod network;
mod noise;
mod placement;
mod process;
mod router;
mod spaces;
mod values;
mod workload;

pub use ctx::{Ctx, Override, TraceCache};
pub use network::default_network;

use crate::engine::SimDuration;
use crate::model::SimConfig;
use crate::scenario::error::{KeyPath, ScenarioError};
use serde::Deserialize;
use std::collections::HashSet;

/// The platform's first-byte deadline: "A request has an initial 30 s window" (Heroku limits).
pub const DEFAULT_REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// The scenario file as written: its top-level keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a scenario table")]
pub struct RawScenario {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub duration: String,
    pub warmup: Option<String>,
    pub replications: Option<u32>,
    /// Width of a row in windows.csv.
    pub window: Option<String>,
    /// First-byte deadline (H12); 30 s on the platform.
    pub request_timeout: Option<String>,
    /// Whether replication r uses the same random streams at every sweep point.
    pub common_random_numbers: Option<bool>,
    pub noise: Option<noise::RawNoise>,
    pub network: Option<network::RawNetwork>,
    pub placement: Option<placement::RawPlacement>,
    pub cpu: Option<cpu::RawCpu>,
    pub lifecycle: Option<lifecycle::RawLifecycle>,
    #[serde(default)]
    pub space: Vec<spaces::RawSpace>,
    #[serde(default)]
    pub app: Vec<app::RawApp>,
    /// Dotted path -> list of values, in file order.
    pub sweep: Option<toml::Table>,
    /// Per-size overrides of the built-in catalog: `[catalog."standard-1x"] vcpus = 2`.
    pub catalog: Option<toml::Table>,
    /// A calibration file from `dynosim calibrate`, used by `dynosim validate` (relative to the
    /// scenario's folder); `dynosim run` ignores it.
    pub calibration: Option<String>,
}

/// Settings that are not part of the model configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub name: Option<String>,
    pub seed: u64,
    pub replications: u32,
    pub common_random_numbers: bool,
    /// `calibration`, resolved against the scenario's folder.
    pub calibration: Option<std::path::PathBuf>,
}

/// Validate a whole scenario.
pub fn build(ctx: &Ctx<'_>, raw: &RawScenario) -> Result<(SimConfig, Settings), ScenarioError> {
    let root = KeyPath::root();
    let duration = ctx.duration(&root.key("duration"), &raw.duration)?;
    if duration == SimDuration::ZERO {
        return Err(ctx.err(&root.key("duration"), "the run must last longer than zero"));
    }
    let warmup = match &raw.warmup {
        Some(w) => ctx.duration(&root.key("warmup"), w)?,
        None => SimDuration::ZERO,
    };
    if warmup >= duration {
        return Err(ctx.err(
            &root.key("warmup"),
            format!("the warmup ({warmup}) must be shorter than the duration ({duration})"),
        ));
    }
    let window = match &raw.window {
        Some(w) => ctx.duration(&root.key("window"), w)?,
        None => SimDuration::from_secs(60).min(duration),
    };
    if window == SimDuration::ZERO {
        return Err(ctx.err(&root.key("window"), "the window must be longer than zero"));
    }
    if duration.as_nanos() / window.as_nanos() > 1_000_000 {
        // Without a `window` key the default is too narrow for this duration: point at the duration.
        let (key, hint) = match raw.window {
            Some(_) => ("window", "use a wider window"),
            None => ("duration", "set a wider `window`"),
        };
        return Err(ctx.err(
            &root.key(key),
            format!("{window} windows over {duration} make more than a million rows; {hint}"),
        ));
    }
    let request_timeout = match &raw.request_timeout {
        Some(t) => ctx.duration(&root.key("request_timeout"), t)?,
        None => DEFAULT_REQUEST_TIMEOUT,
    };
    if request_timeout == SimDuration::ZERO {
        return Err(ctx.err(&root.key("request_timeout"), "must be longer than zero"));
    }
    let replications = raw.replications.unwrap_or(1);
    if replications == 0 {
        return Err(ctx.err(
            &root.key("replications"),
            "at least one replication is needed",
        ));
    }
    let noise = noise::build_noise(ctx, raw.noise.as_ref())?;
    let placement = placement::build_placement(ctx, raw.placement.as_ref())?;
    let cpu = cpu::build_cpu(ctx, raw.cpu.as_ref())?;
    let lifecycle = lifecycle::build_lifecycle(ctx, raw.lifecycle.as_ref())?;
    let network = network::build_network(ctx, raw.network.as_ref())?;
    let spaces = spaces::build_spaces(ctx, &raw.space)?;
    let catalog = catalog::build_catalog(ctx, raw.catalog.as_ref())?;
    if raw.app.is_empty() {
        return Err(ctx
            .loc
            .error_file("no [[app]] defined; a scenario needs at least one app"));
    }
    let mut names = HashSet::new();
    let mut apps = Vec::new();
    for (i, app) in raw.app.iter().enumerate() {
        let p = root.key("app").index(i);
        if !names.insert(app.name.as_str()) {
            return Err(ctx.err(&p.key("name"), format!("duplicate app name `{}`", app.name)));
        }
        apps.push(app::build_app(ctx, &catalog, &spaces, &p, app)?);
    }
    calls::resolve_calls(ctx, raw, &mut apps)?;
    Ok((
        SimConfig {
            duration,
            warmup,
            window,
            request_timeout,
            network,
            spaces,
            noise,
            placement,
            cpu,
            lifecycle,
            apps,
        },
        Settings {
            name: raw.name.clone(),
            seed: raw.seed.unwrap_or(1),
            replications,
            common_random_numbers: raw.common_random_numbers.unwrap_or(true),
            calibration: raw.calibration.as_ref().map(|c| ctx.base_dir.join(c)),
        },
    ))
}
