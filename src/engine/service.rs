//! `crier run`: the engine on the system clock as a long-running service, started with
//! `Service::start` and driven through its `ServiceHandle` (stop, reload, subscribe to its
//! events). The engine loop fires due items and wakes waiting steps; a dispatcher task sends
//! what they commit. The
//! first SIGINT/SIGTERM stops both gracefully (the engine drops the fires it has not
//! committed, even in the middle of rendering a text; in-flight sends finish and are
//! recorded); a second one stops at once. Nothing is lost either way: every intent is in the store, and
//! sends left in doubt are looked up after the restart. SIGHUP, or a change to the
//! playbook files, reloads them; an invalid edit keeps the running revision.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use super::core::{Engine, EngineParts};
use super::dispatch::{Dispatcher, RetryPolicy};
use super::events::{Events, ServiceEvent};
use super::hooks::{HookReceiver, hook_secrets};
use super::metrics::{self, StoredMetrics};
use crate::connectors::http;
use crate::connectors::registry::Connectors;
use crate::playbook::cache::{CachedLoad, load_and_validate_cached};
use crate::playbook::load::{LoadError, load_and_validate_from};
use crate::playbook::plan::Plan;
use crate::playbook::validate::Validated;
use crate::store::{self, Store, StoreHandle, from_millis, to_millis};

/// The longest the engine sleeps without looking at the store again (a `crier trigger` from
/// another process, or a send due after a retry, is noticed within this).
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// How often the playbook files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(2);
/// How long a graceful stop waits for in-flight sends; one cut short is looked up on its
/// network after the next start, like after a crash.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stop waits, once no send is in flight, for the engine to end the step it is in
/// (it drops what it has not committed at once, but a commit in progress on a slow disk can
/// take long). A step cut short is like a crash: what it did not commit is done after the
/// next start.
const STEP_GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the playbooks are invalid; fix them and start again")]
    Invalid,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("{0}")]
    Connectors(String),
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
    #[error("the service stopped abnormally: {0}")]
    Stopped(tokio::task::JoinError),
}

/// A validated plan with the digest of the files it came from.
pub struct Loaded {
    pub plan: Arc<Plan>,
    pub digest: String,
}

/// Loads and validates `path` with the engine's own script and template engines (so the
/// conditions it compiles are the ones it evaluates), the campaigns from the plan cache when
/// no file changed; prints diagnostics through `report`. `first_run` is the day the store
/// first ran, for `day_one: first-run` (today if `None`).
pub fn load(
    path: &Path,
    parts: &EngineParts,
    first_run: Option<chrono::NaiveDate>,
    report: &dyn Fn(&Validated),
) -> Result<Loaded, ServiceError> {
    settle(
        load_and_validate_cached(path, &parts.scripts, &parts.texts, first_run)?,
        report,
    )
}

/// Loads `path` as [`load`] does, with `day_one: first-run` counting from the day its store
/// first ran (today for a store not started yet).
pub fn load_anchored(
    path: &Path,
    parts: &EngineParts,
    report: &dyn Fn(&Validated),
) -> Result<Loaded, ServiceError> {
    let (scripts, texts) = (&parts.scripts, &parts.texts);
    let loaded = load_and_validate_cached(path, scripts, texts, None)?;
    let loaded = match stored_first_run(&loaded.validated)? {
        Some(day) => load_and_validate_cached(path, scripts, texts, Some(day))?,
        None => loaded,
    };
    settle(loaded, report)
}

/// Validates `path` with `day_one: first-run` counting from the day its store first ran,
/// read without creating or changing the store (today for a store not started yet).
pub fn validate_anchored(
    path: &Path,
    scripts: &crate::script::ScriptEngine,
    texts: &crate::text::TextTemplates,
) -> Result<Validated, ServiceError> {
    let validated = load_and_validate_from(path, scripts, texts, None)?;
    match stored_first_run(&validated)? {
        Some(day) => Ok(load_and_validate_from(path, scripts, texts, Some(day))?),
        None => Ok(validated),
    }
}

