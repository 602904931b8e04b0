//! The Telegram connector against a fake Bot API on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::Secret;
use crier::connectors::telegram::api::Update;
use crier::connectors::telegram::updates::{Audience, mention_in};
use crier::connectors::telegram::{TelegramConnector, parse_webhook_update};
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};
use serde_json::{Value, json};

use crate::support::fake_telegram::{
    BLOCKER_ID, BOT_ID, BOT_USERNAME, CHANNEL, CHANNEL_ID, FAN_ID, FakeTelegram, Fault,
};

const TOKEN: &str = "123456:AAF-test_token-9f8e7d";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn telegram(fake: &FakeTelegram, token: &str, chat: &str) -> TelegramConnector {
    TelegramConnector::new(
        "brand_telegram",
        fake.url().parse().unwrap(),
        Secret::new(token),
        chat,
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

fn account(name: &str, fields: &[(&str, &str)]) -> (String, Account) {
    let mut yaml = "network: telegram\n".to_owned();
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
            network: Network::Telegram,
            config,
        },
    )
}

fn image(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[tokio::test]
async fn posts_text_to_the_channel() {
    let fake = FakeTelegram::start(TOKEN);
    let delivered = telegram(&fake, TOKEN, CHANNEL)
        .post(&post("k1", "We launch today 🚀"))
        .await
        .unwrap();
    assert_eq!(
        delivered,
        Delivered {
            remote_id: "101".into(),
            url: Some("https://t.me/brand_channel/101".into())
        }
    );
    let calls = fake.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(calls[0].content_type, "application/json");
    assert_eq!(
        calls[0].params,
        json!({ "chat_id": "@brand_channel", "text": "We launch today 🚀" })
    );
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].chat_id, CHANNEL_ID);
}

#[tokio::test]
async fn numeric_chat_ids_are_sent_as_numbers_and_replies_name_the_message() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, &CHANNEL_ID.to_string());
    let first = connector.post(&post("k1", "Contest!")).await.unwrap();
    let mut reply = post("k2", "Winners soon");
    reply.reply_to = Some(first.remote_id.clone());
    let second = connector.post(&reply).await.unwrap();
    assert_eq!(second.remote_id, "102");
    let calls = fake.calls("sendMessage");
    assert_eq!(calls[0].params["chat_id"], json!(CHANNEL_ID));
    assert_eq!(
        calls[1].params["reply_parameters"],
        json!({ "message_id": 101 })
    );
    assert_eq!(fake.messages()[1].reply_to, Some(101));

    reply.reply_to = Some("999".into());
    let err = connector.post(&reply).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Telegram refused the post: Bad Request: message to be replied not found"
                .into()
        }
    );
    reply.reply_to = Some("not-an-id".into());
    let err = connector.post(&reply).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "`not-an-id` is not the id of a Telegram message"
    );
    assert_eq!(fake.calls("sendMessage").len(), 3);
}

#[tokio::test]
async fn one_image_is_a_photo_with_a_caption() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTelegram::start(TOKEN);
    let mut outgoing = post("k1", "Our new mug");
    outgoing.media = vec![image(&dir, "mug.png", b"\x89PNG fake")];
    let delivered = telegram(&fake, TOKEN, CHANNEL)
        .post(&outgoing)
        .await
        .unwrap();
    assert_eq!(delivered.remote_id, "101");
    let call = &fake.calls("sendPhoto")[0];
    assert!(
        call.content_type
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(call.params["chat_id"], "@brand_channel");
    assert_eq!(call.params["caption"], "Our new mug");
    let photo = call.form.iter().find(|f| f.name == "photo").unwrap();
    assert_eq!(photo.file_name.as_deref(), Some("mug.png"));
    assert_eq!(photo.content_type.as_deref(), Some("image/png"));
    assert_eq!(photo.data, b"\x89PNG fake");
    assert_eq!(fake.messages()[0].caption.as_deref(), Some("Our new mug"));
}

