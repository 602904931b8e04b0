//! The VK connector against a fake VK API on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::Duration;

use crier::connectors::http::{self, HttpOptions};
use crier::connectors::secret::Secret;
use crier::connectors::vk::{VkConnector, guid};
use crier::connectors::{Connector, Connectors, Delivered, Lookup, OutgoingPost, SendError};
use crier::diagnostic::SourceFile;
use crier::network::Network;
use crier::playbook::plan::Account;
use crier::playbook::raw::AccountConfig;
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_vk::{FAN_ID, FakeVk, Fault, GROUP_ID, MEMBERS};

const TOKEN: &str = "vk1.a.admin-token-5f4e";

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn vk(fake: &FakeVk, token: &str) -> VkConnector {
    VkConnector::new(
        "brand_vk",
        fake.url().parse().unwrap(),
        Secret::new(token),
        GROUP_ID,
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

fn image(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, b"\x89PNG fake").unwrap();
    path
}

#[tokio::test]
async fn posts_text_to_the_community_wall_as_the_community() {
    let fake = FakeVk::start(TOKEN);
    let delivered = vk(&fake, TOKEN)
        .post(&post("run-1/teaser/brand_vk", "Мы запускаемся сегодня 🚀"))
        .await
        .unwrap();
    let id = fake.posts()[0].id;
    assert_eq!(
        delivered,
        Delivered {
            remote_id: id.to_string(),
            url: Some(format!("https://vk.com/wall-{GROUP_ID}_{id}")),
        }
    );
    let calls = fake.calls("wall.post");
    assert_eq!(calls.len(), 1);
    let params = &calls[0].params;
    assert_eq!(params["owner_id"], format!("-{GROUP_ID}"));
    assert_eq!(params["from_group"], "1");
    assert_eq!(params["message"], "Мы запускаемся сегодня 🚀");
    assert_eq!(params["v"], "5.199");
    assert_eq!(params["access_token"], TOKEN);
    assert_eq!(params["guid"], guid("run-1/teaser/brand_vk"));
    assert!(fake.posts()[0].from_group);
}

#[test]
fn the_guid_is_derived_from_the_idempotency_key() {
    assert_eq!(guid("a"), guid("a"));
    assert_ne!(guid("a"), guid("b"));
    assert!(guid(&"k".repeat(500)).len() <= 40);
}

#[tokio::test]
async fn a_resend_with_the_same_key_is_the_same_post() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let first = connector.post(&post("k1", "Sale!")).await.unwrap();
    let again = connector.post(&post("k1", "Sale!")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(fake.posts().len(), 1);
    let other = connector.post(&post("k2", "Sale!")).await.unwrap();
    assert_ne!(first.remote_id, other.remote_id);
}

#[tokio::test]
async fn images_go_through_the_wall_upload_server() {
    let fake = FakeVk::start(TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let mut with_images = post("k1", "Two looks");
    with_images.media = vec![image(&dir, "a.png"), image(&dir, "b.png")];
    vk(&fake, TOKEN).post(&with_images).await.unwrap();
    let methods: Vec<String> = fake.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        [
            "photos.getWallUploadServer",
            "photos.saveWallPhoto",
            "photos.getWallUploadServer",
            "photos.saveWallPhoto",
            "wall.post"
        ]
    );
    let save = &fake.calls("photos.saveWallPhoto")[0].params;
    assert_eq!(save["group_id"], GROUP_ID.to_string());
    assert_eq!(save["server"], "830001");
    assert_eq!(save["hash"], "5e1f00d");
    let posted = &fake.posts()[0];
    assert_eq!(posted.attachments.len(), 2);
    assert!(posted.attachments[0].starts_with(&format!("photo-{GROUP_ID}_")));
}

#[tokio::test]
async fn text_over_the_limit_and_too_many_images_are_refused_before_sending() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    // VK counts characters: 16,384 emoji fit, one more does not.
    connector
        .post(&post("k1", &"🙂".repeat(16_384)))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", &"🙂".repeat(16_385)))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the text has 16385 characters and VK allows 16384 in a post".into()
        }
    );
    let dir = tempfile::tempdir().unwrap();
    let mut many = post("k3", "Eleven");
    many.media = (0..11).map(|n| image(&dir, &format!("{n}.png"))).collect();
    let err = connector.post(&many).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "the post has 11 images and VK takes at most 10 in one post"
    );
    assert_eq!(fake.calls("wall.post").len(), 1);
    assert!(fake.calls("photos.getWallUploadServer").is_empty());
}

