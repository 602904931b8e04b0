//! The X connector against a fake X API v2 on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::oauth::{TokenSet, UserToken};
use crier::connectors::secret::Secret;
use crier::connectors::x::XConnector;
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::network::Network;
use crier::playbook::plan::Account;
use crier::playbook::raw::AccountConfig;
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_x::{
    CLIENT_ID, FAN_HANDLE, FAN_ID, FOLLOWERS, FakeX, Fault, ME_HANDLE, ME_ID,
};

const ACCESS: &str = "xat-first-7d1c";
const REFRESH: &str = "xrt-first-09ab";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

/// A token file as the token endpoint's answer, expiring in `expires_in` seconds.
fn token_file(dir: &tempfile::TempDir, access: &str, expires_in: i64) -> PathBuf {
    let path = dir.path().join("x.json");
    let expires_at = (Utc::now() + TimeDelta::seconds(expires_in)).to_rfc3339();
    std::fs::write(
        &path,
        format!(
            r#"{{"access_token":"{access}","refresh_token":"{REFRESH}","expires_at":"{expires_at}"}}"#
        ),
    )
    .unwrap();
    path
}

fn x_with_file(fake: &FakeX, file: &Path) -> XConnector {
    let reference = format!("file:{}", file.display());
    let value = Secret::new(std::fs::read_to_string(file).unwrap());
    let (tokens, file) = UserToken::read_secret(&reference, &value).unwrap();
    connector(fake, tokens, file, None)
}

fn connector(
    fake: &FakeX,
    tokens: TokenSet,
    file: Option<PathBuf>,
    secret: Option<&str>,
) -> XConnector {
    let server: reqwest::Url = fake.url().parse().unwrap();
    let endpoint = XConnector::token_endpoint(&server, CLIENT_ID, secret.map(Secret::new));
    let token = UserToken::new("brand_x", tokens, file, endpoint, client());
    XConnector::new("brand_x", server, token, client())
}

/// A connector with a fresh token that will not need renewing.
fn x(fake: &FakeX) -> (XConnector, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 7200);
    (x_with_file(fake, &file), dir)
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
async fn posts_text_with_the_bearer_token() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let delivered = x.post(&post("k1", "We launch today 🚀")).await.unwrap();
    let id = fake.posts()[0].id.clone();
    assert_eq!(
        delivered,
        Delivered {
            url: Some(format!("https://x.com/i/status/{id}")),
            remote_id: id,
        }
    );
    let calls = fake.calls("POST", "/2/tweets");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].bearer.as_deref(), Some(ACCESS));
    assert_eq!(
        calls[0].body,
        serde_json::json!({ "text": "We launch today 🚀" })
    );
}

#[tokio::test]
async fn images_are_uploaded_then_attached_and_replies_name_their_parent() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let dir = tempfile::tempdir().unwrap();
    let mut with_images = post("k1", "Two looks");
    with_images.media = vec![image(&dir, "a.png"), image(&dir, "b.png")];
    let parent = x.post(&with_images).await.unwrap();
    let uploads = fake.calls("POST", "/2/media/upload");
    assert_eq!(uploads.len(), 2);
    assert_eq!(uploads[0].form["media_category"], "tweet_image");
    assert_eq!(uploads[0].form["media"], "file:a.png");
    let body = &fake.calls("POST", "/2/tweets")[0].body;
    assert_eq!(body["media"]["media_ids"].as_array().unwrap().len(), 2);
    assert_eq!(fake.posts()[0].media_keys.len(), 2);

    let mut reply = post("k2", "More on Friday");
    reply.reply_to = Some(parent.remote_id.clone());
    x.post(&reply).await.unwrap();
    let body = &fake.calls("POST", "/2/tweets")[1].body;
    assert_eq!(
        body["reply"]["in_reply_to_tweet_id"],
        parent.remote_id.as_str()
    );
}

