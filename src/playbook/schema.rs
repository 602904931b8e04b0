//! `crier schema`: JSON Schemas generated from the serde types, for editors
//! (`# yaml-language-server: $schema=...`) and CI.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

use super::raw::{Campaign, ConfigFile, Contest, Crisis, Rules, Template};

/// The schema of `crier.yaml`.
pub fn config_schema() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    let mut schema: Schema = generator.into_root_schema_for::<ConfigFile>();
    schema.insert("title".into(), json!("crier.yaml"));
    schema.to_value()
}

/// The schema of a playbook: one of the five kinds, told apart by `kind:`.
pub fn playbook_schema() -> Value {
    let mut generator = SchemaSettings::draft07().into_generator();
    let kinds = [
        ("campaign", add::<Campaign>(&mut generator)),
        ("template", add::<Template>(&mut generator)),
        ("contest", add::<Contest>(&mut generator)),
        ("crisis", add::<Crisis>(&mut generator)),
        ("rules", add::<Rules>(&mut generator)),
    ];
    let mut definitions = serde_json::Map::new();
    for (name, schema) in generator.take_definitions(true) {
        definitions.insert(name, schema);
    }
    let mut branches = Vec::new();
    for (kind, reference) in kinds {
        let name = reference.trim_start_matches("#/definitions/").to_string();
        if let Some(Value::Object(definition)) = definitions.get_mut(&name)
            && let Some(Value::Object(properties)) = definition.get_mut("properties")
        {
            properties.insert(
                "kind".into(),
                json!({ "const": kind, "description": format!("The playbook's kind: `{kind}`.") }),
            );
        }
        branches.push(json!({
            "if": { "properties": { "kind": { "const": kind } }, "required": ["kind"] },
            "then": { "$ref": reference },
        }));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "crier playbook",
        "description": "A crier playbook: `kind:` is campaign, template, contest, crisis or rules.",
        "type": "object",
        "required": ["kind", "name"],
        "properties": {
            "kind": {
                "description": "What the playbook is.",
                "enum": ["campaign", "template", "contest", "crisis", "rules"]
            }
        },
        "allOf": branches,
        "definitions": definitions,
    })
}

fn add<T: JsonSchema>(generator: &mut schemars::SchemaGenerator) -> String {
    generator
        .subschema_for::<T>()
        .get("$ref")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// The schemas the repository's playbooks point at are the ones `crier schema` prints.
    #[test]
    fn committed_schemas_are_current() {
        let pretty = |v| serde_json::to_string_pretty(&v).unwrap() + "\n";
        assert_eq!(
            include_str!("../../schema/playbook.schema.json"),
            pretty(super::playbook_schema()),
            "run: cargo run -- schema playbook > schema/playbook.schema.json"
        );
        assert_eq!(
            include_str!("../../schema/config.schema.json"),
            pretty(super::config_schema()),
            "run: cargo run -- schema config > schema/config.schema.json"
        );
    }
}
