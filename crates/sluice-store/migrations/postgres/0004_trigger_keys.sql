-- What webhook, task_due and poll triggers have fired: one row per (trigger, key), written in
-- the same transaction as the run it queued, so an item is never fired twice nor skipped.
-- `run_id` is NULL for keys recorded without a run (a poll trigger's first look).
CREATE TABLE trigger_keys (
    trigger  TEXT NOT NULL,
    key      TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    run_id   TEXT,
    PRIMARY KEY (trigger, key)
);
