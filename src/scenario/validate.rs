//! From raw TOML values to a validated model configuration, with errors that name the key.

use super::error::{KeyPath, Locator, ScenarioError, did_you_mean};
use super::raw::{RawApp, RawScenario};
use super::units::parse_duration;
use crate::engine::SimDuration;
use crate::model::{
    AppSpec, Arrivals, CallRoute, CallSpec, Catalog, CpuMode, CpuSpec, Dist, FilesystemSpec,
    LifecycleSpec, MemorySpec, NetworkSpec, NoiseSpec, PlacementPolicy, PlacementSpec,
    ProcessLifecycle, ProcessSpec, RouterSpec, SimConfig, Size, SpaceSpec, Tier, Workload,
};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use toml::Value;

/// The platform's first-byte deadline: "A request has an initial 30 s window" (Heroku limits).
pub const DEFAULT_REQUEST_TIMEOUT: SimDuration = SimDuration::from_secs(30);

/// Router <-> dyno round trip when a scenario does not say: lognormal, median 1 ms, p99 4 ms.
/// Assumption: Heroku publishes no router latency figures; this is an intra-region cloud RTT plus
/// router processing, chosen to be small next to request times.
pub fn default_network() -> Dist {
    Dist::lognormal_from_median_p99(0.001, 0.004)
}

/// A value replaced by a sweep point, so errors about it point at the `[sweep]` entry.
#[derive(Debug, Clone)]
pub struct Override {
    /// Where the value lives in the scenario (index form).
    pub target: KeyPath,
    /// The `[sweep]` entry that set it.
    pub sweep_key: String,
    pub shown: String,
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

pub struct Ctx<'a> {
    pub loc: &'a Locator<'a>,
    pub base_dir: &'a Path,
    pub overrides: &'a [Override],
}

