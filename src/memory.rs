//! Giving memory back to the operating system once a burst of work is over. glibc's malloc
//! keeps the pages a burst freed (spread over its per-thread arenas) and the process stays
//! at its peak; `malloc_trim` hands them back. The library forbids `unsafe`, so the binary
//! installs the call ([`set_release`]); the service asks for it ([`release`]) once it has
//! loaded its playbooks, and the dispatcher once it has sent something and then had nothing
//! to do for a while.

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Installs how this process gives freed memory back (once; later calls are ignored).
pub fn set_release(release: fn()) {
    let _ = RELEASE.set(release);
}

/// What a release did: resident memory before and after, in bytes (`None` where the
/// system does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub before: Option<u64>,
    pub after: Option<u64>,
}

/// Gives freed memory back, if the process installed a way to; `None` if it did not.
pub fn release() -> Option<Released> {
    let release = RELEASE.get()?;
    let before = resident();
    release();
    Some(Released {
        before,
        after: resident(),
    })
}

/// [`release`], saying at debug level how much was given back, and `after` what
/// ("a burst", "loading the playbooks").
pub fn release_and_report(after: &str) {
    let Some(released) = release() else {
        return;
    };
    let mb = |bytes: Option<u64>| bytes.map_or(f64::NAN, |b| b as f64 / 1_048_576.0);
    tracing::debug!(
        before_mb = format_args!("{:.1}", mb(released.before)),
        after_mb = format_args!("{:.1}", mb(released.after)),
        "memory given back to the system after {after}"
    );
}

/// The process's resident memory in bytes (`VmRSS`), on Linux.
pub fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_memory_is_read_on_linux() {
        let rss = resident().expect("VmRSS on Linux");
        assert!(rss > 0);
    }
}
