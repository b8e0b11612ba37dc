//! The real run: jailed dynos running the synthetic app on a cpuset, neighbour burners in
//! cgroups of their own on the same cpuset, and the open-loop load generator on its own CPU.
//!
//! Teardown is the executor's: every [`Dyno`] is killed and its cgroups removed when it is
//! dropped, on success, on error and on a stop signal (which sets [`STOP`]: the generator stops sending
//! and everything is dropped); if this process dies, each dyno's keeper cleans up.

use super::app::SpinMode;
use super::host::{self, HostLoad};
use super::loadgen::{self, AppRoute, Live, LoadOptions, Outcome, Target, lock};
use super::plan::{Action, ActionKind, Burner, RealDyno, Scaled};
use super::spin::{mono_ns, pin_thread, sleep_until};
use crate::exec::{Dyno, JailConfig, Limits, Output};
use crate::model::{LifecycleEvent, LifecycleKind};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The stop request (SIGINT, SIGTERM, SIGHUP: [`crate::interrupt`]): stop sending, tear down,
/// report the interruption.
pub use crate::interrupt::INTERRUPTED as STOP;

/// The port the app listens on inside each dyno (the platform's default `$PORT`).
pub const PORT: u16 = 5000;

/// Settings of the real run.
#[derive(Debug, Clone)]
pub struct RealOptions {
    /// Spin speed passed to the apps (iterations per CPU-second).
    pub iters_per_s: f64,
    /// How the apps burn CPU.
    pub spin: SpinMode,
    /// After the last arrival, how long to wait for responses before tearing down.
    pub drain: Duration,
    /// CFS period of the dynos' quotas.
    pub cpu_period: Duration,
    /// Requests per dyno for the round-trip probe before the run.
    pub probes: usize,
    /// The dynosim executable copied into every dyno (`None`: this program). Tests, whose
    /// own executable is the test harness, name the `dynosim` binary.
    pub program: Option<PathBuf>,
}

/// What one real dyno did.
#[derive(Debug, Clone, Default)]
pub struct DynoReport {
    /// `web.1`.
    pub name: String,
    /// CPU time used by the whole dyno (app threads included), seconds.
    pub cpu_s: f64,
    /// Periods throttled and time throttled by its CFS quota.
    pub throttled_periods: u64,
    /// Seconds throttled.
    pub throttled_s: f64,
    /// Peak memory, bytes.
    pub memory_peak: u64,
    /// Time from `Dyno::start` to the command's exec.
    pub start: Duration,
    /// Time from exec to the app answering `/ping` (the boot gap).
    pub ready: Duration,
    /// cgroup directories it used (for the record).
    pub cgroup: Vec<PathBuf>,
}

/// Steal and idle time from `/proc/stat` over the run, per CPU.
#[derive(Debug, Clone, Default)]
pub struct Steal {
    /// (`cpu`, `cpu0`, ...) -> (steal ticks, all ticks) over the interval.
    pub rows: Vec<(String, u64, u64)>,
}

impl Steal {
    /// A `/proc/stat` snapshot: name -> (steal, total) ticks.
    pub fn snapshot() -> Vec<(String, u64, u64)> {
        let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("cpu"))
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let name = it.next()?.to_string();
                let v: Vec<u64> = it.filter_map(|x| x.parse().ok()).collect();
                // user nice system idle iowait irq softirq steal (guest time is in user).
                let total: u64 = v.iter().take(8).sum();
                Some((name, v.get(7).copied().unwrap_or(0), total))
            })
            .collect()
    }

    /// The difference between two snapshots.
    pub fn between(a: &[(String, u64, u64)], b: &[(String, u64, u64)]) -> Steal {
        Steal {
            rows: b
                .iter()
                .filter_map(|(n, s, t)| {
                    let (_, s0, t0) = a.iter().find(|(m, _, _)| m == n)?;
                    Some((n.clone(), s.saturating_sub(*s0), t.saturating_sub(*t0)))
                })
                .collect(),
        }
    }

    /// Steal as a fraction of all CPU time of `cpu` (`"cpu"` = the machine).
    pub fn fraction(&self, cpu: &str) -> f64 {
        self.rows
            .iter()
            .find(|(n, _, _)| n == cpu)
            .map_or(
                f64::NAN,
                |(_, s, t)| {
                    if *t == 0 { 0.0 } else { *s as f64 / *t as f64 }
                },
            )
    }
}

