//! The Bluesky connector against a fake PDS on 127.0.0.1: the exact XRPC requests, sessions
//! and their refresh, every class of failure, the outcome-unknown path that must not post
//! twice, mentions with paging, metrics, deletes, and secrets that never show.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::{Value, json};

use crier::connectors::bluesky::BlueskyConnector;
use crier::connectors::bluesky::rkey::{is_tid, record_key};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::Secret;
use crier::connectors::{
    Capabilities, Connector, ConnectorError, Connectors, Delivered, Lookup, OutgoingPost, SendError,
};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_bluesky::{DID, FakeBluesky, FakeProfile, Fault, HANDLE, PASSWORD, POST};

const CREATE: &str = "com.atproto.repo.createRecord";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn connector(fake: &FakeBluesky) -> BlueskyConnector {
    connector_with(fake, PASSWORD)
}

fn connector_with(fake: &FakeBluesky, password: &str) -> BlueskyConnector {
    BlueskyConnector::new(
        "brand_bluesky",
        HANDLE,
        Secret::new(password),
        fake.url().parse().unwrap(),
        client(),
    )
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: vec![],
        reply_to: None,
        playbook: "launch".into(),
        item: "teaser".into(),
        direct_to: None,
        notice: false,
    }
}

fn own_uri(key: &str) -> String {
    format!("at://{DID}/{POST}/{}", record_key(key))
}

fn ann() -> FakeProfile {
    FakeProfile {
        did: "did:plc:annaaaaaaaaaaaaaaaaaaaa".into(),
        handle: "ann.bsky.social".into(),
        display_name: Some("Ann".into()),
        followers: 1234,
        created_at: "2023-05-01T10:00:00.000Z".into(),
        follows_account: true,
    }
}

fn bo() -> FakeProfile {
    FakeProfile {
        did: "did:plc:boaaaaaaaaaaaaaaaaaaaaa".into(),
        handle: "bo.example.com".into(),
        display_name: None,
        followers: 7,
        created_at: "2025-11-20T08:00:00.000Z".into(),
        follows_account: false,
    }
}

fn text_record(text: &str) -> Value {
    json!({ "$type": POST, "text": text, "createdAt": "2026-03-01T12:00:00.000Z" })
}

#[tokio::test]
async fn post_signs_in_and_creates_the_record_with_facets() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    let bluesky = connector(&fake);
    let text = "Привіт @ann.bsky.social and @nobody.example.com! Sale at https://shop.example.com/boots. #WinterSale";
    let delivered = bluesky.post(&post("run-1/teaser", text)).await.unwrap();
    let rkey = record_key("run-1/teaser");
    assert!(is_tid(&rkey));
    assert_eq!(
        delivered,
        Delivered {
            remote_id: own_uri("run-1/teaser"),
            url: Some(format!("https://bsky.app/profile/{HANDLE}/post/{rkey}")),
        }
    );
    assert_eq!(
        fake.calls(),
        [
            "com.atproto.server.createSession",
            "com.atproto.identity.resolveHandle",
            "com.atproto.identity.resolveHandle",
            CREATE,
        ]
    );
    let sign_in = &fake.requests()[0];
    assert_eq!(
        sign_in.json(),
        json!({ "identifier": HANDLE, "password": PASSWORD })
    );
    assert!(sign_in.header("authorization").is_none());

    let create = &fake.requests_to(CREATE)[0];
    let auth = create.header("authorization").unwrap();
    assert!(
        auth.starts_with("Bearer ") && auth.split('.').count() == 3,
        "{auth}"
    );
    assert!(create.header("user-agent").unwrap().starts_with("crier/"));
    let body = create.json();
    assert_eq!(body["repo"], DID);
    assert_eq!(body["collection"], POST);
    assert_eq!(body["rkey"], rkey.as_str());
    let record = &body["record"];
    assert_eq!(record["$type"], POST);
    assert_eq!(record["text"], text);
    let created_at = DateTime::parse_from_rfc3339(record["createdAt"].as_str().unwrap()).unwrap();
    assert!(
        (Utc::now() - created_at.with_timezone(&Utc))
            .num_seconds()
            .abs()
            < 60
    );
    assert!(record.get("reply").is_none() && record.get("embed").is_none());
    // "Привіт " is 13 bytes; the unresolvable mention stays plain text.
    let link_start = text.find("https://").unwrap();
    let tag_start = text.find('#').unwrap();
    assert_eq!(
        record["facets"],
        json!([
            { "index": { "byteStart": 13, "byteEnd": 29 },
              "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": ann().did }] },
            { "index": { "byteStart": link_start, "byteEnd": link_start + "https://shop.example.com/boots".len() },
              "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": "https://shop.example.com/boots" }] },
            { "index": { "byteStart": tag_start, "byteEnd": text.len() },
              "features": [{ "$type": "app.bsky.richtext.facet#tag", "tag": "WinterSale" }] },
        ])
    );
    assert_eq!(fake.created_count(), 1);
}

