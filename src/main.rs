//! `dynosim`: the command-line front end. Parsing and dispatch only; the work is in the library.

use clap::{Parser, Subcommand, ValueEnum};
use dynosim::model::Catalog;
use dynosim::output::{catalog_csv, catalog_json, catalog_table};
use dynosim::run::{INTERRUPTED, RunError, RunOptions, output_folder, run};
use dynosim::scenario::{Scenario, ScenarioError};
use dynosim::shard::Shard;
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
    /// Simulate scenarios and write the CSVs, manifest.json and plots.
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
        /// Time every event and print events per kind, events/s and where the time went.
        #[arg(long)]
        profile: bool,
        /// Run only shard K of N: the jobs whose global index is K mod N (K from 0 to N-1), into
        /// <folder>.shard-K-of-N; combine the shards with `dynosim merge`. Without it, read from
        /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (Kubernetes). 0/1
        /// runs everything whatever the environment says.
        #[arg(long, value_name = "K/N", value_parser = parse_shard)]
        shard: Option<ShardArg>,
        /// Number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes Indexed
        /// Job); default: DYNOSIM_SHARD_COUNT.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        shard_count: Option<u32>,
    },
    /// Combine the folders of a sharded run into what a single run writes (CSVs byte-identical),
    /// and draw the plots.
    Merge {
        /// The shard folders (`<folder>.shard-K-of-N`), every shard exactly once.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The merged output folder (replaced atomically).
        #[arg(long, value_name = "DIR", required = true)]
        out: PathBuf,
        /// No summary line; only errors and warnings.
        #[arg(long, short)]
        quiet: bool,
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
    /// (Re)draw the plots of an output folder from its CSVs (PNG and SVG, into the folder).
    Plot {
        /// An output folder of `dynosim run` or `dynosim merge`.
        dir: PathBuf,
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
            profile,
            shard,
            shard_count,
        } => {
            let scenarios = match load_all(&scenarios, seed, replications) {
                Ok(s) => s,
                Err(code) => return code,
            };
            let shard =
                match Shard::resolve(shard.map(|s| s.0), shard_count, |k| std::env::var(k).ok()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::from(2);
                    }
                };
            let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
            let opts = RunOptions {
                out,
                threads: threads.map(usize::from),
                progress: !quiet && std::io::stderr().is_terminal(),
                requests,
                profile,
                shard,
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
                    if profile {
                        eprint!("{}", dynosim::run::profile_table(&report));
                    }
                    for w in &report.warnings {
                        eprintln!("warning: {w}");
                    }
                    if !quiet {
                        let folders: Vec<String> = report
                            .folders
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect();
                        let what = match shard {
                            Some(s) => format!(", shard {s}"),
                            None => format!(", plots {:.2} s", report.plot_seconds),
                        };
                        eprintln!(
                            "{} jobs, {} requests simulated ({} events) in {:.2} s on {} threads{what} -> {}",
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
        Command::Merge { shards, out, quiet } => {
            match dynosim::output::merge::merge(&shards, &out) {
                Ok(r) => {
                    for w in &r.plots.warnings {
                        eprintln!("warning: {w}");
                    }
                    if !quiet {
                        eprintln!(
                            "{} jobs from {} shard(s), plots {:.2} s -> {}",
                            r.jobs,
                            r.shards,
                            r.plot_seconds,
                            r.folder.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e @ dynosim::output::merge::MergeError::Input(_)) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Plot { dir } => match dynosim::output::plot::draw_all(&dir) {
            Ok(report) => {
                for w in &report.warnings {
                    eprintln!("error: {w}");
                }
                if report.warnings.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Jail(args) => dynosim::exec::cli::run_cli(&args),
        Command::Validate(args) => dynosim::validate::cli::run_validate(&args),
        Command::Calibrate(args) => dynosim::validate::cli::run_calibrate(&args),
        Command::App(args) => dynosim::validate::cli::run_app(&args),
        Command::Burn(args) => dynosim::validate::cli::run_burn(&args),
    }
}

/// The value of `--shard`: a shard, or `None` for 0/1 (explicitly unsharded).
#[derive(Clone)]
struct ShardArg(Option<Shard>);

fn parse_shard(text: &str) -> Result<ShardArg, String> {
    Shard::parse(text).map(ShardArg)
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
        let load = dynosim::model::offered_load(&c.apps);
        for (app, loads) in c.apps.iter().zip(&load) {
            for (pr, l) in app.processes.iter().zip(loads) {
                let mut line = format!(
                    "    {}/{}: {} x {} (concurrency {}), ${:.0}/month",
                    app.name,
                    pr.name,
                    pr.count,
                    pr.size.name,
                    pr.concurrency,
                    pr.size.price_usd_month * f64::from(pr.count)
                );
                let _ = write!(line, "{}", load_note(l, pr.count));
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

/// What `check` adds to a process line about its load: the requests it receives (and how many
/// are calls), their mean CPU and the offered CPU load; nothing if nothing reaches it.
fn load_note(l: &dynosim::model::OfferedLoad, dynos: u32) -> String {
    let rate = l.requests_per_s();
    if rate == 0.0 {
        return String::new();
    }
    let calls = if l.calls_per_s > 0.0 {
        format!(" ({:.1} of them calls)", l.calls_per_s)
    } else {
        String::new()
    };
    if dynos == 0 {
        // Through a router that is H14; a call inside a space finds no dyno: H10.
        return format!("; {rate:.1} req/s{calls}, all failing (no dynos)");
    }
    let rho = l.utilization();
    format!(
        "; {rate:.1} req/s{calls}, mean CPU {:.1} ms, offered CPU load {:.0}%{}",
        l.mean_cpu_s() * 1e3,
        rho * 100.0,
        if rho >= 1.0 {
            " (overloaded: queues will grow without bound)"
        } else {
            ""
        }
    )
}
