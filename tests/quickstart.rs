//! The README's walkthrough on the quickstart, on a copy of it: `crier run`, then the
//! approval, the kill switch and the status from another terminal, on today's date; and the
//! whole story (`crier plan`, `crier rehearse`) a year from today, since the quickstart
//! counts its days from the day it first runs.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Europe::Kyiv;
use serde_json::Value;

use crate::support::playbooks::quickstart_copy;
use crate::support::service;

fn crier(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .output()
        .expect("run crier")
}

fn stdout_of(args: &[&str]) -> String {
    let out = crier(args);
    assert!(
        out.status.success(),
        "crier {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `check` until it holds, for at most 90 s (a loaded machine starts slowly).
fn eventually(what: &str, mut check: impl FnMut() -> Option<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_readme_walkthrough_works_today() {
    let copy = quickstart_copy();
    let dir = copy.path().to_str().unwrap();
    let running = service::start(copy.path());

    // The teaser's approval is asked as soon as crier starts, whatever the time of day.
    let waiting = eventually("the teaser waits for pr_lead", || {
        let out = crier(&["approvals", "--path", dir]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.contains("winter-sale/teaser").then_some(text)
    });
    assert!(waiting.contains("pr_lead"), "{waiting}");
    let approved = stdout_of(&[
        "approve",
        "winter-sale/teaser",
        "--by",
        "pr_lead",
        "--path",
        dir,
    ]);
    assert!(approved.contains("approved"), "{approved}");

    stdout_of(&[
        "pause",
        "--all",
        "--reason",
        "storm warning",
        "--by",
        "pr_lead",
        "--path",
        dir,
    ]);
    let status = stdout_of(&["status", dir]);
    assert!(status.contains("storm warning"), "{status}");
    stdout_of(&["resume", "--all", "--by", "pr_lead", "--path", dir]);
    service::stop(running);

    // The store's day one stays: a plan after the run counts from the day it first ran.
    let today = Utc::now().with_timezone(&Kyiv).date_naive();
    let plan = stdout_of(&["plan", dir, "--days", "3", "--format", "json"]);
    let teaser = plan_items(&plan)
        .into_iter()
        .find(|item| item["item"] == "teaser")
        .expect("the teaser is in the next three days");
    assert!(
        at_day(&teaser).is_some_and(|day| day == today.succ_opt().unwrap()),
        "{teaser}"
    );
}

fn plan_items(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn at_day(item: &Value) -> Option<NaiveDate> {
    let at = chrono::DateTime::parse_from_rfc3339(item["at"].as_str()?).ok()?;
    Some(at.with_timezone(&Kyiv).date_naive())
}

#[test]
fn a_year_from_now_the_story_is_whole() {
    let copy = quickstart_copy();
    let dir = copy.path().to_str().unwrap();
    let day_one = Utc::now().with_timezone(&Kyiv).date_naive() + TimeDelta::days(365);
    let day = |n: i64| day_one + TimeDelta::days(n - 1);
    let from = day(1).to_string();

    let plan = plan_items(&stdout_of(&[
        "plan", dir, "--from", &from, "--days", "40", "--format", "json",
    ]));
    let days_of = |item: &str| -> Vec<NaiveDate> {
        plan.iter()
            .filter(|entry| entry["item"] == item)
            .filter_map(at_day)
            .collect()
    };
    assert_eq!(days_of("teaser"), [day(2), day(2), day(27)], "{plan:?}");
    assert_eq!(days_of("announce"), [day(2)]);
    let weekdays = (1..=40)
        .map(day)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count();
    // Every weekday of the window at 12:00 (one row for both accounts).
    assert_eq!(days_of("daily-deal").len(), weekdays, "{plan:?}");
    let calendar: Vec<NaiveDate> = plan
        .iter()
        .filter(|entry| {
            entry["item"]
                .as_str()
                .is_some_and(|i| i.starts_with("winter-sale.csv"))
        })
        .filter_map(at_day)
        .collect();
    assert_eq!(calendar.first(), Some(&day(4)));
    assert_eq!(calendar.last(), Some(&day(25)));
    assert_eq!(days_of("launch"), [day(30)]);

    // The rehearsal tells the same story, with pr_lead approving the teaser on day one.
    let events = copy.path().join("walkthrough.jsonl");
    std::fs::write(
        &events,
        format!(
            "{{\"at\":\"{}T09:00:00+02:00\",\"type\":\"approval\",\"playbook\":\"winter-sale\",\"item\":\"teaser\",\"by\":\"pr_lead\",\"decision\":\"approve\"}}\n",
            day(1)
        ),
    )
    .unwrap();
    let rehearsal = stdout_of(&[
        "rehearse",
        dir,
        "--from",
        &from,
        "--until",
        &day(10).to_string(),
        "--events",
        events.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let lines = plan_items(&rehearsal);
    let posted_on = |item: &str| -> Vec<NaiveDate> {
        lines
            .iter()
            .filter(|line| line["kind"] == "post" && line["item"] == item)
            .filter_map(at_day)
            .collect()
    };
    assert_eq!(posted_on("teaser"), [day(2), day(2)], "{rehearsal}");
    assert_eq!(posted_on("announce"), [day(2)], "{rehearsal}");
    assert!(!posted_on("daily-deal").is_empty(), "{rehearsal}");
}
