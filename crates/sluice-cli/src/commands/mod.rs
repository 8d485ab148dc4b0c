//! One module per `sluice` subcommand.

pub(crate) mod connector;
pub(crate) mod init;
pub(crate) mod lsp;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod sandbox;
pub(crate) mod schema;
pub(crate) mod secrets;
pub(crate) mod serve;
pub(crate) mod test;
pub(crate) mod validate;
