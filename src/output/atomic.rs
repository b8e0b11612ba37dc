//! All-or-nothing output folders, safe with several writers.
//!
//! Results are written to a hidden sibling folder `.<name>.partial-<random>`; on success it
//! replaces the target in one step (Linux `renameat2(RENAME_EXCHANGE)`, so the old results stay
//! readable until the new ones are in place). A failed or interrupted run deletes its staging
//! folder and leaves the previous results untouched.
//!
//! Several writers may share a file system (two pods of a Kubernetes Job on one volume, both
//! PID 1, so a PID names nobody):
//! - the staging folder ends with 64 random bits and is created with `mkdir`, which fails if
//!   the name exists, so no two writers ever share one; a name that would pass 255 bytes is
//!   shortened and given a hash of the full output name;
//! - each writer holds an exclusive `flock` on a lock file inside its staging folder for as long
//!   as the folder lives, and stale folders (left by a killed writer) are recognised by that lock
//!   being free, never by a PID;
//! - creating a staging folder, deleting stale ones and committing happen under an exclusive
//!   `flock` on the output's parent folder (or, on file systems that cannot lock a folder, on a
//!   `.dynosim.lock` file in it), so a second writer waits for the first's commit.
//!
//! Only a folder dynosim wrote may be replaced ([`super::folder::check_replaceable`]), checked
//! when the staging folder is created (before any simulation) and again under the lock at the
//! commit.

use super::folder;
use crate::interrupt;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An output problem, with the path involved.
#[derive(Debug, thiserror::Error)]
#[error("{what} `{}`: {source}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    pub what: String,
    pub source: io::Error,
}

/// The reason carried by an [`OutputError`] that refused an output location the user gave (a
/// file, a folder dynosim did not write, an input of the same command): bad input, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl OutputError {
    /// An output location refused before anything was written.
    pub fn refused(path: &Path, why: impl Into<String>) -> OutputError {
        OutputError {
            path: path.to_path_buf(),
            what: "refusing to write the output folder".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, Refused(why.into())),
        }
    }

    /// Whether this is a refusal of the location (bad input), not a failure while writing.
    pub fn is_refusal(&self) -> bool {
        self.source.get_ref().is_some_and(|e| e.is::<Refused>())
    }

    /// Whether the write stopped because a stop was requested (SIGINT, SIGTERM, SIGHUP).
    pub fn is_interrupted(&self) -> bool {
        self.source.kind() == io::ErrorKind::Interrupted
    }

    fn interrupted(path: &Path) -> OutputError {
        err(
            path,
            "not committed",
            io::Error::new(io::ErrorKind::Interrupted, "a stop was requested"),
        )
    }
}

fn err(path: &Path, what: &str, source: io::Error) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        what: what.to_string(),
        source,
    }
}

/// The lock file each writer holds inside its staging folder (removed just before the commit).
const WRITER_LOCK: &str = ".writer.lock";

/// The lock file of the parent, where a folder cannot be locked itself (NFS).
const PARENT_LOCK: &str = ".dynosim.lock";

/// How long a writer waits for another one's hold on the parent (which lasts milliseconds: a
/// listing, a mkdir, a rename) before giving up.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// Longest file name (bytes) on the file systems dynosim writes to.
const NAME_MAX: usize = 255;

/// A staging folder for one output folder.
pub struct StagingDir {
    /// The final folder as given (for messages and the returned path).
    target: PathBuf,
    /// The final folder, absolute with symlinks resolved (where the commit puts the results).
    resolved: PathBuf,
    staging: PathBuf,
    /// What kind of folder it is (which existing folders it may replace).
    kind: folder::FolderKind,
    /// The flock on `staging/.writer.lock` that tells other writers this folder is alive.
    _alive: File,
    committed: bool,
}

impl StagingDir {
    /// Create the staging folder beside `target` (creating `target`'s parent if needed) and remove
    /// stale staging folders left by killed writers. A stop request while waiting for another
    /// writer's lock gives up ([`OutputError::is_interrupted`]). Refuses (see [`OutputError::is_refusal`]) a
    /// target that exists and is not a folder dynosim wrote.
    pub fn create(target: &Path) -> Result<StagingDir, OutputError> {
        Self::create_kind(target, folder::FolderKind::Output)
    }

