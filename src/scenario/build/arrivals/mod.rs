//! `arrivals`: how requests arrive at an app's router. The table names one arrival process by
//! its key (`{ poisson = 50.0 }`); each process is a file here with its [`ArrivalKind`].
//!
//! A new arrival process is a new file with `pub(super) const KIND: ArrivalKind` and one entry
//! in [`KINDS`]; keys every arrivals table takes (`scale`) are read here, after the kind's own.
//! Bursts (`[[app.workload.burst]]`) sit beside `arrivals` in the workload and wrap whatever it
//! built ([`burst`]).

mod burst;
mod diurnal;
mod interval;
mod mmpp;
mod poisson;
mod stages;
pub(super) mod trace;

use super::Ctx;
use crate::model::Arrivals;
use crate::scenario::error::{KeyPath, ScenarioError};
use toml::Value;

/// One arrival process: the key that names it and how its value is checked and built.
pub(super) struct ArrivalKind {
    pub key: &'static str,
    /// The other keys of its table (`repeat` for `stages`), besides `scale`.
    pub extra: &'static [&'static str],
    /// How the value is written, for messages: `{ poisson = <requests per second> }`.
    pub shape: &'static str,
    /// Build from the arrivals table at `path` (which holds the kind's own key).
    pub build: fn(&Ctx<'_>, &KeyPath, &toml::Table) -> Result<Arrivals, ScenarioError>,
}

/// Every arrival process, in the order messages list them.
const KINDS: &[ArrivalKind] = &[
    poisson::KIND,
    interval::KIND,
    stages::KIND,
    diurnal::KIND,
    mmpp::KIND,
    trace::KIND,
];

/// The highest rate one app's router takes, requests/s.
pub(super) const MAX_RATE: f64 = 1e6;

impl Ctx<'_> {
    pub(super) fn arrivals(&self, path: &KeyPath, v: &Value) -> Result<Arrivals, ScenarioError> {
        let t = self.table(
            path,
            v,
            "a table such as { poisson = 50.0 } or { interval = \"1s\" }",
        )?;
        let mut given = KINDS.iter().filter(|k| t.contains_key(k.key));
        match (given.next(), given.next()) {
            (Some(kind), None) => {
                let mut keys = vec![kind.key, "scale"];
                keys.extend(kind.extra);
                self.known_keys(path, t, &keys)?;
                let built = (kind.build)(self, path, t)?;
                self.scale(path, t, built)
            }
            (None, _) => {
                // A misspelt kind gets its did-you-mean hint.
                let mut keys: Vec<&str> = KINDS.iter().map(|k| k.key).collect();
                keys.push("scale");
                keys.extend(KINDS.iter().flat_map(|k| k.extra.iter().copied()));
                self.known_keys(path, t, &keys)?;
                Err(self.exactly_one(path))
            }
            _ => Err(self.exactly_one(path)),
        }
    }

    fn exactly_one(&self, path: &KeyPath) -> ScenarioError {
        {
            let shapes: Vec<&str> = KINDS.iter().map(|k| k.shape).collect();
            self.err(
                path,
                format!("expected exactly one of {}", list_or(&shapes)),
            )
        }
    }
}

impl Ctx<'_> {
    /// `scale = X`: every rate of `built` times `X` (a trace cannot be scaled).
    fn scale(
        &self,
        path: &KeyPath,
        t: &toml::Table,
        built: Arrivals,
    ) -> Result<Arrivals, ScenarioError> {
        let Some(v) = t.get("scale") else {
            return Ok(built);
        };
        let p = path.key("scale");
        let f = self.number(&p, v)?;
        if f <= 0.0 || f > MAX_RATE {
            return Err(self.err(
                &p,
                format!("a rate multiplier must be above 0 and at most 1e6, found {f}"),
            ));
        }
        if matches!(built, Arrivals::Trace(_)) {
            return Err(self.err(
                &p,
                "a trace replays its timestamps exactly and cannot be scaled; write the trace you want, or use a rate shape (stages, diurnal, ...)",
            ));
        }
        if let Arrivals::Poisson { rate } = built.scaled(f)
            && rate > MAX_RATE
        {
            return Err(self.err(
                &p,
                format!("the scaled rate {rate} requests/s is beyond what one app's router takes; at most 1e6"),
            ));
        }
        Ok(built.scaled(f))
    }
}

/// `a`, `a or b`, `a, b or c`.
fn list_or(items: &[&str]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}
