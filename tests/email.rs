//! The email connector against a fake SMTP server on 127.0.0.1: what it sends (parsed back
//! as a mail client would), every class of failure, signing in, health, the `smtp` URL
//! forms and the account checks made when connectors are built.

use std::collections::BTreeMap;
use std::time::Duration;

use crier::connectors::email::message::message_id;
use crier::connectors::email::{
    EmailConnector, Security, SignIn, SmtpServer, SmtpTimeouts, parse_mailbox,
};
use crier::connectors::http::{self, HttpOptions};
use crier::connectors::{Connector, Connectors, Lookup, OutgoingPost, Secret, SendError};
use crier::diagnostic::SourceFile;
use crier::playbook::plan::Account;
use crier::playbook::raw::{AccountConfig, Network};
use crier::playbook::yaml::{from_node, parse_documents};

use crate::support::fake_smtp::{FakeSmtp, Fault};

const FROM: &str = "Crier <crier@example.com>";
const TO: [&str; 2] = ["pr-lead@example.com", "Duty SMM <duty@example.com>"];

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost {
        idempotency_key: key.into(),
        text: text.into(),
        media: vec![],
        reply_to: None,
        playbook: "outage".into(),
        item: "escalate".into(),
        direct_to: None,
        notice: false,
    }
}

/// Short waits, so a silent server fails a test in well under a second.
fn timeouts() -> SmtpTimeouts {
    SmtpTimeouts {
        connect: Duration::from_secs(2),
        reply: Duration::from_millis(700),
    }
}

fn connector(url: &str, sign_in: Option<(&str, &str)>) -> EmailConnector {
    EmailConnector::new(
        "oncall_mail",
        SmtpServer::parse(url).unwrap(),
        parse_mailbox(FROM).unwrap(),
        TO.iter().map(|to| parse_mailbox(to).unwrap()).collect(),
        sign_in.map(|(username, password)| SignIn {
            username: username.into(),
            password: Secret::new(password),
        }),
        timeouts(),
    )
}

fn parse(data: &str) -> mailparse::ParsedMail<'_> {
    mailparse::parse_mail(data.as_bytes()).unwrap()
}

fn header(mail: &mailparse::ParsedMail<'_>, name: &str) -> String {
    use mailparse::MailHeaderMap;
    mail.headers
        .get_first_value(name)
        .unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn post_is_one_email_to_every_recipient() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let key = "run-7/step-2/oncall_mail";
    let text = "Сайт не працює: 502 на /checkout\nПеревірте, будь ласка.\n— crier";
    let delivered = email.post(&post(key, text)).await.unwrap();
    assert_eq!(
        delivered.remote_id,
        "<run-7/step-2/oncall_mail@crier.local>"
    );
    assert_eq!(delivered.url, None);

    let mails = fake.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "crier@example.com");
    assert_eq!(mail.rcpt_to, ["pr-lead@example.com", "duty@example.com"]);
    assert_eq!(mail.signed_in_as, None);
    let parsed = parse(&mail.data);
    assert_eq!(header(&parsed, "From"), FROM);
    assert_eq!(
        header(&parsed, "To"),
        "pr-lead@example.com, \"Duty SMM\" <duty@example.com>"
    );
    assert_eq!(
        header(&parsed, "Subject"),
        "Сайт не працює: 502 на /checkout"
    );
    assert_eq!(header(&parsed, "Message-ID"), delivered.remote_id);
    assert_eq!(header(&parsed, "X-Crier-Idempotency-Key"), key);
    assert_eq!(header(&parsed, "Auto-Submitted"), "auto-generated");
    assert!(header(&parsed, "Date").contains(':'));
    assert_eq!(parsed.ctype.mimetype, "text/plain");
    assert_eq!(parsed.ctype.charset, "utf-8");
    // Mail lines end in CRLF.
    assert_eq!(
        parsed.get_body().unwrap().trim_end(),
        text.replace('\n', "\r\n")
    );
    // One connection, closed politely.
    let verbs = fake.sessions()[0].verbs();
    assert_eq!(verbs, ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]);
}

