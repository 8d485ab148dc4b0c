//! Finding and reading flow files and the project file (`sluice.toml`) around them: a
//! [`FlowSet`] is the files asked for plus their folders' other flows (context for `flow:`
//! steps), checked together.

use std::path::{Path, PathBuf};

use sluice_model::{Catalog, FlowDocument, Limits, Project};
use sluice_plan::Validated;

use crate::error::ProjectError;

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

/// Whether a file name is a flow file (not a test fixture or cassette).
#[must_use]
pub fn is_flow_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.starts_with('.')
        && !name.contains(".test.")
        && !name.contains(".cassette.")
}

/// A file's text. At most `Limits::max_bytes + 1` bytes are read, so a huge file costs no
/// memory (the parser then reports it as too large). Bytes that are not UTF-8 are replaced and
/// the offset of the first is returned, to be reported instead of YAML errors.
fn read_text(path: &Path) -> Result<(String, Option<usize>), ProjectError> {
    use std::io::Read as _;
    let limit = sluice_model::Limits::default().max_bytes as u64 + 1;
    let file = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
        }
    })
}

/// Replaces a non-UTF-8 file's diagnostics with the one that matters.
fn report_encoding(v: &mut Validated, at: usize) {
    v.plan = None;
    v.report.diagnostics = vec![
        sluice_model::Diagnostic::error("sluice::yaml::encoding", "the file is not UTF-8 text")
            .label(sluice_model::Span::new(at, 1), "this byte is not UTF-8")
            .help("save the file as UTF-8 (flows are plain text)"),
    ];
}

/// The YAML files of a folder (not recursive), sorted by name.
///
/// # Errors
/// The folder or a file cannot be read.
pub fn read_yaml_files(dir: &Path) -> Result<Vec<(String, String, Option<usize>)>, ProjectError> {
    let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_flow_file(p))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let (text, bad) = read_text(&p)?;
            Ok((p.display().to_string(), text, bad))
        })
        .collect()
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
