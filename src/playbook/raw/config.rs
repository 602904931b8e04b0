//! `crier.yaml`: the accounts a team posts with, the people it notifies (and what each may do
//! through the API), the store, the default time zone and `crier run`'s HTTP server.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Name, OneOrMany};
pub use crate::network::Network;
use crate::playbook::yaml::Spanned;

/// `crier.yaml`: accounts, people, store and default time zone.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where crier keeps runs, posts and entries: `sqlite://crier.db` (the default) or a
    /// `postgres://` URL.
    #[serde(default)]
    pub store: Option<Spanned<String>>,
    /// Default IANA time zone for playbooks that name none, e.g. `Europe/Kyiv`. UTC if absent.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// The accounts crier posts with, by name. Tokens are references (`env:NAME`,
    /// `file:PATH`), never literal values.
    #[serde(default)]
    pub accounts: BTreeMap<String, Spanned<AccountConfig>>,
    /// The people playbooks notify and ask for approval, by name.
    #[serde(default)]
    pub people: BTreeMap<String, Spanned<Person>>,
    /// How crier talks to networks over HTTP.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// The day that times written `day N HH:MM` count from (`day 1` is this day): a date
    /// like `2026-12-01`, or `first-run`, the day `crier run` first started on this store
    /// (today until then; in `crier rehearse`, the first day of the window). For examples,
    /// drills and stories told in days rather than dates.
    #[serde(default)]
    pub day_one: Option<Spanned<String>>,
    /// `crier run`'s HTTP server: the API, `/healthz` and `/readyz`. Off unless `listen` is
    /// set here or `crier run --listen ADDR` is given.
    #[serde(default)]
    pub server: Option<ServerConfig>,
}

/// `crier run`'s HTTP server.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The address and port to serve on, e.g. `127.0.0.1:7878` (this machine only; serve
    /// HTTPS with `tls:`, or put a reverse proxy with TLS in front, to reach it from elsewhere).
    #[serde(default)]
    pub listen: Option<Spanned<String>>,
    /// Web origins allowed to call the API from a browser, e.g. `https://dash.example.com`.
    /// None if absent: browsers get no CORS headers.
    #[serde(default)]
    pub cors: Vec<Spanned<String>>,
    /// The largest request body, in KiB; 1024 (1 MiB) if absent.
    #[serde(default)]
    pub body_limit_kib: Option<Spanned<u32>>,
    /// How long one request may take before it is answered 503, e.g. `30s` (the default).
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// The address people reach the server at, e.g. `https://crier.example.com` (a reverse
    /// proxy's): the links in notices that open a decision's page start with it. If absent,
    /// `http://` and the address served on.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// Mark the dashboard's sign-in cookies `Secure` (browsers then send them over HTTPS
    /// only): set it when a reverse proxy with TLS serves the dashboard. False if absent.
    #[serde(default)]
    pub secure_cookies: Option<Spanned<bool>>,
    /// Serve HTTPS instead of HTTP, with this certificate and key (PEM files).
    #[serde(default)]
    pub tls: Option<Spanned<TlsConfig>>,
}

/// The certificate and private key `crier run` serves HTTPS with.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `file:PATH` of the certificate chain in PEM, the server's certificate first, e.g.
    /// `file:/etc/crier/fullchain.pem` (a relative path is from the folder of `crier.yaml`).
    pub cert: Spanned<String>,
    /// `file:PATH` of the certificate's private key in PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Spanned<String>,
}

/// HTTP settings shared by every connector.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// How long one request may take before its outcome counts as unknown, e.g. `15s`.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// How long connecting may take before the attempt counts as failed, e.g. `5s`.
    #[serde(default)]
    pub connect_timeout: Option<Spanned<String>>,
}

