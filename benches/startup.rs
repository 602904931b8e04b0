//! Start-up time and memory with 100,000 cron items and 1,000,000 one-off posts (goal:
//! under 5 s and under 500 MB). Not a criterion bench: it runs once and
//! prints the figures, because peak memory is per process.
//! Run: `cargo bench --bench startup`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use crier::engine::{Engine, EngineParts};
use crier::store::{SqliteStore, Store};

const CRON_FILES: usize = 100;
const CRON_PER_FILE: usize = 1_000;
const CALENDARS: usize = 10;
const ROWS_PER_CALENDAR: usize = 100_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench --no-run`/`--list` probes
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  a: { network: console }\n  b: { network: console }\n",
    )
    .unwrap();
    for file in 0..CRON_FILES {
        let mut text = format!("kind: campaign\nname: cron-{file}\nposts:\n");
        for i in 0..CRON_PER_FILE {
            let _ = write!(
                text,
                "  - id: c{i}\n    cron: \"{} {} * * *\"\n    to: a\n    text: \"post {i}\"\n",
                i % 60,
                (i / 60) % 24
            );
        }
        std::fs::write(dir.path().join(format!("cron-{file}.yaml")), text).unwrap();
    }
    for calendar in 0..CALENDARS {
        let mut csv = String::from("at,to,text\n");
        for row in 0..ROWS_PER_CALENDAR {
            let day = 1 + row % 28;
            let _ = writeln!(
                csv,
                "2027-{:02}-{day:02} {:02}:{:02},b,one-off {row}",
                1 + (row / 28) % 12,
                (row / 60) % 24,
                row % 60
            );
        }
        std::fs::write(dir.path().join(format!("calendar-{calendar}.csv")), csv).unwrap();
        std::fs::write(
            dir.path().join(format!("calendar-{calendar}.yaml")),
            format!("kind: campaign\nname: calendar-{calendar}\nposts:\n  - calendar: calendar-{calendar}.csv\n"),
        )
        .unwrap();
    }

    let started = Instant::now();
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    let plan = Arc::new(validated.plan.expect("valid"));
    let loaded = started.elapsed();
    let after_load = memory("VmHWM");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("crier.db")).unwrap());
    let now = Utc::now();
    let mut engine =
        Engine::new(plan.clone(), "bench", EngineParts::new(store.clone()), now).unwrap();
    engine.start(now).unwrap();
    let first_start = started.elapsed();
    drop(engine);
    let restart = Instant::now();
    let mut engine = Engine::new(plan, "bench", EngineParts::new(store), now).unwrap();
    engine.start(now).unwrap();
    let restarted = restart.elapsed();
    let peak = memory("VmHWM");
    let resident = memory("VmRSS");
    println!(
        "{} items: load and validate {:.2} s (peak so far {after_load} MB); first start {:.2} s in all; \
         restart (engine only) {:.2} s; peak memory {peak} MB, resident after start {resident} MB",
        engine.scheduled_items(),
        loaded.as_secs_f64(),
        first_start.as_secs_f64(),
        restarted.as_secs_f64()
    );
}

/// A `/proc/self/status` figure in MB (Linux).
fn memory(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}
