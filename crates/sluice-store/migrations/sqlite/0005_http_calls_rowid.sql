-- HTTP calls keep their order by SQLite's rowid instead of AUTOINCREMENT, which updated the
-- sqlite_sequence table on every insert (the recorder writes thousands a second). Ids are
-- still increasing: rows are only ever appended, and pruning removes whole old runs.
CREATE TABLE http_calls_new (
    id         INTEGER PRIMARY KEY,
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
INSERT INTO http_calls_new SELECT * FROM http_calls;
DROP TABLE http_calls;
ALTER TABLE http_calls_new RENAME TO http_calls;
CREATE INDEX http_calls_run ON http_calls (run_id, id);
