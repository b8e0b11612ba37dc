//! The supervisor side: starting a dyno, waiting for it, stopping it gracefully, restarting it
//! with a fresh filesystem, reading its cgroup statistics, and tearing everything down.

use super::cgroup::{Backend, Cgroup, sweep_stale};
use super::child::{self, JAIL_PATH, Prepared};
use super::{
    DYNO_HOST_UID, DYNO_UID, ErrorKind, JailConfig, JailError, Output, Stats, seccomp,
    validate_name,
};
use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the jail may take to set up (copying a large slug dominates) before the start is
/// abandoned.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Distinguishes cgroups of several dynos started by one supervisor process.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// How a dyno's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }

    /// Whether the command exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    fn from_wait(raw: i32) -> ExitStatus {
        if libc::WIFSIGNALED(raw) {
            ExitStatus::Signaled(libc::WTERMSIG(raw))
        } else {
            ExitStatus::Exited(libc::WEXITSTATUS(raw))
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exit status {c}"),
            ExitStatus::Signaled(s) => {
                let name = nix::sys::signal::Signal::try_from(*s)
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|_| format!("signal {s}"));
                write!(f, "killed by {name}")
            }
        }
    }
}

/// Why the supervisor stopped a dyno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// [`Dyno::stop`], [`Dyno::kill`] or a restart.
    Requested,
    /// The configured time limit passed.
    TimeLimit,
    /// The supervisor was interrupted (Ctrl-C, SIGTERM, SIGHUP).
    Interrupted,
}

/// The end of one run of a dyno.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// How the command ended.
    pub status: ExitStatus,
    /// Final cgroup statistics, read after every process had exited and before the cgroup was
    /// removed: total CPU time, throttling, memory peak, OOM kills, fork failures.
    pub stats: Stats,
    /// Wall time from start to exit.
    pub runtime: Duration,
    /// Why the supervisor stopped it, if it did.
    pub stop: Option<StopReason>,
    /// Whether the supervisor had to SIGKILL it (the grace period ran out, or [`Dyno::kill`]).
    pub sigkilled: bool,
    /// A teardown problem that left something behind (a cgroup directory that would not go).
    pub leftover: Option<String>,
}

/// The cleanup helper: a shell in its own session, holding the read end of a pipe whose write
/// end only the supervisor has. If the supervisor dies without saying "done", the pipe reads
/// EOF and the keeper kills what is left in the dyno's cgroups and removes them, so a crashed
/// supervisor leaves nothing behind.
struct Keeper {
    child: Child,
    /// Our end of the keeper's stdin: a socket, so writing to a dead keeper returns EPIPE
    /// instead of raising SIGPIPE in a host program that does not ignore it.
    line: Option<OwnedFd>,
}

/// send(2) with MSG_NOSIGNAL: the peer may be gone, and that must not kill the supervisor.
fn send_all(fd: RawFd, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        // SAFETY: send(2) from a live slice.
        let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = errno();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

fn socket_pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
}

const KEEPER_SCRIPT: &str = r#"trap '' HUP INT TERM PIPE
IFS= read -r line
[ "$line" = done ] && exit 0
n=0
while [ $n -lt 200 ]; do
  pids=$(cat "$1/cgroup.procs" 2>/dev/null)
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null
  sleep 0.05
  n=$((n+1))
done
for d in "$@"; do
  n=0
  while [ -d "$d" ] && [ $n -lt 100 ]; do rmdir "$d" 2>/dev/null || sleep 0.05; n=$((n+1)); done
  rmdir "${d%/*}" 2>/dev/null
done
exit 0
"#;

impl Keeper {
    fn spawn(dirs: &[PathBuf]) -> Result<Keeper, JailError> {
        let (ours, theirs) = socket_pair()
            .map_err(|e| JailError::setup("keeper", format!("creating a socket: {e}")))?;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(KEEPER_SCRIPT)
            .arg("dynosim-keeper")
            .args(dirs)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid(2) is async-signal-safe; it takes the keeper out of the supervisor's
        // session and process group, so signals meant for the supervisor miss it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| {
            JailError::setup(
                "keeper",
                format!("starting the cleanup helper /bin/sh: {e}"),
            )
        })?;
        Ok(Keeper {
            child,
            line: Some(ours),
        })
    }

    /// Tell the keeper the supervisor cleaned up itself, and reap it.
    fn done(mut self) {
        if let Some(fd) = self.line.take() {
            let _ = send_all(fd.as_raw_fd(), b"done\n");
        }
        let _ = self.child.wait();
    }
}

