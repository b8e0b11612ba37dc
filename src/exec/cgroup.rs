//! cgroup limits and statistics for dynos, with a v1 and a v2 backend.
//!
//! Each dyno gets `dynosim/<name>.<supervisor pid>.<seq>` under the hierarchy root (v2) or under
//! each controller's hierarchy (v1), so leftovers are easy to find and the owner is known. Both
//! backends are plain file writes: the kernel interface is small and a crate would hide which
//! write failed.

use super::{ErrorKind, JailError, Limits};
use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory under each hierarchy root that holds every dyno's cgroup.
pub const PARENT: &str = "dynosim";

/// Which cgroup interface a dyno's limits use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// One hierarchy per controller (older distributions, these CI machines).
    V1,
    /// The unified hierarchy (most current distributions).
    V2,
}

/// Where the hierarchies are mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The interface in use.
    pub version: CgroupVersion,
    /// v1: mount point of each controller (cpu, cpuacct, memory, pids, cpuset); v2: one entry
    /// `("", root)`.
    pub mounts: Vec<(String, PathBuf)>,
}

const V1_REQUIRED: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];
const V2_REQUIRED: [&str; 3] = ["memory", "cpu", "pids"];

fn unsupported(reason: String) -> JailError {
    JailError::new(ErrorKind::Unsupported, "cgroup", reason)
}

impl Backend {
    /// Find a usable hierarchy from `/proc/self/mountinfo`. v2 is preferred when its root offers
    /// the cpu, memory and pids controllers; otherwise v1 is used if those controllers (and
    /// cpuacct) are mounted. `DYNOSIM_CGROUP=v1|v2` forces a choice.
    pub fn detect() -> Result<Backend, JailError> {
        let info = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| unsupported(format!("cannot read /proc/self/mountinfo: {e}")))?;
        let force = std::env::var("DYNOSIM_CGROUP").ok();
        Self::from_mountinfo(&info, force.as_deref(), |p| fs::read_to_string(p).ok())
    }

    /// [`Backend::detect`] on given mountinfo text; `read` reads a file (for tests).
    pub fn from_mountinfo(
        info: &str,
        force: Option<&str>,
        read: impl Fn(&Path) -> Option<String>,
    ) -> Result<Backend, JailError> {
        let mut v1: Vec<(String, PathBuf)> = Vec::new();
        let mut v2: Option<PathBuf> = None;
        for line in info.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount_point) = left.split(' ').nth(4) else {
                continue;
            };
            let mut r = right.split(' ');
            let fstype = r.next().unwrap_or("");
            let _source = r.next();
            let opts = r.next().unwrap_or("");
            let mount_point = PathBuf::from(unescape(mount_point));
            match fstype {
                "cgroup" => {
                    for opt in opts.split(',') {
                        if ["memory", "cpu", "cpuacct", "pids", "cpuset"].contains(&opt)
                            && !v1.iter().any(|(c, _)| c == opt)
                        {
                            v1.push((opt.to_string(), mount_point.clone()));
                        }
                    }
                }
                "cgroup2" if v2.is_none() => v2 = Some(mount_point),
                _ => {}
            }
        }
        let v2_controllers: Vec<String> = v2
            .as_ref()
            .and_then(|root| read(&root.join("cgroup.controllers")))
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        let v2_ok = v2.is_some()
            && V2_REQUIRED
                .iter()
                .all(|c| v2_controllers.iter().any(|x| x == c));
        let v1_ok = V1_REQUIRED.iter().all(|c| v1.iter().any(|(x, _)| x == c));
        let want_v2 = match force {
            Some("v2") => true,
            Some("v1") => false,
            Some(other) => {
                return Err(JailError::new(
                    ErrorKind::Input,
                    "cgroup",
                    format!("DYNOSIM_CGROUP=`{other}`: expected v1 or v2"),
                ));
            }
            None => v2_ok || !v1_ok,
        };
        if want_v2 && v2_ok {
            if let Some(root) = v2 {
                return Ok(Backend {
                    version: CgroupVersion::V2,
                    mounts: vec![(String::new(), root)],
                });
            }
        }
        if !want_v2 && v1_ok {
            return Ok(Backend {
                version: CgroupVersion::V1,
                mounts: v1,
            });
        }
        let found_v1: Vec<&str> = v1.iter().map(|(c, _)| c.as_str()).collect();
        let found_v2 = match &v2 {
            Some(root) => format!(
                "cgroup2 at {} with controllers [{}]",
                root.display(),
                v2_controllers.join(" ")
            ),
            None => "no cgroup2 mount".to_string(),
        };
        Err(unsupported(format!(
            "no usable cgroup hierarchy: dyno limits need cgroup v2 with the cpu, memory and pids \
             controllers enabled at its root, or cgroup v1 hierarchies for cpu, cpuacct, memory and \
             pids; found v1 [{}] and {found_v2}",
            found_v1.join(" ")
        )))
    }

    fn mount_of(&self, controller: &str) -> Option<&Path> {
        match self.version {
            CgroupVersion::V2 => self.mounts.first().map(|(_, p)| p.as_path()),
            CgroupVersion::V1 => self
                .mounts
                .iter()
                .find(|(c, _)| c == controller)
                .map(|(_, p)| p.as_path()),
        }
    }

    /// The `dynosim` parent directories, one per hierarchy in use.
    pub fn parents(&self) -> Vec<PathBuf> {
        let set: BTreeSet<PathBuf> = self.mounts.iter().map(|(_, m)| m.join(PARENT)).collect();
        set.into_iter().collect()
    }
}

