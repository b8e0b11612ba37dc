//! `dynosim merge`: combine the folders of a sharded run into what a single run writes.

use super::{CliError, Exit, catch_stop_signals};
use crate::interrupt;
use crate::output::format::Format;
use crate::output::merge::merge;
use clap::Args;
use std::path::PathBuf;

/// Flags of `dynosim merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shard folders (`<folder>.shard-K-of-N`, written by `dynosim run --shard K/N` or a
    /// cluster array task) of one scenario's run, every shard exactly once, in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// The merged output folder: what `dynosim run SCENARIO --out DIR` writes (the same CSV
    /// bytes, and plots). Replaced in one step, and only if it is empty or dynosim wrote it.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// The merged tables' file format: `csv`, `parquet` or `both` [default: the shards' own].
    /// Shards in either format are read.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// No summary line; only errors and warnings.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: &MergeArgs) -> Result<Exit, CliError> {
    catch_stop_signals()?;
    let r = merge(&args.shards, &args.out, args.format)?;
    for w in &r.plots.warnings {
        eprintln!("warning: {w}");
    }
    if interrupt::requested() {
        // The stop came after the last check: the merged folder is complete.
        return Err(CliError::Interrupted(format!(
            "interrupted by {} while the merged folder was being committed: `{}` is finished \
             and complete",
            interrupt::cause(),
            r.folder.display()
        )));
    }
    if !args.quiet {
        eprintln!(
            "{} jobs from {} shard(s), plots {:.2} s -> {}",
            r.jobs,
            r.shards,
            r.plot_seconds,
            r.folder.display()
        );
    }
    Ok(Exit::Success)
}
