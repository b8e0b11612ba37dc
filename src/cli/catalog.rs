//! `dynosim catalog`: the built-in dyno sizes, as a table, CSV or JSON.

use super::{CliError, Exit};
use crate::model::Catalog;
use crate::output::{catalog_csv, catalog_json, catalog_table};
use clap::{Args, ValueEnum};

/// Flags of `dynosim catalog`.
#[derive(Debug, Clone, Args)]
pub struct CatalogArgs {
    /// How to print the sizes: a table to read, or CSV or JSON (every field) to process.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns to read: size, tier, memory, vCPUs (* marks an assumption), CPU share,
    /// host, price, R15 factor, dynos per process, sleep, preboot.
    Table,
    /// One row per size under a header, every field (sources and assumptions included).
    Csv,
    /// An array of objects, one per size, every field.
    Json,
}

pub fn run(args: &CatalogArgs) -> Result<Exit, CliError> {
    let catalog = Catalog::builtin();
    match args.format {
        Format::Table => print!("{}", catalog_table(&catalog)),
        Format::Json => println!("{}", catalog_json(&catalog)),
        Format::Csv => print!(
            "{}",
            catalog_csv(&catalog).map_err(|e| CliError::Failed(e.to_string()))?
        ),
    }
    Ok(Exit::Success)
}
