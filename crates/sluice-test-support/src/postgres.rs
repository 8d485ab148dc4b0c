//! A PostgreSQL schema of its own for one test, on the server `SLUICE_TEST_POSTGRES` names
//! (scripts/test.sh starts one): tests that need PostgreSQL fail without it, never skip.

/// Creates (afresh) the schema `NAME_PID` and returns a store URL whose connections use it.
///
/// # Panics
/// When `SLUICE_TEST_POSTGRES` is not set or the server cannot be reached.
pub async fn pg_schema(name: &str) -> String {
    use sqlx::Connection as _;
    let base = std::env::var("SLUICE_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_POSTGRES is not set: this test needs PostgreSQL (scripts/test.sh starts one); it fails rather than skips")
    });
    let schema = format!("{name}_{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at SLUICE_TEST_POSTGRES: {e}"));
    sqlx::Executor::execute(
        &mut conn,
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}").as_str(),
    )
    .await
    .unwrap_or_else(|e| panic!("schema {schema}: {e}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}
