//! Tasks and appointments of a contact (FACTS §3–§4): list, create (title, dueDate and
//! completed required), get, update, complete, delete; and `{"events": […]}` for
//! appointments. Changes emit TaskCreate / TaskComplete / TaskDelete (FACTS §9).

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Value, json};

use crate::handler::{Reply, reply};
use crate::of_contact::{self, event, to_json};
use crate::seed::{Appointment, Task, iso, parse_iso};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, str_of};

const TASK_FIELDS: &[&str] = &["title", "body", "dueDate", "completed", "assignedTo"];

fn normalize_date(s: &str) -> String {
    parse_iso(s).map_or_else(|| s.to_owned(), iso)
}

pub(crate) async fn list_tasks(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let tasks = of_contact::list::<Task>(&st, &p, &contact_id)?;
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
    let (task, location) = of_contact::add(&st, &p, &contact_id, task)?;
    st.emit("TaskCreate", &location, event(&task));
    if task.completed {
        st.emit("TaskComplete", &location, event(&task));
    }
    reply(StatusCode::CREATED, json!({"task": to_json(&task)}))
}

pub(crate) async fn get_task(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, task_id)): Path<(String, String)>,
) -> Reply {
    let task = of_contact::get::<Task>(&st, &p, &contact_id, &task_id)?;
    reply(StatusCode::OK, json!({"task": task}))
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
    let ((before, after), location) =
        of_contact::change(st, p, contact_id, task_id, |t: &mut Task| {
            let before = t.clone();
            f(t);
            (before, t.clone())
        })?;
    if after.completed && !before.completed {
        st.emit("TaskComplete", &location, event(&after));
    }
    reply(StatusCode::OK, json!({"task": to_json(&after)}))
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
    let (task, location) = of_contact::remove::<Task>(&st, &p, &contact_id, &task_id)?;
    st.emit("TaskDelete", &location, event(&task));
    reply(StatusCode::OK, json!({"succeded": true}))
}

/// GET /contacts/{contactId}/appointments → `{"events": […]}` (GetEventSchema).
pub(crate) async fn list_appointments(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let events = of_contact::list::<Appointment>(&st, &p, &contact_id)?;
    reply(StatusCode::OK, json!({"events": events}))
}
