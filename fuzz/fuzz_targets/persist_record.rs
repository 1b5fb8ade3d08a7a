//! Fuzz target `persist_record`: see `fuzz/harness/persist_record.rs`.
#![no_main]

#[allow(dead_code)]
#[path = "../harness/persist_record.rs"]
mod persist_record;

libfuzzer_sys::fuzz_target!(|data: &[u8]| persist_record::run(data));