#[tokio::test]
async fn replies_carry_the_parent_and_the_thread_root() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    let (root_uri, root_cid) = fake.add_post(&ann().did, text_record("Which boots?"));
    let mut reply_record = text_record("The red ones?");
    reply_record["reply"] = json!({
        "root": { "uri": root_uri, "cid": root_cid },
        "parent": { "uri": root_uri, "cid": root_cid },
    });
    let (parent_uri, parent_cid) = fake.add_post(&ann().did, reply_record);
    let bluesky = connector(&fake);

    let mut reply = post("k-reply", "Yes, the red ones!");
    reply.reply_to = Some(parent_uri.clone());
    bluesky.post(&reply).await.unwrap();
    let get_posts = &fake.requests_to("app.bsky.feed.getPosts")[0];
    assert_eq!(get_posts.params("uris"), [parent_uri.as_str()]);
    assert_eq!(
        fake.requests_to(CREATE)[0].json()["record"]["reply"],
        json!({
            "root": { "uri": root_uri, "cid": root_cid },
            "parent": { "uri": parent_uri, "cid": parent_cid },
        })
    );

    // A post that is not itself a reply is the root; a bsky.app address works too.
    let rkey = root_uri.rsplit('/').next().unwrap();
    reply.idempotency_key = "k-reply-2".into();
    reply.reply_to = Some(format!(
        "https://bsky.app/profile/ann.bsky.social/post/{rkey}"
    ));
    bluesky.post(&reply).await.unwrap();
    let root = json!({ "uri": root_uri, "cid": root_cid });
    assert_eq!(
        fake.requests_to(CREATE)[1].json()["record"]["reply"],
        json!({ "root": root, "parent": root })
    );

    reply.idempotency_key = "k-reply-3".into();
    reply.reply_to = Some(format!("at://{}/{POST}/3zzzzzzzzzzzz", ann().did));
    let err = bluesky.post(&reply).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason } if reason.contains("does not exist")),
        "{err:?}"
    );
    reply.reply_to = Some("12345".into());
    let err = bluesky.post(&reply).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert_eq!(fake.created_count(), 2);
}

#[tokio::test]
async fn images_are_uploaded_as_blobs_with_their_alt_text() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("teaser.png");
    let jpg = dir.path().join("jacket.JPG");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nfake png").unwrap();
    std::fs::write(&jpg, b"\xff\xd8\xff fake jpeg").unwrap();
    std::fs::write(
        dir.path().join("teaser.png.alt.txt"),
        "A red boot in snow\n",
    )
    .unwrap();
    let fake = FakeBluesky::start();
    let bluesky = connector(&fake);
    let mut outgoing = post("k-media", "New boots");
    outgoing.media = vec![png.clone(), jpg.clone()];
    bluesky.post(&outgoing).await.unwrap();

    let uploads = fake.requests_to("com.atproto.repo.uploadBlob");
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].header("content-type"), Some("image/png"));
    assert_eq!(&uploads[0].body[..], b"\x89PNG\r\n\x1a\nfake png");
    assert_eq!(uploads[1].header("content-type"), Some("image/jpeg"));
    assert!(uploads[0].header("authorization").is_some());
    let embed = &fake.requests_to(CREATE)[0].json()["record"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images");
    let images = embed["images"].as_array().unwrap();
    assert_eq!(images[0]["alt"], "A red boot in snow");
    assert_eq!(images[1]["alt"], "");
    assert_eq!(images[0]["image"]["mimeType"], "image/png");
    let blobs = fake.blobs();
    assert!(blobs.contains_key(images[1]["image"]["ref"]["$link"].as_str().unwrap()));

    // Refused before anything is sent: five images, a huge one, a format Bluesky does not take.
    let before = fake.requests().len();
    outgoing.media = vec![png.clone(); 5];
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the post has 5 images; Bluesky allows 4".into()
        }
    );
    let huge = dir.path().join("huge.webp");
    std::fs::write(&huge, vec![0u8; 1_000_001]).unwrap();
    outgoing.media = vec![huge];
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert!(
        err.reason().contains("1000001 bytes") && err.reason().contains("1000000"),
        "{err}"
    );
    outgoing.media = vec![dir.path().join("notes.txt")];
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert!(err.reason().contains("JPEG, PNG, GIF or WebP"), "{err}");
    outgoing.media = vec![dir.path().join("missing.png")];
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert_eq!(fake.requests().len(), before);
}

