//! The dispatcher: claims due outbox rows, sends them through their account's connector,
//! and records each result, retrying by error class. A row whose earlier attempt has an
//! unknown outcome is looked up on the network before it is sent again.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use tokio::task::JoinSet;

use super::events::{Events, ServiceEvent};
use super::gate;
use crate::connectors::registry::Connectors;
use crate::connectors::{Capabilities, Connector, Lookup, SendError};
use crate::playbook::plan::Plan;
use crate::store::{Millis, OutboxOutcome, OutboxRow, RunId, Store, StoreResult, to_millis};

/// How failed sends are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts before a transient failure becomes permanent.
    pub max_attempts: u32,
    /// The first backoff; each further attempt doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Backoff is scattered by up to this fraction either way, so many failed sends do not
    /// come back at the same instant.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let base = self
            .base_backoff
            .saturating_mul(1 << exponent)
            .min(self.max_backoff);
        let scatter = rand::thread_rng().gen_range(-self.jitter..=self.jitter);
        base.mul_f64(1.0 + scatter)
    }

    /// What to do after a failed attempt (the `attempts`-th).
    pub fn outcome(&self, error: &SendError, attempts: u32, now: DateTime<Utc>) -> OutboxOutcome {
        let exhausted = attempts >= self.max_attempts;
        let at =
            |wait: Duration| to_millis(now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX));
        match error {
            SendError::Permanent { reason } => OutboxOutcome::Failed {
                error: reason.clone(),
            },
            _ if exhausted => OutboxOutcome::Failed {
                error: format!("gave up after {attempts} attempts; the last: {error}"),
            },
            // Never earlier than the network asked.
            SendError::RetryAfter { after, .. } => OutboxOutcome::Retry {
                at: at(*after),
                error: error.to_string(),
                check_first: false,
            },
            SendError::Transient { .. } => OutboxOutcome::Retry {
                at: at(self.backoff(attempts)),
                error: error.to_string(),
                check_first: false,
            },
            SendError::OutcomeUnknown { .. } => OutboxOutcome::Retry {
                at: at(self.backoff(attempts)),
                error: error.to_string(),
                check_first: true,
            },
        }
    }
}

