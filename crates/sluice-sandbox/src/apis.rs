//! The GHL APIs past Contacts that flows use first, with answer shapes from their OpenAPI
//! documents (users.json, locations.json, businesses.json, conversations.json,
//! opportunities.json): users, the location's task search (paged with `limit`/`skip`), custom
//! fields and values, businesses, sending a message, and listing, creating and updating
//! opportunities. Scopes per route of every GHL API past Contacts are in [`SCOPES`]; every
//! route checks the token's location. The other operations are in `records`, `locations`,
//! `opportunities` and `conversations`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::conversations::{NewMessage, record_message};
use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::listing::{holds_text, page_of, query_number};
use crate::opportunities::OPPORTUNITY;
use crate::records::{
    change, get, merge, new_record, of_location, of_location_all, query_location,
};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, str_of};

/// The scope each route needs (`METHOD /route`), from the operations' `security` in GHL's
/// documents.
pub(crate) const SCOPES: &[(&str, &str)] = &[
    ("GET /users/{userId}", "users.readonly"),
    ("GET /users/", "users.readonly"),
    (
        "POST /locations/{locationId}/tasks/search",
        "locations/tasks.readonly",
    ),
    (
        "GET /locations/{locationId}/customFields",
        "locations/customFields.readonly",
    ),
    (
        "GET /locations/{locationId}/customValues",
        "locations/customValues.readonly",
    ),
    ("GET /businesses/", "businesses.readonly"),
    ("GET /businesses/{businessId}", "businesses.readonly"),
    (
        "POST /conversations/messages",
        "conversations/message.write",
    ),
    ("GET /opportunities/search", "opportunities.readonly"),
    ("POST /opportunities/", "opportunities.write"),
    ("PUT /opportunities/{id}", "opportunities.write"),
    ("GET /users/search", "users.readonly"),
    ("POST /users/search/filter-by-email", "users.readonly"),
    ("POST /users/", "users.write"),
    ("PUT /users/{userId}", "users.write"),
    ("DELETE /users/{userId}", "users.write"),
    ("GET /locations/{locationId}", "locations.readonly"),
    (
        "GET /locations/{locationId}/timezones",
        "locations.readonly",
    ),
    (
        "GET /locations/{locationId}/tags",
        "locations/tags.readonly",
    ),
    ("POST /locations/{locationId}/tags", "locations/tags.write"),
    // The documents name no scope for one tag, field or value: the list's (a guess).
    (
        "GET /locations/{locationId}/tags/{tagId}",
        "locations/tags.readonly",
    ),
    (
        "PUT /locations/{locationId}/tags/{tagId}",
        "locations/tags.write",
    ),
    (
        "DELETE /locations/{locationId}/tags/{tagId}",
        "locations/tags.write",
    ),
    (
        "POST /locations/{locationId}/customFields",
        "locations/customFields.write",
    ),
    (
        "GET /locations/{locationId}/customFields/{id}",
        "locations/customFields.readonly",
    ),
    (
        "PUT /locations/{locationId}/customFields/{id}",
        "locations/customFields.write",
    ),
    (
        "DELETE /locations/{locationId}/customFields/{id}",
        "locations/customFields.write",
    ),
    (
        "POST /locations/{locationId}/customValues",
        "locations/customValues.write",
    ),
    (
        "GET /locations/{locationId}/customValues/{id}",
        "locations/customValues.readonly",
    ),
    (
        "PUT /locations/{locationId}/customValues/{id}",
        "locations/customValues.write",
    ),
    (
        "DELETE /locations/{locationId}/customValues/{id}",
        "locations/customValues.write",
    ),
    ("POST /businesses/", "businesses.write"),
    ("PUT /businesses/{businessId}", "businesses.write"),
    ("DELETE /businesses/{businessId}", "businesses.write"),
    ("GET /opportunities/lost-reason", "opportunities.readonly"),
    ("POST /opportunities/search", "opportunities.readonly"),
    ("GET /opportunities/pipelines", "opportunities.readonly"),
    ("GET /opportunities/{id}", "opportunities.readonly"),
    ("DELETE /opportunities/{id}", "opportunities.write"),
    ("PUT /opportunities/{id}/status", "opportunities.write"),
    ("POST /opportunities/upsert", "opportunities.write"),
    ("POST /opportunities/{id}/followers", "opportunities.write"),
    (
        "DELETE /opportunities/{id}/followers",
        "opportunities.write",
    ),
    ("GET /conversations/search", "conversations.readonly"),
    (
        "GET /conversations/{conversationId}",
        "conversations.readonly",
    ),
    ("PUT /conversations/{conversationId}", "conversations.write"),
    (
        "DELETE /conversations/{conversationId}",
        "conversations.write",
    ),
    ("POST /conversations/", "conversations.write"),
    (
        "GET /conversations/{conversationId}/messages",
        "conversations/message.readonly",
    ),
    (
        "GET /conversations/messages/{id}",
        "conversations/message.readonly",
    ),
    (
        "POST /conversations/messages/inbound",
        "conversations/message.write",
    ),
    (
        "POST /conversations/messages/outbound",
        "conversations/message.write",
    ),
    (
        "PUT /conversations/messages/{messageId}/status",
        "conversations/message.write",
    ),
    (
        "DELETE /conversations/messages/{messageId}/schedule",
        "conversations/message.write",
    ),
];

