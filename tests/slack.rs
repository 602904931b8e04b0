//! The Slack webhook connector against a fake incoming webhook on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::Secret;
use crier::connectors::slack::SlackConnector;
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};
use serde_json::json;

use crate::support::fake_slack::{FakeSlack, Fault, HookState};

const SECRET: &str = "XyZ123abcSecretHookPart";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn slack(url: &str) -> SlackConnector {
    SlackConnector::new("team_slack", Secret::new(url), client())
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: vec![],
        reply_to: None,
        playbook: "crisis".into(),
        item: "alert".into(),
        direct_to: None,
        notice: false,
    }
}

fn account(name: &str, webhook: &str) -> (String, Account) {
    let yaml = format!("network: slack\nwebhook: '{webhook}'\n");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    (
        name.into(),
        Account {
            name: name.into(),
            network: Network::Slack,
            config,
        },
    )
}

#[tokio::test]
async fn posts_text_and_names_it_by_the_key() {
    let fake = FakeSlack::start(SECRET);
    let delivered = slack(&fake.url_with(SECRET))
        .post(&post(
            "run-1/step-0/team_slack",
            "*Outage*: the app is down",
        ))
        .await
        .unwrap();
    assert_eq!(
        delivered,
        Delivered {
            remote_id: "run-1/step-0/team_slack".into(),
            url: None
        }
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/services/T000/B000/{SECRET}"));
    assert_eq!(requests[0].content_type, "application/json");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body, json!({ "text": "*Outage*: the app is down" }));
    assert_eq!(fake.messages(), ["*Outage*: the app is down"]);
}

#[tokio::test]
async fn text_over_40000_characters_is_refused_before_sending() {
    let fake = FakeSlack::start(SECRET);
    let connector = slack(&fake.url_with(SECRET));
    let err = connector
        .post(&post("k1", &"ß".repeat(40_001)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the text has 40001 characters and Slack allows 40000 in a message".into()
        }
    );
    assert!(fake.requests().is_empty());
    connector
        .post(&post("k2", &"ß".repeat(40_000)))
        .await
        .unwrap();
    assert_eq!(fake.messages()[0].chars().count(), 40_000);
}

#[tokio::test]
async fn what_a_webhook_cannot_carry_is_refused_before_sending() {
    let fake = FakeSlack::start(SECRET);
    let connector = slack(&fake.url_with(SECRET));
    let mut with_image = post("k1", "look");
    with_image.media = vec!["img/a.png".into()];
    assert_eq!(
        connector.post(&with_image).await.unwrap_err().reason(),
        "the `slack` network cannot attach images (webhooks cannot)"
    );
    let mut reply = post("k2", "thanks");
    reply.reply_to = Some("k1".into());
    assert_eq!(
        connector.post(&reply).await.unwrap_err().reason(),
        "the `slack` network cannot reply to posts (webhooks cannot)"
    );
    assert_eq!(
        connector
            .post(&post("k3", " \n"))
            .await
            .unwrap_err()
            .reason(),
        "the post has no text"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn each_slack_refusal_is_permanent_in_plain_words() {
    let fake = FakeSlack::start(SECRET);
    let connector = slack(&fake.url_with(SECRET));
    let cases = [
        (
            HookState::ChannelArchived,
            "Slack refused the post: the webhook's channel is archived (channel_is_archived)",
        ),
        (
            HookState::ChannelNotFound,
            "Slack refused the post: the webhook's channel no longer exists (channel_not_found)",
        ),
        (
            HookState::AppRemoved,
            "Slack refused the post: the webhook was removed or its app uninstalled: create a new webhook and update `webhook` in crier.yaml (no_service)",
        ),
        (
            HookState::ActionProhibited,
            "Slack refused the post: a workspace admin has restricted posting to this channel (action_prohibited)",
        ),
        (
            HookState::GeneralChannelDenied,
            "Slack refused the post: only some members may post in the workspace's general channel, and the webhook's app is not one of them (posting_to_general_channel_denied)",
        ),
    ];
    for (state, reason) in cases {
        fake.set_state(state);
        let err = connector.post(&post("k", "hi")).await.unwrap_err();
        assert_eq!(
            err,
            SendError::Permanent {
                reason: reason.into()
            }
        );
    }
    assert!(fake.messages().is_empty());

    let err = slack(&fake.url_with("revoked"))
        .post(&post("k", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "Slack refused the post: the webhook URL is not valid any more: create a new webhook and update `webhook` in crier.yaml (invalid_token)".into()
        }
    );
}

async fn send_with(fault: Fault) -> (SendError, FakeSlack) {
    let fake = FakeSlack::start(SECRET);
    fake.push_fault(fault);
    let err = slack(&fake.url_with(SECRET))
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
            reason: "Slack failed (HTTP 500 Internal Server Error)".into()
        }
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn rate_limit_with_and_without_retry_after() {
    let (err, _fake) = send_with(Fault::RateLimited { retry_after: 30 }).await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_secs(30),
            reason: "Slack is rate limiting this webhook (about one message per second is allowed)"
                .into()
        }
    );
    let (err, _fake) = send_with(Fault::RateLimitedNoHint).await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == http::DEFAULT_RETRY_AFTER),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_late_answer_is_outcome_unknown_and_cannot_be_looked_up() {
    let (err, fake) = send_with(Fault::Slow(Duration::from_secs(5))).await;
    assert!(err.reason().contains("did not answer in time"), "{err}");
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.messages().len(), 1);
    let connector = slack(&fake.url_with(SECRET));
    assert_eq!(
        connector.lookup(&post("k1", "hi")).await.unwrap(),
        Lookup::Unsupported
    );
    // Slack keeps no key: a blind resend is a second message.
    connector.post(&post("k1", "hi")).await.unwrap();
    assert_eq!(fake.messages(), ["hi", "hi"]);
}

