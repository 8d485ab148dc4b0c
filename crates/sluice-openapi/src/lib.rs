//! OpenAPI documents → Sluice connector files: what `sluice connector import` does.
//!
//! [`import`] reads an OpenAPI 3.0 or 3.1 document (JSON or YAML, a file or a URL through a
//! [`Loader`]), resolves its `$ref`s across files, and writes one connector operation per
//! operation: the name from `operationId` (snake_case), parameters, the JSON body's fields,
//! the response schema (so templates are type-checked), scopes from `security`, `writes` from
//! the method, and pagination where the document (`x-sluice-pagination`) or an [`Overrides`]
//! file says so. A problem in the document is reported at its JSON pointer ([`Problem`]) and
//! the import goes on with the operations it can read. The same input gives the same text; a
//! fingerprint line ([`stamp`]) lets the caller tell a generated file from one edited by hand.

mod emit;
mod operation;
pub mod overrides;
mod schema;
pub mod source;
pub mod stamp;
mod webhooks;

use std::fmt;

use globset::{Glob, GlobMatcher};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

pub use overrides::Overrides;
pub use source::{FileLoader, Loader, is_url, join};
pub use stamp::{Existing, classify};

use operation::{Collected, Site};
use source::{Documents, escape};

/// The first line of every connector file.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../schemas/connector.schema.json";

/// A problem of the document, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The document (location as read).
    pub file: String,
    /// The JSON pointer of the offending value, e.g. `/paths/~1pets/get/responses`.
    pub pointer: String,
    /// What is wrong, in words.
    pub message: String,
}

impl Problem {
    pub(crate) fn at(file: &str, pointer: &str, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}#{}: {}", self.file, self.pointer, self.message)
        }
    }
}

