//! IPinfo's legacy API under `/ipinfo` (ipinfo FACTS): `/{ip}`, `/{ip}/{field}` (plain text),
//! `POST /batch`, `/me`, with deterministic fake details for any address, `bogon` answers
//! for private and reserved ranges, and IPinfo's 429 body over a configured quota.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::errors::ipinfo_error;
use crate::gate::{Conn, bearer};
use crate::state::SandboxState;

/// Fields answered as plain text by `/{ip}/{field}`.
const TEXT_FIELDS: &[&str] = &[
    "ip", "hostname", "city", "region", "country", "loc", "org", "postal", "timezone",
];

/// (city, region, country, loc, postal, timezone) the fake details are drawn from.
const PLACES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "London",
        "England",
        "GB",
        "51.5085,-0.1257",
        "EC1A",
        "Europe/London",
    ),
    (
        "Berlin",
        "Berlin",
        "DE",
        "52.5244,13.4105",
        "10115",
        "Europe/Berlin",
    ),
    (
        "Tokyo",
        "Tokyo",
        "JP",
        "35.6895,139.6917",
        "100-0001",
        "Asia/Tokyo",
    ),
    (
        "Sydney",
        "New South Wales",
        "AU",
        "-33.8678,151.2073",
        "2000",
        "Australia/Sydney",
    ),
    (
        "São Paulo",
        "São Paulo",
        "BR",
        "-23.5475,-46.6361",
        "01000-000",
        "America/Sao_Paulo",
    ),
    (
        "Toronto",
        "Ontario",
        "CA",
        "43.7001,-79.4163",
        "M5H",
        "America/Toronto",
    ),
    (
        "Paris",
        "Île-de-France",
        "FR",
        "48.8534,2.3488",
        "75001",
        "Europe/Paris",
    ),
    (
        "Mumbai",
        "Maharashtra",
        "IN",
        "19.0728,72.8826",
        "400001",
        "Asia/Kolkata",
    ),
    (
        "Amsterdam",
        "North Holland",
        "NL",
        "52.3740,4.8897",
        "1012",
        "Europe/Amsterdam",
    ),
    (
        "Chicago",
        "Illinois",
        "US",
        "41.8500,-87.6500",
        "60601",
        "America/Chicago",
    ),
];

/// Network owners of the fake details (documentation AS numbers, RFC 5398).
const ORGS: &[&str] = &[
    "AS64496 Sandbox Telecom",
    "AS64497 Example Broadband",
    "AS64498 Fictional Hosting Ltd",
    "AS64499 Demo Mobile",
    "AS64500 Placeholder Cloud",
];

/// The caller of an IPinfo route (its token, or "" for anonymous use).
#[derive(Clone, Debug)]
pub(crate) struct IpCaller(String);

fn caller_token(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    if let Some(t) = bearer(headers) {
        return Some(t.to_owned());
    }
    if let Some(t) = query.get("token").filter(|t| !t.is_empty()) {
        return Some(t.clone());
    }
    // `curl -u TOKEN:` sends Basic auth with the token as user name.
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or_default();
    (!user.is_empty()).then(|| user.to_owned())
}

/// Middleware of `/ipinfo`: checks the token against the configured list. The 403 answers
/// for unknown or missing tokens are guesses (the facts give no body).
pub(crate) async fn auth(
    State(st): State<SandboxState>,
    Query(q): Query<HashMap<String, String>>,
    mut req: Request,
    next: axum::middleware::Next,
) -> Response {
    let cfg = &st.inner.config.ipinfo;
    let token = caller_token(req.headers(), &q);
    match &token {
        Some(t) if !cfg.tokens.is_empty() && !cfg.tokens.contains(t) => {
            return ipinfo_error(
                StatusCode::FORBIDDEN,
                "Unknown token",
                "Please ensure you've entered your token correctly.",
            );
        }
        None if !cfg.allow_anonymous => {
            return ipinfo_error(
                StatusCode::FORBIDDEN,
                "Missing token",
                "This sandbox needs a token: Authorization: Bearer TOKEN or ?token=TOKEN.",
            );
        }
        _ => {}
    }
    req.extensions_mut()
        .insert(IpCaller(token.unwrap_or_default()));
    next.run(req).await
}