#[tokio::test]
async fn text_is_weighed_as_x_counts_it_and_refused_before_sending() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    // 256 letters, a space and a link of any length weigh 256 + 1 + 23 = 280.
    let link = format!("https://shop.example/{}", "p".repeat(120));
    x.post(&post("k1", &format!("{} {link}", "a".repeat(256))))
        .await
        .unwrap();
    let err = x
        .post(&post("k2", &format!("{} {link}", "a".repeat(257))))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason:
                "the text weighs 281 as X counts it (links 23, emoji and CJK 2) and X allows 280"
                    .into()
        }
    );
    // CJK weighs 2: 140 fit, 141 do not.
    x.post(&post("k3", &"字".repeat(140))).await.unwrap();
    assert!(x.post(&post("k4", &"字".repeat(141))).await.is_err());
    let dir = tempfile::tempdir().unwrap();
    let mut many = post("k5", "Five");
    many.media = (0..5).map(|n| image(&dir, &format!("{n}.png"))).collect();
    let err = x.post(&many).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "the post has 5 images and X takes at most 4 in one post"
    );
    assert_eq!(fake.calls("POST", "/2/tweets").len(), 2);
    assert!(fake.calls("POST", "/2/media/upload").is_empty());
}

async fn post_with(fault: Fault) -> (SendError, FakeX) {
    let fake = FakeX::start(ACCESS, REFRESH);
    fake.push_fault(fault);
    let (x, _dir) = x(&fake);
    let err = x.post(&post("k1", "Hello")).await.unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn a_rate_limit_waits_until_x_rate_limit_reset() {
    let (err, fake) = post_with(Fault::RateLimited(300)).await;
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert!((298..=300).contains(&after.as_secs()), "{after:?}");
    assert!(
        reason.starts_with("X is rate limiting this endpoint (HTTP 429"),
        "{reason}"
    );
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn the_daily_post_limit_and_the_monthly_cap_are_said_in_plain_words() {
    let (err, _fake) = post_with(Fault::DailyLimit(5000)).await;
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert!((4990..=5000).contains(&after.as_secs()), "{after:?}");
    assert!(
        reason.contains("as many times as X allows in 24 hours"),
        "{reason}"
    );

    let (err, _fake) = post_with(Fault::UsageCap).await;
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, http::MAX_RETRY_AFTER);
    assert!(
        reason.contains("used up the posts its API plan allows this month"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_outage_is_transient_and_duplicates_and_bad_media_are_refused() {
    let (err, _fake) = post_with(Fault::Unavailable).await;
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");

    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    x.post(&post("k1", "Same words")).await.unwrap();
    let err = x.post(&post("k2", "Same words")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "X refused the post: the account posted the same text recently (HTTP 403 Forbidden: You are not allowed to create a Tweet with duplicate content.)".into()
        }
    );
    let mut reply = post("k3", "To nothing");
    reply.reply_to = Some("1".into());
    let err = x.post(&reply).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "X refused the reply (HTTP 400 Bad Request: The post you are replying to has been deleted or is not visible to you.)"
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_first_and_written_back_atomically() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 60);
    let x = x_with_file(&fake, &file);
    x.post(&post("k1", "Hello")).await.unwrap();
    let renewals = fake.calls("POST", "/2/oauth2/token");
    assert_eq!(renewals.len(), 1, "renewed before the post");
    assert_eq!(renewals[0].form["grant_type"], "refresh_token");
    assert_eq!(renewals[0].form["refresh_token"], REFRESH);
    assert_eq!(renewals[0].form["client_id"], CLIENT_ID);
    assert_eq!(
        fake.calls("POST", "/2/tweets")[0].bearer.as_deref(),
        Some("xat-renewed-1")
    );
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.access_token, "xat-renewed-1");
    assert_eq!(stored.refresh_token.as_deref(), Some("xrt-renewed-1"));
    let expires = stored.expires_at.unwrap();
    assert!(expires > Utc::now() + TimeDelta::minutes(110), "{expires}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left beside it"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The renewed token serves the next calls without another renewal.
    x.post(&post("k2", "Again")).await.unwrap();
    assert_eq!(fake.calls("POST", "/2/oauth2/token").len(), 1);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_request_sent_again() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    fake.revoke_access_tokens();
    x.post(&post("k1", "Hello")).await.unwrap();
    let posts = fake.calls("POST", "/2/tweets");
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].bearer.as_deref(), Some(ACCESS));
    assert_eq!(posts[1].bearer.as_deref(), Some("xat-renewed-1"));
    assert_eq!(fake.posts().len(), 1);
}

