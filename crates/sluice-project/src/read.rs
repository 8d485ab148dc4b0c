//! Reading YAML files of a project: flow files (not fixtures or cassettes), size-bounded and
//! checked to be UTF-8 text.

use std::path::{Path, PathBuf};

use sluice_plan::Validated;

use crate::error::ProjectError;

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
pub(crate) fn read_text(path: &Path) -> Result<(String, Option<usize>), ProjectError> {
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
pub(crate) fn report_encoding(v: &mut Validated, at: usize) {
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
