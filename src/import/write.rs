//! The scenario folder of an import: `scenario.toml` (with what was assumed said in comments),
//! the demand samples under `service/`, the replayable trace under `traces/` (with `--trace`),
//! and `import.json` (counts, the observed percentiles, the bad lines), all into a staging
//! folder that the caller commits.
//!
//! The TOML is written as text, not serialised, because its comments carry the assumptions and
//! the observed figures next to the keys they are about; values are quoted with `toml`'s own
//! string encoder, so any endpoint name round-trips.

use super::profile::{DemandMethod, Profile};
use super::{Assumptions, ManifestEndpoint};
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// The scenario's file name in the folder.
pub const SCENARIO_FILE: &str = "scenario.toml";
/// Folder of the demand samples, and its column.
pub const SERVICE_DIR: &str = "service";
pub const DEMAND_COLUMN: &str = "demand_ms";
/// The replayable trace (with `--trace`).
pub const TRACE_DIR: &str = "traces";
pub const TRACE_FILE: &str = "traces/arrivals.csv";

/// Endpoints with fewer completed requests than this take the workload's pooled demand.
pub const MIN_ENDPOINT_SAMPLES: usize = 20;

/// The time the last requests get to finish after the last arrival (they had it in the log).
const DRAIN_S: f64 = 60.0;

/// What the scenario is written from besides the profile.
pub struct Written<'a> {
    pub name: &'a str,
    pub sources: &'a [String],
    pub assumptions: &'a Assumptions,
    pub trace: bool,
    pub bad_lines: u64,
}

/// Write the folder's files into `dir`; returns the manifest's endpoint entries.
pub fn write_folder(dir: &Path, p: &Profile, w: &Written<'_>) -> io::Result<Vec<ManifestEndpoint>> {
    fs::create_dir(dir.join(SERVICE_DIR))?;
    write_column(&dir.join(SERVICE_DIR).join("all.csv"), &p.demand_ms)?;
    let mut files = Vec::new();
    for (i, e) in p.endpoints.iter().enumerate() {
        if e.demand_ms.len() < MIN_ENDPOINT_SAMPLES {
            files.push(None);
            continue;
        }
        let file = format!("{SERVICE_DIR}/{:02}-{}.csv", i + 1, slug(&e.name));
        write_column(&dir.join(&file), &e.demand_ms)?;
        files.push(Some(file));
    }
    if w.trace {
        fs::create_dir(dir.join(TRACE_DIR))?;
        write_trace(&dir.join(TRACE_FILE), p)?;
    }
    fs::write(dir.join(SCENARIO_FILE), scenario_text(p, w, &files))?;
    Ok(p.endpoints
        .iter()
        .zip(files)
        .map(|(e, file)| ManifestEndpoint {
            name: e.name.clone(),
            requests: e.requests,
            share: e.requests as f64 / p.requests.max(1) as f64,
            demand_samples: e.demand_ms.len() as u64,
            demand_file: file,
            observed: e.observed,
        })
        .collect())
}

/// One column of milliseconds.
fn write_column(path: &Path, values: &[f64]) -> io::Result<()> {
    let mut out = String::with_capacity(values.len() * 8 + 16);
    out.push_str(DEMAND_COLUMN);
    out.push('\n');
    for v in values {
        let _ = writeln!(out, "{}", num(*v, 3));
    }
    fs::write(path, out)
}

/// `time_s,endpoint,demand_s`, by arrival.
fn write_trace(path: &Path, p: &Profile) -> io::Result<()> {
    let mut csv = csv::Writer::from_path(path)?;
    csv.write_record(["time_s", "endpoint", "demand_s"])?;
    for r in &p.rows {
        csv.write_record([
            num(r.time_s, 6),
            p.endpoints[r.endpoint].name.clone(),
            num(r.demand_s, 6),
        ])?;
    }
    csv.flush()
}

/// `x` with at most `decimals` decimals, trailing zeros dropped.
pub fn num(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A duration string in seconds (`"60s"`, `"712.25s"`).
fn secs(x: f64) -> String {
    format!("\"{}s\"", num(x, 3))
}

/// A TOML string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A file-name part: lower-case letters and digits, runs of anything else one `-`.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(60).collect();
    if out.is_empty() {
        "endpoint".to_string()
    } else {
        out
    }
}

