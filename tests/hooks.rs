//! Hooks: inbound events that fire campaign posts. Received through `ops::hooks` as a server
//! route calls it: the signature, the body, the idempotency key, and the run committed before
//! the answer; the playbook checks; `crier plan` and `crier rehearse` with hooks.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use crier::connectors::webhook::sign;
use crier::engine::EngineParts;
use crier::engine::hooks::HookReceiver;
use crier::ops::hooks::{HookRefusal, HookRequest, MAX_BODY, receive};
use crier::store::{HistoryFilter, RunState, SqliteStore, Store};
use tempfile::TempDir;

use crate::support::playbooks::{folder, valid_plan};

const SECRET: &str = "review-signing-key";
const CONFIG: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n";

/// A campaign with hook `new-review` (its key in a file beside the playbooks) firing two
/// posts, and hook `order` keyed by the body's `/order/id`.
fn reviews(dir: &std::path::Path) -> String {
    let key = dir.join("review.key");
    std::fs::write(&key, format!("{SECRET}\n")).unwrap();
    format!(
        r#"kind: campaign
name: reviews
hooks:
  new-review: {{ secret: "file:{key}" }}
  order: {{ secret: "file:{key}", id: /order/id }}
posts:
  - id: thanks
    on: {{ hook: new-review }}
    when: 'event.stars >= 4'
    to: brand
    text: "Thank you, {{{{ event.author }}}}!"
  - id: log
    on: {{ hook: new-review }}
    to: brand
    text: "review by {{{{ event.author }}}}: {{{{ event.stars }}}} stars"
  - id: shipped
    on: {{ hook: order }}
    to: brand
    text: "order {{{{ event.order.id }}}} is on its way"
"#,
        key = key.display()
    )
}

struct Setup {
    _dir: TempDir,
    db: std::path::PathBuf,
    store: Arc<dyn Store>,
    receiver: HookReceiver,
}

fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let playbook = reviews(dir.path());
    let (folder, plan) = valid_plan(CONFIG, &[("reviews.yaml", &playbook)]);
    let db = dir.path().join("crier.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    let receiver =
        HookReceiver::new(plan, "revision", EngineParts::new(store.clone()), now()).unwrap();
    drop(folder);
    Setup {
        _dir: dir,
        db,
        store,
        receiver,
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

/// A request signed with `secret` at `at` (unix seconds).
fn signed<'a>(
    body: &'a [u8],
    at: i64,
    secret: &str,
    key: Option<&'a str>,
    signature: &'a mut String,
    timestamp: &'a mut String,
) -> HookRequest<'a> {
    *timestamp = at.to_string();
    *signature = sign(secret.as_bytes(), timestamp, body);
    HookRequest {
        timestamp: Some(timestamp.as_str()),
        signature: Some(signature.as_str()),
        idempotency_key: key,
        body,
    }
}

fn send(
    setup: &Setup,
    hook: &str,
    body: &str,
    key: Option<&str>,
) -> Result<crier::ops::hooks::Accepted, HookRefusal> {
    let (mut signature, mut timestamp) = (String::new(), String::new());
    let request = signed(
        body.as_bytes(),
        now().timestamp(),
        SECRET,
        key,
        &mut signature,
        &mut timestamp,
    );
    receive(&setup.receiver, hook, request, now())
}

fn runs(store: &dyn Store) -> Vec<crier::store::RunView> {
    store.history(&HistoryFilter::default()).unwrap()
}

#[test]
fn a_signed_event_fires_its_posts_committed_before_the_answer() {
    let setup = setup();
    let accepted = send(
        &setup,
        "new-review",
        r#"{"author": "Ann", "stars": 5}"#,
        Some("review-1"),
    )
    .unwrap();
    assert_eq!(accepted.runs.len(), 2, "{accepted:?}");
    assert!(!accepted.replay);
    assert_eq!(accepted.key, "review-1");
    // Durable before the answer: another connection to the file sees the runs and sends.
    let other = SqliteStore::open(&setup.db).unwrap();
    let stored = runs(&other);
    assert_eq!(stored.len(), 2);
    let thanks = stored.iter().find(|r| r.item == "thanks").unwrap();
    assert!(accepted.runs.contains(&thanks.id));
    assert_eq!(thanks.outbox.len(), 1);
    assert_eq!(thanks.outbox[0].text, "Thank you, Ann!");
    assert_eq!(thanks.reason.as_deref(), Some("fired by hook `new-review`"));
    let log = stored.iter().find(|r| r.item == "log").unwrap();
    assert_eq!(log.outbox[0].text, "review by Ann: 5 stars");

    // `when:` sees the event: two stars fire the log, not the thanks.
    let low = send(
        &setup,
        "new-review",
        r#"{"author": "Bob", "stars": 2}"#,
        Some("review-2"),
    )
    .unwrap();
    assert_eq!(low.runs.len(), 2);
    let stored = runs(setup.store.as_ref());
    let skipped = stored
        .iter()
        .find(|r| r.item == "thanks" && r.state == RunState::Skipped)
        .expect("the thanks for two stars is skipped");
    assert!(skipped.outbox.is_empty());
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap()
            .contains("event.stars >= 4"),
        "{skipped:?}"
    );
}

