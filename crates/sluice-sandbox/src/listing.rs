//! Paging and text search of the lists the GHL handlers answer: whole numbers from the query
//! string, one page of a list, and whether a record's fields hold a text in any case.

use std::collections::HashMap;

use serde_json::Value;

/// A whole-number query parameter; `default` when it is absent or not one.
pub(crate) fn query_number(q: &HashMap<String, String>, key: &str, default: usize) -> usize {
    q.get(key).and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Page `page` (the first is 1) of `limit` items.
pub(crate) fn page_of<T>(items: impl IntoIterator<Item = T>, page: usize, limit: usize) -> Vec<T> {
    items
        .into_iter()
        .skip(page.saturating_sub(1) * limit)
        .take(limit)
        .collect()
}

/// Whether one of the record's string fields `keys` holds `lower` (a lower-case text), in
/// any case.
pub(crate) fn holds_text(item: &Value, keys: &[&str], lower: &str) -> bool {
    keys.iter().any(|k| {
        item.get(*k)
            .and_then(Value::as_str)
            .is_some_and(|v| v.to_lowercase().contains(lower))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_texts() {
        let q = HashMap::from([
            ("limit".to_owned(), "7".to_owned()),
            ("page".to_owned(), "x".to_owned()),
        ]);
        assert_eq!(query_number(&q, "limit", 20), 7);
        assert_eq!(query_number(&q, "page", 1), 1);
        assert_eq!(query_number(&q, "skip", 0), 0);
        assert_eq!(page_of(1..=10, 2, 3), [4, 5, 6]);
        assert_eq!(page_of(1..=10, 4, 3), [10]);
        let r = serde_json::json!({"name": "Big Deal", "n": 3});
        assert!(holds_text(&r, &["email", "name"], "deal"));
        assert!(!holds_text(&r, &["n", "email"], "3"));
    }
}