#[tokio::test]
async fn text_over_300_graphemes_is_refused_before_sending() {
    let fake = FakeBluesky::start();
    let bluesky = connector(&fake);
    // "é" written as e + a combining accent: two code points, one grapheme.
    let accented = "e\u{301}";
    let err = bluesky
        .post(&post("k", &accented.repeat(301)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the post is 301 characters long; Bluesky allows 300".into()
        }
    );
    assert!(fake.requests().is_empty());
    // 300 of them (900 bytes, 600 code points) are fine.
    bluesky
        .post(&post("k", &accented.repeat(300)))
        .await
        .unwrap();
    assert_eq!(fake.created_count(), 1);
}

#[tokio::test]
async fn health_checks_the_session_and_a_wrong_password_is_permanent() {
    let fake = FakeBluesky::start();
    connector(&fake).health().await.unwrap();
    assert_eq!(
        fake.calls(),
        [
            "com.atproto.server.createSession",
            "com.atproto.server.getSession"
        ]
    );
    assert!(
        fake.requests()[1]
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ")
    );

    let err = connector_with(&fake, "wrong-pass-word")
        .health()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Bluesky refused the sign-in (HTTP 401 Unauthorized): Invalid identifier or password; \
                     check the account's `handle` and `app_password` in crier.yaml (account `brand.bsky.social`)"
                .into()
        }
    );
}

#[tokio::test]
async fn a_short_lived_access_token_is_refreshed_before_it_expires() {
    let fake = FakeBluesky::start();
    // Less than the five minutes crier keeps in hand.
    fake.set_access_ttl(Duration::from_secs(120));
    let bluesky = connector(&fake);
    bluesky.health().await.unwrap();
    bluesky.health().await.unwrap();
    assert_eq!(
        fake.calls(),
        [
            "com.atproto.server.createSession",
            "com.atproto.server.getSession",
            "com.atproto.server.refreshSession",
            "com.atproto.server.getSession",
        ]
    );
    let requests = fake.requests();
    let first_session: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first_session["identifier"], HANDLE);
    // The refresh is signed with the refresh token, and the next call with the new access token.
    let refresh_auth = requests[2].header("authorization").unwrap();
    assert_ne!(refresh_auth, requests[1].header("authorization").unwrap());
    assert_ne!(
        requests[3].header("authorization"),
        requests[1].header("authorization")
    );
    assert!(requests.iter().all(|r| r.status == 200));
}

