//! The YouTube connector against a fake YouTube Data API v3 and Google token endpoint on
//! 127.0.0.1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::oauth::{TokenSet, UserToken};
use crier::connectors::secret::Secret;
use crier::connectors::youtube::YoutubeConnector;
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::network::Network;
use crier::playbook::plan::Account;
use crier::playbook::raw::AccountConfig;
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_youtube::{
    CHANNEL_ID, CLIENT_ID, CLIENT_SECRET, FAN_CHANNEL, FAN_NAME, FakeYoutube, Fault, SUBSCRIBERS,
};

const ACCESS: &str = "ya29.first-a1b2";
const REFRESH: &str = "1//refresh-c3d4";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn token_file(dir: &tempfile::TempDir, access: &str, expires_in: i64) -> PathBuf {
    let path = dir.path().join("youtube.json");
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

fn with_file(fake: &FakeYoutube, file: &Path) -> YoutubeConnector {
    let reference = format!("file:{}", file.display());
    let value = Secret::new(std::fs::read_to_string(file).unwrap());
    let (tokens, file) = UserToken::read_secret(&reference, &value).unwrap();
    let server: reqwest::Url = fake.url().parse().unwrap();
    let endpoint = YoutubeConnector::token_endpoint(
        Some(&server),
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
    );
    let token = UserToken::new("brand_youtube", tokens, file, endpoint, client());
    YoutubeConnector::new("brand_youtube", server, token, client())
}

fn youtube(fake: &FakeYoutube) -> (YoutubeConnector, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 7200);
    (with_file(fake, &file), dir)
}

fn post(key: &str, text: &str, media: &[PathBuf]) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: media.to_vec(),
        reply_to: None,
        playbook: "launch".into(),
        item: "trailer".into(),
        direct_to: None,
        notice: false,
    }
}

fn reply(key: &str, text: &str, to: &str) -> OutgoingPost {
    OutgoingPost {
        reply_to: Some(to.into()),
        ..post(key, text, &[])
    }
}

/// A "video" of `len` bytes that differ from one another.
fn video(dir: &tempfile::TempDir, len: usize) -> (PathBuf, Vec<u8>) {
    let path = dir.path().join("trailer.mp4");
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

#[tokio::test]
async fn a_post_is_a_video_uploaded_through_a_resumable_session() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, bytes) = video(&dir, 70_000);
    let delivered = yt
        .post(&post(
            "k1",
            "Launch day trailer\n\nEverything about the launch.\nSee you there.",
            &[file],
        ))
        .await
        .unwrap();
    let videos = fake.videos();
    assert_eq!(videos.len(), 1);
    let v = &videos[0];
    assert_eq!(
        delivered,
        Delivered {
            url: Some(format!("https://www.youtube.com/watch?v={}", v.id)),
            remote_id: v.id.clone(),
        }
    );
    assert_eq!(v.title, "Launch day trailer");
    assert_eq!(
        v.description,
        "Everything about the launch.\nSee you there."
    );
    assert_eq!(v.privacy, "public");
    assert_eq!(v.bytes, bytes);
    let start = fake.calls("POST", "/upload/youtube/v3/videos");
    assert_eq!(start.len(), 1);
    assert_eq!(start[0].query["uploadType"], "resumable");
    assert_eq!(start[0].headers["x-upload-content-length"], "70000");
    assert_eq!(start[0].headers["x-upload-content-type"], "video/mp4");
    assert_eq!(start[0].bearer.as_deref(), Some(ACCESS));
    let chunks = fake.calls("PUT", "/upload/youtube/v3/videos");
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].headers["content-range"], "bytes 0-69999/70000");
}