/// Counts `n` lookups for the caller; 429 in IPinfo's shape when over the quota.
fn consume(st: &SandboxState, caller: &IpCaller, n: u64) -> Result<(), Box<Response>> {
    let mut usage = st.inner.ipinfo_usage.lock();
    let used = usage.entry(caller.0.clone()).or_insert(0);
    if let Some(quota) = st.inner.config.ipinfo.quota
        && *used + n > quota
    {
        return Err(Box::new(ipinfo_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            &format!(
                "You've hit the limit of {quota} requests of this sandbox token. Reset the sandbox or raise `ipinfo.quota`."
            ),
        )));
    }
    *used += n;
    Ok(())
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn bogon_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
}

fn bogon_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return bogon_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
}

/// The details of an address: deterministic per address; `{"ip", "bogon": true}` for
/// private and reserved ranges (exact bogon body UNCONFIRMED).
pub(crate) fn details(ip: IpAddr) -> Value {
    let text = ip.to_string();
    let bogon = match ip {
        IpAddr::V4(v4) => bogon_v4(v4),
        IpAddr::V6(v6) => bogon_v6(v6),
    };
    if bogon {
        return json!({"ip": text, "bogon": true});
    }
    if text == "8.8.8.8" {
        return json!({
            "ip": "8.8.8.8", "hostname": "dns.google", "city": "Mountain View",
            "region": "California", "country": "US", "loc": "37.4056,-122.0775",
            "org": "AS15169 Google LLC", "postal": "94043", "timezone": "America/Los_Angeles",
            "anycast": true
        });
    }
    let h = fnv1a(&text);
    let place = PLACES[usize::try_from(h % PLACES.len() as u64).unwrap_or(0)];
    let org = ORGS[usize::try_from((h >> 16) % ORGS.len() as u64).unwrap_or(0)];
    json!({
        "ip": text,
        "hostname": format!("host-{}.sandbox.example", text.replace(['.', ':'], "-")),
        "city": place.0,
        "region": place.1,
        "country": place.2,
        "loc": place.3,
        "org": org,
        "postal": place.4,
        "timezone": place.5,
    })
}

fn wrong_ip() -> Response {
    ipinfo_error(
        StatusCode::NOT_FOUND,
        "Wrong ip",
        "Please provide a valid IP address",
    )
}

/// One batch entry or path: `IP` → details, `IP/field` → the field as text.
enum Lookup {
    Details(Value),
    Text(String),
    WrongIp,
    WrongField(String),
}

fn lookup(ip: &str, field: Option<&str>) -> Lookup {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        return Lookup::WrongIp;
    };
    let d = details(addr);
    match field {
        None | Some("json" | "") => Lookup::Details(d),
        Some(f) if TEXT_FIELDS.contains(&f) => Lookup::Text(
            // A field a bogon has not (e.g. `city`) is answered empty (a guess).
            d.get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        Some(f) => Lookup::WrongField(f.to_owned()),
    }
}

fn answer(l: Lookup) -> Response {
    match l {
        Lookup::Details(v) => Json(v).into_response(),
        // Plain text without a trailing newline (whether IPinfo adds one is not in the facts).
        Lookup::Text(t) => {
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], t).into_response()
        }
        Lookup::WrongIp => wrong_ip(),
        Lookup::WrongField(f) => ipinfo_error(
            StatusCode::NOT_FOUND,
            "Wrong field",
            &format!(
                "`{f}` is not a field; use one of {}",
                TEXT_FIELDS.join(", ")
            ),
        ),
    }
}

fn own_ip(conn: Option<&Conn>) -> String {
    conn.map_or_else(|| "127.0.0.1".to_owned(), |c| c.peer.ip().to_string())
}

/// GET /ipinfo/{ip} (and `/ipinfo/json`, the caller's own address).
pub(crate) async fn ip(
    State(st): State<SandboxState>,
    Extension(caller): Extension<IpCaller>,
    conn: Option<Extension<Conn>>,
    Path(ip): Path<String>,
) -> Response {
    if let Err(r) = consume(&st, &caller, 1) {
        return *r;
    }
    let ip = if ip == "json" {
        own_ip(conn.as_deref())
    } else {
        ip
    };
    answer(lookup(&ip, None))
}

