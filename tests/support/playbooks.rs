//! Playbook folders for tests: `crier.yaml` and playbook files in a temporary folder, loaded
//! and validated as `crier validate` would.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
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

/// Copies a shipped example folder (a store left there by someone running it by hand is
/// not part of it), so tests never depend on what a user's run left in the working tree.
pub fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("crier.db") {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_folder(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// A fresh copy of `examples/quickstart` in a temporary folder.
pub fn quickstart_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_folder(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        dir.path(),
    );
    dir
}

/// One console account and three people: vera (viewer), ed (editor), ada (admin); the
/// server tests' and the dashboard tests' folder.
pub const PEOPLE_CONFIG: &str = "\
timezone: Europe/Kyiv
store: sqlite://crier.db
accounts:
  demo: { network: console }
people:
  vera: { notify: demo }
  ed: { notify: demo, role: editor }
  ada: { notify: demo, role: admin }
";

/// A campaign whose `launch` waits for vera's approval (asked at once) and whose `hourly`
/// fires every hour.
pub fn approval_campaign() -> String {
    let launch = (Utc::now() + TimeDelta::hours(3))
        .with_timezone(&chrono_tz::Europe::Kyiv)
        .format("%Y-%m-%d %H:%M");
    format!(
        "kind: campaign\nname: news\nposts:\n  - {{ id: hourly, cron: \"0 * * * *\", to: demo, text: news }}\n  - id: launch\n    at: {launch}\n    to: demo\n    text: Launch day\n    approve: {{ by: [vera], ask: 24h }}\n"
    )
}
