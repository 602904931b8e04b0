//! The dispatcher: claims due outbox rows, sends them through their account's connector,
//! and records each result, retrying by error class. A row whose earlier attempt has an
//! unknown outcome is looked up on the network before it is sent again.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::events::{Events, ServiceEvent};
use super::gate;
use super::send_handles::KeptOnRow;
use super::service::blocking;
use crate::connectors::registry::Connectors;
use crate::connectors::resume::Resume;
use crate::connectors::{Capabilities, Connector, Lookup, SendError};
use crate::network::Network;
use crate::playbook::plan::Plan;
use crate::store::{
    Claim, Millis, OutboxId, OutboxOutcome, OutboxRow, Recovered, RunId, Store, StoreResult,
    from_millis, to_millis,
};

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
                error: format!(
                    "gave up after {attempts} attempts; the last: {}",
                    error.reason()
                ),
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

/// How long a claim holds without renewal. A dispatcher renews its claims every third of
/// this; a claim whose dispatcher stopped or stalled is taken back once it passes
/// (`Store::recover_in_doubt`), so after a crash the sends claimed but never started go
/// out at most this long after a restart.
pub const LEASE: Duration = Duration::from_secs(15);
/// How long a send keeps waiting while the network keeps answering "rate limited, wait",
/// counted from its first attempt; past it, the send fails saying so.
pub const RATE_LIMIT_PATIENCE: Duration = Duration::from_secs(24 * 3600);

fn rate_limit_patience() -> TimeDelta {
    TimeDelta::from_std(RATE_LIMIT_PATIENCE).expect("fits")
}

/// Requests in flight to one account at once, lookups included: a restart with many sends
/// in doubt never asks a small server a hundred questions at the same moment.
pub const PER_ACCOUNT: usize = 4;
/// The same for a `webhook` account: a team's own receiver (a CRM, an internal tool) has
/// none of a social network's rate limits and takes bursts; more requests in flight let a
/// burst's marks and results be committed many at a time.
pub const PER_WEBHOOK: usize = 64;

/// Requests in flight to one account of `network` at once.
pub fn in_flight_limit(network: Network) -> usize {
    match network {
        Network::Webhook => PER_WEBHOOK,
        _ => PER_ACCOUNT,
    }
}

/// Claims due rows, sends each through its account's connector, and records each result as
/// soon as its own request ends. It keeps claiming while others are in flight: a slow or
/// hanging receiver holds up only its own account's sends.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    /// Replaced when a reload changes the accounts; each claim sends with one set.
    connectors: RwLock<Arc<Connectors>>,
    policy: RetryPolicy,
    batch: usize,
    /// The plan whose pauses' scopes and limits every send passes (`gate`); none in tests
    /// that drive the dispatcher alone.
    plan: RwLock<Option<Arc<Plan>>>,
    /// Whose claims these are: only this dispatcher may mark or finish them.
    owner: String,
    /// Where a service's subscribers hear of each recorded send.
    events: Option<Events>,
}