#[tokio::test]
async fn a_confidential_client_renews_with_basic_auth() {
    let fake = FakeX::start(ACCESS, REFRESH);
    fake.require_client_secret("s3cret");
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 10);
    let reference = format!("file:{}", file.display());
    let value = Secret::new(std::fs::read_to_string(&file).unwrap());
    let (tokens, file) = UserToken::read_secret(&reference, &value).unwrap();
    let x = connector(&fake, tokens, file, Some("s3cret"));
    x.health().await.unwrap();
    assert_eq!(fake.refresh_token(), "xrt-renewed-1");
}

#[tokio::test]
async fn a_token_that_cannot_be_renewed_fails_the_check_with_what_to_do() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 7200);
    let x = x_with_file(&fake, &file);
    x.health().await.unwrap();
    fake.revoke_access_tokens();
    fake.revoke_refresh_token();
    let before = std::fs::read_to_string(&file).unwrap();
    let err = x.health().await.unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with("X would not renew the token of account `brand_x` (HTTP 400 Bad Request: Value passed for the token was invalid.)"),
        "{reason}"
    );
    assert!(reason.contains("authorize crier again"), "{reason}");
    assert!(reason.contains(&file.display().to_string()), "{reason}");
    assert!(!reason.contains(REFRESH) && !reason.contains(ACCESS));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "nothing lost"
    );

    // A bare access token has nothing to renew with.
    let bare = TokenSet::parse(ACCESS, None).unwrap();
    let err = connector(&fake, bare, None, None)
        .health()
        .await
        .unwrap_err();
    assert!(
        err.reason().contains("the secret holds no refresh token"),
        "{err}"
    );
}

#[tokio::test]
async fn another_process_renewal_in_the_file_is_taken_rather_than_spending_a_dead_token() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 60);
    let first = x_with_file(&fake, &file);
    let second = x_with_file(&fake, &file);
    first.health().await.unwrap();
    // `second` still holds the first refresh token, which X has rotated away.
    second.post(&post("k1", "Hello")).await.unwrap();
    assert_eq!(fake.calls("POST", "/2/oauth2/token").len(), 1);
    assert_eq!(
        fake.calls("POST", "/2/tweets")[0].bearer.as_deref(),
        Some("xat-renewed-1")
    );
}

#[tokio::test]
async fn a_lost_answer_is_found_among_the_posts_since_the_first_attempt() {
    for fault in [
        Fault::AcceptThenDrop,
        Fault::Slow(Duration::from_millis(1500)),
    ] {
        let fake = FakeX::start(ACCESS, REFRESH);
        let (x, _dir) = x(&fake);
        let text = "Sale & more at https://shop.example/spring?utm=x";
        let first_attempt = Utc::now();
        fake.push_fault(fault);
        let err = x.post(&post("k1", text)).await.unwrap_err();
        assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
        assert_eq!(fake.posts().len(), 1, "the post went out");
        assert!(fake.posts()[0].text.contains("https://t.co/"));
        let found = x
            .lookup_since(&post("k1", text), Some(first_attempt))
            .await
            .unwrap();
        let Lookup::Found(found) = found else {
            panic!("{found:?}")
        };
        assert_eq!(found.remote_id, fake.posts()[0].id);
        let read = fake.calls("GET", &format!("/2/users/{ME_ID}/tweets"));
        assert!(read[0].query["start_time"] <= first_attempt.to_rfc3339());
    }
}

