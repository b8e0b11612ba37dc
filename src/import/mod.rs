//! `dynosim import heroku-router`: Heroku router logs into a scenario folder that `dynosim run`
//! can replay, so a formation can be tried against the traffic the app really had.
//!
//! The pipeline, one module per step:
//! - [`router_log`]: one line into a typed [`router_log::RouterLine`] (every framing, error
//!   lines, odd values), or a [`router_log::BadLine`] saying which key was wrong;
//! - [`paths`]: a logged path into an endpoint path (`/products/:id`);
//! - [`profile`]: the lines placed in time and aggregated: formation, arrivals per minute,
//!   endpoints and shares, each request's demand (the dyno queues replayed), observed latency;
//! - [`write`]: the folder: `scenario.toml`, `service/*.csv`, `traces/arrivals.csv` (`--trace`),
//!   `import.json`;
//! - [`synthetic`]: the generator of the realistic synthetic log shipped under
//!   `scenarios/router-logs/` (used by its example and by the tests).
//!
//! Bad lines are counted and the first few reported with their line numbers; they never stop
//! an import unless no line at all could be used (then it is bad input, naming the file, the
//! line and the key of the first bad line). The folder is written through a staging folder and
//! committed in one step, and an existing folder is replaced only if an earlier import wrote it
//! (see [`crate::output::folder::check_replaceable_import`]). The generated scenario is loaded
//! before the commit, so a folder that is written is one `dynosim check` accepts.

pub mod paths;
pub mod profile;
pub mod router_log;
pub mod synthetic;
pub mod write;

use crate::model::catalog::Catalog;
use crate::output::folder::{IMPORT_KIND, IMPORT_MANIFEST_FILE};
use crate::output::{OutputError, StagingDir};
use crate::scenario::Scenario;
use crate::scenario::trace_file::{LineReader, TraceError};
use profile::{Collector, DemandMethod, Percentiles, ProcessCount};
use router_log::{Line, parse_line};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The size written when `--size` is not given (an assumption, said so in the file).
pub const DEFAULT_SIZE: &str = "standard-1x";
/// The concurrency written when `--concurrency` is not given.
pub const DEFAULT_CONCURRENCY: u32 = 1;
/// Endpoints kept by default; the rest are pooled as `other`.
pub const DEFAULT_MAX_ENDPOINTS: usize = 20;
/// The longest span of arrivals an import takes, days (a week of minutes is 10,080 stages).
pub const MAX_SPAN_DAYS: f64 = 7.0;
/// Bad lines reported (on stderr and in import.json); the rest are counted.
pub const REPORTED_BAD_LINES: usize = 5;

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub logs: Vec<PathBuf>,
    pub out: PathBuf,
    /// App and scenario name (default: the first log's file stem).
    pub name: Option<String>,
    pub size: Option<String>,
    pub concurrency: Option<u32>,
    /// Write a replayable trace (arrivals, endpoint and demand per request) instead of stages.
    pub trace: bool,
    pub max_endpoints: usize,
}

/// What the log could not say and was taken from flags or defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumptions {
    pub size: String,
    pub size_assumed: bool,
    pub concurrency: u32,
    pub concurrency_assumed: bool,
    /// Where the demand goes in the scenario.
    pub demand_as: &'static str,
    pub noise: &'static str,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRecord {
    pub file: String,
    pub line: u64,
    pub key: Option<String>,
    pub problem: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(k) = &self.key {
            write!(f, "key `{k}`: ")?;
        }
        write!(f, "{}", self.problem)
    }
}

/// Line counts of one log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceCounts {
    pub file: String,
    pub lines: u64,
    /// Router request lines used.
    pub router_lines: u64,
    /// Lines of other sources (app output, dyno state changes, API lines): skipped.
    pub other_lines: u64,
    pub blank_lines: u64,
    pub bad_lines: u64,
}

/// An endpoint as import.json lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestEndpoint {
    pub name: String,
    pub requests: u64,
    pub share: f64,
    pub demand_samples: u64,
    /// Its demand file, or `None` when it takes the workload's.
    pub demand_file: Option<String>,
    pub observed: Percentiles,
}

