//! The search over sizes and counts, and the sequential replications of one candidate.
//!
//! Per size (cheapest dyno first): evaluate the largest count allowed; if it does not meet the
//! SLOs, no count of that size does (more dynos never make latency worse) and the size is done.
//! Otherwise bisect the count between the smallest allowed and that one for the smallest count
//! that meets them; then evaluate the count just below it if the bisection did not, and walk
//! down while it still meets (the monotonicity check). The recommendation is the cheapest of
//! the sizes' answers. Undecided candidates (replication cap or time budget reached) count as
//! not meeting during the search and are reported as what the plan does not know.
//!
//! Determinism: a candidate's verdict depends only on its replications, which depend only on
//! the scenario, the seed and the replication number; replications run in parallel batches,
//! but the stopping rule reads them in order, so the thread count never changes a result. Only
//! an exhausted `--budget-s` makes the answer depend on the machine's speed (reported).

use super::estimate::{Decide, Interval, Verdict};
use super::slo::Slo;
use super::{Candidate, Evaluation, Formation, Outcome};
use crate::engine::{Control, SeedTree};
use crate::model::{Catalog, NoRequests, SimConfig, offered_load, run_job};
use crate::scenario::{Scenario, ScenarioError};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the planner is asked.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub slos: Vec<Slo>,
    /// `APP/TYPE`; default: the process receiving the workload.
    pub process: Option<String>,
    /// Sizes to consider; default: every size of the catalog the app may run.
    pub sizes: Option<Vec<String>>,
    /// Inclusive count range; default 1 to the size's limit.
    pub counts: Option<(u32, u32)>,
    /// Joint confidence of the SLO verdicts (e.g. 0.95).
    pub confidence: f64,
    /// Wall-clock budget for the whole search.
    pub budget: Duration,
    /// Replications before the first decision (at least 2).
    pub min_replications: usize,
    /// Replications after which a candidate stays undecided.
    pub max_replications: usize,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The scenario does not fit the question (bad input).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Flags that do not fit the scenario (bad input).
    #[error("{0}")]
    Input(String),
    /// A stop request (SIGINT, SIGTERM, SIGHUP).
    #[error("interrupted; nothing was written")]
    Interrupted,
    /// Something failed while running.
    #[error("{0}")]
    Failed(String),
}

/// The planned process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub app: usize,
    pub process: usize,
    pub app_name: String,
    pub process_name: String,
}

impl Target {
    /// `shop/web`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.app_name, self.process_name)
    }
}

/// What the search found for one size.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeResult {
    pub size: String,
    /// The cheapest candidate of this size that meets every SLO (index into the candidates).
    pub best: Option<usize>,
    /// Why there is none, or what was checked.
    pub note: String,
}

/// The planner's answer.
#[derive(Debug, Clone)]
pub struct PlanReport {
    pub target: Target,
    pub slos: Vec<Slo>,
    pub confidence: f64,
    /// Every candidate evaluated, in evaluation order.
    pub candidates: Vec<Candidate>,
    pub sizes: Vec<SizeResult>,
    /// The cheapest candidate that meets every SLO.
    pub recommended: Option<usize>,
    /// The budget ran out before the search finished.
    pub budget_spent: bool,
    pub elapsed: Duration,
    /// Replications simulated (including ones run ahead in a batch and not needed).
    pub simulations: usize,
    /// Requests simulated over all replications.
    pub requests: u64,
    /// Sizes left out before the search and why (not allowed for this app, refused).
    pub excluded: Vec<(String, String)>,
    /// The scenario's neighbour load, if noise is on.
    pub noise_load: Option<f64>,
    /// The recommendation under half and 1.5 times that load (shared tiers only).
    pub sensitivity: Vec<Sensitivity>,
}

impl PlanReport {
    /// Candidates cheaper than the recommendation (or all, without one) left undecided.
    pub fn undecided_cheaper(&self) -> Vec<&Candidate> {
        let limit = self.recommended.map_or(f64::INFINITY, |i| {
            self.candidates[i].formation.cost_usd_month
        });
        self.candidates
            .iter()
            .filter(|c| c.verdict() == Verdict::Undecided && c.formation.cost_usd_month < limit)
            .collect()
    }
}

