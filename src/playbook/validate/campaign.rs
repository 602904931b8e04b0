//! `kind: campaign`: times, cron rules, calendars, accounts, texts and conditions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

use super::expand::Templates;
use super::{Validator, known_variables, spanned_scalar};
use crate::diagnostic::{Diagnostic, Position};
use crate::network::Capabilities;
use crate::playbook::plan::{Accounts, ApprovalPlan, CampaignPlan, HookPlan, PostPlan, Trigger};
use crate::playbook::raw::{
    ApprovalNeed, Campaign, Hook, Missed, PostApproval, PostApprovalTimeout, PostItem,
};
use crate::playbook::yaml::{Node, NodeKind, Spanned};
use crate::schedule::{self, CronSchedule, TimeWindow, read_calendar, resolve_local};
use crate::script::ConditionContext;

/// Variables every campaign text sees besides `vars`.
pub const CAMPAIGN_TEXT_VARIABLES: [&str; 3] = ["campaign", "post", "now"];
/// What the text of a post fired by a hook sees besides those: the event's JSON body.
pub const HOOK_TEXT_VARIABLE: &str = "event";

impl Validator<'_> {
    pub(super) fn campaign(&mut self, node: &Node, templates: &Templates) -> Option<CampaignPlan> {
        let tz_node = node.get("timezone").and_then(spanned_scalar);
        let tz = self.zone(tz_node.as_ref());
        let mut extra_vars = serde_json::Map::new();
        let expanded;
        let node = match node.get("uses") {
            Some(uses) => {
                let expansion =
                    self.expand(templates, uses, node.get("with"), tz, &mut Vec::new())?;
                extra_vars = expansion.vars;
                expanded = with_posts(node, expansion.posts);
                &expanded
            }
            None => node,
        };
        let campaign = self.read::<Campaign>(node)?;
        let file = self.path(campaign.name.mark.file);
        let window = campaign
            .window
            .as_ref()
            .and_then(|w| self.window(w.from.as_ref(), w.until.as_ref(), tz));
        let mut vars = extra_vars;
        vars.extend(campaign.vars.clone());
        if campaign.posts.is_empty() {
            self.error(
                &campaign.name,
                format!("campaign `{}` has no posts", campaign.name.value),
                Some("add posts under `posts:`, or use a template with `uses:`".into()),
            );
        }
        let known = known_variables(&vars, &CAMPAIGN_TEXT_VARIABLES);
        let hooks = self.hooks(&campaign.name.value, &campaign.hooks);
        let campaign_approval = campaign.approve.as_ref().and_then(|a| self.approval(a));
        let mut posts = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        for item in &campaign.posts {
            if let Some(calendar) = &item.calendar {
                let approve = self.item_approval(item, &campaign_approval);
                self.calendar(item, calendar, tz, &known, approve, &mut posts);
                continue;
            }
            let approve = self.item_approval(item, &campaign_approval);
            let post = match &item.on {
                Some(on) => self.hook_post(item, on, &campaign.hooks, &known, approve),
                None => self.post(item, tz, &known, approve),
            };
            if let Some(post) = post {
                if !ids.insert(post.id.to_string()) {
                    let id = item.id.as_ref().expect("a post has an id");
                    self.error(
                        id,
                        format!("duplicate post id `{}`", id.value),
                        Some("ids are unique within a campaign".into()),
                    );
                }
                posts.push(post);
            }
        }
        // Checked against the items themselves: calendar rows and invalid posts make the
        // list of posts differ from the list of items.
        for reply_to in campaign
            .posts
            .iter()
            .filter_map(|item| item.reply_to.as_ref())
        {
            if !ids.contains(reply_to.as_str()) {
                let hint =
                    crate::diagnostic::did_you_mean(reply_to, ids.iter().map(String::as_str));
                self.error(reply_to, format!("unknown post `{}`", reply_to.value), hint);
            }
        }
        Some(CampaignPlan {
            name: campaign.name.value.clone(),
            file,
            timezone: tz,
            window,
            vars,
            posts,
            hooks,
        })
    }

    /// A campaign's `hooks:`: each named once across all playbooks, with a secret given as
    /// a reference (read when the service starts, never here).
    fn hooks(
        &mut self,
        campaign: &str,
        hooks: &std::collections::BTreeMap<String, Spanned<Hook>>,
    ) -> Vec<HookPlan> {
        let mut plans = Vec::new();
        for (name, hook) in hooks {
            let mut ok = true;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.error(
                    hook,
                    format!("hook name `{name}` cannot be part of a URL path"),
                    Some("use letters, digits, `-` and `_`: `new-review`".into()),
                );
                ok = false;
            }
            match self.hooks.get(name) {
                Some(other) => {
                    self.error(
                        hook,
                        format!("duplicate hook `{name}`"),
                        Some(format!(
                            "campaign `{other}` declares it already; hook names are unique across all playbooks, as each is its own URL"
                        )),
                    );
                    ok = false;
                }
                None => {
                    self.hooks.insert(name.clone(), campaign.to_string());
                }
            }
            let secret = match &hook.secret {
                None => {
                    self.error(
                        hook,
                        format!("hook `{name}` has no `secret`"),
                        Some(format!(
                            "every request must be signed: `secret: env:{}_SECRET`",
                            name.to_uppercase().replace('-', "_")
                        )),
                    );
                    ok = false;
                    String::new()
                }
                Some(secret) if !super::config::is_secret_reference(secret) => {
                    let mut diagnostic = self
                        .sources
                        .error(secret, format!("the `secret` of hook `{name}` holds a secret in the file"))
                        .with_hint(format!(
                            "secrets are references: write `secret: env:{}_SECRET` and set the variable, or `secret: file:/run/secrets/{name}`",
                            name.to_uppercase().replace('-', "_")
                        ));
                    // Never print the secret itself.
                    if let Some(line) = &mut diagnostic.source_line
                        && !secret.is_empty()
                    {
                        *line = line.replace(secret.as_str(), "********");
                        if let Some(position) = &mut diagnostic.position {
                            position.len = 8 + secret.width.saturating_sub(secret.chars().count());
                        }
                    }
                    self.push(diagnostic);
                    ok = false;
                    String::new()
                }
                Some(secret) => secret.trim().to_string(),
            };
            if let Some(pointer) = &hook.id
                && !pointer.starts_with('/')
            {
                self.error(
                    pointer,
                    format!("`{}` is not a JSON pointer", pointer.value),
                    Some(
                        "a JSON pointer starts with `/`: `/review/id` is `id` inside `review`"
                            .into(),
                    ),
                );
                ok = false;
            }
            if ok {
                plans.push(HookPlan {
                    name: name.clone(),
                    secret,
                    id_pointer: hook.id.as_ref().map(|p| p.value.clone()),
                });
            }
        }
        plans
    }

    /// A post fired by one of the campaign's hooks: no time, no missed-fire policy, no
    /// approval (it goes out when its event arrives); its `when:` and text see `event`.
    fn hook_post(
        &mut self,
        item: &PostItem,
        on: &Spanned<crate::playbook::raw::OnEvent>,
        hooks: &std::collections::BTreeMap<String, Spanned<Hook>>,
        known: &[&str],
        approve: Option<Arc<ApprovalPlan>>,
    ) -> Option<PostPlan> {
        let Some(id) = &item.id else {
            self.error(
                on,
                "post has no `id`",
                Some("give every post an `id:` unique in its campaign".into()),
            );
            return None;
        };
        if item.at.is_some() || item.cron.is_some() {
            self.error(
                id,
                format!("post `{}` has both a time and `on:`", id.value),
                Some(
                    "a post fires either at its time (`at:`, `cron:`) or on an event (`on:`)"
                        .into(),
                ),
            );
        }
        let hook = &on.hook;
        if !hooks.contains_key(hook.as_str()) {
            let hint = crate::diagnostic::did_you_mean(hook, hooks.keys().map(String::as_str))
                .or_else(|| {
                    Some(format!(
                        "declare it on the campaign: `hooks: {{ {}: {{ secret: env:{}_SECRET }} }}`",
                        hook.value,
                        hook.value.to_uppercase().replace('-', "_")
                    ))
                });
            self.error(hook, format!("unknown hook `{}`", hook.value), hint);
        }
        for (field, set) in [
            ("missed", item.missed.is_some()),
            ("max_late", item.max_late.is_some()),
        ] {
            if set {
                self.error(
                    id,
                    format!("`{field}:` does not apply to post `{}`", id.value),
                    Some("a post fired by a hook goes out when its event arrives; it is never missed".into()),
                );
            }
        }
        if approve.is_some() {
            let message = format!(
                "post `{}` is fired by a hook and cannot wait for an approval",
                id.value
            );
            let hint = Some(
                "it goes out when its event arrives; an `approve:` (its own or its campaign's) is for posts with a time".into(),
            );
            match &item.approve {
                Some(own) => self.error(own, message, hint),
                None => self.error(on, message, hint),
            }
        }
        if item.to.is_empty() {
            self.error(
                id,
                format!("post `{}` has no accounts", id.value),
                Some("add `to: [account, ...]` with accounts from `crier.yaml`".into()),
            );
        }
        let to = self.accounts(&item.to);
        for account in item.to.iter() {
            self.account_can(account, Capabilities::POST, "a post");
            if item.reply_to.is_some() {
                self.account_can(account, Capabilities::REPLY, "`reply_to:`");
            }
            if !item.media.is_empty() {
                self.account_can(account, Capabilities::MEDIA, "`media:`");
            }
        }
        let mut known = known.to_vec();
        known.push(HOOK_TEXT_VARIABLE);
        let text = match &item.text {
            Some(text) => {
                self.text(text, &known);
                text.value.clone()
            }
            None => {
                self.error(id, format!("post `{}` has no `text`", id.value), None);
                String::new()
            }
        };
        let when = item
            .when
            .as_ref()
            .and_then(|w| self.condition(w, ConditionContext::HookWhen));
        Some(PostPlan {
            id: id.value.as_str().into(),
            trigger: Trigger::Hook(hook.value.as_str().into()),
            to: to.into(),
            text: text.into(),
            media: item.media.iter().map(|m| m.value.clone()).collect(),
            when,
            reply_to: item.reply_to.as_ref().map(|r| r.value.as_str().into()),
            // Held by a pause, each event's post goes out when the pause lifts.
            missed: Missed::All,
            max_late: None,
            approve: None,
        })
    }

    /// A window of whole days (`2026-12-01`) or datetimes; `until` includes its whole day.
    pub(super) fn window(
        &mut self,
        from: Option<&Spanned<String>>,
        until: Option<&Spanned<String>>,
        tz: Tz,
    ) -> Option<TimeWindow> {
        let bound = |v: &mut Self, at: Option<&Spanned<String>>, end_of_day: bool| match at {
            None => Some(if end_of_day {
                tz.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).single()
            } else {
                tz.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).single()
            }),
            Some(at) => match schedule::parse_date_from(at.trim(), v.day_one_date()) {
                Ok(date) => {
                    let day = if end_of_day {
                        date.succ_opt().unwrap_or(date)
                    } else {
                        date
                    };
                    Some(Some(resolve_local(day.and_time(NaiveTime::MIN), tz)))
                }
                Err(_) => v.datetime(at, tz).map(Some),
            },
        };
        let start = bound(self, from, false)??;
        let end = bound(self, until, true)??;
        if end <= start {
            if let Some(until) = until {
                self.error(
                    until,
                    "the window ends before it starts",
                    Some("`until` must be after `from`".into()),
                );
            }
            return None;
        }
        Some(TimeWindow {
            from: start,
            until: end,
        })
    }

    /// An item's own `approve:`, or its campaign's.
    fn item_approval(
        &mut self,
        item: &PostItem,
        campaign: &Option<Arc<ApprovalPlan>>,
    ) -> Option<Arc<ApprovalPlan>> {
        match &item.approve {
            Some(own) => self.approval(own),
            None => campaign.clone(),
        }
    }

    fn approval(&mut self, approve: &Spanned<PostApproval>) -> Option<Arc<ApprovalPlan>> {
        if approve.by.is_empty() {
            self.error(
                approve,
                "an approval needs people to decide",
                Some("`approve: { by: [pr_lead] }` with people from `crier.yaml`".into()),
            );
            return None;
        }
        let mut ok = true;
        for person in approve.by.iter() {
            ok &= self.person(person);
        }
        let before = match &approve.before {
            Some(text) => self.duration(text)?,
            None => TimeDelta::zero(),
        };
        let ask = match &approve.ask {
            Some(text) => {
                let ask = self.duration(text)?;
                if ask.is_zero() {
                    self.error(
                        text,
                        "approvers asked 0 before the deadline cannot decide in time",
                        Some("give them time, e.g. `ask: 24h`".into()),
                    );
                }
                ask
            }
            None => TimeDelta::hours(24),
        };
        ok.then(|| {
            Arc::new(ApprovalPlan {
                by: approve.by.iter().map(|p| p.value.clone()).collect(),
                need: approve.need.unwrap_or(ApprovalNeed::Any),
                before,
                ask,
                on_timeout: approve.on_timeout.unwrap_or(PostApprovalTimeout::Hold),
            })
        })
    }

    fn post(
        &mut self,
        item: &PostItem,
        tz: Tz,
        known: &[&str],
        approve: Option<Arc<ApprovalPlan>>,
    ) -> Option<PostPlan> {
        let triggers = [item.at.as_ref(), item.cron.as_ref()]
            .into_iter()
            .flatten()
            .count();
        let id = match &item.id {
            Some(id) => id,
            None => {
                let at = item
                    .at
                    .as_ref()
                    .or(item.cron.as_ref())
                    .or(item.text.as_ref());
                let message = "post has no `id`";
                match at {
                    Some(at) => self.error(
                        at,
                        message,
                        Some("give every post an `id:` unique in its campaign".into()),
                    ),
                    None => self.error(
                        &item
                            .to
                            .first()
                            .cloned()
                            .unwrap_or_else(|| Spanned::unplaced(String::new())),
                        message,
                        None,
                    ),
                }
                return None;
            }
        };
        if triggers != 1 {
            let message = if triggers == 0 {
                format!("post `{}` has no time", id.value)
            } else {
                format!("post `{}` has both `at` and `cron`", id.value)
            };
            self.error(id, message, Some("give each post exactly one of `at:` (once), `cron:` (recurring), `calendar:` (a CSV file) or `on: { hook: NAME }` (an inbound event)".into()));
            return None;
        }
        // A bad time is reported, and the rest of the post is still checked.
        let trigger = if let Some(at) = &item.at {
            self.datetime(at, tz)
                .map(|at| Trigger::At(at.with_timezone(&chrono::Utc)))
        } else {
            let cron = item.cron.as_ref().expect("one trigger");
            match self.cron_rule(cron.trim()) {
                Ok(schedule) => Some(Trigger::Cron(schedule)),
                Err(error) => {
                    let diagnostic = self
                        .sources
                        .error_at_offset(
                            cron,
                            error.offset + leading_spaces(cron),
                            error.len.max(1),
                            error.message,
                        )
                        .with_optional_hint(error.hint);
                    self.push(diagnostic);
                    None
                }
            }
        };
        if item.to.is_empty() {
            self.error(
                id,
                format!("post `{}` has no accounts", id.value),
                Some("add `to: [account, ...]` with accounts from `crier.yaml`".into()),
            );
        }
        let to = self.accounts(&item.to);
        for account in item.to.iter() {
            self.account_can(account, Capabilities::POST, "a post");
            if item.reply_to.is_some() {
                self.account_can(account, Capabilities::REPLY, "`reply_to:`");
            }
            if !item.media.is_empty() {
                self.account_can(account, Capabilities::MEDIA, "`media:`");
            } else if item.reply_to.is_none() {
                self.account_posts_without_media(account);
            }
        }
        let text = match &item.text {
            Some(text) => {
                self.text(text, known);
                text.value.clone()
            }
            None => {
                self.error(id, format!("post `{}` has no `text`", id.value), None);
                String::new()
            }
        };
        let when = item
            .when
            .as_ref()
            .and_then(|w| self.condition(w, ConditionContext::CampaignWhen));
        let max_late = item.max_late.as_ref().and_then(|m| self.duration(m));
        let trigger = trigger?;
        let missed = item
            .missed
            .as_ref()
            .map(|m| m.value)
            .unwrap_or(match trigger {
                Trigger::At(_) => Missed::Once,
                Trigger::Cron(_) | Trigger::Hook(_) => Missed::Skip,
            });
        Some(PostPlan {
            id: id.value.as_str().into(),
            trigger,
            to: to.into(),
            text: text.into(),
            media: item.media.iter().map(|m| m.value.clone()).collect(),
            when,
            reply_to: item.reply_to.as_ref().map(|r| r.value.as_str().into()),
            missed,
            max_late,
            approve,
        })
    }

    /// Every row of a CSV calendar becomes a one-off post, added to `posts` (room made for
    /// all rows at once: a calendar's posts are most of a large plan, and neither a doubling
    /// vector's spare room nor a second copy of them should be).
    fn calendar(
        &mut self,
        item: &PostItem,
        calendar: &Spanned<String>,
        tz: Tz,
        known: &[&str],
        approve: Option<Arc<ApprovalPlan>>,
        posts: &mut Vec<PostPlan>,
    ) {
        if item.at.is_some()
            || item.cron.is_some()
            || item.on.is_some()
            || item.text.is_some()
            || !item.to.is_empty()
        {
            self.error(
                calendar,
                "a `calendar:` item takes its times, accounts and texts from the file",
                Some(
                    "keep only `calendar:` (and `when`, `missed`, `max_late`) on this item".into(),
                ),
            );
        }
        let base = self
            .sources
            .path(calendar.mark.file)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let path = base.join(calendar.trim());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.error(
                    calendar,
                    format!("cannot read calendar `{}`: {error}", calendar.value),
                    Some(format!(
                        "the path is relative to this playbook's folder: {}",
                        path.display()
                    )),
                );
                return;
            }
        };
        let source = match schedule::calendar::calendar_source(&path, &bytes) {
            Ok(source) => source,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return;
            }
        };
        self.calendars.push(source.clone());
        let rows = match read_calendar(&source) {
            Ok(rows) => rows,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return;
            }
        };
        let when = item
            .when
            .as_ref()
            .and_then(|w| self.condition(w, ConditionContext::CampaignWhen));
        let max_late = item.max_late.as_ref().and_then(|m| self.duration(m));
        let file_name = calendar
            .trim()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let at_cell = |cell: &crate::schedule::Located<String>, message: String| {
            Diagnostic::error(
                &source,
                Position::new(cell.line, cell.column, cell.value.chars().count().max(1)),
                message,
            )
        };
        posts.reserve_exact(rows.len());
        let account_names: Vec<String> = self.accounts.keys().cloned().collect();
        // Rows naming the same accounts share one list (a calendar has thousands of rows
        // and a handful of distinct lists).
        let mut shared_lists: HashMap<Vec<String>, Accounts> = HashMap::new();
        for row in rows {
            let at = match schedule::parse_local_datetime_from(
                row.at.value.trim(),
                tz,
                self.day_one_date(),
            ) {
                Ok(at) => Some(at),
                Err(error) => {
                    self.push(at_cell(&row.at, error.message).with_optional_hint(error.hint));
                    None
                }
            };
            let mut to = Vec::new();
            for account in &row.to {
                if self.references_unreliable || self.accounts.contains_key(&account.value) {
                    to.push(account.value.clone());
                } else {
                    let hint = crate::diagnostic::did_you_mean(
                        &account.value,
                        account_names.iter().map(String::as_str),
                    );
                    self.push(
                        at_cell(account, format!("unknown account `{}`", account.value))
                            .with_optional_hint(hint),
                    );
                }
            }
            if !row.media.is_empty() {
                for account in &row.to {
                    if let Some(diagnostic) = self.capability_error(
                        &account.value,
                        Capabilities::MEDIA,
                        "a row with media",
                        |message| at_cell(account, message),
                    ) {
                        self.push(diagnostic);
                    }
                }
            }
            if let Err(error) = self.texts.check(&row.text.value, known) {
                let line = row.text.line + error.line.saturating_sub(1);
                let column = if error.line <= 1 {
                    row.text.column + error.column.saturating_sub(1)
                } else {
                    error.column
                };
                self.push(
                    Diagnostic::error(
                        &source,
                        Position::new(line, column, error.len.max(1)),
                        error.message,
                    )
                    .with_optional_hint(error.hint),
                );
            }
            if let Some(at) = at {
                let to = match shared_lists.get(&to) {
                    Some(shared) => shared.clone(),
                    None => {
                        let shared: Accounts = to.clone().into();
                        shared_lists.insert(to, shared.clone());
                        shared
                    }
                };
                posts.push(PostPlan {
                    id: compact_str::format_compact!("{file_name}:{}", row.line),
                    trigger: Trigger::At(at.with_timezone(&chrono::Utc)),
                    to,
                    text: row.text.value.as_str().into(),
                    media: row.media.iter().map(|m| m.value.clone()).collect(),
                    when: when.clone(),
                    reply_to: None,
                    missed: item.missed.as_ref().map_or(Missed::Once, |m| m.value),
                    max_late,
                    approve: approve.clone(),
                });
            }
        }
    }
}

