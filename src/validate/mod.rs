//! `dynosim validate`: run a scenario on real sandboxed dynos and in the simulator, and compare.
//!
//! The pieces (docs/validation.md describes the protocol):
//! - [`spin`]: the calibrated CPU spin, clocks, CPU pinning;
//! - [`app`]: the synthetic app (`dynosim app`) and the neighbour burner (`dynosim burn`);
//! - [`loadgen`]: the open-loop load generator, reaching each dyno inside its network namespace;
//! - [`plan`]: fitting a scenario to this machine, and drawing the real run's requests and
//!   neighbour schedule from the simulator's own random streams (a paired comparison);
//! - [`real`]: the real run (dynos, burners, generator, steal) and its teardown;
//! - [`report`]: the real run written in the simulator's CSV schema;
//! - [`compare`]: quantiles, errors, KS distance, CDF points, bootstrap intervals;
//! - [`host`]: what the host gave the dynos (steal, other processes' CPU, achieved speed) and
//!   the limits past which it is too noisy to judge the model;
//! - [`measured`]: the as-measured simulation (measured CPU per request, lost capacity);
//! - [`verdict`]: paired block-bootstrap intervals of the errors and the ok / out /
//!   inconclusive verdict;
//! - [`lifecycle`]: boot gaps, restarts, errors and sticky reads of both runs compared;
//! - [`cdfplot`]: the CDF overlay figure per tier and size;
//! - [`calibrate`]: `dynosim calibrate` and the calibration file;
//! - [`cli`]: the subcommands' arguments.

#![warn(missing_docs)]

pub mod app;
pub mod calibrate;
pub mod cdfplot;
pub mod cli;
pub mod compare;
pub mod host;
pub mod lifecycle;
pub mod loadgen;
pub mod measured;
pub mod plan;
pub mod real;
pub mod report;
pub mod spin;
pub mod verdict;

use crate::model::Dist;
use crate::output::{OutputError, StagingDir};
use crate::run::{RunOptions, run};
use crate::scenario::Scenario;
use compare::{Tolerances, compare, read_requests, write_cdf, write_comparison};
use plan::{ScaleOptions, Scaled, scale};
use real::{RealOptions, RealRun};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of `dynosim validate`.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Output folder; the results go to `<out>/validation/`.
    pub out: PathBuf,
    /// Run length (default: the scenario's `duration`).
    pub duration: Option<Duration>,
    /// Sweep point.
    pub point: usize,
    /// Acceptance thresholds.
    pub tolerances: Tolerances,
    /// A calibration file from `dynosim calibrate`.
    pub calibration: Option<calibrate::Calibration>,
    /// How the app burns CPU.
    pub spin: app::SpinMode,
    /// At most this many shared-tier dynos.
    pub max_shared_dynos: u32,
    /// How noisy the host may be for a verdict on the model.
    pub host_limits: host::HostLimits,
    /// The dynosim executable to run inside the dynos (`None`: this program).
    pub program: Option<PathBuf>,
    /// Real runs of the same plan (1 or more): their pooled requests are compared, with
    /// bootstrap intervals; the as-scheduled simulation runs once. `None`: the sequential
    /// rule (repeat while undecided, within `max_real`).
    pub repeat: Option<usize>,
    /// The sequential rule's budget of real run time.
    pub max_real: Duration,
    /// Multiply the simulated dynos' `cpu_quota` by this (1: the scenario's). A deliberately
    /// mis-set model, to check that a wrong model is found `out`; the real run keeps its quota.
    pub sim_quota_factor: f64,
}

/// The sequential rule's run length when neither `--duration` nor `--repeat` is given: short
/// runs, repeated while the verdict is undecided (a scenario with restarts runs its full
/// duration: its lifecycle is timed).
pub const SEQUENTIAL_RUN: Duration = Duration::from_secs(30);

/// The sequential rule's default budget of real run time per scenario.
pub const MAX_REAL: Duration = Duration::from_secs(90);

/// Why validate could not give a verdict.
#[derive(Debug)]
pub enum ValidateError {
    /// The scenario cannot be run for real (a message for the user).
    Scenario(String),
    /// The real run failed.
    Real(String),
    /// Writing outputs failed.
    Output(OutputError),
    /// Ctrl-C.
    Interrupted,
}

