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
    assert!(caps.read_mentions);
    assert!(!caps.search_hashtags && !caps.direct_message && !caps.idempotency_key);
    let limit = Network::Threads.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (500, "characters"));
    assert!(!Network::Threads.profile().media_required);
}

#[tokio::test]
async fn a_used_up_publishing_limit_waits_without_publishing() {
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    connector.post(&post("k1", "First", &[])).await.unwrap();
    let limit = &fake.calls("GET", "threads_publishing_limit")[0];
    assert_eq!(limit.params["fields"], "quota_usage,config");
    fake.use_threads_quota(249);
    let err = connector
        .post(&post("k2", "One too many", &[]))
        .await
        .unwrap_err();
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, http::MAX_RETRY_AFTER);
    assert_eq!(
        reason,
        "the profile has published 250 of the 250 posts Threads allows through the API in 24 hours; crier tries again hourly"
    );
    assert_eq!(fake.published().len(), 1);
    assert_eq!(fake.calls("POST", "threads_publish").len(), 1);
}

/// A `threads` account built as `crier run` builds it, its token in the `file:` secret `file`.
fn renewing_threads(fake: &FakeMeta, file: &std::path::Path) -> std::sync::Arc<dyn Connector> {
    use crier::connectors::Connectors;
    use crier::diagnostic::SourceFile;
    use crier::playbook::plan::Account;
    use crier::playbook::raw::AccountConfig;
    use crier::playbook::yaml::{from_node, parse_documents};

    let yaml = format!(
        "network: threads\nuser: '{THREADS_USER}'\ntoken: 'file:{}'\nserver: '{}'\n",
        file.display(),
        fake.threads_url()
    );
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    let accounts = std::collections::BTreeMap::from([(
        "brand_threads".to_owned(),
        Account {
            name: "brand_threads".into(),
            network: Network::Threads,
            config,
        },
    )]);
    Connectors::build(&accounts, &client())
        .unwrap()
        .get("brand_threads")
        .unwrap()
}

