//! `crier accounts check`: `ops::accounts::check`'s verdicts as a table or JSON lines.

use std::path::Path;
use std::process::ExitCode;

use super::engine_commands::{runtime, valid_plan};
use super::{INVALID, TableFormat};
use crate::ops::accounts::Checked;

pub(super) fn check(path: &Path, format: TableFormat) -> Result<ExitCode, String> {
    let plan = match valid_plan(path)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let runtime = runtime()?;
    let results = runtime.block_on(crate::ops::accounts::check(&plan))?;
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
