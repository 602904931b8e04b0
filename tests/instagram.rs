//! The Instagram connector against a fake Graph API on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::meta::{Flavor, MetaConnector};
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Connectors, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::network::Network;
use crier::playbook::plan::Account;
use crier::playbook::raw::AccountConfig;
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_meta::{FAN_ID, FakeMeta, Fault, IG_FOLLOWERS, IG_USER, set_status};

const TOKEN: &str = "IGQVJ-long-lived-8c2e";
const MEDIA_URL: &str = "https://cdn.example.com/crier/";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn instagram(fake: &FakeMeta, token: &str) -> MetaConnector {
    let graph = MetaConnector::graph(
        Flavor::Instagram,
        fake.instagram_url().parse().unwrap(),
        Secret::new(token),
        client(),
    );
    MetaConnector::new(
        "brand_instagram",
        Flavor::Instagram,
        graph,
        IG_USER,
        Some(MEDIA_URL.parse().unwrap()),
    )
}

fn post(key: &str, text: &str, images: &[&str]) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: images
            .iter()
            .map(|i| PathBuf::from(format!("img/{i}")))
            .collect(),
        reply_to: None,
        playbook: "launch".into(),
        item: "teaser".into(),
        direct_to: None,
        notice: false,
    }
}

#[tokio::test]
async fn an_image_post_is_a_container_then_published() {
    let fake = FakeMeta::start(TOKEN);
    let delivered = instagram(&fake, TOKEN)
        .post(&post("k1", "Spring is here 🌷 #launch", &["look.png"]))
        .await
        .unwrap();
    let containers = fake.containers();
    assert_eq!(containers.len(), 1);
    assert_eq!(
        containers[0].params["image_url"],
        "https://cdn.example.com/crier/look.png"
    );
    assert_eq!(containers[0].params["caption"], "Spring is here 🌷 #launch");
    let publish = fake.calls("POST", "media_publish");
    assert_eq!(publish.len(), 1);
    assert_eq!(publish[0].params["creation_id"], containers[0].id);
    assert_eq!(publish[0].path, format!("/v21.0/{IG_USER}/media_publish"));
    assert_eq!(publish[0].bearer.as_deref(), Some(TOKEN));
    let published = &fake.published()[0];
    assert_eq!(delivered.remote_id, published.id);
    assert_eq!(
        delivered.url,
        Some(format!("https://www.example.com/p/{}", published.id))
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.params.contains_key("access_token")),
        "the token never goes in a URL or form"
    );
}

#[tokio::test]
async fn several_images_make_a_carousel() {
    let fake = FakeMeta::start(TOKEN);
    instagram(&fake, TOKEN)
        .post(&post("k1", "Three looks", &["a.png", "b.jpg", "c.png"]))
        .await
        .unwrap();
    let containers = fake.containers();
    assert_eq!(containers.len(), 4);
    assert!(
        containers[..3]
            .iter()
            .all(|c| c.params["is_carousel_item"] == "true")
    );
    let carousel = &containers[3];
    assert_eq!(carousel.params["media_type"], "CAROUSEL");
    let children: Vec<&str> = containers[..3].iter().map(|c| c.id.as_str()).collect();
    assert_eq!(carousel.params["children"], children.join(","));
    assert_eq!(carousel.params["caption"], "Three looks");
    assert_eq!(fake.published().len(), 1);
}

