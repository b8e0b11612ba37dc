//! Arguments and entry points of `dynosim validate`, `dynosim calibrate`, and the hidden
//! `dynosim app` and `dynosim burn` that run inside dynos.

use super::app::{AppConfig, BurnConfig, SpinMode};
use super::calibrate::{Calibration, calibrate};
use super::compare::Tolerances;
use super::{ValidateError, ValidateOptions, validate};
use crate::scenario::{Scenario, parse_duration};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Exit status when the comparison is outside the tolerances.
pub const EXIT_OUT_OF_TOLERANCE: u8 = 3;

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map(|d| Duration::from_nanos(d.as_nanos()))
}

/// A fraction: `0.1` or `10%`.
fn fraction(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a fraction; write 0.1 or 10%"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{text}` must be a fraction of at least 0"));
    }
    Ok(v)
}

/// How the app burns CPU.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SpinArg {
    /// A calibrated amount of work (slows down with the core, like real code).
    Work,
    /// Until the thread has used the requested CPU time.
    CpuTime,
}

impl From<SpinArg> for SpinMode {
    fn from(s: SpinArg) -> SpinMode {
        match s {
            SpinArg::Work => SpinMode::Work,
            SpinArg::CpuTime => SpinMode::CpuTime,
        }
    }
}

/// `dynosim validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario file (TOML); see scenarios/validation/.
    pub scenario: PathBuf,
    /// Run length, real and simulated (default: the scenario's duration), e.g. 60s.
    #[arg(long, value_parser = duration)]
    pub duration: Option<Duration>,
    /// Output folder; results go to <DIR>/validation/ (default: outputs/<scenario name>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sweep point to run.
    #[arg(long, default_value_t = 0)]
    pub point: usize,
    /// Largest allowed |relative error| of p50 (0.1 or 10%).
    #[arg(long, value_parser = fraction, default_value = "0.10")]
    pub tol_p50: f64,
    /// Largest allowed |relative error| of p99.
    #[arg(long, value_parser = fraction, default_value = "0.25")]
    pub tol_p99: f64,
    /// Also require the KS distance on log latency to be at most this.
    #[arg(long, value_parser = fraction)]
    pub tol_ks: Option<f64>,
    /// Calibration file written by `dynosim calibrate` (default: the scenario's `calibration`).
    #[arg(long, value_name = "FILE")]
    pub calibration: Option<PathBuf>,
    /// How the app burns CPU.
    #[arg(long, value_enum, default_value_t = SpinArg::Work)]
    pub spin: SpinArg,
    /// At most this many shared-tier dynos on the instance.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_shared_dynos: u32,
    /// Flag the run when steal exceeds this fraction of CPU time.
    #[arg(long, value_parser = fraction, default_value = "0.05")]
    pub max_steal: f64,
    /// Run the real side N times (same requests, same lifecycle): pooled quantiles with 95%
    /// bootstrap intervals in comparison.csv.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
}

/// `dynosim calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Where to write the calibration file.
    #[arg(long, default_value = "calibration.toml")]
    pub out: PathBuf,
}

/// `dynosim app` (runs inside a dyno).
#[derive(Args, Debug)]
pub struct AppArgs {
    /// Port (default: $PORT, else 5000).
    #[arg(long)]
    pub port: Option<u16>,
    /// Worker threads: requests served at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub workers: u32,
    /// Spin speed (default: measured for 200 ms at start).
    #[arg(long)]
    pub iters_per_s: Option<f64>,
    /// How CPU demand is burned.
    #[arg(long, value_enum, default_value_t = SpinArg::Work)]
    pub spin: SpinArg,
    /// Sleep this many ns before binding the port (the app's own boot time).
    #[arg(long, default_value_t = 0)]
    pub boot_ns: u64,
}

/// `dynosim burn` (a neighbour source, inside its own cgroup).
#[derive(Args, Debug)]
pub struct BurnArgs {
    /// CLOCK_MONOTONIC time 0, ns.
    #[arg(long)]
    pub t0_ns: u64,
    /// End, ns after time 0.
    #[arg(long)]
    pub end_ns: u64,
    /// Busy threads while on.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
    /// State at time 0.
    #[arg(long, value_parser = ["on", "off"], default_value = "on")]
    pub initially: String,
    /// Flip times, ns after time 0, comma-separated.
    #[arg(long, default_value = "")]
    pub flips_ns: String,
}

