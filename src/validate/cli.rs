//! Arguments and entry points of `dynosim validate`, `dynosim calibrate`, and the hidden
//! `dynosim app` and `dynosim burn` that run inside dynos.

use super::app::{AppConfig, BurnConfig, SpinMode};
use super::calibrate::{Calibration, calibrate};
use super::compare::Tolerances;
use super::verdict::Decision;
use super::{ValidateError, ValidateOptions, validate};
use crate::cli::{CliError, Exit};
use crate::scenario::{Scenario, parse_duration};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Output folder; the results go to DIR/validation/ (comparison.csv and the real and
    /// simulated tables; docs/validation.md) [default: outputs/<scenario name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sweep point to run (its index, as `dynosim check` lists the points).
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
    /// At most this many shared-tier dynos on the instance (this machine), 1 to 64.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_shared_dynos: u32,
    /// Host too noisy (verdict inconclusive, exit 4) above this steal on the dynos' CPUs (0.05
    /// or 5%; steal is time the hypervisor gave this machine's CPUs to other guests).
    #[arg(long, value_parser = fraction, default_value = "0.05")]
    pub max_steal: f64,
    /// Host too noisy above this share of the dynos' CPUs taken by other processes.
    #[arg(long, value_parser = fraction, default_value = "0.05")]
    pub max_other_cpu: f64,
    /// Host too noisy when the achieved CPU speed is further than this from the calibrated one.
    #[arg(long, value_parser = fraction, default_value = "0.10")]
    pub max_speed_drift: f64,
    /// Run the real side exactly N times (same requests, same lifecycle). Default: the
    /// sequential rule: 30 s runs repeated while the verdict is undecided, within --max-real.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: Option<u32>,
    /// The sequential rule's budget of real run time.
    #[arg(long, value_parser = duration, default_value = "90s")]
    pub max_real: Duration,
    /// Simulate the dynos with this multiple of their cpu_quota (a deliberately mis-set model,
    /// for testing that a wrong model is found out).
    #[arg(long, hide = true, default_value_t = 1.0)]
    pub sim_quota_factor: f64,
}

/// `dynosim calibrate`.
#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Where to write the calibration file (TOML; give it to `dynosim validate --calibration`
    /// or a scenario's `calibration` key).
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

/// Run `dynosim validate`: 0 within the tolerances, 3 outside, 4 inconclusive (undecided or
/// the host too noisy), 2 bad input, 1 a failure, 130 interrupted.
pub fn run_validate(args: &ValidateArgs) -> Result<Exit, CliError> {
    let scenario = Scenario::load(&args.scenario)?;
    // The flag wins over the scenario's `calibration` key.
    let calibration = match args.calibration.as_ref().or(scenario.calibration.as_ref()) {
        Some(p) => {
            Some(Calibration::load(p).map_err(|e| CliError::Usage(format!("calibration: {e}")))?)
        }
        None => None,
    };
    if !(args.sim_quota_factor.is_finite() && args.sim_quota_factor > 0.0) {
        return Err(CliError::Usage(
            "--sim-quota-factor must be a positive number".into(),
        ));
    }
    // SIGINT, SIGTERM and SIGHUP stop the real run alike: the generator stops sending and every
    // dyno is torn down (crate::interrupt).
    crate::interrupt::install()
        .map_err(|e| CliError::Failed(format!("cannot catch SIGINT/SIGTERM/SIGHUP: {e}")))?;
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
        host_limits: super::host::HostLimits {
            steal: args.max_steal,
            other_cpu: args.max_other_cpu,
            speed_drift: args.max_speed_drift,
        },
        program: None,
        repeat: args.repeat.map(|r| r as usize),
        max_real: args.max_real,
        sim_quota_factor: args.sim_quota_factor,
    };
    let v = validate(&scenario, &opts, |m| eprintln!("{m}")).map_err(|e| match e {
        ValidateError::Scenario(m) => CliError::Usage(format!("{}: {m}", scenario.file)),
        ValidateError::Interrupted => CliError::Interrupted(e.to_string()),
        e => CliError::Failed(e.to_string()),
    })?;
    print_verdict(&v, &opts);
    // The verdict and its reasons are printed above; the exit status carries the decision.
    Ok(match v.run.decision {
        Decision::Ok => Exit::Success,
        Decision::Out => Exit::OutOfTolerance,
        Decision::Inconclusive => Exit::Inconclusive,
    })
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.1}%", x * 100.0)
    } else {
        "-".into()
    }
}

