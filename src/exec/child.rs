//! The processes on the jail side of the fork: the launcher, the dyno's init and its command.
//!
//! Everything they need is prepared by the supervisor before it forks ([`Prepared`]), so the
//! children mostly make system calls. Each step reports failures over the error pipe as
//! `kind \x1f step \x1f reason` and exits without exec'ing; the pipe is close-on-exec, so the
//! supervisor reads EOF exactly when the command has been exec'd (or everyone died).
//!
//! Order (nsjail's, see docs/executor.md):
//! 1. launcher: stdio, close stray fds, join the cgroups, `clone` with every namespace.
//! 2. supervisor (outside): uid/gid maps, then the "go" byte.
//! 3. init: ids -> mounts (tmpfs root, binds, /app, /tmp, /proc, pivot_root, read-only
//!    remounts) -> loopback -> hostname -> fork the command.
//! 4. command: signals reset, setsid, bounding set, groups/gid/uid (drops every capability),
//!    pdeathsig, no_new_privs, rlimits, fds, chdir /app, seccomp last, execve.
//! 5. init: drops its own privileges the same way, then forwards stop signals and reaps.

use super::{DYNO_UID, Net, Rlimit, RlimitResource, seccomp, slug};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{Gid, Uid};
use seccompiler::BpfProgram;
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// Everything the jail side needs, computed before the fork.
pub(crate) struct Prepared {
    pub hostname: String,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub slug_fd: Option<RawFd>,
    pub stdio: [Option<RawFd>; 3],
    pub procs_fds: Vec<RawFd>,
    pub err_w: RawFd,
    pub sock: RawFd,
    pub net: Net,
    pub tmpfs_size: Option<u64>,
    pub rlimits: Vec<Rlimit>,
    pub filters: Vec<BpfProgram>,
    pub clone_flags: libc::c_int,
}

/// The jail's `PATH`; also used to resolve the command.
pub(crate) const JAIL_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// Signals the init passes on to every process of the dyno when they come from outside.
const FORWARDED: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Where the new root is assembled inside the dyno's mount namespace. Mounting over /tmp hides
/// only the namespace's view of it; the slug is reached through its open fd, so a slug under
/// /tmp still works.
const STAGE: &str = "/tmp";

/// A failed setup step: the kind sent to the supervisor (`setup`, or `input` for a slug that
/// cannot be a slug), the step and why.
struct StepError {
    kind: &'static str,
    step: String,
    reason: String,
}

type StepResult = Result<(), StepError>;

fn step_err(step: &str, reason: impl std::fmt::Display) -> StepError {
    StepError {
        kind: "setup",
        step: step.to_string(),
        reason: reason.to_string(),
    }
}

/// Report a failure to the supervisor and exit without exec'ing.
fn fail(p: &Prepared, kind: &str, step: &str, reason: &str, code: i32) -> ! {
    let msg = format!("{kind}\x1f{step}\x1f{reason}");
    // SAFETY: write(2) of an owned buffer to our error pipe; _exit never returns.
    unsafe {
        libc::write(p.err_w, msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

fn errno_str() -> String {
    std::io::Error::last_os_error().to_string()
}

/// Close every fd except `keep` (and 0, 1, 2), so the jail holds nothing of the supervisor's:
/// no other dyno's pipes, no host directories (CVE-2024-21626 leaked one).
fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&f| f > 2).collect();
    keep.sort_unstable();
    let mut from: u32 = 3;
    for k in keep.iter().map(|&k| k as u32) {
        if k > from {
            close_range(from, k - 1);
        }
        from = from.max(k + 1);
    }
    close_range(from, u32::MAX);
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range(2) only closes descriptors; none of ours are borrowed by live objects
    // on this side of the fork.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if r != 0 {
        // Kernels before 5.9: close one by one up to a sane bound.
        let end = last.min(65_535);
        for fd in first..=end {
            // SAFETY: as above.
            unsafe { libc::close(fd as libc::c_int) };
        }
    }
}