/// mountinfo escapes spaces and a few other bytes as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One dyno's cgroup (a directory per hierarchy on v1, one directory on v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    /// The interface in use.
    pub version: CgroupVersion,
    /// The dyno's directories, one per hierarchy.
    pub dirs: Vec<PathBuf>,
    memory: PathBuf,
    cpu: PathBuf,
    cpuacct: PathBuf,
    pids: PathBuf,
}

/// A dyno's resource usage, read from its cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// CPU time used by all the dyno's processes (user + system).
    pub cpu_usage: Duration,
    /// CFS periods that elapsed while the dyno was runnable under a quota.
    pub cpu_periods: u64,
    /// Periods in which the quota ran out and the dyno was throttled.
    pub cpu_throttled_periods: u64,
    /// Total time the dyno was throttled.
    pub cpu_throttled: Duration,
    /// Memory in use now (page cache and tmpfs included).
    pub memory_current: u64,
    /// Highest memory use since the dyno started, if the kernel reports it (v2 needs 5.19+).
    pub memory_peak: Option<u64>,
    /// Processes the kernel's OOM killer killed in this dyno (the platform's R15).
    pub oom_kills: u64,
    /// Tasks alive in the dyno now.
    pub pids_current: u64,
    /// Times a fork or clone failed because the pids limit was reached.
    pub pids_limit_hits: u64,
}

fn write_file(dir: &Path, file: &str, value: &str) -> Result<(), JailError> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
                " (writing cgroup limits needs root, or a delegated cgroup v2 subtree)"
            }
            _ => "",
        };
        JailError::setup(
            "cgroup",
            format!(
                "writing `{}` to {}: {e}{hint}",
                value.trim(),
                path.display()
            ),
        )
    })
}

fn read_trim(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Value of `key` in a flat-keyed file such as `cpu.stat` or `memory.events`.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key))
            .then(|| it.next().and_then(|v| v.parse().ok()))
            .flatten()
    })
}

fn mkdir(path: &Path) -> Result<bool, JailError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => {
            let hint = match e.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => {
                    " (creating cgroups needs root, or a delegated cgroup v2 subtree)"
                }
                _ => "",
            };
            Err(JailError::setup(
                "cgroup",
                format!("creating {}: {e}{hint}", path.display()),
            ))
        }
    }
}

