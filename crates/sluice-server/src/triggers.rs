//! The runner's triggers: cron schedules (time zones, DST, missed-fire, overlap and jitter
//! policies; each tick fires once across runners), `task_due` (a task fires once per due
//! date) and `poll` (each new item fires once). Every firing and the run it queues are
//! committed together, so a crash neither skips nor repeats one.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde_json::{Map, Value, json};
use sluice_engine::Executable;
use sluice_model::flow::{
    MissedPolicy, OverlapPolicy, PollTrigger, ScheduleTrigger, TaskDueTrigger, Trigger,
};
use sluice_store::{NewRun, RunStatus};

use crate::registry::FlowEntry;
use crate::schedule::Schedule;
use crate::shared::Shared;

/// Fire times older than this (behind the clock) count as missed, not late.
const GRACE: Duration = Duration::from_secs(5);
/// How far back missed fire times and due tasks are looked for.
const LOOKBACK: Duration = Duration::from_secs(24 * 3600);
/// Pages of the task search a `task_due` look reads at most (100,000 open tasks).
const MAX_PAGES: usize = 1_000;
/// Tasks asked for a page of the task search.
const TASK_PAGE: usize = 100;
/// The operation `task_due` pages through: `ghl-locations`' task search.
pub(crate) const TASK_SEARCH: &str = "search_tasks";

/// A set shared with the tasks a tick starts.
type SharedSet<T> = Arc<Mutex<HashSet<T>>>;

/// What the trigger loop remembers between ticks.
#[derive(Default)]
struct State {
    /// When each (flow, trigger) was last looked at (task_due, poll).
    looked: HashMap<(String, usize), Instant>,
    /// Looks in progress.
    busy: SharedSet<(String, usize)>,
    /// When this runner first saw each scheduled flow (its schedule starts there when the
    /// flow never fired before).
    first_seen: HashMap<String, DateTime<Utc>>,
    /// Schedule ticks waiting out their jitter.
    jittering: SharedSet<(String, DateTime<Utc>)>,
}

/// Looks at every trigger of every served flow once a tick, until the runner stops.
pub(crate) async fn trigger_loop(shared: Arc<Shared>, tick: Duration) {
    let mut state = State::default();
    loop {
        let snap = shared.registry.snapshot();
        let now = Utc::now();
        for (name, entry) in &snap.flows {
            for (i, trigger) in entry.triggers.iter().enumerate() {
                match trigger {
                    Trigger::Schedule(s) => {
                        if let Err(e) = schedule_tick(&shared, &mut state, entry, s, now).await {
                            tracing::warn!(flow = %name, error = %e, "Schedule not checked.");
                        }
                    }
                    Trigger::TaskDue(t) => {
                        let every = t
                            .every
                            .as_ref()
                            .map_or(Duration::from_secs(60), |d| d.value.0);
                        spawn_look(
                            &shared,
                            &mut state,
                            entry,
                            i,
                            every,
                            Look::TaskDue(t.clone()),
                        );
                    }
                    Trigger::Poll(p) => {
                        let every = p
                            .every
                            .as_ref()
                            .map_or(Duration::from_secs(300), |d| d.value.0);
                        spawn_look(&shared, &mut state, entry, i, every, Look::Poll(p.clone()));
                    }
                    Trigger::Manual(_) | Trigger::Webhook(_) => {}
                }
            }
        }
        if let Ok(n) = shared.store.count_runs(RunStatus::Queued, None).await {
            shared
                .metrics
                .queue_depth
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            () = shared.stopping.cancelled() => return,
        }
    }
}

/// The inputs a triggered run gets from `object` (a task, an item, a webhook event): the
/// input named `whole` gets the object itself; every other declared input takes the field of
/// the same name, and `contactId` falls back to the object's `id` (a contact) — only inputs
/// the flow declares are passed.
pub(crate) fn inputs_from(exec: &Executable, whole: &str, object: &Value) -> Value {
    let mut out = Map::new();
    for name in exec.inputs.keys() {
        let value = if name == whole {
            Some(object.clone())
        } else {
            object.get(name.as_str()).cloned().or_else(|| {
                (name == "contactId")
                    .then(|| object.get("id").cloned())
                    .flatten()
            })
        };
        if let Some(v) = value {
            out.insert(name.clone(), v);
        }
    }
    Value::Object(out)
}