impl std::fmt::Display for ValidateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidateError::Scenario(m) => write!(f, "{m}"),
            ValidateError::Real(m) => write!(f, "real run: {m}"),
            ValidateError::Output(e) => write!(f, "{e}"),
            ValidateError::Interrupted => write!(f, "interrupted; the dynos were stopped"),
        }
    }
}

impl std::error::Error for ValidateError {}

impl From<OutputError> for ValidateError {
    fn from(e: OutputError) -> Self {
        ValidateError::Output(e)
    }
}

/// What validate found.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// One row per tier and size.
    pub rows: Vec<compare::Row>,
    /// Steal as a fraction of the machine's CPU time during the real run.
    pub steal: f64,
    /// What the host gave the dynos (mean over the repetitions).
    pub host: host::HostLoad,
    /// Each repetition's.
    pub hosts: Vec<host::HostLoad>,
    /// The run's verdict (as measured): ok, out, or inconclusive and why.
    pub run: verdict::RunVerdict,
    /// The verdict is ok.
    pub pass: bool,
    /// The lifecycle comparison (empty when the run has no restarts).
    pub lifecycle: Vec<lifecycle::Metric>,
    /// Where the results are.
    pub folder: PathBuf,
}

/// Run `scenario` for real and simulated, write both and the comparison, and judge it.
/// `say` receives progress lines for the user.
pub fn validate(
    scenario: &Scenario,
    opts: &ValidateOptions,
    mut say: impl FnMut(&str),
) -> Result<Verdict, ValidateError> {
    // SAFETY: geteuid(2) has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ValidateError::Real(
            "validate runs real dynos and must run as root (cgroups, namespaces); see docs/executor.md".into(),
        ));
    }
    let cpus = spin::allowed_cpus();
    let scale_to = |duration: Option<Duration>| {
        scale(
            scenario,
            &ScaleOptions {
                point: opts.point,
                duration,
                cpus: cpus.clone(),
                max_shared_dynos: opts.max_shared_dynos,
                network_rtt: Duration::ZERO,
                contention: opts.calibration.as_ref().map(|c| c.contention.coefficient),
            },
        )
        .map_err(ValidateError::Scenario)
    };
    let mut scaled = scale_to(opts.duration)?;
    let sequential = opts.repeat.is_none();
    let scenario_run = Duration::from_nanos(scaled.config().duration.as_nanos());
    if sequential && opts.duration.is_none() && scaled.actions.is_empty() {
        let chunk = SEQUENTIAL_RUN.min(opts.max_real);
        if scenario_run > chunk {
            scaled = scale_to(Some(chunk))?;
        }
    }
    if opts.sim_quota_factor != 1.0 {
        for app in &mut scaled.scenario.points[0].config.apps {
            for p in &mut app.processes {
                p.cpu_quota = p.cpu_quota.map(|q| q * opts.sim_quota_factor);
            }
        }
        scaled.notes.push(format!(
            "the simulated dynos' cpu_quota is {} times the real one (--sim-quota-factor): a deliberately mis-set model",
            opts.sim_quota_factor
        ));
    }
    // Spin speed, measured now on a dyno CPU (the calibration file's figure is a reference).
    let dyno_cpus = scaled
        .dynos
        .first()
        .map(|d| d.cpus.clone())
        .unwrap_or_default();
    let iters_per_s = spin::measure_speed_on(&dyno_cpus, Duration::from_millis(300));
    say(&format!(
        "scaled to this machine ({} CPUs): {}",
        cpus.len(),
        plan::describe(&scaled)
    ));
    for n in &scaled.notes {
        say(&format!("  - {n}"));
    }
    if let Some(c) = &opts.calibration {
        let drift = iters_per_s / c.spin.iters_per_cpu_s - 1.0;
        say(&format!(
            "spin: {:.3e} iterations/CPU-s now, {:+.1}% from the calibration file",
            iters_per_s,
            drift * 100.0
        ));
    } else {
        say(&format!("spin: {iters_per_s:.3e} iterations/CPU-s"));
    }
    let cfg = scaled.config();
    let run_s = cfg.duration.as_secs_f64();
    let real_opts = RealOptions {
        iters_per_s,
        spin: opts.spin,
        drain: Duration::from_secs(5).min(Duration::from_nanos(cfg.request_timeout.as_nanos())),
        cpu_period: Duration::from_nanos(cfg.cpu.period.as_nanos()),
        probes: 200,
        program: opts.program.clone(),
    };
    let base = opts.out.join("validation");
    std::fs::create_dir_all(&base).map_err(|e| OutputError {
        path: base.clone(),
        what: "cannot create".into(),
        source: e,
    })?;
    let tiers: Vec<(String, String, (String, String))> = scaled
        .config()
        .apps
        .iter()
        .flat_map(|a| {
            a.processes.iter().map(|p| {
                (
                    a.name.clone(),
                    p.name.clone(),
                    (p.size.tier.to_string(), p.size.name.clone()),
                )
            })
        })
        .collect();
    let tier_of = |app: &str, process: &str| {
        tiers
            .iter()
            .find(|(a, p, _)| a == app && p == process)
            .map(|(_, _, t)| t.clone())
    };
    let read = |dir: &Path| {
        read_requests(&dir.join("requests.csv"), &tier_of).map_err(ValidateError::Real)
    };
    let max_runs = match opts.repeat {
        Some(n) => n.max(1),
        None => {
            let run_ns = u128::from(scaled.config().duration.as_nanos().max(1));
            ((opts.max_real.as_nanos() / run_ns) as usize).max(1)
        }
    };
    let mut reals: Vec<RealRun> = Vec::new();
    let mut real_s: Vec<compare::Samples> = Vec::new();
    let mut measured_s: Vec<compare::Samples> = Vec::new();
    let mut rtt = Duration::ZERO;
    let mut judged = std::collections::BTreeMap::new();
    for k in 0..max_runs {
        say(&format!(
            "real run{}: {} requests over {} ...",
            if max_runs > 1 {
                format!(
                    " {}/{}{max_runs}",
                    k + 1,
                    if sequential { "at most " } else { "" }
                )
            } else {
                String::new()
            },
            scaled.plan.len(),
            scaled.config().duration
        ));
        let real = real::run(&scaled, &real_opts, &mut say).map_err(|e| {
            if real::STOP.load(std::sync::atomic::Ordering::SeqCst) {
                ValidateError::Interrupted
            } else {
                ValidateError::Real(e)
            }
        })?;
        if real.interrupted {
            return Err(ValidateError::Interrupted);
        }
        if k == 0 {
            rtt = median(&real.probe_ns);
            set_network(&mut scaled, rtt);
            say(&format!(
                "request path round trip (median of {} probes): {:.3} ms, the simulation's network latency",
                real.probe_ns.len(),
                rtt.as_secs_f64() * 1e3
            ));
        }
        let dir = base.join(real_dir(k));
        write_real_folder(&dir, &scaled, &real, iters_per_s, rtt, &cpus)?;
        real_s.push(read(&dir)?);
        // The as-measured simulation of this repetition.
        let mdir = base.join(measured_dir(k));
        simulate(&measured::scenario(&scaled, &real), &mdir)?;
        measured_s.push(read(&mdir)?);
        let h = &real.host;
        say(&format!(
            "  host: steal {:.2}% on the dynos' CPUs ({:.2}% machine); other processes used {:.1}% of them and took {} from the dynos; other dynosim runs used {:.2}%; achieved CPU speed {:.3} (spread {:.1}%)",
            h.steal_dyno_cpus * 100.0,
            h.steal_machine * 100.0,
            h.other_cpu * 100.0,
            fmt_pct(h.interference),
            h.rivals * 100.0,
            h.speed,
            h.speed_spread * 100.0
        ));
        reals.push(real);
        judged = verdict::judge(
            &scaled,
            &real_s,
            &measured_s,
            &opts.tolerances,
            scaled.scenario.seed,
        );
        let hosts: Vec<host::HostLoad> = reals.iter().map(|r| r.host).collect();
        let noisy = opts.host_limits.too_noisy(&host::HostLoad::mean(&hosts));
        let undecided = judged
            .values()
            .any(|j| j.decision == verdict::Decision::Inconclusive);
        if sequential && k + 1 < max_runs && (undecided || noisy.is_some()) {
            say(&format!(
                "  undecided after {} run(s){}: running again (sequential rule, at most {:.0} s of real run)",
                k + 1,
                noisy
                    .map(|n| format!(" (host too noisy: {n})"))
                    .unwrap_or_default(),
                opts.max_real.as_secs_f64()
            ));
            continue;
        }
        if sequential {
            break;
        }
    }
    let repeat = reals.len();
    let hosts: Vec<host::HostLoad> = reals.iter().map(|r| r.host).collect();
    let host_mean = host::HostLoad::mean(&hosts);
    let steal = reals.iter().map(|r| r.steal.fraction("cpu")).sum::<f64>() / repeat as f64;
    let real_dirs: Vec<PathBuf> = (0..repeat).map(|k| base.join(real_dir(k))).collect();
    say("simulating the same scaled scenario as scheduled ...");
    simulate(&scaled.scenario, &base.join("sim"))?;
    let sim_s = read(&base.join("sim"))?;
    let mut rows = compare(&real_s, &sim_s, &opts.tolerances, scaled.scenario.seed);
    let measured_pool = compare::pool(&measured_s);
    for r in &mut rows {
        let key = (r.tier.clone(), r.size.clone());
        let mut v: Vec<f64> = measured_pool
            .get(&key)
            .map(|m| m.values().copied().collect())
            .unwrap_or_default();
        v.sort_by(f64::total_cmp);
        r.n_measured = v.len();
        r.measured = compare::stats(&v);
        r.judgement = judged.get(&key).cloned();
        r.pass = r
            .judgement
            .as_ref()
            .is_some_and(|j| j.decision == verdict::Decision::Ok)
            && opts.tolerances.ks.is_none_or(|t| r.ks <= t);
    }
    let noisy = opts.host_limits.too_noisy(&host_mean);
    let mut run = verdict::RunVerdict::of(&judged, noisy, run_s);
    if let Some(t) = opts.tolerances.ks {
        if run.decision == verdict::Decision::Ok && rows.iter().any(|r| r.ks > t) {
            run.decision = verdict::Decision::Out;
        }
    }
    write_comparison(
        &base.join("comparison.csv"),
        &scaled.scenario.name,
        &rows,
        steal,
        &host_mean,
        &opts.tolerances,
    )?;
    write_cdf(
        &base.join("cdf.csv"),
        &scaled.scenario.name,
        &real_s,
        &sim_s,
    )?;
    let mut life = Vec::new();
    if !scaled.actions.is_empty() {
        let dirs: Vec<&Path> = real_dirs.iter().map(PathBuf::as_path).collect();
        let (metrics, starts) =
            lifecycle::compare(&dirs, &base.join("sim")).map_err(ValidateError::Real)?;
        lifecycle::write(&base, &scaled.scenario.name, &metrics, &starts)?;
        life = metrics;
    }
    let real_s = compare::pool(&real_s);
    write_steal(&base.join("steal.csv"), &reals[0])?;
    // Figures: a CDF overlay per tier and size, and the usual plots of the real run (the
    // simulation's folder has its own). A figure that cannot be drawn is a warning.
    for r in &rows {
        let key = (r.tier.clone(), r.size.clone());
        let sorted = |m: &compare::Samples| {
            let mut v: Vec<f64> = m
                .get(&key)
                .map(|x| x.values().copied().collect())
                .unwrap_or_default();
            v.sort_by(f64::total_cmp);
            v
        };
        let (rv, sv) = (sorted(&real_s), sorted(&sim_s));
        let title = format!(
            "{}: {} {} (p50 {:+.1}%, p99 {:+.1}%)",
            scaled.scenario.name,
            r.tier,
            r.size,
            r.error(0) * 100.0,
            r.error(2) * 100.0
        );
        let file = base.join(format!("cdf_{}_{}", r.tier, r.size));
        let drawn = std::panic::catch_unwind(|| cdfplot::write(&file, &title, &rv, &sv))
            .unwrap_or_else(|_| Err("the plotting library panicked".into()));
        if let Err(e) = drawn {
            say(&format!(
                "warning: CDF plot for {} {} not drawn: {e}",
                r.tier, r.size
            ));
        }
    }
    for dir in &real_dirs {
        match crate::output::plot::draw_all(dir) {
            Ok(rep) => {
                for w in rep.warnings {
                    say(&format!("warning: real run: {w}"));
                }
            }
            Err(e) => say(&format!("warning: real run: plots not drawn: {e}")),
        }
    }
    let pass = run.decision == verdict::Decision::Ok;
    Ok(Verdict {
        rows,
        steal,
        host: host_mean,
        hosts,
        run,
        pass,
        lifecycle: life,
        folder: base,
    })
}

