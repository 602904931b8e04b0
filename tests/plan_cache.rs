//! The plan cache beside the store: a start with unchanged files takes the campaigns from it
//! and gets exactly the plan a full validation gives; any change to what loading reads, and
//! any damage to the cache, means a full validation with correct results.

use std::path::Path;

use chrono::NaiveDate;
use crier::playbook::cache::{CachedLoad, cache_path, load_and_validate_cached};
use crier::script::ScriptEngine;
use crier::text::TextTemplates;

use crate::support::playbooks::{copy_folder, folder};

fn load(path: &Path) -> CachedLoad {
    load_with(path, None)
}

fn load_with(path: &Path, first_run: Option<NaiveDate>) -> CachedLoad {
    load_and_validate_cached(path, &ScriptEngine::new(), &TextTemplates::new(), first_run)
        .expect("the folder loads")
}

/// The plan as text: every field, conditions and parsed cron rules included.
fn shown(load: &CachedLoad) -> String {
    format!("{:#?}", load.validated.plan.as_ref().expect("a valid plan"))
}

fn quickstart() -> tempfile::TempDir {
    let dir = tempfile::TempDir::new().unwrap();
    copy_folder(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"),
        dir.path(),
    );
    dir
}

const CONFIG: &str = "timezone: Europe/Kyiv\nstore: sqlite://crier.db\naccounts:\n  a: { network: console }\n  b: { network: console }\npeople:\n  olena: { notify: a }\n";

/// Calendar rows, cron items, a hook, a shared condition, an approval, a window and vars.
const CAMPAIGN: &str = r#"kind: campaign
name: sale
window: { from: "2027-01-01 00:00", until: "2027-12-31 00:00" }
vars: { product: Boots, discount: 30, nested: { on: true, ratio: 0.25 } }
hooks:
  shipped: { secret: "env:HOOK_SECRET", id: /id }
posts:
  - id: daily
    cron: "0 12 * * MON-FRI"
    to: [a, b]
    text: "{{ product }}: -{{ discount }}%"
    missed: all
    max_late: 90m
  - id: weekly
    cron: "0 12 * * MON-FRI"
    to: a
    text: weekly
    approve: { by: [olena], before: 2h, ask: 1d, on_timeout: skip }
  - id: on-ship
    on: { hook: shipped }
    to: b
    text: "shipped {{ event.id }}"
    when: 'event.id != ""'
  - calendar: rows.csv
    when: 'now.hour >= 9'
    missed: skip
"#;

const ROWS: &str = "at,to,text,media\n2027-03-01 10:00,a,first row,\n2027-03-02 11:30,a;b,second row,img.png\n2027-03-03 09:15,b,third {{ product }},\n";

fn sale() -> tempfile::TempDir {
    folder(
        CONFIG,
        &[
            ("sale.yaml", CAMPAIGN),
            ("rows.csv", ROWS),
            (
                "rules.yaml",
                "kind: rules\nname: house\napplies_to: all\ncontent: { deny_words: [cheap] }\n",
            ),
        ],
    )
}

#[test]
fn a_start_from_the_cache_gives_the_plan_a_full_validation_gives() {
    for dir in [sale(), quickstart()] {
        let cold = load(dir.path());
        assert!(!cold.from_cache);
        assert!(
            cold.validated.diagnostics.is_empty(),
            "{:?}",
            cold.validated.diagnostics
        );
        assert!(
            cache_path(dir.path()).unwrap().is_file(),
            "the cache is written"
        );
        let warm = load(dir.path());
        assert!(warm.from_cache, "unchanged files start from the cache");
        assert_eq!(shown(&warm), shown(&cold));
        assert_eq!(warm.digest, cold.digest, "the same revision");
    }
}

/// Loads once to write the cache, changes the folder, and checks the next load validates in
/// full and sees the change.
fn after_change(change: impl FnOnce(&Path)) -> (CachedLoad, CachedLoad) {
    let dir = sale();
    let before = load(dir.path());
    assert!(load(dir.path()).from_cache);
    change(dir.path());
    let after = load(dir.path());
    assert!(!after.from_cache, "a change means a full validation");
    (before, after)
}

#[test]
fn a_calendar_byte_changed_without_changing_its_size_is_seen() {
    let (before, after) = after_change(|dir| {
        let changed = ROWS.replace("first row", "First row");
        assert_eq!(changed.len(), ROWS.len());
        std::fs::write(dir.join("rows.csv"), changed).unwrap();
    });
    assert!(shown(&before).contains("\"first row\""));
    assert!(shown(&after).contains("\"First row\""));
    assert_ne!(before.digest, after.digest);
    // The rewritten cache holds the new text.
    let dir_plan = shown(&after);
    assert!(!dir_plan.contains("\"first row\""));
}