/// The day the store first ran, when `day_one: first-run` settled on another.
fn stored_first_run(validated: &Validated) -> Result<Option<chrono::NaiveDate>, ServiceError> {
    match validated
        .plan
        .as_ref()
        .and_then(|plan| plan.day_one.map(|d| (plan, d)))
    {
        Some((plan, day_one)) if day_one.first_run => {
            Ok(store::first_run_day(plan)?.filter(|day| *day != day_one.date))
        }
        _ => Ok(None),
    }
}

/// Reports a validation's diagnostics; its plan, with the digest of the files it came from.
fn settle(loaded: CachedLoad, report: &dyn Fn(&Validated)) -> Result<Loaded, ServiceError> {
    report(&loaded.validated);
    let plan = loaded.validated.plan.ok_or(ServiceError::Invalid)?;
    Ok(Loaded {
        plan: Arc::new(plan),
        digest: loaded.digest,
    })
}

/// How the service reports the diagnostics of each load (printed by the CLI, logged by a
/// server).
pub type Report = Arc<dyn Fn(&Validated) + Send + Sync>;

/// Starts services: `Service::start` reads the playbooks, opens the store, and runs the
/// engine, the dispatcher and the feeds in tasks of the current runtime.
pub struct Service;

/// A running service: stop it, reload it, hear what happens in it.
pub struct ServiceHandle {
    stop: watch::Sender<bool>,
    reload: Arc<Notify>,
    events: Events,
    view: ServiceView,
    /// Tasks that live and stop with the service (a server): on a stop they are told first
    /// and awaited, so what they are doing finishes against a running service.
    companions: Vec<JoinHandle<()>>,
    hooks: Arc<HookReceiver>,
    dispatcher: Arc<Dispatcher>,
    running: JoinHandle<Result<(), ServiceError>>,
    /// Becomes true when the dispatcher has stopped (its sends in flight recorded).
    drained: watch::Receiver<bool>,
    links: super::links::LinkSlot,
}

/// What a front end running beside the service reads: its store, the plan it runs now (a
/// reload changes it), its events, and whether it is stopping. Cheap to clone.
#[derive(Clone)]
pub struct ServiceView {
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    events: Events,
    stop: watch::Receiver<bool>,
    /// Requested with the stop: renders waiting on it are cut short.
    interrupt: crate::text::StopFlag,
}

impl ServiceView {
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The plan the service runs now: the latest valid load.
    pub fn plan(&self) -> Option<Arc<Plan>> {
        self.dispatcher.plan()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    /// Tells the service's subscribers of something a front end did (after it is stored).
    pub fn emit(&self, event: ServiceEvent) {
        self.events.emit(event);
    }

    /// Resolves once the service is asked to stop (or its handle is gone).
    pub async fn stopping(&self) {
        let mut stop = self.stop.clone();
        let _ = stop.wait_for(|stopping| *stopping).await;
    }

    /// The service's stop as a flag that synchronous work checks: an action a front end
    /// takes on the blocking pool renders through it (`Engine::interrupt_on`), so a stop
    /// cuts its texts short instead of waiting for them.
    pub fn stop_flag(&self) -> crate::text::StopFlag {
        self.interrupt.clone()
    }
}

impl ServiceHandle {
    /// Everything that happens from now on: runs created, sends, failures, approval
    /// requests, incidents.
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    /// The service's store, current plan and events, for a front end beside it.
    pub fn view(&self) -> ServiceView {
        self.view.clone()
    }

    /// Ties `task` to the service's life: [`ServiceHandle::stop`] waits for it (at most
    /// `DRAIN_TIMEOUT`) once the view's `stopping` has resolved, before the engine stops.
    pub fn attach(&mut self, task: JoinHandle<()>) {
        self.companions.push(task);
    }

