//! The Opportunities API (opportunities.json) past search, create and update in `apis`:
//! one opportunity, deleting it, its status, upsert, followers, the advanced search, the
//! location's pipelines and lost reasons. Every route checks the token's location.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::listing::{holds_text, page_of};
use crate::records::{
    change, get, merge, merge_into, new_record, of_location, of_location_all, query_location,
    remove,
};
use crate::seed::string_list;
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, str_of};

const STATUSES: &[&str] = &["open", "won", "lost", "abandoned"];

/// What the 404 calls an opportunity.
pub(crate) const OPPORTUNITY: &str = "Opportunity";

/// GET /opportunities/pipelines?locationId= → `{ pipelines }`.
pub(crate) async fn pipelines(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "locationId")?;
    own_location(&p, location)?;
    let list = st.read(|seed| of_location_all(&seed.pipelines, location));
    reply(StatusCode::OK, json!({ "pipelines": list }))
}

/// GET /opportunities/lost-reason?locationId= → `{ lostReasons, total }`.
pub(crate) async fn lost_reasons(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "locationId")?;
    own_location(&p, location)?;
    let list = st.read(|seed| of_location_all(&seed.lost_reasons, location));
    reply(
        StatusCode::OK,
        json!({ "total": list.len(), "lostReasons": list }),
    )
}

/// POST /opportunities/search (SearchBodyV2DTO: locationId, query, limit, page) →
/// `{ opportunities, total, aggregations }`; `query` is looked for in the name.
pub(crate) async fn search_advanced(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.required_string(&body, "locationId");
    c.string(&body, "query");
    c.done()?;
    let location = str_of(&body, "locationId").unwrap_or_default();
    own_location(&p, location)?;
    let number = |key: &str, default: u64| body.get(key).and_then(Value::as_u64).unwrap_or(default);
    let limit = number("limit", 20).clamp(1, 500) as usize;
    let page = number("page", 1).max(1) as usize;
    let text = str_of(&body, "query").unwrap_or_default().to_lowercase();
    let found: Vec<Value> = st.read(|seed| {
        seed.opportunities
            .iter()
            .filter(|o| of_location(o, location))
            .filter(|o| holds_text(o, &["name"], &text))
            .cloned()
            .collect()
    });
    let total = found.len();
    let items = page_of(found, page, limit);
    reply(
        StatusCode::OK,
        json!({ "opportunities": items, "total": total, "aggregations": {} }),
    )
}

/// GET /opportunities/{id} → `{ opportunity }`.
pub(crate) async fn get_opportunity(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let o = st.read(|seed| get(&seed.opportunities, &id, &p.grant.location_id, OPPORTUNITY))?;
    reply(StatusCode::OK, json!({ "opportunity": o }))
}

/// DELETE /opportunities/{id} → `{ succeded }`; emits OpportunityDelete.
pub(crate) async fn delete_opportunity(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let o = st.modify(|seed| {
        remove(
            &mut seed.opportunities,
            &id,
            &p.grant.location_id,
            OPPORTUNITY,
        )
    })?;
    st.emit(
        "OpportunityDelete",
        &p.grant.location_id,
        o.as_object().cloned().unwrap_or_default(),
    );
    reply(StatusCode::OK, json!({ "succeded": true }))
}

/// PUT /opportunities/{id}/status (UpdateStatusDto: status, lostReasonId) → `{ succeded }`;
/// emits OpportunityStatusUpdate.
pub(crate) async fn update_status(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, &["status", "lostReasonId"]);
    c.required_string(&body, "status");
    c.string(&body, "lostReasonId");
    c.done()?;
    let status = str_of(&body, "status").unwrap_or_default();
    if !STATUSES.contains(&status) {
        return Err(GhlError::invalid(format!(
            "status must be one of the following values: {}",
            STATUSES.join(", ")
        )));
    }
    let o = st.modify(|seed| {
        merge_into(
            &mut seed.opportunities,
            &id,
            &p.grant.location_id,
            OPPORTUNITY,
            &body,
        )
    })?;
    st.emit(
        "OpportunityStatusUpdate",
        &p.grant.location_id,
        o.as_object().cloned().unwrap_or_default(),
    );
    reply(StatusCode::OK, json!({ "succeded": true }))
}

