//! The contact operations of GHL's Contacts API (FACTS §3–§5): get, create, update, delete,
//! upsert, list (cursor paging with `meta`), search, duplicate check, business contacts,
//! tags, followers, campaigns, workflows and the two bulk operations.

use std::collections::{BTreeSet, HashMap};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::seed::{Contact, Seed, iso, parse_iso, string_list};
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
fn find_duplicate<'a>(
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

fn date_ms(c: &Contact) -> i64 {
    c.str_field("dateAdded")
        .and_then(parse_iso)
        .map_or(0, |t| t.timestamp_millis())
}

/// Whether a contact matches a free-text `query` (name, email, phone, company; no case).
fn matches_query(c: &Contact, q: &str) -> bool {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let full_name = [c.str_field("firstName"), c.str_field("lastName")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let texts = ["name", "email", "companyName", "phone"]
        .iter()
        .filter_map(|k| c.str_field(k))
        .chain(std::iter::once(full_name.as_str()));
    if texts.into_iter().any(|v| v.to_lowercase().contains(&q)) {
        return true;
    }
    // A phone number written another way: `(415) 555-0101` finds `+14155550101`.
    let looks_like_phone = q
        .chars()
        .all(|ch| ch.is_ascii_digit() || " +-().".contains(ch));
    let digits = phone_digits(&q);
    looks_like_phone
        && digits.len() >= 3
        && c.str_field("phone")
            .is_some_and(|p| phone_digits(p).contains(&digits))
}

/// A whole-number query parameter with class-validator style messages.
fn int_param(
    q: &HashMap<String, String>,
    name: &str,
    default: i64,
    min: i64,
    max: Option<i64>,
) -> Result<i64, GhlError> {
    let Some(raw) = q.get(name) else {
        return Ok(default);
    };
    let n: f64 = raw.parse().map_err(|_| {
        GhlError::invalid(format!(
            "{name} must be a number conforming to the specified constraints"
        ))
    })?;
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(GhlError::invalid(format!(
            "{name} must be an integer number"
        )));
    }
    #[allow(clippy::cast_possible_truncation)]
    let n = n as i64;
    if n < min {
        return Err(GhlError::invalid(format!(
            "{name} must not be less than {min}"
        )));
    }
    if let Some(max) = max.filter(|m| n > *m) {
        return Err(GhlError::invalid(format!(
            "{name} must not be greater than {max}"
        )));
    }
    Ok(n)
}