/// A running (or finished) dyno. Dropping it kills the dyno and removes its cgroups.
pub struct Dyno {
    config: JailConfig,
    backend: Backend,
    pid: i32,
    pidfd: Option<OwnedFd>,
    sock: Option<OwnedFd>,
    cgroup: Cgroup,
    keeper: Option<Keeper>,
    started: Instant,
    start_latency: Duration,
    stopping: Option<(StopReason, Instant)>,
    sigkilled: bool,
    exit: Option<Exit>,
    restarts: u32,
}

impl fmt::Debug for Dyno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dyno")
            .field("name", &self.config.name)
            .field("pid", &self.pid)
            .field("cgroup", &self.cgroup.dirs)
            .field("exit", &self.exit)
            .finish()
    }
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

/// What the machine must offer before anything is created.
fn preflight() -> Result<(), JailError> {
    // SAFETY: geteuid(2) has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        return Err(JailError::new(
            ErrorKind::Unsupported,
            "preflight",
            "dynosim jail must run as root (uid 0): it creates cgroups under /sys/fs/cgroup for \
             the dyno's memory and CPU limits and maps the dyno to an unprivileged host uid; user \
             namespaces alone cannot set those limits. Run it with sudo.",
        ));
    }
    if let Ok(s) = fs::read_to_string("/proc/sys/user/max_user_namespaces") {
        if s.trim() == "0" {
            return Err(JailError::new(
                ErrorKind::Unsupported,
                "preflight",
                "user namespaces are disabled (user.max_user_namespaces = 0); enable them with \
                 `sysctl -w user.max_user_namespaces=15000`",
            ));
        }
    }
    if !std::path::Path::new("/proc/self/ns/cgroup").exists() {
        return Err(JailError::new(
            ErrorKind::Unsupported,
            "preflight",
            "this kernel has no cgroup namespaces (Linux 4.6 or later is needed)",
        ));
    }
    Ok(())
}

fn cstring(step: &str, bytes: &[u8]) -> Result<CString, JailError> {
    CString::new(bytes).map_err(|_| {
        JailError::new(
            ErrorKind::Input,
            step,
            format!("`{}` contains a NUL byte", String::from_utf8_lossy(bytes)),
        )
    })
}

fn open_output(out: &Output, read: bool) -> Result<Option<OwnedFd>, JailError> {
    let path = match out {
        Output::Inherit => return Ok(None),
        Output::Null => PathBuf::from("/dev/null"),
        Output::File(p) => p.clone(),
    };
    let mut o = fs::OpenOptions::new();
    if read {
        o.read(true);
    } else {
        o.append(true).create(true);
    }
    let f = o.open(&path).map_err(|e| {
        JailError::new(
            ErrorKind::Input,
            "stdio",
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(Some(OwnedFd::from(f)))
}

fn read_all_with_deadline(fd: RawFd, deadline: Instant) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(());
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one local pollfd.
        let n = unsafe { libc::poll(&mut p, 1, left.as_millis().min(1000) as i32) };
        if n <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        // SAFETY: read(2) into a local buffer.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if r < 0 {
            if errno().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Ok(out);
        }
        if r == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..r as usize]);
    }
}

fn parse_child_error(msg: &[u8]) -> JailError {
    let text = String::from_utf8_lossy(msg);
    let mut it = text.splitn(3, '\x1f');
    let kind = it.next().unwrap_or("setup");
    let step = it.next().unwrap_or("setup");
    let reason = it.next().unwrap_or("the jail failed to start");
    let kind = match kind {
        "exec127" => ErrorKind::Exec(127),
        "exec126" => ErrorKind::Exec(126),
        "unsupported" => ErrorKind::Unsupported,
        "input" => ErrorKind::Input,
        _ => ErrorKind::Setup,
    };
    JailError::new(kind, step, reason)
}

