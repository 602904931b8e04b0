//! `crier plan` streamed: the lines of `preview`, in the same order, made and handed on one
//! at a time. Each timed post is an iterator of its fire times; a heap of their next fires
//! merges them in time order, and a line leaves as soon as no fire still to come can sort
//! before it. Memory holds one next fire per post and the lines of one instant, not the
//! window.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::{
    Fire, Planned, PlannedKind, campaign_window, contest_milestones, describe_condition,
    fixed_text, limit_line,
};
use crate::playbook::plan::{CampaignPlan, Plan, PostPlan, Trigger};
use crate::rules::limits::Limiter;
use crate::script::ScriptEngine;
use crate::text::TextTemplates;

/// Hands every line that would happen in `[from, until)` to `line`, in `preview`'s order.
pub fn stream(
    plan: &Plan,
    texts: &TextTemplates,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    line: &mut dyn FnMut(&Planned) -> io::Result<()>,
) -> io::Result<()> {
    // For the posting rules' `require:` conditions.
    let scripts = ScriptEngine::new();
    let mut made = Pending::default();
    let mut sources: Vec<Source> = Vec::new();
    for campaign in &plan.campaigns {
        let Some((start, end)) = campaign_window(campaign, from, until) else {
            continue;
        };
        for post in &campaign.posts {
            let condition = post
                .when
                .as_ref()
                .map(|when| describe_condition(plan, when.source()));
            let times: Box<dyn Iterator<Item = DateTime<Tz>>> = match &post.trigger {
                Trigger::Hook(hook) => {
                    made.push(Planned {
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
                Trigger::At(at) => {
                    if *at < start || *at >= end {
                        continue;
                    }
                    Box::new(std::iter::once(at.with_timezone(&campaign.timezone)))
                }
                Trigger::Cron(schedule) => Box::new(
                    schedule
                        .fire_times_after(campaign.timezone, start - TimeDelta::nanoseconds(1))
                        .take_while(move |at| at.with_timezone(&Utc) < end),
                ),
            };
            sources.push(Source {
                campaign,
                post,
                fixed_text: fixed_text(campaign, post, texts, start),
                condition,
                times,
            });
        }
    }
    let mut milestones = Vec::new();
    for contest in &plan.contests {
        contest_milestones(contest, texts, from, until, &mut milestones);
    }
    for milestone in milestones {
        made.push(milestone);
    }
    let mut next: BinaryHeap<Reverse<NextFire>> = BinaryHeap::new();
    for (index, source) in sources.iter_mut().enumerate() {
        if let Some(at) = source.times.next() {
            next.push(Reverse((at.with_timezone(&Utc), index, at)));
        }
    }
    let mut limits = Limiter::any(plan).then(|| Limits {
        limiter: Limiter::new(plan, Vec::new()),
        placed: Pending::default(),
    });
    let mut emit = |planned: Planned| -> io::Result<()> {
        match &mut limits {
            None => line(&planned),
            Some(limits) => {
                // The limits only delay: what they placed before this line's time is final.
                let rank = rank(&planned);
                while let Some(placed) = limits.placed.pop_before(rank) {
                    line(&placed)?;
                }
                let mut out = Vec::new();
                limit_line(&mut limits.limiter, planned, &mut out);
                for placed in out {
                    limits.placed.push(placed);
                }
                Ok(())
            }
        }
    };
    let mut lines = Vec::new();
    while let Some(Reverse((utc, index, at))) = next.pop() {
        // A fire's lines are at or after its time (a window only delays): every line made
        // before the earliest fire still to come is final.
        while let Some(planned) = made.pop_before((false, utc)) {
            emit(planned)?;
        }
        let source = &mut sources[index];
        Fire {
            plan,
            scripts: &scripts,
            texts,
            campaign: source.campaign,
            post: source.post,
            condition: &source.condition,
            fixed_text: &source.fixed_text,
        }
        .lines(at, &mut lines);
        for planned in lines.drain(..) {
            made.push(planned);
        }
        if let Some(at) = source.times.next() {
            next.push(Reverse((at.with_timezone(&Utc), index, at)));
        }
    }
    while let Some(planned) = made.pop() {
        emit(planned)?;
    }
    if let Some(mut limits) = limits {
        while let Some(placed) = limits.placed.pop() {
            line(&placed)?;
        }
    }
    Ok(())
}

/// A source's next fire: its instant (what orders the heap), the source, the local time.
type NextFire = (DateTime<Utc>, usize, DateTime<Tz>);

/// A timed post and its fire times still to come.
struct Source<'a> {
    campaign: &'a CampaignPlan,
    post: &'a PostPlan,
    fixed_text: Option<String>,
    condition: Option<String>,
    times: Box<dyn Iterator<Item = DateTime<Tz>> + 'a>,
}

struct Limits<'a> {
    limiter: Limiter<'a>,
    placed: Pending,
}

/// Where a line sorts first: lines fired by hooks, which have no time, after every other.
fn rank(planned: &Planned) -> (bool, DateTime<Utc>) {
    (planned.on_hook.is_some(), planned.at.with_timezone(&Utc))
}

/// Lines made but not yet handed on, soonest (in `preview`'s order) first; lines that sort
/// the same leave in the order they were made, as a stable sort keeps them.
#[derive(Default)]
struct Pending {
    heap: BinaryHeap<Reverse<Ordered>>,
    made: u64,
}

impl Pending {
    fn push(&mut self, planned: Planned) {
        self.made += 1;
        self.heap.push(Reverse(Ordered(planned, self.made)));
    }

    fn pop(&mut self) -> Option<Planned> {
        self.heap.pop().map(|Reverse(Ordered(planned, _))| planned)
    }

    /// The first line, if it sorts before `rank`.
    fn pop_before(&mut self, rank: (bool, DateTime<Utc>)) -> Option<Planned> {
        let Reverse(Ordered(first, _)) = self.heap.peek()?;
        if self::rank(first) < rank {
            self.pop()
        } else {
            None
        }
    }
}

struct Ordered(Planned, u64);

impl Ordered {
    fn key(&self) -> (bool, DateTime<Tz>, &str, PlannedKind, &str, u64) {
        let p = &self.0;
        (
            p.on_hook.is_some(),
            p.at,
            &p.playbook,
            p.kind,
            &p.item,
            self.1,
        )
    }
}

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ordered {}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}
