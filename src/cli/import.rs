//! `dynosim import heroku-router LOG... --out DIR`: router logs into a scenario folder (the
//! work is [`crate::import`]'s; this prints what it found).

use super::{CliError, Exit, catch_stop_signals};
use crate::import::{self, ImportOptions, REPORTED_BAD_LINES};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Flags of `dynosim import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

/// What to import from.
#[derive(Debug, Clone, Subcommand)]
pub enum ImportSource {
    /// Heroku router logs (`heroku logs`, a Logplex drain, Papertrail; mixed framings are fine).
    ///
    /// Writes DIR/scenario.toml (the formation seen in `dyno=`, arrivals per minute, endpoints
    /// by method and path with ids collapsed, each with its demand), DIR/service/*.csv (the
    /// demand samples), DIR/import.json (counts, observed p50/p95/p99, bad lines) and, with
    /// --trace, DIR/traces/arrivals.csv. Client IPs, hosts and request ids are never copied.
    /// Bad lines are counted and the first few printed; only a log with no usable line is an
    /// error (exit 2). See docs/import.md.
    HerokuRouter(HerokuRouterArgs),
}

/// Flags of `dynosim import heroku-router`.
#[derive(Debug, Clone, Args)]
pub struct HerokuRouterArgs {
    /// Router log files, read in order (lines of other sources are skipped).
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// The scenario folder to write. An existing folder is replaced only if it is empty or an
    /// earlier import wrote it; anything else is refused (exit 2) and left untouched.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// App and scenario name [default: the first log's file name without its extension].
    #[arg(long)]
    pub name: Option<String>,
    /// Dyno size of every process (router logs do not carry it) [default: standard-1x, marked
    /// as an assumption in the file].
    #[arg(long)]
    pub size: Option<String>,
    /// Requests a dyno serves at once (router logs do not carry it) [default: 1, marked as an
    /// assumption]; also the slots of the queue replay that estimates demand.
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Replay the log's requests (arrival, endpoint, demand each) instead of a per-minute rate.
    #[arg(long)]
    pub trace: bool,
    /// Endpoints kept, the most requested first; the rest are pooled as `other`.
    #[arg(long, default_value_t = import::DEFAULT_MAX_ENDPOINTS as u16, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub max_endpoints: u16,
}

pub fn run(args: &ImportArgs) -> Result<Exit, CliError> {
    catch_stop_signals()?;
    let ImportSource::HerokuRouter(a) = &args.source;
    let opts = ImportOptions {
        logs: a.logs.clone(),
        out: a.out.clone(),
        name: a.name.clone(),
        size: a.size.clone(),
        concurrency: a.concurrency,
        trace: a.trace,
        max_endpoints: usize::from(a.max_endpoints),
    };
    let report = import::import_router_logs(&opts)?;
    let m = &report.manifest;
    for b in &m.bad_lines {
        eprintln!("warning: {b}");
    }
    if report.bad_lines > REPORTED_BAD_LINES as u64 {
        eprintln!(
            "warning: {} bad line(s) in all, skipped (import.json lists the first {REPORTED_BAD_LINES})",
            report.bad_lines
        );
    }
    let formation: Vec<String> = m
        .formation
        .iter()
        .map(|p| format!("{} x {}", p.count, p.process))
        .collect();
    let errors: Vec<String> = m.errors.iter().map(|(c, n)| format!("{c} x{n}")).collect();
    println!(
        "{} request line(s) over {:.0} s: {} completed, {} websocket(s), errors: {}; {} bad line(s) skipped",
        m.requests,
        m.span_s,
        m.completed,
        m.websockets,
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(", ")
        },
        report.bad_lines
    );
    println!(
        "formation {} ({}{}), {} endpoint(s), arrivals as {}",
        formation.join(", "),
        m.assumptions.size,
        if m.assumptions.size_assumed || m.assumptions.concurrency_assumed {
            ", size or concurrency ASSUMED: see scenario.toml"
        } else {
            ""
        },
        m.endpoints.len(),
        m.arrivals
    );
    println!(
        "observed latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms -> {}",
        m.observed.p50_ms,
        m.observed.p95_ms,
        m.observed.p99_ms,
        report.folder.join("scenario.toml").display()
    );
    Ok(Exit::Success)
}
