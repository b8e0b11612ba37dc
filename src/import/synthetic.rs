//! A realistic synthetic Heroku router log, for the importer's tests and the sample under
//! `scenarios/router-logs/` (written by `cargo run --release --example router_log`).
//!
//! The log is produced by a small model of its own, independent of dynosim's engine, so that
//! importing it and simulating the result is a real cross-check: requests arrive as a Poisson
//! process whose rate ramps linearly (thinning), each picks an endpoint by weight and a
//! lognormal demand, the router sends it to a uniformly random dyno after a connect time of 0
//! to 2 ms, each dyno serves one request at a time in arrival order, and a line is written when
//! the response ends, in the `heroku logs` framing with Router 2.0's keys (planner-anchors.md
//! 3.1 and 3.3 D). Like a real log it also holds lines of other sources (the app's own request
//! lines, which carry `method=` and `path=` too), a few router errors that never reach a dyno
//! (H26), clients that hang up (H27: the dyno still finishes the request), and lines a log
//! shipper cut short.
//!
//! Privacy by construction: client addresses are in the documentation ranges (RFC 5737), the
//! host is `storefront.example.com`, and request ids are random.

use crate::engine::{RngStream, SeedTree};
use crate::model::dist::normal_quantile;
use std::fmt::Write as _;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticLog {
    pub seed: u64,
    /// Length of the log.
    pub minutes: u32,
    /// The arrival rate at the start and at the end (requests/s, linear in between).
    pub start_rate: f64,
    pub end_rate: f64,
    /// Web dynos (`web.1` ... `web.N`), each serving one request at a time.
    pub dynos: u32,
    /// The first arrival's time, µs since 1970.
    pub start_us: i64,
}

impl SyntheticLog {
    /// The storefront of `scenarios/router-logs/storefront.log`: 3 web dynos, 8 to 15 req/s over
    /// 10 minutes (CPU load about 30% to 55%).
    pub fn storefront() -> SyntheticLog {
        SyntheticLog {
            seed: 20261102,
            minutes: 10,
            start_rate: 8.0,
            end_rate: 15.0,
            dynos: 3,
            // 2026-11-02T14:00:00Z
            start_us: 1_793_628_000_000_000,
        }
    }
}

/// An endpoint of the storefront: weight, lognormal demand and how its paths and statuses look.
struct Template {
    method: &'static str,
    weight: f64,
    median_ms: f64,
    p99_ms: f64,
    path: fn(&mut RngStream) -> String,
    status: fn(&mut RngStream) -> u16,
    bytes: u64,
}

fn ok(_: &mut RngStream) -> u16 {
    200
}

const TEMPLATES: [Template; 9] = [
    Template {
        method: "GET",
        weight: 20.0,
        median_ms: 60.0,
        p99_ms: 250.0,
        path: |_| "/".into(),
        status: ok,
        bytes: 18_400,
    },
    Template {
        method: "GET",
        weight: 35.0,
        median_ms: 80.0,
        p99_ms: 400.0,
        path: |r| format!("/products/{}", 1000 + r.below(4000)),
        status: |r| if r.open01() < 0.01 { 404 } else { 200 },
        bytes: 24_100,
    },
    Template {
        method: "GET",
        weight: 8.0,
        median_ms: 90.0,
        p99_ms: 450.0,
        path: |r| {
            format!(
                "/products/{}/reviews?page={}",
                1000 + r.below(4000),
                1 + r.below(5)
            )
        },
        status: ok,
        bytes: 9_800,
    },
    Template {
        method: "GET",
        weight: 12.0,
        median_ms: 150.0,
        p99_ms: 900.0,
        path: |r| {
            const TERMS: [&str; 6] = ["shoes", "red+scarf", "gift", "wool", "sale", "boots+42"];
            format!("/search?q={}", TERMS[r.below(6) as usize])
        },
        status: ok,
        bytes: 31_000,
    },
    Template {
        method: "GET",
        weight: 8.0,
        median_ms: 50.0,
        p99_ms: 200.0,
        path: |_| "/cart".into(),
        status: ok,
        bytes: 7_200,
    },
    Template {
        method: "POST",
        weight: 6.0,
        median_ms: 120.0,
        p99_ms: 500.0,
        path: |_| "/cart/items".into(),
        status: |_| 201,
        bytes: 310,
    },
    Template {
        method: "POST",
        weight: 2.0,
        median_ms: 400.0,
        p99_ms: 1800.0,
        path: |_| "/checkout".into(),
        status: |r| if r.open01() < 0.05 { 422 } else { 302 },
        bytes: 0,
    },
    Template {
        method: "GET",
        weight: 3.0,
        median_ms: 100.0,
        p99_ms: 450.0,
        path: |r| format!("/orders/{}", uuid(r)),
        status: ok,
        bytes: 12_500,
    },
    Template {
        method: "GET",
        weight: 6.0,
        median_ms: 5.0,
        p99_ms: 20.0,
        path: |r| {
            const FILES: [&str; 3] = ["application", "storefront", "vendor"];
            format!(
                "/assets/{}-{:016x}.js",
                FILES[r.below(3) as usize],
                0x9f3a_2c11_0000_0000u64 + r.below(3)
            )
        },
        status: |r| if r.open01() < 0.4 { 304 } else { 200 },
        bytes: 51_000,
    },
];