    /// [`create`](Self::create) for an imported scenario folder, which replaces only a folder
    /// an earlier import wrote ([`folder::check_replaceable_import`]).
    pub fn create_import(target: &Path) -> Result<StagingDir, OutputError> {
        Self::create_kind(target, folder::FolderKind::Import)
    }

    fn create_kind(target: &Path, kind: folder::FolderKind) -> Result<StagingDir, OutputError> {
        let resolved = folder::resolve(target)
            .map_err(|e| err(target, "cannot resolve the output path", e))?;
        let (parent, name) = match (resolved.parent(), resolved.file_name()) {
            (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
            _ => {
                return Err(OutputError::refused(
                    target,
                    "the output folder has no name",
                ));
            }
        };
        kind.check_replaceable(&resolved)
            .map_err(|why| OutputError::refused(target, why))?;
        fs::create_dir_all(&parent).map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) | Some(libc::EEXIST) => OutputError::refused(
                &parent,
                "its parent cannot be a folder: a file is in the way",
            ),
            _ => err(&parent, "cannot create the output parent folder", e),
        })?;
        let lock = ParentLock::acquire(&parent, true)?;
        let prefix = staging_prefix(&name);
        let stale = stale_staging(&parent, &prefix);
        let (staging, alive) = create_unique(&parent, &prefix)?;
        drop(lock);
        // Stale folders are nobody's: deleting them needs no lock (and may take a while).
        for s in stale {
            let _ = fs::remove_dir_all(s);
        }
        Ok(StagingDir {
            target: target.to_path_buf(),
            resolved,
            staging,
            kind,
            _alive: alive,
            committed: false,
        })
    }

    /// Where to write files before the commit.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The final folder.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Put the staged folder in place of the target, atomically when the target exists.
    pub fn commit(self) -> Result<PathBuf, OutputError> {
        self.commit_inner(false)
    }

    /// [`commit`](Self::commit), unless a stop was requested ([`crate::interrupt`]): checked
    /// last under the lock, just before the rename, so after a refusal (an error for which
    /// [`OutputError::is_interrupted`] holds) the previous results are untouched, and a stop
    /// that arrives later finds the commit done.
    pub fn commit_unless_interrupted(self) -> Result<PathBuf, OutputError> {
        self.commit_inner(true)
    }

    fn commit_inner(mut self, interruptible: bool) -> Result<PathBuf, OutputError> {
        let parent = self
            .resolved
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let lock = ParentLock::acquire(&parent, interruptible)?;
        if interruptible && interrupt::requested() {
            return Err(OutputError::interrupted(&self.target));
        }
        // Another writer may have committed since create (fine: its folder is dynosim's), or
        // someone may have put files there (refused).
        self.kind
            .check_replaceable(&self.resolved)
            .map_err(|why| OutputError::refused(&self.target, why))?;
        // No cleaner runs while the parent is locked, so the folder needs no marker now; it
        // must not end up among the results.
        let _ = fs::remove_file(self.staging.join(WRITER_LOCK));
        let replaced = if self.resolved.exists() {
            exchange(&self.staging, &self.resolved)
                .map_err(|e| err(&self.target, "cannot replace the output folder", e))?;
            true
        } else {
            fs::rename(&self.staging, &self.resolved)
                .map_err(|e| err(&self.target, "cannot move results into place", e))?;
            false
        };
        self.committed = true;
        drop(lock);
        if replaced {
            // The staging path now holds the previous results.
            let _ = fs::remove_dir_all(&self.staging);
        }
        Ok(self.target.clone())
    }
}