/// Why nothing could be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The connector name cannot be a file name.
    #[error(
        "`{0}` is not a connector name: use lower-case letters, digits and `-` (e.g. `ghl-users`)"
    )]
    BadName(String),
    /// The document (or the override file) cannot be read.
    #[error("cannot read {location}: {reason}")]
    Read {
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
    /// The document is not an OpenAPI 3 document.
    #[error("{location} is not an OpenAPI 3.0 or 3.1 document: {reason}")]
    NotOpenApi {
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
    /// The override file is wrong.
    #[error("override file {location}: {reason}")]
    Overrides {
        /// Where.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// An `--include` pattern is not a valid glob.
    #[error("`--include {pattern}`: {reason}")]
    Include {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// No operation could be imported.
    #[error("no operation of {location} could be imported ({reason})")]
    NoOperations {
        /// The document.
        location: String,
        /// Why, in words.
        reason: String,
        /// The problems met on the way.
        problems: Vec<Problem>,
    },
}

/// What to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The connector's name (and file name).
    pub name: String,
    /// Path globs (starting with `/`, e.g. `/contacts/**`) or tags; an operation is kept when
    /// it matches any. Empty: every operation (or the override file's `include`).
    pub include: Vec<String>,
    /// The override file's location, if any.
    pub overrides: Option<String>,
}

/// The connector file made from a document.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The connector file's text (fingerprinted).
    pub text: String,
    /// Operations written.
    pub operations: usize,
    /// Operations left out by `--include`.
    pub filtered: usize,
    /// Problems met; those with operations skipped are among them.
    pub problems: Vec<Problem>,
}

/// A `--include` pattern.
enum Include {
    Path(GlobMatcher),
    Tag(String),
}

fn includes(patterns: &[String]) -> Result<Vec<Include>, ImportError> {
    patterns
        .iter()
        .map(|p| {
            if p.starts_with('/') {
                globset::GlobBuilder::new(p)
                    .literal_separator(true)
                    .build()
                    .map(|g: Glob| Include::Path(g.compile_matcher()))
                    .map_err(|e| ImportError::Include {
                        pattern: p.clone(),
                        reason: e.kind().to_string(),
                    })
            } else {
                Ok(Include::Tag(p.to_lowercase()))
            }
        })
        .collect()
}

fn included(filters: &[Include], path: &str, op: &Value) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| match f {
            Include::Path(m) => m.is_match(path),
            Include::Tag(t) => op
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|tag| tag.to_lowercase() == *t),
        })
}

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// Imports the document at `source` as the connector `options.name`.
///
/// # Errors
/// The document or the override file cannot be read or is not what it should be, or no
/// operation could be imported. Problems of single operations are not errors: they are in
/// [`Imported::problems`].
pub fn import(
    source: &str,
    options: &ImportOptions,
    loader: &dyn Loader,
) -> Result<Imported, ImportError> {
    // Over 80 lines: the connector's sections in file order.
    let name = options.name.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(ImportError::BadName(name.to_owned()));
    }
    let overrides = match &options.overrides {
        Some(location) => {
            let text = loader.load(location).map_err(|reason| ImportError::Read {
                location: location.clone(),
                reason,
            })?;
            Overrides::parse(&text).map_err(|reason| ImportError::Overrides {
                location: location.clone(),
                reason,
            })?
        }
        None => Overrides::default(),
    };
    let mut docs = Documents::new(loader);
    let doc = docs
        .load(source)
        .map_err(|reason| ImportError::Read {
            location: source.to_owned(),
            reason,
        })?
        .clone();
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        let reason = match doc.get("swagger") {
            Some(_) => "it is Swagger 2.0; convert it to OpenAPI 3 first".to_owned(),
            None if version.is_empty() => "it has no `openapi` version".to_owned(),
            None => format!("its `openapi` version is {version}"),
        };
        return Err(ImportError::NotOpenApi {
            location: source.to_owned(),
            reason,
        });
    }
    let patterns = if options.include.is_empty() {
        &overrides.include
    } else {
        &options.include
    };
    let filters = includes(patterns)?;

    let mut problems = Vec::new();
    let mut collected = Collected::default();
    let mut ops: Vec<(String, Option<String>, Value)> = Vec::new();
    let mut filtered = 0;
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            if !included(&filters, path, op) {
                filtered += 1;
                continue;
            }
            let site = Site {
                location: source,
                path,
                method,
                item,
                op,
                default_security: doc.get("security"),
            };
            match operation::build(&mut docs, &overrides, &site, &mut collected) {
                Ok((op_name, built)) => {
                    if ops.iter().any(|(n, _, _)| *n == op_name) {
                        problems.push(Problem::at(
                            source,
                            &format!("/paths/{}/{method}", escape(path)),
                            format!("a second operation would be named `{op_name}`; left out (name it in the override file)"),
                        ));
                        continue;
                    }
                    let id = op
                        .get("operationId")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    ops.push((op_name, id, built));
                }
                Err(problem) => problems.push(Problem {
                    message: format!("{} — operation left out", problem.message),
                    ..problem
                }),
            }
        }
    }
    problems.append(&mut collected.notes);
    if ops.is_empty() {
        let reason = if filtered > 0 {
            format!("{filtered} left out by --include, none matched")
        } else if problems.is_empty() {
            "it has no operations".to_owned()
        } else {
            format!("{} problem(s)", problems.len())
        };
        return Err(ImportError::NoOperations {
            location: source.to_owned(),
            reason,
            problems,
        });
    }
    for id in overrides.operations.keys() {
        if !ops.iter().any(|(_, op_id, _)| op_id.as_deref() == Some(id)) && filters.is_empty() {
            problems.push(Problem::at(
                options.overrides.as_deref().unwrap_or(""),
                &format!("/operations/{}", escape(id)),
                format!("the document has no operation `{id}`"),
            ));
        }
    }
    let order: Vec<&String> = overrides.operations.keys().collect();
    ops.sort_by_key(|(_, id, _)| {
        id.as_ref()
            .and_then(|id| order.iter().position(|o| *o == id))
            .unwrap_or(order.len())
    });

    let info = doc.get("info").cloned().unwrap_or_else(|| json!({}));
    let title = info.get("title").and_then(Value::as_str).unwrap_or(name);
    let api_version = info.get("version").and_then(Value::as_str).unwrap_or("?");
    let mut head = Map::new();
    head.insert("name".into(), json!(name));
    let description = overrides.connector.description.clone().unwrap_or_else(|| {
        match info
            .get("summary")
            .or_else(|| info.get("description"))
            .and_then(Value::as_str)
            .and_then(schema::one_line)
        {
            Some(d) => format!("{title}: {d}"),
            None => format!("{title}."),
        }
    });
    head.insert("description".into(), json!(description));
    let base_url = overrides
        .connector
        .base_url
        .clone()
        .or_else(|| server_url(&doc, source))
        .unwrap_or_else(|| {
            problems.push(Problem::at(
                source,
                "/servers",
                "no absolute server URL: set `base_url` in the connector (or `connector.base_url` in the override file)",
            ));
            "https://set-the-base-url.invalid".to_owned()
        });
    head.insert("base_url".into(), json!(base_url));
    let mut headers = collected.headers.clone();
    for (k, v) in &overrides.connector.headers {
        headers.insert(k.clone(), v.clone());
    }
    if !headers.is_empty() {
        head.insert("headers".into(), json!(headers));
    }

    let mut sections: Vec<(&str, Value)> = Vec::new();
    let auth = match &overrides.connector.auth {
        Some(auth) => Value::Array(auth.clone()),
        None => Value::Array(auth_of(&doc, &collected.schemes, source, &mut problems)),
    };
    sections.push(("auth", auth));
    if let Some(limits) = &overrides.connector.rate_limits {
        sections.push(("rate_limits", Value::Array(limits.clone())));
    }
    let scopes = scope_texts(&doc, &overrides, &ops);
    sections.push(("scopes", Value::Object(scopes)));
    let events = webhook_events(&mut docs, &doc, source, &overrides, options, &mut problems)?;
    sections.push(("webhooks", Value::Object(events)));

    let mut lines = vec![
        SCHEMA_LINE.to_owned(),
        stamp::MARKER.to_owned(),
        format!(
            "# Generated by `sluice connector import` from {}: {title}, version {api_version} (OpenAPI {version}).",
            overrides.source.as_deref().unwrap_or(source)
        ),
    ];
    lines.extend(overrides.notes.iter().map(|n| format!("# {n}")));
    emit::emit(&Value::Object(head), 0, &mut lines);
    for (key, value) in sections {
        let empty = match &value {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        };
        if empty {
            continue;
        }
        if let Some(comments) = overrides.comments.get(key) {
            lines.push(String::new());
            lines.extend(comments.iter().map(|c| format!("# {c}")));
        }
        let mut section = Map::new();
        section.insert(key.to_owned(), value);
        emit::emit(&Value::Object(section), 0, &mut lines);
    }
    lines.push(String::new());
    if let Some(comments) = overrides.comments.get("operations") {
        lines.extend(comments.iter().map(|c| format!("# {c}")));
    }
    lines.push("operations:".to_owned());
    let count = ops.len();
    for (op_name, _, op) in ops {
        lines.push(String::new());
        let mut one = Map::new();
        one.insert(op_name, op);
        emit::emit(&Value::Object(one), 2, &mut lines);
    }
    let text = stamp::stamp(&(lines.join("\n") + "\n"));
    Ok(Imported {
        text,
        operations: count,
        filtered,
        problems,
    })
}

