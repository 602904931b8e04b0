//! `crier approvals`, `crier approve` and `crier reject`: what waits for a person's
//! decision, and the decisions (made by `ops::approvals`, worded here). They write to the
//! store only; a running `crier run` sends an approved post at its time (or at once, if it
//! was held past it).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;

use super::engine_commands::{desk, valid_plan};
use super::{TableFormat, USAGE};
use crate::engine::approvals::{DecideError, FindError, local};
use crate::ops::{self, approvals::ApprovalError};
use crate::store::{ApprovalState, ApprovalView, Decision};

type CommandResult = Result<ExitCode, String>;

pub(super) fn list(path: &Path, all: bool, format: TableFormat) -> CommandResult {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let list = match super::engine_commands::existing_store(&plan)? {
        Some(store) => ops::views::approvals(store.as_ref(), all).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let tz = plan.timezone;
    match format {
        TableFormat::Json => {
            for approval in &list {
                let value = serde_json::to_value(approval).expect("approvals serialise");
                let value = crate::ops::times::with_rfc3339_times(
                    value,
                    crate::ops::times::APPROVAL_TIMES,
                    tz,
                );
                outln!("{value}");
            }
        }
        TableFormat::Table => {
            if list.is_empty() {
                outln!(
                    "{}",
                    if all {
                        "no approvals yet"
                    } else {
                        "nothing waits for approval"
                    }
                );
            }
            for approval in &list {
                print_approval(approval, tz);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_approval(approval: &ApprovalView, tz: chrono_tz::Tz) {
    let state = match approval.state {
        ApprovalState::Pending => format!(
            "waiting: {} of {} by {} (then {})",
            approval.need,
            approval.approvers.join(", "),
            local(approval.deadline, tz),
            approval.on_timeout
        ),
        _ => approval.summary(),
    };
    outln!(
        "{}  {}/{}  goes out {} on {}",
        approval.id,
        approval.playbook,
        approval.item,
        local(approval.fire_at, tz),
        approval.accounts.join(", ")
    );
    outln!("    {state}");
    for decision in &approval.decisions {
        outln!(
            "    {} {} at {}{}",
            decision.by,
            match decision.decision {
                Decision::Approve => "approved",
                Decision::Reject => "rejected",
            },
            local(decision.at, tz),
            decision
                .note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        );
    }
    outln!("    “{}”", approval.text.replace('\n', " ⏎ "));
}

pub(super) fn decide(
    path: &Path,
    reference: &str,
    by: &str,
    decision: Decision,
    note: Option<&str>,
) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let by = desk.actor(by).map_err(|e| e.to_string())?;
    let tz = desk.plan.timezone;
    match ops::approvals::decide(&desk, &by, reference, decision, note, Utc::now()) {
        Ok(decided) => {
            print_approval(&decided, tz);
            if decided.state == ApprovalState::Pending {
                outln!("    (more approvals needed: `need: all`)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ApprovalError::Find(error)) => {
            let message = match error {
                FindError::NoSuchId { id } => {
                    format!("no approval {id}; `crier approvals` lists them")
                }
                FindError::NothingWaiting { reference } => format!(
                    "nothing of `{reference}` waits for approval; `crier approvals` lists what does"
                ),
                FindError::Store(error) => return Err(error.to_string()),
                other @ FindError::Malformed { .. } => other.to_string(),
            };
            errln!("error: {message}");
            Ok(ExitCode::from(USAGE))
        }
        Err(ApprovalError::Decide(error)) => {
            let message = match error {
                DecideError::RejectionWithoutNote => "a rejection needs --note saying why".into(),
                DecideError::Store(error) => return Err(error.to_string()),
                other => other.to_string(),
            };
            errln!("error: {message}");
            Ok(ExitCode::from(1))
        }
    }
}
