//! Output files: tidy CSVs and a JSON manifest, written into a staging folder that replaces the
//! previous results only once everything is written.
//!
//! - [`folder`]: the files of an output folder, and which existing folders may be replaced;
//! - `atomic`'s [`StagingDir`]: the staging folder, its locks and the atomic commit;
//! - [`manifest`]: manifest.json as a typed struct, with each data file's rows and hash;
//! - [`rows`]: the typed CSV reader and one row struct per table;
//! - `columns`: every table's columns, each defined once (name and cell);
//! - `tables`: the CSV writers (docs/csv.md describes every column); `catalog`: the catalog
//!   listings;
//! - [`format`]: `--format csv|parquet|both`, the Parquet copies made from the finished CSVs;
//!   [`parquet`]: writing them (typed by each column's `Kind`) and reading them back as CSV;
//! - [`merge`]: shard folders into one; [`plot`]: the figures, drawn from the CSVs (or the
//!   Parquet files, read back as CSV).

mod atomic;
mod catalog;
mod columns;
pub mod folder;
pub mod format;
pub mod manifest;
pub mod merge;
pub mod parquet;
pub mod plot;
pub mod rows;
mod tables;

pub use atomic::{OutputError, Refused, StagingDir};
pub use catalog::{catalog_csv, catalog_json, catalog_table};
pub use columns::{Kind, columns_of, fmt_f64, kinds_of};
pub use folder::{MANIFEST_FILE, TIER_PARTS_FILE, Table};
pub use manifest::Manifest;
pub use tables::{
    JobCsv, JobRows, Streams, Tables, TierPart, tier_parts, write_atomic, write_tier_parts,
    write_tiers,
};
