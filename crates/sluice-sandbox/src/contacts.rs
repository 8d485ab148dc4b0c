//! The contact operations of GHL's Contacts API (FACTS §3–§5): get, create, update, delete,
//! upsert, tags, followers, campaigns, workflows and the two bulk operations (finding
//! contacts: list, search, duplicates, is `contact_search.rs`).

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::seed::{Contact, Seed, iso, string_list};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, phone_digits, str_of};

/// Fields of CreateContactDto (FACTS §4).
const CREATE_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "email",
    "locationId",
    "gender",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "tags",
    "customFields",
    "source",
    "dateOfBirth",
    "country",
    "companyName",
    "assignedTo",
];
/// Fields of UpdateContactDto: CreateContactDto less `locationId`, `gender`, `companyName`.
const UPDATE_FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "name",
    "email",
    "phone",
    "address1",
    "city",
    "state",
    "postalCode",
    "website",
    "timezone",
    "dnd",
    "dndSettings",
    "inboundDndSettings",
    "tags",
    "customFields",
    "source",
    "dateOfBirth",
    "country",
    "assignedTo",
];

/// A contact as GHL answers it: its fields plus `tags`/`customFields` defaults and the
/// lower-case copies GetContectByIdSchema lists.
pub(crate) fn contact_json(c: &Contact) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(c.id.clone()));
    m.insert("locationId".into(), Value::String(c.location_id.clone()));
    for (k, v) in &c.fields {
        m.insert(k.clone(), v.clone());
    }
    m.entry("tags").or_insert_with(|| json!([]));
    m.entry("customFields").or_insert_with(|| json!([]));
    let lower = |k: &str| c.str_field(k).map(str::to_lowercase);
    if let Some(e) = lower("email") {
        m.insert("emailLowerCase".into(), Value::String(e));
    }
    if let Some(f) = lower("firstName") {
        m.insert("firstNameLowerCase".into(), Value::String(f));
    }
    if let Some(l) = lower("lastName") {
        m.insert("lastNameLowerCase".into(), Value::String(l));
    }
    let full: Vec<String> = [lower("firstName"), lower("lastName")]
        .into_iter()
        .flatten()
        .collect();
    if !full.is_empty() {
        m.insert("fullNameLowerCase".into(), Value::String(full.join(" ")));
    }
    Value::Object(m)
}