#[tokio::test]
async fn an_expired_token_answer_refreshes_and_retries_once() {
    let fake = FakeBluesky::start();
    let bluesky = connector(&fake);
    bluesky.health().await.unwrap();
    fake.expire_access_tokens();
    bluesky.post(&post("k", "hi")).await.unwrap();
    assert_eq!(
        fake.calls(),
        [
            "com.atproto.server.createSession",
            "com.atproto.server.getSession",
            CREATE,
            "com.atproto.server.refreshSession",
            CREATE,
        ]
    );
    let creates = fake.requests_to(CREATE);
    assert_eq!(creates[0].status, 400);
    assert_eq!(creates[0].json()["rkey"], creates[1].json()["rkey"]);
    assert_eq!(fake.created_count(), 1);

    // When the refresh token is gone too, crier signs in again.
    fake.expire_access_tokens();
    fake.revoke_refresh_tokens();
    bluesky.health().await.unwrap();
    assert_eq!(
        fake.calls()[5..],
        [
            "com.atproto.server.getSession",
            "com.atproto.server.refreshSession",
            "com.atproto.server.createSession",
            "com.atproto.server.getSession",
        ]
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_sign_in() {
    let fake = FakeBluesky::start();
    let bluesky = std::sync::Arc::new(connector(&fake));
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let bluesky = bluesky.clone();
            tokio::spawn(async move { bluesky.health().await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(
        fake.requests_to("com.atproto.server.createSession").len(),
        1
    );
    assert_eq!(fake.requests_to("com.atproto.server.getSession").len(), 6);
}

#[tokio::test]
async fn rate_limit_waits_until_ratelimit_reset() {
    let fake = FakeBluesky::start();
    fake.push_fault(
        CREATE,
        Fault::RateLimited {
            reset_in: Duration::from_secs(30),
        },
    );
    let err = connector(&fake).post(&post("k", "hi")).await.unwrap_err();
    let SendError::RetryAfter { after, reason } = &err else {
        panic!("{err:?}")
    };
    // Epoch seconds are whole seconds, and the request took a moment.
    assert!(
        *after > Duration::from_secs(27) && *after <= Duration::from_secs(30),
        "{after:?}"
    );
    assert!(
        reason.starts_with("Bluesky is rate limiting (HTTP 429 Too Many Requests)"),
        "{reason}"
    );
    assert_eq!(fake.created_count(), 0);
}

#[tokio::test]
async fn rate_limit_without_hints_waits_the_default() {
    let fake = FakeBluesky::start();
    fake.push_fault("com.atproto.server.createSession", Fault::RateLimitedNoHint);
    let err = connector(&fake).post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == http::DEFAULT_RETRY_AFTER),
        "{err:?}"
    );
    assert_eq!(fake.calls(), ["com.atproto.server.createSession"]);
}

#[tokio::test]
async fn server_error_is_transient_and_checked_for_an_earlier_post() {
    let fake = FakeBluesky::start();
    fake.push_fault(CREATE, Fault::ServerError);
    let err = connector(&fake).post(&post("k", "hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Transient {
            reason: "Bluesky failed (HTTP 500 Internal Server Error)".into()
        }
    );
    // The record key was looked up, and was not there.
    assert_eq!(fake.calls()[1..], [CREATE, "com.atproto.repo.getRecord"]);
    assert_eq!(fake.created_count(), 0);
}

#[tokio::test]
async fn xrpc_errors_are_permanent_in_plain_words() {
    let fake = FakeBluesky::start();
    fake.push_fault(
        CREATE,
        Fault::Xrpc {
            status: 400,
            error: "InvalidRequest".into(),
            message:
                "Invalid app.bsky.feed.post record: Record/langs/0 must be a valid language code"
                    .into(),
        },
    );
    fake.push_fault(
        CREATE,
        Fault::Xrpc {
            status: 400,
            error: "AccountTakedown".into(),
            message: "Account has been taken down".into(),
        },
    );
    let bluesky = connector(&fake);
    let err = bluesky.post(&post("k", "hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Bluesky refused the post (HTTP 400 Bad Request): Invalid app.bsky.feed.post record: Record/langs/0 must be a valid language code".into()
        }
    );
    let err = bluesky.post(&post("k", "hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Bluesky refused the post (HTTP 400 Bad Request): Account has been taken down; the account has been taken down by Bluesky moderation".into()
        }
    );
    assert_eq!(fake.created_count(), 0);
}

#[tokio::test]
async fn a_dropped_answer_is_outcome_unknown_and_lookup_finds_the_post() {
    let fake = FakeBluesky::start();
    fake.push_fault(CREATE, Fault::AcceptThenDrop);
    let bluesky = connector(&fake);
    let outgoing = post("run-7/announce", "We are live");
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.created_count(), 1);

    let expected = Delivered {
        remote_id: own_uri("run-7/announce"),
        url: Some(format!(
            "https://bsky.app/profile/{HANDLE}/post/{}",
            record_key("run-7/announce")
        )),
    };
    assert_eq!(
        bluesky.lookup(&outgoing).await.unwrap(),
        Lookup::Found(expected.clone())
    );
    let get_record = fake.requests_to("com.atproto.repo.getRecord");
    assert_eq!(get_record[0].params("repo"), [DID]);
    assert_eq!(get_record[0].params("collection"), [POST]);
    assert_eq!(
        get_record[0].params("rkey"),
        [record_key("run-7/announce").as_str()]
    );
    assert_eq!(
        bluesky.lookup(&post("run-7/other", "x")).await.unwrap(),
        Lookup::NotFound
    );

    // Even a blind resend cannot post twice: the PDS refuses the key, and crier finds the post.
    assert_eq!(bluesky.post(&outgoing).await.unwrap(), expected);
    assert_eq!(fake.created_count(), 1);
    assert_eq!(fake.own_posts().len(), 1);
    assert_eq!(fake.requests_to(CREATE).last().unwrap().status, 500);
}

#[tokio::test]
async fn a_slow_answer_is_outcome_unknown_and_a_resend_is_no_duplicate() {
    let fake = FakeBluesky::start();
    // Today's PDS answers a repeated key with a 500; the coming one with an explicit error.
    fake.set_duplicate_answer(400, "RecordAlreadyExists", "Record already exists");
    fake.push_fault(CREATE, Fault::Slow(Duration::from_secs(5)));
    let bluesky = connector(&fake);
    let outgoing = post("run-8/announce", "We are live");
    let err = bluesky.post(&outgoing).await.unwrap_err();
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    let delivered = bluesky.post(&outgoing).await.unwrap();
    assert_eq!(delivered.remote_id, own_uri("run-8/announce"));
    assert_eq!(fake.created_count(), 1);
    assert_eq!(fake.requests_to(CREATE).len(), 2);
}

#[tokio::test]
async fn a_slow_upload_is_transient_since_no_post_was_made() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("a.png");
    std::fs::write(&png, b"png").unwrap();
    let fake = FakeBluesky::start();
    fake.push_fault(
        "com.atproto.repo.uploadBlob",
        Fault::Slow(Duration::from_secs(5)),
    );
    let mut outgoing = post("k", "hi");
    outgoing.media = vec![png];
    let err = connector(&fake).post(&outgoing).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(fake.requests_to(CREATE).is_empty());
}

