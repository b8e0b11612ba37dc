//! Isolation of one dyno, checked from inside with /bin/sh, coreutils and perl (all from the
//! read-only system binds): pids, files, mounts, privileges, namespaces, network, hostname,
//! IPC, rlimits and exit statuses. Needs root; skipped with a message elsewhere.

mod jail_support;

use jail_support::{assert_no_leaks, jail, marker, name, sh, slug};
use std::time::Duration;

#[test]
fn pid_namespace_shows_only_the_dyno() {
    require_jail!();
    let n = name("iso-pid");
    let host_pid = std::process::id();
    let r = sh(
        &n,
        &[],
        &format!(
            "echo procs $(ls /proc | grep -E '^[0-9]+$' | wc -l); \
             echo one $(tr '\\0' ' ' < /proc/1/cmdline); \
             echo two $(tr '\\0' ' ' < /proc/2/cmdline); \
             echo self $$; \
             kill -0 {host_pid} 2>&1 && echo host-visible || echo host-invisible; \
             readlink /proc/1/exe >/dev/null 2>&1 && echo exe-readable || echo exe-denied; \
             cat /proc/1/environ >/dev/null 2>&1 && echo environ-readable || echo environ-denied; \
             echo myexe $(readlink /proc/self/exe)"
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = r.stdout;
    // init, sh, and at most the pipeline's helpers of the moment
    let procs: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("procs "))
        .and_then(|v| v.trim().parse().ok())
        .expect("procs line");
    assert!(
        (2..=6).contains(&procs),
        "{procs} processes visible:\n{out}"
    );
    assert!(out.contains("one dynosim-init"), "{out}");
    assert!(out.contains("two sh -c"), "{out}");
    assert!(out.contains("self 2\n"), "the command is pid 2: {out}");
    assert!(out.contains("host-invisible"), "{out}");
    // CVE-2019-5736: the init is a copy of the supervisor binary; the dyno must not reach it.
    assert!(out.contains("exe-denied"), "{out}");
    assert!(out.contains("environ-denied"), "{out}");
    assert!(
        !out.contains("myexe") || !out.contains("dynosim\n"),
        "the command runs the supervisor's binary: {out}"
    );
}

#[test]
fn host_files_are_invisible_and_root_is_inescapable() {
    require_jail!();
    let secret = tempfile::tempdir().expect("tempdir");
    std::fs::write(secret.path().join("secret"), "host only").expect("write");
    let secret_path = secret.path().display().to_string();
    let n = name("iso-fs");
    let r = sh(
        &n,
        &[],
        &format!(
            "for p in {secret_path} /home /root /etc/shadow /work /var /sys /boot; do \
               test -e $p && echo visible $p; done; \
             cd / && cd .. && echo up $(pwd); \
             readlink /proc/1/root >/dev/null 2>&1 && echo root-readable; \
             ls -l /proc/self/fd/ | awk 'NR>1 {{print $NF}}' | while read t; do \
               case \"$t\" in /dev/*|pipe:*|socket:*|/proc/*|anon_inode:*) ;; *) echo fd-outside $t;; esac; done; \
             echo end"
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("visible"), "{}", r.stdout);
    assert!(r.stdout.contains("up /\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("root-readable"), "{}", r.stdout);
    assert!(!r.stdout.contains("fd-outside"), "{}", r.stdout);
    assert!(r.stdout.contains("end"), "{}", r.stdout);
}

#[test]
fn system_dirs_are_read_only_and_only_app_and_tmp_are_writable() {
    require_jail!();
    let n = name("iso-ro");
    let r = sh(
        &n,
        &[],
        "for d in / /usr /bin /lib /etc /dev /proc; do \
           touch $d/dynosim-probe 2>/dev/null && echo writable $d; done; \
         touch /usr/x 2>&1 | grep -q 'Read-only file system' && echo usr-erofs; \
         echo hi > /app/f && echo app-ok; echo hi > /tmp/f && echo tmp-ok; \
         echo hi > /dev/shm/f && echo shm-ok; echo x > /dev/null && echo null-ok; \
         stat -c '%U %a' /app /tmp",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("writable"), "{}", r.stdout);
    for want in [
        "usr-erofs",
        "app-ok",
        "tmp-ok",
        "shm-ok",
        "null-ok",
        "dyno 755",
        "root 1777",
    ] {
        assert!(r.stdout.contains(want), "missing {want}: {}", r.stdout);
    }
}

/// Syscall numbers for the perl probes: (name, number, expected errno).
fn probes() -> Vec<(&'static str, i64, i32)> {
    let mut v = vec![
        ("mount", libc::SYS_mount, libc::EPERM),
        ("umount2", libc::SYS_umount2, libc::EPERM),
        ("pivot_root", libc::SYS_pivot_root, libc::EPERM),
        ("chroot", libc::SYS_chroot, libc::EPERM),
        ("unshare", libc::SYS_unshare, libc::EPERM),
        ("setns", libc::SYS_setns, libc::EPERM),
        ("ptrace", libc::SYS_ptrace, libc::EPERM),
        ("bpf", libc::SYS_bpf, libc::EPERM),
        ("perf_event_open", libc::SYS_perf_event_open, libc::EPERM),
        ("keyctl", libc::SYS_keyctl, libc::EPERM),
        ("userfaultfd", libc::SYS_userfaultfd, libc::EPERM),
        ("kexec_load", libc::SYS_kexec_load, libc::EPERM),
        ("init_module", libc::SYS_init_module, libc::EPERM),
        ("open_tree", libc::SYS_open_tree, libc::EPERM),
        ("fsopen", libc::SYS_fsopen, libc::EPERM),
        ("clone3", libc::SYS_clone3, libc::ENOSYS),
    ];
    v.sort_by_key(|p| p.1);
    v
}

#[test]
fn mounts_denied_no_capabilities_seccomp_on() {
    require_jail!();
    let n = name("iso-priv");
    // Every probe passes zero arguments: a syscall that got past the filter would fail with
    // EFAULT/EINVAL or succeed (ptrace TRACEME), never with the filter's errno.
    let mut perl = String::from("$|=1; ");
    for (name, nr, _) in probes() {
        perl.push_str(&format!(
            "$!=0; $r=syscall({nr},0,0,0,0,0); print \"{name} \", ($r==-1 ? $!+0 : \"ok\"), \"\\n\"; "
        ));
    }
    // clone(CLONE_NEWUSER|SIGCHLD): a nested namespace through clone instead of unshare.
    perl.push_str(&format!(
        "$!=0; $r=syscall({}, {}, 0,0,0,0); if ($r==0) {{ exit 0 }} print \"clone-newuser \", ($r==-1 ? $!+0 : \"ok\"), \"\\n\";",
        libc::SYS_clone,
        libc::CLONE_NEWUSER | libc::SIGCHLD
    ));
    let script = format!(
        "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; \
         echo uidmap $(cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ';'); \
         mount -o remount,rw /usr 2>/dev/null && echo remount-ok; \
         mount -t tmpfs none /tmp 2>/dev/null && echo mount-ok; \
         umount /proc 2>/dev/null && echo umount-ok; \
         su -c true 2>/dev/null && echo su-ok; \
         hostname evil 2>/dev/null && echo hostname-ok; \
         echo id $(id -u) $(id -g) $(id -G); \
         perl -e '{}'",
        perl.replace('\'', "'\\''")
    );
    let r = sh(&n, &[], &script);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out = r.stdout;
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(
            out.contains(&format!("{cap}:\t0000000000000000")),
            "{cap} not empty:\n{out}"
        );
    }
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("uidmap 0 0 1;"), "{out}");
    assert!(out.contains(" 1000 2000000000 1;"), "{out}");
    assert!(out.contains("id 1000 1000 1000\n"), "{out}");
    for bad in [
        "remount-ok",
        "mount-ok",
        "umount-ok",
        "su-ok",
        "hostname-ok",
    ] {
        assert!(!out.contains(bad), "{bad}:\n{out}");
    }
    for (name, _, errno) in probes() {
        assert!(
            out.contains(&format!("{name} {errno}\n")),
            "{name} should fail with errno {errno}:\n{out}"
        );
    }
    assert!(
        out.contains(&format!("clone-newuser {}\n", libc::EPERM)),
        "{out}"
    );
}

#[test]
fn nested_namespaces_are_denied() {
    require_jail!();
    let n = name("iso-ns");
    let r = sh(
        &n,
        &[],
        "for f in -U -m -n -p -i -u -C '-r'; do \
           unshare $f true 2>&1 | grep -q 'Operation not permitted' && echo denied $f || echo allowed $f; done",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("allowed"), "{}", r.stdout);
    assert_eq!(r.stdout.matches("denied").count(), 8, "{}", r.stdout);
}

#[test]
fn loopback_only_network_with_no_route_out() {
    require_jail!();
    let n = name("iso-net");
    // 192.0.2.1 is TEST-NET-1 (documentation only); with no interface but lo the connect fails
    // before any packet exists.
    let r = sh(
        &n,
        &[],
        "echo links $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '); \
         echo routes $(tail -n +2 /proc/net/route | wc -l); \
         bash -c 'echo > /dev/tcp/192.0.2.1/80' 2>&1 | grep -o 'Network is unreachable' | head -1; \
         perl -MIO::Socket::INET -e '$s=IO::Socket::INET->new(LocalAddr=>\"127.0.0.1:5000\",Listen=>1,ReuseAddr=>1) or die \"listen: $!\"; \
           $c=IO::Socket::INET->new(PeerAddr=>\"127.0.0.1:5000\") or die \"connect: $!\"; $a=$s->accept; print $c \"ping\\n\"; print \"got \", scalar <$a>;'",
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("links lo\n"), "{}", r.stdout);
    assert!(r.stdout.contains("routes 0\n"), "{}", r.stdout);
    assert!(r.stdout.contains("Network is unreachable"), "{}", r.stdout);
    assert!(r.stdout.contains("got ping"), "{}", r.stdout);

    let n = name("iso-nonet");
    let r = sh(
        &n,
        &["--net", "none"],
        "bash -c 'echo > /dev/tcp/127.0.0.1/5000' 2>&1 | grep -q 'Network is unreachable' && echo lo-down; \
         bash -c 'echo > /dev/tcp/127.0.0.1/5000' 2>/dev/null && echo reached || echo unreachable",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("lo-down"), "{}", r.stdout);
    assert!(r.stdout.contains("unreachable"), "{}", r.stdout);
}

#[test]
fn private_hostname_and_ipc() {
    require_jail!();
    let n = name("iso-uts");
    let r = sh(
        &n,
        &[],
        "echo host $(hostname) $DYNO; echo queues $(ipcs -q | grep -c '^0x'); \
         ipcmk -Q >/dev/null && echo made $(ipcs -q | grep -c '^0x')",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("host {n} {n}\n")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("queues 0\n"), "{}", r.stdout);
    assert!(r.stdout.contains("made 1\n"), "{}", r.stdout);
    let mut uts = libc::utsname {
        sysname: [0; 65],
        nodename: [0; 65],
        release: [0; 65],
        version: [0; 65],
        machine: [0; 65],
        domainname: [0; 65],
    };
    // SAFETY: uname(2) fills a local struct.
    unsafe { libc::uname(&mut uts) };
    let host: String = uts
        .nodename
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8 as char)
        .collect();
    assert_ne!(host, n, "the host's hostname changed");
}

#[test]
fn rlimits_follow_the_platform() {
    require_jail!();
    let n = name("iso-rl");
    let r = sh(&n, &[], "echo nofile $(ulimit -n) core $(ulimit -c)");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("nofile 10000 core 0"), "{}", r.stdout);
}

