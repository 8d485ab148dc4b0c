//! Positions: the byte offsets of Sluice's spans and the LSP's positions (lines and UTF-16
//! columns, the encoding every client speaks), and `file:` URIs and paths.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use line_index::{LineCol, LineIndex, TextSize, WideEncoding, WideLineCol};
use lsp_types::{Position, Range, Uri};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use sluice_model::Span;

/// A document's text with its line index.
#[derive(Debug)]
pub(crate) struct Text {
    text: String,
    index: LineIndex,
}

impl Text {
    pub(crate) fn new(text: String) -> Self {
        let index = LineIndex::new(&text);
        Self { text, index }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The position of a byte offset (clamped to the text, moved back to a character start).
    pub(crate) fn position(&self, offset: usize) -> Position {
        let offset = self.text.floor_char_boundary(offset.min(self.text.len()));
        let size = TextSize::from(u32::try_from(offset).unwrap_or(u32::MAX));
        let Some(line_col) = self.index.try_line_col(size) else {
            return Position::new(0, 0);
        };
        let wide = self
            .index
            .to_wide(WideEncoding::Utf16, line_col)
            .unwrap_or(WideLineCol {
                line: line_col.line,
                col: line_col.col,
            });
        Position::new(wide.line, wide.col)
    }

    /// The range of a span (an empty range at the start for an unknown span).
    pub(crate) fn range(&self, span: Span) -> Range {
        if span.is_unknown() {
            return Range::new(Position::new(0, 0), Position::new(0, 0));
        }
        Range::new(self.position(span.offset), self.position(span.end()))
    }

    /// The byte offset of a position; past the end of its line is the line's end, past the
    /// last line the text's end.
    pub(crate) fn offset(&self, position: Position) -> usize {
        let Some(line) = self.index.line(position.line) else {
            return self.text.len();
        };
        let start = usize::from(line.start());
        let mut end = usize::from(line.end());
        // The line's range includes its newline.
        if self.text[start..end].ends_with('\n') {
            end -= 1;
        }
        if self.text[start..end].ends_with('\r') {
            end -= 1;
        }
        let wide = WideLineCol {
            line: position.line,
            col: position.character,
        };
        let col = self
            .index
            .to_utf8(WideEncoding::Utf16, wide)
            .map_or(position.character, |lc: LineCol| lc.col);
        let offset = start.saturating_add(col as usize).min(end);
        self.text.floor_char_boundary(offset)
    }
}

/// Characters a path keeps percent-encoded in a `file:` URI.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The path of a `file:` URI.
pub(crate) fn path_of(uri: &Uri) -> Option<PathBuf> {
    if !uri
        .scheme()
        .is_some_and(|s| s.as_str().eq_ignore_ascii_case("file"))
    {
        return None;
    }
    let decoded = percent_decode_str(uri.path().as_str()).decode_utf8().ok()?;
    Some(PathBuf::from(decoded.as_ref()))
}

/// The `file:` URI of an absolute path.
pub(crate) fn uri_of(path: &Path) -> Option<Uri> {
    let text = path.to_str()?;
    Uri::from_str(&format!("file://{}", utf8_percent_encode(text, PATH))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions_agree_past_wide_characters() {
        // `é` is 2 bytes and 1 UTF-16 unit; `𝄞` is 4 bytes and 2 units.
        let text = Text::new("a: é𝄞x\r\nb: 1\n".to_string());
        let x = text.as_str().find('x').expect("an x");
        assert_eq!(text.position(x), Position::new(0, 6));
        assert_eq!(text.offset(Position::new(0, 6)), x);
        // Past the end of a line: its end (before `\r\n`); past the text: its end.
        assert_eq!(text.offset(Position::new(0, 99)), x + 1);
        assert_eq!(text.offset(Position::new(9, 0)), text.as_str().len());
        // Inside a character: its start.
        assert_eq!(text.position(x - 1), text.position(x - 4));
    }

    #[test]
    fn file_uris_round_trip() {
        let path = Path::new("/tmp/my flows/a#b.yaml");
        let uri = uri_of(path).expect("a URI");
        assert_eq!(uri.as_str(), "file:///tmp/my%20flows/a%23b.yaml");
        assert_eq!(path_of(&uri).as_deref(), Some(path));
    }
}