    /// What inbound events (`hooks:`) are received with, on the running revision.
    pub fn hooks(&self) -> Arc<HookReceiver> {
        self.hooks.clone()
    }

    /// The accounts' connectors of the running revision (updates a network pushes are
    /// checked by them).
    pub fn connectors(&self) -> Arc<Connectors> {
        self.dispatcher.connectors()
    }

    /// The accounts' connectors as they are at each call, across reloads (what a server
    /// keeps to check the updates a network pushes).
    pub fn connectors_source(&self) -> impl Fn() -> Arc<Connectors> + Send + Sync + 'static {
        let dispatcher = self.dispatcher.clone();
        move || dispatcher.connectors()
    }

    /// From now on, notices carry `links` to each decision's page (the server sets them).
    pub fn set_decision_links(&self, links: Arc<dyn super::links::DecisionLinks>) {
        self.links.set(links);
    }

    /// Reads the playbooks again; an invalid edit keeps the running revision.
    pub fn reload(&self) {
        self.reload.notify_one();
    }

    /// Stops gracefully: no new work (the engine drops the fires it has not committed), in-flight
    /// sends finish and are recorded (at most `DRAIN_TIMEOUT`), and the engine ends its
    /// current step (at most `STEP_GRACE` more);
    /// returns once the service has stopped, or those bounds have passed.
    pub async fn stop(mut self) -> Result<(), ServiceError> {
        let _ = self.stop.send(true);
        // Requests and sends drain side by side (the dispatcher was halted with the stop):
        // one deadline for both, not one after the other.
        let drain_until = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let companions = async {
            for companion in std::mem::take(&mut self.companions) {
                let _ = companion.await;
            }
        };
        if tokio::time::timeout_at(drain_until, companions)
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after {}s; stopping without them",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        let _ = tokio::time::timeout_at(drain_until, self.drained.wait_for(|done| *done)).await;
        match tokio::time::timeout(STEP_GRACE, &mut self.running).await {
            Ok(stopped) => stopped.map_err(ServiceError::Stopped)?,
            Err(_) => {
                tracing::warn!(
                    "the engine is still in a step; stopping without it (what it did not commit is done after the next start)"
                );
                Ok(())
            }
        }
    }
}

impl Service {
    /// Loads `path` (diagnostics through `report`), takes the store's service lock, and
    /// starts. Fails, with nothing started, on invalid playbooks, a store in use by another
    /// service, accounts whose connectors cannot be built, or hooks whose secrets cannot be
    /// read.
    pub async fn start(path: PathBuf, report: Report) -> Result<ServiceHandle, ServiceError> {
        Self::start_with_links(path, report, |_, _| Ok(None)).await
    }