impl Drop for StagingDir {
    /// An uncommitted staging folder is removed: a failed run leaves nothing half-written. The
    /// writer's lock is released only after (the file is closed when `_alive` drops).
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// `.<name>.partial-`, with `name` shortened and a hash of it added when the whole staging name
/// (this prefix and a 16-digit suffix) would pass [`NAME_MAX`] bytes.
fn staging_prefix(name: &OsStr) -> OsString {
    const FIXED: usize = ".".len() + ".partial-".len() + 16;
    let bytes = name.as_bytes();
    let mut out = b".".to_vec();
    if bytes.len() + FIXED <= NAME_MAX {
        out.extend_from_slice(bytes);
    } else {
        use sha2::{Digest, Sha256};
        let hash = Sha256::digest(bytes);
        let tag: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
        let mut keep = NAME_MAX - FIXED - 1 - tag.len();
        // Cut at a character boundary when the name is text.
        if let Ok(text) = std::str::from_utf8(bytes) {
            while !text.is_char_boundary(keep) {
                keep -= 1;
            }
        }
        out.extend_from_slice(&bytes[..keep]);
        out.push(b'~');
        out.extend_from_slice(tag.as_bytes());
    }
    out.extend_from_slice(b".partial-");
    OsString::from_vec(out)
}

/// Create `<prefix><16 random hex digits>` (mkdir fails on an existing name, so it is ours
/// alone) and take its writer lock.
fn create_unique(parent: &Path, prefix: &OsStr) -> Result<(PathBuf, File), OutputError> {
    let mut last = io::Error::other("no attempt");
    for _ in 0..16 {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| {
            err(
                parent,
                "cannot draw a staging folder name",
                io::Error::other(e),
            )
        })?;
        let mut name = prefix.to_os_string();
        name.push(format!("{:016x}", u64::from_le_bytes(random)));
        let staging = parent.join(name);
        match fs::create_dir(&staging) {
            Ok(()) => {
                let lock = open_lock(&staging.join(WRITER_LOCK), true)
                    .and_then(|f| flock(&f, false).map(|_| f));
                return match lock {
                    Ok(f) => Ok((staging, f)),
                    Err(e) => {
                        let _ = fs::remove_dir_all(&staging);
                        Err(err(&staging, "cannot lock the staging folder", e))
                    }
                };
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(err(&staging, "cannot create the staging folder", e)),
        }
    }
    Err(err(parent, "cannot create a staging folder", last))
}

/// Staging folders of this output whose writer is gone: its lock file is free (or absent: a
/// folder being deleted, or one from a version of dynosim without locks). Called under the
/// parent lock, so no folder is between its mkdir and its lock.
fn stale_staging(parent: &Path, prefix: &OsStr) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.as_bytes().starts_with(prefix.as_bytes())
            || !entry.file_type().is_ok_and(|t| t.is_dir())
        {
            continue;
        }
        let path = entry.path();
        let free = match open_lock(&path.join(WRITER_LOCK), false) {
            Ok(f) => flock(&f, true).unwrap_or(false),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
        if free {
            stale.push(path);
        }
    }
    stale
}

fn open_lock(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

/// Take an exclusive flock: `Ok(false)` if `nonblocking` and someone else holds it.
fn flock(f: &File, nonblocking: bool) -> io::Result<bool> {
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    loop {
        // SAFETY: flock(2) on a file descriptor this File owns for the duration of the call.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if nonblocking => return Ok(false),
            _ => return Err(e),
        }
    }
}

/// The exclusive lock on an output's parent, released on drop.
struct ParentLock {
    _file: File,
}

