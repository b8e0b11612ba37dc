//! The real executor: runs a process as an isolated "dyno", the way the platform does, so the
//! simulator can be checked against a real kernel.
//!
//! A dyno gets new user, pid, mount, net, uts, ipc and cgroup namespaces; a fresh tmpfs root with
//! the slug copied to `/app` and a fresh `/tmp`; read-only system directories; a fresh `/proc`; its
//! name as hostname; cgroup limits (memory, CPU weight, optional CPU quota and cpuset, pids) on
//! cgroup v1 or v2; rlimits; no capabilities, an unprivileged uid, `no_new_privs` and a seccomp
//! deny-list installed last. Setup follows nsjail's order (see `docs/executor.md`), and every step
//! is fallible: the child never execs a half-configured jail.
//!
//! Process layout, from the host's point of view:
//!
//! ```text
//! supervisor (the caller: `dynosim jail`, a test, the validation mode)
//!  |- keeper   /bin/sh, own session: cleans up the cgroups if the supervisor dies
//!  `- init     pid 1 of the dyno's pid namespace: forwards stop signals, reaps, reports status
//!      `- CMD  pid 2: the dyno's command, fully confined
//! ```
//!
//! The entry points are [`Dyno::start`] (library) and `crate::cli::jail` (`dynosim jail`).

#![warn(missing_docs)]

pub mod cgroup;
mod child;
mod seccomp;
mod slug;
mod supervisor;
pub mod units;

pub use cgroup::{CgroupVersion, Stats};
pub use supervisor::{Dyno, Exit, ExitStatus, RunEvent, StopReason, run};

use crate::model::Size;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The CFS period used for CPU quotas: the kernel's and Kubernetes' default. nsjail's 1 s period
/// would let a capped dyno burn its whole quota in one burst and then stall for most of a second,
/// which distorts latency measurements.
pub const DEFAULT_CPU_PERIOD: Duration = Duration::from_millis(100);

/// Heroku's grace period between SIGTERM and SIGKILL.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// The uid (and gid) the dyno's processes run as inside the jail.
pub const DYNO_UID: u32 = 1000;

/// The host uid (and gid) that [`DYNO_UID`] maps to: far above login users and the usual
/// `/etc/subuid` ranges, so a dyno's processes own nothing on the host.
pub const DYNO_HOST_UID: u32 = 2_000_000_000;

/// Resource limits of one dyno, applied through cgroups. `None` leaves a resource unlimited.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes (the dyno's RAM). tmpfs pages (`/app`, `/tmp`) are charged to it.
    pub memory_bytes: Option<u64>,
    /// CPU weight in cgroup v1 units (1024 = one share). On v2 it becomes `cpu.weight`
    /// `shares * 100 / 1024`, so ratios between dynos are kept.
    pub cpu_shares: Option<u64>,
    /// Hard CPU cap in cores (CFS quota per [`Limits::cpu_period`]).
    pub cpu_quota: Option<f64>,
    /// CFS period for the quota.
    pub cpu_period: Duration,
    /// CPUs the dyno may run on, in the kernel's list format (`0`, `0-1`, `0,2-3`).
    pub cpuset: Option<String>,
    /// Maximum number of tasks (processes and threads), counting the dyno's init.
    pub pids: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: None,
            cpu_shares: None,
            cpu_quota: None,
            cpu_period: DEFAULT_CPU_PERIOD,
            cpuset: None,
            pids: None,
        }
    }
}

impl Limits {
    /// The limits of a catalog size: memory = RAM, CPU weight = 1024 x the size's CPU share, CPU
    /// quota = its vCPU count (the cores it can use on an idle host, as in the model), pids = its
    /// process limit (`ulimit -u` on the platform).
    pub fn for_size(size: &Size) -> Limits {
        Limits {
            memory_bytes: Some(size.ram_mb.saturating_mul(1 << 20)),
            cpu_shares: Some(((size.cpu_share * 1024.0).round() as u64).clamp(2, 262_144)),
            cpu_quota: Some(f64::from(size.vcpus.max(1))),
            cpu_period: DEFAULT_CPU_PERIOD,
            cpuset: None,
            pids: Some(u64::from(size.process_limit.max(2))),
        }
    }
}

/// The dyno's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// A network namespace whose loopback stays down: no network at all.
    None,
    /// A network namespace with only `lo` up: the dyno can serve itself on 127.0.0.1 but reaches
    /// nothing outside (and no other dyno's loopback).
    Loopback,
}

/// Where one of the dyno's standard streams goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The supervisor's own stream.
    Inherit,
    /// `/dev/null`.
    Null,
    /// A host file, created if needed and appended to (so restarts keep earlier output).
    File(PathBuf),
}

