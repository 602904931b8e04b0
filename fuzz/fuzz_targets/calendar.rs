//! The CSV calendar reader on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = crier::schedule::calendar_source("fuzz.csv", data) {
        let _ = crier::schedule::read_calendar(&source);
    }
});
