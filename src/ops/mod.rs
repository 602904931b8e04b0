//! The operator layer: every action a person takes on a running crier (pause, resume,
//! approve, reject, incident actions, trigger, contest disqualify) and the checks of who may take it and whether it is
//! still possible, written once for every front end. Actions take an [`Actor`], a person of
//! `crier.yaml`'s `people:`, and return typed results or a typed refusal with the facts in
//! its fields; each front end words them in its own terms (the CLI with its flag names).

use std::sync::Arc;

use serde::Serialize;

use crate::playbook::plan::Plan;
use crate::store::Store;

pub mod approvals;
pub mod contests;
pub mod hooks;
pub mod incidents;
pub mod mentions;
pub mod metrics;
pub mod pauses;
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
        if self.plan.people.contains_key(name) {
            return Ok(Actor(name.to_string()));
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
pub struct Actor(String);

impl Actor {
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
