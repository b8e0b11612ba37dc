//! `dynosim import heroku-router`: the sample lines of every framing (planner-anchors.md 3.3,
//! in tests/fixtures/router-lines.log with documentation addresses and hosts), the shipped
//! synthetic log, and the round trip that matters: a scenario imported from a log, simulated
//! at the logged formation, gives the log's p50/p95/p99 within 10%.

mod cli_support;

use cli_support::dynosim;
use dynosim::import::router_log::{Framing, Level, Line, parse_line};
use dynosim::import::synthetic::SyntheticLog;
use std::fs;
use std::path::{Path, PathBuf};

const FIXTURE: &str = "tests/fixtures/router-lines.log";
const SHIPPED: &str = "scenarios/router-logs/storefront.log";

fn fixture_lines() -> Vec<String> {
    fs::read_to_string(FIXTURE)
        .expect("fixture")
        .lines()
        .map(str::to_string)
        .collect()
}

fn router(line: &str) -> dynosim::import::router_log::RouterLine {
    match parse_line(line) {
        Ok(Line::Router(r)) => r,
        other => panic!("not a router line: {other:?}: {line}"),
    }
}

#[test]
fn every_sample_line_of_every_framing_parses() {
    let lines = fixture_lines();
    assert_eq!(lines.len(), 46);
    let mut framings = std::collections::BTreeMap::new();
    let mut others = 0;
    for (i, l) in lines.iter().enumerate() {
        match parse_line(l) {
            Ok(Line::Router(r)) => *framings.entry(format!("{:?}", r.framing)).or_insert(0) += 1,
            Ok(Line::Other) => others += 1,
            other => panic!("line {}: {other:?}", i + 1),
        }
    }
    // The API `Scaled to` line and the dyno's load sample are other sources.
    assert_eq!(others, 2);
    assert_eq!(framings["HerokuLogs"], 34, "{framings:?}");
    assert_eq!(framings["Drain"], 4, "{framings:?}");
    assert_eq!(framings["Papertrail"], 2, "{framings:?}");
    assert_eq!(framings["Viewer"], 1, "{framings:?}");
    assert_eq!(framings["Bare"], 3, "{framings:?}");

    // Dev Center's H12: quoted path, unquoted fwd, an RFC 3339 offset.
    let h12 = router(&lines[2]);
    assert_eq!(h12.code.as_deref(), Some("H12"));
    assert_eq!(h12.level, Level::Error);
    assert_eq!((h12.connect_ms, h12.service_ms), (Some(6.0), Some(30001.0)));
    assert_eq!(h12.status, Some(503));
    assert_eq!(h12.dyno.as_ref().map(|d| d.number), Some(1));
    let ts = h12.timestamp.expect("ts");
    // 2010-10-06T21:51:37-07:00 is 2010-10-07T04:51:37Z.
    assert_eq!(ts.micros, 1_286_427_097_000_000);
    assert!(!ts.subsecond);
    // H19: no service; H24: empty status; H25: durations without a unit.
    assert_eq!(router(&lines[8]).service_ms, None);
    assert_eq!(router(&lines[11]).status, None);
    let h25 = router(&lines[12]);
    assert_eq!((h25.connect_ms, h25.service_ms), (Some(0.0), Some(1.0)));
    assert!(h25.timestamp.expect("ts").subsecond);
    // H31 as reported, without framing: parsed, but it has no time.
    let h31 = router(&lines[16]);
    assert_eq!((h31.framing, h31.timestamp), (Framing::Bare, None));
    assert_eq!(h31.code.as_deref(), Some("H31"));
    // at=info with a code (maintenance) is still an error line.
    assert_eq!(router(&lines[17]).code.as_deref(), Some("H80"));
    // 2013: unquoted path with a query string.
    assert_eq!(router(&lines[25]).path, "/users?sort=&direction=&role=");
    // Papertrail: whole seconds.
    let pt = router(&lines[27]);
    assert_eq!(pt.framing, Framing::Papertrail);
    assert!(!pt.timestamp.expect("ts").subsecond);
    // The pre-2013 form.
    let legacy = router(&lines[35]);
    assert_eq!(legacy.code.as_deref(), Some("H12"));
    assert_eq!(
        (legacy.method.as_str(), legacy.path.as_str()),
        ("POST", "/autoprovision/58")
    );
    assert_eq!(legacy.service_ms, Some(30000.0));
    // A viewer's `- -`, a drain's octet count and PRI.
    assert_eq!(router(&lines[36]).dyno.as_ref().map(|d| d.number), Some(2));
    let drain = router(&lines[37]);
    assert_eq!(drain.framing, Framing::Drain);
    assert_eq!((drain.method.as_str(), drain.status), ("POST", Some(201)));
    assert_eq!(drain.timestamp.expect("ts").micros, 1_427_975_554_520_012);
    // Router 2.0 keys, a websocket.
    assert_eq!(router(&lines[22]).status, Some(101));
    assert_eq!(router(&lines[43]).connect_ms, Some(7001.0));
}

