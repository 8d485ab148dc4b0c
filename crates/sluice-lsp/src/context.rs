//! Where the cursor is in a flow's text, read from the text itself (a flow being typed is often
//! not valid YAML): the keys around it (`steps` → `contact` → `with`), whether a key or a value
//! is being written, the word under it, and the template path under it inside `{{ … }}`.

/// What is around one offset of a YAML text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The keys whose value holds the cursor, outermost first.
    pub(crate) keys: Vec<String>,
    /// Whether a key is being written here (not a value).
    pub(crate) at_key: bool,
    /// The byte range of the plain word around the cursor (a name, an action).
    pub(crate) word: (usize, usize),
    /// The template path around the cursor, when it is inside `{{ … }}`.
    pub(crate) template: Option<TemplatePath>,
}

/// A path (or helper name) inside a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TemplatePath {
    /// Byte range of the whole path around the cursor.
    pub(crate) range: (usize, usize),
    /// Its text.
    pub(crate) text: String,
    /// Where the segment under the cursor starts (after the last `.` before the cursor).
    pub(crate) segment_start: usize,
    /// The segments before the one under the cursor, `[0]` written as `0`.
    pub(crate) before: Vec<String>,
    /// The segment under the cursor, up to the cursor.
    pub(crate) partial: String,
    /// The segment under the cursor, whole.
    pub(crate) segment: String,
    /// Whether a helper may be named here: first in `{{ … }}` or in `( … )`.
    pub(crate) head: bool,
    /// After `{{#`: a block helper.
    pub(crate) block: bool,
}

/// Reads what is around `offset` in `text`.
pub(crate) fn cursor(text: &str, offset: usize) -> Cursor {
    let offset = text.floor_char_boundary(offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let col = offset - line_start;
    let (content, indent) = line_content(line, col);
    let mut keys = block_keys(&text[..line_start], indent);
    let scan = scan_line(&line[content.min(col)..col]);
    keys.extend(scan.keys);
    Cursor {
        keys,
        at_key: scan.at_key,
        word: word_at(text, offset),
        template: template_at(line, line_start, col),
    }
}

/// Where a line's content starts (after its indentation and a `- ` item mark) and the
/// indentation its keys have. On a line of blanks only the part before the cursor counts.
fn line_content(line: &str, col: usize) -> (usize, usize) {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    let mut start = spaces.min(col);
    while line[start..].starts_with("- ") || line[start..].starts_with("-\t") {
        start += 2;
        start += line[start..].len() - line[start..].trim_start_matches(' ').len();
    }
    (start.min(line.len()), start)
}

/// The block keys above a line whose keys are indented by `indent`: each line before it with
/// less indentation that starts with `key:` encloses it.
fn block_keys(before: &str, indent: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut limit = indent;
    for line in before.lines().rev() {
        if limit == 0 {
            break;
        }
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (content, key_indent) = line_content(line, line.len());
        let line_indent = line.len() - trimmed.len();
        if line_indent >= limit && key_indent >= limit {
            continue;
        }
        if let Some(key) = leading_key(&line[content..]) {
            if key_indent < limit {
                keys.push(key);
                limit = key_indent;
            } else {
                // An item mark (`- `) less indented than us: we are inside its map.
                limit = line_indent;
            }
        } else {
            limit = line_indent;
        }
    }
    keys.reverse();
    keys
}

/// `key` of a line that starts with `key:` (plain or quoted), when it does.
fn leading_key(content: &str) -> Option<String> {
    let scan = scan_line(content);
    if scan.first_key_at_top {
        scan.keys.into_iter().next()
    } else {
        None
    }
}

/// What a scan of one line's content up to the cursor found.
struct LineScan {
    /// Keys enclosing the cursor on this line.
    keys: Vec<String>,
    /// Whether the cursor is where a key is written.
    at_key: bool,
    /// Whether the line's first thing is a `key:` of the block map.
    first_key_at_top: bool,
}

/// Scans a line's content (flow maps and lists, quotes, comments) up to its end, as a stack of
/// containers and the key being written in each.
fn scan_line(content: &str) -> LineScan {
    // (container, the key whose value it is)
    let mut stack: Vec<(char, Option<String>)> = Vec::new();
    let mut key: Option<String> = None;
    let mut pending = String::new();
    let mut quote: Option<char> = None;
    let mut first_key_at_top = false;
    let mut opened = false;
    let mut chars = content.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else {
                pending.push(c);
            }
            continue;
        }
        match c {
            '"' | '\'' if pending.trim().is_empty() => quote = Some(c),
            '#' if pending.is_empty() || pending.ends_with(' ') => break,
            '{' | '[' => {
                stack.push((c, key.take()));
                pending.clear();
                opened = true;
            }
            '}' | ']' => {
                if let Some((_, k)) = stack.pop() {
                    key = k;
                }
                pending.clear();
            }
            ',' if !stack.is_empty() => {
                key = None;
                pending.clear();
            }
            ':' if chars.peek().is_none_or(|(_, n)| n.is_whitespace()) => {
                if key.is_none() || !stack.is_empty() {
                    if stack.is_empty() && !opened {
                        first_key_at_top = true;
                    }
                    key = Some(pending.trim().to_string());
                }
                pending.clear();
            }
            _ => pending.push(c),
        }
    }
    let in_map = stack.last().is_none_or(|(c, _)| *c == '{');
    let at_key = key.is_none() && in_map;
    let mut keys: Vec<String> = stack.into_iter().filter_map(|(_, k)| k).collect();
    keys.extend(key);
    LineScan {
        keys,
        at_key,
        first_key_at_top,
    }
}

