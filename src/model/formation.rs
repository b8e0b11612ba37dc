//! The formation seam: policies that change a process's dyno count during a run.
//!
//! A formation is fixed for a run unless the job is given [`FormationPolicy`]s (autoscalers,
//! time-of-day schedules, a test's script). Each policy is asked every [`period`]
//! (`FormationPolicy::period`) what the formation should be, from a [`FormationView`] of every
//! process at that instant, and answers with [`ScaleAction`]s, the simulated `heroku ps:scale`.
//! The platform carries them out through the dyno lifecycle it already has (Heroku's own rules,
//! heroku-dynos.md sections 4-5):
//!
//! - **Scale up**: each new dyno boots through the normal boot path (the process's boot time and
//!   R10, a fresh filesystem, a cold cache) and takes traffic only once it is up. A dyno number
//!   beyond any the process had is placed by the scenario's placement rules ([`Placer`]): a new
//!   instance of its own for dedicated tiers, an instance of the shared pool with room for
//!   shared tiers. A number the process had before (scaled down, then up again) comes back on
//!   its old instance (an assumption: the platform does not say where a re-created dyno runs).
//! - **Scale down**: the highest-numbered dynos get SIGTERM (what `ps:scale web=2` does to
//!   `web.3`): they leave the router at once, finish what they hold within the drain (30 s) or
//!   are killed with H13 for what is left, and are not restarted by crashes, cycling or deploys.
//!   A dyno that is booting stops at once; one waiting out a crash backoff or asleep just
//!   leaves the formation.
//!
//! What each change did is reported to the job's observer as a [`ScaleRecord`]
//! (`RequestObserver::on_scale`), the rows of a future `scaling.csv`.
//!
//! **Cost.** With no policy the platform schedules no tick and builds no view; the request path
//! gains one test of an empty option when a request ends (for [`FormationPolicy::wants_requests`]).
//!
//! **Adding a policy** (issue 19: Heroku's p95 autoscaler, a queue-time scaler, HireFire,
//! scheduled scaling) is one type implementing [`FormationPolicy`]: it keeps its own history of
//! [`RequestSample`]s (response time, router queue time) and decides at each tick.
//!
//! [`period`]: FormationPolicy::period
//! [`Placer`]: super::placement::Placer

use super::metrics::Status;
use crate::engine::{SimDuration, SimTime};

/// A policy that decides a formation during the run. Policies are deterministic functions of
/// what they are shown, so a run with a policy is as reproducible as one without.
pub trait FormationPolicy {
    /// Time between two ticks; the first tick is at one period. Must be above zero.
    fn period(&self) -> SimDuration;

    /// Whether [`on_request`](Self::on_request) should see every request that ends (checked
    /// once, when the job starts).
    fn wants_requests(&self) -> bool {
        false
    }

    /// A request of any process ended (answered or failed), warmup included.
    fn on_request(&mut self, _sample: &RequestSample) {}

    /// The formation at `now`; the answer is carried out at once, in order.
    fn on_tick(&mut self, now: SimTime, view: &FormationView) -> Vec<ScaleAction>;
}

/// `heroku ps:scale <process>=<count>`: set a process's formation to `count` dynos.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleAction {
    /// App and process indices (the configuration's order).
    pub app: usize,
    pub process: usize,
    pub count: u32,
    /// Why (the policy, the metric and the threshold), for the record.
    pub reason: String,
}

/// A formation change the platform carried out.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleRecord {
    pub time_ns: u64,
    pub app: usize,
    pub process: usize,
    pub from: u32,
    pub to: u32,
    pub reason: String,
}

/// One request that ended, as a policy sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestSample {
    pub app: usize,
    pub process: usize,
    /// Arrival at the router.
    pub arrival: SimTime,
    /// Arrival at the router to the start of service on a dyno (Judoscale's "queue time":
    /// router, network and the dyno's own queue); `None` if it never started.
    pub queue_ns: Option<u64>,
    /// Arrival to the response (or the error) reaching the client.
    pub response_ns: u64,
    pub status: Status,
    /// A call made by another process, not a client's request.
    pub call: bool,
}

/// One process at a tick.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessView {
    pub app: usize,
    pub process: usize,
    /// The formation: dynos the process should run (what `ps:scale` last set).
    pub dynos: u32,
    /// Of those, up and taking traffic, booting (or waking), and down (crash backoff, asleep).
    pub up: u32,
    pub booting: u32,
    /// Incarnations that got SIGTERM and still drain (not in the formation any more, or being
    /// replaced by a restart).
    pub draining: u32,
    /// Requests on the process's dynos (in their queues or being served).
    pub in_flight: u64,
    /// Requests the routers hold for booting dynos or keep in their backlogs.
    pub at_router: u64,
    /// Whether it receives the app's web traffic.
    pub web: bool,
}

/// Every process at a tick.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormationView {
    pub processes: Vec<ProcessView>,
}

impl FormationView {
    /// Process `process` of app `app`.
    pub fn process(&self, app: usize, process: usize) -> Option<&ProcessView> {
        self.processes
            .iter()
            .find(|p| p.app == app && p.process == process)
    }
}

/// A job's policies, with the ones that see requests listed apart so that a request's end
/// touches only them.
pub(crate) struct Policies {
    pub list: Vec<Box<dyn FormationPolicy>>,
    /// Indices into `list` of the policies that want request samples.
    pub sampled: Vec<usize>,
}

impl Policies {
    /// `None` when there is no policy: nothing is built or checked during the run.
    pub fn new(list: Vec<Box<dyn FormationPolicy>>) -> Option<Box<Policies>> {
        if list.is_empty() {
            return None;
        }
        let sampled = (0..list.len())
            .filter(|&i| list[i].wants_requests())
            .collect();
        Some(Box::new(Policies { list, sampled }))
    }

    /// Hand a request's end to the policies that want it.
    #[inline]
    pub fn sample(&mut self, sample: &RequestSample) {
        for &i in &self.sampled {
            self.list[i].on_request(sample);
        }
    }
}