#[tokio::test]
async fn captions_and_hashtags_over_the_limits_and_posts_without_images_are_refused() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    connector
        .post(&post("k1", &"é".repeat(2200), &["a.png"]))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", &"é".repeat(2201), &["a.png"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the text has 2201 characters and Instagram allows 2200"
    );
    let tags: Vec<String> = (0..31).map(|n| format!("#tag{n}")).collect();
    let err = connector
        .post(&post("k3", &tags.join(" "), &["a.png"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the caption has 31 hashtags and Instagram allows 30"
    );
    connector
        .post(&post("k4", &tags[..30].join(" "), &["a.png"]))
        .await
        .unwrap();
    let err = connector
        .post(&post("k5", "Words only", &[]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "Instagram posts need an image, and this one has none"
    );
    let eleven: Vec<String> = (0..11).map(|n| format!("{n}.png")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let err = connector
        .post(&post("k6", "Many", &eleven))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the post has 11 images and Instagram takes at most 10 in one post"
    );
    assert_eq!(fake.published().len(), 2);
}

#[tokio::test]
async fn a_lost_publish_answer_is_settled_by_the_containers_status() {
    for fault in [
        Fault::AcceptThenDrop,
        Fault::Slow(Duration::from_millis(1500)),
    ] {
        let fake = FakeMeta::start(TOKEN);
        let connector = instagram(&fake, TOKEN);
        let first_attempt = chrono::Utc::now();
        fake.push_fault("media_publish", fault);
        let sent = post("k1", "Launch day", &["a.png"]);
        let err = connector.post(&sent).await.unwrap_err();
        assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
        assert_eq!(fake.published().len(), 1, "it was published");
        let found = connector
            .lookup_since(&sent, Some(first_attempt))
            .await
            .unwrap();
        let container = &fake.containers()[0].id;
        let status = fake.calls("GET", container.as_str());
        assert_eq!(status[0].params["fields"], "status_code,error_message");
        assert_eq!(
            found,
            Lookup::Found(crier::connectors::Delivered {
                remote_id: fake.published()[0].id.clone(),
                url: Some(format!(
                    "https://www.example.com/p/{}",
                    fake.published()[0].id
                )),
            })
        );
        // A resend of the same key publishes nothing new.
        let again = connector.post(&sent).await.unwrap();
        assert_eq!(again.remote_id, fake.published()[0].id);
        assert_eq!(fake.published().len(), 1);
        assert_eq!(fake.containers().len(), 1);
    }
}

#[tokio::test]
async fn an_unpublished_container_is_published_on_the_retry_never_a_second_one() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    fake.push_fault(
        "media_publish",
        Fault::Error {
            status: 500,
            code: 2,
            subcode: None,
            message: "An unexpected error has occurred. Please retry your request later.",
        },
    );
    let sent = post("k1", "Launch day", &["a.png"]);
    let err = connector.post(&sent).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert_eq!(connector.lookup(&sent).await.unwrap(), Lookup::NotFound);
    connector.post(&sent).await.unwrap();
    assert_eq!(fake.containers().len(), 1, "the container was reused");
    assert_eq!(fake.published().len(), 1);

    // A container still being prepared is waited for, then published.
    let later = post("k2", "Later", &["b.png"]);
    fake.push_fault(
        "media_publish",
        Fault::Error {
            status: 400,
            code: 9007,
            subcode: Some(2_207_027),
            message: "The media is not ready for publishing, please wait for a moment",
        },
    );
    let err = connector.post(&later).await.unwrap_err();
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_secs(30)),
        "{err:?}"
    );
    connector.post(&later).await.unwrap();
    assert_eq!(fake.containers().len(), 2);

    // An expired container is replaced.
    let expired = post("k3", "Expired", &["c.png"]);
    fake.push_fault(
        "media_publish",
        Fault::Error {
            status: 500,
            code: 1,
            subcode: None,
            message: "An unknown error occurred",
        },
    );
    connector.post(&expired).await.unwrap_err();
    set_status(&fake, &fake.containers()[2].id, "EXPIRED");
    connector.post(&expired).await.unwrap();
    assert_eq!(fake.containers().len(), 4);
}

#[tokio::test]
async fn a_restarted_process_finds_the_post_among_the_recent_ones() {
    let fake = FakeMeta::start(TOKEN);
    let old = chrono::Utc::now() - chrono::TimeDelta::hours(3);
    fake.add_published(IG_USER, "Launch day", old);
    let first_attempt = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let sent = post("k1", "Launch day", &["a.png"]);
    let fresh = instagram(&fake, TOKEN);
    assert_eq!(
        fresh
            .lookup_since(&sent, Some(first_attempt))
            .await
            .unwrap(),
        Lookup::NotFound,
        "the same caption before the first attempt is another post"
    );
    instagram(&fake, TOKEN).post(&sent).await.unwrap();
    let Lookup::Found(found) = fresh
        .lookup_since(&sent, Some(first_attempt))
        .await
        .unwrap()
    else {
        panic!("found among the recent posts")
    };
    assert_eq!(found.remote_id, fake.published()[1].id);
}

