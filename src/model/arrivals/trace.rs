//! `{ trace = "arrivals.csv", column = "time_s" }`: arrivals replayed from a CSV file, one per
//! row, at the row's timestamp (seconds from the start of the run, rounded to the nanosecond);
//! the arrivals end at the last row. Optional `cpu` and `wait` columns (seconds) replace the
//! workload's CPU and wait draws for that request, and an optional `endpoint` column names the
//! request's endpoint (one of the workload's `[[app.workload.endpoint]]`), chosen instead of the
//! endpoint draw and before that endpoint's CPU and wait are drawn ([`RequestOverride`]).
//!
//! The file is streamed through the bounded reader of [`crate::scenario::trace_file`] (one
//! line in memory at a time), so a day-long trace keeps memory flat; the scenario reads it
//! through once when it is loaded and refuses a bad row (unsorted times, a cell that is not a
//! number) naming its line, so at run time every row is known good. Should the file change
//! between the check and the run, the arrivals end at the first row that no longer reads.
//!
//! An endpoint cell is looked up by its exact bytes among the workload's endpoint names (the
//! scenario checked every cell when it loaded); a trace without an endpoint column reads and
//! changes nothing about endpoints.

use super::ArrivalProcess;
use crate::engine::SimTime;
use crate::scenario::trace_file::CsvReader;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

/// A trace as the scenario checked it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpec {
    /// The file, resolved against the scenario's folder.
    pub path: PathBuf,
    /// The column holding the timestamps, seconds from the start.
    pub column: String,
    /// Columns holding each request's CPU and wait, seconds.
    pub cpu_column: Option<String>,
    pub wait_column: Option<String>,
    /// The column naming each request's endpoint, and the workload's endpoint names in their
    /// order (a cell is the endpoint of that name).
    pub endpoint_column: Option<String>,
    pub endpoints: Vec<String>,
    /// Rows, and the last timestamp, in seconds, as read when the scenario was loaded.
    pub rows: u64,
    pub last_s: f64,
}

impl TraceSpec {
    /// Rows over the span from 0 to the last timestamp.
    pub fn mean_rate(&self) -> f64 {
        if self.last_s > 0.0 {
            self.rows as f64 / self.last_s
        } else {
            0.0
        }
    }
}

/// What one request of a trace says about itself, replacing the workload's draws (which are
/// still made, so the streams stay aligned).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestOverride {
    /// CPU demand, seconds of one reference core.
    pub cpu_s: Option<f64>,
    /// Wait, seconds.
    pub wait_s: Option<f64>,
    /// Endpoint (index among the workload's endpoints), chosen instead of the endpoint draw.
    pub endpoint: Option<u16>,
}

impl TraceSpec {
    /// Whether its rows carry per-request values (a `cpu`, `wait` or `endpoint` column).
    pub fn overrides_requests(&self) -> bool {
        self.cpu_column.is_some() || self.wait_column.is_some() || self.endpoint_column.is_some()
    }
}

/// A timestamp cell as nanoseconds (`None` unless a finite number of at least 0).
pub fn timestamp_ns(cell: &[u8]) -> Option<u64> {
    let x: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    if !x.is_finite() || x < 0.0 || x * 1e9 >= u64::MAX as f64 {
        return None;
    }
    Some((x * 1e9).round() as u64)
}

/// A seconds cell as a number (`None` unless finite and at least 0).
fn seconds(cell: &[u8]) -> Option<f64> {
    let x: f64 = std::str::from_utf8(cell).ok()?.parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some(x)
}

/// A reader over the trace's rows and where its columns are.
struct Rows {
    csv: CsvReader<BufReader<File>>,
    time: usize,
    cpu: Option<usize>,
    wait: Option<usize>,
    /// The endpoint column and the index of each endpoint name.
    endpoint: Option<(usize, EndpointIndex)>,
    /// Timestamp of the last row read, to stop at an unsorted one.
    last_ns: u64,
}