/// Random 128 bits in the shape of a UUID v4.
fn uuid(r: &mut RngStream) -> String {
    let a = r.below(u64::MAX);
    let b = r.below(u64::MAX);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// A client address in the documentation ranges; sometimes behind a proxy (two addresses).
fn client(r: &mut RngStream) -> String {
    const NETS: [&str; 3] = ["192.0.2", "198.51.100", "203.0.113"];
    let one = |r: &mut RngStream| format!("{}.{}", NETS[r.below(3) as usize], 1 + r.below(254));
    if r.open01() < 0.1 {
        format!("{},{}", one(r), one(r))
    } else {
        one(r)
    }
}

/// A line and when it was written.
struct Entry {
    ts_us: i64,
    text: String,
}

fn stamp(us: i64) -> String {
    match jiff::Timestamp::from_microsecond(us) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        Err(_) => "1970-01-01T00:00:00.000000+00:00".into(),
    }
}

impl SyntheticLog {
    /// The log's text (lines in the order they were written).
    pub fn generate(&self) -> String {
        let seeds = SeedTree::new(self.seed);
        let mut arrivals = seeds.named("synthetic/arrivals").stream();
        let mut pick = seeds.named("synthetic/requests").stream();
        let mut demand = seeds.named("synthetic/demand").stream();
        let mut noise = seeds.named("synthetic/lines").stream();
        let total: f64 = TEMPLATES.iter().map(|t| t.weight).sum();
        let span_s = 60.0 * f64::from(self.minutes);
        let max_rate = self.start_rate.max(self.end_rate);
        let mut free = vec![0i64; self.dynos.max(1) as usize];
        let mut entries: Vec<Entry> = Vec::new();
        let mut t = 0.0;
        loop {
            t += arrivals.exp(1.0 / max_rate);
            if t >= span_s {
                break;
            }
            let rate = self.start_rate + (self.end_rate - self.start_rate) * t / span_s;
            if arrivals.open01() * max_rate > rate {
                continue;
            }
            let arrival = self.start_us + (t * 1e6) as i64;
            let mut u = pick.open01() * total;
            let tpl = TEMPLATES
                .iter()
                .find(|tp| {
                    u -= tp.weight;
                    u <= 0.0
                })
                .unwrap_or(&TEMPLATES[0]);
            let path = (tpl.path)(&mut pick);
            let status = (tpl.status)(&mut pick);
            let id = uuid(&mut noise);
            let fwd = client(&mut noise);
            let head = |ts: i64, at: &str| {
                format!(
                    "{} heroku[router]: {at}method={} path=\"{path}\" host=storefront.example.com request_id={id} fwd=\"{fwd}\"",
                    stamp(ts),
                    tpl.method
                )
            };
            let tail = " protocol=http1.1 tls=true tls_version=tls1.3";
            let fate = noise.open01();
            if fate < 0.001 {
                // A header the router refuses: answered at once, no dyno involved.
                let ts = arrival + 300;
                let text = format!(
                    "{} dyno= connect= service= status=400 bytes={tail}",
                    head(
                        ts,
                        "at=error code=H26 desc=\"Request Error\" cause=\"bad header\" "
                    )
                );
                entries.push(Entry { ts_us: ts, text });
                continue;
            }
            let sigma = (tpl.p99_ms / tpl.median_ms).ln() / 2.326_347_874;
            let work_ms = tpl.median_ms * (sigma * normal_quantile(demand.open01())).exp();
            let connect_ms = [0, 0, 1, 1, 1, 2][pick.below(6) as usize];
            let d = pick.below(u64::from(self.dynos.max(1))) as usize;
            let at_dyno = arrival + connect_ms * 1000;
            let start = at_dyno.max(free[d]);
            let end = start + (work_ms * 1e3).round() as i64;
            free[d] = end;
            let dyno = format!("web.{}", d + 1);
            if fate < 0.003 {
                // The client hangs up before the response; the dyno still finishes.
                let left = at_dyno + ((end - at_dyno) as f64 * noise.open01()) as i64;
                let text = format!(
                    "{} dyno={dyno} connect={connect_ms}ms service={}ms status=499 bytes={tail}",
                    head(
                        left,
                        "sock=client at=warning code=H27 desc=\"Client Request Interrupted\" "
                    ),
                    (left - at_dyno + 500) / 1000
                );
                entries.push(Entry { ts_us: left, text });
                continue;
            }
            let service_ms = (end - at_dyno + 500) / 1000;
            let bytes = if status == 304 {
                0
            } else {
                tpl.bytes + noise.below(2_000)
            };
            let mut text = format!(
                "{} dyno={dyno} connect={connect_ms}ms service={service_ms}ms status={status} bytes={bytes}{tail}",
                head(end, "at=info ")
            );
            if noise.open01() < 0.0008 {
                // A line a log shipper cut short, before its timings.
                if let Some(i) = text.find(" connect=") {
                    text.truncate(i);
                }
            }
            entries.push(Entry { ts_us: end, text });
            if noise.open01() < 0.05 {
                // The app's own line about the request (lograge style), just before the router's.
                let path_only = path.split('?').next().unwrap_or("/");
                entries.push(Entry {
                    ts_us: end - 400,
                    text: format!(
                        "{} app[{dyno}]: method={} path={path_only} format=html status={status} duration={:.2}",
                        stamp(end - 400),
                        tpl.method,
                        work_ms
                    ),
                });
            }
        }
        entries.sort_by_key(|e| e.ts_us);
        let mut out = String::with_capacity(entries.len() * 280);
        for e in &entries {
            let _ = writeln!(out, "{}", e.text);
        }
        out
    }
}
