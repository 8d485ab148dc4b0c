//! What can go wrong in the store: the database, a bad URL, unexpected data, a missing run.

/// An error from the run store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed (connection, SQL, constraint).
    #[error("run store database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The store URL is not one the store understands.
    #[error("{0}")]
    Url(String),
    /// A file could not be created or written (the SQLite folder, an export).
    #[error("run store I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A JSON value could not be written.
    #[error("run store JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The database holds something the store did not write (bad JSON, an unknown status).
    #[error("run store data is not as expected: {0}")]
    Corrupt(String),
    /// The key that seals secrets is missing, malformed or not the one a value was sealed with.
    #[error("{0}")]
    Key(String),
    /// No such run.
    #[error("no run with id {0}")]
    NotFound(String),
    /// The call itself was wrong (e.g. finishing a run with a status that is not final).
    #[error("{0}")]
    Invalid(String),
    /// The database was migrated by a newer Sluice.
    #[error(
        "the run store's schema is version {found}, newer than this Sluice knows ({known}); upgrade Sluice"
    )]
    SchemaTooNew {
        /// The database's version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
}
