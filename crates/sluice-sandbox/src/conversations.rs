//! The Conversations API (conversations.json) past sending in `apis`: conversations (search,
//! read, start, change, delete), their messages, one message, recording inbound and outbound
//! messages, a message's status and cancelling a scheduled one. A contact's conversation is
//! started by the first message to or from it. Every route checks the token's location.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::contacts::contact_index;
use crate::errors::GhlError;
use crate::handler::{Reply, own_location, reply};
use crate::listing::{holds_text, query_number};
use crate::records::{
    change, check_strings, find, get, merge_into, of_location, query_location, remove,
};
use crate::seed::{Seed, iso};
use crate::state::SandboxState;
use crate::tokens::Principal;
use crate::util::{Check, json_object, new_id, str_of};

/// The message channels `type` takes, with GHL's `messageType` and its number (the numbers
/// are UNCONFIRMED: the document gives `type` as a number without its table).
pub(crate) const TYPES: &[(&str, &str, u32)] = &[
    ("SMS", "TYPE_SMS", 2),
    ("Email", "TYPE_EMAIL", 3),
    ("Call", "TYPE_CALL", 1),
    ("RCS", "TYPE_RCS", 35),
    ("WhatsApp", "TYPE_WHATSAPP", 19),
    ("IG", "TYPE_INSTAGRAM", 18),
    ("FB", "TYPE_FACEBOOK", 11),
    ("Custom", "TYPE_CUSTOM_SMS", 24),
    ("Live_Chat", "TYPE_LIVE_CHAT", 29),
    ("TIKTOK", "TYPE_TIKTOK", 40),
    ("GMB", "TYPE_GMB", 13),
];

/// What the 404 calls a conversation.
const CONVERSATION: &str = "Conversation";

/// A message to record: its channel, text, direction and status.
pub(crate) struct NewMessage<'a> {
    pub(crate) kind: &'a str,
    pub(crate) text: &'a str,
    pub(crate) direction: &'a str,
    pub(crate) status: &'a str,
}

/// The id of the contact's conversation, started (`cv_{contactId}`) when it has none.
pub(crate) fn conversation_of(seed: &mut Seed, location: &str, contact: &str) -> String {
    if let Some(c) = seed.conversations.iter().find(|c| {
        of_location(c, location) && c.get("contactId").and_then(Value::as_str) == Some(contact)
    }) {
        return c
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
    }
    let id = format!("cv_{contact}");
    seed.conversations
        .push(conversation(seed, &id, location, contact));
    id
}

/// A new conversation record, with the contact's name, email and phone.
fn conversation(seed: &Seed, id: &str, location: &str, contact: &str) -> Value {
    let c = seed.contacts.iter().find(|c| c.id == contact);
    let field = |k: &str| {
        c.and_then(|c| c.str_field(k))
            .unwrap_or_default()
            .to_owned()
    };
    let name = format!("{} {}", field("firstName"), field("lastName"));
    let now = iso(Utc::now());
    json!({
        "id": id, "contactId": contact, "locationId": location, "lastMessageBody": "",
        "lastMessageType": "", "type": "TYPE_PHONE", "unreadCount": 0, "fullName": name.trim(),
        "contactName": name.trim(), "email": field("email"), "phone": field("phone"),
        "deleted": false, "inbox": true, "starred": false, "dateAdded": now, "dateUpdated": now
    })
}

/// Records a message in the contact's conversation: (conversation id, message id).
pub(crate) fn record_message(
    seed: &mut Seed,
    location: &str,
    contact: &str,
    m: &NewMessage<'_>,
) -> (String, String) {
    let conversation = conversation_of(seed, location, contact);
    let (message_type, number) = TYPES
        .iter()
        .find(|(k, _, _)| *k == m.kind)
        .map_or(("TYPE_CUSTOM_SMS", 24), |(_, t, n)| (*t, *n));
    let id = new_id();
    let now = iso(Utc::now());
    seed.messages.push(json!({
        "id": id, "type": number, "messageType": message_type, "locationId": location,
        "contactId": contact, "conversationId": conversation, "dateAdded": now,
        "body": m.text, "direction": m.direction, "status": m.status,
        "contentType": "text/plain", "source": "api"
    }));
    if let Some(c) = seed
        .conversations
        .iter_mut()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(conversation.as_str()))
        && let Some(obj) = c.as_object_mut()
    {
        obj.insert("lastMessageBody".into(), json!(m.text));
        obj.insert("lastMessageType".into(), json!(message_type));
        obj.insert("dateUpdated".into(), json!(now));
    }
    (conversation, id)
}

