//! `crier plan`: every post and contest milestone that would happen in a window, in time
//! order, with texts rendered. Reads only the validated `Plan`.

mod format;
mod stream;

pub use format::{Format, Writer, write};
pub use stream::stream;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::playbook::plan::{CampaignPlan, ContestPlan, Plan, PostPlan, Trigger};
use crate::playbook::raw::Then;
use crate::rules;
use crate::script::ScriptEngine;
use crate::text::{Renderer, TextTemplates};

/// What a planned line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlannedKind {
    Post,
    ContestAnnounce,
    EntriesClose,
    Draw,
}

/// One line of the preview.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub at: DateTime<Tz>,
    pub playbook: String,
    pub item: String,
    pub kind: PlannedKind,
    pub to: Vec<String>,
    pub text: String,
    /// The posting rules that changed this text or rejected this post, comma-separated
    /// (`None` when no rule touched it).
    pub rule: Option<String>,
    /// Why the posting rules reject this post; it would never go out.
    pub rejected: Option<String>,
    /// Who must approve this post first, by when, and what happens without a decision.
    pub approval: Option<String>,
    /// The post's `when:`, decided at fire time, and why it cannot hold where that is known.
    pub condition: Option<String>,
    /// The hook whose events fire this post: it has no time (`at` is the window's start),
    /// and its text is the template, as each event fills it in.
    pub on_hook: Option<String>,
}

/// Everything that would happen in `[from, until)`, sorted by time, then playbook and item.
pub fn preview(
    plan: &Plan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    // For the posting rules' `require:` conditions.
    let scripts = ScriptEngine::new();
    for campaign in &plan.campaigns {
        campaign_posts(plan, &scripts, campaign, texts, from, until, &mut planned);
    }
    for contest in &plan.contests {
        contest_milestones(contest, texts, from, until, &mut planned);
    }
    // Posts fired by hooks have no time: they come after every timed line.
    let order = |a: &Planned, b: &Planned| {
        (a.on_hook.is_some(), a.at, &a.playbook, a.kind, &a.item).cmp(&(
            b.on_hook.is_some(),
            b.at,
            &b.playbook,
            b.kind,
            &b.item,
        ))
    };
    planned.sort_by(order);
    if rules::limits::Limiter::any(plan) {
        planned = apply_limits(plan, planned);
        planned.sort_by(order);
    }
    planned
}

/// Places every post that would go out against the limits, in time order, the way the
/// dispatcher does: a post over a limit is listed when it would go out, the rule named,
/// and its accounts are split when the limits place them apart.
fn apply_limits(plan: &Plan, planned: Vec<Planned>) -> Vec<Planned> {
    let mut limiter = rules::limits::Limiter::new(plan, Vec::new());
    let mut out = Vec::with_capacity(planned.len());
    for line in planned {
        limit_line(&mut limiter, line, &mut out);
    }
    out
}

/// One line, in time order, placed against the limits: as it is, or delayed, or split.
fn limit_line(limiter: &mut rules::limits::Limiter, line: Planned, out: &mut Vec<Planned>) {
    let sends = matches!(line.kind, PlannedKind::Post | PlannedKind::ContestAnnounce)
        && line.rejected.is_none()
        && line.on_hook.is_none();
    if !sends {
        out.push(line);
        return;
    }
    // Accounts placed at the same moment stay on one line.
    let mut groups: Vec<(Option<rules::limits::Delay>, Vec<String>)> = Vec::new();
    for account in &line.to {
        let delay = limiter.place(account, &line.playbook, line.at.with_timezone(&Utc), false);
        let until = delay.as_ref().map(|d| d.until);
        match groups
            .iter_mut()
            .find(|(d, _)| d.as_ref().map(|d| d.until) == until)
        {
            Some((_, accounts)) => accounts.push(account.clone()),
            None => groups.push((delay, vec![account.clone()])),
        }
    }
    for (delay, accounts) in groups {
        let Some(delay) = delay else {
            out.push(Planned {
                to: accounts,
                ..line.clone()
            });
            continue;
        };
        let note = format!(
            "{}: delayed from {} ({})",
            delay.rule,
            line.at.format("%Y-%m-%d %H:%M"),
            delay.limit
        );
        out.push(Planned {
            at: delay.until.with_timezone(&line.at.timezone()),
            to: accounts,
            rule: Some(match &line.rule {
                Some(rule) => format!("{rule}; {note}"),
                None => note,
            }),
            ..line.clone()
        });
    }
}