/// The contact's fields for a webhook payload (flat, FACTS §9).
fn event_fields(c: &Contact) -> Map<String, Value> {
    match contact_json(c) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The position of a contact the caller may see: 404 when there is none, 403 when it
/// belongs to another location (that answer is a guess; FACTS.md has none).
pub(crate) fn contact_index(seed: &Seed, p: &Principal, id: &str) -> Result<usize, GhlError> {
    let i = seed
        .contacts
        .iter()
        .position(|c| c.id == id)
        .ok_or_else(GhlError::contact_not_found)?;
    if seed.contacts[i].location_id != p.grant.location_id {
        return Err(GhlError::other_location());
    }
    Ok(i)
}

/// Trimmed, lower-case, without duplicates or blanks — GHL stores tags in lower case (a guess
/// from its UI; FACTS.md does not say).
fn normalize_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Custom-field input items `{id | key, field_value | value}` (FACTS §4) as stored `{id, value}`.
fn custom_fields_input(v: &Value) -> Vec<Value> {
    v.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|it| {
                    let id = it.get("id").or_else(|| it.get("key"))?.as_str()?;
                    let value = it
                        .get("field_value")
                        .or_else(|| it.get("value"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    Some(json!({"id": id, "value": value}))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes body fields into a contact; `tags` replaces all tags (UpdateContactDto, FACTS §4),
/// `customFields` are merged by id.
fn apply_fields(c: &mut Contact, body: &Map<String, Value>) {
    for (k, v) in body {
        match k.as_str() {
            "locationId" | "createNewIfDuplicateAllowed" => {}
            "tags" => {
                let tags = normalize_tags(&string_list(Some(v)));
                c.fields.insert("tags".into(), json!(tags));
            }
            "customFields" => {
                let mut current: Vec<Value> = c
                    .fields
                    .get("customFields")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in custom_fields_input(v) {
                    let id = item.get("id").cloned();
                    match current.iter_mut().find(|x| x.get("id") == id.as_ref()) {
                        Some(slot) => *slot = item,
                        None => current.push(item),
                    }
                }
                c.fields
                    .insert("customFields".into(), Value::Array(current));
            }
            _ => {
                c.fields.insert(k.clone(), v.clone());
            }
        }
    }
    c.fields
        .insert("dateUpdated".into(), Value::String(iso(Utc::now())));
}

fn check_contact_body(
    body: &Map<String, Value>,
    allowed: &[&str],
    create: bool,
) -> Result<(), GhlError> {
    let mut c = Check::default();
    c.only(body, allowed);
    if create {
        c.required_string(body, "locationId");
    }
    for f in [
        "firstName",
        "lastName",
        "name",
        "email",
        "gender",
        "phone",
        "address1",
        "city",
        "state",
        "postalCode",
        "website",
        "timezone",
        "source",
        "dateOfBirth",
        "country",
        "companyName",
        "assignedTo",
    ] {
        c.string(body, f);
    }
    c.boolean(body, "dnd", false);
    c.boolean(body, "createNewIfDuplicateAllowed", false);
    c.object(body, "dndSettings");
    c.object(body, "inboundDndSettings");
    c.string_array(body, "tags", false);
    c.array(body, "customFields");
    c.done()
}

/// The contact of the location with this email (first) or phone, for duplicate checks
/// (FACTS §4: email has priority, then phone).
pub(crate) fn find_duplicate<'a>(
    seed: &'a Seed,
    location: &str,
    email: Option<&str>,
    phone: Option<&str>,
) -> Option<(&'a Contact, &'static str)> {
    let here = || {
        seed.contacts
            .iter()
            .filter(move |c| c.location_id == location)
    };
    if let Some(e) = email.filter(|e| !e.is_empty())
        && let Some(c) = here().find(|c| {
            c.str_field("email")
                .is_some_and(|x| x.eq_ignore_ascii_case(e))
        })
    {
        return Some((c, "email"));
    }
    if let Some(p) = phone.map(phone_digits).filter(|p| !p.is_empty())
        && let Some(c) = here().find(|c| c.str_field("phone").is_some_and(|x| phone_digits(x) == p))
    {
        return Some((c, "phone"));
    }
    None
}

fn allows_duplicates(seed: &Seed, location: &str) -> bool {
    seed.locations
        .iter()
        .find(|l| l.id == location)
        .is_some_and(|l| l.allow_duplicate_contact)
}

fn new_contact(location: &str, body: &Map<String, Value>) -> Contact {
    let now = iso(Utc::now());
    let mut c = Contact {
        id: new_id(),
        location_id: location.to_owned(),
        fields: Map::new(),
    };
    c.fields.insert("dateAdded".into(), Value::String(now));
    c.fields.insert("tags".into(), json!([]));
    c.fields.insert("dnd".into(), Value::Bool(false));
    apply_fields(&mut c, body);
    c
}

/// What CreateContactSchema adds to a created contact (FACTS §4).
fn created_json(c: &Contact) -> Value {
    let mut v = contact_json(c);
    if let Value::Object(m) = &mut v {
        for (k, d) in [
            ("deleted", json!(false)),
            ("bounceEmail", json!(false)),
            ("unsubscribeEmail", json!(false)),
            ("offers", json!([])),
            ("products", json!([])),
        ] {
            m.entry(k).or_insert(d);
        }
    }
    v
}

// ---------------------------------------------------------------- single contacts

pub(crate) async fn get_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let data = st.inner.data.lock();
    let i = contact_index(&data.seed, &p, &contact_id)?;
    reply(
        StatusCode::OK,
        json!({"contact": contact_json(&data.seed.contacts[i])}),
    )
}

pub(crate) async fn create_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_contact_body(&body, CREATE_FIELDS, true)?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let created = {
        let mut data = st.inner.data.lock();
        if !allows_duplicates(&data.seed, &location)
            && let Some((dup, field)) = find_duplicate(
                &data.seed,
                &location,
                str_of(&body, "email"),
                str_of(&body, "phone"),
            )
        {
            // Shape seen in GHL answers; not in FACTS.md (a guess).
            let name = [dup.str_field("firstName"), dup.str_field("lastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            return Err(GhlError::BadRequestWith(json!({
                "statusCode": 400,
                "message": "This location does not allow duplicated contacts.",
                "meta": {"contactName": name, "contactId": dup.id, "matchingField": field}
            })));
        }
        let c = new_contact(&location, &body);
        data.seed.contacts.push(c.clone());
        c
    };
    st.emit("ContactCreate", &location, event_fields(&created));
    reply(
        StatusCode::CREATED,
        json!({"contact": created_json(&created)}),
    )
}

pub(crate) async fn update_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_contact_body(&body, UPDATE_FIELDS, false)?;
    let (before, after) = {
        let mut data = st.inner.data.lock();
        let i = contact_index(&data.seed, &p, &contact_id)?;
        let before = data.seed.contacts[i].clone();
        apply_fields(&mut data.seed.contacts[i], &body);
        (before, data.seed.contacts[i].clone())
    };
    emit_contact_changes(&st, &before, &after);
    reply(
        StatusCode::OK,
        json!({"succeded": true, "contact": contact_json(&after)}),
    )
}

