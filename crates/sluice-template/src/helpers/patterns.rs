//! Regular expressions (the `regex` crate: linear time, no look-around): `regex_match`,
//! `regex_replace`, `regex_find`, with the flags `i m s x`, a size limit on compiled patterns,
//! and a small cache so a `for_each` does not compile the same pattern per item.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::args::{arg, cut, text_arg};

/// The most memory one compiled pattern may take (bytes).
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Patterns kept compiled; the cache is emptied when it holds this many.
const CACHE_SIZE: usize = 256;

/// A pattern or flags that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A flag that is not one of `i m s x`.
    #[error(
        "`{0}` is not a pattern flag (flags: `i` ignore case, `m` `^` and `$` at every line, \
         `s` `.` matches a newline too, `x` ignore spaces and `#` comments)"
    )]
    Flag(char),
    /// The pattern does not read.
    #[error("`{pattern}` is not a valid pattern: {reason}")]
    Syntax {
        /// The pattern (cut to 60 characters).
        pattern: String,
        /// What is wrong, as the regex crate says it.
        reason: String,
    },
    /// The pattern compiles to more than [`PATTERN_SIZE_LIMIT`].
    #[error("`{0}` is too large once compiled (the limit is 1 MiB): make it simpler")]
    TooBig(String),
}

/// Checks a pattern and its flags as the helpers will compile them (for `sluice validate`).
///
/// # Errors
/// What is wrong with the pattern or a flag.
pub fn compile_pattern(pattern: &str, flags: &str) -> Result<(), PatternError> {
    build(pattern, flags).map(drop)
}

fn build(pattern: &str, flags: &str) -> Result<Regex, PatternError> {
    let mut builder = RegexBuilder::new(pattern);
    builder
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT);
    for flag in flags.chars().filter(|c| !c.is_whitespace()) {
        match flag {
            'i' => builder.case_insensitive(true),
            'm' => builder.multi_line(true),
            's' => builder.dot_matches_new_line(true),
            'x' => builder.ignore_whitespace(true),
            other => return Err(PatternError::Flag(other)),
        };
    }
    builder.build().map_err(|e| match e {
        regex::Error::CompiledTooBig(_) => PatternError::TooBig(cut(pattern)),
        other => PatternError::Syntax {
            pattern: cut(pattern),
            reason: reason(&other.to_string()),
        },
    })
}

/// The last `error: …` line of the regex crate's multi-line message.
fn reason(message: &str) -> String {
    message
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || message.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_string,
        )
}

static CACHE: LazyLock<Mutex<HashMap<(String, String), Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The compiled pattern, from the cache when it was used before.
fn compiled(pattern: &str, flags: &str) -> Result<Regex, String> {
    let key = (pattern.to_string(), flags.to_string());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(re) = cache.get(&key) {
        return Ok(re.clone());
    }
    let re = build(pattern, flags).map_err(|e| e.to_string())?;
    if cache.len() >= CACHE_SIZE {
        cache.clear();
    }
    cache.insert(key, re.clone());
    Ok(re)
}

/// The text, the compiled pattern (argument `pattern_at`) and its flags (argument `flags_at`).
fn text_and_pattern(
    a: &[Value],
    pattern_at: usize,
    flags_at: usize,
) -> Result<(String, Regex), String> {
    let s = text_arg(arg(a, 0)?, "the text")?;
    let pattern = text_arg(arg(a, pattern_at)?, "the pattern")?;
    let flags = match a.get(flags_at) {
        Some(f) => text_arg(f, "the flags")?,
        None => String::new(),
    };
    Ok((s, compiled(&pattern, &flags)?))
}

/// `regex_match TEXT PATTERN [FLAGS]`: whether the pattern matches anywhere in the text.
pub(super) fn regex_match(a: &[Value]) -> Result<Value, String> {
    let (s, re) = text_and_pattern(a, 1, 2)?;
    Ok(Value::Bool(re.is_match(&s)))
}

/// `regex_replace TEXT PATTERN REPLACEMENT [FLAGS]`: every match replaced; `$1`, `${name}`
/// insert groups, `$$` a dollar.
pub(super) fn regex_replace(a: &[Value]) -> Result<Value, String> {
    let (s, re) = text_and_pattern(a, 1, 3)?;
    let replacement = text_arg(arg(a, 2)?, "the replacement")?;
    Ok(Value::String(
        re.replace_all(&s, replacement.as_str()).into_owned(),
    ))
}

