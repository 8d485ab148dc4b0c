//! The fingerprint line of a generated connector: a SHA-256 of the rest of the file, so a
//! later import can tell a file it wrote (safe to replace) from one edited by hand (kept
//! unless forced).

use sha2::{Digest, Sha256};

/// How the fingerprint line starts.
pub const MARKER: &str = "# sluice connector import: fingerprint ";

/// What is at the target path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// No file.
    Missing,
    /// A file this import wrote, unchanged since.
    Generated,
    /// A file with a fingerprint that no longer matches: edited by hand.
    Edited,
    /// A file without a fingerprint: not written by an import.
    Foreign,
}

/// The fingerprint of a text (its lines other than the fingerprint line).
fn fingerprint(text: &str) -> String {
    let mut hasher = Sha256::new();
    for line in text.lines().filter(|l| !l.starts_with(MARKER)) {
        hasher.update(line.as_bytes());
        hasher.update(b"\n");
    }
    let digest = hasher.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Puts the fingerprint line in place of the line that starts with [`MARKER`].
#[must_use]
pub fn stamp(text: &str) -> String {
    let print = fingerprint(text);
    let mut out = String::with_capacity(text.len() + 40);
    for line in text.lines() {
        if line.starts_with(MARKER) {
            out.push_str(MARKER);
            out.push_str(&print);
            out.push_str(" (do not edit by hand; see the lines below)");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// What a file's text is, by its fingerprint.
#[must_use]
pub fn classify(existing: Option<&str>) -> Existing {
    let Some(text) = existing else {
        return Existing::Missing;
    };
    let Some(line) = text.lines().find(|l| l.starts_with(MARKER)) else {
        return Existing::Foreign;
    };
    let recorded = line[MARKER.len()..].split_whitespace().next().unwrap_or("");
    if recorded == fingerprint(text) {
        Existing::Generated
    } else {
        Existing::Edited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_changes_the_class() {
        let text = stamp(&format!("# schema\n{MARKER}\nname: x\n"));
        assert_eq!(classify(Some(&text)), Existing::Generated);
        assert_eq!(
            classify(Some(&text.replace("name: x", "name: y"))),
            Existing::Edited
        );
        assert_eq!(classify(Some("name: x\n")), Existing::Foreign);
        assert_eq!(classify(None), Existing::Missing);
    }
}
