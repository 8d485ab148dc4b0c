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
    let store = Store::open(&store_url(given))
        .await
        .map_err(ProjectError::OpenStore)?;
    Ok(with_project_settings(store, project))
}

/// The store with the project's `[runs] max_output_bytes`, if it sets one.
#[must_use]
pub fn with_project_settings(store: Store, project: Option<&Project>) -> Store {
    match project.and_then(|p| p.runs.max_output_bytes) {
        Some(cap) => store.with_output_cap(Some(cap)),
        None => store,
    }
}