#[tokio::test]
async fn subject_is_the_first_line_cut_or_the_playbook_and_item() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let long = format!("\n  {}", "Terminal alert ".repeat(10));
    email.post(&post("k1", &long)).await.unwrap();
    email.post(&post("k2", " \n ")).await.unwrap();
    let mails = fake.mails();
    let subject = header(&parse(&mails[0].data), "Subject");
    assert_eq!(subject.chars().count(), 78, "{subject}");
    assert!(subject.starts_with("Terminal alert Terminal"));
    assert!(subject.ends_with('…'));
    assert_eq!(
        header(&parse(&mails[1].data), "Subject"),
        "crier: outage/escalate"
    );
}

#[test]
fn message_ids_are_stable_valid_and_distinct() {
    assert_eq!(message_id("run-1/s-2/a"), "<run-1/s-2/a@crier.local>");
    assert_eq!(message_id("run-1/s-2/a"), message_id("run-1/s-2/a"));
    // Characters a Message-ID cannot hold are escaped, and escaping cannot collide.
    assert_eq!(message_id("a b"), "<a=20b@crier.local>");
    assert_eq!(message_id("a=20b"), "<a=3D20b@crier.local>");
    assert_eq!(message_id(".a..b."), "<=2Ea.=2Eb=2E@crier.local>");
    assert_eq!(message_id("ключ"), "<=D0=BA=D0=BB=D1=8E=D1=87@crier.local>");
    assert_eq!(message_id("<x>@y"), "<=3Cx=3E=40y@crier.local>");
    let long_a = message_id(&format!("{}a", "k".repeat(500)));
    let long_b = message_id(&format!("{}b", "k".repeat(500)));
    assert_ne!(long_a, long_b);
    assert!(long_a.len() < 200, "{long_a}");
}

#[tokio::test]
async fn images_are_attachments() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("status.png");
    let jpg = dir.path().join("graph.JPG");
    let png_bytes: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    std::fs::write(&png, &png_bytes).unwrap();
    std::fs::write(&jpg, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let mut outgoing = post("k-img", "See the graphs");
    outgoing.media = vec![png, jpg];
    email.post(&outgoing).await.unwrap();

    let mails = fake.mails();
    let parsed = parse(&mails[0].data);
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    assert_eq!(parsed.subparts.len(), 3);
    assert_eq!(parsed.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(
        parsed.subparts[0].get_body().unwrap().trim_end(),
        "See the graphs"
    );
    let attachments: Vec<(String, String, Vec<u8>)> = parsed.subparts[1..]
        .iter()
        .map(|part| {
            let disposition = part.get_content_disposition();
            assert_eq!(
                disposition.disposition,
                mailparse::DispositionType::Attachment
            );
            (
                disposition.params["filename"].clone(),
                part.ctype.mimetype.clone(),
                part.get_body_raw().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attachments,
        [
            ("status.png".into(), "image/png".into(), png_bytes),
            (
                "graph.JPG".into(),
                "image/jpeg".into(),
                b"\xff\xd8\xff\xe0 not really a jpeg".to_vec()
            ),
        ]
    );
}

#[tokio::test]
async fn an_unreadable_image_sends_nothing() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let mut outgoing = post("k", "hi");
    outgoing.media = vec!["/nonexistent/crier/chart.png".into()];
    let err = email.post(&outgoing).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason }
            if reason.starts_with("cannot read the image `/nonexistent/crier/chart.png`")),
        "{err:?}"
    );
    assert!(fake.sessions().is_empty());
}

#[tokio::test]
async fn a_reply_threads_under_the_message_it_answers() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let first = email.post(&post("run-1/a", "Approve?")).await.unwrap();
    let mut reply = post("run-1/b", "Approved by Olena");
    reply.reply_to = Some(first.remote_id.clone());
    email.post(&reply).await.unwrap();
    // An id given without angle brackets is the same id.
    let mut bare = post("run-1/c", "Posted");
    bare.reply_to = Some("run-1/a@crier.local".into());
    email.post(&bare).await.unwrap();

    let mails = fake.mails();
    for mail in &mails[1..] {
        let parsed = parse(&mail.data);
        assert_eq!(header(&parsed, "In-Reply-To"), "<run-1/a@crier.local>");
        assert_eq!(header(&parsed, "References"), "<run-1/a@crier.local>");
    }
    use mailparse::MailHeaderMap;
    assert!(
        parse(&mails[0].data)
            .headers
            .get_first_value("In-Reply-To")
            .is_none()
    );

    let mut broken = post("run-1/d", "?");
    broken.reply_to = Some("not an id".into());
    let err = email.post(&broken).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "`not an id` is not the Message-ID of an email to reply to".into()
        }
    );
    assert_eq!(fake.mails().len(), 3);
}