/// Everything the real run measured.
#[derive(Debug, Clone, Default)]
pub struct RealRun {
    /// One per planned request, same order.
    pub outcomes: Vec<Outcome>,
    /// Per dyno.
    pub dynos: Vec<DynoReport>,
    /// CPU time the burners used, seconds (all of them).
    pub burner_cpu_s: f64,
    /// Steal over the run.
    pub steal: Steal,
    /// Round trips of the probe before the run, ns.
    pub probe_ns: Vec<u64>,
    /// The run was interrupted.
    pub interrupted: bool,
    /// Requests sent later than scheduled by more than 1 ms.
    pub late_sends: u64,
    /// The largest send lag, ns.
    pub max_send_lag_ns: u64,
    /// Every start of every dyno (incarnation 0 of each first).
    pub incarnations: Vec<RealIncarnation>,
    /// Lifecycle events after time 0 (boot, up, sigterm, stop, kill, crash, deploy, ...), in
    /// time order, measured on the real dynos.
    pub events: Vec<LifecycleEvent>,
    /// `CLOCK_MONOTONIC` instant (ns) of time 0.
    pub t0_ns: u64,
    /// What the host gave the dynos: steal, other processes' CPU, achieved speed.
    pub host: HostLoad,
}

/// A private folder with a copy of this executable: the slug every dyno starts from.
struct SlugDir(PathBuf);

impl SlugDir {
    fn create(program: Option<&Path>) -> Result<SlugDir, String> {
        sweep_stale_slugs("dynosim-validate-");
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dynosim-validate-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let me = match program {
            Some(p) => p.to_path_buf(),
            None => {
                std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?
            }
        };
        std::fs::copy(&me, dir.join("dynosim"))
            .map_err(|e| format!("copying {} into the slug: {e}", me.display()))?;
        Ok(SlugDir(dir))
    }
}

