//! Fuzz target `trace_files`: see `fuzz/harness/trace_files.rs`.
#![no_main]

#[path = "../harness/trace_files.rs"]
mod trace_files;

libfuzzer_sys::fuzz_target!(|data: &[u8]| trace_files::run(data));
