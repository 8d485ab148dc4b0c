-- A pause of a shared rate budget: when one runner's API answer says to stop (a 429's
-- Retry-After, a spent X-RateLimit-Remaining), no runner of the store is granted a permit of
-- that budget before `paused_until` (Unix microseconds).
ALTER TABLE rate_budgets ADD COLUMN paused_until BIGINT;