/// import.json: how the folder was made, and what the log showed.
#[derive(Debug, Clone, Serialize)]
pub struct ImportManifest {
    pub dynosim_version: &'static str,
    pub kind: &'static str,
    pub sources: Vec<SourceCounts>,
    pub bad_lines: Vec<BadRecord>,
    pub start_utc: String,
    pub span_s: f64,
    pub requests: u64,
    pub completed: u64,
    pub websockets: u64,
    pub errors: BTreeMap<String, u64>,
    pub formation: Vec<ProcessCount>,
    pub assumptions: Assumptions,
    pub demand_method: DemandMethod,
    pub arrivals: &'static str,
    pub arrivals_per_minute: Vec<u64>,
    pub observed: Percentiles,
    pub demand: Percentiles,
    pub endpoints: Vec<ManifestEndpoint>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    pub folder: PathBuf,
    pub manifest: ImportManifest,
    pub bad_lines: u64,
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad flags or logs (exit 2).
    #[error("{0}")]
    Input(String),
    /// The output folder was refused (exit 2), or writing it failed (exit 1).
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Something failed while writing (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl ImportError {
    /// Whether a stop request (SIGINT, SIGTERM, SIGHUP) kept the folder from being committed.
    pub fn is_interrupted(&self) -> bool {
        matches!(self, ImportError::Output(e) if e.is_interrupted())
    }

    pub fn is_bad_input(&self) -> bool {
        match self {
            ImportError::Input(_) => true,
            ImportError::Output(e) => e.is_refusal(),
            ImportError::Failed(_) => false,
        }
    }
}

impl From<TraceError> for ImportError {
    fn from(e: TraceError) -> Self {
        ImportError::Input(e.to_string())
    }
}

/// A scenario name: letters, digits, `-`, `_`, `.`, not starting with `.`, at most 200.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The default name: the first log's stem with other characters as `-`.
fn default_name(log: &Path) -> String {
    let stem = log
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "imported".to_string()
    } else {
        name
    }
}

/// Import the logs into `opts.out`.
pub fn import_router_logs(opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let first = opts
        .logs
        .first()
        .ok_or_else(|| ImportError::Input("no log file given".into()))?;
    let name = match &opts.name {
        Some(n) if valid_name(n) => n.clone(),
        Some(_) => {
            return Err(ImportError::Input(
                "--name: letters, digits, `-`, `_` and `.` only, not starting with `.`, at most 200 characters".into(),
            ));
        }
        None => default_name(first),
    };
    let catalog = Catalog::builtin();
    let size = opts.size.clone().unwrap_or_else(|| DEFAULT_SIZE.into());
    if catalog.get(&size).is_none() {
        let names: Vec<&str> = catalog.sizes().iter().map(|s| s.name.as_str()).collect();
        let hint = names
            .iter()
            .min_by(|a, b| strsim::levenshtein(a, &size).cmp(&strsim::levenshtein(b, &size)))
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        return Err(ImportError::Input(format!(
            "--size: `{size}` is not a size of the catalog{hint}; `dynosim catalog` lists them"
        )));
    }
    let concurrency = opts.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    if !(1..=10_000).contains(&concurrency) {
        return Err(ImportError::Input(format!(
            "--concurrency: from 1 to 10000, found {concurrency}"
        )));
    }
    // Replacing the folder deletes what is in it: never a log being imported.
    let out = crate::output::folder::resolve(&opts.out).map_err(|e| {
        ImportError::Failed(format!("cannot resolve `{}`: {e}", opts.out.display()))
    })?;
    for log in &opts.logs {
        if let Ok(l) = crate::output::folder::resolve(log)
            && l.starts_with(&out)
        {
            return Err(ImportError::Output(OutputError::refused(
                &opts.out,
                format!("the log `{}` is inside it", log.display()),
            )));
        }
    }
    let staging = StagingDir::create_import(&opts.out)?;

    let mut collector = Collector::default();
    let mut sources = Vec::new();
    let mut bad = Vec::new();
    let mut bad_total = 0u64;
    let mut no_timestamp = 0u64;
    for log in &opts.logs {
        let counts = read_log(
            log,
            &mut collector,
            &mut bad,
            &mut bad_total,
            &mut no_timestamp,
        )?;
        sources.push(counts);
    }
    if collector.is_empty() {
        let lines: u64 = sources.iter().map(|s| s.lines).sum();
        let first_bad = bad
            .first()
            .map(|b| format!("; the first bad line: {b}"))
            .unwrap_or_default();
        let which = sources
            .iter()
            .map(|s| format!("`{}`", s.file))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(ImportError::Input(format!(
            "{which}: no Heroku router request line with a timestamp could be read ({lines} line(s), {bad_total} bad{}){first_bad}",
            if no_timestamp > 0 {
                format!(", {no_timestamp} without a timestamp")
            } else {
                String::new()
            }
        )));
    }
    let span_days = collector.span_us() as f64 / 86_400e6;
    if span_days > MAX_SPAN_DAYS {
        return Err(ImportError::Input(format!(
            "the request lines span {span_days:.1} days, more than the {MAX_SPAN_DAYS} days an import takes (lines from different logs or years mixed?); import a slice of the log"
        )));
    }
    let profile = collector.profile(concurrency, opts.max_endpoints);
    if profile.demand_ms.is_empty() {
        return Err(ImportError::Input(format!(
            "`{}`: no completed request names a dyno and a service time, so there is no demand to estimate ({} request line(s), all errors or websockets)",
            first.display(),
            profile.requests
        )));
    }
    let assumptions = Assumptions {
        size: size.clone(),
        size_assumed: opts.size.is_none(),
        concurrency,
        concurrency_assumed: opts.concurrency.is_none(),
        demand_as: "cpu",
        noise: "off",
    };
    let source_names: Vec<String> = opts
        .logs
        .iter()
        .map(|l| {
            l.file_name().map_or_else(
                || l.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let written = write::Written {
        name: &name,
        sources: &source_names,
        assumptions: &assumptions,
        trace: opts.trace,
        bad_lines: bad_total,
    };
    let fail = |what: &str, e: std::io::Error| {
        ImportError::Failed(format!(
            "cannot write {what} of `{}`: {e}",
            opts.out.display()
        ))
    };
    let endpoints = write::write_folder(staging.path(), &profile, &written)
        .map_err(|e| fail("the scenario folder", e))?;
    let manifest = ImportManifest {
        dynosim_version: env!("CARGO_PKG_VERSION"),
        kind: IMPORT_KIND,
        sources,
        bad_lines: bad,
        start_utc: jiff::Timestamp::from_microsecond(profile.start_us)
            .map(|t| t.to_string())
            .unwrap_or_default(),
        span_s: profile.span_s,
        requests: profile.requests,
        completed: profile.completed,
        websockets: profile.websockets,
        errors: profile.errors.clone(),
        formation: profile.formation.clone(),
        assumptions,
        demand_method: profile.method,
        arrivals: if opts.trace { "trace" } else { "stages" },
        arrivals_per_minute: profile.per_minute.clone(),
        observed: profile.observed,
        demand: profile.demand,
        endpoints,
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| ImportError::Failed(format!("cannot encode {IMPORT_MANIFEST_FILE}: {e}")))?;
    std::fs::write(staging.path().join(IMPORT_MANIFEST_FILE), json + "\n")
        .map_err(|e| fail(IMPORT_MANIFEST_FILE, e))?;
    // What is committed is a scenario `check` accepts.
    Scenario::load(&staging.path().join(write::SCENARIO_FILE)).map_err(|e| {
        ImportError::Failed(format!(
            "the imported scenario does not load (a dynosim bug): {e}"
        ))
    })?;
    let folder = staging.commit_unless_interrupted()?;
    Ok(ImportReport {
        folder,
        manifest,
        bad_lines: bad_total,
    })
}

/// Read one log into `collector`, counting its lines and keeping the first bad ones.
fn read_log(
    path: &Path,
    collector: &mut Collector,
    bad: &mut Vec<BadRecord>,
    bad_total: &mut u64,
    no_timestamp: &mut u64,
) -> Result<SourceCounts, ImportError> {
    let file = path.display().to_string();
    let mut reader = LineReader::open(path)?;
    let mut counts = SourceCounts {
        file: file.clone(),
        ..SourceCounts::default()
    };
    let mut report = |line: u64, key: Option<&str>, problem: String| {
        *bad_total += 1;
        if bad.len() < REPORTED_BAD_LINES {
            bad.push(BadRecord {
                file: file.clone(),
                line,
                key: key.map(str::to_string),
                problem,
            });
        }
    };
    while let Some((n, bytes)) = reader.next_line()? {
        counts.lines += 1;
        let Ok(text) = std::str::from_utf8(bytes) else {
            counts.bad_lines += 1;
            report(n, None, "not UTF-8 text".into());
            continue;
        };
        match parse_line(text) {
            Ok(Line::Blank) => counts.blank_lines += 1,
            Ok(Line::Other) => counts.other_lines += 1,
            Ok(Line::Router(r)) => match collector.add(r) {
                Ok(()) => counts.router_lines += 1,
                Err(profile::NoTimestamp) => {
                    counts.bad_lines += 1;
                    *no_timestamp += 1;
                    report(
                        n,
                        None,
                        "a router message without a timestamp (it cannot be placed in time)".into(),
                    );
                }
            },
            Err(b) => {
                counts.bad_lines += 1;
                report(n, b.key, b.reason);
            }
        }
    }
    Ok(counts)
}