#[test]
fn bad_lines_name_their_key() {
    let cases = [
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=12xs status=200 bytes=1",
            "service",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/ab dyno=web.1",
            "path",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=3ms",
            "status",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web connect=1ms service=3ms status=200",
            "dyno",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=get path=\"/\" dyno=web.1 connect=1ms service=3ms status=200",
            "method",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=3ms status=2000",
            "status",
        ),
        (
            "2026-11-02T14:00:00.1+00:00 heroku[router]: at=debug method=GET path=\"/\" dyno=web.1 connect=1ms service=3ms status=200",
            "at",
        ),
    ];
    for (line, key) in cases {
        let e = parse_line(line).expect_err(line);
        assert_eq!(e.key, Some(key), "{line}: {e}");
    }
    let e = parse_line("garbage from somewhere").expect_err("garbage");
    assert_eq!(e.key, None);
    assert_eq!(parse_line("   ").expect("blank"), Line::Blank);
}

#[test]
fn the_shipped_log_is_the_generators_output() {
    let text = SyntheticLog::storefront().generate();
    let shipped = fs::read_to_string(SHIPPED).expect("shipped log");
    assert!(shipped.len() <= 2 << 20, "{} bytes", shipped.len());
    assert!(
        text == shipped,
        "{SHIPPED} is not the generator's output: `cargo run --release --example router_log -- {SHIPPED}`"
    );
}

/// A temporary folder and the shipped log's path.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED);
    (tmp, log)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn ok(args: &[&str]) -> (String, String) {
    let o = dynosim(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "{args:?}: {out}\n{err}");
    (out, err)
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("import.json")).expect("import.json"))
        .expect("json")
}

/// The mean over the replications' summary rows of a column.
fn mean_of(summary: &Path, col: &str) -> f64 {
    let mut r = csv::Reader::from_path(summary).expect("summary");
    let i = r
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == col)
        .expect("column");
    let v: Vec<f64> = r
        .records()
        .map(|x| x.expect("row")[i].parse().expect("number"))
        .collect();
    v.iter().sum::<f64>() / v.len() as f64
}

fn assert_within_10_percent(run: &Path, m: &serde_json::Value) {
    for k in ["p50_ms", "p95_ms", "p99_ms"] {
        let sim = mean_of(&run.join("summary.csv"), k);
        let log = m["observed"][k].as_f64().expect("observed");
        let rel = sim / log - 1.0;
        assert!(
            rel.abs() <= 0.10,
            "{k}: simulated {sim:.1} ms, log {log:.1} ms ({rel:+.3})"
        );
    }
}

