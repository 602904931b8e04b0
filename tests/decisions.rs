//! Deciding from the notice: approval requests carry a link per approver, signed for that
//! person and that request and expiring with its deadline; a link opens only for its own
//! person, before its deadline, unaltered; a decision through it is recorded as that person.
//! Replies to a notice ("approve", "reject: why", "ack") decide as the person who wrote them.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use crier::connectors::Author;
use crier::connectors::registry::Connectors;
use crier::engine::{Dispatcher, Engine, EngineParts, RetryPolicy};
use crier::network::Network;
use crier::ops::Desk;
use crier::ops::decision_links::{self, Choice, LinkError, LinkRefused, Pending, Signer};
use crier::ops::decision_links::{Reply, ReplyOutcome};
use crier::store::{ApprovalState, ItemKey, SqliteStore, Store};

const CONFIG: &str = "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: { network: console }\n  chat_pr: { network: console }\n  chat_duty: { network: console }\npeople:\n  pr_lead: { notify: chat_pr, users: { telegram: \"@olena\" } }\n  duty: { notify: chat_duty, users: { matrix: \"@duty:example.org\" } }\n  viewer: { notify: chat_duty }\n";

const CAMPAIGN: &str = "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: \"2026-12-01 10:00\"\n    to: brand\n    text: Warm jackets soon\n    approve: { by: [pr_lead, duty], before: 1h, ask: 2h }\n";

fn utc(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap()
}

/// The link in `text` (the first one, or the one after `person: `).
fn link_in(text: &str) -> String {
    let start = text.find("https://crier.test/decide/").expect("a link");
    text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("https://crier.test/decide/")
        .to_string()
}

struct Rig {
    _dir: tempfile::TempDir,
    desk: Desk,
    signer: Signer,
    sent: Vec<(String, String)>,
}

async fn notified() -> Rig {
    let (dir, plan) = crate::support::playbooks::valid_plan(CONFIG, &[("sale.yaml", CAMPAIGN)]);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let signer = Signer::open(store.as_ref(), "https://crier.test/", utc(6, 0)).unwrap();
    let parts = EngineParts::new(store.clone());
    parts.links.set(Arc::new(signer.clone()));
    let mut engine = Engine::new(plan.clone(), "rev", parts, utc(7, 0)).unwrap();
    engine.start(utc(7, 0)).unwrap();
    let (connectors, recording) = Connectors::build_rehearsal(&plan.accounts);
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(connectors), RetryPolicy::default());
    dispatcher.set_plan(plan.clone());
    engine.open_approvals(utc(7, 0)).unwrap();
    dispatcher.dispatch_due(|| utc(7, 0), None).await.unwrap();
    let sent = recording
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.account.clone(), r.post.text.clone()))
        .collect();
    Rig {
        _dir: dir,
        desk: Desk::new(plan, store),
        signer,
        sent,
    }
}

impl Rig {
    fn text_to(&self, account: &str) -> &str {
        &self
            .sent
            .iter()
            .find(|(a, _)| a == account)
            .unwrap_or_else(|| panic!("nothing sent to {account}: {:?}", self.sent))
            .1
    }
}

