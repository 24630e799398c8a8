//! Any bytes through `sched fmt`'s formatter: no panic, and formatting what
//! it accepts a second time changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sched_core::jobspec::fmt::format;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Ok(once) = format(src) {
        let twice = format(&once).expect("formatted output parses");
        assert_eq!(once, twice, "formatting is idempotent");
    }
});
