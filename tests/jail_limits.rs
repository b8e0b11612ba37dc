//! Resource limits enforced by the kernel, measured through the dyno's own cgroup statistics:
//! CPU quota, CPU weights on a shared pinned CPU, memory limit and OOM kill, tmpfs charged to
//! memory, the pids limit against a fork bomb, and rlimits.
//!
//! The tests in this file run one at a time (a lock), because they measure CPU time on a
//! 2-core machine and would disturb each other; cargo already runs test binaries one after
//! another. Measurements use cgroup CPU time over a wall-clock window, with bounds checked
//! strictly on the side that would reveal a broken limit and a few retries on the side that
//! only host load can cause (a starved dyno uses less than its quota).

mod jail_support;

use dynosim::exec::{Dyno, ExitStatus, JailConfig, Limits, Output, Rlimit, RlimitResource, Stats};
use dynosim::model::Catalog;
use jail_support::{assert_no_leaks, marker, name};
use std::ffi::OsString;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// `sh -c SCRIPT` with its output discarded (these tests read cgroup statistics, not output).
fn sh_config(name: &str, script: &str) -> JailConfig {
    let mut c = jail_support::sh_config(name, script);
    c.stdout = Output::Null;
    c
}

fn steal_ticks() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(8).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU used per second of wall time by each dyno over `window`, after a warm-up.
fn measure(dynos: &[&Dyno], warmup: Duration, window: Duration) -> (Vec<f64>, Vec<Stats>) {
    std::thread::sleep(warmup);
    let before: Vec<Stats> = dynos.iter().map(|d| d.stats().expect("stats")).collect();
    let t0 = Instant::now();
    std::thread::sleep(window);
    let after: Vec<Stats> = dynos.iter().map(|d| d.stats().expect("stats")).collect();
    let wall = t0.elapsed().as_secs_f64();
    let rates = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a.cpu_usage - b.cpu_usage).as_secs_f64() / wall)
        .collect();
    (rates, after)
}

/// A busy loop under a quota uses the quota (within 5 %) and is throttled.
fn quota_case(cores: f64, loops: usize) {
    let n = name("lim-quota");
    let script = (0..loops)
        .map(|_| "(while :; do :; done) &")
        .collect::<Vec<_>>()
        .join(" ")
        + " wait";
    let mut last = 0.0;
    for attempt in 1..=3 {
        let mut cfg = sh_config(&n, &script);
        cfg.limits.cpu_quota = Some(cores);
        let steal0 = steal_ticks();
        let mut d = Dyno::start(&cfg).expect("start");
        let (rates, after) = measure(&[&d], Duration::from_millis(500), Duration::from_secs(4));
        let exit = d.kill().expect("kill");
        let used = rates[0] / cores;
        eprintln!(
            "quota {cores} cores x {loops} loop(s), attempt {attempt}: used {:.4} cores = {:.1} % of quota; throttled {}/{} periods; steal {} ticks",
            rates[0],
            used * 100.0,
            after[0].cpu_throttled_periods,
            after[0].cpu_periods,
            steal_ticks() - steal0
        );
        assert!(exit.leftover.is_none());
        assert!(
            used <= 1.05,
            "a busy loop used {:.1} % of a {cores}-core quota",
            used * 100.0
        );
        assert!(
            after[0].cpu_throttled_periods > 0 && after[0].cpu_throttled > Duration::ZERO,
            "{:?}",
            after[0]
        );
        last = used;
        if used >= 0.95 {
            return;
        }
    }
    panic!(
        "a busy loop only got {:.1} % of its {cores}-core quota in 3 attempts (is the machine overloaded?)",
        last * 100.0
    );
}

