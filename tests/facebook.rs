//! The Facebook Page connector against a fake Graph API on 127.0.0.1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::meta::facebook::FacebookConnector;
use crier::connectors::secret::Secret;
use crier::connectors::{Connector, Connectors, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::network::Network;
use crier::playbook::plan::Account;
use crier::playbook::raw::AccountConfig;
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_meta::{
    APP_ID, APP_SECRET, FAN_ID, FakeMeta, Fault, IG_USER, OTHER_PAGE_ID, PAGE_FOLLOWERS, PAGE_ID,
};

const TOKEN: &str = "EAAG-page-token-77";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn facebook(fake: &FakeMeta, token: &str) -> FacebookConnector {
    let graph = FacebookConnector::graph(
        fake.instagram_url().parse().unwrap(),
        Secret::new(token),
        client(),
    );
    FacebookConnector::new("brand_facebook", graph, PAGE_ID)
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
async fn text_goes_to_the_page_feed_and_one_image_through_photos() {
    let fake = FakeMeta::start(TOKEN);
    let connector = facebook(&fake, TOKEN);
    let sent = connector.post(&post("k1", "Open today")).await.unwrap();
    let feed = fake.calls("POST", &format!("{PAGE_ID}/feed"));
    assert_eq!(feed[0].params["message"], "Open today");
    assert_eq!(feed[0].bearer.as_deref(), Some(TOKEN));
    assert_eq!(sent.remote_id, fake.published()[0].id);
    assert_eq!(
        sent.url,
        Some(format!("https://www.facebook.com/{}", sent.remote_id))
    );

    let dir = tempfile::tempdir().unwrap();
    let mut pictured = post("k2", "New look");
    pictured.media = vec![image(&dir, "look.png")];
    let sent = connector.post(&pictured).await.unwrap();
    let photos = fake.calls("POST", &format!("{PAGE_ID}/photos"));
    assert_eq!(photos[0].params["source"], "file:look.png");
    assert_eq!(photos[0].params["caption"], "New look");
    assert_eq!(
        sent.remote_id,
        fake.published()[1].id,
        "the post, not the photo"
    );
}

#[tokio::test]
async fn several_images_are_unpublished_photos_attached_to_one_post() {
    let fake = FakeMeta::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let mut pictured = post("k1", "Three looks");
    pictured.media = vec![
        image(&dir, "a.png"),
        image(&dir, "b.png"),
        image(&dir, "c.png"),
    ];
    facebook(&fake, TOKEN).post(&pictured).await.unwrap();
    let photos = fake.calls("POST", &format!("{PAGE_ID}/photos"));
    assert_eq!(photos.len(), 3);
    assert!(photos.iter().all(|p| p.params["published"] == "false"));
    let feed = &fake.calls("POST", &format!("{PAGE_ID}/feed"))[0];
    assert!(feed.params["attached_media[2]"].contains("media_fbid"));
    assert_eq!(fake.published().len(), 1);
}

#[tokio::test]
async fn replies_are_comments_and_comments_are_read_page_by_page_after_the_cursor() {
    let fake = FakeMeta::start(TOKEN);
    let connector = facebook(&fake, TOKEN);
    let contest = connector
        .post(&post("k1", "Comment to enter"))
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::minutes(30);
    let mut entries = Vec::new();
    for n in 0..150 {
        entries.push(fake.add_comment(
            &contest.remote_id,
            FAN_ID,
            &format!("entry {n}"),
            None,
            start + TimeDelta::seconds(n),
        ));
    }
    let mut answer = post("k2", "Good luck!");
    answer.reply_to = Some(entries[0].clone());
    let reply = connector.post(&answer).await.unwrap();
    let own = fake
        .comments()
        .into_iter()
        .find(|c| c.id == reply.remote_id)
        .unwrap();
    assert_eq!(own.parent.as_deref(), Some(entries[0].as_str()));
    assert_eq!(own.from, PAGE_ID);

    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.mentions.len(), 150, "not our own reply");
    assert_eq!(page.mentions[0].text, "entry 0");
    assert_eq!(page.mentions[0].author.id, FAN_ID);
    assert_eq!(
        page.mentions[0].in_reply_to,
        Some(contest.remote_id.clone())
    );
    let afters: Vec<Option<String>> = fake
        .calls("GET", "/comments")
        .iter()
        .map(|c| c.params.get("after").cloned())
        .collect();
    assert_eq!(afters, [None, Some("cursor-100".into())]);

    let cursor = page.cursor.unwrap();
    // A comment made after that read, in the second the cursor stopped at, is read next time
    // (the stores keep each mention once, whatever a read returns again).
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
        Some(&entries[3]),
        Utc::now() + TimeDelta::seconds(5),
    );
    let next = connector.mentions(Some(&cursor)).await.unwrap();
    let texts: Vec<&str> = next.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["same second", "late entry"]);
    assert_eq!(next.mentions[1].in_reply_to, Some(entries[3].clone()));
    let err = connector.mentions(Some("soon")).await.unwrap_err();
    assert_eq!(err.reason(), "`soon` is not a Facebook comments cursor");
}

