-- OAuth token pairs, shared by every runner of the store: one row per credential, the pair
-- sealed like the secrets (JSON {access_token, refresh_token, expires_at} encrypted). `seed` is
-- the SHA-256 of the configured refresh token the pair descends from: when the operator
-- configures a new one (the app was authorised again), the stored pair is no longer used.
-- Refreshes happen under a write transaction, so one runner refreshes and the others read.
CREATE TABLE oauth_tokens (
    credential TEXT PRIMARY KEY,
    pair       TEXT NOT NULL,
    seed       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
-- Logged-in web sessions: the SHA-256 of the cookie's random value, its CSRF token and when it
-- expires; shared by runners, kept across restarts.
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
