//! The `crier` binary: parse arguments, run the command, exit with its code.
#![forbid(unsafe_code)]

/// mimalloc gives memory back to the system after a burst (glibc's malloc kept a burst's
/// peak for the life of the service: freed memory spread over its per-thread arenas).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    crier::cli::main()
}
