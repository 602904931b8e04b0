//! The YouTube connector against a fake YouTube Data API on 127.0.0.1.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::oauth::{TokenSet, UserToken};
use crier::connectors::secret::Secret;
use crier::connectors::youtube::YoutubeConnector;
use crier::connectors::{Connector, Lookup, OutgoingPost, SendError};
use crier::network::Network;

use crate::support::fake_youtube::{
    CHANNEL, CLIENT_ID, CLIENT_SECRET, FAN_CHANNEL, FakeYoutube, Fault, SUBSCRIBERS,
};

const ACCESS: &str = "ya29.first";
const REFRESH: &str = "1//google-refresh";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
    })
    .unwrap()
}

fn youtube_with(fake: &FakeYoutube, tokens: TokenSet, file: Option<PathBuf>) -> YoutubeConnector {
    let server: reqwest::Url = fake.url().parse().unwrap();
    let endpoint =
        YoutubeConnector::token_endpoint(&server, CLIENT_ID, Some(Secret::new(CLIENT_SECRET)));
    let token = UserToken::new("brand_youtube", tokens, file, endpoint, client());
    YoutubeConnector::new("brand_youtube", server, token, "unlisted", client())
}

fn youtube(fake: &FakeYoutube) -> YoutubeConnector {
    youtube_with(fake, TokenSet::parse(ACCESS, None).unwrap(), None)
}

fn video(dir: &tempfile::TempDir, name: &str, size: usize) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, vec![7u8; size]).unwrap();
    path
}

fn post(key: &str, text: &str, media: Vec<PathBuf>) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media,
        reply_to: None,
        playbook: "launch".into(),
        item: "video".into(),
        direct_to: None,
        notice: false,
    }
}

#[tokio::test]
async fn a_video_is_uploaded_through_a_resumable_session() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let sent = youtube(&fake)
        .post(&post(
            "k1",
            "Rain Boots: the launch film\nFive colours, one storm.\nShop: https://shop.example",
            vec![video(&dir, "launch.mp4", 4000)],
        ))
        .await
        .unwrap();
    let uploaded = &fake.videos()[0];
    assert_eq!(sent.remote_id, uploaded.id);
    assert_eq!(
        sent.url,
        Some(format!("https://www.youtube.com/watch?v={}", uploaded.id))
    );
    assert_eq!(uploaded.title, "Rain Boots: the launch film");
    assert_eq!(
        uploaded.description,
        "Five colours, one storm.\nShop: https://shop.example"
    );
    assert_eq!(uploaded.privacy, "unlisted");
    assert_eq!(uploaded.bytes, 4000);
    let open = &fake.calls("POST", "/upload/youtube/v3/videos")[0];
    assert_eq!(open.query["uploadType"], "resumable");
    assert_eq!(open.query["part"], "snippet,status");
    assert_eq!(open.headers["x-upload-content-length"], "4000");
    assert_eq!(open.headers["x-upload-content-type"], "video/mp4");
}

#[tokio::test]
async fn a_broken_upload_continues_from_where_the_server_stopped() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    fake.push_fault("/upload/session/", Fault::DropMidUpload);
    youtube(&fake)
        .post(&post("k1", "Teaser", vec![video(&dir, "t.mp4", 3000)]))
        .await
        .unwrap();
    assert_eq!(fake.videos().len(), 1);
    assert_eq!(fake.videos()[0].bytes, 3000);
    let puts = fake.calls("PUT", "/upload/session/");
    assert_eq!(puts.len(), 3, "the broken PUT, the status query, the rest");
    assert_eq!(puts[1].headers["content-range"], "bytes */3000");
    assert_eq!(puts[2].headers["content-range"], "bytes 1500-2999/3000");
    assert_eq!(puts[2].len, 1500);
    assert_eq!(fake.sessions_opened(), 1);
}