#[tokio::test]
async fn each_approver_gets_a_link_of_their_own_that_decides_as_them() {
    let rig = notified().await;
    assert_eq!(rig.sent.len(), 2, "{:?}", rig.sent);
    let pr = rig.text_to("chat_pr");
    let duty = rig.text_to("chat_duty");
    assert!(
        pr.starts_with("Approval needed (any of pr_lead, duty): sale/teaser"),
        "{pr}"
    );
    assert!(
        pr.contains("\nDecide in the browser: https://crier.test/decide/"),
        "{pr}"
    );
    // chat_duty reaches duty and viewer; only duty approves, so only duty's link is there.
    assert!(
        duty.contains("\nDecide in the browser: https://crier.test/decide/"),
        "{duty}"
    );
    let (pr_link, duty_link) = (link_in(pr), link_in(duty));
    assert_ne!(pr_link, duty_link);

    let opened = decision_links::open(&rig.desk, &rig.signer, &pr_link, None, utc(7, 30)).unwrap();
    assert_eq!(opened.actor.name(), "pr_lead");
    let Pending::Approval(approval) = &opened.pending else {
        panic!("an approval link");
    };
    assert_eq!(
        (approval.playbook.as_str(), approval.item.as_str()),
        ("sale", "teaser")
    );
    assert_eq!(approval.deadline, utc(9, 0).timestamp_millis());
    assert_eq!(opened.claim.expires, approval.deadline);

    // Someone else signed in: refused, nothing decided.
    let refused = decision_links::decide(
        &rig.desk,
        &rig.signer,
        &pr_link,
        Some("duty"),
        Choice::Approve { note: None },
        utc(7, 30),
    )
    .unwrap_err();
    assert!(
        matches!(&refused, LinkError::Refused(LinkRefused::OtherPerson { link_for, signed_in }) if link_for == "pr_lead" && signed_in == "duty"),
        "{refused}"
    );
    assert_eq!(
        refused.to_string(),
        "this link is pr_lead's; you are signed in as duty"
    );

    // A rejection needs its note, through a link as anywhere.
    let refused = decision_links::decide(
        &rig.desk,
        &rig.signer,
        &duty_link,
        None,
        Choice::Reject { note: None },
        utc(7, 31),
    )
    .unwrap_err();
    assert_eq!(refused.to_string(), "a rejection needs a note saying why");

    let decided = decision_links::decide(
        &rig.desk,
        &rig.signer,
        &pr_link,
        Some("pr_lead"),
        Choice::Approve {
            note: Some("fine".into()),
        },
        utc(7, 32),
    )
    .unwrap();
    let decision_links::Decided::Approval(approval) = decided else {
        panic!("an approval decided");
    };
    assert_eq!(approval.state, ApprovalState::Approved);
    assert_eq!(approval.decisions[0].by, "pr_lead");
    assert_eq!(approval.decisions[0].note.as_deref(), Some("fine"));
    // The link opens again (to show the outcome) but decides nothing twice.
    let again = decision_links::decide(
        &rig.desk,
        &rig.signer,
        &pr_link,
        None,
        Choice::Approve { note: None },
        utc(7, 33),
    )
    .unwrap_err();
    assert!(again.to_string().contains("already decided"), "{again}");
}

#[tokio::test]
async fn a_link_after_its_deadline_or_altered_is_refused() {
    let rig = notified().await;
    let link = link_in(rig.text_to("chat_pr"));
    let late = decision_links::decide(
        &rig.desk,
        &rig.signer,
        &link,
        None,
        Choice::Approve { note: None },
        utc(9, 0),
    )
    .unwrap_err();
    assert!(
        matches!(late, LinkError::Refused(LinkRefused::Expired { .. })),
        "{late}"
    );
    assert_eq!(
        late.to_string(),
        "this link expired at 2026-12-01 09:00:00 UTC; the decision was due by then"
    );

    // Its claim rewritten to name someone else: the signature no longer fits.
    let (payload, signature) = link.split_once('.').unwrap();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let json = String::from_utf8(engine.decode(payload).unwrap()).unwrap();
    assert!(json.contains("\"person\":\"pr_lead\""), "{json}");
    let forged = format!(
        "{}.{signature}",
        engine.encode(json.replace("pr_lead", "duty"))
    );
    let refused =
        decision_links::open(&rig.desk, &rig.signer, &forged, None, utc(7, 30)).unwrap_err();
    assert!(
        matches!(refused, LinkError::Refused(LinkRefused::Invalid)),
        "{refused}"
    );
    for damaged in ["", "abc", &link[..link.len() - 2], &format!("{link}x")] {
        assert!(
            decision_links::open(&rig.desk, &rig.signer, damaged, None, utc(7, 30)).is_err(),
            "{damaged}"
        );
    }

    // Another store's key does not verify this store's links.
    let other = Signer::open(
        &SqliteStore::in_memory().unwrap(),
        "https://crier.test",
        utc(7, 0),
    )
    .unwrap();
    assert!(matches!(
        other.verify(&link, utc(7, 30)),
        Err(LinkRefused::Invalid)
    ));
}

#[test]
fn the_key_is_made_once_per_store_and_kept_across_openings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crier.db");
    let claim = decision_links::Claim {
        subject: decision_links::Subject::Incident { id: 7 },
        person: "duty".into(),
        expires: utc(12, 0).timestamp_millis(),
    };
    let token = {
        let store = SqliteStore::open(&path).unwrap();
        Signer::open(&store, "http://127.0.0.1:7878", utc(6, 0))
            .unwrap()
            .token(&claim)
    };
    let store = SqliteStore::open(&path).unwrap();
    let signer = Signer::open(&store, "http://127.0.0.1:7878", utc(7, 0)).unwrap();
    assert_eq!(signer.verify(&token, utc(8, 0)).unwrap(), claim);
    assert_eq!(
        signer.url(&claim),
        format!("http://127.0.0.1:7878/decide/{token}")
    );
}

