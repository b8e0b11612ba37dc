//! Copying the slug into a dyno's fresh `/app` without ever re-resolving a host path.
//!
//! The copy runs in the dyno's init before `pivot_root`, as root of the dyno's user namespace
//! (host root's files are readable to it), while the slug folder may belong to a user who can
//! change it during the copy. A check-then-open by path (lstat, then open) lets that user swap
//! an entry for a symlink in between and get any host file, /etc/shadow say, into `/app`
//! (issue 14). So every entry is reached relative to its parent's directory descriptor, and no
//! descriptor is ever obtained by following a symlink:
//!
//! 1. the entry is opened with `O_PATH | O_NOFOLLOW` (which opens nothing: no device is
//!    touched and no FIFO blocks) and `fstat` on that descriptor says what it is;
//! 2. a directory or regular file is reopened for reading relative to the same parent with
//!    `O_NOFOLLOW` (and `O_DIRECTORY` or `O_NONBLOCK`), and must be the inode of step 1,
//!    else the slug changed under the copy and the start is refused;
//! 3. contents, directory listings and modes come from those descriptors only.
//!
//! **Symlinks are copied as symlinks**, their text read from the `O_PATH` descriptor, never
//! followed: inside the jail they resolve against the jail's own tree (an absolute link to a
//! host file finds the jail's file of that name, or nothing). **Devices, FIFOs and sockets are
//! refused** with an error naming the entry: a slug is an archive of files. The slug folder
//! itself is the one the caller named: the supervisor opened it (following a symlink there is
//! the caller's choice), and the copy starts from that descriptor.

use super::DYNO_UID;
use nix::dir::Dir;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat};
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// Why a slug could not be copied: the slug is unfit (an input error: exit 2 from `dynosim
/// jail`) or a system call failed on a fit slug (a setup error).
#[derive(Debug)]
pub(crate) enum SlugError {
    /// A device, FIFO or socket, or an entry that changed while it was being copied.
    Input(String),
    /// An I/O error (permission denied, out of space in the tmpfs, ...).
    Io(String),
}

/// Copy the directory open at `slug` into `dst` (an empty directory), owned by the dyno user.
/// Set-id bits are dropped (/app is nosuid anyway).
pub(crate) fn copy(slug: BorrowedFd<'_>, dst: &Path) -> Result<(), SlugError> {
    // A descriptor of our own for the listing: the caller's shares its offset with the
    // supervisor's copy.
    let top = openat(slug, ".", read_dir_flags(), Mode::empty())
        .map_err(|e| SlugError::Io(format!(".: {e}")))?;
    copy_dir(top, dst, Path::new(""))
}

fn read_dir_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC
}

/// What one entry is, from `fstat` of its `O_PATH` descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    /// Refused, with the name used in the message.
    Special(&'static str),
}

fn kind(st: &FileStat) -> Kind {
    match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFDIR => Kind::Dir,
        SFlag::S_IFREG => Kind::File,
        SFlag::S_IFLNK => Kind::Symlink,
        SFlag::S_IFIFO => Kind::Special("a FIFO"),
        SFlag::S_IFSOCK => Kind::Special("a socket"),
        SFlag::S_IFCHR => Kind::Special("a character device"),
        SFlag::S_IFBLK => Kind::Special("a block device"),
        _ => Kind::Special("of an unknown file type"),
    }
}

fn shown(rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        ".".to_string()
    } else {
        rel.display().to_string()
    }
}

fn io_err(rel: &Path, e: impl std::fmt::Display) -> SlugError {
    SlugError::Io(format!("{}: {e}", shown(rel)))
}

fn changed(rel: &Path) -> SlugError {
    SlugError::Input(format!(
        "{}: changed while being copied (replaced or removed); the slug must not change \
         while a dyno starts",
        shown(rel)
    ))
}

fn copy_dir(dir: OwnedFd, dst: &Path, rel: &Path) -> Result<(), SlugError> {
    let mut dir = Dir::from_fd(dir).map_err(|e| io_err(rel, e))?;
    let mut names: Vec<CString> = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(|e| io_err(rel, e))?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    for name in names {
        let os = OsStr::from_bytes(name.to_bytes());
        copy_entry(dir.as_fd(), &name, &dst.join(os), &rel.join(os))?;
    }
    Ok(())
}

fn copy_entry(parent: BorrowedFd<'_>, name: &CString, d: &Path, r: &Path) -> Result<(), SlugError> {
    let path_fd = openat(
        parent,
        name.as_c_str(),
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ENOENT => changed(r),
        e => io_err(r, e),
    })?;
    let st = fstat(&path_fd).map_err(|e| io_err(r, e))?;
    let mode = fs::Permissions::from_mode(st.st_mode & 0o1777);
    match kind(&st) {
        Kind::Symlink => {
            // The link's own text, from the descriptor of the link (empty path: the fd itself).
            let target = readlinkat(&path_fd, "").map_err(|e| io_err(r, e))?;
            symlink(target, d).map_err(|e| io_err(r, e))?;
        }
        Kind::Dir => {
            let fd = reopen(parent, name, read_dir_flags(), &st, r)?;
            fs::create_dir(d).map_err(|e| io_err(r, e))?;
            copy_dir(fd, d, r)?;
            fs::set_permissions(d, mode).map_err(|e| io_err(r, e))?;
        }
        Kind::File => {
            let flags = OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY
                | OFlag::O_CLOEXEC;
            let fd = reopen(parent, name, flags, &st, r)?;
            let mut from = fs::File::from(fd);
            let mut to = fs::File::create(d).map_err(|e| io_err(r, e))?;
            std::io::copy(&mut from, &mut to).map_err(|e| io_err(r, e))?;
            to.set_permissions(mode).map_err(|e| io_err(r, e))?;
        }
        Kind::Special(what) => {
            return Err(SlugError::Input(format!(
                "{}: {what}: a slug may hold only files, directories and symlinks",
                shown(r)
            )));
        }
    }
    std::os::unix::fs::lchown(d, Some(DYNO_UID), Some(DYNO_UID)).map_err(|e| io_err(r, e))
}

/// Open `name` in `parent` for reading, never through a symlink, and check it is still the
/// inode that `fstat` described.
fn reopen(
    parent: BorrowedFd<'_>,
    name: &CString,
    flags: OFlag,
    was: &FileStat,
    r: &Path,
) -> Result<OwnedFd, SlugError> {
    let fd = openat(parent, name.as_c_str(), flags, Mode::empty()).map_err(|e| match e {
        // A symlink now (ELOOP), gone (ENOENT), no longer a directory (ENOTDIR).
        nix::errno::Errno::ELOOP | nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR => {
            changed(r)
        }
        e => io_err(r, e),
    })?;
    let now = fstat(&fd).map_err(|e| io_err(r, e))?;
    if (now.st_dev, now.st_ino) != (was.st_dev, was.st_ino) || kind(&now) != kind(was) {
        return Err(changed(r));
    }
    Ok(fd)
}
