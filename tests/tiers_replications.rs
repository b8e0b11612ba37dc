//! One definition of a formation's quantile across replications (issue 21.4): tiers.csv's
//! `p50_ms`/`p95_ms`/`p99_ms` are the means of the per-replication quantiles in summary.csv,
//! their intervals are Student-t intervals recomputed here from those values, `dynosim plan`
//! reports the same estimate and interval for the same formation and seeds, and the cost column
//! is the list price times the dyno count.

mod cli_support;

use cli_support::ok;
use std::path::Path;

const SHOP: &str = r#"name = "tiers-shop"
seed = 5
duration = "60s"
warmup = "10s"
replications = 4
common_random_numbers = true

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-2x"
count = 3

[app.workload]
arrivals = { poisson = 60.0 }
cpu = { exponential = "30ms" }
"#;

/// Rows of a CSV as (header -> cell) maps.
fn read(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut rd = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h: Vec<String> = rd
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    rd.records()
        .map(|r| {
            let r = r.expect("record");
            h.iter().cloned().zip(r.iter().map(String::from)).collect()
        })
        .collect()
}

fn num(row: &std::collections::HashMap<String, String>, col: &str) -> f64 {
    row.get(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .parse()
        .unwrap_or_else(|e| panic!("{col}: {e}"))
}

/// `dynosim run` of `text` in `dir`: the scenario's path and the output folder.
fn run(dir: &Path, text: &str, out: &str) -> (String, std::path::PathBuf) {
    let scen = dir.join("shop.toml");
    std::fs::write(&scen, text).expect("write");
    let out = dir.join(out);
    ok(&[
        "run",
        &scen.display().to_string(),
        "--out",
        &out.display().to_string(),
    ]);
    (scen.display().to_string(), out)
}

/// Student's t two-sided 95 % quantile for 3 degrees of freedom (tables: 3.182446).
const T_975_3: f64 = 3.182_446;

#[test]
fn tiers_csv_is_the_mean_of_replications_with_its_t_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, out) = run(dir.path(), SHOP, "out");
    let summary = read(&out.join("summary.csv"));
    assert_eq!(summary.len(), 4, "one row per replication");
    let tiers = read(&out.join("tiers.csv"));
    assert_eq!(tiers.len(), 1);
    let t = &tiers[0];
    assert_eq!(t["replications"], "4");
    for q in ["p50", "p95", "p99"] {
        let v: Vec<f64> = summary.iter().map(|r| num(r, &format!("{q}_ms"))).collect();
        let mean = v.iter().sum::<f64>() / 4.0;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        let half = T_975_3 * sd / 2.0;
        // summary.csv rounds each value to 0.1 µs; the mean of four inherits that.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-3 + 1e-6 * b.abs();
        let got = num(t, &format!("{q}_ms"));
        assert!(
            close(got, mean),
            "{q}: tiers {got} vs mean of replications {mean} ({v:?})"
        );
        let (lo, hi) = (
            num(t, &format!("{q}_low_ms")),
            num(t, &format!("{q}_high_ms")),
        );
        assert!(
            close(lo, mean - half) && close(hi, mean + half),
            "{q}: [{lo}, {hi}] vs {mean} ± {half}"
        );
        assert!(half > 0.0, "replications differ, so the interval has width");
    }
    // Four replications of the same three dynos: the cost is theirs, not four times theirs.
    assert_eq!(t["cost_usd_month"], summary[0]["cost_usd_month"]);
    assert!(
        (num(t, "cost_usd_month") - 3.0 * 50.0).abs() < 1e-9,
        "3 x standard-2x at $50"
    );
}

#[test]
fn one_replication_has_its_own_quantiles_and_no_interval() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, out) = run(
        dir.path(),
        &SHOP.replace("replications = 4", "replications = 1"),
        "out",
    );
    let s = &read(&out.join("summary.csv"))[0];
    let t = &read(&out.join("tiers.csv"))[0];
    for q in ["p50", "p95", "p99"] {
        assert_eq!(t[&format!("{q}_ms")], s[&format!("{q}_ms")], "{q}");
        assert_eq!(
            t[&format!("{q}_low_ms")],
            "",
            "{q}: no interval from one replication"
        );
        assert_eq!(t[&format!("{q}_high_ms")], "");
    }
}

#[test]
fn plan_reports_the_same_estimate_and_interval_as_tiers_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (scen, run_out) = run(dir.path(), SHOP, "run");
    let t = &read(&run_out.join("tiers.csv"))[0];
    let plan_out = dir.path().join("plan");
    ok(&[
        "plan",
        &scen,
        "--slo",
        "p95<=10s",
        "--sizes",
        "standard-2x",
        "--counts",
        "3..3",
        "--min-replications",
        "4",
        "--max-replications",
        "4",
        "--out",
        &plan_out.display().to_string(),
    ]);
    let plan = read(&plan_out.join("plan.csv"));
    let row = plan
        .iter()
        .find(|r| r["size"] == "standard-2x" && r["count"] == "3")
        .expect("the candidate is in plan.csv");
    assert_eq!(row["replications"], "4");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-3 + 1e-6 * b.abs();
    for (p, tcol) in [
        ("estimate", "p95_ms"),
        ("ci_low", "p95_low_ms"),
        ("ci_high", "p95_high_ms"),
    ] {
        assert!(
            close(num(row, p), num(t, tcol)),
            "plan {p} {} vs tiers {tcol} {}",
            row[p],
            t[tcol]
        );
    }
}
