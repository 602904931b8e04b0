//! The operator layer without a front end: who may act, the typed refusals, and the views.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crier::ops::pauses::{self, PauseError, Selection};
use crier::ops::views;
use crier::ops::{Desk, UnknownPerson};
use crier::store::{PauseScope, SqliteStore, Store};

const CONFIG: &str = "timezone: UTC\naccounts:\n  demo: { network: console }\npeople:\n  olena: { notify: demo }\n  taras: { notify: demo }\n";
const NEWS: &str = "kind: campaign\nname: news\nposts:\n  - { id: hourly, cron: \"0 * * * *\", to: demo, text: news }\n";

fn desk() -> (tempfile::TempDir, Desk) {
    let (dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("news.yaml", NEWS)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    (dir, Desk::new(plan, store))
}

fn campaign(name: &str) -> Selection {
    Selection {
        campaigns: vec![name.into()],
        ..Selection::default()
    }
}

#[test]
fn only_the_people_of_crier_yaml_act() {
    let (_dir, desk) = desk();
    assert_eq!(
        desk.actor("olna").unwrap_err(),
        UnknownPerson {
            name: "olna".into(),
            hint: Some("did you mean `olena`?".into()),
        }
    );
    assert_eq!(desk.actor("olena").unwrap().name(), "olena");
}

#[test]
fn a_pause_is_refused_with_the_facts_and_shows_in_the_status() {
    let (_dir, desk) = desk();
    let olena = desk.actor("olena").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let refused = pauses::pause(&desk, &olena, &campaign("nwes"), None, "storm", now).unwrap_err();
    assert!(
        matches!(&refused, PauseError::UnknownCampaign { name, hint: Some(_) } if name == "nwes"),
        "{refused:?}"
    );
    let past = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let refused =
        pauses::pause(&desk, &olena, &campaign("news"), Some(past), "storm", now).unwrap_err();
    assert!(matches!(refused, PauseError::UntilInPast { until } if until == past));

    let paused = pauses::pause(&desk, &olena, &campaign("news"), None, "storm", now).unwrap();
    assert_eq!(paused[0].scope, PauseScope::Campaign("news".into()));
    let store = desk.store.clone();
    let status = views::status(&desk.plan.store, Some(&store), now).unwrap();
    assert_eq!(status.pauses.len(), 1);
    assert_eq!(status.pauses[0].pause.by, "olena");
    assert!(status.last_fired.is_empty(), "nothing fired yet");

    let taras = desk.actor("taras").unwrap();
    let resumed = pauses::resume(&desk, &taras, &campaign("news"), now).unwrap();
    assert_eq!((resumed.lifted, resumed.still_paused.len()), (1, 0));
    let again = pauses::resume(&desk, &taras, &campaign("news"), now).unwrap_err();
    assert!(
        matches!(&again, PauseError::NothingToResume { idle, remaining } if idle == &[PauseScope::Campaign("news".into())] && remaining.is_empty()),
        "{again:?}"
    );
}

#[test]
fn the_status_of_a_folder_crier_never_ran_in_says_so() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
    let status = views::status("sqlite://crier.db", None, now).unwrap();
    assert!(!status.store_exists);
    assert!(status.store_status.is_none());
    assert!(status.last_fired.is_empty());
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["store"], "sqlite://crier.db");
}

const LAUNCH: &str = "kind: campaign\nname: launch\nposts:\n  - { id: hello, at: \"2026-12-01 09:00\", to: demo, text: hi }\n  - { id: later, at: \"2026-12-02 09:00\", to: demo, text: later }\n";

/// A folder crier ran in (with a SQLite store), `hello` fired at 09:00.
fn folder_that_ran() -> tempfile::TempDir {
    use crier::engine::core::{Engine, EngineParts};
    use crier::store::SqliteStore;
    let config = format!("{CONFIG}store: sqlite://crier.db\n");
    let (dir, plan) = crate::support::playbooks::valid_plan(&config, &[("launch.yaml", LAUNCH)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0).unwrap();
    let mut engine = Engine::new(plan, "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let fired = engine
        .fire_due(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap())
        .unwrap();
    assert_eq!(fired, 1);
    drop(engine);
    drop(store);
    dir
}

fn crier(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn status_answers_from_the_store_after_the_playbooks_turn_invalid() {
    let dir = folder_that_ran();
    std::fs::write(
        dir.path().join("launch.yaml"),
        "kind: campaign\nname: launch\nposts: [oops\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    assert_eq!(crier(&["validate", path]).status.code(), Some(1));
    let out = crier(&["status", path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout.contains("2026-12-01 09:00:00 +00:00  launch/hello"),
        "{stdout}"
    );
    assert!(stdout.contains("runs: 1 "), "{stdout}");
}

/// `status` reads `crier.yaml` and the store, never a playbook: files that cannot even be
/// read as text (bytes that are not UTF-8, a link loop) leave it unaffected, while `validate`,
/// which reads them, refuses the folder.
#[test]
fn status_never_reads_a_playbook() {
    let dir = folder_that_ran();
    std::fs::write(
        dir.path().join("launch.yaml"),
        b"kind: campaign\n\xff\xfe\x00",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("more")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), dir.path().join("more/loop")).unwrap();
    let path = dir.path().to_str().unwrap();
    let validate = crier(&["validate", path]);
    assert_eq!(validate.status.code(), Some(1), "{validate:?}");
    let out = crier(&["status", path]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("launch/hello"));
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn the_store_config_is_read_from_crier_yaml_alone() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: Europe/Kyiv\nstore: sqlite://data/c.db\naccounts: {}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.yaml"), "kind: [").unwrap();
    let config = crier::playbook::load::read_store_config(dir.path()).unwrap();
    assert_eq!(config.store, "sqlite://data/c.db");
    assert_eq!(config.timezone, chrono_tz::Europe::Kyiv);
    assert_eq!(config.root, dir.path());
    std::fs::write(dir.path().join("crier.yaml"), "timezone: Mars/Base\n").unwrap();
    let error = crier::playbook::load::read_store_config(dir.path()).unwrap_err();
    assert!(
        error.contains("crier.yaml") && error.contains("timezone"),
        "{error}"
    );
}

#[test]
fn the_plan_view_lists_a_window_and_refuses_an_empty_one() {
    let (_dir, desk) = desk();
    let texts = crier::text::TextTemplates::new();
    let from = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
    let until = Utc.with_ymd_and_hms(2026, 12, 1, 12, 30, 0).unwrap();
    let planned = views::plan(&desk.plan, &texts, from, until).unwrap();
    assert_eq!(planned.len(), 3, "10:00, 11:00 and 12:00");
    let empty = views::plan(&desk.plan, &texts, until, from).unwrap_err();
    assert_eq!((empty.from, empty.until), (until, from));
}

/// A crisis plan's saved state that cannot be read is an error that says which one, never
/// "no condition failing".
#[test]
fn status_refuses_a_corrupt_crisis_state_naming_it() {
    let dir = folder_that_ran();
    let side = rusqlite::Connection::open(dir.path().join("crier.db")).unwrap();
    side.execute(
        "INSERT INTO crisis_plans (name, state, updated_at) VALUES ('outage', '{not json', 0)",
        [],
    )
    .unwrap();
    drop(side);
    let out = crier(&["status", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stderr.contains("the saved state of crisis plan `outage`"),
        "{stderr}"
    );
}
