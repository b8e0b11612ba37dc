//! Router lines placed in time, aggregated into what a scenario needs: the formation, arrivals
//! per minute, endpoints with their shares, each request's demand, and the observed latency.
//!
//! **Arrival times.** A router line is logged when the response ends, so a request arrived at
//! about `ts - connect - service` (planner-anchors.md 3.1, "Arrival times"; an inference, not
//! documented). Lines are binned by that estimate, not by their timestamps.
//!
//! **Demand.** `service` is everything after the connection: the wait for a free slot inside the
//! dyno (its FIFO queue and the kernel's accept queue), the app's work and the transfer
//! (planner-anchors.md 3.1: "The router log has no queue-time field"). The demand of a request
//! is recovered by replaying each dyno's queue (a documented deconvolution, exact for FIFO
//! dynos that serve `concurrency` requests at once without slowing each other): requests reach
//! their dyno at `ts - service`, in that order take the first of `concurrency` slots to come
//! free (a slot frees when the request holding it is logged), and a request's demand is its end
//! less its start, `min(service, ts - slot free)`. A request the router gave up on (H12) frees
//! its slot at its line, as far as the log can tell. With second-resolution timestamps
//! (Papertrail) the replay cannot place requests, and the demand is `service` itself: an upper
//! bound, said so in the scenario. The replay is used when at least [`REPLAY_SHARE`] of the
//! lines with a dyno and a service time have sub-second stamps; the others keep `service`.

use super::paths::normalise;
use super::router_log::{DynoName, RouterLine};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

/// The share of a log's timed lines that must have sub-second stamps for the queue replay (the
/// others, such as a few Papertrail lines among drain lines, keep `service` as their demand).
pub const REPLAY_SHARE: f64 = 0.99;

/// The endpoint that pools the requests of endpoints past `max_endpoints`.
pub const OTHER_ENDPOINT: &str = "other";

/// One request line placed in time.
#[derive(Debug, Clone)]
struct Request {
    /// When its line was logged (the response ended), µs since 1970.
    end_us: i64,
    arrival_us: i64,
    /// The grouping key's index (method + normalised path).
    key: u32,
    dyno: Option<u32>,
    service_us: Option<i64>,
    /// connect + service, ms.
    latency_ms: f64,
    outcome: Outcome,
    subsecond: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A response without an error code (any status but 101).
    Completed,
    /// A websocket upgrade (status 101): its service time is the connection's life.
    Websocket,
    /// A line with a router error code (H10, H12, H27, ...).
    Error,
}

/// Collects router lines, in any order.
#[derive(Default)]
pub struct Collector {
    requests: Vec<Request>,
    keys: HashMap<String, u32>,
    key_names: Vec<String>,
    dynos: HashMap<DynoName, u32>,
    dyno_names: Vec<DynoName>,
    errors: BTreeMap<String, u64>,
}

/// Why a parsed router line cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoTimestamp;

impl Collector {
    /// Add a line; a line without a timestamp cannot be placed in time.
    pub fn add(&mut self, line: RouterLine) -> Result<(), NoTimestamp> {
        let ts = line.timestamp.ok_or(NoTimestamp)?;
        let key_text = format!("{} {}", line.method, normalise(&line.path));
        let next = self.key_names.len() as u32;
        let key = *self.keys.entry(key_text.clone()).or_insert(next);
        if key == next {
            self.key_names.push(key_text);
        }
        let dyno = line.dyno.map(|d| {
            let next = self.dyno_names.len() as u32;
            let id = *self.dynos.entry(d.clone()).or_insert(next);
            if id == next {
                self.dyno_names.push(d);
            }
            id
        });
        let connect = line.connect_ms.unwrap_or(0.0);
        let service = line.service_ms;
        let outcome = match (&line.code, line.status) {
            (Some(code), _) => {
                *self.errors.entry(code.clone()).or_default() += 1;
                Outcome::Error
            }
            (None, Some(101)) => Outcome::Websocket,
            (None, _) => Outcome::Completed,
        };
        let total_ms = connect + service.unwrap_or(0.0);
        self.requests.push(Request {
            end_us: ts.micros,
            arrival_us: ts.micros - (total_ms * 1e3).round() as i64,
            key,
            dyno,
            service_us: service.map(|s| (s * 1e3).round() as i64),
            latency_ms: total_ms,
            outcome,
            subsecond: ts.subsecond,
        });
        Ok(())
    }

