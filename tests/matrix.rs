//! The Matrix connector against a real Synapse (started by `scripts/synapse.sh`; skipped,
//! loudly, without one) and against a fake homeserver for what Synapse will not do on demand
//! (rate limits, failures, dropped connections).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::matrix::MatrixConnector;
use crier::connectors::matrix::content::{KEY_FIELD, MAX_EVENT_BYTES};
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Connectors, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};
use serde_json::json;

use crate::support::fake_matrix::{FakeMatrix, Fault};
use crate::support::synapse::{Synapse, User, unique};

/// A 3×2 red PNG.
const PNG: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1,
    0x4d, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
    0x41, 0x0c, 0x70, 0x16, 0x00, 0x41, 0xd2, 0x05, 0xfb, 0x87, 0xf0, 0xb9, 0x48, 0x00, 0x00, 0x00,
    0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

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

/// Short timeouts: a slow answer fails well under a second.
fn quick_client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

/// Synapse on a 2-core CI machine can take a moment for a first sync or an upload.
fn synapse_client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(15),
    })
    .unwrap()
}

fn connector(url: &str, room: &str, token: &str, client: reqwest::Client) -> MatrixConnector {
    MatrixConnector::new(
        "community",
        url.parse().unwrap(),
        room,
        Secret::new(token),
        client,
    )
}

/// A bot in a fresh public room with an alias, and a fan who joined it.
struct Room {
    synapse: Synapse,
    bot: User,
    fan: User,
    room_id: String,
    alias: String,
}

impl Room {
    async fn new(synapse: Synapse) -> Room {
        let bot = synapse.register("bot").await;
        let fan = synapse.register("fan").await;
        let alias_name = unique("room");
        let room_id = bot.create_public_room(&alias_name).await;
        fan.join(&room_id).await;
        Room {
            synapse,
            bot,
            fan,
            room_id,
            alias: format!("#{alias_name}:localhost"),
        }
    }

    /// The bot's connector, naming the room by its alias.
    fn connector(&self) -> MatrixConnector {
        connector(
            &self.synapse.url,
            &self.alias,
            &self.bot.access_token,
            synapse_client(),
        )
    }

    /// How many of the room's latest events carry `key`.
    async fn events_with_key(&self, key: &str) -> usize {
        self.fan
            .latest(&self.room_id, 100)
            .await
            .iter()
            .filter(|event| event["content"][KEY_FIELD] == key)
            .count()
    }
}

macro_rules! synapse_or_skip {
    ($test:expr) => {
        match Synapse::from_env($test) {
            Some(synapse) => synapse,
            None => return,
        }
    };
}

