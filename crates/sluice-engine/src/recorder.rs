//! The process's writer to the run store: one thread that commits what every run sends in
//! batches (group commit), and keeps the reads in flight in memory until they have waited long
//! enough to be worth a record of their own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use sluice_store::{HttpCall, Record, RunId, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ErrorKind, StepError};
use crate::observer::RequestRecord;

/// Why the run store did not take (or give) a run's records.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JournalError {
    /// The store refused a batch, or could not be read or written (shared: one refused batch
    /// fails everyone who waited for it).
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The writer task has stopped.
    #[error("the run store's writer has stopped")]
    WriterStopped,
}

impl From<StoreError> for JournalError {
    fn from(e: StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl JournalError {
    /// The error of a step whose records the store did not take.
    pub(crate) fn to_step_error(&self) -> StepError {
        StepError::new(ErrorKind::Other, format!("the run store failed: {self}"))
    }
}

/// Most records in one commit.
const MAX_BATCH: usize = 4096;

/// How long the writer waits for more records when nobody waits for those it has.
const LINGER: Duration = Duration::from_millis(10);

/// How long a read may wait for its answer before the writer records it as sent and
/// unanswered (see [`Recorder::hold`]). A read answered sooner is written once, with its answer.
const HOLD: Duration = Duration::from_millis(20);

/// Reads sent and not yet answered, by attempt id (random, unique in the process).
type Held = parking_lot::Mutex<HashMap<i64, HeldRead>>;

/// A read's attempt as it was sent: what its record says if it is still waiting after [`HOLD`].
/// The request is shared with the sender, not copied (the answer's record takes it back).
#[derive(Debug)]
pub(crate) struct HeldRead {
    /// When it was sent (for [`HOLD`]).
    pub(crate) since: std::time::Instant,
    pub(crate) run: RunId,
    /// The step's path.
    pub(crate) step: String,
    pub(crate) item: Option<u32>,
    pub(crate) attempt: u32,
    pub(crate) request: Arc<RequestRecord>,
    /// When it was sent (for the record).
    pub(crate) at: SystemTime,
}

/// Records to commit, and who waits for the commit.
struct Job {
    records: Vec<Record>,
    done: Option<oneshot::Sender<Result<(), JournalError>>>,
}

/// The process's writer to the run store: one task that commits what arrives in batches (group
/// commit). Shared by every run of the process.
#[derive(Debug)]
pub struct Recorder {
    store: Store,
    jobs: mpsc::UnboundedSender<Job>,
    /// Wakes a lingering writer when someone waits for a commit.
    urgent: Arc<tokio::sync::Notify>,
    /// Reads in flight, kept in memory: the writer records those still waiting after
    /// [`HOLD`] as sent and unanswered, so a run killed meanwhile keeps them.
    held: Arc<Held>,
    /// Wakes an idle writer when the first read is held.
    held_one: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} records)", self.records.len())
    }
}

impl Recorder {
    /// Starts the writer task on the current tokio runtime.
    #[must_use]
    pub fn start(store: Store) -> Arc<Recorder> {
        let (jobs, rx) = mpsc::unbounded_channel::<Job>();
        let writer = store.clone();
        let urgent = Arc::new(tokio::sync::Notify::new());
        let wake = urgent.clone();
        let held: Arc<Held> = Arc::default();
        let held_one = Arc::new(tokio::sync::Notify::new());
        let reads = Reads {
            held: held.clone(),
            first: held_one.clone(),
        };
        // The writer has a thread (and a one-thread runtime) of its own: building the rows
        // and driving the database does not take the executor's threads, and the OS may run
        // it on a core they leave idle.
        let spawned = std::thread::Builder::new()
            .name("sluice-recorder".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(write_batches(writer, rx, wake, reads)),
                    Err(e) => tracing::error!(error = %e, "The run store's writer cannot start."),
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "The run store's writer cannot start: runs are not recorded.");
        }
        Arc::new(Recorder {
            store,
            jobs,
            urgent,
            held,
            held_one,
        })
    }

    /// Keeps a read's attempt as it is sent, in memory: if it is still waiting for its answer
    /// after [`HOLD`], the writer records it as sent and unanswered (a run killed meanwhile
    /// keeps it); [`Recorder::release`] forgets it when the answer comes.
    pub(crate) fn hold(&self, sent: i64, read: HeldRead) {
        let first = {
            let mut held = self.held.lock();
            let first = held.is_empty();
            held.insert(sent, read);
            first
        };
        if first {
            self.held_one.notify_one();
        }
    }

    /// Forgets a held read (its answer came; the answer's record completes or replaces it).
    /// Whether it was still held (not written): its answer is then recorded in one part.
    pub(crate) fn release(&self, sent: i64) -> bool {
        self.held.lock().remove(&sent).is_some()
    }

    /// The store written to.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Commits `records` (with whatever else is waiting) and returns once they are durable.
    ///
    /// # Errors
    /// The store refused the batch, or the writer has stopped.
    pub async fn commit(&self, records: Vec<Record>) -> Result<(), JournalError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job {
                records,
                done: Some(tx),
            })
            .map_err(|_| JournalError::WriterStopped)?;
        self.urgent.notify_one();
        rx.await.map_err(|_| JournalError::WriterStopped)?
    }

    /// Queues `records` without waiting (they are committed with the next batch).
    pub fn send(&self, records: Vec<Record>) {
        let _ = self.jobs.send(Job {
            records,
            done: None,
        });
    }

    /// Waits until everything queued before this call is committed.
    ///
    /// # Errors
    /// As [`Recorder::commit`].
    pub async fn flush(&self) -> Result<(), JournalError> {
        self.commit(Vec::new()).await
    }
}

