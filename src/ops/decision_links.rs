//! Links in notices that open one decision's page: signed (HMAC-SHA256 with a key kept in the
//! store) for one person and one decision (an approval request, or an incident to acknowledge
//! or decide), expiring with the decision's deadline. Opening a link checks its signature,
//! its expiry and, when someone is signed in to the dashboard, that it is theirs; deciding
//! through it goes through the same operator functions as every other front end, recorded as
//! the person it was signed for.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::approvals::ApprovalError;
use super::incidents::{self, IncidentAction, IncidentError, Recorded};
use super::{Actor, Desk};
use crate::connectors::Author;
use crate::crisis::IncidentReport;
use crate::engine::approvals::{self, DecideError};
use crate::engine::links::DecisionLinks;
use crate::network::Network;
use crate::store::{
    ApprovalView, Decision, IncidentRow, ItemKey, Millis, Store, StoreError, from_millis, to_millis,
};

/// The name of the signing key in the store.
pub const KEY_NAME: &str = "decision-links";

/// How long a link to an incident lasts (an incident has no deadline of its own; a resolved
/// one takes no action anyway).
pub const INCIDENT_LINK_LIFETIME_MS: Millis = 24 * 3_600_000;

/// The path decision links open, under the server's address.
pub const PATH: &str = "/decide/";

/// What a link lets its person decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Subject {
    /// The approval request of one fire of a post.
    Approval {
        playbook: String,
        item: String,
        fire_at: Millis,
    },
    /// An incident: acknowledge it, or decide its waiting approval.
    Incident { id: i64 },
}

/// What a link says: for whom, what, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    #[serde(flatten)]
    pub subject: Subject,
    pub person: String,
    pub expires: Millis,
}

/// Why a link does not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefused {
    #[error(
        "this link is damaged or was not made by this crier; open the decision from the dashboard"
    )]
    Invalid,
    #[error("this link expired at {at}; the decision was due by then")]
    Expired { at: DateTime<Utc> },
    #[error("this link is {link_for}'s; you are signed in as {signed_in}")]
    OtherPerson { link_for: String, signed_in: String },
    #[error("this link is for `{person}`, who is no longer one of the people in crier.yaml")]
    UnknownPerson { person: String },
}

/// Makes and checks decision links with the store's key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    /// The server's address as people reach it, without a trailing slash.
    base: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("base", &self.base).finish()
    }
}

impl Signer {
    /// The signer of `store`'s links, its key made on first use; links point at `base`.
    pub fn open(store: &dyn Store, base: &str, now: DateTime<Utc>) -> Result<Signer, StoreError> {
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        let key = store.server_key(KEY_NAME, &fresh, to_millis(now))?;
        if key.len() < 32 {
            return Err(StoreError::Corrupt(format!(
                "the server key `{KEY_NAME}` is {} bytes; 32 expected",
                key.len()
            )));
        }
        Ok(Signer {
            key,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(payload.as_bytes());
        mac
    }

    /// The token of `claim`: its JSON and its signature, each base64url.
    pub fn token(&self, claim: &Claim) -> String {
        let json = serde_json::to_vec(claim).expect("claims serialise");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The link of `claim`.
    pub fn url(&self, claim: &Claim) -> String {
        format!("{}{PATH}{}", self.base, self.token(claim))
    }

    /// What `token` says, if this signer made it and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claim, LinkRefused> {
        let (payload, signature) = token.split_once('.').ok_or(LinkRefused::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkRefused::Invalid)?;
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| LinkRefused::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkRefused::Invalid)?;
        let claim: Claim = serde_json::from_slice(&json).map_err(|_| LinkRefused::Invalid)?;
        if to_millis(now) >= claim.expires {
            return Err(LinkRefused::Expired {
                at: from_millis(claim.expires),
            });
        }
        Ok(claim)
    }
}

impl DecisionLinks for Signer {
    fn approval(&self, person: &str, key: &ItemKey, fire_at: Millis, deadline: Millis) -> String {
        self.url(&Claim {
            subject: Subject::Approval {
                playbook: key.playbook.clone(),
                item: key.item.clone(),
                fire_at,
            },
            person: person.to_string(),
            expires: deadline,
        })
    }

