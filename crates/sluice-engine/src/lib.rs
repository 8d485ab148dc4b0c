//! The Sluice executor: runs a checked, planned flow on tokio.
//!
//! [`Executable::build`] compiles a flow's templates once; [`run`] executes it on a [`Runtime`]
//! built by [`Runtime::builder`]: steps start as soon as what they need is done, HTTP calls go
//! through connector operations with retries, limits and redaction, and every request is
//! reported to an [`Observer`].

mod call;
pub mod error;
pub mod exec;
pub mod http;
mod inputs;
pub mod journal;
pub mod observer;
mod pages;
mod recorder;
pub mod redact;
mod report;
mod runtime;
mod schedule;
mod settle;
mod step;

pub use call::{backoff, call_read};
pub use error::{ErrorKind, StepError};
pub use exec::{BuildError, Executable};
pub use inputs::{InputError, prepare_inputs, preview};
pub use journal::{JournalError, RunJournal};
pub use observer::{Event, NoObserver, Observer, RequestRecord, StepStatus};
pub use recorder::Recorder;
pub use redact::Redactor;
pub use report::{RunReport, RunStatus, StepReport};
pub use runtime::{RunOptions, Runtime, RuntimeBuilder, RuntimeError};
pub use schedule::{run, run_streamed, run_with};