impl Cgroup {
    /// Create the dyno's cgroup named `leaf` and apply `limits`. On failure everything created
    /// here is removed again.
    pub fn create(backend: &Backend, leaf: &str, limits: &Limits) -> Result<Cgroup, JailError> {
        // Another supervisor may remove an empty parent between our mkdirs; retry then.
        let mut last = None;
        for _ in 0..5 {
            match Self::try_create(backend, leaf, limits) {
                Ok(cg) => return Ok(cg),
                Err((e, retry)) => {
                    if !retry {
                        return Err(e);
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| JailError::setup("cgroup", "could not create the cgroup")))
    }

    /// The directories [`Cgroup::create`] will make for `leaf`, memory's first, so a cleanup
    /// helper can be told about them before they exist.
    pub fn planned_dirs(backend: &Backend, leaf: &str, limits: &Limits) -> Vec<PathBuf> {
        let mut controllers = vec!["memory", "cpu", "cpuacct", "pids"];
        if limits.cpuset.is_some() {
            controllers.push("cpuset");
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for c in controllers {
            if let Some(m) = backend.mount_of(c) {
                let d = m.join(PARENT).join(leaf);
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        dirs
    }

    fn try_create(
        backend: &Backend,
        leaf: &str,
        limits: &Limits,
    ) -> Result<Cgroup, (JailError, bool)> {
        let need = |c: &str| -> Result<PathBuf, (JailError, bool)> {
            backend.mount_of(c).map(Path::to_path_buf).ok_or_else(|| {
                (
                    unsupported(format!("the {c} controller is not mounted (cgroup v1)")),
                    false,
                )
            })
        };
        let mut controllers = vec!["memory", "cpu", "cpuacct", "pids"];
        if limits.cpuset.is_some() {
            controllers.push("cpuset");
        }
        let mut hierarchies: Vec<(String, PathBuf)> = Vec::new();
        for c in &controllers {
            let m = need(c)?;
            if !hierarchies.iter().any(|(_, p)| *p == m) {
                hierarchies.push((c.to_string(), m));
            }
        }
        let mut cg = Cgroup {
            version: backend.version,
            dirs: Vec::new(),
            memory: need("memory")?.join(PARENT).join(leaf),
            cpu: need("cpu")?.join(PARENT).join(leaf),
            cpuacct: need("cpuacct")?.join(PARENT).join(leaf),
            pids: need("pids")?.join(PARENT).join(leaf),
        };
        let result = (|| -> Result<(), JailError> {
            for (_, mount) in &hierarchies {
                let parent = mount.join(PARENT);
                let fresh = mkdir(&parent)?;
                match backend.version {
                    CgroupVersion::V2 => {
                        let mut ctl = "+cpu +memory +pids".to_string();
                        if limits.cpuset.is_some() {
                            ctl.push_str(" +cpuset");
                        }
                        enable_v2(mount, &ctl)?;
                        enable_v2(&parent, &ctl)?;
                    }
                    CgroupVersion::V1 => {
                        // A new v1 cpuset group starts with no CPUs and no memory nodes.
                        if limits.cpuset.is_some() && mount_has(backend, mount, "cpuset") {
                            init_cpuset(mount, &parent, fresh)?;
                        }
                    }
                }
                let dir = parent.join(leaf);
                match fs::create_dir(&dir) {
                    Ok(()) => cg.dirs.push(dir),
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        return Err(JailError::setup("cgroup", "parent vanished (retrying)"));
                    }
                    Err(e) => {
                        return Err(JailError::setup(
                            "cgroup",
                            format!("creating {}: {e}", dir.display()),
                        ));
                    }
                }
            }
            cg.apply(backend, limits)
        })();
        match result {
            Ok(()) => Ok(cg),
            Err(e) => {
                let retry = e.reason == "parent vanished (retrying)";
                let _ = cg.remove(Duration::from_millis(500));
                Err((e, retry))
            }
        }
    }

    fn apply(&self, backend: &Backend, limits: &Limits) -> Result<(), JailError> {
        let period_us = limits.cpu_period.as_micros().clamp(1000, 1_000_000) as u64;
        match self.version {
            CgroupVersion::V1 => {
                if let Some(cpus) = &limits.cpuset {
                    let dir = self.dir_of(backend, "cpuset");
                    let mems = read_trim(&dir.parent().unwrap_or(&dir).join("cpuset.mems"))
                        .unwrap_or_default();
                    write_file(&dir, "cpuset.mems", &mems)?;
                    write_file(&dir, "cpuset.cpus", cpus).map_err(cpuset_hint)?;
                }
                if let Some(m) = limits.memory_bytes {
                    write_file(&self.memory, "memory.limit_in_bytes", &m.to_string())?;
                }
                if let Some(s) = limits.cpu_shares {
                    write_file(&self.cpu, "cpu.shares", &s.to_string())?;
                }
                write_file(&self.cpu, "cpu.cfs_period_us", &period_us.to_string())?;
                let quota = match limits.cpu_quota {
                    Some(c) => ((c * period_us as f64).round() as u64)
                        .max(1000)
                        .to_string(),
                    None => "-1".to_string(),
                };
                write_file(&self.cpu, "cpu.cfs_quota_us", &quota)?;
                if let Some(p) = limits.pids {
                    write_file(&self.pids, "pids.max", &p.to_string())?;
                }
            }
            CgroupVersion::V2 => {
                let dir = &self.memory;
                if let Some(cpus) = &limits.cpuset {
                    write_file(dir, "cpuset.cpus", cpus).map_err(cpuset_hint)?;
                }
                if let Some(m) = limits.memory_bytes {
                    write_file(dir, "memory.max", &m.to_string())?;
                }
                // The platform restarts the whole dyno when it runs out of memory.
                if dir.join("memory.oom.group").exists() {
                    write_file(dir, "memory.oom.group", "1")?;
                }
                if let Some(s) = limits.cpu_shares {
                    write_file(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
                }
                let max = match limits.cpu_quota {
                    Some(c) => ((c * period_us as f64).round() as u64)
                        .max(1000)
                        .to_string(),
                    None => "max".to_string(),
                };
                write_file(dir, "cpu.max", &format!("{max} {period_us}"))?;
                if let Some(p) = limits.pids {
                    write_file(dir, "pids.max", &p.to_string())?;
                }
            }
        }
        Ok(())
    }

    fn dir_of(&self, backend: &Backend, controller: &str) -> PathBuf {
        let mount = backend.mount_of(controller).unwrap_or(Path::new("/"));
        self.dirs
            .iter()
            .find(|d| d.starts_with(mount))
            .cloned()
            .unwrap_or_else(|| self.memory.clone())
    }

    /// The `cgroup.procs` files to write a pid into so that it joins every hierarchy.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Pids (host view) of the processes in the dyno's cgroup.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.memory.join("cgroup.procs"))
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Read the dyno's current statistics.
    pub fn stats(&self) -> Result<Stats, JailError> {
        let read = |p: PathBuf| {
            fs::read_to_string(&p).map_err(|e| {
                JailError::setup("cgroup stats", format!("reading {}: {e}", p.display()))
            })
        };
        let num = |s: String| s.trim().parse::<u64>().unwrap_or(0);
        let pids_events = fs::read_to_string(self.pids.join("pids.events")).unwrap_or_default();
        let cpu_stat = read(self.cpu.join("cpu.stat"))?;
        let mut st = Stats {
            cpu_periods: keyed(&cpu_stat, "nr_periods").unwrap_or(0),
            cpu_throttled_periods: keyed(&cpu_stat, "nr_throttled").unwrap_or(0),
            pids_current: num(read(self.pids.join("pids.current"))?),
            pids_limit_hits: keyed(&pids_events, "max").unwrap_or(0),
            ..Stats::default()
        };
        match self.version {
            CgroupVersion::V1 => {
                st.cpu_usage = Duration::from_nanos(num(read(self.cpuacct.join("cpuacct.usage"))?));
                st.cpu_throttled =
                    Duration::from_nanos(keyed(&cpu_stat, "throttled_time").unwrap_or(0));
                st.memory_current = num(read(self.memory.join("memory.usage_in_bytes"))?);
                st.memory_peak = Some(num(read(self.memory.join("memory.max_usage_in_bytes"))?));
                let oom = read(self.memory.join("memory.oom_control"))?;
                st.oom_kills = keyed(&oom, "oom_kill").unwrap_or(0);
            }
            CgroupVersion::V2 => {
                st.cpu_usage = Duration::from_micros(keyed(&cpu_stat, "usage_usec").unwrap_or(0));
                st.cpu_throttled =
                    Duration::from_micros(keyed(&cpu_stat, "throttled_usec").unwrap_or(0));
                st.memory_current = num(read(self.memory.join("memory.current"))?);
                st.memory_peak = fs::read_to_string(self.memory.join("memory.peak"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                let events = read(self.memory.join("memory.events"))?;
                st.oom_kills = keyed(&events, "oom_kill").unwrap_or(0);
            }
        }
        Ok(st)
    }

    /// Remove the dyno's directories, retrying while exiting tasks still pin them, then the
    /// shared parents if they are empty. Returns the first directory that could not be removed.
    pub fn remove(&self, patience: Duration) -> Result<(), JailError> {
        let deadline = std::time::Instant::now() + patience;
        let mut failed = None;
        for dir in &self.dirs {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) => {
                        if std::time::Instant::now() >= deadline {
                            failed = Some(JailError::setup(
                                "cgroup cleanup",
                                format!("removing {}: {e}", dir.display()),
                            ));
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
            // Fails harmlessly while other dynos use the parent.
            if let Some(parent) = dir.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Name the CPUs that exist when a cpuset write fails.
fn cpuset_hint(mut e: JailError) -> JailError {
    if let Some(online) = read_trim(Path::new("/sys/devices/system/cpu/online")) {
        e.reason
            .push_str(&format!(" (this machine's CPUs: {online})"));
    }
    e
}

fn mount_has(backend: &Backend, mount: &Path, controller: &str) -> bool {
    backend
        .mounts
        .iter()
        .any(|(c, m)| c == controller && m == mount)
}

fn init_cpuset(mount: &Path, parent: &Path, _fresh: bool) -> Result<(), JailError> {
    for f in ["cpuset.cpus", "cpuset.mems"] {
        if read_trim(&parent.join(f)).unwrap_or_default().is_empty() {
            let v = read_trim(&mount.join(f)).unwrap_or_default();
            write_file(parent, f, &v)?;
        }
    }
    Ok(())
}

/// Enable controllers for the children of `dir` (v2). Writing controllers that are already
/// enabled is a no-op, so this is idempotent.
fn enable_v2(dir: &Path, controllers: &str) -> Result<(), JailError> {
    let path = dir.join("cgroup.subtree_control");
    fs::write(&path, controllers).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            " (cgroup v2's \"no internal processes\" rule: that cgroup holds processes; run \
             dynosim from a cgroup whose parent can delegate, e.g. `systemd-run --scope -p \
             Delegate=yes`, or as root on the host)"
        } else {
            ""
        };
        JailError::setup(
            "cgroup",
            format!("writing `{controllers}` to {}: {e}{hint}", path.display()),
        )
    })
}

/// cgroup v1 shares to v2 weight, keeping ratios: 1024 shares (one share) -> weight 100.
pub fn shares_to_weight(shares: u64) -> u64 {
    (shares * 100 / 1024).clamp(1, 10_000)
}

/// The supervisor pid encoded in a dyno's cgroup name `<name>.<pid>.<seq>`.
pub fn owner_pid(leaf: &str) -> Option<i32> {
    let mut it = leaf.rsplitn(3, '.');
    let _seq: u64 = it.next()?.parse().ok()?;
    let pid = it.next()?.parse().ok()?;
    it.next()?;
    Some(pid)
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// Remove empty dyno cgroups whose supervisor is gone (left when both the supervisor and its
/// keeper were killed). Processes are never killed here: a dead supervisor's init exits by
/// itself, and a cgroup that still has processes may belong to a supervisor in another pid
/// namespace. Best effort: errors are ignored.
pub fn sweep_stale(backend: &Backend) {
    for parent in backend.parents() {
        let Ok(entries) = fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match owner_pid(&name) {
                // rmdir fails (EBUSY) while the cgroup has processes.
                Some(pid) if !alive(pid) => {
                    let _ = fs::remove_dir(entry.path());
                }
                _ => {}
            }
        }
        let _ = fs::remove_dir(&parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_INFO: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn detects_v1_when_v2_lacks_controllers() {
        let b = Backend::from_mountinfo(V1_INFO, None, |_| Some("hugetlb\n".into())).unwrap();
        assert_eq!(b.version, CgroupVersion::V1);
        assert_eq!(
            b.mount_of("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpuacct"))
        );
        let forced = Backend::from_mountinfo(V1_INFO, Some("v2"), |_| Some("hugetlb".into()));
        let e = forced.unwrap_err();
        assert!(e.reason.contains("hugetlb"), "{e}");
    }

    #[test]
    fn detects_v2_and_comounted_v1() {
        let info = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let b = Backend::from_mountinfo(info, None, |_| Some("cpuset cpu io memory pids".into()))
            .unwrap();
        assert_eq!(b.version, CgroupVersion::V2);
        let co = "1 2 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                  3 2 0:2 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  4 2 0:3 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        let b = Backend::from_mountinfo(co, None, |_| None).unwrap();
        assert_eq!(b.version, CgroupVersion::V1);
        assert_eq!(b.parents().len(), 3);
        let none = Backend::from_mountinfo("", None, |_| None).unwrap_err();
        assert_eq!(none.kind, ErrorKind::Unsupported);
        assert!(none.reason.contains("no cgroup2 mount"));
    }

    #[test]
    fn names_and_weights() {
        assert_eq!(owner_pid("web.1.4242.7"), Some(4242));
        assert_eq!(owner_pid("web.1"), None);
        assert_eq!(owner_pid("x.12.3"), Some(12));
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(2048), 200);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(unescape("/a\\040b"), "/a b");
    }

    /// The v2 backend against a fake hierarchy: which files get which values.
    #[test]
    fn v2_writes_and_stats() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        // A fake cgroupfs does not create files on mkdir, so pre-create the parent and leaf.
        let leaf = root.join(PARENT).join("web.1.1.0");
        fs::create_dir_all(&leaf).unwrap();
        fs::write(root.join(PARENT).join("cgroup.subtree_control"), "").unwrap();
        fs::write(leaf.join("memory.oom.group"), "0").unwrap();
        let b = Backend {
            version: CgroupVersion::V2,
            mounts: vec![(String::new(), root.clone())],
        };
        let limits = Limits {
            memory_bytes: Some(64 << 20),
            cpu_shares: Some(2048),
            cpu_quota: Some(0.5),
            cpuset: Some("0".into()),
            pids: Some(32),
            ..Limits::default()
        };
        let cg = Cgroup {
            version: CgroupVersion::V2,
            dirs: vec![leaf.clone()],
            memory: leaf.clone(),
            cpu: leaf.clone(),
            cpuacct: leaf.clone(),
            pids: leaf.clone(),
        };
        cg.apply(&b, &limits).unwrap();
        let r = |f: &str| fs::read_to_string(leaf.join(f)).unwrap();
        assert_eq!(r("memory.max"), "67108864");
        assert_eq!(r("memory.oom.group"), "1");
        assert_eq!(r("cpu.weight"), "200");
        assert_eq!(r("cpu.max"), "50000 100000");
        assert_eq!(r("pids.max"), "32");
        assert_eq!(r("cpuset.cpus"), "0");
        enable_v2(&root, "+cpu +memory +pids").unwrap();
        assert_eq!(
            fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory +pids"
        );

        fs::write(
            leaf.join("cpu.stat"),
            "usage_usec 1500000\nuser_usec 1\nsystem_usec 2\nnr_periods 30\nnr_throttled 20\nthrottled_usec 2400000\n",
        )
        .unwrap();
        fs::write(leaf.join("pids.current"), "3\n").unwrap();
        fs::write(leaf.join("pids.events"), "max 5\n").unwrap();
        fs::write(leaf.join("memory.current"), "1000\n").unwrap();
        fs::write(leaf.join("memory.peak"), "9000\n").unwrap();
        fs::write(
            leaf.join("memory.events"),
            "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 1\n",
        )
        .unwrap();
        let st = cg.stats().unwrap();
        assert_eq!(st.cpu_usage, Duration::from_millis(1500));
        assert_eq!(st.cpu_throttled, Duration::from_millis(2400));
        assert_eq!((st.cpu_periods, st.cpu_throttled_periods), (30, 20));
        assert_eq!(st.memory_peak, Some(9000));
        assert_eq!(
            (st.oom_kills, st.pids_current, st.pids_limit_hits),
            (1, 3, 5)
        );
    }

    #[test]
    fn v1_writes_quota_or_unlimited() {
        let tmp = tempfile::tempdir().unwrap();
        let leaf = tmp.path().join("leaf");
        fs::create_dir_all(&leaf).unwrap();
        let b = Backend {
            version: CgroupVersion::V1,
            mounts: vec![],
        };
        let cg = Cgroup {
            version: CgroupVersion::V1,
            dirs: vec![leaf.clone()],
            memory: leaf.clone(),
            cpu: leaf.clone(),
            cpuacct: leaf.clone(),
            pids: leaf.clone(),
        };
        let mut limits = Limits {
            memory_bytes: Some(1 << 20),
            cpu_shares: Some(512),
            cpu_quota: Some(0.2),
            pids: Some(10),
            ..Limits::default()
        };
        cg.apply(&b, &limits).unwrap();
        let r = |f: &str| fs::read_to_string(leaf.join(f)).unwrap();
        assert_eq!(r("cpu.cfs_quota_us"), "20000");
        assert_eq!(r("cpu.cfs_period_us"), "100000");
        assert_eq!(r("cpu.shares"), "512");
        assert_eq!(r("memory.limit_in_bytes"), "1048576");
        limits.cpu_quota = None;
        cg.apply(&b, &limits).unwrap();
        assert_eq!(r("cpu.cfs_quota_us"), "-1");
    }
}
