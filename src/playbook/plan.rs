//! The validated plan: what every later stage (preview, rehearsal, the engine) runs on.
//! Times are parsed, cron rules and conditions compiled, templates expanded, references
//! resolved. Nothing in a `Plan` needs checking again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

pub use super::raw::Role;
use super::raw::{
    AccountConfig, ApprovalNeed, EntrySource, LimitScope, Missed, Network, OnTimeout,
    PostApprovalTimeout, Then,
};
use crate::schedule::{CronSchedule, TimeWindow};
use crate::script::Condition;

/// Timeouts of the HTTP client every connector shares (`crier.yaml`'s `http:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// Establishing the connection (TCP and TLS). 5 s by default.
    pub connect_timeout: Duration,
    /// The whole request, from connecting to the last byte of the body. 15 s by default.
    pub request_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The folder playbooks are relative to.
    pub root: PathBuf,
    /// `crier.yaml`'s time zone (UTC if none).
    pub timezone: Tz,
    /// `crier.yaml`'s `store:`, `sqlite://crier.db` if absent.
    pub store: String,
    /// The day `day N` times count from, if `crier.yaml` sets `day_one:`.
    pub day_one: Option<DayOne>,
    /// HTTP timeouts for every connector.
    pub http: HttpOptions,
    pub accounts: BTreeMap<String, Account>,
    pub people: BTreeMap<String, PersonPlan>,
    /// `crier run`'s HTTP server (`crier.yaml`'s `server:`).
    pub server: ServerPlan,
    pub campaigns: Vec<CampaignPlan>,
    pub templates: Vec<String>,
    pub contests: Vec<ContestPlan>,
    pub crises: Vec<CrisisPlan>,
    pub rules: Vec<RulesPlan>,
}

/// `crier.yaml`'s `day_one:`, resolved to a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOne {
    pub date: chrono::NaiveDate,
    /// `day_one: first-run`: the date is the day `crier run` first started on the store
    /// (today before that), so it is for whoever opens the store to settle.
    pub first_run: bool,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub network: Network,
    pub config: AccountConfig,
}

#[derive(Debug, Clone)]
pub struct PersonPlan {
    pub name: String,
    pub display_name: Option<String>,
    pub notify: Vec<String>,
    /// Their own users by network (`telegram`, `matrix`), whose replies to notices decide as
    /// them.
    pub users: Vec<(crate::network::Network, String)>,
    /// What their API tokens may do (`viewer` if not given).
    pub role: Role,
}

/// `crier.yaml`'s `server:`, with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    /// Where to serve; `None`: no server unless `crier run --listen` asks for one.
    pub listen: Option<std::net::SocketAddr>,
    /// Origins allowed to call the API from a browser (none: no CORS headers).
    pub cors: Vec<String>,
    /// The largest request body, in bytes (1 MiB by default).
    pub body_limit: usize,
    /// How long one request may take (30 s by default).
    pub request_timeout: Duration,
    /// The address people reach the server at (links in notices start with it), without a
    /// trailing slash; `None`: `http://` and the address served on.
    pub url: Option<String>,
    /// The dashboard's cookies are `Secure` though crier serves plain HTTP: a reverse proxy
    /// serves it over TLS. (Under `tls` they are `Secure` anyway.)
    pub secure_cookies: bool,
    /// The certificate and key to serve HTTPS with; `None`: plain HTTP.
    pub tls: Option<super::tls::TlsPlan>,
}

impl ServerPlan {
    /// The server answers over HTTPS (so cookies it sets can be `Secure`).
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }
}

impl Default for ServerPlan {
    fn default() -> Self {
        ServerPlan {
            listen: None,
            cors: Vec::new(),
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            tls: None,
            url: None,
            secure_cookies: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub name: String,
    pub file: PathBuf,
    pub timezone: Tz,
    pub window: Option<TimeWindow>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub posts: Vec<PostPlan>,
    /// The inbound events that fire its `Trigger::Hook` posts.
    pub hooks: Vec<HookPlan>,
}

/// An inbound event a campaign declares: `POST /hooks/NAME`, signed with `secret`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookPlan {
    /// Unique across the plan.
    pub name: String,
    /// Where the signing key is: `env:NAME` or `file:PATH` (read when the service starts).
    pub secret: String,
    /// A JSON pointer (RFC 6901) to the event's own id in the body, if the hook names one.
    pub id_pointer: Option<String>,
}

impl Plan {
    /// The hook called `name`, and the campaign that declares it.
    pub fn hook(&self, name: &str) -> Option<(&CampaignPlan, &HookPlan)> {
        self.campaigns.iter().find_map(|campaign| {
            campaign
                .hooks
                .iter()
                .find(|hook| hook.name == name)
                .map(|hook| (campaign, hook))
        })
    }

    /// Every hook's name, for "did you mean".
    pub fn hook_names(&self) -> impl Iterator<Item = &str> {
        self.campaigns
            .iter()
            .flat_map(|c| c.hooks.iter().map(|h| h.name.as_str()))
    }
}

/// When a post fires.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Once, at this instant; shown in the campaign's zone (`CampaignPlan::timezone`). Kept
    /// in UTC: a one-off post is most of a large plan, and a time with its zone is four
    /// times the size.
    At(DateTime<Utc>),
    /// Shared: items written with the same rule share one parsed schedule, and one-off
    /// rows (most items of a large plan) do not pay for its size.
    Cron(Arc<CronSchedule>),
    /// Whenever the campaign's hook of this name receives an event; never on a clock.
    Hook(Box<str>),
}

/// A post's id or text: up to 24 bytes kept inline, without an allocation of its own (most
/// ids, and many texts of a calendar's rows, fit).
pub type ShortText = compact_str::CompactString;

