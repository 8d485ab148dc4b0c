//! A client of the runner service's HTTP API (in-process or a `sluice serve` child) with its
//! bearer token: any route's status and answer, and a flow's runs.

use serde_json::Value;

/// The API of the runner at a base URL, called with a bearer token.
pub struct ApiClient {
    base: String,
    token: String,
}

impl ApiClient {
    /// The API at `base` (`http://127.0.0.1:PORT`), called with `token`.
    #[must_use]
    pub fn new(base: &str, token: &str) -> ApiClient {
        ApiClient {
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    /// `METHOD PATH` with the token and, given one, a JSON body: the status and the answer
    /// (JSON, else its text).
    ///
    /// # Panics
    /// When the request cannot be sent or its answer read.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: the request failed: {e}"));
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .unwrap_or_else(|e| panic!("{path}: the answer cannot be read: {e}"));
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The runs of `flow` (up to 1,000), newest first.
    ///
    /// # Panics
    /// When the API does not answer 200.
    pub async fn runs(&self, flow: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/api/runs?flow={flow}&limit=1000"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["runs"].as_array().cloned().unwrap_or_default()
    }
}
