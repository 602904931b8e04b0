//! `ConditionContext`: which playbook field a condition belongs to, and the variables and
//! functions it may use there.

/// Which field a condition belongs to; each documents the variables and functions it may use.
///
/// Every context sees `now`, a map describing the evaluation time in the playbook's time zone:
/// `iso` (string, RFC 3339), `hour`, `minute`, `day`, `month`, `year` (ints),
/// `weekday` (`"MON"` .. `"SUN"`) and `timestamp` (int, Unix seconds).
///
/// All rhai built-ins are available (`contains`, `len`, `to_lower`, `starts_with`, `in`,
/// array `some`/`all` with closures, ...), plus `text.graphemes()`: the number of
/// user-perceived characters (extended grapheme clusters) of a string, everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionContext {
    /// A campaign post's `when:`.
    ///
    /// - `now`: see above.
    /// - `vars`: map of the campaign's `vars:`.
    /// - `post`: map with `id` (string), `text` (string, the rendered text), `to` (array of
    ///   account names).
    /// - `metrics(account)`: map of the account's latest snapshot: `followers`, `posts`,
    ///   `likes`, `reposts`, `replies` (ints, 0 when there is no snapshot).
    CampaignWhen,
    /// The `when:` of a campaign post fired by a hook (`on: { hook: NAME }`): everything a
    /// campaign `when:` sees, and
    ///
    /// - `event`: the JSON body the hook received (objects are maps, arrays are arrays).
    HookWhen,
    /// A contest's `eligible:` rules, checked for each entry.
    ///
    /// - `now`: see above.
    /// - `entry`: map with `id`, `network`, `text`, `at` (ISO time) (strings) and `author`:
    ///   map with `handle` (string), `followers` (int), `age_days` (int),
    ///   `follows_us` (bool), `mentions` (array of handles the entry mentions).
    /// - `contest`: map with `name`.
    ContestEligible,
    /// A posting rule's `content.require:` checks, run on every post.
    ///
    /// - `now`: see above.
    /// - `post`: map with `text`, `account`, `campaign` (strings) and `network`: map with
    ///   `name` (string) and `max_chars` (int).
    RulesRequire,
    /// A crisis level's `when:` and `resolve.when:`.
    ///
    /// - `now`: see above.
    /// - `signal`: map of the latest watch results (`total`, `negative`, `positive`,
    ///   `neutral`, `spike`, ...), as shown in notifications.
    /// - `mentions(window)`: map with `total`, `negative`, `positive`, `neutral` and
    ///   `authors` (ints) for the mentions within `window` (`"30m"`, `"2h"`, `"7d"`).
    /// - `spike(sentiment, window, baseline)`: float, how many times the mentions of
    ///   `sentiment` (`"total"`, `"negative"`, `"positive"`, `"neutral"`) within `window`
    ///   exceed their usual level over `baseline`.
    /// - `zscore(sentiment, window, baseline)`: float, standard deviations above the baseline.
    /// - `rate(sentiment, window)`: float, mentions per minute within `window`.
    CrisisWhen,
}

/// Every function crier registers for some context (all are known to the engine, but each
/// context may only call its own).
pub(crate) const CONTEXT_FUNCTIONS: &[&str] = &["metrics", "mentions", "spike", "zscore", "rate"];

impl ConditionContext {
    pub const ALL: [ConditionContext; 5] = [
        ConditionContext::CampaignWhen,
        ConditionContext::HookWhen,
        ConditionContext::ContestEligible,
        ConditionContext::RulesRequire,
        ConditionContext::CrisisWhen,
    ];

    /// The variables a condition of this context sees.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            ConditionContext::CampaignWhen => &["now", "vars", "post", "run"],
            ConditionContext::HookWhen => &["now", "vars", "post", "run", "event"],
            ConditionContext::ContestEligible => &["now", "entry", "contest"],
            ConditionContext::RulesRequire => &["now", "post"],
            ConditionContext::CrisisWhen => &["now", "signal"],
        }
    }

    /// The crier functions (beyond rhai built-ins) a condition of this context may call.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            ConditionContext::CampaignWhen | ConditionContext::HookWhen => &["metrics"],
            ConditionContext::ContestEligible | ConditionContext::RulesRequire => &[],
            ConditionContext::CrisisWhen => &["mentions", "spike", "zscore", "rate"],
        }
    }

    /// The field, as a user writes it: "campaign `when:`".
    pub fn field(self) -> &'static str {
        match self {
            ConditionContext::CampaignWhen => "campaign `when:`",
            ConditionContext::HookWhen => "hook post `when:`",
            ConditionContext::ContestEligible => "contest `eligible:`",
            ConditionContext::RulesRequire => "rules `require:`",
            ConditionContext::CrisisWhen => "crisis `when:`",
        }
    }
}
