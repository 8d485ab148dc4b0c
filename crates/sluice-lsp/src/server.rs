//! The protocol: the initialize handshake, the main loop — messages handled in order, a burst
//! of changes coalesced into one check — and the dispatch of requests (completion, hover,
//! definition, code actions) and notifications (open, change, save, close).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, GotoDefinition, HoverRequest, Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability,
    CompletionOptions, CompletionParams, CompletionResponse, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, DidSaveTextDocumentParams,
    GotoDefinitionParams, GotoDefinitionResponse, HoverParams, HoverProviderCapability,
    InitializeParams, OneOf, PositionEncodingKind, PublishDiagnosticsParams, SaveOptions,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::LspError;
use crate::diagnostics::{overlaps, quick_fixes};
use crate::position::path_of;
use crate::workspace::{Publish, Workspace};

/// What the server can do.
pub(crate) fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "{".into(), "(".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

/// Serves `connection` until the client says `exit` (or goes away).
///
/// # Errors
/// The handshake fails, or the connection breaks while answering.
pub(crate) fn run(connection: &Connection, root: &Path) -> Result<(), LspError> {
    let (id, params) = connection.initialize_start()?;
    let init: Option<InitializeParams> = serde_json::from_value(params).ok();
    let root = init
        .as_ref()
        .and_then(root_of)
        .unwrap_or_else(|| root.to_path_buf());
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "sluice".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    connection.initialize_finish(id, result)?;
    let mut server = Server {
        ws: Workspace::new(&root),
        sender: connection.sender.clone(),
    };
    let mut next: Option<Message> = None;
    loop {
        let message = match next.take() {
            Some(m) => m,
            None => match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => return Ok(()),
            },
        };
        match message {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                server.request(req)?;
            }
            Message::Notification(n) => {
                if n.method == "exit" {
                    return Ok(());
                }
                let mut changed = server.notification(n);
                // Changes typed in a burst are checked once, after the last of them.
                while let Ok(m) = connection.receiver.try_recv() {
                    match m {
                        Message::Notification(n) if n.method != "exit" => {
                            changed.extend(server.notification(n));
                        }
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                server.check(changed)?;
            }
            Message::Response(_) => {}
        }
    }
}

/// The workspace folder the client names, when it is a local folder.
fn root_of(init: &InitializeParams) -> Option<PathBuf> {
    if let Some(folder) = init.workspace_folders.as_ref().and_then(|f| f.first()) {
        return path_of(&folder.uri);
    }
    #[allow(deprecated)]
    init.root_uri.as_ref().and_then(path_of)
}

/// What a notification asks for: check these documents, or everything.
enum Changed {
    Document(PathBuf),
    Everything,
}

struct Server {
    ws: Workspace,
    sender: Sender<Message>,
}

impl Server {
    fn send(&self, message: impl Into<Message>) -> Result<(), LspError> {
        self.sender
            .send(message.into())
            .map_err(|_| LspError::Disconnected)
    }

