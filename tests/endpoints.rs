//! Request classes (issue 17, point 2): `[[app.workload.endpoint]]`, endpoints.csv, their
//! errors, and shards merged into what one run writes.
//!
//! Two endpoints with different exponential CPU on a dedicated single-slot dyno make one M/G/1
//! FIFO queue whose service time is the mixture: every request waits the same mean time W_q in
//! the dyno's queue (Pollaczek-Khinchine, lambda E[S^2] / (2 (1 - rho))), and each endpoint's
//! mean response is W_q plus its own mean service.

mod cli_support;
mod common;
mod scenario_support;

use cli_support::ok;
use common::*;
use scenario_support::{Case, line_of};
use std::path::Path;

fn mg1(endpoints: &str, rate: f64, duration: &str, reps: u32) -> String {
    format!(
        r#"
seed = 31
duration = "{duration}"
warmup = "10m"
replications = {reps}
noise = "off"

[network]
latency = "0ms"

[lifecycle]
cycling = false

[[app]]
name = "api"

[[app.process]]
type = "web"
size = "performance-m"
count = 1
concurrency = 1

[app.workload]
arrivals = {{ poisson = {rate} }}
cpu = {{ exponential = "10ms" }}
{endpoints}
"#
    )
}

const TWO: &str = r#"
[[app.workload.endpoint]]
name = "home"
share = 0.7

[[app.workload.endpoint]]
name = "search"
share = 0.3
cpu = { exponential = "40ms" }
"#;

#[test]
fn each_endpoint_waits_the_pollaczek_khinchine_queue_plus_its_own_service() {
    let (rate, p) = (30.0, [0.7, 0.3]);
    let means_ms = [10.0, 40.0];
    let s = scenario(&mg1(TWO, rate, "8h", 2));
    let results = run_all(&s);
    let es: f64 = (0..2).map(|i| p[i] * means_ms[i]).sum();
    let es2: f64 = (0..2).map(|i| p[i] * 2.0 * means_ms[i] * means_ms[i]).sum();
    let lambda_per_ms = rate / 1000.0;
    let rho = lambda_per_ms * es;
    let wq = lambda_per_ms * es2 / (2.0 * (1.0 - rho));
    let mut requests = [0u64; 2];
    for r in &results {
        assert_eq!(r.endpoints.len(), 2);
        let web = &r.processes[0];
        // summary.csv's row is every endpoint's requests together.
        let sum = |f: &dyn Fn(&dynosim::model::EndpointResult) -> u64| {
            r.endpoints.iter().map(f).sum::<u64>()
        };
        assert_eq!(sum(&|e| e.requests), web.requests);
        assert_eq!(sum(&|e| e.completed), web.completed);
        assert_eq!(sum(&|e| e.errors + e.in_flight), web.errors + web.in_flight);
        for (i, e) in r.endpoints.iter().enumerate() {
            assert_eq!(e.completed + e.errors + e.in_flight, e.requests);
            requests[i] += e.requests;
        }
    }
    let total = (requests[0] + requests[1]) as f64;
    assert!(total > 1_500_000.0, "{total}");
    for i in 0..2 {
        let observed = requests[i] as f64 / total;
        // Binomial standard error sqrt(p(1-p)/n) ~ 0.0004; allow about 7 of them.
        assert!(
            (observed - p[i]).abs() < 0.003,
            "share {observed} vs {}",
            p[i]
        );
        let rows: Vec<_> = results.iter().map(|r| &r.endpoints[i]).collect();
        let n: u64 = rows.iter().map(|e| e.completed).sum();
        let mean = rows
            .iter()
            .map(|e| e.latency.mean_ms * e.completed as f64)
            .sum::<f64>()
            / n as f64;
        let queue = rows.iter().map(|e| e.latency.queue_ms).sum::<f64>() / rows.len() as f64;
        let cpu = rows.iter().map(|e| e.latency.cpu_ms).sum::<f64>() / rows.len() as f64;
        let expected = wq + means_ms[i];
        eprintln!(
            "endpoint {}: share {observed:.4} ({}), mean {mean:.2} ms (W_q + E[S_i] = {expected:.2}), \
             queue {queue:.2} ms (W_q {wq:.2}), CPU {cpu:.2} ms ({})",
            rows[0].endpoint, p[i], means_ms[i]
        );
        assert!(rel_err(mean, expected) < 0.03, "mean {mean} vs {expected}");
        assert!(rel_err(queue, wq) < 0.04, "queue {queue} vs W_q {wq}");
        assert!(
            rel_err(cpu, means_ms[i]) < 0.02,
            "CPU {cpu} vs {}",
            means_ms[i]
        );
    }
}

