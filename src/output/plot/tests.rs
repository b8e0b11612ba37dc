//! The data behind the figures at real sweep sizes (issue 22): a 30-point sweep and 33 process
//! types, written as CSVs and read back through [`Data::load`] as `dynosim plot` reads them.

use super::data::Data;
use super::latency_by_formation::BoxFigure;
use super::latency_cdf::{CdfFigure, MAX_CURVES};
use super::legend::overlapping;
use super::p99_over_time::{MAX_LINES, panels as time_panels};
use super::register_font;
use super::render::render;
use super::sweep_p99_cost::SweepFigure;
use std::fmt::Write as _;
use std::path::Path;

const SUMMARY_HEAD: &str = "replication,seed,app,process,size,tier,dynos,concurrency,requests,\
    completed,errors,in_flight,mean_ms,p50_ms,p90_ms,p95_ms,p99_ms,p999_ms,max_ms,\
    throughput_rps,cpu_utilization,cost_usd_month,restarts";

/// One summary.csv row.
struct Job {
    point: usize,
    values: Vec<String>,
    rep: u32,
    app: String,
    size: &'static str,
    dynos: u32,
    requests: u64,
    completed: u64,
    errors: u64,
    /// p50 (ms); the other quantiles are multiples of it. NaN: no completed request.
    p50: f64,
}

fn tier(size: &str) -> &'static str {
    if size.starts_with("performance") {
        "performance"
    } else if size == "basic" {
        "basic"
    } else {
        "standard"
    }
}

/// Quantile `k` (p50, p90, p95, p99, p99.9, max) of a job with median `p50`.
fn q(p50: f64, k: usize) -> f64 {
    p50 * [1.0, 2.0, 2.5, 4.0, 6.0, 10.0][k]
}

fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else {
        String::new()
    }
}

fn write_summary(dir: &Path, keys: &[&str], jobs: &[Job]) {
    let mut s = String::from("scenario,point,");
    for k in keys {
        s += k;
        s += ",";
    }
    s += SUMMARY_HEAD;
    s += "\n";
    for j in jobs {
        let vals: String = j.values.iter().map(|v| format!("{v},")).collect();
        let qs: Vec<String> = (0..6).map(|k| cell(q(j.p50, k))).collect();
        let usd = if tier(j.size) == "performance" {
            250
        } else {
            25
        };
        writeln!(
            s,
            "fixture,{},{vals}{},1,{},web,{},{},{},2,{},{},{},0,{},{},0.5,0.5,{},0",
            j.point,
            j.rep,
            j.app,
            j.size,
            tier(j.size),
            j.dynos,
            j.requests,
            j.completed,
            j.errors,
            cell(j.p50),
            qs.join(","),
            u64::from(j.dynos) * usd,
        )
        .expect("write");
    }
    std::fs::write(dir.join("summary.csv"), s).expect("write summary.csv");
}

const RATES: [&str; 3] = ["20.0", "60.0", "120.0"];
const COUNTS: [&str; 5] = ["1", "2", "3", "4", "6"];
const SIZES: [&str; 2] = ["standard-1x", "performance-m"];
const KEYS: [&str; 3] = [
    "app.shop.workload.arrivals.poisson",
    "app.shop.process.web.count",
    "app.shop.process.web.size",
];

/// The values of point `p` of the 30-point grid (the last key fastest, as dynosim runs it).
fn values(p: usize) -> [&'static str; 3] {
    [RATES[p / 10], COUNTS[(p / 2) % 5], SIZES[p % 2]]
}

/// The point the fixture gives no completed request, and the one with 34 errors in 10,000.
const SILENT: usize = 22; // 120.0, count 2, standard-1x
const ERRING: usize = 0; // 20.0, count 1, standard-1x

/// The p50 (ms) of point `p`, replication `rep`: about 75 ms, and 18 s for count 1 at the
/// highest rate (overload), so that averaging across points would give a p50 of seconds.
fn p50(p: usize, rep: u32) -> f64 {
    let base = if values(p)[0] == "120.0" && values(p)[1] == "1" {
        18_000.0
    } else {
        70.0
    };
    base + p as f64 + 0.5 * f64::from(rep)
}

