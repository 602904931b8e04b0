//! `Spanned<T>`: a value read from YAML together with where it was written, so validation
//! can point at an account name in a list or at a character inside a condition.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::node::{Mark, ScalarStyle};
use crate::diagnostic::Position;

/// The struct name and fields through which the YAML deserializer hands over a position.
pub(super) const NAME: &str = "$__crier_spanned";
pub(super) const FIELDS: &[&str] = &[
    "$__file",
    "$__line",
    "$__column",
    "$__offset",
    "$__width",
    "$__style",
    "$__value",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub mark: Mark,
    pub width: usize,
    pub style: ScalarStyle,
}

impl<T> Spanned<T> {
    /// A value that was not read from a file (a default, or one made by template expansion).
    pub fn unplaced(value: T) -> Self {
        Spanned {
            value,
            mark: Mark::default(),
            width: 1,
            style: ScalarStyle::Plain,
        }
    }

    pub fn position(&self) -> Position {
        Position::new(self.mark.line, self.mark.column, self.width)
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned {
            value: f(self.value),
            mark: self.mark,
            width: self.width,
            style: self.style,
        }
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

pub(super) fn style_code(style: ScalarStyle) -> usize {
    match style {
        ScalarStyle::Plain => 0,
        ScalarStyle::SingleQuoted => 1,
        ScalarStyle::DoubleQuoted => 2,
        ScalarStyle::Literal => 3,
        ScalarStyle::Folded => 4,
    }
}

fn style_from_code(code: usize) -> ScalarStyle {
    match code {
        1 => ScalarStyle::SingleQuoted,
        2 => ScalarStyle::DoubleQuoted,
        3 => ScalarStyle::Literal,
        4 => ScalarStyle::Folded,
        _ => ScalarStyle::Plain,
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value read from a playbook")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut numbers = [0usize; 6];
                for slot in &mut numbers {
                    map.next_key::<de::IgnoredAny>()?;
                    *slot = map.next_value()?;
                }
                map.next_key::<de::IgnoredAny>()?;
                let value = map.next_value()?;
                Ok(Spanned {
                    value,
                    mark: Mark {
                        file: numbers[0],
                        line: numbers[1],
                        column: numbers[2],
                        offset: numbers[3],
                    },
                    width: numbers[4],
                    style: style_from_code(numbers[5]),
                })
            }
        }

        deserializer.deserialize_struct(NAME, FIELDS, SpannedVisitor(PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