/// The first server's URL with its variables' defaults, made absolute against a URL source.
fn server_url(doc: &Value, source: &str) -> Option<String> {
    let server = doc.get("servers")?.get(0)?;
    let mut url = server.get("url")?.as_str()?.to_owned();
    for (var, spec) in server
        .get("variables")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        if let Some(default) = spec.get("default").and_then(Value::as_str) {
            url = url.replace(&format!("{{{var}}}"), default);
        }
    }
    if is_url(&url) {
        return Some(url.trim_end_matches('/').to_owned());
    }
    is_url(source).then(|| join(source, &url).trim_end_matches('/').to_owned())
}

/// The `auth` list from the security schemes the operations use.
fn auth_of(doc: &Value, used: &[String], source: &str, problems: &mut Vec<Problem>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let schemes = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object);
    for name in used {
        let Some(scheme) = schemes.and_then(|s| s.get(name)) else {
            continue;
        };
        let description = scheme
            .get("description")
            .and_then(Value::as_str)
            .and_then(schema::one_line);
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let place = scheme.get("in").and_then(Value::as_str).unwrap_or("");
        let param = scheme.get("name").and_then(Value::as_str).unwrap_or("");
        let mut entry = Map::new();
        match kind {
            "http"
                if scheme
                    .get("scheme")
                    .and_then(Value::as_str)
                    .map(str::to_lowercase)
                    .as_deref()
                    == Some("bearer") =>
            {
                entry.insert("kind".into(), json!("bearer"));
            }
            "apiKey" if place == "header" && param.eq_ignore_ascii_case("authorization") => {
                entry.insert("kind".into(), json!("bearer"));
            }
            "apiKey" if place == "query" => {
                entry.insert("kind".into(), json!("query"));
                entry.insert("param".into(), json!(param));
            }
            "oauth2" => {
                entry.insert("kind".into(), json!("oauth2"));
                let token_url = scheme
                    .get("flows")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|f| f.values())
                    .find_map(|f| f.get("tokenUrl").and_then(Value::as_str));
                if let Some(url) = token_url {
                    entry.insert("token_url".into(), json!(url));
                }
            }
            _ => {
                problems.push(Problem::at(
                    source,
                    &format!("/components/securitySchemes/{}", escape(name)),
                    format!("security scheme `{name}` ({kind}) has no Sluice auth kind; set `auth` by hand"),
                ));
                continue;
            }
        }
        if let Some(d) = description {
            entry.insert("description".into(), json!(d));
        }
        let kind = entry.get("kind").cloned();
        if !out.iter().any(|e| e.get("kind") == kind.as_ref()) {
            out.push(Value::Object(entry));
        }
    }
    out
}

