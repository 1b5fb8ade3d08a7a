//! Fuzz target `query_v1`: see `fuzz/harness/query.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/query.rs"]
mod query;

libfuzzer_sys::fuzz_target!(|data: &[u8]| query::v1(data));