fn new_run(exec: &Executable, trigger: &str, inputs: Value) -> NewRun {
    NewRun {
        flow_hash: exec.content_hash.clone(),
        ..NewRun::new(exec.name.clone(), b"", trigger, inputs)
    }
}

/// The ticks of a schedule up to `now`: those behind the grace period are missed (the last
/// `keep` kept, all counted), the rest are on time.
struct DueTicks {
    missed: VecDeque<DateTime<Utc>>,
    missed_total: usize,
    on_time: Vec<DateTime<Utc>>,
}

fn due_ticks(
    schedule: &Schedule,
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
    keep: usize,
) -> DueTicks {
    let grace_start = now - chrono::TimeDelta::from_std(GRACE).unwrap_or_default();
    let mut due = DueTicks {
        missed: VecDeque::new(),
        missed_total: 0,
        on_time: Vec::new(),
    };
    for t in schedule.after(cursor).take(200_000) {
        let t = t.with_timezone(&Utc);
        if t > now {
            break;
        }
        if t < grace_start {
            due.missed_total += 1;
            due.missed.push_back(t);
            if due.missed.len() > keep {
                due.missed.pop_front();
            }
        } else {
            due.on_time.push(t);
        }
    }
    due
}

/// Fires the schedule's due ticks: missed ones as its `missed` policy says, then the ones on
/// time, each once across runners (after its jitter, if any).
async fn schedule_tick(
    shared: &Arc<Shared>,
    state: &mut State,
    entry: &FlowEntry,
    trigger: &ScheduleTrigger,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let flow = entry.exec.name.as_str();
    let schedule = Schedule::new(trigger).map_err(|e| e.to_string())?;
    let last = shared
        .store
        .last_fire(flow)
        .await
        .map_err(|e| e.to_string())?;
    let lookback = now - chrono::TimeDelta::from_std(LOOKBACK).unwrap_or_default();
    // Never fired: start from when this runner first saw the flow (no catch-up for times
    // before it was first served).
    let seen = *state.first_seen.entry(flow.to_string()).or_insert(now);
    let cursor = match last {
        Some(t) => t.max(lookback),
        None => seen,
    };
    let policy = trigger.missed.unwrap_or(MissedPolicy::Latest);
    let keep = match policy {
        MissedPolicy::All => trigger.max_catch_up.unwrap_or(10).max(1) as usize,
        _ => 1,
    };
    let due = due_ticks(&schedule, cursor, now, keep);
    let mut fire: Vec<DateTime<Utc>> = Vec::new();
    if due.missed_total > 0 {
        match policy {
            MissedPolicy::Skip => {
                if let Some(&latest) = due.missed.back() {
                    tracing::warn!(
                        flow,
                        missed = due.missed_total,
                        "Missed schedule ticks skipped."
                    );
                    shared
                        .store
                        .schedule_fire(flow, latest)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            MissedPolicy::Latest | MissedPolicy::All => {
                tracing::warn!(
                    flow,
                    missed = due.missed_total,
                    catching_up = due.missed.len(),
                    "Running missed schedule ticks."
                );
                fire.extend(due.missed);
            }
        }
    }
    fire.extend(due.on_time);
    let jitter = trigger
        .jitter
        .as_ref()
        .map(|j| j.value.0)
        .filter(|j| !j.is_zero());
    for t in fire {
        match jitter {
            None => fire_tick(shared, entry, trigger, t).await?,
            Some(j) => fire_after_jitter(shared, state, entry, trigger, (t, j)),
        }
    }
    Ok(())
}

/// Fires tick `t` after a random wait up to `jitter`, in a task of its own (once per tick while
/// it waits).
fn fire_after_jitter(
    shared: &Arc<Shared>,
    state: &State,
    entry: &FlowEntry,
    trigger: &ScheduleTrigger,
    (t, jitter): (DateTime<Utc>, Duration),
) {
    let key = (entry.exec.name.clone(), t);
    if !state.jittering.lock().insert(key.clone()) {
        return;
    }
    let wait = Duration::from_millis(
        rand::rng().random_range(0..=u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX)),
    );
    let (shared, trigger, jittering) = (shared.clone(), trigger.clone(), state.jittering.clone());
    let entry = Arc::new(FlowEntry {
        exec: entry.exec.clone(),
        file: entry.file.clone(),
        triggers: Vec::new(),
        stale: None,
    });
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        if let Err(e) = fire_tick(&shared, &entry, &trigger, t).await {
            tracing::warn!(flow = %entry.exec.name, error = %e, "Schedule tick not fired.");
        }
        jittering.lock().remove(&key);
    });
}

