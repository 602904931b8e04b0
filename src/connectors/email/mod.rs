//! The `email` network: notifications to people (approvals, crisis escalations) over SMTP,
//! not public posts.
//!
//! A post is one email to the account's `to` list; a direct message is one email to the one
//! address given. The subject is the text's first non-blank line (cut to 78 characters), or
//! `crier: PLAYBOOK/ITEM` when the text is blank; the body is the whole text as
//! `text/plain; charset=utf-8`; images are attachments. Every email carries
//! `Message-ID: <KEY@crier.local>` made from the idempotency key (see
//! [`message::message_id`]), `X-Crier-Idempotency-Key: KEY` and
//! `Auto-Submitted: auto-generated`; a reply carries `In-Reply-To` and `References` with
//! the Message-ID it answers. The Message-ID is the email's remote id. There is no text
//! limit: email has none that matters here.
//!
//! Set up in `crier.yaml`:
//!
//! ```yaml
//! accounts:
//!   oncall_mail:
//!     network: email
//!     smtp: smtps://smtp.example.com          # see `server` for the URL forms
//!     from: "Crier <crier@example.com>"
//!     to: [pr-lead@example.com, duty@example.com]   # or one address
//!     username: crier@example.com              # optional; then `password` is needed
//!     password: env:SMTP_PASSWORD
//! ```
//!
//! Addresses (`from`, `to`) are checked when the connectors are built, so a typo is
//! reported before anything runs. Health connects, says EHLO, secures the connection and
//! signs in as a send would, then says NOOP and QUIT: it sends nothing.
//!
//! What SMTP cannot do: it cannot say whether an email was delivered before, so `lookup`
//! is `Unsupported`, and a resend after an outcome-unknown failure (the connection broke
//! after the whole email was written) can deliver a second copy. That copy has the same
//! Message-ID, so mail clients thread it with the first and many drop it. Email has no
//! delete, mentions or metrics. If the server refuses one of several recipients, the email
//! goes to none of them and the error names the address.

pub mod message;
pub mod server;
pub mod session;

use async_trait::async_trait;
use lettre::Address;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;

use super::registry::{AccountSetup, ConnectorError};
use super::secret::Secret;
use super::{Connector, Delivered, Lookup, OutgoingPost, SendError};
use crate::network::Network;

pub use server::{Security, SmtpServer};
pub use session::SmtpTimeouts;

use session::Session;

/// A user name and its password, to sign in to the server (`Debug` hides the password).
#[derive(Debug, Clone)]
pub struct SignIn {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone)]
pub struct EmailConnector {
    account: String,
    server: SmtpServer,
    from: Mailbox,
    to: Vec<Mailbox>,
    sign_in: Option<SignIn>,
    timeouts: SmtpTimeouts,
}

impl EmailConnector {
    /// `to` must not be empty (`from_config` makes sure of it).
    pub fn new(
        account: impl Into<String>,
        server: SmtpServer,
        from: Mailbox,
        to: Vec<Mailbox>,
        sign_in: Option<SignIn>,
        timeouts: SmtpTimeouts,
    ) -> Self {
        EmailConnector {
            account: account.into(),
            server,
            from,
            to,
            sign_in,
            timeouts,
        }
    }

