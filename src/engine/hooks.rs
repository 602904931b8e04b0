//! Posts fired by inbound events. An event of a hook (`hooks:` on a campaign) becomes one run
//! per post that says `on: { hook: NAME }`, each with the event's JSON body as `event`, all
//! committed in one transaction with the event's receipt (its hook and idempotency key): an
//! event acknowledged once its runs are committed is never lost, and a retry with the same
//! key fires nothing and gets the first answer. The dispatcher sends the runs' posts like any
//! other. `HookReceiver` is what a running service receives events with: one thread builds
//! the runs of the events waiting, another commits what was built together (group commit),
//! each commit starting as soon as the one before it ends.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::core::{Engine, EngineParts};
use super::events::{Events, ServiceEvent};
use super::timeline::{ItemRef, items};
use crate::connectors::secret::{self, Secret, SecretError};
use crate::playbook::plan::{Plan, Trigger};
use crate::store::{Batch, NewHookEvent, RunId, Store, StoreError, StoreResult, to_millis};
use crate::text::StopFlag;

/// What an event fired.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HookFired {
    /// One run per post of the hook, in the order of the playbook.
    pub runs: Vec<RunId>,
    /// The event was received before (same hook and key): these are its first runs, and
    /// nothing new was fired.
    pub replay: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("unknown hook `{hook}`{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    Unknown { hook: String, hint: Option<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The posts each hook fires, by hook name.
pub fn hook_items(plan: &Plan) -> HashMap<String, Vec<ItemRef>> {
    let mut index: HashMap<String, Vec<ItemRef>> = HashMap::new();
    for item in items(plan) {
        if let Trigger::Hook(hook) = &item.post(plan).trigger {
            index.entry(hook.to_string()).or_default().push(item);
        }
    }
    index
}

impl Engine {
    /// Fires the posts `posts` of `hook` (from [`hook_items`]) for one event, `key` telling
    /// a retry from a new event. Each run's fire time is `now`, or a millisecond after the
    /// post's previous one, so that events arriving together each get their run.
    pub fn fire_hook(
        &mut self,
        hook: &str,
        posts: &[ItemRef],
        event: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<HookFired, HookError> {
        self.known_hook(hook)?;
        if let Some(receipt) = self.parts.store.hook_receipt(hook, key)? {
            return Ok(HookFired {
                runs: receipt.runs,
                replay: true,
            });
        }
        let batch = self.hook_batch(hook, posts, event, key, now)?;
        let runs = self.parts.store.commit(&batch)?;
        settle_fired(self.parts.store.as_ref(), &batch, runs)
    }

    fn known_hook(&self, hook: &str) -> Result<(), HookError> {
        if self.plan.hook(hook).is_some() {
            return Ok(());
        }
        Err(HookError::Unknown {
            hook: hook.to_string(),
            hint: crate::diagnostic::did_you_mean(hook, self.plan.hook_names()),
        })
    }

    /// The runs one event fires and its receipt, ready to commit; the posts' cursors move
    /// on in memory (a batch that turns out to be a retry leaves a gap of a millisecond).
    fn hook_batch(
        &mut self,
        hook: &str,
        posts: &[ItemRef],
        event: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Batch, HookError> {
        let mut batch = Batch {
            now: to_millis(now),
            hook_event: Some(NewHookEvent {
                hook: hook.to_string(),
                key: key.to_string(),
            }),
            ..Batch::default()
        };
        let note = format!("fired by hook `{hook}`");
        // Fire times are stored in milliseconds: two events within one must differ there.
        let now_ms = crate::store::from_millis(to_millis(now));
        for item in posts {
            let item_key = item.key(&self.plan);
            let at = match self.cursors.get(&item_key) {
                Some(last) if last >= now_ms => last + TimeDelta::milliseconds(1),
                _ => now_ms,
            };
            let run = self.new_run_for(*item, at, now, Some(note.clone()), Some(event))?;
            batch.runs.push(run);
            self.cursors.insert(&item_key, at);
            batch.cursors.push((item_key, to_millis(at)));
        }
        Ok(batch)
    }
}

/// What a committed event batch fired: its runs, or (when its key was committed first by
/// another request) the first answer.
fn settle_fired(
    store: &dyn Store,
    batch: &Batch,
    runs: Vec<RunId>,
) -> Result<HookFired, HookError> {
    if runs.is_empty() && !batch.runs.is_empty() {
        let event = batch.hook_event.as_ref().expect("an event's batch");
        let receipt = store
            .hook_receipt(&event.hook, &event.key)?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "hook `{}`: an event's receipt is missing",
                    event.hook
                ))
            })?;
        return Ok(HookFired {
            runs: receipt.runs,
            replay: true,
        });
    }
    Ok(HookFired {
        runs,
        replay: false,
    })
}