/// Fires tick `t` once across runners, applying the overlap policy.
async fn fire_tick(
    shared: &Shared,
    entry: &FlowEntry,
    trigger: &ScheduleTrigger,
    t: DateTime<Utc>,
) -> Result<(), String> {
    let flow = entry.exec.name.as_str();
    let store = &shared.store;
    let err = |e: sluice_store::StoreError| e.to_string();
    let queued = store
        .count_runs(RunStatus::Queued, Some(flow))
        .await
        .map_err(err)?;
    let running = store
        .count_runs(RunStatus::Running, Some(flow))
        .await
        .map_err(err)?;
    let blocked = match trigger.overlap.unwrap_or(OverlapPolicy::Skip) {
        OverlapPolicy::Skip => queued + running > 0,
        OverlapPolicy::Queue => queued > 0,
        OverlapPolicy::Allow => false,
    };
    if blocked {
        if store.schedule_fire(flow, t).await.map_err(err)? {
            tracing::warn!(flow, tick = %t, "Schedule tick skipped: the previous run is still going (overlap policy).");
        }
        return Ok(());
    }
    let mut object: Map<String, Value> = trigger
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), v.0.to_json()))
        .collect();
    object.insert("fireTime".into(), json!(t.to_rfc3339()));
    let inputs = inputs_from(&entry.exec, "", &Value::Object(object));
    if let Some(id) = store
        .schedule_fire_run(flow, t, new_run(&entry.exec, "schedule", inputs))
        .await
        .map_err(err)?
    {
        tracing::info!(flow, tick = %t, run = %id, "Schedule fired.");
        shared.metrics.fired("schedule");
        shared.wake.notify_one();
    }
    Ok(())
}

/// A look at an API (`task_due`, `poll`).
enum Look {
    TaskDue(TaskDueTrigger),
    Poll(PollTrigger),
}

/// Starts a look when it is due and none is in progress for this trigger.
fn spawn_look(
    shared: &Arc<Shared>,
    state: &mut State,
    entry: &Arc<FlowEntry>,
    index: usize,
    every: Duration,
    look: Look,
) {
    let key = (entry.exec.name.clone(), index);
    if state
        .looked
        .get(&key)
        .is_some_and(|at| at.elapsed() < every)
    {
        return;
    }
    if !state.busy.lock().insert(key.clone()) {
        return;
    }
    state.looked.insert(key.clone(), Instant::now());
    let (shared, entry, busy) = (shared.clone(), entry.clone(), state.busy.clone());
    tokio::spawn(async move {
        // One runner of the fleet looks per period of `every`: the store decides.
        let kind = match &look {
            Look::TaskDue(_) => "task_due",
            Look::Poll(_) => "poll",
        };
        let every_ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
        let period = Utc::now().timestamp_millis() / every_ms;
        let trigger = format!("{kind}:{}#{index}", entry.exec.name);
        match shared
            .store
            .claim_look(&trigger, period, &shared.owner)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                busy.lock().remove(&key);
                return;
            }
            Err(e) => {
                tracing::warn!(flow = %entry.exec.name, error = %e, "Could not ask the store whose look this is; looking anyway.");
            }
        }
        let result = match &look {
            Look::TaskDue(t) => task_due_look(&shared, &entry, t).await,
            Look::Poll(p) => poll_look(&shared, &entry, index, p).await,
        };
        if let Err(e) = result {
            tracing::warn!(flow = %entry.exec.name, error = %e, "Trigger look failed; trying again at the next one.");
        }
        busy.lock().remove(&key);
    });
}