    /// As [`Service::start`], with the links notices carry to a decision's page made by
    /// `links` from the store and the plan before the engine's first fire, so the notices of
    /// the start's catch-up carry them too (a server started later may set them again).
    pub async fn start_with_links(
        path: PathBuf,
        report: Report,
        links: impl FnOnce(
            &Arc<dyn Store>,
            &Plan,
        )
            -> Result<Option<Arc<dyn super::links::DecisionLinks>>, store::StoreError>,
    ) -> Result<ServiceHandle, ServiceError> {
        // The store is named by the playbooks, so they are read first, with an engine's parts
        // whose store is replaced once it is known.
        crate::telemetry::install();
        // What was due before this moment had passed before the plan was seen; what falls
        // due while loading is late, not missed.
        let seen = Utc::now();
        let mut parts = EngineParts::new(Arc::new(store::SqliteStore::in_memory()?));
        let loaded = load_anchored(&path, &parts, report.as_ref())?;
        let plan = loaded.plan.clone();
        // Reloads keep counting `day N` from the day the first load settled on.
        let first_run = plan
            .day_one
            .filter(|day_one| day_one.first_run)
            .map(|day_one| day_one.date);
        let service_lock = store::lock_service(&plan.store, &plan.root)?;
        let store = store::open(&plan.store, &plan.root)?;
        parts.store = store.clone();
        parts.metrics = Arc::new(StoredMetrics::new(store.clone()));
        let client = http::client(&plan.http)
            .map_err(|e| ServiceError::Connectors(format!("cannot build the HTTP client: {e}")))?;
        let connectors = build_connectors(&plan, &client)?;
        // Like the accounts' secrets, the hooks' are read before anything starts.
        hook_secrets(&plan).map_err(|errors| {
            ServiceError::Connectors(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        let now = Utc::now();
        super::dispatch::log_recovered(store.recover_in_doubt(to_millis(now))?);
        if service_lock.is_some() {
            // The one service on this store: claims of an earlier one are a stopped process's.
            super::dispatch::log_recovered(
                store.recover_claims_of(super::dispatch::SERVICE_CLAIMS, to_millis(now))?,
            );
        }
        if let Some(links) = links(&store, &plan)? {
            parts.links.set(links);
        }
        let mut engine = Engine::new(plan.clone(), &loaded.digest, parts.clone(), now)?;
        engine.start_seen_at(seen, now)?;
        log_passed(engine.record_passed_one_offs(seen)?);
        // From here on a stop ends the engine's step at once, even in the middle of a render.
        let interrupt = crate::text::StopFlag::default();
        engine.interrupt_on(interrupt.clone());
        tracing::info!(
            store = %plan.store,
            items = engine.scheduled_items(),
            next = %engine.next_fire().map(|t| t.to_rfc3339()).unwrap_or_else(|| "nothing".into()),
            "crier is running"
        );
        release_load_memory();
        let events = Events::new();
        let wake = Arc::new(Notify::new());
        let hooks = Arc::new(
            HookReceiver::new(plan.clone(), &loaded.digest, parts.clone(), now)
                .map_err(|e| ServiceError::Connectors(e.to_string()))?
                .notifying(wake.clone(), events.clone())
                .interrupted_by(interrupt.clone()),
        );
        let dispatcher = Arc::new(
            Dispatcher::for_service(store.clone(), Arc::new(connectors), RetryPolicy::default())
                .with_events(events.clone()),
        );
        dispatcher.set_plan(plan.clone());
        let (stop_sender, stop) = watch::channel(false);
        let view = ServiceView {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            events: events.clone(),
            stop: stop.clone(),
            interrupt: interrupt.clone(),
        };
        let (drained_sender, drained) = watch::channel(false);
        let reload = Arc::new(Notify::new());
        let links = parts.links.clone();
        let running = Running {
            path,
            first_run,
            report,
            parts,
            engine: Arc::new(std::sync::Mutex::new(engine)),
            store,
            digest: loaded.digest,
            accounts: AccountsReload {
                client,
                dispatcher: dispatcher.clone(),
                hooks: hooks.clone(),
            },
            events: events.clone(),
            reload: reload.clone(),
            wake,
            drained: drained_sender,
            interrupt,
        };
        let running = tokio::spawn(async move {
            let _service_lock = service_lock;
            running.run(stop).await
        });
        Ok(ServiceHandle {
            stop: stop_sender,
            reload,
            events,
            view,
            companions: Vec::new(),
            hooks,
            dispatcher,
            running,
            drained,
            links,
        })
    }
}

/// The signals a service obeys, listened for before it starts so none is missed.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> Result<Signals, ServiceError> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(ServiceError::Signals)?,
            terminate: signal(SignalKind::terminate()).map_err(ServiceError::Signals)?,
            hangup: signal(SignalKind::hangup()).map_err(ServiceError::Signals)?,
        })
    }
}

/// Runs until a signal stops it: the first SIGINT/SIGTERM gracefully, a second at once;
/// SIGHUP reloads.
pub async fn run(path: PathBuf, report: Report) -> Result<(), ServiceError> {
    let signals = Signals::listen()?;
    let service = Service::start(path, report).await?;
    until_signalled(service, signals).await
}