#[tokio::test]
async fn replies_are_comments_on_the_post_or_under_a_comment() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let parent = connector.post(&post("k1", "Contest!")).await.unwrap();
    let mut reply = post("k2", "Winners on Friday");
    reply.reply_to = Some(parent.remote_id.clone());
    let first = connector.post(&reply).await.unwrap();
    let comment = fake.comments()[0].clone();
    assert_eq!(
        first.remote_id,
        format!("{}_{}", parent.remote_id, comment.id)
    );
    assert_eq!(comment.from_id, -GROUP_ID, "the community comments");
    let params = &fake.calls("wall.createComment")[0].params;
    assert_eq!(params["from_group"], GROUP_ID.to_string());
    assert_eq!(params["guid"], guid("k2"));

    let fan_comment = fake.add_comment(comment.post_id, FAN_ID, "Me?", None);
    let mut answer = post("k3", "Yes, you!");
    answer.reply_to = Some(format!("{}_{fan_comment}", parent.remote_id));
    connector.post(&answer).await.unwrap();
    assert_eq!(
        fake.calls("wall.createComment")[1].params["reply_to_comment"],
        fan_comment.to_string()
    );

    answer.reply_to = Some("wall-1".into());
    let err = connector.post(&answer).await.unwrap_err();
    assert_eq!(
        err.reason(),
        "`wall-1` is not the id of a VK post or comment"
    );
}

