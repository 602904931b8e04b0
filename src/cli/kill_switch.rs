//! The kill switch: `crier pause` and `crier resume`. They only write to the store; a
//! running `crier run` holds covered sends from its next claim (within a second) and lets
//! them go, by each post's `missed:` policy and within the limits, once nothing holds them.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;

use super::engine_commands::{local, valid_plan};
use super::{USAGE, parse_instant};
use crate::playbook::plan::Plan;
use crate::store::{self, NewPause, PauseScope, to_millis};

type CommandResult = Result<ExitCode, String>;

/// What `--account`, `--campaign` and `--all` name, checked against the playbooks.
pub(super) fn scopes(
    plan: &Plan,
    accounts: &[String],
    campaigns: &[String],
    all: bool,
) -> Result<Vec<PauseScope>, String> {
    if all {
        if !accounts.is_empty() || !campaigns.is_empty() {
            return Err("--all covers everything: give it without --account or --campaign".into());
        }
        return Ok(vec![PauseScope::All]);
    }
    if accounts.is_empty() && campaigns.is_empty() {
        return Err("say what: --account NAME, --campaign NAME (each may repeat) or --all".into());
    }
    let mut scopes = Vec::new();
    for account in accounts {
        if !plan.accounts.contains_key(account) {
            return Err(unknown("account", account, plan.accounts.keys()));
        }
        scopes.push(PauseScope::Account(account.clone()));
    }
    for campaign in campaigns {
        if !plan.campaigns.iter().any(|c| &c.name == campaign) {
            return Err(unknown(
                "campaign",
                campaign,
                plan.campaigns.iter().map(|c| &c.name),
            ));
        }
        scopes.push(PauseScope::Campaign(campaign.clone()));
    }
    Ok(scopes)
}

/// The valid plan and the scopes the flags name, or the exit code (diagnostics or the
/// usage error printed).
fn plan_and_scopes(
    path: &Path,
    accounts: &[String],
    campaigns: &[String],
    all: bool,
) -> Result<Result<(Plan, Vec<PauseScope>), ExitCode>, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(Err(code)),
    };
    match scopes(&plan, accounts, campaigns, all) {
        Ok(scopes) => Ok(Ok((plan, scopes))),
        Err(message) => {
            eprintln!("error: {message}");
            Ok(Err(ExitCode::from(USAGE)))
        }
    }
}

fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a String>) -> String {
    let hint = crate::diagnostic::did_you_mean(name, known.map(String::as_str));
    format!(
        "unknown {what} `{name}`{}",
        hint.map(|h| format!("; {h}")).unwrap_or_default()
    )
}

/// Who is acting: `--by`, else the login name.
fn actor(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn pause(
    path: &Path,
    accounts: &[String],
    campaigns: &[String],
    all: bool,
    until: Option<&str>,
    reason: &str,
    by: Option<String>,
) -> CommandResult {
    let (plan, scopes) = match plan_and_scopes(path, accounts, campaigns, all)? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    if reason.trim().is_empty() {
        eprintln!("error: --reason must say why (it is shown to everyone who looks)");
        return Ok(ExitCode::from(USAGE));
    }
    let now = Utc::now();
    let until = match until {
        Some(text) => {
            let at = parse_instant(text, plan.timezone, "--until")?;
            if at <= now {
                eprintln!("error: --until {} is in the past", local(at, plan.timezone));
                return Ok(ExitCode::from(USAGE));
            }
            Some(at)
        }
        None => None,
    };
    let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
    let by = actor(by);
    for scope in scopes {
        let id = store
            .pause(
                &NewPause {
                    scope: scope.clone(),
                    until: until.map(to_millis),
                    reason: reason.to_string(),
                    by: by.clone(),
                },
                to_millis(now),
            )
            .map_err(|e| e.to_string())?;
        println!(
            "pause {id}: {scope} paused by {by}{}: {reason}",
            until
                .map(|u| format!(" until {}", local(u, plan.timezone)))
                .unwrap_or_default()
        );
    }
    println!(
        "sends it covers are held, not lost (a running `crier run` holds them within a second); `crier resume` lets them go"
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn resume(
    path: &Path,
    accounts: &[String],
    campaigns: &[String],
    all: bool,
    by: Option<String>,
) -> CommandResult {
    let (plan, scopes) = match plan_and_scopes(path, accounts, campaigns, all)? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
    let by = actor(by);
    let now = to_millis(Utc::now());
    let mut lifted = 0;
    for scope in &scopes {
        let count = store.resume(scope, &by, now).map_err(|e| e.to_string())?;
        if count == 0 {
            eprintln!("nothing to resume for {scope}: no pause in force on it");
        }
        lifted += count;
    }
    if lifted == 0 {
        let remaining = store.pauses(now).map_err(|e| e.to_string())?;
        if !remaining.is_empty() {
            eprintln!("pauses in force:");
            for pause in remaining {
                eprintln!("  {}: {} ({})", pause.id, pause.scope, pause.reason);
            }
        }
        return Ok(ExitCode::from(1));
    }
    println!(
        "lifted {lifted} pause(s); held posts go out within a second on a running `crier run` (or at its next start), each by its `missed:` policy and within the posting rules' limits"
    );
    let still = store.pauses(now).map_err(|e| e.to_string())?;
    for pause in still {
        println!(
            "still paused: {} ({}, by {})",
            pause.scope, pause.reason, pause.by
        );
    }
    Ok(ExitCode::SUCCESS)
}
