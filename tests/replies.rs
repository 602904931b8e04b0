//! Replies to notices on a Telegram bot whose updates the reply poller does not read: pushed
//! to the server's webhook (`updates: webhook`), or read by a crisis plan watching the
//! account. A reply from the person's own user decides; anyone else's decides nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crier::connectors::registry::Connectors;
use crier::crisis::IncidentReport;
use crier::crisis::runner::RunnerState;
use crier::ops::Desk;
use crier::store::{
    ApprovalState, Batch, CrisisWrite, IncidentRow, SqliteStore, Store, StoreHandle, to_millis,
};
use serde_json::{Value, json};

use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram};

const TOKEN: &str = "123:abc";
const SECRET: &str = "tg-webhook-token";

/// A message in a group that mentions the bot: `@brand_bot <words>`, from `user`.
fn reply(message_id: i64, user_id: i64, user: &str, words: &str) -> Value {
    let text = format!("@{BOT_USERNAME} {words}");
    json!({ "message": {
        "message_id": message_id,
        "from": { "id": user_id, "is_bot": false, "first_name": user, "username": user },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Duty chat" },
        "date": Utc::now().timestamp(),
        "text": text,
        "entities": [{ "type": "mention", "offset": 0, "length": BOT_USERNAME.len() + 1 }]
    }})
}

fn secrets(dir: &std::path::Path) -> (String, String) {
    let (token, secret) = (dir.join("token"), dir.join("secret"));
    std::fs::write(&token, TOKEN).unwrap();
    std::fs::write(&secret, SECRET).unwrap();
    (token.display().to_string(), secret.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_pushed_to_the_telegram_webhook_decides_as_its_person() {
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let (token, secret) = secrets(keys.path());
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: {{ network: console }}\n  tg:\n    network: telegram\n    server: {}\n    token: \"file:{token}\"\n    chat: \"@brand_channel\"\n    updates: webhook\n    url: https://crier.example.com/telegram/tg\n    secret: \"file:{secret}\"\npeople:\n  vera: {{ notify: tg, users: {{ telegram: \"@vera\" }} }}\n",
        fake.url()
    );
    let launch = (Utc::now() + chrono::TimeDelta::hours(3)).format("%Y-%m-%d %H:%M");
    let campaign = format!(
        "kind: campaign\nname: news\nposts:\n  - id: launch\n    at: {launch}\n    to: brand\n    text: Launch day\n    approve: {{ by: [vera], ask: 24h }}\n"
    );
    let dir = crate::support::playbooks::folder(&config, &[("news.yaml", &campaign)]);
    let mut service =
        crier::engine::service::Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
            .await
            .unwrap();
    let view = service.view();
    let plan = view.plan().unwrap();
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let desk = Desk::new(plan, view.store());
    for _ in 0..600 {
        if !desk.store.approvals(true).unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(desk.store.approvals(true).unwrap().len(), 1);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let push = |update: Value| {
        let client = client.clone();
        let url = format!("http://{bound}/telegram/tg");
        async move {
            client
                .post(url)
                .header(crier::connectors::telegram::SECRET_TOKEN_HEADER, SECRET)
                .header("content-type", "application/json")
                .body(update.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut from_mallory = reply(61, 66, "mallory", "approve");
    from_mallory["update_id"] = json!(9001);
    assert_eq!(push(from_mallory).await, 200);
    assert_eq!(
        desk.store.approvals(true).unwrap().len(),
        1,
        "someone who is not an approver decides nothing"
    );
    let mut from_vera = reply(62, 88, "vera", "approve");
    from_vera["update_id"] = json!(9002);
    assert_eq!(push(from_vera).await, 200);
    let approval = desk.store.approvals(false).unwrap().remove(0);
    assert_eq!(approval.state, ApprovalState::Approved);
    assert_eq!(approval.decisions[0].by, "vera");
    assert!(
        fake.calls("getUpdates").is_empty(),
        "an account in webhook mode is never polled"
    );
    service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_read_by_a_crisis_plan_acknowledges_as_its_person() {
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let (token, _) = secrets(keys.path());
    let config = format!(
        "timezone: UTC\naccounts:\n  tg: {{ network: telegram, server: \"{}\", token: \"file:{token}\", chat: \"@brand_channel\" }}\npeople:\n  vera: {{ notify: tg, users: {{ telegram: \"@vera\" }} }}\n",
        fake.url()
    );
    let crisis = "kind: crisis\nname: outage\nwatch:\n  accounts: [tg]\n  keywords: [app]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: vera\n";
    let (_folder, plan) =
        crate::support::playbooks::valid_plan(&config, &[("outage.yaml", crisis)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let now = Utc::now();
    let opened = to_millis(now) - 60_000;
    let report = IncidentReport {
        id: 3,
        plan: "outage".into(),
        signal_at: opened,
        opened_at: opened,
        acknowledged_at: None,
        acknowledged_by: None,
        responded_at: None,
        resolved_at: None,
        resolved_by: None,
        level: "elevated".into(),
        levels: vec![],
        approvals: vec![],
        timeline: vec![],
        mentions: vec![],
        timezone: "UTC".into(),
    };
    store
        .commit(&Batch {
            now: to_millis(now),
            crisis: vec![CrisisWrite {
                plan: "outage".into(),
                state: serde_json::to_string(&RunnerState::default()).unwrap(),
                incidents: vec![IncidentRow {
                    id: 3,
                    plan: "outage".into(),
                    status: "open".into(),
                    level: "elevated".into(),
                    opened_at: opened,
                    resolved_at: None,
                    report: serde_json::to_string(&report).unwrap(),
                }],
                applied: vec![],
                forget_mentions_before: None,
            }],
            ..Batch::default()
        })
        .unwrap();
    let client = crier::connectors::http::client(&plan.http).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client).unwrap();
    let handle = StoreHandle::new(store.clone());
    let desk = {
        let (plan, store) = (plan.clone(), store.clone());
        move || Some(Desk::new(plan.clone(), store.clone()))
    };
    let handoff = crier::server::replies::crisis_handoff(desk);
    let read = |handoff| {
        crier::crisis::collect::collect(&plan, &handle, &connectors, Utc::now(), Some(handoff))
    };

    fake.push_update(reply(71, 66, "mallory", "ack"));
    let collected = read(handoff.clone()).await;
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(
        collected.new, 1,
        "the crisis plan still stores what it reads"
    );
    assert!(
        store.pending_incident_actions("outage").unwrap().is_empty(),
        "someone who is none of the people decides nothing"
    );

    fake.push_update(reply(72, 88, "vera", "ack"));
    read(handoff.clone()).await;
    let actions = store.pending_incident_actions("outage").unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0].incident, 3);
    assert!(
        actions[0].action.contains("\"vera\""),
        "{}",
        actions[0].action
    );
}
