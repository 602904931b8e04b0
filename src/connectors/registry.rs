//! The connectors of a plan's accounts, built once after validation: every secret resolved
//! up front, every problem reported together.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use reqwest::Url;

use super::Connector;
use super::bluesky::BlueskyConnector;
use super::console::ConsoleConnector;
use super::discord::DiscordConnector;
use super::email::EmailConnector;
use super::linkedin::LinkedinConnector;
use super::mastodon::MastodonConnector;
use super::matrix::MatrixConnector;
use super::meta::facebook::FacebookConnector;
use super::meta::{Flavor, MetaConnector};
use super::recording::{Recording, RecordingConnector, RecordingLog};
use super::secret::{self, Secret, SecretError};
use super::slack::SlackConnector;
use super::telegram::TelegramConnector;
use super::vk::VkConnector;
use super::webhook::WebhookConnector;
use super::x::XConnector;
use super::youtube::YoutubeConnector;
use crate::network::Network;
use crate::playbook::plan::Account;
use crate::playbook::raw::AccountConfig;
use crate::playbook::yaml::Spanned;

/// Why an account's connector could not be built. Each message starts with the account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("account `{account}`: a `{network}` account needs `{field}`")]
    MissingField {
        account: String,
        network: &'static str,
        field: &'static str,
    },
    #[error("account `{account}`: `{field}` is not valid: {reason}")]
    InvalidField {
        account: String,
        field: &'static str,
        reason: String,
    },
    #[error("account `{account}`: `{field}` is not an http(s) URL: {reason}")]
    InvalidUrl {
        account: String,
        field: &'static str,
        reason: String,
    },
}

/// One account's connector, or every reason it could not be built.
pub type Built = Result<Arc<dyn Connector>, Vec<ConnectorError>>;

/// Account name → its connector.
#[derive(Debug, Clone, Default)]
pub struct Connectors {
    by_account: BTreeMap<String, Arc<dyn Connector>>,
}

impl Connectors {
    /// An empty set, to fill with `insert` (tests, fakes).
    pub fn new() -> Self {
        Self::default()
    }

    /// The real connectors of `accounts`, all sharing `client`. Every secret of every account
    /// is resolved; all problems come back at once, in account order.
    pub fn build(
        accounts: &BTreeMap<String, Account>,
        client: &reqwest::Client,
    ) -> Result<Connectors, Vec<ConnectorError>> {
        let mut connectors = Connectors::new();
        let mut errors = Vec::new();
        for (name, built) in Self::build_each(accounts, client) {
            match built {
                Ok(connector) => {
                    connectors.insert(name, connector);
                }
                Err(mut found) => errors.append(&mut found),
            }
        }
        if errors.is_empty() {
            Ok(connectors)
        } else {
            Err(errors)
        }
    }

    /// Each account's connector, or every reason it could not be built, in account order
    /// (`crier accounts check` reports them one by one).
    pub fn build_each(
        accounts: &BTreeMap<String, Account>,
        client: &reqwest::Client,
    ) -> Vec<(String, Built)> {
        accounts
            .iter()
            .map(|(name, account)| (name.clone(), build_one(name, account, client)))
            .collect()
    }

    /// A `RecordingConnector` for every account whatever its network: rehearsals never
    /// send and need no secrets. Returns the recording they all write to.
    pub fn build_rehearsal(accounts: &BTreeMap<String, Account>) -> (Connectors, Recording) {
        let recording: Recording = Arc::new(Mutex::new(RecordingLog::default()));
        let mut connectors = Connectors::new();
        for (name, account) in accounts {
            let connector =
                RecordingConnector::new(name.clone(), account.network, recording.clone());
            connectors.insert(name.clone(), Arc::new(connector));
        }
        (connectors, recording)
    }

    /// Adds or replaces the connector of `account`.
    pub fn insert(&mut self, account: impl Into<String>, connector: Arc<dyn Connector>) {
        self.by_account.insert(account.into(), connector);
    }

    pub fn get(&self, account: &str) -> Option<Arc<dyn Connector>> {
        self.by_account.get(account).cloned()
    }

    /// Account names and connectors, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn Connector>)> {
        self.by_account.iter().map(|(name, c)| (name.as_str(), c))
    }

    pub fn len(&self) -> usize {
        self.by_account.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_account.is_empty()
    }
}

/// The secret fields of an account, by name.
fn secret_fields(config: &AccountConfig) -> [(&'static str, Option<&str>); 6] {
    fn field(value: &Option<Spanned<String>>) -> Option<&str> {
        value.as_ref().map(|v| v.value.as_str())
    }
    [
        ("token", field(&config.token)),
        ("app_password", field(&config.app_password)),
        ("webhook", field(&config.webhook)),
        ("secret", field(&config.secret)),
        ("password", field(&config.password)),
        ("client_secret", field(&config.client_secret)),
    ]
}

/// What building one account's connector starts from: its name and fields, its secrets
/// (already resolved), and the shared HTTP client. Each network's `from_config` takes what
/// it needs from here.
pub struct AccountSetup<'a> {
    pub name: &'a str,
    pub config: &'a AccountConfig,
    pub client: &'a reqwest::Client,
    secrets: BTreeMap<&'static str, Secret>,
}