async fn post_with(fault: Fault) -> (SendError, FakeVk) {
    let fake = FakeVk::start(TOKEN);
    fake.push_fault(fault);
    let err = vk(&fake, TOKEN)
        .post(&post("k1", "Hello"))
        .await
        .unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn too_many_requests_per_second_waits_a_second() {
    let (err, fake) = post_with(Fault::Error(6, "Too many requests per second")).await;
    assert_eq!(
        err,
        SendError::RetryAfter {
            after: Duration::from_secs(1),
            reason: "VK is rate limiting the token (error 6: Too many requests per second)".into()
        }
    );
    assert!(fake.posts().is_empty());
}

#[tokio::test]
async fn flood_control_waits_fifteen_minutes() {
    let (err, _fake) = post_with(Fault::Error(9, "Flood control")).await;
    assert!(
        matches!(err, SendError::RetryAfter { after, .. } if after == Duration::from_secs(900)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_used_up_daily_quota_is_said_in_plain_words() {
    let (err, _fake) = post_with(Fault::Error(29, "Rate limit reached")).await;
    let SendError::RetryAfter { after, reason } = err else {
        panic!("{err:?}")
    };
    assert_eq!(after, http::MAX_RETRY_AFTER);
    assert!(reason.contains("used up VK's daily quota"), "{reason}");
}

#[tokio::test]
async fn the_fifty_posts_a_day_limit_is_permanent() {
    let (err, _fake) = post_with(Fault::Error(214, "Access to adding post denied")).await;
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "VK refused the post (error 214: Access to adding post denied): a community may publish 50 posts a day, or its wall is closed".into()
        }
    );
}

#[tokio::test]
async fn vk_internal_errors_and_a_proxy_page_are_transient() {
    let (err, _fake) = post_with(Fault::Error(10, "Internal server error")).await;
    assert!(matches!(err, SendError::Transient { .. }), "{err:?}");
    let (err, _fake) = post_with(Fault::BadGateway).await;
    assert_eq!(
        err,
        SendError::Transient {
            reason: "VK failed (HTTP 502 Bad Gateway)".into()
        }
    );
}

#[tokio::test]
async fn a_revoked_token_is_permanent_and_says_what_to_do() {
    let fake = FakeVk::start(TOKEN);
    let err = vk(&fake, "vk1.a.old")
        .post(&post("k1", "Hello"))
        .await
        .unwrap_err();
    let SendError::Permanent { reason } = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with("VK refused the token (error 5:"),
        "{reason}"
    );
    assert!(reason.contains("update `token` in crier.yaml"), "{reason}");
    assert!(!reason.contains("vk1.a.old"));
}

#[tokio::test]
async fn an_answer_lost_after_posting_is_found_by_lookup_and_a_resend_is_the_same_post() {
    for fault in [
        Fault::AcceptThenDrop,
        Fault::Slow(Duration::from_millis(1500)),
    ] {
        let (err, fake) = post_with(fault).await;
        assert!(matches!(err, SendError::OutcomeUnknown { .. }), "{err:?}");
        assert_eq!(fake.posts().len(), 1, "the post went out");
        let connector = vk(&fake, TOKEN);
        let Lookup::Found(found) = connector.lookup(&post("k1", "Hello")).await.unwrap() else {
            panic!("lookup finds the post")
        };
        assert_eq!(found.remote_id, fake.posts()[0].id.to_string());
        let resent = connector.post(&post("k1", "Hello")).await.unwrap();
        assert_eq!(resent, found);
        assert_eq!(fake.posts().len(), 1);
    }
}

#[tokio::test]
async fn lookup_of_a_post_that_never_went_out_is_not_found() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let old = chrono::Utc::now().timestamp() - 7 * 3600;
    fake.add_post("Hello", old);
    assert_eq!(
        connector.lookup(&post("k1", "Hello")).await.unwrap(),
        Lookup::NotFound,
        "a post older than the window is another post"
    );
    let parent = connector.post(&post("k0", "Contest")).await.unwrap();
    let mut reply = post("k2", "Thanks all");
    reply.reply_to = Some(parent.remote_id.clone());
    assert_eq!(connector.lookup(&reply).await.unwrap(), Lookup::NotFound);
    let sent = connector.post(&reply).await.unwrap();
    assert_eq!(connector.lookup(&reply).await.unwrap(), Lookup::Found(sent));
}

#[tokio::test]
async fn comments_are_read_page_by_page_after_the_cursor() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let now = chrono::Utc::now().timestamp();
    let contest = fake.add_post("Comment to enter", now);
    let quiet = fake.add_post("No comments here", now);
    let _ = quiet;
    let mut ids = Vec::new();
    for n in 0..150 {
        ids.push(fake.add_comment(contest, FAN_ID + n, &format!("entry {n}"), None));
    }
    let own = fake.add_comment(contest, -GROUP_ID, "Good luck!", None);
    let answer = fake.add_comment(contest, FAN_ID, "thanks", Some(ids[0]));

    let page = connector.mentions(None).await.unwrap();
    assert_eq!(
        page.mentions.len(),
        151,
        "150 entries and one reply, not our own"
    );
    let offsets: Vec<String> = fake
        .calls("wall.getComments")
        .iter()
        .map(|c| c.params["offset"].clone())
        .collect();
    assert_eq!(
        offsets,
        ["0", "100"],
        "two pages; the post without comments is skipped"
    );
    assert!(
        page.mentions
            .iter()
            .all(|m| m.id != format!("{contest}_{own}"))
    );
    let first = page
        .mentions
        .iter()
        .find(|m| m.id == format!("{contest}_{}", ids[0]))
        .unwrap();
    assert_eq!(first.author.id, FAN_ID.to_string());
    assert_eq!(first.author.handle, "olena_fan");
    assert_eq!(first.author.display_name.as_deref(), Some("Olena Fan"));
    assert_eq!(first.in_reply_to, Some(contest.to_string()));
    let reply = page
        .mentions
        .iter()
        .find(|m| m.id == format!("{contest}_{answer}"))
        .unwrap();
    assert_eq!(reply.in_reply_to, Some(format!("{contest}_{}", ids[0])));

    let cursor = page.cursor.unwrap();
    let late = fake.add_comment(contest, FAN_ID, "late entry", None);
    let next = connector.mentions(Some(&cursor)).await.unwrap();
    let got: Vec<&str> = next.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(got, ["late entry"]);
    assert_eq!(next.cursor, Some(late.to_string()));
    let err = connector.mentions(Some("yesterday")).await.unwrap_err();
    assert_eq!(err.reason(), "`yesterday` is not a VK comment cursor");
}

