//! The sandbox's data: locations, contacts, tasks, notes and appointments; the JSON seed
//! file format that fills them (documented on [`seed_from_json`]) and the demo data
//! (`Seed::demo`).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The location of the demo seed and of the default tokens.
pub const DEMO_LOCATION: &str = "loc_sandbox";

/// All the data of a sandbox: what `sluice sandbox --seed FILE` and a test case's `seed:` read
/// (schemas/seed.schema.json; docs/testing.md has an example). Every list may be left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "Sluice sandbox seed")]
pub struct Seed {
    /// The JSON Schema of this file, for editors (`../schemas/seed.schema.json`); not read.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Locations (sub-accounts).
    #[serde(default)]
    pub locations: Vec<Location>,
    /// Contacts, in creation order.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// Tasks of contacts.
    #[serde(default)]
    pub tasks: Vec<Task>,
    /// Notes of contacts.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Appointments (calendar events) of contacts.
    #[serde(default)]
    pub appointments: Vec<Appointment>,
    /// Users (staff) as GHL's Users API answers them: `id`, `name`, `firstName`, `lastName`,
    /// `email`, `phone`, `roles: { locationIds }`, ….
    #[serde(default)]
    pub users: Vec<Value>,
    /// Businesses: `id`, `name`, `locationId`, ….
    #[serde(default)]
    pub businesses: Vec<Value>,
    /// Custom fields of locations: `id`, `name`, `fieldKey`, `dataType`, `locationId`.
    #[serde(default)]
    pub custom_fields: Vec<Value>,
    /// Custom values of locations: `id`, `name`, `fieldKey`, `value`, `locationId`.
    #[serde(default)]
    pub custom_values: Vec<Value>,
    /// Opportunities: `id`, `name`, `pipelineId`, `status`, `contactId`, `locationId`, ….
    #[serde(default)]
    pub opportunities: Vec<Value>,
    /// Messages: `id`, `conversationId`, `contactId`, `locationId`, `messageType`, `body`,
    /// `direction`, `status`, ….
    #[serde(default)]
    pub messages: Vec<Value>,
    /// Conversations: `id`, `contactId`, `locationId`, `unreadCount`, …; sending a message to
    /// a contact without one starts one.
    #[serde(default)]
    pub conversations: Vec<Value>,
    /// Tags of locations: `id`, `name`, `locationId`.
    #[serde(default)]
    pub tags: Vec<Value>,
    /// Opportunity pipelines: `id`, `name`, `stages: [{ id, name }]`, `locationId`.
    #[serde(default)]
    pub pipelines: Vec<Value>,
    /// Reasons an opportunity was lost: `id`, `name`, `locationId`.
    #[serde(default)]
    pub lost_reasons: Vec<Value>,
}

/// A location (sub-account).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Location {
    /// Its id, e.g. `loc_sandbox`.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// GHL's "Allow Duplicate Contact" setting: when false, creating a contact whose email or
    /// phone is taken fails, and upsert updates the existing contact.
    #[serde(default)]
    pub allow_duplicate_contact: bool,
}

/// A contact: `id`, `locationId` and any other GHL contact field as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = contact_fields)]
pub struct Contact {
    /// Its id.
    pub id: String,
    /// Its location.
    pub location_id: String,
    /// Every other GHL contact field: `firstName`, `lastName`, `email`, `phone`, `tags` (a
    /// list of text), `customFields` (a list of `{id, value}`), `businessId`, `dnd`, `source`,
    /// `attributionSource`, `dateAdded` (ISO 8601 or `@now-30d`), ….
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Contact {
    /// A field as text, if it is a string.
    #[must_use]
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The contact's tags.
    #[must_use]
    pub fn tags(&self) -> Vec<String> {
        string_list(self.fields.get("tags"))
    }
}

/// The schema of a contact names the GHL fields people seed most (for completion and their
/// types); any other field is allowed too.
fn contact_fields(schema: &mut schemars::Schema) {
    let text = |d: &str| json!({ "type": ["string", "null"], "description": d });
    let date = "ISO 8601, or relative to when the seed is read: `@now`, `@now-30d`";
    let fields = [
        ("firstName", text("First name.")),
        ("lastName", text("Last name.")),
        ("name", text("Full name.")),
        (
            "email",
            text("Email address (unique in a location that does not allow duplicates)."),
        ),
        ("phone", text("Phone number, e.g. `+4930123456`.")),
        ("companyName", text("Company.")),
        ("businessId", text("The business it belongs to.")),
        ("source", text("Where it came from.")),
        ("timezone", text("IANA time zone, e.g. `Europe/Berlin`.")),
        ("country", text("Country code, e.g. `DE`.")),
        ("city", text("City.")),
        (
            "dateAdded",
            text(&format!(
                "When it was created: {date}; default: when the seed is read."
            )),
        ),
        (
            "dateUpdated",
            text(&format!("When it last changed: {date}.")),
        ),
        ("dateOfBirth", text(&format!("Birthday: {date}."))),
        (
            "dnd",
            json!({ "type": "boolean", "description": "Do not disturb." }),
        ),
        (
            "tags",
            json!({ "type": "array", "items": { "type": "string" }, "description": "Tags." }),
        ),
        (
            "customFields",
            json!({
                "type": "array",
                "description": "Custom field values.",
                "items": {
                    "type": "object",
                    "properties": { "id": { "type": "string" }, "value": {} },
                    "required": ["id"]
                }
            }),
        ),
    ];
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        for (name, field) in fields {
            props.insert(name.to_owned(), field);
        }
    }
}

