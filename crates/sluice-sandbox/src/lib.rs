//! A local server that answers like GoHighLevel's Contacts API v2 and IPinfo (tests, demos,
//! dry runs): all 32 operations of `connectors/ghl-contacts.yaml`, the Users, Businesses and
//! Opportunities APIs, most of Locations and Conversations (docs/testing.md lists what is not
//! served), auth, scopes, rate limits, OAuth rotation, signed webhooks, fault injection and an
//! inbox for outgoing webhooks, built from `reference/*/FACTS.md` and GHL's OpenAPI documents.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use sluice_sandbox::{Fault, Sandbox, SandboxConfig};
//! let addr = "127.0.0.1:0".parse().map_err(std::io::Error::other)?;
//! let sandbox = Sandbox::start(SandboxConfig::default(), addr).await?;
//! let base = sandbox.base_url(); // GHL base URL; IPinfo's is `{base}/ipinfo`
//! sandbox.set_fault("GET /contacts/{contactId}", Fault::Latency(std::time::Duration::from_millis(200)));
//! assert_eq!(sandbox.state().request_count("GET /contacts/{contactId}"), 0);
//! sandbox.shutdown().await;
//! # let _ = base; Ok(()) }
//! ```

mod admin;
mod apis;
mod config;
mod contact_search;
mod contacts;
mod conversations;
mod errors;
mod fault;
mod gate;
mod handler;
mod ipinfo;
mod listing;
mod locations;
mod notes;
mod oauth;
mod of_contact;
mod opportunities;
mod ratelimit;
mod records;
mod seed;
mod state;
mod tasks;
mod tokens;
mod util;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tower::Layer;

pub use apis::MAX_TASK_PAGE;
pub use config::{
    IpinfoConfig, OAuthClient, READ_SCOPES, RateLimitConfig, SCOPE_READ, SCOPE_WRITE,
    SandboxConfig, TokenGrant, WRITE_SCOPES, WebhookConfig,
};
pub use fault::Fault;
pub use seed::{
    Appointment, Contact, DEMO_LOCATION, DateError, Location, Note, Scale, Seed, SeedError, Task,
    parse_offset, seed_from_json,
};
pub use state::{RequestRecord, SandboxState};
pub use webhook::WebhookDelivery;

use gate::Conn;

