//! The sandbox: resource limits and a wall-clock cutoff, as the rhai book's safety chapters
//! describe. A condition is a small expression; these limits are generous for that and stop
//! anything else quickly.

use std::cell::Cell;
use std::time::{Duration, Instant};

use rhai::Engine;

pub const MAX_OPERATIONS: u64 = 100_000;
pub const MAX_CALL_LEVELS: usize = 16;
pub const MAX_EXPR_DEPTH: usize = 32;
pub const MAX_STRING_SIZE: usize = 64 * 1024;
pub const MAX_ARRAY_SIZE: usize = 10_000;
pub const MAX_MAP_SIZE: usize = 10_000;
/// Wall-clock time one evaluation may take: a backstop for slow built-ins (the operation
/// limit stops scripts long before, in well under 100 ms).
pub const MAX_TIME: Duration = Duration::from_secs(1);
/// The clock is read every this many operations, not on each one.
const CLOCK_EVERY: u64 = 1_024;

/// What `on_progress` stops an evaluation with, read back by `ScriptError::from_eval`.
pub(super) const STOPPED_OPERATIONS: &str = "operations";
pub(super) const STOPPED_TIME: &str = "time";

thread_local! {
    /// Operations of the current evaluation on this thread. rhai's own count misses the work
    /// done inside closures called by native functions (`map`, `filter`, ...: they run on a copy
    /// of the run state and 1.27 merges counts back only under a cfg it never sets), but every
    /// operation reaches `on_progress`, so counting here bounds them all.
    static OPERATIONS: Cell<u64> = const { Cell::new(0) };
    static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Starts counting an evaluation; dropping it restores the counters of an enclosing one.
pub(super) struct Metered(u64, Option<Instant>);

pub(super) fn start() -> Metered {
    Metered(OPERATIONS.replace(0), STARTED.take())
}

impl Drop for Metered {
    fn drop(&mut self) {
        OPERATIONS.set(self.0);
        STARTED.set(self.1);
    }
}

pub(super) fn apply(engine: &mut Engine) {
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_max_variables(64);
    engine.on_progress(|_| {
        let operations = OPERATIONS.get() + 1;
        OPERATIONS.set(operations);
        if operations > MAX_OPERATIONS {
            return Some(STOPPED_OPERATIONS.into());
        }
        if !operations.is_multiple_of(CLOCK_EVERY) {
            return None;
        }
        // Short evaluations never read the clock: the first reading starts it.
        match STARTED.get() {
            Some(start) => (start.elapsed() > MAX_TIME).then(|| STOPPED_TIME.into()),
            None => {
                STARTED.set(Some(Instant::now()));
                None
            }
        }
    });
}
