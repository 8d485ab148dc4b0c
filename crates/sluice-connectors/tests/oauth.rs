//! OAuth refresh against a wiremock token endpoint on 127.0.0.1: proactive refresh, one refresh
//! for many concurrent 401s, the rotated refresh token persisted before use, failures that keep
//! the old pair, and errors that name the credential but never a secret.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sluice_connectors::oauth::{
    AuthError, MemoryTokenStore, OAuthClient, OAuthToken, StoreError, StoreFuture, TokenLock,
    TokenPair, TokenStore,
};
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "client-id-6a1f93c0";
const CLIENT_SECRET: &str = "client-secret-9b2e77d4c1";
const ACCESS_1: &str = "access-one-3f8a2c9d7e6b5a41";
const REFRESH_1: &str = "refresh-one-8e7d6c5b4a392817";
const ACCESS_2: &str = "access-two-1a2b3c4d5e6f7081";
const REFRESH_2: &str = "refresh-two-90817263544536271";
const ACCESS_3: &str = "access-three-aa11bb22cc33dd44";
const REFRESH_3: &str = "refresh-three-ee55ff66aa77bb88";
const SECRETS: [&str; 8] = [
    CLIENT_ID,
    CLIENT_SECRET,
    ACCESS_1,
    REFRESH_1,
    ACCESS_2,
    REFRESH_2,
    ACCESS_3,
    REFRESH_3,
];

fn client(server: &MockServer) -> OAuthClient {
    OAuthClient::new(
        SecretString::from(CLIENT_ID),
        SecretString::from(CLIENT_SECRET),
        format!("{}/oauth/token", server.uri()),
    )
}

fn pair(access: &str, refresh: &str, expires_in: Duration) -> TokenPair {
    TokenPair::new(access, refresh, SystemTime::now() + expires_in)
}

fn token_answer(access: &str, refresh: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 86399,
        "refresh_token": refresh,
        "scope": "contacts.readonly contacts.write",
        "userType": "Location",
        "locationId": "loc-1",
        "userId": "u-1"
    }))
}

/// The token endpoint answering one refresh of `REFRESH_1` with the second pair.
async fn endpoint_rotating_once(server: &MockServer, expected_calls: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(format!("refresh_token={REFRESH_1}")))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .and(body_string_contains("user_type=Location"))
        .respond_with(token_answer(ACCESS_2, REFRESH_2).set_delay(Duration::from_millis(200)))
        .expect(expected_calls)
        .mount(server)
        .await;
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "a secret shows in: {text}");
    }
}

#[tokio::test]
async fn an_access_token_expiring_within_60s_is_refreshed_before_use() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 1).await;
    let store = Arc::new(MemoryTokenStore::new());
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(30)),
        store.clone(),
    );
    let access = token.access_token().await.expect("a token");
    assert_eq!(access.expose_secret(), ACCESS_2);
    // Now valid for a day: no second refresh.
    let again = token.access_token().await.expect("a token");
    assert_eq!(again.expose_secret(), ACCESS_2);
    assert_eq!(token.refresh_count(), 1);

    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.headers.get("authorization").is_none(),
        "the token endpoint takes no Authorization header"
    );
    assert_eq!(
        request
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test]
async fn a_token_far_from_expiry_is_not_refreshed() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 0).await;
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600)),
        Arc::new(MemoryTokenStore::new()),
    );
    let access = token.access_token().await.expect("a token");
    assert_eq!(access.expose_secret(), ACCESS_1);
    assert_eq!(token.refresh_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_401s_cause_one_refresh() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 1).await;
    let token = Arc::new(OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600)),
        Arc::new(MemoryTokenStore::new()),
    ));
    let rejected = SecretString::from(ACCESS_1);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let token = Arc::clone(&token);
            let rejected = rejected.clone();
            tokio::spawn(async move { token.refresh_after_unauthorized(&rejected).await })
        })
        .collect();
    for task in tasks {
        let access = task.await.expect("task").expect("a token");
        assert_eq!(access.expose_secret(), ACCESS_2);
    }
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        1,
        "exactly one refresh reached the endpoint"
    );
    assert_eq!(token.refresh_count(), 1);
    // A late 401 for the old token gets the new one without another refresh.
    let access = token
        .refresh_after_unauthorized(&rejected)
        .await
        .expect("a token");
    assert_eq!(access.expose_secret(), ACCESS_2);
    server.verify().await;
}

