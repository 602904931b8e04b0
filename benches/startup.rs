//! Start-up time and memory with 100,000 cron items and 1,000,000 one-off posts (goals:
//! first start under 2.5 s, a restart with unchanged files (campaigns from the plan cache
//! beside the store) under 0.5 s, under 300 MB). Not a criterion bench: it runs once and
//! prints the figures; the restart runs in a process of its own, as a real one does, so its
//! peak memory is its own.
//! Run: `cargo bench --bench startup`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use crier::engine::{Engine, EngineParts};
use crier::playbook::cache::load_and_validate_cached;
use crier::store::{SqliteStore, Store};

const CRON_FILES: usize = 100;
const CRON_PER_FILE: usize = 1_000;
const CALENDARS: usize = 10;
const ROWS_PER_CALENDAR: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench --no-run`/`--list` probes
    }
    if let Some(at) = args.iter().position(|a| a == "--restart") {
        return restart(Path::new(&args[at + 1]));
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

    let (items, first_start, loaded) = start(dir.path());
    let peak = memory("VmHWM");
    let restart = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--restart")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(restart.status.success(), "{restart:?}");
    println!(
        "{items} items: first start {first_start:.2} s (load and validate {loaded:.2} s), peak memory {peak} MB; \
         restart {}",
        String::from_utf8_lossy(&restart.stdout).trim()
    );
}

/// Loads the folder (from the plan cache when it matches), opens its store and starts the
/// engine: the items scheduled, the seconds in all and the seconds loading took.
fn start(dir: &Path) -> (usize, f64, f64) {
    let started = Instant::now();
    let parts = EngineParts::new(Arc::new(SqliteStore::in_memory().unwrap()));
    let loaded = load_and_validate_cached(dir, &parts.scripts, &parts.texts, None).unwrap();
    let plan = Arc::new(loaded.validated.plan.expect("valid"));
    let load = started.elapsed().as_secs_f64();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("crier.db")).unwrap());
    let now = Utc::now();
    let parts = EngineParts { store, ..parts };
    let mut engine = Engine::new(plan, &loaded.digest, parts, now).unwrap();
    engine.start(now).unwrap();
    (
        engine.scheduled_items(),
        started.elapsed().as_secs_f64(),
        load,
    )
}

/// The restart, in its own process: its figures on one line.
fn restart(dir: &Path) {
    let (items, restart, loaded) = start(dir);
    println!(
        "{restart:.2} s for {items} items (load {loaded:.2} s), peak memory {} MB",
        memory("VmHWM")
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
