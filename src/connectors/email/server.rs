//! The `smtp` field of an email account: which server to speak to and how to secure the
//! connection.
//!
//! | URL                                   | connection                                   | default port |
//! | ------------------------------------- | -------------------------------------------- | ------------ |
//! | `smtps://smtp.example.com`            | TLS from the first byte (implicit TLS)       | 465          |
//! | `smtp://smtp.example.com`             | plain, then STARTTLS, which must succeed     | 587          |
//! | `smtp://smtp.example.com?tls=starttls`| the same, written out                        | 587          |
//! | `smtp://localhost:2525`               | plain: the server is on this machine         | 25           |
//! | `smtp://relay.internal?tls=none`      | plain to another machine, said explicitly    | 25           |
//!
//! So a password or a message only crosses the network in the clear when the URL says
//! `tls=none`, or the server is on the loopback interface (`localhost`, `127.0.0.0/8`,
//! `::1`), where there is no network to cross. `?tls=starttls` on a loopback host still
//! requires STARTTLS. Credentials never go in the URL: they are the account's `username`
//! and `password` fields.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

/// How the connection to the server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the start.
    ImplicitTls,
    /// Plain, then `STARTTLS`; a server that does not offer it is refused.
    StartTls,
    /// No TLS at all.
    Plain,
}

/// A parsed `smtp` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: Security,
}

impl SmtpServer {
    /// Reads an `smtp` field; the error says in plain words what is wrong with it.
    pub fn parse(value: &str) -> Result<SmtpServer, String> {
        let url =
            Url::parse(value.trim()).map_err(|err| format!("`{value}` is not a URL: {err}"))?;
        let implicit = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            other => {
                return Err(format!(
                    "the scheme is `{other}`; use `smtp://` or `smtps://`"
                ));
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the URL carries a user name or password; put them in the account's `username` \
                 and `password` fields instead"
                    .into(),
            );
        }
        let host = match url.host_str() {
            Some(host) if !host.is_empty() => host.trim_start_matches('[').trim_end_matches(']'),
            _ => return Err("the URL has no server name".into()),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err("an SMTP URL is only `smtp://host:port` (and `?tls=`)".into());
        }
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                "tls" => return Err("`tls` is given twice".into()),
                other => {
                    return Err(format!(
                        "unknown setting `{other}`; the only one is `tls` (`starttls` or `none`)"
                    ));
                }
            }
        }
        let security = match (implicit, tls.as_deref()) {
            (true, None) => Security::ImplicitTls,
            (true, Some(_)) => {
                return Err(
                    "`smtps://` is always TLS; drop `?tls=`, or use `smtp://` with `?tls=starttls`"
                        .into(),
                );
            }
            (false, Some("starttls" | "required")) => Security::StartTls,
            (false, Some("none")) => Security::Plain,
            (false, Some(other)) => {
                return Err(format!(
                    "`tls={other}` is not a choice; use `tls=starttls` or `tls=none`"
                ));
            }
            (false, None) if is_loopback(host) => Security::Plain,
            (false, None) => Security::StartTls,
        };
        let port = url.port().unwrap_or(match security {
            Security::ImplicitTls => 465,
            Security::StartTls => 587,
            Security::Plain => 25,
        });
        Ok(SmtpServer {
            host: host.to_owned(),
            port,
            security,
        })
    }
}

impl fmt::Display for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