/// The launcher: forked from the (possibly multithreaded) supervisor, so it is single-threaded
/// and can safely clone the init with raw `clone`. It never returns.
pub(crate) fn launcher(p: &Prepared) -> ! {
    for (i, fd) in p.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            // SAFETY: dup2 onto 0..2; the source is an fd we opened for this purpose.
            if unsafe { libc::dup2(*fd, i as libc::c_int) } < 0 {
                fail(p, "setup", "stdio", &errno_str(), 1);
            }
        }
    }
    let mut keep = vec![p.err_w, p.sock];
    keep.extend(p.slug_fd);
    keep.extend(&p.procs_fds);
    close_fds_except(&keep);
    // Join the cgroups before cloning, so the init is born inside them and its cgroup
    // namespace is rooted at the dyno's cgroup.
    for &fd in &p.procs_fds {
        // SAFETY: write(2) of a static buffer.
        let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        if n != 1 {
            fail(
                p,
                "setup",
                "cgroup",
                &format!("joining the dyno's cgroup: {}", errno_str()),
                1,
            );
        }
        // SAFETY: closing our own fd.
        unsafe { libc::close(fd) };
    }
    let flags = p.clone_flags | libc::CLONE_PARENT | libc::SIGCHLD;
    // SAFETY: a fork-like clone (no new stack: the child gets a copy-on-write copy of ours).
    // This process is single-threaded, so the child's copy of every lock is consistent.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        let hint = match e.raw_os_error() {
            Some(libc::EPERM) => {
                " (creating namespaces needs root, or unprivileged user namespaces; check \
                 kernel.unprivileged_userns_clone and user.max_user_namespaces)"
            }
            Some(libc::ENOSPC) => {
                " (the namespace limit is reached: raise user.max_user_namespaces)"
            }
            Some(libc::EINVAL) => {
                " (the kernel lacks one of the namespaces: user, pid, mount, net, uts, ipc, cgroup)"
            }
            _ => "",
        };
        fail(
            p,
            "unsupported",
            "namespaces",
            &format!("clone: {e}{hint}"),
            1,
        );
    }
    if pid == 0 {
        init(p);
    }
    let bytes = (pid as i32).to_le_bytes();
    // SAFETY: write(2) of a local buffer to our socket, then exit without running destructors
    // (they belong to the supervisor's copy of this memory).
    unsafe {
        libc::write(p.sock, bytes.as_ptr().cast(), 4);
        libc::_exit(0)
    }
}

extern "C" fn noop(_: libc::c_int) {}

/// Install a real (empty) handler and block the signal, so it is queued for the signalfd: a
/// pid-namespace init silently drops signals whose handler is SIG_DFL.
fn catch_signals() -> Result<RawFd, String> {
    // SAFETY: sigset manipulation on a local, sigaction with a handler that does nothing, and
    // signalfd creation; all plain syscalls on this single-threaded process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED.iter().chain([libc::SIGCHLD].iter()) {
            libc::sigaddset(&mut set, *s);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(*s, &sa, std::ptr::null_mut()) != 0 {
                return Err(errno_str());
            }
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(errno_str());
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(errno_str());
        }
        Ok(fd)
    }
}