/// ContactUpdate, plus ContactTagUpdate / ContactDndUpdate when tags / DND changed (FACTS §9).
fn emit_contact_changes(st: &SandboxState, before: &Contact, after: &Contact) {
    let loc = after.location_id.clone();
    st.emit("ContactUpdate", &loc, event_fields(after));
    if before.fields.get("tags") != after.fields.get("tags") {
        st.emit("ContactTagUpdate", &loc, event_fields(after));
    }
    if before.fields.get("dnd") != after.fields.get("dnd")
        || before.fields.get("dndSettings") != after.fields.get("dndSettings")
    {
        st.emit("ContactDndUpdate", &loc, event_fields(after));
    }
}

pub(crate) async fn delete_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let removed = {
        let mut data = st.inner.data.lock();
        let i = contact_index(&data.seed, &p, &contact_id)?;
        let c = data.seed.contacts.remove(i);
        data.seed.tasks.retain(|t| t.contact_id != contact_id);
        data.seed.notes.retain(|n| n.contact_id != contact_id);
        data.seed
            .appointments
            .retain(|a| a.contact_id != contact_id);
        data.campaigns.remove(&contact_id);
        data.workflows.remove(&contact_id);
        c
    };
    st.emit(
        "ContactDelete",
        &removed.location_id,
        event_fields(&removed),
    );
    reply(StatusCode::OK, json!({"succeded": true}))
}

pub(crate) async fn upsert_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut allowed = CREATE_FIELDS.to_vec();
    allowed.push("createNewIfDuplicateAllowed");
    check_contact_body(&body, &allowed, true)?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let create_anyway = body.get("createNewIfDuplicateAllowed") == Some(&Value::Bool(true));
    let (is_new, before, after) = {
        let mut data = st.inner.data.lock();
        let existing = find_duplicate(
            &data.seed,
            &location,
            str_of(&body, "email"),
            str_of(&body, "phone"),
        )
        .map(|(c, _)| c.id.clone());
        let dup_ok = allows_duplicates(&data.seed, &location) && create_anyway;
        match existing.filter(|_| !dup_ok) {
            Some(id) => {
                let i = contact_index(&data.seed, &p, &id)?;
                let before = data.seed.contacts[i].clone();
                apply_fields(&mut data.seed.contacts[i], &body);
                (false, Some(before), data.seed.contacts[i].clone())
            }
            None => {
                let c = new_contact(&location, &body);
                data.seed.contacts.push(c.clone());
                (true, None, c)
            }
        }
    };
    match &before {
        Some(b) => emit_contact_changes(&st, b, &after),
        None => st.emit("ContactCreate", &location, event_fields(&after)),
    }
    reply(
        StatusCode::OK,
        json!({"new": is_new, "contact": contact_json(&after), "traceId": new_id()}),
    )
}

// ---------------------------------------------------------------- lists and searches

fn tags_body(body: &Bytes) -> Result<Vec<String>, GhlError> {
    let body = json_object(body)?;
    let mut c = Check::default();
    c.only(&body, &["tags"]);
    c.string_array(&body, "tags", true);
    c.done()?;
    Ok(string_list(body.get("tags")))
}

