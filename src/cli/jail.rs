//! `dynosim jail`: flag parsing and reporting around [`crate::exec::run`].
//!
//! Unlike the other subcommands, jail passes the command's own exit status through (as `docker
//! run` does), so its codes are its own (see the help of [`JailArgs`]); they still leave through
//! [`super::Outcome`], the one place exit codes are made.

use super::{CliError, Exit};
use crate::exec::units::{
    format_bytes, parse_bytes, parse_cores, parse_cpuset, parse_pids, parse_shares,
};
use crate::exec::{JailConfig, Limits, Net, RunEvent, run as jail_run, validate_name};
use crate::model::Catalog;
use clap::{Args, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Flags of `dynosim jail`.
#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Exit status: the command's (128 + N if killed by signal N), 2 for bad flags, 125 if \
the jail could not be set up, 126/127 if the command cannot be executed / is not found.\n\n\
Example: sudo dynosim jail --size standard-1x --slug ./app -- sh -c 'echo $DYNO'\n\n\
Needs root, user namespaces and cgroups (v2 with cpu, memory, pids; or v1). See docs/executor.md."
)]
pub struct JailArgs {
    /// Dyno size from the catalog (`dynosim catalog`): sets memory, CPU weight, CPU cap and
    /// pids; the flags below override it [default: standard-1x].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub size: Option<String>,
    /// Memory limit, e.g. 512M or 1G (binary units).
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory: Option<u64>,
    /// CPU weight in cgroup v1 shares (1024 = one share).
    #[arg(long = "cpu-shares", value_name = "N", value_parser = parse_shares)]
    pub cpu_shares: Option<u64>,
    /// Hard CPU cap in cores, e.g. 0.5 (CFS quota over a 100 ms period).
    #[arg(long = "cpu-quota", value_name = "CORES", value_parser = parse_cores)]
    pub cpu_quota: Option<f64>,
    /// CPUs the dyno may use, e.g. 0 or 0-1.
    #[arg(long, value_name = "LIST", value_parser = parse_cpuset)]
    pub cpuset: Option<String>,
    /// Maximum number of processes and threads.
    #[arg(long, value_name = "N", value_parser = parse_pids)]
    pub pids: Option<u64>,
    /// Directory copied to /app at start (writable inside, gone at exit).
    #[arg(long, value_name = "DIR")]
    pub slug: Option<PathBuf>,
    /// Network: none (no interface up) or loopback (only lo).
    #[arg(long, value_enum, default_value_t = NetArg::Loopback, value_name = "MODE")]
    pub net: NetArg,
    /// Wall-clock limit, e.g. 30s or 5m: then SIGTERM, the grace period, SIGKILL.
    #[arg(long = "time-limit", value_name = "DUR", value_parser = parse_positive_duration)]
    pub time_limit: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when the dyno is stopped.
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,
    /// Dyno name: hostname and $DYNO inside.
    #[arg(long, value_name = "NAME", default_value = "web.1", value_parser = parse_name)]
    pub name: String,
    /// The command to run and its arguments (after `--`).
    #[arg(
        value_name = "CMD",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub command: Vec<OsString>,
}

/// `--net` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetArg {
    /// No network interface up.
    None,
    /// Only the loopback interface.
    Loopback,
}

fn parse_size(s: &str) -> Result<String, String> {
    let catalog = Catalog::builtin();
    if catalog.get(s).is_some() {
        return Ok(s.to_string());
    }
    let names: Vec<&str> = catalog.sizes().iter().map(|z| z.name.as_str()).collect();
    Err(format!(
        "unknown size `{s}`; known sizes: {}",
        names.join(", ")
    ))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::scenario::parse_duration(s).map(|d| Duration::from_nanos(d.as_nanos()))
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("`{s}`: the time limit must be positive"));
    }
    Ok(d)
}

fn parse_name(s: &str) -> Result<String, String> {
    validate_name(s).map(|()| s.to_string())
}

impl JailArgs {
    /// The configuration these flags describe: the size's limits, overridden flag by flag.
    pub fn to_config(&self) -> JailConfig {
        let catalog = Catalog::builtin();
        let size_name = self.size.as_deref().unwrap_or("standard-1x");
        let mut limits = catalog
            .get(size_name)
            .map(Limits::for_size)
            .unwrap_or_default();
        if let Some(m) = self.memory {
            limits.memory_bytes = Some(m);
        }
        if let Some(s) = self.cpu_shares {
            limits.cpu_shares = Some(s);
        }
        if let Some(q) = self.cpu_quota {
            limits.cpu_quota = Some(q);
        }
        if let Some(c) = &self.cpuset {
            limits.cpuset = Some(c.clone());
        }
        if let Some(p) = self.pids {
            limits.pids = Some(p);
        }
        let mut config = JailConfig::new(&self.name, self.command.clone());
        config.limits = limits;
        config.slug = self.slug.clone();
        config.net = match self.net {
            NetArg::None => Net::None,
            NetArg::Loopback => Net::Loopback,
        };
        config.time_limit = self.time_limit;
        config.grace = self.grace;
        config
    }
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Count SIGINT, SIGTERM and SIGHUP instead of dying, so the dyno is stopped gracefully and
/// cleaned up.
fn catch_interrupts() {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs a handler that only touches an atomic (async-signal-safe).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

fn report(name: &str, config: &JailConfig, exit: &crate::exec::Exit) {
    if exit.stats.oom_kills > 0 {
        eprintln!(
            "dynosim jail: {name}: memory limit{} exceeded: the kernel's OOM killer killed {} process(es) (R15){}",
            config
                .limits
                .memory_bytes
                .map(|m| format!(" of {}", format_bytes(m)))
                .unwrap_or_default(),
            exit.stats.oom_kills,
            exit.stats
                .memory_peak
                .map(|p| format!("; peak {}", format_bytes(p)))
                .unwrap_or_default()
        );
    }
    if exit.stats.pids_limit_hits > 0 {
        eprintln!(
            "dynosim jail: {name}: {} fork(s) failed at the process limit{}",
            exit.stats.pids_limit_hits,
            config
                .limits
                .pids
                .map(|p| format!(" of {p}"))
                .unwrap_or_default()
        );
    }
    if exit.sigkilled {
        eprintln!("dynosim jail: {name}: {}", exit.status);
    }
    if let Some(l) = &exit.leftover {
        eprintln!("warning: {l}");
    }
}

/// Run `dynosim jail`: the command's status (128 + signal if killed), or the error of a jail
/// that could not start (bad input 2, setup 125, not executable 126 / not found 127).
pub fn run(args: &JailArgs) -> Result<Exit, CliError> {
    let config = args.to_config();
    catch_interrupts();
    let name = config.name.clone();
    let exit = jail_run(&config, &INTERRUPTS, |ev| match ev {
        RunEvent::TimeLimit(t) => eprintln!(
            "dynosim jail: {name}: time limit of {:.3} s reached: sending SIGTERM (grace {:.3} s)",
            t.as_secs_f64(),
            config.grace.as_secs_f64()
        ),
        RunEvent::Interrupted => eprintln!(
            "dynosim jail: {name}: stopping: sending SIGTERM (grace {:.3} s; interrupt again to kill)",
            config.grace.as_secs_f64()
        ),
        RunEvent::GraceOver(g) => eprintln!(
            "dynosim jail: {name}: still running {:.3} s after SIGTERM: sending SIGKILL",
            g.as_secs_f64()
        ),
    })?;
    report(&name, &config, &exit);
    Ok(Exit::Command(exit.status.code().clamp(0, 255) as u8))
}