/// How the claims of `crier run`'s dispatcher are named: on an SQLite store, which one
/// service at a time may use (its service lock), a starting service knows every claim so
/// named is a stopped one's and takes it back at once (`Store::recover_claims_of`).
pub const SERVICE_CLAIMS: &str = "run:";

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, connectors: Arc<Connectors>, policy: RetryPolicy) -> Self {
        Self::owned_by("", store, connectors, policy)
    }

    /// `crier run`'s dispatcher: its claims are named `SERVICE_CLAIMS…`.
    pub fn for_service(
        store: Arc<dyn Store>,
        connectors: Arc<Connectors>,
        policy: RetryPolicy,
    ) -> Self {
        Self::owned_by(SERVICE_CLAIMS, store, connectors, policy)
    }

    fn owned_by(
        prefix: &str,
        store: Arc<dyn Store>,
        connectors: Arc<Connectors>,
        policy: RetryPolicy,
    ) -> Self {
        Dispatcher {
            store,
            connectors: RwLock::new(connectors),
            policy,
            batch: 256,
            plan: RwLock::new(None),
            owner: format!(
                "{prefix}{}-{:016x}",
                std::process::id(),
                rand::thread_rng().r#gen::<u64>()
            ),
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

    /// Checks every send against `plan`'s pauses and limits from the next claim on.
    pub fn set_plan(&self, plan: Arc<Plan>) {
        *self.plan.write().unwrap_or_else(|e| e.into_inner()) = Some(plan);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Sends with `connectors` from the next claim on (a reload changed the accounts).
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
    /// returns when none is due and none is in flight, with how many attempts were made.
    pub async fn dispatch_due(
        &self,
        now: impl Fn() -> DateTime<Utc> + Sync,
        run: Option<RunId>,
    ) -> StoreResult<usize> {
        // Never stopped: it returns once nothing is due or in flight.
        let mut flight = Flight::new(watch::channel(false).1);
        let mut attempts = 0;
        let mut claim = true;
        loop {
            if claim {
                attempts += self.claim(&mut flight, &now, run)?;
            }
            if flight.is_empty() {
                return Ok(attempts);
            }
            claim = self.next_event(&mut flight, &now).await?;
        }
    }

    /// The service's dispatcher: sends what is due as it comes due (or when `wake` says new
    /// sends were committed) until `stop`, then lets the sends in flight finish. A store
    /// error is logged and retried after a pause; it never ends the loop.
    pub async fn serve(&self, wake: &Notify, stop: &mut watch::Receiver<bool>) {
        let now = Utc::now;
        let mut flight = Flight::new(stop.clone());
        let mut claim = true;
        let mut renew = tokio::time::interval(LEASE / 3);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut backoff = Backoff::default();
        loop {
            let stopping = *stop.borrow();
            if stopping && flight.is_empty() {
                if flight.sent > 0 {
                    tracing::info!(sent = flight.sent, "posts sent since the last report");
                }
                return;
            }
            let mut wait = MAX_IDLE;
            if claim && !stopping {
                match blocking(|| {
                    self.claim(&mut flight, &now, None)
                        .and_then(|_| self.next_due())
                }) {
                    Ok(due) => {
                        claim = false;
                        backoff.reset();
                        if let Some(due) = due {
                            wait = (from_millis(due) - now()).to_std().unwrap_or_default();
                        }
                        // A claim that took fewer rows than it could left due only the rows
                        // of accounts with no room: claiming again at once would find none
                        // (and scan them all). A finish that makes room claims again.
                        if wait.is_zero() && !flight.more_due {
                            wait = MAX_IDLE;
                        }
                    }
                    Err(error) => {
                        wait = backoff.failed(&error);
                    }
                }
            }
            let wait = wait.min(MAX_IDLE);
            // Nothing in flight and nothing due for a while: if sends went out since the
            // last release, the burst is over and its memory can go back to the system.
            let idle = flight.is_empty() && wait >= MAX_IDLE && flight.unreleased > 0;
            tokio::select! {
                event = self.next_event(&mut flight, &now), if !flight.is_empty() => match event {
                    Ok(finished) => {
                        let room = flight.take_room_made() || flight.is_empty();
                        claim |= finished && room;
                    }
                    Err(error) => {
                        tracing::error!("recording a send failed: {error}; it is taken back when its claim's lease passes");
                        claim = true;
                    }
                },
                _ = tokio::time::sleep(wait) => {
                    claim = true;
                    if idle {
                        flight.unreleased = 0;
                        self.release_memory();
                    }
                }
                _ = wake.notified() => claim = true,
                _ = renew.tick() => {
                    // Its store calls wait for the engine's commits: off the async worker.
                    blocking(|| self.renew(&flight, now()));
                    if flight.sent > 0 {
                        tracing::info!(sent = flight.sent, in_flight = flight.claimed.len(), "posts sent since the last report");
                        flight.sent = 0;
                    }
                }
                _ = stop.changed(), if !stopping => {}
            }
        }
    }

    /// Gives the memory a burst freed back to the system, once its sends are recorded:
    /// the lateness samples recorded since the last scrape go into the histogram's buckets,
    /// the store lets go of its cache, and the process hands its free pages back (where it
    /// installed a way to, `crate::memory`), saying how much at debug level.
    fn release_memory(&self) {
        blocking(|| {
            crate::telemetry::upkeep();
            self.store.release_memory();
            crate::memory::release_and_report("a burst");
        });
    }

    /// Extends the lease of this dispatcher's claims, and takes back the claims of
    /// dispatchers whose lease passed (they stopped or stalled).
    fn renew(&self, flight: &Flight, now: DateTime<Utc>) {
        let lease_until = to_millis(now + lease());
        if let Err(error) = self.store.renew_claims(
            &self.owner,
            &flight.claimed_ids(),
            lease_until,
            to_millis(now),
        ) {
            tracing::error!("renewing the claims on sends in flight failed: {error}");
        }
        match self.store.recover_in_doubt(to_millis(now)) {
            Ok(recovered) => log_recovered(recovered),
            Err(error) => tracing::error!("taking back sends of expired claims failed: {error}"),
        }
    }

    /// Claims what is due from accounts with room for more requests, passes each through
    /// the gate, and starts a task per send. Returns how many tasks started.
    fn claim(
        &self,
        flight: &mut Flight,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
        run: Option<RunId>,
    ) -> StoreResult<usize> {
        let at = now();
        let busy = flight.busy_accounts();
        let rows = self.store.claim_outbox(
            &Claim {
                owner: &self.owner,
                now: to_millis(at),
                lease_until: to_millis(at + lease()),
                run,
                skip_accounts: &busy,
            },
            self.batch,
        )?;
        flight.more_due = rows.len() == self.batch;
        if rows.is_empty() {
            return Ok(0);
        }
        let rows = match self.plan() {
            Some(plan) => {
                let accounts: Vec<(OutboxId, String)> = rows
                    .iter()
                    .map(|row| (row.id, row.account.clone()))
                    .collect();
                let gate::Checked { go, stopped } =
                    gate::check(&plan, self.store.as_ref(), rows, at)?;
                for (id, outcome) in &stopped {
                    tracing::info!(
                        send = id,
                        "{}",
                        match outcome {
                            OutboxOutcome::Held { note } | OutboxOutcome::Deferred { note, .. } =>
                                note.as_str(),
                            _ => "",
                        }
                    );
                }
                if self.finish(&stopped, to_millis(at))? {
                    for (id, outcome) in &stopped {
                        if let Some((_, account)) = accounts.iter().find(|(row, _)| row == id) {
                            self.count(account, telemetry_outcome(outcome));
                        }
                    }
                }
                go
            }
            None => rows,
        };
        let started = rows.len();
        let connectors = self.connectors();
        let owner: Arc<str> = Arc::from(self.owner.as_str());
        for row in rows {
            let connector = connectors.get(&row.account);
            let handle = KeptOnRow::new(&self.store, owner.clone(), row.id);
            flight.start(row, connector, handle);
        }
        Ok(started)
    }

    /// Waits for the next thing send tasks need or did, then records all that is waiting
    /// in one commit (group commit): the results of every request that has ended, and the
    /// marks of every request about to leave. A result is still committed after its
    /// response and a mark before its request; what piles up while one commit reaches the
    /// disk goes into the next, so a batch grows with the disk's latency. Returns whether a
    /// send finished (room for more claims).
    async fn next_event(
        &self,
        flight: &mut Flight,
        now: &(dyn Fn() -> DateTime<Utc> + Sync),
    ) -> StoreResult<bool> {
        let mut waiting: Vec<MarkRequest> = Vec::new();
        let mut joined = None;
        tokio::select! {
            Some(first) = flight.marks.recv() => waiting.push(first),
            Some(first) = flight.sends.join_next() => joined = Some(first),
        }
        while let Ok(next) = flight.marks.try_recv() {
            waiting.push(next);
        }
        let mut finished = false;
        let mut outcomes = Vec::new();
        let mut recorded = Vec::new();
        while let Some(result) = joined.take().or_else(|| flight.sends.try_join_next()) {
            finished = true;
            let Ok((row, attempt)) = result else {
                // A send task panicked: its row stays claimed, and is taken back (in
                // doubt) when the lease passes.
                flight.forget_panicked();
                continue;
            };
            flight.finished(&row);
            let Attempt::Made(result) = attempt else {
                continue;
            };
            let outcome = self.outcome(&row, result, now());
            // Built only for a subscriber: in a burst nobody watches, one event per send
            // would be four strings copied for nothing.
            let event = self
                .events
                .as_ref()
                .filter(|events| events.listened())
                .and_then(|_| ServiceEvent::of_send(&row, &outcome));
            recorded.push((row.id, row.account, telemetry_outcome(&outcome), event));
            if matches!(outcome, OutboxOutcome::Sent { .. }) {
                flight.sent += 1;
            }
            flight.unreleased += 1;
            outcomes.push((row.id, outcome));
        }
        let ids: Vec<OutboxId> = waiting.iter().map(|(id, _)| *id).collect();
        let at = to_millis(now());
        // On an error none of the waiting requests leaves (their tasks end and their claims
        // are taken back later), and the results stay unrecorded until the lease passes.
        let (taken_back, marked) =
            blocking(|| self.store.finish_and_mark(&self.owner, &outcomes, &ids, at))?;
        warn_taken_back(&taken_back);
        // The marked ids come back in the order they were asked for.
        let mut marked = marked.into_iter().peekable();
        for (id, reply) in waiting {
            let yes = marked.next_if_eq(&id).is_some();
            let _ = reply.send(yes);
        }
        for (id, account, counted, event) in recorded {
            if taken_back.contains(&id) {
                continue;
            }
            self.count(&account, counted);
            if let (Some(events), Some(event)) = (&self.events, event) {
                events.emit(event);
            }
        }
        Ok(finished)
    }

    /// What one attempt's result means for its send.
    pub(super) fn outcome(
        &self,
        row: &OutboxRow,
        result: Result<String, SendError>,
        now: DateTime<Utc>,
    ) -> OutboxOutcome {
        let blind = self
            .connectors()
            .get(&row.account)
            .is_some_and(|c| cannot_confirm(c.capabilities()));
        match result {
            Ok(remote_id) => {
                // One line per send only at debug level: in a burst it would cost more than
                // the send; the service logs how many went out instead (`Flight::sent`).
                tracing::debug!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, remote_id = %remote_id, "sent");
                OutboxOutcome::Sent { remote_id }
            }
            // Resending could post twice, and the network cannot say whether the first
            // went out: record it as unconfirmed and never resend.
            Err(SendError::OutcomeUnknown { reason }) if blind => {
                tracing::warn!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, "{reason}; not resent");
                OutboxOutcome::Failed {
                    error: unconfirmed(&reason),
                }
            }
            // A wait the network asked for is not a failure: it does not use up the retry
            // budget, for as long as the network keeps asking within `RATE_LIMIT_PATIENCE`.
            Err(SendError::RetryAfter { after, reason }) => {
                let until = now + TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX);
                let started = row.first_attempt_at.map_or(now, from_millis);
                // A post's own `max_late` bounds how long it may wait; others wait a day.
                let (patience, whose) = match self.plan().and_then(|plan| max_late(&plan, row)) {
                    Some(max_late) => (max_late, "its `max_late`"),
                    None => (rate_limit_patience(), "a day"),
                };
                if until - started > patience {
                    return OutboxOutcome::Failed {
                        error: format!(
                            "the network kept asking to wait for more than {} ({whose}); the last: {reason}",
                            crate::schedule::format_duration(patience)
                        ),
                    };
                }
                let tz = self.plan().map_or(chrono_tz::UTC, |plan| plan.timezone);
                let note = format!(
                    "rate limited by the network until {} ({reason})",
                    until.with_timezone(&tz).format("%H:%M:%S")
                );
                tracing::info!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, "{note}");
                OutboxOutcome::Deferred {
                    at: to_millis(until),
                    note,
                }
            }
            Err(error) => {
                tracing::warn!(account = %row.account, playbook = %row.post.playbook, item = %row.post.item, attempt = row.attempts, "{error}");
                self.policy.outcome(&error, row.attempts, now)
            }
        }
    }

    /// Counts a send's recorded outcome in the metrics.
    fn count(&self, account: &str, outcome: &'static str) {
        let network = self
            .connectors()
            .get(account)
            .map_or("unknown", |c| c.network().name());
        crate::telemetry::send(network, account, outcome);
    }

    /// Records outcomes of this dispatcher's claims; one taken back meanwhile is left to
    /// whoever holds it now. Returns whether every outcome was recorded.
    fn finish(&self, outcomes: &[(OutboxId, OutboxOutcome)], now: Millis) -> StoreResult<bool> {
        Ok(self.finish_all(outcomes, now)?.is_empty())
    }

    /// `finish`, returning the sends whose result was not recorded (taken back).
    fn finish_all(
        &self,
        outcomes: &[(OutboxId, OutboxOutcome)],
        now: Millis,
    ) -> StoreResult<Vec<OutboxId>> {
        let taken_back = self.store.finish_outbox(&self.owner, outcomes, now)?;
        warn_taken_back(&taken_back);
        Ok(taken_back)
    }
}