#[tokio::test]
async fn lookup_finds_replies_and_posts_with_images_and_nothing_older_than_the_first_attempt() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let old = Utc::now() - TimeDelta::hours(3);
    fake.add_tweet(ME_ID, "Hello", None, old);
    let since = Utc::now() - TimeDelta::minutes(1);
    assert_eq!(
        x.lookup_since(&post("k1", "Hello"), Some(since))
            .await
            .unwrap(),
        Lookup::NotFound,
        "the same text before the first attempt is another post"
    );
    let mention = fake.add_mention("is the shop open?");
    let mut reply = post("k2", "Yes, until 8");
    reply.reply_to = Some(mention.clone());
    assert_eq!(
        x.lookup_since(&reply, Some(since)).await.unwrap(),
        Lookup::NotFound
    );
    let sent = x.post(&reply).await.unwrap();
    assert!(
        fake.posts()
            .last()
            .unwrap()
            .text
            .starts_with(&format!("@{FAN_HANDLE} "))
    );
    assert_eq!(
        x.lookup_since(&reply, Some(since)).await.unwrap(),
        Lookup::Found(sent)
    );

    let dir = tempfile::tempdir().unwrap();
    let mut pictured = post("k3", "New look");
    pictured.media = vec![image(&dir, "look.png")];
    let sent = x.post(&pictured).await.unwrap();
    assert_eq!(x.lookup(&pictured).await.unwrap(), Lookup::Found(sent));
    assert_eq!(
        x.lookup(&post("k4", "New look")).await.unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn mentions_are_read_page_by_page_after_the_cursor_oldest_first() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let first = fake.add_mention("hi");
    fake.add_mention("hello");
    fake.add_tweet(
        ME_ID,
        &format!("@{FAN_HANDLE} thanks"),
        Some(&first),
        Utc::now(),
    );
    let page = x.mentions(None).await.unwrap();
    let texts: Vec<&str> = page.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["@brand hi", "@brand hello"], "own posts left out");
    let mention = &page.mentions[0];
    assert_eq!(mention.author.id, FAN_ID);
    assert_eq!(mention.author.handle, format!("@{FAN_HANDLE}"));
    assert_eq!(mention.author.display_name.as_deref(), Some("Olena Fan"));
    assert_eq!(mention.author.followers, Some(87));
    assert!(mention.author.created_at.is_some());

    let cursor = page.cursor.unwrap();
    for n in 0..150 {
        fake.add_mention(&format!("entry {n}"));
    }
    let next = x.mentions(Some(&cursor)).await.unwrap();
    assert_eq!(next.mentions.len(), 150);
    assert_eq!(next.mentions[0].text, "@brand entry 0");
    assert_eq!(next.mentions[149].text, "@brand entry 149");
    let calls = fake.calls("GET", &format!("/2/users/{ME_ID}/mentions"));
    let last_two: Vec<(Option<&String>, Option<&String>)> = calls[1..]
        .iter()
        .map(|c| (c.query.get("since_id"), c.query.get("pagination_token")))
        .collect();
    assert_eq!(last_two.len(), 2, "two pages of 100");
    assert_eq!(last_two[0], (Some(&cursor), None));
    assert_eq!(last_two[1].1.map(String::as_str), Some("page-100"));
    let newest = next.cursor.unwrap();
    assert_eq!(newest, next.mentions[149].id);
    let empty = x.mentions(Some(&newest)).await.unwrap();
    assert!(empty.mentions.is_empty());
    assert_eq!(empty.cursor, None, "the cursor stays");
    let err = x.mentions(Some("yesterday")).await.unwrap_err();
    assert_eq!(err.reason(), "`yesterday` is not an X mentions cursor");
}

#[tokio::test]
async fn mentions_outside_the_apps_plan_are_said_in_plain_words() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    fake.forbid_mentions();
    let err = x.mentions(None).await.unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with(
            "the X app's API plan does not include reading mentions; a higher plan (Basic or above)"
        ),
        "{reason}"
    );
}

#[tokio::test]
async fn a_mention_is_read_again_as_it_is_now_or_as_gone() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let id = fake.add_mention("my entry");
    fake.edit_text(&id, "@brand my entry &amp; a friend");
    let seen = x.fetch_post(&id).await.unwrap().unwrap();
    assert_eq!(seen.text, "@brand my entry & a friend");
    assert_eq!(seen.author.handle, format!("@{FAN_HANDLE}"));
    fake.remove(&id);
    assert_eq!(x.fetch_post(&id).await.unwrap(), None);
}

#[tokio::test]
async fn metrics_read_public_counts_and_followers() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let sent = x.post(&post("k1", "Sale")).await.unwrap();
    fake.set_counts(&sent.remote_id, 12, 3, 2, 950);
    let snapshot = x
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(FOLLOWERS));
    let counts = &snapshot.posts[0];
    assert_eq!(
        (counts.likes, counts.reposts, counts.replies, counts.views),
        (12, 5, 0, Some(950))
    );
    assert_eq!(
        fake.calls("GET", "/2/tweets")[0].query["ids"],
        sent.remote_id
    );
}

#[tokio::test]
async fn delete_removes_the_post_and_a_second_delete_succeeds() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let (x, _dir) = x(&fake);
    let sent = x.post(&post("k1", "Oops")).await.unwrap();
    x.delete(&sent.remote_id).await.unwrap();
    assert!(fake.posts().is_empty());
    x.delete(&sent.remote_id).await.unwrap();
    assert_eq!(
        fake.calls("DELETE", &format!("/2/tweets/{}", sent.remote_id))
            .len(),
        2
    );
}

