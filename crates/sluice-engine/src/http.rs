//! Calling a connector operation: building the request (path parameters URL-encoded, query,
//! headers, JSON body, auth), sending it with a size limit, and turning a non-2xx answer into a
//! step error with the API's message and request id.

use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sluice_connectors::oauth::OAuthToken;
use sluice_model::connector::{ParamIn, ResponseFormat};
use sluice_model::{Method, Operation};

use crate::error::{ErrorKind, StepError};
use crate::observer::RequestRecord;
use crate::redact::{MASK, Redactor};

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How a connection authenticates.
#[derive(Clone, Debug, Default)]
pub enum AuthMaterial {
    /// No credential.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(SecretString),
    /// An OAuth 2.0 access token, refreshed before expiry and once after a 401
    /// (single-flight per credential; see `sluice_connectors::oauth`).
    OAuth(std::sync::Arc<OAuthToken>),
    /// `?PARAM=TOKEN`.
    Query {
        /// The parameter.
        param: String,
        /// The token.
        token: SecretString,
    },
}

/// A request ready to send.
#[derive(Debug)]
pub struct Prepared {
    /// The method.
    pub method: Method,
    /// The URL without auth.
    pub url: String,
    /// Query pairs (auth not included).
    pub query: Vec<(String, String)>,
    /// Headers (auth not included).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Option<Value>,
    /// What the answer's body is (the operation's `response_format`).
    pub format: ResponseFormat,
}

