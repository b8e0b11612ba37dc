//! Scenario files: parse, validate, expand sweeps into jobs.
//!
//! A scenario is TOML (docs/scenario.md). Every problem is reported as a [`ScenarioError`] naming
//! the file, line, column and key path, before anything runs or any output is written.

mod error;
mod raw;
mod sweep;
mod units;
mod validate;

pub use error::{KeyPath, ScenarioError, Seg};
pub use units::parse_duration;
pub use validate::{DEFAULT_REQUEST_TIMEOUT, default_network};

use crate::engine::SeedTree;
use crate::model::SimConfig;
use error::Locator;
use raw::RawScenario;
use sha2::{Digest, Sha256};
use std::path::Path;
use validate::{Ctx, Override, Settings};

/// One point of the sweep grid (the only point when there is no sweep).
#[derive(Debug, Clone)]
pub struct Point {
    pub index: usize,
    /// The sweep values at this point, in the order of [`Scenario::sweep_keys`].
    pub values: Vec<String>,
    pub config: SimConfig,
}

/// One unit of work: a point x a replication, run single-threaded.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    /// Position in the scenario's job list (job order is output order).
    pub index: usize,
    pub point: usize,
    /// 0-based replication number.
    pub replication: u32,
    /// The job's node in the seed tree; its value is reported as the job seed.
    pub seeds: SeedTree,
}

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    /// The file as named by the user.
    pub file: String,
    /// The file's text (error locations are resolved against it).
    pub text: String,
    /// SHA-256 of the file's text, hex.
    pub text_hash: String,
    pub seed: u64,
    pub replications: u32,
    /// Replication r uses the same random streams at every sweep point.
    pub common_random_numbers: bool,
    /// Swept keys, as written (also CSV column names).
    pub sweep_keys: Vec<String>,
    pub points: Vec<Point>,
    /// Things the user should know that are not errors.
    pub warnings: Vec<String>,
    /// The `calibration` file named by the scenario (for `dynosim validate`), resolved against
    /// the scenario's folder.
    pub calibration: Option<std::path::PathBuf>,
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            line: None,
            column: None,
            key: KeyPath::root(),
            message: format!("cannot read the scenario: {e}"),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, &file, &stem, base)
    }

    /// Validate scenario text. `file` names it in errors, `default_name` is used when the text has
    /// no `name`, and relative paths inside it (trace files) resolve against `base_dir`.
    pub fn parse(
        text: &str,
        file: &str,
        default_name: &str,
        base_dir: &Path,
    ) -> Result<Scenario, ScenarioError> {
        let loc = Locator::new(file, text);
        let raw = parse_raw(&loc, text)?;
        let ctx = Ctx {
            loc: &loc,
            base_dir,
            overrides: &[],
        };
        let (base_config, settings) = validate::build(&ctx, &raw)?;
        let name = settings
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        check_name(&loc, &name)?;

        let mut axes = Vec::new();
        if let Some(sweep) = &raw.sweep {
            let doc: toml::Table =
                toml::from_str(text).map_err(|e| loc.error_file(e.message().to_string()))?;
            for (key, list) in sweep {
                let kp = KeyPath::root().key("sweep").key(key);
                let Some(values) = list.as_array() else {
                    return Err(loc.error_at(
                        &kp,
                        format!("expected a list of values, e.g. [1, 2, 3], found `{list}`"),
                    ));
                };
                if values.is_empty() {
                    return Err(loc.error_at(&kp, "a sweep needs at least one value"));
                }
                let target = sweep::resolve(&doc, key).map_err(|m| loc.error_at(&kp, m))?;
                axes.push(sweep::Axis {
                    key: key.clone(),
                    target,
                    values: values.clone(),
                });
            }
            let mut points = Vec::new();
            for (index, combo) in sweep::grid(&axes).into_iter().enumerate() {
                let mut t = doc.clone();
                t.remove("sweep");
                let mut overrides = Vec::new();
                for (axis, &vi) in axes.iter().zip(&combo) {
                    sweep::set(&mut t, &axis.target, axis.values[vi].clone());
                    overrides.push(Override {
                        target: axis.target.clone(),
                        sweep_key: axis.key.clone(),
                        shown: format!("`{}`", sweep::show(&axis.values[vi])),
                    });
                }
                let ctx = Ctx {
                    overrides: &overrides,
                    ..ctx
                };
                let raw_point: RawScenario =
                    serde_path_to_error::deserialize(toml::Value::Table(t)).map_err(|e| {
                        sweep_type_error(&loc, &overrides, &convert_path(e.path()), e.inner())
                    })?;
                let (config, point_settings) = validate::build(&ctx, &raw_point)?;
                if point_settings != settings {
                    let mut e = loc.error_at(&KeyPath::root().key("sweep"), "only the model can be swept: seed, replications, name and common_random_numbers must stay fixed");
                    e.key = KeyPath::root().key("sweep");
                    return Err(e);
                }
                points.push(Point {
                    index,
                    values: combo
                        .iter()
                        .zip(&axes)
                        .map(|(&vi, a)| sweep::show(&a.values[vi]))
                        .collect(),
                    config,
                });
            }
            let s = Scenario::assemble(name, file, text, settings, axes, points);
            s.check_placement()?;
            return Ok(s);
        }
        let points = vec![Point {
            index: 0,
            values: Vec::new(),
            config: base_config,
        }];
        let s = Scenario::assemble(name, file, text, settings, axes, points);
        s.check_placement()?;
        Ok(s)
    }

    fn assemble(
        name: String,
        file: &str,
        text: &str,
        settings: Settings,
        axes: Vec<sweep::Axis>,
        points: Vec<Point>,
    ) -> Scenario {
        let mut warnings = Vec::new();
        for p in &points {
            let load = crate::model::offered_load(&p.config.apps);
            for (app, loads) in p.config.apps.iter().zip(&load) {
                for (pr, l) in app.processes.iter().zip(loads) {
                    let rho = l.utilization();
                    if pr.count > 0 && rho >= 1.0 {
                        let at = if p.values.is_empty() {
                            String::new()
                        } else {
                            format!(" at point {}", p.index)
                        };
                        warnings.push(format!(
                            "{}/{}{at}: offered CPU load is {:.0}% of its cores; queues will grow until requests time out (H12)",
                            app.name, pr.name, rho * 100.0
                        ));
                    }
                }
            }
        }
        Scenario {
            name,
            file: file.to_string(),
            text: text.to_string(),
            text_hash: Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            seed: settings.seed,
            replications: settings.replications,
            common_random_numbers: settings.common_random_numbers,
            sweep_keys: axes.into_iter().map(|a| a.key).collect(),
            points,
            warnings,
            calibration: settings.calibration,
        }
    }

    /// Check that every job's formation can be placed on instances (the random policy depends on
    /// the job's seed, so each job is tried). Call again after changing `seed` or `replications`.
    pub fn check_placement(&self) -> Result<(), ScenarioError> {
        let loc = Locator::new(&self.file, &self.text);
        let mut tried = std::collections::HashSet::new();
        for job in self.jobs() {
            let config = &self.points[job.point].config;
            // Only the random policy depends on the seed.
            let key = match config.placement.policy {
                crate::model::PlacementPolicy::Random => (job.point, job.seeds.value()),
                _ => (job.point, 0),
            };
            if !tried.insert(key) {
                continue;
            }
            if let Err(e) = crate::model::place(
                &config.apps,
                &config.spaces,
                &config.placement,
                &mut crate::model::placement_stream(job.seeds),
            ) {
                let path = KeyPath::root()
                    .key("app")
                    .index(e.app)
                    .key("process")
                    .index(e.process)
                    .key("count");
                let mut err = loc.error_at(&path, e.message);
                if !self.points[job.point].values.is_empty() {
                    err.message = format!("at sweep point {}: {}", job.point, err.message);
                }
                return Err(err);
            }
        }
        Ok(())
    }

    /// Every job, in output order: points in grid order, replications within each point.
    pub fn jobs(&self) -> Vec<Job> {
        let root = SeedTree::new(self.seed);
        let mut jobs = Vec::new();
        for p in &self.points {
            // With common random numbers the point does not enter the seed: replication r sees the
            // same arrivals and demands at every point.
            let point_node = if self.common_random_numbers {
                root
            } else {
                root.child(p.index as u64)
            };
            for r in 0..self.replications {
                jobs.push(Job {
                    index: jobs.len(),
                    point: p.index,
                    replication: r,
                    seeds: point_node.child(u64::from(r)),
                });
            }
        }
        jobs
    }
}

