//! `dynosim plan`: the cheapest formation that meets the SLOs (docs/plan.md).

use super::load::load_all;
use super::{CliError, Exit, catch_stop_signals};
use crate::output::format::{Format, export_file};
use crate::output::manifest::{Manifest, record_file};
use crate::output::{OutputError, StagingDir};
use crate::plan::report::{PLAN_COLUMNS, figure, html, text, write_plan_csv};
use crate::plan::{PlanError, PlanOptions, PlanReport, Slo, Verdict, plan};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Flags of `dynosim plan`.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The scenario (without a [sweep]): the app, its workload and every other process as
    /// they are; the planned process's size and count are what the plan chooses.
    pub scenario: PathBuf,
    /// An objective on the planned process's requests, repeatable: `p95<=300ms`,
    /// `p99<=800ms`, `mean<=100ms`, `p50`/`p90`/`p99.9`, `errors<=0.1%`. Latencies need a unit.
    #[arg(long = "slo", value_name = "SLO", required = true, value_parser = Slo::parse)]
    pub slos: Vec<Slo>,
    /// The process to plan, as APP/TYPE [default: the process receiving the workload].
    #[arg(long, value_name = "APP/TYPE")]
    pub process: Option<String>,
    /// Sizes to consider, comma-separated [default: every size the app may run].
    #[arg(long, value_name = "SIZE,...", value_delimiter = ',')]
    pub sizes: Option<Vec<String>>,
    /// Dyno counts to consider, inclusive: `1..30` [default: 1 to each size's limit].
    #[arg(long, value_name = "A..B", value_parser = parse_counts)]
    pub counts: Option<(u32, u32)>,
    /// Joint confidence of the verdicts on all SLOs (each SLO's interval is made at
    /// 1 - (1 - confidence) / number of SLOs).
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// Wall-clock budget in seconds; candidates still undecided when it runs out are reported
    /// as such.
    #[arg(long = "budget-s", default_value_t = 60.0, value_parser = parse_budget)]
    pub budget_s: f64,
    /// Replications before a candidate's first verdict.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub min_replications: u32,
    /// Replications after which a candidate is left undecided.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(2..=1000))]
    pub max_replications: u32,
    /// Output folder for plan.csv and manifest.json [default: outputs/<scenario name>-plan/];
    /// replaced in one step, and only if it is empty or dynosim wrote it.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Override the scenario's seed (replication r of every candidate uses the same streams).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// plan.csv's file format: `csv` (the default), `parquet` (plan.parquet instead: same
    /// columns, typed) or `both`.
    #[arg(long, value_enum, default_value_t = Format::Csv, value_name = "FORMAT")]
    pub format: Format,
    /// No progress bar; the answer only.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_counts(text: &str) -> Result<(u32, u32), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not a count range such as `1..30`"))?;
    let n = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{s}` in `{text}` is not a whole number of dynos"))
    };
    let (a, b) = (n(a)?, n(b)?);
    if a == 0 || a > b {
        return Err(format!(
            "`{text}`: counts run from at least 1 up to at least the first (`1..30`)"
        ));
    }
    Ok((a, b))
}

fn parse_confidence(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("`{t}` is not a confidence such as 0.95 or 95%"))?;
    if !(0.5..1.0).contains(&v) {
        return Err(format!(
            "`{t}`: the confidence must be at least 0.5 and below 1"
        ));
    }
    Ok(v)
}

fn parse_budget(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 7.0 * 86_400.0 => Ok(v),
        _ => Err(format!(
            "`{text}` is not a number of seconds between 0 and a week"
        )),
    }
}

pub fn run(args: &PlanArgs) -> Result<Exit, CliError> {
    catch_stop_signals()?;
    let scenario = load_all(std::slice::from_ref(&args.scenario), args.seed, None)?
        .pop()
        .ok_or_else(|| CliError::Usage("no scenario".into()))?;
    if args.min_replications > args.max_replications {
        return Err(CliError::Usage(
            "--min-replications cannot exceed --max-replications".into(),
        ));
    }
    let opts = PlanOptions {
        slos: args.slos.clone(),
        process: args.process.clone(),
        sizes: args.sizes.clone(),
        counts: args.counts,
        confidence: args.confidence,
        budget: Duration::from_secs_f64(args.budget_s),
        min_replications: args.min_replications as usize,
        max_replications: args.max_replications as usize,
        threads: args.threads.map(usize::from),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("outputs").join(format!("{}-plan", scenario.name)));
    // Refuse a folder that may not be replaced before searching, not after.
    let stage = StagingDir::create(&out).map_err(output_error)?;
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(1);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] sizes {pos}/{len} {bar:24} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let report = plan(&scenario, &opts, |p| {
        if let Some(b) = &bar {
            b.set_length(p.sizes as u64);
            b.set_position(p.sizes_done as u64);
            b.set_message(format!(
                "{} candidates, {} decided; now {}",
                p.evaluated, p.decided, p.current
            ));
        }
    })
    .map_err(plan_error)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    write_folder(stage, &scenario, &report, args.format)?;
    print!("{}", text(&report));
    if !args.quiet {
        eprintln!(
            "{}, plan_cost.png/.svg, report.html, manifest.json -> {}",
            match args.format {
                Format::Csv => "plan.csv",
                Format::Parquet => "plan.parquet",
                Format::Both => "plan.csv, plan.parquet",
            },
            out.display()
        );
    }
    Ok(exit_of(&report))
}

/// 0 with a recommendation; 4 when nothing was shown feasible but some candidate stayed
/// undecided (or the budget ran out); 5 when every candidate fails.
pub fn exit_of(r: &PlanReport) -> Exit {
    if r.recommended.is_some() {
        Exit::Success
    } else if r.budget_spent
        || r.candidates
            .iter()
            .any(|c| c.verdict() == Verdict::Undecided)
    {
        Exit::Inconclusive
    } else {
        Exit::NoneFeasible
    }
}

fn plan_error(e: PlanError) -> CliError {
    match e {
        PlanError::Scenario(e) => CliError::Scenario(e),
        PlanError::Input(m) => CliError::Usage(m),
        PlanError::Interrupted => CliError::Interrupted(format!(
            "interrupted by {}; nothing was written",
            crate::interrupt::cause()
        )),
        PlanError::Failed(m) => CliError::Failed(m),
    }
}

fn output_error(e: OutputError) -> CliError {
    if e.is_refusal() {
        CliError::Usage(e.to_string())
    } else if e.is_interrupted() {
        CliError::Interrupted(e.to_string())
    } else {
        CliError::Failed(e.to_string())
    }
}

fn write_folder(
    stage: StagingDir,
    scenario: &crate::scenario::Scenario,
    report: &PlanReport,
    format: Format,
) -> Result<(), CliError> {
    let dir = stage.path().to_path_buf();
    let fail = |what: &str, e: std::io::Error| CliError::Failed(format!("{what}: {e}"));
    write_plan_csv(&dir, report).map_err(|e| fail("cannot write plan.csv", e))?;
    // The figure and the page; a figure that cannot be drawn is a failure, as in `plot`.
    crate::output::plot::register_font().map_err(CliError::Failed)?;
    let rendered = crate::output::plot::plan_cost::plan_figure(&figure(report, &scenario.name))
        .map_err(|e| CliError::Failed(format!("plan_cost not drawn: {e}")))?;
    let page = html(report, &scenario.name, &scenario.text, rendered.svg());
    rendered
        .write(&dir, "plan_cost")
        .map_err(CliError::Failed)?;
    crate::output::write_atomic(&dir.join("report.html"), page.as_bytes())
        .map_err(|e| fail("cannot write report.html", e))?;
    let mut extra = serde_json::Map::new();
    extra.insert("kind".into(), "plan".into());
    extra.insert("process".into(), report.target.label().into());
    extra.insert(
        "slos".into(),
        report
            .slos
            .iter()
            .map(|s| serde_json::Value::from(s.text.clone()))
            .collect(),
    );
    extra.insert("confidence".into(), report.confidence.into());
    extra.insert(
        "recommended".into(),
        report
            .recommended
            .map(|i| report.candidates[i].formation.label())
            .into(),
    );
    extra.insert("budget_spent".into(), report.budget_spent.into());
    extra.insert("simulations".into(), report.simulations.into());
    export_file(&dir, "plan.csv", "plan.parquet", format, |name| {
        PLAN_COLUMNS
            .iter()
            .find(|(c, _)| *c == name)
            .map(|(_, k)| *k)
    })
    .map_err(output_error)?;
    let mut files = std::collections::BTreeMap::new();
    for name in ["plan.csv", "plan.parquet"] {
        let path = dir.join(name);
        if path.exists() {
            let record =
                record_file(&path).map_err(|e| fail(&format!("cannot read back {name}"), e))?;
            files.insert(name.to_string(), record);
        }
    }
    let manifest = Manifest {
        dynosim_version: env!("CARGO_PKG_VERSION").into(),
        scenario: scenario.name.clone(),
        file: scenario.file.clone(),
        scenario_sha256: scenario.text_hash.clone(),
        seed: scenario.seed,
        run: None,
        files: Some(files),
        extra,
    };
    manifest.write(&dir).map_err(output_error)?;
    stage.commit_unless_interrupted().map_err(output_error)?;
    Ok(())
}