fn warn_taken_back(taken_back: &[OutboxId]) {
    for id in taken_back {
        tracing::warn!(
            send = id,
            "this send's claim passed its lease and was taken back; its result here is not recorded"
        );
    }
}

/// An outcome as the metrics name it.
fn telemetry_outcome(outcome: &OutboxOutcome) -> &'static str {
    match outcome {
        OutboxOutcome::Sent { .. } => "sent",
        OutboxOutcome::Failed { .. } => "failed",
        OutboxOutcome::Retry { .. } => "retry",
        OutboxOutcome::Held { .. } => "held",
        OutboxOutcome::Deferred { .. } => "deferred",
    }
}

/// The longest the service's dispatcher waits without looking at the store again (a send
/// committed by another process is noticed within this).
const MAX_IDLE: Duration = Duration::from_secs(1);

fn lease() -> TimeDelta {
    TimeDelta::from_std(LEASE).expect("the lease fits")
}

/// Says how many sends were taken back from claims whose lease passed.
pub fn log_recovered(recovered: Recovered) {
    if recovered.in_doubt > 0 {
        tracing::warn!(
            sends = recovered.in_doubt,
            "sends were in flight when their dispatcher stopped; each is checked on its network before it is sent again"
        );
    }
    if recovered.unstarted > 0 {
        tracing::info!(
            sends = recovered.unstarted,
            "sends claimed by a dispatcher that stopped before sending them go out now"
        );
    }
}

