//! The Locations API (locations.json) past the task search and the lists in `apis`: the
//! location itself, its tags, creating, reading, changing and deleting custom fields and
//! custom values, and its time zones. Every route checks the token's location.

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::records::{
    change, check_strings, get, merge, new_record, of_location, of_location_all, remove,
};
use crate::seed::{Seed, key_of};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, str_of};

/// The time zones `GET /locations/{locationId}/timezones` answers (a sample of the IANA
/// names GHL offers; its answer's shape is not in the document — UNCONFIRMED).
const TIMEZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
];

/// GET /locations/{locationId} → `{ location }` (GetLocationByIdSchema: id, name, timezone,
/// settings).
pub(crate) async fn get_location(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
) -> Reply {
    own_location(&p, &location)?;
    let found = st.read(|seed| seed.locations.iter().find(|l| l.id == location).cloned());
    let l = found.ok_or_else(|| GhlError::NotFound("Location not found".to_owned()))?;
    reply(
        StatusCode::OK,
        json!({ "location": {
            "id": l.id, "name": l.name, "timezone": "UTC",
            "settings": { "allowDuplicateContact": l.allow_duplicate_contact }
        }}),
    )
}

/// GET /locations/{locationId}/timezones → `{ timezones }`.
pub(crate) async fn timezones(
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
) -> Reply {
    own_location(&p, &location)?;
    reply(StatusCode::OK, json!({ "timezones": TIMEZONES }))
}

/// Which of the location's record lists a route works on, and its names in answers.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Tag,
    Field,
    Value,
}

impl Kind {
    fn list(self, seed: &mut Seed) -> &mut Vec<Value> {
        match self {
            Kind::Tag => &mut seed.tags,
            Kind::Field => &mut seed.custom_fields,
            Kind::Value => &mut seed.custom_values,
        }
    }

    /// The answer's key for one record.
    fn one(self) -> &'static str {
        match self {
            Kind::Tag => "tag",
            Kind::Field => "customField",
            Kind::Value => "customValue",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Tag => "Tag",
            Kind::Field => "Custom field",
            Kind::Value => "Custom value",
        }
    }

    /// The body's required strings (create and update alike, as the documents say).
    fn required(self) -> &'static [&'static str] {
        match self {
            Kind::Tag => &["name"],
            Kind::Field => &["name"],
            Kind::Value => &["name", "value"],
        }
    }

    /// Checks a create (`create`) or update body.
    fn check(self, body: &Map<String, Value>, create: bool) -> Result<(), GhlError> {
        check_strings(body, self.required(), &["placeholder", "model"])?;
        if let Kind::Field = self {
            let mut c = Check::default();
            if create {
                c.required_string(body, "dataType");
            } else {
                c.string(body, "dataType");
            }
            c.done()?;
        }
        Ok(())
    }
}

/// Fills the derived fields of a created record: a custom field's `fieldKey` and `model`, a
/// custom value's `fieldKey`.
fn derive(kind: Kind, record: &mut Value) {
    let name = record
        .get("name")
        .and_then(Value::as_str)
        .map(key_of)
        .unwrap_or_default();
    let Some(obj) = record.as_object_mut() else {
        return;
    };
    match kind {
        Kind::Tag => {
            obj.remove("createdAt");
            obj.remove("updatedAt");
        }
        Kind::Field => {
            let model = obj
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("contact")
                .to_owned();
            obj.insert("fieldKey".into(), json!(format!("{model}.{name}")));
            obj.insert("model".into(), json!(model));
        }
        Kind::Value => {
            obj.insert(
                "fieldKey".into(),
                json!(format!("{{{{ custom_values.{name} }}}}")),
            );
        }
    }
}

/// GET /locations/{locationId}/tags → `{ tags }`.
pub(crate) async fn list_tags(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
) -> Reply {
    own_location(&p, &location)?;
    let tags = st.read(|seed| of_location_all(&seed.tags, &location));
    reply(StatusCode::OK, json!({ "tags": tags }))
}

