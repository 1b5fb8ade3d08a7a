//! Fuzz target `sql_sanitize`: see `fuzz/harness/sql.rs`.
#![no_main]

// One harness file can serve several targets; each target uses one entry point.
#[allow(dead_code)]
#[path = "../harness/sql.rs"]
mod sql;

libfuzzer_sys::fuzz_target!(|data: &[u8]| sql::run(data));
