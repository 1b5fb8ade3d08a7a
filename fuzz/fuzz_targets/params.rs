//! Fuzz target `params`: see `fuzz/harness/params.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/params.rs"]
mod params;

libfuzzer_sys::fuzz_target!(|data: &[u8]| params::run(data));
