//! What a user should know about a valid scenario before running it: a scenario in which
//! nothing arrives, apps that get no traffic, processes offered more CPU than their cores have,
//! and runs that are very long or write a very large requests.csv. Shown by `check` and `run`
//! (on stderr) and kept in manifest.json. A warning repeated at every point of a large sweep
//! would bury everything else, so each kind lists at most [`LISTED_PER_KIND`] and then says how
//! many more there are.

use super::Point;
use super::size;

/// Warnings listed per kind; the rest are counted in one line.
pub const LISTED_PER_KIND: usize = 20;

/// Every warning for these points, run `replications` times, of the scenario `name`.
pub fn warnings(points: &[Point], replications: u32, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut idle = Capped::new("app(s) without traffic at other points");
    let mut overloaded = Capped::new("overloaded process(es) at other points");
    let no_workload = points
        .iter()
        .all(|p| p.config.apps.iter().all(|a| a.workload.is_none()));
    if no_workload {
        out.push(
            "no app has an [app.workload]: nothing arrives, so the run measures no requests"
                .to_string(),
        );
    }
    for p in points {
        let load = crate::model::offered_load(&p.config.apps);
        for (app, loads) in p.config.apps.iter().zip(&load) {
            if !no_workload && loads.iter().all(|l| l.requests_per_s() == 0.0) {
                idle.push(format!(
                    "app `{}`{} gets no traffic: it has no [app.workload] and no calls reach it, so its dynos only idle",
                    app.name,
                    at_point(p)
                ));
            }
            for (pr, l) in app.processes.iter().zip(loads) {
                let rho = l.utilization();
                if pr.count > 0 && rho >= 1.0 {
                    overloaded.push(format!(
                        "{}/{}{}: offered CPU load is {:.0}% of its cores; queues will grow until requests time out (H12)",
                        app.name,
                        pr.name,
                        at_point(p),
                        rho * 100.0
                    ));
                }
            }
        }
    }
    idle.append_to(&mut out);
    overloaded.append_to(&mut out);
    out.extend(size::size_warnings(&size::estimate(
        points,
        replications,
        name,
    )));
    out
}

/// Up to [`LISTED_PER_KIND`] warnings of one kind, and how many more there were.
struct Capped {
    listed: Vec<String>,
    more: usize,
    /// What the count of the rest is of: `12 {more_of}, not listed`.
    more_of: &'static str,
}

impl Capped {
    fn new(more_of: &'static str) -> Capped {
        Capped {
            listed: Vec::new(),
            more: 0,
            more_of,
        }
    }

    fn push(&mut self, w: String) {
        if self.listed.len() < LISTED_PER_KIND {
            self.listed.push(w);
        } else {
            self.more += 1;
        }
    }

    fn append_to(self, out: &mut Vec<String>) {
        out.extend(self.listed);
        if self.more > 0 {
            out.push(format!("{} more {}, not listed", self.more, self.more_of));
        }
    }
}

/// ` at point N` in a sweep; nothing without one.
fn at_point(p: &Point) -> String {
    if p.values.is_empty() {
        String::new()
    } else {
        format!(" at point {}", p.index)
    }
}