#[tokio::test]
async fn synapse_post_repeat_reply_image_and_redact() {
    let room = Room::new(synapse_or_skip!(
        "synapse_post_repeat_reply_image_and_redact"
    ))
    .await;
    let bot = room.connector();
    bot.health().await.unwrap();

    let first = bot
        .post(&post("run-1/teaser/community", "We launch today"))
        .await
        .unwrap();
    assert!(first.remote_id.starts_with('$'), "{first:?}");
    assert_eq!(
        first.url.as_deref(),
        Some(format!("https://matrix.to/#/{}/{}", room.room_id, first.remote_id).as_str())
    );
    let seen = room.fan.event(&room.room_id, &first.remote_id).await;
    assert_eq!(seen["sender"], room.bot.user_id.as_str());
    assert_eq!(seen["type"], "m.room.message");
    assert_eq!(seen["content"]["msgtype"], "m.text");
    assert_eq!(seen["content"]["body"], "We launch today");
    assert_eq!(seen["content"][KEY_FIELD], "run-1/teaser/community");

    // The same key again: the homeserver answers with the first event, and posts nothing.
    let again = bot
        .post(&post("run-1/teaser/community", "We launch today"))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(room.events_with_key("run-1/teaser/community").await, 1);
    assert_eq!(
        bot.lookup(&post("run-1/teaser/community", ""))
            .await
            .unwrap(),
        Lookup::Found(first.clone())
    );
    assert_eq!(
        bot.lookup(&post("run-1/other/community", ""))
            .await
            .unwrap(),
        Lookup::NotFound
    );

    let mut reply = post("run-1/thanks/community", "Thanks all!");
    reply.reply_to = Some(first.remote_id.clone());
    let reply = bot.post(&reply).await.unwrap();
    let seen = room.fan.event(&room.room_id, &reply.remote_id).await;
    assert_eq!(
        seen["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        first.remote_id.as_str()
    );

    let dir = tempfile::tempdir().unwrap();
    let image: PathBuf = dir.path().join("teaser.png");
    std::fs::write(&image, PNG).unwrap();
    let mut with_image = post("run-1/image/community", "Our new logo");
    with_image.media = vec![image];
    let pictured = bot.post(&with_image).await.unwrap();
    let seen = room.fan.event(&room.room_id, &pictured.remote_id).await;
    let content = &seen["content"];
    assert_eq!(content["msgtype"], "m.image");
    assert_eq!(content["body"], "Our new logo");
    assert_eq!(content["filename"], "teaser.png");
    assert!(
        content["url"]
            .as_str()
            .unwrap()
            .starts_with("mxc://localhost/"),
        "{content}"
    );
    assert_eq!(
        content["info"],
        json!({ "mimetype": "image/png", "size": PNG.len(), "w": 3, "h": 2 })
    );
    assert_eq!(
        bot.lookup(&with_image).await.unwrap(),
        Lookup::Found(pictured.clone())
    );

    bot.delete(&first.remote_id).await.unwrap();
    let seen = room.fan.event(&room.room_id, &first.remote_id).await;
    assert_eq!(seen["content"], json!({}), "{seen}");
    assert!(seen["unsigned"]["redacted_because"].is_object(), "{seen}");
    // Deleting what is already gone succeeds.
    bot.delete(&first.remote_id).await.unwrap();
    // A deleted post is no longer found.
    assert_eq!(
        bot.lookup(&post("run-1/teaser/community", ""))
            .await
            .unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn synapse_text_over_the_event_limit_is_refused_before_sending() {
    let room = Room::new(synapse_or_skip!(
        "synapse_text_over_the_event_limit_is_refused_before_sending"
    ))
    .await;
    let bot = room.connector();
    let err = bot
        .post(&post("long", &"x".repeat(MAX_EVENT_BYTES)))
        .await
        .unwrap_err();
    let SendError::Permanent { reason } = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("65536 bytes"), "{reason}");
    assert_eq!(room.events_with_key("long").await, 0);
    // Just under the limit goes through.
    bot.post(&post("long-ok", &"x".repeat(60_000)))
        .await
        .unwrap();
}

#[tokio::test]
async fn synapse_mentions_and_replies_since_the_cursor() {
    let room = Room::new(synapse_or_skip!(
        "synapse_mentions_and_replies_since_the_cursor"
    ))
    .await;
    room.bot.set_display_name("Brand Bot").await;
    room.fan.set_display_name("Faithful Fan").await;
    let bot = room.connector();
    let launch = bot.post(&post("launch", "We launch today")).await.unwrap();
    let start = bot.mentions(None).await.unwrap();
    let cursor = start.cursor.clone().expect("a cursor");

    let by_id = room
        .fan
        .say(&room.room_id, &format!("hello {}", room.bot.user_id))
        .await;
    room.fan.say(&room.room_id, "just chatting").await;
    let reply = room
        .fan
        .reply(&room.room_id, &launch.remote_id, "congrats!")
        .await;
    let by_name = room
        .fan
        .say(&room.room_id, "brand bot, when is the next one?")
        .await;
    let listed = room
        .fan
        .send(
            &room.room_id,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "pinging",
                    "m.mentions": { "user_ids": [room.bot.user_id] } }),
        )
        .await;
    let fan_own = room.fan.say(&room.room_id, "my own message").await;
    room.fan
        .reply(&room.room_id, &fan_own, "replying to myself")
        .await;
    bot.post(&post(
        "own",
        &format!("the bot naming itself {}", room.bot.user_id),
    ))
    .await
    .unwrap();

    let page = bot.mentions(Some(&cursor)).await.unwrap();
    let ids: Vec<&str> = page.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [&by_id, &reply, &by_name, &listed]);
    let replied = &page.mentions[1];
    assert_eq!(replied.text, "congrats!");
    assert_eq!(
        replied.in_reply_to.as_deref(),
        Some(launch.remote_id.as_str())
    );
    assert_eq!(replied.author.id, room.fan.user_id);
    assert_eq!(replied.author.handle, room.fan.user_id);
    assert_eq!(replied.author.display_name.as_deref(), Some("Faithful Fan"));
    assert!(
        page.mentions
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at)
    );
    let next = page.cursor.expect("a next cursor");
    assert_ne!(next, cursor);

    // Nothing new: nothing returned, and the cursor moves on or stays.
    let empty = bot.mentions(Some(&next)).await.unwrap();
    assert!(empty.mentions.is_empty(), "{:?}", empty.mentions);
    // The same cursor again gives the same page (reading is repeatable).
    let again = bot.mentions(Some(&cursor)).await.unwrap();
    assert_eq!(again.mentions.len(), 4);
}

