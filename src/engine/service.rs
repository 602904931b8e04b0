//! `crier run`: the engine on the system clock as a long-running service. The engine loop
//! fires due items and wakes waiting steps; a dispatcher task sends what they commit. The
//! first SIGINT/SIGTERM stops both gracefully (in-flight sends finish and are recorded); a
//! second one stops at once. Nothing is lost either way: every intent is in the store, and
//! sends left in doubt are looked up after the restart. SIGHUP, or a change to the
//! playbook files, reloads them; an invalid edit keeps the running revision.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, watch};

use super::clock::{from_millis, to_millis};
use super::core::{Engine, EngineParts};
use super::dispatch::{Dispatcher, RetryPolicy};
use super::metrics::{self, StoredMetrics};
use crate::connectors::http;
use crate::connectors::registry::Connectors;
use crate::playbook::plan::Plan;
use crate::playbook::validate::Validated;
use crate::store::{self, Store};

/// The longest the engine sleeps without looking at the store again (a `crier trigger` from
/// another process, or a send due after a retry, is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// How often the playbook files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long a graceful stop waits for in-flight sends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the playbooks are invalid; fix them and start again")]
    Invalid,
    #[error("{0}")]
    Load(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Connectors(String),
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
}

/// A validated plan with the digest of the files it came from.
pub struct Loaded {
    pub plan: Arc<Plan>,
    pub digest: String,
}