fn author(handle: &str) -> Author {
    Author {
        id: "4242".into(),
        handle: handle.into(),
        ..Author::default()
    }
}

#[tokio::test]
async fn a_reply_to_the_notice_from_the_persons_own_user_decides_as_them() {
    let rig = notified().await;
    let notice = rig
        .desk
        .store
        .latest_remote_id(&ItemKey::new("sale", "teaser/approval"), "chat_pr")
        .unwrap()
        .expect("the notice was sent");
    let reply = |who: &Author, account: &'static str, network, text: &'static str| {
        let notice = notice.clone();
        let author = who.clone();
        let desk = rig.desk.clone();
        move || {
            decision_links::reply(
                &desk,
                Reply {
                    account,
                    network,
                    author: &author,
                    in_reply_to: Some(&notice),
                    text,
                },
                utc(7, 40),
            )
        }
    };
    // Small talk decides nothing; nor does someone who is not pr_lead's own user.
    let outcome = reply(&author("@olena"), "chat_pr", Network::Telegram, "thanks!")().unwrap();
    assert!(matches!(outcome, ReplyOutcome::NotADecision), "{outcome:?}");
    let outcome = reply(&author("@mallory"), "chat_pr", Network::Telegram, "approve")().unwrap();
    assert!(
        matches!(outcome, ReplyOutcome::NotFromAPerson),
        "{outcome:?}"
    );
    // pr_lead's user on another network, or writing in another person's chat, is not them.
    let outcome = reply(&author("@olena"), "chat_pr", Network::Matrix, "approve")().unwrap();
    assert!(
        matches!(outcome, ReplyOutcome::NotFromAPerson),
        "{outcome:?}"
    );
    let outcome = reply(&author("@olena"), "chat_duty", Network::Telegram, "approve")().unwrap();
    assert!(
        matches!(outcome, ReplyOutcome::NotFromAPerson),
        "{outcome:?}"
    );
    // A rejection without its reason is refused; with it, recorded as pr_lead.
    let refused = reply(&author("@Olena"), "chat_pr", Network::Telegram, "reject")().unwrap_err();
    assert_eq!(refused.to_string(), "a rejection needs a note saying why");
    let outcome = reply(
        &author("@Olena"),
        "chat_pr",
        Network::Telegram,
        "Reject: wrong price",
    )()
    .unwrap();
    let ReplyOutcome::Decided { person, .. } = outcome else {
        panic!("decided: {outcome:?}");
    };
    assert_eq!(person, "pr_lead");
    let approval = rig.desk.store.approvals(false).unwrap().remove(0);
    assert_eq!(approval.state, ApprovalState::Rejected);
    assert_eq!(
        (
            approval.decisions[0].by.as_str(),
            approval.decisions[0].note.as_deref()
        ),
        ("pr_lead", Some("wrong price"))
    );
    // Nothing waits any more.
    let outcome = reply(&author("@olena"), "chat_pr", Network::Telegram, "approve")().unwrap();
    assert!(
        matches!(outcome, ReplyOutcome::NothingWaiting { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_reply_to_no_notice_decides_the_one_thing_waiting() {
    let rig = notified().await;
    let outcome = decision_links::reply(
        &rig.desk,
        Reply {
            account: "chat_duty",
            network: Network::Matrix,
            author: &Author {
                id: "@duty:example.org".into(),
                handle: "@duty:example.org".into(),
                ..Author::default()
            },
            in_reply_to: None,
            text: "approve",
        },
        utc(7, 40),
    )
    .unwrap();
    assert!(
        matches!(outcome, ReplyOutcome::Decided { ref person, .. } if person == "duty"),
        "{outcome:?}"
    );
    let approval = rig.desk.store.approvals(false).unwrap().remove(0);
    assert_eq!(approval.state, ApprovalState::Approved);
    assert_eq!(approval.decisions[0].by, "duty");
}

/// A service with its server, a post waiting for vera's approval.
async fn served() -> (
    tempfile::TempDir,
    crier::engine::service::ServiceHandle,
    String,
    Desk,
) {
    let config = "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  demo: { network: console }\npeople:\n  vera: { notify: demo }\n  ed: { notify: demo, role: editor }\n";
    let launch = (Utc::now() + chrono::TimeDelta::hours(3)).format("%Y-%m-%d %H:%M");
    let campaign = format!(
        "kind: campaign\nname: news\nposts:\n  - id: launch\n    at: {launch}\n    to: demo\n    text: Launch day\n    approve: {{ by: [vera], ask: 24h }}\n"
    );
    let dir = crate::support::playbooks::folder(config, &[("news.yaml", &campaign)]);
    let mut service =
        crier::engine::service::Service::start(dir.path().to_path_buf(), Arc::new(|_| {}))
            .await
            .unwrap();
    let view = service.view();
    let plan = view.plan().unwrap();
    let bound = crier::server::start(&mut service, &plan.server, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let desk = Desk::new(plan, view.store());
    for _ in 0..600 {
        if !desk.store.approvals(true).unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (dir, service, format!("http://{bound}"), desk)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_page_decides_in_two_taps_and_refuses_what_it_must() {
    let (_dir, service, base, desk) = served().await;
    let approval = desk.store.approvals(true).unwrap().remove(0);
    // The server's own signer: the same stored key.
    let signer = Signer::open(desk.store.as_ref(), &base, Utc::now()).unwrap();
    let claim = |person: &str, expires: i64| decision_links::Claim {
        subject: decision_links::Subject::Approval {
            playbook: "news".into(),
            item: "launch".into(),
            fire_at: approval.fire_at,
        },
        person: person.into(),
        expires,
    };
    let vera = signer.url(&claim("vera", approval.deadline));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            (
                response.status().as_u16(),
                // The page escapes `/` in text as HTML allows.
                response.text().await.unwrap().replace("&#x2f;", "/"),
            )
        }
    };
    let post = |url: String, form: Vec<(&'static str, &'static str)>| {
        let client = client.clone();
        async move {
            let response = client.post(url).form(&form).send().await.unwrap();
            (
                response.status().as_u16(),
                // The page escapes `/` in text as HTML allows.
                response.text().await.unwrap().replace("&#x2f;", "/"),
            )
        }
    };
    let (status, page) = get(vera.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approve news/launch?"), "{page}");
    assert!(page.contains("Launch day"), "{page}");
    assert!(page.contains("Decide as vera"), "{page}");
    assert!(page.contains("name=\"choice\" value=\"approve\""), "{page}");
    // The dashboard's layout and stylesheet, sized for a phone, in English by default.
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("href=\"/assets/dashboard.css"), "{page}");
    assert!(page.contains("width=device-width"), "{page}");
    assert!(!page.contains("<style"), "{page}");

    let (status, page) = post(vera.clone(), vec![("choice", "reject")]).await;
    assert_eq!(status, 409, "{page}");
    assert!(
        page.contains("A rejection needs a note saying why."),
        "{page}"
    );
    // ed is no approver: a link made for him decides nothing.
    let ed = signer.url(&claim("ed", approval.deadline));
    let (status, page) = post(ed, vec![("choice", "approve")]).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("ed cannot decide on news/launch"), "{page}");
    // After its deadline, or damaged: refused.
    let late = signer.url(&claim("vera", crier::store::to_millis(Utc::now()) - 1));
    let (status, page) = post(late, vec![("choice", "approve")]).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("This link expired at"), "{page}");
    let (status, _) = get(format!("{base}/decide/not-a-link")).await;
    assert_eq!(status, 404);
    assert_eq!(
        desk.store.approvals(true).unwrap().len(),
        1,
        "nothing decided yet"
    );

    let (status, page) = post(vera.clone(), vec![("choice", "approve")]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Recorded: vera approved"), "{page}");
    let decided = desk.store.approval(approval.id).unwrap().unwrap();
    assert_eq!(decided.state, ApprovalState::Approved);
    assert_eq!(decided.decisions[0].by, "vera");
    // Opened again, it shows the outcome and no buttons.
    let (status, page) = get(vera).await;
    assert_eq!(status, 200);
    assert!(page.contains("approved"), "{page}");
    assert!(!page.contains("value=\"approve\""), "{page}");
    service.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_page_speaks_russian_and_keeps_its_guards() {
    let (_dir, service, base, desk) = served().await;
    let approval = desk.store.approvals(true).unwrap().remove(0);
    let signer = Signer::open(desk.store.as_ref(), &base, Utc::now()).unwrap();
    let claim = |expires: i64| decision_links::Claim {
        subject: decision_links::Subject::Approval {
            playbook: "news".into(),
            item: "launch".into(),
            fire_at: approval.fire_at,
        },
        person: "vera".into(),
        expires,
    };
    let vera = signer.url(&claim(approval.deadline));
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let russian = |request: reqwest::RequestBuilder, by_cookie: bool| async move {
        let request = if by_cookie {
            request.header("cookie", "crier_lang=ru")
        } else {
            request.header("accept-language", "ru-RU,ru;q=0.9,en;q=0.4")
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let page = response.text().await.unwrap().replace("&#x2f;", "/");
        (status, headers, page)
    };
    let english_left = |page: &str| {
        [
            "Approve",
            "Reject",
            "Decide",
            "Goes out",
            "Recorded",
            "This link",
            "rejection",
            "Times are",
        ]
        .into_iter()
        .filter(|word| page.contains(word))
        .collect::<Vec<_>>()
    };

    let (status, headers, page) = russian(client.get(&vera), false).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<html lang=\"ru\">"), "{page}");
    assert!(page.contains("Одобрить news/launch?"), "{page}");
    assert!(page.contains("Решение от имени vera"), "{page}");
    assert!(page.contains("Выходит") && page.contains("ждёт"), "{page}");
    assert!(
        page.contains("Launch day"),
        "the post's text is data: {page}"
    );
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");
    // The switch leads back to this same link.
    let path = vera.trim_start_matches(&base);
    assert!(
        page.contains(&format!(
            "/lang?to=en&amp;back={}",
            path.replace('/', "%2F")
        )),
        "{page}"
    );
    // Its guards: no cache, no referrer, no framing, styles and scripts from this server.
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("style-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");

    // Refusals in Russian: a damaged link, an expired one, a rejection without a note.
    let (status, _, page) = russian(client.get(format!("{base}/decide/not-a-link")), true).await;
    assert_eq!(status, 404);
    assert!(page.contains("Ссылка повреждена"), "{page}");
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");
    let late = signer.url(&claim(crier::store::to_millis(Utc::now()) - 1));
    let (status, _, page) = russian(client.post(late).form(&[("choice", "approve")]), true).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("Срок ссылки истёк"), "{page}");
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");
    let (status, _, page) = russian(client.post(&vera).form(&[("choice", "reject")]), true).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("Для отклонения нужен комментарий"), "{page}");
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");

    // One decision per link: recorded once, the second refused, in Russian both times.
    let (status, _, page) = russian(client.post(&vera).form(&[("choice", "approve")]), true).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Записано: vera одобрил(а)"), "{page}");
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");
    let (status, _, page) = russian(client.post(&vera).form(&[("choice", "approve")]), true).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("уже решено"), "{page}");
    assert_eq!(english_left(&page), Vec::<&str>::new(), "{page}");
    assert_eq!(
        desk.store
            .approval(approval.id)
            .unwrap()
            .unwrap()
            .decisions
            .len(),
        1
    );
    service.stop().await.unwrap();
}

/// `crier run` with a server: an approval the start's catch-up requests at once goes out
/// with a link to its page, which the server then opens.
#[test]
fn the_first_notices_after_a_start_carry_a_link_that_opens() {
    use std::io::{BufRead, Read, Write};
    use std::time::{Duration, Instant};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let at = (Utc::now() + chrono::TimeDelta::hours(3))
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let config = format!(
        "timezone: UTC\nstore: sqlite://crier.db\naccounts:\n  brand: {{ network: console }}\n  chat_pr: {{ network: console }}\npeople:\n  pr_lead: {{ notify: chat_pr }}\nserver:\n  listen: 127.0.0.1:{port}\n"
    );
    // Asked for four hours before a post three hours away: the start asks at once.
    let campaign = format!(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: \"{at}\"\n    to: brand\n    text: Warm jackets soon\n    approve: {{ by: [pr_lead], before: 1h, ask: 4h }}\n"
    );
    let dir = crate::support::playbooks::folder(&config, &[("sale.yaml", &campaign)]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.path().to_str().unwrap()])
        .env("CRIER_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut seen = Vec::new();
    let notice = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if line.contains("Approval needed") || line.contains("/decide/") => {
                break Some(line);
            }
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    // The notice may put the link on the line after its first.
    let notice = notice.map(|first| {
        if first.contains("/decide/") {
            return first;
        }
        let more = received
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_default();
        format!("{first}\n{more}")
    });
    let prefix = format!("http://127.0.0.1:{port}/decide/");
    let link = notice
        .as_deref()
        .and_then(|text| text.find(&prefix).map(|start| &text[start..]))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string());
    let Some(link) = link else {
        crate::support::service::stop(child);
        panic!("the first notice carries no link: {notice:?}; stdout before it: {seen:?}");
    };
    let path = link.trim_start_matches(&format!("http://127.0.0.1:{port}"));
    let answer = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            break answer;
        }
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(100));
    };
    crate::support::service::stop(child);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("teaser"), "{answer}");
}
