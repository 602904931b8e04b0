//! `crier.yaml`: time zone, store, accounts (per-network fields, secrets as references only)
//! and people.

use super::Validator;
use crate::diagnostic::did_you_mean;
use crate::playbook::plan::{Account, DayOne, PersonPlan};
use crate::playbook::raw::{AccountConfig, ConfigFile, Network, ServerConfig, TlsConfig};
use crate::playbook::tls::{TlsPart, TlsPlan};
use std::collections::BTreeMap;

use crate::playbook::yaml::{Node, NodeKind, Spanned, from_node};

/// The fields each network needs, and the ones it may have besides.
fn fields_of(network: Network) -> (&'static [&'static str], &'static [&'static str]) {
    match network {
        Network::Mastodon => (&["server", "token"], &[]),
        Network::Bluesky => (&["handle", "app_password"], &["service"]),
        Network::Telegram => (&["chat", "token"], &["server", "updates", "url", "secret"]),
        Network::Matrix => (&["homeserver", "room", "token"], &[]),
        Network::Discord | Network::Slack => (&["webhook"], &[]),
        Network::Webhook => (&["url"], &["secret"]),
        Network::Email => (&["smtp", "from", "to"], &["username", "password"]),
        Network::Console => (&[], &[]),
        Network::Vk => (&["group", "token"], &["server"]),
        Network::X => (&["token", "client_id"], &["client_secret", "server"]),
        Network::Facebook => (
            &["page", "token"],
            &["client_id", "client_secret", "server"],
        ),
        Network::Linkedin => (
            &["author", "token"],
            &["client_id", "client_secret", "server"],
        ),
        Network::Instagram => (
            &["user", "token", "media_url"],
            &["client_id", "client_secret", "server"],
        ),
        Network::Threads => (
            &["user", "token"],
            &["media_url", "client_id", "client_secret", "server"],
        ),
        Network::Youtube => (
            &["token", "client_id"],
            &["client_secret", "privacy", "server"],
        ),
    }
}

const SECRET_FIELDS: [&str; 6] = [
    "token",
    "app_password",
    "webhook",
    "secret",
    "password",
    "client_secret",
];
const URL_FIELDS: [&str; 5] = ["server", "service", "homeserver", "url", "media_url"];

fn present_fields(a: &AccountConfig) -> Vec<(&'static str, &Spanned<String>)> {
    let optional = [
        ("server", &a.server),
        ("service", &a.service),
        ("token", &a.token),
        ("handle", &a.handle),
        ("app_password", &a.app_password),
        ("group", &a.group),
        ("client_id", &a.client_id),
        ("user", &a.user),
        ("page", &a.page),
        ("author", &a.author),
        ("privacy", &a.privacy),
        ("media_url", &a.media_url),
        ("client_secret", &a.client_secret),
        ("chat", &a.chat),
        ("updates", &a.updates),
        ("homeserver", &a.homeserver),
        ("room", &a.room),
        ("webhook", &a.webhook),
        ("url", &a.url),
        ("secret", &a.secret),
        ("smtp", &a.smtp),
        ("from", &a.from),
        ("username", &a.username),
        ("password", &a.password),
    ];
    let mut fields: Vec<_> = optional
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|value| (name, value)))
        .collect();
    if let Some(to) = a.to.as_ref().and_then(|to| to.first()) {
        fields.push(("to", to));
    }
    fields
}

/// Whether a secret field's value is a reference (`env:NAME`, `file:PATH`), not the secret.
pub fn is_secret_reference(value: &str) -> bool {
    if let Some(name) = value.strip_prefix("env:") {
        let mut chars = name.chars();
        return chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    }
    value
        .strip_prefix("file:")
        .is_some_and(|path| !path.trim().is_empty())
}

