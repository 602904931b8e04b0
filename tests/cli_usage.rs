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

/// Errors for a person go to stderr; a closed stderr loses them but does not make crier panic:
/// it still ends with the error's exit code.
#[test]
fn errors_into_a_closed_stderr_end_with_their_exit_code() {
    let copy = crate::support::playbooks::quickstart_copy();
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["incident", "report", "1", "--format", "xml"])
        .args(["-C", copy.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(writer)
        .output()
        .expect("run crier");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // A store nobody ran yet: the read-only view says so, and creates no store.
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(["incidents", "-C", copy.path().to_str().unwrap()])
        .output()
        .expect("run crier");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing recorded yet"),
        "{out:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .args([
            "contest",
            "status",
            "december-giveaway",
            "-C",
            copy.path().to_str().unwrap(),
        ])
        .output()
        .expect("run crier");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        std::fs::read_dir(copy.path()).unwrap().all(|entry| !entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("crier.db")),
        "a read-only view created the store"
    );
}

/// Every option and argument of every command says what it is in `--help`.
#[test]
fn every_argument_has_help() {
    use clap::CommandFactory;
    fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&crier::cli::Cli::command(), "crier", &mut missing);
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

fn crier_in(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .output()
        .expect("run crier")
}

/// The folder is the positional PATH where a command has one, or -C/--path for every command,
/// before or after the command's name.
#[test]
fn every_command_takes_the_folder_with_dash_c() {
    let copy = crate::support::playbooks::quickstart_copy();
    let dir = copy.path().to_str().unwrap();
    for args in [
        vec!["validate", dir],
        vec!["validate", "-C", dir],
        vec!["-C", dir, "validate"],
        vec!["status", "--path", dir],
        vec!["status", dir, "-C", dir],
        vec!["approvals", "-C", dir],
        vec!["incidents", "--path", dir],
        vec!["-C", dir, "accounts", "check"],
    ] {
        let out = crier_in(&args);
        assert!(
            out.status.success(),
            "crier {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let out = crier_in(&["status", dir, "-C", elsewhere.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("two folders given"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A folder without crier.yaml is no crier folder, said with the way to make one; a folder
/// holding several names them; a playbook file given directly still finds its crier.yaml.
#[test]
fn a_folder_without_crier_yaml_is_refused_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    let empty_dir = empty.path().to_str().unwrap();
    for command in ["validate", "status", "plan"] {
        let out = crier_in(&[command, empty_dir]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("holds no crier.yaml") && stderr.contains("crier init"),
            "{command}: {stderr}"
        );
    }

    let parent = tempfile::tempdir().unwrap();
    for name in ["shop", "brand"] {
        crate::support::playbooks::copy_folder(&quickstart(), &parent.path().join(name));
    }
    let out = crier_in(&["validate", parent.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("2 crier folder(s)")
            && stderr.contains(&format!("{}", parent.path().join("shop").display()))
            && stderr.contains(&format!("{}", parent.path().join("brand").display()))
            && stderr.lines().count() == 1,
        "{stderr}"
    );

    let copy = crate::support::playbooks::quickstart_copy();
    let playbook = copy.path().join("brand-guidelines.yaml");
    let out = crier_in(&["validate", playbook.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn quickstart() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart")
}