/// The most items the task search answers at once (GHL states none; UNCONFIRMED).
pub const MAX_TASK_PAGE: usize = 100;

/// GET /users/{userId} → the user (UserSuccessfulResponseDto).
pub(crate) async fn get_user(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(user_id): Path<String>,
) -> Reply {
    let data = st.inner.data.lock();
    let user = data
        .seed
        .users
        .iter()
        .find(|u| u.get("id").and_then(Value::as_str) == Some(user_id.as_str()))
        .filter(|u| {
            u.pointer("/roles/locationIds")
                .and_then(Value::as_array)
                .is_some_and(|ls| ls.iter().any(|l| l.as_str() == Some(&p.grant.location_id)))
        })
        .ok_or_else(|| GhlError::NotFound("User not found".to_owned()))?;
    reply(StatusCode::OK, user.clone())
}

/// GET /users/?locationId= → `{ users }`.
pub(crate) async fn users_of_location(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "locationId")?;
    own_location(&p, location)?;
    let data = st.inner.data.lock();
    let users: Vec<Value> = data
        .seed
        .users
        .iter()
        .filter(|u| {
            u.pointer("/roles/locationIds")
                .and_then(Value::as_array)
                .is_some_and(|ls| ls.iter().any(|l| l.as_str() == Some(location)))
        })
        .cloned()
        .collect();
    reply(StatusCode::OK, json!({ "users": users }))
}

/// POST /locations/{locationId}/tasks/search (TaskSearchParamsDto) → `{ tasks }`: the
/// location's tasks by `completed`, `assignedTo`, `contactId`, `query` (in the title), ordered
/// by due date, `limit` (default 25, at most [`MAX_TASK_PAGE`]) from `skip`.
pub(crate) async fn search_tasks(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
    body: Bytes,
) -> Reply {
    own_location(&p, &location)?;
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(
        &body,
        &[
            "contactId",
            "completed",
            "assignedTo",
            "query",
            "limit",
            "skip",
            "businessId",
        ],
    );
    c.boolean(&body, "completed", false);
    c.string_array(&body, "contactId", false);
    c.string_array(&body, "assignedTo", false);
    c.string(&body, "query");
    c.string(&body, "businessId");
    c.done()?;
    let count = |key: &str, default: usize| -> Result<usize, GhlError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    GhlError::Unprocessable(vec![format!("{key} must be a whole number")])
                }),
        }
    };
    let limit = count("limit", 25)?.min(MAX_TASK_PAGE);
    let skip = count("skip", 0)?;
    let strings = |key: &str| -> Option<Vec<String>> {
        body.get(key).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    };
    let (contacts, assignees) = (strings("contactId"), strings("assignedTo"));
    let completed = body.get("completed").and_then(Value::as_bool);
    let query = str_of(&body, "query").map(str::to_lowercase);
    let business = str_of(&body, "businessId");
    let data = st.inner.data.lock();
    let seed = &data.seed;
    let in_location: HashMap<&str, Option<&str>> = seed
        .contacts
        .iter()
        .filter(|c| c.location_id == location)
        .map(|c| (c.id.as_str(), c.str_field("businessId")))
        .collect();
    let mut found: Vec<&crate::seed::Task> = seed
        .tasks
        .iter()
        .filter(|t| in_location.contains_key(t.contact_id.as_str()))
        .filter(|t| completed.is_none_or(|c| t.completed == c))
        .filter(|t| {
            contacts
                .as_ref()
                .is_none_or(|cs| cs.contains(&t.contact_id))
        })
        .filter(|t| {
            assignees
                .as_ref()
                .is_none_or(|a| t.assigned_to.as_ref().is_some_and(|x| a.contains(x)))
        })
        .filter(|t| {
            query
                .as_ref()
                .is_none_or(|q| t.title.to_lowercase().contains(q.as_str()))
        })
        .filter(|t| {
            business.is_none_or(|b| {
                in_location.get(t.contact_id.as_str()).copied().flatten() == Some(b)
            })
        })
        .collect();
    found.sort_by(|a, b| (&a.due_date, &a.id).cmp(&(&b.due_date, &b.id)));
    let tasks: Vec<Value> = found
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
        .collect();
    reply(StatusCode::OK, json!({ "tasks": tasks }))
}

