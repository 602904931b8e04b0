//! The operator layer: every action a person takes on a running crier (pause, resume,
//! approve, reject, incident actions, trigger, contest disqualify) and the checks of who may
//! take it and whether it is still possible, written once for every front end. Actions take
//! an [`Actor`], a person of `crier.yaml`'s `people:` with their role, and return typed
//! results or a typed refusal with the facts in its fields; each front end words them in its
//! own terms (the CLI with its flag names). What a role allows is [`Actor::may`]; the API
//! checks it, and the people at the machine's terminal are trusted with everything.

use std::sync::Arc;

use serde::Serialize;

use crate::playbook::plan::{Plan, Role};
use crate::store::Store;

pub mod accounts;
pub mod approvals;
pub mod contests;
pub mod decision_links;
pub mod hooks;
pub mod incidents;
pub mod mentions;
pub mod metrics;
pub mod pauses;
pub mod sessions;
pub mod times;
pub mod tokens;
pub mod trigger;
pub mod views;

/// What operator actions work on: the validated plan and the store it names.
#[derive(Clone)]
pub struct Desk {
    pub plan: Arc<Plan>,
    pub store: Arc<dyn Store>,
}

impl Desk {
    pub fn new(plan: Arc<Plan>, store: Arc<dyn Store>) -> Self {
        Desk { plan, store }
    }

    /// The person `name` names, if they are one of `people:`.
    pub fn actor(&self, name: &str) -> Result<Actor, UnknownPerson> {
        if let Some(person) = self.plan.people.get(name) {
            return Ok(Actor {
                name: name.to_string(),
                role: person.role,
            });
        }
        Err(UnknownPerson {
            name: name.to_string(),
            hint: crate::diagnostic::did_you_mean(
                name,
                self.plan.people.keys().map(String::as_str),
            ),
        })
    }
}

/// A person of `crier.yaml`'s `people:`; only [`Desk::actor`] makes one, so every action is
/// taken by someone the playbooks know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    name: String,
    role: Role,
}

impl Actor {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this person's role allows `what`; the refusal says which role it needs.
    pub fn may(&self, what: Permission) -> Result<(), Forbidden> {
        if self.role >= what.needs() {
            return Ok(());
        }
        Err(Forbidden {
            person: self.name.clone(),
            role: self.role,
            what,
        })
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// What a role is needed for. Reading, acknowledging and resolving incidents, and deciding
/// the approvals that name a person, are every person's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    /// Acknowledge, decide (when named) or resolve an incident; decide an approval (when named).
    Respond,
    Trigger,
    Disqualify,
    Pause,
    Tokens,
}

impl Permission {
    /// The least role that allows it.
    pub fn needs(self) -> Role {
        match self {
            Permission::Read | Permission::Respond => Role::Viewer,
            Permission::Trigger | Permission::Disqualify => Role::Editor,
            Permission::Pause | Permission::Tokens => Role::Admin,
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Permission::Read => "reading",
            Permission::Respond => "responding",
            Permission::Trigger => "triggering a post",
            Permission::Disqualify => "disqualifying a winner",
            Permission::Pause => "pausing and resuming",
            Permission::Tokens => "managing tokens",
        }
    }
}

/// A person's role does not allow an action.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{person} is {} {}; {} needs the {} role (set `role:` in crier.yaml's `people:`)", if matches!(role, Role::Viewer) { "a" } else { "an" }, role.name(), what.doing(), what.needs().name())]
pub struct Forbidden {
    pub person: String,
    pub role: Role,
    pub what: Permission,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not one of the people in crier.yaml{}", hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
pub struct UnknownPerson {
    pub name: String,
    pub hint: Option<String>,
}

/// `name` is not among `known`: the refusal's hint, "did you mean" one of them.
fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<String> {
    crate::diagnostic::did_you_mean(name, known.map(String::as_str))
}
