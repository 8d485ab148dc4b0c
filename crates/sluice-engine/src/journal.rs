//! Durable runs: a run's steps, HTTP calls, writes and audit records go to the run store as they
//! happen. The process's writer ([`crate::recorder`]) groups what arrives into one commit; a
//! step's record is committed before its dependants start. A resumed run gets the steps that already finished and
//! the answers of the writes already made, so nothing is sent twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluice_store::{HttpCall, Record, RunId, StepRecord, WriteState};

use crate::error::StepError;
use crate::observer::{RequestRecord, StepStatus};
pub use crate::recorder::JournalError;
use crate::recorder::{HeldRead, Recorder};
use crate::redact::Redactor;
use crate::report::{RunReport, RunStatus};

/// A streamed run waits for the commit of every this many output items (see
/// [`RunJournal::item_finished`]).
const ITEMS_PER_WAIT: u64 = 1024;

/// One run's journal: where its records go, and what a resumed run already has.
#[derive(Debug)]
pub struct RunJournal {
    recorder: Arc<Recorder>,
    run: RunId,
    finished: HashMap<String, (StepStatus, Value)>,
    /// Per paged step, the pages a stopped run had read (consecutive from the first).
    pages: HashMap<String, Vec<Value>>,
    /// Per (step path, item) whose last attempt a stopped run sent and got no answer to, the
    /// attempts recorded: the resumed read's first attempt is numbered after them.
    unanswered: std::sync::Mutex<HashMap<(String, Option<u32>), u32>>,
    resend_unknown: bool,
    /// Whether the run streams its output (its items go to the store one by one).
    streaming: AtomicBool,
    /// How many output items it has streamed.
    streamed: AtomicU64,
}

impl RunJournal {
    /// Records a new run (queued with the next batch, with a `run.started` audit record) and
    /// returns its journal. `owner` holds the run's lease.
    #[must_use]
    pub fn start(recorder: Arc<Recorder>, new: sluice_store::NewRun) -> RunJournal {
        let run = RunId::new();
        let payload = json!({
            "flow": new.flow,
            "flow_hash": new.flow_hash,
            "trigger": new.trigger,
            "owner": new.lease.as_ref().map(|l| l.owner.clone()),
        });
        recorder.send(vec![
            Record::CreateRun(run.clone(), new),
            Record::Audit {
                kind: "run.started".into(),
                run: Some(run.clone()),
                payload,
            },
        ]);
        RunJournal::new(recorder, run)
    }

    /// Ends the run: its status, output and error, with a `run.finished` audit record, in one
    /// commit that everything queued before goes with. A run that streamed its output stores
    /// `{"$items": N}` ([`sluice_store::items_marker`]) as its output: N items were stored.
    ///
    /// # Errors
    /// The store refused it.
    pub async fn finish(
        &self,
        report: &RunReport,
        redactor: &Redactor,
    ) -> Result<(), JournalError> {
        let status = match report.status {
            RunStatus::Succeeded => sluice_store::RunStatus::Succeeded,
            RunStatus::Failed => sluice_store::RunStatus::Failed,
            RunStatus::Cancelled => sluice_store::RunStatus::Cancelled,
            RunStatus::TimedOut => sluice_store::RunStatus::TimedOut,
        };
        self.recorder
            .commit(vec![
                Record::Audit {
                    kind: "run.finished".into(),
                    run: Some(self.run.clone()),
                    payload: json!({ "status": status.as_str(), "elapsed_ms": report.elapsed_ms }),
                },
                Record::FinishRun {
                    run: self.run.clone(),
                    status,
                    output: if self.streaming.load(Ordering::Relaxed) {
                        Some(sluice_store::items_marker(
                            self.streamed.load(Ordering::Relaxed),
                        ))
                    } else {
                        report.output.as_ref().map(|o| self.keep(o, redactor))
                    },
                    error: report.error.as_deref().map(|e| redactor.redact(e)),
                },
            ])
            .await
    }

    /// The journal of run `run`, already in the store.
    #[must_use]
    pub fn new(recorder: Arc<Recorder>, run: RunId) -> RunJournal {
        RunJournal {
            recorder,
            run,
            finished: HashMap::new(),
            pages: HashMap::new(),
            unanswered: std::sync::Mutex::default(),
            resend_unknown: false,
            streaming: AtomicBool::new(false),
            streamed: AtomicU64::new(0),
        }
    }