/// POST /contacts/{contactId}/tags → 201 `{"tags": [all tags]}`.
pub(crate) async fn add_tags(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let add = normalize_tags(&tags_body(&body)?);
    change_tags(&st, &p, &contact_id, StatusCode::CREATED, |tags| {
        for t in add {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    })
}

/// DELETE /contacts/{contactId}/tags with a JSON body → 200 `{"tags": [what is left]}`.
pub(crate) async fn remove_tags(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let remove = normalize_tags(&tags_body(&body)?);
    change_tags(&st, &p, &contact_id, StatusCode::OK, |tags| {
        tags.retain(|t| !remove.contains(t));
    })
}

fn change_tags(
    st: &SandboxState,
    p: &Principal,
    contact_id: &str,
    status: StatusCode,
    f: impl FnOnce(&mut Vec<String>),
) -> Reply {
    let (before, after) = {
        let mut data = st.inner.data.lock();
        let i = contact_index(&data.seed, p, contact_id)?;
        let c = &mut data.seed.contacts[i];
        let before = c.clone();
        let mut tags = c.tags();
        f(&mut tags);
        c.fields.insert("tags".into(), json!(tags));
        c.fields
            .insert("dateUpdated".into(), Value::String(iso(Utc::now())));
        (before, c.clone())
    };
    if before.fields.get("tags") != after.fields.get("tags") {
        st.emit("ContactTagUpdate", &after.location_id, event_fields(&after));
    }
    reply(status, json!({"tags": after.tags()}))
}

fn followers_body(body: &Bytes) -> Result<Vec<String>, GhlError> {
    let body = json_object(body)?;
    let mut c = Check::default();
    c.only(&body, &["followers"]);
    c.string_array(&body, "followers", true);
    c.done()?;
    Ok(string_list(body.get("followers")))
}

/// POST /contacts/{contactId}/followers → 201 `{"followers", "followersAdded"}`.
pub(crate) async fn add_followers(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let add = followers_body(&body)?;
    let mut data = st.inner.data.lock();
    let i = contact_index(&data.seed, &p, &contact_id)?;
    let c = &mut data.seed.contacts[i];
    let mut followers = string_list(c.fields.get("followers"));
    let mut added = Vec::new();
    for f in add {
        if !followers.contains(&f) {
            followers.push(f.clone());
            added.push(f);
        }
    }
    c.fields.insert("followers".into(), json!(followers));
    reply(
        StatusCode::CREATED,
        json!({"followers": followers, "followersAdded": added}),
    )
}

/// DELETE /contacts/{contactId}/followers with a JSON body → 200 `{"followers", "followersRemoved"}`.
pub(crate) async fn remove_followers(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
    body: Bytes,
) -> Reply {
    let remove = followers_body(&body)?;
    let mut data = st.inner.data.lock();
    let i = contact_index(&data.seed, &p, &contact_id)?;
    let c = &mut data.seed.contacts[i];
    let mut followers = string_list(c.fields.get("followers"));
    let removed: Vec<String> = followers
        .iter()
        .filter(|f| remove.contains(f))
        .cloned()
        .collect();
    followers.retain(|f| !remove.contains(f));
    c.fields.insert("followers".into(), json!(followers));
    reply(
        StatusCode::OK,
        json!({"followers": followers, "followersRemoved": removed}),
    )
}

/// Which of a contact's enrolments a route changes.
#[derive(Clone, Copy)]
enum Enrolment {
    Campaign,
    Workflow,
}

/// Adds (`add`) or takes out `item` in the contact's campaigns or workflows.
fn enrol(
    st: &SandboxState,
    p: &Principal,
    which: Enrolment,
    contact_id: String,
    item: String,
    add: bool,
) -> Result<(), GhlError> {
    let mut guard = st.inner.data.lock();
    let data = &mut *guard;
    contact_index(&data.seed, p, &contact_id)?;
    let all = match which {
        Enrolment::Campaign => &mut data.campaigns,
        Enrolment::Workflow => &mut data.workflows,
    };
    if add {
        all.entry(contact_id)
            .or_insert_with(BTreeSet::new)
            .insert(item);
    } else if let Some(set) = all.get_mut(&contact_id) {
        set.remove(&item);
    }
    Ok(())
}

/// POST /contacts/{contactId}/campaigns/{campaignId} → 201 `{"succeded": true}`.
pub(crate) async fn add_to_campaign(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, campaign_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    json_object(&body)?;
    enrol(&st, &p, Enrolment::Campaign, contact_id, campaign_id, true)?;
    reply(StatusCode::CREATED, json!({"succeded": true}))
}

/// DELETE /contacts/{contactId}/campaigns/{campaignId} → 200 `{"succeded": true}`.
pub(crate) async fn remove_from_campaign(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, campaign_id)): Path<(String, String)>,
) -> Reply {
    enrol(&st, &p, Enrolment::Campaign, contact_id, campaign_id, false)?;
    reply(StatusCode::OK, json!({"succeded": true}))
}

/// DELETE /contacts/{contactId}/campaigns/removeAll → 200 `{"succeded": true}`.
pub(crate) async fn remove_from_all_campaigns(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(contact_id): Path<String>,
) -> Reply {
    let mut data = st.inner.data.lock();
    contact_index(&data.seed, &p, &contact_id)?;
    data.campaigns.remove(&contact_id);
    reply(StatusCode::OK, json!({"succeded": true}))
}

fn workflow_body(body: &Bytes) -> Result<(), GhlError> {
    let body = json_object(body)?;
    let mut c = Check::default();
    c.only(&body, &["eventStartTime"]);
    c.date(&body, "eventStartTime", false);
    c.done()
}