/// A task of a contact (GHL TaskSchema, FACTS §4, plus `dateAdded` as in webhook payloads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Task {
    /// Its id.
    pub id: String,
    /// What to do.
    pub title: String,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The user it is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    /// When it is due (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`).
    pub due_date: String,
    /// Whether it is done.
    #[serde(default)]
    pub completed: bool,
    /// The contact it belongs to.
    pub contact_id: String,
    /// When it was created (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`); default: when the seed is read.
    #[serde(default)]
    pub date_added: String,
}

/// A note of a contact (GHL GetNoteSchema, FACTS §4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Note {
    /// Its id.
    pub id: String,
    /// The text.
    pub body: String,
    /// The user who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// When it was written (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`); default: when the seed is read.
    #[serde(default)]
    pub date_added: String,
    /// The contact it belongs to.
    pub contact_id: String,
    /// A title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A colour such as `#FFAA00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Whether it is pinned.
    #[serde(default)]
    pub pinned: bool,
}

/// An appointment of a contact (GHL GetEventSchema, FACTS §4).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Appointment {
    /// Its id.
    pub id: String,
    /// The calendar.
    #[serde(default)]
    pub calendar_id: String,
    /// Event status, e.g. `booked`.
    #[serde(default)]
    pub status: String,
    /// A title.
    #[serde(default)]
    pub title: String,
    /// The user it is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_user_id: Option<String>,
    /// Notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Start (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`).
    pub start_time: String,
    /// End (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`).
    pub end_time: String,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The location; filled from the contact when left out.
    #[serde(default)]
    pub location_id: String,
    /// The contact.
    pub contact_id: String,
    /// Calendar group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `confirmed`, `cancelled`, `showed`, `noshow`, `invalid`, ….
    #[serde(default)]
    pub appointment_status: String,
    /// Users taking part.
    #[serde(default)]
    pub users: Vec<String>,
    /// When it was created (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`); default: when the seed is read.
    #[serde(default)]
    pub date_added: String,
    /// When it last changed (ISO 8601, or relative to when the seed is read: `@now`, `@now+2h`, `@now-1d12h`); default: when the seed is read.
    #[serde(default)]
    pub date_updated: String,
    /// Rooms and equipment.
    #[serde(default)]
    pub assigned_resources: Vec<String>,
}

/// Reads a seed file, resolving `@now…` dates.
///
/// # Seed file format
/// ```json
/// {
///   "locations":    [{ "id": "loc_1", "name": "Shop", "allowDuplicateContact": false }],
///   "contacts":     [{ "id": "c1", "locationId": "loc_1", "firstName": "Ada", "email": "ada@example.com",
///                      "tags": ["vip"], "customFields": [{ "id": "ip", "value": "81.2.69.142" }] }],
///   "tasks":        [{ "id": "t1", "contactId": "c1", "title": "Call", "dueDate": "@now+2h",
///                      "completed": false, "body": "…", "assignedTo": "usr_1" }],
///   "notes":        [{ "id": "n1", "contactId": "c1", "body": "Met at the fair", "pinned": true }],
///   "appointments": [{ "id": "a1", "contactId": "c1", "title": "Demo", "startTime": "@now+1d",
///                      "endTime": "@now+1d1h", "calendarId": "cal_1", "appointmentStatus": "confirmed" }]
/// }
/// ```
/// Every list may be left out. A contact needs `id` and `locationId` (a location of the file)
/// and may carry any other GHL contact field (`firstName`, `email`, `phone`, `tags`,
/// `customFields` as `{id, value}`, `businessId`, `dnd`, `source`, `attributionSource`, …).
/// Tasks need `id`, `contactId`, `title`, `dueDate` (`completed` defaults to false); notes
/// `id`, `contactId`, `body`; appointments `id`, `contactId`, `startTime`, `endTime`. Other
/// fields are those of [`Task`], [`Note`] and [`Appointment`] in camelCase; unknown ones are
/// errors. Ids must be unique per kind and `contactId` must name a contact of the file.
/// A date may be ISO 8601 or relative to the moment the seed is read: `@now`, `@now+2h`,
/// `@now-1d`, `@now+1d2h30m` (units `d`, `h`, `m`, `s`); it is stored as
/// `2021-07-08T02:30:00.000Z` like GHL's. A missing `dateAdded` is the load time.
///
/// # Errors
/// A [`SeedError`] naming what is wrong and where: JSON syntax (line and column), an unknown
/// or missing field, a duplicate id, a `contactId` or `locationId` that names nothing, a bad
/// date.
pub fn seed_from_json(text: &str) -> Result<Seed, SeedError> {
    let mut seed: Seed = serde_json::from_str(text).map_err(SeedError::Json)?;
    seed.resolve(Utc::now())?;
    Ok(seed)
}

