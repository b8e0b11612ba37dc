//! Which formats an output folder's tables are written in (`--format csv|parquet|both`).
//!
//! The CSV writers stay the one producer of every table: a run, a merge and a plan write their
//! CSVs as before (byte for byte), and [`export`] then adds `<table>.parquet` beside each
//! (typed from the column definitions, see [`super::parquet`]), and with `parquet` alone removes
//! the CSVs, before the manifest records what the folder holds. So `--format csv`, the default,
//! changes nothing and costs nothing, and the Parquet files cannot disagree with the CSVs.

use super::atomic::OutputError;
use super::columns::{Kind, kinds_of};
use super::folder::Table;
use std::path::Path;

/// The formats of a folder's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// CSV files only (docs/csv.md).
    #[default]
    Csv,
    /// Parquet files only: `<table>.parquet`, same columns, typed.
    Parquet,
    /// Both, side by side.
    Both,
}

impl Format {
    /// Whether the CSV files stay.
    pub fn csv(self) -> bool {
        matches!(self, Format::Csv | Format::Both)
    }

    /// Whether Parquet files are written.
    pub fn parquet(self) -> bool {
        matches!(self, Format::Parquet | Format::Both)
    }

    /// The format of a folder that holds CSV files (`csv`), Parquet files (`parquet`) or both.
    pub fn of_files(csv: bool, parquet: bool) -> Format {
        match (csv, parquet) {
            (false, true) => Format::Parquet,
            (true, true) => Format::Both,
            _ => Format::Csv,
        }
    }
}

/// The kind of column `name` of `table`; sweep keys (not in the definitions) are text.
pub fn kind_in(table: Table, name: &str) -> Option<Kind> {
    kinds_of(table)
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, k)| k)
}

/// Convert the CSV file `dir/<csv_file>` as `format` asks: write its Parquet copy
/// `dir/<parquet_file>` (columns typed by `kind_of`), and remove the CSV if only Parquet is asked
/// for. Nothing happens for `csv`, or when the CSV file is not there.
pub fn export_file(
    dir: &Path,
    csv_file: &str,
    parquet_file: &str,
    format: Format,
    kind_of: impl Fn(&str) -> Option<Kind>,
) -> Result<(), OutputError> {
    let csv = dir.join(csv_file);
    if !format.parquet() || !csv.exists() {
        return Ok(());
    }
    super::parquet::write_from_csv(&csv, &dir.join(parquet_file), kind_of)?;
    if !format.csv() {
        std::fs::remove_file(&csv).map_err(|e| OutputError {
            path: csv.clone(),
            what: "cannot remove".into(),
            source: e,
        })?;
    }
    Ok(())
}

/// Every table of the folder `dir` in `format` (see [`export_file`]).
pub fn export(dir: &Path, format: Format) -> Result<(), OutputError> {
    for table in Table::ALL {
        export_file(dir, table.file(), table.parquet_file(), format, |name| {
            kind_in(table, name)
        })?;
    }
    Ok(())
}