#[tokio::test]
async fn several_images_are_a_media_group_deleted_together() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let mut outgoing = post("k1", "Behind the scenes");
    outgoing.media = vec![
        image(&dir, "a.jpg", b"jpeg one"),
        image(&dir, "b.jpeg", b"jpeg two"),
        image(&dir, "c.webp", b"webp"),
    ];
    let delivered = connector.post(&outgoing).await.unwrap();
    assert_eq!(delivered.remote_id, "101,102,103");
    let call = &fake.calls("sendMediaGroup")[0];
    assert_eq!(
        call.params["media"],
        json!([
            { "type": "photo", "media": "attach://photo0", "caption": "Behind the scenes" },
            { "type": "photo", "media": "attach://photo1" },
            { "type": "photo", "media": "attach://photo2" },
        ])
    );
    let files: Vec<_> = call
        .form
        .iter()
        .filter_map(|f| f.file_name.clone())
        .collect();
    assert_eq!(files, ["a.jpg", "b.jpeg", "c.webp"]);
    assert_eq!(fake.messages().len(), 3);

    connector.delete(&delivered.remote_id).await.unwrap();
    assert!(fake.messages().is_empty());
    let deleted: Vec<Value> = fake
        .calls("deleteMessage")
        .iter()
        .map(|c| c.params["message_id"].clone())
        .collect();
    assert_eq!(deleted, [json!(101), json!(102), json!(103)]);
    // Already gone: deleting again succeeds.
    connector.delete("101").await.unwrap();
}

#[tokio::test]
async fn too_many_images_or_a_missing_file_are_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let mut outgoing = post("k1", "Album");
    outgoing.media = (0..11)
        .map(|n| image(&dir, &format!("{n}.png"), b"png"))
        .collect();
    let err = connector.post(&outgoing).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "the post has 11 images and Telegram takes at most 10 in one post"
    );
    outgoing.media = vec![dir.path().join("missing.png")];
    let err = connector.post(&outgoing).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(
        err.reason().starts_with("could not read the image `"),
        "{err}"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn text_over_the_limit_is_refused_before_sending() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let err = connector
        .post(&post("k1", &"é".repeat(4097)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the text has 4097 UTF-16 code units and Telegram allows 4096 in a message"
                .into()
        }
    );
    // 4096 characters pass.
    connector
        .post(&post("k2", &"é".repeat(4096)))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut captioned = post("k3", &"x".repeat(1025));
    captioned.media = vec![image(&dir, "a.png", b"png")];
    let err = connector.post(&captioned).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "the text has 1025 UTF-16 code units and Telegram allows 1024 in a photo caption"
    );
    // Telegram counts UTF-16 units: 2049 emoji are 4098, over the limit, refused here.
    let err = connector
        .post(&post("k4", &"🙂".repeat(2049)))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the text has 4098 UTF-16 code units and Telegram allows 4096 in a message"
    );
    assert_eq!(fake.requests().len(), 1);
}

async fn send_with(fault: Fault) -> (SendError, FakeTelegram) {
    let fake = FakeTelegram::start(TOKEN);
    fake.push_fault(fault);
    let err = telegram(&fake, TOKEN, CHANNEL)
        .post(&post("k1", "hi"))
        .await
        .unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn server_error_is_transient() {
    let (err, fake) = send_with(Fault::ServerError).await;
    assert_eq!(
        err,
        SendError::Transient {
            reason: "Telegram failed (Internal Server Error)".into()
        }
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn flood_wait_waits_as_long_as_telegram_says() {
    let (err, _fake) = send_with(Fault::FloodWait { retry_after: 35 }).await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_secs(35),
            reason: "Telegram is rate limiting the bot (Too Many Requests: retry after 35)".into()
        }
    );
}

#[tokio::test]
async fn too_many_requests_without_a_hint_waits_the_default() {
    let (err, _fake) = send_with(Fault::TooManyRequestsNoHint).await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: http::DEFAULT_RETRY_AFTER,
            reason: "Telegram is rate limiting the bot (Too Many Requests)".into()
        }
    );
}

