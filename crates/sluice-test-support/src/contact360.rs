//! The contact-360 benchmark workload shared by the engine's and the whole-process benchmarks:
//! GHL-shaped canned answers for a contact, its notes and its tasks, a fast local HTTP server
//! on its own thread, and the hand-written tokio + reqwest client they are compared with.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The token both clients send (and the engine redacts).
pub const TOKEN: &str = "pit-bench-0123456789abcdef";
/// GHL's API version header.
pub const VERSION: &str = "2021-07-28";

/// The parent flow of both contact-360 benchmarks: a `for_each` (8 at a time) over the ids,
/// each running the sub-flow `contact-360-one`; its output is the list of merged contacts.
pub const PARENT_FLOW: &str = r#"
name: contact-360-all
inputs:
  contactIds: { type: array }
steps:
  contacts:
    for_each: "{{ inputs.contactIds }}"
    as: contactId
    concurrency: 8
    flow: contact-360-one
    with: { contactId: "{{ contactId }}" }
output: "{{ steps.contacts }}"
"#;

/// The merge step of `contact-360-one`: the contact's fields, its notes and its tasks.
pub const MERGE_STEP: &str = r#"  merged:
    value:
      id: "{{ steps.contact.contact.id }}"
      name: "{{ steps.contact.contact.firstName }} {{ steps.contact.contact.lastName }}"
      email: "{{ steps.contact.contact.email }}"
      phone: "{{ steps.contact.contact.phone }}"
      companyName: "{{ steps.contact.contact.companyName }}"
      tags: "{{ steps.contact.contact.tags }}"
      notes: "{{ steps.notes.notes }}"
      tasks: "{{ steps.tasks.tasks }}"
output: "{{ steps.merged }}"
"#;

/// `n` contact ids, 20 characters each like GHL's.
#[must_use]
pub fn contact_ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("benchcontact{i:08}")).collect()
}

/// The server: its URL and its thread's id (for its CPU time).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server thread's id, for its CPU time.
    pub tid: String,
    /// When the first request since the last [`Server::take_first_request`] arrived.
    first_request: Arc<FirstRequest>,
}

/// The time of the first request after the server was (re-)armed.
struct FirstRequest {
    armed: AtomicBool,
    at: Mutex<Option<SystemTime>>,
}

impl FirstRequest {
    fn seen(&self) {
        if self.armed.swap(false, Ordering::AcqRel)
            && let Ok(mut at) = self.at.lock()
        {
            *at = Some(SystemTime::now());
        }
    }
}

impl Server {
    /// When the first request since the last call (or since the start) arrived; re-arms.
    #[must_use]
    pub fn take_first_request(&self) -> Option<SystemTime> {
        let at = self.first_request.at.lock().ok().and_then(|mut t| t.take());
        self.first_request.armed.store(true, Ordering::Release);
        at
    }
}

/// Where the contact id goes in the canned bodies.
pub const ID: &str = "@ID@";

/// A GHL contact as `GET /contacts/{id}` answers it, with the id as [`ID`].
#[must_use]
pub fn contact_body() -> String {
    json!({
        "contact": {
            "id": ID,
            "name": "Ada Lovelace",
            "locationId": "ve9EPM428h8vShlRW1KT",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "firstNameLowerCase": "ada",
            "lastNameLowerCase": "lovelace",
            "fullNameLowerCase": "ada lovelace",
            "email": "ada.lovelace@example.com",
            "emailLowerCase": "ada.lovelace@example.com",
            "timezone": "Europe/London",
            "companyName": "Analytical Engines Ltd",
            "phone": "+442071234567",
            "dnd": false,
            "dndSettings": {
                "Call": { "status": "active", "message": "", "code": "" },
                "Email": { "status": "inactive", "message": "", "code": "" },
                "SMS": { "status": "active", "message": "", "code": "" }
            },
            "type": "lead",
            "source": "public api",
            "assignedTo": "y0BeYjuRIlDwsDcOHOJo",
            "address1": "12 St James's Square",
            "city": "London",
            "state": "London",
            "country": "GB",
            "postalCode": "SW1Y 4JH",
            "website": "https://example.com/ada",
            "tags": ["vip", "newsletter", "engines"],
            "dateOfBirth": "1815-12-10T00:00:00.000Z",
            "dateAdded": "2024-03-01T09:30:00.000Z",
            "dateUpdated": "2025-01-15T16:45:12.000Z",
            "lastActivity": "2025-01-15T16:45:12.000Z",
            "businessId": "641c094001436dbc2081e642",
            "customFields": [
                { "id": "MgobCB14YMVKuE4Ka8p1", "value": "mathematics" },
                { "id": "ZmmP1Ra1XiIQGDv8jbAV", "value": "gold" }
            ],
            "attributionSource": {
                "url": "https://example.com/landing",
                "campaign": null,
                "utmSource": "newsletter",
                "utmMedium": "email",
                "referrer": null,
                "ip": "203.0.113.7",
                "medium": "form"
            }
        }
    })
    .to_string()
}

