//! `dynosim run`: simulate scenarios and write their output folders.

use super::load::load_all;
use super::{CliError, Exit, catch_stop_signals};
use crate::output::format::Format;
use crate::run::{RunOptions, RunReport, profile_table};
use crate::shard::Shard;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Flags of `dynosim run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Scenario files (TOML, docs/scenario.md); their names must differ.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Output folder: with one scenario DIR itself, with several DIR/<scenario name>/ each
    /// [default: outputs/<scenario name>/].
    ///
    /// With one scenario, DIR holds its files (summary.csv, ..., manifest.json, the plots). With
    /// several, DIR holds one folder per scenario, DIR/<scenario name>/. With a shard, the
    /// folder's name ends in .shard-K-of-N (DIR.shard-K-of-N or DIR/<name>.shard-K-of-N). An
    /// existing folder is replaced in one step, and only if it is empty or dynosim wrote it;
    /// anything else is refused (exit 2) and left untouched (docs/csv.md, "Where the folder
    /// goes").
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the scenario's seed (every job's random streams derive from it).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's number of replications (runs of each sweep point, each with its
    /// own seed).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub replications: Option<u32>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No progress bar and no summary line; only errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write requests.csv, one row per request (large).
    #[arg(long)]
    pub requests: bool,
    /// The tables' file format: `csv` (the default), `parquet` (`<table>.parquet` instead of
    /// each CSV: same columns, typed int64/uint64/float64/utf8, empty cells as nulls), or `both`
    /// side by side (docs/csv.md, "Parquet").
    #[arg(long, value_enum, default_value_t = Format::Csv, value_name = "FORMAT")]
    pub format: Format,
    /// Time every event and print events per kind, events/s and where the time went.
    #[arg(long)]
    pub profile: bool,
    /// Run only shard K of N: the jobs whose global index is K mod N (K from 0 to N-1), into
    /// <folder>.shard-K-of-N; combine the shards with `dynosim merge`. Without it, read from
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (Kubernetes). 0/1
    /// runs everything whatever the environment says.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<ShardArg>,
    /// Number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job); default: DYNOSIM_SHARD_COUNT.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub shard_count: Option<u32>,
}

/// The value of `--shard`: a shard, or `None` for 0/1 (explicitly unsharded).
#[derive(Debug, Clone)]
pub struct ShardArg(Option<Shard>);

fn parse_shard(text: &str) -> Result<ShardArg, String> {
    Shard::parse(text).map(ShardArg)
}

pub fn run(args: &RunArgs) -> Result<Exit, CliError> {
    catch_stop_signals()?;
    let scenarios = load_all(&args.scenarios, args.seed, args.replications)?;
    let shard = Shard::resolve(args.shard.clone().map(|s| s.0), args.shard_count, |k| {
        std::env::var(k).ok()
    })
    .map_err(CliError::Usage)?;
    let opts = RunOptions {
        out: args.out.clone(),
        threads: args.threads.map(usize::from),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        requests: args.requests,
        profile: args.profile,
        shard,
        format: args.format,
    };
    if !args.quiet {
        for s in &scenarios {
            for w in &s.warnings {
                eprintln!("warning: {}: {w}", s.file);
            }
        }
    }
    let report = crate::run::run(&scenarios, &opts)?;
    if args.profile {
        eprint!("{}", profile_table(&report));
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !args.quiet {
        eprintln!("{}", summary_line(&report, shard));
    }
    Ok(Exit::Success)
}

/// The one line a finished run prints: how much was simulated, how fast, and where it went.
fn summary_line(report: &RunReport, shard: Option<Shard>) -> String {
    let folders: Vec<String> = report
        .folders
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let what = match shard {
        Some(s) => format!(", shard {s}"),
        None => format!(", plots {:.2} s", report.plot_seconds),
    };
    format!(
        "{} jobs, {} requests simulated ({} events) in {:.2} s on {} threads{what} -> {}",
        report.jobs,
        report.requests,
        report.events,
        report.wall_seconds,
        report.threads,
        folders.join(", ")
    )
}