    /// The journal of run `run` resumed: the steps that succeeded or were skipped are not run
    /// again (their recorded outputs are used). A failed or cancelled step runs again, and so
    /// does one whose output was too large to keep.
    ///
    /// With `resend_unknown`, a write that was sent before the run stopped, whose outcome is
    /// unknown and that the API gives no way to check, is sent again (the operator has checked
    /// it did not happen).
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn resume(
        recorder: Arc<Recorder>,
        run: RunId,
        resend_unknown: bool,
    ) -> Result<RunJournal, JournalError> {
        let steps = recorder.store().finished_steps(&run).await?;
        let unanswered = recorder
            .store()
            .unanswered_calls(&run)
            .await?
            .into_iter()
            .map(|(step, item, attempts)| ((step, item), attempts))
            .collect();
        let mut finished = HashMap::new();
        let mut pages: HashMap<String, Vec<(u32, Value)>> = HashMap::new();
        for s in steps {
            let status = match s.status {
                sluice_store::StepStatus::Succeeded => StepStatus::Succeeded,
                sluice_store::StepStatus::Skipped => StepStatus::Skipped,
                _ => continue,
            };
            let output = s.output.unwrap_or(Value::Null);
            match s.item {
                // A page of a paged step (see `page_finished`).
                Some(page) => pages.entry(s.step).or_default().push((page, output)),
                None if sluice_store::is_truncated(&output) => {}
                None => {
                    finished.insert(s.step, (status, output));
                }
            }
        }
        Ok(RunJournal {
            recorder,
            run,
            finished,
            pages: pages
                .into_iter()
                .map(|(step, list)| (step, usable_pages(list)))
                .collect(),
            unanswered: std::sync::Mutex::new(unanswered),
            resend_unknown,
            streaming: AtomicBool::new(false),
            streamed: AtomicU64::new(0),
        })
    }

    /// The run's id.
    #[must_use]
    pub fn run_id(&self) -> &RunId {
        &self.run
    }

    /// How many of the run's own steps a resumed run takes from the store (not counting the
    /// sub-flows' steps, `STEP[ITEM]/NAME`).
    #[must_use]
    pub fn replayed_steps(&self) -> usize {
        self.finished.keys().filter(|k| !k.contains('/')).count()
    }

    /// The writer.
    #[must_use]
    pub fn recorder(&self) -> &Arc<Recorder> {
        &self.recorder
    }

    /// Whether the stopped run this one resumes had finished any step (a new run: none).
    pub(crate) fn replays(&self) -> bool {
        !self.finished.is_empty()
    }

    pub(crate) fn finished(&self, step: &str) -> Option<&(StepStatus, Value)> {
        self.finished.get(step)
    }

    /// The pages of paged step `step` that a stopped run had read, from the first.
    pub(crate) fn pages(&self, step: &str) -> &[Value] {
        self.pages.get(step).map_or(&[], Vec::as_slice)
    }

    /// Records page `page` of paged step `step` (its items, the answer around them, where the
    /// next page is), queued for the next batch: a resumed run goes on after it.
    pub(crate) fn page_finished(&self, step: &str, page: u32, output: &Value, redactor: &Redactor) {
        self.part_finished(step, page, output, redactor);
    }

    /// Marks the run as one that streams its output: its end stores the items marker.
    pub(crate) fn stream_output(&self) {
        self.streaming.store(true, Ordering::Relaxed);
    }

    /// Records the result of item `k` of the `for_each` whose results a streamed run writes out
    /// instead of keeping, as item `k` of the run's output (an item already stored for `k`, by a
    /// copy of the run that stopped, is kept). Queued for the next batch; every
    /// [`ITEMS_PER_WAIT`]th item waits for its commit, so items (and the HTTP calls queued with
    /// them) never pile up in memory when the store is slower than the run.
    ///
    /// # Errors
    /// The store refused a batch.
    pub(crate) async fn item_finished(
        &self,
        k: usize,
        output: &Value,
        redactor: &Redactor,
    ) -> Result<(), JournalError> {
        let n = self.streamed.fetch_add(1, Ordering::Relaxed) + 1;
        let records = vec![Record::OutputItem {
            run: self.run.clone(),
            index: u32::try_from(k).unwrap_or(u32::MAX),
            value: self.keep(output, redactor),
        }];
        if n.is_multiple_of(ITEMS_PER_WAIT) {
            self.recorder.commit(records).await
        } else {
            self.recorder.send(records);
            Ok(())
        }
    }

