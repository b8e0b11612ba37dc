//! Reading an output folder's CSVs back: one typed reader ([`Reader`]) and one serde row struct
//! per table, for the plots, the merge and anyone else (validate) who reads dynosim's outputs.
//!
//! Columns are matched by name, so a reader never depends on column order and ignores columns
//! it does not use (sweep keys, columns added later); a column a row struct needs but the file
//! lacks is an error naming the file and the column, before any row is read. Empty cells (the
//! writers' missing value, see docs/csv.md) read as NaN in float columns and as `None` in
//! optional ones. A struct here may leave out columns (it is a view of the table), but every
//! field it has is a column the writer writes, which a test checks. A folder written with
//! `--format parquet` has no CSVs: a table is then read from its Parquet file, turned back into
//! the CSV text it was made from ([`CsvFromParquet`]), so both formats read the same.

use super::folder::Table;
use super::format::kind_in;
use super::parquet::CsvFromParquet;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A float cell: empty (no value) is NaN; otherwise a number as Rust parses it (`NaN`, `inf`
/// included). Parsed by the CSV reader itself, so a bad cell's error names its column.
pub fn float<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Option::<f64>::deserialize(d).map(|v| v.unwrap_or(f64::NAN))
}

/// A row struct of one table.
pub trait Row {
    const TABLE: Table;
    /// Columns a file may lack (added after files were first written); serde gives them a
    /// default.
    const OPTIONAL: &'static [&'static str] = &[];
}

/// One row of summary.csv: one process type of one app in one job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SummaryRow {
    pub scenario: String,
    pub point: usize,
    pub replication: u32,
    pub seed: u64,
    pub app: String,
    pub process: String,
    pub size: String,
    pub tier: String,
    pub dynos: u32,
    pub concurrency: u32,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    pub in_flight: u64,
    #[serde(deserialize_with = "float")]
    pub mean_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p90_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p95_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p99_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p999_ms: f64,
    #[serde(deserialize_with = "float")]
    pub max_ms: f64,
    #[serde(deserialize_with = "float")]
    pub throughput_rps: f64,
    #[serde(deserialize_with = "float")]
    pub cpu_utilization: f64,
    #[serde(deserialize_with = "float")]
    pub cost_usd_month: f64,
    pub restarts: u64,
}

impl Row for SummaryRow {
    const TABLE: Table = Table::Summary;
}

impl SummaryRow {
    /// p50, p90, p95, p99, p99.9 and the maximum (ms; NaN without completed requests).
    pub fn quantiles(&self) -> [f64; 6] {
        [
            self.p50_ms,
            self.p90_ms,
            self.p95_ms,
            self.p99_ms,
            self.p999_ms,
            self.max_ms,
        ]
    }
}

/// One row of windows.csv: one time window of one process type in one job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WindowRow {
    pub scenario: String,
    pub point: usize,
    pub replication: u32,
    pub app: String,
    pub process: String,
    pub size: String,
    pub tier: String,
    #[serde(deserialize_with = "float")]
    pub window_start_s: f64,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    pub in_flight: u64,
    #[serde(deserialize_with = "float")]
    pub mean_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p90_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p99_ms: f64,
    /// Absent from files written before the column existed: NaN.
    #[serde(default = "nan", deserialize_with = "float")]
    pub arrival_rate_rps: f64,
}

fn nan() -> f64 {
    f64::NAN
}

impl Row for WindowRow {
    const TABLE: Table = Table::Windows;
    const OPTIONAL: &'static [&'static str] = &["arrival_rate_rps"];
}

/// One row of events.csv: one lifecycle event in one job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventRow {
    pub scenario: String,
    pub point: usize,
    pub replication: u32,
    #[serde(deserialize_with = "float")]
    pub time_s: f64,
    pub app: String,
    pub process: String,
    /// `web.2`; empty for a process-wide event.
    pub dyno: String,
    pub incarnation: Option<u32>,
    pub instance: String,
    pub event: String,
    pub detail: String,
}

impl Row for EventRow {
    const TABLE: Table = Table::Events;
}

/// One row of dynos.csv: one dyno in one job.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DynoRow {
    pub scenario: String,
    pub point: usize,
    pub replication: u32,
    pub app: String,
    pub process: String,
    pub dyno: String,
    pub size: String,
    pub tier: String,
    pub instance: String,
    pub restarts: u64,
    pub restarts_cycle: u64,
    pub restarts_deploy: u64,
    pub restarts_crash: u64,
    pub restarts_r10: u64,
    pub restarts_r15: u64,
    pub sleeps: u64,
    #[serde(deserialize_with = "float")]
    pub uptime_s: f64,
    #[serde(deserialize_with = "float")]
    pub r14_s: f64,
    pub served: u64,
    #[serde(deserialize_with = "float")]
    pub cpu_utilization: f64,
    #[serde(deserialize_with = "float")]
    pub cpu_s: f64,
    #[serde(deserialize_with = "float")]
    pub throttled_s: f64,
    pub max_backlog: u64,
    pub bytes_written: u64,
    pub bytes_lost: u64,
    pub files_lost: u64,
}

