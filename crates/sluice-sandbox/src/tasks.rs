//! Tasks and appointments of a contact (FACTS §3–§4): list, create (title, dueDate and
//! completed required), get, update, complete, delete; and `{"events": […]}` for
//! appointments. Changes emit TaskCreate / TaskComplete / TaskDelete (FACTS §9).

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::contacts::contact_index;
use crate::errors::GhlError;
use crate::handler::{Reply, reply};
use crate::seed::{Seed, Task, iso, parse_iso};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, str_of};

const TASK_FIELDS: &[&str] = &["title", "body", "dueDate", "completed", "assignedTo"];

fn task_json(t: &Task) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

fn task_event(t: &Task) -> Map<String, Value> {
    match task_json(t) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn task_index(seed: &Seed, contact_id: &str, task_id: &str) -> Result<usize, GhlError> {
    seed.tasks
        .iter()
        .position(|t| t.id == task_id && t.contact_id == contact_id)
        // 404 body shape UNCONFIRMED (FACTS §11).
        .ok_or_else(|| GhlError::NotFound("Task not found".to_owned()))
}

fn normalize_date(s: &str) -> String {
    parse_iso(s).map_or_else(|| s.to_owned(), iso)
}

pub(crate) async fn list_tasks(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let data = st.inner.data.lock();
    contact_index(&data.seed, &p, &contact_id)?;
    let tasks: Vec<Value> = data
        .seed
        .tasks
        .iter()
        .filter(|t| t.contact_id == contact_id)
        .map(task_json)
        .collect();
    reply(StatusCode::OK, json!({"tasks": tasks}))
}

/// POST /contacts/{contactId}/tasks: CreateTaskParams requires `title`, `dueDate` and
/// `completed` (FACTS §4) → 201 `{"task": …}`.
pub(crate) async fn create_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, TASK_FIELDS);
    c.required_string(&body, "title");
    c.string(&body, "body");
    c.string(&body, "assignedTo");
    c.date(&body, "dueDate", true);
    c.boolean(&body, "completed", true);
    c.done()?;
    let (task, location) = {
        let mut data = st.inner.data.lock();
        let i = contact_index(&data.seed, &p, &contact_id)?;
        let task = Task {
            id: new_id(),
            title: str_of(&body, "title").unwrap_or_default().to_owned(),
            body: str_of(&body, "body").map(str::to_owned),
            assigned_to: str_of(&body, "assignedTo").map(str::to_owned),
            due_date: normalize_date(str_of(&body, "dueDate").unwrap_or_default()),
            completed: body.get("completed") == Some(&Value::Bool(true)),
            contact_id: contact_id.clone(),
            date_added: iso(Utc::now()),
        };
        data.seed.tasks.push(task.clone());
        (task, data.seed.contacts[i].location_id.clone())
    };
    st.emit("TaskCreate", &location, task_event(&task));
    if task.completed {
        st.emit("TaskComplete", &location, task_event(&task));
    }
    reply(StatusCode::CREATED, json!({"task": task_json(&task)}))
}

pub(crate) async fn get_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let data = st.inner.data.lock();
    contact_index(&data.seed, &p, &contact_id)?;
    let i = task_index(&data.seed, &contact_id, &task_id)?;
    reply(
        StatusCode::OK,
        json!({"task": task_json(&data.seed.tasks[i])}),
    )
}

/// Applies a change to a task; emits TaskComplete when it becomes completed (no TaskUpdate
/// event is documented, FACTS §9).
fn change_task(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    task_id: &str,
    f: impl FnOnce(&mut Task),
) -> Reply {
    let (before, after, location) = {
        let mut data = st.inner.data.lock();
        let ci = contact_index(&data.seed, p, contact_id)?;
        let ti = task_index(&data.seed, contact_id, task_id)?;
        let before = data.seed.tasks[ti].clone();
        f(&mut data.seed.tasks[ti]);
        (
            before,
            data.seed.tasks[ti].clone(),
            data.seed.contacts[ci].location_id.clone(),
        )
    };
    if after.completed && !before.completed {
        st.emit("TaskComplete", &location, task_event(&after));
    }
    reply(StatusCode::OK, json!({"task": task_json(&after)}))
}

/// PUT /contacts/{contactId}/tasks/{taskId}: UpdateTaskBody, every field optional.
pub(crate) async fn update_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, TASK_FIELDS);
    c.string(&body, "title");
    c.string(&body, "body");
    c.string(&body, "assignedTo");
    c.date(&body, "dueDate", false);
    c.boolean(&body, "completed", false);
    c.done()?;
    change_task(&st, &p, &contact_id, &task_id, |t| {
        if let Some(v) = str_of(&body, "title") {
            v.clone_into(&mut t.title);
        }
        if body.contains_key("body") {
            t.body = str_of(&body, "body").map(str::to_owned);
        }
        if body.contains_key("assignedTo") {
            t.assigned_to = str_of(&body, "assignedTo").map(str::to_owned);
        }
        if let Some(v) = str_of(&body, "dueDate") {
            t.due_date = normalize_date(v);
        }
        if let Some(Value::Bool(b)) = body.get("completed") {
            t.completed = *b;
        }
    })
}

/// PUT /contacts/{contactId}/tasks/{taskId}/completed with `{"completed": bool}` (required).
pub(crate) async fn complete_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, task_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, &["completed"]);
    c.boolean(&body, "completed", true);
    c.done()?;
    let completed = body.get("completed") == Some(&Value::Bool(true));
    change_task(&st, &p, &contact_id, &task_id, |t| t.completed = completed)
}

/// DELETE /contacts/{contactId}/tasks/{taskId} → 200 `{"succeded": true}`.
pub(crate) async fn delete_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let (task, location) = {
        let mut data = st.inner.data.lock();
        let ci = contact_index(&data.seed, &p, &contact_id)?;
        let ti = task_index(&data.seed, &contact_id, &task_id)?;
        let location = data.seed.contacts[ci].location_id.clone();
        (data.seed.tasks.remove(ti), location)
    };
    st.emit("TaskDelete", &location, task_event(&task));
    reply(StatusCode::OK, json!({"succeded": true}))
}

/// GET /contacts/{contactId}/appointments → `{"events": […]}` (GetEventSchema).
pub(crate) async fn list_appointments(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let data = st.inner.data.lock();
    contact_index(&data.seed, &p, &contact_id)?;
    let events: Vec<Value> = data
        .seed
        .appointments
        .iter()
        .filter(|a| a.contact_id == contact_id)
        .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
        .collect();
    reply(StatusCode::OK, json!({"events": events}))
}