#[test]
fn exit_statuses_and_errors() {
    require_jail!();
    let m = marker();
    let n = name("iso-exit");
    let r = sh(&n, &[], "exit 7");
    assert_eq!(r.code, 7);
    // A crash: the command dies of SIGSEGV while a background child still runs.
    let r = sh(&n, &[], &format!("sleep {m} & kill -SEGV $$"));
    assert_eq!(r.code, 128 + libc::SIGSEGV, "{}", r.stderr);
    assert_no_leaks(&n, &m, Duration::from_secs(5));

    let r = jail(
        &["--name", &n, "--", "no-such-command"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 127);
    assert!(
        r.stderr.contains("error: exec: `no-such-command`"),
        "{}",
        r.stderr
    );
    let r = jail(&["--name", &n, "--", "/etc/hosts"], Duration::from_secs(30));
    assert_eq!(r.code, 126, "{}", r.stderr);

    for (args, want) in [
        (vec!["--memory", "12X", "--", "true"], "--memory"),
        (vec!["--size", "huge", "--", "true"], "unknown size"),
        (vec!["--cpu-quota", "0", "--", "true"], "--cpu-quota"),
        (vec!["--cpuset", "1-0", "--", "true"], "CPU list"),
        (vec!["--pids", "1", "--", "true"], "at least 2"),
        (vec!["--net", "bridge", "--", "true"], "--net"),
        (vec!["--time-limit", "5", "--", "true"], "no unit"),
        (vec!["--name", "a/b", "--", "true"], "dyno name"),
        (
            vec!["--slug", "/definitely/missing", "--", "true"],
            "error: slug:",
        ),
        (vec![], "CMD"),
    ] {
        let r = jail(&args, Duration::from_secs(30));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    // A slug that is a file, not a directory.
    let f = tempfile::NamedTempFile::new().expect("tmp");
    let r = jail(
        &[
            "--name",
            &n,
            "--slug",
            f.path().to_str().unwrap_or("/"),
            "--",
            "true",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);

    // A memory limit too small to even set the jail up is reported as such.
    let r = jail(
        &["--name", &n, "--memory", "1", "--", "true"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("error: memory:"), "{}", r.stderr);
    assert!(r.stderr.contains("too small"), "{}", r.stderr);

    // A failing cgroup write (a CPU that does not exist) fails the start and leaves nothing.
    let r = jail(
        &["--name", &n, "--cpuset", "4000", "--", "true"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("error: cgroup: writing `4000`"),
        "{}",
        r.stderr
    );
    assert_no_leaks(&n, &m, Duration::from_secs(5));
}

#[test]
fn slug_is_copied_to_app_with_its_contents() {
    require_jail!();
    let s = slug(&[
        ("Procfile", "web: ./run\n"),
        ("bin/run", "#!/bin/sh\necho ran $0\n"),
    ]);
    std::fs::set_permissions(
        s.path().join("bin/run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::os::unix::fs::symlink("bin/run", s.path().join("run")).expect("symlink");
    let n = name("iso-slug");
    let r = jail(
        &[
            "--name",
            &n,
            "--slug",
            jail_support::path_str(s.path()),
            "--",
            "sh",
            "-c",
            "pwd; ./run; cat Procfile; stat -c '%U %a %n' bin/run",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("/app\n"), "{}", r.stdout);
    assert!(r.stdout.contains("ran ./run"), "{}", r.stdout);
    assert!(r.stdout.contains("web: ./run"), "{}", r.stdout);
    assert!(r.stdout.contains("dyno 755 bin/run"), "{}", r.stdout);
}