/// The acceptance test of the issue: imported at the logged formation (3 web dynos, one
/// request at a time), the scenario's simulated percentiles are the log's within 10%, and its
/// arrival rates are the log's minute by minute.
#[test]
fn an_imported_scenario_reproduces_the_logs_percentiles_and_rates() {
    let (tmp, log) = workdir();
    let out = tmp.path().join("storefront");
    let (stdout, stderr) = ok(&[
        "import",
        "heroku-router",
        s(&log),
        "--out",
        s(&out),
        "--size",
        "standard-2x",
        "--concurrency",
        "1",
    ]);
    assert!(stdout.contains("formation 3 x web"), "{stdout}");
    // The lines the shipper cut short are reported with their numbers, and skipped.
    assert!(
        stderr.contains("storefront.log:779: key `status`: missing"),
        "{stderr}"
    );
    let m = manifest(&out);
    assert_eq!(m["formation"][0]["process"], "web");
    assert_eq!(m["formation"][0]["count"], 3);
    assert_eq!(m["demand_method"], "dyno_queue_replay");
    assert_eq!(m["sources"][0]["bad_lines"], 8);
    assert!(m["sources"][0]["other_lines"].as_u64().expect("n") > 100);
    assert_eq!(m["errors"]["H26"], 8);
    assert_eq!(m["errors"]["H27"], 11);
    let requests = m["requests"].as_u64().expect("requests");
    let per_minute: Vec<u64> = m["arrivals_per_minute"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_u64().expect("n"))
        .collect();
    assert_eq!(per_minute.iter().sum::<u64>(), requests);
    // Ids collapsed: one endpoint per product page, per order and per asset bundle.
    let names: Vec<&str> = m["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    for want in [
        "GET /products/:id",
        "GET /products/:id/reviews",
        "GET /orders/:uuid",
        "GET /assets/vendor-:hex.js",
        "GET /search",
        "POST /checkout",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert_eq!(names.len(), 11, "{names:?}");

    // The stages integrate to each minute's arrivals.
    let text = fs::read_to_string(out.join("scenario.toml")).expect("scenario");
    assert!(text.contains("OBSERVED"), "{text}");
    let doc: toml::Table = text.parse().expect("toml");
    let stages = doc["app"][0]["workload"]["arrivals"]["stages"]
        .as_array()
        .expect("stages");
    let secs = |v: &toml::Value| -> f64 {
        v.as_str()
            .and_then(|t| t.strip_suffix('s'))
            .expect("seconds")
            .parse()
            .expect("number")
    };
    for (k, pair) in stages.chunks(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        let rate = a["rate"].as_float().expect("rate");
        let n = rate * (secs(&b["at"]) - secs(&a["at"]));
        assert!((n - per_minute[k] as f64).abs() < 0.01, "minute {k}: {n}");
    }

    let (check, _) = ok(&["check", s(&out.join("scenario.toml"))]);
    assert!(check.contains("3 x standard-2x (concurrency 1)"), "{check}");
    assert!(!check.contains("warning"), "{check}");
    let run = tmp.path().join("run");
    ok(&[
        "run",
        s(&out.join("scenario.toml")),
        "--out",
        s(&run),
        "--replications",
        "20",
        "--quiet",
    ]);
    assert_within_10_percent(&run, &m);
}

/// `--trace`: every request replayed with its endpoint (the trace's endpoint column) and demand.
#[test]
fn a_trace_import_replays_each_request_with_its_endpoint() {
    let (tmp, log) = workdir();
    let out = tmp.path().join("traced");
    ok(&[
        "import",
        "heroku-router",
        s(&log),
        "--out",
        s(&out),
        "--size",
        "standard-2x",
        "--concurrency",
        "1",
        "--trace",
    ]);
    let m = manifest(&out);
    assert_eq!(m["arrivals"], "trace");
    let trace = fs::read_to_string(out.join("traces/arrivals.csv")).expect("trace");
    assert_eq!(
        trace.lines().count() as u64 - 1,
        m["requests"].as_u64().expect("n")
    );
    ok(&["check", s(&out.join("scenario.toml"))]);
    let run = tmp.path().join("run");
    ok(&[
        "run",
        s(&out.join("scenario.toml")),
        "--out",
        s(&run),
        "--replications",
        "20",
        "--quiet",
    ]);
    // Each endpoint gets exactly its rows of the trace, in every replication.
    let mut r = csv::Reader::from_path(run.join("endpoints.csv")).expect("endpoints");
    let h = r.headers().expect("h").clone();
    let col = |n: &str| h.iter().position(|x| x == n).expect(n);
    let (ep, req, rep) = (col("endpoint"), col("requests"), col("replication"));
    let want: std::collections::HashMap<String, u64> = m["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name").to_string(),
                e["requests"].as_u64().expect("n"),
            )
        })
        .collect();
    let mut rows = 0;
    for rec in r.records() {
        let rec = rec.expect("row");
        assert_eq!(
            rec[req].parse::<u64>().expect("n"),
            want[&rec[ep]],
            "{} in replication {}",
            &rec[ep],
            &rec[rep]
        );
        rows += 1;
    }
    assert_eq!(rows, 20 * want.len());
    assert_within_10_percent(&run, &m);
}