/// Every scope the operations name, sorted, with what it grants.
fn scope_texts(
    doc: &Value,
    overrides: &Overrides,
    ops: &[(String, Option<String>, Value)],
) -> Map<String, Value> {
    let mut used: Vec<String> = ops
        .iter()
        .flat_map(|(_, _, op)| {
            op.get("scopes")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    used.sort();
    used.dedup();
    let documented: IndexMap<String, String> = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|s| s.values())
        .filter_map(|s| s.get("flows").and_then(Value::as_object))
        .flat_map(|f| f.values())
        .filter_map(|f| f.get("scopes").and_then(Value::as_object))
        .flat_map(|s| s.iter())
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect();
    used.into_iter()
        .map(|s| {
            let text = overrides
                .scopes
                .get(&s)
                .or_else(|| documented.get(&s))
                .cloned()
                .unwrap_or_else(|| s.clone());
            (s, json!(text))
        })
        .collect()
}

/// Webhook events: the override file's Markdown pages, then a 3.1 document's `webhooks`.
fn webhook_events(
    docs: &mut Documents<'_>,
    doc: &Value,
    source: &str,
    overrides: &Overrides,
    options: &ImportOptions,
    problems: &mut Vec<Problem>,
) -> Result<Map<String, Value>, ImportError> {
    let mut out = Map::new();
    if let Some(pages) = &overrides.webhooks {
        let table = match &pages.scopes_table {
            Some(t) => {
                let location = join(source, t);
                let text = docs.text(&location).map_err(|reason| ImportError::Read {
                    location: location.clone(),
                    reason,
                })?;
                webhooks::scopes_table(&text)
            }
            None => Vec::new(),
        };
        let override_file = options.overrides.as_deref().unwrap_or(source);
        for event in &pages.events {
            let file = format!("{event}.md");
            let text = pages.pages.iter().find_map(|dir| {
                let near_doc = join(source, &format!("{dir}/{file}"));
                docs.text(&near_doc).ok().or_else(|| {
                    docs.text(&join(override_file, &format!("{dir}/{file}")))
                        .ok()
                })
            });
            let Some(text) = text else {
                problems.push(Problem::at(
                    override_file,
                    "/webhooks/events",
                    format!("no page {file} in {}", pages.pages.join(", ")),
                ));
                continue;
            };
            match webhooks::parse_page(&text, event) {
                Ok((description, payload, note)) => {
                    if let Some(note) = note {
                        problems.push(Problem::at(&file, "", note));
                    }
                    let mut hook = Map::new();
                    if let Some(d) = description {
                        hook.insert("description".into(), json!(d));
                    }
                    if let Some((_, scope)) = table.iter().find(|(e, _)| e == event) {
                        hook.insert("scope".into(), json!(scope));
                    }
                    hook.insert("payload".into(), payload);
                    out.insert(event.clone(), Value::Object(hook));
                }
                Err(reason) => problems.push(Problem::at(&file, "", reason)),
            }
        }
    }
    for (event, item) in doc
        .get("webhooks")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let at = format!(
            "/webhooks/{}/post/requestBody/content/application~1json/schema",
            escape(event)
        );
        let Some(schema) = item.pointer("/post/requestBody/content/application~1json/schema")
        else {
            continue;
        };
        let mut conv = schema::Converter {
            docs,
            examples: false,
        };
        match conv.convert(schema, source, &at) {
            Ok(payload) => {
                let mut hook = Map::new();
                let description = item
                    .pointer("/post/summary")
                    .or_else(|| item.pointer("/post/description"))
                    .and_then(Value::as_str)
                    .and_then(schema::one_line);
                if let Some(d) = description {
                    hook.insert("description".into(), json!(d));
                }
                hook.insert("payload".into(), payload);
                out.insert(event.clone(), Value::Object(hook));
            }
            Err(problem) => problems.push(problem),
        }
    }
    Ok(out)
}