#[test]
fn weights_are_normalised_and_draw_as_the_same_shares() {
    let shares = scenario(&mg1(TWO, 30.0, "20m", 1));
    let weights = scenario(&mg1(
        &TWO.replace("share = 0.7", "weight = 7")
            .replace("share = 0.3", "weight = 3"),
        30.0,
        "20m",
        1,
    ));
    let (a, b) = (run_all(&shares), run_all(&weights));
    assert_eq!(b[0].endpoints[1].share, 0.3);
    assert_eq!(
        format!("{:?}", a[0].endpoints),
        format!("{:?}", b[0].endpoints)
    );
}

const BASE: &str = r#"name = "t"
seed = 1
duration = "5s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"

[app.workload]
arrivals = { poisson = 5.0 }
cpu = "10ms"

[[app.workload.endpoint]]
name = "home"
A

[[app.workload.endpoint]]
name = "cart"
B
"#;

/// `at`: the text of the line named; `^` before it: the line above (a table's header).
fn rejected(a: &str, b: &str, at: &str) -> String {
    let text = BASE
        .replace("\nA\n", &format!("\n{a}\n"))
        .replace("\nB\n", &format!("\n{b}\n"));
    let case = Case::new(&text);
    let line = match at.strip_prefix('^') {
        Some(below) => line_of(&text, below) - 1,
        None => line_of(&text, at),
    };
    let from_check = case.assert_rejected(&case.check(&[], &[]), Some(line));
    let from_run = case.assert_rejected(&case.run(&[], &[]), Some(line));
    assert_eq!(from_check, from_run);
    from_run
}

#[test]
fn bad_endpoints_are_located_errors() {
    let e = rejected("share = 0.5", "share = 0.4", "share = 0.4");
    assert!(
        e.contains("endpoint[1].share") && e.contains("sum to 0.9"),
        "{e}"
    );
    let e = rejected("share = 0.5\nweight = 2", "share = 0.5", "weight = 2");
    assert!(e.contains("not both"), "{e}");
    let e = rejected("share = 0.5", "weight = 2", "weight = 2");
    assert!(e.contains("not a mix"), "{e}");
    let e = rejected("weight = 0", "weight = 2", "weight = 0");
    assert!(e.contains("positive"), "{e}");
    let e = rejected("share = 1.5", "share = -0.5", "share = 1.5");
    assert!(e.contains("between 0 and 1"), "{e}");
    let e = rejected("share = 0.5", "cpu = \"3ms\"", "^name = \"cart\"");
    assert!(e.contains("needs `share`"), "{e}");
    let e = rejected(
        "share = 0.5",
        "share = 0.5\ncpu = { exponential = \"-3ms\" }",
        "cpu = { exp",
    );
    assert!(e.contains("endpoint[1].cpu"), "{e}");
    let text = BASE
        .replace("\nA\n", "\nshare = 0.5\n")
        .replace("name = \"cart\"\nB", "name = \"home\"\nshare = 0.5");
    let case = Case::new(&text);
    let e = case.assert_rejected(&case.check(&[], &[]), None);
    assert!(e.contains("named twice"), "{e}");
    let text = BASE
        .replace("name = \"home\"\nA", "name = \"\"\nshare = 0.5")
        .replace("\nB\n", "\nshare = 0.5\n");
    let case = Case::new(&text);
    let e = case.assert_rejected(&case.check(&[], &[]), Some(line_of(&text, "name = \"\"")));
    assert!(e.contains("empty"), "{e}");
}

const SWEPT: &str = r#"
seed = 3
duration = "3m"
warmup = "30s"
replications = 2

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-2x"
count = 2
processes = 2
threads = 3

[app.workload]
arrivals = { poisson = 20.0 }
cpu = { exponential = "15ms" }
wait = { exponential = "20ms" }

[[app.workload.endpoint]]
name = "home"
weight = 5

[[app.workload.endpoint]]
name = "checkout"
weight = 1
cpu = { exponential = "60ms" }
calls = [ { app = "payments", cpu = "5ms" } ]

[[app]]
name = "payments"

[[app.process]]
type = "web"
size = "standard-1x"

