//! Finding and reading flow files, the project file and project connectors.

use std::path::{Path, PathBuf};

use sluice_model::{Limits, Project};
use sluice_plan::Validated;

/// Flow files to check, with their folders' other flows as context for `flow:` steps.
pub(crate) struct FlowSet {
    /// `(asked for, path, text)`.
    files: Vec<(bool, String, String)>,
    project: Option<Project>,
    project_dir: Option<PathBuf>,
}

/// Whether a file name is a flow file (not a test fixture or cassette).
fn is_flow_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    (name.ends_with(".yaml") || name.ends_with(".yml"))
        && !name.starts_with('.')
        && !name.contains(".test.")
        && !name.contains(".cassette.")
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = fs_err::read(path).map_err(|e| e.to_string())?;
    // Invalid UTF-8 is a problem of the file, reported like any other: keep the valid part.
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let mut s = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            s.push('\u{FFFD}');
            s.push('\0');
            s
        }
    })
}

/// The YAML files of a folder (not recursive), sorted by name.
pub(crate) fn read_yaml_files(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_flow_file(p))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| Ok((p.display().to_string(), read_text(&p)?)))
        .collect()
}

/// The nearest `sluice.toml` at or above `dir`.
fn find_project(dir: &Path) -> Option<PathBuf> {
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
    /// Reads the given files and folders, and the other flows of their folders.
    pub(crate) fn load(paths: &[PathBuf]) -> Result<Self, String> {
        let mut files: Vec<(bool, String, String)> = Vec::new();
        let mut context_dirs: Vec<PathBuf> = Vec::new();
        for path in paths {
            if path.is_dir() {
                for (p, text) in read_yaml_files(path)? {
                    files.push((true, p, text));
                }
                context_dirs.push(path.clone());
            } else if path.is_file() {
                files.push((true, path.display().to_string(), read_text(path)?));
                context_dirs.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
            } else {
                return Err(format!("{}: no such file or folder", path.display()));
            }
        }
        for dir in &context_dirs {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            for (p, text) in read_yaml_files(dir).unwrap_or_default() {
                if !files.iter().any(|(_, q, _)| same_file(q, &p)) {
                    files.push((false, p, text));
                }
            }
        }
        let (project, project_dir) = match context_dirs.first().and_then(|d| find_project(d)) {
            Some(path) => {
                let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
                let project =
                    sluice_model::project::parse_project(&path.display().to_string(), &text)
                        .map_err(|r| r.render(false))?;
                (Some(project), path.parent().map(Path::to_path_buf))
            }
            None => (None, None),
        };
        Ok(Self {
            files,
            project,
            project_dir,
        })
    }

    /// The catalog: built-in connectors plus the project's.
    pub(crate) fn catalog(&self) -> Result<sluice_model::Catalog, String> {
        crate::catalog(self.project_dir.as_deref())
    }

    /// The project file, when one was found.
    pub(crate) fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// The folder of the project file.
    pub(crate) fn project_dir(&self) -> Option<&Path> {
        self.project_dir.as_deref()
    }

    /// Checks every flow; `(asked for, result)` per file.
    pub(crate) fn validate(&self, limits: &Limits) -> Vec<(bool, Validated)> {
        let catalog = match self.catalog() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                sluice_model::Catalog::new()
            }
        };
        self.validate_with(&catalog, limits)
            .into_iter()
            .map(|(asked, v, _, _)| (asked, v))
            .collect()
    }

    /// Checks every flow against `catalog`: `(asked for, result, document, source)` per file.
    pub(crate) fn validate_with(
        &self,
        catalog: &sluice_model::Catalog,
        limits: &Limits,
    ) -> Vec<(bool, Validated, Option<sluice_model::FlowDocument>, String)> {
        let inputs: Vec<(String, String)> = self
            .files
            .iter()
            .map(|(_, p, t)| (p.clone(), t.clone()))
            .collect();
        let results = sluice_plan::validate_files(&inputs, catalog, self.project.as_ref(), limits);
        self.files
            .iter()
            .zip(results)
            .map(|((asked, _, text), mut v)| {
                let doc = v.document.take();
                (*asked, v, doc, text.clone())
            })
            .collect()
    }
}

fn same_file(a: &str, b: &str) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
