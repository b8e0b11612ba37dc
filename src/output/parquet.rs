//! Parquet copies of the CSV tables (`--format parquet|both`), and reading them back as CSV.
//!
//! A table's Parquet file is made from its finished CSV file, one bounded batch of rows at a time
//! (one row group per [`ROW_GROUP`] rows), so memory stays flat however long requests.csv is.
//! Each column's type comes from its [`Kind`] in the column definitions (`columns`): int64,
//! uint64 (`seed`), float64 or utf8; an empty CSV cell is a null. Made from the CSV text, a
//! Parquet value is exactly the CSV's value, and the file is a function of the CSV bytes alone,
//! so it is as deterministic as they are (any thread count, any shard split): the writer's
//! properties are fixed, and it writes no time stamps.
//!
//! [`CsvFromParquet`] turns a Parquet table back into the CSV bytes it was made from (floats with
//! their column's decimals), streamed batch by batch: `merge` and `plot` read a folder that holds
//! only Parquet through it, with the same code that reads CSVs.

use super::atomic::OutputError;
use super::columns::{Kind, fmt_f64};
use ::parquet::arrow::ArrowWriter;
use ::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Rows per row group (and per batch held in memory while writing or reading).
pub const ROW_GROUP: usize = 65_536;

fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Int => DataType::Int64,
        Kind::UInt => DataType::UInt64,
        Kind::Float(_) => DataType::Float64,
        Kind::Text => DataType::Utf8,
    }
}

/// The writer's fixed properties: snappy pages, [`ROW_GROUP`] rows per group, and a `created_by`
/// naming dynosim's version (no time stamp anywhere in the file).
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP))
        .set_created_by(format!("dynosim {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// One column being filled for the next batch.
enum Builder {
    Int(Int64Builder),
    UInt(UInt64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Int => Builder::Int(Int64Builder::with_capacity(ROW_GROUP)),
            Kind::UInt => Builder::UInt(UInt64Builder::with_capacity(ROW_GROUP)),
            Kind::Float(_) => Builder::Float(Float64Builder::with_capacity(ROW_GROUP)),
            Kind::Text => Builder::Text(StringBuilder::new()),
        }
    }

    /// Append one cell; `Err` names what the cell is not.
    fn push(&mut self, cell: &str) -> Result<(), &'static str> {
        let empty = cell.is_empty();
        match self {
            Builder::Int(b) if empty => b.append_null(),
            Builder::Int(b) => b.append_value(cell.parse().map_err(|_| "a whole number")?),
            Builder::UInt(b) if empty => b.append_null(),
            Builder::UInt(b) => b.append_value(cell.parse().map_err(|_| "a whole number ≥ 0")?),
            Builder::Float(b) if empty => b.append_null(),
            Builder::Float(b) => b.append_value(cell.parse().map_err(|_| "a number")?),
            Builder::Text(b) if empty => b.append_null(),
            Builder::Text(b) => b.append_value(cell),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::UInt(b) => Arc::new(b.finish()),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
        }
    }
}

fn io_err(
    path: &Path,
    what: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        what: what.into(),
        source: io::Error::other(e),
    }
}

