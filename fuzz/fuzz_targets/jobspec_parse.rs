//! Any bytes through the job file front end: parse (HCL or JSON), then
//! canonicalize and validate what parses. It must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sched_core::jobspec::{ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    if let Ok(parsed) = parse("fuzz.hcl", src, &ParseOptions::default()) {
        let mut job = parsed.job;
        job.canonicalize();
        let _ = job.validate();
    }
});
