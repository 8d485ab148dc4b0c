//! Sluice templates: `{{ … }}` Handlebars strings in flows.
//!
//! [`detect`] tells what a string holds (and reads plain paths without Handlebars' parser),
//! [`analysis`] gives the planner what a template refers to, [`Compiled`] is a value compiled
//! once and evaluated in a [`Scope`] through the flow's [`Templates`], and [`helpers`] is the
//! one list of helpers that both the planner's checks and the registry read. [`mistakes`]
//! recognises what people write that templates do not do (`{{ now + 2 days }}`).

pub mod analysis;
pub mod compiled;
pub mod detect;
pub mod error;
pub mod helpers;
pub mod jsonpath;
pub mod literals;
pub mod mistakes;
pub mod registry;
pub mod scope;

pub use analysis::{Analysis, Argument, HelperCall, Reference, SyntaxError, analyze};
pub use compiled::{Compiled, Part};
pub use error::TemplateError;
pub use helpers::{Arity, HELPERS, Helper, HelperKind, PatternError, compile_pattern, truthy};
pub use registry::Templates;
pub use scope::Scope;
