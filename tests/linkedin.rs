//! The LinkedIn connector against a fake LinkedIn REST API on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::linkedin::{API_VERSION, LinkedinConnector, escape};
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
    assert!(caps.read_mentions && !caps.search_hashtags && !caps.direct_message);
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

/// `crier accounts connect` for a LinkedIn organization: LinkedIn's authorization page is
/// asked for the organization's scopes (with `state` and a PKCE challenge), the code is
/// exchanged with the app's id and secret, and the tokens are written owner-only, ready for
/// the connector.
#[tokio::test]
async fn accounts_connect_authorizes_the_organization_and_writes_the_tokens() {
    use std::collections::BTreeMap;
    use std::io::{BufRead as _, BufReader};

    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets").join("linkedin.json");
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_linkedin: {{ network: linkedin, author: '{ORG}', token: 'file:{}', client_id: {CLIENT_ID}, client_secret: env:CRIER_TEST_LINKEDIN_SECRET, server: '{}' }}\n",
            file.display(),
            fake.url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["accounts", "connect", "brand_linkedin", "--port", "0"])
        .arg(dir.path())
        .env("CRIER_TEST_LINKEDIN_SECRET", CLIENT_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let page = format!("{}/oauth/v2/authorization?", fake.url());
    let mut address = None;
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line.trim().strip_prefix(page.as_str()) {
            address = Some(url.to_owned());
            break;
        }
    }
    let address = address.expect("the authorization address is printed");
    let query: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://l/?{address}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(
        query["scope"],
        "w_organization_social r_organization_social rw_organization_admin"
    );
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(!query["state"].is_empty());
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));
    // The administrator approves; LinkedIn sends the browser back with the code.
    let code = fake.authorize(&query["redirect_uri"]);
    let back = format!(
        "{}?code={code}&state={}",
        query["redirect_uri"], query["state"]
    );
    let answer = reqwest::get(&back).await.unwrap().text().await.unwrap();
    assert!(answer.contains("crier is authorized"), "{answer}");
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
    assert!(status.success());
    let exchange = &fake.calls("POST", "/oauth/v2/accessToken")[0];
    assert_eq!(exchange.method, "POST");
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.refresh_token.as_deref(), Some(REFRESH));
    assert!(stored.expires_at.is_some());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (tokens, file) = UserToken::read_secret(
        &format!("file:{}", file.display()),
        &Secret::new(std::fs::read_to_string(&file).unwrap()),
    )
    .unwrap();
    assert!(tokens.access_token.starts_with("li-granted-"));
    linkedin(&fake, tokens, file).health().await.unwrap();
}

/// A member's account asks only for posting as the member; an account without the app's
/// secret is refused before anything is opened (LinkedIn exchanges codes only with it).
#[test]
fn accounts_connect_asks_a_member_for_member_scopes_and_wants_the_secret() {
    use crier::connectors::linkedin::{MEMBER_SCOPES, ORGANIZATION_SCOPES};
    let server: reqwest::Url = "https://api.linkedin.com".parse().unwrap();
    let member = LinkedinConnector::authorization(&server, "urn:li:person:abc", CLIENT_ID, None);
    assert_eq!(member.scopes, MEMBER_SCOPES);
    assert!(
        member
            .authorize_url
            .as_str()
            .starts_with("https://www.linkedin.com/oauth/v2/authorization")
    );
    let organization = LinkedinConnector::authorization(&server, ORG, CLIENT_ID, None);
    assert_eq!(organization.scopes, ORGANIZATION_SCOPES);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_linkedin: {{ network: linkedin, author: '{ORG}', token: 'file:secrets/li.json', client_id: {CLIENT_ID} }}\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["accounts", "connect", "brand_linkedin", "--port", "0"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("add `client_secret`"), "{said}");
}

/// The comments on the organization's recent posts are read as mentions, each post's page by
/// page (`start`, `count`, until `paging.total`), oldest first, the organization's own
/// left out; the cursor (the newest comment's time) reads only newer ones next time.
#[tokio::test]
async fn comments_on_the_organizations_posts_are_read_page_by_page_after_the_cursor() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    let connector = bare(&fake);
    let sent = connector.post(&post("k1", "Which colour?")).await.unwrap();
    let start = Utc::now().timestamp_millis() - 3_600_000;
    let fan = "urn:li:person:fan42";
    for n in 0..70 {
        fake.add_comment(
            &sent.remote_id,
            fan,
            &format!("yellow {n}"),
            start + n * 1000,
        );
    }
    let mut answer = post("k2", "Thanks!");
    answer.reply_to = Some(sent.remote_id.clone());
    connector.post(&answer).await.unwrap();

    let page = connector.mentions(None).await.unwrap();
    assert_eq!(
        page.mentions.len(),
        70,
        "the organization's own answer is left out"
    );
    assert_eq!(page.mentions[0].text, "yellow 0");
    assert_eq!(page.mentions[0].author.id, fan);
    assert_eq!(
        page.mentions[0].in_reply_to.as_deref(),
        Some(sent.remote_id.as_str())
    );
    assert!(page.mentions[0].id.starts_with("urn:li:comment:("));
    let reads = fake.calls("GET", "/comments");
    assert_eq!(reads.len(), 2, "two pages of 50");
    assert_eq!(reads[1].query["start"], "50");
    assert!(reads[0].raw_path.contains("urn%3Ali%3Ashare%3A"));

    // Read again as it is now, or as gone.
    let third = page.mentions[2].id.clone();
    let again = connector.fetch_post(&third).await.unwrap().unwrap();
    assert_eq!(
        (again.text.as_str(), again.author.id.as_str()),
        ("yellow 2", fan)
    );
    fake.remove_comment(&third);
    assert_eq!(connector.fetch_post(&third).await.unwrap(), None);

    // A comment made after that read, in the millisecond the cursor stopped at, is read next
    // time (the stores keep each mention once, whatever a read returns again).
    let cursor_millisecond: i64 = page.cursor.as_deref().unwrap().parse().unwrap();
    fake.add_comment(&sent.remote_id, fan, "same millisecond", cursor_millisecond);
    fake.add_comment(
        &sent.remote_id,
        fan,
        "late",
        Utc::now().timestamp_millis() + 1000,
    );
    let next = connector.mentions(page.cursor.as_deref()).await.unwrap();
    assert_eq!(
        next.mentions
            .iter()
            .map(|m| m.text.as_str())
            .collect::<Vec<_>>(),
        ["same millisecond", "late"]
    );
}

