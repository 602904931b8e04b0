//! `crier token new|list|revoke`: people's API tokens, made and revoked by `ops::tokens`;
//! `crier login PERSON`: a one-time link to the dashboard (`ops::sessions`).

use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;

use super::engine_commands::{desk, local};
use super::{TableFormat, USAGE};
use crate::ops::tokens::{self, TokenInfo};

type CommandResult = Result<ExitCode, String>;

pub(super) fn new(path: &Path, person: &str, name: &str, expires: Option<&str>) -> CommandResult {
    let lifetime = match expires {
        Some(text) => Some(
            crate::schedule::parse_duration(text.trim())
                .map_err(|e| format!("--expires `{text}`: {}", e.message))?,
        ),
        None => None,
    };
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let person = desk.actor(person).map_err(|e| e.to_string())?;
    let issued =
        tokens::issue(&desk, &person, name, lifetime, Utc::now()).map_err(|e| e.to_string())?;
    let tz = desk.plan.timezone;
    outln!("{}", issued.secret);
    eprintln!(
        "token {} for {person} ({}), {}: shown this once; crier keeps only its hash",
        issued.token.id,
        person.role().name(),
        match issued.token.expires_at {
            Some(at) => format!("valid until {}", local(at, tz)),
            None => "valid until revoked".into(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn list(path: &Path, format: TableFormat) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let tz = desk.plan.timezone;
    let listed = tokens::list(&desk).map_err(|e| e.to_string())?;
    match format {
        TableFormat::Json => {
            for token in &listed {
                outln!("{}", json(token, tz));
            }
        }
        TableFormat::Table => {
            if listed.is_empty() {
                outln!("no tokens yet: `crier token new PERSON` makes one");
            }
            let now = Utc::now();
            for token in &listed {
                let state = match (token.revoked_at, token.expires_at) {
                    (Some(at), _) => format!("revoked {}", local(at, tz)),
                    (None, Some(at)) if at <= now => format!("expired {}", local(at, tz)),
                    (None, Some(at)) => format!("valid until {}", local(at, tz)),
                    (None, None) => "valid until revoked".into(),
                };
                outln!(
                    "{}  {}  {}  made {}  {state}",
                    token.id,
                    token.person,
                    token.name,
                    local(token.created_at, tz)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn json(token: &TokenInfo, tz: chrono_tz::Tz) -> serde_json::Value {
    let at = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).to_rfc3339();
    serde_json::json!({
        "id": token.id,
        "person": token.person,
        "name": token.name,
        "created_at": at(token.created_at),
        "expires_at": token.expires_at.map(at),
        "revoked_at": token.revoked_at.map(at),
    })
}

pub(super) fn revoke(path: &Path, id: i64) -> CommandResult {
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    match tokens::revoke(&desk, id, Utc::now()) {
        Ok(token) => {
            outln!(
                "token {} ({} of {}) revoked: it is refused from now on",
                token.id,
                token.name,
                token.person
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(tokens::TokenError::Store(error)) => Err(error.to_string()),
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(USAGE))
        }
    }
}

pub(super) fn login(path: &Path, person: &str, valid: &str, url: Option<&str>) -> CommandResult {
    let lifetime = crate::schedule::parse_duration(valid.trim())
        .map_err(|e| format!("--valid `{valid}`: {}", e.message))?;
    if lifetime <= chrono::TimeDelta::zero() {
        return Err(format!(
            "--valid `{valid}`: a link must be valid for some time"
        ));
    }
    let desk = match desk(path)? {
        Ok(desk) => desk,
        Err(code) => return Ok(code),
    };
    let base = match url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => match desk.plan.server.listen {
            Some(address) => format!("http://{address}"),
            None => {
                return Err(
                    "crier.yaml has no `server: { listen: … }`: give the dashboard's address with --url"
                        .into(),
                );
            }
        },
    };
    let person = desk.actor(person).map_err(|e| e.to_string())?;
    let link = crate::ops::sessions::issue_link(&desk, &person, lifetime, Utc::now())
        .map_err(|e| e.to_string())?;
    outln!("{base}{}", crate::ops::sessions::link_path(&link.secret));
    eprintln!(
        "signs {person} ({}) in once, until {}; crier keeps only its hash",
        person.role().name(),
        local(link.expires_at, desk.plan.timezone)
    );
    Ok(ExitCode::SUCCESS)
}