/// A 30-point sweep (3 arrival rates x 5 dyno counts x 2 sizes), 2 replications.
fn sweep30(dir: &Path) {
    let mut jobs = Vec::new();
    for p in 0..30 {
        for rep in 0..2 {
            let v = values(p);
            let silent = p == SILENT;
            jobs.push(Job {
                point: p,
                values: v.iter().map(|s| (*s).to_string()).collect(),
                rep,
                app: "shop".into(),
                size: v[2],
                dynos: v[1].parse().expect("count"),
                requests: 10_000,
                completed: if silent { 0 } else { 10_000 },
                errors: if p == ERRING {
                    34
                } else if silent {
                    10_000
                } else {
                    0
                },
                p50: if silent { f64::NAN } else { p50(p, rep) },
            });
        }
    }
    write_summary(dir, &KEYS, &jobs);
}

fn load(dir: &Path) -> Data {
    Data::load(dir).expect("the fixture loads")
}

/// Issue 22: above 8 formations the CDF averaged quantiles over unrelated sweep points (a p50
/// of 1.8 s where the median formation's p50 was 75 ms). Now each curve is one formation's own
/// p50 … max (the median of its replications), in panels whose formations differ in one key.
#[test]
fn every_cdf_curve_is_one_formations_own_distribution() {
    let dir = tempfile::tempdir().expect("tempdir");
    sweep30(dir.path());
    let data = load(dir.path());
    assert_eq!(data.cats.len(), 30);
    let fig = CdfFigure::new(&data, dir.path()).expect("figure");
    assert_eq!(fig.panels.len(), 6, "one panel per arrival rate and size");
    let mut seen: Vec<usize> = fig.panels.iter().flat_map(|p| p.members.clone()).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..30).collect::<Vec<_>>(),
        "every formation in one panel"
    );
    for panel in &fig.panels {
        assert!(panel.members.len() <= MAX_CURVES);
        assert_eq!(panel.members.len(), panel.names.len());
        let vs: Vec<[&str; 3]> = panel
            .members
            .iter()
            .map(|&i| values(data.cats[i].point))
            .collect();
        for v in &vs {
            assert_eq!(
                (v[0], v[2]),
                (vs[0][0], vs[0][2]),
                "{}: one rate, one size",
                panel.title
            );
        }
        let counts: Vec<&str> = vs.iter().map(|v| v[1]).collect();
        assert_eq!(counts, COUNTS, "{}", panel.title);
        assert_eq!(panel.names[0], "count=1");
        // The fixed values, the size by its name alone, not repeated.
        assert_eq!(
            panel.title,
            format!("arrivals.poisson={} · {}", vs[0][0], vs[0][2])
        );
    }
    for (i, c) in data.cats.iter().enumerate() {
        let curve = &fig.curves[i];
        if c.point == SILENT {
            assert!(curve.is_empty(), "no completed request, no curve");
            continue;
        }
        // p50, p90, p95, p99 and the maximum (p99.9 needs 1000 requests: it has 10,000), each
        // the mean of this formation's two replications and of no other formation (the one
        // definition of a formation's quantile, `stats::Interval`).
        let want: Vec<(f64, f64)> = [0.5, 0.9, 0.95, 0.99, 0.999, 10_000.0 / 10_001.0]
            .iter()
            .enumerate()
            .map(|(k, &quantile)| {
                let m = (q(p50(c.point, 0), k) + q(p50(c.point, 1), k)) / 2.0;
                ((m * 1e4).round() / 1e4, quantile)
            })
            .collect();
        assert_eq!(curve.len(), want.len(), "formation {i}");
        for (got, want) in curve.iter().zip(&want) {
            assert!(
                (got.0 - want.0).abs() < 1e-3 && got.1 == want.1,
                "{i}: {got:?} {want:?}"
            );
        }
        if values(c.point)[1] != "1" || values(c.point)[0] != "120.0" {
            assert!(curve[0].0 < 110.0, "{i}: p50 {} is about 75 ms", curve[0].0);
        }
    }
}