fn required_location(q: &HashMap<String, String>, p: &Principal) -> Result<String, GhlError> {
    let loc = q.get("locationId").map(String::as_str).unwrap_or_default();
    if loc.is_empty() {
        return Err(GhlError::Unprocessable(vec![
            "locationId should not be empty".to_owned(),
            "locationId must be a string".to_owned(),
        ]));
    }
    own_location(p, loc)?;
    Ok(loc.to_owned())
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// GET /contacts/ (deprecated): `limit` default 20, max 100; cursor `startAfterId` +
/// `startAfter` (epoch ms of `dateAdded`), contacts oldest first. The `meta` object is
/// UNCONFIRMED (FACTS §5); `count` is the total matching (a guess).
pub(crate) async fn list_contacts(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = required_location(&q, &p)?;
    let limit = to_usize(int_param(&q, "limit", 20, 1, Some(100))?);
    let start_after: Option<i64> = match q.get("startAfter").filter(|s| !s.is_empty()) {
        Some(s) => Some(s.parse::<f64>().map_err(|_| {
            GhlError::invalid("startAfter must be a number conforming to the specified constraints")
        })? as i64),
        None => None,
    };
    let start_after_id = q.get("startAfterId").filter(|s| !s.is_empty()).cloned();
    let query = q.get("query").cloned().unwrap_or_default();
    let data = st.inner.data.lock();
    let mut all: Vec<&Contact> = data
        .seed
        .contacts
        .iter()
        .filter(|c| c.location_id == location && matches_query(c, &query))
        .collect();
    all.sort_by(|a, b| (date_ms(a), &a.id).cmp(&(date_ms(b), &b.id)));
    let cursor: Option<(i64, String)> = match (&start_after_id, start_after) {
        (Some(id), Some(ms)) => Some((ms, id.clone())),
        (Some(id), None) => all
            .iter()
            .find(|c| &c.id == id)
            .map(|c| (date_ms(c), id.clone())),
        (None, Some(ms)) => Some((ms, String::from("\u{10FFFF}"))),
        (None, None) => None,
    };
    let before = cursor.as_ref().map_or(0, |(ms, id)| {
        all.iter()
            .filter(|c| (date_ms(c), &c.id) <= (*ms, id))
            .count()
    });
    let page: Vec<&Contact> = all.iter().skip(before).take(limit).copied().collect();
    let total = all.len();
    let more = before + page.len() < total;
    let current_page = before / limit + 1;
    let last = page.last();
    let next_url = match (more, last) {
        (true, Some(c)) => {
            let host = headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            json!(format!(
                "http://{host}/contacts/?locationId={location}&limit={limit}&startAfter={}&startAfterId={}",
                date_ms(c),
                c.id
            ))
        }
        _ => Value::Null,
    };
    let meta = json!({
        "total": total,
        "nextPageUrl": next_url,
        "startAfterId": last.map(|c| c.id.clone()),
        "startAfter": last.map(|c| date_ms(c)),
        "currentPage": current_page,
        "nextPage": if more { json!(current_page + 1) } else { Value::Null },
        "prevPage": if current_page > 1 { json!(current_page - 1) } else { Value::Null },
    });
    let contacts: Vec<Value> = page.iter().map(|c| contact_json(c)).collect();
    reply(
        StatusCode::OK,
        json!({"contacts": contacts, "count": total, "meta": meta}),
    )
}

/// POST /contacts/search: `locationId` and `pageLimit` required, else 422 (GHL issue #31,
/// FACTS §5); `query`, `filters` (with AND/OR groups), `sort`, `page`, `searchAfter`.
/// Answers `{contacts, total}` (`total` UNCONFIRMED).
pub(crate) async fn search_contacts(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_search(&body)?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let page_limit = body
        .get("pageLimit")
        .and_then(Value::as_u64)
        .map_or(20, |n| usize::try_from(n).unwrap_or(20));
    let page = body
        .get("page")
        .and_then(Value::as_u64)
        .map_or(1, |n| usize::try_from(n).unwrap_or(1));
    let query = str_of(&body, "query").unwrap_or_default().to_owned();
    let filters: Vec<Value> = body
        .get("filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sort = search_sort(&body);

    let data = st.inner.data.lock();
    let mut hits: Vec<Value> = Vec::new();
    for c in data
        .seed
        .contacts
        .iter()
        .filter(|c| c.location_id == location && matches_query(c, &query))
    {
        let v = contact_json(c);
        let mut keep = true;
        for f in &filters {
            keep &= filter_matches(&v, f)?;
        }
        if keep {
            hits.push(v);
        }
    }
    drop(data);
    sort_hits(&mut hits, &sort);
    let total = hits.len();
    let start = match body
        .get("searchAfter")
        .and_then(Value::as_array)
        .and_then(|a| a.last())
        .and_then(Value::as_str)
    {
        Some(after_id) => hits
            .iter()
            .position(|h| h.get("id").and_then(Value::as_str) == Some(after_id))
            .map_or(total, |i| i + 1),
        None => (page - 1).saturating_mul(page_limit),
    };
    let first_sort = sort.first().map(|(f, _)| f.clone()).unwrap_or_default();
    let contacts: Vec<Value> = hits
        .into_iter()
        .skip(start)
        .take(page_limit)
        .map(|mut h| {
            let key = h.get(&first_sort).cloned().unwrap_or(Value::Null);
            let id = h.get("id").cloned().unwrap_or(Value::Null);
            h["searchAfter"] = json!([key, id]);
            h
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({"contacts": contacts, "total": total}),
    )
}

/// The body of a search: GHL's 422 messages for `locationId`, `pageLimit`, `page`, `query`
/// and the list fields.
fn check_search(body: &Map<String, Value>) -> Result<(), GhlError> {
    let mut c = Check::default();
    c.required_string(body, "locationId");
    match body.get("pageLimit") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| (1..=500).contains(&n)) => {}
        Some(Value::Number(_)) => c
            .errors
            .push("pageLimit must not be greater than 500 nor less than 1".to_owned()),
        _ => c
            .errors
            .push("pageLimit must be a number conforming to the specified constraints".to_owned()),
    }
    match body.get("page") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {}
        Some(_) => c.errors.push("page must not be less than 1".to_owned()),
    }
    if let Some(Value::String(q)) = body.get("query")
        && q.chars().count() > 75
    {
        c.errors
            .push("query must be shorter than or equal to 75 characters".to_owned());
    }
    c.string(body, "query");
    c.array(body, "filters");
    c.array(body, "sort");
    c.array(body, "searchAfter");
    c.done()
}