/// GET /ipinfo and /ipinfo/: the caller's own address.
pub(crate) async fn own(
    State(st): State<SandboxState>,
    Extension(caller): Extension<IpCaller>,
    conn: Option<Extension<Conn>>,
) -> Response {
    if let Err(r) = consume(&st, &caller, 1) {
        return *r;
    }
    answer(lookup(&own_ip(conn.as_deref()), None))
}

/// GET /ipinfo/{ip}/{field}: one field as plain text (`json` gives the whole object).
pub(crate) async fn ip_field(
    State(st): State<SandboxState>,
    Extension(caller): Extension<IpCaller>,
    Path((ip, field)): Path<(String, String)>,
) -> Response {
    if let Err(r) = consume(&st, &caller, 1) {
        return *r;
    }
    answer(lookup(&ip, Some(&field)))
}

/// POST /ipinfo/batch: a JSON array (or lines) of `IP` or `IP/field` → an object keyed by
/// each input; at most 1,000; each entry counts against the quota; `?filter=1` drops empty
/// answers.
pub(crate) async fn batch(
    State(st): State<SandboxState>,
    Extension(caller): Extension<IpCaller>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let items: Vec<String> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Ok(_) => {
            return ipinfo_error(
                StatusCode::BAD_REQUEST,
                "Wrong body",
                "Send a JSON array of strings such as [\"8.8.8.8\", \"8.8.4.4/country\"]",
            );
        }
        Err(_) => String::from_utf8_lossy(&body)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    if items.len() > 1000 {
        return ipinfo_error(
            StatusCode::BAD_REQUEST,
            "Too many URLs",
            "A batch takes at most 1,000 URLs",
        );
    }
    if let Err(r) = consume(&st, &caller, items.len() as u64) {
        return *r;
    }
    let filter = q.get("filter").is_some_and(|f| f == "1");
    let mut out = Map::new();
    for item in items {
        let path = item.trim_start_matches('/');
        let (ip, field) = match path.split_once('/') {
            Some((ip, f)) => (ip, Some(f)),
            None => (path, None),
        };
        let value = match lookup(ip, field) {
            Lookup::Details(v) => v,
            Lookup::Text(t) => Value::String(t),
            Lookup::WrongIp => {
                json!({"status": 404, "error": {"title": "Wrong ip", "message": "Please provide a valid IP address"}})
            }
            Lookup::WrongField(f) => {
                json!({"status": 404, "error": {"title": "Wrong field", "message": format!("`{f}` is not a field")}})
            }
        };
        if filter && (value.is_null() || value.as_str() == Some("")) {
            continue;
        }
        out.insert(item, value);
    }
    Json(Value::Object(out)).into_response()
}

/// GET /ipinfo/me: the token's usage (the community-forum shape in the facts); not counted.
pub(crate) async fn me(
    State(st): State<SandboxState>,
    Extension(caller): Extension<IpCaller>,
) -> Response {
    let used = st
        .inner
        .ipinfo_usage
        .lock()
        .get(&caller.0)
        .copied()
        .unwrap_or(0);
    let limit = st.inner.config.ipinfo.quota.unwrap_or(50_000);
    Json(json!({
        "token": caller.0,
        "requests": {"day": used, "month": used, "limit": limit, "remaining": limit.saturating_sub(used)},
        "features": {"core": {"daily": 2_147_483_647_u64, "monthly": limit}}
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bogons_and_determinism() {
        for ip in [
            "10.1.2.3",
            "192.168.0.1",
            "127.0.0.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            let addr: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(details(addr)["bogon"], json!(true), "{ip}");
        }
        let a: IpAddr = "81.2.69.142"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(details(a), details(a));
        assert!(details(a)["city"].is_string());
        let v6: IpAddr = "2a00:1450:4001::1"
            .parse()
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(details(v6)["country"].is_string());
    }
}