impl Ctx<'_> {
    /// An error about the value at `path`, redirected to the sweep entry if a sweep set it.
    pub fn err(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        let message = message.into();
        for o in self.overrides {
            if path.0.starts_with(&o.target.0) {
                let sweep_path = KeyPath::root().key("sweep").key(&o.sweep_key);
                let mut e = self.loc.error_at(
                    &sweep_path,
                    format!("at sweep value {} for `{}`: {message}", o.shown, path),
                );
                e.key = sweep_path;
                return e;
            }
        }
        self.loc.error_at(path, message)
    }

    fn duration(&self, path: &KeyPath, text: &str) -> Result<SimDuration, ScenarioError> {
        parse_duration(text).map_err(|m| self.err(path, m))
    }

    fn duration_value(&self, path: &KeyPath, v: &Value) -> Result<SimDuration, ScenarioError> {
        match v {
            Value::String(s) => self.duration(path, s),
            Value::Integer(0) => Ok(SimDuration::ZERO),
            other => Err(self.err(
                path,
                format!(
                    "expected a duration string such as \"20ms\", found {} `{other}`",
                    other.type_str()
                ),
            )),
        }
    }

    fn number(&self, path: &KeyPath, v: &Value) -> Result<f64, ScenarioError> {
        let x = match v {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            other => {
                return Err(self.err(
                    path,
                    format!("expected a number, found {} `{other}`", other.type_str()),
                ));
            }
        };
        if x.is_nan() {
            return Err(self.err(path, "must be a number, not NaN"));
        }
        if x.is_infinite() {
            return Err(self.err(path, "must be finite"));
        }
        Ok(x)
    }

    fn table<'v>(
        &self,
        path: &KeyPath,
        v: &'v Value,
        what: &str,
    ) -> Result<&'v toml::Table, ScenarioError> {
        v.as_table().ok_or_else(|| {
            self.err(
                path,
                format!("expected {what}, found {} `{v}`", v.type_str()),
            )
        })
    }

    fn known_keys(
        &self,
        path: &KeyPath,
        t: &toml::Table,
        allowed: &[&str],
    ) -> Result<(), ScenarioError> {
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = did_you_mean(k, allowed.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                return Err(self.err(
                    &path.key(k),
                    format!(
                        "unknown key `{k}`{hint}; expected one of: {}",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A distribution of durations: `"20ms"` or a one-key table.
    pub fn dist(&self, path: &KeyPath, v: &Value) -> Result<Dist, ScenarioError> {
        const KINDS: [&str; 5] = [
            "constant",
            "exponential",
            "lognormal",
            "uniform",
            "empirical",
        ];
        if let Value::String(s) = v {
            return Ok(Dist::Constant(self.duration(path, s)?.as_secs_f64()));
        }
        let t = self.table(
            path,
            v,
            "a duration such as \"20ms\" or a table such as { exponential = \"20ms\" }",
        )?;
        if t.len() != 1 {
            return Err(self.err(
                path,
                format!(
                    "a distribution table needs exactly one of: {} (found {} keys)",
                    KINDS.join(", "),
                    t.len()
                ),
            ));
        }
        self.known_keys(path, t, &KINDS)?;
        let (kind, arg) = t.iter().next().expect("one key, checked above");
        let p = path.key(kind);
        match kind.as_str() {
            "constant" => Ok(Dist::Constant(self.duration_value(&p, arg)?.as_secs_f64())),
            "exponential" => {
                let mean = self.duration_value(&p, arg)?;
                if mean == SimDuration::ZERO {
                    return Err(self.err(&p, "the mean must be greater than zero"));
                }
                Ok(Dist::Exponential {
                    mean: mean.as_secs_f64(),
                })
            }
            "lognormal" => {
                let lt = self.table(
                    &p,
                    arg,
                    "a table { median = \"20ms\", p99 = \"200ms\" } or { mu = -4.0, sigma = 1.0 }",
                )?;
                if lt.contains_key("median") || lt.contains_key("p99") {
                    self.known_keys(&p, lt, &["median", "p99"])?;
                    let get = |k: &str| {
                        lt.get(k).ok_or_else(|| self.err(&p, format!("missing `{k}` (lognormal takes median and p99, or mu and sigma)")))
                    };
                    let median = self.duration_value(&p.key("median"), get("median")?)?;
                    let p99 = self.duration_value(&p.key("p99"), get("p99")?)?;
                    if median == SimDuration::ZERO {
                        return Err(self.err(&p.key("median"), "must be greater than zero"));
                    }
                    if p99 < median {
                        return Err(self.err(
                            &p.key("p99"),
                            format!("p99 ({p99}) must not be below the median ({median})"),
                        ));
                    }
                    Ok(Dist::lognormal_from_median_p99(
                        median.as_secs_f64(),
                        p99.as_secs_f64(),
                    ))
                } else {
                    self.known_keys(&p, lt, &["mu", "sigma"])?;
                    let get = |k: &str| {
                        lt.get(k).ok_or_else(|| self.err(&p, format!("missing `{k}` (lognormal takes median and p99, or mu and sigma)")))
                    };
                    let mu = self.number(&p.key("mu"), get("mu")?)?;
                    let sigma = self.number(&p.key("sigma"), get("sigma")?)?;
                    if sigma > 5.0 {
                        return Err(self.err(&p.key("sigma"), format!("{sigma} is too wide: sigma above 5 puts the p99 more than 10^5 times the median")));
                    }
                    if sigma < 0.0 {
                        return Err(self.err(&p.key("sigma"), "must not be negative"));
                    }
                    if mu > 20.0 {
                        return Err(self.err(
                            &p.key("mu"),
                            "is the mean of ln(seconds); values above 20 mean years per request",
                        ));
                    }
                    Ok(Dist::LogNormal { mu, sigma })
                }
            }
            "uniform" => {
                let (lo, hi) = match arg {
                    Value::Array(a) if a.len() == 2 => (
                        self.duration_value(&p.index(0), &a[0])?,
                        self.duration_value(&p.index(1), &a[1])?,
                    ),
                    Value::Table(ut) => {
                        self.known_keys(&p, ut, &["min", "max"])?;
                        let get = |k: &str| {
                            ut.get(k)
                                .ok_or_else(|| self.err(&p, format!("missing `{k}`")))
                        };
                        (
                            self.duration_value(&p.key("min"), get("min")?)?,
                            self.duration_value(&p.key("max"), get("max")?)?,
                        )
                    }
                    _ => {
                        return Err(self.err(
                            &p,
                            "expected { min = \"10ms\", max = \"30ms\" } or [\"10ms\", \"30ms\"]",
                        ));
                    }
                };
                if hi < lo {
                    return Err(self.err(&p, format!("max ({hi}) is below min ({lo})")));
                }
                Ok(Dist::Uniform {
                    min: lo.as_secs_f64(),
                    max: hi.as_secs_f64(),
                })
            }
            "empirical" => self.empirical(&p, arg),
            _ => unreachable!("kind checked by known_keys"),
        }
    }

    /// `{ file = "cpu.csv", column = "cpu_ms", unit = "ms" }`: values resampled with replacement.
    fn empirical(&self, p: &KeyPath, arg: &Value) -> Result<Dist, ScenarioError> {
        let t = self.table(
            p,
            arg,
            "a table { file = \"trace.csv\", column = \"cpu_ms\" }",
        )?;
        self.known_keys(p, t, &["file", "column", "unit"])?;
        let s = |k: &str| -> Result<Option<&str>, ScenarioError> {
            match t.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(v) => Err(self.err(
                    &p.key(k),
                    format!("expected a string, found {}", v.type_str()),
                )),
            }
        };
        let file = s("file")?.ok_or_else(|| self.err(p, "missing `file`"))?;
        let column = s("column")?.ok_or_else(|| self.err(p, "missing `column`"))?;
        let unit = s("unit")?.unwrap_or("ms");
        let scale = match unit {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            other => {
                return Err(self.err(
                    &p.key("unit"),
                    format!("unknown unit `{other}` (ns, us, ms or s)"),
                ));
            }
        };
        let path = self.base_dir.join(file);
        let fp = p.key("file");
        let mut rdr = csv::Reader::from_path(&path)
            .map_err(|e| self.err(&fp, format!("cannot read `{}`: {e}", path.display())))?;
        let headers = rdr
            .headers()
            .map_err(|e| {
                self.err(
                    &fp,
                    format!("cannot read the header of `{}`: {e}", path.display()),
                )
            })?
            .clone();
        let Some(col) = headers.iter().position(|h| h.trim() == column) else {
            let cols: Vec<&str> = headers.iter().collect();
            return Err(self.err(
                &p.key("column"),
                format!(
                    "`{}` has no column `{column}`; its columns are: {}",
                    path.display(),
                    cols.join(", ")
                ),
            ));
        };
        let mut values = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| self.err(&fp, format!("`{}`: {e}", path.display())))?;
            let cell = rec.get(col).unwrap_or("").trim();
            let x: f64 = cell.parse().map_err(|_| {
                self.err(
                    &fp,
                    format!(
                        "`{}` line {}: `{cell}` in column `{column}` is not a number",
                        path.display(),
                        i + 2
                    ),
                )
            })?;
            if !x.is_finite() || x < 0.0 {
                return Err(self.err(
                    &fp,
                    format!(
                        "`{}` line {}: `{cell}` must be a finite, non-negative number",
                        path.display(),
                        i + 2
                    ),
                ));
            }
            values.push(x * scale);
        }
        if values.is_empty() {
            return Err(self.err(
                &fp,
                format!("`{}` has no values in column `{column}`", path.display()),
            ));
        }
        Ok(Dist::Empirical(Arc::from(values)))
    }

    fn arrivals(&self, path: &KeyPath, v: &Value) -> Result<Arrivals, ScenarioError> {
        let t = self.table(
            path,
            v,
            "a table such as { poisson = 50.0 } or { interval = \"1s\" }",
        )?;
        self.known_keys(path, t, &["poisson", "interval"])?;
        if t.len() != 1 {
            return Err(self.err(path, "expected exactly one of { poisson = <requests per second> } or { interval = <duration> }"));
        }
        if let Some(gap_v) = t.get("interval") {
            let p = path.key("interval");
            let gap = self.duration_value(&p, gap_v)?;
            if gap.as_nanos() < 1_000 {
                return Err(self.err(
                    &p,
                    format!("the interval must be at least 1us, found {gap}"),
                ));
            }
            return Ok(Arrivals::Interval { gap });
        }
        let rate_v = t
            .get("poisson")
            .ok_or_else(|| self.err(path, "expected { poisson = <requests per second> }"))?;
        let p = path.key("poisson");
        let rate = self.number(&p, rate_v)?;
        if rate <= 0.0 {
            return Err(self.err(
                &p,
                format!("the arrival rate must be positive, found {rate}"),
            ));
        }
        if rate > 1e6 {
            return Err(self.err(
                &p,
                format!("{rate} requests/s is beyond what one app's router takes; at most 1e6"),
            ));
        }
        Ok(Arrivals::Poisson { rate })
    }
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
    let noise = build_noise(ctx, raw.noise.as_ref())?;
    let placement = build_placement(ctx, raw.placement.as_ref())?;
    let cpu = build_cpu(ctx, raw.cpu.as_ref())?;
    let lifecycle = build_lifecycle(ctx, raw.lifecycle.as_ref())?;
    let network = build_network(ctx, raw.network.as_ref())?;
    let spaces = build_spaces(ctx, &raw.space)?;
    let catalog = build_catalog(ctx, raw)?;
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
        apps.push(build_app(ctx, &catalog, &spaces, &p, app)?);
    }
    resolve_calls(ctx, raw, &mut apps)?;
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

fn build_app(
    ctx: &Ctx<'_>,
    catalog: &Catalog,
    spaces: &[SpaceSpec],
    path: &KeyPath,
    app: &RawApp,
) -> Result<AppSpec, ScenarioError> {
    if app.name.trim().is_empty() {
        return Err(ctx.err(&path.key("name"), "the app name must not be empty"));
    }
    let space = match &app.space {
        None => None,
        Some(name) => match spaces.iter().position(|s| &s.name == name) {
            Some(i) => Some(i),
            None => {
                let known: Vec<&str> = spaces.iter().map(|s| s.name.as_str()).collect();
                return Err(ctx.err(
                    &path.key("space"),
                    format!(
                        "unknown space `{name}`; define it with [[space]] (defined: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        },
    };
    if app.process.is_empty() {
        return Err(ctx.err(path, format!("app `{}` has no [[app.process]]", app.name)));
    }
    let mut seen = HashSet::new();
    let mut processes = Vec::new();
    let mut total = 0i64;
    let mut app_limit = 100;
    let web_name = app
        .workload
        .as_ref()
        .map(|w| w.process.as_deref().unwrap_or("web"));
    for (j, pr) in app.process.iter().enumerate() {
        let p = path.key("process").index(j);
        let is_web = web_name == Some(pr.kind.as_str());
        if pr.kind.trim().is_empty() {
            return Err(ctx.err(&p.key("type"), "the process type must not be empty"));
        }
        if !seen.insert(pr.kind.as_str()) {
            return Err(ctx.err(
                &p.key("type"),
                format!("duplicate process type `{}` in app `{}`", pr.kind, app.name),
            ));
        }
        let Some(size) = catalog.get(&pr.size) else {
            let lower = pr.size.to_lowercase();
            let hint = if catalog.get(&lower).is_some() {
                format!(" (sizes are lower case: `{lower}`)")
            } else {
                did_you_mean(&lower, catalog.sizes().iter().map(|s| s.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default()
            };
            return Err(ctx.err(
                &p.key("size"),
                format!(
                    "unknown size `{}`{hint}; `dynosim catalog` lists the sizes",
                    pr.size
                ),
            ));
        };
        check_size_fits_space(
            ctx,
            &p.key("size"),
            size,
            space.map(|i| &spaces[i]),
            &app.name,
        )?;
        let count = pr.count.unwrap_or(1);
        if count < 0 {
            return Err(ctx.err(
                &p.key("count"),
                format!("the dyno count must not be negative, found {count}"),
            ));
        }
        let mut limit = i64::from(size.max_per_process);
        if let Some(raised) = pr.limit {
            if matches!(size.tier, Tier::Eco | Tier::Basic) {
                return Err(ctx.err(
                    &p.key("limit"),
                    format!("{} apps get only one dyno per process type; the limit cannot be raised (Heroku dyno scaling limits)", size.display),
                ));
            }
            if raised < limit || raised > 10_000 {
                return Err(ctx.err(
                    &p.key("limit"),
                    format!("a raised limit must be between the platform default ({limit}) and 10000, found {raised}"),
                ));
            }
            limit = raised;
        }
        if count > limit {
            let how = if pr.limit.is_some() || matches!(size.tier, Tier::Eco | Tier::Basic) {
                ""
            } else {
                "; set `limit` on the process to model a raised limit"
            };
            return Err(ctx.err(
                &p.key("count"),
                format!(
                    "{count} dynos exceed the platform limit of {limit} per process type for {} dynos (Heroku dyno scaling limits){how}",
                    size.display
                ),
            ));
        }
        let cpu_quota = match pr.cpu_quota {
            None => None,
            Some(q) if q.is_finite() && q > 0.0 && q <= f64::from(size.vcpus) => Some(q),
            Some(q) => {
                return Err(ctx.err(
                    &p.key("cpu_quota"),
                    format!(
                        "must be more than 0 and at most the size's {} vCPU(s), found {q}",
                        size.vcpus
                    ),
                ));
            }
        };
        let concurrency = pr.concurrency.unwrap_or(1);
        if concurrency < 1 {
            return Err(ctx.err(
                &p.key("concurrency"),
                format!("must be at least 1, found {concurrency}"),
            ));
        }
        if concurrency > 100_000 {
            return Err(ctx.err(
                &p.key("concurrency"),
                format!("{concurrency} is beyond any real web server; at most 100000"),
            ));
        }
        if size.generation == crate::model::Generation::Fir {
            app_limit = 255;
        }
        total += count;
        processes.push(ProcessSpec {
            name: pr.kind.clone(),
            size: size.clone(),
            count: count as u32,
            concurrency: concurrency as u32,
            cpu_quota,
            lifecycle: build_process_lifecycle(ctx, &p, pr, is_web)?,
        });
    }
    if let Some(raised) = app.dyno_limit {
        if raised < app_limit || raised > 100_000 {
            return Err(ctx.err(
                &path.key("dyno_limit"),
                format!("a raised limit must be between the platform default ({app_limit}) and 100000, found {raised}"),
            ));
        }
        app_limit = raised;
    }
    if total > app_limit {
        return Err(ctx.err(
            path,
            format!(
                "app `{}` has {total} dynos; the platform allows {app_limit} per app (set `dyno_limit` to model a raised limit)",
                app.name
            ),
        ));
    }
    let generations: HashSet<_> = processes.iter().map(|p| p.size.generation).collect();
    if generations.len() > 1 {
        return Err(ctx.err(
            path,
            format!(
                "app `{}` mixes Cedar and Fir sizes; an app runs on one generation",
                app.name
            ),
        ));
    }
    let workload = match &app.workload {
        None => None,
        Some(w) => {
            let wp = path.key("workload");
            let target = w.process.as_deref().unwrap_or("web");
            let Some(process) = processes.iter().position(|p| p.name == target) else {
                let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
                let at = match w.process {
                    Some(_) => wp.key("process"),
                    None => wp.clone(),
                };
                return Err(ctx.err(
                    &at,
                    format!(
                        "the workload goes to process type `{target}`, which app `{}` does not have (it has: {}); set `process` in [app.workload]",
                        app.name,
                        names.join(", ")
                    ),
                ));
            };
            Some(Workload {
                process,
                arrivals: ctx.arrivals(&wp.key("arrivals"), &w.arrivals)?,
                cpu: ctx.dist(&wp.key("cpu"), &w.cpu)?,
                wait: match &w.wait {
                    Some(v) => ctx.dist(&wp.key("wait"), v)?,
                    None => Dist::Constant(0.0),
                },
                // Calls may name apps defined later; `resolve_calls` fills them in.
                calls: Vec::new(),
            })
        }
    };
    if let (Some(sp), Some(_)) = (space, &app.region) {
        return Err(ctx.err(
            &path.key("region"),
            format!(
                "an app in space `{}` runs in the space's region ({}); remove `region`",
                spaces[sp].name, spaces[sp].region
            ),
        ));
    }
    let region = match app.region.as_deref() {
        _ if space.is_some() => space.map_or("us", |sp| spaces[sp].region.as_str()),
        None | Some("us") => "us",
        Some("eu") => "eu",
        Some(other) => {
            return Err(ctx.err(
                &path.key("region"),
                format!("the Common Runtime has regions \"us\" and \"eu\", not `{other}` (other regions need a Private Space)"),
            ));
        }
    };
    let mut deploys = Vec::new();
    for (i, v) in app.deploys.iter().flatten().enumerate() {
        let at = ctx.duration_value(&path.key("deploys").index(i), v)?;
        deploys.push(at);
    }
    if deploys.windows(2).any(|w| w[1] <= w[0]) {
        return Err(ctx.err(&path.key("deploys"), "deploy times must increase"));
    }
    let mut crashes = Vec::new();
    for (i, v) in app.crash.iter().flatten().enumerate() {
        let cp = path.key("crash").index(i);
        let t = ctx.table(
            &cp,
            v,
            "a table such as { at = \"2h\", process = \"web\", dyno = 1 }",
        )?;
        ctx.known_keys(&cp, t, &["at", "process", "dyno"])?;
        let at = ctx.duration_value(
            &cp.key("at"),
            t.get("at").ok_or_else(|| ctx.err(&cp, "missing `at`"))?,
        )?;
        let pname = match t.get("process") {
            None => "web",
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(ctx.err(
                    &cp.key("process"),
                    format!("expected a process type, found `{other}`"),
                ));
            }
        };
        let Some(pi) = processes.iter().position(|p| p.name == pname) else {
            return Err(ctx.err(
                &cp.key("process"),
                format!("app `{}` has no process type `{pname}`", app.name),
            ));
        };
        let dyno = match t.get("dyno") {
            None => 1.0,
            Some(v) => ctx.number(&cp.key("dyno"), v)?,
        };
        if dyno.fract() != 0.0 || dyno < 1.0 || dyno > f64::from(processes[pi].count) {
            return Err(ctx.err(
                &cp.key("dyno"),
                format!(
                    "`{pname}` has dynos 1 to {}, found {dyno}",
                    processes[pi].count
                ),
            ));
        }
        crashes.push(crate::model::ScheduledCrash {
            at,
            process: pi,
            dyno: dyno as u32,
        });
    }
    let filesystem = match &app.filesystem {
        None => None,
        Some(v) => Some(build_filesystem(ctx, &path.key("filesystem"), v)?),
    };
    let router = build_router(ctx, &path.key("router"), app.router.as_ref())?;
    let untrusted_share = match app.workload.as_ref().and_then(|w| w.untrusted_share) {
        None => 0.0,
        Some(x) => {
            let up = path.key("workload").key("untrusted_share");
            if !(0.0..=1.0).contains(&x) {
                return Err(ctx.err(
                    &up,
                    format!("must be a fraction between 0 and 1, found {x}"),
                ));
            }
            if x > 0.0
                && space
                    .and_then(|sp| spaces[sp].trusted_ips.as_ref())
                    .is_none()
            {
                return Err(ctx.err(
                    &up,
                    "requests can only be refused at a space's ingress: put the app in a [[space]] with `trusted_ips`",
                ));
            }
            x
        }
    };
    Ok(AppSpec {
        name: app.name.clone(),
        region: region.to_string(),
        space,
        router,
        untrusted_share,
        deploys,
        preboot: app.preboot.unwrap_or(false),
        crashes,
        filesystem,
        processes,
        workload,
    })
}

/// The built-in catalog with the scenario's `[catalog."<size>"]` overrides applied.
///
/// An override of a known size may set any of its fields; a new size must set all of them. The
/// result is checked like the built-in data, so an override cannot make an impossible size.
fn build_catalog(ctx: &Ctx<'_>, raw: &RawScenario) -> Result<Catalog, ScenarioError> {
    let mut catalog = Catalog::builtin();
    let Some(overrides) = &raw.catalog else {
        return Ok(catalog);
    };
    let fields: Vec<String> = match toml::Table::try_from(&catalog.sizes()[0]) {
        Ok(t) => t.keys().cloned().collect(),
        Err(e) => return Err(ctx.loc.error_file(format!("internal: catalog fields: {e}"))),
    };
    let field_refs: Vec<&str> = fields.iter().map(String::as_str).collect();
    for (name, value) in overrides {
        let p = KeyPath::root().key("catalog").key(name);
        let t = ctx.table(
            &p,
            value,
            "a table of size fields, e.g. [catalog.\"standard-1x\"] vcpus = 2",
        )?;
        ctx.known_keys(&p, t, &field_refs)?;
        if t.contains_key("name") {
            return Err(ctx.err(
                &p.key("name"),
                "the name is the table's key; it cannot be changed",
            ));
        }
        let mut merged = match catalog.get(name) {
            Some(base) => {
                toml::Table::try_from(base).map_err(|e| ctx.err(&p, format!("internal: {e}")))?
            }
            None => {
                if let Some(missing) = field_refs
                    .iter()
                    .find(|f| **f != "name" && !t.contains_key(**f))
                {
                    return Err(ctx.err(
                        &p,
                        format!("`{name}` is not a catalog size, so it must set every field; `{missing}` is missing"),
                    ));
                }
                toml::Table::new()
            }
        };
        merged.insert("name".into(), toml::Value::String(name.clone()));
        for (k, v) in t {
            merged.insert(k.clone(), v.clone());
        }
        let size: Size = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                ctx.err(
                    &p,
                    format!("does not fit the catalog's fields: {}", e.message().trim()),
                )
            })?;
        if size.vcpus == 0 {
            return Err(ctx.err(&p.key("vcpus"), "a dyno needs at least one vCPU"));
        }
        if !(size.cpu_share.is_finite() && size.cpu_share > 0.0) {
            return Err(ctx.err(&p.key("cpu_share"), "must be a positive number"));
        }
        if !(size.price_usd_month.is_finite() && size.price_usd_month >= 0.0) {
            return Err(ctx.err(&p.key("price_usd_month"), "must be zero or more"));
        }
        if !(size.r15_factor.is_finite() && size.r15_factor >= 1.0) {
            return Err(ctx.err(
                &p.key("r15_factor"),
                "must be at least 1 (a multiple of the RAM quota)",
            ));
        }
        if size.ram_mb == 0 {
            return Err(ctx.err(&p.key("ram_mb"), "must be more than zero"));
        }
        catalog.upsert(size);
    }
    Ok(catalog)
}

impl Ctx<'_> {
    /// An optional number in `t`, within `[lo, hi]`.
    fn num_in(
        &self,
        path: &KeyPath,
        t: &toml::Table,
        key: &str,
        lo: f64,
        hi: f64,
    ) -> Result<Option<f64>, ScenarioError> {
        let Some(v) = t.get(key) else { return Ok(None) };
        let p = path.key(key);
        let x = self.number(&p, v)?;
        if x < lo || x > hi {
            return Err(self.err(&p, format!("must be between {lo} and {hi}, found {x}")));
        }
        Ok(Some(x))
    }

    /// An optional duration in `t`, longer than zero.
    fn positive_duration(
        &self,
        path: &KeyPath,
        t: &toml::Table,
        key: &str,
    ) -> Result<Option<SimDuration>, ScenarioError> {
        let Some(v) = t.get(key) else { return Ok(None) };
        let p = path.key(key);
        let d = self.duration_value(&p, v)?;
        if d == SimDuration::ZERO {
            return Err(self.err(&p, "must be longer than zero"));
        }
        Ok(Some(d))
    }

    fn choice<'v>(
        &self,
        path: &KeyPath,
        t: &'v toml::Table,
        key: &str,
        allowed: &[&str],
    ) -> Result<Option<&'v str>, ScenarioError> {
        let Some(v) = t.get(key) else { return Ok(None) };
        let p = path.key(key);
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Ok(Some(s)),
            _ => {
                let hint = v
                    .as_str()
                    .and_then(|s| did_you_mean(s, allowed.iter().copied()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                Err(self.err(
                    &p,
                    format!(
                        "expected one of {}, found `{v}`{hint}",
                        allowed
                            .iter()
                            .map(|a| format!("\"{a}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        }
    }
}

/// `noise = "off"`, or `[noise]` with any of the `NoiseSpec` keys (defaults otherwise).
fn build_noise(ctx: &Ctx<'_>, v: Option<&Value>) -> Result<Option<NoiseSpec>, ScenarioError> {
    let p = KeyPath::root().key("noise");
    let t = match v {
        None => return Ok(Some(NoiseSpec::default())),
        Some(Value::String(s)) if s == "off" => return Ok(None),
        Some(Value::Table(t)) => t,
        Some(other) => {
            return Err(ctx.err(
                &p,
                format!("expected \"off\" or a table such as [noise] load = 0.6, found `{other}`"),
            ));
        }
    };
    ctx.known_keys(
        &p,
        t,
        &[
            "load",
            "burstiness",
            "sources",
            "time_scale",
            "contention",
            "max_slowdown",
            "speed_sigma_shared",
            "speed_sigma_dedicated",
            "drift_sigma_shared",
            "drift_sigma_dedicated",
            "drift_time",
            "drift_step",
        ],
    )?;
    let mut n = NoiseSpec::default();
    if let Some(x) = ctx.num_in(&p, t, "load", 0.0, 1.0)? {
        n.load = x;
    }
    if let Some(x) = ctx.num_in(&p, t, "burstiness", 1.0, 100.0)? {
        n.burstiness = x;
    }
    if let Some(x) = ctx.num_in(&p, t, "sources", 1.0, 10_000.0)? {
        if x.fract() != 0.0 {
            return Err(ctx.err(&p.key("sources"), "must be a whole number"));
        }
        n.sources = x as u32;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "time_scale")? {
        n.time_scale = d;
    }
    if let Some(x) = ctx.num_in(&p, t, "contention", 0.0, 1.0)? {
        n.contention = x;
    }
    if let Some(x) = ctx.num_in(&p, t, "max_slowdown", 1.0, 100.0)? {
        n.max_slowdown = x;
    }
    for (key, slot) in [
        ("speed_sigma_shared", &mut n.speed_sigma_shared),
        ("speed_sigma_dedicated", &mut n.speed_sigma_dedicated),
        ("drift_sigma_shared", &mut n.drift_sigma_shared),
        ("drift_sigma_dedicated", &mut n.drift_sigma_dedicated),
    ] {
        if let Some(x) = ctx.num_in(&p, t, key, 0.0, 1.0)? {
            *slot = x;
        }
    }
    if let Some(d) = ctx.positive_duration(&p, t, "drift_time")? {
        n.drift_time = d;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "drift_step")? {
        n.drift_step = d;
    }
    Ok(Some(n))
}

/// `[placement]`: policy and the shared pool's instances.
fn build_placement(ctx: &Ctx<'_>, v: Option<&Value>) -> Result<PlacementSpec, ScenarioError> {
    let mut spec = PlacementSpec::default();
    let Some(v) = v else { return Ok(spec) };
    let p = KeyPath::root().key("placement");
    let t = ctx.table(&p, v, "a table such as [placement] policy = \"binpack\"")?;
    ctx.known_keys(
        &p,
        t,
        &[
            "policy",
            "instances",
            "vcpus",
            "memory_mb",
            "speed",
            "tenant_memory",
        ],
    )?;
    if let Some(policy) = ctx.choice(&p, t, "policy", &["spread", "random", "binpack"])? {
        spec.policy = match policy {
            "random" => PlacementPolicy::Random,
            "binpack" => PlacementPolicy::BinPack,
            _ => PlacementPolicy::Spread,
        };
    }
    let whole = |key: &str, x: f64| -> Result<(), ScenarioError> {
        if x.fract() != 0.0 {
            return Err(ctx.err(&p.key(key), "must be a whole number"));
        }
        Ok(())
    };
    if let Some(x) = ctx.num_in(&p, t, "instances", 1.0, 1_000_000.0)? {
        whole("instances", x)?;
        spec.shared.instances = x as u32;
    }
    if let Some(x) = ctx.num_in(&p, t, "vcpus", 1.0, 1024.0)? {
        whole("vcpus", x)?;
        spec.shared.instance.vcpus = x as u32;
    }
    if let Some(x) = ctx.num_in(&p, t, "memory_mb", 512.0, 1e8)? {
        whole("memory_mb", x)?;
        spec.shared.instance.memory_mb = x as u64;
    }
    if let Some(x) = ctx.num_in(&p, t, "speed", 0.01, 100.0)? {
        spec.shared.instance.speed = x;
    }
    if let Some(x) = ctx.num_in(&p, t, "tenant_memory", 0.0, 0.99)? {
        spec.shared.tenant_memory = x;
    }
    Ok(spec)
}

/// `[cpu]`: how caps are enforced.
fn build_cpu(ctx: &Ctx<'_>, v: Option<&Value>) -> Result<CpuSpec, ScenarioError> {
    let mut spec = CpuSpec::default();
    let Some(v) = v else { return Ok(spec) };
    let p = KeyPath::root().key("cpu");
    let t = ctx.table(&p, v, "a table such as [cpu] mode = \"cfs\"")?;
    ctx.known_keys(&p, t, &["mode", "period", "phase"])?;
    if let Some(mode) = ctx.choice(&p, t, "mode", &["fluid", "cfs"])? {
        spec.mode = if mode == "cfs" {
            CpuMode::Cfs
        } else {
            CpuMode::Fluid
        };
    }
    if let Some(d) = ctx.positive_duration(&p, t, "period")? {
        spec.period = d;
    }
    match t.get("phase") {
        None => {}
        Some(Value::String(s)) if s == "random" => spec.phase = None,
        Some(v) => {
            let d = ctx.duration_value(&p.key("phase"), v)?;
            if d >= spec.period {
                return Err(ctx.err(
                    &p.key("phase"),
                    format!("must be shorter than the period ({})", spec.period),
                ));
            }
            spec.phase = Some(d);
        }
    }
    Ok(spec)
}

/// Boot, crash and memory settings of one process type.
fn build_process_lifecycle(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    pr: &super::raw::RawProcess,
    is_web: bool,
) -> Result<ProcessLifecycle, ScenarioError> {
    let boot = match &pr.boot {
        Some(v) => ctx.dist(&p.key("boot"), v)?,
        None => default_boot(),
    };
    let boot_timeout = match &pr.boot_timeout {
        Some(t) => {
            let d = ctx.duration(&p.key("boot_timeout"), t)?;
            if d == SimDuration::ZERO {
                return Err(ctx.err(&p.key("boot_timeout"), "must be longer than zero"));
            }
            Some(d)
        }
        // R10 is about binding $PORT, so only web processes have it.
        None if is_web => Some(SimDuration::from_secs(60)),
        None => None,
    };
    let crash_mtbf = match &pr.crash_mtbf {
        Some(t) => {
            let d = ctx.duration(&p.key("crash_mtbf"), t)?;
            if d < SimDuration::from_secs(1) {
                return Err(ctx.err(&p.key("crash_mtbf"), "must be at least 1s"));
            }
            Some(d)
        }
        None => None,
    };
    let mut memory = MemorySpec::default();
    if let Some(v) = &pr.memory {
        let mp = p.key("memory");
        let t = ctx.table(
            &mp,
            v,
            "a table such as { base_mb = 200, growth_mb_per_h = 20 }",
        )?;
        ctx.known_keys(
            &mp,
            t,
            &[
                "base_mb",
                "per_request_mb",
                "growth_mb_per_h",
                "swap_slowdown",
            ],
        )?;
        if let Some(x) = ctx.num_in(&mp, t, "base_mb", 0.0, 1e7)? {
            memory.base_mb = x;
        }
        if let Some(x) = ctx.num_in(&mp, t, "per_request_mb", 0.0, 1e6)? {
            memory.per_request_mb = x;
        }
        if let Some(x) = ctx.num_in(&mp, t, "growth_mb_per_h", 0.0, 1e7)? {
            memory.growth_mb_per_h = x;
        }
        if let Some(x) = ctx.num_in(&mp, t, "swap_slowdown", 1.0, 1000.0)? {
            memory.swap_slowdown = x;
        }
    }
    Ok(ProcessLifecycle {
        boot,
        boot_timeout,
        crash_mtbf,
        memory,
    })
}

/// Boot time when a scenario does not say: lognormal, median 5 s, p99 30 s. Assumption: Heroku
/// publishes none; a third party sees new dynos take 20-60 s to receive requests including the
/// platform's own start-up (heroku-dynos.md section 2).
pub fn default_boot() -> Dist {
    Dist::lognormal_from_median_p99(5.0, 30.0)
}

/// `[lifecycle]`: platform-wide rules.
fn build_lifecycle(ctx: &Ctx<'_>, v: Option<&Value>) -> Result<LifecycleSpec, ScenarioError> {
    let mut spec = LifecycleSpec::default();
    let Some(v) = v else { return Ok(spec) };
    let p = KeyPath::root().key("lifecycle");
    let t = ctx.table(&p, v, "a table such as [lifecycle] cycling = false")?;
    ctx.known_keys(
        &p,
        t,
        &[
            "cycling",
            "drain",
            "router_hold",
            "eco_sleep",
            "sleep_after",
            "wake",
            "backoff_reset",
            "backoff",
            "preboot_window",
        ],
    )?;
    let flag = |key: &str| -> Result<Option<bool>, ScenarioError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(ctx.err(
                &p.key(key),
                format!("expected true or false, found `{other}`"),
            )),
        }
    };
    if let Some(b) = flag("cycling")? {
        spec.cycling = b;
    }
    if let Some(b) = flag("eco_sleep")? {
        spec.eco_sleep = b;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "drain")? {
        spec.drain = d;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "router_hold")? {
        spec.router_hold = d;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "sleep_after")? {
        spec.sleep_after = d;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "backoff_reset")? {
        spec.backoff_reset = d;
    }
    if let Some(d) = ctx.positive_duration(&p, t, "preboot_window")? {
        spec.preboot_window = d;
    }
    if let Some(w) = t.get("wake") {
        spec.wake = ctx.dist(&p.key("wake"), w)?;
    }
    if let Some(b) = t.get("backoff") {
        let bp = p.key("backoff");
        let Value::Array(items) = b else {
            return Err(ctx.err(
                &bp,
                "expected a list of durations, e.g. [\"0s\", \"20m\", \"40m\"]",
            ));
        };
        if items.is_empty() {
            return Err(ctx.err(&bp, "needs at least one duration"));
        }
        spec.backoff = items
            .iter()
            .enumerate()
            .map(|(i, v)| ctx.duration_value(&bp.index(i), v))
            .collect::<Result<_, _>>()?;
    }
    Ok(spec)
}

/// `[app.filesystem]`: slug, writes, sticky reads and the local cache.
fn build_filesystem(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    v: &Value,
) -> Result<FilesystemSpec, ScenarioError> {
    let t = ctx.table(p, v, "a table such as [app.filesystem] slug_mb = 80")?;
    ctx.known_keys(
        p,
        t,
        &[
            "slug_mb",
            "write_probability",
            "write_kb",
            "read_probability",
            "clients",
            "cache_items",
            "cache_zipf",
            "cache_miss",
        ],
    )?;
    let whole = |key: &str, x: f64| -> Result<(), ScenarioError> {
        if x.fract() != 0.0 {
            return Err(ctx.err(&p.key(key), "must be a whole number"));
        }
        Ok(())
    };
    let clients = ctx
        .num_in(p, t, "clients", 1.0, 10_000_000.0)?
        .unwrap_or(1000.0);
    whole("clients", clients)?;
    let items = ctx
        .num_in(p, t, "cache_items", 0.0, 10_000_000.0)?
        .unwrap_or(0.0);
    whole("cache_items", items)?;
    Ok(FilesystemSpec {
        slug_mb: ctx.num_in(p, t, "slug_mb", 0.0, 100_000.0)?.unwrap_or(50.0),
        write_probability: ctx
            .num_in(p, t, "write_probability", 0.0, 1.0)?
            .unwrap_or(0.0),
        write_kb: ctx
            .num_in(p, t, "write_kb", 0.0, 10_000_000.0)?
            .unwrap_or(64.0),
        read_probability: ctx
            .num_in(p, t, "read_probability", 0.0, 1.0)?
            .unwrap_or(0.0),
        clients: clients as u32,
        cache_items: items as u32,
        cache_zipf: ctx.num_in(p, t, "cache_zipf", 0.0, 10.0)?.unwrap_or(1.0),
        cache_miss: match t.get("cache_miss") {
            Some(v) => ctx.dist(&p.key("cache_miss"), v)?,
            None => Dist::Constant(0.1),
        },
    })
}

/// The Private Space regions (heroku-dynos.md section 8).
const SPACE_REGIONS: [&str; 10] = [
    "dublin",
    "frankfurt",
    "london",
    "montreal",
    "mumbai",
    "oregon",
    "singapore",
    "sydney",
    "tokyo",
    "virginia",
];

/// `[[space]]` tables.
fn build_spaces(
    ctx: &Ctx<'_>,
    raw: &[super::raw::RawSpace],
) -> Result<Vec<SpaceSpec>, ScenarioError> {
    let mut out: Vec<SpaceSpec> = Vec::new();
    for (i, sp) in raw.iter().enumerate() {
        let p = KeyPath::root().key("space").index(i);
        if sp.name.trim().is_empty() {
            return Err(ctx.err(&p.key("name"), "the space name must not be empty"));
        }
        if out.iter().any(|o| o.name == sp.name) {
            return Err(ctx.err(
                &p.key("name"),
                format!("duplicate space name `{}`", sp.name),
            ));
        }
        let kind = match sp.kind.as_str() {
            "private" => Tier::Private,
            "shield" => Tier::Shield,
            "fir" => Tier::Fir,
            other => {
                return Err(ctx.err(
                    &p.key("kind"),
                    format!("a space is \"private\", \"shield\" or \"fir\", not `{other}`"),
                ));
            }
        };
        if !SPACE_REGIONS.contains(&sp.region.as_str()) {
            let hint = did_you_mean(&sp.region, SPACE_REGIONS.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(ctx.err(
                &p.key("region"),
                format!(
                    "unknown space region `{}`{hint}; spaces run in: {}",
                    sp.region,
                    SPACE_REGIONS.join(", ")
                ),
            ));
        }
        if let Some(ranges) = &sp.trusted_ips {
            for (j, r) in ranges.iter().enumerate() {
                if let Err(m) = parse_cidr(r) {
                    return Err(ctx.err(&p.key("trusted_ips").index(j), m));
                }
            }
        }
        out.push(SpaceSpec {
            name: sp.name.clone(),
            kind,
            region: sp.region.clone(),
            trusted_ips: sp.trusted_ips.clone(),
        });
    }
    Ok(out)
}

/// Check `a.b.c.d/n` or an IPv6 CIDR.
fn parse_cidr(text: &str) -> Result<(), String> {
    let (addr, len) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a CIDR range such as \"203.0.113.0/24\""))?;
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|_| format!("`{addr}` in `{text}` is not an IP address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match len.parse::<u32>() {
        Ok(n) if n <= max => Ok(()),
        _ => Err(format!(
            "`{len}` in `{text}` is not a prefix length between 0 and {max}"
        )),
    }
}

/// Sizes must match where the app runs: private-* in private spaces, shield-* in shield spaces,
/// dyno-* in Fir spaces, and the Common Runtime tiers outside spaces (Heroku dyno tiers).
fn check_size_fits_space(
    ctx: &Ctx<'_>,
    path: &KeyPath,
    size: &Size,
    space: Option<&SpaceSpec>,
    app: &str,
) -> Result<(), ScenarioError> {
    let needs = match size.tier {
        Tier::Private => Some(Tier::Private),
        Tier::Shield => Some(Tier::Shield),
        Tier::Fir => Some(Tier::Fir),
        _ => None,
    };
    match (needs, space) {
        (None, None) => Ok(()),
        (Some(k), Some(sp)) if sp.kind == k => Ok(()),
        (None, Some(sp)) => Err(ctx.err(
            path,
            format!(
                "{} dynos run on the Common Runtime, but app `{app}` is in {} space `{}`; use {} sizes there",
                size.display,
                sp.kind,
                sp.name,
                space_sizes(sp.kind)
            ),
        )),
        (Some(k), None) => Err(ctx.err(
            path,
            format!(
                "{} dynos run only in {k} spaces; put app `{app}` in a [[space]] of kind \"{k}\" or use a Common Runtime size",
                size.display
            ),
        )),
        (Some(k), Some(sp)) => Err(ctx.err(
            path,
            format!(
                "{} dynos run only in {k} spaces, but `{}` is a {} space; use {} sizes there",
                size.display,
                sp.name,
                sp.kind,
                space_sizes(sp.kind)
            ),
        )),
    }
}

fn space_sizes(kind: Tier) -> &'static str {
    match kind {
        Tier::Private => "private-*",
        Tier::Shield => "shield-*",
        _ => "dyno-* (Fir)",
    }
}

/// `[network]`: `latency` sets every link; each link key overrides it.
fn build_network(
    ctx: &Ctx<'_>,
    raw: Option<&super::raw::RawNetwork>,
) -> Result<NetworkSpec, ScenarioError> {
    let p = KeyPath::root().key("network");
    let all = match raw.and_then(|n| n.latency.as_ref()) {
        Some(v) => Some(ctx.dist(&p.key("latency"), v)?),
        None => None,
    };
    let link = |key: &str, v: Option<&Value>, default: Dist| -> Result<Dist, ScenarioError> {
        match v {
            Some(v) => ctx.dist(&p.key(key), v),
            None => Ok(all.clone().unwrap_or(default)),
        }
    };
    let n = raw;
    Ok(NetworkSpec {
        // `latency` covers the platform's links; the client's own link is separate (0 unless
        // given), so `latency = "2ms"` means 2 ms per hop inside the platform.
        client_router: match n.and_then(|n| n.client_router.as_ref()) {
            Some(v) => ctx.dist(&p.key("client_router"), v)?,
            None => Dist::Constant(0.0),
        },
        router_dyno: link(
            "router_dyno",
            n.and_then(|n| n.router_dyno.as_ref()),
            default_network(),
        )?,
        space_router_dyno: link(
            "space_router_dyno",
            n.and_then(|n| n.space_router_dyno.as_ref()),
            Dist::lognormal_from_median_p99(0.0005, 0.002),
        )?,
        space_dyno_dyno: link(
            "space_dyno_dyno",
            n.and_then(|n| n.space_dyno_dyno.as_ref()),
            Dist::lognormal_from_median_p99(0.0003, 0.0015),
        )?,
        egress_router: link(
            "egress_router",
            n.and_then(|n| n.egress_router.as_ref()),
            Dist::lognormal_from_median_p99(0.003, 0.015),
        )?,
    })
}

/// `[app.router]`.
fn build_router(
    ctx: &Ctx<'_>,
    p: &KeyPath,
    v: Option<&Value>,
) -> Result<RouterSpec, ScenarioError> {
    let mut spec = RouterSpec::default();
    let Some(v) = v else { return Ok(spec) };
    let t = ctx.table(p, v, "a table such as [app.router] routers = 4")?;
    ctx.known_keys(
        p,
        t,
        &["routers", "active_limit", "backlog_per_dyno", "keepalive"],
    )?;
    let whole = |key: &str, lo: f64, hi: f64| -> Result<Option<u32>, ScenarioError> {
        match ctx.num_in(p, t, key, lo, hi)? {
            Some(x) if x.fract() != 0.0 => Err(ctx.err(&p.key(key), "must be a whole number")),
            Some(x) => Ok(Some(x as u32)),
            None => Ok(None),
        }
    };
    if let Some(n) = whole("routers", 1.0, 255.0)? {
        spec.routers = n;
    }
    if let Some(n) = whole("active_limit", 1.0, 100_000.0)? {
        spec.active_limit = n;
    }
    if let Some(n) = whole("backlog_per_dyno", 0.0, 100_000.0)? {
        spec.backlog_per_dyno = n;
    }
    match t.get("keepalive") {
        None => {}
        Some(Value::Boolean(b)) => spec.keepalive = *b,
        Some(other) => {
            return Err(ctx.err(
                &p.key("keepalive"),
                format!("expected true or false, found `{other}`"),
            ));
        }
    }
    Ok(spec)
}

/// Build every workload's calls, now that all apps are known: routes, forbidden calls, cycles.
fn resolve_calls(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    apps: &mut [AppSpec],
) -> Result<(), ScenarioError> {
    for a in 0..apps.len() {
        let Some(w) = raw.app[a].workload.as_ref() else {
            continue;
        };
        let Some(list) = &w.calls else { continue };
        let path = KeyPath::root()
            .key("app")
            .index(a)
            .key("workload")
            .key("calls");
        let Some(proc_) = apps[a].workload.as_ref().map(|w| w.process) else {
            continue;
        };
        let mut stack = vec![(a, proc_)];
        let calls = build_calls(ctx, raw, apps, &path, list, &mut stack)?;
        if let Some(wl) = apps[a].workload.as_mut() {
            wl.calls = calls;
        }
    }
    Ok(())
}

fn build_calls(
    ctx: &Ctx<'_>,
    raw: &RawScenario,
    apps: &[AppSpec],
    path: &KeyPath,
    list: &[Value],
    stack: &mut Vec<(usize, usize)>,
) -> Result<Vec<CallSpec>, ScenarioError> {
    let (caller_app, caller_proc) = *stack.last().expect("the caller is on the stack");
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        let p = path.index(i);
        let t = ctx.table(
            &p,
            v,
            "a table such as { app = \"api\", process = \"web\" }",
        )?;
        ctx.known_keys(
            &p,
            t,
            &["app", "process", "count", "parallel", "cpu", "wait"],
        )?;
        let str_key = |k: &str| -> Result<Option<&str>, ScenarioError> {
            match t.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(o) => Err(ctx.err(&p.key(k), format!("expected a string, found `{o}`"))),
            }
        };
        let callee_name = str_key("app")?.unwrap_or(apps[caller_app].name.as_str());
        let Some(ca) = apps.iter().position(|x| x.name == callee_name) else {
            return Err(ctx.err(&p.key("app"), format!("unknown app `{callee_name}`")));
        };
        let pname = str_key("process")?.unwrap_or("web");
        let Some(cp) = apps[ca].processes.iter().position(|x| x.name == pname) else {
            return Err(ctx.err(
                &p.key("process"),
                format!("app `{callee_name}` has no process type `{pname}`"),
            ));
        };
        let count = match ctx.num_in(&p, t, "count", 1.0, 1000.0)? {
            Some(x) if x.fract() != 0.0 => {
                return Err(ctx.err(&p.key("count"), "must be a whole number"));
            }
            Some(x) => x as u32,
            None => 1,
        };
        let parallel = match t.get("parallel") {
            None => false,
            Some(Value::Boolean(b)) => *b,
            Some(o) => {
                return Err(ctx.err(
                    &p.key("parallel"),
                    format!("expected true or false, found `{o}`"),
                ));
            }
        };
        // Which network the call takes, and whether the platform allows it at all.
        let (caller, callee) = (&apps[caller_app], &apps[ca]);
        let where_ = |app: &AppSpec| match app.space {
            Some(s) => format!("space `{}`", ctx_space_name(raw, s)),
            None => "the Common Runtime".to_string(),
        };
        let same_space = caller.space.is_some() && caller.space == callee.space;
        let fir = callee
            .space
            .is_some_and(|s| raw.space.get(s).is_some_and(|sp| sp.kind == "fir"));
        let route = if same_space && !fir {
            CallRoute::Space
        } else if same_space && pname != "web" {
            // "DNS service discovery is unavailable in Fir spaces" (heroku-dynos.md section 8).
            return Err(ctx.err(
                &p,
                format!(
                    "forbidden call from `{}/{}` to `{}/{pname}` in Fir space `{}`: Fir spaces have no DNS service discovery, so only web processes are reachable, through the space's router",
                    caller.name,
                    caller.processes[caller_proc].name,
                    callee.name,
                    ctx_space_name(raw, callee.space.unwrap_or(0))
                ),
            ));
        } else if pname == "web" {
            CallRoute::PublicRouter
        } else {
            let why = if callee.space.is_none() {
                "Common Runtime dynos accept connections only from the router, and only web processes get routed traffic"
            } else {
                "only web processes are reachable from outside their space"
            };
            return Err(ctx.err(
                &p,
                format!(
                    "forbidden call from `{}/{}` ({}) to `{}/{pname}` ({}): {why}",
                    caller.name,
                    caller.processes[caller_proc].name,
                    where_(caller),
                    callee.name,
                    where_(callee)
                ),
            ));
        };
        if stack.contains(&(ca, cp)) {
            let chain: Vec<String> = stack
                .iter()
                .chain(std::iter::once(&(ca, cp)))
                .map(|(a, q)| format!("{}/{}", apps[*a].name, apps[*a].processes[*q].name))
                .collect();
            return Err(ctx.err(&p, format!("calls form a cycle: {}", chain.join(" -> "))));
        }
        // The callee's work: given here, or its own workload's when it is that app's target.
        let callee_wl = apps[ca].workload.as_ref().filter(|w| w.process == cp);
        let cpu = match t.get("cpu") {
            Some(v) => ctx.dist(&p.key("cpu"), v)?,
            None => match callee_wl {
                Some(w) => w.cpu.clone(),
                None => {
                    return Err(ctx.err(
                        &p,
                        format!("the call to `{callee_name}/{pname}` needs `cpu` (that process has no [app.workload] to take it from)"),
                    ));
                }
            },
        };
        let wait = match t.get("wait") {
            Some(v) => ctx.dist(&p.key("wait"), v)?,
            None => callee_wl.map_or(Dist::Constant(0.0), |w| w.wait.clone()),
        };
        // The callee's own calls come from its workload (only when its work comes from there).
        let nested = match (
            t.get("cpu"),
            raw.app[ca].workload.as_ref().and_then(|w| w.calls.as_ref()),
            callee_wl,
        ) {
            (None, Some(list), Some(_)) => {
                stack.push((ca, cp));
                let np = KeyPath::root()
                    .key("app")
                    .index(ca)
                    .key("workload")
                    .key("calls");
                let c = build_calls(ctx, raw, apps, &np, list, stack)?;
                stack.pop();
                c
            }
            _ => Vec::new(),
        };
        out.push(CallSpec {
            app: ca,
            process: cp,
            count,
            parallel,
            route,
            cpu,
            wait,
            calls: nested,
        });
    }
    Ok(out)
}

fn ctx_space_name(raw: &RawScenario, i: usize) -> &str {
    raw.space.get(i).map_or("?", |s| s.name.as_str())
}
