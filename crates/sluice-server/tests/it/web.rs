//! The web view: every page and API route refuses a missing or wrong token or cookie; the
//! login, sessions and CSRF tokens; no secret in any page or API answer; size limits; the
//! API's answers match its OpenAPI document.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sluice_test_support::{TempProject, flows};

use crate::harness::{self, Apis, Runner};

const TOKEN: &str = "web-test-token-0123456789abc";
const WRONG_TOKEN: &str = "web-test-token-0123456789abd";

/// A project with contact-360, its API token [`TOKEN`] and `ghl_token` as the GHL credential.
fn project(ghl_token: &str) -> TempProject {
    harness::project(TOKEN, ghl_token, None).with_example("contact-360")
}

/// A client that does not follow redirects (they are what is checked).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Logs in; the session cookie's value.
async fn login(s: &Runner) -> String {
    let resp = client()
        .post(s.url("/login"))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .expect("a cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains(TOKEN),
        "the token is in the cookie: {cookie}"
    );
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.strip_prefix("sluice_session="))
        .expect("sluice_session=…")
        .to_string()
}

fn session(value: &str) -> String {
    format!("sluice_session={value}")
}

/// The CSRF token of the session, as its pages carry it.
async fn csrf(s: &Runner, cookie: &str) -> String {
    let html = client()
        .get(s.url("/flows/contact-360"))
        .header(COOKIE, session(cookie))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_string()
}

/// Runs contact-360 through the API (bearer) and waits for its end; its id.
async fn run_and_wait(s: &Runner, contact: &str) -> String {
    let body = run_flow_and_wait(s, "contact-360", json!({"contactId": contact})).await;
    body["id"].as_str().expect("id").to_string()
}

/// Runs `flow` with `inputs` through the API (bearer) and waits for its end: the answer (its
/// id, status and output).
async fn run_flow_and_wait(s: &Runner, flow: &str, inputs: Value) -> Value {
    let resp = client()
        .post(s.url(&format!("/api/flows/{flow}/runs?wait=30s")))
        .bearer_auth(TOKEN)
        .json(&inputs)
        .send()
        .await
        .expect("run");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.expect("json")
}

enum Cred<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

async fn send(s: &Runner, method: &str, path: &str, cred: &Cred<'_>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client().request(method.clone(), s.url(path));
    if method == reqwest::Method::POST {
        req = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body("csrf=x&in.contactId=ct_ada");
    }
    match cred {
        Cred::None => {}
        Cred::Bearer(t) => req = req.bearer_auth(t),
        Cred::Cookie(c) => req = req.header(COOKIE, session(c)),
    }
    req.send().await.expect("send")
}

