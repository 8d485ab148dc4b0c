//! The folder the server serves: its project (`sluice.toml`) and connector catalog, the
//! documents the editor has open, and their checks — a flow with the other flows of its folder
//! (open ones as typed) through the planner, exactly as `sluice validate` checks it; a fixture
//! as `sluice test` reads it; a project connector file as the catalog reads it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use lsp_types::{Diagnostic as LspDiagnostic, Uri};
use sluice_model::{Catalog, Diagnostic, FileReport, FlowDocument, Limits, Project};
use sluice_project::ProjectError;

use crate::diagnostics::to_lsp;
use crate::position::{Text, uri_of};

/// What kind of file a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A flow (`*.yaml` that is not a fixture).
    Flow,
    /// A test fixture (`*.test.yaml`).
    Fixture,
    /// A connector file of the project (`connectors/*.yaml`).
    Connector,
    /// Anything else: not checked.
    Other,
}

/// An open document.
pub(crate) struct Document {
    pub(crate) uri: Uri,
    pub(crate) kind: Kind,
    pub(crate) text: Text,
    /// The flow as last read (a flow being typed is often not YAML: completion reads the last
    /// version that was), and the text it was read from.
    pub(crate) flow: Option<(FlowDocument, Text)>,
}

/// Diagnostics to send: a file's URI and all of its diagnostics.
pub(crate) type Publish = (Uri, Vec<LspDiagnostic>);

/// The served folder and what is open in it.
pub(crate) struct Workspace {
    root: PathBuf,
    project_dir: Option<PathBuf>,
    project: Option<Project>,
    pub(crate) catalog: Catalog,
    /// Invalid project files (`sluice.toml`, connectors) and their reports.
    problems: Vec<FileReport>,
    pub(crate) docs: IndexMap<PathBuf, Document>,
    /// Each connector's file and text, by connector name (`None`: built into the binary).
    pub(crate) connector_files: HashMap<String, (Option<PathBuf>, String)>,
    limits: Limits,
}

impl Workspace {
    /// The workspace of `root`: the project around it and its catalog.
    pub(crate) fn new(root: &Path) -> Self {
        let mut ws = Self {
            root: root.to_path_buf(),
            project_dir: None,
            project: None,
            catalog: Catalog::new(),
            problems: Vec::new(),
            docs: IndexMap::new(),
            connector_files: HashMap::new(),
            limits: Limits::default(),
        };
        ws.reload();
        ws
    }

