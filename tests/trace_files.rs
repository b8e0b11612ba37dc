//! Trace files named by a scenario (issue 14, point 3): the file may be anything a hostile or
//! careless user points at. Nothing of its contents reaches stderr except a short numeric
//! excerpt, non-regular and kernel files are refused at once (a FIFO used to hang `check`,
//! `/dev/zero` was read until the OOM killer came), lines are bounded, and every error names the
//! scenario file, line and key.

mod scenario_support;

use scenario_support::{Case, line_of};

/// A scenario whose CPU demand comes from `file`'s column `cpu_ms`.
fn scenario(file: &str) -> String {
    format!(
        r#"name = "t"
seed = 1
duration = "2s"

[[app]]
name = "shop"

[[app.process]]
type = "web"
size = "standard-1x"

[app.workload]
arrivals = {{ poisson = 5.0 }}
cpu = {{ empirical = {{ file = "{file}", column = "cpu_ms" }} }}
"#
    )
}

/// Both `check` and `run` reject the case at the `cpu = ...` line with key `key`, and neither
/// prints any of `secrets`. Returns the error line.
fn rejected_without_leak(case: &Case, text: &str, key: &str, secrets: &[&str]) -> String {
    rejected_without_leak_env(case, text, key, secrets, &[])
}

fn rejected_without_leak_env(
    case: &Case,
    text: &str,
    key: &str,
    secrets: &[&str],
    env: &[(&str, &str)],
) -> String {
    let line = line_of(text, "empirical");
    let mut first = String::new();
    for r in [case.check(&[], env), case.run(&[], env)] {
        first = case.assert_rejected(&r, Some(line));
        assert!(
            first.contains(&format!("key `app[0].workload.cpu.empirical.{key}`")),
            "{first}"
        );
        let all = format!("{}{}", r.stdout(), r.stderr());
        for s in secrets {
            assert!(!all.contains(s), "`{s}` leaked:\n{all}");
        }
    }
    first
}

#[test]
fn a_password_file_is_not_echoed() {
    // What /etc/shadow looks like; the header row is the first account.
    let shadow = "root:$6$Zq8saltZq$S3cr3tHashS3cr3tHash:19700:0:99999:7:::\n\
                  daemon:*:19700:0:99999:7:::\n\
                  alice:$6$pepper$AnotherSecretHash:19701:0:99999:7:::\n";
    let text = scenario("shadow");
    let case = Case::new(&text).with_file("shadow", shadow);
    let e = rejected_without_leak(
        &case,
        &text,
        "column",
        &["S3cr3t", "root", "daemon", "alice", "pepper", "19700"],
    );
    assert!(e.contains("no column `cpu_ms`"), "{e}");
}

#[test]
fn cells_that_are_not_numbers_are_not_echoed() {
    // A file with the right header but secrets in the cells, quoted or not.
    let csv = "cpu_ms,note\n1.5,ok\n\"hunter2-password\",x\n";
    let text = scenario("t.csv");
    let case = Case::new(&text).with_file("t.csv", csv);
    let e = rejected_without_leak(&case, &text, "file", &["hunter2"]);
    assert!(
        e.contains("line 3, column 1 (`cpu_ms`): expected a number"),
        "{e}"
    );
    // A quote left open: the rest of the line is not shown either.
    let csv = "cpu_ms\n1\n\"AKIA-SECRET-KEY,2\n";
    let case = Case::new(&text).with_file("t.csv", csv);
    let e = rejected_without_leak(&case, &text, "file", &["AKIA", "SECRET"]);
    assert!(
        e.contains("line 3") && e.contains("quote is left open"),
        "{e}"
    );
    // A number is shown, cut to 12 characters.
    let csv = "cpu_ms\n-123456789012345678\n";
    let case = Case::new(&text).with_file("t.csv", csv);
    let e = rejected_without_leak(&case, &text, "file", &["12345678901234"]);
    assert!(e.contains("found `-12345678901...`"), "{e}");
}

#[test]
fn the_process_environment_is_refused_unread() {
    let text = scenario("/proc/self/environ");
    let case = Case::new(&text);
    let canary = "canary-7f3a9c1e-secret";
    let e = rejected_without_leak_env(
        &case,
        &text,
        "file",
        &[canary],
        &[("DYNOSIM_TEST_SECRET", canary)],
    );
    assert!(e.contains("procfs"), "{e}");
}

#[test]
fn a_fifo_is_refused_at_once() {
    let text = scenario("trace.fifo");
    let case = Case::new(&text);
    nix::unistd::mkfifo(
        &case.path().join("trace.fifo"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .expect("mkfifo");
    // No writer ever opens it: a reader that waited would hang until the harness kills it.
    let e = rejected_without_leak(&case, &text, "file", &[]);
    assert!(
        e.contains("is a FIFO; a trace must be a regular file"),
        "{e}"
    );
}

#[test]
fn devices_and_directories_are_refused() {
    for (path, what) in [
        ("/dev/zero", "a device"),
        ("/dev/urandom", "a device"),
        ("/dev/null", "a device"),
    ] {
        let text = scenario(path);
        let case = Case::new(&text);
        let e = rejected_without_leak(&case, &text, "file", &[]);
        assert!(e.contains(what), "{path}: {e}");
    }
    let text = scenario("traces");
    let case = Case::new(&text);
    std::fs::create_dir(case.path().join("traces")).expect("mkdir");
    let e = rejected_without_leak(&case, &text, "file", &[]);
    assert!(e.contains("a directory"), "{e}");
}

#[test]
fn a_line_past_1_mib_is_refused_with_its_number() {
    let mut csv = b"cpu_ms\n1\n".to_vec();
    csv.extend(std::iter::repeat_n(b'9', (1 << 20) + 1));
    csv.push(b'\n');
    let text = scenario("long.csv");
    let case = Case::new(&text).with_file("long.csv", &csv);
    let e = rejected_without_leak(&case, &text, "file", &["99999999999999"]);
    assert!(e.contains("line 3: the line is longer than 1 MiB"), "{e}");
}

#[test]
fn a_good_trace_is_read_and_runs() {
    let csv = "\u{feff}id, cpu_ms \r\n0,1.5\r\n\r\n1,\"2.5\"\r\n";
    let text = scenario("good.csv");
    let case = Case::new(&text).with_file("good.csv", csv);
    let r = case.check(&[], &[]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    // mean CPU of 1.5 and 2.5 ms.
    assert!(r.stdout().contains("mean CPU 2.0 ms"), "{}", r.stdout());
}
