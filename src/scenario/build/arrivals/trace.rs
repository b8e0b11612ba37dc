//! `{ trace = "arrivals.csv", column = "time_s", cpu = "cpu_s", wait = "wait_s" }`: arrivals
//! replayed from a CSV file ([`crate::model::arrivals::trace`]). The file is read through once
//! here, streamed through the bounded reader of [`crate::scenario::trace_file`] (regular files
//! only, bounded lines, no echo of its contents): every row must hold a timestamp (seconds from
//! the start, at least 0, never below the previous row's) and, with `cpu` or `wait`, a number of
//! seconds at least 0 in that column. At run time the file is streamed again, row by row.

use super::ArrivalKind;
use crate::model::Arrivals;
use crate::model::arrivals::TraceSpec;
use crate::model::arrivals::trace::timestamp_ns;
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
    if t.contains_key("endpoint") {
        return Err(ctx.err(
            &table.key("endpoint"),
            "a per-request endpoint column is not taken yet (it comes with [[app.workload.endpoint]])",
        ));
    }
    let file = s("trace")?.unwrap_or_default();
    if file.is_empty() {
        return Err(ctx.err(&table.key("trace"), "names no file"));
    }
    let spec = TraceSpec {
        path: ctx.base_dir.join(file),
        column: s("column")?.unwrap_or(DEFAULT_COLUMN).to_string(),
        cpu_column: s("cpu")?.map(str::to_string),
        wait_column: s("wait")?.map(str::to_string),
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
