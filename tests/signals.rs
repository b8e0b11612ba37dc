//! SIGINT, SIGTERM and SIGHUP stop `run` and `merge` alike (issue 14), at any moment: the
//! previous results stay untouched and no staging folder is left, or, if the signal came after
//! the last check before the commit, the new results are complete and stderr says so; the exit
//! code is 130 either way, never 0. Also as PID 1 of a PID namespace (the container image's
//! entrypoint), where a signal without a handler is dropped.
//!
//! Moments are found by watching the staging folder: part files (simulating), summary.csv
//! (writing the tables), a PNG (drawing), and the commit itself, held back by taking the lock on
//! the output's parent.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;

fn command(args: &[&str], pid1: bool) -> Command {
    let mut c = cli_support::command_as(args, pid1);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// 1 h at 100 requests/s, twice, with every request written: about 0.8 s of simulation and an
/// 80 MB requests.csv to join, hash and plot.
const SCENARIO: &str = "name = \"sig\"\nseed = 1\nduration = \"1h\"\nreplications = 2\n[[app]]\n\
name = \"a\"\n[[app.process]]\ntype = \"web\"\nsize = \"standard-1x\"\ncount = 4\n\
[app.workload]\narrivals = { poisson = 100.0 }\ncpu = { exponential = \"10ms\" }\n";

fn csvs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".csv")
                .then(|| (n, std::fs::read(e.path()).expect("read")))
        })
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("list").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// The staging folder of `out`, if any.
fn staging(out: &Path) -> Option<PathBuf> {
    let prefix = format!(".{}.partial-", out.file_name()?.to_string_lossy());
    std::fs::read_dir(out.parent()?)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Moment {
    /// Part files exist: jobs are running.
    Simulating,
    /// summary.csv exists: the tables are being written and joined.
    Writing,
    /// A figure exists: plots, then the file records and the manifest.
    Drawing,
    /// The test holds the lock on the output's parent, so the commit is waiting for it.
    Commit,
}

fn reached(out: &Path, m: Moment) -> bool {
    let Some(st) = staging(out) else { return false };
    let Ok(entries) = std::fs::read_dir(&st) else {
        return false;
    };
    let names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    match m {
        Moment::Simulating => names.iter().any(|n| n.starts_with(".requests.part-")),
        Moment::Writing => names.iter().any(|n| n == "summary.csv"),
        Moment::Drawing | Moment::Commit => names.iter().any(|n| n.ends_with(".png")),
    }
}

/// The process to signal: dynosim itself, or under `unshare --fork` its child (PID 1 inside).
fn target(child: &Child, pid1: bool) -> i32 {
    let pid = child.id() as i32;
    if !pid1 {
        return pid;
    }
    let started = Instant::now();
    loop {
        let kids =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(k) = kids.split_whitespace().next().and_then(|k| k.parse().ok()) {
            return k;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no child");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `pid` is still running (not exited, not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z') && !r.starts_with('X'))
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    scenario: PathBuf,
    /// The previous results (seed 2) and what the interrupted command would write (seed 1).
    old: Vec<(String, Vec<u8>)>,
    old_dir: PathBuf,
    new: Vec<(String, Vec<u8>)>,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let scenario = dir.join("sig.toml");
    std::fs::write(&scenario, SCENARIO).expect("write");
    let old_dir = dir.join("old");
    let o = command(
        &[
            "run",
            s(&scenario),
            "--seed",
            "2",
            "--out",
            s(&old_dir),
            "--quiet",
        ],
        false,
    )
    .output()
    .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let new_dir = dir.join("new");
    let o = command(
        &[
            "run",
            s(&scenario),
            "--out",
            s(&new_dir),
            "--requests",
            "--quiet",
        ],
        false,
    )
    .output()
    .expect("runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (old, new) = (csvs(&old_dir), csvs(&new_dir));
    std::fs::remove_dir_all(&new_dir).expect("rm");
    Fixture {
        _tmp: tmp,
        dir,
        scenario,
        old,
        old_dir,
        new,
    }
}

/// What an interrupted command left.
#[derive(Debug, PartialEq)]
enum Outcome {
    Untouched,
    Committed,
}

/// Run into a folder holding the previous results, send `sig` at `moment` (plus `delay`), and
/// check what it left. Returns `None` if the command had finished before the signal was sent.
fn trial(f: &Fixture, sig: i32, moment: Moment, delay: Duration, pid1: bool) -> Option<Outcome> {
    let out = f.dir.join("out");
    copy_dir(&f.old_dir, &out);
    let mut child = command(
        &[
            "run",
            s(&f.scenario),
            "--out",
            s(&out),
            "--requests",
            "--quiet",
            "--threads",
            "1",
        ],
        pid1,
    )
    .spawn()
    .expect("spawn");
    let pid = target(&child, pid1);
    let started = Instant::now();
    while !reached(&out, moment) {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{moment:?} never reached"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    // Hold the commit back: the writer waits for the parent's lock while we signal it.
    let lock = (moment == Moment::Commit).then(|| {
        let d = std::fs::File::open(&f.dir).expect("open parent");
        // SAFETY: flock(2) on a descriptor we own.
        assert_eq!(unsafe { libc::flock(d.as_raw_fd(), libc::LOCK_EX) }, 0);
        std::thread::sleep(Duration::from_millis(1500));
        d
    });
    std::thread::sleep(delay);
    let sent = running(pid);
    if sent {
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(pid, sig) };
    }
    let o = child.wait_with_output().expect("wait");
    drop(lock);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(staging(&out).is_none(), "{moment:?}: staging folder left");
    if !sent {
        assert!(o.status.success(), "{err}");
        return None;
    }
    let what = format!(
        "{} at {moment:?}+{delay:?} (pid 1: {pid1}): {err}",
        name(sig)
    );
    assert_eq!(o.status.code(), Some(130), "{what}");
    assert!(
        err.contains(&format!("interrupted by {}", name(sig))),
        "{what}"
    );
    let got = csvs(&out);
    if err.contains("left as they were") && !err.contains("finished") {
        assert!(got == f.old, "the previous results were changed: {what}");
        Some(Outcome::Untouched)
    } else {
        assert!(err.contains("finished and complete"), "{what}");
        assert!(got == f.new, "committed results are incomplete: {what}");
        Some(Outcome::Committed)
    }
}

fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "SIGHUP",
    }
}

const SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn every_signal_at_every_moment(pid1: bool) {
    let f = fixture();
    for sig in SIGNALS {
        for moment in [
            Moment::Simulating,
            Moment::Writing,
            Moment::Drawing,
            Moment::Commit,
        ] {
            let outcome = trial(&f, sig, moment, Duration::ZERO, pid1);
            // Before the drawing, and while the commit waits, the stop always comes in time.
            if matches!(moment, Moment::Simulating | Moment::Commit) {
                assert_eq!(
                    outcome,
                    Some(Outcome::Untouched),
                    "{} {moment:?}",
                    name(sig)
                );
            }
        }
    }
}

#[test]
fn each_stop_signal_at_each_moment_leaves_old_results_or_complete_new_ones() {
    every_signal_at_every_moment(false);
}

#[test]
fn as_pid_1_each_stop_signal_at_each_moment_is_handled() {
    if !can_unshare() {
        eprintln!("skipped: `unshare --pid --fork` needs root");
        return;
    }
    every_signal_at_every_moment(true);
}

/// Signals late in the drawing and around the commit: whichever side of the last check they
/// land on, the exit code is 130 and the folder is either the old or the complete new one.
#[test]
fn a_signal_near_the_commit_is_never_ignored() {
    let f = fixture();
    let mut seen = Vec::new();
    for ms in [0u64, 150, 300, 450, 600] {
        let o = trial(
            &f,
            libc::SIGTERM,
            Moment::Drawing,
            Duration::from_millis(ms),
            false,
        );
        seen.push((ms, o));
    }
    eprintln!("SIGTERM after the first figure, by delay: {seen:?}");
}

/// Two scenarios are committed one after the other: a stop after the first's commit leaves it
/// complete, says so, leaves the second's previous results untouched, and exits 130.
#[test]
fn a_stop_after_one_of_two_commits_says_which_folder_is_complete() {
    let f = fixture();
    let small = f.dir.join("small.toml");
    std::fs::write(
        &small,
        SCENARIO
            .replace("name = \"sig\"", "name = \"first\"")
            .replace("duration = \"1h\"", "duration = \"1m\""),
    )
    .expect("write");
    let all = f.dir.join("all");
    copy_dir(&f.old_dir, &all.join("sig"));
    let first = all.join("first");
    let child = command(
        &[
            "run",
            s(&small),
            s(&f.scenario),
            "--out",
            s(&all),
            "--requests",
            "--quiet",
        ],
        false,
    )
    .spawn()
    .expect("spawn");
    let started = Instant::now();
    while !first.join("manifest.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "first never committed"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    // SAFETY: kill(2) on our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("first` finished and complete"), "{err}");
    assert!(
        csvs(&all.join("sig")) == f.old,
        "the second folder is untouched"
    );
    assert!(staging(&all.join("sig")).is_none() && staging(&first).is_none());
    // What was committed is the complete output of the first scenario.
    let whole = f.dir.join("whole");
    let o = command(
        &[
            "run",
            s(&small),
            "--out",
            s(&whole),
            "--requests",
            "--quiet",
        ],
        false,
    )
    .output()
    .expect("runs");
    assert!(o.status.success());
    assert!(csvs(&first) == csvs(&whole));
}

#[test]
fn merge_stops_on_a_signal_and_writes_nothing() {
    let f = fixture();
    let base = f.dir.join("r");
    for k in 0..2 {
        let o = command(
            &[
                "run",
                s(&f.scenario),
                "--out",
                s(&base),
                "--shard",
                &format!("{k}/2"),
                "--requests",
                "--quiet",
            ],
            false,
        )
        .output()
        .expect("runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let out = f.dir.join("merged");
    for sig in SIGNALS {
        copy_dir(&f.old_dir, &out);
        let child = command(
            &[
                "merge",
                s(&f.dir.join("r.shard-0-of-2")),
                s(&f.dir.join("r.shard-1-of-2")),
                "--out",
                s(&out),
                "--quiet",
            ],
            false,
        )
        .spawn()
        .expect("spawn");
        let started = Instant::now();
        while staging(&out).is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "merge never staged"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(child.id() as i32, sig) };
        let o = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{}: {err}", name(sig));
        assert!(err.contains("left as they were"), "{err}");
        assert!(
            csvs(&out) == f.old,
            "{}: previous results changed",
            name(sig)
        );
        assert!(staging(&out).is_none());
    }
}