/// The due dates a `task_due` look fires for.
struct DueWindow {
    oldest: DateTime<Utc>,
    horizon: DateTime<Utc>,
    include_completed: bool,
}

/// Queues a run for `task` of contact `contact` when it falls due in the window, once per task
/// and due date across runners.
async fn fire_if_due(
    shared: &Shared,
    entry: &FlowEntry,
    window: &DueWindow,
    contact: &str,
    task: &Value,
) -> Result<(), String> {
    if !window.include_completed && task.get("completed") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    let (Some(task_id), Some(due)) = (
        task.get("id").and_then(Value::as_str),
        task.get("dueDate")
            .and_then(Value::as_str)
            .and_then(|d| DateTime::parse_from_rfc3339(d).ok()),
    ) else {
        return Ok(());
    };
    let due = due.with_timezone(&Utc);
    if due > window.horizon || due < window.oldest {
        return Ok(());
    }
    let mut task = task.clone();
    if let Some(obj) = task.as_object_mut() {
        obj.entry("contactId").or_insert_with(|| json!(contact));
    }
    let key = format!("{task_id}@{}", due.to_rfc3339());
    let inputs = inputs_from(&entry.exec, "task", &task);
    let fired = shared
        .store
        .fire_once(
            &format!("task_due:{}", entry.exec.name),
            &key,
            Some(new_run(&entry.exec, "task_due", inputs)),
        )
        .await
        .map_err(|e| e.to_string())?;
    if let Some(run) = fired {
        tracing::info!(flow = %entry.exec.name, task = task_id, due = %due, run = %run, "Task due: run queued.");
        shared.metrics.fired("task_due");
        shared.wake.notify_one();
    }
    Ok(())
}

/// Pages through the location's task search (`search_tasks` of a `ghl-locations`
/// connection: every open task of the location, whatever its contact), firing each task that
/// falls due. One look is one paged query: `limit` 100, `skip` growing, until a short page.
async fn task_due_look(
    shared: &Shared,
    entry: &FlowEntry,
    trigger: &TaskDueTrigger,
) -> Result<(), String> {
    let snap = shared.registry.snapshot();
    let rt = &snap.runtime;
    let conn = entry
        .exec
        .connections
        .iter()
        .find(|c| c.name == trigger.connection.value)
        .ok_or_else(|| format!("no connection `{}`", trigger.connection.value))?;
    let location = conn
        .credential
        .as_ref()
        .and_then(|c| rt.location(c).map(str::to_string))
        .or_else(|| shared.default_location.clone())
        .ok_or_else(|| {
            format!(
                "`task_due` needs the location of connection `{}`: set `location_id` of its credential in sluice.toml",
                conn.name
            )
        })?;
    let within = trigger
        .within
        .as_ref()
        .map_or(Duration::ZERO, |d| d.value.0);
    let now = Utc::now();
    let window = DueWindow {
        oldest: now - chrono::TimeDelta::from_std(LOOKBACK).unwrap_or_default(),
        horizon: chrono::TimeDelta::from_std(within)
            .ok()
            .and_then(|w| now.checked_add_signed(w))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
        include_completed: trigger.include_completed,
    };
    let mut skip = 0;
    let mut calls = 0;
    for _ in 0..MAX_PAGES {
        let mut params = Map::new();
        params.insert("locationId".into(), json!(location));
        params.insert("limit".into(), json!(TASK_PAGE));
        params.insert("skip".into(), json!(skip));
        if !trigger.include_completed {
            params.insert("completed".into(), json!(false));
        }
        let page = sluice_engine::call_read(rt, conn, TASK_SEARCH, &params)
            .await
            .map_err(|e| e.to_string())?;
        calls += 1;
        let tasks = page
            .get("tasks")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for task in &tasks {
            let contact = task.get("contactId").and_then(Value::as_str).unwrap_or("");
            fire_if_due(shared, entry, &window, contact, task).await?;
        }
        if tasks.len() < TASK_PAGE {
            tracing::debug!(flow = %entry.exec.name, calls, tasks = skip + tasks.len(), "task_due look done");
            return Ok(());
        }
        skip += tasks.len();
    }
    tracing::warn!(flow = %entry.exec.name, calls, "task_due: stopped after {MAX_PAGES} pages of tasks; the rest is looked at next time");
    Ok(())
}

