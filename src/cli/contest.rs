//! `crier contest status|entries|proof|verify|disqualify`: a contest's phase and counts,
//! every entry with its verdict, the proof of the draw and its check, and replacing a
//! disqualified winner.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::engine_commands::valid_plan;
use super::{DiagnosticFormat, INVALID, USAGE, print_diagnostics};
use crate::contest::lifecycle;
use crate::contest::{Proof, judge, verify};
use crate::engine::service::ServiceError;
use crate::ops::{self, contests::ContestError};
use crate::playbook::plan::{ContestPlan, Plan};
use crate::playbook::validate::Validated;
use crate::store::{self, Store};

type CommandResult = Result<ExitCode, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EntriesFormat {
    Table,
    Json,
    Csv,
}

/// The plan and store of a contest's folder, or the exit code (the error printed).
type Found = Result<(Plan, Arc<dyn Store>), ExitCode>;

fn contest_and_store(path: &Path, name: &str) -> Result<Found, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(Err(code)),
    };
    if !plan.contests.iter().any(|c| c.name == name) {
        let hint =
            crate::diagnostic::did_you_mean(name, plan.contests.iter().map(|c| c.name.as_str()));
        eprintln!(
            "error: unknown contest `{name}`{}",
            hint.map(|h| format!("; {h}")).unwrap_or_default()
        );
        return Ok(Err(ExitCode::from(USAGE)));
    }
    let store = store::open(&plan.store, &plan.root).map_err(|e| e.to_string())?;
    Ok(Ok((plan, store)))
}

fn find<'p>(plan: &'p Plan, name: &str) -> &'p ContestPlan {
    plan.contests
        .iter()
        .find(|c| c.name == name)
        .expect("checked")
}

