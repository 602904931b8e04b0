//! `accounts check`: every account's secrets resolved and its network's health check run,
//! nothing posted; one verdict per account, in plain words, with a warning when the token
//! stops reading people's data soon (Meta's data access expiry).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::connectors::{Connectors, http};
use crate::playbook::plan::Plan;

/// One account's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub account: String,
    pub network: &'static str,
    pub ok: bool,
    /// Why it is not ready, or what the check could not cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// When the token stops reading people's data (comments, insights) although it stays
    /// valid, where the network has such a date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_access_expires_at: Option<DateTime<Utc>>,
    /// What needs doing soon on an account that is ready now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// How long before the data access expiry accounts check warns.
pub const DATA_ACCESS_WARNING: TimeDelta = TimeDelta::days(14);

/// The warning for account `account` whose data access ends at `ends`, seen at `now`, times
/// in `tz`; `None` while it is more than [`DATA_ACCESS_WARNING`] away.
pub fn data_access_warning(
    account: &str,
    ends: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<String> {
    let at = ends.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z");
    let sign_in = format!("crier accounts connect {account}");
    if ends <= now {
        Some(format!(
            "the token's data access ended at {at}: reading comments and insights fails until someone signs in again with `{sign_in}`"
        ))
    } else if ends - now <= DATA_ACCESS_WARNING {
        let days = (ends - now).num_days();
        let left = match days {
            0 => "less than a day".to_owned(),
            1 => "1 day".to_owned(),
            n => format!("{n} days"),
        };
        Some(format!(
            "the token's data access ends at {at}, in {left}: after it, reading comments and insights fails; sign in again with `{sign_in}` before then"
        ))
    } else {
        None
    }
}

/// Checks every account of `plan` at once; the verdicts in the order of `accounts:`.
pub async fn check(plan: &Plan) -> Result<Vec<Checked>, String> {
    let client =
        http::client(&plan.http).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // A health check may take a few requests (log in, then look up the chat or room).
    let deadline = plan.http.request_timeout * 3 + plan.http.connect_timeout;
    let lookup = plan.http.request_timeout + plan.http.connect_timeout;
    let tz = plan.timezone;
    let mut checks = tokio::task::JoinSet::new();
    for (index, (name, built)) in Connectors::build_each(&plan.accounts, &client)
        .into_iter()
        .enumerate()
    {
        let network = plan.accounts[&name].network.name();
        checks.spawn(async move {
            let prefix = format!("account `{name}`: ");
            let checked = match built {
                Err(errors) => Checked {
                    account: name.clone(),
                    network,
                    ok: false,
                    detail: Some(
                        errors
                            .iter()
                            .map(|e| {
                                let text = e.to_string();
                                text.strip_prefix(&prefix).unwrap_or(&text).to_owned()
                            })
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    data_access_expires_at: None,
                    warning: None,
                },
                Ok(connector) => match tokio::time::timeout(deadline, connector.health()).await {
                    Ok(Ok(())) => {
                        let (data_access_expires_at, warning) =
                            match tokio::time::timeout(
                                lookup,
                                connector.data_access_expires_at(),
                            )
                            .await
                            {
                                Ok(Ok(Some(ends))) => (
                                    Some(ends),
                                    data_access_warning(&name, ends, Utc::now(), tz),
                                ),
                                Ok(Ok(None)) => (None, None),
                                Ok(Err(error)) => (
                                    None,
                                    Some(format!(
                                        "when the token's data access ends is not known: {}",
                                        error.reason()
                                    )),
                                ),
                                Err(_) => (
                                    None,
                                    Some(format!(
                                        "when the token's data access ends is not known: the network did not answer within {}",
                                        seconds(lookup)
                                    )),
                                ),
                            };
                        Checked {
                            account: name.clone(),
                            network,
                            ok: true,
                            detail: connector.health_limits().map(str::to_owned),
                            data_access_expires_at,
                            warning,
                        }
                    }
                    Ok(Err(error)) => Checked {
                        account: name.clone(),
                        network,
                        ok: false,
                        detail: Some(error.reason().to_owned()),
                        data_access_expires_at: None,
                        warning: None,
                    },
                    Err(_) => Checked {
                        account: name.clone(),
                        network,
                        ok: false,
                        detail: Some(format!(
                            "the network did not answer within {}",
                            seconds(deadline)
                        )),
                        data_access_expires_at: None,
                        warning: None,
                    },
                },
            };
            (index, checked)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = checks.join_next().await {
        results.push(joined.map_err(|e| format!("a health check failed: {e}"))?);
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, c)| c).collect())
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_access_warns_within_two_weeks_and_once_it_has_passed() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            data_access_warning("fb", now + TimeDelta::days(15), now, tz),
            None
        );
        assert_eq!(
            data_access_warning("fb", now + TimeDelta::days(3), now, tz).unwrap(),
            "the token's data access ends at 2026-12-08 10:00 CET, in 3 days: after it, reading comments and insights fails; sign in again with `crier accounts connect fb` before then"
        );
        assert_eq!(
            data_access_warning("fb", now - TimeDelta::hours(1), now, tz).unwrap(),
            "the token's data access ended at 2026-12-05 09:00 CET: reading comments and insights fails until someone signs in again with `crier accounts connect fb`"
        );
    }
}