/// What is wrong with a seed; `at` names the item, e.g. ``contacts[0] (id `c1`)``.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The file is not JSON, or not of the seed's shape.
    #[error("seed file: {0}")]
    Json(#[source] serde_json::Error),
    /// Two items of one list have the same id.
    #[error("{list}: the id `{id}` is used twice")]
    DuplicateId {
        /// The list, e.g. `contacts`.
        list: &'static str,
        /// The id.
        id: String,
    },
    /// A contact's id is empty.
    #[error("{at}: `id` is empty")]
    EmptyId {
        /// The contact.
        at: String,
    },
    /// A contact's location is not one of the seed's.
    #[error("{at}: locationId `{location_id}` is not one of the seed's locations ({locations})")]
    UnknownLocation {
        /// The contact.
        at: String,
        /// The location it names.
        location_id: String,
        /// The seed's locations, listed.
        locations: String,
    },
    /// An item's `contactId` names no contact of the seed.
    #[error("{at}: contactId `{contact_id}` is not a contact of the seed")]
    UnknownContact {
        /// The item.
        at: String,
        /// The contact it names.
        contact_id: String,
    },
    /// A contact's `tags` is not a list of strings.
    #[error("{at}: `tags` must be a list of strings")]
    Tags {
        /// The contact.
        at: String,
    },
    /// A contact's `customFields` is not a list.
    #[error("{at}: `customFields` must be a list of {{id, value}}")]
    CustomFields {
        /// The contact.
        at: String,
    },
    /// A date field is neither ISO 8601 nor relative to now.
    #[error("{at}: `{field}`: {error}")]
    Date {
        /// The item.
        at: String,
        /// The field, e.g. `dueDate`.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        error: DateError,
    },
}

/// A date that is neither ISO 8601 nor `@now±N(d|h|m|s)…`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Starts with `@now`, but what follows is not an offset.
    #[error("`{0}` is not a relative date; write e.g. `@now`, `@now+2h`, `@now-1d12h`")]
    Relative(String),
    /// A relative date past the first or last date that can be written.
    #[error("`{0}` is further from now than any date Sluice can represent")]
    OutOfRange(String),
    /// Not an ISO 8601 date.
    #[error("`{0}` is not an ISO 8601 date such as `2026-01-02T10:00:00Z` or `@now+1d`")]
    Iso(String),
}

impl Seed {
    /// Checks references and ids, fills defaults and resolves dates against `now`.
    ///
    /// # Errors
    /// As [`seed_from_json`].
    pub fn resolve(&mut self, now: DateTime<Utc>) -> Result<(), SeedError> {
        unique(self.locations.iter().map(|l| l.id.as_str()), "locations")?;
        unique(self.contacts.iter().map(|c| c.id.as_str()), "contacts")?;
        unique(self.tasks.iter().map(|t| t.id.as_str()), "tasks")?;
        unique(self.notes.iter().map(|n| n.id.as_str()), "notes")?;
        unique(
            self.appointments.iter().map(|a| a.id.as_str()),
            "appointments",
        )?;
        self.resolve_contacts(now)?;
        self.resolve_contact_items(now)
    }

