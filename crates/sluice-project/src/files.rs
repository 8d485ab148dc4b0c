//! Finding and reading flow files and the project file (`sluice.toml`) around them: a
//! [`FlowSet`] is the files asked for plus their folders' other flows (context for `flow:`
//! steps), checked together.

use std::path::{Path, PathBuf};

use sluice_model::{Catalog, FlowDocument, Limits, Project};
use sluice_plan::Validated;

use crate::error::ProjectError;
use crate::read::{read_text, read_yaml_files, report_encoding};

/// One checked file of a [`FlowSet`].
pub struct CheckedFile {
    /// Whether the file was asked for (not only context).
    pub asked: bool,
    /// The checks' result (the document taken out of it: see `document`).
    pub validated: Validated,
    /// The typed flow, when it could be read.
    pub document: Option<FlowDocument>,
    /// The file's text.
    pub source: String,
}

/// Flow files to check, with their folders' other flows as context for `flow:` steps.
pub struct FlowSet {
    /// `(asked for, path, text, offset of the first byte that is not UTF-8)`.
    files: Vec<(bool, String, String, Option<usize>)>,
    project: Option<Project>,
    project_dir: Option<PathBuf>,
}

/// The nearest `sluice.toml` at or above `dir`.
#[must_use]
pub fn find_project(dir: &Path) -> Option<PathBuf> {
    let start = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let abs = std::path::absolute(start).ok()?;
    abs.ancestors()
        .map(|d| d.join(sluice_model::project::PROJECT_FILE))
        .find(|p| p.is_file())
}

impl FlowSet {
    /// No files and no project.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            files: Vec::new(),
            project: None,
            project_dir: None,
        }
    }

    /// Reads the given files and folders, and the other flows of their folders.
    ///
    /// # Errors
    /// A path that does not exist, a file that cannot be read, an invalid `sluice.toml`.
    pub fn load(paths: &[PathBuf]) -> Result<Self, ProjectError> {
        let mut files: Vec<(bool, String, String, Option<usize>)> = Vec::new();
        let mut context_dirs: Vec<PathBuf> = Vec::new();
        for path in paths {
            if path.is_dir() {
                for (p, text, bad) in read_yaml_files(path)? {
                    files.push((true, p, text, bad));
                }
                context_dirs.push(path.clone());
            } else if path.is_file() {
                let (text, bad) = read_text(path)?;
                files.push((true, path.display().to_string(), text, bad));
                context_dirs.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
            } else {
                return Err(ProjectError::NotFound(path.clone()));
            }
        }
        for dir in &context_dirs {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            for (p, text, bad) in read_yaml_files(dir).unwrap_or_default() {
                if !files.iter().any(|(_, q, _, _)| same_file(q, &p)) {
                    files.push((false, p, text, bad));
                }
            }
        }
        let (project, project_dir) = match context_dirs.first().and_then(|d| find_project(d)) {
            Some(path) => (
                Some(read_project(&path)?),
                path.parent().map(Path::to_path_buf),
            ),
            None => (None, None),
        };
        Ok(Self {
            files,
            project,
            project_dir,
        })
    }

    /// The catalog: built-in connectors plus the project's.
    ///
    /// # Errors
    /// A project connector file is invalid.
    pub fn catalog(&self) -> Result<Catalog, ProjectError> {
        crate::catalog(self.project_dir.as_deref())
    }

    /// The project file, when one was found.
    #[must_use]
    pub fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// The folder of the project file.
    #[must_use]
    pub fn project_dir(&self) -> Option<&Path> {
        self.project_dir.as_deref()
    }

    /// Checks every flow against `catalog`, one [`CheckedFile`] per file.
    #[must_use]
    pub fn check(&self, catalog: &Catalog, limits: &Limits) -> Vec<CheckedFile> {
        let inputs: Vec<(String, String)> = self
            .files
            .iter()
            .map(|(_, p, t, _)| (p.clone(), t.clone()))
            .collect();
        let results = sluice_plan::validate_files(&inputs, catalog, self.project.as_ref(), limits);
        self.files
            .iter()
            .zip(results)
            .map(|((asked, _, text, bad), mut v)| {
                if let Some(at) = *bad {
                    report_encoding(&mut v, at);
                }
                let document = v.document.take();
                CheckedFile {
                    asked: *asked,
                    validated: v,
                    document,
                    source: text.clone(),
                }
            })
            .collect()
    }
}

/// Reads and checks a `sluice.toml`.
///
/// # Errors
/// The file cannot be read or is invalid.
pub fn read_project(path: &Path) -> Result<Project, ProjectError> {
    let text = fs_err::read_to_string(path)?;
    sluice_model::project::parse_project(&path.display().to_string(), &text)
        .map_err(|r| ProjectError::ProjectFile(Box::new(r)))
}

/// The project file nearest to `dir` (at or above it), read; `None` when there is none.
///
/// # Errors
/// The file cannot be read or is invalid.
pub fn project_near(dir: &Path) -> Result<Option<(Project, PathBuf)>, ProjectError> {
    match find_project(dir) {
        Some(path) => {
            let project = read_project(&path)?;
            let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
            Ok(Some((project, folder)))
        }
        None => Ok(None),
    }
}

fn same_file(a: &str, b: &str) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
