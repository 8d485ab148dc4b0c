//! Who may use the runner: the bearer token (compared in constant time), and the web view's
//! logged-in sessions — a random cookie value (stored hashed, in the run store) with its CSRF token, which every
//! form and every cookie-authenticated API call other than GET must present.

use std::time::Duration;

use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "sluice_session";
/// How long a session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
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

/// Logged-in browser sessions, kept in the run store (they survive a restart and every runner
/// of the store knows them): the SHA-256 of the cookie's random value → its CSRF token and
/// expiry. The cookie's value itself is stored nowhere.
pub(crate) struct Sessions {
    store: sluice_store::Store,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn session_key(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sessions {
    /// The sessions of this store.
    pub(crate) fn new(store: sluice_store::Store) -> Self {
        Self { store }
    }

    /// A new session: (cookie value, CSRF token); `None` when the store cannot record it.
    pub(crate) async fn create(&self) -> Option<(String, String)> {
        let value = random_token();
        let csrf = random_token();
        match self
            .store
            .create_session(&session_key(&value), &csrf, SESSION_TTL)
            .await
        {
            Ok(_) => Some((value, csrf)),
            Err(e) => {
                tracing::error!(error = %e, "Cannot record a web session.");
                None
            }
        }
    }

    /// The CSRF token of a live session.
    pub(crate) async fn csrf(&self, value: &str) -> Option<String> {
        match self.store.session(&session_key(value)).await {
            Ok(session) => session.map(|s| s.csrf),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read a web session.");
                None
            }
        }
    }

    /// Ends a session.
    pub(crate) async fn remove(&self, value: &str) {
        if let Err(e) = self.store.end_session(&session_key(value)).await {
            tracing::warn!(error = %e, "Cannot end a web session.");
        }
    }

    /// The CSRF token of the live session whose cookie the request carries.
    pub(crate) async fn of_request(&self, headers: &HeaderMap) -> Option<String> {
        match session_cookie(headers) {
            Some(v) => self.csrf(&v).await,
            None => None,
        }
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
pub(crate) async fn session_allows(
    sessions: &Sessions,
    method: &Method,
    headers: &HeaderMap,
) -> bool {
    let Some(csrf) = sessions.of_request(headers).await else {
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

    #[tokio::test]
    async fn sessions_live_in_the_store_and_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("s.db").display());
        let store = sluice_store::Store::open(&url).await.expect("store");
        let s = Sessions::new(store);
        let (value, csrf) = s.create().await.expect("session");
        assert_eq!(s.csrf(&value).await, Some(csrf.clone()));
        assert_eq!(s.csrf("forged").await, None);
        // Another runner (another `Sessions` on the same store, e.g. after a restart) knows it.
        let again = Sessions::new(sluice_store::Store::open(&url).await.expect("store"));
        assert_eq!(again.csrf(&value).await, Some(csrf));
        again.remove(&value).await;
        assert_eq!(s.csrf(&value).await, None);
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