/// The writer's side of the reads held in memory ([`Recorder::hold`]).
struct Reads {
    held: Arc<Held>,
    first: Arc<tokio::sync::Notify>,
}

impl Reads {
    /// Returns when a held read may be due for recording: [`HOLD`] from now while any is held;
    /// otherwise once one is held, and [`HOLD`] after that.
    async fn due(&self) {
        if self.held.lock().is_empty() {
            self.first.notified().await;
        }
        tokio::time::sleep(HOLD).await;
    }

    /// The records of the reads sent at least [`HOLD`] ago and still unanswered (they are
    /// forgotten here: their answer's record, if one comes, completes the row).
    fn take_waiting(&self) -> Vec<Record> {
        let now = std::time::Instant::now();
        let mut held = self.held.lock();
        let due: Vec<i64> = held
            .iter()
            .filter(|(_, read)| now.duration_since(read.since) >= HOLD)
            .map(|(sent, _)| *sent)
            .collect();
        due.into_iter()
            .filter_map(|sent| {
                let read = held.remove(&sent)?;
                let request = &read.request;
                Some(Record::HttpAttempt {
                    run: read.run,
                    sent,
                    call: HttpCall {
                        step: read.step,
                        item: read.item,
                        attempt: read.attempt,
                        method: request.method.clone(),
                        url: request.url.clone(),
                        headers: request.headers.clone(),
                        body: request.body.clone(),
                        status: None,
                        elapsed_ms: 0,
                        at: DateTime::<Utc>::from(read.at),
                        error: Some(sluice_store::NO_ANSWER.to_string()),
                    },
                })
            })
            .collect()
    }
}

/// The writer's loop: takes what is waiting (lingering for more when nobody waits) and
/// commits it in one batch; tells each waiting caller the result.
async fn write_batches(
    writer: Store,
    mut rx: mpsc::UnboundedReceiver<Job>,
    urgent: Arc<tokio::sync::Notify>,
    reads: Reads,
) {
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            () = reads.due() => Job { records: Vec::new(), done: None },
        };
        // Nobody waits for what came so far: linger a little, not listening (senders do not
        // wake the writer for every record), so a stream of records becomes a few large
        // commits; a caller that waits for a commit cuts the linger short.
        if first.done.is_none() {
            tokio::select! {
                () = tokio::time::sleep(LINGER) => {}
                () = urgent.notified() => {}
            }
        }
        let mut count = first.records.len();
        let mut jobs = vec![first];
        while count < MAX_BATCH {
            let Ok(job) = rx.try_recv() else { break };
            count += job.records.len();
            jobs.push(job);
        }
        // Reads still waiting go first: an answer queued meanwhile comes after them in the
        // batch, and the last record of an attempt is the one written.
        let mut records = reads.take_waiting();
        records.extend(jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.records)));
        let result = writer
            .record_batch(&records)
            .await
            .map_err(JournalError::from);
        if let Err(e) = &result {
            tracing::error!(error = %e, records = records.len(), "The run store refused a batch.");
        }
        for job in jobs {
            if let Some(done) = job.done {
                let _ = done.send(result.clone());
            }
        }
    }
}