impl Row for DynoRow {
    const TABLE: Table = Table::Dynos;
}

/// One row of tiers.csv: one tier x size at one sweep point, over its replications.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TierRow {
    pub scenario: String,
    pub point: usize,
    pub tier: String,
    pub size: String,
    pub replications: u32,
    pub requests: u64,
    pub completed: u64,
    pub errors: u64,
    #[serde(deserialize_with = "float")]
    pub p50_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p90_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p95_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p99_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p95_low_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p95_high_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p99_low_ms: f64,
    #[serde(deserialize_with = "float")]
    pub p99_high_ms: f64,
    #[serde(deserialize_with = "float")]
    pub cost_usd_month: f64,
    pub windows: u64,
    #[serde(deserialize_with = "float")]
    pub window_p50_mean_ms: f64,
    #[serde(deserialize_with = "float")]
    pub window_p50_cov: f64,
    #[serde(deserialize_with = "float")]
    pub window_p99_mean_ms: f64,
    #[serde(deserialize_with = "float")]
    pub window_p99_cov: f64,
}

impl Row for TierRow {
    const TABLE: Table = Table::Tiers;
}

/// One row of requests.csv, borrowing its text from the reader (the file can hold millions).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestRow<'a> {
    pub point: usize,
    pub replication: u32,
    pub request: u64,
    pub parent: Option<u64>,
    pub app: &'a str,
    pub process: &'a str,
    pub dyno: &'a str,
    pub incarnation: Option<u32>,
    #[serde(deserialize_with = "float")]
    pub arrival_s: f64,
    #[serde(deserialize_with = "float")]
    pub latency_ms: f64,
    /// `ok`, or the error code (`H12`, ...).
    pub status: &'a str,
}

impl Row for RequestRow<'_> {
    const TABLE: Table = Table::Requests;
}

/// A problem reading a table: the file, the line if any, and what was wrong.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub path: PathBuf,
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{} line {l}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ReadError {}

/// The field names a row struct deserializes (serde hands them to `deserialize_struct`).
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// The rows of one table of an output folder, read one at a time (memory stays flat whatever
/// the file's size). Opened for a row struct, whose columns the header must have; rows are then
/// read as that struct, or as one that borrows from the reader ([`RequestRow`]).
pub struct Reader {
    table: Table,
    path: PathBuf,
    csv: csv::Reader<Box<dyn Read>>,
    header: csv::StringRecord,
    record: csv::StringRecord,
}

impl Reader {
    /// Open `T`'s table in `dir`; `Ok(None)` if the folder has no such file. The header must
    /// have every column `T` reads.
    pub fn open<'de, T: Row + Deserialize<'de>>(dir: &Path) -> Result<Option<Reader>, ReadError> {
        let path = dir.join(T::TABLE.file());
        let err = |line, message: String| ReadError {
            path: path.clone(),
            line,
            message,
        };
        let input: Box<dyn Read> = match File::open(&path) {
            Ok(f) => Box::new(BufReader::with_capacity(1 << 16, f)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A folder written with `--format parquet`: the same rows, read back as CSV.
                let parquet = dir.join(T::TABLE.parquet_file());
                if !parquet.exists() {
                    return Ok(None);
                }
                let table = T::TABLE;
                let rows = CsvFromParquet::open(&parquet, |c| kind_in(table, c)).map_err(|m| {
                    ReadError {
                        path: parquet.clone(),
                        line: None,
                        message: m,
                    }
                })?;
                return Self::from_input::<T>(parquet, Box::new(rows)).map(Some);
            }
            Err(e) => return Err(err(None, e.to_string())),
        };
        Self::from_input::<T>(path, input).map(Some)
    }

    /// A reader of `input`, the CSV text of `path` (or of the Parquet file `path`).
    fn from_input<'de, T: Row + Deserialize<'de>>(
        path: PathBuf,
        input: Box<dyn Read>,
    ) -> Result<Reader, ReadError> {
        let err = |line, message: String| ReadError {
            path: path.clone(),
            line,
            message,
        };
        let mut csv = csv::Reader::from_reader(input);
        let header = csv
            .headers()
            .map_err(|e| err(Some(1), e.to_string()))?
            .clone();
        let fields = fields_of::<T>();
        let missing: Vec<String> = fields
            .iter()
            .filter(|f| !header.iter().any(|h| h == **f) && !T::OPTIONAL.contains(*f))
            .map(|f| format!("`{f}`"))
            .collect();
        if !missing.is_empty() {
            let plural = if missing.len() > 1 { "s" } else { "" };
            return Err(err(
                None,
                format!(
                    "{} has no {} column{plural}",
                    T::TABLE.file(),
                    missing.join(", ")
                ),
            ));
        }
        Ok(Reader {
            table: T::TABLE,
            path,
            csv,
            header,
            record: csv::StringRecord::new(),
        })
    }