/// Sends due rows in batches; one batch's sends go out concurrently.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    /// Replaced when a reload changes the accounts; each batch sends with one set.
    connectors: RwLock<Arc<Connectors>>,
    policy: RetryPolicy,
    batch: usize,
    /// The plan whose pauses' scopes and limits every send passes (`gate`); none in tests
    /// that drive the dispatcher alone.
    plan: RwLock<Option<Arc<Plan>>>,
    /// Where a service's subscribers hear of each recorded send.
    events: Option<Events>,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, connectors: Arc<Connectors>, policy: RetryPolicy) -> Self {
        Dispatcher {
            store,
            connectors: RwLock::new(connectors),
            policy,
            batch: 256,
            plan: RwLock::new(None),
            events: None,
        }
    }

    /// Tells `events` of every send's recorded outcome (sent, failed, retried).
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = Some(events);
        self
    }

    /// The plan sends are checked against.
    pub fn plan(&self) -> Option<Arc<Plan>> {
        self.plan.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Checks every send against `plan`'s pauses and limits from the next batch on.
    pub fn set_plan(&self, plan: Arc<Plan>) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Some(plan);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Sends with `connectors` from the next batch on (a reload changed the accounts).
    pub fn set_connectors(&self, connectors: Arc<Connectors>) {
        *self.connectors.write().unwrap_or_else(|e| e.into_inner()) = connectors;
    }

    /// The connectors sends go through now.
    pub fn connectors(&self) -> Arc<Connectors> {
        self.connectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// When the next pending row is due.
    pub fn next_due(&self) -> StoreResult<Option<Millis>> {
        self.store.next_outbox_due()
    }

    /// Sends every row due at `now()` (of one run, if given) and records the results;
    /// returns how many attempts were made.
    pub async fn dispatch_due(
        &self,
        now: impl Fn() -> DateTime<Utc>,
        run: Option<RunId>,
    ) -> StoreResult<usize> {
        let mut attempts = 0;
        loop {
            let rows = self.store.claim_outbox(to_millis(now()), self.batch, run)?;
            if rows.is_empty() {
                return Ok(attempts);
            }
            let plan = self.plan.read().unwrap_or_else(|e| e.into_inner()).clone();
            let rows = match plan {
                Some(plan) => {
                    let gate::Checked { go, stopped } =
                        gate::check(&plan, self.store.as_ref(), rows, now())?;
                    for (id, outcome) in &stopped {
                        tracing::info!(
                            send = id,
                            "{}",
                            match outcome {
                                OutboxOutcome::Held { note }
                                | OutboxOutcome::Deferred { note, .. } => note.as_str(),
                                _ => "",
                            }
                        );
                    }
                    self.store.finish_outbox(&stopped, to_millis(now()))?;
                    go
                }
                None => rows,
            };
            attempts += rows.len();
            let connectors = self.connectors();
            let mut sends = JoinSet::new();
            for row in rows {
                let connector = connectors.get(&row.account);
                sends.spawn(async move {
                    let result = match connector {
                        Some(connector) => send(connector.as_ref(), &row).await,
                        None => Err(SendError::Permanent {
                            reason: format!("no connector for account `{}`", row.account),
                        }),
                    };
                    (row, result)
                });
            }
            let blind = |account: &str| {
                connectors
                    .get(account)
                    .is_some_and(|c| cannot_confirm(c.capabilities()))
            };
            let mut outcomes = Vec::new();
            let mut told = Vec::new();
            while let Some(joined) = sends.join_next().await {
                let Ok((row, result)) = joined else { continue };
                let outcome = match result {
                    Ok(remote_id) => {
                        tracing::info!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, remote_id = %remote_id, "sent");
                        OutboxOutcome::Sent { remote_id }
                    }
                    // Resending could post twice, and the network cannot say whether the
                    // first went out: record it as unconfirmed and never resend.
                    Err(SendError::OutcomeUnknown { reason }) if blind(&row.account) => {
                        tracing::warn!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, "{reason}; not resent");
                        OutboxOutcome::Failed {
                            error: unconfirmed(&reason),
                        }
                    }
                    Err(error) => {
                        let outcome = self.policy.outcome(&error, row.attempts, now());
                        tracing::warn!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, attempt = row.attempts, "{error}");
                        outcome
                    }
                };
                if self.events.is_some() {
                    told.extend(ServiceEvent::of_send(&row, &outcome));
                }
                outcomes.push((row.id, outcome));
            }
            // A send whose task panicked stays `sending`, to be checked after a restart.
            self.store.finish_outbox(&outcomes, to_millis(now()))?;
            if let Some(events) = &self.events {
                told.drain(..).for_each(|event| events.emit(event));
            }
        }
    }
}

/// A network that neither deduplicates by key nor answers lookups (Telegram, Discord,
/// Slack, email): after an outcome-unknown failure nothing can make a resend safe.
fn cannot_confirm(capabilities: Capabilities) -> bool {
    !capabilities.lookup && !capabilities.idempotency_key
}

fn unconfirmed(reason: &str) -> String {
    format!(
        "unconfirmed: {reason}; the network cannot be asked whether the post went out, so crier \
         did not resend it (it could appear twice). Check the channel; `crier trigger` sends it again"
    )
}

/// One attempt: look the post up first when an earlier attempt may have gone through.
async fn send(connector: &dyn Connector, row: &OutboxRow) -> Result<String, SendError> {
    if row.check_first {
        match connector.lookup(&row.post).await? {
            Lookup::Found(delivered) => return Ok(delivered.remote_id),
            Lookup::NotFound => {}
            Lookup::Unsupported if cannot_confirm(connector.capabilities()) => {
                return Err(SendError::Permanent {
                    reason: unconfirmed("an earlier attempt may have gone out"),
                });
            }
            Lookup::Unsupported => {}
        }
    }
    let delivered = match &row.post.direct_to {
        Some(recipient) => connector.direct_message(recipient, &row.post).await,
        None => connector.post(&row.post).await,
    };
    delivered.map(|delivered| delivered.remote_id)
}