#[tokio::test]
async fn mentions_page_through_notifications_oldest_first() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    fake.add_profile(bo());
    let (own, own_cid) = fake.add_post(DID, text_record("Our winter sale"));
    let start = Utc::now() - TimeDelta::hours(3);
    let notify = |n: i64, reason: &str| {
        let author = if n % 2 == 0 { ann().did } else { bo().did };
        let mut record = text_record(&format!("note {n}"));
        if reason == "reply" {
            record["reply"] = json!({
                "root": { "uri": own, "cid": own_cid },
                "parent": { "uri": own, "cid": own_cid },
            });
        }
        let (uri, _) = fake.add_post(&author, record);
        fake.add_notification(&uri, reason, start + TimeDelta::seconds(n));
        uri
    };
    let mut uris = BTreeMap::new();
    for n in 0..60 {
        let reason = ["mention", "reply", "like"][n as usize % 3];
        uris.insert(n, notify(n, reason));
    }
    let bluesky = connector(&fake);

    // No cursor: the most recent page (here all 40 mentions and replies), oldest first.
    let first = bluesky.mentions(None).await.unwrap();
    assert_eq!(first.mentions.len(), 40);
    assert_eq!(first.mentions[0].text, "note 0");
    assert_eq!(first.mentions[39].text, "note 58");
    let listed = fake.requests_to("app.bsky.notification.listNotifications");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].params("reasons"), ["mention", "reply"]);
    assert_eq!(listed[0].params("limit"), ["50"]);
    let cursor = first.cursor.clone().unwrap();

    let mention = &first.mentions[0];
    assert_eq!(mention.id, uris[&0]);
    assert_eq!(mention.in_reply_to, None);
    assert_eq!(mention.author.id, ann().did);
    assert_eq!(mention.author.handle, "ann.bsky.social");
    assert_eq!(mention.author.display_name.as_deref(), Some("Ann"));
    assert_eq!(mention.author.followers, Some(1234));
    assert_eq!(mention.author.follows_account, Some(true));
    assert_eq!(
        mention.author.created_at,
        Some("2023-05-01T10:00:00Z".parse().unwrap())
    );
    assert_eq!(
        mention.url.as_deref(),
        Some(
            format!(
                "https://bsky.app/profile/ann.bsky.social/post/{}",
                uris[&0].rsplit('/').next().unwrap()
            )
            .as_str()
        )
    );
    let reply = &first.mentions[1];
    assert_eq!(reply.text, "note 1");
    assert_eq!(reply.in_reply_to.as_deref(), Some(own.as_str()));
    assert_eq!(reply.author.display_name, None);
    assert_eq!(reply.author.followers, Some(7));
    assert_eq!(reply.author.follows_account, Some(false));
    let profiles = fake.requests_to("app.bsky.actor.getProfiles");
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].params("actors").len(), 2);

    // 120 more, of which 80 mentions and replies: two pages of 50 reach back to the cursor.
    for n in 60..180 {
        let reason = ["mention", "reply", "like"][n as usize % 3];
        uris.insert(n, notify(n, reason));
    }
    let second = bluesky.mentions(Some(&cursor)).await.unwrap();
    let texts: Vec<String> = second.mentions.iter().map(|m| m.text.clone()).collect();
    let expected: Vec<String> = (60..180)
        .filter(|n| n % 3 != 2)
        .map(|n| format!("note {n}"))
        .collect();
    assert_eq!(texts, expected);
    let listed = fake.requests_to("app.bsky.notification.listNotifications");
    assert_eq!(listed.len(), 3);
    assert!(listed[1].params("cursor").is_empty());
    assert_eq!(listed[2].params("cursor").len(), 1);
    let cursor = second.cursor.unwrap();

    // Nothing new: no mentions, and the cursor is kept.
    let third = bluesky.mentions(Some(&cursor)).await.unwrap();
    assert!(third.mentions.is_empty());
    assert_eq!(third.cursor, None);
}

