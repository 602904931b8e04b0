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
fn a_refused_connection_names_the_host_and_port() {
    // A port nothing listens on: bound, then let go. Another test may take it in between,
    // so a few fresh ports are tried before the verdict counts.
    let check = || {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = folder(&format!(
            "accounts:\n  masto: {{ network: mastodon, server: 'http://127.0.0.1:{port}', token: env:CRIER_TEST_MASTO_TOKEN }}\n"
        ));
        let out = crier(
            &dir,
            &["accounts", "check"],
            &[("CRIER_TEST_MASTO_TOKEN", "t0ken")],
        );
        (
            port,
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
        )
    };
    let (port, code, stdout) = (0..3)
        .map(|_| check())
        .find(|(_, _, stdout)| stdout.contains("Connection refused"))
        .expect("a port nothing listens on is refused");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("could not connect to")
            && stdout.contains(&format!(" at 127.0.0.1:{port}: ")),
        "{stdout}"
    );
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

/// Failing sends with known tokens (Telegram puts its token in the URL path; Mastodon in a
/// header), at the most verbose log level: the tokens appear nowhere crier writes, not in
/// its output, its logs, its history, nor its store file.
#[test]
fn known_tokens_never_appear_in_any_output_or_the_store() {
    use crate::support::fake_mastodon::FakeMastodon;
    use crate::support::fake_telegram::FakeTelegram;
    const TELEGRAM_TOKEN: &str = "123456:KNOWN-telegram-token-e5f4";
    const MASTODON_TOKEN: &str = "KNOWN-mastodon-token-a1b2";
    // Both servers expect other tokens, so every call is refused.
    let telegram = FakeTelegram::start("999:the-right-one");
    let mastodon = FakeMastodon::start();
    let dir = folder(&format!(
        "\
timezone: UTC
accounts:
  tg: {{ network: telegram, token: env:CRIER_TEST_TG_TOKEN, chat: '@brand_channel', server: '{}' }}
  masto: {{ network: mastodon, server: '{}', token: env:CRIER_TEST_MASTO_TOKEN }}
people:
  olena: {{ notify: masto }}
",
        telegram.url(),
        mastodon.url()
    ));
    std::fs::write(
        dir.path().join("launch.yaml"),
        "kind: campaign\nname: launch\nposts:\n  - id: hello\n    at: 2030-01-01 10:00\n    to: [tg, masto]\n    text: Hello\n",
    )
    .unwrap();
    let envs = [
        ("CRIER_TEST_TG_TOKEN", TELEGRAM_TOKEN),
        ("CRIER_TEST_MASTO_TOKEN", MASTODON_TOKEN),
        ("CRIER_LOG", "trace"),
    ];
    let path = dir.path().to_str().unwrap().to_owned();
    let mut everything = String::new();
    for args in [
        vec![
            "trigger", "launch", "hello", "--path", &path, "--by", "olena",
        ],
        vec!["accounts", "check", &path],
        vec!["history", &path, "--format", "json"],
        vec!["history", &path],
        vec!["status", &path],
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
        command.args(&args);
        for (name, value) in envs {
            command.env(name, value);
        }
        let out = command.output().unwrap();
        everything.push_str(&String::from_utf8_lossy(&out.stdout));
        everything.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    // The sends really failed, and said why.
    assert!(everything.contains("FAILED"), "{everything}");
    assert!(everything.contains("token"), "{everything}");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        everything.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
    }
    for token in [
        TELEGRAM_TOKEN,
        MASTODON_TOKEN,
        "KNOWN-telegram",
        "KNOWN-mastodon",
    ] {
        assert!(
            !everything.contains(token),
            "`{token}` appeared in crier's output or store"
        );
    }
}