#[tokio::test]
async fn a_lost_answer_is_found_among_the_pages_posts_since_the_first_attempt() {
    let fake = FakeMeta::start(TOKEN);
    let connector = facebook(&fake, TOKEN);
    let first_attempt = Utc::now();
    fake.push_fault(&format!("{PAGE_ID}/feed"), Fault::AcceptThenDrop);
    let sent = post("k1", "Launch day");
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
    let listed = fake.calls("GET", &format!("{PAGE_ID}/posts"));
    assert!(listed[0].params.contains_key("since"));
    assert_eq!(
        connector
            .lookup_since(&post("k2", "Other"), Some(first_attempt))
            .await
            .unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn throttling_and_an_expired_token_are_classified() {
    let fake = FakeMeta::start(TOKEN);
    fake.push_fault(
        &format!("{PAGE_ID}/feed"),
        Fault::Throttled {
            code: 32,
            minutes: 12,
        },
    );
    let err = facebook(&fake, TOKEN)
        .post(&post("k1", "Hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_secs(12 * 60)),
        "{err:?}"
    );
    let err = facebook(&fake, "EAAG-old").health().await.unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with("Facebook refused the token (code 190:"),
        "{reason}"
    );
    facebook(&fake, TOKEN).health().await.unwrap();
}

#[tokio::test]
async fn metrics_delete_and_text_limit() {
    let fake = FakeMeta::start(TOKEN);
    let connector = facebook(&fake, TOKEN);
    let sent = connector.post(&post("k1", "Sale")).await.unwrap();
    fake.set_counts(&sent.remote_id, 31, 0, 2_400);
    fake.set_shares(&sent.remote_id, 4);
    fake.add_comment(&sent.remote_id, FAN_ID, "nice", None, Utc::now());
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(PAGE_FOLLOWERS));
    let counts = &snapshot.posts[0];
    assert_eq!(
        (counts.likes, counts.reposts, counts.replies, counts.views),
        (31, 4, 1, Some(2_400))
    );
    connector.delete(&sent.remote_id).await.unwrap();
    assert!(fake.published().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();

    let err = connector
        .post(&post("k2", &"a".repeat(63_207)))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the text has 63207 characters and Facebook allows 63206 in a post"
    );
}

#[test]
fn registry_builds_facebook_accounts_and_validation_wants_a_page() {
    let yaml = "network: facebook\npage: '104000000000001'\ntoken: env:CRIER_TEST_UNSET_FB\n";
    let (documents, _) = parse_documents(&SourceFile::new("crier.yaml", yaml.to_owned()), 0);
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    let accounts = BTreeMap::from([(
        "brand_facebook".to_owned(),
        Account {
            name: "brand_facebook".into(),
            network: Network::Facebook,
            config,
        },
    )]);
    let errors = Connectors::build(&accounts, &client()).unwrap_err();
    assert!(errors[0].to_string().contains("CRIER_TEST_UNSET_FB"));

    let config =
        "timezone: UTC\naccounts:\n  brand_facebook: { network: facebook, token: env:FB_TOKEN }\n";
    let dir = crate::support::playbooks::folder(config, &[]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    assert!(
        validated.diagnostics.iter().any(|d| d
            .to_string()
            .contains("account `brand_facebook` on `facebook` needs `page`")),
        "{:?}",
        validated.diagnostics
    );
    let caps = Network::Facebook.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete && caps.read_mentions);
    assert!(caps.metrics && caps.lookup && !caps.direct_message);
}

/// A `facebook` account built as `crier run` builds it, its token set and the app's secret in
/// `file:` secrets in `dir`.
fn renewing_facebook(
    fake: &FakeMeta,
    dir: &tempfile::TempDir,
    tokens: &str,
) -> std::sync::Arc<dyn Connector> {
    let file = dir.path().join("facebook.json");
    std::fs::write(&file, tokens).unwrap();
    let app_secret = dir.path().join("app-secret");
    std::fs::write(&app_secret, APP_SECRET).unwrap();
    let yaml = format!(
        "network: facebook\npage: '{PAGE_ID}'\ntoken: 'file:{}'\nclient_id: '{APP_ID}'\nclient_secret: 'file:{}'\nserver: '{}'\n",
        file.display(),
        app_secret.display(),
        fake.instagram_url()
    );
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    let accounts = BTreeMap::from([(
        "brand_facebook".to_owned(),
        Account {
            name: "brand_facebook".into(),
            network: Network::Facebook,
            config,
        },
    )]);
    Connectors::build(&accounts, &client())
        .unwrap()
        .get("brand_facebook")
        .unwrap()
}

/// A long-lived user token a few days from expiry is exchanged for a new one
/// (`fb_exchange_token`, with the app's id and secret) before the next call, the Page's token
/// is read again with it, and both are written back to the secret file, owner-only; the Page
/// is then called with the new Page token.
#[tokio::test]
async fn a_long_lived_token_near_expiry_is_exchanged_and_the_page_token_read_again() {
    const USER_TOKEN: &str = "EAAG-user-long-lived-1";
    let fake = FakeMeta::start(USER_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let expires = Utc::now() + TimeDelta::days(3);
    let connector = renewing_facebook(
        &fake,
        &dir,
        &format!(
            r#"{{"access_token": "{USER_TOKEN}", "expires_at": "{}"}}"#,
            expires.to_rfc3339()
        ),
    );
    connector.post(&post("k1", "Renewed")).await.unwrap();

    let exchange = &fake.calls("GET", "/oauth/access_token")[0];
    assert_eq!(exchange.params["grant_type"], "fb_exchange_token");
    assert_eq!(exchange.params["client_id"], APP_ID);
    assert_eq!(exchange.params["client_secret"], APP_SECRET);
    assert_eq!(exchange.params["fb_exchange_token"], USER_TOKEN);
    let renewed = fake.renewed_tokens();
    let (user, page) = (&renewed[0], &renewed[1]);
    assert!(user.starts_with("EAAG-renewed-"), "{renewed:?}");
    let page_read = fake
        .requests()
        .into_iter()
        .find(|r| {
            r.path == format!("/v21.0/{PAGE_ID}")
                && r.params.get("fields").map(String::as_str) == Some("access_token")
        })
        .unwrap();
    assert_eq!(page_read.bearer.as_deref(), Some(user.as_str()));
    let feed = &fake.calls("POST", "/feed")[0];
    assert_eq!(feed.bearer.as_deref(), Some(page.as_str()));

    let file = dir.path().join("facebook.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["access_token"], user.as_str());
    assert_eq!(stored["page_token"], page.as_str());
    let until: chrono::DateTime<Utc> = stored["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() + TimeDelta::days(59), "{until}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Not due any more: the next call renews nothing.
    connector.post(&post("k2", "Again")).await.unwrap();
    assert_eq!(fake.calls("GET", "/oauth/access_token").len(), 1);
    assert_eq!(
        fake.calls("POST", "/feed")[1].bearer.as_deref(),
        Some(page.as_str())
    );
}

/// A long-lived token that can no longer be renewed (expired, or access revoked) fails the
/// account's check with what to do, and the file is left as it was.
#[tokio::test]
async fn a_token_that_cannot_be_renewed_fails_the_check_saying_what_to_do() {
    const USER_TOKEN: &str = "EAAG-user-long-lived-2";
    let fake = FakeMeta::start(USER_TOKEN);
    fake.revoke(USER_TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let written = format!(
        r#"{{"access_token": "{USER_TOKEN}", "expires_at": "{}", "page_token": "EAAG-page-old"}}"#,
        (Utc::now() + TimeDelta::hours(5)).to_rfc3339()
    );
    let connector = renewing_facebook(&fake, &dir, &written);
    let err = connector.health().await.unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with(
            "Facebook would not renew the long-lived token of account `brand_facebook` (code 190: Error validating access token"
        ),
        "{reason}"
    );
    assert!(
        reason.contains(
            "get a new one (see \"Facebook\" under Networks in crier's README) and write it to"
        ),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("facebook.json")).unwrap(),
        written
    );
}

/// A token set with an expiry needs the app's id and secret to be renewed: the registry says
/// so instead of letting it lapse.
#[test]
fn a_token_set_without_the_apps_secret_is_refused_when_built() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("facebook.json");
    std::fs::write(
        &file,
        r#"{"access_token": "EAAG-x", "expires_at": "2027-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let yaml = format!(
        "network: facebook\npage: '{PAGE_ID}'\ntoken: 'file:{}'\n",
        file.display()
    );
    let (documents, _) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    let accounts = BTreeMap::from([(
        "brand_facebook".to_owned(),
        Account {
            name: "brand_facebook".into(),
            network: Network::Facebook,
            config,
        },
    )]);
    let errors = Connectors::build(&accounts, &client()).unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .contains("add `client_id` and `client_secret` to the account"),
        "{}",
        errors[0]
    );
}

/// A `crier.yaml` in `dir` with one `facebook` account on the fake, its token written to
/// `secrets/facebook.json` and the app's secret read from `CRIER_TEST_META_SECRET`.
fn connectable(fake: &FakeMeta, dir: &tempfile::TempDir, page: &str) -> PathBuf {
    let file = dir.path().join("secrets").join("facebook.json");
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_facebook: {{ network: facebook, page: '{page}', token: 'file:{}', client_id: '{APP_ID}', client_secret: env:CRIER_TEST_META_SECRET, server: '{}' }}\n",
            file.display(),
            fake.instagram_url()
        ),
    )
    .unwrap();
    file
}