    /// Contacts: an id, a location of the seed, dates, defaults and the shape of list fields.
    fn resolve_contacts(&mut self, now: DateTime<Utc>) -> Result<(), SeedError> {
        let nowiso = iso(now);
        for (i, c) in self.contacts.iter_mut().enumerate() {
            let at = format!("contacts[{i}] (id `{}`)", c.id);
            if c.id.is_empty() {
                return Err(SeedError::EmptyId { at });
            }
            if !self.locations.iter().any(|l| l.id == c.location_id) {
                return Err(SeedError::UnknownLocation {
                    at,
                    location_id: c.location_id.clone(),
                    locations: names(self.locations.iter().map(|l| l.id.as_str())),
                });
            }
            for key in ["dateAdded", "dateUpdated", "dateOfBirth"] {
                if let Some(Value::String(s)) = c.fields.get(key) {
                    let v = resolve_date(s, now).map_err(|error| SeedError::Date {
                        at: at.clone(),
                        field: key,
                        error,
                    })?;
                    c.fields.insert(key.to_owned(), Value::String(v));
                }
            }
            if !c.fields.contains_key("dateAdded") {
                c.fields
                    .insert("dateAdded".into(), Value::String(nowiso.clone()));
            }
            if let Some(tags) = c.fields.get("tags")
                && !tags
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string))
            {
                return Err(SeedError::Tags { at });
            }
            if let Some(cf) = c.fields.get("customFields")
                && !cf.is_array()
            {
                return Err(SeedError::CustomFields { at });
            }
        }
        Ok(())
    }

    /// Tasks, notes and appointments: a contact of the seed, and their dates.
    fn resolve_contact_items(&mut self, now: DateTime<Utc>) -> Result<(), SeedError> {
        let contact_ids: Vec<String> = self.contacts.iter().map(|c| c.id.clone()).collect();
        let known = |at: &str, contact: &str| -> Result<(), SeedError> {
            if contact_ids.iter().any(|c| c == contact) {
                Ok(())
            } else {
                Err(SeedError::UnknownContact {
                    at: at.to_owned(),
                    contact_id: contact.to_owned(),
                })
            }
        };
        let date = |at: &str, field: &'static str| {
            let at = at.to_owned();
            move |error| SeedError::Date { at, field, error }
        };
        for (i, t) in self.tasks.iter_mut().enumerate() {
            let at = format!("tasks[{i}] (id `{}`)", t.id);
            known(&at, &t.contact_id)?;
            t.due_date = resolve_date(&t.due_date, now).map_err(date(&at, "dueDate"))?;
            t.date_added = resolve_or_now(&t.date_added, now).map_err(date(&at, "dateAdded"))?;
        }
        for (i, n) in self.notes.iter_mut().enumerate() {
            let at = format!("notes[{i}] (id `{}`)", n.id);
            known(&at, &n.contact_id)?;
            n.date_added = resolve_or_now(&n.date_added, now).map_err(date(&at, "dateAdded"))?;
        }
        for (i, a) in self.appointments.iter_mut().enumerate() {
            let at = format!("appointments[{i}] (id `{}`)", a.id);
            known(&at, &a.contact_id)?;
            a.start_time = resolve_date(&a.start_time, now).map_err(date(&at, "startTime"))?;
            a.end_time = resolve_date(&a.end_time, now).map_err(date(&at, "endTime"))?;
            a.date_added = resolve_or_now(&a.date_added, now).map_err(date(&at, "dateAdded"))?;
            a.date_updated =
                resolve_or_now(&a.date_updated, now).map_err(date(&at, "dateUpdated"))?;
            if a.location_id.is_empty()
                && let Some(c) = self.contacts.iter().find(|c| c.id == a.contact_id)
            {
                a.location_id = c.location_id.clone();
            }
        }
        Ok(())
    }

    /// The demo data: location `loc_sandbox` with five contacts (`ct_ada`, `ct_grace`,
    /// `ct_alan`, `ct_katherine`, `ct_linus`), their notes, tasks (overdue, due within hours,
    /// due in days, completed; dates relative to now), appointments and tags. `ct_ada` has the
    /// IP `81.2.69.142` in custom field `ip_address` and `attributionSource.ip`; `ct_ada` and
    /// `ct_grace` belong to business `biz_engines`. `ct_alan`'s note asks for a follow-up
    /// ("Follow up in 3 days.", for `workflows/notes-followups.yaml`).
    #[must_use]
    pub fn demo() -> Seed {
        // Over 80 lines: the demo data, written out as one literal.
        let contact = |id: &str, fields: Value| Contact {
            id: id.to_owned(),
            location_id: DEMO_LOCATION.to_owned(),
            fields: match fields {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        };
        let task = |id: &str, contact: &str, title: &str, due: &str, completed: bool| Task {
            id: id.to_owned(),
            title: title.to_owned(),
            body: Some(format!("{title} (demo task)")),
            assigned_to: Some("usr_owner".to_owned()),
            due_date: due.to_owned(),
            completed,
            contact_id: contact.to_owned(),
            date_added: "@now-7d".to_owned(),
        };
        let note = |id: &str, contact: &str, body: &str, pinned: bool| Note {
            id: id.to_owned(),
            body: body.to_owned(),
            user_id: Some("usr_owner".to_owned()),
            date_added: "@now-2d".to_owned(),
            contact_id: contact.to_owned(),
            title: None,
            color: None,
            pinned,
        };
        let appointment =
            |id: &str, contact: &str, title: &str, start: &str, end: &str| Appointment {
                id: id.to_owned(),
                calendar_id: "cal_sales".to_owned(),
                status: "booked".to_owned(),
                title: title.to_owned(),
                assigned_user_id: Some("usr_owner".to_owned()),
                notes: None,
                start_time: start.to_owned(),
                end_time: end.to_owned(),
                address: Some("https://meet.example.com/sandbox".to_owned()),
                location_id: String::new(),
                contact_id: contact.to_owned(),
                group_id: None,
                appointment_status: "confirmed".to_owned(),
                users: vec!["usr_owner".to_owned()],
                date_added: "@now-7d".to_owned(),
                date_updated: "@now-7d".to_owned(),
                assigned_resources: Vec::new(),
            };
        let mut seed = Seed {
            schema: None,
            locations: vec![Location {
                id: DEMO_LOCATION.to_owned(),
                name: "Sluice Sandbox".to_owned(),
                allow_duplicate_contact: false,
            }],
            contacts: vec![
                contact(
                    "ct_ada",
                    json!({
                        "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
                        "phone": "+14155550101", "companyName": "Analytical Engines Ltd",
                        "city": "London", "country": "GB", "timezone": "Europe/London",
                        "source": "website form", "type": "customer", "tags": ["vip", "newsletter"],
                        "customFields": [{ "id": "ip_address", "value": "81.2.69.142" }],
                        "attributionSource": { "url": "https://example.com/signup", "ip": "81.2.69.142" },
                        "businessId": "biz_engines", "dnd": false, "dateAdded": "@now-30d"
                    }),
                ),
                contact(
                    "ct_grace",
                    json!({
                        "firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com",
                        "phone": "+14155550102", "companyName": "Analytical Engines Ltd",
                        "city": "Arlington", "state": "VA", "country": "US",
                        "timezone": "America/New_York", "source": "referral", "type": "customer",
                        "tags": ["customer"], "businessId": "biz_engines", "dnd": false,
                        "dateAdded": "@now-20d"
                    }),
                ),
                contact(
                    "ct_alan",
                    json!({
                        "firstName": "Alan", "lastName": "Turing", "email": "alan@example.com",
                        "phone": "+14155550103", "city": "Manchester", "country": "GB",
                        "timezone": "Europe/London", "source": "api", "type": "lead",
                        "tags": ["lead"], "dnd": true, "dateAdded": "@now-10d"
                    }),
                ),
                contact(
                    "ct_katherine",
                    json!({
                        "firstName": "Katherine", "lastName": "Johnson",
                        "email": "katherine@example.com", "phone": "+14155550104",
                        "city": "Hampton", "state": "VA", "country": "US",
                        "timezone": "America/New_York", "source": "website form",
                        "type": "customer", "tags": ["customer", "vip"], "dnd": false,
                        "dateAdded": "@now-5d"
                    }),
                ),
                contact(
                    "ct_linus",
                    json!({
                        "firstName": "Linus", "lastName": "Torvalds", "phone": "+14155550105",
                        "city": "Portland", "state": "OR", "country": "US",
                        "timezone": "America/Los_Angeles", "source": "manual", "type": "lead",
                        "tags": [], "dnd": false, "dateAdded": "@now-1d"
                    }),
                ),
            ],
            tasks: vec![
                task(
                    "tk_ada_call",
                    "ct_ada",
                    "Call Ada about the renewal",
                    "@now-1d",
                    false,
                ),
                task(
                    "tk_ada_contract",
                    "ct_ada",
                    "Send the contract",
                    "@now+2h",
                    false,
                ),
                task("tk_grace_demo", "ct_grace", "Product demo", "@now-3d", true),
                task(
                    "tk_grace_invoice",
                    "ct_grace",
                    "Check the invoice",
                    "@now+30m",
                    false,
                ),
                task(
                    "tk_alan_followup",
                    "ct_alan",
                    "Follow up on the trial",
                    "@now+3d",
                    false,
                ),
                task(
                    "tk_katherine_kickoff",
                    "ct_katherine",
                    "Kick-off call",
                    "@now-2d",
                    true,
                ),
                task(
                    "tk_katherine_review",
                    "ct_katherine",
                    "Quarterly review",
                    "@now+7d",
                    false,
                ),
            ],
            notes: vec![
                note(
                    "nt_ada_fair",
                    "ct_ada",
                    "Met at the analytics fair; wants a demo.",
                    true,
                ),
                note(
                    "nt_ada_budget",
                    "ct_ada",
                    "Budget approved for next quarter.",
                    false,
                ),
                note("nt_grace_ref", "ct_grace", "Referred by Ada.", false),
                note(
                    "nt_alan_trial",
                    "ct_alan",
                    "Trial started; asked about the API. Follow up in 3 days.",
                    false,
                ),
                note(
                    "nt_katherine_call",
                    "ct_katherine",
                    "Prefers calls in the morning.",
                    false,
                ),
            ],
            appointments: vec![
                appointment(
                    "ap_ada_demo",
                    "ct_ada",
                    "Demo with Ada",
                    "@now+1d",
                    "@now+1d1h",
                ),
                appointment(
                    "ap_grace_demo",
                    "ct_grace",
                    "Demo with Grace",
                    "@now-3d",
                    "@now-3d1h",
                ),
                appointment(
                    "ap_katherine_review",
                    "ct_katherine",
                    "Quarterly review",
                    "@now+7d",
                    "@now+7d1h",
                ),
            ],
            ..Seed::default()
        };
        seed.users = vec![
            json!({
                "id": "usr_owner", "name": "Olivia Owner", "firstName": "Olivia", "lastName": "Owner",
                "email": "olivia@example.com", "phone": "+14155550199",
                "roles": { "type": "account", "role": "admin", "locationIds": [DEMO_LOCATION] }
            }),
            json!({
                "id": "usr_sandbox", "name": "Sandy Box", "firstName": "Sandy", "lastName": "Box",
                "email": "sandy@example.com", "phone": "+14155550198",
                "roles": { "type": "account", "role": "user", "locationIds": [DEMO_LOCATION] }
            }),
        ];
        seed.businesses = vec![json!({
            "id": "biz_engines", "name": "Analytical Engines Ltd", "locationId": DEMO_LOCATION,
            "email": "hello@engines.example.com", "city": "London", "country": "GB"
        })];
        seed.custom_fields = vec![
            json!({ "id": "ip_address", "name": "IP Address", "fieldKey": "contact.ip_address", "dataType": "TEXT", "locationId": DEMO_LOCATION, "model": "contact" }),
            json!({ "id": "cf_ip_city", "name": "IP City", "fieldKey": "contact.ip_city", "dataType": "TEXT", "locationId": DEMO_LOCATION, "model": "contact" }),
        ];
        seed.custom_values = vec![json!({
            "id": "cv_support_email", "name": "Support email", "fieldKey": "{{ custom_values.support_email }}",
            "value": "support@example.com", "locationId": DEMO_LOCATION
        })];
        seed.opportunities = vec![json!({
            "id": "op_ada_renewal", "name": "Ada renewal", "monetaryValue": 1200, "pipelineId": "pl_sales",
            "pipelineStageId": "st_proposal", "status": "open", "contactId": "ct_ada",
            "locationId": DEMO_LOCATION, "assignedTo": "usr_owner", "source": "api"
        })];
        seed.pipelines = vec![json!({
            "id": "pl_sales", "name": "Sales", "locationId": DEMO_LOCATION,
            "stages": [
                { "id": "st_lead", "name": "Lead", "position": 0 },
                { "id": "st_proposal", "name": "Proposal", "position": 1 },
                { "id": "st_closed", "name": "Closed", "position": 2 }
            ]
        })];
        seed.lost_reasons = vec![json!({
            "id": "lr_price", "name": "Too expensive", "locationId": DEMO_LOCATION
        })];
        seed.tags = tags_of_contacts(&seed);
        if let Err(e) = seed.resolve(Utc::now()) {
            // The demo data is fixed; the unit tests check that it resolves.
            debug_assert!(false, "demo seed: {e}");
        }
        seed
    }
}