#[test]
fn every_page_and_api_route_refuses_a_missing_or_wrong_token_or_cookie() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let s = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let id = run_and_wait(&s, "ct_ada").await;
        let run_page = format!("/runs/{id}");
        let run_api = format!("/api/runs/{id}");
        let output_api = format!("/api/runs/{id}/output");
        let pages = [
            ("GET", "/"),
            ("GET", "/flows/contact-360"),
            ("GET", "/flows/no-such-flow"),
            ("GET", "/runs"),
            ("GET", "/runs?flow=contact-360&status=failed"),
            ("GET", run_page.as_str()),
            ("POST", "/flows/contact-360/run"),
            ("POST", "/logout"),
        ];
        let apis = [
            ("GET", "/api/flows"),
            ("GET", "/api/runs"),
            ("GET", run_api.as_str()),
            ("GET", output_api.as_str()),
            ("GET", "/api/openapi.json"),
            ("GET", "/metrics"),
            ("POST", "/api/flows/contact-360/runs"),
        ];
        let wrong_cookie = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        let refused = [
            Cred::None,
            Cred::Bearer(WRONG_TOKEN),
            Cred::Bearer(""),
            Cred::Cookie(&wrong_cookie),
            Cred::Cookie(TOKEN),
            Cred::Cookie(""),
        ];
        for cred in &refused {
            for (method, path) in pages {
                let resp = send(&s, method, path, cred).await;
                assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{method} {path}");
                let to = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(to.starts_with("/login?next="), "{method} {path} → {to}");
            }
            for (method, path) in apis {
                let resp = send(&s, method, path, cred).await;
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            }
        }
        // The runs were not touched: only the first one exists.
        let resp = send(&s, "GET", "/api/runs", &Cred::Bearer(TOKEN)).await;
        let runs: Value = resp.json().await.expect("json");
        assert_eq!(runs["runs"].as_array().map(Vec::len), Some(1), "{runs}");

        // A wrong token at the login: 401, no cookie.
        let resp = client()
            .post(s.url("/login"))
            .form(&[("token", WRONG_TOKEN)])
            .send()
            .await
            .expect("login");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().get(SET_COOKIE).is_none());

        // With a session (or the bearer token) every page and API route answers.
        let cookie = login(&s).await;
        for cred in [Cred::Cookie(&cookie), Cred::Bearer(TOKEN)] {
            for (method, path) in pages
                .iter()
                .filter(|(m, p)| *m == "GET" && !p.contains("no-such"))
            {
                let resp = send(&s, method, path, &cred).await;
                assert_eq!(resp.status(), StatusCode::OK, "{method} {path}");
                let csp = resp
                    .headers()
                    .get("content-security-policy")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            }
            for (method, path) in apis.iter().filter(|(m, _)| *m == "GET") {
                let resp = send(&s, method, path, &cred).await;
                assert_eq!(resp.status(), StatusCode::OK, "{method} {path}");
            }
        }
        // Redirects after login stay on this site.
        let resp = client()
            .post(s.url("/login"))
            .form(&[("token", TOKEN), ("next", "//evil.example/x")])
            .send()
            .await
            .expect("login");
        assert_eq!(
            resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
            Some("/")
        );
        // After logging out the cookie lets nothing in.
        let token = csrf(&s, &cookie).await;
        let resp = client()
            .post(s.url("/logout"))
            .header(COOKIE, session(&cookie))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .expect("logout");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let resp = send(&s, "GET", "/", &Cred::Cookie(&cookie)).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let resp = send(&s, "GET", "/api/flows", &Cred::Cookie(&cookie)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    });
}

#[test]
fn run_now_and_the_api_need_the_sessions_csrf_token() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let s = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let a = login(&s).await;
        let b = login(&s).await;
        let (csrf_a, csrf_b) = (csrf(&s, &a).await, csrf(&s, &b).await);
        assert_ne!(csrf_a, csrf_b);
        let post = |fields: Vec<(&'static str, String)>| {
            let a = a.clone();
            let url = s.url("/flows/contact-360/run");
            async move {
                client()
                    .post(url)
                    .header(COOKIE, session(&a))
                    .form(&fields)
                    .send()
                    .await
                    .expect("post")
            }
        };
        let ada = ("in.contactId", "ct_ada".to_string());
        for fields in [
            vec![ada.clone()],
            vec![("csrf", String::new()), ada.clone()],
            vec![("csrf", "forged".to_string()), ada.clone()],
            vec![("csrf", csrf_b.clone()), ada.clone()],
            vec![("csrf", a.clone()), ada.clone()],
        ] {
            let resp = post(fields.clone()).await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{fields:?}");
        }
        let count = || async {
            let resp = send(&s, "GET", "/api/runs", &Cred::Bearer(TOKEN)).await;
            let v: Value = resp.json().await.expect("json");
            v["runs"].as_array().map_or(0, Vec::len)
        };
        assert_eq!(count().await, 0);
        // Inputs of the wrong kind are said on the form, and nothing runs.
        let resp = post(vec![("csrf", csrf_a.clone()), ("in.nope", "x".into())]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let html = resp.text().await.expect("html");
        assert!(html.contains("has no input `nope`"), "{html}");
        assert!(html.contains("input `contactId` is required"), "{html}");
        assert_eq!(count().await, 0);
        // The session's own token starts the run.
        let resp = post(vec![("csrf", csrf_a.clone()), ada.clone()]).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let to = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(to.starts_with("/runs/"), "{to}");
        assert_eq!(count().await, 1);
        // The API on a session cookie: reads freely, writes only with the token in x-sluice-csrf.
        let api = s.url("/api/flows/contact-360/runs");
        let body = json!({"contactId": "ct_ada"});
        for header in [None, Some("forged"), Some(csrf_b.as_str())] {
            let mut req = client().post(&api).header(COOKIE, session(&a)).json(&body);
            if let Some(h) = header {
                req = req.header("x-sluice-csrf", h);
            }
            let resp = req.send().await.expect("post");
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{header:?}");
        }
        let resp = client()
            .post(&api)
            .header(COOKIE, session(&a))
            .header("x-sluice-csrf", &csrf_a)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(count().await, 2);
        // Logging out needs the token too.
        let resp = client()
            .post(s.url("/logout"))
            .header(COOKIE, session(&a))
            .form(&[("csrf", "forged")])
            .send()
            .await
            .expect("logout");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let resp = send(&s, "GET", "/", &Cred::Cookie(&a)).await;
        assert_eq!(resp.status(), StatusCode::OK);
    });
}

