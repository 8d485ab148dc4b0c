//! Webhook events (FACTS §9): flat JSON with `type` and `locationId` (plus `timestamp` and
//! `webhookId`), signed with an Ed25519 key made at start (`x-ghl-signature` = base64 of the
//! signature over the raw body) and delivered by a background task with a bounded queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ed25519_dalek::pkcs8::EncodePublicKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::{Signer, SigningKey};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::WebhookConfig;
use crate::seed::iso;
use crate::util::new_id;

const EVENTS_CAP: usize = 10_000;

/// The outcome of delivering one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// The event's `webhookId`.
    pub webhook_id: String,
    /// The event's `type`, e.g. `TaskCreate`.
    pub event_type: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last status answered, if any.
    pub status: Option<u16>,
    /// Whether a 2xx answer came.
    pub delivered: bool,
    /// The last error, if the last attempt failed without an answer.
    pub error: Option<String>,
}

struct Job {
    webhook_id: String,
    event_type: String,
    body: Vec<u8>,
    signature: String,
}

/// The signing key, the queue and the records of events and deliveries.
pub(crate) struct WebhookHub {
    key: SigningKey,
    target: Mutex<Option<(WebhookConfig, mpsc::Sender<Job>)>>,
    events: Mutex<Vec<Value>>,
    deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
    dropped: AtomicU64,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl WebhookHub {
    /// A hub with a fresh key; with a target, the delivery task is spawned (needs a runtime).
    pub(crate) fn new(config: Option<WebhookConfig>) -> Self {
        let hub = Self {
            key: SigningKey::generate(&mut rand_core::OsRng),
            target: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            deliveries: Arc::new(Mutex::new(Vec::new())),
            dropped: AtomicU64::new(0),
            task: Mutex::new(None),
        };
        hub.set_target(config);
        hub
    }

    /// Sets (or with `None` removes) the delivery target; a new target gets a new delivery
    /// task and events still queued for the old one are lost. Outside a tokio runtime there
    /// is nothing to run the task on: events are then only recorded.
    pub(crate) fn set_target(&self, config: Option<WebhookConfig>) {
        self.stop();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if let Some(cfg) = config {
            let (tx, rx) = mpsc::channel(cfg.queue_capacity.max(1));
            let task = runtime.spawn(deliver_all(cfg.clone(), rx, Arc::clone(&self.deliveries)));
            *self.target.lock() = Some((cfg, tx));
            *self.task.lock() = Some(task);
        }
    }

    /// The delivery target, if any.
    pub(crate) fn target(&self) -> Option<WebhookConfig> {
        self.target.lock().as_ref().map(|(c, _)| c.clone())
    }

    pub(crate) fn public_key_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        self.events.lock().clone()
    }

    pub(crate) fn deliveries(&self) -> Vec<WebhookDelivery> {
        self.deliveries.lock().clone()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        self.events.lock().clear();
        self.deliveries.lock().clear();
    }

    /// Stops the delivery task (queued events are lost).
    pub(crate) fn stop(&self) {
        self.target.lock().take();
        if let Some(t) = self.task.lock().take() {
            t.abort();
        }
    }

    pub(crate) fn emit(&self, event: &str, location_id: &str, fields: Map<String, Value>) {
        let mut payload = Map::new();
        payload.insert("type".into(), Value::String(event.to_owned()));
        payload.insert("locationId".into(), Value::String(location_id.to_owned()));
        for (k, v) in fields {
            if k != "type" && k != "locationId" {
                payload.insert(k, v);
            }
        }
        let webhook_id = new_id();
        payload.insert("timestamp".into(), Value::String(iso(Utc::now())));
        payload.insert("webhookId".into(), Value::String(webhook_id.clone()));
        let payload = Value::Object(payload);
        {
            let mut events = self.events.lock();
            if events.len() >= EVENTS_CAP {
                events.remove(0);
            }
            events.push(payload.clone());
        }
        let Some(sender) = self.target.lock().as_ref().map(|(_, tx)| tx.clone()) else {
            return;
        };
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let signature = STANDARD.encode(self.key.sign(&body).to_bytes());
        let job = Job {
            webhook_id,
            event_type: event.to_owned(),
            body,
            signature,
        };
        // Never block the API answer: a full queue drops the event (counted).
        if sender.try_send(job).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for WebhookHub {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn deliver_all(
    cfg: WebhookConfig,
    mut rx: mpsc::Receiver<Job>,
    deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
) {
    let client = match reqwest::Client::builder().timeout(cfg.timeout).build() {
        Ok(c) => c,
        Err(_) => reqwest::Client::new(),
    };
    while let Some(job) = rx.recv().await {
        let outcome = deliver(&client, &cfg, &job).await;
        deliveries.lock().push(outcome);
    }
}

async fn deliver(client: &reqwest::Client, cfg: &WebhookConfig, job: &Job) -> WebhookDelivery {
    let mut result = WebhookDelivery {
        webhook_id: job.webhook_id.clone(),
        event_type: job.event_type.clone(),
        attempts: 0,
        status: None,
        delivered: false,
        error: None,
    };
    let mut backoff = cfg.retry_backoff;
    for attempt in 1..=cfg.max_attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(Duration::from_secs(30));
        }
        result.attempts = attempt;
        let sent = client
            .post(&cfg.url)
            .header("content-type", "application/json")
            .header("x-ghl-signature", &job.signature)
            .body(job.body.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => {
                result.status = Some(resp.status().as_u16());
                result.error = None;
                if resp.status().is_success() {
                    result.delivered = true;
                    return result;
                }
            }
            Err(e) => result.error = Some(e.to_string()),
        }
    }
    result
}
