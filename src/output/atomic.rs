//! All-or-nothing output folders.
//!
//! Results are written to a hidden sibling folder `.<name>.partial-<pid>`; on success it replaces
//! the target in one step (Linux `renameat2(RENAME_EXCHANGE)`, so the old results stay readable
//! until the new ones are in place). A failed or interrupted run deletes its staging folder and
//! leaves the previous results untouched.

use std::ffi::CString;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// An output problem, with the path involved.
#[derive(Debug)]
pub struct OutputError {
    pub path: PathBuf,
    pub what: String,
    pub source: io::Error,
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}`: {}",
            self.what,
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for OutputError {}

fn err(path: &Path, what: &str, source: io::Error) -> OutputError {
    OutputError {
        path: path.to_path_buf(),
        what: what.to_string(),
        source,
    }
}

/// A staging folder for one output folder.
pub struct StagingDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagingDir {
    /// Create the staging folder beside `target` (creating `target`'s parent if needed) and remove
    /// stale staging folders left by killed runs.
    pub fn create(target: &Path) -> Result<StagingDir, OutputError> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                err(
                    target,
                    "output folder has no name",
                    io::ErrorKind::InvalidInput.into(),
                )
            })?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if target.exists() && !target.is_dir() {
            return Err(err(
                target,
                "output path exists and is not a folder",
                io::ErrorKind::AlreadyExists.into(),
            ));
        }
        fs::create_dir_all(&parent)
            .map_err(|e| err(&parent, "cannot create the output parent folder", e))?;
        remove_stale(&parent, &name);
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            let _ = fs::remove_dir_all(&staging);
        }
        fs::create_dir(&staging)
            .map_err(|e| err(&staging, "cannot create the staging folder", e))?;
        Ok(StagingDir {
            target: target.to_path_buf(),
            staging,
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
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        if self.target.exists() {
            exchange(&self.staging, &self.target)
                .map_err(|e| err(&self.target, "cannot replace the output folder", e))?;
            // The staging path now holds the previous results.
            let _ = fs::remove_dir_all(&self.staging);
        } else {
            fs::rename(&self.staging, &self.target)
                .map_err(|e| err(&self.target, "cannot move results into place", e))?;
        }
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for StagingDir {
    /// An uncommitted staging folder is removed: a failed run leaves nothing half-written.
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
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
    let aside = a.with_extension("old");
    fs::rename(b, &aside)?;
    if let Err(e) = fs::rename(a, b) {
        let _ = fs::rename(&aside, b);
        return Err(e);
    }
    fs::rename(&aside, a)
}

/// Remove `.<name>.partial-<pid>` folders whose process is gone.
fn remove_stale(parent: &Path, name: &str) {
    let prefix = format!(".{name}.partial-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = rest.parse::<i32>() else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive || pid == std::process::id() as i32 {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
