//! Stop requests: SIGINT, SIGTERM and SIGHUP, handled alike.
//!
//! A signal only sets a flag. Simulations check it at their progress points and stop; writers
//! check it between files and once more, under the output lock, just before the commit
//! ([`crate::output::StagingDir::commit_unless_interrupted`]), so a stop request either leaves
//! the previous results untouched or, if it came after that last check, lets the commit finish
//! and is reported as such. The command then exits with 130 either way, never 0.
//!
//! The handlers are real handlers (signal-hook), never the default disposition: a process that
//! is PID 1 of a PID namespace (dynosim as a container's entrypoint) gets no default action for
//! SIGTERM or SIGHUP, so without them `docker stop` or a Kubernetes eviction would be ignored
//! until the SIGKILL.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Set when a stop was requested (by a signal, or by code such as validate's Ctrl-C handler).
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The last stop signal received (0 if none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The signals that stop a command.
pub const STOP_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// Whether a stop was requested.
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Catch [`STOP_SIGNALS`]: from now on they set [`INTERRUPTED`] instead of killing the process.
/// A thread waits for them (signal-hook's self-pipe), so nothing runs inside a signal handler.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS)?;
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                SIGNAL.store(sig, Ordering::SeqCst);
                INTERRUPTED.store(true, Ordering::SeqCst);
            }
        })?;
    Ok(())
}

/// What stopped the command, for messages: `SIGTERM`, or `a stop request` without a signal.
pub fn cause() -> String {
    match SIGNAL.load(Ordering::SeqCst) {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        SIGHUP => "SIGHUP".into(),
        0 => "a stop request".into(),
        n => format!("signal {n}"),
    }
}