#[tokio::test]
async fn throttling_waits_as_the_usage_headers_say() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    fake.push_fault(
        "media",
        Fault::Throttled {
            code: 80002,
            minutes: 7,
        },
    );
    let err = connector
        .post(&post("k1", "Hi", &["a.png"]))
        .await
        .unwrap_err();
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, Duration::from_secs(7 * 60));
    assert!(
        reason.starts_with("Instagram is rate limiting the app (code 80002:"),
        "{reason}"
    );

    // A success that says the app's usage is full holds the next call back without sending.
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    fake.push_fault("media_publish", Fault::AppUsage(100));
    connector.post(&post("k1", "Hi", &["a.png"])).await.unwrap();
    let before = fake.requests().len();
    let err = connector
        .post(&post("k2", "Again", &["a.png"]))
        .await
        .unwrap_err();
    let SendError::RetryAfter { reason, .. } = err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("X-App-Usage"), "{reason}");
    assert_eq!(fake.requests().len(), before, "nothing was sent");
}

#[tokio::test]
async fn the_daily_publishing_limit_and_an_expired_token_are_said_in_plain_words() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    fake.push_fault(
        "media_publish",
        Fault::Error {
            status: 400,
            code: 9,
            subcode: Some(2_207_042),
            message: "Application request limit reached",
        },
    );
    let err = connector
        .post(&post("k1", "Hi", &["a.png"]))
        .await
        .unwrap_err();
    assert!(
        err.reason()
            .contains("published as many posts through the API as Instagram allows in 24 hours"),
        "{err}"
    );
    let err = instagram(&fake, "IGQVJ-expired")
        .post(&post("k2", "Hi", &["a.png"]))
        .await
        .unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with("Instagram refused the token (code 190: Error validating access token"),
        "{reason}"
    );
    assert!(reason.contains("get a new long-lived token"), "{reason}");
    assert!(!reason.contains("IGQVJ-expired"));
}

#[tokio::test]
async fn metrics_read_likes_comments_and_followers() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    let sent = connector
        .post(&post("k1", "Sale", &["a.png"]))
        .await
        .unwrap();
    fake.set_counts(&sent.remote_id, 40, 6, 0);
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(IG_FOLLOWERS));
    let counts = &snapshot.posts[0];
    assert_eq!((counts.likes, counts.replies, counts.views), (40, 6, None));
    let err = connector.delete(&sent.remote_id).await.unwrap_err();
    assert_eq!(err.reason(), "the `instagram` network cannot delete posts");
}

fn account(fields: &str) -> BTreeMap<String, Account> {
    let yaml = format!("network: instagram\n{fields}");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    BTreeMap::from([(
        "brand_instagram".to_owned(),
        Account {
            name: "brand_instagram".into(),
            network: Network::Instagram,
            config,
        },
    )])
}

#[test]
fn registry_builds_instagram_accounts_and_the_table_says_what_it_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("ig-token");
    std::fs::write(&token, TOKEN).unwrap();
    let good = account(&format!(
        "token: file:{}\nuser: '{IG_USER}'\nmedia_url: https://cdn.example.com/crier\n",
        token.display()
    ));
    let built = Connectors::build(&good, &client()).unwrap();
    assert_eq!(
        built.get("brand_instagram").unwrap().network(),
        Network::Instagram
    );
    let caps = Network::Instagram.capabilities();
    assert!(caps.post && caps.media && caps.metrics && caps.lookup);
    assert!(caps.reply && caps.read_mentions);
    assert!(!caps.delete && !caps.direct_message);
    let limit = Network::Instagram.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (2200, "characters"));
    assert!(Network::Instagram.profile().media_required);
}

#[test]
fn validation_refuses_an_instagram_post_without_images_and_wants_media_url() {
    let config = "timezone: UTC\naccounts:\n  brand_instagram: { network: instagram, user: '1', token: env:IG_TOKEN }\n";
    let dir = crate::support::playbooks::folder(config, &[]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("account `brand_instagram` on `instagram` needs `media_url`")),
        "{errors:?}"
    );

    let config = "timezone: UTC\naccounts:\n  brand_instagram: { network: instagram, user: '1', token: env:IG_TOKEN, media_url: 'https://cdn.example.com/crier/' }\n";
    let campaign = "kind: campaign\nname: launch\nposts:\n  - { id: words, at: \"2026-12-01 10:00\", to: brand_instagram, text: \"Words only\" }\n";
    let dir = crate::support::playbooks::folder(config, &[("launch.yaml", campaign)]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains(
            "account `brand_instagram` is on instagram, which cannot post without an image"
        ),
        "{}",
        errors[0]
    );
}