    /// From the first to the last estimated arrival, µs (0 without requests).
    pub fn span_us(&self) -> i64 {
        let lo = self
            .requests
            .iter()
            .map(|r| r.arrival_us)
            .min()
            .unwrap_or(0);
        let hi = self
            .requests
            .iter()
            .map(|r| r.arrival_us)
            .max()
            .unwrap_or(0);
        hi - lo
    }

    /// Request lines collected so far.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

/// p50, p95, p99 (nearest rank) and the mean of some values, ms.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

impl Percentiles {
    /// Of `values` (sorted here).
    pub fn of(values: &mut [f64]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let rank = |q: f64| values[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        Percentiles {
            count: n as u64,
            mean_ms: values.iter().sum::<f64>() / n as f64,
            p50_ms: rank(0.50),
            p95_ms: rank(0.95),
            p99_ms: rank(0.99),
        }
    }
}

/// How each request's demand was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DemandMethod {
    /// The per-dyno FIFO replay (see the module docs).
    DynoQueueReplay,
    /// `service` itself (timestamps of whole seconds): an upper bound.
    ServiceUpperBound,
}

/// A process type seen in `dyno=`, with its dyno count (the highest number seen).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessCount {
    pub process: String,
    pub count: u32,
    /// Distinct dynos that served a logged request (below `count` if some served none).
    pub seen: u32,
    /// Lines that named one of its dynos.
    pub lines: u64,
}

/// An endpoint of the imported workload.
#[derive(Debug, Clone)]
pub struct EndpointProfile {
    /// `GET /products/:id`, or [`OTHER_ENDPOINT`].
    pub name: String,
    /// Request lines (every outcome).
    pub requests: u64,
    /// Demands of its completed requests, ms (sorted).
    pub demand_ms: Vec<f64>,
    /// Latency (connect + service) of its completed requests.
    pub observed: Percentiles,
}

/// One row of the replayable trace: a request's estimated arrival, endpoint and demand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceRow {
    pub time_s: f64,
    pub endpoint: usize,
    pub demand_s: f64,
}

/// Everything the scenario is written from.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The first estimated arrival, µs since 1970 (time 0 of the scenario).
    pub start_us: i64,
    /// From the first to the last estimated arrival, s.
    pub span_s: f64,
    /// Arrivals in each minute from `start_us` (the last minute may be shorter: `last_bin_s`).
    pub per_minute: Vec<u64>,
    pub last_bin_s: f64,
    /// Process types by lines, most first (the first receives the workload).
    pub formation: Vec<ProcessCount>,
    /// By requests, most first; [`OTHER_ENDPOINT`] last if any endpoint was pooled.
    pub endpoints: Vec<EndpointProfile>,
    /// Every completed request's demand, ms (sorted).
    pub demand_ms: Vec<f64>,
    pub method: DemandMethod,
    /// Latency of completed requests (connect + service), the figure to compare runs with.
    pub observed: Percentiles,
    pub demand: Percentiles,
    pub requests: u64,
    pub completed: u64,
    pub websockets: u64,
    /// Lines with a router error code, per code.
    pub errors: BTreeMap<String, u64>,
    /// The trace rows, by arrival.
    pub rows: Vec<TraceRow>,
}