/// pid 1 of the dyno.
fn init(p: &Prepared) -> ! {
    let mut keep = vec![p.err_w, p.sock];
    keep.extend(p.slug_fd);
    close_fds_except(&keep);
    // Out of the supervisor's session: a terminal's Ctrl-C reaches the supervisor, which then
    // stops the dyno gracefully.
    // SAFETY: setsid(2) has no memory effects.
    unsafe { libc::setsid() };
    let sigfd = match catch_signals() {
        Ok(fd) => fd,
        Err(e) => fail(p, "setup", "signals", &e, 1),
    };
    // Wait for the supervisor to write our uid/gid maps.
    let mut go = [0u8; 1];
    // SAFETY: read(2) into a local buffer.
    if unsafe { libc::read(p.sock, go.as_mut_ptr().cast(), 1) } != 1 || go[0] != b'G' {
        // SAFETY: the supervisor gave up; exit quietly.
        unsafe { libc::_exit(1) };
    }
    if let Err(e) = nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .and_then(|_| nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)))
    {
        fail(
            p,
            "setup",
            "user namespace",
            &format!("becoming root in the namespace: {e}"),
            1,
        );
    }
    if let Err(e) = build_root(p) {
        fail(p, e.kind, &e.step, &e.reason, 1);
    }
    if p.net == Net::Loopback {
        if let Err(e) = loopback_up() {
            fail(p, "setup", "network", &format!("bringing lo up: {e}"), 1);
        }
    }
    if let Err(e) = nix::unistd::sethostname(&p.hostname) {
        fail(p, "setup", "hostname", &e.to_string(), 1);
    }
    // SAFETY: plain fork of this single-threaded process.
    let cmd = unsafe { libc::fork() };
    if cmd < 0 {
        fail(p, "setup", "fork", &errno_str(), 1);
    }
    if cmd == 0 {
        command(p, sigfd);
    }
    hide_cmdline(&p.hostname);
    let dropped = drop_privileges()
        .and_then(|()| seccomp::install(&p.filters).map_err(|e| step_err("seccomp", e)));
    if let Err(e) = dropped {
        // SAFETY: kill(2) of our own child before reporting.
        unsafe { libc::kill(cmd, libc::SIGKILL) };
        fail(p, e.kind, &format!("init {}", e.step), &e.reason, 1);
    }
    // SAFETY: closing our copy of the error pipe: from now on only the command holds it.
    unsafe { libc::close(p.err_w) };
    supervise(p.sock, sigfd, cmd)
}

/// The init's loop: forward stop signals from outside to every process, reap orphans, and
/// exit with the command's status (which kills the rest of the namespace). If the supervisor
/// dies, its end of the socket closes and the init exits, taking the dyno with it.
fn supervise(sock: RawFd, sigfd: RawFd, cmd: libc::pid_t) -> ! {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sock,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll(2) on a local array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            continue;
        }
        if fds[1].revents != 0 {
            // The supervisor never writes after "go": any event is its death.
            // SAFETY: exiting pid 1 makes the kernel SIGKILL the whole namespace.
            unsafe { libc::_exit(137) };
        }
        if fds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        // SAFETY: signalfd_siginfo is plain data; read(2) fills it.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: read(2) into the local struct of the right size.
        let r = unsafe {
            libc::read(
                sigfd,
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if r as usize != size {
            continue;
        }
        let sig = info.ssi_signo as libc::c_int;
        if sig == libc::SIGCHLD {
            loop {
                let mut status = 0;
                // SAFETY: waitpid(2) with a local status.
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                if pid == cmd {
                    let b = status.to_le_bytes();
                    // SAFETY: write(2) of a local buffer, then exit: the kernel kills the
                    // remaining processes of the namespace.
                    unsafe {
                        libc::write(sock, b.as_ptr().cast(), 4);
                        libc::_exit(0)
                    }
                }
            }
        } else if info.ssi_pid == 0 {
            // Sent from outside the namespace (the supervisor): pass it to everyone.
            // SAFETY: kill(2); -1 means every process we may signal, which excludes pid 1.
            unsafe { libc::kill(-1, sig) };
        }
    }
}

/// Make the init's command line say what it is: it is a copy of the supervisor's, which the
/// dyno could otherwise read in /proc/1/cmdline.
fn hide_cmdline(name: &str) {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may contain spaces) start at field 3.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // arg_start and arg_end are fields 48 and 49, i.e. indexes 45 and 46 after field 2.
    let (Some(start), Some(end)) = (
        f.get(45).and_then(|s| s.parse::<u64>().ok()),
        f.get(46).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return;
    };
    if end <= start {
        return;
    }
    let mut buf = vec![0u8; (end - start) as usize];
    let label = format!("dynosim-init {name}");
    let n = label.len().min(buf.len().saturating_sub(1));
    buf[..n].copy_from_slice(&label.as_bytes()[..n]);
    if let Ok(mut mem) = fs::OpenOptions::new().write(true).open("/proc/self/mem") {
        use std::io::{Seek, SeekFrom};
        if mem.seek(SeekFrom::Start(start)).is_ok() {
            let _ = mem.write_all(&buf);
        }
    }
}

fn loopback_up() -> Result<(), String> {
    // SAFETY: socket/ioctl on a zeroed ifreq naming "lo"; the union field read and written is
    // the flags member that SIOC[GS]IFFLAGS use.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(errno_str());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        let r = if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            Err(errno_str())
        } else {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr) < 0 {
                Err(errno_str())
            } else {
                Ok(())
            }
        };
        libc::close(fd);
        r
    }
}