/// GET /conversations/search?locationId=&contactId=&query=&limit= → `{ conversations, total }`.
pub(crate) async fn search(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let location = query_location(&q, "locationId")?;
    own_location(&p, location)?;
    let limit = query_number(&q, "limit", 20).clamp(1, 100);
    let text = q.get("query").map(|t| t.to_lowercase());
    let found: Vec<Value> = st.read(|seed| {
        seed.conversations
            .iter()
            .filter(|c| of_location(c, location))
            .filter(|c| {
                q.get("contactId")
                    .is_none_or(|id| c.get("contactId").and_then(Value::as_str) == Some(id))
            })
            .filter(|c| {
                text.as_ref().is_none_or(|t| {
                    holds_text(c, &["fullName", "email", "phone", "lastMessageBody"], t)
                })
            })
            .cloned()
            .collect()
    });
    let total = found.len();
    let list: Vec<Value> = found.into_iter().take(limit).collect();
    reply(
        StatusCode::OK,
        json!({ "conversations": list, "total": total }),
    )
}

/// GET /conversations/{conversationId} → the conversation.
pub(crate) async fn get_conversation(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let c = st.read(|seed| get(&seed.conversations, &id, &p.grant.location_id, CONVERSATION))?;
    reply(StatusCode::OK, c)
}

/// POST /conversations/ (CreateConversationDto: locationId, contactId) → 201
/// `{ success, conversation }`; a contact has one conversation (a second is 400).
pub(crate) async fn create_conversation(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_strings(&body, &["locationId", "contactId"], &[])?;
    let location = str_of(&body, "locationId").unwrap_or_default();
    let contact = str_of(&body, "contactId").unwrap_or_default();
    own_location(&p, location)?;
    let c = st.modify(|seed| {
        contact_index(seed, &p, contact)?;
        let exists = seed.conversations.iter().any(|c| {
            of_location(c, location) && c.get("contactId").and_then(Value::as_str) == Some(contact)
        });
        if exists {
            return Err(GhlError::BadRequest(
                "Conversation already exists".to_owned(),
            ));
        }
        let c = conversation(seed, &new_id(), location, contact);
        seed.conversations.push(c.clone());
        Ok(c)
    })?;
    reply(
        StatusCode::CREATED,
        json!({ "success": true, "conversation": c }),
    )
}

/// PUT /conversations/{conversationId} (UpdateConversationDto: locationId, unreadCount,
/// starred, feedback) → `{ success, conversation }`.
pub(crate) async fn update_conversation(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    let mut c = Check::default();
    c.only(&body, &["locationId", "unreadCount", "starred", "feedback"]);
    c.required_string(&body, "locationId");
    c.boolean(&body, "starred", false);
    c.object(&body, "feedback");
    c.done()?;
    own_location(&p, str_of(&body, "locationId").unwrap_or_default())?;
    let conv = st.modify(|seed| {
        merge_into(
            &mut seed.conversations,
            &id,
            &p.grant.location_id,
            CONVERSATION,
            &body,
        )
    })?;
    reply(
        StatusCode::OK,
        json!({ "success": true, "conversation": conv }),
    )
}

/// DELETE /conversations/{conversationId} → `{ success }` (its messages go with it).
pub(crate) async fn delete_conversation(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    st.modify(|seed| {
        remove(
            &mut seed.conversations,
            &id,
            &p.grant.location_id,
            CONVERSATION,
        )?;
        seed.messages
            .retain(|m| m.get("conversationId").and_then(Value::as_str) != Some(id.as_str()));
        Ok::<_, GhlError>(())
    })?;
    reply(StatusCode::OK, json!({ "success": true }))
}

/// GET /conversations/{conversationId}/messages?limit= → `{ lastMessageId, nextPage, messages }`,
/// newest first.
pub(crate) async fn messages(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let limit = query_number(&q, "limit", 20).clamp(1, 100);
    let list: Vec<Value> = st.read(|seed| {
        find(&seed.conversations, &id, &p.grant.location_id, CONVERSATION).map(|_| {
            seed.messages
                .iter()
                .rev()
                .filter(|m| m.get("conversationId").and_then(Value::as_str) == Some(id.as_str()))
                .cloned()
                .collect()
        })
    })?;
    let next = list.len() > limit;
    let page: Vec<Value> = list.into_iter().take(limit).collect();
    let last = page.last().and_then(|m| m.get("id")).cloned();
    reply(
        StatusCode::OK,
        json!({ "lastMessageId": last, "nextPage": next, "messages": page }),
    )
}

/// What the 404 calls a message.
const MESSAGE: &str = "Message";

/// GET /conversations/messages/{id} → the message.
pub(crate) async fn get_message(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    let m = st.read(|seed| get(&seed.messages, &id, &p.grant.location_id, MESSAGE))?;
    reply(StatusCode::OK, m)
}

