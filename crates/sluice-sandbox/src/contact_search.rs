//! Finding contacts (FACTS §3–§5): the list (cursor paging with `meta`), the search (its
//! body's filters, groups and sort), the duplicate check and a business's contacts.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::contacts::{contact_json, find_duplicate};
use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::seed::{Contact, parse_iso};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, phone_digits, str_of};

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