/// Host entries of /etc that programs commonly need (dynamic linker, TLS roots, time zone,
/// name service config), bound read-only. The rest of the host's /etc stays invisible.
const ETC_ENTRIES: [&str; 18] = [
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "debian_version",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "protocols",
    "services",
    "ssl",
    "timezone",
    "perl",
];

/// Top-level system paths: bound read-only when they are directories, recreated when they are
/// symlinks (merged-/usr distributions).
const SYSTEM_DIRS: [&str; 7] = ["usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];

const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

fn mnt(
    step: &str,
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> StepResult {
    mount(source, target, fstype, flags, data)
        .map_err(|e| step_err(step, format!("mounting on {}: {e}", target.display())))
}

fn io_step<T>(step: &str, what: &Path, r: std::io::Result<T>) -> Result<T, StepError> {
    r.map_err(|e| step_err(step, format!("{}: {e}", what.display())))
}

/// Bind `src` onto `dst` (created as a file or directory to match), to be made read-only after
/// pivot_root. Returns whether anything was bound.
fn bind(src: &Path, dst: &Path, binds: &mut Vec<PathBuf>, inside: PathBuf) -> StepResult {
    let step = format!("mount {}", inside.display());
    let meta = match fs::symlink_metadata(src) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if meta.file_type().is_symlink() {
        let target = io_step(&step, src, fs::read_link(src))?;
        return io_step(&step, dst, symlink(target, dst));
    }
    if meta.is_dir() {
        io_step(&step, dst, fs::create_dir(dst))?;
    } else {
        io_step(&step, dst, fs::File::create(dst).map(|_| ()))?;
    }
    mnt(
        &step,
        Some(&src.to_string_lossy()),
        dst,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    binds.push(inside);
    Ok(())
}

fn build_root(p: &Prepared) -> StepResult {
    let root = Path::new(STAGE);
    // Nothing we mount may propagate back to the host.
    mnt(
        "mount /",
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None,
    )?;
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mnt(
        "mount /",
        Some("tmpfs"),
        root,
        Some("tmpfs"),
        nosuid,
        Some("size=16m,mode=0755"),
    )?;
    let mut binds: Vec<PathBuf> = Vec::new();
    for d in SYSTEM_DIRS {
        bind(
            &Path::new("/").join(d),
            &root.join(d),
            &mut binds,
            Path::new("/").join(d),
        )?;
    }
    if !root.join("usr").exists() {
        return Err(step_err("mount /usr", "the host has no /usr to bind"));
    }

    let etc = root.join("etc");
    io_step("mount /etc", &etc, fs::create_dir(&etc))?;
    for e in ETC_ENTRIES {
        bind(
            &Path::new("/etc").join(e),
            &etc.join(e),
            &mut binds,
            Path::new("/etc").join(e),
        )?;
    }
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\ndyno:x:{DYNO_UID}:{DYNO_UID}:dyno:/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
            ),
        ),
        (
            "group",
            format!("root:x:0:\ndyno:x:{DYNO_UID}:\nnogroup:x:65534:\n"),
        ),
        ("hostname", format!("{}\n", p.hostname)),
        (
            "hosts",
            format!("127.0.0.1\tlocalhost {}\n::1\tlocalhost\n", p.hostname),
        ),
        ("resolv.conf", String::new()),
    ];
    for (name, text) in files {
        let path = etc.join(name);
        io_step("mount /etc", &path, fs::write(&path, text))?;
    }

    let dev = root.join("dev");
    io_step("mount /dev", &dev, fs::create_dir(&dev))?;
    for d in DEVICES {
        let src = Path::new("/dev").join(d);
        if src.exists() {
            let dst = dev.join(d);
            io_step("mount /dev", &dst, fs::File::create(&dst).map(|_| ()))?;
            mnt(
                "mount /dev",
                Some(&src.to_string_lossy()),
                &dst,
                None,
                MsFlags::MS_BIND,
                None,
            )?;
        }
    }
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        let l = dev.join(link);
        io_step("mount /dev", &l, symlink(target, &l))?;
    }
    let size = p
        .tmpfs_size
        .map(|s| format!("size={s},"))
        .unwrap_or_default();
    let shm = dev.join("shm");
    fresh_tmpfs("mount /dev/shm", &shm, nosuid, &size, "1777")?;
    let pts = dev.join("pts");
    io_step("mount /dev/pts", &pts, fs::create_dir(&pts))?;
    // Optional: terminals inside the dyno (script, ssh-like tools). Not every kernel allows it.
    let _ = mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    );

    // /app: the slug, writable by the dyno, fresh at every start.
    let app = root.join("app");
    fresh_tmpfs("mount /app", &app, nosuid, &size, "0755")?;
    if let Some(fd) = p.slug_fd {
        // SAFETY: the supervisor opened this fd for us and nothing else on this side of the
        // fork uses it; owning it closes it after the copy, keeping the host tree out of reach.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        slug::copy(fd.as_fd(), &app).map_err(|e| match e {
            slug::SlugError::Input(reason) => StepError {
                kind: "input",
                step: "slug".to_string(),
                reason,
            },
            slug::SlugError::Io(reason) => step_err("slug", reason),
        })?;
    }
    io_step(
        "slug",
        &app,
        std::os::unix::fs::lchown(&app, Some(DYNO_UID), Some(DYNO_UID)),
    )?;
    let tmp = root.join("tmp");
    fresh_tmpfs("mount /tmp", &tmp, nosuid, &size, "1777")?;

    // A fresh /proc for the new pid namespace. It must be mounted before the host's /proc is
    // detached: the kernel only allows proc in a user namespace while a full proc is visible.
    let proc_ = root.join("proc");
    io_step("mount /proc", &proc_, fs::create_dir(&proc_))?;
    mnt(
        "mount /proc",
        Some("proc"),
        &proc_,
        Some("proc"),
        nosuid | MsFlags::MS_NOEXEC,
        None,
    )?;

    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the jail.
    io_step("pivot_root", root, std::env::set_current_dir(root))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| step_err("pivot_root", e))?;
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|e| step_err("pivot_root", format!("detaching the old root: {e}")))?;
    io_step("pivot_root", Path::new("/"), std::env::set_current_dir("/"))?;

    // Read-only after pivot (as nsjail), keeping the flags the host mount has locked.
    for b in &binds {
        remount_ro(b)?;
    }
    remount_ro(Path::new("/"))?;
    Ok(())
}