#[tokio::test]
async fn a_migrated_group_names_its_new_id() {
    let (err, _fake) = send_with(Fault::Migrated {
        new_chat_id: -1_009_876_543_210,
    })
    .await;
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the group `@brand_channel` became a supergroup whose id is -1009876543210: set `chat: '-1009876543210'` in crier.yaml".into()
        }
    );
}

#[tokio::test]
async fn a_refused_token_is_permanent_in_plain_words() {
    let fake = FakeTelegram::start(TOKEN);
    let err = telegram(&fake, "123456:wrong", CHANNEL)
        .post(&post("k1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the bot token was refused (Telegram answered Unauthorized): check `token` in crier.yaml".into()
        }
    );
}

#[tokio::test]
async fn an_unknown_chat_is_permanent() {
    let fake = FakeTelegram::start(TOKEN);
    let err = telegram(&fake, TOKEN, "@nobody_here")
        .post(&post("k1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "Telegram does not know the chat `@nobody_here` or the bot is not in it (Bad Request: chat not found): check `chat` in crier.yaml and add the bot to the chat"
    );
}

#[tokio::test]
async fn a_late_answer_is_outcome_unknown_and_cannot_be_looked_up() {
    let (err, fake) = send_with(Fault::Slow(Duration::from_secs(5))).await;
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    // The message went out even though crier never heard back.
    assert_eq!(fake.messages().len(), 1);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    assert_eq!(
        connector.lookup(&post("k1", "hi")).await.unwrap(),
        Lookup::Unsupported
    );
    let caps = connector.capabilities();
    assert!(!caps.lookup && !caps.idempotency_key);
    // Telegram has no idempotency key: a blind resend is a second message. This is why
    // `lookup` must not pretend, and why the docs warn about duplicates.
    connector.post(&post("k1", "hi")).await.unwrap();
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_is_outcome_unknown() {
    let (err, fake) = send_with(Fault::AcceptThenDrop).await;
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let connector = TelegramConnector::new(
        "brand_telegram",
        format!("http://{addr}").parse().unwrap(),
        Secret::new(TOKEN),
        CHANNEL,
        client(),
    );
    let err = connector.post(&post("k1", "hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn direct_messages_reach_people_who_started_the_bot() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let delivered = connector
        .direct_message(&FAN_ID.to_string(), &post("k1", "You won!"))
        .await
        .unwrap();
    assert_eq!(delivered.remote_id, "101");
    assert_eq!(delivered.url, None);
    let call = &fake.calls("sendMessage")[0];
    assert_eq!(
        call.params,
        json!({ "chat_id": FAN_ID, "text": "You won!" })
    );
    assert_eq!(fake.messages()[0].chat_id, FAN_ID);

    let err = connector
        .direct_message(&BLOCKER_ID.to_string(), &post("k2", "You won!"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Telegram will not deliver to `5151`: Forbidden: bot was blocked by the user (a person must start a conversation with the bot, and not block it, before it can write to them)".into()
        }
    );
    let err = connector
        .direct_message("31337", &post("k3", "You won!"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(err.reason().contains("chat not found"), "{err}");

    let calls_before = fake.requests().len();
    let err = connector
        .direct_message("@fan", &post("k4", "You won!"))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "Telegram bots can write to a person only by their numeric user id, not `@fan`"
    );
    assert_eq!(fake.requests().len(), calls_before);
}

/// A message in the channel's discussion group replying to one of the channel's posts.
fn reply_to_channel_post(message_id: i64, user: i64, text: &str) -> Value {
    json!({ "message": {
        "message_id": message_id,
        "from": { "id": user, "is_bot": false, "first_name": "Ann", "last_name": "Lee", "username": "ann" },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat" },
        "date": 1_767_225_600,
        "text": text,
        "reply_to_message": {
            "message_id": 9,
            "from": { "id": 777_000, "is_bot": false, "first_name": "Telegram" },
            "sender_chat": { "id": CHANNEL_ID, "type": "channel", "title": "Brand", "username": "brand_channel" },
            "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat" },
            "date": 1_767_225_000,
            "text": "Contest!"
        }
    }})
}

fn mention_of_bot(message_id: i64, text: &str) -> Value {
    let at = text.encode_utf16().count() - BOT_USERNAME.len() - 1;
    json!({ "message": {
        "message_id": message_id,
        "from": { "id": 88, "is_bot": false, "first_name": "Bo" },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat", "username": "brandchat" },
        "date": 1_767_225_700,
        "text": text,
        "entities": [{ "type": "mention", "offset": at, "length": BOT_USERNAME.len() + 1 }]
    }})
}

fn unrelated(message_id: i64) -> Value {
    json!({ "message": {
        "message_id": message_id,
        "from": { "id": 99, "is_bot": false, "first_name": "Cy", "username": "cy" },
        "chat": { "id": -1_005_555, "type": "supergroup", "title": "Brand chat" },
        "date": 1_767_225_800,
        "text": "@someone_else hello",
        "entities": [{ "type": "mention", "offset": 0, "length": 13 }]
    }})
}

#[tokio::test]
async fn mentions_and_replies_page_with_the_update_cursor() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let first = fake.push_update(reply_to_channel_post(40, 1001, "#warmwinter me please"));
    fake.push_update(unrelated(41));
    let third = fake.push_update(mention_of_bot(42, "🎉 is the app down @Brand_Bot"));

    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.cursor, Some((third + 1).to_string()));
    assert_eq!(page.mentions.len(), 2);
    let reply = &page.mentions[0];
    assert_eq!(reply.id, "-1005555:40");
    assert_eq!(reply.text, "#warmwinter me please");
    assert_eq!(reply.in_reply_to.as_deref(), Some("9"));
    assert_eq!(reply.author.id, "1001");
    assert_eq!(reply.author.handle, "@ann");
    assert_eq!(reply.author.display_name.as_deref(), Some("Ann Lee"));
    assert_eq!(reply.author.bot, Some(false));
    assert_eq!(reply.created_at.timestamp(), 1_767_225_600);
    assert_eq!(reply.url.as_deref(), Some("https://t.me/c/5555/40"));
    let mention = &page.mentions[1];
    assert_eq!(mention.id, "-1005555:42");
    assert_eq!(mention.author.handle, "88");
    assert_eq!(mention.url.as_deref(), Some("https://t.me/brandchat/42"));
    assert!(first < third);

    // Asking from the cursor confirms what was read; only newer updates come back.
    let fourth = fake.push_update(mention_of_bot(43, "thanks @brand_bot"));
    let page = connector
        .mentions(Some(&(third + 1).to_string()))
        .await
        .unwrap();
    assert_eq!(page.mentions.len(), 1);
    assert_eq!(page.mentions[0].id, "-1005555:43");
    assert_eq!(page.cursor, Some((fourth + 1).to_string()));
    assert_eq!(fake.pending_updates(), 1);
    let call = fake.calls("getUpdates").pop().unwrap();
    assert_eq!(call.params["offset"], json!(third + 1));
    assert_eq!(
        call.params["allowed_updates"],
        json!(["message", "channel_post"])
    );

    // Nothing new: no mentions, and the cursor stays where it was.
    let page = connector
        .mentions(Some(&(fourth + 1).to_string()))
        .await
        .unwrap();
    assert!(page.mentions.is_empty());
    assert_eq!(page.cursor, None);
    // getMe is asked once.
    assert_eq!(fake.calls("getMe").len(), 1);
}

#[tokio::test]
async fn mentions_past_one_page_come_over_several_calls() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let ids: Vec<i64> = (0..105)
        .map(|n| fake.push_update(mention_of_bot(1000 + n, "hi @brand_bot")))
        .collect();
    let first = connector.mentions(None).await.unwrap();
    assert_eq!(first.mentions.len(), 100);
    assert_eq!(first.cursor, Some((ids[99] + 1).to_string()));
    let second = connector.mentions(first.cursor.as_deref()).await.unwrap();
    let seen: Vec<String> = second.mentions.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        seen,
        (100..105)
            .map(|n| format!("-1005555:{}", 1000 + n))
            .collect::<Vec<_>>()
    );
    assert_eq!(second.cursor, Some((ids[104] + 1).to_string()));
    let err = connector.mentions(Some("soon")).await.unwrap_err();
    assert_eq!(err.reason(), "`soon` is not a Telegram update cursor");
}

