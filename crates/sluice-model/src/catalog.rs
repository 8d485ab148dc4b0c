//! The set of connectors a flow can use, by name. Built-in connectors can be registered
//! unread ([`Catalog::lazy`]) and are read when first asked for, from their node tree
//! prepared at build time, so a run pays only for the connectors it uses, and not the YAML
//! parser's price for those.

use std::sync::OnceLock;

use indexmap::IndexMap;

use crate::connector::{Connector, Operation};
use crate::diagnostic::FileReport;
use crate::load::{load_connector, load_connector_tree};
use crate::node::Limits;
use crate::prepared::read_prepared;

/// Connectors by name.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    connectors: IndexMap<String, Slot>,
}

/// A connector, read or still to be read.
#[derive(Clone, Debug)]
enum Slot {
    Read(Box<Connector>),
    /// A known-good file (built in, checked by its crate's tests), read on first use from
    /// its prepared tree ([`crate::prepared`]; the YAML text if that cannot be read); `None` if
    /// it does not load after all.
    Unread {
        path: &'static str,
        text: &'static str,
        tree: &'static str,
        read: OnceLock<Option<Box<Connector>>>,
    },
}

impl Slot {
    fn get(&self) -> Option<&Connector> {
        match self {
            Slot::Read(c) => Some(c),
            Slot::Unread {
                path,
                text,
                tree,
                read,
            } => read
                .get_or_init(|| {
                    let loaded = match read_prepared(tree) {
                        Ok(root) => load_connector_tree(path, text, &root),
                        Err(_) => load_connector(path, text, &Limits::default()),
                    };
                    loaded
                        .connector
                        .filter(|_| loaded.report.error_count() == 0)
                        .map(Box::new)
                })
                .as_deref(),
        }
    }
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

    /// A catalog of known-good connector files `(path, text, prepared tree)` (the built-in
    /// ones), each read when first asked for. A connector's name is its file's stem
    /// (`connectors/NAME.yaml`).
    #[must_use]
    pub fn lazy(sources: &[(&'static str, &'static str, &'static str)]) -> Self {
        let connectors = sources
            .iter()
            .map(|&(path, text, tree)| {
                let stem = std::path::Path::new(path)
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
                let slot = Slot::Unread {
                    path,
                    text,
                    tree,
                    read: OnceLock::new(),
                };
                (stem, slot)
            })
            .collect();
        Self { connectors }
    }

    /// Adds or replaces a connector.
    pub fn insert(&mut self, connector: Connector) {
        self.connectors.insert(
            connector.name.value.clone(),
            Slot::Read(Box::new(connector)),
        );
    }

    /// The connector of this name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Connector> {
        self.connectors.get(name)?.get()
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

    /// Every connector (reading those not read yet).
    pub fn iter(&self) -> impl Iterator<Item = &Connector> {
        self.connectors.values().filter_map(Slot::get)
    }
}
