//! Byte spans into a source file, and `Sp<T>`: a value that remembers where it was written.
//!
//! Every name or reference a later check may complain about is kept as `Sp<T>`, so a
//! diagnostic can underline the exact node instead of searching the text again.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer};
use serde::{Serialize, Serializer};

/// A byte range in a source file (offset from the start, length in bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (0 for a point).
    pub len: usize,
}

impl Span {
    /// A span from an offset and a length.
    #[must_use]
    pub const fn new(offset: usize, len: usize) -> Self {
        Self { offset, len }
    }

    /// The byte offset just past the end.
    #[must_use]
    pub const fn end(&self) -> usize {
        self.offset + self.len
    }

    /// Whether this span carries no position (a value built in code, not read from a file).
    #[must_use]
    pub const fn is_unknown(&self) -> bool {
        self.offset == usize::MAX
    }

    /// The span used for values that were not read from a file.
    pub const UNKNOWN: Span = Span {
        offset: usize::MAX,
        len: 0,
    };
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        if span.is_unknown() {
            (0, 0).into()
        } else {
            (span.offset, span.len).into()
        }
    }
}

/// Name of the newtype struct through which [`crate::de`] hands out spans.
pub(crate) const SPANNED_MARKER: &str = "$sluice::Sp";

/// A value with the span of the YAML node it came from.
///
/// Equality, ordering and hashing look at the value only, so `Sp<String>` works as a map key.
#[derive(Clone, Debug)]
pub struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written ([`Span::UNKNOWN`] when built in code).
    pub span: Span,
}

impl<T> Sp<T> {
    /// A value with a span.
    pub const fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }

    /// A value that was not read from a file.
    pub const fn unspanned(value: T) -> Self {
        Self {
            value,
            span: Span::UNKNOWN,
        }
    }
}

impl<T> Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Sp<T> {}

impl<T: Hash> Hash for Sp<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Borrow<str> for Sp<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Sp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Serialize> Serialize for Sp<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> de::Visitor<'de> for SpVisitor<T> {
            type Value = Sp<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }

            // Deserializers that know nothing of spans (serde_json, ...) land here.
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                deserializer: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(deserializer).map(Sp::unspanned)
            }

            // Our YAML node deserializer hands out (offset, len, value).
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let offset: usize = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("span offset missing"))?;
                let len: usize = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("span length missing"))?;
                let value: T = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("spanned value missing"))?;
                Ok(Sp::new(value, Span::new(offset, len)))
            }
        }

        deserializer.deserialize_newtype_struct(SPANNED_MARKER, SpVisitor(std::marker::PhantomData))
    }
}
