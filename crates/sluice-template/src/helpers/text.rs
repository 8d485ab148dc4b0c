//! Text helpers: `json`, `lower`, `upper`, `trim`, the list-aware `concat`, and the
//! case-insensitive `contains`, `starts_with` and `ends_with`.

use serde_json::Value;

use super::args::{arg, eq_loose, kind, short, text, text_arg};

pub(super) fn json(a: &[Value]) -> Result<Value, String> {
    serde_json::to_string(arg(a, 0)?)
        .map(Value::String)
        .map_err(|e| e.to_string())
}

pub(super) fn lower(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).to_lowercase()))
}

pub(super) fn upper(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).to_uppercase()))
}

pub(super) fn trim(a: &[Value]) -> Result<Value, String> {
    Ok(Value::String(text(arg(a, 0)?).trim().to_string()))
}

/// `concat A B…`: lists joined into one list when any argument is a list (`null`s are left
/// out); otherwise every argument as text, joined. A list and text together are an error.
pub(super) fn concat(a: &[Value]) -> Result<Value, String> {
    let Some(list_at) = a.iter().position(Value::is_array) else {
        return Ok(Value::String(a.iter().map(text).collect()));
    };
    if let Some((i, other)) = a
        .iter()
        .enumerate()
        .find(|(_, v)| !matches!(v, Value::Array(_) | Value::Null))
    {
        return Err(format!(
            "argument {} is a list but argument {} is {} ({}): `concat` joins lists into a list, \
             or text into text, not both (`join` makes text of a list)",
            list_at + 1,
            i + 1,
            kind(other),
            short(other)
        ));
    }
    let total = a.iter().filter_map(Value::as_array).map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    for list in a.iter().filter_map(Value::as_array) {
        out.extend(list.iter().cloned());
    }
    Ok(Value::Array(out))
}

/// `contains HAYSTACK NEEDLE`: a list holds the item (as `eq` compares), text holds the text
/// (ignoring case), a map has the key.
pub(super) fn contains(a: &[Value]) -> Result<Value, String> {
    let (hay, needle) = (arg(a, 0)?, arg(a, 1)?);
    Ok(Value::Bool(match hay {
        Value::Array(items) => items.iter().any(|i| eq_loose(i, needle)),
        Value::String(s) => s.to_lowercase().contains(&text(needle).to_lowercase()),
        Value::Object(m) => m.contains_key(&text(needle)),
        _ => false,
    }))
}

/// `starts_with TEXT PREFIX`, ignoring case.
pub(super) fn starts_with(a: &[Value]) -> Result<Value, String> {
    let (s, prefix) = two_texts(a)?;
    Ok(Value::Bool(s.starts_with(&prefix)))
}

/// `ends_with TEXT SUFFIX`, ignoring case.
pub(super) fn ends_with(a: &[Value]) -> Result<Value, String> {
    let (s, suffix) = two_texts(a)?;
    Ok(Value::Bool(s.ends_with(&suffix)))
}

fn two_texts(a: &[Value]) -> Result<(String, String), String> {
    let s = text_arg(arg(a, 0)?, "the text")?;
    let t = text_arg(arg(a, 1)?, "what it is compared with")?;
    Ok((s.to_lowercase(), t.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn contains_ignores_case_in_text_only() {
        let notes = json!("Please CALL BACK on Monday");
        assert_eq!(
            contains(&[notes.clone(), json!("call back")]),
            Ok(json!(true))
        );
        assert_eq!(contains(&[notes, json!("call me")]), Ok(json!(false)));
        assert_eq!(contains(&[json!("ÉCOLE"), json!("école")]), Ok(json!(true)));
        // Lists compare items exactly (numbers by value), maps by key.
        assert_eq!(contains(&[json!(["VIP"]), json!("vip")]), Ok(json!(false)));
        assert_eq!(contains(&[json!([1, 2]), json!(2.0)]), Ok(json!(true)));
        assert_eq!(
            contains(&[json!({"Vip": 1}), json!("Vip")]),
            Ok(json!(true))
        );
        assert_eq!(contains(&[json!(null), json!("x")]), Ok(json!(false)));
        assert_eq!(
            contains(&[json!("x")]),
            Err("argument 2 is missing".to_string())
        );
    }

    #[test]
    fn starts_and_ends_with_ignore_case() {
        assert_eq!(
            starts_with(&[json!("Mr. Smith"), json!("mr.")]),
            Ok(json!(true))
        );
        assert_eq!(
            ends_with(&[json!("ada@EXAMPLE.com"), json!("@example.COM")]),
            Ok(json!(true))
        );
        assert_eq!(ends_with(&[json!("ada"), json!("b")]), Ok(json!(false)));
        assert_eq!(starts_with(&[json!(12345), json!(12)]), Ok(json!(true)));
        assert_eq!(starts_with(&[json!(null), json!("")]), Ok(json!(true)));
        assert_eq!(
            starts_with(&[json!(["a"]), json!("a")]),
            Err("the text must be text, found a list [\"a\"]".to_string())
        );
        assert!(ends_with(&[json!("a"), json!({"a": 1})]).is_err());
    }

    #[test]
    fn concat_joins_lists_into_a_list_and_text_into_text() {
        assert_eq!(
            concat(&[json!("Ada"), json!(" "), json!(null), json!(3)]),
            Ok(json!("Ada 3"))
        );
        assert_eq!(
            concat(&[json!([1, 2]), json!([]), json!(null), json!([[3]])]),
            Ok(json!([1, 2, [3]]))
        );
        let e = concat(&[json!([1]), json!("x")]).expect_err("a mix");
        assert_eq!(
            e,
            "argument 1 is a list but argument 2 is text (\"x\"): `concat` joins lists into \
             a list, or text into text, not both (`join` makes text of a list)"
        );
        assert!(concat(&[json!("x"), json!({"a": 1}), json!([2])]).is_err());
        // A map with no list keeps today's text.
        assert_eq!(concat(&[json!({"a": 1})]), Ok(json!("{\"a\":1}")));
    }
}