/// The search's `sort` as `(field, descending)`; newest first when not given.
fn search_sort(body: &Map<String, Value>) -> Vec<(String, bool)> {
    let sort: Vec<(String, bool)> = body
        .get("sort")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let f = s.get("field")?.as_str()?.to_owned();
                    let desc = s.get("direction").and_then(Value::as_str) == Some("desc");
                    Some((f, desc))
                })
                .collect()
        })
        .unwrap_or_default();
    if sort.is_empty() {
        vec![("dateAdded".to_owned(), true)]
    } else {
        sort
    }
}

/// Sorts search hits by the `sort` fields in turn, then by id.
fn sort_hits(hits: &mut [Value], sort: &[(String, bool)]) {
    hits.sort_by(|a, b| {
        for (field, desc) in sort {
            let o = compare(a.get(field), b.get(field));
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.get("id")
            .and_then(Value::as_str)
            .cmp(&b.get("id").and_then(Value::as_str))
    });
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a.and_then(sort_key), b.and_then(sort_key)) {
        (Some(SortKey::Num(x)), Some(SortKey::Num(y))) => x.total_cmp(&y),
        (Some(SortKey::Text(x)), Some(SortKey::Text(y))) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

enum SortKey {
    Num(f64),
    Text(String),
}

fn sort_key(v: &Value) -> Option<SortKey> {
    match v {
        Value::Number(n) => n.as_f64().map(SortKey::Num),
        Value::String(s) => Some(match parse_iso(s) {
            #[allow(clippy::cast_precision_loss)]
            Some(t) if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') => {
                SortKey::Num(t.timestamp_millis() as f64)
            }
            _ => SortKey::Text(s.to_lowercase()),
        }),
        Value::Bool(b) => Some(SortKey::Num(f64::from(u8::from(*b)))),
        _ => None,
    }
}

/// One search filter: `{field, operator, value}` or `{group: AND|OR, filters}` (FACTS §5, from a
/// third-party copy of GHL's docs; a subset of what GHL supports).
fn filter_matches(contact: &Value, f: &Value) -> Result<bool, GhlError> {
    if let Some(group) = f.get("group").and_then(Value::as_str) {
        return group_matches(contact, group, f);
    }
    let field = f
        .get("field")
        .and_then(Value::as_str)
        .ok_or_else(|| GhlError::invalid("filters: each filter needs a `field` (or a `group`)"))?;
    let op = f.get("operator").and_then(Value::as_str).unwrap_or("eq");
    let want = f.get("value").cloned().unwrap_or(Value::Null);
    let have = field
        .split('.')
        .try_fold(contact, |v, k| v.get(k))
        .cloned()
        .unwrap_or(Value::Null);
    let wants: Vec<Value> = match &want {
        Value::Array(a) if !have.is_array() || a.len() != 1 => a.clone(),
        other => vec![other.clone()],
    };
    let present = !matches!(&have, Value::Null)
        && have.as_str() != Some("")
        && have.as_array().is_none_or(|a| !a.is_empty());
    Ok(match op {
        "eq" => wants.iter().any(|w| loose_eq(&have, w)),
        "not_eq" => !wants.iter().any(|w| loose_eq(&have, w)),
        "contains" => wants.iter().any(|w| loose_contains(&have, w)),
        "not_contains" => !wants.iter().any(|w| loose_contains(&have, w)),
        "exists" => present,
        "not_exists" => !present,
        "range" => in_range(&have, &want),
        other => {
            return Err(GhlError::invalid(format!(
                "filters: operator `{other}` is not one of eq, not_eq, contains, not_contains, exists, not_exists, range"
            )));
        }
    })
}

/// `{group: AND|OR, filters}`: every filter (AND) or any (OR) matches.
fn group_matches(contact: &Value, group: &str, f: &Value) -> Result<bool, GhlError> {
    let subs = f
        .get("filters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut results = Vec::new();
    for s in &subs {
        results.push(filter_matches(contact, s)?);
    }
    match group.to_ascii_uppercase().as_str() {
        "AND" => Ok(results.iter().all(|r| *r)),
        "OR" => Ok(results.iter().any(|r| *r)),
        other => Err(GhlError::invalid(format!(
            "filters: group must be AND or OR, not `{other}`"
        ))),
    }
}

/// Equal, ignoring ASCII case for text; a list equals what one of its items equals.
fn loose_eq(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Value::Array(items), w) => items.iter().any(|i| match (i, w) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (i, w) => i == w,
        }),
        (a, b) => a == b,
    }
}

