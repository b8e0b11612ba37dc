//! Comparing the real and the simulated run from their `requests.csv` files: quantiles, mean,
//! relative errors, the KS distance on log latency, a paired ratio, the CDF points, and a
//! percentile-bootstrap confidence interval of each real statistic.
//!
//! With several real repetitions (`--repeat`) the real statistics are those of the pooled
//! requests, and the bootstrap resamples requests within each repetition (a stratified
//! bootstrap), so the interval covers both the finite sample and the run-to-run spread.

use crate::engine::SeedTree;
use crate::output::{OutputError, fmt_f64};
use crate::stats::{mean, quantile};
use std::collections::BTreeMap;
use std::path::Path;

/// Acceptance thresholds (interference.md section 5: |dp50| <= 10 %, |dp99| <= 25 %).
#[derive(Debug, Clone, Copy)]
pub struct Tolerances {
    /// Largest allowed |relative error| of p50.
    pub p50: f64,
    /// Largest allowed |relative error| of p99.
    pub p99: f64,
    /// Largest allowed KS distance on log latency, if checked.
    pub ks: Option<f64>,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            p50: 0.10,
            p99: 0.25,
            ks: None,
        }
    }
}

/// Completed latencies (ms) by request id, per (tier, size), read from one `requests.csv`.
pub type Samples = BTreeMap<(String, String), BTreeMap<u64, f64>>;

/// Maps (app, process) to (tier, size).
pub type TierOf<'a> = &'a dyn Fn(&str, &str) -> Option<(String, String)>;

/// Read the `ok` requests of `requests.csv`; `tier_of(app, process)` gives (tier, size).
pub fn read_requests(path: &Path, tier_of: TierOf<'_>) -> Result<Samples, String> {
    let mut rd = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rd
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no `{name}` column", path.display()))
    };
    let (c_id, c_app, c_proc, c_lat, c_status) = (
        col("request")?,
        col("app")?,
        col("process")?,
        col("latency_ms")?,
        col("status")?,
    );
    let mut out: Samples = BTreeMap::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        if rec.get(c_status) != Some("ok") {
            continue;
        }
        let (Some(id), Some(lat)) = (
            rec.get(c_id).and_then(|x| x.parse::<u64>().ok()),
            rec.get(c_lat).and_then(|x| x.parse::<f64>().ok()),
        ) else {
            continue;
        };
        let Some(key) = tier_of(rec.get(c_app).unwrap_or(""), rec.get(c_proc).unwrap_or("")) else {
            continue;
        };
        out.entry(key).or_default().insert(id, lat);
    }
    Ok(out)
}

/// Two-sample Kolmogorov-Smirnov distance of the logs of two samples (sorted, positive).
/// The log is monotone, so this equals the distance of the raw samples; it is named for what
/// it measures: a difference of shape on a log scale.
pub fn ks_log(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let la: Vec<f64> = a.iter().map(|x| x.max(1e-9).ln()).collect();
    let lb: Vec<f64> = b.iter().map(|x| x.max(1e-9).ln()).collect();
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < la.len() && j < lb.len() {
        let x = la[i].min(lb[j]);
        while i < la.len() && la[i] <= x {
            i += 1;
        }
        while j < lb.len() && lb[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / la.len() as f64 - j as f64 / lb.len() as f64).abs());
    }
    d
}

/// One row of comparison.csv.
#[derive(Debug, Clone)]
pub struct Row {
    /// Tier and size.
    pub tier: String,
    /// Size name.
    pub size: String,
    /// Completed requests, real and simulated.
    pub n_real: usize,
    /// Completed requests in the simulation.
    pub n_sim: usize,
    /// (p50, p90, p99, mean) real and simulated, ms.
    pub real: [f64; 4],
    /// Simulated.
    pub sim: [f64; 4],
    /// KS distance on log latency.
    pub ks: f64,
    /// Its 5 % critical value, 1.358 sqrt((n + m) / (n m)).
    pub ks_critical: f64,
    /// Median over requests completed in both runs of simulated / real latency.
    pub paired_median_ratio: f64,
    /// Real repetitions pooled.
    pub repetitions: usize,
    /// 95 % percentile-bootstrap interval of each real statistic (p50, p90, p99, mean), ms.
    pub real_ci: [(f64, f64); 4],
    /// Completed requests in the as-measured simulation(s), pooled.
    pub n_measured: usize,
    /// (p50, p90, p99, mean) of the as-measured simulation(s), ms.
    pub measured: [f64; 4],
    /// The as-measured verdict with its intervals (set by `validate`).
    pub judgement: Option<super::verdict::Judgement>,
    /// Within the tolerances: as compared here, point errors of the as-scheduled simulation;
    /// `validate` replaces it with the as-measured verdict being ok.
    pub pass: bool,
}

