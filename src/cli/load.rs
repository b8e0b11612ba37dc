//! Loading the scenarios named on the command line, shared by `run` and `check`: each file
//! parsed and validated, the flags' overrides applied and re-checked, names unique.

use crate::scenario::{KeyPath, Scenario, ScenarioError};
use std::collections::HashSet;
use std::path::PathBuf;

/// Load every scenario; the first bad one is the error (nothing has been written yet).
pub fn load_all(
    paths: &[PathBuf],
    seed: Option<u64>,
    replications: Option<u32>,
) -> Result<Vec<Scenario>, ScenarioError> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for p in paths {
        let mut s = Scenario::load(p)?;
        if let Some(seed) = seed {
            s.seed = seed;
        }
        if let Some(r) = replications {
            s.replications = r;
        }
        if seed.is_some() || replications.is_some() {
            s.check_placement()?;
        }
        if !names.insert(s.name.clone()) {
            return Err(ScenarioError {
                file: s.file.clone(),
                line: None,
                column: None,
                key: KeyPath::root().key("name"),
                message: format!(
                    "another scenario in this run is also named `{}`; their outputs would collide",
                    s.name
                ),
            });
        }
        out.push(s);
    }
    Ok(out)
}