#[tokio::test]
async fn a_direct_message_goes_to_that_one_address() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    let delivered = email
        .direct_message("Olena <olena@example.org>", &post("dm-1", "You won!"))
        .await
        .unwrap();
    assert_eq!(delivered.remote_id, "<dm-1@crier.local>");
    let mails = fake.mails();
    assert_eq!(mails[0].rcpt_to, ["olena@example.org"]);
    assert_eq!(
        header(&parse(&mails[0].data), "To"),
        "Olena <olena@example.org>"
    );

    let err = email
        .direct_message("olena@", &post("dm-2", "You won!"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "`olena@` is not an email address: the part after the @ is not a valid domain"
                .into()
        }
    );
    assert_eq!(fake.mails().len(), 1);
    assert_eq!(fake.sessions().len(), 1);
}

async fn send_with(fault: Fault) -> (SendError, FakeSmtp) {
    let fake = FakeSmtp::start();
    fake.push_fault(fault);
    let err = connector(&fake.url(), None)
        .post(&post("k", "hi"))
        .await
        .unwrap_err();
    (err, fake)
}

#[tokio::test]
async fn four_hundreds_are_transient_and_keep_nothing() {
    let cases = [
        (
            Fault::Greeting {
                code: 421,
                text: "4.3.2 Service not available, closing channel".into(),
            },
            "the SMTP server refused the connection for now: 421 4.3.2 Service not available, closing channel",
        ),
        (
            Fault::RejectRecipient {
                code: 450,
                text: "4.2.0 Mailbox busy".into(),
            },
            "the SMTP server refused the recipient `pr-lead@example.com` for now: 450 4.2.0 Mailbox busy",
        ),
        (
            Fault::RejectRecipient {
                code: 451,
                text: "4.7.1 Greylisted, try again in 5 minutes".into(),
            },
            "the SMTP server refused the recipient `pr-lead@example.com` for now: 451 4.7.1 Greylisted, try again in 5 minutes",
        ),
        (
            Fault::RejectRecipient {
                code: 452,
                text: "4.5.3 Too many recipients".into(),
            },
            "the SMTP server refused the recipient `pr-lead@example.com` for now: 452 4.5.3 Too many recipients",
        ),
        (
            Fault::RejectMessage {
                code: 451,
                text: "4.3.0 Local error in processing".into(),
            },
            "the SMTP server refused the email for now: 451 4.3.0 Local error in processing",
        ),
    ];
    for (fault, reason) in cases {
        let (err, fake) = send_with(fault.clone()).await;
        assert_eq!(
            err,
            SendError::Transient {
                reason: reason.into()
            },
            "{fault:?}"
        );
        assert!(fake.mails().is_empty(), "{fault:?}");
    }
}

#[tokio::test]
async fn five_hundreds_are_permanent_with_the_servers_words() {
    let cases = [
        (
            Fault::RejectRecipient {
                code: 550,
                text:
                    "5.1.1 <pr-lead@example.com>: Recipient address rejected: Mailbox unavailable"
                        .into(),
            },
            "the SMTP server refused the recipient `pr-lead@example.com`: 550 5.1.1 <pr-lead@example.com>: Recipient address rejected: Mailbox unavailable",
        ),
        (
            Fault::RejectRecipient {
                code: 553,
                text: "5.7.1 Relaying denied".into(),
            },
            "the SMTP server refused the recipient `pr-lead@example.com`: 553 5.7.1 Relaying denied",
        ),
        (
            Fault::RejectMessage {
                code: 554,
                text: "5.7.1 Message rejected as spam".into(),
            },
            "the SMTP server refused the email: 554 5.7.1 Message rejected as spam",
        ),
    ];
    for (fault, reason) in cases {
        let (err, fake) = send_with(fault.clone()).await;
        assert_eq!(
            err,
            SendError::Permanent {
                reason: reason.into()
            },
            "{fault:?}"
        );
        assert!(fake.mails().is_empty(), "{fault:?}");
        // It says goodbye rather than leaving the server hanging.
        assert_eq!(fake.sessions()[0].verbs().last().unwrap(), "QUIT");
    }
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let email = connector(&format!("smtp://127.0.0.1:{port}"), None);
    let err = email.post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Transient { reason }
            if reason.starts_with(&format!("could not connect to the SMTP server at 127.0.0.1:{port}"))),
        "{err:?}"
    );
    assert!(matches!(
        email.health().await,
        Err(SendError::Transient { .. })
    ));
}