fn check_name(loc: &Locator<'_>, name: &str) -> Result<(), ScenarioError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(loc.error_at(
            &KeyPath::root().key("name"),
            format!("`{name}` cannot name an output folder; use letters, digits, '-', '_' and '.'"),
        ))
    }
}

/// A sweep value of the wrong shape, blamed on the `[sweep]` entry that set the value at `path`.
fn sweep_type_error(
    loc: &Locator<'_>,
    overrides: &[Override],
    path: &KeyPath,
    e: &toml::de::Error,
) -> ScenarioError {
    let message = format!("a sweep value does not fit its key: {}", e.message().trim());
    // The value at `path` or one of its parents was swept; failing that, `path` is a table the
    // sweep created on the way to its key (an unknown key such as "foo.bar").
    let axis = overrides
        .iter()
        .find(|o| path.0.starts_with(&o.target.0))
        .or_else(|| {
            overrides
                .iter()
                .find(|o| !path.is_empty() && o.target.0.starts_with(&path.0))
        });
    let Some(o) = axis else {
        let sweep = KeyPath::root().key("sweep");
        let mut err = loc.error_at(&sweep, message);
        err.key = sweep;
        return err;
    };
    let shown = if path.0.len() > o.target.0.len() {
        path
    } else {
        &o.target
    };
    let sweep_path = KeyPath::root().key("sweep").key(&o.sweep_key);
    let mut err = loc.error_at(
        &sweep_path,
        format!("at sweep value {} for `{shown}`: {message}", o.shown),
    );
    err.key = sweep_path;
    err
}