/// From requests.csv, a curve holds its own formation's requests only: two formations with
/// disjoint latencies give disjoint curves, each of its own length.
#[test]
fn exact_cdf_curves_hold_only_their_formations_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = ["app.shop.process.web.count"];
    let jobs: Vec<Job> = (0..2)
        .map(|p| Job {
            point: p,
            values: vec![(p + 1).to_string()],
            rep: 0,
            app: "shop".into(),
            size: "standard-1x",
            dynos: p as u32 + 1,
            requests: 100,
            completed: 100,
            errors: 0,
            p50: 10.0,
        })
        .collect();
    write_summary(dir.path(), &key, &jobs);
    let mut r = String::from(
        "scenario,point,app.shop.process.web.count,replication,request,parent,app,process,dyno,\
         incarnation,arrival_s,latency_ms,status\n",
    );
    // Point 0: 300 requests of 10..20 ms over 3 replications; point 1: 50 of 1..2 s.
    for i in 0..300 {
        writeln!(
            r,
            "f,0,1,{},{i},,shop,web,web.1,0,1.0,{},ok",
            i % 3,
            10.0 + (i % 10) as f64
        )
        .expect("w");
    }
    for i in 0..50 {
        writeln!(
            r,
            "f,1,2,0,{i},,shop,web,web.1,0,1.0,{},ok",
            1000.0 + 20.0 * i as f64
        )
        .expect("w");
    }
    // An error is no completed request: left out.
    writeln!(r, "f,0,1,0,999,,shop,web,web.1,0,1.0,30000.0,H12").expect("w");
    std::fs::write(dir.path().join("requests.csv"), r).expect("write");
    let data = load(dir.path());
    let fig = CdfFigure::new(&data, dir.path()).expect("figure");
    let (a, b) = (&fig.curves[0], &fig.curves[1]);
    assert!(a.iter().all(|p| (9.9..=20.1).contains(&p.0)), "{a:?}");
    assert!(b.iter().all(|p| (999.0..=2000.0).contains(&p.0)), "{b:?}");
    assert_eq!(a.last().map(|p| p.1), Some(300.0 / 301.0));
    assert_eq!(b.last().map(|p| p.1), Some(50.0 / 51.0));
    assert_eq!(fig.panels.len(), 1, "two formations share one chart");
}

/// Issue 22: the sweep line joined points across arrival rates. Each line now varies the
/// count alone (the other keys fixed), and a point without completed requests breaks it.
#[test]
fn sweep_lines_vary_exactly_one_key_and_break_where_nothing_completed() {
    let dir = tempfile::tempdir().expect("tempdir");
    sweep30(dir.path());
    let data = load(dir.path());
    let fig = SweepFigure::new(&data);
    assert_eq!(fig.lines.len(), 6);
    assert_eq!(fig.order.len(), 30);
    let silent_at = fig
        .order
        .iter()
        .position(|&p| p == SILENT)
        .expect("in the layout");
    let mut drawn = 0;
    for line in &fig.lines {
        for run in &line.runs {
            drawn += run.len();
            for w in run.windows(2) {
                assert_eq!(w[1].0, w[0].0 + 1, "a run joins neighbours");
                let (a, b) = (values(fig.order[w[0].0]), values(fig.order[w[1].0]));
                let differ: Vec<usize> = (0..3).filter(|&k| a[k] != b[k]).collect();
                assert_eq!(differ, [1], "{a:?} -> {b:?} varies the count alone");
            }
            assert!(
                !(run.first().is_some_and(|f| f.0 < silent_at)
                    && run.last().is_some_and(|l| l.0 > silent_at)),
                "no line bridges the point without responses"
            );
            for &(k, y) in run {
                let p = fig.order[k];
                assert!((y - q((p50(p, 0) + p50(p, 1)) / 2.0, 3)).abs() < 1e-3);
            }
        }
        drawn += line.no_responses.len();
    }
    assert_eq!(drawn, 30, "every point once");
    let silent_line = fig
        .lines
        .iter()
        .find(|l| l.no_responses.contains(&silent_at));
    let silent_line = silent_line.expect("the silent point is marked");
    assert_eq!(
        silent_line.runs.len(),
        2,
        "broken in two: {:?}",
        silent_line.runs
    );
}

