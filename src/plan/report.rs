//! What `plan` tells: the recommendation and its margins on stdout, and `plan.csv` (one row per
//! candidate and SLO, docs/csv.md#plancsv).

use super::search::PlanReport;
use super::{Candidate, Outcome, Verdict};
use crate::output::plot::plan_cost::{PlanFigure, PlanPanel, PlanPoint};
use crate::output::{Kind, fmt_f64};
use std::fmt::Write as _;
use std::path::Path;

/// The columns of plan.csv, in order, with their kinds (for `--format parquet|both`). The
/// `threshold`, `estimate` and `ci_*` cells have 4 decimals for ms and 6 for fractions; `inf`
/// stays infinite in Parquet.
pub const PLAN_COLUMNS: &[(&str, Kind)] = &[
    ("app", Kind::Text),
    ("process", Kind::Text),
    ("size", Kind::Text),
    ("tier", Kind::Text),
    ("count", Kind::Int),
    ("cost_usd_month", Kind::Float(2)),
    ("slo", Kind::Text),
    ("metric", Kind::Text),
    ("unit", Kind::Text),
    ("threshold", Kind::Float(6)),
    ("estimate", Kind::Float(6)),
    ("ci_low", Kind::Float(6)),
    ("ci_high", Kind::Float(6)),
    ("slo_verdict", Kind::Text),
    ("verdict", Kind::Text),
    ("replications", Kind::Int),
    ("requests", Kind::Int),
    ("note", Kind::Text),
];

/// A number for plan.csv: empty when undefined, `inf` for an unbounded interval end.
fn num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        String::new()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        fmt_f64(v, digits)
    }
}

/// The rows of plan.csv: every candidate in evaluation order, one row per SLO.
pub fn plan_rows(r: &PlanReport) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for c in &r.candidates {
        let f = &c.formation;
        for (k, slo) in r.slos.iter().enumerate() {
            let digits = if slo.metric.unit() == "ms" { 4 } else { 6 };
            let (interval, slo_verdict, reps, requests, note) = match &c.outcome {
                Outcome::Evaluated(e) => {
                    let (i, v) = e.slos[k];
                    (
                        Some(i),
                        v.as_str(),
                        e.replications.to_string(),
                        e.requests.to_string(),
                        e.stopped.clone().unwrap_or_default(),
                    )
                }
                Outcome::Pruned(why) => (None, "fails", "0".into(), "0".into(), why.clone()),
                Outcome::Refused(why) => (
                    None,
                    "fails",
                    "0".into(),
                    "0".into(),
                    format!("refused: {why}"),
                ),
            };
            rows.push(vec![
                r.target.app_name.clone(),
                r.target.process_name.clone(),
                f.size.clone(),
                f.tier.as_str().to_string(),
                f.count.to_string(),
                num(f.cost_usd_month, 2),
                slo.text.clone(),
                slo.metric.name().to_string(),
                slo.metric.unit().to_string(),
                num(slo.threshold, digits),
                interval.map_or(String::new(), |i| num(i.mean, digits)),
                interval.map_or(String::new(), |i| num(i.low, digits)),
                interval.map_or(String::new(), |i| num(i.high, digits)),
                slo_verdict.to_string(),
                c.verdict().as_str().to_string(),
                reps,
                requests,
                note,
            ]);
        }
    }
    rows
}

/// Write plan.csv into `dir`.
pub fn write_plan_csv(dir: &Path, r: &PlanReport) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("plan.csv"))?;
    w.write_record(PLAN_COLUMNS.iter().map(|(name, _)| name))?;
    for row in plan_rows(r) {
        w.write_record(&row)?;
    }
    w.flush()
}

/// `$1,500`: the plots' one money format.
pub(crate) use crate::output::plot::fmt_usd as usd;