/// Three notes as `GET /contacts/{id}/notes` answers them.
#[must_use]
pub fn notes_body() -> String {
    let notes: Vec<Value> = (1..=3)
        .map(|n| {
            json!({
                "id": format!("note{n}xxxxxxxxxxxxxxx"),
                "body": format!("Call {n}: discussed the difference engine; follow up with the plans and a quote for the mill."),
                "userId": "y0BeYjuRIlDwsDcOHOJo",
                "dateAdded": format!("2025-01-{:02}T10:00:00.000Z", 10 + n),
                "contactId": ID,
                "title": format!("Call {n}"),
                "color": "#FFAA00",
                "pinned": n == 1
            })
        })
        .collect();
    json!({ "notes": notes }).to_string()
}

/// Four tasks as `GET /contacts/{id}/tasks` answers them.
#[must_use]
pub fn tasks_body() -> String {
    let tasks: Vec<Value> = (1..=4)
        .map(|n| {
            json!({
                "id": format!("task{n}xxxxxxxxxxxxxxx"),
                "title": format!("Task {n}"),
                "body": "Send the revised notes on the analytical engine.",
                "assignedTo": "y0BeYjuRIlDwsDcOHOJo",
                "dueDate": format!("2025-02-{:02}T09:00:00.000Z", n),
                "completed": n % 2 == 0,
                "contactId": ID
            })
        })
        .collect();
    json!({ "tasks": tasks }).to_string()
}

/// A canned body split around the contact id, so the server answers without a per-contact
/// copy of every body in memory (which would inflate both variants' RSS by ~4 MB).
#[derive(Clone)]
pub struct Canned(Arc<Vec<Bytes>>);

impl Canned {
    /// `body` split around [`ID`].
    #[must_use]
    pub fn new(body: &str) -> Self {
        Self(Arc::new(
            body.split(ID)
                .map(|p| Bytes::copy_from_slice(p.as_bytes()))
                .collect(),
        ))
    }

    /// The body for contact `id`.
    #[must_use]
    pub fn render(&self, id: &str) -> Bytes {
        let mut out = Vec::with_capacity(self.0.iter().map(Bytes::len).sum::<usize>() + 64);
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(id.as_bytes());
            }
            out.extend_from_slice(part);
        }
        Bytes::from(out)
    }
}

// ---------------------------------------------------------------------------------------------
// The server

