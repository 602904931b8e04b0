//! `accounts check`: every account's secrets resolved and its network's health check run,
//! nothing posted; one verdict per account, in plain words.

use std::time::Duration;

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
}

/// Checks every account of `plan` at once; the verdicts in the order of `accounts:`.
pub async fn check(plan: &Plan) -> Result<Vec<Checked>, String> {
    let client =
        http::client(&plan.http).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // A health check may take a few requests (log in, then look up the chat or room).
    let deadline = plan.http.request_timeout * 3 + plan.http.connect_timeout;
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
                },
                Ok(connector) => match tokio::time::timeout(deadline, connector.health()).await {
                    Ok(Ok(())) => Checked {
                        account: name.clone(),
                        network,
                        ok: true,
                        detail: connector.health_limits().map(str::to_owned),
                    },
                    Ok(Err(error)) => Checked {
                        account: name.clone(),
                        network,
                        ok: false,
                        detail: Some(error.reason().to_owned()),
                    },
                    Err(_) => Checked {
                        account: name.clone(),
                        network,
                        ok: false,
                        detail: Some(format!(
                            "the network did not answer within {}",
                            seconds(deadline)
                        )),
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