/// Scale data for load tests of `task_due`: one location ([`DEMO_LOCATION`]) with `contacts`
/// contacts and `tasks` tasks spread over them. Task `i` (id `tk_{i}`) is due in 30 minutes
/// and open when `i % due_every == 0`; due in 30 minutes but completed when `i % due_every == 1`;
/// otherwise open and due 2 to 29 days from now. So exactly [`Scale::due_ids`] are open and due
/// within the next hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    /// Contacts (`ct_{i}`).
    pub contacts: usize,
    /// Tasks (`tk_{i}`), round-robin over the contacts.
    pub tasks: usize,
    /// Every this many tasks, one is open and due soon (at least 2).
    pub due_every: usize,
}

impl Scale {
    /// The seed, with dates relative to `now`.
    #[must_use]
    pub fn seed(&self, now: DateTime<Utc>) -> Seed {
        let every = self.due_every.max(2);
        let contacts = self.contacts.max(1);
        let added = iso(now - chrono::Duration::days(1));
        let mut seed = Seed {
            locations: vec![Location {
                id: DEMO_LOCATION.to_owned(),
                name: "Scale location".to_owned(),
                allow_duplicate_contact: false,
            }],
            ..Seed::default()
        };
        seed.contacts = (0..contacts)
            .map(|i| {
                let mut fields = Map::new();
                fields.insert("firstName".into(), json!(format!("Contact{i}")));
                fields.insert("email".into(), json!(format!("c{i}@scale.example.com")));
                fields.insert("dateAdded".into(), json!(added));
                Contact {
                    id: format!("ct_{i}"),
                    location_id: DEMO_LOCATION.to_owned(),
                    fields,
                }
            })
            .collect();
        seed.tasks = (0..self.tasks)
            .map(|i| {
                let soon = i % every < 2;
                let due = if soon {
                    now + chrono::Duration::minutes(30)
                } else {
                    now + chrono::Duration::days(2 + (i % 28) as i64)
                };
                Task {
                    id: format!("tk_{i}"),
                    title: format!("Task {i}"),
                    body: None,
                    assigned_to: Some("usr_owner".to_owned()),
                    due_date: iso(due),
                    completed: i % every == 1,
                    contact_id: format!("ct_{}", i % contacts),
                    date_added: added.clone(),
                }
            })
            .collect();
        seed
    }