/// POST /opportunities/upsert (UpsertOpportunityDto: pipelineId, locationId, contactId, …) →
/// `{ opportunity, new }`: the contact's opportunity in that pipeline is changed, else one is
/// made (named `name`, status `open` unless given).
pub(crate) async fn upsert(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    for key in ["pipelineId", "locationId", "contactId"] {
        c.required_string(&body, key);
    }
    for key in ["name", "status", "pipelineStageId", "assignedTo"] {
        c.string(&body, key);
    }
    c.done()?;
    let location = str_of(&body, "locationId").unwrap_or_default().to_owned();
    own_location(&p, &location)?;
    let (pipeline, contact) = (str_of(&body, "pipelineId"), str_of(&body, "contactId"));
    let (o, new) = st.modify(|seed| {
        crate::contacts::contact_index(seed, &p, contact.unwrap_or_default())?;
        let existing = seed.opportunities.iter().position(|o| {
            of_location(o, &location)
                && o.get("pipelineId").and_then(Value::as_str) == pipeline
                && o.get("contactId").and_then(Value::as_str) == contact
        });
        Ok::<_, GhlError>(match existing {
            Some(i) => {
                merge(&mut seed.opportunities[i], &body);
                (seed.opportunities[i].clone(), false)
            }
            None => {
                let mut o = new_record(&body, &location);
                if let Some(obj) = o.as_object_mut() {
                    obj.entry("status").or_insert_with(|| json!("open"));
                }
                seed.opportunities.push(o.clone());
                (o, true)
            }
        })
    })?;
    let event = if new {
        "OpportunityCreate"
    } else {
        "OpportunityUpdate"
    };
    st.emit(event, &location, o.as_object().cloned().unwrap_or_default());
    reply(StatusCode::OK, json!({ "opportunity": o, "new": new }))
}

/// The followers body (`{ followers: [ids] }`).
fn followers_of(body: &Map<String, Value>) -> Result<Vec<String>, GhlError> {
    let mut c = Check::default();
    c.string_array(body, "followers", true);
    c.done()?;
    Ok(string_list(body.get("followers")))
}

/// POST /opportunities/{id}/followers → 201 `{ followers, followersAdded }`.
pub(crate) async fn add_followers(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let wanted = followers_of(&json_object(&body)?)?;
    let (all, added) = change_followers(&st, &p, &id, |list| {
        let added: Vec<String> = wanted
            .iter()
            .filter(|f| !list.contains(f))
            .cloned()
            .collect();
        list.extend(added.iter().cloned());
        added
    })?;
    reply(
        StatusCode::CREATED,
        json!({ "followers": all, "followersAdded": added }),
    )
}

/// DELETE /opportunities/{id}/followers → `{ followers, followersRemoved }`.
pub(crate) async fn remove_followers(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let wanted = followers_of(&json_object(&body)?)?;
    let (all, removed) = change_followers(&st, &p, &id, |list| {
        let removed: Vec<String> = list
            .iter()
            .filter(|f| wanted.contains(f))
            .cloned()
            .collect();
        list.retain(|f| !wanted.contains(f));
        removed
    })?;
    reply(
        StatusCode::OK,
        json!({ "followers": all, "followersRemoved": removed }),
    )
}

/// Applies `apply` to the opportunity's followers: (all followers after, the changed ones).
fn change_followers(
    st: &SandboxState,
    p: &Principal,
    id: &str,
    apply: impl FnOnce(&mut Vec<String>) -> Vec<String>,
) -> Result<(Vec<String>, Vec<String>), GhlError> {
    st.modify(|seed| {
        change(
            &mut seed.opportunities,
            id,
            &p.grant.location_id,
            OPPORTUNITY,
            |o| {
                let mut list = string_list(o.get("followers"));
                let changed = apply(&mut list);
                if let Some(obj) = o.as_object_mut() {
                    obj.insert("followers".into(), json!(list));
                }
                (list, changed)
            },
        )
    })
}
