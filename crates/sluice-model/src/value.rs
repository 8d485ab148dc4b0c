//! Values a flow author writes that may hold `{{ ... }}` templates, and durations.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer};

use crate::node::{Node, NodeKind};

/// Any value (text, number, list, map) whose strings may contain `{{ ... }}` templates.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateValue(pub Node);

impl<'de> Deserialize<'de> for TemplateValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Node::deserialize(deserializer).map(TemplateValue)
    }
}

impl JsonSchema for TemplateValue {
    fn schema_name() -> Cow<'static, str> {
        "TemplateValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Any value. Strings may contain `{{ ... }}` templates; a string that is exactly one `{{ expression }}` keeps the JSON type of what it refers to."
        })
    }
}

/// Whether a string holds a template.
#[must_use]
pub fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// A literal `T`, or a `{{ ... }}` template evaluated when the flow runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Templated<T> {
    /// A value written as is.
    Literal(T),
    /// A template string.
    Template(String),
}

impl<'de, T: de::DeserializeOwned> Deserialize<'de> for Templated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        if let NodeKind::Str(s) = &node.kind
            && is_template(s)
        {
            return Ok(Templated::Template(s.clone()));
        }
        crate::de::from_node::<T>(&node)
            .map(Templated::Literal)
            .map_err(|e| de::Error::custom(e.message))
    }
}

impl<T: JsonSchema> JsonSchema for Templated<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("Templated_{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let literal = generator.subschema_for::<T>();
        json_schema!({
            "anyOf": [
                literal,
                {
                    "type": "string",
                    "pattern": TEMPLATE_PATTERN,
                    "patternErrorMessage": TEMPLATE_MESSAGE,
                    "description": "A `{{ ... }}` template evaluated when the flow runs."
                }
            ]
        })
    }
}

/// The JSON Schema pattern of a template string.
pub const TEMPLATE_PATTERN: &str = r"\{\{.*\}\}";

/// What an editor says when a value is neither what a setting takes nor a template.
pub const TEMPLATE_MESSAGE: &str = "Neither a value this setting takes nor a `{{ ... }}` template.";

/// The JSON Schema pattern of a duration written as text: what [`Duration`]'s parser
/// (humantime) reads — numbers (with decimals) each followed by a unit.
pub const DURATION_PATTERN: &str = r"^\s*([0-9]+(\.[0-9]+)?\s*(nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)\s*)+$";

/// A length of time: `500ms`, `30s`, `5m`, `2h`, `1d`, or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub std::time::Duration);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// Text that is not a length of time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration ({reason}); write e.g. `500ms`, `30s`, `5m`, `2h` or `1d`")]
pub struct DurationError {
    /// The text as written.
    pub text: String,
    /// Why it does not read.
    pub reason: String,
}

impl std::str::FromStr for Duration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(Duration)
            .map_err(|e| DurationError {
                text: s.to_string(),
                reason: e.to_string(),
            })
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s` or `5m`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(std::time::Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(|v| Duration(std::time::Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                std::time::Duration::try_from_secs_f64(v)
                    .map(Duration)
                    .map_err(|_| E::custom("a duration must be a positive number of seconds"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A length of time: `500ms`, `30s`, `5m`, `2h`, `1d`, or a number of seconds.",
            "anyOf": [
                {
                    "type": "string",
                    "pattern": DURATION_PATTERN,
                    "patternErrorMessage": "A duration is a number and a unit, e.g. `500ms`, `30s`, `5m`, `2h` or `1d` (or `1h30m`)."
                },
                { "type": "number", "minimum": 0 }
            ]
        })
    }
}

/// How many pages of a paginated operation a step reads: `all`, or at most a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pages {
    /// Every page, until the API says there are no more.
    All,
    /// At most this many pages (1 or more).
    AtMost(u32),
}

impl<'de> Deserialize<'de> for Pages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Pages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`all` or a number of pages (1 or more)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Pages, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Pages::AtMost)
                    .ok_or_else(|| E::custom("write `all` or a number of pages from 1"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Pages, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("write `all` or a number of pages from 1"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Pages, E> {
                if v.trim() == "all" {
                    Ok(Pages::All)
                } else {
                    Err(E::custom(format!(
                        "`{v}` is not a number of pages: write `all` or a number from 1"
                    )))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Pages {
    fn schema_name() -> Cow<'static, str> {
        "Pages".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "How many pages of a paginated operation to read: `all`, or at most a number.",
            "anyOf": [
                { "const": "all" },
                { "type": "integer", "minimum": 1 }
            ]
        })
    }
}
