//! The service driven in-process through its handle: started on a folder, watched through
//! its events, reloaded and stopped, with no child process.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::engine::events::ServiceEvent;
use crier::engine::service::{Service, ServiceError};
use crier::store::{HistoryFilter, OutboxState};
use tokio::sync::broadcast;

use crate::support::playbooks::folder;

const CONFIG: &str =
    "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  demo: { network: console }\n";

/// A campaign whose one post falls due a few seconds from now: later than a start on a
/// loaded machine takes, as a one-off already past at start is recorded missed, not sent.
fn due_soon() -> String {
    let at = (Utc::now() + TimeDelta::seconds(5)).format("%Y-%m-%d %H:%M:%S");
    format!("at,to,text\n{at},demo,hello from the handle\n")
}

/// The first event `wanted` accepts, or a panic naming the ones seen (bounded wait).
async fn first(
    events: &mut broadcast::Receiver<ServiceEvent>,
    wanted: impl Fn(&ServiceEvent) -> bool,
) -> ServiceEvent {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(event) => seen.push(event),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the service stopped"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no such event; saw {seen:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_service_tells_its_subscribers_of_each_send_and_stops_on_request() {
    let dir = folder(
        CONFIG,
        &[
            ("launch.csv", &due_soon()),
            (
                "launch.yaml",
                "kind: campaign\nname: launch\nposts:\n  - calendar: launch.csv\n    missed: all\n",
            ),
        ],
    );
    let service = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("the service starts");
    let mut events = service.subscribe();
    let created = first(&mut events, |e| {
        matches!(e, ServiceEvent::RunsCreated { .. })
    })
    .await;
    let ServiceEvent::RunsCreated { count: 1, runs } = &created else {
        panic!("one run created, not {created:?}");
    };
    let created_run = runs[0];
    let sent = first(&mut events, |e| matches!(e, ServiceEvent::Sent { .. })).await;
    let ServiceEvent::Sent {
        account,
        playbook,
        run,
        ..
    } = &sent
    else {
        unreachable!("matched above");
    };
    assert_eq!((account.as_str(), playbook.as_str()), ("demo", "launch"));
    assert_eq!(*run, created_run, "the send names the run the fire created");

    service.reload();
    let reloaded = first(&mut events, |e| matches!(e, ServiceEvent::Reloaded { .. })).await;
    assert_eq!(reloaded, ServiceEvent::Reloaded { applied: true });
    service.stop().await.expect("a graceful stop");

    // The event came after the send was recorded; the store lock is released on stop.
    let store = crier::store::open("sqlite://crier.db", dir.path()).unwrap();
    let runs = store.history(&HistoryFilter::default()).unwrap();
    let stored = runs
        .iter()
        .find(|r| r.id == *run)
        .expect("the run is stored");
    assert_eq!(stored.outbox.len(), 1);
    assert_eq!(stored.outbox[0].state, OutboxState::Sent);
    let again = Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
        .await
        .expect("a stopped service leaves the store free");
    again.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_playbooks_start_nothing() {
    let dir = folder(
        CONFIG,
        &[(
            "launch.yaml",
            "kind: campaign\nname: launch\nposts:\n  - to: nobody\n",
        )],
    );
    let reported = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reported.clone();
    let started = Service::start(
        dir.path().to_path_buf(),
        Arc::new(move |validated| {
            counter.fetch_add(
                validated.diagnostics.len(),
                std::sync::atomic::Ordering::SeqCst,
            );
        }),
    )
    .await;
    assert!(matches!(started, Err(ServiceError::Invalid)));
    assert!(reported.load(std::sync::atomic::Ordering::SeqCst) > 0);
    assert!(!dir.path().join("crier.db").exists(), "no store was opened");
}

/// A reload (reading the files, the store taking the new plan) runs on the blocking pool:
/// while it is inside, the runtime's one worker goes on running other tasks.
#[tokio::test(flavor = "current_thread")]
async fn a_reload_leaves_the_async_worker_free() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = folder(
        CONFIG,
        &[(
            "launch.yaml",
            "kind: campaign\nname: launch\nposts:\n  - { id: daily, cron: \"0 9 * * *\", to: demo, text: hello }\n",
        )],
    );
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let loads = Arc::new(AtomicUsize::new(0));
    let inside = Arc::new(AtomicBool::new(false));
    let let_go = Arc::new(AtomicBool::new(false));
    let report = {
        let (loads, inside, let_go) = (loads.clone(), inside.clone(), let_go.clone());
        Arc::new(move |_: &crier::playbook::validate::Validated| {
            // The first load is the start's; the second, the reload's, waits to be let go
            // by a task of the async worker (or gives up: the worker is held by the reload).
            if loads.fetch_add(1, Ordering::SeqCst) == 1 {
                inside.store(true, Ordering::SeqCst);
                let receiver = released.lock().unwrap();
                let got = receiver.recv_timeout(Duration::from_secs(20)).is_ok();
                let_go.store(got, Ordering::SeqCst);
            }
        })
    };
    let service = Service::start(dir.path().to_path_buf(), report)
        .await
        .expect("the service starts");
    let mut events = service.subscribe();
    service.reload();
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !inside.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the reload began");
    let _ = release.send(());
    let reloaded = first(&mut events, |e| matches!(e, ServiceEvent::Reloaded { .. })).await;
    assert_eq!(reloaded, ServiceEvent::Reloaded { applied: true });
    assert!(
        let_go.load(Ordering::SeqCst),
        "the async worker ran while the reload was inside"
    );
    service.stop().await.unwrap();
}
