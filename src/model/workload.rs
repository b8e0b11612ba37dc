//! What a request is: when requests arrive, and what each one asks of its dyno (CPU, wait,
//! calls, filesystem actions), drawn from the app's named random streams.
//!
//! This is the one place that draws requests. The platform's request path calls
//! [`RequestSource::next_arrival`] and [`RequestSource::draw_request`] for every external request
//! (and [`RequestSource::draw_call`] for every call), and `dynosim validate` calls the same
//! functions to plan the real run's requests, so request *k* is the same in both by construction,
//! not by a copy of the drawing code.
//!
//! **Streams.** Each app has its own: `arrivals/<app>` (the gaps), `cpu/<app>`, `wait/<app>`,
//! `filesystem/<app>` (the file and cache draws, always six per external request so the stream
//! stays aligned), and `calls/<app>` (the callee's CPU and wait for each call the app's requests
//! make; the platform draws the call's network and router from the same stream right after, see
//! [`RequestSource::calls_stream`]). A new kind of draw gets a stream of its own, so it shifts no
//! existing number: a workload with endpoints draws each request's endpoint from
//! `endpoint/<app>` (one uniform per request) before its CPU and wait, and a workload without
//! them draws nothing there, so its requests are those it had before endpoints existed.
//!
//! **Extending it.** Arrival processes live in [`super::arrivals`] (one file each); a process may
//! carry per-request values (a trace's `cpu`/`wait` columns) that replace the draws here, which
//! are still made so the streams stay aligned. Something new about a
//! request (its endpoint, the jobs it enqueues, its queries) is a field of [`DrawnRequest`] drawn
//! in [`RequestSource::draw_request`] from a new stream; the platform copies the drawn request
//! into its own request slot in one place (`Platform::on_arrival`).

use super::arrivals::ArrivalSource;
pub use super::arrivals::{ArrivalProcess, Arrivals, RequestOverride, arrival_process};
use super::dist::Dist;
use super::{AppSpec, SimConfig};
use crate::engine::{RngStream, SeedTree, SimDuration, SimTime};

/// The requests an app receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Index of the process type (within the app) that receives the requests: the web process.
    pub process: usize,
    pub arrivals: Arrivals,
    /// CPU demand per request, seconds on one reference core.
    pub cpu: Dist,
    /// Non-CPU time per request (I/O), spent after the CPU work and the calls, while the
    /// request keeps its concurrency slot.
    pub wait: Dist,
    /// Downstream calls, in order.
    pub calls: Vec<CallSpec>,
    /// Request classes (`[[app.workload.endpoint]]`); empty: every request is alike, with the
    /// workload's own `cpu`, `wait` and `calls`.
    pub endpoints: Vec<Endpoint>,
}

impl Workload {
    /// Mean CPU per request in seconds, over the endpoints' shares when there are endpoints.
    pub fn mean_cpu_s(&self) -> f64 {
        if self.endpoints.is_empty() {
            self.cpu.mean()
        } else {
            self.endpoints.iter().map(|e| e.share * e.cpu.mean()).sum()
        }
    }
}

/// A request class of a workload: a share of its requests with work of their own (what the
/// scenario leaves unset is the workload's).
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    /// Fraction of the workload's requests (the shares of a workload sum to 1).
    pub share: f64,
    pub cpu: Dist,
    pub wait: Dist,
    pub calls: Vec<CallSpec>,
    /// Memory each of its requests holds while it has a slot, instead of the process's
    /// `per_request_mb` (`None`: the process's).
    pub per_request_mb: Option<f64>,
    /// Its own file writes and reads, instead of the app's `[app.filesystem]` rates.
    pub files: Option<FileRates>,
}

/// The per-request file actions of an endpoint (the app's filesystem keeps its slug, clients
/// and cache).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FileRates {
    pub write_probability: f64,
    pub write_kb: f64,
    pub read_probability: f64,
}

/// The ephemeral filesystem and local cache of an app's dynos.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesystemSpec {
    /// Size of the deployed code every dyno starts from.
    pub slug_mb: f64,
    /// Chance that a request writes a file (its client's, replacing the previous one).
    pub write_probability: f64,
    /// Mean size of a written file (exponential), KiB.
    pub write_kb: f64,
    /// Chance that a request reads back the file its client wrote earlier ("sticky" state).
    pub read_probability: f64,
    /// Distinct clients sending the requests.
    pub clients: u32,
    /// Distinct cacheable items (0: no cache); requests pick one by a Zipf law.
    pub cache_items: u32,
    pub cache_zipf: f64,
    /// Extra wait on a cache miss (fetching, compiling).
    pub cache_miss: Dist,
}

