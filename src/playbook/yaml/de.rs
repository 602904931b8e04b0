//! A serde `Deserializer` over the position-keeping tree. Unlike a plain YAML deserializer it
//! does not stop at the first mistake: unknown fields, wrong types and unknown choices are
//! recorded with their position and reading goes on with a neutral value, so one run of
//! `crier validate` reports every structural error in a document. Only an error a type
//! raises itself (a missing field) ends the document.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::UsizeDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, Visitor};

use super::node::{Node, NodeKind, ScalarStyle};
use super::spanned::{self, style_code};
use crate::diagnostic::{Position, did_you_mean};

/// A structural error: what is wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub message: String,
    pub hint: Option<String>,
    /// The loaded file the error is in (see `Mark::file`) and the place in it.
    pub file: usize,
    pub position: Option<Position>,
    /// Reading went on without harm (an unknown field was left out), so the value read is
    /// still worth validating further.
    pub recoverable: bool,
}

impl DeError {
    fn new(message: impl Into<String>, node: &Node) -> Self {
        DeError {
            message: message.into(),
            hint: None,
            file: node.mark.file,
            position: Some(node.position()),
            recoverable: false,
        }
    }

    fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Places an error raised deeper down (by a type's own `Deserialize`) at `node`, unless
    /// it already knows its place.
    fn at(mut self, node: &Node) -> Self {
        if self.position.is_none() {
            self.file = node.mark.file;
            self.position = Some(node.position());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            hint: None,
            file: 0,
            position: None,
            recoverable: false,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format_args!("missing field `{field}`"))
    }

    fn invalid_type(unexpected: de::Unexpected, expected: &dyn de::Expected) -> Self {
        DeError::custom(format_args!("expected {expected}, found {unexpected}"))
    }
}

/// Reads a `T` from a tree, with every structural error found, in document order. The
/// value is there when reading succeeded and every error was recoverable (unknown fields),
/// so that validation can go on and report more.
pub fn read_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> (Option<T>, Vec<DeError>) {
    let collector = Collector::default();
    let result = T::deserialize(NodeDeserializer {
        node,
        collector: &collector,
    });
    let mut errors = collector.errors.into_inner();
    let value = match result {
        Ok(value) if errors.iter().all(|e| e.recoverable) => Some(value),
        Ok(_) => None,
        Err(error) => {
            errors.push(error.at(node));
            None
        }
    };
    errors.sort_by_key(|e| (e.file, e.position));
    errors.dedup();
    (value, errors)
}

/// Reads a `T` from a tree; any structural error at all is an `Err` with all of them.
pub fn from_node<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, Vec<DeError>> {
    match read_node(node) {
        (Some(value), errors) if errors.is_empty() => Ok(value),
        (_, errors) => Err(errors),
    }
}

#[derive(Default)]
struct Collector {
    errors: RefCell<Vec<DeError>>,
}

impl Collector {
    fn record(&self, error: DeError) {
        self.errors.borrow_mut().push(error);
    }
}

#[derive(Clone, Copy)]
struct NodeDeserializer<'de, 'c> {
    node: &'de Node,
    collector: &'c Collector,
}

/// Names joined for a hint: "`skip`, `once` or `all`".
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

fn looks_numeric(value: &str) -> bool {
    let digits = value.trim_start_matches(['-', '+']);
    digits.starts_with(|c: char| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+' | '_'))
}

impl<'de, 'c> NodeDeserializer<'de, 'c> {
    fn child(&self, node: &'de Node) -> Self {
        NodeDeserializer {
            node,
            collector: self.collector,
        }
    }

    fn scalar(&self) -> Option<&'de str> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn record(&self, message: impl Into<String>, hint: Option<String>) {
        self.collector
            .record(DeError::new(message, self.node).with_hint(hint));
    }

    fn integer<T: std::str::FromStr + Default>(&self, what: &str) -> T {
        match self.scalar() {
            Some(text) => match text.replace('_', "").parse::<T>() {
                Ok(number) => number,
                Err(_) if looks_numeric(text) => {
                    self.record(format!("`{text}` is out of range for {what}"), None);
                    T::default()
                }
                Err(_) => {
                    self.record(format!("expected {what}, found `{text}`"), None);
                    T::default()
                }
            },
            None => {
                self.record(
                    format!("expected {what}, found {}", self.node.describe()),
                    None,
                );
                T::default()
            }
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident : $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let number: $ty = self.integer($what);
            visitor.$visit(number)
        })*
    };
}