impl Validator<'_> {
    /// A parsed cron rule, shared with every other item written the same way.
    fn cron_rule(
        &mut self,
        source: &str,
    ) -> Result<std::sync::Arc<CronSchedule>, crate::schedule::CronError> {
        if let Some(rule) = self.cron_rules.get(source) {
            return Ok(rule.clone());
        }
        let rule = std::sync::Arc::new(CronSchedule::parse(source)?);
        self.cron_rules.insert(source.to_string(), rule.clone());
        Ok(rule)
    }
}

fn leading_spaces(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// The campaign node with the template's posts added after its own.
fn with_posts(node: &Node, extra: Vec<Node>) -> Node {
    let NodeKind::Mapping(entries) = &node.kind else {
        return node.clone();
    };
    let mut entries = entries.clone();
    match entries
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("posts"))
    {
        Some((
            _,
            Node {
                kind: NodeKind::Sequence(items),
                ..
            },
        )) => {
            let own = std::mem::take(items);
            items.extend(extra);
            items.extend(own);
        }
        Some(_) => {}
        None => {
            let mut key = Node::scalar("posts", node.mark);
            key.width = 1;
            entries.push((
                key,
                Node {
                    mark: node.mark,
                    width: 1,
                    kind: NodeKind::Sequence(extra),
                },
            ));
        }
    }
    Node {
        kind: NodeKind::Mapping(entries),
        ..node.clone()
    }
}
