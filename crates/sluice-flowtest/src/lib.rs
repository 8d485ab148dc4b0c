//! `sluice test` as a library: runs flows against their fixture files (`FLOW.test.yaml`) —
//! canned answers, the built-in sandbox (cargo feature `sandbox`) or a recorded cassette — and
//! compares output, status and requests with what each case expects; `update` rewrites
//! expectations, `record` records cassettes. [`run`] takes a [`TestConfig`]; [`check_fixture`]
//! checks a fixture's text without running it and [`fixture_schema`] is its JSON Schema.

mod case;
mod cassette;
mod compare;
mod discover;
mod exchange;
mod expect;
mod file;
mod fixture;
mod sandbox;
mod server;
mod yaml;

use std::path::PathBuf;

use sluice_project::ConnectionOverride;

pub use fixture::{check_fixture, fixture_schema};

/// What `sluice test` is asked to do.
#[derive(Clone, Debug, Default)]
pub struct TestConfig {
    /// Flows, fixture files (`FLOW.test.yaml`) or folders.
    pub paths: Vec<PathBuf>,
    /// Rewrite the `expect:` of failing cases with what happened.
    pub update: bool,
    /// Record the cassettes of cases with `cassette:`.
    pub record: bool,
    /// Only the cases whose name contains this text.
    pub case: Option<String>,
    /// With `record`: connections recorded from a live endpoint instead of the sandbox.
    pub connections: Vec<ConnectionOverride>,
    /// Colour in the diagnostics of invalid fixture files.
    pub color: bool,
}

/// Why the tests cannot be run at all.
#[derive(Debug, thiserror::Error)]
pub enum FlowtestError {
    /// A folder cannot be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A path does not exist.
    #[error("{}: no such file or folder", .0.display())]
    NotFound(PathBuf),
    /// A flow was given without a fixture next to it.
    #[error("{}: no fixture file `{}` next to it; write one (see docs/testing.md)", .flow.display(), .fixture.display())]
    NoFixture {
        /// The flow.
        flow: PathBuf,
        /// The fixture file it needs.
        fixture: PathBuf,
    },
    /// Nothing to test.
    #[error("no fixture files (`FLOW.test.yaml`) found; see docs/testing.md")]
    NothingToTest,
}

/// How the cases went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases whose expectations were rewritten.
    pub updated: usize,
    /// Cases recorded.
    pub recorded: usize,
    /// Fixture files that could not be tested.
    pub usage: usize,
}

/// Runs every case of the fixtures found in `config.paths` (default `workflows`), printing one
/// line per case and a summary on stdout.
///
/// # Errors
/// A path that does not exist, a flow without a fixture, no fixture at all.
pub async fn run(config: &TestConfig) -> Result<Totals, FlowtestError> {
    let paths = if config.paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        config.paths.clone()
    };
    let found = discover::discover(&paths)?;
    let mut totals = Totals::default();
    for path in &found.fixtures {
        file::test_file(path, config, &mut totals).await;
    }
    for p in &found.without {
        eprintln!("note: {} has no fixture file", p.display());
    }
    println!("\n{}", summary(&totals, found.fixtures.len()));
    Ok(totals)
}

/// `test result: ok. 3 passed, 0 failed (2 files)`.
fn summary(totals: &Totals, files: usize) -> String {
    let verdict = if totals.usage > 0 {
        "ERROR"
    } else if totals.failed > 0 {
        "FAILED"
    } else {
        "ok"
    };
    let mut text = format!(
        "test result: {verdict}. {} passed, {} failed",
        totals.passed, totals.failed
    );
    if totals.updated > 0 {
        text.push_str(&format!(", {} updated", totals.updated));
    }
    if totals.recorded > 0 {
        text.push_str(&format!(", {} recorded", totals.recorded));
    }
    if totals.usage > 0 {
        text.push_str(&format!(", {} file(s) could not be tested", totals.usage));
    }
    text.push_str(&format!(
        " ({files} file{})",
        if files == 1 { "" } else { "s" }
    ));
    text
}
