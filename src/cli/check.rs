//! `dynosim check`: parse and validate scenarios, and print what they expand to (points, their
//! formations with cost and offered load, and the jobs), without simulating anything.

use super::load::load_all;
use super::{CliError, Exit};
use crate::run::{RunOptions, output_folder};
use crate::scenario::Scenario;
use clap::Args;
use std::path::PathBuf;

/// Flags of `dynosim check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Scenario files (TOML, docs/scenario.md) to validate; their names must differ.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// List every point and job (default: the first 100 of each).
    #[arg(long)]
    pub all: bool,
}

/// Points and jobs `check` lists without `--all`.
const CHECK_LISTED: usize = 100;

pub fn run(args: &CheckArgs) -> Result<Exit, CliError> {
    let scenarios = load_all(&args.scenarios, None, None)?;
    let opts = RunOptions::default();
    for s in &scenarios {
        let listed = if args.all { usize::MAX } else { CHECK_LISTED };
        print!(
            "{}",
            describe(s, &output_folder(&opts, s, scenarios.len()), listed)
        );
        for w in &s.warnings {
            println!("  warning: {w}");
        }
    }
    Ok(Exit::Success)
}

/// The `check` listing of one scenario, with at most `listed` points and `listed` jobs.
pub fn describe(s: &Scenario, folder: &std::path::Path, listed: usize) -> String {
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
    for p in s.points.iter().take(listed) {
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
        let load = crate::model::offered_load(&c.apps);
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
                if let Some(w) = app
                    .workload
                    .as_ref()
                    .filter(|w| std::ptr::eq(&app.processes[w.process], pr))
                {
                    let _ = write!(line, "{}", peak_note(&w.arrivals, l, pr.count));
                }
                let _ = writeln!(o, "{line}");
            }
        }
    }
    if s.points.len() > listed {
        let _ = writeln!(
            o,
            "  ... {} more point(s); `check --all` lists them",
            s.points.len() - listed
        );
    }
    for j in jobs.iter().take(listed) {
        let _ = writeln!(
            o,
            "  job {}: point {}, replication {}, seed {}",
            j.index,
            j.point,
            j.replication,
            j.seeds.value()
        );
    }
    if jobs.len() > listed {
        let _ = writeln!(
            o,
            "  ... {} more job(s); `check --all` lists them",
            jobs.len() - listed
        );
    }
    o
}

/// What `check` adds to the line of the process a workload reaches when its rate varies: the
/// lowest and highest offered rate (a bound with bursts: each counted on the highest base
/// rate), and a warning when that peak overloads the process (the offered CPU load at the
/// highest rate, the calls it gets held at their mean).
fn peak_note(a: &crate::model::Arrivals, l: &crate::model::OfferedLoad, dynos: u32) -> String {
    let mean = a.mean_rate();
    let Some((lo, hi)) = a.rate_range() else {
        return String::new();
    };
    if (hi - lo).abs() < 1e-12 || mean <= 0.0 || dynos == 0 {
        return String::new();
    }
    let rho = l.utilization();
    let peak = rho * (l.external_per_s * hi / mean + l.calls_per_s) / l.requests_per_s();
    format!(
        "; offered rate {lo:.1} to at most {hi:.1} req/s (mean {mean:.1}), peak CPU load at most {:.0}%{}",
        peak * 100.0,
        if peak >= 1.0 && rho < 1.0 {
            " (warning: the peak can overload it: queues grow while it lasts)"
        } else {
            ""
        }
    )
}

/// What `check` adds to a process line about its load: the requests it receives (and how many
/// are calls), their mean CPU and the offered CPU load; nothing if nothing reaches it.
fn load_note(l: &crate::model::OfferedLoad, dynos: u32) -> String {
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