/// If `pid` has exited without leaving a status on `sock`, its wait status (not reaped).
fn exited_without_status(pid: i32, sock: RawFd) -> Option<i32> {
    // SAFETY: siginfo_t is plain data; waitid(2) with WNOWAIT only peeks at our own child.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid/si_status are valid for a child-exit siginfo filled by waitid.
    let (child, code, status) = unsafe { (info.si_pid(), info.si_code, info.si_status()) };
    if r != 0 || child != pid {
        return None;
    }
    let mut b = [0u8; 4];
    // SAFETY: recv(2) peeking into a local buffer.
    let n = unsafe {
        libc::recv(
            sock,
            b.as_mut_ptr().cast(),
            4,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n == 4 {
        return None;
    }
    // Rebuild a wait(2)-style status from the siginfo.
    Some(if code == libc::CLD_EXITED {
        (status & 0xff) << 8
    } else {
        status & 0x7f
    })
}

/// The error for a jail process that died during setup without reporting why; the OOM killer
/// is the usual culprit (a memory limit smaller than the slug plus the jail's own needs).
fn died_in_setup(cgroup: &Cgroup, config: &JailConfig, who: &str, status: i32) -> JailError {
    let how = ExitStatus::from_wait(status);
    let oom = cgroup.stats().map(|s| s.oom_kills).unwrap_or(0);
    match config.limits.memory_bytes {
        Some(m) if oom > 0 => JailError::new(
            ErrorKind::Input,
            "memory",
            format!(
                "{who} was killed by the OOM killer during setup: the memory limit of {} is too \
                 small for the jail (the slug is copied into memory)",
                super::units::format_bytes(m)
            ),
        ),
        _ => JailError::setup("setup", format!("{who} died during setup ({how})")),
    }
}

fn kill_and_reap(pid: i32) {
    // SAFETY: kill(2) and waitpid(2) on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
    }
}

struct Launched {
    pid: i32,
    pidfd: Option<OwnedFd>,
    sock: OwnedFd,
    cgroup: Cgroup,
    keeper: Keeper,
    started: Instant,
    start_latency: Duration,
}

fn launch(config: &JailConfig, backend: &Backend) -> Result<Launched, JailError> {
    let t0 = Instant::now();
    validate_name(&config.name).map_err(|e| JailError::new(ErrorKind::Input, "name", e))?;
    if config.command.is_empty() || config.command[0].is_empty() {
        return Err(JailError::new(
            ErrorKind::Input,
            "command",
            "no command given",
        ));
    }
    let argv = config
        .command
        .iter()
        .map(|a| cstring("command", a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), JAIL_PATH.into()),
        ("HOME".into(), "/app".into()),
        ("DYNO".into(), config.name.clone()),
        ("PORT".into(), "5000".into()),
    ];
    if let Ok(term) = std::env::var("TERM") {
        env.push(("TERM".into(), term));
    }
    for (k, v) in &config.env {
        if k.is_empty() || k.contains('=') {
            return Err(JailError::new(
                ErrorKind::Input,
                "env",
                format!("`{k}` is not a valid variable name"),
            ));
        }
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    let envp = env
        .iter()
        .map(|(k, v)| cstring("env", format!("{k}={v}").as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;

    let slug = match &config.slug {
        None => None,
        Some(path) => {
            let f = fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(path)
                .map_err(|e| {
                    let what = if e.raw_os_error() == Some(libc::ENOTDIR) {
                        "is not a directory".to_string()
                    } else {
                        e.to_string()
                    };
                    JailError::new(
                        ErrorKind::Input,
                        "slug",
                        format!("{}: {what}", path.display()),
                    )
                })?;
            Some(OwnedFd::from(f))
        }
    };
    let stdio = [
        open_output(&config.stdin, true)?,
        open_output(&config.stdout, false)?,
        open_output(&config.stderr, false)?,
    ];
    let filters = seccomp::build()?;

    sweep_stale(backend);
    let leaf = format!(
        "{}.{}.{}",
        config.name,
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    // The keeper first: if we die while creating the cgroup, it still removes it.
    let keeper = Keeper::spawn(&Cgroup::planned_dirs(backend, &leaf, &config.limits))?;
    let cgroup = match Cgroup::create(backend, &leaf, &config.limits) {
        Ok(c) => c,
        Err(e) => {
            keeper.done();
            return Err(e);
        }
    };
    // From here on, failures must undo the cgroup and release the keeper.
    let undo = |cgroup: &Cgroup, keeper: Keeper, e: JailError| -> JailError {
        let _ = cgroup.remove(Duration::from_secs(2));
        keeper.done();
        e
    };
    let mut procs = Vec::new();
    for p in cgroup.procs_files() {
        match fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&p)
        {
            Ok(f) => procs.push(OwnedFd::from(f)),
            Err(e) => {
                return Err(undo(
                    &cgroup,
                    keeper,
                    JailError::setup("cgroup", format!("opening {}: {e}", p.display())),
                ));
            }
        }
    }
    let pipes = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC);
    let socks = socket_pair();
    let ((err_r, err_w), (sock_p, sock_c)) = match (pipes, socks) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => {
            return Err(undo(
                &cgroup,
                keeper,
                JailError::setup("setup", format!("creating pipes: {e}")),
            ));
        }
    };
    let prepared = Prepared {
        hostname: config.name.clone(),
        argv,
        envp,
        slug_fd: slug.as_ref().map(|f| f.as_raw_fd()),
        stdio: [
            stdio[0].as_ref().map(|f| f.as_raw_fd()),
            stdio[1].as_ref().map(|f| f.as_raw_fd()),
            stdio[2].as_ref().map(|f| f.as_raw_fd()),
        ],
        procs_fds: procs.iter().map(|f| f.as_raw_fd()).collect(),
        err_w: err_w.as_raw_fd(),
        sock: sock_c.as_raw_fd(),
        net: config.net,
        tmpfs_size: config.limits.memory_bytes,
        rlimits: config.rlimits.clone(),
        filters,
        clone_flags: libc::CLONE_NEWUSER
            | libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWUTS
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWCGROUP,
    };

    // SAFETY: fork(2). glibc's fork keeps malloc usable in the child even if other threads
    // exist; the child only runs `child::launcher`, which never returns into our frames.
    let launcher = unsafe { libc::fork() };
    if launcher < 0 {
        let e = errno();
        return Err(undo(
            &cgroup,
            keeper,
            JailError::setup("fork", e.to_string()),
        ));
    }
    if launcher == 0 {
        child::launcher(&prepared);
    }
    drop((err_w, sock_c, procs, stdio, slug));

    // The launcher sends the init's pid (or dies reporting an error).
    let mut sock_file = fs::File::from(sock_p);
    let mut pidbuf = [0u8; 4];
    let got_pid = sock_file.read_exact(&mut pidbuf).is_ok();
    let mut st = 0;
    // SAFETY: reaping our own launcher child.
    unsafe { libc::waitpid(launcher, &mut st, 0) };
    let err_r_fd = err_r.as_raw_fd();
    if !got_pid {
        let msg = read_all_with_deadline(err_r_fd, Instant::now() + Duration::from_secs(5))
            .unwrap_or_default();
        let e = if msg.is_empty() {
            died_in_setup(&cgroup, config, "the launcher", st)
        } else {
            parse_child_error(&msg)
        };
        return Err(undo(&cgroup, keeper, e));
    }
    let pid = i32::from_le_bytes(pidbuf);

    let maps = format!("0 0 1\n{DYNO_UID} {DYNO_HOST_UID} 1\n");
    for file in ["uid_map", "gid_map"] {
        let path = format!("/proc/{pid}/{file}");
        if let Err(e) = fs::write(&path, &maps) {
            kill_and_reap(pid);
            return Err(undo(
                &cgroup,
                keeper,
                JailError::setup("uid map", format!("writing {path}: {e}")),
            ));
        }
    }
    if let Err(e) = send_all(sock_file.as_raw_fd(), b"G") {
        kill_and_reap(pid);
        return Err(undo(
            &cgroup,
            keeper,
            JailError::setup("sync", format!("signalling the dyno: {e}")),
        ));
    }
    let deadline = Instant::now() + START_TIMEOUT;
    match read_all_with_deadline(err_r_fd, deadline) {
        // EOF without a message: the command was executed, unless the init died during
        // setup (killed, e.g. by the OOM killer) without a word. An init that ran the command
        // leaves its status on the socket before exiting.
        Ok(msg) if msg.is_empty() => {
            if let Some(st) = exited_without_status(pid, sock_file.as_raw_fd()) {
                kill_and_reap(pid);
                return Err(undo(
                    &cgroup,
                    keeper,
                    died_in_setup(&cgroup, config, "the dyno's init", st),
                ));
            }
        }
        Ok(msg) => {
            kill_and_reap(pid);
            return Err(undo(&cgroup, keeper, parse_child_error(&msg)));
        }
        Err(()) => {
            kill_and_reap(pid);
            return Err(undo(
                &cgroup,
                keeper,
                JailError::setup(
                    "start",
                    format!("the jail was not ready after {} s", START_TIMEOUT.as_secs()),
                ),
            ));
        }
    }
    // SAFETY: pidfd_open(2) on our own unreaped child, so the pid cannot be reused.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a fresh fd returned by the kernel is ours alone.
    let pidfd = (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as RawFd) });
    Ok(Launched {
        pid,
        pidfd,
        sock: OwnedFd::from(sock_file),
        cgroup,
        keeper,
        started: t0,
        start_latency: t0.elapsed(),
    })
}

