//! The slug copy into a dyno's `/app`: it never follows a symlink to a host file, even when the
//! slug's owner swaps entries while the jail starts (issue 14, point 1), and it refuses entries
//! that are not files, directories or symlinks. Needs root; skipped with a message elsewhere.

mod jail_support;

use jail_support::{jail, name, path_str, slug};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The host's secret: a root-only file (and a directory holding one) outside the slug.
struct Secret {
    _dir: tempfile::TempDir,
    file: PathBuf,
    dir: PathBuf,
    text: String,
}

fn secret() -> Secret {
    // Not under /tmp: the jail assembles its root on a tmpfs mounted over /tmp, which would hide
    // a host file there from the copy and make the test pass for the wrong reason.
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let text = format!("HOST-SECRET-{}-{}", std::process::id(), rand_token());
    let file = d.path().join("shadow");
    std::fs::write(&file, format!("{text}\n")).expect("write secret");
    let dir = d.path().join("etc");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("shadow"), format!("{text}\n")).expect("write secret");
    for p in [&file, &dir.join("shadow")] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod");
    }
    Secret {
        file,
        dir,
        text,
        _dir: d,
    }
}

fn rand_token() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ 0x9e37_79b9_7f4a_7c15
}

/// Keep swapping `slug/f` between a regular file and a symlink to the secret file, and
/// `slug/d` between a directory and a symlink to the secret directory (the attack of issue 14:
/// the entry is a file when checked and a symlink when opened). Each swap is one atomic
/// `renameat2(RENAME_EXCHANGE)` with a hidden twin, so both entries always exist.
fn racer(slug: PathBuf, secret: PathBuf, secret_dir: PathBuf, stop: Arc<AtomicBool>) -> u64 {
    let (f, fl) = (slug.join("f"), slug.join(".f-link"));
    let (d, dl) = (slug.join("d"), slug.join(".d-link"));
    std::os::unix::fs::symlink(&secret, &fl).expect("symlink");
    std::os::unix::fs::symlink(&secret_dir, &dl).expect("symlink");
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
    let pairs = [(c(&f), c(&fl)), (c(&d), c(&dl))];
    let mut swaps = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for (a, b) in &pairs {
            // SAFETY: renameat2(2) on NUL-terminated paths we own.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_renameat2,
                    libc::AT_FDCWD,
                    a.as_ptr(),
                    libc::AT_FDCWD,
                    b.as_ptr(),
                    libc::RENAME_EXCHANGE,
                )
            };
            assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
            swaps += 1;
        }
    }
    swaps
}

/// Everything readable under /app, symlinks followed as the dyno would follow them.
const READ_APP: &str = "cd /app && for p in f d/shadow $(find . -type f); do cat \"$p\" 2>/dev/null; done; \
     echo; ls -la /app /app/d 2>&1 | sed 's/^/ls: /'";

#[test]
fn slug_copy_never_follows_a_swapped_symlink() {
    require_jail!();
    let secret = secret();
    let s = slug(&[
        ("f", "benign\n"),
        ("d/shadow", "benign\n"),
        ("Procfile", "web: x\n"),
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let racer_thread = {
        let (slug, file, dir, stop) = (
            s.path().to_path_buf(),
            secret.file.clone(),
            secret.dir.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || racer(slug, file, dir, stop))
    };
    let n = name("slug-race");
    let (mut leaked, mut started, mut refused) = (0u32, 0u32, 0u32);
    let mut first_leak = String::new();
    let saw_link = AtomicU64::new(0);
    let t0 = Instant::now();
    const STARTS: u32 = 200;
    for _ in 0..STARTS {
        let r = jail(
            &[
                "--name",
                &n,
                "--slug",
                path_str(s.path()),
                "--",
                "sh",
                "-c",
                READ_APP,
            ],
            Duration::from_secs(60),
        );
        if r.stdout.contains(&secret.text) || r.stderr.contains(&secret.text) {
            leaked += 1;
            if first_leak.is_empty() {
                first_leak = r.stdout.clone();
            }
        }
        if r.code == 0 {
            started += 1;
            if r.stdout.contains("ls: l") {
                saw_link.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            // A slug that changes under the copy may be refused, never half-copied silently.
            assert!(
                r.stderr.contains("error: slug:"),
                "exit {}: {}",
                r.code,
                r.stderr
            );
            if refused == 0 {
                eprintln!("first refusal: {}", r.stderr.trim());
            }
            refused += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer_thread.join().expect("racer");
    eprintln!(
        "{STARTS} starts in {:.1} s: {started} started ({} with an entry copied as a symlink), \
         {refused} refused, {leaked} leaked; {swaps} swaps",
        t0.elapsed().as_secs_f64(),
        saw_link.load(Ordering::Relaxed)
    );
    assert_eq!(
        leaked, 0,
        "{leaked} of {STARTS} starts exposed the host file inside /app:\n{first_leak}"
    );
    assert!(
        swaps > u64::from(STARTS),
        "the racer barely ran: {swaps} swaps"
    );
    assert!(started > 0, "no start succeeded while racing");
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: mkfifo(2) on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

#[test]
fn slug_symlinks_are_copied_as_links_and_special_files_are_refused() {
    require_jail!();
    let secret = secret();
    // A symlink to a host file arrives as the same link, resolved inside the jail (where the
    // host's temporary directories do not exist), never as the target's contents.
    let s = slug(&[("Procfile", "web: x\n")]);
    std::os::unix::fs::symlink(&secret.file, s.path().join("f")).expect("symlink");
    std::os::unix::fs::symlink(&secret.dir, s.path().join("d")).expect("symlink");
    let n = name("slug-link");
    let r = jail(
        &[
            "--name",
            &n,
            "--slug",
            path_str(s.path()),
            "--",
            "sh",
            "-c",
            "readlink /app/f; readlink /app/d; cat /app/f /app/d/shadow 2>&1; echo done",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains(&secret.text), "{}", r.stdout);
    assert!(
        r.stdout.starts_with(&format!(
            "{}\n{}\n",
            secret.file.display(),
            secret.dir.display()
        )),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("No such file"), "{}", r.stdout);

    // A FIFO (which an open for reading would block on) and a socket: refused with exit 2,
    // naming the entry and what it is.
    for (entry, what) in [("sub/pipe", "a FIFO"), ("sock", "a socket")] {
        let s = slug(&[("Procfile", "web: x\n"), ("sub/keep", "1")]);
        let p = s.path().join(entry);
        if what == "a FIFO" {
            mkfifo(&p);
        } else {
            let _l = std::os::unix::net::UnixListener::bind(&p).expect("bind");
        }
        let t0 = Instant::now();
        let r = jail(
            &["--name", &n, "--slug", path_str(s.path()), "--", "true"],
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 2, "{entry}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!("error: slug: {entry}: {what}")),
            "{entry}: {}",
            r.stderr
        );
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{entry} hung the copy"
        );
    }
    // A device node.
    let s = slug(&[("Procfile", "web: x\n")]);
    let dev = s.path().join("null");
    let c = std::ffi::CString::new(dev.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: mknod(2) of a character device (1,3 = /dev/null) at a path we own, as root.
    let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made == 0 {
        let r = jail(
            &["--name", &n, "--slug", path_str(s.path()), "--", "true"],
            Duration::from_secs(30),
        );
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("error: slug: null: a character device"),
            "{}",
            r.stderr
        );
    }
}