/// A store error in the service's dispatcher: logged, then a pause that doubles up to a
/// limit before the next try.
#[derive(Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    fn failed(&mut self, error: &crate::store::StoreError) -> Duration {
        self.failures += 1;
        let wait = Duration::from_millis(200 << self.failures.min(5)).min(MAX_IDLE * 5);
        tracing::error!(
            "the store failed ({error}); the dispatcher tries again in {} ms",
            wait.as_millis()
        );
        wait
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Did a send task's request leave?
enum Attempt {
    /// The request left; its result.
    Made(Result<String, SendError>),
    /// The claim was no longer this dispatcher's (or could not be marked): nothing left.
    NotMade,
}

type MarkRequest = (OutboxId, oneshot::Sender<bool>);

/// The sends this dispatcher has claimed and not yet recorded.
struct Flight {
    sends: JoinSet<(OutboxRow, Attempt)>,
    /// Send tasks ask here to be marked in flight just before their request leaves.
    marks: mpsc::UnboundedReceiver<MarkRequest>,
    mark_sender: mpsc::UnboundedSender<MarkRequest>,
    /// Claimed and unfinished sends by id, with their account.
    claimed: HashMap<OutboxId, String>,
    /// Per account: sends claimed and unfinished, how many may be in flight, and the
    /// permits for its requests.
    accounts: HashMap<String, (usize, usize, Arc<Semaphore>)>,
    /// Sends delivered since the service last said how many.
    sent: u64,
    /// Attempts recorded since memory was last given back to the system.
    unreleased: u64,
    /// Whether the last claim took as many rows as it could (more may be due at once).
    more_due: bool,
    /// Whether a finished send made room on an account that had none.
    room_made: bool,
    /// Becomes true when the dispatcher stops: sends still waiting for their network's pace
    /// give up their turn (nothing left; their claims are taken back at the next start).
    stopping: watch::Receiver<bool>,
}

