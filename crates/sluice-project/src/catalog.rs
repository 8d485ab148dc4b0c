//! The connector catalog of a project: the connectors built into Sluice plus the YAML files
//! of the project's `connectors/` folder.

use std::path::Path;

use sluice_model::Catalog;

use crate::error::ProjectError;
use crate::read::read_yaml_files;

/// The built-in connectors (each read when first used) plus those of `project_dir/connectors/`
/// (read now, and replacing a built-in one of the same name).
///
/// # Errors
/// The folder cannot be read, or a connector file is invalid (its report is kept).
pub fn catalog(project_dir: Option<&Path>) -> Result<Catalog, ProjectError> {
    let mut catalog = Catalog::lazy(sluice_connectors::BUILTIN);
    if let Some(dir) = project_dir {
        let connectors = dir.join("connectors");
        if connectors.is_dir() {
            let sources = read_yaml_files(&connectors)?;
            let own =
                Catalog::from_sources(sources.iter().map(|(p, t, _)| (p.as_str(), t.as_str())))
                    .map_err(ProjectError::Connectors)?;
            for connector in own.iter() {
                catalog.insert(connector.clone());
            }
        }
    }
    Ok(catalog)
}