const META_ENV: &[(&str, &str)] = &[("CRIER_TEST_META_SECRET", APP_SECRET)];

/// `crier accounts connect` for a Facebook Page: Facebook Login's page is asked for the
/// Page's permissions with `state`; the code becomes a short-lived user token, then a
/// long-lived one, and the Page's token is read from the person's Pages; the file holds the
/// user token with its expiry and the Page token, owner-only, and `crier accounts check`
/// then passes, the Page called with its token.
#[tokio::test]
async fn accounts_connect_signs_in_with_facebook_login_and_writes_the_page_token() {
    use crate::support::connect::{Connecting, check};
    use crier::connectors::meta::connect::FACEBOOK_SCOPES;
    let fake = FakeMeta::start("EAAG-unused");
    let dir = tempfile::tempdir().unwrap();
    let file = connectable(&fake, &dir, PAGE_ID);
    let page = format!("{}/dialog/oauth?", fake.instagram_url());
    let connecting = Connecting::start(dir.path(), "brand_facebook", META_ENV, &page);
    let query = connecting.query.clone();
    assert_eq!(query["client_id"], APP_ID);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["scope"], FACEBOOK_SCOPES.join(","));
    assert!(!query["state"].is_empty());
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));
    let code = fake.authorize(connecting.redirect());
    let shown = connecting.back(&format!("code={code}")).await;
    assert!(shown.contains("crier is authorized"), "{shown}");
    let done = connecting.finish().await;
    assert!(done.success, "{}", done.stderr);
    assert!(
        done.stdout.contains(&format!(
            "account `brand_facebook` (the Page \"Brand\" ({PAGE_ID}))"
        )),
        "{}",
        done.stdout
    );

    let exchange = &fake.calls("GET", "/oauth/access_token")[0];
    assert_eq!(exchange.params["code"], code);
    assert_eq!(exchange.params["client_secret"], APP_SECRET);
    assert_eq!(exchange.params["redirect_uri"], query["redirect_uri"]);
    let long = &fake.calls("GET", "/oauth/access_token")[1];
    assert_eq!(long.params["grant_type"], "fb_exchange_token");
    assert!(long.params["fb_exchange_token"].starts_with("EAAG-short-"));
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let user = stored["access_token"].as_str().unwrap().to_owned();
    assert!(user.starts_with("EAAG-renewed-"), "{stored}");
    let page_token = stored["page_token"].as_str().unwrap().to_owned();
    assert!(page_token.starts_with("EAAG-page-"), "{stored}");
    let until: chrono::DateTime<Utc> = stored["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() + TimeDelta::days(59), "{until}");
    assert_eq!(
        fake.calls("GET", "/me/accounts")[0].bearer.as_deref(),
        Some(user.as_str())
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let before = fake.requests().len();
    let (ok, said) = check(dir.path(), META_ENV);
    assert!(ok, "{said}");
    let page_calls: Vec<_> = fake.requests()[before..]
        .iter()
        .filter(|r| r.path == format!("/v21.0/{PAGE_ID}"))
        .cloned()
        .collect();
    assert!(!page_calls.is_empty());
    assert!(
        page_calls
            .iter()
            .all(|r| r.bearer.as_deref() == Some(page_token.as_str()))
    );
}

/// A refused consent, a code Facebook does not know and a Page the person does not manage
/// each end `crier accounts connect` with the account named and what to do, and write
/// nothing.
#[tokio::test]
async fn accounts_connect_says_what_to_do_when_facebook_login_fails() {
    use crate::support::connect::Connecting;
    let fake = FakeMeta::start("EAAG-unused");
    let page = format!("{}/dialog/oauth?", fake.instagram_url());

    let dir = tempfile::tempdir().unwrap();
    let file = connectable(&fake, &dir, PAGE_ID);
    let connecting = Connecting::start(dir.path(), "brand_facebook", META_ENV, &page);
    let shown = connecting
        .back("error=access_denied&error_reason=user_denied&error_description=Permissions+error")
        .await;
    assert!(shown.contains("crier is not authorized"), "{shown}");
    let done = connecting.finish().await;
    assert!(!done.success);
    assert!(
        done.stderr.contains(
            "account `brand_facebook`: Facebook did not authorize crier: access_denied (Permissions error); run `crier accounts connect brand_facebook` again"
        ),
        "{}",
        done.stderr
    );
    assert!(!file.exists());

    let connecting = Connecting::start(dir.path(), "brand_facebook", META_ENV, &page);
    connecting.back("code=not-a-code").await;
    let done = connecting.finish().await;
    assert!(!done.success);
    assert!(
        done.stderr.contains(
            "account `brand_facebook`: Facebook refused the authorization code (code 100: Invalid verification code format.)"
        ),
        "{}",
        done.stderr
    );
    assert!(
        done.stderr
            .contains("run `crier accounts connect brand_facebook` again"),
        "{}",
        done.stderr
    );
    assert!(!file.exists());

    let elsewhere = tempfile::tempdir().unwrap();
    let file = connectable(&fake, &elsewhere, "999000");
    let connecting = Connecting::start(elsewhere.path(), "brand_facebook", META_ENV, &page);
    let (_, done) = connecting.approve(|r| fake.authorize(r)).await;
    assert!(!done.success);
    assert!(
        done.stderr.contains(&format!(
            "account `brand_facebook`: the Page `999000` is not among the Pages the person who signed in manages (they manage: {PAGE_ID} \"Brand\", {OTHER_PAGE_ID} \"Brand Outlet\"); put one of these ids in the account's `page:`"
        )),
        "{}",
        done.stderr
    );
    assert!(!file.exists());
}

/// A token pasted bare into the file, without an expiry, is looked up once with
/// `debug_token` as the app: a user token that expires in three days gets the Page's token
/// and is renewed before the post, and the file records what Meta said, so a second
/// process asks nothing again.
#[tokio::test]
async fn a_pasted_token_is_looked_up_once_and_renewed_when_due() {
    const PASTED: &str = "EAAG-pasted-user-token";
    let fake = FakeMeta::start(PASTED);
    let expires = Utc::now() + TimeDelta::days(3);
    fake.set_token_info(PASTED, "USER", expires.timestamp());
    let dir = tempfile::tempdir().unwrap();
    let connector = renewing_facebook(&fake, &dir, &format!("{PASTED}\n"));
    connector.post(&post("k1", "Pasted")).await.unwrap();

    let asked = fake.calls("GET", "/debug_token");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].params["input_token"], PASTED);
    assert_eq!(
        asked[0].bearer.as_deref(),
        Some(format!("{APP_ID}|{APP_SECRET}").as_str())
    );
    let exchange = &fake.calls("GET", "/oauth/access_token")[0];
    assert_eq!(exchange.params["fb_exchange_token"], PASTED);
    let file = dir.path().join("facebook.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(
        stored["access_token"]
            .as_str()
            .unwrap()
            .starts_with("EAAG-renewed-")
    );
    let page = stored["page_token"].as_str().unwrap().to_owned();
    assert_eq!(
        fake.calls("POST", "/feed")[0].bearer.as_deref(),
        Some(page.as_str())
    );
    let until: chrono::DateTime<Utc> = stored["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(until > Utc::now() + TimeDelta::days(59), "{until}");
    assert!(stored["data_access_expires_at"].is_string(), "{stored}");

    let again = renewing_facebook(&fake, &dir, &std::fs::read_to_string(&file).unwrap());
    again.post(&post("k2", "Again")).await.unwrap();
    assert_eq!(fake.calls("GET", "/debug_token").len(), 1);
    assert_eq!(fake.calls("GET", "/oauth/access_token").len(), 1);
}