impl Rows {
    fn open(spec: &TraceSpec) -> Option<Rows> {
        let csv = CsvReader::open(&spec.path).ok()?;
        let time = csv.column(&spec.column).ok()?;
        let col = |c: &Option<String>| match c {
            Some(name) => csv.column(name).ok().map(Some),
            None => Some(None),
        };
        let (cpu, wait) = (col(&spec.cpu_column)?, col(&spec.wait_column)?);
        let endpoint = col(&spec.endpoint_column)?.map(|c| (c, endpoint_index(&spec.endpoints)));
        Some(Rows {
            csv,
            time,
            cpu,
            wait,
            endpoint,
            last_ns: 0,
        })
    }

    /// The next row: its time and its per-request values; `None` at the end (or a bad row).
    fn next(&mut self) -> Option<(u64, RequestOverride)> {
        let rec = self.csv.next_record().ok()??;
        let at = timestamp_ns(rec.cell(self.time)?)?;
        if at < self.last_ns {
            return None;
        }
        let value = |c: Option<usize>| match c {
            Some(c) => rec.cell(c).and_then(seconds).map(Some),
            None => Some(None),
        };
        let endpoint = match &self.endpoint {
            Some((c, names)) => Some(*names.get(rec.cell(*c)?)?),
            None => None,
        };
        let over = RequestOverride {
            cpu_s: value(self.cpu)?,
            wait_s: value(self.wait)?,
            endpoint,
        };
        self.last_ns = at;
        Some((at, over))
    }
}

/// Each endpoint name's index, looked up by a cell's bytes.
pub type EndpointIndex = HashMap<Box<[u8]>, u16>;

/// The [`EndpointIndex`] of the workload's endpoint names.
pub fn endpoint_index(names: &[String]) -> EndpointIndex {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (Box::from(n.as_bytes()), i as u16))
        .collect()
}

/// The arrivals of a trace.
pub struct TraceArrivals {
    rows: Option<Rows>,
    /// Overrides of the arrivals returned and not yet drawn (at most two: the platform asks for
    /// the next arrival before it draws the current request).
    overrides: VecDeque<RequestOverride>,
    keep_overrides: bool,
    /// A second reader for [`ArrivalProcess::offered`], and the row it stopped at.
    counter: Option<Rows>,
    counter_next: Option<u64>,
    counter_started: bool,
}

impl TraceArrivals {
    pub fn open(spec: &TraceSpec) -> TraceArrivals {
        TraceArrivals {
            rows: Rows::open(spec),
            overrides: VecDeque::new(),
            keep_overrides: spec.overrides_requests(),
            counter: Rows::open(spec),
            counter_next: None,
            counter_started: false,
        }
    }
}

impl ArrivalProcess for TraceArrivals {
    fn next_arrival(&mut self, _now: SimTime) -> Option<SimTime> {
        let Some((at, over)) = self.rows.as_mut()?.next() else {
            self.rows = None;
            return None;
        };
        if self.keep_overrides {
            self.overrides.push_back(over);
        }
        Some(SimTime(at))
    }

    /// The rows with a timestamp in `[from, to)`, read by a second cursor over the file.
    fn offered(&mut self, from: SimTime, to: SimTime) -> f64 {
        let Some(rows) = self.counter.as_mut() else {
            return 0.0;
        };
        if !self.counter_started {
            self.counter_started = true;
            self.counter_next = rows.next().map(|r| r.0);
        }
        let mut n = 0u64;
        while let Some(at) = self.counter_next {
            if at >= to.as_nanos() {
                break;
            }
            if at >= from.as_nanos() {
                n += 1;
            }
            self.counter_next = rows.next().map(|r| r.0);
        }
        n as f64
    }

    fn take_override(&mut self) -> Option<RequestOverride> {
        self.overrides.pop_front()
    }
}
