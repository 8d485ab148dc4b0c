//! The Sluice model: flow and connector types, YAML loading with source spans, and
//! diagnostics.
//!
//! A file is parsed once into a spanned [`Node`] tree (bounded by [`Limits`]), the typed
//! [`Flow`] or [`Connector`] is read from the tree, and every problem becomes a
//! [`Diagnostic`] that points at its node. This crate depends on nothing else of Sluice.

pub mod catalog;
pub mod connector;
pub mod de;
pub mod diagnostic;
pub mod flow;
pub mod load;
pub mod node;
pub mod prepared;
pub mod project;
pub mod relative;
pub mod span;
pub mod suggest;
pub mod value;

pub use catalog::Catalog;
pub use connector::{Connector, Method, Operation, Param, ParamIn};
pub use diagnostic::{Diagnostic, FileReport, Severity};
pub use flow::{Connection, Flow, FlowDocument, Input, InputType, Step, Trigger};
pub use load::{LoadedConnector, LoadedFlow, load_connector, load_connector_tree, load_flow};
pub use node::{Limits, Node, NodeKind};
pub use project::{Credential, Project, SecretSource};
pub use span::{Sp, Span};
pub use value::{Duration, Pages, TemplateValue, Templated};
