//! `kind: template`: a reusable campaign with typed parameters.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, PostItem};

/// A reusable campaign. Campaigns (and other templates) use it with `uses:` and `with:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Always `template`.
    pub kind: String,
    /// Unique name across all loaded playbooks.
    pub name: Name,
    /// What the template is for.
    #[serde(default)]
    pub description: Option<String>,
    /// The parameters, by name.
    #[serde(default)]
    pub params: BTreeMap<String, Param>,
    /// Variables its texts can use, besides the parameters.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Build on another template.
    #[serde(default)]
    pub uses: Option<Name>,
    /// That template's parameters; values may use this template's: `"{{ launch }}"`.
    #[serde(default)]
    pub with: BTreeMap<String, serde_json::Value>,
    /// The posts. Any value may be a parameter, `"{{ to }}"`, and times may be shifted:
    /// `"{{ launch - 3d }}"`.
    #[serde(default)]
    pub posts: Vec<PostItem>,
}

/// A typed parameter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// Used when `with:` does not give it; without a default the parameter is required.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// Smallest allowed value (int).
    #[serde(default)]
    pub min: Option<i64>,
    /// Largest allowed value (int).
    #[serde(default)]
    pub max: Option<i64>,
    /// What the parameter means.
    #[serde(default)]
    pub description: Option<String>,
}

/// The types a parameter may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Bool,
    Duration,
    Date,
    Datetime,
    /// Account names from `crier.yaml`.
    Accounts,
    List,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
            ParamType::Duration => "duration",
            ParamType::Date => "date",
            ParamType::Datetime => "datetime",
            ParamType::Accounts => "accounts",
            ParamType::List => "list",
        }
    }
}