    /// The connector of an `email` account: `smtp`, `from`, `to` (one or more), and
    /// `username` with `password` to sign in. Every problem is a `ConnectorError` here,
    /// before anything is sent.
    pub fn from_config(setup: &mut AccountSetup<'_>) -> Result<Self, ConnectorError> {
        let config = setup.config;
        let invalid = |field: &'static str, reason: String| ConnectorError::InvalidField {
            account: setup.name.into(),
            field,
            reason,
        };
        let smtp = setup.required(Network::Email, "smtp", &config.smtp)?;
        let server = SmtpServer::parse(smtp).map_err(|reason| invalid("smtp", reason))?;
        let from = setup.required(Network::Email, "from", &config.from)?;
        let from = parse_mailbox(from).map_err(|reason| invalid("from", reason))?;
        let to_values: Vec<&str> = config
            .to
            .iter()
            .flat_map(|list| list.iter())
            .map(|value| value.value.trim())
            .collect();
        if to_values.iter().all(|value| value.is_empty()) {
            return Err(setup.missing(Network::Email, "to"));
        }
        let to = to_values
            .iter()
            .map(|value| parse_mailbox(value))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| invalid("to", reason))?;
        let username = config
            .username
            .as_ref()
            .map(|name| name.value.trim())
            .filter(|name| !name.is_empty());
        let sign_in = match (username, setup.secret("password")) {
            (Some(username), Some(password)) => Some(SignIn {
                username: username.to_owned(),
                password,
            }),
            (Some(_), None) => return Err(setup.missing(Network::Email, "password")),
            (None, Some(_)) => return Err(setup.missing(Network::Email, "username")),
            (None, None) => None,
        };
        Ok(EmailConnector::new(
            setup.name,
            server,
            from,
            to,
            sign_in,
            SmtpTimeouts::default(),
        ))
    }

    fn session(&self) -> Session<'_> {
        Session {
            server: &self.server,
            credentials: self.sign_in.as_ref().map(|sign_in| {
                Credentials::new(
                    sign_in.username.clone(),
                    sign_in.password.expose().to_owned(),
                )
            }),
            timeouts: self.timeouts,
        }
    }

    async fn send(&self, to: &[Mailbox], post: &OutgoingPost) -> Result<Delivered, SendError> {
        let (email, id) = message::compose(&self.from, to, post).await?;
        let envelope = email.envelope();
        let recipients: Vec<Address> = envelope.to().to_vec();
        self.session()
            .deliver(envelope.from(), &recipients, &email.formatted())
            .await?;
        Ok(Delivered {
            remote_id: id,
            url: None,
        })
    }
}

/// `name@example.com` or `Name <name@example.com>`, or why it is not one.
pub fn parse_mailbox(value: &str) -> Result<Mailbox, String> {
    use lettre::address::AddressError;
    let value = value.trim();
    let err = match value.parse::<Mailbox>() {
        Ok(mailbox) => return Ok(mailbox),
        Err(_) if value.contains('<') && !value.ends_with('>') => AddressError::Unbalanced,
        Err(err) if value.contains('<') => err,
        // A bare address says more precisely what is wrong with it.
        Err(err) => value.parse::<Address>().err().unwrap_or(err),
    };
    let why = match err {
        AddressError::MissingParts => "it needs a name, an @ and a domain",
        AddressError::Unbalanced => "an angle bracket is not closed",
        AddressError::InvalidUser => "the part before the @ is not valid",
        AddressError::InvalidDomain => "the part after the @ is not a valid domain",
        _ => "write it as `name@example.com` or `Name <name@example.com>`",
    };
    Err(format!("`{value}` is not an email address: {why}"))
}

#[async_trait]
impl Connector for EmailConnector {
    fn network(&self) -> Network {
        Network::Email
    }

    fn account(&self) -> &str {
        &self.account
    }

    async fn post(&self, post: &OutgoingPost) -> Result<Delivered, SendError> {
        self.send(&self.to, post).await
    }

    /// SMTP keeps no record crier can ask; see the module documentation.
    async fn lookup(&self, _post: &OutgoingPost) -> Result<Lookup, SendError> {
        Ok(Lookup::Unsupported)
    }

    async fn health(&self) -> Result<(), SendError> {
        self.session().check().await
    }

    async fn direct_message(
        &self,
        recipient: &str,
        message: &OutgoingPost,
    ) -> Result<Delivered, SendError> {
        let to = parse_mailbox(recipient).map_err(|reason| SendError::Permanent { reason })?;
        self.send(&[to], message).await
    }
}