#[test]
fn bodies_and_request_targets_are_size_limited() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let s = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let cookie = login(&s).await;
        let token = csrf(&s, &cookie).await;
        let big_form = format!("csrf={token}&in.contactId={}", "a".repeat(100 * 1024));
        let resp = client()
            .post(s.url("/flows/contact-360/run"))
            .header(COOKIE, session(&cookie))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big_form)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let resp = client()
            .post(s.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}", "a".repeat(100 * 1024)))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let resp = client()
            .post(s.url("/api/flows/contact-360/runs"))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(format!(
                "{{\"contactId\": \"{}\"}}",
                "a".repeat(2 * 1024 * 1024)
            ))
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let long = "a".repeat(9 * 1024);
        for path in [
            format!("/runs?flow={long}"),
            format!("/api/runs?flow={long}"),
            format!("/login?next=/{long}"),
            format!("/flows/{long}"),
        ] {
            let resp = client()
                .get(s.url(&path))
                .header(COOKIE, session(&cookie))
                .send()
                .await
                .expect("get");
            assert_eq!(resp.status(), StatusCode::URI_TOO_LONG, "{}", &path[..20]);
        }
        // Just under the limit is fine.
        let resp = client()
            .get(s.url(&format!("/runs?flow={}", "a".repeat(7 * 1024))))
            .header(COOKIE, session(&cookie))
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), StatusCode::OK);
    });
}

/// Answers every request with what it was sent: its `Authorization` header ends up in each
/// field the flow reads. `/contacts/ct_missing` answers 404 with the header in the message.
struct Echo;

impl wiremock::Respond for Echo {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let token = auth.trim_start_matches("Bearer ").to_string();
        if req.url.path().ends_with("/ct_missing") {
            return wiremock::ResponseTemplate::new(404).set_body_json(
                json!({"message": format!("no such contact, and you sent {auth}")}),
            );
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
        let b64_url = base64::engine::general_purpose::URL_SAFE.encode(&token);
        let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
        wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "contact": {"id": "ct_echo", "firstName": auth, "lastName": b64, "email": token,
                        "phone": req.url.to_string(), "companyName": "Echo", "tags": [token],
                        "address1": hex, "city": hex.to_uppercase(), "state": b64_url},
            "notes": [{"id": "n1", "body": auth, "dateAdded": "2026-01-01T00:00:00Z"}],
            "tasks": [{"id": "t1", "title": token, "completed": false, "dueDate": "2020-01-01T00:00:00Z"}],
        }))
    }
}