/// Deserialize with the key path of the first problem, mapped to a line and column.
fn parse_raw(loc: &Locator<'_>, text: &str) -> Result<RawScenario, ScenarioError> {
    let de = toml::Deserializer::parse(text).map_err(|e| {
        loc.error_span(
            KeyPath::root(),
            e.span(),
            format!("invalid TOML: {}", e.message().trim()),
        )
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path = convert_path(e.path());
        let inner = e.inner();
        let mut message = inner.message().trim().to_string();
        let mut span = inner.span().or_else(|| loc.span_of(&path));
        let original = message.clone();
        if let Some(field) = between(&original, "missing field `", "`") {
            // Point at the table that lacks the key (no line for the top level).
            let table_span = if path.is_empty() {
                None
            } else {
                loc.span_of(&path)
            };
            path = path.key(field);
            message = format!("missing required key `{field}`");
            span = table_span;
        } else if let Some(field) = between(&original, "unknown field `", "`") {
            let expected: Vec<&str> = original
                .split("expected")
                .nth(1)
                .map(|rest| rest.split('`').skip(1).step_by(2).collect())
                .unwrap_or_default();
            if let Some(hint) = error::did_you_mean(field, expected.iter().copied()) {
                message = format!("{message} (did you mean `{hint}`?)");
            }
            if path.0.last() != Some(&Seg::Key(field.to_string())) {
                path = path.key(field);
            }
        }
        loc.error_span(path, span, message)
    })
}

/// The text between `start` and the next `end` in `s`.
fn between<'s>(s: &'s str, start: &str, end: &str) -> Option<&'s str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

fn convert_path(p: &serde_path_to_error::Path) -> KeyPath {
    use serde_path_to_error::Segment;
    KeyPath(
        p.iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
                Segment::Unknown => None,
            })
            .collect(),
    )
}