/// Why hooks cannot receive: a secret that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("hook `{hook}`: {reason}")]
pub struct HookSecretError {
    pub hook: String,
    pub reason: String,
}

/// Every hook's signing key, read from where the playbooks say; every problem, or the keys.
pub fn hook_secrets(plan: &Plan) -> Result<HashMap<String, Secret>, Vec<HookSecretError>> {
    let mut secrets = HashMap::new();
    let mut errors = Vec::new();
    for campaign in &plan.campaigns {
        for hook in &campaign.hooks {
            match secret::resolve(&hook.name, "secret", &hook.secret) {
                Ok(secret) => {
                    secrets.insert(hook.name.clone(), secret);
                }
                Err(error) => errors.push(HookSecretError {
                    hook: hook.name.clone(),
                    reason: secret_reason(&error),
                }),
            }
        }
    }
    if errors.is_empty() {
        Ok(secrets)
    } else {
        Err(errors)
    }
}

/// A secret's problem without the account wording of connectors' errors.
fn secret_reason(error: &SecretError) -> String {
    match error {
        SecretError::EnvMissing { variable, .. } => {
            format!("environment variable `{variable}` is not set")
        }
        SecretError::EnvEmpty { variable, .. } => {
            format!("environment variable `{variable}` is empty")
        }
        SecretError::EnvNotUnicode { variable, .. } => {
            format!("environment variable `{variable}` is not valid UTF-8")
        }
        SecretError::FileUnreadable { path, reason, .. } => {
            format!("cannot read secret file `{}`: {reason}", path.display())
        }
        SecretError::FileEmpty { path, .. } => {
            format!("secret file `{}` is empty", path.display())
        }
        SecretError::NotAReference { .. } => {
            "`secret` must be a reference (`env:NAME` or `file:PATH`)".into()
        }
    }
}

/// What a running service receives hook events with: the plan's hooks, their keys, and an
/// engine of its own on the service's store. Events are fired by two threads: a builder,
/// which takes the events waiting and builds their runs (conditions, texts, rules), and a
/// committer, which commits every group built while it wrote the last one in one
/// transaction (group commit: one write to the disk for many events) and answers each once
/// that commit is done. The next events are built while a commit waits for the disk. A
/// reload gives it the new revision; the service's dispatcher is woken after each commit.
pub struct HookReceiver {
    shared: Arc<Shared>,
    jobs: std::sync::mpsc::Sender<Job>,
}

struct Shared {
    state: Mutex<Receiving>,
    /// The plan and the hooks' keys, read by requests without waiting for the writer.
    current: std::sync::RwLock<Current>,
    parts: EngineParts,
    notify: OnceLock<(Arc<Notify>, Events)>,
    /// The service's stop: a text in the middle of rendering is dropped when it is asked
    /// for, and its event answered as not stored (the sender sends it again).
    interrupt: OnceLock<StopFlag>,
}

/// The plan events are checked against, and the hooks' signing keys: one revision, read
/// by a request at once.
#[derive(Clone)]
pub struct Current {
    pub plan: Arc<Plan>,
    pub secrets: Arc<HashMap<String, Secret>>,
}

struct Receiving {
    engine: Engine,
    posts: HashMap<String, Vec<ItemRef>>,
}

/// One event waiting for the writer, and where its answer goes.
struct Job {
    hook: String,
    event: serde_json::Value,
    key: String,
    now: DateTime<Utc>,
    answer: Box<dyn FnOnce(Result<HookFired, HookError>) + Send>,
}

/// The most events committed in one transaction.
pub const GROUP_MAX: usize = 1024;

