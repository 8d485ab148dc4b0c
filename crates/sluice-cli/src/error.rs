//! Errors as `sluice` prints them, once, at the end: the reports of invalid files (rendered
//! like a compiler's), then `error: …`, each cause on its own `Caused by:` line, and a hint
//! when there is something to do about it.

use std::fmt::Write as _;

use sluice_flowtest::FlowtestError;
use sluice_model::FileReport;
use sluice_project::ProjectError;
use sluice_server::ServeError;
use sluice_store::StoreError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Reading the project, its flows, credentials or store.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Starting the runner service.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// Running flow tests.
    #[error(transparent)]
    Flowtest(#[from] FlowtestError),
    /// The run store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Recording a run.
    #[error(transparent)]
    Journal(#[from] sluice_engine::JournalError),
    /// A file or the terminal.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Anything else, in a sentence.
    #[error("{0}")]
    Message(String),
    /// An error with something to do about it.
    #[error("{error}")]
    Hinted {
        /// The error.
        #[source]
        error: Box<CliError>,
        /// What to do.
        hint: String,
    },
}

impl CliError {
    /// A sentence.
    pub(crate) fn msg(text: impl Into<String>) -> Self {
        Self::Message(text.into())
    }

    /// This error with a hint.
    pub(crate) fn hint(self, hint: impl Into<String>) -> Self {
        Self::Hinted {
            error: Box::new(self),
            hint: hint.into(),
        }
    }

    /// Reports of invalid files to show before the error.
    fn reports(&self) -> &[FileReport] {
        match self {
            Self::Project(e) => e.reports(),
            Self::Serve(ServeError::Project(e)) => e.reports(),
            Self::Hinted { error, .. } => error.reports(),
            _ => &[],
        }
    }

    /// The error's own hint, or one for a well-known cause.
    fn hint_text(&self) -> Option<String> {
        match self {
            Self::Hinted { hint, .. } => Some(hint.clone()),
            Self::Project(ProjectError::OpenStore { .. })
            | Self::Serve(ServeError::Project(ProjectError::OpenStore { .. })) => Some(
                "the store is `--store URL` or $SLUICE_STORE (`sqlite://PATH` or `postgres://…`), else `.sluice/sluice.db`".into(),
            ),
            _ => None,
        }
    }

    /// The text printed on stderr: reports, `error: …`, causes, hint.
    pub(crate) fn render(&self, color: bool) -> String {
        let mut out = String::new();
        for r in self.reports() {
            out.push_str(&r.render(color));
        }
        let _ = writeln!(out, "error: {self}");
        // A `Hinted` error's own text is its inner error's: start the causes below that.
        let mut cause = match self {
            Self::Hinted { error, .. } => std::error::Error::source(error.as_ref()),
            _ => std::error::Error::source(self),
        };
        let mut last = self.to_string();
        while let Some(e) = cause {
            let text = e.to_string();
            // `transparent` wrappers repeat their inner text: show each sentence once.
            if !last.contains(&text) {
                let _ = writeln!(out, "  Caused by: {text}");
            }
            last = text;
            cause = e.source();
        }
        if let Some(hint) = self.hint_text() {
            let _ = writeln!(out, "\nhint: {hint}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_and_hints_are_shown_once_each() {
        let store = StoreError::Url("connection refused".into());
        let e = CliError::from(ProjectError::OpenStore {
            url: "postgres://a:***@b/c".into(),
            source: store,
        });
        let text = e.render(false);
        assert_eq!(
            text,
            "error: cannot open the run store `postgres://a:***@b/c`\n  Caused by: connection refused\n\nhint: the store is `--store URL` or $SLUICE_STORE (`sqlite://PATH` or `postgres://…`), else `.sluice/sluice.db`\n",
            "{text}"
        );
        let e = CliError::msg("no run `x` in the store").hint("`sluice runs list` shows the runs");
        assert_eq!(
            e.render(false),
            "error: no run `x` in the store\n\nhint: `sluice runs list` shows the runs\n"
        );
    }
}