    fn incident(&self, person: &str, id: i64, sent_at: Millis) -> String {
        self.url(&Claim {
            subject: Subject::Incident { id },
            person: person.to_string(),
            expires: sent_at + INCIDENT_LINK_LIFETIME_MS,
        })
    }
}

/// What an opened link shows.
#[derive(Debug, Clone)]
pub enum Pending {
    Approval(Box<ApprovalView>),
    Incident {
        row: IncidentRow,
        report: Box<IncidentReport>,
    },
}

/// A link that opened: whose it is and what it decides.
#[derive(Debug, Clone)]
pub struct Opened {
    pub claim: Claim,
    pub actor: Actor,
    pub pending: Pending,
}

/// Why a link's decision page or decision failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Refused(#[from] LinkRefused),
    #[error("the approval this link decides is no longer stored")]
    NoSuchApproval,
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    #[error(transparent)]
    Incident(#[from] IncidentError),
    /// The choice does not fit what the link decides (acknowledging an approval request).
    #[error("{0}")]
    Choice(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens `token`: checks it (and that it is `signed_in`'s, when someone is signed in) and
/// reads what it decides.
pub fn open(
    desk: &Desk,
    signer: &Signer,
    token: &str,
    signed_in: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Opened, LinkError> {
    let claim = signer.verify(token, now)?;
    if let Some(signed_in) = signed_in
        && signed_in != claim.person
    {
        return Err(LinkRefused::OtherPerson {
            link_for: claim.person.clone(),
            signed_in: signed_in.to_string(),
        }
        .into());
    }
    let actor = desk
        .actor(&claim.person)
        .map_err(|_| LinkRefused::UnknownPerson {
            person: claim.person.clone(),
        })?;
    let pending = match &claim.subject {
        Subject::Approval {
            playbook,
            item,
            fire_at,
        } => Pending::Approval(Box::new(
            desk.store
                .approval_for(&ItemKey::new(playbook, item), *fire_at)?
                .ok_or(LinkError::NoSuchApproval)?,
        )),
        Subject::Incident { id } => {
            let row = incidents::find(desk, *id)?;
            let report = incidents::report_of(&row)?;
            Pending::Incident {
                row,
                report: Box::new(report),
            }
        }
    };
    Ok(Opened {
        claim,
        actor,
        pending,
    })
}

/// What a person chose on a decision page (or in a reply to the notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Approve { note: Option<String> },
    Reject { note: Option<String> },
    Ack,
}

/// What a decision through a link did.
#[derive(Debug, Clone)]
pub enum Decided {
    Approval(Box<ApprovalView>),
    /// Recorded for the service, which applies it on its next tick.
    Incident(Recorded),
}

/// Decides what `token` opens as its person.
pub fn decide(
    desk: &Desk,
    signer: &Signer,
    token: &str,
    signed_in: Option<&str>,
    choice: Choice,
    now: DateTime<Utc>,
) -> Result<Decided, LinkError> {
    let opened = open(desk, signer, token, signed_in, now)?;
    decide_opened(desk, &opened.actor, &opened.pending, choice, now)
}

/// Decides `pending` as `actor`: the one path for links and replies to notices.
pub fn decide_opened(
    desk: &Desk,
    actor: &Actor,
    pending: &Pending,
    choice: Choice,
    now: DateTime<Utc>,
) -> Result<Decided, LinkError> {
    match pending {
        Pending::Approval(approval) => {
            let (decision, note) = match choice {
                Choice::Approve { note } => (Decision::Approve, note),
                Choice::Reject { note } => (Decision::Reject, note),
                Choice::Ack => {
                    return Err(LinkError::Choice(
                        "an approval request is approved or rejected, not acknowledged".into(),
                    ));
                }
            };
            let decided = approvals::decide(
                desk.store.as_ref(),
                approval,
                actor.name(),
                decision,
                note.as_deref(),
                now,
                desk.plan.timezone,
            )
            .map_err(|error: DecideError| LinkError::Approval(error.into()))?;
            Ok(Decided::Approval(Box::new(decided)))
        }
        Pending::Incident { row, .. } => {
            let action = match choice {
                Choice::Ack => IncidentAction::Ack,
                Choice::Approve { note } => IncidentAction::Decide {
                    approve: true,
                    note,
                },
                Choice::Reject { note } => IncidentAction::Decide {
                    approve: false,
                    note,
                },
            };
            Ok(Decided::Incident(incidents::act(
                desk, actor, row.id, action, now,
            )?))
        }
    }
}

/// A reply to a notice, in its words: `approve`, `reject: reason`, `ack` (any case, with
/// an optional note after a colon); `None` for anything else.
pub fn parse_reply(text: &str) -> Option<Choice> {
    // A reply may start by mentioning the bot: `@brand_bot approve`.
    let text = text.trim();
    let text = match text.strip_prefix('@') {
        Some(rest) => rest.split_once(char::is_whitespace)?.1.trim_start(),
        None => text,
    };
    let (word, note) = match text.split_once(':') {
        Some((word, note)) => (word.trim(), Some(note.trim())),
        None => (text, None),
    };
    let note = note.filter(|n| !n.is_empty()).map(str::to_string);
    match word.to_lowercase().as_str() {
        "approve" | "approved" => Some(Choice::Approve { note }),
        "reject" | "rejected" => Some(Choice::Reject { note }),
        "ack" | "acknowledge" | "acknowledged" => Some(Choice::Ack),
        _ => None,
    }
}

/// A reply to a notice, as a network's feed read it.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// The notify account it was read from.
    pub account: &'a str,
    pub network: Network,
    pub author: &'a Author,
    /// The network's id of the message it answers.
    pub in_reply_to: Option<&'a str>,
    pub text: &'a str,
}

/// What a reply did.
#[derive(Debug)]
pub enum ReplyOutcome {
    /// Not `approve`, `reject: why` or `ack`: an ordinary message.
    NotADecision,
    /// Its author is none of the people this account notifies (by their `users:`).
    NotFromAPerson,
    /// Nothing waits for the person's decision.
    NothingWaiting {
        person: String,
    },
    /// Several decisions wait and the reply answers none of their notices.
    Ambiguous {
        person: String,
        waiting: usize,
    },
    Decided {
        person: String,
        decided: Decided,
    },
}

/// Decides what `reply` answers, as the person who wrote it: the approval request whose
/// notice it answers, or else the only decision waiting for them (an approval request that
/// names them, or an open incident; `ack` only acknowledges incidents).
pub fn reply(desk: &Desk, reply: Reply<'_>, now: DateTime<Utc>) -> Result<ReplyOutcome, LinkError> {
    let Some(choice) = parse_reply(reply.text) else {
        return Ok(ReplyOutcome::NotADecision);
    };
    let Some(person) = desk.plan.people.values().find(|person| {
        person.notify.iter().any(|a| a == reply.account)
            && person
                .users
                .iter()
                .any(|(network, user)| *network == reply.network && is_author(user, reply.author))
    }) else {
        return Ok(ReplyOutcome::NotFromAPerson);
    };
    let actor = desk
        .actor(&person.name)
        .map_err(|_| LinkRefused::UnknownPerson {
            person: person.name.clone(),
        })?;
    let mut waiting: Vec<Pending> = Vec::new();
    if choice != Choice::Ack {
        let approvals = desk.store.approvals(true)?;
        for approval in approvals
            .into_iter()
            .filter(|a| a.approvers.contains(&person.name))
        {
            let notice = ItemKey::new(&approval.playbook, format!("{}/approval", approval.item));
            let answered = match reply.in_reply_to {
                Some(answered) => desk
                    .store
                    .latest_remote_id(&notice, reply.account)?
                    .is_some_and(|sent| sent.split(',').any(|id| id == answered)),
                None => false,
            };
            if answered {
                let decided = decide_opened(
                    desk,
                    &actor,
                    &Pending::Approval(Box::new(approval)),
                    choice,
                    now,
                )?;
                return Ok(ReplyOutcome::Decided {
                    person: person.name.clone(),
                    decided,
                });
            }
            waiting.push(Pending::Approval(Box::new(approval)));
        }
    }
    for row in desk.store.incidents()? {
        if row.status == "open" {
            let report = incidents::report_of(&row)?;
            waiting.push(Pending::Incident {
                row,
                report: Box::new(report),
            });
        }
    }
    match waiting.len() {
        0 => Ok(ReplyOutcome::NothingWaiting {
            person: person.name.clone(),
        }),
        1 => {
            let decided = decide_opened(desk, &actor, &waiting[0], choice, now)?;
            Ok(ReplyOutcome::Decided {
                person: person.name.clone(),
                decided,
            })
        }
        many => Ok(ReplyOutcome::Ambiguous {
            person: person.name.clone(),
            waiting: many,
        }),
    }
}

/// Whether `user` (as `users:` writes it) is `author`: their id, or their handle with or
/// without its `@`, in any case.
fn is_author(user: &str, author: &Author) -> bool {
    let bare = |s: &str| s.trim_start_matches('@').to_lowercase();
    user == author.id || (!author.handle.is_empty() && bare(user) == bare(&author.handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_their_words() {
        assert_eq!(parse_reply("approve"), Some(Choice::Approve { note: None }));
        assert_eq!(
            parse_reply("  Reject: the price is wrong "),
            Some(Choice::Reject {
                note: Some("the price is wrong".into())
            })
        );
        assert_eq!(parse_reply("@brand_bot ack"), Some(Choice::Ack));
        assert_eq!(parse_reply("ACK"), Some(Choice::Ack));
        assert_eq!(parse_reply("approve this please"), None);
        assert_eq!(parse_reply("what is this?"), None);
    }
}