#[tokio::test]
async fn a_drop_before_data_is_transient() {
    let (err, fake) = send_with(Fault::DropAtRecipient).await;
    assert!(
        matches!(&err, SendError::Transient { reason }
            if reason.starts_with("the connection to the SMTP server at 127.0.0.1:")),
        "{err:?}"
    );
    assert!(fake.mails().is_empty());
}

#[tokio::test]
async fn a_silent_server_before_data_is_transient_and_bounded() {
    // The server would greet after a minute; the reply timeout (700 ms) ends the wait first.
    let (err, fake) = send_with(Fault::SlowGreeting(Duration::from_secs(60))).await;
    assert!(
        matches!(&err, SendError::Transient { reason } if reason.ends_with("did not answer in time")),
        "{err:?}"
    );
    let session = fake
        .hung_up_session(Duration::from_secs(20))
        .expect("crier hung up while the server was still silent");
    assert!(session.verbs().is_empty(), "{:?}", session.commands);
    assert!(fake.mails().is_empty());
}

#[tokio::test]
async fn a_drop_after_data_is_outcome_unknown_and_a_resend_carries_the_same_message_id() {
    let fake = FakeSmtp::start();
    fake.push_fault(Fault::DropAfterData);
    let email = connector(&fake.url(), None);
    let outgoing = post("run-9/step-1/oncall_mail", "Crisis level 2");
    let err = email.post(&outgoing).await.unwrap_err();
    assert!(
        matches!(&err, SendError::OutcomeUnknown { reason }
            if reason.contains("broke after the email was sent")),
        "{err:?}"
    );
    // The server did keep it, and SMTP cannot be asked.
    assert_eq!(fake.mails().len(), 1);
    assert_eq!(email.lookup(&outgoing).await.unwrap(), Lookup::Unsupported);
    // A resend may duplicate, as documented: the copy has the same Message-ID.
    email.post(&outgoing).await.unwrap();
    let ids: Vec<String> = fake
        .mails()
        .iter()
        .map(|mail| header(&parse(&mail.data), "Message-ID"))
        .collect();
    assert_eq!(ids, ["<run-9/step-1/oncall_mail@crier.local>"; 2]);
}

#[tokio::test]
async fn a_silent_server_after_data_is_outcome_unknown_and_bounded() {
    // The server would confirm after a minute; the reply timeout (700 ms) ends the wait.
    let (err, fake) = send_with(Fault::SlowAfterData(Duration::from_secs(60))).await;
    assert!(
        matches!(&err, SendError::OutcomeUnknown { reason }
            if reason.ends_with("did not confirm the email in time")),
        "{err:?}"
    );
    // One reply timeout, then crier hangs up: no QUIT that would wait on the silent server
    // a second time.
    let session = fake
        .hung_up_session(Duration::from_secs(20))
        .expect("crier hung up while the server was still silent");
    assert_eq!(session.verbs(), ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"]);
    assert_eq!(fake.mails().len(), 1);
}

#[tokio::test]
async fn tls_to_a_server_that_does_not_speak_it_is_permanent() {
    let fake = FakeSmtp::start();
    let email = connector(&format!("smtps://{}", fake.addr()), Some(("crier", "pw")));
    let err = email.post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason }
            if reason.starts_with(&format!("TLS with the SMTP server at {} failed", fake.addr()))
                && reason.ends_with("if the server expects STARTTLS, use `smtp://` (port 587)")),
        "{err:?}"
    );
    // The password never left: the handshake failed first.
    assert!(fake.sessions().iter().all(|s| s.sign_ins.is_empty()));
    assert!(fake.mails().is_empty());
}

