//! Prometheus metrics: the names, what emits them, and the text a scrape reads. Counters and
//! the lateness histogram are emitted where things happen (the dispatcher, the engine, hook
//! receiving) through the `metrics` facade; gauges are set from the store just before each
//! render (`ops::metrics`). Nothing is recorded until a service installs the recorder
//! ([`install`]); before that, and in every other command, emitting costs nothing.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use metrics::Counter;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Sends by network, account and outcome (`sent`, `failed`, `retry`, `held`, `deferred`).
pub const SENDS: &str = "crier_sends_total";
/// Runs by state (gauge).
pub const RUNS: &str = "crier_runs";
/// Sends due now and not yet sent (gauge).
pub const POSTS_DUE: &str = "crier_posts_due";
/// Sends waiting for a later time, a pause or a limit (gauge).
pub const POSTS_WAITING: &str = "crier_posts_waiting";
/// How late after its time each scheduled fire was made into a run, in seconds.
pub const FIRE_LATENESS: &str = "crier_fire_lateness_seconds";
/// Approval requests waiting for a decision (gauge).
pub const APPROVALS_WAITING: &str = "crier_approvals_waiting";
/// Pauses in force (gauge).
pub const PAUSES: &str = "crier_pauses_in_force";
/// Open incidents by crisis plan and level (gauge).
pub const INCIDENTS_OPEN: &str = "crier_incidents_open";
/// Contest entries by contest and verdict (`eligible`, `excluded`) (gauge).
pub const CONTEST_ENTRIES: &str = "crier_contest_entries";
/// Hook events accepted, by hook.
pub const HOOK_ACCEPTED: &str = "crier_hook_events_accepted_total";
/// Hook events refused, by hook and reason.
pub const HOOK_REFUSED: &str = "crier_hook_events_refused_total";

/// The lateness histogram's buckets, in seconds.
const LATENESS_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same). `None` when another
/// recorder was installed first (a program embedding crier with its own).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(FIRE_LATENESS.into()), &LATENESS_BUCKETS)
                .ok()?;
            let handle = builder.install_recorder().ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

/// The metrics in Prometheus text format (empty before [`install`]).
pub fn render() -> String {
    match HANDLE.get().and_then(Option::as_ref) {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    }
}

/// Moves the histogram samples recorded since the last render into their buckets (the
/// recorder keeps every sample until then: without a scrape, each fire's lateness would
/// stay in memory for as long as the service runs).
pub fn upkeep() {
    if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
        handle.run_upkeep();
    }
}

fn describe() {
    metrics::describe_counter!(SENDS, "Sends by network, account and outcome.");
    metrics::describe_gauge!(RUNS, "Runs by state.");
    metrics::describe_gauge!(POSTS_DUE, "Sends due now and not yet sent.");
    metrics::describe_gauge!(
        POSTS_WAITING,
        "Sends waiting for a later time, a pause or a limit."
    );
    metrics::describe_histogram!(
        FIRE_LATENESS,
        metrics::Unit::Seconds,
        "How late after its time each scheduled fire became a run."
    );
    metrics::describe_gauge!(
        APPROVALS_WAITING,
        "Approval requests waiting for a decision."
    );
    metrics::describe_gauge!(PAUSES, "Pauses in force.");
    metrics::describe_gauge!(INCIDENTS_OPEN, "Open incidents by crisis plan and level.");
    metrics::describe_gauge!(CONTEST_ENTRIES, "Contest entries by contest and verdict.");
    metrics::describe_counter!(HOOK_ACCEPTED, "Hook events accepted, by hook.");
    metrics::describe_counter!(HOOK_REFUSED, "Hook events refused, by hook and reason.");
}

/// The send counters by network, account and outcome, registered with this process's
/// recorder once each: a burst's sends neither build labels nor look the registry up.
type SendCounters = HashMap<&'static str, HashMap<String, HashMap<&'static str, Counter>>>;

static SEND_COUNTERS: Mutex<Option<SendCounters>> = Mutex::new(None);

/// A send's recorded outcome.
pub fn send(network: &'static str, account: &str, outcome: &'static str) {
    // A counter registered before the recorder is installed counts nothing; so only the
    // installed recorder's are kept (a program with its own recorder registers each time).
    if HANDLE.get().and_then(Option::as_ref).is_none() {
        register_send(network, account, outcome).increment(1);
        return;
    }
    let mut counters = SEND_COUNTERS.lock().unwrap_or_else(|e| e.into_inner());
    let by_account = counters
        .get_or_insert_with(HashMap::new)
        .entry(network)
        .or_default();
    if !by_account.contains_key(account) {
        by_account.insert(account.to_string(), HashMap::new());
    }
    by_account
        .get_mut(account)
        .expect("inserted above")
        .entry(outcome)
        .or_insert_with(|| register_send(network, account, outcome))
        .increment(1);
}

fn register_send(network: &'static str, account: &str, outcome: &'static str) -> Counter {
    metrics::counter!(
        SENDS,
        "network" => network,
        "account" => account.to_string(),
        "outcome" => outcome
    )
}

/// A scheduled fire made into a run `seconds` after its time.
pub fn fire_lateness(seconds: f64) {
    metrics::histogram!(FIRE_LATENESS).record(seconds.max(0.0));
}

/// A hook event accepted (`refused` is `None`) or refused for the reason named. An unknown
/// hook is counted under an empty name, so random paths cannot grow the label set.
pub fn hook_event(hook: &str, refused: Option<&'static str>) {
    match refused {
        None => metrics::counter!(HOOK_ACCEPTED, "hook" => hook.to_string()).increment(1),
        Some(reason) => {
            let hook = if reason == "unknown_hook" { "" } else { hook };
            metrics::counter!(HOOK_REFUSED, "hook" => hook.to_string(), "reason" => reason)
                .increment(1);
        }
    }
}

/// The values of the gauges, read from the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gauges {
    /// (state, runs).
    pub runs: Vec<(&'static str, u64)>,
    pub posts_due: u64,
    pub posts_waiting: u64,
    pub approvals_waiting: u64,
    pub pauses: u64,
    /// (plan, level, open incidents).
    pub incidents: Vec<(String, String, u64)>,
    /// (contest, verdict, entries).
    pub contest_entries: Vec<(String, &'static str, u64)>,
}

/// Sets every gauge.
pub fn set_gauges(gauges: &Gauges) {
    for (state, count) in &gauges.runs {
        metrics::gauge!(RUNS, "state" => *state).set(*count as f64);
    }
    metrics::gauge!(POSTS_DUE).set(gauges.posts_due as f64);
    metrics::gauge!(POSTS_WAITING).set(gauges.posts_waiting as f64);
    metrics::gauge!(APPROVALS_WAITING).set(gauges.approvals_waiting as f64);
    metrics::gauge!(PAUSES).set(gauges.pauses as f64);
    for (plan, level, count) in &gauges.incidents {
        metrics::gauge!(INCIDENTS_OPEN, "plan" => plan.clone(), "level" => level.clone())
            .set(*count as f64);
    }
    for (contest, verdict, count) in &gauges.contest_entries {
        metrics::gauge!(CONTEST_ENTRIES, "contest" => contest.clone(), "verdict" => *verdict)
            .set(*count as f64);
    }
}