impl Flight {
    fn new(stopping: watch::Receiver<bool>) -> Flight {
        let (mark_sender, marks) = mpsc::unbounded_channel();
        Flight {
            sends: JoinSet::new(),
            marks,
            mark_sender,
            claimed: HashMap::new(),
            accounts: HashMap::new(),
            stopping,
            sent: 0,
            unreleased: 0,
            more_due: false,
            room_made: false,
        }
    }

    fn is_empty(&self) -> bool {
        self.sends.is_empty()
    }

    fn claimed_ids(&self) -> Vec<OutboxId> {
        self.claimed.keys().copied().collect()
    }

    /// Accounts with as many sends claimed as may be in flight: the next claim leaves them.
    fn busy_accounts(&self) -> Vec<String> {
        self.accounts
            .iter()
            .filter(|(_, (claimed, limit, _))| *claimed >= *limit)
            .map(|(account, _)| account.clone())
            .collect()
    }

    fn start(&mut self, row: OutboxRow, connector: Option<Arc<dyn Connector>>, handle: KeptOnRow) {
        let limit = connector
            .as_ref()
            .map_or(PER_ACCOUNT, |c| in_flight_limit(c.network()));
        let (claimed, _, permits) = self
            .accounts
            .entry(row.account.clone())
            .or_insert_with(|| (0, limit, Arc::new(Semaphore::new(limit))));
        *claimed += 1;
        let permits = permits.clone();
        self.claimed.insert(row.id, row.account.clone());
        let marks = self.mark_sender.clone();
        let mut stopping = self.stopping.clone();
        self.sends.spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return (row, Attempt::NotMade);
            };
            // The network's pace, waited for before the send is marked in flight: a stop
            // or a crash during the wait leaves nothing in doubt.
            let stopped = async {
                if stopping.wait_for(|stopping| *stopping).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            let _slot = match &connector {
                Some(connector) => tokio::select! {
                    slot = connector.pace(&row.post) => Some(slot),
                    () = stopped => return (row, Attempt::NotMade),
                },
                None => None,
            };
            let (reply, marked) = oneshot::channel();
            if marks.send((row.id, reply)).is_err() || !marked.await.unwrap_or(false) {
                return (row, Attempt::NotMade);
            }
            let result = match connector {
                Some(connector) => send(connector.as_ref(), &row, &handle).await,
                None => Err(SendError::Permanent {
                    reason: format!("no connector for account `{}`", row.account),
                }),
            };
            (row, Attempt::Made(result))
        });
    }

    fn finished(&mut self, row: &OutboxRow) {
        self.claimed.remove(&row.id);
        if let Some((claimed, limit, _)) = self.accounts.get_mut(&row.account) {
            self.room_made |= *claimed == *limit;
            *claimed = claimed.saturating_sub(1);
            if *claimed == 0 {
                self.accounts.remove(&row.account);
            }
        }
    }

    /// Whether room was made on a full account since the last call.
    fn take_room_made(&mut self) -> bool {
        std::mem::take(&mut self.room_made)
    }

    /// After a task panicked, the rows whose tasks are gone are forgotten (their claims
    /// lapse and are taken back).
    fn forget_panicked(&mut self) {
        if self.sends.is_empty() {
            self.claimed.clear();
            self.accounts.clear();
        }
    }
}

/// The `max_late` of the campaign post `row` sends, if it has one.
fn max_late(plan: &Plan, row: &OutboxRow) -> Option<TimeDelta> {
    plan.campaigns
        .iter()
        .find(|campaign| campaign.name == row.post.playbook)?
        .posts
        .iter()
        .find(|post| post.id == row.post.item)?
        .max_late
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
/// `handle` is what the connector keeps on the send's row between its requests.
pub(super) async fn send(
    connector: &dyn Connector,
    row: &OutboxRow,
    handle: &dyn Resume,
) -> Result<String, SendError> {
    if row.check_first {
        let first_attempt = row.first_attempt_at.map(from_millis);
        match connector
            .lookup_resuming(&row.post, first_attempt, handle)
            .await?
        {
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
        None => connector.post_resuming(&row.post, handle).await,
    };
    delivered.map(|delivered| delivered.remote_id)
}
