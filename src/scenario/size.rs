//! How much work a scenario asks for. A scenario is a small file that can ask for a huge job:
//! `replications = 100000000` or a sweep of four 1,000-value keys (10^12 points) used to pass
//! validation and then abort allocating the job list. The job count is checked against
//! [`MAX_JOBS`] from the sweep's axis lengths alone, before any point or job exists, and the
//! error names the key to change. Below the limit, a run can still be very long or write a very
//! large requests.csv: [`size_warnings`] estimates both from the offered load, so nobody fills
//! a disk by surprise.

use super::Point;
use super::error::{KeyPath, Locator, ScenarioError};

/// The most jobs (sweep points x replications) one scenario may expand to.
pub const MAX_JOBS: u64 = 100_000;

/// Simulated requests (over all jobs) from which a run is worth a warning: about ten minutes of
/// simulation at the ~1.6 M requests/s one core reaches (benches/README.md).
pub const LARGE_RUN_REQUESTS: f64 = 1e9;

/// The requests.csv size from which `--requests` is worth a warning, in bytes.
pub const LARGE_REQUESTS_CSV_BYTES: f64 = 1e9;

/// Points of the grid whose axes have these lengths; `None` past `u64`.
pub fn grid_points(lengths: impl IntoIterator<Item = usize>) -> Option<u64> {
    lengths
        .into_iter()
        .try_fold(1u64, |n, len| n.checked_mul(len as u64))
}

/// Refuse a scenario of more than [`MAX_JOBS`] jobs. `axes` are the swept keys with their number
/// of values (empty without a sweep). Blames the `[sweep]` table when its points alone are too
/// many, else `replications`.
pub fn check_job_count(
    loc: &Locator<'_>,
    axes: &[(&str, usize)],
    replications: u32,
) -> Result<(), ScenarioError> {
    let points = grid_points(axes.iter().map(|a| a.1));
    let limit = format!(
        "a run holds at most {} jobs (docs/scenario.md#limits)",
        thousands(MAX_JOBS)
    );
    if points.is_none_or(|p| p > MAX_JOBS) {
        let lengths: Vec<String> = axes.iter().map(|a| a.1.to_string()).collect();
        let count = points.map_or_else(|| "more than 2^64".to_string(), thousands);
        let sweep = KeyPath::root().key("sweep");
        let mut e = loc.error_at(
            &sweep,
            format!(
                "the sweep's values ({}) make {count} points; {limit}: sweep fewer values, or split the sweep into several scenarios",
                lengths.join(" x ")
            ),
        );
        e.key = sweep;
        return Err(e);
    }
    let points = points.unwrap_or(1);
    let jobs = points.saturating_mul(u64::from(replications));
    if jobs > MAX_JOBS {
        let what = if points > 1 {
            format!(
                "{} points x {} replications = {} jobs",
                thousands(points),
                thousands(u64::from(replications)),
                thousands(jobs)
            )
        } else {
            format!(
                "{} replications are {} jobs",
                thousands(u64::from(replications)),
                thousands(jobs)
            )
        };
        return Err(loc.error_at(
            &KeyPath::root().key("replications"),
            format!("{what}; {limit}: lower `replications` (or --replications)"),
        ));
    }
    Ok(())
}

/// Requests simulated, and requests.csv rows and bytes, estimated from the offered load.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SizeEstimate {
    /// Requests and calls over every job, warmup included.
    pub simulated: f64,
    /// Rows of requests.csv (requests and calls that arrive after the warmup).
    pub rows: f64,
    pub csv_bytes: f64,
}

/// What every requests.csv row holds besides the names: numbers and separators, from the
/// bundled scenarios' files (e.g. quickstart: 126 bytes a row, 10 of them the scenario's name).
const ROW_BYTES_BESIDES_NAMES: f64 = 95.0;

/// The estimate for `points` run `replications` times each, for the scenario `name`.
pub fn estimate(points: &[Point], replications: u32, name: &str) -> SizeEstimate {
    let mut e = SizeEstimate::default();
    for p in points {
        let c = &p.config;
        let run_s = c.duration.as_secs_f64();
        let counted_s = (c.duration.as_secs_f64() - c.warmup.as_secs_f64()).max(0.0);
        let load = crate::model::offered_load(&c.apps);
        for (app, loads) in c.apps.iter().zip(&load) {
            for (pr, l) in app.processes.iter().zip(loads) {
                let rate = l.requests_per_s() * f64::from(replications);
                // The process's name is in the row twice: as `process` and in the dyno's name.
                let row = ROW_BYTES_BESIDES_NAMES
                    + (name.len() + app.name.len() + 2 * pr.name.len()) as f64;
                e.simulated += rate * run_s;
                e.rows += rate * counted_s;
                e.csv_bytes += rate * counted_s * row;
            }
        }
    }
    e
}

/// Warnings for a run that is very long or whose requests.csv is very large.
pub fn size_warnings(e: &SizeEstimate) -> Vec<String> {
    let mut out = Vec::new();
    if e.simulated >= LARGE_RUN_REQUESTS {
        out.push(format!(
            "about {} requests will be simulated over all jobs; the run will take long (about 1.6 million requests/s per core)",
            count(e.simulated)
        ));
    }
    if e.csv_bytes >= LARGE_REQUESTS_CSV_BYTES {
        out.push(format!(
            "with --requests: about {} of requests.csv ({} rows)",
            bytes(e.csv_bytes),
            count(e.rows)
        ));
    }
    out
}

/// `100,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2.4 billion`, `60.0 million`, `12,000`.
fn count(n: f64) -> String {
    if n >= 1e12 {
        format!("{:.1} trillion", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.1} billion", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} million", n / 1e6)
    } else {
        thousands(n.round() as u64)
    }
}

/// `7.8 GB`, `1.2 TB` (decimal units, as `df -H` shows).
fn bytes(n: f64) -> String {
    if n >= 1e12 {
        format!("{:.1} TB", n / 1e12)
    } else if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else {
        format!("{:.0} MB", n / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_points_multiply_and_overflow_to_none() {
        assert_eq!(grid_points([]), Some(1));
        assert_eq!(grid_points([3, 2]), Some(6));
        assert_eq!(grid_points([1000; 4]), Some(1_000_000_000_000));
        assert_eq!(grid_points([1 << 20; 4]), None);
        assert_eq!(grid_points([5, 0]), Some(0));
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000_000_000), "1,000,000,000,000");
        assert_eq!(count(2.44e9), "2.4 billion");
        assert_eq!(count(6e7), "60.0 million");
        assert_eq!(count(12_000.4), "12,000");
        assert_eq!(bytes(7.8e9), "7.8 GB");
        assert_eq!(bytes(1.25e12), "1.2 TB");
    }

    #[test]
    fn warnings_start_at_their_thresholds() {
        let small = SizeEstimate {
            simulated: 1e8,
            rows: 1e6,
            csv_bytes: 1.2e8,
        };
        assert!(size_warnings(&small).is_empty());
        let big = SizeEstimate {
            simulated: 2e9,
            rows: 6e7,
            csv_bytes: 7.8e9,
        };
        let w = size_warnings(&big);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("about 2.0 billion requests"), "{}", w[0]);
        assert_eq!(
            w[1],
            "with --requests: about 7.8 GB of requests.csv (60.0 million rows)"
        );
    }
}