#[test]
fn the_table_says_what_x_can_do() {
    let caps = Network::X.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete);
    assert!(caps.read_mentions && caps.metrics && caps.lookup);
    assert!(!caps.direct_message && !caps.search_hashtags && !caps.idempotency_key);
    let limit = Network::X.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (280, "weighted characters"));
    assert_eq!(Network::X.profile().max_images, Some(4));
    assert_eq!(ME_HANDLE, "brand");
}

fn account(fields: &str) -> BTreeMap<String, Account> {
    let yaml = format!("network: x\n{fields}");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    BTreeMap::from([(
        "brand_x".to_owned(),
        Account {
            name: "brand_x".into(),
            network: Network::X,
            config,
        },
    )])
}

#[test]
fn registry_builds_x_accounts_and_refresh_tokens_must_be_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 7200);
    let good = account(&format!(
        "token: file:{}\nclient_id: {CLIENT_ID}\n",
        file.display()
    ));
    let built = Connectors::build(&good, &client()).unwrap();
    assert_eq!(built.get("brand_x").unwrap().network(), Network::X);

    // A token set in an environment variable could not take the renewed tokens back.
    let value = Secret::new(std::fs::read_to_string(&file).unwrap());
    let err = UserToken::read_secret("env:X_TOKEN", &value).unwrap_err();
    assert_eq!(
        err,
        "a token set with a refresh token must be in a `file:` secret, where crier writes the refreshed tokens back"
    );
    let bare = UserToken::read_secret("env:X_TOKEN", &Secret::new(ACCESS)).unwrap();
    assert_eq!(bare.0.access_token, ACCESS);
    assert_eq!(bare.1, None);
}

#[test]
fn validation_wants_a_client_id_and_refuses_a_hashtag_contest_on_x() {
    let config = "timezone: UTC\naccounts:\n  brand_x: { network: x, token: 'file:x.json' }\n";
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
            .any(|e| e.contains("account `brand_x` on `x` needs `client_id`")),
        "{errors:?}"
    );

    let config = "timezone: UTC\naccounts:\n  brand_x: { network: x, token: 'file:x.json', client_id: abc }\n";
    let contest = "kind: contest\nname: giveaway\naccount: brand_x\nannounce:\n  at: 2026-12-01 10:00\n  text: \"Post with #win\"\nentries:\n  from: hashtag\n  hashtag: \"#win\"\n  closes: 2026-12-07 20:00\ndraw:\n  at: 2026-12-07 21:00\n  winners: 1\n";
    let dir = crate::support::playbooks::folder(config, &[("giveaway.yaml", contest)]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("account `brand_x` is on x, which cannot search posts by hashtag"),
        "{}",
        errors[0]
    );
}

/// Through the engine and the dispatcher: the first `POST /2/tweets` goes out but its answer
/// is lost; the next attempt looks among the account's posts since the first attempt and
/// records the post, and nothing is posted twice.
#[tokio::test]
async fn the_dispatcher_recovers_a_lost_answer_without_posting_twice() {
    use std::sync::Arc;

    use chrono::TimeZone;
    use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, Store};

    let fake = FakeX::start(ACCESS, REFRESH);
    let secrets = tempfile::tempdir().unwrap();
    let file = token_file(&secrets, ACCESS, 7200);
    let config = format!(
        "timezone: UTC\naccounts:\n  brand_x: {{ network: x, token: 'file:{}', client_id: {CLIENT_ID}, server: '{}' }}\n",
        file.display(),
        fake.url()
    );
    let campaign = "kind: campaign\nname: launch\nposts:\n  - { id: teaser, at: \"2026-12-01 10:00\", to: brand_x, text: \"Soon: https://shop.example/launch\" }\n";
    let (_dir, plan) = crate::support::playbooks::valid_plan(&config, &[("launch.yaml", campaign)]);
    let start = Utc.with_ymd_and_hms(2026, 12, 1, 9, 59, 0).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let mut engine =
        Engine::new(plan.clone(), "rev", EngineParts::new(store.clone()), start).unwrap();
    engine.start(start).unwrap();
    let connectors = Connectors::build(&plan.accounts, &client()).unwrap();
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan);

    fake.push_fault(Fault::AcceptThenDrop);
    let mut now = start + TimeDelta::minutes(1);
    engine.fire_due(now).unwrap();
    dispatcher.dispatch_due(|| now, None).await.unwrap();
    assert_eq!(fake.posts().len(), 1, "the first attempt went out");
    let outbox = |store: &Arc<dyn Store>| {
        store
            .history(&HistoryFilter::default())
            .unwrap()
            .into_iter()
            .flat_map(|run| run.outbox)
            .collect::<Vec<_>>()
    };
    assert_ne!(outbox(&store)[0].state, OutboxState::Sent);

    for _ in 0..30 {
        now += TimeDelta::minutes(1);
        dispatcher.dispatch_due(|| now, None).await.unwrap();
        if outbox(&store)[0].state == OutboxState::Sent {
            break;
        }
    }
    let row = &outbox(&store)[0];
    assert_eq!(row.state, OutboxState::Sent);
    assert_eq!(row.remote_id, Some(fake.posts()[0].id.clone()));
    assert_eq!(fake.posts().len(), 1, "posted once");
    assert_eq!(fake.calls("POST", "/2/tweets").len(), 1);
}