impl AccountSetup<'_> {
    /// The resolved secret of `field`, if the account has one.
    pub fn secret(&mut self, field: &'static str) -> Option<Secret> {
        self.secrets.remove(field)
    }

    /// The resolved secret of `field`, which `network` needs.
    pub fn required_secret(
        &mut self,
        network: Network,
        field: &'static str,
    ) -> Result<Secret, ConnectorError> {
        self.secret(field)
            .ok_or_else(|| self.missing(network, field))
    }

    /// The (trimmed) value of a plain field, which `network` needs.
    pub fn required<'v>(
        &self,
        network: Network,
        field: &'static str,
        value: &'v Option<Spanned<String>>,
    ) -> Result<&'v str, ConnectorError> {
        match value {
            Some(value) if !value.value.trim().is_empty() => Ok(value.value.trim()),
            _ => Err(self.missing(network, field)),
        }
    }

    /// `value` of `field` as an http(s) URL.
    pub fn http_url(&self, field: &'static str, value: &str) -> Result<Url, ConnectorError> {
        parse_http_url(self.name, field, value)
    }

    /// A `MissingField` error for this account.
    pub fn missing(&self, network: Network, field: &'static str) -> ConnectorError {
        ConnectorError::MissingField {
            account: self.name.into(),
            network: network.name(),
            field,
        }
    }
}

