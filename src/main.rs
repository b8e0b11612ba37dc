//! `dynosim`: the command-line front end. Parsing and dispatch only; the work is in the library.

use clap::{Parser, Subcommand, ValueEnum};
use dynosim::model::Catalog;
use dynosim::output::{catalog_csv, catalog_json, catalog_table};
use dynosim::run::{INTERRUPTED, RunError, RunOptions, output_folder, run};
use dynosim::scenario::{Scenario, ScenarioError};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

#[derive(Parser)]
#[command(
    name = "dynosim",
    version,
    about = "Discrete-event simulator of Heroku-style dyno tiers",
    long_about = "Discrete-event simulator of Heroku-style dyno tiers.\n\nRuns scenario files (TOML, see docs/scenario.md) and writes tidy CSVs (docs/csv.md)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate scenarios and write summary.csv, windows.csv, dynos.csv and manifest.json.
    Run {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Output folder (default: outputs/<scenario name>; with several scenarios, <DIR>/<name>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the scenario's number of replications.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        replications: Option<u32>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        threads: Option<u16>,
        /// No progress bar and no summary line; only errors.
        #[arg(long, short)]
        quiet: bool,
        /// Also write requests.csv, one row per request (large).
        #[arg(long)]
        requests: bool,
    },
    /// Parse and validate scenarios, and print the jobs they expand to.
    Check {
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// Print the built-in dyno sizes.
    Catalog {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a command as an isolated dyno (real executor; needs root). See docs/executor.md.
    Jail(dynosim::exec::cli::JailArgs),
    /// Run a scenario on real sandboxed dynos and in the simulator, and compare (needs root).
    /// See docs/validation.md.
    Validate(dynosim::validate::cli::ValidateArgs),
    /// Measure this machine for validate (spin speed, jitter, weights, quota, contention).
    Calibrate(dynosim::validate::cli::CalibrateArgs),
    /// The synthetic app that runs inside a dyno during validate.
    #[command(hide = true)]
    App(dynosim::validate::cli::AppArgs),
    /// A noisy-neighbour CPU burner (inside its own cgroup) during validate.
    #[command(hide = true)]
    Burn(dynosim::validate::cli::BurnArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenarios,
            out,
            seed,
            replications,
            threads,
            quiet,
            requests,
        } => {
            let scenarios = match load_all(&scenarios, seed, replications) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
            let opts = RunOptions {
                out,
                threads: threads.map(usize::from),
                progress: !quiet && std::io::stderr().is_terminal(),
                requests,
            };
            if !quiet {
                for s in &scenarios {
                    for w in &s.warnings {
                        eprintln!("warning: {}: {w}", s.file);
                    }
                }
            }
            match run(&scenarios, &opts) {
                Ok(report) => {
                    if !quiet {
                        let folders: Vec<String> = report
                            .folders
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect();
                        eprintln!(
                            "{} jobs, {} requests simulated ({} events) in {:.2} s on {} threads -> {}",
                            report.jobs,
                            report.requests,
                            report.events,
                            report.wall_seconds,
                            report.threads,
                            folders.join(", ")
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(RunError::Interrupted) => {
                    eprintln!("error: {}", RunError::Interrupted);
                    ExitCode::from(130)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check { scenarios } => {
            let scenarios = match load_all(&scenarios, None, None) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let opts = RunOptions::default();
            for s in &scenarios {
                print!("{}", describe(s, &output_folder(&opts, s, scenarios.len())));
                for w in &s.warnings {
                    println!("  warning: {w}");
                }
            }
            ExitCode::SUCCESS
        }
        Command::Catalog { format } => {
            let catalog = Catalog::builtin();
            match format {
                Format::Table => print!("{}", catalog_table(&catalog)),
                Format::Json => println!("{}", catalog_json(&catalog)),
                Format::Csv => match catalog_csv(&catalog) {
                    Ok(text) => print!("{text}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(1);
                    }
                },
            }
            ExitCode::SUCCESS
        }
        Command::Jail(args) => dynosim::exec::cli::run_cli(&args),
        Command::Validate(args) => dynosim::validate::cli::run_validate(&args),
        Command::Calibrate(args) => dynosim::validate::cli::run_calibrate(&args),
        Command::App(args) => dynosim::validate::cli::run_app(&args),
        Command::Burn(args) => dynosim::validate::cli::run_burn(&args),
    }
}

/// Load every scenario; on the first bad one print its error and return exit code 2.
fn load_all(
    paths: &[PathBuf],
    seed: Option<u64>,
    replications: Option<u32>,
) -> Result<Vec<Scenario>, ExitCode> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for p in paths {
        let mut s = Scenario::load(p).map_err(report)?;
        if let Some(seed) = seed {
            s.seed = seed;
        }
        if let Some(r) = replications {
            s.replications = r;
        }
        if seed.is_some() || replications.is_some() {
            s.check_placement().map_err(report)?;
        }
        if !names.insert(s.name.clone()) {
            return Err(report(ScenarioError {
                file: s.file.clone(),
                line: None,
                column: None,
                key: dynosim::scenario::KeyPath::root().key("name"),
                message: format!(
                    "another scenario in this run is also named `{}`; their outputs would collide",
                    s.name
                ),
            }));
        }
        out.push(s);
    }
    Ok(out)
}

fn report(e: ScenarioError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

/// The `check` listing of one scenario.
fn describe(s: &Scenario, folder: &std::path::Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let jobs = s.jobs();
    let _ = writeln!(o, "{} ({}): ok", s.name, s.file);
    let _ = writeln!(
        o,
        "  seed {}, {} replication(s), {} point(s), {} job(s); output {}",
        s.seed,
        s.replications,
        s.points.len(),
        jobs.len(),
        folder.display()
    );
    for p in &s.points {
        let c = &p.config;
        let values: Vec<String> = s
            .sweep_keys
            .iter()
            .zip(&p.values)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            o,
            "  point {}{}: duration {}, warmup {}, window {}",
            p.index,
            if values.is_empty() {
                String::new()
            } else {
                format!(" [{}]", values.join(", "))
            },
            c.duration,
            c.warmup,
            c.window
        );
        for app in &c.apps {
            for (i, pr) in app.processes.iter().enumerate() {
                let mut line = format!(
                    "    {}/{}: {} x {} (concurrency {}), ${:.0}/month",
                    app.name,
                    pr.name,
                    pr.count,
                    pr.size.name,
                    pr.concurrency,
                    pr.size.price_usd_month * f64::from(pr.count)
                );
                if let Some(w) = app
                    .workload
                    .as_ref()
                    .filter(|w| w.process == i && pr.count == 0)
                {
                    let _ = write!(
                        line,
                        "; {:.1} req/s all answered H14 (no dynos)",
                        w.arrivals.mean_rate()
                    );
                } else if let Some(w) = app.workload.as_ref().filter(|w| w.process == i) {
                    let per_dyno = pr
                        .cpu_quota
                        .unwrap_or(f64::from(pr.size.vcpus))
                        .min(f64::from(pr.concurrency));
                    let cores = f64::from(pr.count) * per_dyno;
                    let rho = w.arrivals.mean_rate() * w.cpu.mean() / cores;
                    let _ = write!(
                        line,
                        "; {:.1} req/s, mean CPU {:.1} ms, offered CPU load {:.0}%{}",
                        w.arrivals.mean_rate(),
                        w.cpu.mean() * 1e3,
                        rho * 100.0,
                        if rho >= 1.0 {
                            " (overloaded: queues will grow without bound)"
                        } else {
                            ""
                        }
                    );
                }
                let _ = writeln!(o, "{line}");
            }
        }
    }
    for j in &jobs {
        let _ = writeln!(
            o,
            "  job {}: point {}, replication {}, seed {}",
            j.index,
            j.point,
            j.replication,
            j.seeds.value()
        );
    }
    o
}
