//! The Threads connector against a fake Threads API on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::meta::{Flavor, MetaConnector};
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Lookup, OutgoingPost, SendError};
use crier::network::Network;

use crate::support::fake_meta::{FakeMeta, Fault, THREADS_FOLLOWERS, THREADS_USER};

const TOKEN: &str = "THQWJ-long-lived-41aa";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn threads(fake: &FakeMeta, media_url: Option<&str>) -> MetaConnector {
    let graph = MetaConnector::graph(
        Flavor::Threads,
        fake.threads_url().parse().unwrap(),
        Secret::new(TOKEN),
        client(),
    );
    MetaConnector::new(
        "brand_threads",
        Flavor::Threads,
        graph,
        THREADS_USER,
        media_url.map(|u| u.parse().unwrap()),
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
async fn text_posts_and_replies_are_containers_then_published() {
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    let parent = connector
        .post(&post("k1", "Hello, Threads", &[]))
        .await
        .unwrap();
    let containers = fake.containers();
    assert_eq!(containers[0].params["media_type"], "TEXT");
    assert_eq!(containers[0].params["text"], "Hello, Threads");
    let publish = fake.calls("POST", "threads_publish");
    assert_eq!(
        publish[0].path,
        format!("/v1.0/{THREADS_USER}/threads_publish")
    );
    assert_eq!(publish[0].params["creation_id"], containers[0].id);
    assert_eq!(parent.remote_id, fake.published()[0].id);

    let mut reply = post("k2", "More soon", &[]);
    reply.reply_to = Some(parent.remote_id.clone());
    connector.post(&reply).await.unwrap();
    assert_eq!(fake.containers()[1].params["reply_to_id"], parent.remote_id);
}

#[tokio::test]
async fn images_need_a_media_url_and_several_make_a_carousel() {
    let fake = FakeMeta::start(TOKEN);
    let err = threads(&fake, None)
        .post(&post("k1", "Look", &["a.png"]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "Threads fetches images from a public address, and account `brand_threads` has no `media_url`"
    );
    let connector = threads(&fake, Some("https://cdn.example.com/crier"));
    connector
        .post(&post("k2", "Look", &["a.png"]))
        .await
        .unwrap();
    let single = &fake.containers()[0];
    assert_eq!(single.params["media_type"], "IMAGE");
    assert_eq!(
        single.params["image_url"],
        "https://cdn.example.com/crier/a.png"
    );
    connector
        .post(&post("k3", "Looks", &["a.png", "b.png"]))
        .await
        .unwrap();
    let containers = fake.containers();
    assert_eq!(containers.len(), 4);
    assert_eq!(containers[1].params["is_carousel_item"], "true");
    assert_eq!(containers[3].params["media_type"], "CAROUSEL");
}

#[tokio::test]
async fn text_over_500_characters_is_refused_before_sending() {
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    connector
        .post(&post("k1", &"ы".repeat(500), &[]))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", &"ы".repeat(501), &[]))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the text has 501 characters and Threads allows 500".into()
        }
    );
    assert_eq!(fake.containers().len(), 1);
}

#[tokio::test]
async fn a_lost_publish_answer_is_settled_by_the_containers_status() {
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    let first_attempt = chrono::Utc::now();
    fake.push_fault("threads_publish", Fault::AcceptThenDrop);
    let sent = post("k1", "Launch day", &[]);
    let err = connector.post(&sent).await.unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    let Lookup::Found(found) = connector
        .lookup_since(&sent, Some(first_attempt))
        .await
        .unwrap()
    else {
        panic!("found")
    };
    assert_eq!(found.remote_id, fake.published()[0].id);
    let container = fake.containers()[0].id.clone();
    assert_eq!(
        fake.calls("GET", &container)[0].params["fields"],
        "status,error_message"
    );
    let listed = fake.calls("GET", &format!("{THREADS_USER}/threads"));
    assert!(listed[0].params.contains_key("since"));
}

#[tokio::test]
async fn metrics_come_from_insights_and_delete_is_idempotent() {
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    let sent = connector.post(&post("k1", "Sale", &[])).await.unwrap();
    fake.set_counts(&sent.remote_id, 9, 4, 300);
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(THREADS_FOLLOWERS));
    let counts = &snapshot.posts[0];
    assert_eq!(
        (counts.likes, counts.replies, counts.reposts, counts.views),
        (9, 4, 3, Some(300))
    );
    connector.delete(&sent.remote_id).await.unwrap();
    assert!(fake.published().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();
}

#[test]
fn the_table_says_what_threads_can_do() {
    let caps = Network::Threads.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete && caps.metrics && caps.lookup);
    assert!(!caps.read_mentions && !caps.direct_message && !caps.idempotency_key);
    let limit = Network::Threads.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (500, "characters"));
    assert!(!Network::Threads.profile().media_required);
}