/// Write the Parquet file `dst` from the CSV file `src`, typing each column by `kind_of` its
/// header name (a column it does not know is text). Returns the data rows written.
pub fn write_from_csv(
    src: &Path,
    dst: &Path,
    kind_of: impl Fn(&str) -> Option<Kind>,
) -> Result<u64, OutputError> {
    let file = File::open(src).map_err(|e| OutputError {
        path: src.to_path_buf(),
        what: "cannot read back".into(),
        source: e,
    })?;
    let mut csv = csv::Reader::from_reader(BufReader::with_capacity(1 << 16, file));
    let header = csv
        .headers()
        .map_err(|e| io_err(src, "cannot read back", e))?
        .clone();
    let kinds: Vec<Kind> = header
        .iter()
        .map(|h| kind_of(h).unwrap_or(Kind::Text))
        .collect();
    let schema = Arc::new(Schema::new(
        header
            .iter()
            .zip(&kinds)
            .map(|(h, k)| Field::new(h, arrow_type(*k), true))
            .collect::<Vec<_>>(),
    ));
    let out = File::create(dst).map_err(|e| OutputError {
        path: dst.to_path_buf(),
        what: "cannot write".into(),
        source: e,
    })?;
    let mut w = ArrowWriter::try_new(out, schema.clone(), Some(properties()))
        .map_err(|e| io_err(dst, "cannot write", e))?;
    let mut builders: Vec<Builder> = kinds.iter().map(|k| Builder::new(*k)).collect();
    let mut record = csv::StringRecord::new();
    let (mut rows, mut in_batch) = (0u64, 0usize);
    let flush = |builders: &mut Vec<Builder>, w: &mut ArrowWriter<File>| {
        let columns: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| io_err(dst, "cannot write", e))?;
        w.write(&batch).map_err(|e| io_err(dst, "cannot write", e))
    };
    while csv
        .read_record(&mut record)
        .map_err(|e| io_err(src, "cannot read back", e))?
    {
        for ((cell, b), name) in record.iter().zip(&mut builders).zip(header.iter()) {
            b.push(cell).map_err(|what| OutputError {
                path: src.to_path_buf(),
                what: "cannot convert to Parquet".into(),
                source: io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "line {}, column `{name}`: the cell is not {what}",
                        record.position().map_or(0, |p| p.line())
                    ),
                ),
            })?;
        }
        rows += 1;
        in_batch += 1;
        if in_batch == ROW_GROUP {
            flush(&mut builders, &mut w)?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        flush(&mut builders, &mut w)?;
    }
    w.close().map_err(|e| io_err(dst, "cannot write", e))?;
    Ok(rows)
}

/// The data rows of a Parquet file, from its footer.
pub fn row_count(path: &Path) -> io::Result<u64> {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(File::open(path)?).map_err(io::Error::other)?;
    let rows = builder.metadata().file_metadata().num_rows();
    u64::try_from(rows).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))
}

/// A Parquet table read as the CSV bytes it was made from: the header, then each row with every
/// float formatted with its column's decimals, a null as an empty cell.
pub struct CsvFromParquet {
    batches: ParquetRecordBatchReader,
    /// Per column: its kind, from the file's type and (for floats) the column definitions.
    kinds: Vec<Kind>,
    buf: Vec<u8>,
    pos: usize,
}

impl CsvFromParquet {
    /// Open `path`, finding each float column's decimals through `kind_of` its name. The error
    /// says what is wrong with the file (never its contents).
    pub fn open(path: &Path, kind_of: impl Fn(&str) -> Option<Kind>) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| format!("not a readable Parquet file: {e}"))?;
        let schema = builder.schema().clone();
        let mut kinds = Vec::new();
        for f in schema.fields() {
            let name = f.name();
            let kind = match (f.data_type(), kind_of(name)) {
                (DataType::Int64, _) => Kind::Int,
                (DataType::UInt64, _) => Kind::UInt,
                (DataType::Utf8, _) => Kind::Text,
                (DataType::Float64, Some(k @ Kind::Float(_))) => k,
                (t, _) => return Err(format!("column `{name}` has an unexpected type {t}")),
            };
            kinds.push(kind);
        }
        let batches = builder
            .with_batch_size(8192)
            .build()
            .map_err(|e| format!("not a readable Parquet file: {e}"))?;
        let mut header = csv::Writer::from_writer(Vec::new());
        header
            .write_record(schema.fields().iter().map(|f| f.name().as_str()))
            .map_err(|e| e.to_string())?;
        let buf = header.into_inner().map_err(|e| e.to_string())?;
        Ok(CsvFromParquet {
            batches,
            kinds,
            buf,
            pos: 0,
        })
    }

    /// Format the next batch into `buf`; false at the end.
    fn fill(&mut self) -> io::Result<bool> {
        let Some(batch) = self.batches.next() else {
            return Ok(false);
        };
        let batch = batch.map_err(io::Error::other)?;
        self.buf.clear();
        self.pos = 0;
        let mut w = csv::Writer::from_writer(&mut self.buf);
        let mut record: Vec<String> = vec![String::new(); self.kinds.len()];
        for row in 0..batch.num_rows() {
            for (c, (kind, cell)) in self.kinds.iter().zip(&mut record).enumerate() {
                let col = batch.column(c);
                cell.clear();
                if col.is_null(row) {
                    continue;
                }
                *cell = match kind {
                    Kind::Int => col.as_primitive::<Int64Type>().value(row).to_string(),
                    Kind::UInt => col.as_primitive::<UInt64Type>().value(row).to_string(),
                    Kind::Float(d) => {
                        fmt_f64(col.as_primitive::<Float64Type>().value(row), *d as usize)
                    }
                    Kind::Text => col.as_string::<i32>().value(row).to_string(),
                };
            }
            w.write_record(&record).map_err(io::Error::other)?;
        }
        w.flush()?;
        Ok(true)
    }
}