#[tokio::test]
async fn synapse_mentions_page_through_more_than_one_sync() {
    let room = Room::new(synapse_or_skip!(
        "synapse_mentions_page_through_more_than_one_sync"
    ))
    .await;
    let bot = room.connector();
    let cursor = bot.mentions(None).await.unwrap().cursor.unwrap();
    let first = room
        .fan
        .say(&room.room_id, &format!("first {}", room.bot.user_id))
        .await;
    for n in 0..120 {
        room.fan.say(&room.room_id, &format!("filler {n}")).await;
    }
    let last = room
        .fan
        .say(&room.room_id, &format!("last {}", room.bot.user_id))
        .await;
    let page = bot.mentions(Some(&cursor)).await.unwrap();
    let ids: Vec<&str> = page.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [&first, &last]);
}

#[tokio::test]
async fn synapse_direct_messages_reuse_one_room() {
    let room = Room::new(synapse_or_skip!("synapse_direct_messages_reuse_one_room")).await;
    let bot = room.connector();
    let fan = room.synapse.register("dmfan").await;
    let first = bot
        .direct_message(&fan.user_id, &post("dm-1", "You won the contest!"))
        .await
        .unwrap();
    let direct = room
        .bot
        .account_data("m.direct")
        .await
        .expect("m.direct written");
    let rooms = direct[&fan.user_id].as_array().unwrap();
    assert_eq!(rooms.len(), 1, "{direct}");
    let dm_room = rooms[0].as_str().unwrap().to_owned();
    assert_ne!(dm_room, room.room_id);
    assert_eq!(fan.invites().await, std::slice::from_ref(&dm_room));
    fan.join(&dm_room).await;
    let seen = fan.event(&dm_room, &first.remote_id).await;
    assert_eq!(seen["content"]["body"], "You won the contest!");

    let second = bot
        .direct_message(&fan.user_id, &post("dm-2", "Send us your address"))
        .await
        .unwrap();
    assert_eq!(
        fan.event(&dm_room, &second.remote_id).await["content"]["body"],
        "Send us your address"
    );
    let direct = room.bot.account_data("m.direct").await.unwrap();
    assert_eq!(direct[&fan.user_id], json!([dm_room]));
    // A repeated key does not send twice.
    let repeat = bot
        .direct_message(&fan.user_id, &post("dm-1", "You won the contest!"))
        .await
        .unwrap();
    assert_eq!(repeat, first);

    let err = bot
        .direct_message("@nobody-here:localhost", &post("dm-3", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "there is no Matrix user @nobody-here:localhost".into()
        }
    );
    let err = bot
        .direct_message("fan", &post("dm-4", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn synapse_metrics_count_members_reactions_and_replies() {
    let room = Room::new(synapse_or_skip!(
        "synapse_metrics_count_members_reactions_and_replies"
    ))
    .await;
    let other = room.synapse.register("fan").await;
    other.join(&room.room_id).await;
    let bot = room.connector();
    let launch = bot.post(&post("launch", "We launch today")).await.unwrap();
    let quiet = bot
        .post(&post("quiet", "Nobody answers this"))
        .await
        .unwrap();
    room.fan.react(&room.room_id, &launch.remote_id, "👍").await;
    other.react(&room.room_id, &launch.remote_id, "🎉").await;
    room.fan
        .reply(&room.room_id, &launch.remote_id, "congrats")
        .await;
    room.fan
        .send(
            &room.room_id,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": "in a thread",
                    "m.relates_to": { "rel_type": "m.thread", "event_id": launch.remote_id } }),
        )
        .await;
    let snapshot = bot
        .metrics(&[launch.remote_id.clone(), quiet.remote_id.clone()])
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(2));
    let counts: Vec<(u64, u64, u64)> = snapshot
        .posts
        .iter()
        .map(|p| (p.likes, p.reposts, p.replies))
        .collect();
    assert_eq!(counts, [(2, 0, 2), (0, 0, 0)]);
    assert_eq!(snapshot.posts[0].remote_id, launch.remote_id);
}