/// The printed table: per tier, the real run, the as-measured simulation (the verdict's) with
/// the 95 % interval of its errors, and the as-scheduled one beside it; then the host.
fn print_verdict(v: &super::Verdict, opts: &ValidateOptions) {
    println!(
        "{:<12} {:<14} {:>6} | {:>8} {:>8} {:>7} {:>17} | {:>8} {:>8} {:>7} {:>17} | {:>7} {:>7} | {:>6}  verdict",
        "tier",
        "size",
        "n",
        "p50 real",
        "measured",
        "err",
        "95% interval",
        "p99 real",
        "measured",
        "err",
        "95% interval",
        "p50 sch",
        "p99 sch",
        "KS"
    );
    for r in &v.rows {
        let ci = |q: usize| {
            r.judgement.as_ref().map_or("-".to_string(), |j| {
                format!("[{}, {}]", pct(j.errors[q].lo), pct(j.errors[q].hi))
            })
        };
        println!(
            "{:<12} {:<14} {:>6} | {:>8.2} {:>8.2} {:>7} {:>17} | {:>8.2} {:>8.2} {:>7} {:>17} | {:>7} {:>7} | {:>6.3}  {}",
            r.tier,
            r.size,
            r.n_real,
            r.real[0],
            r.measured[0],
            pct(r.measured_error(0)),
            ci(0),
            r.real[2],
            r.measured[2],
            pct(r.measured_error(2)),
            ci(1),
            pct(r.error(0)),
            pct(r.error(2)),
            r.ks,
            r.decision()
        );
    }
    let h = &v.host;
    println!(
        "as measured: each request's measured CPU time replayed at speed 1, {:.2}% lost capacity (steal {:.2}% + taken by other processes {}, on the dynos' CPUs; they used {:.1}% of those CPUs, mostly idle time); achieved CPU speed {:.3} of the calibrated one (spread p10-p90 {:.1}%)",
        h.lost_capacity() * 100.0,
        h.steal_dyno_cpus * 100.0,
        super::fmt_pct(h.interference),
        h.other_cpu * 100.0,
        h.speed,
        h.speed_spread * 100.0
    );
    println!(
        "as scheduled (\"sch\"): the scenario's demands; the difference from as measured is the host's drift"
    );
    if let Some(r) = v.rows.first().filter(|r| r.repetitions > 1) {
        println!("{} real runs pooled", r.repetitions);
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
        "steal during the real run: {:.2}% of the machine's CPU time",
        v.steal * 100.0
    );
    println!(
        "tolerances: |p50 error| <= {:.0}%, |p99 error| <= {:.0}%{} (95% intervals, as measured); results in {}",
        opts.tolerances.p50 * 100.0,
        opts.tolerances.p99 * 100.0,
        opts.tolerances
            .ks
            .map(|k| format!(", KS <= {k}"))
            .unwrap_or_default(),
        v.folder.display()
    );
    match &v.run.reason {
        Some(why) => println!("verdict: {}: {why}", v.run.decision.as_str()),
        None => println!("verdict: {}", v.run.decision.as_str()),
    }
}

/// Run `dynosim calibrate`.
pub fn run_calibrate(args: &CalibrateArgs) -> Result<Exit, CliError> {
    // SAFETY: geteuid(2) has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err(CliError::Failed(
            "calibrate starts real dynos and must run as root".into(),
        ));
    }
    let c =
        calibrate(|m| eprintln!("{m}")).map_err(|e| CliError::Failed(format!("calibrate: {e}")))?;
    crate::output::write_atomic(&args.out, c.to_toml().as_bytes())
        .map_err(|e| CliError::Failed(format!("{}: {e}", args.out.display())))?;
    eprintln!("wrote {}", args.out.display());
    Ok(Exit::Success)
}

/// Run `dynosim app` until killed.
pub fn run_app(args: &AppArgs) -> Result<Exit, CliError> {
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
    super::app::serve(cfg).map_err(|e| CliError::Failed(format!("app: {e}")))?;
    Ok(Exit::Success)
}

/// Run `dynosim burn` until its end time.
pub fn run_burn(args: &BurnArgs) -> Result<Exit, CliError> {
    let mut flips = Vec::new();
    for f in args.flips_ns.split(',').filter(|f| !f.trim().is_empty()) {
        let v = f.trim().parse::<u64>().map_err(|_| {
            CliError::Usage(format!("--flips-ns: `{f}` is not a whole number of ns"))
        })?;
        flips.push(v);
    }
    super::app::burn(BurnConfig {
        t0_ns: args.t0_ns,
        threads: args.threads as usize,
        initially_on: args.initially == "on",
        flips_ns: flips,
        end_ns: args.end_ns,
    });
    Ok(Exit::Success)
}
