//! The exit codes of `sluice`, in one place.

use std::process::ExitCode;

/// How `sluice` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Everything went as asked.
    Success,
    /// Flows are invalid (`validate`), a run failed, a test case failed, the audit log is
    /// altered.
    Failure,
    /// The command could not do its work: a usage error, a file that cannot be read, an invalid
    /// flow asked to run, a store that cannot be opened.
    Usage,
    /// Stopped by Ctrl-C (the run can be resumed).
    Cancelled,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Cancelled => 130,
        })
    }
}
