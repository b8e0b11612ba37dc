//! Helpers shared by the integration tests.
#![allow(dead_code)]

use dynosim::engine::Control;
use dynosim::model::{JobResult, ProcessResult, RequestObserver, RequestRecord, run_job};
use dynosim::run::simulate;
use dynosim::scenario::Scenario;
use std::path::Path;

/// Parse scenario text (errors fail the test with the message).
pub fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.toml", "test", Path::new("."))
        .unwrap_or_else(|e| panic!("scenario should be valid: {e}"))
}

/// Run every job of a scenario in order.
pub fn run_all(s: &Scenario) -> Vec<JobResult> {
    s.jobs().iter().map(|j| simulate(s, j)).collect()
}

/// The rows of process `process` in every job.
pub fn rows<'a>(results: &'a [JobResult], process: &str) -> Vec<&'a ProcessResult> {
    results
        .iter()
        .flat_map(|r| r.processes.iter().filter(|p| p.process == process))
        .collect()
}

/// Mean latency over all jobs, weighted by completed requests.
pub fn pooled_mean_ms(rows: &[&ProcessResult]) -> f64 {
    let n: u64 = rows.iter().map(|p| p.completed).sum();
    rows.iter()
        .map(|p| p.latency.mean_ms * p.completed as f64)
        .sum::<f64>()
        / n as f64
}

/// Average of a per-job figure.
pub fn avg(rows: &[&ProcessResult], f: impl Fn(&ProcessResult) -> f64) -> f64 {
    rows.iter().map(|p| f(p)).sum::<f64>() / rows.len() as f64
}

pub fn rel_err(measured: f64, expected: f64) -> f64 {
    (measured / expected - 1.0).abs()
}

/// Every request record a run reports.
#[derive(Default)]
pub struct Collect(pub Vec<RequestRecord>);

impl RequestObserver for Collect {
    fn on_request(&mut self, r: &RequestRecord) {
        self.0.push(r.clone());
    }
}

/// Run every job of a scenario, keeping every request record; returns the job results too.
pub fn run_with_records(text: &str) -> (Vec<JobResult>, Vec<RequestRecord>) {
    let s = scenario(text);
    let mut seen = Collect::default();
    let results = s
        .jobs()
        .iter()
        .map(|job| {
            run_job(&s.points[job.point].config, job.seeds, &mut seen, |_, _| {
                Control::Continue
            })
            .expect("placeable")
        })
        .collect();
    (results, seen.0)
}
