//! Fuzz target `propagation`: see `fuzz/harness/propagation.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/propagation.rs"]
mod propagation;

libfuzzer_sys::fuzz_target!(|data: &[u8]| propagation::run(data));
