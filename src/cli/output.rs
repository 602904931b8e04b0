//! The command line's one way to write to stdout. A reader that goes away early (`crier plan
//! | head -1`) is not an error: once stdout is a broken pipe, everything else written to it is
//! dropped quietly and the command still ends with its own exit code. Any other write error is
//! said once on stderr. Messages for stderr go through `errln!`, which never panics either
//! (a closed stderr loses the message, not the command).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// `eprintln!` that ignores a closed or failing stderr instead of panicking.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

static CLOSED: AtomicBool = AtomicBool::new(false);
static FAILED: AtomicBool = AtomicBool::new(false);

/// Stdout for the CLI's output; see the module's note.
pub(crate) struct Stdout;

pub(crate) fn stdout() -> Stdout {
    Stdout
}

impl Stdout {
    fn absorb<T>(&self, result: io::Result<T>, quiet: T) -> io::Result<T> {
        match result {
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                CLOSED.store(true, Ordering::Relaxed);
                Ok(quiet)
            }
            Err(error) => {
                if !FAILED.swap(true, Ordering::Relaxed) {
                    errln!("error: cannot write the output: {error}");
                }
                Err(error)
            }
            ok => ok,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if CLOSED.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        let result = io::stdout().lock().write(buf);
        self.absorb(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if CLOSED.load(Ordering::Relaxed) {
            return Ok(());
        }
        let result = io::stdout().lock().flush();
        self.absorb(result, ())
    }
}

/// `println!` through [`Stdout`]: never panics on a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::output::stdout(), $($arg)*);
    }};
}

/// `print!` through [`Stdout`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!($crate::cli::output::stdout(), $($arg)*);
    }};
}
