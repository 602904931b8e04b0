//! `kind: contest`: times in order, the account, eligibility rules, winner messages.

use super::{Validator, known_variables};
use crate::network::Capabilities;
use crate::playbook::plan::ContestPlan;
use crate::playbook::raw::{Commitment, Contest, EntrySource, OnePer};
use crate::playbook::yaml::Node;
use crate::script::ConditionContext;

/// Variables contest texts see besides `vars`.
pub const CONTEST_TEXT_VARIABLES: [&str; 5] = ["contest", "closes", "draw_at", "winners", "winner"];

impl Validator<'_> {
    pub(super) fn contest(&mut self, node: &Node) -> Option<ContestPlan> {
        let contest = self.read::<Contest>(node)?;
        let tz = self.zone(contest.timezone.as_ref());
        if self.account(&contest.account) {
            self.account_can(
                &contest.account,
                Capabilities::READ_MENTIONS,
                "collecting a contest's entries",
            );
            // Posts carrying the hashtag need not mention the account: reading only its
            // mentions would quietly miss most entries, so a network that cannot search by
            // hashtag is refused rather than read differently.
            let from = &contest.entries.from;
            if from.value == EntrySource::Hashtag
                && let Some(mut diagnostic) = self.capability_error(
                    &contest.account.value,
                    Capabilities::SEARCH_HASHTAGS,
                    "`from: hashtag`",
                    |message| self.sources.error(from, message),
                )
            {
                diagnostic.hint = diagnostic.hint.map(|hint| {
                    format!(
                        "{hint}; or use `from: mentions` with the `hashtag:`, which reads only posts that mention the account"
                    )
                });
                self.push(diagnostic);
            }
            let dm = contest.winners.as_ref().and_then(|w| w.dm.as_ref());
            if let Some(dm) = dm
                && let Some(diagnostic) = self.capability_error(
                    &contest.account.value,
                    Capabilities::DIRECT_MESSAGE,
                    "`winners.dm:`",
                    |message| self.sources.error(dm, message),
                )
            {
                self.push(diagnostic);
            }
        }
        if let Some(owner) = &contest.owner {
            self.person(owner);
        }
        let known = known_variables(&contest.vars, &CONTEST_TEXT_VARIABLES);
        self.text(&contest.announce.text, &known);
        let announce_at = self.datetime(&contest.announce.at, tz);
        let closes = self.datetime(&contest.entries.closes, tz);
        let draw_at = self.datetime(&contest.draw.at, tz);
        if let (Some(announce), Some(closes)) = (announce_at, closes)
            && closes <= announce
        {
            self.error(
                &contest.entries.closes,
                "entries close before the contest is announced",
                Some("`entries.closes` must be after `announce.at`".into()),
            );
        }
        if let (Some(closes), Some(draw)) = (closes, draw_at)
            && draw < closes
        {
            self.error(
                &contest.draw.at,
                "the draw is before entries close",
                Some("`draw.at` must be at or after `entries.closes`".into()),
            );
        }
        let entries = &contest.entries;
        if entries.from.value == EntrySource::Hashtag && entries.hashtag.is_none() {
            self.error(
                &entries.from,
                "entries `from: hashtag` need a `hashtag:`",
                None,
            );
        }
        if let Some(hashtag) = &entries.hashtag
            && (!hashtag.starts_with('#')
                || hashtag.len() < 2
                || hashtag.contains(char::is_whitespace))
        {
            self.error(
                hashtag,
                format!("`{}` is not a hashtag", hashtag.value),
                Some("write it with `#` and no spaces: `#warmwinter`".into()),
            );
        }
        let mut eligible = Vec::new();
        for (name, rule) in &entries.eligible {
            if let Some(condition) = self.condition(rule, ConditionContext::ContestEligible) {
                eligible.push((name.clone(), condition));
            }
        }
        if contest.draw.winners.value == 0 {
            self.error(
                &contest.draw.winners,
                "a draw needs at least one winner",
                None,
            );
        }
        if let Some(proof) = &contest.draw.proof
            && proof.as_str() != "commit-reveal"
        {
            self.error(
                proof,
                format!("unknown proof `{}`", proof.value),
                Some("the proof crier publishes is `commit-reveal`".into()),
            );
        }
        let winners = contest.winners.as_ref();
        for text in winners
            .iter()
            .flat_map(|w| [w.reply.as_ref(), w.dm.as_ref()])
            .flatten()
        {
            self.text(text, &known);
        }
        Some(ContestPlan {
            name: contest.name.value.clone(),
            file: self.path(contest.name.mark.file),
            timezone: tz,
            account: contest.account.value.clone(),
            owner: contest.owner.as_ref().map(|o| o.value.clone()),
            vars: contest.vars.clone().into_iter().collect(),
            announce_at: announce_at?,
            announce_text: contest.announce.text.value.clone(),
            announce_media: contest
                .announce
                .media
                .iter()
                .map(|m| m.value.clone())
                .collect(),
            source: entries.from.value,
            hashtag: entries.hashtag.as_ref().map(|h| h.value.clone()),
            closes: closes?,
            one_per_author: entries.one_per == Some(OnePer::Author),
            eligible,
            exclude: entries.exclude.iter().map(|e| e.value.clone()).collect(),
            min_mentions: entries.min_mentions,
            deny_words: entries.deny_words.clone(),
            draw_at: draw_at?,
            winners: contest.draw.winners.value,
            reserves: contest.draw.reserves,
            post_commitment: contest.draw.commitment != Some(Commitment::Record),
            winners_reply: winners
                .and_then(|w| w.reply.as_ref())
                .map(|t| t.value.clone()),
            winners_dm: winners.and_then(|w| w.dm.as_ref()).map(|t| t.value.clone()),
        })
    }
}
