//! `[[sweep.together]]`: keys that change together (a size with its count) instead of a grid,
//! combined with plain sweep keys; invalid combinations refused by `check`, located at the
//! entry, before anything runs.

mod scenario_support;

use dynosim::scenario::Scenario;
use scenario_support::Case;
use std::path::Path;

const BASE: &str = r#"name = "paired"
duration = "2m"
warmup = "10s"
noise = "off"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"
count = 2

[app.workload]
arrivals = { poisson = 20.0 }
cpu = "20ms"
"#;

fn parse(text: &str) -> Result<Scenario, dynosim::scenario::ScenarioError> {
    Scenario::parse(text, "paired.toml", "paired", Path::new("."))
}

#[test]
fn paired_values_change_together_and_combine_with_grid_keys() {
    let text = format!(
        "{BASE}
[sweep]
\"app.shop.workload.arrivals.poisson\" = [20.0, 40.0]

[[sweep.together]]
keys = [\"app.shop.process.web.size\", \"app.shop.process.web.count\"]
values = [[\"standard-2x\", 6], [\"performance-m\", 2], [\"performance-l\", 1]]
"
    );
    let s = parse(&text).expect("valid");
    assert_eq!(
        s.sweep_keys,
        [
            "app.shop.workload.arrivals.poisson",
            "app.shop.process.web.size",
            "app.shop.process.web.count"
        ]
    );
    // 2 rates x 3 pairs, the last axis fastest; never standard-2x x 1 or performance-l x 6.
    assert_eq!(s.points.len(), 6);
    let got: Vec<(String, u32, Vec<String>)> = s
        .points
        .iter()
        .map(|p| {
            let pr = &p.config.apps[0].processes[0];
            (pr.size.name.clone(), pr.count, p.values.clone())
        })
        .collect();
    let pairs = [
        ("standard-2x", 6),
        ("performance-m", 2),
        ("performance-l", 1),
    ];
    for (i, (size, count, values)) in got.iter().enumerate() {
        let (want_size, want_count) = pairs[i % 3];
        assert_eq!(
            (size.as_str(), *count),
            (want_size, want_count),
            "point {i}"
        );
        let rate = if i < 3 { "20.0" } else { "40.0" };
        assert_eq!(
            values,
            &vec![
                rate.to_string(),
                want_size.to_string(),
                want_count.to_string()
            ]
        );
    }
    // Through the binary: the sweep columns in summary.csv, one row per point.
    let case = Case::new(&text);
    let file = case.file_str();
    let out = case.out().display().to_string();
    let r = scenario_support::run_bounded(
        case.path(),
        &["run", &file, "--out", &out, "--quiet"],
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    let summary = std::fs::read_to_string(case.out().join("summary.csv")).expect("summary.csv");
    let header = summary.lines().next().expect("header");
    assert!(
        header.contains("app.shop.workload.arrivals.poisson,app.shop.process.web.size,app.shop.process.web.count"),
        "{header}"
    );
    assert_eq!(summary.lines().count(), 1 + 6);
}

#[test]
fn invalid_combinations_are_refused_before_running_with_the_entry_named() {
    // basic dynos: one per process type. The pair (basic, 3) is invalid; the grid would have
    // stopped nothing, but `check` must refuse it, placed at the [[sweep.together]] entry.
    let text = format!(
        "{BASE}
[[sweep.together]]
keys = [\"app.shop.process.web.size\", \"app.shop.process.web.count\"]
values = [[\"standard-1x\", 3], [\"basic\", 3]]
"
    );
    let e = parse(&text).expect_err("basic x 3 is invalid");
    let line = text
        .lines()
        .position(|l| l == "[[sweep.together]]")
        .expect("entry")
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains("at sweep value `3`"), "{e}");
    assert!(e.message.contains("platform limit of 1"), "{e}");
    assert_eq!(e.key.to_string(), "sweep.together[0]");
    let case = Case::new(&text);
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains(&format!(":{line}:")), "{}", r.stderr());
    let file = case.file_str();
    let out = case.out().display().to_string();
    let r = scenario_support::run_bounded(
        case.path(),
        &["run", &file, "--out", &out],
        &[],
        std::time::Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(2));
    assert!(!case.out().exists(), "nothing written");
}

#[test]
fn malformed_entries_are_placed() {
    let entry = |body: &str| format!("{BASE}\n[[sweep.together]]\n{body}\n");
    let cases = [
        (
            "keys = [\"app.shop.process.web.size\", \"app.shop.process.web.count\"]\nvalues = [[\"standard-2x\", 6], [\"performance-m\"]]",
            "sweep.together[0].values[1]",
            "one value per key (2)",
        ),
        (
            "keys = []\nvalues = [[1]]",
            "sweep.together[0].keys",
            "non-empty list of swept keys",
        ),
        (
            "keys = [\"app.shop.process.web.count\"]\nvalues = []",
            "sweep.together[0].values",
            "non-empty list of value tuples",
        ),
        (
            "keys = [\"app.shop.process.web.count\"]\nvalues = [[1]]\nvalue = 3",
            "sweep.together[0].value",
            "unknown key `value`",
        ),
        (
            "keys = [\"app.nope.process.web.count\"]\nvalues = [[1]]",
            "sweep.together[0].keys[0]",
            "no `app` named `nope`",
        ),
    ];
    for (body, key, says) in cases {
        let e = parse(&entry(body)).expect_err(body);
        assert_eq!(e.key.to_string(), key, "{body}: {e}");
        assert!(e.message.contains(says), "{body}: {e}");
        assert!(e.line.is_some(), "{body}: {e}");
    }
    // A key swept twice: as a plain key and in an entry.
    let twice = format!(
        "{BASE}\n[sweep]\n\"app.shop.process.web.count\" = [1, 2]\n\n[[sweep.together]]\nkeys = [\"app.shop.process.web.count\"]\nvalues = [[3]]\n"
    );
    let e = parse(&twice).expect_err("twice");
    assert!(e.message.contains("swept twice"), "{e}");
    assert_eq!(e.key.to_string(), "sweep.together[0]");
}
