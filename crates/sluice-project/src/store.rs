//! Where runs are recorded: `--store`, `SLUICE_STORE`, else `.sluice/sluice.db` (or
//! `$SLUICE_HOME/sluice.db`); opened with the project's `[runs]` settings.

use sluice_model::Project;
use sluice_store::Store;

use crate::error::ProjectError;

/// The store's URL: the one given, else the default SQLite file.
#[must_use]
pub fn store_url(given: Option<&str>) -> String {
    given.map_or_else(
        || format!("sqlite://{}", Store::default_sqlite_path().display()),
        str::to_string,
    )
}

/// Opens the run store (`given`, else the default SQLite file) with the project's output cap.
///
/// # Errors
/// The store cannot be opened or migrated.
pub async fn open_store(
    given: Option<&str>,
    project: Option<&Project>,
) -> Result<Store, ProjectError> {
    let url = store_url(given);
    let store = Store::open(&url)
        .await
        .map_err(|source| ProjectError::OpenStore {
            url: without_password(&url),
            source,
        })?;
    Ok(with_project_settings(store, project))
}

/// A store URL fit to show: `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
#[must_use]
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// The store with the project's `[runs] max_output_bytes`, if it sets one.
#[must_use]
pub fn with_project_settings(store: Store, project: Option<&Project>) -> Store {
    match project.and_then(|p| p.runs.max_output_bytes) {
        Some(cap) => store.with_output_cap(Some(cap)),
        None => store,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_and_nothing_else_changes() {
        assert_eq!(
            without_password("postgres://app:s3cr@t@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            without_password("postgres://app@db/x"),
            "postgres://app@db/x"
        );
        assert_eq!(without_password("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
    }
}
