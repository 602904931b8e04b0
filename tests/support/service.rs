//! `crier run` as a child process: started quietly, stopped with SIGINT and a bounded wait.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["run", dir.to_str().unwrap()])
        .env("CRIER_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start crier run")
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