/// GET /locations/{locationId}/customFields → `{ customFields }`.
pub(crate) async fn custom_fields(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
) -> Reply {
    own_location(&p, &location)?;
    let fields = st.read(|seed| of_location_all(&seed.custom_fields, &location));
    reply(StatusCode::OK, json!({ "customFields": fields }))
}

/// GET /locations/{locationId}/customValues → `{ customValues }`.
pub(crate) async fn custom_values(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(location): Path<String>,
) -> Reply {
    own_location(&p, &location)?;
    let values = st.read(|seed| of_location_all(&seed.custom_values, &location));
    reply(StatusCode::OK, json!({ "customValues": values }))
}

/// GET /businesses/?locationId= → `{ businesses }`.
pub(crate) async fn businesses(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "locationId")?;
    own_location(&p, location)?;
    let list = st.read(|seed| of_location_all(&seed.businesses, location));
    reply(StatusCode::OK, json!({ "businesses": list }))
}

/// GET /businesses/{businessId} → `{ business }`.
pub(crate) async fn business(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let found = st.read(|seed| get(&seed.businesses, &id, &p.grant.location_id, "Business"))?;
    reply(StatusCode::OK, json!({ "business": found }))
}

/// POST /conversations/messages (SendMessageBodyDto) → 200 `{ conversationId, messageId, msg }`.
/// `type` and `contactId` are needed (the document also marks `subType` and `status` required;
/// the sandbox does not insist — UNCONFIRMED); an email needs `html` or `message`, an SMS
/// `message`.
pub(crate) async fn send_message(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.required_string(&body, "type");
    c.required_string(&body, "contactId");
    for key in [
        "message",
        "html",
        "subject",
        "emailTo",
        "toNumber",
        "fromNumber",
        "emailFrom",
    ] {
        c.string(&body, key);
    }
    c.done()?;
    let kind = str_of(&body, "type").unwrap_or_default().to_owned();
    const TYPES: &[&str] = &[
        "SMS",
        "RCS",
        "Email",
        "WhatsApp",
        "IG",
        "FB",
        "Custom",
        "Live_Chat",
        "TIKTOK",
    ];
    if !TYPES.contains(&kind.as_str()) {
        return Err(GhlError::Unprocessable(vec![format!(
            "type must be one of the following values: {}",
            TYPES.join(", ")
        )]));
    }
    let text = str_of(&body, "message").or_else(|| str_of(&body, "html"));
    if text.is_none_or(str::is_empty) {
        return Err(GhlError::Unprocessable(vec![
            "message or html should not be empty".to_owned(),
        ]));
    }
    let contact_id = str_of(&body, "contactId").unwrap_or_default().to_owned();
    let scheduled = body.contains_key("scheduledTimestamp");
    let mut data = st.inner.data.lock();
    crate::contacts::contact_index(&data.seed, &p, &contact_id)?;
    let message = NewMessage {
        kind: &kind,
        text: text.unwrap_or_default(),
        direction: "outbound",
        status: if scheduled { "scheduled" } else { "sent" },
    };
    let (conversation, message_id) =
        record_message(&mut data.seed, &p.grant.location_id, &contact_id, &message);
    drop(data);
    let mut event = Map::new();
    event.insert("contactId".into(), json!(contact_id));
    event.insert("conversationId".into(), json!(conversation));
    event.insert("messageId".into(), json!(message_id));
    event.insert("messageType".into(), json!(kind));
    event.insert("direction".into(), json!("outbound"));
    event.insert("body".into(), json!(text.unwrap_or_default()));
    st.emit("OutboundMessage", &p.grant.location_id, event);
    reply(
        StatusCode::OK,
        json!({ "conversationId": conversation, "messageId": message_id, "msg": "Message queued successfully." }),
    )
}

