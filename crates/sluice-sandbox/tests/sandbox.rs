//! The sandbox over real HTTP on 127.0.0.1: every catalog operation, auth, scopes, the
//! `Version` header, validation, rate limits (also with a paused clock), OAuth rotation,
//! signed webhooks, faults, IPinfo, seed files and the `/__sandbox` endpoints.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_sandbox::{
    Fault, IpinfoConfig, OAuthClient, RateLimitConfig, Sandbox, SandboxConfig, SandboxState,
    TokenGrant, WebhookConfig, router, seed_from_json,
};

const TOKEN: &str = "sandbox-token";
const READONLY: &str = "sandbox-readonly";
const LOC: &str = "loc_sandbox";

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn start(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, local())
        .await
        .expect("sandbox starts")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// A GHL request with the token and `Version: 2021-07-28`.
fn ghl(sb: &Sandbox, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    client()
        .request(method, format!("{}{path}", sb.base_url()))
        .bearer_auth(token)
        .header("Version", "2021-07-28")
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A value for a parameter, by name, that makes a valid request against the demo seed.
fn param_value(name: &str) -> Value {
    match name {
        "contactId" => json!("ct_ada"),
        "taskId" => json!("tk_ada_call"),
        "id" => json!("nt_ada_fair"),
        "businessId" => json!("biz_engines"),
        "campaignId" => json!("camp_spring"),
        "workflowId" => json!("wf_onboarding"),
        "type" => json!("add"),
        "locationId" => json!(LOC),
        "title" => json!("Call back"),
        "dueDate" => json!("2030-01-02T10:00:00Z"),
        "completed" => json!(false),
        "body" => json!("A note"),
        "tags" | "followers" => json!(["sdk-check"]),
        "contacts" | "ids" => json!(["ct_ada", "ct_grace"]),
        "pageLimit" => json!(10),
        other => panic!("no test value for required parameter `{other}`"),
    }
}

/// Operations answering 201 (contacts.json `responses`).
const CREATED: &[&str] = &[
    "create_contact",
    "create_task",
    "create_note",
    "add_tags",
    "add_followers",
    "add_to_campaign",
    "bulk_update_tags",
];

/// Top-level keys of operations whose catalog entry gives no response properties.
fn undocumented_keys(op: &str) -> Option<&'static [&'static str]> {
    match op {
        "search_contacts_advanced" => Some(&["contacts", "total"]),
        "get_duplicate_contact" => Some(&["contact"]),
        _ => None,
    }
}

