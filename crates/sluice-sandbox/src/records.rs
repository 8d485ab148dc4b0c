//! Records of a location kept as plain JSON (users, businesses, tags, custom fields and
//! values, pipelines, conversations): finding one by id within the token's location, creating
//! one with a new id, merging changes. Also the Users and Businesses APIs (users.json,
//! businesses.json) past the reads in `apis`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::listing::{holds_text, query_number};
use crate::seed::iso;
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, str_of};

pub(crate) fn query_location<'a>(
    q: &'a HashMap<String, String>,
    key: &str,
) -> Result<&'a str, GhlError> {
    q.get(key)
        .map(String::as_str)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| GhlError::Unprocessable(vec![format!("{key} should not be empty")]))
}

/// Whether a record belongs to `location` (its `locationId`).
pub(crate) fn of_location(item: &Value, location: &str) -> bool {
    item.get("locationId").and_then(Value::as_str) == Some(location)
}

/// The index of the record `id` of `location`; `what` names it in the 404 (`Tag not found`).
pub(crate) fn find(
    items: &[Value],
    id: &str,
    location: &str,
    what: &str,
) -> Result<usize, GhlError> {
    items
        .iter()
        .position(|i| i.get("id").and_then(Value::as_str) == Some(id) && of_location(i, location))
        .ok_or_else(|| GhlError::NotFound(format!("{what} not found")))
}

/// The records of `location`, in order.
pub(crate) fn of_location_all(items: &[Value], location: &str) -> Vec<Value> {
    items
        .iter()
        .filter(|i| of_location(i, location))
        .cloned()
        .collect()
}

/// A copy of the record `id` of `location` (404 as [`find`]).
pub(crate) fn get(
    items: &[Value],
    id: &str,
    location: &str,
    what: &str,
) -> Result<Value, GhlError> {
    find(items, id, location, what).map(|i| items[i].clone())
}

/// Takes the record `id` of `location` out of `items` (404 as [`find`]).
pub(crate) fn remove(
    items: &mut Vec<Value>,
    id: &str,
    location: &str,
    what: &str,
) -> Result<Value, GhlError> {
    find(items, id, location, what).map(|i| items.remove(i))
}

/// Applies `f` to the record `id` of `location` (404 as [`find`]).
pub(crate) fn change<R>(
    items: &mut [Value],
    id: &str,
    location: &str,
    what: &str,
    f: impl FnOnce(&mut Value) -> R,
) -> Result<R, GhlError> {
    find(items, id, location, what).map(|i| f(&mut items[i]))
}

/// [`merge`]s the body into the record `id` of `location`: the record after (404 as [`find`]).
pub(crate) fn merge_into(
    items: &mut [Value],
    id: &str,
    location: &str,
    what: &str,
    body: &Map<String, Value>,
) -> Result<Value, GhlError> {
    change(items, id, location, what, |r| {
        merge(r, body);
        r.clone()
    })
}

/// A new record of `location`: the body's fields, a new id, `locationId` and the times.
pub(crate) fn new_record(body: &Map<String, Value>, location: &str) -> Value {
    let now = iso(Utc::now());
    let mut m = body.clone();
    m.insert("id".into(), json!(new_id()));
    m.insert("locationId".into(), json!(location));
    m.insert("createdAt".into(), json!(now));
    m.insert("updatedAt".into(), json!(now));
    Value::Object(m)
}

/// Writes the body's fields over the record (never its `id` or `locationId`).
pub(crate) fn merge(item: &mut Value, body: &Map<String, Value>) {
    if let Some(obj) = item.as_object_mut() {
        for (k, v) in body {
            if k != "id" && k != "locationId" {
                obj.insert(k.clone(), v.clone());
            }
        }
        obj.insert("updatedAt".into(), json!(iso(Utc::now())));
    }
}

/// `{ "name": … }`-style checks: the required strings, then the optional ones.
pub(crate) fn check_strings(
    body: &Map<String, Value>,
    required: &[&str],
    optional: &[&str],
) -> Result<(), GhlError> {
    let mut c = Check::default();
    for key in required {
        c.required_string(body, key);
    }
    for key in optional {
        c.string(body, key);
    }
    c.done()
}

fn user_in(user: &Value, location: &str) -> bool {
    user.pointer("/roles/locationIds")
        .and_then(Value::as_array)
        .is_some_and(|ls| ls.iter().any(|l| l.as_str() == Some(location)))
}

fn user_index(st: &SandboxState, p: &Principal, id: &str) -> Result<usize, GhlError> {
    st.read(|seed| {
        seed.users
            .iter()
            .position(|u| u.get("id").and_then(Value::as_str) == Some(id))
            .filter(|i| user_in(&seed.users[*i], &p.grant.location_id))
            .ok_or_else(|| GhlError::NotFound("User not found".to_owned()))
    })
}

/// GET /users/search?companyId=&locationId=&query=&skip=&limit= → `{ users, count }`: the
/// users of the token's location (the sandbox has no agency tokens).
pub(crate) async fn search_users(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    if let Some(l) = q.get("locationId") {
        own_location(&p, l)?;
    }
    let skip = query_number(&q, "skip", 0);
    let limit = query_number(&q, "limit", 25);
    let text = q.get("query").map(|t| t.to_lowercase());
    let found: Vec<Value> = st.read(|seed| {
        seed.users
            .iter()
            .filter(|u| user_in(u, &p.grant.location_id))
            .filter(|u| {
                // In its name or email, any case.
                text.as_ref()
                    .is_none_or(|t| holds_text(u, &["name", "email", "firstName", "lastName"], t))
            })
            .cloned()
            .collect()
    });
    let count = found.len();
    let users: Vec<Value> = found.into_iter().skip(skip).take(limit).collect();
    reply(StatusCode::OK, json!({ "users": users, "count": count }))
}

