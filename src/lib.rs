//! dynosim: a discrete-event simulator of Heroku-style dyno tiers.
//!
//! Layers, each knowing only the ones above it in this list:
//! - [`engine`]: clock, event queue and random streams; knows nothing of dynos.
//! - [`model`]: the platform (catalog, dynos, router, workload); knows nothing of files or the CLI.
//! - [`scenario`]: reads and validates scenario files into model configurations and jobs.
//! - [`output`]: writes CSV files and the manifest, atomically.
//! - [`run`]: runs jobs in parallel and hands results to the output layer.
//! - [`shard`]: which slice of the jobs a cluster task runs (`--shard`, Slurm, Kubernetes).
//! - [`exec`]: the real executor (`dynosim jail`): runs processes as sandboxed dynos, so the model
//!   can be checked against a real kernel. Independent of the simulation layers.
//! - [`validate`]: `dynosim validate` and `dynosim calibrate`: a scenario run on real dynos (the
//!   executor) and in the simulator, compared.

pub mod engine;
pub mod exec;
pub mod model;
pub mod output;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod validate;