impl Collector {
    /// Aggregate (at least one request must have been added), replaying each dyno's queue with
    /// `concurrency` slots and keeping at most `max_endpoints` endpoints (the rest pooled).
    pub fn profile(self, concurrency: u32, max_endpoints: usize) -> Profile {
        let mut reqs = self.requests;
        reqs.sort_by_key(|r| (r.arrival_us, r.end_us));
        let start_us = reqs.first().map_or(0, |r| r.arrival_us);
        let last_us = reqs.last().map_or(0, |r| r.arrival_us);
        let span_s = (last_us - start_us) as f64 * 1e-6;
        let bins = ((last_us - start_us) / 60_000_000 + 1) as usize;
        let mut per_minute = vec![0u64; bins];
        for r in &reqs {
            per_minute[((r.arrival_us - start_us) / 60_000_000) as usize] += 1;
        }
        let last_bin_s = (span_s - 60.0 * (bins - 1) as f64).max(1.0);

        // Formation.
        let mut formation: BTreeMap<String, ProcessCount> = BTreeMap::new();
        for d in &self.dyno_names {
            let p = formation
                .entry(d.process.clone())
                .or_insert_with(|| ProcessCount {
                    process: d.process.clone(),
                    count: 0,
                    seen: 0,
                    lines: 0,
                });
            p.count = p.count.max(d.number);
            p.seen += 1;
        }
        for r in &reqs {
            if let Some(d) = r.dyno {
                let name = &self.dyno_names[d as usize].process;
                if let Some(p) = formation.get_mut(name) {
                    p.lines += 1;
                }
            }
        }
        let mut formation: Vec<ProcessCount> = formation.into_values().collect();
        formation.sort_by(|a, b| b.lines.cmp(&a.lines).then(a.process.cmp(&b.process)));

        // Demand.
        let timed = reqs
            .iter()
            .filter(|r| r.dyno.is_some() && r.service_us.is_some());
        let (n, fine) = timed.fold((0usize, 0usize), |(n, f), r| {
            (n + 1, f + usize::from(r.subsecond))
        });
        let method = if fine as f64 >= REPLAY_SHARE * n as f64 {
            DemandMethod::DynoQueueReplay
        } else {
            DemandMethod::ServiceUpperBound
        };
        let demand_us = match method {
            DemandMethod::DynoQueueReplay => replay(&reqs, concurrency.max(1)),
            DemandMethod::ServiceUpperBound => reqs.iter().map(|r| r.service_us).collect(),
        };

        // Endpoints: the most requested first, ties by name; the rest pooled.
        let mut by_key = vec![0u64; self.key_names.len()];
        for r in &reqs {
            by_key[r.key as usize] += 1;
        }
        let mut order: Vec<usize> = (0..by_key.len()).collect();
        order.sort_by(|&a, &b| {
            by_key[b]
                .cmp(&by_key[a])
                .then(self.key_names[a].cmp(&self.key_names[b]))
        });
        let kept = order.len().min(max_endpoints.max(1));
        let pooled = order.len() > kept;
        let mut endpoint_of = vec![kept; by_key.len()];
        for (i, &k) in order.iter().take(kept).enumerate() {
            endpoint_of[k] = i;
        }
        let mut endpoints: Vec<EndpointProfile> = order
            .iter()
            .take(kept)
            .map(|&k| EndpointProfile {
                name: self.key_names[k].clone(),
                requests: 0,
                demand_ms: Vec::new(),
                observed: Percentiles::default(),
            })
            .collect();
        if pooled {
            endpoints.push(EndpointProfile {
                name: OTHER_ENDPOINT.to_string(),
                requests: 0,
                demand_ms: Vec::new(),
                observed: Percentiles::default(),
            });
        }
        let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); endpoints.len()];
        let mut all_latency = Vec::new();
        let mut demand_ms = Vec::new();
        let (mut completed, mut websockets) = (0u64, 0u64);
        for (r, d) in reqs.iter().zip(&demand_us) {
            let e = endpoint_of[r.key as usize];
            endpoints[e].requests += 1;
            match r.outcome {
                Outcome::Completed => {
                    completed += 1;
                    latencies[e].push(r.latency_ms);
                    all_latency.push(r.latency_ms);
                    if let (Some(d), Some(_)) = (d, r.dyno) {
                        let ms = *d as f64 * 1e-3;
                        endpoints[e].demand_ms.push(ms);
                        demand_ms.push(ms);
                    }
                }
                Outcome::Websocket => websockets += 1,
                Outcome::Error => {}
            }
        }
        for (e, l) in endpoints.iter_mut().zip(&mut latencies) {
            e.observed = Percentiles::of(l);
            e.demand_ms.sort_by(f64::total_cmp);
        }
        let observed = Percentiles::of(&mut all_latency);
        let demand = Percentiles::of(&mut demand_ms);

        // Trace rows: every request line; one that never reached a dyno (H10, H14, H26, ...)
        // or whose demand is unknown gets its endpoint's median demand, so the trace keeps the
        // log's rate.
        let median = |v: &[f64]| {
            if v.is_empty() {
                None
            } else {
                Some(v[(v.len() - 1) / 2])
            }
        };
        let fallback: Vec<f64> = endpoints
            .iter()
            .map(|e| median(&e.demand_ms).or(median(&demand_ms)).unwrap_or(0.0))
            .collect();
        let rows = reqs
            .iter()
            .zip(&demand_us)
            .map(|(r, d)| {
                let e = endpoint_of[r.key as usize];
                let demand_s = match (d, r.dyno, r.outcome) {
                    (Some(d), Some(_), Outcome::Completed | Outcome::Error) => *d as f64 * 1e-6,
                    _ => fallback[e] * 1e-3,
                };
                TraceRow {
                    time_s: (r.arrival_us - start_us) as f64 * 1e-6,
                    endpoint: e,
                    demand_s,
                }
            })
            .collect();
        Profile {
            start_us,
            span_s,
            per_minute,
            last_bin_s,
            formation,
            endpoints,
            demand_ms,
            method,
            observed,
            demand,
            requests: reqs.len() as u64,
            completed,
            websockets,
            errors: self.errors,
            rows,
        }
    }
}