#[tokio::test]
async fn synapse_health_names_what_is_wrong() {
    let synapse = synapse_or_skip!("synapse_health_names_what_is_wrong");
    let room = Room::new(synapse.clone()).await;
    let bad_token = connector(
        &synapse.url,
        &room.room_id,
        "syt_not_a_token",
        synapse_client(),
    );
    let err = bad_token.health().await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason } if reason.starts_with("the access token was refused")),
        "{err:?}"
    );
    let outsider = synapse.register("outsider").await;
    let not_in = connector(
        &synapse.url,
        &room.room_id,
        &outsider.access_token,
        synapse_client(),
    );
    assert_eq!(
        not_in.health().await.unwrap_err(),
        SendError::Permanent {
            reason: format!(
                "the bot {} is not in room {}",
                outsider.user_id, room.room_id
            )
        }
    );
    let err = not_in.post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason } if reason.contains("M_FORBIDDEN")),
        "{err:?}"
    );
    let no_alias = connector(
        &synapse.url,
        "#no-such-room:localhost",
        &room.bot.access_token,
        synapse_client(),
    );
    assert_eq!(
        no_alias.health().await.unwrap_err(),
        SendError::Permanent {
            reason: "the room alias #no-such-room:localhost does not exist".into()
        }
    );
}

// ---- The fake homeserver: faults Synapse does not produce on demand. ----

#[tokio::test]
async fn fake_post_sends_the_documented_request() {
    let fake = FakeMatrix::start();
    let bot = connector(
        &fake.url(),
        &fake.alias(),
        FakeMatrix::TOKEN,
        quick_client(),
    );
    let delivered = bot.post(&post("run-1/step 2", "Hello")).await.unwrap();
    assert_eq!(delivered.remote_id, "$event1");
    let requests = fake.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            format!(
                "/_matrix/client/v3/directory/room/%23{}",
                &fake.alias()[1..]
            ),
            format!(
                "/_matrix/client/v3/rooms/{}/send/m.room.message/run-1~2Fstep~202",
                FakeMatrix::ROOM_ID
            ),
        ]
    );
    let send = &requests[1];
    assert_eq!(send.method, "PUT");
    assert_eq!(send.authorization.as_deref(), Some("Bearer syt_fake_token"));
    let body: serde_json::Value = serde_json::from_str(&send.body).unwrap();
    assert_eq!(
        body,
        json!({ "msgtype": "m.text", "body": "Hello", KEY_FIELD: "run-1/step 2" })
    );
}

