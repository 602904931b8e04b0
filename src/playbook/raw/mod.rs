//! What serde reads: one struct per playbook kind, every field documented (the documentation
//! becomes the JSON Schema's descriptions), unknown fields rejected. Nothing here is checked
//! beyond its shape; `validate` turns these into the `Plan`.

mod campaign;
mod config;
mod contest;
mod crisis;
mod rules;
mod template;

pub use campaign::{
    ApprovalNeed, Campaign, Hook, Missed, OnEvent, PostApproval, PostApprovalTimeout, PostItem,
    Window,
};
pub use config::{
    AccountConfig, ConfigFile, HttpConfig, Network, Person, Role, ServerConfig, TlsConfig,
};
pub use contest::{
    Announce, Commitment, Contest, Draw, Entries, EntrySource, OnePer, WinnerMessages,
};
pub use crisis::{Approve, Crisis, Level, OnTimeout, PostStep, Resolve, Sentiment, Step, Watch};
pub use rules::{Content, Limit, LimitScope, QuietHours, Rules, Then};
pub use template::{Param, ParamType, Template};

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use super::yaml::Spanned;

/// A list that may also be written as a single value: `to: brand_mastodon` or
/// `to: [brand_mastodon, brand_bluesky]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(OneOrMany)
    }
}

impl<T: JsonSchema> JsonSchema for OneOrMany<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("OneOrMany_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let item = generator.subschema_for::<T>();
        json_schema!({ "anyOf": [item, { "type": "array", "items": item }] })
    }
}

impl<T> std::ops::Deref for OneOrMany<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

/// A name written in a playbook, with its place (accounts, people, templates).
pub type Name = Spanned<String>;