impl Row {
    /// Relative error (sim - real) / real of statistic `i` (p50, p90, p99, mean).
    pub fn error(&self, i: usize) -> f64 {
        (self.sim[i] - self.real[i]) / self.real[i]
    }

    /// Relative error (as measured - real) / real of statistic `i`.
    pub fn measured_error(&self, i: usize) -> f64 {
        (self.measured[i] - self.real[i]) / self.real[i]
    }

    /// The as-measured verdict's name (`ok`, `out`, `inconclusive`; empty if not judged).
    pub fn decision(&self) -> &'static str {
        self.judgement.as_ref().map_or("", |j| j.decision.as_str())
    }
}

/// (p50, p90, p99, mean) of sorted values.
pub fn stats(v: &[f64]) -> [f64; 4] {
    [
        quantile(v, 0.5),
        quantile(v, 0.9),
        quantile(v, 0.99),
        mean(v.iter().copied()),
    ]
}

/// Bootstrap resamples per interval.
pub const BOOTSTRAP: usize = 1000;

/// 95 % percentile-bootstrap intervals of (p50, p90, p99, mean) of the pooled `groups`,
/// resampling within each group; `seed` makes it deterministic.
pub fn bootstrap(groups: &[Vec<f64>], seed: u64) -> [(f64, f64); 4] {
    let n: usize = groups.iter().map(Vec::len).sum();
    if n == 0 {
        return [(f64::NAN, f64::NAN); 4];
    }
    let mut rng = SeedTree::new(seed).named("validate/bootstrap").stream();
    let mut draws: [Vec<f64>; 4] = Default::default();
    let mut buf = Vec::with_capacity(n);
    for _ in 0..BOOTSTRAP {
        buf.clear();
        for g in groups.iter().filter(|g| !g.is_empty()) {
            for _ in 0..g.len() {
                buf.push(g[rng.below(g.len() as u64) as usize]);
            }
        }
        buf.sort_by(f64::total_cmp);
        for (i, v) in stats(&buf).into_iter().enumerate() {
            draws[i].push(v);
        }
    }
    draws.map(|mut d| {
        d.sort_by(f64::total_cmp);
        (quantile(&d, 0.025), quantile(&d, 0.975))
    })
}

/// Compare the real sample sets (one per repetition) with the simulated one, tier by tier.
/// `seed` seeds the bootstrap.
pub fn compare(real: &[Samples], sim: &Samples, tol: &Tolerances, seed: u64) -> Vec<Row> {
    let keys: std::collections::BTreeSet<_> = real
        .iter()
        .flat_map(|r| r.keys())
        .chain(sim.keys())
        .cloned()
        .collect();
    keys.into_iter()
        .map(|k| {
            let empty = BTreeMap::new();
            let s = sim.get(&k).unwrap_or(&empty);
            let groups: Vec<Vec<f64>> = real
                .iter()
                .map(|r| {
                    r.get(&k)
                        .map(|m| m.values().copied().collect())
                        .unwrap_or_default()
                })
                .collect();
            let mut rv: Vec<f64> = groups.concat();
            let mut sv: Vec<f64> = s.values().copied().collect();
            rv.sort_by(f64::total_cmp);
            sv.sort_by(f64::total_cmp);
            let mut ratios: Vec<f64> = real
                .iter()
                .filter_map(|r| r.get(&k))
                .flat_map(|r| r.iter())
                .filter_map(|(id, x)| s.get(id).map(|y| y / x.max(1e-9)))
                .collect();
            ratios.sort_by(f64::total_cmp);
            let (n, m) = (rv.len() as f64, sv.len() as f64);
            let mut row = Row {
                tier: k.0.clone(),
                size: k.1.clone(),
                n_real: rv.len(),
                n_sim: sv.len(),
                real: stats(&rv),
                sim: stats(&sv),
                ks: ks_log(&rv, &sv),
                ks_critical: 1.358 * ((n + m) / (n * m)).sqrt(),
                paired_median_ratio: quantile(&ratios, 0.5),
                repetitions: real.len(),
                real_ci: bootstrap(&groups, seed),
                n_measured: 0,
                measured: [f64::NAN; 4],
                judgement: None,
                pass: false,
            };
            row.pass = row.error(0).abs() <= tol.p50
                && row.error(2).abs() <= tol.p99
                && tol.ks.is_none_or(|t| row.ks <= t);
            row
        })
        .collect()
}

