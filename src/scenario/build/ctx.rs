//! The context every section is built in: where errors point (the file's [`Locator`]), where
//! relative paths resolve, and which values a sweep point replaced.

use crate::scenario::error::{KeyPath, Locator, ScenarioError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A value replaced by a sweep point, so errors about it point at the `[sweep]` entry.
#[derive(Debug, Clone)]
pub struct Override {
    /// Where the value lives in the scenario (index form).
    pub target: KeyPath,
    /// The sweep entry that set it (`sweep."<key>"` or `sweep.together[i]`).
    pub entry: KeyPath,
    pub shown: String,
}

/// Passed to every section's `build_*` function.
pub struct Ctx<'a> {
    pub loc: &'a Locator<'a>,
    pub base_dir: &'a Path,
    pub overrides: &'a [Override],
    /// Trace columns already read, shared by the sweep points of one scenario.
    pub traces: &'a TraceCache,
}

/// `empirical` columns by (resolved file, column, unit): each file is read once per scenario.
pub type TraceCache = RefCell<HashMap<(PathBuf, String, String), Arc<[f64]>>>;

impl Ctx<'_> {
    /// An error about the value at `path`, redirected to the sweep entry if a sweep set it.
    pub fn err(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        let message = message.into();
        for o in self.overrides {
            if path.0.starts_with(&o.target.0) {
                let sweep_path = o.entry.clone();
                let mut e = self.loc.error_at(
                    &sweep_path,
                    format!("at sweep value {} for `{}`: {message}", o.shown, path),
                );
                e.key = sweep_path;
                return e;
            }
        }
        self.loc.error_at(path, message)
    }
}