#[tokio::test]
async fn a_broken_upload_continues_from_the_byte_youtube_has() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, bytes) = video(&dir, 10_000);
    fake.push_fault(Fault::Pass); // the session opens
    fake.push_fault(Fault::UploadBreaks); // half the bytes arrive, then a 503
    yt.post(&post("k1", "Trailer", &[file])).await.unwrap();
    let videos = fake.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].bytes, bytes);
    let ranges: Vec<String> = fake
        .calls("PUT", "/upload/youtube/v3/videos")
        .iter()
        .map(|r| r.headers["content-range"].clone())
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes 0-9999/10000",
            "bytes */10000",
            "bytes 5000-9999/10000"
        ]
    );
}

#[tokio::test]
async fn a_lost_answer_to_the_last_chunk_is_settled_by_the_sessions_status() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, _) = video(&dir, 2_000);
    fake.push_fault(Fault::Pass);
    fake.push_fault(Fault::AcceptThenDrop); // the video is complete, the answer is lost
    let delivered = yt.post(&post("k1", "Trailer", &[file])).await.unwrap();
    let videos = fake.videos();
    assert_eq!(videos.len(), 1, "one video, never two");
    assert_eq!(delivered.remote_id, videos[0].id);
}

#[tokio::test]
async fn titles_descriptions_and_media_are_checked_before_anything_is_sent() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, _) = video(&dir, 100);
    let image = dir.path().join("cover.png");
    std::fs::write(&image, b"\x89PNG").unwrap();
    let cases = [
        (
            post("a", &"t".repeat(101), std::slice::from_ref(&file)),
            "the title (the text's first line) has 101 characters and YouTube allows 100",
        ),
        (
            post(
                "b",
                &format!("Title\n{}", "é".repeat(2501)),
                std::slice::from_ref(&file),
            ),
            "the description has 5002 bytes in UTF-8 and YouTube allows 5000",
        ),
        (
            post("c", "Title", &[]),
            "a YouTube post is a video: add the video file as its media",
        ),
        (
            post("d", "Title", std::slice::from_ref(&image)),
            "is an image",
        ),
        (
            post("e", "A <b>title</b>", std::slice::from_ref(&file)),
            "YouTube refuses `<` and `>`",
        ),
    ];
    for (p, expected) in cases {
        let err = yt.post(&p).await.unwrap_err();
        assert!(
            matches!(&err, SendError::Permanent { reason } if reason.contains(expected)),
            "{err:?}"
        );
    }
    // The title is counted in characters: 100 emoji pass.
    assert!(fake.requests().is_empty());
    yt.post(&post("f", &"🎬".repeat(100), &[file]))
        .await
        .unwrap();
    assert_eq!(fake.videos().len(), 1);
}

