//! A project folder in a temporary directory: `sluice.toml`, `flows/`, example flows copied
//! from `workflows/`, and a SQLite run store of its own. Removed when dropped.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The credential the example flows name (`ghl_main`): a bearer token from `$GHL_TOKEN`, with
/// the sandbox's location.
pub const GHL_MAIN_FROM_ENV: &str = "[credentials.ghl_main]\nkind = \"bearer\"\ntoken = { env = \"GHL_TOKEN\" }\nlocation_id = \"loc_sandbox\"\n";

/// A temporary project folder.
pub struct TempProject {
    dir: tempfile::TempDir,
}

impl TempProject {
    /// A project whose `sluice.toml` says `toml`, with an empty `flows/`.
    ///
    /// # Panics
    /// When the folder cannot be made.
    #[must_use]
    pub fn new(toml: &str) -> TempProject {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make a temp dir: {e}"));
        let project = TempProject { dir };
        project.write("sluice.toml", toml);
        project.mkdir("flows");
        project
    }

    /// This project with `flows/NAME.yaml` saying `text`.
    #[must_use]
    pub fn with_flow(self, name: &str, text: &str) -> TempProject {
        self.write_flow(name, text);
        self
    }

    /// This project with the example flow `workflows/NAME.yaml` as `flows/NAME.yaml`.
    #[must_use]
    pub fn with_example(self, name: &str) -> TempProject {
        self.write_flow(name, &crate::workflow(name));
        self
    }

    /// The folder.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The folder of flows, `flows/`.
    #[must_use]
    pub fn flows(&self) -> PathBuf {
        self.path().join("flows")
    }

    /// Writes `flows/NAME.yaml`.
    pub fn write_flow(&self, name: &str, text: &str) {
        self.write(&format!("flows/{name}.yaml"), text);
    }

    /// Writes the file `rel` (relative to the folder), making its folders.
    ///
    /// # Panics
    /// When it cannot be written.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot make {}: {e}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Makes the folder `rel` (relative to the project's).
    ///
    /// # Panics
    /// When it cannot be made.
    pub fn mkdir(&self, rel: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot make {}: {e}", path.display()));
    }

    /// Reads the file `rel` (relative to the folder).
    ///
    /// # Panics
    /// When it cannot be read.
    #[must_use]
    pub fn read(&self, rel: &str) -> String {
        let path = self.path().join(rel);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    /// The URL of the project's own run store: `state/sluice.db` in the folder.
    #[must_use]
    pub fn store_url(&self) -> String {
        format!("sqlite://{}", self.path().join("state/sluice.db").display())
    }

    /// [`crate::sluice`] run in this folder with its store (`SLUICE_STORE`).
    #[must_use]
    pub fn sluice(&self, bin: impl AsRef<OsStr>) -> Command {
        let mut cmd = crate::sluice(bin);
        cmd.current_dir(self.path())
            .env("SLUICE_STORE", self.store_url());
        cmd
    }
}
