//! The operator layer without a front end: who may act, the typed refusals, and the views.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crier::ops::pauses::{self, PauseError, Selection};
use crier::ops::views;
use crier::ops::{Desk, UnknownPerson};
use crier::store::{MemoryStore, PauseScope, Store};

const CONFIG: &str = "timezone: UTC\naccounts:\n  demo: { network: console }\npeople:\n  olena: { notify: demo }\n  taras: { notify: demo }\n";
const NEWS: &str = "kind: campaign\nname: news\nposts:\n  - { id: hourly, cron: \"0 * * * *\", to: demo, text: news }\n";

fn desk() -> (tempfile::TempDir, Desk) {
    let (dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("news.yaml", NEWS)]);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
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
    let status = views::status(&desk.plan, Some(&store), now).unwrap();
    assert_eq!(status.pauses.len(), 1);
    assert_eq!(status.pauses[0].pause.by, "olena");
    assert_eq!(status.next[0].item, "news/hourly");
    assert_eq!(
        status.next[0].at,
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
    );

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
fn the_status_of_a_folder_crier_never_ran_in_lists_what_fires_next() {
    let (_dir, desk) = desk();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
    let status = views::status(&desk.plan, None, now).unwrap();
    assert!(!status.store_exists);
    assert!(status.store_status.is_none());
    assert_eq!(status.next.len(), 1);
    assert_eq!(status.next[0].to, ["demo"]);
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["next"][0]["item"], "news/hourly");
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
