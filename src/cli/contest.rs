//! `crier contest status|entries|proof|verify|disqualify`: a contest's phase and counts,
//! every entry with its verdict, the proof of the draw and its check, and replacing a
//! disqualified winner.

use std::path::Path;
use std::process::ExitCode;

use super::engine_commands::reading_desk;
use super::{INVALID, USAGE};
use crate::contest::{Proof, verify};
use crate::engine::service::ServiceError;
use crate::ops::contests::{self, ContestError, JudgedEntry};
use crate::playbook::validate::Validated;

type CommandResult = Result<ExitCode, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EntriesFormat {
    Table,
    Json,
    Csv,
}

/// A contest refusal in the CLI's words, with its exit code.
fn refused(error: ContestError) -> CommandResult {
    match error {
        ContestError::Load(ServiceError::Invalid) => Ok(ExitCode::from(INVALID)),
        error @ ContestError::UnknownContest { .. } => {
            errln!("error: {error}");
            Ok(ExitCode::from(USAGE))
        }
        ContestError::Refused(message) => {
            errln!("error: {message}");
            Ok(ExitCode::from(1))
        }
        error => Err(error.to_string()),
    }
}

pub(super) fn status(path: &Path, name: &str) -> CommandResult {
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let status = match contests::status(&desk, name) {
        Ok(status) => status,
        Err(error) => return refused(error),
    };
    let contest = desk
        .plan
        .contests
        .iter()
        .find(|c| c.name == name)
        .expect("the status found it");
    let fmt = |at: chrono::DateTime<chrono_tz::Tz>| at.format("%Y-%m-%d %H:%M %Z").to_string();
    outln!("{name}: {}", status.phase);
    outln!("  announce  {}", fmt(contest.announce_at));
    outln!("  closes    {}", fmt(contest.closes));
    outln!("  draw      {}", fmt(contest.draw_at));
    outln!("  entries seen: {}", status.seen);
    outln!(
        "  eligible: {}{}",
        status.eligible,
        if status.provisional { " (so far)" } else { "" }
    );
    for (rule, count) in &status.excluded {
        outln!("  excluded by {rule}: {count}");
    }
    if let Some(commitment) = &status.commitment {
        outln!(
            "  commitment: list SHA-256 {}, seed SHA-256 {}",
            commitment.list_sha256,
            commitment.seed_sha256
        );
    }
    if status.drawn {
        let listed = |keys: &[String]| {
            if keys.is_empty() {
                "none".to_string()
            } else {
                keys.join(", ")
            }
        };
        if status.winners.is_empty() {
            outln!(
                "  winners: none{}",
                if status.eligible == 0 {
                    ": no entry was eligible"
                } else {
                    ""
                }
            );
        } else {
            outln!("  winners: {}", listed(&status.winners));
        }
        outln!("  reserves: {}", listed(&status.reserves));
        for s in &status.substitutions {
            outln!(
                "  substituted: {} → {} ({})",
                s.out,
                s.replacement.as_deref().unwrap_or("nobody"),
                s.reason
            );
        }
    } else {
        outln!("  winners: not drawn yet (draw {})", fmt(contest.draw_at));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn entries(path: &Path, name: &str, format: EntriesFormat) -> CommandResult {
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let rows = match contests::entries(&desk, name) {
        Ok(rows) => rows,
        Err(error) => return refused(error),
    };
    match format {
        EntriesFormat::Json => {
            for JudgedEntry { entry, verdict } in &rows {
                outln!(
                    "{}",
                    serde_json::json!({ "key": verdict.key, "entry": entry, "eligible": verdict.eligible, "rule": verdict.rule, "reason": verdict.reason })
                );
            }
        }
        EntriesFormat::Csv => {
            let mut out = csv::Writer::from_writer(super::output::stdout());
            out.write_record(["key", "author", "at", "eligible", "rule", "reason", "text"])
                .map_err(|e| e.to_string())?;
            for JudgedEntry { entry, verdict } in &rows {
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
                outln!("no entries yet");
            }
            for JudgedEntry { entry, verdict } in &rows {
                let mark = if verdict.eligible {
                    "✓".to_string()
                } else {
                    format!(
                        "✗ {}: {}",
                        verdict.rule.as_deref().unwrap_or("?"),
                        verdict.reason.as_deref().unwrap_or("")
                    )
                };
                outln!(
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
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    match contests::proof(&desk, name) {
        Ok(proof) => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&proof).expect("proofs serialise")
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => refused(error),
    }
}

pub(super) fn verify_file(file: &Path) -> CommandResult {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read `{}`: {e}", file.display()))?;
    let proof: Proof = serde_json::from_str(&text)
        .map_err(|e| format!("`{}` is not a proof: {e}", file.display()))?;
    let problems = verify(&proof);
    if problems.is_empty() {
        outln!(
            "the proof holds: {} eligible entries, seed matches its commitment, winners {} follow from them",
            proof.entries.len(),
            proof.winners.join(", ")
        );
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        outln!("✗ {problem}");
    }
    Ok(ExitCode::from(1))
}

pub(super) fn disqualify(
    path: &Path,
    name: &str,
    entry: &str,
    reason: &str,
    by: Option<String>,
) -> CommandResult {
    let desk = match reading_desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let by = super::kill_switch::actor(&desk, by)?;
    // Its diagnostics were printed as the desk was read; the same files load again here.
    let report = |_: &Validated| {};
    match contests::disqualify(path, &report, &by, name, entry, reason, None) {
        Ok(substitution) => {
            outln!(
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
        Err(error) => refused(error),
    }
}