#[derive(Debug, Clone)]
pub struct PostPlan {
    /// The item id; calendar rows are `FILE.csv:LINE`.
    pub id: ShortText,
    pub trigger: Trigger,
    pub to: Accounts,
    /// The text template.
    pub text: ShortText,
    /// (Boxed slices rather than a `Vec` and a `String`: a plan can hold a million posts.)
    pub media: Box<[String]>,
    pub when: Option<Arc<Condition>>,
    pub reply_to: Option<Box<str>>,
    pub missed: Missed,
    pub max_late: Option<TimeDelta>,
    /// Who must approve each fire before it goes out.
    pub approve: Option<Arc<ApprovalPlan>>,
}

/// A post's approval: asked `ask` before the deadline, due `before` the post's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalPlan {
    pub by: Vec<String>,
    pub need: ApprovalNeed,
    pub before: TimeDelta,
    pub ask: TimeDelta,
    pub on_timeout: PostApprovalTimeout,
}

#[derive(Debug, Clone)]
pub struct ContestPlan {
    pub name: String,
    pub file: PathBuf,
    pub timezone: Tz,
    pub account: String,
    pub owner: Option<String>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub announce_at: DateTime<Tz>,
    pub announce_text: String,
    pub announce_media: Vec<String>,
    pub source: EntrySource,
    pub hashtag: Option<String>,
    pub closes: DateTime<Tz>,
    pub one_per_author: bool,
    pub eligible: Vec<(String, Arc<Condition>)>,
    pub exclude: Vec<String>,
    pub min_mentions: Option<u32>,
    pub deny_words: Vec<String>,
    pub draw_at: DateTime<Tz>,
    pub winners: u32,
    pub reserves: u32,
    pub post_commitment: bool,
    pub winners_reply: Option<String>,
    pub winners_dm: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CrisisPlan {
    pub name: String,
    pub file: PathBuf,
    pub timezone: Tz,
    pub watch: Vec<String>,
    pub keywords: Vec<String>,
    pub every: TimeDelta,
    pub negative_words: Vec<String>,
    pub positive_words: Vec<String>,
    pub replace_builtin_lexicon: bool,
    pub levels: Vec<LevelPlan>,
    pub resolve: Option<ResolvePlan>,
    /// How long a notification may go unacknowledged before a reminder, and how many
    /// reminders go out before the plan's other people are told.
    pub ack_timeout: TimeDelta,
    pub ack_reminders: u32,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct LevelPlan {
    pub name: String,
    pub when: Arc<Condition>,
    pub steps: Vec<StepPlan>,
}

#[derive(Debug, Clone)]
pub struct ResolvePlan {
    pub when: Arc<Condition>,
    pub hold_for: TimeDelta,
    pub steps: Vec<StepPlan>,
}

/// A step of a crisis level (and, later, of any run that waits).
#[derive(Debug, Clone)]
pub enum StepPlan {
    Notify {
        people: Vec<String>,
        text: Option<String>,
    },
    Pause {
        targets: Vec<String>,
    },
    Resume {
        targets: Vec<String>,
    },
    Approve {
        by: Vec<String>,
        timeout: Option<TimeDelta>,
        on_timeout: OnTimeout,
    },
    Post {
        to: Vec<String>,
        text: String,
        media: Vec<String>,
    },
    Wait {
        duration: TimeDelta,
    },
    Escalate {
        to: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct RulesPlan {
    pub name: String,
    pub file: PathBuf,
    pub timezone: Tz,
    /// Empty means `all`.
    pub applies_to: Vec<String>,
    pub limits: Vec<LimitPlan>,
    pub quiet_hours: Option<QuietHoursPlan>,
    pub blackouts: Vec<TimeWindow>,
    pub deny_words: Vec<String>,
    pub require: Vec<(String, Arc<Condition>)>,
    pub append: Option<String>,
    pub utm: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub enum LimitPlan {
    Rate {
        max: u32,
        per: TimeDelta,
        each: LimitScope,
    },
    MinGap {
        gap: TimeDelta,
        each: LimitScope,
    },
}

#[derive(Debug, Clone)]
pub struct QuietHoursPlan {
    pub from: chrono::NaiveTime,
    pub to: chrono::NaiveTime,
    pub then: Then,
}

/// The accounts a post goes to. Shared: the rows of a calendar that name the same accounts
/// hold one list between them.
pub type Accounts = Arc<[String]>;

/// The reason a one-off post whose time passed before `crier run` first saw it is recorded
/// as missed (history shows it; `validate` and `plan` warn about it beforehand).
pub const PASSED_BEFORE_LOADED: &str = "its time had passed when the plan was loaded";

/// A one-off post (an `at:` or a calendar row) whose time has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassedPost<'p> {
    pub campaign: &'p str,
    pub id: &'p str,
    pub at: DateTime<Tz>,
}

impl Plan {
    /// One-off posts due before `now` (inside their campaign's window, so they would have
    /// fired): a service that has not sent them records them as missed, never sends them.
    pub fn passed_one_offs(&self, now: DateTime<chrono::Utc>) -> Vec<PassedPost<'_>> {
        let mut passed = Vec::new();
        for campaign in &self.campaigns {
            for post in &campaign.posts {
                let Trigger::At(at) = &post.trigger else {
                    continue;
                };
                let at = &at.with_timezone(&campaign.timezone);
                let inside = campaign
                    .window
                    .as_ref()
                    .is_none_or(|window| window.from <= *at && *at < window.until);
                if *at <= now && inside {
                    passed.push(PassedPost {
                        campaign: &campaign.name,
                        id: &post.id,
                        at: *at,
                    });
                }
            }
        }
        passed
    }
}
