//! The LinkedIn connector against a fake LinkedIn REST API on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::linkedin::{LinkedinConnector, escape};
use crier::connectors::oauth::{TokenSet, UserToken};
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Lookup, OutgoingPost, SendError};
use crier::network::Network;

use crate::support::fake_linkedin::{
    CLIENT_ID, CLIENT_SECRET, FOLLOWERS, FakeLinkedin, Fault, ORG,
};

const ACCESS: &str = "AQV-linkedin-access";
const REFRESH: &str = "AQX-linkedin-refresh";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn linkedin(fake: &FakeLinkedin, tokens: TokenSet, file: Option<PathBuf>) -> LinkedinConnector {
    let server: reqwest::Url = fake.url().parse().unwrap();
    let endpoint =
        LinkedinConnector::token_endpoint(&server, CLIENT_ID, Some(Secret::new(CLIENT_SECRET)));
    let token = UserToken::new("brand_linkedin", tokens, file, endpoint, client());
    LinkedinConnector::new("brand_linkedin", server, token, ORG, client())
}

fn bare(fake: &FakeLinkedin) -> LinkedinConnector {
    linkedin(fake, TokenSet::parse(ACCESS, None).unwrap(), None)
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

fn image(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, b"\x89PNG fake").unwrap();
    path
}

#[tokio::test]
async fn posts_as_the_organization_with_the_version_pinned_and_text_escaped() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let sent = bare(&fake)
        .post(&post("k1", "Hiring (remote) #jobs"))
        .await
        .unwrap();
    let posted = &fake.posts()[0];
    assert_eq!(sent.remote_id, posted.urn);
    assert_eq!(
        sent.url,
        Some(format!(
            "https://www.linkedin.com/feed/update/{}/",
            posted.urn
        ))
    );
    assert_eq!(posted.body["author"], ORG);
    assert_eq!(posted.body["commentary"], "Hiring \\(remote\\) \\#jobs");
    assert_eq!(posted.body["visibility"], "PUBLIC");
    assert_eq!(posted.body["distribution"]["feedDistribution"], "MAIN_FEED");
    let call = &fake.calls("POST", "/rest/posts")[0];
    assert_eq!(call.headers["linkedin-version"], "202411");
    assert_eq!(call.headers["x-restli-protocol-version"], "2.0.0");
    assert_eq!(escape("a_b"), "a\\_b");
}

#[tokio::test]
async fn images_are_initialized_uploaded_then_attached() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let connector = bare(&fake);
    let dir = tempfile::tempdir().unwrap();
    let mut one = post("k1", "One look");
    one.media = vec![image(&dir, "a.png")];
    connector.post(&one).await.unwrap();
    let init = &fake.calls("POST", "/rest/images")[0];
    assert_eq!(init.query["action"], "initializeUpload");
    assert_eq!(init.body["initializeUploadRequest"]["owner"], ORG);
    assert_eq!(fake.uploads().len(), 1);
    assert!(
        fake.posts()[0].body["content"]["media"]["id"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:image:")
    );
    let mut two = post("k2", "Two looks");
    two.media = vec![image(&dir, "a.png"), image(&dir, "b.png")];
    connector.post(&two).await.unwrap();
    let images = fake.posts()[1].body["content"]["multiImage"]["images"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(images, 2);
}

#[tokio::test]
async fn text_over_3000_characters_is_refused_before_sending() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let connector = bare(&fake);
    connector
        .post(&post("k1", &"ä".repeat(3000)))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", &"ä".repeat(3001)))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the text has 3001 characters and LinkedIn allows 3000"
    );
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn a_429_waits_and_says_when_the_daily_limit_resets() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    fake.push_fault("/rest/posts", Fault::TooMany);
    let err = bare(&fake).post(&post("k1", "Hi")).await.unwrap_err();
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, http::MAX_RETRY_AFTER);
    assert!(reason.contains("resets at midnight UTC"), "{reason}");
    fake.push_fault("/rest/posts", Fault::ServerError);
    let err = bare(&fake).post(&post("k1", "Hi")).await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refused_token_is_renewed_with_the_apps_secret_and_written_back() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("linkedin.json");
    let expires = (Utc::now() + TimeDelta::days(30)).to_rfc3339();
    std::fs::write(
        &file,
        format!(
            r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","expires_at":"{expires}"}}"#
        ),
    )
    .unwrap();
    let reference = format!("file:{}", file.display());
    let value = Secret::new(std::fs::read_to_string(&file).unwrap());
    let (tokens, file_path) = UserToken::read_secret(&reference, &value).unwrap();
    let connector = linkedin(&fake, tokens, file_path);
    fake.revoke_access();
    connector.post(&post("k1", "Hello")).await.unwrap();
    let renewal = &fake.calls("POST", "/oauth/v2/accessToken")[0];
    assert_eq!(renewal.path, "/oauth/v2/accessToken");
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert!(stored.access_token.starts_with("li-renewed-"));
    assert_eq!(stored.refresh_token.as_deref(), Some(REFRESH));

    // A bare token that expired says what to do.
    let fake = FakeLinkedin::start("other", REFRESH);
    let err = bare(&fake).health().await.unwrap_err();
    assert!(
        err.reason().contains("the secret holds no refresh token"),
        "{err}"
    );
}

