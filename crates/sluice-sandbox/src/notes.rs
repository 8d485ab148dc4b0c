//! Notes of a contact (FACTS §3–§4; the path parameter is `{id}`, not `{noteId}`): list,
//! create (`body` required), get, update, delete. Changes emit NoteCreate / NoteUpdate /
//! NoteDelete (FACTS §9).

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, reply};
use crate::of_contact::{self, event, to_json};
use crate::seed::{Note, iso};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, str_of};

const NOTE_FIELDS: &[&str] = &["userId", "body", "title", "color", "pinned"];

fn check_note(body: &Map<String, Value>, create: bool) -> Result<(), GhlError> {
    let mut c = Check::default();
    c.only(body, NOTE_FIELDS);
    if create {
        c.required_string(body, "body");
    } else {
        c.string(body, "body");
    }
    c.string(body, "userId");
    c.string(body, "title");
    c.string(body, "color");
    c.boolean(body, "pinned", false);
    c.done()
}

pub(crate) async fn list_notes(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let notes = of_contact::list::<Note>(&st, &p, &contact_id)?;
    reply(StatusCode::OK, json!({"notes": notes}))
}

/// POST /contacts/{contactId}/notes (NotesDTO: `body` required) → 201 `{"note": …}`.
pub(crate) async fn create_note(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_note(&body, true)?;
    let note = Note {
        id: new_id(),
        body: str_of(&body, "body").unwrap_or_default().to_owned(),
        user_id: Some(
            str_of(&body, "userId").map_or_else(|| p.grant.user_id.clone(), str::to_owned),
        ),
        date_added: iso(Utc::now()),
        contact_id: contact_id.clone(),
        title: str_of(&body, "title").map(str::to_owned),
        color: str_of(&body, "color").map(str::to_owned),
        pinned: body.get("pinned") == Some(&Value::Bool(true)),
    };
    let (note, location) = of_contact::add(&st, &p, &contact_id, note)?;
    st.emit("NoteCreate", &location, event(&note));
    reply(StatusCode::CREATED, json!({"note": to_json(&note)}))
}

pub(crate) async fn get_note(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, id)): Path<(String, String)>,
) -> Reply {
    let note = of_contact::get::<Note>(&st, &p, &contact_id, &id)?;
    reply(StatusCode::OK, json!({"note": note}))
}

/// PUT /contacts/{contactId}/notes/{id} (UpdateNoteDTO, every field optional).
pub(crate) async fn update_note(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_note(&body, false)?;
    let (note, location) = of_contact::change(&st, &p, &contact_id, &id, |n: &mut Note| {
        if let Some(v) = str_of(&body, "body") {
            v.clone_into(&mut n.body);
        }
        for (key, slot) in [
            ("userId", &mut n.user_id),
            ("title", &mut n.title),
            ("color", &mut n.color),
        ] {
            if body.contains_key(key) {
                *slot = str_of(&body, key).map(str::to_owned);
            }
        }
        if let Some(Value::Bool(b)) = body.get("pinned") {
            n.pinned = *b;
        }
        n.clone()
    })?;
    st.emit("NoteUpdate", &location, event(&note));
    reply(StatusCode::OK, json!({"note": to_json(&note)}))
}

/// DELETE /contacts/{contactId}/notes/{id} → 200 `{"succeded": true}`.
pub(crate) async fn delete_note(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, id)): Path<(String, String)>,
) -> Reply {
    let (note, location) = of_contact::remove::<Note>(&st, &p, &contact_id, &id)?;
    st.emit("NoteDelete", &location, event(&note));
    reply(StatusCode::OK, json!({"succeded": true}))
}