#[tokio::test]
async fn a_dropped_connection_is_outcome_unknown() {
    let (err, fake) = send_with(Fault::AcceptThenDrop).await;
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.messages().len(), 1);
}

#[tokio::test]
async fn health_checks_only_the_url_and_never_posts() {
    let fake = FakeSlack::start(SECRET);
    slack(&fake.url_with(SECRET)).health().await.unwrap();
    // Even a revoked webhook looks healthy: Slack offers no check that does not post.
    slack(&fake.url_with("revoked")).health().await.unwrap();
    assert!(fake.requests().is_empty());

    let bad = BTreeMap::from([account("s", "env:CRIER_TEST_SLACK_NOT_A_URL")]);
    let errors = Connectors::build(&bad, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `s`: environment variable `CRIER_TEST_SLACK_NOT_A_URL` is not set"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "hooks.slack.com/services/T/B/x\n").unwrap();
    let bad = BTreeMap::from([account("s", &format!("file:{}", file.path().display()))]);
    let errors = Connectors::build(&bad, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `s`: `webhook` is not an http(s) URL: relative URL without a base"
    );
}

#[tokio::test]
async fn capabilities_say_only_post() {
    let fake = FakeSlack::start(SECRET);
    let connector = slack(&fake.url_with(SECRET));
    let caps = connector.capabilities();
    assert!(caps.post);
    assert!(!caps.reply && !caps.media && !caps.direct_message && !caps.delete);
    assert!(!caps.read_mentions && !caps.metrics && !caps.lookup && !caps.idempotency_key);
    assert_eq!(
        connector.delete("k1").await.unwrap_err().reason(),
        "the `slack` network cannot delete posts"
    );
    assert!(
        connector
            .direct_message("@ann", &post("k", "hi"))
            .await
            .is_err()
    );
    assert!(connector.mentions(None).await.is_err());
    assert!(connector.metrics(&[]).await.is_err());
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_webhook_url_never_shows_in_errors_or_debug() {
    let fake = FakeSlack::start(SECRET);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), format!("{}\n", fake.url_with(SECRET))).unwrap();
    let accounts = BTreeMap::from([account(
        "team_slack",
        &format!("file:{}", file.path().display()),
    )]);
    let connectors = Connectors::build(&accounts, &client()).unwrap();
    let connector = connectors.get("team_slack").unwrap();
    assert_eq!(connector.network(), Network::Slack);
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
    fake.set_state(HookState::AppRemoved);
    let err = connector.post(&post("k", "hi")).await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    drop(fake);
    let err = connector.post(&post("k", "hi")).await.unwrap_err();
    texts.extend([format!("{err}"), format!("{err:?}")]);
    for text in &texts {
        assert!(
            !text.contains(SECRET),
            "the webhook secret leaked into: {text}"
        );
        assert!(!text.contains("/services/"), "the URL leaked into: {text}");
    }
    assert!(texts.iter().any(|t| t.contains("Secret(***)")));
}