/// A downstream call a request makes after its CPU work, holding its slot until it returns.
#[derive(Debug, Clone, PartialEq)]
pub struct CallSpec {
    /// Callee app and process (indices into the configuration).
    pub app: usize,
    pub process: usize,
    /// Calls made; in parallel (all at once) or one after the other.
    pub count: u32,
    pub parallel: bool,
    /// How the call travels.
    pub route: CallRoute,
    /// The callee's work for this call (CPU, then its own calls, then wait).
    pub cpu: Dist,
    pub wait: Dist,
    pub calls: Vec<CallSpec>,
}

/// How a call reaches the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallRoute {
    /// Inside one space, straight to a dyno (`<process>.<app>.app.localspace`, round robin).
    Space,
    /// Out through the callee app's public router.
    PublicRouter,
}

/// What a request does on its dyno: CPU, then calls, then wait. Requests and calls name their
/// plan by index in [`Plans`].
#[derive(Debug, Clone)]
pub struct Plan {
    pub cpu: Dist,
    pub wait: Dist,
    pub calls: Vec<PlanCall>,
    /// An endpoint's own memory per request and file rates (`None`: the process's, the app's).
    pub per_request_mb: Option<f64>,
    pub files: Option<FileRates>,
}

/// One call of a plan.
#[derive(Debug, Clone)]
pub struct PlanCall {
    /// Global process index of the callee (apps in order, then their processes).
    pub process: usize,
    pub count: u32,
    pub parallel: bool,
    pub route: CallRoute,
    /// The callee's plan.
    pub plan: u32,
}

/// Every work plan of a configuration: each app's workload with its tree of calls, flattened.
#[derive(Debug, Clone)]
pub struct Plans {
    plans: Vec<Plan>,
    /// The plan of each app's external requests (`None`: no workload).
    of_app: Vec<Option<u32>>,
    /// The plan of each endpoint of each app's workload (empty: no endpoints).
    endpoints: Vec<Vec<u32>>,
}

impl Plans {
    pub fn new(cfg: &SimConfig) -> Plans {
        let mut first_proc = Vec::with_capacity(cfg.apps.len());
        let mut n = 0;
        for app in &cfg.apps {
            first_proc.push(n);
            n += app.processes.len();
        }
        let mut plans = Vec::new();
        let mut of_app = Vec::with_capacity(cfg.apps.len());
        let mut endpoints = Vec::with_capacity(cfg.apps.len());
        for app in &cfg.apps {
            let Some(w) = &app.workload else {
                of_app.push(None);
                endpoints.push(Vec::new());
                continue;
            };
            of_app.push(Some(add_plan(
                &mut plans,
                &first_proc,
                &w.cpu,
                &w.wait,
                &w.calls,
            )));
            endpoints.push(
                w.endpoints
                    .iter()
                    .map(|e| {
                        let id = add_plan(&mut plans, &first_proc, &e.cpu, &e.wait, &e.calls);
                        let plan = &mut plans[id as usize];
                        (plan.per_request_mb, plan.files) = (e.per_request_mb, e.files);
                        id
                    })
                    .collect(),
            );
        }
        Plans {
            plans,
            of_app,
            endpoints,
        }
    }

    /// The plan of app `a`'s external requests.
    pub fn of_app(&self, a: usize) -> Option<u32> {
        self.of_app.get(a).copied().flatten()
    }
}

impl std::ops::Index<u32> for Plans {
    type Output = Plan;
    #[inline]
    fn index(&self, id: u32) -> &Plan {
        &self.plans[id as usize]
    }
}

/// Flatten a tree of calls into `plans`; returns the id of the plan for `cpu`/`wait`/`calls`.
fn add_plan(
    plans: &mut Vec<Plan>,
    first_proc: &[usize],
    cpu: &Dist,
    wait: &Dist,
    calls: &[CallSpec],
) -> u32 {
    let id = plans.len();
    plans.push(Plan {
        cpu: cpu.clone(),
        wait: wait.clone(),
        calls: Vec::new(),
        per_request_mb: None,
        files: None,
    });
    let mut out = Vec::new();
    for c in calls {
        let plan = add_plan(plans, first_proc, &c.cpu, &c.wait, &c.calls);
        out.push(PlanCall {
            process: first_proc[c.app] + c.process,
            count: c.count,
            parallel: c.parallel,
            route: c.route,
            plan,
        });
    }
    plans[id].calls = out;
    id as u32
}

/// What an external request does to the dyno's filesystem and cache when it starts there.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FileActions {
    /// The client sending it (names its file).
    pub client: u32,
    /// Reads back the file its client wrote earlier.
    pub reads: bool,
    /// Bytes written to its client's file (0: no write).
    pub write_bytes: u64,
    /// The cache item it looks up, and the extra wait if that misses. Meaningful only with a
    /// cache (`cache_items > 0`); drawn either way so the stream stays aligned.
    pub item: u32,
    pub miss_ns: u64,
}

