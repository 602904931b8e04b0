//! `crier accounts check`: resolve every account's secrets, run each connector's health
//! check, and say per account whether it is ready, in plain words.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::engine_commands::{runtime, valid_plan};
use super::{INVALID, TableFormat};
use crate::connectors::{Connectors, http};

/// One account's verdict.
#[derive(Debug, Clone, serde::Serialize)]
struct Checked {
    account: String,
    network: &'static str,
    ok: bool,
    /// Why it is not ready, or what the check could not cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

pub(super) fn check(path: &Path, format: TableFormat) -> Result<ExitCode, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let client =
        http::client(&plan.http).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // A health check may take a few requests (log in, then look up the chat or room).
    let deadline = plan.http.request_timeout * 3 + plan.http.connect_timeout;
    let runtime = runtime()?;
    let results = runtime.block_on(async {
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
                    Ok(connector) => {
                        match tokio::time::timeout(deadline, connector.health()).await {
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
                        }
                    }
                };
                (index, checked)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = checks.join_next().await {
            results.push(joined.map_err(|e| format!("a health check failed: {e}"))?);
        }
        results.sort_by_key(|(index, _)| *index);
        Ok::<_, String>(results.into_iter().map(|(_, c)| c).collect::<Vec<_>>())
    })?;
    match format {
        TableFormat::Table => out!("{}", table(&results)),
        TableFormat::Json => {
            for checked in &results {
                outln!(
                    "{}",
                    serde_json::to_string(checked).expect("a verdict serialises")
                );
            }
        }
    }
    if results.iter().all(|c| c.ok) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(INVALID))
    }
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

fn table(results: &[Checked]) -> String {
    let width = |f: fn(&Checked) -> usize, title: &str| {
        results.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let account_width = width(|c| c.account.chars().count(), "ACCOUNT");
    let network_width = width(|c| c.network.len(), "NETWORK");
    let mut out = format!(
        "{:account_width$}  {:network_width$}  RESULT\n",
        "ACCOUNT", "NETWORK"
    );
    for checked in results {
        let verdict = match (checked.ok, &checked.detail) {
            (true, None) => "ok".to_owned(),
            (true, Some(note)) => format!("ok ({note})"),
            (false, Some(reason)) => format!("FAILED: {reason}"),
            (false, None) => "FAILED".to_owned(),
        };
        out.push_str(&format!(
            "{:account_width$}  {:network_width$}  {verdict}\n",
            checked.account, checked.network
        ));
    }
    let failed = results.iter().filter(|c| !c.ok).count();
    let accounts = |n: usize| if n == 1 { "account" } else { "accounts" };
    out.push_str(&match failed {
        0 => format!("{} {} ready\n", results.len(), accounts(results.len())),
        n => format!(
            "{n} of {} {} not ready\n",
            results.len(),
            accounts(results.len())
        ),
    });
    out
}
