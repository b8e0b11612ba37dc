//! The discrete-event engine: simulated clock, event queue and random streams.
//!
//! This module knows nothing about dynos. A model implements [`Model`] and receives its own events
//! in (time, insertion order) sequence, as in DSLab's `simcore` or NeXosim; the engine owns the
//! clock so that no model can read wall-clock time, which keeps every run reproducible.

mod queue;
mod rng;
mod sim;
mod time;

pub use queue::EventQueue;
pub use rng::{RngStream, SeedTree, stable_hash};
pub use sim::{Control, Model, RunOutcome, Scheduler, Simulation};
pub use time::{SimDuration, SimTime};