fn stored(file: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

/// Sets `file`'s modification time `age` ago.
fn aged(file: &std::path::Path, age: chrono::TimeDelta) {
    let at = std::time::SystemTime::now() - age.to_std().unwrap();
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(at)
        .unwrap();
}

/// A Threads token days from expiry is refreshed (`th_refresh_token`) before the next call,
/// written back to its `file:` secret, and sent from then on.
#[tokio::test]
async fn a_long_lived_token_near_expiry_is_refreshed_and_written_back() {
    use chrono::{TimeDelta, Utc};

    let fake = FakeMeta::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("threads.json");
    std::fs::write(
        &file,
        format!(
            r#"{{"access_token": "{TOKEN}", "expires_at": "{}"}}"#,
            (Utc::now() + TimeDelta::days(2)).to_rfc3339()
        ),
    )
    .unwrap();
    let connector = renewing_threads(&fake, &file);
    connector
        .post(&post("k1", "Fresh token", &[]))
        .await
        .unwrap();

    let refresh = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/refresh_access_token")
        .expect("the token was refreshed");
    assert_eq!(refresh.params["grant_type"], "th_refresh_token");
    assert_eq!(refresh.params["access_token"], TOKEN);
    let renewed = fake.renewed_tokens()[0].clone();
    let publish = &fake.calls("POST", "threads_publish")[0];
    assert_eq!(publish.bearer.as_deref(), Some(renewed.as_str()));
    let written = stored(&file);
    assert_eq!(written["access_token"], renewed.as_str());
    let until: chrono::DateTime<Utc> = written["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() + TimeDelta::days(59), "{until}");
}

/// A Threads token pasted bare into its file, its expiry unknown (Threads has no lookup of
/// it): the file's time is recorded beside it as when crier first saw it, and it is sent as
/// it is while younger than a day, which Threads requires of a token it refreshes; a day on,
/// it is refreshed, the new token and its expiry written back and sent.
#[tokio::test]
async fn a_pasted_token_without_an_expiry_is_refreshed_once_a_day_old() {
    use chrono::{DateTime, TimeDelta, Utc};

    let fake = FakeMeta::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("threads.json");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    aged(&file, TimeDelta::hours(3));
    let connector = renewing_threads(&fake, &file);
    connector.post(&post("k1", "Pasted", &[])).await.unwrap();

    assert!(fake.calls("GET", "/refresh_access_token").is_empty());
    let first = stored(&file);
    assert_eq!(first["access_token"], TOKEN);
    assert!(first.get("expires_at").is_none(), "{first}");
    let seen: DateTime<Utc> = first["seen_at"].as_str().unwrap().parse().unwrap();
    let age = Utc::now() - seen;
    assert!(
        age > TimeDelta::hours(3) - TimeDelta::minutes(1)
            && age < TimeDelta::hours(3) + TimeDelta::minutes(1),
        "{seen}"
    );
    assert_eq!(
        fake.calls("POST", "threads_publish")[0].bearer.as_deref(),
        Some(TOKEN)
    );

    // Touching the file later does not put the refresh off: the time recorded counts.
    let again = renewing_threads(&fake, &file);
    again.post(&post("k2", "Still young", &[])).await.unwrap();
    assert!(fake.calls("GET", "/refresh_access_token").is_empty());
    assert_eq!(stored(&file)["seen_at"], first["seen_at"]);

    // A day later (the recorded time moved back, as a clock would move forward).
    let mut older = first.clone();
    older["seen_at"] = (seen - TimeDelta::hours(22)).to_rfc3339().into();
    std::fs::write(&file, older.to_string()).unwrap();
    let connector = renewing_threads(&fake, &file);
    connector.post(&post("k3", "A day on", &[])).await.unwrap();
    let refresh = fake.calls("GET", "/refresh_access_token");
    assert_eq!(refresh.len(), 1);
    assert_eq!(refresh[0].params["grant_type"], "th_refresh_token");
    assert_eq!(refresh[0].params["access_token"], TOKEN);
    let renewed = fake.renewed_tokens()[0].clone();
    assert_eq!(
        fake.calls("POST", "threads_publish")[2].bearer.as_deref(),
        Some(renewed.as_str())
    );
    let written = stored(&file);
    assert_eq!(written["access_token"], renewed.as_str());
    assert!(written.get("seen_at").is_none(), "{written}");
    let until: DateTime<Utc> = written["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() + TimeDelta::days(59), "{until}");

    // A bare token in a file already more than a day old is refreshed on its first use.
    let old_file = dir.path().join("threads-old.json");
    std::fs::write(&old_file, renewed.as_str()).unwrap();
    aged(&old_file, TimeDelta::days(3));
    let connector = renewing_threads(&fake, &old_file);
    connector.post(&post("k4", "Old file", &[])).await.unwrap();
    assert_eq!(fake.calls("GET", "/refresh_access_token").len(), 2);
    assert_ne!(stored(&old_file)["access_token"], renewed.as_str());
}

/// A pasted token Threads will not refresh (it expired before crier could) fails `crier
/// accounts check` in plain words, naming the account and the file and what to do, and the
/// file keeps the token as it was.
#[tokio::test]
async fn a_refresh_refused_is_said_by_accounts_check_and_the_token_is_kept() {
    use chrono::TimeDelta;

    let fake = FakeMeta::start(TOKEN);
    fake.revoke(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("threads.token");
    std::fs::write(&file, TOKEN).unwrap();
    aged(&file, TimeDelta::days(2));
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "accounts:\n  brand_threads: {{ network: threads, user: '{THREADS_USER}', token: 'file:{}', server: '{}' }}\n",
            file.display(),
            fake.threads_url()
        ),
    )
    .unwrap();
    let crier = env!("CARGO_BIN_EXE_crier");
    let dir_path = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crier)
            .args(["accounts", "check"])
            .arg(&dir_path)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "brand_threads  threads  FAILED: Threads would not renew the long-lived token of account `brand_threads` (code 190: Error validating access token: Session has expired on Friday, 04-Dec-26 10:00:00 PST.): it has expired or was revoked; get a new one (see \"Threads\" under Networks in crier's README) and write it to `{}`",
            file.display()
        )),
        "{stdout}"
    );
    assert_eq!(fake.calls("GET", "/refresh_access_token").len(), 1);
    let kept = stored(&file);
    assert_eq!(kept["access_token"], TOKEN);
    assert!(kept["seen_at"].is_string(), "{kept}");
}

