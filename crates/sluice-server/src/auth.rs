//! Who may use the runner: the bearer token (compared in constant time), and the web view's
//! logged-in sessions — a random cookie value (stored hashed) with its CSRF token, which every
//! form and every cookie-authenticated API call other than GET must present.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use parking_lot::Mutex;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "sluice_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most (the oldest goes first).
const MAX_SESSIONS: usize = 1024;
/// The header a browser session sends its CSRF token in when it calls the API with anything
/// but `GET` (the web view's pages carry the token as `data-csrf`).
pub(crate) const CSRF_HEADER: &str = "x-sluice-csrf";

/// Whether `presented` is the runner's token (constant time).
pub(crate) fn token_matches(expected: &SecretString, presented: &str) -> bool {
    let expected = expected.expose_secret().as_bytes();
    let presented = presented.as_bytes();
    presented.len() == expected.len() && bool::from(presented.ct_eq(expected))
}

/// The token of an `Authorization: Bearer TOKEN` header, if the request has one. The scheme
/// is matched without regard to case (RFC 9110 §11.1: `bearer`, `BEARER` are `Bearer`).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim_start();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Logged-in browser sessions: SHA-256 of the cookie's random value → the session.
#[derive(Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    csrf: String,
    expires: Instant,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_key(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

impl Sessions {
    /// A new session: (cookie value, CSRF token).
    pub(crate) fn create(&self) -> (String, String) {
        let value = random_token();
        let csrf = random_token();
        let mut map = self.map.lock();
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS {
            let oldest = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k);
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(
            session_key(&value),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_TTL,
            },
        );
        (value, csrf)
    }

    /// The CSRF token of a live session.
    pub(crate) fn csrf(&self, value: &str) -> Option<String> {
        self.map
            .lock()
            .get(&session_key(value))
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    /// Ends a session.
    pub(crate) fn remove(&self, value: &str) {
        self.map.lock().remove(&session_key(value));
    }

    /// The CSRF token of the live session whose cookie the request carries.
    pub(crate) fn of_request(&self, headers: &HeaderMap) -> Option<String> {
        session_cookie(headers).and_then(|v| self.csrf(&v))
    }
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().trim().to_string())
}

/// The `Set-Cookie` of a new session.
pub(crate) fn session_set_cookie(value: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie_duration(SESSION_TTL))
        .build()
}

/// The `Set-Cookie` that ends a session in the browser.
pub(crate) fn session_clear_cookie() -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie_duration(Duration::ZERO))
        .build()
}

fn cookie_duration(d: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(0))
}

/// How a page request was let in.
#[derive(Clone)]
pub(crate) enum Auth {
    /// A browser session, with its CSRF token.
    Session(String),
    /// `Authorization: Bearer TOKEN` (not sent by browsers on their own: no CSRF to fear).
    Bearer,
}

impl Auth {
    /// Whether a form or API call presents the right CSRF token (always, for the bearer token).
    pub(crate) fn csrf_ok(&self, presented: Option<&str>) -> bool {
        match self {
            Auth::Bearer => true,
            Auth::Session(expected) => presented.is_some_and(|p| {
                p.len() == expected.len() && bool::from(p.as_bytes().ct_eq(expected.as_bytes()))
            }),
        }
    }

    /// The session's CSRF token, for the forms of a page.
    pub(crate) fn csrf(&self) -> Option<&str> {
        match self {
            Auth::Session(c) => Some(c),
            Auth::Bearer => None,
        }
    }
}

/// Whether the API lets this request in on its session cookie: a live session, and for
/// anything but `GET`/`HEAD` its CSRF token in [`CSRF_HEADER`].
pub(crate) fn session_allows(sessions: &Sessions, method: &Method, headers: &HeaderMap) -> bool {
    let Some(csrf) = sessions.of_request(headers) else {
        return false;
    };
    if method == Method::GET || method == Method::HEAD {
        return true;
    }
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    Auth::Session(csrf).csrf_ok(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_go() {
        let s = Sessions::default();
        let (value, csrf) = s.create();
        assert_eq!(s.csrf(&value), Some(csrf));
        assert_eq!(s.csrf("forged"), None);
        s.remove(&value);
        assert_eq!(s.csrf(&value), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; sluice_session=abc ; b=2".parse().expect("header"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        let set = session_set_cookie("v".into()).to_string();
        for part in [
            "sluice_session=v",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=43200",
        ] {
            assert!(set.contains(part), "{set}");
        }
    }
}