/// Client addresses, hosts and request ids of the log appear in no file of the folder.
#[test]
fn nothing_identifying_is_copied() {
    let (tmp, log) = workdir();
    let out = tmp.path().join("private");
    ok(&[
        "import",
        "heroku-router",
        s(&log),
        "--out",
        s(&out),
        "--trace",
    ]);
    let text = fs::read_to_string(&log).expect("log");
    let mut secrets: Vec<String> = vec!["example.com".into(), "192.0.2.".into()];
    for key in ["request_id=", "fwd=\""] {
        for part in text.split(key).skip(1).step_by(97) {
            let v: String = part
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
            secrets.push(v);
        }
    }
    assert!(secrets.len() > 100);
    let mut files = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 5, "{files:?}");
    for f in files {
        let body = fs::read_to_string(&f).expect("text");
        for sct in &secrets {
            assert!(
                !body.contains(sct.as_str()),
                "{} holds `{sct}`",
                f.display()
            );
        }
    }
}

/// The same requests in other framings give the same scenario; Papertrail's whole seconds give
/// the upper-bound demand, said so in the file.
#[test]
fn framings_are_interchangeable() {
    let (tmp, log) = workdir();
    let text = fs::read_to_string(&log).expect("log");
    // A Logplex drain and a log viewer, line by line, mixed.
    let mut mixed = String::new();
    for (i, l) in text.lines().enumerate() {
        match (l.split_once(" heroku[router]: "), i % 3) {
            (Some((ts, msg)), 0) => {
                mixed += &format!(
                    "{} <158>1 {ts} host heroku router - {msg}\n",
                    msg.len() + 60
                )
            }
            (Some((ts, msg)), 1) => {
                mixed += &format!("{} heroku router - - {msg}\n", ts.replacen('T', " ", 1))
            }
            _ => mixed += &format!("{l}\n"),
        }
    }
    let mixed_log = tmp.path().join("storefront.log");
    fs::write(&mixed_log, mixed).expect("write");
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    ok(&["import", "heroku-router", s(&log), "--out", s(&a)]);
    ok(&["import", "heroku-router", s(&mixed_log), "--out", s(&b)]);
    for f in [
        "scenario.toml",
        "service/all.csv",
        "service/01-get-products-id.csv",
    ] {
        assert_eq!(
            fs::read(a.join(f)).expect("a"),
            fs::read(b.join(f)).expect("b"),
            "{f}"
        );
    }

    // Papertrail: `Nov 02 14:00:00 storefront heroku/router: ...`.
    let mut pt = String::new();
    for l in text.lines() {
        if let Some((ts, msg)) = l.split_once(" heroku[router]: ") {
            let t: jiff::Timestamp = ts.parse().expect("ts");
            pt += &format!(
                "{} storefront heroku/router: {msg}\n",
                t.strftime("%b %d %H:%M:%S")
            );
        }
    }
    let pt_log = tmp.path().join("pt.log");
    fs::write(&pt_log, pt).expect("write");
    let c = tmp.path().join("c");
    ok(&["import", "heroku-router", s(&pt_log), "--out", s(&c)]);
    assert_eq!(manifest(&c)["demand_method"], "service_upper_bound");
    let text = fs::read_to_string(c.join("scenario.toml")).expect("scenario");
    assert!(text.contains("UPPER BOUND"), "{text}");
    ok(&["check", s(&c.join("scenario.toml"))]);
}