/// `regex_find TEXT PATTERN [FLAGS]`: the first match, or its first group when the pattern has
/// groups; `null` when nothing matches (or the group took no part in the match).
pub(super) fn regex_find(a: &[Value]) -> Result<Value, String> {
    let (s, re) = text_and_pattern(a, 1, 2)?;
    let Some(caps) = re.captures(&s) else {
        return Ok(Value::Null);
    };
    let group = usize::from(re.captures_len() > 1);
    Ok(caps
        .get(group)
        .map_or(Value::Null, |m| Value::String(m.as_str().to_string())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn regex_match_with_and_without_flags() {
        let notes = json!("Customer said: CALL BACK tomorrow");
        assert_eq!(
            regex_match(&[notes.clone(), json!("call\\s+back")]),
            Ok(json!(false))
        );
        assert_eq!(
            regex_match(&[notes.clone(), json!("call\\s+back"), json!("i")]),
            Ok(json!(true))
        );
        assert_eq!(
            regex_match(&[json!("a\nb"), json!("^b$")]),
            Ok(json!(false))
        );
        assert_eq!(
            regex_match(&[json!("a\nb"), json!("^b$"), json!("m")]),
            Ok(json!(true))
        );
        assert_eq!(
            regex_match(&[json!("a\nb"), json!("a.b")]),
            Ok(json!(false))
        );
        assert_eq!(
            regex_match(&[json!("a\nb"), json!("a.b"), json!("s")]),
            Ok(json!(true))
        );
        assert_eq!(
            regex_match(&[json!("ab"), json!("a b # two letters"), json!("x")]),
            Ok(json!(true))
        );
        assert_eq!(
            regex_match(&[json!("AB"), json!("a b"), json!("x i")]),
            Ok(json!(true))
        );
        assert_eq!(regex_match(&[json!(null), json!("^$")]), Ok(json!(true)));
        assert_eq!(regex_match(&[json!(4711), json!("^47")]), Ok(json!(true)));
    }

    #[test]
    fn regex_replace_inserts_groups() {
        assert_eq!(
            regex_replace(&[json!("+49 (30) 1234-56"), json!("[^0-9+]"), json!("")]),
            Ok(json!("+4930123456"))
        );
        assert_eq!(
            regex_replace(&[
                json!("Lovelace, Ada"),
                json!("(\\w+), (\\w+)"),
                json!("$2 $1")
            ]),
            Ok(json!("Ada Lovelace"))
        );
        assert_eq!(
            regex_replace(&[
                json!("2026-01-02"),
                json!("(?<y>\\d+)-(?<m>\\d+)-(?<d>\\d+)"),
                json!("${d}.${m}.${y} costs $$5")
            ]),
            Ok(json!("02.01.2026 costs $5"))
        );
        assert_eq!(
            regex_replace(&[json!("VIP vip"), json!("vip"), json!("x"), json!("i")]),
            Ok(json!("x x"))
        );
    }

    #[test]
    fn regex_find_gives_the_match_or_its_first_group() {
        let body = json!("Order #4711 shipped, order #4712 pending");
        assert_eq!(
            regex_find(&[body.clone(), json!("#\\d+")]),
            Ok(json!("#4711"))
        );
        assert_eq!(
            regex_find(&[body.clone(), json!("#(\\d+)")]),
            Ok(json!("4711"))
        );
        assert_eq!(
            regex_find(&[body.clone(), json!("ORDER #(\\d+) (\\w+)"), json!("i")]),
            Ok(json!("4711"))
        );
        assert_eq!(
            regex_find(&[body.clone(), json!("refund")]),
            Ok(json!(null))
        );
        assert_eq!(regex_find(&[body, json!("(x)?shipped")]), Ok(json!(null)));
    }

    #[test]
    fn bad_patterns_and_flags_are_errors() {
        assert_eq!(
            regex_match(&[json!("a"), json!("[a-")]),
            Err("`[a-` is not a valid pattern: unclosed character class".to_string())
        );
        assert_eq!(
            regex_match(&[json!("a"), json!("a"), json!("g")]),
            Err(PatternError::Flag('g').to_string())
        );
        assert!(
            regex_match(&[json!("a"), json!("(?=a)")]).is_err_and(|e| e.contains("look-around")),
        );
        let huge = "\\w{1000}{1000}";
        assert_eq!(
            compile_pattern(huge, ""),
            Err(PatternError::TooBig(huge.to_string()))
        );
        assert!(regex_match(&[json!(["a"]), json!("a")]).is_err());
        assert!(regex_match(&[json!("a"), json!({"p": 1})]).is_err());
        assert!(regex_replace(&[json!("a"), json!("a")]).is_err());
    }

    #[test]
    fn the_cache_gives_the_same_answers() {
        for _ in 0..3 {
            assert_eq!(
                regex_match(&[json!("Ada"), json!("^a"), json!("i")]),
                Ok(json!(true))
            );
            assert_eq!(regex_match(&[json!("Ada"), json!("^a")]), Ok(json!(false)));
        }
        for i in 0..(CACHE_SIZE + 10) {
            let p = format!("^{i}$");
            assert_eq!(
                regex_match(&[json!(i.to_string()), json!(p)]),
                Ok(json!(true))
            );
        }
    }
}
