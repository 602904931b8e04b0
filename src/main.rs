//! The `crier` binary: parse arguments, run the command, exit with its code.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    crier::cli::main()
}