/// The error and odd-framing sample lines, put on one day: every error line is counted by its
/// code, the lines without a time are reported by number, and the scenario is one `check`
/// accepts.
#[test]
fn error_lines_are_counted_and_lines_without_a_time_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut log = String::new();
    let mut want = std::collections::BTreeMap::<String, u64>::new();
    for (i, l) in fixture_lines().iter().enumerate() {
        let Ok(Line::Router(r)) = parse_line(l) else {
            log += l;
            log.push('\n');
            continue;
        };
        // Same message, a time on 2026-11-02 (one line every 5 s) in the `heroku logs` framing.
        let msg = l
            .split_once("heroku[router]: ")
            .or_else(|| l.split_once("heroku/router: "))
            .or_else(|| l.split_once(" heroku router - "))
            .map(|(_, m)| m.trim_start_matches("- ").to_string());
        match (msg, r.timestamp) {
            (Some(m), Some(_)) => {
                if let Some(c) = &r.code {
                    *want.entry(c.clone()).or_default() += 1;
                }
                log += &format!(
                    "2026-11-02T14:{:02}:{:02}.000000+00:00 heroku[router]: {m}\n",
                    i * 5 / 60,
                    i * 5 % 60
                );
            }
            _ => {
                log += l;
                log.push('\n');
            }
        }
    }
    let path = tmp.path().join("samples.log");
    fs::write(&path, &log).expect("write");
    let out = tmp.path().join("samples");
    let (_, stderr) = ok(&["import", "heroku-router", s(&path), "--out", s(&out)]);
    // Lines 17 (H31 as reported), 30 and 31 have no time.
    for n in [17, 30, 31] {
        assert!(
            stderr.contains(&format!(
                "samples.log:{n}: a router message without a timestamp"
            )),
            "{n}: {stderr}"
        );
    }
    let m = manifest(&out);
    let got: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(m["errors"].clone()).expect("errors");
    assert_eq!(got, want);
    assert_eq!(got["H12"], 7);
    assert_eq!(m["sources"][0]["bad_lines"], 3);
    assert_eq!(m["sources"][0]["other_lines"], 2);
    assert_eq!(m["websockets"], 1);
    ok(&["check", s(&out.join("scenario.toml"))]);
}

#[test]
fn unusable_logs_and_refused_folders_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let junk = tmp.path().join("junk.log");
    fs::write(
        &junk,
        "hello\n2026-11-02T14:00:00.1+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=oops status=200\n",
    )
    .expect("write");
    let out = tmp.path().join("out");
    let o = dynosim(&["import", "heroku-router", s(&junk), "--out", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("junk.log"), "{err}");
    assert!(err.contains("no Heroku router request line"), "{err}");
    assert!(err.contains(":1: neither a Heroku router line"), "{err}");
    assert!(!out.exists(), "nothing written");
    // The key of a bad line is named (line 2 here, in the warnings of a log that has a good one).
    let good = "2026-11-02T14:00:01.5+00:00 heroku[router]: at=info method=GET path=\"/\" dyno=web.1 connect=1ms service=5ms status=200\n";
    fs::write(&junk, fs::read_to_string(&junk).expect("read") + good).expect("write");
    let (_, stderr) = ok(&["import", "heroku-router", s(&junk), "--out", s(&out)]);
    assert!(
        stderr.contains("junk.log:2: key `service`: expected milliseconds"),
        "{stderr}"
    );
    assert!(!stderr.contains("oops"), "never echoes a value: {stderr}");

    // A project folder is not replaced, nor a run's output folder; an earlier import is.
    let proj = tmp.path().join("proj");
    fs::create_dir(&proj).expect("mkdir");
    fs::write(proj.join("notes.txt"), "keep").expect("write");
    let o = dynosim(&["import", "heroku-router", s(&junk), "--out", s(&proj)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("notes.txt"));
    assert_eq!(
        fs::read_to_string(proj.join("notes.txt")).expect("kept"),
        "keep"
    );
    ok(&[
        "import",
        "heroku-router",
        s(&junk),
        "--out",
        s(&out),
        "--name",
        "again",
    ]);
    assert!(
        fs::read_to_string(out.join("scenario.toml"))
            .expect("s")
            .contains("name = \"again\"")
    );
    let run = tmp.path().join("run");
    ok(&[
        "run",
        s(&out.join("scenario.toml")),
        "--out",
        s(&run),
        "--quiet",
    ]);
    let o = dynosim(&["import", "heroku-router", s(&junk), "--out", s(&run)]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The log itself inside the folder.
    let inside = out.join("service").join("all.csv");
    let o = dynosim(&["import", "heroku-router", s(&inside), "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is inside it"));
    // Flags.
    for (flag, value, says) in [
        ("--size", "standard-3x", "did you mean"),
        ("--concurrency", "0", "--concurrency"),
        ("--name", ".hidden", "--name"),
    ] {
        let o = dynosim(&[
            "import",
            "heroku-router",
            s(&junk),
            "--out",
            s(&out),
            flag,
            value,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(says), "{flag}: {err}");
    }
    // A missing log.
    let o = dynosim(&[
        "import",
        "heroku-router",
        "/nonexistent/x.log",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
}