#[tokio::test]
async fn an_address_beyond_ascii_asks_for_smtputf8() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), None);
    email
        .direct_message("олена@приклад.укр", &post("dm-utf8", "Привіт"))
        .await
        .unwrap();
    let mails = fake.mails();
    assert_eq!(mails[0].rcpt_to, ["олена@приклад.укр"]);
    assert!(
        mails[0].mail_parameters.contains("SMTPUTF8"),
        "{:?}",
        mails[0]
    );
}

#[tokio::test]
async fn long_server_replies_are_cut() {
    let (err, _fake) = send_with(Fault::RejectMessage {
        code: 554,
        text: "x".repeat(480),
    })
    .await;
    let reason = err.reason();
    assert!(reason.ends_with('…'), "{reason}");
    assert!(reason.chars().count() < 400, "{reason}");
}

#[tokio::test]
async fn signs_in_with_plain_or_login() {
    for mechanism in ["PLAIN", "LOGIN"] {
        let fake = FakeSmtp::with_auth("crier@example.com", "pä55 word", &[mechanism]);
        let email = connector(&fake.url(), Some(("crier@example.com", "pä55 word")));
        email.post(&post("k", "hi")).await.unwrap();
        let mails = fake.mails();
        assert_eq!(
            mails[0].signed_in_as.as_deref(),
            Some("crier@example.com"),
            "{mechanism}"
        );
        let session = &fake.sessions()[0];
        assert_eq!(session.sign_ins, [("crier@example.com".to_string(), true)]);
        assert!(
            session.commands[1]
                .to_ascii_uppercase()
                .starts_with(&format!("AUTH {mechanism}")),
            "{:?}",
            session.commands
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_permanent_and_never_shown() {
    const PASSWORD: &str = "hunter2-9f8e7d6c";
    let fake = FakeSmtp::with_auth("crier@example.com", "the-right-one", &["PLAIN", "LOGIN"]);
    let email = connector(&fake.url(), Some(("crier@example.com", PASSWORD)));
    let err = email.post(&post("k", "hi")).await.unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the SMTP server refused the user name or password (535 5.7.8 Authentication credentials invalid)".into()
        }
    );
    assert!(fake.mails().is_empty());
    let health = email.health().await.unwrap_err();
    assert_eq!(health, err);
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{health:?}"),
        format!("{email:?}"),
    ] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test]
async fn a_server_that_wants_a_sign_in_refuses_the_sender() {
    let fake = FakeSmtp::with_auth("crier@example.com", "pw", &["PLAIN"]);
    let err = connector(&fake.url(), None)
        .post(&post("k", "hi"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Permanent {
            reason: "the SMTP server refused the sender address: 530 5.7.0 Authentication required"
                .into()
        }
    );
}

#[tokio::test]
async fn a_server_without_sign_in_is_refused_before_the_password_is_sent() {
    let fake = FakeSmtp::start();
    let email = connector(&fake.url(), Some(("crier@example.com", "pw")));
    let err = email.post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason }
            if reason.contains("offers no way to sign in that crier knows (PLAIN or LOGIN); most servers only offer it over TLS")),
        "{err:?}"
    );
    assert_eq!(fake.sessions()[0].verbs(), ["EHLO", "QUIT"]);
}

#[tokio::test]
async fn required_starttls_that_is_not_offered_sends_nothing() {
    let fake = FakeSmtp::start();
    let url = format!("smtp://{}?tls=starttls", fake.addr());
    let email = connector(&url, Some(("crier@example.com", "pw")));
    let err = email.post(&post("k", "hi")).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent { reason }
            if reason.contains("does not offer STARTTLS, which this account requires")),
        "{err:?}"
    );
    assert_eq!(fake.sessions()[0].verbs(), ["EHLO", "QUIT"]);
    assert!(matches!(
        email.health().await,
        Err(SendError::Permanent { .. })
    ));
}