    /// The sweep keys: the columns between `point` and `replication`, in order.
    pub fn sweep_keys(&self) -> Vec<String> {
        self.sweep_columns()
            .filter_map(|i| self.header.get(i))
            .map(str::to_string)
            .collect()
    }

    /// The sweep values of the row last read (see [`sweep_keys`](Self::sweep_keys)).
    pub fn sweep_values(&self) -> Vec<String> {
        self.sweep_columns()
            .map(|i| self.record.get(i).unwrap_or("").to_string())
            .collect()
    }

    fn sweep_columns(&self) -> std::ops::Range<usize> {
        let pos = |c: &str| self.header.iter().position(|h| h == c);
        match (pos("point"), pos("replication")) {
            (Some(p), Some(r)) if r > p => p + 1..r,
            _ => 0..0,
        }
    }

    /// The next row, or `None` at the end of the file.
    pub fn next<'r, T: Row + Deserialize<'r>>(&'r mut self) -> Result<Option<T>, ReadError> {
        debug_assert!(
            T::TABLE == self.table,
            "a {:?} row from {:?}",
            T::TABLE,
            self.table
        );
        match self.csv.read_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                return Err(ReadError {
                    path: self.path.clone(),
                    line: e.position().map(|p| p.line()),
                    message: e.to_string(),
                });
            }
        }
        let (record, header) = (&self.record, &self.header);
        record
            .deserialize(Some(header))
            .map(Some)
            .map_err(|e| ReadError {
                path: self.path.clone(),
                line: record.position().map(|p| p.line()),
                message: match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                        Some(i) => format!(
                            "column `{}`: {}",
                            header.get(i as usize).unwrap_or("?"),
                            err.kind()
                        ),
                        None => err.kind().to_string(),
                    },
                    _ => e.to_string(),
                },
            })
    }
}

/// Every row of `T`'s table in `dir` (`None` if the folder has no such file), for small tables.
pub fn read_all<T: Row + DeserializeOwned>(dir: &Path) -> Result<Option<Vec<T>>, ReadError> {
    let Some(mut r) = Reader::open::<T>(dir)? else {
        return Ok(None);
    };
    let mut rows = Vec::new();
    while let Some(row) = r.next::<T>()? {
        rows.push(row);
    }
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_by_name_with_empty_cells_as_nan_and_names_bad_cells() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            tmp.path().join("events.csv"),
            "scenario,point,app.x.count,replication,time_s,app,process,dyno,incarnation,instance,event,detail,later\n\
             s,0,2,1,1.5,a,web,web.1,0,i-1,boot,,z\n\
             s,1,3,0,,a,web,,,,deploy,x,z\n",
        )
        .expect("write");
        let mut r = Reader::open::<EventRow>(tmp.path())
            .expect("opens")
            .expect("exists");
        assert_eq!(r.sweep_keys(), ["app.x.count"]);
        let first = r.next::<EventRow>().expect("ok").expect("row");
        assert_eq!((first.replication, first.time_s), (1, 1.5));
        assert_eq!(first.incarnation, Some(0));
        assert_eq!(r.sweep_values(), ["2"]);
        let second = r.next::<EventRow>().expect("ok").expect("row");
        assert!(second.time_s.is_nan() && second.incarnation.is_none());
        assert!(r.next::<EventRow>().expect("ok").is_none());

        std::fs::write(
            tmp.path().join("events.csv"),
            "scenario,point,replication,time_s,app,process,dyno,incarnation,instance,event,detail\n\
             s,0,0,soon,a,web,,,,boot,\n",
        )
        .expect("write");
        let mut r = Reader::open::<EventRow>(tmp.path())
            .expect("opens")
            .expect("exists");
        let e = r.next::<EventRow>().expect_err("not a number").to_string();
        assert!(e.contains("line 2") && e.contains("`time_s`"), "{e}");
        std::fs::write(tmp.path().join("events.csv"), "scenario,point\n").expect("write");
        let e = Reader::open::<EventRow>(tmp.path())
            .err()
            .expect("missing columns")
            .to_string();
        assert!(e.contains("no `replication`, `time_s`"), "{e}");
        assert!(read_all::<SummaryRow>(tmp.path()).expect("ok").is_none());
    }

    #[test]
    fn every_field_of_every_row_struct_is_a_column_the_writer_writes() {
        use super::super::columns::columns_of;
        let check = |table: Table, fields: &[&str]| {
            let cols = columns_of(table);
            for f in fields {
                assert!(cols.contains(f), "{}: `{f}` is not written", table.file());
            }
        };
        check(Table::Summary, fields_of::<SummaryRow>());
        check(Table::Windows, fields_of::<WindowRow>());
        check(Table::Events, fields_of::<EventRow>());
        check(Table::Dynos, fields_of::<DynoRow>());
        check(Table::Tiers, fields_of::<TierRow>());
        check(Table::Requests, fields_of::<RequestRow<'_>>());
    }
}
