//! Running the real binary on scenario input that may be hostile: a time bound on every run (a
//! hang is a failure, not a stuck suite), no shard variables from the environment, and the checks
//! every rejected scenario must pass (exit 2, a located first error, no panic, nothing written).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dynosim");

/// Variables that make `run` pick a shard; a test must not inherit them from a CI runner.
const SHARD_VARS: &[&str] = &[
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
    "JOB_COMPLETION_INDEX",
    "DYNOSIM_SHARD_COUNT",
];

/// What a bounded run gave: its output, and how long it took.
pub struct Ran {
    pub output: Output,
    pub took: Duration,
}

impl Ran {
    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
}

/// Run `dynosim ARGS` in `dir` with extra environment `env`; a run past `limit` is killed and
/// fails the test (so a hang shows as a failure naming the case).
pub fn run_bounded(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Ran {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in SHARD_VARS {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start the dynosim binary");
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut b).map(|_| b)
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut b).map(|_| b)
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for dynosim") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`dynosim {}` did not finish within {limit:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let stdout = t_out.join().expect("stdout thread").expect("read stdout");
    let stderr = t_err.join().expect("stderr thread").expect("read stderr");
    Ran {
        output: Output {
            status,
            stdout,
            stderr,
        },
        took,
    }
}

/// A temp dir holding `scenario.toml` (as bytes: invalid UTF-8 is a case too).
pub struct Case {
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

impl Case {
    pub fn new(text: impl AsRef<[u8]>) -> Case {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("scenario.toml");
        std::fs::write(&file, text).expect("write scenario");
        Case { dir, file }
    }

    /// Another file beside the scenario.
    pub fn with_file(self, name: &str, body: impl AsRef<[u8]>) -> Case {
        std::fs::write(self.dir.path().join(name), body).expect("write extra file");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file_str(&self) -> String {
        self.file.display().to_string()
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// `dynosim check FILE EXTRA...`.
    pub fn check(&self, extra: &[&str], env: &[(&str, &str)]) -> Ran {
        let file = self.file_str();
        let mut args = vec!["check", file.as_str()];
        args.extend_from_slice(extra);
        run_bounded(self.path(), &args, env, Duration::from_secs(60))
    }

    /// `dynosim run FILE --out DIR/out --quiet EXTRA...`.
    pub fn run(&self, extra: &[&str], env: &[(&str, &str)]) -> Ran {
        let file = self.file_str();
        let out = self.out().display().to_string();
        let mut args = vec!["run", file.as_str(), "--out", out.as_str(), "--quiet"];
        args.extend_from_slice(extra);
        run_bounded(self.path(), &args, env, Duration::from_secs(120))
    }

    /// The run was rejected as bad input: exit 2, no panic, a first error line of the form
    /// `error: FILE:LINE:COL: ...` (LINE = `line` when given), and nothing written. Returns the
    /// first error line.
    pub fn assert_rejected(&self, r: &Ran, line: Option<usize>) -> String {
        let stderr = r.stderr();
        let ctx = format!("stderr:\n{stderr}");
        assert_eq!(r.code(), Some(2), "exit code, {ctx}");
        assert!(!stderr.contains("panicked"), "panic, {ctx}");
        let first = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("no `error: ` line, {ctx}"))
            .to_string();
        let (l, _c) = location(&first, &self.file_str())
            .unwrap_or_else(|| panic!("the error has no FILE:LINE:COL, {ctx}"));
        if let Some(want) = line {
            assert_eq!(l, want, "line, {ctx}");
        }
        self.assert_nothing_written();
        first
    }

    /// No output folder and no staging folder next to it.
    pub fn assert_nothing_written(&self) {
        assert!(!self.out().exists(), "an output folder was written");
        for entry in std::fs::read_dir(self.path()).expect("list temp dir") {
            let n = entry.expect("dir entry").file_name();
            let n = n.to_string_lossy();
            assert!(!n.contains(".partial-"), "a staging folder `{n}` was left");
        }
    }
}

/// The (line, column) of `error: FILE:LINE:COL: ...`, if the line has them.
pub fn location(error_line: &str, file: &str) -> Option<(usize, usize)> {
    let rest = error_line.strip_prefix(&format!("error: {file}:"))?;
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let col = parts.next()?.parse().ok()?;
    Some((line, col))
}

/// 1-based number of the only line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(
        hits.len(),
        1,
        "test bug: `{needle}` on {hits:?} of:\n{text}"
    );
    hits[0]
}