/// Every page's HTML and every API answer, with a session and with the bearer token.
async fn everything(s: &Runner, cookie: &str, runs: &[String]) -> Vec<(String, String)> {
    let mut paths: Vec<String> = [
        "/",
        "/flows/contact-360",
        "/runs",
        "/runs?status=failed",
        "/login",
        "/api/flows",
        "/api/runs",
        "/api/openapi.json",
        "/metrics",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    for id in runs {
        paths.push(format!("/runs/{id}"));
        paths.push(format!("/api/runs/{id}"));
        paths.push(format!("/api/runs/{id}/output"));
    }
    let mut out = Vec::new();
    for path in paths {
        for cred in [Cred::Cookie(cookie), Cred::Bearer(TOKEN)] {
            let resp = send(s, "GET", &path, &cred).await;
            // (`/login` with a session sends the browser on: a redirect.)
            assert!(
                resp.status().is_success() || resp.status().is_redirection(),
                "{path}: {}",
                resp.status()
            );
            out.push((path.clone(), resp.text().await.expect("body")));
        }
    }
    out
}

#[test]
fn no_secret_appears_in_any_page_or_api_answer() {
    harness::run(|logs| async move {
        let secret = "echo-Secret/Value+0123456789=";
        let echo = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(Echo)
            .mount(&echo)
            .await;
        let project = project(secret);
        let echo_base = format!("ghl.base_url={}", echo.uri());
        let s = Runner::start(&project, &logs, Apis::Connections(&[&echo_base]), None).await;
        let ok = run_and_wait(&s, "ct_ada").await;
        let failed = run_and_wait(&s, "ct_missing").await;
        // The secret did travel (so its absence below means something).
        let received = echo.received_requests().await.unwrap_or_default();
        assert!(
            received.iter().any(|r| r
                .headers
                .get("authorization")
                .is_some_and(|v| v.to_str().ok() == Some(&format!("Bearer {secret}")))),
            "the echo server never saw the secret:\n{}",
            logs.text()
        );
        // And a run started from the form.
        let cookie = login(&s).await;
        let token = csrf(&s, &cookie).await;
        let resp = client()
            .post(s.url("/flows/contact-360/run"))
            .header(COOKIE, session(&cookie))
            .form(&[("csrf", token.as_str()), ("in.contactId", "ct_form")])
            .send()
            .await
            .expect("run now");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let from_form = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.strip_prefix("/runs/"))
            .expect("a run")
            .to_string();
        let runs = [ok.clone(), failed.clone(), from_form.clone()];
        // Wait for the form's run to end.
        for _ in 0..200 {
            let resp = send(
                &s,
                "GET",
                &format!("/api/runs/{from_form}"),
                &Cred::Bearer(TOKEN),
            )
            .await;
            let v: Value = resp.json().await.expect("json");
            if v["status"] != "queued" && v["status"] != "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let pages = everything(&s, &cookie, &runs).await;
        let url_encoded: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let forms = [
            secret.to_string(),
            base64::engine::general_purpose::STANDARD.encode(secret),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            url_encoded,
            secret.replace('/', "\\/"),
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
            base64::engine::general_purpose::URL_SAFE.encode(secret),
            secret.bytes().map(|b| format!("{b:02x}")).collect(),
            secret.bytes().map(|b| format!("{b:02X}")).collect(),
        ];
        let mut hits = Vec::new();
        for (path, body) in &pages {
            for form in &forms {
                if body.contains(form.as_str()) {
                    hits.push(format!("{path} contains {form}"));
                }
            }
        }
        assert!(hits.is_empty(), "secret found:\n{}", hits.join("\n"));
        // The pages did show the runs (the scan looked at something).
        let ok_page = &pages
            .iter()
            .find(|(p, _)| *p == format!("/runs/{ok}"))
            .expect("run page")
            .1;
        assert!(ok_page.contains("[REDACTED]"), "{ok_page}");
        // The hex-echoed field is shown too, redacted.
        assert!(
            pages
                .iter()
                .any(|(_, body)| body.contains("address1") && body.contains("[REDACTED]")),
            "no page shows the echoed hex field"
        );
        assert!(ok_page.contains("succeeded"));
        let failed_page = &pages
            .iter()
            .find(|(p, _)| *p == format!("/runs/{failed}"))
            .expect("run page")
            .1;
        assert!(failed_page.contains("404"), "{failed_page}");
    });
}

/// Checks `value` against the document's `#/components/schemas/{name}`.
fn check(doc: &Value, name: &str, value: &Value) {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?}\n{value}");
}

