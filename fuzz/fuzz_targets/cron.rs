//! The 5-field cron parser on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|expr: &str| {
    let _ = crier::schedule::CronSchedule::parse(expr);
});
