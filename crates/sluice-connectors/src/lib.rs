//! The connectors built into Sluice, as data: the YAML files of `connectors/` are compiled
//! into the binary, so a flow can use `ghl-contacts` or `ipinfo` without any file beside it.
//! Project connectors of the same name, loaded after these, replace them.

use sluice_model::{Catalog, FileReport};

/// The built-in connector files: `(path in the repository, YAML text)`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "connectors/ghl-contacts.yaml",
        include_str!("../../../connectors/ghl-contacts.yaml"),
    ),
    (
        "connectors/ipinfo.yaml",
        include_str!("../../../connectors/ipinfo.yaml"),
    ),
];

/// Reads the built-in connectors into a catalog.
///
/// # Errors
/// The report of every built-in file that could not be read (a bug of this crate; the tests
/// check that none fails).
pub fn builtin_catalog() -> Result<Catalog, Vec<FileReport>> {
    Catalog::from_sources(BUILTIN.iter().copied())
}