/// POST /contacts/{contactId}/workflow/{workflowId} → 200 (not 201) `{"succeded": true}`.
pub(crate) async fn add_to_workflow(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, workflow_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    workflow_body(&body)?;
    enrol(&st, &p, Enrolment::Workflow, contact_id, workflow_id, true)?;
    reply(StatusCode::OK, json!({"succeded": true}))
}

/// DELETE /contacts/{contactId}/workflow/{workflowId} → 200 `{"succeded": true}`.
pub(crate) async fn remove_from_workflow(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path((contact_id, workflow_id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    workflow_body(&body)?;
    enrol(&st, &p, Enrolment::Workflow, contact_id, workflow_id, false)?;
    reply(StatusCode::OK, json!({"succeded": true}))
}

// ---------------------------------------------------------------- bulk

/// POST /contacts/bulk/tags/update/{type} → 201 `{succeded, errorCount, responses}`. `{type}` is
/// `add` or `remove` (UNCONFIRMED, FACTS §3); `responses` items follow the example objects of
/// UpdateTagsResponseDTO (its schema says strings; the example shows objects).
pub(crate) async fn bulk_tags(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(kind): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    if kind != "add" && kind != "remove" {
        c.errors
            .push("type must be one of the following values: add, remove".to_owned());
    }
    c.only(&body, &["contacts", "tags", "locationId", "removeAllTags"]);
    c.string_array(&body, "contacts", true);
    c.string_array(&body, "tags", true);
    c.required_string(&body, "locationId");
    c.boolean(&body, "removeAllTags", false);
    c.done()?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let tags = normalize_tags(&string_list(body.get("tags")));
    let remove_all = body.get("removeAllTags") == Some(&Value::Bool(true)) && kind == "remove";
    let mut responses = Vec::new();
    let mut changed = Vec::new();
    {
        let mut data = st.inner.data.lock();
        for id in string_list(body.get("contacts")) {
            let Some(c) = data.seed.contacts.iter_mut().find(|c| c.id == id) else {
                responses.push(
                    json!({"contactId": id, "message": "contact not found", "type": "error"}),
                );
                continue;
            };
            if c.location_id != location {
                responses.push(json!({"contactId": id, "message": "contact does not belong to location", "type": "error"}));
                continue;
            }
            let old = c.tags();
            let mut new = old.clone();
            if kind == "add" {
                for t in &tags {
                    if !new.contains(t) {
                        new.push(t.clone());
                    }
                }
            } else if remove_all {
                new.clear();
            } else {
                new.retain(|t| !tags.contains(t));
            }
            let added: Vec<&String> = new.iter().filter(|t| !old.contains(t)).collect();
            let removed: Vec<&String> = old.iter().filter(|t| !new.contains(t)).collect();
            responses.push(json!({
                "contactId": id, "message": "Tags updated", "type": "success",
                "oldTags": old, "tagsAdded": added, "tagsRemoved": removed
            }));
            if new != old {
                c.fields.insert("tags".into(), json!(new));
                c.fields
                    .insert("dateUpdated".into(), Value::String(iso(Utc::now())));
                changed.push(c.clone());
            }
        }
    }
    for c in &changed {
        st.emit("ContactTagUpdate", &c.location_id, event_fields(c));
    }
    let errors = responses.iter().filter(|r| r["type"] == "error").count();
    reply(
        StatusCode::CREATED,
        json!({"succeded": errors == 0, "errorCount": errors, "responses": responses}),
    )
}

/// POST /contacts/bulk/business → 200 `{"success": true, "ids": [updated ids]}`; a `null`
/// businessId removes the business.
pub(crate) async fn bulk_business(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, &["locationId", "ids", "businessId"]);
    c.required_string(&body, "locationId");
    c.string_array(&body, "ids", true);
    if !body.contains_key("businessId") {
        c.errors.push("businessId must be a string".to_owned());
    }
    c.string(&body, "businessId");
    c.done()?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let business = body.get("businessId").cloned().unwrap_or(Value::Null);
    let mut ids = Vec::new();
    let mut changed = Vec::new();
    {
        let mut data = st.inner.data.lock();
        for id in string_list(body.get("ids")) {
            if let Some(c) = data
                .seed
                .contacts
                .iter_mut()
                .find(|c| c.id == id && c.location_id == location)
            {
                if business.is_null() {
                    c.fields.remove("businessId");
                } else {
                    c.fields.insert("businessId".into(), business.clone());
                }
                c.fields
                    .insert("dateUpdated".into(), Value::String(iso(Utc::now())));
                changed.push(c.clone());
                ids.push(id);
            }
        }
    }
    for c in &changed {
        st.emit("ContactUpdate", &c.location_id, event_fields(c));
    }
    reply(StatusCode::OK, json!({"success": true, "ids": ids}))
}
