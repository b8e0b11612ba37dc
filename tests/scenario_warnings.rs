//! Warnings for valid scenarios that are probably mistakes (issue 22, point 4: a scenario
//! without a workload, or whose processes get no traffic), and the cap that keeps a large
//! sweep's warnings readable.

mod common;
mod scenario_support;

use scenario_support::Case;

const TWO_APPS: &str = r#"name = "t"
duration = "5s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"

[[app.process]]
type = "worker"
size = "standard-1x"

[app.workload]
arrivals = { poisson = 5.0 }
cpu = "10ms"

[[app]]
name = "reports"

[[app.process]]
type = "web"
size = "standard-1x"
"#;

fn warnings(text: &str) -> Vec<String> {
    common::scenario(text).warnings
}

#[test]
fn a_scenario_in_which_nothing_arrives_is_warned_about() {
    let text = TWO_APPS.replace(
        "[app.workload]\narrivals = { poisson = 5.0 }\ncpu = \"10ms\"\n",
        "",
    );
    assert_eq!(
        warnings(&text),
        vec!["no app has an [app.workload]: nothing arrives, so the run measures no requests"]
    );
    // Through the binary: on check's stdout and run's stderr, and both still succeed.
    let case = Case::new(&text);
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(
        r.stdout()
            .contains("  warning: no app has an [app.workload]"),
        "{}",
        r.stdout()
    );
    let file = case.file_str();
    let out = case.out().display().to_string();
    let r = scenario_support::run_bounded(
        case.path(),
        &["run", &file, "--out", &out],
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert!(
        r.stderr()
            .contains(&format!("warning: {file}: no app has an [app.workload]")),
        "{}",
        r.stderr()
    );
}

#[test]
fn an_app_that_gets_no_traffic_is_warned_about_but_not_an_idle_worker() {
    // `reports` gets nothing; `shop/worker` gets nothing either, but its app does: a worker
    // process without web traffic is normal.
    assert_eq!(
        warnings(TWO_APPS),
        vec![
            "app `reports` gets no traffic: it has no [app.workload] and no calls reach it, so its dynos only idle"
        ]
    );
    // An app that only receives calls gets traffic (scenarios/private-space.toml's
    // `catalog-api` with its tiny own workload removed).
    let text = std::fs::read_to_string("scenarios/private-space.toml").expect("bundled");
    let text = text.replacen(
        "[app.workload]\nprocess = \"catalog\"\narrivals = { poisson = 0.01 }\ncpu = { lognormal = { median = \"4ms\", p99 = \"30ms\" } }\n",
        "",
        1,
    );
    // Without that workload the call must say its own CPU demand.
    let text = text.replacen(
        "process = \"catalog\"\ncount = 3\n",
        "process = \"catalog\"\ncount = 3\ncpu = \"4ms\"\n",
        1,
    );
    assert!(
        !text.contains("process = \"catalog\"\narrivals"),
        "test bug: the workload is still there"
    );
    let s = dynosim::scenario::Scenario::parse(
        &text,
        "private-space.toml",
        "p",
        std::path::Path::new("scenarios"),
    )
    .expect("valid");
    assert!(
        s.warnings.iter().all(|w| !w.contains("no traffic")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn sweeps_say_at_which_point_and_list_at_most_twenty() {
    // Traffic only at the first of 25 points... no: arrivals cannot be zero; sweep the whole
    // workload table of `reports` instead, present at point 0 only.
    let mut text = TWO_APPS.to_string();
    text.push_str("\n[sweep]\n\"app.shop.process.web.count\" = [");
    text.push_str(
        &(1..=25)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    text.push_str("]\n");
    let w = warnings(&text);
    assert_eq!(w.len(), 21, "{w:?}");
    assert!(
        w[0].starts_with("app `reports` at point 0 gets no traffic"),
        "{}",
        w[0]
    );
    assert!(
        w[19].starts_with("app `reports` at point 19 gets no traffic"),
        "{}",
        w[19]
    );
    assert_eq!(
        w[20],
        "5 more app(s) without traffic at other points, not listed"
    );

    // Overload: 1 dyno of 1 core offered 2 cores' worth of CPU, at 25 points.
    let text = TWO_APPS.replace("cpu = \"10ms\"", "cpu = \"400ms\"").replace(
        "[[app]]\nname = \"reports\"\n\n[[app.process]]\ntype = \"web\"\nsize = \"standard-1x\"\n",
        "",
    ) + "\n[sweep]\n\"app.shop.workload.arrivals.poisson\" = ["
        + &(0..25).map(|i| format!("{}.0", 5 + i)).collect::<Vec<_>>().join(", ")
        + "]\n";
    let w = warnings(&text);
    assert_eq!(w.len(), 21, "{w:?}");
    assert!(
        w[0].starts_with("shop/web at point 0: offered CPU load is 200%"),
        "{}",
        w[0]
    );
    assert_eq!(
        w[20],
        "5 more overloaded process(es) at other points, not listed"
    );
}