/// What of a `crier.yaml` that does not read as a whole reads field by field (and, for
/// accounts and people, entry by entry); the errors of the rest are already reported.
fn readable_parts(node: &Node) -> ConfigFile {
    fn part<'n, T: serde::Deserialize<'n>>(node: Option<&'n Node>) -> Option<T> {
        node.and_then(|node| from_node(node).ok())
    }
    fn entries<'n, T: serde::Deserialize<'n>>(node: Option<&'n Node>) -> BTreeMap<String, T> {
        let Some(NodeKind::Mapping(pairs)) = node.map(|n| &n.kind) else {
            return BTreeMap::new();
        };
        pairs
            .iter()
            .filter_map(|(key, value)| Some((key.as_str()?.to_owned(), part(Some(value))?)))
            .collect()
    }
    ConfigFile {
        store: part(node.get("store")),
        timezone: part(node.get("timezone")),
        accounts: entries(node.get("accounts")),
        people: entries(node.get("people")),
        http: part(node.get("http")),
        day_one: part(node.get("day_one")),
        server: part(node.get("server")),
    }
}

impl Validator<'_> {
    /// Reads `crier.yaml` (if any); returns the store URL. `first_run` is the day the store
    /// first ran, for `day_one: first-run` (today if unknown).
    pub(super) fn config(
        &mut self,
        node: Option<&Node>,
        first_run: Option<chrono::NaiveDate>,
    ) -> String {
        const DEFAULT_STORE: &str = "sqlite://crier.db";
        let Some(node) = node else {
            return DEFAULT_STORE.into();
        };
        let Some(config) = self.read::<ConfigFile>(node) else {
            self.references_unreliable = true;
            // The parts that do read are still checked, so every mistake shows in one run.
            self.config_checks(&readable_parts(node), first_run);
            return DEFAULT_STORE.into();
        };
        self.config_checks(&config, first_run)
    }

    fn config_checks(
        &mut self,
        config: &ConfigFile,
        first_run: Option<chrono::NaiveDate>,
    ) -> String {
        const DEFAULT_STORE: &str = "sqlite://crier.db";
        self.timezone = self.zone(config.timezone.as_ref());
        if let Some(day_one) = &config.day_one {
            self.day_one = match day_one.trim() {
                "first-run" => Some(DayOne {
                    date: first_run.unwrap_or_else(|| {
                        chrono::Utc::now()
                            .with_timezone(&self.timezone)
                            .date_naive()
                    }),
                    first_run: true,
                }),
                text => match crate::schedule::parse_date(text) {
                    Ok(date) => Some(DayOne {
                        date,
                        first_run: false,
                    }),
                    Err(error) => {
                        self.time_error(
                            day_one,
                            error.with_hint(
                                "write a date like `2026-12-01`, or `first-run` for the day `crier run` first starts",
                            ),
                        );
                        None
                    }
                },
            };
        }
        let store = match &config.store {
            None => DEFAULT_STORE.to_string(),
            Some(store) => {
                let known = ["sqlite://", "postgres://", "postgresql://"];
                if !known.iter().any(|prefix| store.starts_with(prefix)) {
                    self.error(
                        store,
                        format!("unsupported store `{}`", store.value),
                        Some("use `sqlite://crier.db` (embedded) or a `postgres://` URL".into()),
                    );
                }
                store.value.clone()
            }
        };
        if let Some(http) = &config.http {
            let to_std = |d: chrono::TimeDelta| d.to_std().unwrap_or_default();
            if let Some(timeout) = http.timeout.as_ref().and_then(|t| self.duration(t)) {
                self.http.request_timeout = to_std(timeout);
            }
            if let Some(timeout) = http.connect_timeout.as_ref().and_then(|t| self.duration(t)) {
                self.http.connect_timeout = to_std(timeout);
            }
        }
        for (name, account) in &config.accounts {
            self.account_config(name, account);
        }
        for (name, person) in &config.people {
            let notify = self.accounts(&person.notify);
            if person.notify.is_empty() {
                self.error(
                    person,
                    format!("person `{name}` has no `notify` account"),
                    None,
                );
            }
            let mut users = Vec::new();
            for (network, user) in &person.users {
                match network.as_str() {
                    "telegram" => users.push((Network::Telegram, user.value.trim().to_string())),
                    "matrix" => users.push((Network::Matrix, user.value.trim().to_string())),
                    other => self.error(
                        user,
                        format!("person `{name}`: crier reads no replies on `{other}`"),
                        Some("`users:` takes `telegram` and `matrix`".into()),
                    ),
                }
                if user.value.trim().is_empty() {
                    self.error(
                        user,
                        format!("person `{name}`: an empty `{network}` user"),
                        None,
                    );
                }
            }
            self.people.insert(
                name.clone(),
                PersonPlan {
                    name: name.clone(),
                    display_name: person.name.clone(),
                    notify,
                    users,
                    role: person.role.as_ref().map(|r| r.value).unwrap_or_default(),
                },
            );
        }
        if let Some(server) = &config.server {
            self.server_config(server);
        }
        store
    }

    fn server_config(&mut self, server: &ServerConfig) {
        if let Some(listen) = &server.listen {
            match listen.trim().parse::<std::net::SocketAddr>() {
                Ok(address) => self.server.listen = Some(address),
                Err(_) => self.error(
                    listen,
                    format!("`listen` must be an IP address and a port, found `{}`", listen.value),
                    Some("write `127.0.0.1:7878` (this machine only) or `0.0.0.0:7878` (every interface)".into()),
                ),
            }
        }
        for origin in &server.cors {
            let scheme = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match scheme {
                Some(host) if !host.is_empty() && !host.contains('/') => {
                    self.server.cors.push(origin.value.clone());
                }
                _ => self.error(
                    origin,
                    format!("a CORS origin is a scheme and a host, found `{}`", origin.value),
                    Some("write it as a browser sends it: `https://dash.example.com` (no path, no `*`)".into()),
                ),
            }
        }
        if let Some(url) = &server.url {
            let value = url.value.trim().trim_end_matches('/');
            let host = value
                .strip_prefix("https://")
                .or_else(|| value.strip_prefix("http://"));
            match host {
                Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                    self.server.url = Some(value.to_string());
                }
                _ => self.error(
                    url,
                    format!(
                        "`url` must be an http:// or https:// address, found `{}`",
                        url.value
                    ),
                    Some(
                        "write the address a browser opens, e.g. `https://crier.example.com`"
                            .into(),
                    ),
                ),
            }
        }
        if let Some(limit) = &server.body_limit_kib {
            if limit.value == 0 {
                self.error(limit, "`body_limit_kib` must be at least 1", None);
            } else {
                self.server.body_limit = limit.value as usize * 1024;
            }
        }
        if let Some(secure) = &server.secure_cookies {
            self.server.secure_cookies = secure.value;
        }
        if let Some(timeout) = server.timeout.as_ref()
            && let Some(delta) = self.duration(timeout)
        {
            match delta.to_std() {
                Ok(duration) if !duration.is_zero() => self.server.request_timeout = duration,
                _ => self.error(timeout, "`timeout` must be longer than nothing", None),
            }
        }
        if let Some(tls) = &server.tls {
            self.server_tls(tls);
        }
    }

    /// `tls:`: both `file:` references, and files that make a working certificate and key.
    fn server_tls(&mut self, tls: &Spanned<TlsConfig>) {
        let mut path = |field: &str, reference: &Spanned<String>| {
            let path = TlsPlan::path(&self.root, reference);
            if path.is_none() {
                self.error(
                    reference,
                    format!("`{field}` must be `file:PATH`, found `{}`", reference.value),
                    Some(format!("write e.g. `{field}: file:/etc/crier/{}.pem` (a relative path is from this folder)", if field == "cert" { "fullchain" } else { "privkey" })),
                );
            }
            path
        };
        let (Some(cert), Some(key)) = (path("cert", &tls.cert), path("key", &tls.key)) else {
            return;
        };
        let plan = TlsPlan { cert, key };
        match plan.server_config() {
            Ok(_) => self.server.tls = Some(plan),
            Err(error) => {
                let at = match error.part {
                    TlsPart::Cert => &tls.cert,
                    TlsPart::Key => &tls.key,
                };
                self.error(at, error.message, error.hint);
            }
        }
    }

    fn account_config(&mut self, name: &str, account: &Spanned<AccountConfig>) {
        let network = account.network.value;
        let (required, optional) = fields_of(network);
        let present = present_fields(account);
        for (field, value) in &present {
            if !required.contains(field) && !optional.contains(field) {
                let allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
                let hint = if allowed.is_empty() {
                    format!("a `{}` account needs no other fields", network.name())
                } else {
                    format!(
                        "a `{}` account takes {}",
                        network.name(),
                        allowed
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let hint = did_you_mean(field, allowed.iter().copied()).unwrap_or(hint);
                self.error(
                    value,
                    format!("`{field}` does not apply to a `{}` account", network.name()),
                    Some(hint),
                );
            }
            if SECRET_FIELDS.contains(field) && !is_secret_reference(value) {
                let variable = format!("{}_{}", name.to_uppercase(), field.to_uppercase());
                let mut diagnostic = self
                    .sources
                    .error(value, format!("`{field}` of account `{name}` holds a secret in the file"))
                    .with_hint(format!(
                        "secrets are references: write `{field}: env:{variable}` and set the variable, or `{field}: file:/run/secrets/{name}`"
                    ));
                // Never print the secret itself.
                if let Some(line) = &mut diagnostic.source_line
                    && !value.is_empty()
                {
                    *line = line.replace(value.as_str(), "********");
                    if let Some(position) = &mut diagnostic.position {
                        position.len = 8 + value.width.saturating_sub(value.chars().count());
                    }
                }
                self.push(diagnostic);
            }
            if URL_FIELDS.contains(field)
                && !(value.starts_with("https://") || value.starts_with("http://"))
            {
                self.error(
                    value,
                    format!("`{field}` must be a URL, found `{}`", value.value),
                    Some("write it with its scheme: `https://…`".into()),
                );
            }
        }
        if network == Network::Telegram {
            self.telegram_updates(name, account);
        }
        for field in required {
            if !present.iter().any(|(name, _)| name == field) {
                self.error(
                    &account.network,
                    format!("account `{name}` on `{}` needs `{field}`", network.name()),
                    None,
                );
            }
        }
        self.accounts.insert(
            name.to_string(),
            Account {
                name: name.to_string(),
                network,
                config: account.value.clone(),
            },
        );
    }

    /// A Telegram account's `updates:`: `poll`, or `webhook` with the `url` Telegram pushes
    /// to and the `secret` token it sends; `url` and `secret` only with `webhook`.
    fn telegram_updates(&mut self, name: &str, account: &AccountConfig) {
        let webhook = match &account.updates {
            None => false,
            Some(updates) => match updates.trim() {
                "poll" => false,
                "webhook" => true,
                other => {
                    self.error(
                        updates,
                        format!("`updates` is `poll` or `webhook`, not `{other}`"),
                        None,
                    );
                    return;
                }
            },
        };
        for (field, value) in [("url", &account.url), ("secret", &account.secret)] {
            match value {
                Some(value) if !webhook => self.error(
                    value,
                    format!("`{field}` of account `{name}` is for `updates: webhook`"),
                    Some("a Telegram account polls for updates unless it says `updates: webhook`".into()),
                ),
                None if webhook => self.error(
                    &account.network,
                    format!("account `{name}` with `updates: webhook` needs `{field}`"),
                    Some(match field {
                        "url" => "the public URL of crier's server for it: `url: https://crier.example.com/telegram/NAME`".into(),
                        _ => format!("the secret token Telegram sends: `secret: env:{}_SECRET`", name.to_uppercase()),
                    }),
                ),
                _ => {}
            }
        }
    }
}