#[tokio::test]
async fn comments_are_read_page_by_page_and_answered() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    let contest = connector
        .post(&post("k1", "Comment to enter", &["a.png"]))
        .await
        .unwrap();
    let start = chrono::Utc::now() - chrono::TimeDelta::minutes(30);
    let mut entries = Vec::new();
    for n in 0..60 {
        entries.push(fake.add_comment(
            &contest.remote_id,
            FAN_ID,
            &format!("entry {n}"),
            None,
            start + chrono::TimeDelta::seconds(n),
        ));
    }
    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.mentions.len(), 60);
    assert_eq!(page.mentions[0].text, "entry 0");
    assert_eq!(page.mentions[0].author.handle, "@olena_fan");
    assert_eq!(
        page.mentions[0].id,
        format!("{}_{}", contest.remote_id, entries[0])
    );
    assert_eq!(
        page.mentions[0].in_reply_to,
        Some(contest.remote_id.clone())
    );
    let afters: Vec<Option<String>> = fake
        .calls("GET", "/comments")
        .iter()
        .map(|c| c.params.get("after").cloned())
        .collect();
    assert_eq!(afters, [None, Some("c-50".into())]);

    // A reply under an entry, and a comment on the post; neither needs an image.
    let mut answer = post("k2", "Good luck!", &[]);
    answer.reply_to = Some(page.mentions[0].id.clone());
    let reply = connector.post(&answer).await.unwrap();
    assert_eq!(
        fake.calls("POST", &format!("{}/replies", entries[0])).len(),
        1
    );
    assert!(
        reply
            .remote_id
            .starts_with(&format!("{}_", contest.remote_id))
    );
    let mut note = post("k3", "Winners on Friday", &[]);
    note.reply_to = Some(contest.remote_id.clone());
    connector.post(&note).await.unwrap();
    assert_eq!(
        fake.calls("POST", &format!("{}/comments", contest.remote_id))
            .len(),
        1
    );
    assert_eq!(connector.lookup(&note).await.unwrap(), Lookup::Unsupported);

    let cursor = page.cursor.unwrap();
    // A comment made after that read, in the second the cursor stopped at, is read next time,
    // with the one read in that second before (the stores keep each mention once).
    let cursor_second = chrono::DateTime::from_timestamp(cursor.parse().unwrap(), 0).unwrap();
    fake.add_comment(
        &contest.remote_id,
        FAN_ID,
        "same second",
        None,
        cursor_second,
    );
    fake.add_comment(
        &contest.remote_id,
        FAN_ID,
        "late entry",
        Some(&entries[2]),
        chrono::Utc::now() + chrono::TimeDelta::seconds(5),
    );
    let next = connector.mentions(Some(&cursor)).await.unwrap();
    let texts: Vec<&str> = next.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["entry 59", "same second", "late entry"],
        "our own answers are left out"
    );
    assert_eq!(
        next.mentions[2].in_reply_to,
        Some(format!("{}_{}", contest.remote_id, entries[2]))
    );
}

#[tokio::test]
async fn a_comment_is_read_again_as_it_is_now_or_as_gone() {
    let fake = FakeMeta::start(TOKEN);
    let connector = instagram(&fake, TOKEN);
    let contest = connector
        .post(&post("k1", "Comment to enter", &["a.png"]))
        .await
        .unwrap();
    let entry = fake.add_comment(
        &contest.remote_id,
        FAN_ID,
        "my entry",
        None,
        chrono::Utc::now(),
    );
    let id = format!("{}_{entry}", contest.remote_id);
    fake.edit_comment(&entry, "my entry, edited");
    let seen = connector.fetch_post(&id).await.unwrap().unwrap();
    assert_eq!(seen.text, "my entry, edited");
    assert_eq!(seen.in_reply_to, Some(contest.remote_id.clone()));
    fake.remove_comment(&entry);
    assert_eq!(connector.fetch_post(&id).await.unwrap(), None);
}