[sweep]
"app.shop.process.web.count" = [1, 2]
"#;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn endpoints_csv_merged_from_shards_is_the_single_runs_and_header_only_without_endpoints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = tmp.path().join("shop.toml");
    std::fs::write(&sc, SWEPT).expect("write");
    let whole = tmp.path().join("whole");
    ok(&["run", s(&sc), "--out", s(&whole), "--quiet"]);
    let base = tmp.path().join("sharded");
    for k in 0..3 {
        ok(&[
            "run",
            s(&sc),
            "--out",
            s(&base),
            "--shard",
            &format!("{k}/3"),
            "--quiet",
        ]);
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge".to_string()];
    args.extend((0..3).map(|k| format!("{}.shard-{k}-of-3", s(&base))));
    args.extend(["--out".into(), s(&merged).into(), "--quiet".into()]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for f in ["endpoints.csv", "summary.csv"] {
        let a = std::fs::read(whole.join(f)).expect("read");
        assert!(
            a == std::fs::read(merged.join(f)).expect("read"),
            "{f} differs"
        );
    }
    let text = std::fs::read_to_string(whole.join("endpoints.csv")).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    // 2 points x 2 replications x 2 endpoints.
    assert_eq!(lines.len(), 1 + 8, "{text}");
    assert!(
        lines[0].contains(",endpoint,share,requests,completed,"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains(",home,0.833333333,"), "{}", lines[1]);
    assert!(lines[2].contains(",checkout,0.166666667,"), "{}", lines[2]);
    // Without endpoints: the header alone.
    let plain = tmp.path().join("plain.toml");
    let cut = SWEPT.find("[[app.workload.endpoint]]").expect("endpoints");
    let sweep = SWEPT.find("[sweep]").expect("sweep");
    std::fs::write(&plain, format!("{}{}", &SWEPT[..cut], &SWEPT[sweep..])).expect("write");
    let out = tmp.path().join("plain");
    ok(&["run", s(&plain), "--out", s(&out), "--quiet"]);
    let text = std::fs::read_to_string(out.join("endpoints.csv")).expect("read");
    assert_eq!(text.lines().count(), 1, "{text}");
}

/// An endpoint's own memory and file actions: on one single-slot dyno the "report" requests
/// hold 600 MiB more than the dyno's 512 MiB allows, so the dyno is above its RAM (R14) exactly
/// while one is in service, a fraction lambda x share x its CPU of the time; the "upload"
/// requests write a file every time (exponential, mean 32 KiB), the others never.
#[test]
fn an_endpoints_memory_and_file_writes_are_its_own() {
    let text = r#"
seed = 9
duration = "2h"
warmup = "0s"
noise = "off"

[network]
latency = "0ms"

[lifecycle]
cycling = false

[[app]]
name = "shop"

[app.filesystem]
write_kb = 32

[[app.process]]
type = "web"
size = "standard-1x"
concurrency = 1
memory = { base_mb = 100, swap_slowdown = 1 }

[app.workload]
arrivals = { poisson = 10.0 }
cpu = { constant = "10ms" }

[[app.workload.endpoint]]
name = "home"
share = 0.3

[[app.workload.endpoint]]
name = "report"
share = 0.4
cpu = { constant = "40ms" }
per_request_mb = 600

[[app.workload.endpoint]]
name = "upload"
share = 0.3
filesystem = { write_probability = 1.0 }
"#;
    let results = run_all(&scenario(text));
    let r = &results[0];
    let dyno = &r.dynos[0];
    let r14_fraction = dyno.r14_s / 7200.0;
    let expected = 10.0 * 0.4 * 0.040;
    let uploads = r.endpoints[2].requests as f64;
    let per_upload_kib = dyno.bytes_written as f64 / uploads / 1024.0;
    eprintln!(
        "R14 {r14_fraction:.4} of the time (lambda x share x CPU = {expected}); {per_upload_kib:.2} KiB per upload (32)"
    );
    assert!(
        (r14_fraction - expected).abs() < 0.01,
        "{r14_fraction} vs {expected}"
    );
    assert!(rel_err(per_upload_kib, 32.0) < 0.03, "{per_upload_kib} KiB");
    assert_eq!(dyno.restarts_r15, 0, "below the R15 factor");
}

#[test]
fn endpoint_file_actions_need_the_apps_filesystem() {
    let text = BASE
        .replace(
            "\nA\n",
            "\nshare = 0.5\nfilesystem = { write_probability = 0.5 }\n",
        )
        .replace("\nB\n", "\nshare = 0.5\n");
    let case = Case::new(&text);
    let e = case.assert_rejected(&case.check(&[], &[]), Some(line_of(&text, "filesystem = ")));
    assert!(e.contains("[app.filesystem]"), "{e}");
}