#[tokio::test]
async fn a_used_up_quota_and_rate_limits_are_said_in_plain_words() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, _) = video(&dir, 100);
    fake.push_fault(Fault::QuotaExceeded);
    let err = yt
        .post(&post("k1", "Trailer", std::slice::from_ref(&file)))
        .await
        .unwrap_err();
    match &err {
        SendError::RetryAfter { after, reason } => {
            assert!(*after <= http::MAX_RETRY_AFTER && *after > Duration::ZERO);
            assert!(
                reason.starts_with("the Google Cloud project's daily YouTube quota is used up"),
                "{reason}"
            );
            assert!(
                reason.contains("resets at midnight Pacific time"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    fake.push_fault(Fault::RateLimited(30));
    let err = yt.health().await.unwrap_err();
    assert!(
        matches!(&err, SendError::RetryAfter { after, .. } if *after == Duration::from_secs(30)),
        "{err:?}"
    );
    fake.push_fault(Fault::Unavailable);
    let err = yt.health().await.unwrap_err();
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    assert!(fake.videos().is_empty());
}

#[tokio::test]
async fn after_an_unknown_outcome_lookup_reads_the_uploads_since_the_first_attempt() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, dir) = youtube(&fake);
    let (file, _) = video(&dir, 100);
    let first = Utc::now() - TimeDelta::minutes(10);
    let p = post("k1", "Trailer\nThe description", &[file]);
    // An older video with the same text is not this post.
    fake.add_video("Trailer", "The description", first - TimeDelta::days(2));
    assert_eq!(
        yt.lookup_since(&p, Some(first)).await.unwrap(),
        Lookup::NotFound
    );
    let id = fake.add_video("Trailer", "The description", first + TimeDelta::minutes(1));
    assert_eq!(
        yt.lookup_since(&p, Some(first)).await.unwrap(),
        Lookup::Found(Delivered {
            url: Some(format!("https://www.youtube.com/watch?v={id}")),
            remote_id: id,
        })
    );
    let calls = fake.calls("GET", "/youtube/v3/playlistItems");
    assert_eq!(
        calls[0].query["playlistId"],
        crate::support::fake_youtube::UPLOADS
    );
}

#[tokio::test]
async fn replies_are_comments_and_deletes_remove_videos_and_comments() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, _dir) = youtube(&fake);
    let video = fake.add_video("Trailer", "", Utc::now());
    let on_video = yt
        .post(&reply("r1", "Thanks for watching!", &video))
        .await
        .unwrap();
    let fan = fake.add_comment(&video, None, "Love it", Utc::now());
    let fan_reply = fake.add_comment(&video, Some(&fan), "Me too", Utc::now());
    // A reply to a reply goes into the same thread.
    let answer = yt
        .post(&reply("r2", "Glad you do", &format!("{video}/{fan_reply}")))
        .await
        .unwrap();
    let comments = fake.comments();
    let ours: Vec<_> = comments
        .iter()
        .filter(|c| c.channel == CHANNEL_ID)
        .collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(on_video.remote_id, format!("{video}/{}", ours[0].id));
    assert_eq!(ours[0].parent, None);
    assert_eq!(ours[1].parent.as_deref(), Some(fan.as_str()));
    assert_eq!(answer.remote_id, format!("{video}/{}", ours[1].id));
    assert_eq!(
        fake.calls("POST", "/youtube/v3/comments")[0].body["snippet"]["parentId"],
        fan.as_str()
    );

    yt.delete(&answer.remote_id).await.unwrap();
    assert!(!fake.comments().iter().any(|c| c.id == ours[1].id));
    yt.delete(&answer.remote_id).await.unwrap(); // already gone
    yt.delete(&video).await.unwrap();
    assert!(fake.videos().is_empty());
    yt.delete(&video).await.unwrap();
    let err = yt.delete("").await.unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}

#[tokio::test]
async fn comments_are_read_across_pages_after_the_cursor_oldest_first() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    fake.set_page_size(2);
    let (yt, _dir) = youtube(&fake);
    let video = fake.add_video("Trailer", "", Utc::now() - TimeDelta::days(1));
    let t0 = Utc::now() - TimeDelta::hours(3);
    let c1 = fake.add_comment(&video, None, "first", t0);
    let c2 = fake.add_comment(&video, None, "second", t0 + TimeDelta::minutes(1));
    let r1 = fake.add_comment(&video, Some(&c1), "a reply", t0 + TimeDelta::minutes(2));
    let c3 = fake.add_comment(&video, None, "third", t0 + TimeDelta::minutes(3));
    yt.post(&reply("own", "From the brand", &video))
        .await
        .unwrap();

    let page = yt.mentions(None).await.unwrap();
    let ids: Vec<String> = page.mentions.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        ids,
        [c1.clone(), c2, r1.clone(), c3].map(|c| format!("{video}/{c}"))
    );
    let reply_mention = &page.mentions[2];
    assert_eq!(reply_mention.in_reply_to, Some(format!("{video}/{c1}")));
    assert_eq!(reply_mention.author.id, FAN_CHANNEL);
    assert_eq!(reply_mention.author.display_name.as_deref(), Some(FAN_NAME));
    assert_eq!(
        page.mentions[0].in_reply_to.as_deref(),
        Some(video.as_str())
    );
    assert!(
        fake.calls("GET", "/youtube/v3/commentThreads").len() >= 2,
        "paged"
    );
    let cursor = page.cursor.unwrap();

    let c4 = fake.add_comment(&video, None, "fourth", Utc::now());
    let next = yt.mentions(Some(&cursor)).await.unwrap();
    let ids: Vec<String> = next.mentions.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids, [format!("{video}/{c4}")]);
    let again = yt.mentions(next.cursor.as_deref()).await.unwrap();
    assert!(again.mentions.is_empty());
    assert_eq!(again.cursor, None);

    let read = yt
        .fetch_post(&format!("{video}/{c1}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.text, "first");
    fake.remove_comment(&c1);
    assert_eq!(yt.fetch_post(&format!("{video}/{c1}")).await.unwrap(), None);
}

#[tokio::test]
async fn metrics_read_views_likes_comments_and_subscribers() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let (yt, _dir) = youtube(&fake);
    let video = fake.add_video("Trailer", "", Utc::now());
    fake.set_counts(&video, 1200, 85, 14);
    let snapshot = yt
        .metrics(&[video.clone(), format!("{video}/Ugx9")])
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(SUBSCRIBERS));
    assert_eq!(snapshot.posts.len(), 1);
    let m = &snapshot.posts[0];
    assert_eq!(
        (m.likes, m.replies, m.reposts, m.views),
        (85, 14, 0, Some(1200))
    );
}