/// GET /opportunities/search?location_id= → `{ opportunities, meta, aggregations }`, filtered
/// by `contact_id`, `status`, `pipeline_id`, `assigned_to`, `q` (name); `limit` (default 20)
/// from `page`.
pub(crate) async fn search_opportunities(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "location_id")?;
    own_location(&p, location)?;
    let limit = query_number(&q, "limit", 20).clamp(1, 100);
    let page = query_number(&q, "page", 1).max(1);
    let field = |key: &str| q.get(key).map(String::as_str);
    let data = st.inner.data.lock();
    let matching: Vec<&Value> = data
        .seed
        .opportunities
        .iter()
        .filter(|o| of_location(o, location))
        .filter(|o| {
            [
                ("contact_id", "contactId"),
                ("status", "status"),
                ("pipeline_id", "pipelineId"),
                ("assigned_to", "assignedTo"),
            ]
            .iter()
            .all(|(param, key)| {
                field(param)
                    .is_none_or(|v| v == "all" || o.get(*key).and_then(Value::as_str) == Some(v))
            })
        })
        .filter(|o| field("q").is_none_or(|text| holds_text(o, &["name"], &text.to_lowercase())))
        .collect();
    let total = matching.len();
    let items = page_of(matching.into_iter().cloned(), page, limit);
    let next = (page * limit < total).then_some(page + 1);
    reply(
        StatusCode::OK,
        json!({
            "opportunities": items,
            "meta": { "total": total, "currentPage": page, "nextPage": next, "prevPage": (page > 1).then_some(page - 1) },
            "aggregations": {}
        }),
    )
}

const OPPORTUNITY_FIELDS: &[&str] = &[
    "pipelineId",
    "locationId",
    "name",
    "pipelineStageId",
    "status",
    "contactId",
    "monetaryValue",
    "assignedTo",
    "customFields",
    "source",
    "followers",
];
const STATUSES: &[&str] = &["open", "won", "lost", "abandoned", "all"];

fn check_opportunity(body: &Map<String, Value>, create: bool) -> Result<(), GhlError> {
    let mut c = Check::default();
    c.only(body, OPPORTUNITY_FIELDS);
    for key in ["pipelineId", "locationId", "name", "status", "contactId"] {
        if create {
            c.required_string(body, key);
        } else {
            c.string(body, key);
        }
    }
    c.string(body, "pipelineStageId");
    c.string(body, "assignedTo");
    c.done()?;
    if let Some(status) = str_of(body, "status")
        && !STATUSES.contains(&status)
    {
        return Err(GhlError::Unprocessable(vec![format!(
            "status must be one of the following values: {}",
            STATUSES.join(", ")
        )]));
    }
    if body
        .get("monetaryValue")
        .is_some_and(|v| !v.is_number() && !v.is_null())
    {
        return Err(GhlError::Unprocessable(vec![
            "monetaryValue must be a number".to_owned(),
        ]));
    }
    Ok(())
}

fn opportunity_event(o: &Value) -> Map<String, Value> {
    o.as_object().cloned().unwrap_or_default()
}

/// POST /opportunities/ (CreateDto: pipelineId, locationId, name, status, contactId) → 201
/// `{ opportunity }`; emits OpportunityCreate.
pub(crate) async fn create_opportunity(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_opportunity(&body, true)?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let mut data = st.inner.data.lock();
    let contact = str_of(&body, "contactId").unwrap_or_default().to_owned();
    crate::contacts::contact_index(&data.seed, &p, &contact)?;
    // `locationId` is the body's, so the record's keys keep the body's order.
    let o = new_record(&body, &location);
    data.seed.opportunities.push(o.clone());
    drop(data);
    st.emit("OpportunityCreate", &location, opportunity_event(&o));
    reply(StatusCode::CREATED, json!({ "opportunity": o }))
}

/// PUT /opportunities/{id} (UpdateOpportunityDto, all optional) → `{ opportunity }`; emits
/// OpportunityUpdate (and OpportunityStatusUpdate / OpportunityStageUpdate when those change).
pub(crate) async fn update_opportunity(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_opportunity(&body, false)?;
    // `check_opportunity` refuses an `id`, so `merge` keeps all it would have written.
    let (before, o) = st.modify(|seed| {
        change(
            &mut seed.opportunities,
            &id,
            &p.grant.location_id,
            OPPORTUNITY,
            |o| {
                let before = o.clone();
                merge(o, &body);
                (before, o.clone())
            },
        )
    })?;
    let location = p.grant.location_id.clone();
    st.emit("OpportunityUpdate", &location, opportunity_event(&o));
    if before.get("status") != o.get("status") {
        st.emit("OpportunityStatusUpdate", &location, opportunity_event(&o));
    }
    if before.get("pipelineStageId") != o.get("pipelineStageId") {
        st.emit("OpportunityStageUpdate", &location, opportunity_event(&o));
    }
    reply(StatusCode::OK, json!({ "opportunity": o }))
}