fn empirical(file: &str) -> String {
    format!(
        "{{ empirical = {{ file = {}, column = {}, unit = \"ms\" }} }}",
        q(file),
        q(DEMAND_COLUMN)
    )
}

fn pct(p: &super::profile::Percentiles) -> String {
    format!(
        "p50 {} ms, p95 {} ms, p99 {} ms, mean {} ms",
        num(p.p50_ms, 1),
        num(p.p95_ms, 1),
        num(p.p99_ms, 1),
        num(p.mean_ms, 1)
    )
}

/// The scenario text.
fn scenario_text(p: &Profile, w: &Written<'_>, files: &[Option<String>]) -> String {
    let a = w.assumptions;
    let mut o = String::new();
    let start = jiff::Timestamp::from_microsecond(p.start_us)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "?".into());
    let minutes = p.per_minute.len();
    let _ = writeln!(
        o,
        "# Imported by `dynosim import heroku-router` (dynosim {}) from {}.",
        env!("CARGO_PKG_VERSION"),
        w.sources.join(", ")
    );
    let _ = writeln!(
        o,
        "# {} request lines, the first arriving at {start}, over {} s ({minutes} minute(s)); {} \
bad line(s) skipped (import.json lists the first ones).",
        p.requests,
        num(p.span_s, 1),
        w.bad_lines
    );
    let errors: Vec<String> = p.errors.iter().map(|(c, n)| format!("{c} x{n}")).collect();
    let _ = writeln!(
        o,
        "# Outcomes: {} completed, {} websocket upgrade(s) (status 101, left out of the figures), \
router errors: {}.",
        p.completed,
        p.websockets,
        if errors.is_empty() {
            "none".to_string()
        } else {
            errors.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "#\n# OBSERVED in the log (connect + service of the completed requests): {}.",
        pct(&p.observed)
    );
    let _ = writeln!(
        o,
        "# A run of this scenario at the logged formation is comparable with these: summary.csv's\n\
# p50_ms, p95_ms and p99_ms (and endpoints.csv's, per endpoint, against the figures below)."
    );
    o.push_str("#\n# What the log does not say, and what was taken instead (docs/import.md):\n");
    let assumed = |flag: bool| {
        if flag {
            "ASSUMPTION (default)"
        } else {
            "given"
        }
    };
    let _ = writeln!(
        o,
        "# - size = {}: {}; router logs carry no dyno size (--size).",
        q(&a.size),
        assumed(a.size_assumed)
    );
    let _ = writeln!(
        o,
        "# - concurrency = {}: {}; router logs carry no concurrency (--concurrency).",
        a.concurrency,
        assumed(a.concurrency_assumed)
    );
    match p.method {
        DemandMethod::DynoQueueReplay => o.push_str(
            "# - `service=` includes the wait for a free slot inside the dyno, so it is not the demand.\n\
#   Each request's demand was recovered by replaying its dyno's FIFO queue with `concurrency`\n\
#   slots (exact when the requests on a dyno do not slow each other down; with concurrency\n\
#   above 1 it keeps their slowing of each other in the demand).\n",
        ),
        DemandMethod::ServiceUpperBound => o.push_str(
            "# - `service=` includes the wait for a free slot inside the dyno. The timestamps have whole\n\
#   seconds only, too coarse to replay the dynos' queues, so the demand is `service` itself:\n\
#   an UPPER BOUND that counts the logged queueing again in a run.\n",
        ),
    }
    o.push_str(
        "# - The whole demand is CPU: router logs cannot tell CPU from I/O. Move part of it to `wait`\n\
#   by hand if the app mostly waits on a database.\n\
# - noise = \"off\": the demand measured on the logged dynos already includes what their\n\
#   neighbours did to them; noise on would count it twice at the logged formation.\n\
# - Arrivals at ts - connect - service (a line is logged when the response ends).\n\n",
    );
    let _ = writeln!(o, "name = {}", q(w.name));
    o.push_str("seed = 1\n");
    // A trace's arrivals end at its last row: a minute more lets the last requests finish, as
    // they did in the log. Stages hold their last rate, so they end with the log.
    if w.trace {
        let _ = writeln!(
            o,
            "duration = {}   # the log's span, and a minute for the last requests to finish",
            secs(p.span_s.max(1.0) + DRAIN_S)
        );
    } else {
        let _ = writeln!(
            o,
            "duration = {}   # the log's span",
            secs(
                p.span_s
                    .max(60.0 * (p.per_minute.len() - 1) as f64 + p.last_bin_s)
            )
        );
    }
    o.push_str("replications = 3\nnoise = \"off\"\n\n");
    let _ = writeln!(o, "[[app]]\nname = {}\n", q(w.name));
    for f in &p.formation {
        let _ = writeln!(o, "[[app.process]]\ntype = {}", q(&f.process));
        let _ = writeln!(
            o,
            "size = {}   # {}",
            q(&a.size),
            if a.size_assumed {
                "ASSUMPTION: not in the log (--size)"
            } else {
                "from --size"
            }
        );
        let seen = if f.seen < f.count {
            format!(" ({} of them served a logged request)", f.seen)
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "count = {}   # the highest dyno number in `dyno=`: {}.{}{seen}",
            f.count, f.process, f.count
        );
        let _ = writeln!(
            o,
            "concurrency = {}   # {}\n",
            a.concurrency,
            if a.concurrency_assumed {
                "ASSUMPTION: not in the log (--concurrency)"
            } else {
                "from --concurrency"
            }
        );
    }
    let process = p.formation.first().map_or("web", |f| f.process.as_str());
    let _ = writeln!(o, "[app.workload]\nprocess = {}", q(process));
    let _ = writeln!(
        o,
        "# Demand of every completed request (ms): {}.",
        pct(&p.demand)
    );
    let _ = writeln!(o, "cpu = {}", empirical(&format!("{SERVICE_DIR}/all.csv")));
    if w.trace {
        let _ = writeln!(
            o,
            "# Each request of the log at its estimated arrival, with its endpoint and demand\n\
# (requests the router answered itself, H10/H14/H26..., take their endpoint's median demand).\n\
arrivals = {{ trace = {}, column = \"time_s\", endpoint = \"endpoint\", cpu = \"demand_s\" }}\n",
            q(TRACE_FILE)
        );
    } else {
        o.push('\n');
        stages(&mut o, p);
    }
    for (e, file) in p.endpoints.iter().zip(files) {
        let _ = writeln!(o, "[[app.workload.endpoint]]\nname = {}", q(&e.name));
        let _ = writeln!(
            o,
            "weight = {}   # {}% of the request lines",
            e.requests,
            num(100.0 * e.requests as f64 / p.requests.max(1) as f64, 2)
        );
        if e.observed.count > 0 {
            let _ = writeln!(o, "# OBSERVED: {}.", pct(&e.observed));
        }
        match file {
            Some(f) => {
                let _ = writeln!(o, "cpu = {}\n", empirical(f));
            }
            None => {
                let _ = writeln!(
                    o,
                    "# {} completed request(s) with a dyno: fewer than {MIN_ENDPOINT_SAMPLES}, so it takes the workload's demand.\n",
                    e.demand_ms.len()
                );
            }
        }
    }
    o
}

