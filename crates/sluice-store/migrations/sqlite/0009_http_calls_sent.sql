-- A read's HTTP attempt is recorded when it is sent (no answer yet) and completed when its
-- answer comes: both records carry the attempt's `sent_id`, and the second replaces the first.
-- (NULL for attempts recorded once, after their answer — most of them: those rows are not in
-- the index, which only the two-part records need.)
ALTER TABLE http_calls ADD COLUMN sent_id INTEGER;
CREATE UNIQUE INDEX http_calls_sent ON http_calls (run_id, sent_id) WHERE sent_id IS NOT NULL;