#[tokio::test]
async fn health_signs_in_and_quits_without_sending() {
    let fake = FakeSmtp::with_auth("crier@example.com", "pw", &["LOGIN"]);
    let email = connector(&fake.url(), Some(("crier@example.com", "pw")));
    email.health().await.unwrap();
    let sessions = fake.sessions();
    assert_eq!(sessions[0].verbs(), ["EHLO", "AUTH", "NOOP", "QUIT"]);
    assert_eq!(
        sessions[0].sign_ins,
        [("crier@example.com".to_string(), true)]
    );
    assert!(fake.mails().is_empty());

    fake.push_fault(Fault::Greeting {
        code: 554,
        text: "5.3.2 No SMTP service here".into(),
    });
    assert_eq!(
        email.health().await,
        Err(SendError::Permanent {
            reason: "the SMTP server refused the connection: 554 5.3.2 No SMTP service here".into()
        })
    );
}

#[test]
fn smtp_urls_say_how_the_connection_is_secured() {
    let parsed = |url: &str| {
        let server = SmtpServer::parse(url).unwrap();
        (server.host, server.port, server.security)
    };
    let host = |h: &str| h.to_string();
    assert_eq!(
        parsed("smtps://smtp.example.com"),
        (host("smtp.example.com"), 465, Security::ImplicitTls)
    );
    assert_eq!(
        parsed("smtp://smtp.example.com"),
        (host("smtp.example.com"), 587, Security::StartTls)
    );
    assert_eq!(
        parsed("smtp://smtp.example.com:2587?tls=starttls"),
        (host("smtp.example.com"), 2587, Security::StartTls)
    );
    assert_eq!(
        parsed("smtp://localhost:2525"),
        (host("localhost"), 2525, Security::Plain)
    );
    assert_eq!(
        parsed("smtp://127.0.0.1"),
        (host("127.0.0.1"), 25, Security::Plain)
    );
    assert_eq!(
        parsed("smtp://[::1]:1025"),
        (host("::1"), 1025, Security::Plain)
    );
    assert_eq!(
        parsed("smtp://localhost?tls=starttls"),
        (host("localhost"), 587, Security::StartTls)
    );
    assert_eq!(
        parsed("smtp://mailpit.internal:1025?tls=none"),
        (host("mailpit.internal"), 1025, Security::Plain)
    );

    let refused = |url: &str| SmtpServer::parse(url).unwrap_err();
    assert_eq!(
        refused("https://smtp.example.com"),
        "the scheme is `https`; use `smtp://` or `smtps://`"
    );
    assert_eq!(
        refused("smtp://me:secret@smtp.example.com"),
        "the URL carries a user name or password; put them in the account's `username` and `password` fields instead"
    );
    assert_eq!(
        refused("smtp://smtp.example.com?tls=maybe"),
        "`tls=maybe` is not a choice; use `tls=starttls` or `tls=none`"
    );
    assert_eq!(
        refused("smtps://smtp.example.com?tls=none"),
        "`smtps://` is always TLS; drop `?tls=`, or use `smtp://` with `?tls=starttls`"
    );
    assert_eq!(
        refused("smtp://smtp.example.com?timeout=5"),
        "unknown setting `timeout`; the only one is `tls` (`starttls` or `none`)"
    );
    assert_eq!(
        refused("smtp://smtp.example.com/inbox"),
        "an SMTP URL is only `smtp://host:port` (and `?tls=`)"
    );
}

/// Accounts as `crier.yaml` would declare them (a YAML map of name → fields), read through
/// crier's own YAML reader.
fn accounts(yaml: &str) -> BTreeMap<String, Account> {
    let (documents, diagnostics) =
        parse_documents(&SourceFile::new("crier.yaml", yaml.to_owned()), 0);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let configs: BTreeMap<String, AccountConfig> = from_node(&documents[0]).unwrap();
    configs
        .into_iter()
        .map(|(name, config)| {
            let network = config.network.value;
            (
                name.clone(),
                Account {
                    name,
                    network,
                    config,
                },
            )
        })
        .collect()
}