/// `crier accounts check` with a token X no longer renews: the account fails, saying what to
/// do and where the new tokens go; once renewed tokens are in the file, it passes.
#[test]
fn accounts_check_fails_with_what_to_do_when_the_token_cannot_be_renewed() {
    let fake = FakeX::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, "xat-expired", -60);
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_x: {{ network: x, token: 'file:{}', client_id: {CLIENT_ID}, server: '{}' }}\n",
            file.display(),
            fake.url()
        ),
    )
    .unwrap();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["accounts", "check"])
            .arg(dir.path())
            .output()
            .unwrap()
    };
    fake.revoke_refresh_token();
    let out = check();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .contains("brand_x  x        FAILED: X would not renew the token of account `brand_x`"),
        "{stdout}"
    );
    assert!(stdout.contains("authorize crier again"), "{stdout}");
    assert!(!stdout.contains(REFRESH));

    // The token as it was: renewed by the check, which writes the new pair to the file.
    let fake = FakeX::start(ACCESS, REFRESH);
    let config = std::fs::read_to_string(dir.path().join("crier.yaml")).unwrap();
    let config = config.replace(
        &config[config.find("http://").unwrap()..config.rfind('\'').unwrap()],
        &fake.url(),
    );
    std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
    let out = check();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.refresh_token.as_deref(), Some("xrt-renewed-1"));
}

/// `crier accounts connect`: prints X's authorization address (PKCE, S256, the scopes, a
/// localhost redirect), takes the browser's redirect, exchanges the code and writes the
/// tokens to the account's file, owner-only; the connector then uses them.
#[tokio::test]
async fn accounts_connect_runs_the_authorization_code_flow_with_pkce() {
    use std::io::{BufRead as _, BufReader, Read as _};

    let fake = FakeX::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets").join("x.json");
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_x: {{ network: x, token: 'file:{}', client_id: {CLIENT_ID}, server: '{}' }}\n  local: {{ network: console }}\n",
            file.display(),
            fake.url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["accounts", "connect", "brand_x", "--port", "0"])
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut address = None;
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line
            .trim()
            .strip_prefix("https://x.com/i/oauth2/authorize?")
        {
            address = Some(url.to_owned());
            break;
        }
    }
    let address = address.expect("the authorization address is printed");
    let query: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://x/?{address}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["scope"],
        "tweet.read tweet.write users.read media.write offline.access"
    );
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));
    // The person approves; X sends the browser back with the code and the state.
    let code = fake.authorize(&query["code_challenge"]);
    let back = format!(
        "{}?state={}&code={code}",
        query["redirect_uri"], query["state"]
    );
    let page = reqwest::get(&back).await.unwrap().text().await.unwrap();
    assert!(page.contains("crier is authorized"), "{page}");
    let status = {
        let mut waited = 0;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(waited < 200, "crier accounts connect did not end");
            waited += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("account `brand_x`: tokens written to")),
        "{rest:?}"
    );
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.access_token, "xat-renewed-1");
    assert!(stored.refresh_token.is_some() && stored.expires_at.is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    x_with_file(&fake, &file).health().await.unwrap();

    // A console account has nothing to authorize.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["accounts", "connect", "local", "--port", "0"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(
            "crier authorizes itself only on networks whose tokens it renews (x, linkedin, youtube)"
        ),
        "{said}"
    );
}