/// A pasted Page token that Meta says never expires is recorded as such and never renewed
/// nor asked about again; one Meta says is no longer valid fails the check, saying what to
/// do, and the file is left as it was.
#[tokio::test]
async fn a_pasted_page_token_that_never_expires_is_never_renewed() {
    const PASTED: &str = "EAAG-pasted-page-token";
    let fake = FakeMeta::start(PASTED);
    let dir = tempfile::tempdir().unwrap();
    let connector = renewing_facebook(&fake, &dir, PASTED);
    connector.post(&post("k1", "Forever")).await.unwrap();
    let file = dir.path().join("facebook.json");
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["access_token"], PASTED);
    assert_eq!(stored["never_expires"], true);
    assert!(stored.get("expires_at").is_none(), "{stored}");
    assert_eq!(
        fake.calls("POST", "/feed")[0].bearer.as_deref(),
        Some(PASTED)
    );
    let again = renewing_facebook(&fake, &dir, &std::fs::read_to_string(&file).unwrap());
    again.post(&post("k2", "Still")).await.unwrap();
    assert_eq!(fake.calls("GET", "/debug_token").len(), 1);
    assert!(fake.calls("GET", "/oauth/access_token").is_empty());

    fake.revoke("EAAG-pasted-other");
    let other = tempfile::tempdir().unwrap();
    let connector = renewing_facebook(&fake, &other, "EAAG-pasted-other");
    let err = connector.health().await.unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("Facebook says the token of account `brand_facebook` in `")
            && reason.contains("is no longer valid"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(other.path().join("facebook.json")).unwrap(),
        "EAAG-pasted-other"
    );
}