impl Dyno {
    /// Start a dyno: check the machine, create and limit its cgroup, build the jail, and exec
    /// the command. Returns once the command runs (`execve` succeeded), so [`Dyno::start_latency`]
    /// is the platform-side boot overhead. On error nothing is left behind.
    pub fn start(config: &JailConfig) -> Result<Dyno, JailError> {
        preflight()?;
        let backend = Backend::detect()?;
        let l = launch(config, &backend)?;
        Ok(Dyno {
            config: config.clone(),
            backend,
            pid: l.pid,
            pidfd: l.pidfd,
            sock: Some(l.sock),
            cgroup: l.cgroup,
            keeper: Some(l.keeper),
            started: l.started,
            start_latency: l.start_latency,
            stopping: None,
            sigkilled: false,
            exit: None,
            restarts: 0,
        })
    }

    /// The dyno's name (`web.1`); it stays the same across restarts, as on the platform.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Host pid of the dyno's init (pid 1 inside); changes at every restart.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The configuration the dyno was started with.
    pub fn config(&self) -> &JailConfig {
        &self.config
    }

    /// The cgroup interface in use.
    pub fn cgroup_version(&self) -> super::CgroupVersion {
        self.backend.version
    }

    /// The dyno's cgroup directories (one per v1 hierarchy), for inspection and leak checks.
    pub fn cgroup_dirs(&self) -> &[PathBuf] {
        &self.cgroup.dirs
    }

