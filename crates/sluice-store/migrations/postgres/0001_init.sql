-- The run store, PostgreSQL dialect: the same tables, keys and indexes as the SQLite one, with
-- timestamptz times and BIGINT numbers. JSON is stored as text, byte for byte (key order kept).
-- `item` is -1 for a step that is not a `for_each` item.

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    flow_hash   TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    inputs      TEXT NOT NULL,
    status      TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    created_at  TIMESTAMPTZ NOT NULL,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    owner       TEXT,
    lease_until TIMESTAMPTZ,
    claims      BIGINT NOT NULL DEFAULT 0,
    output      TEXT,
    error       TEXT
);
CREATE INDEX runs_status_created ON runs (status, created_at);
CREATE INDEX runs_flow_created ON runs (flow, created_at);
CREATE INDEX runs_created ON runs (created_at);

CREATE TABLE steps (
    run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step            TEXT NOT NULL,
    item            BIGINT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    request         TEXT,
    response_status BIGINT,
    output          TEXT,
    error           TEXT,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (run_id, step, item)
);

CREATE TABLE http_calls (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       TEXT NOT NULL,
    item       BIGINT NOT NULL,
    attempt    BIGINT NOT NULL,
    method     TEXT NOT NULL,
    url        TEXT NOT NULL,
    headers    TEXT NOT NULL,
    body       TEXT,
    status     BIGINT,
    elapsed_ms BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    error      TEXT
);
CREATE INDEX http_calls_run ON http_calls (run_id, id);

CREATE TABLE write_intents (
    key        TEXT PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    request    TEXT NOT NULL,
    response   TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    done_at    TIMESTAMPTZ
);
CREATE INDEX write_intents_run ON write_intents (run_id);

CREATE TABLE schedule_fires (
    flow      TEXT NOT NULL,
    fire_time TIMESTAMPTZ NOT NULL,
    fired_at  TIMESTAMPTZ NOT NULL,
    run_id    TEXT,
    PRIMARY KEY (flow, fire_time)
);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT NOT NULL,
    run_id    TEXT,
    payload   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE FUNCTION sluice_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION sluice_audit_append_only();

-- One row: the last record's seq and hash. Appends lock it (SELECT ... FOR UPDATE), so the chain
-- never forks, and verification compares it with the last record, so a cut-off tail is noticed.
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