#[tokio::test]
async fn metrics_read_the_posts_counts_and_the_members() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let sent = connector.post(&post("k1", "Sale")).await.unwrap();
    let id: i64 = sent.remote_id.parse().unwrap();
    fake.set_counts(id, 12, 3, 950);
    fake.add_comment(id, FAN_ID, "nice", None);
    let snapshot = connector
        .metrics(std::slice::from_ref(&sent.remote_id))
        .await
        .unwrap();
    assert_eq!(snapshot.followers, Some(MEMBERS));
    assert_eq!(snapshot.posts.len(), 1);
    let counts = &snapshot.posts[0];
    assert_eq!(
        (counts.likes, counts.reposts, counts.replies, counts.views),
        (12, 3, 1, Some(950))
    );
    assert_eq!(
        fake.calls("wall.getById")[0].params["posts"],
        format!("-{GROUP_ID}_{id}")
    );
}

#[tokio::test]
async fn delete_removes_posts_and_comments_and_a_second_delete_succeeds() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let sent = connector.post(&post("k1", "Oops")).await.unwrap();
    let mut reply = post("k2", "Oops too");
    reply.reply_to = Some(sent.remote_id.clone());
    let comment = connector.post(&reply).await.unwrap();
    connector.delete(&comment.remote_id).await.unwrap();
    assert!(fake.comments().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();
    assert!(fake.posts().is_empty());
    connector.delete(&sent.remote_id).await.unwrap();
    connector.delete(&comment.remote_id).await.unwrap();
    assert_eq!(
        fake.calls("wall.delete")[0].params["owner_id"],
        format!("-{GROUP_ID}")
    );
}

#[tokio::test]
async fn health_checks_the_token_administers_the_community() {
    let fake = FakeVk::start(TOKEN);
    vk(&fake, TOKEN).health().await.unwrap();
    fake.revoke_admin();
    let err = vk(&fake, TOKEN).health().await.unwrap_err();
    assert_eq!(
        err.reason(),
        format!(
            "the token's user does not administer the community `Brand` ({GROUP_ID}): VK lets only its administrators post as it"
        )
    );
    let err = vk(&fake, "vk1.a.wrong").health().await.unwrap_err();
    assert!(err.reason().starts_with("VK refused the token"), "{err}");
    assert!(fake.posts().is_empty());
}

#[test]
fn the_table_says_what_vk_can_do() {
    let caps = Network::Vk.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.delete);
    assert!(caps.read_mentions && caps.metrics && caps.lookup && caps.idempotency_key);
    assert!(!caps.direct_message && !caps.search_hashtags);
    let limit = Network::Vk.text_limit().unwrap();
    assert_eq!((limit.max, limit.unit), (16_384, "characters"));
}

fn account(fields: &str) -> BTreeMap<String, Account> {
    let yaml = format!("network: vk\n{fields}");
    let (documents, diagnostics) = parse_documents(&SourceFile::new("crier.yaml", yaml), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let config: AccountConfig = from_node(&documents[0]).unwrap();
    BTreeMap::from([(
        "brand_vk".to_owned(),
        Account {
            name: "brand_vk".into(),
            network: Network::Vk,
            config,
        },
    )])
}

#[test]
fn registry_builds_vk_accounts_and_refuses_a_bad_group() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("vk-token");
    std::fs::write(&token, TOKEN).unwrap();
    let good = account(&format!(
        "token: file:{}\ngroup: club{GROUP_ID}\n",
        token.display()
    ));
    let built = Connectors::build(&good, &client()).unwrap();
    assert_eq!(built.get("brand_vk").unwrap().network(), Network::Vk);
    let bad = account(&format!("token: file:{}\ngroup: brand\n", token.display()));
    let errors = Connectors::build(&bad, &client()).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "account `brand_vk`: `group` is not valid: `brand` is not a community id: write the number from vk.com/club<number>"
    );
}