/// Drives a started service until a signal stops it, as [`run`] does.
pub async fn until_signalled(service: ServiceHandle, signals: Signals) -> Result<(), ServiceError> {
    let Signals {
        mut interrupt,
        mut terminate,
        mut hangup,
    } = signals;
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading the playbooks");
                service.reload();
            }
        }
    }
    tracing::info!("stopping: letting in-flight sends finish (signal again to stop at once)");
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::warn!("stopping at once; sends in flight are checked after the next start");
        std::process::exit(130);
    });
    service.stop().await
}

/// The engine's side of a running service.
struct Running {
    path: PathBuf,
    /// The day `day N` counts from, for `day_one: first-run`.
    first_run: Option<chrono::NaiveDate>,
    report: Report,
    parts: EngineParts,
    /// Shared with the blocking pool, where each tick runs (its store calls block).
    engine: Arc<std::sync::Mutex<Engine>>,
    store: Arc<dyn Store>,
    digest: String,
    accounts: AccountsReload,
    events: Events,
    reload: Arc<Notify>,
    /// Wakes the dispatcher when something was committed to send.
    wake: Arc<Notify>,
    drained: watch::Sender<bool>,
    /// Requested with the stop: the engine drops the step it is in (see
    /// `Engine::interrupt_on`).
    interrupt: crate::text::StopFlag,
}

impl Running {
    /// The engine loop, with the dispatcher and the feeds beside it, until `stop` says so.
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), ServiceError> {
        let dispatcher = self.accounts.dispatcher.clone();
        let store = self.store.clone();
        let wake = self.wake.clone();
        // The tasks beside the engine stop when it does, whether asked to or on an error.
        let (halt, halted) = watch::channel(false);
        let halt = Arc::new(halt);
        // A stop reaches the dispatcher and the engine's step at once.
        let forward = {
            let (halt, wake, mut stop) = (halt.clone(), wake.clone(), stop.clone());
            let interrupt = self.interrupt.clone();
            tokio::spawn(async move {
                let _ = stop.wait_for(|stopping| *stopping).await;
                interrupt.request();
                let _ = halt.send(true);
                wake.notify_one();
            })
        };
        let dispatching = {
            let (dispatcher, wake, halted) = (dispatcher.clone(), wake.clone(), halted.clone());
            let drained = std::mem::replace(&mut self.drained, watch::channel(false).0);
            tokio::spawn(async move {
                dispatch_loop(dispatcher, wake, halted).await;
                let _ = drained.send(true);
            })
        };
        let collecting = tokio::spawn(collect_loop(
            store.clone(),
            dispatcher.clone(),
            halted.clone(),
        ));
        let entries = tokio::spawn(entries_loop(
            Feed::ContestEntries,
            store.clone(),
            dispatcher.clone(),
            halted.clone(),
        ));
        let mentions = tokio::spawn(entries_loop(
            Feed::CrisisMentions,
            store.clone(),
            dispatcher.clone(),
            halted,
        ));
        let mut watch_files = tokio::time::interval(WATCH_EVERY);
        let mut fingerprint = files_fingerprint(&self.path);
        let mut store_failures = 0u32;
        let outcome = loop {
            // A dropped handle stops the service too.
            if *stop.borrow() || stop.has_changed().is_err() {
                break Ok(());
            }
            let now = Utc::now();
            let sleep = self.tick(now).await;
            // A store error (disk full, a lock held too long) is logged and the tick tried
            // again after a pause that grows; what it did not commit is done then.
            let sleep = match sleep {
                // Stopping: the step ended without committing what it was building.
                Err(ServiceError::Store(store::StoreError::Interrupted)) => break Ok(()),
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
                _ = stop.changed() => {}
                _ = self.reload.notified() => self.reload().await,
                _ = watch_files.tick() => {
                    // The lateness samples of fires that sent nothing yet (held for an
                    // approval, say) go into the histogram's buckets without a scrape.
                    crate::telemetry::upkeep();
                    let current = files_fingerprint(&self.path);
                    if current != fingerprint {
                        fingerprint = current;
                        tracing::info!("playbook files changed: reloading");
                        self.reload().await;
                    }
                }
            }
        };
        self.interrupt.request();
        let _ = halt.send(true);
        wake.notify_one();
        forward.abort();
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
        outcome
    }

    /// One pass of the engine at `now`, on the blocking pool (the engine's store calls
    /// block); how long it may then sleep. Due fires wake the dispatcher chunk by chunk.
    async fn tick(&self, now: DateTime<Utc>) -> Result<Duration, ServiceError> {
        let engine = self.engine.clone();
        let (events, wake, store) = (self.events.clone(), self.wake.clone(), self.store.clone());
        let ticked = tokio::task::spawn_blocking(move || {
            let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
            if tick(&mut engine, &events, &wake, now)? {
                wake.notify_one();
            }
            sleep_until(&engine, store.as_ref(), now)
        })
        .await;
        match ticked {
            Ok(sleep) => sleep,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => Err(ServiceError::Store(store::StoreError::Backend(format!(
                "the engine's tick did not finish: {error}"
            )))),
        }
    }

    /// Loads the playbooks again on the blocking pool, like a tick: reading the files and
    /// taking the new plan call the store, which would stall the other tasks of this worker.
    async fn reload(&mut self) {
        let engine = self.engine.clone();
        let (path, parts, first_run) = (self.path.clone(), self.parts.clone(), self.first_run);
        let (mut digest, accounts, report) = (
            self.digest.clone(),
            self.accounts.clone(),
            self.report.clone(),
        );
        let reloaded = tokio::task::spawn_blocking(move || {
            let mut engine = engine.lock().unwrap_or_else(|e| e.into_inner());
            let applied = reload(
                &path,
                &parts,
                first_run,
                &mut engine,
                &mut digest,
                &accounts,
                report.as_ref(),
            );
            (applied, digest)
        })
        .await;
        let applied = match reloaded {
            Ok((applied, digest)) => {
                self.digest = digest;
                applied
            }
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => {
                tracing::error!("the reload did not finish, keeping the running revision: {error}");
                false
            }
        };
        self.events.emit(ServiceEvent::Reloaded { applied });
    }
}

