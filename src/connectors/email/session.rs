//! One SMTP conversation, step by step, so every failure is classified by how far it got:
//! until the end of the message (`<CRLF>.<CRLF>`) has been written the server cannot have
//! accepted the email, so a broken connection or a silent server is `Transient`; after it,
//! the server may have queued the email before the connection broke, so the outcome is
//! unknown. Replies are classified by their code: 4xx is `Transient`, 5xx `Permanent`
//! (with the server's own words).
//!
//! lettre speaks the protocol ([`AsyncSmtpConnection`]); this module decides the order of
//! the commands and bounds every wait.

use std::future::Future;
use std::io;
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Noop, Quit, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::server::{Security, SmtpServer};
use crate::connectors::SendError;

/// The longest part of a server's reply quoted in an error.
const MAX_REPLY_CHARS: usize = 300;

/// How long to wait for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmtpTimeouts {
    /// Opening the TCP connection. 10 s by default.
    pub connect: Duration,
    /// Each reply of the server (the greeting, each command, the end of the message).
    /// 60 s by default: servers check the whole message before answering its end.
    pub reply: Duration,
}

impl Default for SmtpTimeouts {
    fn default() -> Self {
        SmtpTimeouts {
            connect: Duration::from_secs(10),
            reply: Duration::from_secs(60),
        }
    }
}

/// What is being done when a step fails, for the error's wording and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step<'a> {
    Connect,
    StartTls,
    SignIn,
    Sender,
    Recipient(&'a str),
    Data,
    /// Writing the message and waiting for its reply: from here the outcome can be unknown.
    Message,
    Noop,
}

impl Step<'_> {
    fn refused(&self) -> String {
        match self {
            Step::Connect => "the SMTP server refused the connection".into(),
            Step::StartTls => "the SMTP server refused STARTTLS".into(),
            Step::SignIn => "the SMTP server refused to sign in".into(),
            Step::Sender => "the SMTP server refused the sender address".into(),
            Step::Recipient(address) => {
                format!("the SMTP server refused the recipient `{address}`")
            }
            Step::Data | Step::Message => "the SMTP server refused the email".into(),
            Step::Noop => "the SMTP server refused a NOOP".into(),
        }
    }
}

/// A failed step, and whether the server had gone silent.
struct Failed {
    error: SendError,
    silent: bool,
}

impl From<SendError> for Failed {
    fn from(error: SendError) -> Self {
        Failed {
            error,
            silent: false,
        }
    }
}

/// Where and how to connect, and who to sign in as.
pub struct Session<'a> {
    pub server: &'a SmtpServer,
    pub credentials: Option<Credentials>,
    pub timeouts: SmtpTimeouts,
}

