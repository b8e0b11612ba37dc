//! Dyno lifecycle through the library API and the binary: fresh filesystem at every start,
//! graceful stop (SIGTERM, grace, SIGKILL), the whole tree dying, time limits, interrupts, no
//! leaks after a stop, a crash or the supervisor's death, and two dynos side by side.

mod jail_support;

use dynosim::exec::{Dyno, ExitStatus, Output, StopReason};
use jail_support::{assert_no_leaks, bin, marker, name, processes_with, sh_config, slug};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wait until `path` contains `needle` (the dyno writes progress to a log file).
fn wait_for(path: &Path, needle: &str, limit: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            t0.elapsed() < limit,
            "`{needle}` not seen in {} within {limit:?}: {text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sha256_of(dir: &Path, rel: &str) -> String {
    let out = Command::new("sha256sum")
        .arg(dir.join(rel))
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn restart_gives_a_fresh_filesystem() {
    require_jail!();
    let s = slug(&[
        ("app.txt", "release v1\n"),
        ("lib/data.bin", "0123456789\n"),
    ]);
    let log_dir = tempfile::tempdir().expect("tmp");
    let log = log_dir.path().join("out.log");
    let n = name("life-fresh");
    let mut cfg = sh_config(
        &n,
        "if [ -e /app/scratch ] || [ -e /tmp/scratch ]; then echo STALE; else echo FRESH; fi; \
         sha256sum app.txt lib/data.bin; echo run > /app/scratch; echo run > /tmp/scratch; \
         echo WROTE; exec sleep 60",
    );
    cfg.slug = Some(s.path().to_path_buf());
    cfg.stdout = Output::File(log.clone());
    cfg.grace = Duration::from_secs(5);
    let mut dyno = Dyno::start(&cfg).expect("start");
    wait_for(&log, "WROTE", Duration::from_secs(10));
    let first_pid = dyno.pid();
    let first_cgroup = dyno.cgroup_dirs().to_vec();
    let prev = dyno.restart().expect("restart");
    assert_eq!(prev.stop, Some(StopReason::Requested));
    assert_eq!(prev.status, ExitStatus::Signaled(libc::SIGTERM));
    assert!(!prev.sigkilled);
    assert_ne!(dyno.pid(), first_pid);
    assert_eq!(dyno.name(), n);
    assert_eq!(dyno.restarts(), 1);
    for d in &first_cgroup {
        assert!(!d.exists(), "old cgroup {} left", d.display());
    }
    let text = {
        let t0 = Instant::now();
        loop {
            let t = std::fs::read_to_string(&log).unwrap_or_default();
            if t.matches("WROTE").count() >= 2 {
                break t;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "second run: {t}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    assert_eq!(text.matches("FRESH").count(), 2, "{text}");
    assert!(!text.contains("STALE"), "{text}");
    // The app files inside match the release on the host, in both runs.
    for f in ["app.txt", "lib/data.bin"] {
        let sum = sha256_of(s.path(), f);
        assert_eq!(
            text.matches(&format!("{sum}  {f}")).count(),
            2,
            "{f}: {text}"
        );
    }
    let exit = dyno.stop(Duration::from_secs(5)).expect("stop");
    assert_eq!(exit.status, ExitStatus::Signaled(libc::SIGTERM));
    assert!(exit.leftover.is_none(), "{:?}", exit.leftover);
    assert!(jail_support::cgroups_named(&n).is_empty());
}

#[test]
fn stop_kills_the_whole_tree_and_reports_stats() {
    require_jail!();
    let m = marker();
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("out.log");
    let n = name("life-tree");
    // Ten grandchildren in two levels of subshells, all ignoring SIGTERM, so only SIGKILL after
    // the grace period ends them.
    let mut cfg = sh_config(
        &n,
        &format!(
            "trap '' TERM; for i in 1 2 3 4 5; do (trap '' TERM; sleep {m} & sleep {m} & wait) & done; echo UP; wait"
        ),
    );
    cfg.stdout = Output::File(log.clone());
    let mut dyno = Dyno::start(&cfg).expect("start");
    assert!(dyno.start_latency() < Duration::from_secs(5));
    wait_for(&log, "UP", Duration::from_secs(10));
    let t0 = Instant::now();
    // On a busy machine the forks land over a while: wait for all of them to be counted.
    let live = loop {
        let live = dyno.stats().expect("stats");
        if processes_with(&m).len() >= 10 && live.pids_current >= 17 {
            break live;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "sleepers did not start: {live:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(live.pids_current >= 17, "{live:?}"); // init, sh, 5 subshells, 10 sleepers
    assert!(dyno.processes().len() >= 17);
    let t = Instant::now();
    let exit = dyno.stop(Duration::from_millis(500)).expect("stop");
    let took = t.elapsed();
    assert!(exit.sigkilled, "{exit:?}");
    assert_eq!(exit.status, ExitStatus::Signaled(libc::SIGKILL));
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "stop took {took:?}"
    );
    assert!(exit.stats.cpu_usage > Duration::ZERO);
    assert!(exit.stats.memory_peak.unwrap_or(0) > 0);
    assert_eq!(exit.stats.pids_current, 0);
    assert!(dyno.processes().is_empty());
    assert_no_leaks(&n, &m, Duration::from_secs(2));
}

#[test]
fn graceful_stop_lets_the_app_exit_cleanly() {
    require_jail!();
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("out.log");
    let n = name("life-grace");
    let mut cfg = sh_config(
        &n,
        "trap 'echo draining; exit 0' TERM; echo UP; while :; do sleep 0.05; done",
    );
    cfg.stdout = Output::File(log.clone());
    let mut dyno = Dyno::start(&cfg).expect("start");
    wait_for(&log, "UP", Duration::from_secs(10));
    let exit = dyno.stop(Duration::from_secs(10)).expect("stop");
    assert_eq!(exit.status, ExitStatus::Exited(0));
    assert!(!exit.sigkilled);
    assert!(exit.runtime < Duration::from_secs(8), "{exit:?}");
    wait_for(&log, "draining", Duration::from_secs(1));
    // Waiting again returns the same result.
    assert_eq!(dyno.wait().expect("wait").status, ExitStatus::Exited(0));
}

#[test]
fn time_limit_sends_sigterm_then_sigkill() {
    require_jail!();
    let n = name("life-tl");
    let r = jail_support::sh(
        &n,
        &["--time-limit", "1s", "--grace", "1s"],
        "trap 'echo got TERM' TERM; while :; do sleep 0.05; done",
    );
    assert_eq!(r.code, 137, "{}", r.stderr);
    assert!(r.stdout.contains("got TERM"), "{}", r.stdout);
    assert!(r.stderr.contains("time limit"), "{}", r.stderr);
    assert!(
        r.elapsed >= Duration::from_millis(1900) && r.elapsed < Duration::from_secs(10),
        "{:?}",
        r.elapsed
    );
    // A command that honours SIGTERM ends with it, without waiting for the grace period.
    let r = jail_support::sh(&n, &["--time-limit", "500ms", "--grace", "20s"], "sleep 30");
    assert_eq!(r.code, 128 + libc::SIGTERM, "{}", r.stderr);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    assert!(jail_support::cgroups_named(&n).is_empty());
}

fn spawn_jail(args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .arg("jail")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Wait until `count` processes other than `supervisor` carry `marker` (the supervisor's own
/// command line contains the script, and with it the marker).
fn wait_for_processes(marker: &str, count: usize, supervisor: u32) {
    let t0 = Instant::now();
    while processes_with(marker)
        .into_iter()
        .filter(|p| *p != supervisor as i32)
        .count()
        < count
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "dyno processes did not appear"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn supervisor_death_leaves_nothing_behind() {
    require_jail!();
    let m = marker();
    let n = name("life-kill9");
    let mut child = spawn_jail(&[
        "--name",
        &n,
        "--",
        "sh",
        "-c",
        &format!("sleep {m} & sleep {m} & trap '' TERM; sleep {m}"),
    ]);
    wait_for_processes(&m, 3, child.id());
    assert!(!jail_support::cgroups_named(&n).is_empty());
    // SIGKILL: the supervisor gets no chance to clean up.
    child.kill().expect("kill");
    let _ = child.wait();
    assert_no_leaks(&n, &m, Duration::from_secs(10));
}

#[test]
fn supervisor_killed_mid_start_leaves_nothing_behind() {
    require_jail!();
    let s = slug(&[("a", "1"), ("b/c", "2")]);
    for delay_ms in [0u64, 2, 5, 10, 20, 40] {
        let m = marker();
        let n = name("life-midstart");
        let mut child = spawn_jail(&[
            "--name",
            &n,
            "--slug",
            jail_support::path_str(s.path()),
            "--",
            "sleep",
            &m,
        ]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("kill");
        let _ = child.wait();
        assert_no_leaks(&n, &m, Duration::from_secs(10));
    }
}

#[test]
fn interrupt_stops_gracefully_and_cleans_up() {
    require_jail!();
    let m = marker();
    let n = name("life-int");
    let child = spawn_jail(&[
        "--name",
        &n,
        "--grace",
        "5s",
        "--",
        "sh",
        "-c",
        &format!("trap 'echo bye; exit 3' TERM; sleep {m} & wait"),
    ]);
    wait_for_processes(&m, 1, child.id());
    // SAFETY: kill(2) of our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("bye"), "{stdout}");
    assert!(stderr.contains("stopping"), "{stderr}");
    assert_no_leaks(&n, &m, Duration::from_secs(5));
}

#[test]
fn dropping_a_dyno_kills_it() {
    require_jail!();
    let m = marker();
    let n = name("life-drop");
    let cfg = sh_config(&n, &format!("sleep {m} & sleep {m}"));
    let dyno = Dyno::start(&cfg).expect("start");
    wait_for_processes(&m, 2, 0);
    drop(dyno);
    assert_no_leaks(&n, &m, Duration::from_secs(2));
}

#[test]
fn two_dynos_cannot_see_each_other() {
    require_jail!();
    let sa = slug(&[("marker-a", "a")]);
    let sb = slug(&[("marker-b", "b")]);
    let dir = tempfile::tempdir().expect("tmp");
    let (la, lb) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let (na, nb) = (name("pair-a"), name("pair-b"));
    let m = marker();
    // A: a file in /tmp, a message queue, a listener on 127.0.0.1:5000 and a marked sleeper.
    let mut a = sh_config(
        &na,
        &format!(
            "echo a > /tmp/a-was-here; ipcmk -Q > /dev/null; sleep {m} & \
             perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>\"127.0.0.1:5000\",Listen=>5,ReuseAddr=>1) or die $!; $|=1; print \"LISTENING\\n\"; while ($c=$s->accept) {{ print $c \"hello from a\\n\"; close $c }}'"
        ),
    );
    a.slug = Some(sa.path().to_path_buf());
    a.stdout = Output::File(la.clone());
    let mut da = Dyno::start(&a).expect("start a");
    wait_for(&la, "LISTENING", Duration::from_secs(10));
    let mut b = sh_config(
        &nb,
        "ls /app; test -e /tmp/a-was-here && echo SEES-A-TMP; test -e /app/marker-a && echo SEES-A-APP; \
         echo queues $(ipcs -q | grep -c '^0x'); \
         echo procs $(ls /proc | grep -cE '^[0-9]+$'); \
         cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -o '[s]leep 777' | wc -l | sed 's/^/sleepers /'; \
         perl -MIO::Socket::INET -e '$c=IO::Socket::INET->new(PeerAddr=>\"127.0.0.1:5000\") and print \"CONNECTED\\n\"; print \"connect: $!\\n\" unless $c'; \
         echo DONE",
    );
    b.slug = Some(sb.path().to_path_buf());
    b.stdout = Output::File(lb.clone());
    let mut db = Dyno::start(&b).expect("start b");
    let exit_b = db.wait().expect("wait b");
    assert_eq!(exit_b.status, ExitStatus::Exited(0));
    let text = std::fs::read_to_string(&lb).expect("log b");
    assert!(text.contains("marker-b"), "{text}");
    assert!(!text.contains("marker-a"), "{text}");
    assert!(!text.contains("SEES-A"), "{text}");
    assert!(text.contains("queues 0\n"), "{text}");
    assert!(text.contains("sleepers 0\n"), "{text}");
    assert!(!text.contains("CONNECTED"), "{text}");
    assert!(text.contains("connect: Connection refused"), "{text}");
    let procs: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("procs "))
        .and_then(|v| v.parse().ok())
        .expect("procs");
    assert!(procs <= 5, "{text}");
    let exit_a = da.stop(Duration::from_secs(2)).expect("stop a");
    assert!(matches!(
        exit_a.status,
        ExitStatus::Signaled(_) | ExitStatus::Exited(_)
    ));
    assert_no_leaks(&na, &m, Duration::from_secs(2));
    assert_no_leaks(&nb, &m, Duration::from_secs(2));
}
