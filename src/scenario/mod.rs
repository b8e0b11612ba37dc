//! Scenario files: parse, validate, expand sweeps into jobs.
//!
//! A scenario is TOML (docs/scenario.md). Every problem is reported as a [`ScenarioError`] naming
//! the file, line, column and key path, before anything runs or any output is written.

mod build;
mod error;
mod size;
mod source;
mod sweep;
pub mod trace_file;
mod units;
mod warnings;

pub use build::{DEFAULT_REQUEST_TIMEOUT, default_network};
pub use error::{KeyPath, ScenarioError, Seg};
pub use size::{MAX_JOBS, SizeEstimate};
pub use units::parse_duration;

use crate::engine::SeedTree;
use crate::model::SimConfig;
use build::RawScenario;
use build::{Ctx, Override, Settings, TraceCache};
use error::Locator;
use sha2::{Digest, Sha256};
use std::path::Path;

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
    /// The folder relative paths inside the scenario (traces) resolve against.
    pub base_dir: std::path::PathBuf,
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = source::read_scenario(path).map_err(|p| {
            let (line, column, message) = match p {
                source::ReadProblem::File(m) => (None, None, m),
                source::ReadProblem::NotUtf8 { line, column } => (
                    Some(line),
                    Some(column),
                    "invalid UTF-8; a scenario must be UTF-8 text".to_string(),
                ),
            };
            ScenarioError {
                file: file.clone(),
                line,
                column,
                key: KeyPath::root(),
                message,
            }
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
        let traces = TraceCache::default();
        let ctx = Ctx {
            loc: &loc,
            base_dir,
            overrides: &[],
            traces: &traces,
        };
        let (base_config, settings) = build::build(&ctx, &raw)?;
        let name = settings
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        check_name(&loc, &name, settings.name.is_none())?;

        let mut axes = Vec::new();
        if let Some(sweep) = &raw.sweep {
            let (mut doc, doc_seed) = sweep_document(&loc, text, settings.seed)?;
            // The settings every point must have: the file's, with the seed the table holds.
            let fixed = Settings {
                seed: doc_seed,
                ..settings.clone()
            };
            for (key, list) in sweep {
                if key == "together" {
                    axes.extend(sweep::together(&doc, list).map_err(|(p, m)| loc.error_at(&p, m))?);
                    continue;
                }
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
                axes.push(sweep::Axis::single(key, target, values));
            }
            sweep::check_distinct(&axes).map_err(|(p, m)| loc.error_at(&p, m))?;
            let lengths: Vec<(&str, usize)> = axes
                .iter()
                .map(|a| (a.keys[0].as_str(), a.values.len()))
                .collect();
            size::check_job_count(&loc, &lengths, settings.replications)?;
            // Without its [sweep] (cloning the sweep's values for every point is quadratic).
            doc.remove("sweep");
            let mut points = Vec::new();
            for (index, combo) in sweep::grid(&axes).into_iter().enumerate() {
                let set: Vec<(&sweep::Axis, usize)> = axes
                    .iter()
                    .zip(&combo)
                    .map(|(axis, &vi)| (axis, vi))
                    .collect();
                let config = build_point(&ctx, &doc, &set, &fixed)?;
                points.push(Point {
                    index,
                    values: combo
                        .iter()
                        .zip(&axes)
                        .flat_map(|(&vi, a)| a.values[vi].iter().map(sweep::show))
                        .collect(),
                    config,
                });
            }
            let s = Scenario::assemble(name, file, text, base_dir, settings, axes, points);
            s.check_placement()?;
            return Ok(s);
        }
        size::check_job_count(&loc, &[], settings.replications)?;
        let points = vec![Point {
            index: 0,
            values: Vec::new(),
            config: base_config,
        }];
        let s = Scenario::assemble(name, file, text, base_dir, settings, axes, points);
        s.check_placement()?;
        Ok(s)
    }

    fn assemble(
        name: String,
        file: &str,
        text: &str,
        base_dir: &Path,
        settings: Settings,
        axes: Vec<sweep::Axis>,
        points: Vec<Point>,
    ) -> Scenario {
        let warnings = warnings::warnings(&points, settings.replications, &name);
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
            sweep_keys: axes.into_iter().flat_map(|a| a.keys).collect(),
            points,
            warnings,
            calibration: settings.calibration,
            base_dir: base_dir.to_path_buf(),
        }
    }

    /// This scenario's model with the values at sweep-style dotted keys replaced (for example
    /// `("app.shop.process.web.size", "performance-m")`), built and checked exactly as a sweep
    /// point is: `plan` makes its candidate formations this way, so a candidate the platform
    /// would refuse (a count over the tier's limit, a size outside the app's space) is refused
    /// with the same message. Only for a scenario without a `[sweep]`.
    pub fn variant(&self, values: &[(&str, toml::Value)]) -> Result<SimConfig, ScenarioError> {
        let loc = Locator::new(&self.file, &self.text);
        let traces = TraceCache::default();
        let ctx = Ctx {
            loc: &loc,
            base_dir: &self.base_dir,
            overrides: &[],
            traces: &traces,
        };
        let (mut doc, seed) = sweep_document(&loc, &self.text, self.seed)?;
        if doc.remove("sweep").is_some() {
            return Err(loc.error_at(
                &KeyPath::root().key("sweep"),
                "a scenario with a [sweep] has no single model to vary; remove the [sweep]",
            ));
        }
        let raw = parse_raw(&loc, &self.text)?;
        let (_, settings) = build::build(&ctx, &raw)?;
        let fixed = Settings { seed, ..settings };
        let mut axes = Vec::new();
        for (key, value) in values {
            let target = sweep::resolve(&doc, key)
                .map_err(|m| loc.error_at(&KeyPath::root(), format!("`{key}`: {m}")))?;
            axes.push(sweep::Axis::single(
                key,
                target,
                std::slice::from_ref(value),
            ));
        }
        let set: Vec<(&sweep::Axis, usize)> = axes.iter().map(|a| (a, 0)).collect();
        build_point(&ctx, &doc, &set, &fixed)
    }

    /// Check that every job's formation can be placed on instances (the random policy depends on
    /// the job's seed, so each job is tried). Call again after changing `seed` or `replications`.
    /// Also checks the job count against [`MAX_JOBS`] first, so a `--replications` override
    /// cannot make a job list too large to hold.
    pub fn check_placement(&self) -> Result<(), ScenarioError> {
        let loc = Locator::new(&self.file, &self.text);
        let points = [("", self.points.len())];
        let axes: &[(&str, usize)] = if self.sweep_keys.is_empty() {
            &[]
        } else {
            &points
        };
        size::check_job_count(&loc, axes, self.replications)?;
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

    /// Requests this scenario will simulate and the size of its requests.csv, estimated from
    /// the offered load (`seed` and `replications` as they are now).
    pub fn size_estimate(&self) -> SizeEstimate {
        size::estimate(&self.points, self.replications, &self.name)
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

/// One sweep point: `doc` (the scenario without its `[sweep]`) with each axis's value set,
/// deserialized and built; its settings must be the file's (`fixed`).
fn build_point(
    ctx: &Ctx<'_>,
    doc: &toml::Table,
    set: &[(&sweep::Axis, usize)],
    fixed: &Settings,
) -> Result<SimConfig, ScenarioError> {
    let loc = ctx.loc;
    let mut t = doc.clone();
    let mut overrides = Vec::new();
    for (axis, choice) in set {
        for (target, value) in axis.targets.iter().zip(&axis.values[*choice]) {
            sweep::set(&mut t, target, value.clone());
            overrides.push(Override {
                target: target.clone(),
                entry: axis.entry.clone(),
                shown: format!("`{}`", sweep::show(value)),
            });
        }
    }
    let ctx = Ctx {
        overrides: &overrides,
        ..*ctx
    };
    let raw_point: RawScenario = serde_path_to_error::deserialize(toml::Value::Table(t))
        .map_err(|e| sweep_type_error(loc, &overrides, &convert_path(e.path()), e.inner()))?;
    let (config, point_settings) = build::build(&ctx, &raw_point)?;
    if &point_settings != fixed {
        let mut e = loc.error_at(&KeyPath::root().key("sweep"), "only the model can be swept: seed, replications, name and common_random_numbers must stay fixed");
        e.key = KeyPath::root().key("sweep");
        return Err(e);
    }
    Ok(config)
}

/// The longest scenario name, in characters (ASCII, so bytes). The output folder's staging
/// name (`.<name>.partial-...`) and a shard's folder (`<name>.shard-K-of-N`) must fit the 255
/// bytes of a file name.
pub const MAX_NAME_CHARS: usize = 200;

fn check_name(loc: &Locator<'_>, name: &str, from_file_name: bool) -> Result<(), ScenarioError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let whose = if from_file_name {
        " (the name comes from the file name; set `name` to choose another)"
    } else {
        ""
    };
    let path = KeyPath::root().key("name");
    if !ok {
        // Not echoed in full: a name can be any string.
        let shown: String = name.chars().take(40).collect();
        let cut = if name.chars().count() > 40 { "..." } else { "" };
        return Err(loc.error_at(
            &path,
            format!("`{shown}{cut}` cannot name an output folder; use letters, digits, '-', '_' and '.'{whose}"),
        ));
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(loc.error_at(
            &path,
            format!(
                "the name has {} characters; an output folder's name takes at most {MAX_NAME_CHARS}{whose}",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The scenario as a TOML table for the sweep to edit, and the seed that table holds. A TOML
/// table holds signed integers, so a seed from 2^63 up (valid: seeds are unsigned 64-bit) is
/// replaced by 0 in the table; the seed is not part of the model, and the scenario keeps its own.
fn sweep_document(
    loc: &Locator<'_>,
    text: &str,
    seed: u64,
) -> Result<(toml::Table, u64), ScenarioError> {
    let e = match toml::from_str::<toml::Table>(text) {
        Ok(doc) => return Ok((doc, seed)),
        Err(e) => e,
    };
    let seed_path = KeyPath::root().key("seed");
    if seed > i64::MAX as u64
        && let Some(span) = loc.span_of(&seed_path)
        && Some(&span) != loc.span_of(&KeyPath::root()).as_ref()
    {
        let mut copy = text.to_string();
        copy.replace_range(span, "0");
        if let Ok(doc) = toml::from_str::<toml::Table>(&copy) {
            return Ok((doc, 0));
        }
    }
    // Not expected (the same text was read once already), but placed if it happens.
    Err(loc.error_span(
        KeyPath::root(),
        e.span().or(Some(0..0)),
        format!("the sweep cannot read the scenario: {}", e.message().trim()),
    ))
}

/// A sweep value of the wrong shape, blamed on the `[sweep]` entry that set the value at `path`.
fn sweep_type_error(
    loc: &Locator<'_>,
    overrides: &[Override],
    path: &KeyPath,
    e: &toml::de::Error,
) -> ScenarioError {
    let message = format!(
        "a sweep value does not fit its key: {}{}",
        e.message().trim(),
        hint(e.message())
    );
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
    let sweep_path = o.entry.clone();
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
        let message = e.message().trim();
        match e.span() {
            Some(span) => loc.error_span(
                KeyPath::root(),
                Some(span),
                format!("invalid TOML: {message}"),
            ),
            // toml places every syntax error but one: a dotted key of too many parts.
            None => match source::deep_key(text) {
                Some(span) => loc.error_span(
                    KeyPath::root(),
                    Some(span),
                    format!(
                        "invalid TOML: a dotted key of more than {} parts is more than TOML nests",
                        source::TOML_MAX_KEY_PARTS
                    ),
                ),
                None => loc.error_span(
                    KeyPath::root(),
                    Some(0..0),
                    format!("invalid TOML: {message}"),
                ),
            },
        }
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut path = convert_path(e.path());
        let inner = e.inner();
        let mut message = inner.message().trim().to_string();
        let mut span = inner.span().or_else(|| loc.span_of(&path));
        let original = message.clone();
        if let Some(field) = between(&original, "missing field `", "`") {
            // Point at the table that lacks the key
            // (the top level's keys are missing from line 1).
            let table_span = if path.is_empty() {
                Some(0..0)
            } else {
                loc.span_of(&path)
            };
            path = path.key(field);
            message = format!("missing required key `{field}`");
            span = table_span;
        } else if let Some(field) = between(&original, "unknown field `", "`") {
            message.push_str(&hint(&original));
            if path.0.last() != Some(&Seg::Key(field.to_string())) {
                path = path.key(field);
            }
        } else {
            message.push_str(&hint(&original));
        }
        loc.error_span(path, span, message)
    })
}

/// ` (did you mean `x`?)` for serde's "unknown field `y`, expected one of `x`, ..." and "unknown
/// variant ..." messages when one of the expected names is close; empty otherwise.
fn hint(message: &str) -> String {
    let Some(input) = between(message, "unknown field `", "`")
        .or_else(|| between(message, "unknown variant `", "`"))
    else {
        return String::new();
    };
    let expected: Vec<&str> = message
        .split("expected")
        .nth(1)
        .map(|rest| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    error::did_you_mean(input, expected.iter().copied())
        .map(|h| format!(" (did you mean `{h}`?)"))
        .unwrap_or_default()
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