/// A resource limit (`setrlimit`) applied to the dyno's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// Which limit.
    pub resource: RlimitResource,
    /// Soft limit (what the process gets).
    pub soft: u64,
    /// Hard limit (the most the process may raise the soft limit to).
    pub hard: u64,
}

/// The rlimits the executor knows. `NPROC` is deliberately absent: it counts processes per host
/// uid, which all dynos share, so the per-dyno cap is the pids cgroup instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitResource {
    /// Open file descriptors (`ulimit -n`).
    NoFile,
    /// Largest file the process may write (`ulimit -f`, bytes).
    FSize,
    /// Core file size; 0 means no core dumps.
    Core,
    /// Stack size in bytes.
    Stack,
    /// Address space in bytes.
    As,
    /// CPU seconds.
    Cpu,
    /// Locked memory in bytes.
    MemLock,
}

/// The platform's defaults: 10000 open files (Heroku's `ulimit -n`), no core files.
pub fn default_rlimits() -> Vec<Rlimit> {
    vec![
        Rlimit {
            resource: RlimitResource::NoFile,
            soft: 10_000,
            hard: 10_000,
        },
        Rlimit {
            resource: RlimitResource::Core,
            soft: 0,
            hard: 0,
        },
    ]
}

/// Everything needed to start a dyno. Build it with [`JailConfig::new`] and adjust the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct JailConfig {
    /// Dyno name (`web.1`): the hostname, `$DYNO`, and part of the cgroup name.
    pub name: String,
    /// The command and its arguments, resolved with the jail's `PATH` (`/usr/local/bin:/usr/bin:/bin`).
    pub command: Vec<OsString>,
    /// Host directory copied to `/app` at every start; `None` gives an empty `/app`.
    pub slug: Option<PathBuf>,
    /// cgroup limits.
    pub limits: Limits,
    /// Network mode.
    pub net: Net,
    /// Environment variables added to the jail's base environment (`PATH`, `HOME=/app`, `DYNO`,
    /// `PORT=5000`, `TERM` if set); later entries win.
    pub env: Vec<(String, String)>,
    /// rlimits for the command (see [`default_rlimits`]).
    pub rlimits: Vec<Rlimit>,
    /// Wall-clock limit enforced by [`run`]: SIGTERM, then [`JailConfig::grace`], then SIGKILL.
    pub time_limit: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the dyno is stopped.
    pub grace: Duration,
    /// The command's standard input.
    pub stdin: Output,
    /// The command's standard output.
    pub stdout: Output,
    /// The command's standard error.
    pub stderr: Output,
}

impl JailConfig {
    /// A configuration with the platform's defaults: no limits, loopback network, no slug, a
    /// 30 s grace period, no time limit, inherited standard streams.
    pub fn new(name: &str, command: Vec<OsString>) -> JailConfig {
        JailConfig {
            name: name.to_string(),
            command,
            slug: None,
            limits: Limits::default(),
            net: Net::Loopback,
            env: Vec::new(),
            rlimits: default_rlimits(),
            time_limit: None,
            grace: DEFAULT_GRACE,
            stdin: Output::Inherit,
            stdout: Output::Inherit,
            stderr: Output::Inherit,
        }
    }
}

/// What kind of failure a [`JailError`] is, so callers can map it to an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration or an input named in it is wrong (bad name, missing slug).
    Input,
    /// The machine lacks something the jail needs (root, namespaces, cgroup controllers).
    Unsupported,
    /// A setup step failed on a capable machine.
    Setup,
    /// The command could not be executed (not found: 127; not executable: 126).
    Exec(i32),
}

/// A failure to start or manage a dyno, naming the step that failed. Nothing is left behind
/// when `start` returns one: processes are killed and cgroups removed before it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {reason}")]
pub struct JailError {
    /// The setup step, e.g. `cgroup`, `slug`, `mount /usr`, `seccomp`, `exec`.
    pub step: String,
    /// What went wrong and, where possible, what is needed.
    pub reason: String,
    /// Classification for exit statuses.
    pub kind: ErrorKind,
}

impl JailError {
    pub(crate) fn new(kind: ErrorKind, step: impl Into<String>, reason: impl Into<String>) -> Self {
        JailError {
            step: step.into(),
            reason: reason.into(),
            kind,
        }
    }

    pub(crate) fn setup(step: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Setup, step, reason)
    }
}

/// Check a dyno name: it becomes the hostname and a cgroup directory name, so it must be short
/// and free of path separators.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err(format!(
            "dyno name `{name}` must be 1 to 63 characters long"
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
        || name.starts_with('.')
    {
        return Err(format!(
            "dyno name `{name}` may only contain letters, digits, `.`, `-` and `_`, and must not start with `.`"
        ));
    }
    Ok(())
}
