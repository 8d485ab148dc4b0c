-- The run store, SQLite dialect. Times are RFC 3339 text in UTC with microseconds
-- ("2025-01-02T03:04:05.000006Z"), so text order is time order. JSON is stored as text, byte for
-- byte (key order kept). `item` is -1 for a step that is not a `for_each` item.

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    flow_hash   TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    status      TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    owner       TEXT,
    lease_until TEXT,
    claims      INTEGER NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT
);
CREATE INDEX runs_status_created ON runs (status, created_at);
CREATE INDEX runs_flow_created ON runs (flow, created_at);
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE steps (
    run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step            TEXT NOT NULL,
    item            INTEGER NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    request         TEXT,
    response_status INTEGER,
    output          TEXT,
    error           TEXT,
    started_at      TEXT NOT NULL,
    finished_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, step, item)
);

CREATE TABLE http_calls (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       TEXT NOT NULL,
    item       INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    method     TEXT NOT NULL,
    url        TEXT NOT NULL,
    headers    TEXT NOT NULL,
    body       TEXT,
    status     INTEGER,
    elapsed_ms INTEGER NOT NULL,
    at         TEXT NOT NULL,
    error      TEXT
);
CREATE INDEX http_calls_run ON http_calls (run_id, id);

CREATE TABLE write_intents (
    key        TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    request    TEXT NOT NULL,
    response   TEXT,
    created_at TEXT NOT NULL,
    done_at    TEXT
);
CREATE INDEX write_intents_run ON write_intents (run_id);

CREATE TABLE schedule_fires (
    flow      TEXT NOT NULL,
    fire_time TEXT NOT NULL,
    fired_at  TEXT NOT NULL,
    run_id    TEXT,
    PRIMARY KEY (flow, fire_time)
);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    run_id    TEXT,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- One row: the last record's seq and hash. Appends lock it, so the chain never forks, and
-- verification compares it with the last record, so a cut-off tail is noticed.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