fn record_at(text: &str, at: DateTime<Utc>) -> Value {
    json!({ "$type": POST, "text": text, "createdAt": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) })
}

#[tokio::test]
async fn a_hashtag_search_finds_posts_by_anyone_oldest_first_without_the_accounts_own() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    fake.add_profile(bo());
    let bluesky = connector(&fake);
    let start = Utc::now() - TimeDelta::hours(1);
    let announcement = bluesky
        .post(&post("k", "Post with #WarmWinter to win"))
        .await
        .unwrap()
        .remote_id;
    let (first, _) = fake.add_post(&ann().did, record_at("my #WarmWinter photo", start));
    fake.add_post(
        &bo().did,
        record_at("#warmwinters is another tag", start + TimeDelta::seconds(1)),
    );
    let (second, _) = fake.add_post(
        &bo().did,
        record_at("me please #warmwinter", start + TimeDelta::seconds(2)),
    );
    let page = bluesky.search_hashtag("warmwinter", None).await.unwrap();
    let found: Vec<(&str, &str)> = page
        .mentions
        .iter()
        .map(|m| (m.id.as_str(), m.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (first.as_str(), "my #WarmWinter photo"),
            (second.as_str(), "me please #warmwinter")
        ],
        "the announcement ({announcement}) is the account's own"
    );
    let ann_facts = &page.mentions[0].author;
    assert_eq!(
        (ann_facts.id.as_str(), ann_facts.handle.as_str()),
        (ann().did.as_str(), "ann.bsky.social")
    );
    assert_eq!(ann_facts.followers, Some(1234));
    assert_eq!(ann_facts.follows_account, Some(true));
    assert_eq!(
        ann_facts.created_at,
        Some("2023-05-01T10:00:00Z".parse().unwrap())
    );
    assert_eq!(page.mentions[0].created_at, start.trunc_subsecs(3));
    let search = &fake.requests_to("app.bsky.feed.searchPosts")[0];
    assert_eq!(search.params("q"), ["#warmwinter"]);
    assert_eq!(search.params("sort"), ["latest"]);
    assert_eq!(search.params("limit"), ["100"]);
    assert!(search.params("since").is_empty());
    assert!(search.header("authorization").is_some());
    assert!(page.cursor.is_some());
}

#[tokio::test]
async fn a_hashtag_search_from_a_cursor_reads_every_page_since_it() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    let start = Utc::now() - TimeDelta::days(2);
    let at = |n: i64| start + TimeDelta::minutes(n);
    for n in 0..250 {
        fake.add_post(&ann().did, record_at(&format!("#win {n}"), at(n)));
    }
    let bluesky = connector(&fake);
    // No cursor: the most recent page.
    let first = bluesky.search_hashtag("win", None).await.unwrap();
    assert_eq!(first.mentions.len(), 100);
    assert_eq!(first.mentions[0].text, "#win 150");
    assert_eq!(first.mentions[99].text, "#win 249");
    let cursor = first.cursor.unwrap();
    assert_eq!(
        DateTime::parse_from_rfc3339(&cursor).unwrap(),
        at(249).trunc_subsecs(3)
    );
    for n in 250..380 {
        fake.add_post(&ann().did, record_at(&format!("#win {n}"), at(n)));
    }
    // From the cursor: everything since ten minutes before it (posts indexed late sort
    // earlier than they arrive), in two pages, each post once, oldest first.
    let second = bluesky.search_hashtag("win", Some(&cursor)).await.unwrap();
    let texts: Vec<String> = second.mentions.iter().map(|m| m.text.clone()).collect();
    let expected: Vec<String> = (239..380).map(|n| format!("#win {n}")).collect();
    assert_eq!(texts, expected);
    let searches = fake.requests_to("app.bsky.feed.searchPosts");
    assert_eq!(searches.len(), 3);
    let since = DateTime::parse_from_rfc3339(searches[1].params("since")[0]).unwrap();
    assert_eq!(since, at(239).trunc_subsecs(3));
    assert!(searches[1].params("cursor").is_empty());
    assert_eq!(searches[2].params("cursor"), ["100"]);
    assert_eq!(searches[2].params("since"), searches[1].params("since"));
    let cursor = second.cursor.unwrap();
    // Nothing new: the overlap comes again, and the cursor is kept.
    let third = bluesky.search_hashtag("win", Some(&cursor)).await.unwrap();
    assert_eq!(third.mentions.len(), 11);
    assert_eq!(third.cursor, None);
}

