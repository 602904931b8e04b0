//! Playbook folders for tests: `crier.yaml` and playbook files in a temporary folder, loaded
//! and validated as `crier validate` would.

use std::sync::Arc;

use crier::playbook::plan::Plan;
use tempfile::TempDir;

/// A folder holding `config` as `crier.yaml` and `files`; panics, printing every
/// diagnostic, unless it validates without one.
pub fn valid_plan(config: &str, files: &[(&str, &str)]) -> (TempDir, Arc<Plan>) {
    let dir = folder(config, files);
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    let rendered: String = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(validated.diagnostics.is_empty(), "{rendered}");
    (dir, Arc::new(validated.plan.expect("a valid plan")))
}

/// A folder holding `config` as `crier.yaml` and `files`.
pub fn folder(config: &str, files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}