    /// An item record (`item` = `page`) of step `step`.
    fn part_finished(&self, step: &str, page: u32, output: &Value, redactor: &Redactor) {
        let now = DateTime::<Utc>::from(SystemTime::now());
        let record = StepRecord {
            step: step.to_string(),
            item: Some(page),
            status: sluice_store::StepStatus::Succeeded,
            attempts: 1,
            request: None,
            response_status: None,
            output: Some(self.keep(output, redactor)),
            error: None,
            started_at: now,
            finished_at: now,
        };
        self.recorder
            .send(vec![Record::Step(self.run.clone(), record)]);
    }

    /// How many attempts of the read at `step` (`item`) the run made before it stopped
    /// waiting for the last one's answer (0 when none): asked once, by the read sent first
    /// after the resume.
    pub(crate) fn attempts_before(&self, step: &str, item: Option<usize>) -> u32 {
        let item = item.and_then(|i| u32::try_from(i).ok());
        self.unanswered.lock().map_or(0, |mut map| {
            map.remove(&(step.to_string(), item)).unwrap_or(0)
        })
    }

    pub(crate) fn resend_unknown(&self) -> bool {
        self.resend_unknown
    }

    /// A value as the store keeps it, secrets redacted. A value over the store's cap becomes a
    /// marker here — `{"$truncated": true, "more_than": CAP, "preview": "…"}` — found by
    /// walking only as much of it as the cap, so a large value is never copied or written out
    /// whole.
    fn keep(&self, value: &Value, redactor: &Redactor) -> Value {
        let Some(cap) = self.recorder.store().output_cap() else {
            return redactor.redact_json(value);
        };
        let mut budget = cap;
        if fits(value, &mut budget) {
            return redactor.redact_json(value);
        }
        let mut preview = Bounded(Vec::with_capacity(PREVIEW_BYTES));
        let _ = serde_json::to_writer(&mut preview, value);
        let mut text = String::from_utf8_lossy(&preview.0).into_owned();
        while text.len() > PREVIEW_BYTES || text.ends_with('\u{fffd}') {
            text.pop();
        }
        json!({
            sluice_store::TRUNCATED_KEY: true,
            "more_than": cap,
            "preview": redactor.redact(&text),
        })
    }

    /// The idempotency key of a write: run, step (with the sub-flow steps that lead to it) and
    /// `for_each` item.
    pub(crate) fn write_key(&self, path: &str, item: Option<usize>) -> String {
        match item {
            Some(i) => format!("{}:{path}[{i}]", self.run),
            None => format!("{}:{path}", self.run),
        }
    }

    /// Records a finished step. A step that wrote is committed before this returns (its
    /// dependants start after); any other is queued for the next batch, milliseconds later — a
    /// crash in between runs it again on resume, which only repeats reads.
    pub(crate) async fn step_finished(&self, step: StepDone<'_>) -> Result<(), JournalError> {
        let finished = SystemTime::now();
        let started = finished
            .checked_sub(step.elapsed)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let status = match step.status {
            StepStatus::Succeeded => sluice_store::StepStatus::Succeeded,
            StepStatus::Failed => sluice_store::StepStatus::Failed,
            StepStatus::Skipped => sluice_store::StepStatus::Skipped,
            StepStatus::Cancelled => sluice_store::StepStatus::Cancelled,
        };
        let record = StepRecord {
            step: step.name.to_string(),
            item: None,
            status,
            attempts: step.attempts,
            request: step.request.map(request_json),
            response_status: step.response_status,
            output: (step.status != StepStatus::Failed || !step.output.is_null())
                .then(|| self.keep(step.output, step.redactor)),
            error: step
                .error
                .map(|e| step.redactor.redact_json(&json!(e.to_string()))),
            started_at: DateTime::<Utc>::from(started),
            finished_at: DateTime::<Utc>::from(finished),
        };
        let records = vec![Record::Step(self.run.clone(), record)];
        if step.wrote {
            self.recorder.commit(records).await
        } else {
            self.recorder.send(records);
            Ok(())
        }
    }