#[tokio::test]
async fn a_hashtag_search_keeps_the_class_of_a_failure() {
    let fake = FakeBluesky::start();
    let bluesky = connector(&fake);
    let search = "app.bsky.feed.searchPosts";
    fake.push_fault(
        search,
        Fault::Xrpc {
            status: 400,
            error: "BadQueryString".into(),
            message: "unsupported query".into(),
        },
    );
    let err = bluesky.search_hashtag("win", None).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    fake.push_fault(search, Fault::ServerError);
    let err = bluesky.search_hashtag("win", None).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    fake.push_fault(
        search,
        Fault::RateLimited {
            reset_in: Duration::from_secs(30),
        },
    );
    let err = bluesky.search_hashtag("win", None).await.unwrap_err();
    assert!(matches!(err, SendError::RetryAfter { .. }), "{err:?}");
    let err = connector_with(&fake, "wrong-password")
        .search_hashtag("win", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn metrics_read_followers_and_post_counts() {
    let fake = FakeBluesky::start();
    fake.set_followers(5120);
    let bluesky = connector(&fake);
    let first = bluesky.post(&post("k1", "one")).await.unwrap();
    let second = bluesky.post(&post("k2", "two")).await.unwrap();
    fake.set_counts(&first.remote_id, 31, 4, 2);
    fake.set_counts(&second.remote_id, 1, 0, 9);
    bluesky.delete(&second.remote_id).await.unwrap();
    let gone = second.remote_id.clone();
    let snapshot = bluesky
        .metrics(&[first.remote_id.clone(), gone, first.url.clone().unwrap()])
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(5120));
    assert_eq!(snapshot.posts.len(), 2);
    assert_eq!(snapshot.posts[0].remote_id, first.remote_id);
    assert_eq!(
        (
            snapshot.posts[0].likes,
            snapshot.posts[0].reposts,
            snapshot.posts[0].replies
        ),
        (31, 4, 2)
    );
    // The app address of the same post is read as the same post.
    assert_eq!(snapshot.posts[1].remote_id, first.url.unwrap());
    assert_eq!(snapshot.posts[1].likes, 31);
    let profile = &fake.requests_to("app.bsky.actor.getProfile")[0];
    assert_eq!(profile.params("actor"), [DID]);
    let get_posts = &fake.requests_to("app.bsky.feed.getPosts")[0];
    assert_eq!(get_posts.params("uris").len(), 3);
}

#[tokio::test]
async fn delete_removes_the_record_and_a_second_delete_succeeds() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    let bluesky = connector(&fake);
    let delivered = bluesky.post(&post("k", "oops")).await.unwrap();
    bluesky.delete(&delivered.remote_id).await.unwrap();
    assert!(fake.own_posts().is_empty());
    let delete = &fake.requests_to("com.atproto.repo.deleteRecord")[0];
    assert_eq!(
        delete.json(),
        json!({ "repo": DID, "collection": POST, "rkey": record_key("k") })
    );
    assert!(delete.header("authorization").is_some());
    bluesky.delete(&delivered.remote_id).await.unwrap();
    assert_eq!(
        bluesky.lookup(&post("k", "oops")).await.unwrap(),
        Lookup::NotFound
    );

    let (theirs, _) = fake.add_post(&ann().did, text_record("mine"));
    let err = bluesky.delete(&theirs).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason } if reason.contains("only the account's own posts")),
        "{err:?}"
    );
    assert_eq!(fake.requests_to("com.atproto.repo.deleteRecord").len(), 2);
}

#[tokio::test]
async fn direct_messages_are_not_offered() {
    let fake = FakeBluesky::start();
    let bluesky = connector(&fake);
    let caps = bluesky.capabilities();
    assert_eq!(caps, Capabilities::of(Network::Bluesky));
    assert!(!caps.direct_message);
    assert!(caps.post && caps.reply && caps.media && caps.delete);
    assert!(caps.read_mentions && caps.search_hashtags && caps.metrics && caps.lookup);
    let err = bluesky
        .direct_message("ann.bsky.social", &post("k", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the `bluesky` network cannot send direct messages".into()
        }
    );
    assert!(fake.requests().is_empty());
}

/// An account as `crier.yaml` would declare it, read through crier's own YAML reader.
fn account(name: &str, fields: &[(&str, &str)]) -> (String, Account) {
    let mut yaml = "network: bluesky\n".to_owned();
    for (field, value) in fields {
        yaml.push_str(&format!("{field}: '{value}'\n"));
    }
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    (
        name.into(),
        Account {
            name: name.into(),
            network: Network::Bluesky,
            config,
        },
    )
}