/// `[app.workload.arrivals]` as a step profile: each minute's arrivals at a constant rate (two
/// points at a minute's boundary make the jump), then 0 after the last arrival.
fn stages(o: &mut String, p: &Profile) {
    o.push_str(
        "# Arrivals per minute of the log as a step profile (requests/s).\n\
[app.workload.arrivals]\nstages = [\n",
    );
    let bins = p.per_minute.len();
    for (k, n) in p.per_minute.iter().enumerate() {
        let from = 60.0 * k as f64;
        let len = if k + 1 == bins { p.last_bin_s } else { 60.0 };
        let rate = *n as f64 / len;
        let end = from + len;
        let _ = writeln!(
            o,
            "  {{ at = {}, rate = {} }}, {{ at = {}, rate = {} }},   # {n} arrivals",
            secs(from),
            num(rate, 6),
            secs(end),
            num(rate, 6)
        );
    }
    o.push_str("]\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_numbers() {
        assert_eq!(slug("GET /products/:id"), "get-products-id");
        assert_eq!(slug("///"), "endpoint");
        assert_eq!(num(2.5000, 3), "2.5");
        assert_eq!(num(60.0, 3), "60");
        assert_eq!(q("a \"b\""), "'a \"b\"'");
        assert_eq!(q("GET /"), "\"GET /\"");
    }
}
