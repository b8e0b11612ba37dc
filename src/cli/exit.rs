//! The one exit-code policy of `dynosim`: every subcommand ends in an [`Exit`] (it succeeded, or
//! the jailed command's status) or a [`CliError`], and [`Exit::code`] is the only place numbers
//! are given to them. The numbers are the contract of docs/DESIGN.md: 0 ok, 1 failure while
//! running, 2 bad input or usage, 3 validation out of tolerance, 4 inconclusive, 5 every plan
//! candidate fails, 130 interrupted.

use crate::exec::{ErrorKind, JailError};
use crate::import::ImportError;
use crate::output::merge::MergeError;
use crate::output::plot::PlotError;
use crate::run::RunError;
use crate::scenario::ScenarioError;
use std::process::ExitCode;

/// How a subcommand ended, as far as its exit status is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, nothing wrong (0).
    Success,
    /// A failure while running: a write failed, a figure could not be drawn (1).
    Failed,
    /// Bad input or usage: a scenario error, a refused output folder, damaged shards (2).
    BadInput,
    /// `validate`: the model and the real dynos disagree beyond the tolerance (3).
    OutOfTolerance,
    /// `validate`: undecided, or the host too noisy to decide; `plan`: budget spent with nothing
    /// decided feasible (4).
    Inconclusive,
    /// `plan`: every candidate formation fails the objective (5).
    NoneFeasible,
    /// SIGINT, SIGTERM or SIGHUP stopped the work (130).
    Interrupted,
    /// `jail`: the jail could not be set up (125, as `docker run`).
    JailSetup,
    /// `jail`: the jailed command's own status, passed through (128 + N if killed by signal N;
    /// 126/127 when it cannot be executed / is not found).
    Command(u8),
}

impl Exit {
    /// The process exit status of this outcome.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::BadInput => 2,
            Exit::OutOfTolerance => 3,
            Exit::Inconclusive => 4,
            Exit::NoneFeasible => 5,
            Exit::Interrupted => 130,
            Exit::JailSetup => 125,
            Exit::Command(c) => c,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// Why a subcommand did not succeed. Each variant knows its [`Exit`]; the message is printed
/// once, by [`finish`], as `error: <message>`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A scenario file is wrong (always bad input).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// `run` failed: refused folder (bad input), interrupted, or a failure while running.
    #[error(transparent)]
    Run(#[from] RunError),
    /// `merge` failed: shards that do not fit (bad input), interrupted, or a write failure.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// `plot` found no figure data in the folder (bad input).
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// `import` failed: bad logs or flags, a refused folder (bad input), or a write failure.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// `jail` could not start the dyno.
    #[error(transparent)]
    Jail(#[from] JailError),
    /// Flags or environment that do not make sense together (bad input).
    #[error("{0}")]
    Usage(String),
    /// Something failed while running.
    #[error("{0}")]
    Failed(String),
    /// A stop request ended the work; the message says what was left as it was.
    #[error("{0}")]
    Interrupted(String),
    /// A verdict (validate, plan) that is not a success; its report was already printed.
    #[error("{message}")]
    Verdict { exit: Exit, message: String },
}

impl CliError {
    /// The exit status this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Scenario(_) | CliError::Plot(_) | CliError::Usage(_) => Exit::BadInput,
            CliError::Run(e) if e.is_interrupted() => Exit::Interrupted,
            CliError::Run(e) if e.is_bad_input() => Exit::BadInput,
            CliError::Merge(MergeError::Interrupted) => Exit::Interrupted,
            CliError::Merge(e) if e.is_bad_input() => Exit::BadInput,
            CliError::Import(e) if e.is_bad_input() => Exit::BadInput,
            CliError::Import(e) if e.is_interrupted() => Exit::Interrupted,
            CliError::Run(_) | CliError::Merge(_) | CliError::Import(_) | CliError::Failed(_) => {
                Exit::Failed
            }
            CliError::Jail(e) => match e.kind {
                ErrorKind::Input => Exit::BadInput,
                ErrorKind::Unsupported | ErrorKind::Setup => Exit::JailSetup,
                ErrorKind::Exec(c) => Exit::Command(c.clamp(1, 255) as u8),
            },
            CliError::Interrupted(_) => Exit::Interrupted,
            CliError::Verdict { exit, .. } => *exit,
        }
    }
}

/// Print the error, if any, and turn the outcome into the process's exit status.
pub fn finish(result: Result<Exit, CliError>) -> ExitCode {
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("error: {e}");
            e.exit().into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers are a published contract (docs/DESIGN.md, README): pin them.
    #[test]
    fn exit_codes_are_the_documented_ones() {
        let table = [
            (Exit::Success, 0),
            (Exit::Failed, 1),
            (Exit::BadInput, 2),
            (Exit::OutOfTolerance, 3),
            (Exit::Inconclusive, 4),
            (Exit::NoneFeasible, 5),
            (Exit::JailSetup, 125),
            (Exit::Interrupted, 130),
            (Exit::Command(7), 7),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
    }

    #[test]
    fn errors_map_to_their_kind() {
        assert_eq!(CliError::Usage("x".into()).exit(), Exit::BadInput);
        assert_eq!(CliError::Failed("x".into()).exit(), Exit::Failed);
        assert_eq!(CliError::Interrupted("x".into()).exit(), Exit::Interrupted);
        assert_eq!(
            CliError::from(RunError::Interrupted).exit(),
            Exit::Interrupted
        );
        assert_eq!(
            CliError::from(MergeError::Input("shards differ".into())).exit(),
            Exit::BadInput
        );
        assert_eq!(
            CliError::from(MergeError::Interrupted).exit(),
            Exit::Interrupted
        );
        let jail = |kind| {
            CliError::from(JailError {
                step: "s".into(),
                reason: "r".into(),
                kind,
            })
        };
        assert_eq!(jail(ErrorKind::Input).exit(), Exit::BadInput);
        assert_eq!(jail(ErrorKind::Setup).exit(), Exit::JailSetup);
        assert_eq!(jail(ErrorKind::Exec(127)).exit(), Exit::Command(127));
    }
}