impl HookReceiver {
    /// A receiver for `plan` (revision `digest`), its secrets read now. `parts` must be the
    /// ones the plan was validated with (its conditions are theirs).
    pub fn new(
        plan: Arc<Plan>,
        digest: &str,
        parts: EngineParts,
        now: DateTime<Utc>,
    ) -> Result<HookReceiver, HookSetupError> {
        let secrets = hook_secrets(&plan).map_err(HookSetupError::Secrets)?;
        let state = Receiving::new(plan.clone(), digest, &parts, now)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            current: std::sync::RwLock::new(Current {
                plan,
                secrets: Arc::new(secrets),
            }),
            parts,
            notify: OnceLock::new(),
            interrupt: OnceLock::new(),
        });
        let (jobs, waiting) = std::sync::mpsc::channel();
        let (built, to_commit) = std::sync::mpsc::sync_channel(BUILT_WAITING);
        let start = |name: &str, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(work)
                .map_err(|e| StoreError::Backend(format!("cannot start the hook writer: {e}")))
        };
        let committer = shared.clone();
        start(
            "crier-hooks-commit",
            Box::new(move || committer.commit(&to_commit)),
        )?;
        let builder = shared.clone();
        start(
            "crier-hooks",
            Box::new(move || builder.build(&waiting, &built)),
        )?;
        Ok(HookReceiver { shared, jobs })
    }

    /// Renders the events' texts so that `stop` cuts them short (see `Engine::interrupt_on`),
    /// in this revision and every later one.
    pub fn interrupted_by(self, stop: StopFlag) -> Self {
        self.shared.lock().engine.interrupt_on(stop.clone());
        let _ = self.shared.interrupt.set(stop);
        self
    }

    /// Wakes `wake` (the dispatcher) and tells `events` after each commit that fired runs.
    pub fn notifying(self, wake: Arc<Notify>, events: Events) -> Self {
        let _ = self.shared.notify.set((wake, events));
        self
    }

    /// Takes a new revision of the playbooks with the hooks' keys read for it (by
    /// [`hook_secrets`]).
    pub fn replace_plan(
        &self,
        plan: Arc<Plan>,
        digest: &str,
        secrets: HashMap<String, Secret>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut state = Receiving::new(plan.clone(), digest, &self.shared.parts, now)?;
        if let Some(stop) = self.shared.interrupt.get() {
            state.engine.interrupt_on(stop.clone());
        }
        let mut current = self.shared.lock();
        // Runs built and not yet committed moved the old engine's cursors past the stored
        // ones: the new engine goes on from there, or an event fired now could take a fire
        // time a waiting one holds, and its run would be dropped as recorded before.
        state.engine.cursors.advance_to(&current.engine.cursors);
        *current = state;
        *self
            .shared
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Current {
            plan,
            secrets: Arc::new(secrets),
        };
        Ok(())
    }

    /// The revision events are checked against now, and its hooks' keys.
    pub fn current(&self) -> Current {
        self.shared
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The plan events are fired against.
    pub fn plan(&self) -> Arc<Plan> {
        self.current().plan
    }

    /// Fires `hook`'s posts for one event (see [`Engine::fire_hook`]); returns once its runs
    /// are committed. Blocks until then: call it off the async workers, or use [`Self::submit`].
    pub fn fire(
        &self,
        hook: &str,
        event: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<HookFired, HookError> {
        let (sender, answer) = std::sync::mpsc::channel();
        self.queue(
            hook,
            event.clone(),
            key,
            now,
            Box::new(move |fired| {
                let _ = sender.send(fired);
            }),
        )?;
        answer.recv().map_err(|_| stopped())?
    }

    /// The same for async code: the answer comes once the event's runs are committed.
    pub async fn submit(
        &self,
        hook: &str,
        event: serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<HookFired, HookError> {
        let (sender, answer) = tokio::sync::oneshot::channel();
        self.queue(
            hook,
            event,
            key,
            now,
            Box::new(move |fired| {
                let _ = sender.send(fired);
            }),
        )?;
        answer.await.map_err(|_| stopped())?
    }

    fn queue(
        &self,
        hook: &str,
        event: serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
        answer: Box<dyn FnOnce(Result<HookFired, HookError>) + Send>,
    ) -> Result<(), HookError> {
        self.jobs
            .send(Job {
                hook: hook.to_string(),
                event,
                key: key.to_string(),
                now,
                answer,
            })
            .map_err(|_| stopped())
    }
}

fn stopped() -> HookError {
    HookError::Store(StoreError::Backend(
        "the hook writer has stopped; the event was not stored".into(),
    ))
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Receiving> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The builder: takes the events waiting (at most `GROUP_MAX`), builds their runs under
    /// the engine's lock, and hands them to the committer; until the receiver is dropped.
    /// While the committer waits for the disk, the next events are built.
    fn build(&self, waiting: &std::sync::mpsc::Receiver<Job>, built: &SyncSender<Built>) {
        while let Ok(first) = waiting.recv() {
            let mut group = vec![first];
            while group.len() < GROUP_MAX {
                match waiting.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            let (ready, refused) = self.build_group(group);
            for (job, error) in refused {
                (job.answer)(Err(error));
            }
            if !ready.jobs.is_empty() && built.send(ready).is_err() {
                return;
            }
        }
    }

    fn build_group(&self, group: Vec<Job>) -> (Built, Vec<(Job, HookError)>) {
        let mut ready = Built {
            jobs: Vec::with_capacity(group.len()),
            batches: Vec::with_capacity(group.len()),
        };
        let mut refused = Vec::new();
        let mut state = self.lock();
        let Receiving { engine, posts, .. } = &mut *state;
        for job in group {
            let built = engine.known_hook(&job.hook).and_then(|()| {
                let hook_posts = posts.get(&job.hook).map(Vec::as_slice).unwrap_or_default();
                engine.hook_batch(&job.hook, hook_posts, &job.event, &job.key, job.now)
            });
            match built {
                Ok(batch) => {
                    ready.jobs.push(job);
                    ready.batches.push(batch);
                }
                Err(error) => refused.push((job, error)),
            }
        }
        (ready, refused)
    }

    /// The committer: commits every group built while the last commit reached the disk in
    /// one transaction (group commit: the batch grows with the disk's latency, and a commit
    /// starts as soon as the one before it ends), wakes the dispatcher, answers each event.
    fn commit(&self, built: &Receiver<Built>) {
        while let Ok(mut group) = built.recv() {
            while group.jobs.len() < GROUP_MAX {
                match built.try_recv() {
                    Ok(more) => {
                        group.jobs.extend(more.jobs);
                        group.batches.extend(more.batches);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
    }

    fn commit_group(&self, group: Built) {
        let store = self.parts.store.clone();
        let Built { jobs, batches } = group;
        let mut answered: Vec<(Job, Result<HookFired, HookError>)> = Vec::with_capacity(jobs.len());
        match store.commit_all(&batches) {
            Ok(committed) => {
                for ((job, batch), runs) in jobs.into_iter().zip(&batches).zip(committed) {
                    let fired = settle_fired(store.as_ref(), batch, runs);
                    answered.push((job, fired));
                }
            }
            // One batch the store refuses does not refuse the others: each alone.
            Err(_) => {
                for (job, batch) in jobs.into_iter().zip(&batches) {
                    let fired = store
                        .commit(batch)
                        .map_err(HookError::from)
                        .and_then(|runs| settle_fired(store.as_ref(), batch, runs));
                    answered.push((job, fired));
                }
            }
        }
        let new_runs: Vec<RunId> = answered
            .iter()
            .filter_map(|(_, fired)| fired.as_ref().ok())
            .filter(|fired| !fired.replay)
            .flat_map(|fired| fired.runs.iter().copied())
            .collect();
        if !new_runs.is_empty()
            && let Some((wake, events)) = self.notify.get()
        {
            wake.notify_one();
            events.emit(ServiceEvent::RunsCreated {
                count: new_runs.len(),
                runs: new_runs,
            });
        }
        for (job, fired) in answered {
            (job.answer)(fired);
        }
    }
}

/// Events built into their runs, in the order they arrived, waiting for the committer.
struct Built {
    jobs: Vec<Job>,
    batches: Vec<Batch>,
}

/// Groups built and not yet committed: a few, so that the builder, when the disk is slow,
/// waits rather than running far ahead of what is committed.
const BUILT_WAITING: usize = 4;

impl Receiving {
    fn new(
        plan: Arc<Plan>,
        digest: &str,
        parts: &EngineParts,
        now: DateTime<Utc>,
    ) -> StoreResult<Receiving> {
        let posts = hook_items(&plan);
        let engine = Engine::new(plan, digest, parts.clone(), now)?;
        Ok(Receiving { engine, posts })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookSetupError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Secrets(Vec<HookSecretError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}