/// Run `scenario` (one job) into `dir` as `dynosim run --requests` would.
fn simulate(scenario: &Scenario, dir: &Path) -> Result<(), ValidateError> {
    run(
        std::slice::from_ref(scenario),
        &RunOptions {
            out: Some(dir.to_path_buf()),
            threads: Some(1),
            progress: false,
            requests: true,
            ..RunOptions::default()
        },
    )
    .map(|_| ())
    .map_err(|e| match e {
        crate::run::RunError::Interrupted => ValidateError::Interrupted,
        e => ValidateError::Real(format!("simulation: {e}")),
    })
}

/// `12.34%`, or `(not measured)` for NaN.
pub fn fmt_pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", x * 100.0)
    } else {
        "(not measured)".into()
    }
}

/// The folder of repetition `k`'s as-measured simulation: `sim-measured`, `sim-measured-2`, ...
pub fn measured_dir(k: usize) -> String {
    if k == 0 {
        "sim-measured".into()
    } else {
        format!("sim-measured-{}", k + 1)
    }
}

/// The folder of real repetition `k` (0-based): `real`, then `real-2`, `real-3`, ...
pub fn real_dir(k: usize) -> String {
    if k == 0 {
        "real".into()
    } else {
        format!("real-{}", k + 1)
    }
}