/// POST /users/search/filter-by-email (FilterByEmailDto: companyId, emails) →
/// `{ users, count }`.
pub(crate) async fn filter_users_by_email(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.required_string(&body, "companyId");
    c.string_array(&body, "emails", true);
    c.done()?;
    let emails: Vec<String> = crate::seed::string_list(body.get("emails"))
        .iter()
        .map(|e| e.to_lowercase())
        .collect();
    let users: Vec<Value> = st.read(|seed| {
        seed.users
            .iter()
            .filter(|u| user_in(u, &p.grant.location_id))
            .filter(|u| {
                u.get("email")
                    .and_then(Value::as_str)
                    .is_some_and(|e| emails.contains(&e.to_lowercase()))
            })
            .cloned()
            .collect()
    });
    reply(
        StatusCode::OK,
        json!({ "count": users.len(), "users": users }),
    )
}

const USER_REQUIRED: &[&str] = &[
    "companyId",
    "firstName",
    "lastName",
    "email",
    "password",
    "type",
    "role",
];

/// POST /users/ (CreateUserDto) → 201 user. The password is checked and never kept.
pub(crate) async fn create_user(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let mut body = json_object(&body)?;
    let mut c = Check::default();
    for key in USER_REQUIRED {
        c.required_string(&body, key);
    }
    c.string_array(&body, "locationIds", true);
    c.done()?;
    for l in crate::seed::string_list(body.get("locationIds")) {
        own_location(&p, &l)?;
    }
    body.remove("password");
    let user = user_record(&body, new_id());
    st.modify(|seed| seed.users.push(user.clone()));
    reply(StatusCode::CREATED, user)
}

/// A user as the Users API answers it, from a create or update body.
fn user_record(body: &Map<String, Value>, id: String) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    for (k, v) in body {
        if !["type", "role", "locationIds", "companyId", "password"].contains(&k.as_str()) {
            m.insert(k.clone(), v.clone());
        }
    }
    let first = str_of(body, "firstName").unwrap_or_default();
    let last = str_of(body, "lastName").unwrap_or_default();
    m.insert("name".into(), json!(format!("{first} {last}").trim()));
    m.insert(
        "roles".into(),
        json!({
            "type": body.get("type"), "role": body.get("role"),
            "locationIds": body.get("locationIds")
        }),
    );
    Value::Object(m)
}

/// PUT /users/{userId} (UpdateUserDto, all optional) → the user.
pub(crate) async fn update_user(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let mut body = json_object(&body)?;
    check_strings(&body, &[], &["firstName", "lastName", "email", "phone"])?;
    body.remove("password");
    let i = user_index(&st, &p, &id)?;
    let user = st.modify(|seed| {
        let user = &mut seed.users[i];
        if let Some(obj) = user.as_object_mut() {
            for (k, v) in &body {
                if !["type", "role", "locationIds", "companyId", "id"].contains(&k.as_str()) {
                    obj.insert(k.clone(), v.clone());
                }
            }
            let part = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let name = format!("{} {}", part("firstName"), part("lastName"));
            obj.insert("name".into(), json!(name.trim()));
        }
        user.clone()
    });
    reply(StatusCode::OK, user)
}

/// DELETE /users/{userId} → `{ succeded, message }`.
pub(crate) async fn delete_user(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let i = user_index(&st, &p, &id)?;
    st.modify(|seed| seed.users.remove(i));
    reply(
        StatusCode::OK,
        json!({ "succeded": true, "message": "Queued deleting user. It may take some time to reflect." }),
    )
}

const BUSINESS_FIELDS: &[&str] = &[
    "phone",
    "email",
    "website",
    "address",
    "city",
    "postalCode",
    "state",
    "country",
    "description",
];

/// POST /businesses/ (CreateBusinessDto: name, locationId) → 201 `{ success, buiseness }`
/// (sic, the document's spelling).
pub(crate) async fn create_business(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    let mut allowed = vec!["name", "locationId"];
    allowed.extend_from_slice(BUSINESS_FIELDS);
    c.only(&body, &allowed);
    c.done()?;
    check_strings(&body, &["name", "locationId"], BUSINESS_FIELDS)?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let b = new_record(&body, &location);
    st.modify(|seed| seed.businesses.push(b.clone()));
    reply(
        StatusCode::CREATED,
        json!({ "success": true, "buiseness": b }),
    )
}

/// PUT /businesses/{businessId} (UpdateBusinessDto) → `{ success, buiseness }`.
pub(crate) async fn update_business(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    let mut allowed = vec!["name"];
    allowed.extend_from_slice(BUSINESS_FIELDS);
    c.only(&body, &allowed);
    c.done()?;
    check_strings(&body, &[], &allowed)?;
    let b = st.modify(|seed| {
        merge_into(
            &mut seed.businesses,
            &id,
            &p.grant.location_id,
            "Business",
            &body,
        )
    })?;
    reply(StatusCode::OK, json!({ "success": true, "buiseness": b }))
}

/// DELETE /businesses/{businessId} → `{ success }`.
pub(crate) async fn delete_business(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    st.modify(|seed| remove(&mut seed.businesses, &id, &p.grant.location_id, "Business"))?;
    reply(StatusCode::OK, json!({ "success": true }))
}