#[tokio::test]
async fn a_lost_answer_is_settled_by_the_upload_session() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake);
    // The server takes the bytes and creates the video; its answer is lost, and so is the
    // answer to the status question that follows: the send ends unknown.
    for _ in 0..2 {
        fake.push_fault("/upload/session/", Fault::DropAfterUpload);
    }
    let sent = post("k1", "Teaser", vec![video(&dir, "t.mp4", 1000)]);
    let err = connector.post(&sent).await.unwrap_err();
    assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
    assert_eq!(fake.videos().len(), 1);
    let Lookup::Found(found) = connector.lookup(&sent).await.unwrap() else {
        panic!("the session says the video exists")
    };
    assert_eq!(found.remote_id, fake.videos()[0].id);
    assert_eq!(fake.sessions_opened(), 1);
    assert_eq!(fake.videos().len(), 1);

    // Another process finds it among the channel's videos since the first attempt.
    let fresh = youtube(&fake);
    let first_attempt = Utc::now() - TimeDelta::minutes(1);
    let Lookup::Found(again) = fresh
        .lookup_since(&sent, Some(first_attempt))
        .await
        .unwrap()
    else {
        panic!("found by title")
    };
    assert_eq!(again.remote_id, found.remote_id);
    assert_eq!(
        fresh
            .lookup_since(&post("k2", "Other", vec![]), Some(first_attempt))
            .await
            .unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn titles_descriptions_and_a_missing_video_are_refused_before_sending() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake);
    let clip = || vec![video(&dir, "c.mp4", 10)];
    connector
        .post(&post("k1", &"t".repeat(100), clip()))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", &"t".repeat(101), clip()))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the title (the post's first line) has 101 characters and YouTube allows 100"
    );
    let long = format!("Title\n{}", "d".repeat(5001));
    let err = connector
        .post(&post("k3", &long, clip()))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "the description has 5001 characters and YouTube allows 5000"
    );
    let err = connector
        .post(&post("k4", "No video", vec![]))
        .await
        .unwrap_err();
    assert_eq!(
        err.reason(),
        "a YouTube post is one video, and this post has 0 files"
    );
    assert_eq!(fake.sessions_opened(), 1);
}

#[tokio::test]
async fn a_used_up_quota_is_said_in_plain_words() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    fake.push_fault("/upload/youtube/v3/videos", Fault::Quota);
    let err = youtube(&fake)
        .post(&post("k1", "Teaser", vec![video(&dir, "t.mp4", 10)]))
        .await
        .unwrap_err();
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, http::MAX_RETRY_AFTER);
    assert!(
        reason.starts_with("the Google Cloud project has used up its YouTube API quota for today"),
        "{reason}"
    );
    assert!(
        reason.contains("resets at midnight Pacific time"),
        "{reason}"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_with_google_and_written_back() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("youtube.json");
    let expires = (Utc::now() + TimeDelta::seconds(30)).to_rfc3339();
    std::fs::write(
        &file,
        format!(
            r#"{{"access_token":"{ACCESS}","refresh_token":"{REFRESH}","expires_at":"{expires}"}}"#
        ),
    )
    .unwrap();
    let (tokens, path) = UserToken::read_secret(
        &format!("file:{}", file.display()),
        &Secret::new(std::fs::read_to_string(&file).unwrap()),
    )
    .unwrap();
    youtube_with(&fake, tokens, path).health().await.unwrap();
    let renewal = &fake.calls("POST", "/token")[0];
    assert_eq!(renewal.method, "POST");
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert!(stored.access_token.starts_with("ya29.renewed-"));
    assert_eq!(
        stored.refresh_token.as_deref(),
        Some(REFRESH),
        "Google keeps it"
    );
}

#[tokio::test]
async fn comments_are_read_page_by_page_newest_first_and_answered() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake);
    let sent = connector
        .post(&post("k1", "Contest video", vec![video(&dir, "c.mp4", 10)]))
        .await
        .unwrap();
    let start = Utc::now() - TimeDelta::hours(1);
    let mut threads = Vec::new();
    for n in 0..150 {
        threads.push(fake.add_comment(
            &sent.remote_id,
            &format!("entry {n}"),
            start + TimeDelta::seconds(n),
        ));
    }
    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.mentions.len(), 100, "the most recent page");
    let cursor = page.cursor.unwrap();
    fake.add_comment(&sent.remote_id, "late", Utc::now());
    let next = connector.mentions(Some(&cursor)).await.unwrap();
    let texts: Vec<&str> = next.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["late"]);
    assert_eq!(next.mentions[0].author.id, FAN_CHANNEL);
    assert_eq!(next.mentions[0].in_reply_to, Some(sent.remote_id.clone()));

    let mut answer = post("k2", "Thanks for entering!", vec![]);
    answer.reply_to = Some(threads[0].clone());
    connector.post(&answer).await.unwrap();
    let mut on_video = post("k3", "Winners on Friday", vec![]);
    on_video.reply_to = Some(sent.remote_id.clone());
    connector.post(&on_video).await.unwrap();
    let own: Vec<_> = fake
        .comments()
        .into_iter()
        .filter(|c| c.author == CHANNEL)
        .collect();
    assert_eq!(own.len(), 2);
    assert_eq!(own[0].parent.as_deref(), Some(threads[0].as_str()));
    assert_eq!(own[1].parent, None);
    let again = connector
        .mentions(Some(&next.cursor.unwrap()))
        .await
        .unwrap();
    assert!(
        again.mentions.is_empty(),
        "the channel's own comments are left out"
    );
}