impl Prepared {
    /// The full URL with its query string (without auth).
    #[must_use]
    pub fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let q: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, PATH_SEGMENT),
                    utf8_percent_encode(v, PATH_SEGMENT)
                )
            })
            .collect();
        format!("{}?{}", self.url, q.join("&"))
    }

    /// What observers see: secrets redacted, the auth header masked.
    #[must_use]
    pub fn record(
        &self,
        auth: &AuthMaterial,
        redactor: &Redactor,
        writes: bool,
        sent: bool,
    ) -> RequestRecord {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), redactor.redact(v)))
            .collect();
        let mut url = self.full_url();
        match auth {
            AuthMaterial::Bearer(_) | AuthMaterial::OAuth(_) => {
                headers.push(("authorization".into(), format!("Bearer {MASK}")));
            }
            AuthMaterial::Query { param, .. } => {
                url.push(if url.contains('?') { '&' } else { '?' });
                url.push_str(&format!("{param}={MASK}"));
            }
            AuthMaterial::None => {}
        }
        RequestRecord {
            method: self.method.as_str().to_string(),
            url: redactor.redact(&url),
            headers,
            body: self.body.as_ref().map(|b| redactor.redact_json(b)),
            writes,
            sent,
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds the request of an operation from its parameters.
///
/// # Errors
/// A required parameter that is missing or null.
pub fn prepare(
    op: &Operation,
    base_url: &str,
    connector_headers: &[(&str, &str)],
    params: &Map<String, Value>,
) -> Result<Prepared, StepError> {
    let mut path = op.path.clone();
    let mut query = Vec::new();
    let mut headers: Vec<(String, String)> = connector_headers
        .iter()
        .map(|&(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut body = Map::new();
    let mut body_root = None;
    for (name, spec) in &op.params {
        let value = params.get(name).filter(|v| !v.is_null());
        let Some(value) = value else {
            if spec.required {
                return Err(StepError::new(
                    ErrorKind::Template,
                    format!("parameter `{name}` is required but has no value"),
                ));
            }
            continue;
        };
        match spec.location {
            ParamIn::Path => {
                let text = scalar_text(value);
                if text.is_empty() {
                    return Err(StepError::new(
                        ErrorKind::Template,
                        format!("path parameter `{name}` is empty"),
                    ));
                }
                path = path.replace(
                    &format!("{{{name}}}"),
                    &utf8_percent_encode(&text, PATH_SEGMENT).to_string(),
                );
            }
            ParamIn::Query => match value {
                Value::Array(items) => {
                    query.extend(items.iter().map(|i| (name.clone(), scalar_text(i))))
                }
                other => query.push((name.clone(), scalar_text(other))),
            },
            ParamIn::Header => headers.push((name.clone(), scalar_text(value))),
            ParamIn::Body => {
                body.insert(name.clone(), value.clone());
            }
            ParamIn::BodyRoot => body_root = Some(value.clone()),
        }
    }
    let has_body = body_root.is_some()
        || !body.is_empty()
        || matches!(op.method, Method::Post | Method::Put | Method::Patch);
    let body = body_root.or_else(|| has_body.then_some(Value::Object(body)));
    Ok(Prepared {
        method: op.method,
        url: format!("{}{}", base_url.trim_end_matches('/'), path),
        query,
        headers,
        body,
        format: op.response_format,
    })
}

/// Limits of one call.
#[derive(Clone, Copy, Debug)]
pub struct CallLimits {
    /// Largest answer accepted, in bytes.
    pub max_response_bytes: usize,
    /// Longest the attempt may take.
    pub timeout: Duration,
}

/// A successful answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body (JSON, or a string for text operations).
    pub body: Value,
    /// Time taken.
    pub elapsed: Duration,
    /// Empty: a successful answer's headers go to `observe` (the rate limiter) as it arrives.
    pub headers: HeaderMap,
}

/// Sends a prepared request. `observe` sees the status and headers of every answer (the rate
/// limiter reads GHL's `X-RateLimit-*` headers from it). An OAuth credential's token is fetched
/// (refreshed when due) first; a 401 refreshes it once and repeats the request.
///
/// # Errors
/// A step error: non-2xx (with the API's message and request id), timeout, network failure,
/// an answer over the size limit, or a body that is not what the operation promises.
pub async fn send(
    client: &reqwest::Client,
    prepared: &Prepared,
    auth: &AuthMaterial,
    limits: CallLimits,
    redactor: &Redactor,
    observe: &(dyn Fn(u16, &HeaderMap) + Sync),
) -> Result<Answer, StepError> {
    let AuthMaterial::OAuth(oauth) = auth else {
        return send_once(client, prepared, auth, limits, redactor, observe).await;
    };
    let token = oauth
        .access_token()
        .await
        .map_err(|e| auth_error(&e, redactor))?;
    let first = send_once(
        client,
        prepared,
        &AuthMaterial::Bearer(token.clone()),
        limits,
        redactor,
        observe,
    )
    .await;
    match first {
        Err(e) if e.status == Some(401) => {
            let fresh = oauth
                .refresh_after_unauthorized(&token)
                .await
                .map_err(|e| auth_error(&e, redactor))?;
            send_once(
                client,
                prepared,
                &AuthMaterial::Bearer(fresh),
                limits,
                redactor,
                observe,
            )
            .await
        }
        other => other,
    }
}

fn auth_error(e: &sluice_connectors::oauth::AuthError, redactor: &Redactor) -> StepError {
    StepError::new(
        ErrorKind::Other,
        redactor.redact(&format!("authentication failed: {e}")),
    )
}

async fn send_once(
    client: &reqwest::Client,
    prepared: &Prepared,
    auth: &AuthMaterial,
    limits: CallLimits,
    redactor: &Redactor,
    observe: &(dyn Fn(u16, &HeaderMap) + Sync),
) -> Result<Answer, StepError> {
    let started = Instant::now();
    let request = build_request(client, prepared, auth)?;
    let (status, headers, bytes) =
        tokio::time::timeout(limits.timeout, receive(request, limits, redactor, observe))
            .await
            .map_err(|_| {
                StepError::new(
                    ErrorKind::Timeout,
                    format!(
                        "no answer within {}",
                        humantime::format_duration(limits.timeout)
                    ),
                )
                .retryable(None)
            })??;
    let elapsed = started.elapsed();
    if !(200..300).contains(&status) {
        return Err(http_error(status, &headers, &bytes, redactor));
    }
    let body = parse_body(prepared.format, &bytes, redactor)?;
    Ok(Answer {
        status,
        body,
        elapsed,
        headers,
    })
}

/// The reqwest request of a prepared request, with its auth.
fn build_request(
    client: &reqwest::Client,
    prepared: &Prepared,
    auth: &AuthMaterial,
) -> Result<reqwest::RequestBuilder, StepError> {
    let method = match prepared.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    };
    let mut auth_query: Option<(&str, &str)> = None;
    let mut headers = HeaderMap::with_capacity(prepared.headers.len() + 2);
    for (k, v) in &prepared.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(
        reqwest::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    );
    match auth {
        AuthMaterial::Bearer(token) => {
            let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                .map_err(|_| {
                    StepError::new(
                        ErrorKind::Other,
                        "the credential's token is not a valid header value".into(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        AuthMaterial::Query { param, token } => auth_query = Some((param, token.expose_secret())),
        AuthMaterial::None | AuthMaterial::OAuth(_) => {}
    }
    let mut request = client.request(method, &prepared.url).headers(headers);
    if !prepared.query.is_empty() {
        request = request.query(&prepared.query);
    }
    if let Some(pair) = auth_query {
        request = request.query(&[pair]);
    }
    if let Some(body) = &prepared.body {
        request = request.json(body);
    }
    Ok(request)
}

/// Sends the request and reads its answer: status, headers (of errors only) and body, refused
/// past the size limit.
async fn receive(
    request: reqwest::RequestBuilder,
    limits: CallLimits,
    redactor: &Redactor,
    observe: &(dyn Fn(u16, &HeaderMap) + Sync),
) -> Result<(u16, HeaderMap, Vec<u8>), StepError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| network_error(&e, redactor))?;
    let status = response.status().as_u16();
    observe(status, response.headers());
    // Headers are kept only for errors (Retry-After, request id) and callers that ask.
    let headers = if (200..300).contains(&status) {
        HeaderMap::new()
    } else {
        response.headers().clone()
    };
    if let Some(len) = response.content_length()
        && len > limits.max_response_bytes as u64
    {
        return Err(too_large(limits.max_response_bytes));
    }
    let capacity = response
        .content_length()
        .map_or(0, |l| usize::try_from(l).unwrap_or(0));
    let mut bytes: Vec<u8> = Vec::with_capacity(capacity.min(limits.max_response_bytes));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| network_error(&e, redactor))?
    {
        if bytes.len() + chunk.len() > limits.max_response_bytes {
            return Err(too_large(limits.max_response_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, headers, bytes))
}

/// A successful answer's body as the operation promises it: JSON (empty is `null`) or text.
fn parse_body(
    format: ResponseFormat,
    bytes: &[u8],
    redactor: &Redactor,
) -> Result<Value, StepError> {
    Ok(match format {
        ResponseFormat::Text => {
            Value::String(String::from_utf8_lossy(bytes).trim_end().to_string())
        }
        ResponseFormat::Json if bytes.iter().all(u8::is_ascii_whitespace) => Value::Null,
        ResponseFormat::Json => serde_json::from_slice(bytes).map_err(|e| {
            StepError::new(
                ErrorKind::BadResponse,
                redactor.redact(&format!("the answer is not JSON ({e}): {}", snippet(bytes))),
            )
        })?,
    })
}

fn too_large(limit: usize) -> StepError {
    StepError::new(
        ErrorKind::TooLarge,
        format!(
            "the answer is larger than {limit} bytes; raise `--max-response-bytes` if it is expected"
        ),
    )
}

fn network_error(e: &reqwest::Error, redactor: &Redactor) -> StepError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    StepError::new(
        ErrorKind::Network,
        redactor.redact(&format!("the request failed: {text}")),
    )
    .retryable(None)
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim();
    if t.len() > 200 {
        format!("{}…", &t[..t.floor_char_boundary(200)])
    } else {
        t.to_string()
    }
}

/// Wait the API asked for: `Retry-After` (seconds or an HTTP date), or GHL's
/// `X-RateLimit-Interval-Milliseconds` on a 429.
#[must_use]
pub fn retry_after(status: u16, headers: &HeaderMap) -> Option<Duration> {
    if let Some(v) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        if let Ok(secs) = v.trim().parse::<f64>() {
            // Too large to hold is as long as can be: the caller refuses to wait that long.
            return Some(Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(v.trim()) {
            let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
            return Some(wait.to_std().unwrap_or_default());
        }
    }
    if status == 429 {
        return headers
            .get("x-ratelimit-interval-milliseconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
    }
    None
}

fn http_error(status: u16, headers: &HeaderMap, bytes: &[u8], redactor: &Redactor) -> StepError {
    let json: Option<Value> = serde_json::from_slice(bytes).ok();
    let api_message = json.as_ref().and_then(|j| {
        let m = j
            .get("message")
            .or_else(|| j.pointer("/error/message"))
            .or_else(|| j.get("error"))?;
        Some(match m {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(scalar_text).collect::<Vec<_>>().join("; "),
            other => other.to_string(),
        })
    });
    let request_id = ["x-request-id", "x-amzn-requestid", "x-trace-id", "traceid"]
        .iter()
        .find_map(|h| {
            headers
                .get(*h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .or_else(|| {
            json.as_ref()
                .and_then(|j| j.get("traceId"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let message = match api_message {
        Some(m) => format!("the API answered {status}: {m}"),
        None if bytes.is_empty() => format!("the API answered {status}"),
        None => format!("the API answered {status}: {}", snippet(bytes)),
    };
    let mut err = StepError::new(
        if status == 429 {
            ErrorKind::RateLimited
        } else {
            ErrorKind::Http
        },
        redactor.redact(&message),
    );
    err.status = Some(status);
    err.request_id = request_id.map(|r| redactor.redact(&r));
    // 4xx answers other than 408, 425 and 429 will not change on their own.
    if matches!(status, 408 | 425 | 429) || status >= 500 {
        err = err.retryable(retry_after(status, headers));
    }
    err
}