#[test]
fn validation_wants_a_group_and_refuses_a_hashtag_contest_on_vk() {
    let config = "timezone: UTC\naccounts:\n  brand_vk: { network: vk, token: env:VK_TOKEN }\n";
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
            .any(|e| e.contains("account `brand_vk` on `vk` needs `group`")),
        "{errors:?}"
    );

    let config =
        "timezone: UTC\naccounts:\n  brand_vk: { network: vk, token: env:VK_TOKEN, group: '1' }\n";
    let contest = "kind: contest\nname: giveaway\naccount: brand_vk\nannounce:\n  at: 2026-12-01 10:00\n  text: \"Post with #win\"\nentries:\n  from: hashtag\n  hashtag: \"#win\"\n  closes: 2026-12-07 20:00\ndraw:\n  at: 2026-12-07 21:00\n  winners: 1\n";
    let dir = crate::support::playbooks::folder(config, &[("giveaway.yaml", contest)]);
    let validated = crier::cli::load_and_validate(dir.path()).unwrap();
    let errors: Vec<String> = validated
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("account `brand_vk` is on vk, which cannot search posts by hashtag"),
        "{}",
        errors[0]
    );
}

/// Through the engine and the dispatcher: the first `wall.post` goes out but its answer is
/// lost; the next attempt looks the post up and records it, and nothing is posted twice.
#[tokio::test]
async fn the_dispatcher_recovers_a_lost_answer_without_posting_twice() {
    use std::sync::Arc;

    use chrono::{TimeDelta, TimeZone, Utc};
    use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
    use crier::store::{HistoryFilter, OutboxState, SqliteStore, Store};

    let fake = FakeVk::start(TOKEN);
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("vk-token");
    std::fs::write(&token, TOKEN).unwrap();
    let config = format!(
        "timezone: UTC\naccounts:\n  brand_vk: {{ network: vk, token: 'file:{}', group: '{GROUP_ID}', server: '{}' }}\n",
        token.display(),
        fake.url()
    );
    let campaign = "kind: campaign\nname: launch\nposts:\n  - { id: teaser, at: \"2026-12-01 10:00\", to: brand_vk, text: \"Soon on our wall\" }\n";
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
    assert_eq!(row.remote_id, Some(fake.posts()[0].id.to_string()));
    assert_eq!(fake.posts().len(), 1, "posted once");
    assert_eq!(
        fake.calls("wall.get").len(),
        1,
        "looked up before resending"
    );
    assert_eq!(fake.calls("wall.post").len(), 1);
}

#[tokio::test]
async fn a_comment_is_read_again_as_it_is_now_or_as_gone() {
    let fake = FakeVk::start(TOKEN);
    let connector = vk(&fake, TOKEN);
    let now = chrono::Utc::now().timestamp();
    let contest = fake.add_post("Comment to enter", now);
    let entry = fake.add_comment(contest, FAN_ID, "my entry", None);
    let id = format!("{contest}_{entry}");
    fake.edit_comment(entry, "my entry, edited");
    let seen = connector.fetch_post(&id).await.unwrap().unwrap();
    assert_eq!(seen.text, "my entry, edited");
    assert_eq!(seen.author.handle, "olena_fan");
    assert_eq!(seen.in_reply_to, Some(contest.to_string()));
    fake.delete_comment(entry);
    assert_eq!(connector.fetch_post(&id).await.unwrap(), None);
    let err = connector
        .fetch_post(&contest.to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
}