#[test]
fn a_retry_with_the_same_key_fires_once_and_gets_the_first_answer() {
    let setup = setup();
    let body = r#"{"author": "Ann", "stars": 5}"#;
    let first = send(&setup, "new-review", body, Some("review-1")).unwrap();
    let again = send(&setup, "new-review", body, Some("review-1")).unwrap();
    assert!(again.replay);
    assert_eq!(again.runs, first.runs);
    assert_eq!(runs(setup.store.as_ref()).len(), 2);
    // Without a header, the body's id at the hook's `id:` pointer is the key.
    let order = r#"{"order": {"id": 7781}}"#;
    let shipped = send(&setup, "order", order, None).unwrap();
    assert_eq!(shipped.key, "7781");
    let retried = send(&setup, "order", order, None).unwrap();
    assert!(retried.replay);
    assert_eq!(retried.runs, shipped.runs);
    assert_eq!(runs(setup.store.as_ref()).len(), 3);
    // Events arriving in the same millisecond each get their run.
    for n in 0..5 {
        send(&setup, "new-review", body, Some(&format!("burst-{n}"))).unwrap();
    }
    assert_eq!(runs(setup.store.as_ref()).len(), 3 + 10);
}

#[test]
fn refusals_say_why_map_to_a_status_and_store_nothing() {
    let setup = setup();
    let body = br#"{"author": "Eve", "stars": 5}"#;
    let (mut signature, mut timestamp) = (String::new(), String::new());

    let wrong_key = signed(
        body,
        now().timestamp(),
        "not-the-key",
        Some("k1"),
        &mut signature,
        &mut timestamp,
    );
    let refused = receive(&setup.receiver, "new-review", wrong_key, now()).unwrap_err();
    assert_eq!(refused.status(), 401);
    assert!(refused.to_string().contains("does not match"), "{refused}");

    let stale = signed(
        body,
        now().timestamp() - 301,
        SECRET,
        Some("k2"),
        &mut signature,
        &mut timestamp,
    );
    let refused = receive(&setup.receiver, "new-review", stale, now()).unwrap_err();
    assert_eq!(refused.status(), 401);
    assert!(refused.to_string().contains("5 minutes"), "{refused}");

    let unsigned = HookRequest {
        timestamp: None,
        signature: None,
        idempotency_key: Some("k3"),
        body,
    };
    let refused = receive(&setup.receiver, "new-review", unsigned, now()).unwrap_err();
    assert_eq!(refused.status(), 401);

    // A body changed after signing.
    let mut request = signed(
        body,
        now().timestamp(),
        SECRET,
        Some("k4"),
        &mut signature,
        &mut timestamp,
    );
    request.body = br#"{"author": "Eve", "stars": 1}"#;
    assert_eq!(
        receive(&setup.receiver, "new-review", request, now())
            .unwrap_err()
            .status(),
        401
    );

    let refused = send(&setup, "new-review", "{\"author\": ", Some("k5")).unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(refused.to_string().contains("invalid JSON"), "{refused}");

    let refused = send(&setup, "order", r#"{"order": {}}"#, None).unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(refused.to_string().contains("/order/id"), "{refused}");

    let refused = send(&setup, "new-reveiw", "{}", None).unwrap_err();
    assert_eq!(refused.status(), 404);
    assert!(
        refused.to_string().contains("did you mean `new-review`"),
        "{refused}"
    );

    let large = format!("{{\"text\": \"{}\"}}", "x".repeat(MAX_BODY));
    let refused = send(&setup, "new-review", &large, Some("k6")).unwrap_err();
    assert_eq!(refused.status(), 413);

    assert!(runs(setup.store.as_ref()).is_empty(), "nothing stored");
    for key in ["k1", "k2", "k3", "k4", "k5", "k6"] {
        assert_eq!(setup.store.hook_receipt("new-review", key).unwrap(), None);
    }
}

fn diagnostics(playbook: &str) -> String {
    let dir = folder(CONFIG, &[("reviews.yaml", playbook)]);
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn validate_checks_hook_names_secrets_and_what_hook_posts_cannot_do() {
    let unknown = diagnostics(
        "kind: campaign\nname: r\nhooks:\n  new-review: { secret: env:REVIEW_SECRET }\nposts:\n  - { id: t, on: { hook: new-reveiw }, to: brand, text: hi }\n",
    );
    assert!(unknown.contains("unknown hook `new-reveiw`"), "{unknown}");
    assert!(unknown.contains("did you mean `new-review`"), "{unknown}");

    let missing = diagnostics(
        "kind: campaign\nname: r\nhooks:\n  new-review: {}\nposts:\n  - { id: t, on: { hook: new-review }, to: brand, text: hi }\n",
    );
    assert!(
        missing.contains("hook `new-review` has no `secret`"),
        "{missing}"
    );

    let literal = diagnostics(
        "kind: campaign\nname: r\nhooks:\n  new-review: { secret: hunter2 }\nposts:\n  - { id: t, on: { hook: new-review }, to: brand, text: hi }\n",
    );
    assert!(literal.contains("holds a secret in the file"), "{literal}");
    assert!(!literal.contains("hunter2"), "{literal}");

    let event_elsewhere = diagnostics(
        "kind: campaign\nname: r\nposts:\n  - { id: t, at: \"2026-12-01 10:00\", to: brand, text: \"hi {{ event.author }}\" }\n",
    );
    assert!(
        event_elsewhere.contains("unknown variable `event`")
            && event_elsewhere.contains("only posts with `on: { hook: NAME }` see it"),
        "{event_elsewhere}"
    );

    let approved = diagnostics(
        "kind: campaign\nname: r\nhooks:\n  h: { secret: env:H }\nposts:\n  - { id: t, on: { hook: h }, to: brand, text: hi, missed: all }\n",
    );
    assert!(approved.contains("`missed:` does not apply"), "{approved}");

    let dir = folder(
        CONFIG,
        &[
            (
                "a.yaml",
                "kind: campaign\nname: a\nhooks:\n  h: { secret: env:H }\nposts:\n  - { id: t, on: { hook: h }, to: brand, text: hi }\n",
            ),
            (
                "b.yaml",
                "kind: campaign\nname: b\nhooks:\n  h: { secret: env:H }\nposts:\n  - { id: t, on: { hook: h }, to: brand, text: hi }\n",
            ),
        ],
    );
    let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
    let said: String = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(said.contains("duplicate hook `h`"), "{said}");
}

#[test]
fn plan_lists_hook_posts_as_on_hook() {
    let dir = TempDir::new().unwrap();
    let playbook = reviews(dir.path());
    let config = format!("{CONFIG}people:\n  olena: {{ notify: brand }}\n");
    let folder = folder(&config, &[("reviews.yaml", &playbook)]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "plan",
            folder.path().to_str().unwrap(),
            "--from",
            "2026-12-01",
            "--until",
            "2026-12-02",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}");
    assert!(table.contains("on hook new-review"), "{table}");
    assert!(table.contains("Thank you, {{ event.author }}!"), "{table}");
    assert!(table.contains("on hook order"), "{table}");

    // `crier trigger` cannot fire it: there is no event to fill it in.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "trigger",
            "reviews",
            "thanks",
            "--by",
            "olena",
            "-C",
            folder.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(said.contains("is fired by hook `new-review`"), "{said}");
}

#[test]
fn rehearse_takes_hook_events() {
    let dir = TempDir::new().unwrap();
    let playbook = reviews(dir.path());
    let folder = folder(CONFIG, &[("reviews.yaml", &playbook)]);
    let events = folder.path().join("events.jsonl");
    std::fs::write(
        &events,
        concat!(
            r#"{"at": "2026-12-01T10:00:00Z", "type": "hook", "hook": "new-review", "id": "r1", "body": {"author": "Ann", "stars": 5}}"#,
            "\n",
            r#"{"at": "2026-12-01T10:05:00Z", "type": "hook", "hook": "new-review", "id": "r1", "body": {"author": "Ann", "stars": 5}}"#,
            "\n",
            r#"{"at": "2026-12-01T11:00:00Z", "type": "hook", "hook": "new-review", "body": {"author": "Bob", "stars": 2}}"#,
            "\n",
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "rehearse",
            folder.path().to_str().unwrap(),
            "--from",
            "2026-12-01",
            "--until",
            "2026-12-02",
            "--events",
            events.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(text.matches("Thank you, Ann!").count(), 1, "{text}");
    assert!(text.contains("review by Bob: 2 stars"), "{text}");
    assert!(text.contains("received before"), "{text}");
    assert!(text.contains("event.stars >= 4"), "{text}");
}

const LISTENING: &str = "timezone: UTC\naccounts:\n  brand: { network: console }\n  chat: { network: console }\npeople:\n  duty: { notify: chat }\n  owner: { notify: chat }\n";
const OUTAGE: &str = "kind: crisis\nname: outage\nwatch:\n  accounts: [brand]\n  keywords: [acme]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: duty\n";
const GIVEAWAY: &str = "kind: contest\nname: giveaway\naccount: brand\nowner: owner\nannounce:\n  at: 2026-12-01 10:00\n  text: \"Reply with #win\"\nentries:\n  from: replies\n  hashtag: \"#win\"\n  closes: 2026-12-07 20:00\n  one_per: author\ndraw:\n  at: 2026-12-07 21:00\n  winners: 1\n  reserves: 0\n  proof: commit-reveal\nwinners:\n  reply: \"Congratulations {{ winners | mentions }}!\"\n";

#[test]
fn a_pushed_mention_counts_once_for_a_crisis_plan_and_a_contest() {
    use crier::ops::mentions::{parse, push};
    let (_dir, plan) = valid_plan(
        LISTENING,
        &[("outage.yaml", OUTAGE), ("giveaway.yaml", GIVEAWAY)],
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let desk = crier::ops::Desk::new(plan.clone(), store.clone());
    let at = Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap();
    let body = br#"{"at": "2026-12-02T11:59:00Z", "type": "reply", "id": "p-1", "account": "brand", "author": "@ann", "text": "acme is down, terrible #win", "in_reply_to": "a-1"}
{"at": "2026-12-02T11:59:30Z", "type": "mention", "id": "p-2", "account": "brand", "author": "@bob", "text": "acme is broken again"}
"#;
    let mentions = parse(body).unwrap();
    let pushed = push(&desk, &mentions, at).unwrap();
    assert_eq!(
        (
            pushed.received,
            pushed.crisis_mentions,
            pushed.contest_entries
        ),
        (2, 2, 2)
    );
    // Pushed again (a retry), and one of them read by polling too: nothing new.
    let again = push(&desk, &mentions, at).unwrap();
    assert_eq!((again.crisis_mentions, again.contest_entries), (0, 0));
    let polled = crier::store::NewMention {
        key: "console:p-1".into(),
        at: at.timestamp_millis(),
        author: "@ann".into(),
        text: "acme is down, terrible #win".into(),
    };
    let added = store
        .add_crisis_mentions("outage", "brand", &[polled], None, at.timestamp_millis())
        .unwrap();
    assert_eq!(added, 0, "the polled copy of a pushed mention is not new");
    assert_eq!(store.crisis_mentions("outage", 0, 0).unwrap().len(), 2);
    let entries =
        crier::contest::lifecycle::load_entries(store.as_ref(), &plan.contests[0].name).unwrap();
    assert_eq!(entries.len(), 2);
    let standings = crier::contest::standings(
        store.as_ref(),
        &plan.contests[0],
        &crier::script::ScriptEngine::new(),
    )
    .unwrap();
    assert_eq!(standings.entries.len(), 2);

    // A bad mention refuses the whole push; nothing of it is stored.
    let bad = parse(
        br#"[{"at": "2026-12-02T12:00:00Z", "type": "mention", "id": "p-3", "account": "brand", "author": "@cy", "text": "acme"},
            {"at": "2026-12-02T12:00:00Z", "type": "mention", "id": "p-4", "account": "brnad", "author": "@di", "text": "acme"}]"#,
    )
    .unwrap();
    let refused = push(&desk, &bad, at).unwrap_err();
    assert_eq!(refused.status(), 400);
    assert!(
        refused
            .to_string()
            .contains("mention 2: unknown account `brnad`"),
        "{refused}"
    );
    assert_eq!(store.crisis_mentions("outage", 0, 0).unwrap().len(), 2);
    let no_id = parse(br#"{"at": "2026-12-02T12:00:00Z", "type": "mention", "account": "brand", "author": "@cy", "text": "acme"}"#).unwrap();
    assert!(
        push(&desk, &no_id, at)
            .unwrap_err()
            .to_string()
            .contains("`id` is missing")
    );
}

#[tokio::test]
async fn a_hook_post_held_by_a_pause_goes_out_when_it_lifts() {
    use crier::connectors::registry::Connectors;
    use crier::engine::{Dispatcher, Engine, RetryPolicy};
    use crier::store::{NewPause, OutboxState, PauseScope};
    let dir = TempDir::new().unwrap();
    let playbook = reviews(dir.path());
    let (_folder, plan) = valid_plan(CONFIG, &[("reviews.yaml", &playbook)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let paused_at = now().timestamp_millis();
    store
        .pause(
            &NewPause {
                scope: PauseScope::Account("brand".into()),
                until: None,
                reason: "storm".into(),
                by: "duty".into(),
            },
            paused_at,
        )
        .unwrap();
    let receiver = HookReceiver::new(
        plan.clone(),
        "revision",
        EngineParts::new(store.clone()),
        now(),
    )
    .unwrap();
    receiver
        .fire(
            "new-review",
            &serde_json::json!({"author": "Ann", "stars": 5}),
            "r1",
            now(),
        )
        .unwrap();
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    dispatcher.dispatch_due(now, None).await.unwrap();
    let held = store.held_sends().unwrap();
    assert_eq!(held.len(), 2, "both posts of the event are held");

    let later = now() + chrono::TimeDelta::hours(2);
    store
        .resume(
            &PauseScope::Account("brand".into()),
            "duty",
            later.timestamp_millis(),
        )
        .unwrap();
    let mut engine = Engine::new(
        plan.clone(),
        "revision",
        EngineParts::new(store.clone()),
        later,
    )
    .unwrap();
    assert_eq!(engine.release_held(later).unwrap(), 2);
    dispatcher.dispatch_due(|| later, None).await.unwrap();
    let sent: Vec<_> = runs(store.as_ref())
        .into_iter()
        .flat_map(|run| run.outbox)
        .filter(|send| send.state == OutboxState::Sent)
        .map(|send| send.text)
        .collect();
    assert!(sent.contains(&"Thank you, Ann!".to_string()), "{sent:?}");
    assert_eq!(recording.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_hook_secret_that_cannot_be_read_stops_the_service_naming_the_hook() {
    let dir = folder(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: { network: console }\n",
        &[(
            "reviews.yaml",
            "kind: campaign\nname: reviews\nhooks:\n  new-review: { secret: env:CRIER_TEST_HOOK_SECRET_NEVER_SET }\nposts:\n  - { id: t, on: { hook: new-review }, to: brand, text: hi }\n",
        )],
    );
    let started =
        crier::engine::service::Service::start(dir.path().to_path_buf(), Arc::new(|_| {})).await;
    let Err(error) = started else {
        panic!("the service started without the hook's secret");
    };
    assert!(
        error.to_string().contains(
            "hook `new-review`: environment variable `CRIER_TEST_HOOK_SECRET_NEVER_SET` is not set"
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_updates_pushed_to_a_webhook_feed_crisis_plans_once() {
    use crate::support::fake_telegram::{BOT_USERNAME, FakeTelegram};
    use crier::connectors::registry::Connectors;
    use crier::ops::mentions::receive_update;
    let fake = FakeTelegram::start("123:abc");
    let dir = TempDir::new().unwrap();
    let token = dir.path().join("token");
    let secret = dir.path().join("secret");
    std::fs::write(&token, "123:abc").unwrap();
    std::fs::write(&secret, "tg-webhook-token").unwrap();
    let config = format!(
        "timezone: UTC\naccounts:\n  brand_telegram:\n    network: telegram\n    server: {}\n    token: \"file:{}\"\n    chat: \"@brand_channel\"\n    updates: webhook\n    url: https://crier.example.com/telegram/brand_telegram\n    secret: \"file:{}\"\npeople:\n  duty: {{ notify: brand_telegram }}\n",
        fake.url(),
        token.display(),
        secret.display()
    );
    let crisis = "kind: crisis\nname: outage\nwatch:\n  accounts: [brand_telegram]\n  keywords: [app]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - notify: duty\n";
    let (_folder, plan) = valid_plan(&config, &[("outage.yaml", crisis)]);
    let client = crier::connectors::http::client(&plan.http).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client).unwrap();
    let connector = connectors.get("brand_telegram").unwrap();
    // Reading updates registers the webhook once, and never polls `getUpdates`.
    for _ in 0..2 {
        let page = connector.mentions(None).await.unwrap();
        assert!(page.mentions.is_empty());
    }
    let registered = fake.calls("setWebhook");
    assert_eq!(registered.len(), 1);
    assert_eq!(
        registered[0].params["url"],
        "https://crier.example.com/telegram/brand_telegram"
    );
    assert_eq!(registered[0].params["secret_token"], "tg-webhook-token");
    assert!(fake.calls("getUpdates").is_empty());

    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let desk = crier::ops::Desk::new(plan.clone(), store.clone());
    let text = format!("is the app down again @{BOT_USERNAME}");
    let at = text.encode_utf16().count() - BOT_USERNAME.len() - 1;
    let update = serde_json::json!({ "update_id": 900, "message": {
        "message_id": 42,
        "from": { "id": 88, "is_bot": false, "first_name": "Bo" },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat" },
        "date": 1_767_225_700,
        "text": text,
        "entities": [{ "type": "mention", "offset": at, "length": BOT_USERNAME.len() + 1 }]
    }})
    .to_string();
    let at = now();
    let forged = receive_update(
        &desk,
        &connectors,
        "brand_telegram",
        Some("guess"),
        update.as_bytes(),
        at,
    )
    .await
    .unwrap_err();
    assert_eq!(forged.status(), 401);
    let missing = receive_update(
        &desk,
        &connectors,
        "brand_telegram",
        None,
        update.as_bytes(),
        at,
    )
    .await
    .unwrap_err();
    assert_eq!(missing.status(), 401);
    assert!(store.crisis_mentions("outage", 0, 0).unwrap().is_empty());
    let token = Some("tg-webhook-token");
    let taken = receive_update(
        &desk,
        &connectors,
        "brand_telegram",
        token,
        update.as_bytes(),
        at,
    )
    .await
    .unwrap();
    assert_eq!(taken.crisis_mentions, 1);
    let again = receive_update(
        &desk,
        &connectors,
        "brand_telegram",
        token,
        update.as_bytes(),
        at,
    )
    .await
    .unwrap();
    assert_eq!(
        again.crisis_mentions, 0,
        "Telegram's redelivery counts once"
    );
    assert_eq!(store.crisis_mentions("outage", 0, 0).unwrap().len(), 1);
    let garbled = receive_update(&desk, &connectors, "brand_telegram", token, b"{", at)
        .await
        .unwrap_err();
    assert_eq!(garbled.status(), 400);
    let unknown = receive_update(&desk, &connectors, "brand", token, update.as_bytes(), at)
        .await
        .unwrap_err();
    assert_eq!(unknown.status(), 404);
}

#[test]
fn validate_checks_telegram_webhook_mode() {
    let said = |account: &str| {
        let dir = folder(
            &format!(
                "timezone: UTC\naccounts:\n  tg:\n    network: telegram\n    token: env:TG_TOKEN\n    chat: \"@c\"\n{account}"
            ),
            &[],
        );
        let validated = crier::playbook::load::load_and_validate(dir.path()).unwrap();
        validated
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<String>()
    };
    let missing = said("    updates: webhook\n");
    assert!(
        missing.contains("with `updates: webhook` needs `url`"),
        "{missing}"
    );
    assert!(
        missing.contains("with `updates: webhook` needs `secret`"),
        "{missing}"
    );
    let polling = said("    url: https://crier.example.com/telegram/tg\n");
    assert!(polling.contains("is for `updates: webhook`"), "{polling}");
    let unknown = said("    updates: push\n");
    assert!(
        unknown.contains("`updates` is `poll` or `webhook`"),
        "{unknown}"
    );
    let fine = said(
        "    updates: webhook\n    url: https://crier.example.com/telegram/tg\n    secret: env:TG_SECRET\n",
    );
    assert!(fine.is_empty(), "{fine}");
}