    /// The ids of the open tasks due within the next hour.
    #[must_use]
    pub fn due_ids(&self) -> Vec<String> {
        (0..self.tasks)
            .filter(|i| i % self.due_every.max(2) == 0)
            .map(|i| format!("tk_{i}"))
            .collect()
    }

    /// The open tasks (what a task search with `completed: false` pages through).
    #[must_use]
    pub fn open_tasks(&self) -> usize {
        (0..self.tasks)
            .filter(|i| i % self.due_every.max(2) != 1)
            .count()
    }
}

/// `Ip City` → `ip_city`, the key part of a `fieldKey`.
pub(crate) fn key_of(name: &str) -> String {
    let mut key = String::new();
    for ch in name.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            key.push(ch.to_ascii_lowercase());
        } else if !key.ends_with('_') {
            key.push('_');
        }
    }
    key.trim_matches('_').to_owned()
}

/// The location's tags, from its contacts' tags (the demo seed's tag list).
fn tags_of_contacts(seed: &Seed) -> Vec<Value> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut tags = Vec::new();
    for c in &seed.contacts {
        for t in c.tags() {
            if seen.insert((c.location_id.clone(), t.clone())) {
                tags.push(json!({ "id": format!("tag_{}", key_of(&t)), "name": t, "locationId": c.location_id }));
            }
        }
    }
    tags
}

