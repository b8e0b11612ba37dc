//! Output files: tidy CSVs and a JSON manifest, written into a staging folder that replaces the
//! previous results only once everything is written.

mod atomic;
pub mod merge;
pub mod plot;
mod tables;

pub use atomic::{OutputError, StagingDir};
pub use tables::{
    JobCsv, JobRows, Streams, Tables, TierPart, catalog_csv, catalog_json, catalog_table, fmt_f64,
    tier_parts, write_atomic, write_tier_parts, write_tiers,
};