#[test]
fn webhook_mode_checks_the_secret_token_then_reads_the_update() {
    let body = serde_json::to_vec(&{
        let mut update = mention_of_bot(7, "ping @brand_bot");
        update["update_id"] = json!(31);
        update
    })
    .unwrap();
    let update: Update = parse_webhook_update("hook-secret", Some("hook-secret"), &body).unwrap();
    assert_eq!(update.update_id, 31);
    let audience = Audience {
        bot: serde_json::from_value(
            json!({ "id": BOT_ID, "is_bot": true, "first_name": "Brand", "username": BOT_USERNAME }),
        )
        .unwrap(),
        chat: CHANNEL.into(),
    };
    let mention = mention_in(&update, &audience).unwrap();
    assert_eq!(mention.text, "ping @brand_bot");

    for header in [None, Some("hook-secre"), Some("HOOK-SECRET"), Some("")] {
        let err = parse_webhook_update("hook-secret", header, &body).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the request has no valid `X-Telegram-Bot-Api-Secret-Token` header"
        );
    }
    let err = parse_webhook_update("hook-secret", Some("hook-secret"), b"{}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the request body is not a Telegram update")
    );
}

#[tokio::test]
async fn health_checks_token_and_chat_without_posting() {
    let fake = FakeTelegram::start(TOKEN);
    telegram(&fake, TOKEN, CHANNEL).health().await.unwrap();
    let methods: Vec<String> = fake.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["getMe", "getChat"]);
    assert_eq!(fake.calls("getChat")[0].params["chat_id"], CHANNEL);
    assert!(fake.messages().is_empty());

    let err = telegram(&fake, "123456:wrong", CHANNEL)
        .health()
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(
        err.reason().starts_with("the bot token was refused"),
        "{err}"
    );

    let err = telegram(&fake, TOKEN, "@not_a_chat")
        .health()
        .await
        .unwrap_err();
    assert!(
        err.reason()
            .contains("Telegram does not know the chat `@not_a_chat`"),
        "{err}"
    );
}