/// The recommendation re-evaluated under another neighbour load.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    /// `noise.load` used (the scenario's is the default answer's).
    pub noise_load: f64,
    pub evaluation: Evaluation,
}

/// Progress of the search, for a progress bar.
#[derive(Debug, Clone)]
pub struct Progress {
    pub sizes_done: usize,
    pub sizes: usize,
    pub decided: usize,
    pub evaluated: usize,
    /// What is being simulated now.
    pub current: String,
}

/// Find the cheapest formation of the planned process that meets `opts.slos`.
pub fn plan(
    scenario: &Scenario,
    opts: &PlanOptions,
    mut progress: impl FnMut(&Progress),
) -> Result<PlanReport, PlanError> {
    let started = Instant::now();
    if scenario.points.len() > 1 || !scenario.sweep_keys.is_empty() {
        return Err(PlanError::Input(format!(
            "{}: plan searches sizes and counts itself; remove the [sweep] (it varies {})",
            scenario.file,
            scenario.sweep_keys.join(", ")
        )));
    }
    if opts.slos.is_empty() {
        return Err(PlanError::Input(
            "give at least one --slo, for example --slo 'p95<=300ms'".into(),
        ));
    }
    let base = &scenario.points[0].config;
    let target = target(base, opts.process.as_deref(), &scenario.file)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| PlanError::Failed(format!("cannot start worker threads: {e}")))?;
    let mut s = Search {
        scenario,
        opts,
        target: target.clone(),
        started,
        candidates: Vec::new(),
        by_formation: BTreeMap::new(),
        simulations: 0,
        requests: 0,
        budget_spent: false,
        pool,
        confidence_each: 1.0 - (1.0 - opts.confidence) / opts.slos.len() as f64,
    };
    let (sizes, excluded) = s.sizes()?;
    let mut results = Vec::new();
    for (k, (size, _price)) in sizes.iter().enumerate() {
        progress(&Progress {
            sizes_done: k,
            sizes: sizes.len(),
            decided: s.decided(),
            evaluated: s.candidates.len(),
            current: size.clone(),
        });
        let r = s.size(size, &mut progress, k, sizes.len())?;
        results.push(r);
        if s.budget_spent {
            for (size, _) in &sizes[k + 1..] {
                results.push(SizeResult {
                    size: size.clone(),
                    best: None,
                    note: "not searched: the budget ran out".into(),
                });
            }
            break;
        }
    }
    progress(&Progress {
        sizes_done: sizes.len(),
        sizes: sizes.len(),
        decided: s.decided(),
        evaluated: s.candidates.len(),
        current: String::new(),
    });
    let recommended = results.iter().filter_map(|r| r.best).min_by(|&a, &b| {
        let (fa, fb) = (&s.candidates[a].formation, &s.candidates[b].formation);
        fa.cost_usd_month
            .total_cmp(&fb.cost_usd_month)
            .then(fa.count.cmp(&fb.count))
    });
    let sensitivity = match recommended {
        Some(i) => s.sensitivity(i)?,
        None => Vec::new(),
    };
    Ok(PlanReport {
        noise_load: scenario.points[0].config.noise.map(|n| n.load),
        sensitivity,
        target,
        slos: opts.slos.clone(),
        confidence: opts.confidence,
        candidates: s.candidates,
        sizes: results,
        recommended,
        budget_spent: s.budget_spent,
        elapsed: started.elapsed(),
        simulations: s.simulations,
        requests: s.requests,
        excluded,
    })
}