#[tokio::test]
async fn the_rotated_refresh_token_is_stored_and_used_next() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 1).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains(format!("refresh_token={REFRESH_2}")))
        .respond_with(token_answer(ACCESS_3, REFRESH_3))
        .expect(1)
        .mount(&server)
        .await;
    let store = Arc::new(MemoryTokenStore::new());
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600)),
        store.clone(),
    );
    token
        .refresh_after_unauthorized(&SecretString::from(ACCESS_1))
        .await
        .expect("first refresh");
    let saved = store.get("ghl_main").expect("a pair");
    assert_eq!(saved.access_token.expose_secret(), ACCESS_2);
    assert_eq!(saved.refresh_token.expose_secret(), REFRESH_2);
    assert!(!saved.expires_within(Duration::from_secs(86_000)));

    // The next refresh sends the rotated token (REFRESH_2), never REFRESH_1 again.
    let access = token
        .refresh_after_unauthorized(&SecretString::from(ACCESS_2))
        .await
        .expect("second refresh");
    assert_eq!(access.expose_secret(), ACCESS_3);
    let saved = store.get("ghl_main").expect("a pair");
    assert_eq!(saved.refresh_token.expose_secret(), REFRESH_3);

    // A new process starts from the saved pair, not from the configured (stale) one.
    let restarted = OAuthToken::from_store(
        "ghl_main",
        client(&server),
        store.clone(),
        Some(pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600))),
    )
    .await
    .expect("from the store");
    let access = restarted.access_token().await.expect("a token");
    assert_eq!(access.expose_secret(), ACCESS_3);
    server.verify().await;
}

/// A store that cannot save.
struct BrokenStore;

struct BrokenLock;

impl TokenLock for BrokenLock {
    fn current(&self) -> Option<TokenPair> {
        None
    }

    fn save(self: Box<Self>, _pair: TokenPair) -> StoreFuture<'static, ()> {
        Box::pin(std::future::ready(Err(StoreError::Other(
            "disk full".into(),
        ))))
    }
}

impl TokenStore for BrokenStore {
    fn load<'a>(&'a self, _credential: &'a str) -> StoreFuture<'a, Option<TokenPair>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn lock<'a>(&'a self, _credential: &'a str) -> StoreFuture<'a, Box<dyn TokenLock>> {
        Box::pin(std::future::ready(Ok(
            Box::new(BrokenLock) as Box<dyn TokenLock>
        )))
    }
}

/// Two runners (two `OAuthToken`s) share one store: the first refreshes after a 401; the
/// second, answered 401 for the same old token, finds the new pair under the store's lock and
/// uses it — the endpoint is called once and the used refresh token is never sent again.
#[tokio::test]
async fn a_second_runner_uses_the_pair_the_first_one_refreshed() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 1).await;
    let store = Arc::new(MemoryTokenStore::new());
    let start = || pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600));
    let a = OAuthToken::new("ghl_main", client(&server), start(), store.clone());
    let b = OAuthToken::new("ghl_main", client(&server), start(), store.clone());
    // Both read the store before anything was saved.
    assert_eq!(a.access_token().await.expect("a").expose_secret(), ACCESS_1);
    assert_eq!(b.access_token().await.expect("b").expose_secret(), ACCESS_1);
    let rejected = SecretString::from(ACCESS_1);
    let fresh_a = a
        .refresh_after_unauthorized(&rejected)
        .await
        .expect("a refreshes");
    let fresh_b = b
        .refresh_after_unauthorized(&rejected)
        .await
        .expect("b reads");
    assert_eq!(fresh_a.expose_secret(), ACCESS_2);
    assert_eq!(fresh_b.expose_secret(), ACCESS_2);
    assert_eq!(a.refresh_count() + b.refresh_count(), 1);
    server.verify().await;
}

#[tokio::test]
async fn a_pair_that_cannot_be_saved_is_not_used() {
    let server = MockServer::start().await;
    endpoint_rotating_once(&server, 1).await;
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600)),
        Arc::new(BrokenStore),
    );
    let error = token
        .refresh_after_unauthorized(&SecretString::from(ACCESS_1))
        .await
        .expect_err("the save failed");
    assert!(
        matches!(&error, AuthError::Persist { credential, detail } if credential == "ghl_main" && detail == "disk full"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("`ghl_main`") && message.contains("disk full"),
        "{message}"
    );
    assert_no_secret(&message);
    assert_eq!(token.refresh_count(), 0);
    // The old pair is still the current one: a 401 for some other token returns it as is.
    let current = token
        .refresh_after_unauthorized(&SecretString::from("not-the-current-token"))
        .await
        .expect("the current token");
    assert_eq!(current.expose_secret(), ACCESS_1);
}

