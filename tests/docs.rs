//! The playbook guide cannot drift from the code: every fenced block of `docs/playbooks.md`
//! marked ```` ```yaml playbook ```` is written to one folder (with the ```` ```csv
//! file=NAME ```` blocks beside them and a `crier.yaml` this test supplies) and must pass
//! `crier validate` without a single diagnostic; every ```` ```yaml crier.yaml ```` block
//! must pass alone. The manual's pages link only to files in the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

const GUIDE: &str = "docs/playbooks.md";

/// The accounts and people the guide's playbooks name, on the `console` network, which can
/// do everything a playbook may ask for.
const CONFIG: &str = "\
timezone: Europe/Kyiv
accounts:
  brand_mastodon: { network: console }
  brand_bluesky: { network: console }
  brand_telegram: { network: console }
  oncall_slack: { network: console }
people:
  pr_lead: { notify: oncall_slack }
  duty_smm: { notify: brand_telegram }
";

/// A fenced block: its info string after the language, its text, and the guide's line
/// where its text starts.
#[derive(Debug)]
struct Block {
    language: String,
    label: String,
    text: String,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in markdown.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let (language, label) = info.trim().split_once(' ').unwrap_or((info.trim(), ""));
                open = Some(Block {
                    language: language.to_string(),
                    label: label.trim().to_string(),
                    text: String::new(),
                    line: index + 2,
                });
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => found.extend(open.take()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{GUIDE}: a fenced block is never closed");
    found
}

fn guide() -> Vec<Block> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let markdown = std::fs::read_to_string(root.join(GUIDE)).expect("the guide exists");
    blocks(&markdown)
}

/// `crier validate DIR --format json`: the exit code and every diagnostic line.
fn validate(dir: &Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["validate", dir.to_str().unwrap(), "--format", "json"])
        .output()
        .expect("run crier validate");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), said)
}

#[test]
fn the_guides_playbooks_validate() {
    let blocks = guide();
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
    let mut kinds = Vec::new();
    for block in &blocks {
        if let Some(file) = block.label.strip_prefix("file=") {
            std::fs::write(dir.path().join(file), &block.text).unwrap();
        }
        if block.language == "yaml" && block.label == "playbook" {
            // Named after the guide's line, so a diagnostic says where to look.
            let file = format!("playbooks.md-line-{}.yaml", block.line);
            std::fs::write(dir.path().join(file), &block.text).unwrap();
            kinds.extend(
                block
                    .text
                    .lines()
                    .filter_map(|l| l.strip_prefix("kind: "))
                    .map(|k| k.trim().to_string()),
            );
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        ["campaign", "contest", "crisis", "rules", "template"],
        "the guide shows a complete playbook of every kind"
    );
    let (code, said) = validate(dir.path());
    assert_eq!(
        code,
        Some(0),
        "{GUIDE}'s playbooks do not validate:\n{said}"
    );
    assert!(said.trim().is_empty(), "{GUIDE}'s playbooks:\n{said}");
}

#[test]
fn the_guides_crier_yaml_validates() {
    let configs: Vec<Block> = guide()
        .into_iter()
        .filter(|b| b.language == "yaml" && b.label == "crier.yaml")
        .collect();
    assert!(!configs.is_empty(), "{GUIDE} shows a crier.yaml");
    for config in configs {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("crier.yaml"), &config.text).unwrap();
        let (code, said) = validate(dir.path());
        assert_eq!(
            code,
            Some(0),
            "{GUIDE}:{}: the crier.yaml does not validate:\n{said}",
            config.line
        );
        assert!(said.trim().is_empty(), "{GUIDE}:{}:\n{said}", config.line);
    }
}

#[test]
fn a_broken_block_is_caught() {
    // The check above must be able to fail: a guide block with a typo does not pass.
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), CONFIG).unwrap();
    let playbook = guide()
        .into_iter()
        .find(|b| b.label == "playbook" && b.text.contains("kind: campaign"))
        .expect("a campaign in the guide");
    std::fs::write(
        dir.path().join("broken.yaml"),
        playbook.text.replace("to: ", "too: "),
    )
    .unwrap();
    let (code, said) = validate(dir.path());
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("unknown field `too`"), "{said}");
}

#[test]
fn the_docs_link_only_to_files_in_the_repository() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let pages = [
        "README.md",
        "src/README.md",
        "docs/playbooks.md",
        "docs/architecture.md",
        "playbooks/README.md",
    ];
    let mut broken = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(root.join(page)).expect("the page exists");
        let folder = root.join(page).parent().unwrap().to_path_buf();
        for (_, rest) in text.match_indices("](").map(|(i, _)| text.split_at(i + 2)) {
            let target = rest.split([')', '#']).next().unwrap_or_default();
            if target.is_empty() || target.starts_with("http://") || target.starts_with("https://")
            {
                continue;
            }
            let resolved = folder.join(target);
            let inside = resolved
                .canonicalize()
                .is_ok_and(|path| path.starts_with(root.canonicalize().unwrap()));
            if !inside {
                broken.push(format!("{page}: {target}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to nothing in the repository: {broken:?}"
    );
}