    /// The project file, when it reads.
    pub(crate) fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }

    /// Reads the project file and the catalog again (after one of them changed).
    pub(crate) fn reload(&mut self) {
        self.problems.clear();
        self.project = None;
        self.project_dir = sluice_project::files::find_project(&self.root)
            .and_then(|p| p.parent().map(Path::to_path_buf));
        if let Some(dir) = &self.project_dir {
            match sluice_project::files::read_project(
                &dir.join(sluice_model::project::PROJECT_FILE),
            ) {
                Ok(p) => self.project = Some(p),
                Err(ProjectError::ProjectFile(report)) => self.problems.push(*report),
                Err(_) => {}
            }
        }
        self.connector_files = self.read_connector_files();
        self.catalog = match sluice_project::catalog(self.project_dir.as_deref()) {
            Ok(c) => c,
            Err(e) => {
                if let ProjectError::Connectors(reports) = e {
                    self.problems.extend(reports);
                }
                // Check flows against the built-in connectors at least.
                sluice_project::catalog(None).unwrap_or_default()
            }
        };
    }

    /// The built-in connectors, then the project's (which replace them), by name.
    fn read_connector_files(&self) -> HashMap<String, (Option<PathBuf>, String)> {
        let mut files: Vec<(Option<PathBuf>, String)> = sluice_connectors::BUILTIN
            .iter()
            .map(|(_, text, _)| (None, (*text).to_string()))
            .collect();
        if let Some(dir) = &self.project_dir {
            let folder = dir.join("connectors");
            for (path, text, _) in
                sluice_project::read::read_yaml_files(&folder).unwrap_or_default()
            {
                files.push((Some(PathBuf::from(path)), text));
            }
        }
        files
            .into_iter()
            .filter_map(|(path, text)| {
                let root = sluice_model::node::parse_yaml(&text, &self.limits).ok()?;
                let name = root.get("name")?.as_str()?.to_string();
                Some((name, (path, text)))
            })
            .collect()
    }

    /// What kind of file `path` is.
    pub(crate) fn kind_of(&self, path: &Path) -> Kind {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            return Kind::Other;
        }
        if name.contains(".test.") {
            return Kind::Fixture;
        }
        if let Some(dir) = &self.project_dir
            && path.parent() == Some(dir.join("connectors").as_path())
        {
            return Kind::Connector;
        }
        if sluice_project::read::is_flow_file(path) {
            Kind::Flow
        } else {
            Kind::Other
        }
    }

    /// Opens or replaces a document.
    pub(crate) fn set(&mut self, uri: Uri, path: PathBuf, text: String) {
        let kind = self.kind_of(&path);
        let flow = self.docs.shift_remove(&path).and_then(|d| d.flow);
        self.docs.insert(
            path,
            Document {
                uri,
                kind,
                text: Text::new(text),
                flow,
            },
        );
    }

    /// Checks what a change of `path` touches and returns the diagnostics to send: a flow's
    /// folder (its flows call each other), a fixture, or — for a connector or `sluice.toml` —
    /// everything open, after reading the project again.
    pub(crate) fn check(&mut self, path: &Path) -> Vec<Publish> {
        match self.docs.get(path).map(|d| d.kind) {
            Some(Kind::Flow) => {
                // The flows of the folder, and the fixtures that name their steps and inputs.
                let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
                let mut out = self.check_flows(&dir);
                let fixtures: Vec<PathBuf> = self
                    .docs
                    .iter()
                    .filter(|(p, d)| d.kind == Kind::Fixture && p.parent() == Some(dir.as_path()))
                    .map(|(p, _)| p.clone())
                    .collect();
                out.extend(fixtures.iter().filter_map(|f| self.check_fixture(f)));
                out
            }
            Some(Kind::Fixture) => self.check_fixture(path).into_iter().collect(),
            Some(Kind::Connector) => {
                let mut out = self.check_connector(path).into_iter().collect::<Vec<_>>();
                out.extend(self.check_all());
                out
            }
            _ => Vec::new(),
        }
    }

    /// Reads the project again and checks every open document.
    pub(crate) fn check_all(&mut self) -> Vec<Publish> {
        self.reload();
        let mut out = Vec::new();
        let mut folders: Vec<PathBuf> = Vec::new();
        let paths: Vec<(PathBuf, Kind)> =
            self.docs.iter().map(|(p, d)| (p.clone(), d.kind)).collect();
        for (path, kind) in paths {
            match kind {
                Kind::Flow => {
                    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    if !folders.contains(&dir) {
                        out.extend(self.check_flows(&dir));
                        folders.push(dir);
                    }
                }
                Kind::Fixture => out.extend(self.check_fixture(&path)),
                Kind::Connector => out.extend(self.check_connector(&path)),
                Kind::Other => {}
            }
        }
        out.extend(self.problem_reports());
        out
    }

    /// The diagnostics of invalid project files that are not open.
    fn problem_reports(&self) -> Vec<Publish> {
        self.problems
            .iter()
            .filter(|r| !self.docs.contains_key(Path::new(&r.path)))
            .filter_map(|r| {
                let uri = uri_of(&std::path::absolute(&r.path).ok()?)?;
                let text = Text::new(r.source.to_string());
                Some((uri.clone(), to_lsp(&r.diagnostics, &text, &uri)))
            })
            .collect()
    }

    /// Checks the flows of `dir` together (open ones as typed, the others from disk) and
    /// returns the diagnostics of the open ones.
    pub(crate) fn check_flows(&mut self, dir: &Path) -> Vec<Publish> {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut open: HashMap<String, PathBuf> = HashMap::new();
        for (path, doc) in &self.docs {
            if doc.kind == Kind::Flow && path.parent() == Some(dir) {
                let name = path.display().to_string();
                open.insert(name.clone(), path.clone());
                files.push((name, doc.text.as_str().to_string()));
            }
        }
        if dir.is_dir() {
            for (name, text, _) in sluice_project::read::read_yaml_files(dir).unwrap_or_default() {
                if !open.contains_key(&name) {
                    files.push((name, text));
                }
            }
        }
        let results =
            sluice_plan::validate_files(&files, &self.catalog, self.project.as_ref(), &self.limits);
        let mut out = Vec::new();
        for ((name, _), validated) in files.iter().zip(results) {
            let Some(path) = open.get(name) else {
                continue;
            };
            let Some(doc) = self.docs.get_mut(path) else {
                continue;
            };
            out.push((
                doc.uri.clone(),
                to_lsp(&validated.report.diagnostics, &doc.text, &doc.uri),
            ));
            if let Some(flow) = validated.document {
                doc.flow = Some((flow, Text::new(doc.text.as_str().to_string())));
            }
        }
        out
    }

    /// Checks a fixture as `sluice test` reads it.
    /// Checks a fixture as `sluice test` reads it, and its step and input names against its
    /// flow (open, as typed, or on disk).
    fn check_fixture(&self, path: &Path) -> Option<Publish> {
        let doc = self.docs.get(path)?;
        let mut diagnostics: Vec<Diagnostic> =
            sluice_flowtest::check_fixture(path, doc.text.as_str());
        if let Ok(root) = sluice_model::node::parse_yaml(doc.text.as_str(), &self.limits)
            && let Some(flow) = self.fixture_flow(path, Some(&root))
        {
            diagnostics.extend(crate::fixture::check_names(&root, &flow));
        }
        diagnostics.sort_by_key(|d| d.primary_span().map(|s| s.offset));
        Some((doc.uri.clone(), to_lsp(&diagnostics, &doc.text, &doc.uri)))
    }

    /// The flow a fixture tests, when it reads.
    pub(crate) fn fixture_flow(
        &self,
        fixture: &Path,
        root: Option<&sluice_model::Node>,
    ) -> Option<sluice_model::Flow> {
        let flow_path = crate::fixture::flow_path(fixture, root)?;
        let text = match self.docs.get(&flow_path) {
            Some(doc) => doc.text.as_str().to_string(),
            None => std::fs::read_to_string(&flow_path).ok()?,
        };
        crate::fixture::read_flow(&flow_path, &text)
    }

    /// Checks a project connector file as the catalog reads it.
    fn check_connector(&self, path: &Path) -> Option<Publish> {
        let doc = self.docs.get(path)?;
        let loaded = sluice_model::load_connector(
            &path.display().to_string(),
            doc.text.as_str(),
            &self.limits,
        );
        Some((
            doc.uri.clone(),
            to_lsp(&loaded.report.diagnostics, &doc.text, &doc.uri),
        ))
    }

    /// Forgets a closed document; its diagnostics are cleared.
    pub(crate) fn close(&mut self, path: &Path) -> Option<Publish> {
        let doc = self.docs.shift_remove(path)?;
        Some((doc.uri, Vec::new()))
    }

    /// The flow files of a folder by flow name (for `flow:` steps), open ones first.
    pub(crate) fn flows_in(&self, dir: &Path) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = Vec::new();
        let mut texts: Vec<(PathBuf, String)> = self
            .docs
            .iter()
            .filter(|(p, d)| d.kind == Kind::Flow && p.parent() == Some(dir))
            .map(|(p, d)| (p.clone(), d.text.as_str().to_string()))
            .collect();
        for (name, text, _) in sluice_project::read::read_yaml_files(dir).unwrap_or_default() {
            let path = PathBuf::from(name);
            if !texts.iter().any(|(p, _)| p == &path) {
                texts.push((path, text));
            }
        }
        for (path, text) in texts {
            if let Ok(root) = sluice_model::node::parse_yaml(&text, &self.limits)
                && let Some(name) = root.get("name").and_then(|n| n.as_str())
            {
                out.push((name.to_string(), path));
            }
        }
        out
    }
}
