//! Finding and reading flow files, the project file and project connectors.

use std::path::{Path, PathBuf};

use sluice_model::{Limits, Project};
use sluice_plan::Validated;

/// Flow files to check, with their folders' other flows as context for `flow:` steps.
pub(crate) struct FlowSet {
    /// `(asked for, path, text, offset of the first byte that is not UTF-8)`.
    files: Vec<(bool, String, String, Option<usize>)>,
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

/// A file's text. At most `Limits::max_bytes + 1` bytes are read, so a huge file costs no
/// memory (the parser then reports it as too large). Bytes that are not UTF-8 are replaced and
/// the offset of the first is returned, to be reported instead of YAML errors.
fn read_text(path: &Path) -> Result<(String, Option<usize>), String> {
    use std::io::Read as _;
    let limit = sluice_model::Limits::default().max_bytes as u64 + 1;
    let file = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
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
pub(crate) fn read_yaml_files(dir: &Path) -> Result<Vec<(String, String, Option<usize>)>, String> {
    let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(|e| e.to_string())?
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
pub(crate) fn find_project(dir: &Path) -> Option<PathBuf> {
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
                return Err(format!("{}: no such file or folder", path.display()));
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