/// The sandbox's routes: GHL Contacts (paths as in `connectors/ghl-contacts.yaml`) and the
/// other GHL APIs it serves,
/// `POST /oauth/token`, IPinfo under `/ipinfo`, and `/__sandbox` control endpoints. Use it
/// in-process (e.g. with `tower::ServiceExt::oneshot`); then `Fault::DropConnection` can
/// only break the answer's body, as there is no connection to close.
pub fn router(state: SandboxState) -> Router {
    // Over 80 lines: the route table, which reads best as one list.
    use contact_search as find;
    use contacts as c;
    let ghl = Router::new()
        .route(
            "/contacts/",
            get(find::list_contacts).post(c::create_contact),
        )
        .route("/contacts/upsert", post(c::upsert_contact))
        .route("/contacts/search", post(find::search_contacts))
        .route("/contacts/search/duplicate", get(find::duplicate_contact))
        .route(
            "/contacts/business/{businessId}",
            get(find::business_contacts),
        )
        .route("/contacts/bulk/tags/update/{type}", post(c::bulk_tags))
        .route("/contacts/bulk/business", post(c::bulk_business))
        .route(
            "/contacts/{contactId}",
            get(c::get_contact)
                .put(c::update_contact)
                .delete(c::delete_contact),
        )
        .route(
            "/contacts/{contactId}/tasks",
            get(tasks::list_tasks).post(tasks::create_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}",
            get(tasks::get_task)
                .put(tasks::update_task)
                .delete(tasks::delete_task),
        )
        .route(
            "/contacts/{contactId}/tasks/{taskId}/completed",
            put(tasks::complete_task),
        )
        .route(
            "/contacts/{contactId}/appointments",
            get(tasks::list_appointments),
        )
        .route(
            "/contacts/{contactId}/tags",
            post(c::add_tags).delete(c::remove_tags),
        )
        .route(
            "/contacts/{contactId}/notes",
            get(notes::list_notes).post(notes::create_note),
        )
        .route(
            "/contacts/{contactId}/notes/{id}",
            get(notes::get_note)
                .put(notes::update_note)
                .delete(notes::delete_note),
        )
        .route(
            "/contacts/{contactId}/followers",
            post(c::add_followers).delete(c::remove_followers),
        )
        .route(
            "/contacts/{contactId}/campaigns/removeAll",
            axum::routing::delete(c::remove_from_all_campaigns),
        )
        .route(
            "/contacts/{contactId}/campaigns/{campaignId}",
            post(c::add_to_campaign).delete(c::remove_from_campaign),
        )
        .route(
            "/contacts/{contactId}/workflow/{workflowId}",
            post(c::add_to_workflow).delete(c::remove_from_workflow),
        );
    use conversations as cv;
    use locations as l;
    use opportunities as op;
    use records as r;
    let more = Router::new()
        .route("/users/", get(apis::users_of_location).post(r::create_user))
        .route(
            "/users/{userId}",
            get(apis::get_user)
                .put(r::update_user)
                .delete(r::delete_user),
        )
        .route(
            "/locations/{locationId}/tasks/search",
            post(apis::search_tasks),
        )
        .route(
            "/locations/{locationId}/customFields",
            get(apis::custom_fields).post(l::fields::create),
        )
        .route(
            "/locations/{locationId}/customFields/{id}",
            get(l::fields::get)
                .put(l::fields::update)
                .delete(l::fields::delete),
        )
        .route(
            "/locations/{locationId}/customValues",
            get(apis::custom_values).post(l::values::create),
        )
        .route(
            "/locations/{locationId}/customValues/{id}",
            get(l::values::get)
                .put(l::values::update)
                .delete(l::values::delete),
        )
        .route("/locations/{locationId}", get(l::get_location))
        .route("/locations/{locationId}/timezones", get(l::timezones))
        .route(
            "/locations/{locationId}/tags",
            get(l::list_tags).post(l::tags::create),
        )
        .route(
            "/locations/{locationId}/tags/{tagId}",
            get(l::tags::get)
                .put(l::tags::update)
                .delete(l::tags::delete),
        )
        .route("/users/search", get(r::search_users))
        .route(
            "/users/search/filter-by-email",
            post(r::filter_users_by_email),
        )
        .route(
            "/businesses/",
            get(apis::businesses).post(r::create_business),
        )
        .route(
            "/businesses/{businessId}",
            get(apis::business)
                .put(r::update_business)
                .delete(r::delete_business),
        )
        .route("/conversations/messages", post(apis::send_message))
        .route("/conversations/", post(cv::create_conversation))
        .route("/conversations/search", get(cv::search))
        .route(
            "/conversations/{conversationId}",
            get(cv::get_conversation)
                .put(cv::update_conversation)
                .delete(cv::delete_conversation),
        )
        .route(
            "/conversations/{conversationId}/messages",
            get(cv::messages),
        )
        .route("/conversations/messages/{id}", get(cv::get_message))
        .route("/conversations/messages/inbound", post(cv::add_inbound))
        .route("/conversations/messages/outbound", post(cv::add_outbound))
        .route(
            "/conversations/messages/{messageId}/status",
            put(cv::update_message_status),
        )
        .route(
            "/conversations/messages/{messageId}/schedule",
            axum::routing::delete(cv::cancel_scheduled),
        )
        .route(
            "/opportunities/search",
            get(apis::search_opportunities).post(op::search_advanced),
        )
        .route("/opportunities/", post(apis::create_opportunity))
        .route("/opportunities/pipelines", get(op::pipelines))
        .route("/opportunities/lost-reason", get(op::lost_reasons))
        .route("/opportunities/upsert", post(op::upsert))
        .route(
            "/opportunities/{id}",
            get(op::get_opportunity)
                .put(apis::update_opportunity)
                .delete(op::delete_opportunity),
        )
        .route("/opportunities/{id}/status", put(op::update_status))
        .route(
            "/opportunities/{id}/followers",
            post(op::add_followers).delete(op::remove_followers),
        );
    let ipinfo = Router::new()
        .route("/ipinfo", get(ipinfo::own))
        .route("/ipinfo/", get(ipinfo::own))
        .route("/ipinfo/me", get(ipinfo::me))
        .route("/ipinfo/batch", post(ipinfo::batch))
        .route("/ipinfo/{ip}", get(ipinfo::ip))
        .route("/ipinfo/{ip}/{field}", get(ipinfo::ip_field))
        .route_layer(from_fn_with_state(state.clone(), ipinfo::auth));
    let admin = Router::new()
        .route("/__sandbox/state", get(admin::state))
        .route("/__sandbox/reset", post(admin::reset))
        .route("/__sandbox/seed", post(admin::seed))
        .route(
            "/__sandbox/faults",
            get(admin::get_faults)
                .post(admin::set_faults)
                .delete(admin::clear_faults),
        )
        .route(
            "/__sandbox/webhook",
            get(admin::get_webhook).post(admin::set_webhook),
        )
        .route(
            "/__sandbox/inbox",
            get(admin::get_inbox).post(admin::post_inbox),
        )
        // A connector whose operation path is empty is joined with a slash by `sluice test`.
        .route("/__sandbox/inbox/", post(admin::post_inbox));
    Router::new()
        .merge(ghl)
        .merge(more)
        .merge(ipinfo)
        .merge(admin)
        .route("/oauth/token", post(oauth::token))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(from_fn_with_state(state.clone(), gate::gate))
        .with_state(state)
}