async fn fake_send_with(fault: Fault) -> (SendError, FakeMatrix) {
    let fake = FakeMatrix::start();
    fake.push_fault(fault);
    let bot = connector(
        &fake.url(),
        FakeMatrix::ROOM_ID,
        FakeMatrix::TOKEN,
        quick_client(),
    );
    let err = bot.post(&post("k", "hi")).await.unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn fake_limit_exceeded_waits_retry_after_ms() {
    let (err, fake) = fake_send_with(Fault::LimitExceeded {
        retry_after_ms: Some(1500),
        retry_after_header: None,
    })
    .await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_millis(1500),
            reason: "the homeserver is rate limiting: Too Many Requests (M_LIMIT_EXCEEDED)".into()
        }
    );
    assert_eq!(fake.events().len(), 0);
}

#[tokio::test]
async fn fake_limit_exceeded_prefers_the_retry_after_header() {
    let (err, _fake) = fake_send_with(Fault::LimitExceeded {
        retry_after_ms: Some(1500),
        retry_after_header: Some("9".into()),
    })
    .await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_secs(9)),
        "{err:?}"
    );
    let (err, _fake) = fake_send_with(Fault::LimitExceeded {
        retry_after_ms: None,
        retry_after_header: None,
    })
    .await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == http::DEFAULT_RETRY_AFTER),
        "{err:?}"
    );
}

#[tokio::test]
async fn fake_server_errors_are_transient() {
    let (err, fake) = fake_send_with(Fault::ServerError).await;
    assert_eq!(
        err,
        SendError::Transient {
            reason: "the homeserver failed: Internal server error (M_UNKNOWN)".into()
        }
    );
    assert_eq!(fake.events().len(), 0);
    let (err, _fake) = fake_send_with(Fault::BadGateway).await;
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn fake_forbidden_and_too_large_are_permanent() {
    let (err, _fake) = fake_send_with(Fault::Forbidden).await;
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Matrix refused the post: You don't have permission to post that to the room. user_level (0) < send_level (50) (M_FORBIDDEN)".into()
        }
    );
    let (err, _fake) = fake_send_with(Fault::TooLarge).await;
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Matrix refused the post as too large: event too large (M_TOO_LARGE)".into()
        }
    );
}

#[tokio::test]
async fn fake_unknown_token_is_refused_in_plain_words() {
    let fake = FakeMatrix::start();
    let bot = connector(
        &fake.url(),
        FakeMatrix::ROOM_ID,
        "syt_wrong",
        quick_client(),
    );
    let expected = SendError::Permanent {
        reason: "the access token was refused by the homeserver: Invalid access token passed. (M_UNKNOWN_TOKEN)".into(),
    };
    assert_eq!(bot.post(&post("k", "hi")).await.unwrap_err(), expected);
    assert_eq!(bot.health().await.unwrap_err(), expected);
    assert_eq!(fake.events().len(), 0);
}

#[tokio::test]
async fn fake_accept_then_drop_is_found_by_lookup_and_not_sent_twice() {
    let (err, fake) = fake_send_with(Fault::AcceptThenDrop).await;
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.events().len(), 1);
    let bot = connector(
        &fake.url(),
        FakeMatrix::ROOM_ID,
        FakeMatrix::TOKEN,
        quick_client(),
    );
    let Lookup::Found(found) = bot.lookup(&post("k", "hi")).await.unwrap() else {
        panic!("the dropped post was not found");
    };
    assert_eq!(found.remote_id, "$event1");
    assert_eq!(fake.events().len(), 1);
    let lookup = fake.requests().into_iter().last().unwrap();
    assert!(lookup.path.ends_with("/messages"), "{lookup:?}");
    assert!(lookup.query.contains("dir=b"), "{lookup:?}");
}

