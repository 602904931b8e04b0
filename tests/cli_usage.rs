//! How the command line behaves around the commands themselves: output into a closed pipe,
//! help for every option, which folder a command reads, and the errors for the wrong one.

use std::process::{Command, Stdio};

/// `crier plan | head -1`: the reader is gone before crier writes; crier stops quietly, exit 0.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let copy = crate::support::playbooks::quickstart_copy();
    let mut child = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["plan", copy.path().to_str().unwrap(), "--days", "400"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run crier");
    // Closing the only reader now makes crier's first write meet a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("crier ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
