//! The connector catalog of a project: the connectors built into Sluice plus the YAML files
//! of the project's `connectors/` folder.

use std::path::Path;

use sluice_model::Catalog;

use crate::error::ProjectError;
use crate::read::read_yaml_files;

/// The built-in connectors plus those of `project_dir/connectors/`.
///
/// # Errors
/// The folder cannot be read, or a connector file is invalid (its report is kept).
pub fn catalog(project_dir: Option<&Path>) -> Result<Catalog, ProjectError> {
    let mut sources: Vec<(String, String)> = sluice_connectors::BUILTIN
        .iter()
        .map(|(p, t)| ((*p).to_string(), (*t).to_string()))
        .collect();
    if let Some(dir) = project_dir {
        let connectors = dir.join("connectors");
        if connectors.is_dir() {
            sources.extend(
                read_yaml_files(&connectors)?
                    .into_iter()
                    .map(|(p, t, _)| (p, t)),
            );
        }
    }
    Catalog::from_sources(sources.iter().map(|(p, t)| (p.as_str(), t.as_str())))
        .map_err(ProjectError::Connectors)
}