/// A list of strings from a JSON value (non-strings are left out).
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn unique<'a>(ids: impl Iterator<Item = &'a str>, list: &'static str) -> Result<(), SeedError> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(SeedError::DuplicateId {
                list,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

fn names<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = ids.map(|s| format!("`{s}`")).collect();
    if v.is_empty() {
        "the seed has no `locations`".to_owned()
    } else {
        v.join(", ")
    }
}

/// A time as GHL writes it: `2021-07-08T02:30:00.000Z`.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn resolve_or_now(s: &str, now: DateTime<Utc>) -> Result<String, DateError> {
    if s.is_empty() {
        Ok(iso(now))
    } else {
        resolve_date(s, now)
    }
}

/// An ISO 8601 date (with or without time) or `@now±N(d|h|m|s)…`, as GHL's ISO form.
pub(crate) fn resolve_date(s: &str, now: DateTime<Utc>) -> Result<String, DateError> {
    if let Some(rest) = s.strip_prefix("@now") {
        let offset = parse_offset(rest).ok_or_else(|| DateError::Relative(s.to_owned()))?;
        return now
            .checked_add_signed(offset)
            .map(iso)
            .ok_or_else(|| DateError::OutOfRange(s.to_owned()));
    }
    parse_iso(s)
        .map(iso)
        .ok_or_else(|| DateError::Iso(s.to_owned()))
}