/// Error rates are printed with their digits: 34 errors in 10,000 requests read "0.34%", in
/// the sweep figure and at the formation's box.
#[test]
fn small_error_rates_are_printed_with_their_digits() {
    register_font().expect("font");
    let dir = tempfile::tempdir().expect("tempdir");
    sweep30(dir.path());
    let data = load(dir.path());
    let svg = render(&SweepFigure::new(&data)).expect("renders");
    assert!(svg.svg().contains("0.34% err"), "sweep figure");
    assert!(svg.svg().contains("100% err"), "the silent point");
    assert!(!svg.svg().contains(">0% err"), "no zero rate printed");
    let svg = render(&BoxFigure::new(&data)).expect("renders");
    assert!(svg.svg().contains("0.34%"), "box figure");
}

/// 33 process types without a sweep, each with windows over 20 minutes.
fn procs33(dir: &Path, size: impl Fn(usize) -> &'static str) {
    let jobs: Vec<Job> = (0..33)
        .map(|i| Job {
            point: 0,
            values: Vec::new(),
            rep: 0,
            app: format!("app{i:02}"),
            size: size(i),
            dynos: 1 + i as u32 % 3,
            requests: 1000,
            completed: 1000,
            errors: 0,
            p50: 50.0 + i as f64,
        })
        .collect();
    write_summary(dir, &[], &jobs);
    let mut w = String::from(
        "scenario,point,replication,app,process,size,tier,window_start_s,requests,completed,\
         errors,in_flight,mean_ms,p50_ms,p90_ms,p99_ms\n",
    );
    for t in 0..20 {
        for (i, j) in jobs.iter().enumerate() {
            let y = 100.0 + (i * 7 + t) as f64;
            writeln!(
                w,
                "fixture,0,0,{},web,{},{},{}.0,50,50,0,0,1,1,1,{y}",
                j.app,
                j.size,
                tier(j.size),
                t * 60
            )
            .expect("w");
        }
    }
    std::fs::write(dir.join("windows.csv"), w).expect("write");
}

/// `latency_by_formation` at 30 formations of a sweep (grouped, short labels) and at 33
/// process types (long labels, written downwards): no two labels overlap.
#[test]
fn formation_labels_do_not_overlap_at_thirty_formations() {
    register_font().expect("font");
    let dir = tempfile::tempdir().expect("tempdir");
    sweep30(dir.path());
    let data = load(dir.path());
    let fig = BoxFigure::new(&data);
    let mut order = fig.order.clone();
    order.sort_unstable();
    assert_eq!(order, (0..30).collect::<Vec<_>>());
    let labels = fig.labels();
    assert!(!labels.rotate, "short labels stand upright");
    assert_eq!(labels.step, 1);
    assert_eq!(overlapping(&labels.boxes(&fig.cats)), None);
    // Boxes in a group differ in the count alone.
    for (_, r) in &fig.cats.groups {
        let vs: Vec<[&str; 3]> = fig.order[r.clone()]
            .iter()
            .map(|&i| values(data.cats[i].point))
            .collect();
        assert!(vs.iter().all(|v| v[0] == vs[0][0] && v[2] == vs[0][2]));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    procs33(dir.path(), |i| {
        ["standard-1x", "performance-m", "basic"][i % 3]
    });
    let data = load(dir.path());
    let fig = BoxFigure::new(&data);
    let labels = fig.labels();
    assert_eq!(fig.cats.labels.len(), 33);
    assert!(labels.rotate);
    assert_eq!(overlapping(&labels.boxes(&fig.cats)), None);
}

/// Issue 22: the time figure with 33 series covered its data with its legend. The series are
/// spread over panels of at most 8, one tier and size each, and every legend fits beside its
/// chart.
#[test]
fn thirty_three_series_are_spread_over_panels_of_at_most_eight() {
    register_font().expect("font");
    for mixed in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        if mixed {
            procs33(dir.path(), |i| {
                ["standard-1x", "standard-2x", "performance-m", "basic"][i % 4]
            });
        } else {
            procs33(dir.path(), |_| "standard-1x");
        }
        let data = load(dir.path());
        let (panels, _, _) = time_panels(&data).expect("panels");
        let n: usize = panels.iter().map(|p| p.series.len()).sum();
        assert_eq!(n, 33, "every series once");
        for p in &panels {
            assert!(
                (1..=MAX_LINES).contains(&p.series.len()),
                "{}: {}",
                p.title,
                p.series.len()
            );
            assert!(
                p.series.iter().all(|s| s.tier == p.series[0].tier),
                "one tier a panel"
            );
            assert!(p.series.iter().all(|s| s.points.len() == 20));
        }
        // Mixed: 9 standard-1x (two panels), 8 each of three more sizes; else 33 in five.
        assert_eq!(panels.len(), 5, "mixed: {mixed}");
        let svg = render(&super::p99_over_time::TimeFigure(&data)).expect("renders");
        for p in &panels {
            assert!(svg.svg().contains(&p.title), "{} drawn", p.title);
        }
    }
}

