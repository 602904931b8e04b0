//! Accounts: each account's health check (`ops::accounts::check`: its secrets resolved and
//! its network asked, nothing posted), when its token's data access ends where the network
//! says (with the check's warning when soon), and the last send to it that failed, among the
//! latest runs.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::{Viewer, when};
use crate::ops::accounts;
use crate::store::{HistoryFilter, OutboxState, from_millis};

/// How many of the latest runs are searched for each account's last failed send.
const RECENT_RUNS: usize = 500;

#[derive(Serialize)]
struct AccountRow {
    account: String,
    network: &'static str,
    ok: bool,
    detail: Option<String>,
    data_access_at: Option<String>,
    data_access_iso: Option<String>,
    warning: Option<String>,
    last_error: Option<String>,
    last_error_at: Option<String>,
    last_error_iso: Option<String>,
}

#[derive(Serialize)]
struct AccountsPage {
    accounts: Vec<AccountRow>,
    check_error: Option<String>,
}

pub async fn page(viewer: Viewer) -> Response {
    let plan = viewer.desk.plan.clone();
    let (checked, check_error) = match accounts::check(&plan).await {
        Ok(checked) => (checked, None),
        Err(error) => (Vec::new(), Some(error)),
    };
    let recent = match viewer.desk.store.history(&HistoryFilter {
        playbook: None,
        since: None,
        limit: Some(RECENT_RUNS),
    }) {
        Ok(runs) => runs,
        Err(error) => return viewer.frame.fail(StatusCode::INTERNAL_SERVER_ERROR, error),
    };
    let mut last_error: HashMap<&str, (i64, String)> = HashMap::new();
    for run in &recent {
        for send in run.outbox.iter().filter(|s| s.state == OutboxState::Failed) {
            let error = send.error.clone().unwrap_or_default();
            let entry = last_error
                .entry(send.account.as_str())
                .or_insert((send.updated_at, error.clone()));
            if send.updated_at > entry.0 {
                *entry = (send.updated_at, error);
            }
        }
    }
    let (brand, viewer_tz) = viewer.zones();
    let rows = plan
        .accounts
        .iter()
        .map(|(name, account)| {
            let check = checked.iter().find(|c| &c.account == name);
            let failed = last_error.get(name.as_str());
            let at = failed.map(|(at, _)| when(from_millis(*at), brand, viewer_tz));
            let data_access = check
                .and_then(|c| c.data_access_expires_at)
                .map(|ends| when(ends, brand, viewer_tz));
            AccountRow {
                account: name.clone(),
                network: account.network.profile().title,
                ok: check.is_some_and(|c| c.ok),
                detail: check.and_then(|c| c.detail.clone()),
                data_access_at: data_access.as_ref().map(|d| d.at.clone()),
                data_access_iso: data_access.map(|d| d.iso),
                warning: check.and_then(|c| c.warning.clone()),
                last_error: failed.map(|(_, e)| e.clone()),
                last_error_at: at.as_ref().map(|a| a.at.clone()),
                last_error_iso: at.map(|a| a.iso),
            }
        })
        .collect();
    viewer.frame.render(
        StatusCode::OK,
        "accounts.html",
        "accounts.title",
        AccountsPage {
            accounts: rows,
            check_error,
        },
        None,
        None,
    )
}
