//! The command line end to end: every shipped example validates cleanly, `plan` in each
//! format, the JSON Schemas against the shipped playbooks, and daylight saving through `plan`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Datelike, Weekday};
use crier::diagnostic::SourceFile;
use crier::playbook::yaml::{Node, NodeKind, ScalarStyle, parse_documents};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn quickstart() -> PathBuf {
    root().join("examples/quickstart")
}

/// Runs crier with `args`; panics unless it exits 0. Returns stdout.
fn crier(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .output()
        .expect("run crier");
    assert!(
        out.status.success(),
        "crier {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn plan_quickstart(format: &str) -> String {
    let copy = crate::support::playbooks::quickstart_copy();
    let path = copy.path();
    crier(&[
        "plan",
        path.to_str().unwrap(),
        "--from",
        "2026-12-01 00:00",
        "--until",
        "2026-12-09 00:00",
        "--format",
        format,
    ])
}

fn plan_json(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect()
}

/// Folders below `dir` (and `dir` itself) that hold a crier.yaml.
fn project_folders(dir: &Path, found: &mut Vec<PathBuf>) {
    if dir.join("crier.yaml").is_file() {
        found.push(dir.to_path_buf());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            project_folders(&entry.path(), found);
        }
    }
}

// ---- shipped playbooks -----------------------------------------------------------------

#[test]
fn shipped_playbooks_validate_without_any_diagnostic() {
    let mut folders = Vec::new();
    project_folders(&root().join("playbooks"), &mut folders);
    project_folders(&root().join("examples"), &mut folders);
    assert!(
        folders.iter().any(|f| f.ends_with("playbooks"))
            && folders.contains(&quickstart())
            && folders.contains(&root().join("examples").join("local-networks")),
        "{folders:?}"
    );
    for folder in folders {
        let validated =
            crier::playbook::load::load_and_validate(&folder).expect("the folder loads");
        let rendered: String = validated
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            validated.diagnostics.is_empty(),
            "{}:\n{rendered}",
            folder.display()
        );
        assert!(validated.plan.is_some(), "{}", folder.display());
    }
}

// ---- plan ------------------------------------------------------------------------------

