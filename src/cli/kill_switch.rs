//! `crier pause` and `crier resume`: arguments in, `ops::pauses` does the rest, its answer
//! or refusal out in the CLI's words.

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;

use super::engine_commands::{desk, local};
use super::{USAGE, parse_instant};
use crate::ops::pauses::{self, PauseError, Selection};
use crate::ops::{Actor, Desk};

type CommandResult = Result<ExitCode, String>;

/// Who is acting: `--by`, else the login name; one of `people:` either way.
pub(super) fn actor(desk: &Desk, by: Option<String>) -> Result<Actor, String> {
    let name = by
        .or_else(|| std::env::var("USER").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".into());
    desk.actor(&name)
        .map_err(|e| format!("{e} (say who with --by)"))
}

/// A refusal in the CLI's words, with its exit code.
fn refused(error: PauseError, tz: chrono_tz::Tz) -> CommandResult {
    let message = match error {
        PauseError::AllWithOthers => {
            "--all covers everything: give it without --account or --campaign".to_string()
        }
        PauseError::NothingNamed => {
            "say what: --account NAME, --campaign NAME (each may repeat) or --all".into()
        }
        PauseError::NoReason => "--reason must say why (it is shown to everyone who looks)".into(),
        PauseError::UntilInPast { until } => format!("--until {} is in the past", local(until, tz)),
        PauseError::NothingToResume { idle, remaining } => {
            for scope in idle {
                errln!("nothing to resume for {scope}: no pause in force on it");
            }
            if !remaining.is_empty() {
                errln!("pauses in force:");
                for pause in remaining {
                    errln!("  {}: {} ({})", pause.id, pause.scope, pause.reason);
                }
            }
            return Ok(ExitCode::from(1));
        }
        PauseError::Store(error) => return Err(error.to_string()),
        other @ (PauseError::UnknownAccount { .. } | PauseError::UnknownCampaign { .. }) => {
            other.to_string()
        }
    };
    errln!("error: {message}");
    Ok(ExitCode::from(USAGE))
}

pub(super) struct PauseArgs<'a> {
    pub selection: Selection,
    pub until: Option<&'a str>,
    pub reason: &'a str,
    pub by: Option<String>,
}

pub(super) fn pause(path: &Path, args: PauseArgs) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let tz = desk.plan.timezone;
    let by = actor(&desk, args.by)?;
    let until = match args.until {
        Some(text) => Some(parse_instant(text, tz, "--until")?),
        None => None,
    };
    let paused = match pauses::pause(&desk, &by, &args.selection, until, args.reason, Utc::now()) {
        Ok(paused) => paused,
        Err(error) => return refused(error, tz),
    };
    for made in paused {
        outln!(
            "pause {}: {} paused by {by}{}: {}",
            made.id,
            made.scope,
            until
                .map(|u| format!(" until {}", local(u, tz)))
                .unwrap_or_default(),
            args.reason
        );
    }
    outln!(
        "sends it covers are held, not lost (a running `crier run` holds them within a second); `crier resume` lets them go"
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn resume(path: &Path, selection: Selection, by: Option<String>) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let by = actor(&desk, by)?;
    let resumed = match pauses::resume(&desk, &by, &selection, Utc::now()) {
        Ok(resumed) => resumed,
        Err(error) => return refused(error, desk.plan.timezone),
    };
    for scope in &resumed.idle {
        errln!("nothing to resume for {scope}: no pause in force on it");
    }
    outln!(
        "lifted {} pause(s); held posts go out within a second on a running `crier run` (or at its next start), each by its `missed:` policy and within the posting rules' limits",
        resumed.lifted
    );
    for pause in resumed.still_paused {
        outln!(
            "still paused: {} ({}, by {})",
            pause.scope,
            pause.reason,
            pause.by
        );
    }
    Ok(ExitCode::SUCCESS)
}
