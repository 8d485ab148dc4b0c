//! Which fixtures to run: every `FLOW.test.yaml` of the folders given, the fixture of each flow
//! given, or the fixture files given; flows of a folder without a fixture are noted.

use std::path::{Path, PathBuf};

use sluice_project::read::is_flow_file;

use crate::FlowtestError;
use crate::fixture;

/// The fixtures found, and the flows that have none.
pub(crate) struct Found {
    pub(crate) fixtures: Vec<PathBuf>,
    pub(crate) without: Vec<PathBuf>,
}

/// The fixtures of `paths` (folders, flows or fixture files).
pub(crate) fn discover(paths: &[PathBuf]) -> Result<Found, FlowtestError> {
    let mut found = Found {
        fixtures: Vec::new(),
        without: Vec::new(),
    };
    for path in paths {
        if path.is_dir() {
            in_folder(path, &mut found)?;
        } else if fixture::is_fixture(path) {
            found.fixtures.push(path.clone());
        } else if path.is_file() {
            match fixture_for(path).filter(|f| f.is_file()) {
                Some(f) => found.fixtures.push(f),
                None => {
                    return Err(FlowtestError::NoFixture {
                        flow: path.clone(),
                        fixture: fixture_for(path).unwrap_or_default(),
                    });
                }
            }
        } else {
            return Err(FlowtestError::NotFound(path.clone()));
        }
    }
    if found.fixtures.is_empty() {
        return Err(FlowtestError::NothingToTest);
    }
    Ok(found)
}

/// The fixtures of a folder, and its flows without one.
fn in_folder(dir: &Path, found: &mut Found) -> Result<(), FlowtestError> {
    let mut files: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for p in &files {
        if fixture::is_fixture(p) {
            found.fixtures.push(p.clone());
        } else if is_flow_file(p) && !files.iter().any(|f| fixture_for(p).as_ref() == Some(f)) {
            found.without.push(p.clone());
        }
    }
    Ok(())
}

/// `FLOW.test.yaml` for `FLOW.yaml`.
fn fixture_for(flow: &Path) -> Option<PathBuf> {
    let name = flow.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))?;
    Some(flow.with_file_name(format!("{stem}.test.yaml")))
}
