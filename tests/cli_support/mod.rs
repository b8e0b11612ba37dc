//! The one way the integration tests start the `dynosim` binary: with the cluster's shard
//! variables removed (the suite may itself run inside a Slurm array task or a Kubernetes Indexed
//! Job, which would otherwise turn every `run` into one shard), optionally as PID 1 of a new PID
//! namespace (a container's entrypoint).
#![allow(dead_code)]

use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_dynosim");

/// `dynosim ARGS` with a clean slate.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    clean(&mut c);
    c
}

/// `dynosim ARGS` as PID 1 of a new PID namespace (`unshare --pid --fork`), or plainly when
/// `pid1` is false.
pub fn command_as(args: &[&str], pid1: bool) -> Command {
    if !pid1 {
        return command(args);
    }
    let mut c = Command::new("unshare");
    c.args(["--pid", "--fork", "--kill-child", BIN]).args(args);
    clean(&mut c);
    c
}

fn clean(c: &mut Command) {
    for k in dynosim::shard::ENVIRONMENT {
        c.env_remove(k);
    }
}

/// Run `dynosim ARGS` to completion and capture its output.
pub fn dynosim(args: &[&str]) -> Output {
    command(args).output().expect("the dynosim binary runs")
}

/// Run `dynosim ARGS`, which must succeed.
pub fn ok(args: &[&str]) -> Output {
    let out = dynosim(args);
    assert!(
        out.status.success(),
        "dynosim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
