//! `crier accounts check`, and secrets that never show: every account's verdict in plain
//! words, and a known token searched for in all that crier prints when a send fails.

use std::process::{Command, Output};

use tempfile::TempDir;

use crate::support::fake_network::FakeNetwork;

fn crier(dir: &TempDir, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
    command.args(args).arg(dir.path());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().expect("run crier")
}

fn folder(config: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("crier.yaml"), config).unwrap();
    dir
}

#[test]
fn accounts_check_gives_each_account_its_verdict() {
    let fake = FakeNetwork::start();
    let dir = folder(&format!(
        "\
timezone: Europe/Kyiv
accounts:
  crm: {{ network: webhook, url: '{}', secret: env:CRIER_TEST_CRM_SECRET }}
  local: {{ network: console }}
  missing_secret: {{ network: webhook, url: '{0}', secret: env:CRIER_TEST_UNSET_SECRET }}
  unreadable_file: {{ network: webhook, url: '{0}', secret: 'file:/nonexistent/crier/secret' }}
",
        fake.url()
    ));
    let out = crier(
        &dir,
        &["accounts", "check"],
        &[("CRIER_TEST_CRM_SECRET", "s3cret-value")],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "\
ACCOUNT          NETWORK  RESULT
crm              webhook  ok (a generic webhook cannot be checked without posting; its URL and secret were read)
local            console  ok
missing_secret   webhook  FAILED: environment variable `CRIER_TEST_UNSET_SECRET` is not set
unreadable_file  webhook  FAILED: cannot read secret file `/nonexistent/crier/secret`: No such file or directory (os error 2)
2 of 4 accounts not ready
"
    );
    // Nothing was posted to check.
    assert_eq!(fake.request_count(), 0);

    let out = crier(
        &dir,
        &["accounts", "check", "--format", "json"],
        &[("CRIER_TEST_CRM_SECRET", "s3cret-value")],
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["account"], "local");
    assert_eq!(lines[1]["ok"], true);
    assert_eq!(lines[2]["ok"], false);
}

#[test]
fn accounts_check_all_ready_exits_zero() {
    let dir = folder("accounts:\n  local: { network: console }\n");
    let out = crier(&dir, &["accounts", "check"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .ends_with("1 account ready\n")
    );
}

/// `crier run` names a missing secret at start-up, not at the first send.
#[test]
fn run_reports_a_missing_secret_at_start_up() {
    let dir = folder(
        "\
accounts:
  crm: { network: webhook, url: 'http://127.0.0.1:9/hook', secret: env:CRIER_TEST_UNSET_RUN_SECRET }
",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("run")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("crier run did not stop on a missing secret");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "account `crm`: environment variable `CRIER_TEST_UNSET_RUN_SECRET` is not set"
        ),
        "{stderr}"
    );
}
