//! `crier accounts check`: `ops::accounts::check`'s verdicts as a table or JSON lines, with
//! when each token's data access ends where the network says, and a warning when soon.
//! `crier accounts connect`: authorize crier for one account through its network's OAuth
//! page and store the tokens.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::engine_commands::{runtime, valid_plan};
use super::{INVALID, TableFormat};
use crate::connectors::oauth::{self, Pkce};
use crate::connectors::{http, registry};
use crate::ops::accounts::Checked;

pub(super) fn check(path: &Path, format: TableFormat) -> Result<ExitCode, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let runtime = runtime()?;
    let results = runtime.block_on(crate::ops::accounts::check(&plan))?;
    match format {
        TableFormat::Table => out!("{}", table(&results, plan.timezone)),
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

fn table(results: &[Checked], tz: chrono_tz::Tz) -> String {
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
        let mut notes: Vec<String> = checked.detail.iter().cloned().collect();
        if let (Some(ends), None) = (checked.data_access_expires_at, &checked.warning) {
            notes.push(format!(
                "data access until {}",
                ends.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
            ));
        }
        let mut verdict = match (checked.ok, notes.is_empty()) {
            (true, true) => "ok".to_owned(),
            (true, false) => format!("ok ({})", notes.join("; ")),
            (false, false) => format!("FAILED: {}", notes.join("; ")),
            (false, true) => "FAILED".to_owned(),
        };
        if let Some(warning) = &checked.warning {
            verdict.push_str(&format!("; WARNING: {warning}"));
        }
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

/// How long `connect` waits for the browser to come back.
const CONNECT_WAIT: Duration = Duration::from_secs(5 * 60);

pub(super) fn connect(path: &Path, account: &str, port: u16) -> Result<ExitCode, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let Some(config) = plan.accounts.get(account) else {
        let known: Vec<&str> = plan.accounts.keys().map(String::as_str).collect();
        return Err(format!(
            "crier.yaml has no account `{account}` (it has: {})",
            known.join(", ")
        ));
    };
    let (authorizer, file) = registry::authorization(account, config)?;
    let title = authorizer.title();
    let client =
        http::client(&plan.http).map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port} for the redirect: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot read the redirect listener's port: {e}"))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let pkce = Pkce::new();
        let state = oauth::random_state();
        outln!(
            "Open this address in a browser signed in as the account `{account}` posts as:\n\n  {}\n",
            authorizer.url(&redirect, &state, &pkce)
        );
        outln!(
            "Waiting up to {} minutes for {title} to send the browser back to {redirect} ...",
            CONNECT_WAIT.as_secs() / 60
        );
        let code = tokio::time::timeout(
            CONNECT_WAIT,
            oauth::wait_for_code(&listener, &state, title),
        )
        .await
        .map_err(|_| {
            format!(
                "no redirect came back within {} minutes; run `crier accounts connect {account}` again",
                CONNECT_WAIT.as_secs() / 60
            )
        })?
        .map_err(|reason| {
            format!(
                "account `{account}`: {reason}; run `crier accounts connect {account}` again and allow what crier asks for"
            )
        })?;
        let granted = authorizer.grant(&client, &code, &redirect, &pkce).await?;
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}` for the tokens: {e}", dir.display()))?;
        }
        granted
            .write(&file)
            .map_err(|e| format!("cannot write the tokens to `{}`: {e}", file.display()))?;
        outln!(
            "account `{account}`{}: tokens written to `{}` (readable by its owner only); crier renews them from now on",
            granted
                .connected()
                .map(|what| format!(" ({what})"))
                .unwrap_or_default(),
            file.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}
