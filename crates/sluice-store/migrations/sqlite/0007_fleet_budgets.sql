-- Rate budgets shared by the runners of one store: a sliding-window log per budget (a limit and
-- the credential/location it counts for). `rate_budgets` has one row per budget, locked while a
-- permit is claimed; `rate_permits` holds the instants (Unix microseconds) of its permits of
-- the last window.
CREATE TABLE rate_budgets (
    budget TEXT PRIMARY KEY
);
CREATE TABLE rate_permits (
    budget TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX rate_permits_budget_at ON rate_permits (budget, at);
-- Looks at polled sources (`task_due`, `poll`): one runner per trigger and period takes it.
CREATE TABLE trigger_looks (
    trigger TEXT NOT NULL,
    period  BIGINT NOT NULL,
    runner  TEXT NOT NULL,
    PRIMARY KEY (trigger, period)
);
