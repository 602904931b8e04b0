//! The Discord webhook connector against a fake webhook on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::Duration;

use crier::connectors::discord::DiscordConnector;
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};
use serde_json::json;

use crate::support::fake_discord::{FakeDiscord, Fault, WEBHOOK_ID};

const TOKEN: &str = "hook-token-Zx81_secret";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn discord(url: &str) -> DiscordConnector {
    DiscordConnector::new("brand_discord", Secret::new(url), client())
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

fn account(name: &str, webhook: &str) -> (String, Account) {
    let yaml = format!("network: discord\nwebhook: '{webhook}'\n");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    (
        name.into(),
        Account {
            name: name.into(),
            network: Network::Discord,
            config,
        },
    )
}

#[tokio::test]
async fn posts_json_and_waits_for_the_message() {
    let fake = FakeDiscord::start(TOKEN);
    let delivered = discord(&fake.url_with(TOKEN))
        .post(&post("k1", "We launch today @everyone"))
        .await
        .unwrap();
    assert_eq!(
        delivered,
        Delivered {
            remote_id: "1300000000000000001".into(),
            url: None
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/api/webhooks/{WEBHOOK_ID}/{TOKEN}"));
    assert_eq!(request.query.as_deref(), Some("wait=true"));
    assert_eq!(request.content_type, "application/json");
    assert_eq!(
        request.payload,
        json!({ "content": "We launch today @everyone", "allowed_mentions": { "parse": [] } })
    );
    assert_eq!(fake.messages()[0].content, "We launch today @everyone");
}

#[tokio::test]
async fn images_go_as_files_with_payload_json() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("mug.png");
    let second = dir.path().join("team.JPG");
    std::fs::write(&first, b"png bytes").unwrap();
    std::fs::write(&second, b"jpeg bytes").unwrap();
    let fake = FakeDiscord::start(TOKEN);
    let mut outgoing = post("k1", "New merch");
    outgoing.media = vec![first, second];
    discord(&fake.url_with(TOKEN))
        .post(&outgoing)
        .await
        .unwrap();
    let request = &fake.requests()[0];
    assert!(
        request
            .content_type
            .starts_with("multipart/form-data; boundary=")
    );
    assert_eq!(
        request.payload,
        json!({
            "content": "New merch",
            "allowed_mentions": { "parse": [] },
            "attachments": [{ "id": 0, "filename": "mug.png" }, { "id": 1, "filename": "team.JPG" }],
        })
    );
    let files: Vec<(String, String, String, Vec<u8>)> = request
        .form
        .iter()
        .filter(|f| f.file_name.is_some())
        .map(|f| {
            (
                f.name.clone(),
                f.file_name.clone().unwrap(),
                f.content_type.clone().unwrap(),
                f.data.clone(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                "files[0]".into(),
                "mug.png".into(),
                "image/png".into(),
                b"png bytes".to_vec()
            ),
            (
                "files[1]".into(),
                "team.JPG".into(),
                "image/jpeg".into(),
                b"jpeg bytes".to_vec()
            ),
        ]
    );
    assert_eq!(fake.messages()[0].attachments, ["mug.png", "team.JPG"]);
}

#[tokio::test]
async fn text_over_2000_characters_is_refused_before_sending() {
    let fake = FakeDiscord::start(TOKEN);
    let connector = discord(&fake.url_with(TOKEN));
    let err = connector
        .post(&post("k1", &"ü".repeat(2001)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the text has 2001 characters and Discord allows 2000 in a message".into()
        }
    );
    assert!(fake.requests().is_empty());
    connector
        .post(&post("k2", &"ü".repeat(2000)))
        .await
        .unwrap();
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn replies_and_empty_posts_are_refused_before_sending() {
    let fake = FakeDiscord::start(TOKEN);
    let connector = discord(&fake.url_with(TOKEN));
    let mut reply = post("k1", "thanks");
    reply.reply_to = Some("1300000000000000001".into());
    let err = connector.post(&reply).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "the `discord` network cannot reply to posts (webhooks cannot)"
    );
    let err = connector.post(&post("k2", "  ")).await.unwrap_err();
    assert_eq!(err.reason(), "the post has no text and no image");
    assert!(fake.requests().is_empty());
}

async fn send_with(fault: Fault) -> (SendError, FakeDiscord) {
    let fake = FakeDiscord::start(TOKEN);
    fake.push_fault(fault);
    let err = discord(&fake.url_with(TOKEN))
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
            reason: "Discord failed (HTTP 500 Internal Server Error)".into()
        }
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn rate_limit_waits_the_bodys_fractional_seconds() {
    let (err, _fake) = send_with(Fault::RateLimited {
        retry_after: 1.5,
        global: false,
    })
    .await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_millis(1500),
            reason: "Discord is rate limiting this webhook".into()
        }
    );
    let (err, _fake) = send_with(Fault::RateLimited {
        retry_after: 12.25,
        global: true,
    })
    .await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_millis(12250),
            reason: "Discord is rate limiting all of crier's requests (global limit)".into()
        }
    );
}