/// Up to 8 formations share one CDF chart, named by their formation labels.
#[test]
fn a_few_formations_share_one_cdf_chart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs: Vec<Job> = (0..4)
        .map(|p| Job {
            point: p,
            values: vec![(p + 3).to_string()],
            rep: 0,
            app: "shop".into(),
            size: "standard-1x",
            dynos: p as u32 + 3,
            requests: 100,
            completed: 100,
            errors: 0,
            p50: 100.0 - p as f64,
        })
        .collect();
    write_summary(dir.path(), &["app.shop.process.web.count"], &jobs);
    let data = load(dir.path());
    // The size is not swept, but still named where the formations are grouped.
    assert_eq!(data.formation_groups(8)[0].title, "shop/web · standard-1x");
    let fig = CdfFigure::new(&data, dir.path()).expect("figure");
    assert_eq!(fig.panels.len(), 1);
    assert_eq!(
        fig.panels[0].names,
        [
            "standard-1x ×3",
            "standard-1x ×4",
            "standard-1x ×5",
            "standard-1x ×6"
        ]
    );
    for (p, c) in fig.curves.iter().enumerate() {
        assert_eq!(c[0], (100.0 - p as f64, 0.5));
    }
}

/// With several apps, a sweep key names its app: shop's arrival rate is not api's.
#[test]
fn keys_of_one_app_name_it_when_there_are_several() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [
        "app.shop.workload.arrivals.poisson",
        "app.api.process.web.count",
    ];
    let mut jobs = Vec::new();
    for (p, (rate, count)) in [("20.0", "1"), ("20.0", "2"), ("60.0", "1"), ("60.0", "2")]
        .into_iter()
        .enumerate()
    {
        for app in ["shop", "api"] {
            jobs.push(Job {
                point: p,
                values: vec![rate.into(), count.into()],
                rep: 0,
                app: app.into(),
                size: "standard-1x",
                dynos: 1,
                requests: 100,
                completed: 100,
                errors: 0,
                p50: 10.0,
            });
        }
    }
    write_summary(dir.path(), &keys, &jobs);
    let data = load(dir.path());
    assert_eq!(data.key_names(), ["shop.arrivals.poisson", "api.count"]);
    // Ties vary the later key: the count, with shop's rate fixed, named as shop's.
    let groups = data.formation_groups(8);
    let g = groups
        .iter()
        .find(|g| g.title == "api/web · shop.arrivals.poisson=20.0 · standard-1x")
        .expect("api's group at shop's rate 20");
    assert_eq!(g.names, ["api.count=1", "api.count=2"]);
}