    fn publish(&self, publish: Vec<Publish>) -> Result<(), LspError> {
        for (uri, diagnostics) in publish {
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics,
                version: None,
            };
            self.send(Notification::new(
                PublishDiagnostics::METHOD.to_string(),
                params,
            ))?;
        }
        Ok(())
    }

    /// Checks what changed and sends the diagnostics.
    fn check(&mut self, changed: Vec<Changed>) -> Result<(), LspError> {
        if changed.is_empty() {
            return Ok(());
        }
        let publish = if changed.iter().any(|c| matches!(c, Changed::Everything)) {
            self.ws.check_all()
        } else {
            let mut paths: Vec<PathBuf> = Vec::new();
            for c in changed {
                if let Changed::Document(p) = c
                    && !paths.contains(&p)
                {
                    paths.push(p);
                }
            }
            let mut out: Vec<Publish> = Vec::new();
            let mut done_dirs: Vec<PathBuf> = Vec::new();
            for path in paths {
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let is_flow = self
                    .ws
                    .docs
                    .get(&path)
                    .is_some_and(|d| d.kind == crate::workspace::Kind::Flow);
                if is_flow && done_dirs.contains(&dir) {
                    continue;
                }
                let checked = catch_unwind(AssertUnwindSafe(|| self.ws.check(&path)));
                out.extend(checked.unwrap_or_default());
                if is_flow {
                    done_dirs.push(dir);
                }
            }
            out
        };
        self.publish(publish)
    }

    /// Applies a notification; says what to check.
    fn notification(&mut self, n: Notification) -> Vec<Changed> {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let Some(p) = params::<DidOpenTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                self.set(p.text_document.uri, p.text_document.text)
            }
            DidChangeTextDocument::METHOD => {
                let Some(mut p) = params::<DidChangeTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                // Full sync: the last change holds the whole text.
                match p.content_changes.pop() {
                    Some(change) if change.range.is_none() => {
                        self.set(p.text_document.uri, change.text)
                    }
                    _ => Vec::new(),
                }
            }
            DidCloseTextDocument::METHOD => {
                let Some(p) = params::<DidCloseTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                if let Some(path) = path_of(&p.text_document.uri)
                    && let Some(cleared) = self.ws.close(&path)
                {
                    let _ = self.publish(vec![cleared]);
                }
                Vec::new()
            }
            DidSaveTextDocument::METHOD => {
                let Some(p) = params::<DidSaveTextDocumentParams>(n.params) else {
                    return Vec::new();
                };
                let Some(path) = path_of(&p.text_document.uri) else {
                    return Vec::new();
                };
                // The project file or a connector changed what every flow is checked against.
                let project_file = path.file_name().and_then(|n| n.to_str())
                    == Some(sluice_model::project::PROJECT_FILE);
                let connector = self.ws.kind_of(&path) == crate::workspace::Kind::Connector;
                if project_file || connector {
                    vec![Changed::Everything]
                } else {
                    Vec::new()
                }
            }
            DidChangeWatchedFiles::METHOD => vec![Changed::Everything],
            _ => Vec::new(),
        }
    }

    fn set(&mut self, uri: Uri, text: String) -> Vec<Changed> {
        let Some(path) = path_of(&uri) else {
            return Vec::new();
        };
        self.ws.set(uri, path.clone(), text);
        vec![Changed::Document(path)]
    }

    /// Answers a request.
    fn request(&mut self, req: Request) -> Result<(), LspError> {
        let id = req.id.clone();
        let answered = catch_unwind(AssertUnwindSafe(|| self.answer(req)));
        let response = match answered {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err(Failure { code, message })) => Response::new_err(id, code as i32, message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                "the Sluice language server failed on this request (a bug; its log says more)"
                    .into(),
            ),
        };
        self.send(response)
    }

    fn answer(&mut self, req: Request) -> Result<serde_json::Value, Failure> {
        match req.method.as_str() {
            Completion::METHOD => {
                let p: CompletionParams = parse(req.params)?;
                let pos = p.text_document_position;
                let items = self
                    .located(&pos.text_document.uri, pos.position)
                    .map(|(doc, offset)| match doc.kind {
                        crate::workspace::Kind::Fixture => {
                            crate::fixture::complete(doc.text.as_str(), offset, || {
                                let path = path_of(&pos.text_document.uri)?;
                                let root = sluice_model::node::parse_yaml(
                                    doc.text.as_str(),
                                    &sluice_model::Limits::default(),
                                )
                                .ok();
                                self.ws.fixture_flow(&path, root.as_ref())
                            })
                        }
                        _ => crate::completion::complete(&self.ws, doc, offset),
                    })
                    .unwrap_or_default();
                ok(CompletionResponse::Array(items))
            }
            HoverRequest::METHOD => {
                let p: HoverParams = parse(req.params)?;
                let pos = p.text_document_position_params;
                let hover = self
                    .located(&pos.text_document.uri, pos.position)
                    .and_then(|(doc, offset)| crate::hover::hover(&self.ws, doc, offset));
                ok(hover)
            }
            GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = parse(req.params)?;
                let pos = p.text_document_position_params;
                let path = path_of(&pos.text_document.uri);
                let location = match (self.located(&pos.text_document.uri, pos.position), path) {
                    (Some((doc, offset)), Some(path)) => {
                        crate::definition::definition(&self.ws, doc, &path, offset)
                    }
                    _ => None,
                };
                ok(location.map(GotoDefinitionResponse::Scalar))
            }
            CodeActionRequest::METHOD => {
                let p: CodeActionParams = parse(req.params)?;
                let mut fixes = quick_fixes(&p.text_document.uri, &p.context.diagnostics);
                fixes.retain(|f| match f {
                    lsp_types::CodeActionOrCommand::CodeAction(a) => a
                        .diagnostics
                        .iter()
                        .flatten()
                        .any(|d| overlaps(&d.range, &p.range)),
                    lsp_types::CodeActionOrCommand::Command(_) => true,
                });
                ok(fixes)
            }
            _ => Err(Failure {
                code: ErrorCode::MethodNotFound,
                message: format!(
                    "the Sluice language server does not handle `{}`",
                    req.method
                ),
            }),
        }
    }

    /// An open flow document and the byte offset of a position in it.
    fn located(
        &self,
        uri: &Uri,
        position: lsp_types::Position,
    ) -> Option<(&crate::workspace::Document, usize)> {
        let path = path_of(uri)?;
        let doc = self.ws.docs.get(&path)?;
        Some((doc, doc.text.offset(position)))
    }
}

fn params<T: DeserializeOwned>(value: serde_json::Value) -> Option<T> {
    serde_json::from_value(value).ok()
}

/// A request that cannot be answered: the error code and message sent back.
struct Failure {
    code: ErrorCode,
    message: String,
}

fn parse<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Failure> {
    serde_json::from_value(value).map_err(|e| Failure {
        code: ErrorCode::InvalidParams,
        message: format!("invalid parameters: {e}"),
    })
}

fn ok<T: Serialize>(value: T) -> Result<serde_json::Value, Failure> {
    serde_json::to_value(value).map_err(|e| Failure {
        code: ErrorCode::InternalError,
        message: e.to_string(),
    })
}