/// Two dynos busy on one pinned CPU get CPU time in proportion to their weights (within 10 %).
/// The weights come from the catalog: standard-2x has twice standard-1x's share.
fn weights_case() {
    let catalog = Catalog::builtin();
    let s1 = catalog.get("standard-1x").expect("standard-1x");
    let s2 = catalog.get("standard-2x").expect("standard-2x");
    let want = s2.cpu_share / s1.cpu_share;
    let mut last = 0.0;
    for attempt in 1..=3 {
        let mk = |size, label: &str| {
            let mut cfg = sh_config(&name(label), "while :; do :; done");
            cfg.limits = Limits {
                cpuset: Some("0".into()),
                ..Limits::for_size(size)
            };
            cfg
        };
        let mut a = Dyno::start(&mk(s1, "lim-w1")).expect("start 1x");
        let mut b = Dyno::start(&mk(s2, "lim-w2")).expect("start 2x");
        let (rates, _) = measure(
            &[&a, &b],
            Duration::from_millis(500),
            Duration::from_secs(4),
        );
        a.kill().expect("kill");
        b.kill().expect("kill");
        let ratio = rates[1] / rates[0];
        eprintln!(
            "weights on cpu 0, attempt {attempt}: 1x {:.3} cores, 2x {:.3} cores, ratio {ratio:.3} (want {want})",
            rates[0], rates[1]
        );
        last = ratio;
        if (ratio / want - 1.0).abs() <= 0.10 {
            return;
        }
    }
    panic!("CPU time ratio {last:.3}, want {want} within 10 %");
}

#[test]
fn cpu_quota_and_weights() {
    require_jail!();
    let _g = serial();
    quota_case(0.2, 1);
    quota_case(0.5, 2);
    weights_case();
}

#[test]
fn memory_limit_ends_in_a_reported_oom_kill() {
    require_jail!();
    let _g = serial();
    let n = name("lim-oom");
    let mut cfg = JailConfig::new(
        &n,
        [
            "perl",
            "-e",
            "$x = 'a' x (200 << 20); print length($x), qq(\\n)",
        ]
        .iter()
        .map(OsString::from)
        .collect(),
    );
    cfg.limits.memory_bytes = Some(64 << 20);
    cfg.stdout = Output::Null;
    let mut d = Dyno::start(&cfg).expect("start");
    let exit = d.wait().expect("wait");
    eprintln!("oom: {exit:?}");
    assert_eq!(exit.status, ExitStatus::Signaled(libc::SIGKILL));
    assert!(exit.stats.oom_kills >= 1, "{:?}", exit.stats);
    let peak = exit.stats.memory_peak.unwrap_or(0);
    assert!(peak > 48 << 20 && peak <= 64 << 20, "peak {peak}");

    // Under the limit, the same program is fine.
    cfg.command[2] = OsString::from("$x = 'a' x (16 << 20); exit 0");
    let exit = Dyno::start(&cfg).expect("start").wait().expect("wait");
    assert_eq!(exit.status, ExitStatus::Exited(0));
    assert_eq!(exit.stats.oom_kills, 0);

    // The binary reports it.
    let r = jail_support::jail(
        &[
            "--name",
            &n,
            "--memory",
            "64M",
            "--",
            "perl",
            "-e",
            "$x = 'a' x (200 << 20)",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code, 137, "{}", r.stderr);
    assert!(
        r.stderr.contains("memory limit of 64 MiB exceeded"),
        "{}",
        r.stderr
    );
    assert!(jail_support::cgroups_named(&n).is_empty());
}

#[test]
fn tmpfs_writes_count_against_memory() {
    require_jail!();
    let _g = serial();
    let n = name("lim-tmpfs");
    let r = jail_support::sh(
        &n,
        &["--memory", "48M"],
        "dd if=/dev/zero of=/tmp/big bs=1M count=100 2>/dev/null && echo WROTE-ALL; echo dd-done",
    );
    // Either tmpfs is full (ENOSPC at its size, the memory limit) or the writer is OOM-killed.
    assert!(!r.stdout.contains("WROTE-ALL"), "{}", r.stdout);
    assert!(r.code == 0 || r.code == 137, "{} {}", r.code, r.stderr);
}

#[test]
fn pids_limit_caps_forks_and_a_fork_bomb() {
    require_jail!();
    let _g = serial();
    let n = name("lim-pids");
    let mut cfg = JailConfig::new(
        &n,
        [
            "perl",
            "-e",
            "$|=1; my $n=0; for (1..60) { my $p=fork; last unless defined $p; if (!$p) { sleep 30; exit 0 } $n++ } print qq(forked $n\\n); kill 'KILL', -1; exit 0",
        ]
        .iter()
        .map(OsString::from)
        .collect(),
    );
    cfg.limits.pids = Some(20);
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("out");
    cfg.stdout = Output::File(log.clone());
    let exit = Dyno::start(&cfg).expect("start").wait().expect("wait");
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let forked: u64 = out
        .trim()
        .strip_prefix("forked ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no count: {out:?} {exit:?}"));
    eprintln!(
        "pids.max 20: forked {forked}, limit hits {}",
        exit.stats.pids_limit_hits
    );
    // init and perl take two of the twenty.
    assert_eq!(forked, 18, "{out}");
    assert!(exit.stats.pids_limit_hits >= 1, "{:?}", exit.stats);

    // A real fork bomb, stopped by the time limit; the host keeps answering meanwhile.
    let m = marker();
    let bomb = jail_support::jail(
        &[
            "--name",
            &n,
            "--pids",
            "64",
            "--time-limit",
            "2s",
            "--grace",
            "500ms",
            "--",
            "sh",
            "-c",
            &format!("f() {{ f | f & }}; f; sleep {m}"),
        ],
        Duration::from_secs(60),
    );
    assert!(
        bomb.code == 137 || bomb.code == 143 || bomb.code == 2,
        "{} {}",
        bomb.code,
        bomb.stderr
    );
    assert!(
        bomb.stderr
            .contains("fork(s) failed at the process limit of 64"),
        "{}",
        bomb.stderr
    );
    assert!(bomb.elapsed < Duration::from_secs(20), "{:?}", bomb.elapsed);
    assert_no_leaks(&n, &m, Duration::from_secs(5));
}

