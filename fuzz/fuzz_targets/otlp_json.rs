//! Fuzz target `otlp_json`: see `fuzz/harness/otlp.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/otlp.rs"]
mod otlp;

libfuzzer_sys::fuzz_target!(|data: &[u8]| otlp::json(data));