#[tokio::test]
async fn every_catalog_operation_answers_with_its_documented_shape() {
    let catalog = sluice_connectors::builtin_catalog().expect("catalog loads");
    let connector = catalog.get("ghl-contacts").expect("ghl-contacts");
    let sb = start(SandboxConfig {
        rate_limit: None,
        ..SandboxConfig::default()
    })
    .await;
    let mut checked = 0;
    for (name, op) in &connector.operations {
        let name = name.value.as_str();
        sb.state().reset();
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut body = serde_json::Map::new();
        for (pname, p) in &op.params {
            // Search needs locationId and pageLimit in practice (FACTS §5), not in the spec.
            let needed = p.required
                || (name == "search_contacts_advanced"
                    && matches!(pname.as_str(), "locationId" | "pageLimit"));
            if !needed {
                continue;
            }
            let v = param_value(pname);
            match p.location {
                sluice_model::ParamIn::Path => {
                    path = path.replace(&format!("{{{pname}}}"), v.as_str().unwrap_or_default());
                }
                sluice_model::ParamIn::Query => {
                    query.push((pname.clone(), v.as_str().unwrap_or_default().to_owned()));
                }
                sluice_model::ParamIn::Body | sluice_model::ParamIn::BodyRoot => {
                    body.insert(pname.clone(), v);
                }
                sluice_model::ParamIn::Header => {}
            }
        }
        let method = Method::from_bytes(op.method.as_str().as_bytes()).expect("method");
        let mut req = ghl(&sb, method.clone(), &path, TOKEN).query(&query);
        if method != Method::GET {
            req = req.json(&Value::Object(body.clone()));
        }
        let (status, answer) = json_of(req.send().await.expect("answer")).await;
        let want = if CREATED.contains(&name) { 201 } else { 200 };
        assert_eq!(
            status.as_u16(),
            want,
            "{name}: {} {path}: {answer}",
            op.method.as_str()
        );
        let documented: BTreeSet<String> = match op
            .response
            .as_ref()
            .and_then(|r| r.get("properties"))
            .and_then(Value::as_object)
        {
            Some(props) => props.keys().cloned().collect(),
            None => undocumented_keys(name)
                .unwrap_or_else(|| panic!("{name}: no response schema and no expectation"))
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        };
        assert_eq!(
            keys(&answer),
            documented,
            "{name}: top-level keys of {answer}"
        );

        // Scopes: the read-only token may read, and gets 403 on every write.
        sb.state().reset();
        let mut req = ghl(&sb, method.clone(), &path, READONLY).query(&query);
        if method != Method::GET {
            req = req.json(&Value::Object(body));
        }
        let status = req.send().await.expect("answer").status();
        if op.is_write() {
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{name} with a read-only token"
            );
        } else {
            assert!(
                status.is_success(),
                "{name} with a read-only token: {status}"
            );
            assert!(
                op.scopes.iter().all(|s| s == "contacts.readonly"),
                "{name}: {:?}",
                op.scopes
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 32, "the catalog has 32 operations");
    sb.shutdown().await;
}

#[tokio::test]
async fn tokens_versions_and_validation() {
    let sb = start(SandboxConfig::default()).await;
    let url = format!("{}/contacts/ct_ada", sb.base_url());
    let unauthorized = json!({"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"});

    let (s, b) = json_of(
        client()
            .get(&url)
            .header("Version", "2021-07-28")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s.as_u16(), b), (401, unauthorized.clone()), "no token");
    let (s, b) = json_of(
        ghl(&sb, Method::GET, "/contacts/ct_ada", "wrong")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s.as_u16(), b), (401, unauthorized), "bad token");

    let resp = client()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send");
    let (s, b) = json_of(resp).await;
    assert_eq!(s, 400, "missing Version");
    assert!(
        b["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Version"),
        "{b}"
    );
    let sdk_default = client()
        .get(&url)
        .bearer_auth(TOKEN)
        .header("Version", "2023-02-21");
    assert_eq!(
        sdk_default.send().await.expect("send").status(),
        200,
        "SDK default Version"
    );

    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/ct_ada/tasks", READONLY)
            .json(&json!({"title":"x","dueDate":"2030-01-01T00:00:00Z","completed":false}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["statusCode"].clone()),
        (403, json!(403)),
        "{b}"
    );
    assert_eq!(
        sb.state().tasks().len(),
        7,
        "the refused write changed nothing"
    );

    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/ct_ada/tasks", TOKEN)
            .json(&json!({"dueDate":"2030-01-01T00:00:00Z","completed":false}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 422);
    assert_eq!(b["error"], "Unprocessable Entity");
    let messages = b["message"].as_array().expect("message is an array");
    assert!(
        messages
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains("title"))),
        "{b}"
    );

    let (s, b) = json_of(
        ghl(&sb, Method::GET, "/contacts/nope", TOKEN)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b),
        (404, json!({"statusCode":404,"message":"Contact not found"}))
    );
    let (s, _) = json_of(
        ghl(&sb, Method::GET, "/contacts/ct_ada/tasks/nope", TOKEN)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 404);
    sb.shutdown().await;

    let strict = start(SandboxConfig {
        strict_version: true,
        ..SandboxConfig::default()
    })
    .await;
    let resp = client()
        .get(format!("{}/contacts/ct_ada", strict.base_url()))
        .bearer_auth(TOKEN)
        .header("Version", "2023-02-21")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400, "strict mode refuses the SDK default");
    strict.shutdown().await;
}