#[tokio::test]
async fn metrics_and_delete() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake);
    let sent = connector
        .post(&post("k1", "Film", vec![video(&dir, "f.mp4", 10)]))
        .await
        .unwrap();
    fake.set_counts(&sent.remote_id, 5_000, 320, 41);
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(SUBSCRIBERS));
    let counts = &snapshot.posts[0];
    assert_eq!(
        (counts.views, counts.likes, counts.replies),
        (Some(5_000), 320, 41)
    );
    connector.delete(&sent.remote_id).await.unwrap();
    assert!(fake.videos().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();
}

#[test]
fn the_table_and_validation_know_youtube() {
    let caps = Network::Youtube.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete && caps.read_mentions);
    assert!(caps.metrics && caps.lookup && !caps.direct_message);
    assert_eq!(Network::Youtube.required_media(), Some("a video"));
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
}

/// `crier accounts connect` for a YouTube account: Google's consent address asks for offline
/// access with PKCE, the code is exchanged with the client secret, and the tokens are written
/// owner-only, ready for the connector.
#[tokio::test]
async fn accounts_connect_asks_google_for_offline_access_with_pkce() {
    use std::collections::BTreeMap;
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
        "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.force-ssl"
    );
    assert!(query["redirect_uri"].starts_with("http://127.0.0.1:"));
    // The person approves; Google sends the browser back with the code and the state.
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
    assert_eq!(exchange.len(), 1);
    let stored = TokenSet::parse(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(stored.refresh_token.as_deref(), Some("1//granted-1"));
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
    youtube_with(&fake, tokens, file).health().await.unwrap();
}

/// YouTube gives comment times in whole seconds: a comment written in the same second as the
/// newest one read, but listed only afterwards, is still read the next time, and nothing is
/// read twice.
#[tokio::test]
async fn a_comment_in_the_same_second_as_the_cursor_is_not_lost() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake);
    let sent = connector
        .post(&post("k1", "Contest video", vec![video(&dir, "c.mp4", 10)]))
        .await
        .unwrap();
    let second = chrono::DateTime::parse_from_rfc3339("2026-12-04T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let first = fake.add_comment(&sent.remote_id, "first", second);
    let page = connector.mentions(None).await.unwrap();
    assert_eq!(page.mentions.len(), 1);
    let cursor = page.cursor.unwrap();
    assert_eq!(cursor, format!("2026-12-04T10:00:00Z {first}"));

    let late = fake.add_comment(&sent.remote_id, "same second", second);
    let next = connector.mentions(Some(&cursor)).await.unwrap();
    let ids: Vec<&str> = next.mentions.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [late.as_str()]);
    let again = connector.mentions(next.cursor.as_deref()).await.unwrap();
    assert!(again.mentions.is_empty());
    assert_eq!(again.cursor, None);
    // A cursor of the time alone (as stored before) still reads.
    let plain = connector
        .mentions(Some("2026-12-04T09:59:59Z"))
        .await
        .unwrap();
    assert_eq!(plain.mentions.len(), 2);
}

/// A video is read and sent a chunk at a time: each chunk with its `Content-Range`, the next
/// starting where the 308's `Range` says YouTube's bytes end.
#[tokio::test]
async fn a_video_goes_up_a_chunk_at_a_time() {
    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let connector = youtube(&fake).with_chunk_size(200_000); // rounded up to 256 KiB
    let size = 600_000;
    connector
        .post(&post("k1", "Trailer", vec![video(&dir, "t.mp4", size)]))
        .await
        .unwrap();
    let ranges: Vec<String> = fake
        .calls("PUT", "/upload/session/")
        .iter()
        .map(|r| r.headers["content-range"].clone())
        .collect();
    assert_eq!(
        ranges,
        [
            "bytes 0-262143/600000",
            "bytes 262144-524287/600000",
            "bytes 524288-599999/600000"
        ]
    );
    let videos = fake.videos();
    assert_eq!(videos.len(), 1);
    assert_eq!(videos[0].bytes, size);
}