/// One request as drawn: everything about it that does not depend on the platform's state.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DrawnRequest {
    /// Its work plan (index in [`Plans`]): the distributions its calls follow.
    pub plan: u32,
    /// CPU demand in ns of one reference core. Not rounded: processor sharing stretches it, so
    /// the fraction of a nanosecond still counts at low rates.
    pub work_ns: f64,
    /// Non-CPU wait in ns.
    pub wait_ns: u64,
    /// Its endpoint (index in the workload's endpoints; `None`: a workload without endpoints,
    /// or a call).
    pub endpoint: Option<u16>,
    /// Filesystem and cache actions (all zero for calls and apps without a filesystem).
    pub files: FileActions,
}

/// The filesystem draws of an app that has one.
struct FileDraws {
    spec: FilesystemSpec,
    /// Cumulative Zipf weights of the cache items (empty for no cache).
    zipf_cdf: Vec<f64>,
    rng: RngStream,
}

impl FileDraws {
    /// Always six draws, whatever the outcome, so request *k* keeps its numbers; `rates` are an
    /// endpoint's own (else the app's).
    #[inline]
    fn draw(&mut self, rates: Option<&FileRates>) -> FileActions {
        let (fs, rng) = (&self.spec, &mut self.rng);
        let (read_p, write_p, write_kb) = match rates {
            None => (fs.read_probability, fs.write_probability, fs.write_kb),
            Some(r) => (r.read_probability, r.write_probability, r.write_kb),
        };
        let client = rng.below(u64::from(fs.clients.max(1))) as u32;
        let reads = rng.open01() < read_p;
        let writes = rng.open01() < write_p;
        let size = rng.exp(write_kb * 1024.0);
        let u = rng.open01();
        let item = self.zipf_cdf.partition_point(|c| *c < u) as u32;
        let miss_ns = SimDuration::from_secs_f64(fs.cache_miss.sample(rng)).as_nanos();
        FileActions {
            client,
            reads,
            write_bytes: if writes { size.ceil() as u64 } else { 0 },
            item,
            miss_ns,
        }
    }
}

/// The endpoint draws of a workload that has endpoints: one uniform per request from
/// `endpoint/<app>`, inverted through the cumulative shares.
struct EndpointDraws {
    cdf: Vec<f64>,
    plans: Vec<u32>,
    rng: RngStream,
}

impl EndpointDraws {
    #[inline]
    fn draw(&mut self) -> (u32, Option<u16>) {
        let u = self.rng.open01();
        let k = self
            .cdf
            .partition_point(|c| *c < u)
            .min(self.plans.len() - 1);
        (self.plans[k], Some(k as u16))
    }
}

/// The requests of one app: its arrival process and the streams its requests and calls are
/// drawn from. Every app has one (an app without a workload still makes calls when it is
/// called).
pub struct RequestSource {
    /// The plan of its external requests.
    plan: u32,
    /// `None` for an app without a workload.
    arrivals: Option<ArrivalSource>,
    /// Whether the arrivals carry per-request CPU or wait (a trace with those columns).
    overrides: bool,
    cpu: RngStream,
    wait: RngStream,
    calls: RngStream,
    files: Option<FileDraws>,
    /// `None` for a workload without endpoints (nothing is drawn for them).
    endpoints: Option<EndpointDraws>,
}

/// Stream `kind/<app>` of the job `seeds`.
pub fn app_stream(seeds: SeedTree, kind: &str, app: &str) -> RngStream {
    seeds.named(&format!("{kind}/{app}")).stream()
}

impl RequestSource {
    /// The source of app `a` of the configuration `plans` was built from.
    pub fn new(app: &AppSpec, a: usize, plans: &Plans, seeds: SeedTree) -> RequestSource {
        let stream = |kind: &str| app_stream(seeds, kind, &app.name);
        let files = app.filesystem.as_ref().map(|fs| FileDraws {
            spec: fs.clone(),
            zipf_cdf: zipf_cdf(fs.cache_items, fs.cache_zipf),
            rng: stream("filesystem"),
        });
        let endpoints = app
            .workload
            .as_ref()
            .filter(|w| !w.endpoints.is_empty())
            .map(|w| {
                let mut acc = 0.0;
                EndpointDraws {
                    cdf: w
                        .endpoints
                        .iter()
                        .map(|e| {
                            acc += e.share;
                            acc
                        })
                        .collect(),
                    plans: plans.endpoints[a].clone(),
                    rng: stream("endpoint"),
                }
            });
        RequestSource {
            plan: plans.of_app(a).unwrap_or(0),
            endpoints,
            arrivals: app
                .workload
                .as_ref()
                .map(|w| arrival_process(&w.arrivals, &stream)),
            overrides: app
                .workload
                .as_ref()
                .is_some_and(|w| w.arrivals.overrides_requests()),
            cpu: stream("cpu"),
            wait: stream("wait"),
            calls: stream("calls"),
            files,
        }
    }