#[test]
fn a_playbook_byte_changed_without_changing_its_size_is_seen() {
    let (before, after) = after_change(|dir| {
        let changed = CAMPAIGN.replace("text: weekly", "text: Weekly");
        std::fs::write(dir.join("sale.yaml"), changed).unwrap();
    });
    assert!(shown(&before).contains("\"weekly\""));
    assert!(shown(&after).contains("\"Weekly\""));
}

#[test]
fn an_added_playbook_is_seen() {
    let (before, after) = after_change(|dir| {
        std::fs::write(
            dir.join("more.yaml"),
            "kind: campaign\nname: more\nposts:\n  - { id: x, at: \"2027-05-01 10:00\", to: a, text: more }\n",
        )
        .unwrap();
    });
    let names = |load: &CachedLoad| -> Vec<String> {
        let plan = load.validated.plan.as_ref().unwrap();
        plan.campaigns.iter().map(|c| c.name.clone()).collect()
    };
    assert_eq!(names(&before), ["sale"]);
    assert_eq!(names(&after), ["more", "sale"]);
}

#[test]
fn a_removed_playbook_is_seen() {
    let (before, after) = after_change(|dir| {
        std::fs::remove_file(dir.join("rules.yaml")).unwrap();
    });
    assert_eq!(before.validated.plan.as_ref().unwrap().rules.len(), 1);
    assert!(after.validated.plan.as_ref().unwrap().rules.is_empty());
}

#[test]
fn a_removed_calendar_is_an_error_not_a_cached_plan() {
    let (_, after) = after_change(|dir| std::fs::remove_file(dir.join("rows.csv")).unwrap());
    assert!(after.validated.has_errors());
    assert!(after.validated.plan.is_none());
}

#[test]
fn a_changed_crier_yaml_is_seen() {
    let (before, after) = after_change(|dir| {
        std::fs::write(
            dir.join("crier.yaml"),
            CONFIG.replace("Europe/Kyiv", "Europe/Oslo"),
        )
        .unwrap();
    });
    assert!(shown(&before).contains("Europe/Kyiv"));
    assert!(shown(&after).contains("Europe/Oslo"));
}

#[test]
fn a_cache_cut_short_or_altered_is_never_trusted() {
    let dir = sale();
    let cold = load(dir.path());
    let cache = cache_path(dir.path()).unwrap();
    let written = std::fs::read(&cache).unwrap();
    // Cut short anywhere; one byte altered anywhere (past the checks of the header too).
    let cuts = [0, 1, written.len() / 2, written.len() - 1];
    let flips = [0, written.len() / 3, written.len() / 2, written.len() - 40];
    let damaged = cuts
        .iter()
        .map(|cut| written[..*cut].to_vec())
        .chain(flips.iter().map(|at| {
            let mut bytes = written.clone();
            bytes[*at] ^= 0x20;
            bytes
        }));
    for bytes in damaged {
        std::fs::write(&cache, &bytes).unwrap();
        let again = load(dir.path());
        assert!(!again.from_cache, "a damaged cache is not used");
        assert_eq!(shown(&again), shown(&cold));
        // And it is written again, whole.
        assert_eq!(std::fs::read(&cache).unwrap(), written);
    }
}

#[test]
fn a_validation_with_warnings_is_not_cached_so_they_are_printed_every_time() {
    let dir = sale();
    // A link back into the folder is skipped with a warning.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("again")).unwrap();
    for _ in 0..2 {
        let loaded = load(dir.path());
        assert!(!loaded.from_cache);
        assert!(
            !loaded.validated.diagnostics.is_empty(),
            "the warning is there"
        );
        assert!(loaded.validated.plan.is_some());
    }
    assert!(!cache_path(dir.path()).unwrap().exists());
}

#[test]
fn day_one_settled_on_another_day_means_a_full_validation() {
    let dir = quickstart();
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
    let cold = load_with(dir.path(), Some(first));
    assert!(load_with(dir.path(), Some(first)).from_cache);
    let other = load_with(dir.path(), Some(first + chrono::Days::new(1)));
    assert!(!other.from_cache);
    assert_ne!(
        shown(&other),
        shown(&cold),
        "day N counts from the other day"
    );
}

#[test]
fn a_store_in_memory_has_no_cache() {
    let dir = folder(
        "store: 'sqlite::memory:'\naccounts:\n  a: { network: console }\n",
        &[],
    );
    assert_eq!(cache_path(dir.path()), None);
    assert!(!load(dir.path()).from_cache);
    assert!(!load(dir.path()).from_cache);
}
