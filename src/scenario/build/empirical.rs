//! `empirical`: the values of one column of a CSV trace, resampled with replacement. The file is
//! read through [`trace_file`](crate::scenario::trace_file) (regular files only, bounded lines,
//! no echo of its contents), once per scenario: sweep points share the values.

use super::Ctx;
use crate::model::Dist;
use crate::scenario::error::{KeyPath, ScenarioError};
use crate::scenario::trace_file::{CsvReader, TraceError, TraceErrorKind};
use std::path::Path;
use std::sync::Arc;
use toml::Value;

impl Ctx<'_> {
    /// `{ file = "cpu.csv", column = "cpu_ms", unit = "ms" }`: values resampled with replacement.
    pub(super) fn empirical(&self, p: &KeyPath, arg: &Value) -> Result<Dist, ScenarioError> {
        let t = self.table(
            p,
            arg,
            "a table { file = \"trace.csv\", column = \"cpu_ms\" }",
        )?;
        self.known_keys(p, t, &["file", "column", "unit"])?;
        let s = |k: &str| -> Result<Option<&str>, ScenarioError> {
            match t.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(v) => Err(self.err(
                    &p.key(k),
                    format!("expected a string, found {}", v.type_str()),
                )),
            }
        };
        let file = s("file")?.ok_or_else(|| self.err(p, "missing `file`"))?;
        let column = s("column")?.ok_or_else(|| self.err(p, "missing `column`"))?;
        let unit = s("unit")?.unwrap_or("ms");
        let scale = match unit {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            other => {
                return Err(self.err(
                    &p.key("unit"),
                    format!("unknown unit `{other}` (ns, us, ms or s)"),
                ));
            }
        };
        let path = self.base_dir.join(file);
        let key = (path.clone(), column.to_string(), unit.to_string());
        if let Some(values) = self.traces.borrow().get(&key) {
            return Ok(Dist::Empirical(values.clone()));
        }
        let values = read_column(&path, column, scale).map_err(|e| {
            let at = match e.kind {
                TraceErrorKind::NoSuchColumn => p.key("column"),
                TraceErrorKind::File => p.key("file"),
            };
            self.err(&at, e.to_string())
        })?;
        let values: Arc<[f64]> = Arc::from(values);
        self.traces.borrow_mut().insert(key, values.clone());
        Ok(Dist::Empirical(values))
    }
}

/// The most values an `empirical` column may hold (80 MB of samples).
pub const MAX_EMPIRICAL_VALUES: usize = 10_000_000;

/// Every value of `column`, times `scale`, streamed through the bounded trace reader.
fn read_column(path: &Path, column: &str, scale: f64) -> Result<Vec<f64>, TraceError> {
    let mut csv = CsvReader::open(path)?;
    let col = csv.column(column)?;
    let mut values = Vec::new();
    while let Some(rec) = csv.next_record()? {
        if values.len() == MAX_EMPIRICAL_VALUES {
            return Err(rec.error(
                col,
                column,
                format!("more than {MAX_EMPIRICAL_VALUES} values; an empirical distribution holds at most that many"),
            ));
        }
        values.push(rec.non_negative(col, column)? * scale);
    }
    if values.is_empty() {
        return Err(TraceError {
            file: path.display().to_string(),
            line: None,
            column: None,
            kind: TraceErrorKind::File,
            message: format!("has no values in column `{column}`"),
        });
    }
    Ok(values)
}
