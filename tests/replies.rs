//! Replies to notices on a Telegram bot: pushed to the server's webhook (`updates: webhook`),
//! or read by polling on a bot a crisis plan reads too, whichever reads first. A reply from
//! the person's own user decides; anyone else's decides nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crier::ops::Desk;
use crier::store::ApprovalState;
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

/// Starts the service on `dir` with its server; answers both.
async fn serve(dir: &std::path::Path) -> (crier::engine::service::ServiceHandle, crier::ops::Desk) {
    let mut service = crier::engine::service::Service::start(dir.to_path_buf(), Arc::new(|_| {}))
        .await
        .unwrap();
    let view = service.view();
    let plan = view.plan().unwrap();
    crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    (service, Desk::new(plan, view.store()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_waiting_when_the_service_starts_decides_though_a_crisis_plan_reads_the_bot() {
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let (token, _) = secrets(keys.path());
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: {{ network: console }}\n  tg: {{ network: telegram, server: \"{}\", token: \"file:{token}\", chat: \"@brand_channel\" }}\npeople:\n  vera: {{ notify: tg, users: {{ telegram: \"@vera\" }} }}\n",
        fake.url()
    );
    let launch = (Utc::now() + chrono::TimeDelta::hours(3)).format("%Y-%m-%d %H:%M");
    let campaign = format!(
        "kind: campaign\nname: news\nposts:\n  - id: launch\n    at: {launch}\n    to: brand\n    text: Launch day\n    approve: {{ by: [vera], ask: 24h }}\n"
    );
    let crisis = "kind: crisis\nname: outage\nwatch:\n  accounts: [tg]\n  keywords: [app]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: vera\n";
    let dir = crate::support::playbooks::folder(
        &config,
        &[("news.yaml", &campaign), ("outage.yaml", crisis)],
    );
    // A first run asks vera, and stops.
    let (service, desk) = serve(dir.path()).await;
    for _ in 0..600 {
        if !desk.store.approvals(true).unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(desk.store.approvals(true).unwrap().len(), 1);
    service.stop().await.unwrap();

    // Her answer waits at Telegram; the service starts, and its crisis plan reads the bot
    // before the server is up.
    let reads_before = fake.calls("getUpdates").len();
    fake.push_update(reply(81, 88, "vera", "approve"));
    let mut service =
        crier::engine::service::Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
            .await
            .unwrap();
    for _ in 0..600 {
        if fake.calls("getUpdates").len() >= reads_before + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fake.pending_updates(),
        0,
        "the crisis plan read and confirmed the reply"
    );
    let view = service.view();
    let plan = view.plan().unwrap();
    crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let store = view.store();
    let mut decided = None;
    for _ in 0..600 {
        let approvals = store.approvals(false).unwrap();
        if approvals[0].state != ApprovalState::Pending {
            decided = Some(approvals[0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let approval = decided.expect("the waiting reply decides");
    assert_eq!(approval.state, ApprovalState::Approved);
    assert_eq!(approval.decisions[0].by, "vera");
    let mentions = store.crisis_mentions("outage", 0, 0).unwrap();
    assert_eq!(
        mentions.len(),
        1,
        "the crisis plan keeps the reply too: {mentions:?}"
    );
    service.stop().await.unwrap();
}