fn margins(r: &PlanReport, c: &Candidate) -> String {
    let Outcome::Evaluated(e) = &c.outcome else {
        return String::new();
    };
    r.slos
        .iter()
        .zip(&e.slos)
        .map(|(slo, (i, _))| {
            format!(
                "{} {} [{}, {}] for {}",
                slo.metric.name(),
                slo.metric.show(i.mean),
                slo.metric.show(i.low),
                slo.metric.show(i.high),
                slo.text
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The text `plan` prints on stdout: the recommendation line first (`recommended: 4 x
/// performance-m ($1,000/month)`), its estimates, the best of each other size, and what the
/// plan does not know.
pub fn text(r: &PlanReport) -> String {
    let mut t = String::new();
    let conf = r.confidence * 100.0;
    match r.recommended {
        Some(i) => {
            let c = &r.candidates[i];
            let _ = writeln!(
                t,
                "recommended: {} ({}/month)",
                c.formation.label(),
                usd(c.formation.cost_usd_month)
            );
            let _ = writeln!(
                t,
                "  for {}: {} ({:.0}% joint confidence, {} replications)",
                r.target.label(),
                margins(r, c),
                conf,
                match &c.outcome {
                    Outcome::Evaluated(e) => e.replications,
                    _ => 0,
                }
            );
        }
        None => {
            let _ = writeln!(
                t,
                "recommended: none: no formation of {} was shown to meet every SLO",
                r.target.label()
            );
        }
    }
    let _ = writeln!(t, "by size (cheapest formation meeting every SLO):");
    for s in &r.sizes {
        match s.best {
            Some(i) => {
                let c = &r.candidates[i];
                let mark = if Some(i) == r.recommended {
                    " <- recommended"
                } else {
                    ""
                };
                let _ = writeln!(
                    t,
                    "  {:<18} {:>4} dynos  {:>9}/month  {}{mark}",
                    s.size,
                    c.formation.count,
                    usd(c.formation.cost_usd_month),
                    margins(r, c)
                );
            }
            None => {
                let _ = writeln!(t, "  {:<18} none: {}", s.size, s.note);
            }
        }
    }
    if let (Some(load), false) = (r.noise_load, r.sensitivity.is_empty()) {
        let _ = writeln!(
            t,
            "assumption: neighbours load shared instances at {load} (noise.load, an assumption of the model); the recommendation under other loads:"
        );
        for s in &r.sensitivity {
            let _ = writeln!(
                t,
                "  noise.load = {:.2}: {} ({})",
                s.noise_load,
                s.evaluation.verdict.as_str(),
                r.slos
                    .iter()
                    .zip(&s.evaluation.slos)
                    .map(|(slo, (i, _))| format!(
                        "{} {}",
                        slo.metric.name(),
                        slo.metric.show(i.mean)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let unknown = r.undecided_cheaper();
    if !unknown.is_empty() {
        let _ = writeln!(
            t,
            "undecided (cheaper than the answer, might meet the SLOs with more replications or budget):"
        );
        for c in unknown {
            let _ = writeln!(
                t,
                "  {} ({}/month): {}",
                c.formation.label(),
                usd(c.formation.cost_usd_month),
                margins(r, c)
            );
        }
    }
    if r.budget_spent {
        let _ = writeln!(
            t,
            "the budget ran out after {:.1} s: raise --budget-s for a complete search",
            r.elapsed.as_secs_f64()
        );
    }
    let fails = r
        .candidates
        .iter()
        .filter(|c| c.verdict() == Verdict::Fails)
        .count();
    let _ = writeln!(
        t,
        "{} candidates evaluated ({} fail, {} pruned by the CPU bound without simulating), {} replications, {} requests simulated in {:.1} s",
        r.candidates.len(),
        fails,
        r.candidates
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Pruned(_)))
            .count(),
        r.simulations,
        r.requests,
        r.elapsed.as_secs_f64()
    );
    t
}

/// The data of the `plan_cost` figure: one panel per SLO, every simulated candidate in it.
pub fn figure(r: &PlanReport, scenario: &str) -> PlanFigure {
    let panels = r
        .slos
        .iter()
        .enumerate()
        .map(|(k, slo)| {
            let mut points = Vec::new();
            let mut not_drawn = 0;
            for (i, c) in r.candidates.iter().enumerate() {
                match &c.outcome {
                    Outcome::Evaluated(e) if e.slos[k].0.mean.is_finite() => {
                        let (iv, v) = e.slos[k];
                        points.push(PlanPoint {
                            cost_usd_month: c.formation.cost_usd_month,
                            estimate: iv.mean,
                            low: iv.low,
                            high: iv.high,
                            verdict: v.as_str(),
                            label: c.formation.label(),
                            recommended: r.recommended == Some(i),
                        });
                    }
                    _ => not_drawn += 1,
                }
            }
            PlanPanel {
                slo: slo.text.clone(),
                threshold: slo.threshold,
                latency: slo.metric.unit() == "ms",
                points,
                not_drawn,
            }
        })
        .collect();
    PlanFigure {
        title: format!(
            "{}: candidates of {} by monthly cost, {:.0}% joint confidence",
            scenario,
            r.target.label(),
            r.confidence * 100.0
        ),
        panels,
    }
}

/// Text for HTML: `&`, `<`, `>` and quotes escaped.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `report.html`: one self-contained page (no script, no external file: the figure is inline
/// SVG) with the answer, the figure, every candidate, the assumptions and the scenario.
pub fn html(r: &PlanReport, scenario_name: &str, scenario_text: &str, svg: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>dynosim plan: {}</title>\n<style>\nbody {{ font-family: sans-serif; margin: 2em; max-width: 80em; }}\ntable {{ border-collapse: collapse; font-size: 0.9em; }}\nth, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }}\nth {{ background: #f0f0f0; }}\n.meets {{ color: #2a7d2a; }} .fails {{ color: #c81e1e; }} .undecided {{ color: #d46a00; }}\npre {{ background: #f7f7f7; padding: 1em; overflow-x: auto; }}\nsvg {{ max-width: 100%; height: auto; }}\n</style>\n</head>\n<body>\n",
        esc(scenario_name)
    );
    let _ = writeln!(h, "<h1>dynosim plan: {}</h1>", esc(scenario_name));
    let answer = text(r);
    let mut lines = answer.lines();
    if let Some(first) = lines.next() {
        let _ = writeln!(
            h,
            "<p id=\"recommendation\"><strong>{}</strong></p>",
            esc(first)
        );
    }
    let _ = writeln!(h, "<pre id=\"answer\">{}</pre>", esc(&answer));
    let _ = writeln!(h, "<h2>Candidates by cost</h2>\n<figure>{svg}</figure>");
    let _ = writeln!(
        h,
        "<h2>Every candidate (plan.csv)</h2>\n<table id=\"candidates\">\n<tr>"
    );
    for (c, _) in PLAN_COLUMNS {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    let _ = writeln!(h, "</tr>");
    let verdict_col = PLAN_COLUMNS.iter().position(|(c, _)| *c == "slo_verdict");
    for row in plan_rows(r) {
        let class = verdict_col.map_or("", |k| match row[k].as_str() {
            "meets" => "meets",
            "fails" => "fails",
            _ => "undecided",
        });
        let _ = write!(h, "<tr class=\"{class}\">");
        for cell in &row {
            let _ = write!(h, "<td>{}</td>", esc(cell));
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(
        h,
        "<h2>Assumptions</h2>\n<ul>\n<li>A formation's metric is the mean over replications of the metric of one replication (summary.csv's per-job value), with a Student-t interval; each SLO's interval is made at 1 - (1 - {c})/{k} so that all {k} hold together at {c} (Bonferroni). Looking again after each replication is not corrected for (docs/plan.md).</li>\n<li>Replication r of every candidate uses the same random streams (common random numbers).</li>\n<li>More dynos of one size are assumed not to make latency worse; the count below each size's answer is simulated to check it.</li>\n<li>Candidates whose offered CPU load reaches their cores are pruned without simulating.</li>\n<li>Only the planned process changes; every other process, the workload and the platform settings are the scenario's. The model's own assumptions (noise defaults, CPU shares of shared tiers) are in docs/model.md and docs/catalog.md.</li>\n</ul>",
        c = r.confidence,
        k = r.slos.len()
    );
    let _ = writeln!(
        h,
        "<h2>Scenario</h2>\n<pre id=\"scenario\">{}</pre>\n<p>Written by dynosim {}.</p>\n</body>\n</html>",
        esc(scenario_text),
        env!("CARGO_PKG_VERSION")
    );
    h
}