    /// When the current run started.
    pub fn started_at(&self) -> Instant {
        self.started
    }

    /// Time from [`Dyno::start`] (or the restart) to the command's `execve`.
    pub fn start_latency(&self) -> Duration {
        self.start_latency
    }

    /// How many times [`Dyno::restart`] started it again.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The exit of the current run, once it has been reaped.
    pub fn exit(&self) -> Option<&Exit> {
        self.exit.as_ref()
    }

    /// Current cgroup statistics of the running dyno, or the final ones once it has exited.
    pub fn stats(&self) -> Result<Stats, JailError> {
        match &self.exit {
            Some(e) => Ok(e.stats),
            None => self.cgroup.stats(),
        }
    }

    /// Host pids of every process in the dyno (empty once it has exited).
    pub fn processes(&self) -> Vec<i32> {
        if self.exit.is_some() {
            return Vec::new();
        }
        self.cgroup.pids()
    }

    /// Send a signal. SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 reach every process
    /// of the dyno (the init forwards them); SIGKILL kills the whole dyno.
    pub fn signal(&self, sig: i32) -> Result<(), JailError> {
        if self.exit.is_some() {
            return Ok(());
        }
        // SAFETY: kill(2) on our own unreaped child.
        if unsafe { libc::kill(self.pid, sig) } != 0 {
            return Err(JailError::setup("signal", errno().to_string()));
        }
        Ok(())
    }

