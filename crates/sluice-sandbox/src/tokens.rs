//! Who a bearer token speaks for ([`Principal`]), and the OAuth tokens and codes the token
//! endpoint knows ([`OAuthState`]): refresh tokens and codes are single-use, and issued
//! access tokens keep working until they expire, measured with tokio's clock.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::config::{OAuthClient, TokenGrant};
use crate::util::new_id;

/// The caller of a GHL route, once its token is known.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub(crate) grant: TokenGrant,
    /// What rate limits are counted per: the token (the OAuth app for OAuth tokens) and location.
    pub(crate) rate_key: String,
}

#[derive(Clone, Debug)]
struct Access {
    client_id: String,
    grant: TokenGrant,
    expires: Instant,
}

/// Valid refresh tokens and codes (each naming its client), and issued access tokens.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    refresh: HashMap<String, String>,
    codes: HashMap<String, String>,
    access: HashMap<String, Access>,
    pub(crate) refreshes: u64,
}

impl OAuthState {
    pub(crate) fn new(clients: &[OAuthClient]) -> Self {
        let mut s = Self::default();
        for c in clients {
            for r in &c.refresh_tokens {
                s.refresh.insert(r.clone(), c.client_id.clone());
            }
            for code in &c.auth_codes {
                s.codes.insert(code.clone(), c.client_id.clone());
            }
        }
        s
    }

    /// The grant of an OAuth access token that has not expired. Rate limits are counted per
    /// app and location (FACTS §6), so all tokens of one app share a budget.
    pub(crate) fn access_grant(&self, token: &str, now: Instant) -> Option<Principal> {
        let a = self.access.get(token)?;
        (now < a.expires).then(|| Principal {
            grant: a.grant.clone(),
            rate_key: format!("app:{}|{}", a.client_id, a.grant.location_id),
        })
    }

    /// Uses up a refresh token issued to `client_id` (and counts the refresh); false when it
    /// was already used or never issued to that client.
    pub(crate) fn redeem_refresh_token(&mut self, presented: &str, client_id: &str) -> bool {
        if self.refresh.get(presented).map(String::as_str) != Some(client_id) {
            return false;
        }
        self.refresh.remove(presented);
        self.refreshes += 1;
        true
    }

    /// Uses up an authorization code issued to `client_id`; false when it was already used or
    /// never issued to that client.
    pub(crate) fn redeem_code(&mut self, code: &str, client_id: &str) -> bool {
        if self.codes.get(code).map(String::as_str) != Some(client_id) {
            return false;
        }
        self.codes.remove(code);
        true
    }

    /// Issues a new access token (valid for the client's TTL from `now`) and refresh token:
    /// `(access_token, refresh_token)`.
    pub(crate) fn issue(&mut self, client: &OAuthClient, now: Instant) -> (String, String) {
        let access_token = format!("sbx-at-{}", new_id());
        let refresh_token = format!("sbx-rt-{}", new_id());
        let grant = TokenGrant {
            token: access_token.clone(),
            location_id: client.location_id.clone(),
            scopes: client.scopes.clone(),
            user_id: client.user_id.clone(),
        };
        self.access.insert(
            access_token.clone(),
            Access {
                client_id: client.client_id.clone(),
                grant,
                expires: now + client.access_token_ttl,
            },
        );
        self.refresh
            .insert(refresh_token.clone(), client.client_id.clone());
        (access_token, refresh_token)
    }
}
