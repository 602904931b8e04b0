//! The `crier` binary: parse arguments, run the command, exit with its code.
// The one `unsafe` call of crier is here, in `give_back_memory`; the library forbids it.
#![deny(unsafe_code)]

fn main() -> std::process::ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    crier::memory::set_release(give_back_memory);
    crier::cli::main()
}

/// Hands the pages glibc's malloc holds free, in every arena, back to the system: after a
/// burst the process would otherwise stay at its peak.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn give_back_memory() {
    // SAFETY: `malloc_trim` takes no pointers and may be called from any thread at any
    // time; glibc locks each arena while it trims it.
    unsafe {
        libc::malloc_trim(0);
    }
}