/// One account. Which fields a network needs: mastodon `server`, `token`; bluesky `handle`,
/// `app_password` (and `service`); telegram `chat`, `token`; matrix `homeserver`, `room`,
/// `token`; discord and slack `webhook`; webhook `url`, `secret`; email `smtp`, `from`, `to`
/// (and `username`, `password`); vk `group`, `token` (and `server`); x `token`, `client_id`
/// (and `client_secret`, `server`); facebook `page`, `token` (and `client_id`,
/// `client_secret`, `server`); instagram `user`, `token`, `media_url` (and `client_id`,
/// `client_secret`, `server`); threads `user`, `token` (and `media_url`, `client_id`,
/// `client_secret`, `server`); console nothing.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The network this account is on.
    pub network: Spanned<Network>,
    /// Mastodon: the instance URL, e.g. `https://mastodon.social`. Telegram, VK, X, Facebook, Instagram, Threads, LinkedIn, YouTube: another API
    /// server than the network's own (optional).
    #[serde(default)]
    pub server: Option<Spanned<String>>,
    /// Bluesky: the PDS URL; `https://bsky.social` if absent.
    #[serde(default)]
    pub service: Option<Spanned<String>>,
    /// Mastodon, Telegram, Matrix, VK, Facebook (a Page token), Instagram, Threads: the access token, as `env:NAME` or
    /// `file:PATH`. X, LinkedIn, YouTube: the
    /// OAuth 2.0 token set (JSON with `access_token`, `refresh_token`, `expires_at`) in a
    /// `file:PATH` crier writes renewed tokens back to, or a bare access token.
    #[serde(default)]
    pub token: Option<Spanned<String>>,
    /// Bluesky: the account handle, e.g. `brand.bsky.social`.
    #[serde(default)]
    pub handle: Option<Spanned<String>>,
    /// Bluesky: an app password, as `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub app_password: Option<Spanned<String>>,
    /// VK: the community's id, the number in `vk.com/club<number>`.
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    /// LinkedIn: who posts, `urn:li:organization:<id>` (a Company Page) or
    /// `urn:li:person:<id>`.
    #[serde(default)]
    pub author: Option<Spanned<String>>,
    /// YouTube: the new videos' privacy, `public` (the default), `unlisted` or `private`.
    #[serde(default)]
    pub privacy: Option<Spanned<String>>,
    /// Facebook: the Page's id.
    #[serde(default)]
    pub page: Option<Spanned<String>>,
    /// Instagram: the professional account's id; Threads: the Threads user id.
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    /// Instagram, Threads: the public address where the posts' image files are served by
    /// name (Meta fetches them from there), e.g. `https://cdn.example.com/crier/`.
    #[serde(default)]
    pub media_url: Option<Spanned<String>>,
    /// X, LinkedIn, YouTube: the app's OAuth 2.0 client id, which renews the token. Facebook,
    /// Instagram, Threads: the Meta app's id, for `crier accounts connect` and renewals.
    #[serde(default)]
    pub client_id: Option<Spanned<String>>,
    /// X, LinkedIn, YouTube: the app's OAuth 2.0 client secret (X: for a confidential client);
    /// Facebook, Instagram, Threads: the Meta app's secret; as `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub client_secret: Option<Spanned<String>>,
    /// Telegram: the chat, e.g. `@brand_channel` or a numeric chat id.
    #[serde(default)]
    pub chat: Option<Spanned<String>>,
    /// Telegram: how the bot's updates (mentions, replies) arrive: `poll` (`getUpdates`, the
    /// default) or `webhook` (Telegram pushes them to `url`, with `secret` as its secret
    /// token).
    #[serde(default)]
    pub updates: Option<Spanned<String>>,
    /// Matrix: the homeserver URL.
    #[serde(default)]
    pub homeserver: Option<Spanned<String>>,
    /// Matrix: the room id, e.g. `!abc:example.org`.
    #[serde(default)]
    pub room: Option<Spanned<String>>,
    /// Discord, Slack: the incoming-webhook URL, as `env:NAME` or `file:PATH` (it is a secret).
    #[serde(default)]
    pub webhook: Option<Spanned<String>>,
    /// Webhook: the receiver's URL. Telegram with `updates: webhook`: the public URL of
    /// crier's server that Telegram sends the bot's updates to.
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// Webhook: the HMAC-SHA256 signing secret. Telegram with `updates: webhook`: the
    /// webhook's secret token (1–256 of `A-Z a-z 0-9 _ -`). As `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// Email: the SMTP server, e.g. `smtp://localhost:25` or `smtps://smtp.example.com`.
    #[serde(default)]
    pub smtp: Option<Spanned<String>>,
    /// Email: the sender address.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Email: the recipient address(es).
    #[serde(default)]
    pub to: Option<OneOrMany<Spanned<String>>>,
    /// Email: the SMTP user name.
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// Email: the SMTP password, as `env:NAME` or `file:PATH`.
    #[serde(default)]
    pub password: Option<Spanned<String>>,
}

/// A person crier notifies and who may approve.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// The account(s) that reach this person (a Slack webhook, a Telegram chat, email).
    pub notify: OneOrMany<Name>,
    /// How to address them in messages.
    #[serde(default)]
    pub name: Option<String>,
    /// Their own users on the networks whose replies crier reads, by network, e.g.
    /// `{ telegram: "@alice", matrix: "@alice:example.org" }` (a Telegram user may be its
    /// numeric id). A reply to a notice from one of them (`approve`, `reject: why`, `ack`)
    /// decides as this person.
    #[serde(default)]
    pub users: BTreeMap<String, Spanned<String>>,
    /// What their API tokens may do: `viewer` (read everything, the default), `editor` (also
    /// trigger posts and disqualify contest winners) or `admin` (also pause and resume, and
    /// manage tokens). Deciding an approval is for the people the approval names, whatever
    /// their role.
    #[serde(default)]
    pub role: Option<Spanned<Role>>,
}

/// What a person may do through the API; each role may do what the one before it may.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Deserialize,
    serde::Serialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything; acknowledges and resolves incidents and decides the approvals
    /// that name them.
    #[default]
    Viewer,
    /// Also triggers posts and disqualifies contest winners.
    Editor,
    /// Also pauses and resumes, and manages API tokens.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}