/// A folder with `brand_instagram` on the fake and a campaign posting `Launch day` with an
/// image at 10:00, fired into `store`; the dispatcher that sends it, with connectors of its
/// own (a new process's, which never saw what an earlier one made).
fn fired_launch(
    fake: &FakeMeta,
    store: &std::sync::Arc<dyn crier::store::Store>,
) -> ([tempfile::TempDir; 2], crier::engine::Dispatcher) {
    use chrono::TimeZone as _;
    use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
    use std::sync::Arc;

    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("instagram-token");
    std::fs::write(&token, TOKEN).unwrap();
    let config = format!(
        "timezone: UTC\nhttp: {{ timeout: 30s, connect_timeout: 2s }}\naccounts:\n  brand_instagram: {{ network: instagram, user: '{IG_USER}', token: 'file:{}', media_url: '{MEDIA_URL}', server: '{}' }}\n",
        token.display(),
        fake.instagram_url()
    );
    let campaign = "kind: campaign\nname: launch\nposts:\n  - id: teaser\n    at: \"2026-12-01 10:00\"\n    to: brand_instagram\n    text: Launch day\n    media: [look.png]\n";
    let (dir, plan) = crate::support::playbooks::valid_plan(
        &config,
        &[("launch.yaml", campaign), ("look.png", "\u{89}PNG")],
    );
    let start = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 59, 0).unwrap();
    if store
        .history(&crier::store::HistoryFilter::default())
        .unwrap()
        .is_empty()
    {
        let mut engine =
            Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
        engine.start(start).unwrap();
        engine.fire_due(ten()).unwrap();
    }
    let client = http::client(&plan.http).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client).unwrap();
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan);
    ([dir, secrets], dispatcher)
}

fn ten() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone as _;
    chrono::Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

/// Sends what is due in a task, and kills it (as a crash would) once `reached` holds: its
/// send stays claimed and in flight in the store.
async fn crash_when(dispatcher: crier::engine::Dispatcher, reached: impl Fn() -> bool) {
    let task = tokio::spawn(async move {
        let _ = dispatcher.dispatch_due(ten, None).await;
    });
    let mut waited = 0;
    while !reached() {
        assert!(waited < 400, "the send never got that far");
        waited += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    let _ = task.await;
}

/// The one send of the store.
fn the_send(store: &std::sync::Arc<dyn crier::store::Store>) -> crier::store::OutboxView {
    store
        .history(&crier::store::HistoryFilter::default())
        .unwrap()
        .remove(0)
        .outbox
        .remove(0)
}

/// A crash after the container was made and before it was published: the container's id
/// was kept with the send in the store, so the next process asks its status (ready, not
/// published) and publishes that container; no second container, exactly one post.
#[tokio::test]
async fn a_crash_before_publishing_publishes_the_kept_container_after_the_restart() {
    use crier::store::{OutboxState, SqliteStore, Store};
    use std::sync::Arc;

    let fake = FakeMeta::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crier.db");
    // The publish request never arrives while the first process lives.
    fake.push_fault("media_publish", Fault::Stall(Duration::from_secs(60)));
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
        let (_folder, dispatcher) = fired_launch(&fake, &store);
        crash_when(dispatcher, || {
            !fake.calls("POST", "media_publish").is_empty()
        })
        .await;
    }
    assert_eq!(fake.containers().len(), 1);
    assert!(fake.published().is_empty());
    let container = fake.containers()[0].id.clone();

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let later = ten() + chrono::TimeDelta::minutes(1);
    let recovered = store.recover_in_doubt(later.timestamp_millis()).unwrap();
    assert_eq!(recovered.in_doubt, 1);
    let (_folder, dispatcher) = fired_launch(&fake, &store);
    dispatcher.dispatch_due(|| later, None).await.unwrap();

    let send = the_send(&store);
    assert_eq!(send.state, OutboxState::Sent, "{send:?}");
    assert_eq!(fake.containers().len(), 1, "no second container");
    assert_eq!(fake.published().len(), 1, "exactly one post");
    assert_eq!(fake.published()[0].container, container);
    assert_eq!(
        send.remote_id.as_deref(),
        Some(fake.published()[0].id.as_str())
    );
    let status_reads = fake.calls("GET", container.as_str());
    assert!(
        !status_reads.is_empty(),
        "the kept container's status was asked"
    );
}