fn remount_ro(path: &Path) -> StepResult {
    let step = format!("remount {} read-only", path.display());
    let locked = nix::sys::statvfs::statvfs(path)
        .map(|s| s.flags())
        .map_err(|e| step_err(&step, e))?;
    use nix::sys::statvfs::FsFlags;
    let mut flags = MsFlags::MS_REMOUNT
        | MsFlags::MS_BIND
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if locked.contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>).map_err(|e| step_err(&step, e))
}

/// Drop everything: bounding set, supplementary groups, gid and uid (which clears every
/// capability), then no_new_privs and the seccomp filters. Used by the init and the command.
fn drop_privileges() -> StepResult {
    caps::clear(None, caps::CapSet::Bounding).map_err(|e| step_err("capabilities", e))?;
    caps::clear(None, caps::CapSet::Ambient).map_err(|e| step_err("capabilities", e))?;
    let g = Gid::from_raw(DYNO_UID);
    let u = Uid::from_raw(DYNO_UID);
    nix::unistd::setgroups(&[]).map_err(|e| step_err("credentials", format!("setgroups: {e}")))?;
    nix::unistd::setresgid(g, g, g)
        .map_err(|e| step_err("credentials", format!("setresgid: {e}")))?;
    nix::unistd::setresuid(u, u, u)
        .map_err(|e| step_err("credentials", format!("setresuid: {e}")))?;
    for set in [
        caps::CapSet::Effective,
        caps::CapSet::Permitted,
        caps::CapSet::Inheritable,
    ] {
        caps::clear(None, set).map_err(|e| step_err("capabilities", e))?;
    }
    nix::sys::prctl::set_dumpable(false).map_err(|e| step_err("credentials", e))?;
    nix::sys::prctl::set_no_new_privs().map_err(|e| step_err("no_new_privs", e))
}