/// Replies to the profile's posts, at any depth, are read as mentions page by page (each
/// conversation's `after` cursors), oldest first, the profile's own left out; the cursor (the
/// newest reply's time) reads only newer ones next time; a reply is read again as it is now,
/// or as gone.
#[tokio::test]
async fn replies_to_the_profiles_posts_are_read_page_by_page_after_the_cursor() {
    use chrono::{TimeDelta, Utc};
    let fake = FakeMeta::start(TOKEN);
    let connector = threads(&fake, None);
    let post_id = connector
        .post(&post("k1", "Which colour?", &[]))
        .await
        .unwrap()
        .remote_id;
    let start = Utc::now() - TimeDelta::minutes(90);
    let mut replies = Vec::new();
    for n in 0..60 {
        replies.push(fake.add_comment(
            &post_id,
            "27100000000000042",
            &format!("yellow {n}"),
            None,
            start + TimeDelta::minutes(n),
        ));
    }
    // The profile answering is not a mention; a reply to that answer is.
    let own = fake.add_comment(
        &post_id,
        THREADS_USER,
        "thanks!",
        Some(&replies[0]),
        start + TimeDelta::minutes(61),
    );
    fake.add_comment(
        &post_id,
        "27100000000000042",
        "you're welcome",
        Some(&own),
        start + TimeDelta::minutes(62),
    );

    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.mentions.len(), 61);
    assert_eq!(page.mentions[0].text, "yellow 0");
    assert_eq!(page.mentions[0].author.handle, "@olena_fan");
    assert_eq!(
        page.mentions[0].in_reply_to.as_deref(),
        Some(post_id.as_str())
    );
    assert_eq!(page.mentions[60].text, "you're welcome");
    assert_eq!(page.mentions[60].in_reply_to.as_deref(), Some(own.as_str()));
    let conversation = fake.calls("GET", "/conversation");
    assert_eq!(conversation.len(), 2, "two pages of 50");
    assert_eq!(conversation[1].params["after"], "r-50");
    assert_eq!(conversation[0].params["reverse"], "false");

    // A reply made after that read, in the second the cursor stopped at, is read next time,
    // with the one read in that second before (the stores keep each mention once).
    let cursor_second =
        chrono::DateTime::from_timestamp(page.cursor.as_deref().unwrap().parse().unwrap(), 0)
            .unwrap();
    fake.add_comment(
        &post_id,
        "27100000000000042",
        "same second",
        None,
        cursor_second,
    );
    fake.add_comment(&post_id, "27100000000000042", "late", None, Utc::now());
    let next = connector.mentions(page.cursor.as_deref()).await.unwrap();
    assert_eq!(
        next.mentions
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["you're welcome", "same second", "late"]
    );

    let again = connector.fetch_post(&replies[3]).await.unwrap().unwrap();
    assert_eq!(again.text, "yellow 3");
    fake.edit_comment(&replies[3], "green 3");
    assert_eq!(
        connector
            .fetch_post(&replies[3])
            .await
            .unwrap()
            .unwrap()
            .text,
        "green 3"
    );
    fake.remove_comment(&replies[3]);
    assert_eq!(connector.fetch_post(&replies[3]).await.unwrap(), None);
}

/// `crier accounts connect` for a Threads profile: Threads' own authorization page with its
/// permissions; the code is exchanged (`POST /oauth/access_token`) and the short-lived token
/// for a long-lived one (`th_exchange_token`), written with its expiry, owner-only; `crier
/// accounts check` then passes with it. A person signed in as another profile is refused.
#[tokio::test]
async fn accounts_connect_signs_in_to_threads_and_writes_the_long_lived_token() {
    use crate::support::connect::{Connecting, check};
    use crate::support::fake_meta::{APP_ID, APP_SECRET};
    use crier::connectors::meta::connect::THREADS_SCOPES;
    let envs = &[("CRIER_TEST_META_SECRET", APP_SECRET)];
    let fake = FakeMeta::start("THAA-unused");
    let root = fake.threads_url().trim_end_matches("/v1.0").to_owned();
    let page = format!("{root}/oauth/authorize?");
    let write = |dir: &tempfile::TempDir, user: &str| {
        let file = dir.path().join("threads.json");
        std::fs::write(
            dir.path().join("crier.yaml"),
            format!(
                "timezone: UTC\naccounts:\n  brand_threads: {{ network: threads, user: '{user}', token: 'file:{}', client_id: '{APP_ID}', client_secret: env:CRIER_TEST_META_SECRET, server: '{}' }}\n",
                file.display(),
                fake.threads_url()
            ),
        )
        .unwrap();
        file
    };
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, THREADS_USER);
    let connecting = Connecting::start(dir.path(), "brand_threads", envs, &page);
    assert_eq!(connecting.query["scope"], THREADS_SCOPES.join(","));
    assert_eq!(connecting.query["client_id"], APP_ID);
    let (code, done) = connecting.approve(|r| fake.authorize(r)).await;
    assert!(done.success, "{}", done.stderr);
    let exchange = &fake.calls("POST", "/oauth/access_token")[0];
    assert_eq!(exchange.path, "/oauth/access_token");
    assert_eq!(exchange.params["grant_type"], "authorization_code");
    assert_eq!(exchange.params["code"], code);
    let long = &fake.calls("GET", "/access_token")[0];
    assert_eq!(long.params["grant_type"], "th_exchange_token");
    assert!(long.params["access_token"].starts_with("THAA-short-"));
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let token = stored["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("THAA-long-"), "{stored}");
    let until: chrono::DateTime<chrono::Utc> =
        stored["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(
        until > chrono::Utc::now() + chrono::TimeDelta::days(59),
        "{until}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = fake.requests().len();
    let (ok, said) = check(dir.path(), envs);
    assert!(ok, "{said}");
    assert!(
        fake.requests()[before..]
            .iter()
            .any(|r| r.bearer.as_deref() == Some(token.as_str()))
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let file = write(&elsewhere, "27100000000000999");
    let connecting = Connecting::start(elsewhere.path(), "brand_threads", envs, &page);
    let (_, done) = connecting.approve(|r| fake.authorize(r)).await;
    assert!(!done.success);
    assert!(
        done.stderr.contains(&format!(
            "account `brand_threads`: the person signed in as the Threads user `{THREADS_USER}`, but the account's `user:` is `27100000000000999`"
        )),
        "{}",
        done.stderr
    );
    assert!(!file.exists());
}