impl ParentLock {
    /// Lock `parent`, waiting up to [`LOCK_WAIT`] for another writer (and, if `interruptible`,
    /// giving up when a stop is requested).
    fn acquire(parent: &Path, interruptible: bool) -> Result<ParentLock, OutputError> {
        let lock_err = |e| err(parent, "cannot lock the output's parent folder", e);
        let dir = File::open(parent).map_err(lock_err)?;
        let file = match flock(&dir, true) {
            Ok(true) => return Ok(ParentLock { _file: dir }),
            Ok(false) => dir,
            // A file system that cannot lock a folder: a lock file beside the outputs.
            Err(_) => OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(parent.join(PARENT_LOCK))
                .map_err(lock_err)?,
        };
        let started = Instant::now();
        loop {
            if flock(&file, true).map_err(lock_err)? {
                return Ok(ParentLock { _file: file });
            }
            if interruptible && interrupt::requested() {
                return Err(OutputError::interrupted(parent));
            }
            if started.elapsed() > LOCK_WAIT {
                return Err(err(
                    parent,
                    "gave up waiting for another dynosim process that holds the lock on",
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("still held after {} s", LOCK_WAIT.as_secs()),
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Atomically swap two paths (Linux renameat2 with RENAME_EXCHANGE); elsewhere, or on file systems
/// without it, fall back to two renames.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
        let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL)) {
            return Err(e);
        }
    }
    // Fallback: move the old folder aside, move the new one in, keep the old at `a`.
    let mut aside = a.as_os_str().to_os_string();
    aside.push(".old");
    let aside = PathBuf::from(aside);
    fs::rename(b, &aside)?;
    if let Err(e) = fs::rename(a, b) {
        let _ = fs::rename(&aside, b);
        return Err(e);
    }
    fs::rename(&aside, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_names_fit_255_bytes_and_keep_long_names_apart() {
        let short = staging_prefix(OsStr::new("out"));
        assert_eq!(short, ".out.partial-");
        for len in [200, 229, 230, 255] {
            let a = "a".repeat(len);
            let p = staging_prefix(OsStr::new(&a));
            assert!(p.len() + 16 <= NAME_MAX, "{len}: {}", p.len());
            let mut b = a.clone();
            b.replace_range(len - 1.., "b");
            assert_ne!(p, staging_prefix(OsStr::new(&b)), "{len}");
        }
        // Multi-byte characters are not cut in half.
        let e = "é".repeat(127);
        let p = staging_prefix(OsStr::new(&e));
        assert!(p.to_str().is_some() && p.len() + 16 <= NAME_MAX);
    }

    #[test]
    fn a_live_writers_staging_folder_is_never_stale() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let target = tmp.path().join("out");
        let live = StagingDir::create(&target).expect("create");
        // A folder left by a killed writer: its lock file exists but nobody holds it.
        let dead = tmp.path().join(".out.partial-00000000deadbeef");
        fs::create_dir(&dead).expect("mkdir");
        fs::write(dead.join(WRITER_LOCK), "").expect("write");
        // And one from a version without locks.
        let old = tmp.path().join(".out.partial-1");
        fs::create_dir(&old).expect("mkdir");
        // Another output's staging folder is none of our business.
        let other = tmp.path().join(".outer.partial-1");
        fs::create_dir(&other).expect("mkdir");
        let second = StagingDir::create(&target).expect("second writer");
        assert_ne!(live.path(), second.path());
        assert!(live.path().is_dir(), "the live writer's folder survives");
        assert!(!dead.exists() && !old.exists(), "stale folders are removed");
        assert!(other.exists());
        fs::write(live.path().join("summary.csv"), "x\n").expect("write");
        fs::write(
            live.path().join("manifest.json"),
            "{\"dynosim_version\": \"t\"}",
        )
        .expect("write");
        let first = live.commit().expect("commit");
        assert!(first.join("summary.csv").exists());
        assert!(
            !first.join(WRITER_LOCK).exists(),
            "the lock is not a result"
        );
        fs::write(
            second.path().join("manifest.json"),
            "{\"dynosim_version\": \"t\"}",
        )
        .expect("write");
        second.commit().expect("replaces the first writer's folder");
        assert!(!target.join("summary.csv").exists());
        let left: Vec<_> = fs::read_dir(tmp.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with(".out."))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn refuses_a_file_or_a_foreign_folder_and_touches_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("f");
        fs::write(&file, "keep").expect("write");
        let e = StagingDir::create(&file).err().expect("a file");
        assert!(e.is_refusal(), "{e}");
        let proj = tmp.path().join("proj");
        fs::create_dir(&proj).expect("mkdir");
        fs::write(proj.join("s.toml"), "x").expect("write");
        let e = StagingDir::create(&proj).err().expect("a project folder");
        assert!(e.is_refusal() && e.to_string().contains("s.toml"), "{e}");
        let e = StagingDir::create(&file.join("sub"))
            .err()
            .expect("under a file");
        assert!(e.is_refusal(), "{e}");
        assert_eq!(fs::read(&file).expect("read"), b"keep");
        assert!(proj.join("s.toml").exists());
        assert_eq!(fs::read_dir(tmp.path()).expect("list").count(), 2);
    }
}
