//! `crier init DIR`: a working starting point, the quickstart example (crier.yaml with
//! console accounts and one playbook of each kind), written from copies built into the binary,
//! with the JSON Schemas beside them so editors complete and check fields.

use std::io;
use std::path::Path;

use crate::playbook::schema::{config_schema, playbook_schema};

/// The quickstart files, relative to the new folder.
pub const FILES: &[(&str, &str)] = &[
    (
        "brand-guidelines.yaml",
        include_str!("../examples/quickstart/brand-guidelines.yaml"),
    ),
    (
        "crier.yaml",
        include_str!("../examples/quickstart/crier.yaml"),
    ),
    (
        "december-giveaway.yaml",
        include_str!("../examples/quickstart/december-giveaway.yaml"),
    ),
    (
        "events.jsonl",
        include_str!("../examples/quickstart/events.jsonl"),
    ),
    (
        "rain-boots.yaml",
        include_str!("../examples/quickstart/rain-boots.yaml"),
    ),
    (
        "service-outage.yaml",
        include_str!("../examples/quickstart/service-outage.yaml"),
    ),
    (
        "templates/product-launch.yaml",
        include_str!("../examples/quickstart/templates/product-launch.yaml"),
    ),
    (
        "winter-sale.csv",
        include_str!("../examples/quickstart/winter-sale.csv"),
    ),
    (
        "winter-sale.yaml",
        include_str!("../examples/quickstart/winter-sale.yaml"),
    ),
];

pub fn create(dir: &Path) -> io::Result<()> {
    if dir.join("crier.yaml").exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} already holds a crier.yaml; nothing was changed",
                dir.display()
            ),
        ));
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = point_schema_line(text, name.matches('/').count());
        std::fs::write(path, text)?;
    }
    let schema_dir = dir.join("schema");
    std::fs::create_dir_all(&schema_dir)?;
    let pretty = |v: serde_json::Value| {
        serde_json::to_string_pretty(&v).expect("a schema serialises") + "\n"
    };
    std::fs::write(
        schema_dir.join("playbook.schema.json"),
        pretty(playbook_schema()),
    )?;
    std::fs::write(
        schema_dir.join("config.schema.json"),
        pretty(config_schema()),
    )?;
    Ok(())
}

/// In the repository the schemas live in `schema/` at its top; in a new folder they are
/// written beside the playbooks, so the `$schema=` line of each file is rewritten.
fn point_schema_line(text: &str, depth: usize) -> String {
    const MARKER: &str = "# yaml-language-server: $schema=";
    text.lines()
        .map(|line| {
            match line
                .strip_prefix(MARKER)
                .and_then(|path| path.rsplit_once("schema/"))
            {
                Some((_, file)) => format!("{MARKER}{}schema/{file}", "../".repeat(depth)),
                None => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