#[tokio::test]
async fn capabilities_and_metrics_tell_the_truth() {
    let fake = FakeTelegram::start(TOKEN);
    let connector = telegram(&fake, TOKEN, CHANNEL);
    let caps = connector.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.direct_message);
    assert!(caps.delete && caps.read_mentions);
    assert!(!caps.metrics && !caps.lookup && !caps.idempotency_key);
    let err = connector.metrics(&["101".into()]).await.unwrap_err();
    assert_eq!(err.reason(), "the `telegram` network cannot report metrics");
    assert!(fake.requests().is_empty());
}

#[test]
fn registry_builds_telegram_accounts() {
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).unwrap();
    let token = format!("file:{}", token_file.path().display());
    let accounts = BTreeMap::from([account(
        "brand_telegram",
        &[("token", &token), ("chat", CHANNEL)],
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let connector = connectors.get("brand_telegram").unwrap();
    assert_eq!(connector.network(), Network::Telegram);
    assert!(format!("{connector:?}").contains("api.telegram.org"));

    let missing_chat = BTreeMap::from([account("tg", &[("token", &token)])]);
    let errors = Connectors::build(&missing_chat, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `tg`: a `telegram` account needs `chat`"
    );
    let bad_server = BTreeMap::from([account(
        "tg",
        &[("token", &token), ("chat", CHANNEL), ("server", "ftp://x")],
    )]);
    let errors = Connectors::build(&bad_server, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `tg`: `server` is not an http(s) URL: the scheme is `ftp`"
    );
}

#[tokio::test]
async fn the_token_never_shows_in_errors_or_debug() {
    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), format!("{TOKEN}\n")).unwrap();
    let fake = FakeTelegram::start(TOKEN);
    let accounts = BTreeMap::from([account(
        "brand_telegram",
        &[
            ("token", &format!("file:{}", token_file.path().display())),
            ("chat", CHANNEL),
            ("server", &fake.url()),
        ],
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let connector = connectors.get("brand_telegram").unwrap();
    let mut texts = vec![format!("{connectors:?}"), format!("{connector:?}")];
    for fault in [
        Fault::ServerError,
        Fault::FloodWait { retry_after: 3 },
        Fault::AcceptThenDrop,
        Fault::Slow(Duration::from_secs(3)),
    ] {
        fake.push_fault(fault);
        let err = connector.post(&post("k", "hi")).await.unwrap_err();
        texts.extend([format!("{err}"), format!("{err:?}")]);
    }
    let err = connector
        .post(&post("k", &"x".repeat(5000)))
        .await
        .unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    drop(fake);
    // The server is gone: reqwest's errors (a stale pooled connection, a refused connect)
    // would carry the URL, token and all.
    let err = connector.health().await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    for text in &texts {
        assert!(!text.contains(TOKEN), "the token leaked into: {text}");
        assert!(
            !text.contains("AAF-test"),
            "part of the token leaked into: {text}"
        );
    }
    assert!(texts.iter().any(|t| t.contains("Secret(***)")));
}

/// A message in a group mentioning the bot, written now (contests take only what was
/// written after their announcement).
fn mention_now(message_id: i64, text: &str) -> Value {
    let mut update = mention_of_bot(message_id, text);
    update["message"]["date"] = json!(chrono::Utc::now().timestamp());
    update
}

/// `crier.yaml` with one Telegram account `tg` on the fake's bot, read by polling or in
/// webhook mode, and the token and webhook secret written beside it.
fn bot_config(fake: &FakeTelegram, keys: &std::path::Path, webhook: bool) -> String {
    std::fs::write(keys.join("token"), TOKEN).unwrap();
    std::fs::write(keys.join("secret"), "tg-webhook-secret").unwrap();
    let mode = if webhook {
        format!(
            "    updates: webhook\n    url: https://crier.example.com/telegram/tg\n    secret: \"file:{}\"\n",
            keys.join("secret").display()
        )
    } else {
        String::new()
    };
    format!(
        "timezone: UTC\naccounts:\n  tg:\n    network: telegram\n    server: \"{}\"\n    token: \"file:{}\"\n    chat: \"{CHANNEL}\"\n{mode}",
        fake.url(),
        keys.join("token").display()
    )
}

fn crisis_on_tg(name: &str) -> String {
    format!(
        "kind: crisis\nname: {name}\nwatch:\n  accounts: [tg]\n  keywords: [app]\n  every: 1m\nlevels:\n  - name: elevated\n    when: 'mentions(\"10m\").negative >= 5'\n    do:\n      - pause: all\n"
    )
}

fn contest_on_tg() -> String {
    let at = |minutes: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::minutes(minutes))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    format!(
        "kind: contest\nname: giveaway\naccount: tg\nannounce:\n  at: {}\n  text: \"Mention the bot to play\"\nentries:\n  from: mentions\n  closes: {}\ndraw:\n  at: {}\n  winners: 1\n",
        at(-1),
        at(60),
        at(120)
    )
}

fn stored_mentions(store: &dyn crier::store::Store, plan: &str) -> Vec<String> {
    store
        .crisis_mentions(plan, 0, 0)
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_crisis_plans_on_one_bot_both_read_every_mention_once_across_restarts() {
    use crier::store::{SqliteStore, StoreHandle};
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let config = bot_config(&fake, keys.path(), false);
    let (_folder, plan) = crate::support::playbooks::valid_plan(
        &config,
        &[
            ("outage.yaml", &crisis_on_tg("outage")),
            ("billing.yaml", &crisis_on_tg("billing")),
        ],
    );
    let handle = StoreHandle::new(std::sync::Arc::new(SqliteStore::in_memory().unwrap()));
    for n in 0..3 {
        fake.push_update(mention_of_bot(
            500 + n,
            &format!("is the app down {n} @brand_bot"),
        ));
    }
    fake.push_update(unrelated(510));
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let collected =
        crier::crisis::collect::collect(&plan, &handle, &connectors, chrono::Utc::now()).await;
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(collected.new, 6, "each plan stores the three mentions");
    for name in ["outage", "billing"] {
        assert_eq!(
            stored_mentions(handle.store().as_ref(), name).len(),
            3,
            "{name}"
        );
    }
    assert_eq!(fake.pending_updates(), 0, "what was read is confirmed");

    // A restart: new connectors, the same store. Each plan reads on from its own cursor.
    fake.push_update(mention_of_bot(520, "app still down @brand_bot"));
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let collected =
        crier::crisis::collect::collect(&plan, &handle, &connectors, chrono::Utc::now()).await;
    assert!(collected.errors.is_empty(), "{:?}", collected.errors);
    assert_eq!(collected.new, 2);
    for name in ["outage", "billing"] {
        let texts = stored_mentions(handle.store().as_ref(), name);
        assert_eq!(texts.len(), 4, "{name}: {texts:?}");
        assert_eq!(texts[3], "app still down @brand_bot");
    }
    // One reader per bot: every `getUpdates` asked from the cursor the one before left.
    let offsets: Vec<Value> = fake
        .calls("getUpdates")
        .iter()
        .map(|call| call.params["offset"].clone())
        .collect();
    assert!(
        offsets
            .windows(2)
            .all(|pair| pair[1].as_i64() >= pair[0].as_i64()),
        "{offsets:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contest_and_a_crisis_plan_on_one_bot_both_read_theirs() {
    use crier::store::{SqliteStore, StoreHandle};
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let config = bot_config(&fake, keys.path(), false);
    let (_folder, plan) = crate::support::playbooks::valid_plan(
        &config,
        &[
            ("outage.yaml", &crisis_on_tg("outage")),
            ("giveaway.yaml", &contest_on_tg()),
        ],
    );
    let handle = StoreHandle::new(std::sync::Arc::new(SqliteStore::in_memory().unwrap()));
    fake.push_update(mention_now(600, "me please @brand_bot"));
    fake.push_update(mention_now(601, "and me @brand_bot"));
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let now = chrono::Utc::now();
    let entries = crier::contest::collect::collect(&plan, &handle, &connectors, now).await;
    assert!(entries.errors.is_empty(), "{:?}", entries.errors);
    assert_eq!(entries.new, 2);
    let mentions = crier::crisis::collect::collect(&plan, &handle, &connectors, now).await;
    assert!(mentions.errors.is_empty(), "{:?}", mentions.errors);
    assert_eq!(
        mentions.new, 2,
        "the contest read first and took nothing away"
    );

    fake.push_update(mention_now(602, "count me in @brand_bot"));
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let now = chrono::Utc::now();
    let mentions = crier::crisis::collect::collect(&plan, &handle, &connectors, now).await;
    assert_eq!(mentions.new, 1);
    let entries = crier::contest::collect::collect(&plan, &handle, &connectors, now).await;
    assert_eq!(entries.new, 1);
    let stored = handle.store().contest_entries("giveaway").unwrap();
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert_eq!(stored_mentions(handle.store().as_ref(), "outage").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_one_bot_see_each_update_once_across_restarts() {
    use crier::store::{SqliteStore, StoreHandle, shared_feed};
    let fake = FakeTelegram::start(TOKEN);
    let handle = StoreHandle::new(std::sync::Arc::new(SqliteStore::in_memory().unwrap()));
    // Two accounts on one bot: the channel's, and a group's that only mentions count for.
    let connectors = || -> (Arc<dyn Connector>, Arc<dyn Connector>) {
        (
            Arc::new(telegram(&fake, TOKEN, CHANNEL)),
            Arc::new(telegram(&fake, TOKEN, "@brandchat_other")),
        )
    };
    let (channel, group) = connectors();
    assert_eq!(channel.shared_feed(), Some("telegram:123456".to_string()));
    assert_eq!(channel.shared_feed(), group.shared_feed());
    fake.push_update(reply_to_channel_post(700, 1001, "me please"));
    fake.push_update(mention_of_bot(701, "hello @brand_bot"));
    let ids = |page: &crier::connectors::MentionPage| -> Vec<String> {
        page.mentions.iter().map(|m| m.id.clone()).collect()
    };
    let first = shared_feed::mentions(&handle, &channel, None)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["-1005555:700", "-1005555:701"]);
    assert_eq!(
        fake.pending_updates(),
        2,
        "not confirmed until asked past them"
    );
    // The group's read asks Telegram past them, which forgets them: it reads them kept.
    let theirs = shared_feed::mentions(&handle, &group, None).await.unwrap();
    assert_eq!(
        ids(&theirs),
        ["-1005555:701"],
        "a reply to the channel is not theirs"
    );
    assert_eq!(fake.pending_updates(), 0);

    fake.push_update(mention_of_bot(702, "again @brand_bot"));
    let (channel, group) = connectors();
    let next = shared_feed::mentions(&handle, &channel, first.cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(ids(&next), ["-1005555:702"]);
    let after = shared_feed::mentions(&handle, &channel, next.cursor.as_deref())
        .await
        .unwrap();
    assert!(after.mentions.is_empty(), "{:?}", ids(&after));
    assert_eq!(fake.pending_updates(), 0);
    let theirs = shared_feed::mentions(&handle, &group, theirs.cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(
        ids(&theirs),
        ["-1005555:702"],
        "confirmed, and still read by both"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_pushed_to_the_webhook_reaches_every_plan_and_contest_once() {
    use crier::store::{SqliteStore, Store};
    let fake = FakeTelegram::start(TOKEN);
    let keys = tempfile::TempDir::new().unwrap();
    let config = bot_config(&fake, keys.path(), true);
    let (_folder, plan) = crate::support::playbooks::valid_plan(
        &config,
        &[
            ("outage.yaml", &crisis_on_tg("outage")),
            ("billing.yaml", &crisis_on_tg("billing")),
            ("giveaway.yaml", &contest_on_tg()),
        ],
    );
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let desk = crier::ops::Desk::new(plan.clone(), store.clone());
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let mut update = mention_now(800, "the app is down @brand_bot");
    update["update_id"] = json!(9100);
    let body = update.to_string();
    let push = || {
        crier::ops::mentions::receive_update(
            &desk,
            &connectors,
            "tg",
            Some("tg-webhook-secret"),
            body.as_bytes(),
            chrono::Utc::now(),
        )
    };
    let pushed = push().await.unwrap();
    assert_eq!((pushed.crisis_mentions, pushed.contest_entries), (2, 1));
    // Telegram sends an update again until it is answered: the second is nobody's new one.
    let again = push().await.unwrap();
    assert_eq!((again.crisis_mentions, again.contest_entries), (0, 0));
    for name in ["outage", "billing"] {
        assert_eq!(stored_mentions(store.as_ref(), name).len(), 1, "{name}");
    }
    assert_eq!(store.contest_entries("giveaway").unwrap().len(), 1);
    assert!(fake.calls("getUpdates").is_empty());
}
