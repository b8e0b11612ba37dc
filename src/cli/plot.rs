//! `dynosim plot`: (re)draw an output folder's figures from its CSVs.

use super::{CliError, Exit, catch_stop_signals};
use crate::interrupt;
use crate::output::plot::draw_all;
use clap::Args;
use std::path::PathBuf;

/// Flags of `dynosim plot`.
#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// An output folder of `dynosim run` or `dynosim merge` (its CSVs are read, its figures
    /// replaced).
    pub dir: PathBuf,
}

/// Draw every figure; a figure that cannot be drawn is an error line of its own and exit 1,
/// the others are still written.
pub fn run(args: &PlotArgs) -> Result<Exit, CliError> {
    catch_stop_signals()?;
    let report = draw_all(&args.dir)?;
    for w in &report.warnings {
        eprintln!("error: {w}");
    }
    if interrupt::requested() {
        return Err(CliError::Interrupted(format!(
            "interrupted by {}; drawn before the stop: {}",
            interrupt::cause(),
            if report.files.is_empty() {
                "none".to_string()
            } else {
                report.files.join(", ")
            }
        )));
    }
    if report.warnings.is_empty() {
        Ok(Exit::Success)
    } else {
        // Each failed figure was named above; the exit status says some are missing.
        Ok(Exit::Failed)
    }
}
