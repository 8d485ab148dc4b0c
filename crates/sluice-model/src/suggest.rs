//! "Did you mean" suggestions for misspelled names.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
#[must_use]
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = strsim::levenshtein(&lower, &candidate.to_lowercase());
        let allowed = match candidate.chars().count() {
            0..=3 => 1,
            4..=8 => 2,
            _ => 3,
        };
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A name cut to at most 60 characters for a message (a hostile file may hold huge names).
#[must_use]
pub fn shorten(name: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 60;
    if name.chars().count() <= MAX {
        return name.into();
    }
    let cut: String = name.chars().take(MAX).collect();
    format!("{cut}…").into()
}

/// `a`, `b`, `c` for a help line listing names.
#[must_use]
pub fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["get_contact", "list_notes", "list_tasks"];
        assert_eq!(did_you_mean("get_contcat", names), Some("get_contact"));
        assert_eq!(did_you_mean("list_task", names), Some("list_tasks"));
        assert_eq!(did_you_mean("delete_everything", names), None);
    }
}
