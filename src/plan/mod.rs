//! `dynosim plan`: the cheapest formation of one process that meets the planner's SLOs, with
//! the confidence to act on it (docs/plan.md).
//!
//! A *candidate* is the scenario with the planned process's `size` and `count` replaced, built
//! and checked exactly as a sweep point ([`crate::scenario::Scenario::variant`]), so a
//! formation the platform refuses is refused with the scenario's own message. Each candidate
//! is simulated in replications that share their random streams with every other candidate's
//! replication of the same number (common random numbers: the same arrivals and demands meet
//! every formation, so the comparison between formations is not blurred by luck), until its
//! SLO verdict is decided ([`estimate`]).
//!
//! The search ([`search`]) walks sizes by price and, within a size, bisects the count, using that
//! more dynos of one size do not make latency worse; the assumption is checked at the answer
//! (the count below the size's cheapest feasible one is evaluated and must fail), not trusted.
//! Candidates whose offered CPU load reaches their cores' capacity cannot meet any latency SLO
//! in a long run and are pruned without simulating ([`crate::model::offered_load`]).

pub mod estimate;
pub mod report;
pub mod search;
pub mod slo;

pub use estimate::{Interval, Verdict};
pub use search::{PlanError, PlanOptions, PlanReport, plan};
pub use slo::{Metric, Slo};

use crate::model::Tier;

/// One formation of the planned process: `count` dynos of `size`.
#[derive(Debug, Clone, PartialEq)]
pub struct Formation {
    pub size: String,
    pub tier: Tier,
    pub count: u32,
    /// List price of the process's dynos per month (the catalog's price x count).
    pub cost_usd_month: f64,
}

impl Formation {
    /// `4 x performance-m`.
    pub fn label(&self) -> String {
        format!("{} x {}", self.count, self.size)
    }
}

/// What became of one candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not simulated: a bound decides it (offered CPU load at or above its cores).
    Pruned(String),
    /// The scenario refuses this formation (the scenario's message).
    Refused(String),
    /// Simulated in replications.
    Evaluated(Evaluation),
}

/// A simulated candidate's estimates and verdicts.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// One interval and verdict per SLO, in the order given.
    pub slos: Vec<(Interval, Verdict)>,
    /// Every SLO met: meets; any failed: fails; otherwise undecided.
    pub verdict: Verdict,
    pub replications: usize,
    /// Requests simulated (all replications, warmup included).
    pub requests: u64,
    /// Why evaluation stopped undecided (replication cap or budget), if it did.
    pub stopped: Option<String>,
}

/// A candidate and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub formation: Formation,
    pub outcome: Outcome,
}

impl Candidate {
    /// The verdict: pruned and refused candidates fail.
    pub fn verdict(&self) -> Verdict {
        match &self.outcome {
            Outcome::Evaluated(e) => e.verdict,
            Outcome::Pruned(_) | Outcome::Refused(_) => Verdict::Fails,
        }
    }
}
