//! The command line: one module per subcommand, each with its flags (a clap `Args` struct) and
//! a `run(&Args) -> Result<Exit, CliError>`; [`exit`] is the one place outcomes become exit
//! codes. The binary (src/main.rs) only calls [`main`]. Presentation (summary lines, the `check`
//! listing) lives here too, so the library modules below return data, not text.

pub mod catalog;
pub mod check;
pub mod exit;
pub mod import;
pub mod jail;
mod load;
pub mod merge;
pub mod plan;
pub mod plot;
pub mod run;

pub use exit::{CliError, Exit, finish};

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dynosim",
    version,
    about = "Discrete-event simulator of Heroku-style dyno tiers",
    long_about = "Discrete-event simulator of Heroku-style dyno tiers.\n\nRuns scenario files (TOML, see docs/scenario.md) and writes tidy CSVs (docs/csv.md).",
    after_help = "Exit status: 0 ok, 1 failure while running, 2 bad input or usage, 3 validation out \
of tolerance, 4 inconclusive, 5 no formation meets the SLOs (plan), 130 interrupted (SIGINT, SIGTERM, SIGHUP); `jail` passes its \
command's status through."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Simulate scenarios and write the CSVs, manifest.json and plots.
    ///
    /// Each scenario file expands to jobs (sweep points x replications), which run in parallel;
    /// each scenario's results go to one output folder (see --out), written all at once. The same
    /// scenario and seed give byte-identical CSVs (and Parquet files, with --format) at any
    /// --threads and any shard split. `dynosim check` lists the jobs without simulating. Files
    /// and columns: docs/csv.md.
    Run(run::RunArgs),
    /// Combine the folders of a sharded run into what a single run writes (CSVs byte-identical),
    /// and draw the plots.
    ///
    /// The shards must come from the same scenario file, seed and dynosim version and cover
    /// every job exactly once; otherwise the merge names the missing, doubled or foreign shards,
    /// exits with 2 and writes nothing. Several scenarios sharded together are merged one
    /// scenario at a time (`dynosim merge DIR/<name>.shard-*-of-N --out DIR/<name>`).
    Merge(merge::MergeArgs),
    /// Parse and validate scenarios, and print the jobs they expand to.
    ///
    /// Simulates nothing and writes nothing. For each scenario it prints: its seed, replications,
    /// sweep points and jobs, and the folder `dynosim run` writes by default; for each sweep
    /// point, the swept keys' values, duration, warmup and window, and for each process its
    /// formation (count x size, concurrency), monthly cost and offered load (requests/s, calls
    /// among them, mean CPU, CPU load, "overloaded" from 100%); then each job's point,
    /// replication and seed (the first 100 points and jobs; --all lists every one); and the
    /// scenario's warnings. Exit status 0 when every scenario is valid, 2 otherwise, with the
    /// first error's file, line, column and key.
    Check(check::CheckArgs),
    /// Print the built-in dyno sizes.
    ///
    /// Every size a scenario's `size` may name, with its tier, memory, CPU share, vCPUs (and
    /// whether Heroku publishes them or they are an assumption, with the basis), price and
    /// limits, and the sources. See docs/catalog.md.
    Catalog(catalog::CatalogArgs),
    /// (Re)draw the plots of an output folder from its CSVs (PNG and SVG, into the folder).
    ///
    /// Reads only the folder's tables (each from its CSV, or from its Parquet file in a folder
    /// written with --format parquet), so a folder copied from elsewhere (or edited) can be redrawn:
    /// latency_by_formation, latency_cdf, p99_over_time and, for sweeps, sweep_p99_cost, each as
    /// .png and .svg, replacing the previous ones. A figure that cannot be drawn is reported on
    /// its own line and gives exit status 1; the others are still written.
    Plot(plot::PlotArgs),
    /// The cheapest formation of one process that meets latency and error SLOs.
    ///
    /// Searches sizes and dyno counts of the planned process (the one receiving the workload,
    /// or --process), simulating each candidate in replications with common random numbers
    /// until every SLO's verdict is decided at the joint --confidence, within --budget-s. Prints
    /// `recommended: <count> x <size> ($<cost>/month)` with its estimates and the best
    /// formation of each size, and writes plan.csv (docs/plan.md). Exit status 0 with a
    /// recommendation, 4 when the budget ran out or candidates stayed undecided with none shown
    /// feasible, 5 when every candidate fails, 2 for bad input.
    Plan(plan::PlanArgs),
    /// Build a scenario folder from logs (`dynosim import heroku-router LOG... --out DIR`).
    ///
    /// See docs/import.md. Exit status 0 when the folder was written, 2 for bad input (no
    /// usable line in the logs, a bad flag, an output folder that an import did not write).
    Import(import::ImportArgs),
    /// Run a command as an isolated dyno (real executor; needs root). See docs/executor.md.
    Jail(jail::JailArgs),
    /// Run a scenario on real sandboxed dynos and in the simulator, and compare (needs root).
    /// See docs/validation.md.
    Validate(crate::validate::cli::ValidateArgs),
    /// Measure this machine for validate (spin speed, jitter, weights, quota, contention).
    Calibrate(crate::validate::cli::CalibrateArgs),
    /// The synthetic app that runs inside a dyno during validate.
    #[command(hide = true)]
    App(crate::validate::cli::AppArgs),
    /// A noisy-neighbour CPU burner (inside its own cgroup) during validate.
    #[command(hide = true)]
    Burn(crate::validate::cli::BurnArgs),
}

/// Parse the command line, run the subcommand, and give its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run(a) => run::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Check(a) => check::run(a),
        Command::Catalog(a) => catalog::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Import(a) => import::run(a),
        Command::Jail(a) => jail::run(a),
        Command::Validate(a) => crate::validate::cli::run_validate(a),
        Command::Calibrate(a) => crate::validate::cli::run_calibrate(a),
        Command::App(a) => crate::validate::cli::run_app(a),
        Command::Burn(a) => crate::validate::cli::run_burn(a),
    };
    finish(result)
}

/// SIGINT, SIGTERM and SIGHUP become a stop request (see [`crate::interrupt`]); installed
/// first, so a signal at any moment of run, merge or plot ends with exit code 130.
fn catch_stop_signals() -> Result<(), CliError> {
    crate::interrupt::install()
        .map_err(|e| CliError::Failed(format!("cannot catch SIGINT/SIGTERM/SIGHUP: {e}")))
}
