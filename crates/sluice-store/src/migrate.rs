//! Embedded schema migrations, one folder per backend, applied in order on open. Concurrent
//! openers apply each one once: SQLite takes the write lock, PostgreSQL an advisory lock.

use sqlx::Row;

use crate::{Backend, PoolExt, Store, StoreError, time};

/// A migration: version, name, SQL.
type Migration = (i64, &'static str, &'static str);

const SQLITE: &[Migration] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "secrets",
        include_str!("../migrations/sqlite/0002_secrets.sql"),
    ),
    (
        3,
        "flow_path",
        include_str!("../migrations/sqlite/0003_flow_path.sql"),
    ),
    (
        4,
        "trigger_keys",
        include_str!("../migrations/sqlite/0004_trigger_keys.sql"),
    ),
    (
        5,
        "http_calls_rowid",
        include_str!("../migrations/sqlite/0005_http_calls_rowid.sql"),
    ),
    (
        6,
        "oauth_tokens_sessions",
        include_str!("../migrations/sqlite/0006_oauth_tokens_sessions.sql"),
    ),
    (
        7,
        "fleet_budgets",
        include_str!("../migrations/sqlite/0007_fleet_budgets.sql"),
    ),
    (
        8,
        "run_output_items",
        include_str!("../migrations/sqlite/0008_run_output_items.sql"),
    ),
    (
        9,
        "http_calls_sent",
        include_str!("../migrations/sqlite/0009_http_calls_sent.sql"),
    ),
    (
        10,
        "rate_budget_pauses",
        include_str!("../migrations/sqlite/0010_rate_budget_pauses.sql"),
    ),
];
const POSTGRES: &[Migration] = &[
    (
        1,
        "init",
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "secrets",
        include_str!("../migrations/postgres/0002_secrets.sql"),
    ),
    (
        3,
        "flow_path",
        include_str!("../migrations/postgres/0003_flow_path.sql"),
    ),
    (
        4,
        "trigger_keys",
        include_str!("../migrations/postgres/0004_trigger_keys.sql"),
    ),
    (
        5,
        "http_calls_rowid",
        include_str!("../migrations/postgres/0005_http_calls_rowid.sql"),
    ),
    (
        6,
        "oauth_tokens_sessions",
        include_str!("../migrations/postgres/0006_oauth_tokens_sessions.sql"),
    ),
    (
        7,
        "fleet_budgets",
        include_str!("../migrations/postgres/0007_fleet_budgets.sql"),
    ),
    (
        8,
        "run_output_items",
        include_str!("../migrations/postgres/0008_run_output_items.sql"),
    ),
    (
        9,
        "http_calls_sent",
        include_str!("../migrations/postgres/0009_http_calls_sent.sql"),
    ),
    (
        10,
        "rate_budget_pauses",
        include_str!("../migrations/postgres/0010_rate_budget_pauses.sql"),
    ),
];

/// The key of the PostgreSQL advisory lock held while migrating.
const PG_LOCK_KEY: i64 = 0x51_1C_E5_70_12_E0_00_01;

/// Applies the migrations the database lacks.
pub(crate) async fn apply(store: &Store) -> Result<(), StoreError> {
    let migrations = match &store.backend {
        Backend::Sqlite { .. } => SQLITE,
        Backend::Postgres(_) => POSTGRES,
    };
    let known = migrations.last().map_or(0, |m| m.0);
    let applied_at = time::text(time::now());
    crate::with_write_pool!(store, pool => {
        let mut tx = pool.begin_write().await?;
        if matches!(store.backend, Backend::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
        }
        // (`Executor::execute` with plain SQL text, not `raw_sql`: the latter's future is not
        // `Send` for every lifetime, so a caller spawned on tokio would not compile.)
        sqlx::Executor::execute(
            &mut *tx,
            "CREATE TABLE IF NOT EXISTS sluice_migrations (\
                version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .await?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM sluice_migrations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        if current > known {
            return Err(StoreError::SchemaTooNew { found: current, known });
        }
        for (version, name, sql) in migrations.iter().filter(|m| m.0 > current) {
            sqlx::Executor::execute(&mut *tx, *sql).await?;
            sqlx::query("INSERT INTO sluice_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(version)
                .bind(name)
                .bind(&applied_at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}