fn campaign_posts(
    plan: &Plan,
    scripts: &ScriptEngine,
    campaign: &CampaignPlan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: &mut Vec<Planned>,
) {
    let Some((start, end)) = campaign_window(campaign, from, until) else {
        return;
    };
    for post in &campaign.posts {
        let condition = post
            .when
            .as_ref()
            .map(|when| describe_condition(plan, when.source()));
        if let Trigger::Hook(hook) = &post.trigger {
            out.push(Planned {
                at: start.with_timezone(&campaign.timezone),
                playbook: campaign.name.clone(),
                item: post.id.to_string(),
                kind: PlannedKind::Post,
                to: post.to.to_vec(),
                text: post.text.to_string(),
                rule: None,
                rejected: None,
                approval: None,
                condition,
                on_hook: Some(hook.to_string()),
            });
            continue;
        }
        let fixed_text = fixed_text(campaign, post, texts, start);
        let mut emit = |at: DateTime<Tz>| {
            let fire = Fire {
                plan,
                scripts,
                texts,
                campaign,
                post,
                condition: &condition,
                fixed_text: &fixed_text,
            };
            fire.lines(at, out)
        };
        match &post.trigger {
            Trigger::At(at) => {
                if *at >= start && *at < end {
                    emit(at.with_timezone(&campaign.timezone));
                }
            }
            Trigger::Cron(schedule) => {
                let after = start - chrono::TimeDelta::nanoseconds(1);
                for at in schedule.fire_times_after(campaign.timezone, after) {
                    if at.with_timezone(&Utc) >= end {
                        break;
                    }
                    emit(at);
                }
            }
            Trigger::Hook(_) => {}
        }
    }
}

/// The part of `[from, until)` inside the campaign's own window, if any.
fn campaign_window(
    campaign: &CampaignPlan,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (start, end) = match &campaign.window {
        Some(window) => (
            from.max(window.from.with_timezone(&Utc)),
            until.min(window.until.with_timezone(&Utc)),
        ),
        None => (from, until),
    };
    (start < end).then_some((start, end))
}

/// Only `now` differs between fires of one post; without it, the text is rendered once.
fn fixed_text(
    campaign: &CampaignPlan,
    post: &PostPlan,
    texts: &TextTemplates,
    start: DateTime<Utc>,
) -> Option<String> {
    (!post.text.contains("now")).then(|| {
        render(
            texts,
            &post.text,
            &campaign_context(campaign, &post.id, start.with_timezone(&campaign.timezone)),
        )
    })
}

/// What one fire of a timed post needs to become its lines.
struct Fire<'a> {
    plan: &'a Plan,
    scripts: &'a ScriptEngine,
    texts: &'a TextTemplates,
    campaign: &'a CampaignPlan,
    post: &'a PostPlan,
    condition: &'a Option<String>,
    fixed_text: &'a Option<String>,
}

impl Fire<'_> {
    /// The lines of the fire at `at`: held by a window (listed when it would go out), or
    /// rejected, or one line per version the posting rules make of it.
    fn lines(&self, at: DateTime<Tz>, out: &mut Vec<Planned>) {
        let Fire {
            plan,
            scripts,
            texts,
            campaign,
            post,
            condition,
            fixed_text,
        } = *self;
        let text = match fixed_text {
            Some(text) => text.clone(),
            None => render(texts, &post.text, &campaign_context(campaign, &post.id, at)),
        };
        let line = |to: Vec<String>, text: String| Planned {
            at,
            playbook: campaign.name.clone(),
            item: post.id.to_string(),
            kind: PlannedKind::Post,
            to,
            text,
            rule: None,
            rejected: None,
            approval: post.approve.as_ref().map(|approve| {
                let deadline = at - approve.before;
                format!(
                    "needs approval: {} of {} by {} (then {})",
                    approve.need.as_str(),
                    approve.by.join(", "),
                    deadline.format("%Y-%m-%d %H:%M"),
                    approve.on_timeout.as_str()
                )
            }),
            condition: condition.clone(),
            on_hook: None,
        };
        let hold = rules::hold(plan, &campaign.name, &post.to, at.with_timezone(&Utc));
        if let Some(hold) = &hold
            && hold.then == Then::Skip
        {
            out.push(Planned {
                rule: Some(hold.rule.clone()),
                rejected: Some(hold.to_string()),
                ..line(post.to.to_vec(), text)
            });
            return;
        }
        // A delayed post is listed when it would go out.
        let (at, delayed) = match &hold {
            Some(hold) => (
                hold.until.with_timezone(&at.timezone()),
                Some(format!(
                    "{}: delayed from {} ({})",
                    hold.rule,
                    at.format("%Y-%m-%d %H:%M"),
                    hold.window
                )),
            ),
            None => (at, None),
        };
        let line = |to: Vec<String>, text: String| Planned {
            at,
            rule: delayed.clone(),
            ..line(to, text)
        };
        let renderer = Renderer::Inline(texts);
        // Rendered inline: a preview has no stop to be cut short by.
        let Ok(checked) =
            rules::check_post(plan, scripts, renderer, &campaign.name, &post.to, &text, at)
        else {
            return;
        };
        match checked {
            Ok(versions) => out.extend(versions.into_iter().map(|version| {
                let line = line(version.accounts, version.text);
                let changed =
                    (!version.changed_by.is_empty()).then(|| version.changed_by.join(", "));
                Planned {
                    rule: match (changed, line.rule.clone()) {
                        (Some(changed), Some(delayed)) => Some(format!("{changed}; {delayed}")),
                        (changed, delayed) => changed.or(delayed),
                    },
                    ..line
                }
            })),
            Err(rejection) => out.push(Planned {
                rule: Some(rejection.rule.clone()),
                rejected: Some(rejection.to_string()),
                ..line(post.to.to_vec(), text)
            }),
        }
    }
}