/// `crier accounts check` says when each Facebook and Instagram token stops reading people's
/// data (`debug_token`'s `data_access_expires_at`, asked as the app), and warns, saying to sign
/// in again, when that is within 14 days or past; the accounts stay ready, since posting still
/// works. In JSON, the date and the warning are fields.
#[tokio::test]
async fn accounts_check_says_when_data_access_ends_and_warns_when_soon() {
    let fake = FakeMeta::start(TOKEN);
    let now = Utc::now();
    let far = (now + TimeDelta::days(80)).timestamp();
    let soon = (now + TimeDelta::days(3) + TimeDelta::hours(2)).timestamp();
    let ended = (now - TimeDelta::days(1)).timestamp();
    fake.set_data_access(TOKEN, far);
    fake.add_token("EAAG-soon");
    fake.set_data_access("EAAG-soon", soon);
    fake.add_token("EAAG-instagram-ended");
    fake.set_data_access("EAAG-instagram-ended", ended);
    let dir = tempfile::tempdir().unwrap();
    for (name, token) in [("far.token", TOKEN), ("soon.token", "EAAG-soon")] {
        std::fs::write(dir.path().join(name), token).unwrap();
    }
    std::fs::write(dir.path().join("app-secret"), APP_SECRET).unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let app = format!(
        "client_id: '{APP_ID}', client_secret: 'file:{}', server: '{}'",
        path("app-secret"),
        fake.instagram_url()
    );
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "accounts:\n  fb_far: {{ network: facebook, page: '{PAGE_ID}', token: 'file:{}', {app} }}\n  fb_soon: {{ network: facebook, page: '{PAGE_ID}', token: 'file:{}', {app} }}\n  ig_ended: {{ network: instagram, user: '{IG_USER}', token: env:CRIER_TEST_IG_TOKEN, media_url: 'https://cdn.example.com/', {app} }}\n",
            path("far.token"),
            path("soon.token"),
        ),
    )
    .unwrap();
    let run = |format: &'static str| {
        let dir = dir.path().to_owned();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
                .args(["accounts", "check", "--format", format])
                .arg(&dir)
                .env("CRIER_TEST_IG_TOKEN", "EAAG-instagram-ended")
                .output()
                .unwrap()
        })
    };
    let out = run("table").await.unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let minute = |at: i64| {
        chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    };
    assert!(
        stdout.contains(&format!(
            "fb_far    facebook   ok (data access until {})\n",
            minute(far)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "fb_soon   facebook   ok; WARNING: the token's data access ends at {}, in 3 days: after it, reading comments and insights fails; sign in again with `crier accounts connect fb_soon` before then\n",
            minute(soon)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ig_ended  instagram  ok (that `media_url` serves the images is not checked); WARNING: the token's data access ended at {}: reading comments and insights fails until someone signs in again with `crier accounts connect ig_ended`\n",
            minute(ended)
        )),
        "{stdout}"
    );
    let asked = fake.calls("GET", "/debug_token");
    assert!(
        asked
            .iter()
            .any(|r| r.params["input_token"] == "EAAG-instagram-ended"),
        "{asked:?}"
    );

    let out = run("json").await.unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let soon_line = lines.iter().find(|l| l["account"] == "fb_soon").unwrap();
    let at: chrono::DateTime<Utc> = soon_line["data_access_expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(at.timestamp(), soon);
    assert!(
        soon_line["warning"]
            .as_str()
            .unwrap()
            .contains("crier accounts connect fb_soon"),
        "{soon_line}"
    );
    let far_line = lines.iter().find(|l| l["account"] == "fb_far").unwrap();
    assert!(far_line.get("warning").is_none(), "{far_line}");
}