/// The planned process: `--process APP/TYPE`, or the one the only workload goes to.
fn target(cfg: &SimConfig, process: Option<&str>, file: &str) -> Result<Target, PlanError> {
    let all: Vec<String> = cfg
        .apps
        .iter()
        .flat_map(|a| {
            a.processes
                .iter()
                .map(move |p| format!("{}/{}", a.name, p.name))
        })
        .collect();
    let make = |a: usize, p: usize| Target {
        app: a,
        process: p,
        app_name: cfg.apps[a].name.clone(),
        process_name: cfg.apps[a].processes[p].name.clone(),
    };
    if let Some(want) = process {
        for (a, app) in cfg.apps.iter().enumerate() {
            for (p, pr) in app.processes.iter().enumerate() {
                if format!("{}/{}", app.name, pr.name) == want {
                    return Ok(make(a, p));
                }
            }
        }
        return Err(PlanError::Input(format!(
            "--process {want}: {file} has no such process (there are: {})",
            all.join(", ")
        )));
    }
    let fed: Vec<(usize, usize)> = cfg
        .apps
        .iter()
        .enumerate()
        .filter_map(|(a, app)| app.workload.as_ref().map(|w| (a, w.process)))
        .collect();
    match fed.as_slice() {
        [(a, p)] => Ok(make(*a, *p)),
        [] => Err(PlanError::Input(format!(
            "{file}: no app has an [app.workload]: there is no traffic to plan for"
        ))),
        _ => Err(PlanError::Input(format!(
            "{file}: several apps receive a workload; choose the process to plan with --process ({})",
            fed.iter()
                .map(|&(a, p)| make(a, p).label())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

struct Search<'a> {
    scenario: &'a Scenario,
    opts: &'a PlanOptions,
    target: Target,
    started: Instant,
    candidates: Vec<Candidate>,
    /// Candidate index by (size, count).
    by_formation: BTreeMap<(String, u32), usize>,
    simulations: usize,
    requests: u64,
    budget_spent: bool,
    pool: rayon::ThreadPool,
    /// Confidence of each SLO's interval (Bonferroni).
    confidence_each: f64,
}

impl Search<'_> {
    fn decided(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.verdict() != Verdict::Undecided)
            .count()
    }

    fn keys(&self) -> (String, String) {
        let base = format!(
            "app.{}.process.{}",
            self.target.app_name, self.target.process_name
        );
        (format!("{base}.size"), format!("{base}.count"))
    }

    fn variant(&self, size: &str, count: u32) -> Result<SimConfig, ScenarioError> {
        self.variant_with(size, count, &[])
    }

    fn variant_with(
        &self,
        size: &str,
        count: u32,
        extra: &[(&str, toml::Value)],
    ) -> Result<SimConfig, ScenarioError> {
        let (size_key, count_key) = self.keys();
        let mut values = vec![
            (size_key.as_str(), toml::Value::String(size.to_string())),
            (count_key.as_str(), toml::Value::Integer(i64::from(count))),
        ];
        values.extend(extra.iter().cloned());
        self.scenario.variant(&values)
    }

    /// The recommendation under lighter and heavier neighbours (`noise.load`), when it runs on
    /// a shared tier with noise on: the neighbours' load is an assumption of the model
    /// (docs/model.md), and a shared-tier answer stands or falls with it.
    fn sensitivity(&mut self, rec: usize) -> Result<Vec<Sensitivity>, PlanError> {
        let f = self.candidates[rec].formation.clone();
        let base = &self.scenario.points[0].config;
        let Some(noise) = base.noise else {
            return Ok(Vec::new());
        };
        if !f.tier.shares_host() || noise.load <= 0.0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for load in [noise.load * 0.5, (noise.load * 1.5).min(1.0)] {
            if self.started.elapsed() >= self.opts.budget {
                break;
            }
            let cfg = self.variant_with(
                &f.size,
                f.count,
                &[("noise.load", toml::Value::Float(load))],
            )?;
            let e = self.replicate(&cfg)?;
            out.push(Sensitivity {
                noise_load: load,
                evaluation: e,
            });
        }
        Ok(out)
    }

    /// The sizes to search, cheapest dyno first, and the ones left out with the reason.
    #[allow(clippy::type_complexity)]
    fn sizes(&self) -> Result<(Vec<(String, f64)>, Vec<(String, String)>), PlanError> {
        let catalog = Catalog::builtin();
        let given = self.opts.sizes.is_some();
        let names: Vec<String> = match &self.opts.sizes {
            Some(v) => v.clone(),
            None => catalog.sizes().iter().map(|s| s.name.clone()).collect(),
        };
        let mut sizes = Vec::new();
        let mut excluded = Vec::new();
        for name in names {
            match self.variant(&name, 1) {
                Ok(cfg) => {
                    let p = &cfg.apps[self.target.app].processes[self.target.process];
                    sizes.push((name, p.size.price_usd_month));
                }
                Err(e) if given => {
                    return Err(PlanError::Input(format!("--sizes {name}: {}", e.message)));
                }
                Err(e) => excluded.push((name, e.message)),
            }
        }
        if sizes.is_empty() {
            return Err(PlanError::Input(format!(
                "{}: no size can run {}",
                self.scenario.file,
                self.target.label()
            )));
        }
        sizes.sort_by(|a, b| a.1.total_cmp(&b.1));
        Ok((sizes, excluded))
    }

    /// The counts searched for `size`: `--counts` within the size's limit.
    fn counts(&self, size: &str) -> (u32, u32) {
        let limit = Catalog::builtin()
            .get(size)
            .map_or(1, |s| s.max_per_process.max(1));
        let (a, b) = self.opts.counts.unwrap_or((1, limit));
        (a.max(1), b.min(limit).max(a.max(1)))
    }

    fn size(
        &mut self,
        size: &str,
        progress: &mut impl FnMut(&Progress),
        k: usize,
        n: usize,
    ) -> Result<SizeResult, PlanError> {
        let (a, b) = self.counts(size);
        let mut eval = |s: &mut Self, c: u32| -> Result<Verdict, PlanError> {
            progress(&Progress {
                sizes_done: k,
                sizes: n,
                decided: s.decided(),
                evaluated: s.candidates.len(),
                current: format!("{c} x {size}"),
            });
            let i = s.evaluate(size, c)?;
            Ok(s.candidates[i].verdict())
        };
        let top = eval(self, b)?;
        if top != Verdict::Meets {
            let note = match top {
                Verdict::Fails => format!("{b} x {size}, the most searched, fails"),
                _ => format!("{b} x {size}, the most searched, is undecided"),
            };
            return Ok(SizeResult {
                size: size.to_string(),
                best: None,
                note,
            });
        }
        let (mut lo, mut hi) = (a, b);
        while lo < hi && !self.budget_spent {
            let mid = lo + (hi - lo) / 2;
            if eval(self, mid)? == Verdict::Meets {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // The monotonicity check: the count below the answer must not meet the SLOs.
        let mut note = String::from("the cheapest count that meets every SLO");
        while hi > a && !self.budget_spent {
            if eval(self, hi - 1)? == Verdict::Meets {
                note = format!(
                    "more dynos were not always better: {} x {size} meets the SLOs but a larger count did not; searched down",
                    hi - 1
                );
                hi -= 1;
            } else {
                break;
            }
        }
        let best = self.by_formation.get(&(size.to_string(), hi)).copied();
        Ok(SizeResult {
            size: size.to_string(),
            best: best.filter(|&i| self.candidates[i].verdict() == Verdict::Meets),
            note,
        })
    }

    /// Evaluate `count x size` (once: later calls return the same candidate).
    fn evaluate(&mut self, size: &str, count: u32) -> Result<usize, PlanError> {
        if let Some(&i) = self.by_formation.get(&(size.to_string(), count)) {
            return Ok(i);
        }
        if crate::interrupt::requested() {
            return Err(PlanError::Interrupted);
        }
        let (formation, outcome) = match self.variant(size, count) {
            Err(e) => {
                let tier = Catalog::builtin()
                    .get(size)
                    .map_or(crate::model::Tier::Standard, |s| s.tier);
                (
                    Formation {
                        size: size.to_string(),
                        tier,
                        count,
                        cost_usd_month: f64::NAN,
                    },
                    Outcome::Refused(e.message),
                )
            }
            Ok(cfg) => {
                let p = &cfg.apps[self.target.app].processes[self.target.process];
                let formation = Formation {
                    size: size.to_string(),
                    tier: p.size.tier,
                    count,
                    cost_usd_month: p.size.price_usd_month * f64::from(count),
                };
                let load = offered_load(&cfg.apps)[self.target.app][self.target.process];
                let rho = load.utilization();
                let outcome = if rho >= 1.0 {
                    Outcome::Pruned(format!(
                        "offered CPU load is {:.0}% of its cores: queues grow without bound",
                        rho * 100.0
                    ))
                } else {
                    Outcome::Evaluated(self.replicate(&cfg)?)
                };
                (formation, outcome)
            }
        };
        self.candidates.push(Candidate { formation, outcome });
        let i = self.candidates.len() - 1;
        self.by_formation.insert((size.to_string(), count), i);
        Ok(i)
    }

    /// Replications of one candidate until its verdict is decided, the replication cap, or the
    /// budget.
    fn replicate(&mut self, cfg: &SimConfig) -> Result<Evaluation, PlanError> {
        let root = SeedTree::new(self.scenario.seed);
        let (app, process) = (self.target.app, self.target.process);
        let threads = self.pool.current_num_threads().max(1);
        let min = self.opts.min_replications.max(2);
        let max = self.opts.max_replications.max(min);
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); self.opts.slos.len()];
        let mut requests = 0u64;
        let mut n = 0usize;
        loop {
            if self.started.elapsed() >= self.opts.budget {
                self.budget_spent = true;
                return Ok(self.evaluation(&values, n, requests, Some("the budget ran out")));
            }
            // The first batch reaches the minimum; later ones use every thread.
            let batch = if n < min { min - n } else { threads }.min(max - n);
            let slos = &self.opts.slos;
            let runs: Vec<Result<(Vec<f64>, u64), String>> = self.pool.install(|| {
                (n..n + batch)
                    .into_par_iter()
                    .map(|r| {
                        let result = run_job(cfg, root.child(r as u64), NoRequests, |_, _| {
                            if crate::interrupt::requested() {
                                Control::Stop
                            } else {
                                Control::Continue
                            }
                        })
                        .map_err(|e| e.to_string())?;
                        let pr = result
                            .processes
                            .iter()
                            .find(|p| p.app_index == app && p.process_index == process)
                            .ok_or("the planned process has no results")?;
                        let metrics = slos.iter().map(|s| s.metric.of(pr)).collect();
                        Ok((metrics, result.generated))
                    })
                    .collect()
            });
            if crate::interrupt::requested() {
                return Err(PlanError::Interrupted);
            }
            self.simulations += runs.len();
            // Read the batch in replication order: the verdict is the first decided prefix.
            for run in runs {
                let (metrics, generated) = run.map_err(PlanError::Failed)?;
                self.requests += generated;
                requests += generated;
                for (v, m) in values.iter_mut().zip(metrics) {
                    v.push(m);
                }
                n += 1;
                if n >= min {
                    let e = self.evaluation(&values, n, requests, None);
                    if e.verdict != Verdict::Undecided {
                        return Ok(e);
                    }
                }
                if n == max {
                    return Ok(self.evaluation(
                        &values,
                        n,
                        requests,
                        Some("the replication cap was reached"),
                    ));
                }
            }
        }
    }

    fn evaluation(
        &self,
        values: &[Vec<f64>],
        n: usize,
        requests: u64,
        stopped: Option<&str>,
    ) -> Evaluation {
        let slos: Vec<(Interval, Verdict)> = values
            .iter()
            .zip(&self.opts.slos)
            .map(|(v, slo)| {
                let i = Interval::of(&v[..n.min(v.len())], self.confidence_each);
                (i, i.verdict(slo.threshold))
            })
            .collect();
        let verdict = if slos.iter().any(|(_, v)| *v == Verdict::Fails) {
            Verdict::Fails
        } else if slos.iter().all(|(_, v)| *v == Verdict::Meets) {
            Verdict::Meets
        } else {
            Verdict::Undecided
        };
        Evaluation {
            slos,
            verdict,
            replications: n,
            requests,
            stopped: (verdict == Verdict::Undecided)
                .then(|| stopped.unwrap_or("undecided").to_string()),
        }
    }
}