fn build_one(name: &str, account: &Account, client: &reqwest::Client) -> Built {
    let mut errors = Vec::new();
    let mut secrets: BTreeMap<&'static str, Secret> = BTreeMap::new();
    for (field, reference) in secret_fields(&account.config) {
        if let Some(reference) = reference {
            match secret::resolve(name, field, reference) {
                Ok(value) => {
                    secrets.insert(field, value);
                }
                Err(err) => errors.push(err.into()),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut setup = AccountSetup {
        name,
        config: &account.config,
        client,
        secrets,
    };
    let network = account.network;
    let built: Result<Arc<dyn Connector>, ConnectorError> = match network {
        Network::Console => Ok(Arc::new(ConsoleConnector::new(name))),
        Network::Webhook => WebhookConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Mastodon => MastodonConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Bluesky => BlueskyConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Telegram => TelegramConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Matrix => MatrixConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Discord => DiscordConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Slack => SlackConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Email => EmailConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Vk => VkConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::X => XConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Facebook => FacebookConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Linkedin => LinkedinConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Youtube => YoutubeConnector::from_config(&mut setup).map(|c| Arc::new(c) as _),
        Network::Instagram => {
            MetaConnector::from_config(&mut setup, Flavor::Instagram).map(|c| Arc::new(c) as _)
        }
        Network::Threads => {
            MetaConnector::from_config(&mut setup, Flavor::Threads).map(|c| Arc::new(c) as _)
        }
    };
    built.map_err(|err| vec![err])
}

/// Parses `value` (of `field` of `account`) as an http(s) URL.
pub fn parse_http_url(
    account: &str,
    field: &'static str,
    value: &str,
) -> Result<Url, ConnectorError> {
    let invalid = |reason: String| ConnectorError::InvalidUrl {
        account: account.into(),
        field,
        reason,
    };
    let parsed = Url::parse(value.trim()).map_err(|err| invalid(err.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(invalid(format!("the scheme is `{other}`"))),
    }
}

/// How a network authorizes crier for `crier accounts connect`.
#[derive(Debug, Clone)]
pub enum Authorizer {
    /// OAuth 2.0's authorization code with PKCE, exchanged for a token set (X, LinkedIn,
    /// YouTube).
    OAuth(super::oauth::Authorization),
    /// Meta's sign-in, made into a long-lived token file (Facebook, Instagram, Threads).
    Meta(super::meta::connect::MetaLogin),
}

/// What `Authorizer::grant` made of the code: the secret file's contents, and what it
/// connected, when there is more to say than the account.
pub enum Granted {
    Tokens(super::oauth::TokenSet),
    Meta(super::meta::token::LongLived, String),
}

impl Granted {
    /// Writes the tokens to `path`, whole and owner-only.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        match self {
            Granted::Tokens(tokens) => super::oauth::write_tokens(path, tokens),
            Granted::Meta(token, _) => super::oauth::write_secret_json(path, token),
        }
    }

    pub fn connected(&self) -> Option<&str> {
        match self {
            Granted::Tokens(_) => None,
            Granted::Meta(_, what) => Some(what),
        }
    }
}

impl Authorizer {
    /// The network as messages name it.
    pub fn title(&self) -> &'static str {
        match self {
            Authorizer::OAuth(authorization) => authorization.endpoint.title,
            Authorizer::Meta(login) => login.title(),
        }
    }

    /// The address the person opens.
    pub fn url(&self, redirect: &str, state: &str, pkce: &super::oauth::Pkce) -> Url {
        match self {
            Authorizer::OAuth(authorization) => authorization.url(redirect, state, pkce),
            Authorizer::Meta(login) => login.url(redirect, state),
        }
    }

    /// The authorization `code` made into the tokens to write.
    pub async fn grant(
        &self,
        client: &reqwest::Client,
        code: &str,
        redirect: &str,
        pkce: &super::oauth::Pkce,
    ) -> Result<Granted, String> {
        match self {
            Authorizer::OAuth(authorization) => authorization
                .exchange(client, code, redirect, pkce)
                .await
                .map(Granted::Tokens),
            Authorizer::Meta(login) => login
                .connect(client, code, redirect)
                .await
                .map(|(token, what)| Granted::Meta(token, what)),
        }
    }
}

/// What `crier accounts connect` needs for `account`: how its network authorizes crier, and
/// the `file:` its tokens are written to. Only networks whose tokens crier renews have one.
pub fn authorization(
    name: &str,
    account: &Account,
) -> Result<(Authorizer, std::path::PathBuf), String> {
    let config = &account.config;
    let network = account.network;
    let file = || {
        config
            .token
            .as_ref()
            .and_then(|t| t.value.strip_prefix("file:"))
            .map(|path| std::path::PathBuf::from(path.trim()))
            .ok_or_else(|| {
                format!(
                    "account `{name}`: `token` must be a `file:PATH` secret, where crier writes the tokens"
                )
            })
    };
    let client_id = |needs: &str| {
        config
            .client_id
            .as_ref()
            .map(|c| c.value.trim().to_owned())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| format!("account `{name}`: {needs} needs `client_id`"))
    };
    let client_secret = || {
        config
            .client_secret
            .as_ref()
            .map(|reference| {
                secret::resolve(name, "client_secret", &reference.value).map_err(|e| e.to_string())
            })
            .transpose()
    };
    let server_or = |default: &str| match &config.server {
        Some(server) => parse_http_url(name, "server", &server.value).map_err(|e| e.to_string()),
        None => Ok(Url::parse(default).expect("the default server is a URL")),
    };
    match network {
        Network::X => {
            let client_id = client_id("an `x` account")?;
            let secret = client_secret()?;
            let server = server_or(super::x::DEFAULT_SERVER)?;
            Ok((
                Authorizer::OAuth(XConnector::authorization(&server, &client_id, secret)),
                file()?,
            ))
        }
        Network::Youtube => {
            let client_id = client_id("a `youtube` account")?;
            let secret = client_secret()?;
            let server = server_or(super::youtube::DEFAULT_SERVER)?;
            Ok((
                Authorizer::OAuth(YoutubeConnector::authorization(&server, &client_id, secret)),
                file()?,
            ))
        }
        Network::Linkedin => {
            let client_id = client_id("a `linkedin` account")?;
            let secret = client_secret()?.ok_or_else(|| {
                format!(
                    "account `{name}`: LinkedIn exchanges the code only with the app's secret: add `client_secret`"
                )
            })?;
            let author = config
                .author
                .as_ref()
                .map(|a| a.value.trim().to_owned())
                .unwrap_or_default();
            let server = server_or(super::linkedin::DEFAULT_SERVER)?;
            Ok((
                Authorizer::OAuth(super::linkedin::LinkedinConnector::authorization(
                    &server,
                    &author,
                    &client_id,
                    Some(secret),
                )),
                file()?,
            ))
        }
        Network::Facebook | Network::Instagram | Network::Threads => {
            let title = network.profile().title;
            let client_id = config
                .client_id
                .as_ref()
                .map(|c| c.value.trim().to_owned())
                .filter(|c| !c.is_empty());
            let secret = config
                .client_secret
                .as_ref()
                .map(|reference| secret::resolve(name, "client_secret", &reference.value));
            let (Some(client_id), Some(secret)) = (client_id, secret) else {
                return Err(format!(
                    "account `{name}`: {title} signs crier in only as a Meta app: add the app's `client_id` (its App ID) and `client_secret` (its App Secret) to the account"
                ));
            };
            let secret = secret.map_err(|e| e.to_string())?;
            let id = match network {
                Network::Facebook => config.page.as_ref(),
                _ => config.user.as_ref(),
            }
            .map(|v| v.value.trim().to_owned())
            .unwrap_or_default();
            let (server, default_server) = match &config.server {
                Some(server) => (
                    parse_http_url(name, "server", &server.value).map_err(|e| e.to_string())?,
                    false,
                ),
                None => (
                    Url::parse(match network {
                        Network::Threads => super::meta::THREADS_SERVER,
                        _ => super::meta::INSTAGRAM_SERVER,
                    })
                    .expect("the default server is a URL"),
                    true,
                ),
            };
            let login = super::meta::connect::MetaLogin::new(
                name,
                network,
                server,
                default_server,
                &id,
                client_id,
                secret,
            )?;
            Ok((Authorizer::Meta(login), file()?))
        }
        other => Err(format!(
            "account `{name}`: crier authorizes itself only on networks whose tokens it renews (x, linkedin, youtube) and on Meta's (facebook, instagram, threads); a `{}` account takes a token made as the README's section on {} says",
            other.name(),
            other.profile().title
        )),
    }
}