fn rlimit_resource(r: RlimitResource) -> nix::sys::resource::Resource {
    use nix::sys::resource::Resource;
    match r {
        RlimitResource::NoFile => Resource::RLIMIT_NOFILE,
        RlimitResource::FSize => Resource::RLIMIT_FSIZE,
        RlimitResource::Core => Resource::RLIMIT_CORE,
        RlimitResource::Stack => Resource::RLIMIT_STACK,
        RlimitResource::As => Resource::RLIMIT_AS,
        RlimitResource::Cpu => Resource::RLIMIT_CPU,
        RlimitResource::MemLock => Resource::RLIMIT_MEMLOCK,
    }
}

/// pid 2: the dyno's command.
fn command(p: &Prepared, sigfd: RawFd) -> ! {
    // Back to default signal handling: the init's handlers, its blocked mask and the
    // supervisor's ignored SIGPIPE (Rust ignores it) must not leak into the dyno.
    // SAFETY: resetting dispositions and the mask of this single-threaded process.
    unsafe {
        libc::close(sigfd);
        for s in 1..libc::SIGRTMAX() {
            if s != libc::SIGKILL && s != libc::SIGSTOP {
                libc::signal(s, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::close(p.sock);
        // A session of its own: no controlling terminal to inject input into (TIOCSTI).
        libc::setsid();
    }
    if let Err(e) = drop_privileges() {
        fail(p, e.kind, &e.step, &e.reason, 1);
    }
    // Cleared by the uid change above, so set after it.
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        fail(p, "setup", "pdeathsig", &e.to_string(), 1);
    }
    for r in &p.rlimits {
        if let Err(e) = nix::sys::resource::setrlimit(rlimit_resource(r.resource), r.soft, r.hard) {
            fail(
                p,
                "setup",
                "rlimits",
                &format!("{:?} {}/{}: {e}", r.resource, r.soft, r.hard),
                1,
            );
        }
    }
    if let Err(e) = std::env::set_current_dir("/app") {
        fail(p, "setup", "chdir", &format!("/app: {e}"), 1);
    }
    let Some(prog) = resolve(&p.argv[0]) else {
        let name = p.argv[0].to_string_lossy();
        fail(
            p,
            "exec127",
            "exec",
            &format!(
                "`{name}`: command not found in the jail (PATH {JAIL_PATH}; the slug is at /app)"
            ),
            127,
        );
    };
    if let Err(e) = seccomp::install(&p.filters) {
        fail(p, "setup", "seccomp", &e, 1);
    }
    let argv: Vec<*const libc::c_char> = p
        .argv
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp: Vec<*const libc::c_char> = p
        .envp
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    // SAFETY: NUL-terminated arrays of pointers into CStrings that outlive the call.
    unsafe { libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    let e = std::io::Error::last_os_error();
    let (kind, code) = match e.raw_os_error() {
        Some(libc::ENOENT) => ("exec127", 127),
        _ => ("exec126", 126),
    };
    fail(
        p,
        kind,
        "exec",
        &format!("{}: {e}", prog.to_string_lossy()),
        code,
    )
}

/// Find the program like a shell would: a name with a slash is used as is, otherwise the first
/// match in the jail's PATH.
fn resolve(arg0: &CString) -> Option<CString> {
    let bytes = arg0.as_bytes();
    if bytes.contains(&b'/') {
        return Some(arg0.clone());
    }
    if bytes.is_empty() {
        return None;
    }
    for dir in JAIL_PATH.split(':') {
        let cand = Path::new(dir).join(std::ffi::OsStr::from_bytes(bytes));
        if let Ok(m) = fs::metadata(&cand) {
            if m.is_file() {
                return CString::new(cand.as_os_str().as_bytes()).ok();
            }
        }
    }
    None
}

/// Create `dir` and mount a fresh tmpfs on it (the dyno's writable places).
fn fresh_tmpfs(step: &str, dir: &Path, flags: MsFlags, size: &str, mode: &str) -> StepResult {
    io_step(step, dir, fs::create_dir(dir))?;
    mnt(
        step,
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        flags,
        Some(&format!("{size}mode={mode}")),
    )
}