/// Each request's demand (µs) by replaying its dyno's FIFO queue with `slots` slots; `None`
/// for requests without a dyno or a service time, and for websockets (they hold a connection,
/// not a slot).
fn replay(reqs: &[Request], slots: u32) -> Vec<Option<i64>> {
    let mut out = vec![None; reqs.len()];
    let mut by_dyno: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in reqs.iter().enumerate() {
        match (r.dyno, r.service_us) {
            (Some(_), Some(s)) if !r.subsecond => out[i] = Some(s),
            (Some(d), Some(_)) if r.outcome != Outcome::Websocket => {
                by_dyno.entry(d).or_default().push(i)
            }
            _ => {}
        }
    }
    for (_, mut list) in by_dyno {
        // In the order they reached the dyno: `ts - service`.
        let at_dyno = |i: usize| reqs[i].end_us - reqs[i].service_us.unwrap_or(0);
        list.sort_by_key(|&i| (at_dyno(i), reqs[i].end_us));
        let mut free: BinaryHeap<Reverse<i64>> = (0..slots).map(|_| Reverse(i64::MIN)).collect();
        for i in list {
            let Reverse(slot_free) = free.pop().unwrap_or(Reverse(i64::MIN));
            let start = at_dyno(i).max(slot_free);
            let end = reqs[i].end_us;
            out[i] = Some((end - start).max(0));
            free.push(Reverse(end.max(slot_free)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::router_log::{Framing, Level, Timestamp};

    fn line(end_s: f64, dyno: u32, service_ms: f64, path: &str) -> RouterLine {
        RouterLine {
            framing: Framing::HerokuLogs,
            timestamp: Some(Timestamp {
                micros: (end_s * 1e6) as i64,
                subsecond: true,
            }),
            level: Level::Info,
            code: None,
            method: "GET".into(),
            path: path.into(),
            dyno: Some(DynoName {
                process: "web".into(),
                number: dyno,
            }),
            connect_ms: Some(0.0),
            service_ms: Some(service_ms),
            status: Some(200),
        }
    }

    /// Two requests reach web.1 at 0 s and 0.05 s, each needing 100 ms: the second waits 50 ms,
    /// so its service is 150 ms but its demand 100 ms.
    #[test]
    fn the_queue_replay_removes_the_wait_for_a_slot() {
        let mut c = Collector::default();
        c.add(line(0.1, 1, 100.0, "/a/1")).expect("ts");
        c.add(line(0.2, 1, 150.0, "/a/2")).expect("ts");
        c.add(line(0.3, 2, 100.0, "/b")).expect("ts");
        let p = c.profile(1, 10);
        assert_eq!(p.demand_ms, vec![100.0, 100.0, 100.0]);
        assert_eq!(p.observed.p99_ms, 150.0);
        assert_eq!(p.formation[0].count, 2);
        assert_eq!(p.endpoints[0].name, "GET /a/:id");
        assert_eq!(p.endpoints[0].requests, 2);
        // With two slots the second request did not wait: its demand is its service.
        let mut c = Collector::default();
        c.add(line(0.1, 1, 100.0, "/a/1")).expect("ts");
        c.add(line(0.2, 1, 150.0, "/a/2")).expect("ts");
        assert_eq!(c.profile(2, 10).demand_ms, vec![100.0, 150.0]);
    }

    #[test]
    fn endpoints_past_the_limit_are_pooled_and_minutes_counted_by_arrival() {
        let mut c = Collector::default();
        for (i, p) in ["/a", "/a", "/a", "/b", "/b", "/c"].iter().enumerate() {
            c.add(line(10.0 + 30.0 * i as f64, 1, 5.0, p)).expect("ts");
        }
        let p = c.profile(1, 2);
        let names: Vec<&str> = p.endpoints.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["GET /a", "GET /b", OTHER_ENDPOINT]);
        assert_eq!(p.per_minute, vec![2, 2, 2]);
        assert!((p.span_s - 150.0).abs() < 1e-9);
        assert_eq!(p.rows.len(), 6);
        assert_eq!(p.rows[5].endpoint, 2);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&mut v);
        assert_eq!((p.p50_ms, p.p95_ms, p.p99_ms), (50.0, 95.0, 99.0));
        assert_eq!(p.mean_ms, 50.5);
    }
}