/// A write error on `path`, for errors that are not `io::Error`s (csv).
pub(super) fn out_err(path: &Path, e: impl std::fmt::Display) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        what: "cannot write".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The columns of comparison.csv.
pub const COMPARISON_COLUMNS: &[&str] = &[
    "scenario",
    "tier",
    "size",
    "requests_real",
    "requests_sim",
    "p50_real_ms",
    "p50_sim_ms",
    "p50_error",
    "p90_real_ms",
    "p90_sim_ms",
    "p90_error",
    "p99_real_ms",
    "p99_sim_ms",
    "p99_error",
    "mean_real_ms",
    "mean_sim_ms",
    "mean_error",
    "ks_log",
    "ks_critical_05",
    "paired_median_ratio",
    "steal_fraction",
    "tolerance_p50",
    "tolerance_p99",
    "within_tolerance",
    "repetitions",
    "p50_real_ci_lo_ms",
    "p50_real_ci_hi_ms",
    "p90_real_ci_lo_ms",
    "p90_real_ci_hi_ms",
    "p99_real_ci_lo_ms",
    "p99_real_ci_hi_ms",
    "mean_real_ci_lo_ms",
    "mean_real_ci_hi_ms",
    "requests_measured",
    "p50_measured_ms",
    "p50_measured_error",
    "p50_measured_error_ci_lo",
    "p50_measured_error_ci_hi",
    "p99_measured_ms",
    "p99_measured_error",
    "p99_measured_error_ci_lo",
    "p99_measured_error_ci_hi",
    "mean_measured_ms",
    "mean_measured_error",
    "speed_achieved",
    "speed_spread",
    "steal_dyno_cpus",
    "other_cpu_fraction",
    "interference",
    "other_dynosim_cpu_fraction",
    "lost_capacity",
    "verdict",
];

/// Write comparison.csv.
pub fn write_comparison(
    path: &Path,
    scenario: &str,
    rows: &[Row],
    steal: f64,
    host: &super::host::HostLoad,
    tol: &Tolerances,
) -> Result<(), OutputError> {
    let mut w = csv::Writer::from_path(path).map_err(|e| out_err(path, e))?;
    w.write_record(COMPARISON_COLUMNS)
        .map_err(|e| out_err(path, e))?;
    for r in rows {
        let mut rec = vec![
            scenario.to_string(),
            r.tier.clone(),
            r.size.clone(),
            r.n_real.to_string(),
            r.n_sim.to_string(),
        ];
        for i in [0, 1, 2, 3] {
            rec.push(fmt_f64(r.real[i], 4));
            rec.push(fmt_f64(r.sim[i], 4));
            rec.push(fmt_f64(r.error(i), 4));
        }
        rec.extend([
            fmt_f64(r.ks, 4),
            fmt_f64(r.ks_critical, 4),
            fmt_f64(r.paired_median_ratio, 4),
            fmt_f64(steal, 4),
            fmt_f64(tol.p50, 4),
            fmt_f64(tol.p99, 4),
            r.pass.to_string(),
            r.repetitions.to_string(),
        ]);
        for (lo, hi) in r.real_ci {
            rec.push(fmt_f64(lo, 4));
            rec.push(fmt_f64(hi, 4));
        }
        rec.push(r.n_measured.to_string());
        for (i, q) in [(0, 0), (2, 1)] {
            rec.push(fmt_f64(r.measured[i], 4));
            rec.push(fmt_f64(r.measured_error(i), 4));
            let ci = r.judgement.as_ref().map(|j| j.errors[q]);
            rec.push(ci.map_or(String::new(), |c| fmt_f64(c.lo, 4)));
            rec.push(ci.map_or(String::new(), |c| fmt_f64(c.hi, 4)));
        }
        rec.extend([
            fmt_f64(r.measured[3], 4),
            fmt_f64(r.measured_error(3), 4),
            fmt_f64(host.speed, 4),
            fmt_f64(host.speed_spread, 4),
            fmt_f64(host.steal_dyno_cpus, 4),
            fmt_f64(host.other_cpu, 4),
            fmt_f64(host.interference, 4),
            fmt_f64(host.rivals, 4),
            fmt_f64(host.lost_capacity(), 4),
            r.decision().to_string(),
        ]);
        w.write_record(&rec).map_err(|e| out_err(path, e))?;
    }
    w.flush().map_err(|e| out_err(path, e))
}