/// A character of a plain word: names, actions, paths.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | '@' | '/')
}

/// The byte range of the word around `offset`.
fn word_at(text: &str, offset: usize) -> (usize, usize) {
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word_char(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| !is_word_char(*c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start, end)
}

/// A character of a template path: names, `.`, `[0]`.
fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | ':' | '[' | ']' | '@')
}

/// The template path around column `col` of `line`, when the column is inside `{{ … }}`.
fn template_at(line: &str, line_start: usize, col: usize) -> Option<TemplatePath> {
    let open = line[..col].rfind("{{")?;
    if line[open..col].contains("}}") {
        return None;
    }
    let after_open = open + 2;
    let start = line[after_open..col]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_path_char(*c))
        .last()
        .map_or(col, |(i, _)| after_open + i);
    let end = line[col..]
        .char_indices()
        .find(|(_, c)| !is_path_char(*c))
        .map_or(line.len(), |(i, _)| col + i);
    let text = &line[start..end];
    let typed = &line[start..col];
    let segment_start = typed.rfind('.').map_or(start, |i| start + i + 1);
    let segment_end = line[segment_start..end]
        .find('.')
        .map_or(end, |i| segment_start + i);
    let before: Vec<String> = if segment_start > start {
        line[start..segment_start - 1]
            .split('.')
            .map(|s| s.trim_start_matches('[').trim_end_matches(']').to_string())
            .collect()
    } else {
        Vec::new()
    };
    let lead = line[after_open..start].trim_end_matches(' ');
    let lead = lead.trim_start_matches('~');
    let block = lead == "#" || line[after_open..start].trim() == "#";
    let head = lead.trim().is_empty() || block || lead.ends_with('(');
    Some(TemplatePath {
        range: (line_start + start, line_start + end),
        text: text.to_string(),
        segment_start: line_start + segment_start,
        before,
        partial: line[segment_start..col].to_string(),
        segment: line[segment_start..segment_end].to_string(),
        head,
        block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor at `|` in `text` (the bar removed).
    fn at(text: &str) -> Cursor {
        let offset = text.find('|').expect("a cursor mark");
        let text = text.replacen('|', "", 1);
        cursor(&text, offset)
    }

    #[test]
    fn keys_of_block_and_flow_maps() {
        let flow = "name: x\nsteps:\n  contact:\n    action: ghl.get|\n";
        let c = at(flow);
        assert_eq!(c.keys, ["steps", "contact", "action"]);
        assert!(!c.at_key);
        let c = at("steps:\n  contact:\n    with:\n      conta|\n");
        assert_eq!(c.keys, ["steps", "contact", "with"]);
        assert!(c.at_key);
        let c = at("steps:\n  contact:\n    with: { contactId: x, lim| }\n");
        assert_eq!(c.keys, ["steps", "contact", "with"]);
        assert!(c.at_key);
        let c = at("steps:\n  a:\n    with: { contactId: \"{{ steps.|\" }\n");
        assert_eq!(c.keys, ["steps", "a", "with", "contactId"]);
        let c = at("on:\n  - schedule:\n      cron: \"0 8|\"\n");
        assert_eq!(c.keys, ["on", "schedule", "cron"]);
        let c = at("steps:\n  j:\n    after:\n      - f|\n");
        assert_eq!(c.keys, ["steps", "j", "after"]);
        // Comments and blank lines above do not count.
        let c = at("steps:\n  # a note\n\n  a:\n    value: |\n");
        assert_eq!(c.keys, ["steps", "a", "value"]);
        // A new key typed at the indentation of steps' keys.
        let c = at("steps:\n  a:\n    value: 1\n  |\n");
        assert_eq!(c.keys, ["steps"]);
        assert!(c.at_key);
    }

    #[test]
    fn every_offset_of_a_text_reads() {
        let texts = [
            "on:\n  - manual: {}\n  - name: x é𝄞 \"{{ steps.a.[0]. }}\"\n- \n-\n  -   - a: [b, {c: \"{{",
            "steps:\n  a:\n    with: { x: '{{ it''s }}', y: \"\\\"{{ a\" }\n#{{\n",
        ];
        for text in texts {
            for offset in 0..=text.len() + 2 {
                let _ = cursor(text, offset);
            }
        }
    }

    #[test]
    fn template_paths() {
        let c = at("output: \"{{ steps.contact.contact.em| }}\"\n");
        let t = c.template.expect("in a template");
        assert_eq!(t.before, ["steps", "contact", "contact"]);
        assert_eq!(t.partial, "em");
        assert!(
            t.head,
            "the first word of `{{ }}` may be a helper or a path"
        );
        let t = at("x: \"{{ len steps.t.[0].ti|tle }}\"")
            .template
            .expect("template");
        assert_eq!(t.before, ["steps", "t", "0"]);
        assert_eq!((t.partial.as_str(), t.segment.as_str()), ("ti", "title"));
        assert_eq!(t.text, "steps.t.[0].title");
        let t = at("x: \"{{ le| }}\"").template.expect("template");
        assert!(t.head && t.before.is_empty());
        let t = at("x: \"{{ take (rev| x) 3 }}\"")
            .template
            .expect("template");
        assert!(t.head);
        let t = at("x: \"{{#ea|}}\"").template.expect("template");
        assert!(t.block && t.head);
        assert_eq!(at("x: \"{{ a }} b|\"").template, None);
    }
}