impl Session<'_> {
    /// Sends `email` (formatted) from `from` to `to`; `Ok` once the server accepted it.
    pub async fn deliver(
        &self,
        from: Option<&Address>,
        to: &[Address],
        email: &[u8],
    ) -> Result<(), SendError> {
        let mut conn = self.open().await?;
        match self.transfer(&mut conn, from, to, email).await {
            Ok(()) => {
                // Accepted: a failed QUIT changes nothing.
                let _ = tokio::time::timeout(self.timeouts.reply, conn.command(Quit)).await;
                Ok(())
            }
            Err(failed) => Err(self.give_up(conn, failed).await),
        }
    }

    /// Connects, says EHLO, secures and signs in as for a send, then NOOP and QUIT.
    pub async fn check(&self) -> Result<(), SendError> {
        let mut conn = self.open().await?;
        let noop = self.step(Step::Noop, conn.command(Noop)).await;
        match noop {
            Ok(_) => {
                let _ = tokio::time::timeout(self.timeouts.reply, conn.command(Quit)).await;
                Ok(())
            }
            Err(failed) => Err(self.give_up(conn, failed).await),
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, SendError> {
        let server = self.server;
        let hello = ClientId::default();
        let implicit_tls = match server.security {
            Security::ImplicitTls => Some(self.tls_parameters()?),
            _ => None,
        };
        // The connect timeout bounds the TCP connection; the reply timeout the greeting,
        // the EHLO and (for smtps) the TLS handshake.
        let connect = AsyncSmtpConnection::connect_tokio1(
            (server.host.as_str(), server.port),
            Some(self.timeouts.connect),
            &hello,
            implicit_tls,
            None,
        );
        let bound = self.timeouts.connect + self.timeouts.reply;
        let mut conn = match tokio::time::timeout(bound, connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(err)) => return Err(classify(&err, Step::Connect, server)),
            Err(_) => {
                return Err(SendError::Transient {
                    reason: format!("the SMTP server at {server} did not answer in time"),
                });
            }
        };
        if server.security == Security::StartTls {
            if !conn.can_starttls() {
                self.close(conn).await;
                return Err(SendError::Permanent {
                    reason: format!(
                        "the SMTP server at {server} does not offer STARTTLS, which this account \
                         requires; use `smtps://` if it speaks TLS from the start, or `?tls=none` \
                         only for a server on a trusted network"
                    ),
                });
            }
            let parameters = self.tls_parameters()?;
            if let Err(failed) = self
                .step(Step::StartTls, conn.starttls(parameters, &hello))
                .await
            {
                return Err(self.give_up(conn, failed).await);
            }
        }
        if let Some(credentials) = &self.credentials {
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            if conn.server_info().get_auth_mechanism(&mechanisms).is_none() {
                self.close(conn).await;
                let hint = if conn_is_plain(server) {
                    "; most servers only offer it over TLS (`smtps://` or STARTTLS)"
                } else {
                    ""
                };
                return Err(SendError::Permanent {
                    reason: format!(
                        "the SMTP server at {server} offers no way to sign in that crier knows \
                         (PLAIN or LOGIN){hint}"
                    ),
                });
            }
            if let Err(failed) = self
                .step(Step::SignIn, conn.auth(&mechanisms, credentials))
                .await
            {
                return Err(self.give_up(conn, failed).await);
            }
        }
        Ok(conn)
    }

    async fn transfer(
        &self,
        conn: &mut AsyncSmtpConnection,
        from: Option<&Address>,
        to: &[Address],
        email: &[u8],
    ) -> Result<(), Failed> {
        let mut parameters = Vec::new();
        let international = from
            .into_iter()
            .chain(to)
            .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
        if international {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(Failed::from(SendError::Permanent {
                    reason: "the SMTP server cannot send to or from addresses with non-ASCII \
                             characters (no SMTPUTF8)"
                        .into(),
                }));
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !email.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(Failed::from(SendError::Permanent {
                    reason: "the SMTP server cannot take 8-bit text (no 8BITMIME)".into(),
                }));
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        self.step(
            Step::Sender,
            conn.command(Mail::new(from.cloned(), parameters)),
        )
        .await?;
        for address in to {
            self.step(
                Step::Recipient(AsRef::<str>::as_ref(address)),
                conn.command(Rcpt::new(address.clone(), vec![])),
            )
            .await?;
        }
        self.step(Step::Data, conn.command(Data)).await?;
        self.step(Step::Message, conn.message(email)).await?;
        Ok(())
    }

    /// Runs one step within the reply timeout, classifying its failure.
    async fn step<T>(
        &self,
        step: Step<'_>,
        action: impl Future<Output = Result<T, SmtpError>>,
    ) -> Result<T, Failed> {
        let server = self.server;
        let error = match tokio::time::timeout(self.timeouts.reply, action).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(err)) => return Err(classify(&err, step, server).into()),
            Err(_) if step == Step::Message => SendError::OutcomeUnknown {
                reason: format!("the SMTP server at {server} did not confirm the email in time"),
            },
            Err(_) => SendError::Transient {
                reason: format!("the SMTP server at {server} did not answer in time"),
            },
        };
        Err(Failed {
            error,
            silent: true,
        })
    }

    /// Ends the conversation after `failed`: QUIT unless the server went silent (that would
    /// only wait again), then drop the connection.
    async fn give_up(&self, conn: AsyncSmtpConnection, failed: Failed) -> SendError {
        if !failed.silent {
            self.close(conn).await;
        }
        failed.error
    }

    /// Says QUIT if the server still listens, then drops the connection; bounded.
    async fn close(&self, mut conn: AsyncSmtpConnection) {
        let _ = tokio::time::timeout(self.timeouts.reply, conn.abort()).await;
    }

    fn tls_parameters(&self) -> Result<TlsParameters, SendError> {
        TlsParameters::new(self.server.host.clone()).map_err(|err| SendError::Permanent {
            reason: format!(
                "cannot set up TLS for {}: {}",
                self.server,
                error_chain(&err)
            ),
        })
    }
}

