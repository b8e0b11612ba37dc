//! Output files: tidy CSVs and a JSON manifest, written into a staging folder that replaces the
//! previous results only once everything is written.

mod atomic;
mod tables;

pub use atomic::{OutputError, StagingDir};
pub use tables::{
    JobRows, RequestCsv, Tables, catalog_csv, catalog_json, catalog_table, fmt_f64, write_atomic,
    write_tiers,
};