#[tokio::test]
async fn rate_limit_reads_the_reset_after_header_without_a_body() {
    let (err, _fake) = send_with(Fault::RateLimitedHeaderOnly {
        reset_after: "2.75".into(),
    })
    .await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_millis(2750)),
        "{err:?}"
    );
    let (err, _fake) = send_with(Fault::RateLimitedNoHint).await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == http::DEFAULT_RETRY_AFTER),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_revoked_or_deleted_webhook_is_permanent() {
    let fake = FakeDiscord::start(TOKEN);
    let err = discord(&fake.url_with("old-token"))
        .post(&post("k1", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the webhook URL is not valid any more (Discord answered Invalid Webhook Token): create a new webhook and update `webhook` in crier.yaml".into()
        }
    );
    fake.delete_webhook();
    let err = discord(&fake.url_with(TOKEN))
        .post(&post("k1", "hi"))
        .await
        .unwrap_err();
    assert!(
        err.reason().starts_with(
            "the webhook URL is not valid any more (Discord answered Unknown Webhook)"
        ),
        "{err}"
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_late_answer_is_outcome_unknown_and_cannot_be_looked_up() {
    let (err, fake) = send_with(Fault::Slow(Duration::from_secs(5))).await;
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.messages().len(), 1);
    let connector = discord(&fake.url_with(TOKEN));
    assert_eq!(
        connector.lookup(&post("k1", "hi")).await.unwrap(),
        Lookup::Unsupported
    );
    assert!(!connector.capabilities().idempotency_key);
    // A webhook has no idempotency key: a blind resend is a second message.
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
async fn delete_removes_the_message_and_a_gone_one_is_fine() {
    let fake = FakeDiscord::start(TOKEN);
    let connector = discord(&fake.url_with(TOKEN));
    let delivered = connector.post(&post("k1", "oops")).await.unwrap();
    connector.delete(&delivered.remote_id).await.unwrap();
    assert!(fake.messages().is_empty());
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.method, "DELETE");
    assert_eq!(
        request.path,
        format!(
            "/api/webhooks/{WEBHOOK_ID}/{TOKEN}/messages/{}",
            delivered.remote_id
        )
    );
    connector.delete(&delivered.remote_id).await.unwrap();
    let err = connector.delete("../../x").await.unwrap_err();
    assert_eq!(err.reason(), "`../../x` is not the id of a Discord message");
    fake.delete_webhook();
    let err = connector.delete("1").await.unwrap_err();
    assert!(
        err.reason()
            .starts_with("the webhook URL is not valid any more"),
        "{err}"
    );
}

#[tokio::test]
async fn health_gets_the_webhook_without_posting() {
    let fake = FakeDiscord::start(TOKEN);
    discord(&fake.url_with(TOKEN)).health().await.unwrap();
    let request = &fake.requests()[0];
    assert_eq!(request.method, "GET");
    assert!(fake.messages().is_empty());
    let err = discord(&fake.url_with("wrong")).health().await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    assert!(
        err.reason()
            .starts_with("the webhook URL is not valid any more"),
        "{err}"
    );
}

#[tokio::test]
async fn what_webhooks_cannot_do_is_unsupported() {
    let fake = FakeDiscord::start(TOKEN);
    let connector = discord(&fake.url_with(TOKEN));
    let caps = connector.capabilities();
    assert!(caps.post && caps.media && caps.delete);
    assert!(!caps.reply && !caps.direct_message && !caps.read_mentions);
    assert!(!caps.metrics && !caps.lookup && !caps.idempotency_key);
    let dm = connector
        .direct_message("someone", &post("k", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        dm.reason(),
        "the `discord` network cannot send direct messages"
    );
    assert!(connector.mentions(None).await.is_err());
    assert!(connector.metrics(&[]).await.is_err());
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_webhook_url_never_shows_in_errors_or_debug() {
    let fake = FakeDiscord::start(TOKEN);
    let secret_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret_file.path(), format!("{}\n", fake.url_with(TOKEN))).unwrap();
    let accounts = BTreeMap::from([account(
        "brand_discord",
        &format!("file:{}", secret_file.path().display()),
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let connector = connectors.get("brand_discord").unwrap();
    assert_eq!(connector.network(), Network::Discord);
    let mut texts = vec![format!("{connectors:?}"), format!("{connector:?}")];
    for fault in [
        Fault::ServerError,
        Fault::RateLimitedNoHint,
        Fault::AcceptThenDrop,
        Fault::Slow(Duration::from_secs(3)),
    ] {
        fake.push_fault(fault);
        let err = connector.post(&post("k", "hi")).await.unwrap_err();
        texts.extend([format!("{err}"), format!("{err:?}")]);
    }
    fake.delete_webhook();
    let err = connector.health().await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    // The server is gone: reqwest's errors (a stale pooled connection, a refused connect)
    // would carry the URL.
    drop(fake);
    let err = connector.post(&post("k", "hi")).await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    for text in &texts {
        assert!(
            !text.contains(TOKEN),
            "the webhook token leaked into: {text}"
        );
        assert!(
            !text.contains("/api/webhooks"),
            "the URL leaked into: {text}"
        );
    }

    let bad = BTreeMap::from([account("d", "env:CRIER_TEST_UNSET_DISCORD_HOOK")]);
    let errors = Connectors::build(&bad, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `d`: environment variable `CRIER_TEST_UNSET_DISCORD_HOOK` is not set"
    );
}