#[test]
fn plan_json_quickstart_week() {
    let items = plan_json(&plan_quickstart("json"));
    assert!(!items.is_empty());
    let times: Vec<DateTime<chrono::FixedOffset>> = items
        .iter()
        .map(|item| {
            let at = item["at"].as_str().expect("`at` is a string");
            assert!(at.ends_with("+02:00"), "{at}");
            DateTime::parse_from_rfc3339(at).expect("`at` is RFC 3339")
        })
        .collect();
    assert!(times.is_sorted(), "{times:?}");
    for item in &items {
        for key in ["playbook", "item", "kind", "text"] {
            assert!(item[key].is_string(), "{key} in {item}");
        }
        assert!(item["to"].is_array(), "{item}");
    }

    // The giveaway's announcement takes brand_mastodon's 10:00 slot, so the brand's
    // 15-minute gap moves the teaser there to 10:15; on Telegram it goes out on time.
    let teasers: Vec<_> = items
        .iter()
        .filter(|i| i["playbook"] == "winter-sale" && i["item"] == "teaser")
        .collect();
    assert_eq!(
        teasers,
        [
            &serde_json::json!({
                "approval": "needs approval: any of pr_lead by 2026-12-02 08:00 (then hold)",
                "at": "2026-12-02T10:00:00+02:00",
                "item": "teaser",
                "kind": "post",
                "playbook": "winter-sale",
                "text": "Something warm is coming... Winter Jacket #warmwinter",
                "to": ["brand_telegram"],
            }),
            &serde_json::json!({
                "approval": "needs approval: any of pr_lead by 2026-12-02 08:00 (then hold)",
                "at": "2026-12-02T10:15:00+02:00",
                "item": "teaser",
                "kind": "post",
                "playbook": "winter-sale",
                "rule": "brand-guidelines: delayed from 2026-12-02 10:00 (at least 15m between posts per account)",
                "text": "Something warm is coming... Winter Jacket #warmwinter",
                "to": ["brand_mastodon"],
            })
        ]
    );

    let contest: Vec<(&str, &str)> = items
        .iter()
        .filter(|i| i["playbook"] == "december-giveaway")
        .map(|i| (i["kind"].as_str().unwrap(), i["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        contest,
        [
            ("contest-announce", "2026-12-02T10:00:00+02:00"),
            ("entries-close", "2026-12-08T20:00:00+02:00"),
            ("draw", "2026-12-08T21:00:00+02:00"),
        ]
    );

    let calendar: Vec<&Value> = items
        .iter()
        .filter(|i| i["item"].as_str().unwrap().starts_with("winter-sale.csv:"))
        .collect();
    assert_eq!(calendar.len(), 1, "{calendar:?}");
    assert_eq!(calendar[0]["at"], "2026-12-04T11:00:00+02:00");
    assert_eq!(calendar[0]["item"], "winter-sale.csv:2");
    assert_eq!(
        calendar[0]["text"],
        "Weekend tip: layer up, then zip up. Winter Jacket -30% #warmwinter"
    );

    let deals: Vec<DateTime<chrono::FixedOffset>> = items
        .iter()
        .filter(|i| i["item"] == "daily-deal")
        .map(|i| DateTime::parse_from_rfc3339(i["at"].as_str().unwrap()).unwrap())
        .collect();
    let days: Vec<u32> = deals.iter().map(|d| d.day()).collect();
    // 2026-12-01 is a Tuesday: the 5th and 6th are the weekend.
    assert_eq!(days, [1, 2, 3, 4, 7, 8]);
    for deal in &deals {
        assert!(!matches!(deal.weekday(), Weekday::Sat | Weekday::Sun));
        assert_eq!(deal.format("%H:%M").to_string(), "12:00");
    }
}

#[test]
fn plan_ics_quickstart_week() {
    let ics = plan_quickstart("ics");
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
    for line in ics.split_inclusive('\n') {
        assert!(line.ends_with("\r\n"), "no CRLF: {line:?}");
        let content = line.strip_suffix("\r\n").unwrap();
        assert!(!content.contains('\r'), "{line:?}");
        assert!(content.len() <= 75, "{} octets: {content:?}", content.len());
    }
    let events = ics.matches("BEGIN:VEVENT\r\n").count();
    assert_eq!(events, ics.matches("END:VEVENT\r\n").count());
    assert_eq!(events, plan_json(&plan_quickstart("json")).len());

    let uids: Vec<&str> = ics.lines().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), events);
    assert_eq!(
        uids.iter().collect::<HashSet<_>>().len(),
        events,
        "{uids:?}"
    );
    let again = plan_quickstart("ics");
    let uids_again: Vec<&str> = again.lines().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids, uids_again);
}

#[test]
fn plan_csv_quickstart_week() {
    let text = plan_quickstart("csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["at", "playbook", "item", "kind", "to", "text"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let json = plan_json(&plan_quickstart("json"));
    assert_eq!(rows.len(), json.len());
    for (row, item) in rows.iter().zip(&json) {
        assert_eq!(&row[0], item["at"].as_str().unwrap());
        assert_eq!(&row[1], item["playbook"].as_str().unwrap());
        assert_eq!(&row[2], item["item"].as_str().unwrap());
        assert_eq!(&row[3], item["kind"].as_str().unwrap());
        let to: Vec<&str> = item["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(&row[4], to.join(";"));
        assert_eq!(&row[5], item["text"].as_str().unwrap());
    }
}

// ---- schema ----------------------------------------------------------------------------

/// A YAML node as JSON, resolving plain scalars the way YAML's core schema does.
fn to_json(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar { value, style } => {
            if *style != ScalarStyle::Plain {
                return Value::String(value.clone());
            }
            match value.as_str() {
                "" | "~" | "null" | "Null" | "NULL" => Value::Null,
                "true" | "True" | "TRUE" => Value::Bool(true),
                "false" | "False" | "FALSE" => Value::Bool(false),
                _ => {
                    if let Ok(int) = value.parse::<i64>() {
                        Value::from(int)
                    } else {
                        match value.parse::<f64>() {
                            Ok(float) if float.is_finite() => Value::from(float),
                            _ => Value::String(value.clone()),
                        }
                    }
                }
            }
        }
        NodeKind::Sequence(items) => Value::Array(items.iter().map(to_json).collect()),
        NodeKind::Mapping(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_owned(), to_json(v)))
                .collect(),
        ),
    }
}