/// POST /conversations/messages/{inbound|outbound} (ProcessMessageBodyDto: type,
/// conversationId, contactId for inbound, conversationProviderId, message) →
/// `{ success, conversationId, messageId, message, contactId, dateAdded }`; an inbound one emits
/// InboundMessage.
async fn add_message(st: SandboxState, p: Principal, body: Bytes, inbound: bool) -> Reply {
    let body = json_object(&body)?;
    let mut required = vec!["type", "conversationId", "conversationProviderId"];
    if inbound {
        required.push("contactId");
    }
    check_strings(&body, &required, &["message", "html", "subject", "altId"])?;
    let kind = str_of(&body, "type").unwrap_or_default();
    if !TYPES.iter().any(|(k, _, _)| *k == kind) {
        return Err(GhlError::invalid(format!("type {kind} is not supported")));
    }
    let conversation = str_of(&body, "conversationId").unwrap_or_default();
    let text = str_of(&body, "message")
        .or_else(|| str_of(&body, "html"))
        .unwrap_or_default();
    let location = p.grant.location_id.clone();
    let direction = if inbound { "inbound" } else { "outbound" };
    let (contact, message_id, added) = st.modify(|seed| {
        let i = find(&seed.conversations, conversation, &location, CONVERSATION)?;
        let contact = seed.conversations[i]
            .get("contactId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if inbound && str_of(&body, "contactId") != Some(contact.as_str()) {
            return Err(GhlError::invalid(
                "contactId is not the conversation's contact",
            ));
        }
        let m = NewMessage {
            kind,
            text,
            direction,
            status: "delivered",
        };
        let (_, id) = record_message(seed, &location, &contact, &m);
        let added = seed
            .messages
            .last()
            .and_then(|m| m.get("dateAdded"))
            .cloned()
            .unwrap_or(Value::Null);
        Ok((contact, id, added))
    })?;
    if inbound {
        let mut event = Map::new();
        event.insert("contactId".into(), json!(contact));
        event.insert("conversationId".into(), json!(conversation));
        event.insert("messageId".into(), json!(message_id));
        event.insert("messageType".into(), json!(kind));
        event.insert("direction".into(), json!("inbound"));
        event.insert("body".into(), json!(text));
        st.emit("InboundMessage", &location, event);
    }
    reply(
        StatusCode::OK,
        json!({
            "success": true, "conversationId": conversation, "messageId": message_id,
            "message": "Message added", "contactId": contact, "dateAdded": added
        }),
    )
}

/// POST /conversations/messages/inbound.
pub(crate) async fn add_inbound(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    add_message(st, p, body, true).await
}

/// POST /conversations/messages/outbound.
pub(crate) async fn add_outbound(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> Reply {
    add_message(st, p, body, false).await
}

const MESSAGE_STATUSES: &[&str] = &["delivered", "failed", "pending", "read", "sent"];

/// PUT /conversations/messages/{messageId}/status (UpdateMessageStatusDto: status, error) →
/// `{ conversationId, messageId, msg, status }`.
pub(crate) async fn update_message_status(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let body = json_object(&body)?;
    check_strings(&body, &["status"], &["emailMessageId"])?;
    let status = str_of(&body, "status").unwrap_or_default();
    if !MESSAGE_STATUSES.contains(&status) {
        return Err(GhlError::invalid(format!(
            "status must be one of the following values: {}",
            MESSAGE_STATUSES.join(", ")
        )));
    }
    let m = st.modify(|seed| {
        change(
            &mut seed.messages,
            &id,
            &p.grant.location_id,
            MESSAGE,
            |m| {
                if let Some(obj) = m.as_object_mut() {
                    obj.insert("status".into(), json!(status));
                }
                m.clone()
            },
        )
    })?;
    reply(
        StatusCode::OK,
        json!({
            "conversationId": m.get("conversationId"), "messageId": id,
            "msg": "Message status updated", "status": status
        }),
    )
}

/// DELETE /conversations/messages/{messageId}/schedule → `{ status, message }`: a message sent
/// with `scheduledTimestamp` is cancelled; any other is 400.
pub(crate) async fn cancel_scheduled(
    State(st): State<SandboxState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Reply {
    st.modify(|seed| {
        change(
            &mut seed.messages,
            &id,
            &p.grant.location_id,
            MESSAGE,
            cancel,
        )
    })??;
    reply(
        StatusCode::OK,
        json!({ "status": 200, "message": "Scheduled message cancelled" }),
    )
}

/// Cancels a scheduled message; any other is 400.
fn cancel(m: &mut Value) -> Result<(), GhlError> {
    if m.get("status").and_then(Value::as_str) != Some("scheduled") {
        return Err(GhlError::BadRequest(
            "The message is not scheduled".to_owned(),
        ));
    }
    if let Some(obj) = m.as_object_mut() {
        obj.insert("status".into(), json!("cancelled"));
    }
    Ok(())
}
