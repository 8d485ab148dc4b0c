//! Where documents come from: a [`Loader`] reads a location (a file path or a URL), [`join`]
//! resolves a relative reference against it, and [`Documents`] keeps every parsed document
//! (JSON or YAML) and resolves `$ref`s across them.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::Problem;

/// Reads the text at a location: a file path or an `http(s)://` URL.
pub trait Loader {
    /// The text at `location`, or why it cannot be read (in words).
    ///
    /// # Errors
    /// The location cannot be read.
    fn load(&self, location: &str) -> Result<String, String>;
}

/// Reads files; refuses URLs (the CLI brings its own loader for those).
#[derive(Clone, Copy, Debug, Default)]
pub struct FileLoader;

impl Loader for FileLoader {
    fn load(&self, location: &str) -> Result<String, String> {
        if is_url(location) {
            return Err("this loader reads files only".to_owned());
        }
        std::fs::read_to_string(location).map_err(|e| e.to_string())
    }
}

/// Whether a location is a URL rather than a path.
#[must_use]
pub fn is_url(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

/// `relative` resolved against the document at `base` (a URL, or a file path whose folder it is
/// relative to). An absolute path or URL is returned as it is.
#[must_use]
pub fn join(base: &str, relative: &str) -> String {
    if relative.is_empty() {
        return base.to_owned();
    }
    if is_url(relative) || Path::new(relative).is_absolute() {
        return relative.to_owned();
    }
    if is_url(base) {
        return url::Url::parse(base)
            .and_then(|b| b.join(relative))
            .map_or_else(|_| relative.to_owned(), |u| u.to_string());
    }
    let folder = Path::new(base).parent().unwrap_or_else(|| Path::new(""));
    normalize(&folder.join(relative))
}

/// `a/b/../c` → `a/c`, without touching the file system (so locations compare equal).
fn normalize(path: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<Component<'_>> = Vec::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if parts
                    .last()
                    .is_some_and(|p| matches!(p, Component::Normal(_))) =>
            {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined: std::path::PathBuf = parts.iter().collect();
    joined.display().to_string()
}

/// A JSON pointer segment, escaped (`/` → `~1`, `~` → `~0`).
#[must_use]
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Parses a document: JSON when it starts with `{`, else YAML.
///
/// # Errors
/// The text is neither.
pub fn parse(text: &str) -> Result<Value, String> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str::<Value>(text).map_err(|e| e.to_string())
    }
}

/// The documents read so far, by location, and the loader that reads more.
pub(crate) struct Documents<'l> {
    loader: &'l dyn Loader,
    docs: HashMap<String, Value>,
}

impl<'l> Documents<'l> {
    pub(crate) fn new(loader: &'l dyn Loader) -> Self {
        Self {
            loader,
            docs: HashMap::new(),
        }
    }

    /// Reads (once) and parses the document at `location`.
    pub(crate) fn load(&mut self, location: &str) -> Result<&Value, String> {
        if !self.docs.contains_key(location) {
            let text = self.loader.load(location)?;
            let value = parse(&text)?;
            self.docs.insert(location.to_owned(), value);
        }
        self.docs
            .get(location)
            .ok_or_else(|| "the document went missing".to_owned())
    }

    /// Reads a text file (not parsed), e.g. a webhook page.
    pub(crate) fn text(&self, location: &str) -> Result<String, String> {
        self.loader.load(location)
    }

    /// The target of `reference` (`other.json#/a/b`, `#/a/b`) seen from the document at
    /// `base`: the value and where it is (location, pointer).
    pub(crate) fn resolve(
        &mut self,
        base: &str,
        reference: &str,
        at: &str,
    ) -> Result<(Value, String, String), Problem> {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let location = if file.is_empty() {
            base.to_owned()
        } else {
            join(base, file)
        };
        let doc = self.load(&location).map_err(|reason| Problem {
            file: base.to_owned(),
            pointer: at.to_owned(),
            message: format!("`$ref: {reference}`: cannot read {location}: {reason}"),
        })?;
        let pointer = percent_decode(pointer);
        let target = if pointer.is_empty() {
            Some(doc)
        } else {
            doc.pointer(&pointer)
        };
        match target {
            Some(v) => Ok((v.clone(), location, pointer)),
            None => Err(Problem {
                file: base.to_owned(),
                pointer: at.to_owned(),
                message: format!("`$ref: {reference}` points at nothing"),
            }),
        }
    }
}

/// `%7B` → `{` in a reference's pointer (URI fragments may be percent-encoded).
fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths_and_urls() {
        assert_eq!(
            join("docs/apps/contacts.json", "../common/c.json"),
            "docs/common/c.json"
        );
        assert_eq!(join("a.json", "b.json"), "b.json");
        assert_eq!(
            join("http://127.0.0.1:1/api/x.yaml", "common.yaml"),
            "http://127.0.0.1:1/api/common.yaml"
        );
        assert_eq!(join("a/x.json", "/abs/y.json"), "/abs/y.json");
        assert_eq!(percent_decode("/paths/~1a~1%7Bid%7D"), "/paths/~1a~1{id}");
    }
}
