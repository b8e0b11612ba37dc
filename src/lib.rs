//! dynosim: a discrete-event simulator of Heroku-style dyno tiers.
//!
//! Layers, each knowing only the ones above it in this list:
//! - [`engine`]: clock, event queue and random streams; knows nothing of dynos.
//! - [`model`]: the platform (catalog, dynos, router, workload); knows nothing of files or the CLI.
//! - [`scenario`]: reads and validates scenario files into model configurations and jobs.
//! - [`interrupt`]: SIGINT, SIGTERM and SIGHUP as a stop request that runs and writers check.
//! - [`output`]: writes CSV files and the manifest, atomically.
//! - [`run`]: runs jobs in parallel and hands results to the output layer.
//! - [`stats`]: sample statistics (quantiles, median, mean) with one definition each.
//! - [`shard`]: which slice of the jobs a cluster task runs (`--shard`, Slurm, Kubernetes).
//! - [`exec`]: the real executor (`dynosim jail`): runs processes as sandboxed dynos, so the model
//!   can be checked against a real kernel. Independent of the simulation layers.
//! - [`validate`]: `dynosim validate` and `dynosim calibrate`: a scenario run on real dynos (the
//!   executor) and in the simulator, compared.
//! - [`import`]: `dynosim import heroku-router`: router logs into a scenario folder (reads
//!   logs, writes through [`output`]'s staging folder, checks the result with [`scenario`]).
//! - [`cli`]: the command line over all of the above: one module per subcommand, one exit-code
//!   policy ([`cli::Exit`]); the binary is a single call to [`cli::main`].

pub mod cli;
pub mod engine;
pub mod exec;
pub mod import;
pub mod interrupt;
pub mod model;
pub mod output;
pub mod plan;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod stats;
pub mod validate;