fn yaml_file_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    yaml_as_json(path, &text)
}

fn yaml_as_json(path: &Path, text: &str) -> Value {
    let (documents, diagnostics) = parse_documents(&SourceFile::new(path, text), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(documents.len(), 1, "{}", path.display());
    to_json(&documents[0])
}

fn schema(which: &str) -> jsonschema::Validator {
    let text = crier(&["schema", which]);
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn schema_default_is_playbook() {
    assert_eq!(crier(&["schema"]), crier(&["schema", "playbook"]));
}

#[test]
fn schemas_accept_quickstart() {
    let config = schema("config");
    let file = quickstart().join("crier.yaml");
    let instance = yaml_file_as_json(&file);
    assert_eq!(errors(&config, &instance), Vec::<String>::new());

    let playbook = schema("playbook");
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [quickstart(), quickstart().join("templates")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("crier.yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let instance = yaml_file_as_json(&file);
        assert_eq!(
            errors(&playbook, &instance),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn schemas_reject_unknown_fields() {
    let playbook = schema("playbook");
    let path = Path::new("sale.yaml");
    let good = "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastodon]
    text: hello
";
    assert!(playbook.is_valid(&yaml_as_json(path, good)));
    let bad = good.replace("text: hello", "tex: hello");
    assert!(!playbook.is_valid(&yaml_as_json(path, &bad)));
    let bad = format!("{good}colour: red\n");
    assert!(!playbook.is_valid(&yaml_as_json(path, &bad)));

    let config = schema("config");
    let bad = "timezone: Europe/Kyiv\naccounts:\n  demo: { network: console, colour: red }\n";
    assert!(!config.is_valid(&yaml_as_json(Path::new("crier.yaml"), bad)));
}

// ---- daylight saving through `plan` ----------------------------------------------------

fn nightly_fires(from: &str, until: &str) -> Vec<String> {
    // This file is also built as its own test target, so it keeps its own fixture folder.
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: Europe/Kyiv\naccounts:\n  demo: { network: console }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nightly.yaml"),
        "\
kind: campaign
name: nightly
timezone: Europe/Berlin
posts:
  - id: nightly
    cron: \"0 2 * * *\"
    to: [demo]
    text: good night
",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let out = crier(&[
        "plan", path, "--from", from, "--until", until, "--format", "json",
    ]);
    plan_json(&out)
        .iter()
        .map(|item| item["at"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn cron_across_spring_forward() {
    // 2025-03-30 02:00 does not exist in Berlin: the 02:00 job runs at 03:00 CEST, once.
    assert_eq!(
        nightly_fires("2025-03-29", "2025-04-01"),
        [
            "2025-03-29T02:00:00+01:00",
            "2025-03-30T03:00:00+02:00",
            "2025-03-31T02:00:00+02:00",
        ]
    );
}

#[test]
fn cron_across_fall_back() {
    // 2025-10-26 02:00 happens twice in Berlin: the job runs at the first, 02:00 CEST, only.
    assert_eq!(
        nightly_fires("2025-10-25", "2025-10-28"),
        [
            "2025-10-25T02:00:00+02:00",
            "2025-10-26T02:00:00+02:00",
            "2025-10-27T02:00:00+01:00",
        ]
    );
}

/// `crier init` writes a folder that validates and plans out of the box, with schemas
/// its files point at, and refuses to overwrite an existing setup.
#[test]
fn init_creates_a_working_starting_point() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("brand");
    let target_str = target.to_str().unwrap();
    crier(&["init", target_str]);
    crier(&["validate", target_str]);
    let plan = crier(&[
        "plan",
        target_str,
        "--from",
        "2026-12-01",
        "--days",
        "7",
        "--format",
        "json",
    ]);
    let kinds: HashSet<String> = plan_json(&plan)
        .iter()
        .map(|line| line["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains("post") && kinds.contains("contest-announce"),
        "{kinds:?}"
    );
    for (name, _) in crier::init::FILES
        .iter()
        .filter(|(n, _)| n.ends_with(".yaml"))
    {
        assert_schema_line_resolves(&target.join(name));
    }
    let again = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["init", target_str])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

/// The first line of a playbook names a schema file that exists.
fn assert_schema_line_resolves(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let schema = first
        .strip_prefix("# yaml-language-server: $schema=")
        .unwrap_or_else(|| panic!("{} does not start with a $schema line", path.display()));
    let resolved = path.parent().unwrap().join(schema);
    assert!(
        resolved.is_file(),
        "{}: {} does not exist",
        path.display(),
        resolved.display()
    );
}

#[test]
fn every_shipped_yaml_file_points_at_an_existing_schema() {
    let mut files = Vec::new();
    for folder in ["playbooks", "examples"] {
        yaml_files(&root().join(folder), &mut files);
    }
    assert!(files.len() > 10);
    for file in files {
        assert_schema_line_resolves(&file);
    }
}

fn yaml_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            found.push(path);
        }
    }
}

/// Every property in both schemas carries a description, for editors' hover help.
#[test]
fn every_schema_field_has_a_description() {
    fn walk(value: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(properties) = value.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                if property.get("description").is_none() {
                    missing.push(format!("{path}.{name}"));
                }
            }
        }
        match value {
            Value::Object(map) => {
                // An `if` only tells the kinds apart; it declares no field.
                for (key, child) in map.iter().filter(|(key, _)| *key != "if") {
                    walk(child, &format!("{path}/{key}"), missing);
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, path, missing)),
            _ => {}
        }
    }
    for which in ["playbook", "config"] {
        let schema: Value = serde_json::from_str(&crier(&["schema", which])).unwrap();
        let mut missing = Vec::new();
        walk(&schema, which, &mut missing);
        assert!(
            missing.is_empty(),
            "fields without a description: {missing:?}"
        );
    }
}

/// A post whose `when:` is decided at fire time says so in `crier plan`, and says when the
/// condition reads metrics an account's network never reports.
#[test]
fn plan_marks_conditions_decided_at_fire_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  demo: { network: console }\n  brand: { network: mastodon, server: https://example.social, token: env:TOKEN }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sale.yaml"),
        "kind: campaign\nname: sale\nposts:\n  - { id: console-deal, at: \"2027-01-05 12:00\", to: demo, text: Deal, when: 'metrics(\"demo\").followers > 100' }\n  - { id: real-deal, at: \"2027-01-05 13:00\", to: brand, text: Deal, when: 'metrics(\"brand\").followers > 100' }\n  - { id: plain, at: \"2027-01-05 14:00\", to: demo, text: Hello }\n",
    )
    .unwrap();
    let out = crier(&[
        "plan",
        dir.path().to_str().unwrap(),
        "--from",
        "2027-01-05",
        "--days",
        "1",
        "--format",
        "json",
    ]);
    let items = plan_json(&out);
    let condition = |item: &str| {
        items
            .iter()
            .find(|i| i["item"] == item)
            .map(|i| i["condition"].clone())
            .unwrap()
    };
    assert_eq!(
        condition("console-deal"),
        "decided at fire time: `metrics(\"demo\").followers > 100`; `demo` is on console, which reports no metrics, so `metrics(\"demo\")` is always zeros"
    );
    assert_eq!(
        condition("real-deal"),
        "decided at fire time: `metrics(\"brand\").followers > 100`"
    );
    assert_eq!(condition("plain"), Value::Null);
}

/// `validate` and `plan` warn about one-off posts whose time has passed (calendar rows
/// counted per file), and still succeed.
#[test]
fn validate_and_plan_warn_about_one_off_posts_already_past() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\naccounts:\n  out: { network: console }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("days.csv"),
        "at,to,text\n2020-01-01 09:00,out,one\n2020-01-02 09:00,out,two\n2999-01-01 09:00,out,later\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("news.yaml"),
        "kind: campaign\nname: news\nposts:\n  - id: old\n    at: \"2020-01-01 09:00\"\n    to: out\n    text: old news\n  - id: new\n    at: \"2999-01-01 09:00\"\n    to: out\n    text: news\n  - calendar: days.csv\n",
    )
    .unwrap();
    for command in ["validate", "plan"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args([command, dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command}: {stderr}");
        assert!(
            stderr.contains("warning: post `news/old` was due 2020-01-01 09:00 UTC, which has passed: unless crier already sent it, `crier run` records it as missed and does not send it"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains(
                "warning: 2 row(s) of `days.csv` in `news` were due by 2020-01-02 09:00 UTC"
            ),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("news/new"), "{command}: {stderr}");
    }
}
