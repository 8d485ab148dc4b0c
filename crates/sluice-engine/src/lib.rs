//! The Sluice executor: runs a checked, planned flow on tokio.
//!
//! [`Executable::build`] compiles a flow's templates once; [`run::run`] executes it: steps start
//! as soon as what they need is done, HTTP calls go through connector operations with retries,
//! limits and redaction, and every request is reported to an [`Observer`].

pub mod error;
pub mod exec;
pub mod http;
pub mod journal;
pub mod observer;
pub mod redact;
pub mod run;

pub use error::{ErrorKind, StepError};
pub use exec::Executable;
pub use journal::{Recorder, RunJournal};
pub use observer::{Event, NoObserver, Observer, RequestRecord, StepStatus};
pub use redact::Redactor;
pub use run::{
    RunOptions, RunReport, RunStatus, Runtime, call_read, prepare_inputs, run, run_with,
};