#[tokio::test]
async fn a_lost_answer_is_found_among_the_authors_posts() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let connector = bare(&fake);
    let first_attempt = Utc::now();
    fake.push_fault("/rest/posts", Fault::AcceptThenDrop);
    let sent = post("k1", "Launch (today) #new");
    let err = connector.post(&sent).await.unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    let Lookup::Found(found) = connector
        .lookup_since(&sent, Some(first_attempt))
        .await
        .unwrap()
    else {
        panic!("found")
    };
    assert_eq!(found.remote_id, fake.posts()[0].urn);
    let listed = &fake.calls("GET", "/rest/posts")[0];
    assert_eq!(listed.query["q"], "author");
    assert_eq!(listed.query["author"], ORG);
    assert_eq!(
        connector.lookup(&post("k2", "Another")).await.unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn replies_metrics_and_delete() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let connector = bare(&fake);
    let sent = connector.post(&post("k1", "Sale")).await.unwrap();
    let mut reply = post("k2", "Details in the comments");
    reply.reply_to = Some(sent.remote_id.clone());
    let comment = connector.post(&reply).await.unwrap();
    let (id, on, body) = fake.comments()[0].clone();
    assert_eq!((comment.remote_id, on), (id, sent.remote_id.clone()));
    assert_eq!(body["actor"], ORG);
    assert_eq!(body["message"]["text"], "Details in the comments");
    assert!(
        fake.calls("POST", "/comments")[0]
            .raw_path
            .contains("urn%3Ali%3Ashare%3A"),
        "URNs in paths are encoded"
    );

    fake.set_counts(&sent.remote_id, 25, 3);
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(FOLLOWERS));
    assert_eq!(
        (snapshot.posts[0].likes, snapshot.posts[0].replies),
        (25, 3)
    );
    connector.delete(&sent.remote_id).await.unwrap();
    assert!(fake.posts().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();
}

#[test]
fn the_table_and_validation_know_linkedin() {
    let caps = Network::Linkedin.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete && caps.metrics && caps.lookup);
    assert!(!caps.read_mentions && !caps.direct_message);
    let limit = Network::Linkedin.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (3000, "characters"));
    let config =
        "timezone: UTC\naccounts:\n  brand_linkedin: { network: linkedin, token: env:LI_TOKEN }\n";
    let dir = crate::support::playbooks::folder(config, &[]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    assert!(
        validated.diagnostics.iter().any(|d| d
            .to_string()
            .contains("account `brand_linkedin` on `linkedin` needs `author`")),
        "{:?}",
        validated.diagnostics
    );
}
