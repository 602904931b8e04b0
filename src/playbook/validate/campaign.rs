//! `kind: campaign`: times, cron rules, calendars, accounts, texts and conditions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{NaiveTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

use super::expand::Templates;
use super::{Validator, known_variables, spanned_scalar};
use crate::diagnostic::{Diagnostic, Position};
use crate::network::Capabilities;
use crate::playbook::plan::{Accounts, ApprovalPlan, CampaignPlan, PostPlan, Trigger};
use crate::playbook::raw::{
    ApprovalNeed, Campaign, Missed, PostApproval, PostApprovalTimeout, PostItem,
};
use crate::playbook::yaml::{Node, NodeKind, Spanned};
use crate::schedule::{self, CronSchedule, TimeWindow, read_calendar, resolve_local};
use crate::script::ConditionContext;

/// Variables every campaign text sees besides `vars`.
pub const CAMPAIGN_TEXT_VARIABLES: [&str; 3] = ["campaign", "post", "now"];

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
        let campaign_approval = campaign.approve.as_ref().and_then(|a| self.approval(a));
        let mut posts = Vec::new();
        let mut ids: HashSet<String> = HashSet::new();
        for item in &campaign.posts {
            if let Some(calendar) = &item.calendar {
                let approve = self.item_approval(item, &campaign_approval);
                posts.extend(self.calendar(item, calendar, tz, &known, approve));
                continue;
            }
            let approve = self.item_approval(item, &campaign_approval);
            if let Some(post) = self.post(item, tz, &known, approve) {
                if !ids.insert(post.id.clone()) {
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
            self.error(id, message, Some("give each post exactly one of `at:` (once), `cron:` (recurring) or `calendar:` (a CSV file)".into()));
            return None;
        }
        // A bad time is reported, and the rest of the post is still checked.
        let trigger = if let Some(at) = &item.at {
            self.datetime(at, tz).map(Trigger::At)
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
                Trigger::Cron(_) => Missed::Skip,
            });
        Some(PostPlan {
            id: id.value.clone(),
            trigger,
            to: to.into(),
            text,
            media: item.media.iter().map(|m| m.value.clone()).collect(),
            when,
            reply_to: item.reply_to.as_ref().map(|r| r.value.clone()),
            missed,
            max_late,
            approve,
        })
    }

    /// Every row of a CSV calendar becomes a one-off post.
    fn calendar(
        &mut self,
        item: &PostItem,
        calendar: &Spanned<String>,
        tz: Tz,
        known: &[&str],
        approve: Option<Arc<ApprovalPlan>>,
    ) -> Vec<PostPlan> {
        if item.at.is_some() || item.cron.is_some() || item.text.is_some() || !item.to.is_empty() {
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
                return Vec::new();
            }
        };
        let source = match schedule::calendar::calendar_source(&path, &bytes) {
            Ok(source) => source,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return Vec::new();
            }
        };
        self.calendars.push(source.clone());
        let rows = match read_calendar(&source) {
            Ok(rows) => rows,
            Err(diagnostics) => {
                self.diagnostics.extend(diagnostics);
                return Vec::new();
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
        let mut posts = Vec::new();
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
                    id: format!("{file_name}:{}", row.line),
                    trigger: Trigger::At(at),
                    to,
                    text: row.text.value.clone(),
                    media: row.media.iter().map(|m| m.value.clone()).collect(),
                    when: when.clone(),
                    reply_to: None,
                    missed: item.missed.as_ref().map_or(Missed::Once, |m| m.value),
                    max_late,
                    approve: approve.clone(),
                });
            }
        }
        posts
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
