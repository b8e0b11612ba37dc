//! Running scenarios: jobs in parallel with rayon, results written in job order, atomically.

use crate::engine::{Control, SimTime};
use crate::interrupt;
use crate::model::{JobResult, NoRequests, Profile, run_job, run_job_with};
use crate::output::format::{Format, export};
use crate::output::manifest::{
    JobInfo, Manifest, PointInfo, RunInfo, RunOptionsInfo, ShardInfo, now_unix_s, record_files,
};
use crate::output::merge::write_tier_parts_file;
use crate::output::plot::draw_all;
use crate::output::{
    JobCsv, JobRows, OutputError, StagingDir, Streams, Tables, tier_parts, write_tier_parts,
};
use crate::scenario::{Job, Scenario};
use crate::shard::Shard;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Set on a stop request (SIGINT, SIGTERM, SIGHUP); running jobs stop at their next progress
/// check. Defined in [`crate::interrupt`].
pub use crate::interrupt::INTERRUPTED;

/// Options of `dynosim run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Output folder; with several scenarios, each goes to `<out>/<name>`.
    pub out: Option<PathBuf>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
    /// Show a progress bar (the CLI turns it off with --quiet or when stderr is not a terminal).
    pub progress: bool,
    /// Write requests.csv.
    pub requests: bool,
    /// Time every event and report where the time went.
    pub profile: bool,
    /// Run only this shard's jobs (cluster use); `None` runs them all.
    pub shard: Option<Shard>,
    /// The tables' formats (CSV by default; Parquet copies made from the CSVs).
    pub format: Format,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub folders: Vec<PathBuf>,
    pub jobs: usize,
    pub requests: u64,
    pub events: u64,
    pub wall_seconds: f64,
    pub threads: usize,
    /// Event counts and handler time per event kind, summed over jobs (with `profile`).
    pub profile: Option<Profile>,
    /// Seconds spent simulating, summed over jobs (CPU time of the jobs, roughly).
    pub job_seconds: f64,
    /// Wall time spent drawing plots (included in `wall_seconds`).
    pub plot_seconds: f64,
    /// Problems that did not stop the run (a plot that could not be drawn); the CSVs are written.
    pub warnings: Vec<String>,
}

/// Why a run failed (after validation, which is the scenario module's job).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing failed, or the output location was refused ([`OutputError::is_refusal`]).
    #[error(transparent)]
    Output(OutputError),
    #[error("cannot place the dynos: {0}")]
    Placement(String),
    /// A stop was requested before any folder was committed: every previous result is as it
    /// was and no staging folder is left.
    #[error(
        "interrupted by {}; previous results were left as they were",
        interrupt::cause()
    )]
    Interrupted,
    /// A stop was requested after these folders were committed (complete, in place); the
    /// others were left as they were.
    #[error(
        "interrupted by {} while the results were being committed: {} finished and complete; \
         any other folder was left as it was",
        interrupt::cause(),
        quoted(.0)
    )]
    InterruptedAfterCommit(Vec<PathBuf>),
    #[error("cannot start the worker threads: {0}")]
    Threads(String),
}

fn quoted(folders: &[PathBuf]) -> String {
    let done: Vec<String> = folders
        .iter()
        .map(|d| format!("`{}`", d.display()))
        .collect();
    done.join(", ")
}

impl RunError {
    /// Bad input or usage (exit code 2): an output location that was refused.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, RunError::Output(e) if e.is_refusal())
    }

    /// A stop request (exit code 130), whether or not something was committed first.
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            RunError::Interrupted | RunError::InterruptedAfterCommit(_)
        )
    }
}

impl From<OutputError> for RunError {
    fn from(e: OutputError) -> Self {
        if e.is_interrupted() {
            RunError::Interrupted
        } else {
            RunError::Output(e)
        }
    }
}

/// The output folder of scenario `s` among `count` scenarios. A shard writes beside it, to
/// `<folder>.shard-K-of-N`, so that shards sharing a file system never write the same folder and
/// `dynosim merge <folder>.shard-* --out <folder>` puts the result where one run would.
pub fn output_folder(opts: &RunOptions, s: &Scenario, count: usize) -> PathBuf {
    let folder = match &opts.out {
        Some(out) if count == 1 => out.clone(),
        Some(out) => out.join(&s.name),
        None => Path::new("outputs").join(&s.name),
    };
    match (&opts.shard, folder.file_name()) {
        (Some(shard), Some(name)) => {
            let mut name = name.to_os_string();
            name.push(format!(".{}", shard.suffix()));
            folder.with_file_name(name)
        }
        _ => folder,
    }
}

/// Run one job without writing anything (library use and tests).
///
/// # Panics
/// If the formation cannot be placed, which scenario validation rules out.
pub fn simulate(scenario: &Scenario, job: &Job) -> JobResult {
    run_job(
        &scenario.points[job.point].config,
        job.seeds,
        NoRequests,
        |_, _| Control::Continue,
    )
    .unwrap_or_else(|e| panic!("scenario validation let an unplaceable formation through: {e}"))
}