pub(super) fn status(path: &Path, name: &str) -> CommandResult {
    let (plan, store) = match contest_and_store(path, name)? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let contest = find(&plan, name);
    let state = lifecycle::load_state(store.as_ref(), name).map_err(|e| e.to_string())?;
    let entries = lifecycle::load_entries(store.as_ref(), name).map_err(|e| e.to_string())?;
    let fmt = |at: chrono::DateTime<chrono_tz::Tz>| at.format("%Y-%m-%d %H:%M %Z").to_string();
    println!("{name}: {}", state.phase());
    println!("  announce  {}", fmt(contest.announce_at));
    println!("  closes    {}", fmt(contest.closes));
    println!("  draw      {}", fmt(contest.draw_at));
    println!("  entries seen: {}", entries.len());
    let verdicts = match &state.committed {
        Some(committed) => committed.verdicts.clone(),
        // Before the close: the verdicts as they would be now.
        None => judge(contest, &crate::script::ScriptEngine::new(), &entries, &[])
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
    };
    let eligible = verdicts.iter().filter(|v| v.eligible).count();
    println!(
        "  eligible: {eligible}{}",
        if state.committed.is_none() {
            " (so far)"
        } else {
            ""
        }
    );
    let mut by_rule: std::collections::BTreeMap<&str, usize> = Default::default();
    for verdict in verdicts.iter().filter(|v| !v.eligible) {
        *by_rule
            .entry(verdict.rule.as_deref().unwrap_or("?"))
            .or_default() += 1;
    }
    for (rule, count) in by_rule {
        println!("  excluded by {rule}: {count}");
    }
    if let Some(committed) = &state.committed {
        println!(
            "  commitment: list SHA-256 {}, seed SHA-256 {}",
            committed.list_sha256, committed.seed_sha256
        );
    }
    if state.drawn_at.is_some() {
        println!("  winners: {}", state.winners.join(", "));
        println!("  reserves: {}", state.reserves.join(", "));
        for s in &state.substitutions {
            println!(
                "  substituted: {} → {} ({})",
                s.out,
                s.replacement.as_deref().unwrap_or("nobody"),
                s.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn entries(path: &Path, name: &str, format: EntriesFormat) -> CommandResult {
    let (plan, store) = match contest_and_store(path, name)? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    let contest = find(&plan, name);
    let state = lifecycle::load_state(store.as_ref(), name).map_err(|e| e.to_string())?;
    let entries = lifecycle::load_entries(store.as_ref(), name).map_err(|e| e.to_string())?;
    let judged = judge(contest, &crate::script::ScriptEngine::new(), &entries, &[]);
    // After the close, the verdicts frozen then are the ones that count.
    let frozen: std::collections::HashMap<String, crate::contest::Verdict> = state
        .committed
        .map(|c| c.verdicts.into_iter().map(|v| (v.key.clone(), v)).collect())
        .unwrap_or_default();
    let rows: Vec<(crate::contest::Entry, crate::contest::Verdict)> = judged
        .into_iter()
        .map(|(entry, verdict)| {
            let verdict = frozen.get(&verdict.key).cloned().unwrap_or(verdict);
            (entry, verdict)
        })
        .collect();
    match format {
        EntriesFormat::Json => {
            for (entry, verdict) in &rows {
                println!(
                    "{}",
                    serde_json::json!({ "key": verdict.key, "entry": entry, "eligible": verdict.eligible, "rule": verdict.rule, "reason": verdict.reason })
                );
            }
        }
        EntriesFormat::Csv => {
            let mut out = csv::Writer::from_writer(std::io::stdout());
            out.write_record(["key", "author", "at", "eligible", "rule", "reason", "text"])
                .map_err(|e| e.to_string())?;
            for (entry, verdict) in &rows {
                out.write_record([
                    verdict.key.as_str(),
                    entry.author.as_str(),
                    &entry.at.to_rfc3339(),
                    if verdict.eligible { "yes" } else { "no" },
                    verdict.rule.as_deref().unwrap_or(""),
                    verdict.reason.as_deref().unwrap_or(""),
                    entry.text.as_str(),
                ])
                .map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())?;
        }
        EntriesFormat::Table => {
            if rows.is_empty() {
                println!("no entries yet");
            }
            for (entry, verdict) in &rows {
                let mark = if verdict.eligible {
                    "✓".to_string()
                } else {
                    format!(
                        "✗ {}: {}",
                        verdict.rule.as_deref().unwrap_or("?"),
                        verdict.reason.as_deref().unwrap_or("")
                    )
                };
                println!(
                    "{}  {}  {}  [{mark}] {}",
                    entry.at.format("%Y-%m-%d %H:%M"),
                    verdict.key,
                    entry.author,
                    entry.text.replace('\n', " ⏎ ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn proof(path: &Path, name: &str) -> CommandResult {
    let (plan, store) = match contest_and_store(path, name)? {
        Ok(found) => found,
        Err(code) => return Ok(code),
    };
    match lifecycle::proof(store.as_ref(), find(&plan, name)) {
        Ok(proof) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&proof).expect("proofs serialise")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

pub(super) fn verify_file(file: &Path) -> CommandResult {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let proof: Proof = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` is not a proof: {e}", file.display()))?;
    let problems = verify(&proof);
    if problems.is_empty() {
        println!(
            "the proof holds: {} eligible entries, seed matches its commitment, winners {} follow from them",
            proof.entries.len(),
            proof.winners.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        println!("✗ {problem}");
    }
    Ok(ExitCode::from(1))
}

pub(super) fn disqualify(path: &Path, name: &str, entry: &str, reason: &str) -> CommandResult {
    let report =
        |validated: &Validated| print_diagnostics(&validated.diagnostics, DiagnosticFormat::Text);
    match ops::contests::disqualify(path, &report, name, entry, reason) {
        Ok(substitution) => {
            println!(
                "{} disqualified ({}); {}. The announcement goes out with `crier run`.",
                substitution.out,
                substitution.reason,
                match &substitution.replacement {
                    Some(reserve) => format!("{reserve} wins instead"),
                    None => "no reserve is left".into(),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(ContestError::Load(ServiceError::Invalid)) => Ok(ExitCode::from(INVALID)),
        Err(error @ ContestError::UnknownContest { .. }) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(USAGE))
        }
        Err(ContestError::Refused(message)) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(1))
        }
        Err(error) => Err(error.to_string()),
    }
}