fn client() -> reqwest::Client {
    http::client(&HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_millis(700),
    })
    .unwrap()
}

fn build_errors(yaml: &str) -> Vec<String> {
    Connectors::build(&accounts(yaml), &client())
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn the_registry_builds_email_accounts_from_crier_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("smtp-password");
    std::fs::write(&password_file, "s3cret-pw\n").unwrap();
    let fake = FakeSmtp::with_auth("crier", "s3cret-pw", &["PLAIN"]);
    let yaml = format!(
        "oncall_mail:\n  network: email\n  smtp: '{}'\n  from: '{FROM}'\n  to: [pr-lead@example.com, 'Duty <duty@example.com>']\n  username: crier\n  password: 'file:{}'\n\
         one_person:\n  network: email\n  smtp: smtps://smtp.example.com\n  from: crier@example.com\n  to: olena@example.org\n",
        fake.url(),
        password_file.display()
    );
    let connectors = Connectors::build(&accounts(&yaml), &client()).unwrap();
    let oncall = connectors.get("oncall_mail").unwrap();
    assert_eq!(oncall.network(), Network::Email);
    let caps = oncall.capabilities();
    assert!(caps.post && caps.reply && caps.media && caps.direct_message);
    assert!(!caps.lookup && !caps.delete && !caps.read_mentions && !caps.metrics);
    assert!(!caps.idempotency_key);
    assert!(!format!("{connectors:?}").contains("s3cret-pw"));
    // Through the registry the default timeouts apply; the fake answers at once.
    oncall.post(&post("k", "hi")).await.unwrap();
    let mails = fake.mails();
    assert_eq!(
        mails[0].rcpt_to,
        ["pr-lead@example.com", "duty@example.com"]
    );
    assert_eq!(mails[0].signed_in_as.as_deref(), Some("crier"));
    assert!(connectors.get("one_person").is_some());
}

#[test]
fn bad_email_accounts_are_refused_when_connectors_are_built() {
    let cases = [
        (
            "m:\n  network: email\n  smtp: smtp://localhost\n  from: crier@example.com\n  to: []\n",
            "account `m`: a `email` account needs `to`",
        ),
        (
            "m:\n  network: email\n  smtp: smtp://localhost\n  from: crier@example.com\n",
            "account `m`: a `email` account needs `to`",
        ),
        (
            "m:\n  network: email\n  smtp: smtp://localhost\n  to: a@example.com\n",
            "account `m`: a `email` account needs `from`",
        ),
        (
            "m:\n  network: email\n  from: crier@example.com\n  to: a@example.com\n",
            "account `m`: a `email` account needs `smtp`",
        ),
        (
            "m:\n  network: email\n  smtp: smtp://localhost\n  from: crier@example.com\n  to: [a@example.com, 'bob at example.com']\n",
            "account `m`: `to` is not valid: `bob at example.com` is not an email address: it needs a name, an @ and a domain",
        ),
        (
            "m:\n  network: email\n  smtp: smtp://localhost\n  from: 'Crier <crier@example.com'\n  to: a@example.com\n",
            "account `m`: `from` is not valid: `Crier <crier@example.com` is not an email address: an angle bracket is not closed",
        ),
        (
            "m:\n  network: email\n  smtp: 'http://mail.example.com'\n  from: crier@example.com\n  to: a@example.com\n",
            "account `m`: `smtp` is not valid: the scheme is `http`; use `smtp://` or `smtps://`",
        ),
        (
            "m:\n  network: email\n  smtp: smtps://smtp.example.com\n  from: crier@example.com\n  to: a@example.com\n  username: crier\n",
            "account `m`: a `email` account needs `password`",
        ),
    ];
    for (yaml, message) in cases {
        assert_eq!(build_errors(yaml), [message], "{yaml}");
    }
    // A password with no user name to go with it.
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, "pw").unwrap();
    let yaml = format!(
        "m:\n  network: email\n  smtp: smtps://smtp.example.com\n  from: crier@example.com\n  to: a@example.com\n  password: 'file:{}'\n",
        password_file.display()
    );
    assert_eq!(
        build_errors(&yaml),
        ["account `m`: a `email` account needs `username`"]
    );
}