/// A crash after the publish request left (Meta published; the answer never came back):
/// the kept container says `PUBLISHED`, so the next process records the post it finds and
/// publishes nothing.
#[tokio::test]
async fn a_crash_after_publishing_records_the_post_the_kept_container_became() {
    use crier::store::{OutboxState, SqliteStore, Store};
    use std::sync::Arc;

    let fake = FakeMeta::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crier.db");
    fake.push_fault("media_publish", Fault::Slow(Duration::from_secs(60)));
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
        let (_folder, dispatcher) = fired_launch(&fake, &store);
        crash_when(dispatcher, || !fake.published().is_empty()).await;
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let later = ten() + chrono::TimeDelta::minutes(1);
    assert_eq!(
        store
            .recover_in_doubt(later.timestamp_millis())
            .unwrap()
            .in_doubt,
        1
    );
    let (_folder, dispatcher) = fired_launch(&fake, &store);
    dispatcher.dispatch_due(|| later, None).await.unwrap();

    let send = the_send(&store);
    assert_eq!(send.state, OutboxState::Sent, "{send:?}");
    assert_eq!(fake.containers().len(), 1);
    assert_eq!(fake.published().len(), 1, "exactly one post");
    assert_eq!(fake.calls("POST", "media_publish").len(), 1);
    assert_eq!(
        send.remote_id.as_deref(),
        Some(fake.published()[0].id.as_str())
    );
}

/// `crier accounts connect` for an Instagram account: Facebook Login with Instagram's
/// permissions; the long-lived user token (no Page token) is written with its expiry, the
/// professional account found among the person's Pages, and `crier accounts check` then
/// passes. An account whose `user:` no Page links to is refused, listing the ones there are.
#[tokio::test]
async fn accounts_connect_finds_the_instagram_account_through_the_persons_pages() {
    use crate::support::connect::{Connecting, check};
    use crate::support::fake_meta::{APP_ID, APP_SECRET, IG_USERNAME};
    use crier::connectors::meta::connect::INSTAGRAM_SCOPES;
    let envs = &[("CRIER_TEST_META_SECRET", APP_SECRET)];
    let fake = FakeMeta::start("EAAG-unused");
    let page = format!("{}/dialog/oauth?", fake.instagram_url());
    let write = |dir: &tempfile::TempDir, user: &str| {
        let file = dir.path().join("instagram.json");
        std::fs::write(
            dir.path().join("crier.yaml"),
            format!(
                "timezone: UTC\naccounts:\n  brand_instagram: {{ network: instagram, user: '{user}', token: 'file:{}', media_url: '{MEDIA_URL}', client_id: '{APP_ID}', client_secret: env:CRIER_TEST_META_SECRET, server: '{}' }}\n",
                file.display(),
                fake.instagram_url()
            ),
        )
        .unwrap();
        file
    };

    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, IG_USER);
    let connecting = Connecting::start(dir.path(), "brand_instagram", envs, &page);
    assert_eq!(connecting.query["scope"], INSTAGRAM_SCOPES.join(","));
    let (_, done) = connecting.approve(|r| fake.authorize(r)).await;
    assert!(done.success, "{}", done.stderr);
    assert!(
        done.stdout.contains(&format!(
            "(the Instagram account @{IG_USERNAME} ({IG_USER}) through the Page \"Brand\")"
        )),
        "{}",
        done.stdout
    );
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let token = stored["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("EAAG-renewed-"), "{stored}");
    assert!(stored.get("page_token").is_none(), "{stored}");
    assert!(stored["expires_at"].is_string(), "{stored}");
    let before = fake.requests().len();
    let (ok, said) = check(dir.path(), envs);
    assert!(ok, "{said}");
    assert!(
        fake.requests()[before..]
            .iter()
            .any(|r| r.path.contains(IG_USER) && r.bearer.as_deref() == Some(token.as_str()))
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let file = write(&elsewhere, "17841400000000999");
    let connecting = Connecting::start(elsewhere.path(), "brand_instagram", envs, &page);
    let (_, done) = connecting.approve(|r| fake.authorize(r)).await;
    assert!(!done.success);
    assert!(
        done.stderr.contains(&format!(
            "account `brand_instagram`: the Instagram account `17841400000000999` is not linked to any Page the person who signed in manages (they manage: {IG_USER} @{IG_USERNAME} through the Page \"Brand\"); put one of these ids in the account's `user:`"
        )),
        "{}",
        done.stderr
    );
    assert!(!file.exists());
}
