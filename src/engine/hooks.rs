//! Posts fired by inbound events. An event of a hook (`hooks:` on a campaign) becomes one run
//! per post that says `on: { hook: NAME }`, each with the event's JSON body as `event`, all
//! committed in one transaction with the event's receipt (its hook and idempotency key): an
//! event acknowledged once its runs are committed is never lost, and a retry with the same
//! key fires nothing and gets the first answer. The dispatcher sends the runs' posts like any
//! other. `HookReceiver` is what a running service receives events with.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

use super::core::{Engine, EngineParts};
use super::events::{Events, ServiceEvent};
use super::timeline::{ItemRef, items};
use crate::connectors::secret::{self, Secret, SecretError};
use crate::playbook::plan::{Plan, Trigger};
use crate::store::{Batch, NewHookEvent, RunId, StoreError, StoreResult, to_millis};

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
            index.entry(hook.clone()).or_default().push(item);
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
        if self.plan.hook(hook).is_none() {
            return Err(HookError::Unknown {
                hook: hook.to_string(),
                hint: crate::diagnostic::did_you_mean(hook, self.plan.hook_names()),
            });
        }
        if let Some(receipt) = self.parts.store.hook_receipt(hook, key)? {
            return Ok(HookFired {
                runs: receipt.runs,
                replay: true,
            });
        }
        let mut batch = Batch {
            now: to_millis(now),
            hook_event: Some(NewHookEvent {
                hook: hook.to_string(),
                key: key.to_string(),
            }),
            ..Batch::default()
        };
        let note = format!("fired by hook `{hook}`");
        for item in posts {
            let item_key = item.key(&self.plan);
            let at = match self.cursors.get(&item_key) {
                Some(last) if *last >= now => *last + TimeDelta::milliseconds(1),
                _ => now,
            };
            let run = self.new_run_for(*item, at, now, Some(note.clone()), Some(event))?;
            batch.runs.push(run);
            self.cursors.insert(item_key.clone(), at);
            batch.cursors.push((item_key, to_millis(at)));
        }
        let fired = batch.runs.len();
        let runs = self.parts.store.commit(&batch)?;
        if runs.is_empty() && fired > 0 {
            // Another request with the same key committed first.
            let receipt = self.parts.store.hook_receipt(hook, key)?.ok_or_else(|| {
                StoreError::Corrupt(format!("hook `{hook}`: an event's receipt is missing"))
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
/// engine of its own on the service's store (firing serialised, one event at a time). A
/// reload gives it the new revision; the service's dispatcher is woken after each commit.
pub struct HookReceiver {
    state: Mutex<Receiving>,
    parts: EngineParts,
    wake: Option<Arc<Notify>>,
    events: Option<Events>,
}

struct Receiving {
    engine: Engine,
    posts: HashMap<String, Vec<ItemRef>>,
    secrets: HashMap<String, Secret>,
}

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
        let state = Receiving::new(plan, digest, &parts, secrets, now)?;
        Ok(HookReceiver {
            state: Mutex::new(state),
            parts,
            wake: None,
            events: None,
        })
    }

    /// Wakes `wake` (the dispatcher) and tells `events` after each event that fired runs.
    pub fn notifying(mut self, wake: Arc<Notify>, events: Events) -> Self {
        self.wake = Some(wake);
        self.events = Some(events);
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
        let state = Receiving::new(plan, digest, &self.parts, secrets, now)?;
        *self.lock() = state;
        Ok(())
    }

    /// The plan events are fired against.
    pub fn plan(&self) -> Arc<Plan> {
        self.lock().engine.plan().clone()
    }

    /// The signing key of `hook`, if the plan has that hook.
    pub fn secret(&self, hook: &str) -> Option<Secret> {
        self.lock().secrets.get(hook).cloned()
    }

    /// Fires `hook`'s posts for one event (see [`Engine::fire_hook`]); returns once its runs
    /// are committed. Blocks on the store: call it off the async workers.
    pub fn fire(
        &self,
        hook: &str,
        event: &serde_json::Value,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<HookFired, HookError> {
        let fired = {
            let mut state = self.lock();
            let Receiving { engine, posts, .. } = &mut *state;
            let hook_posts = posts.get(hook).map(Vec::as_slice).unwrap_or_default();
            engine.fire_hook(hook, hook_posts, event, key, now)?
        };
        if !fired.replay && !fired.runs.is_empty() {
            if let Some(wake) = &self.wake {
                wake.notify_one();
            }
            if let Some(events) = &self.events {
                events.emit(ServiceEvent::RunsCreated {
                    count: fired.runs.len(),
                    runs: fired.runs.clone(),
                });
            }
        }
        Ok(fired)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Receiving> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Receiving {
    fn new(
        plan: Arc<Plan>,
        digest: &str,
        parts: &EngineParts,
        secrets: HashMap<String, Secret>,
        now: DateTime<Utc>,
    ) -> StoreResult<Receiving> {
        let posts = hook_items(&plan);
        let engine = Engine::new(plan, digest, parts.clone(), now)?;
        Ok(Receiving {
            engine,
            posts,
            secrets,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookSetupError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Secrets(Vec<HookSecretError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}