/// Run every job of every scenario and write each scenario's folder.
pub fn run(scenarios: &[Scenario], opts: &RunOptions) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RunError::Threads(e.to_string()))?;

    // Stage every folder first, so a bad output path fails before any simulation.
    let mut staged = Vec::new();
    for s in scenarios {
        staged.push(StagingDir::create(&output_folder(
            opts,
            s,
            scenarios.len(),
        ))?);
    }
    // Global job order across scenarios; a shard keeps the jobs whose global index is K mod N.
    let all: Vec<(usize, Job)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.jobs().into_iter().map(move |j| (i, j)))
        .enumerate()
        .filter(|(g, _)| opts.shard.is_none_or(|sh| sh.runs(*g)))
        .map(|(_, j)| j)
        .collect();
    let total_sim_ms: u64 = all
        .iter()
        .map(|(i, j)| scenarios[*i].points[j.point].config.duration.as_nanos() / 1_000_000)
        .sum();
    let bar = if opts.progress {
        let b = ProgressBar::new(total_sim_ms.max(1));
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:32} {percent:>3}% simulated  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(format!("0/{} jobs", all.len()));
        Some(b)
    } else {
        None
    };
    let done_jobs = AtomicU64::new(0);
    // Row-level tables go to part files as the jobs produce them (memory stays flat).
    let streams = Streams {
        requests: opts.requests,
        rows: true,
    };

    let results: Vec<Result<(JobResult, f64), RunError>> = pool.install(|| {
        all.par_iter()
            .map(|(si, job)| {
                if interrupt::requested() {
                    return Err(RunError::Interrupted);
                }
                let s = &scenarios[*si];
                let cfg = &s.points[job.point].config;
                let mut reported_ms = 0u64;
                let progress = |now: SimTime, _events: u64| {
                    if let Some(b) = &bar {
                        let ms = now.as_nanos() / 1_000_000;
                        b.inc(ms.saturating_sub(reported_ms));
                        reported_ms = ms;
                    }
                    if interrupt::requested() {
                        Control::Stop
                    } else {
                        Control::Continue
                    }
                };
                let job_started = Instant::now();
                let mut obs = JobCsv::create(staged[*si].path(), s, job, streams)?;
                let result = run_job_with(cfg, job.seeds, &mut obs, progress, opts.profile);
                obs.finish()?;
                let result = result.map_err(|e| RunError::Placement(e.message))?;
                if let Some(b) = &bar {
                    let total_ms = cfg.duration.as_nanos() / 1_000_000;
                    b.inc(total_ms.saturating_sub(reported_ms));
                    let n = done_jobs.fetch_add(1, Ordering::Relaxed) + 1;
                    b.set_message(format!("{n}/{} jobs", all.len()));
                }
                Ok((result, job_started.elapsed().as_secs_f64()))
            })
            .collect()
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if interrupt::requested() {
        return Err(RunError::Interrupted);
    }
    let mut results_iter = results.into_iter();
    let mut report = RunReport {
        folders: Vec::new(),
        jobs: all.len(),
        requests: 0,
        events: 0,
        wall_seconds: 0.0,
        threads,
        profile: None,
        job_seconds: 0.0,
        plot_seconds: 0.0,
        warnings: Vec::new(),
    };
    let mut per_scenario: Vec<Vec<(Job, JobResult)>> =
        scenarios.iter().map(|_| Vec::new()).collect();
    for (si, job) in &all {
        let (r, seconds) = results_iter.next().expect("one result per job")?;
        report.requests += r.generated;
        report.events += r.events;
        report.job_seconds += seconds;
        if let Some(p) = &r.profile {
            let total = report.profile.get_or_insert_with(Profile::default);
            for k in 0..p.counts.len() {
                total.counts[k] += p.counts[k];
                total.nanos[k] += p.nanos[k];
            }
        }
        per_scenario[*si].push((*job, r));
    }
    for ((s, stage), jobs) in scenarios.iter().zip(staged).zip(per_scenario) {
        // A stop request between two steps leaves this folder (and the later ones) uncommitted.
        let stop = |done: &[PathBuf]| match interrupt::requested() {
            false => Ok(()),
            true if done.is_empty() => Err(RunError::Interrupted),
            true => Err(RunError::InterruptedAfterCommit(done.to_vec())),
        };
        stop(&report.folders)?;
        let mut tables = Tables::create_streamed(stage.path(), s)?;
        for (job, result) in &jobs {
            tables.write(&JobRows {
                scenario: s,
                job,
                result,
            })?;
        }
        tables.finish()?;
        let parts: Vec<_> = jobs.iter().flat_map(|(j, r)| tier_parts(j, r)).collect();
        write_tier_parts(stage.path(), &s.name, &parts)?;
        let job_list: Vec<Job> = jobs.iter().map(|(j, _)| *j).collect();
        stop(&report.folders)?;
        JobCsv::join(stage.path(), s, &job_list, streams)?;
        stop(&report.folders)?;
        // A shard saves what tiers.csv pools, for `dynosim merge`; plots wait for the merge.
        // Otherwise plots go into the staging folder, so they appear with the CSVs; a plot that
        // fails is a warning, never a reason to lose the CSVs.
        let mut plots = Vec::new();
        if opts.shard.is_some() {
            write_tier_parts_file(stage.path(), &parts)?;
        } else {
            let t = Instant::now();
            match draw_all(stage.path()) {
                Ok(p) => {
                    plots = p.files;
                    report
                        .warnings
                        .extend(p.warnings.into_iter().map(|w| format!("{}: {w}", s.name)));
                }
                Err(e) => report
                    .warnings
                    .push(format!("{}: no plots drawn: {e}", s.name)),
            }
            report.plot_seconds += t.elapsed().as_secs_f64();
        }
        stop(&report.folders)?;
        // After the plots (drawn from the CSVs): the Parquet copies, and with `--format
        // parquet` the CSVs go, so the manifest records what the folder holds.
        export(stage.path(), opts.format)?;
        stop(&report.folders)?;
        manifest(s, &jobs, opts, threads, plots, stage.path())?.write(stage.path())?;
        match stage.commit_unless_interrupted() {
            Ok(folder) => report.folders.push(folder),
            Err(e) if e.is_interrupted() => stop(&report.folders)?,
            Err(e) => return Err(e.into()),
        }
    }
    // A stop that came after the last check: the commits finished, but it is not a success.
    if interrupt::requested() {
        return Err(RunError::InterruptedAfterCommit(report.folders));
    }
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The manifest of a run's (or shard's) folder `dir`, once its data files are written.
fn manifest(
    s: &Scenario,
    jobs: &[(Job, JobResult)],
    opts: &RunOptions,
    threads: usize,
    plots: Vec<String>,
    dir: &Path,
) -> Result<Manifest, OutputError> {
    Ok(Manifest {
        dynosim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: s.name.clone(),
        file: s.file.clone(),
        scenario_sha256: s.text_hash.clone(),
        seed: s.seed,
        run: Some(RunInfo {
            replications: s.replications,
            common_random_numbers: s.common_random_numbers,
            sweep_keys: s.sweep_keys.clone(),
            points: s
                .points
                .iter()
                .map(|p| PointInfo {
                    point: p.index,
                    values: p.values.clone(),
                })
                .collect(),
            jobs: jobs
                .iter()
                .map(|(j, r)| JobInfo {
                    job: j.index,
                    point: j.point,
                    replication: j.replication,
                    seed: j.seeds.value(),
                    events: r.events,
                    requests_generated: r.generated,
                })
                .collect(),
            options: RunOptionsInfo {
                requests: opts.requests,
                threads: Some(threads),
            },
            jobs_total: s.jobs().len(),
            shard: opts.shard.map(|sh| ShardInfo {
                index: sh.index,
                count: sh.count,
            }),
            merged_from: None,
            plots,
            warnings: s.warnings.clone(),
            written_at_unix_s: now_unix_s(),
        }),
        files: Some(record_files(dir)?),
        extra: Default::default(),
    })
}

/// The `--profile` report: events per kind, their share of the handler time, and the engine's
/// own share (queue operations), as text for the terminal.
pub fn profile_table(report: &RunReport) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let Some(p) = &report.profile else { return o };
    let handler_ns: u64 = p.nanos.iter().sum();
    let events: u64 = p.counts.iter().sum();
    let job_ns = report.job_seconds * 1e9;
    let _ = writeln!(
        o,
        "profile: {} events in {:.2} s of job time: {:.2} M events/s, {:.2} M requests/s per core",
        events,
        report.job_seconds,
        events as f64 / report.job_seconds.max(1e-9) * 1e-6,
        report.requests as f64 / report.job_seconds.max(1e-9) * 1e-6
    );
    let _ = writeln!(
        o,
        "  {:<16} {:>14} {:>8} {:>10} {:>9}",
        "event", "count", "share", "time_s", "ns/event"
    );
    let mut rows: Vec<usize> = (0..p.counts.len()).filter(|&k| p.counts[k] > 0).collect();
    rows.sort_by_key(|&k| std::cmp::Reverse(p.nanos[k]));
    for k in rows {
        let _ = writeln!(
            o,
            "  {:<16} {:>14} {:>7.1}% {:>10.3} {:>9.0}",
            crate::model::EVENT_KINDS[k],
            p.counts[k],
            100.0 * p.nanos[k] as f64 / job_ns.max(1.0),
            p.nanos[k] as f64 * 1e-9,
            p.nanos[k] as f64 / p.counts[k] as f64
        );
    }
    let engine_ns = (job_ns - handler_ns as f64).max(0.0);
    let _ = writeln!(
        o,
        "  {:<16} {:>14} {:>7.1}% {:>10.3}   (event queue, clock, results; includes timer overhead)",
        "engine+other",
        "",
        100.0 * engine_ns / job_ns.max(1.0),
        engine_ns * 1e-9
    );
    o
}