#[test]
fn registry_builds_bluesky_accounts_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("bsky");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let reference = format!("file:{}", secret.display());
    let accounts = BTreeMap::from([account(
        "brand_bluesky",
        &[
            ("handle", "@brand.bsky.social"),
            ("app_password", &reference),
        ],
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let bluesky = connectors.get("brand_bluesky").unwrap();
    assert_eq!(bluesky.network(), Network::Bluesky);
    let debug = format!("{bluesky:?}");
    assert!(debug.contains("https://bsky.social/"), "{debug}");
    assert!(debug.contains("\"brand.bsky.social\""), "{debug}");

    let broken = BTreeMap::from([
        account("no_handle", &[("app_password", &reference)]),
        account("no_password", &[("handle", "brand.bsky.social")]),
        account(
            "bad_service",
            &[
                ("handle", "brand.bsky.social"),
                ("app_password", &reference),
                ("service", "pds.example.com"),
            ],
        ),
    ]);
    let errors = Connectors::build(&broken, &client()).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "account `bad_service`: `service` is not an http(s) URL: relative URL without a base",
            "account `no_handle`: a `bluesky` account needs `handle`",
            "account `no_password`: a `bluesky` account needs `app_password`",
        ]
    );
    assert!(matches!(
        errors[1],
        ConnectorError::MissingField {
            field: "handle",
            ..
        }
    ));
}

#[tokio::test]
async fn the_app_password_and_tokens_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("bsky");
    std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    let fake = FakeBluesky::start();
    let accounts = BTreeMap::from([account(
        "brand_bluesky",
        &[
            ("handle", HANDLE),
            ("app_password", &format!("file:{}", secret.display())),
            ("service", &fake.url()),
        ],
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let bluesky = connectors.get("brand_bluesky").unwrap();
    bluesky.health().await.unwrap();
    let mut texts = vec![format!("{connectors:?}"), format!("{bluesky:?}")];
    let faults = [
        Fault::ServerError,
        Fault::Xrpc {
            status: 401,
            error: "AuthenticationRequired".into(),
            message: "Invalid identifier or password".into(),
        },
        Fault::AcceptThenDrop,
        Fault::RateLimited {
            reset_in: Duration::from_secs(5),
        },
    ];
    for (n, fault) in faults.into_iter().enumerate() {
        fake.push_fault(CREATE, fault);
        let err = bluesky
            .post(&post(&format!("k{n}"), "hi"))
            .await
            .unwrap_err();
        texts.extend([format!("{err}"), format!("{err:?}")]);
    }
    fake.expire_access_tokens();
    fake.revoke_refresh_tokens();
    fake.push_fault(
        "com.atproto.server.createSession",
        Fault::Xrpc {
            status: 401,
            error: "AuthenticationRequired".into(),
            message: "Invalid identifier or password".into(),
        },
    );
    let err = bluesky.health().await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}"), format!("{bluesky:?}")]);
    let tokens = fake.issued_tokens();
    assert!(!tokens.is_empty());
    for text in &texts {
        assert!(
            !text.contains(PASSWORD),
            "the app password leaked into: {text}"
        );
        for token in &tokens {
            let signature = token.rsplit('.').next().unwrap();
            assert!(!text.contains(signature), "a token leaked into: {text}");
        }
    }
    assert!(texts.iter().any(|t| t.contains("Secret(***)")));
}

/// A post read earlier, read again: its current text and author, `None` once deleted; an
/// id that is not a post's is refused before any request.
#[tokio::test]
async fn a_post_is_read_again_with_its_edit_or_as_deleted() {
    let fake = FakeBluesky::start();
    fake.add_profile(ann());
    let bluesky = connector(&fake);
    let (uri, _) = fake.add_post(&ann().did, record_at("#win me", Utc::now()));
    let seen = bluesky
        .fetch_post(&uri)
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(seen.text, "#win me");
    assert_eq!(seen.author.id, ann().did);
    fake.author_edits(&uri, "#win me, edited");
    assert_eq!(
        bluesky.fetch_post(&uri).await.unwrap().unwrap().text,
        "#win me, edited"
    );
    fake.author_deletes(&uri);
    assert_eq!(bluesky.fetch_post(&uri).await.unwrap(), None);
    assert!(matches!(
        bluesky.fetch_post("not-a-uri").await,
        Err(SendError::Permanent { .. })
    ));
}