/// Remove slug folders (`<prefix><pid>-...` in the temp folder) left by a process that was
/// killed before it could clean up (SIGKILL): the dynos and cgroups are the keeper's job, the
/// folder is ours.
pub fn sweep_stale_slugs(prefix: &str) {
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: kill(2) with signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Drop for SlugDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn cpuset(cpus: &[usize]) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn os(v: &[String]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// Every real cgroup's CPU weight is multiplied by this factor. Ratios between the run's dynos
/// and burners (what the model's weights say) are unchanged, but other cgroups of the host
/// under the same parent (another program's dynos) weigh 1/64 as much each: they cannot take a
/// noticeable share of the dynos' CPUs.
pub const WEIGHT_BOOST: u64 = 64;

fn boosted(shares: u64) -> u64 {
    (shares * WEIGHT_BOOST).clamp(2, 262_144)
}

fn app_config(
    d: &RealDyno,
    slug: &Path,
    opts: &RealOptions,
    log: &Path,
    boot_ns: u64,
) -> JailConfig {
    let mode = match opts.spin {
        SpinMode::Work => "work",
        SpinMode::CpuTime => "cpu-time",
    };
    let mut c = JailConfig::new(
        &d.name,
        os(&[
            "/app/dynosim".into(),
            "app".into(),
            "--workers".into(),
            d.concurrency.to_string(),
            "--iters-per-s".into(),
            format!("{:.0}", opts.iters_per_s),
            "--spin".into(),
            mode.into(),
            "--boot-ns".into(),
            boot_ns.to_string(),
        ]),
    );
    c.slug = Some(slug.to_path_buf());
    let mut limits = Limits::for_size(&d.size);
    limits.cpu_shares = Some(boosted(d.shares));
    limits.cpu_quota = d.quota;
    limits.cpu_period = opts.cpu_period;
    limits.cpuset = Some(cpuset(&d.cpus));
    // The slug (this program) lives in the dyno's tmpfs and counts against its memory.
    limits.memory_bytes = limits.memory_bytes.map(|m| m + (64 << 20));
    c.limits = limits;
    c.grace = Duration::from_millis(500);
    c.stdin = Output::Null;
    c.stdout = Output::Null;
    c.stderr = Output::File(log.to_path_buf());
    c
}

fn burner_config(b: &Burner, slug: &Path, t0: u64, end_ns: u64) -> JailConfig {
    let flips = b
        .flips_ns
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut c = JailConfig::new(
        &b.name,
        os(&[
            "/app/dynosim".into(),
            "burn".into(),
            "--t0-ns".into(),
            t0.to_string(),
            "--end-ns".into(),
            end_ns.to_string(),
            "--threads".into(),
            b.threads.to_string(),
            "--initially".into(),
            if b.initially_on { "on" } else { "off" }.into(),
            "--flips-ns".into(),
            flips,
        ]),
    );
    c.slug = Some(slug.to_path_buf());
    c.limits = Limits {
        cpu_shares: Some(boosted(b.shares)),
        cpu_quota: b.quota,
        // A short period, so a fractional neighbour is close to a fluid one.
        cpu_period: Duration::from_millis(10),
        cpuset: Some(cpuset(&b.cpus)),
        memory_bytes: Some(256 << 20),
        pids: Some(64),
    };
    c.grace = Duration::from_millis(200);
    c.stdin = Output::Null;
    c.stdout = Output::Null;
    c.stderr = Output::Null;
    c
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(
            "; the app said: {}",
            lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    }
}

/// While a validation runs, the `dynosim` parent cgroup's CPU weight is raised to the maximum,
/// so that unrelated processes of the host on the dynos' CPUs (a build, another test) take at
/// most a fraction of a percent of them instead of competing as equals. The dynos' weights
/// relative to each other are unchanged. The old value is put back at the end (the parent is
/// removed anyway once no dyno is left in it).
struct ParentBoost {
    file: PathBuf,
    old: String,
}

impl ParentBoost {
    fn apply(dyno: &Dyno) -> Option<ParentBoost> {
        for dir in dyno.cgroup_dirs() {
            let Some(parent) = dir.parent() else { continue };
            for (name, max) in [("cpu.shares", "262144"), ("cpu.weight", "10000")] {
                let file = parent.join(name);
                if let Ok(old) = std::fs::read_to_string(&file) {
                    if std::fs::write(&file, max).is_ok() {
                        return Some(ParentBoost {
                            file,
                            old: old.trim().to_string(),
                        });
                    }
                }
            }
        }
        None
    }
}

impl Drop for ParentBoost {
    fn drop(&mut self) {
        if self.file.exists() {
            let _ = std::fs::write(&self.file, &self.old);
        }
    }
}

/// Raise the soft open-files limit to the hard one (the generator holds one socket per
/// outstanding request).
fn raise_nofile() {
    // SAFETY: getrlimit/setrlimit(2) on local structs.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Run the scaled scenario for real. `say` reports progress.
pub fn run(s: &Scaled, opts: &RealOptions, mut say: impl FnMut(&str)) -> Result<RealRun, String> {
    raise_nofile();
    let slug = SlugDir::create(opts.program.as_deref())?;
    let cfg = s.config();
    let duration_ns = cfg.duration.as_nanos();
    let mut dynos: Vec<Dyno> = Vec::new();
    let mut reports = Vec::new();
    let mut boost = None;
    for (i, d) in s.dynos.iter().enumerate() {
        let log = slug.0.join(format!("{i}-{}.log", d.name));
        let jc = app_config(d, &slug.0, opts, &log, 0);
        let dyno = Dyno::start(&jc).map_err(|e| format!("starting {}: {e}", d.name))?;
        if boost.is_none() {
            boost = ParentBoost::apply(&dyno);
        }
        let target = Target::for_pid(dyno.pid(), PORT)
            .map_err(|e| format!("{}: its network namespace: {e}", d.name))?;
        let ready = loadgen::wait_ready(&target, Duration::from_secs(20))
            .map_err(|e| format!("{}: {e}{}", d.name, tail(&log)))?;
        reports.push(DynoReport {
            name: d.name.clone(),
            start: dyno.start_latency(),
            ready,
            cgroup: dyno.cgroup_dirs().to_vec(),
            ..DynoReport::default()
        });
        dynos.push(dyno);
        if STOP.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
    }
    let targets: Vec<Target> = dynos
        .iter()
        .map(|d| Target::for_pid(d.pid(), PORT))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a dyno's network namespace: {e}"))?;
    let mut probe_ns = Vec::new();
    for t in &targets {
        probe_ns.extend(loadgen::probe(t, opts.probes)?);
    }
    say(&format!(
        "{} dyno(s) up (start {:.0} ms, listening {:.0} ms after exec)",
        dynos.len(),
        reports
            .iter()
            .map(|r| r.start.as_secs_f64() * 1e3)
            .fold(0.0, f64::max),
        reports
            .iter()
            .map(|r| r.ready.as_secs_f64() * 1e3)
            .fold(0.0, f64::max)
    ));

    // Time 0: far enough ahead for the burners to start.
    let t0 = mono_ns() + 300_000_000 + 150_000_000 * s.burners.len() as u64;
    let end_ns = duration_ns + opts.drain.as_nanos() as u64;
    let lopts = LoadOptions {
        t0_ns: t0,
        stop_ns: end_ns,
        cpus: s.loadgen_cpus.clone(),
        prewarm: s.dynos.first().map_or(1, |d| d.concurrency as usize + 2),
        max_conns: 8000,
    };
    // The router: the model's rule and stream (`router/<app>`), online, among dynos that are up.
    let hold_ns = cfg.lifecycle.router_hold.as_nanos();
    let routes = cfg
        .apps
        .iter()
        .map(|a| {
            let rng = s.seeds.named(&format!("router/{}", a.name)).stream();
            AppRoute::new(rng, a.router.routers, hold_ns)
        })
        .collect();
    let live = Live::new(&s.plan, &lopts, routes)?;
    let table = Mutex::new(Vec::new());
    for (i, (t, jail)) in targets.iter().zip(dynos).enumerate() {
        let ep = live.add_endpoint(t)?;
        live.up(s.dynos[i].app, ep);
        lock(&table).push(Inc {
            dyno: i,
            incarnation: 0,
            endpoint: Some(ep),
            jail: Some(jail),
            up_ns: Some(0),
            ..Inc::default()
        });
    }
    let mut burners = Vec::new();
    for b in &s.burners {
        let cfg = burner_config(b, &slug.0, t0, end_ns);
        burners.push(Dyno::start(&cfg).map_err(|e| format!("starting {}: {e}", b.name))?);
    }
    if mono_ns() > t0 {
        say("warning: the neighbour burners started after time 0");
    }
    // The run's own CPU so far (the dynos' start and probes, the burners' start), so that
    // only what it uses from here on is set against the CPUs' busy time.
    let own_before: f64 = lock(&table)
        .iter()
        .filter_map(|i| i.jail.as_ref()?.stats().ok())
        .chain(burners.iter().filter_map(|b| b.stats().ok()))
        .map(|st| st.cpu_usage.as_secs_f64())
        .sum();
    let dyno_cpus: std::collections::BTreeSet<usize> = s
        .dynos
        .iter()
        .flat_map(|d| d.cpus.iter().copied())
        .collect();
    let dyno_cpus: Vec<usize> = dyno_cpus.into_iter().collect();
    let parent_of = lock(&table)
        .first()
        .and_then(|i| i.jail.as_ref().map(|j| j.cgroup_dirs().to_vec()))
        .unwrap_or_default();
    let dynosim_before = host::dynosim_cpu_s(&parent_of, &dyno_cpus);
    let host_before = host::snapshot();
    let before = Steal::snapshot();
    let finished = AtomicBool::new(false);
    let events = Mutex::new(Vec::new());
    let ctx = Lifecycle {
        s,
        opts,
        slug: &slug.0,
        live: &live,
        table: &table,
        events: &events,
        finished: &finished,
        t0,
    };
    std::thread::scope(|sc| {
        let ctl = sc.spawn(|| ctx.control(sc));
        // On a thread of its own: the generator pins and prioritises itself.
        let _ = sc.spawn(|| live.dispatch(&STOP)).join();
        finished.store(true, Ordering::SeqCst);
        let _ = ctl.join();
    });
    let outcomes = live.finish()?;
    let steal = Steal::between(&before, &Steal::snapshot());
    let host_after = host::snapshot();
    let dynosim_after = host::dynosim_cpu_s(&parent_of, &dyno_cpus);
    let burner_cpu_s = burners
        .iter()
        .filter_map(|b| b.stats().ok())
        .map(|st| st.cpu_usage.as_secs_f64())
        .sum();
    // Teardown: kill everything now (drop would too), keeping each incarnation's figures.
    for mut b in burners {
        let _ = b.kill();
    }
    let mut incs = std::mem::take(&mut *lock(&table));
    for inc in &mut incs {
        if let Some(mut jail) = inc.jail.take() {
            if let Ok(st) = jail.stats() {
                inc.real.take_stats(&st);
            }
            let _ = jail.kill();
        }
    }
    drop(boost);
    for (i, r) in reports.iter_mut().enumerate() {
        for inc in incs.iter().filter(|x| x.dyno == i) {
            r.cpu_s += inc.real.cpu_s;
            r.throttled_periods += inc.real.throttled_periods;
            r.throttled_s += inc.real.throttled_s;
            r.memory_peak = r.memory_peak.max(inc.real.memory_peak);
        }
    }
    let own_after: f64 = burner_cpu_s + incs.iter().map(|i| i.real.cpu_s).sum::<f64>();
    let requests: Vec<(u64, u64)> = outcomes
        .iter()
        .zip(&s.plan)
        .filter(|_| opts.spin == SpinMode::Work)
        .filter_map(|(o, p)| Some((p.work.cpu_ns, o.server?.cpu_used_ns)))
        .collect();
    // CPU phases nothing else of the run shared: dedicated dynos with one slot. A CFS quota's
    // throttling (the model's business) is taken out with the cgroups' throttled time.
    let single = |d: &super::plan::RealDyno| d.concurrency == 1 && !d.size.tier.shares_host();
    let alone: Vec<(u64, u64)> = outcomes
        .iter()
        .zip(&s.plan)
        .filter(|(_, p)| single(&s.dynos[p.dyno]))
        .filter_map(|(o, _)| o.server.map(|t| (t.cpu_wall_ns, t.cpu_used_ns)))
        .collect();
    let alone_throttled_s: f64 = incs
        .iter()
        .filter(|i| single(&s.dynos[i.dyno]))
        .map(|i| i.real.throttled_s)
        .sum();
    let dynosim_cpu_s = match (dynosim_before, dynosim_after) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let host = HostLoad::measure(
        &host_before,
        &host_after,
        &host::RunFigures {
            dyno_cpus: &dyno_cpus,
            own_cpu_s: own_after - own_before,
            requests,
            alone,
            alone_throttled_s,
            dynosim_cpu_s,
        },
    );
    let lags: Vec<u64> = outcomes
        .iter()
        .zip(&s.plan)
        .filter(|(o, _)| o.sent_ns > 0 && !o.held)
        .map(|(o, p)| o.sent_ns.saturating_sub(p.at_ns))
        .collect();
    let mut events = std::mem::take(&mut *lock(&events));
    events.sort_by_key(|e: &LifecycleEvent| e.time_ns);
    Ok(RealRun {
        late_sends: lags.iter().filter(|&&l| l > 1_000_000).count() as u64,
        max_send_lag_ns: lags.iter().copied().max().unwrap_or(0),
        outcomes,
        dynos: reports,
        incarnations: incs
            .into_iter()
            .map(|i| RealIncarnation {
                dyno: i.dyno,
                incarnation: i.incarnation,
                endpoint: i.endpoint,
                boot_ns: i.boot_ns,
                planned_boot_ns: i.planned_boot_ns,
                up_ns: i.up_ns,
                ..i.real
            })
            .collect(),
        events,
        t0_ns: t0,
        host,
        burner_cpu_s,
        steal,
        probe_ns,
        interrupted: STOP.load(Ordering::SeqCst),
    })
}

/// One start of a real dyno, as measured.
#[derive(Debug, Clone, Default)]
pub struct RealIncarnation {
    /// Index into [`Scaled::dynos`].
    pub dyno: usize,
    /// Which start (0 = running at time 0).
    pub incarnation: u32,
    /// Its load-generator endpoint, once it answered.
    pub endpoint: Option<usize>,
    /// When the boot began (the simulation's `boot` time), ns after time 0; `None` at time 0.
    pub boot_ns: Option<u64>,
    /// The simulated boot time the app slept before listening.
    pub planned_boot_ns: u64,
    /// Time from the jail's start to the app's exec (the executor's share of the boot).
    pub jail_start: Duration,
    /// When it first answered `/ping`, ns after time 0.
    pub up_ns: Option<u64>,
    /// Files on its disk when it came up (a fresh filesystem has none).
    pub files_at_up: Option<u64>,
    /// When it ended (exit seen), ns after time 0.
    pub end_ns: Option<u64>,
    /// CPU time used, seconds.
    pub cpu_s: f64,
    /// CFS periods throttled.
    pub throttled_periods: u64,
    /// Seconds throttled.
    pub throttled_s: f64,
    /// Peak memory, bytes.
    pub memory_peak: u64,
}

impl RealIncarnation {
    fn take_stats(&mut self, st: &crate::exec::Stats) {
        self.cpu_s = st.cpu_usage.as_secs_f64();
        self.throttled_periods = st.cpu_throttled_periods;
        self.throttled_s = st.cpu_throttled.as_secs_f64();
        self.memory_peak = st.memory_peak.unwrap_or(st.memory_current);
    }
}

/// An incarnation while the run lasts: its jail and what has happened to it.
#[derive(Default)]
struct Inc {
    dyno: usize,
    incarnation: u32,
    endpoint: Option<usize>,
    jail: Option<Dyno>,
    boot_ns: Option<u64>,
    planned_boot_ns: u64,
    up_ns: Option<u64>,
    /// SIGTERM or SIGKILL decided: it must not come up any more.
    ended: bool,
    real: RealIncarnation,
}

/// The lifecycle thread: the simulation's actions at their times on the real dynos.
struct Lifecycle<'a> {
    s: &'a Scaled,
    opts: &'a RealOptions,
    slug: &'a Path,
    live: &'a Live,
    table: &'a Mutex<Vec<Inc>>,
    events: &'a Mutex<Vec<LifecycleEvent>>,
    finished: &'a AtomicBool,
    t0: u64,
}

impl<'a> Lifecycle<'a> {
    fn now(&self) -> u64 {
        mono_ns().saturating_sub(self.t0)
    }

    fn over(&self) -> bool {
        self.finished.load(Ordering::SeqCst) || STOP.load(Ordering::SeqCst)
    }

    /// Record `event` of action `a`'s dyno incarnation at `at` (ns since the start).
    fn log(&self, a: &Action, at: u64, event: LifecycleKind, detail: String) {
        let (app, dyno, inc) = (a.app, a.dyno, a.incarnation);
        let local = dyno.map_or(0, |d| self.s.local_numbers()[d]);
        lock(self.events).push(LifecycleEvent {
            time_ns: at,
            app,
            process: 0,
            dyno: local,
            incarnation: inc,
            instance: dyno.map_or(String::new(), |d| self.s.dynos[d].instance.clone()),
            event,
            detail,
        });
    }

    /// Sleep until `at` (ns after time 0), waking early when the run is over.
    fn wait_for(&self, at: u64) -> bool {
        loop {
            if self.over() {
                return false;
            }
            let now = self.now();
            if now >= at {
                return true;
            }
            if at - now <= 20_000_000 {
                sleep_until(self.t0 + at);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn control<'s>(&'s self, sc: &'s std::thread::Scope<'s, '_>) {
        let _ = pin_thread(&self.s.loadgen_cpus);
        // The lifecycle's times are part of the experiment, as the load generator's are: wake
        // on time beside unrelated work on a busy host.
        super::spin::high_priority();
        super::spin::precise_timers();
        for a in &self.s.actions {
            if !self.wait_for(a.at_ns) {
                break;
            }
            // The moment the action is carried out (a hair after its planned time).
            let at = self.now();
            match &a.kind {
                ActionKind::Note { event, detail } => self.log(a, at, *event, detail.clone()),
                ActionKind::Kill { cause } => {
                    // Reaped beside the schedule (as a drain is): the kill and the cleanup of
                    // its cgroups take tens of ms on a busy host, and the next action (the
                    // crashed dyno's restart) is due at the same instant.
                    if let Some(jail) = self.leave(a, *cause) {
                        sc.spawn(move || self.reap(jail, a, true));
                    }
                }
                ActionKind::Sigterm => {
                    if let Some(mut jail) = self.leave(a, LifecycleKind::Sigterm) {
                        let drain =
                            Duration::from_nanos(self.s.config().lifecycle.drain.as_nanos());
                        jail.begin_stop(crate::exec::StopReason::Requested, drain);
                        sc.spawn(move || self.reap(jail, a, false));
                    }
                }
                ActionKind::Boot { boot_ns } => {
                    let Some(d) = a.dyno else { continue };
                    lock(self.table).push(Inc {
                        dyno: d,
                        incarnation: a.incarnation,
                        boot_ns: Some(at),
                        planned_boot_ns: *boot_ns,
                        ..Inc::default()
                    });
                    self.live.booting(a.app);
                    let boot = *boot_ns;
                    self.log(
                        a,
                        at,
                        LifecycleKind::Boot,
                        format!("boot_s={:.3}", boot as f64 * 1e-9),
                    );
                    sc.spawn(move || self.boot(a, d, boot));
                }
            }
        }
    }

    /// Take incarnation `a` out of the router and of service: its jail, if it has one yet.
    /// Take incarnation `a` out of the router (see `end`) and log `event` once it is out, so no
    /// request is sent to it after the logged time.
    fn leave(&self, a: &Action, event: LifecycleKind) -> Option<Dyno> {
        let jail = self.end(a);
        self.log(a, self.now(), event, String::new());
        jail
    }

    fn end(&self, a: &Action) -> Option<Dyno> {
        let d = a.dyno?;
        let mut t = lock(self.table);
        let inc = t
            .iter_mut()
            .find(|x| x.dyno == d && x.incarnation == a.incarnation)?;
        if inc.ended {
            return None;
        }
        inc.ended = true;
        match inc.endpoint {
            Some(ep) => self.live.down(ep),
            None => self.live.boot_failed(a.app),
        }
        inc.jail.take()
    }

    /// Wait for a stopped jail to exit (SIGKILL now with `kill`, else at the end of its drain or
    /// of the run) and record how it ended.
    fn reap(&self, mut jail: Dyno, a: &Action, kill: bool) {
        let exit = if kill {
            jail.kill().ok()
        } else {
            loop {
                match jail.wait_timeout(Duration::from_millis(20)) {
                    Ok(Some(e)) => break Some(e),
                    Ok(None) if self.over() => break jail.kill().ok(),
                    Ok(None) => {}
                    Err(_) => break None,
                }
            }
        };
        let at = self.now();
        let event = match &exit {
            Some(e) if e.sigkilled && !kill => LifecycleKind::Kill,
            _ => LifecycleKind::Stop,
        };
        self.log(a, at, event, String::new());
        let mut t = lock(self.table);
        if let Some(inc) = t
            .iter_mut()
            .find(|x| Some(x.dyno) == a.dyno && x.incarnation == a.incarnation)
        {
            inc.real.end_ns = Some(at);
            if let Some(e) = &exit {
                inc.real.take_stats(&e.stats);
            }
            if let Some(ep) = inc.endpoint {
                drop(t);
                self.live.close_endpoint(ep);
            }
        }
    }

    /// A fresh jail for incarnation `a` of dyno `d`; up once its app answers.
    fn boot(&self, a: &Action, d: usize, boot_ns: u64) {
        let _ = pin_thread(&self.s.loadgen_cpus);
        let rd = &self.s.dynos[d];
        let log = self
            .slug
            .join(format!("{d}-{}-{}.log", rd.name, a.incarnation));
        let jc = app_config(rd, self.slug, self.opts, &log, boot_ns);
        let jail = match Dyno::start(&jc) {
            Ok(j) => j,
            Err(e) => {
                self.log(
                    a,
                    self.now(),
                    LifecycleKind::Stop,
                    format!("real: the jail did not start: {e}"),
                );
                self.live.boot_failed(a.app);
                return;
            }
        };
        let exec_ns = self.now();
        let start = jail.start_latency();
        let target = Target::for_pid(jail.pid(), PORT);
        {
            let mut t = lock(self.table);
            let Some(inc) = t
                .iter_mut()
                .find(|x| x.dyno == d && x.incarnation == a.incarnation)
            else {
                return;
            };
            inc.real.jail_start = start;
            if inc.ended {
                drop(t);
                return self.reap(jail, a, true);
            }
            inc.jail = Some(jail);
        }
        let Ok(target) = target else { return };
        // Poll from a little before the app's boot ends.
        let early = (exec_ns + boot_ns).saturating_sub(20_000_000);
        if !self.wait_for(early) {
            return;
        }
        let mut files = None;
        while !self.over() {
            if let Ok(body) = loadgen::fetch(&target, "/files") {
                files = body
                    .split_whitespace()
                    .find_map(|kv| kv.strip_prefix("files="))
                    .and_then(|v| v.parse::<u64>().ok());
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let up = self.now();
        let mut t = lock(self.table);
        let Some(inc) = t
            .iter_mut()
            .find(|x| x.dyno == d && x.incarnation == a.incarnation)
        else {
            return;
        };
        if inc.ended || self.over() {
            return;
        }
        let Ok(ep) = self.live.add_endpoint(&target) else {
            return;
        };
        inc.endpoint = Some(ep);
        inc.up_ns = Some(up);
        inc.real.files_at_up = files;
        self.live.up(a.app, ep);
        drop(t);
        self.log(
            a,
            up,
            LifecycleKind::Up,
            format!(
                "real: boot_gap_s={:.6} planned_boot_s={:.6} jail_start_ms={:.1} files={}",
                (up - a.at_ns) as f64 * 1e-9,
                boot_ns as f64 * 1e-9,
                start.as_secs_f64() * 1e3,
                files.map_or("?".to_string(), |f| f.to_string())
            ),
        );
    }
}