#[tokio::test]
async fn a_token_about_to_expire_is_renewed_first_and_written_back() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 60);
    let yt = with_file(&fake, &file);
    yt.health().await.unwrap();
    let token = fake.calls("POST", "/token");
    assert_eq!(token.len(), 1);
    assert_eq!(token[0].form["grant_type"], "refresh_token");
    assert_eq!(token[0].form["client_secret"], CLIENT_SECRET);
    let channels = fake.calls("GET", "/youtube/v3/channels");
    assert_eq!(channels[0].bearer.as_deref(), Some("ya29.renewed-1"));
    let stored: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["access_token"], "ya29.renewed-1");
    // Google keeps the refresh token; the file keeps it too.
    assert_eq!(stored["refresh_token"], REFRESH);

    // Refused later (revoked early): renewed once, and the request goes again.
    fake.revoke_access_tokens();
    yt.health().await.unwrap();
    assert_eq!(fake.calls("POST", "/token").len(), 2);

    // The person removed crier's access: what to do, in words.
    fake.revoke_access_tokens();
    fake.revoke_refresh_token();
    let err = yt.health().await.unwrap_err();
    match err {
        SendError::Permanent { reason } => {
            assert!(
                reason.contains("Google would not renew the token of account `brand_youtube`"),
                "{reason}"
            );
            assert!(reason.contains("crier accounts connect"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

fn account(fields: &str) -> BTreeMap<String, Account> {
    let yaml = format!("network: youtube\n{fields}");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    BTreeMap::from([(
        "brand_youtube".to_owned(),
        Account {
            name: "brand_youtube".into(),
            network: Network::Youtube,
            config,
        },
    )])
}

#[test]
fn registry_builds_youtube_accounts_and_the_table_says_what_it_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, ACCESS, 7200);
    let good = account(&format!(
        "token: file:{}\nclient_id: {CLIENT_ID}\nclient_secret: env:PATH\n",
        file.display()
    ));
    let built = Connectors::build(&good, &client()).unwrap();
    assert_eq!(
        built.get("brand_youtube").unwrap().network(),
        Network::Youtube
    );
    let caps = Network::Youtube.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete);
    assert!(caps.read_mentions && caps.metrics && caps.lookup);
    assert!(!caps.direct_message && !caps.search_hashtags && !caps.idempotency_key);
    assert!(Network::Youtube.profile().media_required);
    assert_eq!(Network::Youtube.profile().max_images, Some(1));
}

#[test]
fn validation_refuses_a_youtube_post_without_a_video_and_a_hashtag_contest() {
    let config = "timezone: UTC\naccounts:\n  brand_youtube: { network: youtube, token: 'file:yt.json', client_id: abc }\n";
    let campaign = "kind: campaign\nname: launch\nposts:\n  - { id: words, at: \"2026-12-01 10:00\", to: brand_youtube, text: \"Words only\" }\n";
    let dir = crate::support::playbooks::folder(config, &[("launch.yaml", campaign)]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .contains("account `brand_youtube` is on youtube, which cannot post without a video"),
        "{}",
        errors[0]
    );

    let contest = "kind: contest\nname: giveaway\naccount: brand_youtube\nannounce:\n  at: 2026-12-01 10:00\n  text: \"Comment with #win\"\nentries:\n  from: hashtag\n  hashtag: \"#win\"\n  closes: 2026-12-07 20:00\ndraw:\n  at: 2026-12-07 21:00\n  winners: 1\n";
    let dir = crate::support::playbooks::folder(config, &[("giveaway.yaml", contest)]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.iter().any(|e| e.contains(
            "account `brand_youtube` is on youtube, which cannot search posts by hashtag"
        )),
        "{errors:?}"
    );
}

/// `crier accounts check` with a token Google no longer renews fails, saying what to do.
#[test]
fn accounts_check_fails_with_what_to_do_when_google_will_not_renew() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = token_file(&dir, "ya29.expired", -60);
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_youtube: {{ network: youtube, token: 'file:{}', client_id: {CLIENT_ID}, client_secret: env:CRIER_TEST_GOOGLE_SECRET, server: '{}' }}\n",
            file.display(),
            fake.url()
        ),
    )
    .unwrap();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(["accounts", "check"])
            .arg(dir.path())
            .env("CRIER_TEST_GOOGLE_SECRET", CLIENT_SECRET)
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.access_token, "ya29.renewed-1");

    fake.revoke_access_tokens();
    fake.revoke_refresh_token();
    let out = check();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED: Google would not renew the token of account `brand_youtube`"),
        "{stdout}"
    );
    assert!(stdout.contains("crier accounts connect"), "{stdout}");
    assert!(!stdout.contains(REFRESH) && !stdout.contains(CLIENT_SECRET));
}

