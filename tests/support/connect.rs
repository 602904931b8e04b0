//! `crier accounts connect` driven as a person would drive it: the command runs as a child
//! process, its authorization address is read from its output, and the browser's redirect
//! back to its local port is made with reqwest.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

pub struct Connecting {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The authorization address's query.
    pub query: BTreeMap<String, String>,
}

/// The result of a finished `crier accounts connect`.
pub struct Connected {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Connecting {
    /// Starts `crier accounts connect ACCOUNT DIR --port 0` with `envs`, and reads its output
    /// until it prints an address starting with `page` (the authorization page, `…?`).
    pub fn start(dir: &Path, account: &str, envs: &[(&str, &str)], page: &str) -> Connecting {
        let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
        command
            .args(["accounts", "connect", account, "--port", "0"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut address = None;
        for _ in 0..10 {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(rest) = line.trim().strip_prefix(page) {
                address = Some(rest.to_owned());
                break;
            }
        }
        let Some(address) = address else {
            let _ = child.kill();
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("no address starting with {page} was printed; stderr: {stderr}");
        };
        let query = reqwest::Url::parse(&format!("http://l/?{address}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        Connecting {
            child,
            stdout,
            query,
        }
    }

    pub fn redirect(&self) -> &str {
        &self.query["redirect_uri"]
    }

    /// The browser comes back with `query` (the `state` added); the page it shows.
    pub async fn back(&self, query: &str) -> String {
        let url = format!("{}?{query}&state={}", self.redirect(), self.query["state"]);
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    }

    /// The person approves: `authorize` (the fake's) makes the code for the redirect, the
    /// browser comes back with it, and the command ends; the code and how it ended.
    pub async fn approve(self, authorize: impl FnOnce(&str) -> String) -> (String, Connected) {
        let code = authorize(self.redirect());
        self.back(&format!("code={code}")).await;
        (code, self.finish().await)
    }

    /// Waits (at most 20 s) for the command to end.
    pub async fn finish(mut self) -> Connected {
        let mut waited = 0;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(waited < 400, "crier accounts connect did not end");
            waited += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let mut stdout = String::new();
        self.stdout.read_to_string(&mut stdout).unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        Connected {
            success: status.success(),
            stdout,
            stderr,
        }
    }
}

/// `crier accounts check DIR`: whether it passed, and its output.
pub fn check(dir: &Path, envs: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crier"));
    command.args(["accounts", "check"]).arg(dir);
    for (name, value) in envs {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
