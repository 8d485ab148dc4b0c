//! The Sluice run store: runs, steps, HTTP calls, streamed output items, durable write intents,
//! leases, schedule ticks and a hash-chained audit log, behind one [`Store`] on SQLite (the default, embedded) or
//! PostgreSQL (shared by many runners). Migrations are embedded and applied on [`Store::open`].

mod audit;
mod chunks;
mod crypto;
mod durable;
mod error;
mod fleet;
mod json;
mod migrate;
mod model;
mod oauth;
mod run_reads;
mod runs;
mod secrets;
mod sessions;
mod time;
mod triggers;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

pub use crypto::{KEY_ENV, KEY_FILE_ENV, PREVIOUS_KEYS_ENV, SQLITE_KEY_FILE};
pub use error::StoreError;
pub use fleet::Permit;
pub use json::{
    ITEMS_KEY, TRUNCATED_KEY, is_truncated, items_marker, streamed_items, truncation_marker,
};
pub use model::{
    HttpCall, Lease, NewRun, Omitted, Record, RunDetail, RunFilter, RunHead, RunId, RunStatus,
    RunSummary, StepRecord, StepStatus, VerifyReport, WriteState,
};
pub use oauth::{StoredTokens, TokenLock};
pub use sessions::WebSession;

/// The `error` of an HTTP attempt recorded as sent whose answer was never recorded: the run
/// stopped (was killed) while waiting for it — or, while the run goes on, is still waiting.
pub const NO_ANSWER: &str =
    "no answer: sent, and no answer was recorded (the run stopped while waiting for it)";

/// The default cap on a stored JSON value (output, request, body): 256 KiB of JSON text.
pub const DEFAULT_OUTPUT_CAP: usize = 256 * 1024;

/// How long a SQLite connection waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The run store. Cheap to clone: clones share the connection pools.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    output_cap: Option<usize>,
    /// The keys that seal secrets and OAuth tokens at rest.
    keys: crypto::Keyring,
}

/// The database behind a [`Store`].
#[derive(Clone, Debug)]
enum Backend {
    /// SQLite: one connection for writes (SQLite has one writer at a time; keeping them on one
    /// connection avoids lock contention inside the process) and a few for reads (WAL mode lets
    /// them read while the writer writes).
    Sqlite { write: SqlitePool, read: SqlitePool },
    /// PostgreSQL: one pool.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the pool that writes, once per backend (the body is
/// type-checked for each).
macro_rules! with_write_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { write: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that reads, once per backend.
macro_rules! with_read_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use {with_read_pool, with_write_pool};

/// What differs between the two backends' pools.
pub(crate) trait PoolExt {
    /// The database.
    type Db: sqlx::Database;
    /// Begins a transaction that writes: `BEGIN IMMEDIATE` on SQLite (takes the write lock at
    /// once, so a read-then-write never fails with a busy snapshot), `BEGIN` on PostgreSQL.
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
    /// `FOR UPDATE` on PostgreSQL, nothing on SQLite (whose transaction already holds the lock).
    fn for_update(&self) -> &'static str;
    /// `FOR UPDATE SKIP LOCKED` on PostgreSQL, nothing on SQLite.
    fn skip_locked(&self) -> &'static str;
}

impl PoolExt for SqlitePool {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
    fn for_update(&self) -> &'static str {
        ""
    }
    fn skip_locked(&self) -> &'static str {
        ""
    }
}

impl PoolExt for PgPool {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
    fn for_update(&self) -> &'static str {
        "FOR UPDATE"
    }
    fn skip_locked(&self) -> &'static str {
        "FOR UPDATE SKIP LOCKED"
    }
}

