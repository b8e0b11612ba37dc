//! A long arrival trace is streamed, not loaded (issue 17, point 1): replaying a 2-million-row
//! trace takes about the memory of replaying a 20,000-row one. The peak resident set of each
//! run is the child's own (`wait4`), so other tests' processes do not count.

mod cli_support;

use std::io::Write;
use std::path::Path;

/// A trace of `rows` arrivals, 1 ms apart (1000 requests/s), with per-request CPU.
fn write_trace(path: &Path, rows: u64) {
    let f = std::fs::File::create(path).expect("create trace");
    let mut w = std::io::BufWriter::new(f);
    writeln!(w, "time_s,cpu_s").expect("write");
    for i in 0..rows {
        writeln!(w, "{}.{:03},0.0002", i / 1000, i % 1000).expect("write");
    }
    w.flush().expect("flush");
}

/// Peak RSS (KiB) of `dynosim run` on a scenario replaying a trace of `rows` rows.
fn peak_rss_kib(dir: &Path, rows: u64) -> i64 {
    let trace = dir.join(format!("trace-{rows}.csv"));
    write_trace(&trace, rows);
    let scenario = dir.join(format!("s-{rows}.toml"));
    std::fs::write(
        &scenario,
        format!(
            r#"name = "m"
seed = 1
duration = "{}s"
window = "1m"
noise = "off"
[[app]]
name = "shop"
[[app.process]]
type = "web"
size = "performance-l"
count = 2
concurrency = 50
[app.workload]
arrivals = {{ trace = "trace-{rows}.csv", column = "time_s", cpu = "cpu_s" }}
cpu = {{ constant = "1ms" }}
"#,
            rows / 1000 + 1
        ),
    )
    .expect("write scenario");
    let out = dir.join(format!("out-{rows}"));
    // Reaped by `wait4` below, which also gives its own peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = cli_support::command(&[
        "run",
        &scenario.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--quiet",
    ])
    .spawn()
    .expect("spawn");
    let mut status = 0;
    // SAFETY: rusage is plain data, filled in by the kernel; the pid is our own child's.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "run failed"
    );
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary");
    assert!(
        summary.contains(&format!(",{rows},{rows},0,")),
        "every row arrived and completed: {summary}"
    );
    usage.ru_maxrss
}

#[test]
fn a_two_million_row_trace_replays_in_flat_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = peak_rss_kib(dir.path(), 20_000);
    let big = peak_rss_kib(dir.path(), 2_000_000);
    eprintln!("peak RSS: {small} KiB for 20k rows, {big} KiB for 2M rows");
    // The 2M-row file is 26 MB; loading it, or keeping a record per request, would add more
    // than 16 MiB.
    assert!(big < small + 16 * 1024, "{big} KiB vs {small} KiB");
}