/// Text (or an item of a list) contains `want`, ignoring case.
fn loose_contains(have: &Value, want: &Value) -> bool {
    let w = want.as_str().unwrap_or_default().to_lowercase();
    match have {
        Value::String(s) => s.to_lowercase().contains(&w),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|s| s.to_lowercase().contains(&w))),
        _ => false,
    }
}

/// Within the `gt`, `gte`, `lt` and `lte` bounds `want` gives.
fn in_range(have: &Value, want: &Value) -> bool {
    let Some(h) = sort_key(have) else {
        return false;
    };
    let mut ok = true;
    for (bound, keep) in [
        ("gt", [std::cmp::Ordering::Greater].as_slice()),
        (
            "gte",
            &[std::cmp::Ordering::Greater, std::cmp::Ordering::Equal],
        ),
        ("lt", &[std::cmp::Ordering::Less]),
        (
            "lte",
            &[std::cmp::Ordering::Less, std::cmp::Ordering::Equal],
        ),
    ] {
        if let Some(b) = want.get(bound) {
            let o = compare(Some(&key_value(&h)), Some(b));
            ok &= keep.contains(&o);
        }
    }
    ok
}

fn key_value(k: &SortKey) -> Value {
    match k {
        SortKey::Num(n) => json!(n),
        SortKey::Text(s) => json!(s),
    }
}

/// GET /contacts/search/duplicate: the contact with this `email` (first) or `number`.
/// The 200 body is not documented (FACTS §3); `{"contact": {…} | null}` is a guess.
pub(crate) async fn duplicate_contact(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = required_location(&q, &p)?;
    let data = st.inner.data.lock();
    let found = find_duplicate(
        &data.seed,
        &location,
        q.get("email").map(String::as_str),
        q.get("number").map(String::as_str),
    )
    .map(|(c, _)| contact_json(c));
    reply(StatusCode::OK, json!({"contact": found}))
}

/// GET /contacts/business/{businessId}: `limit` (default 25) and `skip` (default 0) (FACTS §5).
pub(crate) async fn business_contacts(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(business_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = required_location(&q, &p)?;
    let limit = to_usize(int_param(&q, "limit", 25, 1, None)?);
    let skip = to_usize(int_param(&q, "skip", 0, 0, None)?);
    let query = q.get("query").cloned().unwrap_or_default();
    let data = st.inner.data.lock();
    let all: Vec<&Contact> = data
        .seed
        .contacts
        .iter()
        .filter(|c| {
            c.location_id == location
                && c.str_field("businessId") == Some(business_id.as_str())
                && matches_query(c, &query)
        })
        .collect();
    let contacts: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|c| contact_json(c))
        .collect();
    reply(
        StatusCode::OK,
        json!({"contacts": contacts, "count": all.len()}),
    )
}

// ---------------------------------------------------------------- tags, followers, enrolments

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
