//! Fuzz target `sampling_strategies`: see `fuzz/harness/receivers.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/otlp.rs"]
mod otlp;
#[allow(dead_code)]
#[path = "../harness/receivers.rs"]
mod receivers;

libfuzzer_sys::fuzz_target!(|data: &[u8]| receivers::sampling_strategies(data));