    /// When the next external request arrives, the previous one having arrived at `now`
    /// (`None`: no workload, or the arrivals have ended).
    #[inline]
    pub fn next_arrival(&mut self, now: SimTime) -> Option<SimTime> {
        self.arrivals.as_mut()?.next_arrival(now)
    }

    /// The expected number of external arrivals in `[from, to)` (0 without a workload); see
    /// [`ArrivalProcess::offered`].
    pub fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        self.arrivals.as_mut().map_or(0.0, |a| a.offered(from, to))
    }

    /// The next external request: its endpoint from `endpoint/<app>` (only with endpoints), CPU
    /// from `cpu/<app>`, wait from `wait/<app>`, file actions from `filesystem/<app>`; a trace's
    /// own endpoint column chooses the endpoint (its uniform is still drawn, so the stream stays
    /// aligned) before that endpoint's CPU and wait are drawn, and its CPU and wait columns
    /// replace the draws.
    #[inline]
    pub fn draw_request(&mut self, plans: &Plans) -> DrawnRequest {
        // The arrival's own values, taken first so a trace's endpoint decides whose CPU and
        // wait are drawn (without overrides nothing is taken and nothing changes).
        let over = if self.overrides {
            self.take_override()
        } else {
            None
        };
        let (mut id, mut endpoint) = match &mut self.endpoints {
            None => (self.plan, None),
            Some(e) => e.draw(),
        };
        if let (Some(k), Some(e)) = (over.and_then(|o| o.endpoint), &self.endpoints) {
            (id, endpoint) = (e.plans[usize::from(k)], Some(k));
        }
        let plan = &plans[id];
        let mut drawn = DrawnRequest {
            plan: id,
            endpoint,
            work_ns: plan.cpu.sample(&mut self.cpu) * 1e9,
            wait_ns: SimDuration::from_secs_f64(plan.wait.sample(&mut self.wait)).as_nanos(),
            files: self
                .files
                .as_mut()
                .map_or_else(FileActions::default, |f| f.draw(plan.files.as_ref())),
        };
        if let Some(o) = over {
            apply_override(&o, &mut drawn);
        }
        drawn
    }

    /// The values the arrival just returned carries (a trace's columns).
    #[cold]
    fn take_override(&mut self) -> Option<RequestOverride> {
        self.arrivals.as_mut().and_then(|a| a.take_override())
    }

    /// The callee's work for one call with plan `plan` made by this app's requests, from
    /// `calls/<app>` (CPU, then wait). Calls carry no client state: no file actions.
    #[inline]
    pub fn draw_call(&mut self, plans: &Plans, plan: u32) -> DrawnRequest {
        let p = &plans[plan];
        let work_ns = p.cpu.sample(&mut self.calls) * 1e9;
        let wait_ns = SimDuration::from_secs_f64(p.wait.sample(&mut self.calls)).as_nanos();
        DrawnRequest {
            plan,
            work_ns,
            wait_ns,
            endpoint: None,
            files: FileActions::default(),
        }
    }

    /// The `calls/<app>` stream, for the network and router draws the platform makes for a call
    /// right after [`draw_call`](Self::draw_call) (they have always shared the stream; a new
    /// kind of draw must not be added to it).
    #[inline]
    pub fn calls_stream(&mut self) -> &mut RngStream {
        &mut self.calls
    }
}

/// Replace the drawn CPU and wait with an arrival's own (a trace's `cpu` and `wait` columns).
fn apply_override(o: &RequestOverride, drawn: &mut DrawnRequest) {
    if let Some(cpu) = o.cpu_s {
        drawn.work_ns = cpu * 1e9;
    }
    if let Some(wait) = o.wait_s {
        drawn.wait_ns = SimDuration::from_secs_f64(wait).as_nanos();
    }
}

/// Cumulative weights of a Zipf law over `n` items with exponent `s` (empty for no cache).
pub fn zipf_cdf(n: u32, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += (f64::from(k)).powf(-s);
            acc
        })
        .collect();
    if let Some(&total) = cdf.last() {
        for c in &mut cdf {
            *c /= total;
        }
    }
    cdf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_weights_fall_as_a_power_of_the_rank() {
        let cdf = zipf_cdf(3, 1.0);
        let total = 1.0 + 0.5 + 1.0 / 3.0;
        assert!((cdf[0] - 1.0 / total).abs() < 1e-15);
        assert!((cdf[1] - 1.5 / total).abs() < 1e-15);
        assert_eq!(cdf[2], 1.0);
        assert!(zipf_cdf(0, 1.0).is_empty());
    }
}