#[test]
fn host_stays_responsive_during_a_fork_bomb() {
    require_jail!();
    let _g = serial();
    let n = name("lim-bomb");
    let mut child = std::process::Command::new(jail_support::bin())
        .args([
            "jail",
            "--name",
            &n,
            "--pids",
            "64",
            "--time-limit",
            "3s",
            "--grace",
            "0s",
            "--",
            "sh",
            "-c",
            "f() { f | f & }; f; sleep 60",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1000));
    let t0 = Instant::now();
    let ok = std::process::Command::new("true").status().expect("true");
    let took = t0.elapsed();
    assert!(ok.success());
    assert!(
        took < Duration::from_secs(2),
        "the host took {took:?} to run `true`"
    );
    let _ = child.wait();
    assert!(jail_support::cgroups_named(&n).is_empty());
}

#[test]
fn rlimits_nofile_and_fsize() {
    require_jail!();
    let _g = serial();
    let n = name("lim-rl");
    let mut cfg = sh_config(
        &n,
        "perl -e 'for (1..40) { open($f[$_], q(<), q(/dev/null)) or do { print qq(open failed: $!\\n); last } }'; \
         dd if=/dev/zero of=/tmp/f bs=1M count=3 2>/dev/null; echo dd=$?; \
         echo core $(ulimit -c)",
    );
    cfg.rlimits = vec![
        Rlimit {
            resource: RlimitResource::NoFile,
            soft: 20,
            hard: 20,
        },
        Rlimit {
            resource: RlimitResource::FSize,
            soft: 1 << 20,
            hard: 1 << 20,
        },
        Rlimit {
            resource: RlimitResource::Core,
            soft: 0,
            hard: 0,
        },
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("out");
    cfg.stdout = Output::File(log.clone());
    let exit = Dyno::start(&cfg).expect("start").wait().expect("wait");
    assert_eq!(exit.status, ExitStatus::Exited(0));
    let out = std::fs::read_to_string(&log).expect("log");
    assert!(out.contains("open failed: Too many open files"), "{out}");
    assert!(
        out.contains(&format!("dd={}", 128 + libc::SIGXFSZ)),
        "{out}"
    );
    assert!(out.contains("core 0"), "{out}");
}

#[test]
fn start_latency_is_small() {
    require_jail!();
    let _g = serial();
    let n = name("lim-lat");
    let mut lat = Vec::new();
    for _ in 0..10 {
        let mut d = Dyno::start(&sh_config(&n, "exit 0")).expect("start");
        lat.push(d.start_latency());
        d.wait().expect("wait");
    }
    lat.sort();
    eprintln!(
        "start latency over 10 starts: min {:?}, median {:?}, max {:?}",
        lat[0], lat[5], lat[9]
    );
    assert!(lat[5] < Duration::from_millis(500), "{lat:?}");
}