#[tokio::test]
async fn tasks_notes_tags_round_trip() {
    let sb = start(SandboxConfig::default()).await;
    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/ct_alan/tasks", TOKEN)
            .json(&json!({"title":"Ship it","body":"soon","dueDate":"2030-01-02T10:00:00Z","completed":false}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 201);
    let task = &b["task"];
    assert_eq!(
        task["dueDate"], "2030-01-02T10:00:00.000Z",
        "GHL's ISO form"
    );
    assert_eq!(task["contactId"], "ct_alan");
    let id = task["id"].as_str().expect("id").to_owned();
    assert_eq!(
        sb.state().request_count("POST /contacts/{contactId}/tasks"),
        1
    );

    let done = ghl(
        &sb,
        Method::PUT,
        &format!("/contacts/ct_alan/tasks/{id}/completed"),
        TOKEN,
    )
    .json(&json!({"completed": true}));
    let (s, b) = json_of(done.send().await.expect("send")).await;
    assert_eq!(
        (s.as_u16(), b["task"]["completed"].clone()),
        (200, json!(true))
    );
    let (s, b) = json_of(
        ghl(
            &sb,
            Method::DELETE,
            &format!("/contacts/ct_alan/tasks/{id}"),
            TOKEN,
        )
        .send()
        .await
        .expect("send"),
    )
    .await;
    assert_eq!((s.as_u16(), b), (200, json!({"succeded": true})));

    let (s, b) = json_of(
        ghl(&sb, Method::DELETE, "/contacts/ct_ada/tags", TOKEN)
            .json(&json!({"tags": ["VIP"]}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s.as_u16(), b), (200, json!({"tags": ["newsletter"]})));

    let (s, b) = json_of(
        ghl(
            &sb,
            Method::PUT,
            "/contacts/ct_ada/notes/nt_ada_fair",
            TOKEN,
        )
        .json(&json!({"body": "Changed"}))
        .send()
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["note"]["body"].clone()),
        (200, json!("Changed"))
    );
    let events: Vec<String> = sb
        .state()
        .webhook_events()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "TaskCreate",
            "TaskComplete",
            "TaskDelete",
            "ContactTagUpdate",
            "NoteUpdate"
        ]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn contact_paging_and_search() {
    let sb = start(SandboxConfig::default()).await;
    let mut seen = Vec::new();
    let mut query = vec![
        ("locationId".to_owned(), LOC.to_owned()),
        ("limit".to_owned(), "2".to_owned()),
    ];
    for _ in 0..5 {
        let (s, b) = json_of(
            ghl(&sb, Method::GET, "/contacts/", TOKEN)
                .query(&query)
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let page = b["contacts"].as_array().expect("contacts").clone();
        if page.is_empty() {
            break;
        }
        seen.extend(
            page.iter()
                .map(|c| c["id"].as_str().unwrap_or_default().to_owned()),
        );
        assert_eq!(b["meta"]["total"], 5);
        query.truncate(2);
        query.push((
            "startAfterId".to_owned(),
            b["meta"]["startAfterId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
        query.push(("startAfter".to_owned(), b["meta"]["startAfter"].to_string()));
    }
    assert_eq!(
        seen,
        ["ct_ada", "ct_grace", "ct_alan", "ct_katherine", "ct_linus"],
        "oldest first, each once"
    );

    let too_many =
        ghl(&sb, Method::GET, "/contacts/", TOKEN).query(&[("locationId", LOC), ("limit", "101")]);
    let (s, b) = json_of(too_many.send().await.expect("send")).await;
    assert_eq!((s.as_u16(), b["message"].is_array()), (422, true), "{b}");

    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/search", TOKEN)
            .json(&json!({"locationId": LOC}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["message"].is_array()),
        (422, true),
        "search without pageLimit: {b}"
    );
    let search = json!({
        "locationId": LOC, "pageLimit": 10,
        "filters": [{"field": "tags", "operator": "eq", "value": "vip"}],
        "sort": [{"field": "firstName", "direction": "asc"}]
    });
    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/search", TOKEN)
            .json(&search)
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = b["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .filter_map(|c| c["firstName"].as_str())
        .collect();
    assert_eq!(
        (names, b["total"].clone()),
        (vec!["Ada", "Katherine"], json!(2))
    );

    let dup = ghl(&sb, Method::GET, "/contacts/search/duplicate", TOKEN)
        .query(&[("locationId", LOC), ("email", "GRACE@example.com")]);
    let (_, b) = json_of(dup.send().await.expect("send")).await;
    assert_eq!(b["contact"]["id"], "ct_grace");

    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/", TOKEN)
            .json(&json!({"locationId": LOC, "email": "ada@example.com"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["meta"]["contactId"].clone()),
        (400, json!("ct_ada")),
        "duplicate contact"
    );
    let (s, b) = json_of(
        ghl(&sb, Method::POST, "/contacts/upsert", TOKEN)
            .json(&json!({"locationId": LOC, "email": "ada@example.com", "city": "Paris"}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["new"].clone(), b["contact"]["city"].clone()),
        (200, json!(false), json!("Paris"))
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn other_locations_are_refused() {
    let seed = seed_from_json(
        r#"{"locations":[{"id":"loc_a"},{"id":"loc_b"}],
            "contacts":[{"id":"a1","locationId":"loc_a"},{"id":"b1","locationId":"loc_b"}]}"#,
    )
    .expect("seed");
    let sb = start(SandboxConfig {
        seed,
        tokens: vec![TokenGrant::new(
            "tok-a",
            "loc_a",
            &["contacts.readonly", "contacts.write"],
        )],
        ..SandboxConfig::default()
    })
    .await;
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/a1", "tok-a")
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/b1", "tok-a")
            .send()
            .await
            .expect("send")
            .status(),
        403
    );
    let list = ghl(&sb, Method::GET, "/contacts/", "tok-a").query(&[("locationId", "loc_b")]);
    assert_eq!(list.send().await.expect("send").status(), 403);
    sb.shutdown().await;
}

fn small_limits() -> SandboxConfig {
    SandboxConfig {
        rate_limit: Some(RateLimitConfig {
            burst: 3,
            burst_window: Duration::from_secs(10),
            daily: 1000,
            daily_window: Duration::from_secs(86_400),
        }),
        ..SandboxConfig::default()
    }
}

const RATE_HEADERS: [&str; 5] = [
    "x-ratelimit-limit-daily",
    "x-ratelimit-daily-remaining",
    "x-ratelimit-interval-milliseconds",
    "x-ratelimit-max",
    "x-ratelimit-remaining",
];

#[tokio::test]
async fn burst_limit_answers_429_with_all_headers() {
    let sb = start(small_limits()).await;
    for left in ["2", "1", "0"] {
        let resp = ghl(&sb, Method::GET, "/contacts/ct_ada", TOKEN)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200);
        for h in RATE_HEADERS {
            assert!(resp.headers().contains_key(h), "{h} on a 200");
        }
        assert_eq!(resp.headers()["x-ratelimit-remaining"], left);
        assert_eq!(resp.headers()["x-ratelimit-max"], "3");
        assert_eq!(resp.headers()["x-ratelimit-interval-milliseconds"], "10000");
    }
    let resp = ghl(&sb, Method::GET, "/contacts/ct_ada", TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 429);
    for h in RATE_HEADERS {
        assert!(resp.headers().contains_key(h), "{h} on a 429");
    }
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    assert!((1..=10).contains(&retry), "Retry-After {retry}");
    assert_eq!(resp.headers()["x-ratelimit-daily-remaining"], "997");
    let (_, body) = json_of(resp).await;
    assert_eq!(
        body,
        json!({"statusCode":429,"message":"Too Many Requests","error":"Too Many Requests"})
    );
    // Another token (another budget) is still served.
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/ct_ada", READONLY)
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    sb.shutdown().await;
}

async fn oneshot_status(app: &axum::Router) -> u16 {
    use tower::ServiceExt as _;
    let req = axum::http::Request::get("/contacts/ct_ada")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("version", "2021-07-28")
        .body(axum::body::Body::empty())
        .expect("request");
    app.clone()
        .oneshot(req)
        .await
        .expect("answer")
        .status()
        .as_u16()
}

#[tokio::test(start_paused = true)]
async fn the_burst_window_resets_on_tokios_clock() {
    let state = SandboxState::new(small_limits()).expect("state");
    let app = router(state.clone());
    for _ in 0..3 {
        assert_eq!(oneshot_status(&app).await, 200);
    }
    assert_eq!(oneshot_status(&app).await, 429);
    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert_eq!(oneshot_status(&app).await, 429, "still inside the window");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(oneshot_status(&app).await, 200, "a new window");
    assert_eq!(state.request_count("GET /contacts/{contactId}"), 6);
}

async fn token_request(sb: &Sandbox, form: &[(&str, &str)]) -> (StatusCode, Value) {
    json_of(
        client()
            .post(format!("{}/oauth/token", sb.base_url()))
            .form(form)
            .send()
            .await
            .expect("send"),
    )
    .await
}

fn refresh_form(refresh_token: &str) -> [(&str, &str); 5] {
    [
        ("client_id", "sandbox-client"),
        ("client_secret", "sandbox-secret"),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("user_type", "Location"),
    ]
}

#[tokio::test]
async fn oauth_refresh_tokens_rotate_and_are_single_use() {
    let sb = start(SandboxConfig {
        oauth_clients: vec![OAuthClient {
            access_token_ttl: Duration::from_secs(2),
            ..OAuthClient::demo()
        }],
        ..SandboxConfig::default()
    })
    .await;
    let issued = std::time::Instant::now();
    let (s, first) = token_request(&sb, &refresh_form("sandbox-refresh-token")).await;
    assert_eq!(s, 200, "{first}");
    for key in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "scope",
        "userType",
        "locationId",
        "userId",
    ] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(
        (
            first["token_type"].clone(),
            first["userType"].clone(),
            first["locationId"].clone()
        ),
        (json!("Bearer"), json!("Location"), json!(LOC))
    );
    let new_refresh = first["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();
    assert_ne!(new_refresh, "sandbox-refresh-token");

    let (s, again) = token_request(&sb, &refresh_form("sandbox-refresh-token")).await;
    assert_eq!(
        (s.as_u16(), again["error"].clone()),
        (401, json!("invalid_grant")),
        "reused refresh token"
    );

    let (s, second) = token_request(&sb, &refresh_form(&new_refresh)).await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(sb.state().oauth_refresh_count(), 2);

    let old_access = first["access_token"].as_str().expect("access_token");
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/ct_ada", old_access)
            .send()
            .await
            .expect("send")
            .status(),
        200,
        "old access token until expiry"
    );
    tokio::time::sleep(Duration::from_millis(2200).saturating_sub(issued.elapsed())).await;
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/ct_ada", old_access)
            .send()
            .await
            .expect("send")
            .status(),
        401,
        "expired"
    );

    let code = [
        ("client_id", "sandbox-client"),
        ("client_secret", "sandbox-secret"),
        ("grant_type", "authorization_code"),
        ("code", "sandbox-code"),
    ];
    assert_eq!(token_request(&sb, &code).await.0, 200);
    assert_eq!(
        token_request(&sb, &code).await.0,
        401,
        "codes are single-use"
    );
    let wrong = [
        ("client_id", "sandbox-client"),
        ("client_secret", "nope"),
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
    ];
    assert_eq!(
        token_request(&sb, &wrong).await.1["error"],
        "invalid_client"
    );
    sb.shutdown().await;
}

/// A receiver that answers 500 to its first delivery and 200 after, passing each
/// (signature, body) on.
async fn webhook_receiver() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                let calls = Arc::clone(&calls);
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let sig = headers
                        .get("x-ghl-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let _ = tx.send((sig, body.to_vec()));
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind(local()).await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}

#[tokio::test]
async fn webhooks_arrive_signed_with_ed25519() {
    use base64::Engine as _;
    let (url, mut rx) = webhook_receiver().await;
    let mut hook = WebhookConfig::new(&url);
    hook.retry_backoff = Duration::from_millis(20);
    let sb = start(SandboxConfig {
        webhook: Some(hook),
        ..SandboxConfig::default()
    })
    .await;
    let resp = ghl(&sb, Method::POST, "/contacts/ct_ada/notes", TOKEN)
        .json(&json!({"body": "Signed"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    let (sig, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered in time")
        .expect("delivered");
    let key = VerifyingKey::from_public_key_pem(&sb.webhook_public_key_pem()).expect("SPKI PEM");
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .expect("base64");
    let sig = Signature::from_slice(&sig).expect("64 bytes");
    key.verify(&body, &sig)
        .expect("signature over the raw body verifies");
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert!(key.verify(&tampered, &sig).is_err());

    let event: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(
        (
            event["type"].clone(),
            event["locationId"].clone(),
            event["body"].clone()
        ),
        (json!("NoteCreate"), json!(LOC), json!("Signed"))
    );
    assert!(
        event["timestamp"].is_string() && event["webhookId"].is_string(),
        "{event}"
    );
    // The first attempt got a 500: delivered on the second.
    let mut deliveries = sb.state().webhook_deliveries();
    for _ in 0..200 {
        if !deliveries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        deliveries = sb.state().webhook_deliveries();
    }
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].attempts, deliveries[0].delivered), (2, true));

    // The key and the target over HTTP, for non-Rust receivers.
    let admin = format!("{}/__sandbox/webhook", sb.base_url());
    let (_, w) = json_of(client().get(&admin).send().await.expect("send")).await;
    assert_eq!(
        (w["url"].clone(), w["publicKeyPem"].clone()),
        (json!(url), json!(sb.webhook_public_key_pem()))
    );
    let (s, w) = json_of(
        client()
            .post(&admin)
            .json(&json!({"url": null}))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((s.as_u16(), w["url"].clone()), (200, Value::Null));
    sb.shutdown().await;
}

#[tokio::test]
async fn faults_latency_slow_answers_errors_storms_hangs_and_drops() {
    let sb = start(SandboxConfig::default()).await;
    let route = "GET /contacts/{contactId}";
    let get = || ghl(&sb, Method::GET, "/contacts/ct_ada", TOKEN);

    sb.set_fault(route, Fault::Latency(Duration::from_millis(300)));
    let t0 = std::time::Instant::now();
    assert_eq!(get().send().await.expect("send").status(), 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));

    // A slow answer: the write is made at once, its answer comes late (or, to a client that
    // gave up, never).
    let create = "POST /contacts/{contactId}/tasks";
    sb.set_fault(create, Fault::SlowAnswer(Duration::from_secs(2)));
    let tasks_before = sb.state().tasks().len();
    let err = ghl(&sb, Method::POST, "/contacts/ct_ada/tasks", TOKEN)
        .json(
            &json!({"title": "Slow answer", "dueDate": "2026-12-01T10:00:00Z", "completed": false}),
        )
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect_err("gave up before the answer");
    assert!(err.is_timeout(), "{err}");
    assert_eq!(
        sb.state().tasks().len(),
        tasks_before + 1,
        "the task was made"
    );
    sb.set_fault(create, Fault::None);

    sb.set_fault(
        route,
        Fault::ErrorRate {
            rate: 0.5,
            status: 503,
        },
    );
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get().send().await.expect("send").status().as_u16());
    }
    assert_eq!(statuses, [200, 503, 200, 503]);

    sb.set_fault(route, Fault::RateLimitStorm { count: 2 });
    for _ in 0..2 {
        let resp = get().send().await.expect("send");
        assert_eq!(resp.status(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    }
    assert_eq!(
        get().send().await.expect("send").status(),
        200,
        "the storm is over"
    );

    sb.set_fault(route, Fault::Hang);
    let err = get()
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("hangs");
    assert!(err.is_timeout(), "{err}");

    sb.set_fault(route, Fault::DropConnection);
    let err = get()
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect_err("dropped");
    assert!(!err.is_timeout(), "closed at once: {err}");

    // Other routes are untouched; `*` reaches every route.
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/ct_ada/notes", TOKEN)
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    sb.set_fault(route, Fault::None);
    sb.set_fault(
        "*",
        Fault::ErrorRate {
            rate: 1.0,
            status: 502,
        },
    );
    assert_eq!(
        ghl(&sb, Method::GET, "/contacts/ct_ada/notes", TOKEN)
            .send()
            .await
            .expect("send")
            .status(),
        502
    );

    // Over HTTP.
    let admin = format!("{}/__sandbox/faults", sb.base_url());
    let resp = client().delete(&admin).send().await.expect("send");
    assert_eq!(resp.status(), 200);
    let set = json!({"route": route, "fault": {"kind": "error_rate", "rate": 1.0, "status": 500}});
    assert_eq!(
        client()
            .post(&admin)
            .json(&set)
            .send()
            .await
            .expect("send")
            .status(),
        200
    );
    assert_eq!(get().send().await.expect("send").status(), 500);
    let bad = json!({"route": route, "fault": {"kind": "explode"}});
    assert_eq!(
        client()
            .post(&admin)
            .json(&bad)
            .send()
            .await
            .expect("send")
            .status(),
        400
    );
    assert_eq!(sb.state().request_count(route), 11);

    let (_, dump) = json_of(
        client()
            .get(format!("{}/__sandbox/state", sb.base_url()))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(dump["requestCounts"][route], 11);
    assert_eq!(dump["faults"][route]["kind"], "error_rate");
    let reset = client()
        .post(format!("{}/__sandbox/reset", sb.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(reset.status(), 200);
    assert_eq!(sb.state().request_count(route), 0);
    assert_eq!(
        get().send().await.expect("send").status(),
        200,
        "reset removes faults"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn ipinfo_endpoints() {
    let sb = start(SandboxConfig {
        ipinfo: IpinfoConfig {
            tokens: vec!["ip-token".to_owned()],
            allow_anonymous: false,
            quota: Some(6),
        },
        ..SandboxConfig::default()
    })
    .await;
    let base = format!("{}/ipinfo", sb.base_url());
    let get = |path: &str| {
        client()
            .get(format!("{base}{path}"))
            .bearer_auth("ip-token")
    };

    let (s, b) = json_of(get("/8.8.8.8").send().await.expect("send")).await;
    assert_eq!(s, 200);
    for k in [
        "ip", "hostname", "city", "region", "country", "loc", "org", "postal", "timezone",
    ] {
        assert!(b[k].is_string(), "{k} in {b}");
    }
    let (_, b) = json_of(get("/10.0.0.1").send().await.expect("send")).await;
    assert_eq!(b, json!({"ip": "10.0.0.1", "bogon": true}));
    let city = get("/8.8.8.8/city").send().await.expect("send");
    assert!(
        city.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert_eq!(city.text().await.expect("text"), "Mountain View");
    let (_, v6a) = json_of(
        client()
            .get(format!("{base}/2a00:1450::1?token=ip-token"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert!(v6a["country"].is_string(), "IPv6 via ?token=: {v6a}");
    let batch = client()
        .post(format!("{base}/batch"))
        .bearer_auth("ip-token")
        .json(&json!(["8.8.8.8/country", "81.2.69.142"]))
        .send()
        .await
        .expect("send");
    let (s, b) = json_of(batch).await;
    assert_eq!(s, 200);
    assert_eq!(b["8.8.8.8/country"], "US");
    assert!(b["81.2.69.142"]["city"].is_string(), "{b}");

    let (_, me) = json_of(get("/me").send().await.expect("send")).await;
    assert_eq!(me["requests"]["remaining"], 0, "{me}");
    let (s, b) = json_of(get("/1.1.1.1").send().await.expect("send")).await;
    assert_eq!(
        (s.as_u16(), b["status"].clone(), b["error"]["title"].clone()),
        (429, json!(429), json!("Rate limit exceeded"))
    );

    let (s, b) = json_of(
        client()
            .get(format!("{base}/8.8.8.8"))
            .bearer_auth("other")
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (s.as_u16(), b["status"].clone()),
        (403, json!(403)),
        "unknown token"
    );
    assert_eq!(
        client()
            .get(format!("{base}/8.8.8.8"))
            .send()
            .await
            .expect("send")
            .status(),
        403,
        "anonymous"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn bad_seed_files_say_what_is_wrong() {
    let cases = [
        ("{\"contacts\": [", "line 1"),
        (
            r#"{"contacts":[{"id":"c1","locationId":"loc"}]}"#,
            "locationId `loc` is not one of the seed's locations",
        ),
        (
            r#"{"locations":[{"id":"l"}],"contacts":[{"id":"c1","locationId":"l"}],"tasks":[{"id":"t","contactId":"c2","title":"x","dueDate":"@now"}]}"#,
            "tasks[0] (id `t`): contactId `c2` is not a contact of the seed",
        ),
        (
            r#"{"locations":[{"id":"l"}],"contacts":[{"id":"c1","locationId":"l"}],"tasks":[{"id":"t","contactId":"c1","title":"x","dueDate":"soon"}]}"#,
            "`dueDate`: `soon` is not an ISO 8601 date",
        ),
        (
            r#"{"locations":[{"id":"l"},{"id":"l"}]}"#,
            "the id `l` is used twice",
        ),
        (
            r#"{"notes":[{"id":"n","contactId":"c","bdy":"x"}]}"#,
            "unknown field `bdy`",
        ),
        (
            r#"{"tasks":[{"id":"t","contactId":"c","dueDate":"@now"}]}"#,
            "missing field `title`",
        ),
    ];
    for (text, want) in cases {
        let err = seed_from_json(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text}\n  gave: {err}\n  want: {want}");
    }
    let seed = seed_from_json(
        r#"{"locations":[{"id":"l"}],"contacts":[{"id":"c1","locationId":"l","firstName":"Zoe"}],
            "tasks":[{"id":"t1","contactId":"c1","title":"x","dueDate":"@now+1d"}]}"#,
    )
    .expect("valid seed");
    assert!(seed.tasks[0].due_date.ends_with('Z'));

    // Over HTTP too.
    let sb = start(SandboxConfig::default()).await;
    let resp = client()
        .post(format!("{}/__sandbox/seed", sb.base_url()))
        .body(r#"{"locations":[{"id":"loc_sandbox"}],"contacts":[{"id":"z1","locationId":"loc_sandbox"}]}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    assert_eq!(sb.state().contacts().len(), 1);
    let resp = client()
        .post(format!("{}/__sandbox/seed", sb.base_url()))
        .body("{")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn the_inbox_keeps_what_webhooks_post_and_reset_empties_it() {
    let sb = start(SandboxConfig::default()).await;
    let inbox = sb
        .connector_urls()
        .into_iter()
        .find(|(name, _)| *name == "webhook")
        .map(|(_, url)| url)
        .expect("the webhook connector is served");
    assert_eq!(inbox, format!("{}/__sandbox/inbox", sb.base_url()));
    for (url, body) in [
        (inbox.clone(), r#"{"text": "3 overdue tasks"}"#),
        (format!("{inbox}/"), "plain text"),
    ] {
        let res = client().post(url).body(body).send().await.expect("send");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.expect("text"), "ok");
    }
    let expected = json!([{"text": "3 overdue tasks"}, "plain text"]);
    assert_eq!(json!(sb.state().inbox()), expected);
    let (status, listed) = json_of(client().get(&inbox).send().await.expect("send")).await;
    assert_eq!(status, 200);
    assert_eq!(listed, expected);
    assert_eq!(sb.state().dump()["inbox"], expected);
    sb.state().reset();
    assert!(sb.state().inbox().is_empty());
    sb.shutdown().await;
}