fn conn_is_plain(server: &SmtpServer) -> bool {
    server.security == Security::Plain
}

/// A failed step as a `SendError`.
fn classify(err: &SmtpError, step: Step<'_>, server: &SmtpServer) -> SendError {
    if let Some(code) = err.status() {
        let code = u16::from(code);
        let text = reply_text(err)
            .map(|text| format!("{code} {text}"))
            .unwrap_or_else(|| code.to_string());
        if step == Step::SignIn && code == 535 {
            return SendError::Permanent {
                reason: format!("the SMTP server refused the user name or password ({text})"),
            };
        }
        let refused = step.refused();
        return if (400..500).contains(&code) {
            SendError::Transient {
                reason: format!("{refused} for now: {text}"),
            }
        } else {
            SendError::Permanent {
                reason: format!("{refused}: {text}"),
            }
        };
    }
    let handshake =
        matches!(step, Step::Connect | Step::StartTls) && server.security != Security::Plain;
    if err.is_tls() || (handshake && io_kind(err) == Some(io::ErrorKind::InvalidData)) {
        let hint = if server.security == Security::ImplicitTls {
            "; if the server expects STARTTLS, use `smtp://` (port 587)"
        } else {
            ""
        };
        let reason = format!(
            "TLS with the SMTP server at {server} failed: {}{hint}",
            root_cause(err)
        );
        // A certificate or protocol problem will not go away by itself; a broken
        // connection during the handshake may.
        return if io_kind(err) == Some(io::ErrorKind::InvalidData) {
            SendError::Permanent { reason }
        } else {
            SendError::Transient { reason }
        };
    }
    if err.is_client() {
        return SendError::Permanent {
            reason: format!("{}: {}", step.refused(), error_chain(err)),
        };
    }
    if step == Step::Message {
        return SendError::OutcomeUnknown {
            reason: format!(
                "the connection to the SMTP server at {server} broke after the email was sent: {}",
                error_chain(err)
            ),
        };
    }
    if step == Step::Connect {
        return SendError::Transient {
            reason: format!(
                "could not connect to the SMTP server at {server}: {}",
                error_chain(err)
            ),
        };
    }
    SendError::Transient {
        reason: format!(
            "the connection to the SMTP server at {server} broke: {}",
            error_chain(err)
        ),
    }
}

/// The server's own words, for an error made from a reply.
fn reply_text(err: &SmtpError) -> Option<String> {
    use std::error::Error as _;
    let text = err.source()?.to_string();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(MAX_REPLY_CHARS) {
        Some((end, _)) => Some(format!("{}…", &text[..end])),
        None => (!text.is_empty()).then_some(text),
    }
}

fn io_kind(err: &SmtpError) -> Option<io::ErrorKind> {
    use std::error::Error as _;
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

/// The innermost cause: for TLS, the one that says what was wrong.
fn root_cause(err: &SmtpError) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The causes of an error without lettre's kind prefix ("network error: …").
fn error_chain(err: &SmtpError) -> String {
    use std::error::Error as _;
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        err.to_string()
    } else {
        parts.join(": ")
    }
}