impl Store {
    /// Opens (and migrates) the store at `url`:
    /// - `sqlite://path/to/sluice.db` (or `sqlite:path`, or a plain file path): created with its
    ///   folder if missing; WAL mode, `synchronous=NORMAL` (a crashed process loses nothing
    ///   committed), a 30 s busy timeout for other processes' writes.
    /// - `postgres://user@host:port/db` (or `postgresql://`): sqlx's URL options apply, e.g.
    ///   `?options=-c%20search_path%3Dsluice` to keep the tables in their own schema.
    ///
    /// Migrations are embedded; concurrent openers apply them once (SQLite: an immediate
    /// transaction; PostgreSQL: an advisory lock).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        // Another process opening the same SQLite file at the same moment can hold the lock
        // that switching to WAL needs (SQLite does not wait for it): try again for a while.
        let mut attempt = 0;
        loop {
            match Store::open_once(url).await {
                Err(StoreError::Db(e)) if attempt < 100 && is_locked(&e) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    async fn open_once(url: &str) -> Result<Store, StoreError> {
        let mut sqlite_db = None;
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Backend::Postgres(pool)
        } else if url.contains("://") && !url.starts_with("sqlite:") {
            return Err(StoreError::Url(format!(
                "unsupported store URL `{url}`: use sqlite://PATH or postgres://…"
            )));
        } else {
            let path = sqlite_path(url);
            if path.as_os_str().is_empty() || path.to_string_lossy().contains(":memory:") {
                return Err(StoreError::Url(format!(
                    "`{url}`: the SQLite store needs a file path (in-memory databases are not supported)"
                )));
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            owner_only(&path)?;
            sqlite_db = Some(path.clone());
            let options = if url.starts_with("sqlite:") {
                SqliteConnectOptions::from_str(url)?
            } else {
                SqliteConnectOptions::new().filename(&path)
            };
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(60))
                .connect_with(options.clone().create_if_missing(true))
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(60))
                .connect_lazy_with(options);
            Backend::Sqlite { write, read }
        };
        let store = Store {
            backend,
            output_cap: Some(DEFAULT_OUTPUT_CAP),
            keys: crypto::Keyring::from_env(sqlite_db.as_deref())?,
        };
        migrate::apply(&store).await?;
        if let Some(db) = &sqlite_db {
            // SQLite made the WAL and shared-memory files with the database's mode; an older
            // store's may be wider.
            for suffix in ["-wal", "-shm"] {
                let mut side = db.clone().into_os_string();
                side.push(suffix);
                restrict(Path::new(&side))?;
            }
        }
        store.seal_plain_secrets().await?;
        Ok(store)
    }

    /// Sets the cap on stored JSON values (step outputs, requests, errors, HTTP bodies, run
    /// outputs): a value whose JSON text is longer is replaced by
    /// `{"$truncated": true, "bytes": N, "preview": "…"}`. `None` stores everything.
    #[must_use]
    pub fn with_output_cap(mut self, cap: Option<usize>) -> Store {
        self.output_cap = cap;
        self
    }

    /// Seals secrets and OAuth pairs with this key (base64 or hex of 32 bytes) instead of the
    /// one the environment gives (`$SLUICE_SECRET_KEY`, `$SLUICE_SECRET_KEY_FILE`, or a SQLite
    /// store's key file).
    ///
    /// # Errors
    /// [`StoreError::Key`] when the text is not a key.
    pub fn with_secret_key(mut self, key: &str) -> Result<Store, StoreError> {
        self.keys = self.keys.with_current(key)?;
        Ok(self)
    }

    /// The cap on stored JSON values (see [`Store::with_output_cap`]).
    pub fn output_cap(&self) -> Option<usize> {
        self.output_cap
    }

    /// Where the default SQLite store lives: `$SLUICE_HOME/sluice.db`, else
    /// `./.sluice/sluice.db`.
    pub fn default_sqlite_path() -> PathBuf {
        match std::env::var_os("SLUICE_HOME") {
            Some(home) if !home.is_empty() => Path::new(&home).join("sluice.db"),
            _ => Path::new(".sluice").join("sluice.db"),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Closes the pools, waiting for connections in use to come back.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// Makes the SQLite database file readable and writable by its owner only (0600): a new one
/// is created so before SQLite opens it (its `-wal` and `-shm` files take its mode), an
/// existing one is restricted. Runs and secrets are nobody else's business.
fn owner_only(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    restrict(path)
}

/// Sets mode 0600 on a file of the store, if it exists.
fn restrict(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Whether a database error is SQLite's "database is locked" or "busy".
fn is_locked(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("5" | "6" | "517")),
        _ => false,
    }
}

/// The file path in a SQLite URL (`sqlite://a/b.db?mode=rwc` → `a/b.db`) or a plain path.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let rest = rest.split('?').next().unwrap_or(rest);
    PathBuf::from(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://a/b.db"), PathBuf::from("a/b.db"));
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            PathBuf::from("/tmp/x.db")
        );
        assert_eq!(sqlite_path("sqlite:c.db"), PathBuf::from("c.db"));
        assert_eq!(sqlite_path("d/e.db"), PathBuf::from("d/e.db"));
    }
}