impl<'de> Deserializer<'de> for NodeDeserializer<'de, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar {
                value,
                style: ScalarStyle::Plain,
            } => {
                if self.node.is_null() {
                    return visitor.visit_unit();
                }
                match value.as_str() {
                    "true" | "True" | "TRUE" => return visitor.visit_bool(true),
                    "false" | "False" | "FALSE" => return visitor.visit_bool(false),
                    _ => {}
                }
                if looks_numeric(value) {
                    if let Ok(number) = value.parse::<i64>() {
                        return visitor.visit_i64(number);
                    }
                    if let Ok(number) = value.parse::<f64>() {
                        return visitor.visit_f64(number);
                    }
                }
                visitor.visit_borrowed_str(value)
            }
            NodeKind::Scalar { value, .. } => visitor.visit_borrowed_str(value),
            NodeKind::Sequence(_) => self.deserialize_seq(visitor),
            NodeKind::Mapping(_) => self.deserialize_map(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let value = match self.scalar() {
            Some("true" | "True" | "TRUE") => true,
            Some("false" | "False" | "FALSE") => false,
            _ => {
                self.record(
                    format!("expected `true` or `false`, found {}", self.node.describe()),
                    None,
                );
                false
            }
        };
        visitor.visit_bool(value)
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8, "a whole number";
        deserialize_i16 => visit_i16: i16, "a whole number";
        deserialize_i32 => visit_i32: i32, "a whole number";
        deserialize_i64 => visit_i64: i64, "a whole number";
        deserialize_u8 => visit_u8: u8, "a whole number from 0 to 255";
        deserialize_u16 => visit_u16: u16, "a whole number from 0 to 65535";
        deserialize_u32 => visit_u32: u32, "a whole number, 0 or more";
        deserialize_u64 => visit_u64: u64, "a whole number, 0 or more";
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let number: f32 = self.integer("a number");
        visitor.visit_f32(number)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let number: f64 = self.integer("a number");
        visitor.visit_f64(number)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(text) => visitor.visit_borrowed_str(text),
            None => {
                self.record(
                    format!("expected text, found {}", self.node.describe()),
                    None,
                );
                visitor.visit_borrowed_str("")
            }
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Sequence(items) => visitor.visit_seq(SeqAccess {
                de: self,
                items: items.iter(),
            }),
            // A single value where a list is expected is a list of one: `to: brand_mastodon`.
            NodeKind::Scalar { .. } if !self.node.is_null() => visitor.visit_seq(SeqAccess {
                de: self,
                items: std::slice::from_ref(self.node).iter(),
            }),
            NodeKind::Scalar { .. } => visitor.visit_seq(SeqAccess {
                de: self,
                items: [].iter(),
            }),
            NodeKind::Mapping(_) => {
                self.record(
                    format!("expected a list, found {}", self.node.describe()),
                    Some("write a list as `[a, b]` or as lines starting with `- `".into()),
                );
                visitor.visit_seq(SeqAccess {
                    de: self,
                    items: [].iter(),
                })
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Mapping(entries) => visitor.visit_map(MapAccess {
                de: self,
                entries: entries.iter().collect::<Vec<_>>().into_iter(),
                value: None,
            }),
            _ => {
                if !self.node.is_null() {
                    self.record(
                        format!(
                            "expected a map of `key: value`, found {}",
                            self.node.describe()
                        ),
                        None,
                    );
                }
                visitor.visit_map(MapAccess {
                    de: self,
                    entries: Vec::new().into_iter(),
                    value: None,
                })
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == spanned::NAME {
            return visitor.visit_map(SpannedAccess { de: self, field: 0 });
        }
        let NodeKind::Mapping(entries) = &self.node.kind else {
            if !self.node.is_null() {
                self.record(
                    format!(
                        "expected a map of `key: value`, found {}",
                        self.node.describe()
                    ),
                    Some(format!("the fields here are {}", one_of(fields))),
                );
            }
            return visitor
                .visit_map(MapAccess {
                    de: self,
                    entries: Vec::new().into_iter(),
                    value: None,
                })
                .map_err(|e| e.at(self.node));
        };
        let mut known = Vec::with_capacity(entries.len());
        for entry in entries {
            let key = entry.0.as_str().unwrap_or_default();
            if fields.contains(&key) {
                known.push(entry);
            } else {
                let hint = did_you_mean(key, fields.iter().copied())
                    .unwrap_or_else(|| format!("the fields here are {}", one_of(fields)));
                let mut error =
                    DeError::new(format!("unknown field `{key}`"), &entry.0).with_hint(Some(hint));
                error.recoverable = true;
                self.collector.record(error);
            }
        }
        visitor
            .visit_map(MapAccess {
                de: self,
                entries: known.into_iter(),
                value: None,
            })
            .map_err(|e| e.at(self.node))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let chosen = match self.scalar() {
            Some(value) if variants.contains(&value) => value,
            found => {
                let message = match found {
                    Some(value) => format!("unknown value `{value}`"),
                    None => format!(
                        "expected one of {}, found {}",
                        one_of(variants),
                        self.node.describe()
                    ),
                };
                let hint = found
                    .and_then(|value| did_you_mean(value, variants.iter().copied()))
                    .unwrap_or_else(|| format!("expected {}", one_of(variants)));
                let mut error = DeError::new(message, self.node).with_hint(Some(hint));
                // The first choice stands in, so validation can go on and report more.
                error.recoverable = found.is_some();
                self.collector.record(error);
                variants.first().copied().unwrap_or_default()
            }
        };
        visitor.visit_enum(chosen.into_deserializer())
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'de, 'c> {
    de: NodeDeserializer<'de, 'c>,
    items: std::slice::Iter<'de, Node>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(item) => seed
                .deserialize(self.de.child(item))
                .map(Some)
                .map_err(|e| e.at(item)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'de, 'c> {
    de: NodeDeserializer<'de, 'c>,
    entries: std::vec::IntoIter<&'de (Node, Node)>,
    value: Option<&'de Node>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(self.de.child(key))
                    .map(Some)
                    .map_err(|e| e.at(key))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let value = self
            .value
            .take()
            .expect("serde asks for a value only after its key");
        seed.deserialize(self.de.child(value))
            .map_err(|e| e.at(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Hands a node's position to `Spanned<T>`, then the node itself as its value.
struct SpannedAccess<'de, 'c> {
    de: NodeDeserializer<'de, 'c>,
    field: usize,
}

impl<'de> de::MapAccess<'de> for SpannedAccess<'de, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match spanned::FIELDS.get(self.field) {
            Some(name) => seed.deserialize(name.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let node = self.de.node;
        let number = match self.field {
            0 => node.mark.file,
            1 => node.mark.line,
            2 => node.mark.column,
            3 => node.mark.offset,
            4 => node.width,
            5 => node.style().map(style_code).unwrap_or_default(),
            _ => {
                self.field += 1;
                return seed.deserialize(self.de);
            }
        };
        self.field += 1;
        seed.deserialize(UsizeDeserializer::<DeError>::new(number))
    }
}