/// What a campaign text sees: its `vars`, `campaign`, `post` and `now`.
pub fn campaign_context(campaign: &CampaignPlan, post_id: &str, at: DateTime<Tz>) -> Value {
    let mut context = campaign.vars.clone();
    context.insert("campaign".into(), json!(campaign.name));
    context.insert("post".into(), json!({ "id": post_id }));
    context.insert("now".into(), json!(at.to_rfc3339()));
    Value::Object(context)
}

fn contest_milestones(
    contest: &ContestPlan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    out: &mut Vec<Planned>,
) {
    let mut context = contest.vars.clone();
    context.insert("contest".into(), json!(contest.name));
    context.insert(
        "closes".into(),
        json!(contest.closes.format("%Y-%m-%d %H:%M").to_string()),
    );
    context.insert(
        "draw_at".into(),
        json!(contest.draw_at.format("%Y-%m-%d %H:%M").to_string()),
    );
    context.insert("winners".into(), json!([]));
    context.insert("winner".into(), json!(null));
    let context = Value::Object(context);
    let milestones = [
        (
            contest.announce_at,
            PlannedKind::ContestAnnounce,
            "announce",
            render(texts, &contest.announce_text, &context),
        ),
        (
            contest.closes,
            PlannedKind::EntriesClose,
            "entries-close",
            "(entries close; the eligible list is frozen and its commitment recorded)".to_string(),
        ),
        (
            contest.draw_at,
            PlannedKind::Draw,
            "draw",
            format!(
                "(draw {} winner(s) and {} reserve(s))",
                contest.winners, contest.reserves
            ),
        ),
    ];
    for (at, kind, item, text) in milestones {
        let utc = at.with_timezone(&Utc);
        if utc >= from && utc < until {
            out.push(Planned {
                at,
                playbook: contest.name.clone(),
                item: item.into(),
                kind,
                to: vec![contest.account.clone()],
                text,
                rule: None,
                rejected: None,
                approval: None,
                condition: None,
                on_hook: None,
            });
        }
    }
}

/// "decided at fire time: `SOURCE`", and, for each `metrics("ACCOUNT")` it reads on an
/// account whose network reports no metrics, that those are always zeros there.
fn describe_condition(plan: &Plan, source: &str) -> String {
    let mut text = format!("decided at fire time: `{}`", source.trim());
    let mut rest = source;
    while let Some(at) = rest.find("metrics(") {
        rest = &rest[at + "metrics(".len()..];
        let argument = rest.split(')').next().unwrap_or_default().trim();
        let name = argument.trim_matches(|c| c == '"' || c == '\'');
        let Some(account) = plan.accounts.get(name) else {
            continue;
        };
        if !account.network.capabilities().metrics {
            text.push_str(&format!(
                "; `{name}` is on {}, which reports no metrics, so `metrics(\"{name}\")` is always zeros",
                account.network.name()
            ));
        }
    }
    text
}

fn render(texts: &TextTemplates, source: &str, context: &Value) -> String {
    texts
        .render(source, context)
        .unwrap_or_else(|error| format!("(cannot render: {error})"))
}