/// Gives back to the system the memory loading freed (files' YAML trees, calendar rows,
/// the old revision's plan): without it the idle service keeps the start's peak, since
/// malloc returns only the top of its heap.
fn release_load_memory() {
    crate::memory::release_and_report("loading the playbooks");
}

/// One pass of the engine at `now`; whether it committed anything to send (due fires
/// wake the dispatcher chunk by chunk through `wake`, as soon as each is committed, so the
/// first posts of a burst leave while later ones are built).
fn tick(
    engine: &mut Engine,
    events: &Events,
    wake: &Notify,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let requested = engine.open_approvals(now)?;
    engine.tick_contests(now, crate::contest::lifecycle::Seeds::Random)?;
    let alerted = match engine.tick_crises(now) {
        Ok(sends) => sends,
        Err(error) => {
            // Nothing of the failed step was committed; it is tried again next tick.
            tracing::error!("crisis plans: {error}");
            0
        }
    };
    let fired = engine.fire_due_in_chunks(now, &mut |runs| {
        wake.notify_one();
        events.emit(ServiceEvent::RunsCreated {
            count: runs.len(),
            runs: runs.to_vec(),
        });
    })?;
    let woke = engine.resume_waiting(now)?;
    let released = engine.release_held(now)?;
    if requested > 0 {
        events.emit(ServiceEvent::ApprovalsRequested { count: requested });
    }
    if alerted > 0 {
        events.emit(ServiceEvent::IncidentChanged { sends: alerted });
    }
    Ok(fired + woke + released + alerted > 0)
}