#[tokio::test]
async fn fake_slow_answer_then_resend_reuses_the_transaction() {
    let (err, fake) = fake_send_with(Fault::Slow(Duration::from_secs(5))).await;
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    let bot = connector(
        &fake.url(),
        FakeMatrix::ROOM_ID,
        FakeMatrix::TOKEN,
        quick_client(),
    );
    let delivered = bot.post(&post("k", "hi")).await.unwrap();
    assert_eq!(delivered.remote_id, "$event1");
    assert_eq!(fake.events().len(), 1);
}

#[tokio::test]
async fn fake_oversized_text_never_leaves() {
    let fake = FakeMatrix::start();
    let bot = connector(
        &fake.url(),
        FakeMatrix::ROOM_ID,
        FakeMatrix::TOKEN,
        quick_client(),
    );
    let err = bot.post(&post("k", &"é".repeat(40_000))).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason } if reason.contains("it takes 80000 bytes")),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 0);
}

/// An account as `crier.yaml` would declare it, read through crier's own YAML reader.
fn account(name: &str, fields: &[(&str, &str)]) -> (String, Account) {
    let mut yaml = "network: matrix\n".to_owned();
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
            network: Network::Matrix,
            config,
        },
    )
}

#[tokio::test]
async fn registry_builds_matrix_and_never_shows_the_token() {
    const TOKEN: &str = "syt_secret_4f3e2d1c";
    let fake = FakeMatrix::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    let accounts = BTreeMap::from([account(
        "community",
        &[
            ("homeserver", &fake.url()),
            ("room", FakeMatrix::ROOM_ID),
            ("token", &format!("file:{}", path.display())),
        ],
    )]);
    let connectors = Connectors::build(&accounts, &quick_client()).unwrap();
    let bot = connectors.get("community").unwrap();
    assert_eq!(bot.network(), Network::Matrix);
    let caps = bot.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.direct_message && caps.delete);
    assert!(caps.read_mentions && caps.metrics && caps.lookup && caps.idempotency_key);
    // The fake only knows its own token: this one is refused.
    fake.set_token(TOKEN);
    let mut texts = vec![format!("{connectors:?}"), format!("{bot:?}")];
    for fault in [
        Fault::ServerError,
        Fault::Forbidden,
        Fault::AcceptThenDrop,
        Fault::UnknownToken,
    ] {
        fake.push_fault(fault);
        let err = bot
            .post(&post(&format!("k{}", texts.len()), "hi"))
            .await
            .unwrap_err();
        texts.extend([format!("{err}"), format!("{err:?}")]);
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")[..]))
    );
    for text in &texts {
        assert!(!text.contains(TOKEN), "{text}");
    }

    let missing = BTreeMap::from([account("community", &[("homeserver", &fake.url())])]);
    let errors = Connectors::build(&missing, &quick_client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `community`: a `matrix` account needs `room`"
    );
}

/// A room message read again: its text while it stands, `None` once its sender redacts it.
#[tokio::test]
async fn synapse_a_message_is_read_again_until_redacted() {
    let room = Room::new(synapse_or_skip!(
        "synapse_a_message_is_read_again_until_redacted"
    ))
    .await;
    let bot = room.connector();
    let launch = bot.post(&post("launch", "Reply to win")).await.unwrap();
    let entry = room
        .fan
        .reply(&room.room_id, &launch.remote_id, "me please")
        .await;
    let seen = bot.fetch_post(&entry).await.unwrap().expect("it stands");
    assert_eq!(seen.text, "me please");
    assert_eq!(seen.author.id, room.fan.user_id);
    assert_eq!(seen.in_reply_to.as_deref(), Some(launch.remote_id.as_str()));
    room.fan.redact(&room.room_id, &entry).await;
    assert_eq!(bot.fetch_post(&entry).await.unwrap(), None);
    assert_eq!(bot.fetch_post("$no-such-event").await.unwrap(), None);
}