/// LinkedIn lets only approved partners read a member's comments: a contest reading entries
/// from a member's account is refused by validation, naming the account.
#[test]
fn a_contest_on_a_members_account_is_refused_naming_it() {
    let config = "timezone: UTC\naccounts:\n  ceo: { network: linkedin, author: 'urn:li:person:abc', token: env:LI_TOKEN }\n  brand: { network: linkedin, author: 'urn:li:organization:1', token: env:LI_TOKEN }\n";
    let contest = |account: &str| {
        format!(
            "kind: contest\nname: giveaway\naccount: {account}\nannounce:\n  at: 2027-03-01 10:00\n  text: Comment to win\nentries:\n  from: replies\n  closes: 2027-03-07 20:00\ndraw:\n  at: 2027-03-07 21:00\n  winners: 1\n  commitment: record\nwinners:\n  reply: \"Congratulations {{{{ winners | mentions }}}}!\"\n"
        )
    };
    let dir = crate::support::playbooks::folder(config, &[("giveaway.yaml", &contest("ceo"))]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let said: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        said.iter().any(|d| d.contains(
            "account `ceo` is on linkedin as a member, which cannot read mentions and replies"
        )),
        "{said:?}"
    );
    let dir = crate::support::playbooks::folder(config, &[("giveaway.yaml", &contest("brand"))]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let said: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        !said.iter().any(|d| d.contains("cannot read mentions")),
        "{said:?}"
    );
}

/// Commenters keep their URN as the stable id and are named where LinkedIn allows: a
/// member by first and last name, an organization by its name; a member LinkedIn will not
/// name (the app lacks the permission) is named by the URN. Each is asked once.
#[tokio::test]
async fn commenters_are_named_where_linkedin_allows_and_by_their_urn_where_not() {
    let fake = FakeLinkedin::start(ACCESS, REFRESH);
    fake.name_person("fan42", "Olena", "Kovalenko");
    fake.name_organization("555", "Acme Supplies");
    let connector = bare(&fake);
    let sent = connector.post(&post("k1", "Who wins?")).await.unwrap();
    let start = Utc::now().timestamp_millis() - 3_600_000;
    for (n, actor) in [
        "urn:li:person:fan42",
        "urn:li:organization:555",
        "urn:li:person:shy7",
        "urn:li:person:fan42",
    ]
    .into_iter()
    .enumerate()
    {
        fake.add_comment(
            &sent.remote_id,
            actor,
            &format!("me {n}"),
            start + n as i64 * 1000,
        );
    }
    let page = connector.mentions(None).await.unwrap();
    let authors: Vec<(&str, &str, Option<&str>)> = page
        .mentions
        .iter()
        .map(|m| {
            (
                m.author.id.as_str(),
                m.author.handle.as_str(),
                m.author.display_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        authors,
        [
            (
                "urn:li:person:fan42",
                "Olena Kovalenko",
                Some("Olena Kovalenko")
            ),
            (
                "urn:li:organization:555",
                "Acme Supplies",
                Some("Acme Supplies")
            ),
            ("urn:li:person:shy7", "urn:li:person:shy7", None),
            (
                "urn:li:person:fan42",
                "Olena Kovalenko",
                Some("Olena Kovalenko")
            ),
        ]
    );
    let asked = fake.calls("GET", "(id:fan42)");
    assert_eq!(asked.len(), 1, "asked once");
    assert_eq!(asked[0].headers["linkedin-version"], API_VERSION);
    assert_eq!(fake.calls("GET", "(id:shy7)").len(), 1);
    assert_eq!(fake.calls("GET", "/organizations/555").len(), 1);

    let again = connector
        .fetch_post(&page.mentions[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.author.handle, "Olena Kovalenko");
    assert_eq!(fake.calls("GET", "(id:fan42)").len(), 1);
    assert_eq!(fake.calls("GET", "(id:shy7)").len(), 1);
}