/// Run `dynosim validate`: 0 within the tolerances, 3 outside, 2 bad input, 1 a failure, 130
/// interrupted.
pub fn run_validate(args: &ValidateArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The flag wins over the scenario's `calibration` key.
    let calibration = match args.calibration.as_ref().or(scenario.calibration.as_ref()) {
        Some(p) => match Calibration::load(p) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("error: calibration: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let _ = ctrlc::set_handler(|| {
        super::real::STOP.store(true, Ordering::SeqCst);
        crate::run::INTERRUPTED.store(true, Ordering::SeqCst);
    });
    let opts = ValidateOptions {
        out: args
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("outputs").join(&scenario.name)),
        duration: args.duration,
        point: args.point,
        tolerances: Tolerances {
            p50: args.tol_p50,
            p99: args.tol_p99,
            ks: args.tol_ks,
        },
        calibration,
        spin: args.spin.into(),
        max_shared_dynos: args.max_shared_dynos,
        max_steal: args.max_steal,
        program: None,
        repeat: args.repeat as usize,
    };
    let v = match validate(&scenario, &opts, |m| eprintln!("{m}")) {
        Ok(v) => v,
        Err(ValidateError::Scenario(m)) => {
            eprintln!("error: {}: {m}", scenario.file);
            return ExitCode::from(2);
        }
        Err(ValidateError::Interrupted) => {
            eprintln!("error: {}", ValidateError::Interrupted);
            return ExitCode::from(130);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!(
        "{:<12} {:<14} {:>7} {:>7} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>6}  verdict",
        "tier",
        "size",
        "n real",
        "n sim",
        "p50 real",
        "p50 sim",
        "err",
        "p99 real",
        "p99 sim",
        "err",
        "mean real",
        "mean sim",
        "err",
        "KS"
    );
    for r in &v.rows {
        println!(
            "{:<12} {:<14} {:>7} {:>7} | {:>9.2} {:>9.2} {:>+6.1}% | {:>9.2} {:>9.2} {:>+6.1}% | {:>9.2} {:>9.2} {:>+6.1}% | {:>6.3}  {}",
            r.tier,
            r.size,
            r.n_real,
            r.n_sim,
            r.real[0],
            r.sim[0],
            r.error(0) * 100.0,
            r.real[2],
            r.sim[2],
            r.error(2) * 100.0,
            r.real[3],
            r.sim[3],
            r.error(3) * 100.0,
            r.ks,
            if r.pass { "ok" } else { "OUT OF TOLERANCE" }
        );
    }
    for r in v.rows.iter().filter(|r| r.repetitions > 1) {
        println!(
            "{} {}: {} real runs pooled; 95% bootstrap interval of p50 [{:.2}, {:.2}], p99 [{:.2}, {:.2}] ms",
            r.tier,
            r.size,
            r.repetitions,
            r.real_ci[0].0,
            r.real_ci[0].1,
            r.real_ci[2].0,
            r.real_ci[2].1
        );
    }
    if !v.lifecycle.is_empty() {
        println!("lifecycle (real | sim):");
        for m in &v.lifecycle {
            println!(
                "  {:<10} {:<24} {:>12.4} {:>12.4}",
                m.app, m.metric, m.real, m.sim
            );
        }
    }
    println!(
        "steal during the real run: {:.2}% of CPU time{}",
        v.steal * 100.0,
        if v.steal > opts.max_steal {
            " (above --max-steal: the host was busy; treat the result with care)"
        } else {
            ""
        }
    );
    println!(
        "tolerances: |p50 error| <= {:.0}%, |p99 error| <= {:.0}%{}; results in {}",
        opts.tolerances.p50 * 100.0,
        opts.tolerances.p99 * 100.0,
        opts.tolerances
            .ks
            .map(|k| format!(", KS <= {k}"))
            .unwrap_or_default(),
        v.folder.display()
    );
    if v.pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_OUT_OF_TOLERANCE)
    }
}

/// Run `dynosim calibrate`.
pub fn run_calibrate(args: &CalibrateArgs) -> ExitCode {
    // SAFETY: geteuid(2) has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("error: calibrate starts real dynos and must run as root");
        return ExitCode::from(1);
    }
    match calibrate(|m| eprintln!("{m}")) {
        Ok(c) => {
            if let Err(e) = crate::output::write_atomic(&args.out, c.to_toml().as_bytes()) {
                eprintln!("error: {}: {e}", args.out.display());
                return ExitCode::from(1);
            }
            eprintln!("wrote {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: calibrate: {e}");
            ExitCode::from(1)
        }
    }
}

/// Run `dynosim app` until killed.
pub fn run_app(args: &AppArgs) -> ExitCode {
    let port = args
        .port
        .or_else(|| std::env::var("PORT").ok().and_then(|p| p.parse().ok()))
        .unwrap_or(5000);
    let iters = args
        .iters_per_s
        .filter(|x| x.is_finite() && *x > 0.0)
        .unwrap_or_else(|| super::spin::measure_speed(Duration::from_millis(200)));
    let cfg = AppConfig {
        port,
        workers: args.workers as usize,
        iters_per_s: iters,
        mode: args.spin.into(),
        boot: Duration::from_nanos(args.boot_ns),
    };
    match super::app::serve(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: app: {e}");
            ExitCode::from(1)
        }
    }
}

/// Run `dynosim burn` until its end time.
pub fn run_burn(args: &BurnArgs) -> ExitCode {
    let mut flips = Vec::new();
    for f in args.flips_ns.split(',').filter(|f| !f.trim().is_empty()) {
        match f.trim().parse::<u64>() {
            Ok(v) => flips.push(v),
            Err(_) => {
                eprintln!("error: --flips-ns: `{f}` is not a whole number of ns");
                return ExitCode::from(2);
            }
        }
    }
    super::app::burn(BurnConfig {
        t0_ns: args.t0_ns,
        threads: args.threads as usize,
        initially_on: args.initially == "on",
        flips_ns: flips,
        end_ns: args.end_ns,
    });
    ExitCode::SUCCESS
}