/// A crash in the middle of an upload: the session's address was kept with the send in the
/// store before the first byte left, so the next process asks the session how far it got and
/// sends the rest through it; one session, one video.
#[tokio::test]
async fn a_crash_mid_upload_continues_the_kept_session_after_the_restart() {
    use crier::connectors::Connectors;
    use crier::engine::{Dispatcher, RetryPolicy};
    use crier::store::{
        Batch, HistoryFilter, ItemKey, NewOutbox, NewRun, OutboxState, SqliteStore, Store,
        idempotency_key,
    };
    use std::sync::Arc;

    let fake = FakeYoutube::start(ACCESS, REFRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crier.db");
    let clip = video(&dir, "launch.mp4", 3000);
    let dispatcher = |store: &Arc<dyn Store>| {
        let mut connectors = Connectors::new();
        // Patient: the hanging upload is cut by the crash, never by a timeout.
        let client = http::client(&HttpOptions {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(300),
        })
        .unwrap();
        let server: reqwest::Url = fake.url().parse().unwrap();
        let endpoint =
            YoutubeConnector::token_endpoint(&server, CLIENT_ID, Some(Secret::new(CLIENT_SECRET)));
        let token = UserToken::new(
            "brand_youtube",
            TokenSet::parse(ACCESS, None).unwrap(),
            None,
            endpoint,
            client.clone(),
        );
        let connector = YoutubeConnector::new("brand_youtube", server, token, "unlisted", client);
        connectors.insert("brand_youtube", Arc::new(connector));
        Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default())
    };
    let at = Utc::now();
    let now = move || at;
    fake.push_fault("/upload/session/", Fault::HangMidUpload);
    {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
        let revision = store.record_revision("rev", at.timestamp_millis()).unwrap();
        let key = ItemKey::new("launch", "film");
        let mut run = NewRun::running(key.clone(), at.timestamp_millis(), revision);
        let mut sent = post("", "The launch film", vec![clip.clone()]);
        sent.idempotency_key = idempotency_key(&key, at.timestamp_millis(), 0, "brand_youtube");
        run.outbox.push(NewOutbox {
            step: 0,
            account: "brand_youtube".into(),
            post: sent,
            due: at.timestamp_millis(),
        });
        store
            .commit(&Batch {
                now: at.timestamp_millis(),
                runs: vec![run],
                ..Batch::default()
            })
            .unwrap();
        let first = dispatcher(&store);
        let task = tokio::spawn(async move {
            let _ = first.dispatch_due(now, None).await;
        });
        let mut waited = 0;
        while fake.session_bytes().first().copied().unwrap_or(0) == 0 {
            assert!(waited < 400, "the upload never started");
            waited += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        task.abort();
        let _ = task.await;
    }
    assert_eq!(fake.session_bytes(), [1500]);
    assert!(fake.videos().is_empty());

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&file).unwrap());
    let later = at + TimeDelta::minutes(1);
    assert_eq!(
        store
            .recover_in_doubt(later.timestamp_millis())
            .unwrap()
            .in_doubt,
        1
    );
    dispatcher(&store)
        .dispatch_due(|| later, None)
        .await
        .unwrap();

    let send = store.history(&HistoryFilter::default()).unwrap()[0].outbox[0].clone();
    assert_eq!(send.state, OutboxState::Sent, "{send:?}");
    assert_eq!(
        fake.sessions_opened(),
        1,
        "the kept session, not a second one"
    );
    assert_eq!(fake.videos().len(), 1);
    assert_eq!(fake.videos()[0].bytes, 3000);
    assert_eq!(
        send.remote_id.as_deref(),
        Some(fake.videos()[0].id.as_str())
    );
    let puts = fake.calls("PUT", "/upload/session/");
    assert_eq!(
        puts.last().unwrap().headers["content-range"],
        "bytes 1500-2999/3000"
    );
}
