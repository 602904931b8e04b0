//! `crier run` as a child process: started quietly (or with its log in a file, for tests
//! that wait on what it says), told to reload with SIGHUP, stopped with SIGINT and a bounded
//! wait.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `crier run` on `dir`; a server its crier.yaml asks for listens on a free port instead
/// (tests run side by side).
pub fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crier run")
}

/// `crier run` logging at `info` into `log` (kept outside the playbook folder).
pub fn start_logged(dir: &Path, log: &Path) -> Child {
    let file = std::fs::File::create(log).expect("create the log file");
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("CRIER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start crier run")
}

/// SIGHUP: reload the playbooks now.
pub fn hang_up(child: &Child) {
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "could not send SIGHUP to {}", child.id());
}

/// Waits (bounded) until `log` holds `message` at least `count` times; panics with the log
/// when it does not.
pub fn wait_for_log(log: &Path, message: &str, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.matches(message).count() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "`{message}` not logged {count} time(s) within {limit:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Replaces a file in one step (written beside it, then renamed), so a file watcher never
/// sees it half written.
pub fn replace_file(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).expect("write the staged file");
    std::fs::rename(&staged, path).expect("rename the staged file");
}

/// SIGINT, then wait (bounded) for a graceful exit; panics if it does not come.
pub fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("crier did not stop within 40 s of SIGINT");
}

/// `crier run` on `dir` serving on a free port, and the address it says it serves on
/// (waiting up to a minute for it). Its stdout is read to the end on a thread of its own, so
/// it never fills; its log is quiet.
pub fn start_serving(dir: &Path) -> (Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crier run");
    let stdout = child.stdout.take().unwrap();
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let base = loop {
        let line = said
            .recv_timeout(Duration::from_secs(60))
            .expect("crier run says where it serves");
        if let Some(address) = line.strip_prefix("serving the API on ") {
            break address.to_string();
        }
    };
    (child, base)
}