    /// Begin a graceful stop without waiting: SIGTERM now, SIGKILL once `grace` has passed
    /// (enforced by the wait methods). Does nothing if a stop is already under way.
    pub fn begin_stop(&mut self, reason: StopReason, grace: Duration) {
        if self.exit.is_some() || self.stopping.is_some() {
            return;
        }
        self.stopping = Some((reason, Instant::now() + grace));
        let _ = self.signal(libc::SIGTERM);
    }

    /// Whether a stop is under way and the SIGKILL has been sent.
    pub fn is_sigkilled(&self) -> bool {
        self.sigkilled
    }

    fn tick(&mut self) {
        if let Some((_, kill_at)) = self.stopping {
            if !self.sigkilled && Instant::now() >= kill_at {
                self.sigkilled = true;
                let _ = self.signal(libc::SIGKILL);
            }
        }
    }

    /// Reap the dyno if it has exited; never blocks.
    pub fn try_wait(&mut self) -> Result<Option<Exit>, JailError> {
        self.wait_timeout(Duration::ZERO)
    }

    /// Wait up to `timeout` for the dyno to exit, enforcing a stop's grace period meanwhile.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Exit>, JailError> {
        if let Some(e) = &self.exit {
            return Ok(Some(e.clone()));
        }
        let deadline = Instant::now() + timeout;
        loop {
            self.tick();
            let mut status = 0;
            // SAFETY: waitpid(2) on our own child with a local status.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                return Ok(Some(self.finish(Some(status))));
            }
            if r < 0 && errno().raw_os_error() != Some(libc::EINTR) {
                // Someone else reaped it (SIGCHLD ignored by the host program).
                return Ok(Some(self.finish(None)));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let mut slice = (deadline - now).min(Duration::from_millis(200));
            if let Some((_, kill_at)) = self.stopping {
                if !self.sigkilled {
                    slice = slice.min(kill_at.saturating_duration_since(now));
                }
            }
            match &self.pidfd {
                Some(fd) => {
                    let mut p = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let ms = slice.as_millis().max(1) as i32;
                    // SAFETY: poll(2) on one local pollfd; a pidfd becomes readable at exit.
                    unsafe { libc::poll(&mut p, 1, ms) };
                }
                None => std::thread::sleep(slice.min(Duration::from_millis(10))),
            }
        }
    }

    /// Wait for the dyno to exit (enforcing a stop's grace period).
    pub fn wait(&mut self) -> Result<Exit, JailError> {
        loop {
            if let Some(e) = self.wait_timeout(Duration::from_secs(3600))? {
                return Ok(e);
            }
        }
    }

    /// Stop the dyno the platform's way: SIGTERM to every process, up to `grace` for them to
    /// exit, then SIGKILL. Returns how it ended; tears down its cgroup.
    pub fn stop(&mut self, grace: Duration) -> Result<Exit, JailError> {
        self.begin_stop(StopReason::Requested, grace);
        self.wait()
    }

    /// Kill the dyno at once (SIGKILL to every process).
    pub fn kill(&mut self) -> Result<Exit, JailError> {
        self.begin_stop(StopReason::Requested, Duration::ZERO);
        self.wait()
    }

    /// Stop the dyno (with the configured grace period) and start it again: a fresh copy of the
    /// slug, a fresh /tmp, new namespaces and a new cgroup, under the same name. Returns how
    /// the previous run ended.
    pub fn restart(&mut self) -> Result<Exit, JailError> {
        let prev = self.stop(self.config.grace)?;
        let l = launch(&self.config, &self.backend)?;
        self.pid = l.pid;
        self.pidfd = l.pidfd;
        self.sock = Some(l.sock);
        self.cgroup = l.cgroup;
        self.keeper = Some(l.keeper);
        self.started = l.started;
        self.start_latency = l.start_latency;
        self.stopping = None;
        self.sigkilled = false;
        self.exit = None;
        self.restarts += 1;
        Ok(prev)
    }

    /// Collect the status, final statistics, and tear down. `raw` is the init's wait status.
    fn finish(&mut self, raw: Option<i32>) -> Exit {
        let runtime = self.started.elapsed();
        // The init writes the command's wait status just before it exits.
        let mut cmd_status = None;
        if let Some(sock) = &self.sock {
            let mut b = [0u8; 4];
            // SAFETY: non-blocking recv(2) into a local buffer.
            let n = unsafe {
                libc::recv(
                    sock.as_raw_fd(),
                    b.as_mut_ptr().cast(),
                    4,
                    libc::MSG_DONTWAIT,
                )
            };
            if n == 4 {
                cmd_status = Some(ExitStatus::from_wait(i32::from_le_bytes(b)));
            }
        }
        let status = cmd_status
            .or(raw.map(ExitStatus::from_wait))
            .unwrap_or(ExitStatus::Signaled(libc::SIGKILL));
        let stats = self.cgroup.stats().unwrap_or_default();
        let leftover = self
            .cgroup
            .remove(Duration::from_secs(3))
            .err()
            .map(|e| e.to_string());
        if let Some(k) = self.keeper.take() {
            k.done();
        }
        self.sock = None;
        self.pidfd = None;
        let exit = Exit {
            status,
            stats,
            runtime,
            stop: self.stopping.map(|(r, _)| r),
            sigkilled: self.sigkilled,
            leftover,
        };
        self.exit = Some(exit.clone());
        exit
    }
}