    /// Queues an HTTP attempt (committed with the next batch). One kept when sent
    /// ([`RunJournal::http_sent`]) is forgotten from memory, or completed if written already.
    pub(crate) fn http_call(&self, call: HttpDone<'_>) {
        let at = SystemTime::now()
            .checked_sub(call.elapsed)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let record = HttpCall {
            step: call.step.to_string(),
            item: call.item.and_then(|i| u32::try_from(i).ok()),
            attempt: call.attempt,
            method: call.request.method,
            url: call.request.url,
            headers: call.request.headers,
            body: call.request.body,
            status: call.status,
            elapsed_ms: u64::try_from(call.elapsed.as_millis()).unwrap_or(u64::MAX),
            at: DateTime::<Utc>::from(at),
            error: call.error.map(str::to_string),
        };
        self.recorder.send(vec![match call.sent {
            Some(sent) => Record::HttpAttempt {
                run: self.run.clone(),
                sent,
                call: record,
            },
            None => Record::Http(self.run.clone(), record),
        }]);
    }

    /// Keeps the record of a read's attempt as it is sent, unanswered
    /// ([`sluice_store::NO_ANSWER`]), and returns its id: [`RunJournal::http_call`] with that id
    /// completes it. It is held in memory ([`Recorder::hold`]) and written only if the answer
    /// has not come within [`HOLD`] (20 ms; then with the next batch): most reads are written
    /// once, with their answer, and a read waits for no commit. A run killed within those
    /// milliseconds loses it, as it loses the step's other records of that moment.
    pub(crate) fn http_sent(
        &self,
        step: &str,
        item: Option<usize>,
        attempt: u32,
        request: &Arc<RequestRecord>,
    ) -> i64 {
        let sent = rand::random::<i64>();
        self.recorder.hold(
            sent,
            HeldRead {
                since: std::time::Instant::now(),
                run: self.run.clone(),
                step: step.to_string(),
                item: item.and_then(|i| u32::try_from(i).ok()),
                attempt,
                request: request.clone(),
                at: SystemTime::now(),
            },
        );
        sent
    }

    /// Forgets a read kept when sent ([`RunJournal::http_sent`]): its answer came. Returns the
    /// id under which [`RunJournal::http_call`] must record the answer — `None` when the read
    /// was never written (the answer is then its one record), the id when the writer had
    /// recorded it as unanswered meanwhile (the answer completes that row).
    pub(crate) fn http_answered(&self, sent: i64) -> Option<i64> {
        (!self.recorder.release(sent)).then_some(sent)
    }

    /// Records the intent to send a write (committed before it returns) and tells what the
    /// store knows of it.
    pub(crate) async fn write_intent(
        &self,
        key: &str,
        request: &RequestRecord,
    ) -> Result<WriteState, JournalError> {
        Ok(self
            .recorder
            .store()
            .write_intent(&self.run, key, &request_json(request))
            .await?)
    }

    /// Records a write's answer and an audit record of it, in one commit.
    pub(crate) async fn write_done(
        &self,
        key: &str,
        kind: &str,
        request: &RequestRecord,
        status: Option<u16>,
        answer: &Value,
        redactor: &Redactor,
    ) -> Result<(), JournalError> {
        let payload = json!({
            "key": key,
            "method": request.method,
            "url": request.url,
            "status": status,
        });
        self.recorder
            .commit(vec![
                Record::WriteDone {
                    key: key.to_string(),
                    response: redactor.redact_json(answer),
                },
                Record::Audit {
                    kind: kind.to_string(),
                    run: Some(self.run.clone()),
                    payload,
                },
            ])
            .await
    }

    /// Forgets a write the API refused (it did not happen): a resumed run may send it again.
    pub(crate) async fn write_forget(&self, key: &str) -> Result<(), JournalError> {
        Ok(self.recorder.store().write_forget(key).await?)
    }
}

