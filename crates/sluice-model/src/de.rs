//! Reads typed models (flows, connectors) out of a [`Node`] tree.
//!
//! A serde `Deserializer` over `&Node`: every error carries the span of the innermost node it
//! concerns, unknown fields get a "did you mean", and [`Sp<T>`](crate::Sp) receives its span.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::node::{Node, NodeKind};
use crate::span::{SPANNED_MARKER, Span};
use crate::suggest::did_you_mean;

/// A typed-read error, located at a node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeError {
    /// What is wrong, in plain words.
    pub message: String,
    /// The node it concerns.
    pub span: Option<Span>,
    /// A hint (a suggestion, the expected values).
    pub help: Option<String>,
    /// Stable code.
    pub code: &'static str,
}

impl DeError {
    fn or_span(mut self, span: Span) -> Self {
        if self.span.is_none() && !span.is_unknown() {
            self.span = Some(span);
        }
        self
    }

    fn with_code(message: String, code: &'static str, help: Option<String>) -> Self {
        Self {
            message,
            span: None,
            help,
            code,
        }
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::with_code(msg.to_string(), "sluice::schema::invalid_value", None)
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = exp.to_string();
        // serde names Rust types ("struct Step"); flow authors know maps of settings.
        let exp = match exp.strip_prefix("struct ") {
            Some(name) => format!("a map of {} settings", name.to_lowercase()),
            None => exp.replace("a sequence", "a list"),
        };
        // A template where Sluice needs the value before the flow runs.
        let help = matches!(unexp, de::Unexpected::Str(s) if s.contains("{{")).then(|| {
            "Sluice reads this setting before the flow runs: write the value itself, not a template"
                .to_string()
        });
        Self::with_code(
            format!("expected {exp}, found {}", describe_unexpected(&unexp)),
            "sluice::schema::wrong_type",
            help,
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let help = match did_you_mean(field, expected.iter().copied()) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None if expected.is_empty() => Some("no keys are allowed here".into()),
            None => Some(format!(
                "the keys allowed here are: {}",
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        Self::with_code(
            format!("unknown key `{}`", crate::suggest::shorten(field)),
            "sluice::schema::unknown_field",
            help,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let help = match did_you_mean(variant, expected.iter().copied()) {
            Some(s) => Some(format!("did you mean `{s}`?")),
            None => Some(format!(
                "expected one of: {}",
                expected
                    .iter()
                    .map(|e| format!("`{e}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        Self::with_code(
            format!("unknown value `{}`", crate::suggest::shorten(variant)),
            "sluice::schema::unknown_variant",
            help,
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Self::with_code(
            format!("missing required key `{field}`"),
            "sluice::schema::missing_field",
            None,
        )
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::with_code(
            format!("key `{field}` is given twice"),
            "sluice::yaml::duplicate_key",
            None,
        )
    }
}

fn describe_unexpected(unexp: &de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Map => "a map".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Unit | de::Unexpected::Option => "nothing (null)".into(),
        de::Unexpected::Str(s) => format!("the text \"{}\"", crate::suggest::shorten(s)),
        de::Unexpected::Bool(b) => format!("the boolean `{b}`"),
        de::Unexpected::Signed(n) => format!("the number {n}"),
        de::Unexpected::Unsigned(n) => format!("the number {n}"),
        de::Unexpected::Float(n) => format!("the number {n}"),
        other => other.to_string(),
    }
}

/// Reads a `T` from a node.
///
/// # Errors
/// The first problem found, located at the innermost node it concerns.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, DeError> {
    T::deserialize(node).map_err(|e| e.or_span(node.span))
}

impl<'de> Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            NodeKind::Str(s) => visitor.visit_borrowed_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(SeqNodes { iter: items.iter() }),
            NodeKind::Map(entries) => visitor.visit_map(MapNodes {
                iter: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.or_span(self.span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind {
            NodeKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.or_span(self.span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_MARKER {
            return visitor
                .visit_seq(SpannedSeq {
                    node: self,
                    state: 0,
                })
                .map_err(|e| e.or_span(self.span));
        }
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.or_span(self.span))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.kind {
            NodeKind::Str(_) => visitor.visit_enum(EnumNode {
                tag: self,
                value: None,
            }),
            NodeKind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumNode {
                tag: &entries[0].0,
                value: Some(&entries[0].1),
            }),
            NodeKind::Map(entries) => Err(DeError::with_code(
                format!(
                    "expected one kind here, found a map with {} keys",
                    entries.len()
                ),
                "sluice::schema::wrong_type",
                Some("write each one as its own list item (`- kind: ...`)".into()),
            )),
            other => Err(DeError::with_code(
                format!(
                    "expected a name or a one-key map, found {}",
                    other.describe()
                ),
                "sluice::schema::wrong_type",
                None,
            )),
        }
        .map_err(|e| e.or_span(self.span))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Map(ref m) if m.is_empty() => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
        .map_err(|e| e.or_span(self.span))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct SpannedSeq<'de> {
    node: &'de Node,
    state: u8,
}

impl<'de> SeqAccess<'de> for SpannedSeq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let state = self.state;
        self.state += 1;
        match state {
            0 => seed
                .deserialize(self.node.span.offset.into_deserializer())
                .map(Some),
            1 => seed
                .deserialize(self.node.span.len.into_deserializer())
                .map(Some),
            2 => seed.deserialize(self.node).map(Some),
            _ => Ok(None),
        }
    }
}

struct SeqNodes<'de> {
    iter: std::slice::Iter<'de, Node>,
}

impl<'de> SeqAccess<'de> for SeqNodes<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some(node) => seed
                .deserialize(node)
                .map(Some)
                .map_err(|e| e.or_span(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapNodes<'de> {
    iter: std::slice::Iter<'de, (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> MapAccess<'de> for MapNodes<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key)
                    .map(Some)
                    .map_err(|e| e.or_span(key.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a map value was read before its key"))?;
        seed.deserialize(node).map_err(|e| e.or_span(node.span))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct EnumNode<'de> {
    tag: &'de Node,
    value: Option<&'de Node>,
}

impl<'de> EnumAccess<'de> for EnumNode<'de> {
    type Error = DeError;
    type Variant = VariantNode<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let tag = seed
            .deserialize(self.tag)
            .map_err(|e| e.or_span(self.tag.span))?;
        Ok((
            tag,
            VariantNode {
                tag: self.tag,
                value: self.value,
            },
        ))
    }
}

struct VariantNode<'de> {
    tag: &'de Node,
    value: Option<&'de Node>,
}

impl<'de> VariantAccess<'de> for VariantNode<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(node) if matches!(node.kind, NodeKind::Null) => Ok(()),
            Some(node) if matches!(&node.kind, NodeKind::Map(m) if m.is_empty()) => Ok(()),
            Some(node) => Err(DeError::with_code(
                format!(
                    "`{}` takes no settings",
                    self.tag.as_str().unwrap_or("this")
                ),
                "sluice::schema::wrong_type",
                Some("write it as `{}` or leave the value empty".into()),
            )
            .or_span(node.span)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(node) => seed.deserialize(node).map_err(|e| e.or_span(node.span)),
            None => Err(DeError::with_code(
                format!(
                    "`{}` needs settings",
                    self.tag.as_str().unwrap_or("this kind")
                ),
                "sluice::schema::missing_field",
                Some("write it as `name: { ... }`".into()),
            )
            .or_span(self.tag.span)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(node) => node.deserialize_any(visitor),
            None => Err(<DeError as de::Error>::custom("expected a list").or_span(self.tag.span)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            // `- manual:` with nothing after it: treat as an empty map.
            Some(Node {
                kind: NodeKind::Null,
                span,
            }) => visitor
                .visit_map(MapNodes {
                    iter: [].iter(),
                    value: None,
                })
                .map_err(|e| e.or_span(*span)),
            Some(node) => node.deserialize_any(visitor),
            None => visitor
                .visit_map(MapNodes {
                    iter: [].iter(),
                    value: None,
                })
                .map_err(|e| e.or_span(self.tag.span)),
        }
    }
}