#[tokio::test]
async fn a_refused_refresh_names_the_credential_not_the_secret() {
    for status in [400, 401] {
        let server = MockServer::start().await;
        // An endpoint that echoes the refresh token it refused.
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "error": "invalid_grant",
                "error_description": format!("Invalid refresh token {REFRESH_1} for client {CLIENT_ID}")
            })))
            .mount(&server)
            .await;
        let token = OAuthToken::new(
            "ghl_main",
            client(&server),
            pair(ACCESS_1, REFRESH_1, Duration::from_secs(10)),
            Arc::new(MemoryTokenStore::new()),
        );
        let error = token.access_token().await.expect_err("refused");
        match &error {
            AuthError::Refused {
                credential,
                status: got,
                detail,
                ..
            } => {
                assert_eq!(credential, "ghl_main");
                assert_eq!(*got, status);
                assert!(
                    detail.starts_with("invalid_grant: Invalid refresh token"),
                    "{detail}"
                );
            }
            other => panic!("expected Refused, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("credential `ghl_main`"), "{message}");
        assert!(message.contains(&format!("HTTP {status}")), "{message}");
        assert_no_secret(&message);
        assert_no_secret(&format!("{error:?}"));
    }
}

#[tokio::test]
async fn other_endpoint_failures_are_clear_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header_exists("content-type"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .mount(&server)
        .await;
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::ZERO),
        Arc::new(MemoryTokenStore::new()),
    );
    let error = token.access_token().await.expect_err("503");
    assert!(
        matches!(&error, AuthError::Endpoint { status: 503, detail, .. } if detail == "maintenance"),
        "{error:?}"
    );

    // An answer without an access token.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "refresh_token": REFRESH_2 })),
        )
        .mount(&server)
        .await;
    let token = OAuthToken::new(
        "ghl_main",
        client(&server),
        pair(ACCESS_1, REFRESH_1, Duration::ZERO),
        Arc::new(MemoryTokenStore::new()),
    );
    let error = token.access_token().await.expect_err("no access token");
    assert!(
        matches!(error, AuthError::InvalidAnswer { .. }),
        "{error:?}"
    );
    assert_no_secret(&error.to_string());

    // Nobody listening.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let client = OAuthClient::new(
        SecretString::from(CLIENT_ID),
        SecretString::from(CLIENT_SECRET),
        format!("http://{closed}/oauth/token"),
    );
    let token = OAuthToken::new(
        "ghl_main",
        client,
        pair(ACCESS_1, REFRESH_1, Duration::ZERO),
        Arc::new(MemoryTokenStore::new()),
    );
    let error = token.access_token().await.expect_err("unreachable");
    assert!(matches!(error, AuthError::Transport { .. }), "{error:?}");
    assert!(error.to_string().contains("credential `ghl_main`"));
    assert_no_secret(&error.to_string());
}

#[tokio::test]
async fn nothing_shows_a_secret() {
    let server = MockServer::start().await;
    let token = OAuthToken::new(
        "ghl_main",
        client(&server).user_type(Some("Location".to_string())),
        pair(ACCESS_1, REFRESH_1, Duration::from_secs(3600)),
        Arc::new(MemoryTokenStore::new()),
    );
    assert_no_secret(&format!("{token:?}"));
    assert_no_secret(&format!("{:?}", client(&server)));
    assert_no_secret(&format!("{:?}", pair(ACCESS_1, REFRESH_1, Duration::ZERO)));
    let store = MemoryTokenStore::new();
    store.put("ghl_main", pair(ACCESS_1, REFRESH_1, Duration::ZERO));
    assert_no_secret(&format!("{store:?}"));

    let credential = "ghl_main".to_string();
    let detail = "something went wrong".to_string();
    let errors = [
        AuthError::Refused {
            credential: credential.clone(),
            status: 400,
            detail: detail.clone(),
            hint: " and run `sluice secrets set ghl_refresh`".to_string(),
        },
        AuthError::Endpoint {
            credential: credential.clone(),
            status: 500,
            detail: detail.clone(),
        },
        AuthError::Transport {
            credential: credential.clone(),
            detail: detail.clone(),
            hint: String::new(),
        },
        AuthError::InvalidAnswer {
            credential: credential.clone(),
            detail: detail.clone(),
        },
        AuthError::Persist {
            credential: credential.clone(),
            detail: detail.clone(),
        },
        AuthError::Store {
            credential: credential.clone(),
            detail,
        },
        AuthError::NoToken {
            credential: credential.clone(),
        },
        AuthError::Interrupted { credential },
    ];
    for error in errors {
        let display = error.to_string();
        assert!(display.contains("`ghl_main`"), "{display}");
        assert_no_secret(&display);
        assert_no_secret(&format!("{error:?}"));
    }
}

#[tokio::test]
async fn without_any_pair_there_is_no_token() {
    let server = MockServer::start().await;
    let error = OAuthToken::from_store(
        "ghl_main",
        client(&server),
        Arc::new(MemoryTokenStore::new()),
        None,
    )
    .await
    .expect_err("no pair");
    assert_eq!(
        error,
        AuthError::NoToken {
            credential: "ghl_main".to_string()
        }
    );
}