/// A finished step, for [`RunJournal::step_finished`].
pub(crate) struct StepDone<'a> {
    pub name: &'a str,
    pub status: StepStatus,
    pub attempts: u32,
    pub elapsed: Duration,
    pub request: Option<&'a RequestRecord>,
    pub response_status: Option<u16>,
    pub output: &'a Value,
    pub error: Option<&'a StepError>,
    pub redactor: &'a Redactor,
    /// Whether the step's operation writes.
    pub wrote: bool,
}

/// An HTTP attempt, for [`RunJournal::http_call`].
pub(crate) struct HttpDone<'a> {
    pub step: &'a str,
    pub item: Option<usize>,
    pub attempt: u32,
    pub request: RequestRecord,
    pub status: Option<u16>,
    pub elapsed: Duration,
    pub error: Option<&'a str>,
    /// The id of the attempt's record made when it was sent, if one was.
    pub sent: Option<i64>,
}

/// How much of a large value's JSON text its marker shows.
const PREVIEW_BYTES: usize = 1024;

/// Whether `value`'s JSON text (approximately: escapes are not counted) fits in `budget`
/// bytes; stops as soon as it does not.
fn fits(value: &Value, budget: &mut usize) -> bool {
    fn take(budget: &mut usize, n: usize) -> bool {
        match budget.checked_sub(n) {
            Some(left) => {
                *budget = left;
                true
            }
            None => false,
        }
    }
    match value {
        Value::Null | Value::Bool(_) => take(budget, 5),
        Value::Number(_) => take(budget, 24),
        Value::String(s) => take(budget, s.len() + 2),
        Value::Array(items) => {
            take(budget, 2) && items.iter().all(|v| take(budget, 1) && fits(v, budget))
        }
        Value::Object(map) => {
            take(budget, 2)
                && map
                    .iter()
                    .all(|(k, v)| take(budget, k.len() + 4) && fits(v, budget))
        }
    }
}

/// A writer that keeps the first [`PREVIEW_BYTES`] + 4 bytes and then refuses more.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = (PREVIEW_BYTES + 4).saturating_sub(self.0.len());
        if room == 0 {
            return Err(std::io::Error::other("preview full"));
        }
        let n = room.min(buf.len());
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A request as stored (already redacted).
fn request_json(r: &RequestRecord) -> Value {
    let mut v = json!({ "method": r.method, "url": r.url, "headers": r.headers });
    if let (Some(body), Some(map)) = (&r.body, v.as_object_mut()) {
        map.insert("body".into(), body.clone());
    }
    v
}

/// The pages a resumed run can use: consecutive from the first, each kept whole (a page over
/// the store's size cap, and the pages after it, are read again).
fn usable_pages(mut list: Vec<(u32, Value)>) -> Vec<Value> {
    list.sort_by_key(|(page, _)| *page);
    list.into_iter()
        .enumerate()
        .take_while(|(i, (page, output))| {
            u32::try_from(*i).is_ok_and(|i| i == *page) && !sluice_store::is_truncated(output)
        })
        .map(|(_, (_, output))| output)
        .collect()
}

/// Whether two values are the same for reconciling: equal, or two timestamps of the same
/// instant written differently (`…:00Z` and `…:00.000Z`).
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a.as_str(), b.as_str()) {
        (Some(x), Some(y)) => match (
            DateTime::parse_from_rfc3339(x),
            DateTime::parse_from_rfc3339(y),
        ) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_stops_at_the_budget() {
        let big = json!({"a": ["x".repeat(100), "y".repeat(100)], "b": 1});
        assert!(fits(&big, &mut 1000));
        assert!(!fits(&big, &mut 150));
        let mut budget = 10;
        assert!(!fits(&json!(["long text here"]), &mut budget));
    }

    #[test]
    fn same_value_compares_instants() {
        assert!(same_value(
            &json!("2026-12-01T10:00:00Z"),
            &json!("2026-12-01T10:00:00.000Z")
        ));
        assert!(same_value(
            &json!("2026-12-01T11:00:00+01:00"),
            &json!("2026-12-01T10:00:00Z")
        ));
        assert!(!same_value(
            &json!("2026-12-01T10:00:01Z"),
            &json!("2026-12-01T10:00:00Z")
        ));
        assert!(same_value(&json!("call Ada"), &json!("call Ada")));
        assert!(!same_value(&json!("call Ada"), &json!("call Grace")));
    }
}