fn answer(
    contact: &Canned,
    notes: &Canned,
    tasks: &Canned,
    req: &Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let found = path
        .strip_prefix("/contacts/")
        .and_then(|rest| match rest.split_once('/') {
            None => Some(contact.render(rest)),
            Some((id, "notes")) => Some(notes.render(id)),
            Some((id, "tasks")) => Some(tasks.render(id)),
            Some(_) => None,
        });
    let authorized = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == format!("Bearer {TOKEN}").as_bytes());
    let (status, body) = match found {
        Some(_) if !authorized => (
            StatusCode::UNAUTHORIZED,
            Bytes::from_static(br#"{"statusCode":401,"message":"Invalid JWT"}"#),
        ),
        Some(body) => (StatusCode::OK, body),
        None => (
            StatusCode::NOT_FOUND,
            Bytes::from_static(br#"{"statusCode":404,"message":"Not found"}"#),
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    // What GHL sends with every answer.
    for (name, value) in [
        ("x-ratelimit-limit-daily", "200000"),
        ("x-ratelimit-daily-remaining", "199000"),
        ("x-ratelimit-interval-milliseconds", "10000"),
        ("x-ratelimit-max", "100"),
        ("x-ratelimit-remaining", "99"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Starts the server on its own OS thread and current-thread runtime.
#[must_use]
pub fn start_server() -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    let contact = Canned::new(&contact_body());
    let notes = Canned::new(&notes_body());
    let tasks = Canned::new(&tasks_body());
    let first_request = Arc::new(FirstRequest {
        armed: AtomicBool::new(true),
        at: Mutex::new(None),
    });
    let first = first_request.clone();
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1:0");
                let addr: SocketAddr = listener.local_addr().expect("local address");
                tx.send((addr, thread_id())).expect("report the address");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let (contact, notes, tasks) = (contact.clone(), notes.clone(), tasks.clone());
                    let first = first.clone();
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            first.seen();
                            let response = answer(&contact, &notes, &tasks, &req);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })
        .expect("server thread");
    let (addr, tid) = rx.recv().expect("the server starts");
    Server {
        url: format!("http://{addr}"),
        tid,
        first_request,
    }
}

/// The calling thread's id (`/proc/thread-self` links to `PID/task/TID`).
fn thread_id() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// The hand-written client: the same GETs, headers and merge as the engine's flow.
pub struct Hand {
    client: reqwest::Client,
    base: String,
    /// At most this many requests in flight, like the engine's global limit.
    limit: Semaphore,
    auth: HeaderValue,
}

impl Hand {
    /// A client of `base` with at most `concurrency` requests in flight.
    #[must_use]
    pub fn new(base: &str, concurrency: usize) -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let mut auth = HeaderValue::try_from(format!("Bearer {TOKEN}")).expect("header");
        auth.set_sensitive(true);
        Self {
            client,
            base: base.to_string(),
            limit: Semaphore::new(concurrency),
            auth,
        }
    }

    /// GET `url` with the headers GHL wants; the answer parsed.
    pub async fn get(&self, url: String) -> Value {
        let _permit = self.limit.acquire().await.expect("semaphore");
        let response = self
            .client
            .get(url)
            .header("Version", VERSION)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{}", response.status());
        let bytes = response.bytes().await.expect("body");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    /// The server's URL.
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// One contact: GET it, then its notes and tasks at once; the merged object.
    pub async fn one(&self, id: &str) -> Value {
        let mut contact = self.get(format!("{}/contacts/{id}", self.base)).await;
        let cid = contact["contact"]["id"].as_str().expect("id").to_string();
        let (mut notes, mut tasks) = tokio::join!(
            self.get(format!("{}/contacts/{cid}/notes", self.base)),
            self.get(format!("{}/contacts/{cid}/tasks", self.base)),
        );
        merge(&mut contact["contact"], &mut notes, &mut tasks)
    }
}

/// The merge the hand-written client does: the same object as the `merged` step. Values are
/// moved out of the parsed answers, not copied (`json!` would copy each one: it serializes
/// its arguments).
pub fn merge(c: &mut Value, notes: &mut Value, tasks: &mut Value) -> Value {
    let name = format!(
        "{} {}",
        c["firstName"].as_str().unwrap_or_default(),
        c["lastName"].as_str().unwrap_or_default()
    );
    let mut out = serde_json::Map::with_capacity(8);
    out.insert("id".into(), c["id"].take());
    out.insert("name".into(), Value::String(name));
    for field in ["email", "phone", "companyName", "tags"] {
        out.insert(field.into(), c[field].take());
    }
    out.insert("notes".into(), notes["notes"].take());
    out.insert("tasks".into(), tasks["tasks"].take());
    Value::Object(out)
}

/// Every contact of `ids`, `concurrency` at a time, in order.
pub async fn hand_run(hand: Arc<Hand>, ids: Arc<Vec<String>>, concurrency: usize) -> Value {
    let contacts = (0..ids.len()).map(|i| {
        let (hand, ids) = (hand.clone(), ids.clone());
        async move { hand.one(&ids[i]).await }
    });
    let out: Vec<Value> = futures::stream::iter(contacts)
        .buffered(concurrency)
        .collect()
        .await;
    Value::Array(out)
}