/// NestJS's answer to an unknown route (GHL's framework; a guess).
async fn not_found(req: Request) -> Response {
    let msg = format!("Cannot {} {}", req.method(), req.uri().path());
    errors::ghl_status(StatusCode::NOT_FOUND, &msg).into_response()
}

/// The GHL connectors the sandbox answers (all at its base URL). Of those past Contacts it
/// serves the operations docs/testing.md lists; others answer 404.
pub const GHL_CONNECTORS: &[&str] = &[
    "ghl-contacts",
    "ghl-users",
    "ghl-locations",
    "ghl-businesses",
    "ghl-opportunities",
    "ghl-calendars",
    "ghl-conversations",
];

/// The demo token with read and write scopes (see [`SandboxConfig::default`]).
pub const DEMO_TOKEN: &str = "sandbox-token";
/// The demo token with read scopes only.
pub const DEMO_READONLY_TOKEN: &str = "sandbox-readonly";

/// A running sandbox server.
#[derive(Debug)]
pub struct Sandbox {
    state: SandboxState,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `addr` (use `127.0.0.1:0` in tests) and serves in a tokio task.
    ///
    /// # Errors
    /// The address cannot be bound, or the seed is wrong (`InvalidData`, with the reason).
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let state = SandboxState::new(config)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router(state.clone()), stopped));
        Ok(Sandbox {
            state,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://IP:PORT` — the GHL base URL; IPinfo's is this plus `/ipinfo`.
    #[must_use]
    pub fn base_url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            self.addr.ip().to_string()
        };
        match self.addr {
            SocketAddr::V6(_) if !self.addr.ip().is_unspecified() => {
                format!("http://[{ip}]:{}", self.addr.port())
            }
            _ => format!("http://{ip}:{}", self.addr.port()),
        }
    }

    /// The Sluice connectors this sandbox stands in for, each with its base URL here:
    /// `ghl-contacts` at [`base_url`](Self::base_url), `ipinfo` under `/ipinfo`, and
    /// `webhook` (outgoing webhooks) at the inbox `/__sandbox/inbox`, so a sandbox run posts
    /// nothing to the world.
    #[must_use]
    pub fn connector_urls(&self) -> Vec<(&'static str, String)> {
        let base = self.base_url();
        let mut urls = vec![
            ("ipinfo", format!("{base}/ipinfo")),
            ("webhook", format!("{base}/__sandbox/inbox")),
        ];
        urls.extend(GHL_CONNECTORS.iter().map(|name| (*name, base.clone())));
        urls
    }

    /// The address bound.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The handle to the data, request counts, faults, OAuth and webhook records.
    #[must_use]
    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// Sets a route's fault (see [`SandboxState::set_fault`]).
    pub fn set_fault(&self, route: &str, fault: Fault) {
        self.state.set_fault(route, fault);
    }

    /// The Ed25519 public key webhook signatures verify with (SPKI PEM).
    #[must_use]
    pub fn webhook_public_key_pem(&self) -> String {
        self.state.webhook_public_key_pem()
    }

    /// Stops accepting, closes every connection and stops webhook delivery.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.inner.webhooks.stop();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Dropping the sender stops the accept loop; it closes its connections.
        self.stop.take();
        if self.task.is_some() {
            self.state.inner.webhooks.stop();
        }
    }
}

async fn serve(listener: TcpListener, app: Router, mut stopped: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(serve_connection(stream, peer, app.clone()));
                }
                // E.g. out of file descriptors: wait a little instead of spinning.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.shutdown().await;
}

/// Serves one connection; a `Fault::DropConnection` notifies `drop`, and the connection is
/// closed without an answer.
async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, app: Router) {
    let drop = Arc::new(Notify::new());
    let conn = Conn {
        drop: Arc::clone(&drop),
        peer,
    };
    let service = TowerToHyperService::new(axum::Extension(conn).layer(app));
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = drop.notified() => {}
    }
}
