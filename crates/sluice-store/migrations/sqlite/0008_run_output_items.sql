-- The items of a run whose output is streamed (a `for_each`'s results written as they come):
-- one row per item, keyed by the item's index in the `for_each` list, so a resumed run that
-- emits an item again keeps the stored one. The run's `output` is then `{"$items": N}`.
CREATE TABLE run_output_items (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    idx    INTEGER NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
