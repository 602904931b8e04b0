//! Links to a decision's page that notices carry while the server is on: the engine asks
//! for one per person it notifies (an approval request's approvers, an incident's people)
//! through [`DecisionLinks`], installed in the service's [`LinkSlot`] before the engine's
//! first fire when the server's address is known then (`Service::start_with_links`), and by
//! the server once bound. With no server, notices carry the commands to type instead, as
//! they always do.

use std::sync::{Arc, RwLock};

use crate::store::{ItemKey, Millis};

/// Makes the link that opens one decision for one person.
pub trait DecisionLinks: Send + Sync {
    /// The approval request of `key`'s fire at `fire_at`, valid until `deadline`.
    fn approval(&self, person: &str, key: &ItemKey, fire_at: Millis, deadline: Millis) -> String;
    /// Incident `id`, from a notice sent at `sent_at`.
    fn incident(&self, person: &str, id: i64, sent_at: Millis) -> String;
}

/// Where the running server's [`DecisionLinks`] are, shared by every engine of a service
/// (reloads included); empty while no server runs.
#[derive(Clone, Default)]
pub struct LinkSlot(Arc<RwLock<Option<Arc<dyn DecisionLinks>>>>);

impl LinkSlot {
    pub fn set(&self, links: Arc<dyn DecisionLinks>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some(links);
    }

    pub fn get(&self) -> Option<Arc<dyn DecisionLinks>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl std::fmt::Debug for LinkSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() {
            "LinkSlot(set)"
        } else {
            "LinkSlot(empty)"
        })
    }
}

/// The notices of one message to `people`: for each group of accounts, the text with the
/// links of the people those accounts reach (`link` makes one person's). `accounts_of`
/// gives each person's notify accounts. Without links, one notice to every account.
pub fn notices(
    people: &[String],
    accounts_of: impl Fn(&str) -> Vec<String>,
    text: &str,
    label: &str,
    link: Option<&dyn Fn(&str) -> String>,
) -> Vec<(Vec<String>, String)> {
    let mut accounts: Vec<(String, Vec<&str>)> = Vec::new();
    for person in people {
        for account in accounts_of(person) {
            match accounts.iter_mut().find(|(a, _)| *a == account) {
                Some((_, reached)) => {
                    if !reached.contains(&person.as_str()) {
                        reached.push(person);
                    }
                }
                None => accounts.push((account, vec![person])),
            }
        }
    }
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for (account, reached) in accounts {
        let body = match link {
            None => text.to_string(),
            Some(link) if reached.len() == 1 => {
                format!("{text}\n{label}: {}", link(reached[0]))
            }
            Some(link) => {
                let lines: Vec<String> = reached
                    .iter()
                    .map(|person| format!("{person}: {}", link(person)))
                    .collect();
                format!("{text}\n{label}:\n{}", lines.join("\n"))
            }
        };
        match out.iter_mut().find(|(_, t)| *t == body) {
            Some((group, _)) => group.push(account),
            None => out.push((vec![account], body)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts_of(person: &str) -> Vec<String> {
        match person {
            "alice" => vec!["tg_alice".into(), "team_chat".into()],
            "bob" => vec!["team_chat".into()],
            _ => vec![],
        }
    }

    #[test]
    fn each_account_gets_the_links_of_the_people_it_reaches() {
        let people = vec!["alice".to_string(), "bob".to_string()];
        let link = |person: &str| format!("https://c/decide/{person}");
        let notices = notices(&people, accounts_of, "Approve?", "Decide", Some(&link));
        assert_eq!(
            notices,
            vec![
                (
                    vec!["tg_alice".to_string()],
                    "Approve?\nDecide: https://c/decide/alice".to_string()
                ),
                (
                    vec!["team_chat".to_string()],
                    "Approve?\nDecide:\nalice: https://c/decide/alice\nbob: https://c/decide/bob"
                        .to_string()
                ),
            ]
        );
    }

    #[test]
    fn without_links_one_notice_to_every_account() {
        let people = vec!["alice".to_string(), "bob".to_string()];
        let notices = notices(&people, accounts_of, "Approve?", "Decide", None);
        assert_eq!(
            notices,
            vec![(
                vec!["tg_alice".to_string(), "team_chat".to_string()],
                "Approve?".to_string()
            )]
        );
    }
}