/// POST /locations/{locationId}/{tags|customFields|customValues} → the new record (tags
/// 200, the others 201, as the documents say).
pub(crate) async fn create(
    kind: Kind,
    st: SandboxState,
    p: Principal,
    location: String,
    body: Bytes,
) -> Reply {
    own_location(&p, &location)?;
    let body = json_object(&body)?;
    kind.check(&body, true)?;
    let mut record = new_record(&body, &location);
    derive(kind, &mut record);
    let taken = st.modify(|seed| {
        let list = kind.list(seed);
        let name = str_of(&body, "name");
        let taken = list
            .iter()
            .any(|r| of_location(r, &location) && r.get("name").and_then(Value::as_str) == name);
        if !taken {
            list.push(record.clone());
        }
        taken
    });
    if taken {
        return Err(GhlError::BadRequest(format!(
            "{} with this name already exists",
            kind.what()
        )));
    }
    let status = match kind {
        Kind::Tag => StatusCode::OK,
        Kind::Field | Kind::Value => StatusCode::CREATED,
    };
    reply(status, json!({ kind.one(): record }))
}

/// GET /locations/{locationId}/{kind}/{id} → `{ tag | customField | customValue }`.
pub(crate) async fn get_one(
    kind: Kind,
    st: SandboxState,
    p: Principal,
    (location, id): (String, String),
) -> Reply {
    own_location(&p, &location)?;
    let record = st.modify(|seed| get(kind.list(seed), &id, &location, kind.what()))?;
    reply(StatusCode::OK, json!({ kind.one(): record }))
}

/// PUT /locations/{locationId}/{kind}/{id} → the changed record.
pub(crate) async fn update(
    kind: Kind,
    st: SandboxState,
    p: Principal,
    (location, id): (String, String),
    body: Bytes,
) -> Reply {
    own_location(&p, &location)?;
    let body = json_object(&body)?;
    kind.check(&body, false)?;
    let record = st.modify(|seed| {
        change(kind.list(seed), &id, &location, kind.what(), |r| {
            merge(r, &body);
            if let Kind::Tag = kind
                && let Some(obj) = r.as_object_mut()
            {
                obj.remove("updatedAt");
            }
            r.clone()
        })
    })?;
    reply(StatusCode::OK, json!({ kind.one(): record }))
}

/// DELETE /locations/{locationId}/{kind}/{id} → `{ succeded }`.
pub(crate) async fn delete(
    kind: Kind,
    st: SandboxState,
    p: Principal,
    (location, id): (String, String),
) -> Reply {
    own_location(&p, &location)?;
    st.modify(|seed| remove(kind.list(seed), &id, &location, kind.what()))?;
    reply(StatusCode::OK, json!({ "succeded": true }))
}

/// The route handlers of one kind, for the router.
macro_rules! kind_routes {
    ($module:ident, $kind:expr) => {
        pub(crate) mod $module {
            use super::*;

            pub(crate) async fn create(
                State(st): State<SandboxState>,
                Extension(p): Extension<Principal>,
                Path(location): Path<String>,
                body: Bytes,
            ) -> Reply {
                super::create($kind, st, p, location, body).await
            }

            pub(crate) async fn get(
                State(st): State<SandboxState>,
                Extension(p): Extension<Principal>,
                Path(ids): Path<(String, String)>,
            ) -> Reply {
                super::get_one($kind, st, p, ids).await
            }

            pub(crate) async fn update(
                State(st): State<SandboxState>,
                Extension(p): Extension<Principal>,
                Path(ids): Path<(String, String)>,
                body: Bytes,
            ) -> Reply {
                super::update($kind, st, p, ids, body).await
            }

            pub(crate) async fn delete(
                State(st): State<SandboxState>,
                Extension(p): Extension<Principal>,
                Path(ids): Path<(String, String)>,
            ) -> Reply {
                super::delete($kind, st, p, ids).await
            }
        }
    };
}

kind_routes!(tags, Kind::Tag);
kind_routes!(fields, Kind::Field);
kind_routes!(values, Kind::Value);