/// Runs `work`, which blocks on the store, without holding up the other tasks of this
/// worker: a dispatcher woken by the engine in the middle of a burst is queued on the
/// engine's own worker, and would otherwise wait for the whole burst to be built.
pub(super) fn blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(work),
        _ => work(),
    }
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
    async fn read(self, plan: &Plan, store: &StoreHandle, connectors: &Connectors) {
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
    let store = StoreHandle::new(store);
    loop {
        if let Some(current) = dispatcher.plan() {
            let connectors = dispatcher.connectors();
            feed.read(&current, &store, &connectors).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(crate::contest::collect::poll_every()) => {}
            _ = stop.changed() => return,
        }
    }
}

fn log_passed(count: usize) {
    if count > 0 {
        tracing::warn!(
            posts = count,
            "one-off posts recorded as missed: {}",
            crate::playbook::plan::PASSED_BEFORE_LOADED
        );
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
#[derive(Clone)]
struct AccountsReload {
    client: reqwest::Client,
    dispatcher: Arc<Dispatcher>,
    hooks: Arc<HookReceiver>,
}

/// Takes metrics snapshots at start and every `COLLECT_EVERY` until stopped.
async fn collect_loop(
    store: Arc<dyn Store>,
    dispatcher: Arc<Dispatcher>,
    mut stop: watch::Receiver<bool>,
) {
    let store = StoreHandle::new(store);
    loop {
        let connectors = dispatcher.connectors();
        metrics::collect(&store, &connectors, Utc::now()).await;
        tokio::select! {
            _ = tokio::time::sleep(metrics::COLLECT_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Loads the playbooks again. The accounts' connectors are rebuilt too (secrets read again,
/// so a rotated token file is picked up). Invalid playbooks, connectors that cannot be built,
/// unreadable hook secrets or a store failing while the engine takes the new plan keep the
/// whole running revision (engine, dispatcher, hooks); once the engine holds the new plan,
/// the rest follows it, and a later failure (recording passed one-off posts, the hooks'
/// store) is only logged.
fn reload(
    path: &Path,
    parts: &EngineParts,
    first_run: Option<chrono::NaiveDate>,
    engine: &mut Engine,
    digest: &mut String,
    accounts: &AccountsReload,
    report: &dyn Fn(&Validated),
) -> bool {
    let loaded = match load(path, parts, first_run, report) {
        Ok(loaded) if loaded.digest == *digest => {
            tracing::info!("no change to the playbooks");
            return true;
        }
        Ok(loaded) => loaded,
        Err(error) => {
            tracing::error!("{error}: keeping the running revision");
            return false;
        }
    };
    let connectors = match build_connectors(&loaded.plan, &accounts.client) {
        Ok(connectors) => connectors,
        Err(error) => {
            tracing::error!("{error}: keeping the running revision");
            return false;
        }
    };
    let secrets = match hook_secrets(&loaded.plan) {
        Ok(secrets) => secrets,
        Err(errors) => {
            for error in errors {
                tracing::error!("{error}: keeping the running revision");
            }
            return false;
        }
    };
    let now = Utc::now();
    match engine.replace_plan(loaded.plan.clone(), &loaded.digest, now) {
        Ok(()) => {
            match engine.record_passed_one_offs(now) {
                Ok(passed) => log_passed(passed),
                Err(error) => tracing::error!(
                    "cannot record the one-off posts whose time had passed (tried again at the next reload or start): {error}"
                ),
            }
            accounts.dispatcher.set_connectors(Arc::new(connectors));
            if let Err(error) = accounts.hooks.replace_plan(
                loaded.plan.clone(),
                &loaded.digest,
                secrets,
                Utc::now(),
            ) {
                tracing::error!("hooks keep the previous revision: {error}");
            }
            accounts.dispatcher.set_plan(loaded.plan);
            *digest = loaded.digest;
            tracing::info!(items = engine.scheduled_items(), "reloaded the playbooks");
            release_load_memory();
            true
        }
        Err(error) => {
            tracing::error!("reload failed, keeping the running revision: {error}");
            false
        }
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
