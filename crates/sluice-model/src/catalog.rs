//! The set of connectors a flow can use, by name.

use indexmap::IndexMap;

use crate::connector::{Connector, Operation};
use crate::diagnostic::FileReport;
use crate::load::load_connector;
use crate::node::Limits;

/// Connectors by name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    connectors: IndexMap<String, Connector>,
}

impl Catalog {
    /// An empty catalog.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads connector files `(path, text)` into a catalog; a later file of the same name
    /// replaces an earlier one (project connectors override built-in ones).
    ///
    /// # Errors
    /// The report of every file that could not be read.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Vec<FileReport>> {
        let mut catalog = Self::new();
        let mut failed = Vec::new();
        for (path, text) in sources {
            let loaded = load_connector(path, text, &Limits::default());
            match loaded.connector {
                Some(c) if loaded.report.error_count() == 0 => catalog.insert(c),
                _ => failed.push(loaded.report),
            }
        }
        if failed.is_empty() {
            Ok(catalog)
        } else {
            Err(failed)
        }
    }

    /// Adds or replaces a connector.
    pub fn insert(&mut self, connector: Connector) {
        self.connectors
            .insert(connector.name.value.clone(), connector);
    }

    /// The connector of this name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Connector> {
        self.connectors.get(name)
    }

    /// An operation of a connector.
    #[must_use]
    pub fn operation(&self, connector: &str, operation: &str) -> Option<&Operation> {
        self.get(connector)?.operation(operation)
    }

    /// Connector names, in the order they were added.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connectors.keys().map(String::as_str)
    }

    /// Every connector.
    pub fn iter(&self) -> impl Iterator<Item = &Connector> {
        self.connectors.values()
    }
}
