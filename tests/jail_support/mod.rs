//! Helpers shared by the `jail_*` test files: skip detection, running `dynosim jail` with a
//! deadline, unique markers, and leak checks (cgroups, processes, mounts).
#![allow(dead_code)]

use dynosim::exec::cgroup::Backend;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Why the real-executor tests cannot run here, if they cannot. They need root and usable
/// cgroups; CI machines have both, so there they run. `DYNOSIM_REQUIRE_JAIL=1` turns a skip
/// into a failure, for CI runs that must not silently skip.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid(2) has no side effects.
    let reason = if unsafe { libc::geteuid() } != 0 {
        Some("not root (the executor needs root for cgroups and uid maps)".to_string())
    } else {
        Backend::detect().err().map(|e| e.to_string())
    };
    if let Some(r) = &reason {
        if std::env::var("DYNOSIM_REQUIRE_JAIL").as_deref() == Ok("1") {
            panic!("DYNOSIM_REQUIRE_JAIL=1 but the jail tests cannot run: {r}");
        }
    }
    reason
}

/// Early-return from a test (with a message saying why) when the executor cannot run here.
#[macro_export]
macro_rules! require_jail {
    () => {
        if let Some(reason) = jail_support::skip_reason() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dynosim")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A string unique to this test process and call, usable as a `sleep` duration (so it shows in
/// the sleeper's command line) and inside dyno names.
pub fn marker() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("777.{}{:03}", std::process::id(), n)
}

/// A dyno name unique to this test run.
pub fn name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// The result of one `dynosim jail` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Run `dynosim jail ARGS` and fail the test if it takes longer than `limit`.
pub fn jail(args: &[&str], limit: Duration) -> Run {
    let t0 = Instant::now();
    let mut child = Command::new(bin())
        .arg("jail")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn dynosim");
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "dynosim jail {args:?} did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out: Output = child.wait_with_output().expect("wait");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: t0.elapsed(),
    }
}

/// `dynosim jail --name NAME [extra] -- sh -c SCRIPT` with a 60 s limit.
pub fn sh(name: &str, extra: &[&str], script: &str) -> Run {
    let mut args: Vec<&str> = vec!["--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    jail(&args, Duration::from_secs(60))
}

/// A library-API jail config running `sh -c SCRIPT` (the dyno's output goes where the config's
/// default sends it; set `stdout` to silence it).
pub fn sh_config(name: &str, script: &str) -> dynosim::exec::JailConfig {
    dynosim::exec::JailConfig::new(
        name,
        vec![
            std::ffi::OsString::from("sh"),
            std::ffi::OsString::from("-c"),
            std::ffi::OsString::from(script),
        ],
    )
}

/// Every `dynosim` parent directory on this machine's hierarchies.
pub fn cgroup_parents() -> Vec<PathBuf> {
    Backend::detect().map(|b| b.parents()).unwrap_or_default()
}

/// Dyno cgroup directories whose name starts with `name.`.
pub fn cgroups_named(name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}.");
    let mut out = Vec::new();
    for p in cgroup_parents() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    out.push(e.path());
                }
            }
        }
    }
    out
}

/// Host pids whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            if String::from_utf8_lossy(&c).contains(marker) {
                out.push(pid);
            }
        }
    }
    out
}

/// Wait up to `patience` for the dyno `name` (processes marked `marker`) to leave nothing
/// behind: no cgroup directory, no process, and no host mount mentioning it.
pub fn assert_no_leaks(name: &str, marker: &str, patience: Duration) {
    let t0 = Instant::now();
    loop {
        let cgs = cgroups_named(name);
        let procs = processes_with(marker);
        if cgs.is_empty() && procs.is_empty() {
            break;
        }
        if t0.elapsed() > patience {
            panic!("leaks after {patience:?}: cgroups {cgs:?}, processes {procs:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    assert!(
        !mounts.contains(name) && !mounts.contains(marker),
        "a host mount mentions the dyno"
    );
}

/// A temporary slug directory with a few files.
pub fn slug(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, text) in files {
        let p = dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
    }
    dir
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}