/// Write cdf.csv: for each tier, size and run, the latency at quantiles 0.005 to 0.995 (step
/// 0.005) and 0.999: the points of a CDF overlay.
pub fn write_cdf(
    path: &Path,
    scenario: &str,
    real: &[Samples],
    sim: &Samples,
) -> Result<(), OutputError> {
    let real = pool(real);
    let real = &real;
    let mut w = csv::Writer::from_path(path).map_err(|e| out_err(path, e))?;
    w.write_record(["scenario", "tier", "size", "run", "quantile", "latency_ms"])
        .map_err(|e| out_err(path, e))?;
    let mut qs: Vec<f64> = (1..=199).map(|i| f64::from(i) * 0.005).collect();
    qs.push(0.999);
    for (run, samples) in [("real", real), ("sim", sim)] {
        for ((tier, size), m) in samples {
            let mut v: Vec<f64> = m.values().copied().collect();
            v.sort_by(f64::total_cmp);
            for q in &qs {
                w.write_record([
                    scenario.to_string(),
                    tier.clone(),
                    size.clone(),
                    run.to_string(),
                    fmt_f64(*q, 3),
                    fmt_f64(quantile(&v, *q), 4),
                ])
                .map_err(|e| out_err(path, e))?;
            }
        }
    }
    w.flush().map_err(|e| out_err(path, e))
}

/// The repetitions' samples as one set (request ids made distinct per repetition).
pub fn pool(reps: &[Samples]) -> Samples {
    if reps.len() == 1 {
        return reps[0].clone();
    }
    let mut out: Samples = BTreeMap::new();
    for (k, r) in reps.iter().enumerate() {
        for (key, m) in r {
            let e = out.entry(key.clone()).or_default();
            for (id, v) in m {
                e.insert(((k as u64) << 40) | id, *v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distances() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(ks_log(&v, &v), 0.0);
        let w: Vec<f64> = (101..=200).map(f64::from).collect();
        assert_eq!(ks_log(&v, &w), 1.0);
        let half: Vec<f64> = (51..=150).map(f64::from).collect();
        assert!((ks_log(&v, &half) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_statistic() {
        let g: Vec<f64> = (1..=400).map(|i| f64::from(i) * 0.5).collect();
        let a = bootstrap(std::slice::from_ref(&g), 7);
        assert_eq!(a, bootstrap(std::slice::from_ref(&g), 7));
        let s = stats(&g);
        for i in 0..4 {
            assert!(
                a[i].0 <= s[i] && s[i] <= a[i].1,
                "{i}: {:?} vs {}",
                a[i],
                s[i]
            );
            assert!(a[i].1 - a[i].0 > 0.0);
        }
        // Two copies of the sample: a narrower interval around the same values.
        let b = bootstrap(&[g.clone(), g.clone()], 7);
        assert!(b[0].1 - b[0].0 < a[0].1 - a[0].0);
    }
}