/// Parses an ISO 8601 date-time (offset optional: UTC) or a plain date.
pub(crate) fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The offset after `@now` in a relative date: empty, or a sign and parts like `1d`, `2h30m`,
/// `45s` (`-1d` is a day ago). `None` when it is not one. Seed files and `sluice test` fixtures
/// write dates this way.
pub fn parse_offset(rest: &str) -> Option<chrono::Duration> {
    if rest.is_empty() {
        return Some(chrono::Duration::zero());
    }
    let (sign, mut body) = match rest.as_bytes().first()? {
        b'+' => (1i64, &rest[1..]),
        b'-' => (-1i64, &rest[1..]),
        _ => return None,
    };
    if body.is_empty() {
        return None;
    }
    let mut secs: i64 = 0;
    while !body.is_empty() {
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let n: i64 = body[..digits].parse().ok()?;
        let unit = match body.as_bytes().get(digits)? {
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        secs = secs.checked_add(n.checked_mul(unit)?)?;
        body = &body[digits + 1..];
    }
    chrono::Duration::try_seconds(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sandbox may depend on no crate of ours (docs/architecture.md), so it keeps its own
    /// reader of `@now` offsets; this holds it to sluice-model's, which `sluice test` uses.
    #[test]
    fn offsets_read_as_sluice_model_reads_them() {
        for s in [
            "",
            "+1d",
            "-2h30m",
            "+45s",
            "-0s",
            "+999999999d",
            "1d",
            "+",
            "+1",
            "+1x",
            "+d",
            "+1234567890s",
            "+1d-1h",
        ] {
            assert_eq!(
                parse_offset(s).map(|d| d.num_seconds()),
                sluice_model::relative::parse_offset_secs(s),
                "{s}"
            );
        }
    }

    #[test]
    fn scale_seed_has_the_due_tasks_it_names() {
        let now = Utc::now();
        let scale = Scale {
            contacts: 7,
            tasks: 100,
            due_every: 10,
        };
        let mut seed = scale.seed(now);
        assert!(seed.resolve(now).is_ok());
        assert_eq!((seed.contacts.len(), seed.tasks.len()), (7, 100));
        let hour = now + chrono::Duration::hours(1);
        let due: Vec<String> = seed
            .tasks
            .iter()
            .filter(|t| !t.completed && parse_iso(&t.due_date).is_some_and(|d| d <= hour))
            .map(|t| t.id.clone())
            .collect();
        assert_eq!(due, scale.due_ids());
        assert_eq!(due.len(), 10);
        assert_eq!(scale.open_tasks(), 90);
    }

    #[test]
    fn demo_resolves_and_has_all_kinds() {
        let mut s = Seed::demo();
        assert_eq!(s.contacts.len(), 5);
        assert!(s.tasks.iter().any(|t| t.completed));
        assert!(s.tasks.iter().all(|t| parse_iso(&t.due_date).is_some()));
        // Resolving twice is harmless (dates are already ISO).
        assert!(s.resolve(Utc::now()).is_ok());
    }

    #[test]
    fn relative_dates() {
        let now = parse_iso("2026-01-01T00:00:00Z").unwrap_or_default();
        assert_eq!(
            resolve_date("@now+1d2h", now).as_deref(),
            Ok("2026-01-02T02:00:00.000Z")
        );
        assert_eq!(
            resolve_date("@now-30m", now).as_deref(),
            Ok("2025-12-31T23:30:00.000Z")
        );
        assert_eq!(
            resolve_date("2026-03-04", now).as_deref(),
            Ok("2026-03-04T00:00:00.000Z")
        );
        assert!(resolve_date("@now+2x", now).is_err());
        assert!(resolve_date("@now+", now).is_err());
        assert!(resolve_date("tomorrow", now).is_err());
    }

    #[test]
    fn bad_seeds_say_what_is_wrong() {
        let message = |text: &str| seed_from_json(text).err().map(|e| e.to_string());
        let e = message("{").unwrap_or_default();
        assert!(e.contains("line 1"), "{e}");
        let e = message(r#"{"contacts":[{"id":"c1","locationId":"nowhere"}]}"#).unwrap_or_default();
        assert!(e.contains("contacts[0]") && e.contains("nowhere"), "{e}");
        let e = message(r#"{"taks":[]}"#).unwrap_or_default();
        assert!(e.contains("unknown field `taks`"), "{e}");
    }
}