impl Read for CsvFromParquet {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.buf.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over several row groups, with quoted cells, nulls of every kind and `inf`: the Parquet file
    /// has the types asked for, and reads back as the CSV's exact bytes.
    #[test]
    fn a_csv_turns_into_typed_row_groups_and_back_into_the_same_bytes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (src, dst) = (tmp.path().join("t.csv"), tmp.path().join("t.parquet"));
        let mut text = String::from("n,seed,x_ms,name\n");
        let rows = ROW_GROUP + 1234;
        for i in 0..rows {
            let n = if i % 7 == 0 {
                String::new()
            } else {
                (i as i64 - 5).to_string()
            };
            let x = match i % 5 {
                0 => String::new(),
                1 => "inf".to_string(),
                _ => format!("{:.4}", i as f64 / 3.0),
            };
            let name = match i % 3 {
                0 => String::new(),
                1 => "\"a,\"\"b\"\"\"".to_string(),
                _ => format!("web.{i}"),
            };
            text.push_str(&format!("{n},{},{x},{name}\n", u64::MAX - i as u64));
        }
        std::fs::write(&src, &text).expect("write");
        let kind = |c: &str| match c {
            "n" => Some(Kind::Int),
            "seed" => Some(Kind::UInt),
            "x_ms" => Some(Kind::Float(4)),
            _ => None,
        };
        assert_eq!(
            write_from_csv(&src, &dst, kind).expect("written"),
            rows as u64
        );
        assert_eq!(row_count(&dst).expect("footer"), rows as u64);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(File::open(&dst).expect("open")).expect("ok");
        assert_eq!(builder.metadata().num_row_groups(), 2);
        let types: Vec<DataType> = builder
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            [
                DataType::Int64,
                DataType::UInt64,
                DataType::Float64,
                DataType::Utf8
            ]
        );
        let mut back = Vec::new();
        CsvFromParquet::open(&dst, kind)
            .expect("opens")
            .read_to_end(&mut back)
            .expect("reads");
        assert!(
            back == text.as_bytes(),
            "the CSV text comes back byte for byte"
        );
    }

    #[test]
    fn a_cell_of_the_wrong_kind_is_an_error_naming_line_and_column() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (src, dst) = (tmp.path().join("t.csv"), tmp.path().join("t.parquet"));
        std::fs::write(&src, "n\n1\nsecret\n").expect("write");
        let e = write_from_csv(&src, &dst, |_| Some(Kind::Int))
            .expect_err("not a number")
            .to_string();
        assert!(e.contains("line 3") && e.contains("`n`"), "{e}");
        assert!(!e.contains("secret"), "never echoes the cell: {e}");
        let e = CsvFromParquet::open(&src, |_| None)
            .err()
            .expect("not Parquet");
        assert!(e.contains("not a readable Parquet file"), "{e}");
    }
}