impl Drop for Dyno {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.sigkilled = true;
            let _ = self.signal(libc::SIGKILL);
            let mut status = 0;
            // SAFETY: blocking waitpid(2) on our own child after SIGKILL.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            self.finish((r == self.pid).then_some(status));
        }
    }
}

/// Something the supervisor did on its own while running a dyno, for the caller to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// The time limit passed; SIGTERM was sent.
    TimeLimit(Duration),
    /// The supervisor was interrupted; SIGTERM was sent (a second interrupt kills at once).
    Interrupted,
    /// The grace period ran out; SIGKILL was sent.
    GraceOver(Duration),
}

/// Run a dyno to completion, as `dynosim jail` does: start it, enforce the configured time
/// limit (SIGTERM, grace, SIGKILL), and stop it when `interrupts` is incremented (first time:
/// graceful stop; second: SIGKILL). `on_event` hears about each of those actions.
pub fn run(
    config: &JailConfig,
    interrupts: &AtomicUsize,
    mut on_event: impl FnMut(RunEvent),
) -> Result<Exit, JailError> {
    // Read before starting: an interrupt that arrives while the jail is being set up must
    // still stop the dyno.
    let mut seen = interrupts.load(Ordering::SeqCst);
    let mut dyno = Dyno::start(config)?;
    let deadline = config.time_limit.map(|t| dyno.started_at() + t);
    let mut told_kill = false;
    loop {
        if let Some(exit) = dyno.wait_timeout(Duration::from_millis(50))? {
            return Ok(exit);
        }
        let n = interrupts.load(Ordering::SeqCst);
        if n > seen {
            if dyno.stopping.is_none() {
                on_event(RunEvent::Interrupted);
                dyno.begin_stop(StopReason::Interrupted, config.grace);
            } else if !dyno.sigkilled {
                dyno.sigkilled = true;
                told_kill = true;
                let _ = dyno.signal(libc::SIGKILL);
            }
            seen = n;
        }
        if let Some(d) = deadline {
            if dyno.stopping.is_none() && Instant::now() >= d {
                if let Some(t) = config.time_limit {
                    on_event(RunEvent::TimeLimit(t));
                }
                dyno.begin_stop(StopReason::TimeLimit, config.grace);
            }
        }
        if dyno.sigkilled && !told_kill {
            told_kill = true;
            on_event(RunEvent::GraceOver(config.grace));
        }
    }
}

#[cfg(test)]
mod tests {
    /// The validation mode moves dynos between threads.
    #[test]
    fn dyno_is_send() {
        fn send<T: Send>() {}
        send::<super::Dyno>();
    }
}
