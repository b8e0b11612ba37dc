//! Several writers on one output folder (issue 14): two pods of a Kubernetes Job, both PID 1 on a
//! shared volume, used to share the staging folder `.<name>.partial-1` and committed a corrupt
//! windows.csv with exit 0; and a PID-1 writer's stale-folder cleanup deleted the other's live
//! staging folder. Each writer now stages under a random name, holds a lock while it lives, and
//! commits under a lock on the parent: the result is always exactly one writer's complete output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod cli_support;

/// `dynosim ARGS`, or with `pid1` as PID 1 of a new PID namespace (`unshare --pid --fork`).
fn command(args: &[&str], pid1: bool) -> Command {
    let mut c = cli_support::command_as(args, pid1);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// Whether this machine lets us make PID namespaces (root with util-linux's unshare).
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: `unshare --pid --fork` is not available (needs root)");
    }
    ok
}

fn scenario(dir: &Path, duration: &str) -> PathBuf {
    let p = dir.join(format!("s-{duration}.toml"));
    let text = format!(
        "name = \"w\"\nseed = 1\nduration = \"{duration}\"\nreplications = 2\n[[app]]\nname = \"a\"\n\
         [[app.process]]\ntype = \"web\"\nsize = \"standard-1x\"\ncount = 4\n[app.workload]\n\
         arrivals = {{ poisson = 100.0 }}\ncpu = {{ exponential = \"10ms\" }}\n"
    );
    std::fs::write(&p, text).expect("write");
    p
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

/// The CSVs of a folder, by name.
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

fn finished(c: Child) -> Output {
    c.wait_with_output().expect("wait")
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?} {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn no_staging_left(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial-"))
        .collect();
    assert!(left.is_empty(), "staging folders left: {left:?}");
}

/// Writers with different seeds race for one folder; it must end up as exactly one writer's
/// complete output, every writer succeeding.
fn race(pid1: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sc = scenario(tmp.path(), "1h");
    let seeds = ["1", "2", "3"];
    let refs: Vec<_> = seeds
        .iter()
        .map(|seed| {
            let out = tmp.path().join(format!("ref-{seed}"));
            let o = command(
                &["run", s(&sc), "--seed", seed, "--out", s(&out), "--quiet"],
                false,
            )
            .output()
            .expect("runs");
            assert_ok(&o, "reference run");
            csvs(&out)
        })
        .collect();
    let out = tmp.path().join("shared");
    for round in 0..4 {
        let children: Vec<Child> = seeds
            .iter()
            .map(|seed| {
                command(
                    &[
                        "run",
                        s(&sc),
                        "--seed",
                        seed,
                        "--out",
                        s(&out),
                        "--quiet",
                        "--threads",
                        "1",
                    ],
                    pid1,
                )
                .spawn()
                .expect("spawn")
            })
            .collect();
        for c in children {
            assert_ok(&finished(c), &format!("round {round}"));
        }
        let got = csvs(&out);
        assert!(
            refs.contains(&got),
            "round {round}: the folder is not any one writer's complete output"
        );
        no_staging_left(tmp.path());
    }
}

#[test]
fn concurrent_writers_leave_one_complete_output() {
    race(false);
}

#[test]
fn concurrent_writers_that_are_all_pid_1_leave_one_complete_output() {
    if can_unshare() {
        race(true);
    }
}

/// A short PID-1 writer starts (and cleans up stale staging folders) while a long PID-1 writer's
/// staging folder is in use: the long writer must not lose it.
#[test]
fn a_pid_1_writer_never_deletes_another_live_writers_staging_folder() {
    if !can_unshare() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let long = scenario(tmp.path(), "6h");
    let short = scenario(tmp.path(), "5m");
    let reference = tmp.path().join("ref");
    assert_ok(
        &command(&["run", s(&long), "--out", s(&reference), "--quiet"], false)
            .output()
            .expect("runs"),
        "reference",
    );
    let out = tmp.path().join("shared");
    let a = command(
        &[
            "run",
            s(&long),
            "--out",
            s(&out),
            "--quiet",
            "--threads",
            "1",
        ],
        true,
    )
    .spawn()
    .expect("spawn");
    // Wait until A's staging folder holds its part files (A is simulating).
    let started = std::time::Instant::now();
    while !std::fs::read_dir(tmp.path())
        .expect("list")
        .flatten()
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".shared.partial-")
        })
    {
        assert!(started.elapsed().as_secs() < 60, "A never staged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for _ in 0..3 {
        let b = command(&["run", s(&short), "--out", s(&out), "--quiet"], true)
            .output()
            .expect("runs");
        assert_ok(&b, "short writer B");
    }
    assert_ok(&finished(a), "long writer A keeps its staging folder");
    assert!(
        csvs(&out) == csvs(&reference),
        "A committed last: its complete output"
    );
    no_staging_left(tmp.path());
}