/// `crier accounts connect` for a YouTube account: Google's consent address asks for a
/// refresh token (offline access, consent) with PKCE; the code is exchanged with the client
/// secret and the tokens are written owner-only.
#[tokio::test]
async fn accounts_connect_asks_google_for_offline_access_with_pkce() {
    use std::io::{BufRead as _, BufReader};

    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secrets").join("youtube.json");
    std::fs::write(
        dir.path().join("crier.yaml"),
        format!(
            "timezone: UTC\naccounts:\n  brand_youtube: {{ network: youtube, token: 'file:{}', client_id: {CLIENT_ID}, client_secret: env:CRIER_TEST_GOOGLE_SECRET, server: '{}' }}\n",
            file.display(),
            fake.url()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["accounts", "connect", "brand_youtube", "--port", "0"])
        .arg(dir.path())
        .env("CRIER_TEST_GOOGLE_SECRET", CLIENT_SECRET)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut address = None;
    for _ in 0..10 {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(url) = line
            .trim()
            .strip_prefix("https://accounts.google.com/o/oauth2/v2/auth?")
        {
            address = Some(url.to_owned());
            break;
        }
    }
    let address = address.expect("the authorization address is printed");
    let query: BTreeMap<String, String> = reqwest::Url::parse(&format!("http://g/?{address}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(
        query["scope"],
        "https://www.googleapis.com/auth/youtube.force-ssl"
    );
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
    assert!(status.success());
    let exchange = fake.calls("POST", "/token");
    assert_eq!(exchange[0].form["grant_type"], "authorization_code");
    assert_eq!(exchange[0].form["client_secret"], CLIENT_SECRET);
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.access_token, "ya29.renewed-1");
    assert_eq!(stored.refresh_token.as_deref(), Some("1//granted-1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    with_file(&fake, &file).health().await.unwrap();
}
