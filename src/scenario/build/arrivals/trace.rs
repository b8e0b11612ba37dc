//! `{ trace = "arrivals.csv", column = "time_s", cpu = "cpu_s", wait = "wait_s" }`: arrivals
//! replayed from a CSV file ([`crate::model::arrivals::trace`]). The file is read through once
//! here, streamed through the bounded reader of [`crate::scenario::trace_file`] (regular files
//! only, bounded lines, no echo of its contents): every row must hold a timestamp (seconds from
//! the start, at least 0, never below the previous row's) and, with `cpu` or `wait`, a number of
//! seconds at least 0 in that column. At run time the file is streamed again, row by row.
//!
//! With `endpoint = "endpoint"`, every cell of that column must name one of the workload's
//! `[[app.workload.endpoint]]`; the names are known only once the workload's endpoints are
//! built, so [`bind_endpoints`] checks that column in a second pass, after [`KIND`]'s build.

use super::ArrivalKind;
use crate::model::Arrivals;
use crate::model::arrivals::TraceSpec;
use crate::model::arrivals::trace::{endpoint_index, timestamp_ns};
use crate::scenario::build::Ctx;
use crate::scenario::error::{KeyPath, ScenarioError};
use crate::scenario::trace_file::{CsvReader, TraceError, TraceErrorKind};
use toml::Value;

pub(super) const KIND: ArrivalKind = ArrivalKind {
    key: "trace",
    extra: &["column", "cpu", "wait", "endpoint"],
    shape: "{ trace = \"arrivals.csv\", column = \"time_s\" }",
    build,
};

/// The timestamp column when `column` is not given.
const DEFAULT_COLUMN: &str = "time_s";

fn build(ctx: &Ctx<'_>, table: &KeyPath, t: &toml::Table) -> Result<Arrivals, ScenarioError> {
    let s = |k: &str| -> Result<Option<&str>, ScenarioError> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(ctx.err(
                &table.key(k),
                format!("expected a string, found {}", v.type_str()),
            )),
        }
    };
    let file = s("trace")?.unwrap_or_default();
    if file.is_empty() {
        return Err(ctx.err(&table.key("trace"), "names no file"));
    }
    let spec = TraceSpec {
        path: ctx.base_dir.join(file),
        column: s("column")?.unwrap_or(DEFAULT_COLUMN).to_string(),
        cpu_column: s("cpu")?.map(str::to_string),
        wait_column: s("wait")?.map(str::to_string),
        endpoint_column: s("endpoint")?.map(str::to_string),
        endpoints: Vec::new(),
        rows: 0,
        last_s: 0.0,
    };
    let (rows, last_ns) =
        check(&spec).map_err(|(key, e)| ctx.err(&table.key(key), e.to_string()))?;
    Ok(Arrivals::Trace(TraceSpec {
        rows,
        last_s: last_ns as f64 * 1e-9,
        ..spec
    }))
}

/// Read the whole trace once: rows and the last timestamp (ns), or the key the error is about
/// (`column`, `cpu`, `wait` for a missing column; `trace` for the file and its content).
fn check(spec: &TraceSpec) -> Result<(u64, u64), (&'static str, TraceError)> {
    let file = |e| ("trace", e);
    let mut csv = CsvReader::open(&spec.path).map_err(file)?;
    let find = |csv: &CsvReader<_>, key: &'static str, name: &str| {
        csv.column(name).map_err(|e| match e.kind {
            TraceErrorKind::NoSuchColumn => (key, e),
            TraceErrorKind::File => ("trace", e),
        })
    };
    let time = find(&csv, "column", &spec.column)?;
    let cpu = match &spec.cpu_column {
        Some(c) => Some((find(&csv, "cpu", c)?, c.as_str())),
        None => None,
    };
    let wait = match &spec.wait_column {
        Some(c) => Some((find(&csv, "wait", c)?, c.as_str())),
        None => None,
    };
    if let Some(c) = &spec.endpoint_column {
        find(&csv, "endpoint", c)?;
    }
    let (mut rows, mut last) = (0u64, 0u64);
    while let Some(rec) = csv.next_record().map_err(file)? {
        // The same checks and rounding as the replay's (`timestamp_ns`).
        rec.non_negative(time, &spec.column).map_err(file)?;
        let at = rec
            .cell(time)
            .and_then(timestamp_ns)
            .ok_or_else(|| file(rec.error(time, &spec.column, "the timestamp is out of range")))?;
        if at < last {
            return Err(file(rec.error(
                time,
                &spec.column,
                "the timestamps must not decrease: this row's is earlier than the previous row's",
            )));
        }
        for (c, name) in [cpu, wait].into_iter().flatten() {
            rec.non_negative(c, name).map_err(file)?;
        }
        rows += 1;
        last = at;
    }
    if rows == 0 {
        return Err(file(TraceError {
            file: spec.path.display().to_string(),
            line: None,
            column: None,
            kind: TraceErrorKind::File,
            message: format!("has no rows in column `{}`", spec.column),
        }));
    }
    Ok((rows, last))
}

/// Give a trace's `endpoint` column the workload's endpoint names (in their order) and check
/// that every cell of it names one; `arrivals` at `table` (the `arrivals` key). Arrivals that
/// are not a trace with an endpoint column are left as they are.
pub(in crate::scenario::build) fn bind_endpoints(
    ctx: &Ctx<'_>,
    table: &KeyPath,
    arrivals: &mut Arrivals,
    endpoints: &[String],
) -> Result<(), ScenarioError> {
    let Arrivals::Trace(spec) = arrivals else {
        return Ok(());
    };
    let Some(column) = spec.endpoint_column.clone() else {
        return Ok(());
    };
    if endpoints.is_empty() {
        return Err(ctx.err(
            &table.key("endpoint"),
            "a per-request endpoint column needs the workload's [[app.workload.endpoint]] (each cell names one)",
        ));
    }
    spec.endpoints = endpoints.to_vec();
    check_endpoints(spec, &column).map_err(|e| ctx.err(&table.key("endpoint"), e.to_string()))
}

/// The most characters of an unknown endpoint name an error shows (a name the workload could
/// have: printable ASCII without quotes); anything else is described, not shown.
const SHOWN_NAME_CHARS: usize = 64;

/// Every cell of the endpoint column names one of `spec.endpoints`.
fn check_endpoints(spec: &TraceSpec, column: &str) -> Result<(), TraceError> {
    let names = endpoint_index(&spec.endpoints);
    let mut csv = CsvReader::open(&spec.path)?;
    let col = csv.column(column)?;
    while let Some(rec) = csv.next_record()? {
        let cell = rec.cell(col).unwrap_or_default();
        if names.contains_key(cell) {
            continue;
        }
        let shown = match std::str::from_utf8(cell) {
            Ok("") => "an empty cell".to_string(),
            Ok(s)
                if s.chars().count() <= SHOWN_NAME_CHARS
                    && s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'`') =>
            {
                format!("`{s}`")
            }
            _ => format!("a value of {} bytes", cell.len()),
        };
        return Err(rec.error(
            col,
            column,
            format!(
                "{shown} is not an endpoint of this workload (it has {}: {})",
                spec.endpoints.len(),
                spec.endpoints
                    .iter()
                    .take(8)
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
                    + if spec.endpoints.len() > 8 {
                        ", ..."
                    } else {
                        ""
                    }
            ),
        ));
    }
    Ok(())
}
