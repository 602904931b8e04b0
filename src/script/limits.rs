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
/// Wall-clock time one evaluation may take.
pub const MAX_TIME: Duration = Duration::from_millis(100);
/// The clock is read every this many operations, not on each one.
const CLOCK_EVERY: u64 = 1_024;

thread_local! {
    static STARTED: Cell<Option<Instant>> = const { Cell::new(None) };
}

pub(super) fn apply(engine: &mut Engine) {
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_expr_depths(MAX_EXPR_DEPTH, MAX_EXPR_DEPTH);
    engine.set_max_string_size(MAX_STRING_SIZE);
    engine.set_max_array_size(MAX_ARRAY_SIZE);
    engine.set_max_map_size(MAX_MAP_SIZE);
    engine.set_max_variables(64);
    engine.on_progress(|operations| {
        if operations % CLOCK_EVERY != 0 {
            return None;
        }
        // Short evaluations never read the clock: the first reading starts it.
        STARTED.with(|started| match started.get() {
            Some(start) if operations > CLOCK_EVERY => {
                (start.elapsed() > MAX_TIME).then(|| "condition exceeded the time limit".into())
            }
            _ => {
                started.set(Some(Instant::now()));
                None
            }
        })
    });
}
