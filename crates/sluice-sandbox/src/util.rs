//! Small helpers shared by the handlers: GHL-style ids, JSON body parsing and
//! NestJS-style (class-validator) checks of body fields, whose messages become 422 answers.

use rand_core::RngCore;
use serde_json::{Map, Value};

use crate::errors::GhlError;

/// A new id in GHL's style: 20 letters and digits.
pub(crate) fn new_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 20];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A JSON object body; an empty body is `{}`. Bad JSON is 400, as NestJS answers.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, GhlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(GhlError::BadRequest(
            "The body must be a JSON object".to_owned(),
        )),
        Err(e) => Err(GhlError::BadRequest(format!("Unexpected JSON: {e}"))),
    }
}

/// Collects class-validator style messages about a body.
#[derive(Debug, Default)]
pub(crate) struct Check {
    pub(crate) errors: Vec<String>,
}

impl Check {
    /// `property X should not exist` for fields outside `allowed` (NestJS `forbidNonWhitelisted`).
    pub(crate) fn only(&mut self, body: &Map<String, Value>, allowed: &[&str]) {
        for k in body.keys() {
            if !allowed.contains(&k.as_str()) {
                self.errors.push(format!("property {k} should not exist"));
            }
        }
    }

    /// A required string.
    pub(crate) fn required_string(&mut self, body: &Map<String, Value>, name: &str) {
        match body.get(name) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => {
                self.errors.push(format!("{name} should not be empty"));
                if !matches!(body.get(name), Some(Value::String(_))) {
                    self.errors.push(format!("{name} must be a string"));
                }
            }
            Some(_) => self.errors.push(format!("{name} must be a string")),
        }
    }

    /// An optional string (null allowed).
    pub(crate) fn string(&mut self, body: &Map<String, Value>, name: &str) {
        if let Some(v) = body.get(name)
            && !v.is_string()
            && !v.is_null()
        {
            self.errors.push(format!("{name} must be a string"));
        }
    }

    pub(crate) fn boolean(&mut self, body: &Map<String, Value>, name: &str, required: bool) {
        match body.get(name) {
            Some(Value::Bool(_)) => {}
            None if !required => {}
            _ => self.errors.push(format!("{name} must be a boolean value")),
        }
    }

    /// An ISO 8601 date string.
    pub(crate) fn date(&mut self, body: &Map<String, Value>, name: &str, required: bool) {
        match body.get(name) {
            Some(Value::String(s)) if crate::seed::parse_iso(s).is_some() => {}
            None if !required => {}
            _ => self
                .errors
                .push(format!("{name} must be a valid ISO 8601 date string")),
        }
    }

    /// A list of strings.
    pub(crate) fn string_array(&mut self, body: &Map<String, Value>, name: &str, required: bool) {
        match body.get(name) {
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(Value::Array(_)) => self
                .errors
                .push(format!("each value in {name} must be a string")),
            None if !required => {}
            _ => self.errors.push(format!("{name} must be an array")),
        }
    }

    /// An object.
    pub(crate) fn object(&mut self, body: &Map<String, Value>, name: &str) {
        if let Some(v) = body.get(name)
            && !v.is_object()
        {
            self.errors.push(format!("{name} must be an object"));
        }
    }

    /// A JSON array of anything.
    pub(crate) fn array(&mut self, body: &Map<String, Value>, name: &str) {
        if let Some(v) = body.get(name)
            && !v.is_array()
        {
            self.errors.push(format!("{name} must be an array"));
        }
    }

    /// 422 with every message, or `Ok`.
    pub(crate) fn done(self) -> Result<(), GhlError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(GhlError::Unprocessable(self.errors))
        }
    }
}

/// The string value of a field, if it is one.
pub(crate) fn str_of<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

/// Digits of a phone number, for matching `+1 415-555-0101` with `+14155550101`.
pub(crate) fn phone_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_ghl_ids() {
        let id = new_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, new_id());
    }

    #[test]
    fn checks_collect_messages() {
        let body = json_object(br#"{"title": 3, "extra": true}"#).unwrap_or_default();
        let mut c = Check::default();
        c.only(&body, &["title"]);
        c.required_string(&body, "title");
        c.date(&body, "dueDate", true);
        let msgs = c.errors;
        assert_eq!(
            msgs,
            [
                "property extra should not exist",
                "title must be a string",
                "dueDate must be a valid ISO 8601 date string"
            ]
        );
        assert!(json_object(b"{").is_err());
        assert!(json_object(b"  ").is_ok_and(|m| m.is_empty()));
    }
}