/// Loads and validates `path` with the engine's own script and template engines (so the
/// conditions it compiles are the ones it evaluates); prints diagnostics through `report`.
pub fn load(
    path: &Path,
    parts: &EngineParts,
    report: &dyn Fn(&Validated),
) -> Result<Loaded, ServiceError> {
    let validated = crate::cli::load_and_validate_with(path, &parts.scripts, &parts.texts)
        .map_err(ServiceError::Load)?;
    report(&validated);
    let mut hasher = Sha256::new();
    for file in 0.. {
        let Some(source) = validated.sources.try_get(file) else {
            break;
        };
        hasher.update(source.path.display().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(source.text.as_bytes());
        hasher.update([0]);
    }
    let digest = hex::encode(hasher.finalize());
    let plan = validated.plan.ok_or(ServiceError::Invalid)?;
    Ok(Loaded {
        plan: Arc::new(plan),
        digest,
    })
}

/// Runs until a signal stops it.
pub async fn run(path: PathBuf, report: &dyn Fn(&Validated)) -> Result<(), ServiceError> {
    // The store is named by the playbooks, so they are read first, with an engine's parts
    // whose store is replaced once it is known.
    let mut parts = EngineParts::new(Arc::new(store::MemoryStore::new()));
    let loaded = load(&path, &parts, report)?;
    let plan = loaded.plan.clone();
    let service_lock = store::lock_service(&plan.store, &plan.root)?;
    let store = store::open(&plan.store, &plan.root)?;
    parts.store = store.clone();
    parts.metrics = Arc::new(StoredMetrics::new(store.clone()));
    let client = http::client(&plan.http)
        .map_err(|e| ServiceError::Connectors(format!("cannot build the HTTP client: {e}")))?;
    let connectors = build_connectors(&plan, &client)?;
    let now = Utc::now();
    super::dispatch::log_recovered(store.recover_in_doubt(to_millis(now))?);
    if service_lock.is_some() {
        // The one service on this store: claims of an earlier one are a stopped process's.
        super::dispatch::log_recovered(
            store.recover_claims_of(super::dispatch::SERVICE_CLAIMS, to_millis(now))?,
        );
    }
    let mut engine = Engine::new(plan.clone(), &loaded.digest, parts.clone(), now)?;
    engine.start(now)?;
    tracing::info!(
        store = %plan.store,
        items = engine.scheduled_items(),
        next = %engine.next_fire().map(|t| t.to_rfc3339()).unwrap_or_else(|| "nothing".into()),
        "crier is running"
    );

    let dispatcher = Arc::new(Dispatcher::for_service(
        store.clone(),
        Arc::new(connectors),
        RetryPolicy::default(),
    ));
    dispatcher.set_plan(plan.clone());
    let wake = Arc::new(Notify::new());
    let (stop_sender, stop) = watch::channel(false);
    let dispatching = tokio::spawn(dispatch_loop(
        dispatcher.clone(),
        wake.clone(),
        stop.clone(),
    ));
    let collecting = tokio::spawn(collect_loop(
        store.clone(),
        dispatcher.clone(),
        stop.clone(),
    ));
    let entries = tokio::spawn(entries_loop(
        Feed::ContestEntries,
        store.clone(),
        dispatcher.clone(),
        stop.clone(),
    ));
    let mentions = tokio::spawn(entries_loop(
        Feed::CrisisMentions,
        store.clone(),
        dispatcher.clone(),
        stop.clone(),
    ));
    let accounts = AccountsReload { client, dispatcher };

    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServiceError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServiceError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(ServiceError::Signals)?;
    let mut watch_files = tokio::time::interval(WATCH_EVERY);
    let mut fingerprint = files_fingerprint(&path);
    let mut digest = loaded.digest;

    let mut store_failures = 0u32;
    loop {
        let now = Utc::now();
        // A store error (disk full, a lock held too long) is logged and the tick tried
        // again after a pause that grows; what it did not commit is done then.
        let sleep = match tick(&mut engine, store.as_ref(), &wake, now) {
            Ok(sleep) => {
                store_failures = 0;
                sleep
            }
            Err(error) => {
                store_failures += 1;
                let pause = MAX_SLEEP * 2u32.pow(store_failures.min(5)).min(30);
                tracing::error!(
                    "{error}; trying again in {} s (failure {store_failures} in a row)",
                    pause.as_secs()
                );
                pause
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the playbooks");
                reload(&path, &parts, &mut engine, &mut digest, &accounts, report);
            }
            _ = watch_files.tick() => {
                let current = files_fingerprint(&path);
                if current != fingerprint {
                    fingerprint = current;
                    tracing::info!("playbook files changed: reloading");
                    reload(&path, &parts, &mut engine, &mut digest, &accounts, report);
                }
            }
        }
    }

    tracing::info!("stopping: letting in-flight sends finish (signal again to stop at once)");
    tokio::spawn(async move {
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        tokio::select! {
            _ = async { if let Some(s) = interrupt.as_mut() { s.recv().await; } } => {}
            _ = async { if let Some(s) = terminate.as_mut() { s.recv().await; } } => {}
        }
        tracing::warn!("stopping at once; sends in flight are checked after the next start");
        std::process::exit(130);
    });
    let _ = stop_sender.send(true);
    wake.notify_one();
    collecting.abort();
    entries.abort();
    mentions.abort();
    if tokio::time::timeout(DRAIN_TIMEOUT, dispatching)
        .await
        .is_err()
    {
        tracing::warn!(
            "sends still in flight after {}s; they are checked after the next start",
            DRAIN_TIMEOUT.as_secs()
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// One turn of the engine loop: approvals, contests, crisis plans, fires, waiting steps and
/// released sends; wakes the dispatcher when something was committed. Returns how long to
/// sleep.
fn tick(
    engine: &mut Engine,
    store: &dyn Store,
    wake: &Notify,
    now: DateTime<Utc>,
) -> Result<Duration, ServiceError> {
    engine.open_approvals(now)?;
    engine.tick_contests(now, crate::contest::lifecycle::Seeds::Random)?;
    let alerted = match engine.tick_crises(now) {
        Ok(sends) => sends,
        Err(error) => {
            // Nothing of the failed step was committed; it is tried again next tick.
            tracing::error!("crisis plans: {error}");
            0
        }
    };
    let fired = engine.fire_due(now)?;
    let woke = engine.resume_waiting(now)?;
    let released = engine.release_held(now)?;
    if fired + woke + released + alerted > 0 {
        wake.notify_one();
    }
    sleep_until(engine, store, now)
}

/// How long the engine may sleep: until its next fire, the next waiting step, or at most
/// `MAX_SLEEP`.
fn sleep_until(
    engine: &Engine,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<Duration, ServiceError> {
    let next = [engine.next_fire(), store.next_wake()?.map(from_millis)]
        .into_iter()
        .flatten()
        .min();
    let wait = next.map_or(MAX_SLEEP, |next| (next - now).to_std().unwrap_or_default());
    Ok(wait.min(MAX_SLEEP))
}

async fn dispatch_loop(
    dispatcher: Arc<Dispatcher>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    dispatcher.serve(&wake, &mut stop).await;
}

/// What a polling task reads.
#[derive(Debug, Clone, Copy)]
enum Feed {
    ContestEntries,
    /// In a task of its own, so that reading many contest entries never delays detection.
    CrisisMentions,
}

impl Feed {
    async fn read(self, plan: &Plan, store: &dyn Store, connectors: &Connectors) {
        match self {
            Feed::ContestEntries if !plan.contests.is_empty() => {
                crate::contest::collect::collect(plan, store, connectors, Utc::now()).await;
            }
            Feed::CrisisMentions if !plan.crises.is_empty() => {
                crate::crisis::collect::collect(plan, store, connectors, Utc::now()).await;
            }
            _ => {}
        }
    }
}

/// Reads `feed` every `poll_every()` until stopped, with the plan and the connectors of the
/// latest reload.
async fn entries_loop(
    feed: Feed,
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if let Some(current) = dispatcher.plan() {
            let connectors = dispatcher.connectors();
            feed.read(&current, store.as_ref(), &connectors).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(crate::contest::collect::poll_every()) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Every account's connector, or every reason some could not be built.
fn build_connectors(plan: &Plan, client: &reqwest::Client) -> Result<Connectors, ServiceError> {
    Connectors::build(&plan.accounts, client).map_err(|errors| {
        ServiceError::Connectors(
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// What a reload needs to rebuild the accounts' connectors.
struct AccountsReload {
    client: reqwest::Client,
    dispatcher: Arc<Dispatcher>,
}

/// Loads the playbooks again. The accounts' connectors are rebuilt too (secrets read again,
/// so a rotated token file is picked up); any problem keeps the whole running revision.
/// Takes metrics snapshots at start and every `COLLECT_EVERY` until stopped.
async fn collect_loop(
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let connectors = dispatcher.connectors();
        metrics::collect(store.as_ref(), &connectors, Utc::now()).await;
        tokio::select! {
            _ = tokio::time::sleep(metrics::COLLECT_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

fn reload(
    path: &Path,
    parts: &EngineParts,
    engine: &mut Engine,
    digest: &mut String,
    accounts: &AccountsReload,
    report: &dyn Fn(&Validated),
) {
    let loaded = match load(path, parts, report) {
        Ok(loaded) if loaded.digest == *digest => {
            return tracing::info!("no change to the playbooks");
        }
        Ok(loaded) => loaded,
        Err(error) => return tracing::error!("{error}: keeping the running revision"),
    };
    let connectors = match build_connectors(&loaded.plan, &accounts.client) {
        Ok(connectors) => connectors,
        Err(error) => return tracing::error!("{error}: keeping the running revision"),
    };
    match engine.replace_plan(loaded.plan.clone(), &loaded.digest, Utc::now()) {
        Ok(()) => {
            accounts.dispatcher.set_connectors(Arc::new(connectors));
            accounts.dispatcher.set_plan(loaded.plan);
            *digest = loaded.digest;
            tracing::info!(items = engine.scheduled_items(), "reloaded the playbooks");
        }
        Err(error) => tracing::error!("reload failed, keeping the running revision: {error}"),
    }
}

/// Paths, sizes and modification times of the files a reload would read.
fn files_fingerprint(path: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(next) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&next) else {
            continue;
        };
        if metadata.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&next) {
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if !name.to_string_lossy().starts_with('.') && name != "target" {
                        pending.push(entry.path());
                    }
                }
            }
        } else if next
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "csv")
        {
            found.push((next, metadata.len(), metadata.modified().ok()));
        }
    }
    found.sort();
    found
}
