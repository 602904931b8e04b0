//! The dashboard under load: a month with 10,000 posts, rendered by the server (`GET
//! /calendar`, month, week and list views; this month's past marked from the runs of its
//! window), and pages of runs out of a store holding a million of them (`GET /runs`, the
//! newest, the next, one playbook's, the failed ones), timed over loopback from the request
//! to the last byte, with the service running in this process on a SQLite store.
//!
//! Run: `cargo bench --bench dashboard` (prints the figures the README quotes).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate, Utc};
use crier::engine::service::Service;
use crier::ops::{Desk, sessions};

/// Posts of the campaign, each every half hour: 7 × 48 a day, 10,080 in a 30-day month.
const POSTS: usize = 7;
const ROUNDS: usize = 15;
/// Runs in the store: one every 4 minutes back from now, about 10,800 a month for 7.6 years.
const RUNS: i64 = 1_000_000;

/// The store with its million past runs, written before the service opens it: one in ten
/// of the playbook `rare`, one in a thousand failed.
fn runs(dir: &std::path::Path) {
    use crier::store::{ScheduleStore, SqliteStore};
    let path = dir.join("crier.db");
    let store = SqliteStore::open(&path).unwrap();
    let revision = store.record_revision("bench", 1).unwrap();
    drop(store);
    let now = Utc::now().timestamp_millis();
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
         INSERT INTO runs (playbook, item, fire_at, revision, state, reason, steps,
                           current_step, created_at, updated_at)
         SELECT CASE WHEN i % 10 = 0 THEN 'rare' ELSE 'busy' END, 'old' || i, ?3 - i * 240000,
                ?2, CASE WHEN i % 1000 = 0 THEN 'failed' ELSE 'succeeded' END, NULL, '[]', 0,
                ?3 - i * 240000, ?3 - i * 240000
         FROM n",
        rusqlite::params![RUNS, revision, now],
    )
    .unwrap();
}

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: Europe/Kyiv\nstore: sqlite://crier.db\naccounts:\n  demo: { network: console }\n  news: { network: console }\npeople:\n  ada: { notify: demo, role: admin }\n",
    )
    .unwrap();
    let mut campaign = String::from("kind: campaign\nname: busy\nposts:\n");
    for n in 0..POSTS {
        campaign.push_str(&format!(
            "  - {{ id: p{n}, cron: \"{n} */1 * * *\", to: [demo, news], text: \"Post {n} of the busy month\" }}\n  - {{ id: q{n}, cron: \"{} */1 * * *\", to: demo, text: \"Another post {n}\" }}\n",
            n + 30,
        ));
    }
    std::fs::write(dir.path().join("busy.yaml"), campaign).unwrap();
    dir
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = folder();
        let filled = Instant::now();
        runs(dir.path());
        println!(
            "{RUNS} runs written to the store in {:.1} s",
            filled.elapsed().as_secs_f64()
        );
        let mut service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
            .await
            .expect("the service starts");
        let view = service.view();
        let plan = view.plan().expect("a plan");
        let bound =
            crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
                .await
                .expect("the server starts");
        let desk = Desk::new(plan.clone(), view.store());
        let ada = desk.actor("ada").unwrap();
        let link =
            sessions::issue_link(&desk, &ada, chrono::TimeDelta::minutes(5), Utc::now()).unwrap();
        let session = sessions::sign_in_with_link(&desk, &link.secret, Utc::now())
            .unwrap()
            .unwrap();
        let client = reqwest::Client::new();
        let today = Utc::now().with_timezone(&plan.timezone).date_naive();
        let next_month = NaiveDate::from_ymd_opt(
            today.year() + i32::from(today.month() == 12),
            today.month() % 12 + 1,
            1,
        )
        .unwrap();
        println!(
            "the calendar of a campaign with {} posts an hour on 2 accounts, and pages of {RUNS} runs, {} rounds each:",
            POSTS * 2,
            ROUNDS
        );
        let this_month = today.with_day(1).unwrap();
        let get = |path: String| {
            let request = client
                .get(format!("http://{bound}{path}"))
                .header("cookie", format!("crier_session={}", session.secret));
            async move { request.send().await.unwrap().text().await.unwrap() }
        };
        let first = get("/runs".into()).await.replace("&#x2f;", "/");
        let next = first
            .split("href=\"")
            .filter_map(|rest| rest.split('"').next())
            .find(|href| href.starts_with("/runs?") && href.contains("cursor"))
            .expect("the first page of runs links to the next")
            .replace("&amp;", "&");
        for (name, path) in [
            ("month", format!("/calendar?date={next_month}")),
            ("week", format!("/calendar?view=week&date={next_month}")),
            (
                "list (a page of 200)",
                format!("/calendar?view=list&date={next_month}"),
            ),
            ("this month, past marked", format!("/calendar?date={this_month}")),
            ("runs, newest 25", "/runs".to_string()),
            ("runs, the next 25", next.clone()),
            ("runs of one playbook", "/runs?playbook=rare".to_string()),
            ("runs failed", "/runs?state=failed".to_string()),
        ] {
            let mut times = Vec::new();
            let mut count = String::new();
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let response = client
                    .get(format!("http://{bound}{path}"))
                    .header("cookie", format!("crier_session={}", session.secret))
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "{path}: {}",
                    response.status()
                );
                let body = response.text().await.unwrap();
                times.push(started.elapsed());
                if let Some(at) = body.find("class=\"summary\">") {
                    count = body[at + 16..]
                        .split('<')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                }
            }
            times.sort();
            println!(
                "  {name:>22}: median {:>7.1} ms, best {:>7.1} ms, worst {:>7.1} ms ({count})",
                ms(times[times.len() / 2]),
                ms(times[0]),
                ms(times[times.len() - 1]),
            );
        }
        tokio::time::timeout(Duration::from_secs(60), service.stop())
            .await
            .expect("the service stops")
            .expect("cleanly");
    });
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
