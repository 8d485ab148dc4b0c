//! The HTTP API: probes without a token, every other route refusing a missing or wrong one;
//! runs queued and awaited; refusals with reasons; the body limit; metrics; no token in the
//! log. Also the API client the other tests here use.

use std::time::Duration;

use serde_json::json;
use sluice_test_support::{ApiClient, eventually};

use crate::harness::{self, Apis, Runner};

/// The API token of these tests' projects.
pub(crate) const TOKEN: &str = "serve-test-token-0123456789";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// The runner's API, called with [`TOKEN`].
pub(crate) fn api(runner: &Runner) -> ApiClient {
    ApiClient::new(runner.base(), TOKEN)
}

#[test]
fn the_api_runs_flows_and_refuses_what_it_must() {
    harness::run(|logs| async move {
        let project = harness::project(TOKEN, "sandbox-token", None).with_example("contact-360");
        let serve = Runner::start(&project, &logs, Apis::Sandbox, None).await;
        let url = |p: &str| serve.url(p);
        // Probes need no token; everything else does.
        assert_eq!(
            client()
                .get(url("/healthz"))
                .send()
                .await
                .expect("get")
                .status(),
            200
        );
        assert_eq!(
            client()
                .get(url("/readyz"))
                .send()
                .await
                .expect("get")
                .status(),
            200
        );
        for (method, path) in [
            (reqwest::Method::GET, "/api/flows"),
            (reqwest::Method::GET, "/api/runs"),
            (reqwest::Method::POST, "/api/flows/contact-360/runs"),
            (reqwest::Method::GET, "/metrics"),
        ] {
            let none = client()
                .request(method.clone(), url(path))
                .send()
                .await
                .expect("send");
            assert_eq!(none.status(), 401, "{path} without a token");
            let wrong = client()
                .request(method.clone(), url(path))
                .bearer_auth("serve-test-token-0123456780")
                .send()
                .await
                .expect("send");
            assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        }
        // Run and wait for the output.
        let (status, body) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs?wait=20s",
                Some(json!({"contactId": "ct_ada"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "succeeded");
        assert_eq!(body["output"]["name"], "Ada Lovelace");
        // Queue and look it up later.
        let (status, body) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs",
                Some(json!({"contactId": "ct_grace"})),
            )
            .await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        let run = eventually(Duration::from_secs(20), "the queued run", || async {
            let (_, run) = api(&serve)
                .call(reqwest::Method::GET, &format!("/api/runs/{id}"), None)
                .await;
            (run["status"] == "succeeded").then_some(run)
        })
        .await;
        assert_eq!(run["trigger"], "api");
        assert!(
            run["steps"].as_array().is_some_and(|s| s.len() == 5),
            "{run}"
        );
        // Refusals with reasons.
        let (status, body) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/nope/runs",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs",
                Some(json!({})),
            )
            .await;
        assert_eq!(status, 400);
        assert!(
            body["problems"][0]
                .as_str()
                .is_some_and(|p| p.contains("contactId")),
            "{body}"
        );
        let (status, _) = api(&serve)
            .call(
                reqwest::Method::POST,
                "/api/flows/contact-360/runs",
                Some(json!([1])),
            )
            .await;
        assert_eq!(status, 400);
        let (status, _) = api(&serve)
            .call(reqwest::Method::GET, "/api/runs/not-an-id", None)
            .await;
        assert_eq!(status, 400);
        let huge = "x".repeat(2 * 1024 * 1024);
        let resp = client()
            .post(url("/api/flows/contact-360/runs"))
            .bearer_auth(TOKEN)
            .body(format!("{{\"contactId\": \"{huge}\"}}"))
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 413, "a 2 MB body is refused");
        // Metrics count what happened.
        let (status, metrics) = api(&serve)
            .call(reqwest::Method::GET, "/metrics", None)
            .await;
        assert_eq!(status, 200);
        let text = metrics.as_str().expect("text");
        assert!(
            text.contains(r#"sluice_runs_total{flow="contact-360",status="succeeded"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sluice_http_requests_total{code="200"}"#),
            "{text}"
        );
        assert!(text.contains("sluice_queue_depth"), "{text}");
        // A handful of calls fit GHL's 100 requests / 10 s at once: none waited.
        assert!(text.contains("sluice_rate_limit_waits 0\n"), "{text}");
        // The token never shows up in the logs.
        let (stopped, _) = serve.stop(Duration::from_secs(20)).await;
        let log = logs.text();
        assert!(stopped.unwritten.is_none(), "{stopped:?}\n{log}");
        assert!(!log.contains(TOKEN), "{log}");
    });
}