#[test]
fn the_api_answers_as_its_openapi_document_says() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let s = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let get = |path: &'static str| async {
            let resp = send(&s, "GET", path, &Cred::Bearer(TOKEN)).await;
            let status = resp.status();
            (status, resp.json::<Value>().await.expect("json"))
        };
        let (_, doc) = get("/api/openapi.json").await;
        assert_eq!(doc["openapi"], "3.1.0");
        let committed: Value = serde_json::from_str(
            &std::fs::read_to_string(sluice_test_support::repo_root().join("schemas/openapi.json"))
                .expect("schemas/openapi.json"),
        )
        .expect("json");
        assert!(
            doc == committed,
            "the served document is not schemas/openapi.json: run scripts/gen-schemas.sh"
        );
        let (_, flows) = get("/api/flows").await;
        check(&doc, "FlowList", &flows);
        let post = |path: String, body: Value| {
            let url = s.url(&path);
            async move {
                let resp = client()
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .expect("post");
                (resp.status(), resp.json::<Value>().await.expect("json"))
            }
        };
        let (status, done) = post(
            "/api/flows/contact-360/runs?wait=30s".into(),
            json!({"contactId": "ct_ada"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        check(&doc, "RunResult", &done);
        let (status, failed) = post(
            "/api/flows/contact-360/runs?wait=30s".into(),
            json!({"contactId": "ct_nope"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        check(&doc, "RunResult", &failed);
        let (status, queued) = post(
            "/api/flows/contact-360/runs".into(),
            json!({"contactId": "ct_ada"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        check(&doc, "RunQueued", &queued);
        let (status, bad) = post("/api/flows/contact-360/runs".into(), json!({"nope": 1})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        check(&doc, "ApiError", &bad);
        let (status, missing) = post("/api/flows/nope/runs".into(), json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        check(&doc, "ApiError", &missing);
        let (_, runs) = get("/api/runs").await;
        check(&doc, "RunList", &runs);
        for id in [&done["id"], &failed["id"]] {
            let id = id.as_str().expect("id");
            let resp = send(&s, "GET", &format!("/api/runs/{id}"), &Cred::Bearer(TOKEN)).await;
            let detail: Value = resp.json().await.expect("json");
            check(&doc, "RunDetail", &detail);
        }
        // Every path of the document is served (not 404) with the token.
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            let concrete = path
                .replace("{name}", "contact-360")
                .replace("{flow}", "contact-360")
                .replace("{id}", done["id"].as_str().unwrap_or_default());
            for method in ops.as_object().expect("ops").keys() {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("m");
                let resp = client()
                    .request(m, s.url(&concrete))
                    .bearer_auth(TOKEN)
                    .json(&json!({}))
                    .send()
                    .await
                    .expect("send");
                let code = resp.status().as_u16().to_string();
                assert!(
                    ops[method]["responses"].get(&code).is_some(),
                    "{method} {path} answered {code}, which the document does not list"
                );
            }
        }
    });
}

/// Issue 17: the `Bearer` scheme was matched case-sensitively; RFC 9110 §11.1 says an
/// authentication scheme is case-insensitive. Any case is accepted with the right token,
/// and a wrong token or another scheme is still refused.
#[test]
fn the_bearer_scheme_is_case_insensitive() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let s = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let call = |value: String| {
            let url = s.url("/api/runs");
            async move {
                client()
                    .get(url)
                    .header("authorization", value)
                    .send()
                    .await
                    .expect("send")
                    .status()
            }
        };
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(
                call(format!("{scheme} {TOKEN}")).await,
                StatusCode::OK,
                "{scheme}"
            );
        }
        assert_eq!(call(format!("bearer  {TOKEN} ")).await, StatusCode::OK);
        for refused in [
            format!("bearer {WRONG_TOKEN}"),
            format!("Basic {TOKEN}"),
            format!("Bearer{TOKEN}"),
            "bearer ".to_string(),
        ] {
            assert_eq!(
                call(refused.clone()).await,
                StatusCode::UNAUTHORIZED,
                "{refused}"
            );
        }
    });
}

/// Issue 17: web sessions lived in the runner's memory, so a restart (or a second runner
/// behind one address) logged everyone out. They live in the store now: a session made by
/// one runner is honoured by the next one on the same store, and logging out ends it there.
#[test]
fn a_web_session_survives_a_restart_of_the_runner() {
    harness::run(|logs| async move {
        let project = project("sandbox-token");
        let first = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let cookie = login(&first).await;
        let _ = first.stop(Duration::from_secs(20)).await;
        let second = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let page = client()
            .get(second.url("/runs"))
            .header(COOKIE, session(&cookie))
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), StatusCode::OK, "the session was lost");
        let token = csrf(&second, &cookie).await;
        let out = client()
            .post(second.url("/logout"))
            .header(COOKIE, session(&cookie))
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .expect("logout");
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        let after = client()
            .get(second.url("/runs"))
            .header(COOKIE, session(&cookie))
            .send()
            .await
            .expect("page");
        assert_eq!(after.status(), StatusCode::SEE_OTHER, "logged out");
    });
}

/// A `for_each` of one read per id, each recorded as a step of its own with its HTTP call.
const MANY: &str = r#"
name: many
inputs:
  ids: { type: array }
connections:
  crm: { connector: local-crm, credential: ghl_main }
steps:
  each:
    for_each: "{{ inputs.ids }}"
    as: id
    concurrency: 8
    action: crm.get_contact
    with: { contactId: "{{ id }}" }
output: "{{ len steps.each }}"
"#;

/// A run of 1,005 reads: its page and `GET /api/runs/{id}` list a bounded part of its records
/// (the page 200, the API 1,000 or `limit`) and say how many they left out; `limit=0` (what the page's
/// live updates read) only counts; a limit over 10,000 is refused with the reason.
#[test]
fn a_large_runs_page_and_api_list_a_bounded_part_and_say_what_they_left_out() {
    harness::run(|logs| async move {
        let crm = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("GET"))
            .respond_with(
                wiremock::ResponseTemplate::new(200).set_body_json(json!({"contact": {"id": "c"}})),
            )
            .mount(&crm)
            .await;
        let project = project("sandbox-token").with_flow("many", MANY);
        project.write(
            "connectors/local-crm.yaml",
            flows::contact_reader("local-crm", &crm.uri()),
        );
        let s = Runner::start(&project, &logs, Apis::Connections(&[]), None).await;
        let ids: Vec<String> = (0..1005).map(|i| format!("c{i}")).collect();
        let body = run_flow_and_wait(&s, "many", json!({ "ids": ids })).await;
        assert_eq!(body["output"], 1005, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        let detail = |query: &'static str| {
            let url = s.url(&format!("/api/runs/{id}{query}"));
            async move {
                let resp = client()
                    .get(url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .expect("get");
                let status = resp.status();
                (status, resp.json::<Value>().await.expect("json"))
            }
        };
        // The default lists 1,000 calls and says 5 are left out; 2,000 lists them all, and no
        // `omitted`.
        let (status, default) = detail("").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(default["http_calls"].as_array().map(Vec::len), Some(1000));
        assert_eq!(
            default["omitted"]["http_calls"], 5,
            "{}",
            default["omitted"]
        );
        let (_, whole) = detail("?limit=2000").await;
        let steps = whole["steps"].as_array().map_or(0, Vec::len);
        assert_eq!(whole["http_calls"].as_array().map(Vec::len), Some(1005));
        assert!(whole.get("omitted").is_none(), "{}", whole["omitted"]);
        // Five: the first five calls, and how many were left out.
        let (_, five) = detail("?limit=5").await;
        let first: Vec<&Value> = whole["http_calls"].as_array().expect("calls")[..5]
            .iter()
            .collect();
        let listed: Vec<&Value> = five["http_calls"]
            .as_array()
            .expect("calls")
            .iter()
            .collect();
        assert_eq!(listed, first);
        assert_eq!(five["omitted"]["http_calls"], json!(1000));
        assert_eq!(five["omitted"]["steps"], json!(steps.saturating_sub(5)));
        // None: only how many (the page's live updates read this every second).
        let (_, none) = detail("?limit=0").await;
        assert_eq!(none["steps"], json!([]));
        assert_eq!(none["http_calls"], json!([]));
        assert_eq!(none["omitted"]["steps"], json!(steps));
        assert_eq!(none["omitted"]["http_calls"], json!(1005));
        assert_eq!(none["status"], "succeeded");
        let (status, refused) = detail("?limit=10001").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("10000") && e.contains("runs export")),
            "{refused}"
        );
        // The page: 200 calls, and a note saying how many of how many.
        let cookie = login(&s).await;
        let html = client()
            .get(s.url(&format!("/runs/{id}")))
            .header(COOKIE, session(&cookie))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html");
        assert_eq!(html.matches("<li><code>GET ").count(), 200, "{html}");
        assert!(
            html.contains(
                "This page lists 200 of the run's 1005 HTTP calls: the first, and those that went wrong."
            ),
            "{html}"
        );
    });
}