fn median(v: &[u64]) -> Duration {
    let m = crate::stats::median(v.iter().map(|&ns| ns as f64));
    Duration::from_nanos(if m.is_finite() { m as u64 } else { 0 })
}

/// Set the scaled scenario's router-dyno round trip to `rtt` (the real loopback's).
pub fn set_network(s: &mut Scaled, rtt: Duration) {
    let net = &mut s.scenario.points[0].config.network;
    net.router_dyno = Dist::Constant(rtt.as_secs_f64());
    s.notes.retain(|n| !n.starts_with("simulated router-dyno"));
    s.notes.push(format!(
        "simulated router-dyno round trip = {:.3} ms, the median measured on the real loopback",
        rtt.as_secs_f64() * 1e3
    ));
}

fn write_real_folder(
    dir: &Path,
    s: &Scaled,
    real: &RealRun,
    iters_per_s: f64,
    rtt: Duration,
    cpus: &[usize],
) -> Result<(), OutputError> {
    let stage = StagingDir::create(dir)?;
    let uname = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cgroup = crate::exec::cgroup::Backend::detect()
        .map(|b| format!("{:?}", b.version))
        .unwrap_or_default();
    let machine = serde_json::json!({
        "kernel": uname.trim(),
        "cgroup": cgroup,
        "cpus": cpus,
        "load_generator_cpus": s.loadgen_cpus,
        "spin_iterations_per_cpu_s": iters_per_s,
        "loopback_rtt_median_ms": rtt.as_secs_f64() * 1e3,
        "steal_fraction": real.steal.fraction("cpu"),
        "steal_dyno_cpus": real.host.steal_dyno_cpus,
        "other_cpu_fraction": real.host.other_cpu,
        "interference": real.host.interference,
        "other_dynosim_cpu_fraction": real.host.rivals,
        "lost_capacity": real.host.lost_capacity(),
        "speed_achieved": real.host.speed,
        "speed_spread": real.host.speed_spread,
        "notes": s.notes,
    });
    report::write_real(stage.path(), s, real, machine)?;
    stage.commit()?;
    Ok(())
}

fn write_steal(path: &Path, real: &RealRun) -> Result<(), OutputError> {
    let err = |e: &dyn std::fmt::Display| OutputError {
        path: path.to_path_buf(),
        what: "cannot write".into(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut w = csv::Writer::from_path(path).map_err(|e| err(&e))?;
    w.write_record(["cpu", "steal_ticks", "total_ticks", "steal_fraction"])
        .map_err(|e| err(&e))?;
    for (n, st, t) in &real.steal.rows {
        w.write_record([
            n.clone(),
            st.to_string(),
            t.to_string(),
            crate::output::fmt_f64(real.steal.fraction(n), 6),
        ])
        .map_err(|e| err(&e))?;
    }
    w.flush().map_err(|e| err(&e))
}