/// The item path of a poll trigger's key template: `{{ item.id }}` → `["id"]`.
pub(crate) fn key_path(template: &str) -> Result<Vec<String>, String> {
    let inner = template
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim)
        .ok_or_else(|| format!("`key: {template}` must be one `{{{{ item.FIELD }}}}` template"))?;
    let mut parts = inner.split('.');
    if parts.next() != Some("item") {
        return Err(format!(
            "`key: {template}` must read the item: `{{{{ item.id }}}}`"
        ));
    }
    Ok(parts.map(str::to_string).collect())
}

async fn poll_look(
    shared: &Shared,
    entry: &FlowEntry,
    index: usize,
    trigger: &PollTrigger,
) -> Result<(), String> {
    let snap = shared.registry.snapshot();
    let (conn_name, op) = trigger.action.value.split_once('.').ok_or_else(|| {
        format!(
            "`action: {}` must be CONNECTION.OPERATION",
            trigger.action.value
        )
    })?;
    let conn = entry
        .exec
        .connections
        .iter()
        .find(|c| c.name == conn_name)
        .ok_or_else(|| format!("no connection `{conn_name}`"))?;
    let params: Map<String, Value> = trigger
        .with
        .iter()
        .map(|(k, v)| (k.value.clone(), v.0.to_json()))
        .collect();
    let answer = sluice_engine::call_read(&snap.runtime, conn, op, &params)
        .await
        .map_err(|e| e.to_string())?;
    let path = serde_json_path::JsonPath::parse(&trigger.items.value)
        .map_err(|e| format!("`items: {}`: {e}", trigger.items.value))?;
    let key_path = key_path(&trigger.key.value)?;
    let name = format!("poll:{}:{index}", entry.exec.name);
    // The first look records what is there without firing: only items that appear later do.
    let first = !shared
        .store
        .trigger_has_keys(&name)
        .await
        .map_err(|e| e.to_string())?;
    if first {
        shared
            .store
            .fire_once(&name, "$first-look", None)
            .await
            .map_err(|e| e.to_string())?;
    }
    for item in path.query(&answer).all() {
        let mut v = item;
        for seg in &key_path {
            v = match v.get(seg.as_str()) {
                Some(x) => x,
                None => &Value::Null,
            };
        }
        let key = match v {
            Value::String(s) => s.clone(),
            Value::Null => continue,
            other => other.to_string(),
        };
        let run =
            (!first).then(|| new_run(&entry.exec, "poll", inputs_from(&entry.exec, "item", item)));
        let fired = shared
            .store
            .fire_once(&name, &key, run)
            .await
            .map_err(|e| e.to_string())?;
        if fired.is_some() && !first {
            tracing::info!(flow = %entry.exec.name, key, "New item: run queued.");
            shared.metrics.fired("poll");
            shared.wake.notify_one();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_templates_read_the_item() {
        assert_eq!(key_path("{{ item.id }}").expect("ok"), vec!["id"]);
        assert_eq!(key_path("{{item.a.b}}").expect("ok"), vec!["a", "b"]);
        assert!(key_path("{{ inputs.x }}").is_err());
        assert!(key_path("id").is_err());
    }
}
